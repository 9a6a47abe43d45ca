//! CSV files of events or of waybills, with a header row naming the columns.
//!
//! An events file has the columns of the `event` record (`event_id`, `carrier`, `waybill_no`, `kind`, `time`,
//! `facility`, and optionally `operator`, `vehicle`, `next_facility`, `exception_code`, `signer`).
//! A waybills file flattens the nested objects with `_`: `sender_name`, `sender_phone`, `sender_division`,
//! `sender_address`, the same for `receiver_`, `real_name_id_type`, `real_name_id_number`, `real_name_verified`,
//! `contents_category`, `contents_description`, `contents_weight_grams`, `contents_declared_value_fen`.
//! Empty cells mean absent. Each row goes through the same decoder as JSON, so errors read the same.

use std::io::{Read, Write};

use serde_json::{Map, Value};

use crate::{decode_value, wire, DecodeError, Line};

/// What a CSV file holds, decided from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvKind {
    /// One scan event per row.
    Events,
    /// One waybill per row.
    Waybills,
}

const NESTED: [&str; 4] = ["sender", "receiver", "real_name", "contents"];
const NUMERIC: [&str; 2] = ["weight_grams", "declared_value_fen"];
const BOOLEAN: [&str; 2] = ["electronic", "verified"];

/// Reads a CSV file, yielding each data row decoded; line numbers count the header as line 1.
pub fn read_csv<R: Read>(reader: R) -> Result<(CsvKind, impl Iterator<Item = Line>), DecodeError> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers =
        csv.headers().map_err(|err| DecodeError::Syntax(format!("the CSV header is unreadable: {err}")))?.clone();
    let kind = if headers.iter().any(|h| h == "event_id") {
        CsvKind::Events
    } else if headers.iter().any(|h| h == "sender_name") {
        CsvKind::Waybills
    } else {
        return Err(DecodeError::Syntax(
            "the CSV header names neither `event_id` (an events file) nor `sender_name` (a waybills file)".into(),
        ));
    };
    let rows = csv.into_records().map(move |row| {
        let number = row.as_ref().ok().and_then(|r| r.position()).map_or(0, |p| p.line());
        match row {
            Err(err) => Line { number, record: Err(DecodeError::Syntax(err.to_string())), text: String::new() },
            Ok(row) => {
                let text = row.iter().collect::<Vec<_>>().join(",");
                if row.len() != headers.len() {
                    let message = format!("the row has {} cells but the header has {}", row.len(), headers.len());
                    return Line { number, record: Err(DecodeError::Syntax(message)), text };
                }
                let value = row_to_json(kind, &headers, &row);
                Line { number, record: decode_value(&value), text }
            }
        }
    });
    Ok((kind, rows))
}

fn cell_value(name: &str, cell: &str) -> Value {
    if NUMERIC.contains(&name) {
        if let Ok(number) = cell.parse::<u64>() {
            return Value::from(number);
        }
    }
    if BOOLEAN.contains(&name) {
        match cell {
            "true" | "1" => return Value::Bool(true),
            "false" | "0" => return Value::Bool(false),
            _ => {}
        }
    }
    if matches!(name, "longitude" | "latitude") {
        if let Ok(number) = cell.parse::<f64>() {
            return Value::from(number);
        }
    }
    Value::String(cell.to_owned())
}

pub(crate) fn row_to_json(kind: CsvKind, headers: &csv::StringRecord, row: &csv::StringRecord) -> Value {
    let mut map = Map::new();
    map.insert("type".into(), Value::from(if kind == CsvKind::Events { "event" } else { "waybill" }));
    for (header, cell) in headers.iter().zip(row.iter()) {
        if cell.is_empty() {
            continue;
        }
        let nested = NESTED.iter().find_map(|parent| {
            header.strip_prefix(parent).and_then(|rest| rest.strip_prefix('_')).map(|child| (*parent, child))
        });
        match nested {
            Some((parent, child)) => {
                let entry = map.entry(parent).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(sub) = entry {
                    sub.insert(child.to_owned(), cell_value(child, cell));
                }
            }
            None => {
                map.insert(header.to_owned(), cell_value(header, cell));
            }
        }
    }
    Value::Object(map)
}

/// The columns of an events file, in the order [`CsvWriter`] writes them.
pub const EVENT_COLUMNS: [&str; 11] = [
    "event_id",
    "carrier",
    "waybill_no",
    "kind",
    "time",
    "facility",
    "operator",
    "vehicle",
    "next_facility",
    "exception_code",
    "signer",
];

/// The columns of a waybills file, in the order [`CsvWriter`] writes them.
pub const WAYBILL_COLUMNS: [&str; 20] = [
    "carrier",
    "waybill_no",
    "product",
    "electronic",
    "created_at",
    "sender_name",
    "sender_phone",
    "sender_division",
    "sender_address",
    "receiver_name",
    "receiver_phone",
    "receiver_division",
    "receiver_address",
    "real_name_id_type",
    "real_name_id_number",
    "real_name_verified",
    "contents_category",
    "contents_description",
    "contents_weight_grams",
    "contents_declared_value_fen",
];

/// Writes an events or waybills CSV file that [`read_csv`] reads back: a header row, then one row per record, with
/// nested fields flattened by `_` and absent values as empty cells.
pub struct CsvWriter<W: Write> {
    csv: csv::Writer<W>,
    columns: &'static [&'static str],
}

