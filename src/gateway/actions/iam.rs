//! IAM calls, after the IAM page of the Service Authorization Reference
//! (list_awsidentityandaccessmanagementiam.html).
//!
//! Each call names at most one entity by name (a user, group or role, in the caller's
//! account), a managed policy by ARN, or nothing (account-wide calls, authorized on `*`).
//! Entity ARNs carry the entity's path, read from the world; an entity that does not exist
//! yet has the `Path` of the call that creates it, or `/`.

use std::collections::BTreeMap;

use super::{Access, Authorization, Call, MapError, MapErrorKind};

/// What a call's resource is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// No resource type in the SAR: `*`.
    Account,
    /// The user named by `UserName`.
    User,
    /// The user named by `UserName`, or the caller's own user (or root) without it.
    UserOrCaller,
    /// The caller's own user: `ChangePassword`.
    Caller,
    Group,
    Role,
    /// The managed policy named by `PolicyArn`.
    Policy,
    /// The virtual MFA device named by `SerialNumber`.
    MfaDevice,
    /// The user that owns the access key named by `AccessKeyId`.
    KeyOwner,
    /// The entity a Create call makes, at its `Path`.
    NewUser,
    NewGroup,
    NewRole,
    NewPolicy,
    NewMfaDevice,
    NewServiceLinkedRole,
}

