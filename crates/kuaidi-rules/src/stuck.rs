//! Stuck parcels and likely losses, decided from a parcel's last state and `now`.
//!
//! A parcel's [`Stage`] follows from its latest event (in the order of `ordered_events`):
//!
//! | latest event | stage | default limit |
//! |---|---|---|
//! | `accept`, `inspect` | `at_origin`: accepted, not yet moved | 24 h |
//! | `arrive`, `security_scan` | `at_facility`: at an outlet, sorting centre or hub | 24 h |
//! | `depart` | `in_transit`: between facilities | 48 h |
//! | `out_for_delivery` | `out_for_delivery`: with the courier | 24 h |
//! | `into_locker` | `in_locker`: waiting in a smart locker | 72 h |
//! | `exception`, `damaged` | `held`: a problem was reported | 48 h |
//! | `refused` | `awaiting_return`: refused, not yet sent back | 72 h |
//! | `delivered`, `returned`, `lost` | closed: never stuck | |
//!
//! A parcel is **stuck** when it has had no scan for longer than its stage's limit, and a **likely loss** when it has
//! had no scan for `likely_loss_hours` (default 168 h: a week of silence). The national express-service standard
//! GB/T 27917.3 lets a parcel past its "thoroughly delayed" limit (彻底延误时限) be treated as lost; that limit runs
//! from acceptance, not from the last scan, and its values (a third-party summary gives 7 calendar days within a city
//! and 10 between cities) were not verified against the standard here, so the default is ours and configurable.
//! A parcel in a locker is never a likely loss: the locker holds it. A parcel that is a likely loss is not also reported stuck.
//! A parcel reported `lost` is closed here; the alert for it comes from its `lost` event (see `alert`).
//!
//! The defaults cover the slowest ordinary handling (an overnight wait for the morning delivery round, a locker
//! pickup within 36 hours, a 2,000 km truck leg), so an ordinary parcel is never stuck.
//! `returned` is closed because the return journey is a new chain of custody that the hub does not follow under
//! the original waybill.
//!
//! [`StuckScan`] precomputes the limits in seconds, so judging one parcel is a table lookup and two comparisons: the
//! store calls it for every open parcel (up to 10 million) on each scheduled scan.

use chrono::{DateTime, Utc};
use kuaidi_model::{EventKind, ScanEvent};
use serde::Deserialize;

use crate::compliance::ordered_events;
use crate::RulesError;

/// Where an open parcel stands, for the stuck limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Accepted (and perhaps inspected), not yet moved.
    AtOrigin,
    /// Arrived at a facility (or scanned there), not yet departed.
    AtFacility,
    /// Departed, not yet arrived.
    InTransit,
    /// Out with the courier.
    OutForDelivery,
    /// In a smart locker.
    InLocker,
    /// An exception or damage was reported.
    Held,
    /// Refused by the receiver, not yet returned.
    AwaitingReturn,
}

impl Stage {
    /// Every stage, in the order of the limits table.
    pub const ALL: [Stage; 7] = [
        Stage::AtOrigin,
        Stage::AtFacility,
        Stage::InTransit,
        Stage::OutForDelivery,
        Stage::InLocker,
        Stage::Held,
        Stage::AwaitingReturn,
    ];

