//! `kuaidi demo`: the main job. Simulates a day of Yangtze River Delta traffic, ingests it over HTTP through the same
//! path carriers use, runs the alert scan at the simulation's clock, prints a summary, the quality indicators
//! against the 2020 targets (by carrier and in total) and the alerts by kind, then serves the API with a demo key
//! (or stops, with `--no-serve`).
//!
//! The ingest is judged on the simulated stream's clock ([`crate::cmd::stream_clock`]) by a server on a private loopback port;
//! the API is then served on the configured address with the plain store and the system clock, so records posted
//! while it serves are judged live.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use kuaidi_api::ingest::Summary;
use kuaidi_api::AppState;
use kuaidi_rules::{Dimension, Filter};
use kuaidi_store::Store;
use serde::Serialize;

use crate::cmd::alerts;
use crate::cmd::bench::{send_file, Line};
use crate::cmd::report::{self, FilterView, ReportView};
use crate::cmd::serve::{bind, runtime};
use crate::cmd::simulate::{generate, simulation, SimArgs};
use crate::{output, progress, CliError, Config};

/// Arguments of `demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Parcels accepted over the simulated day.
    #[arg(long, default_value_t = 1_000_000)]
    parcels: u64,
    /// Stop after the summary instead of serving the API.
    #[arg(long)]
    no_serve: bool,
    #[command(flatten)]
    sim: SimArgs,
}

#[derive(Serialize)]
struct DemoReport {
    data_dir: String,
    parcels: u64,
    records_sent: u64,
    events_sent: u64,
    faulty_parcels: u64,
    ingest: Summary,
    waybills_stored: u64,
    events_stored: u64,
    carriers: u64,
    facilities: u64,
    simulate_seconds: f64,
    ingest_seconds: f64,
    events_per_second: f64,
    /// The simulation's clock, at which the alert scan ran.
    sim_now: String,
    sweep: SweepView,
    /// The indicators against the 2020 targets, in total and by carrier.
    indicators: ReportView,
    /// Every alert in the store, by kind.
    alerts_by_kind: BTreeMap<String, u64>,
    /// Alerts raised on a gap in the stream (a late scan) and cleared when the late record arrived.
    alerts_cleared: u64,
    /// Time in the store's write transactions and the part spent keeping derived state, when the store measures it.
    #[serde(skip_serializing_if = "Option::is_none")]
    upkeep: Option<UpkeepView>,
}

/// What keeping derived state cost during the ingest.
#[derive(Debug, Serialize)]
struct UpkeepView {
    /// The writer's time in write transactions.
    store_seconds: f64,
    /// The part of `store_seconds` spent on derived state, and its share.
    derived_seconds: f64,
    derived_share: f64,
    /// Deriving parcels on a thread beside the writer (not in `store_seconds`; wall time, waits for a core included).
    deriving_seconds: f64,
    /// Writing parcel states on the flush thread, beside the writer (not in `store_seconds`).
    flush_seconds: f64,
}

#[derive(Serialize)]
struct SweepView {
    examined: u64,
    changed: u64,
    new_alerts: u64,
    seconds: f64,
}

