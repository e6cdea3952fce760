//! The report writers against golden files, hostile text and leaked credentials.
//!
//! Each format is rendered from one fixed run (fixed timestamps): a recovered root-MFA drill
//! with a lockout, AccessDenied events and a 4-hour declared account-recovery delay, a failed
//! drill whose step failure message holds an access key id, and a skipped drill whose name is
//! full of markup. The output must match `tests/golden/report/*` byte for byte.
//!
//! After an intended change to a writer, regenerate the golden files and review the diff:
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test --test report
//! git diff tests/golden/report
//! ```

use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use lockdrill::report::{
    self, DeclaredDelay, Event, RunReport, ScenarioReport, StepReport, StepStatus, Verdict,
    console, cucumber_json, html, json, junit, markdown,
};

const KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
const SESSION_KEY_ID: &str = "ASIAY34FZKBOKMUTVV7A";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const HOSTILE: &str = "<script>alert('x')</script> & \"quoted\" ]]> |pipe| `tick`";

/// 2025-03-01T10:00:00Z plus `millis`.
fn at(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_740_823_200_000 + millis).unwrap()
}

fn step(keyword: &str, text: &str, line: u32, start: i64, status: StepStatus) -> StepReport {
    StepReport {
        keyword: keyword.into(),
        text: text.into(),
        line,
        status,
        started_at: at(start),
        duration: Duration::from_millis(40),
        events: vec![],
    }
}

fn event(millis: i64, actor: &str, call: &str, resource: &str, denied: Option<&str>) -> Event {
    Event {
        at: at(millis),
        actor: actor.into(),
        call: call.into(),
        resource: resource.into(),
        decision: if denied.is_some() {
            "implicit_deny"
        } else {
            "allow"
        }
        .into(),
        message: denied.map(str::to_string),
    }
}

fn recovered() -> ScenarioReport {
    let root = "arn:aws:iam::111111111111:root";
    let denied = "User: arn:aws:iam::111111111111:root is not authorized to perform: \
                  iam:ListUsers on resource: arn:aws:iam::111111111111:user/* because no \
                  MFA device is associated with the root user";

    let mut prove = step(
        "Then",
        "the root user cannot list users",
        10,
        150,
        StepStatus::Passed,
    );
    prove.events.push(event(
        170,
        root,
        "iam:ListUsers",
        "arn:aws:iam::111111111111:user/*",
        Some(denied),
    ));
    let mut recover = step(
        "And",
        "the root user enables MFA on a new device",
        12,
        300,
        StepStatus::Passed,
    );
    recover.events.push(event(
        320,
        root,
        "iam:EnableMFADevice",
        "arn:aws:iam::111111111111:mfa/root-new",
        None,
    ));
    let mut check = step(
        "Then",
        "the root user can list users",
        13,
        400,
        StepStatus::Passed,
    );
    check.events.push(event(
        415,
        root,
        "iam:ListUsers",
        "arn:aws:iam::111111111111:user/*",
        None,
    ));

    ScenarioReport {
        feature: "Root MFA & account recovery".into(),
        feature_path: "features/root_mfa.feature".into(),
        name: "The root MFA device is lost".into(),
        line: 7,
        tags: vec!["@root".into(), "@catalogue_6".into()],
        verdict: Verdict::Recovered,
        steps: vec![
            step(
                "Given",
                "the world \"scenarios/single_account.yaml\"",
                8,
                0,
                StepStatus::Passed,
            ),
            step(
                "When",
                "the root user loses its MFA device",
                9,
                50,
                StepStatus::Passed,
            ),
            prove,
            step(
                "When",
                "AWS account recovery is performed",
                11,
                250,
                StepStatus::Passed,
            ),
            recover,
            check,
        ],
        lockout_at: Some(at(90)),
        recovered_at: Some(at(440)),
        declared_delays: vec![DeclaredDelay {
            what: "AWS account recovery for a lost root MFA device".into(),
            duration: Duration::from_secs(4 * 3600),
        }],
    }
}

