//! The command line: argument parsing, logging set-up, and exit codes.
//!
//! Exit codes are part of the interface, so that scripts and CI can tell outcomes apart:
//! [`EXIT_ALLOWED`], [`EXIT_DENIED`], [`EXIT_BAD_INPUT`], and with `--check`
//! [`EXIT_EXPECTED`] and [`EXIT_UNEXPECTED`].

mod eval;
mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::emulator::{EmulatorKind, LeaseOptions};

/// Every request asked was allowed.
pub const EXIT_ALLOWED: u8 = 0;
/// At least one request was denied.
pub const EXIT_DENIED: u8 = 1;
/// A world, policy or request could not be read; the message says where and why.
pub const EXIT_BAD_INPUT: u8 = 2;
/// The emulator or the gateway could not be started.
pub const EXIT_EMULATOR: u8 = 3;
/// With `--check`: every expectation was met.
pub const EXIT_EXPECTED: u8 = 0;
/// With `--check`: at least one decision differed from its expectation.
pub const EXIT_UNEXPECTED: u8 = 1;

#[derive(Debug, Parser)]
#[command(
    name = "lockdrill",
    version,
    about = "Rehearse recovery from AWS IAM admin lockouts"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Decide requests against a world the way AWS would, and explain the decision.
    Eval(EvalArgs),
    /// Build a world in an emulator behind the enforcing gateway, and run until Ctrl-C.
    Serve(serve::ServeArgs),
    /// Print the `export` lines that act as one principal of a served world.
    Env(serve::EnvArgs),
    /// Run drills: feature files that build a lockout, prove it, recover, and prove access.
    Run(RunArgs),
    /// List the steps drills are written with.
    Steps(StepsArgs),
}

#[derive(Debug, clap::Args)]
pub struct StepsArgs {
    /// Print the README's Markdown table instead of plain text.
    #[arg(long)]
    markdown: bool,
}

#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// The world file (YAML).
    #[arg(long, value_name = "FILE")]
    world: PathBuf,

    /// Who acts: a user, role session, federated user or root ARN.
    #[arg(
        long,
        value_name = "ARN",
        required_unless_present = "requests",
        conflicts_with = "requests"
    )]
    principal: Option<String>,

    /// The action, as `service:Action`.
    #[arg(
        long,
        value_name = "ACTION",
        required_unless_present = "requests",
        conflicts_with = "requests"
    )]
    action: Option<String>,

    /// The resource ARN, or `*`.
    #[arg(
        long,
        value_name = "ARN",
        required_unless_present = "requests",
        conflicts_with = "requests"
    )]
    resource: Option<String>,

    /// The account that owns the resource, for ARNs without one (S3).
    #[arg(long, value_name = "ID", conflicts_with = "requests")]
    resource_account: Option<String>,

    /// A request-context value; repeat a key for a multi-valued key.
    #[arg(long, value_name = "KEY=VALUE", conflicts_with = "requests")]
    context: Vec<String>,

    /// A session policy (JSON file) passed when the session was made.
    #[arg(long, value_name = "FILE", conflicts_with = "requests")]
    session_policy: Option<PathBuf>,

    /// Many requests, one JSON object a line (`-` for standard input).
    #[arg(long, value_name = "FILE")]
    requests: Option<PathBuf>,

    /// With `--requests`: judge each line against its `expect` field; the exit code then says
    /// whether every expectation was met.
    #[arg(long, requires = "requests")]
    check: bool,

    /// Output format (default: text for one request, JSON lines for `--requests`).
    #[arg(long, value_enum)]
    format: Option<Format>,
}

/// Which emulator a world lives in; shared by `serve` and `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct EmulatorArgs {
    /// The emulator: `moto` (a local Moto process), `container:moto`, `container:localstack`,
    /// or the URL of one you run.
    #[arg(long, value_name = "EMULATOR", default_value = "moto")]
    emulator: String,

    /// The container image for `container:moto` or `container:localstack`.
    #[arg(long, value_name = "IMAGE")]
    image: Option<String>,

    /// Allow an emulator URL that is not on loopback. lockdrill never talks to real AWS
    /// unless told to.
    #[arg(long)]
    allow_remote_endpoint: bool,
}

