//! What a drill run proves, and the evidence files written from it.
//!
//! The drill runner fills a [`RunReport`]: one [`ScenarioReport`] per scenario, with every step,
//! every API call the gateway decided during it, when the lockout happened and when access came
//! back. The writers turn it into the formats its readers want: a console summary for people
//! and CI ([`console`]), JUnit XML for CI dashboards ([`junit`]), and an evidence report for
//! auditors in Markdown ([`markdown`]), self-contained HTML ([`html`]) and JSON ([`json`]).
//!
//! Every writer is a pure function of the report, so the same run always gives byte-identical
//! files (the golden tests rely on it), and every writer renders [`RunReport::redacted`], never
//! the report it was given, so that no credential seen during a drill reaches a file.

pub mod console;
pub mod cucumber_json;
pub mod html;
pub mod json;
pub mod junit;
pub mod markdown;
mod redact;

pub use redact::redact;

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Serialize, Serializer};

/// One run of `lockdrill run`: every scenario it ran, skipped or failed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunReport {
    #[serde(serialize_with = "time")]
    pub started_at: DateTime<Utc>,
    #[serde(serialize_with = "time")]
    pub finished_at: DateTime<Utc>,
    /// The emulator backend and its version, e.g. `moto 5.1.4 (process)`.
    pub emulator: String,
    pub lockdrill_version: String,
    pub scenarios: Vec<ScenarioReport>,
}

/// One Gherkin scenario: a lockout built, proven, and (if the drill succeeds) recovered from.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioReport {
    /// The feature's name, from its `Feature:` line.
    pub feature: String,
    /// The feature file, as given on the command line.
    pub feature_path: String,
    pub name: String,
    /// The 1-based line of the `Scenario:` keyword.
    pub line: u32,
    /// Tags with their `@`, as written.
    pub tags: Vec<String>,
    pub verdict: Verdict,
    pub steps: Vec<StepReport>,
    /// When the step that locked the admins out finished.
    #[serde(serialize_with = "optional_time")]
    pub lockout_at: Option<DateTime<Utc>>,
    /// When the step that proved access was back finished.
    #[serde(serialize_with = "optional_time")]
    pub recovered_at: Option<DateTime<Utc>>,
    pub declared_delays: Vec<DeclaredDelay>,
}

/// How a scenario ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Verdict {
    /// The lockout was built, proven, and recovered from.
    Recovered,
    /// A scenario tagged `@expect-unrecoverable` proved its lockout and that no principal
    /// could recover from it; the reason says why, loudly, in every format.
    Unrecoverable {
        reason: String,
    },
    Failed {
        reason: String,
    },
    Skipped {
        reason: String,
    },
}

/// A recovery step that takes real time at AWS and that a drill declares instead of waiting
/// for, such as AWS account recovery for a lost root MFA device. It counts in the time to
/// recover, because that is the time the organization would really be locked out.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeclaredDelay {
    pub what: String,
    #[serde(rename = "duration_seconds", serialize_with = "seconds")]
    pub duration: Duration,
}

/// One Gherkin step and the API calls made while it ran.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepReport {
    /// `Given`, `When`, `Then`, `And` or `But`, as written.
    pub keyword: String,
    pub text: String,
    pub line: u32,
    pub status: StepStatus,
    #[serde(serialize_with = "time")]
    pub started_at: DateTime<Utc>,
    #[serde(rename = "duration_seconds", serialize_with = "seconds")]
    pub duration: Duration,
    pub events: Vec<Event>,
}

/// How a step ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StepStatus {
    Passed,
    Failed { message: String },
    Skipped,
}

/// One API call the gateway decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Event {
    #[serde(serialize_with = "time")]
    pub at: DateTime<Utc>,
    /// The calling principal's ARN.
    pub actor: String,
    /// The IAM action, e.g. `iam:AttachUserPolicy`.
    pub call: String,
    pub resource: String,
    /// `allow`, `implicit_deny`, `explicit_deny` or `error`.
    pub decision: String,
    /// The error text returned to the caller, e.g. the AccessDenied message, verbatim.
    pub message: Option<String>,
}

