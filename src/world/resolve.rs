//! From a request about a world to what the policy engine needs to decide it.
//!
//! Given a principal ARN, an action and a resource, this works out who the principal is, the
//! account that owns the resource, the request context AWS would build (the `aws:Principal*`
//! keys and their friends), and which policies apply: identity policies, boundary, session
//! policies, SCPs and RCPs by level, and the resource's own policy. The rules are listed in the
//! README under "What lockdrill derives for each request".

use super::{Attachments, OrgPolicyType, Organization, World};
use crate::policy::{
    Applicable, Context, ContextValue, Policy, PolicyRef, Principal, PrincipalKind,
};

/// One request about a world, as `lockdrill eval` reads it.
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub principal: String,
    pub action: String,
    pub resource: String,
    pub resource_account: Option<String>,
    /// Context keys given by the user; they replace what lockdrill derives.
    pub context: Vec<(String, ContextValue)>,
    pub session_policy: Option<Policy>,
}

/// A request that cannot be asked of this world.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct QueryError {
    pub message: String,
    pub help: Option<String>,
}

impl QueryError {
    fn new(message: impl Into<String>, help: impl Into<String>) -> QueryError {
        QueryError {
            message: message.into(),
            help: Some(help.into()),
        }
    }
}

/// Everything [`crate::policy::evaluate`] needs besides the action and resource.
#[derive(Debug)]
pub struct Prepared<'w> {
    pub principal: Principal,
    pub resource_account: String,
    pub context: Context,
    pub applicable: Applicable<'w>,
    /// The target (root, OU or account id) of each SCP level, for explanations.
    pub scp_targets: Vec<String>,
    /// The target of each RCP level.
    pub rcp_targets: Vec<String>,
}

impl<'w> Prepared<'w> {
    /// The request to hand to [`crate::policy::evaluate`] with [`Prepared::applicable`].
    pub fn request<'a>(&'a self, query: &'a Query) -> crate::policy::Request<'a> {
        crate::policy::Request {
            principal: &self.principal,
            action: &query.action,
            resource: &query.resource,
            resource_account: &self.resource_account,
            context: &self.context,
        }
    }
}

/// The STS actions decided by a role's trust policy.
const TRUST_ACTIONS: &[&str] = &[
    "sts:assumerole",
    "sts:assumerolewithsaml",
    "sts:assumerolewithwebidentity",
    "sts:tagsession",
    "sts:setsourceidentity",
];

/// Services whose resources RCPs govern (orgs_manage_policies_rcps.html).
const RCP_SERVICES: &[&str] = &[
    "s3",
    "sts",
    "sqs",
    "secretsmanager",
    "kms",
    "dynamodb",
    "ecr",
    "logs",
    "cognito-identity",
];

/// S3 actions the bucket-owner root keeps despite an explicit deny in the bucket policy.
const BUCKET_POLICY_ACTIONS: &[&str] = &[
    "s3:getbucketpolicy",
    "s3:putbucketpolicy",
    "s3:deletebucketpolicy",
];

/// Who the principal is, resolved in the world.
struct Actor<'w> {
    principal: Principal,
    identity: Vec<PolicyRef<'w>>,
    boundary: Option<PolicyRef<'w>>,
    context: Context,
}

