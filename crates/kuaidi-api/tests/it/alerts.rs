//! `GET /v1/alerts` and `POST /v1/alerts/{id}`: alerts raised at ingest, their access rules, acknowledging and
//! resolving them, and the scheduled sweep raising a stuck alert as the hub's clock moves on.

use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use kuaidi_store::testing::fixtures;
use serde_json::{json, Value};

use crate::harness::{app, load_faults, parcel};

fn kinds(answer: &Value) -> Vec<(String, String, String)> {
    let mut kinds: Vec<(String, String, String)> = answer["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let text = |field: &str| a[field].as_str().unwrap().to_owned();
            (text("kind"), text("reason"), text("waybill_no"))
        })
        .collect();
    kinds.sort();
    kinds
}

#[tokio::test]
async fn ingest_raises_alerts_for_the_missing_inspection_and_the_prohibited_item() {
    let app = app();
    load_faults(&app).await;
    let all = app.get("/v1/alerts", Some(&app.admin)).await;
    assert_eq!(all.status, 200, "{}", all.body);
    let expected = vec![
        ("compliance".to_owned(), "inspection_missing".to_owned(), "YT0000000002".to_owned()),
        ("prohibited_item".to_owned(), "prohibited_item_declared".to_owned(), "YT0000000003".to_owned()),
    ];
    assert_eq!(kinds(&all.body), expected, "{}", all.body);
    let alerts = all.body["alerts"].as_array().unwrap();
    assert!(alerts[0]["id"].as_i64() > alerts[1]["id"].as_i64(), "newest first: {}", all.body);
    let fireworks = alerts.iter().find(|a| a["kind"] == "prohibited_item").unwrap();
    assert_eq!(fireworks["detail"]["term"], "鞭炮", "{fireworks}");
    assert_eq!(fireworks["status"], "open");
    assert_eq!(fireworks["origin_city"], "320500");
    assert_eq!(all.body["next_before_id"], Value::Null);

    let only = app.get("/v1/alerts?kind=prohibited_item&status=open&area=310000", Some(&app.admin)).await;
    assert_eq!(only.body["alerts"].as_array().unwrap().len(), 1, "{}", only.body);
    let day = app.get("/v1/alerts?from=2026-11-12&to=2026-11-12", Some(&app.admin)).await;
    assert_eq!(day.body["alerts"].as_array().unwrap().len(), 2, "raised at the hub's clock: {}", day.body);
    let before = app.get("/v1/alerts?to=2026-11-11", Some(&app.admin)).await;
    assert_eq!(before.body["alerts"], json!([]), "{}", before.body);

    // Paging: one a page, then the next below it, then none.
    let first = app.get("/v1/alerts?limit=1", Some(&app.admin)).await;
    let next = first.body["next_before_id"].as_i64().unwrap();
    assert_eq!(next, alerts[0]["id"].as_i64().unwrap());
    let second = app.get(&format!("/v1/alerts?limit=1&before_id={next}"), Some(&app.admin)).await;
    assert_eq!(second.body["alerts"][0]["id"], alerts[1]["id"]);
    let third = app.get(&format!("/v1/alerts?limit=1&before_id={}", alerts[1]["id"]), Some(&app.admin)).await;
    assert_eq!(third.body["alerts"], json!([]));
}

#[tokio::test]
async fn carriers_see_their_own_alerts_and_regulators_their_jurisdiction() {
    let app = app();
    load_faults(&app).await;
    let count = |answer: &crate::harness::Answer| answer.body["alerts"].as_array().map_or(0, Vec::len);
    assert_eq!(count(&app.get("/v1/alerts", Some(&app.yto)).await), 2);
    assert_eq!(count(&app.get("/v1/alerts", Some(&app.sf)).await), 0);
    assert_eq!(app.get("/v1/alerts?carrier=yto", Some(&app.sf)).await.code(), "forbidden");
    assert_eq!(count(&app.get("/v1/alerts", Some(&app.jiangsu)).await), 2);
    assert_eq!(count(&app.get("/v1/alerts", Some(&app.zhejiang)).await), 0);
    assert_eq!(app.get("/v1/alerts?area=320000", Some(&app.zhejiang)).await.code(), "forbidden");
}

#[tokio::test]
async fn bad_alert_queries_name_the_parameter_and_value() {
    let app = app();
    let admin = Some(app.admin.as_str());
    for (query, needle) in [
        ("kind=fire", "`fire`"),
        ("status=closed", "`closed`"),
        ("limit=0", "`limit`"),
        ("limit=1001", "`1001`"),
        ("before_id=abc", "`before_id`"),
        ("from=yesterday", "`from`"),
        ("from=2026-11-12&to=2026-11-11", "before it starts"),
    ] {
        let answer = app.get(&format!("/v1/alerts?{query}"), admin).await;
        assert_eq!(answer.code(), "invalid_query", "{query}: {}", answer.body);
        assert!(answer.body["message"].as_str().unwrap().contains(needle), "{query}: {}", answer.body);
    }
}

