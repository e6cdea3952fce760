//! Leases a local AWS emulator for a drill: a Moto process (the default), a container, or an
//! endpoint the user runs.
//!
//! A lease is an [`Emulator`]: it answers at [`Emulator::endpoint`] from the moment
//! [`Emulator::start`] returns, and whatever it started is gone once it is stopped or dropped,
//! also when a panic unwinds through it or the CLI drops it on Ctrl-C. lockdrill never sends a
//! drill to real AWS by accident: endpoints must be on loopback unless the user opts in, and no
//! emulator it starts sees the user's `AWS_*` variables or `~/.aws`.
//!
//! `python` finds or installs the Python that runs Moto (and the `aws` CLI for runbooks),
//! `moto` owns the Moto process, `container` the containers (cargo feature `containers`), and
//! `endpoint` checks URLs and waits for an emulator to answer.

mod endpoint;
mod error;
mod moto;
mod python;

#[cfg(feature = "containers")]
mod container;

#[cfg(feature = "containers")]
pub use container::{
    CONTAINER_LABEL, LabelledContainer, check_engine as check_container_engine,
    labelled_containers, remove_own_containers,
};

/// Without the container backends there are no containers to remove.
#[cfg(not(feature = "containers"))]
pub async fn remove_own_containers() -> usize {
    0
}

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

pub use error::{EmulatorError, StderrTail};
pub use python::{AWS_CLI_VERSION, MOTO_VERSION, PythonEnv, lockdrill_home};

use endpoint::{EndpointUrl, NotOurs, Readiness, WaitError};
use moto::MotoProcess;

/// The image `container:moto` runs unless told otherwise.
pub const DEFAULT_MOTO_IMAGE: &str = "motoserver/moto:5.2.5";

/// The image `container:localstack` runs unless told otherwise; newer ones need a paid token.
pub const DEFAULT_LOCALSTACK_IMAGE: &str = "localstack/localstack:4.14";

/// The tag on `organizations:CreateAccount` that makes lockdrill's Moto use the id in its
/// value (12 digits) instead of a random one.
pub const ACCOUNT_ID_TAG: &str = "lockdrill:account-id";

/// Starts Moto's server with the account-id patch for [`ACCOUNT_ID_TAG`].
pub(crate) const MOTO_LAUNCHER: &str = include_str!("moto_launcher.py");

/// How long a Moto process may take to answer; it usually needs half a second.
const MOTO_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long an endpoint the user runs may take to answer.
const EXTERNAL_READY_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a Moto start is retried when another process took its port first.
const PORT_ATTEMPTS: usize = 3;

/// Which emulator to lease, as given to `--emulator`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum EmulatorKind {
    /// A Moto server process on 127.0.0.1, installed on demand.
    #[default]
    Moto,
    /// Moto in a container.
    ContainerMoto { image: String },
    /// LocalStack in a container; its community edition has IAM and STS but no Organizations.
    ContainerLocalStack { image: String },
    /// An emulator the user runs, at this http(s) URL.
    External { url: String },
}

impl FromStr for EmulatorKind {
    type Err = EmulatorError;

    fn from_str(given: &str) -> Result<Self, Self::Err> {
        let given = given.trim();
        match given {
            "moto" => return Ok(EmulatorKind::Moto),
            "container:moto" => {
                return Ok(EmulatorKind::ContainerMoto {
                    image: DEFAULT_MOTO_IMAGE.into(),
                });
            }
            "container:localstack" => {
                let image = DEFAULT_LOCALSTACK_IMAGE.into();
                return Ok(EmulatorKind::ContainerLocalStack { image });
            }
            _ => {}
        }

        if !given.contains("://") {
            return Err(EmulatorError::UnknownKind {
                given: given.into(),
            });
        }
        EndpointUrl::parse(given)?;
        Ok(EmulatorKind::External {
            url: given.trim_end_matches('/').into(),
        })
    }
}

impl fmt::Display for EmulatorKind {
    /// The name `--emulator` takes; a container's image is not part of it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmulatorKind::Moto => f.write_str("moto"),
            EmulatorKind::ContainerMoto { .. } => f.write_str("container:moto"),
            EmulatorKind::ContainerLocalStack { .. } => f.write_str("container:localstack"),
            EmulatorKind::External { url } => f.write_str(url),
        }
    }
}

/// How a lease may be taken.
#[derive(Debug, Clone, Default)]
pub struct LeaseOptions {
    /// Allow an external endpoint that is not on loopback (`--allow-remote-endpoint`).
    pub allow_remote: bool,
    /// Print a line to stderr before a slow first-time install.
    pub show_progress: bool,
}

/// A lease on a running emulator; dropping it stops what it started.
pub struct Emulator {
    kind: EmulatorKind,
    endpoint: String,
    url: EndpointUrl,
    backend: Option<Backend>,
}

