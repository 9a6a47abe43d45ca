//! Bulk ingest: one transaction per batch, staged with binary `COPY`, answered per record.
//!
//! The order inside the transaction is what makes it correct when several servers ingest at once:
//! 1. carriers and facilities (reference data) are upserted row by row (there are few);
//! 2. one `parcels` row per parcel the batch touches is inserted or updated **in key order**, which takes the parcel's
//!    row lock; two servers writing the same parcel therefore take turns, and cannot deadlock, since both lock in the
//!    same order;
//! 3. waybills and events are copied into session-local staging tables (binary `COPY`);
//! 4. the stored events with the same keys are found within the parcel's time range (the primary key holds the
//!    partition column `time`, so the key alone is not unique in the database: a re-send with a changed time would
//!    otherwise be stored twice); those are not inserted again but compared, giving `duplicate` or `conflict`;
//! 5. the rest is inserted with one `INSERT … SELECT`; waybills use `ON CONFLICT DO NOTHING RETURNING` their keys;
//!    complaints are written one by one (a re-send with a new verdict is an update);
//! 6. every parcel whose records changed is re-derived (`derived::rederive`): its state, new alerts and the
//!    aggregate rows, still under the parcels' locks.

use std::collections::{BTreeSet, HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use kuaidi_model::{Carrier, CarrierCode, Facility, Record, ScanEvent, Signer, Waybill, WaybillNo};
use kuaidi_store::{ErrorKind, Outcome, PiiKey, StoreError};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use postgres::Transaction;

use kuaidi_store::derived::Touched;

use crate::conn::{pg_error, Conn};
use crate::derived::{self, Deriver};
use crate::partition::day_of;
use crate::rows;

/// A batch made ready outside the retry loop: split by kind, de-duplicated by key, personal data sealed.
pub(crate) struct Prepared<'a> {
    records: &'a [Record],
    /// Index of the first record with each event key, in batch order.
    first_events: Vec<usize>,
    /// Index of the first record with each waybill key, in batch order, with its sealed personal data.
    first_waybills: Vec<(usize, Vec<u8>)>,
    /// For every record that repeats a key earlier in the batch: the index of that earlier record.
    repeats: HashMap<usize, usize>,
    /// Indexes of the complaints, in batch order (each is written and compared in turn, so no repeats are kept).
    complaints: Vec<usize>,
    /// Whether the batch brings carriers or facilities (the rules' reference data is then reloaded).
    has_reference: bool,
    /// Every parcel the batch touches, with the time range of its events and its latest time.
    parcels: Vec<ParcelTouch<'a>>,
}

struct ParcelTouch<'a> {
    waybill_no: &'a str,
    carrier: &'a str,
    first_event: Option<DateTime<Utc>>,
    last_event: Option<DateTime<Utc>>,
    last_activity: DateTime<Utc>,
}

