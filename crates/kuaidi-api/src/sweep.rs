//! The scheduled sweep: every `ApiConfig::sweep_interval`, `Store::sweep` re-derives the open parcels whose stuck
//! or lost moment has passed, as of the state's clock, so such alerts are raised even when no record arrives.
//!
//! A sweep runs on a blocking thread. Its report is logged at info; a failure is logged and the next tick tries
//! again, since a busy database must never stop the server.

use std::time::Duration;

use kuaidi_store::SweepReport;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::error::ApiError;
use crate::AppState;

/// One sweep as of the state's clock, on a blocking thread.
pub async fn sweep_once(state: &AppState) -> Result<SweepReport, ApiError> {
    let now = state.now();
    let store = state.store().clone();
    Ok(tokio::task::spawn_blocking(move || store.sweep(now)).await??)
}

/// Sweeps every `interval`, the first time one interval from now, until `stop` turns `true` or its sender is
/// dropped. A zero interval is taken as one second, since `tokio::time::interval` refuses zero.
pub async fn run(state: AppState, interval: Duration, mut stop: watch::Receiver<bool>) {
    let period = interval.max(Duration::from_secs(1));
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    // After a slow sweep, wait a whole period again rather than sweeping back to back.
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            changed = stop.changed() => {
                if changed.is_err() || *stop.borrow() {
                    break;
                }
            }
            _ = ticks.tick() => {
                match sweep_once(&state).await {
                    Ok(report) => tracing::info!(
                        examined = report.examined,
                        changed = report.changed,
                        new_alerts = report.new_alerts,
                        "sweep done"
                    ),
                    Err(err) => tracing::error!(error = %err, cause = ?err, "sweep failed; retrying at the next tick"),
                }
            }
        }
    }
}
