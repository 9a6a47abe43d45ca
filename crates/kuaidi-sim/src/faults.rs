//! Injected faults and the ground truth that records them.
//!
//! Each rate is the probability, per parcel, that the fault is injected; rates are independent except that a parcel
//! is never both lost and stuck (a lost parcel is not also stuck, so the stuck rate seen is `stuck * (1 - loss)`).
//!
//! What each fault does:
//! - `delay`: one leg (depart → arrive) takes extra whole hours, enough that the arrival already lies past the
//!   parcel's time limit (12, 24 or 48 h after acceptance) by 2 to 10 hours; every later scan shifts with it.
//!   A delayed parcel is therefore late, by more than 2 hours, when it reaches a delivery outcome, and a parcel
//!   without a delay never is (the delivery-time rule is in the `parcel` module docs; limits from
//!   `Simulation::time_limit_hours`). A delayed parcel whose delayed arrival comes after `now` is not listed (its
//!   evidence is not emitted) and has reached no outcome either; one whose delayed arrival is emitted but whose
//!   outcome comes after `now` is listed, though it has not reached an outcome yet.
//! - `damage`: a `damaged` event (exception code `DMG-01` or `DMG-02`) minutes after an arrival; the parcel goes on.
//! - `loss`: after some arrival the parcel is reported `lost` (`LOST-01`) 12 to 72 hours later; no scan follows.
//! - `missing_real_name`: no real-name record, or one that was not verified.
//! - `missing_inspection`: no `inspect` event at acceptance.
//! - `missing_security_scan`: no `security_scan` event at the origin sorting centre.
//! - `stuck`: scans stop silently somewhere between the first departure and the destination outlet.
//! - `prohibited_item`: the declared contents name a prohibited item (锂电池, 管制刀具, 烟花爆竹, 农药, 仿真枪).
//! - `complaint`: a `complaint` record (verdict `valid`, id `<waybill>-C1`) filed six hours after the last scan, or at
//!   `now` if that is sooner, in the category its reason names; no event shows it.
//! - `duplicate`: one event is emitted twice, the copy 1 to 30 minutes later in the stream, same id and content.
//! - `out_of_order`: one event (never the first) is emitted 2 to 24 hours later in the stream than its time suggests.
//!
//! The ground truth lists a fault whose evidence is an event only if that event is emitted: events after the
//! simulation's `now` are not, so a parcel still in transit may carry fewer faults than were drawn for it.
//! Faults shown by an absence (missing inspection, security scan, real name, stuck) are listed as drawn.

use kuaidi_model::{CarrierCode, EventId, WaybillNo};

use crate::SimError;

/// Per-parcel fault rates, each a probability from 0 to 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// A leg late enough to miss the time limit.
    pub delay: f64,
    /// A `damaged` event.
    pub damage: f64,
    /// A `lost` event, and no scan after it.
    pub loss: f64,
    /// No real-name record, or an unverified one.
    pub missing_real_name: f64,
    /// No `inspect` event.
    pub missing_inspection: f64,
    /// No `security_scan` event.
    pub missing_security_scan: f64,
    /// Scans stop silently mid-route.
    pub stuck: f64,
    /// Declared contents name a prohibited item.
    pub prohibited_item: f64,
    /// A complaint, recorded only in the ground truth.
    pub complaint: f64,
    /// One event re-sent with the same id and content.
    pub duplicate: f64,
    /// One event emitted hours after its place in time order.
    pub out_of_order: f64,
}

impl Default for Faults {
    /// Small rates that give a demo of a few thousand parcels something to find: about 1 parcel in 100 has a fault.
    fn default() -> Faults {
        Faults {
            delay: 0.005,
            damage: 0.0005,
            loss: 0.0002,
            missing_real_name: 0.003,
            missing_inspection: 0.003,
            missing_security_scan: 0.002,
            stuck: 0.001,
            prohibited_item: 0.0005,
            complaint: 0.0005,
            duplicate: 0.005,
            out_of_order: 0.005,
        }
    }
}

impl Faults {
    /// No faults at all.
    pub fn none() -> Faults {
        Faults::uniform(0.0)
    }

    /// Every fault at the same rate, as tests that must see each kind often enough use.
    pub fn uniform(rate: f64) -> Faults {
        Faults {
            delay: rate,
            damage: rate,
            loss: rate,
            missing_real_name: rate,
            missing_inspection: rate,
            missing_security_scan: rate,
            stuck: rate,
            prohibited_item: rate,
            complaint: rate,
            duplicate: rate,
            out_of_order: rate,
        }
    }

    /// The rates with their names, in a fixed order.
    pub fn rates(&self) -> [(&'static str, f64); 11] {
        [
            ("delay", self.delay),
            ("damage", self.damage),
            ("loss", self.loss),
            ("missing_real_name", self.missing_real_name),
            ("missing_inspection", self.missing_inspection),
            ("missing_security_scan", self.missing_security_scan),
            ("stuck", self.stuck),
            ("prohibited_item", self.prohibited_item),
            ("complaint", self.complaint),
            ("duplicate", self.duplicate),
            ("out_of_order", self.out_of_order),
        ]
    }

    pub(crate) fn validate(&self) -> Result<(), SimError> {
        for (name, rate) in self.rates() {
            if !(0.0..=1.0).contains(&rate) {
                return Err(SimError::InvalidConfig {
                    field: "faults",
                    reason: format!("the `{name}` rate is {rate}, but must be from 0 to 1"),
                });
            }
        }
        Ok(())
    }
}

/// One fault injected into one parcel.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The arrival `event_id` came `hours` later than planned, so the parcel, if it reaches a delivery outcome, does
    /// so more than 2 hours past its time limit; no parcel without this fault is late.
    Delay { hours: u32, event_id: EventId },
    /// The `damaged` event.
    Damage { event_id: EventId },
    /// The `lost` event.
    Loss { event_id: EventId },
    /// No real-name record (`unverified == false`), or one with `verified: false` (`unverified == true`).
    MissingRealName { unverified: bool },
    /// No `inspect` event.
    MissingInspection,
    /// No `security_scan` event.
    MissingSecurityScan,
    /// Scans stopped after `last_event_id`.
    Stuck { last_event_id: EventId },
    /// The declared contents name this prohibited item.
    ProhibitedItem { item: &'static str },
    /// A complaint with this reason (Chinese, as a consumer would file it).
    Complaint { reason: &'static str },
    /// This event was emitted twice.
    Duplicate { event_id: EventId },
    /// This event was emitted `lag_minutes` later in the stream than its time suggests.
    OutOfOrder { event_id: EventId, lag_minutes: u32 },
}

impl Fault {
    /// The fault's snake_case name, as in [`Faults`] and the ground-truth file.
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::Delay { .. } => "delay",
            Fault::Damage { .. } => "damage",
            Fault::Loss { .. } => "loss",
            Fault::MissingRealName { .. } => "missing_real_name",
            Fault::MissingInspection => "missing_inspection",
            Fault::MissingSecurityScan => "missing_security_scan",
            Fault::Stuck { .. } => "stuck",
            Fault::ProhibitedItem { .. } => "prohibited_item",
            Fault::Complaint { .. } => "complaint",
            Fault::Duplicate { .. } => "duplicate",
            Fault::OutOfOrder { .. } => "out_of_order",
        }
    }
}

/// The ground truth of one parcel that got at least one fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruthEntry {
    /// The parcel's carrier.
    pub carrier: CarrierCode,
    /// The parcel's waybill number.
    pub waybill_no: WaybillNo,
    /// Its faults, in the order of [`Faults::rates`].
    pub faults: Vec<Fault>,
}
