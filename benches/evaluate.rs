//! How many decisions per second `evaluate` makes on one core, for two realistic principals.
//!
//! Every drill step and every line of `lockdrill eval --requests` is one `evaluate` call, so its
//! cost bounds how large a world or a request file stays interactive. Two shapes are measured,
//! each with `Throughput::Elements(1)` per call so criterion reports decisions per second:
//!
//! - `user_10x10`: an IAM user with 10 attached identity policies of 10 statements each (`iam:`,
//!   `s3:`, `ec2:`, `logs:` actions, wildcards, a policy variable, conditions), no
//!   organization, deciding `iam:AttachUserPolicy` on a user. Target: 1,000,000 decisions/s.
//! - `role_org_5x5`: a role session in an account three OUs deep: 5 SCP levels (root, three
//!   OUs, the account) of 5 SCPs each, guardrails with `StringNotEquals`, `StringNotLike`,
//!   `ArnNotLike`, `Bool`, `NotIpAddress` and `DateGreaterThan` conditions, plus the role's
//!   identity policies and a permissions boundary, against a context of the keys a real request
//!   carries. Target: 200,000 decisions/s.
//!
//! Inputs are built once, outside the timed loop; each variant's outcome is asserted first so
//! the figures are for the decision they claim. The `+message` variants also build the
//! AccessDenied message, as the CLI does for every denial.
//!
//! Run with `cargo bench --bench evaluate`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lockdrill::policy::{
    Applicable, Context, ContextValue, Outcome, Policy, PolicyKind, PolicyRef, PolicyType,
    Principal, PrincipalKind, Request, evaluate, parse_policy,
};

const ACCOUNT: &str = "111122223333";

fn parse(name: &str, json: &str, kind: PolicyKind) -> (String, Policy) {
    let policy = parse_policy(name, json, kind)
        .unwrap_or_else(|problems| panic!("benchmark policy {name} must parse: {problems}"));
    (name.to_owned(), policy)
}

fn refs(policies: &[(String, Policy)]) -> Vec<PolicyRef<'_>> {
    policies
        .iter()
        .map(|(name, policy)| PolicyRef { name, policy })
        .collect()
}

/// One attached policy of a team's user: ten statements in the shapes real policies have.
/// Policy 0 carries a deny on admin users; policy 9 is the one that grants user management.
fn team_policy(i: usize) -> String {
    let team = format!("team{i}");
    let first = if i == 0 {
        r#"{"Sid": "NoAdminUsers", "Effect": "Deny", "Action": "iam:*",
            "Resource": "arn:aws:iam::*:user/admin/*"}"#
            .to_owned()
    } else {
        r#"{"Sid": "KeepProd", "Effect": "Deny", "Action": ["ec2:TerminateInstances", "ec2:DeleteVolume"],
            "Resource": "*", "Condition": {"StringEquals": {"aws:ResourceTag/env": "prod"}}}"#
            .to_owned()
    };
    let last = if i == 9 {
        format!(
            r#"{{"Sid": "ManageDevUsers", "Effect": "Allow",
                "Action": ["iam:AttachUserPolicy", "iam:DetachUserPolicy", "iam:*UserPolicy", "iam:CreateUser"],
                "Resource": "arn:aws:iam::{ACCOUNT}:user/dev/*"}}"#
        )
    } else {
        format!(
            r#"{{"Sid": "ManageTeamUsers", "Effect": "Allow",
                "Action": ["iam:CreateUser", "iam:Tag*", "iam:*UserPolicy"],
                "Resource": "arn:aws:iam::{ACCOUNT}:user/{team}/*"}}"#
        )
    };
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [
        {first},
        {{"Sid": "ReadData", "Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket", "s3:GetObjectVersion"],
          "Resource": ["arn:aws:s3:::{team}-data", "arn:aws:s3:::{team}-data/*"]}},
        {{"Sid": "Upload", "Effect": "Allow", "Action": ["s3:Put*", "s3:DeleteObject"],
          "Resource": "arn:aws:s3:::{team}-uploads/*"}},
        {{"Sid": "Describe", "Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}},
        {{"Sid": "OperateOwn", "Effect": "Allow",
          "Action": ["ec2:StartInstances", "ec2:StopInstances", "ec2:RebootInstances"],
          "Resource": "arn:aws:ec2:*:{ACCOUNT}:instance/*",
          "Condition": {{"StringEquals": {{"aws:ResourceTag/team": "{team}"}}}}}},
        {{"Sid": "ReadIam", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"],
          "Resource": "arn:aws:iam::{ACCOUNT}:*"}},
        {{"Sid": "OwnCredentials", "Effect": "Allow",
          "Action": ["iam:ChangePassword", "iam:*AccessKey*", "iam:*MFADevice"],
          "Resource": "arn:aws:iam::{ACCOUNT}:user/${{aws:username}}"}},
        {{"Sid": "PassServiceRoles", "Effect": "Allow", "Action": "iam:PassRole",
          "Resource": "arn:aws:iam::{ACCOUNT}:role/service-role/{team}-*",
          "Condition": {{"StringEquals": {{"iam:PassedToService": "ec2.amazonaws.com"}}}}}},
        {{"Sid": "Logs", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
          "Resource": "arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/app/{team}:*"}},
        {last}
    ]}}"#
    )
}

