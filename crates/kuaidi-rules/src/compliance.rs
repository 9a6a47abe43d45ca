//! The three safety systems (三项制度) for one parcel: real-name sending, inspection at acceptance, and the X-ray
//! security scan before line-haul.
//!
//! Each check ends in one [`Outcome`]: passed (with the evidence), failed (a stable snake_case reason code and the
//! events involved), or pending (not decidable yet, with the reason). The rules, in full:
//!
//! **Real name (实名收寄).** Decidable once the parcel has any scan and its waybill is known.
//! Passed when the waybill carries a real-name record marked verified; failed `real_name_missing` when it carries
//! none, `real_name_unverified` when the courier did not check the document. The evidence is the acceptance event
//! (the earliest `accept`, or the earliest scan when there is no `accept`).
//! Pending `waybill_missing` while events exist but the waybill has not arrived, `not_accepted` while there is no scan.
//!
//! **Inspection (收寄验视).** The parcel's *first move* is its earliest event that takes it away from acceptance:
//! a `depart`, `out_for_delivery`, `into_locker`, `delivered`, `refused` or `returned`, or any event at a facility
//! other than the acceptance facility. Passed when an `inspect` event at the acceptance facility is at or before the
//! first move (or there is no move yet); an inspection elsewhere is itself a move, so never in time. Failed `inspection_missing` (evidence: the first move) when the parcel moved without any inspection,
//! `inspection_after_departure` (evidence: the first move and the first inspection) when it was inspected only later.
//! Pending `not_departed` while it has not moved and has not been inspected.
//!
//! **Security scan (过机安检).** The parcel's *first sorting centre* is the facility of its earliest event at a sorting
//! centre or hub (by the reference data). The *line-haul departure* is its earliest `depart` from there; when the
//! parcel left without a departure scan, its earliest later event elsewhere stands in; when it reached delivery
//! (`out_for_delivery`, `into_locker`, `delivered`, `refused`) without passing any sorting centre, that event stands
//! in. Passed when a `security_scan` event is at or before that point (a scan at the outlet, earlier, counts); when
//! a later event stands in for an unscanned departure, a scan at that later facility does not count even in the same
//! second.
//! Failed `security_scan_missing` (evidence: the departure) or `security_scan_after_departure` (evidence: the
//! departure and the first scan). Pending `not_past_sorting_centre` while the parcel has not left its first sorting
//! centre or reached delivery, `not_accepted` while there is no scan.
//!
//! "At or before" compares instants: a scan and a departure reported in the same second are in order.
//! Every rule reads the events in the one order of [`ordered_events`], so the outcome is the same for any permutation
//! of the events and for repeated events.

use kuaidi_model::{EventId, EventKind, FacilityCode, FacilityKind, Reference, ScanEvent, Waybill};

/// One of the three checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Check {
    /// 实名收寄.
    RealName,
    /// 收寄验视.
    Inspection,
    /// 过机安检.
    SecurityScan,
}

impl Check {
    /// The three checks in a fixed order.
    pub const ALL: [Check; 3] = [Check::RealName, Check::Inspection, Check::SecurityScan];

    /// The snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::RealName => "real_name",
            Check::Inspection => "inspection",
            Check::SecurityScan => "security_scan",
        }
    }

    /// The Chinese name regulators use.
    pub fn name_zh(self) -> &'static str {
        match self {
            Check::RealName => "实名收寄",
            Check::Inspection => "收寄验视",
            Check::SecurityScan => "过机安检",
        }
    }
}

/// Why a check failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Failure {
    /// The waybill has no real-name record.
    RealNameMissing,
    /// The real-name record was not verified against the sender.
    RealNameUnverified,
    /// The parcel moved on without any inspection.
    InspectionMissing,
    /// The parcel was inspected only after it moved on.
    InspectionAfterDeparture,
    /// The parcel left its first sorting centre (or reached delivery) without a security scan.
    SecurityScanMissing,
    /// The parcel was security-scanned only after it left its first sorting centre.
    SecurityScanAfterDeparture,
}

impl Failure {
    /// The stable snake_case reason code.
    pub fn as_str(self) -> &'static str {
        match self {
            Failure::RealNameMissing => "real_name_missing",
            Failure::RealNameUnverified => "real_name_unverified",
            Failure::InspectionMissing => "inspection_missing",
            Failure::InspectionAfterDeparture => "inspection_after_departure",
            Failure::SecurityScanMissing => "security_scan_missing",
            Failure::SecurityScanAfterDeparture => "security_scan_after_departure",
        }
    }
}