    /// The snake_case name, as in the config file.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::AtOrigin => "at_origin",
            Stage::AtFacility => "at_facility",
            Stage::InTransit => "in_transit",
            Stage::OutForDelivery => "out_for_delivery",
            Stage::InLocker => "in_locker",
            Stage::Held => "held",
            Stage::AwaitingReturn => "awaiting_return",
        }
    }

    /// The stage after an event of this kind; `None` when the parcel is closed.
    pub fn after(kind: EventKind) -> Option<Stage> {
        match kind {
            EventKind::Accept | EventKind::Inspect => Some(Stage::AtOrigin),
            EventKind::Arrive | EventKind::SecurityScan => Some(Stage::AtFacility),
            EventKind::Depart => Some(Stage::InTransit),
            EventKind::OutForDelivery => Some(Stage::OutForDelivery),
            EventKind::IntoLocker => Some(Stage::InLocker),
            EventKind::Exception | EventKind::Damaged => Some(Stage::Held),
            EventKind::Refused => Some(Stage::AwaitingReturn),
            EventKind::Delivered | EventKind::Returned | EventKind::Lost => None,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The per-stage limits, in whole hours. Loadable from TOML; every key is optional and defaults as documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StuckLimits {
    /// Accepted and not moved: 24.
    pub at_origin_hours: u32,
    /// At a facility and not departed: 24.
    pub at_facility_hours: u32,
    /// Departed and not arrived: 48.
    pub in_transit_hours: u32,
    /// Out for delivery and no outcome: 24.
    pub out_for_delivery_hours: u32,
    /// In a locker and not picked up: 72.
    pub in_locker_hours: u32,
    /// After an exception or damage report: 48.
    pub held_hours: u32,
    /// Refused and not returned: 72.
    pub awaiting_return_hours: u32,
    /// No scan at all for this long, in any open stage but a locker: a likely loss. 168 (7 days).
    pub likely_loss_hours: u32,
}

impl Default for StuckLimits {
    fn default() -> StuckLimits {
        StuckLimits {
            at_origin_hours: 24,
            at_facility_hours: 24,
            in_transit_hours: 48,
            out_for_delivery_hours: 24,
            in_locker_hours: 72,
            held_hours: 48,
            awaiting_return_hours: 72,
            likely_loss_hours: 168,
        }
    }
}

/// The longest limit accepted: one year.
const MAX_HOURS: u32 = 8784;

impl StuckLimits {
    /// Parses limits from TOML (keys as the field names), then checks them.
    pub fn from_toml(text: &str) -> Result<StuckLimits, RulesError> {
        let limits: StuckLimits =
            toml::from_str(text).map_err(|err| RulesError::Syntax { message: err.to_string() })?;
        limits.validate()?;
        Ok(limits)
    }

    /// The limit of one stage, in hours.
    pub fn hours(&self, stage: Stage) -> u32 {
        match stage {
            Stage::AtOrigin => self.at_origin_hours,
            Stage::AtFacility => self.at_facility_hours,
            Stage::InTransit => self.in_transit_hours,
            Stage::OutForDelivery => self.out_for_delivery_hours,
            Stage::InLocker => self.in_locker_hours,
            Stage::Held => self.held_hours,
            Stage::AwaitingReturn => self.awaiting_return_hours,
        }
    }

    /// Checks every limit is from 1 hour to a year, and that a likely loss comes after every stage limit but the
    /// locker's (a parcel must be stuck before it is given up for lost).
    pub fn validate(&self) -> Result<(), RulesError> {
        let invalid = |field: String, value: u32, reason: String| RulesError::InvalidConfig {
            field,
            value: value.to_string(),
            reason,
        };
        let mut fields: Vec<(String, u32)> =
            Stage::ALL.iter().map(|&stage| (format!("{}_hours", stage.as_str()), self.hours(stage))).collect();
        fields.push(("likely_loss_hours".to_owned(), self.likely_loss_hours));
        for (field, hours) in fields {
            if !(1..=MAX_HOURS).contains(&hours) {
                return Err(invalid(field, hours, format!("must be from 1 to {MAX_HOURS} hours")));
            }
        }
        for stage in Stage::ALL {
            if stage != Stage::InLocker && self.hours(stage) >= self.likely_loss_hours {
                return Err(invalid(
                    "likely_loss_hours".to_owned(),
                    self.likely_loss_hours,
                    format!("must be longer than `{}_hours` ({})", stage.as_str(), self.hours(stage)),
                ));
            }
        }
        Ok(())
    }
}

/// What an open parcel's silence means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within its stage's limit (or closed).
    Moving,
    /// Silent for longer than its stage's limit.
    Stuck {
        /// The stage it is stuck in.
        stage: Stage,
        /// Seconds since the last scan.
        silent_secs: i64,
        /// The stage's limit in seconds.
        limit_secs: i64,
    },
    /// Silent for `likely_loss_hours` or more.
    LikelyLoss {
        /// The stage it went silent in.
        stage: Stage,
        /// Seconds since the last scan.
        silent_secs: i64,
    },
}

/// The limits prepared for judging many parcels.
#[derive(Debug, Clone, Copy)]
pub struct StuckScan {
    limit_secs: [i64; 7],
    loss_secs: i64,
}

impl StuckScan {
    /// Prepares the limits.
    pub fn new(limits: &StuckLimits) -> StuckScan {
        let mut limit_secs = [0; 7];
        for stage in Stage::ALL {
            limit_secs[stage.index()] = i64::from(limits.hours(stage)) * 3600;
        }
        StuckScan { limit_secs, loss_secs: i64::from(limits.likely_loss_hours) * 3600 }
    }

    /// Judges a parcel in `stage` whose last scan was at `last_scan` (unix seconds), at `now` (unix seconds).
    /// This is what the store calls for each open parcel; it does not allocate.
    #[inline]
    pub fn judge(&self, stage: Stage, last_scan: i64, now: i64) -> Verdict {
        let silent_secs = now - last_scan;
        if silent_secs >= self.loss_secs && stage != Stage::InLocker {
            return Verdict::LikelyLoss { stage, silent_secs };
        }
        let limit_secs = self.limit_secs[stage.index()];
        if silent_secs > limit_secs {
            Verdict::Stuck { stage, silent_secs, limit_secs }
        } else {
            Verdict::Moving
        }
    }
}

/// A parcel's last state: what the store keeps per open parcel for the scheduled scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastState<'e> {
    /// The latest event.
    pub event: &'e ScanEvent,
    /// The stage it leaves the parcel in; `None` when closed.
    pub stage: Option<Stage>,
}

/// The last state of a parcel from its events (any order, repeats allowed); `None` without events.
pub fn last_state(events: &[ScanEvent]) -> Option<LastState<'_>> {
    let ordered = ordered_events(events);
    let event = *ordered.last()?;
    Some(LastState { event, stage: Stage::after(event.kind) })
}

