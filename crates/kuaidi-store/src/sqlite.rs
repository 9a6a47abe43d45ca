//! The embedded backend: SQLite in WAL mode, one writer connection and a pool of readers, over two database files:
//! the main file (records, alerts, keys, the state journal) and, since schema version 8, a file of its own for the
//! parcel states and the aggregates' snapshot ([`states_path`]), which a flush thread writes beside the writer.
//!
//! Durability: every `ingest` is one transaction. With `synchronous=NORMAL` (the default) a committed transaction is
//! in the WAL file before `ingest` returns, so it survives `kill -9` of the process; with `synchronous=FULL` it is also
//! fsynced, so it survives a power cut. Writers are serialised by a mutex (SQLite allows one writer at a time anyway);
//! readers run concurrently on their own connections and never block the writer.

mod cache;
mod derived;
mod epcis;
mod rows;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use chrono::{DateTime, Utc};
use kuaidi_model::{Carrier, CarrierCode, Complaint, EventId, Facility, Record, ScanEvent, Waybill, WaybillNo};
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};

use crate::derived::Aggregates;
use crate::seal::PiiKey;
use crate::{
    Alert, AlertChange, AlertQuery, ApiKey, AuditEntry, Capture, CaptureJob, Counts, CoverageCounts, CoverageFilter,
    CoverageGroup, EpcisQuery, EpcisRecord, ErrorKind, Handler, NewApiKey, Outcome, ParcelState, Rules, Store,
    StoreError, StoredEpcis, SweepReport, UpkeepTiming,
};
use kuaidi_rules::{Counters, Dimension, Filter, GroupKey};

/// The schema migrations written in SQL, in order; the database's `user_version` is the number applied. Version 8,
/// which moves the parcel states to their own file, is [`move_states_out`]; the versions after it are
/// [`AFTER_STATES_FILE`].
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_init.sql"),
    include_str!("../migrations/sqlite/0002_complaints.sql"),
    include_str!("../migrations/sqlite/0003_epcis.sql"),
    include_str!("../migrations/sqlite/0004_derived.sql"),
    include_str!("../migrations/sqlite/0005_unflushed.sql"),
    include_str!("../migrations/sqlite/0006_compact_state.sql"),
    include_str!("../migrations/sqlite/0007_hourly_handler_indexes.sql"),
];

/// The schema version [`move_states_out`] brings a database to.
const STATES_FILE_VERSION: i64 = MIGRATIONS.len() as i64 + 1;

/// The migrations written in SQL after [`STATES_FILE_VERSION`], in order: the first is version 9.
const AFTER_STATES_FILE: &[&str] = &[include_str!("../migrations/sqlite/0009_journal_batches.sql")];

/// How hard SQLite works to make a commit durable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// Survives a crash of the process (`kill -9`), not a power cut. SQLite's recommended setting for WAL.
    #[default]
    Normal,
    /// Also survives a power cut: every commit is fsynced.
    Full,
}

/// How to open the embedded store.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    /// The database file; created with its schema when absent.
    pub path: PathBuf,
    /// The key that seals personal data.
    pub pii_key: PiiKey,
    /// Commit durability.
    pub synchronous: Synchronous,
    /// Page cache per connection, in MiB.
    pub cache_mib: u32,
    /// The rules derived state follows; `None` for [`Rules::standard`].
    pub rules: Option<Arc<Rules>>,
    /// How many parcels in flight the writer keeps in memory with their records and state (see `sqlite/cache.rs`);
    /// 0 turns the cache off, so that every re-derivation reads the tables.
    pub parcel_cache: usize,
    /// How many parcels' derived states the writer keeps pending before it hands them to the flush thread, which
    /// writes them to `parcels` in one batch (they are also handed over every `flush_every`); 0 hands them over at
    /// every transaction.
    pub flush_parcels: usize,
    /// How often, at most, pending states are written while ingest runs ([`FLUSH_EVERY`] by default). Tests that
    /// look at pending states set it out of reach, so that a slow machine does not flush under them.
    pub flush_every: std::time::Duration,
    /// Whether ingest keeps derived state (true by default). Off, records are stored and nothing is derived from them:
    /// no parcel state, indicator, check or alert, so the store answers those as if it had no parcels. Only for
    /// measuring what keeping derived state costs (`kuaidi --bench-no-derived-state`, `docs/BENCHMARKS.md`).
    pub derived_state: bool,
}

impl SqliteConfig {
    /// Defaults for a database at `path`.
    pub fn new(path: impl Into<PathBuf>, pii_key: PiiKey) -> SqliteConfig {
        SqliteConfig {
            path: path.into(),
            pii_key,
            synchronous: Synchronous::Normal,
            cache_mib: 256,
            rules: None,
            parcel_cache: DEFAULT_PARCEL_CACHE,
            flush_parcels: DEFAULT_FLUSH_PARCELS,
            flush_every: FLUSH_EVERY,
            derived_state: true,
        }
    }
}

/// Parcels the writer keeps in memory by default: about 2 KiB each, so about 500 MiB when full.
pub const DEFAULT_PARCEL_CACHE: usize = 250_000;

/// Pending parcel states the writer gathers by default before writing them all. A pending state shares its memory
/// with the parcel cache while the parcel is cached (about 1 KiB once evicted). A larger batch writes each parcel's
/// state fewer times; an open after a crash re-derives up to this many parcels from their records.
pub const DEFAULT_FLUSH_PARCELS: usize = 500_000;

/// How often, at most, pending parcel states are written (and the aggregates' snapshot with them) while ingest runs.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// How much lower the flush thread's priority is than the writer's (a nice value: each step is about a quarter less
/// CPU when both want it; `docs/BENCHMARKS.md`).
#[cfg(target_os = "linux")]
const FLUSH_NICE: i32 = 10;

/// What the writer keeps beside its connection; locked only while the writer is held.
#[derive(Debug)]
struct WriterState {
    /// Carriers and facilities, for the rules; shared with the derivations in flight ([`derived::Pipeline`]).
    reference: Arc<crate::derived::RefCache>,
    /// Snapshot bookkeeping.
    snapshot: derived::SnapshotState,
    /// Parcels in flight.
    parcels: cache::ParcelCache,
    /// The batch of states being written to the states file, if one is.
    flush: Option<InFlight>,
    /// The journal's last row as of the writer's last transaction ([`derived::journal_end`]).
    journal_end: i64,
    /// Journal rows up to this one name states now in the states file; the next transaction deletes them.
    journal_done: Option<i64>,
    /// `PRAGMA data_version` after the writer's last transaction: a different value means another connection
    /// committed since, and what the writer keeps in memory must be reloaded.
    data_version: i64,
}

/// A batch of states being written to the states file on a thread of its own ([`SqliteStore::hand_over`]).
#[derive(Debug)]
struct InFlight {
    /// The thread; it returns the recounted aggregates when asked to recount.
    thread: std::thread::JoinHandle<Result<Option<Aggregates>, StoreError>>,
    /// The journal's last row when the batch was handed over: the rows up to it name parcels whose states the batch
    /// or the table holds.
    journal_end: i64,
}

