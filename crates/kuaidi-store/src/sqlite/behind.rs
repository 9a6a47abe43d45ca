//! Derived state kept behind the writer: a thread of its own ("kuaidi-deriver") re-derives the parcels each ingest
//! transaction touched once that transaction has committed, while the writer stores the next one's records.
//!
//! The writer sends each committed transaction's parcels, with the records it stored for them, as a [`Batch`], in
//! commit order, over a bounded channel: a writer more than [`BATCHES_AHEAD`] batches ahead waits for the deriver, so
//! the deriver's lag, and the memory it holds, stay bounded. The deriver owns the parcel cache while it derives (a
//! batch's parcels come from the cache, start fresh, or are read from the tables on its own read connection), and
//! makes the new states pending and the aggregates current at once, with what the derivations raised and cleared
//! queued in the outbox for the writer to store in the main file ([`Kept::merge_derived`]). Nothing it derives needs
//! the writer's lock, so the writer may wait for it while holding that lock.
//!
//! The deriver does not derive each batch as it comes. It applies the batch's records to the parcels they touch at
//! once, and holds those parcels back ([`Held`]), so that a parcel touched by several batches in a row is derived once,
//! from all of their records. It derives what it holds when a reader or the writer waits for it
//! ([`Kept::catch_up_to`]), once it has taken in every batch they wait for ([`Kept::awaited`]), when it holds
//! [`HELD_RECORDS`] records or [`HELD_BATCHES`] batches, when no batch has come for [`HELD_IDLE`], and when the writer
//! stops. Each parcel is derived at the clock and with the reference data of the last batch that touched it, so its
//! state is the one deriving every batch in turn would have left; only alerts that a batch raised and a later one in
//! the same hold cleared are never raised (docs/BENCHMARKS.md, session 21).
//!
//! Nothing acknowledged can be lost: the transaction that stored a parcel's records journalled the parcel, and the
//! journal row stays until a flush has written a state derived after those records (see `SqliteStore::hand_over`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, RwLock};

use chrono::{DateTime, Utc};
use kuaidi_model::Record;
use rusqlite::Connection;

use super::cache::{CachedParcel, ParcelCache};
use super::derived::{AlertWrites, Changes, Journal, PendingStates, Pipeline};
use crate::derived::{Aggregates, ParcelKey, RefCache, Rules};
use crate::seal::PiiKey;
use crate::{ErrorKind, StoreError};

/// How much lower the deriver's priority is than the writer's (a nice value): the lowest, so that on a machine short
/// of cores it runs on what the writer and the request threads leave, and never takes a core from them. Against nice
/// 5, `bench ingest` ran 5 to 11 % faster on 2 cores, in alternated runs (docs/BENCHMARKS.md, session 23). The writer
/// cannot starve it: a writer [`BATCHES_AHEAD`] batches ahead waits for it, and leaves it the core. Other work can, so
/// a thread that waits for it (a reader catching up, the writer on a full channel) raises it to [`WAITED_NICE`]
/// meanwhile ([`Kept::block`]); the derivation helpers it starts then start at that priority too.
const DERIVER_NICE: i32 = 19;

/// The deriver's nice value while a reader or the writer waits for it: the writer's own. At nice 19 beside other work
/// of the same session at nice 0, the deriver got almost no CPU, and `bench ingest` beside two `yes` loops waited 90 s
/// for a catch-up of about a second's work (docs/BENCHMARKS.md, session 25).
const WAITED_NICE: i32 = 0;

/// Batches the writer may have sent that the deriver has not taken in yet before it waits.
pub(super) const BATCHES_AHEAD: usize = 4;

/// Records the deriver holds back at most before it derives what it holds: eight of `bench ingest`'s transactions,
/// which the writer stores in about 30 s on the project's machine. A read that comes after a burst of ingest waits for
/// at most this many records' parcels to be derived (about 7 s at the end of `bench ingest`), and those in the batches
/// not yet taken in. One run each with 2 and 4 million gave 115,255 and 117,288 events/s, within the bench's noise
/// (docs/BENCHMARKS.md, session 21).
pub(super) const HELD_RECORDS: usize = 4_000_000;

