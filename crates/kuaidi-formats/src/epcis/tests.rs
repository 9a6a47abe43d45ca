//! Unit tests of EPCIS reading, checking and mapping, on small inline documents; the conformance suite over the GS1
//! and OpenEPCIS files is in `tests/it/epcis.rs`.

use serde_json::json;

use super::*;

fn document(events: serde_json::Value) -> serde_json::Value {
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"example": "http://ns.example.com/epcis/", "kd": KUAIDI_NS}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-11T10:00:00Z",
        "epcisBody": {"eventList": events},
    })
}

fn check_error(events: serde_json::Value, field: &str) {
    match parse_document(&document(events)) {
        Ok(_) => panic!("expected an error at `{field}`"),
        Err(DecodeError::Field(err)) => assert_eq!(err.field(), field, "{err}"),
        Err(other) => panic!("expected a field error at `{field}`, got {other}"),
    }
}

fn object_event() -> serde_json::Value {
    json!({
        "type": "ObjectEvent",
        "eventTime": "2026-11-11T09:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "epcList": ["https://kuaidi.example/id/yto/YT1234567890"],
        "bizStep": "accepting",
        "readPoint": {"id": "https://kuaidi.example/facility/YTO-320505-01"},
    })
}

#[test]
fn reads_a_parcel_event_and_maps_it() {
    let events = parse_document(&document(json!([object_event()]))).unwrap();
    assert_eq!(events.len(), 1);
    let scan = to_scan_event(&events[0]).unwrap().unwrap();
    assert_eq!(scan.kind, kuaidi_model::EventKind::Accept);
    assert_eq!(scan.facility.as_str(), "YTO-320505-01");
    assert_eq!(scan.carrier.as_str(), "yto");
    assert_eq!(scan.event_id.as_str().len(), 64, "the hash hex is the event id");
}

#[test]
fn rejects_what_the_schema_lets_through() {
    let mut bare_step = object_event();
    bare_step["bizStep"] = json!("transforming");
    check_error(json!([object_event(), bare_step]), "epcisBody.eventList[1].bizStep");
    let mut bare_disposition = object_event();
    bare_disposition["disposition"] = json!("in_transport");
    check_error(json!([bare_disposition]), "epcisBody.eventList[0].disposition");
    let mut unprefixed = object_event();
    unprefixed["myField"] = json!(1);
    check_error(json!([unprefixed]), "epcisBody.eventList[0].myField");
    let mut undeclared = object_event();
    undeclared["nowhere:myField"] = json!(1);
    check_error(json!([undeclared]), "epcisBody.eventList[0].nowhere:myField");
    let mut ilmd = object_event();
    ilmd["action"] = json!("ADD");
    ilmd["ilmd"] = json!({"materialType": "soil"});
    check_error(json!([ilmd]), "epcisBody.eventList[0].ilmd.materialType");
}

#[test]
fn rejects_malformed_fields() {
    let cases = [
        ("eventTime", json!("22-07-2026"), "epcisBody.eventList[0].eventTime"),
        ("eventTimeZoneOffset", json!("8"), "epcisBody.eventList[0].eventTimeZoneOffset"),
        ("action", json!("CREATE"), "epcisBody.eventList[0].action"),
        (
            "quantityList",
            json!([{"epcClass": "urn:x:y", "quantity": "twenty"}]),
            "epcisBody.eventList[0].quantityList[0].quantity",
        ),
        (
            "quantityList",
            json!([{"epcClass": "urn:x:y", "weight": 5}]),
            "epcisBody.eventList[0].quantityList[0].weight",
        ),
        ("readPoint", json!({"name": "x"}), "epcisBody.eventList[0].readPoint.name"),
        ("certificationInfo", json!([{"gs1:x": 1}]), "epcisBody.eventList[0].certificationInfo[0]"),
    ];
    for (field, value, path) in cases {
        let mut event = object_event();
        event[field] = value;
        check_error(json!([event]), path);
    }
    let mut no_action = object_event();
    no_action.as_object_mut().unwrap().remove("action");
    check_error(json!([no_action]), "epcisBody.eventList[0].action");
    let mut no_ids = object_event();
    no_ids.as_object_mut().unwrap().remove("epcList");
    check_error(json!([no_ids]), "epcisBody.eventList[0].epcList");
    let mut no_context = document(json!([object_event()]));
    no_context.as_object_mut().unwrap().remove("@context");
    assert!(matches!(parse_document(&no_context), Err(DecodeError::Field(ValidationError::Missing { .. }))));
    assert!(matches!(read_document("{"), Err(DecodeError::Syntax(_))));
}

#[test]
fn the_hash_ignores_serialisation() {
    let a = object_event();
    let mut b = json!({});
    // The same event with fields in another order, the URN form of the business step and another time zone.
    for key in ["readPoint", "epcList", "action", "eventTimeZoneOffset", "type"] {
        b[key] = a[key].clone();
    }
    b["bizStep"] = json!("urn:epcglobal:cbv:bizstep:accepting");
    b["eventTime"] = json!("2026-11-11T01:00:00.000Z");
    let events = parse_document(&document(json!([a, b]))).unwrap();
    assert_eq!(events[0].hash, events[1].hash);
    let mut c = object_event();
    c["bizStep"] = json!("arriving");
    let other = parse_document(&document(json!([c]))).unwrap();
    assert_ne!(events[0].hash, other[0].hash);
}

