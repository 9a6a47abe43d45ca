//! Unit tests of Kuaidi100 push reading on small inline pushes; the real traces are in `tests/it/kuaidi100.rs`.

use serde_json::{json, Value};

use super::*;

fn push(data: Value) -> Value {
    json!({"status": "polling", "message": "", "lastResult": {
        "message": "ok", "nu": "YT1234567890", "com": "yuantong", "state": "0", "status": "200", "data": data,
    }})
}

fn entry(time: &str, context: &str, status: &str, area: Option<&str>) -> Value {
    json!({"time": time, "ftime": time, "context": context, "status": status, "areaCode": area})
}

fn events(push: &Push) -> Vec<&ScanEvent> {
    push.entries
        .iter()
        .filter_map(|e| match e {
            Entry::Event(event) => Some(&**event),
            _ => None,
        })
        .collect()
}

/// Reads a one-entry push and answers `(kind, signer, exception code, facility code)`.
fn check(status: &str, context: &str) -> (EventKind, Option<Signer>, Option<String>, String) {
    let read = read_push(&push(json!([entry("2026-11-11 09:00:00", context, status, Some("CN320505000000"))])))
        .unwrap_or_else(|err| panic!("{status} {context}: {err}"));
    match &read.entries[0] {
        Entry::Event(e) => (e.kind, e.signer, e.exception_code.as_deref().map(str::to_owned), e.facility.to_string()),
        other => panic!("{status} {context}: {other:?}"),
    }
}

#[test]
fn statuses_parse_as_codes_and_names() {
    let cases = [
        ("0", State::InTransit, None),
        ("在途", State::InTransit, None),
        ("1002", State::InTransit, Some(1002)),
        ("干线", State::InTransit, Some(1002)),
        ("1", State::Collected, None),
        ("103", State::Collected, Some(103)),
        ("2", State::Difficult, None),
        ("209", State::Difficult, Some(209)),
        ("3", State::Signed, None),
        ("304", State::Signed, Some(304)),
        ("4", State::ReturnSigned, None),
        ("5", State::Delivering, None),
        ("501", State::Delivering, Some(501)),
        ("6", State::Returning, None),
        ("7", State::Transferred, None),
        ("8", State::Customs, None),
        ("12", State::Customs, Some(12)),
        ("清关异常", State::Customs, Some(13)),
        ("14", State::Refused, None),
        ("拒签", State::Refused, None),
    ];
    for (text, state, sub) in cases {
        assert_eq!(Status::parse(text), Ok(Status { state, sub }), "{text}");
    }
    for bad in ["9", "15", "99", "900", "2000", "送达", "", "-1"] {
        assert!(Status::parse(bad).is_err(), "{bad:?} should be rejected");
    }
}

#[test]
fn area_codes_map_to_the_finest_known_division() {
    let code = |s: &str| AdminCode::parse(s).unwrap();
    assert_eq!(area_code("CN320507004000"), Ok(code("320507")));
    assert_eq!(area_code("CN320500000000"), Ok(code("320500")));
    assert_eq!(area_code("CN1302"), Ok(code("130200")));
    assert_eq!(area_code("CN12"), Ok(code("120000")));
    assert_eq!(area_code("310101"), Ok(code("310101")));
    // A county the table does not know falls back to its prefecture.
    assert_eq!(area_code("CN320599000000"), Ok(code("320500")));
    let err = area_code("CN290000000000").unwrap_err();
    assert_eq!((err.code(), err.field(), err.value()), ("unknown_division", "areaCode", Some("CN290000000000")));
    for bad in ["CN", "CN32050", "US320500000000", "CN32O500000000", "CN990000000000"] {
        let err = area_code(bad).unwrap_err();
        assert_eq!((err.field(), err.value()), ("areaCode", Some(bad)), "{err}");
    }
}

/// `(status, context, kind, signer, exception code, facility kind)`.
type KindCase = (&'static str, &'static str, EventKind, Option<Signer>, Option<&'static str>, &'static str);

