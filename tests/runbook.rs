//! Runbooks run for real: the shipped recovery runbooks against served worlds with the real
//! `aws` CLI, and the runner's guarantees (clean environment, located errors, timeouts, no
//! secret kept) on small inline runbooks.
//!
//! Each live test brings its own world to life on free ports and stops it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use lockdrill::emulator::{EmulatorKind, LeaseOptions};
use lockdrill::live::{CredentialsFile, LiveWorld};
use lockdrill::runbook::{self, Actor, BlockFailure, BlockOutcome, Runbook, RunbookError, Tools};
use lockdrill::world::World;

const ATTACH_TO_BOB: &str = "aws iam attach-user-policy --user-name bob \\\n  \
                             --policy-arn arn:aws:iam::aws:policy/AdministratorAccess";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `bash`, `jq` and the managed `aws` CLI, found (and installed) once.
fn tools() -> &'static Tools {
    static TOOLS: OnceLock<Tools> = OnceLock::new();
    TOOLS.get_or_init(|| Tools::find(true).unwrap_or_else(|error| panic!("{error}")))
}

async fn live(path: &str) -> LiveWorld {
    let world = World::load(&repo(path)).unwrap_or_else(|problems| panic!("{problems}"));
    let any_port: SocketAddr = "127.0.0.1:0".parse().expect("a socket address");
    LiveWorld::start(
        &world,
        &EmulatorKind::Moto,
        &LeaseOptions::default(),
        any_port,
    )
    .await
    .unwrap_or_else(|error| panic!("the world did not come to life: {error}"))
}

fn load(path: &str) -> Runbook {
    Runbook::load(repo(path)).unwrap_or_else(|problems| panic!("{problems}"))
}

fn inline(text: &str) -> Runbook {
    Runbook::parse("inline.md", text).unwrap_or_else(|problems| panic!("{problems}"))
}

fn actor(file: &CredentialsFile, principal: &str) -> Actor {
    Actor::from_credentials(file, principal).unwrap_or_else(|error| panic!("{error}"))
}

