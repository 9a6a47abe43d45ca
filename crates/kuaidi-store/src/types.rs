//! Plain types the store trait speaks in, beyond the model's.

use chrono::{DateTime, NaiveDate, Utc};
use kuaidi_model::{AdminCode, CarrierCode, Record, Role, WaybillNo};

/// The answer for one record of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New, and now stored.
    Accepted,
    /// Already stored with identical content; nothing changed.
    Duplicate,
    /// Reference data (a carrier or facility) that existed with other content, and was updated.
    Updated,
    /// A waybill or event with this key is stored with different content; the stored one is kept.
    Conflict,
}

impl Outcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::Updated => "updated",
            Outcome::Conflict => "conflict",
        }
    }
}

/// Who handled parcels: for reverse tracing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handler {
    /// A courier or employee id.
    Operator(String),
    /// A vehicle plate or flight number.
    Vehicle(String),
}

/// A key to be stored.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Public id, shown in listings and the audit log.
    pub id: String,
    /// SHA-256 of the secret.
    pub hash: [u8; 32],
    /// What it may do.
    pub role: Role,
    /// A free-text note on who holds it.
    pub label: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A stored key.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    /// Public id.
    pub id: String,
    /// What it may do.
    pub role: Role,
    /// Who holds it.
    pub label: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One line of the audit log: a view of personal data in full, or another act worth a record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// The key that acted.
    pub key_id: String,
    /// What it did, such as `reveal_personal_data`.
    pub action: String,
    /// The record concerned, such as `yto/YT1234567890`.
    pub subject: String,
    /// Anything else worth keeping, such as the endpoint.
    pub detail: String,
}

/// Record counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Registered carriers.
    pub carriers: u64,
    /// Registered facilities.
    pub facilities: u64,
    /// Stored waybills.
    pub waybills: u64,
    /// Stored events.
    pub events: u64,
}

/// An EPCIS event to keep: its whole JSON text, keyed by its GS1 event hash, with the fields queries filter on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpcisRecord {
    /// The GS1 canonical event hash: the idempotency key.
    pub hash: String,
    /// `ObjectEvent`, `AggregationEvent`, ...
    pub event_type: String,
    /// When the event happened.
    pub event_time: DateTime<Utc>,
    /// `ADD`, `OBSERVE` or `DELETE`.
    pub action: Option<String>,
    /// The business step in canonical form (CBV words as URNs).
    pub biz_step: Option<String>,
    /// The disposition in canonical form.
    pub disposition: Option<String>,
    /// The read point's id.
    pub read_point: Option<String>,
    /// The business location's id.
    pub biz_location: Option<String>,
    /// Every identifier the event names.
    pub epcs: Vec<String>,
    /// The event as JSON text.
    pub body: String,
}

/// A stored EPCIS event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEpcis {
    /// Its position in the store, for paging.
    pub seq: i64,
    /// When the hub recorded it.
    pub record_time: DateTime<Utc>,
    /// The event as JSON text.
    pub body: String,
}

/// A SimpleEventQuery over the stored EPCIS events. Empty lists mean no filter; values in a list are alternatives.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EpcisQuery {
    /// Events at or after this time.
    pub ge_event_time: Option<DateTime<Utc>>,
    /// Events before this time.
    pub lt_event_time: Option<DateTime<Utc>>,
    /// Event types.
    pub event_types: Vec<String>,
    /// Actions.
    pub actions: Vec<String>,
    /// Business steps, canonical form.
    pub biz_steps: Vec<String>,
    /// Dispositions, canonical form.
    pub dispositions: Vec<String>,
    /// Read point ids.
    pub read_points: Vec<String>,
    /// Business location ids.
    pub biz_locations: Vec<String>,
    /// Identifiers any of which the event must name.
    pub epcs: Vec<String>,
    /// Only events stored after this position (the page token).
    pub after_seq: Option<i64>,
    /// At most this many events.
    pub limit: usize,
}

/// One EPCIS capture, stored in one transaction by [`crate::Store::capture_at`]: the scan events its events map to
/// (already authorised and validated), the EPCIS events kept whole, and the capture job.
#[derive(Debug, Clone, Copy)]
pub struct Capture<'a> {
    /// Scan events, ingested as [`crate::Store::ingest_at`] ingests records.
    pub records: &'a [Record],
    /// EPCIS events, kept as [`crate::Store::capture_epcis`] keeps them.
    pub events: &'a [EpcisRecord],
    /// For each of `events`, the position in `records` of the scan event it maps to, if it maps to one.
    pub scan_of: &'a [Option<usize>],
    /// The job, as it stands when every scan event is stored.
    pub job: &'a CaptureJob,
}

impl Capture<'_> {
    /// Whether the EPCIS event at `idx` is to be kept, given the scan events' outcomes: not when its scan event was
    /// refused as a conflict, so that an EPCIS event is never stored beside a scan event that says otherwise.
    pub fn keeps(&self, idx: usize, outcomes: &[Outcome]) -> bool {
        match self.scan_of.get(idx).copied().flatten() {
            Some(pos) => outcomes.get(pos).is_some_and(|outcome| *outcome != Outcome::Conflict),
            None => true,
        }
    }
}

