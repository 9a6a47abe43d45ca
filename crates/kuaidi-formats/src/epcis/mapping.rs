//! Between EPCIS events and Kuaidi scan events.
//!
//! An EPCIS event is about a parcel when it names one: an EPC `https://kuaidi.example/id/<carrier>/<waybill_no>`
//! in its `epcList`, or the extension fields `kd:carrier` and `kd:waybillNo`. Only then does it become a scan event;
//! every other valid EPCIS event is kept as EPCIS only. The kind comes from the business step and disposition
//! ([`vocab_to_kind`]); the facility from `kd:facility` or a read point or business location
//! `https://kuaidi.example/facility/<code>`; the event id from `kd:eventId`, or else the hex of the event hash, so a
//! re-sent event is the same scan event.

use kuaidi_model::{CarrierCode, EventId, FacilityCode, InvalidValue, ScanEvent, Signer, ValidationError, WaybillNo};
use serde_json::{json, Map, Value};

use super::{kind_to_vocab, vocab_to_kind, EpcisEvent, VocabKind, KUAIDI_NS};

/// The prefix of the EPCs that name a parcel.
pub const PARCEL_EPC_PREFIX: &str = "https://kuaidi.example/id/";

/// The prefix of the location ids that name a Kuaidi facility.
pub const FACILITY_PREFIX: &str = "https://kuaidi.example/facility/";

/// The `@context` of the EPCIS documents Kuaidi writes.
pub const EXPORT_CONTEXT: &str = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld";

fn extension_text(event: &EpcisEvent, name: &str) -> Result<Option<String>, ValidationError> {
    match event.extension_in(KUAIDI_NS, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(InvalidValue::new(other.to_string(), "must be a string").at(format!("kd:{name}"))),
    }
}

