//! The parcel summary: everything the indicators need to know about one parcel, derived from its waybill, its scan
//! events and its complaints.
//!
//! A summary is a pure function of its inputs taken as *sets*: events may come in any order and any number of times
//! (a re-sent event has the same id), and the summary is the same. That is what lets a store keep the indicators by
//! re-summarizing a parcel whenever one of its records arrives, late or twice, and applying the difference.
//!
//! # Definitions
//! - **Accepted at**: the time of the first `accept` event; without one, of the first event of any kind (a carrier
//!   that never sends `accept` still gets its parcels counted from their first scan).
//! - **Delivered at**: the time of the first *delivery outcome* event: `delivered`, `into_locker` or `refused`
//!   (a refusal is the courier's delivery attempt; this is also the simulator's rule).
//! - **Delivery time**: delivered at minus accepted at.
//! - **Origin and destination city**: the prefectures of the waybill's sender and receiver divisions when the waybill
//!   is known; otherwise the city of the facility of the first event (origin) and of the delivery outcome event
//!   (destination). The waybill is preferred because the time-limit promise is made at acceptance between the two
//!   addresses, and it must not change as the parcel moves (a parcel misrouted through another city keeps its class).
//! - **Route**: the facilities of the events in order, consecutive repeats collapsed; **transit hops**: how many of
//!   them are sorting centres or hubs (路由经转层级).
//! - **Outcome**, the first that holds: `lost` when the last event is `lost` (a lost parcel scanned again later is
//!   found, and is judged by its other events); `returned` when any event is `returned`; `refused` when any is
//!   `refused`; `into_locker` or `delivered` after the kind of the first delivery outcome event; `lost` (by silence)
//!   when the parcel was accepted and has had no scan for more than `lost_after_days` at `now`; `damaged` when any
//!   event is `damaged`; otherwise `in_transit`. Damage is also kept as a flag, since a damaged parcel may go on to
//!   be delivered.
//! - **Time limit**: the parcel's own promised deadline when one is given, otherwise the class of its city pair
//!   ([`TimeLimits::classify`]) and a deadline that many hours after acceptance.
//! - **Delayed**: delivered at is later than the deadline; exactly at the deadline is on time. Not judged (`None`)
//!   without a delivery outcome, an acceptance or a time limit.
//! - **Complaints**: those naming this carrier and waybill, one per complaint id; only `valid` ones count.

use std::cmp::Ordering;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use kuaidi_model::{
    AdminCode, CarrierCode, Complaint, EventKind, FacilityCode, FacilityKind, Reference, ScanEvent, Signer, Verdict,
    Waybill, WaybillNo,
};
use serde::{Deserialize, Serialize};

use crate::indicators::CellKey;
use crate::serde_codes;
use crate::time_limit::{TimeLimitClass, TimeLimits};

#[cfg(test)]
mod tests;

/// China Standard Time, in which the indicators' days run.
pub fn china_standard_time() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is within a day")
}

/// What a summary is derived with: the reference data (for facilities' cities and kinds) and the rules.
pub struct Context<'a> {
    /// Registered facilities.
    pub reference: &'a dyn Reference,
    /// The time-limit rules and the silence limit.
    pub time_limits: &'a TimeLimits,
}

impl std::fmt::Debug for Context<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context").field("time_limits", self.time_limits).finish_non_exhaustive()
    }
}

/// Where a parcel ended, or stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Delivered and signed for (by the receiver, someone else or a station).
    Delivered,
    /// Put into a smart locker (picked up later or not).
    IntoLocker,
    /// Refused by the receiver.
    Refused,
    /// Returned to the sender.
    Returned,
    /// Found damaged, and not (yet) delivered.
    Damaged,
    /// Reported lost, or silent for longer than the silence limit.
    Lost,
    /// On its way.
    InTransit,
}

impl Outcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::IntoLocker => "into_locker",
            Outcome::Refused => "refused",
            Outcome::Returned => "returned",
            Outcome::Damaged => "damaged",
            Outcome::Lost => "lost",
            Outcome::InTransit => "in_transit",
        }
    }
}

