//! Organizations calls, after the Organizations page of the Service Authorization Reference
//! (list_awsorganizations.html).
//!
//! Calls name roots, OUs, accounts and policies by id; the id's shape says which it is (12
//! digits for an account, `r-` a root, `ou-` an OU, `p-` a policy), and the world supplies
//! the organization id and management account that every ARN holds:
//! `arn:aws:organizations::MANAGEMENT:ou/o-ID/ou-ID`. A policy's ARN also holds its type,
//! which comes from the world, or from the call's `Type` or `Filter` for a policy the world
//! does not know.

use super::{Access, Authorization, Call, MapError, MapErrorKind};
use crate::world::{OrgPolicyType, Organization};

/// What an id names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Account,
    Root,
    Ou,
    Policy,
}

const PARENT: &[Kind] = &[Kind::Root, Kind::Ou];
const CHILD: &[Kind] = &[Kind::Account, Kind::Ou];
const TARGET: &[Kind] = &[Kind::Root, Kind::Ou, Kind::Account];
const TAGGABLE: &[Kind] = &[Kind::Account, Kind::Ou, Kind::Root, Kind::Policy];

/// Each operation and the parameters AWS requires (the SDK models mark them).
const OPERATIONS: &[(&str, &[&str])] = &[
    ("DescribeOrganization", &[]),
    ("ListRoots", &[]),
    ("ListAccounts", &[]),
    ("ListAccountsForParent", &["ParentId"]),
    ("ListOrganizationalUnitsForParent", &["ParentId"]),
    ("ListChildren", &["ParentId", "ChildType"]),
    ("ListParents", &["ChildId"]),
    ("DescribeAccount", &["AccountId"]),
    ("DescribeOrganizationalUnit", &["OrganizationalUnitId"]),
    ("CreateAccount", &["AccountName", "Email"]),
    ("DescribeCreateAccountStatus", &["CreateAccountRequestId"]),
    ("CreateOrganizationalUnit", &["ParentId", "Name"]),
    ("UpdateOrganizationalUnit", &["OrganizationalUnitId"]),
    ("DeleteOrganizationalUnit", &["OrganizationalUnitId"]),
    (
        "MoveAccount",
        &["AccountId", "SourceParentId", "DestinationParentId"],
    ),
    ("ListPolicies", &["Filter"]),
    ("ListPoliciesForTarget", &["TargetId", "Filter"]),
    ("ListTargetsForPolicy", &["PolicyId"]),
    ("DescribePolicy", &["PolicyId"]),
    ("CreatePolicy", &["Content", "Description", "Name", "Type"]),
    ("UpdatePolicy", &["PolicyId"]),
    ("DeletePolicy", &["PolicyId"]),
    ("AttachPolicy", &["PolicyId", "TargetId"]),
    ("DetachPolicy", &["PolicyId", "TargetId"]),
    ("EnablePolicyType", &["RootId", "PolicyType"]),
    ("DisablePolicyType", &["RootId", "PolicyType"]),
    ("TagResource", &["ResourceId", "Tags"]),
    ("UntagResource", &["ResourceId", "TagKeys"]),
    ("ListTagsForResource", &["ResourceId"]),
    ("CreateOrganization", &[]),
    ("DeleteOrganization", &[]),
    ("LeaveOrganization", &[]),
];

/// A root, OU, account or policy, as a resource.
struct Node {
    arn: String,
    /// A policy's type, as `organizations:PolicyType` spells it.
    policy_type: Option<String>,
}

