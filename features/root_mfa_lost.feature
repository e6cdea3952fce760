Feature: The root user's MFA device is lost

  AdministratorAccess is gone from every user, so the root user is the way back in, and its
  MFA device is lost. Root cannot sign in until AWS account recovery (which verifies the root
  email and phone, and takes time that the drill declares rather than waits for) lets it in;
  it enables MFA on a new device before it repairs IAM.

  @root-mfa
  Scenario: account recovery, a new MFA device, then the root user repairs IAM
    Given the world "scenarios/root-mfa-lost.yaml"
    And the root user of account "123456789012" loses its MFA device
    Then the root user of account "123456789012" cannot sign in
    And alice cannot perform iam:AttachUserPolicy on "bob" because of identity
    And root:123456789012 cannot perform iam:AttachUserPolicy on "alice"
    When AWS account recovery restores root sign-in to account "123456789012", taking 24 hours
    Then the root user of account "123456789012" can sign in
    When the root user of account "123456789012" enables MFA on a new virtual device
    Then the root user of account "123456789012" has MFA enabled
    When root:123456789012 runs the runbook "scenarios/runbooks/admin-detached.md"
    Then alice can perform iam:AttachUserPolicy on "bob"