/// Each operation: its target and the parameters AWS requires (the SDK models mark them).
const OPERATIONS: &[(&str, Target, &[&str])] = &[
    // Account-wide.
    ("ListUsers", Target::Account, &[]),
    ("ListGroups", Target::Account, &[]),
    ("ListRoles", Target::Account, &[]),
    ("ListPolicies", Target::Account, &[]),
    ("ListVirtualMFADevices", Target::Account, &[]),
    ("GetAccountAuthorizationDetails", Target::Account, &[]),
    ("GetAccountSummary", Target::Account, &[]),
    ("ListAccountAliases", Target::Account, &[]),
    ("CreateAccountAlias", Target::Account, &["AccountAlias"]),
    ("DeleteAccountAlias", Target::Account, &["AccountAlias"]),
    ("GetAccountPasswordPolicy", Target::Account, &[]),
    ("UpdateAccountPasswordPolicy", Target::Account, &[]),
    ("DeleteAccountPasswordPolicy", Target::Account, &[]),
    // Users.
    ("CreateUser", Target::NewUser, &["UserName"]),
    ("GetUser", Target::UserOrCaller, &[]),
    ("UpdateUser", Target::User, &["UserName"]),
    ("DeleteUser", Target::User, &["UserName"]),
    ("TagUser", Target::User, &["UserName", "Tags"]),
    ("UntagUser", Target::User, &["UserName", "TagKeys"]),
    ("ListUserTags", Target::User, &["UserName"]),
    (
        "ChangePassword",
        Target::Caller,
        &["OldPassword", "NewPassword"],
    ),
    // Groups.
    ("CreateGroup", Target::NewGroup, &["GroupName"]),
    ("GetGroup", Target::Group, &["GroupName"]),
    ("UpdateGroup", Target::Group, &["GroupName"]),
    ("DeleteGroup", Target::Group, &["GroupName"]),
    ("AddUserToGroup", Target::Group, &["GroupName", "UserName"]),
    (
        "RemoveUserFromGroup",
        Target::Group,
        &["GroupName", "UserName"],
    ),
    ("ListGroupsForUser", Target::User, &["UserName"]),
    // Roles.
    (
        "CreateRole",
        Target::NewRole,
        &["RoleName", "AssumeRolePolicyDocument"],
    ),
    ("GetRole", Target::Role, &["RoleName"]),
    ("UpdateRole", Target::Role, &["RoleName"]),
    (
        "UpdateRoleDescription",
        Target::Role,
        &["RoleName", "Description"],
    ),
    (
        "UpdateAssumeRolePolicy",
        Target::Role,
        &["RoleName", "PolicyDocument"],
    ),
    ("DeleteRole", Target::Role, &["RoleName"]),
    ("TagRole", Target::Role, &["RoleName", "Tags"]),
    ("UntagRole", Target::Role, &["RoleName", "TagKeys"]),
    ("ListRoleTags", Target::Role, &["RoleName"]),
    (
        "CreateServiceLinkedRole",
        Target::NewServiceLinkedRole,
        &["AWSServiceName"],
    ),
    ("DeleteServiceLinkedRole", Target::Role, &["RoleName"]),
    // Managed policies.
    (
        "CreatePolicy",
        Target::NewPolicy,
        &["PolicyName", "PolicyDocument"],
    ),
    ("GetPolicy", Target::Policy, &["PolicyArn"]),
    ("DeletePolicy", Target::Policy, &["PolicyArn"]),
    (
        "GetPolicyVersion",
        Target::Policy,
        &["PolicyArn", "VersionId"],
    ),
    (
        "CreatePolicyVersion",
        Target::Policy,
        &["PolicyArn", "PolicyDocument"],
    ),
    (
        "DeletePolicyVersion",
        Target::Policy,
        &["PolicyArn", "VersionId"],
    ),
    ("ListPolicyVersions", Target::Policy, &["PolicyArn"]),
    (
        "SetDefaultPolicyVersion",
        Target::Policy,
        &["PolicyArn", "VersionId"],
    ),
    ("ListEntitiesForPolicy", Target::Policy, &["PolicyArn"]),
    ("TagPolicy", Target::Policy, &["PolicyArn", "Tags"]),
    ("UntagPolicy", Target::Policy, &["PolicyArn", "TagKeys"]),
    ("ListPolicyTags", Target::Policy, &["PolicyArn"]),
    // Attachments.
    ("AttachUserPolicy", Target::User, &["UserName", "PolicyArn"]),
    ("DetachUserPolicy", Target::User, &["UserName", "PolicyArn"]),
    (
        "AttachGroupPolicy",
        Target::Group,
        &["GroupName", "PolicyArn"],
    ),
    (
        "DetachGroupPolicy",
        Target::Group,
        &["GroupName", "PolicyArn"],
    ),
    ("AttachRolePolicy", Target::Role, &["RoleName", "PolicyArn"]),
    ("DetachRolePolicy", Target::Role, &["RoleName", "PolicyArn"]),
    ("ListAttachedUserPolicies", Target::User, &["UserName"]),
    ("ListAttachedGroupPolicies", Target::Group, &["GroupName"]),
    ("ListAttachedRolePolicies", Target::Role, &["RoleName"]),
    // Inline policies.
    (
        "PutUserPolicy",
        Target::User,
        &["UserName", "PolicyName", "PolicyDocument"],
    ),
    ("GetUserPolicy", Target::User, &["UserName", "PolicyName"]),
    (
        "DeleteUserPolicy",
        Target::User,
        &["UserName", "PolicyName"],
    ),
    ("ListUserPolicies", Target::User, &["UserName"]),
    (
        "PutGroupPolicy",
        Target::Group,
        &["GroupName", "PolicyName", "PolicyDocument"],
    ),
    (
        "GetGroupPolicy",
        Target::Group,
        &["GroupName", "PolicyName"],
    ),
    (
        "DeleteGroupPolicy",
        Target::Group,
        &["GroupName", "PolicyName"],
    ),
    ("ListGroupPolicies", Target::Group, &["GroupName"]),
    (
        "PutRolePolicy",
        Target::Role,
        &["RoleName", "PolicyName", "PolicyDocument"],
    ),
    ("GetRolePolicy", Target::Role, &["RoleName", "PolicyName"]),
    (
        "DeleteRolePolicy",
        Target::Role,
        &["RoleName", "PolicyName"],
    ),
    ("ListRolePolicies", Target::Role, &["RoleName"]),
    // Permissions boundaries.
    (
        "PutUserPermissionsBoundary",
        Target::User,
        &["UserName", "PermissionsBoundary"],
    ),
    ("DeleteUserPermissionsBoundary", Target::User, &["UserName"]),
    (
        "PutRolePermissionsBoundary",
        Target::Role,
        &["RoleName", "PermissionsBoundary"],
    ),
    ("DeleteRolePermissionsBoundary", Target::Role, &["RoleName"]),
    // Access keys.
    ("CreateAccessKey", Target::UserOrCaller, &[]),
    ("DeleteAccessKey", Target::UserOrCaller, &["AccessKeyId"]),
    ("ListAccessKeys", Target::UserOrCaller, &[]),
    (
        "UpdateAccessKey",
        Target::UserOrCaller,
        &["AccessKeyId", "Status"],
    ),
    ("GetAccessKeyLastUsed", Target::KeyOwner, &["AccessKeyId"]),
    // Login profiles: without `UserName`, the caller's own (the root user's, for root).
    ("CreateLoginProfile", Target::UserOrCaller, &[]),
    ("GetLoginProfile", Target::UserOrCaller, &[]),
    ("UpdateLoginProfile", Target::User, &["UserName"]),
    ("DeleteLoginProfile", Target::UserOrCaller, &[]),
    // MFA devices.
    (
        "CreateVirtualMFADevice",
        Target::NewMfaDevice,
        &["VirtualMFADeviceName"],
    ),
    (
        "EnableMFADevice",
        Target::User,
        &[
            "UserName",
            "SerialNumber",
            "AuthenticationCode1",
            "AuthenticationCode2",
        ],
    ),
    (
        "DeactivateMFADevice",
        Target::UserOrCaller,
        &["SerialNumber"],
    ),
    (
        "DeleteVirtualMFADevice",
        Target::MfaDevice,
        &["SerialNumber"],
    ),
    ("ListMFADevices", Target::UserOrCaller, &[]),
    (
        "ResyncMFADevice",
        Target::User,
        &[
            "UserName",
            "SerialNumber",
            "AuthenticationCode1",
            "AuthenticationCode2",
        ],
    ),
];