impl EmulatorArgs {
    /// The emulator asked for, with `--image` applied; an error the user can act on otherwise.
    fn kind(&self) -> Result<EmulatorKind, String> {
        let kind: EmulatorKind = self.emulator.parse().map_err(|error| format!("{error}"))?;
        match (kind, &self.image) {
            (kind, None) => Ok(kind),
            (EmulatorKind::ContainerMoto { .. }, Some(image)) => Ok(EmulatorKind::ContainerMoto {
                image: image.clone(),
            }),
            (EmulatorKind::ContainerLocalStack { .. }, Some(image)) => {
                Ok(EmulatorKind::ContainerLocalStack {
                    image: image.clone(),
                })
            }
            (kind, Some(_)) => Err(format!(
                "--image applies to container:moto and container:localstack, not to `{kind}`"
            )),
        }
    }

    fn lease_options(&self, show_progress: bool) -> LeaseOptions {
        LeaseOptions {
            allow_remote: self.allow_remote_endpoint,
            show_progress,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Feature files, or directories of them.
    #[arg(value_name = "PATHS", default_value = "features")]
    paths: Vec<PathBuf>,

    /// Run only the scenarios matching a tag expression, e.g. `@scp and not @slow`.
    #[arg(long, value_name = "EXPR")]
    tags: Option<String>,

    /// Run only the scenarios whose name matches this regular expression.
    #[arg(long, value_name = "REGEX")]
    name: Option<String>,

    /// How many scenarios run at once, each with its own emulator (default: the number of
    /// cores, at least 2).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: Option<u16>,

    #[command(flatten)]
    emulator: EmulatorArgs,

    /// Write the evidence (Markdown, HTML, JUnit XML, JSON) into this directory.
    #[arg(long, value_name = "DIR")]
    report_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    Text,
    Json,
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Eval(args) => eval::run(&args),
        Command::Serve(args) => serve::run_serve(&args),
        Command::Env(args) => serve::run_env(&args),
        Command::Run(args) => run_drills(&args),
        Command::Steps(args) => {
            if args.markdown {
                print!("{}", crate::drill::vocabulary::markdown());
            } else {
                print!("{}", crate::drill::vocabulary::text());
            }
            0
        }
    };
    ExitCode::from(code)
}

/// `lockdrill run`: the drills, the evidence files, and the summary whose last line CI counts.
fn run_drills(args: &RunArgs) -> u8 {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return EXIT_EMULATOR;
        }
    };
    let emulator = match args.emulator.kind() {
        Ok(kind) => kind,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_BAD_INPUT;
        }
    };
    let options = crate::drill::RunOptions {
        paths: args.paths.clone(),
        tags: args.tags.clone(),
        name: args.name.clone(),
        concurrency: args.concurrency.map(usize::from),
        emulator,
        lease: args.emulator.lease_options(false),
    };
    // Ctrl-C or SIGTERM drops the drills; each world's emulator goes with it.
    let finished = runtime.block_on(async {
        tokio::select! {
            run = crate::drill::run(&options) => Ok(run),
            signal = stopped() => Err(signal),
        }
    });
    let run = match finished {
        Ok(Ok(run)) => run,
        Ok(Err(message)) => {
            eprintln!("error: {message}");
            return EXIT_BAD_INPUT;
        }
        Err(signal) => {
            // A container whose start was cut short has no lease to remove it.
            runtime.block_on(crate::emulator::remove_own_containers());
            eprintln!(
                "interrupted by {}: the drills and their emulators were stopped",
                signal.name
            );
            return signal.exit_code;
        }
    };

    if let Some(dir) = &args.report_dir
        && let Err(error) = crate::report::write_all(&run.report, dir)
    {
        eprintln!(
            "error: cannot write the reports into `{}`: {error}",
            dir.display()
        );
        return EXIT_BAD_INPUT;
    }
    print!("{}", crate::report::console::summary(&run.report));
    if run.report.scenarios.is_empty() {
        eprintln!(
            "error: no scenario ran: nothing under the given paths matches the --tags and \
             --name filters"
        );
    }
    run.exit_code()
}

/// A signal that stops lockdrill, and the exit code a shell gives a process it ended.
struct Stop {
    name: &'static str,
    exit_code: u8,
}

/// Waits for Ctrl-C (SIGINT), or for SIGTERM (`docker stop`, `kill`).
async fn stopped() -> Stop {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => Stop { name: "SIGINT", exit_code: 130 },
        _ = terminate => Stop { name: "SIGTERM", exit_code: 143 },
    }
}

/// Operator logs go to stderr, filtered by `LOCKDRILL_LOG` (default: warnings only).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("LOCKDRILL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .without_time()
        .init();
}
