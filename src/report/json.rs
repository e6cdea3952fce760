//! The evidence as JSON, for tools: archiving, dashboards, comparing runs over time.
//!
//! It is the [`RunReport`] itself (times as UTC ISO 8601 strings, durations as seconds), with
//! what the other reports compute from it written out too, so that no reader has to
//! re-implement it: the totals, and each scenario's time to recover with its declared delays
//! included. The document carries a `format` name to version its shape.

use serde::Serialize;

use super::{RunReport, ScenarioReport, format_time};

/// The name and version of the document's shape.
pub const FORMAT: &str = "lockdrill-evidence/1";

#[derive(Serialize)]
struct Evidence<'a> {
    format: &'static str,
    started_at: String,
    finished_at: String,
    emulator: &'a str,
    lockdrill_version: &'a str,
    summary: Summary,
    scenarios: Vec<ScenarioEvidence<'a>>,
}

#[derive(Serialize)]
struct ScenarioEvidence<'a> {
    #[serde(flatten)]
    scenario: &'a ScenarioReport,
    time_to_recover_seconds: Option<f64>,
}

#[derive(Serialize)]
struct Summary {
    passed: usize,
    failed: usize,
    skipped: usize,
    wall_time_seconds: f64,
}

/// The whole document, pretty-printed, ending with a newline.
pub fn render(report: &RunReport) -> String {
    let report = report.redacted();
    let evidence = Evidence {
        format: FORMAT,
        summary: Summary {
            passed: report.passed(),
            failed: report.failed(),
            skipped: report.skipped(),
            wall_time_seconds: report.wall_time().as_secs_f64(),
        },
        started_at: format_time(report.started_at),
        finished_at: format_time(report.finished_at),
        emulator: &report.emulator,
        lockdrill_version: &report.lockdrill_version,
        scenarios: report
            .scenarios
            .iter()
            .map(|scenario| ScenarioEvidence {
                scenario,
                time_to_recover_seconds: scenario.time_to_recover().map(|d| d.as_secs_f64()),
            })
            .collect(),
    };

    // INVARIANT: the report holds only strings, numbers and sequences, which always serialize.
    let mut out = serde_json::to_string_pretty(&evidence).unwrap_or_default();
    out.push('\n');
    out
}
