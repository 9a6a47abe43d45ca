//! The benchmark's ceiling: a plain binary `COPY` of events into a table with no index, no key and no partitions,
//! the fastest PostgreSQL can take the same rows. `kuaidi bench ingest --database` prints it beside the real ingest.

use std::time::{Duration, Instant};

use chrono::Utc;
use kuaidi_model::ScanEvent;
use kuaidi_store::StoreError;
use postgres::binary_copy::BinaryCopyInWriter;

use crate::conn::{pg_error, Pool};
use crate::ingest::{write_event_row, EVENT_COPY_TYPES};

/// Copies `events` into a fresh unindexed table `kuaidi_bench_ceiling` (dropped afterwards) in one binary `COPY`,
/// and returns how long the copy took, from its start to its commit.
pub fn copy_ceiling(url: &str, events: &[ScanEvent]) -> Result<Duration, StoreError> {
    let pool = Pool::new(url, 1, Duration::ZERO)?;
    let mut conn = pool.connect_once()?;
    let client = &mut conn.client;
    client
        .batch_execute(
            "DROP TABLE IF EXISTS kuaidi_bench_ceiling;
             CREATE TABLE kuaidi_bench_ceiling (LIKE events INCLUDING DEFAULTS);",
        )
        .map_err(|err| pg_error("creating the ceiling table", err))?;
    let received = Utc::now();
    let started = Instant::now();
    let mut tx = client.transaction().map_err(|err| pg_error("starting the ceiling copy", err))?;
    let sink = tx
        .copy_in(
            "COPY kuaidi_bench_ceiling (waybill_no, carrier, event_id, time, kind, offset_s, facility, operator, \
             vehicle, next_facility, exception_code, signer, received_at) FROM STDIN (FORMAT binary)",
        )
        .map_err(|err| pg_error("starting the ceiling copy", err))?;
    let mut writer = BinaryCopyInWriter::new(sink, &EVENT_COPY_TYPES);
    for event in events {
        write_event_row(&mut writer, event, &received).map_err(|err| pg_error("copying the ceiling rows", err))?;
    }
    writer.finish().map_err(|err| pg_error("copying the ceiling rows", err))?;
    tx.commit().map_err(|err| pg_error("committing the ceiling copy", err))?;
    let elapsed = started.elapsed();
    client
        .batch_execute("DROP TABLE kuaidi_bench_ceiling")
        .map_err(|err| pg_error("dropping the ceiling table", err))?;
    Ok(elapsed)
}
