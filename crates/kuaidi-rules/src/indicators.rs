//! The quality indicators of the delta plan, computed from a cell's (or a slice's) [`Counters`].
//!
//! Each indicator keeps its numerator and denominator, and its value is `None` when the denominator is zero.
//! The written definitions, with the time basis and the rule each follows, are in `docs/indicators.md`.

mod counters;
mod cube;

use serde::{Deserialize, Serialize};

pub use counters::{bucket_of, bucket_range, Counters, N_BUCKETS};
pub use cube::{CellKey, Cube, Dimension, Filter, GroupKey};

use crate::time_limit::TimeLimitClass;

/// A rate: `numerator / denominator`, expressed per `per` (1,000 for ‰).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rate {
    /// What is counted.
    pub numerator: u64,
    /// Out of how many.
    pub denominator: u64,
    /// The scale: 100 for a percentage, 1,000 for per thousand, and so on.
    pub per: u64,
    /// `numerator / denominator * per`; `None` when the denominator is zero.
    pub value: Option<f64>,
}

impl Rate {
    /// A rate from its parts.
    pub fn new(numerator: u64, denominator: u64, per: u64) -> Rate {
        let value = (denominator > 0).then(|| numerator as f64 / denominator as f64 * per as f64);
        Rate { numerator, denominator, per, value }
    }
}

/// A quantile known to the resolution of the delivery-time histogram: it lies in `[lower_hours, upper_hours)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Quantile {
    /// The lower edge of the bucket holding it.
    pub lower_hours: f64,
    /// The upper edge; `None` for the last bucket (168 hours and more).
    pub upper_hours: Option<f64>,
}

/// The attainment of one time-limit class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Attainment {
    /// The class.
    pub class: TimeLimitClass,
    /// On-time parcels out of the judged parcels of the class, in percent.
    pub rate: Rate,
}

/// Every indicator of one slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Indicators {
    /// Parcels accepted.
    pub parcels: u64,
    /// Parcels with a delivery outcome.
    pub with_outcome: u64,
    /// Parcels not yet at a final outcome.
    pub open: u64,
    /// Delay rate, per thousand: delayed parcels out of the judged ones.
    pub delay_rate: Rate,
    /// Damage rate, per 100,000 parcels accepted.
    pub damage_rate: Rate,
    /// Loss rate, per 100,000 parcels accepted (reported lost, or silent past the limit).
    pub loss_rate: Rate,
    /// Of the lost parcels, how many by silence alone.
    pub lost_by_silence: u64,
    /// Valid complaints per 1,000,000 parcels accepted.
    pub valid_complaint_rate: Rate,
    /// Time-limit attainment of each class, in percent, in the order of [`TimeLimitClass::ALL`].
    pub attainment: Vec<Attainment>,
    /// Mean delivery time in hours, over the parcels with a delivery outcome.
    pub mean_delivery_hours: Option<f64>,
    /// The 90th percentile of delivery time, to the histogram's resolution.
    pub p90_delivery: Option<Quantile>,
    /// Electronic waybills out of the parcels whose waybill is known, in percent.
    pub e_waybill_share: Rate,
    /// Locker deliveries out of the delivered parcels, in percent.
    pub locker_share: Rate,
}

impl From<&Counters> for Indicators {
    fn from(counters: &Counters) -> Indicators {
        let attainment = TimeLimitClass::ALL
            .into_iter()
            .map(|class| {
                let (judged, on_time) = counters.class(class);
                Attainment { class, rate: Rate::new(on_time, judged, 100) }
            })
            .collect();
        let mean_delivery_hours = (counters.with_outcome > 0)
            .then(|| counters.delivery_seconds as i64 as f64 / counters.with_outcome as f64 / 3600.0);
        Indicators {
            parcels: counters.parcels,
            with_outcome: counters.with_outcome,
            open: counters.open,
            delay_rate: Rate::new(counters.delayed, counters.judged, 1_000),
            damage_rate: Rate::new(counters.damaged, counters.parcels, 100_000),
            loss_rate: Rate::new(counters.lost, counters.parcels, 100_000),
            lost_by_silence: counters.lost_by_silence,
            valid_complaint_rate: Rate::new(counters.valid_complaints, counters.parcels, 1_000_000),
            attainment,
            mean_delivery_hours,
            p90_delivery: quantile(&counters.delivery_histogram, 9, 10),
            e_waybill_share: Rate::new(counters.electronic_waybills, counters.waybills, 100),
            locker_share: Rate::new(counters.locker_delivered, counters.delivered, 100),
        }
    }
}

/// The bucket holding the `numerator / denominator` quantile: the first bucket at which at least
/// `ceil(n * numerator / denominator)` of the `n` counted times lie (the nearest-rank definition).
fn quantile(histogram: &[u32; N_BUCKETS], numerator: u64, denominator: u64) -> Option<Quantile> {
    let total: u64 = histogram.iter().map(|&count| u64::from(count)).sum();
    if total == 0 {
        return None;
    }
    let rank = (total * numerator).div_ceil(denominator).max(1);
    let mut seen = 0;
    for (idx, &count) in histogram.iter().enumerate() {
        seen += u64::from(count);
        if seen >= rank {
            let (lower, upper) = bucket_range(idx);
            return Some(Quantile {
                lower_hours: lower as f64 / 3600.0,
                upper_hours: upper.map(|upper| upper as f64 / 3600.0),
            });
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_keep_their_parts_and_have_no_value_without_a_denominator() {
        assert_eq!(Rate::new(3, 1_000, 1_000).value, Some(3.0));
        assert_eq!(Rate::new(0, 0, 100).value, None);
        let indicators = Indicators::from(&Counters::default());
        assert_eq!(indicators.delay_rate.value, None);
        assert_eq!(indicators.p90_delivery, None);
        assert_eq!(indicators.mean_delivery_hours, None);
    }

    #[test]
    fn p90_is_the_nearest_rank_bucket() {
        let mut histogram = [0; N_BUCKETS];
        // Nine parcels in 2.0-2.5 h and one in 30-31 h: the 90th percentile is the ninth, in 2.0-2.5 h.
        histogram[bucket_of(2 * 3600)] = 9;
        histogram[bucket_of(30 * 3600)] = 1;
        assert_eq!(quantile(&histogram, 9, 10), Some(Quantile { lower_hours: 2.0, upper_hours: Some(2.5) }));
        // Eight and two: the ninth of ten is in the slow bucket.
        histogram[bucket_of(2 * 3600)] = 8;
        histogram[bucket_of(30 * 3600)] = 2;
        assert_eq!(quantile(&histogram, 9, 10), Some(Quantile { lower_hours: 30.0, upper_hours: Some(31.0) }));
        histogram[bucket_of(30 * 3600)] = 0;
        histogram[N_BUCKETS - 1] = 2;
        assert_eq!(quantile(&histogram, 9, 10), Some(Quantile { lower_hours: 168.0, upper_hours: None }));
    }
}
