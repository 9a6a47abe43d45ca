//! The `/v1` response types, and the views that mask personal data.
//!
//! These structs are the API's compatibility promise: changing one is a line in `CHANGELOG.md`.
//! **Invariant**: a view of a waybill is built masked unless the caller asked to reveal and may; see [`Disclosure`].

use kuaidi_formats::wire::{ContentsRecord, EventRecord};
use kuaidi_model::{divisions, mask, AdminCode, Party, RealName, ScanEvent, Waybill};
use serde::Serialize;
use utoipa::ToSchema;

mod supervision;

pub use supervision::*;

use crate::ingest::{ItemResult, Summary};
use crate::state::ReferenceData;

/// Whether personal data is shown masked or in full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Disclosure {
    /// Names as `张*`, phones as `138****1234`, addresses down to the district, ID numbers as `1****X`.
    Masked,
    /// In full; the view was written to the audit log.
    Revealed,
}

/// A sender or receiver as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct PartyView {
    /// Name, masked by default.
    pub name: String,
    /// Phone, masked by default.
    pub phone: String,
    /// Division code of the address.
    pub division: String,
    /// Address: division names down to the district when masked, plus the street detail when revealed.
    pub address: String,
}

impl PartyView {
    fn new(party: &Party, disclosure: Disclosure) -> PartyView {
        let district = mask::address(&party.address);
        match disclosure {
            Disclosure::Masked => PartyView {
                name: mask::name(&party.name),
                phone: mask::phone(party.phone.as_str()),
                division: party.address.division.to_string(),
                address: district,
            },
            Disclosure::Revealed => PartyView {
                name: party.name.clone(),
                phone: party.phone.as_str().to_owned(),
                division: party.address.division.to_string(),
                address: format!("{district}{}", party.address.detail),
            },
        }
    }
}

/// The sender's real-name record as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct RealNameView {
    /// Document type.
    pub id_type: &'static str,
    /// Document number, masked by default.
    pub id_number: String,
    /// Whether it was checked.
    pub verified: bool,
}

/// A waybill as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaybillView {
    /// Service product.
    pub product: String,
    /// Whether it is electronic.
    pub electronic: bool,
    /// Creation time.
    pub created_at: String,
    /// Sender.
    pub sender: PartyView,
    /// Receiver.
    pub receiver: PartyView,
    /// Real-name record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real_name: Option<RealNameView>,
    /// Declared contents.
    pub contents: ContentsRecord,
}

impl WaybillView {
    /// The view of `waybill` with personal data disclosed as `disclosure` says.
    pub fn new(waybill: &Waybill, disclosure: Disclosure) -> WaybillView {
        let real_name = |r: &RealName| RealNameView {
            id_type: r.id_type.as_str(),
            id_number: match disclosure {
                Disclosure::Masked => mask::id_number(&r.id_number),
                Disclosure::Revealed => r.id_number.clone(),
            },
            verified: r.verified,
        };
        let record = kuaidi_formats::encode_waybill(waybill);
        WaybillView {
            product: waybill.product.clone(),
            electronic: waybill.electronic,
            created_at: waybill.created_at.to_rfc3339(),
            sender: PartyView::new(&waybill.sender, disclosure),
            receiver: PartyView::new(&waybill.receiver, disclosure),
            real_name: waybill.real_name.as_ref().map(real_name),
            contents: record.contents,
        }
    }
}

/// An event with where it happened.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// The event as ingested.
    #[serde(flatten)]
    pub event: EventRecord,
    /// The facility's name, when registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub facility_name: Option<String>,
    /// The facility's division code, when registered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
}

impl EventView {
    /// The view of one event, looking its facility up in `reference`.
    pub fn new(event: &ScanEvent, reference: &ReferenceData) -> EventView {
        let facility = reference.facilities.get(&event.facility);
        EventView {
            event: kuaidi_formats::encode_event(event),
            facility_name: facility.map(|f| f.name.clone()),
            division: facility.map(|f| f.division.to_string()),
        }
    }
}

