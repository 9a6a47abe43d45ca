//! Derived state in PostgreSQL, exact with any number of servers on one database (see `kuaidi_store::derived`).
//!
//! Nothing derived lives in a server's memory. Inside the ingest (or sweep) transaction, after the touched parcels'
//! rows are locked in key order:
//! 1. their rows (stored state, event time range) and records are loaded by [`load`], one query per table, each
//!    selecting by `waybill_no = ANY($1)` (the distribution column, so Citus prunes to the shards that hold them);
//! 2. each parcel is re-derived with [`derive`] by [`rederive`], as in the embedded store; new alerts are inserted
//!    (unique on parcel and dedup key), and every parcel row is written once: its new state and `check_at`, and the
//!    widened event range and activity time an ingest brings;
//! 3. the aggregate rows the old and new states fall in (`indicator_cells`, `coverage_cells`) are locked in key order
//!    by one `INSERT … ON CONFLICT DO UPDATE` of the sorted keys, read into an [`Aggregates`], changed by the exact
//!    old→new differences ([`Aggregates::apply`]) and written back; a row left at zero is deleted.
//!
//! Every transaction locks parcels before cells and each in key order, so concurrent servers take turns instead of
//! deadlocking. Readers (`indicators`, `coverage`) sum the committed rows with the embedded store's functions.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use kuaidi_model::{AdminCode, CarrierCode, DivisionLevel, WaybillNo};
use kuaidi_rules::{CellKey, Counters};
use kuaidi_store::derived::{derive, Aggregates, CoverageRow, Derivation, ParcelRecords, ParcelState, RefCache, Rules};
use kuaidi_store::{Alert, AlertChange, AlertQuery, AlertStatus, ErrorKind, PiiKey, StoreError};
use postgres::types::ToSql;
use postgres::{GenericClient, Row, Transaction};

use crate::conn::pg_error;
use crate::rows;

/// Loads the rules' reference cache (carriers and facilities) inside the transaction that needs it: when a batch
/// brought reference records, or a parcel names a carrier or facility the cache does not hold.
pub(crate) fn load_reference(client: &mut impl GenericClient) -> Result<RefCache, StoreError> {
    let carriers = client
        .query("SELECT code FROM carriers", &[])
        .map_err(|err| pg_error("loading carriers for the rules", err))?
        .iter()
        .map(|row| rows::parse("carrier code", row.get(0), CarrierCode::parse))
        .collect::<Result<Vec<_>, _>>()?;
    let facilities = client
        .query(&format!("SELECT {} FROM facilities", rows::FACILITY_COLUMNS), &[])
        .map_err(|err| pg_error("loading facilities for the rules", err))?
        .iter()
        .map(rows::facility_row)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RefCache::new(carriers, facilities))
}

/// What re-deriving needs besides the transaction.
pub(crate) struct Deriver<'a> {
    pub key: &'a PiiKey,
    pub rules: &'a Rules,
    pub reference: &'a RwLock<Arc<RefCache>>,
}

/// What a re-derivation changed.
#[derive(Debug, Default)]
pub(crate) struct Changes {
    pub examined: u64,
    pub changed: u64,
    pub new_alerts: u64,
}

fn encode(what: &str, err: serde_json::Error) -> StoreError {
    StoreError::with_source(ErrorKind::Other, format!("encoding {what}"), err)
}

/// A parcel's key as the database spells it: waybill number, then carrier (the lock order).
pub(crate) type ParcelText = (String, String);

/// A parcel's row and records as stored, read under its row lock.
#[derive(Debug, Default)]
pub(crate) struct StoredParcel {
    /// The earliest time of its stored events; `None` before its first event.
    pub first_event: Option<DateTime<Utc>>,
    /// The latest time of its stored events.
    pub last_event: Option<DateTime<Utc>>,
    /// Its latest record's time, which retention reads.
    pub last_activity: Option<DateTime<Utc>>,
    /// What it contributes to the aggregates; `None` before it was first derived.
    pub state: Option<ParcelState>,
    /// Its waybill, events and complaints.
    pub records: ParcelRecords,
}

/// The keys' distinct waybill numbers, for `waybill_no = ANY($1)`.
fn waybill_numbers<'a>(keys: impl IntoIterator<Item = &'a ParcelText>) -> Vec<String> {
    let set: BTreeSet<&str> = keys.into_iter().map(|(waybill_no, _)| waybill_no.as_str()).collect();
    set.into_iter().map(str::to_owned).collect()
}

