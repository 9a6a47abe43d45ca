//! The store contract: one suite of behaviour every backend must show, plus record fixtures for tests.
//!
//! A backend runs the suite with [`store_contract_tests!`], handing it a function that makes a fresh, empty store.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use kuaidi_model::{
    Address, AdminCode, Carrier, CarrierCode, Complaint, ComplaintCategory, ComplaintId, Contents, EventId, EventKind,
    Facility, FacilityCode, FacilityKind, GeoPoint, IdType, Party, Phone, RealName, Record, Role, ScanEvent, Signer,
    Verdict, Waybill, WaybillNo,
};

use crate::{AuditEntry, ErrorKind, Handler, NewApiKey, Outcome, Store};

/// The main file's layout as embedded schema version 6 had it where later versions changed it: the reverse-trace
/// indexes keyed by handler (migration 0007 rebuilds them keyed by the hour, and 0010 replaces them with postings),
/// and the state journal a row per parcel (migration 0009 makes it a row per transaction). Run on the main file of a
/// store stopped cleanly (its journal then names no state left to write), it puts them back, for the upgrade test; add
/// `PRAGMA user_version = 6` to make the next open migrate again.
pub const VERSION_6_HANDLER_INDEXES: &str = "DROP TABLE handled; \
     CREATE INDEX events_by_operator ON events (operator, time_ms) WHERE operator IS NOT NULL; \
     CREATE INDEX events_by_vehicle ON events (vehicle, time_ms) WHERE vehicle IS NOT NULL; \
     DROP TABLE unflushed_batches; \
     CREATE TABLE unflushed_parcels (seq INTEGER PRIMARY KEY, waybill_no TEXT NOT NULL, carrier TEXT NOT NULL, \
         at_ms INTEGER NOT NULL);";

/// Builders of valid records for tests. Every record they build passes the model's validation rules with
/// [`fixtures::base_time`] as the clock.
pub mod fixtures {
    use super::*;

    /// The instant fixtures are built around: 2026-11-11 09:00 +08:00.
    pub fn base_time() -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339("2026-11-11T09:00:00+08:00").unwrap_or_default()
    }

    /// A carrier with a code and name.
    pub fn carrier(code: &str, name: &str) -> Carrier {
        Carrier { code: carrier_code(code), name: name.to_owned() }
    }

    /// A carrier code that is known to be valid.
    pub fn carrier_code(code: &str) -> CarrierCode {
        CarrierCode::parse(code).unwrap_or_else(|err| panic!("fixture carrier code {code}: {err}"))
    }

    /// A facility of `carrier` (or shared, when `None`) in the division `division`.
    pub fn facility(code: &str, kind: FacilityKind, carrier: Option<&str>, division: &str) -> Facility {
        Facility {
            code: facility_code(code),
            kind,
            carrier: carrier.map(carrier_code),
            division: AdminCode::parse(division).unwrap_or_else(|err| panic!("fixture division {division}: {err}")),
            location: GeoPoint::new(120.6, 31.3).ok(),
            name: format!("{code} 网点"),
        }
    }

    /// A facility code known to be valid.
    pub fn facility_code(code: &str) -> FacilityCode {
        FacilityCode::parse(code).unwrap_or_else(|err| panic!("fixture facility code {code}: {err}"))
    }

    /// A waybill number known to be valid.
    pub fn waybill_no(no: &str) -> WaybillNo {
        WaybillNo::parse(no).unwrap_or_else(|err| panic!("fixture waybill number {no}: {err}"))
    }

    /// A waybill from Suzhou (320505) to Shanghai (310101), receiver phone ending in 5678.
    pub fn waybill(carrier: &str, no: &str) -> Waybill {
        let party = |name: &str, phone: &str, division: &str, detail: &str| Party {
            name: name.to_owned(),
            phone: Phone::parse(phone).unwrap_or_else(|err| panic!("fixture phone {phone}: {err}")),
            address: Address {
                division: AdminCode::parse(division).unwrap_or_else(|err| panic!("fixture division: {err}")),
                detail: detail.to_owned(),
            },
        };
        Waybill {
            carrier: carrier_code(carrier),
            waybill_no: waybill_no(no),
            product: "standard".to_owned(),
            electronic: true,
            sender: party("张三", "13800131234", "320505", "科技城路 1 号"),
            receiver: party("李四", "13900135678", "310101", "南京东路 100 号 2 室"),
            real_name: Some(RealName {
                id_type: IdType::ResidentId,
                id_number: "11010519491231002X".to_owned(),
                verified: true,
            }),
            contents: Contents {
                category: "服装".to_owned(),
                description: "棉质T恤两件".to_owned(),
                weight_grams: 500,
                declared_value_fen: 9900,
            },
            created_at: base_time() - Duration::minutes(10),
        }
    }

    /// An event `minutes` after [`base_time`] at `facility`, scanned by operator `C001`.
    pub fn event(carrier: &str, no: &str, id: &str, kind: EventKind, minutes: i64, facility: &str) -> ScanEvent {
        ScanEvent {
            event_id: EventId::parse(id).unwrap_or_else(|err| panic!("fixture event id {id}: {err}")),
            carrier: carrier_code(carrier),
            waybill_no: waybill_no(no),
            kind,
            time: base_time() + Duration::minutes(minutes),
            facility: facility_code(facility),
            operator: Some("C001".into()),
            vehicle: None,
            next_facility: None,
            exception_code: None,
            signer: (kind == EventKind::Delivered).then_some(Signer::Receiver),
        }
    }

    /// Two carriers (`yto`, `sf`), and for each an outlet in Suzhou and a sorting centre in Shanghai, plus a shared
    /// locker in Shanghai.
    pub fn reference() -> Vec<Record> {
        vec![
            Record::Carrier(carrier("yto", "圆通速递")),
            Record::Carrier(carrier("sf", "顺丰速运")),
            Record::Facility(facility("YTO-SZ-01", FacilityKind::Outlet, Some("yto"), "320505")),
            Record::Facility(facility("YTO-SH-SC", FacilityKind::SortingCentre, Some("yto"), "310101")),
            Record::Facility(facility("SF-SZ-01", FacilityKind::Outlet, Some("sf"), "320505")),
            Record::Facility(facility("SF-SH-SC", FacilityKind::SortingCentre, Some("sf"), "310101")),
            Record::Facility(facility("LOCKER-SH-1", FacilityKind::Locker, None, "310101")),
        ]
    }

    /// A complaint about a delay, filed a day after the base time.
    pub fn complaint(carrier: &str, no: &str, id: &str, verdict: Verdict) -> Complaint {
        Complaint {
            id: ComplaintId::parse(id).unwrap(),
            carrier: carrier_code(carrier),
            waybill_no: waybill_no(no),
            filed_at: base_time() + Duration::days(1),
            category: ComplaintCategory::Delay,
            description: "三天了还没送到，电话 13800138000 也打不通".into(),
            verdict,
        }
    }

    /// A full chain for one parcel: accept, inspect, security scan, depart (vehicle `沪A12345`), arrive,
    /// out for delivery, delivered.
    pub fn chain(carrier: &str, no: &str) -> Vec<ScanEvent> {
        let (outlet, centre) = if carrier == "sf" { ("SF-SZ-01", "SF-SH-SC") } else { ("YTO-SZ-01", "YTO-SH-SC") };
        let steps = [
            (EventKind::Accept, 0, outlet),
            (EventKind::Inspect, 1, outlet),
            (EventKind::SecurityScan, 30, outlet),
            (EventKind::Depart, 60, outlet),
            (EventKind::Arrive, 240, centre),
            (EventKind::OutForDelivery, 300, centre),
            (EventKind::Delivered, 360, centre),
        ];
        steps
            .into_iter()
            .enumerate()
            .map(|(idx, (kind, minutes, facility))| {
                let mut e = event(carrier, no, &format!("{no}-{idx}"), kind, minutes, facility);
                if kind == EventKind::Depart {
                    e.vehicle = Some("沪A12345".into());
                    e.next_facility = Some(facility_code(centre));
                }
                e
            })
            .collect()
    }
}

