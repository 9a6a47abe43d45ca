//! Decoding tests as data: a JSON line and the expected outcome, plus round-trips and CSV.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::{encode_record, read_csv, read_ndjson, CsvKind};

const EVENT: &str = r#"{"type":"event","event_id":"e1","carrier":"yto","waybill_no":"YT1234567890","kind":"depart","time":"2026-11-11T09:00:00+08:00","facility":"YTO-SZ-01","operator":"C001","vehicle":"沪A12345","next_facility":"YTO-SZ-SC"}"#;

fn waybill_json() -> serde_json::Value {
    json!({
        "type": "waybill", "carrier": "yto", "waybill_no": "YT1234567890", "product": "standard",
        "electronic": true, "created_at": "2026-11-11T08:50:00+08:00",
        "sender": {"name": "张三", "phone": "13800131234", "division": "320505", "address": "科技城路 1 号"},
        "receiver": {"name": "李四", "phone": "13900135678", "division": "310101", "address": "南京东路 2 号"},
        "real_name": {"id_type": "resident_id", "id_number": "11010519491231002X", "verified": true},
        "contents": {"category": "服装", "description": "T恤", "weight_grams": 500, "declared_value_fen": 9900}
    })
}

/// Decodes `input`; `expected` is `Ok(())` for a record that must round-trip to the same JSON, or
/// `Err((code, field, value))`.
fn check(input: &str, expected: Result<(), (&str, &str, Option<&str>)>) {
    let res = decode_record(input);
    match (&res, expected) {
        (Ok(record), Ok(())) => {
            let back = serde_json::to_value(encode_record(record)).unwrap();
            let original: serde_json::Value = serde_json::from_str(input).unwrap();
            assert_eq!(back, original);
        }
        (Err(DecodeError::Field(err)), Err((code, field, value))) => {
            assert_eq!((err.code(), err.field(), err.value()), (code, field, value), "{err}");
        }
        (Err(err @ DecodeError::Syntax(_)), Err((code, _, _))) => assert_eq!(err.code(), code, "{err}"),
        (got, want) => panic!("got {got:?}, expected {want:?}"),
    }
}

fn with(base: &str, path: &[&str], value: serde_json::Value) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(base).unwrap();
    let mut target = &mut doc;
    for key in &path[..path.len() - 1] {
        target = &mut target[*key];
    }
    let last = path[path.len() - 1];
    if value.is_null() {
        target.as_object_mut().unwrap().remove(last);
    } else {
        target[last] = value;
    }
    doc.to_string()
}

#[test]
fn events() {
    check(EVENT, Ok(()));
    check("not json", Err(("invalid_json", "", None)));
    check("[1,2]", Err(("invalid_json", "", None)));
    check(&with(EVENT, &["type"], json!(null)), Err(("missing_field", "type", None)));
    check(&with(EVENT, &["type"], json!("parcel")), Err(("invalid_field", "type", Some("parcel"))));
    check(&with(EVENT, &["event_id"], json!(null)), Err(("missing_field", "event_id", None)));
    check(&with(EVENT, &["kind"], json!("teleport")), Err(("invalid_field", "kind", Some("teleport"))));
    check(&with(EVENT, &["kind"], json!(3)), Err(("invalid_field", "kind", Some("3"))));
    check(&with(EVENT, &["time"], json!("2026-11-11 09:00")), Err(("invalid_field", "time", Some("2026-11-11 09:00"))));
    check(
        &with(EVENT, &["time"], json!("2026-11-11T09:00:00")),
        Err(("invalid_field", "time", Some("2026-11-11T09:00:00"))),
    );
    check(&with(EVENT, &["carrier"], json!("YTO")), Err(("invalid_field", "carrier", Some("YTO"))));
    check(&with(EVENT, &["waybill_no"], json!("123")), Err(("invalid_field", "waybill_no", Some("123"))));
    check(&with(EVENT, &["signer"], json!("robot")), Err(("invalid_field", "signer", Some("robot"))));
    check(&with(EVENT, &["waybil_no"], json!("X")), Err(("invalid_field", "waybil_no", Some("X"))));
}