/// Why a check cannot be decided yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Pending {
    /// No scan yet: the parcel has not been accepted.
    NotAccepted,
    /// Events exist but the waybill has not arrived.
    WaybillMissing,
    /// The parcel has not moved on from acceptance, and has not been inspected.
    NotDeparted,
    /// The parcel has not left its first sorting centre, nor reached delivery, and has not been scanned.
    NotPastSortingCentre,
}

impl Pending {
    /// The stable snake_case reason code.
    pub fn as_str(self) -> &'static str {
        match self {
            Pending::NotAccepted => "not_accepted",
            Pending::WaybillMissing => "waybill_missing",
            Pending::NotDeparted => "not_departed",
            Pending::NotPastSortingCentre => "not_past_sorting_centre",
        }
    }
}

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The check holds; `events` are the evidence.
    Passed { events: Vec<EventId> },
    /// The check failed; `events` are the events involved.
    Failed { reason: Failure, events: Vec<EventId> },
    /// Not decidable yet.
    Pending { reason: Pending },
}

impl Outcome {
    /// `passed`, `failed` or `pending`.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Passed { .. } => "passed",
            Outcome::Failed { .. } => "failed",
            Outcome::Pending { .. } => "pending",
        }
    }

    /// The reason code of a failed or pending outcome.
    pub fn reason(&self) -> Option<&'static str> {
        match self {
            Outcome::Passed { .. } => None,
            Outcome::Failed { reason, .. } => Some(reason.as_str()),
            Outcome::Pending { reason } => Some(reason.as_str()),
        }
    }

    /// The events the outcome names (none when pending).
    pub fn events(&self) -> &[EventId] {
        match self {
            Outcome::Passed { events } | Outcome::Failed { events, .. } => events,
            Outcome::Pending { .. } => &[],
        }
    }
}

/// The three outcomes of one parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compliance {
    /// 实名收寄.
    pub real_name: Outcome,
    /// 收寄验视.
    pub inspection: Outcome,
    /// 过机安检.
    pub security_scan: Outcome,
}

impl Compliance {
    /// The outcome of one check.
    pub fn outcome(&self, check: Check) -> &Outcome {
        match check {
            Check::RealName => &self.real_name,
            Check::Inspection => &self.inspection,
            Check::SecurityScan => &self.security_scan,
        }
    }
}

/// A parcel's events in the one order every rule reads them in: by instant, then lifecycle order of kind, then event
/// id, with repeats of an event id dropped. The same order as `kuaidi_model::order_events`, without cloning.
pub fn ordered_events(events: &[ScanEvent]) -> Vec<&ScanEvent> {
    let mut ordered: Vec<&ScanEvent> = events.iter().collect();
    ordered.sort_by(|a, b| (a.time, a.kind, &a.event_id).cmp(&(b.time, b.kind, &b.event_id)));
    ordered.dedup_by(|a, b| a.event_id == b.event_id && a.carrier == b.carrier);
    ordered
}

/// The acceptance event: the earliest `accept`, or the earliest event when there is none.
pub(crate) fn acceptance<'e>(ordered: &[&'e ScanEvent]) -> Option<&'e ScanEvent> {
    ordered.iter().copied().find(|e| e.kind == EventKind::Accept).or_else(|| ordered.first().copied())
}

/// Whether an event of this kind takes a parcel away from where it was accepted.
fn leaves_acceptance(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::Depart
            | EventKind::OutForDelivery
            | EventKind::IntoLocker
            | EventKind::Delivered
            | EventKind::Refused
            | EventKind::Returned
    )
}

/// Whether an event of this kind means the parcel reached delivery.
fn reaches_delivery(kind: EventKind) -> bool {
    matches!(kind, EventKind::OutForDelivery | EventKind::IntoLocker | EventKind::Delivered | EventKind::Refused)
}

/// Checks the three safety systems for one parcel, from its waybill (when it has arrived) and its events (in any
/// order, repeats allowed). `reference` tells sorting centres and hubs from outlets.
pub fn check_compliance(waybill: Option<&Waybill>, events: &[ScanEvent], reference: &impl Reference) -> Compliance {
    check_ordered(waybill, &ordered_events(events), reference)
}

/// [`check_compliance`] over events already in the order of [`ordered_events`].
pub(crate) fn check_ordered(
    waybill: Option<&Waybill>,
    ordered: &[&ScanEvent],
    reference: &impl Reference,
) -> Compliance {
    Compliance {
        real_name: real_name(waybill, ordered),
        inspection: inspection(ordered),
        security_scan: security_scan(ordered, reference),
    }
}