/// The keys a real request carries, for a principal with `principal_arn`.
fn request_context(principal_arn: &str, principal_type: &str, userid: &str) -> Context {
    let mut context = Context::new();
    context.insert_one("aws:PrincipalArn", principal_arn);
    context.insert_one("aws:PrincipalAccount", ACCOUNT);
    context.insert_one("aws:PrincipalOrgID", "o-a1b2c3d4e5");
    context.insert(
        "aws:PrincipalOrgPaths",
        ContextValue::Many(vec![
            "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/ou-ab12-33333333/".into(),
        ]),
    );
    context.insert_one("aws:PrincipalType", principal_type);
    context.insert_one("aws:userid", userid);
    context.insert_one("aws:PrincipalTag/team", "platform");
    context.insert_one("aws:MultiFactorAuthPresent", "false");
    context.insert_one("aws:CurrentTime", "2026-03-01T12:00:00Z");
    context.insert_one("aws:EpochTime", "1772366400");
    context.insert_one("aws:RequestedRegion", "us-east-1");
    context.insert_one("aws:SourceIp", "203.0.113.10");
    context.insert_one("aws:SecureTransport", "true");
    context.insert_one("aws:ViaAWSService", "false");
    context
}

/// Runs the variants of one scenario: each is (name, resource, expected outcome, expected
/// decider), and the denied ones are measured a second time with the AccessDenied message.
fn bench_scenario(
    c: &mut Criterion,
    group_name: &str,
    principal: &Principal,
    context: &Context,
    applicable: &Applicable<'_>,
    variants: &[(&str, &str, Outcome, PolicyType)],
) {
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Elements(1));
    for &(name, resource, outcome, decided_by) in variants {
        let request = Request {
            principal,
            action: "iam:AttachUserPolicy",
            resource,
            resource_account: ACCOUNT,
            context,
        };
        let decision = evaluate(&request, applicable);
        assert_eq!(
            (decision.outcome, decision.decided_by),
            (outcome, Some(decided_by)),
            "{group_name}/{name}"
        );

        group.bench_function(name, |b| {
            b.iter(|| evaluate(black_box(&request), black_box(applicable)))
        });
        if outcome != Outcome::Allow {
            group.bench_function(format!("{name}+message"), |b| {
                b.iter(|| {
                    let request = black_box(&request);
                    evaluate(request, black_box(applicable)).access_denied_message(request)
                })
            });
        }
    }
    group.finish();
}

/// (a) An IAM user with 10 attached policies of 10 statements, outside any organization.
fn user_10x10(c: &mut Criterion) {
    let policies: Vec<(String, Policy)> = (0..10)
        .map(|i| {
            let name = format!("arn:aws:iam::{ACCOUNT}:policy/team{i}-access");
            parse(&name, &team_policy(i), PolicyKind::Identity)
        })
        .collect();
    let arn = format!("arn:aws:iam::{ACCOUNT}:user/ops/alice");
    let principal = Principal {
        kind: PrincipalKind::User,
        arn: arn.clone(),
        account: ACCOUNT.into(),
        role_arn: None,
        federating_user_arn: None,
        is_service_linked: false,
    };
    let mut context = request_context(&arn, "User", "AIDAEXAMPLEUSERID");
    context.insert_one("aws:username", "alice");
    for key in [
        "aws:PrincipalOrgID",
        "aws:PrincipalOrgPaths",
        "aws:PrincipalTag/team",
    ] {
        context.remove(key);
    }
    let applicable = Applicable {
        identity: refs(&policies),
        ..Applicable::default()
    };

    let allowed = format!("arn:aws:iam::{ACCOUNT}:user/dev/bob");
    let explicit = format!("arn:aws:iam::{ACCOUNT}:user/admin/root-breakglass");
    let implicit = format!("arn:aws:iam::{ACCOUNT}:user/finance/carol");
    bench_scenario(
        c,
        "user_10x10",
        &principal,
        &context,
        &applicable,
        &[
            ("allow", &allowed, Outcome::Allow, PolicyType::Identity),
            (
                "explicit_deny",
                &explicit,
                Outcome::ExplicitDeny,
                PolicyType::Identity,
            ),
            (
                "implicit_deny",
                &implicit,
                Outcome::ImplicitDeny,
                PolicyType::Identity,
            ),
        ],
    );
}

