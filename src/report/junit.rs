//! JUnit XML, for the test dashboards of CI systems.
//!
//! The shape is the common denominator that Jenkins, GitLab, GitHub Actions reporters and
//! Azure DevOps all read: one `<testsuite>` per feature (in the order features first appear),
//! one `<testcase>` per scenario with the feature file as its `classname`, and a `<failure>` or
//! `<skipped>` child when it did not recover. Times are in seconds.
//!
//! Everything from the run is XML-escaped. Characters XML 1.0 cannot carry at all, even as
//! references (most C0 controls, U+FFFE, U+FFFF), become U+FFFD, since one of them makes the
//! whole file unreadable to a strict parser and the CI would then show no results at all.

use std::fmt::Write as _;
use std::time::Duration;

use super::{RunReport, ScenarioReport, StepStatus, Verdict, format_seconds};

/// The whole document, ending with a newline.
pub fn render(report: &RunReport) -> String {
    let report = report.redacted();
    let suites = by_feature(&report.scenarios);
    let mut out = String::new();

    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let total: Duration = report.scenarios.iter().map(ScenarioReport::duration).sum();
    let _ = writeln!(
        out,
        "<testsuites name=\"lockdrill\" tests=\"{}\" failures=\"{}\" errors=\"0\" \
         skipped=\"{}\" time=\"{}\">",
        report.scenarios.len(),
        report.failed(),
        report.skipped(),
        format_seconds(total),
    );

    for (feature, scenarios) in suites {
        suite(&report, feature, &scenarios, &mut out);
    }

    out.push_str("</testsuites>\n");
    out
}

fn suite(report: &RunReport, feature: &str, scenarios: &[&ScenarioReport], out: &mut String) {
    let count =
        |wanted: fn(&Verdict) -> bool| scenarios.iter().filter(|s| wanted(&s.verdict)).count();
    let failures = count(|v| matches!(v, Verdict::Failed { .. }));
    let skipped = count(|v| matches!(v, Verdict::Skipped { .. }));
    let time: Duration = scenarios.iter().map(|s| s.duration()).sum();

    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" \
         skipped=\"{skipped}\" time=\"{}\" timestamp=\"{}\">",
        attribute(feature),
        scenarios.len(),
        format_seconds(time),
        report.started_at.format("%Y-%m-%dT%H:%M:%S"),
    );

    for scenario in scenarios {
        let _ = write!(
            out,
            "    <testcase name=\"{}\" classname=\"{}\" time=\"{}\"",
            attribute(&scenario.name),
            attribute(&scenario.feature_path),
            format_seconds(scenario.duration()),
        );
        match &scenario.verdict {
            Verdict::Recovered => out.push_str("/>\n"),
            // A pass, with the reason nothing could recover kept in the test's output.
            Verdict::Unrecoverable { reason } => {
                let _ = writeln!(
                    out,
                    ">\n      <system-out>UNRECOVERABLE, as expected: {}</system-out>\n    \
                     </testcase>",
                    text(reason),
                );
            }
            Verdict::Failed { reason } => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"DrillFailed\">{}</failure>\n    \
                     </testcase>",
                    attribute(reason),
                    text(&failure_details(scenario, reason)),
                );
            }
            Verdict::Skipped { reason } => {
                let _ = writeln!(
                    out,
                    ">\n      <skipped message=\"{}\"/>\n    </testcase>",
                    attribute(reason)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n");
}

/// Scenarios grouped by feature name, features in the order they first appear.
fn by_feature(scenarios: &[ScenarioReport]) -> Vec<(&str, Vec<&ScenarioReport>)> {
    let mut suites: Vec<(&str, Vec<&ScenarioReport>)> = Vec::new();
    for scenario in scenarios {
        match suites
            .iter_mut()
            .find(|(feature, _)| *feature == scenario.feature)
        {
            Some((_, members)) => members.push(scenario),
            None => suites.push((&scenario.feature, vec![scenario])),
        }
    }
    suites
}

/// The failure's body: where the scenario is, why it failed, and each failed step's message.
fn failure_details(scenario: &ScenarioReport, reason: &str) -> String {
    let mut details = format!("{}: {reason}", scenario.location());
    for step in &scenario.steps {
        if let StepStatus::Failed { message } = &step.status {
            let _ = write!(
                details,
                "\n{}:{}: {} {}\n{message}",
                scenario.feature_path, step.line, step.keyword, step.text
            );
        }
    }
    details
}

/// Escapes `value` for XML character data.
pub fn text(value: &str) -> String {
    escape(value, false)
}

/// Escapes `value` for a double-quoted XML attribute; line breaks and tabs become character
/// references so that attribute-value normalization keeps them.
pub fn attribute(value: &str) -> String {
    escape(value, true)
}

fn escape(value: &str, in_attribute: bool) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if in_attribute => out.push_str("&quot;"),
            '\'' if in_attribute => out.push_str("&apos;"),
            '\n' if in_attribute => out.push_str("&#10;"),
            '\r' if in_attribute => out.push_str("&#13;"),
            '\t' if in_attribute => out.push_str("&#9;"),
            '\n' | '\r' | '\t' => out.push(c),
            c if is_xml_char(c) => out.push(c),
            _ => out.push('\u{fffd}'),
        }
    }
    out
}

/// XML 1.0's `Char` production (Rust `char`s are never surrogates).
fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{fffd}' | '\u{10000}'..) || matches!(c, '\t' | '\n' | '\r')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_cdata_ends() {
        assert_eq!(text("a < b && c ]]> d"), "a &lt; b &amp;&amp; c ]]&gt; d");
        assert_eq!(
            attribute("say \"hi\" 'there'"),
            "say &quot;hi&quot; &apos;there&apos;"
        );
        assert_eq!(attribute("two\nlines\t"), "two&#10;lines&#9;");
        assert_eq!(text("two\nlines"), "two\nlines");
    }

    #[test]
    fn replaces_characters_xml_cannot_carry() {
        assert_eq!(
            text("bell\u{7} nul\u{0} \u{fffe}"),
            "bell\u{fffd} nul\u{fffd} \u{fffd}"
        );
        assert_eq!(text("é 🔐"), "é 🔐");
    }
}
