//! A seeded simulator run through every safety rule: each injected violation is found (exact recall) and nothing
//! else is flagged (exact precision).
//!
//! The run accepts parcels over one day and stops the clock six days after it begins, so every parcel without a
//! stuck or lost fault has reached its outcome, and every stuck parcel has been silent for between about 60 and 144
//! hours: past every stage limit (48 h at most outside lockers) and short of a likely loss (168 h).
//!
//! One kind of injected fault cannot always be seen, and the test says so rather than bending the rule: a missing
//! security scan on a parcel that went stuck or was lost before it left its first sorting centre. The rule can only
//! say "pending" there (the scan could still come), and the simulator's ground truth lists the fault as drawn.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use kuaidi_model::{CarrierCode, Facility, FacilityCode, Record, Reference, ScanEvent, Waybill, WaybillNo};
use kuaidi_rules::alert::{assess, AlertKind, Detail, Rules};
use kuaidi_rules::compliance::{Check, Outcome, Pending};
use kuaidi_rules::prohibited::Catalogue;
use kuaidi_rules::stuck::{StuckLimits, StuckScan};
use kuaidi_sim::{Fault, Faults, SimConfig, Simulation, TruthEntry};

use kuaidi_sim::testing::shared_geography as geo;

struct Registry(HashMap<FacilityCode, Facility>);

impl Reference for Registry {
    fn has_carrier(&self, _code: &CarrierCode) -> bool {
        true
    }
    fn facility(&self, code: &FacilityCode) -> Option<&Facility> {
        self.0.get(code)
    }
}

/// An alert reduced to what the ground truth can be compared with.
fn summary(kind: AlertKind, detail: &Detail, events: &[kuaidi_model::EventId]) -> String {
    let ids: Vec<&str> = events.iter().map(|e| e.as_str()).collect();
    match detail {
        Detail::ProhibitedItem { terms, .. } => format!("{} {}", kind.as_str(), terms.join("|")),
        _ => format!("{} {} [{}]", kind.as_str(), detail.reason_code(), ids.join(" ")),
    }
}

/// The alerts the ground truth says a parcel must get, as `summary` renders them. A prohibited item is expected by
/// the term the simulator planted; it is checked with `contains` against the terms found.
fn expected(faults: &[Fault]) -> (BTreeSet<String>, Option<&'static str>) {
    let mut out = BTreeSet::new();
    let mut item = None;
    for fault in faults {
        match fault {
            Fault::MissingRealName { unverified: false } => {
                out.insert("compliance real_name_missing".to_owned());
            }
            Fault::MissingRealName { unverified: true } => {
                out.insert("compliance real_name_unverified".to_owned());
            }
            Fault::MissingInspection => {
                out.insert("compliance inspection_missing".to_owned());
            }
            Fault::MissingSecurityScan => {
                out.insert("compliance security_scan_missing".to_owned());
            }
            Fault::Stuck { last_event_id } => {
                out.insert(format!("stuck no_scan_within_limit [{last_event_id}]"));
            }
            Fault::Loss { event_id } => {
                out.insert(format!("loss reported_lost [{event_id}]"));
            }
            Fault::ProhibitedItem { item: planted } => item = Some(*planted),
            _ => {}
        }
    }
    (out, item)
}

