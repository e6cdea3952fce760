Feature: An SCP denies IAM to everyone but a break-glass role

  The runbook's production SCP denies `iam:*` in a member account, except to
  BreakGlassAdminRole (a StringNotEquals condition on aws:PrincipalArn). Nobody else in the
  account, its root user included, can repair IAM; an admin assumes the break-glass role with
  MFA and makes the change as that role.

  @break-glass @scp
  Scenario: an admin repairs IAM through the break-glass role, and only through it
    Given the world "scenarios/scp-denies-iam.yaml"
    Then alice cannot perform iam:AttachUserPolicy on "bob" because of an scp
    And root:222222222222 cannot perform iam:AttachUserPolicy on "bob" because of an scp
    Given the drill variable ACCOUNT_ID is "222222222222"
    And the drill variable ADMIN is "alice"
    And the drill variable USER is "bob"
    When alice runs the runbook "scenarios/runbooks/break-glass-role.md"
    Then arn:aws:sts::222222222222:assumed-role/BreakGlassAdminRole/recovery can perform iam:AttachUserPolicy on "bob"
    But alice cannot perform iam:AttachUserPolicy on "bob" because of an scp
    And bob cannot perform iam:CreateUser on "arn:aws:iam::222222222222:user/carol" because of an scp
