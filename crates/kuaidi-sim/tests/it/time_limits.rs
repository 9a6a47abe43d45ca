//! The delivery-time rule, checked from the emitted records alone: a parcel is late (its first `delivered`,
//! `into_locker` or `refused` comes more than its class limit after its `accept`) exactly when the ground truth gives
//! it a `delay` fault.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, FixedOffset};
use kuaidi_model::{EventKind, Record};
use kuaidi_sim::{Fault, Faults, Profile, SimConfig, Simulation};

use crate::support::{collect, complete, geo, start};

const N_PARCELS: u64 = 20_000;

/// What the records say about one parcel.
#[derive(Default)]
struct Timeline {
    limit_hours: Option<u32>,
    accept: Option<DateTime<FixedOffset>>,
    /// The earliest delivery outcome.
    outcome: Option<DateTime<FixedOffset>>,
}

/// The result of one run, judged from its records and its ground truth.
struct Judged {
    /// Parcels that reached a delivery outcome, with their elapsed minutes and limit.
    reached: BTreeMap<String, (i64, u32)>,
    /// Of those, the late ones.
    late: BTreeSet<String>,
    /// Of those, the ones whose ground truth holds a `delay`.
    delayed: BTreeSet<String>,
}

fn judge(sim: &Simulation) -> Judged {
    let output = collect(sim);
    let mut parcels: BTreeMap<String, Timeline> = BTreeMap::new();
    for record in &output.records {
        match record {
            Record::Waybill(waybill) => {
                let limit = sim.time_limit_hours(waybill.sender.address.division, waybill.receiver.address.division);
                assert!(limit.is_some(), "{} has no time limit", waybill.waybill_no);
                parcels.entry(waybill.waybill_no.to_string()).or_default().limit_hours = limit;
            }
            Record::Event(event) => {
                let timeline = parcels.entry(event.waybill_no.to_string()).or_default();
                match event.kind {
                    EventKind::Accept => timeline.accept = Some(event.time),
                    EventKind::Delivered | EventKind::IntoLocker | EventKind::Refused => {
                        timeline.outcome = Some(timeline.outcome.map_or(event.time, |t| t.min(event.time)));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let mut reached = BTreeMap::new();
    let mut late = BTreeSet::new();
    for (waybill_no, timeline) in &parcels {
        let (Some(accept), Some(outcome), Some(limit)) = (timeline.accept, timeline.outcome, timeline.limit_hours)
        else {
            continue;
        };
        let elapsed = (outcome - accept).num_seconds();
        if elapsed > i64::from(limit) * 3600 {
            late.insert(waybill_no.clone());
        }
        reached.insert(waybill_no.clone(), (elapsed / 60, limit));
    }
    let delayed = output
        .truth
        .iter()
        .filter(|entry| entry.faults.iter().any(|f| matches!(f, Fault::Delay { .. })))
        .map(|entry| entry.waybill_no.to_string())
        .filter(|waybill_no| reached.contains_key(waybill_no))
        .collect();
    Judged { reached, late, delayed }
}

/// Asserts that the late parcels are exactly the delayed ones, and that every delayed one is more than an hour late.
fn check(config: SimConfig) {
    let Some(geo) = geo() else { return };
    let sim = Simulation::new(&geo, config).unwrap();
    let judged = judge(&sim);
    assert!(judged.reached.len() > 1_000, "only {} parcels reached a delivery outcome", judged.reached.len());
    let late_not_delayed: Vec<_> = judged.late.difference(&judged.delayed).take(5).collect();
    assert!(late_not_delayed.is_empty(), "late without a delay: {late_not_delayed:?}");
    let delayed_not_late: Vec<_> = judged.delayed.difference(&judged.late).take(5).collect();
    assert!(delayed_not_late.is_empty(), "delayed but on time: {delayed_not_late:?}");
    for waybill_no in &judged.delayed {
        let (elapsed_minutes, limit) = judged.reached[waybill_no];
        assert!(elapsed_minutes >= i64::from(limit) * 60 + 60, "{waybill_no} is late by less than an hour");
    }
}

#[test]
fn fault_free_parcels_meet_their_limits() {
    let Some(geo) = geo() else { return };
    for profile in [Profile::Normal, Profile::Double11] {
        let mut config = complete(N_PARCELS, 3, 11, Faults::none());
        config.profile = profile;
        let sim = Simulation::new(&geo, config).unwrap();
        let judged = judge(&sim);
        assert_eq!(judged.reached.len() as u64, N_PARCELS);
        let mut by_class: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
        for (waybill_no, (elapsed_minutes, limit)) in &judged.reached {
            let (n, on_time) = by_class.entry(*limit).or_default();
            *n += 1;
            *on_time += u64::from(!judged.late.contains(waybill_no));
            assert!(*elapsed_minutes <= i64::from(*limit) * 60, "{waybill_no}: {elapsed_minutes} min, limit {limit} h");
        }
        eprintln!("{profile:?}: (parcels, on time) by limit in hours: {by_class:?}");
    }
}

#[test]
fn late_exactly_when_delayed_with_default_faults() {
    // The default clock stops at the end of the last day, so many parcels are still in transit.
    let mut config = SimConfig::new(start(), 3, N_PARCELS, 21);
    config.faults = Faults::default();
    check(config);
}

#[test]
fn late_exactly_when_delayed_with_more_delays() {
    let faults = Faults { delay: 0.02, ..Faults::default() };
    check(complete(N_PARCELS, 3, 22, faults));
}

#[test]
fn late_exactly_when_delayed_with_every_fault() {
    // Damage, loss, stuck, duplicates and the rest must not make a parcel late, nor hide a delay.
    check(complete(N_PARCELS, 3, 23, Faults::uniform(0.02)));
}

#[test]
fn late_exactly_when_delayed_under_double11() {
    for now_complete in [true, false] {
        let faults = Faults { delay: 0.02, ..Faults::default() };
        let mut config =
            if now_complete { complete(N_PARCELS, 3, 24, faults) } else { SimConfig::new(start(), 3, N_PARCELS, 24) };
        config.faults = faults;
        config.profile = Profile::Double11;
        check(config);
    }
}
