//! The native wire format: one JSON object per record, tagged by `"type"`.
//!
//! These structs are the compatibility promise of `/v1` ingest and of NDJSON files; changing them is a change to
//! `CHANGELOG.md`. Times are RFC 3339 with an offset; division codes are 6-digit strings; money is in fen.

use serde::Serialize;
use utoipa::ToSchema;

/// A carrier registration.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CarrierRecord {
    /// Lowercase code, `[a-z][a-z0-9_]{1,31}`.
    #[schema(example = "yto")]
    pub code: String,
    /// Display name.
    #[schema(example = "圆通速递")]
    pub name: String,
}

/// A facility registration.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FacilityRecord {
    /// Code, 1 to 64 of `[A-Za-z0-9._-]`.
    #[schema(example = "YTO-320505-01")]
    pub code: String,
    /// `outlet`, `sorting_centre`, `hub`, `locker` or `station`.
    #[schema(example = "outlet")]
    pub kind: String,
    /// Owning carrier; absent for a shared locker or station.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// GB/T 2260 county-level division code.
    #[schema(example = "320505")]
    pub division: String,
    /// Longitude in degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub longitude: Option<f64>,
    /// Latitude in degrees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latitude: Option<f64>,
    /// Display name.
    pub name: String,
}

/// A sender or receiver on a waybill.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PartyRecord {
    /// Personal name.
    #[schema(example = "张三")]
    pub name: String,
    /// Phone number.
    #[schema(example = "13800131234")]
    pub phone: String,
    /// GB/T 2260 division code of the address.
    #[schema(example = "320505")]
    pub division: String,
    /// Street, building, room.
    pub address: String,
}

/// The sender's real-name record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RealNameRecord {
    /// `resident_id`, `passport` or `other`.
    pub id_type: String,
    /// Document number.
    pub id_number: String,
    /// Whether the courier checked the document.
    pub verified: bool,
}

/// The declared contents.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContentsRecord {
    /// Category.
    #[schema(example = "服装")]
    pub category: String,
    /// Description.
    pub description: String,
    /// Weight in grams, 1 to 100,000.
    pub weight_grams: u32,
    /// Declared value in fen (0.01 yuan).
    pub declared_value_fen: u64,
}

/// An electronic waybill.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WaybillRecord {
    /// Issuing carrier.
    pub carrier: String,
    /// Waybill number, 8 to 32 letters and digits.
    #[schema(example = "YT1234567890")]
    pub waybill_no: String,
    /// Service product.
    #[schema(example = "standard")]
    pub product: String,
    /// Whether it is an electronic waybill; defaults to true.
    pub electronic: bool,
    /// RFC 3339 creation time.
    #[schema(example = "2026-11-11T09:00:00+08:00")]
    pub created_at: String,
    /// Sender.
    pub sender: PartyRecord,
    /// Receiver.
    pub receiver: PartyRecord,
    /// Real-name record, absent when none was taken.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real_name: Option<RealNameRecord>,
    /// Declared contents.
    pub contents: ContentsRecord,
}

/// A scan event.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventRecord {
    /// Unique within the carrier's waybill; re-sending the same id is idempotent.
    #[schema(example = "YT1234567890-1")]
    pub event_id: String,
    /// Carrier.
    pub carrier: String,
    /// Waybill number.
    pub waybill_no: String,
    /// One of accept, inspect, security_scan, depart, arrive, out_for_delivery, into_locker, delivered, refused,
    /// returned, exception, damaged, lost.
    #[schema(example = "accept")]
    pub kind: String,
    /// RFC 3339 time with the local offset.
    #[schema(example = "2026-11-11T09:00:00+08:00")]
    pub time: String,
    /// Facility code.
    pub facility: String,
    /// Courier or employee id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Vehicle plate or flight number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vehicle: Option<String>,
    /// For `depart`: where the parcel is bound.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_facility: Option<String>,
    /// Carrier's problem code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception_code: Option<String>,
    /// For `delivered`: `self`, `locker`, `station` or `other`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer: Option<String>,
}

/// A consumer complaint about one parcel, or the regulator's verdict on it (a re-send with the same id).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ComplaintRecord {
    /// Unique within the carrier's waybill; a re-send with the same id updates the verdict.
    #[schema(example = "12305-20261111-0001")]
    pub complaint_id: String,
    /// The carrier complained about.
    pub carrier: String,
    /// Waybill number.
    pub waybill_no: String,
    /// RFC 3339 time of filing, with the local offset.
    #[schema(example = "2026-11-13T10:00:00+08:00")]
    pub filed_at: String,
    /// One of delay, loss, damage, delivery, acceptance, other.
    #[schema(example = "delay")]
    pub category: String,
    /// The consumer's words, at most 500 characters.
    pub description: String,
    /// One of pending, valid, invalid; only valid complaints count in the quality indicator.
    #[schema(example = "valid")]
    pub verdict: String,
}

/// One record of any type, tagged by `"type"`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Record {
    /// A carrier registration.
    Carrier(CarrierRecord),
    /// A facility registration.
    Facility(FacilityRecord),
    /// A waybill.
    Waybill(WaybillRecord),
    /// A scan event.
    Event(EventRecord),
    /// A complaint.
    Complaint(ComplaintRecord),
}
