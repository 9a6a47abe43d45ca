//! The Yangtze River Delta traffic simulator: seeded, deterministic carriers, facilities, waybills and scan events,
//! with faults injected at configured rates and a ground truth that says which parcels got which.
//!
//! The same [`Geography`], [`SimConfig`] and seed give byte-identical output on every run.
//! The library does no IO of its own: the caller opens the geography file and hands over the writers.
//!
//! # Usage
//! Pass [`Geography::from_csv`] the delta's prefecture cities, the file
//! `data/yrd_geo/yrd_prefecture_cities.csv` of the project's shared data (41 cities of Shanghai, Jiangsu, Zhejiang
//! and Anhui with 2020 census populations; its `SOURCE.md` gives the provenance).
//!
//! ```no_run
//! # fn main() -> Result<(), kuaidi_sim::SimError> {
//! use kuaidi_sim::{write_ndjson, Geography, SimConfig, Simulation};
//!
//! let file = std::fs::File::open("yrd_prefecture_cities.csv")?;
//! let geo = Geography::from_csv(file)?;
//! let start = chrono::DateTime::parse_from_rfc3339("2026-11-10T00:00:00+08:00").unwrap();
//! let sim = Simulation::new(&geo, SimConfig::new(start, 3, 100_000, 42))?;
//! let stats = write_ndjson(&sim, std::io::stdout().lock(), std::io::sink())?;
//! eprintln!("{} events", stats.events);
//! # Ok(())
//! # }
//! ```
//!
//! # Model
//! Every assumption is documented where it is made:
//! the carriers, facilities, routes and transit times in `network`,
//! origins, destinations and the time profiles in `demand`,
//! the event chain and its timing in `parcel`,
//! the personal data in `people`,
//! the faults in [`Faults`],
//! and the emission order and memory bound in `simulation`.
//! Every simulated time is in China Standard Time (+08:00).
//!
//! Left out: Parquet output, the return journey of refused parcels, rail legs, international parcels.

mod demand;
mod error;
mod faults;
mod geography;
mod ndjson;
mod network;
mod parcel;
mod people;
mod random;
mod simulation;
pub mod testing;

pub use error::SimError;
pub use faults::{Fault, Faults, TruthEntry};
pub use geography::{City, Geography};
pub use ndjson::{write_ndjson, write_truth_line};
pub use simulation::{Profile, SimConfig, SimStats, Simulation};