/// Loads the rows and records of the parcels `keys` (whose rows the transaction has locked), in one query per table.
/// Each query selects by waybill number alone; rows of another carrier under the same number are dropped here.
/// Events are read within the loaded parcels' combined time range, so only the day partitions that can hold them are
/// visited. A key with no `parcels` row is left out.
pub(crate) fn load(
    tx: &mut Transaction<'_>,
    key: &PiiKey,
    keys: &[ParcelText],
) -> Result<BTreeMap<ParcelText, StoredParcel>, StoreError> {
    let mut parcels: BTreeMap<ParcelText, StoredParcel> = BTreeMap::new();
    if keys.is_empty() {
        return Ok(parcels);
    }
    let wanted: HashSet<(&str, &str)> = keys.iter().map(|(w, c)| (w.as_str(), c.as_str())).collect();
    let numbers = waybill_numbers(keys);
    let id = |row: &Row, w: usize, c: usize| -> Option<ParcelText> {
        let (waybill_no, carrier): (&str, &str) = (row.get(w), row.get(c));
        wanted.contains(&(waybill_no, carrier)).then(|| (waybill_no.to_owned(), carrier.to_owned()))
    };
    for row in tx
        .query(
            "SELECT waybill_no, carrier, first_event, last_event, last_activity, state FROM parcels \
             WHERE waybill_no = ANY($1)",
            &[&numbers],
        )
        .map_err(|err| pg_error("reading parcels", err))?
    {
        let Some(parcel) = id(&row, 0, 1) else { continue };
        let state = row.get::<_, Option<&[u8]>>(5).map(kuaidi_store::derived::codec::decode).transpose()?;
        let stored = StoredParcel {
            first_event: row.get(2),
            last_event: row.get(3),
            last_activity: Some(row.get(4)),
            state,
            records: ParcelRecords::default(),
        };
        parcels.insert(parcel, stored);
    }

    let with_events: Vec<&ParcelText> =
        parcels.iter().filter(|(_, stored)| stored.first_event.is_some()).map(|(parcel, _)| parcel).collect();
    let from = parcels.values().filter_map(|stored| stored.first_event).min();
    let to = parcels.values().filter_map(|stored| stored.last_event).max();
    if let (Some(from), Some(to)) = (from, to) {
        let numbers = waybill_numbers(with_events);
        for row in tx
            .query(
                "SELECT carrier, event_id, waybill_no, kind, time, offset_s, facility, operator, vehicle, \
                 next_facility, exception_code, signer FROM events \
                 WHERE waybill_no = ANY($1) AND time >= $2 AND time <= $3",
                &[&numbers, &from, &to],
            )
            .map_err(|err| pg_error("reading parcels' events", err))?
        {
            let Some(parcel) = id(&row, 2, 0) else { continue };
            let event = rows::event_row(&row, 0)?;
            if let Some(stored) = parcels.get_mut(&parcel) {
                stored.records.events.push(event);
            }
        }
    }

    let numbers = waybill_numbers(parcels.keys());
    for row in tx
        .query(
            "SELECT product, electronic, created_at, created_offset_s, sender_division, receiver_division, \
             contents_category, contents_description, weight_grams, declared_value_fen, real_name_id_type, \
             real_name_verified, pii, waybill_no, carrier FROM waybills WHERE waybill_no = ANY($1)",
            &[&numbers],
        )
        .map_err(|err| pg_error("reading parcels' waybills", err))?
    {
        let Some(parcel) = id(&row, 13, 14) else { continue };
        let Some(stored) = parcels.get_mut(&parcel) else { continue };
        let carrier = rows::parse("carrier code", &parcel.1, CarrierCode::parse)?;
        let waybill_no = rows::parse("waybill number", &parcel.0, WaybillNo::parse)?;
        stored.records.waybill = Some(rows::waybill_row(&row, key, &carrier, &waybill_no)?);
    }
    for row in tx
        .query(
            &format!(
                "SELECT {} FROM complaints WHERE waybill_no = ANY($1) ORDER BY filed_at, complaint_id COLLATE \"C\"",
                rows::COMPLAINT_COLUMNS
            ),
            &[&numbers],
        )
        .map_err(|err| pg_error("reading parcels' complaints", err))?
    {
        let Some(parcel) = id(&row, 0, 1) else { continue };
        let complaint = rows::complaint_row(&row, key)?;
        if let Some(stored) = parcels.get_mut(&parcel) {
            stored.records.complaints.push(complaint);
        }
    }
    Ok(parcels)
}

