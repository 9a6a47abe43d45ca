//! Shared test helpers: the geography file (skipped when absent, except on CI), a reference built from the
//! simulator's own carriers and facilities, and a collected run.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use kuaidi_model::{CarrierCode, Facility, FacilityCode, Record, Reference};
use kuaidi_sim::{Faults, SimConfig, SimStats, Simulation, TruthEntry};

pub use kuaidi_sim::testing::shared_geography as geo;

/// The first simulated day.
pub fn start() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-09T00:00:00+08:00").unwrap()
}

/// A configuration whose clock is far enough ahead that every parcel's chain is complete.
pub fn complete(parcels: u64, days: u32, seed: u64, faults: Faults) -> SimConfig {
    let mut config = SimConfig::new(start(), days, parcels, seed);
    config.now = (start() + Duration::days(i64::from(days) + 15)).with_timezone(&Utc);
    config.faults = faults;
    config
}

/// The registered carriers and facilities, as the hub would hold them.
pub struct Registry {
    carriers: Vec<CarrierCode>,
    facilities: BTreeMap<FacilityCode, Facility>,
}

impl Registry {
    pub fn of(sim: &Simulation) -> Registry {
        Registry {
            carriers: sim.carriers().iter().map(|c| c.code.clone()).collect(),
            facilities: sim.facilities().iter().map(|f| (f.code.clone(), f.clone())).collect(),
        }
    }
}

impl Reference for Registry {
    fn has_carrier(&self, code: &CarrierCode) -> bool {
        self.carriers.contains(code)
    }
    fn facility(&self, code: &FacilityCode) -> Option<&Facility> {
        self.facilities.get(code)
    }
}

/// A whole run held in memory.
pub struct Output {
    pub records: Vec<Record>,
    pub truth: Vec<TruthEntry>,
    pub stats: SimStats,
}

pub fn collect(sim: &Simulation) -> Output {
    let mut records = Vec::new();
    let mut truth = Vec::new();
    let stats = sim.run(|r| records.push(r), |t| truth.push(t));
    Output { records, truth, stats }
}
