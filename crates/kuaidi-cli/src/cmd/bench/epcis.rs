//! `kuaidi bench epcis`: EPCIS 2.0 capture throughput next to native NDJSON ingest of the same scan events.
//!
//! One simulated day is turned into the same events twice: native NDJSON bodies for `POST /v1/ingest`, and EPCIS
//! capture documents (`kuaidi_formats::epcis::scan_events_to_document`) for `POST /v1/epcis/capture` in its default
//! all-or-nothing mode. Each runs against its own fresh server child on the embedded store, after the same
//! reference data (carriers, facilities) was loaded untimed, sending one body at a time on one connection. Building
//! the bodies is not timed: they are what a carrier would send. The target is EPCIS at least half the native rate.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use clap::Args;
use kuaidi_formats::epcis::scan_events_to_document;
use kuaidi_formats::{decode_record, encode_event, wire};
use kuaidi_model::{Record, ScanEvent};
use serde::Serialize;

use super::start_server;
use crate::cmd::simulate::{generate, simulation, SimArgs};
use crate::{output, CliError, Config};

/// Arguments of `bench epcis`.
#[derive(Debug, Args)]
pub struct EpcisArgs {
    /// Parcels to simulate (about 8.5 events each).
    #[arg(long, default_value_t = 20_000)]
    parcels: u64,
    /// Events per request, in both modes.
    #[arg(long, default_value_t = 5_000)]
    request_events: usize,
    #[command(flatten)]
    sim: SimArgs,
}

/// One mode's run.
#[derive(Debug, Serialize)]
struct ModeReport {
    mode: &'static str,
    events_sent: u64,
    events_stored: u64,
    request_bytes: u64,
    seconds: f64,
    events_per_second: f64,
}

#[derive(Debug, Serialize)]
struct EpcisBenchReport {
    native: ModeReport,
    epcis: ModeReport,
    /// EPCIS events/s over native events/s; the target is at least 0.5.
    epcis_to_native: f64,
    durability: &'static str,
}