/// A parcel to re-derive: its records as they now are, and the state stored for it before.
pub(crate) struct ToDerive {
    pub parcel: ParcelText,
    pub records: ParcelRecords,
    pub old: Option<ParcelState>,
    /// A new parcel's derivation from its records, whose state its row was inserted with (`ingest::speculate`):
    /// used as it is, and the row is not written again.
    pub written: Option<Derivation>,
}

/// What an ingest changes in a parcel's row besides its state: the range of its events' times and its latest
/// activity, each only ever widened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct RowChange {
    pub first_event: Option<DateTime<Utc>>,
    pub last_event: Option<DateTime<Utc>>,
    pub last_activity: Option<DateTime<Utc>>,
}

/// Re-derives the parcels (whose rows the transaction has locked) as of `now`: stores their new states and new
/// alerts, widens their rows by `row_changes`, and moves the aggregates by the difference. Each parcel row is written
/// at most once.
pub(crate) fn rederive(
    tx: &mut Transaction<'_>,
    deriver: &Deriver<'_>,
    mut parcels: Vec<ToDerive>,
    mut row_changes: BTreeMap<ParcelText, RowChange>,
    reload_reference: bool,
    now: DateTime<Utc>,
) -> Result<Changes, StoreError> {
    let mut changes = Changes { examined: parcels.len() as u64, ..Changes::default() };
    if reload_reference {
        // The batch changed carriers or facilities: forget the cache, so the next parcel that needs it reloads it.
        *deriver.reference.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::default();
    }
    for parcel in &mut parcels {
        kuaidi_model::order_events(&mut parcel.records.events);
    }
    let mut reference = deriver.reference.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    if !parcels.iter().all(|parcel| reference.covers(&parcel.records)) {
        reference = Arc::new(load_reference(tx)?);
        *deriver.reference.write().unwrap_or_else(std::sync::PoisonError::into_inner) = reference.clone();
    }

    let mut pairs: Vec<(Option<ParcelState>, Option<ParcelState>)> = Vec::new();
    let mut row_updates = RowUpdates::default();
    let mut alert_rows = AlertRows::default();
    let mut cleared: (Vec<&str>, Vec<&str>, Vec<String>) = (Vec::new(), Vec::new(), Vec::new());
    for parcel in &mut parcels {
        let written = parcel.written.take();
        let row_written = written.is_some();
        let derivation = match written {
            Some(derivation) => derivation,
            None => derive(&parcel.records, parcel.old.as_ref(), reference.as_ref(), deriver.rules, now),
        };
        for alert in &derivation.new_alerts {
            alert_rows.push(&parcel.parcel, alert);
        }
        for dedup_key in &derivation.cleared {
            cleared.0.push(parcel.parcel.0.as_str());
            cleared.1.push(parcel.parcel.1.as_str());
            cleared.2.push(dedup_key.clone());
        }
        let row_change = row_changes.remove(&parcel.parcel);
        if row_written {
            pairs.push((parcel.old.clone(), derivation.state));
            continue;
        }
        if derivation.state == parcel.old {
            if let Some(row_change) = row_change {
                row_updates.push(&parcel.parcel, row_change, None)?;
            }
            continue;
        }
        row_updates.push(
            &parcel.parcel,
            row_change.unwrap_or(RowChange { first_event: None, last_event: None, last_activity: None }),
            Some(derivation.state.as_ref()),
        )?;
        pairs.push((parcel.old.clone(), derivation.state));
    }
    for (parcel, row_change) in &row_changes {
        row_updates.push(parcel, *row_change, None)?;
    }
    changes.new_alerts = alert_rows.insert(tx, now)?;
    if !cleared.0.is_empty() {
        // Alerts whose condition later records undid; a key's own resolution stands.
        tx.execute(
            "UPDATE alerts a SET status = 'cleared', note = 'later records show the condition no longer holds', \
             handled_by = 'kuaidi', handled_at = $4 \
             FROM unnest($1::text[], $2::text[], $3::text[]) AS c (waybill_no, carrier, dedup_key) \
             WHERE a.waybill_no = c.waybill_no AND a.carrier = c.carrier AND a.dedup_key = c.dedup_key \
             AND a.status IN ('open', 'acknowledged')",
            &[&cleared.0, &cleared.1, &cleared.2, &now],
        )
        .map_err(|err| pg_error("clearing alerts", err))?;
    }
    row_updates.write(tx)?;
    changes.changed = pairs.len() as u64;
    if pairs.is_empty() {
        return Ok(changes);
    }
    apply_aggregates(tx, &pairs)?;
    Ok(changes)
}

