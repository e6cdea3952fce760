Feature: A dedicated break-glass account, exempted by aws:PrincipalAccount

  The organization's SCP denies iam:* to every principal outside the break-glass account
  (999999999999). Workload admins and the workload's root are locked out of IAM by design;
  the break-glass account's root, exempt, keeps IAM rights and prepares the emergency admin
  role its responders assume.

  The exception is scoped to the principal's account: a session of a role in a workload
  account is a principal of that account, so the break-glass account cannot reach into a
  workload's IAM. Repairing a workload's SCP stays with the management account (see
  scp_lockout.feature).

  @break-glass @scp
  Scenario: the break-glass account keeps IAM while workloads are denied
    Given the world "scenarios/break-glass-account.yaml"
    Then alice cannot perform iam:AttachUserPolicy on "alice" because of an scp
    And root:222222222222 cannot perform iam:CreateUser on "arn:aws:iam::222222222222:user/mallory" because of an scp
    And nobody can administer IAM in account "222222222222"
    Given the drill variable BREAK_GLASS_ACCOUNT is "999999999999"
    When root:999999999999 runs the runbook "scenarios/runbooks/break-glass-account.md"
    Then arn:aws:sts::999999999999:assumed-role/EmergencyAdmin/responder can perform iam:CreateUser on "arn:aws:iam::999999999999:user/responder"
    And some principal other than root can administer IAM in account "999999999999"
    But alice cannot perform iam:AttachUserPolicy on "alice" because of an scp
