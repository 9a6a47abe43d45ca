//! Coverage of the three safety systems: exact integer counters of passed, failed and pending outcomes, keyed by
//! acceptance day (+08:00), carrier, outlet, courier and city.
//!
//! A parcel contributes one [`Counts`] row (one parcel, and one of passed, failed or pending per check) under one
//! [`CoverageKey`], taken from its acceptance event (the earliest `accept`, else its earliest scan): the day of that
//! event in China Standard Time, its facility (the outlet), its operator (the courier), and the city of that facility
//! (from the reference data; the sender's city from the waybill when the facility is unknown).
//! A parcel without any scan contributes nothing: it has not been accepted.
//!
//! The store keeps these counters up to date at ingest like the quality indicators: for each parcel an ingest
//! touches, it computes the contribution before and after, and applies [`changes`] (old subtracted, new added).
//! Counters are integers, so any sequence of such updates ends exactly where a recount from scratch would.
//! A rate is `passed / (passed + failed)`: pending parcels are not yet decided and are left out.

use std::collections::BTreeMap;

use chrono::{FixedOffset, NaiveDate};
use kuaidi_model::{AdminCode, CarrierCode, FacilityCode, Reference, ScanEvent, Waybill};

use crate::compliance::{acceptance, ordered_events, Check, Compliance, Outcome};

/// Where and when a parcel was accepted: the grouping of the coverage counters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoverageKey {
    /// The acceptance day in China Standard Time (+08:00), whatever offset the event was reported with.
    pub day: NaiveDate,
    /// The carrier.
    pub carrier: CarrierCode,
    /// The facility of the acceptance event: the outlet.
    pub outlet: FacilityCode,
    /// The operator of the acceptance event: the courier, when reported.
    pub courier: Option<String>,
    /// The prefecture city of the outlet, or of the sender when the outlet is unknown to the reference.
    pub city: Option<AdminCode>,
}

/// Outcomes of one check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CheckCounts {
    /// Parcels that passed.
    pub passed: u64,
    /// Parcels that failed.
    pub failed: u64,
    /// Parcels not yet decided.
    pub pending: u64,
}

impl CheckCounts {
    /// The coverage rate, `passed / (passed + failed)`, or `None` when nothing is decided.
    pub fn rate(&self) -> Option<f64> {
        let decided = self.passed + self.failed;
        (decided > 0).then(|| self.passed as f64 / decided as f64)
    }

    fn of(outcome: &Outcome) -> CheckCounts {
        match outcome {
            Outcome::Passed { .. } => CheckCounts { passed: 1, ..CheckCounts::default() },
            Outcome::Failed { .. } => CheckCounts { failed: 1, ..CheckCounts::default() },
            Outcome::Pending { .. } => CheckCounts { pending: 1, ..CheckCounts::default() },
        }
    }

    fn add(&mut self, other: &CheckCounts) {
        self.passed += other.passed;
        self.failed += other.failed;
        self.pending += other.pending;
    }

    fn checked_sub(&self, other: &CheckCounts) -> Option<CheckCounts> {
        Some(CheckCounts {
            passed: self.passed.checked_sub(other.passed)?,
            failed: self.failed.checked_sub(other.failed)?,
            pending: self.pending.checked_sub(other.pending)?,
        })
    }
}

/// The counters of one key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Parcels accepted.
    pub parcels: u64,
    /// 实名收寄.
    pub real_name: CheckCounts,
    /// 收寄验视.
    pub inspection: CheckCounts,
    /// 过机安检.
    pub security_scan: CheckCounts,
}

impl Counts {
    /// One parcel's counts.
    pub fn of(compliance: &Compliance) -> Counts {
        Counts {
            parcels: 1,
            real_name: CheckCounts::of(&compliance.real_name),
            inspection: CheckCounts::of(&compliance.inspection),
            security_scan: CheckCounts::of(&compliance.security_scan),
        }
    }

