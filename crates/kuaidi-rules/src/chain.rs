//! Impossible chains: events that cannot all be true of one parcel.
//!
//! Three rules, each naming the events that break it:
//!
//! - **Before acceptance** (`delivered_before_accepted`, `scanned_before_accepted`): an event earlier than the
//!   parcel's earliest `accept`. Inspection is exempt, since couriers inspect before they scan the acceptance.
//!   All such events form one violation, with the `accept` event last; it is `delivered_before_accepted` when one of
//!   them is a delivery (`out_for_delivery`, `into_locker`, `delivered`). A parcel without an `accept` event is not
//!   judged by this rule: its acceptance time is unknown.
//! - **Departed without arriving** (`departed_without_arrival`): a `depart` from a facility where the parcel has no
//!   `arrive` at or before that time, unless the facility is where it was accepted (the facility of any `accept`;
//!   with no `accept`, the facility of its earliest event, as its origin is unknown). One violation per departure.
//! - **Implausible speed** (`implausible_speed`): two consecutive events, among those at facilities with known
//!   coordinates, further apart than the parcel could have travelled in the time between them. The allowed distance
//!   in `h` hours is `30 km + max(120·h, 350·(h − 0.5), 1000·(h − 1.5))` km: road at up to 120 km/h (the
//!   expressway limit), high-speed rail at 350 km/h after half an hour at the stations, or a flight at 1000 km/h
//!   (faster than any freighter's block speed) after an hour and a half on the ground. The 30 km absorb facility
//!   coordinates that stand for a whole district and clocks a few minutes apart. An event at a facility unknown to
//!   the reference, or without coordinates, is skipped, so traces without facility codes raise nothing here.
//!
//! Events are read in the one order of [`crate::compliance::ordered_events`], so the violations do not depend on the
//! order the events arrived in, nor on repeats.

use kuaidi_model::{EventId, EventKind, GeoPoint, Reference, ScanEvent};

use crate::compliance::ordered_events;

/// Slack for district-sized coordinates and clock skew, in kilometres.
pub const SLACK_KM: f64 = 30.0;
/// Top speed by road, km/h.
pub const ROAD_KMH: f64 = 120.0;
/// Top speed by high-speed rail, km/h, and the least time at stations, hours.
pub const RAIL_KMH: f64 = 350.0;
const RAIL_GROUND_HOURS: f64 = 0.5;
/// Top speed by air, km/h, and the least time on the ground at both airports, hours.
pub const AIR_KMH: f64 = 1000.0;
const AIR_GROUND_HOURS: f64 = 1.5;

/// The furthest a parcel can travel in `hours`, in kilometres.
pub fn reachable_km(hours: f64) -> f64 {
    let hours = hours.max(0.0);
    let road = ROAD_KMH * hours;
    let rail = RAIL_KMH * (hours - RAIL_GROUND_HOURS).max(0.0);
    let air = AIR_KMH * (hours - AIR_GROUND_HOURS).max(0.0);
    SLACK_KM + road.max(rail).max(air)
}

/// Which rule an impossible chain breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    /// Delivered (or out for delivery, or into a locker) before it was accepted.
    DeliveredBeforeAccepted,
    /// Scanned before it was accepted.
    ScannedBeforeAccepted,
    /// Departed from a facility it never arrived at.
    DepartedWithoutArrival,
    /// Two scans further apart than any transport allows in the time between them.
    ImplausibleSpeed,
}

impl Rule {
    /// The stable snake_case reason code.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::DeliveredBeforeAccepted => "delivered_before_accepted",
            Rule::ScannedBeforeAccepted => "scanned_before_accepted",
            Rule::DepartedWithoutArrival => "departed_without_arrival",
            Rule::ImplausibleSpeed => "implausible_speed",
        }
    }
}

/// One broken rule and the events that break it.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// The events, in time order.
    pub events: Vec<EventId>,
    /// For `implausible_speed`: the great-circle distance in km and the time between the scans in minutes.
    pub distance: Option<(f64, i64)>,
}

/// Every impossible-chain violation in a parcel's events (any order, repeats allowed).
pub fn check_chain(events: &[ScanEvent], reference: &impl Reference) -> Vec<Violation> {
    check_ordered(&ordered_events(events), reference)
}

