//! Unit tests of the summary: the definitions one by one, and invariance under permutation and duplication.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, Utc};
use kuaidi_model::{
    AdminCode, CarrierCode, Complaint, ComplaintCategory, ComplaintId, EventId, EventKind, Facility, FacilityCode,
    FacilityKind, Reference, ScanEvent, Signer, Verdict, WaybillNo,
};
use proptest::prelude::*;

use super::*;

struct Facilities(HashMap<FacilityCode, Facility>);

impl Reference for Facilities {
    fn has_carrier(&self, _code: &CarrierCode) -> bool {
        true
    }

    fn facility(&self, code: &FacilityCode) -> Option<&Facility> {
        self.0.get(code)
    }
}

/// Shanghai outlet, Shanghai sorting centre, Hangzhou sorting centre, Hangzhou outlet, Hangzhou locker.
fn facilities() -> Facilities {
    let facility = |code: &str, kind, division: &str| Facility {
        code: FacilityCode::parse(code).unwrap(),
        kind,
        carrier: None,
        division: AdminCode::parse(division).unwrap(),
        location: None,
        name: code.to_owned(),
    };
    let list = [
        facility("SH-OUT", FacilityKind::Outlet, "310115"),
        facility("SH-SC", FacilityKind::SortingCentre, "310112"),
        facility("HZ-SC", FacilityKind::SortingCentre, "330106"),
        facility("HZ-OUT", FacilityKind::Outlet, "330106"),
        facility("HZ-LOCK", FacilityKind::Locker, "330106"),
    ];
    Facilities(list.into_iter().map(|f| (f.code.clone(), f)).collect())
}

fn time(text: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text).unwrap()
}

fn event(seq: u32, kind: EventKind, at: &str, facility: &str) -> ScanEvent {
    ScanEvent {
        event_id: EventId::parse(&format!("e{seq}")).unwrap(),
        carrier: CarrierCode::parse("zto").unwrap(),
        waybill_no: WaybillNo::parse("ZT0000000001").unwrap(),
        kind,
        time: time(at),
        facility: FacilityCode::parse(facility).unwrap(),
        operator: None,
        vehicle: None,
        next_facility: None,
        exception_code: None,
        signer: (kind == EventKind::Delivered).then_some(Signer::Receiver),
    }
}

/// A Shanghai → Hangzhou parcel (12 h class) accepted at 08:00 and delivered at `delivered`.
fn journey(delivered: &str) -> Vec<ScanEvent> {
    vec![
        event(1, EventKind::Accept, "2026-03-02T08:00:00+08:00", "SH-OUT"),
        event(2, EventKind::Depart, "2026-03-02T09:00:00+08:00", "SH-OUT"),
        event(3, EventKind::Arrive, "2026-03-02T10:00:00+08:00", "SH-SC"),
        event(4, EventKind::Depart, "2026-03-02T11:00:00+08:00", "SH-SC"),
        event(5, EventKind::Arrive, "2026-03-02T14:00:00+08:00", "HZ-SC"),
        event(6, EventKind::Arrive, "2026-03-02T16:00:00+08:00", "HZ-OUT"),
        event(7, EventKind::Delivered, delivered, "HZ-OUT"),
    ]
}

fn now() -> DateTime<Utc> {
    time("2026-03-05T00:00:00+08:00").with_timezone(&Utc)
}

fn run(events: &[ScanEvent], complaints: &[Complaint], now: DateTime<Utc>) -> ParcelSummary {
    let reference = facilities();
    let limits = TimeLimits::default();
    let ctx = Context { reference: &reference, time_limits: &limits };
    summarize(None, events, complaints, &ctx, now).unwrap()
}

#[test]
fn a_parcel_without_a_waybill_takes_its_cities_from_facilities() {
    let summary = run(&journey("2026-03-02T17:00:00+08:00"), &[], now());
    assert_eq!(summary.origin_city, Some(AdminCode::parse("310100").unwrap()));
    assert_eq!(summary.destination_city, Some(AdminCode::parse("330100").unwrap()));
    assert_eq!(summary.time_limit, Some(TimeLimitClass::DeltaKey));
    let route: Vec<&str> = summary.route.iter().map(FacilityCode::as_str).collect();
    assert_eq!(route, ["SH-OUT", "SH-SC", "HZ-SC", "HZ-OUT"]);
    assert_eq!(summary.transit_hops, 2);
    assert_eq!(summary.outcome, Outcome::Delivered);
    assert_eq!(summary.delivery_seconds, Some(9 * 3600));
    assert_eq!(summary.delayed, Some(false));
    assert!(!summary.open);
    assert_eq!(summary.electronic_waybill, None);
}

