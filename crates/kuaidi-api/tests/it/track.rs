//! Public tracking: no key, masked, refuses a wrong phone suffix without revealing whether the number exists, and
//! rate-limited per client address.

use serde_json::Value;

use crate::harness::{app, app_with, parcel};

#[tokio::test]
async fn public_tracking_is_masked_and_checks_the_phone_suffix() {
    let app = app();
    app.post("/v1/batch", Some(&app.admin), &Value::Array(parcel("yto", "YT0000000001"))).await;
    let answer = app.get("/v1/track/YT0000000001?phone_last4=5678", None).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["status"], "delivered");
    assert_eq!(answer.body["carrier"], "圆通速递");
    assert_eq!(answer.body["receiver_name"], "李*");
    assert_eq!(answer.body["receiver_phone"], "139****5678");
    assert_eq!(answer.body["origin"], "江苏省苏州市虎丘区");
    assert_eq!(answer.body["events"][0]["description"], "【上海市】签收");
    let text = answer.body.to_string();
    assert!(!text.contains("C001") && !text.contains("南京东路") && !text.contains("李四"), "{text}");

    let wrong = app.get("/v1/track/YT0000000001?phone_last4=0000", None).await;
    let unknown = app.get("/v1/track/YT0000000404?phone_last4=5678", None).await;
    assert_eq!((wrong.status.as_u16(), wrong.code()), (404, "tracking_not_found"));
    assert_eq!(wrong.body, unknown.body, "a wrong suffix must look exactly like an unknown number");
    assert_eq!(app.get("/v1/track/YT0000000001?phone_last4=56", None).await.code(), "invalid_query");
    assert_eq!(app.get("/v1/track/YT0000000001", None).await.code(), "invalid_query");
}

#[tokio::test]
async fn public_tracking_is_rate_limited() {
    let config = kuaidi_api::ApiConfig { track_per_minute: 3, ..Default::default() };
    let app = app_with(config);
    let mut codes = Vec::new();
    for _ in 0..5 {
        codes.push(app.get("/v1/track/YT0000000001?phone_last4=5678", None).await.status.as_u16());
    }
    assert_eq!(codes, [404, 404, 404, 429, 429]);
}
