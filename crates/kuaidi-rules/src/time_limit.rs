//! Time-limit rules (时限): which promise a parcel between two cities carries, and how many hours it allows.
//!
//! The classes come from the delta plan (see `data/key_cities.toml` for the source and the key cities):
//! 12 hours between two different key cities of the delta, 24 hours between other delta cities (a city to itself
//! included), 48 hours between key cities nationally, 72 hours otherwise.
//! Every number and list is configurable through [`TimeLimits::from_toml`]; [`TimeLimits::default`] is the plan's.
//! The same rules hold the silence limit after which an undelivered parcel with no scan counts as lost.

use std::collections::BTreeSet;

use kuaidi_model::{AdminCode, DivisionLevel};
use serde::{Deserialize, Serialize};

use crate::RulesError;

/// The default rules' key cities, compiled in so that the defaults need no IO.
const DEFAULT_KEY_CITIES: &str = include_str!("../data/key_cities.toml");

/// The promise a parcel carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeLimitClass {
    /// Between two different key cities of the delta: 12 hours by default.
    DeltaKey,
    /// Between other delta cities, one city to itself included: 24 hours by default.
    Delta,
    /// Between key cities nationally: 48 hours by default.
    NationalKey,
    /// Any other domestic pair: 72 hours by default.
    Other,
    /// A deadline promised for this parcel alone (an e-commerce platform's estimated delivery date), which takes
    /// the place of the class of its cities.
    Promised,
}

impl TimeLimitClass {
    /// Every class, in the order of the counters' arrays.
    pub const ALL: [TimeLimitClass; 5] = [
        TimeLimitClass::DeltaKey,
        TimeLimitClass::Delta,
        TimeLimitClass::NationalKey,
        TimeLimitClass::Other,
        TimeLimitClass::Promised,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TimeLimitClass::DeltaKey => "delta_key",
            TimeLimitClass::Delta => "delta",
            TimeLimitClass::NationalKey => "national_key",
            TimeLimitClass::Other => "other",
            TimeLimitClass::Promised => "promised",
        }
    }

    /// The index of the class in [`TimeLimitClass::ALL`].
    pub fn index(self) -> usize {
        match self {
            TimeLimitClass::DeltaKey => 0,
            TimeLimitClass::Delta => 1,
            TimeLimitClass::NationalKey => 2,
            TimeLimitClass::Other => 3,
            TimeLimitClass::Promised => 4,
        }
    }
}

/// The time-limit rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeLimits {
    /// Hours allowed between two different key cities of the delta (default 12).
    pub delta_key_hours: u32,
    /// Hours allowed between other delta cities (default 24).
    pub delta_hours: u32,
    /// Hours allowed between key cities nationally (default 48).
    pub national_key_hours: u32,
    /// Hours allowed for any other pair (default 72).
    pub other_hours: u32,
    /// Days without a scan after which a parcel with no final outcome counts as lost (default 7: the complete-delay
    /// limit of domestic inter-city parcels in the national express service standard, 彻底延误时限, after which a
    /// parcel may be treated as lost).
    pub lost_after_days: u32,
    /// Province codes (`xx0000`) of the delta.
    delta_provinces: BTreeSet<AdminCode>,
    /// Prefecture codes of the delta's key cities.
    delta_key_cities: BTreeSet<AdminCode>,
    /// Prefecture codes of the national key cities outside the delta.
    national_key_cities: BTreeSet<AdminCode>,
    /// Whether every delta city is also a key city nationally.
    delta_is_national_key: bool,
}

/// A rules file as written: every key optional, unknown keys rejected, codes still text.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeLimits {
    delta_key_hours: Option<i64>,
    delta_hours: Option<i64>,
    national_key_hours: Option<i64>,
    other_hours: Option<i64>,
    lost_after_days: Option<i64>,
    delta_provinces: Option<Vec<String>>,
    delta_key_cities: Option<Vec<String>>,
    national_key_cities: Option<Vec<String>>,
    delta_is_national_key: Option<bool>,
}

impl Default for TimeLimits {
    /// The plan's rules: 12, 24, 48 and 72 hours, lost after 7 silent days, and the key cities of
    /// `data/key_cities.toml`.
    fn default() -> TimeLimits {
        let empty = TimeLimits {
            delta_key_hours: 12,
            delta_hours: 24,
            national_key_hours: 48,
            other_hours: 72,
            lost_after_days: 7,
            delta_provinces: BTreeSet::new(),
            delta_key_cities: BTreeSet::new(),
            national_key_cities: BTreeSet::new(),
            delta_is_national_key: true,
        };
        match toml::from_str::<RawTimeLimits>(DEFAULT_KEY_CITIES).map_err(|err| err.to_string()) {
            Ok(raw) => empty.merge(raw).unwrap_or_else(|err| {
                debug_assert!(false, "the default key cities are invalid: {err}");
                TimeLimits::empty_lists()
            }),
            Err(err) => {
                debug_assert!(false, "the default key cities are not TOML: {err}");
                TimeLimits::empty_lists()
            }
        }
    }
}

