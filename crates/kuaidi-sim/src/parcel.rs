//! Planning one parcel: its waybill, its scan events as compact records, and the faults injected into it.
//!
//! # The event chain
//! 1. `accept` at the origin outlet by a courier, then `inspect` 1–6 minutes later by the same courier.
//! 2. The courier is back at the outlet 30–90 minutes after acceptance; outlet vans leave on every hour from 07:00 to
//!    23:00 and at 01:00, 03:00 and 05:00 for the sorting centres' night shift, so the parcel departs on the next one.
//! 3. At every sorting centre or hub: `arrive`; at the origin sorting centre a `security_scan` 5–30 minutes later;
//!    then `depart` on the next whole hour after handling of 40–100 minutes (sorting centre, automated sorting lines)
//!    or 50–120 minutes (hub), with `next_facility` naming where it is bound. Sorting runs day and night. Trucks,
//!    trains and flights leave on the hour, and every parcel on the same line in the same hour (the same day for
//!    flights) rides the same vehicle, so a vehicle's load can be traced. Under Double 11 handling takes 1.6 times
//!    as long.
//! 4. At the destination outlet: `out_for_delivery` 20–60 minutes after arrival if that falls between 07:00 and
//!    19:30, otherwise from 07:00 the next morning (up to an hour later); then one outcome 30 minutes to 4 hours later
//!    but by 21:00, when couriers finish: 48.5 % `delivered` to the receiver (signer `self`), 13 % to someone else
//!    (`other`), 15 % `delivered` at a shared station (`station`), 22 % `into_locker` at a shared locker followed
//!    1–36 hours later by `delivered` there (signer `locker`), and 1.5 % `refused` (`REF-01`) and `returned`
//!    (`RET-01`) 2–20 hours later. The return journey itself is not simulated.
//!
//! # Delivery time and the time limit
//! A parcel's **delivery time** is the time of its first delivery outcome event: `delivered`, `into_locker` or
//! `refused`. Its **elapsed time** is its delivery time minus the time of its `accept` event. It is **late** when
//! the elapsed time exceeds its class limit (`Simulation::time_limit_hours`: 12, 24 or 48 hours); exactly at the
//! limit is on time. The simulator guarantees, for both profiles:
//! - a parcel without a `delay` fault that reaches a delivery outcome is on time, with its outcome planned at least
//!   30 minutes before the limit;
//! - a parcel with a `delay` fault that reaches a delivery outcome is late by more than 2 hours (the delayed arrival
//!   alone lies 2 to 10 hours past the limit, and every later scan follows it);
//! - the other faults never move a delivery outcome: damage inserts a scan between two others, duplicates and
//!   out-of-order events change only the emission order, and a lost or stuck parcel never reaches an outcome.
//!
//! So the late parcels, judged from the events alone, are exactly those whose ground truth holds a `delay`, among
//! the parcels that reach an outcome no later than `now`.
//!
//! The guarantee is the carrier's time-limit control (时效管控): when the ordinary round above would end past the
//! limit less 30 minutes, the parcel is taken first on that round (15–45 minutes after it goes out) if that is soon
//! enough; otherwise it goes out 10–20 minutes after reaching the outlet, and is delivered 20–90 minutes later (by
//! 21:00 when it goes out before 20:45). When even its arrival at the outlet would leave less than 40 minutes, its
//! waits in transit (for the van, handling, for the line's departure) are shortened by one factor so that it
//! arrives in time; travel times never shrink, and such departures leave off the hour on the first vehicle out.
//! An expedited parcel whose outcome falls outside the couriers' hours (21:00–07:00) is put into a shared locker by
//! the outlet's night shift (`into_locker`). Most 12-hour parcels need this: one accepted after about 13:00 has a
//! limit that runs out during the night. Network changes that make the limits reachable by road, rail and air
//! (express lines between key cities, faster line-haul trucks, rail legs that are faster than road) are described in
//! `network`.
//!
//! Vehicles are plates such as `苏E·3K512` (province abbreviation and a letter from the departing facility's division;
//! the letter follows the prefecture number, which matches Jiangsu's real assignment and is approximate elsewhere),
//! train numbers such as `G1234` or `D2345` (China Railway's prefixes for high-speed `G` and `D` trains, which carry
//! the express parcel service, and four digits; three in four are `G`, as most of the corridors the rail legs use
//! are `G` lines) or flight numbers such as `O31234` (the carrier's airline and four digits).
//! Operators are couriers (`ZTO-320505-OUT-C07`) at outlets and staff (`ZTO-320500-SC-S012`) elsewhere.

use std::fmt::Write as _;

use chrono::DateTime;
use kuaidi_model::{
    Address, Contents, EventId, EventKind, FacilityKind, IdType, Party, Phone, RealName, Signer, Waybill, WaybillNo,
};
use rand::Rng;

