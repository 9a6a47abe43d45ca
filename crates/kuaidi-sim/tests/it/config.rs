//! Configuration errors are caught before a run and name the option.

use kuaidi_sim::{Faults, SimConfig, Simulation};

use crate::support::{geo, start};

fn check(mutate: impl FnOnce(&mut SimConfig), expected: &str) {
    let Some(geo) = geo() else { return };
    let mut config = SimConfig::new(start(), 1, 10, 1);
    mutate(&mut config);
    let err = Simulation::new(&geo, config).unwrap_err().to_string();
    assert!(err.contains(expected), "{err:?} should contain {expected:?}");
}

#[test]
fn bad_options_are_named() {
    check(|c| c.days = 0, "option `days` is invalid");
    check(|c| c.days = 400, "option `days` is invalid");
    check(|c| c.national_share = 1.5, "option `national_share` is invalid");
    check(|c| c.same_city_share = f64::NAN, "option `same_city_share` is invalid");
    check(|c| (c.national_share, c.same_city_share) = (0.6, 0.6), "must not exceed 1");
    check(|c| c.faults = Faults { loss: 2.0, ..Faults::none() }, "the `loss` rate is 2");
    check(|c| c.faults = Faults { delay: -0.1, ..Faults::default() }, "the `delay` rate");
    check(|c| c.parcels = 2_000_000_000, "option `parcels` is invalid");
}

#[test]
fn zero_parcels_still_registers_the_network() {
    let Some(geo) = geo() else { return };
    let sim = Simulation::new(&geo, SimConfig::new(start(), 1, 0, 1)).unwrap();
    let mut n_records = 0;
    let stats = sim.run(|_| n_records += 1, |_| {});
    assert_eq!(n_records, sim.carriers().len() + sim.facilities().len());
    assert_eq!(stats.parcels, 0);
}