/// A complaint as a summary keeps it: without the consumer's words, which may hold personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComplaintNote {
    /// The complaint id.
    pub id: String,
    /// Its category's wire name (`delay`, `loss`, ...).
    pub category: String,
    /// Its verdict's wire name (`pending`, `valid`, `invalid`).
    pub verdict: String,
}

/// Everything the indicators and a store's index need to know about one parcel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParcelSummary {
    /// The carrier.
    #[serde(with = "serde_codes::carrier")]
    pub carrier: CarrierCode,
    /// The waybill number.
    #[serde(with = "serde_codes::waybill_no")]
    pub waybill_no: WaybillNo,
    /// When it was accepted; `None` before its first scan, and then it is in no indicator.
    #[serde(with = "serde_codes::time_opt")]
    pub accepted_at: Option<DateTime<FixedOffset>>,
    /// When it reached its first delivery outcome (`delivered`, `into_locker` or `refused`).
    #[serde(with = "serde_codes::time_opt")]
    pub delivered_at: Option<DateTime<FixedOffset>>,
    /// Its latest scan.
    #[serde(with = "serde_codes::time_opt")]
    pub last_scan_at: Option<DateTime<FixedOffset>>,
    /// The origin city (prefecture code).
    #[serde(with = "serde_codes::admin_opt")]
    pub origin_city: Option<AdminCode>,
    /// The destination city (prefecture code); unknown without a waybill until delivery.
    #[serde(with = "serde_codes::admin_opt")]
    pub destination_city: Option<AdminCode>,
    /// The facility codes it passed, in order, consecutive repeats collapsed.
    #[serde(with = "serde_codes::facilities")]
    pub route: Vec<FacilityCode>,
    /// How many sorting centres and hubs it passed.
    pub transit_hops: u32,
    /// Where it ended, or stands.
    pub outcome: Outcome,
    /// Whether the outcome `lost` comes from silence rather than a `lost` report.
    pub lost_by_silence: bool,
    /// Whether it was found damaged at any point.
    pub damaged: bool,
    /// Whether it was delivered through a smart locker (`into_locker`, or `delivered` signed by a locker).
    pub locker_delivery: bool,
    /// Whether its waybill is electronic; `None` when the waybill is not known.
    pub electronic_waybill: Option<bool>,
    /// Its time-limit class; `None` when its cities are not known and no deadline was promised.
    pub time_limit: Option<TimeLimitClass>,
    /// The latest on-time delivery.
    #[serde(with = "serde_codes::time_opt")]
    pub deadline: Option<DateTime<FixedOffset>>,
    /// Delivered at minus accepted at, in seconds.
    pub delivery_seconds: Option<i64>,
    /// Whether it was delivered after its deadline; `None` when that cannot be judged yet.
    pub delayed: Option<bool>,
    /// Its complaints, one per id.
    pub complaints: Vec<ComplaintNote>,
    /// How many of them are valid.
    pub valid_complaints: u32,
    /// Whether its outcome may still change on its own, with no new record: true until a final outcome
    /// (`delivered`, `into_locker`, `refused`, `returned`, or a reported `lost`) is reached. A store keeps open
    /// parcels indexed by [`ParcelSummary::silent_lost_at`] and re-summarizes them when that time passes.
    pub open: bool,
    /// When an open parcel turns lost by silence if no scan arrives: its last scan plus the silence limit.
    #[serde(with = "serde_codes::time_opt")]
    pub silent_lost_at: Option<DateTime<FixedOffset>>,
}

impl ParcelSummary {
    /// The cell this parcel counts in; `None` until it is accepted.
    pub fn cell(&self) -> Option<CellKey> {
        let accepted_at = self.accepted_at?;
        Some(CellKey {
            day: accept_day(accepted_at),
            carrier: self.carrier.clone(),
            origin: self.origin_city,
            destination: self.destination_city,
        })
    }
}

/// The day, in China Standard Time, that a time falls on.
pub fn accept_day(time: DateTime<FixedOffset>) -> NaiveDate {
    time.with_timezone(&china_standard_time()).date_naive()
}

