//! Alerts: every alert a parcel deserves right now, as drafts the store keeps, deduplicated by a stable key.
//!
//! [`assess`] runs every rule over one parcel (its waybill, its events and `now`) and returns its compliance, its
//! coverage contribution and its alert drafts, so the store's ingest upkeep makes one call per touched parcel.
//! The scheduled stuck scan, which holds only each open parcel's last state, uses [`StuckScan::judge`] and
//! [`inactivity_alert`]; both paths build the same drafts with the same keys.
//!
//! | kind | raised when | dedup key (unique within the parcel) | events named |
//! |---|---|---|---|
//! | `compliance` | a check fails (`compliance`) | `compliance:<check>` | the check's events |
//! | `prohibited_item` | declared contents hit an item of the catalogue (`prohibited`) | `prohibited_item:<code>` | none: the evidence is the waybill |
//! | `stuck` | no scan for longer than the stage's limit (`stuck`) | `stuck:<last event id>` | the last event |
//! | `loss` | a `lost` event (`reported_lost`), or no scan for `likely_loss_hours` (`silent_too_long`) | `loss:reported:<event id>`, `loss:silent:<last event id>` | that event |
//! | `impossible_chain` | a chain rule breaks (`chain`) | `impossible_chain:<rule>:<event ids>`; the two before-acceptance rules share `impossible_chain:before_acceptance:<accept id>` | the rule's events |
//!
//! A key depends only on what raised the alert, never on `now` or on the order events arrived in, so re-running
//! detection on a later ingest finds the same key and the store keeps one alert. A new stuck episode (the parcel
//! moved, then stopped again) has a new last event and so a new key. A draft that a later ingest no longer produces
//! (a late inspection event turns a failed check into a passed one) is not withdrawn here: the store decides what to
//! do with open alerts whose key is gone.

use chrono::{DateTime, Utc};
use kuaidi_model::{CarrierCode, EventId, EventKind, Reference, ScanEvent, Waybill, WaybillNo};

use crate::chain::{self, Rule};
use crate::compliance::{self, ordered_events, Check, Compliance, Failure, Outcome};
use crate::coverage::{contribution_ordered, Contribution};
use crate::prohibited::{Catalogue, Field};
use crate::stuck::{Stage, StuckScan, Verdict};

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertKind {
    /// One of the three safety systems failed.
    Compliance,
    /// The declared contents name a prohibited item.
    ProhibitedItem,
    /// No scan for longer than the stage allows.
    Stuck,
    /// Reported lost, or silent so long it is likely lost.
    Loss,
    /// The events cannot all be true.
    ImpossibleChain,
}

impl AlertKind {
    /// Every kind.
    pub const ALL: [AlertKind; 5] = [
        AlertKind::Compliance,
        AlertKind::ProhibitedItem,
        AlertKind::Stuck,
        AlertKind::Loss,
        AlertKind::ImpossibleChain,
    ];

    /// The snake_case name, for filters.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Compliance => "compliance",
            AlertKind::ProhibitedItem => "prohibited_item",
            AlertKind::Stuck => "stuck",
            AlertKind::Loss => "loss",
            AlertKind::ImpossibleChain => "impossible_chain",
        }
    }
}

/// The particulars of an alert.
#[derive(Debug, Clone, PartialEq)]
pub enum Detail {
    /// A failed check and its reason.
    Compliance { check: Check, reason: Failure },
    /// A catalogue item, the first term that hit it, and every term that did.
    ProhibitedItem {
        /// The item's code, such as `3.2`.
        code: String,
        /// The section heading, such as `爆炸物品`.
        section: String,
        /// The item's name, such as `烟花爆竹`.
        name: String,
        /// The first term matched.
        term: String,
        /// Where it was found.
        field: Field,
        /// Every term of this item that matched, in the order found.
        terms: Vec<String>,
    },
    /// Stuck in a stage.
    Stuck { stage: Stage, silent_hours: i64, limit_hours: i64 },
    /// Silent long enough to be a likely loss.
    LikelyLoss { stage: Stage, silent_hours: i64 },
    /// The carrier reported the parcel lost.
    ReportedLost,
    /// A broken chain rule; for `implausible_speed`, the distance and the minutes between the scans.
    ImpossibleChain { rule: Rule, distance_km: Option<f64>, minutes: Option<i64> },
}

