//! The same seed and configuration give byte-identical output; another seed gives other output.

use kuaidi_sim::{write_ndjson, Faults, Profile, SimConfig, Simulation};

use crate::support::{geo, start};

fn bytes(config: SimConfig) -> (Vec<u8>, Vec<u8>) {
    let geo = geo().unwrap();
    let sim = Simulation::new(&geo, config).unwrap();
    let (mut records, mut truth) = (Vec::new(), Vec::new());
    let stats = write_ndjson(&sim, &mut records, &mut truth).unwrap();
    assert_eq!(stats.bytes, records.len() as u64);
    assert_eq!(stats.truth_bytes, truth.len() as u64);
    (records, truth)
}

#[test]
fn same_seed_same_bytes() {
    if geo().is_none() {
        return;
    }
    let mut config = SimConfig::new(start(), 2, 3_000, 42);
    config.faults = Faults::uniform(0.02);
    let first = bytes(config.clone());
    let second = bytes(config.clone());
    assert!(first.0.len() > 1_000_000, "{} bytes", first.0.len());
    assert!(!first.1.is_empty());
    assert!(first == second, "two runs with the same seed differ");

    let mut double11 = config.clone();
    double11.profile = Profile::Double11;
    assert!(bytes(double11.clone()) == bytes(double11), "double 11 runs differ");

    let mut other = config;
    other.seed = 43;
    let third = bytes(other);
    assert!(first.0 != third.0, "different seeds gave the same records");
    assert!(first.1 != third.1, "different seeds gave the same truth");
}

#[test]
fn no_faults_gives_empty_truth() {
    let Some(geo) = geo() else { return };
    let mut config = SimConfig::new(start(), 2, 3_000, 7);
    config.faults = Faults::none();
    let sim = Simulation::new(&geo, config).unwrap();
    let (mut records, mut truth) = (Vec::new(), Vec::new());
    let stats = write_ndjson(&sim, &mut records, &mut truth).unwrap();
    assert!(truth.is_empty());
    assert_eq!(stats.truth_entries, 0);
    assert_eq!(stats.duplicates, 0);
    assert_eq!(stats.out_of_order, 0);
    assert!(stats.parcels > 2_500, "{stats:?}");
    assert_eq!(stats.parcels, stats.waybills);
}
