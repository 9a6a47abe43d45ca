//! Derived state against the simulator's ground truth, through the real embedded store.
//!
//! One seeded run is ingested twice: once in stream order in small batches, with the clock following the stream
//! and a sweep every six simulated hours (as a live server would see it); once shuffled, with every record sent
//! twice, at the final clock. Both must end with aggregates equal to a recount from the stored parcel states and
//! to each other, with the ground truth's counts of delayed, damaged, lost and complained parcels exactly, and with
//! one alert for every injected violation and nothing else.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use kuaidi_model::{Record, WaybillNo};
use kuaidi_rules::{Counters, Filter};
use kuaidi_sim::{Fault, Faults, Geography, SimConfig, Simulation, TruthEntry};
use kuaidi_store::{AlertQuery, AlertStatus, PiiKey, SqliteConfig, SqliteStore, Store};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use kuaidi_sim::testing::shared_geography as geo;

struct Run {
    records: Vec<Record>,
    truth: BTreeMap<WaybillNo, TruthEntry>,
    now: DateTime<Utc>,
}

fn simulate(geo: &Geography) -> Run {
    let start = DateTime::parse_from_rfc3339("2026-11-09T00:00:00+08:00").unwrap();
    let mut config = SimConfig::new(start, 1, 4_000, 20261122);
    // Nine days after the start: every parcel has finished or gone silent for longer than the loss limit (7 days).
    config.now = (start + Duration::days(9)).with_timezone(&Utc);
    let rate = 0.02;
    config.faults = Faults::uniform(rate);
    let sim = Simulation::new(geo, config).unwrap();
    let mut records = Vec::new();
    let mut truth = BTreeMap::new();
    sim.run(
        |record| records.push(record),
        |entry| {
            truth.insert(entry.waybill_no.clone(), entry);
        },
    );
    Run { records, truth, now: sim.config().now }
}

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(SqliteConfig::new(dir.path().join("kuaidi.db"), PiiKey::generate())).unwrap()
}

fn record_time(record: &Record) -> Option<DateTime<Utc>> {
    match record {
        Record::Waybill(w) => Some(w.created_at.with_timezone(&Utc)),
        Record::Event(e) => Some(e.time.with_timezone(&Utc)),
        Record::Complaint(c) => Some(c.filed_at.with_timezone(&Utc)),
        Record::Carrier(_) | Record::Facility(_) => None,
    }
}

fn total(store: &SqliteStore) -> Counters {
    let groups = store.indicators(&Filter::default(), &[]).unwrap();
    assert_eq!(groups.len(), 1);
    groups.into_iter().next().unwrap().1
}

/// The alerts the ground truth says a parcel must get, as `kind reason [events]`; prohibited items by kind only.
/// A stuck parcel is first stuck, then (nine days on) a likely loss; a store that saw it only at the end (`live`
/// false) saw only the likely loss.
fn expected(faults: &[Fault], live: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for fault in faults {
        let line = match fault {
            Fault::MissingRealName { unverified: false } => "compliance real_name_missing []".to_owned(),
            Fault::MissingRealName { unverified: true } => "compliance real_name_unverified []".to_owned(),
            Fault::MissingInspection => "compliance inspection_missing []".to_owned(),
            Fault::MissingSecurityScan => "compliance security_scan_missing []".to_owned(),
            Fault::Stuck { last_event_id } => {
                if live {
                    out.insert(format!("stuck no_scan_within_limit [{last_event_id}]"));
                }
                format!("loss silent_too_long [{last_event_id}]")
            }
            Fault::Loss { event_id } => format!("loss reported_lost [{event_id}]"),
            Fault::ProhibitedItem { .. } => "prohibited_item prohibited_item_declared []".to_owned(),
            _ => continue,
        };
        out.insert(line);
    }
    out
}

fn alerts_by_parcel(store: &SqliteStore) -> BTreeMap<String, BTreeSet<String>> {
    let alerts = store.alerts(&AlertQuery { limit: 1_000_000, ..AlertQuery::default() }).unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Cleared alerts were true when raised (a gap in the records, a parcel silent before its loss was reported) and
    // have been cleared by later records; what stands must match the ground truth.
    for alert in alerts.into_iter().filter(|alert| alert.status != AlertStatus::Cleared) {
        // Compliance alerts and prohibited items are compared by reason; their evidence is checked in kuaidi-rules.
        let events = match alert.kind.as_str() {
            "compliance" | "prohibited_item" => String::new(),
            _ => alert.events.join(" "),
        };
        let line = format!("{} {} [{events}]", alert.kind, alert.reason);
        assert!(out.entry(alert.waybill_no.to_string()).or_default().insert(line.clone()), "{line} raised twice");
    }
    out
}

