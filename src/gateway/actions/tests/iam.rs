//! IAM: users, groups, roles, managed and inline policies, boundaries, credentials.

use super::*;

// --- IAM users -----------------------------------------------------------------------------

#[test]
fn create_user_takes_its_path_boundary_and_tags_from_the_call() {
    let operation = iam(
        "CreateUser",
        &[
            ("UserName", "carol"),
            ("Path", "/dev/"),
            ("PermissionsBoundary", BOUNDARY),
            ("Tags.member.2.Key", "cost"),
            ("Tags.member.2.Value", "42"),
            ("Tags.member.1.Key", "team"),
            ("Tags.member.1.Value", "red"),
        ],
    );
    let authorization = allowed(&operation, ALICE);
    assert_eq!(authorization.action, "iam:CreateUser");
    assert_eq!(
        authorization.resources,
        ["arn:aws:iam::222222222222:user/dev/carol"]
    );
    assert_eq!(
        context(&authorization, "iam:PermissionsBoundary").cloned(),
        one(BOUNDARY)
    );
    assert_eq!(
        context(&authorization, "aws:TagKeys").cloned(),
        many(&["team", "cost"])
    );
    assert_eq!(
        context(&authorization, "aws:RequestTag/team").cloned(),
        one("red")
    );
    assert_eq!(
        context(&authorization, "aws:RequestTag/cost").cloned(),
        one("42")
    );
    assert_eq!(authorization.access, Access::Write);
    assert!(!authorization.needs_no_permission);

    let plain = allowed(&iam("CreateUser", &[("UserName", "carol")]), ALICE);
    assert_eq!(plain.resources, ["arn:aws:iam::222222222222:user/carol"]);
    assert!(plain.context.is_empty(), "{:?}", plain.context);
}

#[test]
fn existing_users_carry_their_path_and_tags() {
    let authorization = allowed(&iam("GetUser", &[("UserName", "alice")]), ROOT);
    assert_eq!(authorization.resources, [ALICE]);
    assert_eq!(authorization.access, Access::Read);
    assert_eq!(
        context(&authorization, "aws:ResourceTag/team").cloned(),
        one("blue")
    );
    assert_eq!(
        context(&authorization, "iam:ResourceTag/team").cloned(),
        one("blue")
    );
    // The SAR lists no iam:PermissionsBoundary for GetUser.
    assert_eq!(context(&authorization, "iam:PermissionsBoundary"), None);

    let missing = allowed(&iam("DeleteUser", &[("UserName", "ghost")]), ROOT);
    assert_eq!(missing.resources, ["arn:aws:iam::222222222222:user/ghost"]);
    assert!(missing.context.is_empty());
}

#[test]
fn get_user_without_a_name_is_about_the_caller() {
    let own = allowed(&iam("GetUser", &[]), ALICE);
    assert_eq!(own.resources, [ALICE]);
    assert_eq!(context(&own, "aws:ResourceTag/team").cloned(), one("blue"));

    assert_eq!(allowed(&iam("GetUser", &[]), ROOT).resources, [ROOT]);

    let error = failed(&iam("GetUser", &[]), SESSION);
    assert_eq!(error.kind, MapErrorKind::Invalid);
    assert_eq!(error.code(), "ValidationError");
    assert_eq!(
        error.message,
        "Must specify userName when calling with non-User credentials"
    );
}

#[test]
fn renaming_a_user_needs_the_old_and_the_new_name() {
    let renamed = allowed(
        &iam(
            "UpdateUser",
            &[("UserName", "alice"), ("NewUserName", "alicia")],
        ),
        ROOT,
    );
    assert_eq!(
        renamed.resources,
        [ALICE, "arn:aws:iam::222222222222:user/ops/alicia"]
    );

    let moved = allowed(
        &iam("UpdateUser", &[("UserName", "alice"), ("NewPath", "/x/")]),
        ROOT,
    );
    assert_eq!(
        moved.resources,
        [ALICE, "arn:aws:iam::222222222222:user/x/alice"]
    );

    let unchanged = allowed(&iam("UpdateUser", &[("UserName", "bob")]), ROOT);
    assert_eq!(unchanged.resources, ["arn:aws:iam::222222222222:user/bob"]);
}

