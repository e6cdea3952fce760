//! The mapping of each operation family, on a small world: the fixtures, and what holds
//! across services. Each service has its own file.

mod iam;
mod organizations;
mod sts;

use std::path::Path;

use super::*;
use crate::gateway::operation::{Operation, Params, Service};
use crate::policy::ContextValue;
use crate::world::World;

const WORLD: &str = r#"
organization:
  id: o-exampleorg1
  management_account: "111111111111"
  policies:
    DenyIam:
      type: scp
      id: p-denyiam01
      document:
        Version: "2012-10-17"
        Statement:
          - Effect: Deny
            Action: "iam:*"
            Resource: "*"
    DataPerimeter:
      type: rcp
      id: p-perimeter1
      document:
        Version: "2012-10-17"
        Statement:
          - Effect: Deny
            Principal: "*"
            Action: "s3:*"
            Resource: "*"
            Condition:
              Bool: { aws:SecureTransport: "false" }
  root:
    id: r-ex01
    accounts: ["111111111111"]
    ous:
      - name: Workloads
        id: ou-ex01-workload
        scps: [DenyIam]
        accounts: ["222222222222"]
accounts:
  "222222222222":
    policies:
      Boundary:
        path: /boundaries/
        document:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Action: "*"
              Resource: "*"
    users:
      alice:
        path: /ops/
        groups: [Admins]
        permissions_boundary: Boundary
        tags: { team: blue }
      bob: {}
    groups:
      Admins:
        path: /admins/
        managed_policies: [AdministratorAccess]
    roles:
      BreakGlass:
        path: /emergency/
        permissions_boundary: Boundary
        tags: { tier: critical }
        trust_policy:
          Version: "2012-10-17"
          Statement:
            - Effect: Allow
              Principal: { AWS: "arn:aws:iam::222222222222:root" }
              Action: sts:AssumeRole
  "333333333333":
    name: outsider
"#;

const ALICE: &str = "arn:aws:iam::222222222222:user/ops/alice";
const ROOT: &str = "arn:aws:iam::222222222222:root";
const SESSION: &str = "arn:aws:sts::222222222222:assumed-role/BreakGlass/me";
const MANAGEMENT_ROOT: &str = "arn:aws:iam::111111111111:root";
const OUTSIDER_ROOT: &str = "arn:aws:iam::333333333333:root";
const BOUNDARY: &str = "arn:aws:iam::222222222222:policy/boundaries/Boundary";
const ADMIN: &str = "arn:aws:iam::aws:policy/AdministratorAccess";

fn world() -> World {
    World::parse("t.yaml", WORLD, Path::new(".")).expect("the test world is valid")
}

fn query(service: Service, name: &str, params: &[(&str, &str)]) -> Operation {
    let mut fields = vec![
        ("Action".to_owned(), name.to_owned()),
        ("Version".to_owned(), "2010-05-08".to_owned()),
    ];
    fields.extend(
        params
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
    );
    Operation {
        service,
        name: name.to_owned(),
        params: Params::Query(fields),
    }
}

fn iam(name: &str, params: &[(&str, &str)]) -> Operation {
    query(Service::Iam, name, params)
}

fn sts(name: &str, params: &[(&str, &str)]) -> Operation {
    query(Service::Sts, name, params)
}

fn orgs(name: &str, body: serde_json::Value) -> Operation {
    Operation {
        service: Service::Organizations,
        name: name.to_owned(),
        params: Params::Json(body),
    }
}

fn map(operation: &Operation, caller: &str) -> Result<Authorization, MapError> {
    authorize(operation, &Caller::new(caller), &world())
}

fn allowed(operation: &Operation, caller: &str) -> Authorization {
    map(operation, caller).unwrap_or_else(|error| panic!("{}: {error}", operation.name))
}

fn failed(operation: &Operation, caller: &str) -> MapError {
    match map(operation, caller) {
        Ok(authorization) => panic!("{} mapped to {authorization:?}", operation.name),
        Err(error) => error,
    }
}

fn context<'a>(authorization: &'a Authorization, key: &str) -> Option<&'a ContextValue> {
    authorization
        .context
        .iter()
        .find(|(candidate, _)| candidate == key)
        .map(|(_, value)| value)
}

fn one(value: &str) -> Option<ContextValue> {
    Some(ContextValue::One(value.to_owned()))
}

fn many(values: &[&str]) -> Option<ContextValue> {
    Some(ContextValue::Many(
        values.iter().map(|value| (*value).to_owned()).collect(),
    ))
}

/// The resources and access of an authorization, for comparing both at once.
fn summary(authorization: &Authorization) -> (Vec<&str>, Access) {
    let resources = authorization.resources.iter().map(String::as_str).collect();
    (resources, authorization.access)
}

fn keys(authorization: &Authorization) -> Vec<&str> {
    authorization
        .context
        .iter()
        .map(|(key, _)| key.as_str())
        .collect()
}

// --- What is not mapped ------------------------------------------------------------------------

