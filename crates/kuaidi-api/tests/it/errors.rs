//! Every error code, triggered for real and its body snapshotted; the snapshots are the error contract.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::Method;
use kuaidi_api::{ApiConfig, ApiError, Code};
use serde_json::{json, Value};

use crate::harness::{app, app_with, parcel, Answer};

/// Replaces random key ids (`key_` and 12 hex digits) so snapshots are stable.
fn redact(value: &Value) -> Value {
    let text = value.to_string();
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(pos) = rest.find("key_") {
        out.push_str(&rest[..pos]);
        let tail = &rest[pos + 4..];
        let n_hex = tail.chars().take_while(char::is_ascii_hexdigit).count();
        if n_hex == 12 {
            out.push_str("key_[id]");
            rest = &tail[12..];
        } else {
            out.push_str("key_");
            rest = tail;
        }
    }
    out.push_str(rest);
    serde_json::from_str(&out).unwrap_or(Value::Null)
}

#[tokio::test]
async fn every_error_code_is_answered_in_the_one_shape() {
    let mut seen: BTreeMap<&'static str, Answer> = BTreeMap::new();
    let mut record = |expected: Code, answer: Answer| {
        assert_eq!(answer.code(), expected.name(), "{}", answer.body);
        assert_eq!(answer.status, expected.status(), "{}", answer.body);
        seen.insert(expected.name(), answer);
    };
    let app = app();
    let yto = Some(app.yto.as_str());
    let event = parcel("yto", "YT0000000001")[1].clone();
    let with = |field: &str, value: Value| {
        let mut e = event.clone();
        if value.is_null() {
            e.as_object_mut().unwrap().remove(field);
        } else {
            e[field] = value;
        }
        e
    };

    record(Code::InvalidJson, app.send(Method::POST, "/v1/events", yto, "application/json", Body::from("{nope")).await);
    record(Code::InvalidQuery, app.get("/v1/operators/C001/parcels?from=yesterday&to=today", yto).await);
    record(Code::InvalidPath, app.get("/v1/waybills/not%20a%20number", yto).await);
    record(Code::MissingField, app.post("/v1/events", yto, &with("facility", Value::Null)).await);
    record(Code::InvalidField, app.post("/v1/events", yto, &with("kind", json!("teleport"))).await);
    record(Code::UnknownCarrier, {
        let mut e = with("carrier", json!("zto"));
        e["facility"] = json!("LOCKER-SH-1");
        app.post("/v1/events", Some(&app.admin), &e).await
    });
    record(Code::UnknownFacility, app.post("/v1/events", yto, &with("facility", json!("NOWHERE"))).await);
    record(Code::UnknownDivision, {
        let mut waybill = parcel("yto", "YT0000000007")[0].clone();
        waybill["sender"]["division"] = json!("320599");
        app.post("/v1/waybills", yto, &waybill).await
    });
    record(Code::TimeInFuture, app.post("/v1/events", yto, &with("time", json!("2030-01-01T00:00:00+08:00"))).await);
    record(Code::CarrierMismatch, app.post("/v1/events", Some(&app.sf), &event).await);
    assert_eq!(app.post("/v1/events", yto, &event).await.status, 201);
    record(Code::EventConflict, app.post("/v1/events", yto, &with("operator", json!("C999"))).await);
    let waybill = parcel("yto", "YT0000000001")[0].clone();
    assert_eq!(app.post("/v1/waybills", yto, &waybill).await.status, 201);
    record(Code::WaybillConflict, {
        let mut changed = waybill.clone();
        changed["product"] = json!("express");
        app.post("/v1/waybills", yto, &changed).await
    });
    record(Code::UnsupportedMediaType, app.send(Method::POST, "/v1/ingest", yto, "text/csv", Body::from("a,b")).await);
    record(Code::WaybillNotFound, app.get("/v1/waybills/YT0000000404", yto).await);
    record(Code::WaybillAmbiguous, {
        app.post("/v1/events", Some(&app.sf), &parcel("sf", "YT0000000001")[1]).await;
        app.get("/v1/waybills/YT0000000001", Some(&app.admin)).await
    });
    record(Code::TrackingNotFound, app.get("/v1/track/YT0000000001?phone_last4=0000", None).await);
    record(Code::RouteNotFound, app.get("/v1/parcels", yto).await);
    record(
        Code::MethodNotAllowed,
        app.send(Method::DELETE, "/v1/events", yto, "application/json", Body::empty()).await,
    );
    record(Code::MissingApiKey, app.get("/v1/me", None).await);
    record(Code::InvalidApiKey, app.get("/v1/me", Some("kd_not-a-real-key")).await);
    record(Code::Forbidden, app.get("/v1/audit", yto).await);
    record(Code::InvalidEpcis, app.post("/v1/epcis/capture", yto, &json!({"type": "EPCISDocument"})).await);
    record(Code::CaptureJobNotFound, app.get("/v1/epcis/capture/cap_0000000000000000", yto).await);
    record(Code::AlertNotFound, app.post("/v1/alerts/404", Some(&app.admin), &json!({"status": "acknowledged"})).await);
    record(Code::RegionRequired, {
        let code = |s: &str| kuaidi_model::AdminCode::parse(s).unwrap();
        let delta = app.key(kuaidi_model::Role::Regulator { jurisdiction: vec![code("320000"), code("330000")] });
        let answer = app.get("/v1/indicators", Some(&delta)).await;
        // The key id is random; keep the snapshot stable.
        let message = answer.body["message"].as_str().unwrap_or("").to_owned();
        assert!(message.contains("`320000`, `330000`"), "{message}");
        answer
    });

    let small =
        app_with(ApiConfig { max_body_bytes: 256, max_batch_records: 2, track_per_minute: 1, ..ApiConfig::default() });
    let small_yto = Some(small.yto.as_str());
    record(Code::PayloadTooLarge, small.post("/v1/waybills", small_yto, &waybill).await);
    record(Code::BatchTooLarge, small.post("/v1/batch", small_yto, &json!([1, 2, 3])).await);
    small.get("/v1/track/YT0000000001?phone_last4=1234", None).await;
    record(Code::RateLimited, small.get("/v1/track/YT0000000001?phone_last4=1234", None).await);

    // A store whose personal-data key does not match: a real internal failure, answered without its cause.
    record(Code::Internal, internal_failure().await);

    // The database being unreachable cannot be staged in process; the mapping from the store's error kind is
    // checked directly instead.
    let unavailable =
        ApiError::from(kuaidi_store::StoreError::new(kuaidi_store::ErrorKind::Unavailable, "database is locked"));
    let body = serde_json::to_value(unavailable.body()).unwrap();
    seen.insert("unavailable", Answer { status: Code::Unavailable.status(), body });

    for code in Code::ALL {
        let answer = seen.get(code.name()).unwrap_or_else(|| panic!("no test triggers `{}`", code.name()));
        let keys: Vec<&String> = answer.body.as_object().unwrap().keys().collect();
        if answer.body["type"].as_str().is_some_and(|t| t.starts_with("epcisException:")) {
            // EPCIS routes answer RFC 7807 problems, as the GS1 REST bindings require, with the usual fields inside.
            assert_eq!(keys, ["code", "detail", "link", "message", "status", "title", "type"], "{}", answer.body);
        } else {
            assert_eq!(keys, ["code", "link", "message", "type"], "{}", answer.body);
        }
        insta::assert_json_snapshot!(format!("error_{}", code.name()), redact(&answer.body));
    }
}

