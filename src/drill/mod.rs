//! The drill runner: Gherkin scenarios that build a lockout, prove it, run the documented
//! recovery and prove that access came back.
//!
//! Each scenario gets a [`Drill`] of its own, with its own emulator and gateway, stopped by
//! the `after` hook however the scenario ends. cucumber is configured here, never from the
//! process's arguments, and an undefined step fails the run. The steps are in [`steps`]; what
//! a run proved is gathered into a [`RunReport`].
//!
//! A scenario counts as recovered only if every step passed and it proved a lockout (a passing
//! `cannot` step) followed by access regained (a passing `can` step): a drill that never
//! locked anyone out proves nothing about recovery.

mod access;
mod acting;
mod invariant_steps;
mod lockout_steps;
mod paths;
mod steps;
pub mod vocabulary;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{DateTime, Utc};
use cucumber::event::ScenarioFinished;
use cucumber::gherkin::{self, tagexpr::TagOperation};
use cucumber::writer::Stats as _;
use cucumber::{World as _, cli};
use futures::FutureExt as _;

use crate::emulator::{EmulatorKind, LeaseOptions};
use crate::live::LiveWorld;
use crate::report::{
    DeclaredDelay, Event, RunReport, ScenarioReport, StepReport, StepStatus, Verdict,
};

pub use access::{Access, decide};

/// What `lockdrill run` was asked to do.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Feature files or directories of them.
    pub paths: Vec<PathBuf>,
    /// A cucumber tag expression, e.g. `@scp and not @slow`.
    pub tags: Option<String>,
    /// A regular expression that scenario names must match.
    pub name: Option<String>,
    /// How many scenarios run at once; the number of cores (at least 2) when not given.
    pub concurrency: Option<usize>,
    /// The emulator every scenario's world lives in.
    pub emulator: EmulatorKind,
    pub lease: LeaseOptions,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            paths: Vec::new(),
            tags: None,
            name: None,
            concurrency: None,
            emulator: EmulatorKind::Moto,
            lease: LeaseOptions::default(),
        }
    }
}

/// Why a run is worse than a failed drill; the worst one sets the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Fault {
    /// A feature, world or runbook could not be read.
    BadInput,
    /// The emulator could not be started.
    Emulator,
}

/// One run of the drills: the report, and whatever stopped it from being a plain pass/fail.
#[derive(Debug)]
pub struct DrillRun {
    pub report: RunReport,
    pub fault: Option<Fault>,
    /// Steps that matched no definition, as `path:line: text`.
    pub undefined: Vec<String>,
    /// Feature files cucumber could not parse.
    pub parsing_errors: usize,
}

impl DrillRun {
    /// The exit code of `lockdrill run`: 0 every drill passed, 1 a drill failed, 2 bad input
    /// (including a run that matched no scenario at all), 3 the emulator could not be started.
    pub fn exit_code(&self) -> u8 {
        match self.fault {
            Some(Fault::Emulator) => 3,
            Some(Fault::BadInput) => 2,
            None if self.parsing_errors > 0 || self.report.scenarios.is_empty() => 2,
            None if self.report.failed() > 0 || !self.undefined.is_empty() => 1,
            None => 0,
        }
    }
}

