//! `GET /v1/indicators`: figures from parcels with faults, the report against the targets, access rules and bad
//! parameters.

use kuaidi_model::{AdminCode, Role};
use serde_json::Value;

use crate::harness::{app, load_faults};

fn row<'a>(group: &'a Value, indicator: &str) -> &'a Value {
    group["report"]["rows"].as_array().unwrap().iter().find(|row| row["indicator"] == indicator).unwrap()
}

#[tokio::test]
async fn indicators_count_the_delay_and_the_complaint_and_judge_them_against_the_targets() {
    let app = app();
    load_faults(&app).await;
    let answer = app.get("/v1/indicators?group_by=carrier", Some(&app.admin)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["group_by"], serde_json::json!(["carrier"]));
    let groups = answer.body["groups"].as_array().unwrap();
    let keys: Vec<&str> = groups.iter().map(|g| g["key"]["carrier"].as_str().unwrap()).collect();
    assert_eq!(keys, ["sf", "yto"]);
    let (sf, yto) = (&groups[0], &groups[1]);
    assert_eq!(yto["indicators"]["parcels"], 4);
    // Four parcels judged, one of them (YT0000000004, 13 h 20 min for a 12-hour pair) late.
    assert_eq!(yto["indicators"]["delay_rate"]["numerator"], 1, "{}", yto["indicators"]);
    assert_eq!(yto["indicators"]["delay_rate"]["denominator"], 4);
    assert_eq!(yto["indicators"]["delay_rate"]["value"], 250.0);
    assert_eq!(yto["indicators"]["valid_complaint_rate"]["numerator"], 1);
    assert_eq!(row(yto, "delay_rate")["status"], "not_met");
    assert_eq!(row(yto, "valid_complaint_rate")["status"], "not_met");
    assert_eq!(row(yto, "loss_rate")["status"], "met");
    assert_eq!(row(yto, "e_waybill_share")["status"], "met");
    // Nothing went to a locker: the share is 0 of 4, not met.
    assert_eq!(row(yto, "locker_share")["status"], "not_met");
    assert_eq!(row(sf, "delay_rate")["status"], "met");
    assert_eq!(sf["indicators"]["parcels"], 1);
    // Mean delivery time of yto: three parcels of 6 h and one of 13 h 20 min.
    let mean = yto["indicators"]["mean_delivery_hours"].as_f64().unwrap();
    assert!((mean - (6.0 * 3.0 + 13.0 + 1.0 / 3.0) / 4.0).abs() < 1e-9, "{mean}");
    assert!(yto["indicators"]["p90_delivery"]["lower_hours"].as_f64().unwrap() <= 13.34);

    // Without grouping there is one total group, even of nothing: a day range that holds no accept day answers
    // zero parcels and no data; one that does answers all five parcels.
    let empty = app.get("/v1/indicators?from=2026-11-12&to=2026-11-13", Some(&app.admin)).await;
    assert_eq!(empty.body["groups"][0]["indicators"]["parcels"], 0, "{}", empty.body);
    assert_eq!(row(&empty.body["groups"][0], "delay_rate")["status"], "no_data");
    let empty_by_carrier = app.get("/v1/indicators?from=2026-11-12&group_by=carrier", Some(&app.admin)).await;
    assert_eq!(empty_by_carrier.body["groups"], serde_json::json!([]), "{}", empty_by_carrier.body);
    let day = app.get("/v1/indicators?from=2026-11-11&to=2026-11-11&group_by=day,origin_city", Some(&app.admin)).await;
    assert_eq!(day.body["groups"][0]["key"]["day"], "2026-11-11", "{}", day.body);
    assert_eq!(day.body["groups"][0]["key"]["origin"], "320500");
    assert_eq!(day.body["groups"][0]["indicators"]["parcels"], 5);
    let to_shanghai = app.get("/v1/indicators?destination=310000&origin=320500", Some(&app.admin)).await;
    assert_eq!(to_shanghai.body["groups"][0]["indicators"]["parcels"], 5, "{}", to_shanghai.body);
    let to_hangzhou = app.get("/v1/indicators?destination=330100", Some(&app.admin)).await;
    assert_eq!(to_hangzhou.body["groups"][0]["indicators"]["parcels"], 0, "{}", to_hangzhou.body);
}

