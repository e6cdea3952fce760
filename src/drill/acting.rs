//! Lockouts and recoveries done as real API calls, signed as a principal of the world and sent
//! through the enforcing gateway: assuming a role, detaching a policy from everyone, deleting
//! a user or a role, attaching an SCP, creating the root user's new MFA device.
//!
//! Each operation is the sequence of calls a person would make with the `aws` CLI, so a
//! principal without the rights is stopped by the same AccessDenied, and the gateway's journal
//! holds every call for the evidence. An error names the call that failed and AWS's answer.

use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};

use crate::sdk::{Clients, Keys};

/// A principal of the world with the keys it signs with.
pub struct Signer {
    pub principal: String,
    pub keys: Keys,
    /// The gateway's URL.
    pub endpoint: String,
}

impl Signer {
    fn clients(&self) -> Clients {
        Clients::new(&self.endpoint, &self.keys, None)
    }

    /// The account the principal belongs to.
    fn account(&self) -> &str {
        self.principal.split(':').nth(4).unwrap_or_default()
    }
}

/// AWS's answer to a failed call: `Code: message`, as the `aws` CLI shows it.
fn answer<E, R>(call: &str, error: SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.as_service_error() {
        Some(service) => format!(
            "{call} failed: {} ({})",
            service.message().unwrap_or("no message"),
            service.code().unwrap_or("no error code")
        ),
        None => format!(
            "{call} failed: {}",
            aws_sdk_iam::error::DisplayErrorContext(error)
        ),
    }
}

/// The credentials a role session was issued.
pub struct Assumed {
    pub session_arn: String,
    pub keys: Keys,
}

/// Calls AssumeRole as `signer`, with an MFA code from the signer's own device when `mfa`.
pub async fn assume_role(
    signer: &Signer,
    role_arn: &str,
    session_name: &str,
    mfa: bool,
) -> Result<Assumed, String> {
    let mut call = signer
        .clients()
        .sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session_name);
    if mfa {
        let Some(user) = signer.principal.split(":user/").nth(1) else {
            return Err(format!(
                "only a user has an MFA device to assume a role with; `{}` is not a user",
                signer.principal
            ));
        };
        let user = user.rsplit('/').next().unwrap_or(user);
        // The device's code is not checked: neither Moto nor the gateway knows its seed.
        call = call
            .serial_number(format!("arn:aws:iam::{}:mfa/{user}", signer.account()))
            .token_code("123456");
    }

    let assumed = call
        .send()
        .await
        .map_err(|error| answer("sts:AssumeRole", error))?;
    let credentials = assumed
        .credentials()
        .ok_or("sts:AssumeRole answered without credentials")?;
    let session_arn = assumed
        .assumed_role_user()
        .map(|user| user.arn().to_owned())
        .unwrap_or_else(|| session_arn_for(role_arn, session_name));
    Ok(Assumed {
        session_arn,
        keys: Keys {
            access_key_id: credentials.access_key_id().to_owned(),
            secret_access_key: credentials.secret_access_key().to_owned(),
            session_token: Some(credentials.session_token().to_owned()),
        },
    })
}

/// `arn:aws:sts::ACCOUNT:assumed-role/ROLE/SESSION` for a role ARN.
pub fn session_arn_for(role_arn: &str, session_name: &str) -> String {
    let account = role_arn.split(':').nth(4).unwrap_or_default();
    let role = role_arn.rsplit('/').next().unwrap_or_default();
    format!("arn:aws:sts::{account}:assumed-role/{role}/{session_name}")
}

/// What a detach removed: the entities, as `user/NAME`, `group/NAME`, `role/NAME`.
pub type Detached = Vec<String>;

/// Detaches a managed policy from every user, group and role it is attached to, the signer's
/// own user last (as someone removing their own access would have to).
pub async fn detach_everywhere(signer: &Signer, policy_arn: &str) -> Result<Detached, String> {
    let iam = signer.clients().iam;
    let entities = iam
        .list_entities_for_policy()
        .policy_arn(policy_arn)
        .send()
        .await
        .map_err(|error| answer("iam:ListEntitiesForPolicy", error))?;

    let own_user = signer
        .principal
        .split(":user/")
        .nth(1)
        .map(|name| name.rsplit('/').next().unwrap_or(name).to_owned());
    let mut users: Vec<String> = entities
        .policy_users()
        .iter()
        .filter_map(|user| user.user_name().map(str::to_owned))
        .collect();
    users.sort_by_key(|name| Some(name) == own_user.as_ref());

    let mut detached = Vec::new();
    for group in entities.policy_groups() {
        let Some(name) = group.group_name() else {
            continue;
        };
        iam.detach_group_policy()
            .group_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(|error| answer(&format!("iam:DetachGroupPolicy on group {name}"), error))?;
        detached.push(format!("group/{name}"));
    }
    for role in entities.policy_roles() {
        let Some(name) = role.role_name() else {
            continue;
        };
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(|error| answer(&format!("iam:DetachRolePolicy on role {name}"), error))?;
        detached.push(format!("role/{name}"));
    }
    for name in users {
        iam.detach_user_policy()
            .user_name(&name)
            .policy_arn(policy_arn)
            .send()
            .await
            .map_err(|error| answer(&format!("iam:DetachUserPolicy on user {name}"), error))?;
        detached.push(format!("user/{name}"));
    }
    Ok(detached)
}

