//! Against real orders nobody here wrote: the Olist orders (`shared/data/olist/olist_orders_dataset.csv`, 3,560
//! Brazilian e-commerce orders of 2016-2018) mapped onto waybills' events, with the late share computed
//! independently from the raw CSV.
//!
//! The mapping: purchase is `accept`, hand-over to the carrier is `depart`, delivery to the customer is `delivered`,
//! and the estimated delivery date is the promised deadline. The estimate is a date (always 00:00:00); a delivery
//! on that calendar day is on time, so the deadline is the end of the day: the next midnight. Times are Brazil's
//! local time without an offset; they are read as -03:00 (São Paulo standard time), and since the deadline is read
//! the same way, the offset cannot move a delivery across it.
//!
//! Traps (from SOURCE.md and checks): one order with status `delivered` has no delivery time (it is left in transit);
//! one order with another status has a delivery time, and the platform's status is taken as the final word, so it
//! gets no `delivered` event; eight orders were handed to the carrier before their purchase time (the events are
//! out of order, which the summary must take in its stride). The test takes well under a second.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};
use kuaidi_model::{CarrierCode, EventId, EventKind, FacilityCode, ScanEvent, Signer, WaybillNo};
use kuaidi_rules::{summarize_with_promise, Context, Cube, Filter, Indicators, TimeLimitClass, TimeLimits};

use crate::support::{shared, Facilities};

fn local(text: &str) -> Option<DateTime<FixedOffset>> {
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()?;
    FixedOffset::west_opt(3 * 3600)?.from_local_datetime(&naive).single()
}

fn event(order: &WaybillNo, seq: u32, kind: EventKind, time: DateTime<FixedOffset>, facility: &str) -> ScanEvent {
    ScanEvent {
        event_id: EventId::parse(&format!("{order}-{seq}")).unwrap(),
        carrier: CarrierCode::parse("olist").unwrap(),
        waybill_no: order.clone(),
        kind,
        time,
        facility: FacilityCode::parse(facility).unwrap(),
        operator: None,
        vehicle: None,
        next_facility: None,
        exception_code: None,
        signer: (kind == EventKind::Delivered).then_some(Signer::Receiver),
    }
}

#[test]
fn late_share_matches_the_raw_csv() {
    let Some(path) = shared("data/olist/olist_orders_dataset.csv") else { return };
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (id, status, purchase, carrier, delivered, estimated) = (
        column("order_id"),
        column("order_status"),
        column("order_purchase_timestamp"),
        column("order_delivered_carrier_date"),
        column("order_delivered_customer_date"),
        column("order_estimated_delivery_date"),
    );

    let reference = Facilities::default();
    let limits = TimeLimits::default();
    let ctx = Context { reference: &reference, time_limits: &limits };
    let now = Utc.with_ymd_and_hms(2018, 12, 1, 0, 0, 0).unwrap();
    let mut cube = Cube::new();
    let (mut n_orders, mut n_delivered, mut n_late) = (0u64, 0u64, 0u64);
    for row in reader.records() {
        let row = row.unwrap();
        n_orders += 1;

        // Independently, from the raw text: a delivered order is late when its delivery's calendar day is after
        // the estimated day.
        if &row[status] == "delivered" && !row[delivered].is_empty() {
            n_delivered += 1;
            let day = |text: &str| NaiveDate::parse_from_str(&text[..10], "%Y-%m-%d").unwrap();
            n_late += u64::from(day(&row[delivered]) > day(&row[estimated]));
        }

        let order = WaybillNo::parse(&row[id]).unwrap();
        let mut events = vec![event(&order, 1, EventKind::Accept, local(&row[purchase]).unwrap(), "SELLER")];
        if let Some(time) = local(&row[carrier]) {
            events.push(event(&order, 2, EventKind::Depart, time, "SELLER"));
        }
        if let Some(time) = local(&row[delivered]).filter(|_| &row[status] == "delivered") {
            events.push(event(&order, 3, EventKind::Delivered, time, "CUSTOMER"));
        }
        let promised_by = local(&row[estimated]).map(|day_start| day_start + Duration::days(1));
        let summary = summarize_with_promise(None, &events, &[], promised_by, &ctx, now).unwrap();
        cube.apply(None, Some(&summary));
    }

    let total = cube.total(&Filter::default());
    let indicators = Indicators::from(&total);
    assert_eq!(total.parcels, n_orders);
    assert_eq!((total.delayed, total.judged), (n_late, n_delivered));
    assert_eq!(total.class(TimeLimitClass::Promised), (n_delivered, n_delivered - n_late));
    // And the figures SOURCE.md records: 240 of 3,467 delivered orders late, about 6.9 %.
    assert_eq!((n_late, n_delivered), (240, 3_467));
    let per_thousand = indicators.delay_rate.value.unwrap();
    assert!((per_thousand - 240.0 / 3_467.0 * 1_000.0).abs() < 1e-9, "{per_thousand}");
}
