//! The `rampart` binary: command-line parsing, logging setup and signal handling. Each
//! subcommand lives in [`commands`]; business logic lives in the library crates.

mod commands;
mod logging;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// rampart: an AI API security gateway. Point your OpenAI SDK at it, change only the
/// base URL and the API key.
#[derive(Debug, Parser)]
#[command(name = "rampart", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// Configuration file (TOML).
        #[arg(long, short, env = "RAMPART_CONFIG")]
        config: PathBuf,
    },
    /// Run a self-contained demo: gateway, mock provider, demo key and sample traffic.
    Demo(commands::demo::DemoArgs),
    /// Manage virtual keys.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Read and verify the audit trail.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Bootstrap admin users and tokens.
    #[command(subcommand)]
    Admin(commands::admin::AdminCommand),
    /// Work with configuration files.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Scan text for prompt attacks, PII and secrets.
    Scan(commands::scan::ScanArgs),
    /// Evaluate the detectors on a labelled corpus.
    Eval(commands::eval::EvalArgs),
    /// Train the prompt-attack classifier on a labelled corpus and write its weights.
    Train(commands::train::TrainArgs),
    /// Run the built-in OpenAI-compatible mock provider (for load tests and local work).
    Mock {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:9090")]
        listen: std::net::SocketAddr,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Check a configuration file: print every error with its key path.
    Check {
        /// Configuration file (TOML).
        file: PathBuf,
    },
}

/// mimalloc instead of the system allocator: a request allocates and frees many small
/// buffers (JSON values, scanner views, headers), and glibc's malloc and free took 9% of
/// the gateway's CPU at 2,000 requests/s under the default policy (perf, bench/).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("rampart: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { config } => commands::serve::run(&config).await,
            Command::Demo(args) => commands::demo::run(args).await,
            Command::Keys(command) => commands::keys::run(command).await,
            Command::Admin(command) => commands::admin::run(command).await,
            Command::Audit(command) => commands::audit::run(command).await,
            Command::Config(ConfigCommand::Check { file }) => commands::config::check(&file),
            Command::Scan(args) => commands::scan::run(args),
            Command::Eval(args) => commands::eval::run(args),
            Command::Train(args) => commands::train::run(args),
            Command::Mock { listen } => commands::mock::run(listen).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("rampart: {error:#}");
            ExitCode::FAILURE
        }
    }
}