/// Parcel rows to write, gathered as columns for one update: each row's widened range and activity, and its new
/// state when `set_state`.
#[derive(Default)]
struct RowUpdates {
    waybill_nos: Vec<String>,
    carriers: Vec<String>,
    first_events: Vec<Option<DateTime<Utc>>>,
    last_events: Vec<Option<DateTime<Utc>>>,
    last_activity: Vec<Option<DateTime<Utc>>>,
    set_state: Vec<bool>,
    states: Vec<Option<Vec<u8>>>,
    check_at: Vec<Option<DateTime<Utc>>>,
}

impl RowUpdates {
    /// Notes a row's change; `state` is `Some` when its state changed (to the inner value).
    fn push(
        &mut self,
        parcel: &ParcelText,
        change: RowChange,
        state: Option<Option<&ParcelState>>,
    ) -> Result<(), StoreError> {
        self.waybill_nos.push(parcel.0.clone());
        self.carriers.push(parcel.1.clone());
        self.first_events.push(change.first_event);
        self.last_events.push(change.last_event);
        self.last_activity.push(change.last_activity);
        self.set_state.push(state.is_some());
        let state = state.flatten();
        self.states.push(state.map(kuaidi_store::derived::codec::encode).transpose()?);
        self.check_at.push(state.and_then(|s| s.check_at).and_then(DateTime::<Utc>::from_timestamp_millis));
        Ok(())
    }

    /// Writes every noted row in one statement. The range and activity only widen (`least` and `greatest` skip a
    /// null), so a row change computed before the lock was taken can never narrow them.
    fn write(&self, tx: &mut Transaction<'_>) -> Result<(), StoreError> {
        if self.waybill_nos.is_empty() {
            return Ok(());
        }
        tx.execute(
            "UPDATE parcels p SET first_event = least(p.first_event, u.first_event), \
             last_event = greatest(p.last_event, u.last_event), \
             last_activity = greatest(p.last_activity, u.last_activity), \
             state = CASE WHEN u.set_state THEN u.state ELSE p.state END, \
             check_at = CASE WHEN u.set_state THEN u.check_at ELSE p.check_at END \
             FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::timestamptz[], \
                 $6::boolean[], $7::bytea[], $8::timestamptz[]) \
                 AS u (waybill_no, carrier, first_event, last_event, last_activity, set_state, state, check_at) \
             WHERE p.waybill_no = u.waybill_no AND p.carrier = u.carrier",
            &[
                &self.waybill_nos,
                &self.carriers,
                &self.first_events,
                &self.last_events,
                &self.last_activity,
                &self.set_state,
                &self.states,
                &self.check_at,
            ],
        )
        .map_err(|err| pg_error("writing parcels", err))?;
        Ok(())
    }
}

/// New alerts gathered as columns for one insert.
#[derive(Default)]
struct AlertRows {
    waybill_nos: Vec<String>,
    carriers: Vec<String>,
    dedup_keys: Vec<String>,
    kinds: Vec<String>,
    reasons: Vec<String>,
    events: Vec<String>,
    details: Vec<String>,
    origins: Vec<Option<i32>>,
    destinations: Vec<Option<i32>>,
}

fn city_column(city: Option<AdminCode>) -> Option<i32> {
    city.and_then(|c| i32::try_from(c.as_u32()).ok())
}

impl AlertRows {
    fn push(&mut self, parcel: &(String, String), alert: &kuaidi_store::derived::NewAlert) {
        let draft = &alert.draft;
        let events: Vec<&str> = draft.events.iter().map(|id| id.as_str()).collect();
        self.waybill_nos.push(parcel.0.clone());
        self.carriers.push(parcel.1.clone());
        self.dedup_keys.push(draft.dedup_key.clone());
        self.kinds.push(draft.kind.as_str().to_owned());
        self.reasons.push(draft.detail.reason_code().to_owned());
        self.events.push(serde_json::to_string(&events).unwrap_or_else(|_| "[]".into()));
        self.details.push(alert.detail.clone());
        self.origins.push(city_column(alert.origin_city));
        self.destinations.push(city_column(alert.destination_city));
    }

