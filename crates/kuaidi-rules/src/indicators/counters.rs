//! The counters of one cell: integers only, so that adding a parcel and taking it away again are exact.
//!
//! Every field adds and subtracts with wrapping arithmetic. That makes a cell's value independent of the order in
//! which parcels were added and removed: whatever the order, once every removal has met its addition the result is
//! the true count, as long as the true count fits in the field (`u64`; `u32` per histogram bucket).

use serde::{Deserialize, Serialize};

use crate::summary::{Outcome, ParcelSummary};
use crate::time_limit::TimeLimitClass;

/// How many delivery-time histogram buckets there are.
pub const N_BUCKETS: usize = 113;

const HALF_HOUR: i64 = 1800;
const HOUR: i64 = 3600;

/// The delivery-time histogram's bucket for a delivery time in seconds: 30-minute buckets below 24 hours, 1-hour
/// buckets from 24 to 72 hours, 6-hour buckets from 72 to 168 hours, and one bucket for 168 hours and more.
/// Negative times (bad clocks) fall in the first bucket.
pub fn bucket_of(seconds: i64) -> usize {
    let seconds = seconds.max(0);
    let idx = if seconds < 24 * HOUR {
        seconds / HALF_HOUR
    } else if seconds < 72 * HOUR {
        48 + (seconds - 24 * HOUR) / HOUR
    } else if seconds < 168 * HOUR {
        96 + (seconds - 72 * HOUR) / (6 * HOUR)
    } else {
        112
    };
    idx as usize
}

/// The range of delivery times of a bucket, in seconds: `[lower, upper)`, with no upper bound for the last.
pub fn bucket_range(idx: usize) -> (i64, Option<i64>) {
    let idx = idx as i64;
    if idx < 48 {
        (idx * HALF_HOUR, Some((idx + 1) * HALF_HOUR))
    } else if idx < 96 {
        (24 * HOUR + (idx - 48) * HOUR, Some(24 * HOUR + (idx - 47) * HOUR))
    } else if idx < 112 {
        (72 * HOUR + (idx - 96) * 6 * HOUR, Some(72 * HOUR + (idx - 95) * 6 * HOUR))
    } else {
        (168 * HOUR, None)
    }
}

/// The counts of one cell (or of a slice of cells), from which every indicator is computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Parcels accepted.
    pub parcels: u64,
    /// Parcels with a delivery outcome (`delivered`, `into_locker` or `refused`).
    pub with_outcome: u64,
    /// Parcels with a delivery outcome and a time limit, so judged on time or delayed.
    pub judged: u64,
    /// Of those, delivered after their deadline.
    pub delayed: u64,
    /// Parcels whose outcome is `delivered` or `into_locker`.
    pub delivered: u64,
    /// Of those, delivered through a smart locker.
    pub locker_delivered: u64,
    /// Parcels refused.
    pub refused: u64,
    /// Parcels returned.
    pub returned: u64,
    /// Parcels lost, reported or by silence.
    pub lost: u64,
    /// Of those, lost by silence.
    pub lost_by_silence: u64,
    /// Parcels found damaged at any point.
    pub damaged: u64,
    /// Parcels still open (in transit, damaged and undelivered, or lost by silence).
    pub open: u64,
    /// Valid complaints (a parcel may have several).
    pub valid_complaints: u64,
    /// Parcels whose waybill is known.
    pub waybills: u64,
    /// Of those, electronic waybills.
    pub electronic_waybills: u64,
    /// The sum of delivery times in seconds, over the parcels with a delivery outcome (two's complement, wrapping).
    pub delivery_seconds: u64,
    /// Judged parcels by time-limit class, in the order of [`TimeLimitClass::ALL`].
    pub class_judged: [u64; 5],
    /// On-time parcels by time-limit class.
    pub class_on_time: [u64; 5],
    /// Parcels with a delivery outcome by delivery-time bucket ([`bucket_of`]).
    #[serde(with = "histogram")]
    pub delivery_histogram: [u32; N_BUCKETS],
}

impl Default for Counters {
    fn default() -> Counters {
        Counters {
            parcels: 0,
            with_outcome: 0,
            judged: 0,
            delayed: 0,
            delivered: 0,
            locker_delivered: 0,
            refused: 0,
            returned: 0,
            lost: 0,
            lost_by_silence: 0,
            damaged: 0,
            open: 0,
            valid_complaints: 0,
            waybills: 0,
            electronic_waybills: 0,
            delivery_seconds: 0,
            class_judged: [0; 5],
            class_on_time: [0; 5],
            delivery_histogram: [0; N_BUCKETS],
        }
    }
}

