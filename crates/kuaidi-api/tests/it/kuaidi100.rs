//! `POST /v1/kuaidi100/push`: the real Kuaidi100 traces import and trace in time order with the right status,
//! re-pushes are duplicates, and bad pushes and keys are answered per entry or as a whole.

use std::path::Path;

use serde_json::{json, Value};

use crate::harness::{app, TestApp};

/// A file of `../shared/data/express_traces/`, or `None` (after saying so) when the folder is absent; under
/// `CI=true` its absence is a failure.
fn trace_file(name: &str) -> Option<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/express_traces");
    if !dir.is_dir() {
        let message = format!("skipped: the shared folder `{}` is absent", dir.display());
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}, and CI=true requires it");
        eprintln!("{message}");
        return None;
    }
    Some(serde_json::from_str(&std::fs::read_to_string(dir.join(name)).unwrap()).unwrap())
}

async fn register_yuantong(app: &TestApp) {
    let answer = app
        .post("/v1/batch", Some(&app.admin), &json!([{"type": "carrier", "code": "yuantong", "name": "圆通速递"}]))
        .await;
    assert_eq!(answer.body["summary"]["accepted"], 1, "{}", answer.body);
}

fn statuses(body: &Value, list: &str) -> Vec<String> {
    body[list].as_array().unwrap().iter().map(|item| item["status"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_tangshan_trace_imports_and_traces() {
    let Some(response) = trace_file("kuaidi100_yto_tangshan_to_jinan_2021-06_response.json") else { return };
    let push = response["dataInfo"]["queryTrackMapResp"].clone();
    let app = app();
    register_yuantong(&app).await;

    let answer = app.post("/v1/kuaidi100/push", Some(&app.admin), &push).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!((answer.body["result"].clone(), answer.body["returnCode"].clone()), (json!(true), json!("200")));
    assert_eq!(answer.body["summary"], json!({"accepted": 9, "duplicate": 0, "updated": 0, "rejected": 0}));
    assert_eq!(statuses(&answer.body, "facilities"), ["accepted"; 5]);

    let trace = app.get("/v1/waybills/YT5555508965056", Some(&app.admin)).await;
    assert_eq!(trace.status, 200, "{}", trace.body);
    assert_eq!(trace.body["status"], "delivered");
    let events: Vec<(String, String, String)> = trace.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["time"].as_str().unwrap().to_owned(),
                e["kind"].as_str().unwrap().to_owned(),
                e["division"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("2021-06-13T13:03:42+08:00", "accept", "130209"),
        ("2021-06-13T20:08:29+08:00", "arrive", "120000"),
        ("2021-06-13T20:11:22+08:00", "depart", "120000"),
        ("2021-06-14T06:15:03+08:00", "arrive", "370100"),
        ("2021-06-14T06:18:01+08:00", "depart", "370100"),
        ("2021-06-14T11:41:58+08:00", "out_for_delivery", "370112"),
        ("2021-06-14T12:13:56+08:00", "arrive", "370112"),
        ("2021-06-14T13:53:38+08:00", "into_locker", "370112"),
        ("2021-06-14T17:31:57+08:00", "delivered", "370112"),
    ];
    let expected: Vec<(String, String, String)> =
        expected.iter().map(|(t, k, d)| (t.to_string(), k.to_string(), d.to_string())).collect();
    assert_eq!(events, expected);
    assert_eq!(trace.body["events"][8]["signer"], "station");
    // The context held phone numbers and couriers' names; none of it is stored or shown.
    let shown = trace.body.to_string();
    assert!(!shown.contains("8021") && !shown.contains("方*"), "{shown}");

    // A re-push stores nothing new.
    let again = app.post("/v1/kuaidi100/push", Some(&app.admin), &push).await;
    assert_eq!(again.body["summary"], json!({"accepted": 0, "duplicate": 9, "updated": 0, "rejected": 0}));
    assert_eq!(statuses(&again.body, "facilities"), ["duplicate"; 5]);
    no_impossible_chain(&app).await;
}

/// The safety rules find nothing impossible in a real trace: its times, places and order are as they happened.
async fn no_impossible_chain(app: &TestApp) {
    let alerts = app.get("/v1/alerts?kind=impossible_chain", Some(&app.admin)).await;
    assert_eq!(alerts.status, 200, "{}", alerts.body);
    assert_eq!(alerts.body["alerts"], json!([]), "{}", alerts.body);
}

#[tokio::test]
async fn the_suzhou_trace_imports_as_a_subscription_callback() {
    let Some(data) = trace_file("kuaidi100_yto_suzhou_to_wuxi_2021-12-15_events.json") else { return };
    let app = app();
    register_yuantong(&app).await;
    // The file keeps only the entries; wrap them as Kuaidi100's callback does, under a made-up number.
    let push = json!({"status": "polling", "billstatus": "got", "message": "", "lastResult": {
        "message": "ok", "state": "0", "status": "200", "condition": "", "ischeck": "0",
        "com": "yuantong", "nu": "YT0000000001", "data": data,
    }});
    let answer = app.post("/v1/kuaidi100/push", Some(&app.admin), &push).await;
    assert_eq!(answer.body["summary"]["accepted"], 4, "{}", answer.body);
    let trace = app.get("/v1/waybills/YT0000000001", Some(&app.admin)).await;
    assert_eq!(trace.body["status"], "in_transit");
    let kinds: Vec<&str> =
        trace.body["events"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["accept", "arrive", "arrive", "depart"]);
    assert_eq!(trace.body["events"][3]["facility_name"], "yuantong 江苏省苏州市转运中心 (快递100)");
    no_impossible_chain(&app).await;
}

fn small_push(carrier: &str) -> Value {
    json!({"lastResult": {"com": carrier, "nu": "YT1234567890", "state": "1", "data": [
        {"time": "2026-11-11 08:00:00", "context": "【上海市黄浦区公司】 已揽收", "status": "揽收", "areaCode": "CN310101000000"},
        {"time": "2026-11-11 07:00:00", "context": "已下单", "statusCode": "101", "areaCode": "CN310101000000"},
        {"time": "not a time", "context": "【上海市黄浦区公司】 已收入", "status": "在途", "areaCode": "CN310101000000"},
    ]}})
}

#[tokio::test]
async fn bad_entries_are_rejected_one_by_one() {
    let app = app();
    register_yuantong(&app).await;
    let answer = app.post("/v1/kuaidi100/push", Some(&app.admin), &small_push("yuantong")).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!((answer.body["result"].clone(), answer.body["returnCode"].clone()), (json!(false), json!("500")));
    assert_eq!(statuses(&answer.body, "entries"), ["accepted", "rejected"]);
    let rejected = &answer.body["entries"][1];
    assert_eq!(
        (&rejected["index"], &rejected["code"], &rejected["field"], &rejected["value"]),
        (&json!(2), &json!("invalid_field"), &json!("lastResult.data[2].time"), &json!("not a time"))
    );
    assert_eq!(answer.body["skipped"][0]["index"], 1);
    assert_eq!(answer.body["skipped"][0]["status_code"], 101);
}

#[tokio::test]
async fn keys_may_push_only_their_carrier() {
    let app = app();
    register_yuantong(&app).await;
    // The `yto` carrier key may not write `yuantong`'s facilities or events.
    let answer = app.post("/v1/kuaidi100/push", Some(&app.yto), &small_push("yuantong")).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["entries"][0]["code"], "carrier_mismatch", "{}", answer.body);
    assert_eq!(answer.body["facilities"][0]["code"], "carrier_mismatch");
    // Its own carrier's push is stored.
    let answer = app.post("/v1/kuaidi100/push", Some(&app.yto), &small_push("yto")).await;
    assert_eq!(statuses(&answer.body, "entries")[0], "accepted", "{}", answer.body);
    // Regulators are read-only.
    let answer = app.post("/v1/kuaidi100/push", Some(&app.jiangsu), &small_push("yuantong")).await;
    assert_eq!((answer.status.as_u16(), answer.code()), (403, "forbidden"));
    // An unregistered carrier is named.
    let answer = app.post("/v1/kuaidi100/push", Some(&app.admin), &small_push("zhongtong")).await;
    assert_eq!(answer.body["entries"][0]["code"], "unknown_carrier", "{}", answer.body);
}

#[tokio::test]
async fn a_push_without_a_parcel_is_refused_whole() {
    let app = app();
    let mut push = small_push("yuantong");
    push["lastResult"].as_object_mut().unwrap().remove("nu");
    let answer = app.post("/v1/kuaidi100/push", Some(&app.admin), &push).await;
    assert_eq!((answer.status.as_u16(), answer.code()), (422, "missing_field"), "{}", answer.body);
    assert!(answer.body["message"].as_str().unwrap().contains("lastResult.nu"), "{}", answer.body);
    let answer = app
        .post(
            "/v1/kuaidi100/push",
            Some(&app.admin),
            &json!({"lastResult": {"com": "yuantong", "nu": "YT-1", "data": []}}),
        )
        .await;
    assert_eq!((answer.status.as_u16(), answer.code()), (422, "invalid_field"), "{}", answer.body);
    assert!(answer.body["message"].as_str().unwrap().contains("`YT-1`"), "{}", answer.body);
}