    /// The counts of one check.
    pub fn check(&self, check: Check) -> &CheckCounts {
        match check {
            Check::RealName => &self.real_name,
            Check::Inspection => &self.inspection,
            Check::SecurityScan => &self.security_scan,
        }
    }

    /// Adds `other` in place.
    pub fn add(&mut self, other: &Counts) {
        self.parcels += other.parcels;
        self.real_name.add(&other.real_name);
        self.inspection.add(&other.inspection);
        self.security_scan.add(&other.security_scan);
    }

    /// `self - other`, or `None` when any counter would go below zero (the caller's bookkeeping is wrong).
    pub fn checked_sub(&self, other: &Counts) -> Option<Counts> {
        Some(Counts {
            parcels: self.parcels.checked_sub(other.parcels)?,
            real_name: self.real_name.checked_sub(&other.real_name)?,
            inspection: self.inspection.checked_sub(&other.inspection)?,
            security_scan: self.security_scan.checked_sub(&other.security_scan)?,
        })
    }

    fn is_zero(&self) -> bool {
        *self == Counts::default()
    }
}

/// One parcel's contribution to the counters.
pub type Contribution = (CoverageKey, Counts);

/// The key and counts one parcel contributes, or `None` before it has any scan.
pub fn contribution(
    waybill: Option<&Waybill>,
    events: &[ScanEvent],
    compliance: &Compliance,
    reference: &impl Reference,
) -> Option<Contribution> {
    contribution_ordered(waybill, &ordered_events(events), compliance, reference)
}

/// [`contribution`] over events already in the order of `ordered_events`.
pub(crate) fn contribution_ordered(
    waybill: Option<&Waybill>,
    ordered: &[&ScanEvent],
    compliance: &Compliance,
    reference: &impl Reference,
) -> Option<Contribution> {
    let accepted = acceptance(ordered)?;
    let china = FixedOffset::east_opt(8 * 3600)?;
    let city = reference
        .facility(&accepted.facility)
        .map(|facility| facility.city())
        .or_else(|| waybill.map(|w| w.sender.address.division.prefecture()));
    let key = CoverageKey {
        day: accepted.time.with_timezone(&china).date_naive(),
        carrier: accepted.carrier.clone(),
        outlet: accepted.facility.clone(),
        courier: accepted.operator.as_deref().map(str::to_owned),
        city,
    };
    Some((key, Counts::of(compliance)))
}

/// A signed change to the counters of one key, for an `UPDATE ... SET n = n + ?` in the store.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Change {
    /// Change in parcels.
    pub parcels: i64,
    /// Changes in passed, failed and pending, per check in the order of [`Check::ALL`].
    pub checks: [[i64; 3]; 3],
}

impl Change {
    fn of(counts: &Counts, sign: i64) -> Change {
        let check = |c: &CheckCounts| [c.passed as i64 * sign, c.failed as i64 * sign, c.pending as i64 * sign];
        Change {
            parcels: counts.parcels as i64 * sign,
            checks: [check(&counts.real_name), check(&counts.inspection), check(&counts.security_scan)],
        }
    }

    fn plus(mut self, other: Change) -> Change {
        self.parcels += other.parcels;
        for (mine, theirs) in self.checks.iter_mut().zip(other.checks) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
        self
    }

    fn is_zero(&self) -> bool {
        *self == Change::default()
    }
}

/// The signed changes that take the counters from a parcel's old contribution to its new one: nothing when they are
/// equal, one row when only the counts changed, two when the key moved (say, a late `accept` scan changed the day).
pub fn changes(old: Option<&Contribution>, new: Option<&Contribution>) -> Vec<(CoverageKey, Change)> {
    let mut rows: Vec<(CoverageKey, Change)> = Vec::with_capacity(2);
    if let Some((key, counts)) = old {
        rows.push((key.clone(), Change::of(counts, -1)));
    }
    if let Some((key, counts)) = new {
        match rows.iter_mut().find(|(k, _)| k == key) {
            Some((_, change)) => *change = change.plus(Change::of(counts, 1)),
            None => rows.push((key.clone(), Change::of(counts, 1))),
        }
    }
    rows.retain(|(_, change)| !change.is_zero());
    rows
}

