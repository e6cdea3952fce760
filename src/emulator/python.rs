//! The Python that runs Moto, and later the real `aws` CLI (v1), for a drill.
//!
//! A Moto (5 or newer) that the user already installed is used as it is, since installing costs
//! a minute and network access. Otherwise lockdrill keeps its own virtual environment under
//! `$LOCKDRILL_HOME`, else `$XDG_CACHE_HOME/lockdrill`, else `~/.cache/lockdrill`, and installs
//! pinned versions of Moto and the AWS CLI into it once. Nothing is ever installed into the
//! system's Python. An exclusive lock on a file beside the environment keeps two lockdrill
//! processes from installing at the same time; the kernel releases it if one is killed.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::EmulatorError;

/// The Moto that a managed environment gets.
pub const MOTO_VERSION: &str = "5.2.5";

/// The AWS CLI (v1) that a managed environment gets.
pub const AWS_CLI_VERSION: &str = "1.46.2";

const MOTO_REQUIREMENT: &str = "moto[server]==5.2.5";
const AWS_CLI_REQUIREMENT: &str = "awscli==1.46.2";

/// Imports what the launcher patches and prints what lockdrill needs to know, one per line.
const PROBE: &str = "import importlib.util, sys\n\
import moto, moto.server, moto.organizations.models, moto.organizations.utils\n\
print(moto.__version__)\n\
print(sys.executable)\n\
print(importlib.util.find_spec('awscli') is not None)\n";

/// A Python interpreter that can run Moto, and where lockdrill keeps its own files.
#[derive(Debug, Clone)]
pub struct PythonEnv {
    python: PathBuf,
    has_aws_cli: bool,
    home: PathBuf,
    show_progress: bool,
}

impl PythonEnv {
    /// Finds a Python that can run Moto, or installs lockdrill's own environment.
    ///
    /// This may take a minute the first time and needs PyPI; `show_progress` prints one line
    /// to stderr when it does.
    pub fn ensure(show_progress: bool) -> Result<PythonEnv, EmulatorError> {
        let home = lockdrill_home()?;

        if let Some(system) = system_python() {
            tracing::debug!(python = %system.python.display(), "using the installed Moto");
            return Ok(PythonEnv {
                home,
                show_progress,
                ..system.clone()
            });
        }

        PythonEnv::ensure_managed(&home, show_progress)
    }

    /// lockdrill's own environment under `home`, installed if it is missing or incomplete.
    pub fn ensure_managed(home: &Path, show_progress: bool) -> Result<PythonEnv, EmulatorError> {
        let managed = ManagedEnv::new(home);
        managed.install(&[MOTO_REQUIREMENT, AWS_CLI_REQUIREMENT], show_progress)?;

        Ok(PythonEnv {
            python: managed.python(),
            has_aws_cli: true,
            home: home.to_path_buf(),
            show_progress,
        })
    }

    /// The interpreter, to run the Moto launcher with.
    pub fn python(&self) -> &Path {
        &self.python
    }

    /// Where lockdrill keeps its files: the managed environment, pip's log, the launcher.
    pub fn home(&self) -> &Path {
        &self.home
    }

    /// An `aws` (v1) executable: this environment's own, or one installed into lockdrill's
    /// managed environment (never into the system's Python).
    pub fn aws_cli(&self) -> Result<PathBuf, EmulatorError> {
        let beside_python = self.python.with_file_name("aws");
        if self.has_aws_cli && beside_python.is_file() {
            return Ok(beside_python);
        }

        let managed = ManagedEnv::new(&self.home);
        managed.install(&[AWS_CLI_REQUIREMENT], self.show_progress)?;
        Ok(managed.bin().join("aws"))
    }

    /// The Moto launcher (see `moto_launcher.py`) written into lockdrill's home, for the
    /// interpreter to run.
    pub(crate) fn write_launcher(&self, source: &str) -> Result<PathBuf, EmulatorError> {
        let path = self.home.join("moto_launcher.py");
        if fs::read_to_string(&path).is_ok_and(|current| current == source) {
            return Ok(path);
        }

        // Written aside under a name no other writer uses, then renamed, so that a concurrent
        // start (in this process or another) never runs half a file.
        static WRITES: AtomicU64 = AtomicU64::new(0);
        let write = WRITES.fetch_add(1, Ordering::Relaxed);
        let partial = self.home.join(format!(
            "moto_launcher.py.{}-{write}.partial",
            std::process::id()
        ));
        fs::create_dir_all(&self.home)
            .map_err(|source| EmulatorError::io("create the directory", &self.home, source))?;
        fs::write(&partial, source)
            .map_err(|source| EmulatorError::io("write", &partial, source))?;
        fs::rename(&partial, &path).map_err(|source| EmulatorError::io("write", &path, source))?;
        Ok(path)
    }
}

