//! Creating a world in an emulator, call by call, as a team would create it in AWS.

use std::collections::BTreeMap;

use aws_sdk_organizations::types::{OrganizationFeatureSet, PolicyType as OrgApiPolicyType};

use super::{ACCOUNT_ID_TAG, ProvisionError, emulator_keys, reason};
use crate::sdk::Clients;
use crate::world::{
    Account, Attached, Attachments, FULL_AWS_ACCESS, OrgNode, OrgPolicyType, Organization,
    RCP_FULL_AWS_ACCESS, World,
};

/// The id Moto gives the default SCP and RCP, as AWS does.
const FULL_AWS_ACCESS_ID: &str = "p-FullAWSAccess";

/// Creates everything `world` describes in the emulator at `endpoint`.
pub async fn build(world: &World, endpoint: &str) -> Result<(), ProvisionError> {
    if let Some(organization) = &world.organization {
        build_organization(world, organization, endpoint).await?;
    }
    for account in world.accounts.values() {
        build_account(world, account, endpoint).await?;
    }
    tracing::info!(
        accounts = world.accounts.len(),
        "world built in the emulator"
    );
    Ok(())
}

async fn build_organization(
    world: &World,
    organization: &Organization,
    endpoint: &str,
) -> Result<(), ProvisionError> {
    let management = &organization.management_account;
    let clients = Clients::new(endpoint, &emulator_keys(), Some(management));
    let api = &clients.organizations;

    // The organization, its root, and the policy types it uses.
    api.create_organization()
        .feature_set(OrganizationFeatureSet::All)
        .send()
        .await
        .map_err(|error| {
            ProvisionError::new(
                format!("creating the organization in {management}"),
                reason(error),
            )
        })?;
    let roots =
        api.list_roots().send().await.map_err(|error| {
            ProvisionError::new("listing the organization's roots", reason(error))
        })?;
    let root_id = roots
        .roots()
        .first()
        .and_then(|root| root.id())
        .ok_or_else(|| {
            ProvisionError::new(
                "listing the organization's roots",
                "the emulator returned no root",
            )
        })?
        .to_owned();
    for policy_type in [
        OrgApiPolicyType::ServiceControlPolicy,
        OrgApiPolicyType::ResourceControlPolicy,
    ] {
        api.enable_policy_type()
            .root_id(&root_id)
            .policy_type(policy_type.clone())
            .send()
            .await
            .map_err(|error| {
                ProvisionError::new(
                    format!("enabling {} in the organization", policy_type.as_str()),
                    reason(error),
                )
            })?;
    }

    // The policies, by name, with the ids the emulator gives them.
    let mut policy_ids: BTreeMap<&str, String> = BTreeMap::new();
    for policy in organization.policies.values() {
        if policy.name == FULL_AWS_ACCESS || policy.name == RCP_FULL_AWS_ACCESS {
            policy_ids.insert(&policy.name, format!("p-{}", policy.name));
            continue;
        }
        let policy_type = match policy.policy_type {
            OrgPolicyType::Scp => OrgApiPolicyType::ServiceControlPolicy,
            OrgPolicyType::Rcp => OrgApiPolicyType::ResourceControlPolicy,
        };
        let created = api
            .create_policy()
            .name(&policy.name)
            .description(format!("lockdrill world policy {}", policy.name))
            .content(&policy.policy.document)
            .r#type(policy_type)
            .send()
            .await
            .map_err(|error| {
                ProvisionError::new(
                    format!("creating organization policy `{}`", policy.name),
                    reason(error),
                )
            })?;
        let id = created
            .policy()
            .and_then(|created| created.policy_summary())
            .and_then(|summary| summary.id())
            .ok_or_else(|| {
                ProvisionError::new(
                    format!("creating organization policy `{}`", policy.name),
                    "no policy id returned",
                )
            })?;
        policy_ids.insert(&policy.name, id.to_owned());
    }

    // The tree: OUs, accounts, and what is attached at each level.
    let context = TreeBuilder {
        api,
        management,
        policy_ids: &policy_ids,
        world,
    };
    context
        .attach(&root_id, &organization.root.attached)
        .await?;
    for account in &organization.root.accounts {
        context
            .place_account(&account.id, &account.attached, &root_id, &root_id)
            .await?;
    }
    for child in &organization.root.children {
        context.build_ou(child, &root_id, &root_id).await?;
    }
    Ok(())
}

struct TreeBuilder<'a> {
    api: &'a aws_sdk_organizations::Client,
    management: &'a str,
    policy_ids: &'a BTreeMap<&'a str, String>,
    world: &'a World,
}

