//! Faults land at their configured rates, and the ground truth matches the events.

use std::collections::BTreeMap;

use kuaidi_model::{EventKind, Record, ScanEvent, Waybill};
use kuaidi_sim::{Fault, Faults, Simulation};

use crate::support::{collect, complete, geo};

const N_PARCELS: u64 = 20_000;

fn rates() -> Faults {
    Faults {
        delay: 0.05,
        damage: 0.03,
        loss: 0.02,
        missing_real_name: 0.04,
        missing_inspection: 0.05,
        missing_security_scan: 0.05,
        stuck: 0.03,
        prohibited_item: 0.02,
        complaint: 0.01,
        duplicate: 0.05,
        out_of_order: 0.04,
    }
}

/// Asserts that `count` of `n` trials is within 3 sigma of `n * p`, for `p` anywhere in `low..=high` (a range, where
/// interactions between faults make the exact rate depend on the route).
fn check_rate(kind: &str, count: u64, n: u64, low: f64, high: f64) {
    let n = n as f64;
    let sigma = |p: f64| (n * p * (1.0 - p)).sqrt();
    let (min, max) = (n * low - 3.0 * sigma(low), n * high + 3.0 * sigma(high));
    let count = count as f64;
    assert!((min..=max).contains(&count), "{kind}: {count} not in {min:.0}..={max:.0}");
}

#[test]
fn fault_rates_are_as_configured() {
    let Some(geo) = geo() else { return };
    let faults = rates();
    let sim = Simulation::new(&geo, complete(N_PARCELS, 3, 99, faults)).unwrap();
    let output = collect(&sim);
    assert_eq!(output.stats.parcels, N_PARCELS);
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for entry in &output.truth {
        for fault in &entry.faults {
            *counts.entry(fault.kind()).or_default() += 1;
        }
    }
    let count = |kind| counts.get(kind).copied().unwrap_or(0);
    for (kind, rate) in faults.rates() {
        let (low, high) = match kind {
            // A delay on a leg after the parcel was lost or got stuck never shows.
            "delay" => (rate * (1.0 - faults.loss - faults.stuck), rate),
            "stuck" => (rate * (1.0 - faults.loss), rate * (1.0 - faults.loss)),
            _ => (rate, rate),
        };
        check_rate(kind, count(kind), N_PARCELS, low, high);
    }
    assert_eq!(output.stats.duplicates, count("duplicate"));
    assert_eq!(output.stats.out_of_order, count("out_of_order"));
    assert_eq!(output.stats.truth_entries, output.truth.len() as u64);
    assert_eq!(output.stats.complaints, count("complaint"));
}

/// One parcel's records, in stream order.
#[derive(Default)]
struct Parcel<'a> {
    waybill: Option<&'a Waybill>,
    /// Events with their position in the stream.
    events: Vec<(usize, &'a ScanEvent)>,
    complaints: Vec<&'a kuaidi_model::Complaint>,
}