pub fn run(args: EpcisArgs, config: &Config) -> Result<(), CliError> {
    let temp = tempfile::Builder::new()
        .prefix("kuaidi-bench-epcis-")
        .tempdir()
        .map_err(|err| CliError::io("create", "a temporary directory", err))?;
    let dir = temp.path();
    let sim = simulation(&args.sim, args.parcels, 1, None)?;
    eprintln!("simulating {} parcels into {}", args.parcels, dir.display());
    let (_, input) = generate(&sim, &dir.join("input"), true, false)?;
    let (reference, events) = split(&input)?;
    eprintln!("{} reference records, {} events", reference.len(), events.len());

    let chunk = args.request_events.max(1);
    let mut reference_body = reference.join("\n").into_bytes();
    reference_body.push(b'\n');
    let native_bodies: Vec<Vec<u8>> = events
        .chunks(chunk)
        .map(|events| {
            let mut body = Vec::new();
            for event in events {
                let _ = serde_json::to_writer(&mut body, &wire::Record::Event(encode_event(event)));
                body.push(b'\n');
            }
            body
        })
        .collect();
    let epcis_bodies: Vec<Vec<u8>> = events
        .chunks(chunk)
        .map(|events| scan_events_to_document(events, "2026-11-11T00:00:00Z").to_string().into_bytes())
        .collect();

    // Both servers judge the replayed day at its own clock, as a live hub would have (see `serve --replay-until`).
    let until = sim.config().now;
    let native =
        run_mode(config, until, &dir.join("native"), "native NDJSON", &reference_body, &native_bodies, &events)?;
    let epcis = run_mode(config, until, &dir.join("epcis"), "EPCIS capture", &reference_body, &epcis_bodies, &events)?;
    let report = EpcisBenchReport {
        epcis_to_native: epcis.events_per_second / native.events_per_second.max(1e-9),
        native,
        epcis,
        durability: match config.synchronous {
            kuaidi_store::Synchronous::Normal => "normal (survives kill -9)",
            kuaidi_store::Synchronous::Full => "full (survives power loss)",
        },
    };
    let row = |m: &ModeReport| {
        vec![
            m.mode.to_owned(),
            m.events_sent.to_string(),
            m.events_stored.to_string(),
            format!("{:.1}", m.request_bytes as f64 / 1e6),
            format!("{:.2}", m.seconds),
            format!("{:.0}", m.events_per_second),
        ]
    };
    let mut rows = vec![row(&report.native), row(&report.epcis)];
    rows.push(vec![
        "EPCIS / native".to_owned(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        format!("{:.2}", report.epcis_to_native),
    ]);
    output::print(
        config.format,
        &report,
        &["MODE", "EVENTS SENT", "EVENTS STORED", "MB SENT", "SECONDS", "EVENTS/S"],
        rows,
    );
    Ok(())
}

/// The reference records (as their NDJSON lines) and the scan events of a simulated records file.
fn split(path: &Path) -> Result<(Vec<String>, Vec<ScanEvent>), CliError> {
    let file = std::fs::File::open(path).map_err(|err| CliError::io("open", path, err))?;
    let mut reference = Vec::new();
    let mut events = Vec::new();
    for line in BufReader::with_capacity(1 << 20, file).lines() {
        let line = line.map_err(|err| CliError::io("read", path, err))?;
        match decode_record(&line) {
            Ok(Record::Event(event)) => events.push(*event),
            Ok(Record::Carrier(_) | Record::Facility(_)) => reference.push(line),
            Ok(_) => {}
            Err(err) => {
                return Err(CliError::Input(format!("`{}`: a simulated line does not decode: {err}", path.display())))
            }
        }
    }
    Ok((reference, events))
}

fn run_mode(
    config: &Config,
    until: chrono::DateTime<chrono::Utc>,
    dir: &Path,
    mode: &'static str,
    reference: &[u8],
    bodies: &[Vec<u8>],
    events: &[ScanEvent],
) -> Result<ModeReport, CliError> {
    let data_dir = dir.join("data");
    let mut server_config = config.clone();
    server_config.data_dir = data_dir.clone();
    let key = crate::cmd::keys::create(&server_config, "admin", None, &[], "bench")?;
    let server = start_server(&data_dir, config.synchronous, None, Some(until), None)?;
    let base = format!("http://{}", server.addr);
    let agent: ureq::Agent =
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(3600))).build().into();
    let post = |path: &str, content_type: &str, body: &[u8]| -> Result<serde_json::Value, CliError> {
        let url = format!("{base}{path}");
        let text = agent
            .post(&url)
            .header("Authorization", &format!("Bearer {key}"))
            .header("Content-Type", content_type)
            .send(body)
            .and_then(|mut response| response.body_mut().with_config().limit(1 << 30).read_to_string())
            .map_err(|err| CliError::Api(format!("POST {url} failed: {err}")))?;
        serde_json::from_str(&text).map_err(|err| CliError::Api(format!("POST {url} answered no JSON: {err}")))
    };
    let answer = post("/v1/ingest", "application/x-ndjson", reference)?;
    if answer["summary"]["rejected"].as_u64() != Some(0) {
        return Err(CliError::Api(format!("the reference data was rejected: {answer}")));
    }

    let started = Instant::now();
    for body in bodies {
        if mode == "native NDJSON" {
            let answer = post("/v1/ingest", "application/x-ndjson", body)?;
            if answer["summary"]["rejected"].as_u64() != Some(0) {
                return Err(CliError::Api(format!("native ingest rejected events: {}", answer["items"])));
            }
        } else {
            let answer = post("/v1/epcis/capture", "application/json", body)?;
            if answer["success"] != serde_json::Value::Bool(true) {
                return Err(CliError::Api(format!("EPCIS capture failed: {}", answer["errors"])));
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    server.stop()?;
    let counts = kuaidi_store::Store::counts(&*server_config.open_store()?)?;
    Ok(ModeReport {
        mode,
        events_sent: events.len() as u64,
        events_stored: counts.events,
        request_bytes: bodies.iter().map(|b| b.len() as u64).sum(),
        seconds,
        events_per_second: events.len() as f64 / seconds.max(1e-9),
    })
}
