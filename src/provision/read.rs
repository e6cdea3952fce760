//! Reading the emulator's current state back into a [`World`].
//!
//! IAM comes from `GetAccountAuthorizationDetails` (users, groups, roles, their inline and
//! attached policies, customer-managed policy documents), Organizations from its list and
//! describe calls. What the emulator does not keep comes from the world it started from: the
//! root users' state, federated users, resource-based policies of other services, and user
//! permissions boundaries (which Moto does not implement; the gateway answers those calls).

use std::collections::BTreeMap;

use aws_sdk_iam::types::EntityType;
use aws_sdk_organizations::types::PolicyType as OrgApiPolicyType;

use super::{ProvisionError, emulator_keys, reason};
use crate::policy::{Policy, PolicyKind, parse_policy};
use crate::sdk::Clients;
use crate::world::{
    Account, AccountNode, Attached, Attachments, Group, InlinePolicy, ManagedPolicy, OrgNode,
    OrgPolicy, OrgPolicyType, Organization, Role, User, World, managed,
};

/// Reads the whole world back: the organization and every account `base` knows or the
/// organization lists.
pub async fn read(endpoint: &str, base: &World) -> Result<World, ProvisionError> {
    let organization = match &base.organization {
        Some(organization) => {
            Some(read_organization(endpoint, &organization.management_account).await?)
        }
        None => None,
    };

    let mut ids: Vec<String> = base.accounts.keys().cloned().collect();
    if let Some(organization) = &organization {
        collect_account_ids(&organization.root, &mut ids);
    }
    ids.sort();
    ids.dedup();

    let mut world = World {
        origin: base.origin.clone(),
        organization,
        accounts: BTreeMap::new(),
        policies: BTreeMap::new(),
    };
    for id in ids {
        read_account(endpoint, &id, base, &mut world).await?;
    }
    Ok(world)
}

fn collect_account_ids(node: &OrgNode, ids: &mut Vec<String>) {
    ids.extend(node.accounts.iter().map(|account| account.id.clone()));
    for child in &node.children {
        collect_account_ids(child, ids);
    }
}

