//! The embedded backend: SQLite in WAL mode, one writer connection and a pool of readers, over two database files:
//! the main file (records, alerts, keys, the state journal) and, since schema version 8, a file of its own for the
//! parcel states and the aggregates' snapshot ([`states_path`]), which a flush thread writes beside the writer.
//!
//! Durability: every `ingest` is one transaction. With `synchronous=NORMAL` (the default) a committed transaction is
//! in the WAL file before `ingest` returns, so it survives `kill -9` of the process; with `synchronous=FULL` it is also
//! fsynced, so it survives a power cut. Writers are serialised by a mutex (SQLite allows one writer at a time anyway);
//! readers run concurrently on their own connections and never block the writer.

mod behind;
mod cache;
mod derived;
mod epcis;
mod rows;
#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};

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
const AFTER_STATES_FILE: &[&str] = &[
    include_str!("../migrations/sqlite/0009_journal_batches.sql"),
    include_str!("../migrations/sqlite/0010_handler_postings.sql"),
];

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
    /// How many due parcels a sweep re-derives per transaction ([`DEFAULT_SWEEP_PARCELS`] by default). Tests set it
    /// small, so that a sweep takes many transactions.
    pub sweep_parcels: usize,
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
            sweep_parcels: DEFAULT_SWEEP_PARCELS,
            flush_every: FLUSH_EVERY,
            derived_state: true,
        }
    }
}

/// Parcels the writer keeps in memory by default: about 2 KiB each, so about 500 MiB when full.
pub const DEFAULT_PARCEL_CACHE: usize = 250_000;

/// Pending parcel states the writer gathers by default before writing them all. A pending state shares its memory
/// with the parcel cache while the parcel is cached (about 1 KiB once evicted). A larger batch writes each parcel's
/// state fewer times; an open after a crash re-derives the parcels of the batch being written and of those gathered
/// since (up to four batches, `GATHER_WHILE_FLUSHING`).
pub const DEFAULT_FLUSH_PARCELS: usize = 500_000;

/// Batches of pending states (`SqliteConfig::flush_parcels` each) the deriver may make pending while a batch is being
/// written, before the writer waits for that write to end. The bound holds the states' memory (about 1 KiB each once
/// the parcel cache has let the parcel go) when the flush falls behind, and with it how many parcels an open after a
/// crash re-derives: those in the batch in flight and those gathered since. The writer used to wait once it had
/// journalled twice a batch of parcels since the journal's cut, which in `bench ingest` it had by the time of each
/// hand-over (that comes once the deriver has derived what it held): it then waited for the whole flush, 8 s of a
/// 75 s ingest. Counting the states pending, at four batches, it never waits there, and the flush writes each
/// parcel's state fewer times (docs/BENCHMARKS.md, session 26).
const GATHER_WHILE_FLUSHING: usize = 4;

/// How often, at most, pending parcel states are written (and the aggregates' snapshot with them) while ingest runs.
pub const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_secs(60);

/// How much lower the flush thread's priority is than the writer's (a nice value: each step is about a quarter less
/// CPU when both want it; `docs/BENCHMARKS.md`).
#[cfg(target_os = "linux")]
const FLUSH_NICE: i32 = 10;

/// What the writer keeps beside its connection; locked only while the writer is held.
#[derive(Debug)]
struct WriterState {
    /// Carriers and facilities, for the rules; shared with the derivations in flight.
    reference: Arc<crate::derived::RefCache>,
    /// Snapshot bookkeeping.
    snapshot: derived::SnapshotState,
    /// The batch of states being written to the states file, if one is.
    flush: Option<InFlight>,
    /// The journal's last row as of the writer's last transaction.
    journal_end: i64,
    /// Journal rows up to this one name states now in the states file; the next transaction deletes them.
    journal_done: Option<i64>,
    /// `PRAGMA data_version` after the writer's last transaction: a different value means another connection
    /// committed since, and what the writer keeps in memory must be reloaded.
    data_version: i64,
    /// Parcels journalled since the last hand-over to a flush: a transaction journals each parcel it stores records
    /// for unless it is here. Once the deriver has caught up, the pending states cover every parcel journalled so
    /// far, and a hand-over of them lets the journal's rows up to then go.
    journalled: Keys,
    /// Parcels known to have records stored; any other parcel is probed before its first record is stored, to learn
    /// whether it starts fresh. Emptied when it reaches [`KNOWN_PARCELS_PER_CACHED`] times the cache's size.
    known: Known,
    /// Where the writer last cut the journal while the deriver was behind: the batches sent up to the cut, and the
    /// journal's last row then. Once the deriver has derived that many batches, the pending states cover every parcel
    /// journalled up to that row, and the first transaction to find it so hands them to a flush, which lets those
    /// rows go.
    cut: Option<(u64, i64)>,
    /// Batches sent to the deriver so far.
    sent: u64,
    /// The deriver's channel; `None` without derived state, and once the store is closing.
    batches: Option<mpsc::SyncSender<behind::ToDeriver>>,
}