#[test]
fn tagging_users_carries_the_tags_and_keys() {
    let tag = allowed(
        &iam(
            "TagUser",
            &[
                ("UserName", "bob"),
                ("Tags.member.1.Key", "env"),
                ("Tags.member.1.Value", "prod"),
            ],
        ),
        ROOT,
    );
    assert_eq!(tag.action, "iam:TagUser");
    assert_eq!(context(&tag, "aws:TagKeys").cloned(), many(&["env"]));
    assert_eq!(context(&tag, "aws:RequestTag/env").cloned(), one("prod"));

    let untag = allowed(
        &iam(
            "UntagUser",
            &[
                ("UserName", "alice"),
                ("TagKeys.member.1", "team"),
                ("TagKeys.member.2", "env"),
            ],
        ),
        ROOT,
    );
    assert_eq!(
        context(&untag, "aws:TagKeys").cloned(),
        many(&["team", "env"])
    );
    assert_eq!(context(&untag, "aws:RequestTag/team"), None);

    let list = allowed(&iam("ListUserTags", &[("UserName", "alice")]), ROOT);
    assert_eq!(summary(&list), (vec![ALICE], Access::Read));
}

#[test]
fn account_wide_calls_are_on_everything() {
    for name in [
        "ListUsers",
        "ListGroups",
        "ListRoles",
        "ListPolicies",
        "ListVirtualMFADevices",
        "GetAccountAuthorizationDetails",
        "GetAccountSummary",
        "ListAccountAliases",
        "GetAccountPasswordPolicy",
    ] {
        let authorization = allowed(&iam(name, &[]), ALICE);
        assert_eq!(authorization.action, format!("iam:{name}"));
        assert_eq!(authorization.resources, ["*"], "{name}");
        assert_eq!(authorization.access, Access::Read, "{name}");
    }
    let alias = allowed(
        &iam("CreateAccountAlias", &[("AccountAlias", "lockdrill")]),
        ALICE,
    );
    assert_eq!(summary(&alias), (vec!["*"], Access::Write));
    let alias = allowed(
        &iam("DeleteAccountAlias", &[("AccountAlias", "lockdrill")]),
        ALICE,
    );
    assert_eq!(alias.access, Access::Write);
}

// --- IAM groups ------------------------------------------------------------------------------

#[test]
fn group_calls_are_on_the_group_with_its_path() {
    let add = allowed(
        &iam(
            "AddUserToGroup",
            &[("GroupName", "Admins"), ("UserName", "bob")],
        ),
        ALICE,
    );
    assert_eq!(
        add.resources,
        ["arn:aws:iam::222222222222:group/admins/Admins"]
    );
    assert_eq!(add.access, Access::Write);

    let remove = allowed(
        &iam(
            "RemoveUserFromGroup",
            &[("GroupName", "Admins"), ("UserName", "alice")],
        ),
        ALICE,
    );
    assert_eq!(remove.resources, add.resources);

    let create = allowed(
        &iam("CreateGroup", &[("GroupName", "Ops"), ("Path", "/teams/")]),
        ALICE,
    );
    assert_eq!(
        create.resources,
        ["arn:aws:iam::222222222222:group/teams/Ops"]
    );

    let get = allowed(&iam("GetGroup", &[("GroupName", "Admins")]), ALICE);
    assert_eq!(
        summary(&get),
        (
            add.resources.iter().map(String::as_str).collect(),
            Access::Read
        )
    );
    let delete = allowed(&iam("DeleteGroup", &[("GroupName", "Nobody")]), ALICE);
    assert_eq!(delete.resources, ["arn:aws:iam::222222222222:group/Nobody"]);

    let of_user = allowed(&iam("ListGroupsForUser", &[("UserName", "alice")]), ALICE);
    assert_eq!(of_user.resources, [ALICE]);
}

// --- IAM roles -------------------------------------------------------------------------------

