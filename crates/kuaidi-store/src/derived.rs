//! Derived state kept at ingest, the same for every backend: each parcel's summary (quality indicators) and safety
//! assessment (coverage of the three systems, alerts), and the aggregates they add up to.
//!
//! For every parcel an ingest touches, a backend loads the parcel's stored [`ParcelState`] (what it contributed so
//! far), re-derives it from the parcel's waybill, events and complaints with [`derive`], replaces the old
//! contribution with the new one in the aggregates ([`Aggregates::apply`]), keeps the new state, and stores the alerts
//! whose keys are new. All of this happens in the ingest's transaction, so aggregates are never ahead of or behind
//! the records. Because contributions are integers that are subtracted exactly as they were added, any order of
//! arrival, duplicates and late records included, ends where a recount from scratch would
//! ([`Aggregates::recount`] is that recount, and the tests compare the two).
//!
//! Open parcels (not yet at a final outcome) can change with time alone: they turn stuck, likely lost, or lost by
//! silence. Their state carries [`ParcelState::check_at`], the next moment that can happen, and the sweep
//! (`Store::sweep`) re-derives those whose moment has passed.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use kuaidi_model::{
    AdminCode, CarrierCode, Complaint, Facility, FacilityCode, Record, Reference, ScanEvent, Waybill, WaybillNo,
};
use kuaidi_rules::alert::{self, AlertDraft, Detail};
use kuaidi_rules::coverage::{CheckCounts, Counts, CoverageKey, CoverageTable};
use kuaidi_rules::prohibited::Catalogue;
use kuaidi_rules::stuck::{Stage, StuckLimits, StuckScan};
use kuaidi_rules::{summarize, Context, Counters, Cube, ParcelSummary, TimeLimits};
use serde::{Deserialize, Serialize};

use crate::{CoverageFilter, CoverageGroup, ErrorKind, StoreError};

/// The rules derived state follows.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Time limits and the silence after which a parcel counts as lost.
    pub time_limits: TimeLimits,
    /// Per-stage limits of the stuck scan.
    pub stuck: StuckLimits,
    /// The prohibited-items catalogue.
    pub catalogue: Catalogue,
}

impl Rules {
    /// The documented defaults and the official catalogue.
    pub fn standard() -> Result<Rules, StoreError> {
        let catalogue = Catalogue::official().map_err(|err| {
            StoreError::with_source(ErrorKind::Other, "cannot load the prohibited-items catalogue", err)
        })?;
        Ok(Rules { time_limits: TimeLimits::default(), stuck: StuckLimits::default(), catalogue })
    }
}

/// What one parcel contributes, as stored beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParcelState {
    /// The quality summary.
    pub summary: ParcelSummary,
    /// The safety coverage contribution, `None` before the parcel's first scan.
    pub coverage: Option<CoverageRow>,
    /// The dedup keys of its alerts whose condition holds now. An alert raised before whose key is no longer here
    /// was cleared by later records (a late scan filled a gap, or the parcel moved on).
    pub alert_keys: Vec<String>,
    /// The next moment its state can change with time alone (unix milliseconds); `None` when it cannot.
    pub check_at: Option<i64>,
    /// Its last event in the rules' order (`compliance::ordered_events`), which the stuck and likely-loss verdicts
    /// and `check_at` read: with it, a sweep re-derives a parcel whose records have not changed from this state
    /// alone ([`derive_after_clock`]). `None` without events, and in states stored before it was kept.
    /// Always written, also as `null`: PostgreSQL stores states in postcard's form, which has no field names, so a
    /// skipped field would shift every byte after it.
    #[serde(default)]
    pub last_event: Option<LastEvent>,
}

/// A parcel's last event, as much of it as the time-dependent rules read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastEvent {
    /// Its event id.
    pub id: String,
    /// Its kind's code (`EventKind::as_str`).
    pub kind: String,
    /// Its time, unix milliseconds.
    pub at_ms: i64,
}

