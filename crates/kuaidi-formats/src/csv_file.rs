//! CSV files of events or of waybills, with a header row naming the columns.
//!
//! An events file has the columns of the `event` record (`event_id`, `carrier`, `waybill_no`, `kind`, `time`,
//! `facility`, and optionally `operator`, `vehicle`, `next_facility`, `exception_code`, `signer`).
//! A waybills file flattens the nested objects with `_`: `sender_name`, `sender_phone`, `sender_division`,
//! `sender_address`, the same for `receiver_`, `real_name_id_type`, `real_name_id_number`, `real_name_verified`,
//! `contents_category`, `contents_description`, `contents_weight_grams`, `contents_declared_value_fen`.
//! Empty cells mean absent. Each row goes through the same decoder as JSON, so errors read the same.

use std::io::Read;

use serde_json::{Map, Value};

use crate::{decode_value, DecodeError, Line};

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

fn row_to_json(kind: CsvKind, headers: &csv::StringRecord, row: &csv::StringRecord) -> Value {
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