impl Detail {
    /// The stable snake_case reason code.
    pub fn reason_code(&self) -> &'static str {
        match self {
            Detail::Compliance { reason, .. } => reason.as_str(),
            Detail::ProhibitedItem { .. } => "prohibited_item_declared",
            Detail::Stuck { .. } => "no_scan_within_limit",
            Detail::LikelyLoss { .. } => "silent_too_long",
            Detail::ReportedLost => "reported_lost",
            Detail::ImpossibleChain { rule, .. } => rule.as_str(),
        }
    }
}

/// An alert as detected, before the store gives it an id, a status and a time.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertDraft {
    /// What it is about.
    pub kind: AlertKind,
    /// The parcel's carrier: carriers see the alerts against themselves.
    pub carrier: CarrierCode,
    /// The parcel.
    pub waybill_no: WaybillNo,
    /// The events that raised it.
    pub events: Vec<EventId>,
    /// The particulars.
    pub detail: Detail,
    /// Stable within the parcel: the store's unique key is `(carrier, waybill_no, dedup_key)`.
    pub dedup_key: String,
}

/// The configured rules `assess` needs besides the reference data.
#[derive(Debug, Clone, Copy)]
pub struct Rules<'a> {
    /// The prohibited-items catalogue.
    pub catalogue: &'a Catalogue,
    /// The stuck and loss limits.
    pub stuck: &'a StuckScan,
}

/// Everything the rules say about one parcel now.
#[derive(Debug, Clone)]
pub struct Assessment {
    /// The three checks.
    pub compliance: Compliance,
    /// Its coverage contribution, `None` before any scan.
    pub coverage: Option<Contribution>,
    /// Every alert it deserves now, ordered by kind and key.
    pub alerts: Vec<AlertDraft>,
}

