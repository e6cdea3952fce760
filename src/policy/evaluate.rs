//! AWS's policy evaluation logic, in its documented order.
//!
//! Sources: reference_policies_evaluation-logic_policy-eval-denyallow.html (the steps),
//! reference_policies_evaluation-logic-cross-account.html (two accounts),
//! orgs_manage_policies_scps_evaluation.html and orgs_manage_policies_rcps_evaluation.html
//! (organization policies), access_policies_boundaries.html (boundaries) and
//! access_policies.html#policies_session (session policies).
//!
//! The caller (the world) works out which policies apply to the request; this module only
//! decides. It runs once per request of every drill and of `lockdrill eval --requests`, so it
//! allocates only for the statements it reports.

use super::condition::{Family, SetQualifier};
use super::decision::{Decision, MatchedStatement, Outcome};
use super::pattern::ArnGlob;
use super::{
    ActionPattern, Context, Effect, Matcher, Policy, PolicyType, Principal, PrincipalKind,
    PrincipalPattern, ResourcePattern, Statement,
};

/// One request to decide.
#[derive(Clone, Copy, Debug)]
pub struct Request<'a> {
    pub principal: &'a Principal,
    /// As the caller wrote it, for example `iam:AttachUserPolicy`.
    pub action: &'a str,
    /// The resource ARN, or `*` for actions that take no resource.
    pub resource: &'a str,
    /// The account that owns the resource.
    pub resource_account: &'a str,
    pub context: &'a Context,
}

/// A policy with the name it is reported under (its ARN, or its name for inline policies).
#[derive(Clone, Copy, Debug)]
pub struct PolicyRef<'a> {
    pub name: &'a str,
    pub policy: &'a Policy,
}

/// The policies that bear on one request, as the world works them out.
#[derive(Clone, Debug, Default)]
pub struct Applicable<'a> {
    /// The principal's own policies and, for users, its groups'. Empty for root.
    pub identity: Vec<PolicyRef<'a>>,
    pub boundary: Option<PolicyRef<'a>>,
    /// Session policies passed when the session was made; empty when none were.
    pub session: Vec<PolicyRef<'a>>,
    /// SCPs attached at each level from the organization root down to the principal's account,
    /// or `None` when SCPs do not apply (no organization, the management account, a
    /// service-linked role).
    pub scp_levels: Option<Vec<Vec<PolicyRef<'a>>>>,
    /// RCPs at each level down to the resource's account, or `None` when they do not apply.
    pub rcp_levels: Option<Vec<Vec<PolicyRef<'a>>>>,
    /// The resource-based policy of the resource, if it has one.
    pub resource_policy: Option<PolicyRef<'a>>,
    /// The resource policy is a role trust policy: it must allow explicitly, even within one
    /// account ("IAM role trust policies and KMS key policies ... must explicitly allow").
    pub resource_policy_is_trust: bool,
    /// The S3 bucket-owner root may read and change its bucket policy despite an explicit deny
    /// in that bucket policy (S3 API reference, DeleteBucketPolicy).
    pub ignore_resource_policy_deny: bool,
}

/// How far a resource-policy grant reaches, from the principal it names (step 4 of the
/// evaluation page). Ordered from the most limited to the least.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Grant {
    /// The principal's account (`"AWS": "111122223333"`): within one account this only
    /// delegates to identity-based policies.
    Account,
    /// A role ARN, or the IAM user who federated: "limited by an implicit deny in a
    /// permissions boundary or session policy".
    Limited,
    /// A user ARN, a role session ARN, a federated user ARN, or `*`: "not limited by an
    /// implicit deny in an identity-based policy, a permissions boundary, or session policy".
    Direct,
}

/// What scanning one policy type found.
#[derive(Clone, Copy, Debug, Default)]
struct Found {
    allow: bool,
    deny: bool,
    /// For resource policies: the widest grant among the allowing statements.
    grant: Option<Grant>,
}

