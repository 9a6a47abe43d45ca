//! Bulk ingest: one transaction per batch, answered per record, with the fewest round trips and row writes.
//!
//! The order inside the transaction is what makes it correct when several servers ingest at once:
//! 1. carriers and facilities (reference data) are upserted row by row (there are few);
//! 2. every parcel the batch touches is locked **in key order** by one `INSERT … ON CONFLICT DO UPDATE … WHERE
//!    false`: a new parcel's row is inserted, a stored one is locked without being written. Two servers writing the
//!    same parcel therefore take turns, and cannot deadlock, since both lock in the same order. A parcel whose
//!    waybill the batch brings is most likely new, so before the transaction it is derived as if it were
//!    ([`speculate`]) and its row is inserted with that state: a new parcel's row is written once, not inserted and
//!    then updated. The insert itself tells which parcels were new; a stored one's speculation is dropped;
//! 3. the stored parcels' rows, waybills, events and complaints are loaded with one query per table
//!    (`derived::load`, by `waybill_no = ANY($1)`); events by key within the parcels' time range (the primary key
//!    holds the partition column `time`, so the key alone is not unique in the database: a re-send with a changed
//!    time would otherwise be stored twice);
//! 4. every record is answered here, against what was loaded: `accepted`, `duplicate`, `conflict`, or `updated` for
//!    a complaint's new verdict. Nobody else can add records to a locked parcel, so the answers hold until commit;
//! 5. new waybills and events are written with one binary `COPY` each straight into their tables (the primary keys
//!    still guard against a double write), complaints with one statement for new ones and one for new verdicts;
//! 6. every parcel whose records changed is re-derived from what was loaded plus what was written
//!    (`derived::rederive`): its state, new alerts and the aggregate rows, still under the parcels' locks, and each
//!    parcel row is written once, with its state, widened event range and activity time together. A new parcel
//!    inserted with its speculated state is not derived again: its records are exactly those the speculation read
//!    (nothing was stored for it), so the derivation would be the same.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use kuaidi_model::{Carrier, CarrierCode, Complaint, Facility, Record, ScanEvent, Signer, Waybill, WaybillNo};
use kuaidi_store::derived::{derive, Derivation, ParcelRecords};
use kuaidi_store::{ErrorKind, Outcome, PiiKey, StoreError};
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::{ToSql, Type};
use postgres::Transaction;

use crate::conn::{pg_error, Conn};
use crate::derived::{self, Deriver, ParcelText, RowChange, StoredParcel, ToDerive};
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

    /// The batch's touch of `parcel` (the touches are in key order).
    fn touch(&self, parcel: &ParcelText) -> Option<&ParcelTouch<'a>> {
        let wanted = (parcel.0.as_str(), parcel.1.as_str());
        let found = self.parcels.binary_search_by(|touch| (touch.waybill_no, touch.carrier).cmp(&wanted));
        found.ok().map(|idx| &self.parcels[idx])
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

/// Locks every parcel of the batch, in key order (bytewise, as `COLLATE "C"` sorts): a new parcel by inserting its
/// row, a stored one by `ON CONFLICT DO UPDATE … WHERE false`, which takes the row lock without writing a new row
/// version. Answers the keys it inserted.
/// A new parcel's row is inserted with its speculated state and `check_at` (null when not speculated).
const LOCK_PARCELS: &str = "INSERT INTO parcels (waybill_no, carrier, first_event, last_event, last_activity, state,
    check_at)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], $6::bytea[],
    $7::timestamptz[])
    AS touch (waybill_no, carrier, first_event, last_event, last_activity, state, check_at)
ORDER BY waybill_no COLLATE \"C\", carrier COLLATE \"C\"
ON CONFLICT (waybill_no, carrier) DO UPDATE SET last_activity = parcels.last_activity WHERE false
RETURNING waybill_no, carrier";

const COPY_EVENTS: &str = "COPY events (waybill_no, carrier, event_id, time, kind, offset_s, facility, operator,
    vehicle, next_facility, exception_code, signer, received_at) FROM STDIN (FORMAT binary)";

