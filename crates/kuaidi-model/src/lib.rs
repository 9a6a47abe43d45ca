//! Kuaidi's domain model: carriers, facilities, waybills, scan events, complaints and division codes, with their
//! validation rules.
//!
//! Everything here is pure: no IO, no async, no serialization.
//! The clock is a parameter (`now`) wherever a rule depends on it.
//! Wire formats live in `kuaidi-formats`, storage rows in `kuaidi-store`.

pub mod access;
mod carrier;
mod complaint;
mod division;
mod error;
mod facility;
pub mod mask;
mod scan_event;
mod trace;
mod validate;
mod waybill;

pub use access::Role;
pub use carrier::{Carrier, CarrierCode};
pub use complaint::{validate_complaint, Complaint, ComplaintCategory, ComplaintId, Verdict};
pub use division::{divisions, AdminCode, Division, DivisionLevel, DivisionTable};
pub use error::{InvalidValue, ValidationError};
pub use facility::{Facility, FacilityCode, FacilityKind, GeoPoint};
pub use scan_event::{EventId, EventKind, ScanEvent, Signer};
pub use trace::{insert_event, order_events, ParcelStatus};
pub use validate::{validate_event, validate_facility, validate_waybill, Policy, Reference};
pub use waybill::{Address, Contents, IdType, Party, Phone, RealName, Waybill, WaybillNo};

/// One unit of exchange: anything a carrier or platform can send to the hub.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A carrier's registration.
    Carrier(Carrier),
    /// A facility's registration.
    Facility(Facility),
    /// An electronic waybill.
    Waybill(Box<Waybill>),
    /// A scan event.
    Event(Box<ScanEvent>),
    /// A consumer complaint, or the regulator's verdict on one.
    Complaint(Box<Complaint>),
}

impl Record {
    /// The carrier this record belongs to, used to check a carrier key's right to write it.
    pub fn carrier(&self) -> Option<&CarrierCode> {
        match self {
            Record::Carrier(c) => Some(&c.code),
            Record::Facility(f) => f.carrier.as_ref(),
            Record::Waybill(w) => Some(&w.carrier),
            Record::Event(e) => Some(&e.carrier),
            Record::Complaint(c) => Some(&c.carrier),
        }
    }

    /// The parcel a waybill, event or complaint belongs to; `None` for reference records.
    pub fn parcel(&self) -> Option<(&CarrierCode, &WaybillNo)> {
        match self {
            Record::Carrier(_) | Record::Facility(_) => None,
            Record::Waybill(w) => Some((&w.carrier, &w.waybill_no)),
            Record::Event(e) => Some((&e.carrier, &e.waybill_no)),
            Record::Complaint(c) => Some((&c.carrier, &c.waybill_no)),
        }
    }
}

/// Checks a plain text field: not empty after trimming, at most `max_chars` characters, no control characters.
pub(crate) fn check_text(field: &'static str, value: &str, max_chars: usize) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(InvalidValue::new(value, "must not be empty").at(field));
    }
    if value.chars().count() > max_chars {
        return Err(InvalidValue::new(value, format!("must be at most {max_chars} characters")).at(field));
    }
    if value.chars().any(char::is_control) {
        return Err(InvalidValue::new(value, "must not contain control characters").at(field));
    }
    Ok(())
}
