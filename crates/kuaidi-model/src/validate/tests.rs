//! Tests of every validation rule, good and bad, written as data: a mutation of a valid record and the expected outcome.

use std::collections::HashMap;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use proptest::prelude::*;

use super::*;
use crate::{
    insert_event, order_events, Address, AdminCode, Contents, EventId, IdType, ParcelStatus, Party, Phone, RealName,
    WaybillNo,
};

struct Fixture {
    carriers: Vec<CarrierCode>,
    facilities: HashMap<FacilityCode, Facility>,
}

impl Reference for Fixture {
    fn has_carrier(&self, code: &CarrierCode) -> bool {
        self.carriers.contains(code)
    }
    fn facility(&self, code: &FacilityCode) -> Option<&Facility> {
        self.facilities.get(code)
    }
}

fn carrier(code: &str) -> CarrierCode {
    CarrierCode::parse(code).unwrap()
}

fn facility(code: &str, kind: FacilityKind, owner: Option<&str>) -> (FacilityCode, Facility) {
    let code = FacilityCode::parse(code).unwrap();
    let facility = Facility {
        code: code.clone(),
        kind,
        carrier: owner.map(carrier),
        division: AdminCode::parse("320505").unwrap(),
        location: None,
        name: "苏州虎丘网点".into(),
    };
    (code, facility)
}

fn fixture() -> Fixture {
    Fixture {
        carriers: vec![carrier("yto"), carrier("sf")],
        facilities: [
            facility("YTO-SZ-01", FacilityKind::Outlet, Some("yto")),
            facility("YTO-SZ-SC", FacilityKind::SortingCentre, Some("yto")),
            facility("SF-SZ-01", FacilityKind::Outlet, Some("sf")),
            facility("LOCKER-1", FacilityKind::Locker, None),
        ]
        .into_iter()
        .collect(),
    }
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-11T12:00:00+08:00").unwrap().with_timezone(&Utc)
}

fn at(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
}

fn event() -> ScanEvent {
    ScanEvent {
        event_id: EventId::parse("e1").unwrap(),
        carrier: carrier("yto"),
        waybill_no: WaybillNo::parse("YT1234567890").unwrap(),
        kind: EventKind::Accept,
        time: at("2026-11-11T09:00:00+08:00"),
        facility: FacilityCode::parse("YTO-SZ-01").unwrap(),
        operator: Some("C001".into()),
        vehicle: None,
        next_facility: None,
        exception_code: None,
        signer: None,
    }
}

fn waybill() -> Waybill {
    let party = |name: &str, phone: &str| Party {
        name: name.into(),
        phone: Phone::parse(phone).unwrap(),
        address: Address { division: AdminCode::parse("320505").unwrap(), detail: "科技城路 1 号".into() },
    };
    Waybill {
        carrier: carrier("yto"),
        waybill_no: WaybillNo::parse("YT1234567890").unwrap(),
        product: "standard".into(),
        electronic: true,
        sender: party("张三", "13800131234"),
        receiver: party("李四", "13900135678"),
        real_name: Some(RealName {
            id_type: IdType::ResidentId,
            id_number: "11010519491231002X".into(),
            verified: true,
        }),
        contents: Contents {
            category: "服装".into(),
            description: "棉质T恤两件".into(),
            weight_grams: 500,
            declared_value_fen: 9900,
        },
        created_at: at("2026-11-11T08:50:00+08:00"),
    }
}

/// Applies `mutate` to a valid event and checks the outcome: `Ok` or `(code, field)`.
fn check_event(mutate: impl FnOnce(&mut ScanEvent), expected: Result<(), (&str, &str)>) {
    let mut e = event();
    mutate(&mut e);
    let res = validate_event(&e, &fixture(), now(), &Policy::default());
    let got = res.as_ref().map(|_| ()).map_err(|err| (err.code(), err.field()));
    assert_eq!(got, expected, "{res:?}");
}

fn check_waybill(mutate: impl FnOnce(&mut Waybill), expected: Result<(), (&str, &str)>) {
    let mut w = waybill();
    mutate(&mut w);
    let res = validate_waybill(&w, &fixture(), now(), &Policy::default());
    let got = res.as_ref().map(|_| ()).map_err(|err| (err.code(), err.field()));
    assert_eq!(got, expected, "{res:?}");
}

fn fac(code: &str) -> FacilityCode {
    FacilityCode::parse(code).unwrap()
}

