//! Against the simulator's ground truth: a seeded run with many faults, summarized parcel by parcel. The delayed,
//! damaged and lost parcels must be exactly those the ground truth lists, the time-limit classes must give the
//! simulator's hours, and the cube kept record by record in stream order (with its duplicates and out-of-order
//! events) must equal the cube built from the final summaries.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use kuaidi_model::{CarrierCode, Record, ScanEvent, Waybill, WaybillNo};
use kuaidi_rules::{summarize, Context, Cube, Filter, Outcome, ParcelSummary, TimeLimits};
use kuaidi_sim::{Fault, Faults, Geography, SimConfig, Simulation};

use crate::support::{shared, Facilities};

type Key = (CarrierCode, WaybillNo);

fn faults() -> Faults {
    Faults { delay: 0.03, damage: 0.02, loss: 0.02, stuck: 0.02, duplicate: 0.05, out_of_order: 0.05, ..Faults::none() }
}

fn config(complete: bool) -> SimConfig {
    let start = DateTime::parse_from_rfc3339("2026-11-09T00:00:00+08:00").unwrap();
    let mut config = SimConfig::new(start, 2, 4_000, 7);
    if complete {
        // Far enough ahead that every chain is complete and every stuck parcel is silent past the 7-day limit.
        config.now = (start + Duration::days(2 + 15)).with_timezone(&Utc);
    }
    config.faults = faults();
    config
}

fn check_against_truth(complete: bool) {
    let Some(path) = shared("data/yrd_geo/yrd_prefecture_cities.csv") else { return };
    let geo = Geography::from_csv(std::fs::File::open(path).unwrap()).unwrap();
    let config = config(complete);
    let now = config.now;
    let sim = Simulation::new(&geo, config).unwrap();

    let mut facilities = Facilities::default();
    let mut waybills: BTreeMap<Key, Waybill> = BTreeMap::new();
    let mut events: BTreeMap<Key, Vec<ScanEvent>> = BTreeMap::new();
    let mut stream: Vec<(Key, bool)> = Vec::new();
    let mut truth: BTreeMap<Key, Vec<Fault>> = BTreeMap::new();
    let limits = TimeLimits::default();
    let mut incremental = Cube::new();
    let mut current: BTreeMap<Key, ParcelSummary> = BTreeMap::new();
    sim.run(
        |record| match record {
            Record::Facility(facility) => {
                facilities.0.insert(facility.code.clone(), facility);
            }
            Record::Waybill(waybill) => {
                let key = (waybill.carrier.clone(), waybill.waybill_no.clone());
                waybills.insert(key.clone(), *waybill);
                stream.push((key, true));
            }
            Record::Event(event) => {
                let key = (event.carrier.clone(), event.waybill_no.clone());
                events.entry(key.clone()).or_default().push(*event);
                stream.push((key, false));
            }
            // Complaints are counted against the ground truth by the store's ingest test, which sees them all.
            Record::Carrier(_) | Record::Complaint(_) => {}
        },
        |entry| {
            truth.insert((entry.carrier, entry.waybill_no), entry.faults);
        },
    );

    // Replay the stream as a store would see it: after each record, re-summarize its parcel from what has arrived.
    let ctx = Context { reference: &facilities, time_limits: &limits };
    let mut seen_waybill: BTreeSet<Key> = BTreeSet::new();
    let mut n_arrived: BTreeMap<Key, usize> = BTreeMap::new();
    for (key, is_waybill) in &stream {
        let done = n_arrived.entry(key.clone()).or_default();
        if *is_waybill {
            seen_waybill.insert(key.clone());
        } else {
            *done += 1;
        }
        let arrived = &events.get(key).map_or(&[][..], Vec::as_slice)[..*done];
        let waybill = seen_waybill.contains(key).then(|| &waybills[key]);
        let new = summarize(waybill, arrived, &[], &ctx, now);
        incremental.apply(current.get(key), new.as_ref());
        match new {
            Some(summary) => current.insert(key.clone(), summary),
            None => current.remove(key),
        };
    }

    let mut cube = Cube::new();
    let (mut n_delayed, mut n_damaged, mut n_lost, mut n_stuck) = (0u64, 0u64, 0u64, 0u64);
    for (key, waybill) in &waybills {
        let parcel_events = events.get(key).map_or(&[][..], Vec::as_slice);
        let summary = summarize(Some(waybill), parcel_events, &[], &ctx, now).unwrap();
        let faults = truth.get(key).map_or(&[][..], Vec::as_slice);
        let has = |kind: &str| faults.iter().any(|fault| fault.kind() == kind);
        let name = key.1.as_str();
        assert_eq!(summary.delayed == Some(true), has("delay") && summary.delivered_at.is_some(), "{name}: delayed");
        assert_eq!(summary.damaged, has("damage"), "{name}: damaged");
        let reported_lost = summary.outcome == Outcome::Lost && !summary.lost_by_silence;
        assert_eq!(reported_lost, has("loss"), "{name}: lost");
        if complete {
            assert_eq!(summary.lost_by_silence, has("stuck"), "{name}: silent");
            let final_outcome = summary.delivered_at.is_some() || summary.outcome == Outcome::Lost;
            assert!(final_outcome, "{name}: every chain is complete, but it is {:?}", summary.outcome);
        }
        let class = summary.time_limit.unwrap();
        let expected_hours = sim.time_limit_hours(summary.origin_city.unwrap(), summary.destination_city.unwrap());
        assert_eq!(limits.hours(class), expected_hours, "{name}: class {class:?}");
        n_delayed += u64::from(has("delay") && summary.delivered_at.is_some());
        n_damaged += u64::from(has("damage"));
        n_lost += u64::from(has("loss"));
        n_stuck += u64::from(has("stuck"));
        cube.apply(None, Some(&summary));
    }
    assert_eq!(incremental, cube, "the cube kept record by record differs from the final one");

    let total = cube.total(&Filter::default());
    assert_eq!(total.parcels, waybills.len() as u64);
    assert_eq!(total.delayed, n_delayed);
    assert_eq!(total.damaged, n_damaged);
    assert_eq!(total.lost - total.lost_by_silence, n_lost);
    if complete {
        assert_eq!(total.lost_by_silence, n_stuck);
    }
    // The run must have something to find, or the test proves nothing; with parcels still in transit fewer faults
    // have shown yet.
    let least = if complete { 20 } else { 5 };
    assert!(
        n_delayed > least && n_damaged > least && n_lost > least,
        "delayed {n_delayed}, damaged {n_damaged}, lost {n_lost}"
    );
}

#[test]
fn counts_match_ground_truth_with_parcels_in_transit() {
    check_against_truth(false);
}

#[test]
fn counts_match_ground_truth_when_every_chain_is_complete() {
    check_against_truth(true);
}