/// Runs every scenario under `options.paths`, printing cucumber's progress to stdout.
pub async fn run(options: &RunOptions) -> Result<DrillRun, String> {
    let tags = match &options.tags {
        Some(expression) => Some(
            expression
                .parse::<TagOperation>()
                .map_err(|error| format!("bad tag expression `{expression}`: {error}"))?,
        ),
        None => None,
    };
    let name = match &options.name {
        Some(pattern) => Some(
            regex::Regex::new(pattern)
                .map_err(|error| format!("bad scenario name pattern `{pattern}`: {error}"))?,
        ),
        None => None,
    };
    let paths = if options.paths.is_empty() {
        vec![PathBuf::from("features")]
    } else {
        options.paths.clone()
    };
    if let Some(missing) = paths.iter().find(|path| !path.exists()) {
        return Err(format!(
            "no feature file or directory `{}`",
            missing.display()
        ));
    }

    let started_at = Utc::now();
    let collected = Arc::new(Mutex::new(Collected::default()));
    let mut parsing_errors = 0;
    for path in &paths {
        let filter = Filter {
            tags: tags.clone(),
            name: name.clone(),
        };
        parsing_errors += run_path(path, filter, options, collected.clone()).await;
    }

    let Collected {
        mut scenarios,
        fault,
        undefined,
    } = std::mem::take(
        &mut *collected
            .lock()
            .expect("no scenario panicked holding the lock"),
    );
    scenarios.sort_by(|a, b| (&a.feature_path, a.line).cmp(&(&b.feature_path, b.line)));
    let report = RunReport {
        started_at,
        finished_at: Utc::now(),
        emulator: emulator_label(&options.emulator),
        lockdrill_version: env!("CARGO_PKG_VERSION").to_owned(),
        scenarios,
    };
    Ok(DrillRun {
        report,
        fault,
        undefined,
        parsing_errors,
    })
}

/// How the report names an emulator.
fn emulator_label(kind: &EmulatorKind) -> String {
    match kind {
        EmulatorKind::Moto => "moto (process)".to_owned(),
        EmulatorKind::ContainerMoto { image } | EmulatorKind::ContainerLocalStack { image } => {
            format!("{kind} ({image})")
        }
        EmulatorKind::External { url } => format!("external ({url})"),
    }
}

/// Which scenarios run.
struct Filter {
    tags: Option<TagOperation>,
    name: Option<regex::Regex>,
}

/// Runs one feature file or directory; returns cucumber's count of parsing errors.
async fn run_path(
    path: &Path,
    filter: Filter,
    options: &RunOptions,
    collected: Arc<Mutex<Collected>>,
) -> usize {
    let cucumber_options = cli::Opts::<_, _, _, cli::Empty> {
        tags_filter: filter.tags,
        re_filter: filter.name,
        ..Default::default()
    };

    // Each scenario runs its own emulator: more of them than cores only thrash.
    let concurrency = options
        .concurrency
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get().max(2)));
    let emulator = options.emulator.clone();
    let lease = options.lease.clone();
    let writer = Drill::cucumber()
        .max_concurrent_scenarios(concurrency)
        .fail_on_skipped()
        .before(move |feature, _, _, drill| {
            drill.feature_path = feature
                .path
                .as_ref()
                .map_or_else(|| feature.name.clone(), |path| relative(path));
            drill.emulator = emulator.clone();
            drill.lease = lease.clone();
            async {}.boxed_local()
        })
        .after(move |feature, rule, scenario, finished, mut drill| {
            let collected = collected.clone();
            async move {
                let expects_unrecoverable =
                    scenario.tags.iter().any(|tag| tag == EXPECT_UNRECOVERABLE);
                let no_paths = match drill.as_deref() {
                    Some(drill) if expects_unrecoverable => Some(unrecoverable_accounts(drill)),
                    _ => None,
                };
                let live = drill.as_mut().and_then(|drill| drill.live.take());
                let (mut report, fault, undefined) =
                    scenario_report(feature, rule, scenario, finished, drill.as_deref());
                if let Some(no_paths) = no_paths {
                    report.verdict = expected_unrecoverable(report.verdict, no_paths);
                }
                if let Some(live) = live {
                    live.stop().await;
                }
                tracing::info!(
                    scenario = %report.location(),
                    verdict = report.verdict.label(),
                    "drill finished"
                );
                let mut collected = collected
                    .lock()
                    .expect("no scenario panicked holding the lock");
                collected.scenarios.push(report);
                collected.fault = collected.fault.max(fault);
                collected.undefined.extend(undefined);
            }
            .boxed_local()
        })
        .with_cli(cucumber_options)
        .run(path.to_path_buf())
        .await;
    writer.parsing_errors()
}

