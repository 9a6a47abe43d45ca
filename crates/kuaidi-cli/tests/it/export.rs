//! `kuaidi export`: a Parquet export reads back as the same rows; NDJSON and CSV exports read back through import's
//! readers; parcel summaries are exported in every format, the same rows in each; personal data is masked unless
//! revealed.

use std::fs::File;
use std::path::Path;

use kuaidi_formats::parquet::{read_events_parquet, read_waybills_parquet};
use kuaidi_formats::summary::{read_summaries_csv, read_summaries_parquet, SummaryRow};
use kuaidi_model::{Record, ScanEvent, Waybill};

use crate::support::{kuaidi, ndjson_lines, parcels, stderr, temp_dir};

/// A data directory holding the fixtures' reference data and `n` parcels, and those parcels' events and waybills.
fn loaded(n: usize) -> (tempfile::TempDir, std::path::PathBuf, Vec<ScanEvent>, Vec<Waybill>) {
    let (dir, data) = temp_dir();
    let records = parcels(n);
    let file = dir.path().join("records.ndjson");
    std::fs::write(&file, ndjson_lines(&records).join("\n")).unwrap();
    let import = kuaidi(&data, &["import", file.to_str().unwrap()]);
    assert!(import.status.success(), "{}", stderr(&import));
    let mut events = Vec::new();
    let mut waybills = Vec::new();
    for record in records {
        match record {
            Record::Event(event) => events.push(*event),
            Record::Waybill(waybill) => waybills.push(*waybill),
            _ => {}
        }
    }
    events.sort_by(|a, b| (&a.waybill_no, &a.carrier, &a.event_id).cmp(&(&b.waybill_no, &b.carrier, &b.event_id)));
    waybills.sort_by(|a, b| (&a.waybill_no, &a.carrier).cmp(&(&b.waybill_no, &b.carrier)));
    (dir, data, events, waybills)
}

