//! Parquet round-trips: what is written reads back as the same model values, offsets, nulls and row groups included.

use std::fs::File;

use ::parquet::file::reader::{FileReader, SerializedFileReader};

use super::*;
use crate::{encode_event, encode_waybill, parse_time};

fn time(text: &str) -> DateTime<FixedOffset> {
    parse_time(text).unwrap()
}

/// Event `idx`: every third one has all its optional fields, every fifth is in New York (-05:00).
fn event(idx: usize) -> ScanEvent {
    let full = idx.is_multiple_of(3);
    let time =
        if idx.is_multiple_of(5) { time("2026-11-10T20:00:00.125-05:00") } else { time("2026-11-11T09:00:00+08:00") };
    ScanEvent {
        event_id: EventId::parse(&format!("YT1234567890-{idx}")).unwrap(),
        carrier: CarrierCode::parse("yto").unwrap(),
        waybill_no: WaybillNo::parse("YT1234567890").unwrap(),
        kind: if full { EventKind::Delivered } else { EventKind::Depart },
        time: time + chrono::Duration::seconds(idx as i64),
        facility: FacilityCode::parse("YTO-SZ-01").unwrap(),
        operator: full.then(|| "C001".into()),
        vehicle: full.then(|| "沪A12345".into()),
        next_facility: full.then(|| FacilityCode::parse("YTO-SZ-SC").unwrap()),
        exception_code: full.then(|| "E01".into()),
        signer: full.then_some(Signer::Locker),
    }
}

fn party(name: &str, phone: &str, division: &str) -> Party {
    Party {
        name: name.to_owned(),
        phone: Phone::parse(phone).unwrap(),
        address: Address { division: AdminCode::parse(division).unwrap(), detail: "科技城路 1 号".to_owned() },
    }
}

/// Waybill `idx`: odd ones have no real-name record, every fourth was created at -05:00.
fn waybill(idx: usize) -> Waybill {
    let created_at = if idx.is_multiple_of(4) { "2026-11-10T19:50:00-05:00" } else { "2026-11-11T08:50:00+08:00" };
    Waybill {
        carrier: CarrierCode::parse("zto").unwrap(),
        waybill_no: WaybillNo::parse(&format!("ZT{idx:010}")).unwrap(),
        product: "standard".to_owned(),
        electronic: !idx.is_multiple_of(7),
        created_at: time(created_at),
        sender: party("张三", "13800131234", "320505"),
        receiver: party("李四", "13900135678", "310101"),
        real_name: idx.is_multiple_of(2).then(|| RealName {
            id_type: IdType::parse("resident_id").unwrap(),
            id_number: "11010519491231002X".to_owned(),
            verified: idx.is_multiple_of(4),
        }),
        contents: Contents {
            category: "服装".to_owned(),
            description: "T恤".to_owned(),
            weight_grams: 500 + idx as u32,
            declared_value_fen: 9900 * idx as u64,
        },
    }
}

/// The wire JSON of events: `ScanEvent`'s equality compares instants only, the wire text also compares offsets.
fn wire_events(events: &[ScanEvent]) -> Vec<serde_json::Value> {
    events.iter().map(|event| serde_json::to_value(encode_event(event)).unwrap()).collect()
}

fn wire_waybills(waybills: &[Waybill]) -> Vec<serde_json::Value> {
    waybills.iter().map(|waybill| serde_json::to_value(encode_waybill(waybill)).unwrap()).collect()
}

fn row_groups(file: &File) -> Vec<i64> {
    let reader = SerializedFileReader::new(file.try_clone().unwrap()).unwrap();
    reader.metadata().row_groups().iter().map(|group| group.num_rows()).collect()
}

/// Writes `n` events in row groups of `row_group_rows`, checks they read back the same, and returns the row groups.
fn check_events(n: usize, row_group_rows: usize) -> Vec<i64> {
    let events: Vec<ScanEvent> = (0..n).map(event).collect();
    let mut writer = EventsParquetWriter::with_row_group_rows(tempfile::tempfile().unwrap(), row_group_rows).unwrap();
    for event in &events {
        writer.write(event).unwrap();
    }
    let file = writer.finish().unwrap();
    let back = read_events_parquet(file.try_clone().unwrap()).unwrap();
    assert_eq!(back, events);
    assert_eq!(wire_events(&back), wire_events(&events));
    row_groups(&file)
}

#[test]
fn events_round_trip_with_nulls_and_offsets() {
    assert_eq!(check_events(10, ROW_GROUP_ROWS), vec![10]);
    let event = &read_events_parquet({
        let mut writer = EventsParquetWriter::new(tempfile::tempfile().unwrap()).unwrap();
        writer.write(&event(5)).unwrap();
        writer.finish().unwrap()
    })
    .unwrap()[0];
    assert_eq!(event.time.to_rfc3339(), "2026-11-10T20:00:05.125-05:00");
}