impl TreeBuilder<'_> {
    async fn build_ou(
        &self,
        node: &OrgNode,
        parent_id: &str,
        root_id: &str,
    ) -> Result<(), ProvisionError> {
        let doing = format!("creating OU `{}`", node.name);
        let created = self
            .api
            .create_organizational_unit()
            .parent_id(parent_id)
            .name(&node.name)
            .send()
            .await
            .map_err(|error| ProvisionError::new(&doing, reason(error)))?;
        let ou_id = created
            .organizational_unit()
            .and_then(|ou| ou.id())
            .ok_or_else(|| ProvisionError::new(&doing, "no OU id returned"))?
            .to_owned();

        self.attach(&ou_id, &node.attached).await?;
        for account in &node.accounts {
            self.place_account(&account.id, &account.attached, &ou_id, root_id)
                .await?;
        }
        for child in &node.children {
            Box::pin(self.build_ou(child, &ou_id, root_id)).await?;
        }
        Ok(())
    }

    /// Creates a member account (the management account exists already) under `parent_id`.
    async fn place_account(
        &self,
        id: &str,
        attached: &Attached,
        parent_id: &str,
        root_id: &str,
    ) -> Result<(), ProvisionError> {
        if id != self.management {
            let doing = format!("creating account {id}");
            let name = self
                .world
                .accounts
                .get(id)
                .and_then(|account| account.name.clone())
                .unwrap_or_else(|| format!("account-{id}"));
            let tag = aws_sdk_organizations::types::Tag::builder()
                .key(ACCOUNT_ID_TAG)
                .value(id)
                .build()
                .map_err(|error| ProvisionError::new(&doing, error))?;
            let created = self
                .api
                .create_account()
                .email(format!("lockdrill+{id}@example.com"))
                .account_name(name)
                .tags(tag)
                .send()
                .await
                .map_err(|error| ProvisionError::new(&doing, reason(error)))?;
            let given = created
                .create_account_status()
                .and_then(|status| status.account_id())
                .unwrap_or_default();
            if given != id {
                return Err(ProvisionError::new(
                    doing,
                    format!(
                        "the emulator gave the account id `{given}`; only lockdrill's Moto launcher honours the ids a world names (use `--emulator moto` or `container:moto`)"
                    ),
                ));
            }
        }

        if parent_id != root_id {
            self.api
                .move_account()
                .account_id(id)
                .source_parent_id(root_id)
                .destination_parent_id(parent_id)
                .send()
                .await
                .map_err(|error| {
                    ProvisionError::new(
                        format!("moving account {id} to {parent_id}"),
                        reason(error),
                    )
                })?;
        }
        self.attach(id, attached).await
    }

    /// Makes the policies attached to `target` those the world lists: the emulator attaches
    /// FullAWSAccess and RCPFullAWSAccess everywhere by itself.
    async fn attach(&self, target: &str, attached: &Attached) -> Result<(), ProvisionError> {
        if !attached.scps.iter().any(|name| name == FULL_AWS_ACCESS) {
            self.api
                .detach_policy()
                .policy_id(FULL_AWS_ACCESS_ID)
                .target_id(target)
                .send()
                .await
                .map_err(|error| {
                    ProvisionError::new(
                        format!("detaching FullAWSAccess from {target}"),
                        reason(error),
                    )
                })?;
        }
        let names = attached.scps.iter().chain(&attached.rcps);
        for name in names.filter(|name| *name != FULL_AWS_ACCESS && *name != RCP_FULL_AWS_ACCESS) {
            let Some(policy_id) = self.policy_ids.get(name.as_str()) else {
                continue;
            };
            self.api
                .attach_policy()
                .policy_id(policy_id)
                .target_id(target)
                .send()
                .await
                .map_err(|error| {
                    ProvisionError::new(format!("attaching `{name}` to {target}"), reason(error))
                })?;
        }
        Ok(())
    }
}