impl World {
    /// Works out everything needed to decide `query`. `now` is the request time, in epoch
    /// seconds, for `aws:CurrentTime`.
    pub fn prepare<'w>(&'w self, query: &'w Query, now: i64) -> Result<Prepared<'w>, QueryError> {
        check_action(&query.action)?;
        if query.resource != "*" && !query.resource.starts_with("arn:") {
            return Err(QueryError::new(
                format!("resource `{}` is not an ARN", query.resource),
                "give a resource ARN such as arn:aws:iam::123456789012:user/bob, or `*`",
            ));
        }

        // Who acts, and in which account the resource lives.
        let actor = self.actor(&query.principal)?;
        let resource_account = self.resource_account(query, &actor.principal)?;
        let action = query.action.to_ascii_lowercase();

        // The resource's own policy: a role's trust policy, or a declared resource policy.
        let trust = TRUST_ACTIONS
            .contains(&action.as_str())
            .then(|| self.role_by_arn(&query.resource))
            .flatten();
        let resource_policy = match trust {
            Some(role) => Some(PolicyRef {
                name: &role.arn,
                policy: &role.trust_policy,
            }),
            None => self.resource_policy(&resource_account, &query.resource),
        };

        // Organization policies, by level.
        let organization = self.organization.as_ref();
        let principal = &actor.principal;
        let scp = organization
            .filter(|organization| {
                principal.account != organization.management_account && !principal.is_service_linked
            })
            .and_then(|organization| levels(organization, &principal.account, OrgPolicyType::Scp));
        let service = action.split(':').next().unwrap_or("");
        let rcp = organization
            .filter(|organization| {
                resource_account != organization.management_account && !principal.is_service_linked
            })
            .filter(|_| RCP_SERVICES.contains(&service))
            .and_then(|organization| levels(organization, &resource_account, OrgPolicyType::Rcp));
        let (scp_levels, scp_targets) = scp.map_or((None, Vec::new()), |levels| {
            (Some(levels.policies), levels.targets)
        });
        let (rcp_levels, rcp_targets) = rcp.map_or((None, Vec::new()), |levels| {
            (Some(levels.policies), levels.targets)
        });

        let session = match (&query.session_policy, principal.kind.is_session()) {
            (None, _) => Vec::new(),
            (Some(policy), true) => vec![PolicyRef {
                name: "session policy",
                policy,
            }],
            (Some(_), false) => {
                return Err(QueryError::new(
                    format!(
                        "`{}` is not a session, so it cannot have a session policy",
                        principal.arn
                    ),
                    "session policies apply to role sessions (assumed-role ARNs) and federated users",
                ));
            }
        };

        let ignore_resource_policy_deny = principal.kind == PrincipalKind::Root
            && principal.account == resource_account
            && BUCKET_POLICY_ACTIONS.contains(&action.as_str());

        let context = self.context(actor.context, query, &resource_account, now);
        let applicable = Applicable {
            identity: actor.identity,
            boundary: actor.boundary,
            session,
            scp_levels,
            rcp_levels,
            resource_policy,
            resource_policy_is_trust: trust.is_some(),
            ignore_resource_policy_deny,
        };
        Ok(Prepared {
            principal: actor.principal,
            resource_account,
            context,
            applicable,
            scp_targets,
            rcp_targets,
        })
    }