/// The tag of a scenario that must prove there is no way back: it passes only if it fails
/// after proving the lockout and no principal can then administer IAM in some account.
pub const EXPECT_UNRECOVERABLE: &str = "expect-unrecoverable";

/// For each account of the drill's world where nobody, root included, can administer IAM:
/// why, principal by principal. An error if the world is gone or cannot be analysed.
fn unrecoverable_accounts(drill: &Drill) -> Result<Vec<String>, String> {
    let live = drill.live()?;
    if drill.lockout_at.is_none() {
        return Err("no lockout was proven (a passing `cannot` step) before the failure".into());
    }
    let world = live.gateway.world();
    let now = Utc::now().timestamp();

    let mut explanations = Vec::new();
    for account in world.accounts.keys() {
        let paths = paths::recovery_paths(&world, account, now)?;
        if paths.administrators.is_empty() {
            explanations.push(format!(
                "nothing can recover IAM in account {account}: no principal that can act may \
                 administer IAM there, and none can become one that may:\n{}",
                paths.explain_blocked()
            ));
        }
    }
    Ok(explanations)
}

/// The verdict of an `@expect-unrecoverable` scenario, from the verdict it would have had.
fn expected_unrecoverable(verdict: Verdict, no_paths: Result<Vec<String>, String>) -> Verdict {
    match (verdict, no_paths) {
        (Verdict::Recovered, _) => Verdict::Failed {
            reason: format!(
                "the scenario is tagged @{EXPECT_UNRECOVERABLE}, but it recovered: a recovery                  path exists"
            ),
        },
        (Verdict::Failed { reason }, Ok(explanations)) if !explanations.is_empty() => {
            Verdict::Unrecoverable {
                reason: format!("{reason}\n{}", explanations.join("\n")),
            }
        }
        (Verdict::Failed { reason }, Ok(_)) => Verdict::Failed {
            reason: format!(
                "{reason}\nThe scenario is tagged @{EXPECT_UNRECOVERABLE}, but some principal                  can still administer IAM in every account, so the drill failed for another                  reason."
            ),
        },
        (Verdict::Failed { reason }, Err(error)) => Verdict::Failed {
            reason: format!("{reason}\n(the recovery paths could not be analysed: {error})"),
        },
        (other, _) => other,
    }
}

#[derive(Default)]
struct Collected {
    scenarios: Vec<ScenarioReport>,
    fault: Option<Fault>,
    undefined: Vec<String>,
}

