//! The fast path of [`decode_record`](super::decode_record): the JSON text straight into borrowed structs, without
//! building a `serde_json::Value` tree first.
//!
//! It answers only when the record is well formed; on any doubt (a syntax error, a missing, unknown, repeated or
//! mistyped field, a value that does not parse) it answers `None` and the caller decodes the text again through the
//! `Value` walker (`super::walk`), which names the field and the value of the error. So the walker stays the one
//! definition of the wire format's errors, and this path must give exactly the walker's record whenever it gives one
//! (a property test checks the two on valid and broken records alike).

use std::borrow::Cow;

use kuaidi_model::{
    Address, AdminCode, Carrier, CarrierCode, Complaint, ComplaintCategory, ComplaintId, Contents, EventId, EventKind,
    Facility, FacilityCode, FacilityKind, GeoPoint, IdType, Party, Phone, RealName, Record, ScanEvent, Signer, Verdict,
    Waybill, WaybillNo,
};
use serde::Deserialize;

use super::parse_time;

/// The record's `"type"`, read first with every other field skipped: `serde`'s internally tagged enums would
/// buffer the whole record to find it, which costs more than reading the text twice.
#[derive(Deserialize)]
struct Tag<'a> {
    #[serde(rename = "type", borrow)]
    tag: Text<'a>,
}

/// Text that borrows from the input unless it had escapes.
type Text<'a> = Cow<'a, str>;

// Each record denies unknown fields, as the walker's `only` does: a field given as `null` is still a field there, and
// is still unknown here.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireCarrier<'a> {
    /// Checked by [`Tag`] already; here so that it is not an unknown field.
    #[serde(rename = "type")]
    _tag: serde::de::IgnoredAny,
    #[serde(borrow)]
    code: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireFacility<'a> {
    /// Checked by [`Tag`] already; here so that it is not an unknown field.
    #[serde(rename = "type")]
    _tag: serde::de::IgnoredAny,
    #[serde(borrow)]
    code: Text<'a>,
    #[serde(borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    carrier: Option<Text<'a>>,
    #[serde(borrow)]
    division: Text<'a>,
    longitude: Option<f64>,
    latitude: Option<f64>,
    #[serde(borrow)]
    name: Text<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireWaybill<'a> {
    /// Checked by [`Tag`] already; here so that it is not an unknown field.
    #[serde(rename = "type")]
    _tag: serde::de::IgnoredAny,
    #[serde(borrow)]
    carrier: Text<'a>,
    #[serde(borrow)]
    waybill_no: Text<'a>,
    #[serde(borrow)]
    product: Text<'a>,
    electronic: Option<bool>,
    #[serde(borrow)]
    created_at: Text<'a>,
    #[serde(borrow)]
    sender: WireParty<'a>,
    #[serde(borrow)]
    receiver: WireParty<'a>,
    #[serde(borrow)]
    real_name: Option<WireRealName<'a>>,
    #[serde(borrow)]
    contents: WireContents<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireParty<'a> {
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    phone: Text<'a>,
    #[serde(borrow)]
    division: Text<'a>,
    #[serde(borrow)]
    address: Text<'a>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireRealName<'a> {
    #[serde(borrow)]
    id_type: Text<'a>,
    #[serde(borrow)]
    id_number: Text<'a>,
    verified: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireContents<'a> {
    #[serde(borrow)]
    category: Text<'a>,
    #[serde(borrow)]
    description: Text<'a>,
    weight_grams: u64,
    declared_value_fen: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEvent<'a> {
    /// Checked by [`Tag`] already; here so that it is not an unknown field.
    #[serde(rename = "type")]
    _tag: serde::de::IgnoredAny,
    #[serde(borrow)]
    event_id: Text<'a>,
    #[serde(borrow)]
    carrier: Text<'a>,
    #[serde(borrow)]
    waybill_no: Text<'a>,
    #[serde(borrow)]
    kind: Text<'a>,
    #[serde(borrow)]
    time: Text<'a>,
    #[serde(borrow)]
    facility: Text<'a>,
    #[serde(borrow)]
    operator: Option<Text<'a>>,
    #[serde(borrow)]
    vehicle: Option<Text<'a>>,
    #[serde(borrow)]
    next_facility: Option<Text<'a>>,
    #[serde(borrow)]
    exception_code: Option<Text<'a>>,
    #[serde(borrow)]
    signer: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireComplaint<'a> {
    /// Checked by [`Tag`] already; here so that it is not an unknown field.
    #[serde(rename = "type")]
    _tag: serde::de::IgnoredAny,
    #[serde(borrow)]
    complaint_id: Text<'a>,
    #[serde(borrow)]
    carrier: Text<'a>,
    #[serde(borrow)]
    waybill_no: Text<'a>,
    #[serde(borrow)]
    filed_at: Text<'a>,
    #[serde(borrow)]
    category: Text<'a>,
    #[serde(borrow)]
    description: Text<'a>,
    #[serde(borrow)]
    verdict: Text<'a>,
}

