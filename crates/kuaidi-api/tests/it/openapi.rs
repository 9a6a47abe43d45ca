//! The OpenAPI document: version 3.1, every route in it, and every path in it routed.

use axum::http::Method;

use crate::harness::app;

/// Every endpoint the API has; a new route must be added here and to the document alike.
const ENDPOINTS: &[(&str, &str)] = &[
    ("post", "/v1/events"),
    ("post", "/v1/waybills"),
    ("get", "/v1/waybills/{waybill_no}"),
    ("post", "/v1/batch"),
    ("post", "/v1/ingest"),
    ("get", "/v1/operators/{operator}/parcels"),
    ("get", "/v1/vehicles/{vehicle}/parcels"),
    ("get", "/v1/track/{waybill_no}"),
    ("get", "/v1/carriers"),
    ("get", "/v1/facilities"),
    ("get", "/v1/me"),
    ("get", "/v1/audit"),
    ("get", "/v1/health"),
    ("post", "/v1/epcis/capture"),
    ("get", "/v1/epcis/capture/{capture_id}"),
    ("post", "/v1/epcis/events"),
    ("get", "/v1/epcis/events"),
    ("get", "/v1/epcis/context/kuaidi.jsonld"),
];

#[tokio::test]
async fn the_document_describes_every_route() {
    let app = app();
    let doc = app.get("/v1/openapi.json", None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc.body["openapi"]);
    let paths = doc.body["paths"].as_object().unwrap();
    let mut documented: Vec<(String, String)> = paths
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |method| (method.clone(), path.clone())))
        .collect();
    documented.sort();
    let mut expected: Vec<(String, String)> = ENDPOINTS.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
    expected.sort();
    assert_eq!(documented, expected);

    // And every documented path is routed: none answers `route_not_found` or `method_not_allowed`.
    for (method, path) in ENDPOINTS {
        let uri = path.replace("{waybill_no}", "YT0000000001").replace("{operator}", "C001").replace("{vehicle}", "V1");
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let answer = app.send(method, &uri, Some(&app.admin), "application/json", axum::body::Body::from("{}")).await;
        assert!(!matches!(answer.code(), "route_not_found" | "method_not_allowed"), "{uri}: {}", answer.body);
    }
}