/// What one scenario proved, from its finish and the steps it recorded.
fn scenario_report(
    feature: &gherkin::Feature,
    rule: Option<&gherkin::Rule>,
    scenario: &gherkin::Scenario,
    finished: &ScenarioFinished,
    drill: Option<&Drill>,
) -> (ScenarioReport, Option<Fault>, Option<String>) {
    let feature_path = feature
        .path
        .as_ref()
        .map_or_else(|| feature.name.clone(), |path| relative(path));
    let mut steps = drill.map(|drill| drill.steps.clone()).unwrap_or_default();

    // The steps that did not run: the undefined one, if any, and those after a failure.
    let all: Vec<&gherkin::Step> = feature
        .background
        .iter()
        .chain(rule.and_then(|rule| rule.background.as_ref()))
        .flat_map(|background| &background.steps)
        .chain(&scenario.steps)
        .collect();
    let ran = steps.len();
    let mut undefined = None;
    for (index, step) in all.iter().enumerate().skip(ran) {
        let is_undefined = index == ran && matches!(finished, ScenarioFinished::StepSkipped);
        let status = if is_undefined {
            let mut message = format!(
                "undefined step: no step definition matches `{}`",
                step.value
            );
            let closest = vocabulary::closest(&step.value);
            if closest.is_empty() {
                message.push_str(" (`lockdrill steps` lists every step)");
            } else {
                message.push_str("; the closest known steps are:");
                for known in closest {
                    message.push_str(&format!("\n  {} {}", known.keywords, known.wording));
                }
            }
            undefined = Some(format!(
                "{feature_path}:{}: {}",
                step.position.line, step.value
            ));
            StepStatus::Failed { message }
        } else {
            StepStatus::Skipped
        };
        steps.push(StepReport {
            keyword: step.keyword.trim().to_owned(),
            text: step.value.clone(),
            line: line(step.position.line),
            status,
            started_at: Utc::now(),
            duration: Default::default(),
            events: Vec::new(),
        });
    }

    let lockout_at = drill.and_then(|drill| drill.lockout_at);
    let recovered_at = drill.and_then(|drill| drill.recovered_at);
    let first_failure = steps.iter().find_map(|step| match &step.status {
        StepStatus::Failed { message } => Some(format!("line {}: {message}", step.line)),
        _ => None,
    });
    let verdict = match (finished, first_failure) {
        (_, Some(reason)) => Verdict::Failed { reason },
        (ScenarioFinished::BeforeHookFailed(_), None) => Verdict::Failed {
            reason: "the before hook failed".into(),
        },
        (ScenarioFinished::StepFailed(_, _, error), None) => Verdict::Failed {
            reason: error.to_string(),
        },
        (_, None) if recovered_at.is_none() => Verdict::Failed {
            reason: "no lockout was proven and then recovered from: a drill needs a passing \
                     `cannot` step followed by a passing `can` step"
                .into(),
        },
        (_, None) => Verdict::Recovered,
    };

    let report = ScenarioReport {
        feature: feature.name.clone(),
        feature_path,
        name: scenario.name.clone(),
        line: line(scenario.position.line),
        tags: scenario.tags.iter().map(|tag| format!("@{tag}")).collect(),
        verdict,
        steps,
        lockout_at,
        recovered_at,
        declared_delays: drill
            .map(|drill| drill.declared_delays.clone())
            .unwrap_or_default(),
    };
    (report, drill.and_then(|drill| drill.fault), undefined)
}

/// `path` relative to the working directory when it is under it, as the user would type it.
fn relative(path: &Path) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    path.strip_prefix(&cwd)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn line(line: usize) -> u32 {
    u32::try_from(line).unwrap_or(u32::MAX)
}

/// One scenario's state: its live world, drill variables, and what its steps recorded.
#[derive(Default, cucumber::World)]
pub struct Drill {
    /// Where the world is brought to life, set by the run before the first step.
    emulator: EmulatorKind,
    lease: LeaseOptions,
    /// The feature file, as diagnostics name it.
    feature_path: String,
    live: Option<LiveWorld>,
    /// Placeholders for runbooks, e.g. `ACCOUNT_ID`; runbook captures are added here.
    variables: BTreeMap<String, String>,
    steps: Vec<StepReport>,
    /// Decisions made by the running step, moved into its [`StepReport`] when it ends.
    events: Vec<Event>,
    lockout_at: Option<DateTime<Utc>>,
    recovered_at: Option<DateTime<Utc>>,
    /// Recovery steps that take real time at AWS, declared rather than waited for.
    declared_delays: Vec<DeclaredDelay>,
    fault: Option<Fault>,
}

impl fmt::Debug for Drill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Drill")
            .field(
                "gateway",
                &self.live.as_ref().map(|live| live.gateway.endpoint()),
            )
            .field("variables", &self.variables)
            .field("lockout_at", &self.lockout_at)
            .field("recovered_at", &self.recovered_at)
            .finish_non_exhaustive()
    }
}

impl Drill {
    fn live(&self) -> Result<&LiveWorld, String> {
        self.live
            .as_ref()
            .ok_or_else(|| "no world yet: start the scenario with `Given the world \"...\"`".into())
    }

    /// The ARN of an actor named in a step: an ARN, `root:ACCOUNT`, a user name, or the name
    /// of a role session assumed earlier in the scenario.
    fn principal(&self, actor: &str) -> Result<String, String> {
        let live = self.live()?;
        if let Ok(found) = live.credentials_file().find(actor) {
            return Ok(found.principal.clone());
        }
        access::principal_arn(&live.gateway.world(), actor)
    }