    fn actor(&self, arn: &str) -> Result<Actor<'_>, QueryError> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        let [_, _, service, _, account, resource] = parts.as_slice() else {
            return Err(QueryError::new(
                format!("`{arn}` is not a principal ARN"),
                principal_help(),
            ));
        };
        let Some(world_account) = self.accounts.get(*account) else {
            return Err(QueryError::new(
                format!("account {account} of `{arn}` is not in the world"),
                format!("define it under `accounts` in {}", self.origin),
            ));
        };

        let mut context = Context::new();
        context.insert_one("aws:PrincipalAccount", *account);
        context.insert_one("aws:PrincipalIsAWSService", "false");
        if let Some(organization) = &self.organization
            && let Some(path) = organization.org_path_of(account)
        {
            context.insert_one("aws:PrincipalOrgID", organization.id.clone());
            context.insert("aws:PrincipalOrgPaths", ContextValue::Many(vec![path]));
        }

        let principal = |kind,
                         role_arn: Option<&str>,
                         federating_user_arn: Option<&str>,
                         is_service_linked| Principal {
            kind,
            arn: arn.to_owned(),
            account: (*account).to_owned(),
            role_arn: role_arn.map(str::to_owned),
            federating_user_arn: federating_user_arn.map(str::to_owned),
            is_service_linked,
        };

        match (*service, *resource) {
            ("iam", "root") => {
                context.insert_one("aws:PrincipalArn", arn);
                context.insert_one("aws:PrincipalType", "Account");
                context.insert_one("aws:userid", *account);
                Ok(Actor {
                    principal: principal(PrincipalKind::Root, None, None, false),
                    identity: Vec::new(),
                    boundary: None,
                    context,
                })
            }
            ("iam", resource) if resource.starts_with("user/") => {
                let name = resource.rsplit('/').next().unwrap_or("");
                let user = world_account
                    .users
                    .get(name)
                    .filter(|user| user.arn == arn)
                    .ok_or_else(|| {
                        QueryError::new(
                            format!("user `{arn}` is not in the world"),
                            format!("define `{name}` under `users` of account {account}"),
                        )
                    })?;
                context.insert_one("aws:PrincipalArn", arn);
                context.insert_one("aws:PrincipalType", "User");
                context.insert_one("aws:userid", user.id.clone());
                context.insert_one("aws:username", user.name.clone());
                insert_tags(&mut context, &user.tags);
                Ok(Actor {
                    principal: principal(PrincipalKind::User, None, None, false),
                    identity: self.user_policies(world_account, user),
                    boundary: self.boundary(user.permissions_boundary.as_deref()),
                    context,
                })
            }
            ("sts", resource) if resource.starts_with("assumed-role/") => {
                let mut names = resource["assumed-role/".len()..].splitn(2, '/');
                let (role_name, session) = (names.next().unwrap_or(""), names.next().unwrap_or(""));
                if session.is_empty() {
                    return Err(QueryError::new(
                        format!("`{arn}` has no session name"),
                        principal_help(),
                    ));
                }
                let role = world_account.roles.get(role_name).ok_or_else(|| {
                    QueryError::new(
                        format!("role `{role_name}` of `{arn}` is not in the world"),
                        format!("define it under `roles` of account {account}"),
                    )
                })?;
                context.insert_one("aws:PrincipalArn", role.arn.clone());
                context.insert_one("aws:PrincipalType", "AssumedRole");
                context.insert_one("aws:userid", format!("{}:{session}", role.id));
                context.insert_one("aws:MultiFactorAuthPresent", "false");
                insert_tags(&mut context, &role.tags);
                Ok(Actor {
                    principal: principal(
                        PrincipalKind::AssumedRole,
                        Some(&role.arn),
                        None,
                        role.service_linked,
                    ),
                    identity: self.attached(&role.attachments),
                    boundary: self.boundary(role.permissions_boundary.as_deref()),
                    context,
                })
            }
            ("sts", resource) if resource.starts_with("federated-user/") => {
                let name = &resource["federated-user/".len()..];
                let federated = world_account.federated_users.get(name).ok_or_else(|| {
                    QueryError::new(
                        format!("federated user `{name}` is not in account {account}"),
                        "declare it under `federated_users` with the IAM user that called GetFederationToken",
                    )
                })?;
                let user = world_account.users.get(&federated.user).ok_or_else(|| {
                    QueryError::new(
                        format!(
                            "federated user `{name}` names unknown user `{}`",
                            federated.user
                        ),
                        "define that user",
                    )
                })?;
                context.insert_one("aws:PrincipalArn", arn);
                context.insert_one("aws:PrincipalType", "FederatedUser");
                context.insert_one("aws:userid", format!("{account}:{name}"));
                context.insert_one("aws:MultiFactorAuthPresent", "false");
                insert_tags(&mut context, &user.tags);
                Ok(Actor {
                    principal: principal(
                        PrincipalKind::FederatedUser,
                        None,
                        Some(&user.arn),
                        false,
                    ),
                    identity: self.user_policies(world_account, user),
                    boundary: self.boundary(user.permissions_boundary.as_deref()),
                    context,
                })
            }
            ("iam", resource) if resource.starts_with("role/") => Err(QueryError::new(
                format!("`{arn}` is a role, which acts only through sessions"),
                format!(
                    "use the session ARN arn:aws:sts::{account}:assumed-role/{}/SESSION",
                    resource.rsplit('/').next().unwrap_or("")
                ),
            )),
            _ => Err(QueryError::new(
                format!("`{arn}` is not a principal ARN"),
                principal_help(),
            )),
        }
    }

    fn user_policies<'w>(
        &'w self,
        account: &'w super::Account,
        user: &'w super::User,
    ) -> Vec<PolicyRef<'w>> {
        let mut policies = self.attached(&user.attachments);
        for group in user
            .groups
            .iter()
            .filter_map(|name| account.groups.get(name))
        {
            policies.extend(self.attached(&group.attachments));
        }
        policies
    }

    fn attached<'w>(&'w self, attachments: &'w Attachments) -> Vec<PolicyRef<'w>> {
        let managed = attachments
            .managed_policies
            .iter()
            .filter_map(|arn| self.policies.get(arn))
            .map(|managed| PolicyRef {
                name: &managed.arn,
                policy: &managed.policy,
            });
        let inline = attachments.inline_policies.iter().map(|inline| PolicyRef {
            name: &inline.label,
            policy: &inline.policy,
        });
        managed.chain(inline).collect()
    }

    fn boundary(&self, arn: Option<&str>) -> Option<PolicyRef<'_>> {
        let managed = self.policies.get(arn?)?;
        Some(PolicyRef {
            name: &managed.arn,
            policy: &managed.policy,
        })
    }

    fn role_by_arn(&self, arn: &str) -> Option<&super::Role> {
        let account = arn.split(':').nth(4)?;
        self.accounts
            .get(account)?
            .roles
            .values()
            .find(|role| role.arn == arn)
    }

    /// The owner of the resource: given, from the ARN, from a declared resource policy, or
    /// the principal's own account.
    fn resource_account(&self, query: &Query, principal: &Principal) -> Result<String, QueryError> {
        if let Some(account) = &query.resource_account {
            if !crate::policy::is_account_id(account) {
                return Err(QueryError::new(
                    format!("`{account}` is not an AWS account id"),
                    "an account id is 12 digits",
                ));
            }
            return Ok(account.clone());
        }
        if let Some(account) = query
            .resource
            .split(':')
            .nth(4)
            .filter(|account| crate::policy::is_account_id(account))
        {
            return Ok(account.to_owned());
        }
        let owner = self.accounts.values().find(|account| {
            account
                .resource_policies
                .iter()
                .any(|declared| covers(&declared.resource, &query.resource))
        });
        Ok(owner.map_or_else(|| principal.account.clone(), |account| account.id.clone()))
    }

    fn resource_policy(&self, account: &str, resource: &str) -> Option<PolicyRef<'_>> {
        let declared = self
            .accounts
            .get(account)?
            .resource_policies
            .iter()
            .find(|declared| covers(&declared.resource, resource))?;
        Some(PolicyRef {
            name: &declared.resource,
            policy: &declared.policy,
        })
    }

    fn context(
        &self,
        mut context: Context,
        query: &Query,
        resource_account: &str,
        now: i64,
    ) -> Context {
        let time = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
        context.insert_one(
            "aws:CurrentTime",
            time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        );
        context.insert_one("aws:EpochTime", now.to_string());
        context.insert_one("aws:SecureTransport", "true");
        if context.get("aws:MultiFactorAuthPresent").is_some() {
            context.insert_one(
                "aws:TokenIssueTime",
                time.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
            );
        }
        context.insert_one("aws:ResourceAccount", resource_account);
        if let Some(organization) = &self.organization
            && let Some(path) = organization.org_path_of(resource_account)
        {
            context.insert_one("aws:ResourceOrgID", organization.id.clone());
            context.insert("aws:ResourceOrgPaths", ContextValue::Many(vec![path]));
        }

        for (key, value) in &query.context {
            context.insert(key, value.clone());
        }
        context
    }
}