fn real_name(waybill: Option<&Waybill>, ordered: &[&ScanEvent]) -> Outcome {
    let Some(accepted) = acceptance(ordered) else {
        return Outcome::Pending { reason: Pending::NotAccepted };
    };
    let Some(waybill) = waybill else {
        return Outcome::Pending { reason: Pending::WaybillMissing };
    };
    let events = vec![accepted.event_id.clone()];
    match &waybill.real_name {
        None => Outcome::Failed { reason: Failure::RealNameMissing, events },
        Some(record) if !record.verified => Outcome::Failed { reason: Failure::RealNameUnverified, events },
        Some(_) => Outcome::Passed { events },
    }
}

/// The earliest event that takes the parcel away from acceptance.
fn first_move<'e>(ordered: &[&'e ScanEvent], accepted_at: &FacilityCode) -> Option<&'e ScanEvent> {
    ordered.iter().copied().find(|e| leaves_acceptance(e.kind) || &e.facility != accepted_at)
}

fn inspection(ordered: &[&ScanEvent]) -> Outcome {
    let Some(accepted) = acceptance(ordered) else {
        return Outcome::Pending { reason: Pending::NotAccepted };
    };
    let moved = first_move(ordered, &accepted.facility);
    // Only an inspection where the parcel was accepted is an inspection at acceptance; one elsewhere is itself a
    // move (it is at another facility), so it can never be in time.
    let inspected_here =
        ordered.iter().copied().find(|e| e.kind == EventKind::Inspect && e.facility == accepted.facility);
    let inspected_anywhere = ordered.iter().copied().find(|e| e.kind == EventKind::Inspect);
    match (moved, inspected_here, inspected_anywhere) {
        (None, _, Some(inspect)) => Outcome::Passed { events: vec![inspect.event_id.clone()] },
        (Some(moved), Some(inspect), _) if inspect.time <= moved.time => {
            Outcome::Passed { events: vec![inspect.event_id.clone()] }
        }
        (Some(moved), _, Some(inspect)) => {
            Outcome::Failed { reason: Failure::InspectionAfterDeparture, events: distinct(moved, inspect) }
        }
        (Some(moved), _, None) => {
            Outcome::Failed { reason: Failure::InspectionMissing, events: vec![moved.event_id.clone()] }
        }
        (None, _, None) => Outcome::Pending { reason: Pending::NotDeparted },
    }
}

/// The ids of two events, once if they are the same event.
fn distinct(first: &ScanEvent, second: &ScanEvent) -> Vec<EventId> {
    if first.event_id == second.event_id {
        vec![first.event_id.clone()]
    } else {
        vec![first.event_id.clone(), second.event_id.clone()]
    }
}

/// The event after which a security scan comes too late: the line-haul departure from the first sorting centre, or
/// what stands in for it (see the module docs).
fn line_haul<'e>(ordered: &[&'e ScanEvent], reference: &impl Reference) -> Option<&'e ScanEvent> {
    let is_trunk = |code: &FacilityCode| {
        reference.facility(code).is_some_and(|f| matches!(f.kind, FacilityKind::SortingCentre | FacilityKind::Hub))
    };
    match ordered.iter().position(|e| is_trunk(&e.facility)) {
        Some(first_idx) => {
            let centre = &ordered[first_idx].facility;
            ordered[first_idx..].iter().copied().find(|e| e.kind == EventKind::Depart || &e.facility != centre)
        }
        None => ordered.iter().copied().find(|e| reaches_delivery(e.kind)),
    }
}

fn security_scan(ordered: &[&ScanEvent], reference: &impl Reference) -> Outcome {
    if ordered.is_empty() {
        return Outcome::Pending { reason: Pending::NotAccepted };
    }
    let departed = line_haul(ordered, reference);
    let mut scans = ordered.iter().copied().filter(|e| e.kind == EventKind::SecurityScan);
    let Some(departed) = departed else {
        return match scans.next() {
            Some(scan) => Outcome::Passed { events: vec![scan.event_id.clone()] },
            None => Outcome::Pending { reason: Pending::NotPastSortingCentre },
        };
    };
    // A scan in time is at or before the departure; when a later event stands in for a departure that was never
    // scanned, a scan at that later facility came after the parcel left, even in the same second.
    let in_time = |scan: &ScanEvent| {
        scan.time <= departed.time && (departed.kind == EventKind::Depart || scan.facility != departed.facility)
    };
    let first_scan = scans.clone().next();
    match (scans.find(|scan| in_time(scan)), first_scan) {
        (Some(scan), _) => Outcome::Passed { events: vec![scan.event_id.clone()] },
        (None, Some(scan)) => {
            Outcome::Failed { reason: Failure::SecurityScanAfterDeparture, events: distinct(departed, scan) }
        }
        (None, None) => {
            Outcome::Failed { reason: Failure::SecurityScanMissing, events: vec![departed.event_id.clone()] }
        }
    }
}

#[cfg(test)]
mod tests;
