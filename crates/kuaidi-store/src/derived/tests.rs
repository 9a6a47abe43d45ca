//! [`derive_after_clock`] against [`derive`]: on seeded simulated parcels cut short at every length, the state alone
//! must give what the records give, at every moment a sweep can look, the boundaries of each limit included.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use kuaidi_model::{Record, ScanEvent, Waybill};
use kuaidi_sim::{Faults, SimConfig, Simulation};

use super::*;

/// Every moment worth judging after `state` was derived: its next check and a millisecond either side, each stage
/// limit and the loss limits past the last scan, and a month on.
fn moments(state: &ParcelState, last_ms: i64, rules: &Rules) -> Vec<i64> {
    let mut out = Vec::new();
    if let Some(at) = state.check_at {
        out.extend([at - 1, at, at + 1]);
    }
    let mut hours: Vec<u32> = Stage::ALL.iter().map(|&stage| rules.stuck.hours(stage)).collect();
    hours.push(rules.stuck.likely_loss_hours);
    hours.push(rules.time_limits.lost_after_days * 24);
    for hours in hours {
        let at = last_ms + i64::from(hours) * 3_600_000;
        out.extend([at - 1, at, at + 1, at + 1_000]);
    }
    out.push(last_ms + 30 * 86_400_000);
    out.sort_unstable();
    out.dedup();
    out
}

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap()
}

/// Compares the two derivations, naming the parcel and the moment when they differ.
fn assert_same(fast: &Derivation, full: &Derivation, what: &str) {
    assert_eq!(fast.state, full.state, "{what}: states differ");
    assert_eq!(fast.cleared, full.cleared, "{what}: cleared keys differ");
    let view = |alerts: &[NewAlert]| -> Vec<String> {
        alerts
            .iter()
            .map(|a| {
                format!(
                    "{} {:?} {:?} {} {:?} {:?}",
                    a.draft.dedup_key, a.draft.kind, a.draft.events, a.detail, a.origin_city, a.destination_city
                )
            })
            .collect()
    };
    assert_eq!(view(&fast.new_alerts), view(&full.new_alerts), "{what}: new alerts differ");
}

#[test]
fn a_state_alone_rederives_what_the_records_do_when_only_the_clock_moved() {
    let Some(geo) = kuaidi_sim::testing::shared_geography() else { return };
    let start = DateTime::parse_from_rfc3339("2026-11-09T00:00:00+08:00").unwrap();
    let mut config = SimConfig::new(start, 1, 400, 5);
    config.now = (start + Duration::days(9)).with_timezone(&Utc);
    // Plenty of every fault: damaged, held, stuck, reported lost, refused parcels, late and repeated scans.
    config.faults = Faults::uniform(0.08);
    let sim = Simulation::new(&geo, config).unwrap();
    let mut records = Vec::new();
    sim.run(|record| records.push(record), |_| {});
    let reference = RefCache::new(
        records.iter().filter_map(|r| match r {
            Record::Carrier(c) => Some(c.code.clone()),
            _ => None,
        }),
        records.iter().filter_map(|r| match r {
            Record::Facility(f) => Some(f.clone()),
            _ => None,
        }),
    );
    let mut parcels: BTreeMap<(String, String), (Option<Waybill>, Vec<ScanEvent>)> = BTreeMap::new();
    for record in &records {
        match record {
            Record::Waybill(w) => {
                parcels.entry((w.carrier.to_string(), w.waybill_no.to_string())).or_default().0 = Some((**w).clone());
            }
            Record::Event(e) => {
                parcels.entry((e.carrier.to_string(), e.waybill_no.to_string())).or_default().1.push((**e).clone());
            }
            _ => {}
        }
    }
    let rules = Rules::standard().unwrap();
    let (mut compared, mut raised, mut silenced) = (0u64, 0u64, 0u64);
    for ((carrier, waybill_no), (waybill, events)) in &parcels {
        // Cut short after every scan, in emission order, so open parcels at every stage are judged.
        for cut in 1..=events.len() {
            let parcel = ParcelRecords { waybill: waybill.clone(), events: events[..cut].to_vec(), complaints: vec![] };
            let last_ms = parcel.events.iter().map(|e| e.time.timestamp_millis()).max().unwrap();
            let derived_at = at(last_ms + 60_000);
            let Some(mut state) = derive(&parcel, None, &reference, &rules, derived_at).state else { continue };
            assert!(state.last_event.is_some(), "a parcel with events keeps its last one");
            // A sweep goes forward in time: each moment starts from the state the moment before left.
            for moment in moments(&state, last_ms, &rules) {
                if moment <= derived_at.timestamp_millis() {
                    continue;
                }
                let what = format!("{carrier}/{waybill_no} cut after {cut} scans, at {}", at(moment));
                let full = derive(&parcel, Some(&state), &reference, &rules, at(moment));
                let fast = derive_after_clock(&state, &rules, at(moment)).expect("the state keeps its last event");
                assert_same(&fast, &full, &what);
                compared += 1;
                raised += full.new_alerts.len() as u64;
                let next = full.state.unwrap();
                silenced += u64::from(next.summary.lost_by_silence && !state.summary.lost_by_silence);
                state = next;
            }
        }
    }
    eprintln!("{compared} derivations compared, {raised} alerts raised, {silenced} parcels lost by silence");
    // The comparison must have covered the time-dependent verdicts, not just quiet parcels.
    assert!(compared > 10_000 && raised > 1_000 && silenced > 100, "{compared} {raised} {silenced}");
}

