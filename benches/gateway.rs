//! What the enforcing gateway adds to each call: the same mix of IAM calls sent straight to
//! Moto and through the gateway, in one run, with the median and p99 latency of each.
//!
//! Run with `cargo bench --bench gateway`. It starts its own Moto process and gateway on
//! loopback, sends a bounded number of calls, and stops both.

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use lockdrill::emulator::{EmulatorKind, LeaseOptions};
use lockdrill::live::LiveWorld;
use lockdrill::provision::emulator_keys;
use lockdrill::sdk::{Clients, Keys};
use lockdrill::world::World;

/// Rounds of the mix per path; each round is five calls, so 3,000 calls a path: enough for a
/// p99 that does not move by a millisecond from run to run.
const ROUNDS: usize = 600;

#[tokio::main]
async fn main() {
    // `LOCKDRILL_LOG=info` shows the gateway's own log line per call, with its time upstream.
    if let Ok(filter) = tracing_subscriber::EnvFilter::try_from_env("LOCKDRILL_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }

    let world_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/admin-restored.yaml");
    let world = World::load(&world_path).unwrap_or_else(|problems| panic!("{problems}"));
    let listen: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let live = LiveWorld::start(
        &world,
        &EmulatorKind::Moto,
        &LeaseOptions::default(),
        listen,
    )
    .await
    .unwrap_or_else(|error| panic!("{error}"));

    let file = live.credentials_file();
    let alice = file.find("alice").unwrap();
    let alice = Keys {
        access_key_id: alice.access_key_id.clone(),
        secret_access_key: alice.secret_access_key.clone(),
        session_token: None,
    };
    let direct = Clients::new(
        live.emulator.endpoint(),
        &emulator_keys(),
        Some("123456789012"),
    );
    let gateway = Clients::new(&file.endpoint, &alice, None);

    // Warm both paths (connection set-up, Moto's first-call costs).
    run_mix(&direct, 10).await;
    run_mix(&gateway, 10).await;

    // Interleave the two paths so that drift in Moto affects both alike.
    let mut straight = Vec::new();
    let mut through = Vec::new();
    for _ in 0..ROUNDS / 10 {
        straight.extend(run_mix(&direct, 10).await);
        through.extend(run_mix(&gateway, 10).await);
    }

    let (direct_median, direct_p99) = summary(&mut straight);
    let (gateway_median, gateway_p99) = summary(&mut through);
    println!("calls per path: {}", straight.len());
    println!(
        "straight to Moto : median {:>7.3} ms  p99 {:>7.3} ms",
        ms(direct_median),
        ms(direct_p99)
    );
    println!(
        "through gateway  : median {:>7.3} ms  p99 {:>7.3} ms",
        ms(gateway_median),
        ms(gateway_p99)
    );
    println!(
        "added            : median {:>+7.3} ms ({:+.1}%)  p99 {:>+7.3} ms",
        ms(gateway_median) - ms(direct_median),
        (ms(gateway_median) / ms(direct_median) - 1.0) * 100.0,
        ms(gateway_p99) - ms(direct_p99)
    );

    live.stop().await;
}

/// One round: five read calls of the kinds a drill makes, each timed.
async fn run_mix(clients: &Clients, rounds: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(rounds * 5);
    for _ in 0..rounds {
        let started = Instant::now();
        clients.iam.list_users().send().await.expect("ListUsers");
        latencies.push(started.elapsed());

        let started = Instant::now();
        clients
            .iam
            .get_user()
            .user_name("bob")
            .send()
            .await
            .expect("GetUser");
        latencies.push(started.elapsed());

        let started = Instant::now();
        clients
            .iam
            .list_attached_user_policies()
            .user_name("alice")
            .send()
            .await
            .expect("ListAttachedUserPolicies");
        latencies.push(started.elapsed());

        let started = Instant::now();
        clients
            .iam
            .get_role()
            .role_name("MyRole")
            .send()
            .await
            .expect("GetRole");
        latencies.push(started.elapsed());

        let started = Instant::now();
        clients
            .iam
            .list_groups_for_user()
            .user_name("bob")
            .send()
            .await
            .expect("ListGroupsForUser");
        latencies.push(started.elapsed());
    }
    latencies
}

fn summary(latencies: &mut [Duration]) -> (Duration, Duration) {
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    let p99 = latencies[(latencies.len() * 99 / 100).min(latencies.len() - 1)];
    (median, p99)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}