fn failed() -> ScenarioReport {
    let alice = "arn:aws:iam::222222222222:user/alice";
    let denied = "User: arn:aws:iam::222222222222:user/alice is not authorized to perform: \
                  iam:AttachUserPolicy on resource: arn:aws:iam::222222222222:user/bob";
    let message = format!(
        "no principal other than root can administer IAM in account `222222222222`: \
         alice (key {KEY_ID}) was denied iam:AttachUserPolicy"
    );

    let mut assert = step(
        "Then",
        "some principal other than root can administer IAM in account 222222222222",
        9,
        600,
        StepStatus::Failed { message },
    );
    assert.events.push(event(
        620,
        alice,
        "iam:AttachUserPolicy",
        "arn:aws:iam::222222222222:user/bob",
        Some(denied),
    ));

    ScenarioReport {
        feature: "Root email lost".into(),
        feature_path: "features/root_email.feature".into(),
        name: "Root email lost with no break-glass path".into(),
        line: 5,
        tags: vec!["@root".into()],
        verdict: Verdict::Failed {
            reason: "step failed at features/root_email.feature:9".into(),
        },
        steps: vec![
            step(
                "Given",
                "the world \"scenarios/no_break_glass.yaml\"",
                6,
                500,
                StepStatus::Passed,
            ),
            step(
                "When",
                "the root email of account 222222222222 is lost",
                7,
                550,
                StepStatus::Passed,
            ),
            assert,
        ],
        lockout_at: Some(at(590)),
        recovered_at: None,
        declared_delays: vec![],
    }
}

fn skipped() -> ScenarioReport {
    ScenarioReport {
        feature: "SCP <break-glass> exception".into(),
        feature_path: "features/scp.feature".into(),
        name: HOSTILE.into(),
        line: 3,
        tags: vec!["@wip".into()],
        verdict: Verdict::Skipped {
            reason: "tagged @wip & \"not ready\"".into(),
        },
        steps: vec![step(
            "Given",
            "the world <scp>",
            4,
            700,
            StepStatus::Skipped,
        )],
        lockout_at: None,
        recovered_at: None,
        declared_delays: vec![],
    }
}

fn fixture() -> RunReport {
    RunReport {
        started_at: at(0),
        finished_at: at(1_250),
        emulator: "moto 5.1.4 (process)".into(),
        lockdrill_version: "0.1.0".into(),
        scenarios: vec![recovered(), failed(), skipped()],
    }
}

/// Compares `actual` with the golden file, or rewrites it when `UPDATE_GOLDEN` is set.
fn golden(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/report")
        .join(name);

    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }

    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "cannot read {}: {e}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} differs from {}; if the change is intended, rerun with UPDATE_GOLDEN=1 and \
         review the diff\n--- actual ---\n{actual}",
        path.display()
    );
}

#[test]
fn golden_console_summary() {
    golden("summary.txt", &console::summary(&fixture()));
}

#[test]
fn golden_markdown() {
    golden("evidence.md", &markdown::render(&fixture()));
}

#[test]
fn golden_html() {
    golden("evidence.html", &html::render(&fixture()));
}

#[test]
fn golden_junit() {
    golden("junit.xml", &junit::render(&fixture()));
}

#[test]
fn golden_json() {
    golden("evidence.json", &json::render(&fixture()));
}

#[test]
fn golden_cucumber_json() {
    golden("cucumber.json", &cucumber_json::render(&fixture()));
}

#[test]
fn time_to_recover_includes_the_declared_delay() {
    let run = fixture();

    assert_eq!(
        run.scenarios[0].time_to_recover(),
        Some(Duration::from_millis(4 * 3_600_000 + 350))
    );
    assert_eq!(run.scenarios[1].time_to_recover(), None);
    assert!(console::summary(&run).contains("time to recover 4h 00m 00.350s"));
    assert!(markdown::render(&run).contains("- Time to recover: 4h 00m 00.350s"));
}

#[test]
fn summary_ends_with_the_line_ci_counts() {
    let mut run = fixture();
    let summary = console::summary(&run);
    assert_eq!(
        summary.lines().count(),
        4,
        "one line per scenario and the totals:\n{summary}"
    );
    assert_eq!(
        summary.lines().last(),
        Some("1 passed, 1 failed, 1 skipped")
    );

    run.scenarios.pop();
    assert_eq!(
        console::summary(&run).lines().last(),
        Some("1 passed, 1 failed")
    );
}