/// The embedded store.
pub struct SqliteStore {
    /// The one connection that writes; the mutex makes writers take turns instead of failing with `SQLITE_BUSY`.
    writer: Mutex<Connection>,
    /// Tells the checkpointer thread to stop when the store is dropped.
    stop_checkpointer: Arc<AtomicBool>,
    /// Idle read connections; a reader takes one, or opens a new one when none is idle.
    readers: Mutex<Vec<Connection>>,
    /// The writer's reference data, snapshot bookkeeping and parcel cache; locked only while `writer` is held.
    writer_state: Mutex<WriterState>,
    /// The indicator and coverage aggregates, as of the last commit.
    aggregates: RwLock<Aggregates>,
    /// Parcel states newer than their rows in `parcels`, as of the last commit; written in batches by the flush
    /// ([`SqliteStore::hand_over`]). Readers look here before the table.
    pending: RwLock<derived::PendingStates>,
    /// The states file's own connection, which only the flush uses.
    states: Arc<Mutex<Connection>>,
    rules: Arc<Rules>,
    /// Time spent in write transactions, and the part of it spent re-deriving parcels, in nanoseconds.
    timing: [std::sync::atomic::AtomicU64; 2],
    /// Time the flush threads spent writing states, in nanoseconds.
    flush_busy: Arc<std::sync::atomic::AtomicU64>,
    /// How many times the pending states were emptied (written, or dropped by a reload): a sweep's cursor over
    /// `parcels` starts again after one, since rows behind it may have become due (see `Store::sweep`).
    pending_cleared: std::sync::atomic::AtomicU64,
    config: SqliteConfig,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.config.path).finish()
    }
}

pub(crate) fn sql_error(context: &str, err: rusqlite::Error) -> StoreError {
    let kind = match &err {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => ErrorKind::Unavailable,
            rusqlite::ErrorCode::CannotOpen => ErrorKind::Unavailable,
            rusqlite::ErrorCode::ConstraintViolation => ErrorKind::Conflict,
            _ => ErrorKind::Other,
        },
        rusqlite::Error::QueryReturnedNoRows => ErrorKind::NotFound,
        _ => ErrorKind::Other,
    };
    StoreError::with_source(kind, format!("while {context}: {err}"), err)
}