#[test]
fn kinds_follow_status_and_context() {
    use EventKind::*;
    let cases: &[KindCase] = &[
        ("1", "【苏州虎丘公司】 已揽收", Accept, None, None, "outlet"),
        ("103", "【苏州虎丘公司】 已揽收", Accept, None, None, "outlet"),
        ("0", "【苏州转运中心公司】 已收入", Arrive, None, None, "hub"),
        ("1002", "【苏州转运中心】 已发出 下一站 【无锡转运中心公司】", Depart, None, None, "hub"),
        ("0", "【苏州分拨中心】 已发往 【苏州虎丘公司】", Depart, None, None, "sorting_centre"),
        ("0", "快件已由苏州虎丘花园驿站代收，请及时取件", IntoLocker, None, None, "station"),
        ("5", "【苏州虎丘公司】 派件中 派件人: 方*", OutForDelivery, None, None, "outlet"),
        ("501", "快件已投递至丰巢快递柜", IntoLocker, None, None, "locker"),
        ("3", "已签收，签收人凭取货码签收。", Delivered, Some(Signer::Station), None, "station"),
        ("3", "已签收，本人签收", Delivered, Some(Signer::Receiver), None, "outlet"),
        ("3", "已签收，家人代收", Delivered, Some(Signer::Other), None, "outlet"),
        ("301", "已签收", Delivered, Some(Signer::Receiver), None, "outlet"),
        ("303", "已签收", Delivered, Some(Signer::Other), None, "outlet"),
        ("304", "已签收", Delivered, Some(Signer::Station), None, "outlet"),
        ("304", "已从丰巢快递柜取出", Delivered, Some(Signer::Locker), None, "locker"),
        ("2", "【苏州虎丘公司】 地址不详", Exception, None, Some("K100-2"), "outlet"),
        ("204", "【苏州虎丘公司】 派件异常", Exception, None, Some("K100-204"), "outlet"),
        ("203", "收件人拒收", Refused, None, Some("K100-203"), "outlet"),
        ("209", "快件破损", Damaged, None, Some("K100-209"), "outlet"),
        ("14", "收件人拒签", Refused, None, Some("K100-14"), "outlet"),
        ("4", "退件已签收", Returned, None, Some("K100-4"), "outlet"),
        ("6", "快件退回中", Returned, None, Some("K100-6"), "outlet"),
        ("7", "已转投中国邮政", Depart, None, None, "outlet"),
        ("10", "待清关", Arrive, None, None, "outlet"),
        ("13", "清关异常", Exception, None, Some("K100-13"), "outlet"),
    ];
    for (status, context, kind, signer, code, facility_kind) in cases {
        let (got_kind, got_signer, got_code, facility) = check(status, context);
        assert_eq!(
            (got_kind, got_signer, got_code.as_deref()),
            (*kind, *signer, *code),
            "status {status}, context {context}"
        );
        assert_eq!(facility, format!("k100.yuantong.320505.{facility_kind}"), "status {status}, context {context}");
    }
}

#[test]
fn orders_placed_but_not_collected_are_skipped() {
    let read = read_push(&push(json!([
        entry("2026-11-11 08:00:00", "您的订单已下单", "101", Some("CN320505000000")),
        entry("2026-11-11 08:30:00", "等待快递员上门揽收", "待揽收", Some("CN320505000000")),
    ])))
    .unwrap();
    assert!(read.entries.iter().all(|e| matches!(e, Entry::Skipped { .. })), "{:?}", read.entries);
    assert!(read.facilities.is_empty());
}

