//! Shared helpers: the project's shared data (skipped when absent, except on CI), a reference of facilities, and
//! building a cube both incrementally and from final summaries.

use std::collections::HashMap;
use std::path::PathBuf;

use kuaidi_model::{CarrierCode, Facility, FacilityCode, Reference};

/// A file of the project's shared data, or `None` (with a message) when it is absent; on CI its absence fails.
pub fn shared(path: &str) -> Option<PathBuf> {
    let full = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/")).join(path);
    if full.exists() {
        return Some(full);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{} not found: CI must provide the shared data",
        full.display()
    );
    eprintln!("skipped: {} not found", full.display());
    None
}

/// Registered facilities, as the hub holds them.
#[derive(Default)]
pub struct Facilities(pub HashMap<FacilityCode, Facility>);

impl Reference for Facilities {
    fn has_carrier(&self, _code: &CarrierCode) -> bool {
        true
    }

    fn facility(&self, code: &FacilityCode) -> Option<&Facility> {
        self.0.get(code)
    }
}