impl SqliteStore {
    /// Opens (creating when absent) the database and brings its schema up to date.
    pub fn open(config: SqliteConfig) -> Result<SqliteStore, StoreError> {
        if let Some(parent) = config.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|err| {
                StoreError::with_source(
                    ErrorKind::Unavailable,
                    format!("cannot create the data directory `{}`", parent.display()),
                    err,
                )
            })?;
        }
        let rules = match &config.rules {
            Some(rules) => rules.clone(),
            None => Arc::new(Rules::standard()?),
        };
        // The states file first, so that it is in WAL mode, with its page size, before the main file attaches it.
        let states = Arc::new(Mutex::new(open_file(&states_path(&config.path), &config)?));
        let mut writer = open_connection(&config)?;
        migrate(&mut writer)?;
        let (writer_state, aggregates, recovered) = {
            let tx = begin_main(&mut writer)?;
            let loaded = load_writer_state(&tx, &config, &rules)?;
            tx.commit().map_err(|err| sql_error("committing a transaction", err))?;
            loaded
        };
        let recovering = !writer_state.snapshot.unchanged;
        let stop_checkpointer = Arc::new(AtomicBool::new(false));
        let checkpointer = open_connection(&config)?;
        let (path, stop) = (config.path.clone(), stop_checkpointer.clone());
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_loop(&checkpointer, &path, &stop))
            .map_err(|err| StoreError::with_source(ErrorKind::Other, "cannot start the checkpoint thread", err))?;
        let store = SqliteStore {
            writer: Mutex::new(writer),
            stop_checkpointer,
            readers: Mutex::new(Vec::new()),
            writer_state: Mutex::new(writer_state),
            aggregates: RwLock::new(aggregates),
            pending: RwLock::new(derived::PendingStates { current: recovered, flushing: None }),
            states,
            rules,
            timing: Default::default(),
            flush_busy: Default::default(),
            pending_cleared: Default::default(),
            config,
        };
        // Parcels an unclean stop left journalled, or a snapshot an older kuaidi left stale: the open writes them, so
        // that a restart leaves nothing to redo.
        if recovering {
            store.flush()?;
        }
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.config.path
    }

    /// Time the writer spent so far in ingest and sweep transactions (commit included), the part of it spent
    /// re-deriving parcels (reading their records back, waiting for the rules, writing alerts and the journal, handing
    /// states to the flush), and the time the flush threads spent writing states beside the writer.
    pub fn write_timing(&self) -> UpkeepTiming {
        let nanos = |idx: usize| std::time::Duration::from_nanos(self.timing[idx].load(Ordering::Relaxed));
        UpkeepTiming {
            store: nanos(0),
            upkeep: nanos(1),
            beside: std::time::Duration::from_nanos(self.flush_busy.load(Ordering::Relaxed)),
        }
    }

    /// How many re-derivations the writer's parcel cache answered, how many read the tables, and how many were of
    /// parcels new to the store, which started fresh and read nothing.
    pub fn parcel_cache_stats(&self) -> (u64, u64, u64) {
        let state = self.writer_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (state.parcels.hits, state.parcels.misses, state.parcels.fresh)
    }

    /// The aggregates kept at ingest and the same counted from scratch over every parcel's stored state, taken
    /// together under the writer's lock after writing the pending states: they must be equal (`kuaidi verify` and the
    /// tests compare them).
    pub fn recount(&self) -> Result<(Aggregates, Aggregates), StoreError> {
        self.write(|conn| {
            let mut state = self.writer_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.flush_locked(conn, &mut state, false)?;
            let kept = self.aggregates.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            Ok((kept, derived::recount(conn)?))
        })
    }

    /// Writes the pending parcel states now (a clean stop, an export and a recount need them in the table).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.write(|conn| {
            let mut state = self.writer_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.flush_locked(conn, &mut state, false)
        })
    }

    /// How many parcel states are pending and not yet handed to the flush.
    pub fn pending_states(&self) -> usize {
        self.pending.read().unwrap_or_else(std::sync::PoisonError::into_inner).current.len()
    }

    /// The file holding the parcel states and the aggregates' snapshot, beside the main file.
    pub fn states_path(&self) -> PathBuf {
        states_path(&self.config.path)
    }

    /// Writes every pending state to the states file, with the aggregates' snapshot, and waits for it: first the
    /// batch in flight, if there is one, then the states gathered since; with `recount`, the aggregates are then
    /// counted again from the states just written. The writer and its state are held by the caller. The journal rows
    /// the batches cover are deleted in the main transaction this opens. When another connection committed since the
    /// writer's last transaction, the pending states may be stale: the writer reloads instead, which re-derives the
    /// journalled parcels from the tables and writes their states.
    fn flush_locked(&self, conn: &mut Connection, state: &mut WriterState, recount: bool) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let (tx, reloaded) = self.begin(conn, state)?;
        if !reloaded {
            self.settle(state, true)?;
            if recount || !state.snapshot.unchanged || self.pending_states() > 0 {
                state.journal_end = derived::journal_end(&tx)?;
                self.hand_over(state, recount)?;
                if let Some(recounted) = self.settle(state, true)? {
                    *self.aggregates.write().unwrap_or_else(std::sync::PoisonError::into_inner) = recounted;
                }
            }
            if let Some(seq) = state.journal_done.take() {
                derived::forget_journal(&tx, seq)?;
            }
        }
        tx.commit().map_err(|err| sql_error("committing parcel states", err))?;
        let elapsed = started.elapsed().as_nanos() as u64;
        self.timing[0].fetch_add(elapsed, Ordering::Relaxed);
        self.timing[1].fetch_add(elapsed, Ordering::Relaxed);
        Ok(())
    }

    /// Hands the states gathered since the last hand-over to a flush thread, which writes them to the states file
    /// with a snapshot of the aggregates as they are now ([`derived::write_states`]), while the writer goes on. Readers
    /// find the batch in the pending states until [`SqliteStore::settle`] has seen it committed. One batch is in
    /// flight at a time.
    fn hand_over(&self, state: &mut WriterState, recount: bool) -> Result<(), StoreError> {
        debug_assert!(state.flush.is_none(), "one batch of states is in flight at a time");
        let batch = {
            let mut pending = self.pending.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            let batch = Arc::new(std::mem::take(&mut pending.current));
            pending.flushing = Some(Arc::clone(&batch));
            batch
        };
        let aggregates = self.aggregates.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        let (conn, busy) = (Arc::clone(&self.states), Arc::clone(&self.flush_busy));
        let thread = std::thread::Builder::new().name("kuaidi-flush".into()).spawn(move || {
            // The flush only has to keep up with the writer, which is the ingest's bottleneck: on a busy machine the
            // writer, the request threads and the derivation helper go first (Linux keeps a nice value per thread,
            // and the encoding helper started below inherits it).
            #[cfg(target_os = "linux")]
            if let Err(err) = rustix::process::nice(FLUSH_NICE) {
                tracing::debug!(%err, "could not lower the flush thread's priority");
            }
            let started = std::time::Instant::now();
            let mut conn = conn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let written = derived::write_states(&mut conn, &batch, &aggregates, recount);
            busy.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            written
        });
        match thread {
            Ok(thread) => {
                state.flush = Some(InFlight { thread, journal_end: state.journal_end });
                state.snapshot = derived::SnapshotState { unchanged: true, handed_over_at: std::time::Instant::now() };
                Ok(())
            }
            Err(err) => {
                self.take_back_batch();
                Err(StoreError::with_source(ErrorKind::Other, "cannot start the thread writing parcel states", err))
            }
        }
    }

    /// Takes the batch in flight back once its thread has ended (at once with `wait`, otherwise only if it has): when
    /// it was written, the journal rows it covers are deleted by the writer's next transaction, and its states leave
    /// the pending ones; when it failed, its states are pending again (newer ones gathered since win), the journal
    /// still names them, and the error is returned. Returns the recounted aggregates of a batch written with
    /// `recount`.
    fn settle(&self, state: &mut WriterState, wait: bool) -> Result<Option<Aggregates>, StoreError> {
        let Some(in_flight) = state.flush.take_if(|in_flight| wait || in_flight.thread.is_finished()) else {
            return Ok(None);
        };
        let written = in_flight
            .thread
            .join()
            .unwrap_or_else(|_| Err(StoreError::new(ErrorKind::Other, "the thread writing parcel states panicked")));
        match written {
            Ok(recounted) => {
                // Taken out under the lock and freed after it: freeing a batch of half a million states takes long
                // enough to hold readers up.
                let written = self.pending.write().unwrap_or_else(std::sync::PoisonError::into_inner).flushing.take();
                drop(written);
                self.pending_cleared.fetch_add(1, Ordering::Relaxed);
                state.journal_done = Some(in_flight.journal_end);
                Ok(recounted)
            }
            Err(err) => {
                self.take_back_batch();
                state.snapshot.unchanged = false;
                Err(err)
            }
        }
    }

    /// Makes the batch that was in flight pending again, under the states gathered since.
    fn take_back_batch(&self) {
        let mut pending = self.pending.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(batch) = pending.flushing.take() {
            for (key, batch_state) in batch.iter() {
                pending.current.entry(key.clone()).or_insert_with(|| Arc::clone(batch_state));
            }
        }
    }

    /// Starts the writer's transaction, reloading what the writer keeps in memory first when another connection has
    /// committed since its last one; says whether it reloaded. The write lock of the main file is taken at once
    /// ([`begin_main`]), so no other connection can commit between the check of `data_version` and the transaction's
    /// writes. Otherwise it takes back a batch of states whose flush has ended, and deletes the journal rows of the
    /// last batch written.
    fn begin<'c>(
        &self,
        conn: &'c mut Connection,
        state: &mut WriterState,
    ) -> Result<(rusqlite::Transaction<'c>, bool), StoreError> {
        let tx = begin_main(conn)?;
        let stale = data_version(&tx)? != state.data_version;
        if stale {
            self.reload(&tx, state)?;
            return Ok((tx, true));
        }
        if let Err(err) = self.settle(state, false) {
            // The journal still names the batch's parcels; the next flush, or the next start, writes them.
            tracing::warn!(%err, "could not write a batch of parcel states; they stay pending");
        }
        if let Some(seq) = state.journal_done.take() {
            derived::forget_journal(&tx, seq)?;
        }
        Ok((tx, false))
    }

    /// Replaces what the writer keeps in memory with what the database holds, inside the writer's transaction. A
    /// batch in flight is waited for first; the parcels the journal names are then re-derived from their records, and
    /// their states are pending.
    fn reload(&self, tx: &rusqlite::Transaction<'_>, state: &mut WriterState) -> Result<(), StoreError> {
        tracing::warn!("another connection changed the database; reloading what the writer keeps in memory");
        if let Err(err) = self.settle(state, true) {
            tracing::warn!(%err, "could not write a batch of parcel states; the journal names them");
        }
        let (reloaded, aggregates, recovered) = load_writer_state(tx, &self.config, &self.rules)?;
        *self.pending.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            derived::PendingStates { current: recovered, flushing: None };
        *state = reloaded;
        *self.aggregates.write().unwrap_or_else(std::sync::PoisonError::into_inner) = aggregates;
        self.pending_cleared.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Stores scan events in one transaction with ingest's own statement ([`rows::put_event`]), in the order given,
    /// and nothing else: no parcel state, alert, journal or aggregate follows them, and the writer's caches do not
    /// learn of them. Only for `examples/sqlite_floor.rs`, which measures what the events table and its indexes cost
    /// alone, on a store made for it; on any other store it would leave the events' parcels underived. Returns how
    /// many events were new.
    #[doc(hidden)]
    pub fn put_events_only(&self, events: &[&ScanEvent]) -> Result<usize, StoreError> {
        let received_ms = Utc::now().timestamp_millis();
        self.write(|conn| {
            let tx = begin_main(conn)?;
            let mut n_new = 0;
            for event in events {
                if rows::put_event(&tx, event, received_ms)? == Outcome::Accepted {
                    n_new += 1;
                }
            }
            tx.commit().map_err(|err| sql_error("committing a transaction", err))?;
            Ok(n_new)
        })
    }

    fn write<T>(&self, work: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        // A panic while holding the lock cannot leave a half-done transaction behind (rusqlite rolls back on drop),
        // so a poisoned lock is safe to reuse.
        let mut conn = self.writer.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        work(&mut conn)
    }

    fn read<T>(&self, work: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let idle = self.readers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_connection(&self.config)?,
        };
        let res = work(&conn);
        self.readers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(conn);
        res
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.stop_checkpointer.store(true, Ordering::Relaxed);
        // A clean stop writes the pending states and saves the aggregates, so the next start need neither re-derive
        // the journalled parcels nor recount.
        let res = self.write(|conn| {
            let mut state = self.writer_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let (hits, misses, fresh) = (state.parcels.hits, state.parcels.misses, state.parcels.fresh);
            if hits + misses + fresh > 0 {
                tracing::info!(
                    hits,
                    misses,
                    fresh,
                    "the parcel cache answered {hits} re-derivations and missed {misses}; {fresh} parcels were new"
                );
            }
            if state.snapshot.unchanged
                && self.pending_states() == 0
                && state.flush.is_none()
                && state.journal_done.is_none()
            {
                return Ok(());
            }
            self.flush_locked(conn, &mut state, false)
        });
        if let Err(err) = res {
            tracing::warn!(%err, "could not write the pending parcel states; the next start re-derives them");
        }
    }
}

