//! The evidence report as one self-contained HTML page, for auditors without a Markdown viewer.
//!
//! It holds the same content as the Markdown report ([`super::markdown`]) on a page that needs
//! nothing but itself: inline CSS, no scripts, no fonts, images or links to fetch, and a
//! Content-Security-Policy that forbids them anyway, so the file can be archived and opened
//! years later, offline, and shows exactly what it showed on the day. Every text from the run
//! is HTML-escaped, quotes included, since every attribute value is quoted.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::{
    RunReport, ScenarioReport, StepReport, StepStatus, Verdict, format_duration, format_time,
};

const STYLE: &str = "\
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#eee}
code,pre{font-family:ui-monospace,monospace;font-size:.9em}
pre{background:#f6f6f6;border-left:3px solid #999;padding:.5em;white-space:pre-wrap}
.verdict{font-weight:bold}
.recovered{color:#1a7f37}
.failed{color:#cf222e}
.skipped{color:#9a6700}
.unrecoverable{color:#8250df}
section{border-top:1px solid #ccc;margin-top:2em}";

/// The whole page, ending with a newline.
pub fn render(report: &RunReport) -> String {
    let report = report.redacted();
    let mut out = String::new();

    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" \
         content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<title>lockdrill evidence report</title>\n");
    let _ = writeln!(out, "<style>\n{STYLE}\n</style>\n</head>\n<body>");
    out.push_str("<h1>lockdrill evidence report</h1>\n");

    run_table(&report, &mut out);
    summary_table(&report, &mut out);
    for (index, scenario) in report.scenarios.iter().enumerate() {
        scenario_section(index + 1, scenario, &mut out);
    }

    out.push_str("</body>\n</html>\n");
    out
}

fn run_table(report: &RunReport, out: &mut String) {
    out.push_str("<table>\n");
    for (name, value) in report.run_facts() {
        let value = escape(&value);
        let _ = writeln!(out, "<tr><th>{name}</th><td>{value}</td></tr>");
    }
    out.push_str("</table>\n");
}

fn summary_table(report: &RunReport, out: &mut String) {
    out.push_str("<h2>Summary</h2>\n<table>\n");
    out.push_str(
        "<tr><th>#</th><th>Verdict</th><th>Scenario</th><th>Defined at</th>\
         <th>Time to recover</th></tr>\n",
    );

    for (index, scenario) in report.scenarios.iter().enumerate() {
        let number = index + 1;
        let _ = writeln!(
            out,
            "<tr><td>{number}</td><td>{}</td><td><a href=\"#scenario-{number}\">{}</a></td>\
             <td><code>{}</code></td><td>{}</td></tr>",
            verdict(&scenario.verdict),
            escape(&scenario.name),
            escape(&scenario.location()),
            time_to_recover(scenario),
        );
    }
    out.push_str("</table>\n");
}

fn scenario_section(number: usize, scenario: &ScenarioReport, out: &mut String) {
    let _ = writeln!(out, "<section id=\"scenario-{number}\">");
    let _ = writeln!(out, "<h2>{number}. {}</h2>", escape(&scenario.name));

    out.push_str("<ul>\n");
    let _ = writeln!(
        out,
        "<li>Feature: {} (<code>{}</code>)</li>",
        escape(&scenario.feature),
        escape(&scenario.location())
    );
    let tags: Vec<String> = scenario
        .tags
        .iter()
        .map(|t| format!("<code>{}</code>", escape(t)))
        .collect();
    let tags = if tags.is_empty() {
        "none".to_string()
    } else {
        tags.join(", ")
    };
    let _ = writeln!(out, "<li>Tags: {tags}</li>");
    // A reason of several lines is shown whole, as written, below the verdict.
    let reason = match scenario.verdict.reason() {
        Some(reason) if reason.contains('\n') => format!("<pre>{}</pre>", escape(reason)),
        Some(reason) => format!(": {}", escape(reason)),
        None => String::new(),
    };
    let _ = writeln!(
        out,
        "<li>Verdict: {}{reason}</li>",
        verdict(&scenario.verdict)
    );
    let _ = writeln!(
        out,
        "<li>Lockout at: {}</li>",
        optional_time(scenario.lockout_at)
    );
    let _ = writeln!(
        out,
        "<li>Recovered at: {}</li>",
        optional_time(scenario.recovered_at)
    );
    let _ = writeln!(out, "<li>Time to recover: {}", time_to_recover(scenario));
    if !scenario.declared_delays.is_empty() {
        out.push_str(" (declared delays counted, not waited for)<ul>\n");
        for delay in &scenario.declared_delays {
            let _ = writeln!(
                out,
                "<li>{}: {}</li>",
                escape(&delay.what),
                format_duration(delay.duration)
            );
        }
        out.push_str("</ul>");
    }
    out.push_str("</li>\n</ul>\n");

    timeline(scenario, out);
    failures(scenario, out);
    access_denied_texts(scenario, out);
    out.push_str("</section>\n");
}

fn timeline(scenario: &ScenarioReport, out: &mut String) {
    out.push_str("<h3>Timeline</h3>\n");
    if scenario.steps.is_empty() {
        out.push_str("<p>No step ran.</p>\n");
        return;
    }

    out.push_str(
        "<table>\n<tr><th>Time (UTC)</th><th>Step</th><th>Result</th><th>Actor</th>\
         <th>API call</th><th>Resource</th><th>Decision</th></tr>\n",
    );
    for step in &scenario.steps {
        let label = step_label(step);
        let result = step.status.label();
        if step.events.is_empty() {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{label}</td><td>{result}</td><td></td><td></td><td></td>\
                 <td></td></tr>",
                format_time(step.started_at),
            );
        }
        for event in &step.events {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{label}</td><td>{result}</td><td><code>{}</code></td>\
                 <td><code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                format_time(event.at),
                escape(&event.actor),
                escape(&event.call),
                escape(&event.resource),
                escape(&event.decision),
            );
        }
    }
    out.push_str("</table>\n");
}

fn failures(scenario: &ScenarioReport, out: &mut String) {
    let failed: Vec<(&StepReport, &String)> = scenario
        .steps
        .iter()
        .filter_map(|step| match &step.status {
            StepStatus::Failed { message } => Some((step, message)),
            _ => None,
        })
        .collect();
    if failed.is_empty() {
        return;
    }

    out.push_str("<h3>Step failures</h3>\n");
    for (step, message) in failed {
        let _ = writeln!(
            out,
            "<p>{}:</p>\n<pre>{}</pre>",
            step_label(step),
            escape(message)
        );
    }
}

fn access_denied_texts(scenario: &ScenarioReport, out: &mut String) {
    out.push_str("<h3>AccessDenied texts seen</h3>\n");

    let mut any = false;
    for step in &scenario.steps {
        for event in &step.events {
            let Some(message) = &event.message else {
                continue;
            };
            any = true;
            let _ = writeln!(
                out,
                "<p>{}, <code>{}</code> by <code>{}</code> ({}):</p>\n<pre>{}</pre>",
                format_time(event.at),
                escape(&event.call),
                escape(&event.actor),
                escape(&event.decision),
                escape(message),
            );
        }
    }
    if !any {
        out.push_str("<p>None.</p>\n");
    }
}

fn verdict(verdict: &Verdict) -> String {
    let class = match verdict {
        Verdict::Recovered => "recovered",
        Verdict::Unrecoverable { .. } => "unrecoverable",
        Verdict::Failed { .. } => "failed",
        Verdict::Skipped { .. } => "skipped",
    };
    format!("<span class=\"verdict {class}\">{}</span>", verdict.label())
}

fn step_label(step: &StepReport) -> String {
    format!(
        "{} {} (line {})",
        escape(&step.keyword),
        escape(&step.text),
        step.line
    )
}

fn optional_time(at: Option<DateTime<Utc>>) -> String {
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

/// Escapes `value` for HTML text and double- or single-quoted attribute values. Control
/// characters other than line breaks and tabs, which HTML forbids, become U+FFFD.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\n' | '\t' => out.push(c),
            '\r' => {}
            c if c.is_control() => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_text_and_attributes() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape("]]>"), "]]&gt;");
        assert_eq!(escape("a\r\nb\u{0}c"), "a\nb\u{fffd}c");
    }
}
