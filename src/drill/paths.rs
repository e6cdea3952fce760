//! Recovery paths: who could administer IAM in an account right now, and why everyone else
//! cannot.
//!
//! The prevention checklist asks that some principal besides root keeps IAM admin rights, and
//! a lockout with no recovery path must say why nothing can recover it. Both come down to one
//! question, answered here on the gateway's live state with the policy engine:
//!
//! 1. Who can act at all: every IAM user (a drill gives each one keys), and each root user
//!    that can sign in.
//! 2. Who they can become: every role whose trust policy lets a principal of step 1 (or a
//!    role session reached so far) call `sts:AssumeRole`, with MFA, since a break-glass
//!    procedure uses a device at hand. Role chains are followed until nothing new is reached.
//! 3. Which of those, in the account, may administer IAM: attach any policy to any user and
//!    any role, and write new versions of managed policies ([`ADMIN_ACTIONS`]), with every
//!    SCP, boundary and condition applied.

use super::access::{Access, decide_query};
use crate::gateway::caller_context;
use crate::live::root_sign_in_blocker;
use crate::world::{Query, World};

/// The actions that make a principal an IAM administrator: with them it can give anyone,
/// itself included, any permission.
pub const ADMIN_ACTIONS: &[(&str, &str)] = &[
    ("iam:AttachUserPolicy", "user/*"),
    ("iam:AttachRolePolicy", "role/*"),
    ("iam:CreatePolicyVersion", "policy/*"),
];

/// The session name used for role sessions that were not really assumed.
const PROBE_SESSION: &str = "lockdrill-recovery-path";

/// One principal that can administer IAM, and how it is reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Administrator {
    pub principal: String,
    /// `signs in` for users and root, or `assumed by ARN` for a role session.
    pub reached: String,
    pub is_root: bool,
}

/// One principal that cannot, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Blocked {
    pub principal: String,
    pub reason: String,
}

/// The recovery paths of one account.
#[derive(Clone, Debug, Default)]
pub struct RecoveryPaths {
    pub account: String,
    pub administrators: Vec<Administrator>,
    pub blocked: Vec<Blocked>,
}

impl RecoveryPaths {
    /// Administrators other than the account's root user.
    pub fn besides_root(&self) -> impl Iterator<Item = &Administrator> {
        self.administrators.iter().filter(|admin| !admin.is_root)
    }

    /// Why each principal that could act in the account cannot administer IAM, one a line.
    pub fn explain_blocked(&self) -> String {
        if self.blocked.is_empty() {
            return format!("  (account {} has no users or roles)", self.account);
        }
        self.blocked
            .iter()
            .map(|blocked| format!("  - {}: {}", blocked.principal, blocked.reason))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// A principal that can act, and how it came to.
struct Reached {
    principal: String,
    how: String,
    mfa: Option<bool>,
}

/// Finds every recovery path into `account` at epoch second `now`.
pub fn recovery_paths(world: &World, account: &str, now: i64) -> Result<RecoveryPaths, String> {
    let home = world
        .accounts
        .get(account)
        .ok_or_else(|| format!("the world has no account {account}"))?;
    let mut paths = RecoveryPaths {
        account: account.to_owned(),
        ..RecoveryPaths::default()
    };

    // 1. Who can act at all.
    let mut reached: Vec<Reached> = Vec::new();
    for other in world.accounts.values() {
        for user in other.users.values() {
            reached.push(Reached {
                principal: user.arn.clone(),
                how: "signs in".into(),
                mfa: None,
            });
        }
        let root = format!("arn:aws:iam::{}:root", other.id);
        match root_sign_in_blocker(&other.root) {
            None => reached.push(Reached {
                principal: root,
                how: "signs in".into(),
                mfa: None,
            }),
            Some(reason) if other.id == account => paths.blocked.push(Blocked {
                principal: root,
                reason: format!("cannot sign in: {reason}"),
            }),
            Some(_) => {}
        }
    }

    // 2. Who they can become, following role chains.
    let roles: Vec<(&str, &str)> = world
        .accounts
        .values()
        .flat_map(|other| other.roles.values())
        .filter(|role| !role.service_linked)
        .map(|role| (role.arn.as_str(), role.name.as_str()))
        .collect();
    let mut assumed: Vec<&str> = Vec::new();
    loop {
        let mut grew = false;
        for &(role_arn, role_name) in &roles {
            if assumed.contains(&role_arn) {
                continue;
            }
            let by = reached.iter().find(|from| {
                let query = Query {
                    principal: from.principal.clone(),
                    action: "sts:AssumeRole".into(),
                    resource: role_arn.to_owned(),
                    resource_account: None,
                    context: caller_context(Some(true)),
                    session_policy: None,
                };
                decide_query(world, &query, now).is_ok_and(|access| access.is_allowed())
            });
            if let Some(by) = by {
                let role_account = role_arn.split(':').nth(4).unwrap_or_default();
                let how = format!("assumed by {}", by.principal);
                reached.push(Reached {
                    principal: format!(
                        "arn:aws:sts::{role_account}:assumed-role/{role_name}/{PROBE_SESSION}"
                    ),
                    how,
                    mfa: Some(true),
                });
                assumed.push(role_arn);
                grew = true;
            }
        }
        if !grew {
            break;
        }
    }
    for role in home.roles.values().filter(|role| !role.service_linked) {
        if !assumed.contains(&role.arn.as_str()) {
            paths.blocked.push(Blocked {
                principal: role.arn.clone(),
                reason: "no principal that can act may assume it".into(),
            });
        }
    }

    // 3. Which of those may administer IAM in the account.
    let marker = format!(":{account}:");
    for candidate in reached.iter().filter(|r| r.principal.contains(&marker)) {
        match first_denial(world, account, candidate, now)? {
            None => paths.administrators.push(Administrator {
                principal: candidate.principal.clone(),
                reached: candidate.how.clone(),
                is_root: candidate.principal.ends_with(":root"),
            }),
            Some(denied) => paths.blocked.push(Blocked {
                principal: candidate.principal.clone(),
                reason: denied.message.unwrap_or_else(|| "denied".into()),
            }),
        }
    }
    Ok(paths)
}

/// The first administrator action `candidate` is denied, if any.
fn first_denial(
    world: &World,
    account: &str,
    candidate: &Reached,
    now: i64,
) -> Result<Option<Access>, String> {
    for (action, resource) in ADMIN_ACTIONS {
        let query = Query {
            principal: candidate.principal.clone(),
            action: (*action).to_owned(),
            resource: format!("arn:aws:iam::{account}:{resource}"),
            resource_account: None,
            context: caller_context(candidate.mfa),
            session_policy: None,
        };
        let access = decide_query(world, &query, now)?;
        if !access.is_allowed() {
            return Ok(Some(access));
        }
    }
    Ok(None)
}
