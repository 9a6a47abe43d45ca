//! Kuaidi's pure derivations over the model.
//!
//! Quality: the parcel summary, the time-limit rules, the quality indicators kept incrementally in a cube of
//! counters, and the report against the delta plan's 2020 targets. A store calls [`summarize`] for a parcel whenever
//! one of its records arrives, and [`Cube::apply`] with the parcel's previous and new summary; a reader slices the
//! cube ([`Cube::slice`]), turns the counters into [`Indicators`] and sets them beside the targets in a [`Report`].
//!
//! Safety supervision (三项制度): `compliance` (real-name, inspection, security scan per parcel) and `coverage`
//! (exact counters of those outcomes by day, carrier, outlet, courier and city); `prohibited` (the 2016 catalogue
//! of prohibited items, screened against declared contents); `chain` (impossible chains); `stuck` (stuck parcels and
//! likely losses from a parcel's last state and `now`); and `alert`, which gathers all of these into alert drafts.
//!
//! Everything here is pure: no IO, no async, no SQL or HTTP; the clock is a parameter (`now`) and the reference data
//! is handed in. Unlike kuaidi-model, the summary, counter, indicator and report types derive serde: a store keeps
//! summaries and counters, and the API and CLI show indicators and reports, so their form is part of this crate's
//! contract.

pub mod alert;
pub mod chain;
pub mod compliance;
pub mod coverage;
mod error;
pub mod indicators;
pub mod prohibited;
pub mod report;
mod serde_codes;
pub mod stuck;
pub mod summary;
#[cfg(test)]
mod test_support;
pub mod time_limit;

pub use error::RulesError;
pub use indicators::{CellKey, Counters, Cube, Dimension, Filter, GroupKey, Indicators, Rate};
pub use report::{Report, Status};
pub use summary::{summarize, summarize_with_promise, Context, Outcome, ParcelSummary};
pub use time_limit::{TimeLimitClass, TimeLimits};