impl<'a> Prepared<'a> {
    pub(crate) fn new(records: &'a [Record], key: &PiiKey) -> Result<Prepared<'a>, StoreError> {
        let mut event_keys: HashMap<(&str, &str, &str), usize> = HashMap::new();
        let mut waybill_keys: HashMap<(&str, &str), usize> = HashMap::new();
        let mut parcels: HashMap<(&str, &str), ParcelTouch<'a>> = HashMap::new();
        let mut prepared = Prepared {
            records,
            first_events: Vec::new(),
            first_waybills: Vec::new(),
            repeats: HashMap::new(),
            complaints: Vec::new(),
            has_reference: false,
            parcels: Vec::new(),
        };
        for (idx, record) in records.iter().enumerate() {
            let (waybill_no, carrier, time, event_time) = match record {
                Record::Event(event) => {
                    let key = (event.waybill_no.as_str(), event.carrier.as_str(), event.event_id.as_str());
                    if let Some(first) = event_keys.get(&key) {
                        prepared.repeats.insert(idx, *first);
                        continue;
                    }
                    event_keys.insert(key, idx);
                    prepared.first_events.push(idx);
                    let time = event.time.to_utc();
                    (key.0, key.1, time, Some(time))
                }
                Record::Waybill(waybill) => {
                    let pair = (waybill.waybill_no.as_str(), waybill.carrier.as_str());
                    if let Some(first) = waybill_keys.get(&pair) {
                        prepared.repeats.insert(idx, *first);
                        continue;
                    }
                    waybill_keys.insert(pair, idx);
                    prepared.first_waybills.push((idx, key.seal_personal_data(waybill)?));
                    (pair.0, pair.1, waybill.created_at.to_utc(), None)
                }
                Record::Complaint(complaint) => {
                    prepared.complaints.push(idx);
                    let time = complaint.filed_at.to_utc();
                    (complaint.waybill_no.as_str(), complaint.carrier.as_str(), time, None)
                }
                Record::Carrier(_) | Record::Facility(_) => {
                    prepared.has_reference = true;
                    continue;
                }
            };
            let touch = parcels.entry((waybill_no, carrier)).or_insert(ParcelTouch {
                waybill_no,
                carrier,
                first_event: None,
                last_event: None,
                last_activity: time,
            });
            touch.last_activity = touch.last_activity.max(time);
            if let Some(time) = event_time {
                touch.first_event = Some(touch.first_event.map_or(time, |t| t.min(time)));
                touch.last_event = Some(touch.last_event.map_or(time, |t| t.max(time)));
            }
        }
        // Key order (bytewise, as `COLLATE "C"` sorts) is the lock order every server uses.
        let mut touches: Vec<ParcelTouch<'a>> = parcels.into_values().collect();
        touches.sort_by(|a, b| (a.waybill_no, a.carrier).cmp(&(b.waybill_no, b.carrier)));
        prepared.parcels = touches;
        Ok(prepared)
    }

    /// The partition days the batch's events fall on.
    pub(crate) fn event_days(&self) -> BTreeSet<NaiveDate> {
        self.first_events
            .iter()
            .filter_map(|idx| match &self.records[*idx] {
                Record::Event(event) => Some(day_of(event.time.to_utc())),
                _ => None,
            })
            .collect()
    }

    fn event(&self, idx: usize) -> &'a ScanEvent {
        match &self.records[idx] {
            Record::Event(event) => event,
            _ => unreachable!("first_events holds only events"),
        }
    }

    fn waybill(&self, idx: usize) -> &'a Waybill {
        match &self.records[idx] {
            Record::Waybill(waybill) => waybill,
            _ => unreachable!("first_waybills holds only waybills"),
        }
    }
}

const STAGING: &str = "SET LOCAL client_min_messages = warning;
CREATE TEMP TABLE IF NOT EXISTS stage_events (
    idx integer NOT NULL, waybill_no text NOT NULL, carrier text NOT NULL, event_id text NOT NULL,
    time timestamptz NOT NULL, kind text NOT NULL, offset_s integer NOT NULL, facility text NOT NULL, operator text,
    vehicle text, next_facility text, exception_code text, signer text
) ON COMMIT DELETE ROWS;
CREATE TEMP TABLE IF NOT EXISTS stage_waybills (
    idx integer NOT NULL, waybill_no text NOT NULL, carrier text NOT NULL, product text NOT NULL,
    electronic boolean NOT NULL, created_at timestamptz NOT NULL, created_offset_s integer NOT NULL,
    sender_division integer NOT NULL, receiver_division integer NOT NULL, contents_category text NOT NULL,
    contents_description text NOT NULL, weight_grams bigint NOT NULL, declared_value_fen bigint NOT NULL,
    real_name_id_type text, real_name_verified boolean, pii bytea NOT NULL
) ON COMMIT DELETE ROWS;";

const UPSERT_PARCELS: &str = "INSERT INTO parcels (waybill_no, carrier, first_event, last_event, last_activity)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[])
    AS touch (waybill_no, carrier, first_event, last_event, last_activity)
