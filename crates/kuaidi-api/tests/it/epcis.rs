//! EPCIS capture, capture jobs, query with paging, the all-or-nothing and best-effort modes, and RFC 7807 errors.

use axum::body::Body;
use axum::http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{app, TestApp};

fn parcel_event(kind_step: &str, minutes: u32) -> Value {
    json!({
        "type": "ObjectEvent",
        "eventTime": format!("2026-11-11T09:{minutes:02}:00+08:00"),
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "epcList": ["https://kuaidi.example/id/yto/YT0000000777"],
        "bizStep": kind_step,
        "readPoint": {"id": "https://kuaidi.example/facility/YTO-SZ-01"},
        "kd:operator": "C001",
    })
}

fn sensor_event() -> Value {
    json!({
        "type": "ObjectEvent",
        "eventTime": "2026-11-11T08:00:00+08:00",
        "eventTimeZoneOffset": "+08:00",
        "action": "OBSERVE",
        "epcList": ["urn:epc:id:sgtin:0614141.107346.2017"],
        "bizStep": "shipping",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
        "example:temperature": 4.5,
    })
}

fn document(events: Vec<Value>) -> Value {
    json!({
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                     {"kd": "https://kuaidi.example/voc/", "example": "http://ns.example.com/epcis/"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-11T10:00:00Z",
        "epcisBody": {"eventList": events},
    })
}

async fn capture(app: &TestApp, key: &str, body: &Value, behaviour: Option<&str>) -> (StatusCode, Value) {
    let mut request = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/v1/epcis/capture")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {key}"));
    if let Some(behaviour) = behaviour {
        request = request.header("GS1-Capture-Error-Behaviour", behaviour);
    }
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let response = app.router.clone().oneshot(request.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    let status = response.status();
    let location = response.headers().get("location").map(|v| v.to_str().unwrap().to_owned());
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let mut body: Value = serde_json::from_slice(&bytes).unwrap();
    if let Some(location) = location {
        body["location"] = Value::from(location);
    }
    (status, body)
}

#[tokio::test]
async fn capture_keeps_every_event_and_maps_parcel_events() {
    let app = app();
    let body = document(vec![parcel_event("accepting", 0), sensor_event(), parcel_event("departing", 30)]);
    let (status, job) = capture(&app, &app.yto, &body, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["success"], true, "{job}");
    assert_eq!(job["nEvents"], 3);
    let location = job["location"].as_str().unwrap().to_owned();
    let fetched = app.get(&location, Some(&app.yto)).await;
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body["captureID"], job["captureID"]);

    // The parcel events became scan events of the parcel.
    let events = app.state.store().events_of(
        &kuaidi_store::testing::fixtures::carrier_code("yto"),
        &kuaidi_store::testing::fixtures::waybill_no("YT0000000777"),
    );
    let kinds: Vec<_> = events.unwrap().iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["accept", "depart"]);

    // Every event is kept and can be queried; re-sending the document stores nothing twice.
    let (status, _) = capture(&app, &app.yto, &body, None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let all = app.get("/v1/epcis/events", Some(&app.admin)).await;
    assert_eq!(all.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array().unwrap().len(), 3);
    let shipping = app.get("/v1/epcis/events?EQ_bizStep=shipping", Some(&app.admin)).await;
    let found = &shipping.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"];
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(found[0]["example:temperature"], 4.5);
    let by_epc =
        app.get("/v1/epcis/events?MATCH_anyEPC=https://kuaidi.example/id/yto/YT0000000777", Some(&app.admin)).await;
    assert_eq!(by_epc.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array().unwrap().len(), 2);
    let late = app.get("/v1/epcis/events?GE_eventTime=2026-11-11T09:10:00%2B08:00", Some(&app.admin)).await;
    assert_eq!(late.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn query_pages_with_next_page_token() {
    let app = app();
    let events = (0..5).map(|minute| parcel_event("arriving", minute)).collect();
    capture(&app, &app.yto, &document(events), None).await;
    let mut seen = 0;
    let mut uri = "/v1/epcis/events?perPage=2".to_owned();
    for _ in 0..5 {
        let page = app.get(&uri, Some(&app.jiangsu)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen += page.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array().unwrap().len();
        match page.body["nextPageToken"].as_str() {
            Some(token) => uri = format!("/v1/epcis/events?perPage=2&nextPageToken={token}"),
            None => break,
        }
    }
    assert_eq!(seen, 5);
}

#[tokio::test]
async fn rollback_captures_nothing_and_proceed_keeps_the_good_events() {
    let app = app();
    let mut unknown_facility = parcel_event("arriving", 5);
    unknown_facility["readPoint"] = json!({"id": "https://kuaidi.example/facility/NOWHERE"});
    let body = document(vec![parcel_event("accepting", 0), unknown_facility]);
    let (status, problem) = capture(&app, &app.yto, &body, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["type"], "epcisException:ValidationException");
    assert_eq!(problem["code"], "invalid_epcis_document");
    assert!(problem["detail"].as_str().unwrap().contains("NOWHERE"), "{problem}");
    let none = app.get("/v1/epcis/events", Some(&app.admin)).await;
    assert!(none.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array().unwrap().is_empty());

    let (status, job) = capture(&app, &app.yto, &body, Some("proceed")).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(job["success"], false);
    assert_eq!(job["errors"][0]["index"], 1);
    assert_eq!(job["errors"][0]["code"], "unknown_facility");
    let kept = app.get("/v1/epcis/events", Some(&app.admin)).await;
    assert_eq!(kept.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array().unwrap().len(), 1);

    let mut bare = sensor_event();
    bare["bizStep"] = json!("transforming");
    let (status, problem) = capture(&app, &app.yto, &document(vec![bare]), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(problem["detail"].as_str().unwrap().contains("bizStep"), "{problem}");
}

#[tokio::test]
async fn access_and_single_events() {
    let app = app();
    let (status, problem) = capture(&app, &app.jiangsu, &document(vec![sensor_event()]), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(problem["type"], "epcisException:SecurityException");
    assert_eq!(app.get("/v1/epcis/events", Some(&app.yto)).await.status, StatusCode::FORBIDDEN);
    // Another carrier's parcel event is refused by the shared pipeline.
    let (status, problem) = capture(&app, &app.sf, &document(vec![parcel_event("accepting", 0)]), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("carrier"), "{problem}");

    let mut single = parcel_event("accepting", 0);
    single["@context"] = json!(["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"kd": "https://kuaidi.example/voc/"}]);
    let answer = app.post("/v1/epcis/events", Some(&app.yto), &single).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let context = app.get("/v1/epcis/context/kuaidi.jsonld", None).await;
    assert_eq!(context.body["@context"]["kd"], "https://kuaidi.example/voc/");
    let unknown = app.get("/v1/epcis/capture/cap_nope", Some(&app.yto)).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["type"], "epcisException:NoSuchResourceException");
}
