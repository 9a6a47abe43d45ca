//! Summaries written as Parquet, NDJSON and CSV read back as the same rows; bad files are refused naming the column.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::*;

fn time(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
}

/// A delivered parcel with every value present, and an open one with every optional value absent.
fn rows() -> Vec<SummaryRow> {
    let accepted = time("2026-11-11T09:00:00.250+08:00");
    let delivered = SummaryRow {
        carrier: "yto".into(),
        waybill_no: "YT1234567890".into(),
        outcome: "delivered".into(),
        open: false,
        accepted_at: Some(accepted),
        delivered_at: Some(accepted + Duration::hours(20)),
        last_scan_at: Some(accepted + Duration::hours(20)),
        origin_city: Some("320500".into()),
        destination_city: Some("310100".into()),
        time_limit: Some("delta_key".into()),
        deadline: Some(accepted + Duration::hours(12)),
        delivery_seconds: Some(72_000),
        delayed: Some(true),
        lost_by_silence: false,
        damaged: false,
        locker_delivery: true,
        electronic_waybill: Some(true),
        transit_hops: 2,
        route: "YTO-320505-01 > YTO-HUB-SH > LOCKER-SH-1".into(),
        complaints: 1,
        valid_complaints: 1,
        outlet: Some("YTO-320505-01".into()),
        real_name: Some("passed".into()),
        inspection: Some("failed".into()),
        security_scan: Some("pending".into()),
        alerts: "inspection_missing stuck:arrive".into(),
        check_at: None,
    };
    let open = SummaryRow {
        carrier: "sf".into(),
        waybill_no: "SF0000000001".into(),
        outcome: "in_transit".into(),
        open: true,
        check_at: Some(accepted + Duration::days(7)),
        ..SummaryRow::default()
    };
    vec![delivered, open]
}

#[test]
fn parquet_reads_back_the_same_rows() {
    let rows = rows();
    // A row group of one row, so the reader meets several batches.
    let mut writer = SummariesParquetWriter::with_row_group_rows(tempfile::tempfile().unwrap(), 1).unwrap();
    for row in &rows {
        writer.write(row).unwrap();
    }
    let file = writer.finish().unwrap();
    assert_eq!(read_summaries_parquet(file).unwrap(), rows);
}

#[test]
fn ndjson_reads_back_the_same_rows() {
    let rows = rows();
    let mut out = Vec::new();
    for row in &rows {
        write_summary_line(&mut out, row).unwrap();
    }
    let text = String::from_utf8(out).unwrap();
    let first: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["accepted_at"], json!("2026-11-11T01:00:00.250Z"));
    assert_eq!(first["delivery_seconds"], json!(72_000));
    let again: Vec<SummaryRow> =
        text.lines().map(|line| SummaryRow::from_json(&serde_json::from_str(line).unwrap()).unwrap()).collect();
    assert_eq!(again, rows);
}

#[test]
fn csv_reads_back_the_same_rows() {
    let rows = rows();
    let mut writer = SummaryCsvWriter::new(Vec::new()).unwrap();
    for row in &rows {
        writer.write(row).unwrap();
    }
    let text = String::from_utf8(writer.finish().unwrap()).unwrap();
    let header = text.lines().next().unwrap();
    assert_eq!(header, SUMMARY_COLUMNS.iter().map(|(name, _, _)| *name).collect::<Vec<_>>().join(","));
    assert_eq!(read_summaries_csv(text.as_bytes()).unwrap(), rows);
}

fn field_of(err: DecodeError) -> String {
    match err {
        DecodeError::Field(err) => err.field().to_owned(),
        other => panic!("expected a field error, got {other}"),
    }
}

#[test]
fn bad_rows_are_refused_naming_the_column() {
    let good = rows()[0].to_json();
    let mut wrong_type = good.clone();
    wrong_type["transit_hops"] = json!("two");
    assert_eq!(field_of(SummaryRow::from_json(&wrong_type).unwrap_err()), "transit_hops");
    let mut missing = good.clone();
    missing.as_object_mut().unwrap().remove("outcome");
    assert_eq!(field_of(SummaryRow::from_json(&missing).unwrap_err()), "outcome");
    let mut null_required = good.clone();
    null_required["open"] = json!(null);
    assert_eq!(field_of(SummaryRow::from_json(&null_required).unwrap_err()), "open");
    let mut unknown = good.clone();
    unknown["receiver_phone"] = json!("13800138000");
    assert_eq!(field_of(SummaryRow::from_json(&unknown).unwrap_err()), "receiver_phone");
    let mut bad_time = good;
    bad_time["deadline"] = json!("tomorrow");
    assert_eq!(field_of(SummaryRow::from_json(&bad_time).unwrap_err()), "deadline");

    let mut writer = SummaryCsvWriter::new(Vec::new()).unwrap();
    writer.write(&rows()[0]).unwrap();
    let text = String::from_utf8(writer.finish().unwrap()).unwrap();
    let bad_cell = text.replace(",72000,", ",soon,");
    assert_eq!(field_of(read_summaries_csv(bad_cell.as_bytes()).unwrap_err()), "delivery_seconds");
    let other_header = text.replacen("carrier,", "carrier_code,", 1);
    assert!(matches!(read_summaries_csv(other_header.as_bytes()), Err(DecodeError::Syntax(_))));
}

#[test]
fn a_parquet_file_of_other_columns_is_refused() {
    let writer = crate::parquet::EventsParquetWriter::new(tempfile::tempfile().unwrap()).unwrap();
    assert!(matches!(
        read_summaries_parquet(writer.finish().unwrap()),
        Err(ParquetError::Column { column: "outcome", .. })
    ));
}
