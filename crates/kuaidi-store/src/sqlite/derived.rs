//! The embedded backend's side of derived state: parcel states and alerts in tables, the aggregates in memory with a
//! snapshot that is trusted only after a clean write (see migration `0004_derived.sql`).

use std::collections::HashMap;
use std::sync::{mpsc, Arc};

use chrono::{DateTime, Utc};
use kuaidi_model::{AdminCode, CarrierCode, DivisionLevel, WaybillNo};
use kuaidi_rules::{CellKey, Counters};
use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension};

use super::cache::{CachedParcel, ParcelCache};
use super::{rows, sql_error};
use crate::derived::{
    codec, derive, derive_after_clock, Aggregates, CoverageRow, ParcelKey, ParcelRecords, ParcelState, RefCache, Rules,
};
use crate::seal::PiiKey;
use crate::{Alert, AlertChange, AlertQuery, AlertStatus, ErrorKind, StoreError};

/// Loads the rules' reference cache from the stored carriers and facilities.
pub(super) fn load_reference(conn: &Connection) -> Result<RefCache, StoreError> {
    Ok(RefCache::new(rows::carriers(conn)?.into_iter().map(|carrier| carrier.code), rows::facilities(conn)?))
}

/// The writer's bookkeeping of the snapshot.
#[derive(Debug)]
pub(super) struct SnapshotState {
    /// Whether no state has changed since the last batch was handed to the flush, which writes the snapshot with it:
    /// once that batch is written, the stored snapshot matches the aggregates.
    pub unchanged: bool,
    /// When the last batch was handed over.
    pub handed_over_at: std::time::Instant,
}

/// Loads the aggregates: the snapshot when it is clean, otherwise a recount over every parcel's state.
pub(super) fn load_aggregates(conn: &Connection) -> Result<(Aggregates, bool), StoreError> {
    let meta: String = conn
        .query_row("SELECT value FROM derived_meta WHERE key = 'aggregates'", [], |row| row.get(0))
        .map_err(|err| sql_error("reading the aggregates' state", err))?;
    if meta == "clean" {
        let body = |name: &str| -> Result<String, StoreError> {
            conn.query_row("SELECT body FROM aggregate_snapshot WHERE name = ?1", [name], |row| row.get(0))
                .map_err(|err| sql_error("reading the aggregates' snapshot", err))
        };
        let cells: Vec<(CellKey, Counters)> = serde_json::from_str(&body("cube")?).map_err(corrupt_snapshot)?;
        let coverage: Vec<CoverageRow> = serde_json::from_str(&body("coverage")?).map_err(corrupt_snapshot)?;
        let mut aggregates = Aggregates::default();
        for (key, counters) in cells {
            aggregates.cube.add_cell(&key, &counters);
        }
        for row in &coverage {
            let contribution = row.to_contribution().ok_or_else(|| {
                StoreError::new(ErrorKind::Other, "the aggregates' snapshot holds a coverage row that does not parse")
            })?;
            aggregates.coverage.apply(None, Some(&contribution));
        }
        return Ok((aggregates, true));
    }
    tracing::warn!("the aggregates were not saved cleanly (the server stopped abruptly); recounting every parcel");
    Ok((recount(conn)?, false))
}

/// Counts the aggregates from scratch over every parcel's stored state.
pub(super) fn recount(conn: &Connection) -> Result<Aggregates, StoreError> {
    let mut aggregates = Aggregates::default();
    let mut stmt =
        conn.prepare("SELECT state FROM parcels").map_err(|err| sql_error("recounting the aggregates", err))?;
    let mut states = stmt.query([]).map_err(|err| sql_error("recounting the aggregates", err))?;
    let mut n_parcels = 0u64;
    while let Some(row) = states.next().map_err(|err| sql_error("recounting the aggregates", err))? {
        let state = stored_state(row.get_ref(0).map_err(|err| sql_error("recounting the aggregates", err))?)?;
        aggregates.apply(None, Some(&state))?;
        n_parcels += 1;
    }
    tracing::info!(n_parcels, "recounted the aggregates");
    Ok(aggregates)
}

fn corrupt_snapshot(err: serde_json::Error) -> StoreError {
    StoreError::with_source(ErrorKind::Other, "the aggregates' snapshot does not parse", err)
}

/// A state as `parcels.state` holds it: a BLOB in [`codec`] form since schema version 6, or the JSON text of a row
/// written before, which is read as it is (the codec tells the two apart).
fn stored_state(value: ValueRef<'_>) -> Result<ParcelState, StoreError> {
    match value {
        ValueRef::Blob(bytes) | ValueRef::Text(bytes) => codec::decode(bytes),
        other => Err(StoreError::new(
            ErrorKind::Other,
            format!("a stored parcel state is of SQLite type {}, neither BLOB nor TEXT", other.data_type()),
        )),
    }
}

/// Parcel states derived but not yet written to `parcels`, journalled in `unflushed_batches` (migration 0009).
///
/// Keyed with foldhash, a fast hash seeded at random per process: these maps take a lookup or an insert for every parcel
/// a transaction touches, on the writer's thread, and SipHash (std's default) showed in its profile.
pub(super) type Pending = HashMap<ParcelKey, Arc<ParcelState>, foldhash::fast::RandomState>;

/// The states newer than their rows in `parcels`: those gathered since the last hand-over to the flush, and the batch
/// the flush is writing to the states file (schema version 8) on its own thread, until the writer has seen it
/// committed. A parcel's newest state is in `current` when it is there, then in `flushing`, then in the table.
#[derive(Debug, Default)]
pub(super) struct PendingStates {
    pub current: Pending,
    pub flushing: Option<Arc<Pending>>,
}

