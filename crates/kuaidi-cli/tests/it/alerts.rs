//! `kuaidi alerts list|scan|ack|resolve`: on imported fixtures (deterministic) and on the simulated store.

use std::path::Path;

use kuaidi_model::Record;
use kuaidi_store::testing::fixtures;
use kuaidi_store::{PiiKey, SqliteConfig, SqliteStore, Store};

use crate::support::{copy_of_simulated_store, failure, imported_store, json, kuaidi, parcels, stderr, stdout};

/// Two delivered parcels and one that stopped after its security scan an hour ago (its times are moved so, as
/// import judges records by the wall clock).
fn records() -> Vec<Record> {
    let mut records = parcels(2);
    let no = "YT0000000099";
    let shift = (chrono::Utc::now() - chrono::Duration::hours(1)) - fixtures::base_time().with_timezone(&chrono::Utc);
    let mut waybill = fixtures::waybill("yto", no);
    waybill.created_at += shift;
    records.push(Record::Waybill(Box::new(waybill)));
    records.extend(fixtures::chain("yto", no).into_iter().take(3).map(|mut event| {
        event.time += shift;
        Record::Event(Box::new(event))
    }));
    records
}

/// Now plus `days`, as RFC 3339.
fn days_from_now(days: i64) -> String {
    (chrono::Utc::now() + chrono::Duration::days(days)).to_rfc3339()
}

fn audit_log(data: &Path) -> Vec<kuaidi_store::AuditEntry> {
    let key: [u8; 32] = std::fs::read(data.join("pii.key")).unwrap().try_into().unwrap();
    let store = SqliteStore::open(SqliteConfig::new(data.join("kuaidi.db"), PiiKey::from_bytes(key))).unwrap();
    store.audit_log(10).unwrap()
}

#[test]
fn scan_raises_alerts_for_parcels_that_stopped_and_list_filters_them() {
    let (_dir, data) = imported_store(&records(), &[]);
    let before = json(&data, &["alerts", "list", "--kind", "stuck"]);
    let n_before = before.as_array().unwrap().len();
    assert_eq!(n_before, 0, "judged by the wall clock at import, the parcel an hour silent is moving: {before}");

    // Two days after its last scan the stopped parcel is stuck (24 hours at its origin); the scan finds it, once.
    let now = days_from_now(2);
    let scan = json(&data, &["alerts", "scan", "--now", &now]);
    assert!(scan["examined"].as_u64().unwrap() >= 1, "{scan}");
    assert!(scan["new_alerts"].as_u64().unwrap() >= 1, "{scan}");
    let again = json(&data, &["alerts", "scan", "--now", &now]);
    assert_eq!(again["new_alerts"], 0, "{again}");

    let stuck = json(&data, &["alerts", "list", "--kind", "stuck"]);
    let stuck = stuck.as_array().unwrap();
    assert_eq!(stuck.len(), n_before + 1, "{stuck:?}");
    let alert = &stuck[0];
    assert_eq!(alert["waybill_no"], "YT0000000099");
    assert_eq!(alert["carrier"], "yto");
    assert_eq!(alert["status"], "open");
    assert_eq!(alert["origin_city"], "320500");
    assert!(alert["raised_at"].as_str().unwrap().ends_with("+08:00"), "{alert}");
    assert_eq!(alert["events"], serde_json::json!(["YT0000000099-2"]));

    // Filters: carrier, area, status, time, limit.
    assert_eq!(json(&data, &["alerts", "list", "--carrier", "sf"]), serde_json::json!([]));
    let in_suzhou = json(&data, &["alerts", "list", "--area", "320000,330000"]);
    assert!(in_suzhou.as_array().unwrap().iter().any(|a| a["id"] == alert["id"]));
    assert_eq!(json(&data, &["alerts", "list", "--area", "330000"]), serde_json::json!([]));
    assert_eq!(json(&data, &["alerts", "list", "--status", "resolved"]), serde_json::json!([]));
    let all = json(&data, &["alerts", "list"]);
    let n_all = all.as_array().unwrap().len();
    assert_eq!(json(&data, &["alerts", "list", "--limit", "1"]).as_array().unwrap().len(), 1.min(n_all));
    let after_scan = json(&data, &["alerts", "list", "--kind", "stuck", "--from", &days_from_now(1)]);
    assert_eq!(after_scan.as_array().unwrap().len(), 1, "{after_scan}");
    assert_eq!(json(&data, &["alerts", "list", "--to", "2000-01-01T00:00:00Z"]), serde_json::json!([]));

    let table = kuaidi(&data, &["alerts", "list", "--kind", "stuck"]);
    let text = stdout(&table);
    assert!(text.starts_with("ID") && text.contains("YT0000000099") && text.contains("320500 → 310100"), "{text}");
}

