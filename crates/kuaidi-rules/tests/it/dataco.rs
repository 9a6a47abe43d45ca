//! Against real shipments nobody here wrote: the DataCo supply-chain sample
//! (`shared/data/dataco/DataCoSupplyChainDataset.csv`, 4,800 order lines), each line mapped onto a parcel: the order
//! date is `accept`, delivery is the order date plus the real shipping days, and the promise is the order date plus
//! the scheduled days. The late count must equal the data's own `Late_delivery_risk` and an independent count of
//! real days over scheduled days.
//!
//! Traps: the `shipping date` column is not the order date plus the real days for 253 same-day and first-class
//! lines (it adds 12 hours where the day counts say 0 or 1), so the day counts are used, as the data's own lateness
//! flag does. Cancelled lines (`Shipping canceled`, 202) have day counts too, 121 of them "late", but
//! `Late_delivery_risk` is 0 for all: they are mapped to `returned`, never delivered, so they are not judged.
//! The test takes well under a second.

use chrono::{DateTime, Duration, FixedOffset, NaiveDateTime, TimeZone, Utc};
use kuaidi_model::{CarrierCode, EventId, EventKind, FacilityCode, ScanEvent, Signer, WaybillNo};
use kuaidi_rules::{summarize_with_promise, Context, Cube, Filter, Indicators, TimeLimits};

use crate::support::{shared, Facilities};

fn event(parcel: &WaybillNo, seq: u32, kind: EventKind, time: DateTime<FixedOffset>) -> ScanEvent {
    ScanEvent {
        event_id: EventId::parse(&format!("{parcel}-{seq}")).unwrap(),
        carrier: CarrierCode::parse("dataco").unwrap(),
        waybill_no: parcel.clone(),
        kind,
        time,
        facility: FacilityCode::parse("STORE").unwrap(),
        operator: None,
        vehicle: None,
        next_facility: None,
        exception_code: None,
        signer: (kind == EventKind::Delivered).then_some(Signer::Receiver),
    }
}

#[test]
fn late_count_matches_late_delivery_risk() {
    let Some(path) = shared("data/dataco/DataCoSupplyChainDataset.csv") else { return };
    let mut reader = csv::Reader::from_path(path).unwrap();
    let headers = reader.headers().unwrap().clone();
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (real, scheduled, status, risk, ordered, item) = (
        column("Days for shipping (real)"),
        column("Days for shipment (scheduled)"),
        column("Delivery Status"),
        column("Late_delivery_risk"),
        column("order date (DateOrders)"),
        column("Order Item Id"),
    );

    let reference = Facilities::default();
    let limits = TimeLimits::default();
    let ctx = Context { reference: &reference, time_limits: &limits };
    let now = Utc.with_ymd_and_hms(2019, 1, 1, 0, 0, 0).unwrap();
    let utc = FixedOffset::east_opt(0).unwrap();
    let mut cube = Cube::new();
    let (mut n_lines, mut n_risk, mut n_over, mut n_cancelled) = (0u64, 0u64, 0u64, 0u64);
    for row in reader.records() {
        let row = row.unwrap();
        n_lines += 1;
        let real_days: i64 = row[real].parse().unwrap();
        let scheduled_days: i64 = row[scheduled].parse().unwrap();
        let cancelled = &row[status] == "Shipping canceled";
        // Independently, from the raw text.
        n_risk += u64::from(&row[risk] == "1");
        n_over += u64::from(!cancelled && real_days > scheduled_days);
        n_cancelled += u64::from(cancelled);

        let parcel = WaybillNo::parse(&format!("DC{:010}", row[item].parse::<u64>().unwrap())).unwrap();
        let naive = NaiveDateTime::parse_from_str(&row[ordered], "%m/%d/%Y %H:%M").unwrap();
        let accepted = utc.from_local_datetime(&naive).single().unwrap();
        let finished = accepted + Duration::days(real_days);
        let last = if cancelled { EventKind::Returned } else { EventKind::Delivered };
        let events = [event(&parcel, 1, EventKind::Accept, accepted), event(&parcel, 2, last, finished)];
        let promised_by = accepted + Duration::days(scheduled_days);
        let summary = summarize_with_promise(None, &events, &[], Some(promised_by), &ctx, now).unwrap();
        cube.apply(None, Some(&summary));
    }

    let total = cube.total(&Filter::default());
    // Every line is its own parcel: order item ids are unique.
    assert_eq!(total.parcels, n_lines);
    assert_eq!(total.returned, n_cancelled);
    assert_eq!(total.judged, n_lines - n_cancelled);
    assert_eq!(total.delayed, n_risk);
    assert_eq!(total.delayed, n_over);
    // The figures SOURCE.md records for the shared slice.
    assert_eq!((n_lines, n_risk, n_cancelled), (4_800, 2_697, 202));
    let indicators = Indicators::from(&total);
    let per_thousand = indicators.delay_rate.value.unwrap();
    assert!((per_thousand - 2_697.0 / 4_598.0 * 1_000.0).abs() < 1e-9, "{per_thousand}");
}