impl<W: Write> CsvWriter<W> {
    /// A writer of `kind` rows onto `out`; the header is written at once.
    pub fn new(out: W, kind: CsvKind) -> Result<CsvWriter<W>, csv::Error> {
        let columns: &'static [&'static str] = match kind {
            CsvKind::Events => &EVENT_COLUMNS,
            CsvKind::Waybills => &WAYBILL_COLUMNS,
        };
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(columns)?;
        Ok(CsvWriter { csv, columns })
    }

    /// Writes one event.
    pub fn write_event(&mut self, event: &wire::EventRecord) -> Result<(), csv::Error> {
        self.write_value(&serde_json::to_value(event).unwrap_or_default())
    }

    /// Writes one waybill (masked or not, as it was encoded).
    pub fn write_waybill(&mut self, waybill: &wire::WaybillRecord) -> Result<(), csv::Error> {
        self.write_value(&serde_json::to_value(waybill).unwrap_or_default())
    }

    fn write_value(&mut self, value: &Value) -> Result<(), csv::Error> {
        let cell = |column: &str| -> String {
            let nested = NESTED.iter().find_map(|parent| {
                column.strip_prefix(parent).and_then(|rest| rest.strip_prefix('_')).map(|child| (*parent, child))
            });
            let found = match nested {
                Some((parent, child)) => value.get(parent).and_then(|sub| sub.get(child)),
                None => value.get(column),
            };
            match found {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(text)) => text.clone(),
                Some(other) => other.to_string(),
            }
        };
        let row: Vec<String> = self.columns.iter().map(|column| cell(column)).collect();
        self.csv.write_record(&row)
    }

    /// Flushes and hands back the output.
    pub fn finish(self) -> Result<W, csv::Error> {
        self.csv.into_inner().map_err(|err| csv::Error::from(err.into_error()))
    }
}

#[cfg(test)]
mod tests {
    use kuaidi_model::Record;

    use super::*;
    use crate::{decode_record, encode_event, encode_waybill, encode_waybill_masked};

    const WAYBILL: &str = r#"{"type":"waybill","carrier":"yto","waybill_no":"YT1234567890","product":"standard","created_at":"2026-11-11T08:50:00+08:00","sender":{"name":"张三","phone":"13800131234","division":"320505","address":"科技城路 1 号, 3 幢"},"receiver":{"name":"李四","phone":"13900135678","division":"310101","address":"南京东路 \"1\" 号"},"real_name":{"id_type":"resident_id","id_number":"11010519491231002X","verified":true},"contents":{"category":"服装","description":"T恤","weight_grams":500,"declared_value_fen":9900}}"#;
    const EVENTS: [&str; 2] = [
        r#"{"type":"event","event_id":"e1","carrier":"yto","waybill_no":"YT1234567890","kind":"depart","time":"2026-11-11T09:00:00+08:00","facility":"YTO-1","next_facility":"YTO-2","vehicle":"苏E12345"}"#,
        r#"{"type":"event","event_id":"e2","carrier":"yto","waybill_no":"YT1234567890","kind":"delivered","time":"2026-11-12T09:00:00-05:00","facility":"YTO-2","signer":"self"}"#,
    ];

    #[test]
    fn written_files_read_back_as_the_same_records() {
        let mut writer = CsvWriter::new(Vec::new(), CsvKind::Events).unwrap();
        let events: Vec<Record> = EVENTS.iter().map(|text| decode_record(text).unwrap()).collect();
        for record in &events {
            let Record::Event(event) = record else { unreachable!() };
            writer.write_event(&encode_event(event)).unwrap();
        }
        let bytes = writer.finish().unwrap();
        let (kind, rows) = read_csv(bytes.as_slice()).unwrap();
        assert_eq!(kind, CsvKind::Events);
        assert_eq!(rows.map(|line| line.record.unwrap()).collect::<Vec<_>>(), events);

        let waybill = decode_record(WAYBILL).unwrap();
        let Record::Waybill(model) = &waybill else { unreachable!() };
        let mut writer = CsvWriter::new(Vec::new(), CsvKind::Waybills).unwrap();
        writer.write_waybill(&encode_waybill(model)).unwrap();
        let bytes = writer.finish().unwrap();
        let (kind, rows) = read_csv(bytes.as_slice()).unwrap();
        assert_eq!(kind, CsvKind::Waybills);
        assert_eq!(rows.map(|line| line.record.unwrap()).collect::<Vec<_>>(), vec![waybill]);
    }

    #[test]
    fn masked_waybills_show_no_personal_data() {
        let Record::Waybill(model) = decode_record(WAYBILL).unwrap() else { unreachable!() };
        let mut writer = CsvWriter::new(Vec::new(), CsvKind::Waybills).unwrap();
        writer.write_waybill(&encode_waybill_masked(&model)).unwrap();
        let text = String::from_utf8(writer.finish().unwrap()).unwrap();
        let row = text.lines().nth(1).unwrap();
        for secret in ["张三", "13800131234", "科技城", "李四", "南京东路", "11010519491231002X"] {
            assert!(!row.contains(secret), "{secret} in {row}");
        }
        assert!(row.contains("张*,138****1234,320505,江苏省苏州市虎丘区"), "{row}");
        assert!(row.contains("1****************X"), "{row}");
    }
}
