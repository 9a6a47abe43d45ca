//! The commands, one module each, dispatched through one enum.

mod import;
mod keys;
mod serve;
mod trace;

use clap::Subcommand;

use crate::{CliError, Config};

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve(serve::ServeArgs),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Import an NDJSON or CSV file of records through the same pipeline as the API.
    Import(import::ImportArgs),
    /// Show a parcel's chain of custody, or what a vehicle or operator handled.
    Trace(trace::TraceArgs),
}

/// Runs a command.
pub fn run(command: Command, config: &Config) -> Result<(), CliError> {
    match command {
        Command::Serve(args) => serve::run(args, config),
        Command::Keys(command) => keys::run(command, config),
        Command::Import(args) => import::run(args, config),
        Command::Trace(args) => trace::run(args, config),
    }
}