use fixtures::*;

fn events(list: impl IntoIterator<Item = ScanEvent>) -> Vec<Record> {
    list.into_iter().map(|e| Record::Event(Box::new(e))).collect()
}

fn ingest(store: &dyn Store, records: &[Record]) -> Vec<Outcome> {
    store.ingest(records).unwrap_or_else(|err| panic!("ingest failed: {err}"))
}

/// Re-sent records are answered `Duplicate` and stored once; changed content under the same key is a `Conflict`
/// that keeps the stored record; reference data is updated in place.
pub fn ingest_is_idempotent(store: &dyn Store) {
    let reference = reference();
    assert!(ingest(store, &reference).iter().all(|o| *o == Outcome::Accepted));
    assert!(ingest(store, &reference).iter().all(|o| *o == Outcome::Duplicate));

    let chain = chain("yto", "YT0000000001");
    let mut batch = vec![Record::Waybill(Box::new(waybill("yto", "YT0000000001")))];
    batch.extend(events(chain.clone()));
    assert!(ingest(store, &batch).iter().all(|o| *o == Outcome::Accepted));
    assert!(ingest(store, &batch).iter().all(|o| *o == Outcome::Duplicate));

    let mut changed = chain[0].clone();
    changed.operator = Some("C999".into());
    let mut changed_waybill = waybill("yto", "YT0000000001");
    changed_waybill.receiver.name = "王五".to_owned();
    let outcomes = ingest(store, &[Record::Event(Box::new(changed)), Record::Waybill(Box::new(changed_waybill))]);
    assert_eq!(outcomes, vec![Outcome::Conflict, Outcome::Conflict]);
    assert_eq!(store.events_of(&carrier_code("yto"), &waybill_no("YT0000000001")).unwrap(), chain);

    let mut renamed = facility("YTO-SZ-01", FacilityKind::Outlet, Some("yto"), "320505");
    renamed.name = "苏州虎丘新网点".to_owned();
    assert_eq!(ingest(store, &[Record::Facility(renamed.clone())]), vec![Outcome::Updated]);
    assert!(store.facilities().unwrap().contains(&renamed));

    let counts = store.counts().unwrap();
    assert_eq!((counts.carriers, counts.facilities, counts.waybills, counts.events), (2, 5, 1, 7));
}

/// Records given up to the store (`ingest_owned_at`) are answered and stored as lent ones are: a parcel sent in two
/// batches, out of order and with a repeat inside the first, comes back whole, a re-send lent is all duplicates, and
/// the aggregates equal a recount of the parcel's state.
pub fn records_given_up_are_stored_as_lent_ones(store: &dyn Store) {
    ingest(store, &reference());
    let now = base_time().to_utc() + Duration::hours(8);
    let chain = chain("yto", "YT0000000007");
    let mut first = vec![Record::Waybill(Box::new(waybill("yto", "YT0000000007")))];
    first.extend(events([chain[3].clone(), chain[0].clone(), chain[2].clone(), chain[1].clone(), chain[0].clone()]));
    let outcomes = store.ingest_owned_at(first.clone(), now).unwrap_or_else(|err| panic!("ingest: {err}"));
    let mut want = vec![Outcome::Accepted; 5];
    want.push(Outcome::Duplicate);
    assert_eq!(outcomes, want);
    let rest = events(chain[4..].iter().cloned());
    let outcomes = store.ingest_owned_at(rest.clone(), now).unwrap_or_else(|err| panic!("ingest: {err}"));
    assert_eq!(outcomes, vec![Outcome::Accepted; rest.len()]);
    assert_eq!(store.events_of(&carrier_code("yto"), &waybill_no("YT0000000007")).unwrap(), chain);
    first.extend(rest);
    assert!(ingest(store, &first).iter().all(|o| *o == Outcome::Duplicate));
    assert!(state_of(store, "yto", "YT0000000007").summary.delivered_at.is_some());
    assert_aggregates_match_recount(store, &[("yto", "YT0000000007")]);
}

/// A re-sent event whose time changed (so that a store partitioned by time would file it elsewhere) is a `Conflict`,
/// and the stored event is kept.
pub fn a_changed_time_is_a_conflict(store: &dyn Store) {
    ingest(store, &reference());
    let chain = chain("yto", "YT0000000004");
    ingest(store, &events(chain.clone()));
    let mut moved = chain[3].clone();
    moved.time += Duration::days(2);
    assert_eq!(ingest(store, &events([moved])), vec![Outcome::Conflict]);
    assert_eq!(store.events_of(&carrier_code("yto"), &waybill_no("YT0000000004")).unwrap(), chain);
    assert_eq!(store.counts().unwrap().events, chain.len() as u64);
}

