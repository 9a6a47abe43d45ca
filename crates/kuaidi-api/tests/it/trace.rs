//! Trace details: waybills without events, events without waybills, and lost-then-found parcels.

use serde_json::{json, Value};

use crate::harness::{app, parcel};

#[tokio::test]
async fn a_waybill_alone_is_created_and_events_alone_still_trace() {
    let app = app();
    let records = parcel("yto", "YT0000000001");
    app.post("/v1/waybills", Some(&app.yto), &records[0]).await;
    let created = app.get("/v1/waybills/YT0000000001", Some(&app.yto)).await;
    assert_eq!(created.body["status"], "created");
    assert_eq!(created.body["events"], json!([]));

    let events = parcel("yto", "YT0000000002");
    app.post("/v1/events", Some(&app.yto), &events[1]).await;
    let bare = app.get("/v1/waybills/YT0000000002", Some(&app.yto)).await;
    assert_eq!(bare.body["status"], "accepted");
    assert!(bare.body.get("waybill").is_none());
}

#[tokio::test]
async fn a_parcel_reported_lost_and_then_scanned_is_found() {
    let app = app();
    let mut records = parcel("yto", "YT0000000003");
    let lost = json!({"type": "event", "event_id": "lost-1", "carrier": "yto", "waybill_no": "YT0000000003",
        "kind": "lost", "time": "2026-11-11T10:30:00+08:00", "facility": "YTO-SZ-01", "exception_code": "L01"});
    records.truncate(5); // waybill, accept, inspect, security scan, depart (10:00)
    records.push(lost);
    app.post("/v1/batch", Some(&app.yto), &Value::Array(records)).await;
    assert_eq!(app.get("/v1/waybills/YT0000000003", Some(&app.yto)).await.body["status"], "lost");
    let found = &parcel("yto", "YT0000000003")[5]; // arrive at 13:00
    app.post("/v1/events", Some(&app.yto), found).await;
    assert_eq!(app.get("/v1/waybills/YT0000000003", Some(&app.yto)).await.body["status"], "in_transit");
}
