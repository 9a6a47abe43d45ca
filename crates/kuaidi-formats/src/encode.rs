//! Encoding model records into the native wire structs.
//!
//! Encoding writes personal data in full: callers that show records to people mask them first (see `kuaidi-api`).

use kuaidi_model::{Carrier, Complaint, Facility, Party, Record, ScanEvent, Waybill};

use crate::wire;

/// Encodes a carrier.
pub fn encode_carrier(carrier: &Carrier) -> wire::CarrierRecord {
    wire::CarrierRecord { code: carrier.code.to_string(), name: carrier.name.clone() }
}

/// Encodes a facility.
pub fn encode_facility(facility: &Facility) -> wire::FacilityRecord {
    wire::FacilityRecord {
        code: facility.code.to_string(),
        kind: facility.kind.as_str().to_owned(),
        carrier: facility.carrier.as_ref().map(ToString::to_string),
        division: facility.division.to_string(),
        longitude: facility.location.map(|point| point.longitude),
        latitude: facility.location.map(|point| point.latitude),
        name: facility.name.clone(),
    }
}

fn encode_party(party: &Party) -> wire::PartyRecord {
    wire::PartyRecord {
        name: party.name.clone(),
        phone: party.phone.as_str().to_owned(),
        division: party.address.division.to_string(),
        address: party.address.detail.clone(),
    }
}

/// Encodes a waybill, personal data included.
pub fn encode_waybill(waybill: &Waybill) -> wire::WaybillRecord {
    wire::WaybillRecord {
        carrier: waybill.carrier.to_string(),
        waybill_no: waybill.waybill_no.to_string(),
        product: waybill.product.clone(),
        electronic: waybill.electronic,
        created_at: waybill.created_at.to_rfc3339(),
        sender: encode_party(&waybill.sender),
        receiver: encode_party(&waybill.receiver),
        real_name: waybill.real_name.as_ref().map(|real_name| wire::RealNameRecord {
            id_type: real_name.id_type.as_str().to_owned(),
            id_number: real_name.id_number.clone(),
            verified: real_name.verified,
        }),
        contents: wire::ContentsRecord {
            category: waybill.contents.category.clone(),
            description: waybill.contents.description.clone(),
            weight_grams: waybill.contents.weight_grams,
            declared_value_fen: waybill.contents.declared_value_fen,
        },
    }
}

/// Encodes a scan event.
pub fn encode_event(event: &ScanEvent) -> wire::EventRecord {
    wire::EventRecord {
        event_id: event.event_id.to_string(),
        carrier: event.carrier.to_string(),
        waybill_no: event.waybill_no.to_string(),
        kind: event.kind.as_str().to_owned(),
        time: event.time.to_rfc3339(),
        facility: event.facility.to_string(),
        operator: event.operator.as_deref().map(str::to_owned),
        vehicle: event.vehicle.as_deref().map(str::to_owned),
        next_facility: event.next_facility.as_ref().map(ToString::to_string),
        exception_code: event.exception_code.as_deref().map(str::to_owned),
        signer: event.signer.map(|signer| signer.as_str().to_owned()),
    }
}

/// Encodes a complaint.
pub fn encode_complaint(complaint: &Complaint) -> wire::ComplaintRecord {
    wire::ComplaintRecord {
        complaint_id: complaint.id.to_string(),
        carrier: complaint.carrier.to_string(),
        waybill_no: complaint.waybill_no.to_string(),
        filed_at: complaint.filed_at.to_rfc3339(),
        category: complaint.category.as_str().to_owned(),
        description: complaint.description.clone(),
        verdict: complaint.verdict.as_str().to_owned(),
    }
}

/// Encodes any record.
pub fn encode_record(record: &Record) -> wire::Record {
    match record {
        Record::Carrier(carrier) => wire::Record::Carrier(encode_carrier(carrier)),
        Record::Facility(facility) => wire::Record::Facility(encode_facility(facility)),
        Record::Waybill(waybill) => wire::Record::Waybill(encode_waybill(waybill)),
        Record::Event(event) => wire::Record::Event(encode_event(event)),
        Record::Complaint(complaint) => wire::Record::Complaint(encode_complaint(complaint)),
    }
}

/// A waybill's wire record with its personal data masked, as every output shows it by default: names keep the
/// family name, phones the first three and last four digits, addresses only the divisions down to the district, ID
/// numbers the first and last character.
pub fn encode_waybill_masked(waybill: &Waybill) -> wire::WaybillRecord {
    let mut record = encode_waybill(waybill);
    for (party, model) in [(&mut record.sender, &waybill.sender), (&mut record.receiver, &waybill.receiver)] {
        party.name = kuaidi_model::mask::name(&model.name);
        party.phone = kuaidi_model::mask::phone(model.phone.as_str());
        party.address = kuaidi_model::mask::address(&model.address);
    }
    if let Some(real_name) = record.real_name.as_mut() {
        real_name.id_number = kuaidi_model::mask::id_number(&real_name.id_number);
    }
    record
}