#[test]
fn event_rules() {
    check_event(|_| {}, Ok(()));
    check_event(|e| e.carrier = carrier("zto"), Err(("unknown_carrier", "carrier")));
    check_event(|e| e.facility = fac("NOPE"), Err(("unknown_facility", "facility")));
    check_event(|e| e.facility = fac("SF-SZ-01"), Err(("carrier_mismatch", "facility")));
    check_event(|e| e.facility = fac("LOCKER-1"), Ok(()));
    // Future tolerance: 15 minutes ahead is fine, 16 is not.
    check_event(|e| e.time = at("2026-11-11T12:15:00+08:00"), Ok(()));
    check_event(|e| e.time = at("2026-11-11T12:16:00+08:00"), Err(("time_in_future", "time")));
    check_event(|e| e.time = at("1999-12-31T23:59:59+00:00"), Err(("invalid_field", "time")));
    // Another UTC offset naming the same instant is fine.
    check_event(|e| e.time = at("2026-11-11T01:00:00+00:00"), Ok(()));
    check_event(|e| e.operator = Some("".into()), Err(("invalid_field", "operator")));
    check_event(|e| e.vehicle = Some("x".repeat(65).into()), Err(("invalid_field", "vehicle")));
    check_event(|e| e.vehicle = Some("沪A12345\n".into()), Err(("invalid_field", "vehicle")));
}

#[test]
fn event_kind_rules() {
    check_event(|e| e.kind = EventKind::Delivered, Err(("missing_field", "signer")));
    check_event(
        |e| {
            e.kind = EventKind::Delivered;
            e.signer = Some(Signer::Other);
        },
        Ok(()),
    );
    check_event(|e| e.signer = Some(Signer::Receiver), Err(("invalid_field", "signer")));
    check_event(|e| e.kind = EventKind::IntoLocker, Ok(()));
    check_event(
        |e| {
            e.kind = EventKind::IntoLocker;
            e.signer = Some(Signer::Receiver);
        },
        Err(("invalid_field", "signer")),
    );
    check_event(|e| e.kind = EventKind::Exception, Err(("missing_field", "exception_code")));
    check_event(
        |e| {
            e.kind = EventKind::Exception;
            e.exception_code = Some("E01".into());
        },
        Ok(()),
    );
    check_event(|e| e.exception_code = Some("E01".into()), Err(("invalid_field", "exception_code")));
    check_event(|e| e.kind = EventKind::Lost, Ok(()));
    check_event(
        |e| {
            e.kind = EventKind::Depart;
            e.next_facility = Some(fac("YTO-SZ-SC"));
        },
        Ok(()),
    );
    check_event(
        |e| {
            e.kind = EventKind::Depart;
            e.next_facility = Some(fac("YTO-SZ-01"));
        },
        Err(("invalid_field", "next_facility")),
    );
    check_event(
        |e| {
            e.kind = EventKind::Depart;
            e.next_facility = Some(fac("GONE"));
        },
        Err(("unknown_facility", "next_facility")),
    );
    check_event(|e| e.next_facility = Some(fac("YTO-SZ-SC")), Err(("invalid_field", "next_facility")));
}

#[test]
fn waybill_rules() {
    check_waybill(|_| {}, Ok(()));
    check_waybill(|w| w.carrier = carrier("zto"), Err(("unknown_carrier", "carrier")));
    check_waybill(|w| w.created_at = at("2027-01-01T00:00:00+08:00"), Err(("time_in_future", "created_at")));
    check_waybill(|w| w.product = " ".into(), Err(("invalid_field", "product")));
    check_waybill(|w| w.sender.name = String::new(), Err(("invalid_field", "sender.name")));
    check_waybill(
        |w| w.receiver.address.division = AdminCode::parse("329999").unwrap(),
        Err(("unknown_division", "receiver.division")),
    );
    check_waybill(|w| w.receiver.address.detail = "路".repeat(201), Err(("invalid_field", "receiver.address")));
    check_waybill(
        |w| w.real_name.as_mut().unwrap().id_number = "110105194912310021".into(),
        Err(("invalid_field", "real_name.id_number")),
    );
    check_waybill(
        |w| {
            let real_name = w.real_name.as_mut().unwrap();
            real_name.id_type = IdType::Passport;
            real_name.id_number = "E12345678".into();
        },
        Ok(()),
    );
    check_waybill(|w| w.real_name = None, Ok(()));
    check_waybill(|w| w.contents.weight_grams = 0, Err(("invalid_field", "contents.weight_grams")));
    check_waybill(|w| w.contents.weight_grams = 100_001, Err(("invalid_field", "contents.weight_grams")));
    check_waybill(|w| w.contents.description = String::new(), Err(("invalid_field", "contents.description")));
}