/// Runs every rule over one parcel: its waybill (when it has arrived), its events (any order, repeats allowed) and
/// `now`. Returns nothing to alert on when neither a waybill nor an event names the parcel.
pub fn assess(
    waybill: Option<&Waybill>,
    events: &[ScanEvent],
    reference: &impl Reference,
    rules: &Rules<'_>,
    now: DateTime<Utc>,
) -> Assessment {
    // Sorted once; every rule below reads this order.
    let ordered = ordered_events(events);
    let compliance = compliance::check_ordered(waybill, &ordered, reference);
    let coverage = contribution_ordered(waybill, &ordered, &compliance, reference);
    let parcel = waybill
        .map(|w| (w.carrier.clone(), w.waybill_no.clone()))
        .or_else(|| events.first().map(|e| (e.carrier.clone(), e.waybill_no.clone())));
    let Some((carrier, waybill_no)) = parcel else {
        return Assessment { compliance, coverage, alerts: Vec::new() };
    };
    let mut alerts = Vec::new();
    let mut push = |kind: AlertKind, events: Vec<EventId>, detail: Detail, dedup_key: String| {
        alerts.push(AlertDraft {
            kind,
            carrier: carrier.clone(),
            waybill_no: waybill_no.clone(),
            events,
            detail,
            dedup_key,
        });
    };

    for check in Check::ALL {
        if let Outcome::Failed { reason, events } = compliance.outcome(check) {
            let key = format!("compliance:{}", check.as_str());
            push(AlertKind::Compliance, events.clone(), Detail::Compliance { check, reason: *reason }, key);
        }
    }

    if let Some(waybill) = waybill {
        let hits = rules.catalogue.screen(&waybill.contents);
        let mut seen: Vec<&str> = Vec::new();
        for hit in &hits {
            if seen.contains(&hit.category.code.as_str()) {
                continue;
            }
            seen.push(&hit.category.code);
            let terms =
                hits.iter().filter(|h| std::ptr::eq(h.category, hit.category)).map(|h| h.term.to_owned()).collect();
            let detail = Detail::ProhibitedItem {
                code: hit.category.code.clone(),
                section: hit.category.section.clone(),
                name: hit.category.name.clone(),
                term: hit.term.to_owned(),
                field: hit.field,
                terms,
            };
            push(AlertKind::ProhibitedItem, Vec::new(), detail, format!("prohibited_item:{}", hit.category.code));
        }
    }

    for event in ordered.iter().filter(|e| e.kind == EventKind::Lost) {
        let key = format!("loss:reported:{}", event.event_id);
        push(AlertKind::Loss, vec![event.event_id.clone()], Detail::ReportedLost, key);
    }
    if let Some((event, Some(stage))) = ordered.last().map(|e| (e, Stage::after(e.kind))) {
        let verdict = rules.stuck.judge(stage, event.time.timestamp(), now.timestamp());
        if let Some(draft) = inactivity_alert(&carrier, &waybill_no, &event.event_id, verdict) {
            alerts.push(draft);
        }
    }

    for violation in chain::check_ordered(&ordered, reference) {
        let key = match violation.rule {
            Rule::DeliveredBeforeAccepted | Rule::ScannedBeforeAccepted => {
                let accept = violation.events.last().map_or("", EventId::as_str);
                format!("impossible_chain:before_acceptance:{accept}")
            }
            rule => {
                let ids: Vec<&str> = violation.events.iter().map(EventId::as_str).collect();
                format!("impossible_chain:{}:{}", rule.as_str(), ids.join(":"))
            }
        };
        let detail = Detail::ImpossibleChain {
            rule: violation.rule,
            distance_km: violation.distance.map(|(km, _)| km),
            minutes: violation.distance.map(|(_, minutes)| minutes),
        };
        alerts.push(AlertDraft {
            kind: AlertKind::ImpossibleChain,
            carrier: carrier.clone(),
            waybill_no: waybill_no.clone(),
            events: violation.events,
            detail,
            dedup_key: key,
        });
    }
    alerts.sort_by(|a, b| (a.kind, &a.dedup_key).cmp(&(b.kind, &b.dedup_key)));
    Assessment { compliance, coverage, alerts }
}

/// Every alert one parcel deserves now; [`assess`] without the compliance and coverage.
pub fn detect(
    waybill: Option<&Waybill>,
    events: &[ScanEvent],
    reference: &impl Reference,
    rules: &Rules<'_>,
    now: DateTime<Utc>,
) -> Vec<AlertDraft> {
    assess(waybill, events, reference, rules, now).alerts
}

/// The alert for a stuck scan's verdict on a parcel whose last event is `last_event`; `None` when it is moving.
pub fn inactivity_alert(
    carrier: &CarrierCode,
    waybill_no: &WaybillNo,
    last_event: &EventId,
    verdict: Verdict,
) -> Option<AlertDraft> {
    let (kind, detail, key) = match verdict {
        Verdict::Moving => return None,
        Verdict::Stuck { stage, silent_secs, limit_secs } => (
            AlertKind::Stuck,
            Detail::Stuck { stage, silent_hours: silent_secs / 3600, limit_hours: limit_secs / 3600 },
            format!("stuck:{last_event}"),
        ),
        Verdict::LikelyLoss { stage, silent_secs } => (
            AlertKind::Loss,
            Detail::LikelyLoss { stage, silent_hours: silent_secs / 3600 },
            format!("loss:silent:{last_event}"),
        ),
    };
    Some(AlertDraft {
        kind,
        carrier: carrier.clone(),
        waybill_no: waybill_no.clone(),
        events: vec![last_event.clone()],
        detail,
        dedup_key: key,
    })
}

#[cfg(test)]
mod tests;