use crate::demand::{china_offset, Demand};
use crate::faults::Fault;
use crate::network::{Mode, Network, CARRIERS};
use crate::people;
use crate::random::{chance, minutes, mix_all, Cumulative, SimRng};
use crate::SimConfig;

/// Marks "no facility" in the compact event.
pub(crate) const NO_FACILITY: u32 = u32::MAX;
/// The longest time between waybill creation and acceptance, in minutes; the stream's reorder window depends on it.
pub(crate) const WAYBILL_LEAD_MAX_MINUTES: i64 = 120;
/// Couriers per outlet.
const COURIERS_PER_OUTLET: u16 = 12;
/// Staff per sorting centre or hub.
const STAFF_PER_CENTRE: u16 = 60;
/// How much slower handling is under Double 11.
pub(crate) const DOUBLE11_HANDLING: f64 = 1.6;
/// Handling at a sorting centre, in minutes, before Double 11 slows it.
const SORTING_HANDLING_MINUTES: (i64, i64) = (40, 100);
/// Handling at a hub, in minutes, before Double 11 slows it.
const HUB_HANDLING_MINUTES: (i64, i64) = (50, 120);
/// Delivery rounds leave the outlet from 07:00 to 19:30 (seconds since local midnight).
const ROUNDS_FROM: i64 = 7 * 3600;
const ROUNDS_UNTIL: i64 = 19 * 3600 + 1800;
/// Couriers deliver until 21:00.
const COURIERS_UNTIL: i64 = 21 * 3600;
/// A parcel's delivery outcome is planned no later than this before its time limit runs out.
const PROMISE_MARGIN_SECS: i64 = 30 * 60;
/// An expedited parcel reaches the destination outlet at least this long before its promise: enough to sort it,
/// take it out and deliver it.
const EXPEDITE_SECS: i64 = 40 * 60;

/// Who scanned, in compact form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operator {
    None,
    /// Courier number `n` of an outlet.
    Courier {
        outlet: u32,
        n: u16,
    },
    /// Staff number `n` of a facility.
    Staff {
        facility: u32,
        n: u16,
    },
}

/// What carried the parcel, in compact form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vehicle {
    None,
    /// A truck or van registered where `base` (a facility) stands; `code` picks the plate.
    Road {
        base: u32,
        code: u32,
    },
    /// A high-speed train of China Railway's express parcel service; `code` picks the train number.
    Rail {
        code: u32,
    },
    /// A flight of the carrier's airline; `code` picks the number.
    Air {
        code: u32,
    },
}

/// The carriers' problem codes the simulator uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExceptionCode {
    /// The receiver refused the parcel.
    Refused,
    /// The parcel goes back to the sender.
    Returned,
    /// The outer packaging is damaged.
    DamagedPackaging,
    /// The contents are damaged.
    DamagedContents,
    /// The parcel is lost.
    Lost,
}

impl ExceptionCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ExceptionCode::Refused => "REF-01",
            ExceptionCode::Returned => "RET-01",
            ExceptionCode::DamagedPackaging => "DMG-01",
            ExceptionCode::DamagedContents => "DMG-02",
            ExceptionCode::Lost => "LOST-01",
        }
    }
}

/// One planned scan, small enough that the events of every parcel in transit fit in memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlannedEvent {
    /// Unix seconds.
    pub time: i64,
    pub kind: EventKind,
    pub facility: u32,
    /// For departures, where bound; otherwise `NO_FACILITY`.
    pub next_facility: u32,
    pub operator: Operator,
    pub vehicle: Vehicle,
    pub signer: Option<Signer>,
    pub exception_code: Option<ExceptionCode>,
    /// The number after the waybill number in the event id, 1-based.
    pub seq: u16,
    /// Whether the `delay` fault added hours before this arrival.
    pub delayed: bool,
    /// Whether this event is held back and emitted out of order.
    pub deferred: bool,
}

impl PlannedEvent {
    fn new(kind: EventKind, time: i64, facility: u32, operator: Operator) -> PlannedEvent {
        PlannedEvent {
            time,
            kind,
            facility,
            next_facility: NO_FACILITY,
            operator,
            vehicle: Vehicle::None,
            signer: None,
            exception_code: None,
            seq: 0,
            delayed: false,
            deferred: false,
        }
    }
}

