//! A test app on a fresh embedded store with a fixed clock, preloaded reference data and one key per role.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use http_body_util::BodyExt;
use kuaidi_api::{ApiConfig, AppState};
use kuaidi_formats::encode_record;
use kuaidi_model::{AdminCode, Record, Role};
use kuaidi_store::testing::fixtures;
use kuaidi_store::{PiiKey, SqliteConfig, SqliteStore, Store};
use serde_json::Value;
use tower::ServiceExt;

pub struct TestApp {
    pub router: Router,
    pub state: AppState,
    pub admin: String,
    pub yto: String,
    pub sf: String,
    /// Regulator of Jiangsu (320000).
    pub jiangsu: String,
    /// Regulator of Zhejiang (330000): sees none of the fixtures' parcels (Suzhou to Shanghai).
    pub zhejiang: String,
    /// The hub's clock, in unix milliseconds; tests move it with [`TestApp::set_now`].
    pub clock: Arc<AtomicI64>,
    _dir: tempfile::TempDir,
}

pub fn app() -> TestApp {
    app_with(ApiConfig::default())
}

pub fn app_with(config: ApiConfig) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(SqliteStore::open(SqliteConfig::new(dir.path().join("kuaidi.db"), PiiKey::generate())).unwrap());
    store.ingest(&fixtures::reference()).unwrap();
    // The hub's clock: one day after the fixtures' base time, fixed.
    let now = fixtures::base_time().with_timezone(&Utc) + Duration::days(1);
    let clock = Arc::new(AtomicI64::new(now.timestamp_millis()));
    let hands = clock.clone();
    let state = AppState::new(
        store.clone(),
        config,
        Arc::new(move || DateTime::from_timestamp_millis(hands.load(Ordering::SeqCst)).unwrap_or_default()),
    )
    .unwrap();
    let key = |role: Role| {
        let (secret, key) = kuaidi_api::auth::generate_key(role, "test", now);
        store.create_key(&key).unwrap();
        secret
    };
    let code = |s: &str| AdminCode::parse(s).unwrap();
    TestApp {
        router: kuaidi_api::app(state.clone()),
        admin: key(Role::Admin),
        yto: key(Role::Carrier { carrier: fixtures::carrier_code("yto") }),
        sf: key(Role::Carrier { carrier: fixtures::carrier_code("sf") }),
        jiangsu: key(Role::Regulator { jurisdiction: vec![code("320000")] }),
        zhejiang: key(Role::Regulator { jurisdiction: vec![code("330000")] }),
        clock,
        state,
        _dir: dir,
    }
}

pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl Answer {
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    pub async fn send(&self, method: Method, uri: &str, key: Option<&str>, content_type: &str, body: Body) -> Answer {
        let mut request = Request::builder().method(method).uri(uri).header("content-type", content_type);
        if let Some(key) = key {
            request = request.header("authorization", format!("Bearer {key}"));
        }
        let response = self.router.clone().oneshot(request.body(body).unwrap()).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body =
            serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Answer { status, body }
    }

    pub async fn get(&self, uri: &str, key: Option<&str>) -> Answer {
        self.send(Method::GET, uri, key, "application/json", Body::empty()).await
    }

    pub async fn post(&self, uri: &str, key: Option<&str>, body: &Value) -> Answer {
        self.send(Method::POST, uri, key, "application/json", Body::from(body.to_string())).await
    }

    pub async fn ndjson(&self, key: Option<&str>, lines: &[String]) -> Answer {
        self.ndjson_to("/v1/ingest", key, lines).await
    }

    /// Streams lines to `uri` (`/v1/ingest` with a query).
    pub async fn ndjson_to(&self, uri: &str, key: Option<&str>, lines: &[String]) -> Answer {
        let body = lines.join("\n");
        self.send(Method::POST, uri, key, "application/x-ndjson", Body::from(body)).await
    }
}

/// A record as its wire JSON.
pub fn json(record: &Record) -> Value {
    serde_json::to_value(encode_record(record)).unwrap()
}

/// A waybill and its full chain, as wire JSON, in order.
pub fn parcel(carrier: &str, no: &str) -> Vec<Value> {
    let mut out = vec![json(&Record::Waybill(Box::new(fixtures::waybill(carrier, no))))];
    out.extend(fixtures::chain(carrier, no).into_iter().map(|e| json(&Record::Event(Box::new(e)))));
    out
}

impl TestApp {
    /// A test app over an existing state, with only an admin key.
    pub fn over(state: AppState, admin: String, dir: tempfile::TempDir) -> TestApp {
        TestApp {
            router: kuaidi_api::app(state.clone()),
            state,
            admin,
            yto: String::new(),
            sf: String::new(),
            jiangsu: String::new(),
            zhejiang: String::new(),
            clock: Arc::new(AtomicI64::new(Utc::now().timestamp_millis())),
            _dir: dir,
        }
    }
}

impl TestApp {
    /// Sets the hub's clock.
    pub fn set_now(&self, now: DateTime<Utc>) {
        self.clock.store(now.timestamp_millis(), Ordering::SeqCst);
    }

    /// A new key of `role`, stored.
    pub fn key(&self, role: Role) -> String {
        let (secret, key) = kuaidi_api::auth::generate_key(role, "test", self.state.now());
        self.state.store().create_key(&key).unwrap();
        secret
    }
}

/// Parcels with faults, for the supervision routes, all from Suzhou to Shanghai (a 12-hour pair):
/// `YT0000000001` clean; `YT0000000002` departs without an inspection; `YT0000000003` declares fireworks;
/// `YT0000000004` is delivered 13 h 20 min after acceptance, and a valid complaint about it is filed by the Jiangsu
/// regulator through `/v1/batch`; `SF0000000001` clean.
pub async fn load_faults(app: &TestApp) {
    let mut records = parcel("yto", "YT0000000001");
    let mut uninspected = parcel("yto", "YT0000000002");
    uninspected.retain(|record| record["kind"] != "inspect");
    records.extend(uninspected);
    let mut fireworks = parcel("yto", "YT0000000003");
    fireworks[0]["contents"]["description"] = Value::from("过年的鞭炮两盒");
    records.extend(fireworks);
    let mut late = parcel("yto", "YT0000000004");
    let base = fixtures::base_time();
    for record in late.iter_mut().skip(1) {
        if matches!(record["kind"].as_str(), Some("arrive" | "out_for_delivery" | "delivered")) {
            let time = DateTime::parse_from_rfc3339(record["time"].as_str().unwrap()).unwrap();
            record["time"] = Value::from((time + Duration::minutes(440)).to_rfc3339());
        }
    }
    assert!(late.iter().any(|r| r["time"].as_str().is_some_and(|t| t.starts_with("2026-11-11T22:20"))), "{late:?}");
    records.extend(late);
    records.extend(parcel("sf", "SF0000000001"));
    let answer = app.post("/v1/batch", Some(&app.admin), &Value::Array(records)).await;
    assert_eq!(answer.body["summary"]["rejected"], 0, "{}", answer.body);
    let complaint = serde_json::json!({
        "type": "complaint", "complaint_id": "12305-9", "carrier": "yto", "waybill_no": "YT0000000004",
        "filed_at": (base + Duration::hours(20)).to_rfc3339(), "category": "delay", "description": "晚到了", "verdict": "valid",
    });
    let filed = app.post("/v1/batch", Some(&app.jiangsu), &Value::Array(vec![complaint])).await;
    assert_eq!(filed.body["items"][0]["status"], "accepted", "{}", filed.body);
}
