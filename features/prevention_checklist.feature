Feature: The prevention checklist

  The runbook's checklist as assertions on an organization that follows it: an admin besides
  root, a break-glass role exempt from the SCP that denies IAM, root MFA on a device at hand,
  and a CloudTrail trail that records who changed what.
  The drill then uses the break-glass path the checklist promises.

  @checklist @break-glass
  Scenario: the checklist holds, and its break-glass path works
    Given the world "scenarios/scp-denies-iam.yaml"
    Then some principal other than root can administer IAM in account "222222222222"
    And the role "BreakGlassAdminRole" in account "222222222222" is exempt from every SCP
    And the root user of account "222222222222" has MFA enabled
    And the root user of account "111111111111" has MFA enabled
    And a CloudTrail trail exists in account "222222222222"
    But alice cannot perform iam:AttachUserPolicy on "bob" because of an scp
    When alice assumes the role "BreakGlassAdminRole" as "audit" with MFA
    Then audit can perform iam:AttachUserPolicy on "bob"