/// Parcels re-derived per transaction by a sweep.
const SWEEP_CHUNK: usize = 100_000;

impl SqliteStore {
    /// Runs `work` (which writes records and hands the parcels it touched to a [`derived::Pipeline`], or hands it the
    /// parcels due for a sweep) and re-derives those parcels, all in one transaction; then applies the changes to the
    /// in-memory aggregates and, now and then, saves them.
    fn write_derived<T>(
        &self,
        work: impl FnOnce(
            &rusqlite::Transaction<'_>,
            &mut Arc<crate::derived::RefCache>,
            &mut cache::ParcelCache,
            &derived::PendingStates,
        ) -> Result<(T, derived::Pipeline), StoreError>,
    ) -> Result<(T, derived::Changes), StoreError> {
        self.write(|conn| {
            let mut guard = self.writer_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let state = &mut *guard;
            let started = std::time::Instant::now();
            let (tx, _) = self.begin(conn, state)?;
            let mut deriving = None;
            let result = (|| {
                let pending = self.pending.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                let (answer, pipeline) = work(&tx, &mut state.reference, &mut state.parcels, &pending)?;
                let begun = std::time::Instant::now();
                let changes = pipeline.finish(&tx, &mut state.parcels, &pending)?;
                drop(pending);
                if !changes.pairs.is_empty() {
                    state.journal_end = derived::journal_end(&tx)?;
                }
                deriving = Some(begun.elapsed() + changes.loading);
                tx.commit().map_err(|err| sql_error("committing a transaction", err))?;
                Ok((answer, changes))
            })();
            let (answer, changes) = match result {
                Ok(done) => done,
                Err(err) => {
                    // Rolled back: forget what the cache took in, and carriers or facilities noted on the way.
                    state.parcels.clear();
                    state.reference = Arc::new(derived::load_reference(conn)?);
                    return Err(err);
                }
            };
            let derive_ns = deriving.map_or(0, |elapsed| elapsed.as_nanos() as u64);
            self.timing[0].fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            self.timing[1].fetch_add(derive_ns, Ordering::Relaxed);
            if !changes.pairs.is_empty() {
                state.snapshot.unchanged = false;
                let mut aggregates = self.aggregates.write().unwrap_or_else(std::sync::PoisonError::into_inner);
                for (old, new) in &changes.pairs {
                    if let Err(err) = aggregates.apply(old.as_deref(), new.as_deref()) {
                        // The states are right; recount the aggregates from them once they are all in the table.
                        tracing::error!(%err, "the aggregates lost track; recounting");
                        drop(aggregates);
                        self.merge_pending(&changes);
                        self.flush_locked(conn, state, true)?;
                        return Ok((answer, changes));
                    }
                }
                drop(aggregates);
                self.merge_pending(&changes);
            }
            let gathered = self.pending_states();
            let batch = self.config.flush_parcels.max(1);
            let due = gathered >= batch
                || (!state.snapshot.unchanged && state.snapshot.handed_over_at.elapsed() >= self.config.flush_every);
            if due {
                let started = std::time::Instant::now();
                // One batch is in flight at a time. While it is, the writer gathers on, up to twice a batch; then it
                // waits for the flush, so that memory stays bounded when the flush falls behind.
                if state.flush.is_some() && gathered >= 2 * batch {
                    if let Err(err) = self.settle(state, true) {
                        tracing::warn!(%err, "could not write a batch of parcel states; they stay pending");
                    }
                }
                if state.flush.is_none() {
                    if let Err(err) = self.hand_over(state, false) {
                        // The journal still names the pending parcels; the next flush, or the next start, writes them.
                        tracing::warn!(%err, "could not hand the pending parcel states to a flush; retrying later");
                    }
                }
                let elapsed = started.elapsed().as_nanos() as u64;
                self.timing[0].fetch_add(elapsed, Ordering::Relaxed);
                self.timing[1].fetch_add(elapsed, Ordering::Relaxed);
            }
            Ok((answer, changes))
        })
    }

    /// Makes the new states of a committed transaction pending (and visible to readers).
    fn merge_pending(&self, changes: &derived::Changes) {
        let mut pending = self.pending.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, (_, new)) in changes.keys.iter().zip(&changes.pairs) {
            if let Some(new) = new {
                pending.current.insert(key.clone(), Arc::clone(new));
            }
        }
    }
}

/// What the writer keeps in memory, loaded from the database inside the writer's transaction: the reference cache,
/// the aggregates (from the snapshot when it is clean, otherwise recounted), an empty parcel cache, and the
/// `data_version` they are as of; and the pending states. Parcels the journal names are re-derived from their records
/// and their states are pending, journalled still, until a flush writes them. (Writing them here, on the states
/// file's own connection, would leave this transaction reading the states file as it was before.)
fn load_writer_state(
    tx: &rusqlite::Transaction<'_>,
    config: &SqliteConfig,
    rules: &Arc<Rules>,
) -> Result<(WriterState, Aggregates, derived::Pending), StoreError> {
    let reference = Arc::new(derived::load_reference(tx)?);
    let (mut aggregates, clean_on_disk) = derived::load_aggregates(tx)?;
    let mut parcels = cache::ParcelCache::new(config.parcel_cache);
    let (journalled, clock) = derived::journalled(tx)?;
    let journal_end = derived::journal_end(tx)?;
    let mut batch = derived::Pending::default();
    if !journalled.is_empty() || !clean_on_disk {
        tracing::warn!(n_parcels = journalled.len(), "re-deriving parcels whose states were not written");
        let none = derived::PendingStates::default();
        let changes = derived::rederive(
            tx,
            &config.pii_key,
            &reference,
            &mut parcels,
            &none,
            derived::Journal::Never,
            rules,
            journalled,
            clock.unwrap_or_else(Utc::now),
        )?;
        for (key, (old, new)) in changes.keys.into_iter().zip(changes.pairs) {
            aggregates.apply(old.as_deref(), new.as_deref())?;
            if let Some(new) = new {
                batch.insert(key, new);
            }
        }
    }
    let snapshot = derived::SnapshotState {
        unchanged: batch.is_empty() && clean_on_disk,
        handed_over_at: std::time::Instant::now(),
    };
    let state = WriterState {
        reference,
        snapshot,
        parcels,
        flush: None,
        journal_end,
        journal_done: None,
        data_version: data_version(tx)?,
    };
    Ok((state, aggregates, batch))
}

