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
//!
//! Every container is labelled `lockdrill=1`, with the process id and a per-process session
//! token, and is removed (forcibly: Moto ignores SIGTERM as PID 1) however its lease ends:
//! [`ContainerLease::stop`] or drop (also while a panic unwinds). Ctrl-C is the command
//! line's to handle: it drops what it was running, then calls [`remove_own_containers`] for
//! any container whose start was cut short before it had a lease. Every path awaits the same
//! removal, so none of them races another.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use testcontainers::bollard::Docker;
use testcontainers::bollard::models::PortBinding;
use testcontainers::bollard::query_parameters::{ListContainersOptions, RemoveContainerOptions};
use testcontainers::core::ContainerPort;
use testcontainers::core::logs::LogFrame;
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};
use tokio::sync::OnceCell;

use super::endpoint::{self, EndpointUrl, Mortal, Readiness, WaitError};
use super::moto::StderrRing;
use super::{EmulatorError, MOTO_LAUNCHER};

/// The label every container lockdrill starts carries (value `1`), for finding leftovers.
pub const CONTAINER_LABEL: &str = "lockdrill";

/// The label with the id of the lockdrill process that started the container.
const PID_LABEL: &str = "lockdrill.pid";

/// The label with a token unique to this process, so that [`remove_own_containers`] removes
/// only this process's containers even where several machines share one engine.
const SESSION_LABEL: &str = "lockdrill.session";

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
            env: vec![
                ("MOTO_IAM_LOAD_MANAGED_POLICIES".into(), "true".into()),
                ("PYTHONUNBUFFERED".into(), "1".into()),
            ],
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
    id: String,
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
        let id = container.id().to_string();
        register(&id);
        tracing::debug!(image = %spec.image, id, host_port, "container started");
        let mut lease = ContainerLease {
            container: Some(container),
            id,
            image: spec.image,
            logs,
        };

        let url = EndpointUrl::loopback(host_port);
        let waited =
            endpoint::wait_until_answers(&url, spec.readiness, spec.timeout, &mut lease).await;

        let error = match waited {
            Ok(elapsed) => {
                tracing::debug!(ms = elapsed.as_millis() as u64, "container answers");
                return Ok((lease, host_port));
            }
            Err(WaitError::Died(death)) => death,
            Err(WaitError::TimedOut { last_error }) => EmulatorError::NotAnswering {
                what: lease.what(),
                endpoint: format!("http://127.0.0.1:{host_port}"),
                waited_secs: spec.timeout.as_secs(),
                last_error,
                advice: "the container runs but its server does not answer; see its output below",
                stderr: lease.logs.tail(),
            },
        };
        lease.stop().await;
        Err(error)
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
            remove(&self.id).await;
            disown(container);
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
    /// Removes the container on a thread of its own, which works the same inside a runtime,
    /// outside one, and while a runtime shuts down or a panic unwinds.
    fn drop(&mut self) {
        let Some(container) = self.container.take() else {
            return;
        };
        disown(container);

        let id = self.id.clone();
        let removal = std::thread::Builder::new()
            .name("lockdrill-container-rm".into())
            .spawn(move || match small_runtime() {
                Ok(runtime) => runtime.block_on(remove(&id)),
                Err(error) => {
                    tracing::warn!(id, %error, "no runtime to remove the container with")
                }
            });
        match removal {
            Ok(thread) => {
                let _ = thread.join();
            }
            Err(error) => tracing::warn!(id = self.id, %error, "cannot remove the container"),
        }
    }
}

/// Lets go of testcontainers' handle without its own removal on drop, which needs the
/// runtime that started the container and would race lockdrill's; [`remove`] owns removal.
fn disown(container: ContainerAsync<GenericImage>) {
    std::mem::forget(container);
}

fn small_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
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
        .with_label(CONTAINER_LABEL, "1")
        .with_label(PID_LABEL, std::process::id().to_string())
        .with_label(SESSION_LABEL, session())
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

/// The Docker host that answered [`check_engine`], for lockdrill's own API calls.
static ENGINE: OnceLock<String> = OnceLock::new();