/// A parcel's plan, apart from its events, which are written into a buffer the caller owns.
pub(crate) struct PlannedParcel {
    pub carrier: usize,
    pub waybill: Waybill,
    /// The faults for the ground truth; empty for a clean parcel.
    pub faults: Vec<Fault>,
    /// An event to emit a second time, and the stream time of the copy.
    pub duplicate: Option<(usize, i64)>,
    /// An event held back (marked `deferred`), and the stream time it is emitted at.
    pub deferred: Option<(usize, i64)>,
    /// A valid complaint: when it is filed (unix seconds) and the consumer's words.
    pub complaint: Option<(i64, &'static str)>,
}

/// Plans parcels; holds everything that does not change from one parcel to the next.
pub(crate) struct Planner<'a> {
    pub network: &'a Network,
    pub demand: &'a Demand,
    pub config: &'a SimConfig,
    pub carrier_shares: &'a Cumulative,
    /// Three digits, derived from the seed, that follow the carrier prefix in waybill numbers, so that runs with
    /// different seeds rarely reuse numbers.
    pub waybill_block: u64,
    /// `now` in unix seconds: nothing later is emitted.
    pub now: i64,
}

/// The next outlet van, China Standard Time: on every hour from 07:00 to 23:00, and at 01:00, 03:00 and 05:00 for
/// the sorting centres' night shift.
fn next_van(time: i64) -> i64 {
    let slot = next_hour(time);
    let hour = second_of_day(slot) / 3600;
    if hour < 7 && hour % 2 == 0 {
        slot + 3600
    } else {
        slot
    }
}

/// The vehicle of a departure: trucks and trains are shared by the parcels leaving on the same line in the same hour,
/// flights by those on the same day.
fn vehicle(carrier: usize, from: u32, to: u32, mode: Mode, depart: i64) -> Vehicle {
    let line = [carrier as u64, u64::from(from), u64::from(to)];
    match mode {
        Mode::Road => Vehicle::Road {
            base: from,
            code: mix_all(&[line[0], line[1], line[2], depart.div_euclid(3600) as u64]) as u32,
        },
        Mode::Rail => {
            Vehicle::Rail { code: mix_all(&[line[0], line[1], line[2], depart.div_euclid(3600) as u64]) as u32 }
        }
        Mode::Air => {
            Vehicle::Air { code: mix_all(&[line[0], line[1], line[2], depart.div_euclid(86_400) as u64]) as u32 }
        }
    }
}

/// Expedites a parcel in transit: moves its scans (`events`, from acceptance to the destination arrival) earlier so
/// that the last one lands at `target`. Travel (the gap before each arrival) keeps its length, as vehicles go no
/// faster; every other gap (waiting for the van, handling, waiting for the line's departure) shrinks by one factor,
/// as the parcel is handled first and rides the first vehicle out. Vehicles are re-derived from the new departures.
fn expedite(events: &mut [PlannedEvent], target: i64, carrier: usize) {
    let Some(start) = events.first().map(|e| e.time) else { return };
    let (mut travel, mut waits) = (0, 0);
    for pair in events.windows(2) {
        let gap = pair[1].time - pair[0].time;
        if pair[1].kind == EventKind::Arrive {
            travel += gap;
        } else {
            waits += gap;
        }
    }
    if waits <= 0 {
        return;
    }
    let room = (target - start - travel).clamp(0, waits);
    debug_assert!(target - start >= travel, "travel alone misses the promise");
    let (mut old_previous, mut new_previous) = (start, start);
    for event in events.iter_mut().skip(1) {
        let gap = event.time - old_previous;
        old_previous = event.time;
        new_previous += if event.kind == EventKind::Arrive { gap } else { gap * room / waits };
        event.time = new_previous;
    }
    for idx in 0..events.len().saturating_sub(1) {
        let depart = events[idx];
        if depart.kind != EventKind::Depart {
            continue;
        }
        let mode = match depart.vehicle {
            Vehicle::Air { .. } => Mode::Air,
            Vehicle::Rail { .. } => Mode::Rail,
            _ => Mode::Road,
        };
        let new_vehicle = vehicle(carrier, depart.facility, depart.next_facility, mode, depart.time);
        events[idx].vehicle = new_vehicle;
        events[idx + 1].vehicle = new_vehicle;
    }
}

/// The next whole hour at or after `time`.
fn next_hour(time: i64) -> i64 {
    time + (3600 - time.rem_euclid(3600)) % 3600
}

/// Seconds since local (China Standard Time) midnight.
fn second_of_day(time: i64) -> i64 {
    (time + 8 * 3600).rem_euclid(86_400)
}