#[test]
fn markup_in_run_text_is_shown_not_obeyed() {
    let mut run = fixture();
    hostile_everywhere(&mut run);

    let html = html::render(&run);
    assert!(
        !html.to_lowercase().contains("<script"),
        "raw <script> in HTML"
    );
    assert!(html.contains(
        "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quoted&quot; ]]&gt;"
    ));
    assert!(
        !html.contains(" src=") && !html.contains(" href=\"http"),
        "external resource"
    );

    let markdown = markdown::render(&run);
    let prose = without_code(&markdown);
    assert!(
        !prose.contains("<script"),
        "raw <script> outside code in Markdown:\n{prose}"
    );
    assert!(
        prose.contains("&lt;script&gt;"),
        "the escaped name is missing:\n{prose}"
    );
    for line in markdown.lines().filter(|l| l.starts_with('|')) {
        let cells = unescaped_pipes(line);
        assert!(
            cells == 3 || cells == 6 || cells == 8,
            "a pipe broke the table row: {line}"
        );
    }
}

#[test]
fn junit_is_well_formed_and_keeps_hostile_text_intact() {
    let mut run = fixture();
    hostile_everywhere(&mut run);
    let xml = junit::render(&run);

    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut cases, mut failures, mut skipped, mut names) = (0, 0, 0, Vec::new());
    loop {
        match reader.read_event().expect("JUnit XML is well-formed") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                match e.name().as_ref() {
                    b"testcase" => cases += 1,
                    b"failure" => failures += 1,
                    b"skipped" => skipped += 1,
                    _ => {}
                }
                for attribute in e.attributes() {
                    let attribute = attribute.expect("attributes are well-formed");
                    if attribute.key.as_ref() == b"name" {
                        names.push(attribute.unescape_value().unwrap().into_owned());
                    }
                }
            }
            _ => {}
        }
    }

    assert_eq!((cases, failures, skipped), (3, 1, 1));
    assert!(
        names.iter().any(|n| n == &format!("{HOSTILE} line\nbreak")),
        "{names:?}"
    );
}

#[test]
fn no_credential_survives_in_any_format() {
    let token = format!("FwoGZXIvYXdzE{}", "Ab9+/".repeat(40));
    let leak = format!("key {KEY_ID} secret {SECRET} token {token} session {SESSION_KEY_ID}");
    let mut run = fixture();
    put_everywhere(&mut run, &leak);

    let dir = std::env::temp_dir().join(format!("lockdrill-report-{}", std::process::id()));
    let written = report::write_all(&run, &dir).expect("write the evidence files");
    assert_eq!(written.len(), 5);

    let mut outputs = vec![("console".to_string(), console::summary(&run))];
    for path in &written {
        outputs.push((
            path.display().to_string(),
            std::fs::read_to_string(path).unwrap(),
        ));
    }
    std::fs::remove_dir_all(&dir).ok();

    for (name, output) in outputs {
        for secret in [
            KEY_ID,
            SESSION_KEY_ID,
            SECRET,
            &token,
            "FwoGZXIvYXdzE",
            "bPxRfiCY",
        ] {
            assert!(!output.contains(secret), "{name} leaks {secret}:\n{output}");
        }
        assert!(
            output.contains("[redacted]"),
            "{name} lost the redaction marker"
        );
    }
}

#[test]
fn redact_keeps_what_an_auditor_needs() {
    let text = "User: arn:aws:iam::222222222222:user/alice is not authorized to perform: \
                iam:AttachUserPolicy on resource: arn:aws:iam::222222222222:user/bob";
    assert_eq!(report::redact(text), text);
    assert_eq!(
        report::redact(&format!("AWS_SECRET_ACCESS_KEY={SECRET}")),
        "AWS_SECRET_ACCESS_KEY=[redacted]"
    );
}

/// Puts [`HOSTILE`] (and a line break) into every text field that reaches a report.
fn hostile_everywhere(run: &mut RunReport) {
    put_everywhere(run, &format!("{HOSTILE} line\nbreak"));
}