/// Reads one account's IAM state into `world`, replacing what it had for that account.
pub async fn read_account(
    endpoint: &str,
    id: &str,
    base: &World,
    world: &mut World,
) -> Result<(), ProvisionError> {
    let clients = Clients::new(endpoint, &emulator_keys(), Some(id));
    let doing = format!("reading IAM of account {id}");

    // Gather every page of the authorization details.
    let mut pages = clients
        .iam
        .get_account_authorization_details()
        .filter(EntityType::User)
        .filter(EntityType::Group)
        .filter(EntityType::Role)
        .filter(EntityType::LocalManagedPolicy)
        .into_paginator()
        .send();
    let mut users = Vec::new();
    let mut groups = Vec::new();
    let mut roles = Vec::new();
    let mut local_policies = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|error| ProvisionError::new(&doing, reason(error)))?;
        users.extend(page.user_detail_list().iter().cloned());
        groups.extend(page.group_detail_list().iter().cloned());
        roles.extend(page.role_detail_list().iter().cloned());
        local_policies.extend(page.policies().iter().cloned());
    }

    // Customer-managed policies of this account replace the ones read before.
    let prefix = format!("arn:aws:iam::{id}:policy/");
    world.policies.retain(|arn, _| !arn.starts_with(&prefix));
    for detail in &local_policies {
        let arn = detail.arn().unwrap_or_default().to_owned();
        let Some(version) = detail
            .policy_version_list()
            .iter()
            .find(|version| version.is_default_version())
        else {
            continue;
        };
        let policy = document(
            version.document(),
            &format!("policy {arn}"),
            PolicyKind::Identity,
        )?;
        world.policies.insert(
            arn.clone(),
            ManagedPolicy {
                arn,
                name: detail.policy_name().unwrap_or_default().to_owned(),
                path: detail.path().unwrap_or("/").to_owned(),
                policy,
            },
        );
    }

    let base_account = base.accounts.get(id);
    let mut account = Account {
        id: id.to_owned(),
        name: base_account.and_then(|account| account.name.clone()),
        root: base_account.map(|account| account.root).unwrap_or_default(),
        users: BTreeMap::new(),
        groups: BTreeMap::new(),
        roles: BTreeMap::new(),
        federated_users: base_account
            .map(|account| account.federated_users.clone())
            .unwrap_or_default(),
        resource_policies: base_account
            .map(|account| account.resource_policies.clone())
            .unwrap_or_default(),
        cloudtrail_trails: base_account
            .map(|account| account.cloudtrail_trails.clone())
            .unwrap_or_default(),
    };

    for detail in &groups {
        let name = detail.group_name().unwrap_or_default().to_owned();
        let owner = format!("group/{name}");
        let inline = detail
            .group_policy_list()
            .iter()
            .map(|p| (p.policy_name(), p.policy_document()));
        let attachments = attachments(
            endpoint,
            id,
            base,
            world,
            detail.attached_managed_policies(),
            inline,
            &owner,
        )
        .await?;
        account.groups.insert(
            name.clone(),
            Group {
                name,
                path: detail.path().unwrap_or("/").to_owned(),
                arn: detail.arn().unwrap_or_default().to_owned(),
                attachments,
            },
        );
    }

    for detail in &users {
        let name = detail.user_name().unwrap_or_default().to_owned();
        let arn = detail.arn().unwrap_or_default().to_owned();
        let owner = format!("user/{name}");
        let inline = detail
            .user_policy_list()
            .iter()
            .map(|p| (p.policy_name(), p.policy_document()));
        let attachments = attachments(
            endpoint,
            id,
            base,
            world,
            detail.attached_managed_policies(),
            inline,
            &owner,
        )
        .await?;
        let held_boundary = base_account
            .and_then(|account| account.users.get(&name))
            .filter(|user| user.arn == arn)
            .and_then(|user| user.permissions_boundary.clone());
        let permissions_boundary = boundary_of(detail.permissions_boundary()).or(held_boundary);
        if let Some(boundary) = &permissions_boundary {
            ensure_policy(endpoint, id, base, world, boundary).await?;
        }
        account.users.insert(
            name.clone(),
            User {
                path: detail.path().unwrap_or("/").to_owned(),
                id: detail.user_id().unwrap_or_default().to_owned(),
                groups: detail.group_list().to_vec(),
                attachments,
                permissions_boundary,
                tags: tags_of(detail.tags()),
                name,
                arn,
            },
        );
    }

    for detail in &roles {
        let name = detail.role_name().unwrap_or_default().to_owned();
        let arn = detail.arn().unwrap_or_default().to_owned();
        let owner = format!("role/{name}");
        let inline = detail
            .role_policy_list()
            .iter()
            .map(|p| (p.policy_name(), p.policy_document()));
        let attachments = attachments(
            endpoint,
            id,
            base,
            world,
            detail.attached_managed_policies(),
            inline,
            &owner,
        )
        .await?;
        let trust_policy = document(
            detail.assume_role_policy_document(),
            &format!("trust policy of {arn}"),
            PolicyKind::Trust,
        )?;
        let permissions_boundary = boundary_of(detail.permissions_boundary());
        if let Some(boundary) = &permissions_boundary {
            ensure_policy(endpoint, id, base, world, boundary).await?;
        }
        let path = detail.path().unwrap_or("/").to_owned();
        account.roles.insert(
            name.clone(),
            Role {
                service_linked: path.starts_with("/aws-service-role/"),
                path,
                id: detail.role_id().unwrap_or_default().to_owned(),
                trust_policy,
                attachments,
                permissions_boundary,
                tags: tags_of(detail.tags()),
                name,
                arn,
            },
        );
    }

    world.accounts.insert(id.to_owned(), account);
    Ok(())
}

/// The attachments of one user, group or role, making sure every attached policy is known.
async fn attachments<'d>(
    endpoint: &str,
    account: &str,
    base: &World,
    world: &mut World,
    attached: &[aws_sdk_iam::types::AttachedPolicy],
    inline: impl Iterator<Item = (Option<&'d str>, Option<&'d str>)>,
    owner: &str,
) -> Result<Attachments, ProvisionError> {
    let mut managed_policies = Vec::new();
    for policy in attached {
        let Some(arn) = policy.policy_arn() else {
            continue;
        };
        ensure_policy(endpoint, account, base, world, arn).await?;
        managed_policies.push(arn.to_owned());
    }

    let mut inline_policies = Vec::new();
    for (name, text) in inline {
        let name = name.unwrap_or_default().to_owned();
        let policy = document(
            text,
            &format!("inline policy {name} of {owner}"),
            PolicyKind::Identity,
        )?;
        inline_policies.push(InlinePolicy {
            label: format!("{name} (inline, {owner})"),
            name,
            policy,
        });
    }
    Ok(Attachments {
        managed_policies,
        inline_policies,
    })
}

