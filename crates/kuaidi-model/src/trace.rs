//! A parcel's events in time order, and the current status derived from them.
//!
//! Events arrive out of order and may repeat; ordering here is total and deterministic, so every reader agrees.

use crate::{EventKind, ScanEvent};

/// Where a parcel stands, derived from its latest event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParcelStatus {
    /// No event yet (a waybill only).
    Created,
    /// Accepted, inspected or security-scanned, and not yet on the move.
    Accepted,
    /// Between facilities.
    InTransit,
    /// With the courier for delivery.
    OutForDelivery,
    /// In a smart locker, waiting for the receiver.
    InLocker,
    /// Delivered and signed for.
    Delivered,
    /// Refused by the receiver.
    Refused,
    /// Returned to the sender.
    Returned,
    /// A problem was reported.
    Exception,
    /// Found damaged.
    Damaged,
    /// Reported lost.
    Lost,
}

impl ParcelStatus {
    /// The status after an event of this kind.
    pub fn after(kind: EventKind) -> ParcelStatus {
        match kind {
            EventKind::Accept | EventKind::Inspect | EventKind::SecurityScan => ParcelStatus::Accepted,
            EventKind::Depart | EventKind::Arrive => ParcelStatus::InTransit,
            EventKind::OutForDelivery => ParcelStatus::OutForDelivery,
            EventKind::IntoLocker => ParcelStatus::InLocker,
            EventKind::Delivered => ParcelStatus::Delivered,
            EventKind::Refused => ParcelStatus::Refused,
            EventKind::Returned => ParcelStatus::Returned,
            EventKind::Exception => ParcelStatus::Exception,
            EventKind::Damaged => ParcelStatus::Damaged,
            EventKind::Lost => ParcelStatus::Lost,
        }
    }

    /// The status of a parcel with these events, in any order. A parcel reported lost and scanned again later is found.
    pub fn of(events: &[ScanEvent]) -> ParcelStatus {
        events
            .iter()
            .max_by(|a, b| event_order(a, b))
            .map_or(ParcelStatus::Created, |latest| ParcelStatus::after(latest.kind))
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ParcelStatus::Created => "created",
            ParcelStatus::Accepted => "accepted",
            ParcelStatus::InTransit => "in_transit",
            ParcelStatus::OutForDelivery => "out_for_delivery",
            ParcelStatus::InLocker => "in_locker",
            ParcelStatus::Delivered => "delivered",
            ParcelStatus::Refused => "refused",
            ParcelStatus::Returned => "returned",
            ParcelStatus::Exception => "exception",
            ParcelStatus::Damaged => "damaged",
            ParcelStatus::Lost => "lost",
        }
    }
}

fn event_order(a: &ScanEvent, b: &ScanEvent) -> std::cmp::Ordering {
    // Same instant: lifecycle order (arrive before depart is not assumed; kinds sort as declared), then id.
    (a.time, a.kind, &a.event_id).cmp(&(b.time, b.kind, &b.event_id))
}

/// Sorts events by instant, then lifecycle order of kind, then event id, and drops repeats of the same event id.
pub fn order_events(events: &mut Vec<ScanEvent>) {
    events.sort_by(event_order);
    events.dedup_by(|later, earlier| repeats(later, earlier));
}

/// Adds one event to events already in [`order_events`]' order, leaving them as `push` then `order_events` would:
/// in place (a binary search and one move), where sorting again costs a sort and a pass.
pub fn insert_event(events: &mut Vec<ScanEvent>, event: ScanEvent) {
    // A stable sort puts the new event after every event that orders equal to it.
    let at = events.partition_point(|stored| event_order(stored, &event) != std::cmp::Ordering::Greater);
    if at > 0 && repeats(&event, &events[at - 1]) {
        return;
    }
    events.insert(at, event);
    if at + 1 < events.len() && repeats(&events[at + 1], &events[at]) {
        events.remove(at + 1);
    }
}

/// `later` repeats `earlier`: the same event of the same carrier.
fn repeats(later: &ScanEvent, earlier: &ScanEvent) -> bool {
    later.event_id == earlier.event_id && later.carrier == earlier.carrier
}
