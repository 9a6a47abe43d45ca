//! `kuaidi serve`: the HTTP API on the configured store (embedded, or PostgreSQL with `--database`), until Ctrl-C
//! or SIGTERM. Any number of servers may share one PostgreSQL database; they keep no state of their own.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use clap::Args;
use kuaidi_api::AppState;
use kuaidi_store::Store;

use crate::{CliError, Config};

/// Arguments of `serve` (the address is the global `--listen`).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Replay recorded traffic: judge each ingested chunk (stuck, lost, time limits) at the latest time among its
    /// records, never later than this RFC 3339 time, instead of at the wall clock; the scheduled sweep follows the
    /// same clock. For backfills and benchmarks that send a past day at full speed.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub replay_until: Option<DateTime<Utc>>,
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|err| format!("`{text}` is not an RFC 3339 time such as 2026-11-21T00:00:00+08:00: {err}"))
}

pub fn run(args: ServeArgs, config: &Config) -> Result<(), CliError> {
    let state = match args.replay_until {
        None => config.app_state()?,
        Some(until) => {
            let store: Arc<dyn Store> =
                Arc::new(crate::cmd::stream_clock::StreamClock::new(config.open_store()?, until));
            AppState::new(store, config.api.clone(), Arc::new(chrono::Utc::now))?
        }
    };
    runtime()?.block_on(async {
        let listener = bind(config).await?;
        serve_until_signal(listener, state).await
    })
}

/// A multi-threaded runtime for the server.
pub fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_keep_alive(BLOCKING_KEEP_ALIVE)
        .build()
        .map_err(CliError::Serve)
}

/// How long an idle thread of the blocking pool (where ingest requests run their store transactions) waits for work
/// before it exits. Tokio's default of 10 s let threads exit between bulk requests, and a thread that exits hands its
/// allocator's pages back, which took 2.9 % of the request threads' samples in a profile of the demo
/// (`docs/BENCHMARKS.md`). An idle thread costs only its stack.
const BLOCKING_KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(600);

/// Binds the configured address, naming the flag to change when it is taken.
pub async fn bind(config: &Config) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(config.listen).await.map_err(|err| {
        CliError::Config(format!(
            "cannot listen on `{}`: {err}\nHint: choose another address with `--listen` or `KUAIDI_LISTEN`.",
            config.listen
        ))
    })
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests in flight.
pub async fn serve_until_signal(listener: tokio::net::TcpListener, state: AppState) -> Result<(), CliError> {
    let addr = listener.local_addr().map_err(CliError::Serve)?;
    tracing::info!(%addr, "serving the Kuaidi API; the OpenAPI document is at /v1/openapi.json");
    kuaidi_api::serve(listener, state, shutdown_signal()).await.map_err(CliError::Serve)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
