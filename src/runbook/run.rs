//! Running a runbook's blocks, one `bash` each, as one actor against a served world.
//!
//! Each block sees only what a careful operator's shell would: the drill's credentials, the
//! gateway's endpoint, an empty `HOME` and no AWS configuration files, so nothing from the
//! machine running the drill (a real profile, a real key) can leak in or make a wrong runbook
//! pass. What is kept of a run (commands, outputs, captures) never holds the actor's secrets.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use super::placeholder;
use super::{Actor, Block, BlockFailure, BlockOutcome, Runbook, RunbookError, Tools};
use crate::diagnostic::{Diagnostic, Diagnostics, Pos};

/// Runs every block of `runbook` in order as `actor`, binding placeholders from `variables`
/// and adding each block's capture to them.
///
/// Stops at the first block that fails (or that succeeds when marked `expect-failure`).
/// Placeholders and tools are checked for the whole runbook before anything runs.
pub async fn run(
    runbook: &Runbook,
    actor: &Actor,
    variables: &mut BTreeMap<String, String>,
    tools: &Tools,
) -> Result<Vec<BlockOutcome>, RunbookError> {
    let origin = runbook.origin();
    let known: BTreeSet<String> = variables.keys().cloned().collect();
    placeholder::check(runbook, &known).map_err(RunbookError::Invalid)?;
    check_jq(runbook, tools)?;

    let home = Home::create().map_err(RunbookError::Home)?;
    let mut outcomes = Vec::with_capacity(runbook.blocks.len());
    for block in &runbook.blocks {
        let outcome = run_block(&origin, block, actor, variables, tools, &home.0).await?;
        if let Some(name) = &block.capture {
            variables.insert(name.clone(), outcome.stdout.trim().to_owned());
        }
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

async fn run_block(
    origin: &str,
    block: &Block,
    actor: &Actor,
    variables: &BTreeMap<String, String>,
    tools: &Tools,
    home: &Path,
) -> Result<BlockOutcome, RunbookError> {
    let code = placeholder::substitute(&block.code, variables);
    let mut command = tokio::process::Command::new(&tools.bash);
    command
        .args(["-euo", "pipefail", "-c", &code])
        .env_clear()
        .envs(environment(actor, tools, home))
        .current_dir(home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);

    let started = Instant::now();
    let child = command.spawn().map_err(|source| RunbookError::Spawn {
        origin: origin.to_owned(),
        line: block.line,
        source,
    })?;
    // The aws CLI runs in bash's process group: a timeout, or a drill stopped by Ctrl-C while
    // it waits here, kills all of it, not only bash.
    let mut group = ProcessGroup(child.id());
    let finished = tokio::time::timeout(block.timeout, child.wait_with_output()).await;
    let duration = started.elapsed();

    let scrub = |text: &str| scrub(text, &actor.secrets());
    let mut failure = BlockFailure {
        origin: origin.to_owned(),
        line: block.line,
        command: scrub(&code),
        exit_code: None,
        stdout: String::new(),
        stderr: String::new(),
        expected_failure: block.expect_failure,
        timed_out: None,
    };
    let output = match finished {
        Ok(Ok(output)) => {
            group.0 = None;
            output
        }
        Ok(Err(source)) => {
            return Err(RunbookError::Spawn {
                origin: origin.to_owned(),
                line: block.line,
                source,
            });
        }
        Err(_) => {
            drop(group);
            failure.timed_out = Some(block.timeout);
            tracing::debug!(
                line = block.line,
                principal = %actor.principal,
                "runbook block timed out"
            );
            return Err(RunbookError::Failed(Box::new(failure)));
        }
    };

    let exit_code = output.status.code();
    let stdout = scrub(&String::from_utf8_lossy(&output.stdout));
    let stderr = scrub(&String::from_utf8_lossy(&output.stderr));
    tracing::debug!(
        line = block.line,
        principal = %actor.principal,
        exit_code = ?exit_code,
        elapsed_ms = duration.as_millis() as u64,
        "runbook block ran"
    );

    let succeeded = exit_code == Some(0);
    if succeeded == block.expect_failure {
        failure.exit_code = exit_code;
        failure.stdout = stdout;
        failure.stderr = stderr;
        return Err(RunbookError::Failed(Box::new(failure)));
    }
    Ok(BlockOutcome {
        line: block.line,
        command: failure.command,
        exit_code: exit_code.unwrap_or(-1),
        stdout,
        stderr,
        duration,
    })
}

/// The whole environment of a block: tools on `PATH`, the actor, and nothing else.
fn environment(actor: &Actor, tools: &Tools, home: &Path) -> Vec<(&'static str, String)> {
    let tool_directories = std::iter::once(&tools.aws_cli)
        .chain(tools.jq.as_ref())
        .filter_map(|tool| tool.parent().map(Path::to_path_buf));
    let mut path: Vec<PathBuf> = Vec::new();
    for directory in tool_directories.chain(["/usr/bin".into(), "/bin".into()]) {
        if !path.contains(&directory) {
            path.push(directory);
        }
    }
    let path = std::env::join_paths(path)
        .map(|path| path.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "/usr/bin:/bin".to_owned());

    let mut environment = vec![
        ("PATH", path),
        ("HOME", home.display().to_string()),
        ("AWS_ENDPOINT_URL", actor.endpoint.clone()),
        ("AWS_DEFAULT_REGION", actor.region.clone()),
        ("AWS_REGION", actor.region.clone()),
        ("AWS_ACCESS_KEY_ID", actor.access_key_id.clone()),
        ("AWS_SECRET_ACCESS_KEY", actor.secret_access_key.clone()),
        ("AWS_CONFIG_FILE", "/dev/null".to_owned()),
        ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".to_owned()),
        ("AWS_PAGER", String::new()),
    ];
    if let Some(token) = &actor.session_token {
        environment.push(("AWS_SESSION_TOKEN", token.clone()));
    }
    environment
}

/// Fails before anything runs when a block calls `jq` and it is not installed.
fn check_jq(runbook: &Runbook, tools: &Tools) -> Result<(), RunbookError> {
    if tools.jq.is_some() {
        return Ok(());
    }
    let origin = runbook.origin();
    let problems: Vec<Diagnostic> = runbook
        .blocks
        .iter()
        .filter(|block| calls(&block.code, "jq"))
        .map(|block| {
            Diagnostic::new(
                &origin,
                Pos::new(block.line, 1),
                "this step calls `jq`, which is not installed",
            )
            .help("install jq (for example `apt-get install jq`) and put it on PATH")
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(RunbookError::Invalid(Diagnostics(problems)))
    }
}

/// Whether `code` mentions `program` as a word of its own.
fn calls(code: &str, program: &str) -> bool {
    code.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .any(|word| word == program)
}

/// `text` with every secret replaced by `***`.
fn scrub(text: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .fold(text.to_owned(), |text, secret| text.replace(secret, "***"))
}

/// A block's process group, killed when dropped unless the block ended by itself.
struct ProcessGroup(Option<u32>);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let Some(group) = self.0 else { return };
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{group}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A fresh, empty `HOME` for one run, removed when the run ends.
struct Home(PathBuf);

impl Home {
    fn create() -> std::io::Result<Home> {
        static RUNS: AtomicU32 = AtomicU32::new(0);
        let run = RUNS.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("lockdrill-runbook-{}-{run}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        Ok(Home(path))
    }
}

impl Drop for Home {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed() {
        assert_eq!(
            scrub("key=abc token=xyz abc", &["abc", "xyz"]),
            "key=*** token=*** ***"
        );
    }

    #[test]
    fn jq_is_found_as_a_word_only() {
        assert!(calls("aws x --output text | jq .", "jq"));
        assert!(!calls("echo jquery", "jq"));
    }

    #[test]
    fn the_environment_holds_the_actor_and_the_tools_only() {
        let actor = Actor {
            principal: "arn:aws:iam::1:user/a".into(),
            access_key_id: "AKID".into(),
            secret_access_key: "SECRET".into(),
            session_token: Some("TOKEN".into()),
            endpoint: "http://127.0.0.1:1".into(),
            region: "us-east-1".into(),
        };
        let tools = Tools {
            bash: "/bin/bash".into(),
            aws_cli: "/opt/env/bin/aws".into(),
            jq: Some("/usr/bin/jq".into()),
        };

        let environment: BTreeMap<_, _> = environment(&actor, &tools, Path::new("/h"))
            .into_iter()
            .collect();

        assert_eq!(environment["PATH"], "/opt/env/bin:/usr/bin:/bin");
        assert_eq!(environment["AWS_SESSION_TOKEN"], "TOKEN");
        assert_eq!(environment["AWS_PAGER"], "");
        assert_eq!(environment.len(), 11);
        assert!(!format!("{actor:?}").contains("SECRET"));
    }
}
