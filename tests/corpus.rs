//! The evaluation corpus: request/expectation pairs taken from AWS's documentation.
//!
//! Every `tests/corpus/NN-topic.cases.jsonl` holds one case a line:
//!
//! ```json
//! {"cite": "...", "name": "...", "request": {...}, "expect": {"decision": "...", ...}}
//! ```
//!
//! `request` is a `lockdrill eval --requests` line; the world is `tests/corpus/NN-topic.yaml`.
//! `expect` holds `decision` (`allow`, `implicit_deny`, `explicit_deny`) and optionally
//! `decided_by` (a policy type, or `null`), `decided_by_any` (a list of acceptable policy
//! types, for denials where AWS leaves unspecified which type it names), `message_contains`
//! (a string, or a list of strings that must all appear in the AccessDenied message) and
//! `message_contains_any` (a list of strings of which at least one must appear).
//!
//! Each cases file is run through the real binary in one `eval --requests -` call, every
//! mismatch across every file is collected, and the test fails with the whole list.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

/// The corpus must not pass by being empty.
const MIN_CASES: usize = 150;

const DECISIONS: &[&str] = &["allow", "implicit_deny", "explicit_deny"];
const POLICY_TYPES: &[&str] = &["scp", "rcp", "resource", "identity", "boundary", "session"];
const EXPECT_KEYS: &[&str] = &[
    "decision",
    "decided_by",
    "decided_by_any",
    "message_contains",
    "message_contains_any",
];

struct Case {
    line: usize,
    name: String,
    cite: String,
    request: Value,
    expect: Value,
}

/// One problem found, with enough context to find and judge the case.
struct Failure {
    file: String,
    line: usize,
    name: String,
    cite: String,
    detail: String,
}

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("corpus")
}

/// The `*.cases.jsonl` files of the corpus, sorted by name.
fn case_files() -> Vec<PathBuf> {
    let dir = corpus_dir();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.ends_with(".cases.jsonl"))
        })
        .collect();
    files.sort();
    files
}

/// `NN-topic.cases.jsonl` -> `NN-topic.yaml`.
fn world_for(cases: &Path) -> PathBuf {
    let name = cases
        .file_name()
        .and_then(|name| name.to_str())
        .expect("utf-8 file name");
    let stem = name.strip_suffix(".cases.jsonl").expect("a cases file");
    cases.with_file_name(format!("{stem}.yaml"))
}

fn display_name(path: &Path) -> String {
    path.strip_prefix(env!("CARGO_MANIFEST_DIR"))
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Reads a cases file; a malformed case is reported as a failure, not silently skipped.
fn read_cases(path: &Path, failures: &mut Vec<Failure>) -> Vec<Case> {
    let file = display_name(path);
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {file}: {error}"));
    let mut cases = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line_number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let mut malformed = |detail: String| {
            failures.push(Failure {
                file: file.clone(),
                line: line_number,
                name: String::from("?"),
                cite: String::from("?"),
                detail,
            });
        };
        let value: Value = match serde_json::from_str(line) {
            Ok(value) => value,
            Err(error) => {
                malformed(format!("malformed case: not JSON: {error}"));
                continue;
            }
        };
        let text_field = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_owned);
        let (Some(name), Some(cite)) = (text_field("name"), text_field("cite")) else {
            malformed(String::from(
                "malformed case: `name` and `cite` must be strings",
            ));
            continue;
        };
        let (Some(request), Some(expect)) = (value.get("request"), value.get("expect")) else {
            malformed(format!(
                "malformed case `{name}`: `request` and `expect` are required"
            ));
            continue;
        };
        if let Err(problem) = check_expect(expect) {
            malformed(format!("malformed case `{name}`: {problem}"));
            continue;
        }
        if !request.is_object() {
            malformed(format!(
                "malformed case `{name}`: `request` must be an object"
            ));
            continue;
        }
        cases.push(Case {
            line: line_number,
            name,
            cite,
            request: request.clone(),
            expect: expect.clone(),
        });
    }
    cases
}

