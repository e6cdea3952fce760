//! Emulators in containers that the lease owns and throws away, through testcontainers.
//!
//! Two things differ from testcontainers' defaults, both for machines like CI's, where the
//! engine is podman's Docker API service inside a container (see DESIGN.md): the port is
//! published on 127.0.0.1 only, and lockdrill connects to 127.0.0.1 itself instead of asking
//! `get_host()`, which answers a bridge gateway when `/.dockerenv` exists. lockdrill also picks
//! the host port, because podman 4 reports bindings in a form testcontainers cannot read.
//!
//! A Moto container runs Moto through lockdrill's launcher, so that accounts get the ids their
//! world names, whenever the image has a Python that imports Moto.

use std::collections::HashMap;
use std::time::Duration;

use testcontainers::bollard::models::PortBinding;
use testcontainers::core::ContainerPort;
use testcontainers::core::logs::LogFrame;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use super::endpoint::{self, EndpointUrl, Mortal, Readiness, WaitError};
use super::moto::StderrRing;
use super::{EmulatorError, MOTO_LAUNCHER};

/// Finds a Python with Moto in the image and runs the launcher (`$1`) with it; an image
/// without one still starts Moto, only without fixed account ids.
const MOTO_ENTRY_SCRIPT: &str = r#"
for python in /opt/moto/bin/python /usr/local/bin/python3 /usr/bin/python3; do
  if [ -x "$python" ] && "$python" -c 'import moto' 2>/dev/null; then
    exec "$python" -c "$1" -H 0.0.0.0 -p 5000
  fi
done
echo 'lockdrill: no Python with Moto in this image; fixed account ids will not work' >&2
exec moto_server -H 0.0.0.0 -p 5000
"#;

/// What to run, and how to tell that it is ready.
pub(crate) struct ContainerSpec {
    image: String,
    port: u16,
    entrypoint: Option<&'static str>,
    cmd: Vec<String>,
    env: Vec<(String, String)>,
    readiness: Readiness,
    timeout: Duration,
}

impl ContainerSpec {
    pub fn moto(image: &str) -> ContainerSpec {
        ContainerSpec {
            image: image.to_string(),
            port: 5000,
            entrypoint: Some("/bin/sh"),
            cmd: vec![
                "-c".into(),
                MOTO_ENTRY_SCRIPT.into(),
                "lockdrill-moto".into(),
                MOTO_LAUNCHER.into(),
            ],
            env: vec![("MOTO_IAM_LOAD_MANAGED_POLICIES".into(), "true".into())],
            readiness: Readiness::MOTO,
            timeout: Duration::from_secs(60),
        }
    }

    pub fn localstack(image: &str) -> ContainerSpec {
        let token = std::env::var("LOCALSTACK_AUTH_TOKEN")
            .ok()
            .filter(|token| !token.is_empty());

        ContainerSpec {
            image: image.to_string(),
            port: 4566,
            entrypoint: None,
            cmd: Vec::new(),
            env: token
                .map(|token| ("LOCALSTACK_AUTH_TOKEN".into(), token))
                .into_iter()
                .collect(),
            readiness: Readiness::LOCALSTACK,
            timeout: Duration::from_secs(120),
        }
    }
}

/// A running container, removed when the lease ends.
pub(crate) struct ContainerLease {
    container: Option<ContainerAsync<GenericImage>>,
    image: String,
    logs: StderrRing,
}

impl ContainerLease {
    /// Starts the container and waits until it answers at the returned 127.0.0.1 port.
    pub async fn start(spec: ContainerSpec) -> Result<(ContainerLease, u16), EmulatorError> {
        check_engine().await?;
        let host_port = endpoint::free_loopback_port()?;
        let logs = StderrRing::default();

        let container = request(&spec, host_port, logs.clone())
            .start()
            .await
            .map_err(|error| EmulatorError::Container {
                image: spec.image.clone(),
                message: error.to_string(),
            })?;
        tracing::debug!(image = %spec.image, id = container.id(), host_port, "container started");
        let mut lease = ContainerLease {
            container: Some(container),
            image: spec.image,
            logs,
        };

        let url = EndpointUrl::loopback(host_port);
        let waited =
            endpoint::wait_until_answers(&url, spec.readiness, spec.timeout, &mut lease).await;

        match waited {
            Ok(elapsed) => {
                tracing::debug!(ms = elapsed.as_millis() as u64, "container answers");
                Ok((lease, host_port))
            }
            Err(WaitError::Died(death)) => Err(death),
            Err(WaitError::TimedOut { last_error }) => Err(EmulatorError::NotAnswering {
                what: lease.what(),
                endpoint: format!("http://127.0.0.1:{host_port}"),
                waited_secs: spec.timeout.as_secs(),
                last_error,
                advice: "the container runs but its server does not answer; see its output below",
                stderr: lease.logs.tail(),
            }),
        }
    }

    pub fn what(&self) -> String {
        format!("container `{}`", self.image)
    }

    pub fn stderr_tail(&self) -> super::StderrTail {
        self.logs.tail()
    }

    /// Removes the container, waiting for the engine to confirm.
    pub async fn stop(mut self) {
        if let Some(container) = self.container.take() {
            let id = container.id().to_string();
            match container.rm().await {
                Ok(()) => tracing::debug!(id, "container removed"),
                Err(error) => tracing::warn!(id, %error, "could not remove the container"),
            }
        }
    }
}