#[test]
fn facility_rules() {
    let fixture = fixture();
    let check = |mutate: &dyn Fn(&mut Facility), expected: Result<(), (&str, &str)>| {
        let (_, mut f) = facility("YTO-NEW", FacilityKind::Hub, Some("yto"));
        mutate(&mut f);
        let res = validate_facility(&f, &fixture);
        assert_eq!(res.as_ref().map(|_| ()).map_err(|e| (e.code(), e.field())), expected, "{res:?}");
    };
    check(&|_| {}, Ok(()));
    check(&|f| f.carrier = Some(carrier("zto")), Err(("unknown_carrier", "carrier")));
    check(&|f| f.carrier = None, Err(("missing_field", "carrier")));
    check(
        &|f| {
            f.carrier = None;
            f.kind = FacilityKind::Locker;
        },
        Ok(()),
    );
    check(&|f| f.division = AdminCode::parse("320599").unwrap(), Err(("unknown_division", "division")));
    check(&|f| f.name = String::new(), Err(("invalid_field", "name")));
}

#[test]
fn status_follows_the_latest_event_in_any_order() {
    let mut events = Vec::new();
    for (idx, (kind, minutes)) in
        [(EventKind::Accept, 0), (EventKind::Lost, 60), (EventKind::Arrive, 120), (EventKind::Delivered, 180)]
            .into_iter()
            .enumerate()
    {
        let mut e = event();
        e.event_id = EventId::parse(&format!("e{idx}")).unwrap();
        e.kind = kind;
        e.time += Duration::minutes(minutes);
        e.signer = (kind == EventKind::Delivered).then_some(Signer::Receiver);
        events.push(e);
    }
    assert_eq!(ParcelStatus::of(&events), ParcelStatus::Delivered);
    // Lost, then found: the arrival after the loss report wins.
    assert_eq!(ParcelStatus::of(&events[..3]), ParcelStatus::InTransit);
    assert_eq!(ParcelStatus::of(&events[..2]), ParcelStatus::Lost);
    assert_eq!(ParcelStatus::of(&[]), ParcelStatus::Created);

    let mut shuffled =
        vec![events[3].clone(), events[0].clone(), events[2].clone(), events[0].clone(), events[1].clone()];
    order_events(&mut shuffled);
    assert_eq!(shuffled, events);
}