/// Batches the deriver holds back at most.
pub(super) const HELD_BATCHES: usize = 256;

/// How long the deriver holds parcels back while no batch comes. An hour in unit tests, so that a read the deriver
/// did not wake for would show (`sqlite::tests`).
#[cfg(not(test))]
pub(super) const HELD_IDLE: std::time::Duration = std::time::Duration::from_secs(10);
#[cfg(test)]
pub(super) const HELD_IDLE: std::time::Duration = std::time::Duration::from_secs(3600);

/// What the writer and the waiters send the deriver.
#[derive(Debug)]
pub(super) enum ToDeriver {
    /// A committed transaction's parcels.
    Batch(Batch),
    /// Someone waits for the deriver: derive what is held.
    Wake,
}

/// A parcel a committed transaction stored records for.
#[derive(Debug)]
pub(super) struct Touched {
    pub key: ParcelKey,
    /// Whether the parcel had no record stored before that transaction: it then starts empty in the cache and nothing
    /// is read back for it.
    pub fresh: bool,
    /// How many records the transaction stored for it: the next ones in [`Touches::records`].
    pub records: usize,
}

/// The parcels a transaction stored records for, each once, with those records (accepted, or an updated complaint)
/// in one vector, parcel after parcel in the same order, each parcel's in the order stored. One vector for the whole
/// transaction, where each parcel had one of its own before: the writer grew some hundred thousand small vectors per
/// transaction, on its critical path, for the deriver to free (docs/BENCHMARKS.md, session 22).
#[derive(Debug, Default)]
pub(super) struct Touches {
    pub parcels: Vec<Touched>,
    pub records: Vec<Record>,
}

/// What one committed transaction leaves the deriver to do.
#[derive(Debug)]
pub(super) struct Batch {
    pub now: DateTime<Utc>,
    /// Carriers and facilities as of the transaction's commit.
    pub reference: Arc<RefCache>,
    pub touches: Touches,
}

/// How far the deriver is behind the writer.
#[derive(Debug, Default)]
struct Progress {
    /// Batches the writer has sent, and batches the deriver has finished.
    sent: u64,
    derived: u64,
    /// A batch failed to derive: the derived state no longer follows the records, and the writer must reload it
    /// (re-derive the journalled parcels) before the next transaction. Later batches are skipped until then.
    broken: bool,
    /// The deriver's thread has ended.
    gone: bool,
    /// Readers and writers waiting for the deriver: while there are any, it holds back nothing beyond `target`.
    waiting: usize,
    /// Writers blocked on a full channel. While they or `waiting` are any, the deriver runs at [`WAITED_NICE`].
    sending: usize,
    /// The most batches any of them waits for (the batches sent when it began to wait).
    target: u64,
}

impl Progress {
    /// Whether any thread waits for the deriver: a reader or writer catching up, or a writer on a full channel.
    fn blocked(&self) -> bool {
        self.waiting + self.sending > 0
    }
}

/// The derived state the writer and the deriver share: the parcel cache, the pending states, the aggregates, and the
/// outbox of alerts derived but not stored yet.
#[derive(Debug)]
pub(super) struct Kept {
    /// Parcels in flight; the deriver holds it while it derives a batch, a writer's sweep or reload while it works.
    pub cache: Mutex<ParcelCache>,
    /// The indicator and coverage aggregates, as of the last batch derived.
    pub aggregates: RwLock<Aggregates>,
    /// Parcel states newer than their rows in `parcels`. Readers look here before the table.
    pub pending: RwLock<PendingStates>,
    /// What derivations raised and cleared, in order, for the writer's next transaction to store. Locked while the
    /// deriver makes a batch's states pending and while the writer takes states to flush, so that a state is never
    /// flushed before its alerts are stored.
    pub outbox: Mutex<Vec<AlertWrites>>,
    progress: Mutex<Progress>,
    progressed: Condvar,
    pub rules: Arc<Rules>,
    /// Time the deriver spent deriving, in nanoseconds.
    pub busy_ns: AtomicU64,
    /// A way to wake the deriver when someone waits for it; `None` once the writer has stopped, so that the channel
    /// closes and the deriver ends.
    wake: Mutex<Option<mpsc::SyncSender<ToDeriver>>>,
    /// The deriver's thread id once it runs (0 before), so that a waiter can raise its priority ([`Kept::prioritise`]).
    deriver_tid: AtomicI32,
}