/// The column types of [`COPY_EVENTS`], in its order.
pub(crate) const EVENT_COPY_TYPES: [Type; 13] = [
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
    Type::TIMESTAMPTZ,
];

/// Writes one event as a row of [`COPY_EVENTS`]' columns (the benchmark's ceiling copies the same rows).
pub(crate) fn write_event_row(
    writer: &mut BinaryCopyInWriter<'_>,
    event: &ScanEvent,
    received: &DateTime<Utc>,
) -> Result<(), postgres::Error> {
    let row: [&(dyn ToSql + Sync); 13] = [
        &event.waybill_no.as_str(),
        &event.carrier.as_str(),
        &event.event_id.as_str(),
        &event.time.to_utc(),
        &event.kind.as_str(),
        &event.time.offset().local_minus_utc(),
        &event.facility.as_str(),
        &event.operator.as_deref(),
        &event.vehicle.as_deref(),
        &event.next_facility.as_ref().map(|f| f.as_str()),
        &event.exception_code.as_deref(),
        &event.signer.map(Signer::as_str),
        received,
    ];
    writer.write(&row)
}

const COPY_WAYBILLS: &str = "COPY waybills (waybill_no, carrier, product, electronic, created_at, created_offset_s,
    sender_division, receiver_division, contents_category, contents_description, weight_grams, declared_value_fen,
    real_name_id_type, real_name_verified, pii, received_at) FROM STDIN (FORMAT binary)";