ORDER BY waybill_no COLLATE \"C\", carrier COLLATE \"C\"
ON CONFLICT (waybill_no, carrier) DO UPDATE SET
    first_event = least(parcels.first_event, excluded.first_event),
    last_event = greatest(parcels.last_event, excluded.last_event),
    last_activity = greatest(parcels.last_activity, excluded.last_activity)";

/// Stored events with the key of a staged one, found within the parcel's time range only (partition pruning).
/// The parcel's range already includes the batch's own times, which is harmless: those are not inserted yet.
const FIND_STORED_EVENTS: &str = "SELECT s.idx, stored.* FROM stage_events s
JOIN parcels p ON p.waybill_no = s.waybill_no AND p.carrier = s.carrier
CROSS JOIN LATERAL (
    SELECT carrier, event_id, waybill_no, kind, time, offset_s, facility, operator, vehicle, next_facility,
        exception_code, signer
    FROM events e
    WHERE e.waybill_no = s.waybill_no AND e.carrier = s.carrier AND e.event_id = s.event_id
        AND e.time >= p.first_event AND e.time <= p.last_event
    LIMIT 1
) stored";

const INSERT_EVENTS: &str = "INSERT INTO events (waybill_no, carrier, event_id, time, kind, offset_s, facility,
    operator, vehicle, next_facility, exception_code, signer, received_at)
SELECT waybill_no, carrier, event_id, time, kind, offset_s, facility, operator, vehicle, next_facility,
    exception_code, signer, $1
FROM stage_events WHERE NOT (idx = ANY($2::integer[]))";

const INSERT_WAYBILLS: &str = "INSERT INTO waybills (waybill_no, carrier, product, electronic, created_at,
    created_offset_s, sender_division, receiver_division, contents_category, contents_description, weight_grams,
    declared_value_fen, real_name_id_type, real_name_verified, pii, received_at)
SELECT waybill_no, carrier, product, electronic, created_at, created_offset_s, sender_division, receiver_division,
    contents_category, contents_description, weight_grams, declared_value_fen, real_name_id_type, real_name_verified,
    pii, $1
FROM stage_waybills
ON CONFLICT (waybill_no, carrier) DO NOTHING
RETURNING waybill_no, carrier";