impl PendingStates {
    /// A parcel's newest state not yet in the table, if it has one.
    pub fn get(&self, key: &ParcelKey) -> Option<&Arc<ParcelState>> {
        self.current.get(key).or_else(|| self.flushing.as_deref().and_then(|batch| batch.get(key)))
    }

    /// Whether the table's row for the parcel may be older than its newest state.
    pub fn contains(&self, key: &ParcelKey) -> bool {
        self.get(key).is_some()
    }

    /// Every parcel's newest state not yet in the table.
    pub fn latest(&self) -> impl Iterator<Item = (&ParcelKey, &Arc<ParcelState>)> {
        let current = &self.current;
        let flushing =
            self.flushing.iter().flat_map(|batch| batch.iter()).filter(|(key, _)| !current.contains_key(*key));
        current.iter().chain(flushing)
    }
}

/// A parcel's state as the writer shares it between its cache, the pending states and the change pairs.
pub(super) type SharedState = Option<Arc<ParcelState>>;

/// The flush: writes a batch of states to `parcels` in key order and saves the aggregates' snapshot (or, with
/// `recount`, the aggregates counted again from the table just written, which it returns), in one transaction on the
/// states file's own connection. `parcels` and the snapshot then agree again. The journal, in the main file, is the
/// writer's to empty once it has seen this commit.
pub(super) fn write_states(
    conn: &mut Connection,
    batch: &Pending,
    aggregates: &Aggregates,
    recount: bool,
) -> Result<Option<Aggregates>, StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(|err| sql_error("starting to write parcel states", err))?;
    write_pending(&tx, batch)?;
    let recounted = if recount { Some(self::recount(&tx)?) } else { None };
    write_snapshot(&tx, recounted.as_ref().unwrap_or(aggregates))?;
    tx.commit().map_err(|err| sql_error("committing parcel states", err))?;
    Ok(recounted)
}

/// Writes states to `parcels` in key order, inside the caller's transaction.
///
/// Encoding is pure work: a helper thread encodes each slice of [`ENCODE_SLICE`] states while this thread writes the
/// slice before it.
fn write_pending(conn: &Connection, pending: &Pending) -> Result<(), StoreError> {
    let mut states: Vec<(&ParcelKey, &ParcelState)> = pending.iter().map(|(key, state)| (key, &**state)).collect();
    // Sorted on copies of the keys (held inline), side by side in one vector, rather than reaching into the map for
    // both keys at every comparison: the sort took half the time (docs/BENCHMARKS.md, session 25).
    states.sort_by_cached_key(|((carrier, waybill_no), _)| (waybill_no.clone(), carrier.clone()));
    let mut writer = StateWriter::new(conn)?;
    std::thread::scope(|scope| {
        let (encoded_tx, encoded) = mpsc::sync_channel(2);
        let slices = states.chunks(ENCODE_SLICE);
        let encoder = std::thread::Builder::new().name("kuaidi-encode".into()).spawn_scoped(scope, {
            let slices = slices.clone();
            move || {
                for slice in slices {
                    // The receiver is gone only when writing failed.
                    if encoded_tx.send(encode_slice(slice)).is_err() {
                        return;
                    }
                }
            }
        });
        for slice in slices {
            let bytes = match &encoder {
                Ok(_) => encoded.recv().map_err(|_| {
                    StoreError::new(ErrorKind::Other, "the thread encoding parcel states stopped early")
                })??,
                Err(_) => encode_slice(slice)?,
            };
            for ((key, state), bytes) in slice.iter().zip(&bytes) {
                writer.write_encoded(key, state, bytes)?;
            }
        }
        Ok::<(), StoreError>(())
    })
}

/// The journal's last row (0 when it has none): the rows up to it name every parcel whose state the writer holds
/// pending at this point of its transaction.
pub(super) fn journal_end(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("SELECT coalesce(max(seq), 0) FROM unflushed_batches", [], |row| row.get(0))
        .map_err(|err| sql_error("reading the state journal", err))
}

/// Empties the journal up to `seq`, once the states it names are in the states file. `seq` is never reused
/// (AUTOINCREMENT since schema version 8), so rows journalled after the batch was handed over stay.
pub(super) fn forget_journal(conn: &Connection, seq: i64) -> Result<(), StoreError> {
    conn.execute("DELETE FROM unflushed_batches WHERE seq <= ?1", [seq])
        .map_err(|err| sql_error("emptying the state journal", err))?;
    Ok(())
}

/// Writes parcel states, already in [`codec`] form, to `parcels` with one prepared statement.
struct StateWriter<'c> {
    stmt: rusqlite::CachedStatement<'c>,
}