#[test]
fn ids_are_stable_and_distinct() {
    let data = json!([
        entry("2026-11-11 10:00:00", "【苏州转运中心】 已发出", "0", Some("CN320500000000")),
        entry("2026-11-11 09:00:00", "【苏州转运中心】 已收入", "0", Some("CN320500000000")),
    ]);
    let first = read_push(&push(data.clone())).unwrap();
    let again = read_push(&push(data)).unwrap();
    let ids: Vec<_> = events(&first).iter().map(|e| e.event_id.clone()).collect();
    assert_eq!(ids, events(&again).iter().map(|e| e.event_id.clone()).collect::<Vec<_>>());
    assert_ne!(ids[0], ids[1]);
    assert!(ids[0].as_str().starts_with("k100-") && ids[0].as_str().len() == 37, "{}", ids[0]);
    assert_eq!(first.facilities, again.facilities);
    assert_eq!(first.facilities.len(), 1, "one hub for both entries");
    let hub = &first.facilities[0];
    assert_eq!(hub.code.as_str(), "k100.yuantong.320500.hub");
    assert_eq!(hub.kind, FacilityKind::Hub);
    assert_eq!(hub.name, "yuantong 江苏省苏州市转运中心 (快递100)");
    assert!(hub.location.is_some());
}

#[test]
fn times_without_offset_are_china_time() {
    let read =
        read_push(&push(json!([entry("2021-12-15 20:15:14", "【苏州转运中心】 已收入", "0", Some("CN320500000000"))])))
            .unwrap();
    assert_eq!(events(&read)[0].time.to_rfc3339(), "2021-12-15T20:15:14+08:00");
    let read = read_push(&push(json!([entry(
        "2021-12-15T12:15:14Z",
        "【苏州转运中心】 已收入",
        "0",
        Some("CN320500000000")
    )])))
    .unwrap();
    assert_eq!(events(&read)[0].time.to_rfc3339(), "2021-12-15T12:15:14+00:00");
}

#[test]
fn entries_without_area_borrow_one() {
    let read = read_push(&push(json!([
        entry("2026-11-11 12:00:00", "已签收，本人签收", "3", None),
        entry("2026-11-11 11:00:00", "【江苏省苏州市虎丘公司】 已收入", "0", Some("CN320505000000")),
        entry("2026-11-11 10:00:00", "【江苏省苏州市虎丘公司】 派件中", "5", None),
        entry("2026-11-11 09:00:00", "【苏州转运中心】 已发出", "0", Some("CN320500000000")),
        entry("2026-11-11 08:00:00", "已揽收", "1", None),
    ])))
    .unwrap();
    let facilities: Vec<&str> = events(&read).iter().map(|e| e.facility.as_str()).collect();
    assert_eq!(
        facilities,
        [
            "k100.yuantong.320505.outlet", // the latest earlier entry's area
            "k100.yuantong.320505.outlet",
            "k100.yuantong.320505.outlet", // the same 【place】 elsewhere, not the earlier hub
            "k100.yuantong.320500.hub",
            "k100.yuantong.320500.outlet", // before any located entry: the first located one
        ]
    );
}

#[test]
fn an_entry_with_no_area_anywhere_is_rejected_by_field() {
    let read = read_push(&push(json!([entry("2026-11-11 08:00:00", "已揽收", "1", None)]))).unwrap();
    match &read.entries[0] {
        Entry::Invalid(err) => assert_eq!((err.code(), err.field()), ("missing_field", "lastResult.data[0].areaCode")),
        other => panic!("{other:?}"),
    }
    // The route's current area is the last resort.
    let mut value = push(json!([entry("2026-11-11 08:00:00", "已揽收", "1", None)]));
    value["lastResult"]["routeInfo"] = json!({"cur": {"number": "CN3701", "name": "山东,济南市"}});
    let read = read_push(&value).unwrap();
    assert_eq!(events(&read)[0].facility.as_str(), "k100.yuantong.370100.outlet");
}

