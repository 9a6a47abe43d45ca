//! The validation rules for records, given the hub's reference data and the time.
//!
//! Parsing (in `kuaidi-formats`) already guarantees the form of every code; these rules check what needs context:
//! that carriers, facilities and divisions exist, that times are plausible, and that fields fit the event's kind.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::{
    facility, waybill, CarrierCode, EventKind, Facility, FacilityCode, FacilityKind, InvalidValue, ScanEvent, Signer,
    ValidationError, Waybill,
};

/// What the rules need to know about registered carriers and facilities.
pub trait Reference {
    /// Whether this carrier is registered.
    fn has_carrier(&self, code: &CarrierCode) -> bool;
    /// The registered facility with this code.
    fn facility(&self, code: &FacilityCode) -> Option<&Facility>;
}

/// Tunable limits of the rules.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// How far ahead of the hub's clock a reported time may be (carriers' clocks drift).
    pub future_tolerance: Duration,
    /// The earliest plausible time of any record.
    pub earliest: DateTime<Utc>,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            future_tolerance: Duration::minutes(15),
            earliest: Utc.with_ymd_and_hms(2000, 1, 1, 0, 0, 0).single().unwrap_or_default(),
        }
    }
}

pub(crate) fn check_time<Tz: TimeZone>(
    field: &'static str,
    time: &DateTime<Tz>,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Result<(), ValidationError>
where
    Tz::Offset: std::fmt::Display,
{
    let utc = time.with_timezone(&Utc);
    if utc > now + policy.future_tolerance {
        return Err(ValidationError::TimeInFuture {
            field: field.into(),
            value: time.to_rfc3339(),
            tolerance_secs: policy.future_tolerance.num_seconds(),
        });
    }
    if utc < policy.earliest {
        return Err(InvalidValue::new(
            time.to_rfc3339(),
            format!("must not be before {}", policy.earliest.to_rfc3339()),
        )
        .at(field));
    }
    Ok(())
}

fn check_short(field: &'static str, value: Option<&str>) -> Result<(), ValidationError> {
    match value {
        Some(text) => crate::check_text(field, text, 64),
        None => Ok(()),
    }
}

fn known_facility<'r>(
    field: &'static str,
    code: &FacilityCode,
    carrier: &CarrierCode,
    reference: &'r impl Reference,
) -> Result<&'r Facility, ValidationError> {
    let facility = reference
        .facility(code)
        .ok_or_else(|| ValidationError::UnknownFacility { field: field.into(), value: code.to_string() })?;
    if let Some(owner) = &facility.carrier {
        if owner != carrier {
            return Err(ValidationError::CarrierMismatch {
                field: field.into(),
                value: code.to_string(),
                expected: format!("a facility of `{carrier}` or a shared one"),
            });
        }
    }
    Ok(facility)
}

/// Checks a scan event.
///
/// Rules: the carrier is registered; the facility (and the next facility) is registered and belongs to the same carrier
/// or is shared; the time is no earlier than `policy.earliest` and no later than `now + policy.future_tolerance`;
/// `signer` is required for `delivered`, allowed (as `locker`) for `into_locker` and forbidden otherwise;
/// `exception_code` is required for `exception`, allowed for refusals, returns, damage and loss, and forbidden otherwise;
/// `next_facility` only goes with `depart` and differs from `facility`; free-text ids are at most 64 characters.
pub fn validate_event(
    event: &ScanEvent,
    reference: &impl Reference,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Result<(), ValidationError> {
    if !reference.has_carrier(&event.carrier) {
        return Err(ValidationError::UnknownCarrier { field: "carrier".into(), value: event.carrier.to_string() });
    }
    check_time("time", &event.time, now, policy)?;
    known_facility("facility", &event.facility, &event.carrier, reference)?;
    check_short("operator", event.operator.as_deref())?;
    check_short("vehicle", event.vehicle.as_deref())?;
    check_short("exception_code", event.exception_code.as_deref())?;

    match (event.kind, event.signer) {
        (EventKind::Delivered, None) => return Err(ValidationError::Missing { field: "signer".into() }),
        (EventKind::Delivered, Some(_)) | (EventKind::IntoLocker, None | Some(Signer::Locker)) => {}
        (EventKind::IntoLocker, Some(other)) => {
            return Err(InvalidValue::new(other.as_str(), "must be `locker` for an into_locker event").at("signer"))
        }
        (kind, Some(signer)) => {
            return Err(InvalidValue::new(signer.as_str(), format!("is not allowed on a `{}` event", kind.as_str()))
                .at("signer"))
        }
        (_, None) => {}
    }

    match (&event.exception_code, event.kind) {
        (None, EventKind::Exception) => return Err(ValidationError::Missing { field: "exception_code".into() }),
        (Some(code), kind) if !kind.takes_exception_code() => {
            return Err(InvalidValue::new(code.as_str(), format!("is not allowed on a `{}` event", kind.as_str()))
                .at("exception_code"))
        }
        _ => {}
    }

    match (&event.next_facility, event.kind) {
        (Some(next), EventKind::Depart) => {
            if next == &event.facility {
                return Err(InvalidValue::new(next.as_str(), "must differ from `facility`").at("next_facility"));
            }
            known_facility("next_facility", next, &event.carrier, reference)?;
        }
        (Some(next), kind) => {
            return Err(InvalidValue::new(next.as_str(), format!("is not allowed on a `{}` event", kind.as_str()))
                .at("next_facility"))
        }
        (None, _) => {}
    }
    Ok(())
}

/// Checks a waybill.
///
/// Rules: the carrier is registered; the creation time is plausible as for events; names, addresses, product and
/// contents are non-empty text of bounded length; both divisions exist; the weight is 1 g to 100 kg; a resident ID
/// number carries a correct GB 11643 check digit.
pub fn validate_waybill(
    waybill: &Waybill,
    reference: &impl Reference,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Result<(), ValidationError> {
    if !reference.has_carrier(&waybill.carrier) {
        return Err(ValidationError::UnknownCarrier { field: "carrier".into(), value: waybill.carrier.to_string() });
    }
    check_time("created_at", &waybill.created_at, now, policy)?;
    crate::check_text("product", &waybill.product, 32)?;
    waybill::validate_party(&waybill.sender).map_err(|e| e.within("sender"))?;
    waybill::validate_party(&waybill.receiver).map_err(|e| e.within("receiver"))?;
    if let Some(real_name) = &waybill.real_name {
        waybill::validate_real_name(real_name).map_err(|e| e.within("real_name"))?;
    }
    waybill::validate_contents(&waybill.contents).map_err(|e| e.within("contents"))?;
    Ok(())
}

/// Checks a facility registration.
///
/// Rules: the carrier, when given, is registered; only lockers and stations may be shared (no carrier);
/// the division exists; coordinates are in range.
pub fn validate_facility(facility: &Facility, reference: &impl Reference) -> Result<(), ValidationError> {
    if let Some(carrier) = &facility.carrier {
        if !reference.has_carrier(carrier) {
            return Err(ValidationError::UnknownCarrier { field: "carrier".into(), value: carrier.to_string() });
        }
    }
    facility::validate(facility)?;
    debug_assert!(FacilityKind::ALL.contains(&facility.kind));
    Ok(())
}

#[cfg(test)]
mod tests;