impl Planner<'_> {
    /// Plans one parcel accepted at `accept` (unix seconds), writing its events, in time order and cut at `now`, into
    /// `events`. `counters` hold each carrier's next waybill serial.
    pub fn plan(
        &self,
        rng: &mut SimRng,
        accept: i64,
        counters: &mut [u64],
        events: &mut Vec<PlannedEvent>,
    ) -> Option<PlannedParcel> {
        let network = self.network;
        let carrier = self.carrier_shares.sample(rng);
        let (origin, destination) = self.demand.sample(rng);
        let origin_district = rng.random_range(network.cities[origin].districts.clone());
        let destination_district = rng.random_range(network.cities[destination].districts.clone());
        let origin_outlet = network.outlet(carrier, origin_district);
        let destination_outlet = network.outlet(carrier, destination_district);
        let handling = match self.config.profile {
            crate::Profile::Normal => 1.0,
            crate::Profile::Double11 => DOUBLE11_HANDLING,
        };

        // Every fault is drawn for every parcel, in a fixed order, so that the random stream does not depend on which
        // faults happen to fire.
        let rates = &self.config.faults;
        let delay = chance(rng, rates.delay);
        let damage = chance(rng, rates.damage);
        let loss = chance(rng, rates.loss);
        let stuck = chance(rng, rates.stuck) && !loss;
        let missing_real_name = chance(rng, rates.missing_real_name);
        let missing_inspection = chance(rng, rates.missing_inspection);
        let missing_security_scan = chance(rng, rates.missing_security_scan);
        let prohibited = chance(rng, rates.prohibited_item);
        let complaint = chance(rng, rates.complaint);
        let duplicate = chance(rng, rates.duplicate);
        let out_of_order = chance(rng, rates.out_of_order);

        let trunk = network.trunk(carrier, origin, destination);
        let mut stops = [NO_FACILITY; 8];
        let n_stops = trunk.len() + 2;
        if n_stops > stops.len() {
            debug_assert!(false, "trunk of {} stops", trunk.len());
            return None;
        }
        stops[0] = origin_outlet;
        stops[1..=trunk.len()].copy_from_slice(trunk);
        stops[n_stops - 1] = destination_outlet;
        let n_legs = n_stops - 1;
        let delayed_leg = if delay { Some(rng.random_range(0..n_legs)) } else { None };
        let mut delay_hours = 0u32;

        events.clear();
        let origin_courier = Operator::Courier { outlet: origin_outlet, n: rng.random_range(1..=COURIERS_PER_OUTLET) };
        events.push(PlannedEvent::new(EventKind::Accept, accept, origin_outlet, origin_courier));
        if !missing_inspection {
            let time = accept + minutes(rng, 1, 6);
            events.push(PlannedEvent::new(EventKind::Inspect, time, origin_outlet, origin_courier));
        }
        let mut ready = accept + minutes(rng, 30, 90);
        let mut arrive = accept;
        for leg in 0..n_legs {
            let (from, to) = (stops[leg], stops[leg + 1]);
            let depart = if leg == 0 { next_van(ready) } else { next_hour(ready) };
            let (travel, mode) = network.leg(from, to);
            let vehicle = vehicle(carrier, from, to, mode, depart);
            let operator = if leg == 0 { origin_courier } else { self.staff(rng, from) };
            let mut event = PlannedEvent::new(EventKind::Depart, depart, from, operator);
            event.next_facility = to;
            event.vehicle = vehicle;
            events.push(event);

            arrive = depart + travel;
            let mut delayed = false;
            if delayed_leg == Some(leg) {
                // Enough extra hours that this arrival, and so every later scan, lies 2 to 10 hours past the limit.
                let limit = network.time_limit_hours(origin, destination) * 3600;
                let needed = (accept + limit - arrive).max(0) + minutes(rng, 120, 600);
                let hours = (needed + 3599) / 3600;
                delay_hours = u32::try_from(hours).unwrap_or(u32::MAX);
                arrive += hours * 3600;
                delayed = true;
            }
            let mut event = PlannedEvent::new(EventKind::Arrive, arrive, to, self.staff(rng, to));
            event.vehicle = vehicle;
            event.delayed = delayed;
            events.push(event);

            if leg + 1 < n_legs {
                let (low, high) = match network.facilities[to as usize].kind {
                    FacilityKind::Hub => HUB_HANDLING_MINUTES,
                    _ => SORTING_HANDLING_MINUTES,
                };
                if leg == 0 && !missing_security_scan {
                    let time = arrive + (minutes(rng, 5, 30) as f64 * handling) as i64;
                    events.push(PlannedEvent::new(EventKind::SecurityScan, time, to, self.staff(rng, to)));
                }
                ready = arrive + (minutes(rng, low, high) as f64 * handling) as i64;
            }
        }
        let destination_arrival_idx = events.len() - 1;

        // Delivery: the ordinary round first, then the time-limit check that can replace it.
        let destination_courier =
            Operator::Courier { outlet: destination_outlet, n: rng.random_range(1..=COURIERS_PER_OUTLET) };
        let candidate = arrive + minutes(rng, 20, 60);
        let mut out_for_delivery = if (ROUNDS_FROM..ROUNDS_UNTIL).contains(&second_of_day(candidate)) {
            candidate
        } else {
            let next_morning = candidate + (ROUNDS_FROM - second_of_day(candidate)).rem_euclid(86_400);
            next_morning + minutes(rng, 0, 60)
        };
        // Couriers finish by 21:00, so a round's last parcels are delivered by then (but never within 10 minutes of
        // going out, which a round leaving at 19:30 with a long draw could otherwise imply).
        let round_end = out_for_delivery - second_of_day(out_for_delivery) + COURIERS_UNTIL;
        let mut outcome_time = (out_for_delivery + minutes(rng, 30, 240)).min(round_end.max(out_for_delivery + 600));
        // The carrier watches every parcel against its promise (时效管控). A parcel without an injected delay whose
        // ordinary round would end past its limit (less a margin) is expedited: if even its arrival at the outlet
        // comes too late, its waits at the facilities are shortened; then it goes out as soon as it is sorted at
        // the outlet. A parcel expedited outside the couriers' hours is put into a shared locker by the outlet's
        // night shift. Delayed parcels are not rescued: their delay already lies past the limit.
        let promise = accept + network.time_limit_hours(origin, destination) * 3600 - PROMISE_MARGIN_SECS;
        let mut night_locker = false;
        if !delay && outcome_time > promise {
            // First, the courier takes it first on the round it is already due on.
            let first_in_round = out_for_delivery + minutes(rng, 15, 45);
            if first_in_round <= promise {
                outcome_time = first_in_round;
            } else {
                if arrive > promise - EXPEDITE_SECS {
                    expedite(&mut events[..=destination_arrival_idx], promise - EXPEDITE_SECS, carrier);
                    arrive = events[destination_arrival_idx].time;
                }
                out_for_delivery = arrive + minutes(rng, 10, 20);
                outcome_time = (out_for_delivery + minutes(rng, 20, 90)).min(promise);
                let day_end = out_for_delivery - second_of_day(out_for_delivery) + COURIERS_UNTIL;
                if (ROUNDS_FROM..COURIERS_UNTIL - 900).contains(&second_of_day(out_for_delivery)) {
                    // Going out before 20:45, it is delivered by the end of the couriers' day.
                    outcome_time = outcome_time.min(day_end);
                }
                outcome_time = outcome_time.max(out_for_delivery);
                night_locker = !(ROUNDS_FROM..COURIERS_UNTIL).contains(&second_of_day(outcome_time));
            }
        }
        debug_assert!(delay || outcome_time <= promise, "a parcel without delay misses its promise");
        events.push(PlannedEvent::new(
            EventKind::OutForDelivery,
            out_for_delivery,
            destination_outlet,
            destination_courier,
        ));
        let outcome: f64 = rng.random();
        // A night-shift locker takes what would otherwise have been handed over, refused or left at a station.
        let outcome = if night_locker { 0.015 + outcome * 0.22 } else { outcome };
        if outcome < 0.015 {
            let mut refused =
                PlannedEvent::new(EventKind::Refused, outcome_time, destination_outlet, destination_courier);
            refused.exception_code = Some(ExceptionCode::Refused);
            events.push(refused);
            let time = outcome_time + minutes(rng, 120, 1200);
            let mut returned = PlannedEvent::new(EventKind::Returned, time, destination_outlet, destination_courier);
            returned.exception_code = Some(ExceptionCode::Returned);
            events.push(returned);
        } else if outcome < 0.235 {
            let locker = network.locker(destination_district, rng.random_range(0..2));
            let mut into_locker = PlannedEvent::new(EventKind::IntoLocker, outcome_time, locker, destination_courier);
            into_locker.signer = if rng.random_bool(0.7) { Some(Signer::Locker) } else { None };
            events.push(into_locker);
            let time = outcome_time + minutes(rng, 60, 2160);
            let mut picked_up = PlannedEvent::new(EventKind::Delivered, time, locker, Operator::None);
            picked_up.signer = Some(Signer::Locker);
            events.push(picked_up);
        } else if outcome < 0.385 {
            let station = network.station(destination_district);
            let mut delivered = PlannedEvent::new(EventKind::Delivered, outcome_time, station, destination_courier);
            delivered.signer = Some(Signer::Station);
            events.push(delivered);
        } else {
            let mut delivered =
                PlannedEvent::new(EventKind::Delivered, outcome_time, destination_outlet, destination_courier);
            delivered.signer = Some(if outcome < 0.515 { Signer::Other } else { Signer::Receiver });
            events.push(delivered);
        }

        // Loss and stuck cut the chain after a transit scan: from the first departure to the destination arrival.
        let first_depart = events.iter().position(|e| e.kind == EventKind::Depart).unwrap_or(0);
        let mut lost_idx = None;
        let mut stuck_last = None;
        if loss {
            let arrivals: Vec<usize> =
                (first_depart..=destination_arrival_idx).filter(|&i| events[i].kind == EventKind::Arrive).collect();
            let cut = crate::random::pick(rng, &arrivals, destination_arrival_idx);
            events.truncate(cut + 1);
            let at = events[cut];
            let mut lost =
                PlannedEvent::new(EventKind::Lost, at.time + minutes(rng, 720, 4320), at.facility, at.operator);
            lost.exception_code = Some(ExceptionCode::Lost);
            events.push(lost);
            lost_idx = Some(cut + 1);
        } else if stuck {
            let cut = rng.random_range(first_depart..=destination_arrival_idx);
            events.truncate(cut + 1);
            stuck_last = Some(cut);
        }
        let mut damaged_idx = None;
        if damage {
            let last_transit = lost_idx.map_or(destination_arrival_idx, |lost| lost - 1).min(events.len() - 1);
            let arrivals: Vec<usize> =
                (first_depart..=last_transit).filter(|&i| events[i].kind == EventKind::Arrive).collect();
            if !arrivals.is_empty() {
                let at_idx = crate::random::pick(rng, &arrivals, last_transit);
                let at = events[at_idx];
                // Found minutes after the arrival, but never after the next scan, which an expedited parcel may
                // have within minutes.
                let mut time = at.time + minutes(rng, 1, 4);
                if let Some(next) = events.get(at_idx + 1) {
                    time = time.min(next.time);
                }
                let mut damaged = PlannedEvent::new(EventKind::Damaged, time, at.facility, at.operator);
                damaged.exception_code = Some(if rng.random_bool(0.7) {
                    ExceptionCode::DamagedPackaging
                } else {
                    ExceptionCode::DamagedContents
                });
                events.insert(at_idx + 1, damaged);
                damaged_idx = Some(at_idx + 1);
                lost_idx = lost_idx.map(|i| i + 1);
                // A damage found at the last scan of a stuck parcel becomes its last scan.
                stuck_last = stuck_last.map(|_| events.len() - 1);
            }
        }
        for (idx, event) in events.iter_mut().enumerate() {
            event.seq = (idx + 1) as u16;
        }
        debug_assert!(events.windows(2).all(|w| w[0].time <= w[1].time), "events out of time order");
        // Nothing after the hub's clock is emitted: the parcel is still on its way.
        let n_emitted = events.partition_point(|e| e.time <= self.now);
        events.truncate(n_emitted);

        let waybill_no = self.waybill_no(carrier, counters)?;
        let event_id = |idx: usize| -> Option<EventId> { EventId::parse(&format!("{waybill_no}-{}", idx + 1)).ok() };
        let emitted = |idx: Option<usize>| idx.filter(|&i| i < n_emitted);

        let mut faults = Vec::new();
        if let Some(idx) = events.iter().position(|e| e.delayed) {
            faults.push(Fault::Delay { hours: delay_hours, event_id: event_id(idx)? });
        }
        if let Some(idx) = emitted(damaged_idx) {
            faults.push(Fault::Damage { event_id: event_id(idx)? });
        }
        if let Some(idx) = emitted(lost_idx) {
            faults.push(Fault::Loss { event_id: event_id(idx)? });
        }
        let unverified = missing_real_name && rng.random_bool(0.5);
        if missing_real_name {
            faults.push(Fault::MissingRealName { unverified });
        }
        if missing_inspection {
            faults.push(Fault::MissingInspection);
        }
        if missing_security_scan {
            faults.push(Fault::MissingSecurityScan);
        }
        if let Some(idx) = stuck_last {
            faults.push(Fault::Stuck { last_event_id: event_id(idx)? });
        }
        let prohibited_item = prohibited.then(|| people::PROHIBITED[rng.random_range(0..people::PROHIBITED.len())]);
        if let Some((item, _, _)) = prohibited_item {
            faults.push(Fault::ProhibitedItem { item });
        }
        let mut complaint_at = None;
        if complaint {
            let reason = if delay {
                "快件延误"
            } else if damage {
                "快件破损"
            } else if loss {
                "快件丢失"
            } else {
                ["快递员服务态度差", "虚假签收", "未按址投递", "快件延误"][rng.random_range(0..4)]
            };
            faults.push(Fault::Complaint { reason });
            // Filed six hours after the parcel's last scan, or at the end of the run if that is sooner, so that it is
            // never in the future. No random draw, so adding complaints left every other draw of a seed unchanged.
            let last_scan = events.iter().map(|e| e.time).max().unwrap_or(accept);
            complaint_at = Some(((last_scan + 6 * 3600).min(self.now), reason));
        }
        let mut duplicate_at = None;
        if duplicate && n_emitted > 0 {
            let idx = rng.random_range(0..n_emitted);
            duplicate_at = Some((idx, events[idx].time + minutes(rng, 1, 30)));
            faults.push(Fault::Duplicate { event_id: event_id(idx)? });
        }
        let mut deferred_at = None;
        if out_of_order && n_emitted > 1 {
            let mut idx = rng.random_range(1..n_emitted);
            if duplicate_at.is_some_and(|(dup, _)| dup == idx) {
                idx = if idx + 1 < n_emitted { idx + 1 } else { idx - 1 };
            }
            if idx >= 1 && duplicate_at.is_none_or(|(dup, _)| dup != idx) {
                let lag = minutes(rng, 120, 1440);
                events[idx].deferred = true;
                deferred_at = Some((idx, events[idx].time + lag));
                faults.push(Fault::OutOfOrder { event_id: event_id(idx)?, lag_minutes: (lag / 60) as u32 });
            }
        }

        let waybill = self.waybill(
            rng,
            carrier,
            waybill_no,
            accept,
            (origin, origin_district),
            (destination, destination_district),
            missing_real_name.then_some(unverified),
            prohibited_item.map(|(_, category, description)| (category, description)),
        )?;
        Some(PlannedParcel {
            carrier,
            waybill,
            faults,
            duplicate: duplicate_at,
            deferred: deferred_at,
            complaint: complaint_at,
        })
    }

    fn staff(&self, rng: &mut SimRng, facility: u32) -> Operator {
        Operator::Staff { facility, n: rng.random_range(1..=STAFF_PER_CENTRE) }
    }

    /// The next waybill number of a carrier: its two-letter prefix, the seed's block and a 10-digit serial.
    fn waybill_no(&self, carrier: usize, counters: &mut [u64]) -> Option<WaybillNo> {
        let counter = counters.get_mut(carrier)?;
        *counter += 1;
        let prefix = CARRIERS.get(carrier)?.waybill_prefix;
        WaybillNo::parse(&format!("{prefix}{:03}{:010}", self.waybill_block, *counter)).ok()
    }

    #[allow(clippy::too_many_arguments)]
    fn waybill(
        &self,
        rng: &mut SimRng,
        carrier: usize,
        waybill_no: WaybillNo,
        accept: i64,
        (origin, origin_district): (usize, usize),
        (destination, destination_district): (usize, usize),
        missing_real_name: Option<bool>,
        prohibited: Option<(&'static str, &'static str)>,
    ) -> Option<Waybill> {
        let network = self.network;
        let sender_district = network.districts[origin_district].code;
        let is_shop = rng.random_bool(0.2);
        let sender = Party {
            name: people::name(rng, is_shop.then_some(network.cities[origin].short_name.as_str())),
            phone: Phone::parse(&people::mobile(rng)).ok()?,
            address: Address { division: sender_district, detail: people::address_detail(rng) },
        };
        let receiver = Party {
            name: people::name(rng, None),
            phone: Phone::parse(&people::mobile(rng)).ok()?,
            address: Address {
                division: network.districts[destination_district].code,
                detail: people::address_detail(rng),
            },
        };
        debug_assert_eq!(network.districts[destination_district].city, destination);
        let real_name = match missing_real_name {
            Some(false) => None,
            Some(true) => Some(RealName {
                id_type: IdType::ResidentId,
                id_number: people::resident_id(rng, sender_district),
                verified: false,
            }),
            None if rng.random_bool(0.01) => {
                Some(RealName { id_type: IdType::Passport, id_number: people::passport(rng), verified: true })
            }
            None => Some(RealName {
                id_type: IdType::ResidentId,
                id_number: people::resident_id(rng, sender_district),
                verified: true,
            }),
        };
        let contents = match prohibited {
            Some((category, description)) => Contents {
                category: category.to_owned(),
                description: description.to_owned(),
                weight_grams: rng.random_range(200..=3000),
                declared_value_fen: rng.random_range(50..=500) * 100,
            },
            None => {
                let (category, description, weight_grams, declared_value_fen) = people::contents(rng);
                Contents { category: category.to_owned(), description, weight_grams, declared_value_fen }
            }
        };
        let express_share = if CARRIERS.get(carrier)?.code == "sf" { 0.7 } else { 0.05 };
        let product = if rng.random_bool(express_share) { "express" } else { "standard" };
        let created = accept - minutes(rng, 5, WAYBILL_LEAD_MAX_MINUTES);
        let created_at = DateTime::from_timestamp(created, 0)?.with_timezone(&china_offset());
        Some(Waybill {
            carrier: network.carriers.get(carrier)?.code.clone(),
            waybill_no,
            product: product.to_owned(),
            electronic: rng.random_bool(0.95),
            sender,
            receiver,
            real_name,
            contents,
            created_at,
        })
    }
}

