//! The step vocabulary: build a world, bind drill variables, run a runbook as an actor, and
//! assert access both ways.
//!
//! Every step records itself (timing, status, events) in the scenario's [`Drill`], so the
//! report shows the whole timeline. Steps fail by returning an error, never by panicking, so
//! the world survives for the `after` hook that stops it.

use std::path::Path;
use std::sync::OnceLock;

use chrono::Utc;
use cucumber::gherkin::Step;
use cucumber::{given, then, when};

use super::access::{self, Access, SessionFacts};
use super::{Drill, Fault, Started};
use crate::gateway::credentials::Holder;
use crate::live::{LiveError, LiveWorld};
use crate::report::Event;
use crate::runbook::{self, Actor, Runbook, RunbookError, Tools};
use crate::world::World;

#[given(regex = r#"^the world "([^"]+)"$"#)]
async fn the_world(drill: &mut Drill, #[step] step: &Step, path: String) -> Result<(), String> {
    let started = Started::now(step);
    let result = bring_to_life(drill, &path).await;
    drill.finish(started, result)
}

#[given(regex = r#"^the drill variable (\w+) is "([^"]*)"$"#)]
async fn variable(
    drill: &mut Drill,
    #[step] step: &Step,
    name: String,
    value: String,
) -> Result<(), String> {
    let started = Started::now(step);
    drill.variables.insert(name, value);
    drill.finish(started, Ok(()))
}

#[given(regex = r"^the drill variable (\w+) is the organization root id$")]
async fn variable_org_root(
    drill: &mut Drill,
    #[step] step: &Step,
    name: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let result = drill.live().and_then(|live| {
        let world = live.gateway.world();
        let organization = world
            .organization
            .as_ref()
            .ok_or("the world has no organization")?;
        Ok(organization.root.id.clone())
    });
    let result = result.map(|id| {
        drill.variables.insert(name, id);
    });
    drill.finish(started, result)
}

#[when(regex = r#"^(\S+) runs the runbook "([^"]+)"$"#)]
async fn runs_runbook(
    drill: &mut Drill,
    #[step] step: &Step,
    actor: String,
    path: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let result = run_runbook(drill, &actor, &path).await;
    drill.finish(started, result)
}

#[then(regex = r#"^(\S+) cannot perform (\S+) on "([^"]*)"(?: because of (?:an? )?(.+))?$"#)]
async fn cannot(
    drill: &mut Drill,
    #[step] step: &Step,
    actor: String,
    action: String,
    resource: String,
    because: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let result = check(drill, &actor, &action, &resource, false).and_then(|access| {
        if because.is_empty() {
            return Ok(());
        }
        let expected = access::policy_type(&because)?;
        match access.decided_by {
            Some(decided) if decided == expected => Ok(()),
            decided => Err(format!(
                "`{}` was denied by {}, not by {}: {}",
                access.principal,
                decided.map_or("no policy", |kind| kind.name()),
                expected.name(),
                access.message.unwrap_or_default()
            )),
        }
    });
    if result.is_ok() && drill.lockout_at.is_none() {
        drill.lockout_at = Some(Utc::now());
    }
    drill.finish(started, result)
}

#[then(regex = r#"^(\S+) can perform (\S+) on "([^"]*)"$"#)]
async fn can(
    drill: &mut Drill,
    #[step] step: &Step,
    actor: String,
    action: String,
    resource: String,
) -> Result<(), String> {
    let started = Started::now(step);
    let result = check(drill, &actor, &action, &resource, true).map(|_| ());
    if result.is_ok() && drill.lockout_at.is_some() {
        drill.recovered_at = Some(Utc::now());
    }
    drill.finish(started, result)
}

