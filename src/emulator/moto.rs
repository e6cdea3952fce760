//! Moto as a child process of lockdrill: the default emulator, and the fastest to start.
//!
//! The process must never outlive its lease, whatever ends the lease: `stop`, a drop during
//! panic unwinding, Ctrl-C, or lockdrill itself being killed. Dropping kills and reaps it. For
//! the cases where no Rust code runs any more, Linux's `PR_SET_PDEATHSIG` has the kernel kill
//! Moto when its parent goes. That signal follows the *thread* that forked the child, not the
//! process, and tokio ends idle threads, so every Moto is forked from one thread that lives as
//! long as lockdrill does. Moto runs in its own process group, so a Ctrl-C at the terminal
//! reaches lockdrill alone, which then ends the lease in order.
//!
//! A thread reads Moto's stderr into a small ring of lines, both so that the pipe never fills
//! and so that a crash can be explained with Moto's own last words.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::endpoint::Mortal;
use super::python::{PythonEnv, without_aws_settings};
use super::{EmulatorError, StderrTail};

/// How many stderr lines are kept for an error message.
const STDERR_LINES: usize = 20;

/// The stderr lines of the process, the newest last.
#[derive(Clone, Default)]
pub(crate) struct StderrRing(Arc<Mutex<VecDeque<String>>>);

impl StderrRing {
    pub fn push(&self, line: &str) {
        let mut lines = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if lines.len() == STDERR_LINES {
            lines.pop_front();
        }
        lines.push_back(redact(line.trim_end()));
    }

    pub fn tail(&self) -> StderrTail {
        let lines = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        StderrTail(lines.iter().cloned().collect())
    }
}

/// A running Moto server, killed and reaped when dropped.
pub(crate) struct MotoProcess {
    child: Child,
    stderr: StderrRing,
    reader: Option<JoinHandle<()>>,
    exit: Option<ExitStatus>,
}

impl MotoProcess {
    /// Starts `launcher` with the environment's Python, listening on 127.0.0.1:`port`.
    pub fn spawn(env: &PythonEnv, launcher: &Path, port: u16) -> Result<Self, EmulatorError> {
        let mut command = Command::new(env.python());
        command
            .arg(launcher)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .current_dir(env.home())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        without_aws_settings(&mut command);
        command
            // AdministratorAccess and the other AWS-managed policies exist only with this.
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .env("PYTHONUNBUFFERED", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        configure_lifetime(&mut command);

        let mut child =
            spawn_from_keeper_thread(command).map_err(|source| EmulatorError::Spawn {
                program: env.python().to_path_buf(),
                source,
            })?;

        let stderr = StderrRing::default();
        let reader = child
            .stderr
            .take()
            .map(|pipe| read_lines(pipe, stderr.clone()));
        tracing::debug!(pid = child.id(), port, "moto started");
        Ok(MotoProcess {
            child,
            stderr,
            reader,
            exit: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How the process ended, once it has.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        if self.exit.is_none() {
            self.exit = self.child.try_wait().ok().flatten();
        }
        self.exit
    }

    /// `Some` error naming the exit status and the last stderr lines, if Moto has exited.
    pub fn exit_error(&mut self) -> Option<EmulatorError> {
        let status = self.exit_status()?;
        Some(EmulatorError::Exited {
            what: format!("moto (pid {})", self.pid()),
            status: status.to_string(),
            stderr: self.stderr_tail(),
        })
    }

    /// The last stderr lines; once Moto has exited, they include its final words.
    pub fn stderr_tail(&mut self) -> StderrTail {
        if self.exit_status().is_some() {
            // The reader sees the end of the pipe a moment after the exit.
            let deadline = Instant::now() + Duration::from_millis(200);
            while self
                .reader
                .as_ref()
                .is_some_and(|reader| !reader.is_finished())
                && Instant::now() < deadline
            {
                thread::sleep(Duration::from_millis(5));
            }
        }
        self.stderr.tail()
    }

    /// Kills and reaps the process; does nothing if it already ended.
    pub fn stop(&mut self) {
        if self.exit_status().is_some() {
            return;
        }

        let pid = self.pid();
        if let Err(error) = self.child.kill() {
            tracing::warn!(pid, %error, "could not kill moto");
        }
        match self.child.wait() {
            Ok(status) => self.exit = Some(status),
            Err(error) => tracing::warn!(pid, %error, "could not reap moto"),
        }
        tracing::debug!(pid, "moto stopped");
    }
}

impl Mortal for MotoProcess {
    fn death(&mut self) -> impl Future<Output = Option<EmulatorError>> + Send {
        std::future::ready(self.exit_error())
    }
}

impl Drop for MotoProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Ties the child's life to lockdrill's: its own process group, and death with its parent.
fn configure_lifetime(command: &mut Command) {
    use std::os::unix::process::CommandExt;

    command.process_group(0);

    #[cfg(target_os = "linux")]
    {
        unsafe extern "C" {
            fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
            fn getppid() -> std::ffi::c_int;
        }
        const PR_SET_PDEATHSIG: std::ffi::c_int = 1;
        const SIGKILL: std::ffi::c_ulong = 9;
        const ESRCH: i32 = 3;

        let parent = std::process::id() as std::ffi::c_int;
        let set_death_signal = move || {
            // SAFETY: prctl and getppid are async-signal-safe and touch no memory of ours.
            if unsafe { prctl(PR_SET_PDEATHSIG, SIGKILL) } != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before the death signal was armed.
            if unsafe { getppid() } != parent {
                return Err(std::io::Error::from_raw_os_error(ESRCH));
            }
            Ok(())
        };
        // SAFETY: the closure runs between fork and exec, calls only async-signal-safe
        // functions, and allocates nothing (the error values are plain OS codes).
        unsafe {
            command.pre_exec(set_death_signal);
        }
    }
}

/// A request to the keeper thread: fork this command, send back the child.
struct SpawnRequest {
    command: Command,
    reply: mpsc::Sender<std::io::Result<Child>>,
}

/// Forks from a thread that lives as long as lockdrill, so that `PR_SET_PDEATHSIG` fires only
/// when lockdrill itself ends (see the module comment).
fn spawn_from_keeper_thread(command: Command) -> std::io::Result<Child> {
    static KEEPER: Mutex<Option<mpsc::Sender<SpawnRequest>>> = Mutex::new(None);

    let mut keeper = KEEPER
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let sender = match keeper.as_ref() {
        Some(sender) => sender.clone(),
        None => {
            let (sender, requests) = mpsc::channel::<SpawnRequest>();
            thread::Builder::new()
                .name("lockdrill-process-keeper".into())
                .spawn(move || {
                    for mut request in requests {
                        let _ = request.reply.send(request.command.spawn());
                    }
                })?;
            *keeper = Some(sender.clone());
            sender
        }
    };
    drop(keeper);

    let (reply, answer) = mpsc::channel();
    match sender.send(SpawnRequest { command, reply }) {
        Ok(()) => answer.recv().map_err(std::io::Error::other)?,
        Err(mpsc::SendError(mut request)) => request.command.spawn(),
    }
}

/// Feeds the pipe's lines into the ring until the process closes it.
fn read_lines(pipe: ChildStderr, ring: StderrRing) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => ring.push(&String::from_utf8_lossy(&line)),
            }
        }
    })
}

