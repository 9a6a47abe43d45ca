//! The commands, one module each, dispatched through one enum.

mod bench;
mod demo;
mod import;
mod keys;
mod migrate;
mod serve;
mod simulate;
mod trace;

use clap::Subcommand;

use crate::{CliError, Config};

/// Every command.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API.
    Serve(serve::ServeArgs),
    /// Create or upgrade the schema of the PostgreSQL database (`--database`); the embedded store migrates itself.
    Migrate(migrate::MigrateArgs),
    /// Create, list and revoke API keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// Import an NDJSON or CSV file of records through the same pipeline as the API.
    Import(import::ImportArgs),
    /// Show a parcel's chain of custody, or what a vehicle or operator handled.
    Trace(trace::TraceArgs),
    /// Simulate Yangtze River Delta traffic into NDJSON files, with the ground truth of injected faults.
    Simulate(simulate::SimulateArgs),
    /// The main job: simulate a day of the delta, ingest it over HTTP, print a summary, and serve the API.
    Demo(demo::DemoArgs),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Runs a command.
pub fn run(command: Command, config: &Config) -> Result<(), CliError> {
    match command {
        Command::Serve(args) => serve::run(args, config),
        Command::Migrate(args) => migrate::run(args, config),
        Command::Keys(command) => keys::run(command, config),
        Command::Import(args) => import::run(args, config),
        Command::Trace(args) => trace::run(args, config),
        Command::Simulate(args) => simulate::run(args, config),
        Command::Demo(args) => demo::run(args, config),
        Command::Bench(command) => bench::run(command, config),
    }
}