#[tokio::test]
async fn carriers_see_their_own_figures_and_regulators_their_jurisdiction() {
    let app = app();
    load_faults(&app).await;
    let own = app.get("/v1/indicators?group_by=carrier", Some(&app.yto)).await;
    assert_eq!(own.body["filter"]["carrier"], "yto");
    let groups = own.body["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{}", own.body);
    assert_eq!(groups[0]["key"]["carrier"], "yto");
    let other = app.get("/v1/indicators?carrier=sf", Some(&app.yto)).await;
    assert_eq!((other.status.as_u16(), other.code()), (403, "forbidden"), "{}", other.body);

    let jiangsu = app.get("/v1/indicators", Some(&app.jiangsu)).await;
    assert_eq!(jiangsu.body["filter"]["region"], "320000");
    assert_eq!(jiangsu.body["groups"][0]["indicators"]["parcels"], 5, "{}", jiangsu.body);
    let zhejiang = app.get("/v1/indicators", Some(&app.zhejiang)).await;
    assert_eq!(zhejiang.body["filter"]["region"], "330000");
    assert_eq!(zhejiang.body["groups"][0]["indicators"]["parcels"], 0, "{}", zhejiang.body);
    let outside = app.get("/v1/indicators?region=320000", Some(&app.zhejiang)).await;
    assert_eq!((outside.status.as_u16(), outside.code()), (403, "forbidden"));
    assert!(outside.body["message"].as_str().unwrap().contains("`320000`"), "{}", outside.body);

    let code = |s: &str| AdminCode::parse(s).unwrap();
    let delta = app.key(Role::Regulator { jurisdiction: vec![code("320000"), code("310000")] });
    let unnamed = app.get("/v1/indicators", Some(&delta)).await;
    assert_eq!((unnamed.status.as_u16(), unnamed.code()), (400, "region_required"), "{}", unnamed.body);
    let county = app.key(Role::Regulator { jurisdiction: vec![code("320505")] });
    let refused = app.get("/v1/indicators", Some(&county)).await;
    assert_eq!((refused.status.as_u16(), refused.code()), (403, "forbidden"), "{}", refused.body);
    assert!(refused.body["message"].as_str().unwrap().contains("`320500`"), "{}", refused.body);
    let named = app.get("/v1/indicators?region=310000", Some(&delta)).await;
    assert_eq!(named.body["groups"][0]["indicators"]["parcels"], 5, "{}", named.body);
}

#[tokio::test]
async fn bad_parameters_name_the_parameter_and_value() {
    let app = app();
    let admin = Some(app.admin.as_str());
    for (query, code, needle) in [
        ("group_by=carrier,weather", "invalid_query", "`weather`"),
        ("group_by=origin_city,origin_province", "invalid_query", "`origin_province`"),
        ("group_by=day,day", "invalid_query", "`group_by`"),
        ("from=11/11/2026", "invalid_query", "`from`"),
        ("from=2026-11-12&to=2026-11-11", "invalid_query", "before it starts"),
        ("region=32", "invalid_query", "`region`"),
        ("origin=320599", "unknown_division", "`320599`"),
        ("region=320505", "invalid_query", "`320500`"),
        ("carrier=Not%20One", "invalid_query", "`carrier`"),
    ] {
        let answer = app.get(&format!("/v1/indicators?{query}"), admin).await;
        assert_eq!(answer.code(), code, "{query}: {}", answer.body);
        assert!(answer.body["message"].as_str().unwrap().contains(needle), "{query}: {}", answer.body);
    }
    assert_eq!(app.get("/v1/indicators", None).await.code(), "missing_api_key");
}
