//! Ingest: single events, batches with good and bad items, NDJSON streams, duplicates and out-of-order arrival.

use serde_json::{json, Value};

use crate::harness::{app, parcel};

#[tokio::test]
async fn ingest_then_trace_in_time_order_despite_arrival_order() {
    let app = app();
    let mut records = parcel("yto", "YT0000000001");
    let waybill = records.remove(0);
    assert_eq!(app.post("/v1/waybills", Some(&app.yto), &waybill).await.status, 201);
    // Events arrive newest first.
    for event in records.iter().rev() {
        let answer = app.post("/v1/events", Some(&app.yto), event).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
        assert_eq!(answer.body["status"], "accepted");
    }
    let trace = app.get("/v1/waybills/YT0000000001", Some(&app.yto)).await;
    assert_eq!(trace.status, 200, "{}", trace.body);
    assert_eq!(trace.body["status"], "delivered");
    let kinds: Vec<&str> =
        trace.body["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["accept", "inspect", "security_scan", "depart", "arrive", "out_for_delivery", "delivered"]);
    assert_eq!(trace.body["events"][0]["facility_name"], "YTO-SZ-01 网点");
}

#[tokio::test]
async fn a_resent_event_is_a_duplicate_and_stored_once() {
    let app = app();
    let records = parcel("yto", "YT0000000002");
    assert_eq!(app.post("/v1/events", Some(&app.yto), &records[1]).await.status, 201);
    let again = app.post("/v1/events", Some(&app.yto), &records[1]).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["status"], "duplicate");
    let mut changed = records[1].clone();
    changed["operator"] = json!("C999");
    let conflict = app.post("/v1/events", Some(&app.yto), &changed).await;
    assert_eq!((conflict.status.as_u16(), conflict.code()), (409, "event_conflict"), "{}", conflict.body);
    let trace = app.get("/v1/waybills/YT0000000002", Some(&app.admin)).await;
    assert_eq!(trace.body["events"].as_array().unwrap().len(), 1);
    assert_eq!(trace.body["events"][0]["operator"], "C001");
}

#[tokio::test]
async fn a_batch_keeps_the_good_items_and_answers_each() {
    let app = app();
    let mut items = parcel("yto", "YT0000000003");
    let mut bad_kind = items[2].clone();
    bad_kind["kind"] = json!("teleport");
    let mut bad_division = items[0].clone();
    bad_division["waybill_no"] = json!("YT0000000099");
    bad_division["receiver"]["division"] = json!("329999");
    let mut other_carrier = parcel("sf", "SF0000000003")[1].clone();
    other_carrier["event_id"] = json!("sf-1");
    items.push(bad_kind);
    items.push(bad_division);
    items.push(other_carrier);
    items.push(json!("not an object"));
    items.push(items[1].clone());

    let answer = app.post("/v1/batch", Some(&app.yto), &Value::Array(items)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["summary"], json!({"accepted": 8, "duplicate": 1, "updated": 0, "rejected": 4}));
    let item = |idx: usize| &answer.body["items"][idx];
    assert_eq!(item(8)["code"], "invalid_field");
    assert_eq!(item(8)["field"], "kind");
    assert_eq!(item(8)["value"], "teleport");
    assert_eq!(item(9)["code"], "unknown_division");
    assert_eq!(item(9)["field"], "receiver.division");
    assert_eq!(item(9)["value"], "329999");
    assert_eq!(item(10)["code"], "carrier_mismatch");
    assert_eq!(item(10)["value"], "sf");
    assert_eq!(item(11)["code"], "invalid_json");
    assert_eq!(item(12)["status"], "duplicate");
    assert_eq!(app.get("/v1/waybills/YT0000000003", Some(&app.yto)).await.body["events"].as_array().unwrap().len(), 7);
}

#[tokio::test]
async fn an_ndjson_stream_is_answered_per_line_across_chunks() {
    let config = kuaidi_api::ApiConfig { ingest_chunk: 3, ..Default::default() };
    let app = crate::harness::app_with(config);
    let mut lines: Vec<String> = parcel("yto", "YT0000000004").iter().map(Value::to_string).collect();
    lines.insert(3, "{broken".into());
    lines.insert(4, String::new());
    lines.push(lines[1].clone());
    let answer = app.ndjson(Some(&app.yto), &lines).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["lines"], 11);
    assert_eq!(answer.body["summary"], json!({"accepted": 8, "duplicate": 1, "updated": 0, "rejected": 1}));
    let items = answer.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "only lines not accepted are listed");
    assert_eq!((items[0]["index"].as_u64(), items[0]["code"].as_str()), (Some(4), Some("invalid_json")));
    assert_eq!((items[1]["index"].as_u64(), items[1]["status"].as_str()), (Some(11), Some("duplicate")));

    let all = app.ndjson_to("/v1/ingest?results=all", Some(&app.yto), &lines[..1]).await;
    assert_eq!(all.body["items"][0]["status"], "duplicate");

    // Every line answered, in line order, the rejected one among the stored ones, across chunks of three.
    let all = app.ndjson_to("/v1/ingest?results=all", Some(&app.yto), &lines).await;
    assert_eq!(all.body["summary"], json!({"accepted": 0, "duplicate": 9, "updated": 0, "rejected": 1}));
    let answered: Vec<(u64, &str)> = all.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| (item["index"].as_u64().unwrap(), item["status"].as_str().unwrap()))
        .collect();
    let expected: Vec<(u64, &str)> =
        [1, 2, 3, 4, 6, 7, 8, 9, 10, 11].iter().map(|&n| (n, if n == 4 { "rejected" } else { "duplicate" })).collect();
    assert_eq!(answered, expected);
    assert_eq!(all.body["items"][4]["key"], parcel("yto", "YT0000000004")[3]["event_id"]);
}

#[tokio::test]
async fn reference_data_registered_in_the_same_stream_is_usable_at_once() {
    let app = app();
    let lines: Vec<String> = [
        json!({"type": "carrier", "code": "zto", "name": "中通快递"}),
        json!({"type": "facility", "code": "ZTO-HZ-01", "kind": "outlet", "carrier": "zto", "division": "330106", "name": "杭州西湖网点"}),
        json!({"type": "event", "event_id": "z1", "carrier": "zto", "waybill_no": "ZT0000000001", "kind": "accept",
               "time": "2026-11-11T10:00:00+08:00", "facility": "ZTO-HZ-01"}),
    ]
    .iter()
    .map(Value::to_string)
    .collect();
    let answer = app.ndjson(Some(&app.admin), &lines).await;
    assert_eq!(answer.body["summary"]["accepted"], 3, "{}", answer.body);
    let carriers = app.get("/v1/carriers", Some(&app.yto)).await;
    assert_eq!(carriers.body.as_array().unwrap().len(), 3);
    let again = app
        .ndjson(Some(&app.admin), &[json!({"type": "carrier", "code": "zto", "name": "中通快递股份"}).to_string()])
        .await;
    assert_eq!(again.body["summary"]["updated"], 1, "{}", again.body);
}