impl<'c> StateWriter<'c> {
    fn new(conn: &'c Connection) -> Result<StateWriter<'c>, StoreError> {
        let stmt = conn
            .prepare_cached(
                "INSERT INTO parcels (waybill_no, carrier, check_ms, state) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (waybill_no, carrier) DO UPDATE SET check_ms = excluded.check_ms, state = excluded.state",
            )
            .map_err(|err| sql_error("writing parcel states", err))?;
        Ok(StateWriter { stmt })
    }

    /// Writes a state already encoded (`bytes`).
    fn write_encoded(
        &mut self,
        (carrier, waybill_no): &ParcelKey,
        state: &ParcelState,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        self.stmt
            .execute(params![waybill_no.as_str(), carrier.as_str(), state.check_at, bytes])
            .map_err(|err| sql_error("writing parcel states", err))?;
        Ok(())
    }
}

/// States encoded at a time by [`write_pending`]'s helper.
const ENCODE_SLICE: usize = 8192;

fn encode_slice(states: &[(&ParcelKey, &ParcelState)]) -> Result<Vec<Vec<u8>>, StoreError> {
    states.iter().map(|(_, state)| codec::encode(state)).collect()
}

/// The parcels the journal says have a state in `parcels` older than their records, and the latest clock it noted.
pub(super) fn journalled(conn: &Connection) -> Result<(Vec<ParcelKey>, Option<DateTime<Utc>>), StoreError> {
    let reading = |err| sql_error("reading the state journal", err);
    let latest: Option<i64> =
        conn.query_row("SELECT max(at_ms) FROM unflushed_batches", [], |row| row.get(0)).map_err(reading)?;
    let mut stmt = conn.prepare("SELECT parcels FROM unflushed_batches").map_err(reading)?;
    let batches = stmt
        .query_map([], |row| row.get::<_, String>(0))
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(reading)?;
    let mut keys = batches
        .iter()
        .flat_map(|parcels| parcels.lines())
        .map(|line| match line.split_once('\t') {
            Some((carrier, waybill_no)) => parse_key(carrier, waybill_no),
            None => Err(StoreError::new(
                ErrorKind::Other,
                format!("a line `{line}` of the state journal is not a carrier and a waybill number"),
            )),
        })
        .collect::<Result<Vec<ParcelKey>, _>>()?;
    keys.sort_unstable();
    keys.dedup();
    Ok((keys, latest.and_then(DateTime::<Utc>::from_timestamp_millis)))
}

/// Adds a parcel to a transaction's journal row ([`Changes::journal`]): a line of its carrier, a tab, and its waybill
/// number (neither can hold a tab or a line break).
pub(super) fn journal_line(journal: &mut String, (carrier, waybill_no): &ParcelKey) {
    if !journal.is_empty() {
        journal.push('\n');
    }
    journal.push_str(carrier.as_str());
    journal.push('\t');
    journal.push_str(waybill_no.as_str());
}

fn parse_key(carrier: &str, waybill_no: &str) -> Result<ParcelKey, StoreError> {
    let bad =
        || StoreError::new(ErrorKind::Other, format!("a stored parcel key `{carrier}/{waybill_no}` does not parse"));
    Ok((CarrierCode::parse(carrier).map_err(|_| bad())?, WaybillNo::parse(waybill_no).map_err(|_| bad())?))
}

/// Writes the snapshot and marks it clean, inside the caller's transaction.
fn write_snapshot(conn: &Connection, aggregates: &Aggregates) -> Result<(), StoreError> {
    let cells: Vec<(CellKey, Counters)> = aggregates.cells().collect();
    let coverage: Vec<CoverageRow> =
        aggregates.coverage.rows().map(|(key, counts)| CoverageRow::of(key, counts)).collect();
    let encode = |err| StoreError::with_source(ErrorKind::Other, "encoding the aggregates' snapshot", err);
    let cube_text = serde_json::to_string(&cells).map_err(encode)?;
    let coverage_text = serde_json::to_string(&coverage).map_err(encode)?;
    conn.execute("UPDATE aggregate_snapshot SET body = ?1 WHERE name = 'cube'", [cube_text])
        .and_then(|_| conn.execute("UPDATE aggregate_snapshot SET body = ?1 WHERE name = 'coverage'", [coverage_text]))
        .and_then(|_| conn.execute("UPDATE derived_meta SET value = 'clean' WHERE key = 'aggregates'", []))
        .map_err(|err| sql_error("saving the aggregates", err))?;
    Ok(())
}

/// A parcel's stored state.
pub(super) fn state(
    conn: &Connection,
    carrier: &CarrierCode,
    waybill_no: &WaybillNo,
) -> Result<Option<ParcelState>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT state FROM parcels WHERE waybill_no = ?1 AND carrier = ?2")
        .map_err(|err| sql_error("reading a parcel's state", err))?;
    let mut rows = stmt
        .query([waybill_no.as_str(), carrier.as_str()])
        .map_err(|err| sql_error("reading a parcel's state", err))?;
    match rows.next().map_err(|err| sql_error("reading a parcel's state", err))? {
        Some(row) => stored_state(row.get_ref(0).map_err(|err| sql_error("reading a parcel's state", err))?).map(Some),
        None => Ok(None),
    }
}

/// What re-deriving a set of parcels changed: the parcels whose state changed with their old and new states (for the
/// aggregates, once the transaction has committed, and then for the pending states), and how many alerts were raised.
#[derive(Debug, Default)]
pub(super) struct Changes {
    pub keys: Vec<ParcelKey>,
    pub pairs: Vec<(SharedState, SharedState)>,
    pub new_alerts: u64,
    pub examined: u64,
    /// Parcels that left the cache, freed by whoever drops these changes: the deriver, after it has let go of the
    /// cache, or the writer once its lock is released.
    pub retired: Vec<CachedParcel>,
    /// The parcels this transaction journals, as the lines of its row in `unflushed_batches` ([`journal_line`]).
    pub journal: String,
    /// What the derivations raised and cleared, in the parcels' order, for [`write_alerts`].
    pub alerts: Vec<AlertWrites>,
    /// The derivations' clock, for the journal row ([`write_journal`]).
    pub at_ms: i64,
    /// In a recovery, every parcel's active alert keys after its derivation, changed or not ([`reconcile_alerts`]).
    pub active: Vec<(ParcelKey, Vec<String>)>,
}