#[test]
fn derived_state_matches_the_ground_truth_in_any_order() {
    let Some(geo) = geo() else { return };
    let run = simulate(&geo);

    // In stream order, with the stream's clock and a sweep every six simulated hours.
    let live_dir = tempfile::tempdir().unwrap();
    let live = open(&live_dir);
    let mut clock = DateTime::<Utc>::MIN_UTC;
    let mut next_sweep = None;
    for batch in run.records.chunks(250) {
        clock = batch.iter().filter_map(record_time).fold(clock, DateTime::max).min(run.now);
        live.ingest_at(batch, clock).unwrap();
        let due = *next_sweep.get_or_insert(clock + Duration::hours(6));
        if clock >= due {
            live.sweep(clock).unwrap();
            next_sweep = Some(clock + Duration::hours(6));
        }
    }
    let final_sweep = live.sweep(run.now).unwrap();
    eprintln!("final sweep: {final_sweep:?}");

    // Shuffled, every record twice, all at the final clock (reference data first, as a carrier would register it).
    let replay_dir = tempfile::tempdir().unwrap();
    let replay = open(&replay_dir);
    let (reference, mut parcels): (Vec<Record>, Vec<Record>) =
        run.records.iter().cloned().partition(|r| matches!(r, Record::Carrier(_) | Record::Facility(_)));
    replay.ingest_at(&reference, run.now).unwrap();
    parcels.extend(parcels.clone());
    parcels.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    for batch in parcels.chunks(500) {
        replay.ingest_at(batch, run.now).unwrap();
    }
    replay.sweep(run.now).unwrap();

    for store in [&live, &replay] {
        let (kept, recounted) = store.recount().unwrap();
        assert!(kept == recounted, "the aggregates kept at ingest differ from a recount");
    }
    let (live_total, replay_total) = (total(&live), total(&replay));
    assert_eq!(live_total, replay_total, "stream order and shuffled order disagree");

    let count = |kind: &str| run.truth.values().filter(|t| t.faults.iter().any(|f| f.kind() == kind)).count() as u64;
    let n_waybills = run.records.iter().filter(|r| matches!(r, Record::Waybill(_))).count() as u64;
    assert_eq!(live_total.parcels, n_waybills);
    assert_eq!(live_total.damaged, count("damage"));
    assert_eq!(live_total.lost - live_total.lost_by_silence, count("loss"));
    assert_eq!(live_total.lost_by_silence, count("stuck"));
    assert_eq!(live_total.valid_complaints, count("complaint"));
    // A delay fault on a parcel that was also lost or stuck never reaches delivery, so it cannot be judged late.
    let n_delayed = run
        .truth
        .values()
        .filter(|t| {
            let has = |kind: &str| t.faults.iter().any(|f| f.kind() == kind);
            has("delay") && !has("loss") && !has("stuck")
        })
        .count() as u64;
    assert_eq!(live_total.delayed, n_delayed);
    assert!(count("damage") > 20 && count("loss") > 20 && count("stuck") > 20 && count("complaint") > 20);

    // Alerts: every injected violation, nothing else, once each, in both stores.
    let n_cleared = |store: &SqliteStore| {
        let query = AlertQuery { status: Some(AlertStatus::Cleared), limit: 1_000_000, ..AlertQuery::default() };
        store.alerts(&query).unwrap().len()
    };
    eprintln!("cleared alerts: live {}, replay {}", n_cleared(&live), n_cleared(&replay));
    assert!(n_cleared(&live) > 0, "the live run should have raised alerts that later records cleared");
    for (name, store) in [("live", &live), ("replay", &replay)] {
        let got = alerts_by_parcel(store);
        let mut mismatches = Vec::new();
        let waybills: BTreeSet<String> = run
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Waybill(w) => Some(w.waybill_no.to_string()),
                _ => None,
            })
            .collect();
        for no in &waybills {
            let faults = run.truth.get(&WaybillNo::parse(no).unwrap()).map_or(&[][..], |t| t.faults.as_slice());
            let mut want = expected(faults, name == "live");
            let have = got.get(no).cloned().unwrap_or_default();
            // The one undecidable case (see kuaidi-rules' simulated test): a missing security scan on a parcel cut
            // short before it left its first sorting centre stays pending, so no alert can be raised.
            let cut_short = faults.iter().any(|f| matches!(f, Fault::Stuck { .. } | Fault::Loss { .. }));
            if cut_short && !have.contains("compliance security_scan_missing []") {
                want.remove("compliance security_scan_missing []");
            }
            if want != have {
                mismatches.push(format!("{no}: expected {want:?}, got {have:?} (faults {faults:?})"));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{name}: {} mismatches, first 10:\n{}",
            mismatches.len(),
            mismatches[..mismatches.len().min(10)].join("\n")
        );
    }
}