/// A coverage contribution in a storable form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CoverageRow {
    /// Acceptance day in +08:00, as days since 1 January of year 1 (chrono's `num_days_from_ce`).
    pub day: i32,
    /// Carrier code.
    pub carrier: String,
    /// Outlet facility code.
    pub outlet: String,
    /// Courier, when reported.
    pub courier: Option<String>,
    /// City code, when known.
    pub city: Option<u32>,
    /// `[parcels, real_name x3, inspection x3, security_scan x3]`, each check as passed, failed, pending.
    pub counts: [u64; 10],
}

impl CoverageRow {
    /// The storable form of a coverage key and its counts.
    pub fn of(key: &CoverageKey, counts: &Counts) -> CoverageRow {
        let c = |check: &CheckCounts| [check.passed, check.failed, check.pending];
        let [a, b, d] = c(&counts.real_name);
        let [e, f, g] = c(&counts.inspection);
        let [h, i, j] = c(&counts.security_scan);
        CoverageRow {
            day: key.day.num_days_from_ce(),
            carrier: key.carrier.to_string(),
            outlet: key.outlet.to_string(),
            courier: key.courier.clone(),
            city: key.city.map(AdminCode::as_u32),
            counts: [counts.parcels, a, b, d, e, f, g, h, i, j],
        }
    }

    /// Back to the rules' types; `None` when a stored code no longer parses.
    pub fn to_contribution(&self) -> Option<(CoverageKey, Counts)> {
        let [parcels, a, b, d, e, f, g, h, i, j] = self.counts;
        let check = |passed, failed, pending| CheckCounts { passed, failed, pending };
        let key = CoverageKey {
            day: NaiveDate::from_num_days_from_ce_opt(self.day)?,
            carrier: CarrierCode::parse(&self.carrier).ok()?,
            outlet: FacilityCode::parse(&self.outlet).ok()?,
            courier: self.courier.clone(),
            city: self.city.map(AdminCode::from_u32).transpose().ok()?,
        };
        let counts =
            Counts { parcels, real_name: check(a, b, d), inspection: check(e, f, g), security_scan: check(h, i, j) };
        Some((key, counts))
    }
}

/// A parcel's records, as a backend loads them for [`derive`].
#[derive(Debug, Default)]
pub struct ParcelRecords {
    /// Its waybill, once arrived.
    pub waybill: Option<Waybill>,
    /// Its events, any order.
    pub events: Vec<ScanEvent>,
    /// Its complaints.
    pub complaints: Vec<Complaint>,
}

/// A parcel's new state and the alerts it deserves that were not raised before.
#[derive(Debug)]
pub struct Derivation {
    /// The new state; `None` when the parcel has no records at all.
    pub state: Option<ParcelState>,
    /// Alerts whose condition now holds and did not before: to raise, or to reopen if they were cleared.
    pub new_alerts: Vec<NewAlert>,
    /// Keys of alerts whose condition held before and no longer does: to clear.
    pub cleared: Vec<String>,
}

/// An alert to store.
#[derive(Debug, Clone)]
pub struct NewAlert {
    /// The rules' draft.
    pub draft: AlertDraft,
    /// The parcel's origin city, for the regulators' filter and jurisdiction.
    pub origin_city: Option<AdminCode>,
    /// The parcel's destination city.
    pub destination_city: Option<AdminCode>,
    /// The draft's particulars as JSON text.
    pub detail: String,
}