/// Query parameters whose values must not reach an error message or a report.
const SECRET_PARAMETERS: [&str; 5] = [
    "x-amz-security-token=",
    "x-amz-signature=",
    "x-amz-credential=",
    "password=",
    "secretaccesskey=",
];

/// Hides credentials in a stderr line, such as the query string of a logged presigned URL.
fn redact(line: &str) -> String {
    let lower = line.to_ascii_lowercase();
    let mut hidden = Vec::new();
    for parameter in SECRET_PARAMETERS {
        for (start, _) in lower.match_indices(parameter) {
            let value = start + parameter.len();
            let end = lower[value..]
                .find(['&', ' ', '"', '\''])
                .map_or(line.len(), |i| value + i);
            hidden.push((value, end));
        }
    }
    hidden.sort_unstable();

    let mut redacted = String::with_capacity(line.len());
    let mut copied = 0;
    for (value, end) in hidden {
        if value < copied {
            continue;
        }
        redacted.push_str(&line[copied..value]);
        redacted.push_str("REDACTED");
        copied = end;
    }
    redacted.push_str(&line[copied..]);
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ring_keeps_the_newest_lines() {
        let ring = StderrRing::default();
        for number in 0..25 {
            ring.push(&format!("line {number}\n"));
        }

        let tail = ring.tail().0;
        assert_eq!(tail.len(), STDERR_LINES);
        assert_eq!(tail.first().unwrap(), "line 5");
        assert_eq!(tail.last().unwrap(), "line 24");
    }

    #[test]
    fn credentials_in_logged_urls_are_hidden() {
        let line = concat!(
            r#"127.0.0.1 - - "GET /?Action=GetCallerIdentity&X-Amz-Credential=AKIA%2F"#,
            r#"&X-Amz-Security-Token=FwoG&X-Amz-Signature=abc HTTP/1.1" 200 -"#
        );

        let redacted = redact(line);

        assert!(!redacted.contains("AKIA"));
        assert!(!redacted.contains("FwoG"));
        assert!(!redacted.contains("abc HTTP"));
        assert!(redacted.contains("Action=GetCallerIdentity&X-Amz-Credential=REDACTED&"));
        assert!(redacted.ends_with("X-Amz-Signature=REDACTED HTTP/1.1\" 200 -"));
    }

    #[test]
    fn lines_without_credentials_are_kept() {
        let line = "OSError: [Errno 98] Address already in use";

        assert_eq!(redact(line), line);
    }
}