/// What the lease owns.
enum Backend {
    Process(MotoProcess),
    #[cfg(feature = "containers")]
    Container(Box<container::ContainerLease>),
    External,
}

impl Emulator {
    /// Starts (or, for an external URL, checks) the emulator and waits until it answers.
    pub async fn start(
        kind: &EmulatorKind,
        options: &LeaseOptions,
    ) -> Result<Emulator, EmulatorError> {
        match kind {
            EmulatorKind::Moto => start_moto_process(options).await,
            EmulatorKind::External { url } => start_external(url, options).await,
            EmulatorKind::ContainerMoto { image } => start_container(kind, image).await,
            EmulatorKind::ContainerLocalStack { image } => start_container(kind, image).await,
        }
    }

    /// The emulator's base URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn kind(&self) -> &EmulatorKind {
        &self.kind
    }

    /// The process id of a Moto process lease, for diagnostics and tests.
    pub fn pid(&self) -> Option<u32> {
        match &self.backend {
            Some(Backend::Process(moto)) => Some(moto.pid()),
            _ => None,
        }
    }

    /// Whether the emulator still runs; `Err` says how it ended, with its last stderr lines.
    pub fn check_alive(&mut self) -> Result<(), EmulatorError> {
        let gone = |what: String, reason: String, stderr: StderrTail| EmulatorError::Gone {
            what,
            endpoint: self.endpoint.clone(),
            reason,
            stderr,
        };

        match &mut self.backend {
            Some(Backend::Process(moto)) => moto.exit_error().map_or(Ok(()), Err),
            #[cfg(feature = "containers")]
            Some(Backend::Container(container)) => endpoint::accepts_connections(&self.url)
                .map_err(|reason| gone(container.what(), reason, container.stderr_tail())),
            Some(Backend::External) => endpoint::accepts_connections(&self.url)
                .map_err(|reason| gone("the emulator".into(), reason, StderrTail::default())),
            None => Err(gone(
                "the emulator".into(),
                "stopped".into(),
                StderrTail::default(),
            )),
        }
    }

    /// Ends the lease, waiting until what it started is gone.
    pub async fn stop(mut self) {
        match self.backend.take() {
            Some(Backend::Process(mut moto)) => moto.stop(),
            #[cfg(feature = "containers")]
            Some(Backend::Container(container)) => (*container).stop().await,
            Some(Backend::External) | None => {}
        }
        tracing::debug!(kind = %self.kind, endpoint = self.endpoint, "lease ended");
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // Each backend stops in its own Drop; taking it here makes the order explicit.
        if let Some(backend) = self.backend.take() {
            drop(backend);
            tracing::debug!(kind = %self.kind, endpoint = self.endpoint, "lease dropped");
        }
    }
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("kind", &self.kind)
            .field("endpoint", &self.endpoint)
            .field("pid", &self.pid())
            .finish()
    }
}

/// Moto as a child process, on a free port of 127.0.0.1.
async fn start_moto_process(options: &LeaseOptions) -> Result<Emulator, EmulatorError> {
    let show_progress = options.show_progress;
    let env = tokio::task::spawn_blocking(move || PythonEnv::ensure(show_progress))
        .await
        .map_err(|error| EmulatorError::io("prepare", "the Python environment", error.into()))??;
    let launcher = env.write_launcher(MOTO_LAUNCHER)?;

    let mut attempt = 1;
    loop {
        let port = endpoint::free_loopback_port()?;
        let url = EndpointUrl::loopback(port);
        let mut moto = MotoProcess::spawn(&env, &launcher, port)?;

        let waited =
            endpoint::wait_until_answers(&url, Readiness::MOTO, MOTO_READY_TIMEOUT, &mut moto)
                .await;

        match waited {
            Ok(elapsed) => {
                tracing::debug!(
                    pid = moto.pid(),
                    port,
                    ms = elapsed.as_millis() as u64,
                    "moto answers"
                );
                return Ok(Emulator {
                    kind: EmulatorKind::Moto,
                    endpoint: format!("http://127.0.0.1:{port}"),
                    url,
                    backend: Some(Backend::Process(moto)),
                });
            }
            Err(WaitError::Died(death)) if attempt < PORT_ATTEMPTS && lost_its_port(&death) => {
                tracing::debug!(port, "another process took the port; trying another");
                attempt += 1;
            }
            Err(WaitError::Died(death)) => return Err(death),
            Err(WaitError::TimedOut { last_error }) => {
                return Err(EmulatorError::NotAnswering {
                    what: format!("moto (pid {})", moto.pid()),
                    endpoint: format!("http://127.0.0.1:{port}"),
                    waited_secs: MOTO_READY_TIMEOUT.as_secs(),
                    last_error,
                    advice: "it runs but does not answer; is the machine overloaded?",
                    stderr: moto.stderr_tail(),
                });
            }
        }
    }
}

