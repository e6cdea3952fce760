//! The drill catalogue, end to end: every feature under `features/` against the real emulator.
//!
//! A `harness = false` target: cucumber prints its own progress, and the last line is the plain
//! `N passed, N failed` that CI counts. The process fails if any drill failed or any step was
//! undefined.

use std::process::ExitCode;

use lockdrill::drill::{self, RunOptions};
use lockdrill::report;

fn main() -> ExitCode {
    let manifest = env!("CARGO_MANIFEST_DIR");
    if let Err(error) = std::env::set_current_dir(manifest) {
        eprintln!("cannot enter `{manifest}`: {error}");
        return ExitCode::FAILURE;
    }
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let options = RunOptions {
        paths: vec!["features".into()],
        ..RunOptions::default()
    };
    let run = match runtime.block_on(drill::run(&options)) {
        Ok(run) => run,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::FAILURE;
        }
    };

    for step in &run.undefined {
        eprintln!("undefined step: {step}");
    }
    print!("{}", report::console::summary(&run.report));

    // The catalogue's scenario with no way back must be proven unrecoverable, and say why.
    let unrecoverable = run.report.scenarios.iter().find(|scenario| {
        scenario.feature_path == "features/root_email_lost.feature"
            && scenario.name.starts_with("no break-glass path")
    });
    let proven = unrecoverable.is_some_and(|scenario| {
        matches!(&scenario.verdict, report::Verdict::Unrecoverable { reason }
            if reason.contains("nothing can recover IAM in account 123456789012")
                && reason.contains("email is not reachable"))
    });
    if !proven {
        eprintln!(
            "the root-email drill without break-glass was not proven unrecoverable: {unrecoverable:?}"
        );
        return ExitCode::FAILURE;
    }

    if run.exit_code() == 0 && !run.report.scenarios.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