/// Re-derives the parcels the journal names, inside the writer's transaction, from their records, and stores what
/// they raise and clear. An alert the last derivations raised may be stored while the one that cleared it was lost
/// with the process (the writer stores a derivation's alerts in a transaction after the records'), so every alert of
/// these parcels still open or acknowledged whose key is not active in the new state is cleared too.
#[allow(clippy::too_many_arguments)]
pub(super) fn rederive(
    conn: &Connection,
    key: &PiiKey,
    reference: &Arc<RefCache>,
    cache: &mut ParcelCache,
    pending: &PendingStates,
    rules: &Arc<Rules>,
    parcels: Vec<ParcelKey>,
    now: DateTime<Utc>,
) -> Result<Changes, StoreError> {
    let mut pipeline = Pipeline::new(Arc::clone(reference), Arc::clone(rules), Journal::Recover, now);
    for parcel_key in parcels {
        let cached = cache.take(&parcel_key);
        pipeline.touched(conn, key, pending, parcel_key, cached)?;
    }
    let mut changes = pipeline.finish(cache)?;
    changes.new_alerts += write_alerts(conn, &changes.alerts)?;
    reconcile_alerts(conn, &changes.active, changes.at_ms)?;
    Ok(changes)
}

/// Clears the open or acknowledged alerts of each parcel whose key is not among its active ones.
fn reconcile_alerts(conn: &Connection, active: &[(ParcelKey, Vec<String>)], at_ms: i64) -> Result<(), StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "UPDATE alerts SET status = 'cleared', note = 'later records show the condition no longer holds', \
             handled_by = 'kuaidi', handled_ms = ?4 \
             WHERE waybill_no = ?1 AND carrier = ?2 AND status IN ('open', 'acknowledged') \
             AND dedup_key NOT IN (SELECT value FROM json_each(?3))",
        )
        .map_err(|err| sql_error("clearing alerts after a recovery", err))?;
    for ((carrier, waybill_no), keys) in active {
        let keys = serde_json::to_string(keys).unwrap_or_else(|_| "[]".into());
        stmt.execute(params![waybill_no.as_str(), carrier.as_str(), keys, at_ms])
            .map_err(|err| sql_error("clearing alerts after a recovery", err))?;
    }
    Ok(())
}

/// Which parcels whose state changes a [`Pipeline`] journals in `unflushed_batches`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Journal {
    /// A sweep: every one, with the sweep's clock, so that an open after a crash re-derives them as of the sweep.
    Always,
    /// Ingest, derived behind the writer: none, since the transaction that stored their records journalled them.
    Ingest,
    /// Recovery (at open, or when another connection wrote or a batch failed to derive), which re-derives what the
    /// journal names: the rows stay, and name the recovered states until a flush writes them. The parcels' alerts are
    /// brought in line with their new states ([`Changes::active`]).
    Recover,
}

/// Re-derives parcels: notes what they raise and clear ([`Changes::alerts`], which the caller stores), journals those
/// whose state changes (as `journal` says), and returns the old and new states. It writes nothing: the caller keeps
/// the new states pending until a flush.
///
/// Its owner hands each parcel over in turn ([`Pipeline::touched`], [`Pipeline::due`]): the deriver for a committed
/// batch, the writer for a sweep or a recovery. Loading a parcel happens then, on the owner's thread and connection:
/// a parcel in the cache comes from it, a due parcel is re-derived from its state, any other is read from the tables
/// (its state from `pending` when there is one) and then cached while in flight. Deriving, pure work, happens on a
/// helper thread, [`PARCELS_PER_CHUNK`] parcels at a time, while the owner loads the next parcels.
/// [`Pipeline::finish`] derives the last chunk itself and takes the helper's derivations in the parcels' order, so
/// what they raise is the same as when every parcel was derived one by one. Fewer parcels than a chunk start no thread.
///
/// The helper is a plain thread that sleeps on its channel, one per pipeline that needs it: rayon's workers, woken
/// for each chunk, spin while they wait for the next one, and took the writer's core (docs/BENCHMARKS.md).
pub(super) struct Pipeline {
    reference: Arc<RefCache>,
    rules: Arc<Rules>,
    journal: Journal,
    now: DateTime<Utc>,
    /// Parcels loaded and not yet handed to the helper.
    chunk: Vec<Loaded>,
    helper: Option<Helper>,
    examined: u64,
}

/// The thread deriving a pipeline's chunks, in the order they are sent.
struct Helper {
    chunks: mpsc::Sender<Vec<Loaded>>,
    derived: mpsc::Receiver<Vec<Derived>>,
    thread: std::thread::JoinHandle<()>,
    n_sent: usize,
}

/// A parcel derived: its key, its derivation, its old state, and its records to cache when they were loaded.
type Derived = (ParcelKey, crate::derived::Derivation, SharedState, Option<ParcelRecords>);

impl Pipeline {
    pub fn new(reference: Arc<RefCache>, rules: Arc<Rules>, journal: Journal, now: DateTime<Utc>) -> Pipeline {
        Pipeline { reference, rules, journal, now, chunk: Vec::new(), helper: None, examined: 0 }
    }

