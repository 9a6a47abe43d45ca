//! What the embedded store's `events` table and its indexes cost alone: the floor under `kuaidi bench ingest`.
//!
//! Simulates a day of the delta's traffic (the same simulator, seed and geography as `kuaidi bench ingest`), keeps
//! its scan events, and stores them into a fresh store with ingest's own statement, one transaction per chunk of
//! records in arrival order, each chunk's events in key order as ingest stores them. Nothing else happens: no HTTP,
//! no decoding, no waybill, no derived state. Prints each chunk's rate on stderr and a JSON summary on stdout.
//!
//! ```sh
//! cargo run --release -p kuaidi-store --example sqlite_floor -- [PARCELS] [CHUNK] [INDEXES]
//! ```
//!
//! `PARCELS` defaults to 1,250,000 (about 10.3 million events), `CHUNK` to 500,000 records (the bulk loads'
//! transaction), and `INDEXES` to `current`; `by-handler` puts back the reverse-trace indexes as schema version 6
//! had them, `(operator, time_ms)` and `(vehicle, time_ms)`, for comparison, and then also times the open that
//! migrates the result to version 7 (`migration_0007_seconds`). `key-only` keeps only the idempotency key
//! `events_by_key`, without the two reverse-trace indexes, to show what they cost. `postings` is an experiment, not a
//! schema kuaidi has: instead of the two reverse-trace indexes, each chunk writes one row per hour and handler it
//! touched, `handled (hour, kind, handler, first_seq) → seqs`, the handler's events' row numbers as varint deltas (as
//! if they were the rows just written; a second connection writes them after the chunk's own transaction). Needs
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
    let indexes = args.next().unwrap_or_else(|| "current".to_owned());
    if !["current", "by-handler", "key-only", "postings"].contains(&indexes.as_str()) || chunk == 0 {
        return Err(format!(
            "INDEXES must be `current`, `by-handler`, `key-only` or `postings` (got `{indexes}`), CHUNK above 0"
        )
        .into());
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
    // Opened once to create the schema, so that `by-handler` can change it before the store that is timed opens.
    drop(SqliteStore::open(SqliteConfig::new(&path, key.clone()))?);
    let dropped = match indexes.as_str() {
        "by-handler" => kuaidi_store::testing::VERSION_6_HANDLER_INDEXES,
        "key-only" => "DROP INDEX events_by_operator; DROP INDEX events_by_vehicle;",
        "postings" => {
            "DROP INDEX events_by_operator; DROP INDEX events_by_vehicle;
             CREATE TABLE handled (hour INTEGER NOT NULL, kind INTEGER NOT NULL, handler TEXT NOT NULL,
                 first_seq INTEGER NOT NULL, seqs BLOB NOT NULL, PRIMARY KEY (hour, kind, handler, first_seq))
                 WITHOUT ROWID;"
        }
        _ => "",
    };
    rusqlite::Connection::open(&path)?.execute_batch(dropped)?;
    let store = SqliteStore::open(SqliteConfig::new(&path, key.clone()))?;
    let mut postings = (indexes == "postings").then(|| rusqlite::Connection::open(&path)).transpose()?;
    let mut next_seq = 1_i64;

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
        if let Some(conn) = &mut postings {
            next_seq = write_postings(conn, &events, next_seq)?;
        }
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
    // With the old indexes, also time the open that migrates such a store to version 7 (migration 0007).
    let migration_seconds = if indexes == "by-handler" {
        rusqlite::Connection::open(&path)?.pragma_update(None, "user_version", 6)?;
        let begun = Instant::now();
        drop(SqliteStore::open(SqliteConfig::new(&path, key))?);
        Some(begun.elapsed().as_secs_f64())
    } else {
        None
    };
    writeln!(
        std::io::stdout().lock(),
        "{}",
        serde_json::json!({
            "indexes": indexes, "parcels": parcels, "records": n_records, "chunk": chunk,
            "events": n_events, "events_stored": n_stored, "seconds": secs,
            "events_per_second": n_events as f64 / secs, "database_bytes": file_bytes,
            "migration_0007_seconds": migration_seconds,
        })
    )?;
    Ok(())
}

/// The `postings` experiment's write: one row per (hour, operator or vehicle) the chunk's events name, holding their
/// row numbers (counted from `first_seq`, in the order stored) as LEB128 varint deltas. Returns the next row number.
fn write_postings(conn: &mut rusqlite::Connection, events: &[&ScanEvent], first_seq: i64) -> rusqlite::Result<i64> {
    let mut lists: std::collections::HashMap<(i64, u8, &str), Vec<i64>> = std::collections::HashMap::new();
    let mut seq = first_seq;
    for event in events {
        let hour = event.time.timestamp_millis() / 3_600_000;
        for (kind, handler) in [(0_u8, &event.operator), (1, &event.vehicle)] {
            if let Some(handler) = handler {
                lists.entry((hour, kind, handler.as_str())).or_default().push(seq);
            }
        }
        seq += 1;
    }
    let mut keys: Vec<_> = lists.keys().copied().collect();
    keys.sort_unstable();
    let tx = conn.transaction()?;
    {
        let mut stmt = tx
            .prepare_cached("INSERT INTO handled (hour, kind, handler, first_seq, seqs) VALUES (?1, ?2, ?3, ?4, ?5)")?;
        let mut bytes = Vec::new();
        for key in keys {
            let seqs = &lists[&key];
            bytes.clear();
            let mut last = seqs[0];
            for &seq in &seqs[1..] {
                let mut delta = (seq - last) as u64;
                last = seq;
                loop {
                    let byte = (delta & 0x7f) as u8;
                    delta >>= 7;
                    if delta == 0 {
                        bytes.push(byte);
                        break;
                    }
                    bytes.push(byte | 0x80);
                }
            }
            stmt.execute(rusqlite::params![key.0, key.1, key.2, seqs[0], bytes])?;
        }
    }
    tx.commit()?;
    Ok(seq)
}