pub fn run(args: DemoArgs, config: &Config) -> Result<(), CliError> {
    let temp;
    let mut config = config.clone();
    if !config.data_dir_chosen {
        temp = tempfile::Builder::new()
            .prefix("kuaidi-demo-")
            .tempdir()
            .map_err(|err| CliError::io("create", "a temporary directory", err))?;
        config.data_dir = temp.path().join("data");
    }
    eprintln!(
        "kuaidi demo: {} parcels across the Yangtze River Delta, data in {}",
        args.parcels,
        config.data_dir.display()
    );

    let sim = simulation(&args.sim, args.parcels, 1, None)?;
    let clock = Instant::now();
    let (stats, records) = generate(&sim, &config.data_dir.join("input"), true, false)?;
    let simulate_seconds = clock.elapsed().as_secs_f64();
    eprintln!("simulated {} waybills and {} events in {simulate_seconds:.1} s", stats.waybills, stats.events);

    // A bulk load: larger transactions share more index pages between inserts (see docs/BENCHMARKS.md).
    config.api.ingest_chunk = config.api.ingest_chunk.max(crate::cmd::bench::BULK_CHUNK);
    let key = crate::cmd::keys::create(&config, "admin", None, &[], "demo")?;
    let store = config.open_store()?;
    let sim_now = sim.config().now;
    let stream_store: Arc<dyn Store> = Arc::new(crate::cmd::stream_clock::StreamClock::new(store.clone(), sim_now));
    let ingest_state = AppState::new(stream_store, config.api.clone(), Arc::new(chrono::Utc::now))?;
    let rt = runtime()?;
    // The serving address is bound before the long ingest, so a taken port is reported at once.
    let listener = if args.no_serve { None } else { Some(rt.block_on(bind(&config))?) };
    let ingest_listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).map_err(CliError::Serve)?;
    let ingest_addr = ingest_listener.local_addr().map_err(CliError::Serve)?;
    let (stop_ingest, ingest_stopped) = tokio::sync::oneshot::channel::<()>();
    let ingest_server = rt.spawn(kuaidi_api::serve(ingest_listener, ingest_state, async {
        let _ = ingest_stopped.await;
    }));

    let bar = progress::items(stats.waybills + stats.events + 1_000, "ingesting");
    let base = format!("http://{ingest_addr}");
    let mut first_waybill: Option<String> = None;
    // One request is one store transaction.
    let sent = send_file(&base, &key, &records, config.api.ingest_chunk, 2, &bar, |kind, line| {
        if kind == Line::Waybill && first_waybill.is_none() {
            first_waybill = Some(String::from_utf8_lossy(line).into_owned());
        }
    })?;
    bar.finish_and_clear();
    let _ = stop_ingest.send(());
    rt.block_on(ingest_server).map_err(|err| CliError::Api(err.to_string()))?.map_err(CliError::Serve)?;

    let (sweep, sweep_seconds) = alerts::scan(&*store, sim_now)?;
    let indicators = report::build(
        &*store,
        &Filter::default(),
        FilterView::default(),
        &[Dimension::Carrier],
        &config.time_limits(),
    )?;
    let (alerts_by_kind, alerts_cleared) = alerts::count_by_kind(&*store)?;
    let alerts_by_kind: BTreeMap<String, u64> = alerts_by_kind.into_iter().collect();

    let counts = store.counts()?;
    let report = DemoReport {
        data_dir: config.data_dir.display().to_string(),
        parcels: stats.parcels,
        records_sent: sent.lines,
        events_sent: sent.events,
        faulty_parcels: stats.truth_entries,
        ingest: sent.summary,
        waybills_stored: counts.waybills,
        events_stored: counts.events,
        carriers: counts.carriers,
        facilities: counts.facilities,
        simulate_seconds,
        ingest_seconds: sent.seconds,
        events_per_second: sent.events as f64 / sent.seconds.max(1e-9),
        sim_now: crate::flags::china_time(sim_now),
        sweep: SweepView {
            examined: sweep.examined,
            changed: sweep.changed,
            new_alerts: sweep.new_alerts,
            seconds: sweep_seconds,
        },
        indicators,
        alerts_by_kind,
        alerts_cleared,
        upkeep: store.upkeep_timing().map(|timing| UpkeepView {
            store_seconds: timing.store.as_secs_f64(),
            derived_seconds: timing.upkeep.as_secs_f64(),
            derived_share: timing.upkeep.as_secs_f64() / timing.store.as_secs_f64().max(1e-9),
            deriving_seconds: timing.deriving.as_secs_f64(),
            flush_seconds: timing.beside.as_secs_f64(),
        }),
    };
    let rows = vec![
        vec!["carriers / facilities".into(), format!("{} / {}", report.carriers, report.facilities)],
        vec!["parcels simulated".into(), report.parcels.to_string()],
        vec!["parcels with injected faults".into(), report.faulty_parcels.to_string()],
        vec!["records sent over HTTP".into(), report.records_sent.to_string()],
        vec![
            "accepted / duplicate / updated / rejected".into(),
            format!(
                "{} / {} / {} / {}",
                report.ingest.accepted, report.ingest.duplicate, report.ingest.updated, report.ingest.rejected
            ),
        ],
        vec!["waybills stored".into(), report.waybills_stored.to_string()],
        vec!["events stored".into(), report.events_stored.to_string()],
        vec![
            "ingest time".into(),
            format!("{:.1} s ({:.0} events/s)", report.ingest_seconds, report.events_per_second),
        ],
        vec![
            "store time, of it derived-state upkeep; beside it, deriving and writing states".into(),
            report.upkeep.as_ref().map_or_else(
                || "not measured by this store".to_owned(),
                |upkeep| {
                    format!(
                        "{:.1} s, {:.1} s ({:.0} %); {:.1} s and {:.1} s",
                        upkeep.store_seconds,
                        upkeep.derived_seconds,
                        upkeep.derived_share * 100.0,
                        upkeep.deriving_seconds,
                        upkeep.flush_seconds
                    )
                },
            ),
        ],
        vec![
            format!("alert scan at {}", report.sim_now),
            format!(
                "{} parcels examined, {} changed, {} new alerts",
                report.sweep.examined, report.sweep.changed, report.sweep.new_alerts
            ),
        ],
    ];
    output::print(config.format, &report, &["DEMO", "VALUE"], rows);
    if config.format == crate::config::Format::Table {
        println!();
        report::print_tables(&report.indicators);
        println!();
        let mut alert_rows =
            report.alerts_by_kind.iter().map(|(kind, n)| vec![kind.clone(), n.to_string()]).collect::<Vec<_>>();
        alert_rows.push(vec!["(cleared by late records)".into(), report.alerts_cleared.to_string()]);
        output::print_table(&["ALERT KIND", "STANDING ALERTS"], &alert_rows);
    }

    let Some(listener) = listener else {
        return Ok(());
    };
    let addr = listener.local_addr().map_err(CliError::Serve)?;
    let state = AppState::new(store, config.api.clone(), Arc::new(chrono::Utc::now))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(kuaidi_api::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let sample = first_waybill
        .and_then(|line| serde_json::from_str::<serde_json::Value>(&line).ok())
        .map(|w| {
            let no = w["waybill_no"].as_str().unwrap_or_default().to_owned();
            let phone = w["receiver"]["phone"].as_str().unwrap_or_default().to_owned();
            (no, phone[phone.len().saturating_sub(4)..].to_owned())
        })
        .unwrap_or_default();
    eprintln!();
    eprintln!("Kuaidi is serving on http://{addr}  (Ctrl-C stops it)");
    eprintln!("demo API key (admin): {key}");
    eprintln!("  curl -H 'Authorization: Bearer {key}' http://{addr}/v1/waybills/{}", sample.0);
    eprintln!("  curl 'http://{addr}/v1/track/{}?phone_last4={}'", sample.0, sample.1);
    eprintln!("  the API is described at http://{addr}/v1/openapi.json");
    rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    let _ = stop.send(());
    rt.block_on(server).map_err(|err| CliError::Api(err.to_string()))?.map_err(CliError::Serve)?;
    Ok(())
}