#[test]
fn every_injected_violation_is_found_and_nothing_else() {
    let Some(geo) = geo() else { return };
    let start = DateTime::parse_from_rfc3339("2026-11-09T00:00:00+08:00").unwrap();
    let mut config = SimConfig::new(start, 1, 30_000, 20261122);
    config.now = (start + Duration::days(6)).with_timezone(&Utc);
    let rate = 0.01;
    config.faults = Faults {
        delay: rate,
        damage: rate,
        loss: rate,
        missing_real_name: rate,
        missing_inspection: rate,
        // Higher, so that some parcels get both and the undecidable case below occurs.
        missing_security_scan: 4.0 * rate,
        stuck: 4.0 * rate,
        prohibited_item: rate,
        complaint: rate,
        duplicate: rate,
        out_of_order: rate,
    };
    let sim = Simulation::new(&geo, config).unwrap();
    let registry = Registry(sim.facilities().iter().map(|f| (f.code.clone(), f.clone())).collect());
    let mut waybills: BTreeMap<WaybillNo, Waybill> = BTreeMap::new();
    let mut events: HashMap<WaybillNo, Vec<ScanEvent>> = HashMap::new();
    let mut truth: HashMap<WaybillNo, TruthEntry> = HashMap::new();
    sim.run(
        |record| match record {
            Record::Waybill(w) => {
                waybills.insert(w.waybill_no.clone(), *w);
            }
            Record::Event(e) => events.entry(e.waybill_no.clone()).or_default().push(*e),
            _ => {}
        },
        |entry| {
            truth.insert(entry.waybill_no.clone(), entry);
        },
    );

    let catalogue = Catalogue::official().unwrap();
    let scan = StuckScan::new(&StuckLimits::default());
    let rules = Rules { catalogue: &catalogue, stuck: &scan };
    let now = sim.config().now;
    let mut mismatches: Vec<String> = Vec::new();
    let (mut n_expected, mut n_found, mut n_undecidable) = (0usize, 0usize, 0usize);
    let mut found_by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for (waybill_no, waybill) in &waybills {
        let parcel_events = events.get(waybill_no).map_or(&[][..], Vec::as_slice);
        let res = assess(Some(waybill), parcel_events, &registry, &rules, now);
        let faults = truth.get(waybill_no).map_or(&[][..], |t| t.faults.as_slice());
        let (mut want, planted) = expected(faults);
        // The one undecidable case (module docs): stuck or lost before leaving the first sorting centre.
        let cut_short = faults.iter().any(|f| matches!(f, Fault::Stuck { .. } | Fault::Loss { .. }));
        let security_pending = matches!(
            res.compliance.outcome(Check::SecurityScan),
            Outcome::Pending { reason: Pending::NotPastSortingCentre }
        );
        if want.contains("compliance security_scan_missing") && cut_short && security_pending {
            want.remove("compliance security_scan_missing");
            n_undecidable += 1;
        }
        n_expected += want.len() + usize::from(planted.is_some());

        let mut got: BTreeSet<String> = BTreeSet::new();
        let mut prohibited_terms: Vec<String> = Vec::new();
        for alert in &res.alerts {
            *found_by_kind.entry(alert.kind.as_str()).or_default() += 1;
            match &alert.detail {
                Detail::ProhibitedItem { terms, .. } => prohibited_terms.extend(terms.iter().cloned()),
                // A compliance failure is compared by its reason; its events are checked below.
                Detail::Compliance { .. } => {
                    assert!(!alert.events.is_empty(), "{waybill_no}: a compliance alert names no event");
                    got.insert(format!("compliance {}", alert.detail.reason_code()));
                }
                detail => {
                    got.insert(summary(alert.kind, detail, &alert.events));
                }
            }
        }
        match planted {
            Some(item) if prohibited_terms.iter().any(|t| t == item) => n_found += 1,
            Some(item) => mismatches.push(format!("{waybill_no}: planted {item:?}, found {prohibited_terms:?}")),
            None if !prohibited_terms.is_empty() => {
                mismatches.push(format!("{waybill_no}: no item planted, found {prohibited_terms:?}"))
            }
            None => {}
        }
        n_found += want.intersection(&got).count();
        if want != got {
            mismatches.push(format!("{waybill_no}: expected {want:?}, got {got:?} (faults {faults:?})"));
        }
    }
    eprintln!(
        "{} parcels, {} with faults: {n_expected} injected violations expected, {n_found} found; \
         {n_undecidable} missing security scans undecidable (cut short before the first sorting centre); \
         alerts by kind {found_by_kind:?}",
        waybills.len(),
        truth.len()
    );
    assert!(
        mismatches.is_empty(),
        "{} mismatches, first 20:\n{}",
        mismatches.len(),
        mismatches[..mismatches.len().min(20)].join("\n")
    );
    assert_eq!(n_found, n_expected);
    assert!(n_undecidable > 0, "the run should contain the undecidable case, to show it is handled");
    // The run must actually exercise every kind.
    for kind in ["compliance", "prohibited_item", "stuck", "loss"] {
        assert!(found_by_kind.get(kind).copied().unwrap_or(0) > 10, "too few {kind} alerts: {found_by_kind:?}");
    }
}
