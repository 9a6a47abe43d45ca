//! The `kuaidi` command line: the only crate that reads config files and the environment, and owns exit codes.
//!
//! Exit codes: 0 success, 1 failure (with `error:` and `caused by:` lines on stderr), 2 usage error (clap).

#![allow(clippy::print_stdout)]

mod cmd;
mod config;
mod error;
mod flags;
mod output;
mod progress;

use std::process::ExitCode;

use clap::Parser;

pub use config::{Cli, Config};
pub use error::CliError;

/// Parses the arguments, runs the command, and reports errors the conventional way.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                eprintln!("caused by: {cause}");
                source = cause.source();
            }
            ExitCode::from(1)
        }
    }
}

/// Runs a parsed command line.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let config = Config::resolve(&cli.global)?;
    init_logging(&config);
    cmd::run(cli.command, &config)
}

fn init_logging(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Logs go to stderr so stdout stays clean for data (`--format json`, `keys create`).
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr()) && std::env::var_os("NO_COLOR").is_none();
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).try_init();
}
