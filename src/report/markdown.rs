//! The evidence report in Markdown, for auditors and for review in a pull request.
//!
//! It reads top to bottom the way an auditor asks: when and against what the run happened,
//! which drills recovered, then for each scenario where it is defined, when the lockout
//! happened, when access came back and how long that took (declared delays included and
//! listed), a timeline of every API call with its decision, and the AccessDenied texts quoted
//! verbatim.
//!
//! Text from feature files and error messages is escaped so that it renders as the text it is:
//! Markdown and HTML markup in a scenario name stays visible instead of being interpreted, and a
//! `|` cannot break a table. Verbatim texts go in fenced code blocks whose fence is longer than
//! any run of backticks inside them.

use std::fmt::Write as _;

use super::{
    RunReport, ScenarioReport, StepReport, StepStatus, Verdict, format_duration, format_time,
};

/// The whole report, ending with a newline.
pub fn render(report: &RunReport) -> String {
    let report = report.redacted();
    let mut out = String::new();

    header(&report, &mut out);
    summary_table(&report, &mut out);
    for (index, scenario) in report.scenarios.iter().enumerate() {
        scenario_section(index + 1, scenario, &mut out);
    }
    out
}

fn header(report: &RunReport, out: &mut String) {
    out.push_str("# lockdrill evidence report\n\n");
    out.push_str("| Run | |\n|---|---|\n");
    for (name, value) in report.run_facts() {
        let value = text(&value);
        let _ = writeln!(out, "| {name} | {value} |");
    }
    out.push('\n');
}

fn summary_table(report: &RunReport, out: &mut String) {
    out.push_str("## Summary\n\n");
    out.push_str("| # | Verdict | Scenario | Defined at | Time to recover |\n");
    out.push_str("|---|---|---|---|---|\n");

    for (index, scenario) in report.scenarios.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | **{}** | {} | {} | {} |",
            index + 1,
            scenario.verdict.label(),
            text(&scenario.name),
            code(&scenario.location(), true),
            time_to_recover(scenario),
        );
    }
    out.push('\n');
}

fn scenario_section(number: usize, scenario: &ScenarioReport, out: &mut String) {
    let _ = writeln!(out, "## {number}. {}\n", text(&scenario.name));

    let _ = writeln!(
        out,
        "- Feature: {} ({})",
        text(&scenario.feature),
        code(&scenario.location(), false)
    );
    let tags: Vec<String> = scenario.tags.iter().map(|t| code(t, false)).collect();
    let tags = if tags.is_empty() {
        "none".to_string()
    } else {
        tags.join(", ")
    };
    let _ = writeln!(out, "- Tags: {tags}");
    // A reason of several lines (why nothing can recover, principal by principal) is shown
    // whole below the list; its first line stays in the verdict.
    let _ = match scenario.verdict.reason() {
        Some(reason) => writeln!(
            out,
            "- Verdict: **{}**: {}",
            scenario.verdict.label(),
            text(reason.lines().next().unwrap_or_default())
        ),
        None => writeln!(out, "- Verdict: **{}**", scenario.verdict.label()),
    };
    let _ = writeln!(out, "- Lockout at: {}", optional_time(scenario.lockout_at));
    let _ = writeln!(
        out,
        "- Recovered at: {}",
        optional_time(scenario.recovered_at)
    );
    let _ = writeln!(out, "- Time to recover: {}", time_to_recover(scenario));
    if !scenario.declared_delays.is_empty() {
        out.push_str("- Declared delays (counted in the time to recover, not waited for):\n");
        for delay in &scenario.declared_delays {
            let _ = writeln!(
                out,
                "  - {}: {}",
                text(&delay.what),
                format_duration(delay.duration)
            );
        }
    }
    out.push('\n');
    if let Some(reason) = scenario.verdict.reason().filter(|r| r.contains('\n')) {
        let _ = write!(out, "Why:\n\n{}\n", fenced(reason));
    }

    timeline(scenario, out);
    failures(scenario, out);
    access_denied_texts(scenario, out);
}

