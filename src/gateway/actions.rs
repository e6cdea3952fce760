//! What AWS authorizes for one decoded call: the IAM action, the resource ARNs and the
//! request-context keys the call carries.
//!
//! The mapping follows AWS's Service Authorization Reference, one page a service:
//!
//! - IAM: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html>
//! - STS: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awssecuritytokenservice.html>
//! - Organizations: <https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsorganizations.html>
//!
//! Each page lists, for every action, its required resource types (`user*`), its optional
//! ones (`account`, `organizationalunit`, `root` for `organizations:AttachPolicy`) and its
//! condition keys. A resource type in that table becomes an ARN here, built the way the
//! page's resource table spells it (IAM ARNs include the entity's path); an action with no
//! resource type is authorized on `*`. The condition keys become context entries with the
//! values the call carries (`iam:PolicyARN`, `aws:RequestTag/...`) or that the world holds
//! (`iam:PermissionsBoundary` of an existing user, `aws:ResourceTag/...` of a role).
//!
//! An operation this module does not know is an error, never an allow: the gateway denies
//! it with the message. So is a call that AWS would refuse before any policy is read (a
//! missing required parameter, Organizations without an organization).

mod iam;
mod organizations;
mod sts;
#[cfg(test)]
mod tests;

use std::fmt;

use crate::gateway::operation::{Operation, Params, Service};
use crate::policy::ContextValue;
use crate::world::World;

/// What AWS authorizes for one call.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The action, as in `iam:AttachUserPolicy`.
    pub action: String,
    /// Each must be allowed; `*` for actions without resource types.
    pub resources: Vec<String>,
    /// The request-context keys the call carries, besides the global ones (`aws:Principal*`,
    /// `aws:MultiFactorAuthPresent`, ...) that the gateway derives from the caller.
    pub context: Vec<(String, ContextValue)>,
    pub access: Access,
    /// AWS allows the call whatever the policies say (`sts:GetCallerIdentity`).
    pub needs_no_permission: bool,
    /// Further authorizations the same call needs, each decided on its own: AssumeRole with
    /// session tags needs `sts:TagSession` on the role as well.
    pub also: Vec<Authorization>,
}

/// Whether a call changes the state the gateway decides on. This is not the SAR's access
/// level: `sts:AssumeRole` is "Write" there but changes no IAM or Organizations state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A call the gateway cannot authorize; it is answered with the error AWS would give, never
/// forwarded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MapError {
    /// The action the call asked for, as in `iam:CreateUser`.
    pub operation: String,
    pub message: String,
    pub kind: MapErrorKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapErrorKind {
    /// lockdrill does not map this operation (or does not support it): deny it.
    Unmapped,
    /// A required parameter is missing or malformed, which AWS answers with a validation
    /// error before any policy is read.
    Invalid,
    /// The caller's account is not in an organization.
    NotInOrganization,
    /// The Organizations policy the call names does not exist.
    PolicyNotFound,
    /// AWS refuses the call whatever the policies say, with the message given.
    Refused,
}

impl MapError {
    /// The error code AWS answers with, in the shape of the operation's service.
    pub fn code(&self) -> &'static str {
        let organizations = self.operation.starts_with("organizations:");
        match (self.kind, organizations) {
            (MapErrorKind::Unmapped | MapErrorKind::Refused, false) => "AccessDenied",
            (MapErrorKind::Unmapped | MapErrorKind::Refused, true) => "AccessDeniedException",
            (MapErrorKind::Invalid, false) => "ValidationError",
            (MapErrorKind::Invalid, true) => "InvalidInputException",
            (MapErrorKind::NotInOrganization, _) => "AWSOrganizationsNotInUseException",
            (MapErrorKind::PolicyNotFound, _) => "PolicyNotFoundException",
        }
    }
}

/// Who signed the call.
#[derive(Clone, Copy)]
pub struct Caller<'a> {
    /// The principal ARN, as the policy engine takes it: `arn:aws:iam::111122223333:root`,
    /// `arn:aws:iam::111122223333:user/ops/alice`,
    /// `arn:aws:sts::111122223333:assumed-role/Admin/alice`. Its account is where the IAM
    /// entities the call names live.
    pub arn: &'a str,
    /// The owners of the access keys the gateway knows, for calls that name only a key
    /// (`iam:GetAccessKeyLastUsed`).
    pub key_owners: &'a dyn KeyOwners,
}

