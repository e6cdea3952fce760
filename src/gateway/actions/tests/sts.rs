//! STS: AssumeRole and the calls that need no permission.

use super::*;

#[test]
fn assume_role_is_on_the_role_with_session_name_tags_and_their_own_checks() {
    let role = "arn:aws:iam::222222222222:role/emergency/BreakGlass";
    let operation = sts(
        "AssumeRole",
        &[
            ("RoleArn", role),
            ("RoleSessionName", "drill"),
            ("ExternalId", "ext-1"),
            ("SourceIdentity", "alice"),
            ("Tags.member.1.Key", "ticket"),
            ("Tags.member.1.Value", "INC-1"),
            ("TransitiveTagKeys.member.1", "ticket"),
        ],
    );
    let authorization = allowed(&operation, ALICE);
    assert_eq!(authorization.action, "sts:AssumeRole");
    assert_eq!(authorization.resources, [role]);
    assert_eq!(authorization.access, Access::Read);
    assert_eq!(
        context(&authorization, "sts:RoleSessionName").cloned(),
        one("drill")
    );
    assert_eq!(
        context(&authorization, "sts:ExternalId").cloned(),
        one("ext-1")
    );
    assert_eq!(
        context(&authorization, "aws:RequestTag/ticket").cloned(),
        one("INC-1")
    );
    assert_eq!(
        context(&authorization, "sts:TransitiveTagKeys").cloned(),
        many(&["ticket"])
    );
    assert_eq!(
        context(&authorization, "sts:SourceIdentity").cloned(),
        one("alice")
    );
    assert_eq!(
        context(&authorization, "iam:ResourceTag/tier").cloned(),
        one("critical")
    );

    let also: Vec<&str> = authorization
        .also
        .iter()
        .map(|related| related.action.as_str())
        .collect();
    assert_eq!(also, ["sts:TagSession", "sts:SetSourceIdentity"]);
    let tag_session = &authorization.also[0];
    assert_eq!(tag_session.resources, [role]);
    assert_eq!(
        context(tag_session, "aws:TagKeys").cloned(),
        many(&["ticket"])
    );
    assert_eq!(context(tag_session, "sts:RoleSessionName"), None);

    let plain = allowed(
        &sts(
            "AssumeRole",
            &[("RoleArn", role), ("RoleSessionName", "drill")],
        ),
        ALICE,
    );
    assert!(plain.also.is_empty());
    assert_eq!(
        keys(&plain),
        [
            "sts:RoleSessionName",
            "aws:ResourceTag/tier",
            "iam:ResourceTag/tier"
        ]
    );

    let error = failed(&sts("AssumeRole", &[("RoleArn", role)]), ALICE);
    assert!(
        error.message.contains("'roleSessionName'"),
        "{}",
        error.message
    );
}

#[test]
fn caller_identity_and_session_tokens_need_no_permission() {
    let identity = allowed(&sts("GetCallerIdentity", &[]), SESSION);
    assert!(identity.needs_no_permission);
    assert_eq!(identity.action, "sts:GetCallerIdentity");
    assert_eq!(identity.access, Access::Read);

    let token = allowed(&sts("GetSessionToken", &[]), ALICE);
    assert!(token.needs_no_permission);
    assert!(allowed(&sts("GetSessionToken", &[]), ROOT).needs_no_permission);

    let error = failed(&sts("GetSessionToken", &[]), SESSION);
    assert_eq!(error.kind, MapErrorKind::Refused);
    assert_eq!(error.code(), "AccessDenied");
    assert_eq!(
        error.message,
        "Cannot call GetSessionToken with session credentials"
    );
}

#[test]
fn other_sts_calls() {
    let decode = allowed(
        &sts("DecodeAuthorizationMessage", &[("EncodedMessage", "abc")]),
        ALICE,
    );
    assert_eq!(decode.resources, ["*"]);
    assert!(!decode.needs_no_permission);
    let info = allowed(&sts("GetAccessKeyInfo", &[("AccessKeyId", "AKIAX")]), ALICE);
    assert_eq!(info.action, "sts:GetAccessKeyInfo");

    let federation = allowed(&sts("GetFederationToken", &[("Name", "temp")]), ALICE);
    assert_eq!(
        federation.resources,
        ["arn:aws:sts::222222222222:federated-user/temp"]
    );

    for name in ["AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"] {
        let error = failed(&sts(name, &[]), ALICE);
        assert_eq!(error.kind, MapErrorKind::Unmapped);
        assert!(
            error.message.contains("does not support"),
            "{}",
            error.message
        );
    }
}