#[test]
fn role_calls_carry_the_path_the_current_boundary_and_tags() {
    for name in ["GetRole", "UpdateRole", "DeleteRole"] {
        let authorization = allowed(&iam(name, &[("RoleName", "BreakGlass")]), ROOT);
        assert_eq!(
            authorization.resources,
            ["arn:aws:iam::222222222222:role/emergency/BreakGlass"],
            "{name}"
        );
        assert_eq!(
            context(&authorization, "iam:PermissionsBoundary").cloned(),
            one(BOUNDARY),
            "{name}"
        );
        assert_eq!(
            context(&authorization, "iam:ResourceTag/tier").cloned(),
            one("critical")
        );
    }

    let trust = allowed(
        &iam(
            "UpdateAssumeRolePolicy",
            &[("RoleName", "BreakGlass"), ("PolicyDocument", "{}")],
        ),
        ROOT,
    );
    assert_eq!(trust.access, Access::Write);
    assert_eq!(
        context(&trust, "iam:PermissionsBoundary").cloned(),
        one(BOUNDARY)
    );
    let error = failed(
        &iam("UpdateAssumeRolePolicy", &[("RoleName", "BreakGlass")]),
        ROOT,
    );
    assert!(
        error.message.contains("'policyDocument'"),
        "{}",
        error.message
    );

    let tag = allowed(
        &iam(
            "TagRole",
            &[
                ("RoleName", "BreakGlass"),
                ("Tags.member.1.Key", "owner"),
                ("Tags.member.1.Value", "sec"),
            ],
        ),
        ROOT,
    );
    assert_eq!(context(&tag, "aws:RequestTag/owner").cloned(), one("sec"));
    // TagRole is not among the actions the SAR gives iam:PermissionsBoundary.
    assert_eq!(context(&tag, "iam:PermissionsBoundary"), None);

    let untag = allowed(
        &iam(
            "UntagRole",
            &[("RoleName", "BreakGlass"), ("TagKeys.member.1", "tier")],
        ),
        ROOT,
    );
    assert_eq!(context(&untag, "aws:TagKeys").cloned(), many(&["tier"]));
}