/// Actions whose context carries `iam:PermissionsBoundary` with the boundary the user or role
/// has now (the SAR lists the key for them; the create and put calls carry the boundary of
/// the request instead).
const CURRENT_BOUNDARY: &[&str] = &[
    "AttachUserPolicy",
    "DetachUserPolicy",
    "PutUserPolicy",
    "DeleteUserPolicy",
    "DeleteUserPermissionsBoundary",
    "AttachRolePolicy",
    "DetachRolePolicy",
    "PutRolePolicy",
    "DeleteRolePolicy",
    "DeleteRolePermissionsBoundary",
    "DeleteRole",
    "GetRole",
    "UpdateRole",
    "UpdateRoleDescription",
    "UpdateAssumeRolePolicy",
];

/// Actions whose context carries `iam:PermissionsBoundary` from the call's own
/// `PermissionsBoundary` parameter.
const REQUESTED_BOUNDARY: &[&str] = &[
    "CreateUser",
    "CreateRole",
    "PutUserPermissionsBoundary",
    "PutRolePermissionsBoundary",
];

/// Actions whose context carries the tags of the request (`aws:TagKeys`,
/// `aws:RequestTag/KEY`).
const REQUEST_TAGS: &[&str] = &[
    "CreateUser",
    "CreateRole",
    "CreatePolicy",
    "CreateVirtualMFADevice",
    "TagUser",
    "TagRole",
    "TagPolicy",
];

/// Real names of the service-linked roles lockouts and recoveries meet; AWS chooses the
/// name, the caller only the service.
const SERVICE_LINKED_ROLES: &[(&str, &str)] = &[
    (
        "organizations.amazonaws.com",
        "AWSServiceRoleForOrganizations",
    ),
    ("sso.amazonaws.com", "AWSServiceRoleForSSO"),
    (
        "access-analyzer.amazonaws.com",
        "AWSServiceRoleForAccessAnalyzer",
    ),
    ("config.amazonaws.com", "AWSServiceRoleForConfig"),
    ("cloudtrail.amazonaws.com", "AWSServiceRoleForCloudTrail"),
    (
        "guardduty.amazonaws.com",
        "AWSServiceRoleForAmazonGuardDuty",
    ),
    ("securityhub.amazonaws.com", "AWSServiceRoleForSecurityHub"),
    ("support.amazonaws.com", "AWSServiceRoleForSupport"),
    (
        "trustedadvisor.amazonaws.com",
        "AWSServiceRoleForTrustedAdvisor",
    ),
    ("autoscaling.amazonaws.com", "AWSServiceRoleForAutoScaling"),
    ("ecs.amazonaws.com", "AWSServiceRoleForECS"),
    (
        "elasticloadbalancing.amazonaws.com",
        "AWSServiceRoleForElasticLoadBalancing",
    ),
];

/// A user or role a call acts on, with what the world knows of it.
struct Entity<'w> {
    arn: String,
    tags: Option<&'w BTreeMap<String, String>>,
    boundary: Option<&'w str>,
}

impl Entity<'_> {
    fn new(arn: String) -> Entity<'static> {
        Entity {
            arn,
            tags: None,
            boundary: None,
        }
    }
}