#[test]
fn ack_and_resolve_record_the_cli_key_and_an_audit_entry() {
    let (_dir, data) = imported_store(&records(), &[]);
    json(&data, &["alerts", "scan", "--now", &days_from_now(2)]);
    let listed = json(&data, &["alerts", "list", "--kind", "stuck"]);
    let id = listed[0]["id"].as_i64().unwrap().to_string();

    let acked = json(&data, &["alerts", "ack", &id, "--note", "called the Suzhou outlet"]);
    assert_eq!(acked["status"], "acknowledged");
    assert_eq!(acked["note"], "called the Suzhou outlet");
    assert_eq!(acked["handled_by"], "cli");
    assert!(acked["handled_at"].is_string());
    let resolved = json(&data, &["alerts", "resolve", &id, "--note", "found on the shelf; sent on"]);
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["note"], "found on the shelf; sent on");
    let listed = json(&data, &["alerts", "list", "--status", "resolved"]);
    assert_eq!(listed[0]["id"].to_string(), id);

    let audit = audit_log(&data);
    assert_eq!(audit[0].action, "alert_resolved");
    assert_eq!(audit[0].key_id, "cli");
    assert_eq!(audit[0].subject, format!("alert/{id}"));
    assert_eq!(audit[0].detail, "found on the shelf; sent on");
    assert_eq!(audit[1].action, "alert_acknowledged");

    // A resolved alert is not acknowledged again: that would lose its resolution.
    let err = failure(&data, &["alerts", "ack", &id]);
    assert!(err.contains(&format!("alert `{id}` is already resolved")), "{err}");
    assert_eq!(audit_log(&data).len(), audit.len(), "a refused change writes no audit entry");
}

#[test]
fn alert_errors_name_the_id_or_the_flag() {
    let (_dir, data) = imported_store(&records(), &[]);
    let err = failure(&data, &["alerts", "ack", "999999", "--note", "x"]);
    assert!(err.contains("error: no alert has the id `999999`"), "{err}");
    assert!(err.contains("Hint: `kuaidi alerts list` shows the ids."), "{err}");
    let err = failure(&data, &["alerts", "resolve", "999999", "--note", "x"]);
    assert!(err.contains("no alert has the id `999999`"), "{err}");
    let err = failure(&data, &["alerts", "resolve", "abc", "--note", "x"]);
    assert!(err.contains("the alert id `abc` must be a positive whole number"), "{err}");
    let err = failure(&data, &["alerts", "resolve", "1", "--note", "  "]);
    assert!(err.contains("`--note` must not be empty"), "{err}");
    assert_eq!(kuaidi(&data, &["alerts", "resolve", "1"]).status.code(), Some(2), "resolve needs a note");
    let err = failure(&data, &["alerts", "scan", "--now", "tomorrow"]);
    assert!(err.contains("`--now` `tomorrow` must be an RFC 3339 time"), "{err}");
    let err = failure(&data, &["alerts", "list", "--kind", "stuk"]);
    assert!(err.contains("`--kind` `stuk` must be one of compliance, prohibited_item, stuck, loss, impossible_chain"));
    let err = failure(&data, &["alerts", "list", "--status", "closed"]);
    assert!(err.contains("`--status` `closed` must be one of open, acknowledged, resolved"), "{err}");
    let err = failure(&data, &["alerts", "list", "--area", "3200"]);
    assert!(err.contains("`--area` `3200`"), "{err}");
    let err = failure(&data, &["alerts", "list", "--limit", "0"]);
    assert!(err.contains("`--limit` `0` must be at least 1"), "{err}");
    let err = failure(&data, &["alerts", "list", "--from", "2026-11-11"]);
    assert!(err.contains("`--from` `2026-11-11` must be an RFC 3339 time"), "{err}");
    assert!(audit_log(&data).is_empty(), "{}", stderr(&kuaidi(&data, &["alerts", "list"])));
}

#[test]
fn the_simulated_store_has_alerts_and_a_later_scan_finds_more() {
    let Some((_dir, data)) = copy_of_simulated_store() else { return };
    let compliance = json(&data, &["alerts", "list", "--kind", "compliance", "--limit", "10000"]);
    assert!(!compliance.as_array().unwrap().is_empty(), "the simulator injects compliance faults");
    let stuck_before =
        json(&data, &["alerts", "list", "--kind", "stuck", "--limit", "10000"]).as_array().unwrap().len();
    // Three days on, parcels still open at the end of the simulated day are stuck.
    let later = (chrono::Utc::now() + chrono::Duration::days(3)).to_rfc3339();
    let scan = json(&data, &["alerts", "scan", "--now", &later]);
    assert!(scan["new_alerts"].as_u64().unwrap() > 0, "{scan}");
    let stuck_after = json(&data, &["alerts", "list", "--kind", "stuck", "--limit", "10000"]).as_array().unwrap().len();
    assert!(stuck_after > stuck_before, "{stuck_before} -> {stuck_after}");
}