/// A parcel's full trace.
#[derive(Debug, Serialize, ToSchema)]
pub struct TraceResponse {
    /// Carrier code.
    pub carrier: String,
    /// Waybill number.
    pub waybill_no: String,
    /// Status derived from the latest event: created, accepted, in_transit, out_for_delivery, in_locker, delivered,
    /// refused, returned, exception, damaged, lost.
    pub status: &'static str,
    /// How personal data is shown.
    pub personal_data: Disclosure,
    /// The waybill, when it was received (events may come first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waybill: Option<WaybillView>,
    /// Every event in time order.
    pub events: Vec<EventView>,
}

/// One parcel a handler touched, with the handler's events on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct HandledParcel {
    /// Carrier code.
    pub carrier: String,
    /// Waybill number.
    pub waybill_no: String,
    /// The handler's events on this parcel, in time order.
    pub events: Vec<EventView>,
}

/// Every parcel a vehicle or operator handled in a time range.
#[derive(Debug, Serialize, ToSchema)]
pub struct HandledResponse {
    /// `operator` or `vehicle`.
    pub handler_kind: &'static str,
    /// The operator or vehicle id.
    pub handler: String,
    /// Start of the range (inclusive).
    pub from: String,
    /// End of the range (exclusive).
    pub to: String,
    /// Parcels in order of the handler's first event on them.
    pub parcels: Vec<HandledParcel>,
    /// True when the event limit cut the answer short; narrow the range for the rest.
    pub truncated: bool,
}

/// One line of the public tracking page.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrackEvent {
    /// Time with the local offset.
    pub time: String,
    /// Event kind.
    pub kind: &'static str,
    /// A sentence in Chinese, such as `【苏州市】已揽收`.
    pub description: String,
}

/// The public, masked view of a parcel.
#[derive(Debug, Serialize, ToSchema)]
pub struct TrackResponse {
    /// Waybill number.
    pub waybill_no: String,
    /// Carrier's name.
    pub carrier: String,
    /// Current status.
    pub status: &'static str,
    /// Sender's district.
    pub origin: String,
    /// Receiver's district.
    pub destination: String,
    /// Receiver's masked name.
    pub receiver_name: String,
    /// Receiver's masked phone.
    pub receiver_phone: String,
    /// Events, newest first, as tracking pages show them.
    pub events: Vec<TrackEvent>,
}

/// The answer to a JSON batch.
#[derive(Debug, Serialize, ToSchema)]
pub struct BatchResponse {
    /// Counts.
    pub summary: Summary,
    /// One result per item, in order.
    pub items: Vec<ItemResult>,
}

/// The answer to an NDJSON stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamResponse {
    /// Counts.
    pub summary: Summary,
    /// Lines read.
    pub lines: u64,
    /// Results of the lines that were not accepted (all lines with `?results=all`).
    pub items: Vec<ItemResult>,
}

/// The calling key.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// Key id.
    pub key_id: String,
    /// `admin`, `regulator` or `carrier`.
    pub role: &'static str,
    /// For a carrier key: its carrier.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub carrier: Option<String>,
    /// For a regulator key: its division codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jurisdiction: Option<Vec<String>>,
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditView {
    /// When.
    pub at: String,
    /// Which key.
    pub key_id: String,
    /// What it did.
    pub action: String,
    /// On what.
    pub subject: String,
    /// Details.
    pub detail: String,
}

/// Health of the server.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
    /// The server's version.
    pub version: &'static str,
}

/// The names of a division chain, for tracking pages: `苏州市` for a county code in Suzhou.
pub fn city_name(code: AdminCode) -> String {
    let table = divisions();
    table
        .get(code.prefecture())
        .map(|d| d.name)
        .filter(|name| *name != "市辖区")
        .or_else(|| table.get(code.province()).map(|d| d.name))
        .unwrap_or("")
        .to_owned()
}