#[test]
fn a_state_without_its_last_event_asks_for_the_records() {
    let Some(geo) = kuaidi_sim::testing::shared_geography() else { return };
    let start = DateTime::parse_from_rfc3339("2026-11-09T00:00:00+08:00").unwrap();
    let sim = Simulation::new(&geo, SimConfig::new(start, 1, 20, 3)).unwrap();
    let mut records = Vec::new();
    sim.run(|record| records.push(record), |_| {});
    let waybill = records.iter().find_map(|r| match r {
        Record::Waybill(w) => Some((**w).clone()),
        _ => None,
    });
    let rules = Rules::standard().unwrap();
    let parcel = ParcelRecords { waybill, events: vec![], complaints: vec![] };
    let now = start.with_timezone(&Utc) + Duration::days(1);
    // A waybill without scans: no last event, so the state cannot stand in for the records.
    let state = derive(&parcel, None, &RefCache::default(), &rules, now).state.unwrap();
    assert_eq!(state.last_event, None);
    assert!(derive_after_clock(&state, &rules, now + Duration::days(3)).is_none());
    // Nor can a state stored before the last event was kept (read back from JSON without the field).
    let mut text = serde_json::to_value(&state).unwrap();
    text.as_object_mut().unwrap().remove("last_event");
    let old: ParcelState = serde_json::from_value(text).unwrap();
    assert!(derive_after_clock(&old, &rules, now + Duration::days(3)).is_none());
}

/// The detail text written straight from the detail is what building the JSON object and writing it gave, for every
/// kind of detail, so that alerts stored before and after the change read the same.
#[test]
fn detail_text_is_what_json_would_write() {
    use kuaidi_rules::chain::Rule;
    use kuaidi_rules::compliance::{Check, Failure};
    use kuaidi_rules::prohibited::Field;
    use serde_json::json;

    let terms = vec!["烟花".to_owned(), "爆竹 \"大\"".to_owned()];
    let cases = [
        (
            Detail::Compliance { check: Check::Inspection, reason: Failure::InspectionAfterDeparture },
            json!({"check": "inspection", "reason": "inspection_after_departure"}),
        ),
        (
            Detail::ProhibitedItem {
                code: "1.3".into(),
                section: "爆炸物品".into(),
                name: "烟花爆竹".into(),
                term: "烟花".into(),
                field: Field::Description,
                terms: terms.clone(),
            },
            json!({"code": "1.3", "section": "爆炸物品", "name": "烟花爆竹", "term": "烟花", "field": "description",
                "terms": terms}),
        ),
        (
            Detail::Stuck { stage: Stage::AtFacility, silent_hours: 31, limit_hours: 24 },
            json!({"stage": Stage::AtFacility.as_str(), "silent_hours": 31, "limit_hours": 24}),
        ),
        (
            Detail::LikelyLoss { stage: Stage::AtOrigin, silent_hours: 170 },
            json!({"stage": Stage::AtOrigin.as_str(), "silent_hours": 170}),
        ),
        (Detail::ReportedLost, json!({})),
        (
            Detail::ImpossibleChain { rule: Rule::ImplausibleSpeed, distance_km: Some(812.25), minutes: Some(7) },
            json!({"rule": "implausible_speed", "distance_km": 812.25, "minutes": 7}),
        ),
        (
            Detail::ImpossibleChain { rule: Rule::DepartedWithoutArrival, distance_km: None, minutes: None },
            json!({"rule": Rule::DepartedWithoutArrival.as_str(), "distance_km": null, "minutes": null}),
        ),
    ];
    for (detail, want) in cases {
        assert_eq!(detail_json(&detail), want.to_string(), "{detail:?}");
    }
}