#[test]
fn exactly_at_the_limit_is_on_time_and_a_second_later_is_delayed() {
    assert_eq!(run(&journey("2026-03-02T20:00:00+08:00"), &[], now()).delayed, Some(false));
    assert_eq!(run(&journey("2026-03-02T20:00:01+08:00"), &[], now()).delayed, Some(true));
    // The same instant written in UTC is the same deadline.
    assert_eq!(run(&journey("2026-03-02T12:00:00+00:00"), &[], now()).delayed, Some(false));
}

#[test]
fn lost_then_found_is_judged_by_its_other_events() {
    let mut events = journey("2026-03-03T09:00:00+08:00");
    events.push(event(8, EventKind::Lost, "2026-03-02T18:00:00+08:00", "HZ-OUT"));
    let found = run(&events, &[], now());
    assert_eq!(found.outcome, Outcome::Delivered);
    assert_eq!(found.delayed, Some(true));
    events.retain(|e| e.kind != EventKind::Delivered);
    let lost = run(&events, &[], now());
    assert_eq!((lost.outcome, lost.lost_by_silence, lost.open), (Outcome::Lost, false, false));
}

#[test]
fn silence_past_the_limit_is_loss_and_open() {
    let mut events = journey("2026-03-02T17:00:00+08:00");
    events.pop();
    let before = run(&events, &[], time("2026-03-09T15:59:59+08:00").with_timezone(&Utc));
    assert_eq!((before.outcome, before.open), (Outcome::InTransit, true));
    assert_eq!(before.silent_lost_at, Some(time("2026-03-09T16:00:00+08:00")));
    let after = run(&events, &[], time("2026-03-09T16:00:01+08:00").with_timezone(&Utc));
    assert_eq!((after.outcome, after.lost_by_silence, after.open), (Outcome::Lost, true, true));
    assert_eq!(after.silent_lost_at, None);
}

#[test]
fn outcomes_follow_their_precedence() {
    let outcome_with = |extra: Vec<ScanEvent>, drop_delivery: bool| {
        let mut events = journey("2026-03-02T17:00:00+08:00");
        if drop_delivery {
            events.pop();
        }
        events.extend(extra);
        run(&events, &[], now())
    };
    let refused = event(9, EventKind::Refused, "2026-03-02T17:00:00+08:00", "HZ-OUT");
    let returned = event(10, EventKind::Returned, "2026-03-02T19:00:00+08:00", "HZ-OUT");
    let summary = outcome_with(vec![refused.clone()], true);
    assert_eq!((summary.outcome, summary.delivered_at.is_some()), (Outcome::Refused, true));
    assert_eq!(outcome_with(vec![refused, returned], true).outcome, Outcome::Returned);
    let damaged = event(11, EventKind::Damaged, "2026-03-02T14:30:00+08:00", "HZ-SC");
    let summary = outcome_with(vec![damaged.clone()], false);
    assert_eq!((summary.outcome, summary.damaged), (Outcome::Delivered, true));
    let summary = outcome_with(vec![damaged], true);
    assert_eq!((summary.outcome, summary.open), (Outcome::Damaged, true));
    let mut locker = event(12, EventKind::IntoLocker, "2026-03-02T17:00:00+08:00", "HZ-LOCK");
    locker.signer = None;
    let summary = outcome_with(vec![locker], true);
    assert_eq!((summary.outcome, summary.locker_delivery), (Outcome::IntoLocker, true));
    assert_eq!(summary.transit_hops, 2);
}

