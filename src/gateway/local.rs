//! The calls the gateway answers itself, and the documents it checks before the emulator
//! sees them.
//!
//! Moto cannot answer some calls the way AWS does: `sts:GetCallerIdentity` knows nothing of the
//! gateway's credentials (root credentials and role sessions among them), and
//! `iam:PutUserPermissionsBoundary` is not implemented. Moto also stores policy documents that
//! AWS would refuse, such as an SCP that is not JSON; the gateway refuses them first, with
//! lockdrill's located diagnostic as the message.

use bytes::Bytes;

use super::credentials::{Credential, Holder};
use super::operation::{Operation, Service};
use super::server::Shared;
use crate::policy::{Policy, PolicyKind, parse_policy};
use crate::world::World;

/// A policy document AWS would refuse.
pub struct Problem {
    pub code: &'static str,
    pub message: String,
}

/// Checks the policy documents a write carries, as AWS does before storing them.
pub fn malformed_document(operation: &Operation) -> Option<Problem> {
    let (parameter, kind) = match (operation.service, operation.name.as_str()) {
        (
            Service::Iam,
            "CreatePolicy"
            | "CreatePolicyVersion"
            | "PutUserPolicy"
            | "PutGroupPolicy"
            | "PutRolePolicy",
        ) => ("PolicyDocument", PolicyKind::Identity),
        (Service::Iam, "CreateRole") => ("AssumeRolePolicyDocument", PolicyKind::Trust),
        (Service::Sts, "AssumeRole") => ("Policy", PolicyKind::Identity),
        (Service::Iam, "UpdateAssumeRolePolicy") => ("PolicyDocument", PolicyKind::Trust),
        (Service::Organizations, "CreatePolicy")
            if operation.param("Type") == Some("RESOURCE_CONTROL_POLICY") =>
        {
            ("Content", PolicyKind::Rcp)
        }
        (Service::Organizations, "CreatePolicy" | "UpdatePolicy") => ("Content", PolicyKind::Scp),
        _ => return None,
    };
    let document = operation.param(parameter)?;

    let problems = parse_policy(parameter, document, kind).err()?;
    let code = match operation.service {
        Service::Organizations => "MalformedPolicyDocumentException",
        _ => "MalformedPolicyDocument",
    };
    let details: Vec<String> = problems
        .0
        .iter()
        .map(|problem| format!("{}: {}", problem.at, problem.message))
        .collect();
    Some(Problem {
        code,
        message: format!("The policy document is not valid: {}", details.join("; ")),
    })
}

/// The session policies an AssumeRole call passes: its inline `Policy` and the managed
/// policies named in `PolicyArns.member.N.arn`, together, or `None` when it passes none.
/// Fails closed: a managed policy the gateway does not know adds no permission.
pub fn session_policy(operation: &Operation, world: &World) -> Option<Policy> {
    let inline = operation.param("Policy").map(|text| {
        // Malformed documents were refused before the call was forwarded.
        parse_policy("session policy", text, PolicyKind::Identity)
            .unwrap_or_else(|_| nothing_allowed())
    });
    let arns: Vec<&str> = match &operation.params {
        super::operation::Params::Query(fields) => fields
            .iter()
            .filter(|(key, _)| key.starts_with("PolicyArns.member.") && key.ends_with(".arn"))
            .map(|(_, value)| value.as_str())
            .collect(),
        super::operation::Params::Json(_) => Vec::new(),
    };
    if inline.is_none() && arns.is_empty() {
        return None;
    }

    let mut merged = nothing_allowed();
    let mut documents = Vec::new();
    if let Some(inline) = inline {
        merged.statements.extend(inline.statements);
        documents.push(inline.document);
    }
    for arn in arns {
        let managed = world.policies.get(arn).cloned().or_else(|| builtin(arn));
        if let Some(managed) = managed {
            merged.statements.extend(managed.policy.statements);
            documents.push(managed.policy.document);
        }
    }
    merged.document = format!("[{}]", documents.join(","));
    Some(merged)
}

/// A policy with no statement: it allows nothing.
fn nothing_allowed() -> Policy {
    Policy {
        version: crate::policy::Version::V2012,
        id: None,
        statements: Vec::new(),
        document: "{}".to_owned(),
    }
}

