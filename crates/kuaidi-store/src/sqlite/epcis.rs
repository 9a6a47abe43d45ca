//! EPCIS events and capture jobs in SQLite: events kept whole by hash, with their query fields and identifiers.

use chrono::{DateTime, Utc};
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, OptionalExtension};

use super::sql_error;
use crate::{CaptureJob, EpcisQuery, EpcisRecord, Outcome, StoreError, StoredEpcis};

fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub(super) fn capture(conn: &mut Connection, events: &[EpcisRecord]) -> Result<Vec<Outcome>, StoreError> {
    let tx = conn.transaction().map_err(|err| sql_error("starting an EPCIS capture transaction", err))?;
    let outcomes = capture_in(&tx, events.iter())?;
    tx.commit().map_err(|err| sql_error("committing an EPCIS capture", err))?;
    Ok(outcomes)
}

/// Keeps EPCIS events inside the caller's transaction, answering each in order.
pub(super) fn capture_in<'a>(
    tx: &Connection,
    events: impl Iterator<Item = &'a EpcisRecord>,
) -> Result<Vec<Outcome>, StoreError> {
    let record_ms = Utc::now().timestamp_millis();
    let mut outcomes = Vec::with_capacity(events.size_hint().0);
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT INTO epcis_events (hash, event_type, event_ms, record_ms, action, biz_step, disposition, \
                 read_point, biz_location, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                 ON CONFLICT (hash) DO NOTHING",
            )
            .map_err(|err| sql_error("preparing the EPCIS insert", err))?;
        let mut insert_epc = tx
            .prepare_cached("INSERT OR IGNORE INTO epcis_event_epcs (epc, seq) VALUES (?1, ?2)")
            .map_err(|err| sql_error("preparing the EPC insert", err))?;
        for event in events {
            let n_inserted = insert
                .execute(params![
                    event.hash,
                    event.event_type,
                    event.event_time.timestamp_millis(),
                    record_ms,
                    event.action,
                    event.biz_step,
                    event.disposition,
                    event.read_point,
                    event.biz_location,
                    event.body,
                ])
                .map_err(|err| sql_error("storing an EPCIS event", err))?;
            if n_inserted == 0 {
                outcomes.push(Outcome::Duplicate);
                continue;
            }
            let seq = tx.last_insert_rowid();
            for epc in &event.epcs {
                insert_epc.execute(params![epc, seq]).map_err(|err| sql_error("storing an event's EPC", err))?;
            }
            outcomes.push(Outcome::Accepted);
        }
    }
    Ok(outcomes)
}

pub(super) fn query(conn: &Connection, query: &EpcisQuery) -> Result<Vec<StoredEpcis>, StoreError> {
    let mut sql = String::from("SELECT e.seq, e.record_ms, e.body FROM epcis_events e WHERE e.seq > ?");
    let mut args: Vec<SqlValue> = vec![SqlValue::Integer(query.after_seq.unwrap_or(0))];
    if let Some(ge) = query.ge_event_time {
        sql.push_str(" AND e.event_ms >= ?");
        args.push(SqlValue::Integer(ge.timestamp_millis()));
    }
    if let Some(lt) = query.lt_event_time {
        sql.push_str(" AND e.event_ms < ?");
        args.push(SqlValue::Integer(lt.timestamp_millis()));
    }
    let columns = [
        ("e.event_type", &query.event_types),
        ("e.action", &query.actions),
        ("e.biz_step", &query.biz_steps),
        ("e.disposition", &query.dispositions),
        ("e.read_point", &query.read_points),
        ("e.biz_location", &query.biz_locations),
    ];
    for (column, values) in columns {
        if values.is_empty() {
            continue;
        }
        sql.push_str(&format!(" AND {column} IN ({})", vec!["?"; values.len()].join(", ")));
        args.extend(values.iter().cloned().map(SqlValue::Text));
    }
    if !query.epcs.is_empty() {
        sql.push_str(&format!(
            " AND e.seq IN (SELECT seq FROM epcis_event_epcs WHERE epc IN ({}))",
            vec!["?"; query.epcs.len()].join(", ")
        ));
        args.extend(query.epcs.iter().cloned().map(SqlValue::Text));
    }
    sql.push_str(" ORDER BY e.seq LIMIT ?");
    args.push(SqlValue::Integer(i64::try_from(query.limit).unwrap_or(i64::MAX)));
    let mut statement = conn.prepare(&sql).map_err(|err| sql_error("preparing an EPCIS query", err))?;
    let rows = statement
        .query_map(params_from_iter(args), |row| {
            Ok(StoredEpcis { seq: row.get(0)?, record_time: from_ms(row.get(1)?), body: row.get(2)? })
        })
        .map_err(|err| sql_error("querying EPCIS events", err))?;
    rows.collect::<Result<Vec<_>, _>>().map_err(|err| sql_error("reading EPCIS events", err))
}

pub(super) fn put_job(conn: &Connection, job: &CaptureJob) -> Result<(), StoreError> {
    conn.execute(
        "INSERT OR REPLACE INTO capture_jobs (id, created_ms, finished_ms, running, success, behaviour, n_events, errors) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            job.id,
            job.created_at.timestamp_millis(),
            job.finished_at.map(|t| t.timestamp_millis()),
            job.running,
            job.success,
            job.behaviour,
            i64::try_from(job.n_events).unwrap_or(i64::MAX),
            job.errors,
        ],
    )
    .map_err(|err| sql_error("storing a capture job", err))?;
    Ok(())
}

pub(super) fn job(conn: &Connection, id: &str) -> Result<Option<CaptureJob>, StoreError> {
    conn.query_row(
        "SELECT id, created_ms, finished_ms, running, success, behaviour, n_events, errors FROM capture_jobs WHERE id = ?1",
        [id],
        |row| {
            Ok(CaptureJob {
                id: row.get(0)?,
                created_at: from_ms(row.get(1)?),
                finished_at: row.get::<_, Option<i64>>(2)?.map(from_ms),
                running: row.get(3)?,
                success: row.get(4)?,
                behaviour: row.get(5)?,
                n_events: u64::try_from(row.get::<_, i64>(6)?).unwrap_or(0),
                errors: row.get(7)?,
            })
        },
    )
    .optional()
    .map_err(|err| sql_error("reading a capture job", err))
}