/// Events that arrive out of order, and within one batch twice, come back once each in time order.
pub fn events_come_back_in_time_order(store: &dyn Store) {
    ingest(store, &reference());
    let chain = chain("yto", "YT0000000002");
    let mut shuffled = chain.clone();
    shuffled.reverse();
    shuffled.push(chain[2].clone());
    let outcomes = ingest(store, &events(shuffled));
    assert_eq!(outcomes.iter().filter(|o| **o == Outcome::Accepted).count(), chain.len());
    assert_eq!(outcomes.last(), Some(&Outcome::Duplicate));
    assert_eq!(store.events_of(&carrier_code("yto"), &waybill_no("YT0000000002")).unwrap(), chain);
    assert!(store.events_of(&carrier_code("sf"), &waybill_no("YT0000000002")).unwrap().is_empty());
}

/// An event's free text (operator, vehicle, exception code) comes back as stored, whether the model holds it inline
/// (24 bytes or fewer) or on the heap (up to the 64 characters validation allows), in any script; and a reverse trace
/// finds the long operator.
pub fn event_free_text_round_trips_at_any_length(store: &dyn Store) {
    ingest(store, &reference());
    let mut chain = chain("yto", "YT0000000005");
    let long_operator = format!("YTO-OUT-SZ-{}", "营业部".repeat(17));
    assert_eq!(long_operator.chars().count(), 62);
    chain[0].operator = Some(long_operator.as_str().into());
    chain[1].operator = Some("C".repeat(24).into());
    chain[3].vehicle = Some("苏E·12345（挂）".into());
    chain[5].exception_code = Some("E".repeat(25).into());
    assert!(ingest(store, &events(chain.clone())).iter().all(|o| *o == Outcome::Accepted));
    assert_eq!(store.events_of(&carrier_code("yto"), &waybill_no("YT0000000005")).unwrap(), chain);
    let (from, to) = (chain[0].time.to_utc() - Duration::hours(1), chain[0].time.to_utc() + Duration::hours(1));
    let found = store.handled_by(&Handler::Operator(long_operator), from, to, 10).unwrap();
    assert_eq!(found, vec![chain[0].clone()]);
}

/// A waybill comes back exactly as stored, personal data included; an unknown one is `None`.
pub fn waybills_round_trip(store: &dyn Store) {
    ingest(store, &reference());
    let mut without_real_name = waybill("sf", "SF0000000003");
    without_real_name.real_name = None;
    let with_real_name = waybill("yto", "YT0000000003");
    ingest(
        store,
        &[Record::Waybill(Box::new(with_real_name.clone())), Record::Waybill(Box::new(without_real_name.clone()))],
    );
    assert_eq!(store.waybill(&carrier_code("yto"), &waybill_no("YT0000000003")).unwrap(), Some(with_real_name));
    assert_eq!(store.waybill(&carrier_code("sf"), &waybill_no("SF0000000003")).unwrap(), Some(without_real_name));
    assert_eq!(store.waybill(&carrier_code("sf"), &waybill_no("YT0000000003")).unwrap(), None);
}

/// Paging through every event and waybill in key order visits each once, whatever the page size.
pub fn every_record_pages_in_key_order(store: &dyn Store) {
    ingest(store, &reference());
    assert!(store.events_after(None, 10).unwrap().is_empty());
    assert!(store.waybills_after(None, 10).unwrap().is_empty());
    let mut all_events = Vec::new();
    let mut all_waybills = Vec::new();
    // Two carriers share one number, so the carrier is part of the key.
    for (carrier, no) in [("yto", "YT0000000006"), ("sf", "AB00000006"), ("yto", "AB00000006")] {
        all_events.extend(chain(carrier, no));
        all_waybills.push(waybill(carrier, no));
    }
    ingest(store, &events(all_events.clone()));
    ingest(store, &all_waybills.iter().map(|w| Record::Waybill(Box::new(w.clone()))).collect::<Vec<_>>());
    let event_key = |e: &ScanEvent| (e.waybill_no.clone(), e.carrier.clone(), e.event_id.clone());
    all_events.sort_by_key(event_key);
    all_waybills.sort_by_key(|w| (w.waybill_no.clone(), w.carrier.clone()));
    for page in [1, 4, 1000] {
        let mut seen_events = Vec::new();
        loop {
            let after = seen_events.last().map(event_key);
            let next = store.events_after(after.as_ref().map(|(w, c, e)| (w, c, e)), page).unwrap();
            assert!(next.len() <= page);
            if next.is_empty() {
                break;
            }
            seen_events.extend(next);
        }
        assert_eq!(seen_events, all_events, "page size {page}");
        let mut seen_waybills: Vec<Waybill> = Vec::new();
        loop {
            let after = seen_waybills.last().map(|w| (w.waybill_no.clone(), w.carrier.clone()));
            let next = store.waybills_after(after.as_ref().map(|(w, c)| (w, c)), page).unwrap();
            if next.is_empty() {
                break;
            }
            seen_waybills.extend(next);
        }
        assert_eq!(seen_waybills, all_waybills, "page size {page}");
    }
}

/// Paging through parcel states visits every derived parcel once, in key order `(waybill_no, carrier)` byte-wise,
/// whatever the page size, each state equal to `parcel_state` and carrying its own carrier and number.
pub fn parcel_states_page_in_key_order(store: &dyn Store) {
    ingest(store, &reference());
    assert!(store.parcel_states_after(None, 10).unwrap().is_empty(), "no parcel, no state");
    // Two carriers share one number, so the carrier is part of the key; `AB…` sorts before `YT…`, and a parcel
    // known only by its waybill has a state too.
    let parcels = [("yto", "YT0000000007"), ("sf", "AB00000007"), ("yto", "AB00000007"), ("sf", "SF0000000007")];
    let mut records = Vec::new();
    for (carrier, no) in &parcels[..3] {
        records.extend(events(chain(carrier, no)));
    }
    records.push(Record::Waybill(Box::new(waybill("sf", "SF0000000007"))));
    ingest(store, &records);
    let mut expected: Vec<(CarrierCode, WaybillNo)> =
        parcels.iter().map(|(carrier, no)| (carrier_code(carrier), waybill_no(no))).collect();
    expected.sort_by(|a, b| (a.1.as_str(), a.0.as_str()).cmp(&(b.1.as_str(), b.0.as_str())));
    for page in [1, 3, 1000] {
        let mut seen: Vec<(CarrierCode, WaybillNo, crate::ParcelState)> = Vec::new();
        loop {
            let after = seen.last().map(|(carrier, no, _)| (no.clone(), carrier.clone()));
            let next = store.parcel_states_after(after.as_ref().map(|(no, carrier)| (no, carrier)), page).unwrap();
            assert!(next.len() <= page, "page size {page}: {} states", next.len());
            if next.is_empty() {
                break;
            }
            seen.extend(next);
        }
        let keys: Vec<(CarrierCode, WaybillNo)> = seen.iter().map(|(c, n, _)| (c.clone(), n.clone())).collect();
        assert_eq!(keys, expected, "page size {page}");
        for (carrier, no, state) in &seen {
            assert_eq!((&state.summary.carrier, &state.summary.waybill_no), (carrier, no));
            assert_eq!(state, &state_of(store, carrier.as_str(), no.as_str()), "{carrier} {no}");
        }
    }
    // Strictly after: the last key gives an empty page, a key between parcels starts at the next one.
    let (last_carrier, last_no) = expected.last().unwrap();
    assert!(store.parcel_states_after(Some((last_no, last_carrier)), 10).unwrap().is_empty());
    let between = store.parcel_states_after(Some((&waybill_no("AB00000007"), &carrier_code("sf"))), 1).unwrap();
    assert_eq!((between[0].0.as_str(), between[0].1.as_str()), ("yto", "AB00000007"));
}