fn lost_its_port(death: &EmulatorError) -> bool {
    match death {
        EmulatorError::Exited { stderr, .. } => stderr
            .0
            .iter()
            .any(|line| line.contains("Address already in use")),
        _ => false,
    }
}

/// An emulator the user runs: only on loopback unless allowed, and it must answer.
async fn start_external(url: &str, options: &LeaseOptions) -> Result<Emulator, EmulatorError> {
    let parsed = EndpointUrl::parse(url)?;
    if !parsed.is_loopback() && !options.allow_remote {
        return Err(EmulatorError::RemoteEndpoint { url: url.into() });
    }

    let waited = endpoint::wait_until_answers(
        &parsed,
        Readiness::ANY,
        EXTERNAL_READY_TIMEOUT,
        &mut NotOurs,
    )
    .await;
    match waited {
        Ok(_) => {}
        Err(WaitError::Died(death)) => return Err(death),
        Err(WaitError::TimedOut { last_error }) => {
            return Err(EmulatorError::NotAnswering {
                what: "the emulator".into(),
                endpoint: url.into(),
                waited_secs: EXTERNAL_READY_TIMEOUT.as_secs(),
                last_error,
                advice: "start it first (docker/compose.yaml runs Moto), or use `--emulator moto`",
                stderr: StderrTail::default(),
            });
        }
    }

    Ok(Emulator {
        kind: EmulatorKind::External { url: url.into() },
        endpoint: url.trim_end_matches('/').into(),
        url: parsed,
        backend: Some(Backend::External),
    })
}

#[cfg(feature = "containers")]
async fn start_container(kind: &EmulatorKind, image: &str) -> Result<Emulator, EmulatorError> {
    let spec = match kind {
        EmulatorKind::ContainerLocalStack { .. } => container::ContainerSpec::localstack(image),
        _ => container::ContainerSpec::moto(image),
    };
    let (lease, port) = container::ContainerLease::start(spec).await?;

    Ok(Emulator {
        kind: kind.clone(),
        endpoint: format!("http://127.0.0.1:{port}"),
        url: EndpointUrl::loopback(port),
        backend: Some(Backend::Container(Box::new(lease))),
    })
}

#[cfg(not(feature = "containers"))]
async fn start_container(kind: &EmulatorKind, _image: &str) -> Result<Emulator, EmulatorError> {
    Err(EmulatorError::ContainersNotBuilt {
        kind: kind.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_named_kinds_parse() {
        assert_eq!("moto".parse::<EmulatorKind>().unwrap(), EmulatorKind::Moto);
        assert_eq!(
            "container:moto".parse::<EmulatorKind>().unwrap(),
            EmulatorKind::ContainerMoto {
                image: DEFAULT_MOTO_IMAGE.into()
            }
        );
        assert_eq!(
            "container:localstack".parse::<EmulatorKind>().unwrap(),
            EmulatorKind::ContainerLocalStack {
                image: DEFAULT_LOCALSTACK_IMAGE.into()
            }
        );
        assert_eq!(
            "http://127.0.0.1:5000/".parse::<EmulatorKind>().unwrap(),
            EmulatorKind::External {
                url: "http://127.0.0.1:5000".into()
            }
        );
    }

    #[test]
    fn an_unknown_kind_lists_the_choices() {
        let message = "mot".parse::<EmulatorKind>().unwrap_err().to_string();

        assert!(message.starts_with("unknown emulator `mot`"), "{message}");
        for choice in [
            "`moto`",
            "`container:moto`",
            "`container:localstack`",
            "http://",
        ] {
            assert!(message.contains(choice), "{message}");
        }
    }

    #[test]
    fn kinds_display_as_they_are_written() {
        for written in [
            "moto",
            "container:moto",
            "container:localstack",
            "http://localhost:4566",
        ] {
            assert_eq!(
                written.parse::<EmulatorKind>().unwrap().to_string(),
                written
            );
        }
    }

    #[test]
    fn a_taken_port_is_recognised_from_moto_stderr() {
        let death = EmulatorError::Exited {
            what: "moto (pid 1)".into(),
            status: "exit status: 1".into(),
            stderr: StderrTail(vec!["OSError: [Errno 98] Address already in use".into()]),
        };

        assert!(lost_its_port(&death));
    }

    #[cfg(not(feature = "containers"))]
    #[tokio::test]
    async fn containers_need_the_feature() {
        let kind = "container:moto".parse().unwrap();

        let error = Emulator::start(&kind, &LeaseOptions::default())
            .await
            .unwrap_err();

        assert!(
            error.to_string().contains("--features containers"),
            "{error}"
        );
    }
}
