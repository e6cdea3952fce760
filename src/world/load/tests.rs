//! Tests of the world loader: organization levels, generated ids, ARNs, located errors.

use super::*;

fn world(text: &str) -> World {
    World::parse("w.yaml", text, Path::new(".")).unwrap_or_else(|problems| panic!("{problems}"))
}

fn problems(text: &str) -> Vec<String> {
    let problems = World::parse("w.yaml", text, Path::new(".")).unwrap_err();
    problems.0.iter().map(ToString::to_string).collect()
}

const ORG: &str = r#"
organization:
  management_account: "111111111111"
  policies:
    Deny:
      type: scp
      document: {Statement: [{Effect: Deny, Action: "iam:*", Resource: "*"}]}
  root:
    accounts: ["111111111111"]
    ous:
      - name: A
        full_aws_access: false
        scps: [Deny]
        ous:
          - name: B
            accounts:
              - id: "222222222222"
                scps: [Deny]
"#;

#[test]
fn full_aws_access_is_attached_everywhere_unless_detached() {
    let world = world(ORG);
    let organization = world.organization.as_ref().unwrap();
    let path = organization.path_to("222222222222").unwrap();
    let scps: Vec<Vec<&str>> = path
        .iter()
        .map(|(_, attached)| attached.scps.iter().map(String::as_str).collect())
        .collect();
    assert_eq!(
        scps,
        vec![
            vec!["FullAWSAccess"],
            vec!["Deny"],
            vec!["FullAWSAccess"],
            vec!["FullAWSAccess", "Deny"]
        ]
    );
    assert!(
        path.iter()
            .all(|(_, attached)| attached.rcps == ["RCPFullAWSAccess"])
    );
}

#[test]
fn ids_and_org_paths_are_generated_stably() {
    let first = world(ORG);
    let second = world(ORG);
    let organization = first.organization.as_ref().unwrap();
    assert!(
        organization.id.starts_with("o-") && organization.id.len() == 12,
        "{}",
        organization.id
    );
    let path = organization.org_path_of("222222222222").unwrap();
    assert_eq!(path.matches('/').count(), 4, "{path}");
    assert_eq!(
        Some(path),
        second
            .organization
            .as_ref()
            .unwrap()
            .org_path_of("222222222222")
    );
    assert!(
        first.accounts.contains_key("222222222222"),
        "accounts of the tree exist"
    );
}

#[test]
fn users_and_roles_get_arns_ids_and_policies() {
    let world = world(
        r#"
accounts:
  "123456789012":
    policies:
      Boundary:
        path: /limits/
        document: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "s3:*", Resource: "*"}]}
    users:
      alice:
        path: /ops/
        managed_policies: [ReadOnlyAccess, arn:aws:iam::aws:policy/job-function/ViewOnlyAccess]
        permissions_boundary: Boundary
        tags: {team: platform}
    roles:
      Linked:
        service_linked: true
        trust_policy: '{"Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
"#,
    );
    let account = &world.accounts["123456789012"];
    let alice = &account.users["alice"];
    assert_eq!(alice.arn, "arn:aws:iam::123456789012:user/ops/alice");
    assert!(
        alice.id.starts_with("AIDA") && alice.id.len() == 21,
        "{}",
        alice.id
    );
    assert_eq!(
        alice.permissions_boundary.as_deref(),
        Some("arn:aws:iam::123456789012:policy/limits/Boundary")
    );
    assert!(
        world
            .policies
            .contains_key("arn:aws:iam::aws:policy/ReadOnlyAccess")
    );
    assert_eq!(
        account.roles["Linked"].arn,
        "arn:aws:iam::123456789012:role/aws-service-role/Linked"
    );
}

#[test]
fn organization_mistakes_are_located() {
    let found = problems(
        r#"
organization:
  management_account: "111111111111"
  policies:
    Bad: {type: scpp, document: {Statement: []}}
  root:
    accounts: ["111111111111"]
    scps: [Missing]
"#,
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("w.yaml:5:17: expected `type: scp` or `type: rcp`")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.starts_with("w.yaml:8:12: unknown organization policy `Missing`")),
        "{found:?}"
    );
}

#[test]
fn management_account_must_be_in_the_tree() {
    let found =
        problems("organization:\n  management_account: \"111111111111\"\n  root: {accounts: []}\n");
    assert!(
        found[0].contains("is not in the organization's tree"),
        "{found:?}"
    );
}

#[test]
fn cloudtrail_trails_are_named_as_cloudtrail_accepts() {
    let loaded = world(
        "accounts:\n  \"123456789012\":\n    cloudtrail_trails: [org-audit, second.trail_2]\n",
    );
    assert_eq!(
        loaded.accounts["123456789012"].cloudtrail_trails,
        ["org-audit", "second.trail_2"]
    );

    let found =
        problems("accounts:\n  \"123456789012\":\n    cloudtrail_trails: [ok-trail, -bad]\n");
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains(":3:")
            && found[0].contains("`-bad` is not a valid CloudTrail trail name"),
        "{found:?}"
    );
}