/// Guardrail SCPs, each `(name, statements)`, in the shapes organizations use.
fn guardrails() -> Vec<(&'static str, String)> {
    vec![
        (
            "DenyLeavingOrg",
            r#"{"Effect": "Deny", "Action": ["organizations:LeaveOrganization", "organizations:DeleteOrganization"], "Resource": "*"}"#.into(),
        ),
        (
            "RegionGuard",
            r#"{"Effect": "Deny",
                "NotAction": ["iam:*", "sts:*", "organizations:*", "support:*", "cloudfront:*", "route53:*", "budgets:*"],
                "Resource": "*",
                "Condition": {"StringNotLike": {"aws:RequestedRegion": ["us-*", "eu-west-1"]}}}"#
                .into(),
        ),
        (
            "ProtectSecurity",
            r#"{"Effect": "Deny", "Action": "iam:*",
                "Resource": ["arn:aws:iam::*:role/OrgSecurity*", "arn:aws:iam::*:user/breakglass*"],
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/OrgAdmin*"}}}"#
                .into(),
        ),
        (
            "MfaForDeletes",
            r#"{"Effect": "Deny",
                "Action": ["iam:DeleteUser", "iam:DeleteRole", "iam:DeleteAccountPasswordPolicy", "iam:DeactivateMFADevice"],
                "Resource": "*",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "false"}}}"#
                .into(),
        ),
        (
            "ProtectAudit",
            format!(
                r#"{{"Effect": "Deny", "Action": ["cloudtrail:StopLogging", "cloudtrail:DeleteTrail", "config:Delete*"],
                    "Resource": "*",
                    "Condition": {{"StringNotEquals": {{"aws:PrincipalArn": "arn:aws:iam::{ACCOUNT}:role/OrgAdmin"}}}}}}"#
            ),
        ),
        (
            "DenyRootUser",
            r#"{"Effect": "Deny", "Action": "*", "Resource": "*",
                "Condition": {"StringLike": {"aws:PrincipalArn": "arn:aws:iam::*:root"}}}"#
                .into(),
        ),
        (
            "SecureTransport",
            r#"{"Effect": "Deny", "Action": "s3:*", "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "false"}}}"#
                .into(),
        ),
        (
            "CorporateNetwork",
            r#"{"Effect": "Deny", "Action": "*", "Resource": "*",
                "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "203.0.113.0/24", "2001:db8::/32"]},
                              "Bool": {"aws:ViaAWSService": "false"}}}"#
                .into(),
        ),
        (
            "Expiry",
            r#"{"Effect": "Deny", "Action": "*", "Resource": "*",
                "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}}"#
                .into(),
        ),
        (
            "OwnOrgOnly",
            r#"{"Effect": "Deny", "Action": ["sts:AssumeRole", "iam:PassRole"], "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}}}"#
                .into(),
        ),
    ]
}