async fn build_account(
    world: &World,
    account: &Account,
    endpoint: &str,
) -> Result<(), ProvisionError> {
    let clients = Clients::new(endpoint, &emulator_keys(), Some(&account.id));
    let iam = &clients.iam;
    let in_account = |what: String| format!("{what} in account {}", account.id);

    for trail in &account.cloudtrail_trails {
        super::cloudtrail::create_trail(endpoint, &account.id, trail).await?;
    }

    // Customer-managed policies first: attachments refer to them.
    let prefix = format!("arn:aws:iam::{}:policy/", account.id);
    for policy in world
        .policies
        .values()
        .filter(|policy| policy.arn.starts_with(&prefix))
    {
        iam.create_policy()
            .policy_name(&policy.name)
            .path(&policy.path)
            .policy_document(&policy.policy.document)
            .send()
            .await
            .map_err(|error| {
                ProvisionError::new(
                    in_account(format!("creating policy `{}`", policy.name)),
                    reason(error),
                )
            })?;
    }

    for group in account.groups.values() {
        iam.create_group()
            .group_name(&group.name)
            .path(&group.path)
            .send()
            .await
            .map_err(|error| {
                ProvisionError::new(
                    in_account(format!("creating group `{}`", group.name)),
                    reason(error),
                )
            })?;
        attach(
            iam,
            Entity::Group(&group.name),
            &group.attachments,
            &account.id,
        )
        .await?;
    }

    for user in account.users.values() {
        let mut create = iam.create_user().user_name(&user.name).path(&user.path);
        for (key, value) in &user.tags {
            create = create.tags(iam_tag(key, value)?);
        }
        create.send().await.map_err(|error| {
            ProvisionError::new(
                in_account(format!("creating user `{}`", user.name)),
                reason(error),
            )
        })?;
        for group in &user.groups {
            iam.add_user_to_group()
                .user_name(&user.name)
                .group_name(group)
                .send()
                .await
                .map_err(|error| {
                    ProvisionError::new(
                        in_account(format!("adding `{}` to group `{group}`", user.name)),
                        reason(error),
                    )
                })?;
        }
        attach(
            iam,
            Entity::User(&user.name),
            &user.attachments,
            &account.id,
        )
        .await?;
    }

    for role in account.roles.values() {
        let mut create = iam
            .create_role()
            .role_name(&role.name)
            .path(&role.path)
            .assume_role_policy_document(&role.trust_policy.document);
        if let Some(boundary) = &role.permissions_boundary {
            create = create.permissions_boundary(boundary);
        }
        for (key, value) in &role.tags {
            create = create.tags(iam_tag(key, value)?);
        }
        create.send().await.map_err(|error| {
            ProvisionError::new(
                in_account(format!("creating role `{}`", role.name)),
                reason(error),
            )
        })?;
        attach(
            iam,
            Entity::Role(&role.name),
            &role.attachments,
            &account.id,
        )
        .await?;
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Entity<'a> {
    User(&'a str),
    Group(&'a str),
    Role(&'a str),
}

/// Attaches managed policies and puts inline ones.
async fn attach(
    iam: &aws_sdk_iam::Client,
    entity: Entity<'_>,
    attachments: &Attachments,
    account: &str,
) -> Result<(), ProvisionError> {
    for arn in &attachments.managed_policies {
        let result = match entity {
            Entity::User(name) => iam
                .attach_user_policy()
                .user_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(reason),
            Entity::Group(name) => iam
                .attach_group_policy()
                .group_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(reason),
            Entity::Role(name) => iam
                .attach_role_policy()
                .role_name(name)
                .policy_arn(arn)
                .send()
                .await
                .map(|_| ())
                .map_err(reason),
        };
        result.map_err(|error| {
            ProvisionError::new(
                format!(
                    "attaching `{arn}` to {} in account {account}",
                    describe(entity)
                ),
                error,
            )
        })?;
    }
    for inline in &attachments.inline_policies {
        let document = &inline.policy.document;
        let result = match entity {
            Entity::User(name) => iam
                .put_user_policy()
                .user_name(name)
                .policy_name(&inline.name)
                .policy_document(document)
                .send()
                .await
                .map(|_| ())
                .map_err(reason),
            Entity::Group(name) => iam
                .put_group_policy()
                .group_name(name)
                .policy_name(&inline.name)
                .policy_document(document)
                .send()
                .await
                .map(|_| ())
                .map_err(reason),
            Entity::Role(name) => iam
                .put_role_policy()
                .role_name(name)
                .policy_name(&inline.name)
                .policy_document(document)
                .send()
                .await
                .map(|_| ())
                .map_err(reason),
        };
        result.map_err(|error| {
            ProvisionError::new(
                format!(
                    "putting inline policy `{}` on {} in account {account}",
                    inline.name,
                    describe(entity)
                ),
                error,
            )
        })?;
    }
    Ok(())
}

fn describe(entity: Entity<'_>) -> String {
    match entity {
        Entity::User(name) => format!("user `{name}`"),
        Entity::Group(name) => format!("group `{name}`"),
        Entity::Role(name) => format!("role `{name}`"),
    }
}

fn iam_tag(key: &str, value: &str) -> Result<aws_sdk_iam::types::Tag, ProvisionError> {
    aws_sdk_iam::types::Tag::builder()
        .key(key)
        .value(value)
        .build()
        .map_err(|error| ProvisionError::new(format!("tagging with `{key}`"), error))
}