impl Kept {
    pub fn new(cache: ParcelCache, aggregates: Aggregates, pending: PendingStates, rules: Arc<Rules>) -> Kept {
        Kept {
            cache: Mutex::new(cache),
            aggregates: RwLock::new(aggregates),
            pending: RwLock::new(pending),
            outbox: Mutex::new(Vec::new()),
            progress: Mutex::new(Progress::default()),
            progressed: Condvar::new(),
            rules,
            busy_ns: AtomicU64::new(0),
            wake: Mutex::new(None),
            deriver_tid: AtomicI32::new(0),
        }
    }

    /// Gives the deriver's channel to the waiters, to wake it with.
    pub fn set_wake(&self, sender: Option<mpsc::SyncSender<ToDeriver>>) {
        *self.wake.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = sender;
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes a batch sent (by the writer, under its lock, in commit order).
    pub fn note_sent(&self) {
        self.progress().sent += 1;
    }

    /// Waits until the deriver has finished `sent` batches; it derives what it holds back at once while anyone waits.
    pub fn catch_up_to(&self, sent: u64) -> Result<(), StoreError> {
        let mut progress = self.progress();
        if progress.derived >= sent {
            return Ok(());
        }
        self.block(&mut progress, |progress| progress.waiting += 1);
        progress.target = progress.target.max(sent);
        drop(progress);
        // A full channel needs no wake: the deriver looks at `waiting` after each batch it takes in.
        if let Some(wake) = &*self.wake.lock().unwrap_or_else(std::sync::PoisonError::into_inner) {
            let _ = wake.try_send(ToDeriver::Wake);
        }
        let mut progress = self.progress();
        let mut caught_up = Ok(());
        while progress.derived < sent {
            if progress.gone {
                caught_up = Err(StoreError::new(
                    ErrorKind::Unavailable,
                    "the thread deriving parcel states has stopped; restart the server to re-derive them",
                ));
                break;
            }
            progress = self.progressed.wait(progress).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        self.block(&mut progress, |progress| progress.waiting -= 1);
        caught_up
    }

    /// Sends the deriver a batch, raising its priority while the channel is full and the writer waits.
    pub fn send(&self, batches: &mpsc::SyncSender<ToDeriver>, batch: Batch) -> Result<(), mpsc::SendError<ToDeriver>> {
        match batches.try_send(ToDeriver::Batch(batch)) {
            Ok(()) => Ok(()),
            Err(mpsc::TrySendError::Disconnected(message)) => Err(mpsc::SendError(message)),
            Err(mpsc::TrySendError::Full(message)) => {
                self.block(&mut self.progress(), |progress| progress.sending += 1);
                let sent = batches.send(message);
                self.block(&mut self.progress(), |progress| progress.sending -= 1);
                sent
            }
        }
    }

    /// Counts a thread in or out of those blocked on the deriver (`change`), and gives the deriver the priority that
    /// follows when the first comes or the last goes.
    fn block(&self, progress: &mut Progress, change: impl FnOnce(&mut Progress)) {
        let before = progress.blocked();
        change(progress);
        if before != progress.blocked() {
            self.prioritise(if progress.blocked() { WAITED_NICE } else { DERIVER_NICE });
        }
    }

    /// Sets the deriver's nice value (Linux keeps one per thread); the caller holds `progress`, so that the changes
    /// are made in the order of the waits. Raising it back needs the privilege to lower a nice value (root,
    /// or `RLIMIT_NICE`, systemd's `LimitNICE=`); without it the deriver stays at the lowest priority, which is noted
    /// once at debug level.
    fn prioritise(&self, nice: i32) {
        #[cfg(target_os = "linux")]
        if let Some(tid) = rustix::process::Pid::from_raw(self.deriver_tid.load(Ordering::Relaxed)) {
            if let Err(err) = rustix::process::setpriority_process(Some(tid), nice) {
                static NOTED: std::sync::Once = std::sync::Once::new();
                NOTED.call_once(|| tracing::debug!(%err, nice, "could not change the deriver's priority"));
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = nice;
    }

    /// Notes the calling thread as the deriver, at the priority it should have now: the lowest, or a waiter's.
    fn register_deriver(&self) {
        let progress = self.progress();
        #[cfg(target_os = "linux")]
        self.deriver_tid.store(rustix::thread::gettid().as_raw_nonzero().get(), Ordering::Relaxed);
        self.prioritise(if progress.blocked() { WAITED_NICE } else { DERIVER_NICE });
    }

    /// Whether the deriver has finished `sent` batches, without waiting for it. Fails when its thread has ended short
    /// of them.
    pub fn derived_past(&self, sent: u64) -> Result<bool, StoreError> {
        let progress = self.progress();
        if progress.derived >= sent {
            return Ok(true);
        }
        if progress.gone {
            return Err(StoreError::new(
                ErrorKind::Unavailable,
                "the thread deriving parcel states has stopped; restart the server to re-derive them",
            ));
        }
        Ok(false)
    }

    /// Whether a batch failed to derive since the last reload.
    pub fn broken(&self) -> bool {
        self.progress().broken
    }

    /// Marks the derived state as failed, for the writer to reload.
    pub fn break_down(&self) {
        self.progress().broken = true;
    }

    /// The derived state was reloaded: batches derive again.
    pub fn mend(&self) {
        self.progress().broken = false;
    }

    /// Waits until every batch sent so far is derived: the derived state then follows every transaction committed
    /// before this call. Fails when the deriver's thread has ended with batches left.
    pub fn catch_up(&self) -> Result<(), StoreError> {
        let sent = self.progress().sent;
        self.catch_up_to(sent)
    }

    /// Applies a derivation's changes to the aggregates and makes its new states pending, and queues what it raised
    /// and cleared in the outbox, all under the outbox's lock. Fails when the aggregates lost track (a state's
    /// contribution could not be taken out); the states are pending all the same.
    pub fn merge_derived(&self, changes: &mut Changes) -> Result<(), StoreError> {
        let mut outbox = self.outbox.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        outbox.append(&mut changes.alerts);
        self.merge(changes)
    }

    /// Applies changes to the aggregates and makes the new states pending; the caller holds the outbox or the writer.
    pub fn merge(&self, changes: &Changes) -> Result<(), StoreError> {
        if changes.pairs.is_empty() {
            return Ok(());
        }
        let applied = {
            let mut aggregates = self.aggregates.write().unwrap_or_else(std::sync::PoisonError::into_inner);
            changes.pairs.iter().try_for_each(|(old, new)| aggregates.apply(old.as_deref(), new.as_deref()))
        };
        let mut pending = self.pending.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, (_, new)) in changes.keys.iter().zip(&changes.pairs) {
            if let Some(new) = new {
                pending.current.insert(key.clone(), Arc::clone(new));
            }
        }
        applied
    }
}

/// What the deriver has taken in and not derived yet.
///
/// The parcels stay in the parcel cache, which takes each batch's records at once; the hold only notes, for each
/// parcel, the last batch that touched it (an index into `batches`). A parcel that was neither cached nor fresh, or
/// that the cache evicted meanwhile, is read from the tables when it is derived: they then hold at least the records
/// of every batch taken in (a later batch's records, read too, are applied again when that batch comes, which changes
/// nothing: the cache keeps each record once).
#[derive(Debug, Default)]
struct Held {
    /// The batches taken in, each with its clock and reference data.
    batches: Vec<(DateTime<Utc>, Arc<RefCache>)>,
    parcels: HashMap<ParcelKey, usize, foldhash::fast::RandomState>,
    /// Records taken in.
    records: usize,
}

impl Held {
    /// Whether it is time to derive what is held, waiting readers aside.
    fn full(&self) -> bool {
        self.records >= HELD_RECORDS || self.batches.len() >= HELD_BATCHES
    }

    /// Takes a batch in: each parcel's records go to it in the cache, or to a fresh parcel there; a parcel that is in
    /// neither is read when it is derived. A parcel's first touch in a hold counts as a lookup of the cache.
    fn take_in(&mut self, cache: &mut ParcelCache, batch: Batch, retired: &mut Vec<CachedParcel>) {
        let Batch { now, reference, touches: Touches { parcels, records } } = batch;
        let idx = self.batches.len();
        self.batches.push((now, reference));
        let on = cache.is_on();
        let mut records = records.into_iter();
        for Touched { key, fresh, records: n_records } in parcels {
            self.records += n_records;
            let mine = records.by_ref().take(n_records);
            // Whether the cache held the parcel: `None` for one that started fresh.
            let hit = match cache.touch(&key) {
                Some(cached) => {
                    mine.for_each(|record| cached.apply(record));
                    Some(true)
                }
                None if fresh && on => {
                    let mut cached = cache.fresh();
                    mine.for_each(|record| cached.apply(record));
                    cache.put(key.clone(), cached, retired);
                    None
                }
                // Read from the tables when derived; its records are skipped here.
                None => {
                    mine.for_each(drop);
                    Some(false)
                }
            };
            let first = self.parcels.insert(key, idx).is_none();
            if let (true, Some(hit)) = (first, hit) {
                cache.count(hit);
            }
        }
    }
}

impl Kept {
    /// Derives what is held: the parcels whose last touch was the same batch together, at that batch's clock and with
    /// its reference data, batch after batch, each group in key order and made pending with its aggregates and alerts
    /// at once (so the outbox's lock is held for one batch's parcels at a time). Drains the hold, keeping its room.
    fn derive_held(&self, conn: &Connection, key: &PiiKey, held: &mut Held) -> Result<(), StoreError> {
        let mut groups: Vec<Vec<ParcelKey>> = held.batches.iter().map(|_| Vec::new()).collect();
        for (parcel_key, last) in held.parcels.drain() {
            groups[last].push(parcel_key);
        }
        for ((now, reference), mut group) in held.batches.drain(..).zip(groups) {
            if group.is_empty() {
                continue;
            }
            group.sort_unstable_by(|a, b| (a.1.as_str(), a.0.as_str()).cmp(&(b.1.as_str(), b.0.as_str())));
            let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut changes = {
                let pending = self.pending.read().unwrap_or_else(std::sync::PoisonError::into_inner);
                let mut pipeline = Pipeline::new(reference, Arc::clone(&self.rules), Journal::Ingest, now);
                let mut reading = Reading::begin(conn)?;
                for parcel_key in group {
                    reading.next()?;
                    let cached = cache.lift(&parcel_key);
                    pipeline.touched(conn, key, &pending, parcel_key, cached)?;
                }
                drop(reading);
                pipeline.finish(&mut cache)?
            };
            drop(cache);
            let merged = self.merge_derived(&mut changes);
            // The parcels that left the cache are freed here, off the writer's thread.
            drop(changes);
            merged?;
        }
        Ok(())
    }

    /// Whether someone waits for the deriver and it has taken in, besides what it has derived, the `held` batches it
    /// holds, every batch they wait for: it then derives what it holds. Not before, so that what it holds ends where
    /// the wait began, whatever the deriver's lag: a sweep, which the writer runs between two transactions, then finds
    /// each parcel derived at the clock of the last transaction before it that touched it, as a store that was not
    /// behind would (store test `the_parcel_cache_gives_the_states_the_tables_give`; the deriver at the lowest
    /// priority lagged enough to show it, session 23).
    fn awaited(&self, held: usize) -> bool {
        let progress = self.progress();
        progress.waiting > 0 && progress.derived + held as u64 >= progress.target
    }

    /// Marks `n` batches derived (or skipped) and wakes whoever waits for them.
    fn note_derived(&self, n: usize) {
        self.progress().derived += n as u64;
        self.progressed.notify_all();
    }

    /// Derives what is held, or drops it when a batch failed before; marks its batches derived.
    fn settle_held(&self, conn: &Connection, key: &PiiKey, held: &mut Held) {
        let n_batches = held.batches.len();
        if n_batches == 0 {
            return;
        }
        let started = std::time::Instant::now();
        if !self.broken() {
            if let Err(err) = self.derive_held(conn, key, held) {
                tracing::error!(%err, "could not derive parcel states; the writer re-derives the journalled parcels");
                self.break_down();
            }
        }
        held.parcels.clear();
        held.batches.clear();
        held.records = 0;
        self.busy_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        self.note_derived(n_batches);
    }
}

/// Parcels the deriver takes in one read transaction.
const PARCELS_PER_READ: usize = 256;

/// Read transactions on the deriver's connection while it takes a group's parcels in, renewed every
/// [`PARCELS_PER_READ`] parcels: the parcels it reads back from the tables (those the cache does not hold) share a
/// snapshot and a WAL read lock, where each statement took its own (SQLite's `unixShmLock`, 3.9 s of the deriver's
/// 80 s at 16.4 million events, docs/BENCHMARKS.md, session 26). It is begun only while the pending states are
/// read-locked: a batch the flush writes meanwhile stays in memory until the lock is released, after the transaction
/// has ended, so a state newer than the snapshot is always found in memory. The batches taken in were committed
/// before they were sent, so the snapshot holds their records.
struct Reading<'c> {
    conn: &'c Connection,
    parcels: usize,
}

impl<'c> Reading<'c> {
    fn begin(conn: &'c Connection) -> Result<Reading<'c>, StoreError> {
        conn.execute_batch("BEGIN").map_err(|err| super::sql_error("reading parcels back", err))?;
        Ok(Reading { conn, parcels: 0 })
    }

    /// Counts a parcel about to be taken in, and starts a fresh transaction every [`PARCELS_PER_READ`] of them, so
    /// that none holds a snapshot long enough to keep the writer's checkpoints from emptying the WAL.
    fn next(&mut self) -> Result<(), StoreError> {
        self.parcels += 1;
        if self.parcels.is_multiple_of(PARCELS_PER_READ) {
            self.conn.execute_batch("COMMIT; BEGIN").map_err(|err| super::sql_error("reading parcels back", err))?;
        }
        Ok(())
    }
}

impl Drop for Reading<'_> {
    fn drop(&mut self) {
        if let Err(err) = self.conn.execute_batch("COMMIT") {
            tracing::warn!(%err, "could not end the deriver's read transaction");
        }
    }
}

/// Ends the deriver: marks it gone, so that nobody waits for it any more.
struct Gone<'k>(&'k Kept);

impl Drop for Gone<'_> {
    fn drop(&mut self) {
        self.0.progress().gone = true;
        self.0.progressed.notify_all();
    }
}