/// (b) A role session in an account three OUs deep, with SCPs at every level and a boundary.
fn role_org_5x5(c: &mut Criterion) {
    let levels = ["root", "ou-workloads", "ou-prod", "ou-platform", "account"];
    let pool = guardrails();
    let scps: Vec<Vec<(String, Policy)>> = levels
        .iter()
        .enumerate()
        .map(|(depth, level)| {
            let mut at_level = vec![parse(
                &format!("{level}/FullAWSAccess"),
                r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}"#,
                PolicyKind::Scp,
            )];
            for k in 0..4 {
                let (name, statement) = &pool[(depth * 4 + k) % pool.len()];
                let json =
                    format!(r#"{{"Version": "2012-10-17", "Statement": [{statement}]}}"#);
                at_level.push(parse(&format!("{level}/{name}"), &json, PolicyKind::Scp));
            }
            at_level
        })
        .collect();
    let names: Vec<&str> = scps
        .iter()
        .flatten()
        .map(|(name, _)| name.as_str())
        .collect();
    assert!(names.iter().any(|name| name.ends_with("/ProtectSecurity")));

    let deploy = format!(
        r#"{{"Version": "2012-10-17", "Statement": [
        {{"Sid": "ManageUsers", "Effect": "Allow",
          "Action": ["iam:AttachUserPolicy", "iam:DetachUserPolicy", "iam:CreateUser", "iam:TagUser"],
          "Resource": "arn:aws:iam::{ACCOUNT}:user/*",
          "Condition": {{"StringEquals": {{"aws:PrincipalTag/team": "platform"}}}}}},
        {{"Sid": "NoSelfEscalation", "Effect": "Deny", "Action": ["iam:AttachRolePolicy", "iam:PutRolePolicy"],
          "Resource": "arn:aws:iam::{ACCOUNT}:role/DeployRole"}},
        {{"Sid": "Artifacts", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
          "Resource": "arn:aws:s3:::deploy-artifacts-{ACCOUNT}/*"}},
        {{"Sid": "Stacks", "Effect": "Allow", "Action": "cloudformation:*",
          "Resource": "arn:aws:cloudformation:*:{ACCOUNT}:stack/app-*/*"}},
        {{"Sid": "PassAppRoles", "Effect": "Allow", "Action": "iam:PassRole",
          "Resource": "arn:aws:iam::{ACCOUNT}:role/app-*"}}
    ]}}"#
    );
    let identity = vec![
        parse(
            &format!("arn:aws:iam::{ACCOUNT}:policy/deploy"),
            &deploy,
            PolicyKind::Identity,
        ),
        parse(
            &format!("arn:aws:iam::{ACCOUNT}:policy/team3-access"),
            &team_policy(3),
            PolicyKind::Identity,
        ),
        parse(
            &format!("arn:aws:iam::{ACCOUNT}:policy/team7-access"),
            &team_policy(7),
            PolicyKind::Identity,
        ),
    ];
    let boundary = parse(
        &format!("arn:aws:iam::{ACCOUNT}:policy/DeveloperBoundary"),
        &format!(
            r#"{{"Version": "2012-10-17", "Statement": [
            {{"Sid": "Ceiling", "Effect": "Allow",
              "Action": ["iam:*", "s3:*", "ec2:*", "logs:*", "cloudformation:*", "sts:AssumeRole"], "Resource": "*"}},
            {{"Sid": "KeepBoundary", "Effect": "Deny",
              "Action": ["iam:DeleteRolePermissionsBoundary", "iam:PutRolePermissionsBoundary",
                         "iam:DeleteUserPermissionsBoundary"], "Resource": "*"}},
            {{"Sid": "BoundaryOnNewUsers", "Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*",
              "Condition": {{"StringNotEquals": {{"iam:PermissionsBoundary":
                "arn:aws:iam::{ACCOUNT}:policy/DeveloperBoundary"}}}}}},
            {{"Sid": "NoOrgRoles", "Effect": "Deny", "Action": "iam:*",
              "Resource": "arn:aws:iam::*:role/Org*"}},
            {{"Sid": "NoBoundaryEdits", "Effect": "Deny",
              "Action": ["iam:CreatePolicyVersion", "iam:DeletePolicy"],
              "Resource": "arn:aws:iam::{ACCOUNT}:policy/DeveloperBoundary"}}
        ]}}"#
        ),
        PolicyKind::Identity,
    );

    let role_arn = format!("arn:aws:iam::{ACCOUNT}:role/DeployRole");
    let principal = Principal {
        kind: PrincipalKind::AssumedRole,
        arn: format!("arn:aws:sts::{ACCOUNT}:assumed-role/DeployRole/ci-session"),
        account: ACCOUNT.into(),
        role_arn: Some(role_arn.clone()),
        federating_user_arn: None,
        is_service_linked: false,
    };
    let mut context = request_context(&role_arn, "AssumedRole", "AROAEXAMPLEROLEID:ci-session");
    context.insert_one("aws:TokenIssueTime", "2026-03-01T11:30:00Z");
    let applicable = Applicable {
        identity: refs(&identity),
        boundary: Some(PolicyRef {
            name: &boundary.0,
            policy: &boundary.1,
        }),
        scp_levels: Some(scps.iter().map(|level| refs(level)).collect()),
        ..Applicable::default()
    };

    let allowed = format!("arn:aws:iam::{ACCOUNT}:user/dev/bob");
    let denied = format!("arn:aws:iam::{ACCOUNT}:user/breakglass");
    bench_scenario(
        c,
        "role_org_5x5",
        &principal,
        &context,
        &applicable,
        &[
            ("allow", &allowed, Outcome::Allow, PolicyType::Identity),
            (
                "scp_explicit_deny",
                &denied,
                Outcome::ExplicitDeny,
                PolicyType::Scp,
            ),
        ],
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = user_10x10, role_org_5x5
}
criterion_main!(benches);