/// Starts a write transaction on the main file alone. `BEGIN IMMEDIATE` would also take the write lock of the
/// attached states file and hold the flush off for the whole transaction; a deferred transaction whose first
/// statement writes to the main file (here, deleting nothing) takes that file's write lock only, before anything is
/// read.
fn begin_main(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>, StoreError> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Deferred)
        .map_err(|err| sql_error("starting a transaction", err))?;
    tx.execute("DELETE FROM main.unflushed_batches WHERE seq < 0", [])
        .map_err(|err| sql_error("taking the write lock", err))?;
    Ok(tx)
}

/// The file of parcel states and the aggregates' snapshot beside the main database file `path`: `kuaidi.db` has
/// `kuaidi.states.db`.
pub fn states_path(path: &Path) -> PathBuf {
    path.with_extension("states.db")
}

/// SQLite's count of commits by other connections, as this connection sees it.
fn data_version(conn: &Connection) -> Result<i64, StoreError> {
    conn.query_row("PRAGMA data_version", [], |row| row.get(0)).map_err(|err| sql_error("reading data_version", err))
}

/// The page size of a new database. Measured on the demo's ingest (100,000 parcels, `docs/BENCHMARKS.md`): 16 KiB
/// pages ingest about a third faster than SQLite's default 4 KiB (fewer, shallower B-tree pages to find and log for
/// the random keys of events and parcels), 1 KiB pages a third slower, and 32 or 64 KiB no faster than 16 KiB.
const PAGE_SIZE: u32 = 16_384;

/// WAL size above which the checkpointer copies pages back into the database without blocking anyone.
const CHECKPOINT_PASSIVE_BYTES: u64 = 64 * 1024 * 1024;
/// WAL size at which the writer checkpoints itself, finishing what the checkpointer thread began.
const WRITER_CHECKPOINT_BYTES: u64 = 128 * 1024 * 1024;

/// Checkpoints mostly off the write path. SQLite's automatic checkpoint runs inside a committing writer and makes it
/// wait while pages are copied and the database file synced; this thread copies pages ahead of it, so the writer's own
/// checkpoint (which alone can restart the WAL) has little left to do. The states file is checkpointed by the flush
/// itself, on its own thread at its low priority (SQLite's automatic checkpoint after a batch's commit): run here, at
/// the writer's priority, its checkpoints took the CPU from trace lookups (`docs/BENCHMARKS.md`).
fn checkpoint_loop(conn: &Connection, path: &Path, stop: &AtomicBool) {
    let mut wal_path = path.as_os_str().to_owned();
    wal_path.push("-wal");
    let wal_path = PathBuf::from(wal_path);
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let wal_bytes = std::fs::metadata(&wal_path).map(|m| m.len()).unwrap_or(0);
        if wal_bytes < CHECKPOINT_PASSIVE_BYTES {
            continue;
        }
        if let Err(err) = conn.query_row("PRAGMA main.wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::warn!(%err, "checkpoint failed; retrying");
        }
    }
    // A last, complete checkpoint leaves a small WAL behind for the next start.
    let _ = conn.query_row("PRAGMA main.wal_checkpoint(PASSIVE)", [], |_| Ok(()));
}

/// Opens a connection to the main file with the states file attached as `states`. Unqualified names find the
/// states' tables there: since schema version 8 the main file has none of them.
fn open_connection(config: &SqliteConfig) -> Result<Connection, StoreError> {
    let conn = open_file(&config.path, config)?;
    let states = states_path(&config.path);
    let name = states.to_str().ok_or_else(|| {
        StoreError::new(ErrorKind::Unavailable, format!("the path `{}` is not UTF-8", states.display()))
    })?;
    conn.execute("ATTACH DATABASE ?1 AS states", [name]).map_err(|err| {
        StoreError::with_source(
            ErrorKind::Unavailable,
            format!("cannot open the parcel states file `{}`", states.display()),
            err,
        )
    })?;
    conn.execute_batch(&format!("PRAGMA states.cache_size = -{};", u64::from(config.cache_mib) * 1024))
        .map_err(|err| sql_error("setting up the connection", err))?;
    Ok(conn)
}

/// Opens one database file with the store's settings.
fn open_file(path: &Path, config: &SqliteConfig) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|err| {
        StoreError::with_source(ErrorKind::Unavailable, format!("cannot open the database `{}`", path.display()), err)
    })?;
    let synchronous = match config.synchronous {
        Synchronous::Normal => "NORMAL",
        Synchronous::Full => "FULL",
    };
    // Takes effect only while the database is still empty, that is when this creates it.
    conn.execute_batch(&format!("PRAGMA page_size = {PAGE_SIZE};"))
        .map_err(|err| sql_error("setting the page size", err))?;
    let pragmas = format!(
        "PRAGMA journal_mode = WAL; PRAGMA journal_size_limit = 268435456; PRAGMA synchronous = {synchronous}; PRAGMA busy_timeout = 10000; \
         PRAGMA cache_size = -{}; PRAGMA temp_store = MEMORY; PRAGMA foreign_keys = OFF; \
         PRAGMA wal_autocheckpoint = {};",
        u64::from(config.cache_mib) * 1024,
        // The writer still checkpoints at 128 MiB of WAL: only a writer that finds the whole WAL copied back can
        // restart it, so this keeps the WAL bounded. The checkpointer thread has usually copied most of it by then.
        WRITER_CHECKPOINT_BYTES / u64::from(PAGE_SIZE),
    );
    conn.execute_batch(&pragmas).map_err(|err| sql_error("setting up the connection", err))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(|err| sql_error("reading the schema version", err))?;
    let latest = STATES_FILE_VERSION + AFTER_STATES_FILE.len() as i64;
    if version > latest {
        return Err(StoreError::new(
            ErrorKind::SchemaVersion,
            format!(
                "the database is at schema version {version}, newer than this kuaidi knows ({latest}); upgrade kuaidi"
            ),
        ));
    }
    for (idx, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        migrate_sql(conn, idx as i64 + 1, sql)?;
    }
    if version < STATES_FILE_VERSION {
        move_states_out(conn)?;
        tracing::info!(version = STATES_FILE_VERSION, "applied migration");
    }
    for (idx, sql) in AFTER_STATES_FILE.iter().enumerate() {
        let to = STATES_FILE_VERSION + idx as i64 + 1;
        if version < to {
            migrate_sql(conn, to, sql)?;
        }
    }
    let n_tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM states.sqlite_master WHERE type = 'table' \
             AND name IN ('parcels', 'aggregate_snapshot', 'derived_meta')",
            [],
            |row| row.get(0),
        )
        .map_err(|err| sql_error("reading the parcel states file's schema", err))?;
    if n_tables != 3 {
        return Err(StoreError::new(
            ErrorKind::Unavailable,
            format!(
                "the parcel states file `{}` lacks its tables: it was removed or replaced; put it back beside the \
                 database, which is at schema version {latest}",
                conn.path().map_or_else(|| "states".into(), |path| states_path(Path::new(path)).display().to_string()),
            ),
        ));
    }
    Ok(())
}