/// Re-derives a parcel at `now`, given what it had contributed before (`old`).
pub fn derive(
    records: &ParcelRecords,
    old: Option<&ParcelState>,
    reference: &dyn Reference,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Derivation {
    let ctx = Context { reference, time_limits: &rules.time_limits };
    let Some(summary) = summarize(records.waybill.as_ref(), &records.events, &records.complaints, &ctx, now) else {
        return Derivation { state: None, new_alerts: Vec::new(), cleared: Vec::new() };
    };
    let scan = StuckScan::new(&rules.stuck);
    let alert_rules = alert::Rules { catalogue: &rules.catalogue, stuck: &scan };
    let assessment = alert::assess(records.waybill.as_ref(), &records.events, &Dyn(reference), &alert_rules, now);
    let was_active: &[String] = old.map_or(&[], |state| state.alert_keys.as_slice());
    let mut alert_keys: Vec<String> = assessment.alerts.iter().map(|draft| draft.dedup_key.clone()).collect();
    keep_still_stuck(was_active, &mut alert_keys);
    let cleared = was_active.iter().filter(|key| !alert_keys.contains(key)).cloned().collect();
    let mut new_alerts = Vec::new();
    for draft in assessment.alerts {
        if was_active.contains(&draft.dedup_key) {
            continue;
        }
        new_alerts.push(NewAlert {
            detail: detail_json(&draft.detail),
            origin_city: summary.origin_city,
            destination_city: summary.destination_city,
            draft,
        });
    }
    // The last of `compliance::ordered_events`, which `alert::assess` judges for silence.
    let last = records.events.iter().max_by(|a, b| (a.time, a.kind, &a.event_id).cmp(&(b.time, b.kind, &b.event_id)));
    let last_event = last.map(|event| LastEvent {
        id: event.event_id.as_str().to_owned(),
        kind: event.kind.as_str().to_owned(),
        at_ms: event.time.timestamp_millis(),
    });
    let check_at = next_check(&summary, last.map(|event| (event.time.timestamp_millis(), event.kind)), rules, now);
    let coverage = assessment.coverage.as_ref().map(|(key, counts)| CoverageRow::of(key, counts));
    Derivation { state: Some(ParcelState { summary, coverage, alert_keys, check_at, last_event }), new_alerts, cleared }
}

/// Re-derives at `now` a parcel whose records, reference data and rules are those `old` was derived from: only the
/// clock moved, as for every parcel a sweep takes. Equal to [`derive`] over the parcel's records (the store tests
/// compare the two on simulated traffic), without reading them: the summary's loss by silence, the stuck and
/// likely-loss verdicts on the last event and the next check are the only parts that depend on `now`, and the
/// state holds what they read. `None` when the state lacks its last event (stored before it was kept, or a parcel
/// without events): derive it from its records instead.
pub fn derive_after_clock(old: &ParcelState, rules: &Rules, now: DateTime<Utc>) -> Option<Derivation> {
    let last = old.last_event.as_ref()?;
    let kind = kuaidi_model::EventKind::parse(&last.kind).ok()?;
    let event_id = kuaidi_model::EventId::parse(&last.id).ok()?;
    let mut summary = old.summary.clone();
    // `summarize` falls back on silence only when no outcome event decided the parcel: it is in transit or damaged
    // unless silent, so those outcomes (and a loss by silence) are judged again; every other outcome is final.
    let undecided = summary.lost_by_silence
        || matches!(summary.outcome, kuaidi_rules::Outcome::InTransit | kuaidi_rules::Outcome::Damaged);
    if undecided {
        let silence = chrono::Duration::days(i64::from(rules.time_limits.lost_after_days));
        let silent = summary.last_scan_at.is_some_and(|last| now.signed_duration_since(last) > silence);
        summary.lost_by_silence = silent;
        summary.outcome = match (silent, summary.damaged) {
            (true, _) => kuaidi_rules::Outcome::Lost,
            (false, true) => kuaidi_rules::Outcome::Damaged,
            (false, false) => kuaidi_rules::Outcome::InTransit,
        };
        summary.open = true;
        summary.silent_lost_at = if silent { None } else { summary.last_scan_at.map(|last| last + silence) };
    }
    // The alerts that do not depend on the clock are those of the old state less its verdict on the last event.
    let is_verdict =
        |key: &str| key.strip_prefix("stuck:").or_else(|| key.strip_prefix("loss:silent:")) == Some(last.id.as_str());
    let was_active = old.alert_keys.as_slice();
    let mut alert_keys: Vec<String> = was_active.iter().filter(|key| !is_verdict(key)).cloned().collect();
    let mut new_alerts = Vec::new();
    if let Some(stage) = Stage::after(kind) {
        let scan = StuckScan::new(&rules.stuck);
        let verdict = scan.judge(stage, last.at_ms.div_euclid(1000), now.timestamp());
        if let Some(draft) = alert::inactivity_alert(&summary.carrier, &summary.waybill_no, &event_id, verdict) {
            // `assess` orders its drafts by kind and key.
            let rank = |key: &str| {
                alert::AlertKind::ALL
                    .iter()
                    .position(|kind| key.strip_prefix(kind.as_str()).is_some_and(|rest| rest.starts_with(':')))
            };
            let new_rank = alert::AlertKind::ALL.iter().position(|kind| *kind == draft.kind);
            debug_assert_eq!(rank(&draft.dedup_key), new_rank);
            let at = alert_keys
                .iter()
                .position(|key| (rank(key), key.as_str()) > (new_rank, draft.dedup_key.as_str()))
                .unwrap_or(alert_keys.len());
            alert_keys.insert(at, draft.dedup_key.clone());
            if !was_active.contains(&draft.dedup_key) {
                new_alerts.push(NewAlert {
                    detail: detail_json(&draft.detail),
                    origin_city: summary.origin_city,
                    destination_city: summary.destination_city,
                    draft,
                });
            }
        }
    }
    keep_still_stuck(was_active, &mut alert_keys);
    let cleared = was_active.iter().filter(|key| !alert_keys.contains(key)).cloned().collect();
    let check_at = next_check(&summary, Some((last.at_ms, kind)), rules, now);
    let state = ParcelState {
        summary,
        coverage: old.coverage.clone(),
        alert_keys,
        check_at,
        last_event: old.last_event.clone(),
    };
    Some(Derivation { state: Some(state), new_alerts, cleared })
}

/// A likely loss is a parcel still stuck: the rules name only the graver verdict, but the stuck alert stands.
fn keep_still_stuck(was_active: &[String], alert_keys: &mut Vec<String>) {
    for key in was_active {
        let still_stuck = key
            .strip_prefix("stuck:")
            .is_some_and(|event| alert_keys.iter().any(|active| active.strip_prefix("loss:silent:") == Some(event)));
        if still_stuck && !alert_keys.contains(key) {
            alert_keys.push(key.clone());
        }
    }
}

/// The next moment an open parcel can change with time alone: it turns stuck in its stage, likely lost, or lost by
/// silence; the earliest of those still after `now`. `last` is the time (unix milliseconds) and kind of its last
/// event.
fn next_check(
    summary: &ParcelSummary,
    last: Option<(i64, kuaidi_model::EventKind)>,
    rules: &Rules,
    now: DateTime<Utc>,
) -> Option<i64> {
    if !summary.open {
        return None;
    }
    let now_ms = now.timestamp_millis();
    let (last_ms, last_kind) = last?;
    let mut moments = vec![last_ms + i64::from(rules.stuck.likely_loss_hours) * 3_600_000];
    if let Some(stage) = Stage::after(last_kind) {
        // The stuck scan judges "silent for longer than the limit", so the moment is one millisecond past it.
        moments.push(last_ms + i64::from(rules.stuck.hours(stage)) * 3_600_000 + 1);
    }
    if let Some(lost_at) = summary.silent_lost_at {
        moments.push(lost_at.timestamp_millis());
    }
    moments.into_iter().filter(|&moment| moment > now_ms).min()
}

/// The reference data seen through `&dyn`, for rules that take `&impl Reference`.
struct Dyn<'a>(&'a dyn Reference);