/// Deletes a user the way the console does: its policies, group memberships, access keys,
/// password and MFA devices first, since IAM refuses to delete a user that still has any.
pub async fn delete_user(signer: &Signer, name: &str) -> Result<(), String> {
    let iam = signer.clients().iam;

    let attached = iam
        .list_attached_user_policies()
        .user_name(name)
        .send()
        .await
        .map_err(|error| answer("iam:ListAttachedUserPolicies", error))?;
    for policy in attached.attached_policies() {
        let Some(arn) = policy.policy_arn() else {
            continue;
        };
        iam.detach_user_policy()
            .user_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|error| answer("iam:DetachUserPolicy", error))?;
    }

    let inline = iam
        .list_user_policies()
        .user_name(name)
        .send()
        .await
        .map_err(|error| answer("iam:ListUserPolicies", error))?;
    for policy in inline.policy_names() {
        iam.delete_user_policy()
            .user_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(|error| answer("iam:DeleteUserPolicy", error))?;
    }

    let groups = iam
        .list_groups_for_user()
        .user_name(name)
        .send()
        .await
        .map_err(|error| answer("iam:ListGroupsForUser", error))?;
    for group in groups.groups() {
        iam.remove_user_from_group()
            .group_name(group.group_name())
            .user_name(name)
            .send()
            .await
            .map_err(|error| answer("iam:RemoveUserFromGroup", error))?;
    }

    let keys = iam
        .list_access_keys()
        .user_name(name)
        .send()
        .await
        .map_err(|error| answer("iam:ListAccessKeys", error))?;
    for key in keys.access_key_metadata() {
        let Some(id) = key.access_key_id() else {
            continue;
        };
        iam.delete_access_key()
            .user_name(name)
            .access_key_id(id)
            .send()
            .await
            .map_err(|error| answer("iam:DeleteAccessKey", error))?;
    }

    // A user without a password has no login profile: NoSuchEntity is the normal answer.
    if let Err(error) = iam.delete_login_profile().user_name(name).send().await
        && error.as_service_error().and_then(|e| e.code()) != Some("NoSuchEntity")
    {
        return Err(answer("iam:DeleteLoginProfile", error));
    }

    let devices = iam
        .list_mfa_devices()
        .user_name(name)
        .send()
        .await
        .map_err(|error| answer("iam:ListMFADevices", error))?;
    for device in devices.mfa_devices() {
        iam.deactivate_mfa_device()
            .user_name(name)
            .serial_number(device.serial_number())
            .send()
            .await
            .map_err(|error| answer("iam:DeactivateMFADevice", error))?;
    }

    iam.delete_user()
        .user_name(name)
        .send()
        .await
        .map_err(|error| answer("iam:DeleteUser", error))?;
    Ok(())
}

/// Deletes a role: its managed and inline policies first, as IAM requires.
pub async fn delete_role(signer: &Signer, name: &str) -> Result<(), String> {
    let iam = signer.clients().iam;

    let attached = iam
        .list_attached_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|error| answer("iam:ListAttachedRolePolicies", error))?;
    for policy in attached.attached_policies() {
        let Some(arn) = policy.policy_arn() else {
            continue;
        };
        iam.detach_role_policy()
            .role_name(name)
            .policy_arn(arn)
            .send()
            .await
            .map_err(|error| answer("iam:DetachRolePolicy", error))?;
    }

    let inline = iam
        .list_role_policies()
        .role_name(name)
        .send()
        .await
        .map_err(|error| answer("iam:ListRolePolicies", error))?;
    for policy in inline.policy_names() {
        iam.delete_role_policy()
            .role_name(name)
            .policy_name(policy)
            .send()
            .await
            .map_err(|error| answer("iam:DeleteRolePolicy", error))?;
    }

    iam.delete_role()
        .role_name(name)
        .send()
        .await
        .map_err(|error| answer("iam:DeleteRole", error))?;
    Ok(())
}

/// Creates an SCP and attaches it to a target (the root, an OU or an account id); returns
/// the new policy's id.
pub async fn attach_scp(
    signer: &Signer,
    name: &str,
    document: &str,
    target_id: &str,
) -> Result<String, String> {
    let organizations = signer.clients().organizations;
    let created = organizations
        .create_policy()
        .name(name)
        .description(format!("attached by a lockdrill drill: {name}"))
        .content(document)
        .r#type(aws_sdk_organizations::types::PolicyType::ServiceControlPolicy)
        .send()
        .await
        .map_err(|error| answer("organizations:CreatePolicy", error))?;
    let policy_id = created
        .policy()
        .and_then(|policy| policy.policy_summary())
        .and_then(|summary| summary.id())
        .ok_or("organizations:CreatePolicy answered without a policy id")?
        .to_owned();

    organizations
        .attach_policy()
        .policy_id(&policy_id)
        .target_id(target_id)
        .send()
        .await
        .map_err(|error| answer("organizations:AttachPolicy", error))?;
    Ok(policy_id)
}

/// Creates a virtual MFA device for the signer (the root user's new device).
pub async fn create_virtual_mfa_device(signer: &Signer, name: &str) -> Result<String, String> {
    let created = signer
        .clients()
        .iam
        .create_virtual_mfa_device()
        .virtual_mfa_device_name(name)
        .send()
        .await
        .map_err(|error| answer("iam:CreateVirtualMFADevice", error))?;
    Ok(created
        .virtual_mfa_device()
        .map(|device| device.serial_number().to_owned())
        .unwrap_or_default())
}
