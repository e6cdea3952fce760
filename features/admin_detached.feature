Feature: AdministratorAccess detached from every user and role

  The last AdministratorAccess attachment is gone: nobody in the account can give admin rights
  back, except the account's root user, which no IAM policy binds.

  @admin-detached
  Scenario: the root user re-attaches AdministratorAccess
    Given the world "scenarios/admin-detached.yaml"
    Then alice cannot perform iam:AttachUserPolicy on "bob" because of identity
    When root:123456789012 runs the runbook "scenarios/runbooks/admin-detached.md"
    Then alice can perform iam:AttachUserPolicy on "bob"

  @admin-detached
  Scenario: a clean-up detaches AdministratorAccess from everyone; root gives it back
    Given the world "scenarios/admin-attached.yaml"
    When alice detaches the policy "AdministratorAccess" from every user, group and role
    Then alice cannot perform iam:AttachUserPolicy on "bob" because of identity
    And alice cannot perform iam:AttachRolePolicy on "role/MyRole" because of an identity-based policy
    When root:123456789012 runs the runbook "scenarios/runbooks/admin-detached.md"
    Then alice can perform iam:AttachUserPolicy on "bob"
    And alice can perform iam:AttachRolePolicy on "role/MyRole"
    Given the drill variable USER is "alice"
    When alice runs the runbook "scenarios/runbooks/verify-admin.md"
    Then some principal other than root can administer IAM in account "123456789012"