impl Reference for Dyn<'_> {
    fn has_carrier(&self, code: &CarrierCode) -> bool {
        self.0.has_carrier(code)
    }

    fn facility(&self, code: &FacilityCode) -> Option<&kuaidi_model::Facility> {
        self.0.facility(code)
    }
}

/// The draft's particulars as JSON text, the object `serde_json::json!` would build, keys in its (alphabetical) order,
/// written straight from the detail: the alerts a sweep raises are mostly stuck and likely-loss ones, and building
/// each as a `serde_json::Value` map and then writing it out took 7.8 s of the writer's 102 s in a sweep of 10 million
/// parcels (docs/BENCHMARKS.md, session 24). Unit test `detail_text_is_what_json_would_write`.
fn detail_json(detail: &Detail) -> String {
    #[derive(Serialize)]
    struct Compliance<'a> {
        check: &'a str,
        reason: &'a str,
    }
    #[derive(Serialize)]
    struct ProhibitedItem<'a> {
        code: &'a str,
        field: String,
        name: &'a str,
        section: &'a str,
        term: &'a str,
        terms: &'a [String],
    }
    #[derive(Serialize)]
    struct Stuck<'a> {
        limit_hours: i64,
        silent_hours: i64,
        stage: &'a str,
    }
    #[derive(Serialize)]
    struct LikelyLoss<'a> {
        silent_hours: i64,
        stage: &'a str,
    }
    #[derive(Serialize)]
    struct Empty {}
    #[derive(Serialize)]
    struct ImpossibleChain<'a> {
        distance_km: Option<f64>,
        minutes: Option<i64>,
        rule: &'a str,
    }
    let text = match detail {
        Detail::Compliance { check, reason } => {
            serde_json::to_string(&Compliance { check: check.as_str(), reason: reason.as_str() })
        }
        Detail::ProhibitedItem { code, section, name, term, field, terms } => serde_json::to_string(&ProhibitedItem {
            code,
            field: format!("{field:?}").to_lowercase(),
            name,
            section,
            term,
            terms,
        }),
        Detail::Stuck { stage, silent_hours, limit_hours } => serde_json::to_string(&Stuck {
            limit_hours: *limit_hours,
            silent_hours: *silent_hours,
            stage: stage.as_str(),
        }),
        Detail::LikelyLoss { stage, silent_hours } => {
            serde_json::to_string(&LikelyLoss { silent_hours: *silent_hours, stage: stage.as_str() })
        }
        Detail::ReportedLost => serde_json::to_string(&Empty {}),
        Detail::ImpossibleChain { rule, distance_km, minutes } => serde_json::to_string(&ImpossibleChain {
            distance_km: *distance_km,
            minutes: *minutes,
            rule: rule.as_str(),
        }),
    };
    // Writing these structs to a string cannot fail: no map with non-string keys, no failing `Serialize`.
    text.unwrap_or_else(|_| String::from("{}"))
}

