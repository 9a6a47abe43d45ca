//! Test support for crates that simulate: the delta's geography from the shared data beside the repository.

use crate::Geography;

/// The shared geography file: `../shared/data/yrd_geo/` beside the repository root.
pub const GEO_PATH: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/yrd_geo/yrd_prefecture_cities.csv");

/// The delta's geography, or `None` (with a message) when the shared data is absent. Under `CI=true` its absence
/// is a failure, so a CI run can never pass by skipping.
///
/// # Panics
/// When the file is missing under CI, or present but not a valid geography: both are broken test setups.
pub fn shared_geography() -> Option<Geography> {
    match std::fs::File::open(GEO_PATH) {
        Ok(file) => Some(Geography::from_csv(file).expect("the shared geography csv parses")),
        Err(err) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{GEO_PATH} not found ({err}): CI must provide the shared data"
            );
            eprintln!("skipped: {GEO_PATH} not found");
            None
        }
    }
}
