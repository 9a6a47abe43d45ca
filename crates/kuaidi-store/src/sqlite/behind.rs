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
//! Nothing acknowledged can be lost: the transaction that stored a parcel's records journalled the parcel, and the
//! journal row stays until a flush has written a state derived after those records (see `SqliteStore::hand_over`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, RwLock};

use chrono::{DateTime, Utc};
use kuaidi_model::Record;
use rusqlite::Connection;

use super::cache::ParcelCache;
use super::derived::{AlertWrites, Changes, Journal, PendingStates, Pipeline};
use crate::derived::{Aggregates, ParcelKey, RefCache, Rules};
use crate::seal::PiiKey;
use crate::{ErrorKind, StoreError};

/// How much lower the deriver's priority is than the writer's (a nice value).
#[cfg(target_os = "linux")]
const DERIVER_NICE: i32 = 5;

/// Batches the writer may be ahead of the deriver before it waits.
pub(super) const BATCHES_AHEAD: usize = 4;

/// A parcel a committed transaction stored records for, with those records.
#[derive(Debug)]
pub(super) struct Touched {
    pub key: ParcelKey,
    /// Whether the parcel had no record stored before that transaction: it then starts empty in the cache and nothing
    /// is read back for it.
    pub fresh: bool,
    /// The records the transaction stored for it (accepted, or an updated complaint), in the order it stored them.
    pub records: Vec<Record>,
}

/// What one committed transaction leaves the deriver to do.
#[derive(Debug)]
pub(super) struct Batch {
    pub now: DateTime<Utc>,
    /// Carriers and facilities as of the transaction's commit.
    pub reference: Arc<RefCache>,
    pub parcels: Vec<Touched>,
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
        }
    }

    fn progress(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Notes a batch sent (by the writer, under its lock, in commit order).
    pub fn note_sent(&self) {
        self.progress().sent += 1;
    }

    /// Waits until the deriver has finished `sent` batches.
    pub fn catch_up_to(&self, sent: u64) -> Result<(), StoreError> {
        let mut progress = self.progress();
        while progress.derived < sent {
            if progress.gone {
                return Err(StoreError::new(
                    ErrorKind::Unavailable,
                    "the thread deriving parcel states has stopped; restart the server to re-derive them",
                ));
            }
            progress = self.progressed.wait(progress).unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        Ok(())
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

    /// Derives one batch: each parcel from the cache (with the batch's records applied), fresh, or read from the
    /// tables on `conn`, which then hold at least the batch's records (a later batch's records, read too, are applied
    /// again when that batch comes, which changes nothing: the cache keeps each record once).
    fn derive(&self, conn: &Connection, key: &PiiKey, batch: Batch) -> Result<(), StoreError> {
        let Batch { now, reference, parcels } = batch;
        let mut cache = self.cache.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut changes = {
            let pending = self.pending.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            let mut pipeline = Pipeline::new(reference, Arc::clone(&self.rules), Journal::Ingest, now);
            for Touched { key: parcel_key, fresh, records } in parcels {
                let mut cached = match cache.lift(&parcel_key) {
                    Some(cached) => {
                        cache.count(true);
                        Some(cached)
                    }
                    None if fresh && cache.is_on() => Some(cache.fresh()),
                    None => {
                        cache.count(false);
                        None
                    }
                };
                if let Some(cached) = &mut cached {
                    for record in records {
                        cached.apply(record);
                    }
                }
                pipeline.touched(conn, key, &pending, parcel_key, cached)?;
            }
            pipeline.finish(&mut cache)?
        };
        drop(cache);
        let merged = self.merge_derived(&mut changes);
        // The parcels that left the cache are freed here, off the writer's thread.
        drop(changes);
        merged
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

/// The deriver's thread: derives each batch in the order sent, until the writer's sender is dropped.
pub(super) fn run(kept: Arc<Kept>, conn: Connection, key: PiiKey, batches: mpsc::Receiver<Batch>) {
    let _gone = Gone(&kept);
    // The writer goes first when both want a core: the deriver only has to keep within a few batches of it (Linux
    // keeps a nice value per thread, and the derivation helpers it starts inherit it).
    #[cfg(target_os = "linux")]
    if let Err(err) = rustix::process::nice(DERIVER_NICE) {
        tracing::debug!(%err, "could not lower the deriver's priority");
    }
    for batch in batches {
        let started = std::time::Instant::now();
        if !kept.broken() {
            if let Err(err) = kept.derive(&conn, &key, batch) {
                tracing::error!(%err, "could not derive parcel states; the writer re-derives the journalled parcels");
                kept.break_down();
            }
        }
        kept.busy_ns.fetch_add(started.elapsed().as_nanos() as u64, Ordering::Relaxed);
        kept.progress().derived += 1;
        kept.progressed.notify_all();
    }
}
