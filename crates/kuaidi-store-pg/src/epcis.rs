//! EPCIS events and capture jobs: events kept whole by GS1 hash, with their query fields and identifiers.
//!
//! `seq` orders the EPCIS store for paging. A capture takes a table lock that only other captures wait for (readers
//! do not), so captures commit in the order of their `seq` values and a reader paging with `after_seq` never skips
//! an event that commits later with a smaller number.

use chrono::{DateTime, Utc};
use kuaidi_store::{CaptureJob, EpcisQuery, EpcisRecord, Outcome, StoreError, StoredEpcis};
use postgres::types::ToSql;
use postgres::{GenericClient, Transaction};

use crate::conn::{pg_error, Conn};

pub(crate) fn capture(conn: &mut Conn, events: &[EpcisRecord]) -> Result<Vec<Outcome>, StoreError> {
    let mut tx = conn.client.transaction().map_err(|err| pg_error("starting an EPCIS capture transaction", err))?;
    let outcomes = capture_in(&mut tx, events.iter())?;
    tx.commit().map_err(|err| pg_error("committing an EPCIS capture", err))?;
    Ok(outcomes)
}

/// Keeps EPCIS events inside the caller's transaction, answering each in order. The table lock is taken here, after
/// whatever row locks the transaction holds (an ingest's parcels), always in that order.
pub(crate) fn capture_in<'a>(
    tx: &mut Transaction<'_>,
    events: impl Iterator<Item = &'a EpcisRecord>,
) -> Result<Vec<Outcome>, StoreError> {
    tx.batch_execute("LOCK TABLE epcis_events IN SHARE ROW EXCLUSIVE MODE")
        .map_err(|err| pg_error("waiting for other EPCIS captures", err))?;
    let record_time = Utc::now();
    let insert = tx
        .prepare(
            "INSERT INTO epcis_events (hash, event_type, event_time, record_time, action, biz_step, disposition, \
             read_point, biz_location, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             ON CONFLICT (hash) DO NOTHING RETURNING seq",
        )
        .map_err(|err| pg_error("preparing the EPCIS insert", err))?;
    let mut outcomes = Vec::with_capacity(events.size_hint().0);
    for event in events {
        let row = tx
            .query_opt(
                &insert,
                &[
                    &event.hash,
                    &event.event_type,
                    &event.event_time,
                    &record_time,
                    &event.action,
                    &event.biz_step,
                    &event.disposition,
                    &event.read_point,
                    &event.biz_location,
                    &event.body,
                ],
            )
            .map_err(|err| pg_error("storing an EPCIS event", err))?;
        let Some(row) = row else {
            outcomes.push(Outcome::Duplicate);
            continue;
        };
        let seq: i64 = row.get(0);
        if !event.epcs.is_empty() {
            tx.execute(
                "INSERT INTO epcis_event_epcs (epc, seq) SELECT DISTINCT epc, $2::bigint FROM unnest($1::text[]) AS e (epc) \
                 ON CONFLICT DO NOTHING",
                &[&event.epcs, &seq],
            )
            .map_err(|err| pg_error("storing an event's EPCs", err))?;
        }
        outcomes.push(Outcome::Accepted);
    }
    Ok(outcomes)
}

pub(crate) fn query(conn: &mut Conn, query: &EpcisQuery) -> Result<Vec<StoredEpcis>, StoreError> {
    let after = query.after_seq.unwrap_or(0);
    let limit = i64::try_from(query.limit).unwrap_or(i64::MAX);
    let mut sql = String::from("SELECT e.seq, e.record_time, e.body FROM epcis_events e WHERE e.seq > $1");
    let mut args: Vec<&(dyn ToSql + Sync)> = vec![&after];
    if let Some(ge) = &query.ge_event_time {
        args.push(ge);
        sql.push_str(&format!(" AND e.event_time >= ${}", args.len()));
    }
    if let Some(lt) = &query.lt_event_time {
        args.push(lt);
        sql.push_str(&format!(" AND e.event_time < ${}", args.len()));
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
        args.push(values);
        sql.push_str(&format!(" AND {column} = ANY(${}::text[])", args.len()));
    }
    if !query.epcs.is_empty() {
        args.push(&query.epcs);
        sql.push_str(&format!(
            " AND e.seq IN (SELECT seq FROM epcis_event_epcs WHERE epc = ANY(${}::text[]))",
            args.len()
        ));
    }
    args.push(&limit);
    sql.push_str(&format!(" ORDER BY e.seq LIMIT ${}", args.len()));
    let rows = conn.client.query(&sql, &args).map_err(|err| pg_error("querying EPCIS events", err))?;
    Ok(rows.iter().map(|row| StoredEpcis { seq: row.get(0), record_time: row.get(1), body: row.get(2) }).collect())
}

pub(crate) fn put_job(conn: &mut Conn, job: &CaptureJob) -> Result<(), StoreError> {
    put_job_in(&mut conn.client, job)
}

/// Stores a capture job through any client or transaction.
pub(crate) fn put_job_in(client: &mut impl GenericClient, job: &CaptureJob) -> Result<(), StoreError> {
    let n_events = i64::try_from(job.n_events).unwrap_or(i64::MAX);
    client
        .execute(
            "INSERT INTO capture_jobs (id, created_at, finished_at, running, success, behaviour, n_events, errors) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, \
             finished_at = excluded.finished_at, running = excluded.running, success = excluded.success, \
             behaviour = excluded.behaviour, n_events = excluded.n_events, errors = excluded.errors",
            &[
                &job.id,
                &job.created_at,
                &job.finished_at,
                &job.running,
                &job.success,
                &job.behaviour,
                &n_events,
                &job.errors,
            ],
        )
        .map_err(|err| pg_error("storing a capture job", err))?;
    Ok(())
}

pub(crate) fn job(conn: &mut Conn, id: &str) -> Result<Option<CaptureJob>, StoreError> {
    let row = conn
        .client
        .query_opt(
            "SELECT id, created_at, finished_at, running, success, behaviour, n_events, errors FROM capture_jobs \
             WHERE id = $1",
            &[&id],
        )
        .map_err(|err| pg_error("reading a capture job", err))?;
    Ok(row.map(|row| CaptureJob {
        id: row.get(0),
        created_at: row.get(1),
        finished_at: row.get::<_, Option<DateTime<Utc>>>(2),
        running: row.get(3),
        success: row.get(4),
        behaviour: row.get(5),
        n_events: u64::try_from(row.get::<_, i64>(6)).unwrap_or(0),
        errors: row.get(7),
    }))
}