impl Mortal for ContainerLease {
    async fn death(&mut self) -> Option<EmulatorError> {
        let container = self.container.as_ref()?;
        if container.is_running().await.unwrap_or(true) {
            return None;
        }

        let status = match container.exit_code().await {
            Ok(Some(code)) => format!("exit code {code}"),
            _ => "exit code unknown".into(),
        };
        Some(EmulatorError::Exited {
            what: self.what(),
            status,
            stderr: self.logs.tail(),
        })
    }
}

impl Drop for ContainerLease {
    fn drop(&mut self) {
        let Some(container) = self.container.take() else {
            return;
        };

        // testcontainers removes a dropped container through the current tokio runtime;
        // outside any runtime, one is made here so that the container still goes.
        if tokio::runtime::Handle::try_current().is_ok() {
            drop(container);
            return;
        }
        match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => {
                if let Err(error) = runtime.block_on(container.rm()) {
                    tracing::warn!(%error, "could not remove the container");
                }
            }
            Err(error) => {
                tracing::warn!(%error, "no runtime to remove the container with");
                std::mem::forget(container);
            }
        }
    }
}

/// The testcontainers request for `spec`, published on 127.0.0.1:`host_port`.
fn request(
    spec: &ContainerSpec,
    host_port: u16,
    logs: StderrRing,
) -> testcontainers::ContainerRequest<GenericImage> {
    let (name, tag) = split_image(&spec.image);
    let mut image = GenericImage::new(name, tag).with_exposed_port(ContainerPort::Tcp(spec.port));
    if let Some(entrypoint) = spec.entrypoint {
        image = image.with_entrypoint(entrypoint);
    }

    let binding = format!("{}/tcp", spec.port);
    let mut request = image
        .with_cmd(spec.cmd.clone())
        .with_mapped_port(host_port, ContainerPort::Tcp(spec.port))
        .with_host_config_modifier(move |host_config| {
            let on_loopback = PortBinding {
                host_ip: Some("127.0.0.1".into()),
                host_port: Some(host_port.to_string()),
            };
            host_config.publish_all_ports = Some(false);
            host_config.port_bindings =
                Some(HashMap::from([(binding.clone(), Some(vec![on_loopback]))]));
        })
        .with_log_consumer(move |frame: &LogFrame| {
            for line in String::from_utf8_lossy(frame.bytes()).lines() {
                logs.push(line);
            }
        })
        .with_startup_timeout(spec.timeout);
    for (name, value) in &spec.env {
        request = request.with_env_var(name, value);
    }
    request
}

/// `motoserver/moto:5.2.5` → (`motoserver/moto`, `5.2.5`); no tag means `latest`.
fn split_image(image: &str) -> (&str, &str) {
    let last_part = image.rfind('/').map_or(0, |slash| slash + 1);
    match image[last_part..].rfind(':') {
        Some(colon) => (&image[..last_part + colon], &image[last_part + colon + 1..]),
        None => (image, "latest"),
    }
}

/// Fails with the socket tried when no Docker engine answers, before testcontainers would
/// fail with a less helpful message.
async fn check_engine() -> Result<(), EmulatorError> {
    if let Some(host) = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|host| !host.is_empty())
    {
        return connect(&host)
            .await
            .map_err(|reason| EmulatorError::NoDockerEngine {
                socket: host.clone(),
                reason,
            });
    }

    let mut sockets = vec!["/var/run/docker.sock".to_string()];
    for base in ["XDG_RUNTIME_DIR", "HOME"] {
        if let Some(dir) = std::env::var_os(base) {
            let socket = std::path::Path::new(&dir).join(".docker/run/docker.sock");
            sockets.push(socket.to_string_lossy().into_owned());
        }
    }

    let mut first_reason = None;
    for socket in &sockets {
        match connect(&format!("unix://{socket}")).await {
            Ok(()) => return Ok(()),
            Err(reason) => {
                first_reason.get_or_insert(reason);
            }
        }
    }
    Err(EmulatorError::NoDockerEngine {
        socket: sockets[0].clone(),
        reason: first_reason.unwrap_or_default(),
    })
}

/// Connects to a `unix://` or `tcp://` Docker host; other schemes are left to testcontainers.
async fn connect(host: &str) -> Result<(), String> {
    let attempt = async {
        if let Some(path) = host.strip_prefix("unix://") {
            tokio::net::UnixStream::connect(path).await.map(drop)
        } else if let Some(address) = host.strip_prefix("tcp://") {
            tokio::net::TcpStream::connect(address.trim_end_matches('/'))
                .await
                .map(drop)
        } else {
            Ok(())
        }
    };

    match tokio::time::timeout(Duration::from_secs(2), attempt).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err("no answer in 2 s".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_split_at_the_tag() {
        assert_eq!(
            split_image("motoserver/moto:5.2.5"),
            ("motoserver/moto", "5.2.5")
        );
        assert_eq!(
            split_image("localstack/localstack"),
            ("localstack/localstack", "latest")
        );
        assert_eq!(
            split_image("registry:5000/moto"),
            ("registry:5000/moto", "latest")
        );
        assert_eq!(
            split_image("registry:5000/moto:local"),
            ("registry:5000/moto", "local")
        );
    }

    #[tokio::test]
    async fn a_missing_socket_is_named_with_advice() {
        let reason = connect("unix:///nonexistent/docker.sock")
            .await
            .unwrap_err();
        let error = EmulatorError::NoDockerEngine {
            socket: "/nonexistent/docker.sock".into(),
            reason,
        };

        let message = error.to_string();
        assert!(message.contains("`/nonexistent/docker.sock`"));
        assert!(message.contains("--emulator moto"));
    }
}