/// Rejects expectations that could never fail or that are misspelt.
fn check_expect(expect: &Value) -> Result<(), String> {
    let Some(fields) = expect.as_object() else {
        return Err(String::from("`expect` must be an object"));
    };
    if let Some(key) = fields
        .keys()
        .find(|key| !EXPECT_KEYS.contains(&key.as_str()))
    {
        return Err(format!("unknown expectation `{key}`"));
    }
    match fields.get("decision").and_then(Value::as_str) {
        Some(decision) if DECISIONS.contains(&decision) => {}
        _ => return Err(format!("`decision` must be one of {DECISIONS:?}")),
    }
    let is_policy_type = |value: &Value| {
        value.is_null() || value.as_str().is_some_and(|t| POLICY_TYPES.contains(&t))
    };
    if let Some(decided_by) = fields.get("decided_by")
        && !is_policy_type(decided_by)
    {
        return Err(format!(
            "`decided_by` must be null or one of {POLICY_TYPES:?}"
        ));
    }
    if let Some(any) = fields.get("decided_by_any") {
        let ok = any
            .as_array()
            .is_some_and(|list| !list.is_empty() && list.iter().all(is_policy_type));
        if !ok {
            return Err(String::from(
                "`decided_by_any` must be a non-empty list of policy types",
            ));
        }
    }
    for key in ["message_contains", "message_contains_any"] {
        if let Some(value) = fields.get(key) {
            let ok = value.is_string()
                || value
                    .as_array()
                    .is_some_and(|list| !list.is_empty() && list.iter().all(Value::is_string));
            if !ok {
                return Err(format!("`{key}` must be a string or a list of strings"));
            }
        }
    }
    Ok(())
}