/// The pre-hash string of one event of the test document.
fn pre_hash_of(event: serde_json::Value) -> String {
    let events = parse_document(&document(json!([event]))).unwrap();
    hash::pre_hash(&events[0].body, &events[0].namespaces)
}

#[test]
fn the_pre_hash_follows_the_value_rules() {
    // Rules 8 and 9: time stamps in UTC, milliseconds rounded half up from the fourth decimal; a sensor's `time` too.
    let mut event = object_event();
    event["eventTime"] = json!("2023-01-18T19:04:03.1415+08:00");
    event["sensorElementList"] = json!([{
        "sensorMetadata": {"time": "2023-01-18T19:00:00+08:00"},
        "sensorReport": [{"type": "Temperature", "value": 26.0, "minValue": 12.70, "uom": "CEL"}],
    }]);
    let pre_hash = pre_hash_of(event.clone());
    assert!(pre_hash.contains("eventTime=2023-01-18T11:04:03.142Z"), "{pre_hash}");
    assert!(pre_hash.contains("sensorMetadatatime=2023-01-18T11:00:00.000Z"), "{pre_hash}");
    // Rule 6: no trailing zeros in numbers.
    assert!(pre_hash.contains("value=26minValue=12.7uom=CEL"), "{pre_hash}");
    event["eventTime"] = json!("2023-01-18T19:04:03.1414+08:00");
    assert!(pre_hash_of(event.clone()).contains("eventTime=2023-01-18T11:04:03.141Z"));
    // The same value written as 26 or 26.0 is the same event.
    let whole = pre_hash_of(event.clone());
    event["sensorElementList"][0]["sensorReport"][0]["value"] = json!(26);
    assert_eq!(pre_hash_of(event), whole);
}

#[test]
fn a_handed_over_document_reads_as_a_borrowed_one() {
    let mut bad = object_event();
    bad["bizStep"] = json!("transforming");
    let doc = document(json!([object_event(), bad, "not an event"]));
    let borrowed = parse_document_events(&doc).unwrap();
    let owned = parse_document_events_owned(doc.clone()).unwrap();
    assert_eq!(owned.len(), 3);
    assert_eq!(owned[0].as_ref().unwrap(), borrowed[0].as_ref().unwrap());
    for idx in [1, 2] {
        let (Err(DecodeError::Field(a)), Err(DecodeError::Field(b))) = (&owned[idx], &borrowed[idx]) else {
            panic!("event {idx} must fail in both: {:?} {:?}", owned[idx], borrowed[idx]);
        };
        assert_eq!(a.field(), b.field());
    }
    let mut no_list = doc;
    no_list["epcisBody"] = json!({});
    assert!(parse_document_events_owned(no_list).is_err());
}

#[test]
fn parcel_events_need_a_kind_and_a_facility() {
    let mut no_kind = object_event();
    no_kind["bizStep"] = json!("commissioning");
    let events = parse_document(&document(json!([no_kind]))).unwrap();
    assert_eq!(to_scan_event(&events[0]).unwrap().unwrap_err().field(), "bizStep");
    let mut no_facility = object_event();
    no_facility["readPoint"] = json!({"id": "urn:epc:id:sgln:0614141.07346.1234"});
    let events = parse_document(&document(json!([no_facility]))).unwrap();
    assert_eq!(to_scan_event(&events[0]).unwrap().unwrap_err().field(), "kd:facility");
    let mut half = object_event();
    half["epcList"] = json!(["urn:epc:id:sgtin:0614141.107346.2017"]);
    half["kd:carrier"] = json!("yto");
    let events = parse_document(&document(json!([half]))).unwrap();
    assert_eq!(to_scan_event(&events[0]).unwrap().unwrap_err().field(), "kd:waybillNo");
    let mut not_parcel = object_event();
    not_parcel["epcList"] = json!(["urn:epc:id:sgtin:0614141.107346.2017"]);
    let events = parse_document(&document(json!([not_parcel]))).unwrap();
    assert!(to_scan_event(&events[0]).is_none());
}

#[test]
fn every_kind_exports_and_reads_back_the_same() {
    for kind in kuaidi_model::EventKind::ALL {
        let scan = kuaidi_model::ScanEvent {
            event_id: kuaidi_model::EventId::parse("YT1234567890-3").unwrap(),
            carrier: kuaidi_model::CarrierCode::parse("yto").unwrap(),
            waybill_no: kuaidi_model::WaybillNo::parse("YT1234567890").unwrap(),
            kind,
            time: crate::parse_time("2026-11-11T09:00:00.250+08:00").unwrap(),
            facility: kuaidi_model::FacilityCode::parse("YTO-320505-01").unwrap(),
            operator: Some("E1001".into()),
            vehicle: Some("沪A12345".into()),
            next_facility: Some(kuaidi_model::FacilityCode::parse("YTO-HUB-SH").unwrap()),
            exception_code: kind.takes_exception_code().then(|| "X01".into()),
            signer: (kind == kuaidi_model::EventKind::Delivered).then_some(kuaidi_model::Signer::Locker),
        };
        let exported = mapping::scan_events_to_document(std::slice::from_ref(&scan), "2026-11-11T10:00:00Z");
        let events = parse_document(&exported).unwrap_or_else(|err| panic!("{kind:?}: {err}"));
        assert_eq!(to_scan_event(&events[0]).unwrap().unwrap(), scan, "{kind:?}");
    }
}
