//! Organizations: ids resolved by shape into ARNs of the organization.

use super::*;

const ORG_ROOT: &str = "arn:aws:organizations::111111111111:root/o-exampleorg1/r-ex01";
const ORG_OU: &str = "arn:aws:organizations::111111111111:ou/o-exampleorg1/ou-ex01-workload";
const ORG_MEMBER: &str = "arn:aws:organizations::111111111111:account/o-exampleorg1/222222222222";
const SCP: &str =
    "arn:aws:organizations::111111111111:policy/o-exampleorg1/service_control_policy/p-denyiam01";
const RCP: &str =
    "arn:aws:organizations::111111111111:policy/o-exampleorg1/resource_control_policy/p-perimeter1";

#[test]
fn organization_reads_resolve_ids_by_shape() {
    use serde_json::json;

    let cases = [
        (
            "ListPoliciesForTarget",
            json!({"TargetId": "222222222222", "Filter": "SERVICE_CONTROL_POLICY"}),
            vec![ORG_MEMBER],
        ),
        (
            "ListChildren",
            json!({"ParentId": "r-ex01", "ChildType": "ACCOUNT"}),
            vec![ORG_ROOT],
        ),
        (
            "ListAccountsForParent",
            json!({"ParentId": "ou-ex01-workload"}),
            vec![ORG_OU],
        ),
        (
            "ListOrganizationalUnitsForParent",
            json!({"ParentId": "r-ex01"}),
            vec![ORG_ROOT],
        ),
        (
            "ListParents",
            json!({"ChildId": "222222222222"}),
            vec![ORG_MEMBER],
        ),
        (
            "DescribeAccount",
            json!({"AccountId": "222222222222"}),
            vec![ORG_MEMBER],
        ),
        (
            "DescribeOrganizationalUnit",
            json!({"OrganizationalUnitId": "ou-ex01-workload"}),
            vec![ORG_OU],
        ),
        (
            "DescribePolicy",
            json!({"PolicyId": "p-denyiam01"}),
            vec![SCP],
        ),
        (
            "ListTargetsForPolicy",
            json!({"PolicyId": "p-perimeter1"}),
            vec![RCP],
        ),
        ("DescribeOrganization", json!({}), vec!["*"]),
        ("ListRoots", json!({}), vec!["*"]),
        ("ListAccounts", json!({}), vec!["*"]),
        (
            "DescribeCreateAccountStatus",
            json!({"CreateAccountRequestId": "car-1"}),
            vec!["*"],
        ),
    ];
    for (name, body, resources) in cases {
        let authorization = allowed(&orgs(name, body), MANAGEMENT_ROOT);
        assert_eq!(authorization.action, format!("organizations:{name}"));
        assert_eq!(authorization.resources, resources, "{name}");
        assert_eq!(authorization.access, Access::Read, "{name}");
    }

    // A member account's call names the same ARNs: they hold the management account.
    let from_member = allowed(
        &orgs("DescribeAccount", json!({"AccountId": "222222222222"})),
        ALICE,
    );
    assert_eq!(from_member.resources, [ORG_MEMBER]);

    let for_target = allowed(
        &orgs(
            "ListPoliciesForTarget",
            json!({"TargetId": "r-ex01", "Filter": "RESOURCE_CONTROL_POLICY"}),
        ),
        MANAGEMENT_ROOT,
    );
    assert_eq!(
        context(&for_target, "organizations:PolicyType").cloned(),
        one("RESOURCE_CONTROL_POLICY")
    );
    let describe = allowed(
        &orgs("DescribePolicy", json!({"PolicyId": "p-denyiam01"})),
        MANAGEMENT_ROOT,
    );
    assert_eq!(
        context(&describe, "organizations:PolicyType").cloned(),
        one("SERVICE_CONTROL_POLICY")
    );
    let full = allowed(
        &orgs("DescribePolicy", json!({"PolicyId": "p-FullAWSAccess"})),
        MANAGEMENT_ROOT,
    );
    assert_eq!(
        full.resources,
        ["arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess"]
    );
    let list = allowed(
        &orgs("ListPolicies", json!({"Filter": "SERVICE_CONTROL_POLICY"})),
        MANAGEMENT_ROOT,
    );
    assert_eq!(list.resources, ["*"]);
    assert_eq!(
        context(&list, "organizations:PolicyType").cloned(),
        one("SERVICE_CONTROL_POLICY")
    );
}