/// Applies one migration written in SQL, which brings the database to version `to`, in a transaction of its own.
fn migrate_sql(conn: &mut Connection, to: i64, sql: &str) -> Result<(), StoreError> {
    let tx = conn.transaction().map_err(|err| sql_error("starting a migration", err))?;
    tx.execute_batch(sql).map_err(|err| sql_error(&format!("applying migration {to}"), err))?;
    tx.pragma_update(None, "user_version", to).map_err(|err| sql_error("recording the schema version", err))?;
    tx.commit().map_err(|err| sql_error("committing a migration", err))?;
    tracing::info!(version = to, "applied migration");
    Ok(())
}

/// Schema version 8: the parcel states, the aggregates' snapshot and its flag leave the main file for the states
/// file ([`states_path`]), which the flush writes on a connection of its own while the writer goes on; and the
/// journal's `seq` becomes AUTOINCREMENT, so that a row number is never used twice (a flush deletes the rows up to
/// the one that was last when its batch was handed over). The states are copied in a transaction that writes the
/// states file alone, then dropped from the main file, with the new version, in a transaction that writes the main
/// file alone: a stop in between leaves version 7 and both copies, and the next open copies again.
fn move_states_out(conn: &mut Connection) -> Result<(), StoreError> {
    let moving = |err| sql_error("moving the parcel states to their own file (migration 8)", err);
    let in_main: i64 = conn
        .query_row("SELECT count(*) FROM main.sqlite_master WHERE type = 'table' AND name = 'parcels'", [], |row| {
            row.get(0)
        })
        .map_err(moving)?;
    let tx = conn.transaction().map_err(moving)?;
    tx.execute_batch(include_str!("../migrations/sqlite/0008_states_file.sql")).map_err(moving)?;
    if in_main > 0 {
        tx.execute_batch(
            "DELETE FROM states.parcels; DELETE FROM states.aggregate_snapshot; DELETE FROM states.derived_meta; \
             INSERT INTO states.parcels (waybill_no, carrier, check_ms, state) \
                 SELECT waybill_no, carrier, check_ms, state FROM main.parcels ORDER BY waybill_no, carrier; \
             INSERT INTO states.aggregate_snapshot (name, body) SELECT name, body FROM main.aggregate_snapshot; \
             INSERT INTO states.derived_meta (key, value) SELECT key, value FROM main.derived_meta;",
        )
        .map_err(moving)?;
    }
    tx.commit().map_err(moving)?;
    let journal: String = conn
        .query_row("SELECT sql FROM main.sqlite_master WHERE name = 'unflushed_parcels'", [], |row| row.get(0))
        .map_err(moving)?;
    let tx = conn.transaction().map_err(moving)?;
    if in_main > 0 {
        tx.execute_batch("DROP TABLE main.parcels; DROP TABLE main.aggregate_snapshot; DROP TABLE main.derived_meta;")
            .map_err(moving)?;
    }
    if !journal.contains("AUTOINCREMENT") {
        tx.execute_batch(
            "CREATE TABLE main.unflushed_parcels_8 (seq INTEGER PRIMARY KEY AUTOINCREMENT, \
                 waybill_no TEXT NOT NULL, carrier TEXT NOT NULL, at_ms INTEGER NOT NULL); \
             INSERT INTO main.unflushed_parcels_8 (seq, waybill_no, carrier, at_ms) \
                 SELECT seq, waybill_no, carrier, at_ms FROM main.unflushed_parcels; \
             DROP TABLE main.unflushed_parcels; \
             ALTER TABLE main.unflushed_parcels_8 RENAME TO unflushed_parcels;",
        )
        .map_err(moving)?;
    }
    tx.pragma_update(None, "user_version", STATES_FILE_VERSION).map_err(moving)?;
    tx.commit().map_err(moving)
}

impl SqliteStore {
    /// Stores records inside a writing transaction, in [`storage_order`], noting what the reference data and the
    /// parcel cache must learn. Returns the answers, in the records' order, and a pipeline deriving the parcels whose
    /// records changed (new or changed waybills, events and complaints): each is handed over once, as soon as its
    /// records are stored, in key order `(waybill_no, carrier)`.
    #[allow(clippy::too_many_arguments)]
    fn put_records<'r>(
        &self,
        tx: &rusqlite::Transaction<'_>,
        records: impl Iterator<Item = (usize, Cow<'r, Record>)>,
        n_records: usize,
        reference: &mut Arc<crate::derived::RefCache>,
        parcels: &mut cache::ParcelCache,
        pending: &derived::PendingStates,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Outcome>, derived::Pipeline), StoreError> {
        let key = &self.config.pii_key;
        let received_ms = Utc::now().timestamp_millis();
        // Every slot is written below: `storage_order` visits each record once.
        let mut outcomes = vec![Outcome::Duplicate; n_records];
        // Carriers and facilities come first, so the reference is complete when the first parcel is handed over.
        let mut pipeline: Option<derived::Pipeline> = None;
        // The parcel whose records are being stored: its key, the parcel as the cache held it (taken out until its
        // records are stored: one lookup per parcel, not per record) or fresh, and whether any of its records changed
        // it.
        let mut current: Option<Current> = None;
        let mut hand_over = |current: Option<Current>,
                             parcels: &mut cache::ParcelCache,
                             reference: &Arc<crate::derived::RefCache>|
         -> Result<(), StoreError> {
            let Some(Current { key: parcel_key, cached, changed, fresh }) = current else { return Ok(()) };
            match (cached, changed) {
                (cached, true) => {
                    if !fresh {
                        parcels.count(cached.is_some());
                    }
                    let pipeline = pipeline.get_or_insert_with(|| self.pipeline(reference, now));
                    pipeline.touched(tx, key, pending, parcel_key, cached)
                }
                // A fresh parcel none of whose records was stored has nothing to keep.
                (Some(cached), false) if !fresh => {
                    parcels.put_back(parcel_key, cached);
                    Ok(())
                }
                (_, false) => Ok(()),
            }
        };
        for (idx, record) in records {
            let parcel = record.parcel();
            if parcel != current.as_ref().map(|Current { key: (carrier, waybill_no), .. }| (carrier, waybill_no)) {
                hand_over(current.take(), parcels, reference)?;
                current = match parcel {
                    Some((carrier, waybill_no)) => {
                        Some(self.lift(tx, parcels, (carrier.clone(), waybill_no.clone()))?)
                    }
                    None => None,
                };
            }
            let outcome = match &*record {
                Record::Carrier(carrier) => rows::put_carrier(tx, carrier)?,
                Record::Facility(facility) => rows::put_facility(tx, facility)?,
                Record::Waybill(waybill) => rows::put_waybill(tx, key, waybill, received_ms)?,
                Record::Event(event) => rows::put_event(tx, event, received_ms)?,
                Record::Complaint(complaint) => rows::put_complaint(tx, key, complaint, received_ms)?,
            };
            if matches!(outcome, Outcome::Accepted | Outcome::Updated) {
                match current.as_mut() {
                    Some(Current { cached, changed, .. }) => {
                        // Without derived state no parcel is handed over, and none is cached.
                        *changed = self.config.derived_state;
                        if let Some(cached) = cached {
                            // A record given up by the caller moves into the cache; a lent one is copied.
                            cached.apply(record.into_owned());
                        }
                    }
                    None => Arc::make_mut(reference).note(&record),
                }
            }
            outcomes[idx] = outcome;
        }
        hand_over(current.take(), parcels, reference)?;
        let pipeline = pipeline.unwrap_or_else(|| self.pipeline(reference, now));
        Ok((outcomes, pipeline))
    }