fn export(data: &Path, out: &Path, format: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["--format", "json", "export", "--export-format", format, "--out", out.to_str().unwrap()];
    args.extend_from_slice(extra);
    let output = kuaidi(data, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn a_parquet_export_reads_back_as_the_same_rows() {
    // More parcels than one store page (10,000 records) holds, so paging is exercised: 1,500 x 7 events.
    let (dir, data, events, waybills) = loaded(1500);
    let out = dir.path().join("revealed");
    let report = export(&data, &out, "parquet", &["--reveal-personal-data"]);
    assert_eq!((report["n_events"].as_u64(), report["n_waybills"].as_u64()), (Some(10_500), Some(1500)));
    assert_eq!(report["masked"], false);
    assert_eq!(read_events_parquet(File::open(out.join("events.parquet")).unwrap()).unwrap(), events);
    assert_eq!(read_waybills_parquet(File::open(out.join("waybills.parquet")).unwrap()).unwrap(), waybills);

    // By default personal data is masked: the events are the same, the waybills no longer parse as real ones.
    let masked = dir.path().join("masked");
    let report = export(&data, &masked, "parquet", &[]);
    assert_eq!(report["masked"], true);
    assert_eq!(read_events_parquet(File::open(masked.join("events.parquet")).unwrap()).unwrap(), events);
    let err = read_waybills_parquet(File::open(masked.join("waybills.parquet")).unwrap()).unwrap_err();
    assert!(err.to_string().contains("138****1234"), "{err}");
}

#[test]
fn parcel_summaries_are_exported_the_same_in_every_format() {
    // Paging through states is covered by the store contract (`parcel_states_page_in_key_order`).
    let (dir, data, _, waybills) = loaded(1200);
    let out = dir.path().join("out");
    let report = export(&data, &out, "parquet", &[]);
    assert_eq!(report["n_summaries"].as_u64(), Some(1200), "{report}");
    let rows = read_summaries_parquet(File::open(out.join("summaries.parquet")).unwrap()).unwrap();
    // One row per parcel, in key order (waybill number, then carrier).
    let keys: Vec<(String, String)> = rows.iter().map(|r| (r.waybill_no.clone(), r.carrier.clone())).collect();
    let expected: Vec<(String, String)> =
        waybills.iter().map(|w| (w.waybill_no.as_str().to_owned(), w.carrier.as_str().to_owned())).collect();
    assert_eq!(keys, expected);
    // The fixtures' chains are complete: accepted, inspected, scanned, delivered, passing the outlet and the centre.
    for row in &rows {
        assert_eq!((row.outcome.as_str(), row.open), ("delivered", false), "{row:?}");
        assert!(row.accepted_at.is_some() && row.delivered_at >= row.accepted_at, "{row:?}");
        assert!(row.route.contains(" > ") && row.outlet.is_some(), "{row:?}");
        assert_eq!(row.inspection.as_deref(), Some("passed"), "{row:?}");
    }
    export(&data, &out, "ndjson", &[]);
    let text = std::fs::read_to_string(out.join("summaries.ndjson")).unwrap();
    let from_ndjson: Vec<SummaryRow> =
        text.lines().map(|line| SummaryRow::from_json(&serde_json::from_str(line).unwrap()).unwrap()).collect();
    assert_eq!(from_ndjson, rows);
    export(&data, &out, "csv", &["--reveal-personal-data"]);
    let csv = std::fs::read_to_string(out.join("summaries.csv")).unwrap();
    assert_eq!(read_summaries_csv(csv.as_bytes()).unwrap(), rows);
    // A summary carries no personal data, even when the export reveals it.
    for secret in ["张三", "13800131234", "科技城路", "李四", "南京东路", "11010519491231002X"] {
        assert!(!csv.contains(secret) && !text.contains(secret), "{secret} in a summary");
    }
}

#[test]
fn ndjson_and_csv_exports_are_masked_and_read_back() {
    let (dir, data, events, _) = loaded(3);
    let out = dir.path().join("out");
    export(&data, &out, "ndjson", &[]);
    let text = std::fs::read_to_string(out.join("waybills.ndjson")).unwrap();
    assert_eq!(text.lines().count(), 3);
    for secret in ["张三", "13800131234", "科技城路", "李四", "南京东路", "11010519491231002X"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert!(text.contains("\"张*\"") && text.contains("138****1234") && text.contains("江苏省苏州市虎丘区"), "{text}");
    let lines = kuaidi_formats::read_ndjson(std::io::BufReader::new(File::open(out.join("events.ndjson")).unwrap()));
    let read: Vec<Record> = lines.map(|line| line.unwrap().record.unwrap()).collect();
    assert_eq!(read, events.iter().map(|e| Record::Event(Box::new(e.clone()))).collect::<Vec<_>>());

    export(&data, &out, "csv", &[]);
    let (_, rows) = kuaidi_formats::read_csv(File::open(out.join("events.csv")).unwrap()).unwrap();
    let read: Vec<Record> = rows.map(|line| line.record.unwrap()).collect();
    assert_eq!(read, events.iter().map(|e| Record::Event(Box::new(e.clone()))).collect::<Vec<_>>());
    let text = std::fs::read_to_string(out.join("waybills.csv")).unwrap();
    assert!(!text.contains("13800131234") && text.contains("138****1234"), "{text}");

    // A revealed CSV export imports into a fresh store unchanged: the same waybills, all accepted.
    export(&data, &out, "csv", &["--reveal-personal-data"]);
    let (_, fresh) = temp_dir();
    let reference = dir.path().join("reference.ndjson");
    std::fs::write(&reference, ndjson_lines(&kuaidi_store::testing::fixtures::reference()).join("\n")).unwrap();
    assert!(kuaidi(&fresh, &["import", reference.to_str().unwrap()]).status.success());
    let import = kuaidi(&fresh, &["--format", "json", "import", out.join("waybills.csv").to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&import.stdout).unwrap();
    assert_eq!(report["summary"]["accepted"], 3, "{report}");
}

#[test]
fn an_unwritable_directory_is_named() {
    let (dir, data, _, _) = loaded(1);
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let output = kuaidi(&data, &["export", "--export-format", "ndjson", "--out", blocker.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains(blocker.to_str().unwrap()), "{}", stderr(&output));
    let output = kuaidi(&data, &["export", "--export-format", "xlsx", "--out", "x"]);
    assert_eq!(output.status.code(), Some(2));
}