    /// Hands over a parcel whose records this transaction changed, once all of them are stored, with the parcel as
    /// the cache held it (with those records applied), if it did.
    pub fn touched(
        &mut self,
        conn: &Connection,
        key: &PiiKey,
        pending: &PendingStates,
        parcel_key: ParcelKey,
        cached: Option<CachedParcel>,
    ) -> Result<(), StoreError> {
        self.take_in(|_| {
            let parcel = match cached {
                Some(cached) => cached,
                None => load(conn, key, pending.get(&parcel_key).map(Arc::clone), &parcel_key)?,
            };
            Ok(Loaded::FromRecords(parcel_key, parcel))
        })
    }

    /// Hands over a parcel due for a sweep, with its current state.
    pub fn due(
        &mut self,
        conn: &Connection,
        key: &PiiKey,
        cache: &mut ParcelCache,
        parcel_key: ParcelKey,
        old: Arc<ParcelState>,
    ) -> Result<(), StoreError> {
        self.take_in(|pipeline| {
            Ok(match cache.take(&parcel_key) {
                Some(cached) => Loaded::FromRecords(parcel_key, cached),
                None => match derive_after_clock(&old, &pipeline.rules, pipeline.now) {
                    Some(derivation) => Loaded::FromState(parcel_key, derivation, old),
                    None => {
                        let parcel = load(conn, key, Some(old), &parcel_key)?;
                        Loaded::FromRecords(parcel_key, parcel)
                    }
                },
            })
        })
    }

    /// Loads one parcel on the calling thread, and hands the chunk over once it is full.
    fn take_in(&mut self, load: impl FnOnce(&Pipeline) -> Result<Loaded, StoreError>) -> Result<(), StoreError> {
        self.examined += 1;
        let loaded = load(self)?;
        self.chunk.push(loaded);
        self.send_full();
        Ok(())
    }

    /// Hands a full chunk to the helper, starting it first if need be; when no thread can be started, the chunk
    /// stays with the writer, which derives it at the end.
    fn send_full(&mut self) {
        if self.chunk.len() < PARCELS_PER_CHUNK {
            return;
        }
        if self.helper.is_none() {
            self.helper = self.start_helper();
        }
        if let Some(helper) = &mut self.helper {
            let chunk = std::mem::replace(&mut self.chunk, Vec::with_capacity(PARCELS_PER_CHUNK));
            match helper.chunks.send(chunk) {
                Ok(()) => helper.n_sent += 1,
                // The helper is gone (it panicked): the chunk comes back, and `finish` reports the panic.
                Err(mpsc::SendError(chunk)) => self.chunk = chunk,
            }
        }
    }

    fn start_helper(&self) -> Option<Helper> {
        let (chunks, chunks_rx) = mpsc::channel::<Vec<Loaded>>();
        let (derived_tx, derived) = mpsc::channel();
        let (reference, rules, now) = (Arc::clone(&self.reference), Arc::clone(&self.rules), self.now);
        let thread = std::thread::Builder::new().name("kuaidi-derive".into()).spawn(move || {
            for chunk in chunks_rx {
                let derived: Vec<Derived> =
                    chunk.into_iter().map(|parcel| parcel.derive(&reference, &rules, now)).collect();
                // The receiver is gone only when the transaction failed; its parcels are forgotten anyway.
                if derived_tx.send(derived).is_err() {
                    return;
                }
            }
        });
        match thread {
            Ok(thread) => Some(Helper { chunks, derived, thread, n_sent: 0 }),
            Err(err) => {
                tracing::warn!(%err, "could not start a derivation thread; the writer derives the parcels itself");
                None
            }
        }
    }

    /// Derives what is left, takes the helper's derivations, then stores what they raised and cleared and journals
    /// the parcels whose state changed, in the parcels' order, and caches the parcels still in flight.
    pub fn finish(self, cache: &mut ParcelCache) -> Result<Changes, StoreError> {
        let Pipeline { reference, rules, journal, now, chunk, helper, examined } = self;
        let last: Vec<Derived> = chunk.into_iter().map(|parcel| parcel.derive(&reference, &rules, now)).collect();
        let mut chunks = Vec::new();
        if let Some(Helper { chunks: sender, derived, thread, n_sent }) = helper {
            drop(sender);
            chunks.reserve(n_sent + 1);
            for _ in 0..n_sent {
                match derived.recv() {
                    Ok(chunk) => chunks.push(chunk),
                    Err(_) => break,
                }
            }
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
            if chunks.len() < n_sent {
                return Err(StoreError::new(ErrorKind::Other, "the derivation thread stopped before its last chunk"));
            }
        }
        chunks.push(last);
        let now_ms = now.timestamp_millis();
        let mut changes = Changes { examined, at_ms: now_ms, ..Changes::default() };
        for (parcel_key, derivation, old, records) in chunks.into_iter().flatten() {
            let new = record(&parcel_key, derivation, old, journal, now_ms, &mut changes);
            if let Some(records) = records {
                cache.put(parcel_key, CachedParcel { records, state: new }, &mut changes.retired);
            }
        }
        Ok(changes)
    }
}

/// Reads a parcel that is not in the cache from the tables; its state is `known` when there is one pending.
fn load(
    conn: &Connection,
    key: &PiiKey,
    known: SharedState,
    (carrier, waybill_no): &ParcelKey,
) -> Result<CachedParcel, StoreError> {
    Ok(CachedParcel {
        state: match known {
            Some(state) => Some(state),
            None => state(conn, carrier, waybill_no)?.map(Arc::new),
        },
        records: ParcelRecords {
            waybill: rows::waybill(conn, key, carrier, waybill_no)?,
            events: rows::events_of(conn, carrier, waybill_no)?,
            complaints: rows::complaints_of(conn, key, carrier, waybill_no)?,
        },
    })
}