/// Formats a compact operator into `out`; returns false when there is none.
pub(crate) fn write_operator(out: &mut String, operator: Operator, network: &Network) -> bool {
    match operator {
        Operator::None => false,
        // Written piece by piece rather than with `write!`: this runs for nearly every event.
        Operator::Courier { outlet, n } => {
            out.push_str(network.facilities[outlet as usize].code.as_str());
            out.push_str("-C");
            push_digits(out, u32::from(n), 2);
            true
        }
        Operator::Staff { facility, n } => {
            out.push_str(network.facilities[facility as usize].code.as_str());
            out.push_str("-S");
            push_digits(out, u32::from(n), 3);
            true
        }
    }
}

/// Appends `n` in decimal, zero-padded to at least `width` digits.
pub(crate) fn push_digits(out: &mut String, n: u32, width: usize) {
    let mut digits = [0u8; 10];
    let mut len = 0;
    let mut rest = n;
    while len == 0 || rest > 0 || len < width.min(digits.len()) {
        digits[len] = b'0' + (rest % 10) as u8;
        rest /= 10;
        len += 1;
        if len == digits.len() {
            break;
        }
    }
    out.extend(digits[..len].iter().rev().map(|&d| char::from(d)));
}

/// Province abbreviations on plates, by the first two digits of a division code.
const PLATE_PROVINCES: [(u32, &str); 31] = [
    (11, "京"),
    (12, "津"),
    (13, "冀"),
    (14, "晋"),
    (15, "蒙"),
    (21, "辽"),
    (22, "吉"),
    (23, "黑"),
    (31, "沪"),
    (32, "苏"),
    (33, "浙"),
    (34, "皖"),
    (35, "闽"),
    (36, "赣"),
    (37, "鲁"),
    (41, "豫"),
    (42, "鄂"),
    (43, "湘"),
    (44, "粤"),
    (45, "桂"),
    (46, "琼"),
    (50, "渝"),
    (51, "川"),
    (52, "贵"),
    (53, "云"),
    (54, "藏"),
    (61, "陕"),
    (62, "甘"),
    (63, "青"),
    (64, "宁"),
    (65, "新"),
];

