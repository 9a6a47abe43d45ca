//! A test app on a fresh embedded store with a fixed clock, preloaded reference data and one key per role.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::Router;
use chrono::{Duration, Utc};
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
    let state = AppState::new(store.clone(), config, Arc::new(move || now)).unwrap();
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
        let body = lines.join("\n");
        self.send(Method::POST, "/v1/ingest", key, "application/x-ndjson", Body::from(body)).await
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
            _dir: dir,
        }
    }
}