    /// What is true of an account's root user now, as the gateway holds it.
    fn root_user(&self, account: &str) -> Result<crate::world::RootUser, String> {
        self.live()?
            .gateway
            .world()
            .accounts
            .get(account)
            .map(|found| found.root)
            .ok_or_else(|| format!("the world has no account {account}"))
    }

    /// Adds the calls the gateway answered since `mark` to the running step's events.
    fn record_calls_since(&mut self, mark: usize) {
        let Some(live) = &self.live else {
            return;
        };
        let calls = live.gateway.decided_since(mark);
        self.events.extend(calls.into_iter().map(|call| Event {
            at: call.at,
            actor: call.principal,
            call: call.action,
            resource: call.resource,
            decision: match call.status {
                200..=299 => call.decision.to_owned(),
                status => format!("{} (HTTP {status})", call.decision),
            },
            message: call.message,
        }));
    }

    /// Records the step that began at `started` with its outcome, and passes the outcome on.
    fn finish(&mut self, started: Started, result: Result<(), String>) -> Result<(), String> {
        let status = match &result {
            Ok(()) => StepStatus::Passed,
            Err(message) => StepStatus::Failed {
                message: message.clone(),
            },
        };
        self.steps.push(StepReport {
            keyword: started.keyword,
            text: started.text,
            line: started.line,
            status,
            started_at: started.at,
            duration: started.clock.elapsed(),
            events: std::mem::take(&mut self.events),
        });
        result
    }
}

/// A step that has begun.
struct Started {
    keyword: String,
    text: String,
    line: u32,
    at: DateTime<Utc>,
    clock: Instant,
}