#[test]
fn organization_writes_name_every_resource_they_touch() {
    use serde_json::json;

    let attach = allowed(
        &orgs(
            "AttachPolicy",
            json!({"PolicyId": "p-perimeter1", "TargetId": "ou-ex01-workload"}),
        ),
        MANAGEMENT_ROOT,
    );
    assert_eq!(attach.resources, [RCP, ORG_OU]);
    assert_eq!(
        context(&attach, "organizations:PolicyType").cloned(),
        one("RESOURCE_CONTROL_POLICY")
    );
    assert_eq!(attach.access, Access::Write);

    let detach = allowed(
        &orgs(
            "DetachPolicy",
            json!({"PolicyId": "p-FullAWSAccess", "TargetId": "222222222222"}),
        ),
        MANAGEMENT_ROOT,
    );
    assert_eq!(
        detach.resources,
        [
            "arn:aws:organizations::aws:policy/service_control_policy/p-FullAWSAccess",
            ORG_MEMBER
        ]
    );

    for name in ["UpdatePolicy", "DeletePolicy"] {
        let authorization = allowed(
            &orgs(name, json!({"PolicyId": "p-denyiam01", "Content": "{}"})),
            MANAGEMENT_ROOT,
        );
        assert_eq!(authorization.resources, [SCP], "{name}");
        assert_eq!(authorization.access, Access::Write, "{name}");
    }

    let create = allowed(
        &orgs(
            "CreatePolicy",
            json!({
                "Content": "{}", "Description": "d", "Name": "n",
                "Type": "SERVICE_CONTROL_POLICY",
                "Tags": [{"Key": "owner", "Value": "sec"}]
            }),
        ),
        MANAGEMENT_ROOT,
    );
    assert_eq!(create.resources, ["*"]);
    assert_eq!(
        keys(&create),
        [
            "organizations:PolicyType",
            "aws:TagKeys",
            "aws:RequestTag/owner"
        ]
    );

    let moved = allowed(
        &orgs(
            "MoveAccount",
            json!({
                "AccountId": "222222222222",
                "SourceParentId": "ou-ex01-workload",
                "DestinationParentId": "r-ex01"
            }),
        ),
        MANAGEMENT_ROOT,
    );
    assert_eq!(moved.resources, [ORG_MEMBER, ORG_OU, ORG_ROOT]);

    let enable = allowed(
        &orgs(
            "EnablePolicyType",
            json!({"RootId": "r-ex01", "PolicyType": "RESOURCE_CONTROL_POLICY"}),
        ),
        MANAGEMENT_ROOT,
    );
    assert_eq!(enable.resources, [ORG_ROOT]);
    assert_eq!(
        context(&enable, "organizations:PolicyType").cloned(),
        one("RESOURCE_CONTROL_POLICY")
    );
    let disable = allowed(
        &orgs(
            "DisablePolicyType",
            json!({"RootId": "r-ex01", "PolicyType": "SERVICE_CONTROL_POLICY"}),
        ),
        MANAGEMENT_ROOT,
    );
    assert_eq!(disable.resources, [ORG_ROOT]);

    let ou = allowed(
        &orgs(
            "CreateOrganizationalUnit",
            json!({"ParentId": "r-ex01", "Name": "Sandbox", "Tags": [{"Key": "env", "Value": "dev"}]}),
        ),
        MANAGEMENT_ROOT,
    );
    assert_eq!(ou.resources, [ORG_ROOT]);
    assert_eq!(context(&ou, "aws:RequestTag/env").cloned(), one("dev"));
    for name in ["UpdateOrganizationalUnit", "DeleteOrganizationalUnit"] {
        let authorization = allowed(
            &orgs(
                name,
                json!({"OrganizationalUnitId": "ou-ex01-workload", "Name": "W"}),
            ),
            MANAGEMENT_ROOT,
        );
        assert_eq!(authorization.resources, [ORG_OU], "{name}");
    }

    let account = allowed(
        &orgs(
            "CreateAccount",
            json!({"AccountName": "new", "Email": "new@example.com"}),
        ),
        MANAGEMENT_ROOT,
    );
    assert_eq!(summary(&account), (vec!["*"], Access::Write));
    for name in ["DeleteOrganization", "LeaveOrganization"] {
        assert_eq!(
            allowed(&orgs(name, json!({})), MANAGEMENT_ROOT).resources,
            ["*"]
        );
    }
}