/// Coverage counters held in memory: what the store keeps in a table, for tests, reports and roll-ups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoverageTable {
    rows: BTreeMap<CoverageKey, Counts>,
}

impl CoverageTable {
    /// An empty table.
    pub fn new() -> CoverageTable {
        CoverageTable::default()
    }

    /// Replaces a parcel's old contribution with its new one. Returns false, and changes nothing, when the old
    /// contribution is not in the table (the caller's bookkeeping is wrong).
    pub fn apply(&mut self, old: Option<&Contribution>, new: Option<&Contribution>) -> bool {
        if let Some((key, counts)) = old {
            let Some(row) = self.rows.get_mut(key) else { return false };
            let Some(rest) = row.checked_sub(counts) else { return false };
            if rest.is_zero() {
                self.rows.remove(key);
            } else {
                // In place: the key (with its outlet and courier) is not copied again.
                *row = rest;
            }
        }
        if let Some((key, counts)) = new {
            match self.rows.get_mut(key) {
                Some(row) => row.add(counts),
                None => {
                    self.rows.insert(key.clone(), *counts);
                }
            }
        }
        true
    }

    /// The rows, in key order.
    pub fn rows(&self) -> impl Iterator<Item = (&CoverageKey, &Counts)> {
        self.rows.iter()
    }

