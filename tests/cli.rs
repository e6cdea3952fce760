//! The `lockdrill eval` command as a user meets it: golden text and JSON output, located
//! errors for bad worlds, policies and requests, exit codes, and the scenario worlds checked
//! against their expectations.
//!
//! Golden files live in `tests/golden/`; run with `UPDATE_GOLDEN=1` to rewrite them after an
//! intended change, and review the diff.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn lockdrill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lockdrill"))
        .args(args)
        .current_dir(root())
        .env_remove("LOCKDRILL_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("lockdrill runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("output is UTF-8")
}

/// Compares `actual` with a golden file, or rewrites the file when `UPDATE_GOLDEN` is set.
fn assert_golden(name: &str, actual: &str) {
    let path = root().join("tests/golden").join(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("golden file is writable");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; run with UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    assert_eq!(actual, expected, "output differs from {}", path.display());
}

const WORLD: &str = "tests/fixtures/golden-world.yaml";

#[test]
fn text_output_of_an_scp_lockout_matches_golden() {
    let output = lockdrill(&[
        "eval",
        "--world",
        WORLD,
        "--principal",
        "arn:aws:iam::222222222222:user/alice",
        "--action",
        "iam:AttachUserPolicy",
        "--resource",
        "arn:aws:iam::222222222222:user/bob",
    ]);
    assert_eq!(output.status.code(), Some(1), "a deny exits 1");
    assert_golden("eval-scp-deny.txt", &text(&output.stdout));
}

#[test]
fn json_output_of_an_allow_matches_golden() {
    let output = lockdrill(&[
        "eval",
        "--world",
        WORLD,
        "--principal",
        "arn:aws:sts::222222222222:assumed-role/BreakGlassAdminRole/fix",
        "--action",
        "iam:AttachUserPolicy",
        "--resource",
        "arn:aws:iam::222222222222:user/bob",
        "--format",
        "json",
    ]);
    assert_eq!(output.status.code(), Some(0), "an allow exits 0");
    assert_golden("eval-break-glass-allow.json", &text(&output.stdout));
}

#[test]
fn request_lines_answer_line_for_line_and_report_bad_ones() {
    let output = lockdrill(&[
        "eval",
        "--world",
        WORLD,
        "--requests",
        "tests/fixtures/golden.requests.jsonl",
    ]);
    assert_eq!(
        output.status.code(),
        Some(2),
        "bad lines make the run exit 2"
    );
    let stdout = text(&output.stdout);
    assert_eq!(
        stdout.lines().count(),
        7,
        "one output line per request line"
    );
    assert_golden("eval-requests.jsonl", &stdout);
}

#[test]
fn the_aws_message_for_a_missing_identity_allow_is_exact() {
    let output = lockdrill(&[
        "eval",
        "--world",
        "scenarios/admin-detached.yaml",
        "--principal",
        "arn:aws:iam::123456789012:user/alice",
        "--action",
        "iam:AttachUserPolicy",
        "--resource",
        "arn:aws:iam::123456789012:user/bob",
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON output");
    assert_eq!(report["decision"], "implicit_deny");
    assert_eq!(report["decided_by"], "identity");
    assert_eq!(
        report["message"],
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: iam:AttachUserPolicy on resource: \
         arn:aws:iam::123456789012:user/bob because no identity-based policy allows the iam:AttachUserPolicy action"
    );
}

#[test]
fn every_scenario_meets_its_expectations() {
    let mut checked = 0;
    for entry in std::fs::read_dir(root().join("scenarios")).expect("scenarios/ exists") {
        let world = entry.expect("a directory entry").path();
        if world
            .extension()
            .is_none_or(|extension| extension != "yaml")
        {
            continue;
        }
        let requests = world.with_extension("requests.jsonl");
        if !requests.exists() {
            continue;
        }
        let output = lockdrill(&[
            "eval",
            "--world",
            world.to_str().expect("a UTF-8 path"),
            "--requests",
            requests.to_str().expect("a UTF-8 path"),
            "--check",
            "--format",
            "text",
        ]);
        let stdout = text(&output.stdout);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}:\n{stdout}{}",
            world.display(),
            text(&output.stderr)
        );
        assert!(stdout.ends_with(" 0 failed\n"), "{stdout}");
        checked += 1;
    }
    assert!(
        checked >= 4,
        "expected the scenario worlds, checked {checked}"
    );
}

#[test]
fn check_fails_when_an_expectation_is_wrong() {
    let dir = tempdir("check");
    let requests = dir.join("wrong.jsonl");
    std::fs::write(
        &requests,
        r#"{"name":"wrongly expected","principal":"arn:aws:iam::123456789012:user/alice","action":"iam:AttachUserPolicy","resource":"*","expect":"allow"}"#,
    )
    .unwrap();
    let output = lockdrill(&[
        "eval",
        "--world",
        "scenarios/admin-detached.yaml",
        "--requests",
        requests.to_str().unwrap(),
        "--check",
        "--format",
        "text",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stdout = text(&output.stdout);
    assert!(stdout.contains("[UNEXPECTED: expected allow]"), "{stdout}");
    assert!(stdout.ends_with("0 passed, 1 failed\n"), "{stdout}");
}

/// Runs `eval` on a fixture world that cannot be read, and returns its stderr.
fn world_error(fixture: &str) -> String {
    let world = format!("tests/fixtures/{fixture}");
    let output = lockdrill(&[
        "eval",
        "--world",
        &world,
        "--principal",
        "arn:aws:iam::123456789012:root",
        "--action",
        "iam:GetUser",
        "--resource",
        "*",
    ]);
    assert_eq!(output.status.code(), Some(2), "bad input exits 2");
    assert!(
        output.stdout.is_empty(),
        "nothing is decided from a bad world"
    );
    text(&output.stderr)
}

#[test]
fn a_bad_effect_in_a_yaml_policy_is_located() {
    let stderr = world_error("bad-effect.yaml");
    assert!(
        stderr.contains("tests/fixtures/bad-effect.yaml:9:25: expected `Allow` or `Deny` for `Effect`, found `allow`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("help: `Effect` is case-sensitive"),
        "{stderr}"
    );
}

#[test]
fn an_error_inside_a_json_block_is_located_in_the_world_file() {
    let stderr = world_error("bad-json-block.yaml");
    assert!(
        stderr.contains("tests/fixtures/bad-json-block.yaml:10:48: action `AttachUserPolicy` has no service prefix"),
        "{stderr}"
    );
}

#[test]
fn an_error_in_a_policy_file_is_located_in_that_file() {
    let stderr = world_error("bad-file-policy.yaml");
    assert!(
        stderr.contains(
            "tests/fixtures/bad-policy.json:8:22: unknown condition operator `StringEqualz`"
        ),
        "{stderr}"
    );
}

#[test]
fn every_structural_problem_of_a_world_is_reported() {
    let stderr = world_error("bad-structure.yaml");
    for expected in [
        "bad-structure.yaml:2:3: `12345` is not an AWS account id",
        "bad-structure.yaml:5:28: unknown managed policy `NoSuchPolicy`",
        "bad-structure.yaml:6:18: user `alice` is in unknown group `Ghosts`",
        "bad-structure.yaml:7:5: unknown key `rolez` in account `12345`",
    ] {
        assert!(
            stderr.contains(expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
}

#[test]
fn broken_yaml_is_located() {
    let stderr = world_error("bad-yaml.yaml");
    assert!(stderr.contains("tests/fixtures/bad-yaml.yaml:"), "{stderr}");
    assert!(stderr.contains("invalid YAML"), "{stderr}");
}

#[test]
fn a_missing_world_file_is_a_clear_error() {
    let stderr = world_error("does-not-exist.yaml");
    assert!(stderr.contains("cannot read the world file"), "{stderr}");
}

#[test]
fn bad_flags_are_explained() {
    let output = lockdrill(&[
        "eval",
        "--world",
        WORLD,
        "--principal",
        "arn:aws:iam::222222222222:user/alice",
        "--action",
        "iam:GetUser",
        "--resource",
        "*",
        "--context",
        "no-equals-sign",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("expected KEY=VALUE, found `no-equals-sign`"));

    let output = lockdrill(&[
        "eval",
        "--world",
        WORLD,
        "--principal",
        "arn:aws:iam::222222222222:role/BreakGlassAdminRole",
        "--action",
        "iam:GetUser",
        "--resource",
        "*",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("is a role, which acts only through sessions"),
        "{stderr}"
    );
    assert!(
        stderr.contains("assumed-role/BreakGlassAdminRole/SESSION"),
        "{stderr}"
    );
}

#[test]
fn a_session_policy_file_limits_a_role_session() {
    let dir = tempdir("session");
    let policy = dir.join("session.json");
    std::fs::write(
        &policy,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"iam:Get*","Resource":"*"}]}"#,
    )
    .unwrap();
    let decide = |action: &str| {
        let output = lockdrill(&[
            "eval",
            "--world",
            WORLD,
            "--principal",
            "arn:aws:sts::222222222222:assumed-role/BreakGlassAdminRole/fix",
            "--action",
            action,
            "--resource",
            "arn:aws:iam::222222222222:user/bob",
            "--session-policy",
            policy.to_str().unwrap(),
            "--format",
            "json",
        ]);
        serde_json::from_slice::<serde_json::Value>(&output.stdout).expect("JSON output")
    };
    assert_eq!(decide("iam:GetUser")["decision"], "allow");
    let denied = decide("iam:AttachUserPolicy");
    assert_eq!(denied["decision"], "implicit_deny");
    assert_eq!(denied["decided_by"], "session");
    assert!(
        denied["message"]
            .as_str()
            .unwrap()
            .ends_with("because no session policy allows the iam:AttachUserPolicy action")
    );
}

fn tempdir(name: &str) -> PathBuf {
    let dir =
        Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    dir
}

#[test]
fn serve_refuses_a_remote_emulator_without_the_opt_in() {
    let output = lockdrill(&[
        "serve",
        "--world",
        "scenarios/admin-detached.yaml",
        "--emulator",
        "http://10.1.2.3:5000",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("--allow-remote-endpoint"), "{stderr}");
    assert!(output.stdout.is_empty(), "no endpoint is printed");
}

#[test]
fn env_names_the_principals_it_cannot_find() {
    let dir = tempdir("env");
    let credentials = dir.join("credentials.json");
    std::fs::write(
        &credentials,
        r#"{"endpoint":"http://127.0.0.1:1","region":"us-east-1","principals":[
            {"principal":"arn:aws:iam::123456789012:user/alice","kind":"user","access_key_id":"AKIAEXAMPLEALICE0000","secret_access_key":"s3cr3t"}],
           "roots_unavailable":[{"account":"123456789012","reason":"root MFA device lost"}]}"#,
    )
    .unwrap();
    let path = credentials.to_str().unwrap();

    let output = lockdrill(&["env", "--credentials", path, "--as", "alice"]);
    assert_eq!(output.status.code(), Some(0));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("export AWS_ACCESS_KEY_ID='AKIAEXAMPLEALICE0000'"),
        "{stdout}"
    );
    assert!(
        stdout.contains("export AWS_CONFIG_FILE=/dev/null"),
        "{stdout}"
    );
    assert!(
        stdout.contains("export AWS_ENDPOINT_URL='http://127.0.0.1:1'"),
        "{stdout}"
    );

    let output = lockdrill(&["env", "--credentials", path, "--as", "root:123456789012"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("root MFA device lost"));

    let output = lockdrill(&["env", "--credentials", path, "--as", "mallory"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("no principal `mallory`"));
}

/// The README's step table is what `lockdrill steps --markdown` prints, so the documentation
/// cannot drift from the step definitions (whose examples a unit test runs).
#[test]
fn the_readme_documents_every_step() {
    let output = lockdrill(&["steps", "--markdown"]);
    assert!(output.status.success());
    let table = text(&output.stdout);

    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let begin = readme
        .find("<!-- steps:begin")
        .and_then(|at| readme[at..].find('\n').map(|end| at + end + 1))
        .expect("the README's steps:begin marker");
    let end = readme
        .find("<!-- steps:end -->")
        .expect("the steps:end marker");
    assert_eq!(
        &readme[begin..end],
        table,
        "README's step table is stale: paste `lockdrill steps --markdown` between the markers"
    );
}

/// `lockdrill run` tells bad input (2) and an emulator that cannot be reached (3) apart from a
/// failed drill (1), and a run that matched no scenario is bad input, never a silent pass.
#[test]
fn run_exit_codes_tell_bad_input_and_emulator_failures_apart() {
    let code = |args: &[&str]| lockdrill(args).status.code();

    assert_eq!(code(&["run", "features", "--name", "("]), Some(2));
    assert_eq!(code(&["run", "no/such/features"]), Some(2));
    assert_eq!(code(&["run", "features", "--tags", "@a and and"]), Some(2));
    assert_eq!(code(&["run", "--image", "x", "features"]), Some(2));
    assert_eq!(code(&["run", "--concurrency", "0", "features"]), Some(2));

    let nothing = lockdrill(&["run", "features", "--name", "^no scenario is called this$"]);
    assert_eq!(nothing.status.code(), Some(2));
    assert!(text(&nothing.stderr).contains("no scenario ran"));

    // Nothing listens on port 1 of loopback.
    let unreachable = lockdrill(&[
        "run",
        "features/admin_detached.feature",
        "--name",
        "root user re-attaches",
        "--emulator",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(unreachable.status.code(), Some(3));
    assert!(text(&unreachable.stdout).contains("did not come to life"));
}

/// Ctrl-C stops a run mid-drill as SIGINT would end it (130), after stopping the drills and
/// their emulators, and says so; the run never passes.
#[test]
fn an_interrupted_run_exits_130_after_stopping_its_drills() {
    let child = Command::new(env!("CARGO_BIN_EXE_lockdrill"))
        .current_dir(root())
        .args([
            "run",
            "features/admin_detached.feature",
            "--concurrency",
            "1",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lockdrill runs");

    // Long enough for the first world to be starting or live, far from the run's end.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success());

    let output = child.wait_with_output().expect("lockdrill ends");
    assert_eq!(output.status.code(), Some(130), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("interrupted by SIGINT"),
        "{}",
        text(&output.stderr)
    );
}
