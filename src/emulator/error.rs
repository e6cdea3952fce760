//! What can go wrong while leasing an emulator, worded so that the user knows what to do next.
//!
//! Every message is one lowercase line that names the offending value in backticks and ends
//! with advice. The one exception is an emulator that died: its last stderr lines follow the
//! first line, indented, because they are usually the only clue to why.

use std::fmt;
use std::io;
use std::path::PathBuf;

/// The names a user can give to `--emulator`, for messages that list the choices.
pub(crate) const CHOICES: &str = "`moto`, `container:moto`, `container:localstack`, or \
     the http:// or https:// URL of an emulator you run";

/// Why an emulator could not be leased, or why a leased one stopped working.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    #[error("unknown emulator `{given}`: choose {CHOICES}")]
    UnknownKind { given: String },

    #[error("bad emulator URL `{url}`: {reason}; write it as http://HOST:PORT")]
    BadUrl { url: String, reason: String },

    #[error(
        "emulator URL `{url}` is not on this machine: lockdrill only talks to loopback \
         endpoints (127.0.0.0/8, localhost, [::1]) so that nothing reaches real AWS by accident; \
         pass `--allow-remote-endpoint` if you mean to use it"
    )]
    RemoteEndpoint { url: String },

    #[error(
        "{what} did not answer at `{endpoint}` within {waited_secs} s ({last_error}); \
         {advice}{stderr}"
    )]
    NotAnswering {
        what: String,
        endpoint: String,
        waited_secs: u64,
        last_error: String,
        advice: &'static str,
        stderr: StderrTail,
    },

    #[error("{what} exited ({status}){stderr}")]
    Exited {
        what: String,
        status: String,
        stderr: StderrTail,
    },

    #[error("{what} no longer answers at `{endpoint}` ({reason}); start a new lease{stderr}")]
    Gone {
        what: String,
        endpoint: String,
        reason: String,
        stderr: StderrTail,
    },

    #[error(
        "cannot tell where to keep lockdrill's Python environment: set `LOCKDRILL_HOME` \
         (or `XDG_CACHE_HOME`, or `HOME`) to a writable directory"
    )]
    NoHome,

    #[error(
        "no `python3` found to run Moto ({source}): install Python 3.9 or newer with its venv \
         module, or use `--emulator container:moto` or the URL of an emulator you run"
    )]
    NoPython { source: io::Error },

    #[error("could not {step} in `{}` ({status}); {hint}", dir.display())]
    PythonSetup {
        step: &'static str,
        dir: PathBuf,
        status: String,
        hint: String,
    },

    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },

    #[error("cannot start `{}`: {source}; is the Python environment intact?", program.display())]
    Spawn { program: PathBuf, source: io::Error },

    #[error(
        "`{kind}` needs container support, but this lockdrill was built without it: rebuild \
         with `cargo build --features containers` (or `cargo install lockdrill --features \
         containers`), or use `--emulator moto`"
    )]
    ContainersNotBuilt { kind: String },

    #[error(
        "no Docker engine answers at `{socket}` ({reason}): start Docker, or podman's API \
         service with `DOCKER_HOST` pointing at its socket, or use `--emulator moto`, which \
         needs no engine"
    )]
    NoDockerEngine { socket: String, reason: String },

    #[error(
        "container `{image}` failed: {message}; check that the engine has the image (`docker \
         pull {image}`, or a local build where no registry is reachable: see docker/README.md), \
         or use `--emulator moto`"
    )]
    Container { image: String, message: String },
}

/// The last lines an emulator wrote to stderr, shown under an error about it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StderrTail(pub Vec<String>);

impl fmt::Display for StderrTail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }

        write!(f, "; its last stderr lines:")?;
        for line in &self.0 {
            write!(f, "\n  | {line}")?;
        }
        Ok(())
    }
}

impl EmulatorError {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        EmulatorError::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_tail_adds_nothing() {
        let error = EmulatorError::Exited {
            what: "moto (pid 7)".into(),
            status: "exit status: 1".into(),
            stderr: StderrTail::default(),
        };

        assert_eq!(error.to_string(), "moto (pid 7) exited (exit status: 1)");
    }

    #[test]
    fn a_tail_is_indented_under_the_message() {
        let error = EmulatorError::Exited {
            what: "moto (pid 7)".into(),
            status: "signal: 9 (SIGKILL)".into(),
            stderr: StderrTail(vec!["Traceback".into(), "OSError: boom".into()]),
        };

        assert_eq!(
            error.to_string(),
            "moto (pid 7) exited (signal: 9 (SIGKILL)); its last stderr lines:\n  | Traceback\n  \
             | OSError: boom"
        );
    }

    #[test]
    fn the_remote_endpoint_error_names_the_flag() {
        let error = EmulatorError::RemoteEndpoint {
            url: "http://192.0.2.1:5000".into(),
        };

        assert!(error.to_string().contains("--allow-remote-endpoint"));
    }
}