    /// Stores records handed over in [`storage_order`], with their positions, and answers for each in the original
    /// order ([`Store::ingest_at`]).
    fn ingest_in_order<'r>(
        &self,
        records: impl Iterator<Item = (usize, Cow<'r, Record>)>,
        n_records: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>, StoreError> {
        let (outcomes, _) = self.write_derived(|tx, reference, parcels, pending| {
            self.put_records(tx, records, n_records, reference, parcels, pending, now)
        })?;
        Ok(outcomes)
    }

    /// Takes a parcel out of the cache for a transaction about to store its records. One not cached whose records
    /// are all new (a probe of three index seeks finds none stored) starts fresh and empty, so that its derivation
    /// reads nothing back: in a profile of the demo, loading parcels from the tables took 11 % of the request
    /// threads' samples, most of them new parcels, whose waybill was read back and its personal data opened
    /// (docs/BENCHMARKS.md). With the cache off, or without derived state, nothing is taken.
    fn lift(
        &self,
        tx: &rusqlite::Transaction<'_>,
        parcels: &mut cache::ParcelCache,
        parcel_key: crate::derived::ParcelKey,
    ) -> Result<Current, StoreError> {
        let (mut cached, mut fresh) = (None, false);
        if self.config.derived_state {
            cached = parcels.lift(&parcel_key);
            if cached.is_none() && parcels.is_on() && !rows::has_records(tx, &parcel_key.0, &parcel_key.1)? {
                (cached, fresh) = (Some(parcels.fresh()), true);
            }
        }
        Ok(Current { key: parcel_key, cached, changed: false, fresh })
    }

    /// A pipeline for the parcels an ingest touches, which journals them.
    fn pipeline(&self, reference: &Arc<crate::derived::RefCache>, now: DateTime<Utc>) -> derived::Pipeline {
        derived::Pipeline::new(Arc::clone(reference), Arc::clone(&self.rules), derived::Journal::Unless, now)
    }
}

/// The parcel whose records a transaction is storing ([`SqliteStore::put_records`]).
struct Current {
    key: crate::derived::ParcelKey,
    /// The parcel as the cache held it, or fresh ([`cache::ParcelCache::fresh`]); `None` when it is read from the
    /// tables once its records are stored.
    cached: Option<cache::CachedParcel>,
    /// Whether any of its records was stored (accepted or updated).
    changed: bool,
    /// Whether it had no record stored before this transaction.
    fresh: bool,
}

/// The order a transaction stores its records in: carriers and facilities first, then the parcels in key order
/// `(waybill_no, carrier)`, each parcel's records in the order they came. The tables and indexes that take a
/// parcel's rows (`events_by_key`, `waybills`) are ordered the same way, so a transaction walks each of those B-trees
/// once from one end to the other, where arrival order jumps around them and finds fewer of their pages in the
/// cache. The answers are the same as in arrival order: only records of different parcels change places, and no
/// answer depends on another parcel's records (store test `a_transaction_answers_in_arrival_order`).
///
/// It is computed before the writer is taken, and sorts keys gathered once rather than looking into the records at
/// every comparison.
fn storage_order(records: &[Record]) -> Vec<usize> {
    let mut keys: Vec<(Option<(&str, &str)>, usize)> = records
        .iter()
        .enumerate()
        .map(|(idx, record)| {
            (record.parcel().map(|(carrier, waybill_no)| (waybill_no.as_str(), carrier.as_str())), idx)
        })
        .collect();
    // The index breaks ties, so records of one parcel keep their order.
    keys.sort_unstable();
    keys.into_iter().map(|(_, idx)| idx).collect()
}

impl Store for SqliteStore {
    fn ingest_at(&self, records: &[Record], now: DateTime<Utc>) -> Result<Vec<Outcome>, StoreError> {
        let order = storage_order(records);
        let lent = order.into_iter().map(|idx| (idx, Cow::Borrowed(&records[idx])));
        self.ingest_in_order(lent, records.len(), now)
    }

    fn ingest_owned_at(&self, records: Vec<Record>, now: DateTime<Utc>) -> Result<Vec<Outcome>, StoreError> {
        let (order, n_records) = (storage_order(&records), records.len());
        // Slots, so that each record can be taken out in storage order. What the cache does not take stays here, and
        // is freed when this returns, after the writer's lock is released.
        let mut slots: Vec<Option<Record>> = records.into_iter().map(Some).collect();
        let mut given = order.into_iter().filter_map(|idx| {
            let record = slots[idx].take();
            debug_assert!(record.is_some(), "storage_order visits each record once");
            record.map(|record| (idx, Cow::Owned(record)))
        });
        let outcomes = self.ingest_in_order(&mut given, n_records, now);
        drop(given);
        drop(slots);
        outcomes
    }

    fn capture_at(&self, capture: &Capture<'_>, now: DateTime<Utc>) -> Result<Vec<Outcome>, StoreError> {
        let order = storage_order(capture.records);
        let lent = order.into_iter().map(|idx| (idx, Cow::Borrowed(&capture.records[idx])));
        let (outcomes, _) = self.write_derived(|tx, reference, parcels, pending| {
            let (outcomes, pipeline) =
                self.put_records(tx, lent, capture.records.len(), reference, parcels, pending, now)?;
            let kept = capture.events.iter().enumerate().filter(|(idx, _)| capture.keeps(*idx, &outcomes));
            epcis::capture_in(tx, kept.map(|(_, event)| event))?;
            epcis::put_job(tx, capture.job)?;
            Ok((outcomes, pipeline))
        })?;
        Ok(outcomes)
    }