/// Parcels the helper derives at a time: fewer cost more in hand-overs than they save, more leave the writer deriving
/// a longer last chunk itself. A chunk's derivations are about a kilobyte each. At 1,024 a chunk's vector was a
/// megabyte, and filling it was the helper thread's page faults in the ingest profile: mimalloc (v3, the `mimalloc`
/// crate's default) gives a block over 512 KiB a page of its own rather than a slot in a page of blocks its size. At
/// 128 (about 127 KB) the default demo took a third fewer page faults (docs/BENCHMARKS.md, session 14).
const PARCELS_PER_CHUNK: usize = 128;

/// A parcel of a [`Pipeline`]'s, once loaded: to derive from its records, or already derived from its state alone.
enum Loaded {
    FromRecords(ParcelKey, CachedParcel),
    FromState(ParcelKey, crate::derived::Derivation, Arc<ParcelState>),
}

impl Loaded {
    fn derive(self, reference: &RefCache, rules: &Rules, now: DateTime<Utc>) -> Derived {
        match self {
            Loaded::FromRecords(parcel_key, CachedParcel { records, state: old }) => {
                let derivation = derive(&records, old.as_deref(), reference, rules, now);
                (parcel_key, derivation, old, Some(records))
            }
            Loaded::FromState(parcel_key, derivation, old) => (parcel_key, derivation, Some(old), None),
        }
    }
}

/// Notes what a derivation raised and cleared ([`Changes::alerts`]), journals the parcel when its state changed, and
/// notes the change; returns the parcel's state from now on.
fn record(
    parcel_key: &ParcelKey,
    derivation: crate::derived::Derivation,
    old: SharedState,
    journal: Journal,
    now_ms: i64,
    changes: &mut Changes,
) -> SharedState {
    let crate::derived::Derivation { state, new_alerts, cleared } = derivation;
    if journal == Journal::Recover {
        let active = state.as_ref().map(|state| state.alert_keys.clone()).unwrap_or_default();
        changes.active.push((parcel_key.clone(), active));
    }
    if !new_alerts.is_empty() || !cleared.is_empty() {
        changes.alerts.push(AlertWrites { key: parcel_key.clone(), raised: new_alerts, cleared, at_ms: now_ms });
    }
    if state.as_ref() == old.as_deref() {
        return old;
    }
    if journal == Journal::Always {
        journal_line(&mut changes.journal, parcel_key);
    }
    let new = state.map(Arc::new);
    changes.keys.push(parcel_key.clone());
    changes.pairs.push((old, new.clone()));
    new
}

/// What one derivation raised and cleared, for the writer to store in `alerts` ([`write_alerts`]).
#[derive(Debug)]
pub(super) struct AlertWrites {
    key: ParcelKey,
    raised: Vec<crate::derived::NewAlert>,
    cleared: Vec<String>,
    /// The derivation's clock, the alerts' `raised_ms` or `handled_ms`.
    at_ms: i64,
}

/// Stores what derivations raised and cleared, in their order, inside the writer's transaction: a new alert is
/// inserted, a cleared one raised again is reopened, and alerts whose condition no longer holds are cleared. Returns
/// how many alerts were raised or reopened.
pub(super) fn write_alerts(conn: &Connection, writes: &[AlertWrites]) -> Result<u64, StoreError> {
    let mut n_raised = 0;
    for AlertWrites { key: (carrier, waybill_no), raised, cleared, at_ms } in writes {
        for alert in raised {
            let draft = &alert.draft;
            let events: Vec<&str> = draft.events.iter().map(|id| id.as_str()).collect();
            let n_inserted = conn
                .prepare_cached(
                    "INSERT INTO alerts (waybill_no, carrier, dedup_key, kind, reason, events, detail, origin_city, \
                     destination_city, raised_ms, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'open') \
                     ON CONFLICT (waybill_no, carrier, dedup_key) DO UPDATE SET status = 'open', note = NULL, \
                     handled_by = NULL, handled_ms = NULL WHERE status = 'cleared'",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![
                        waybill_no.as_str(),
                        carrier.as_str(),
                        draft.dedup_key,
                        draft.kind.as_str(),
                        draft.detail.reason_code(),
                        serde_json::to_string(&events).unwrap_or_else(|_| "[]".into()),
                        alert.detail.as_str(),
                        alert.origin_city.map(AdminCode::as_u32),
                        alert.destination_city.map(AdminCode::as_u32),
                        at_ms,
                    ])
                })
                .map_err(|err| sql_error("raising an alert", err))?;
            n_raised += n_inserted as u64;
        }
        for dedup_key in cleared {
            conn.prepare_cached(
                "UPDATE alerts SET status = 'cleared', note = 'later records show the condition no longer holds', \
                 handled_by = 'kuaidi', handled_ms = ?4 \
                 WHERE waybill_no = ?1 AND carrier = ?2 AND dedup_key = ?3 AND status IN ('open', 'acknowledged')",
            )
            .and_then(|mut stmt| stmt.execute(params![waybill_no.as_str(), carrier.as_str(), dedup_key, at_ms]))
            .map_err(|err| sql_error("clearing an alert", err))?;
        }
    }
    Ok(n_raised)
}