/// Summarizes a parcel with no promised deadline of its own; see [`summarize_with_promise`].
pub fn summarize(
    waybill: Option<&Waybill>,
    events: &[ScanEvent],
    complaints: &[Complaint],
    ctx: &Context<'_>,
    now: DateTime<Utc>,
) -> Option<ParcelSummary> {
    summarize_with_promise(waybill, events, complaints, None, ctx, now)
}

/// Summarizes a parcel (see the module docs for every definition).
///
/// The parcel is the waybill's; without one, the smallest `(carrier, waybill_no)` among the events. Events and
/// complaints of other parcels are ignored. `promised_by`, when given, is the parcel's own deadline and replaces
/// the class limit. `now` matters only for loss by silence. Returns `None` when there is neither a waybill nor an
/// event, so no parcel to name.
pub fn summarize_with_promise(
    waybill: Option<&Waybill>,
    events: &[ScanEvent],
    complaints: &[Complaint],
    promised_by: Option<DateTime<FixedOffset>>,
    ctx: &Context<'_>,
    now: DateTime<Utc>,
) -> Option<ParcelSummary> {
    let (carrier, waybill_no) = match waybill {
        Some(waybill) => (waybill.carrier.clone(), waybill.waybill_no.clone()),
        None => {
            let first = events.iter().min_by(|a, b| (&a.carrier, &a.waybill_no).cmp(&(&b.carrier, &b.waybill_no)))?;
            (first.carrier.clone(), first.waybill_no.clone())
        }
    };
    let events = canonical_events(events, &carrier, &waybill_no);
    let limits = ctx.time_limits;

    let accept_event = events.iter().find(|e| e.kind == EventKind::Accept).or(events.first());
    let accepted_at = accept_event.map(|e| e.time);
    let last_scan_at = events.last().map(|e| e.time);
    let outcome_event = events.iter().find(|e| is_delivery_outcome(e.kind));
    let delivered_at = outcome_event.map(|e| e.time);

    let facility_city = |event: Option<&ScanEvent>| {
        event.and_then(|e| ctx.reference.facility(&e.facility)).map(|facility| facility.city())
    };
    let (origin_city, destination_city) = match waybill {
        Some(waybill) => {
            (Some(waybill.sender.address.division.prefecture()), Some(waybill.receiver.address.division.prefecture()))
        }
        None => (facility_city(accept_event.copied()), facility_city(outcome_event.copied())),
    };

    let mut route: Vec<FacilityCode> = Vec::new();
    let mut transit_hops = 0;
    for event in &events {
        if route.last() != Some(&event.facility) {
            route.push(event.facility.clone());
            let kind = ctx.reference.facility(&event.facility).map(|facility| facility.kind);
            if matches!(kind, Some(FacilityKind::SortingCentre | FacilityKind::Hub)) {
                transit_hops += 1;
            }
        }
    }

    let any = |kind: EventKind| events.iter().any(|e| e.kind == kind);
    let damaged = any(EventKind::Damaged);
    let reported_lost = events.last().is_some_and(|e| e.kind == EventKind::Lost);
    let silence = Duration::days(i64::from(limits.lost_after_days));
    let silent = last_scan_at.is_some_and(|last| now.signed_duration_since(last) > silence);
    let (outcome, lost_by_silence) = if reported_lost {
        (Outcome::Lost, false)
    } else if any(EventKind::Returned) {
        (Outcome::Returned, false)
    } else if any(EventKind::Refused) {
        (Outcome::Refused, false)
    } else if let Some(event) = outcome_event {
        if event.kind == EventKind::IntoLocker {
            (Outcome::IntoLocker, false)
        } else {
            (Outcome::Delivered, false)
        }
    } else if silent {
        (Outcome::Lost, true)
    } else if damaged {
        (Outcome::Damaged, false)
    } else {
        (Outcome::InTransit, false)
    };
    let open = matches!(outcome, Outcome::InTransit | Outcome::Damaged) || lost_by_silence;
    let silent_lost_at = if open && !lost_by_silence { last_scan_at.map(|last| last + silence) } else { None };
    let locker_delivery = matches!(outcome, Outcome::Delivered | Outcome::IntoLocker)
        && events.iter().any(|e| {
            e.kind == EventKind::IntoLocker || (e.kind == EventKind::Delivered && e.signer == Some(Signer::Locker))
        });

    let (time_limit, deadline) = match (promised_by, accepted_at, origin_city, destination_city) {
        (Some(promised_by), _, _, _) => (Some(TimeLimitClass::Promised), Some(promised_by)),
        (None, Some(accepted_at), Some(origin), Some(destination)) => {
            let class = limits.classify(origin, destination);
            let hours = limits.hours(class).unwrap_or(0);
            (Some(class), Some(accepted_at + Duration::hours(i64::from(hours))))
        }
        _ => (None, None),
    };
    let delivery_seconds = match (accepted_at, delivered_at) {
        (Some(accepted_at), Some(delivered_at)) => Some((delivered_at - accepted_at).num_seconds()),
        _ => None,
    };
    let delayed = match (accepted_at, delivered_at, deadline) {
        (Some(_), Some(delivered_at), Some(deadline)) => Some(delivered_at > deadline),
        _ => None,
    };

    let mut notes: Vec<(&Complaint, Verdict)> = complaints
        .iter()
        .filter(|c| c.carrier == carrier && c.waybill_no == waybill_no)
        .map(|c| (c, c.verdict))
        .collect();
    // One per id; should copies disagree, the order of `Verdict` decides, so the result does not depend on input order.
    notes.sort_by(|a, b| (&a.0.id, a.1).cmp(&(&b.0.id, b.1)));
    notes.dedup_by(|later, earlier| later.0.id == earlier.0.id);
    let valid_complaints = notes.iter().filter(|(_, verdict)| *verdict == Verdict::Valid).count() as u32;
    let complaints = notes
        .iter()
        .map(|(c, verdict)| ComplaintNote {
            id: c.id.as_str().to_owned(),
            category: c.category.as_str().to_owned(),
            verdict: verdict.as_str().to_owned(),
        })
        .collect();

    Some(ParcelSummary {
        carrier,
        waybill_no,
        accepted_at,
        delivered_at,
        last_scan_at,
        origin_city,
        destination_city,
        route,
        transit_hops,
        outcome,
        lost_by_silence,
        damaged,
        locker_delivery,
        electronic_waybill: waybill.map(|w| w.electronic),
        time_limit,
        deadline,
        delivery_seconds,
        delayed,
        complaints,
        valid_complaints,
        open,
        silent_lost_at,
    })
}