/// A capture job: one EPCIS document captured, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureJob {
    /// The capture id.
    pub id: String,
    /// When the document was received.
    pub created_at: DateTime<Utc>,
    /// When capture finished, if it has.
    pub finished_at: Option<DateTime<Utc>>,
    /// Whether it is still running.
    pub running: bool,
    /// Whether it succeeded.
    pub success: bool,
    /// `rollback` (all or nothing) or `proceed` (best effort).
    pub behaviour: String,
    /// Events in the document.
    pub n_events: u64,
    /// The errors, as a JSON array text.
    pub errors: String,
}

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertStatus {
    /// Raised, nobody has looked yet.
    Open,
    /// A regulator has seen it and is on it.
    Acknowledged,
    /// Dealt with; the note says how.
    Resolved,
    /// Its condition no longer holds: later records filled the gap that raised it (a late scan arrived, the parcel
    /// moved on). Set by Kuaidi, never by a key; reopened if the condition returns.
    Cleared,
}

impl AlertStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Resolved => "resolved",
            AlertStatus::Cleared => "cleared",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<AlertStatus> {
        [AlertStatus::Open, AlertStatus::Acknowledged, AlertStatus::Resolved, AlertStatus::Cleared]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// A stored alert.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Its id, increasing with time of raising.
    pub id: i64,
    /// `compliance`, `prohibited_item`, `stuck`, `loss` or `impossible_chain`.
    pub kind: String,
    /// The stable reason code, such as `inspection_missing`.
    pub reason: String,
    /// The parcel's carrier.
    pub carrier: CarrierCode,
    /// The parcel.
    pub waybill_no: WaybillNo,
    /// The ids of the events that raised it.
    pub events: Vec<String>,
    /// The particulars (check, matched term, stage, distance...).
    pub detail: serde_json::Value,
    /// The parcel's origin city, when known.
    pub origin_city: Option<AdminCode>,
    /// The parcel's destination city, when known.
    pub destination_city: Option<AdminCode>,
    /// When it was raised (the ingest's or sweep's clock).
    pub raised_at: DateTime<Utc>,
    /// Where it stands.
    pub status: AlertStatus,
    /// The note of the last acknowledgement or resolution.
    pub note: Option<String>,
    /// The key that last acknowledged or resolved it.
    pub handled_by: Option<String>,
    /// When that happened.
    pub handled_at: Option<DateTime<Utc>>,
}

/// Which alerts to list.
#[derive(Debug, Clone, Default)]
pub struct AlertQuery {
    /// Only this kind.
    pub kind: Option<String>,
    /// Only this carrier's.
    pub carrier: Option<CarrierCode>,
    /// Only parcels from or to these areas (any division level); empty means anywhere.
    pub areas: Vec<AdminCode>,
    /// Only this status.
    pub status: Option<AlertStatus>,
    /// Raised at or after.
    pub from: Option<DateTime<Utc>>,
    /// Raised before.
    pub to: Option<DateTime<Utc>>,
    /// Only ids below this (for paging newest first).
    pub before_id: Option<i64>,
    /// At most this many.
    pub limit: usize,
}

/// An acknowledgement or resolution.
#[derive(Debug, Clone)]
pub struct AlertChange {
    /// The new status.
    pub status: AlertStatus,
    /// The note.
    pub note: Option<String>,
    /// The key acting.
    pub key_id: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Which coverage rows to sum.
#[derive(Debug, Clone, Default)]
pub struct CoverageFilter {
    /// Only this carrier.
    pub carrier: Option<CarrierCode>,
    /// Only parcels accepted in these areas (any division level); empty means anywhere.
    pub areas: Vec<AdminCode>,
    /// Accepted on or after this day (+08:00).
    pub from_day: Option<NaiveDate>,
    /// Accepted on or before this day.
    pub to_day: Option<NaiveDate>,
}

/// How to sum coverage rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoverageGroup {
    /// Everything in one row, keyed `all`.
    All,
    /// By carrier.
    Carrier,
    /// By outlet (acceptance facility).
    Outlet,
    /// By courier (the acceptance scan's operator).
    Courier,
    /// By city of acceptance.
    City,
    /// By day of acceptance.
    Day,
}

/// What keeping derived state cost so far ([`crate::Store::upkeep_timing`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpkeepTiming {
    /// Time the writer spent in write transactions (commits included).
    pub store: std::time::Duration,
    /// The part of `store` spent keeping derived state: reading touched parcels back, waiting for the rules,
    /// writing alerts and the journal, handing states to be written.
    pub upkeep: std::time::Duration,
    /// Time a thread beside the writer spent deriving parcels while the writer went on storing records, not counted
    /// in `store`; zero for a store that derives inside its write transactions. It is the time from taking a batch
    /// in, or starting to derive what is held, to being done, so a deriver at low priority on a busy machine counts
    /// the time it waited for a core too.
    pub deriving: std::time::Duration,
    /// Time spent keeping derived state on threads beside the writer, not counted in `store`: writing parcel states
    /// to their own file.
    pub beside: std::time::Duration,
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SweepReport {
    /// Open parcels whose moment had come, re-derived.
    pub examined: u64,
    /// Of which the state changed.
    pub changed: u64,
    /// Alerts raised.
    pub new_alerts: u64,
}