    /// Inserts the alerts not raised before; answers how many were new.
    fn insert(&self, tx: &mut Transaction<'_>, now: DateTime<Utc>) -> Result<u64, StoreError> {
        if self.waybill_nos.is_empty() {
            return Ok(0);
        }
        tx.execute(
            "INSERT INTO alerts (waybill_no, carrier, dedup_key, kind, reason, events, detail, origin_city, \
             destination_city, raised_at, status) \
             SELECT a.*, $10, 'open' FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], \
                 $6::text[], $7::text[], $8::integer[], $9::integer[]) AS a \
             ON CONFLICT (waybill_no, carrier, dedup_key) DO UPDATE SET status = 'open', note = NULL, \
             handled_by = NULL, handled_at = NULL WHERE alerts.status = 'cleared'",
            &[
                &self.waybill_nos,
                &self.carriers,
                &self.dedup_keys,
                &self.kinds,
                &self.reasons,
                &self.events,
                &self.details,
                &self.origins,
                &self.destinations,
                &now,
            ],
        )
        .map_err(|err| pg_error("raising alerts", err))
    }
}

/// The key of a coverage row, as stored in `coverage_cells.cell`.
fn coverage_cell(row: &CoverageRow) -> Result<String, StoreError> {
    serde_json::to_string(&(row.day, &row.carrier, &row.outlet, &row.courier, row.city))
        .map_err(|err| encode("a coverage key", err))
}