async fn internal_failure() -> Answer {
    use std::sync::Arc;

    use kuaidi_model::{Record, Role};
    use kuaidi_store::testing::fixtures;
    use kuaidi_store::{PiiKey, SqliteConfig, SqliteStore, Store};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuaidi.db");
    let writer = SqliteStore::open(SqliteConfig::new(&path, PiiKey::generate())).unwrap();
    writer.ingest(&fixtures::reference()).unwrap();
    writer.ingest(&[Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000001")))]).unwrap();
    // Closed cleanly, so that opening with another key re-derives nothing (which would need the right key).
    drop(writer);
    let reader = Arc::new(SqliteStore::open(SqliteConfig::new(&path, PiiKey::generate())).unwrap());
    let (secret, key) = kuaidi_api::auth::generate_key(Role::Admin, "t", chrono::Utc::now());
    reader.create_key(&key).unwrap();
    let state = kuaidi_api::AppState::new(reader, ApiConfig::default(), Arc::new(chrono::Utc::now)).unwrap();
    let harness = crate::harness::TestApp::over(state, secret, dir);
    let answer = harness.get("/v1/waybills/YT0000000001", Some(&harness.admin)).await;
    assert!(!answer.body.to_string().contains("PII"), "the cause must stay in the log: {}", answer.body);
    answer
}