fn timeline(scenario: &ScenarioReport, out: &mut String) {
    out.push_str("### Timeline\n\n");
    if scenario.steps.is_empty() {
        out.push_str("No step ran.\n\n");
        return;
    }

    out.push_str("| Time (UTC) | Step | Result | Actor | API call | Resource | Decision |\n");
    out.push_str("|---|---|---|---|---|---|---|\n");
    for step in &scenario.steps {
        let label = step_label(step);
        if step.events.is_empty() {
            let _ = writeln!(
                out,
                "| {} | {label} | {} | | | | |",
                format_time(step.started_at),
                step.status.label()
            );
        }
        for event in &step.events {
            let _ = writeln!(
                out,
                "| {} | {label} | {} | {} | {} | {} | {} |",
                format_time(event.at),
                step.status.label(),
                code(&event.actor, true),
                code(&event.call, true),
                code(&event.resource, true),
                code(&event.decision, true),
            );
        }
    }
    out.push('\n');
}

fn failures(scenario: &ScenarioReport, out: &mut String) {
    let failed = scenario.steps.iter().filter_map(|step| match &step.status {
        StepStatus::Failed { message } => Some((step, message)),
        _ => None,
    });

    let mut heading = false;
    for (step, message) in failed {
        if !heading {
            out.push_str("### Step failures\n\n");
            heading = true;
        }
        let _ = writeln!(out, "{}:\n", step_label(step));
        out.push_str(&fenced(message));
        out.push('\n');
    }
}

fn access_denied_texts(scenario: &ScenarioReport, out: &mut String) {
    out.push_str("### AccessDenied texts seen\n\n");

    let mut any = false;
    for step in &scenario.steps {
        for event in &step.events {
            let Some(message) = &event.message else {
                continue;
            };
            any = true;
            let _ = writeln!(
                out,
                "{}, {} by {} ({}):\n",
                format_time(event.at),
                code(&event.call, false),
                code(&event.actor, false),
                code(&event.decision, false),
            );
            out.push_str(&fenced(message));
            out.push('\n');
        }
    }
    if !any {
        out.push_str("None.\n\n");
    }
}

fn step_label(step: &StepReport) -> String {
    format!(
        "{} {} (line {})",
        text(&step.keyword),
        text(&step.text),
        step.line
    )
}

fn optional_time(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(format_time)
        .unwrap_or_else(|| "not recorded".to_string())
}

fn time_to_recover(scenario: &ScenarioReport) -> String {
    match (&scenario.verdict, scenario.time_to_recover()) {
        (Verdict::Skipped { .. }, _) => "not run".to_string(),
        (_, Some(duration)) => format_duration(duration),
        (_, None) => "not recovered".to_string(),
    }
}

/// Inline text, one line, with Markdown and HTML markup escaped so it renders as written.
pub(super) fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in super::console::one_line(value).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A code span: shown literally, delimited by more backticks than it contains. In a table
/// cell, `|` is escaped too (GFM splits cells before it parses code spans).
fn code(value: &str, in_table: bool) -> String {
    let mut value = super::console::one_line(value);
    if in_table {
        value = value.replace('|', "\\|");
    }
    if value.is_empty() {
        return String::new();
    }

    let fence = "`".repeat(longest_backtick_run(&value) + 1);
    let pad = if value.starts_with('`') || value.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{value}{pad}{fence}")
}

/// A fenced code block holding `value` verbatim (control characters other than line breaks
/// and tabs replaced), ending with a newline.
fn fenced(value: &str) -> String {
    let body: String = value
        .replace("\r\n", "\n")
        .chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                '\u{fffd}'
            } else {
                c
            }
        })
        .collect();
    let fence = "`".repeat((longest_backtick_run(&body) + 1).max(3));
    format!("{fence}text\n{}\n{fence}\n", body.trim_end_matches('\n'))
}

fn longest_backtick_run(value: &str) -> usize {
    value.split(|c| c != '`').map(str::len).max().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_escapes_markup_and_table_pipes() {
        assert_eq!(
            text("<script>a|b</script>"),
            "&lt;script&gt;a\\|b&lt;/script&gt;"
        );
        assert_eq!(text("Tom & \"Jerry\"\nnext"), "Tom &amp; \"Jerry\" next");
        assert_eq!(text("*bold* [link](x)"), "\\*bold\\* \\[link\\](x)");
    }

    #[test]
    fn code_spans_outlast_the_backticks_inside() {
        assert_eq!(code("iam:GetUser", true), "`iam:GetUser`");
        assert_eq!(code("a`b", false), "``a`b``");
        assert_eq!(code("`x", false), "`` `x ``");
        assert_eq!(code("a|b", true), "`a\\|b`");
    }

    #[test]
    fn fences_outlast_the_backticks_inside() {
        assert_eq!(fenced("denied"), "```text\ndenied\n```\n");
        assert_eq!(fenced("a ```` b\n"), "`````text\na ```` b\n`````\n");
    }
}