impl<'a> Caller<'a> {
    /// A caller whose gateway knows no access keys.
    pub fn new(arn: &'a str) -> Caller<'a> {
        Caller {
            arn,
            key_owners: &NoKeyOwners,
        }
    }
}

impl fmt::Debug for Caller<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller").field("arn", &self.arn).finish()
    }
}

/// Who owns an access key. `Sync`, so that a [`Caller`] can be held across awaits.
pub trait KeyOwners: Sync {
    /// The ARN of the IAM user (or `arn:aws:iam::ACCOUNT:root`) that owns `access_key_id`.
    fn owner_of(&self, access_key_id: &str) -> Option<String>;
}

impl<F: Fn(&str) -> Option<String> + Sync> KeyOwners for F {
    fn owner_of(&self, access_key_id: &str) -> Option<String> {
        self(access_key_id)
    }
}

/// Knows no access keys.
pub struct NoKeyOwners;

impl KeyOwners for NoKeyOwners {
    fn owner_of(&self, _access_key_id: &str) -> Option<String> {
        None
    }
}

/// Maps one decoded call to what AWS authorizes, on the current state of the world.
pub fn authorize(
    operation: &Operation,
    caller: &Caller<'_>,
    world: &World,
) -> Result<Authorization, MapError> {
    let account = caller_account(caller.arn).ok_or_else(|| MapError {
        operation: operation.action(),
        message: format!("`{}` is not a principal ARN", caller.arn),
        kind: MapErrorKind::Refused,
    })?;
    let call = Call {
        operation,
        caller,
        account,
        world,
    };
    match operation.service {
        Service::Iam => iam::authorize(&call),
        Service::Sts => sts::authorize(&call),
        Service::Organizations => organizations::authorize(&call),
    }
}

/// The account of a principal ARN: `arn:aws:iam::ACCOUNT:...` or `arn:aws:sts::ACCOUNT:...`.
fn caller_account(arn: &str) -> Option<&str> {
    let mut parts = arn.splitn(6, ':');
    let (Some("arn"), Some(_), Some("iam" | "sts"), Some(_), Some(account), Some(_)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let valid = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
    valid.then_some(account)
}

/// One call being mapped, with what the mapping reads besides the operation.
struct Call<'a> {
    operation: &'a Operation,
    caller: &'a Caller<'a>,
    /// The caller's account.
    account: &'a str,
    world: &'a World,
}