impl TimeLimits {
    /// The default hours with no key cities; only reachable if the compiled-in data were broken.
    fn empty_lists() -> TimeLimits {
        TimeLimits {
            delta_key_hours: 12,
            delta_hours: 24,
            national_key_hours: 48,
            other_hours: 72,
            lost_after_days: 7,
            delta_provinces: BTreeSet::new(),
            delta_key_cities: BTreeSet::new(),
            national_key_cities: BTreeSet::new(),
            delta_is_national_key: true,
        }
    }

    /// Reads rules from TOML. Every key is optional and falls back to [`TimeLimits::default`]; a list given
    /// replaces the default list. Keys: `delta_key_hours`, `delta_hours`, `national_key_hours`, `other_hours`
    /// (1 to 720), `lost_after_days` (1 to 365), `delta_provinces` (province codes), `delta_key_cities` (prefecture
    /// codes inside the delta), `national_key_cities` (prefecture codes), `delta_is_national_key` (boolean).
    pub fn from_toml(text: &str) -> Result<TimeLimits, RulesError> {
        let raw: RawTimeLimits = toml::from_str(text).map_err(|err| RulesError::Syntax { message: err.to_string() })?;
        TimeLimits::default().merge(raw)
    }

    fn merge(mut self, raw: RawTimeLimits) -> Result<TimeLimits, RulesError> {
        let hours = |field: &str, value: Option<i64>, default: u32| match value {
            None => Ok(default),
            Some(hours) => in_range(field, hours, 1, 720, "must be from 1 to 720 hours"),
        };
        self.delta_key_hours = hours("delta_key_hours", raw.delta_key_hours, self.delta_key_hours)?;
        self.delta_hours = hours("delta_hours", raw.delta_hours, self.delta_hours)?;
        self.national_key_hours = hours("national_key_hours", raw.national_key_hours, self.national_key_hours)?;
        self.other_hours = hours("other_hours", raw.other_hours, self.other_hours)?;
        if let Some(days) = raw.lost_after_days {
            self.lost_after_days = in_range("lost_after_days", days, 1, 365, "must be from 1 to 365 days")?;
        }
        if let Some(codes) = raw.delta_provinces {
            self.delta_provinces = parse_codes("delta_provinces", &codes, DivisionLevel::Province)?;
        }
        if let Some(codes) = raw.delta_key_cities {
            self.delta_key_cities = parse_codes("delta_key_cities", &codes, DivisionLevel::Prefecture)?;
        }
        if let Some(codes) = raw.national_key_cities {
            self.national_key_cities = parse_codes("national_key_cities", &codes, DivisionLevel::Prefecture)?;
        }
        if let Some(flag) = raw.delta_is_national_key {
            self.delta_is_national_key = flag;
        }
        for (idx, city) in self.delta_key_cities.iter().enumerate() {
            if !self.in_delta(*city) {
                return Err(RulesError::InvalidConfig {
                    field: format!("delta_key_cities[{idx}]"),
                    value: city.to_string(),
                    reason: "must lie in one of `delta_provinces`".into(),
                });
            }
        }
        Ok(self)
    }

    /// Whether a division lies in the delta.
    pub fn in_delta(&self, code: AdminCode) -> bool {
        self.delta_provinces.contains(&code.province())
    }

    /// Whether a division lies in a key city of the delta.
    pub fn is_delta_key(&self, code: AdminCode) -> bool {
        self.delta_key_cities.contains(&code.prefecture())
    }

    /// Whether a division lies in a key city nationally.
    pub fn is_national_key(&self, code: AdminCode) -> bool {
        self.national_key_cities.contains(&code.prefecture())
            || self.is_delta_key(code)
            || (self.delta_is_national_key && self.in_delta(code))
    }

    /// The class of a parcel between two divisions (any level: a district stands for its city).
    pub fn classify(&self, origin: AdminCode, destination: AdminCode) -> TimeLimitClass {
        let (origin, destination) = (origin.prefecture(), destination.prefecture());
        if self.in_delta(origin) && self.in_delta(destination) {
            if origin != destination && self.is_delta_key(origin) && self.is_delta_key(destination) {
                TimeLimitClass::DeltaKey
            } else {
                TimeLimitClass::Delta
            }
        } else if self.is_national_key(origin) && self.is_national_key(destination) {
            TimeLimitClass::NationalKey
        } else {
            TimeLimitClass::Other
        }
    }

    /// The hours a class allows; `None` for [`TimeLimitClass::Promised`], whose deadline is the parcel's own.
    pub fn hours(&self, class: TimeLimitClass) -> Option<u32> {
        match class {
            TimeLimitClass::DeltaKey => Some(self.delta_key_hours),
            TimeLimitClass::Delta => Some(self.delta_hours),
            TimeLimitClass::NationalKey => Some(self.national_key_hours),
            TimeLimitClass::Other => Some(self.other_hours),
            TimeLimitClass::Promised => None,
        }
    }
}