pub(super) fn authorize(call: &Call<'_>) -> Result<Authorization, MapError> {
    let name = call.name();
    let Some(&(_, target, required)) = OPERATIONS.iter().find(|(known, _, _)| *known == name)
    else {
        return Err(call.unmapped());
    };
    call.require_all(required)?;

    let access = if name.starts_with("Get") || name.starts_with("List") {
        Access::Read
    } else {
        Access::Write
    };
    let mut authorization = call.authorization(access);

    // The resource, and what the world knows of it.
    let entity = resolve(call, target)?;
    authorization = authorization.on(entity.arn.clone());
    if matches!(name, "UpdateUser" | "UpdateGroup")
        && let Some(renamed) = renamed(call, &entity.arn)
    {
        authorization = authorization.on(renamed);
    }

    // The keys the call carries.
    if name.starts_with("Attach") || name.starts_with("Detach") {
        let policy = call.param("PolicyArn").unwrap_or_default();
        authorization = authorization.with_one("iam:PolicyARN", policy);
    }
    if REQUESTED_BOUNDARY.contains(&name)
        && let Some(boundary) = call.param("PermissionsBoundary")
    {
        authorization = authorization.with_one("iam:PermissionsBoundary", boundary);
    }
    if CURRENT_BOUNDARY.contains(&name)
        && let Some(boundary) = entity.boundary
    {
        authorization = authorization.with_one("iam:PermissionsBoundary", boundary);
    }
    if REQUEST_TAGS.contains(&name) {
        authorization = authorization.with_request_tags(&call.tags("Tags"));
    }
    if matches!(name, "UntagUser" | "UntagRole" | "UntagPolicy") {
        authorization = authorization.with_tag_keys(&call.operation.list_param("TagKeys"));
    }
    if name == "CreateServiceLinkedRole" {
        let service = call.param("AWSServiceName").unwrap_or_default();
        authorization = authorization.with_one("iam:AWSServiceName", service);
    }

    // The keys of the resource: users and roles carry their tags.
    if let Some(tags) = entity.tags {
        for (key, value) in tags {
            authorization = authorization
                .with_one(format!("aws:ResourceTag/{key}"), value.clone())
                .with_one(format!("iam:ResourceTag/{key}"), value.clone());
        }
    }
    Ok(authorization)
}

/// The ARN of the resource a call acts on.
fn resolve<'w>(call: &Call<'w>, target: Target) -> Result<Entity<'w>, MapError> {
    let account = call.account;
    let param = |name| call.param(name).unwrap_or_default();
    let path = || call.param("Path").unwrap_or("/");
    Ok(match target {
        Target::Account => Entity::new("*".to_owned()),
        Target::User => user(call, param("UserName")),
        Target::UserOrCaller => match call.param("UserName") {
            Some(name) => user(call, name),
            None => caller_user(call)?,
        },
        Target::Caller => caller_user(call)?,
        Target::Group => {
            let name = param("GroupName");
            let group_path = call
                .world
                .accounts
                .get(account)
                .and_then(|found| found.groups.get(name))
                .map_or("/", |group| group.path.as_str());
            Entity::new(format!("arn:aws:iam::{account}:group{group_path}{name}"))
        }
        Target::Role => role(call, param("RoleName")),
        Target::Policy => Entity::new(param("PolicyArn").to_owned()),
        Target::MfaDevice => {
            // Virtual devices are named by their ARN; anything else has no ARN to check.
            let serial = param("SerialNumber");
            let arn = if serial.starts_with("arn:") {
                serial
            } else {
                "*"
            };
            Entity::new(arn.to_owned())
        }
        Target::KeyOwner => {
            let key = param("AccessKeyId");
            let Some(owner) = call.caller.key_owners.owner_of(key) else {
                return Err(call.error(
                    MapErrorKind::Refused,
                    format!(
                        "lockdrill's gateway does not know access key `{key}`, \
                         so it cannot tell whose it is"
                    ),
                ));
            };
            match owner_user(&owner) {
                Some((owner_account, name)) if owner_account == account => user(call, name),
                _ => Entity::new(owner),
            }
        }
        Target::NewUser => Entity::new(format!(
            "arn:aws:iam::{account}:user{}{}",
            path(),
            param("UserName")
        )),
        Target::NewGroup => Entity::new(format!(
            "arn:aws:iam::{account}:group{}{}",
            path(),
            param("GroupName")
        )),
        Target::NewRole => Entity::new(format!(
            "arn:aws:iam::{account}:role{}{}",
            path(),
            param("RoleName")
        )),
        Target::NewPolicy => Entity::new(format!(
            "arn:aws:iam::{account}:policy{}{}",
            path(),
            param("PolicyName")
        )),
        Target::NewMfaDevice => Entity::new(format!(
            "arn:aws:iam::{account}:mfa{}{}",
            path(),
            param("VirtualMFADeviceName")
        )),
        Target::NewServiceLinkedRole => {
            let service = param("AWSServiceName");
            let mut name = service_linked_role_name(service);
            if let Some(suffix) = call.param("CustomSuffix") {
                name = format!("{name}_{suffix}");
            }
            Entity::new(format!(
                "arn:aws:iam::{account}:role/aws-service-role/{service}/{name}"
            ))
        }
    })
}

