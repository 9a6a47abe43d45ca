//! Golden cases: `test_data/<case>/events.jsonl` → `kpi.json`, with the key figures also computed by hand in
//! `expected.json`.
//!
//! `events.jsonl` holds records in the native wire format (`facility`, `waybill`, `event`) and three kinds of lines
//! only this harness reads: `{"type":"clock","now":...}` (first, the `now` of every summary), `{"type":"complaint",
//! ...}` and `{"type":"promise","carrier","waybill_no","promised_by"}`. A `rules.toml` beside it replaces the
//! default time-limit rules.
//!
//! The harness feeds the records one at a time, re-summarizing the parcel each one touches and applying the old and
//! new summary to a cube, as a store does; that cube must equal the one built from the final summaries.
//! `kpi.json` is written when missing, and rewritten under `UPDATE_EXPECT=1`. `expected.json` is written by hand:
//! `{"<indicator>": [numerator, denominator], "p90": [lower, upper], "mean_delivery_hours": h, "days": {...}}`.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, FixedOffset, Utc};
use kuaidi_model::{
    CarrierCode, Complaint, ComplaintCategory, ComplaintId, Record, ScanEvent, Verdict, Waybill, WaybillNo,
};
use kuaidi_rules::{
    summarize_with_promise, Context, Cube, Dimension, Filter, Indicators, ParcelSummary, Report, TimeLimits,
};
use serde_json::{json, Value};

use crate::support::Facilities;

type Key = (CarrierCode, WaybillNo);

#[derive(Default)]
struct Parcel {
    waybill: Option<Waybill>,
    events: Vec<ScanEvent>,
    complaints: Vec<Complaint>,
    promised_by: Option<DateTime<FixedOffset>>,
}

fn text<'v>(value: &'v Value, field: &str) -> &'v str {
    value[field].as_str().unwrap_or_else(|| panic!("`{field}` missing in {value}"))
}

fn time(value: &Value, field: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(text(value, field)).unwrap()
}

fn key(value: &Value) -> Key {
    (CarrierCode::parse(text(value, "carrier")).unwrap(), WaybillNo::parse(text(value, "waybill_no")).unwrap())
}

fn check_case(name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("test_data").join(name);
    let input = std::fs::read_to_string(dir.join("events.jsonl")).unwrap();
    let limits = match std::fs::read_to_string(dir.join("rules.toml")) {
        Ok(text) => TimeLimits::from_toml(&text).unwrap(),
        Err(_) => TimeLimits::default(),
    };
    let mut facilities = Facilities::default();
    let mut parcels: BTreeMap<Key, Parcel> = BTreeMap::new();
    let mut now: Option<DateTime<Utc>> = None;
    let mut incremental = Cube::new();
    let mut current: BTreeMap<Key, ParcelSummary> = BTreeMap::new();

    for (line_idx, line) in input.lines().enumerate().filter(|(_, line)| !line.trim().is_empty()) {
        let value: Value = serde_json::from_str(line).unwrap_or_else(|err| panic!("{name}:{}: {err}", line_idx + 1));
        let touched = match text(&value, "type") {
            "clock" => {
                now = Some(time(&value, "now").with_timezone(&Utc));
                continue;
            }
            "complaint" => {
                let complaint = Complaint {
                    id: ComplaintId::parse(text(&value, "id")).unwrap(),
                    carrier: key(&value).0,
                    waybill_no: key(&value).1,
                    filed_at: time(&value, "filed_at"),
                    category: ComplaintCategory::parse(text(&value, "category")).unwrap(),
                    description: text(&value, "description").to_owned(),
                    verdict: Verdict::parse(text(&value, "verdict")).unwrap(),
                };
                // A re-sent complaint replaces the earlier version (its verdict has changed).
                let parcel = parcels.entry(key(&value)).or_default();
                parcel.complaints.retain(|c| c.id != complaint.id);
                parcel.complaints.push(complaint);
                key(&value)
            }
            "promise" => {
                parcels.entry(key(&value)).or_default().promised_by = Some(time(&value, "promised_by"));
                key(&value)
            }
            _ => match kuaidi_formats::decode_value(&value)
                .unwrap_or_else(|err| panic!("{name}:{}: {err}", line_idx + 1))
            {
                Record::Facility(facility) => {
                    facilities.0.insert(facility.code.clone(), facility);
                    continue;
                }
                Record::Waybill(waybill) => {
                    let key = (waybill.carrier.clone(), waybill.waybill_no.clone());
                    parcels.entry(key.clone()).or_default().waybill = Some(*waybill);
                    key
                }
                Record::Event(event) => {
                    let key = (event.carrier.clone(), event.waybill_no.clone());
                    parcels.entry(key.clone()).or_default().events.push(*event);
                    key
                }
                Record::Complaint(complaint) => {
                    let key = (complaint.carrier.clone(), complaint.waybill_no.clone());
                    let parcel = parcels.entry(key.clone()).or_default();
                    parcel.complaints.retain(|c| c.id != complaint.id);
                    parcel.complaints.push(*complaint);
                    key
                }
                Record::Carrier(_) => continue,
            },
        };
        let now = now.unwrap_or_else(|| panic!("{name}: the first line must be the clock"));
        let ctx = Context { reference: &facilities, time_limits: &limits };
        let parcel = &parcels[&touched];
        let new = summarize_with_promise(
            parcel.waybill.as_ref(),
            &parcel.events,
            &parcel.complaints,
            parcel.promised_by,
            &ctx,
            now,
        );
        incremental.apply(current.get(&touched), new.as_ref());
        match new {
            Some(summary) => current.insert(touched, summary),
            None => current.remove(&touched),
        };
    }

    let mut cube = Cube::new();
    for summary in current.values() {
        cube.apply(None, Some(summary));
    }
    assert_eq!(incremental, cube, "{name}: the incrementally kept cube differs from the one built at the end");

    let total = cube.total(&Filter::default());
    let indicators = Indicators::from(&total);
    let report = Report::new(&indicators, &limits);
    let by_day: Vec<Value> = cube
        .slice(&Filter::default(), &[Dimension::Day])
        .into_iter()
        .map(|(group, counters)| json!({"day": group.day.map(|d| d.to_string()), "parcels": counters.parcels}))
        .collect();
    let actual = json!({
        "parcels": current.values().collect::<Vec<_>>(),
        "by_day": by_day,
        "indicators": indicators,
        "report": report,
        "table": report.render_table().lines().collect::<Vec<_>>(),
    });

    check_by_hand(name, &dir, &report, &indicators, &by_day);

    let actual = serde_json::to_string_pretty(&actual).unwrap() + "\n";
    let path = dir.join("kpi.json");
    let expected = std::fs::read_to_string(&path).ok();
    if expected.is_none() || std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&path, &actual).unwrap();
    } else if expected.as_deref() != Some(actual.as_str()) {
        panic!("{name}: kpi.json differs; rerun with UPDATE_EXPECT=1 and review the diff\n{actual}");
    }
}

