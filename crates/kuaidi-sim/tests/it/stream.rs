//! Emission order: carriers, then facilities, then waybills and events by time, except the injected out-of-order
//! events and duplicate copies; and the traffic's shape in time.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Timelike};
use kuaidi_model::Record;
use kuaidi_sim::{Fault, Profile, SimConfig, Simulation};

use kuaidi_sim::Faults;

use crate::support::{collect, complete, geo, start};

#[test]
fn records_come_in_emission_order() {
    let Some(geo) = geo() else { return };
    let sim = Simulation::new(&geo, complete(4_000, 2, 21, Faults::uniform(0.03))).unwrap();
    let output = collect(&sim);
    let n_carriers = sim.carriers().len();
    let n_facilities = sim.facilities().len();
    assert!(output.records[..n_carriers].iter().all(|r| matches!(r, Record::Carrier(_))));
    assert!(output.records[n_carriers..n_carriers + n_facilities].iter().all(|r| matches!(r, Record::Facility(_))));

    let injected: BTreeSet<&str> = output
        .truth
        .iter()
        .flat_map(|t| &t.faults)
        .filter_map(|f| match f {
            Fault::OutOfOrder { event_id, .. } | Fault::Duplicate { event_id } => Some(event_id.as_str()),
            _ => None,
        })
        .collect();
    let mut previous = None;
    for record in &output.records[n_carriers + n_facilities..] {
        let time = match record {
            Record::Waybill(w) => w.created_at,
            Record::Event(e) if injected.contains(e.event_id.as_str()) => continue,
            Record::Event(e) => e.time,
            Record::Complaint(c) => c.filed_at,
            other => panic!("unexpected {other:?} among waybills and events"),
        };
        assert!(previous <= Some(time), "{record:?} comes after {previous:?}");
        previous = Some(time);
    }
}

#[test]
fn acceptance_follows_the_diurnal_and_double11_profiles() {
    let Some(geo) = geo() else { return };
    let accepts = |profile: Profile| {
        let mut config = SimConfig::new(start(), 5, 20_000, 8);
        config.profile = profile;
        config.faults = kuaidi_sim::Faults::none();
        let sim = Simulation::new(&geo, config).unwrap();
        let mut by_day: BTreeMap<u32, u64> = BTreeMap::new();
        let mut by_hour = [0u64; 24];
        let mut transit = chrono::Duration::zero();
        let mut n_transit = 0i32;
        let mut first_scan: BTreeMap<String, chrono::DateTime<chrono::FixedOffset>> = BTreeMap::new();
        sim.run(
            |record| {
                if let Record::Event(e) = record {
                    if e.kind == kuaidi_model::EventKind::Accept {
                        *by_day.entry(e.time.day()).or_default() += 1;
                        by_hour[e.time.hour() as usize] += 1;
                        first_scan.insert(e.waybill_no.to_string(), e.time);
                    } else if e.kind == kuaidi_model::EventKind::OutForDelivery {
                        if let Some(accepted) = first_scan.remove(e.waybill_no.as_str()) {
                            transit += e.time - accepted;
                            n_transit += 1;
                        }
                    }
                }
            },
            |_| {},
        );
        (by_day, by_hour, transit / n_transit.max(1))
    };
    let (normal_days, normal_hours, normal_transit) = accepts(Profile::Normal);
    let (double11_days, _, double11_transit) = accepts(Profile::Double11);
    // Few parcels at night, many in the late morning and the evening.
    assert!(normal_hours[3] * 20 < normal_hours[11], "{normal_hours:?}");
    assert!(normal_hours[3] * 20 < normal_hours[18], "{normal_hours:?}");
    // 9 to 13 November: the 11th is the peak under Double 11 and an ordinary day otherwise.
    let peak = double11_days.iter().max_by_key(|(_, n)| **n).map(|(day, _)| *day);
    assert_eq!(peak, Some(11), "{double11_days:?}");
    // The peak day carries 3 times a normal day against 1.3 times on the pre-sale days before it.
    assert!(double11_days[&11] > double11_days[&9] * 2, "{double11_days:?}");
    assert!(double11_days[&11] > normal_days[&11], "{double11_days:?} vs {normal_days:?}");
    // Handling is slower under Double 11, so parcels take longer from acceptance to delivery.
    assert!(double11_transit > normal_transit, "{double11_transit} vs {normal_transit}");
}