/// A complaint is stored once; a re-send with a new verdict updates it; any other change is a conflict; the
/// description (sealed personal data) comes back intact.
pub fn complaints_take_verdicts(store: &dyn Store) {
    ingest(store, &reference());
    let filed = fixtures::complaint("yto", "YT0000000004", "c-1", Verdict::Pending);
    let record = |complaint: &Complaint| Record::Complaint(Box::new(complaint.clone()));
    assert_eq!(ingest(store, &[record(&filed)]), vec![Outcome::Accepted]);
    assert_eq!(ingest(store, &[record(&filed)]), vec![Outcome::Duplicate]);
    let ruled = Complaint { verdict: Verdict::Valid, ..filed.clone() };
    assert_eq!(ingest(store, &[record(&ruled)]), vec![Outcome::Updated]);
    let rewritten = Complaint { description: "另一段话".into(), ..ruled.clone() };
    assert_eq!(ingest(store, &[record(&rewritten)]), vec![Outcome::Conflict]);
    let second = fixtures::complaint("yto", "YT0000000004", "c-2", Verdict::Invalid);
    assert_eq!(ingest(store, &[record(&second)]), vec![Outcome::Accepted]);
    let stored = store.complaints_of(&carrier_code("yto"), &waybill_no("YT0000000004")).unwrap();
    assert_eq!(stored.len(), 2);
    assert!(stored.contains(&ruled) && stored.contains(&second), "{stored:?}");
    assert!(store.complaints_of(&carrier_code("sf"), &waybill_no("YT0000000004")).unwrap().is_empty());
}

/// Two carriers may use the same waybill number; events alone also count.
pub fn waybill_numbers_may_collide_across_carriers(store: &dyn Store) {
    ingest(store, &reference());
    ingest(store, &[Record::Waybill(Box::new(waybill("yto", "AB00000001")))]);
    ingest(store, &events(chain("sf", "AB00000001")));
    let carriers = store.carriers_of(&waybill_no("AB00000001")).unwrap();
    assert_eq!(carriers, vec![carrier_code("sf"), carrier_code("yto")]);
    assert!(store.carriers_of(&waybill_no("ZZ99999999")).unwrap().is_empty());
}

/// Reverse tracing finds a vehicle's and an operator's events within the time range only.
pub fn reverse_trace_by_vehicle_and_operator(store: &dyn Store) {
    ingest(store, &reference());
    for no in ["YT0000000010", "YT0000000011"] {
        ingest(store, &events(chain("yto", no)));
    }
    let start = base_time().with_timezone(&Utc);
    let vehicle = Handler::Vehicle("沪A12345".to_owned());
    let found = store.handled_by(&vehicle, start, start + Duration::days(1), 100).unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|e| e.kind == EventKind::Depart));
    let before = store.handled_by(&vehicle, start - Duration::days(1), start + Duration::minutes(60), 100).unwrap();
    assert!(before.is_empty(), "the range's end is exclusive");
    let operator = Handler::Operator("C001".to_owned());
    assert_eq!(store.handled_by(&operator, start, start + Duration::days(1), 100).unwrap().len(), 14);
    assert_eq!(store.handled_by(&operator, start, start + Duration::days(1), 3).unwrap().len(), 3);
    assert!(store
        .handled_by(&Handler::Operator("nobody".into()), start, start + Duration::days(1), 10)
        .unwrap()
        .is_empty());
}

/// Reverse tracing across hours, days and the range's edges: events exactly on an hour's first and last millisecond,
/// a range that starts or ends inside an hour, a limit reached in a later hour, hours with nothing in them, and a
/// range of more than a century. Answers are ordered by time, then waybill number and event id.
pub fn reverse_trace_walks_the_hours(store: &dyn Store) {
    ingest(store, &reference());
    let hour = DateTime::parse_from_rfc3339("2026-11-11T00:00:00Z").unwrap().with_timezone(&Utc);
    let at = |no: &str, id: &str, after: Duration, operator: &str, vehicle: Option<&str>| {
        let mut e = event("yto", no, id, EventKind::Arrive, 0, "YTO-SH-SC");
        e.time = (hour + after).with_timezone(&base_time().timezone());
        e.operator = Some(operator.into());
        e.vehicle = vehicle.map(Into::into);
        e
    };
    let (a, b) = ("YT0000000020", "YT0000000021");
    let ms = Duration::milliseconds;
    let stored = [
        at(a, "A-1", ms(-1), "C-HOURS", None),
        at(b, "B-1", ms(0), "C-HOURS", Some("沪B00001")),
        at(a, "A-2", ms(0), "C-HOURS", None),
        at(b, "B-2", Duration::hours(1) - ms(1), "C-HOURS", None),
        at(a, "A-3", Duration::hours(1), "C-HOURS", None),
        at(b, "B-3", Duration::days(3) + Duration::minutes(5), "C-HOURS", Some("沪B00001")),
        at(a, "A-4", Duration::minutes(30), "C-OTHER", Some("沪B00002")),
    ];
    assert!(ingest(store, &events(stored.clone())).iter().all(|o| *o == Outcome::Accepted));
    let operator = Handler::Operator("C-HOURS".to_owned());
    let ids = |from: DateTime<Utc>, to: DateTime<Utc>, limit: usize, handler: &Handler| -> Vec<String> {
        let found = store.handled_by(handler, from, to, limit).unwrap();
        found.iter().map(|e| e.event_id.as_str().to_owned()).collect()
    };
    assert_eq!(ids(hour, hour + Duration::hours(1), 100, &operator), ["A-2", "B-1", "B-2"]);
    assert_eq!(
        ids(hour - ms(1), hour + Duration::hours(1) + ms(1), 100, &operator),
        ["A-1", "A-2", "B-1", "B-2", "A-3"]
    );
    assert_eq!(ids(hour - ms(1), hour + Duration::days(3650), 4, &operator), ["A-1", "A-2", "B-1", "B-2"]);
    assert_eq!(ids(hour + ms(1), hour + Duration::days(3650), 2, &operator), ["B-2", "A-3"]);
    let century = |years: i64| hour + Duration::days(365 * years);
    assert_eq!(ids(century(-56), century(74), 100, &operator), ["A-1", "A-2", "B-1", "B-2", "A-3", "B-3"]);
    assert!(ids(hour + Duration::hours(2), hour + Duration::days(3), 100, &operator).is_empty(), "hours with nothing");
    let late = hour + Duration::days(3) + Duration::minutes(5);
    assert!(ids(late - Duration::hours(5), late, 100, &operator).is_empty(), "the range's end is exclusive");
    assert_eq!(ids(late, late + ms(1), 100, &operator), ["B-3"]);
    assert!(ids(late, late, 100, &operator).is_empty(), "an empty range");
    assert!(ids(late + ms(1), late, 100, &operator).is_empty(), "a range that ends before it starts");
    let vehicle = Handler::Vehicle("沪B00001".to_owned());
    assert_eq!(ids(hour - Duration::days(1), hour + Duration::days(4), 100, &vehicle), ["B-1", "B-3"]);
    let other = Handler::Operator("C-OTHER".to_owned());
    assert_eq!(ids(hour, hour + Duration::hours(1), 100, &other), ["A-4"]);
    assert!(ids(hour, hour + Duration::hours(1), 100, &Handler::Vehicle("C-HOURS".to_owned())).is_empty());
}

