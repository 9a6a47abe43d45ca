//! Where parcels go and when they are sent: the gravity model over city populations and the diurnal and Double-11
//! time profiles.
//!
//! # Origin and destination
//! - A share `national_share` of parcels (default 8 %) travels between the delta and a national key city: 60 % of
//!   them outbound (the delta is a net seller online), 40 % inbound.
//!   The delta end is drawn by population (times the e-commerce weight when it sends), the national city by
//!   population (times its e-commerce weight when it sends; Guangzhou and Shenzhen are heavy senders).
//! - A share `same_city_share` (default 10 %, close to the national same-city share of 10.3 % in 2023) stays within
//!   one delta city, drawn by population times the e-commerce weight.
//! - The rest travels between two different delta cities, with probability proportional to
//!   `boost_o * P_o * P_d / max(d_od, 50 km)^2`: populations `P` from the 2020 census, distance `d` between city
//!   centres, and `boost_o` the origin's e-commerce weight (Jinhua/Yiwu 4, Hangzhou 2.5, Suzhou 2, Shanghai 1.8,
//!   Jiaxing and Wenzhou 1.5, Ningbo and Taizhou 1.3, others 1).
//!   The 50 km floor keeps neighbouring cities from dominating.
//! - Within a city, the sender's and receiver's districts are uniform: district populations are not in the data.
//!
//! # Time
//! Parcels are accepted through the simulated days with a diurnal profile in China Standard Time: almost none from
//! midnight to 06:00, a late-morning peak around 10:00–11:00 and an evening peak around 17:00–19:00, when couriers
//! collect from online shops.
//! Under [`Profile::Normal`] weekends carry 90 % of a weekday's volume.
//! Under [`Profile::Double11`] the day of 11 November (or, when the simulated days do not include it, the first day)
//! carries 3 times a normal day's volume, the following days 2.6, 2.2, 1.8, 1.5, 1.3 and 1.15 times, and the ten days
//! before it 1.3 times (pre-sales); `SimConfig::parcels` stays the total, so the profile shapes the volume rather than
//! adding to it.
//! Double 11 also makes handling at every facility 1.6 times slower (see `parcel`).

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Timelike, Weekday};

use crate::network::Network;
use crate::random::{chance, Cumulative, SimRng};
use crate::{Profile, SimConfig};

/// Relative acceptance volume by hour of day, China Standard Time.
const DIURNAL: [f64; 24] = [
    0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.8, 1.5, 3.0, 5.0, 6.5, 7.0, 5.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 7.0, 5.5, 3.5, 1.5,
    0.6,
];

/// Volume of the Double-11 peak day and the six days after it, relative to a normal day.
const DOUBLE11_PEAK: [f64; 7] = [3.0, 2.6, 2.2, 1.8, 1.5, 1.3, 1.15];
/// Volume of the ten days before the peak.
const DOUBLE11_PRESALE: f64 = 1.3;
/// Share of national parcels leaving the delta.
const OUTBOUND_SHARE: f64 = 0.6;
/// Distances below this count as this in the gravity model, in km.
const GRAVITY_MIN_KM: f64 = 50.0;

/// China Standard Time, the offset of every simulated time.
pub(crate) fn china_offset() -> FixedOffset {
    // `east_opt` fails only beyond ±24 h, so the UTC fallback is never taken.
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| chrono::Offset::fix(&chrono::Utc))
}

/// Draws origin and destination cities.
pub(crate) struct Demand {
    national_share: f64,
    same_city_share: f64,
    n_delta: usize,
    intercity: Cumulative,
    delta_senders: Cumulative,
    delta_receivers: Cumulative,
    national_senders: Cumulative,
    national_receivers: Cumulative,
}