/// Moves the aggregate rows by the difference of each pair, under row locks taken in key order.
fn apply_aggregates(
    tx: &mut Transaction<'_>,
    pairs: &[(Option<ParcelState>, Option<ParcelState>)],
) -> Result<(), StoreError> {
    let mut cells: BTreeMap<String, CellKey> = BTreeMap::new();
    let mut coverage_keys: BTreeSet<String> = BTreeSet::new();
    for state in pairs.iter().flat_map(|(old, new)| old.iter().chain(new.iter())) {
        if let Some(cell) = state.summary.cell() {
            cells.insert(serde_json::to_string(&cell).map_err(|err| encode("a cell key", err))?, cell);
        }
        if let Some(row) = &state.coverage {
            coverage_keys.insert(coverage_cell(row)?);
        }
    }
    let cell_keys: Vec<&String> = cells.keys().collect();
    let coverage_cells: Vec<&String> = coverage_keys.iter().collect();

    // Lock in key order, creating empty rows where none exist and writing nothing to the others, then read what the
    // locked rows hold.
    let mut aggregates = Aggregates::default();
    let mut held_counters: HashMap<String, String> = HashMap::new();
    let mut held_rows: HashMap<String, String> = HashMap::new();
    for row in lock_and_read(tx, "indicator_cells", "counters", &cell_keys)? {
        let (cell, counters): (&str, &str) = (row.get(0), row.get(1));
        if counters.is_empty() {
            continue;
        }
        let key = cells.get(cell).cloned().ok_or_else(|| corrupt_aggregate("an indicator cell", cell))?;
        let parsed: Counters = serde_json::from_str(counters).map_err(|_| corrupt_aggregate("counters", cell))?;
        aggregates.cube.add_cell(&key, &parsed);
        held_counters.insert(cell.to_owned(), counters.to_owned());
    }
    for row in lock_and_read(tx, "coverage_cells", "row", &coverage_cells)? {
        let (cell, text): (&str, &str) = (row.get(0), row.get(1));
        if text.is_empty() {
            continue;
        }
        let stored: CoverageRow = serde_json::from_str(text).map_err(|_| corrupt_aggregate("a coverage row", cell))?;
        let contribution = stored.to_contribution().ok_or_else(|| corrupt_aggregate("a coverage row", cell))?;
        aggregates.coverage.apply(None, Some(&contribution));
        held_rows.insert(cell.to_owned(), text.to_owned());
    }

    for (old, new) in pairs {
        aggregates.apply(old.as_ref(), new.as_ref())?;
    }

    // Write back the rows that changed: their new counters, or gone when they hold nothing (an empty row just
    // created is gone too).
    let (mut put_cells, mut put_counters, mut gone_cells) = (Vec::new(), Vec::new(), Vec::new());
    let cells_now: HashMap<CellKey, Counters> = aggregates.cube.cells().collect();
    for (text, key) in &cells {
        match cells_now.get(key) {
            Some(counters) => {
                let counters = serde_json::to_string(counters).map_err(|err| encode("counters", err))?;
                if held_counters.get(text) != Some(&counters) {
                    put_cells.push(text.as_str());
                    put_counters.push(counters);
                }
            }
            None => gone_cells.push(text.as_str()),
        }
    }
    let mut rows_now: HashMap<String, String> = HashMap::new();
    for (key, counts) in aggregates.coverage.rows() {
        let row = CoverageRow::of(key, counts);
        rows_now.insert(coverage_cell(&row)?, serde_json::to_string(&row).map_err(|err| encode("coverage", err))?);
    }
    let (mut put_coverage, mut put_rows, mut gone_coverage) = (Vec::new(), Vec::new(), Vec::new());
    for cell in &coverage_keys {
        match rows_now.get(cell) {
            Some(row) if held_rows.get(cell) == Some(row) => {}
            Some(row) => {
                put_coverage.push(cell.as_str());
                put_rows.push(row.as_str());
            }
            None => gone_coverage.push(cell.as_str()),
        }
    }
    if !put_cells.is_empty() {
        tx.execute(
            "UPDATE indicator_cells c SET counters = u.counters \
             FROM unnest($1::text[], $2::text[]) AS u (cell, counters) WHERE c.cell = u.cell",
            &[&put_cells, &put_counters],
        )
        .map_err(|err| pg_error("writing indicator cells", err))?;
    }
    if !gone_cells.is_empty() {
        tx.execute("DELETE FROM indicator_cells WHERE cell = ANY($1::text[])", &[&gone_cells])
            .map_err(|err| pg_error("deleting indicator cells", err))?;
    }
    if !put_coverage.is_empty() {
        tx.execute(
            "UPDATE coverage_cells c SET row = u.row FROM unnest($1::text[], $2::text[]) AS u (cell, row) \
             WHERE c.cell = u.cell",
            &[&put_coverage, &put_rows],
        )
        .map_err(|err| pg_error("writing coverage cells", err))?;
    }
    if !gone_coverage.is_empty() {
        tx.execute("DELETE FROM coverage_cells WHERE cell = ANY($1::text[])", &[&gone_coverage])
            .map_err(|err| pg_error("deleting coverage cells", err))?;
    }
    Ok(())
}

/// Locks the aggregate rows `keys` of `table` in key order, inserting an empty one where none exists and writing
/// nothing to the others (`ON CONFLICT DO UPDATE … WHERE false` locks without a new row version), then reads the
/// `value` column of every locked row. The read sees every commit before the locks were granted.
fn lock_and_read(tx: &mut Transaction<'_>, table: &str, value: &str, keys: &[&String]) -> Result<Vec<Row>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    tx.execute(
        &format!(
            "INSERT INTO {table} (cell, {value}) SELECT k, '' FROM unnest($1::text[]) AS k \
             ORDER BY k COLLATE \"C\" ON CONFLICT (cell) DO UPDATE SET {value} = {table}.{value} WHERE false"
        ),
        &[&keys],
    )
    .map_err(|err| pg_error(&format!("locking {table}"), err))?;
    tx.query(&format!("SELECT cell, {value} FROM {table} WHERE cell = ANY($1::text[])"), &[&keys])
        .map_err(|err| pg_error(&format!("reading {table}"), err))
}

fn corrupt_aggregate(what: &str, cell: &str) -> StoreError {
    StoreError::new(ErrorKind::Other, format!("stored {what} `{cell}` does not parse"))
}

/// The indicator cube as the committed rows hold it.
pub(crate) fn cube(client: &mut impl GenericClient) -> Result<Aggregates, StoreError> {
    let mut aggregates = Aggregates::default();
    for row in client
        .query("SELECT cell, counters FROM indicator_cells WHERE counters <> ''", &[])
        .map_err(|err| pg_error("reading indicator cells", err))?
    {
        let (cell, counters): (&str, &str) = (row.get(0), row.get(1));
        let key: CellKey = serde_json::from_str(cell).map_err(|_| corrupt_aggregate("an indicator cell", cell))?;
        let counters: Counters = serde_json::from_str(counters).map_err(|_| corrupt_aggregate("counters", cell))?;
        aggregates.cube.add_cell(&key, &counters);
    }
    Ok(aggregates)
}

