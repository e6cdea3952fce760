Feature: AdministratorAccess detached from every user and role

  The last AdministratorAccess attachment is gone: nobody in the account can give admin rights
  back, except the account's root user, which no IAM policy binds.

  @admin-detached
  Scenario: the root user re-attaches AdministratorAccess
    Given the world "scenarios/admin-detached.yaml"
    Then alice cannot perform iam:AttachUserPolicy on "bob" because of identity
    When root:123456789012 runs the runbook "scenarios/runbooks/admin-detached.md"
    Then alice can perform iam:AttachUserPolicy on "bob"