/// Compares the figures computed by hand in `expected.json` with the report.
fn check_by_hand(name: &str, dir: &Path, report: &Report, indicators: &Indicators, by_day: &[Value]) {
    let text = std::fs::read_to_string(dir.join("expected.json"))
        .unwrap_or_else(|err| panic!("{name}: expected.json is required ({err})"));
    let expected: BTreeMap<String, Value> = serde_json::from_str(&text).unwrap();
    assert!(!expected.is_empty(), "{name}: expected.json checks nothing");
    for (indicator, want) in &expected {
        match indicator.as_str() {
            "p90" => {
                let p90 = indicators.p90_delivery.unwrap_or_else(|| panic!("{name}: no p90"));
                assert_eq!(json!([p90.lower_hours, p90.upper_hours]), *want, "{name}: p90");
            }
            "mean_delivery_hours" => {
                let mean = indicators.mean_delivery_hours.unwrap_or_else(|| panic!("{name}: no mean"));
                assert!((mean - want.as_f64().unwrap()).abs() < 1e-9, "{name}: mean {mean} != {want}");
            }
            "days" => {
                let got: BTreeMap<String, u64> = by_day
                    .iter()
                    .map(|v| (v["day"].as_str().unwrap().to_owned(), v["parcels"].as_u64().unwrap()))
                    .collect();
                let want: BTreeMap<String, u64> = serde_json::from_value(want.clone()).unwrap();
                assert_eq!(got, want, "{name}: parcels by accept day");
            }
            "status" => {
                for (row, status) in want.as_object().unwrap() {
                    let got = report.rows.iter().find(|r| r.indicator == *row).unwrap();
                    assert_eq!(json!(got.status), *status, "{name}: status of {row}");
                }
            }
            _ => {
                let row = report
                    .rows
                    .iter()
                    .find(|row| row.indicator == *indicator)
                    .unwrap_or_else(|| panic!("{name}: no report row `{indicator}`"));
                assert_eq!(json!([row.rate.numerator, row.rate.denominator]), *want, "{name}: {indicator}");
            }
        }
    }
}

#[test]
fn delay_at_the_limit() {
    check_case("delay_at_limit");
}

#[test]
fn accepted_across_midnight() {
    check_case("across_midnight");
}

#[test]
fn lost_then_found() {
    check_case("lost_then_found");
}

#[test]
fn damage_and_complaints() {
    check_case("damage_and_complaints");
}

#[test]
fn classes_and_shares() {
    check_case("classes_and_shares");
}
