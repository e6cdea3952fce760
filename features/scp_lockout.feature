Feature: An SCP denies all of IAM in a member account

  The SCP has no exception: the member account's admins and its root user are locked out of
  IAM. The management account's root user, which SCPs never bind, adds a break-glass exception.

  @scp
  Scenario: the management root adds a break-glass exception to the SCP
    Given the world "scenarios/scp-no-exception.yaml"
    Then alice cannot perform iam:AttachUserPolicy on "alice" because of an scp
    And root:222222222222 cannot perform iam:AttachUserPolicy on "alice" because of an scp
    Given the drill variable ACCOUNT_ID is "222222222222"
    And the drill variable POLICY_NAME is "DenyAllIam"
    And the drill variable TARGET_ID is the organization root id
    When root:111111111111 runs the runbook "scenarios/runbooks/scp-fix.md"
    Then arn:aws:sts::222222222222:assumed-role/BreakGlassAdminRole/recovery can perform iam:AttachUserPolicy on "alice"
    But alice cannot perform iam:AttachUserPolicy on "alice" because of an scp