/// Keys are found by the hash of their secret until revoked; revoking an unknown id is `NotFound`.
pub fn api_keys_lifecycle(store: &dyn Store) {
    let now = base_time().with_timezone(&Utc);
    let roles = [
        Role::Admin,
        Role::Carrier { carrier: carrier_code("yto") },
        Role::Regulator { jurisdiction: vec![AdminCode::parse("320000").unwrap_or_else(|e| panic!("{e}"))] },
    ];
    for (idx, role) in roles.iter().enumerate() {
        let key = NewApiKey {
            id: format!("k{idx}"),
            hash: [idx as u8; 32],
            role: role.clone(),
            label: "t".into(),
            created_at: now,
        };
        store.create_key(&key).unwrap();
    }
    assert_eq!(store.key_by_hash(&[1; 32]).unwrap().map(|k| k.role), Some(roles[1].clone()));
    assert_eq!(store.key_by_hash(&[2; 32]).unwrap().map(|k| k.role), Some(roles[2].clone()));
    assert!(store.key_by_hash(&[9; 32]).unwrap().is_none());
    store.revoke_key("k1", now).unwrap();
    assert!(store.key_by_hash(&[1; 32]).unwrap().is_none());
    let listed = store.keys().unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed.iter().find(|k| k.id == "k1").and_then(|k| k.revoked_at), Some(now));
    assert_eq!(store.revoke_key("nope", now).unwrap_err().kind(), ErrorKind::NotFound);
    let duplicate =
        NewApiKey { id: "k0".into(), hash: [7; 32], role: Role::Admin, label: String::new(), created_at: now };
    assert_eq!(store.create_key(&duplicate).unwrap_err().kind(), ErrorKind::Conflict);
}

/// The audit log keeps every entry, newest first.
pub fn audit_log_appends(store: &dyn Store) {
    let now = base_time().with_timezone(&Utc);
    for idx in 0..3 {
        let entry = AuditEntry {
            at: now + Duration::seconds(idx),
            key_id: "k0".into(),
            action: "reveal_personal_data".into(),
            subject: format!("yto/YT000000000{idx}"),
            detail: "GET /v1/waybills".into(),
        };
        store.audit(&entry).unwrap();
    }
    let log = store.audit_log(2).unwrap();
    assert_eq!(log.iter().map(|e| e.subject.as_str()).collect::<Vec<_>>(), ["yto/YT0000000002", "yto/YT0000000001"]);
}

fn epcis_record(hash: &str, minutes: i64, biz_step: &str, epcs: &[&str]) -> crate::EpcisRecord {
    crate::EpcisRecord {
        hash: hash.to_owned(),
        event_type: "ObjectEvent".into(),
        event_time: fixtures::base_time().with_timezone(&chrono::Utc) + chrono::Duration::minutes(minutes),
        action: Some("OBSERVE".into()),
        biz_step: Some(biz_step.to_owned()),
        disposition: None,
        read_point: Some("urn:epc:id:sgln:0614141.07346.1234".into()),
        biz_location: None,
        epcs: epcs.iter().map(|e| (*e).to_owned()).collect(),
        body: format!("{{\"hash\":\"{hash}\"}}"),
    }
}

/// An EPCIS event is kept once per hash; a re-sent one is a duplicate and the stored body stays.
pub fn epcis_capture_is_idempotent_by_hash(store: &dyn Store) {
    let first = epcis_record("ni:///sha-256;a", 0, "urn:epcglobal:cbv:bizstep:shipping", &["urn:epc:id:sgtin:1.2.3"]);
    assert_eq!(store.capture_epcis(std::slice::from_ref(&first)).unwrap(), [Outcome::Accepted]);
    let mut again = first.clone();
    again.body = "{\"changed\":true}".into();
    let second = epcis_record("ni:///sha-256;b", 1, "urn:epcglobal:cbv:bizstep:receiving", &[]);
    assert_eq!(store.capture_epcis(&[again, second]).unwrap(), [Outcome::Duplicate, Outcome::Accepted]);
    let all = store.query_epcis(&crate::EpcisQuery { limit: 10, ..Default::default() }).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0].body, first.body);
}