#[tokio::test]
async fn regulators_acknowledge_and_resolve_alerts_and_every_change_is_audited() {
    let app = app();
    load_faults(&app).await;
    let all = app.get("/v1/alerts?kind=compliance", Some(&app.admin)).await;
    let id = all.body["alerts"][0]["id"].as_i64().unwrap();
    let uri = format!("/v1/alerts/{id}");

    let by_carrier = app.post(&uri, Some(&app.yto), &json!({"status": "acknowledged"})).await;
    assert_eq!((by_carrier.status.as_u16(), by_carrier.code()), (403, "forbidden"), "{}", by_carrier.body);
    let elsewhere = app.post(&uri, Some(&app.zhejiang), &json!({"status": "acknowledged"})).await;
    assert_eq!((elsewhere.status.as_u16(), elsewhere.code()), (404, "alert_not_found"), "{}", elsewhere.body);
    let unknown = app.post("/v1/alerts/999999", Some(&app.admin), &json!({"status": "acknowledged"})).await;
    assert_eq!((unknown.status.as_u16(), unknown.code()), (404, "alert_not_found"));
    let no_note = app.post(&uri, Some(&app.jiangsu), &json!({"status": "resolved"})).await;
    assert_eq!((no_note.status.as_u16(), no_note.code()), (422, "missing_field"), "{}", no_note.body);
    assert!(no_note.body["message"].as_str().unwrap().contains("`note`"));
    let blank_note = app.post(&uri, Some(&app.jiangsu), &json!({"status": "resolved", "note": "  "})).await;
    assert_eq!(blank_note.code(), "missing_field");
    let bad_status = app.post(&uri, Some(&app.jiangsu), &json!({"status": "open"})).await;
    assert_eq!(bad_status.code(), "invalid_field");
    assert!(bad_status.body["message"].as_str().unwrap().contains("`open`"), "{}", bad_status.body);
    assert_eq!(app.post(&uri, Some(&app.jiangsu), &json!({})).await.code(), "missing_field");
    assert_eq!(app.post("/v1/alerts/abc", Some(&app.admin), &json!({})).await.code(), "invalid_path");

    let now = app.state.now();
    let acknowledged = app.post(&uri, Some(&app.jiangsu), &json!({"status": "acknowledged"})).await;
    assert_eq!(acknowledged.status, 200, "{}", acknowledged.body);
    assert_eq!(acknowledged.body["status"], "acknowledged");
    assert_eq!(acknowledged.body["handled_at"], now.to_rfc3339());
    let jiangsu_key = acknowledged.body["handled_by"].as_str().unwrap().to_owned();
    assert!(jiangsu_key.starts_with("key_"));
    let resolved = app.post(&uri, Some(&app.admin), &json!({"status": "resolved", "note": "网点已整改，补验视"})).await;
    assert_eq!(resolved.body["status"], "resolved", "{}", resolved.body);
    assert_eq!(resolved.body["note"], "网点已整改，补验视");
    assert_ne!(resolved.body["handled_by"], jiangsu_key.as_str());
    let listed = app.get("/v1/alerts?status=resolved", Some(&app.yto)).await;
    assert_eq!(listed.body["alerts"][0]["id"], id, "{}", listed.body);

    let audit = app.get("/v1/audit", Some(&app.admin)).await;
    let entries: Vec<(&str, &str)> = audit
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["subject"].as_str().unwrap()))
        .collect();
    let subject = format!("alert/{id}");
    assert_eq!(entries, [("alert_resolved", subject.as_str()), ("alert_acknowledged", subject.as_str())]);
}

/// The scheduled sweep, run on tokio's paused clock while the hub's clock is moved: a parcel that departed and was
/// never scanned again turns stuck once the in-transit limit (48 h) has passed, without any record arriving.
#[tokio::test(start_paused = true)]
async fn the_sweep_raises_a_stuck_alert_when_the_clock_passes_the_limit() {
    let app = app();
    let mut departed = parcel("yto", "YT0000000005");
    departed.truncate(5); // waybill, accept, inspect, security scan, depart
    assert_eq!(departed[4]["kind"], "depart");
    let answer = app.post("/v1/batch", Some(&app.admin), &Value::Array(departed)).await;
    assert_eq!(answer.body["summary"]["accepted"], 5, "{}", answer.body);
    let stuck = || async { app.get("/v1/alerts?kind=stuck", Some(&app.admin)).await.body["alerts"].clone() };
    assert_eq!(stuck().await, json!([]), "a day after departure the parcel is not stuck yet");

    let interval = StdDuration::from_secs(300);
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let sweeper = tokio::spawn(kuaidi_api::sweep::run(app.state.clone(), interval, stopped));
    // Sweeps before the limit change nothing.
    tokio::time::sleep(interval * 3).await;
    assert_eq!(stuck().await, json!([]));

    app.set_now(fixtures::base_time().with_timezone(&Utc) + Duration::hours(60));
    let mut alerts = json!([]);
    for _ in 0..1000 {
        tokio::time::sleep(interval).await;
        alerts = stuck().await;
        if alerts.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
    }
    assert_eq!(alerts.as_array().map(Vec::len), Some(1), "{alerts}");
    assert_eq!(alerts[0]["waybill_no"], "YT0000000005");
    assert_eq!(alerts[0]["reason"], "no_scan_within_limit");
    assert_eq!(alerts[0]["detail"]["limit_hours"], 48, "{}", alerts[0]);
    assert_eq!(alerts[0]["raised_at"], app.state.now().to_rfc3339());

    stop.send(true).unwrap();
    sweeper.await.unwrap();
}