/// A set of parcel keys on the writer's path (foldhash: see [`derived::Pending`]).
type Keys = std::collections::HashSet<crate::derived::ParcelKey, foldhash::fast::RandomState>;

/// How many parcels the writer remembers as known per parcel the cache holds.
const KNOWN_PARCELS_PER_CACHED: usize = 4;

/// Parcels known to have records stored, by a 64-bit hash of their key: 8 bytes a parcel and no copy of the key, where
/// a set of keys took 48 bytes and a copy. A parcel found here is never started fresh but read back from the tables,
/// which is right for any parcel, so a hash that two keys share by chance costs one read and nothing else.
#[derive(Debug, Default)]
struct Known {
    hasher: foldhash::fast::RandomState,
    hashes: std::collections::HashSet<u64, foldhash::fast::RandomState>,
}

impl Known {
    fn contains(&self, key: &crate::derived::ParcelKey) -> bool {
        self.hashes.contains(&std::hash::BuildHasher::hash_one(&self.hasher, key))
    }

    /// Notes a parcel, first forgetting every one when `limit` are known.
    fn insert(&mut self, key: &crate::derived::ParcelKey, limit: usize) {
        if self.hashes.len() >= limit {
            self.hashes.clear();
        }
        self.hashes.insert(std::hash::BuildHasher::hash_one(&self.hasher, key));
    }
}

/// A batch of states being written to the states file on a thread of its own ([`SqliteStore::hand_over`]).
#[derive(Debug)]
struct InFlight {
    /// The thread; it returns the recounted aggregates when asked to recount.
    thread: std::thread::JoinHandle<Result<Option<Aggregates>, StoreError>>,
    /// The journal's last row the batch covers: the rows up to it name parcels whose states the batch or the table
    /// holds.
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
    /// The writer's reference data, journal and snapshot bookkeeping; locked only while `writer` is held.
    writer_state: Mutex<WriterState>,
    /// The derived state: parcel cache, aggregates, pending states and the alerts' outbox, shared with the deriver.
    kept: Arc<behind::Kept>,
    /// The deriver's thread, when derived state is on.
    deriver: Option<std::thread::JoinHandle<()>>,
    /// The states file's own connection, which only the flush uses.
    states: Arc<Mutex<Connection>>,
    /// Time spent in write transactions, and the part of it spent on derived state, in nanoseconds.
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
        let mut cache = cache::ParcelCache::new(config.parcel_cache);
        let (mut writer_state, aggregates, recovered) = {
            let tx = begin_main(&mut writer)?;
            let loaded = load_writer_state(&tx, &config, &rules, &mut cache)?;
            tx.commit().map_err(|err| sql_error("committing a transaction", err))?;
            loaded
        };
        let recovering = !writer_state.snapshot.unchanged;
        let kept = Arc::new(behind::Kept::new(
            cache,
            aggregates,
            derived::PendingStates { current: recovered, flushing: None },
            rules,
        ));
        let deriver = if config.derived_state {
            let (batches, received) = mpsc::sync_channel(behind::BATCHES_AHEAD);
            kept.set_wake(Some(batches.clone()));
            let (kept, conn, key) = (Arc::clone(&kept), open_connection(&config)?, config.pii_key.clone());
            let thread = std::thread::Builder::new()
                .name("kuaidi-deriver".into())
                .spawn(move || behind::run(kept, conn, key, received))
                .map_err(|err| StoreError::with_source(ErrorKind::Other, "cannot start the derivation thread", err))?;
            writer_state.batches = Some(batches);
            Some(thread)
        } else {
            None
        };
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
            kept,
            deriver,
            states,
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

    /// Time the writer spent so far in ingest and sweep transactions (commit included) and the part of it spent on
    /// derived state (storing alerts and the journal, handing states to the flush, and deriving in a sweep's or
    /// recovery's transaction); the time the deriver spent deriving beside the writer; and the time the flush threads
    /// spent writing states beside the writer.
    pub fn write_timing(&self) -> UpkeepTiming {
        let nanos = |idx: usize| std::time::Duration::from_nanos(self.timing[idx].load(Ordering::Relaxed));
        UpkeepTiming {
            store: nanos(0),
            upkeep: nanos(1),
            deriving: std::time::Duration::from_nanos(self.kept.busy_ns.load(Ordering::Relaxed)),
            beside: std::time::Duration::from_nanos(self.flush_busy.load(Ordering::Relaxed)),
        }
    }

    /// How many re-derivations the parcel cache answered, how many read the tables, and how many were of parcels new
    /// to the store, which started fresh and read nothing, once every committed transaction's parcels are derived.
    pub fn parcel_cache_stats(&self) -> (u64, u64, u64) {
        if let Err(err) = self.kept.catch_up() {
            tracing::warn!(%err, "the parcel cache's figures are as of the last batch derived");
        }
        let cache = self.kept.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (cache.hits, cache.misses, cache.fresh)
    }