/// Makes sure a managed policy referenced by ARN is in `world.policies`: AWS-managed ones come
/// from the world it started from, the built-in list, or the emulator.
async fn ensure_policy(
    endpoint: &str,
    account: &str,
    base: &World,
    world: &mut World,
    arn: &str,
) -> Result<(), ProvisionError> {
    if world.policies.contains_key(arn) {
        return Ok(());
    }
    if let Some(known) = base
        .policies
        .get(arn)
        .filter(|_| arn.starts_with(managed::AWS_MANAGED_PREFIX))
    {
        world.policies.insert(arn.to_owned(), known.clone());
        return Ok(());
    }
    let name = arn.rsplit('/').next().unwrap_or(arn);
    if let Some(Ok(built_in)) = managed::built_in(name) {
        let built_in_arn = format!(
            "{}{}{}",
            managed::AWS_MANAGED_PREFIX,
            built_in.path,
            built_in.name
        );
        if built_in_arn == arn {
            world.policies.insert(
                arn.to_owned(),
                ManagedPolicy {
                    arn: built_in_arn,
                    name: built_in.name,
                    path: built_in.path,
                    policy: built_in.policy,
                },
            );
            return Ok(());
        }
    }

    // Ask the emulator for the policy's default version.
    let clients = Clients::new(endpoint, &emulator_keys(), Some(account));
    let doing = format!("reading managed policy {arn}");
    let got = clients
        .iam
        .get_policy()
        .policy_arn(arn)
        .send()
        .await
        .map_err(|error| ProvisionError::new(&doing, reason(error)))?;
    let summary = got
        .policy()
        .ok_or_else(|| ProvisionError::new(&doing, "no policy returned"))?;
    let version = clients
        .iam
        .get_policy_version()
        .policy_arn(arn)
        .version_id(summary.default_version_id().unwrap_or("v1"))
        .send()
        .await
        .map_err(|error| ProvisionError::new(&doing, reason(error)))?;
    let text = version
        .policy_version()
        .and_then(|version| version.document());
    let policy = document(text, &format!("policy {arn}"), PolicyKind::Identity)?;
    world.policies.insert(
        arn.to_owned(),
        ManagedPolicy {
            arn: arn.to_owned(),
            name: summary.policy_name().unwrap_or(name).to_owned(),
            path: summary.path().unwrap_or("/").to_owned(),
            policy,
        },
    );
    Ok(())
}

/// Reads the organization as its management account sees it.
pub async fn read_organization(
    endpoint: &str,
    management: &str,
) -> Result<Organization, ProvisionError> {
    let clients = Clients::new(endpoint, &emulator_keys(), Some(management));
    let api = &clients.organizations;

    let described = api
        .describe_organization()
        .send()
        .await
        .map_err(|error| ProvisionError::new("reading the organization", reason(error)))?;
    let organization = described
        .organization()
        .ok_or_else(|| ProvisionError::new("reading the organization", "none returned"))?;
    let id = organization.id().unwrap_or_default().to_owned();
    let management_account = organization
        .master_account_id()
        .unwrap_or(management)
        .to_owned();

    // Every policy, with its document.
    let mut policies = BTreeMap::new();
    let mut names_by_id = BTreeMap::new();
    for (filter, policy_type, kind) in [
        (
            OrgApiPolicyType::ServiceControlPolicy,
            OrgPolicyType::Scp,
            PolicyKind::Scp,
        ),
        (
            OrgApiPolicyType::ResourceControlPolicy,
            OrgPolicyType::Rcp,
            PolicyKind::Rcp,
        ),
    ] {
        let listed = api
            .list_policies()
            .filter(filter.clone())
            .send()
            .await
            .map_err(|error| ProvisionError::new("listing organization policies", reason(error)))?;
        for summary in listed.policies() {
            let policy_id = summary.id().unwrap_or_default().to_owned();
            let doing = format!("reading organization policy {policy_id}");
            let described = api
                .describe_policy()
                .policy_id(&policy_id)
                .send()
                .await
                .map_err(|error| ProvisionError::new(&doing, reason(error)))?;
            let content = described.policy().and_then(|policy| policy.content());
            let policy = document(content, &format!("organization policy {policy_id}"), kind)?;
            let mut name = summary.name().unwrap_or(&policy_id).to_owned();
            if policies.contains_key(&name) {
                name = format!("{name} ({policy_id})");
            }
            names_by_id.insert(policy_id.clone(), name.clone());
            policies.insert(
                name.clone(),
                OrgPolicy {
                    arn: summary.arn().unwrap_or_default().to_owned(),
                    id: policy_id,
                    name,
                    policy_type,
                    policy,
                },
            );
        }
    }

    // The tree, from the root down.
    let roots = api
        .list_roots()
        .send()
        .await
        .map_err(|error| ProvisionError::new("listing roots", reason(error)))?;
    let root = roots
        .roots()
        .first()
        .ok_or_else(|| ProvisionError::new("listing roots", "the organization has no root"))?;
    let reader = TreeReader {
        api,
        names_by_id: &names_by_id,
    };
    let root = reader.node(root.id().unwrap_or_default(), "Root").await?;

    Ok(Organization {
        id,
        management_account,
        root,
        policies,
    })
}