/// The aggregates: the indicator cube and the coverage table.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Aggregates {
    /// Quality counters by day, carrier, origin and destination.
    pub cube: Cube,
    /// Safety coverage counters by day, carrier, outlet, courier and city.
    pub coverage: CoverageTable,
}

impl Aggregates {
    /// Replaces a parcel's old contribution with its new one. Fails when the old contribution is not in the
    /// aggregates, which means the stored states and aggregates disagree.
    pub fn apply(&mut self, old: Option<&ParcelState>, new: Option<&ParcelState>) -> Result<(), StoreError> {
        // A sweep mostly changes a parcel's alerts and next check, not its summary: nothing to move in the cube.
        if old.map(|s| &s.summary) != new.map(|s| &s.summary) {
            self.cube.apply(old.map(|s| &s.summary), new.map(|s| &s.summary));
        }
        // Most records after the first sorting centre leave the coverage row as it was: nothing to move.
        if old.and_then(|s| s.coverage.as_ref()) == new.and_then(|s| s.coverage.as_ref()) {
            return Ok(());
        }
        let contribution = |state: Option<&ParcelState>| -> Result<_, StoreError> {
            state
                .and_then(|s| s.coverage.as_ref())
                .map(|row| {
                    row.to_contribution()
                        .ok_or_else(|| StoreError::new(ErrorKind::Other, "a stored coverage row no longer parses"))
                })
                .transpose()
        };
        let (old_coverage, new_coverage) = (contribution(old)?, contribution(new)?);
        if !self.coverage.apply(old_coverage.as_ref(), new_coverage.as_ref()) {
            return Err(StoreError::new(ErrorKind::Other, "the coverage counters lost track of a parcel"));
        }
        Ok(())
    }

