//! How long an emulator takes from "start" to its first answered request, for the Moto
//! process backend and for `container:moto`, each started `LOCKDRILL_BENCH_RUNS` times
//! (default 5) one after the other.
//!
//! Two figures per start: *ready*, until [`Emulator::start`] returns (its readiness probe,
//! `GET /moto-api/`, was answered), and *first IAM call*, until an IAM `ListUsers` sent right
//! after that has been answered too. The container figures need a Docker API engine
//! (`DOCKER_HOST`) with the image `LOCKDRILL_MOTO_IMAGE` (default `motoserver/moto:5.2.5`);
//! without one they are skipped with a line saying so.
//!
//! ```sh
//! cargo bench --bench container_start
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use lockdrill::emulator::{
    DEFAULT_MOTO_IMAGE, Emulator, EmulatorKind, LeaseOptions, check_container_engine,
};

#[tokio::main]
async fn main() {
    let runs: usize = std::env::var("LOCKDRILL_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(5);
    let image = std::env::var("LOCKDRILL_MOTO_IMAGE")
        .ok()
        .filter(|image| !image.is_empty())
        .unwrap_or_else(|| DEFAULT_MOTO_IMAGE.into());

    measure("moto (process)", &EmulatorKind::Moto, runs).await;
    match check_container_engine().await {
        Ok(host) => {
            let label = format!("container:moto ({image}, {host})");
            measure(&label, &EmulatorKind::ContainerMoto { image }, runs).await;
        }
        Err(error) => println!("container:moto skipped: {error}"),
    }
}

async fn measure(label: &str, kind: &EmulatorKind, runs: usize) {
    // One start first, untimed: the process backend may install Moto on its first use.
    Emulator::start(kind, &LeaseOptions::default())
        .await
        .unwrap_or_else(|error| panic!("{label}: {error}"))
        .stop()
        .await;

    let mut ready = Vec::with_capacity(runs);
    let mut first_call = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        let emulator = Emulator::start(kind, &LeaseOptions::default())
            .await
            .unwrap_or_else(|error| panic!("{label}: {error}"));
        ready.push(started.elapsed());
        list_users(emulator.endpoint()).await;
        first_call.push(started.elapsed());
        emulator.stop().await;
    }

    println!("{label}, {runs} starts:");
    println!("  ready           {}", spread(&mut ready));
    println!("  first IAM call  {}", spread(&mut first_call));
}

/// IAM `ListUsers`, answered with HTTP 200 (Moto checks no signature with its auth off).
async fn list_users(endpoint: &str) {
    let scope = "AKIDLOCKDRILLBENCH/20250101/us-east-1/iam/aws4_request";
    let request = http::Request::post(format!("{endpoint}/"))
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=00"),
        )
        .header("x-amz-date", "20250101T000000Z")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(
            b"Action=ListUsers&Version=2010-05-08",
        )))
        .unwrap();

    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request).await.expect("the emulator answers");
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert!(status.is_success(), "ListUsers: HTTP {status}: {body:?}");
}

/// `min / median / max` in milliseconds.
fn spread(times: &mut [Duration]) -> String {
    times.sort();
    let ms = |time: Duration| time.as_secs_f64() * 1000.0;
    format!(
        "min {:.0} ms, median {:.0} ms, max {:.0} ms",
        ms(times[0]),
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1])
    )
}
