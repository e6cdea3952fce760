//! How long the drill catalogue takes, and how much of that is lockdrill's own work.
//!
//! Run with `cargo bench --bench catalogue` (release build). It runs every feature under
//! `features/` on the Moto process backend, several times in one process, and prints for each
//! run: the wall time, each scenario's time, and the CPU time spent in lockdrill's own process
//! (the runner, the gateway, the policy engine, the SDK calls that build each world), apart
//! from the CPU time of the processes it waits for (Moto, the `aws` CLI, bash). The first run
//! is the cold one: nothing of lockdrill's is cached yet in the process.
//!
//! CPU times come from `/proc/self/stat` (utime and stime for lockdrill, cutime and cstime for
//! its children), in clock ticks of 10 ms.

use std::time::{Duration, Instant};

use lockdrill::drill::{self, RunOptions};

/// Runs of the catalogue; `LOCKDRILL_BENCH_RUNS` changes it.
const DEFAULT_RUNS: usize = 3;

/// CPU seconds of this process and of the children it has waited for.
#[derive(Clone, Copy)]
struct CpuTimes {
    own: f64,
    children: f64,
}

fn cpu_times() -> CpuTimes {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The command name may hold spaces; the fields after it are counted from its `)`.
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0.0))
        .collect();
    let tick = 100.0;
    let field = |index: usize| fields.get(index).copied().unwrap_or(0.0) / tick;
    // After `)`: state is field 0, so utime is 11, stime 12, cutime 13, cstime 14.
    CpuTimes {
        own: field(11) + field(12),
        children: field(13) + field(14),
    }
}

fn main() {
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("the crate's directory");
    let runs = std::env::var("LOCKDRILL_BENCH_RUNS")
        .ok()
        .and_then(|runs| runs.parse().ok())
        .unwrap_or(DEFAULT_RUNS);
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");

    let mut summaries = Vec::new();
    for run in 1..=runs {
        let before = cpu_times();
        let started = Instant::now();
        let options = RunOptions {
            paths: vec!["features".into()],
            ..RunOptions::default()
        };
        let result = runtime
            .block_on(drill::run(&options))
            .expect("the catalogue runs");
        let wall = started.elapsed();
        let after = cpu_times();

        let scenarios = result.report.scenarios.len().max(1);
        let own = after.own - before.own;
        let children = after.children - before.children;
        let slowest = result
            .report
            .scenarios
            .iter()
            .map(|scenario| (scenario.duration(), scenario.location()))
            .max()
            .unwrap_or_default();
        summaries.push(format!(
            "run {run}{}: {} ({}), wall {:.2} s; per scenario: mean {:.2} s, slowest {:.2} s \
             ({}); lockdrill's own CPU {:.0} ms in all, {:.1} ms a scenario; children's CPU \
             {:.1} s",
            if run == 1 { " (cold)" } else { "" },
            result.report.totals_line(),
            result.report.scenarios.len(),
            wall.as_secs_f64(),
            mean(result.report.scenarios.iter().map(|s| s.duration())).as_secs_f64(),
            slowest.0.as_secs_f64(),
            slowest.1,
            own * 1000.0,
            own * 1000.0 / scenarios as f64,
            children,
        ));
    }

    println!();
    for summary in summaries {
        println!("{summary}");
    }
}

fn mean(durations: impl Iterator<Item = Duration>) -> Duration {
    let all: Vec<Duration> = durations.collect();
    if all.is_empty() {
        return Duration::ZERO;
    }
    all.iter().sum::<Duration>() / u32::try_from(all.len()).unwrap_or(u32::MAX)
}
