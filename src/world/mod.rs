//! The world a drill starts from: an organization, its accounts, and what is in them.
//!
//! A world is read from YAML ([`World::load`]) and answers "which policies apply to this
//! request" ([`World::prepare`]) for the policy engine. It holds users, groups and roles with
//! their managed, inline and boundary policies, role trust policies, resource-based policies,
//! the organization tree with its SCPs and RCPs, AWS-managed policies with their real
//! documents, and the state of each account's root user, which later stages (provisioning,
//! drills) need as well.

mod load;
pub mod managed;
mod resolve;

pub use resolve::{Prepared, Query, QueryError};

use std::collections::BTreeMap;

use crate::policy::Policy;

/// Everything a drill starts from.
#[derive(Clone, Debug)]
pub struct World {
    /// The file the world was read from, for messages.
    pub origin: String,
    pub organization: Option<Organization>,
    /// By 12-digit account id. Every account of the organization's tree has an entry.
    pub accounts: BTreeMap<String, Account>,
    /// Managed policies by ARN: the AWS-managed ones the world uses, and every
    /// customer-managed policy of every account.
    pub policies: BTreeMap<String, ManagedPolicy>,
}

/// A managed policy, AWS-managed (`arn:aws:iam::aws:policy/...`) or customer-managed.
#[derive(Clone, Debug)]
pub struct ManagedPolicy {
    pub arn: String,
    pub name: String,
    pub path: String,
    pub policy: Policy,
}

#[derive(Clone, Debug)]
pub struct Account {
    pub id: String,
    pub name: Option<String>,
    pub root: RootUser,
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, Group>,
    pub roles: BTreeMap<String, Role>,
    pub federated_users: BTreeMap<String, FederatedUser>,
    pub resource_policies: Vec<ResourcePolicy>,
    /// The names of the account's CloudTrail trails, as the world declares them.
    pub cloudtrail_trails: Vec<String>,
}

/// What a drill needs to know about an account's root user to tell whether it can sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RootUser {
    pub mfa_enabled: bool,
    pub mfa_device_at_hand: bool,
    pub email_reachable: bool,
}

impl Default for RootUser {
    fn default() -> RootUser {
        RootUser {
            mfa_enabled: true,
            mfa_device_at_hand: true,
            email_reachable: true,
        }
    }
}

/// The policies attached to a user, group or role.
#[derive(Clone, Debug, Default)]
pub struct Attachments {
    /// Managed policy ARNs, each present in [`World::policies`].
    pub managed_policies: Vec<String>,
    pub inline_policies: Vec<InlinePolicy>,
}

#[derive(Clone, Debug)]
pub struct InlinePolicy {
    pub name: String,
    /// How the policy is reported: `NAME (inline, user/alice)`.
    pub label: String,
    pub policy: Policy,
}

#[derive(Clone, Debug)]
pub struct User {
    pub name: String,
    pub path: String,
    pub arn: String,
    /// The unique id (`AIDA...`), the value of `aws:userid`.
    pub id: String,
    pub groups: Vec<String>,
    pub attachments: Attachments,
    /// A managed policy ARN.
    pub permissions_boundary: Option<String>,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct Group {
    pub name: String,
    pub path: String,
    pub arn: String,
    pub attachments: Attachments,
}

#[derive(Clone, Debug)]
pub struct Role {
    pub name: String,
    pub path: String,
    pub arn: String,
    /// The unique id (`AROA...`); `aws:userid` of a session is `ID:SESSION`.
    pub id: String,
    pub trust_policy: Policy,
    pub attachments: Attachments,
    pub permissions_boundary: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub service_linked: bool,
}

/// A federated user session name, and the IAM user that called `GetFederationToken`.
#[derive(Clone, Debug)]
pub struct FederatedUser {
    pub name: String,
    pub user: String,
}

#[derive(Clone, Debug)]
pub struct ResourcePolicy {
    /// The resource ARN; it also covers ARNs that extend it after a `/` (a bucket's objects).
    pub resource: String,
    pub policy: Policy,
}

#[derive(Clone, Debug)]
pub struct Organization {
    pub id: String,
    pub management_account: String,
    pub root: OrgNode,
    /// SCPs and RCPs by name, including `FullAWSAccess` and `RCPFullAWSAccess`.
    pub policies: BTreeMap<String, OrgPolicy>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrgPolicyType {
    Scp,
    Rcp,
}

#[derive(Clone, Debug)]
pub struct OrgPolicy {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub policy_type: OrgPolicyType,
    pub policy: Policy,
}

/// The organization root or an OU.
#[derive(Clone, Debug)]
pub struct OrgNode {
    pub id: String,
    pub name: String,
    pub attached: Attached,
    pub accounts: Vec<AccountNode>,
    pub children: Vec<OrgNode>,
}

/// An account's place in the tree, with the policies attached directly to it.
#[derive(Clone, Debug)]
pub struct AccountNode {
    pub id: String,
    pub attached: Attached,
}

/// The SCPs and RCPs attached at one level, by name, `FullAWSAccess` included when attached.
#[derive(Clone, Debug, Default)]
pub struct Attached {
    pub scps: Vec<String>,
    pub rcps: Vec<String>,
}

/// The name AWS gives the default SCP, attached everywhere unless detached.
pub const FULL_AWS_ACCESS: &str = "FullAWSAccess";
/// The name of the default RCP, which cannot be detached.
pub const RCP_FULL_AWS_ACCESS: &str = "RCPFullAWSAccess";

impl Organization {
    /// The levels from the root down to `account` (root, each OU, the account itself), each
    /// with the id of its target, or `None` if the account is not in the organization.
    pub fn path_to(&self, account: &str) -> Option<Vec<(&str, &Attached)>> {
        fn walk<'o>(
            node: &'o OrgNode,
            account: &str,
            path: &mut Vec<(&'o str, &'o Attached)>,
        ) -> bool {
            path.push((&node.id, &node.attached));
            if let Some(found) = node
                .accounts
                .iter()
                .find(|candidate| candidate.id == account)
            {
                path.push((&found.id, &found.attached));
                return true;
            }
            if node.children.iter().any(|child| walk(child, account, path)) {
                return true;
            }
            path.pop();
            false
        }

        let mut path = Vec::new();
        walk(&self.root, account, &mut path).then_some(path)
    }

    /// The `aws:PrincipalOrgPaths` value of an account: `o-id/r-id/ou-id/.../`.
    pub fn org_path_of(&self, account: &str) -> Option<String> {
        fn walk(node: &OrgNode, account: &str, prefix: &str) -> Option<String> {
            let here = format!("{prefix}{}/", node.id);
            if node
                .accounts
                .iter()
                .any(|candidate| candidate.id == account)
            {
                return Some(here);
            }
            node.children
                .iter()
                .find_map(|child| walk(child, account, &here))
        }
        walk(&self.root, account, &format!("{}/", self.id))
    }

    pub fn contains(&self, account: &str) -> bool {
        self.org_path_of(account).is_some()
    }
}
