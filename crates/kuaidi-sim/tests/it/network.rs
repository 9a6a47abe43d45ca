//! The network has what the delta plan describes: hubs in the first-level park cities, a sorting centre per city, an
//! outlet per district, national key cities served, and shared lockers and stations; and its legs travel by road,
//! rail and air.

use std::collections::{BTreeMap, BTreeSet};

use kuaidi_model::{validate_facility, EventKind, FacilityKind, Record};
use kuaidi_sim::{Faults, SimConfig, Simulation};

use crate::support::{collect, complete, geo, start, Registry};

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

/// How a departure travels, judged from its vehicle alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Mode {
    Road,
    Rail,
    Air,
}

fn mode_of(vehicle: &str) -> Option<Mode> {
    let bytes = vehicle.as_bytes();
    if vehicle.contains('·') {
        Some(Mode::Road)
    } else if bytes.len() == 5 && matches!(bytes[0], b'G' | b'D') && bytes[1..].iter().all(u8::is_ascii_digit) {
        Some(Mode::Rail)
    } else if bytes.len() == 6 && bytes[2..].iter().all(u8::is_ascii_digit) {
        Some(Mode::Air)
    } else {
        None
    }
}

#[test]
fn legs_travel_by_road_rail_and_air() {
    let Some(geo) = geo() else { return };
    let sim = Simulation::new(&geo, complete(20_000, 2, 7, Faults::none())).unwrap();
    let kinds: BTreeMap<&str, FacilityKind> = sim.facilities().iter().map(|f| (f.code.as_str(), f.kind)).collect();
    let output = collect(&sim);
    let mut legs: BTreeMap<Mode, usize> = BTreeMap::new();
    let mut departures: BTreeMap<(String, String), chrono::DateTime<chrono::FixedOffset>> = BTreeMap::new();
    let mut rail_minutes = Vec::new();
    for record in &output.records {
        let Record::Event(event) = record else { continue };
        match event.kind {
            EventKind::Depart => {
                let vehicle = event.vehicle.as_deref().expect("every departure names its vehicle");
                assert!(vehicle.is_ascii() || vehicle.contains('·'), "{vehicle}");
                assert!(vehicle.len() <= 64, "{vehicle}");
                let mode = mode_of(vehicle).unwrap_or_else(|| panic!("unrecognised vehicle {vehicle}"));
                *legs.entry(mode).or_default() += 1;
                if mode == Mode::Rail {
                    // Trains carry line-haul legs between trunk facilities, never an outlet's van run.
                    let next = event.next_facility.as_ref().expect("a departure names where it is bound");
                    for code in [event.facility.as_str(), next.as_str()] {
                        assert!(
                            matches!(kinds.get(code), Some(FacilityKind::Hub | FacilityKind::SortingCentre)),
                            "{vehicle} leaves or reaches {code}"
                        );
                    }
                    departures.insert((event.waybill_no.to_string(), next.to_string()), event.time);
                }
            }
            EventKind::Arrive => {
                if let Some(depart) = departures.remove(&(event.waybill_no.to_string(), event.facility.to_string())) {
                    rail_minutes.push((event.time - depart).num_minutes());
                }
            }
            _ => {}
        }
    }
    let total: usize = legs.values().sum();
    let share = |mode| *legs.get(&mode).unwrap_or(&0) as f64 / total.max(1) as f64;
    eprintln!(
        "legs: {total}, road {:.2} %, rail {:.2} %, air {:.2} %",
        share(Mode::Road) * 100.0,
        share(Mode::Rail) * 100.0,
        share(Mode::Air) * 100.0
    );
    for mode in [Mode::Road, Mode::Rail, Mode::Air] {
        assert!(legs.get(&mode).is_some_and(|&n| n > 0), "no {mode:?} legs in {legs:?}");
    }
    assert!(share(Mode::Road) > share(Mode::Rail) && share(Mode::Road) > share(Mode::Air), "{legs:?}");
    // A rail leg of at least 300 km takes its 90 minutes of station handling plus at least 108 minutes on the train.
    assert!(!rail_minutes.is_empty());
    assert!(rail_minutes.iter().all(|&m| m >= 90 + 108), "{rail_minutes:?}");
}