struct TreeReader<'a> {
    api: &'a aws_sdk_organizations::Client,
    names_by_id: &'a BTreeMap<String, String>,
}

impl TreeReader<'_> {
    async fn node(&self, id: &str, name: &str) -> Result<OrgNode, ProvisionError> {
        let attached = self.attached(id).await?;

        let doing = format!("listing the accounts under {id}");
        let mut accounts = Vec::new();
        let mut pages = self
            .api
            .list_accounts_for_parent()
            .parent_id(id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| ProvisionError::new(&doing, reason(error)))?;
            for account in page.accounts() {
                let account_id = account.id().unwrap_or_default().to_owned();
                accounts.push(AccountNode {
                    attached: self.attached(&account_id).await?,
                    id: account_id,
                });
            }
        }

        let doing = format!("listing the OUs under {id}");
        let mut children = Vec::new();
        let mut pages = self
            .api
            .list_organizational_units_for_parent()
            .parent_id(id)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|error| ProvisionError::new(&doing, reason(error)))?;
            for ou in page.organizational_units() {
                children.push(
                    Box::pin(self.node(ou.id().unwrap_or_default(), ou.name().unwrap_or_default()))
                        .await?,
                );
            }
        }

        Ok(OrgNode {
            id: id.to_owned(),
            name: name.to_owned(),
            attached,
            accounts,
            children,
        })
    }

    /// The SCPs and RCPs attached to one target, by name.
    async fn attached(&self, target: &str) -> Result<Attached, ProvisionError> {
        let mut attached = Attached::default();
        for filter in [
            OrgApiPolicyType::ServiceControlPolicy,
            OrgApiPolicyType::ResourceControlPolicy,
        ] {
            let listed = self
                .api
                .list_policies_for_target()
                .target_id(target)
                .filter(filter.clone())
                .send()
                .await
                .map_err(|error| {
                    ProvisionError::new(format!("listing the policies of {target}"), reason(error))
                })?;
            for summary in listed.policies() {
                let Some(name) = summary.id().and_then(|id| self.names_by_id.get(id)) else {
                    continue;
                };
                match filter {
                    OrgApiPolicyType::ServiceControlPolicy => attached.scps.push(name.clone()),
                    _ => attached.rcps.push(name.clone()),
                }
            }
        }
        Ok(attached)
    }
}

/// An IAM entity's tags as a map.
fn tags_of(tags: &[aws_sdk_iam::types::Tag]) -> BTreeMap<String, String> {
    tags.iter()
        .map(|tag| (tag.key().to_owned(), tag.value().to_owned()))
        .collect()
}

/// The ARN of an IAM entity's permissions boundary, if it has one.
fn boundary_of(
    boundary: Option<&aws_sdk_iam::types::AttachedPermissionsBoundary>,
) -> Option<String> {
    boundary
        .and_then(|boundary| boundary.permissions_boundary_arn())
        .map(str::to_owned)
}

/// Parses a policy document the emulator returned, URL-encoded (as AWS does) or not.
fn document(text: Option<&str>, what: &str, kind: PolicyKind) -> Result<Policy, ProvisionError> {
    let text = text.ok_or_else(|| {
        ProvisionError::new(
            format!("reading {what}"),
            "the emulator returned no document",
        )
    })?;
    let decoded = if text.trim_start().starts_with('%') {
        percent_decode(text)
    } else {
        text.to_owned()
    };
    parse_policy(&format!("emulator: {what}"), &decoded, kind)
        .map_err(|problems| ProvisionError::new(format!("reading {what}"), problems))
}

/// Decodes `%XX` escapes (and leaves `+` alone, which JSON may contain).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let escaped = match bytes[index] {
            b'%' => bytes
                .get(index + 1..index + 3)
                .and_then(|hex| std::str::from_utf8(hex).ok())
                .and_then(|hex| u8::from_str_radix(hex, 16).ok()),
            _ => None,
        };
        match escaped {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_keeps_plus_signs() {
        assert_eq!(
            percent_decode("%7B%22a%22%3A%22b+c%22%7D"),
            r#"{"a":"b+c"}"#
        );
        assert_eq!(percent_decode("100%"), "100%");
    }
}
