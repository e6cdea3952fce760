//! The emulator lease against real Moto: it answers IAM and Organizations calls (through raw
//! HTTP and through the real `aws` CLI), fixes account ids by tag, leaves no process behind
//! however the lease ends, reports a Moto that died, and refuses endpoints off this machine.
//!
//! Each test starts its own Moto (about a second); Moto comes from the installed Python, or
//! from lockdrill's managed environment, which the first run installs from PyPI.

use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lockdrill::emulator::{ACCOUNT_ID_TAG, Emulator, EmulatorKind, LeaseOptions, PythonEnv};

async fn start_moto() -> Emulator {
    let started = Instant::now();
    let moto = Emulator::start(&EmulatorKind::Moto, &LeaseOptions::default())
        .await
        .unwrap_or_else(|error| panic!("moto did not start: {error}"));
    eprintln!("moto start-to-ready: {} ms", started.elapsed().as_millis());
    moto
}

/// Sends a POST with a SigV4-shaped Authorization header. Moto routes a request by the
/// service in its credential scope and, with its own auth left off, checks no signature.
async fn call(endpoint: &str, service: &str, target: Option<&str>, body: &str) -> (u16, String) {
    let scope = format!("AKIDLOCKDRILLTEST/20250101/us-east-1/{service}/aws4_request");
    let mut request = http::Request::post(format!("{endpoint}/"))
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=00"),
        )
        .header("x-amz-date", "20250101T000000Z");
    request = match target {
        Some(target) => request
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", target),
        None => request.header("content-type", "application/x-www-form-urlencoded"),
    };
    let request = request
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap();

    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.expect("moto answers");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn process_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

fn port_of(endpoint: &str) -> u16 {
    endpoint.rsplit(':').next().unwrap().parse().unwrap()
}

fn refuses_connections(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_err()
}