impl RunReport {
    /// Scenarios that ended as they should: recovered, or proven unrecoverable as expected.
    pub fn passed(&self) -> usize {
        self.count(|verdict| matches!(verdict, Verdict::Recovered | Verdict::Unrecoverable { .. }))
    }

    /// Scenarios proven unrecoverable, as they expected.
    pub fn unrecoverable(&self) -> usize {
        self.count(|verdict| matches!(verdict, Verdict::Unrecoverable { .. }))
    }

    pub fn failed(&self) -> usize {
        self.count(|verdict| matches!(verdict, Verdict::Failed { .. }))
    }

    pub fn skipped(&self) -> usize {
        self.count(|verdict| matches!(verdict, Verdict::Skipped { .. }))
    }

    /// The line CI counts: `N passed, N failed`, with `, N skipped` only when some were.
    pub fn totals_line(&self) -> String {
        let mut line = format!("{} passed, {} failed", self.passed(), self.failed());
        if self.skipped() > 0 {
            line.push_str(&format!(", {} skipped", self.skipped()));
        }
        line
    }

    /// The run's wall time, zero if the clock went backwards.
    /// The facts about the run every evidence format opens with, as (label, plain text).
    pub fn run_facts(&self) -> [(&'static str, String); 6] {
        [
            ("Started (UTC)", format_time(self.started_at)),
            ("Finished (UTC)", format_time(self.finished_at)),
            ("Wall time", format_duration(self.wall_time())),
            ("Emulator", self.emulator.clone()),
            ("lockdrill version", self.lockdrill_version.clone()),
            ("Result", self.totals_line()),
        ]
    }

    pub fn wall_time(&self) -> Duration {
        (self.finished_at - self.started_at)
            .to_std()
            .unwrap_or_default()
    }

    fn count(&self, wanted: impl Fn(&Verdict) -> bool) -> usize {
        self.scenarios.iter().filter(|s| wanted(&s.verdict)).count()
    }
}

impl ScenarioReport {
    /// From lockout to recovery, declared delays included; `None` unless both were recorded,
    /// or if the recovery was recorded before the lockout.
    pub fn time_to_recover(&self) -> Option<Duration> {
        let (lockout, recovered) = (self.lockout_at?, self.recovered_at?);
        let measured = (recovered - lockout).to_std().ok()?;

        let declared: Duration = self.declared_delays.iter().map(|d| d.duration).sum();
        Some(measured + declared)
    }

    /// `path:line` of the scenario, the way editors and CI link to it.
    pub fn location(&self) -> String {
        format!("{}:{}", self.feature_path, self.line)
    }

    /// The scenario's own time: the sum of its steps' durations.
    pub fn duration(&self) -> Duration {
        self.steps.iter().map(|s| s.duration).sum()
    }
}

impl Verdict {
    /// The one-word verdict shown in every format.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Recovered => "RECOVERED",
            Verdict::Unrecoverable { .. } => "UNRECOVERABLE",
            Verdict::Failed { .. } => "FAILED",
            Verdict::Skipped { .. } => "SKIPPED",
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            Verdict::Recovered => None,
            Verdict::Unrecoverable { reason }
            | Verdict::Failed { reason }
            | Verdict::Skipped { reason } => Some(reason),
        }
    }
}

impl StepStatus {
    pub fn label(&self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed { .. } => "failed",
            StepStatus::Skipped => "skipped",
        }
    }
}

/// Writes `evidence.md`, `evidence.html`, `junit.xml` and `evidence.json` into `dir`, creating
/// it if needed, and returns their paths in that order.
pub fn write_all(report: &RunReport, dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir)?;

    let files = [
        ("evidence.md", markdown::render(report)),
        ("evidence.html", html::render(report)),
        ("junit.xml", junit::render(report)),
        ("evidence.json", json::render(report)),
        ("cucumber.json", cucumber_json::render(report)),
    ];

    let mut written = Vec::with_capacity(files.len());
    for (name, contents) in files {
        let path = dir.join(name);
        std::fs::write(&path, contents)?;
        written.push(path);
    }
    Ok(written)
}