/// What a caller stores in an ingest's transaction once every record is answered, before the commit (an EPCIS
/// capture's events and job).
pub(crate) type BeforeCommit<'a> = &'a mut dyn FnMut(&mut Transaction<'_>, &[Outcome]) -> Result<(), StoreError>;

pub(crate) fn ingest(
    conn: &mut Conn,
    deriver: &Deriver<'_>,
    prepared: &Prepared<'_>,
    received: DateTime<Utc>,
    now: DateTime<Utc>,
    before_commit: BeforeCommit<'_>,
) -> Result<Vec<Outcome>, StoreError> {
    let key = deriver.key;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; prepared.records.len()];
    // A batch bringing carriers or facilities is speculated inside its transaction, once the rules can see them.
    let mut speculated = match prepared.has_reference {
        true => HashMap::new(),
        false => speculate(&mut conn.client, prepared, deriver, now, false)?,
    };
    let lock_parcels = conn.statement(LOCK_PARCELS)?;
    let mut tx = conn.client.transaction().map_err(|err| pg_error("starting an ingest transaction", err))?;

    for (idx, record) in prepared.records.iter().enumerate() {
        match record {
            Record::Carrier(carrier) => outcomes[idx] = Some(put_carrier(&mut tx, carrier)?),
            Record::Facility(facility) => outcomes[idx] = Some(put_facility(&mut tx, facility)?),
            _ => {}
        }
    }
    if prepared.has_reference {
        speculated = speculate(&mut tx, prepared, deriver, now, true)?;
    }
    let n_speculated = speculated.len();

    // Lock, then load what the stored parcels hold; a new parcel holds nothing yet.
    let mut parcels: BTreeMap<ParcelText, StoredParcel> = BTreeMap::new();
    let mut inserted: HashSet<ParcelText> = HashSet::new();
    if !prepared.parcels.is_empty() {
        let column = |f: &dyn Fn(&ParcelTouch<'_>) -> Option<DateTime<Utc>>| -> Vec<Option<DateTime<Utc>>> {
            prepared.parcels.iter().map(f).collect()
        };
        let waybill_nos: Vec<&str> = prepared.parcels.iter().map(|p| p.waybill_no).collect();
        let carriers: Vec<&str> = prepared.parcels.iter().map(|p| p.carrier).collect();
        let (firsts, lasts, activity) =
            (column(&|p| p.first_event), column(&|p| p.last_event), column(&|p| Some(p.last_activity)));
        let mut states: Vec<Option<&[u8]>> = Vec::with_capacity(prepared.parcels.len());
        let mut check_at: Vec<Option<DateTime<Utc>>> = Vec::with_capacity(prepared.parcels.len());
        for touch in &prepared.parcels {
            let guess = speculated.get(&(touch.waybill_no, touch.carrier));
            states.push(guess.map(|guess| guess.encoded.as_slice()));
            check_at.push(guess.and_then(|guess| guess.check_at));
        }
        inserted = tx
            .query(&lock_parcels, &[&waybill_nos, &carriers, &firsts, &lasts, &activity, &states, &check_at])
            .map_err(|err| pg_error("locking the batch's parcels", err))?
            .iter()
            .map(|row| (row.get(0), row.get(1)))
            .collect();
        let stored_keys: Vec<ParcelText> = prepared
            .parcels
            .iter()
            .map(|p| (p.waybill_no.to_owned(), p.carrier.to_owned()))
            .filter(|parcel| !inserted.contains(parcel))
            .collect();
        parcels = derived::load(&mut tx, key, &stored_keys)?;
        for parcel in &inserted {
            parcels.entry(parcel.clone()).or_default();
        }
    }

    let mut stored = Stored::default();
    let n_new_waybills = answer_waybills(prepared, &mut parcels, &mut stored, &mut outcomes);
    let n_new_events = answer_events(prepared, &mut parcels, &mut stored, &mut outcomes);
    let complaints = answer_complaints(prepared, &mut parcels, &mut outcomes);

    if n_new_waybills > 0 {
        copy_waybills(&mut tx, prepared, &outcomes, received, n_new_waybills)?;
    }
    if n_new_events > 0 {
        copy_events(&mut tx, prepared, &outcomes, received, n_new_events)?;
    }
    complaints.write(&mut tx, key, received)?;

    // Re-derive, under the same locks, every parcel whose records changed (repeats within the batch are answered
    // duplicate or conflict below, so they change nothing). Every stored parcel of the batch has its row widened to
    // the times of the batch's events and its activity; a new parcel's row was inserted with them.
    let mut touched: HashSet<(&str, &str)> = HashSet::new();
    for (record, outcome) in prepared.records.iter().zip(&outcomes) {
        if !matches!(outcome, Some(Outcome::Accepted | Outcome::Updated)) {
            continue;
        }
        if let Some((carrier, waybill_no)) = record.parcel() {
            touched.insert((waybill_no.as_str(), carrier.as_str()));
        }
    }
    let mut row_changes: BTreeMap<ParcelText, RowChange> = BTreeMap::new();
    for touch in &prepared.parcels {
        let parcel = (touch.waybill_no.to_owned(), touch.carrier.to_owned());
        if inserted.contains(&parcel) {
            continue;
        }
        if let Some(stored) = parcels.get(&parcel) {
            if let Some(change) = row_change(stored, touch) {
                row_changes.insert(parcel, change);
            }
        }
    }
    let to_derive: Vec<ToDerive> = parcels
        .into_iter()
        .filter(|(parcel, _)| touched.contains(&(parcel.0.as_str(), parcel.1.as_str())))
        .map(|(parcel, stored)| {
            // Only a parcel this batch inserted keeps its speculation: its row already holds that state.
            let written = match inserted.contains(&parcel) {
                true => prepared
                    .touch(&parcel)
                    .and_then(|touch| speculated.remove(&(touch.waybill_no, touch.carrier)))
                    .map(|guess| guess.derivation),
                false => None,
            };
            ToDerive { parcel, records: stored.records, old: stored.state, written }
        })
        .collect();
    tracing::debug!(
        parcels = prepared.parcels.len(),
        new = inserted.len(),
        speculated = n_speculated,
        kept = to_derive.iter().filter(|parcel| parcel.written.is_some()).count(),
        "ingest batch locked and answered"
    );
    derived::rederive(&mut tx, deriver, to_derive, row_changes, prepared.has_reference, now)?;

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
    before_commit(&mut tx, &answers)?;
    tx.commit().map_err(|err| pg_error("committing an ingest transaction", err))?;
    Ok(answers)
}

/// A parcel derived before the transaction as if the batch brought its first records.
pub(crate) struct Speculation {
    derivation: Derivation,
    /// Its state as `parcels.state` holds it.
    encoded: Vec<u8>,
    check_at: Option<DateTime<Utc>>,
}

