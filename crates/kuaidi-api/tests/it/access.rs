//! Access control: carriers see and write only their own data, regulators only their jurisdiction, and revealing
//! personal data is limited and audited.

use serde_json::Value;

use crate::harness::{app, parcel, TestApp};

async fn load(app: &TestApp) {
    for (carrier, no) in [("yto", "YT0000000001"), ("sf", "SF0000000001")] {
        let answer = app.post("/v1/batch", Some(&app.admin), &Value::Array(parcel(carrier, no))).await;
        assert_eq!(answer.body["summary"]["accepted"], 8, "{}", answer.body);
    }
}

#[tokio::test]
async fn a_carrier_key_cannot_read_or_write_another_carriers_parcels() {
    let app = app();
    load(&app).await;
    assert_eq!(app.get("/v1/waybills/YT0000000001", Some(&app.yto)).await.status, 200);
    let other = app.get("/v1/waybills/SF0000000001", Some(&app.yto)).await;
    assert_eq!((other.status.as_u16(), other.code()), (404, "waybill_not_found"));
    // Naming the other carrier explicitly does not help.
    let explicit = app.get("/v1/waybills/SF0000000001?carrier=sf", Some(&app.yto)).await;
    assert_eq!(explicit.code(), "waybill_not_found");

    let sf_event = &parcel("sf", "SF0000000002")[1];
    let write = app.post("/v1/events", Some(&app.yto), sf_event).await;
    assert_eq!((write.status.as_u16(), write.code()), (403, "carrier_mismatch"), "{}", write.body);

    // Its own event at another carrier's facility is refused too.
    let mut borrowed = parcel("yto", "YT0000000005")[1].clone();
    borrowed["facility"] = Value::from("SF-SZ-01");
    assert_eq!(app.post("/v1/events", Some(&app.yto), &borrowed).await.code(), "carrier_mismatch");

    let facilities = app.get("/v1/facilities", Some(&app.yto)).await;
    let codes: Vec<&str> = facilities.body.as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap()).collect();
    assert_eq!(codes, ["LOCKER-SH-1", "YTO-SH-SC", "YTO-SZ-01"]);
}

#[tokio::test]
async fn a_regulator_sees_only_its_jurisdiction_and_cannot_write() {
    let app = app();
    load(&app).await;
    // The fixtures go from Suzhou (Jiangsu) to Shanghai: Jiangsu sees them, Zhejiang does not.
    assert_eq!(app.get("/v1/waybills/YT0000000001", Some(&app.jiangsu)).await.status, 200);
    assert_eq!(app.get("/v1/waybills/SF0000000001", Some(&app.jiangsu)).await.status, 200);
    assert_eq!(app.get("/v1/waybills/YT0000000001", Some(&app.zhejiang)).await.code(), "waybill_not_found");
    let range = "from=2026-11-11T00:00:00%2B08:00&to=2026-11-12T00:00:00%2B08:00";
    let seen = app.get(&format!("/v1/operators/C001/parcels?{range}"), Some(&app.zhejiang)).await;
    assert_eq!(seen.body["parcels"].as_array().unwrap().len(), 0, "{}", seen.body);
    let write = app.post("/v1/events", Some(&app.jiangsu), &parcel("yto", "YT0000000009")[1]).await;
    assert_eq!(write.code(), "carrier_mismatch");
}