/// The coverage table as the committed rows hold it.
pub(crate) fn coverage(client: &mut impl GenericClient) -> Result<Aggregates, StoreError> {
    let mut aggregates = Aggregates::default();
    for row in client
        .query("SELECT cell, row FROM coverage_cells WHERE row <> ''", &[])
        .map_err(|err| pg_error("reading coverage cells", err))?
    {
        let (cell, text): (&str, &str) = (row.get(0), row.get(1));
        let stored: CoverageRow = serde_json::from_str(text).map_err(|_| corrupt_aggregate("a coverage row", cell))?;
        let contribution = stored.to_contribution().ok_or_else(|| corrupt_aggregate("a coverage row", cell))?;
        aggregates.coverage.apply(None, Some(&contribution));
    }
    Ok(aggregates)
}

/// A parcel's stored state.
pub(crate) fn state(
    client: &mut impl GenericClient,
    carrier: &CarrierCode,
    waybill_no: &WaybillNo,
) -> Result<Option<ParcelState>, StoreError> {
    let row = client
        .query_opt(
            "SELECT state FROM parcels WHERE waybill_no = $1 AND carrier = $2",
            &[&waybill_no.as_str(), &carrier.as_str()],
        )
        .map_err(|err| pg_error("reading a parcel's state", err))?;
    let bytes: Option<&[u8]> = row.as_ref().and_then(|row| row.get(0));
    bytes.map(kuaidi_store::derived::codec::decode).transpose()
}

/// Re-derives, in one transaction, up to `limit` parcels whose moment to be looked at again has come, locked in key
/// order. Answers how many were due, and what changed.
pub(crate) fn sweep_chunk(
    tx: &mut Transaction<'_>,
    deriver: &Deriver<'_>,
    now: DateTime<Utc>,
    limit: usize,
) -> Result<(usize, Changes), StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let due: Vec<ParcelText> = tx
        .query(
            "SELECT waybill_no, carrier FROM parcels WHERE check_at <= $1 \
             ORDER BY waybill_no COLLATE \"C\", carrier COLLATE \"C\" LIMIT $2 FOR UPDATE",
            &[&now, &limit],
        )
        .map_err(|err| pg_error("finding parcels due for a sweep", err))?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let to_derive = load(tx, deriver.key, &due)?
        .into_iter()
        .map(|(parcel, stored)| ToDerive { parcel, records: stored.records, old: stored.state, written: None })
        .collect();
    let changes = rederive(tx, deriver, to_derive, BTreeMap::new(), false, now)?;
    Ok((due.len(), changes))
}

const ALERT_COLUMNS: &str = "id, kind, reason, carrier, waybill_no, events, detail, origin_city, destination_city, \
     raised_at, status, note, handled_by, handled_at";

fn alert_row(row: &Row) -> Result<Alert, StoreError> {
    let city = |idx: usize| -> Option<AdminCode> {
        row.get::<_, Option<i32>>(idx)
            .and_then(|code| u32::try_from(code).ok())
            .and_then(|c| AdminCode::from_u32(c).ok())
    };
    let corrupt = |err| StoreError::with_source(ErrorKind::Other, "a stored alert does not parse", err);
    let status: &str = row.get(10);
    Ok(Alert {
        id: row.get(0),
        kind: row.get(1),
        reason: row.get(2),
        carrier: rows::parse("carrier code", row.get(3), CarrierCode::parse)?,
        waybill_no: rows::parse("waybill number", row.get(4), WaybillNo::parse)?,
        events: serde_json::from_str(row.get(5)).map_err(corrupt)?,
        detail: serde_json::from_str(row.get(6)).map_err(corrupt)?,
        origin_city: city(7),
        destination_city: city(8),
        raised_at: row.get(9),
        status: AlertStatus::parse(status)
            .ok_or_else(|| StoreError::new(ErrorKind::Other, format!("stored alert status `{status}` is not valid")))?,
        note: row.get(11),
        handled_by: row.get(12),
        handled_at: row.get(13),
    })
}

