//! Storage for Kuaidi: the [`Store`] trait that every backend implements, its error kinds, and the embedded
//! SQLite backend.
//!
//! Callers see only the trait (`Arc<dyn Store>`). Records reach a store already validated; the store's job is to keep
//! them durably and idempotently, and to answer the trace queries fast. Personal data is sealed (encrypted) before it
//! is written and opened only when a caller asks for a waybill.

#![warn(missing_docs)]

pub mod derived;
mod error;
mod seal;
mod sqlite;
pub mod testing;
mod types;

pub use error::{ErrorKind, StoreError};
pub use seal::{PersonalData, PiiKey};
pub use sqlite::{
    states_path, SqliteConfig, SqliteStore, Synchronous, DEFAULT_FLUSH_PARCELS, DEFAULT_PARCEL_CACHE,
    DEFAULT_SWEEP_PARCELS,
};
pub use types::{
    Alert, AlertChange, AlertQuery, AlertStatus, ApiKey, AuditEntry, Capture, CaptureJob, Counts, CoverageFilter,
    CoverageGroup, EpcisQuery, EpcisRecord, Handler, NewApiKey, Outcome, StoredEpcis, SweepReport, UpkeepTiming,
};

use chrono::{DateTime, Utc};
pub use derived::{ParcelState, Rules};
use kuaidi_model::{Carrier, CarrierCode, Complaint, EventId, Facility, Record, ScanEvent, Waybill, WaybillNo};
pub use kuaidi_rules::coverage::Counts as CoverageCounts;
use kuaidi_rules::{Counters, Dimension, Filter, GroupKey};

/// A place to keep Kuaidi's records.
///
/// Every method is blocking; async callers run them on a blocking thread.
/// **Invariant**: `ingest` is atomic and durable: when it returns `Ok`, every `Accepted` outcome survives a crash of
/// the process, and a record that was already stored is answered `Duplicate` and stored once.
pub trait Store: Send + Sync {
    /// Stores a batch of validated records in one transaction and answers for each, in order. In the same
    /// transaction it re-derives every parcel the batch touched (see [`derived`]) as of `now`: its state, the
    /// indicator and coverage aggregates, and its new alerts.
    fn ingest_at(&self, records: &[Record], now: DateTime<Utc>) -> Result<Vec<Outcome>, StoreError>;

    /// [`Store::ingest_at`] for records the caller has no further use for: a backend may keep them rather than copy
    /// them (the embedded store moves them into its cache of parcels in flight). By default they are lent to
    /// `ingest_at`.
    fn ingest_owned_at(&self, records: Vec<Record>, now: DateTime<Utc>) -> Result<Vec<Outcome>, StoreError> {
        self.ingest_at(&records, now)
    }

    /// [`Store::ingest_at`] with the system clock.
    fn ingest(&self, records: &[Record]) -> Result<Vec<Outcome>, StoreError> {
        self.ingest_at(records, Utc::now())
    }

    /// Quality-indicator counters of the cells `filter` takes, summed by `group_by`. Costs the number of cells,
    /// never the number of events or parcels.
    fn indicators(&self, filter: &Filter, group_by: &[Dimension]) -> Result<Vec<(GroupKey, Counters)>, StoreError>;

    /// Safety-coverage counters summed by `group`, over the rows `filter` takes.
    fn coverage(
        &self,
        filter: &CoverageFilter,
        group: CoverageGroup,
    ) -> Result<Vec<(String, CoverageCounts)>, StoreError>;