#[test]
fn waybills() {
    let base = waybill_json().to_string();
    check(&base, Ok(()));
    check(&with(&base, &["real_name"], json!(null)), Ok(()));
    check(
        &with(&base, &["sender", "division"], json!("32050")),
        Err(("invalid_field", "sender.division", Some("32050"))),
    );
    check(&with(&base, &["receiver", "phone"], json!(null)), Err(("missing_field", "receiver.phone", None)));
    check(&with(&base, &["receiver"], json!("李四")), Err(("invalid_field", "receiver", Some("李四"))));
    check(
        &with(&base, &["contents", "weight_grams"], json!(-5)),
        Err(("invalid_field", "contents.weight_grams", Some("-5"))),
    );
    check(
        &with(&base, &["contents", "weight_grams"], json!(5_000_000_000u64)),
        Err(("invalid_field", "contents.weight_grams", Some("5000000000"))),
    );
    check(
        &with(&base, &["real_name", "verified"], json!("yes")),
        Err(("invalid_field", "real_name.verified", Some("yes"))),
    );
    check(&with(&base, &["sender", "email"], json!("a@b")), Err(("invalid_field", "sender.email", Some("a@b"))));
}

#[test]
fn complaints() {
    let complaint = r#"{"type":"complaint","complaint_id":"12305-1","carrier":"yto","waybill_no":"YT1234567890","filed_at":"2026-11-13T10:00:00+08:00","category":"delay","description":"超过三天还没到","verdict":"valid"}"#;
    check(complaint, Ok(()));
    check(&with(complaint, &["verdict"], json!("upheld")), Err(("invalid_field", "verdict", Some("upheld"))));
    check(&with(complaint, &["category"], json!("rude")), Err(("invalid_field", "category", Some("rude"))));
    check(&with(complaint, &["filed_at"], json!(null)), Err(("missing_field", "filed_at", None)));
    check(&with(complaint, &["complaint_id"], json!("a b")), Err(("invalid_field", "complaint_id", Some("a b"))));
}

