//! `lockdrill serve` and `lockdrill env`: a world anyone can live through by hand.
//!
//! `serve` brings a world to life (emulator, provisioning, gateway), writes the endpoint and
//! every principal's credentials, and runs until Ctrl-C. `env` prints the `export` lines that
//! make the `aws` CLI, boto3 or Terraform act as one of those principals, with nothing of the
//! user's own AWS configuration in the way.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use super::{EXIT_BAD_INPUT, EXIT_EMULATOR};
use crate::emulator::{EmulatorError, EmulatorKind};
use crate::live::{CredentialsFile, LiveError, LiveWorld};
use crate::world::World;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// The world file (YAML).
    #[arg(long, value_name = "FILE")]
    world: PathBuf,

    #[command(flatten)]
    emulator: super::EmulatorArgs,

    /// Where the gateway listens; the port 0 picks a free one.
    #[arg(long, value_name = "ADDRESS", default_value = "127.0.0.1:0")]
    listen: SocketAddr,

    /// Where to write the endpoint and every principal's credentials (JSON, mode 0600).
    #[arg(long, value_name = "FILE")]
    credentials: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct EnvArgs {
    /// The credentials file written by `lockdrill serve`.
    #[arg(long, value_name = "FILE")]
    credentials: PathBuf,

    /// Who to act as: a principal ARN, a user name, or `root:ACCOUNT`.
    #[arg(long = "as", value_name = "PRINCIPAL")]
    principal: String,
}

pub fn run_serve(args: &ServeArgs) -> u8 {
    let world = match World::load(&args.world) {
        Ok(world) => world,
        Err(problems) => {
            eprintln!("{problems}");
            return EXIT_BAD_INPUT;
        }
    };
    let kind = match args.emulator.kind() {
        Ok(kind) => kind,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_BAD_INPUT;
        }
    };
    if !args.listen.ip().is_loopback() && !args.emulator.allow_remote_endpoint {
        eprintln!(
            "error: the gateway listens on loopback only, not `{}`",
            args.listen
        );
        eprintln!("  help: use --listen 127.0.0.1:PORT");
        return EXIT_BAD_INPUT;
    }

    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return EXIT_EMULATOR;
        }
    };
    runtime.block_on(serve(world, kind, args))
}

async fn serve(world: World, kind: EmulatorKind, args: &ServeArgs) -> u8 {
    let options = args.emulator.lease_options(true);
    let live = tokio::select! {
        live = LiveWorld::start(&world, &kind, &options, args.listen) => live,
        _ = super::stopped() => {
            // A container whose start was cut short has no lease to remove it.
            crate::emulator::remove_own_containers().await;
            eprintln!("interrupted before the world was ready");
            return EXIT_EMULATOR;
        }
    };
    let live = match live {
        Ok(live) => live,
        Err(error) => {
            eprintln!("error: {error}");
            // A URL lockdrill refuses to use is the user's input, not a failure to start.
            let is_refused_input = matches!(
                error,
                LiveError::Emulator(
                    EmulatorError::RemoteEndpoint { .. } | EmulatorError::BadUrl { .. }
                )
            );
            return if is_refused_input {
                EXIT_BAD_INPUT
            } else {
                EXIT_EMULATOR
            };
        }
    };

    let file = live.credentials_file();
    let written = match &args.credentials {
        Some(path) => write_credentials(path, &file).map(|()| path.display().to_string()),
        None => Ok(String::new()),
    };
    match written {
        Ok(path) if !path.is_empty() => eprintln!(
            "credentials of {} principals written to {path}",
            file.principals.len()
        ),
        Ok(_) => eprintln!("(pass --credentials FILE to save every principal's credentials)"),
        Err(error) => {
            eprintln!("error: {error}");
            live.stop().await;
            return EXIT_BAD_INPUT;
        }
    }
    for unavailable in &file.roots_unavailable {
        eprintln!(
            "root user of {} cannot sign in: {}",
            unavailable.account, unavailable.reason
        );
    }
    println!("{}", file.endpoint);
    eprintln!(
        "gateway ready at {} (emulator {}); Ctrl-C stops both",
        file.endpoint,
        live.emulator.endpoint()
    );

    super::stopped().await;
    eprintln!("stopping");
    live.stop().await;
    0
}

/// Writes the credentials file readable by its owner only.
fn write_credentials(path: &Path, file: &CredentialsFile) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;

    let text = serde_json::to_string_pretty(file).map_err(|error| error.to_string())?;
    let mut output = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|error| {
            format!(
                "cannot write the credentials file `{}`: {error}",
                path.display()
            )
        })?;
    output.write_all(text.as_bytes()).map_err(|error| {
        format!(
            "cannot write the credentials file `{}`: {error}",
            path.display()
        )
    })
}

pub fn run_env(args: &EnvArgs) -> u8 {
    let text = match std::fs::read_to_string(&args.credentials) {
        Ok(text) => text,
        Err(error) => {
            eprintln!(
                "error: cannot read `{}`: {error}",
                args.credentials.display()
            );
            eprintln!("  help: write it with `lockdrill serve --credentials FILE`");
            return EXIT_BAD_INPUT;
        }
    };
    let file: CredentialsFile = match serde_json::from_str(&text) {
        Ok(file) => file,
        Err(error) => {
            eprintln!(
                "error: {}:{}:{}: not a lockdrill credentials file: {error}",
                args.credentials.display(),
                error.line(),
                error.column()
            );
            return EXIT_BAD_INPUT;
        }
    };
    let keys = match file.find(&args.principal) {
        Ok(keys) => keys,
        Err(message) => {
            eprintln!("error: {message}");
            return EXIT_BAD_INPUT;
        }
    };

    println!("# act as {} through lockdrill's gateway", keys.principal);
    println!("unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN");
    println!("export AWS_ENDPOINT_URL={}", shell_quote(&file.endpoint));
    println!("export AWS_DEFAULT_REGION={}", shell_quote(&file.region));
    println!("export AWS_REGION={}", shell_quote(&file.region));
    println!("export AWS_CONFIG_FILE=/dev/null");
    println!("export AWS_SHARED_CREDENTIALS_FILE=/dev/null");
    println!(
        "export AWS_ACCESS_KEY_ID={}",
        shell_quote(&keys.access_key_id)
    );
    println!(
        "export AWS_SECRET_ACCESS_KEY={}",
        shell_quote(&keys.secret_access_key)
    );
    if let Some(token) = &keys.session_token {
        println!("export AWS_SESSION_TOKEN={}", shell_quote(token));
    }
    0
}

fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}