/// Queries filter by time, business step, read point and EPC, and page by position.
pub fn epcis_query_filters_and_pages(store: &dyn Store) {
    let shipping = "urn:epcglobal:cbv:bizstep:shipping";
    let records: Vec<_> = (0..5)
        .map(|idx| {
            let step = if idx % 2 == 0 { shipping } else { "urn:epcglobal:cbv:bizstep:receiving" };
            epcis_record(
                &format!("ni:///sha-256;{idx}"),
                idx * 10,
                step,
                &[&format!("urn:epc:id:sgtin:1.2.{idx}"), "urn:epc:id:sscc:9.9"],
            )
        })
        .collect();
    store.capture_epcis(&records).unwrap();
    let query = |q: crate::EpcisQuery| -> Vec<String> {
        store
            .query_epcis(&crate::EpcisQuery { limit: q.limit.max(1), ..q })
            .unwrap()
            .into_iter()
            .map(|e| e.body)
            .collect()
    };
    let bodies = |idxs: &[usize]| -> Vec<String> { idxs.iter().map(|i| records[*i].body.clone()).collect() };
    assert_eq!(
        query(crate::EpcisQuery { biz_steps: vec![shipping.into()], limit: 10, ..Default::default() }),
        bodies(&[0, 2, 4])
    );
    let from = records[1].event_time;
    let to = records[3].event_time;
    assert_eq!(
        query(crate::EpcisQuery {
            ge_event_time: Some(from),
            lt_event_time: Some(to),
            limit: 10,
            ..Default::default()
        }),
        bodies(&[1, 2])
    );
    assert_eq!(
        query(crate::EpcisQuery { epcs: vec!["urn:epc:id:sgtin:1.2.3".into()], limit: 10, ..Default::default() }),
        bodies(&[3])
    );
    assert_eq!(
        query(crate::EpcisQuery { epcs: vec!["urn:epc:id:sscc:9.9".into()], limit: 10, ..Default::default() }).len(),
        5
    );
    assert!(query(crate::EpcisQuery { read_points: vec!["urn:x".into()], limit: 10, ..Default::default() }).is_empty());
    let page = store.query_epcis(&crate::EpcisQuery { limit: 2, ..Default::default() }).unwrap();
    assert_eq!(page.len(), 2);
    let next = store
        .query_epcis(&crate::EpcisQuery { limit: 10, after_seq: Some(page[1].seq), ..Default::default() })
        .unwrap();
    assert_eq!(next.into_iter().map(|e| e.body).collect::<Vec<_>>(), bodies(&[2, 3, 4]));
}

/// A capture job is stored, replaced when it finishes, and read back; an unknown id is `None`.
pub fn capture_jobs_round_trip(store: &dyn Store) {
    let created_at = fixtures::base_time().with_timezone(&chrono::Utc);
    let mut job = crate::CaptureJob {
        id: "c-1".into(),
        created_at,
        finished_at: None,
        running: true,
        success: false,
        behaviour: "rollback".into(),
        n_events: 3,
        errors: "[]".into(),
    };
    store.put_capture_job(&job).unwrap();
    assert_eq!(store.capture_job("c-1").unwrap(), Some(job.clone()));
    job.running = false;
    job.success = true;
    job.finished_at = Some(created_at + chrono::Duration::seconds(1));
    store.put_capture_job(&job).unwrap();
    assert_eq!(store.capture_job("c-1").unwrap(), Some(job));
    assert_eq!(store.capture_job("nope").unwrap(), None);
}

/// One capture stores its scan events, its EPCIS events and its job; derived state follows the scan events. An EPCIS
/// event whose scan event is refused as a conflict is not kept, and the others of the capture are.
pub fn capture_stores_scan_events_epcis_events_and_job_together(store: &dyn Store) {
    ingest(store, &reference());
    let chain = chain("yto", "YT0000000009");
    let created_at = fixtures::base_time().with_timezone(&chrono::Utc);
    let job = |id: &str| crate::CaptureJob {
        id: id.into(),
        created_at,
        finished_at: Some(created_at),
        running: false,
        success: true,
        behaviour: "rollback".into(),
        n_events: 3,
        errors: "[]".into(),
    };
    let records = events(chain[..2].iter().cloned());
    let epcis = [
        epcis_record("ni:///sha-256;c0", 0, "urn:epcglobal:cbv:bizstep:accepting", &["urn:epc:id:sscc:1"]),
        epcis_record("ni:///sha-256;c1", 1, "urn:epcglobal:cbv:bizstep:inspecting", &["urn:epc:id:sscc:1"]),
        epcis_record("ni:///sha-256;c2", 2, "urn:epcglobal:cbv:bizstep:receiving", &[]),
    ];
    let first = job("cap-1");
    let capture = crate::Capture { records: &records, events: &epcis, scan_of: &[Some(0), Some(1), None], job: &first };
    let outcomes = store.capture_at(&capture, created_at + Duration::hours(1)).unwrap();
    assert_eq!(outcomes, [Outcome::Accepted, Outcome::Accepted]);
    assert_eq!(store.events_of(&carrier_code("yto"), &waybill_no("YT0000000009")).unwrap(), chain[..2]);
    assert_eq!(store.capture_job("cap-1").unwrap(), Some(first));
    let all = store.query_epcis(&crate::EpcisQuery { limit: 10, ..Default::default() }).unwrap();
    assert_eq!(
        all.iter().map(|e| e.body.clone()).collect::<Vec<_>>(),
        epcis.iter().map(|e| e.body.clone()).collect::<Vec<_>>()
    );
    let state = state_of(store, "yto", "YT0000000009");
    assert_eq!(state.summary.last_scan_at, Some(chain[1].time), "derived state follows the scan events");

    // Again, with the second scan event changed: a conflict, so its EPCIS event is not kept; a new one is.
    let mut changed = chain[1].clone();
    changed.operator = Some("C999".into());
    let records = events([chain[0].clone(), changed]);
    let epcis = [
        epcis_record("ni:///sha-256;c0", 0, "urn:epcglobal:cbv:bizstep:accepting", &[]),
        epcis_record("ni:///sha-256;c9", 1, "urn:epcglobal:cbv:bizstep:inspecting", &[]),
        epcis_record("ni:///sha-256;c3", 3, "urn:epcglobal:cbv:bizstep:receiving", &[]),
    ];
    let second = job("cap-2");
    let capture =
        crate::Capture { records: &records, events: &epcis, scan_of: &[Some(0), Some(1), None], job: &second };
    let outcomes = store.capture_at(&capture, created_at + Duration::hours(1)).unwrap();
    assert_eq!(outcomes, [Outcome::Duplicate, Outcome::Conflict]);
    let hashes: Vec<String> = store
        .query_epcis(&crate::EpcisQuery { limit: 10, ..Default::default() })
        .unwrap()
        .into_iter()
        .map(|e| e.body)
        .collect();
    assert_eq!(hashes.len(), 4, "c0 is a duplicate, c9 is not kept, c3 is new: {hashes:?}");
    assert!(!hashes.iter().any(|body| body.contains("c9")), "{hashes:?}");
    assert!(hashes.iter().any(|body| body.contains("c3")), "{hashes:?}");
    assert_eq!(store.capture_job("cap-2").unwrap(), Some(second));
    assert_eq!(store.events_of(&carrier_code("yto"), &waybill_no("YT0000000009")).unwrap(), chain[..2]);
}