#[tokio::test]
async fn moto_answers_iam_and_fixes_account_ids_by_tag() {
    let moto = start_moto().await;
    let endpoint = moto.endpoint();
    assert!(endpoint.starts_with("http://127.0.0.1:"), "{endpoint}");

    let (status, body) = call(endpoint, "iam", None, "Action=ListUsers&Version=2010-05-08").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("<ListUsersResponse"), "{body}");

    let admin = "arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FAdministratorAccess";
    let get_policy = format!("Action=GetPolicy&Version=2010-05-08&PolicyArn={admin}");
    let (status, body) = call(endpoint, "iam", None, &get_policy).await;
    assert_eq!(status, 200, "AWS-managed policies must be loaded: {body}");
    assert!(
        body.contains("<PolicyName>AdministratorAccess</PolicyName>"),
        "{body}"
    );

    let organizations = |operation: &str| format!("AWSOrganizationsV20161128.{operation}");
    let (status, body) = call(
        endpoint,
        "organizations",
        Some(&organizations("CreateOrganization")),
        r#"{"FeatureSet":"ALL"}"#,
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let create_account = |name: &str, tags: &str| {
        format!(r#"{{"Email":"{name}@example.com","AccountName":"{name}","Tags":[{tags}]}}"#)
    };
    let wanted = format!(r#"{{"Key":"{ACCOUNT_ID_TAG}","Value":"210987654321"}}"#);
    let target = organizations("CreateAccount");
    let (status, body) = call(
        endpoint,
        "organizations",
        Some(&target),
        &create_account("prod", &wanted),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(account_id(&body), "210987654321", "{body}");

    let (status, body) = call(
        endpoint,
        "organizations",
        Some(&target),
        &create_account("dev", ""),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let random = account_id(&body);
    assert!(random.len() == 12 && random != "210987654321", "{body}");

    moto.stop().await;
}

fn account_id(create_account_response: &str) -> String {
    let reply: serde_json::Value = serde_json::from_str(create_account_response).unwrap();
    reply["CreateAccountStatus"]["AccountId"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test]
async fn the_aws_cli_of_the_python_env_reaches_moto() {
    let aws = tokio::task::spawn_blocking(|| PythonEnv::ensure(false)?.aws_cli())
        .await
        .unwrap()
        .unwrap_or_else(|error| panic!("no aws CLI: {error}"));
    let moto = start_moto().await;
    let home = std::env::temp_dir().join(format!("lockdrill-aws-home-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();

    let output = Command::new(&aws)
        .args(["iam", "get-policy", "--policy-arn"])
        .arg("arn:aws:iam::aws:policy/AdministratorAccess")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_ACCESS_KEY_ID", "AKIDLOCKDRILLTEST")
        .env("AWS_SECRET_ACCESS_KEY", "not-a-secret")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stdout.contains("\"PolicyName\": \"AdministratorAccess\""),
        "{stdout}"
    );
    std::fs::remove_dir_all(&home).unwrap();
}

#[tokio::test]
async fn moto_sees_none_of_the_users_aws_settings_and_ends_with_stop() {
    let moto = start_moto().await;
    let pid = moto.pid().expect("a process lease has a pid");
    let port = port_of(moto.endpoint());

    let mut variables = aws_variables_of(pid);
    variables.sort();
    assert_eq!(
        variables,
        [
            "AWS_CONFIG_FILE=/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE=/dev/null"
        ]
    );

    moto.stop().await;

    assert!(!process_exists(pid), "moto (pid {pid}) outlived stop()");
    assert!(refuses_connections(port));
}

fn aws_variables_of(pid: u32) -> Vec<String> {
    let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
    environ
        .split(|&byte| byte == 0)
        .map(|variable| String::from_utf8_lossy(variable).into_owned())
        .filter(|variable| variable.starts_with("AWS_"))
        .collect()
}

#[tokio::test]
async fn dropping_the_lease_ends_the_moto_process() {
    let moto = start_moto().await;
    let pid = moto.pid().unwrap();
    let port = port_of(moto.endpoint());

    drop(moto);

    assert!(
        !process_exists(pid),
        "moto (pid {pid}) outlived its dropped lease"
    );
    assert!(refuses_connections(port));
}

#[tokio::test]
async fn a_panic_unwinding_through_the_lease_ends_the_moto_process() {
    let (pid_sender, pid_receiver) = tokio::sync::oneshot::channel();

    let task = tokio::spawn(async move {
        let moto = start_moto().await;
        pid_sender.send(moto.pid().unwrap()).unwrap();
        panic!("a drill step failed while moto ran");
    });
    let joined = task.await;
    let pid = pid_receiver.await.unwrap();

    assert!(joined.unwrap_err().is_panic());
    assert!(!process_exists(pid), "moto (pid {pid}) outlived a panic");
}

#[tokio::test]
async fn a_killed_moto_is_reported_with_its_exit() {
    let mut moto = start_moto().await;
    let pid = moto.pid().unwrap();
    moto.check_alive().expect("a fresh moto is alive");

    let killed = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());

    let deadline = Instant::now() + Duration::from_secs(5);
    let error = loop {
        match moto.check_alive() {
            Err(error) => break error,
            Ok(()) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            Ok(()) => panic!("check_alive did not notice that moto was killed"),
        }
    };
    let message = error.to_string();
    eprintln!("{message}");
    assert!(
        message.contains(&format!("moto (pid {pid}) exited")),
        "{message}"
    );
    assert!(message.contains("SIGKILL"), "{message}");
    assert!(message.contains("its last stderr lines:"), "{message}");
}

#[tokio::test]
async fn an_external_moto_on_loopback_is_leased_and_watched() {
    let moto = start_moto().await;
    let kind: EmulatorKind = moto.endpoint().parse().unwrap();

    let mut external = Emulator::start(&kind, &LeaseOptions::default())
        .await
        .unwrap();
    assert_eq!(external.endpoint(), moto.endpoint());
    external.check_alive().unwrap();

    moto.stop().await;
    let message = external.check_alive().unwrap_err().to_string();
    assert!(message.contains("no longer answers"), "{message}");
}

#[tokio::test]
async fn an_external_endpoint_that_is_down_says_how_to_start_one() {
    let closed = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let kind = EmulatorKind::External {
        url: format!("http://127.0.0.1:{port}"),
    };

    let message = Emulator::start(&kind, &LeaseOptions::default())
        .await
        .unwrap_err()
        .to_string();
    eprintln!("{message}");

    assert!(
        message.contains(&format!("`http://127.0.0.1:{port}`")),
        "{message}"
    );
    assert!(message.contains("docker/compose.yaml"), "{message}");
}

#[tokio::test]
async fn an_endpoint_off_this_machine_needs_the_opt_in_flag() {
    // TEST-NET-1 and a name: refused before any connection is tried.
    for url in ["http://192.0.2.10:5000", "https://moto.example.com"] {
        let kind: EmulatorKind = url.parse().unwrap();

        let message = Emulator::start(&kind, &LeaseOptions::default())
            .await
            .unwrap_err()
            .to_string();

        assert!(
            message.contains(&format!("`{url}` is not on this machine")),
            "{message}"
        );
        assert!(message.contains("--allow-remote-endpoint"), "{message}");
    }
}

#[test]
fn bad_emulator_names_are_explained() {
    let message = |given: &str| given.parse::<EmulatorKind>().unwrap_err().to_string();

    let unknown = message("motto");
    assert!(unknown.contains("unknown emulator `motto`"), "{unknown}");
    assert!(unknown.contains("`container:localstack`"), "{unknown}");
    assert!(message("container:docker").contains("`container:moto`"));
    assert!(message("ftp://127.0.0.1").contains("only http and https"));
}

/// Start-to-ready of a Moto process, five times: `cargo test --test emulator -- --ignored
/// --nocapture moto_start_time`.
#[tokio::test]
#[ignore = "a measurement, not a check"]
async fn moto_start_time() {
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let moto = Emulator::start(&EmulatorKind::Moto, &LeaseOptions::default())
            .await
            .unwrap();
        times.push(started.elapsed());
        moto.stop().await;
    }

    times.sort();
    eprintln!(
        "moto start-to-ready over 5 starts: min {:?}, median {:?}, max {:?}",
        times[0], times[2], times[4]
    );
}

/// A fresh managed environment: Moto and the AWS CLI from PyPI, in a throwaway home. Needs
/// PyPI and about a minute: `cargo test --test emulator -- --ignored a_fresh_managed_env`.
#[test]
#[ignore = "installs from PyPI"]
fn a_fresh_managed_env_installs_moto_and_the_aws_cli() {
    let home = std::env::temp_dir().join(format!("lockdrill-home-{}", std::process::id()));

    let env = PythonEnv::ensure_managed(&home, true).unwrap_or_else(|error| panic!("{error}"));
    let aws = env.aws_cli().unwrap();

    let imports = Command::new(env.python())
        .args([
            "-c",
            "import moto, moto.server, moto.organizations.utils; print(moto.__version__)",
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&imports.stdout).trim(), "5.2.5");
    let version = Command::new(&aws).arg("--version").output().unwrap();
    let version =
        String::from_utf8_lossy(&version.stdout) + String::from_utf8_lossy(&version.stderr);
    assert!(version.starts_with("aws-cli/1.46.2 "), "{version}");
    assert!(aws.starts_with(&home));

    std::fs::remove_dir_all(&home).unwrap();
}

/// Whether the process is gone or a zombie waiting for init: either way, no longer running.
fn has_ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn moto_dies_with_a_lockdrill_that_is_killed() {
    use std::io::{BufRead, BufReader};

    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "--nocapture",
            "holds_a_moto_lease_until_killed",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lines = BufReader::new(holder.stdout.take().unwrap()).lines();
    let pid: u32 = lines
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("moto pid ")
                .map(|pid| pid.parse().unwrap())
        })
        .expect("the holder reports its moto");
    assert!(!has_ended(pid));

    holder.kill().unwrap();
    holder.wait().unwrap();

    let deadline = Instant::now() + Duration::from_secs(5);
    while !has_ended(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        has_ended(pid),
        "moto (pid {pid}) outlived the lockdrill that was killed"
    );
}

/// The other half of `moto_dies_with_a_lockdrill_that_is_killed`, run as its own process.
#[tokio::test]
#[ignore = "run by moto_dies_with_a_lockdrill_that_is_killed"]
async fn holds_a_moto_lease_until_killed() {
    let moto = start_moto().await;
    println!("moto pid {}", moto.pid().unwrap());

    tokio::time::sleep(Duration::from_secs(60)).await;
    drop(moto);
}

/// Runs `container:moto` against a socket where no engine can be, in a child process so that
/// its `DOCKER_HOST` is its own.
#[cfg(feature = "containers")]
#[test]
fn a_container_without_an_engine_names_the_socket_and_the_moto_backend() {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "--nocapture",
            "starts_a_moto_container",
        ])
        .env("DOCKER_HOST", "unix:///nonexistent/lockdrill/docker.sock")
        .output()
        .unwrap();

    let stdout = String::from_utf8_lossy(&output.stdout);
    let message = stdout
        .lines()
        .find_map(|line| line.strip_prefix("error: "))
        .expect("an error");
    assert!(message.contains("no Docker engine answers"), "{message}");
    assert!(
        message.contains("`unix:///nonexistent/lockdrill/docker.sock`"),
        "{message}"
    );
    assert!(message.contains("`--emulator moto`"), "{message}");
}

/// The other half of `a_container_without_an_engine_names_the_socket_and_the_moto_backend`.
#[cfg(feature = "containers")]
#[tokio::test]
#[ignore = "run by a_container_without_an_engine_names_the_socket_and_the_moto_backend"]
async fn starts_a_moto_container() {
    let kind: EmulatorKind = "container:moto".parse().unwrap();

    match Emulator::start(&kind, &LeaseOptions::default()).await {
        Ok(moto) => println!("started at {}", moto.endpoint()),
        Err(error) => println!("error: {error}"),
    }
}