#[tokio::test]
async fn personal_data_is_masked_unless_revealed_and_every_reveal_is_audited() {
    let app = app();
    load(&app).await;
    let masked = app.get("/v1/waybills/YT0000000001", Some(&app.admin)).await;
    assert_eq!(masked.body["personal_data"], "masked");
    let receiver = &masked.body["waybill"]["receiver"];
    assert_eq!(receiver["name"], "李*");
    assert_eq!(receiver["phone"], "139****5678");
    assert_eq!(receiver["address"], "上海市黄浦区");
    assert_eq!(masked.body["waybill"]["real_name"]["id_number"], "1****************X");
    let text = masked.body.to_string();
    for secret in ["李四", "13900135678", "南京东路", "11010519491231002X", "张三"] {
        assert!(!text.contains(secret), "{secret} leaked in {text}");
    }

    let carrier_reveal = app.get("/v1/waybills/YT0000000001?reveal=true", Some(&app.yto)).await;
    assert_eq!((carrier_reveal.status.as_u16(), carrier_reveal.code()), (403, "forbidden"));

    let revealed = app.get("/v1/waybills/YT0000000001?reveal=true", Some(&app.jiangsu)).await;
    assert_eq!(revealed.body["personal_data"], "revealed");
    assert_eq!(revealed.body["waybill"]["receiver"]["name"], "李四");
    assert_eq!(revealed.body["waybill"]["receiver"]["address"], "上海市黄浦区南京东路 100 号 2 室");

    let audit = app.get("/v1/audit", Some(&app.admin)).await;
    let entries = audit.body.as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", audit.body);
    assert_eq!(entries[0]["subject"], "yto/YT0000000001");
    assert_eq!(entries[0]["action"], "reveal_personal_data");
    assert_eq!(app.get("/v1/audit", Some(&app.jiangsu)).await.code(), "forbidden");
}

#[tokio::test]
async fn reverse_trace_finds_what_a_vehicle_carried() {
    let app = app();
    load(&app).await;
    let range = "from=2026-11-11T00:00:00%2B08:00&to=2026-11-12T00:00:00%2B08:00";
    let answer = app.get(&format!("/v1/vehicles/%E6%B2%AAA12345/parcels?{range}"), Some(&app.admin)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let parcels = answer.body["parcels"].as_array().unwrap();
    assert_eq!(parcels.len(), 2);
    assert_eq!(parcels[0]["events"][0]["kind"], "depart");
    let yto_only = app.get(&format!("/v1/vehicles/%E6%B2%AAA12345/parcels?{range}"), Some(&app.yto)).await;
    assert_eq!(yto_only.body["parcels"].as_array().unwrap().len(), 1);
    let by_operator = app.get(&format!("/v1/operators/C001/parcels?{range}&limit=3"), Some(&app.admin)).await;
    assert_eq!(by_operator.body["truncated"], true);
    let me = app.get("/v1/me", Some(&app.jiangsu)).await;
    assert_eq!(me.body["role"], "regulator");
    assert_eq!(me.body["jurisdiction"][0], "320000");
}

#[tokio::test]
async fn complaints_are_filed_by_regulators_and_the_administrator_never_by_carriers() {
    let app = app();
    load(&app).await;
    let complaint = serde_json::json!({
        "type": "complaint", "complaint_id": "12305-1", "carrier": "yto", "waybill_no": "YT0000000001",
        "filed_at": "2026-11-11T10:00:00+08:00", "category": "delay", "description": "还没到", "verdict": "pending",
    });
    let by_carrier = app.post("/v1/batch", Some(&app.yto), &Value::Array(vec![complaint.clone()])).await;
    assert_eq!(by_carrier.body["items"][0]["code"], "carrier_mismatch", "{}", by_carrier.body);
    let by_regulator = app.post("/v1/batch", Some(&app.jiangsu), &Value::Array(vec![complaint.clone()])).await;
    assert_eq!(by_regulator.body["items"][0]["status"], "accepted", "{}", by_regulator.body);
    let mut ruled = complaint;
    ruled["verdict"] = Value::from("valid");
    let verdict = app.post("/v1/batch", Some(&app.admin), &Value::Array(vec![ruled.clone()])).await;
    assert_eq!(verdict.body["items"][0]["status"], "updated", "{}", verdict.body);
    ruled["carrier"] = Value::from("zto");
    let unknown = app.post("/v1/batch", Some(&app.admin), &Value::Array(vec![ruled])).await;
    assert_eq!(
        (&unknown.body["items"][0]["code"], &unknown.body["items"][0]["field"]),
        (&Value::from("unknown_carrier"), &Value::from("carrier")),
        "{}",
        unknown.body
    );
}