#[test]
fn organization_tags_carry_the_policy_type_of_policies() {
    use serde_json::json;

    let tag = allowed(
        &orgs(
            "TagResource",
            json!({"ResourceId": "p-denyiam01", "Tags": [{"Key": "k", "Value": "v"}]}),
        ),
        MANAGEMENT_ROOT,
    );
    assert_eq!(tag.resources, [SCP]);
    assert_eq!(
        keys(&tag),
        [
            "aws:TagKeys",
            "aws:RequestTag/k",
            "organizations:PolicyType"
        ]
    );

    let untag = allowed(
        &orgs(
            "UntagResource",
            json!({"ResourceId": "ou-ex01-workload", "TagKeys": ["k"]}),
        ),
        MANAGEMENT_ROOT,
    );
    assert_eq!(untag.resources, [ORG_OU]);
    assert_eq!(keys(&untag), ["aws:TagKeys"]);

    let list = allowed(
        &orgs("ListTagsForResource", json!({"ResourceId": "222222222222"})),
        MANAGEMENT_ROOT,
    );
    assert_eq!(summary(&list), (vec![ORG_MEMBER], Access::Read));
}

#[test]
fn organization_ids_that_do_not_fit() {
    use serde_json::json;

    let error = failed(
        &orgs(
            "ListPoliciesForTarget",
            json!({"TargetId": "p-denyiam01", "Filter": "SERVICE_CONTROL_POLICY"}),
        ),
        MANAGEMENT_ROOT,
    );
    assert_eq!(error.kind, MapErrorKind::Invalid);
    assert_eq!(error.code(), "InvalidInputException");
    assert!(
        error.message.contains("`TargetId` `p-denyiam01`"),
        "{}",
        error.message
    );

    let unknown = failed(
        &orgs("DescribePolicy", json!({"PolicyId": "p-nothere01"})),
        MANAGEMENT_ROOT,
    );
    assert_eq!(unknown.kind, MapErrorKind::PolicyNotFound);
    assert_eq!(unknown.code(), "PolicyNotFoundException");

    // A policy the world does not know yet, with its type in the call.
    let typed = allowed(
        &orgs(
            "AttachPolicy",
            json!({"PolicyId": "p-newpol001", "TargetId": "r-ex01", "Type": "TAG_POLICY"}),
        ),
        MANAGEMENT_ROOT,
    );
    assert_eq!(
        typed.resources,
        [
            "arn:aws:organizations::111111111111:policy/o-exampleorg1/tag_policy/p-newpol001",
            ORG_ROOT
        ]
    );

    let missing = failed(
        &orgs("ListPoliciesForTarget", json!({"TargetId": "r-ex01"})),
        MANAGEMENT_ROOT,
    );
    assert!(missing.message.contains("'filter'"), "{}", missing.message);
}

#[test]
fn organizations_outside_an_organization() {
    use serde_json::json;

    let error = failed(&orgs("ListRoots", json!({})), OUTSIDER_ROOT);
    assert_eq!(error.kind, MapErrorKind::NotInOrganization);
    assert_eq!(error.code(), "AWSOrganizationsNotInUseException");
    assert!(error.message.contains("not a member of an organization"));

    let lone = World::parse(
        "lone.yaml",
        "accounts:\n  \"444444444444\": {}\n",
        Path::new("."),
    )
    .expect("valid");
    let caller = Caller::new("arn:aws:iam::444444444444:root");
    let error = authorize(&orgs("DescribeOrganization", json!({})), &caller, &lone)
        .expect_err("no organization");
    assert_eq!(error.kind, MapErrorKind::NotInOrganization);

    // Creating one is what such an account can do, and it needs the service-linked role.
    let create = authorize(
        &orgs("CreateOrganization", json!({"FeatureSet": "ALL"})),
        &caller,
        &lone,
    )
    .expect("maps");
    assert_eq!(create.resources, ["*"]);
    assert_eq!(create.access, Access::Write);
    assert_eq!(create.also.len(), 1);
    assert_eq!(create.also[0].action, "iam:CreateServiceLinkedRole");
    assert_eq!(
        create.also[0].resources,
        [
            "arn:aws:iam::444444444444:role/aws-service-role/organizations.amazonaws.com/AWSServiceRoleForOrganizations"
        ]
    );
}