#[test]
fn truth_matches_events() {
    let Some(geo) = geo() else { return };
    let sim = Simulation::new(&geo, complete(N_PARCELS / 4, 2, 5, rates())).unwrap();
    let output = collect(&sim);
    let mut parcels: BTreeMap<&str, Parcel> = BTreeMap::new();
    for (pos, record) in output.records.iter().enumerate() {
        match record {
            Record::Waybill(w) => parcels.entry(w.waybill_no.as_str()).or_default().waybill = Some(w),
            Record::Event(e) => parcels.entry(e.waybill_no.as_str()).or_default().events.push((pos, e)),
            Record::Complaint(c) => parcels.entry(c.waybill_no.as_str()).or_default().complaints.push(c),
            _ => {}
        }
    }
    // The largest event time seen before each stream position, to recognise out-of-order emission.
    let mut latest_before = Vec::with_capacity(output.records.len());
    let mut latest = None;
    for record in &output.records {
        latest_before.push(latest);
        if let Record::Event(e) = record {
            latest = latest.max(Some(e.time));
        }
    }
    let truth: BTreeMap<&str, &[Fault]> =
        output.truth.iter().map(|t| (t.waybill_no.as_str(), t.faults.as_slice())).collect();

    for (waybill_no, parcel) in &parcels {
        let waybill = parcel.waybill.unwrap_or_else(|| panic!("{waybill_no} has events but no waybill"));
        let faults = truth.get(waybill_no).copied().unwrap_or(&[]);
        let has = |kind: EventKind| parcel.events.iter().any(|(_, e)| e.kind == kind);
        let by_id = |id: &str| parcel.events.iter().filter(|(_, e)| e.event_id.as_str() == id).collect::<Vec<_>>();
        let fault = |kind: &str| faults.iter().find(|f| f.kind() == kind);

        assert_eq!(has(EventKind::Inspect), fault("missing_inspection").is_none(), "{waybill_no} inspection");
        if fault("loss").is_none() && fault("stuck").is_none() {
            assert!(has(EventKind::OutForDelivery), "{waybill_no} never went out for delivery");
            assert!(has(EventKind::Delivered) || has(EventKind::Returned), "{waybill_no} did not finish");
            assert_eq!(has(EventKind::SecurityScan), fault("missing_security_scan").is_none(), "{waybill_no} scan");
        }
        if fault("missing_security_scan").is_some() {
            assert!(!has(EventKind::SecurityScan), "{waybill_no} has a security scan");
        }
        assert_eq!(has(EventKind::Damaged), fault("damage").is_some(), "{waybill_no} damage");
        // A complaint fault is exactly one valid complaint record, filed after the last scan and never in the future.
        assert_eq!(parcel.complaints.len(), usize::from(fault("complaint").is_some()), "{waybill_no} complaints");
        for complaint in &parcel.complaints {
            assert_eq!(complaint.verdict, kuaidi_model::Verdict::Valid);
            assert!(parcel.events.iter().all(|(_, e)| e.time <= complaint.filed_at), "{waybill_no} complaint early");
            assert!(complaint.filed_at <= sim.config().now, "{waybill_no} complaint in the future");
        }
        assert_eq!(has(EventKind::Lost), fault("loss").is_some(), "{waybill_no} loss");
        let real_name_ok = waybill.real_name.as_ref().is_some_and(|r| r.verified);
        assert_eq!(real_name_ok, fault("missing_real_name").is_none(), "{waybill_no} real name");

        // The waybill comes before its first event.
        let waybill_pos =
            output.records.iter().position(|r| matches!(r, Record::Waybill(w) if w.waybill_no == waybill.waybill_no));
        assert!(waybill_pos < parcel.events.first().map(|(pos, _)| *pos), "{waybill_no} waybill after its events");

        for fault in faults {
            match fault {
                Fault::Delay { hours, event_id } => {
                    let hits = by_id(event_id.as_str());
                    assert_eq!(hits[0].1.kind, EventKind::Arrive);
                    let accept = parcel.events.iter().find(|(_, e)| e.kind == EventKind::Accept).unwrap().1.time;
                    assert!(hits[0].1.time - accept > chrono::Duration::hours(i64::from(*hours)), "{waybill_no}");
                    assert!(hits[0].1.time - accept > chrono::Duration::hours(12), "{waybill_no}");
                }
                Fault::Damage { event_id } => assert_eq!(by_id(event_id.as_str())[0].1.kind, EventKind::Damaged),
                Fault::Loss { event_id } => {
                    let lost = by_id(event_id.as_str())[0].1;
                    assert_eq!(lost.kind, EventKind::Lost);
                    assert!(parcel.events.iter().all(|(_, e)| e.time <= lost.time), "{waybill_no} scanned after loss");
                }
                Fault::Stuck { last_event_id } => {
                    let last = by_id(last_event_id.as_str())[0].1;
                    assert!(parcel.events.iter().all(|(_, e)| e.time <= last.time), "{waybill_no}");
                    assert!(!has(EventKind::Delivered) && !has(EventKind::Lost), "{waybill_no}");
                }
                Fault::ProhibitedItem { item } => assert!(waybill.contents.description.contains(item)),
                Fault::Duplicate { event_id } => {
                    let hits = by_id(event_id.as_str());
                    assert_eq!(hits.len(), 2, "{event_id}");
                    assert_eq!(hits[0].1, hits[1].1);
                }
                Fault::OutOfOrder { event_id, .. } => {
                    let hits = by_id(event_id.as_str());
                    let (pos, event) = hits[0];
                    assert!(latest_before[*pos] > Some(event.time), "{event_id} is not out of order");
                }
                _ => {}
            }
        }
        // Apart from duplicates, every event id appears once.
        let n_dups = faults.iter().filter(|f| matches!(f, Fault::Duplicate { .. })).count();
        let ids: std::collections::BTreeSet<&str> = parcel.events.iter().map(|(_, e)| e.event_id.as_str()).collect();
        assert_eq!(ids.len() + n_dups, parcel.events.len(), "{waybill_no}");
    }
}