fn parse_at<T>(
    field: &str,
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Result<T, ValidationError> {
    parse(text).map_err(|err| err.at(field))
}

/// The parcel an event names: from a parcel EPC, or from `kd:carrier` and `kd:waybillNo`.
fn parcel(event: &EpcisEvent) -> Result<Option<(CarrierCode, WaybillNo)>, ValidationError> {
    if let Some(epc) = event.epcs.iter().find(|epc| epc.starts_with(PARCEL_EPC_PREFIX)) {
        let rest = &epc[PARCEL_EPC_PREFIX.len()..];
        let (carrier, waybill) = rest.split_once('/').ok_or_else(|| {
            InvalidValue::new(epc.as_str(), "must be https://kuaidi.example/id/<carrier>/<waybill_no>").at("epcList")
        })?;
        return Ok(Some((
            parse_at("epcList", carrier, CarrierCode::parse)?,
            parse_at("epcList", waybill, WaybillNo::parse)?,
        )));
    }
    match (extension_text(event, "carrier")?, extension_text(event, "waybillNo")?) {
        (Some(carrier), Some(waybill)) => Ok(Some((
            parse_at("kd:carrier", &carrier, CarrierCode::parse)?,
            parse_at("kd:waybillNo", &waybill, WaybillNo::parse)?,
        ))),
        (Some(_), None) => Err(ValidationError::Missing { field: "kd:waybillNo".into() }),
        (None, Some(_)) => Err(ValidationError::Missing { field: "kd:carrier".into() }),
        (None, None) => Ok(None),
    }
}

/// The scan event an EPCIS event stands for: `None` when it names no parcel, an error when it names one but cannot
/// be mapped (no Kuaidi kind for its business step, no facility).
pub fn to_scan_event(event: &EpcisEvent) -> Option<Result<ScanEvent, ValidationError>> {
    parcel(event).transpose().map(|parcel| {
        let (carrier, waybill_no) = parcel?;
        let kind = vocab_to_kind(event.biz_step.as_ref(), event.disposition.as_ref()).ok_or_else(|| {
            let shown = |value: Option<&super::VocabValue>, kind| value.map(|v| v.canonical(kind)).unwrap_or_default();
            ValidationError::Invalid {
                field: "bizStep".into(),
                value: shown(event.biz_step.as_ref(), VocabKind::BizStep),
                reason: format!(
                    "with the disposition `{}` has no Kuaidi event kind; see docs/epcis.md for the mapping",
                    shown(event.disposition.as_ref(), VocabKind::Disposition)
                ),
            }
        })?;
        let facility = match extension_text(event, "facility")? {
            Some(code) => parse_at("kd:facility", &code, FacilityCode::parse)?,
            None => {
                let from_location = [("bizLocation.id", &event.biz_location), ("readPoint.id", &event.read_point)]
                    .into_iter()
                    .find_map(|(field, id)| {
                        id.as_deref().and_then(|id| id.strip_prefix(FACILITY_PREFIX)).map(|code| (field, code))
                    });
                match from_location {
                    Some((field, code)) => parse_at(field, code, FacilityCode::parse)?,
                    None => return Err(ValidationError::Missing { field: "kd:facility".into() }),
                }
            }
        };
        let event_id = match extension_text(event, "eventId")? {
            Some(id) => parse_at("kd:eventId", &id, EventId::parse)?,
            None => {
                let hex = event.hash.trim_start_matches("ni:///sha-256;").trim_end_matches("?ver=CBV2.0");
                parse_at("eventID", hex, EventId::parse)?
            }
        };
        Ok(ScanEvent {
            event_id,
            carrier,
            waybill_no,
            kind,
            time: event.event_time,
            facility,
            operator: extension_text(event, "operator")?.map(Into::into),
            vehicle: extension_text(event, "vehicle")?.map(Into::into),
            next_facility: extension_text(event, "nextFacility")?
                .map(|code| parse_at("kd:nextFacility", &code, FacilityCode::parse))
                .transpose()?,
            exception_code: extension_text(event, "exceptionCode")?.map(Into::into),
            signer: extension_text(event, "signer")?.map(|s| parse_at("kd:signer", &s, Signer::parse)).transpose()?,
        })
    })
}

/// A Kuaidi scan event as an EPCIS 2.0 `ObjectEvent`, with Kuaidi's fields as `kd:` extensions.
pub fn scan_event_to_epcis(event: &ScanEvent) -> Value {
    let (biz_step, disposition) = kind_to_vocab(event.kind);
    let as_json = |value: &super::VocabValue, kind: VocabKind| match value {
        super::VocabValue::Cbv(word) => Value::from(*word),
        other => Value::from(other.canonical(kind)),
    };
    let mut map = Map::new();
    map.insert("@context".into(), json!([EXPORT_CONTEXT, { "kd": KUAIDI_NS }]));
    map.insert("type".into(), "ObjectEvent".into());
    map.insert("eventTime".into(), event.time.to_rfc3339().into());
    map.insert("eventTimeZoneOffset".into(), event.time.format("%:z").to_string().into());
    map.insert("action".into(), "OBSERVE".into());
    map.insert("epcList".into(), json!([format!("{PARCEL_EPC_PREFIX}{}/{}", event.carrier, event.waybill_no)]));
    map.insert("bizStep".into(), as_json(&biz_step, VocabKind::BizStep));
    if let Some(disposition) = &disposition {
        map.insert("disposition".into(), as_json(disposition, VocabKind::Disposition));
    }
    map.insert("readPoint".into(), json!({ "id": format!("{FACILITY_PREFIX}{}", event.facility) }));
    map.insert("kd:eventId".into(), event.event_id.as_str().into());
    let optional = [
        ("kd:operator", event.operator.as_deref().map(str::to_owned)),
        ("kd:vehicle", event.vehicle.as_deref().map(str::to_owned)),
        ("kd:nextFacility", event.next_facility.as_ref().map(ToString::to_string)),
        ("kd:exceptionCode", event.exception_code.as_deref().map(str::to_owned)),
        ("kd:signer", event.signer.map(|s| s.as_str().to_owned())),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            map.insert(name.into(), value.into());
        }
    }
    Value::Object(map)
}

/// Kuaidi scan events as an EPCIS 2.0 capture document.
pub fn scan_events_to_document(events: &[ScanEvent], creation_date: &str) -> Value {
    let events: Vec<Value> = events
        .iter()
        .map(|event| {
            let mut value = scan_event_to_epcis(event);
            if let Value::Object(map) = &mut value {
                map.remove("@context");
            }
            value
        })
        .collect();
    json!({
        "@context": [EXPORT_CONTEXT, { "kd": KUAIDI_NS }],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": creation_date,
        "epcisBody": { "eventList": events },
    })
}
