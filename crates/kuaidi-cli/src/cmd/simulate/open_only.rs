//! `kuaidi simulate --open-only`: the simulated traffic cut short, so that every parcel is still open: each keeps its
//! waybill and only its first one to three scans (half one, three in ten two, one in five three), all of them from
//! before delivery, and no complaint. A store loaded with it holds only parcels the stuck-parcel scan must look at
//! (the sweep benchmark in `docs/BENCHMARKS.md`, issue 5).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use kuaidi_model::{EventKind, Record};

/// Keeps a parcel's first scans and drops the rest.
#[derive(Debug, Default)]
pub struct OpenOnly {
    /// Scans still to keep, by a hash of the parcel's key.
    remaining: HashMap<u64, u8>,
    /// Scans kept so far.
    pub kept_events: u64,
}

impl OpenOnly {
    /// Whether `record` stays in the output.
    pub fn keep(&mut self, record: &Record) -> bool {
        match record {
            Record::Carrier(_) | Record::Facility(_) | Record::Waybill(_) => true,
            Record::Complaint(_) => false,
            Record::Event(event) => {
                let parcel = parcel_hash(event.carrier.as_str(), event.waybill_no.as_str());
                let remaining = self.remaining.entry(parcel).or_insert_with(|| scans_kept(parcel));
                let early = matches!(
                    event.kind,
                    EventKind::Accept
                        | EventKind::Inspect
                        | EventKind::SecurityScan
                        | EventKind::Depart
                        | EventKind::Arrive
                );
                if !early {
                    // Nothing after a later stage is kept, so no parcel is delivered, held or returned.
                    *remaining = 0;
                }
                if *remaining == 0 {
                    return false;
                }
                *remaining -= 1;
                self.kept_events += 1;
                true
            }
        }
    }
}

fn parcel_hash(carrier: &str, waybill_no: &str) -> u64 {
    let mut hasher = DefaultHasher::new();
    (carrier, waybill_no).hash(&mut hasher);
    hasher.finish()
}

/// How many scans a parcel keeps: 1, 2 or 3, in proportions 5 : 3 : 2, fixed by its key.
fn scans_kept(parcel: u64) -> u8 {
    match parcel % 10 {
        0..=4 => 1,
        5..=7 => 2,
        _ => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kuaidi_sim::{SimConfig, Simulation};

    #[test]
    fn every_parcel_keeps_its_waybill_and_one_to_three_early_scans() {
        let Some(geo) = kuaidi_sim::testing::shared_geography() else {
            return;
        };
        let start = chrono::DateTime::parse_from_rfc3339("2026-11-20T00:00:00+08:00").unwrap();
        let sim = Simulation::new(&geo, SimConfig::new(start, 1, 3_000, 11)).unwrap();
        let mut filter = OpenOnly::default();
        let (mut waybills, mut scans, mut complaints_in) = (0u64, HashMap::<String, Vec<EventKind>>::new(), 0u64);
        sim.run(
            |record| {
                if matches!(record, Record::Complaint(_)) {
                    complaints_in += 1;
                }
                if !filter.keep(&record) {
                    return;
                }
                match &record {
                    Record::Waybill(_) => waybills += 1,
                    Record::Event(event) => scans.entry(event.waybill_no.to_string()).or_default().push(event.kind),
                    Record::Complaint(_) => panic!("a complaint was kept"),
                    _ => {}
                }
            },
            |_| {},
        );
        assert!(waybills > 2_000, "only {waybills} waybills");
        assert!(complaints_in > 0, "the simulation made no complaint to drop");
        let mut by_count = [0u64; 4];
        for kinds in scans.values() {
            assert!((1..=3).contains(&kinds.len()), "{kinds:?}");
            assert!(kinds.iter().all(|kind| !matches!(
                kind,
                EventKind::Delivered
                    | EventKind::Returned
                    | EventKind::Lost
                    | EventKind::Refused
                    | EventKind::OutForDelivery
            )));
            by_count[kinds.len()] += 1;
        }
        // Parcels with more than one scan exist in roughly the proportions stated.
        assert!(by_count[1] > by_count[2] && by_count[2] > by_count[3] && by_count[3] > 0, "{by_count:?}");
    }
}