/// A timestamp as every report shows it: UTC, ISO 8601, milliseconds, e.g.
/// `2025-03-01T10:00:00.120Z`.
pub fn format_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A duration for people: `4h 00m 12.345s`, `3m 05.250s` or `0.120s`.
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    let (hours, rest) = (millis / 3_600_000, millis % 3_600_000);
    let (minutes, rest) = (rest / 60_000, rest % 60_000);
    let (seconds, millis) = (rest / 1000, rest % 1000);

    if hours > 0 {
        format!("{hours}h {minutes:02}m {seconds:02}.{millis:03}s")
    } else if minutes > 0 {
        format!("{minutes}m {seconds:02}.{millis:03}s")
    } else {
        format!("{seconds}.{millis:03}s")
    }
}

/// A duration in seconds with millisecond precision, e.g. `14412.345`, for machines.
pub fn format_seconds(duration: Duration) -> String {
    format!("{}.{:03}", duration.as_secs(), duration.subsec_millis())
}

fn time<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_time(*at))
}

fn optional_time<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => serializer.serialize_str(&format_time(*at)),
        None => serializer.serialize_none(),
    }
}

fn seconds<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_740_823_200 + seconds, 0).unwrap()
    }

    fn scenario(verdict: Verdict) -> ScenarioReport {
        ScenarioReport {
            feature: "Root MFA".into(),
            feature_path: "features/root_mfa.feature".into(),
            name: "lost device".into(),
            line: 7,
            tags: vec![],
            verdict,
            steps: vec![],
            lockout_at: Some(at(10)),
            recovered_at: Some(at(70)),
            declared_delays: vec![],
        }
    }

    #[test]
    fn time_to_recover_counts_declared_delays() {
        let mut recovered = scenario(Verdict::Recovered);
        assert_eq!(recovered.time_to_recover(), Some(Duration::from_secs(60)));

        recovered.declared_delays.push(DeclaredDelay {
            what: "AWS account recovery".into(),
            duration: Duration::from_secs(4 * 3600),
        });
        assert_eq!(
            recovered.time_to_recover(),
            Some(Duration::from_secs(4 * 3600 + 60))
        );
    }

    #[test]
    fn time_to_recover_needs_both_ends_in_order() {
        let mut never = scenario(Verdict::Failed {
            reason: "no".into(),
        });
        never.recovered_at = None;
        assert_eq!(never.time_to_recover(), None);

        let mut backwards = scenario(Verdict::Recovered);
        backwards.recovered_at = Some(at(0));
        assert_eq!(backwards.time_to_recover(), None);
    }

    #[test]
    fn totals_line_mentions_skipped_only_when_some_were() {
        let mut run = RunReport {
            started_at: at(0),
            finished_at: at(90),
            emulator: "moto".into(),
            lockdrill_version: "0.1.0".into(),
            scenarios: vec![
                scenario(Verdict::Recovered),
                scenario(Verdict::Recovered),
                scenario(Verdict::Failed { reason: "x".into() }),
            ],
        };
        assert_eq!(run.totals_line(), "2 passed, 1 failed");

        run.scenarios.push(scenario(Verdict::Skipped {
            reason: "@wip".into(),
        }));
        assert_eq!(run.totals_line(), "2 passed, 1 failed, 1 skipped");
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(format_duration(Duration::from_millis(120)), "0.120s");
        assert_eq!(
            format_duration(Duration::from_millis(185_250)),
            "3m 05.250s"
        );
        assert_eq!(
            format_duration(Duration::from_millis(14_412_345)),
            "4h 00m 12.345s"
        );
        assert_eq!(
            format_seconds(Duration::from_millis(14_412_345)),
            "14412.345"
        );
        assert_eq!(format_time(at(0)), "2025-03-01T10:00:00.000Z");
    }
}
