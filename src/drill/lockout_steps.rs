//! Steps that change the world the way people and accidents do: assuming a role, the lockouts
//! of the runbook done as real API calls through the gateway, and what happens to a root user
//! outside any API (a lost MFA device, an unreachable email, AWS account recovery).
//!
//! Every API call a step makes is signed as the step's actor and decided by the gateway, so a
//! step whose actor lacks the rights fails with AWS's own AccessDenied text, and the calls
//! appear in the evidence timeline.

use std::time::Duration;

use chrono::Utc;
use cucumber::gherkin::Step;
use cucumber::{given, then, when};

use super::acting::{self, Signer};
use super::{Drill, Fault, Started};
use crate::diagnostic::{Diagnostic, Diagnostics, Pos};
use crate::live::root_sign_in_blocker;
use crate::policy::{PolicyKind, parse_policy};
use crate::report::DeclaredDelay;
use crate::world::OrgNode;

#[when(regex = r#"^(\S+) assumes the role "([^"]+)" as "([^"]+)"( with MFA)?$"#)]
async fn assumes_role(
    drill: &mut Drill,
    #[step] step: &Step,
    actor: String,
    role: String,
    session_name: String,
    with_mfa: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let mark = drill.decided_mark();
    let result = assume(drill, &actor, &role, &session_name, !with_mfa.is_empty()).await;
    drill.record_calls_since(mark);
    drill.finish(started, result)
}

#[given(regex = r#"^(\S+) detaches the policy "([^"]+)" from every user, group and role$"#)]
#[when(regex = r#"^(\S+) detaches the policy "([^"]+)" from every user, group and role$"#)]
async fn detaches_everywhere(
    drill: &mut Drill,
    #[step] step: &Step,
    actor: String,
    policy: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let mark = drill.decided_mark();
    let result = detach_everywhere(drill, &actor, &policy).await;
    drill.record_calls_since(mark);
    drill.finish(started, result)
}

#[given(regex = r#"^(\S+) deletes the (user|role) "([^"]+)"$"#)]
#[when(regex = r#"^(\S+) deletes the (user|role) "([^"]+)"$"#)]
async fn deletes(
    drill: &mut Drill,
    #[step] step: &Step,
    actor: String,
    kind: String,
    name: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let mark = drill.decided_mark();
    let result = delete(drill, &actor, &kind, &name).await;
    drill.record_calls_since(mark);
    drill.finish(started, result)
}

#[given(regex = r#"^(\S+) attaches an SCP named "([^"]+)" to "([^"]+)"(?: from "([^"]+)")?$"#)]
#[when(regex = r#"^(\S+) attaches an SCP named "([^"]+)" to "([^"]+)"(?: from "([^"]+)")?$"#)]
async fn attaches_scp(
    drill: &mut Drill,
    #[step] step: &Step,
    actor: String,
    name: String,
    target: String,
    file: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let mark = drill.decided_mark();
    let result = attach_scp(drill, step, &actor, &name, &target, &file).await;
    drill.record_calls_since(mark);
    drill.finish(started, result)
}

#[given(regex = r#"^the root user of account "(\d{12})" loses its MFA device$"#)]
#[when(regex = r#"^the root user of account "(\d{12})" loses its MFA device$"#)]
async fn loses_mfa(drill: &mut Drill, #[step] step: &Step, account: String) -> Result<(), String> {
    let started = Started::now(step);
    let result = change_root(drill, &account, |root| {
        if !root.mfa_enabled {
            return Err(format!(
                "the root user of {account} has no MFA device to lose: set `root: {{mfa_enabled: \
                 true}}` in the world"
            ));
        }
        root.mfa_device_at_hand = false;
        Ok(())
    })
    .await;
    drill.finish(started, result)
}

#[given(regex = r#"^the root user of account "(\d{12})" loses access to its email$"#)]
#[when(regex = r#"^the root user of account "(\d{12})" loses access to its email$"#)]
async fn loses_email(
    drill: &mut Drill,
    #[step] step: &Step,
    account: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let result = change_root(drill, &account, |root| {
        root.email_reachable = false;
        Ok(())
    })
    .await;
    drill.finish(started, result)
}