/// Letters used on plates (no I or O).
const PLATE_LETTERS: &[u8; 24] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
/// Characters of a plate's serial.
const PLATE_CHARS: &[u8; 34] = b"0123456789ABCDEFGHJKLMNPQRSTUVWXYZ";

/// Formats a compact vehicle into `out`; returns false when there is none.
pub(crate) fn write_vehicle(out: &mut String, vehicle: Vehicle, carrier: usize, network: &Network) -> bool {
    match vehicle {
        Vehicle::None => false,
        Vehicle::Road { base, code } => {
            let division = network.facilities[base as usize].division.as_u32();
            let province = PLATE_PROVINCES.iter().find(|(p, _)| *p == division / 10_000).map_or("苏", |(_, a)| a);
            let prefecture = (division / 100 % 100).max(1) as usize;
            let letter = char::from(PLATE_LETTERS[(prefecture - 1) % PLATE_LETTERS.len()]);
            let first = char::from(PLATE_CHARS[code as usize % PLATE_CHARS.len()]);
            let _ = write!(out, "{province}{letter}·{first}{:04}", code / 34 % 10_000);
            true
        }
        Vehicle::Rail { code } => {
            let prefix = if code % 4 == 0 { 'D' } else { 'G' };
            let _ = write!(out, "{prefix}{}", 1000 + code / 4 % 9000);
            true
        }
        Vehicle::Air { code } => {
            let airline = CARRIERS.get(carrier).map_or("CF", |spec| spec.airline);
            let _ = write!(out, "{airline}{}", 1000 + code % 9000);
            true
        }
    }
}

