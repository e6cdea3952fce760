Feature: The only admin user is deleted

  An offboarding automation deletes the one IAM user that held AdministratorAccess. What is
  left in the account may delete but not grant, so only the root user can administer IAM;
  it creates the admin again.

  @admin-deleted
  Scenario: the root user recreates the deleted admin
    Given the world "scenarios/only-admin.yaml"
    Then some principal other than root can administer IAM in account "123456789012"
    When offboarder deletes the user "admin"
    Then offboarder cannot perform iam:AttachUserPolicy on "offboarder" because of identity
    And offboarder cannot perform iam:CreateUser on "arn:aws:iam::123456789012:user/admin"
    Given the drill variable ACCOUNT_ID is "123456789012"
    And the drill variable ADMIN is "admin"
    When root:123456789012 runs the runbook "scenarios/runbooks/recreate-admin.md"
    Then admin can perform iam:AttachUserPolicy on "offboarder"
    And some principal other than root can administer IAM in account "123456789012"
