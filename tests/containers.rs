//! The drill catalogue through `--emulator container:moto`, end to end with the built
//! `lockdrill` binary, and proof that no container outlives a run: a passing one, a failing
//! one, and one interrupted with SIGINT. (The same catalogue runs on the Moto process backend
//! in `tests/drills.rs`.) A panic that unwinds through a lease removes its container too.
//!
//! They need a Docker API engine (`DOCKER_HOST`, or `/var/run/docker.sock`) that has the image
//! `LOCKDRILL_MOTO_IMAGE` (default `motoserver/moto:5.2.5`). Without one each test prints one
//! line saying so and passes, unless `LOCKDRILL_CONTAINER_TESTS=require` (set by `.ci/run`,
//! which starts podman and builds the image), when it fails. The tests run one at a time: each
//! starts several containers, and the cleanup proofs time their signals.
#![cfg(feature = "containers")]

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use lockdrill::emulator::{
    DEFAULT_MOTO_IMAGE, Emulator, EmulatorKind, LeaseOptions, PythonEnv, check_container_engine,
    labelled_containers, lockdrill_home,
};

/// One container test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// The image to run and the lock that keeps the tests apart, or `None` (with one line on the
/// console) when no engine answers and containers are not required.
fn engine() -> Option<(String, MutexGuard<'static, ()>)> {
    let required = std::env::var("LOCKDRILL_CONTAINER_TESTS").is_ok_and(|value| value == "require");
    let answered = runtime().block_on(check_container_engine());

    if let Err(error) = answered {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|host| !host.is_empty())
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
        if required {
            panic!("LOCKDRILL_CONTAINER_TESTS=require, but {error}");
        }
        // Straight to stderr, in one write: libtest would swallow eprintln! in a passing test.
        let line = format!(
            "skipped: no Docker API engine at {host} (set DOCKER_HOST, or run .ci/run which \
             starts podman)\n"
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
        return None;
    }

    let image = std::env::var("LOCKDRILL_MOTO_IMAGE")
        .ok()
        .filter(|image| !image.is_empty())
        .unwrap_or_else(|| DEFAULT_MOTO_IMAGE.into());
    let serial = SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    Some((image, serial))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime")
}

/// `lockdrill run ARGS --emulator container:moto --image IMAGE`, from the repository root,
/// with an empty HOME and no AWS settings, but the engine's address and lockdrill's Python
/// environment (for the `aws` CLI the runbooks use).
fn lockdrill_run(image: &str, args: &[&str], home: &Path) -> Command {
    static AWS_CLI: std::sync::Once = std::sync::Once::new();
    AWS_CLI.call_once(|| {
        let env = PythonEnv::ensure(true).unwrap_or_else(|error| panic!("{error}"));
        env.aws_cli().unwrap_or_else(|error| panic!("{error}"));
    });
    std::fs::create_dir_all(home).expect("a temporary HOME");

    let mut command = Command::new(env!("CARGO_BIN_EXE_lockdrill"));
    command
        .arg("run")
        .args(args)
        .args(["--emulator", "container:moto", "--image", image])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env(
            "LOCKDRILL_HOME",
            lockdrill_home().expect("a lockdrill home"),
        )
        .stdin(Stdio::null());
    for name in ["DOCKER_HOST", "CONTAINERS_CONF"] {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    command
}

/// A fresh directory under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "lockdrill-containers-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    dir
}

/// The containers that the lockdrill process `pid` left, as the engine lists them.
fn left_by(pid: u32) -> Vec<String> {
    let listed = runtime()
        .block_on(labelled_containers())
        .unwrap_or_else(|error| panic!("cannot list containers: {error}"));
    listed
        .into_iter()
        .filter(|container| container.pid == Some(pid))
        .map(|container| format!("{} ({})", container.id, container.state.unwrap_or_default()))
        .collect()
}

/// The name of the first scenario of a feature file of the catalogue.
fn first_scenario(feature: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("features")
        .join(feature);
    let text = std::fs::read_to_string(&path).expect("the feature file");
    text.lines()
        .find_map(|line| line.trim().strip_prefix("Scenario:"))
        .unwrap_or_else(|| panic!("no scenario in {}", path.display()))
        .trim()
        .to_string()
}