    /// Sums the rows by a coarser grouping, such as `|key| (key.day, key.carrier.clone())` or `|key| key.city`.
    pub fn rollup<G: Ord>(&self, group: impl Fn(&CoverageKey) -> G) -> BTreeMap<G, Counts> {
        let mut out: BTreeMap<G, Counts> = BTreeMap::new();
        for (key, counts) in &self.rows {
            out.entry(group(key)).or_default().add(counts);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compliance::check_compliance;
    use crate::test_support::{chain, registry, waybill, CLEAN};

    fn contribution_of(real_name: Option<bool>, events: &str) -> Option<Contribution> {
        let waybill = waybill(real_name, "服装", "T恤 1件");
        let events = chain(events);
        let compliance = check_compliance(Some(&waybill), &events, &registry());
        contribution(Some(&waybill), &events, &compliance, &registry())
    }

    #[test]
    fn key_comes_from_the_acceptance_event_in_china_time() {
        let (key, counts) = contribution_of(Some(true), CLEAN).unwrap();
        assert_eq!(key.day.to_string(), "2026-11-10");
        assert_eq!(key.outlet.as_str(), "OUT-SZ");
        assert_eq!(key.courier.as_deref(), Some("YTO-OUT-SZ-C01"));
        assert_eq!(key.city.map(|c| c.to_string()).as_deref(), Some("320500"));
        assert_eq!(counts.parcels, 1);
        assert_eq!(counts.real_name, CheckCounts { passed: 1, failed: 0, pending: 0 });
        // 00:30 +08:00 on the 11th is still the 10th in UTC; the day is China's.
        let (late, _) = contribution_of(Some(true), "accept OUT-SZ 990").unwrap();
        assert_eq!(late.day.to_string(), "2026-11-11");
        // No scan, no contribution; an unknown outlet falls back to the sender's city.
        assert!(contribution_of(Some(true), "").is_none());
        let (unknown, _) = contribution_of(None, "accept XX-1 0").unwrap();
        assert_eq!(unknown.city.map(|c| c.to_string()).as_deref(), Some("320500"));
    }

    #[test]
    fn updates_end_where_a_recount_would() {
        // A parcel seen in three stages of ingest, then a second parcel; the table must equal a recount of the
        // final states.
        let stages = ["accept OUT-SZ 0", "accept OUT-SZ 0; depart OUT-SZ 60 >SC-SZ", CLEAN];
        let mut table = CoverageTable::new();
        let mut previous: Option<Contribution> = None;
        for stage in stages {
            let next = contribution_of(None, stage);
            assert!(table.apply(previous.as_ref(), next.as_ref()));
            previous = next;
        }
        let other = contribution_of(Some(true), CLEAN);
        assert!(table.apply(None, other.as_ref()));

        let mut recount = CoverageTable::new();
        recount.apply(None, previous.as_ref());
        recount.apply(None, other.as_ref());
        assert_eq!(table, recount);
        let by_day = table.rollup(|key| key.day);
        let day = by_day.values().next().unwrap();
        assert_eq!(day.parcels, 2);
        assert_eq!(day.real_name, CheckCounts { passed: 1, failed: 1, pending: 0 });
        assert_eq!(day.real_name.rate(), Some(0.5));
        assert_eq!(day.inspection.rate(), Some(1.0));

        // Removing what is not there is refused and changes nothing.
        let before = table.clone();
        let stray = contribution_of(Some(true), "accept OUT-HZ 0");
        assert!(!table.apply(stray.as_ref(), None));
        assert_eq!(table, before);
    }

    proptest::proptest! {
        #[test]
        fn any_ingest_order_ends_at_the_recount(
            parcels in proptest::collection::vec(
                proptest::collection::vec(
                    (proptest::sample::select(kuaidi_model::EventKind::ALL.to_vec()),
                     proptest::sample::select(vec!["OUT-SZ", "SC-SZ", "OUT-HZ", "XX-1"]),
                     -2000i64..2000),
                    0..10),
                1..4),
            real_names in proptest::collection::vec(proptest::option::of(proptest::bool::ANY), 4),
        ) {
            // Each parcel's events arrive one at a time, in the order generated (not time order); after each, the
            // table swaps the parcel's old row for its new one, as the store does.
            let reference = registry();
            let mut table = CoverageTable::new();
            let mut recount = CoverageTable::new();
            for (parcel, items) in parcels.iter().enumerate() {
                let waybill = waybill(real_names[parcel], "服装", "T恤 1件");
                let text: Vec<String> =
                    items.iter().map(|(kind, facility, minutes)| format!("{} {facility} {minutes}", kind.as_str())).collect();
                let events = chain(&text.join(";"));
                let mut previous: Option<Contribution> = None;
                for seen in 0..=events.len() {
                    let so_far = &events[..seen];
                    let compliance = check_compliance(Some(&waybill), so_far, &reference);
                    let next = contribution(Some(&waybill), so_far, &compliance, &reference);
                    proptest::prop_assert!(table.apply(previous.as_ref(), next.as_ref()));
                    previous = next;
                }
                recount.apply(None, previous.as_ref());
            }
            proptest::prop_assert_eq!(table, recount);
        }
    }

    #[test]
    fn signed_changes() {
        let pending = contribution_of(Some(true), "accept OUT-SZ 0");
        let done = contribution_of(Some(true), CLEAN);
        assert!(changes(pending.as_ref(), pending.as_ref()).is_empty());
        let rows = changes(pending.as_ref(), done.as_ref());
        assert_eq!(rows.len(), 1);
        let change = rows[0].1;
        assert_eq!(change.parcels, 0);
        // Inspection went from pending to passed.
        assert_eq!(change.checks[1], [1, 0, -1]);
        // A late accept scan moves the parcel to another day: two rows.
        let moved = contribution_of(Some(true), "accept OUT-SZ 1440");
        let rows = changes(pending.as_ref(), moved.as_ref());
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].1.parcels, -1);
        assert_eq!(rows[1].1.parcels, 1);
        assert_eq!(changes(None, None), vec![]);
    }
}