pub(crate) fn ingest(
    conn: &mut Conn,
    deriver: &Deriver<'_>,
    prepared: &Prepared<'_>,
    received: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<Outcome>, StoreError> {
    let key = deriver.key;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; prepared.records.len()];
    let staged = conn.staged;
    let upsert_parcels = conn.statement(UPSERT_PARCELS)?;
    let mut tx = conn.client.transaction().map_err(|err| pg_error("starting an ingest transaction", err))?;
    if !staged {
        tx.batch_execute(STAGING).map_err(|err| pg_error("creating the staging tables", err))?;
    }

    for (idx, record) in prepared.records.iter().enumerate() {
        match record {
            Record::Carrier(carrier) => outcomes[idx] = Some(put_carrier(&mut tx, carrier)?),
            Record::Facility(facility) => outcomes[idx] = Some(put_facility(&mut tx, facility)?),
            _ => {}
        }
    }

    if !prepared.parcels.is_empty() {
        let column = |f: &dyn Fn(&ParcelTouch<'_>) -> Option<DateTime<Utc>>| -> Vec<Option<DateTime<Utc>>> {
            prepared.parcels.iter().map(f).collect()
        };
        let waybill_nos: Vec<&str> = prepared.parcels.iter().map(|p| p.waybill_no).collect();
        let carriers: Vec<&str> = prepared.parcels.iter().map(|p| p.carrier).collect();
        let (firsts, lasts, activity) =
            (column(&|p| p.first_event), column(&|p| p.last_event), column(&|p| Some(p.last_activity)));
        tx.execute(&upsert_parcels, &[&waybill_nos, &carriers, &firsts, &lasts, &activity])
            .map_err(|err| pg_error("locking the batch's parcels", err))?;
    }

    let mut stored = Stored::default();
    if !prepared.first_waybills.is_empty() {
        stored.waybills = ingest_waybills(&mut tx, key, prepared, received, &mut outcomes)?;
    }
    if !prepared.first_events.is_empty() {
        stored.events = ingest_events(&mut tx, prepared, received, &mut outcomes)?;
    }
    for idx in &prepared.complaints {
        if let Record::Complaint(complaint) = &prepared.records[*idx] {
            outcomes[*idx] = Some(rows::put_complaint(&mut tx, key, complaint, received)?);
        }
    }

    // Re-derive, under the same locks, every parcel whose records changed (repeats within the batch are answered
    // duplicate or conflict below, so they change nothing).
    let mut touched = Touched::default();
    for (record, outcome) in prepared.records.iter().zip(&outcomes) {
        if !matches!(outcome, Some(Outcome::Accepted | Outcome::Updated)) {
            continue;
        }
        match record {
            Record::Waybill(w) => touched.add(&w.carrier, &w.waybill_no),
            Record::Event(e) => touched.add(&e.carrier, &e.waybill_no),
            Record::Complaint(c) => touched.add(&c.carrier, &c.waybill_no),
            Record::Carrier(_) | Record::Facility(_) => {}
        }
    }
    let touched: Vec<_> = touched.into_keys().collect();
    derived::rederive(&mut tx, deriver, &touched, prepared.has_reference, now)?;
    tx.commit().map_err(|err| pg_error("committing an ingest transaction", err))?;
    conn.staged = true;

    // A record repeating a key earlier in the batch is compared with what that key now holds: the record stored
    // before the batch when there was one, else the earlier record of the batch, which was just stored.
    let mut answers = Vec::with_capacity(outcomes.len());
    for (idx, outcome) in outcomes.iter().enumerate() {
        let outcome = match (outcome, prepared.repeats.get(&idx)) {
            (Some(outcome), _) => *outcome,
            (None, Some(first)) => repeat_outcome(prepared, &stored, idx, *first),
            (None, None) => {
                return Err(StoreError::new(ErrorKind::Other, format!("record {idx} of the batch got no answer")))
            }
        };
        answers.push(outcome);
    }
    Ok(answers)
}

/// Records stored before the batch under the keys of the batch's first records, by the index of that first record.
#[derive(Default)]
struct Stored {
    waybills: HashMap<usize, Waybill>,
    events: HashMap<usize, ScanEvent>,
}

fn repeat_outcome(prepared: &Prepared<'_>, stored: &Stored, idx: usize, first: usize) -> Outcome {
    let same = match (&prepared.records[idx], &prepared.records[first]) {
        (Record::Event(repeat), Record::Event(earlier)) => **repeat == *stored.events.get(&first).unwrap_or(earlier),
        (Record::Waybill(repeat), Record::Waybill(earlier)) => {
            **repeat == *stored.waybills.get(&first).unwrap_or(earlier)
        }
        _ => false,
    };
    if same {
        Outcome::Duplicate
    } else {
        Outcome::Conflict
    }
}

fn put_carrier(tx: &mut Transaction<'_>, carrier: &Carrier) -> Result<Outcome, StoreError> {
    let existing: Option<String> = tx
        .query_opt("SELECT name FROM carriers WHERE code = $1 FOR UPDATE", &[&carrier.code.as_str()])
        .map_err(|err| pg_error("reading a carrier", err))?
        .map(|row| row.get(0));
    if existing.as_deref() == Some(carrier.name.as_str()) {
        return Ok(Outcome::Duplicate);
    }
    tx.execute(
        "INSERT INTO carriers (code, name) VALUES ($1, $2) ON CONFLICT (code) DO UPDATE SET name = excluded.name",
        &[&carrier.code.as_str(), &carrier.name],
    )
    .map_err(|err| pg_error("writing a carrier", err))?;
    Ok(if existing.is_some() { Outcome::Updated } else { Outcome::Accepted })
}

