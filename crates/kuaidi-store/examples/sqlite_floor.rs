//! What the embedded store's `events` table and its indexes cost alone: the floor under `kuaidi bench ingest`.
//!
//! Simulates a day of the delta's traffic (the same simulator, seed and geography as `kuaidi bench ingest`), keeps
//! its scan events, and stores them into a fresh store with ingest's own statement, one transaction per chunk of
//! records in arrival order, each chunk's events in key order as ingest stores them. Nothing else happens: no HTTP,
//! no decoding, no waybill, no derived state. Prints each chunk's rate on stderr and a JSON summary on stdout.
//!
//! ```sh
//! cargo run --release -p kuaidi-store --example sqlite_floor -- [PARCELS] [CHUNK]
//! ```
//!
//! `PARCELS` defaults to 1,250,000 (about 10.3 million events) and `CHUNK` to 500,000 records (the bulk loads'
//! transaction). Each chunk's events also write their reverse-trace postings (`handled`, migration 0010), as ingest
//! does. Earlier versions of this example also timed the reverse-trace indexes of schema versions 6 and 7 and a
//! postings experiment (`docs/BENCHMARKS.md`, sessions 10 and 19); the schema no longer has those indexes. Needs
//! `../shared/data` beside the repository; says so and exits 2 without it.

use std::io::Write;
use std::time::Instant;

use chrono::{DateTime, Utc};
use kuaidi_model::{Record, ScanEvent};
use kuaidi_sim::{SimConfig, Simulation};
use kuaidi_store::{PiiKey, SqliteConfig, SqliteStore};

fn main() {
    if let Err(err) = run() {
        eprintln!("error: {err}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let parcels: u64 = args.next().map_or(Ok(1_250_000), |arg| arg.parse())?;
    let chunk: usize = args.next().map_or(Ok(500_000), |arg| arg.parse())?;
    if chunk == 0 {
        return Err("CHUNK must be above 0".into());
    }
    let Some(geography) = kuaidi_sim::testing::shared_geography() else {
        return Err(format!("the shared geography is missing: {}", kuaidi_sim::testing::GEO_PATH).into());
    };

    // The day `kuaidi bench ingest` simulates: the day before today (+08:00), seed 20161111.
    let today = Utc::now().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).ok_or("offset")?).date_naive();
    let start = DateTime::parse_from_rfc3339(&format!("{}T00:00:00+08:00", today.pred_opt().ok_or("date")?))?;
    let simulation = Simulation::new(&geography, SimConfig::new(start, 1, parcels, 20_161_111))?;
    let mut records = Vec::new();
    simulation.run(|record| records.push(record), |_| {});
    let n_records = records.len();

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("kuaidi.db");
    let key = PiiKey::generate();
    let store = SqliteStore::open(SqliteConfig::new(&path, key))?;

    let started = Instant::now();
    let (mut n_events, mut n_stored) = (0usize, 0usize);
    for part in records.chunks(chunk) {
        let begun = Instant::now();
        let mut events: Vec<&ScanEvent> = part
            .iter()
            .filter_map(|record| match record {
                Record::Event(event) => Some(&**event),
                _ => None,
            })
            .collect();
        // Ingest's storage order: parcel by parcel in key order, each parcel's records in arrival order.
        events.sort_by(|a, b| (&a.waybill_no, &a.carrier).cmp(&(&b.waybill_no, &b.carrier)));
        n_stored += store.put_events_only(&events)?;
        n_events += events.len();
        let secs = begun.elapsed().as_secs_f64();
        eprintln!(
            "{n_stored:>11} events stored: this chunk {:>9.0} events/s, overall {:>9.0} events/s",
            events.len() as f64 / secs,
            n_events as f64 / started.elapsed().as_secs_f64(),
        );
    }
    let secs = started.elapsed().as_secs_f64();
    drop(store);
    let file_bytes = std::fs::metadata(&path)?.len();
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::json!({
            "parcels": parcels, "records": n_records, "chunk": chunk,
            "events": n_events, "events_stored": n_stored, "seconds": secs,
            "events_per_second": n_events as f64 / secs, "database_bytes": file_bytes,
        })
    )?;
    Ok(())
}
