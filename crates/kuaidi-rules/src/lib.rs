//! Kuaidi's pure derivations over a parcel's waybill and scan events.
//!
//! Safety supervision (三项制度): `compliance` (real-name, inspection, security scan per parcel) and `coverage`
//! (exact counters of those outcomes by day, carrier, outlet, courier and city); `prohibited` (the 2016 catalogue
//! of prohibited items, screened against declared contents); `chain` (impossible chains); `stuck` (stuck parcels and
//! likely losses from a parcel's last state and `now`); and `alert`, which gathers all of these into alert drafts.
//!
//! Nothing here does IO or reads the clock: `now` is a parameter and the reference data is handed in.

pub mod alert;
pub mod chain;
pub mod compliance;
pub mod coverage;
mod error;
pub mod prohibited;
pub mod stuck;
#[cfg(test)]
mod test_support;

pub use error::RulesError;