fn text(output: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// `N passed, N failed`, the last such line of the console summary.
fn counts(stdout: &str) -> Option<(usize, usize)> {
    stdout.lines().rev().find_map(|line| {
        let (passed, failed) = line.trim().split_once(" passed, ")?;
        let failed = failed.strip_suffix(" failed")?;
        Some((passed.parse().ok()?, failed.parse().ok()?))
    })
}

#[test]
fn the_catalogue_recovers_through_container_moto() {
    let Some((image, _serial)) = engine() else {
        return;
    };
    let reports = scratch("reports");
    let home = scratch("home-catalogue");

    let started = Instant::now();
    let report_dir = reports.to_str().expect("a UTF-8 temporary directory");
    let child = lockdrill_run(&image, &["features", "--report-dir", report_dir], &home)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lockdrill runs");
    let pid = child.id();
    let output = child.wait_with_output().expect("lockdrill finishes");
    let (stdout, stderr) = text(&output);
    eprintln!(
        "the catalogue through container:moto ({image}) took {:.1} s",
        started.elapsed().as_secs_f64()
    );

    assert_eq!(output.status.code(), Some(0), "{stdout}\n{stderr}");
    let (passed, failed) = counts(&stdout).unwrap_or_else(|| panic!("no summary line:\n{stdout}"));
    assert!(
        passed >= 2 && failed == 0,
        "{passed} passed, {failed} failed:\n{stdout}"
    );
    for feature in ["admin_detached.feature", "scp_lockout.feature"] {
        let scenario = first_scenario(feature);
        assert!(
            stdout
                .lines()
                .any(|line| line.contains("RECOVERED") && line.contains(&scenario)),
            "`{scenario}` ({feature}) did not recover:\n{stdout}"
        );
    }
    let evidence = std::fs::read_to_string(reports.join("evidence.json")).expect("evidence.json");
    assert!(
        evidence.contains("container:moto"),
        "the evidence names another emulator"
    );
    assert_eq!(
        left_by(pid),
        Vec::<String>::new(),
        "containers left after a passing run"
    );
}

#[test]
fn a_failing_drill_leaves_no_container() {
    let Some((image, _serial)) = engine() else {
        return;
    };
    let dir = scratch("failing");
    let feature = dir.join("wrong_expectation.feature");
    std::fs::write(
        &feature,
        "Feature: a drill whose expectation is wrong\n\n\
         \x20 Scenario: alice is expected to keep admin rights she lost\n\
         \x20   Given the world \"scenarios/admin-detached.yaml\"\n\
         \x20   Then alice can perform iam:AttachUserPolicy on \"bob\"\n",
    )
    .unwrap();

    let child = lockdrill_run(&image, &[feature.to_str().unwrap()], &dir.join("home"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lockdrill runs");
    let pid = child.id();
    let output = child.wait_with_output().expect("lockdrill finishes");
    let (stdout, stderr) = text(&output);

    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_eq!(counts(&stdout), Some((0, 1)), "{stdout}");
    assert_eq!(
        left_by(pid),
        Vec::<String>::new(),
        "containers left after a failing run"
    );
}

#[test]
fn an_interrupted_run_leaves_no_container() {
    let Some((image, _serial)) = engine() else {
        return;
    };
    let home = scratch("home-interrupted");
    let mut child = lockdrill_run(&image, &["features", "--concurrency", "1"], &home)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lockdrill runs");
    let pid = child.id();

    // Mid-drill: a container of this run is up, and the drill has had a moment in it.
    let deadline = Instant::now() + Duration::from_secs(120);
    while left_by(pid).is_empty() {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("lockdrill never started a container");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(1500));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the interrupt"
    );

    let interrupted = Instant::now();
    let sent = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "SIGINT was not sent");
    let status = wait_at_most(&mut child, Duration::from_secs(60));
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut pipe, &mut stderr);
    }
    eprintln!(
        "lockdrill ended {:.1} s after SIGINT ({status})",
        interrupted.elapsed().as_secs_f64()
    );

    assert_eq!(
        status.code(),
        Some(130),
        "an interrupted run ends as SIGINT would: {stderr}"
    );
    assert_eq!(
        left_by(pid),
        Vec::<String>::new(),
        "containers left after SIGINT:\n{stderr}"
    );
}

#[test]
fn a_panic_unwinding_through_the_lease_removes_the_container() {
    let Some((image, _serial)) = engine() else {
        return;
    };
    let kind = EmulatorKind::ContainerMoto { image };
    let pid = std::process::id();

    let unwound = std::panic::catch_unwind(|| {
        runtime().block_on(async {
            let emulator = Emulator::start(&kind, &LeaseOptions::default())
                .await
                .unwrap_or_else(|error| panic!("{error}"));
            let ours = labelled_containers().await.unwrap();
            assert_eq!(ours.iter().filter(|c| c.pid == Some(pid)).count(), 1);
            panic!(
                "a step panics while its drill holds {}",
                emulator.endpoint()
            );
        })
    });

    assert!(unwound.is_err());
    assert_eq!(
        left_by(pid),
        Vec::<String>::new(),
        "containers left after a panic"
    );
}

fn wait_at_most(child: &mut Child, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().expect("the child can be waited for") {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "lockdrill did not exit within {} s of SIGINT",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
