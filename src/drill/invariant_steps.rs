//! The prevention checklist as assertions: some principal besides root can administer IAM, a
//! break-glass role is exempt from every restrictive SCP, the root user has MFA, a CloudTrail
//! trail records who changed what (read from the emulator, which the gateway does not front
//! for CloudTrail). They are
//! decided on the gateway's live state, so a drill can check them before a lockout, after a
//! recovery, or as a scenario of their own in a team's regular audit.

use chrono::Utc;
use cucumber::gherkin::Step;
use cucumber::then;

use super::access::decide_query;
use super::paths::{ADMIN_ACTIONS, recovery_paths};
use super::{Drill, Started};
use crate::gateway::caller_context;
use crate::policy::{Effect, PolicyType};
use crate::world::{OrgPolicyType, Query, World};

#[then(regex = r#"^some principal other than root can administer IAM in account "(\d{12})"$"#)]
async fn admin_besides_root(
    drill: &mut Drill,
    #[step] step: &Step,
    account: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let result = drill.live().and_then(|live| {
        let paths = recovery_paths(&live.gateway.world(), &account, Utc::now().timestamp())?;
        let others: Vec<String> = paths
            .besides_root()
            .map(|admin| format!("{} ({})", admin.principal, admin.reached))
            .collect();
        if others.is_empty() {
            return Err(format!(
                "only the root user (if anyone) can administer IAM in account {account}; \
                 nobody else can:\n{}",
                paths.explain_blocked()
            ));
        }
        tracing::info!(account, administrators = ?others, "IAM administrators besides root");
        Ok(())
    });
    drill.finish(started, result)
}

#[then(regex = r#"^nobody can administer IAM in account "(\d{12})"$"#)]
async fn nobody_administers(
    drill: &mut Drill,
    #[step] step: &Step,
    account: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let result = drill.live().and_then(|live| {
        let paths = recovery_paths(&live.gateway.world(), &account, Utc::now().timestamp())?;
        if let Some(admin) = paths.administrators.first() {
            return Err(format!(
                "{} can still administer IAM in account {account} ({})",
                admin.principal, admin.reached
            ));
        }
        Ok(())
    });
    if result.is_ok() && drill.lockout_at.is_none() {
        drill.lockout_at = Some(Utc::now());
    }
    drill.finish(started, result)
}

#[then(regex = r#"^the role "([^"]+)" in account "(\d{12})" is exempt from every SCP$"#)]
async fn role_exempt_from_scps(
    drill: &mut Drill,
    #[step] step: &Step,
    role: String,
    account: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let result = drill
        .live()
        .and_then(|live| exempt_from_scps(&live.gateway.world(), &role, &account));
    drill.finish(started, result)
}

#[then(regex = r#"^the root user of account "(\d{12})" has MFA enabled$"#)]
async fn root_has_mfa(
    drill: &mut Drill,
    #[step] step: &Step,
    account: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let result = drill.root_user(&account).and_then(|root| {
        match (root.mfa_enabled, root.mfa_device_at_hand) {
            (true, true) => Ok(()),
            (true, false) => Err(format!(
                "the root user of {account} has MFA enabled, but its device is lost"
            )),
            (false, _) => Err(format!(
                "the root user of {account} has no MFA: anyone with its password can sign in"
            )),
        }
    });
    drill.finish(started, result)
}

#[then(regex = r#"^a CloudTrail trail exists in account "(\d{12})"$"#)]
async fn cloudtrail_trail_exists(
    drill: &mut Drill,
    #[step] step: &Step,
    account: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let result = match drill.live() {
        Ok(live) => {
            let endpoint = live.emulator.endpoint().to_owned();
            crate::provision::cloudtrail::trail_names(&endpoint, &account)
                .await
                .map_err(|error| error.to_string())
                .and_then(|trails| {
                    if trails.is_empty() {
                        return Err(format!(
                            "account {account} has no CloudTrail trail: nobody could tell who \
                             made the breaking change"
                        ));
                    }
                    tracing::info!(account, ?trails, "CloudTrail trails");
                    Ok(())
                })
        }
        Err(error) => Err(error),
    };
    drill.finish(started, result)
}

/// Passes when a session of `role` (assumed with MFA) is allowed every administrator action
/// by every SCP on the way to `account`; names the SCPs that restrict others.
fn exempt_from_scps(world: &World, role: &str, account: &str) -> Result<(), String> {
    let found = world
        .accounts
        .get(account)
        .and_then(|home| home.roles.get(role))
        .ok_or_else(|| format!("no role `{role}` in account {account}"))?;
    let organization = world
        .organization
        .as_ref()
        .ok_or("the world has no organization, so no SCP applies")?;
    let path = organization.path_to(account).ok_or_else(|| {
        format!("account {account} is not in the organization, so no SCP applies")
    })?;

    // The SCPs that deny something: the ones a break-glass role must be exempt from.
    let restrictive: Vec<&str> = path
        .iter()
        .flat_map(|(_, attached)| &attached.scps)
        .filter(|name| {
            organization.policies.get(name.as_str()).is_some_and(|scp| {
                scp.policy_type == OrgPolicyType::Scp
                    && scp
                        .policy
                        .statements
                        .iter()
                        .any(|statement| statement.effect == Effect::Deny)
            })
        })
        .map(String::as_str)
        .collect();

    let session = format!(
        "arn:aws:sts::{account}:assumed-role/{}/break-glass",
        found.name
    );
    for (action, resource) in ADMIN_ACTIONS {
        let query = Query {
            principal: session.clone(),
            action: (*action).to_owned(),
            resource: format!("arn:aws:iam::{account}:{resource}"),
            resource_account: None,
            context: caller_context(Some(true)),
            session_policy: None,
        };
        let access = decide_query(world, &query, Utc::now().timestamp())?;
        if !access.is_allowed() && access.decided_by == Some(PolicyType::Scp) {
            return Err(format!(
                "the role {} is not exempt: {}",
                found.arn,
                access.message.unwrap_or_default()
            ));
        }
    }
    tracing::info!(role = %found.arn, exempt_from = ?restrictive, "break-glass role exempt");
    Ok(())
}