/// Judges a parcel from its events at `now`.
pub fn judge_events(events: &[ScanEvent], scan: &StuckScan, now: DateTime<Utc>) -> Verdict {
    match last_state(events) {
        Some(LastState { event, stage: Some(stage) }) => scan.judge(stage, event.time.timestamp(), now.timestamp()),
        _ => Verdict::Moving,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{base, chain, CLEAN};

    fn hours(h: i64) -> i64 {
        h * 3600
    }

    #[test]
    fn each_stage_against_its_limit() {
        let scan = StuckScan::new(&StuckLimits::default());
        // (stage, hours silent, expected verdict as text)
        let cases: [(Stage, i64, &str); 12] = [
            (Stage::AtOrigin, 24, "moving"),
            (Stage::AtOrigin, 25, "stuck"),
            (Stage::AtFacility, 23, "moving"),
            (Stage::AtFacility, 30, "stuck"),
            (Stage::InTransit, 47, "moving"),
            (Stage::InTransit, 49, "stuck"),
            (Stage::OutForDelivery, 25, "stuck"),
            (Stage::InLocker, 71, "moving"),
            (Stage::InLocker, 500, "stuck"),
            (Stage::Held, 167, "stuck"),
            (Stage::Held, 168, "likely_loss"),
            (Stage::AwaitingReturn, 200, "likely_loss"),
        ];
        for (stage, silent, expected) in cases {
            let verdict = match scan.judge(stage, 0, hours(silent)) {
                Verdict::Moving => "moving",
                Verdict::Stuck { stage: s, .. } if s == stage => "stuck",
                Verdict::LikelyLoss { stage: s, .. } if s == stage => "likely_loss",
                other => panic!("{other:?}"),
            };
            assert_eq!(verdict, expected, "{} silent {silent} h", stage.as_str());
        }
        assert_eq!(
            scan.judge(Stage::InTransit, 0, hours(50)),
            Verdict::Stuck { stage: Stage::InTransit, silent_secs: hours(50), limit_secs: hours(48) }
        );
    }

    #[test]
    fn from_events() {
        let scan = StuckScan::new(&StuckLimits::default());
        let at = |minutes: i64| (base() + chrono::Duration::minutes(minutes)).with_timezone(&Utc);
        // Delivered: closed, never stuck.
        assert_eq!(judge_events(&chain(CLEAN), &scan, at(100_000)), Verdict::Moving);
        assert_eq!(judge_events(&[], &scan, at(0)), Verdict::Moving);
        let in_transit = chain("accept OUT-SZ 0; depart OUT-SZ 60");
        assert_eq!(judge_events(&in_transit, &scan, at(60 + 48 * 60)), Verdict::Moving);
        assert!(matches!(judge_events(&in_transit, &scan, at(61 + 48 * 60)), Verdict::Stuck { .. }));
        assert!(matches!(judge_events(&in_transit, &scan, at(60 + 168 * 60)), Verdict::LikelyLoss { .. }));
        // Reported lost: closed here (the `lost` event raises its own alert).
        let lost = chain("accept OUT-SZ 0; depart OUT-SZ 60; lost OUT-SZ 100");
        assert_eq!(judge_events(&lost, &scan, at(100_000)), Verdict::Moving);
        // The latest event decides, whatever order the events came in.
        let mut shuffled = chain("accept OUT-SZ 0; inspect OUT-SZ 2; depart OUT-SZ 60; arrive SC-SZ 100");
        shuffled.reverse();
        assert_eq!(last_state(&shuffled).unwrap().stage, Some(Stage::AtFacility));
    }

    #[test]
    fn limits_from_toml() {
        assert_eq!(StuckLimits::from_toml("").unwrap(), StuckLimits::default());
        let limits = StuckLimits::from_toml("in_transit_hours = 36\nlikely_loss_hours = 240").unwrap();
        assert_eq!(limits.in_transit_hours, 36);
        assert_eq!(limits.likely_loss_hours, 240);
        assert_eq!(limits.at_origin_hours, 24);

        let err = StuckLimits::from_toml("in_transit_hours = 0").unwrap_err().to_string();
        assert_eq!(err, "`in_transit_hours` is `0`, but must be from 1 to 8784 hours");
        let err = StuckLimits::from_toml("held_hours = 200").unwrap_err().to_string();
        assert_eq!(err, "`likely_loss_hours` is `168`, but must be longer than `held_hours` (200)");
        let err = StuckLimits::from_toml("in_transit_hourz = 3").unwrap_err().to_string();
        assert!(err.contains("in_transit_hourz"), "{err}");
        let err = StuckLimits::from_toml("in_transit_hours = -3").unwrap_err().to_string();
        assert!(err.contains("in_transit_hours"), "{err}");
        // A locker may hold a parcel longer than the loss limit: it is never a likely loss.
        assert!(StuckLimits::from_toml("in_locker_hours = 400").is_ok());
    }
}