/// `$LOCKDRILL_HOME`, else `$XDG_CACHE_HOME/lockdrill`, else `~/.cache/lockdrill`.
pub fn lockdrill_home() -> Result<PathBuf, EmulatorError> {
    let set = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());

    if let Some(home) = set("LOCKDRILL_HOME") {
        return Ok(PathBuf::from(home));
    }
    if let Some(cache) = set("XDG_CACHE_HOME") {
        return Ok(PathBuf::from(cache).join("lockdrill"));
    }
    set("HOME")
        .map(|home| PathBuf::from(home).join(".cache/lockdrill"))
        .ok_or(EmulatorError::NoHome)
}

/// The `python3` on PATH, if it imports Moto 5 or newer; asked once per process.
fn system_python() -> Option<&'static PythonEnv> {
    static FOUND: OnceLock<Option<PythonEnv>> = OnceLock::new();

    FOUND
        .get_or_init(|| {
            let mut probe = Command::new("python3");
            probe
                .args(["-c", PROBE])
                .stdin(Stdio::null())
                .stderr(Stdio::null());
            without_aws_settings(&mut probe);
            let output = probe
                .output()
                .ok()
                .filter(|output| output.status.success())?;

            let text = String::from_utf8_lossy(&output.stdout);
            let mut lines = text.lines();
            let version = lines.next()?;
            let python = PathBuf::from(lines.next()?);
            let has_aws_cli = lines.next()? == "True";

            let major: u32 = version.split('.').next()?.parse().ok()?;
            if major < 5 {
                tracing::debug!(
                    version,
                    "the installed Moto is too old; using lockdrill's own"
                );
                return None;
            }
            Some(PythonEnv {
                python,
                has_aws_cli,
                home: PathBuf::new(),
                show_progress: false,
            })
        })
        .as_ref()
}

/// Keeps the user's AWS settings out of a Python process lockdrill starts.
///
/// Moto and the CLI are built on botocore, which would read `AWS_*` variables and `~/.aws`.
pub(crate) fn without_aws_settings(command: &mut Command) {
    let names: Vec<OsString> = std::env::vars_os()
        .map(|(name, _)| name)
        .filter(|name| name.to_string_lossy().starts_with("AWS_"))
        .collect();
    for name in names {
        command.env_remove(name);
    }

    command
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null");
}

/// lockdrill's own virtual environment, `HOME/python-env`.
struct ManagedEnv {
    home: PathBuf,
    dir: PathBuf,
}

impl ManagedEnv {
    fn new(home: &Path) -> ManagedEnv {
        ManagedEnv {
            home: home.to_path_buf(),
            dir: home.join("python-env"),
        }
    }

    fn bin(&self) -> PathBuf {
        self.dir.join("bin")
    }

    fn python(&self) -> PathBuf {
        self.bin().join("python")
    }

    /// The requirements installed so far, one a line; written after each successful install.
    fn record(&self) -> PathBuf {
        self.dir.join("lockdrill-installed.txt")
    }

    fn installed(&self) -> Vec<String> {
        let record = fs::read_to_string(self.record()).unwrap_or_default();
        record.lines().map(str::to_string).collect()
    }

    /// Installs what is missing of `requirements`, creating the environment if needed.
    fn install(&self, requirements: &[&str], show_progress: bool) -> Result<(), EmulatorError> {
        let is_complete = |installed: &[String]| {
            self.python().is_file()
                && requirements
                    .iter()
                    .all(|r| installed.iter().any(|i| i == r))
        };
        if is_complete(&self.installed()) {
            return Ok(());
        }

        fs::create_dir_all(&self.home)
            .map_err(|source| EmulatorError::io("create the directory", &self.home, source))?;
        let _lock = InstallLock::acquire(&self.home.join("python-env.lock"))?;

        // Another lockdrill may have installed it while this one waited for the lock.
        let installed = self.installed();
        if is_complete(&installed) {
            return Ok(());
        }

        if show_progress {
            eprintln!("{}", progress_line(requirements, &self.dir));
        }
        tracing::info!(dir = %self.dir.display(), ?requirements, "installing into the managed env");

        let log = self.home.join("pip-install.log");
        if !self.python().is_file() {
            self.create_venv(&log)?;
        }
        self.pip_install(requirements, &log)?;

        let mut record = installed;
        record.extend(requirements.iter().map(|r| r.to_string()));
        record.sort();
        record.dedup();
        fs::write(self.record(), record.join("\n") + "\n")
            .map_err(|source| EmulatorError::io("write", self.record(), source))
    }