    fn indicators(&self, filter: &Filter, group_by: &[Dimension]) -> Result<Vec<(GroupKey, Counters)>, StoreError> {
        let aggregates = self.aggregates.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(aggregates.cube.slice(filter, group_by))
    }

    fn coverage(
        &self,
        filter: &CoverageFilter,
        group: CoverageGroup,
    ) -> Result<Vec<(String, CoverageCounts)>, StoreError> {
        let aggregates = self.aggregates.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(crate::derived::coverage_rollup(&aggregates.coverage, filter, group))
    }

    fn parcel_state(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Option<ParcelState>, StoreError> {
        let key = (carrier.clone(), waybill_no.clone());
        if let Some(state) = self.pending.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return Ok(Some(ParcelState::clone(state)));
        }
        // A batch leaves the pending states only after its flush has committed, so the table has it by now.
        self.read(|conn| derived::state(conn, carrier, waybill_no))
    }

    fn alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
        self.read(|conn| derived::alerts(conn, query))
    }

    fn update_alert(&self, id: i64, change: &AlertChange) -> Result<Alert, StoreError> {
        self.write(|conn| derived::update_alert(conn, id, change))
    }

    fn upkeep_timing(&self) -> Option<UpkeepTiming> {
        Some(self.write_timing())
    }

    fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        // Where the previous round stopped in `parcels`, as of which emptying of the pending states. Rows behind the
        // cursor were re-derived at `now` (so they are due only later), or skipped because they had a pending state,
        // which the pending states still hold until they are emptied: then the cursor starts again. Without it,
        // every round would walk again past every row whose new state is still pending.
        let mut cursor: Option<derived::DueCursor> = None;
        let mut cursor_epoch = self.pending_cleared.load(Ordering::Relaxed);
        loop {
            let (n_due, changes) = self.write_derived(|tx, reference, parcels, pending| {
                let epoch = self.pending_cleared.load(Ordering::Relaxed);
                if epoch != cursor_epoch {
                    (cursor, cursor_epoch) = (None, epoch);
                }
                let due = derived::due(tx, pending, now, SWEEP_CHUNK, &mut cursor)?;
                let n_due = due.len();
                // A sweep changes no record; it journals its parcels with its clock, since their new states are
                // pending like any other.
                let mut pipeline = derived::Pipeline::new(
                    Arc::clone(reference),
                    Arc::clone(&self.rules),
                    derived::Journal::Always,
                    now,
                );
                for (parcel_key, state) in due {
                    pipeline.due(tx, &self.config.pii_key, parcels, parcel_key, state)?;
                }
                Ok((n_due, pipeline))
            })?;
            report.examined += changes.examined;
            report.changed += changes.pairs.len() as u64;
            report.new_alerts += changes.new_alerts;
            // A parcel re-derived at `now` is due only later than `now`, so every round makes progress.
            if n_due < SWEEP_CHUNK {
                return Ok(report);
            }
        }
    }

    fn carriers(&self) -> Result<Vec<Carrier>, StoreError> {
        self.read(rows::carriers)
    }

    fn facilities(&self) -> Result<Vec<Facility>, StoreError> {
        self.read(rows::facilities)
    }

    fn waybill(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Option<Waybill>, StoreError> {
        self.read(|conn| rows::waybill(conn, &self.config.pii_key, carrier, waybill_no))
    }

    fn carriers_of(&self, waybill_no: &WaybillNo) -> Result<Vec<CarrierCode>, StoreError> {
        self.read(|conn| rows::carriers_of(conn, waybill_no))
    }

    fn events_of(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Vec<ScanEvent>, StoreError> {
        self.read(|conn| rows::events_of(conn, carrier, waybill_no))
    }

    fn complaints_of(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Vec<Complaint>, StoreError> {
        self.read(|conn| rows::complaints_of(conn, &self.config.pii_key, carrier, waybill_no))
    }

    fn handled_by(
        &self,
        handler: &Handler,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, StoreError> {
        self.read(|conn| rows::handled_by(conn, handler, from, to, limit))
    }

    fn events_after(
        &self,
        after: Option<(&WaybillNo, &CarrierCode, &EventId)>,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, StoreError> {
        self.read(|conn| rows::events_after(conn, after, limit))
    }

    fn waybills_after(
        &self,
        after: Option<(&WaybillNo, &CarrierCode)>,
        limit: usize,
    ) -> Result<Vec<Waybill>, StoreError> {
        self.read(|conn| rows::waybills_after(conn, &self.config.pii_key, after, limit))
    }

    fn parcel_states_after(
        &self,
        after: Option<(&WaybillNo, &CarrierCode)>,
        limit: usize,
    ) -> Result<Vec<(CarrierCode, WaybillNo, ParcelState)>, StoreError> {
        // Paging goes through the table in key order, so the pending states must be in it first.
        if self.pending_states() > 0 {
            self.flush()?;
        }
        self.read(|conn| derived::states_after(conn, after, limit))
    }

    fn create_key(&self, key: &NewApiKey) -> Result<(), StoreError> {
        self.write(|conn| rows::create_key(conn, key))
    }

    fn key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        self.read(|conn| rows::key_by_hash(conn, hash))
    }

    fn keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.read(rows::keys)
    }

    fn revoke_key(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.write(|conn| {
            let n_changed = conn
                .execute(
                    "UPDATE api_keys SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
                    params![id, at.timestamp_millis()],
                )
                .map_err(|err| sql_error("revoking a key", err))?;
            if n_changed == 0 {
                let exists = conn
                    .query_row("SELECT 1 FROM api_keys WHERE id = ?1", [id], |_| Ok(()))
                    .optional()
                    .map_err(|err| sql_error("looking up a key", err))?
                    .is_some();
                if !exists {
                    return Err(StoreError::new(ErrorKind::NotFound, format!("no API key has the id `{id}`")));
                }
            }
            Ok(())
        })
    }

    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.write(|conn| {
            conn.execute(
                "INSERT INTO audit_log (at_ms, key_id, action, subject, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![entry.at.timestamp_millis(), entry.key_id, entry.action, entry.subject, entry.detail],
            )
            .map_err(|err| sql_error("writing the audit log", err))?;
            Ok(())
        })
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.read(|conn| rows::audit_log(conn, limit))
    }

    fn counts(&self) -> Result<Counts, StoreError> {
        self.read(rows::counts)
    }

    fn capture_epcis(&self, events: &[EpcisRecord]) -> Result<Vec<Outcome>, StoreError> {
        self.write(|conn| epcis::capture(conn, events))
    }

    fn query_epcis(&self, query: &EpcisQuery) -> Result<Vec<StoredEpcis>, StoreError> {
        self.read(|conn| epcis::query(conn, query))
    }

    fn put_capture_job(&self, job: &CaptureJob) -> Result<(), StoreError> {
        self.write(|conn| epcis::put_job(conn, job))
    }

    fn capture_job(&self, id: &str) -> Result<Option<CaptureJob>, StoreError> {
        self.read(|conn| epcis::job(conn, id))
    }
}