    /// The aggregates kept at ingest and the same counted from scratch over every parcel's stored state, taken
    /// together under the writer's lock after writing the pending states: they must be equal (`kuaidi verify` and the
    /// tests compare them).
    pub fn recount(&self) -> Result<(Aggregates, Aggregates), StoreError> {
        self.write(|conn| {
            let mut state = self.writer_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.flush_locked(conn, &mut state, false)?;
            let kept = self.kept.aggregates.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
            Ok((kept, derived::recount(conn)?))
        })
    }

    /// Writes the pending parcel states now (a clean stop, an export and a recount need them in the table), once
    /// every committed transaction's parcels are derived.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.write(|conn| {
            let mut state = self.writer_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            self.flush_locked(conn, &mut state, false)
        })
    }

    /// How many parcel states are pending and not yet handed to the flush, once every committed transaction's
    /// parcels are derived.
    pub fn pending_states(&self) -> Result<usize, StoreError> {
        self.kept.catch_up()?;
        Ok(self.pending_now())
    }

    /// How many parcel states are pending and not yet handed to the flush, as the deriver has got so far.
    fn pending_now(&self) -> usize {
        self.kept.pending.read().unwrap_or_else(std::sync::PoisonError::into_inner).current.len()
    }

    /// The file holding the parcel states and the aggregates' snapshot, beside the main file.
    pub fn states_path(&self) -> PathBuf {
        states_path(&self.config.path)
    }

    /// Writes every pending state to the states file, with the aggregates' snapshot, and waits for it: first the
    /// deriver catches up and the alerts it derived are stored (committed before any state they go with is written),
    /// then the batch in flight, if there is one, and the states gathered since are written; with `recount`, the
    /// aggregates are then counted again from the states just written. The writer and its state are held by the
    /// caller. The journal rows the batches cover are deleted in the main transaction this opens. When another
    /// connection committed since the writer's last transaction, the pending states may be stale: the writer reloads
    /// instead, which re-derives the journalled parcels from the tables and writes their states.
    fn flush_locked(&self, conn: &mut Connection, state: &mut WriterState, recount: bool) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        self.kept.catch_up()?;
        let (tx, reloaded) = self.begin(conn, state)?;
        if !reloaded {
            let taken = self.take_outbox();
            match derived::write_alerts(&tx, &taken)
                .and_then(|_| tx.commit().map_err(|err| sql_error("committing parcel states", err)))
            {
                Ok(()) => {}
                Err(err) => {
                    self.put_back_outbox(taken);
                    return Err(err);
                }
            }
            let tx = begin_main(conn)?;
            self.settle(state, true)?;
            // Parcels journalled since the last cut may have had their states handed over already (a hand-over put
            // off past the cut takes every state derived by then); their journal rows go with this hand-over.
            if recount || !state.snapshot.unchanged || self.pending_now() > 0 || !state.journalled.is_empty() {
                state.journal_end = derived::journal_end(&tx)?;
                self.hand_over(state, self.take_batch(), state.journal_end, recount)?;
                state.journalled.clear();
                state.cut = None;
                if let Some(recounted) = self.settle(state, true)? {
                    *self.kept.aggregates.write().unwrap_or_else(std::sync::PoisonError::into_inner) = recounted;
                }
            }
            if let Some(seq) = state.journal_done.take() {
                derived::forget_journal(&tx, seq)?;
            }
            tx.commit().map_err(|err| sql_error("committing parcel states", err))?;
        } else {
            tx.commit().map_err(|err| sql_error("committing parcel states", err))?;
        }
        let elapsed = started.elapsed().as_nanos() as u64;
        self.timing[0].fetch_add(elapsed, Ordering::Relaxed);
        self.timing[1].fetch_add(elapsed, Ordering::Relaxed);
        Ok(())
    }

    /// Takes the states gathered since the last hand-over out of the pending ones (they stay readable as the batch in
    /// flight) with a copy of the aggregates they add up to. The caller has stored, or stores in a transaction it
    /// commits before the hand-over, every alert those states' derivations raised or cleared: the outbox is locked
    /// while the states are taken, so the deriver adds none in between.
    fn take_batch(&self) -> (Arc<derived::Pending>, Aggregates) {
        let _outbox = self.kept.outbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        self.take_batch_locked()
    }

    /// [`SqliteStore::take_batch`] with the outbox already locked by the caller.
    fn take_batch_locked(&self) -> (Arc<derived::Pending>, Aggregates) {
        let batch = {
            let mut pending = self.kept.pending.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            let batch = Arc::new(std::mem::take(&mut pending.current));
            pending.flushing = Some(Arc::clone(&batch));
            batch
        };
        let aggregates = self.kept.aggregates.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        (batch, aggregates)
    }

    /// Takes what the deriver raised and cleared so far, for the writer's transaction to store.
    fn take_outbox(&self) -> Vec<derived::AlertWrites> {
        std::mem::take(&mut *self.kept.outbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }

    /// Puts alerts taken by a transaction that failed back at the head of the outbox.
    fn put_back_outbox(&self, mut taken: Vec<derived::AlertWrites>) {
        let mut outbox = self.kept.outbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        taken.append(&mut outbox);
        *outbox = taken;
    }

    /// Hands a batch of states ([`SqliteStore::take_batch`]) to a flush thread, which writes them to the states file
    /// with the aggregates they add up to ([`derived::write_states`]), while the writer goes on. Readers find the
    /// batch in the pending states until [`SqliteStore::settle`] has seen it committed; once it has, the journal rows
    /// up to `journal_end` go. One batch is in flight at a time. The journal starts again from here: a parcel is
    /// journalled by the next transaction that stores records for it.
    fn hand_over(
        &self,
        state: &mut WriterState,
        (batch, aggregates): (Arc<derived::Pending>, Aggregates),
        journal_end: i64,
        recount: bool,
    ) -> Result<(), StoreError> {
        debug_assert!(state.flush.is_none(), "one batch of states is in flight at a time");
        let (conn, busy) = (Arc::clone(&self.states), Arc::clone(&self.flush_busy));
        let thread = std::thread::Builder::new().name("kuaidi-flush".into()).spawn(move || {
            // The flush only has to keep up with the writer, which is the ingest's bottleneck: on a busy machine the
            // writer, the request threads and the deriver go first (Linux keeps a nice value per thread, and the
            // encoding helper started below inherits it).
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
                state.flush = Some(InFlight { thread, journal_end });
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
                let written =
                    self.kept.pending.write().unwrap_or_else(std::sync::PoisonError::into_inner).flushing.take();
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
        let mut pending = self.kept.pending.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(batch) = pending.flushing.take() {
            for (key, batch_state) in batch.iter() {
                pending.current.entry(key.clone()).or_insert_with(|| Arc::clone(batch_state));
            }
        }
    }

    /// Starts the writer's transaction, reloading what the writer keeps in memory first when another connection has
    /// committed since its last one, or a batch failed to derive; says whether it reloaded. The write lock of the main
    /// file is taken at once ([`begin_main`]), so no other connection can commit between the check of `data_version`
    /// and the transaction's writes. Otherwise it takes back a batch of states whose flush has ended, and deletes the
    /// journal rows of the last batch written.
    fn begin<'c>(
        &self,
        conn: &'c mut Connection,
        state: &mut WriterState,
    ) -> Result<(rusqlite::Transaction<'c>, bool), StoreError> {
        let tx = begin_main(conn)?;
        if data_version(&tx)? != state.data_version || self.kept.broken() {
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

    /// Replaces what the writer and the deriver keep in memory with what the database holds, inside the writer's
    /// transaction, once the deriver has caught up. A batch in flight is waited for first; the parcels the journal
    /// names are then re-derived from their records, and their states are pending. The alerts in the outbox are
    /// dropped: their parcels are journalled, and re-deriving them raises them again.
    fn reload(&self, tx: &rusqlite::Transaction<'_>, state: &mut WriterState) -> Result<(), StoreError> {
        if self.kept.broken() {
            tracing::warn!("derived state lost track of the records; re-deriving the journalled parcels");
        } else {
            tracing::warn!("another connection changed the database; reloading what the writer keeps in memory");
        }
        self.kept.catch_up()?;
        if let Err(err) = self.settle(state, true) {
            tracing::warn!(%err, "could not write a batch of parcel states; the journal names them");
        }
        let mut cache = self.kept.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.clear();
        let (reloaded, aggregates, recovered) = load_writer_state(tx, &self.config, &self.kept.rules, &mut cache)?;
        drop(cache);
        self.kept.outbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
        *self.kept.pending.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            derived::PendingStates { current: recovered, flushing: None };
        let (batches, known, sent) = (state.batches.take(), std::mem::take(&mut state.known), state.sent);
        *state = WriterState { batches, known, sent, ..reloaded };
        *self.kept.aggregates.write().unwrap_or_else(std::sync::PoisonError::into_inner) = aggregates;
        self.pending_cleared.fetch_add(1, Ordering::Relaxed);
        self.kept.mend();
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
            let (mut n_new, mut postings) = (0, rows::Postings::default());
            for event in events {
                if rows::put_event(&tx, event, received_ms, &mut postings)? == Outcome::Accepted {
                    n_new += 1;
                }
            }
            postings.write(&tx)?;
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

    /// Waits until the derived state follows every transaction committed so far, and until what it raised and cleared
    /// is stored in `alerts` (a transaction of its own when the outbox holds any): for reads of derived state.
    fn derived_as_of_now(&self, with_alerts: bool) -> Result<(), StoreError> {
        self.kept.catch_up()?;
        let queued = !self.kept.outbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_empty();
        if with_alerts && queued {
            self.write(|conn| {
                let tx = begin_main(conn)?;
                let taken = self.take_outbox();
                let stored = derived::write_alerts(&tx, &taken)
                    .and_then(|_| tx.commit().map_err(|err| sql_error("committing alerts", err)));
                if stored.is_err() {
                    self.put_back_outbox(taken);
                }
                stored
            })?;
        }
        Ok(())
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.stop_checkpointer.store(true, Ordering::Relaxed);
        // The deriver derives what it was sent and ends, once no sender is left.
        self.writer_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner).batches = None;
        self.kept.set_wake(None);
        if let Some(deriver) = self.deriver.take() {
            if deriver.join().is_err() {
                tracing::error!("the derivation thread panicked; the next start re-derives the journalled parcels");
                return;
            }
        }
        // A clean stop writes the pending states and saves the aggregates, so the next start need neither re-derive
        // the journalled parcels nor recount.
        let res = self.write(|conn| {
            let mut state = self.writer_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let (hits, misses, fresh) = self.parcel_cache_stats();
            if hits + misses + fresh > 0 {
                tracing::info!(
                    hits,
                    misses,
                    fresh,
                    "the parcel cache answered {hits} re-derivations and missed {misses}; {fresh} parcels were new"
                );
            }
            if state.snapshot.unchanged
                && self.pending_now() == 0
                && state.flush.is_none()
                && state.journal_done.is_none()
                && self.kept.outbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner).is_empty()
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

/// Due parcels a sweep re-derives per transaction by default.
pub const DEFAULT_SWEEP_PARCELS: usize = 100_000;

impl SqliteStore {
    /// For work that changes no record but re-derives parcels (a sweep): once the deriver has caught up, runs `work`,
    /// which hands the parcels to a [`derived::Pipeline`], and re-derives them, storing what they raised, the journal
    /// row and what the deriver had queued, all in one transaction; then applies the changes to the aggregates and
    /// the pending states and, now and then, hands the pending states to a flush.
    fn write_derived<T>(
        &self,
        work: impl FnOnce(
            &rusqlite::Transaction<'_>,
            &Arc<crate::derived::RefCache>,
            &mut cache::ParcelCache,
            &derived::PendingStates,
        ) -> Result<(T, derived::Pipeline), StoreError>,
    ) -> Result<(T, derived::Changes), StoreError> {
        self.write(|conn| {
            let mut guard = self.writer_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let state = &mut *guard;
            let started = std::time::Instant::now();
            self.kept.catch_up()?;
            let (tx, _) = self.begin(conn, state)?;
            let mut cache = self.kept.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut taken = Vec::new();
            let result = (|| {
                let pending = self.kept.pending.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                let (answer, pipeline) = work(&tx, &state.reference, &mut cache, &pending)?;
                let mut changes = pipeline.finish(&mut cache)?;
                drop(pending);
                taken = self.take_outbox();
                derived::write_alerts(&tx, &taken)?;
                changes.new_alerts += derived::write_alerts(&tx, &changes.alerts)?;
                if derived::write_journal(&tx, &changes.journal, changes.at_ms)?.is_some() {
                    state.journal_end = derived::journal_end(&tx)?;
                }
                tx.commit().map_err(|err| sql_error("committing a transaction", err))?;
                Ok((answer, changes))
            })();
            let (answer, changes) = match result {
                Ok(done) => done,
                Err(err) => {
                    // Rolled back: forget what the cache took in, and keep what the deriver had queued.
                    cache.clear();
                    self.put_back_outbox(taken);
                    return Err(err);
                }
            };
            drop(cache);
            let elapsed = started.elapsed().as_nanos() as u64;
            self.timing[0].fetch_add(elapsed, Ordering::Relaxed);
            self.timing[1].fetch_add(elapsed, Ordering::Relaxed);
            if !changes.pairs.is_empty() {
                state.snapshot.unchanged = false;
                if let Err(err) = self.kept.merge(&changes) {
                    // The states are right; recount the aggregates from them once they are all in the table.
                    tracing::error!(%err, "the aggregates lost track; recounting");
                    self.flush_locked(conn, state, true)?;
                    return Ok((answer, changes));
                }
            }
            // The deriver has caught up and everything it raised is stored: every pending state may be handed over.
            let journal_end = state.journal_end;
            self.hand_over_when_due(state, journal_end);
            Ok((answer, changes))
        })
    }

    /// Ingest's write: stores records in a transaction with `work`, which returns the parcels whose records changed
    /// (with those records), journals those parcels, stores what the deriver has raised and cleared since the
    /// writer's last transaction, commits, and sends the parcels to the deriver. Derived state follows after the
    /// commit ([`behind`]). Now and then the writer cuts the journal ([`WriterState::cut`]), and the first transaction
    /// that finds the deriver past the cut hands the states pending then, and any derived since, to a flush.
    fn write_behind<T>(
        &self,
        now: DateTime<Utc>,
        work: impl FnOnce(&rusqlite::Transaction<'_>, &mut WriterState) -> Result<(T, behind::Touches), StoreError>,
    ) -> Result<T, StoreError> {
        self.write(|conn| {
            let mut guard = self.writer_state.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let state = &mut *guard;
            let started = std::time::Instant::now();
            let (tx, _) = self.begin(conn, state)?;
            let now_ms = now.timestamp_millis();
            let mut taken = Vec::new();
            let mut batch = None;
            let result = (|| {
                let (answer, touched) = work(&tx, state)?;
                let begun = std::time::Instant::now();
                let mut journal = String::new();
                for parcel in &touched.parcels {
                    if state.journalled.insert(parcel.key.clone()) {
                        derived::journal_line(&mut journal, &parcel.key);
                    }
                }
                if let Some(seq) = derived::write_journal(&tx, &journal, now_ms)? {
                    state.journal_end = seq;
                }
                // The first transaction after a cut (with no batch in flight) that finds the deriver past the cut
                // hands the states it made pending to a flush after this commit, which stores what their derivations
                // raised (both taken under the outbox's lock). No transaction waits for the deriver here: one that
                // finds it short of the cut leaves the hand-over to a later one.
                let past_cut = match state.cut.filter(|_| state.flush.is_none()) {
                    Some((sent, _)) => self.kept.derived_past(sent)?,
                    None => false,
                };
                if past_cut {
                    let mut outbox = self.kept.outbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    taken = std::mem::take(&mut *outbox);
                    batch = Some(self.take_batch_locked());
                } else {
                    taken = self.take_outbox();
                }
                derived::write_alerts(&tx, &taken)?;
                tx.commit().map_err(|err| sql_error("committing a transaction", err))?;
                Ok((answer, touched, begun.elapsed()))
            })();
            let (answer, touched, mut upkeep) = match result {
                Ok(done) => done,
                Err(err) => {
                    // Rolled back: the parcels noted as journalled may have no row; journal every parcel again.
                    state.journalled.clear();
                    self.put_back_outbox(taken);
                    if batch.is_some() {
                        self.take_back_batch();
                    }
                    state.reference = Arc::new(derived::load_reference(conn)?);
                    return Err(err);
                }
            };
            if let Some(batch) = batch {
                let journal_end = state.cut.take().map_or(state.journal_end, |(_, journal_end)| journal_end);
                if let Err(err) = self.hand_over(state, batch, journal_end, false) {
                    // The journal still names the pending parcels; the next flush, or the next start, writes them.
                    tracing::warn!(%err, "could not hand the pending parcel states to a flush; retrying later");
                }
            }
            if !touched.parcels.is_empty() {
                state.snapshot.unchanged = false;
                self.send(state, behind::Batch { now, reference: Arc::clone(&state.reference), touches: touched });
            }
            let begun = std::time::Instant::now();
            let (gathered, batch) = (state.journalled.len(), self.config.flush_parcels.max(1));
            if gathered >= batch || (gathered > 0 && state.snapshot.handed_over_at.elapsed() >= self.config.flush_every)
            {
                self.wait_when_gathered(state, batch);
                if state.flush.is_none() && state.cut.is_none() {
                    // Cut the journal here; the first later transaction that finds the deriver past this one's
                    // parcels hands the states over, and none waits for the deriver to get there.
                    state.cut = Some((state.sent, state.journal_end));
                    state.journalled.clear();
                }
            }
            upkeep += begun.elapsed();
            self.timing[0].fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
            self.timing[1].fetch_add(upkeep.as_nanos() as u64, Ordering::Relaxed);
            Ok(answer)
        })
    }

    /// Sends a committed transaction's parcels to the deriver, waiting when it is [`behind::BATCHES_AHEAD`] batches
    /// behind (the deriver then runs at the writer's priority, [`behind::Kept::send`]). When it has gone (it
    /// panicked), the derived state stops following the records until a restart, which re-derives the journalled
    /// parcels; the records themselves are stored.
    fn send(&self, state: &mut WriterState, batch: behind::Batch) {
        let Some(batches) = &state.batches else { return };
        match self.kept.send(batches, batch) {
            Ok(()) => {
                state.sent += 1;
                self.kept.note_sent();
            }
            Err(_) => {
                tracing::error!("the derivation thread has stopped; the next start re-derives the journalled parcels");
                state.batches = None;
            }
        }
    }

    /// One batch is in flight at a time. While it is, states gather on, up to [`GATHER_WHILE_FLUSHING`] batches of
    /// `batch`; then the writer waits for the flush, so that memory stays bounded when it falls behind. Ingest and
    /// sweeps both come here.
    fn wait_when_gathered(&self, state: &mut WriterState, batch: usize) {
        if state.flush.is_some() && self.pending_now() >= GATHER_WHILE_FLUSHING * batch {
            if let Err(err) = self.settle(state, true) {
                tracing::warn!(%err, "could not write a batch of parcel states; they stay pending");
            }
        }
    }

    /// Hands the pending states to a flush when enough have gathered, or long enough ago; the deriver has caught up
    /// and what it raised is stored (a sweep's transaction), so they cover every parcel journalled up to
    /// `journal_end`.
    fn hand_over_when_due(&self, state: &mut WriterState, journal_end: i64) {
        let gathered = self.pending_now();
        let batch = self.config.flush_parcels.max(1);
        let due = gathered >= batch
            || (!state.snapshot.unchanged && state.snapshot.handed_over_at.elapsed() >= self.config.flush_every);
        if !due {
            return;
        }
        let started = std::time::Instant::now();
        self.wait_when_gathered(state, batch);
        if state.flush.is_none() {
            match self.hand_over(state, self.take_batch(), journal_end, false) {
                Ok(()) => {
                    state.journalled.clear();
                    state.cut = None;
                }
                // The journal still names the pending parcels; the next flush, or the next start, writes them.
                Err(err) => tracing::warn!(%err, "could not hand the pending parcel states to a flush; retrying later"),
            }
        }
        let elapsed = started.elapsed().as_nanos() as u64;
        self.timing[0].fetch_add(elapsed, Ordering::Relaxed);
        self.timing[1].fetch_add(elapsed, Ordering::Relaxed);
    }
}

/// What the writer keeps in memory, loaded from the database inside the writer's transaction: the reference cache,
/// the aggregates (from the snapshot when it is clean, otherwise recounted), and the `data_version` they are as of;
/// and the pending states. Parcels the journal names are re-derived from their records (with `cache`, emptied by the
/// caller) and their states are pending, journalled still, until a flush writes them; what they raise is stored in
/// this transaction. (Writing the states here, on the states file's own connection, would leave this transaction
/// reading the states file as it was before.)
fn load_writer_state(
    tx: &rusqlite::Transaction<'_>,
    config: &SqliteConfig,
    rules: &Arc<Rules>,
    cache: &mut cache::ParcelCache,
) -> Result<(WriterState, Aggregates, derived::Pending), StoreError> {
    let reference = Arc::new(derived::load_reference(tx)?);
    let (mut aggregates, clean_on_disk) = derived::load_aggregates(tx)?;
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
            cache,
            &none,
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
        flush: None,
        journal_end,
        journal_done: None,
        data_version: data_version(tx)?,
        journalled: Keys::default(),
        known: Known::default(),
        cut: None,
        sent: 0,
        batches: None,
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

/// Checkpoints off the write path where it can. SQLite's automatic checkpoint runs inside a committing writer and makes
/// it wait while pages are copied and the database file synced; this thread copies pages ahead of it, so that the
/// writer's own checkpoint (which alone can restart the WAL) has less left to do. Only while a commit adds less than
/// [`WRITER_CHECKPOINT_BYTES`] to the WAL, though: a transaction of 500,000 records adds more, the writer checkpoints
/// in that commit, and this thread finds nothing to do; a writer threshold of 1 GiB left the WAL growing (the writer's
/// next transaction begins before a passive checkpoint can finish, so the WAL never restarts) and ingest slower
/// (`docs/BENCHMARKS.md`, session 27). The states file is checkpointed by the flush
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
    /// Stores records inside a writing transaction, in [`storage_order`], noting what the reference data must learn.
    /// Returns the answers, in the records' order, and the parcels whose records changed (new or changed waybills,
    /// events and complaints), each once, in key order `(waybill_no, carrier)`, with the records stored for it: moved
    /// when the caller gave them up ([`Store::ingest_owned_at`], which `/v1` ingest uses), copied when it lent them.
    fn put_records<'r>(
        &self,
        tx: &rusqlite::Transaction<'_>,
        records: impl Iterator<Item = (usize, Cow<'r, Record>)>,
        n_records: usize,
        state: &mut WriterState,
    ) -> Result<(Vec<Outcome>, behind::Touches), StoreError> {
        let key = &self.config.pii_key;
        let received_ms = Utc::now().timestamp_millis();
        // Every slot is written below: `storage_order` visits each record once.
        let mut outcomes = vec![Outcome::Duplicate; n_records];
        let mut touched = behind::Touches {
            parcels: Vec::new(),
            records: Vec::with_capacity(if self.config.derived_state { n_records } else { 0 }),
        };
        // The parcel whose records are being stored, and whether any of them changed it.
        let mut current: Option<(behind::Touched, bool)> = None;
        let mut postings = rows::Postings::default();
        let mut done = |current: Option<(behind::Touched, bool)>, known: &mut Known| {
            if let Some((parcel, true)) = current {
                if self.config.derived_state {
                    known.insert(&parcel.key, KNOWN_PARCELS_PER_CACHED * self.config.parcel_cache.max(1));
                    touched.parcels.push(parcel);
                }
            }
        };
        for (idx, record) in records {
            let parcel = record.parcel();
            if parcel != current.as_ref().map(|(touched, _)| (&touched.key.0, &touched.key.1)) {
                done(current.take(), &mut state.known);
                current = match parcel {
                    Some((carrier, waybill_no)) => {
                        let parcel_key = (carrier.clone(), waybill_no.clone());
                        Some((self.probe(tx, &state.known, parcel_key)?, false))
                    }
                    None => None,
                };
            }
            let outcome = match &*record {
                Record::Carrier(carrier) => rows::put_carrier(tx, carrier)?,
                Record::Facility(facility) => rows::put_facility(tx, facility)?,
                Record::Waybill(waybill) => rows::put_waybill(tx, key, waybill, received_ms)?,
                Record::Event(event) => rows::put_event(tx, event, received_ms, &mut postings)?,
                Record::Complaint(complaint) => rows::put_complaint(tx, key, complaint, received_ms)?,
            };
            if matches!(outcome, Outcome::Accepted | Outcome::Updated) {
                match current.as_mut() {
                    Some((parcel, changed)) => {
                        *changed = true;
                        // Without derived state no parcel is derived, and its records are not kept.
                        if self.config.derived_state {
                            parcel.records += 1;
                            touched.records.push(record.into_owned());
                        }
                    }
                    None => Arc::make_mut(&mut state.reference).note(&record),
                }
            }
            outcomes[idx] = outcome;
        }
        done(current.take(), &mut state.known);
        postings.write(tx)?;
        Ok((outcomes, touched))
    }

    /// Stores records handed over in [`storage_order`], with their positions, and answers for each in the original
    /// order ([`Store::ingest_at`]).
    fn ingest_in_order<'r>(
        &self,
        records: impl Iterator<Item = (usize, Cow<'r, Record>)>,
        n_records: usize,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outcome>, StoreError> {
        self.write_behind(now, |tx, state| self.put_records(tx, records, n_records, state))
    }

    /// A parcel about to have records stored: one the writer does not know to have records, and whose records are
    /// all new (a probe of three index seeks finds none stored), starts fresh, so that the deriver reads nothing back
    /// for it: in a profile of the demo, loading parcels from the tables took 11 % of the request threads' samples,
    /// most of them new parcels, whose waybill was read back and its personal data opened (docs/BENCHMARKS.md). With
    /// the cache off, or without derived state, nothing is probed.
    fn probe(
        &self,
        tx: &rusqlite::Transaction<'_>,
        known: &Known,
        parcel_key: crate::derived::ParcelKey,
    ) -> Result<behind::Touched, StoreError> {
        let fresh = self.config.derived_state
            && self.config.parcel_cache > 0
            && !known.contains(&parcel_key)
            && !rows::has_records(tx, &parcel_key.0, &parcel_key.1)?;
        Ok(behind::Touched { key: parcel_key, fresh, records: 0 })
    }
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
        self.write_behind(now, |tx, state| {
            let (outcomes, touched) = self.put_records(tx, lent, capture.records.len(), state)?;
            let kept = capture.events.iter().enumerate().filter(|(idx, _)| capture.keeps(*idx, &outcomes));
            epcis::capture_in(tx, kept.map(|(_, event)| event))?;
            epcis::put_job(tx, capture.job)?;
            Ok((outcomes, touched))
        })
    }

    fn indicators(&self, filter: &Filter, group_by: &[Dimension]) -> Result<Vec<(GroupKey, Counters)>, StoreError> {
        self.derived_as_of_now(false)?;
        let aggregates = self.kept.aggregates.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(aggregates.cube.slice(filter, group_by))
    }

    fn coverage(
        &self,
        filter: &CoverageFilter,
        group: CoverageGroup,
    ) -> Result<Vec<(String, CoverageCounts)>, StoreError> {
        self.derived_as_of_now(false)?;
        let aggregates = self.kept.aggregates.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(crate::derived::coverage_rollup(&aggregates.coverage, filter, group))
    }

    fn parcel_state(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Option<ParcelState>, StoreError> {
        self.derived_as_of_now(false)?;
        let key = (carrier.clone(), waybill_no.clone());
        if let Some(state) = self.kept.pending.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(&key) {
            return Ok(Some(ParcelState::clone(state)));
        }
        // A batch leaves the pending states only after its flush has committed, so the table has it by now.
        self.read(|conn| derived::state(conn, carrier, waybill_no))
    }

    fn alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
        self.derived_as_of_now(true)?;
        self.read(|conn| derived::alerts(conn, query))
    }

    fn update_alert(&self, id: i64, change: &AlertChange) -> Result<Alert, StoreError> {
        self.derived_as_of_now(true)?;
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
        let chunk = self.config.sweep_parcels.max(1);
        let mut cursor: Option<derived::DueCursor> = None;
        let mut cursor_epoch = self.pending_cleared.load(Ordering::Relaxed);
        loop {
            let (n_due, changes) = self.write_derived(|tx, reference, parcels, pending| {
                let epoch = self.pending_cleared.load(Ordering::Relaxed);
                if epoch != cursor_epoch {
                    (cursor, cursor_epoch) = (None, epoch);
                }
                let due = derived::due(tx, pending, now, chunk, &mut cursor)?;
                let n_due = due.len();
                // A sweep changes no record; it journals its parcels with its clock, since their new states are
                // pending like any other.
                let mut pipeline = derived::Pipeline::new(
                    Arc::clone(reference),
                    Arc::clone(&self.kept.rules),
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
            if n_due < chunk {
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
        if self.pending_states()? > 0 {
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