impl Started {
    fn now(step: &gherkin::Step) -> Started {
        Started {
            keyword: step.keyword.trim().to_owned(),
            text: step.value.clone(),
            line: line(step.position.line),
            at: Utc::now(),
            clock: Instant::now(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wrong expectation, a runbook that fails as its actor, and an undefined step each fail
    /// the run, for their own reason, with the feature's file and line.
    #[test]
    fn wrong_expectations_failing_runbooks_and_undefined_steps_fail_the_run() {
        let dir = std::env::temp_dir().join(format!("lockdrill-drill-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("wrong.feature"),
            "Feature: wrong\n\n  Scenario: alice was never locked out\n    \
             Given the world \"scenarios/admin-detached.yaml\"\n    \
             Then alice can perform iam:AttachUserPolicy on \"bob\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("actor.feature"),
            "Feature: actor\n\n  Scenario: alice runs the root user's runbook\n    \
             Given the world \"scenarios/admin-detached.yaml\"\n    \
             When alice runs the runbook \"scenarios/runbooks/admin-detached.md\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("undefined.feature"),
            "Feature: undefined\n\n  Scenario: a step nobody wrote\n    \
             Given the weather is fine\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("bad_scp.feature"),
            "Feature: bad SCP\n\n  Scenario: an SCP with a misspelt effect\n    \
             Given the world \"scenarios/scp-no-exception.yaml\"\n    \
             When root:111111111111 attaches an SCP named \"Oops\" to \"root\"\n      \
             \"\"\"\n      {\"Version\": \"2012-10-17\",\n       \"Statement\": [{\"Effect\": \"deny\", \
             \"Action\": \"iam:*\", \"Resource\": \"*\"}]}\n      \"\"\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("no_trail.feature"),
            "Feature: no trail\n\n  Scenario: nobody records who changed what\n    \
             Given the world \"scenarios/admin-detached.yaml\"\n    \
             Then a CloudTrail trail exists in account \"123456789012\"\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("checklist.feature"),
            "Feature: checklist\n\n  Scenario: only root can administer IAM\n    \
             Given the world \"scenarios/admin-detached.yaml\"\n    \
             Then some principal other than root can administer IAM in account \"123456789012\"\n",
        )
        .unwrap();

        let runtime = tokio::runtime::Runtime::new().unwrap();
        let options = RunOptions {
            paths: vec![dir.clone()],
            ..RunOptions::default()
        };
        let run = runtime.block_on(run(&options)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();

        assert_eq!(run.exit_code(), 2, "a bad SCP is bad input");
        assert_eq!(run.report.totals_line(), "0 passed, 6 failed");
        assert_eq!(run.undefined.len(), 1, "{:?}", run.undefined);
        assert!(
            run.undefined[0].ends_with("undefined.feature:4: the weather is fine"),
            "{:?}",
            run.undefined
        );
        let wrong = run
            .report
            .scenarios
            .iter()
            .find(|scenario| scenario.name == "alice was never locked out")
            .unwrap();
        let reason = wrong.verdict.reason().unwrap();
        assert!(
            reason.contains("line 5: expected alice to be allowed")
                && reason.contains("because no identity-based policy allows"),
            "{reason}"
        );

        let reason_of = |name: &str| {
            run.report
                .scenarios
                .iter()
                .find(|scenario| scenario.name == name)
                .and_then(|scenario| scenario.verdict.reason())
                .unwrap_or_default()
                .to_owned()
        };
        let bad_scp = reason_of("an SCP with a misspelt effect");
        assert!(
            bad_scp.contains("bad_scp.feature:8:") && bad_scp.contains("Effect"),
            "{bad_scp}"
        );
        let no_trail = reason_of("nobody records who changed what");
        assert!(
            no_trail.contains("account 123456789012 has no CloudTrail trail"),
            "{no_trail}"
        );
        let checklist = reason_of("only root can administer IAM");
        assert!(
            checklist.contains("nobody else can")
                && checklist.contains(
                    "user/alice: User: arn:aws:iam::123456789012:user/alice is not authorized"
                ),
            "{checklist}"
        );

        let actor = run
            .report
            .scenarios
            .iter()
            .find(|scenario| scenario.name == "alice runs the root user's runbook")
            .unwrap();
        let reason = actor.verdict.reason().unwrap();
        assert!(
            reason.contains(
                "line 5: the runbook `scenarios/runbooks/admin-detached.md` run as \
                             arn:aws:iam::123456789012:user/alice failed"
            ) && reason.contains("is not authorized to perform: iam:AttachUserPolicy"),
            "{reason}"
        );
    }

    /// Every example of the vocabulary (what `lockdrill steps` and the README show) matches
    /// exactly one step definition, under each keyword it lists.
    #[test]
    fn every_documented_step_has_a_definition() {
        let collection = Drill::collection();
        for documented in vocabulary::STEPS {
            for keyword in documented.keywords.split(", ") {
                let ty = match keyword {
                    "Given" => gherkin::StepType::Given,
                    "When" => gherkin::StepType::When,
                    _ => gherkin::StepType::Then,
                };
                let step = gherkin::Step {
                    keyword: keyword.to_owned(),
                    ty,
                    value: documented.example.to_owned(),
                    docstring: None,
                    table: None,
                    span: Default::default(),
                    position: Default::default(),
                };
                let found = collection.find(&step);
                assert!(
                    matches!(found, Ok(Some(_))),
                    "`{keyword} {}` matches no single step definition",
                    documented.example
                );
            }
        }
    }

    #[test]
    fn missing_paths_and_bad_tags_are_bad_input() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let missing = RunOptions {
            paths: vec!["no/such/features".into()],
            ..RunOptions::default()
        };
        let error = runtime.block_on(run(&missing)).unwrap_err();
        assert_eq!(error, "no feature file or directory `no/such/features`");

        let bad_tags = RunOptions {
            tags: Some("@a and and".into()),
            ..RunOptions::default()
        };
        assert!(
            runtime
                .block_on(run(&bad_tags))
                .unwrap_err()
                .contains("bad tag expression")
        );
    }
}