fn put_facility(tx: &mut Transaction<'_>, facility: &Facility) -> Result<Outcome, StoreError> {
    let existing = tx
        .query_opt(
            &format!("SELECT {} FROM facilities WHERE code = $1 FOR UPDATE", rows::FACILITY_COLUMNS),
            &[&facility.code.as_str()],
        )
        .map_err(|err| pg_error("reading a facility", err))?
        .map(|row| rows::facility_row(&row))
        .transpose()?;
    if existing.as_ref() == Some(facility) {
        return Ok(Outcome::Duplicate);
    }
    tx.execute(
        "INSERT INTO facilities (code, kind, carrier, division, longitude, latitude, name) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (code) DO UPDATE SET kind = excluded.kind, \
         carrier = excluded.carrier, division = excluded.division, longitude = excluded.longitude, \
         latitude = excluded.latitude, name = excluded.name",
        &[
            &facility.code.as_str(),
            &facility.kind.as_str(),
            &facility.carrier.as_ref().map(CarrierCode::as_str),
            &(facility.division.as_u32() as i32),
            &facility.location.map(|p| p.longitude),
            &facility.location.map(|p| p.latitude),
            &facility.name,
        ],
    )
    .map_err(|err| pg_error("writing a facility", err))?;
    Ok(if existing.is_some() { Outcome::Updated } else { Outcome::Accepted })
}

fn ingest_waybills(
    tx: &mut Transaction<'_>,
    key: &PiiKey,
    prepared: &Prepared<'_>,
    received: DateTime<Utc>,
    outcomes: &mut [Option<Outcome>],
) -> Result<HashMap<usize, Waybill>, StoreError> {
    let types = [
        Type::INT4,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::BOOL,
        Type::TIMESTAMPTZ,
        Type::INT4,
        Type::INT4,
        Type::INT4,
        Type::TEXT,
        Type::TEXT,
        Type::INT8,
        Type::INT8,
        Type::TEXT,
        Type::BOOL,
        Type::BYTEA,
    ];
    let sink = tx
        .copy_in("COPY stage_waybills FROM STDIN (FORMAT binary)")
        .map_err(|err| pg_error("staging waybills", err))?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    for (idx, sealed) in &prepared.first_waybills {
        let waybill = prepared.waybill(*idx);
        let declared = i64::try_from(waybill.contents.declared_value_fen).map_err(|_| {
            StoreError::new(
                ErrorKind::Other,
                format!(
                    "`contents.declared_value_fen` is `{}`, too large to store",
                    waybill.contents.declared_value_fen
                ),
            )
        })?;
        let row: [&(dyn ToSql + Sync); 16] = [
            &(*idx as i32),
            &waybill.waybill_no.as_str(),
            &waybill.carrier.as_str(),
            &waybill.product,
            &waybill.electronic,
            &waybill.created_at.to_utc(),
            &waybill.created_at.offset().local_minus_utc(),
            &(waybill.sender.address.division.as_u32() as i32),
            &(waybill.receiver.address.division.as_u32() as i32),
            &waybill.contents.category,
            &waybill.contents.description,
            &i64::from(waybill.contents.weight_grams),
            &declared,
            &waybill.real_name.as_ref().map(|r| r.id_type.as_str()),
            &waybill.real_name.as_ref().map(|r| r.verified),
            sealed,
        ];
        writer.write(&row).map_err(|err| pg_error("staging a waybill", err))?;
    }
    writer.finish().map_err(|err| pg_error("staging waybills", err))?;
    let inserted: HashSet<(String, String)> = tx
        .query(INSERT_WAYBILLS, &[&received])
        .map_err(|err| pg_error("writing waybills", err))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let mut stored = HashMap::new();
    for (idx, _) in &prepared.first_waybills {
        let waybill = prepared.waybill(*idx);
        let pair = (waybill.waybill_no.as_str().to_owned(), waybill.carrier.as_str().to_owned());
        let outcome = if inserted.contains(&pair) {
            Outcome::Accepted
        } else {
            // Same key: identical content is a re-send, anything else a conflict that keeps the stored waybill.
            let existing = stored_waybill(tx, key, &waybill.carrier, &waybill.waybill_no)?.ok_or_else(|| {
                StoreError::new(
                    ErrorKind::Other,
                    format!("waybill `{}` was neither new nor stored", waybill.waybill_no),
                )
            })?;
            let outcome = if existing == *waybill { Outcome::Duplicate } else { Outcome::Conflict };
            stored.insert(*idx, existing);
            outcome
        };
        outcomes[*idx] = Some(outcome);
    }
    Ok(stored)
}