fn strings(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// Compares one decision with its expectation; returns every difference.
fn compare(case: &Case, got: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(error) = got.get("error") {
        problems.push(format!("the request was refused: {error}"));
        return problems;
    }
    let expect = &case.expect;
    let got_decision = got.get("decision").unwrap_or(&Value::Null);
    let got_decided_by = got.get("decided_by").unwrap_or(&Value::Null);
    let got_message = got.get("message").unwrap_or(&Value::Null);

    if let (Some(wanted), Some(found)) = (case.request.get("action"), got.get("action"))
        && wanted != found
    {
        problems.push(format!(
            "output out of order: decision is for action {found}, request was {wanted}"
        ));
    }
    if got_decision != &expect["decision"] {
        problems.push(format!(
            "decision: expected {}, got {got_decision}",
            expect["decision"]
        ));
    }
    if let Some(wanted) = expect.get("decided_by")
        && got_decided_by != wanted
    {
        problems.push(format!(
            "decided_by: expected {wanted}, got {got_decided_by}"
        ));
    }
    if let Some(any) = expect.get("decided_by_any").and_then(Value::as_array)
        && !any.contains(got_decided_by)
    {
        problems.push(format!(
            "decided_by: expected one of {}, got {got_decided_by}",
            Value::Array(any.clone())
        ));
    }
    let message = got_message.as_str().unwrap_or("");
    if let Some(wanted) = expect.get("message_contains") {
        for fragment in strings(wanted) {
            if !message.contains(fragment) {
                problems.push(format!(
                    "message: expected to contain {fragment:?}, got {got_message}"
                ));
            }
        }
    }
    if let Some(wanted) = expect.get("message_contains_any") {
        let fragments = strings(wanted);
        if !fragments.iter().any(|fragment| message.contains(fragment)) {
            problems.push(format!(
                "message: expected to contain one of {fragments:?}, got {got_message}"
            ));
        }
    }
    if expect["decision"] == "allow" && got_decision == "allow" && !got_message.is_null() {
        problems.push(format!(
            "message: an allowed request has no AccessDenied message, got {got_message}"
        ));
    }
    problems
}

/// Runs one world's requests through `lockdrill eval --requests -` and checks every answer.
fn run_file(path: &Path, failures: &mut Vec<Failure>) -> usize {
    let file = display_name(path);
    let cases = read_cases(path, failures);
    let world = world_for(path);
    let fail_file = |failures: &mut Vec<Failure>, detail: String| {
        failures.push(Failure {
            file: file.clone(),
            line: 0,
            name: String::from("(whole file)"),
            cite: String::from("-"),
            detail,
        });
    };
    if !world.is_file() {
        fail_file(failures, format!("no world file {}", display_name(&world)));
        return cases.len();
    }
    if cases.is_empty() {
        fail_file(failures, String::from("no cases"));
        return 0;
    }

    let mut input = String::new();
    for case in &cases {
        input.push_str(&serde_json::to_string(&case.request).expect("a JSON value"));
        input.push('\n');
    }

    let mut child = Command::new(env!("CARGO_BIN_EXE_lockdrill"))
        .arg("eval")
        .arg("--world")
        .arg(&world)
        .arg("--requests")
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot start the lockdrill binary");
    let mut stdin = child.stdin.take().expect("piped stdin");
    // Write from another thread so that a large output cannot block the writer.
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child
        .wait_with_output()
        .expect("cannot wait for the lockdrill binary");
    let written = writer.join().expect("the writer thread panicked");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);

    match output.status.code() {
        Some(0 | 1) => {}
        Some(2) => {
            fail_file(
                failures,
                format!(
                    "lockdrill exited 2 (bad input) for world {}:\n{stderr}",
                    display_name(&world)
                ),
            );
            return cases.len();
        }
        other => {
            fail_file(
                failures,
                format!("lockdrill ended with {other:?} (expected exit 0 or 1):\n{stderr}"),
            );
            return cases.len();
        }
    }
    if let Err(error) = written {
        fail_file(
            failures,
            format!("could not write the requests: {error}\n{stderr}"),
        );
    }

    let lines: Vec<&str> = stdout
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    if lines.len() != cases.len() {
        fail_file(
            failures,
            format!(
                "{} cases but {} decision lines\nstderr:\n{stderr}",
                cases.len(),
                lines.len()
            ),
        );
    }
    for (case, line) in cases.iter().zip(&lines) {
        let problems = match serde_json::from_str::<Value>(line) {
            Ok(got) => compare(case, &got),
            Err(error) => vec![format!("output line is not JSON ({error}): {line}")],
        };
        if !problems.is_empty() {
            let mut detail = format!("request: {}\n", case.request);
            for problem in problems {
                let _ = writeln!(detail, "{problem}");
            }
            let _ = write!(detail, "got: {line}");
            failures.push(Failure {
                file: file.clone(),
                line: case.line,
                name: case.name.clone(),
                cite: case.cite.clone(),
                detail,
            });
        }
    }
    cases.len()
}

#[test]
fn corpus_matches_the_documentation() {
    let files = case_files();
    assert!(
        !files.is_empty(),
        "no *.cases.jsonl files under {}",
        corpus_dir().display()
    );

    let mut failures = Vec::new();
    let mut total = 0;
    for path in &files {
        total += run_file(path, &mut failures);
    }

    let mut report = String::new();
    for failure in &failures {
        let _ = writeln!(
            report,
            "\n{}:{}: {}\n  cite: {}\n  {}",
            failure.file,
            failure.line,
            failure.name,
            failure.cite,
            failure.detail.replace('\n', "\n  ")
        );
    }
    let too_few = if total < MIN_CASES {
        format!("\nthe corpus has {total} cases; at least {MIN_CASES} are required")
    } else {
        String::new()
    };
    assert!(
        failures.is_empty() && too_few.is_empty(),
        "{} problems with {total} corpus cases (in {} files):{report}{too_few}",
        failures.len(),
        files.len()
    );
}