#[when(
    regex = r#"^AWS account recovery restores root sign-in to account "(\d{12})", taking (\d+) (minutes?|hours?|days?)$"#
)]
async fn account_recovery(
    drill: &mut Drill,
    #[step] step: &Step,
    account: String,
    amount: u64,
    unit: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let result = recover_root(drill, &account, declared(amount, &unit)).await;
    drill.finish(started, result)
}

#[when(regex = r#"^the root user of account "(\d{12})" enables MFA on a new virtual device$"#)]
async fn enables_mfa(
    drill: &mut Drill,
    #[step] step: &Step,
    account: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let mark = drill.decided_mark();
    let result = enable_root_mfa(drill, &account).await;
    drill.record_calls_since(mark);
    drill.finish(started, result)
}

#[then(regex = r#"^the root user of account "(\d{12})" (can|cannot) sign in$"#)]
async fn root_sign_in(
    drill: &mut Drill,
    #[step] step: &Step,
    account: String,
    can: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let result = drill.root_user(&account).and_then(|root| {
        match (can == "can", root_sign_in_blocker(&root)) {
            (true, None) | (false, Some(_)) => Ok(()),
            (true, Some(reason)) => Err(format!(
                "expected the root user of {account} to sign in, but it cannot: {reason}"
            )),
            (false, None) => Err(format!(
                "expected the root user of {account} to be unable to sign in, but it can: its \
                 email is reachable and its MFA device (if any) is at hand"
            )),
        }
    });
    if can == "cannot" && result.is_ok() && drill.lockout_at.is_none() {
        drill.lockout_at = Some(Utc::now());
    }
    if can == "can" && result.is_ok() && drill.lockout_at.is_some() {
        drill.recovered_at = Some(Utc::now());
    }
    drill.finish(started, result)
}

async fn assume(
    drill: &mut Drill,
    actor: &str,
    role: &str,
    session_name: &str,
    mfa: bool,
) -> Result<(), String> {
    let signer = drill.signer(actor)?;
    let role_arn = if role.starts_with("arn:") {
        role.to_owned()
    } else {
        let account = signer.principal.split(':').nth(4).unwrap_or_default();
        format!("arn:aws:iam::{account}:role/{role}")
    };

    let assumed = acting::assume_role(&signer, &role_arn, session_name, mfa)
        .await
        .map_err(|error| format!("{} could not assume {role_arn}: {error}", signer.principal))?;
    tracing::info!(session = %assumed.session_arn, mfa, "role assumed");

    // The gateway learns a session from AssumeRole's answer; one it missed could not act in
    // the steps after this one.
    let live = drill.live()?;
    if live.credentials.get(&assumed.keys.access_key_id).is_none() {
        return Err(format!(
            "the gateway did not learn the session {} from AssumeRole's answer",
            assumed.session_arn
        ));
    }
    drill
        .variables
        .insert("SESSION_ARN".to_owned(), assumed.session_arn);
    Ok(())
}

async fn detach_everywhere(drill: &mut Drill, actor: &str, policy: &str) -> Result<(), String> {
    let signer = drill.signer(actor)?;
    let policy_arn = policy_arn(&signer, policy);
    let detached = acting::detach_everywhere(&signer, &policy_arn)
        .await
        .map_err(|error| {
            format!(
                "{} could not detach {policy_arn}: {error}",
                signer.principal
            )
        })?;
    if detached.is_empty() {
        return Err(format!(
            "{policy_arn} is attached to no user, group or role: the lockout changed nothing"
        ));
    }
    tracing::info!(policy = %policy_arn, from = ?detached, "policy detached everywhere");
    Ok(())
}

async fn delete(drill: &mut Drill, actor: &str, kind: &str, name: &str) -> Result<(), String> {
    let signer = drill.signer(actor)?;
    let deleted = match kind {
        "user" => acting::delete_user(&signer, name).await,
        _ => acting::delete_role(&signer, name).await,
    };
    deleted.map_err(|error| {
        format!(
            "{} could not delete {kind} {name}: {error}",
            signer.principal
        )
    })
}