/// [`check_chain`] over events already in the order of `ordered_events`.
pub(crate) fn check_ordered(ordered: &[&ScanEvent], reference: &impl Reference) -> Vec<Violation> {
    let mut violations = Vec::new();
    before_acceptance(ordered, &mut violations);
    departed_without_arrival(ordered, &mut violations);
    implausible_speed(ordered, reference, &mut violations);
    violations
}

fn before_acceptance(ordered: &[&ScanEvent], out: &mut Vec<Violation>) {
    let Some(accept) = ordered.iter().find(|e| e.kind == EventKind::Accept) else { return };
    let early: Vec<&ScanEvent> = ordered
        .iter()
        .copied()
        .filter(|e| e.time < accept.time && !matches!(e.kind, EventKind::Accept | EventKind::Inspect))
        .collect();
    if early.is_empty() {
        return;
    }
    let delivered = early
        .iter()
        .any(|e| matches!(e.kind, EventKind::OutForDelivery | EventKind::IntoLocker | EventKind::Delivered));
    let rule = if delivered { Rule::DeliveredBeforeAccepted } else { Rule::ScannedBeforeAccepted };
    let mut ids: Vec<EventId> = early.iter().map(|e| e.event_id.clone()).collect();
    ids.push(accept.event_id.clone());
    out.push(Violation { rule, events: ids, distance: None });
}

fn departed_without_arrival(ordered: &[&ScanEvent], out: &mut Vec<Violation>) {
    let mut origins: Vec<_> = ordered.iter().filter(|e| e.kind == EventKind::Accept).map(|e| &e.facility).collect();
    if origins.is_empty() {
        origins.extend(ordered.first().map(|e| &e.facility));
    }
    for depart in ordered.iter().filter(|e| e.kind == EventKind::Depart) {
        if origins.contains(&&depart.facility) {
            continue;
        }
        let arrived = ordered
            .iter()
            .any(|e| e.kind == EventKind::Arrive && e.facility == depart.facility && e.time <= depart.time);
        if !arrived {
            out.push(Violation {
                rule: Rule::DepartedWithoutArrival,
                events: vec![depart.event_id.clone()],
                distance: None,
            });
        }
    }
}