/// Answers the calls the gateway keeps; `None` sends the call on to the emulator.
pub async fn answer(
    shared: &Shared,
    operation: &Operation,
    credential: &Credential,
    world: &World,
    request_id: &str,
) -> Option<http::Response<Bytes>> {
    match (operation.service, operation.name.as_str()) {
        (Service::Sts, "GetCallerIdentity") => Some(caller_identity(credential, world, request_id)),
        (Service::Iam, "PutUserPermissionsBoundary" | "DeleteUserPermissionsBoundary") => {
            let _write = shared.write_lock().await;
            Some(user_boundary(shared, operation, credential, request_id))
        }
        _ => None,
    }
}

fn caller_identity(
    credential: &Credential,
    world: &World,
    request_id: &str,
) -> http::Response<Bytes> {
    let account = credential.holder.account();
    let user_id = match &credential.holder {
        Holder::Root { account } => account.clone(),
        Holder::User { name, .. } => world
            .accounts
            .get(account)
            .and_then(|found| found.users.get(name))
            .map_or_else(
                || credential.keys.access_key_id.clone(),
                |user| user.id.clone(),
            ),
        Holder::RoleSession {
            role_name,
            session_name,
            ..
        } => {
            let role_id = world
                .accounts
                .get(account)
                .and_then(|found| found.roles.get(role_name))
                .map_or("AROA", |role| role.id.as_str());
            format!("{role_id}:{session_name}")
        }
    };
    let body = format!(
        "<GetCallerIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n  \
         <GetCallerIdentityResult>\n    <Arn>{}</Arn>\n    <UserId>{}</UserId>\n    <Account>{account}</Account>\n  \
         </GetCallerIdentityResult>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  \
         </ResponseMetadata>\n</GetCallerIdentityResponse>\n",
        credential.holder.arn(),
        user_id
    );
    xml_response(body, request_id)
}

/// Sets or removes a user's permissions boundary in the gateway's own state.
fn user_boundary(
    shared: &Shared,
    operation: &Operation,
    credential: &Credential,
    request_id: &str,
) -> http::Response<Bytes> {
    let account = credential.holder.account();
    let user_name = operation.param("UserName").unwrap_or_default();
    let boundary = operation.param("PermissionsBoundary").map(str::to_owned);
    let mut world = (*shared.world()).clone();

    let known_policy = match &boundary {
        None => true,
        Some(arn) if world.policies.contains_key(arn) => true,
        Some(arn) => match builtin(arn) {
            Some(managed) => {
                world.policies.insert(arn.clone(), managed);
                true
            }
            None => false,
        },
    };
    let Some(user) = world
        .accounts
        .get_mut(account)
        .and_then(|found| found.users.get_mut(user_name))
    else {
        let message = format!("The user with name {user_name} cannot be found.");
        return super::protocol::error_response(
            Service::Iam,
            404,
            "NoSuchEntity",
            &message,
            request_id,
        );
    };
    if !known_policy {
        let message = format!(
            "Policy {} does not exist or is not attachable.",
            boundary.unwrap_or_default()
        );
        return super::protocol::error_response(
            Service::Iam,
            404,
            "NoSuchEntity",
            &message,
            request_id,
        );
    }
    user.permissions_boundary = boundary;
    shared.replace_world(world);

    let name = &operation.name;
    let body = format!(
        "<{name}Response xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <ResponseMetadata>\n    \
         <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</{name}Response>\n"
    );
    xml_response(body, request_id)
}

/// The built-in AWS-managed policy `arn` names, if it names one.
fn builtin(arn: &str) -> Option<crate::world::ManagedPolicy> {
    let name = arn.rsplit('/').next().unwrap_or(arn);
    let Some(Ok(found)) = crate::world::managed::built_in(name) else {
        return None;
    };
    let real_arn = format!(
        "{}{}{}",
        crate::world::managed::AWS_MANAGED_PREFIX,
        found.path,
        found.name
    );
    if real_arn != arn {
        return None;
    }
    Some(crate::world::ManagedPolicy {
        arn: real_arn,
        name: found.name,
        path: found.path,
        policy: found.policy,
    })
}

fn xml_response(body: String, request_id: &str) -> http::Response<Bytes> {
    let mut response = http::Response::new(Bytes::from(body));
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/xml"),
    );
    if let Ok(value) = http::HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    response
}