impl Counters {
    /// The counters of one parcel; all zero for a parcel not yet accepted.
    pub fn of(summary: &ParcelSummary) -> Counters {
        let mut counters = Counters::default();
        if summary.accepted_at.is_none() {
            return counters;
        }
        let flag = |condition: bool| u64::from(condition);
        counters.parcels = 1;
        counters.delivered = flag(matches!(summary.outcome, Outcome::Delivered | Outcome::IntoLocker));
        counters.locker_delivered = counters.delivered & flag(summary.locker_delivery);
        counters.refused = flag(summary.outcome == Outcome::Refused);
        counters.returned = flag(summary.outcome == Outcome::Returned);
        counters.lost = flag(summary.outcome == Outcome::Lost);
        counters.lost_by_silence = flag(summary.outcome == Outcome::Lost && summary.lost_by_silence);
        counters.damaged = flag(summary.damaged);
        counters.open = flag(summary.open);
        counters.valid_complaints = u64::from(summary.valid_complaints);
        counters.waybills = flag(summary.electronic_waybill.is_some());
        counters.electronic_waybills = flag(summary.electronic_waybill == Some(true));
        if let Some(seconds) = summary.delivery_seconds {
            counters.with_outcome = 1;
            counters.delivery_seconds = seconds as u64;
            counters.delivery_histogram[bucket_of(seconds)] = 1;
        }
        if let (Some(delayed), Some(class)) = (summary.delayed, summary.time_limit) {
            counters.judged = 1;
            counters.delayed = flag(delayed);
            counters.class_judged[class.index()] = 1;
            counters.class_on_time[class.index()] = flag(!delayed);
        }
        counters
    }

    /// Adds another cell's counts.
    pub fn add(&mut self, other: &Counters) {
        self.combine(other, u64::wrapping_add, u32::wrapping_add);
    }

    /// Takes away counts added before.
    pub fn subtract(&mut self, other: &Counters) {
        self.combine(other, u64::wrapping_sub, u32::wrapping_sub);
    }

    /// Whether every count is zero, so the cell holds no parcel.
    pub fn is_zero(&self) -> bool {
        self.parcels == 0 && *self == Counters::default()
    }

    /// The judged and on-time counts of one class.
    pub fn class(&self, class: TimeLimitClass) -> (u64, u64) {
        (self.class_judged[class.index()], self.class_on_time[class.index()])
    }

    fn combine(&mut self, other: &Counters, op: fn(u64, u64) -> u64, op32: fn(u32, u32) -> u32) {
        let pairs: [(&mut u64, u64); 16] = [
            (&mut self.parcels, other.parcels),
            (&mut self.with_outcome, other.with_outcome),
            (&mut self.judged, other.judged),
            (&mut self.delayed, other.delayed),
            (&mut self.delivered, other.delivered),
            (&mut self.locker_delivered, other.locker_delivered),
            (&mut self.refused, other.refused),
            (&mut self.returned, other.returned),
            (&mut self.lost, other.lost),
            (&mut self.lost_by_silence, other.lost_by_silence),
            (&mut self.damaged, other.damaged),
            (&mut self.open, other.open),
            (&mut self.valid_complaints, other.valid_complaints),
            (&mut self.waybills, other.waybills),
            (&mut self.electronic_waybills, other.electronic_waybills),
            (&mut self.delivery_seconds, other.delivery_seconds),
        ];
        for (mine, theirs) in pairs {
            *mine = op(*mine, theirs);
        }
        for (mine, theirs) in self.class_judged.iter_mut().zip(other.class_judged) {
            *mine = op(*mine, theirs);
        }
        for (mine, theirs) in self.class_on_time.iter_mut().zip(other.class_on_time) {
            *mine = op(*mine, theirs);
        }
        for (mine, theirs) in self.delivery_histogram.iter_mut().zip(other.delivery_histogram) {
            *mine = op32(*mine, theirs);
        }
    }
}

/// The histogram as a JSON array (serde derives arrays only up to 32 elements).
mod histogram {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use super::N_BUCKETS;

    pub fn serialize<S: Serializer>(buckets: &[u32; N_BUCKETS], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(buckets.iter())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<[u32; N_BUCKETS], D::Error> {
        let buckets = Vec::<u32>::deserialize(deserializer)?;
        let n = buckets.len();
        buckets.try_into().map_err(|_| D::Error::custom(format!("delivery_histogram has {n} buckets, not {N_BUCKETS}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_time_once() {
        let mut previous_upper = 0;
        for idx in 0..N_BUCKETS {
            let (lower, upper) = bucket_range(idx);
            assert_eq!(lower, previous_upper, "bucket {idx} starts where {} ends", idx.saturating_sub(1));
            assert_eq!(bucket_of(lower), idx);
            match upper {
                Some(upper) => {
                    assert_eq!(bucket_of(upper - 1), idx);
                    previous_upper = upper;
                }
                None => assert_eq!(idx, N_BUCKETS - 1),
            }
        }
        assert_eq!(bucket_of(-5), 0);
        assert_eq!(bucket_of(12 * HOUR), 24);
        assert_eq!(bucket_of(1_000 * HOUR), 112);
    }

    #[test]
    fn add_and_subtract_in_any_order_are_exact() {
        let mut one = Counters { parcels: 1, delivery_seconds: (-30i64) as u64, ..Counters::default() };
        one.delivery_histogram[3] = 1;
        let mut two = Counters { parcels: 1, delayed: 1, delivery_seconds: 100, ..Counters::default() };
        two.delivery_histogram[3] = 1;
        let mut cell = Counters::default();
        // Removal before addition wraps below zero, and comes back exactly.
        cell.subtract(&one);
        cell.add(&two);
        cell.add(&one);
        assert_eq!(cell, two);
        cell.subtract(&two);
        assert!(cell.is_zero());
        let json = serde_json::to_string(&two).unwrap();
        assert_eq!(serde_json::from_str::<Counters>(&json).unwrap(), two);
        let err = serde_json::from_str::<Counters>(&json.replace("[0,0,0,1,", "[0,0,1,")).unwrap_err();
        assert!(err.to_string().contains("delivery_histogram has 112 buckets, not 113"), "{err}");
    }
}