/// The policies at each level from the root down to `account`, with each level's target id,
/// or `None` outside the tree.
fn levels<'o>(
    organization: &'o Organization,
    account: &str,
    wanted: OrgPolicyType,
) -> Option<Levels<'o>> {
    let path = organization.path_to(account)?;
    let mut levels = Levels::default();
    for (target, attached) in path {
        let names = match wanted {
            OrgPolicyType::Scp => &attached.scps,
            OrgPolicyType::Rcp => &attached.rcps,
        };
        let policies = names
            .iter()
            .filter_map(|name| organization.policies.get(name))
            .map(|policy| PolicyRef {
                name: &policy.arn,
                policy: &policy.policy,
            })
            .collect();
        levels.policies.push(policies);
        levels.targets.push(target.to_owned());
    }
    Some(levels)
}

#[derive(Default)]
struct Levels<'o> {
    policies: Vec<Vec<PolicyRef<'o>>>,
    targets: Vec<String>,
}

/// Whether a declared resource policy covers a request's resource: the same ARN, or one that
/// extends it after a `/` (a bucket policy covers the bucket's objects).
fn covers(declared: &str, resource: &str) -> bool {
    resource == declared
        || resource
            .strip_prefix(declared)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn insert_tags(context: &mut Context, tags: &std::collections::BTreeMap<String, String>) {
    for (key, value) in tags {
        context.insert_one(&format!("aws:PrincipalTag/{key}"), value.clone());
    }
}

fn check_action(action: &str) -> Result<(), QueryError> {
    let valid = action.split_once(':').is_some_and(|(service, name)| {
        !service.is_empty()
            && !name.is_empty()
            && service
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
            && name.chars().all(|c| c.is_ascii_alphanumeric())
    });
    if valid {
        Ok(())
    } else {
        Err(QueryError::new(
            format!("`{action}` is not an action"),
            "write the action as service:Action, for example iam:AttachUserPolicy",
        ))
    }
}

fn principal_help() -> String {
    "a principal is arn:aws:iam::ACCOUNT:user/NAME, arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION, arn:aws:sts::ACCOUNT:federated-user/NAME or arn:aws:iam::ACCOUNT:root".to_owned()
}
