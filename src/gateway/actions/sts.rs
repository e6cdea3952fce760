//! STS calls, after the STS page of the Service Authorization Reference
//! (list_awssecuritytokenservice.html).
//!
//! None of them changes IAM or Organizations state, so all are [`Access::Read`] here,
//! whatever access level the SAR gives them.

use super::{Access, Authorization, Call, MapError, MapErrorKind, request_tags};
use crate::policy::ContextValue;

pub(super) fn authorize(call: &Call<'_>) -> Result<Authorization, MapError> {
    let authorization = call.authorization(Access::Read);
    match call.name() {
        "AssumeRole" => assume_role(call),
        // "No permissions are required to perform this operation. If an administrator
        // attaches a policy to your identity that explicitly denies access to the
        // sts:GetCallerIdentity action, you can still perform this operation"
        // (API_GetCallerIdentity.html).
        "GetCallerIdentity" => Ok(Authorization {
            needs_no_permission: true,
            ..authorization.on("*")
        }),
        // "No permissions are required for a user to get a session token. ... You cannot use
        // policies to control authentication operations"
        // (id_credentials_temp_control-access_getsessiontoken.html). It takes long-term
        // credentials only: a root user or an IAM user.
        "GetSessionToken" => {
            if is_session(call.caller.arn) {
                return Err(call.error(
                    MapErrorKind::Refused,
                    "Cannot call GetSessionToken with session credentials",
                ));
            }
            Ok(Authorization {
                needs_no_permission: true,
                ..authorization.on("*")
            })
        }
        "GetFederationToken" => {
            let name = call.required("Name")?;
            if is_session(call.caller.arn) {
                return Err(call.error(
                    MapErrorKind::Refused,
                    "Cannot call GetFederationToken with session credentials",
                ));
            }
            Ok(authorization
                .on(format!(
                    "arn:aws:sts::{}:federated-user/{name}",
                    call.account
                ))
                .with_request_tags(&call.tags("Tags")))
        }
        "DecodeAuthorizationMessage" => {
            call.require_all(&["EncodedMessage"])?;
            Ok(authorization.on("*"))
        }
        "GetAccessKeyInfo" => {
            call.require_all(&["AccessKeyId"])?;
            Ok(authorization.on("*"))
        }
        "AssumeRoleWithWebIdentity" | "AssumeRoleWithSAML" => Err(call.error(
            MapErrorKind::Unmapped,
            format!(
                "lockdrill's gateway does not support `{}`: \
                 it takes only calls signed with credentials it knows",
                call.operation.action()
            ),
        )),
        _ => Err(call.unmapped()),
    }
}

/// `sts:AssumeRole` on the role, decided with the role's trust policy. Session tags and a
/// source identity need their own permissions on the role as well: `sts:TagSession`
/// (id_session-tags.html) and `sts:SetSourceIdentity`
/// (id_credentials_temp_control-access_monitor.html).
fn assume_role(call: &Call<'_>) -> Result<Authorization, MapError> {
    call.require_all(&["RoleArn", "RoleSessionName"])?;
    let role_arn = call.required("RoleArn")?;
    if !role_arn.starts_with("arn:") {
        return Err(call.error(
            MapErrorKind::Invalid,
            format!("roleArn `{role_arn}` is not an ARN"),
        ));
    }
    let session_name = call.required("RoleSessionName")?;

    // What the call carries: session tags, a source identity, the session name, an external id.
    let mut tagging = request_tags(&call.tags("Tags"));
    let transitive = call.operation.list_param("TransitiveTagKeys");
    if !transitive.is_empty() {
        let keys = transitive.iter().map(|key| (*key).to_owned()).collect();
        tagging.push(("sts:TransitiveTagKeys".to_owned(), ContextValue::Many(keys)));
    }
    let source_identity: Vec<(String, ContextValue)> = call
        .param("SourceIdentity")
        .map(|identity| one("sts:SourceIdentity", identity))
        .into_iter()
        .collect();
    let mut request = vec![one("sts:RoleSessionName", session_name)];
    request.extend(call.param("ExternalId").map(|id| one("sts:ExternalId", id)));
    request.extend(tagging.iter().cloned());
    request.extend(source_identity.iter().cloned());

    // What the role carries: its tags, from the world.
    let mut resource = Vec::new();
    if let Some(role) = role_by_arn(call, role_arn) {
        for (key, value) in &role.tags {
            resource.push(one(&format!("aws:ResourceTag/{key}"), value));
            resource.push(one(&format!("iam:ResourceTag/{key}"), value));
        }
    }

    let on_role = |action: &str, context: &[(String, ContextValue)]| Authorization {
        action: action.to_owned(),
        resources: vec![role_arn.to_owned()],
        context: context.iter().chain(&resource).cloned().collect(),
        access: Access::Read,
        needs_no_permission: false,
        also: Vec::new(),
    };
    let mut assume = on_role("sts:AssumeRole", &request);
    if !tagging.is_empty() {
        assume.also.push(on_role("sts:TagSession", &tagging));
    }
    if !source_identity.is_empty() {
        assume
            .also
            .push(on_role("sts:SetSourceIdentity", &source_identity));
    }
    Ok(assume)
}

fn one(key: &str, value: &str) -> (String, ContextValue) {
    (key.to_owned(), ContextValue::One(value.to_owned()))
}

/// A role of the world, by ARN.
fn role_by_arn<'w>(call: &Call<'w>, arn: &str) -> Option<&'w crate::world::Role> {
    let rest = arn.strip_prefix("arn:aws:iam::")?;
    let (account, resource) = rest.split_once(':')?;
    let name = resource.strip_prefix("role/")?.rsplit('/').next()?;
    call.world
        .accounts
        .get(account)?
        .roles
        .get(name)
        .filter(|role| role.arn == arn)
}

/// Whether a principal ARN is a session (temporary credentials).
fn is_session(arn: &str) -> bool {
    arn.starts_with("arn:aws:sts::")
}