impl<'a> Call<'a> {
    fn name(&self) -> &'a str {
        &self.operation.name
    }

    fn param(&self, name: &str) -> Option<&'a str> {
        self.operation.param(name).filter(|value| !value.is_empty())
    }

    /// A parameter AWS requires.
    fn required(&self, name: &str) -> Result<&'a str, MapError> {
        self.param(name).ok_or_else(|| self.missing(&[name]))
    }

    /// Checks that every parameter AWS requires is present, scalars and lists alike, and
    /// names all that are missing, as AWS's validation error does.
    fn require_all(&self, names: &[&str]) -> Result<(), MapError> {
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| !self.has(name))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(self.missing(&missing))
        }
    }

    fn has(&self, name: &str) -> bool {
        match &self.operation.params {
            Params::Query(fields) => fields.iter().any(|(key, value)| {
                (key == name && !value.is_empty())
                    || key
                        .strip_prefix(name)
                        .is_some_and(|rest| rest.starts_with('.'))
            }),
            Params::Json(body) => body
                .get(name)
                .is_some_and(|value| !value.is_null() && value.as_str() != Some("")),
        }
    }

    /// AWS's wording: `1 validation error detected: Value null at 'userName' failed to
    /// satisfy constraint: Member must not be null`.
    fn missing(&self, names: &[&str]) -> MapError {
        let count = names.len();
        let plural = if count == 1 { "" } else { "s" };
        let details: Vec<String> = names
            .iter()
            .map(|name| {
                format!(
                    "Value null at '{}' failed to satisfy constraint: Member must not be null",
                    member_name(name)
                )
            })
            .collect();
        self.error(
            MapErrorKind::Invalid,
            format!(
                "{count} validation error{plural} detected: {}",
                details.join("; ")
            ),
        )
    }

    fn error(&self, kind: MapErrorKind, message: impl Into<String>) -> MapError {
        MapError {
            operation: self.operation.action(),
            message: message.into(),
            kind,
        }
    }

    fn unmapped(&self) -> MapError {
        self.error(
            MapErrorKind::Unmapped,
            format!(
                "lockdrill's gateway does not map `{}` yet",
                self.operation.action()
            ),
        )
    }

    /// A new authorization for this call's own action.
    fn authorization(&self, access: Access) -> Authorization {
        Authorization {
            action: self.operation.action(),
            resources: Vec::new(),
            context: Vec::new(),
            access,
            needs_no_permission: false,
            also: Vec::new(),
        }
    }

    /// The tags a call passes: `Tags.member.N.Key` / `.Value` fields of the query protocol,
    /// or a JSON array of `{"Key": ..., "Value": ...}`.
    fn tags(&self, name: &str) -> Vec<(String, String)> {
        match &self.operation.params {
            Params::Query(fields) => {
                let prefix = format!("{name}.member.");
                let mut tags: Vec<(u32, Option<&str>, Option<&str>)> = Vec::new();
                for (key, value) in fields {
                    let Some(rest) = key.strip_prefix(&prefix) else {
                        continue;
                    };
                    let Some((index, field)) = rest.split_once('.') else {
                        continue;
                    };
                    let Ok(index) = index.parse::<u32>() else {
                        continue;
                    };
                    let slot = match tags.iter().position(|(at, _, _)| *at == index) {
                        Some(slot) => slot,
                        None => {
                            tags.push((index, None, None));
                            tags.len() - 1
                        }
                    };
                    match field {
                        "Key" => tags[slot].1 = Some(value),
                        "Value" => tags[slot].2 = Some(value),
                        _ => {}
                    }
                }
                tags.sort_by_key(|(index, _, _)| *index);
                tags.into_iter()
                    .filter_map(|(_, key, value)| {
                        Some((key?.to_owned(), value.unwrap_or_default().to_owned()))
                    })
                    .collect()
            }
            Params::Json(body) => body
                .get(name)
                .and_then(serde_json::Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(|item| {
                            let key = item.get("Key")?.as_str()?;
                            let value = item
                                .get("Value")
                                .and_then(serde_json::Value::as_str)
                                .unwrap_or_default();
                            Some((key.to_owned(), value.to_owned()))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

impl Authorization {
    fn on(mut self, resource: impl Into<String>) -> Authorization {
        self.resources.push(resource.into());
        self
    }

    fn with(mut self, key: impl Into<String>, value: ContextValue) -> Authorization {
        self.context.push((key.into(), value));
        self
    }

    fn with_one(self, key: impl Into<String>, value: impl Into<String>) -> Authorization {
        self.with(key, ContextValue::One(value.into()))
    }

    /// `aws:TagKeys` and one `aws:RequestTag/KEY` a tag, when the call passes tags.
    fn with_request_tags(mut self, tags: &[(String, String)]) -> Authorization {
        self.context.extend(request_tags(tags));
        self
    }

    /// `aws:TagKeys` for calls that remove tags.
    fn with_tag_keys(self, keys: &[&str]) -> Authorization {
        if keys.is_empty() {
            return self;
        }
        let keys = keys.iter().map(|key| (*key).to_owned()).collect();
        self.with("aws:TagKeys", ContextValue::Many(keys))
    }
}

/// `aws:TagKeys` and one `aws:RequestTag/KEY` a tag; nothing without tags.
fn request_tags(tags: &[(String, String)]) -> Vec<(String, ContextValue)> {
    if tags.is_empty() {
        return Vec::new();
    }
    let keys = tags.iter().map(|(key, _)| key.clone()).collect();
    let mut context = vec![("aws:TagKeys".to_owned(), ContextValue::Many(keys))];
    for (key, value) in tags {
        context.push((
            format!("aws:RequestTag/{key}"),
            ContextValue::One(value.clone()),
        ));
    }
    context
}

/// The member name AWS's validation messages use: the parameter with a lowercase first
/// letter (`UserName` → `userName`).
fn member_name(parameter: &str) -> String {
    let mut chars = parameter.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