async fn attach_scp(
    drill: &mut Drill,
    step: &Step,
    actor: &str,
    name: &str,
    target: &str,
    file: &str,
) -> Result<(), String> {
    let document = scp_document(drill, step, file)?;
    let target_id = organization_target(drill, target)?;
    let signer = drill.signer(actor)?;

    let policy_id = acting::attach_scp(&signer, name, &document, &target_id)
        .await
        .map_err(|error| {
            format!(
                "{} could not attach the SCP {name} to {target_id}: {error}",
                signer.principal
            )
        })?;
    drill
        .variables
        .insert("SCP_POLICY_ID".to_owned(), policy_id);
    Ok(())
}

/// The SCP's text, from `file` or the step's docstring, checked as AWS checks an SCP: a
/// mistake is reported where it is, in the feature file or the policy file.
fn scp_document(drill: &mut Drill, step: &Step, file: &str) -> Result<String, String> {
    let (origin, text, shift) = if file.is_empty() {
        let Some(text) = step.docstring.as_deref() else {
            drill.fault = drill.fault.max(Some(Fault::BadInput));
            return Err(
                "give the SCP as a docstring under the step, or `from \"FILE\"` at its end".into(),
            );
        };
        let shift = docstring_shift(drill, step);
        (drill.feature_path.clone(), text.to_owned(), shift)
    } else {
        let text = std::fs::read_to_string(file).map_err(|error| {
            drill.fault = drill.fault.max(Some(Fault::BadInput));
            format!("cannot read the SCP file `{file}`: {error}")
        })?;
        (file.to_owned(), text, None)
    };

    if let Err(problems) = parse_policy(&origin, &text, PolicyKind::Scp) {
        drill.fault = drill.fault.max(Some(Fault::BadInput));
        let problems = match shift {
            Some((lines, columns)) => Diagnostics(
                problems
                    .0
                    .into_iter()
                    .map(|problem| Diagnostic {
                        at: Pos::new(problem.at.line + lines, problem.at.column + columns),
                        ..problem
                    })
                    .collect(),
            ),
            None => problems,
        };
        return Err(problems.to_string());
    }
    Ok(text)
}

/// How far a docstring's own lines and columns sit from the feature file's: the docstring
/// starts on the line after its opening `"""`, indented like it.
fn docstring_shift(drill: &Drill, step: &Step) -> Option<(u32, u32)> {
    let source = std::fs::read_to_string(&drill.feature_path).ok()?;
    let step_line = u32::try_from(step.position.line).ok()?;
    let opening = source
        .lines()
        .enumerate()
        .skip(step.position.line)
        .find(|(_, line)| {
            let trimmed = line.trim_start();
            trimmed.starts_with("\"\"\"") || trimmed.starts_with("```")
        })?;
    let indent = opening.1.len() - opening.1.trim_start().len();
    let opening_line = u32::try_from(opening.0 + 1).ok()?;

    // The parser keeps the line break after the opening `"""` as the docstring's first line.
    let leading_break = step
        .docstring
        .as_deref()
        .is_some_and(|text| text.starts_with('\n'));
    let lines = opening_line.max(step_line) - u32::from(leading_break);
    Some((lines, u32::try_from(indent).ok()?))
}

/// The id of the organization root, an OU, or an account named by `target`: `root`, an id,
/// or a name.
fn organization_target(drill: &mut Drill, target: &str) -> Result<String, String> {
    let world = drill.live()?.gateway.world();
    let organization = world.organization.as_ref().ok_or_else(|| {
        "the world has no organization, so there is nothing to attach an SCP to".to_owned()
    })?;
    if target == "root" {
        return Ok(organization.root.id.clone());
    }

    fn find(node: &OrgNode, target: &str) -> Option<String> {
        if node.id == target || node.name == target {
            return Some(node.id.clone());
        }
        if let Some(account) = node.accounts.iter().find(|account| account.id == target) {
            return Some(account.id.clone());
        }
        node.children.iter().find_map(|child| find(child, target))
    }
    let by_account_name = world
        .accounts
        .values()
        .find(|account| account.name.as_deref() == Some(target))
        .map(|account| account.id.clone());
    find(&organization.root, target)
        .or(by_account_name)
        .ok_or_else(|| {
            drill.fault = drill.fault.max(Some(Fault::BadInput));
            format!(
                "no `{target}` in the organization: name `root`, an OU by name or id, or an \
                 account by name or id"
            )
        })
}