fn variables(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

async fn must_run(
    book: &Runbook,
    actor: &Actor,
    variables: &mut BTreeMap<String, String>,
) -> Vec<BlockOutcome> {
    runbook::run(book, actor, variables, tools())
        .await
        .unwrap_or_else(|error| panic!("{} as {} failed:\n{error}", book.origin(), actor.principal))
}

async fn must_fail(
    book: &Runbook,
    actor: &Actor,
    variables: &mut BTreeMap<String, String>,
) -> BlockFailure {
    match runbook::run(book, actor, variables, tools()).await {
        Err(RunbookError::Failed(failure)) => *failure,
        other => panic!(
            "{} as {} did not fail a step: {other:?}",
            book.origin(),
            actor.principal
        ),
    }
}

/// Asserts that neither secret of `actor` is anywhere in `text`.
fn assert_no_secret(actor: &Actor, text: &str) {
    assert!(
        !text.contains(&actor.secret_access_key),
        "a secret key leaked:\n{text}"
    );
    if let Some(token) = &actor.session_token {
        assert!(!text.contains(token), "a session token leaked:\n{text}");
    }
}

/// An actor for runbooks that never reach AWS.
fn offline_actor() -> Actor {
    Actor {
        principal: "arn:aws:iam::123456789012:user/offline".into(),
        access_key_id: "AKIAOFFLINE".into(),
        secret_access_key: "s3cr3t-offline-key".into(),
        session_token: Some("offline-session-token".into()),
        endpoint: "http://127.0.0.1:9".into(),
        region: "eu-west-1".into(),
    }
}

#[test]
fn the_shipped_runbooks_parse_into_their_steps() {
    let detached = load("scenarios/runbooks/admin-detached.md");
    let fix = load("scenarios/runbooks/scp-fix.md");

    assert_eq!(detached.blocks.len(), 3);
    assert!(detached.blocks[0].code.contains("attach-user-policy"));
    assert!(detached.blocks[1].code.contains("--role-name MyRole"));
    let captures: Vec<Option<&str>> = fix.blocks.iter().map(|b| b.capture.as_deref()).collect();
    assert_eq!(captures, [None, Some("POLICY_ID"), None, None, None]);
    assert!(fix.blocks[3].code.contains("role/BreakGlassAdminRole"));
}

#[test]
fn a_bad_fence_is_located_in_the_runbook_file() {
    let problems = Runbook::parse(
        "book.md",
        "# Fix\n\n```sh expect-failur\nfalse\n```\n\n```bash\n",
    )
    .unwrap_err()
    .to_string();

    assert_eq!(
        problems,
        "error: book.md:3:7: unknown block option `expect-failur`\n  help: a step's info string \
         takes `capture=NAME`, `expect-failure` and `timeout=SECONDS`\n\
         error: book.md:7:1: unterminated code block opened with `````\n  \
         help: close the block with a line of `````"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_detached_is_recovered_by_root_and_not_by_alice() {
    let live = live("scenarios/admin-detached.yaml").await;
    let file = live.credentials_file();
    let book = load("scenarios/runbooks/admin-detached.md");
    let alice = actor(&file, "alice");
    let root = actor(&file, "root:123456789012");

    // The lockout is real: alice cannot give anyone admin rights.
    let lockout = inline(&format!("```sh expect-failure\n{ATTACH_TO_BOB}\n```\n"));
    let denied = must_run(&lockout, &alice, &mut BTreeMap::new()).await;
    assert_ne!(denied[0].exit_code, 0);
    assert!(
        denied[0].stderr.contains("(AccessDenied)"),
        "{}",
        denied[0].stderr
    );

    // Alice cannot follow the runbook: its first step fails, in AWS's words.
    let failure = must_fail(&book, &alice, &mut variables(&[])).await;
    assert_eq!(failure.line, book.blocks[0].line);
    assert!(
        failure.command.contains("--user-name alice"),
        "{}",
        failure.command
    );
    assert_eq!(failure.exit_code, Some(255));
    assert!(
        failure.stderr.contains(
            "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: \
             iam:AttachUserPolicy"
        ),
        "{}",
        failure.stderr
    );
    let shown = RunbookError::Failed(Box::new(failure)).to_string();
    assert!(shown.contains("admin-detached.md:"), "{shown}");
    assert!(shown.contains("step failed with exit code 255"), "{shown}");
    assert!(shown.contains("AccessDenied"), "{shown}");

    // The root user follows it through.
    let outcomes = must_run(
        &book,
        &root,
        &mut variables(&[("ACCOUNT_ID", "123456789012")]),
    )
    .await;
    assert_eq!(outcomes.len(), 3);
    assert!(
        outcomes[2]
            .stdout
            .contains("arn:aws:iam::123456789012:root"),
        "{outcomes:?}"
    );
    assert_no_secret(&root, &format!("{outcomes:?}"));

    // And alice is an admin again.
    let attach = inline(&format!("```sh\n{ATTACH_TO_BOB}\n```\n"));
    must_run(&attach, &alice, &mut BTreeMap::new()).await;

    live.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn scp_fix_by_the_management_root_leaves_only_break_glass_exempt() {
    let live = live("scenarios/scp-no-exception.yaml").await;
    let file = live.credentials_file();
    let root = actor(&file, "root:111111111111");
    let alice = actor(&file, "alice");
    let mut drill = variables(&[
        ("ACCOUNT_ID", "222222222222"),
        ("POLICY_NAME", "DenyAllIam"),
    ]);

    // The SCP is attached to the organization's root, whose id Moto assigns.
    let find_root = inline(
        "```sh capture=TARGET_ID\naws organizations list-roots --query 'Roots[0].Id' \
         --output text\n```\n",
    );
    must_run(&find_root, &root, &mut drill).await;

    let book = load("scenarios/runbooks/scp-fix.md");
    let outcomes = must_run(&book, &root, &mut drill).await;
    assert!(drill["POLICY_ID"].starts_with("p-"), "{drill:?}");
    assert!(
        outcomes[2].stdout.contains("\"iam:*\""),
        "{}",
        outcomes[2].stdout
    );
    assert_eq!(outcomes[4].stdout.trim(), "true");
    assert_no_secret(&root, &format!("{outcomes:?}"));

    // The SCP now holds the break-glass exception and nothing else lets alice through.
    let read = inline(
        "```sh capture=CONTENT\naws organizations describe-policy --policy-id {{POLICY_ID}} \
         --query Policy.Content --output text\n```\n",
    );
    must_run(&read, &root, &mut drill).await;
    assert!(
        drill["CONTENT"].contains("arn:aws:iam::222222222222:role/BreakGlassAdminRole"),
        "{}",
        drill["CONTENT"]
    );
    let still_denied = inline(
        "```sh expect-failure\naws iam attach-user-policy --user-name alice \\\n  \
         --policy-arn arn:aws:iam::aws:policy/ReadOnlyAccess\n```\n",
    );
    let denied = must_run(&still_denied, &alice, &mut drill).await;
    assert!(
        denied[0]
            .stderr
            .contains("explicit deny in a service control policy"),
        "{}",
        denied[0].stderr
    );
    assert_no_secret(&alice, &format!("{denied:?}"));

    live.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_step_reports_command_exit_code_and_both_outputs() {
    let book = inline(
        "prose\n\n```sh\necho first\n```\n\n```bash\necho out; echo err >&2; exit 3\n```\n\
         ```sh\ntouch never\n```\n",
    );

    let failure = must_fail(&book, &offline_actor(), &mut BTreeMap::new()).await;

    assert_eq!(
        RunbookError::Failed(Box::new(failure)).to_string(),
        "inline.md:7: step failed with exit code 3\n  command:\n    \
         echo out; echo err >&2; exit 3\n  stdout:\n    out\n  stderr:\n    err"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expected_failure_that_succeeds_fails_the_runbook() {
    let book = inline("```sh expect-failure\naws --version >/dev/null 2>&1\n```\n");

    let failure = must_fail(&book, &offline_actor(), &mut BTreeMap::new()).await;

    assert_eq!(failure.exit_code, Some(0));
    assert!(failure.expected_failure);
}

#[tokio::test(flavor = "multi_thread")]
async fn blocks_see_the_actor_and_tools_only_and_never_keep_a_secret() {
    let book = inline(
        "```sh capture=ENV\nenv | cut -d= -f1 | sort | tr '\\n' ' '\n```\n\
         ```sh\necho \"$AWS_SECRET_ACCESS_KEY $AWS_SESSION_TOKEN\" >&2\nls -A \"$HOME\" | wc -l\n\
         command -v aws jq\n```\n",
    );
    let actor = offline_actor();
    let mut drill = BTreeMap::new();

    let outcomes = must_run(&book, &actor, &mut drill).await;

    let names: Vec<&str> = drill["ENV"].split_whitespace().collect();
    let expected = [
        "AWS_ACCESS_KEY_ID",
        "AWS_CONFIG_FILE",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_PAGER",
        "AWS_REGION",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SHARED_CREDENTIALS_FILE",
        "HOME",
        "PATH",
    ];
    let unexpected: Vec<&&str> = names
        .iter()
        .filter(|name| !expected.contains(name) && !["PWD", "SHLVL", "_", "OLDPWD"].contains(name))
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected variables: {unexpected:?}"
    );
    assert_eq!(outcomes[1].stderr.trim(), "*** ***");
    assert!(
        outcomes[1].stdout.starts_with("0\n"),
        "HOME is not empty: {}",
        outcomes[1].stdout
    );
    assert!(
        outcomes[1]
            .stdout
            .contains(&tools().aws_cli.display().to_string())
    );
    assert_no_secret(&actor, &format!("{outcomes:?}{drill:?}{actor:?}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_step_past_its_timeout_is_killed() {
    let book = inline("```sh timeout=1\necho started\nsleep 30\n```\n");

    let started = std::time::Instant::now();
    let failure = must_fail(&book, &offline_actor(), &mut BTreeMap::new()).await;

    assert_eq!(failure.timed_out, Some(Duration::from_secs(1)));
    assert!(started.elapsed() < Duration::from_secs(10));
    let shown = RunbookError::Failed(Box::new(failure)).to_string();
    assert!(
        shown.starts_with("inline.md:1: step killed after its timeout of 1 s"),
        "{shown}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_placeholder_stops_the_runbook_before_any_step_runs() {
    let marker =
        std::env::temp_dir().join(format!("lockdrill-runbook-marker-{}", std::process::id()));
    let book = inline(&format!(
        "```sh\ntouch {}\n```\n\n```sh\naws organizations describe-policy \\\n  \
         --policy-id {{{{POLICY}}}}\n```\n",
        marker.display()
    ));

    let error = runbook::run(
        &book,
        &offline_actor(),
        &mut variables(&[("ACCOUNT_ID", "1")]),
        tools(),
    )
    .await
    .unwrap_err();

    assert_eq!(
        error.to_string(),
        "error: inline.md:7:15: unknown placeholder `{{POLICY}}`\n  \
         help: known variables: `ACCOUNT_ID`"
    );
    assert!(
        !marker.exists(),
        "a step ran before the runbook was checked"
    );
}