#[test]
fn unknown_operations_are_errors_never_allows() {
    let error = failed(&iam("CreateSAMLProvider", &[]), ALICE);
    assert_eq!(error.kind, MapErrorKind::Unmapped);
    assert_eq!(error.operation, "iam:CreateSAMLProvider");
    assert_eq!(
        error.message,
        "lockdrill's gateway does not map `iam:CreateSAMLProvider` yet"
    );
    assert_eq!(error.code(), "AccessDenied");

    let error = failed(&sts("AssumeRoot", &[]), ALICE);
    assert_eq!(
        error.message,
        "lockdrill's gateway does not map `sts:AssumeRoot` yet"
    );
    let error = failed(
        &orgs("InviteAccountToOrganization", serde_json::json!({})),
        MANAGEMENT_ROOT,
    );
    assert_eq!(error.kind, MapErrorKind::Unmapped);
    assert_eq!(error.code(), "AccessDeniedException");

    let error = authorize(&iam("ListUsers", &[]), &Caller::new("not-an-arn"), &world())
        .expect_err("bad caller");
    assert!(error.message.contains("`not-an-arn`"));
}

/// Every operation the gateway promises to map is wired: with no parameters it is at worst
/// a validation error, never "not mapped".
#[test]
fn every_promised_operation_is_mapped() {
    let iam_names = [
        "CreateUser",
        "GetUser",
        "ListUsers",
        "UpdateUser",
        "DeleteUser",
        "TagUser",
        "UntagUser",
        "ListUserTags",
        "CreateGroup",
        "GetGroup",
        "ListGroups",
        "DeleteGroup",
        "AddUserToGroup",
        "RemoveUserFromGroup",
        "ListGroupsForUser",
        "CreateRole",
        "GetRole",
        "ListRoles",
        "UpdateRole",
        "UpdateAssumeRolePolicy",
        "DeleteRole",
        "TagRole",
        "UntagRole",
        "CreateServiceLinkedRole",
        "CreatePolicy",
        "GetPolicy",
        "ListPolicies",
        "DeletePolicy",
        "GetPolicyVersion",
        "CreatePolicyVersion",
        "DeletePolicyVersion",
        "ListPolicyVersions",
        "SetDefaultPolicyVersion",
        "ListEntitiesForPolicy",
        "AttachUserPolicy",
        "AttachGroupPolicy",
        "AttachRolePolicy",
        "DetachUserPolicy",
        "DetachGroupPolicy",
        "DetachRolePolicy",
        "ListAttachedUserPolicies",
        "ListAttachedGroupPolicies",
        "ListAttachedRolePolicies",
        "PutUserPolicy",
        "PutGroupPolicy",
        "PutRolePolicy",
        "GetUserPolicy",
        "GetGroupPolicy",
        "GetRolePolicy",
        "DeleteUserPolicy",
        "DeleteGroupPolicy",
        "DeleteRolePolicy",
        "ListUserPolicies",
        "ListGroupPolicies",
        "ListRolePolicies",
        "PutUserPermissionsBoundary",
        "DeleteUserPermissionsBoundary",
        "PutRolePermissionsBoundary",
        "DeleteRolePermissionsBoundary",
        "CreateAccessKey",
        "DeleteAccessKey",
        "ListAccessKeys",
        "UpdateAccessKey",
        "GetAccessKeyLastUsed",
        "CreateLoginProfile",
        "GetLoginProfile",
        "UpdateLoginProfile",
        "DeleteLoginProfile",
        "CreateVirtualMFADevice",
        "EnableMFADevice",
        "DeactivateMFADevice",
        "DeleteVirtualMFADevice",
        "ListMFADevices",
        "ListVirtualMFADevices",
        "ResyncMFADevice",
        "GetAccountAuthorizationDetails",
        "GetAccountSummary",
        "ListAccountAliases",
        "CreateAccountAlias",
        "DeleteAccountAlias",
        "GetAccountPasswordPolicy",
    ];
    let sts_names = [
        "AssumeRole",
        "GetCallerIdentity",
        "GetSessionToken",
        "DecodeAuthorizationMessage",
        "GetAccessKeyInfo",
    ];
    let orgs_names = [
        "DescribeOrganization",
        "ListRoots",
        "ListAccounts",
        "ListAccountsForParent",
        "ListOrganizationalUnitsForParent",
        "ListChildren",
        "ListParents",
        "DescribeAccount",
        "DescribeOrganizationalUnit",
        "CreateAccount",
        "CreateOrganizationalUnit",
        "UpdateOrganizationalUnit",
        "DeleteOrganizationalUnit",
        "MoveAccount",
        "ListPolicies",
        "ListPoliciesForTarget",
        "ListTargetsForPolicy",
        "DescribePolicy",
        "CreatePolicy",
        "UpdatePolicy",
        "DeletePolicy",
        "AttachPolicy",
        "DetachPolicy",
        "EnablePolicyType",
        "DisablePolicyType",
        "TagResource",
        "UntagResource",
        "ListTagsForResource",
        "CreateOrganization",
        "DeleteOrganization",
        "LeaveOrganization",
        "DescribeCreateAccountStatus",
    ];
    let operations = iam_names
        .iter()
        .map(|name| iam(name, &[]))
        .chain(sts_names.iter().map(|name| sts(name, &[])))
        .chain(
            orgs_names
                .iter()
                .map(|name| orgs(name, serde_json::json!({}))),
        );
    for operation in operations {
        if let Err(error) = map(&operation, ALICE) {
            assert_ne!(error.kind, MapErrorKind::Unmapped, "{}", error.operation);
        }
    }
}

#[test]
fn member_names_follow_aws() {
    assert_eq!(member_name("UserName"), "userName");
    assert_eq!(member_name("AWSServiceName"), "aWSServiceName");
    assert_eq!(member_name(""), "");
}
