//! The commands, one module each, dispatched through one enum.

mod alerts;
mod bench;
mod compliance;
mod demo;
mod export;
mod import;
mod keys;
mod migrate;
mod report;
mod serve;
mod simulate;
mod stream_clock;
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
    /// Export every event and waybill as Parquet, NDJSON or CSV files, personal data masked.
    Export(export::ExportArgs),
    /// Show a parcel's chain of custody, or what a vehicle or operator handled.
    Trace(trace::TraceArgs),
    /// Simulate Yangtze River Delta traffic into NDJSON files, with the ground truth of injected faults.
    Simulate(simulate::SimulateArgs),
    /// The main job: simulate a day of the delta, ingest it over HTTP, print a summary, and serve the API.
    Demo(demo::DemoArgs),
    /// The quality indicators against the delta plan's 2020 targets, marked met, not met or no data.
    Report(report::ReportArgs),
    /// List, scan for, acknowledge and resolve alerts.
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
    /// Coverage of the three safety systems (real-name, inspection, security scan) by a group.
    Compliance(compliance::ComplianceArgs),
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
        Command::Export(args) => export::run(args, config),
        Command::Trace(args) => trace::run(args, config),
        Command::Simulate(args) => simulate::run(args, config),
        Command::Demo(args) => demo::run(args, config),
        Command::Report(args) => report::run(args, config),
        Command::Alerts(command) => alerts::run(command, config),
        Command::Compliance(args) => compliance::run(args, config),
        Command::Bench(command) => bench::run(command, config),
    }
}