/// Fails with the socket tried when no Docker engine answers, before testcontainers would
/// fail with a less helpful message; otherwise returns the host that answered
/// (`unix:///var/run/docker.sock`, or `DOCKER_HOST`).
pub async fn check_engine() -> Result<String, EmulatorError> {
    if let Some(host) = std::env::var("DOCKER_HOST")
        .ok()
        .filter(|host| !host.is_empty())
    {
        connect(&host)
            .await
            .map_err(|reason| EmulatorError::NoDockerEngine {
                socket: host.clone(),
                reason,
            })?;
        return Ok(ENGINE.get_or_init(|| host).clone());
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
        let host = format!("unix://{socket}");
        match connect(&host).await {
            Ok(()) => return Ok(ENGINE.get_or_init(|| host).clone()),
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

/// A container that carries lockdrill's label, as the engine lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabelledContainer {
    pub id: String,
    /// The id of the lockdrill process that started it.
    pub pid: Option<u32>,
    /// `running`, `exited`, ...
    pub state: Option<String>,
}

/// Every container, running or not, that carries lockdrill's label: what a crashed run
/// would have left behind (remove them with `docker rm -f`).
pub async fn labelled_containers() -> Result<Vec<LabelledContainer>, EmulatorError> {
    let host = check_engine().await?;
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".into(),
            vec![format!("{CONTAINER_LABEL}=1")],
        )])),
        ..Default::default()
    };
    let listed = match docker() {
        Ok(docker) => docker
            .list_containers(Some(options))
            .await
            .map_err(|error| error.to_string()),
        Err(error) => Err(error),
    };
    let listed = listed.map_err(|reason| EmulatorError::NoDockerEngine {
        socket: host,
        reason,
    })?;

    Ok(listed
        .into_iter()
        .map(|summary| LabelledContainer {
            id: summary.id.unwrap_or_default(),
            pid: summary
                .labels
                .as_ref()
                .and_then(|labels| labels.get(PID_LABEL))
                .and_then(|pid| pid.parse().ok()),
            state: summary.state.map(|state| state.to_string()),
        })
        .collect())
}

/// A client for the engine that answered [`check_engine`].
fn docker() -> Result<Docker, String> {
    let host = ENGINE.get().cloned().unwrap_or_default();
    let connected = match host.strip_prefix("unix://") {
        Some(path) => {
            Docker::connect_with_socket(path, 30, testcontainers::bollard::API_DEFAULT_VERSION)
        }
        None => Docker::connect_with_defaults(),
    };
    connected.map_err(|error| error.to_string())
}

async fn list_labelled(label: &str) -> Result<Vec<String>, String> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([("label".into(), vec![label.to_string()])])),
        ..Default::default()
    };
    let listed = docker()?
        .list_containers(Some(options))
        .await
        .map_err(|error| error.to_string())?;
    Ok(listed
        .into_iter()
        .filter_map(|summary| summary.id)
        .collect())
}

/// A token for this process's containers: the pid alone repeats across machines.
fn session() -> &'static str {
    static SESSION: OnceLock<String> = OnceLock::new();
    SESSION.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        if let Ok(now) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            hasher.write_u128(now.as_nanos());
        }
        format!("{:016x}", hasher.finish())
    })
}

/// This process's containers, each with its one removal, which every path awaits.
static LIVE: Mutex<BTreeMap<String, Arc<OnceCell<()>>>> = Mutex::new(BTreeMap::new());

fn live() -> std::sync::MutexGuard<'static, BTreeMap<String, Arc<OnceCell<()>>>> {
    LIVE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn register(id: &str) {
    live().insert(id.to_string(), Arc::default());
}

/// Removes a container of this process, once, however many paths ask at the same time.
async fn remove(id: &str) {
    let Some(removal) = live().get(id).cloned() else {
        return;
    };
    removal.get_or_init(|| force_remove(id)).await;
    live().remove(id);
}

/// Kills and removes a container, with its volumes; one that is already gone is fine.
async fn force_remove(id: &str) {
    let options = RemoveContainerOptions {
        force: true,
        v: true,
        ..Default::default()
    };
    let removed = match docker() {
        Ok(docker) => docker
            .remove_container(id, Some(options))
            .await
            .map_err(|error| error.to_string()),
        Err(error) => Err(error),
    };
    match removed {
        Ok(()) => tracing::debug!(id, "container removed"),
        Err(error) if error.contains("404") || error.contains("no such container") => {}
        Err(error) => tracing::warn!(
            id,
            %error,
            "could not remove the container; remove it with `docker rm -f {id}`"
        ),
    }
}

/// Removes every container of this process: those with a lease, and any started but not
/// yet handed to one (a start cut short by Ctrl-C). Returns how many there were.
pub async fn remove_own_containers() -> usize {
    let mut ids: BTreeSet<String> = live().keys().cloned().collect();
    match list_labelled(&format!("{SESSION_LABEL}={}", session())).await {
        Ok(listed) => ids.extend(listed),
        Err(error) => tracing::warn!(%error, "cannot list this process's containers"),
    }

    let count = ids.len();
    let removals = ids.iter().map(|id| async move {
        if live().contains_key(id) {
            remove(id).await;
        } else {
            force_remove(id).await;
        }
    });
    futures::future::join_all(removals).await;
    count
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