/// Derives, before any parcel is locked, each parcel whose waybill the batch brings, as if nothing were stored for it:
/// its records are then the batch's first waybill and first events of its key. Parcels the batch brings complaints
/// for are left out (their answers depend on what is stored), and so is one naming a carrier or facility the rules'
/// reference cache lacks after it is reloaded once (as the transaction would reload it). With `fresh_reference`
/// (a batch bringing carriers or facilities, speculated inside its transaction after writing them) the reference is
/// read afresh through `client` and not shared, as the transaction may still roll back.
/// A waybill usually comes with a parcel's first scan, so most guesses are new parcels; a wrong guess costs only its
/// derivation, since the lock's insert says which parcels were new.
fn speculate<'a>(
    client: &mut impl postgres::GenericClient,
    prepared: &Prepared<'a>,
    deriver: &Deriver<'_>,
    now: DateTime<Utc>,
    fresh_reference: bool,
) -> Result<HashMap<(&'a str, &'a str), Speculation>, StoreError> {
    let mut guesses: HashMap<(&'a str, &'a str), Speculation> = HashMap::new();
    if prepared.first_waybills.is_empty() {
        return Ok(guesses);
    }
    let mut records: HashMap<(&'a str, &'a str), ParcelRecords> = HashMap::new();
    for (idx, _) in &prepared.first_waybills {
        let waybill = prepared.waybill(*idx);
        let parcel = (waybill.waybill_no.as_str(), waybill.carrier.as_str());
        records.insert(parcel, ParcelRecords { waybill: Some(waybill.clone()), ..ParcelRecords::default() });
    }
    for idx in &prepared.complaints {
        if let Record::Complaint(complaint) = &prepared.records[*idx] {
            records.remove(&(complaint.waybill_no.as_str(), complaint.carrier.as_str()));
        }
    }
    for idx in &prepared.first_events {
        let event = prepared.event(*idx);
        if let Some(parcel) = records.get_mut(&(event.waybill_no.as_str(), event.carrier.as_str())) {
            parcel.events.push(event.clone());
        }
    }
    let mut reference = deriver.reference.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    if fresh_reference {
        reference = Arc::new(derived::load_reference(client)?);
    } else if !records.values().all(|parcel_records| reference.covers(parcel_records)) {
        reference = Arc::new(derived::load_reference(client)?);
        *deriver.reference.write().unwrap_or_else(std::sync::PoisonError::into_inner) = reference.clone();
    }
    for (parcel, mut parcel_records) in records {
        if !reference.covers(&parcel_records) {
            continue;
        }
        kuaidi_model::order_events(&mut parcel_records.events);
        let derivation = derive(&parcel_records, None, reference.as_ref(), deriver.rules, now);
        let Some(state) = &derivation.state else { continue };
        let encoded = kuaidi_store::derived::codec::encode(state)?;
        let check_at = state.check_at.and_then(DateTime::<Utc>::from_timestamp_millis);
        guesses.insert(parcel, Speculation { derivation, encoded, check_at });
    }
    Ok(guesses)
}

/// How a stored parcel's row must widen for the batch: the times of its events the batch brings (a rejected re-send
/// widens it too, harmlessly) and its latest activity; `None` when the row already covers them.
fn row_change(stored: &StoredParcel, touch: &ParcelTouch<'_>) -> Option<RowChange> {
    let earlier = |new: Option<DateTime<Utc>>, old: Option<DateTime<Utc>>| match (new, old) {
        (Some(new), Some(old)) if new >= old => None,
        (new, _) => new,
    };
    let later = |new: Option<DateTime<Utc>>, old: Option<DateTime<Utc>>| match (new, old) {
        (Some(new), Some(old)) if new <= old => None,
        (new, _) => new,
    };
    let change = RowChange {
        first_event: earlier(touch.first_event, stored.first_event),
        last_event: later(touch.last_event, stored.last_event),
        last_activity: later(Some(touch.last_activity), stored.last_activity),
    };
    let unchanged = RowChange { first_event: None, last_event: None, last_activity: None };
    (change != unchanged).then_some(change)
}

fn parcel_of(waybill_no: &WaybillNo, carrier: &CarrierCode) -> ParcelText {
    (waybill_no.as_str().to_owned(), carrier.as_str().to_owned())
}