/// Decides `request` against `applicable`.
pub fn evaluate<'a>(request: &Request<'_>, applicable: &Applicable<'a>) -> Decision<'a> {
    let action = request.action.to_ascii_lowercase();
    let (service, name) = action.split_once(':').unwrap_or(("", &action));
    let has_boundary = applicable.boundary.is_some();
    let mut scan = Scan {
        request,
        has_boundary,
        service_bit: super::service_bit(service),
        service,
        name,
        matched: Vec::new(),
    };
    let principal = request.principal;
    let is_root = principal.kind == PrincipalKind::Root;

    // Gather: what every applicable policy says about this request.
    let scp = applicable
        .scp_levels
        .as_ref()
        .map(|levels| scan.levels(levels, PolicyType::Scp));
    let rcp = applicable
        .rcp_levels
        .as_ref()
        .map(|levels| scan.levels(levels, PolicyType::Rcp));
    let mut resource = applicable
        .resource_policy
        .map(|policy| scan.policies(&[policy], PolicyType::Resource, None))
        .unwrap_or_default();
    let identity = scan.policies(&applicable.identity, PolicyType::Identity, None);
    let boundary = applicable
        .boundary
        .map(|policy| scan.policies(&[policy], PolicyType::Boundary, None));
    let session = if principal.kind.is_session() && !applicable.session.is_empty() {
        Some(scan.policies(&applicable.session, PolicyType::Session, None))
    } else {
        None
    };
    if applicable.ignore_resource_policy_deny && is_root {
        resource.deny = false;
    }

    let mut decide = |outcome, decided_by| Decision {
        outcome,
        decided_by,
        matched: std::mem::take(&mut scan.matched),
        is_trust_policy: applicable.resource_policy_is_trust,
    };

    // Step 1: an explicit deny in any applicable policy decides.
    let denials = [
        (PolicyType::Scp, scp.is_some_and(|found| found.deny)),
        (PolicyType::Rcp, rcp.is_some_and(|found| found.deny)),
        (PolicyType::Resource, resource.deny),
        (PolicyType::Identity, identity.deny),
        (
            PolicyType::Boundary,
            boundary.is_some_and(|found| found.deny),
        ),
        (PolicyType::Session, session.is_some_and(|found| found.deny)),
    ];
    if let Some((policy_type, _)) = denials.iter().find(|(_, denied)| *denied) {
        return decide(Outcome::ExplicitDeny, Some(*policy_type));
    }

    // Steps 2 and 3: RCPs, then SCPs, must allow at every level.
    if rcp.is_some_and(|found| !found.allow) {
        return decide(Outcome::ImplicitDeny, Some(PolicyType::Rcp));
    }
    if scp.is_some_and(|found| !found.allow) {
        return decide(Outcome::ImplicitDeny, Some(PolicyType::Scp));
    }

    // The principal's side: identity ∩ boundary ∩ session; the root user has full access.
    let boundary_allows = boundary.is_none_or(|found| found.allow);
    let session_allows = session.is_none_or(|found| found.allow);
    let principal_side = if is_root {
        Ok(())
    } else if !identity.allow {
        Err(PolicyType::Identity)
    } else if !boundary_allows {
        Err(PolicyType::Boundary)
    } else if !session_allows {
        Err(PolicyType::Session)
    } else {
        Ok(())
    };

    // Cross-account: both accounts must allow; the resource side needs its policy's grant.
    if principal.account != request.resource_account {
        if let Err(policy_type) = principal_side {
            return decide(Outcome::ImplicitDeny, Some(policy_type));
        }
        if !resource.allow {
            return decide(Outcome::ImplicitDeny, Some(PolicyType::Resource));
        }
        return decide(Outcome::Allow, Some(PolicyType::Resource));
    }

    // Step 4, within one account: a resource-policy grant may stand on its own, as far as the
    // principal it names reaches. Role trust policies and KMS key policies "must explicitly
    // allow access for principals", so without their allow nothing else helps.
    let must_allow = applicable.resource_policy_is_trust
        || (service == "kms" && applicable.resource_policy.is_some());
    if must_allow && !resource.allow {
        return decide(Outcome::ImplicitDeny, Some(PolicyType::Resource));
    }
    match resource.grant {
        Some(Grant::Direct) => return decide(Outcome::Allow, Some(PolicyType::Resource)),
        Some(Grant::Limited) if !is_root => {
            if !boundary_allows {
                return decide(Outcome::ImplicitDeny, Some(PolicyType::Boundary));
            }
            if !session_allows {
                return decide(Outcome::ImplicitDeny, Some(PolicyType::Session));
            }
            return decide(Outcome::Allow, Some(PolicyType::Resource));
        }
        _ => {}
    }

    // Steps 5 to 7: identity-based policies, then the boundary, then session policies.
    match principal_side {
        Err(policy_type) => decide(Outcome::ImplicitDeny, Some(policy_type)),
        Ok(()) if is_root => decide(Outcome::Allow, None),
        Ok(()) => decide(Outcome::Allow, Some(PolicyType::Identity)),
    }
}

/// The request, pre-digested, and the statements matched so far.
struct Scan<'r, 'a> {
    request: &'r Request<'r>,
    service_bit: u64,
    service: &'r str,
    name: &'r str,
    /// `NotPrincipal` never spares a principal with a permissions boundary.
    has_boundary: bool,
    matched: Vec<MatchedStatement<'a>>,
}