/// The deriver's thread: takes in each batch in the order sent and derives what it holds when it is time
/// ([`Held`]), until the writer's sender is dropped.
pub(super) fn run(kept: Arc<Kept>, conn: Connection, key: PiiKey, batches: mpsc::Receiver<ToDeriver>) {
    let _gone = Gone(&kept);
    // The writer goes first when both want a core: the deriver only has to keep within a few batches of it (Linux
    // keeps a nice value per thread, and the derivation helpers it starts inherit it).
    kept.register_deriver();
    let mut held = Held::default();
    loop {
        let message = if held.batches.is_empty() {
            batches.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected)
        } else {
            batches.recv_timeout(HELD_IDLE)
        };
        match message {
            Ok(ToDeriver::Batch(batch)) => {
                if kept.broken() {
                    // Skipped until the writer reloads: it re-derives the journalled parcels then.
                    kept.note_derived(1);
                } else {
                    let started = std::time::Instant::now();
                    let mut retired = Vec::new();
                    let mut cache = kept.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    held.take_in(&mut cache, batch, &mut retired);
                    drop(cache);
                    drop(retired);
                    kept.busy_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
                }
            }
            Ok(ToDeriver::Wake) => {}
            Err(mpsc::RecvTimeoutError::Timeout) => {
                kept.settle_held(&conn, &key, &mut held);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                kept.settle_held(&conn, &key, &mut held);
                return;
            }
        }
        if held.full() || kept.awaited(held.batches.len()) {
            kept.settle_held(&conn, &key, &mut held);
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn nice_of(tid: rustix::process::Pid) -> i32 {
        rustix::process::getpriority_process(Some(tid)).expect("reading a thread's nice value")
    }

    /// Sends one more batch, and starts a reader waiting for it; returns once the reader waits.
    fn wait_for(kept: &Arc<Kept>) -> std::thread::JoinHandle<Result<(), StoreError>> {
        kept.note_sent();
        let sent = kept.progress().sent;
        let waiter = std::thread::spawn({
            let kept = Arc::clone(kept);
            move || kept.catch_up_to(sent)
        });
        while kept.progress().waiting == 0 {
            std::thread::yield_now();
        }
        waiter
    }

    /// This test's thread stands in for the deriver, and a second thread waits for it.
    #[test]
    fn a_waiter_raises_the_deriver_to_the_writers_priority_and_it_is_lowest_again_after() {
        let rules = Arc::new(Rules::standard().unwrap());
        let kept = Arc::new(Kept::new(ParcelCache::new(0), Aggregates::default(), PendingStates::default(), rules));
        kept.register_deriver();
        let me = rustix::thread::gettid();
        assert_eq!(nice_of(me), DERIVER_NICE);

        let waiter = wait_for(&kept);
        let while_waited = nice_of(me);
        kept.note_derived(1);
        waiter.join().unwrap().unwrap();
        assert_eq!(nice_of(me), DERIVER_NICE, "lowest again once nobody waits");
        // Lowering a nice value needs the privilege (root here, as in CI); without it the deriver stays lowest.
        if rustix::process::geteuid().is_root() {
            assert_eq!(while_waited, WAITED_NICE);
        } else {
            assert!([WAITED_NICE, DERIVER_NICE].contains(&while_waited), "{while_waited}");
        }

        // A deriver that starts while someone waits starts at the waiter's priority.
        let waiter = wait_for(&kept);
        kept.register_deriver();
        if rustix::process::geteuid().is_root() {
            assert_eq!(nice_of(me), WAITED_NICE);
        }
        kept.note_derived(1);
        waiter.join().unwrap().unwrap();
        assert_eq!(nice_of(me), DERIVER_NICE);

        // A writer blocked on a full channel raises it too, until the batch is taken.
        let batch = || Batch { now: Utc::now(), reference: Arc::new(RefCache::default()), touches: Touches::default() };
        let (batches, received) = mpsc::sync_channel(1);
        kept.send(&batches, batch()).unwrap();
        assert_eq!(nice_of(me), DERIVER_NICE, "a channel with room does not block");
        let writer = std::thread::spawn({
            let kept = Arc::clone(&kept);
            move || kept.send(&batches, batch())
        });
        while kept.progress().sending == 0 {
            std::thread::yield_now();
        }
        if rustix::process::geteuid().is_root() {
            assert_eq!(nice_of(me), WAITED_NICE);
        }
        assert!(matches!(received.recv(), Ok(ToDeriver::Batch(_))));
        writer.join().unwrap().unwrap();
        assert_eq!(nice_of(me), DERIVER_NICE);
        assert!(matches!(received.recv(), Ok(ToDeriver::Batch(_))));
    }
}