fn stored_waybill(
    tx: &mut Transaction<'_>,
    key: &PiiKey,
    carrier: &CarrierCode,
    waybill_no: &WaybillNo,
) -> Result<Option<Waybill>, StoreError> {
    let row = tx
        .query_opt(
            "SELECT product, electronic, created_at, created_offset_s, sender_division, receiver_division, \
             contents_category, contents_description, weight_grams, declared_value_fen, real_name_id_type, \
             real_name_verified, pii FROM waybills WHERE waybill_no = $1 AND carrier = $2",
            &[&waybill_no.as_str(), &carrier.as_str()],
        )
        .map_err(|err| pg_error("reading a stored waybill", err))?;
    row.map(|row| rows::waybill_row(&row, key, carrier, waybill_no)).transpose()
}

fn ingest_events(
    tx: &mut Transaction<'_>,
    prepared: &Prepared<'_>,
    received: DateTime<Utc>,
    outcomes: &mut [Option<Outcome>],
) -> Result<HashMap<usize, ScanEvent>, StoreError> {
    let types = [
        Type::INT4,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TIMESTAMPTZ,
        Type::TEXT,
        Type::INT4,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
        Type::TEXT,
    ];
    let sink =
        tx.copy_in("COPY stage_events FROM STDIN (FORMAT binary)").map_err(|err| pg_error("staging events", err))?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    for idx in &prepared.first_events {
        let event = prepared.event(*idx);
        let row: [&(dyn ToSql + Sync); 13] = [
            &(*idx as i32),
            &event.waybill_no.as_str(),
            &event.carrier.as_str(),
            &event.event_id.as_str(),
            &event.time.to_utc(),
            &event.kind.as_str(),
            &event.time.offset().local_minus_utc(),
            &event.facility.as_str(),
            &event.operator,
            &event.vehicle,
            &event.next_facility.as_ref().map(|f| f.as_str()),
            &event.exception_code,
            &event.signer.map(Signer::as_str),
        ];
        writer.write(&row).map_err(|err| pg_error("staging an event", err))?;
    }
    writer.finish().map_err(|err| pg_error("staging events", err))?;

    let mut stored: HashMap<usize, ScanEvent> = HashMap::new();
    for row in tx.query(FIND_STORED_EVENTS, &[]).map_err(|err| pg_error("finding stored events", err))? {
        let idx: i32 = row.get(0);
        stored.insert(idx as usize, rows::event_row(&row, 1)?);
    }
    let skip: Vec<i32> = stored.keys().map(|idx| *idx as i32).collect();
    let n_inserted = tx.execute(INSERT_EVENTS, &[&received, &skip]).map_err(|err| pg_error("writing events", err))?;
    let expected = prepared.first_events.len() - stored.len();
    if n_inserted as usize != expected {
        return Err(StoreError::new(
            ErrorKind::Other,
            format!("wrote {n_inserted} events where {expected} were new; the batch is rolled back"),
        ));
    }
    for idx in &prepared.first_events {
        let outcome = match stored.get(idx) {
            None => Outcome::Accepted,
            Some(stored) if stored == prepared.event(*idx) => Outcome::Duplicate,
            Some(_) => Outcome::Conflict,
        };
        outcomes[*idx] = Some(outcome);
    }
    Ok(stored)
}