async fn bring_to_life(drill: &mut Drill, path: &str) -> Result<(), String> {
    if drill.live.is_some() {
        return Err("the scenario already has a world; give one world per scenario".into());
    }
    let world = World::load(Path::new(path)).map_err(|problems| {
        drill.fault = drill.fault.max(Some(Fault::BadInput));
        problems.to_string()
    })?;
    let any_port = "127.0.0.1:0".parse().expect("a socket address");
    let live = LiveWorld::start(&world, &drill.emulator, &drill.lease, any_port)
        .await
        .map_err(|error| {
            if matches!(error, LiveError::Emulator(_)) {
                drill.fault = drill.fault.max(Some(Fault::Emulator));
            }
            format!("the world `{path}` did not come to life: {error}")
        })?;
    drill.live = Some(live);
    Ok(())
}

async fn run_runbook(drill: &mut Drill, actor: &str, path: &str) -> Result<(), String> {
    let book = Runbook::load(path).map_err(|problems| {
        drill.fault = drill.fault.max(Some(Fault::BadInput));
        problems.to_string()
    })?;
    let actor = Actor::from_credentials(&drill.live()?.credentials_file(), actor)
        .map_err(|error| error.to_string())?;
    let tools = tools()?;

    let mark = drill.live()?.gateway.decided_count();
    let result = runbook::run(&book, &actor, &mut drill.variables, tools).await;
    drill.record_calls_since(mark);
    if let Err(RunbookError::Invalid(_)) = &result {
        drill.fault = drill.fault.max(Some(Fault::BadInput));
    }
    result.map(|_| ()).map_err(|error| {
        format!(
            "the runbook `{path}` run as {} failed:\n{error}",
            actor.principal
        )
    })
}

/// `bash`, `jq` and the managed `aws` CLI, found (and installed) once per process.
fn tools() -> Result<&'static Tools, String> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    TOOLS
        .get_or_init(|| Tools::find(true).map_err(|error| error.to_string()))
        .as_ref()
        .map_err(Clone::clone)
}

/// Decides the request, records it as an event, and checks it against `expect_allowed`.
///
/// A role session that was really assumed is decided with what it was issued with (MFA, a
/// session policy); a root user that cannot sign in can do nothing at all.
fn check(
    drill: &mut Drill,
    actor: &str,
    action: &str,
    resource: &str,
    expect_allowed: bool,
) -> Result<Access, String> {
    let live = drill.live()?;
    let world = live.gateway.world();
    let now = Utc::now();
    let principal = drill.principal(actor)?;
    let session = session_facts(live, &principal);
    let blocked_root = principal
        .strip_suffix(":root")
        .and_then(|prefix| prefix.rsplit(':').next())
        .and_then(|account| {
            live.roots_unavailable()
                .into_iter()
                .find(|(unavailable, _)| unavailable == account)
        });

    let access = match blocked_root {
        Some((account, reason)) => Access {
            principal: principal.clone(),
            resource: resource.to_owned(),
            outcome: crate::policy::Outcome::ImplicitDeny,
            decided_by: None,
            message: Some(format!(
                "the root user of {account} cannot sign in: {reason}"
            )),
        },
        None => access::decide(
            &world,
            &principal,
            action,
            resource,
            now.timestamp(),
            session.as_ref(),
        )?,
    };
    drill.events.push(Event {
        at: now,
        actor: access.principal.clone(),
        call: action.to_owned(),
        resource: access.resource.clone(),
        decision: access.outcome.name().to_owned(),
        message: access.message.clone(),
    });

    match (expect_allowed, access.is_allowed()) {
        (true, true) | (false, false) => Ok(access),
        (true, false) => Err(format!(
            "expected {actor} to be allowed, but AWS would deny it: {}",
            access.message.unwrap_or_default()
        )),
        (false, true) => Err(format!(
            "expected {actor} to be denied {action} on `{}`, but AWS would allow it",
            access.resource
        )),
    }
}

/// What a really assumed role session was issued with, if `principal` is one.
fn session_facts(live: &LiveWorld, principal: &str) -> Option<SessionFacts> {
    live.credentials
        .all()
        .into_iter()
        .find_map(|credential| match credential.holder {
            Holder::RoleSession {
                session_policy,
                mfa,
                ..
            } if credential.holder.arn() == principal => Some(SessionFacts {
                mfa,
                policy: session_policy,
            }),
            _ => None,
        })
}
