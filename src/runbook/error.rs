//! Why a runbook did not run through, in words an operator can act on.
//!
//! A failed step shows everything needed to see why without rerunning it: the runbook's file
//! and line, the command as it ran (placeholders replaced, secrets scrubbed), its exit code,
//! stdout and stderr.

use std::fmt;
use std::time::Duration;

use crate::diagnostic::Diagnostics;

#[derive(Debug, thiserror::Error)]
pub enum RunbookError {
    /// Placeholders that no drill variable binds, or a block needing a missing tool.
    #[error("{0}")]
    Invalid(Diagnostics),

    #[error("cannot run runbooks: {message}\n  help: {help}")]
    Tool {
        tool: String,
        message: String,
        help: String,
    },

    #[error("no actor `{wanted}`: {message}")]
    Actor { wanted: String, message: String },

    #[error("cannot prepare a HOME for the runbook: {0}")]
    Home(std::io::Error),

    #[error("{origin}:{line}: cannot start `bash`: {source}")]
    Spawn {
        origin: String,
        line: u32,
        source: std::io::Error,
    },

    #[error("{0}")]
    Failed(Box<BlockFailure>),
}

/// A step that failed, or that succeeded when it was marked `expect-failure`, or timed out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockFailure {
    pub origin: String,
    pub line: u32,
    pub command: String,
    /// The exit code; `None` when the block was killed (by its timeout or a signal).
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub expected_failure: bool,
    /// Set when the block ran past its timeout and was killed.
    pub timed_out: Option<Duration>,
}

impl fmt::Display for BlockFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: ", self.origin, self.line)?;
        match (self.timed_out, self.exit_code) {
            (Some(timeout), _) => write!(
                f,
                "step killed after its timeout of {} s\n  help: raise it with `timeout=SECONDS` \
                 on the block's fence",
                timeout.as_secs()
            )?,
            (None, Some(0)) if self.expected_failure => write!(
                f,
                "step marked `expect-failure` succeeded\n  help: the lockout it shows is not \
                 real in this world; check the world or drop `expect-failure`"
            )?,
            (None, Some(code)) => write!(f, "step failed with exit code {code}")?,
            (None, None) => write!(f, "step was killed by a signal")?,
        }
        section(f, "command", &self.command)?;
        section(f, "stdout", &self.stdout)?;
        section(f, "stderr", &self.stderr)
    }
}

/// A labelled, indented section; `(empty)` when there is nothing to show.
fn section(f: &mut fmt::Formatter<'_>, label: &str, text: &str) -> fmt::Result {
    write!(f, "\n  {label}:")?;
    if text.trim().is_empty() {
        return write!(f, " (empty)");
    }
    for line in text.trim_end().lines() {
        write!(f, "\n    {line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_shows_where_what_and_both_outputs() {
        let failure = BlockFailure {
            origin: "runbooks/fix.md".into(),
            line: 12,
            command: "aws iam attach-user-policy \\\n  --user-name alice".into(),
            exit_code: Some(254),
            stdout: String::new(),
            stderr: "An error occurred (AccessDenied)\n".into(),
            expected_failure: false,
            timed_out: None,
        };

        assert_eq!(
            RunbookError::Failed(Box::new(failure)).to_string(),
            "runbooks/fix.md:12: step failed with exit code 254\n  command:\n    \
             aws iam attach-user-policy \\\n      --user-name alice\n  stdout: (empty)\n  \
             stderr:\n    An error occurred (AccessDenied)"
        );
    }
}