fn state_of(store: &dyn Store, carrier: &str, no: &str) -> crate::ParcelState {
    store
        .parcel_state(&carrier_code(carrier), &waybill_no(no))
        .unwrap_or_else(|err| panic!("parcel_state failed: {err}"))
        .unwrap_or_else(|| panic!("no state for {carrier} {no}"))
}

/// Asserts that the store's indicators and coverage equal a recount from scratch of the given parcels' states.
fn assert_aggregates_match_recount(store: &dyn Store, parcels: &[(&str, &str)]) {
    use kuaidi_rules::{Dimension, Filter};
    let states: Vec<crate::ParcelState> = parcels.iter().map(|(c, no)| state_of(store, c, no)).collect();
    let recount = crate::derived::Aggregates::recount(&states).unwrap();
    for group_by in [&[][..], &[Dimension::Carrier, Dimension::Day][..], &[Dimension::OriginCity][..]] {
        assert_eq!(
            store.indicators(&Filter::default(), group_by).unwrap(),
            recount.cube.slice(&Filter::default(), group_by),
            "indicators grouped by {group_by:?}"
        );
    }
    let only_sf = Filter { carrier: Some(carrier_code("sf")), ..Filter::default() };
    assert_eq!(store.indicators(&only_sf, &[]).unwrap(), recount.cube.slice(&only_sf, &[]));
    for group in [crate::CoverageGroup::All, crate::CoverageGroup::Carrier, crate::CoverageGroup::Outlet] {
        assert_eq!(
            store.coverage(&crate::CoverageFilter::default(), group).unwrap(),
            crate::derived::coverage_rollup(&recount.coverage, &crate::CoverageFilter::default(), group),
            "coverage grouped by {group:?}"
        );
    }
}

/// Indicators and coverage kept at ingest equal a recount of the parcels' states, whatever the order of arrival
/// (events before their waybill, a chain completed later, a complaint ruled valid), and re-sends change nothing.
pub fn indicators_match_a_recount(store: &dyn Store) {
    use kuaidi_rules::Filter;
    ingest(store, &reference());
    let now = base_time().to_utc() + Duration::hours(8);
    let ingest_now = |records: &[Record]| store.ingest_at(records, now).unwrap_or_else(|err| panic!("ingest: {err}"));
    let parcels = [("yto", "YT0000000101"), ("sf", "SF0000000102"), ("yto", "YT0000000103")];
    let empty = store.indicators(&Filter::default(), &[]).unwrap();
    assert_eq!(empty.len(), 1, "an empty store answers one total group");
    assert_eq!(empty[0].1.parcels, 0);

    let sf_chain = chain("sf", "SF0000000102");
    let mut batch = vec![Record::Waybill(Box::new(waybill("yto", "YT0000000101")))];
    batch.extend(events(chain("yto", "YT0000000101")));
    batch.extend(events(sf_chain[..3].to_vec()));
    batch.extend(events(chain("yto", "YT0000000103")));
    ingest_now(&batch);
    // The sf parcel's waybill after its first events, and the yto parcel's second waybill never.
    ingest_now(&[Record::Waybill(Box::new(waybill("sf", "SF0000000102")))]);
    assert_aggregates_match_recount(store, &parcels);
    let total = &store.indicators(&Filter::default(), &[]).unwrap()[0].1;
    assert_eq!((total.parcels, total.delivered, total.open), (3, 2, 1), "{total:?}");

    // The rest of the sf chain arrives; a complaint is filed, then ruled valid; re-sends change nothing.
    ingest_now(&events(sf_chain[3..].to_vec()));
    let complaint = fixtures::complaint("sf", "SF0000000102", "c-1", Verdict::Pending);
    ingest_now(&[Record::Complaint(Box::new(complaint.clone()))]);
    let ruled = Complaint { verdict: Verdict::Valid, ..complaint };
    assert_eq!(ingest_now(&[Record::Complaint(Box::new(ruled.clone()))]), vec![Outcome::Updated]);
    assert_eq!(ingest_now(&events(sf_chain.clone())), vec![Outcome::Duplicate; sf_chain.len()]);
    assert_aggregates_match_recount(store, &parcels);
    let total = &store.indicators(&Filter::default(), &[]).unwrap()[0].1;
    assert_eq!((total.parcels, total.delivered, total.open, total.valid_complaints), (3, 3, 0, 1), "{total:?}");
    let coverage = store.coverage(&crate::CoverageFilter::default(), crate::CoverageGroup::All).unwrap();
    assert_eq!(coverage.len(), 1);
    assert_eq!(coverage[0].1.parcels, 3);
}

/// An alert raised on a gap in the records (an inspection not yet received) is cleared when the late record arrives;
/// a cleared alert is kept, marked `cleared` by `kuaidi`, and the aggregates still match a recount.
pub fn late_records_clear_alerts(store: &dyn Store) {
    use crate::{AlertQuery, AlertStatus};
    ingest(store, &reference());
    let start = base_time().to_utc();
    let full = chain("yto", "YT0000000301");
    let mut batch = vec![Record::Waybill(Box::new(waybill("yto", "YT0000000301")))];
    batch.extend(events([full[0].clone(), full[2].clone(), full[3].clone()]));
    store.ingest_at(&batch, start + Duration::hours(2)).unwrap();
    let inspection = AlertQuery { kind: Some("compliance".into()), limit: 10, ..AlertQuery::default() };
    let raised = store.alerts(&inspection).unwrap();
    assert_eq!(raised.len(), 1, "{raised:?}");
    assert_eq!((raised[0].reason.as_str(), raised[0].status), ("inspection_missing", AlertStatus::Open));

    store.ingest_at(&events([full[1].clone()]), start + Duration::hours(3)).unwrap();
    let after = store.alerts(&inspection).unwrap();
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0].id, raised[0].id);
    assert_eq!(after[0].status, AlertStatus::Cleared);
    assert_eq!(after[0].handled_by.as_deref(), Some("kuaidi"));
    let open = AlertQuery { status: Some(AlertStatus::Open), ..inspection };
    assert!(store.alerts(&open).unwrap().is_empty());
    assert!(state_of(store, "yto", "YT0000000301").alert_keys.is_empty());
    assert_aggregates_match_recount(store, &[("yto", "YT0000000301")]);
}