/// Appends `text` to every free-text field of `run`.
fn put_everywhere(run: &mut RunReport, text: &str) {
    run.emulator.push_str(text);
    run.lockdrill_version.push_str(text);
    for scenario in &mut run.scenarios {
        scenario.feature.push_str(text);
        scenario.feature_path.push_str(text);
        scenario.name = text.to_string();
        scenario.tags.push(text.to_string());
        match &mut scenario.verdict {
            Verdict::Recovered => {}
            Verdict::Unrecoverable { reason }
            | Verdict::Failed { reason }
            | Verdict::Skipped { reason } => reason.push_str(text),
        }
        for delay in &mut scenario.declared_delays {
            delay.what.push_str(text);
        }
        for step in &mut scenario.steps {
            step.keyword.push_str(text);
            step.text.push_str(text);
            if let StepStatus::Failed { message } = &mut step.status {
                message.push_str(text);
            }
            for event in &mut step.events {
                event.actor.push_str(text);
                event.call.push_str(text);
                event.resource.push_str(text);
                event.decision.push_str(text);
                event.message = Some(format!(
                    "{}{text}",
                    event.message.clone().unwrap_or_default()
                ));
            }
        }
    }
}

/// `markdown` without fenced code blocks and code spans, whose contents render literally.
fn without_code(markdown: &str) -> String {
    let mut prose = String::new();
    let mut fence: Option<String> = None;

    for line in markdown.lines() {
        let ticks: String = line.chars().take_while(|&c| c == '`').collect();
        match &fence {
            Some(open) if line.trim_end() == open => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => {
                prose.push_str(&without_code_spans(line));
                prose.push('\n');
            }
        }
    }
    prose
}

fn without_code_spans(line: &str) -> String {
    let mut prose = String::new();
    let mut rest = line;

    while let Some(start) = rest.find('`') {
        prose.push_str(&rest[..start]);
        let run = rest[start..].chars().take_while(|&c| c == '`').count();
        let after = &rest[start + run..];
        let delimiter = "`".repeat(run);

        // The closing run must be exactly as long as the opening one.
        let close = after.char_indices().map(|(i, _)| i).find(|&i| {
            after[i..].starts_with(&delimiter)
                && !after[i + run..].starts_with('`')
                && (i == 0 || !after[..i].ends_with('`'))
        });
        match close {
            Some(i) => rest = &after[i + run..],
            None => {
                prose.push_str(&rest[start..]);
                return prose;
            }
        }
    }
    prose.push_str(rest);
    prose
}

fn unescaped_pipes(line: &str) -> usize {
    let mut count = 0;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            '\\' if !escaped => escaped = true,
            '|' if !escaped => count += 1,
            _ => escaped = false,
        }
    }
    count
}

/// A drill proven unrecoverable passes in every format, and every format keeps the whole
/// explanation of why nothing could recover, line by line where the format allows it.
#[test]
fn an_unrecoverable_drill_passes_and_says_why_everywhere() {
    let why = "line 9: the root user of 222222222222 cannot sign in\n\
               nothing can recover IAM in account 222222222222:\n  \
               - arn:aws:iam::222222222222:user/alice: not authorized";
    let mut scenario = failed();
    scenario.verdict = Verdict::Unrecoverable { reason: why.into() };
    let run = RunReport {
        scenarios: vec![scenario],
        ..fixture()
    };

    assert_eq!(run.totals_line(), "1 passed, 0 failed");
    assert!(console::summary(&run).contains("UNRECOVERABLE"));

    let markdown = markdown::render(&run);
    assert!(
        markdown.contains("Why:\n\n```text\n")
            && markdown.contains("\n  - arn:aws:iam::222222222222:user/alice"),
        "{markdown}"
    );
    let html = html::render(&run);
    assert!(
        html.contains("<pre>line 9: the root user of 222222222222 cannot sign in\nnothing can"),
        "{html}"
    );
    let junit = junit::render(&run);
    assert!(
        junit.contains("failures=\"0\"")
            && junit.contains("<system-out>UNRECOVERABLE, as expected"),
        "{junit}"
    );
    let cucumber: serde_json::Value =
        serde_json::from_str(&cucumber_json::render(&run)).expect("cucumber JSON");
    let steps = cucumber[0]["elements"][0]["steps"]
        .as_array()
        .expect("steps");
    assert!(
        steps
            .iter()
            .all(|step| step["result"]["status"] != "failed")
    );
    assert!(
        steps.last().unwrap()["output"][0]
            .as_str()
            .unwrap()
            .contains("nothing can recover")
    );
}
