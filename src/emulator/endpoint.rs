//! Endpoint URLs and the readiness probe that every backend shares.
//!
//! lockdrill must never send a drill's requests to real AWS by accident, so an endpoint URL is
//! checked before anything connects to it: only loopback hosts pass unless the user opts in.
//! Hosts are judged by how they are written, never by resolving them, since a name that
//! resolves to loopback today may not tomorrow. The probe speaks just enough HTTP/1.1 to learn
//! that a server answers; lockdrill has no TLS client, so an https endpoint is only connected
//! to.

use std::io;
use std::net::{IpAddr, Ipv4Addr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::EmulatorError;

/// How long one probe may take before it counts as no answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How often a starting emulator is probed.
const PROBE_INTERVAL: Duration = Duration::from_millis(25);

/// An http or https URL, split into what a connection needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EndpointUrl {
    pub is_https: bool,
    /// The host as written, without IPv6 brackets.
    pub host: String,
    pub port: u16,
}

impl EndpointUrl {
    /// `http://127.0.0.1:PORT`, where lockdrill's own emulators listen.
    pub fn loopback(port: u16) -> EndpointUrl {
        EndpointUrl {
            is_https: false,
            host: "127.0.0.1".into(),
            port,
        }
    }

    pub fn parse(url: &str) -> Result<EndpointUrl, EmulatorError> {
        let bad = |reason: &str| EmulatorError::BadUrl {
            url: url.into(),
            reason: reason.into(),
        };

        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("it has no `http://`"))?;
        let is_https = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            _ => return Err(bad("only http and https are supported")),
        };

        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(bad("credentials in the URL are not supported"));
        }
        let (host, port) = split_host_port(authority).ok_or_else(|| bad("the host is missing"))?;
        let port = match port {
            None if is_https => 443,
            None => 80,
            Some(port) => port.parse().map_err(|_| bad("the port is not a number"))?,
        };

        Ok(EndpointUrl {
            is_https,
            host: host.to_string(),
            port,
        })
    }

    /// Whether the host is written as this machine: 127.0.0.0/8, `localhost` or `::1`.
    pub fn is_loopback(&self) -> bool {
        if self.host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

/// Splits `host:port` or `[v6]:port`; the port is optional.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
        let (host, after) = bracketed.split_once(']')?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };

    (!host.is_empty()).then_some((host, port))
}

/// A port on 127.0.0.1 that nothing listens on right now.
///
/// Another process may take it before the emulator binds it; the callers retry on that.
pub(crate) fn free_loopback_port() -> Result<u16, EmulatorError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|source| EmulatorError::io("bind a port on", "127.0.0.1", source))?;
    let address = listener
        .local_addr()
        .map_err(|source| EmulatorError::io("read the port bound on", "127.0.0.1", source))?;
    Ok(address.port())
}

/// What counts as an answer from an emulator.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Readiness {
    /// The path to ask for.
    pub path: &'static str,
    /// Whether only a 2xx status counts; otherwise any HTTP reply does.
    pub needs_success: bool,
}

impl Readiness {
    /// Moto's dashboard page answers as soon as the server listens, and touches no service.
    pub const MOTO: Readiness = Readiness {
        path: "/moto-api/",
        needs_success: false,
    };

    /// LocalStack listens before its services are up; its health page says when they are.
    #[cfg(feature = "containers")]
    pub const LOCALSTACK: Readiness = Readiness {
        path: "/_localstack/health",
        needs_success: true,
    };

    /// An emulator of unknown make: any HTTP reply to `/` shows that it is there.
    pub const ANY: Readiness = Readiness {
        path: "/",
        needs_success: false,
    };
}

/// Whether the endpoint answers now; `Err` says why not, for the user.
pub(crate) async fn probe(url: &EndpointUrl, readiness: Readiness) -> Result<(), String> {
    let attempt = async {
        let mut stream = tokio::net::TcpStream::connect((url.host.as_str(), url.port)).await?;
        if url.is_https {
            return Ok(None);
        }

        let host = if url.host.contains(':') {
            format!("[{}]", url.host)
        } else {
            url.host.clone()
        };
        let request = format!(
            "GET {} HTTP/1.1\r\nHost: {host}:{}\r\nUser-Agent: lockdrill\r\n\
             Connection: close\r\n\r\n",
            readiness.path, url.port
        );
        stream.write_all(request.as_bytes()).await?;

        let mut head = Vec::with_capacity(64);
        let mut buffer = [0u8; 256];
        while !head.contains(&b'\n') && head.len() < 1024 {
            let read = stream.read(&mut buffer).await?;
            if read == 0 {
                break;
            }
            head.extend_from_slice(&buffer[..read]);
        }
        Ok::<_, io::Error>(Some(head))
    };

    let head = match tokio::time::timeout(PROBE_TIMEOUT, attempt).await {
        Err(_) => return Err(format!("no reply in {} s", PROBE_TIMEOUT.as_secs())),
        Ok(Err(error)) => return Err(error.to_string()),
        Ok(Ok(None)) => return Ok(()),
        Ok(Ok(Some(head))) => head,
    };

    match status_code(&head) {
        None => Err("the reply is not HTTP".into()),
        Some(status) if readiness.needs_success && !(200..300).contains(&status) => {
            Err(format!("`{}` answered HTTP {status}", readiness.path))
        }
        Some(_) => Ok(()),
    }
}