/// Answers the batch's first waybill of each key against the stored one, and adds the accepted ones to their
/// parcels' records. Returns how many are new.
fn answer_waybills(
    prepared: &Prepared<'_>,
    parcels: &mut BTreeMap<ParcelText, StoredParcel>,
    stored: &mut Stored,
    outcomes: &mut [Option<Outcome>],
) -> usize {
    let mut n_new = 0;
    for (idx, _) in &prepared.first_waybills {
        let waybill = prepared.waybill(*idx);
        let records = &mut parcels.entry(parcel_of(&waybill.waybill_no, &waybill.carrier)).or_default().records;
        let outcome = match &records.waybill {
            // Same key: identical content is a re-send, anything else a conflict that keeps the stored waybill.
            Some(existing) => {
                stored.waybills.insert(*idx, existing.clone());
                if existing == waybill {
                    Outcome::Duplicate
                } else {
                    Outcome::Conflict
                }
            }
            None => {
                records.waybill = Some(waybill.clone());
                n_new += 1;
                Outcome::Accepted
            }
        };
        outcomes[*idx] = Some(outcome);
    }
    n_new
}

/// Answers the batch's first event of each key against the parcel's stored events, and adds the accepted ones to
/// their parcels' records. Returns how many are new.
fn answer_events(
    prepared: &Prepared<'_>,
    parcels: &mut BTreeMap<ParcelText, StoredParcel>,
    stored: &mut Stored,
    outcomes: &mut [Option<Outcome>],
) -> usize {
    let mut by_key: HashMap<(&str, &str, &str), &ScanEvent> = HashMap::new();
    for parcel in parcels.values() {
        for event in &parcel.records.events {
            by_key.insert((event.waybill_no.as_str(), event.carrier.as_str(), event.event_id.as_str()), event);
        }
    }
    let mut accepted: Vec<&ScanEvent> = Vec::new();
    for idx in &prepared.first_events {
        let event = prepared.event(*idx);
        let outcome = match by_key.get(&(event.waybill_no.as_str(), event.carrier.as_str(), event.event_id.as_str())) {
            None => {
                accepted.push(event);
                Outcome::Accepted
            }
            Some(existing) => {
                stored.events.insert(*idx, (*existing).clone());
                if *existing == event {
                    Outcome::Duplicate
                } else {
                    Outcome::Conflict
                }
            }
        };
        outcomes[*idx] = Some(outcome);
    }
    drop(by_key);
    for event in &accepted {
        parcels.entry(parcel_of(&event.waybill_no, &event.carrier)).or_default().records.events.push((*event).clone());
    }
    accepted.len()
}

/// The batch's complaints decided against the stored ones, in batch order, and what to write for them.
#[derive(Default)]
struct ComplaintWrites<'a> {
    /// New complaints, as they stand after the batch (a later verdict in the same batch included).
    new: BTreeMap<(&'a str, &'a str, &'a str), &'a Complaint>,
    /// Stored complaints given a new verdict.
    verdicts: BTreeMap<(&'a str, &'a str, &'a str), &'a Complaint>,
}

/// Answers each complaint in batch order: new (`accepted`), the same as the one its key holds (`duplicate`), the
/// same but for the verdict (`updated`: the regulator ruled), or anything else (`conflict`, the held one stays).
/// A key's holder is the stored complaint, or the batch's latest accepted or updated one.
fn answer_complaints<'a>(
    prepared: &Prepared<'a>,
    parcels: &mut BTreeMap<ParcelText, StoredParcel>,
    outcomes: &mut [Option<Outcome>],
) -> ComplaintWrites<'a> {
    let mut writes = ComplaintWrites::default();
    let mut changed_parcels: BTreeSet<ParcelText> = BTreeSet::new();
    for idx in &prepared.complaints {
        let Record::Complaint(complaint) = &prepared.records[*idx] else { continue };
        let complaint: &'a Complaint = complaint;
        let parcel = parcel_of(&complaint.waybill_no, &complaint.carrier);
        let complaint_key = (complaint.waybill_no.as_str(), complaint.carrier.as_str(), complaint.id.as_str());
        let records = &mut parcels.entry(parcel.clone()).or_default().records;
        let held = records.complaints.iter_mut().find(|c| c.id == complaint.id);
        let outcome = match held {
            None => {
                records.complaints.push(complaint.clone());
                writes.new.insert(complaint_key, complaint);
                Outcome::Accepted
            }
            Some(held) if *held == *complaint => Outcome::Duplicate,
            Some(held) if (Complaint { verdict: complaint.verdict, ..held.clone() }) == *complaint => {
                *held = complaint.clone();
                match writes.new.get_mut(&complaint_key) {
                    Some(new) => *new = complaint,
                    None => {
                        writes.verdicts.insert(complaint_key, complaint);
                    }
                }
                Outcome::Updated
            }
            Some(_) => Outcome::Conflict,
        };
        if matches!(outcome, Outcome::Accepted | Outcome::Updated) {
            changed_parcels.insert(parcel);
        }
        outcomes[*idx] = Some(outcome);
    }
    // Keep the filing order the stores read complaints in.
    for parcel in changed_parcels {
        if let Some(stored) = parcels.get_mut(&parcel) {
            stored.records.complaints.sort_by(|a, b| (a.filed_at, a.id.as_str()).cmp(&(b.filed_at, b.id.as_str())));
        }
    }
    writes
}