/// Unix seconds to China Standard Time.
pub(crate) fn local_time(secs: i64) -> Option<DateTime<chrono::FixedOffset>> {
    Some(DateTime::from_timestamp(secs, 0)?.with_timezone(&china_offset()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn planned_events_stay_compact() {
        // A million parcels in transit hold over ten million of these.
        assert!(std::mem::size_of::<PlannedEvent>() <= 48, "{}", std::mem::size_of::<PlannedEvent>());
    }

    #[test]
    fn digits_are_padded() {
        for (n, width, expected) in [(7, 2, "07"), (12, 3, "012"), (0, 1, "0"), (123_456, 2, "123456")] {
            let mut out = String::new();
            push_digits(&mut out, n, width);
            assert_eq!(out, expected);
        }
    }

    #[test]
    fn van_and_hour_slots() {
        // 2026-11-11T08:10+08:00 is 00:10 UTC.
        let base = DateTime::parse_from_rfc3339("2026-11-11T08:10:00+08:00").unwrap().timestamp();
        assert_eq!(next_van(base) - base, 50 * 60);
        let late = DateTime::parse_from_rfc3339("2026-11-11T23:30:00+08:00").unwrap().timestamp();
        assert_eq!(next_van(late) - late, 90 * 60);
        let night = DateTime::parse_from_rfc3339("2026-11-12T03:10:00+08:00").unwrap().timestamp();
        assert_eq!(next_van(night) - night, 110 * 60);
        assert_eq!(next_hour(base) - base, 50 * 60);
        assert_eq!(next_hour(3600), 3600);
        assert_eq!(second_of_day(base), 8 * 3600 + 600);
    }
}