proptest! {
    /// Inserting events one by one gives what pushing them all and ordering once gives: repeats of an id (with the
    /// same or another time or kind), equal times, two carriers, any arrival order.
    #[test]
    fn inserting_one_by_one_equals_ordering_at_once(
        picks in proptest::collection::vec((0u8..6, 0i64..4, 0usize..3, any::<bool>()), 0..24),
    ) {
        let kinds = [EventKind::Accept, EventKind::Arrive, EventKind::Depart];
        let mut inserted: Vec<ScanEvent> = Vec::new();
        let mut pushed: Vec<ScanEvent> = Vec::new();
        for (id, minutes, kind, other_carrier) in picks {
            let mut e = event();
            e.event_id = EventId::parse(&format!("e{id}")).unwrap();
            e.time += Duration::minutes(minutes);
            e.kind = kinds[kind];
            if other_carrier {
                e.carrier = CarrierCode::parse("sf").unwrap();
            }
            pushed.push(e.clone());
            order_events(&mut pushed);
            insert_event(&mut inserted, e);
            prop_assert_eq!(&inserted, &pushed);
        }
    }

    #[test]
    fn codes_round_trip(text in "[a-z][a-z0-9_]{1,31}") {
        let code = CarrierCode::parse(&text).unwrap();
        prop_assert_eq!(CarrierCode::parse(&code.to_string()).unwrap(), code);
    }

    #[test]
    fn waybill_numbers_round_trip(text in "[A-Za-z0-9]{7,31}[0-9]") {
        let no = WaybillNo::parse(&text).unwrap();
        prop_assert_eq!(no.as_str(), text.to_ascii_uppercase());
        prop_assert_eq!(WaybillNo::parse(&no.to_string()).unwrap(), no);
    }

    /// Codes hold their text inline up to 24 bytes and on the heap beyond: either way a code keeps its text, and
    /// compares, orders and hashes as its text does.
    #[test]
    fn codes_compare_as_their_text(a in "[!-~]{1,64}", b in "[!-~]{1,64}", cut in 0usize..64) {
        use std::hash::BuildHasher;
        let hasher = std::collections::hash_map::RandomState::new();
        // A prefix of `a` as the second text now and then, so that equal and prefix-ordered pairs come up too.
        let b = if cut % 4 == 0 { a[..a.len().min(cut + 1)].to_owned() } else { b };
        let (x, y) = (EventId::parse(&a).unwrap(), EventId::parse(&b).unwrap());
        prop_assert_eq!(x.as_str(), a.as_str());
        prop_assert_eq!(x.cmp(&y), a.cmp(&b));
        prop_assert_eq!(x == y, a == b);
        prop_assert_eq!(hasher.hash_one(&x), hasher.hash_one(EventId::parse(&a).unwrap()));
        let facility = |text: &str| FacilityCode::parse(&text.replace(|c: char| !c.is_ascii_alphanumeric(), "_"));
        let (fa, fb) = (facility(&a).unwrap(), facility(&b).unwrap());
        prop_assert_eq!(fa.cmp(&fb), fa.as_str().cmp(fb.as_str()));
        prop_assert_eq!(fa.as_str().len(), a.len());
    }

    #[test]
    fn division_codes_round_trip(code in 110000u32..=829999) {
        let parsed = AdminCode::from_u32(code).unwrap();
        prop_assert_eq!(AdminCode::parse(&parsed.to_string()).unwrap(), parsed);
    }

    #[test]
    fn parsers_never_panic(text in "\\PC{0,40}") {
        let _ = CarrierCode::parse(&text);
        let _ = WaybillNo::parse(&text);
        let _ = AdminCode::parse(&text);
        let _ = FacilityCode::parse(&text);
        let _ = EventId::parse(&text);
        let _ = Phone::parse(&text);
        let _ = EventKind::parse(&text);
        let _ = IdType::parse(&text);
        let _ = crate::mask::name(&text);
        let _ = crate::mask::phone(&text);
        let _ = crate::mask::id_number(&text);
    }

    #[test]
    fn any_event_is_accepted_or_rejected(
        kind_idx in 0usize..13,
        minutes in -20_000_000i64..20_000_000,
        facility_idx in 0usize..5,
        signer_idx in 0usize..5,
        with_code in any::<bool>(),
        next_idx in 0usize..6,
    ) {
        let facilities = ["YTO-SZ-01", "YTO-SZ-SC", "SF-SZ-01", "LOCKER-1", "NONE"];
        let signers = [None, Some(Signer::Receiver), Some(Signer::Locker), Some(Signer::Station), Some(Signer::Other)];
        let mut e = event();
        e.kind = EventKind::ALL[kind_idx];
        e.time += Duration::minutes(minutes);
        e.facility = fac(facilities[facility_idx]);
        e.signer = signers[signer_idx];
        e.exception_code = with_code.then(|| "E1".into());
        e.next_facility = facilities.get(next_idx).map(|code| fac(code));
        let _ = validate_event(&e, &fixture(), now(), &Policy::default());
    }
}

#[test]
fn complaints() {
    use crate::{validate_complaint, Complaint, ComplaintCategory, ComplaintId, Verdict};
    let good = Complaint {
        id: ComplaintId::parse("12305-1").unwrap(),
        carrier: carrier("yto"),
        waybill_no: WaybillNo::parse("YT1234567890").unwrap(),
        filed_at: at("2026-11-11T10:00:00+08:00"),
        category: ComplaintCategory::Delay,
        description: "三天还没到".into(),
        verdict: Verdict::Valid,
    };
    let check = |complaint: &Complaint| {
        validate_complaint(complaint, &fixture(), now(), &Policy::default())
            .map_err(|err| (err.code(), err.field().to_owned(), err.value().map(str::to_owned)))
    };
    assert_eq!(check(&good), Ok(()));
    let unknown = Complaint { carrier: carrier("zto"), ..good.clone() };
    assert_eq!(check(&unknown), Err(("unknown_carrier", "carrier".into(), Some("zto".into()))));
    let blank = Complaint { description: " ".into(), ..good.clone() };
    assert_eq!(check(&blank), Err(("invalid_field", "description".into(), Some(" ".into()))));
    let future = Complaint { filed_at: at("2026-11-12T10:00:00+08:00"), ..good.clone() };
    assert_eq!(check(&future).unwrap_err().1, "filed_at");
    let long = Complaint { description: "慢".repeat(501), ..good };
    assert_eq!(check(&long).unwrap_err().1, "description");
}