pub(super) fn authorize(call: &Call<'_>) -> Result<Authorization, MapError> {
    let name = call.name();
    let Some(&(_, required)) = OPERATIONS.iter().find(|(known, _)| *known == name) else {
        return Err(call.unmapped());
    };
    call.require_all(required)?;
    let access = if name.starts_with("Describe") || name.starts_with("List") {
        Access::Read
    } else {
        Access::Write
    };
    let authorization = call.authorization(access);

    if name == "CreateOrganization" {
        return Ok(create_organization(call, authorization));
    }
    let organization = call
        .world
        .organization
        .as_ref()
        .filter(|organization| organization.contains(call.account))
        .ok_or_else(|| {
            call.error(
                MapErrorKind::NotInOrganization,
                "Your account is not a member of an organization.",
            )
        })?;
    let ids = Ids { call, organization };

    Ok(match name {
        "DescribeOrganization"
        | "ListRoots"
        | "ListAccounts"
        | "DescribeCreateAccountStatus"
        | "DeleteOrganization"
        | "LeaveOrganization" => authorization.on("*"),
        "CreateAccount" => authorization.on("*").with_request_tags(&call.tags("Tags")),
        "ListPolicies" => authorization
            .on("*")
            .with_one("organizations:PolicyType", call.required("Filter")?),
        "CreatePolicy" => authorization
            .on("*")
            .with_one("organizations:PolicyType", call.required("Type")?)
            .with_request_tags(&call.tags("Tags")),
        "ListAccountsForParent" | "ListOrganizationalUnitsForParent" | "ListChildren" => {
            authorization.on(ids.node("ParentId", PARENT)?.arn)
        }
        "CreateOrganizationalUnit" => authorization
            .on(ids.node("ParentId", PARENT)?.arn)
            .with_request_tags(&call.tags("Tags")),
        "ListParents" => authorization.on(ids.node("ChildId", CHILD)?.arn),
        "DescribeAccount" => authorization.on(ids.node("AccountId", &[Kind::Account])?.arn),
        "DescribeOrganizationalUnit" | "UpdateOrganizationalUnit" | "DeleteOrganizationalUnit" => {
            authorization.on(ids.node("OrganizationalUnitId", &[Kind::Ou])?.arn)
        }
        // The SAR requires the account, its OU or root, and the destination OU or root.
        "MoveAccount" => authorization
            .on(ids.node("AccountId", &[Kind::Account])?.arn)
            .on(ids.node("SourceParentId", PARENT)?.arn)
            .on(ids.node("DestinationParentId", PARENT)?.arn),
        "ListPoliciesForTarget" => authorization
            .on(ids.node("TargetId", TARGET)?.arn)
            .with_one("organizations:PolicyType", call.required("Filter")?),
        "ListTargetsForPolicy" | "DescribePolicy" | "UpdatePolicy" | "DeletePolicy" => {
            let policy = ids.node("PolicyId", &[Kind::Policy])?;
            with_policy_type(authorization.on(policy.arn), policy.policy_type)
        }
        "AttachPolicy" | "DetachPolicy" => {
            let policy = ids.node("PolicyId", &[Kind::Policy])?;
            let target = ids.node("TargetId", TARGET)?;
            with_policy_type(
                authorization.on(policy.arn).on(target.arn),
                policy.policy_type,
            )
        }
        "EnablePolicyType" | "DisablePolicyType" => authorization
            .on(ids.node("RootId", &[Kind::Root])?.arn)
            .with_one("organizations:PolicyType", call.required("PolicyType")?),
        "TagResource" => {
            let resource = ids.node("ResourceId", TAGGABLE)?;
            let authorization = authorization
                .on(resource.arn)
                .with_request_tags(&call.tags("Tags"));
            with_policy_type(authorization, resource.policy_type)
        }
        "UntagResource" => {
            let resource = ids.node("ResourceId", TAGGABLE)?;
            let authorization = authorization
                .on(resource.arn)
                .with_tag_keys(&call.operation.list_param("TagKeys"));
            with_policy_type(authorization, resource.policy_type)
        }
        "ListTagsForResource" => {
            let resource = ids.node("ResourceId", TAGGABLE)?;
            with_policy_type(authorization.on(resource.arn), resource.policy_type)
        }
        _ => return Err(call.unmapped()),
    })
}