/// Writes a transaction's journal row, naming the parcels in `journal` ([`journal_line`]) with the clock `at_ms`
/// they were derived at; nothing when it names none. Returns the row's `seq`, if it wrote one.
pub(super) fn write_journal(conn: &Connection, journal: &str, at_ms: i64) -> Result<Option<i64>, StoreError> {
    if journal.is_empty() {
        return Ok(None);
    }
    conn.prepare_cached("INSERT INTO unflushed_batches (at_ms, parcels) VALUES (?1, ?2)")
        .and_then(|mut stmt| stmt.execute(params![at_ms, journal]))
        .map_err(|err| sql_error("journalling the parcels' states", err))?;
    Ok(Some(conn.last_insert_rowid()))
}

/// Where a sweep stopped in `parcels`: the last row it took or passed, in the order of `parcels_due`.
pub(super) type DueCursor = (i64, String, String);

/// Open parcels whose moment to be looked at again has come, at most `limit`, with their current states: pending
/// states first, then stored states of parcels with none pending, after `cursor` in `(check_ms, waybill_no,
/// carrier)` order (the index `parcels_due`, whose rows carry the table's key); `cursor` moves to the last row read.
pub(super) fn due(
    conn: &Connection,
    pending: &PendingStates,
    now: DateTime<Utc>,
    limit: usize,
    cursor: &mut Option<DueCursor>,
) -> Result<Vec<(ParcelKey, Arc<ParcelState>)>, StoreError> {
    let now_ms = now.timestamp_millis();
    let mut due: Vec<(ParcelKey, Arc<ParcelState>)> = pending
        .latest()
        .filter(|(_, state)| state.check_at.is_some_and(|at| at <= now_ms))
        .map(|(key, state)| (key.clone(), Arc::clone(state)))
        .take(limit)
        .collect();
    if due.len() >= limit {
        return Ok(due);
    }
    let finding = |err| sql_error("finding parcels due for a sweep", err);
    // Keys first, from the index alone: rows with a pending state are passed without reading their stored state.
    let mut keys = conn
        .prepare_cached(
            "SELECT check_ms, waybill_no, carrier FROM parcels INDEXED BY parcels_due \
             WHERE check_ms <= ?1 AND (check_ms, waybill_no, carrier) > (?2, ?3, ?4) \
             ORDER BY check_ms, waybill_no, carrier",
        )
        .map_err(finding)?;
    let mut state_of =
        conn.prepare_cached("SELECT state FROM parcels WHERE waybill_no = ?1 AND carrier = ?2").map_err(finding)?;
    let (after_ms, after_waybill, after_carrier) = cursor.clone().unwrap_or((i64::MIN, String::new(), String::new()));
    let mut rows = keys.query(params![now_ms, after_ms, after_waybill, after_carrier]).map_err(finding)?;
    let mut stored = Vec::new();
    while due.len() + stored.len() < limit {
        let Some(row) = rows.next().map_err(finding)? else { break };
        let (check_ms, waybill_no, carrier): (i64, String, String) =
            (row.get(0).map_err(finding)?, row.get(1).map_err(finding)?, row.get(2).map_err(finding)?);
        let key = parse_key(&carrier, &waybill_no)?;
        *cursor = Some((check_ms, waybill_no, carrier));
        if !pending.contains(&key) {
            stored.push(key);
        }
    }
    // Read in key order, the order of `parcels`, so that neighbouring parcels share pages; the alerts' unique index
    // is in the same order.
    stored.sort_unstable_by(|a, b| (a.1.as_str(), a.0.as_str()).cmp(&(b.1.as_str(), b.0.as_str())));
    for key in stored {
        let mut rows = state_of.query([key.1.as_str(), key.0.as_str()]).map_err(finding)?;
        let row = rows.next().map_err(finding)?.ok_or_else(|| {
            StoreError::new(ErrorKind::Other, format!("the due parcel `{}/{}` has no state", key.0, key.1))
        })?;
        let state = stored_state(row.get_ref(0).map_err(finding)?)?;
        drop(rows);
        due.push((key, Arc::new(state)));
    }
    due.sort_by(|(a, _), (b, _)| (a.1.as_str(), a.0.as_str()).cmp(&(b.1.as_str(), b.0.as_str())));
    Ok(due)
}

const ALERT_COLUMNS: &str = "id, kind, reason, carrier, waybill_no, events, detail, origin_city, destination_city, \
     raised_ms, status, note, handled_by, handled_ms";

fn alert_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Alert, String, String)> {
    let carrier: String = row.get(3)?;
    let waybill_no: String = row.get(4)?;
    let city = |idx| -> rusqlite::Result<Option<AdminCode>> {
        let code: Option<u32> = row.get(idx)?;
        Ok(code.and_then(|code| AdminCode::from_u32(code).ok()))
    };
    let utc = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default();
    let status: String = row.get(10)?;
    let handled_ms: Option<i64> = row.get(13)?;
    let alert = Alert {
        id: row.get(0)?,
        kind: row.get(1)?,
        reason: row.get(2)?,
        carrier: CarrierCode::parse(&carrier).map_err(|_| bad_column(3))?,
        waybill_no: WaybillNo::parse(&waybill_no).map_err(|_| bad_column(4))?,
        events: Vec::new(),
        detail: serde_json::Value::Null,
        origin_city: city(7)?,
        destination_city: city(8)?,
        raised_at: utc(row.get(9)?),
        status: AlertStatus::parse(&status).ok_or_else(|| bad_column(10))?,
        note: row.get(11)?,
        handled_by: row.get(12)?,
        handled_at: handled_ms.map(utc),
    };
    Ok((alert, row.get(5)?, row.get(6)?))
}