/// A policy named in a step: an ARN, an AWS-managed policy name, or a customer-managed policy
/// of the actor's account.
fn policy_arn(signer: &Signer, policy: &str) -> String {
    if policy.starts_with("arn:") {
        return policy.to_owned();
    }
    if crate::world::managed::built_in(policy).is_some() {
        return format!("arn:aws:iam::aws:policy/{policy}");
    }
    let account = signer.principal.split(':').nth(4).unwrap_or_default();
    format!("arn:aws:iam::{account}:policy/{policy}")
}

async fn change_root(
    drill: &mut Drill,
    account: &str,
    change: impl FnOnce(&mut crate::world::RootUser) -> Result<(), String>,
) -> Result<(), String> {
    let changed = drill.live()?.change_root(account, change).await?;
    tracing::info!(account, ?changed, "root user changed");
    Ok(())
}

/// AWS account recovery for a root user whose MFA device is lost: AWS checks the root email
/// (and phone) and then lets the root user sign in without the device. It cannot help a root
/// user whose email is gone, and no drill can wait for it, so its duration is declared.
async fn recover_root(drill: &mut Drill, account: &str, takes: Duration) -> Result<(), String> {
    change_root(drill, account, |root| {
        if !root.email_reachable {
            return Err(format!(
                "AWS account recovery for the root user of {account} verifies the root email \
                 address first, and that email is not reachable: account recovery cannot \
                 restore root sign-in"
            ));
        }
        root.mfa_enabled = false;
        root.mfa_device_at_hand = false;
        Ok(())
    })
    .await?;

    drill.declared_delays.push(DeclaredDelay {
        what: format!("AWS account recovery for the root user of {account}"),
        duration: takes,
    });
    Ok(())
}

/// Creates the root user's new virtual MFA device through the gateway, as the root user, and
/// records that root MFA is enabled on a device at hand.
async fn enable_root_mfa(drill: &mut Drill, account: &str) -> Result<(), String> {
    let signer = drill.signer(&format!("root:{account}"))?;
    let serial = acting::create_virtual_mfa_device(&signer, "root-account-mfa-device")
        .await
        .map_err(|error| format!("the root user of {account} could not enable MFA: {error}"))?;
    tracing::info!(account, serial, "root MFA device created");

    change_root(drill, account, |root| {
        root.mfa_enabled = true;
        root.mfa_device_at_hand = true;
        Ok(())
    })
    .await
}

fn declared(amount: u64, unit: &str) -> Duration {
    let seconds = match unit.trim_end_matches('s') {
        "minute" => 60,
        "hour" => 3600,
        _ => 86_400,
    };
    Duration::from_secs(amount.saturating_mul(seconds))
}

impl Drill {
    /// The actor's credentials, to sign API calls with through the gateway.
    pub(super) fn signer(&self, actor: &str) -> Result<Signer, String> {
        let live = self.live()?;
        let file = live.credentials_file();
        let found = file.find(actor)?;
        Ok(Signer {
            principal: found.principal.clone(),
            keys: crate::sdk::Keys {
                access_key_id: found.access_key_id.clone(),
                secret_access_key: found.secret_access_key.clone(),
                session_token: found.session_token.clone(),
            },
            endpoint: live.gateway.endpoint(),
        })
    }

    pub(super) fn decided_mark(&self) -> usize {
        self.live
            .as_ref()
            .map_or(0, |live| live.gateway.decided_count())
    }
}