impl ComplaintWrites<'_> {
    fn write(&self, tx: &mut Transaction<'_>, key: &PiiKey, received: DateTime<Utc>) -> Result<(), StoreError> {
        if !self.new.is_empty() {
            let (mut waybill_nos, mut carriers, mut ids, mut filed, mut offsets, mut categories, mut verdicts) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
            let mut sealed = Vec::new();
            for complaint in self.new.values() {
                waybill_nos.push(complaint.waybill_no.as_str());
                carriers.push(complaint.carrier.as_str());
                ids.push(complaint.id.as_str());
                filed.push(complaint.filed_at.to_utc());
                offsets.push(complaint.filed_at.offset().local_minus_utc());
                categories.push(complaint.category.as_str());
                verdicts.push(complaint.verdict.as_str());
                sealed.push(key.seal_complaint_description(&complaint.description)?);
            }
            tx.execute(
                "INSERT INTO complaints (waybill_no, carrier, complaint_id, filed_at, filed_offset_s, category, \
                 verdict, pii, received_at) \
                 SELECT c.*, $9 FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::integer[], \
                     $6::text[], $7::text[], $8::bytea[]) AS c",
                &[&waybill_nos, &carriers, &ids, &filed, &offsets, &categories, &verdicts, &sealed, &received],
            )
            .map_err(|err| pg_error("writing complaints", err))?;
        }
        if !self.verdicts.is_empty() {
            let (mut waybill_nos, mut carriers, mut ids, mut verdicts) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for complaint in self.verdicts.values() {
                waybill_nos.push(complaint.waybill_no.as_str());
                carriers.push(complaint.carrier.as_str());
                ids.push(complaint.id.as_str());
                verdicts.push(complaint.verdict.as_str());
            }
            tx.execute(
                "UPDATE complaints c SET verdict = u.verdict, received_at = $5 \
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u (waybill_no, carrier, id, verdict) \
                 WHERE c.waybill_no = u.waybill_no AND c.carrier = u.carrier AND c.complaint_id = u.id",
                &[&waybill_nos, &carriers, &ids, &verdicts, &received],
            )
            .map_err(|err| pg_error("recording verdicts", err))?;
        }
        Ok(())
    }
}

/// Writes the accepted waybills with one binary `COPY` into `waybills`.
fn copy_waybills(
    tx: &mut Transaction<'_>,
    prepared: &Prepared<'_>,
    outcomes: &[Option<Outcome>],
    received: DateTime<Utc>,
    expected: usize,
) -> Result<(), StoreError> {
    let types = [
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
        Type::TIMESTAMPTZ,
    ];
    let sink = tx.copy_in(COPY_WAYBILLS).map_err(|err| pg_error("writing waybills", err))?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    for (idx, sealed) in &prepared.first_waybills {
        if outcomes[*idx] != Some(Outcome::Accepted) {
            continue;
        }
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
            &received,
        ];
        writer.write(&row).map_err(|err| pg_error("writing a waybill", err))?;
    }
    let n_written = writer.finish().map_err(|err| pg_error("writing waybills", err))?;
    check_written("waybills", n_written, expected)
}

