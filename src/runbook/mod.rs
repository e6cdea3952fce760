//! Runbooks: Markdown recovery procedures that a drill runs for real.
//!
//! A runbook is the document an operator would follow during a lockout. Its fenced `sh`, `bash`
//! or `shell` blocks are the steps; everything else is prose for the reader. Running a runbook
//! replays those steps with the real `aws` CLI against a served world, as one actor, so a drill
//! proves that the written procedure works, not a paraphrase of it.
//!
//! The stages are [`parse`] (Markdown to [`Block`]s, with located errors), [`placeholder`]
//! (`{{NAME}}` bound from drill variables) and [`run`] (each block in `bash`, in a clean
//! environment, with secrets scrubbed from what is kept).

mod error;
mod parse;
mod placeholder;
mod run;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diagnostic::{Diagnostic, Diagnostics, Pos};
use crate::emulator::PythonEnv;
use crate::live::CredentialsFile;

pub use error::{BlockFailure, RunbookError};
pub use run::run;

/// How long a block may run when its info string gives no `timeout=SECONDS`.
pub const DEFAULT_BLOCK_TIMEOUT: Duration = Duration::from_secs(60);

/// A parsed runbook: where it came from and its steps, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Runbook {
    pub path: PathBuf,
    pub blocks: Vec<Block>,
}

/// One step: a fenced shell block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    /// The 1-based line of the opening fence.
    pub line: u32,
    /// How many spaces of the fence's indentation were removed from each line of `code`.
    pub indent: u32,
    pub code: String,
    /// `capture=NAME`: the block's trimmed stdout becomes variable `NAME`.
    pub capture: Option<String>,
    /// `expect-failure`: the block must fail, to show that a lockout is real.
    pub expect_failure: bool,
    /// `timeout=SECONDS`, or [`DEFAULT_BLOCK_TIMEOUT`].
    pub timeout: Duration,
}

impl Runbook {
    /// Parses runbook Markdown; `origin` names it in diagnostics and becomes its `path`.
    pub fn parse(origin: &str, text: &str) -> Result<Runbook, Diagnostics> {
        let blocks = parse::blocks(origin, text)?;
        Ok(Runbook {
            path: PathBuf::from(origin),
            blocks,
        })
    }

    /// Reads and parses a runbook file.
    pub fn load(path: impl AsRef<Path>) -> Result<Runbook, Diagnostics> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|error| {
            Diagnostic::new(
                &origin,
                Pos::new(1, 1),
                format!("cannot read the runbook: {error}"),
            )
            .help("check the path; runbooks live under `scenarios/runbooks/`")
        })?;
        Runbook::parse(&origin, &text)
    }

    /// The name diagnostics and errors use for this runbook.
    pub fn origin(&self) -> String {
        self.path.display().to_string()
    }
}

/// Who a runbook runs as, and where: one principal's keys and the gateway's endpoint.
#[derive(Clone)]
pub struct Actor {
    /// The principal's ARN, for logs and reports.
    pub principal: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
    pub endpoint: String,
    pub region: String,
}

impl Actor {
    /// The actor `wanted` of a served world: `alice`, an ARN, or `root:ACCOUNT`.
    pub fn from_credentials(file: &CredentialsFile, wanted: &str) -> Result<Actor, RunbookError> {
        let keys = file.find(wanted).map_err(|message| RunbookError::Actor {
            wanted: wanted.to_owned(),
            message,
        })?;
        Ok(Actor {
            principal: keys.principal.clone(),
            access_key_id: keys.access_key_id.clone(),
            secret_access_key: keys.secret_access_key.clone(),
            session_token: keys.session_token.clone(),
            endpoint: file.endpoint.clone(),
            region: file.region.clone(),
        })
    }

    /// The values that must never leave a run: the secret key and the session token.
    fn secrets(&self) -> Vec<&str> {
        let mut secrets = vec![self.secret_access_key.as_str()];
        secrets.extend(self.session_token.as_deref());
        secrets.retain(|secret| !secret.is_empty());
        secrets
    }
}

impl fmt::Debug for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Actor")
            .field("principal", &self.principal)
            .field("access_key_id", &self.access_key_id)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// The programs a runbook's blocks may call besides `/usr/bin` and `/bin`.
#[derive(Clone, Debug)]
pub struct Tools {
    pub bash: PathBuf,
    pub aws_cli: PathBuf,
    /// `jq`, when installed; only blocks that call it need it.
    pub jq: Option<PathBuf>,
}

impl Tools {
    /// Finds `bash` and `jq` on `PATH` and the `aws` CLI v1 of lockdrill's Python environment
    /// (installing it the first time; `show_progress` says so on stderr).
    pub fn find(show_progress: bool) -> Result<Tools, RunbookError> {
        let bash = on_path("bash").ok_or_else(|| RunbookError::Tool {
            tool: "bash".into(),
            message: "`bash` is not on PATH".into(),
            help: "install bash; runbook blocks run with `bash -euo pipefail -c`".into(),
        })?;

        let aws_cli = PythonEnv::ensure(show_progress)
            .and_then(|env| env.aws_cli())
            .map_err(|error| RunbookError::Tool {
                tool: "aws".into(),
                message: format!("the aws CLI is not available: {error}"),
                help: "lockdrill installs it into its own Python environment; check network \
                       access to PyPI"
                    .into(),
            })?;

        Ok(Tools {
            bash,
            aws_cli,
            jq: on_path("jq"),
        })
    }
}

/// The first executable file called `name` in the directories of `PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|directory| directory.join(name))
        .find(|candidate| candidate.is_file())
}

/// What one block did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockOutcome {
    /// The 1-based line of the block's opening fence.
    pub line: u32,
    /// The block's code after placeholders were replaced, secrets scrubbed.
    pub command: String,
    pub exit_code: i32,
    pub stdout: String,
    pub stderr: String,
    pub duration: Duration,
}