#[test]
fn carriers_and_facilities() {
    check(r#"{"type":"carrier","code":"yto","name":"圆通速递"}"#, Ok(()));
    check(r#"{"type":"carrier","code":"yto"}"#, Err(("missing_field", "name", None)));
    let facility = r#"{"type":"facility","code":"YTO-SZ-01","kind":"outlet","carrier":"yto","division":"320505","longitude":120.5,"latitude":31.3,"name":"虎丘网点"}"#;
    check(facility, Ok(()));
    check(&with(facility, &["latitude"], json!(null)), Err(("missing_field", "latitude", None)));
    check(&with(facility, &["latitude"], json!(91.0)), Err(("invalid_field", "latitude", Some("91"))));
    check(&with(facility, &["kind"], json!("depot")), Err(("invalid_field", "kind", Some("depot"))));
}

#[test]
fn ndjson_lines_are_numbered_and_independent() {
    let input = format!("{EVENT}\n\n{{broken\n{}\n", with(EVENT, &["kind"], json!("nope")));
    let lines: Vec<_> = read_ndjson(input.as_bytes()).map(Result::unwrap).collect();
    let summary: Vec<_> =
        lines.iter().map(|l| (l.number, l.record.as_ref().map_err(DecodeError::code).err())).collect();
    assert_eq!(summary, vec![(1, None), (3, Some("invalid_json")), (4, Some("invalid_field"))]);
}

#[test]
fn csv_events_and_waybills() {
    let events =
        "event_id,carrier,waybill_no,kind,time,facility,operator,vehicle,next_facility,exception_code,signer\n\
                  e1,yto,YT1234567890,accept,2026-11-11T09:00:00+08:00,YTO-SZ-01,C001,,,,\n\
                  e2,yto,YT1234567890,delivered,2026-11-12T09:00:00+08:00,YTO-SZ-01,C002,,,,self\n\
                  e3,yto,YT1234567890,arrive,yesterday,YTO-SZ-01,,,,,\n\
                  e4,yto,short\n";
    let (kind, rows) = read_csv(events.as_bytes()).unwrap();
    assert_eq!(kind, CsvKind::Events);
    let summary: Vec<_> = rows.map(|l| (l.number, l.record.as_ref().map_err(DecodeError::code).err())).collect();
    assert_eq!(summary, vec![(2, None), (3, None), (4, Some("invalid_field")), (5, Some("invalid_json"))]);

    let waybills = "carrier,waybill_no,product,created_at,sender_name,sender_phone,sender_division,sender_address,\
receiver_name,receiver_phone,receiver_division,receiver_address,contents_category,contents_description,contents_weight_grams,real_name_id_type,real_name_id_number,real_name_verified\n\
yto,YT1234567890,standard,2026-11-11T08:50:00+08:00,张三,13800131234,320505,科技城路,李四,13900135678,310101,南京东路,服装,T恤,500,resident_id,11010519491231002X,true\n";
    let (kind, rows) = read_csv(waybills.as_bytes()).unwrap();
    assert_eq!(kind, CsvKind::Waybills);
    let rows: Vec<_> = rows.collect();
    assert!(rows[0].record.is_ok(), "{:?}", rows[0].record);

    assert!(read_csv("a,b\n1,2\n".as_bytes()).is_err());
}

proptest! {
    #[test]
    fn decoding_never_panics(text in "\\PC{0,200}") {
        let _ = decode_record(&text);
    }

    #[test]
    fn events_round_trip(
        id in "[!-~]{1,64}",
        no in "[A-Z0-9]{7,31}[0-9]",
        kind_idx in 0usize..13,
        minutes in 0i64..10_000_000,
        offset_hours in -12i32..=14,
        operator in proptest::option::of("[a-z0-9]{1,10}"),
    ) {
        let kind = kuaidi_model::EventKind::ALL[kind_idx];
        let time = chrono::DateTime::from_timestamp(1_600_000_000 + minutes * 60, 0).unwrap()
            .with_timezone(&chrono::FixedOffset::east_opt(offset_hours * 3600).unwrap());
        let mut doc = json!({"type": "event", "event_id": id, "carrier": "yto", "waybill_no": no,
            "kind": kind.as_str(), "time": time.to_rfc3339(), "facility": "F1"});
        if let Some(operator) = operator { doc["operator"] = json!(operator); }
        let record = decode_value(&doc).unwrap();
        prop_assert_eq!(serde_json::to_value(encode_record(&record)).unwrap(), doc);
    }
}

const COMPLAINT: &str = r#"{"type":"complaint","complaint_id":"12305-1","carrier":"yto","waybill_no":"YT1234567890","filed_at":"2026-11-13T10:00:00+08:00","category":"delay","description":"超过三天还没到","verdict":"valid"}"#;
const CARRIER: &str = r#"{"type":"carrier","code":"yto","name":"圆通速递"}"#;
const FACILITY: &str = r#"{"type":"facility","code":"YTO-SZ-01","kind":"outlet","carrier":"yto","division":"320505","longitude":120.5,"latitude":31.3,"name":"虎丘网点"}"#;

#[test]
fn well_formed_records_take_the_typed_path() {
    let waybill = waybill_json().to_string();
    let escaped = EVENT.replace(r#""operator":"C001""#, r#""operator":"C\u0030\"01""#);
    let reordered = r#"{"name":"圆通速递","code":"yto","type":"carrier"}"#;
    let minimal = r#"{"type":"event","event_id":"e1","carrier":"yto","waybill_no":"YT1234567890","kind":"accept","time":"2026-11-11T09:00:00+08:00","facility":"F1","operator":null}"#;
    for text in [EVENT, &waybill, COMPLAINT, CARRIER, FACILITY, &escaped, reordered, minimal] {
        let typed = typed::decode(text);
        assert!(typed.is_some(), "the typed path refused {text}");
        assert_eq!(typed.map(Ok), Some(walk(text)), "{text}");
    }
    let Some(Record::Event(event)) = typed::decode(&escaped) else { panic!("not an event") };
    assert_eq!(event.operator.as_deref(), Some("C0\"01"));
}

#[test]
fn doubtful_records_are_left_to_the_walker() {
    let waybill = waybill_json().to_string();
    let refused = [
        "not json".to_owned(),
        "[1,2]".to_owned(),
        r#""event""#.to_owned(),
        with(EVENT, &["type"], json!("Event")),
        with(EVENT, &["kind"], json!("teleport")),
        with(EVENT, &["waybill_no"], json!(12)),
        with(EVENT, &["waybil_no"], json!("X")),
        EVENT.replace(r#""carrier":"yto","#, r#""carrier":"yto","carrier":"yto","#),
        EVENT.replace(r#""operator":"C001","#, r#""operator":"C001","extra":null,"#),
        CARRIER.replace(r#""type":"carrier","#, r#""type":"carrier","type":"carrier","#),
        with(&waybill, &["contents", "weight_grams"], json!(5_000_000_000u64)),
        with(&waybill, &["contents", "weight_grams"], json!(500.0)),
        with(&waybill, &["sender", "email"], json!("a@b")),
        with(&waybill, &["real_name", "verified"], json!("yes")),
        with(FACILITY, &["latitude"], json!(null)),
        with(FACILITY, &["latitude"], json!(91.0)),
        with(COMPLAINT, &["verdict"], json!("upheld")),
    ];
    for text in &refused {
        assert!(typed::decode(text).is_none(), "the typed path took {text}");
        // The walker still answers, with the same result `decode_record` gives.
        assert_eq!(decode_record(text).map_err(|err| err.code()), walk(text).map_err(|err| err.code()), "{text}");
    }
}

/// A field of `base` (dotted path) and the JSON a mutation gives it; `None` removes it.
fn mutate(base: &str, path: &str, value: Option<serde_json::Value>) -> String {
    let mut doc: serde_json::Value = serde_json::from_str(base).unwrap();
    let mut target = &mut doc;
    let parts: Vec<&str> = path.split('.').collect();
    for key in &parts[..parts.len() - 1] {
        if !target[*key].is_object() {
            target[*key] = json!({});
        }
        target = &mut target[*key];
    }
    let last = parts[parts.len() - 1];
    match value {
        Some(value) => target[last] = value,
        None => {
            target.as_object_mut().unwrap().remove(last);
        }
    }
    doc.to_string()
}

fn any_json() -> impl Strategy<Value = Option<serde_json::Value>> {
    prop_oneof![
        Just(None),
        Just(Some(json!(null))),
        any::<bool>().prop_map(|flag| Some(json!(flag))),
        any::<i64>().prop_map(|number| Some(json!(number))),
        (-200.0f64..200.0).prop_map(|number| Some(json!(number))),
        "[a-zA-Z0-9 :+.-]{0,24}".prop_map(|text| Some(json!(text))),
        "\\PC{0,12}".prop_map(|text| Some(json!(text))),
        Just(Some(json!("2026-11-11T09:00:00+08:00"))),
        Just(Some(json!("320505"))),
        Just(Some(json!({}))),
        Just(Some(json!([]))),
    ]
}

/// The fields the edits pick from: the event's (as the events file names its columns), then the other records' and a
/// few that no record has.
fn fields() -> Vec<&'static str> {
    let mut fields = vec!["type"];
    fields.extend(crate::EVENT_COLUMNS);
    fields.extend([
        "code",
        "name",
        "division",
        "longitude",
        "latitude",
        "product",
        "electronic",
        "created_at",
        "sender",
        "sender.name",
        "sender.phone",
        "sender.division",
        "sender.address",
        "sender.extra",
        "receiver.phone",
        "real_name",
        "real_name.id_type",
        "real_name.verified",
        "contents",
        "contents.weight_grams",
        "contents.declared_value_fen",
        "contents.category",
        "complaint_id",
        "filed_at",
        "category",
        "verdict",
        "extra",
    ]);
    fields
}

proptest! {
    /// Whatever the typed path answers is what the walker answers; where it declines, `decode_record` is the walker.
    #[test]
    fn the_typed_path_agrees_with_the_walker(
        base in 0usize..5,
        edits in proptest::collection::vec((0..fields().len(), any_json()), 0..4),
    ) {
        let waybill = waybill_json().to_string();
        let mut text = [EVENT, waybill.as_str(), COMPLAINT, CARRIER, FACILITY][base].to_owned();
        for (field, value) in edits {
            text = mutate(&text, fields()[field], value);
        }
        let walked = walk(&text);
        if let Some(record) = typed::decode(&text) {
            prop_assert_eq!(Ok(record), walked);
        } else {
            prop_assert!(walked.is_err(), "the typed path declined a record the walker took: {}", text);
            prop_assert_eq!(decode_record(&text), walked);
        }
    }
}

/// Every field of every base record, removed or set to each kind of JSON value in turn: where the typed path answers,
/// it gives the walker's record, and it never declines a record the walker takes. The property test above draws
/// combinations; this one covers each single edit, which random draws reach only now and then.
#[test]
fn the_typed_path_agrees_with_the_walker_on_every_single_edit() {
    let waybill = waybill_json().to_string();
    let values = [
        None,
        Some(json!(null)),
        Some(json!(true)),
        Some(json!(0)),
        Some(json!(-1)),
        Some(json!(120)),
        Some(json!(31.5)),
        Some(json!(5_000_000_000u64)),
        Some(json!("")),
        Some(json!(" ")),
        Some(json!("x")),
        Some(json!("320505")),
        Some(json!("2026-11-11T09:00:00+08:00")),
        Some(json!({})),
        Some(json!([])),
    ];
    let mut n_typed = 0;
    for base in [EVENT, waybill.as_str(), COMPLAINT, CARRIER, FACILITY] {
        for field in fields() {
            for value in &values {
                let text = mutate(base, field, value.clone());
                let walked = walk(&text);
                match typed::decode(&text) {
                    Some(record) => {
                        n_typed += 1;
                        assert_eq!(Ok(record), walked, "{text}");
                    }
                    None => assert!(walked.is_err(), "the typed path declined a record the walker took: {text}"),
                }
            }
        }
    }
    // The edits that leave a valid record (an optional field removed or set to null, a free-text field changed) must
    // have been taken by the typed path, or this test compared nothing.
    assert!(n_typed > 100, "only {n_typed} edited records took the typed path");
}