#[test]
fn create_role_takes_its_path_boundary_and_tags() {
    let authorization = allowed(
        &iam(
            "CreateRole",
            &[
                ("RoleName", "Deployer"),
                ("Path", "/ci/"),
                ("AssumeRolePolicyDocument", "{}"),
                ("PermissionsBoundary", BOUNDARY),
                ("Tags.member.1.Key", "team"),
                ("Tags.member.1.Value", "ci"),
            ],
        ),
        ALICE,
    );
    assert_eq!(
        authorization.resources,
        ["arn:aws:iam::222222222222:role/ci/Deployer"]
    );
    assert_eq!(
        keys(&authorization),
        [
            "iam:PermissionsBoundary",
            "aws:TagKeys",
            "aws:RequestTag/team"
        ]
    );

    let error = failed(&iam("CreateRole", &[("RoleName", "Deployer")]), ALICE);
    assert_eq!(
        error.message,
        "1 validation error detected: Value null at 'assumeRolePolicyDocument' \
         failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn service_linked_roles_live_under_the_service_path() {
    let authorization = allowed(
        &iam(
            "CreateServiceLinkedRole",
            &[("AWSServiceName", "organizations.amazonaws.com")],
        ),
        ALICE,
    );
    assert_eq!(
        authorization.resources,
        [
            "arn:aws:iam::222222222222:role/aws-service-role/organizations.amazonaws.com/AWSServiceRoleForOrganizations"
        ]
    );
    assert_eq!(
        context(&authorization, "iam:AWSServiceName").cloned(),
        one("organizations.amazonaws.com")
    );

    let suffixed = allowed(
        &iam(
            "CreateServiceLinkedRole",
            &[
                ("AWSServiceName", "custom-thing.amazonaws.com"),
                ("CustomSuffix", "blue"),
            ],
        ),
        ALICE,
    );
    assert_eq!(
        suffixed.resources,
        [
            "arn:aws:iam::222222222222:role/aws-service-role/custom-thing.amazonaws.com/AWSServiceRoleForCustomThing_blue"
        ]
    );
}

// --- Managed policies and attachments ---------------------------------------------------------

#[test]
fn managed_policy_calls_are_on_the_policy_arn() {
    let create = allowed(
        &iam(
            "CreatePolicy",
            &[
                ("PolicyName", "ReadOnly"),
                ("Path", "/team/"),
                ("PolicyDocument", "{}"),
            ],
        ),
        ALICE,
    );
    assert_eq!(
        create.resources,
        ["arn:aws:iam::222222222222:policy/team/ReadOnly"]
    );

    for (name, extra) in [
        ("GetPolicy", None),
        ("DeletePolicy", None),
        ("ListPolicyVersions", None),
        ("ListEntitiesForPolicy", None),
        ("GetPolicyVersion", Some(("VersionId", "v1"))),
        ("DeletePolicyVersion", Some(("VersionId", "v1"))),
        ("SetDefaultPolicyVersion", Some(("VersionId", "v2"))),
        ("CreatePolicyVersion", Some(("PolicyDocument", "{}"))),
    ] {
        let mut params = vec![("PolicyArn", BOUNDARY)];
        params.extend(extra);
        let authorization = allowed(&iam(name, &params), ALICE);
        assert_eq!(authorization.resources, [BOUNDARY], "{name}");
        let read = name.starts_with("Get") || name.starts_with("List");
        let expected = if read { Access::Read } else { Access::Write };
        assert_eq!(authorization.access, expected, "{name}");
        assert!(authorization.context.is_empty(), "{name}");
    }

    let error = failed(&iam("GetPolicyVersion", &[("PolicyArn", BOUNDARY)]), ALICE);
    assert!(error.message.contains("'versionId'"), "{}", error.message);
}

#[test]
fn attaching_carries_the_policy_arn_and_the_current_boundary() {
    let alice = allowed(
        &iam(
            "AttachUserPolicy",
            &[("UserName", "alice"), ("PolicyArn", ADMIN)],
        ),
        ROOT,
    );
    assert_eq!(alice.resources, [ALICE]);
    assert_eq!(context(&alice, "iam:PolicyARN").cloned(), one(ADMIN));
    assert_eq!(
        context(&alice, "iam:PermissionsBoundary").cloned(),
        one(BOUNDARY)
    );

    // bob has no boundary: the key is absent, as AWS leaves it.
    let bob = allowed(
        &iam(
            "DetachUserPolicy",
            &[("UserName", "bob"), ("PolicyArn", ADMIN)],
        ),
        ROOT,
    );
    assert_eq!(keys(&bob), ["iam:PolicyARN"]);

    let group = allowed(
        &iam(
            "AttachGroupPolicy",
            &[("GroupName", "Admins"), ("PolicyArn", ADMIN)],
        ),
        ROOT,
    );
    assert_eq!(
        group.resources,
        ["arn:aws:iam::222222222222:group/admins/Admins"]
    );
    assert_eq!(keys(&group), ["iam:PolicyARN"]);

    let role = allowed(
        &iam(
            "DetachRolePolicy",
            &[("RoleName", "BreakGlass"), ("PolicyArn", ADMIN)],
        ),
        ROOT,
    );
    assert_eq!(context(&role, "iam:PolicyARN").cloned(), one(ADMIN));
    assert_eq!(
        context(&role, "iam:PermissionsBoundary").cloned(),
        one(BOUNDARY)
    );

    for (name, param, value, resource) in [
        ("ListAttachedUserPolicies", "UserName", "alice", ALICE),
        (
            "ListAttachedGroupPolicies",
            "GroupName",
            "Admins",
            "arn:aws:iam::222222222222:group/admins/Admins",
        ),
        (
            "ListAttachedRolePolicies",
            "RoleName",
            "BreakGlass",
            "arn:aws:iam::222222222222:role/emergency/BreakGlass",
        ),
    ] {
        let list = allowed(&iam(name, &[(param, value)]), ROOT);
        assert_eq!(summary(&list), (vec![resource], Access::Read));
        assert_eq!(context(&list, "iam:PolicyARN"), None);
    }
}

#[test]
fn inline_policies_carry_the_boundary_only_where_the_sar_lists_it() {
    let put = allowed(
        &iam(
            "PutUserPolicy",
            &[
                ("UserName", "alice"),
                ("PolicyName", "extra"),
                ("PolicyDocument", "{}"),
            ],
        ),
        ROOT,
    );
    assert_eq!(put.action, "iam:PutUserPolicy");
    assert_eq!(
        context(&put, "iam:PermissionsBoundary").cloned(),
        one(BOUNDARY)
    );

    let get = allowed(
        &iam(
            "GetUserPolicy",
            &[("UserName", "alice"), ("PolicyName", "extra")],
        ),
        ROOT,
    );
    assert_eq!(context(&get, "iam:PermissionsBoundary"), None);
    assert_eq!(get.access, Access::Read);

    let group = allowed(
        &iam(
            "PutGroupPolicy",
            &[
                ("GroupName", "Admins"),
                ("PolicyName", "extra"),
                ("PolicyDocument", "{}"),
            ],
        ),
        ROOT,
    );
    assert_eq!(
        group.resources,
        ["arn:aws:iam::222222222222:group/admins/Admins"]
    );

    let role = allowed(
        &iam(
            "DeleteRolePolicy",
            &[("RoleName", "BreakGlass"), ("PolicyName", "extra")],
        ),
        ROOT,
    );
    assert_eq!(
        context(&role, "iam:PermissionsBoundary").cloned(),
        one(BOUNDARY)
    );

    let error = failed(&iam("PutUserPolicy", &[]), ROOT);
    assert_eq!(
        error.message,
        "3 validation errors detected: \
         Value null at 'userName' failed to satisfy constraint: Member must not be null; \
         Value null at 'policyName' failed to satisfy constraint: Member must not be null; \
         Value null at 'policyDocument' failed to satisfy constraint: Member must not be null"
    );
}

#[test]
fn boundaries_put_the_new_one_and_delete_the_current_one() {
    let other = "arn:aws:iam::222222222222:policy/Other";
    let put = allowed(
        &iam(
            "PutUserPermissionsBoundary",
            &[("UserName", "alice"), ("PermissionsBoundary", other)],
        ),
        ROOT,
    );
    assert_eq!(put.resources, [ALICE]);
    assert_eq!(
        context(&put, "iam:PermissionsBoundary").cloned(),
        one(other)
    );
    assert_eq!(
        put.context
            .iter()
            .filter(|(key, _)| key == "iam:PermissionsBoundary")
            .count(),
        1
    );

    let delete = allowed(
        &iam("DeleteUserPermissionsBoundary", &[("UserName", "alice")]),
        ROOT,
    );
    assert_eq!(
        context(&delete, "iam:PermissionsBoundary").cloned(),
        one(BOUNDARY)
    );

    let role = allowed(
        &iam(
            "PutRolePermissionsBoundary",
            &[("RoleName", "BreakGlass"), ("PermissionsBoundary", other)],
        ),
        ROOT,
    );
    assert_eq!(
        context(&role, "iam:PermissionsBoundary").cloned(),
        one(other)
    );
    let role = allowed(
        &iam(
            "DeleteRolePermissionsBoundary",
            &[("RoleName", "BreakGlass")],
        ),
        ROOT,
    );
    assert_eq!(
        context(&role, "iam:PermissionsBoundary").cloned(),
        one(BOUNDARY)
    );
}

// --- Credentials: access keys, login profiles, MFA ---------------------------------------------

#[test]
fn access_keys_default_to_the_callers_own_user() {
    let own = allowed(&iam("CreateAccessKey", &[]), ALICE);
    assert_eq!(summary(&own), (vec![ALICE], Access::Write));
    let bob = allowed(&iam("ListAccessKeys", &[("UserName", "bob")]), ALICE);
    assert_eq!(bob.resources, ["arn:aws:iam::222222222222:user/bob"]);
    assert_eq!(bob.access, Access::Read);
    let root = allowed(
        &iam("DeleteAccessKey", &[("AccessKeyId", "AKIAROOT")]),
        ROOT,
    );
    assert_eq!(root.resources, [ROOT]);

    let error = failed(
        &iam(
            "UpdateAccessKey",
            &[("AccessKeyId", "AKIAX"), ("Status", "Inactive")],
        ),
        SESSION,
    );
    assert_eq!(error.kind, MapErrorKind::Invalid);
    let error = failed(&iam("UpdateAccessKey", &[("AccessKeyId", "AKIAX")]), ALICE);
    assert!(error.message.contains("'status'"), "{}", error.message);
}

#[test]
fn last_used_is_authorized_on_the_owner_of_the_key() {
    let owners = |key: &str| (key == "AKIAALICE").then(|| ALICE.to_owned());
    let caller = Caller {
        arn: ROOT,
        key_owners: &owners,
    };
    let operation = iam("GetAccessKeyLastUsed", &[("AccessKeyId", "AKIAALICE")]);
    let authorization = authorize(&operation, &caller, &world()).expect("maps");
    assert_eq!(authorization.resources, [ALICE]);
    assert_eq!(
        context(&authorization, "aws:ResourceTag/team").cloned(),
        one("blue")
    );

    let unknown = iam("GetAccessKeyLastUsed", &[("AccessKeyId", "AKIAOTHER")]);
    let error = authorize(&unknown, &caller, &world()).expect_err("unknown key");
    assert_eq!(error.kind, MapErrorKind::Refused);
    assert!(error.message.contains("`AKIAOTHER`"), "{}", error.message);
}

#[test]
fn login_profiles_name_a_user_or_default_to_the_caller() {
    let root = allowed(&iam("CreateLoginProfile", &[]), ROOT);
    assert_eq!(root.resources, [ROOT]);
    let bob = allowed(&iam("GetLoginProfile", &[("UserName", "bob")]), ALICE);
    assert_eq!(
        summary(&bob),
        (vec!["arn:aws:iam::222222222222:user/bob"], Access::Read)
    );
    let delete = allowed(&iam("DeleteLoginProfile", &[("UserName", "alice")]), ROOT);
    assert_eq!(delete.resources, [ALICE]);

    // UpdateLoginProfile has no default user.
    let error = failed(&iam("UpdateLoginProfile", &[("Password", "x")]), ALICE);
    assert_eq!(error.kind, MapErrorKind::Invalid);
    assert!(error.message.contains("'userName'"), "{}", error.message);
}

#[test]
fn mfa_devices_and_their_users() {
    let create = allowed(
        &iam(
            "CreateVirtualMFADevice",
            &[
                ("VirtualMFADeviceName", "alice-phone"),
                ("Tags.member.1.Key", "kind"),
                ("Tags.member.1.Value", "phone"),
            ],
        ),
        ALICE,
    );
    assert_eq!(
        create.resources,
        ["arn:aws:iam::222222222222:mfa/alice-phone"]
    );
    assert_eq!(
        context(&create, "aws:RequestTag/kind").cloned(),
        one("phone")
    );

    let serial = "arn:aws:iam::222222222222:mfa/alice-phone";
    let delete = allowed(
        &iam("DeleteVirtualMFADevice", &[("SerialNumber", serial)]),
        ALICE,
    );
    assert_eq!(delete.resources, [serial]);

    let enable = allowed(
        &iam(
            "EnableMFADevice",
            &[
                ("UserName", "alice"),
                ("SerialNumber", serial),
                ("AuthenticationCode1", "123456"),
                ("AuthenticationCode2", "654321"),
            ],
        ),
        ALICE,
    );
    assert_eq!(summary(&enable), (vec![ALICE], Access::Write));
    let error = failed(
        &iam(
            "EnableMFADevice",
            &[("UserName", "alice"), ("SerialNumber", serial)],
        ),
        ALICE,
    );
    assert!(
        error.message.starts_with("2 validation errors"),
        "{}",
        error.message
    );

    let deactivate = allowed(
        &iam("DeactivateMFADevice", &[("SerialNumber", serial)]),
        ROOT,
    );
    assert_eq!(deactivate.resources, [ROOT]);
    let resync = allowed(
        &iam(
            "ResyncMFADevice",
            &[
                ("UserName", "bob"),
                ("SerialNumber", serial),
                ("AuthenticationCode1", "1"),
                ("AuthenticationCode2", "2"),
            ],
        ),
        ROOT,
    );
    assert_eq!(resync.resources, ["arn:aws:iam::222222222222:user/bob"]);
    let list = allowed(&iam("ListMFADevices", &[]), ALICE);
    assert_eq!(summary(&list), (vec![ALICE], Access::Read));
}