fn in_range(field: &str, value: i64, min: i64, max: i64, reason: &str) -> Result<u32, RulesError> {
    if (min..=max).contains(&value) {
        u32::try_from(value).map_err(|_| invalid(field, value.to_string(), reason))
    } else {
        Err(invalid(field, value.to_string(), reason))
    }
}

fn invalid(field: &str, value: String, reason: &str) -> RulesError {
    RulesError::InvalidConfig { field: field.to_owned(), value, reason: reason.to_owned() }
}

fn parse_codes(field: &str, codes: &[String], level: DivisionLevel) -> Result<BTreeSet<AdminCode>, RulesError> {
    let mut set = BTreeSet::new();
    for (idx, text) in codes.iter().enumerate() {
        let field = format!("{field}[{idx}]");
        let code = AdminCode::parse(text).map_err(|err| invalid(&field, err.value, &err.reason))?;
        if code.level() != level {
            let reason = match level {
                DivisionLevel::Province => "must be a province code ending in `0000`",
                _ => "must be a prefecture (city) code ending in `00`, not a province or district",
            };
            return Err(invalid(&field, text.clone(), reason));
        }
        set.insert(code);
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> AdminCode {
        AdminCode::parse(text).unwrap()
    }

    #[test]
    fn default_classes() {
        let limits = TimeLimits::default();
        let check = |origin: &str, destination: &str, class: TimeLimitClass, hours: u32| {
            let got = limits.classify(code(origin), code(destination));
            assert_eq!(got, class, "{origin} -> {destination}");
            assert_eq!(limits.hours(got), Some(hours));
        };
        // Shanghai (Pudong) to Hangzhou: two key cities of the delta.
        check("310115", "330100", TimeLimitClass::DeltaKey, 12);
        // Suzhou to itself: one city, not "between" key cities.
        check("320505", "320508", TimeLimitClass::Delta, 24);
        // Hefei (Anhui, not a key city) to Shanghai.
        check("340100", "310100", TimeLimitClass::Delta, 24);
        // Huangshan to Beijing: every delta city is a national key city by default.
        check("341000", "110105", TimeLimitClass::NationalKey, 48);
        // Beijing to Guangzhou: two national key cities.
        check("110100", "440100", TimeLimitClass::NationalKey, 48);
        // Shanghai to Lhasa: not a key city.
        check("310100", "540100", TimeLimitClass::Other, 72);
        assert_eq!(limits.lost_after_days, 7);
        assert_eq!(limits.hours(TimeLimitClass::Promised), None);
    }

    #[test]
    fn from_toml_overrides_and_defaults() {
        let limits = TimeLimits::from_toml("delta_key_hours = 10\ndelta_is_national_key = false\n").unwrap();
        assert_eq!(limits.delta_key_hours, 10);
        assert_eq!(limits.delta_hours, 24);
        assert_eq!(limits.classify(code("310100"), code("320100")), TimeLimitClass::DeltaKey);
        assert_eq!(limits.classify(code("341000"), code("110100")), TimeLimitClass::Other);
        assert_eq!(limits.classify(code("310100"), code("110100")), TimeLimitClass::NationalKey);
        let limits = TimeLimits::from_toml("national_key_cities = [\"540100\"]").unwrap();
        assert_eq!(limits.classify(code("310100"), code("540100")), TimeLimitClass::NationalKey);
        assert_eq!(limits.classify(code("310100"), code("110100")), TimeLimitClass::Other);
        assert_eq!(TimeLimits::from_toml("").unwrap(), TimeLimits::default());
    }

    #[test]
    fn from_toml_errors_name_field_and_value() {
        let check = |text: &str, expected: &str| {
            let err = TimeLimits::from_toml(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?} gave {err:?}, expected it to contain {expected:?}");
        };
        check("delta_hours = 0", "`delta_hours` is `0`, but must be from 1 to 720 hours");
        check("other_hours = 100000", "`other_hours` is `100000`");
        check("lost_after_days = -1", "`lost_after_days` is `-1`, but must be from 1 to 365 days");
        check(
            "delta_key_cities = [\"310100\", \"32010\"]",
            "`delta_key_cities[1]` is `32010`, but must be exactly 6 digits",
        );
        check("delta_key_cities = [\"320505\"]", "`delta_key_cities[0]` is `320505`, but must be a prefecture");
        check(
            "delta_key_cities = [\"110100\"]",
            "`delta_key_cities[0]` is `110100`, but must lie in one of `delta_provinces`",
        );
        check("delta_provinces = [\"310100\"]", "`delta_provinces[0]` is `310100`, but must be a province code");
        check("national_key_cities = [\"990000\"]", "`national_key_cities[0]` is `990000`");
        check("delta_hourz = 3", "unknown field `delta_hourz`");
        check("delta_hours = \"12\"", "delta_hours");
    }
}
