//! The cache of parcels in flight, which the deriver keeps (`sqlite/behind.rs`): each one's records and stored state,
//! so that re-deriving a parcel an ingest touched does not read its waybill, events, complaints and state back from
//! the database.
//!
//! The cache holds exactly what the database holds for a parcel, in the form the database returns it (times cut to
//! the millisecond, events in trace order, complaints by filing time): a parcel re-derived from the cache and one
//! re-derived from the tables get the same state (`tests/it/derived.rs` checks it). It stays true because:
//! - only the writer changes records, and the deriver applies to a cached parcel every record a committed transaction
//!   stored for it, in commit order; a parcel read from the tables that already shows a later transaction's records
//!   takes them again unchanged when that transaction's batch comes (each record is kept once);
//! - a failed transaction sends nothing, and a sweep that fails empties the cache, since what it applied was rolled
//!   back;
//! - a commit by another connection (another process on the same file) empties it too: the writer compares
//!   `PRAGMA data_version` before each transaction (see `SqliteStore::begin`).
//!
//! Parcels leave the cache when they reach a final outcome (late records for them are rare and read the tables) and,
//! least recently touched first, when it is full.

use std::sync::Arc;

use chrono::{DateTime, FixedOffset, SubsecRound};
use hashlink::LruCache;
use kuaidi_model::{Complaint, Record, ScanEvent, Waybill};

use crate::derived::{ParcelKey, ParcelRecords, ParcelState};

/// A parcel as the cache holds it.
#[derive(Debug)]
pub(super) struct CachedParcel {
    /// Its records, as the tables would return them.
    pub records: ParcelRecords,
    /// Its state (shared with the pending states), `None` when it has none yet.
    pub state: Option<Arc<ParcelState>>,
}

/// Parcels in flight, least recently touched first out.
pub(super) struct ParcelCache {
    parcels: LruCache<ParcelKey, CachedParcel>,
    capacity: usize,
    /// Lookups answered from the cache, and lookups that read the tables.
    pub hits: u64,
    pub misses: u64,
    /// Parcels that had no record stored before the transaction that brought their first ones: they start empty in
    /// the cache ([`ParcelCache::fresh`]), and nothing is read for them.
    pub fresh: u64,
}

impl std::fmt::Debug for ParcelCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParcelCache")
            .field("len", &self.parcels.len())
            .field("capacity", &self.capacity)
            .field("hits", &self.hits)
            .field("misses", &self.misses)
            .field("fresh", &self.fresh)
            .finish()
    }
}

impl ParcelCache {
    /// A cache of at most `capacity` parcels; 0 turns it off.
    pub fn new(capacity: usize) -> ParcelCache {
        ParcelCache { parcels: LruCache::new_unbounded(), capacity, hits: 0, misses: 0, fresh: 0 }
    }

    /// Whether the cache is on: off (capacity 0), every re-derivation reads the tables, new parcels too.
    pub fn is_on(&self) -> bool {
        self.capacity > 0
    }

    /// A parcel with no record stored yet, for a transaction about to store its first ones: it starts empty, takes
    /// each record as it is stored ([`CachedParcel::apply`]), and is then what the tables would return. Counted as
    /// fresh, neither a hit nor a miss.
    pub fn fresh(&mut self) -> CachedParcel {
        self.fresh += 1;
        CachedParcel { records: ParcelRecords::default(), state: None }
    }

    /// Forgets every parcel.
    pub fn clear(&mut self) {
        self.parcels.clear();
    }

    /// Takes a parcel out, to re-derive it; `None` when it is not cached.
    pub fn take(&mut self, key: &ParcelKey) -> Option<CachedParcel> {
        let parcel = self.parcels.remove(key);
        self.count(parcel.is_some());
        parcel
    }

    /// A parcel in the cache, to apply records to in place, marked as the most recently touched; `None` when it is
    /// not cached. Counts no lookup: the caller does ([`ParcelCache::count`]).
    pub fn touch(&mut self, key: &ParcelKey) -> Option<&mut CachedParcel> {
        self.parcels.get_mut(key)
    }

    /// Takes a parcel out while a transaction stores its records, without counting a lookup: it goes back with
    /// [`ParcelCache::put`] once re-derived, and the caller counts the lookup ([`ParcelCache::count`]).
    pub fn lift(&mut self, key: &ParcelKey) -> Option<CachedParcel> {
        self.parcels.remove(key)
    }

    /// Counts a re-derivation the cache answered (`hit`) or that read the tables.
    pub fn count(&mut self, hit: bool) {
        if hit {
            self.hits += 1;
        } else {
            self.misses += 1;
        }
    }

    /// Puts a re-derived parcel back, unless it reached a final outcome or the cache is off; evicts the least recently
    /// touched parcels beyond the capacity. What leaves the cache (the parcel itself when it is not kept, and the
    /// parcels evicted) goes to `retired`, for the caller to free after the writer's lock is released (putting parcels back
    /// and freeing those that left took 3.5 % of the request threads' samples in a profile of the demo,
    /// `docs/BENCHMARKS.md`).
    pub fn put(&mut self, key: ParcelKey, parcel: CachedParcel, retired: &mut Vec<CachedParcel>) {
        let in_flight = parcel.state.as_ref().is_none_or(|state| state.summary.open);
        if self.capacity == 0 || !in_flight {
            retired.push(parcel);
            return;
        }
        self.parcels.insert(key, parcel);
        while self.parcels.len() > self.capacity {
            match self.parcels.remove_lru() {
                Some((_, evicted)) => retired.push(evicted),
                None => break,
            }
        }
    }
}

impl CachedParcel {
    /// Applies a record of this parcel's that the writer has just stored (accepted, or an updated complaint), so the
    /// records stay as the tables would return them.
    ///
    /// The cache keeps a copy made here, on the deriver's thread, and drops the record it is given: the request thread
    /// that decoded the record then gets all of its memory back, strings included, and decodes the next request into
    /// it, where keeping the record's own strings left that thread faulting in fresh pages for every request (session
    /// 21, one run each: 117,288 events/s before, 124,215 after, docs/BENCHMARKS.md).
    pub fn apply(&mut self, record: Record) {
        let records = &mut self.records;
        match record {
            Record::Waybill(waybill) => records.waybill = Some(stored_waybill(Waybill::clone(&waybill))),
            Record::Event(event) => {
                kuaidi_model::insert_event(&mut records.events, stored_event(ScanEvent::clone(&event)));
            }
            Record::Complaint(complaint) => {
                let complaint = stored_complaint(Complaint::clone(&complaint));
                records.complaints.retain(|stored| stored.id != complaint.id);
                records.complaints.push(complaint);
                records.complaints.sort_by(|a, b| {
                    (a.filed_at.timestamp_millis(), a.id.as_str()).cmp(&(b.filed_at.timestamp_millis(), b.id.as_str()))
                });
            }
            Record::Carrier(_) | Record::Facility(_) => {}
        }
    }
}

/// A time as the tables keep it: milliseconds and the offset.
fn stored_time(time: DateTime<FixedOffset>) -> DateTime<FixedOffset> {
    time.trunc_subsecs(3)
}

fn stored_event(event: ScanEvent) -> ScanEvent {
    ScanEvent { time: stored_time(event.time), ..event }
}

fn stored_waybill(waybill: Waybill) -> Waybill {
    Waybill { created_at: stored_time(waybill.created_at), ..waybill }
}

fn stored_complaint(complaint: Complaint) -> Complaint {
    Complaint { filed_at: stored_time(complaint.filed_at), ..complaint }
}