    fn create_venv(&self, log: &Path) -> Result<(), EmulatorError> {
        let mut venv = Command::new("python3");
        venv.arg("-m").arg("venv").arg("--clear").arg(&self.dir);

        let hint = format!(
            "its output is in `{}`; on Debian or Ubuntu, `apt-get install python3-venv` may help",
            log.display()
        );
        run_logged(
            venv,
            log,
            "create a Python virtual environment",
            &self.dir,
            hint,
        )
    }

    fn pip_install(&self, requirements: &[&str], log: &Path) -> Result<(), EmulatorError> {
        let mut pip = Command::new(self.python());
        pip.args([
            "-m",
            "pip",
            "install",
            "--disable-pip-version-check",
            "--no-input",
        ]);
        pip.args(requirements);

        let hint = format!(
            "pip's output is in `{}`; installing needs PyPI (or a pip index set with \
             `PIP_INDEX_URL`)",
            log.display()
        );
        run_logged(pip, log, "install Moto or the AWS CLI", &self.dir, hint)
    }
}

/// The line shown the first time, e.g. `installing Moto 5.2.5 and the AWS CLI into DIR (once)`.
fn progress_line(requirements: &[&str], dir: &Path) -> String {
    let moto = requirements.contains(&MOTO_REQUIREMENT);
    let aws = requirements.contains(&AWS_CLI_REQUIREMENT);
    let what = match (moto, aws) {
        (true, true) => format!("Moto {MOTO_VERSION} and the AWS CLI"),
        (true, false) => format!("Moto {MOTO_VERSION}"),
        _ => format!("the AWS CLI {AWS_CLI_VERSION}"),
    };
    format!("lockdrill: installing {what} into {} (once)", dir.display())
}

/// Runs an install step with its output appended to `log`.
fn run_logged(
    mut command: Command,
    log: &Path,
    step: &'static str,
    dir: &Path,
    hint: String,
) -> Result<(), EmulatorError> {
    let open = || fs::OpenOptions::new().create(true).append(true).open(log);
    let stdout = open().map_err(|source| EmulatorError::io("write", log, source))?;
    let stderr = open().map_err(|source| EmulatorError::io("write", log, source))?;
    without_aws_settings(&mut command);
    command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);

    let status = command.status().map_err(|source| {
        if command.get_program() == "python3" && source.kind() == io::ErrorKind::NotFound {
            return EmulatorError::NoPython { source };
        }
        EmulatorError::Spawn {
            program: PathBuf::from(command.get_program()),
            source,
        }
    })?;
    if status.success() {
        return Ok(());
    }
    Err(EmulatorError::PythonSetup {
        step,
        dir: dir.to_path_buf(),
        status: status.to_string(),
        hint,
    })
}

/// An exclusive `flock` on a file, held until dropped (or until the process dies).
struct InstallLock {
    _file: File,
}

impl InstallLock {
    fn acquire(path: &Path) -> Result<InstallLock, EmulatorError> {
        use std::os::fd::AsRawFd;

        unsafe extern "C" {
            fn flock(fd: std::ffi::c_int, operation: std::ffi::c_int) -> std::ffi::c_int;
        }
        const LOCK_EX: std::ffi::c_int = 2;

        let file =
            File::create(path).map_err(|source| EmulatorError::io("create", path, source))?;
        loop {
            // SAFETY: flock only reads the descriptor, which `file` keeps open.
            if unsafe { flock(file.as_raw_fd(), LOCK_EX) } == 0 {
                return Ok(InstallLock { _file: file });
            }
            let error = io::Error::last_os_error();
            if error.kind() != io::ErrorKind::Interrupted {
                return Err(EmulatorError::io("lock", path, error));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_install_says_what_and_where() {
        let dir = Path::new("/home/ada/.cache/lockdrill/python-env");

        assert_eq!(
            progress_line(&[MOTO_REQUIREMENT, AWS_CLI_REQUIREMENT], dir),
            "lockdrill: installing Moto 5.2.5 and the AWS CLI into \
             /home/ada/.cache/lockdrill/python-env (once)"
        );
        assert!(progress_line(&[AWS_CLI_REQUIREMENT], dir).contains("the AWS CLI 1.46.2"));
    }

    #[test]
    fn an_install_lock_is_taken_and_given_back() {
        let dir = std::env::temp_dir().join(format!("lockdrill-lock-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("python-env.lock");

        drop(InstallLock::acquire(&path).unwrap());
        drop(InstallLock::acquire(&path).unwrap());

        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn requirements_are_pinned_to_the_announced_versions() {
        assert!(MOTO_REQUIREMENT.ends_with(MOTO_VERSION));
        assert!(AWS_CLI_REQUIREMENT.ends_with(AWS_CLI_VERSION));
    }
}
