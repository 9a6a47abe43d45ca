//! The store contract: one suite of behaviour every backend must show, plus record fixtures for tests.
//!
//! A backend runs the suite with [`store_contract_tests!`], handing it a function that makes a fresh, empty store.

use chrono::{DateTime, Duration, FixedOffset, Utc};
use kuaidi_model::{
    Address, AdminCode, Carrier, CarrierCode, Contents, EventId, EventKind, Facility, FacilityCode, FacilityKind,
    GeoPoint, IdType, Party, Phone, RealName, Record, Role, ScanEvent, Signer, Waybill, WaybillNo,
};

use crate::{AuditEntry, ErrorKind, Handler, NewApiKey, Outcome, Store};

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
            operator: Some("C001".to_owned()),
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
                    e.vehicle = Some("沪A12345".to_owned());
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
    changed.operator = Some("C999".to_owned());
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

/// Generates one `#[test]` per contract case, each on a fresh store from `$make` (an expression of type
/// `fn() -> impl AsRef<dyn Store>`-like: anything whose result derefs to a `Store`).
///
/// `store_contract_tests!(optional $make)` takes a `$make` that returns an `Option` of such a store, for backends
/// that need a server: `None` means the server is absent and `$make` has already said the test is skipped (or
/// panicked, under CI, where absence is a failure).
#[macro_export]
macro_rules! store_contract_tests {
    (optional $make:expr) => {
        $crate::store_contract_tests!(@cases ($make);
            ingest_is_idempotent,
            a_changed_time_is_a_conflict,
            events_come_back_in_time_order,
            waybills_round_trip,
            waybill_numbers_may_collide_across_carriers,
            reverse_trace_by_vehicle_and_operator,
            api_keys_lifecycle,
            audit_log_appends,
        );
    };
    ($make:expr) => {
        $crate::store_contract_tests!(@cases (|| Some(($make)()));
            ingest_is_idempotent,
            a_changed_time_is_a_conflict,
            events_come_back_in_time_order,
            waybills_round_trip,
            waybill_numbers_may_collide_across_carriers,
            reverse_trace_by_vehicle_and_operator,
            api_keys_lifecycle,
            audit_log_appends,
        );
    };
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
}