/// Alerts are raised once per parcel and dedup key, however often the parcel is re-derived; they can be
/// acknowledged and resolved; an unknown id is `NotFound`; and the sweep raises the stuck alert of a parcel that
/// stopped moving once the clock passes its limit, and only then.
pub fn alerts_are_raised_once_and_swept(store: &dyn Store) {
    use crate::{AlertChange, AlertQuery, AlertStatus};
    ingest(store, &reference());
    let start = base_time().to_utc();
    let all = AlertQuery { limit: 100, ..AlertQuery::default() };
    // Accepted and sent on without inspection or security scan: a compliance alert at ingest.
    let full = chain("yto", "YT0000000201");
    let skipped: Vec<ScanEvent> = [&full[0], &full[3]].into_iter().cloned().collect();
    let mut batch = vec![Record::Waybill(Box::new(waybill("yto", "YT0000000201")))];
    batch.extend(events(skipped));
    store.ingest_at(&batch, start + Duration::hours(2)).unwrap();
    let raised = store.alerts(&all).unwrap();
    assert!(!raised.is_empty(), "a parcel sent on without inspection raised no alert");
    assert!(raised.iter().all(|a| a.kind == "compliance" && a.status == AlertStatus::Open), "{raised:?}");
    let state = state_of(store, "yto", "YT0000000201");
    assert_eq!(state.alert_keys.len(), raised.len());
    let check_at = state.check_at.expect("an open parcel has a next check");

    // The parcel arrives at the centre: re-derived, but the same alerts are not raised again.
    store.ingest_at(&events([full[4].clone()]), start + Duration::hours(5)).unwrap();
    let after = store.alerts(&all).unwrap();
    assert_eq!(after.len(), raised.len(), "{after:?}");
    let mut keys: Vec<(String, String)> = after.iter().map(|a| (a.kind.clone(), a.reason.clone())).collect();
    keys.dedup();
    assert_eq!(keys.len(), after.len());

    // Before its next check nothing is due; once the clock passes the stuck limit the sweep raises one alert.
    let early = store.sweep(start + Duration::hours(6)).unwrap();
    assert_eq!((early.examined, early.new_alerts), (0, 0), "{early:?}");
    let late = DateTime::<Utc>::from_timestamp_millis(check_at).unwrap() + Duration::days(3);
    let swept = store.sweep(late).unwrap();
    assert!(swept.examined >= 1 && swept.new_alerts >= 1, "{swept:?}");
    let stuck = store.alerts(&AlertQuery { kind: Some("stuck".into()), ..all.clone() }).unwrap();
    assert_eq!(stuck.len(), 1, "{stuck:?}");
    assert_eq!(stuck[0].waybill_no, waybill_no("YT0000000201"));
    assert_eq!(stuck[0].raised_at, late);
    let again = store.sweep(late).unwrap();
    assert_eq!(again.new_alerts, 0, "{again:?}");
    assert_eq!(store.alerts(&AlertQuery { kind: Some("stuck".into()), ..all.clone() }).unwrap().len(), 1);
    assert_aggregates_match_recount(store, &[("yto", "YT0000000201")]);

    // Newest first; acknowledge then resolve; filters by status; an unknown id is NotFound.
    let listed = store.alerts(&all).unwrap();
    assert!(listed.windows(2).all(|w| w[0].id > w[1].id), "{listed:?}");
    let change = |status| AlertChange {
        status,
        note: Some("已联系网点".into()),
        key_id: "k-reg".into(),
        at: late + Duration::hours(1),
    };
    let acknowledged = store.update_alert(stuck[0].id, &change(AlertStatus::Acknowledged)).unwrap();
    assert_eq!(acknowledged.status, AlertStatus::Acknowledged);
    assert_eq!(acknowledged.note.as_deref(), Some("已联系网点"));
    assert_eq!(acknowledged.handled_by.as_deref(), Some("k-reg"));
    assert_eq!(acknowledged.handled_at, Some(late + Duration::hours(1)));
    let resolved = store.update_alert(stuck[0].id, &change(AlertStatus::Resolved)).unwrap();
    let only_resolved = store.alerts(&AlertQuery { status: Some(AlertStatus::Resolved), ..all.clone() }).unwrap();
    assert_eq!(only_resolved, vec![resolved]);
    let unknown = listed.iter().map(|a| a.id).max().unwrap_or(0) + 1000;
    let err = store.update_alert(unknown, &change(AlertStatus::Resolved)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains(&unknown.to_string()), "{err}");
    let other = AlertQuery { carrier: Some(carrier_code("sf")), ..all };
    assert!(store.alerts(&other).unwrap().is_empty());
}

/// Generates one `#[test]` per contract case, each on a fresh store from `$make` (an expression of type
/// `fn() -> impl AsRef<dyn Store>`-like: anything whose result derefs to a `Store`).
///
/// `store_contract_tests!(optional $make)` takes a `$make` that returns an `Option` of such a store, for backends
/// that need a server: `None` means the server is absent and `$make` has already said the test is skipped (or
/// panicked, under CI, where absence is a failure).
#[macro_export]
macro_rules! store_contract_tests {
    (@cases $make:expr; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                if let Some(store) = ($make)() {
                    $crate::testing::$case(&*store);
                }
            }
        )*
    };
    (@all $make:expr) => {
        $crate::store_contract_tests!(@cases $make;
            ingest_is_idempotent,
            records_given_up_are_stored_as_lent_ones,
            a_changed_time_is_a_conflict,
            events_come_back_in_time_order,
            event_free_text_round_trips_at_any_length,
            waybills_round_trip,
            every_record_pages_in_key_order,
            parcel_states_page_in_key_order,
            complaints_take_verdicts,
            waybill_numbers_may_collide_across_carriers,
            reverse_trace_by_vehicle_and_operator,
            reverse_trace_walks_the_hours,
            api_keys_lifecycle,
            audit_log_appends,
            epcis_capture_is_idempotent_by_hash,
            epcis_query_filters_and_pages,
            capture_jobs_round_trip,
            capture_stores_scan_events_epcis_events_and_job_together,
            indicators_match_a_recount,
            alerts_are_raised_once_and_swept,
            late_records_clear_alerts,
        );
    };
    (optional $make:expr) => {
        $crate::store_contract_tests!(@all ($make));
    };
    ($make:expr) => {
        $crate::store_contract_tests!(@all (|| Some(($make)())));
    };
}