#[test]
fn events_are_split_into_row_groups() {
    assert_eq!(check_events(1_050, 100), [vec![100; 10], vec![50]].concat());
    assert_eq!(check_events(200, 100), vec![100, 100]);
    assert_eq!(check_events(0, 100), Vec::<i64>::new());
}

#[test]
fn events_past_the_default_row_group_size_make_two_groups() {
    assert_eq!(check_events(ROW_GROUP_ROWS + 1, ROW_GROUP_ROWS), vec![ROW_GROUP_ROWS as i64, 1]);
}

#[test]
fn waybills_round_trip_with_nulls_offsets_and_row_groups() {
    let waybills: Vec<Waybill> = (0..250).map(waybill).collect();
    let mut writer = WaybillsParquetWriter::with_row_group_rows(tempfile::tempfile().unwrap(), 100).unwrap();
    for waybill in &waybills {
        writer.write(waybill).unwrap();
    }
    let file = writer.finish().unwrap();
    let back = read_waybills_parquet(file.try_clone().unwrap()).unwrap();
    assert_eq!(back, waybills);
    assert_eq!(wire_waybills(&back), wire_waybills(&waybills));
    assert_eq!(back[0].created_at.to_rfc3339(), "2026-11-10T19:50:00-05:00");
    assert_eq!(row_groups(&file), vec![100, 100, 50]);
}

#[test]
fn a_declared_value_past_i64_is_refused_and_the_rest_still_written() {
    let mut huge = waybill(1);
    huge.contents.declared_value_fen = u64::MAX;
    let mut writer = WaybillsParquetWriter::new(tempfile::tempfile().unwrap()).unwrap();
    writer.write(&waybill(0)).unwrap();
    let err = writer.write(&huge).unwrap_err();
    assert!(matches!(err, ParquetError::OutOfRange { column: "declared_value_fen", .. }), "{err}");
    writer.write(&waybill(2)).unwrap();
    let back = read_waybills_parquet(writer.finish().unwrap()).unwrap();
    assert_eq!(back, vec![waybill(0), waybill(2)]);
}

#[test]
fn reading_a_file_of_the_other_kind_names_the_missing_column() {
    let mut writer = WaybillsParquetWriter::new(tempfile::tempfile().unwrap()).unwrap();
    writer.write(&waybill(0)).unwrap();
    let err = read_events_parquet(writer.finish().unwrap()).unwrap_err();
    assert_eq!(err.to_string(), "the parquet file has no column `event_id` of type utf8");
}

#[test]
fn a_row_the_model_rejects_names_its_row_and_field() {
    // A carrier code the model refuses, written through Arrow directly since the writers only take model values.
    let schema = events_schema();
    let mut columns = EventColumns::with_capacity(2);
    columns.append(&event(1)).unwrap();
    columns.append(&event(2)).unwrap();
    let mut arrays = columns.take();
    let carriers: ArrayRef = Arc::new(StringArray::from(vec!["yto", "Not A Carrier"]));
    arrays[1] = carriers;
    let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
    let mut writer = ArrowWriter::try_new(tempfile::tempfile().unwrap(), schema, None).unwrap();
    writer.write(&batch).unwrap();
    let err = read_events_parquet(writer.into_inner().unwrap()).unwrap_err();
    match err {
        ParquetError::Row { row: 1, source } => assert_eq!(source.field(), "carrier", "{source}"),
        other => panic!("expected a row error, got {other}"),
    }
}

#[test]
fn masked_waybills_keep_no_personal_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("waybills.parquet");
    let mut writer = MaskedWaybillsParquetWriter::new(File::create(&path).unwrap()).unwrap();
    for idx in 0..3 {
        writer.write(&waybill(idx)).unwrap();
    }
    writer.finish().unwrap();
    let mut rows: Vec<Vec<Option<String>>> = Vec::new();
    for batch in ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap().build().unwrap() {
        let batch = batch.unwrap();
        let names = ["sender_name", "sender_phone", "sender_address", "receiver_name", "real_name_id_number"];
        for row_idx in 0..batch.num_rows() {
            rows.push(
                names
                    .iter()
                    .map(|name| {
                        let array = batch.column_by_name(name).unwrap().as_any().downcast_ref::<StringArray>().unwrap();
                        array.is_valid(row_idx).then(|| array.value(row_idx).to_owned())
                    })
                    .collect(),
            );
        }
    }
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        rows[0],
        [some("张*"), some("138****1234"), some("江苏省苏州市虎丘区"), some("李*"), some("1****************X")]
    );
    assert_eq!(rows[1][4], None, "no real-name record");
    assert_eq!(rows.len(), 3);
    // The masked file is not a valid source of waybills: reading it as one fails on the first masked phone.
    let err = read_waybills_parquet(File::open(&path).unwrap()).unwrap_err();
    assert!(err.to_string().contains("138****1234"), "{err}");
}
