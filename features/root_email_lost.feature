Feature: The root user's email is lost

  Without its email the root user cannot reset its password or go through account recovery.
  If root was the only way back in, nothing can recover the account: the drill must prove
  it, and say why. With a break-glass role in place, the same loss is survivable.

  @root-email @expect-unrecoverable
  Scenario: no break-glass path: nothing can recover IAM
    Given the world "scenarios/admin-detached.yaml"
    And the root user of account "123456789012" loses access to its email
    Then alice cannot perform iam:AttachUserPolicy on "bob" because of identity
    And the root user of account "123456789012" cannot sign in
    When root:123456789012 runs the runbook "scenarios/runbooks/admin-detached.md"
    Then alice can perform iam:AttachUserPolicy on "bob"

  @root-email @break-glass
  Scenario: a break-glass role recovers what root no longer can
    Given the world "scenarios/break-glass-standalone.yaml"
    And the root user of account "123456789012" loses access to its email
    When alice detaches the policy "AdministratorAccess" from every user, group and role
    Then alice cannot perform iam:AttachUserPolicy on "bob" because of identity
    And the root user of account "123456789012" cannot sign in
    But some principal other than root can administer IAM in account "123456789012"
    Given the drill variable ACCOUNT_ID is "123456789012"
    And the drill variable USER is "alice"
    When alice assumes the role "BreakGlassAdminRole" as "recovery" with MFA
    And recovery runs the runbook "scenarios/runbooks/break-glass-restore.md"
    Then alice can perform iam:AttachUserPolicy on "bob"