impl Demand {
    pub fn new(network: &Network, national_share: f64, same_city_share: f64) -> Demand {
        let n_delta = network.n_delta;
        let delta = &network.cities[..n_delta];
        let national = &network.cities[n_delta..];
        let intercity = Cumulative::new(delta.iter().enumerate().flat_map(|(o, origin)| {
            delta.iter().enumerate().map(move |(d, destination)| {
                if o == d {
                    return 0.0;
                }
                let km = origin.location.distance_km(destination.location).max(GRAVITY_MIN_KM);
                origin.origin_boost * origin.population as f64 * destination.population as f64 / (km * km)
            })
        }));
        Demand {
            national_share: if national.is_empty() { 0.0 } else { national_share },
            same_city_share,
            n_delta,
            intercity,
            delta_senders: Cumulative::new(delta.iter().map(|c| c.population as f64 * c.origin_boost)),
            delta_receivers: Cumulative::new(delta.iter().map(|c| c.population as f64)),
            national_senders: Cumulative::new(national.iter().map(|c| c.population as f64 * c.origin_boost)),
            national_receivers: Cumulative::new(national.iter().map(|c| c.population as f64)),
        }
    }

    /// Draws `(origin, destination)` as indexes into `Network::cities`.
    pub fn sample(&self, rng: &mut SimRng) -> (usize, usize) {
        let draw: f64 = rand::Rng::random(rng);
        if draw < self.national_share {
            if chance(rng, OUTBOUND_SHARE) {
                (self.delta_senders.sample(rng), self.n_delta + self.national_receivers.sample(rng))
            } else {
                (self.n_delta + self.national_senders.sample(rng), self.delta_receivers.sample(rng))
            }
        } else if draw < self.national_share + self.same_city_share || self.intercity.is_empty() {
            let city = self.delta_senders.sample(rng);
            (city, city)
        } else {
            let pair = self.intercity.sample(rng);
            (pair / self.n_delta, pair % self.n_delta)
        }
    }
}

/// How many parcels are accepted in each simulated hour, summing exactly to `config.parcels`.
pub(crate) fn hourly_counts(config: &SimConfig) -> Vec<u64> {
    let offset = china_offset();
    let start = config.start.with_timezone(&offset);
    let n_hours = i64::from(config.days) * 24;
    let peak = match config.profile {
        Profile::Normal => None,
        Profile::Double11 => Some(double11_peak(start, config.days)),
    };
    let weights: Vec<f64> = (0..n_hours)
        .map(|hour| {
            let local = start + Duration::hours(hour);
            let day_factor = match peak {
                None if matches!(local.weekday(), Weekday::Sat | Weekday::Sun) => 0.9,
                None => 1.0,
                Some(peak) => {
                    let offset = (local.date_naive() - peak).num_days();
                    match offset {
                        0..=6 => DOUBLE11_PEAK[offset as usize],
                        -10..=-1 => DOUBLE11_PRESALE,
                        _ => 1.0,
                    }
                }
            };
            DIURNAL[local.hour() as usize] * day_factor
        })
        .collect();
    let total: f64 = weights.iter().sum();
    // Cumulative rounding: each hour gets the difference of the rounded running totals, so the counts sum to exactly
    // `parcels` and no hour is off by more than one from its share.
    let mut running = 0.0;
    let mut assigned = 0u64;
    weights
        .iter()
        .map(|w| {
            running += w;
            let upto = if total > 0.0 { (running / total * config.parcels as f64).round() as u64 } else { 0 };
            let upto = upto.min(config.parcels);
            let count = upto.saturating_sub(assigned);
            assigned = assigned.max(upto);
            count
        })
        .collect()
}

/// The Double-11 peak date: 11 November if a simulated day falls on it, else the first simulated day.
fn double11_peak(start: DateTime<FixedOffset>, days: u32) -> NaiveDate {
    (0..i64::from(days))
        .map(|day| (start + Duration::days(day)).date_naive())
        .find(|date| date.month() == 11 && date.day() == 11)
        .unwrap_or_else(|| start.date_naive())
}
