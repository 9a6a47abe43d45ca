//! `GET /v1/compliance` and `GET /v1/compliance/{waybill_no}`: coverage of the three safety systems and one
//! parcel's checks, with the access rules.

use serde_json::Value;

use crate::harness::{app, load_faults};

fn group<'a>(answer: &'a Value, key: &str) -> &'a Value {
    answer["groups"].as_array().unwrap().iter().find(|g| g["key"] == key).unwrap_or(&Value::Null)
}

#[tokio::test]
async fn coverage_counts_the_missing_inspection() {
    let app = app();
    load_faults(&app).await;
    let all = app.get("/v1/compliance", Some(&app.admin)).await;
    assert_eq!(all.status, 200, "{}", all.body);
    assert_eq!(all.body["group"], "all");
    let total = group(&all.body, "all");
    assert_eq!(total["parcels"], 5, "{}", all.body);
    assert_eq!(total["inspection"]["passed"], 4);
    assert_eq!(total["inspection"]["failed"], 1);
    assert_eq!(total["inspection"]["rate"], 0.8);
    assert_eq!(total["real_name"]["passed"], 5);
    assert_eq!(total["security_scan"]["failed"], 0);

    let by_carrier = app.get("/v1/compliance?group=carrier", Some(&app.admin)).await;
    assert_eq!(group(&by_carrier.body, "yto")["inspection"]["failed"], 1, "{}", by_carrier.body);
    assert_eq!(group(&by_carrier.body, "sf")["inspection"]["rate"], 1.0);
    let by_outlet = app.get("/v1/compliance?group=outlet", Some(&app.admin)).await;
    assert_eq!(group(&by_outlet.body, "YTO-SZ-01")["parcels"], 4, "{}", by_outlet.body);
    let by_day = app.get("/v1/compliance?group=day&from=2026-11-11&to=2026-11-11", Some(&app.admin)).await;
    assert_eq!(group(&by_day.body, "2026-11-11")["parcels"], 5, "{}", by_day.body);
    let later = app.get("/v1/compliance?from=2026-11-12", Some(&app.admin)).await;
    assert_eq!(later.body["groups"], serde_json::json!([]), "{}", later.body);

    let bad = app.get("/v1/compliance?group=province", Some(&app.admin)).await;
    assert_eq!(bad.code(), "invalid_query");
    assert!(bad.body["message"].as_str().unwrap().contains("`province`"), "{}", bad.body);
    assert_eq!(app.get("/v1/compliance?area=999999", Some(&app.admin)).await.code(), "invalid_query");
}

#[tokio::test]
async fn coverage_follows_the_access_rules() {
    let app = app();
    load_faults(&app).await;
    let yto = app.get("/v1/compliance?group=carrier", Some(&app.yto)).await;
    let keys: Vec<&str> = yto.body["groups"].as_array().unwrap().iter().map(|g| g["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["yto"], "{}", yto.body);
    assert_eq!(app.get("/v1/compliance?carrier=sf", Some(&app.yto)).await.code(), "forbidden");
    // Accepted in Suzhou: Jiangsu's, not Zhejiang's.
    let jiangsu = app.get("/v1/compliance", Some(&app.jiangsu)).await;
    assert_eq!(group(&jiangsu.body, "all")["parcels"], 5, "{}", jiangsu.body);
    let zhejiang = app.get("/v1/compliance", Some(&app.zhejiang)).await;
    assert_eq!(zhejiang.body["groups"], serde_json::json!([]), "{}", zhejiang.body);
    assert_eq!(app.get("/v1/compliance?area=320500", Some(&app.zhejiang)).await.code(), "forbidden");
}

#[tokio::test]
async fn one_parcels_checks_name_the_reason_and_follow_the_trace_visibility() {
    let app = app();
    load_faults(&app).await;
    let answer = app.get("/v1/compliance/YT0000000002", Some(&app.jiangsu)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let checks = answer.body["checks"].as_array().unwrap();
    let names: Vec<&str> = checks.iter().map(|c| c["check"].as_str().unwrap()).collect();
    assert_eq!(names, ["real_name", "inspection", "security_scan"]);
    assert_eq!(checks[0]["status"], "passed");
    assert_eq!(checks[1]["status"], "failed");
    assert_eq!(checks[1]["reason"], "inspection_missing");
    assert_eq!(checks[2]["status"], "passed");
    assert!(!checks[2]["events"].as_array().unwrap().is_empty(), "{}", answer.body);

    let clean = app.get("/v1/compliance/YT0000000001?carrier=yto", Some(&app.yto)).await;
    assert!(clean.body["checks"].as_array().unwrap().iter().all(|c| c["status"] == "passed"), "{}", clean.body);
    for (key, uri) in [
        (&app.sf, "/v1/compliance/YT0000000002"),
        (&app.zhejiang, "/v1/compliance/YT0000000002"),
        (&app.admin, "/v1/compliance/YT0000000404"),
    ] {
        let hidden = app.get(uri, Some(key)).await;
        assert_eq!((hidden.status.as_u16(), hidden.code()), (404, "waybill_not_found"), "{uri}: {}", hidden.body);
    }
    assert_eq!(app.get("/v1/compliance/not%20a%20number", Some(&app.admin)).await.code(), "invalid_path");
}