#[test]
fn only_valid_complaints_count_once_per_id() {
    let complaint = |id: &str, verdict, waybill: &str| Complaint {
        id: ComplaintId::parse(id).unwrap(),
        carrier: CarrierCode::parse("zto").unwrap(),
        waybill_no: WaybillNo::parse(waybill).unwrap(),
        filed_at: time("2026-03-03T10:00:00+08:00"),
        category: ComplaintCategory::Delay,
        description: "张三 13800138000 说太慢".to_owned(),
        verdict,
    };
    let complaints = [
        complaint("c1", Verdict::Valid, "ZT0000000001"),
        complaint("c1", Verdict::Valid, "ZT0000000001"),
        complaint("c2", Verdict::Invalid, "ZT0000000001"),
        complaint("c3", Verdict::Pending, "ZT0000000001"),
        complaint("c4", Verdict::Valid, "ZT0000000002"),
    ];
    let summary = run(&journey("2026-03-02T17:00:00+08:00"), &complaints, now());
    assert_eq!(summary.valid_complaints, 1);
    assert_eq!(summary.complaints.len(), 3);
    // The consumer's words, which may hold personal data, are not kept.
    let json = serde_json::to_string(&summary).unwrap();
    assert!(!json.contains("13800138000") && !json.contains("张三"), "{json}");
}

#[test]
fn nothing_to_summarize_is_none_and_a_summary_round_trips() {
    let reference = facilities();
    let limits = TimeLimits::default();
    let ctx = Context { reference: &reference, time_limits: &limits };
    assert!(summarize(None, &[], &[], &ctx, now()).is_none());
    let summary = run(&journey("2026-03-02T17:00:00+08:00"), &[], now());
    let json = serde_json::to_string(&summary).unwrap();
    assert_eq!(serde_json::from_str::<ParcelSummary>(&json).unwrap(), summary);
    let err = serde_json::from_str::<ParcelSummary>(&json.replace("\"zto\"", "\"Z T O\"")).unwrap_err();
    assert!(err.to_string().contains("carrier: `Z T O`"), "{err}");
    // The route is stored as the facilities' codes, and a stored code that no longer parses is refused, named.
    assert!(json.contains(r#""route":["SH-OUT","SH-SC","HZ-SC","HZ-OUT"]"#), "{json}");
    let err = serde_json::from_str::<ParcelSummary>(&json.replace("\"SH-SC\"", "\"SH SC\"")).unwrap_err();
    assert!(err.to_string().contains("facility: `SH SC`"), "{err}");
}

proptest! {
    /// Any permutation of the events, with any of them repeated, gives the same summary.
    #[test]
    fn permutation_and_duplication_change_nothing(
        order in Just((0..10usize).collect::<Vec<_>>()).prop_shuffle(),
        repeats in proptest::collection::vec(0..10usize, 0..6),
        drop_delivery in any::<bool>(),
        with_loss in any::<bool>(),
    ) {
        let mut events = journey("2026-03-02T20:30:00+08:00");
        events.push(event(8, EventKind::Damaged, "2026-03-02T14:00:00+08:00", "HZ-SC"));
        events.push(event(9, EventKind::Exception, "2026-03-02T14:00:00+08:00", "HZ-SC"));
        events.push(event(10, EventKind::Lost, "2026-03-02T15:00:00+08:00", "HZ-SC"));
        if drop_delivery {
            events.remove(6);
        }
        if !with_loss {
            events.pop();
        }
        let expected = run(&events, &[], now());
        let mut shuffled: Vec<ScanEvent> = order.iter().filter_map(|&idx| events.get(idx).cloned()).collect();
        shuffled.extend(repeats.iter().filter_map(|&idx| events.get(idx).cloned()));
        prop_assert_eq!(run(&shuffled, &[], now()), expected.clone());
        // Every rate of the parcel's counters lies between 0 and its scale, and keeps its parts.
        let indicators = crate::Indicators::from(&crate::Counters::of(&expected));
        let mut rates = vec![
            indicators.delay_rate,
            indicators.damage_rate,
            indicators.loss_rate,
            indicators.valid_complaint_rate,
            indicators.e_waybill_share,
            indicators.locker_share,
        ];
        rates.extend(indicators.attainment.iter().map(|attainment| attainment.rate));
        for rate in rates {
            prop_assert!(rate.numerator <= rate.denominator, "{:?}", rate);
            if let Some(value) = rate.value {
                prop_assert!((0.0..=rate.per as f64).contains(&value), "{:?}", rate);
            }
        }
    }
}
