//! Alert detection over whole parcels: what is raised, the events named, and keys that stay stable.

use chrono::Duration;
use proptest::prelude::*;

use super::*;
use crate::stuck::StuckLimits;
use crate::test_support::{base, chain, registry, waybill, CLEAN};

/// The catalogue, built once for all tests (each case of the property test would otherwise compile it again).
fn official() -> &'static Catalogue {
    static CATALOGUE: std::sync::OnceLock<Catalogue> = std::sync::OnceLock::new();
    CATALOGUE.get_or_init(|| Catalogue::official().unwrap())
}

fn render(alerts: &[AlertDraft]) -> Vec<String> {
    alerts
        .iter()
        .map(|a| {
            let ids: Vec<&str> = a.events.iter().map(EventId::as_str).collect();
            format!("{} {} {} [{}]", a.kind.as_str(), a.detail.reason_code(), a.dedup_key, ids.join(" "))
        })
        .collect()
}

/// Detects over a parcel at `hours` after the chain's base time.
fn check(real_name: Option<bool>, description: &str, events: &str, hours: i64, expected: &[&str]) {
    let catalogue = official();
    let scan = StuckScan::new(&StuckLimits::default());
    let rules = Rules { catalogue, stuck: &scan };
    let waybill = waybill(real_name, "日用品", description);
    let now = (base() + Duration::hours(hours)).with_timezone(&Utc);
    let alerts = detect(Some(&waybill), &chain(events), &registry(), &rules, now);
    assert_eq!(render(&alerts), expected, "chain: {events}");
}

#[test]
fn a_clean_parcel_raises_nothing() {
    check(Some(true), "保温杯 1件", CLEAN, 15, &[]);
    check(Some(true), "保温杯 1件", CLEAN, 10_000, &[]);
}

#[test]
fn each_kind_names_its_events() {
    check(None, "保温杯 1件", CLEAN, 15, &["compliance real_name_missing compliance:real_name [e1]"]);
    check(
        Some(true),
        "仿真枪 1把 送打火机",
        CLEAN,
        15,
        &[
            "prohibited_item prohibited_item_declared prohibited_item:1.1 []",
            "prohibited_item prohibited_item_declared prohibited_item:4.1 []",
        ],
    );
    let lost = "accept OUT-SZ 0; inspect OUT-SZ 3; depart OUT-SZ 60 >SC-SZ; arrive SC-SZ 110; \
                security_scan SC-SZ 125; lost SC-SZ 2000";
    check(Some(true), "保温杯 1件", lost, 100, &["loss reported_lost loss:reported:e6 [e6]"]);
    let teleported =
        "accept OUT-SZ 0; inspect OUT-SZ 3; depart OUT-SZ 60 >SC-SZ; arrive SC-BJ 70; delivered OUT-BJ 200";
    check(
        Some(true),
        "保温杯 1件",
        teleported,
        10,
        &[
            "compliance security_scan_missing compliance:security_scan [e5]",
            "impossible_chain implausible_speed impossible_chain:implausible_speed:e3:e4 [e3 e4]",
        ],
    );
}

#[test]
fn both_before_acceptance_rules_share_one_key() {
    // Scanned at the sorting centre half an hour before the outlet accepted it.
    let early = "arrive SC-SZ -30; accept OUT-SZ 0; inspect OUT-SZ 3";
    check(
        Some(true),
        "保温杯 1件",
        early,
        1,
        &[
            "compliance inspection_after_departure compliance:inspection [e1 e3]",
            "compliance security_scan_missing compliance:security_scan [e2]",
            "impossible_chain scanned_before_accepted impossible_chain:before_acceptance:e2 [e1 e2]",
        ],
    );
    // A delivery scan arriving later changes the rule, not the key.
    let delivered = "arrive SC-SZ -30; accept OUT-SZ 0; inspect OUT-SZ 3; delivered OUT-HZ -20";
    check(
        Some(true),
        "保温杯 1件",
        delivered,
        1,
        &[
            "compliance inspection_after_departure compliance:inspection [e1 e3]",
            // Delivered before leaving the sorting centre: the delivery decides the security scan now.
            "compliance security_scan_missing compliance:security_scan [e4]",
            "impossible_chain delivered_before_accepted impossible_chain:before_acceptance:e2 [e1 e4 e2]",
            // Suzhou to Hangzhou and back within 20 minutes each way.
            "impossible_chain implausible_speed impossible_chain:implausible_speed:e1:e4 [e1 e4]",
            "impossible_chain implausible_speed impossible_chain:implausible_speed:e4:e2 [e4 e2]",
        ],
    );
}

