//! The run in cucumber's JSON format, which CI dashboards and cucumber report tools read.
//!
//! One entry per feature file, one element per scenario, one entry per step with its status
//! (`passed`, `failed` or `skipped`), its duration in nanoseconds and, for a failure, its
//! message. A scenario proven unrecoverable as it expected passes; the reason is attached to
//! its last step as output, so a dashboard still shows why nothing could recover.

use serde::Serialize;

use super::{RunReport, ScenarioReport, StepStatus, Verdict};

#[derive(Serialize)]
struct Feature<'a> {
    uri: &'a str,
    id: String,
    keyword: &'static str,
    name: &'a str,
    description: &'static str,
    line: u32,
    elements: Vec<Element<'a>>,
}

#[derive(Serialize)]
struct Element<'a> {
    id: String,
    keyword: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    name: &'a str,
    description: &'static str,
    line: u32,
    tags: Vec<Tag<'a>>,
    steps: Vec<Step<'a>>,
}

#[derive(Serialize)]
struct Tag<'a> {
    name: &'a str,
    line: u32,
}

#[derive(Serialize)]
struct Step<'a> {
    keyword: String,
    name: &'a str,
    line: u32,
    result: StepResult<'a>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    output: Vec<&'a str>,
}

#[derive(Serialize)]
struct StepResult<'a> {
    status: &'static str,
    duration: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_message: Option<&'a str>,
}

/// The whole document, pretty-printed, ending with a newline.
pub fn render(report: &RunReport) -> String {
    let report = report.redacted();

    let mut features: Vec<Feature<'_>> = Vec::new();
    for scenario in &report.scenarios {
        let element = element(scenario);
        match features
            .iter_mut()
            .find(|feature| feature.uri == scenario.feature_path)
        {
            Some(feature) => feature.elements.push(element),
            None => features.push(Feature {
                uri: &scenario.feature_path,
                id: slug(&scenario.feature),
                keyword: "Feature",
                name: &scenario.feature,
                description: "",
                line: 1,
                elements: vec![element],
            }),
        }
    }

    // INVARIANT: the document holds only strings, numbers and sequences, which always serialize.
    let mut out = serde_json::to_string_pretty(&features).unwrap_or_default();
    out.push('\n');
    out
}

fn element(scenario: &ScenarioReport) -> Element<'_> {
    let mut steps: Vec<Step<'_>> = scenario
        .steps
        .iter()
        .map(|step| {
            let (status, error_message) = match &step.status {
                StepStatus::Passed => ("passed", None),
                StepStatus::Failed { message } => ("failed", Some(message.as_str())),
                StepStatus::Skipped => ("skipped", None),
            };
            Step {
                keyword: format!("{} ", step.keyword),
                name: &step.text,
                line: step.line,
                result: StepResult {
                    status,
                    duration: step.duration.as_nanos(),
                    error_message,
                },
                output: Vec::new(),
            }
        })
        .collect();

    // An expected unrecoverable drill passes: its failed step is what it set out to prove.
    if let Verdict::Unrecoverable { reason } = &scenario.verdict {
        for step in &mut steps {
            if step.result.status != "passed" {
                step.result.status = "passed";
                step.result.error_message = None;
            }
        }
        if let Some(last) = steps.last_mut() {
            last.output.push(reason);
        }
    }

    Element {
        id: format!("{};{}", slug(&scenario.feature), slug(&scenario.name)),
        keyword: "Scenario",
        kind: "scenario",
        name: &scenario.name,
        description: "",
        line: scenario.line,
        tags: scenario
            .tags
            .iter()
            .map(|tag| Tag {
                name: tag,
                line: scenario.line.saturating_sub(1),
            })
            .collect(),
        steps,
    }
}

/// Cucumber's ids: lower case, words joined by `-`.
fn slug(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_lower_case_words_joined_by_dashes() {
        assert_eq!(
            slug("AdministratorAccess detached, from every user"),
            "administratoraccess-detached-from-every-user"
        );
    }
}
