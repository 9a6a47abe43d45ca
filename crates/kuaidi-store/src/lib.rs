//! Storage for Kuaidi: the [`Store`] trait that every backend implements, its error kinds, and the embedded
//! SQLite backend.
//!
//! Callers see only the trait (`Arc<dyn Store>`). Records reach a store already validated; the store's job is to keep
//! them durably and idempotently, and to answer the trace queries fast. Personal data is sealed (encrypted) before it
//! is written and opened only when a caller asks for a waybill.

#![warn(missing_docs)]

mod error;
mod seal;
mod sqlite;
pub mod testing;
mod types;

pub use error::{ErrorKind, StoreError};
pub use seal::{PersonalData, PiiKey};
pub use sqlite::{SqliteConfig, SqliteStore, Synchronous};
pub use types::{ApiKey, AuditEntry, Counts, Handler, NewApiKey, Outcome};

use chrono::{DateTime, Utc};
use kuaidi_model::{Carrier, CarrierCode, Facility, Record, ScanEvent, Waybill, WaybillNo};

/// A place to keep Kuaidi's records.
///
/// Every method is blocking; async callers run them on a blocking thread.
/// **Invariant**: `ingest` is atomic and durable: when it returns `Ok`, every `Accepted` outcome survives a crash of
/// the process, and a record that was already stored is answered `Duplicate` and stored once.
pub trait Store: Send + Sync {
    /// Stores a batch of validated records in one transaction and answers for each, in order.
    fn ingest(&self, records: &[Record]) -> Result<Vec<Outcome>, StoreError>;

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

    /// Events scanned by an operator or carried by a vehicle in `[from, to)`, ordered by time, at most `limit`.
    fn handled_by(
        &self,
        handler: &Handler,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, StoreError>;

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
}