#[test]
fn stuck_then_likely_loss() {
    let in_transit = "accept OUT-SZ 0; inspect OUT-SZ 3; depart OUT-SZ 60 >SC-SZ; arrive SC-SZ 110; \
                      security_scan SC-SZ 125; depart SC-SZ 180 >HUB-SH";
    // Departed at 3 h; the in-transit limit is 48 h.
    check(Some(true), "保温杯 1件", in_transit, 50, &[]);
    check(Some(true), "保温杯 1件", in_transit, 52, &["stuck no_scan_within_limit stuck:e6 [e6]"]);
    check(Some(true), "保温杯 1件", in_transit, 100, &["stuck no_scan_within_limit stuck:e6 [e6]"]);
    check(Some(true), "保温杯 1件", in_transit, 171, &["loss silent_too_long loss:silent:e6 [e6]"]);
}

#[test]
fn the_scheduled_scan_builds_the_same_draft() {
    let catalogue = official();
    let scan = StuckScan::new(&StuckLimits::default());
    let rules = Rules { catalogue, stuck: &scan };
    let events = chain("accept OUT-SZ 0; inspect OUT-SZ 3; depart OUT-SZ 60 >SC-SZ");
    let now = base().with_timezone(&Utc) + Duration::hours(30);
    let from_ingest = detect(None, &events, &registry(), &rules, now);
    let last = &events[2];
    let verdict = scan.judge(Stage::InTransit, last.time.timestamp(), now.timestamp());
    let from_scan = inactivity_alert(&last.carrier, &last.waybill_no, &last.event_id, verdict);
    assert_eq!(from_scan.as_ref(), None, "in transit for 29 h is within the limit");
    let now = now + Duration::hours(20);
    let verdict = scan.judge(Stage::InTransit, last.time.timestamp(), now.timestamp());
    let from_scan = inactivity_alert(&last.carrier, &last.waybill_no, &last.event_id, verdict).unwrap();
    let from_ingest_later = detect(None, &events, &registry(), &rules, now);
    assert!(from_ingest.is_empty());
    assert_eq!(from_ingest_later, vec![from_scan]);
}

#[test]
fn without_waybill_or_events_there_is_no_parcel() {
    let catalogue = official();
    let scan = StuckScan::new(&StuckLimits::default());
    let rules = Rules { catalogue, stuck: &scan };
    let res = assess(None, &[], &registry(), &rules, base().with_timezone(&Utc));
    assert!(res.alerts.is_empty());
    assert!(res.coverage.is_none());
}

proptest! {
    #[test]
    fn keys_do_not_depend_on_arrival_order(seed in any::<u64>(), cut in 1usize..14, hours in 0i64..400) {
        let catalogue = official();
        let scan = StuckScan::new(&StuckLimits::default());
        let rules = Rules { catalogue, stuck: &scan };
        // A clean chain cut short, with its inspection dropped.
        let mut events: Vec<ScanEvent> = chain(CLEAN).into_iter().take(cut).filter(|e| e.kind != EventKind::Inspect).collect();
        let waybill = waybill(None, "日用品", "烟花 1箱");
        let now = (base() + Duration::hours(hours)).with_timezone(&Utc);
        let expected = detect(Some(&waybill), &events, &registry(), &rules, now);
        let mut state = seed | 1;
        for idx in (1..events.len()).rev() {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            events.swap(idx, (state >> 33) as usize % (idx + 1));
        }
        let repeat = events[0].clone();
        events.push(repeat);
        prop_assert_eq!(detect(Some(&waybill), &events, &registry(), &rules, now), expected);
    }
}