#[test]
fn bad_entries_name_their_field_and_value() {
    let read = read_push(&push(json!([
        entry("yesterday", "已揽收", "1", Some("CN320505000000")),
        entry("2026-11-11 08:00:00", "已揽收", "送达", Some("CN320505000000")),
        entry("2026-11-11 08:00:00", "已揽收", "1", Some("CN3")),
        json!({"time": "2026-11-11 08:00:00", "status": "1"}),
        json!("not an object"),
        json!({"time": "2026-11-11 08:00:00", "context": "已揽收", "statusCode": 77, "areaCode": "CN320505000000"}),
    ])))
    .unwrap();
    let errors: Vec<(String, Option<String>)> = read
        .entries
        .iter()
        .map(|e| match e {
            Entry::Invalid(err) => (err.field().to_owned(), err.value().map(str::to_owned)),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        errors,
        [
            ("lastResult.data[0].time".to_owned(), Some("yesterday".to_owned())),
            ("lastResult.data[1].status".to_owned(), Some("送达".to_owned())),
            ("lastResult.data[2].areaCode".to_owned(), Some("CN3".to_owned())),
            ("lastResult.data[3].context".to_owned(), None),
            ("lastResult.data[4]".to_owned(), Some("\"not an object\"".to_owned())),
            ("lastResult.data[5].statusCode".to_owned(), Some("77".to_owned())),
        ]
    );
}

#[test]
fn a_push_without_its_parcel_fails_whole() {
    let field_of = |value: Value| match read_push(&value) {
        Err(DecodeError::Field(err)) => (err.field().to_owned(), err.value().map(str::to_owned)),
        Err(other) => (format!("syntax: {other}"), None),
        Ok(_) => ("accepted".to_owned(), None),
    };
    let mut no_number = push(json!([]));
    no_number["lastResult"].as_object_mut().unwrap().remove("nu");
    assert_eq!(field_of(no_number), ("lastResult.nu".to_owned(), None));
    let mut bad_carrier = push(json!([]));
    bad_carrier["lastResult"]["com"] = json!("YTO Express");
    assert_eq!(field_of(bad_carrier), ("lastResult.com".to_owned(), Some("YTO Express".to_owned())));
    let mut bad_number = push(json!([]));
    bad_number["lastResult"]["nu"] = json!("YT-1");
    assert_eq!(field_of(bad_number), ("lastResult.nu".to_owned(), Some("YT-1".to_owned())));
    assert_eq!(field_of(json!({"status": "polling"})), ("lastResult".to_owned(), None));
    assert_eq!(field_of(json!({"com": "yuantong", "nu": "YT1234567890"})), ("lastResult".to_owned(), None));
    assert_eq!(
        field_of(json!({"com": "yuantong", "nu": "YT1234567890", "data": {}})),
        ("data".to_owned(), Some("{}".to_owned()))
    );
    let mut bad_state = push(json!([]));
    bad_state["lastResult"]["state"] = json!("42");
    assert_eq!(field_of(bad_state), ("lastResult.state".to_owned(), Some("42".to_owned())));
    assert!(field_of(json!([1, 2])).0.starts_with("syntax"));
}

#[test]
fn the_form_param_and_bare_results_are_read_too() {
    let inner = push(json!([entry("2026-11-11 08:00:00", "已揽收", "1", Some("CN320505000000"))]));
    let as_param = json!({"param": inner.to_string(), "sign": "ignored"});
    let bare = inner["lastResult"].clone();
    let expected = read_push(&inner).unwrap();
    assert_eq!(read_push(&as_param).unwrap(), expected);
    assert_eq!(
        read_push(&bare).unwrap(),
        Push { state: Some(Status { state: State::InTransit, sub: None }), ..expected }
    );
    match read_push(&json!({"param": "{not json"})) {
        Err(DecodeError::Field(err)) => assert_eq!(err.field(), "param"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn context_text_is_never_kept() {
    let context = "【苏州虎丘公司】 派件中 派件人: 张三 电话 13800131234";
    let read = read_push(&push(json!([entry("2026-11-11 08:00:00", context, "5", Some("CN320505000000"))]))).unwrap();
    let shown = format!("{read:?}");
    assert!(!shown.contains("13800131234") && !shown.contains("张三"), "{shown}");
}