    /// A parcel's derived state.
    fn parcel_state(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Option<ParcelState>, StoreError>;

    /// Alerts matching a query, newest first.
    fn alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>, StoreError>;

    /// Acknowledges or resolves an alert, recording the note and the key; `NotFound` for an unknown id.
    fn update_alert(&self, id: i64, change: &AlertChange) -> Result<Alert, StoreError>;

    /// Re-derives, as of `now`, every open parcel whose state can have changed with time alone (stuck, likely
    /// lost, lost by silence), updating aggregates and raising alerts.
    fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, StoreError>;

    /// Time spent so far in write transactions and, of it, in keeping derived state, for benchmarks; `None` from a
    /// backend that does not measure it.
    fn upkeep_timing(&self) -> Option<UpkeepTiming> {
        None
    }

    /// Every registered carrier.
    fn carriers(&self) -> Result<Vec<Carrier>, StoreError>;

    /// Every registered facility.
    fn facilities(&self) -> Result<Vec<Facility>, StoreError>;

    /// The waybill with this carrier and number, personal data opened.
    fn waybill(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Option<Waybill>, StoreError>;

    /// The carriers that hold a waybill or events under this number (usually one).
    fn carriers_of(&self, waybill_no: &WaybillNo) -> Result<Vec<CarrierCode>, StoreError>;

    /// The events of one parcel, ordered by time.
    fn events_of(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Vec<ScanEvent>, StoreError>;

    /// A parcel's complaints, in filing order; an unknown parcel has none.
    fn complaints_of(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Vec<Complaint>, StoreError>;

    /// Events scanned by an operator or carried by a vehicle in `[from, to)`, ordered by time, at most `limit`.
    fn handled_by(
        &self,
        handler: &Handler,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, StoreError>;

    /// Events in key order `(waybill_no, carrier, event_id)`, strictly after the key `after` (from the first when
    /// `None`), at most `limit`: for paging through every event, as `kuaidi export` does.
    fn events_after(
        &self,
        after: Option<(&WaybillNo, &CarrierCode, &EventId)>,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, StoreError>;

    /// Waybills in key order `(waybill_no, carrier)`, strictly after the key `after` (from the first when `None`),
    /// personal data opened, at most `limit`: for paging through every waybill.
    fn waybills_after(
        &self,
        after: Option<(&WaybillNo, &CarrierCode)>,
        limit: usize,
    ) -> Result<Vec<Waybill>, StoreError>;

    /// Parcel states in key order `(waybill_no, carrier)`, strictly after the key `after` (from the first when
    /// `None`), at most `limit`, each with its carrier and number: for paging through every parcel's summary, as
    /// `kuaidi export` does. A parcel whose state is not derived yet (a PostgreSQL parcel stored before derived
    /// state, until the sweep reaches it) is left out.
    fn parcel_states_after(
        &self,
        after: Option<(&WaybillNo, &CarrierCode)>,
        limit: usize,
    ) -> Result<Vec<(CarrierCode, WaybillNo, ParcelState)>, StoreError>;

    /// Stores a new API key (its hash, never the secret).
    fn create_key(&self, key: &NewApiKey) -> Result<(), StoreError>;

    /// The unrevoked key whose secret hashes to `hash`.
    fn key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError>;

    /// Every key, revoked ones included.
    fn keys(&self) -> Result<Vec<ApiKey>, StoreError>;

    /// Revokes a key; `NotFound` when no key has this id.
    fn revoke_key(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError>;

    /// Appends to the audit log.
    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError>;

    /// The newest audit entries first, at most `limit`.
    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;

    /// How many records the store holds.
    fn counts(&self) -> Result<Counts, StoreError>;

    /// Keeps EPCIS events in one transaction, answering each in order: `Accepted`, or `Duplicate` when an event with
    /// the same hash is stored (the stored one is kept).
    fn capture_epcis(&self, events: &[EpcisRecord]) -> Result<Vec<Outcome>, StoreError>;

    /// Captures an EPCIS document, in one transaction where the backend can: ingests the scan events as
    /// [`Store::ingest_at`] would at `now`, keeps the EPCIS events whose scan event was not refused as a conflict
    /// ([`Capture::keeps`]), and stores the job. Answers the scan events' outcomes in order. When one is a conflict,
    /// the caller stores the job again with that error. This default takes three transactions.
    fn capture_at(&self, capture: &Capture<'_>, now: DateTime<Utc>) -> Result<Vec<Outcome>, StoreError> {
        let outcomes = if capture.records.is_empty() { Vec::new() } else { self.ingest_at(capture.records, now)? };
        if outcomes.contains(&Outcome::Conflict) {
            let kept: Vec<EpcisRecord> = (0..capture.events.len())
                .filter(|&idx| capture.keeps(idx, &outcomes))
                .map(|idx| capture.events[idx].clone())
                .collect();
            self.capture_epcis(&kept)?;
        } else {
            self.capture_epcis(capture.events)?;
        }
        self.put_capture_job(capture.job)?;
        Ok(outcomes)
    }

    /// Stored EPCIS events matching a query, in store order, after `after_seq`, at most `limit`.
    fn query_epcis(&self, query: &EpcisQuery) -> Result<Vec<StoredEpcis>, StoreError>;

    /// Stores a capture job, replacing one with the same id.
    fn put_capture_job(&self, job: &CaptureJob) -> Result<(), StoreError>;

    /// The capture job with this id.
    fn capture_job(&self, id: &str) -> Result<Option<CaptureJob>, StoreError>;
}