/// The status code of an HTTP/1.x status line.
fn status_code(head: &[u8]) -> Option<u16> {
    let line = head.split(|&byte| byte == b'\n').next()?;
    let line = std::str::from_utf8(line).ok()?;
    let mut words = line.split_whitespace();
    if !words.next()?.starts_with("HTTP/1.") {
        return None;
    }
    words.next()?.parse().ok()
}

/// Something lockdrill started that may die while it is waited for.
pub(crate) trait Mortal {
    /// `Some` error saying how it ended, once it has.
    fn death(&mut self) -> impl Future<Output = Option<EmulatorError>> + Send;
}

/// An endpoint lockdrill did not start, and so cannot watch die.
pub(crate) struct NotOurs;

impl Mortal for NotOurs {
    async fn death(&mut self) -> Option<EmulatorError> {
        None
    }
}

/// Probes until the endpoint answers, `emulator` has died, or `timeout` passes.
///
/// Death is checked before each probe so that an emulator that crashed while starting is
/// reported at once with its own error, not after the whole timeout.
pub(crate) async fn wait_until_answers(
    url: &EndpointUrl,
    readiness: Readiness,
    timeout: Duration,
    emulator: &mut impl Mortal,
) -> Result<Duration, WaitError> {
    let started = Instant::now();

    loop {
        if let Some(death) = emulator.death().await {
            return Err(WaitError::Died(death));
        }

        let last_error = match probe(url, readiness).await {
            Ok(()) => return Ok(started.elapsed()),
            Err(error) => error,
        };

        if started.elapsed() >= timeout {
            return Err(WaitError::TimedOut { last_error });
        }
        tokio::time::sleep(PROBE_INTERVAL).await;
    }
}

/// Why [`wait_until_answers`] gave up.
#[derive(Debug)]
pub(crate) enum WaitError {
    Died(EmulatorError),
    TimedOut { last_error: String },
}

/// Whether something still accepts connections at the endpoint, without blocking for long.
///
/// This is the cheap liveness check for leases lockdrill cannot watch as a child process.
pub(crate) fn accepts_connections(url: &EndpointUrl) -> Result<(), String> {
    let addresses = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(|e| e.to_string())?;

    let mut last_error = String::from("the host has no address");
    for address in addresses {
        match TcpStream::connect_timeout(&address, Duration::from_millis(500)) {
            Ok(_) => return Ok(()),
            Err(error) => last_error = error.to_string(),
        }
    }
    Err(last_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> EndpointUrl {
        EndpointUrl::parse(text).unwrap()
    }

    #[test]
    fn urls_are_split_into_scheme_host_and_port() {
        assert_eq!(
            url("http://127.0.0.1:5000/"),
            EndpointUrl {
                is_https: false,
                host: "127.0.0.1".into(),
                port: 5000
            }
        );
        assert_eq!(url("HTTPS://localhost").port, 443);
        assert_eq!(url("http://[::1]:4566/path?x=1").host, "::1");
        assert_eq!(url("http://emulator.internal").port, 80);
    }

    #[test]
    fn malformed_urls_say_what_is_wrong() {
        let message = |text: &str| EndpointUrl::parse(text).unwrap_err().to_string();

        assert!(message("127.0.0.1:5000").contains("has no `http://`"));
        assert!(message("ftp://127.0.0.1").contains("only http and https"));
        assert!(message("http://:5000").contains("host is missing"));
        assert!(message("http://127.0.0.1:fifty").contains("not a number"));
        assert!(message("http://user:secret@127.0.0.1:5000").contains("credentials"));
    }

    #[test]
    fn only_hosts_written_as_this_machine_are_loopback() {
        assert!(url("http://127.0.0.1:5000").is_loopback());
        assert!(url("http://127.8.9.10:5000").is_loopback());
        assert!(url("http://LOCALHOST:5000").is_loopback());
        assert!(url("http://[::1]:5000").is_loopback());

        assert!(!url("http://192.0.2.1:5000").is_loopback());
        assert!(!url("http://128.0.0.1:5000").is_loopback());
        assert!(!url("http://localhost.example.com:5000").is_loopback());
        assert!(!url("http://[::ffff:192.0.2.1]:5000").is_loopback());
        assert!(!url("https://iam.amazonaws.com").is_loopback());
    }

    #[test]
    fn status_lines_are_read_and_anything_else_is_not_http() {
        assert_eq!(
            status_code(b"HTTP/1.1 404 NOT FOUND\r\nServer: x"),
            Some(404)
        );
        assert_eq!(status_code(b"HTTP/1.0 200 OK\r\n"), Some(200));
        assert_eq!(status_code(b"SSH-2.0-OpenSSH_9.2\r\n"), None);
        assert_eq!(status_code(b""), None);
    }

    #[tokio::test]
    async fn a_closed_port_does_not_answer() {
        let port = free_loopback_port().unwrap();
        let closed = url(&format!("http://127.0.0.1:{port}"));

        assert!(probe(&closed, Readiness::ANY).await.is_err());
        assert!(accepts_connections(&closed).is_err());
    }
}