/// The record in `text`, or `None` when the walker must decide (it then either finds the same record or names the
/// error).
pub(super) fn decode(text: &str) -> Option<Record> {
    let Tag { tag } = serde_json::from_str(text).ok()?;
    match tag.as_ref() {
        "carrier" => {
            let wire: WireCarrier<'_> = serde_json::from_str(text).ok()?;
            Some(Record::Carrier(Carrier { code: CarrierCode::parse(&wire.code).ok()?, name: wire.name.into_owned() }))
        }
        "facility" => facility(serde_json::from_str(text).ok()?).map(Record::Facility),
        "waybill" => waybill(serde_json::from_str(text).ok()?).map(|waybill| Record::Waybill(Box::new(waybill))),
        "event" => event(serde_json::from_str(text).ok()?).map(|event| Record::Event(Box::new(event))),
        "complaint" => {
            complaint(serde_json::from_str(text).ok()?).map(|complaint| Record::Complaint(Box::new(complaint)))
        }
        _ => None,
    }
}

fn facility(wire: WireFacility<'_>) -> Option<Facility> {
    let location = match (wire.longitude, wire.latitude) {
        (Some(longitude), Some(latitude)) => Some(GeoPoint::new(longitude, latitude).ok()?),
        (None, None) => None,
        _ => return None,
    };
    Some(Facility {
        code: FacilityCode::parse(&wire.code).ok()?,
        kind: FacilityKind::parse(&wire.kind).ok()?,
        carrier: optional(wire.carrier.as_deref(), CarrierCode::parse)?,
        division: AdminCode::parse(&wire.division).ok()?,
        location,
        name: wire.name.into_owned(),
    })
}

fn waybill(wire: WireWaybill<'_>) -> Option<Waybill> {
    let real_name = match wire.real_name {
        Some(real) => Some(RealName {
            id_type: IdType::parse(&real.id_type).ok()?,
            id_number: real.id_number.into_owned(),
            verified: real.verified,
        }),
        None => None,
    };
    Some(Waybill {
        carrier: CarrierCode::parse(&wire.carrier).ok()?,
        waybill_no: WaybillNo::parse(&wire.waybill_no).ok()?,
        product: wire.product.into_owned(),
        electronic: wire.electronic.unwrap_or(true),
        created_at: parse_time(&wire.created_at).ok()?,
        sender: party(wire.sender)?,
        receiver: party(wire.receiver)?,
        real_name,
        contents: Contents {
            category: wire.contents.category.into_owned(),
            description: wire.contents.description.into_owned(),
            weight_grams: u32::try_from(wire.contents.weight_grams).ok()?,
            declared_value_fen: wire.contents.declared_value_fen.unwrap_or(0),
        },
    })
}

fn party(wire: WireParty<'_>) -> Option<Party> {
    Some(Party {
        name: wire.name.into_owned(),
        phone: Phone::parse(&wire.phone).ok()?,
        address: Address { division: AdminCode::parse(&wire.division).ok()?, detail: wire.address.into_owned() },
    })
}

fn event(wire: WireEvent<'_>) -> Option<ScanEvent> {
    Some(ScanEvent {
        event_id: EventId::parse(&wire.event_id).ok()?,
        carrier: CarrierCode::parse(&wire.carrier).ok()?,
        waybill_no: WaybillNo::parse(&wire.waybill_no).ok()?,
        kind: EventKind::parse(&wire.kind).ok()?,
        time: parse_time(&wire.time).ok()?,
        facility: FacilityCode::parse(&wire.facility).ok()?,
        operator: wire.operator.map(Into::into),
        vehicle: wire.vehicle.map(Into::into),
        next_facility: optional(wire.next_facility.as_deref(), FacilityCode::parse)?,
        exception_code: wire.exception_code.map(Into::into),
        signer: optional(wire.signer.as_deref(), Signer::parse)?,
    })
}

fn complaint(wire: WireComplaint<'_>) -> Option<Complaint> {
    Some(Complaint {
        id: ComplaintId::parse(&wire.complaint_id).ok()?,
        carrier: CarrierCode::parse(&wire.carrier).ok()?,
        waybill_no: WaybillNo::parse(&wire.waybill_no).ok()?,
        filed_at: parse_time(&wire.filed_at).ok()?,
        category: ComplaintCategory::parse(&wire.category).ok()?,
        description: wire.description.into_owned(),
        verdict: Verdict::parse(&wire.verdict).ok()?,
    })
}

/// `Some(None)` for an absent value, `Some(Some(parsed))` for one that parses, `None` for one that does not.
fn optional<T, E>(text: Option<&str>, parse: impl FnOnce(&str) -> Result<T, E>) -> Option<Option<T>> {
    match text {
        None => Some(None),
        Some(text) => parse(text).ok().map(Some),
    }
}