/// A user of the caller's account, by name: `/` for its path if it does not exist.
fn user<'w>(call: &Call<'w>, name: &str) -> Entity<'w> {
    let account = call.account;
    match call
        .world
        .accounts
        .get(account)
        .and_then(|found| found.users.get(name))
    {
        Some(user) => Entity {
            arn: user.arn.clone(),
            tags: Some(&user.tags),
            boundary: user.permissions_boundary.as_deref(),
        },
        None => Entity::new(format!("arn:aws:iam::{account}:user/{name}")),
    }
}

fn role<'w>(call: &Call<'w>, name: &str) -> Entity<'w> {
    let account = call.account;
    match call
        .world
        .accounts
        .get(account)
        .and_then(|found| found.roles.get(name))
    {
        Some(role) => Entity {
            arn: role.arn.clone(),
            tags: Some(&role.tags),
            boundary: role.permissions_boundary.as_deref(),
        },
        None => Entity::new(format!("arn:aws:iam::{account}:role/{name}")),
    }
}

/// The caller's own user, for calls that default to it; the root user acts on itself. AWS
/// answers other callers with a validation error.
fn caller_user<'w>(call: &Call<'w>) -> Result<Entity<'w>, MapError> {
    let arn = call.caller.arn;
    if arn == format!("arn:aws:iam::{}:root", call.account) {
        return Ok(Entity::new(arn.to_owned()));
    }
    match owner_user(arn) {
        Some((_, name)) => {
            let found = user(call, name);
            // The caller's own ARN is authoritative, even if the world has not caught up.
            Ok(Entity {
                arn: arn.to_owned(),
                ..found
            })
        }
        None => Err(call.error(
            MapErrorKind::Invalid,
            "Must specify userName when calling with non-User credentials",
        )),
    }
}

/// The account and name of an IAM user ARN, `arn:aws:iam::ACCOUNT:user/path/NAME`.
fn owner_user(arn: &str) -> Option<(&str, &str)> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let path_and_name = resource.strip_prefix("user/")?;
    Some((account, path_and_name.rsplit('/').next()?))
}

/// The second ARN of a rename (`UpdateUser`, `UpdateGroup`): AWS checks the old and the new
/// name ("the requester must have appropriate permissions on both the source object and the
/// target object", API_UpdateUser.html).
fn renamed(call: &Call<'_>, current: &str) -> Option<String> {
    let new_name = call
        .param("NewUserName")
        .or_else(|| call.param("NewGroupName"));
    let new_path = call.param("NewPath");
    if new_name.is_none() && new_path.is_none() {
        return None;
    }
    // `arn:aws:iam::ACCOUNT:` ends at the fifth colon; paths may hold colons themselves.
    let split = current.match_indices(':').nth(4)?.0;
    let (prefix, resource) = (&current[..split], &current[split + 1..]);
    let (kind, path_and_name) = resource.split_once('/')?;
    let (old_path, old_name) = match path_and_name.rsplit_once('/') {
        Some((path, name)) => (format!("/{path}/"), name),
        None => ("/".to_owned(), path_and_name),
    };
    let path = new_path.map_or(old_path, str::to_owned);
    let name = new_name.unwrap_or(old_name);
    Some(format!("{prefix}:{kind}{path}{name}"))
}

/// The role name AWS gives a service's linked role.
fn service_linked_role_name(service: &str) -> String {
    if let Some((_, name)) = SERVICE_LINKED_ROLES
        .iter()
        .find(|(known, _)| *known == service)
    {
        return (*name).to_owned();
    }
    // TODO(#3): AWS names each service's role itself; for services outside the table this
    // guesses `AWSServiceRoleFor` and the service's first label, capitalized.
    let label = service.split('.').next().unwrap_or(service);
    let capitalized: String = label
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect();
    format!("AWSServiceRoleFor{capitalized}")
}