/// Writes the accepted events with one binary `COPY` into `events`, which routes each row to its day partition.
/// Rows go in primary-key order: a batch arrives in time order, which is random in the key, and sorted rows insert
/// into each index leaf page once rather than once per row (an insert of 800,000 rows into the events' indexes took
/// a fifth less time sorted, docs/BENCHMARKS.md).
fn copy_events(
    tx: &mut Transaction<'_>,
    prepared: &Prepared<'_>,
    outcomes: &[Option<Outcome>],
    received: DateTime<Utc>,
    expected: usize,
) -> Result<(), StoreError> {
    let types = EVENT_COPY_TYPES;
    let sink = tx.copy_in(COPY_EVENTS).map_err(|err| pg_error("writing events", err))?;
    let mut writer = BinaryCopyInWriter::new(sink, &types);
    let mut accepted: Vec<&ScanEvent> = prepared
        .first_events
        .iter()
        .filter(|idx| outcomes[**idx] == Some(Outcome::Accepted))
        .map(|idx| prepared.event(*idx))
        .collect();
    accepted.sort_unstable_by(|a, b| {
        (a.waybill_no.as_str(), a.carrier.as_str(), a.event_id.as_str()).cmp(&(
            b.waybill_no.as_str(),
            b.carrier.as_str(),
            b.event_id.as_str(),
        ))
    });
    for event in accepted {
        write_event_row(&mut writer, event, &received).map_err(|err| pg_error("writing an event", err))?;
    }
    let n_written = writer.finish().map_err(|err| pg_error("writing events", err))?;
    check_written("events", n_written, expected)
}

fn check_written(what: &str, n_written: u64, expected: usize) -> Result<(), StoreError> {
    if n_written as usize == expected {
        return Ok(());
    }
    Err(StoreError::new(
        ErrorKind::Other,
        format!("wrote {n_written} {what} where {expected} were new; the batch is rolled back"),
    ))
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

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};

    use super::{row_change, ParcelTouch};
    use crate::derived::{RowChange, StoredParcel};

    fn at(hours: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_763_700_000, 0).unwrap() + Duration::hours(hours)
    }

    fn check(
        stored: (Option<i64>, Option<i64>, i64),
        touch: (Option<i64>, Option<i64>, i64),
        expected: Option<RowChange>,
    ) {
        let stored = StoredParcel {
            first_event: stored.0.map(at),
            last_event: stored.1.map(at),
            last_activity: Some(at(stored.2)),
            ..StoredParcel::default()
        };
        let touch = ParcelTouch {
            waybill_no: "YT0000000001",
            carrier: "yto",
            first_event: touch.0.map(at),
            last_event: touch.1.map(at),
            last_activity: at(touch.2),
        };
        assert_eq!(row_change(&stored, &touch), expected);
    }

    #[test]
    fn a_row_only_widens() {
        let change = |first: Option<i64>, last: Option<i64>, activity: Option<i64>| {
            Some(RowChange { first_event: first.map(at), last_event: last.map(at), last_activity: activity.map(at) })
        };
        // Inside the stored range, no later activity: nothing to write.
        check((Some(0), Some(10), 10), (Some(2), Some(8), 8), None);
        // Later events widen the end and the activity only.
        check((Some(0), Some(10), 10), (Some(5), Some(12), 12), change(None, Some(12), Some(12)));
        // An earlier event widens the start only.
        check((Some(0), Some(10), 10), (Some(-3), Some(-3), -3), change(Some(-3), None, None));
        // A parcel stored without events (a waybill alone) takes the batch's whole range.
        check((None, None, 10), (Some(4), Some(6), 6), change(Some(4), Some(6), None));
        // A complaint alone moves only the activity.
        check((Some(0), Some(10), 10), (None, None, 30), change(None, None, Some(30)));
    }
}