/// `organizations:CreateOrganization` needs the right to create Organizations'
/// service-linked role too (a dependent action in the SAR).
fn create_organization(call: &Call<'_>, authorization: Authorization) -> Authorization {
    let service = "organizations.amazonaws.com";
    let role = format!(
        "arn:aws:iam::{}:role/aws-service-role/{service}/AWSServiceRoleForOrganizations",
        call.account
    );
    let mut authorization = authorization.on("*");
    authorization.also.push(
        Authorization {
            action: "iam:CreateServiceLinkedRole".to_owned(),
            resources: Vec::new(),
            context: Vec::new(),
            access: Access::Write,
            needs_no_permission: false,
            also: Vec::new(),
        }
        .on(role)
        .with_one("iam:AWSServiceName", service),
    );
    authorization
}

fn with_policy_type(authorization: Authorization, policy_type: Option<String>) -> Authorization {
    match policy_type {
        Some(policy_type) => authorization.with_one("organizations:PolicyType", policy_type),
        None => authorization,
    }
}

/// Resolves the ids a call names in its organization.
struct Ids<'c, 'w> {
    call: &'c Call<'w>,
    organization: &'w Organization,
}

impl Ids<'_, '_> {
    fn node(&self, parameter: &str, allowed: &[Kind]) -> Result<Node, MapError> {
        let id = self.call.required(parameter)?;
        let kind = kind_of(id).filter(|kind| allowed.contains(kind));
        let Some(kind) = kind else {
            let expected: Vec<&str> = allowed.iter().map(|kind| describe(*kind)).collect();
            return Err(self.call.error(
                MapErrorKind::Invalid,
                format!("`{parameter}` `{id}` is not {}", expected.join(", or ")),
            ));
        };

        let management = &self.organization.management_account;
        let org = &self.organization.id;
        let arn =
            |segment: &str| format!("arn:aws:organizations::{management}:{segment}/{org}/{id}");
        Ok(match kind {
            Kind::Account => Node {
                arn: arn("account"),
                policy_type: None,
            },
            Kind::Root => Node {
                arn: arn("root"),
                policy_type: None,
            },
            Kind::Ou => Node {
                arn: arn("ou"),
                policy_type: None,
            },
            Kind::Policy => self.policy(id)?,
        })
    }

    /// A policy by id: from the world, or built from the type the call gives.
    fn policy(&self, id: &str) -> Result<Node, MapError> {
        let known = self
            .organization
            .policies
            .values()
            .find(|policy| policy.id == id);
        if let Some(policy) = known {
            return Ok(Node {
                arn: policy.arn.clone(),
                policy_type: Some(type_name(policy.policy_type).to_owned()),
            });
        }

        let hint = self
            .call
            .param("Type")
            .or_else(|| self.call.param("Filter"));
        match hint {
            Some(policy_type) => Ok(Node {
                arn: format!(
                    "arn:aws:organizations::{}:policy/{}/{}/{id}",
                    self.organization.management_account,
                    self.organization.id,
                    policy_type.to_ascii_lowercase()
                ),
                policy_type: Some(policy_type.to_owned()),
            }),
            None => Err(self.call.error(
                MapErrorKind::PolicyNotFound,
                "We can't find a policy with the PolicyId that you specified.",
            )),
        }
    }
}

fn kind_of(id: &str) -> Option<Kind> {
    if id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit()) {
        Some(Kind::Account)
    } else if id.starts_with("r-") {
        Some(Kind::Root)
    } else if id.starts_with("ou-") {
        Some(Kind::Ou)
    } else if id.starts_with("p-") {
        Some(Kind::Policy)
    } else {
        None
    }
}

fn describe(kind: Kind) -> &'static str {
    match kind {
        Kind::Account => "an account id (12 digits)",
        Kind::Root => "a root id (`r-...`)",
        Kind::Ou => "an OU id (`ou-...`)",
        Kind::Policy => "a policy id (`p-...`)",
    }
}

/// The policy type as Organizations' API and `organizations:PolicyType` spell it.
fn type_name(policy_type: OrgPolicyType) -> &'static str {
    match policy_type {
        OrgPolicyType::Scp => "SERVICE_CONTROL_POLICY",
        OrgPolicyType::Rcp => "RESOURCE_CONTROL_POLICY",
    }
}