/// The code range an area covers, for a `BETWEEN` on city columns.
fn code_range(area: AdminCode) -> (i32, i32) {
    let code = i32::try_from(area.as_u32()).unwrap_or(i32::MAX);
    match area.level() {
        DivisionLevel::Province => (code, code.saturating_add(9_999)),
        DivisionLevel::Prefecture => (code, code.saturating_add(99)),
        _ => (code, code),
    }
}

pub(crate) fn alerts(client: &mut impl GenericClient, query: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<Box<dyn ToSql + Sync>> = Vec::new();
    let mut bind = |condition: &str, value: Box<dyn ToSql + Sync>, values: &mut Vec<Box<dyn ToSql + Sync>>| {
        values.push(value);
        conditions.push(condition.replace('?', &format!("${}", values.len())));
    };
    if let Some(kind) = &query.kind {
        bind("kind = ?", Box::new(kind.clone()), &mut values);
    }
    if let Some(carrier) = &query.carrier {
        bind("carrier = ?", Box::new(carrier.to_string()), &mut values);
    }
    if let Some(status) = query.status {
        bind("status = ?", Box::new(status.as_str().to_owned()), &mut values);
    }
    if let Some(from) = query.from {
        bind("raised_at >= ?", Box::new(from), &mut values);
    }
    if let Some(to) = query.to {
        bind("raised_at < ?", Box::new(to), &mut values);
    }
    if let Some(before) = query.before_id {
        bind("id < ?", Box::new(before), &mut values);
    }
    let mut areas = Vec::new();
    for area in &query.areas {
        let (lo, hi) = code_range(*area);
        values.push(Box::new(lo));
        values.push(Box::new(hi));
        let (a, b) = (values.len() - 1, values.len());
        areas.push(format!("(origin_city BETWEEN ${a} AND ${b} OR destination_city BETWEEN ${a} AND ${b})"));
    }
    if !areas.is_empty() {
        conditions.push(format!("({})", areas.join(" OR ")));
    }
    let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts");
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    values.push(Box::new(i64::try_from(query.limit).unwrap_or(i64::MAX)));
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ${}", values.len()));
    let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|value| value.as_ref()).collect();
    let rows = client.query(&sql, &params).map_err(|err| pg_error("listing alerts", err))?;
    rows.iter().map(alert_row).collect()
}

pub(crate) fn update_alert(
    client: &mut impl GenericClient,
    id: i64,
    change: &AlertChange,
) -> Result<Alert, StoreError> {
    let row = client
        .query_opt(
            &format!(
                "UPDATE alerts SET status = $2, note = $3, handled_by = $4, handled_at = $5 WHERE id = $1 \
                 RETURNING {ALERT_COLUMNS}"
            ),
            &[&id, &change.status.as_str(), &change.note, &change.key_id, &change.at],
        )
        .map_err(|err| pg_error("updating an alert", err))?;
    match row {
        Some(row) => alert_row(&row),
        None => Err(StoreError::new(ErrorKind::NotFound, format!("no alert has the id `{id}`"))),
    }
}

/// Parcel states in key order `(waybill_no, carrier)`, byte-wise (`COLLATE "C"`, as the embedded store orders),
/// strictly after `after`; parcels stored before derived state and not yet swept have no state and are left out.
pub(crate) fn states_after(
    conn: &mut crate::conn::Conn,
    after: Option<(&WaybillNo, &CarrierCode)>,
    limit: usize,
) -> Result<Vec<(CarrierCode, WaybillNo, ParcelState)>, StoreError> {
    let (waybill_no, carrier) = after.map_or(("", ""), |(w, c)| (w.as_str(), c.as_str()));
    let statement = conn.statement(
        "SELECT state FROM parcels \
         WHERE (waybill_no COLLATE \"C\", carrier COLLATE \"C\") > ($1, $2) AND state IS NOT NULL \
         ORDER BY waybill_no COLLATE \"C\", carrier COLLATE \"C\" LIMIT $3",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = conn
        .client
        .query(&statement, &[&waybill_no, &carrier, &limit])
        .map_err(|err| pg_error("paging through parcel states", err))?;
    rows.iter()
        .map(|row| {
            let state = kuaidi_store::derived::codec::decode(row.get::<_, &[u8]>(0))?;
            Ok((state.summary.carrier.clone(), state.summary.waybill_no.clone(), state))
        })
        .collect()
}
