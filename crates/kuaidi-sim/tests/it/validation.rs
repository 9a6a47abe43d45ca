//! Every record the simulator emits passes the model's validation against a reference built from the simulator's own
//! carriers and facilities, decodes back from its wire form unchanged, and has unique identifiers.

use std::collections::{BTreeMap, BTreeSet};

use kuaidi_model::{validate_event, validate_waybill, EventKind, Policy, Record};
use kuaidi_sim::{SimConfig, Simulation};

use kuaidi_sim::Faults;

use crate::support::{collect, complete, geo, start, Registry};

fn check_valid(config: SimConfig) -> crate::support::Output {
    let geo = geo().unwrap();
    let now = config.now;
    let sim = Simulation::new(&geo, config).unwrap();
    let registry = Registry::of(&sim);
    let output = collect(&sim);
    let policy = Policy::default();

    let mut waybill_nos = BTreeSet::new();
    let mut event_ids: BTreeMap<(String, String), Record> = BTreeMap::new();
    let mut n_events = 0;
    for (idx, record) in output.records.iter().enumerate() {
        if idx < 1_000 || idx % 97 == 0 {
            // The wire form decodes back to the same record.
            let json = serde_json::to_string(&kuaidi_formats::encode_record(record)).unwrap();
            let decoded = kuaidi_formats::decode_record(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(&decoded, record);
        }
        match record {
            Record::Carrier(carrier) => carrier.validate().unwrap(),
            Record::Facility(_) => {}
            Record::Waybill(waybill) => {
                validate_waybill(waybill, &registry, now, &policy)
                    .unwrap_or_else(|e| panic!("waybill {}: {e}", waybill.waybill_no));
                assert!(
                    waybill_nos.insert((waybill.carrier.clone(), waybill.waybill_no.clone())),
                    "waybill {} twice",
                    waybill.waybill_no
                );
                assert_eq!(waybill.sender.phone.as_str().len(), 11);
            }
            Record::Event(event) => {
                n_events += 1;
                validate_event(event, &registry, now, &policy)
                    .unwrap_or_else(|e| panic!("event {} ({}): {e}", event.event_id, event.kind.as_str()));
                assert!(event.time.with_timezone(&chrono::Utc) <= now);
                assert_eq!(event.time.offset().local_minus_utc(), 8 * 3600);
                if let Some(vehicle) = &event.vehicle {
                    assert!(vehicle.chars().count() <= 64);
                }
                let key = (event.carrier.to_string(), event.event_id.to_string());
                if let Some(first) = event_ids.insert(key, record.clone()) {
                    // A re-sent event is identical to the first copy.
                    assert_eq!(&first, record, "event id {} reused for a different event", event.event_id);
                }
            }
            Record::Complaint(complaint) => kuaidi_model::validate_complaint(complaint, &registry, now, &policy)
                .unwrap_or_else(|e| panic!("complaint {}: {e}", complaint.id)),
        }
    }
    assert_eq!(n_events, output.stats.events);
    assert_eq!(event_ids.len() as u64, output.stats.events - output.stats.duplicates);
    assert_eq!(waybill_nos.len() as u64, output.stats.waybills);
    output
}

#[test]
fn every_record_validates_with_complete_chains() {
    if geo().is_none() {
        return;
    }
    let output = check_valid(complete(5_000, 3, 11, Faults::uniform(0.03)));
    let kinds: BTreeSet<EventKind> = output
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Event(e) => Some(e.kind),
            _ => None,
        })
        .collect();
    for kind in EventKind::ALL.into_iter().filter(|k| *k != EventKind::Exception) {
        assert!(kinds.contains(&kind), "no {} event", kind.as_str());
    }
}

#[test]
fn every_record_validates_when_the_clock_cuts_chains() {
    if geo().is_none() {
        return;
    }
    // The default clock is the end of the last day: the last parcels are still in transit.
    let mut config = SimConfig::new(start(), 2, 5_000, 12);
    config.profile = kuaidi_sim::Profile::Double11;
    let output = check_valid(config);
    let delivered: BTreeSet<&str> = output
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Event(e) if matches!(e.kind, EventKind::Delivered | EventKind::Returned) => {
                Some(e.waybill_no.as_str())
            }
            _ => None,
        })
        .collect();
    let n_done = delivered.len() as u64;
    assert!(n_done < output.stats.parcels * 9 / 10, "{n_done} of {} parcels finished", output.stats.parcels);
    assert!(n_done > output.stats.parcels / 5, "{n_done} of {} parcels finished", output.stats.parcels);
}
