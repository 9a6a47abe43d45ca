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

/// A parcel event re-sent under the same `kd:eventId` with other content is a conflict: best effort keeps the rest
/// and names it in the job; all or nothing stores none of the document.
#[tokio::test]
async fn a_conflicting_scan_event_is_named_and_its_epcis_event_not_kept() {
    let app = app();
    let mut first = parcel_event("accepting", 0);
    first["kd:eventId"] = json!("E-CONFLICT-1");
    let (status, job) = capture(&app, &app.yto, &document(vec![first.clone()]), None).await;
    assert_eq!((status, &job["success"]), (StatusCode::ACCEPTED, &json!(true)), "{job}");

    let mut changed = first.clone();
    changed["kd:operator"] = json!("C999");
    let body = document(vec![sensor_event(), changed, parcel_event("departing", 30)]);
    let (status, job) = capture(&app, &app.yto, &body, Some("proceed")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["success"], false, "{job}");
    assert_eq!(job["errors"].as_array().unwrap().len(), 1, "{job}");
    assert_eq!(job["errors"][0]["index"], 1, "{job}");
    assert_eq!(job["errors"][0]["code"], "event_conflict", "{job}");
    assert_eq!(job["errors"][0]["field"], "event_id", "{job}");
    // The job as stored says the same as the answer.
    let stored = app.get(job["location"].as_str().unwrap(), Some(&app.yto)).await;
    assert_eq!(stored.body["errors"], job["errors"]);
    assert_eq!(stored.body["success"], false);
    // Kept: the first capture's event, the sensor event and the departure; not the changed one.
    let all = app.get("/v1/epcis/events", Some(&app.admin)).await;
    let list = all.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array().unwrap().clone();
    assert_eq!(list.len(), 3, "{list:?}");
    assert!(!list.iter().any(|event| event["kd:operator"] == "C999"), "{list:?}");
    let events = app.state.store().events_of(
        &kuaidi_store::testing::fixtures::carrier_code("yto"),
        &kuaidi_store::testing::fixtures::waybill_no("YT0000000777"),
    );
    let operators: Vec<_> = events.unwrap().iter().map(|e| e.operator.clone().unwrap_or_default()).collect();
    assert_eq!(operators, ["C001", "C001"], "the stored scan event is kept");
}

/// A document large enough to be checked on several threads answers each bad event at its own position, in order.
#[tokio::test]
async fn a_large_document_names_each_bad_event_at_its_position() {
    let app = app();
    let bad_at = [3_usize, 130, 299];
    let events: Vec<Value> = (0..300)
        .map(|idx| {
            let mut event = parcel_event("arriving", (idx % 60) as u32);
            event["kd:eventId"] = json!(format!("E-LARGE-{idx:04}"));
            if bad_at.contains(&idx) {
                event["readPoint"] = json!({"id": format!("https://kuaidi.example/facility/NOWHERE-{idx}")});
            }
            event
        })
        .collect();
    let body = document(events);
    let (status, problem) = capture(&app, &app.yto, &body, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    let detail = problem["detail"].as_str().unwrap();
    let positions: Vec<usize> = bad_at.iter().map(|idx| detail.find(&format!("event {idx}:")).unwrap()).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "in document order: {detail}");
    assert!(detail.contains("NOWHERE-130"), "{detail}");

    let (status, job) = capture(&app, &app.yto, &body, Some("proceed")).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let indices: Vec<u64> = job["errors"].as_array().unwrap().iter().map(|e| e["index"].as_u64().unwrap()).collect();
    assert_eq!(indices, [3, 130, 299], "{job}");
    let all = app.get("/v1/epcis/events?perPage=1000", Some(&app.admin)).await;
    assert_eq!(all.body["epcisBody"]["queryResults"]["resultsBody"]["eventList"].as_array().unwrap().len(), 297);
}

/// The body must be JSON, sent as JSON: a clear EPCIS problem otherwise.
#[tokio::test]
async fn a_body_that_is_not_json_is_a_validation_problem() {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let app = app();
    let send = |content_type: &'static str, body: &'static str| {
        let request = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/v1/epcis/capture")
            .header("content-type", content_type)
            .header("authorization", format!("Bearer {}", app.yto))
            .body(Body::from(body))
            .unwrap();
        let router = app.router.clone();
        async move {
            let response = router.oneshot(request).await.unwrap();
            let status = response.status();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }
    };
    let (status, problem) = send("application/ld+json", "{\"type\": ").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["type"], "epcisException:ValidationException");
    assert_eq!(problem["code"], "invalid_json");
    assert!(problem["detail"].as_str().unwrap().contains("line 1"), "{problem}");
    let (status, problem) = send("text/plain", "{}").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{problem}");
    assert_eq!(problem["code"], "unsupported_media_type");
}
