//! Kuaidi's pure derivations over the model: the parcel summary, the time-limit rules, the quality indicators kept
//! incrementally in a cube of counters, and the report against the delta plan's 2020 targets.
//!
//! Everything here is pure: no IO, no async, no SQL or HTTP; the clock is a parameter (`now`).
//! The flow: a store calls [`summarize`] for a parcel whenever one of its records arrives, and [`Cube::apply`] with
//! the parcel's previous and new summary; a reader slices the cube ([`Cube::slice`]), turns the counters into
//! [`Indicators`] and sets them beside the targets in a [`Report`].
//!
//! Unlike kuaidi-model, the summary, counter, indicator and report types derive serde: a store keeps summaries
//! and counters, and the API and CLI show indicators and reports, so their form is part of this crate's contract.

mod error;
pub mod indicators;
pub mod report;
mod serde_codes;
pub mod summary;
pub mod time_limit;

pub use error::RulesError;
pub use indicators::{CellKey, Counters, Cube, Dimension, Filter, GroupKey, Indicators, Rate};
pub use report::{Report, Status};
pub use summary::{summarize, summarize_with_promise, Context, Outcome, ParcelSummary};
pub use time_limit::{TimeLimitClass, TimeLimits};