    /// The aggregates of a set of parcel states, counted from scratch.
    pub fn recount<'a>(states: impl IntoIterator<Item = &'a ParcelState>) -> Result<Aggregates, StoreError> {
        let mut aggregates = Aggregates::default();
        for state in states {
            aggregates.apply(None, Some(state))?;
        }
        Ok(aggregates)
    }

    /// Every indicator cell with its counters.
    pub fn cells(&self) -> impl Iterator<Item = (kuaidi_rules::CellKey, Counters)> + '_ {
        self.cube.cells()
    }
}

/// The key of a parcel.
pub type ParcelKey = (CarrierCode, WaybillNo);

/// Sums coverage rows by a grouping, over the rows a filter takes.
pub fn coverage_rollup(table: &CoverageTable, filter: &CoverageFilter, group: CoverageGroup) -> Vec<(String, Counts)> {
    let mut out: BTreeMap<String, Counts> = BTreeMap::new();
    for (key, counts) in table.rows() {
        let within =
            filter.areas.is_empty() || key.city.is_some_and(|city| filter.areas.iter().any(|area| area.contains(city)));
        let taken = filter.carrier.as_ref().is_none_or(|carrier| *carrier == key.carrier)
            && within
            && filter.from_day.is_none_or(|day| key.day >= day)
            && filter.to_day.is_none_or(|day| key.day <= day);
        if !taken {
            continue;
        }
        let name = match group {
            CoverageGroup::All => "all".to_owned(),
            CoverageGroup::Carrier => key.carrier.to_string(),
            CoverageGroup::Outlet => key.outlet.to_string(),
            CoverageGroup::Courier => key.courier.clone().unwrap_or_else(|| "(none)".to_owned()),
            CoverageGroup::City => key.city.map_or_else(|| "(unknown)".to_owned(), |city| city.to_string()),
            CoverageGroup::Day => key.day.to_string(),
        };
        out.entry(name).or_default().add(counts);
    }
    out.into_iter().collect()
}

/// Carriers and facilities as the rules see them, held by a backend beside its writer: built from the stored rows,
/// and kept current with the reference records the backend stores.
#[derive(Debug, Default, Clone)]
pub struct RefCache {
    carriers: HashSet<CarrierCode, foldhash::fast::RandomState>,
    facilities: HashMap<FacilityCode, Facility, foldhash::fast::RandomState>,
}

impl Reference for RefCache {
    fn has_carrier(&self, code: &CarrierCode) -> bool {
        self.carriers.contains(code)
    }

    fn facility(&self, code: &FacilityCode) -> Option<&Facility> {
        self.facilities.get(code)
    }
}

impl RefCache {
    /// A cache holding these carriers and facilities.
    pub fn new(
        carriers: impl IntoIterator<Item = CarrierCode>,
        facilities: impl IntoIterator<Item = Facility>,
    ) -> RefCache {
        RefCache {
            carriers: carriers.into_iter().collect(),
            facilities: facilities.into_iter().map(|facility| (facility.code.clone(), facility)).collect(),
        }
    }

    /// Takes in a carrier or facility that has just been stored.
    pub fn note(&mut self, record: &Record) {
        match record {
            Record::Carrier(carrier) => {
                self.carriers.insert(carrier.code.clone());
            }
            Record::Facility(facility) => {
                self.facilities.insert(facility.code.clone(), facility.clone());
            }
            _ => {}
        }
    }

    /// Whether it knows every carrier and facility a parcel's records name.
    pub fn covers(&self, records: &ParcelRecords) -> bool {
        let carriers = records
            .waybill
            .iter()
            .map(|w| &w.carrier)
            .chain(records.events.iter().map(|e| &e.carrier))
            .chain(records.complaints.iter().map(|c| &c.carrier));
        let facilities =
            records.events.iter().flat_map(|e| std::iter::once(&e.facility).chain(e.next_facility.as_ref()));
        carriers.into_iter().all(|c| self.carriers.contains(c))
            && facilities.into_iter().all(|f| self.facilities.contains_key(f))
    }
}

pub mod codec;
#[cfg(test)]
mod tests;