fn is_delivery_outcome(kind: EventKind) -> bool {
    matches!(kind, EventKind::Delivered | EventKind::IntoLocker | EventKind::Refused)
}

/// The parcel's events, one per event id, in the hub's total order (instant, lifecycle order of kind, id).
///
/// Copies of one id are meant to be identical (the store rejects a different record under the same key), and
/// identical copies sort next to each other; should copies differ anyway, the first in that order is kept, whatever
/// the input order. Ids are compared only to find copies: a parcel has a few dozen events at most, and sorting by
/// instant first keeps string comparisons off the hot path.
fn canonical_events<'e>(events: &'e [ScanEvent], carrier: &CarrierCode, waybill_no: &WaybillNo) -> Vec<&'e ScanEvent> {
    let mut own: Vec<&ScanEvent> =
        events.iter().filter(|e| &e.carrier == carrier && &e.waybill_no == waybill_no).collect();
    own.sort_by(|a, b| event_order(a, b));
    own.dedup_by(|later, earlier| same_id(later, earlier));
    let mut kept: Vec<&ScanEvent> = Vec::with_capacity(own.len());
    for event in own {
        if !kept.iter().any(|earlier| same_id(earlier, event)) {
            kept.push(event);
        }
    }
    kept
}

/// Whether two events have the same id. Ids of one parcel usually differ in their last character (a sequence
/// number), so that is compared first, which saves a call to `memcmp` for most pairs.
fn same_id(a: &ScanEvent, b: &ScanEvent) -> bool {
    let (a, b) = (a.event_id.as_str().as_bytes(), b.event_id.as_str().as_bytes());
    a.last() == b.last() && a == b
}

fn event_order(a: &ScanEvent, b: &ScanEvent) -> Ordering {
    (a.time, a.kind, &a.event_id).cmp(&(b.time, b.kind, &b.event_id))
}