fn implausible_speed(ordered: &[&ScanEvent], reference: &impl Reference, out: &mut Vec<Violation>) {
    let mut previous: Option<(&ScanEvent, GeoPoint)> = None;
    for &event in ordered {
        let Some(here) = reference.facility(&event.facility).and_then(|f| f.location) else { continue };
        if let Some((before, there)) = previous {
            if before.facility != event.facility {
                let km = there.distance_km(here);
                let seconds = (event.time - before.time).num_seconds();
                if km > reachable_km(seconds as f64 / 3600.0) {
                    out.push(Violation {
                        rule: Rule::ImplausibleSpeed,
                        events: vec![before.event_id.clone(), event.event_id.clone()],
                        distance: Some((km, seconds / 60)),
                    });
                }
            }
        }
        previous = Some((event, here));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{chain, registry, CLEAN};

    fn render(violations: &[Violation]) -> Vec<String> {
        violations
            .iter()
            .map(|v| {
                let ids: Vec<&str> = v.events.iter().map(EventId::as_str).collect();
                format!("{} [{}]", v.rule.as_str(), ids.join(" "))
            })
            .collect()
    }

    fn check(events: &str, expected: &[&str]) {
        let actual = render(&check_chain(&chain(events), &registry()));
        assert_eq!(actual, expected, "chain: {events}");
    }

    #[test]
    fn clean_chains_pass() {
        check(CLEAN, &[]);
        // Beijing to Hangzhou (about 1,130 km) in 4 hours: a flight.
        check("accept OUT-BJ 0; depart OUT-BJ 30; arrive SC-BJ 60; depart SC-BJ 120; arrive SC-HZ 360", &[]);
        // Inspected before the accept scan.
        check("inspect OUT-SZ -2; accept OUT-SZ 0; depart OUT-SZ 60", &[]);
        // A returned parcel passes back through facilities it arrived at before.
        check(
            "accept OUT-SZ 0; depart OUT-SZ 60; arrive SC-SZ 110; depart SC-SZ 180; arrive OUT-HZ 400; \
             refused OUT-HZ 500; returned OUT-HZ 600; depart OUT-HZ 700; arrive SC-SZ 900; depart SC-SZ 950",
            &[],
        );
    }

    #[test]
    fn before_acceptance() {
        check("delivered OUT-HZ -100; accept OUT-SZ 0; depart OUT-SZ 60", &["delivered_before_accepted [e1 e2]"]);
        check("arrive SC-SZ -30; accept OUT-SZ 0", &["scanned_before_accepted [e1 e2]"]);
        // Without an accept scan there is no acceptance time to compare with.
        check("delivered OUT-HZ 0; arrive OUT-HZ 10", &[]);
    }

    #[test]
    fn departed_without_arrival() {
        check(
            "accept OUT-SZ 0; depart OUT-SZ 60; depart SC-SZ 180; arrive HUB-SH 300",
            &["departed_without_arrival [e3]"],
        );
        // The arrival came after the departure: still never arrived when it left.
        check(
            "accept OUT-SZ 0; depart OUT-SZ 60; depart SC-SZ 120; arrive SC-SZ 130",
            &["departed_without_arrival [e3]"],
        );
        // Arrival and departure in the same second are in order.
        check("accept OUT-SZ 0; depart OUT-SZ 60; arrive SC-SZ 120; depart SC-SZ 120", &[]);
        // With no accept scan, the earliest event's facility is taken as the origin.
        check("depart OUT-SZ 60; arrive SC-SZ 110; depart SC-SZ 180", &[]);
    }

    #[test]
    fn implausible_speed() {
        // Suzhou sorting centre to Beijing (about 1,000 km) in 20 minutes.
        check(
            "accept OUT-SZ 0; depart OUT-SZ 60; arrive SC-SZ 110; depart SC-SZ 180; arrive SC-BJ 200",
            &["implausible_speed [e4 e5]"],
        );
        // Shanghai to Hangzhou (about 165 km) in 30 minutes: too fast for a truck, and no train or plane is that quick.
        check(
            "accept OUT-SZ 0; depart OUT-SZ 60; arrive HUB-SH 150; depart HUB-SH 160; arrive SC-HZ 190",
            &["implausible_speed [e4 e5]"],
        );
        // Facilities without coordinates, or unknown ones, are skipped: the next known one is compared with the last.
        check("accept OUT-SZ 0; arrive OUT-NOWHERE 5; arrive XX-1 6; arrive SC-BJ 10", &["implausible_speed [e1 e4]"]);
        // A trace whose facilities are all unknown raises nothing.
        check("accept XX-1 0; depart XX-1 5; arrive XX-2 6; depart XX-2 7; delivered XX-3 8", &[]);
    }

    #[test]
    fn a_real_trace_shape_raises_no_impossible_chain() {
        // The YTO trace Tangshan → Jinan of June 2021 (../shared/data/express_traces/), minutes after acceptance,
        // as a Kuaidi100 parser would map it: 已收入 → arrive, 已发出 → depart, 派件中 → out_for_delivery, and the
        // station pickup and the signature, which name no facility, at codes the reference does not know.
        // The courier went out 32 minutes before the outlet's arrival scan, as in the real trace: not impossible.
        let trace = "accept TS-CFD 0; arrive TJ-HUB 425; depart TJ-HUB 428; arrive JN-HUB 1032; \
                     depart JN-HUB 1035; out_for_delivery JN-SUNCUN 1358; arrive JN-SUNCUN 1390; \
                     delivered XX-STATION 1490; delivered XX-UNKNOWN 1708";
        check(trace, &[]);
        // The same trace reported newest first gives the same answer.
        let mut reversed = chain(trace);
        reversed.reverse();
        assert!(check_chain(&reversed, &registry()).is_empty());
    }

    #[test]
    fn reachable_distances() {
        assert_eq!(reachable_km(0.0), 30.0);
        assert_eq!(reachable_km(-1.0), 30.0);
        // One hour: rail (175 km after half an hour at stations) beats road (120 km).
        assert_eq!(reachable_km(1.0), 205.0);
        // Four hours: a flight.
        assert_eq!(reachable_km(4.0), 2530.0);
    }
}
