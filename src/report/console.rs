//! The summary printed at the end of a run, for people at a terminal and for CI logs.
//!
//! One line per scenario, then the plain totals line CI counts (`N passed, N failed`). Text
//! from feature files and error messages is flattened to one line and stripped of control
//! characters, so a scenario name cannot move the cursor, recolour the terminal or forge a
//! totals line of its own.

use super::{RunReport, Verdict, format_duration};

/// The end-of-run summary, ending with the totals line and a newline.
pub fn summary(report: &RunReport) -> String {
    let report = report.redacted();
    let mut out = String::new();

    for scenario in &report.scenarios {
        let recover = match (&scenario.verdict, scenario.time_to_recover()) {
            (Verdict::Skipped { .. }, _) => "not run".to_string(),
            (_, Some(duration)) => format!("time to recover {}", format_duration(duration)),
            (_, None) => "not recovered".to_string(),
        };
        out.push_str(&format!(
            "{:<9}  {}  ({}; {})",
            scenario.verdict.label(),
            one_line(&scenario.name),
            one_line(&scenario.location()),
            recover,
        ));
        if let Some(reason) = scenario.verdict.reason() {
            out.push_str(&format!(": {}", one_line(reason)));
        }
        out.push('\n');
    }

    out.push_str(&report.totals_line());
    out.push('\n');
    out
}

/// `text` on one line with no control characters: line breaks and tabs become spaces, other
/// control characters (ESC among them) become U+FFFD.
pub(super) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => '\u{fffd}',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_removes_what_a_terminal_would_obey() {
        assert_eq!(one_line("a\nb\r\tc"), "a b  c");
        assert_eq!(one_line("\u{1b}[2Jred"), "\u{fffd}[2Jred");
        assert_eq!(one_line("plain <b>&"), "plain <b>&");
    }
}
