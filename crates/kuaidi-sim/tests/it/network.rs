//! The network has what the delta plan describes: hubs in the first-level park cities, a sorting centre per city, an
//! outlet per district, national key cities served, and shared lockers and stations.

use std::collections::BTreeSet;

use kuaidi_model::{validate_facility, FacilityKind};
use kuaidi_sim::{SimConfig, Simulation};

use crate::support::{geo, start, Registry};

#[test]
fn every_carrier_has_the_planned_facilities() {
    let Some(geo) = geo() else { return };
    let sim = Simulation::new(&geo, SimConfig::new(start(), 1, 0, 1)).unwrap();
    let registry = Registry::of(&sim);
    assert!(sim.carriers().len() >= 6);
    for carrier in sim.carriers() {
        carrier.validate().unwrap();
    }

    let codes: BTreeSet<&str> = sim.facilities().iter().map(|f| f.code.as_str()).collect();
    assert_eq!(codes.len(), sim.facilities().len(), "facility codes are not unique");
    for facility in sim.facilities() {
        validate_facility(facility, &registry).unwrap_or_else(|e| panic!("{}: {e}", facility.code));
        assert!(facility.location.is_some());
    }

    let national = ["110100", "120100", "440100", "440300", "510100", "420100", "610100", "500100"];
    for carrier in sim.carriers() {
        let prefix = carrier.code.as_str().to_ascii_uppercase();
        let prefix = if prefix == "JTEXPRESS" { "JT".to_owned() } else { prefix };
        for hub in ["310100", "320100", "320200", "330100", "330200", "330700"].into_iter().chain(national) {
            assert!(codes.contains(format!("{prefix}-HUB-{hub}").as_str()), "{prefix} has no hub in {hub}");
        }
        for city in geo.cities().iter().map(|c| c.code.to_string()).chain(national.map(str::to_owned)) {
            assert!(codes.contains(format!("{prefix}-{city}-SC").as_str()), "{prefix} has no sorting centre in {city}");
            let has_outlet = sim.facilities().iter().any(|f| {
                f.kind == FacilityKind::Outlet
                    && f.carrier.as_ref() == Some(&carrier.code)
                    && f.city().to_string() == city
            });
            assert!(has_outlet, "{prefix} has no outlet in {city}");
        }
        assert!(codes.contains(format!("{prefix}-320505-OUT").as_str()));
    }
    assert!(codes.contains("LKR-320505-1"));
    let shared: Vec<_> = sim.facilities().iter().filter(|f| f.carrier.is_none()).collect();
    assert!(!shared.is_empty());
    assert!(shared.iter().all(|f| matches!(f.kind, FacilityKind::Locker | FacilityKind::Station)));
    assert!(sim.facilities().iter().all(|f| f.name != "市辖区" && !f.name.contains("市辖区")));
}