fn bad_column(idx: usize) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(idx, "alert column".into(), rusqlite::types::Type::Text)
}

fn finish_alert((mut alert, events, detail): (Alert, String, String)) -> Result<Alert, StoreError> {
    let corrupt = |err| StoreError::with_source(ErrorKind::Other, "a stored alert does not parse", err);
    alert.events = serde_json::from_str(&events).map_err(corrupt)?;
    alert.detail = serde_json::from_str(&detail).map_err(corrupt)?;
    Ok(alert)
}

/// The code range an area covers, for a `BETWEEN` on city columns.
fn code_range(area: AdminCode) -> (u32, u32) {
    let code = area.as_u32();
    match area.level() {
        DivisionLevel::Province => (code, code + 9_999),
        DivisionLevel::Prefecture => (code, code + 99),
        _ => (code, code),
    }
}

pub(super) fn alerts(conn: &Connection, query: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
    let mut conditions: Vec<String> = Vec::new();
    let mut values: Vec<rusqlite::types::Value> = Vec::new();
    let mut bind = |condition: &str, value: rusqlite::types::Value, values: &mut Vec<rusqlite::types::Value>| {
        values.push(value);
        conditions.push(condition.replace('?', &format!("?{}", values.len())));
    };
    use rusqlite::types::Value;
    if let Some(kind) = &query.kind {
        bind("kind = ?", Value::Text(kind.clone()), &mut values);
    }
    if let Some(carrier) = &query.carrier {
        bind("carrier = ?", Value::Text(carrier.to_string()), &mut values);
    }
    if let Some(status) = query.status {
        bind("status = ?", Value::Text(status.as_str().to_owned()), &mut values);
    }
    if let Some(from) = query.from {
        bind("raised_ms >= ?", Value::Integer(from.timestamp_millis()), &mut values);
    }
    if let Some(to) = query.to {
        bind("raised_ms < ?", Value::Integer(to.timestamp_millis()), &mut values);
    }
    if let Some(before) = query.before_id {
        bind("id < ?", Value::Integer(before), &mut values);
    }
    let mut sql = format!("SELECT {ALERT_COLUMNS} FROM alerts");
    let mut areas = Vec::new();
    for area in &query.areas {
        let (lo, hi) = code_range(*area);
        let n = values.len();
        values.push(Value::Integer(i64::from(lo)));
        values.push(Value::Integer(i64::from(hi)));
        areas.push(format!(
            "(origin_city BETWEEN ?{a} AND ?{b} OR destination_city BETWEEN ?{a} AND ?{b})",
            a = n + 1,
            b = n + 2
        ));
    }
    if !areas.is_empty() {
        conditions.push(format!("({})", areas.join(" OR ")));
    }
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    values.push(Value::Integer(i64::try_from(query.limit).unwrap_or(i64::MAX)));
    sql.push_str(&format!(" ORDER BY id DESC LIMIT ?{}", values.len()));
    let mut stmt = conn.prepare(&sql).map_err(|err| sql_error("listing alerts", err))?;
    let rows = stmt
        .query_map(rusqlite::params_from_iter(values), alert_row)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|err| sql_error("listing alerts", err))?;
    rows.into_iter().map(finish_alert).collect()
}

pub(super) fn alert(conn: &Connection, id: i64) -> Result<Option<Alert>, StoreError> {
    let row = conn
        .query_row(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = ?1"), [id], alert_row)
        .optional()
        .map_err(|err| sql_error("reading an alert", err))?;
    row.map(finish_alert).transpose()
}

pub(super) fn update_alert(conn: &Connection, id: i64, change: &AlertChange) -> Result<Alert, StoreError> {
    let n_changed = conn
        .execute(
            "UPDATE alerts SET status = ?2, note = ?3, handled_by = ?4, handled_ms = ?5 WHERE id = ?1",
            params![id, change.status.as_str(), change.note, change.key_id, change.at.timestamp_millis()],
        )
        .map_err(|err| sql_error("updating an alert", err))?;
    if n_changed == 0 {
        return Err(StoreError::new(ErrorKind::NotFound, format!("no alert has the id `{id}`")));
    }
    alert(conn, id)?.ok_or_else(|| StoreError::new(ErrorKind::NotFound, format!("no alert has the id `{id}`")))
}

/// Parcel states in key order `(waybill_no, carrier)` (byte order, as every text key here), strictly after `after`.
pub(super) fn states_after(
    conn: &Connection,
    after: Option<(&WaybillNo, &CarrierCode)>,
    limit: usize,
) -> Result<Vec<(CarrierCode, WaybillNo, ParcelState)>, StoreError> {
    let (waybill_no, carrier) = after.map_or(("", ""), |(w, c)| (w.as_str(), c.as_str()));
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn
        .prepare_cached(
            "SELECT state FROM parcels WHERE (waybill_no, carrier) > (?1, ?2) \
             ORDER BY waybill_no, carrier LIMIT ?3",
        )
        .map_err(|err| sql_error("paging through parcel states", err))?;
    let paging = |err| sql_error("paging through parcel states", err);
    let mut rows = stmt.query(params![waybill_no, carrier, limit]).map_err(paging)?;
    let mut states = Vec::new();
    while let Some(row) = rows.next().map_err(paging)? {
        let state = stored_state(row.get_ref(0).map_err(paging)?)?;
        states.push((state.summary.carrier.clone(), state.summary.waybill_no.clone(), state));
    }
    Ok(states)
}