impl<'a> Scan<'_, 'a> {
    /// Organization policies: a deny at any level denies; an allow is needed at every level.
    fn levels(&mut self, levels: &[Vec<PolicyRef<'a>>], policy_type: PolicyType) -> Found {
        let mut found = Found {
            allow: true,
            ..Found::default()
        };
        for (depth, level) in levels.iter().enumerate() {
            let at_level = self.policies(level, policy_type, Some(depth));
            found.deny |= at_level.deny;
            found.allow &= at_level.allow;
        }
        found
    }

    fn policies(
        &mut self,
        policies: &[PolicyRef<'a>],
        policy_type: PolicyType,
        level: Option<usize>,
    ) -> Found {
        let mut found = Found::default();
        for policy in policies {
            for statement in &policy.policy.statements {
                let Some(grant) = self.statement_matches(statement, policy_type) else {
                    continue;
                };
                match statement.effect {
                    Effect::Deny => found.deny = true,
                    Effect::Allow => {
                        found.allow = true;
                        found.grant = found.grant.max(Some(grant));
                    }
                }
                self.matched.push(MatchedStatement {
                    policy_type,
                    policy: policy.name,
                    sid: statement.sid.as_deref(),
                    index: statement.index,
                    effect: statement.effect,
                    level,
                });
            }
        }
        found
    }

    /// Whether a statement applies to the request, and if so how far its grant reaches.
    /// Cheapest tests first: action, then resource, principal and conditions.
    fn statement_matches(&self, statement: &Statement, policy_type: PolicyType) -> Option<Grant> {
        // The one-word service summary rules out most statements of other services at once.
        if statement.services & self.service_bit == 0 || !self.action_matches(&statement.actions) {
            return None;
        }
        if let Some(resources) = &statement.resources
            && !self.resource_matches(resources)
        {
            return None;
        }
        let grant = match &statement.principals {
            Some(principals) if policy_type == PolicyType::Resource => {
                self.principal_grant(principals)?
            }
            _ => Grant::Direct,
        };
        let context = self.request.context;
        if !statement
            .conditions
            .iter()
            .all(|condition| condition.is_satisfied(context))
        {
            return None;
        }
        Some(self.widen_by_principal_arn(grant, statement))
    }

    /// A grant to the whole account whose statement also pins `aws:PrincipalArn` reaches as far
    /// as a grant naming that principal: "This holds whether the role ARN is in Principal or in
    /// an aws:PrincipalArn condition" (reference_policies_evaluation-logic_policy-eval-denyallow).
    fn widen_by_principal_arn(&self, grant: Grant, statement: &Statement) -> Grant {
        let pins_principal = statement.conditions.iter().any(|condition| {
            condition.key == "aws:principalarn"
                && !condition.operator.negated
                && condition.operator.set == SetQualifier::Single
                && !matches!(condition.operator.family, Family::Null)
        });
        if grant != Grant::Account || !pins_principal {
            return grant;
        }
        match self.request.principal.kind {
            PrincipalKind::AssumedRole => Grant::Limited,
            PrincipalKind::User | PrincipalKind::FederatedUser => Grant::Direct,
            PrincipalKind::Root => Grant::Account,
        }
    }

    fn action_matches(&self, actions: &Matcher<ActionPattern>) -> bool {
        let any = actions.patterns.iter().any(|pattern| match pattern {
            ActionPattern::Any => true,
            ActionPattern::Service { service, name } => {
                service.is_match(self.service) && name.is_match(self.name)
            }
        });
        any != actions.negated
    }

    fn resource_matches(&self, resources: &Matcher<ResourcePattern>) -> bool {
        let resource = self.request.resource;
        let any = resources.patterns.iter().any(|pattern| match pattern {
            ResourcePattern::Arn(glob) => glob.is_match(resource),
            // A variable without a value makes the entry match no resource.
            ResourcePattern::Template(template) => template
                .resolve_tokens(self.request.context)
                .is_some_and(|tokens| ArnGlob::from_tokens(tokens).is_match(resource)),
        });
        any != resources.negated
    }

    fn principal_grant(&self, principals: &Matcher<PrincipalPattern>) -> Option<Grant> {
        if principals.negated {
            return (!self.is_excluded_by(principals)).then_some(Grant::Direct);
        }
        principals
            .patterns
            .iter()
            .filter_map(|pattern| self.pattern_grant(pattern))
            .max()
    }

    /// Whether a `NotPrincipal` list spares the request principal. AWS checks the account,
    /// then the user or role, then the session (reference_policies_elements_notprincipal.html),
    /// so the account must be listed as well as the principal itself; and a principal with a
    /// permissions boundary is never spared.
    fn is_excluded_by(&self, principals: &Matcher<PrincipalPattern>) -> bool {
        if self.has_boundary {
            return false;
        }
        let principal = self.request.principal;
        let names_account = principals.patterns.iter().any(|pattern| match pattern {
            PrincipalPattern::Any => true,
            PrincipalPattern::Account(account) => *account == principal.account,
            _ => false,
        });
        let names_principal = principal.kind == PrincipalKind::Root
            || principals
                .patterns
                .iter()
                .filter_map(|pattern| self.pattern_grant(pattern))
                .any(|grant| grant != Grant::Account);
        names_account && names_principal
    }

    fn pattern_grant(&self, pattern: &PrincipalPattern) -> Option<Grant> {
        let principal = self.request.principal;
        match pattern {
            PrincipalPattern::Any => Some(Grant::Direct),
            PrincipalPattern::Account(account) => {
                (*account == principal.account).then_some(Grant::Account)
            }
            PrincipalPattern::Arn(arn) if *arn == principal.arn => Some(Grant::Direct),
            PrincipalPattern::Arn(arn) => {
                let names_role = principal.role_arn.as_deref() == Some(arn.as_str());
                let names_federator =
                    principal.federating_user_arn.as_deref() == Some(arn.as_str());
                (names_role || names_federator).then_some(Grant::Limited)
            }
            PrincipalPattern::Other { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{PolicyKind, parse_policy};

    fn policy(kind: PolicyKind, json: &str) -> Policy {
        parse_policy("test.json", json, kind).unwrap_or_else(|problems| panic!("{problems}"))
    }

    fn user(name: &str) -> Principal {
        Principal {
            kind: PrincipalKind::User,
            arn: format!("arn:aws:iam::111122223333:user/{name}"),
            account: "111122223333".into(),
            role_arn: None,
            federating_user_arn: None,
            is_service_linked: false,
        }
    }

    fn decide(principal: &Principal, applicable: &Applicable<'_>) -> Outcome {
        let context = Context::new();
        let request = Request {
            principal,
            action: "s3:GetObject",
            resource: "arn:aws:s3:::bucket/key",
            resource_account: "111122223333",
            context: &context,
        };
        evaluate(&request, applicable).outcome
    }

    const ALLOW_ALL: &str =
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

    #[test]
    fn not_principal_spares_only_a_listed_principal_whose_account_is_listed_too() {
        // reference_policies_elements_notprincipal.html: list the account as well.
        let identity = policy(PolicyKind::Identity, ALLOW_ALL);
        let user_only = policy(
            PolicyKind::Resource,
            r#"{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::111122223333:user/bob"},"Action":"s3:*","Resource":"*"}]}"#,
        );
        let with_account = policy(
            PolicyKind::Resource,
            r#"{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":["arn:aws:iam::111122223333:user/bob","111122223333"]},"Action":"s3:*","Resource":"*"}]}"#,
        );
        let applicable = |resource| Applicable {
            identity: vec![PolicyRef {
                name: "identity",
                policy: &identity,
            }],
            resource_policy: Some(PolicyRef {
                name: "bucket",
                policy: resource,
            }),
            ..Applicable::default()
        };

        assert_eq!(
            decide(&user("bob"), &applicable(&user_only)),
            Outcome::ExplicitDeny
        );
        assert_eq!(
            decide(&user("bob"), &applicable(&with_account)),
            Outcome::Allow
        );
        assert_eq!(
            decide(&user("alice"), &applicable(&with_account)),
            Outcome::ExplicitDeny
        );

        // A principal with a permissions boundary is never spared.
        let mut bounded = applicable(&with_account);
        bounded.boundary = Some(PolicyRef {
            name: "boundary",
            policy: &identity,
        });
        assert_eq!(decide(&user("bob"), &bounded), Outcome::ExplicitDeny);
    }

    #[test]
    fn not_principal_is_refused_with_allow_and_in_trust_policies() {
        let allow = r#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"111122223333"},"Action":"s3:*","Resource":"*"}]}"#;
        let problems = parse_policy("p.json", allow, PolicyKind::Resource).unwrap_err();
        assert!(
            problems.0[0].message.contains("must be used with"),
            "{problems}"
        );

        let trust = r#"{"Statement":[{"Effect":"Deny","NotPrincipal":{"AWS":"111122223333"},"Action":"sts:AssumeRole"}]}"#;
        let problems = parse_policy("p.json", trust, PolicyKind::Trust).unwrap_err();
        assert!(
            problems.0[0]
                .message
                .contains("cannot contain `NotPrincipal`"),
            "{problems}"
        );

        let with_resource = r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole","Resource":"*"}]}"#;
        let problems = parse_policy("p.json", with_resource, PolicyKind::Trust).unwrap_err();
        assert!(
            problems.0[0].message.contains("cannot contain `Resource`"),
            "{problems}"
        );
    }
}
