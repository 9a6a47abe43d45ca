//! Parcel summaries as flat files: one row per parcel with the columns [`SUMMARY_COLUMNS`], written as Parquet,
//! NDJSON or CSV for analysts' tools, and read back.
//!
//! A row is what `kuaidi-rules` derived for the parcel (outcome, times, cities, time limit, delay, complaints) plus
//! what the store keeps beside it (the safety checks' state, the active alert keys, the next moment the parcel can
//! change with time alone). The caller fills a [`SummaryRow`] from those; this crate knows only the flat row, so it
//! stays independent of the rules and the store. A summary holds no personal data: no names, phones, addresses, ID
//! numbers or complaint words, and no courier.
//!
//! Times are UTC instants: in Parquet a millisecond timestamp with the `UTC` zone, in NDJSON and CSV RFC 3339 with
//! milliseconds and `Z`. An absent value is `null` in Parquet and NDJSON and an empty cell in CSV.

use std::io::{Read, Write};
use std::sync::Arc;

use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use ::parquet::file::reader::ChunkReader;
use arrow_array::builder::{BooleanBuilder, Int64Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow_array::{Array, ArrayRef, BooleanArray, Int64Array, StringArray, TimestampMillisecondArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, SecondsFormat, Utc};
use kuaidi_model::ValidationError;
use serde_json::{Map, Value};

use crate::parquet::{Columns, ParquetError, ParquetWriter, ROW_GROUP_ROWS};
use crate::DecodeError;

/// The type of a summary column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// UTF-8 text.
    Text,
    /// A 64-bit signed integer.
    Int,
    /// `true` or `false`.
    Bool,
    /// A UTC instant, to the millisecond.
    Time,
}

/// The columns of a summaries file, in order: name, type, and whether the value may be absent.
///
/// `route` is the facility codes the parcel passed, in order, joined with ` > `; `alerts` the dedup keys of its
/// alerts whose condition holds now, joined with a space; `real_name`, `inspection` and `security_scan` are
/// `passed`, `failed` or `pending` (absent before the first scan). Documented for analysts in `docs/export.md`.
pub const SUMMARY_COLUMNS: [(&str, ColumnType, bool); 27] = [
    ("carrier", ColumnType::Text, false),
    ("waybill_no", ColumnType::Text, false),
    ("outcome", ColumnType::Text, false),
    ("open", ColumnType::Bool, false),
    ("accepted_at", ColumnType::Time, true),
    ("delivered_at", ColumnType::Time, true),
    ("last_scan_at", ColumnType::Time, true),
    ("origin_city", ColumnType::Text, true),
    ("destination_city", ColumnType::Text, true),
    ("time_limit", ColumnType::Text, true),
    ("deadline", ColumnType::Time, true),
    ("delivery_seconds", ColumnType::Int, true),
    ("delayed", ColumnType::Bool, true),
    ("lost_by_silence", ColumnType::Bool, false),
    ("damaged", ColumnType::Bool, false),
    ("locker_delivery", ColumnType::Bool, false),
    ("electronic_waybill", ColumnType::Bool, true),
    ("transit_hops", ColumnType::Int, false),
    ("route", ColumnType::Text, false),
    ("complaints", ColumnType::Int, false),
    ("valid_complaints", ColumnType::Int, false),
    ("outlet", ColumnType::Text, true),
    ("real_name", ColumnType::Text, true),
    ("inspection", ColumnType::Text, true),
    ("security_scan", ColumnType::Text, true),
    ("alerts", ColumnType::Text, false),
    ("check_at", ColumnType::Time, true),
];

/// One parcel's summary as exported (the columns are described at [`SUMMARY_COLUMNS`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SummaryRow {
    pub carrier: String,
    pub waybill_no: String,
    /// `delivered`, `into_locker`, `refused`, `returned`, `damaged`, `lost` or `in_transit`.
    pub outcome: String,
    /// Whether the outcome may still change on its own.
    pub open: bool,
    pub accepted_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub last_scan_at: Option<DateTime<Utc>>,
    /// Prefecture division code.
    pub origin_city: Option<String>,
    /// Prefecture division code.
    pub destination_city: Option<String>,
    /// `delta_key`, `delta`, `national_key`, `other` or `promised`.
    pub time_limit: Option<String>,
    pub deadline: Option<DateTime<Utc>>,
    pub delivery_seconds: Option<i64>,
    pub delayed: Option<bool>,
    pub lost_by_silence: bool,
    pub damaged: bool,
    pub locker_delivery: bool,
    pub electronic_waybill: Option<bool>,
    pub transit_hops: i64,
    pub route: String,
    pub complaints: i64,
    pub valid_complaints: i64,
    pub outlet: Option<String>,
    pub real_name: Option<String>,
    pub inspection: Option<String>,
    pub security_scan: Option<String>,
    pub alerts: String,
    pub check_at: Option<DateTime<Utc>>,
}

/// One value of a row, typed as its column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    /// A text column's value.
    Text(Option<String>),
    /// An integer column's value.
    Int(Option<i64>),
    /// A boolean column's value.
    Bool(Option<bool>),
    /// A time column's value.
    Time(Option<DateTime<Utc>>),
}

impl SummaryRow {
    /// The row's values, in the order of [`SUMMARY_COLUMNS`].
    pub fn cells(&self) -> Vec<Cell> {
        let text = |value: &str| Cell::Text(Some(value.to_owned()));
        vec![
            text(&self.carrier),
            text(&self.waybill_no),
            text(&self.outcome),
            Cell::Bool(Some(self.open)),
            Cell::Time(self.accepted_at),
            Cell::Time(self.delivered_at),
            Cell::Time(self.last_scan_at),
            Cell::Text(self.origin_city.clone()),
            Cell::Text(self.destination_city.clone()),
            Cell::Text(self.time_limit.clone()),
            Cell::Time(self.deadline),
            Cell::Int(self.delivery_seconds),
            Cell::Bool(self.delayed),
            Cell::Bool(Some(self.lost_by_silence)),
            Cell::Bool(Some(self.damaged)),
            Cell::Bool(Some(self.locker_delivery)),
            Cell::Bool(self.electronic_waybill),
            Cell::Int(Some(self.transit_hops)),
            text(&self.route),
            Cell::Int(Some(self.complaints)),
            Cell::Int(Some(self.valid_complaints)),
            Cell::Text(self.outlet.clone()),
            Cell::Text(self.real_name.clone()),
            Cell::Text(self.inspection.clone()),
            Cell::Text(self.security_scan.clone()),
            text(&self.alerts),
            Cell::Time(self.check_at),
        ]
    }

    /// The row of values in the order of [`SUMMARY_COLUMNS`]; a missing required value or a value of the wrong type
    /// is an error naming the column.
    pub fn from_cells(cells: Vec<Cell>) -> Result<SummaryRow, ValidationError> {
        if cells.len() != SUMMARY_COLUMNS.len() {
            return Err(ValidationError::Invalid {
                field: "summary".into(),
                value: cells.len().to_string(),
                reason: format!("has that many values; a summary row has {}", SUMMARY_COLUMNS.len()),
            });
        }
        let mut cells = cells.into_iter().zip(SUMMARY_COLUMNS);
        let mut next = || cells.next().expect("the length was checked");
        let wrong = |name: &str, cell: &Cell| ValidationError::Invalid {
            field: name.to_owned(),
            value: format!("{cell:?}"),
            reason: "is not of the column's type".into(),
        };
        let missing = |name: &str| ValidationError::Missing { field: name.to_owned() };
        macro_rules! take {
            (opt $variant:ident) => {{
                let (cell, (name, _, _)) = next();
                match cell {
                    Cell::$variant(value) => value,
                    other => return Err(wrong(name, &other)),
                }
            }};
            ($variant:ident) => {{
                let (cell, (name, _, _)) = next();
                match cell {
                    Cell::$variant(Some(value)) => value,
                    Cell::$variant(None) => return Err(missing(name)),
                    other => return Err(wrong(name, &other)),
                }
            }};
        }
        Ok(SummaryRow {
            carrier: take!(Text),
            waybill_no: take!(Text),
            outcome: take!(Text),
            open: take!(Bool),
            accepted_at: take!(opt Time),
            delivered_at: take!(opt Time),
            last_scan_at: take!(opt Time),
            origin_city: take!(opt Text),
            destination_city: take!(opt Text),
            time_limit: take!(opt Text),
            deadline: take!(opt Time),
            delivery_seconds: take!(opt Int),
            delayed: take!(opt Bool),
            lost_by_silence: take!(Bool),
            damaged: take!(Bool),
            locker_delivery: take!(Bool),
            electronic_waybill: take!(opt Bool),
            transit_hops: take!(Int),
            route: take!(Text),
            complaints: take!(Int),
            valid_complaints: take!(Int),
            outlet: take!(opt Text),
            real_name: take!(opt Text),
            inspection: take!(opt Text),
            security_scan: take!(opt Text),
            alerts: take!(Text),
            check_at: take!(opt Time),
        })
    }

    /// The row as one JSON object, a member per column.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        for ((name, _, _), cell) in SUMMARY_COLUMNS.iter().zip(self.cells()) {
            let value = match cell {
                Cell::Text(value) => value.map(Value::from),
                Cell::Int(value) => value.map(Value::from),
                Cell::Bool(value) => value.map(Value::from),
                Cell::Time(value) => value.map(|time| Value::from(time_text(&time))),
            };
            map.insert((*name).to_owned(), value.unwrap_or(Value::Null));
        }
        Value::Object(map)
    }

    /// Reads a row from a JSON object as [`SummaryRow::to_json`] writes it; every column must be present (`null`
    /// when absent), and no other member.
    pub fn from_json(value: &Value) -> Result<SummaryRow, DecodeError> {
        let Value::Object(map) = value else {
            return Err(ValidationError::Invalid {
                field: "summary".into(),
                value: value.to_string(),
                reason: "must be a JSON object".into(),
            }
            .into());
        };
        if let Some(unknown) = map.keys().find(|key| !SUMMARY_COLUMNS.iter().any(|(name, _, _)| name == key)) {
            return Err(ValidationError::Invalid {
                field: unknown.clone(),
                value: map[unknown].to_string(),
                reason: "is not a column of a summaries file".into(),
            }
            .into());
        }
        let mut cells = Vec::with_capacity(SUMMARY_COLUMNS.len());
        for (name, kind, _) in SUMMARY_COLUMNS {
            let value = map.get(name).ok_or_else(|| ValidationError::Missing { field: name.to_owned() })?;
            let bad = || ValidationError::Invalid {
                field: name.to_owned(),
                value: value.to_string(),
                reason: format!("must be {}", describe(kind)),
            };
            let cell = match (kind, value) {
                (ColumnType::Text, Value::Null) => Cell::Text(None),
                (ColumnType::Text, Value::String(text)) => Cell::Text(Some(text.clone())),
                (ColumnType::Int, Value::Null) => Cell::Int(None),
                (ColumnType::Int, Value::Number(number)) => Cell::Int(Some(number.as_i64().ok_or_else(bad)?)),
                (ColumnType::Bool, Value::Null) => Cell::Bool(None),
                (ColumnType::Bool, Value::Bool(flag)) => Cell::Bool(Some(*flag)),
                (ColumnType::Time, Value::Null) => Cell::Time(None),
                (ColumnType::Time, Value::String(text)) => Cell::Time(Some(parse_utc(text).ok_or_else(bad)?)),
                _ => return Err(bad().into()),
            };
            cells.push(cell);
        }
        Ok(SummaryRow::from_cells(cells)?)
    }
}

fn describe(kind: ColumnType) -> &'static str {
    match kind {
        ColumnType::Text => "text",
        ColumnType::Int => "an integer",
        ColumnType::Bool => "true or false",
        ColumnType::Time => "an RFC 3339 time",
    }
}

fn time_text(time: &DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn parse_utc(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|time| time.with_timezone(&Utc))
}

/// Writes summaries as NDJSON, one JSON object per line.
pub fn write_summary_line(out: &mut impl Write, row: &SummaryRow) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &row.to_json())?;
    out.write_all(b"\n")
}

/// Writes summaries as CSV: a header row with the names of [`SUMMARY_COLUMNS`], then one row per parcel.
pub struct SummaryCsvWriter<W: Write> {
    csv: csv::Writer<W>,
}

impl<W: Write> SummaryCsvWriter<W> {
    /// A writer onto `out`, header written.
    pub fn new(out: W) -> Result<Self, csv::Error> {
        let mut csv = csv::Writer::from_writer(out);
        csv.write_record(SUMMARY_COLUMNS.iter().map(|(name, _, _)| *name))?;
        Ok(SummaryCsvWriter { csv })
    }

    /// Writes one row; an absent value is an empty cell.
    pub fn write(&mut self, row: &SummaryRow) -> Result<(), csv::Error> {
        let cells = row.cells().into_iter().map(|cell| match cell {
            Cell::Text(value) => value.unwrap_or_default(),
            Cell::Int(value) => value.map(|v| v.to_string()).unwrap_or_default(),
            Cell::Bool(value) => value.map(|v| v.to_string()).unwrap_or_default(),
            Cell::Time(value) => value.map(|v| time_text(&v)).unwrap_or_default(),
        });
        self.csv.write_record(cells)
    }

    /// Flushes and hands back the output.
    pub fn finish(self) -> Result<W, csv::Error> {
        self.csv.into_inner().map_err(|err| err.into_error().into())
    }
}

/// Reads a summaries CSV file as [`SummaryCsvWriter`] writes it; the header must be exactly [`SUMMARY_COLUMNS`].
///
/// An empty cell of a text column that may be absent reads as absent (CSV cannot tell an empty text apart).
pub fn read_summaries_csv(reader: impl Read) -> Result<Vec<SummaryRow>, DecodeError> {
    let mut csv = csv::Reader::from_reader(reader);
    let headers = csv.headers().map_err(|err| DecodeError::Syntax(format!("the CSV header is unreadable: {err}")))?;
    let expected: Vec<&str> = SUMMARY_COLUMNS.iter().map(|(name, _, _)| *name).collect();
    if headers.iter().collect::<Vec<_>>() != expected {
        return Err(DecodeError::Syntax(format!(
            "the CSV header is `{}`; a summaries file has the columns `{}`",
            headers.iter().collect::<Vec<_>>().join(","),
            expected.join(",")
        )));
    }
    let mut rows = Vec::new();
    for record in csv.records() {
        let record = record.map_err(|err| DecodeError::Syntax(err.to_string()))?;
        let mut cells = Vec::with_capacity(SUMMARY_COLUMNS.len());
        for ((name, kind, nullable), text) in SUMMARY_COLUMNS.iter().zip(record.iter()) {
            let bad = || ValidationError::Invalid {
                field: (*name).to_owned(),
                value: text.to_owned(),
                reason: format!("must be {}", describe(*kind)),
            };
            let absent = text.is_empty() && (*nullable || *kind != ColumnType::Text);
            let cell = match kind {
                ColumnType::Text => Cell::Text((!absent).then(|| text.to_owned())),
                ColumnType::Int if absent => Cell::Int(None),
                ColumnType::Int => Cell::Int(Some(text.parse().map_err(|_| bad())?)),
                ColumnType::Bool if absent => Cell::Bool(None),
                ColumnType::Bool => Cell::Bool(Some(text.parse().map_err(|_| bad())?)),
                ColumnType::Time if absent => Cell::Time(None),
                ColumnType::Time => Cell::Time(Some(parse_utc(text).ok_or_else(bad)?)),
            };
            cells.push(cell);
        }
        rows.push(SummaryRow::from_cells(cells)?);
    }
    Ok(rows)
}

/// Writes summaries to a Parquet file, one row each.
pub type SummariesParquetWriter<W> = ParquetWriter<W, SummaryColumns>;

/// The Arrow builder of one summary column.
enum Builder {
    Text(StringBuilder),
    Int(Int64Builder),
    Bool(BooleanBuilder),
    Time(TimestampMillisecondBuilder),
}

/// The columns of the summaries file.
pub struct SummaryColumns {
    builders: Vec<Builder>,
}

fn summaries_schema() -> SchemaRef {
    let fields: Vec<Field> = SUMMARY_COLUMNS
        .iter()
        .map(|(name, kind, nullable)| {
            let data_type = match kind {
                ColumnType::Text => DataType::Utf8,
                ColumnType::Int => DataType::Int64,
                ColumnType::Bool => DataType::Boolean,
                ColumnType::Time => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            };
            Field::new(*name, data_type, *nullable)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

impl Columns for SummaryColumns {
    type Row = SummaryRow;

    fn schema() -> SchemaRef {
        summaries_schema()
    }

    fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, ROW_GROUP_ROWS);
        let builders = SUMMARY_COLUMNS
            .iter()
            .map(|(_, kind, _)| match kind {
                ColumnType::Text => Builder::Text(StringBuilder::with_capacity(capacity, capacity * 12)),
                ColumnType::Int => Builder::Int(Int64Builder::with_capacity(capacity)),
                ColumnType::Bool => Builder::Bool(BooleanBuilder::with_capacity(capacity)),
                ColumnType::Time => {
                    Builder::Time(TimestampMillisecondBuilder::with_capacity(capacity).with_timezone("UTC"))
                }
            })
            .collect();
        SummaryColumns { builders }
    }

    fn append(&mut self, row: &SummaryRow) -> Result<(), ParquetError> {
        for (builder, cell) in self.builders.iter_mut().zip(row.cells()) {
            match (builder, cell) {
                (Builder::Text(builder), Cell::Text(value)) => builder.append_option(value),
                (Builder::Int(builder), Cell::Int(value)) => builder.append_option(value),
                (Builder::Bool(builder), Cell::Bool(value)) => builder.append_option(value),
                (Builder::Time(builder), Cell::Time(value)) => {
                    builder.append_option(value.map(|time| time.timestamp_millis()))
                }
                _ => unreachable!("the builders are made from SUMMARY_COLUMNS, as the cells"),
            }
        }
        Ok(())
    }

    fn take(&mut self) -> Vec<ArrayRef> {
        self.builders
            .iter_mut()
            .map(|builder| -> ArrayRef {
                match builder {
                    Builder::Text(builder) => Arc::new(builder.finish()),
                    Builder::Int(builder) => Arc::new(builder.finish()),
                    Builder::Bool(builder) => Arc::new(builder.finish()),
                    Builder::Time(builder) => Arc::new(builder.finish()),
                }
            })
            .collect()
    }
}

/// Reads every summary of a file written by [`SummariesParquetWriter`], in file order.
pub fn read_summaries_parquet<R: ChunkReader + 'static>(reader: R) -> Result<Vec<SummaryRow>, ParquetError> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(reader)?;
    // The schema is checked before any row, so a file of other columns is refused even when it has no rows.
    let expected = summaries_schema();
    for (field, (name, kind, _)) in expected.fields().iter().zip(SUMMARY_COLUMNS) {
        match builder.schema().field_with_name(name) {
            Ok(found) if found.data_type() == field.data_type() => {}
            _ => return Err(ParquetError::Column { column: name, expected: describe(kind) }),
        }
    }
    let mut rows = Vec::new();
    for batch in builder.build()? {
        let batch = batch?;
        let mut columns: Vec<&dyn Array> = Vec::with_capacity(SUMMARY_COLUMNS.len());
        for (name, kind, _) in SUMMARY_COLUMNS {
            match batch.column_by_name(name) {
                Some(array) => columns.push(array.as_ref()),
                None => return Err(ParquetError::Column { column: name, expected: describe(kind) }),
            }
        }
        for row_idx in 0..batch.num_rows() {
            let cells = columns
                .iter()
                .zip(SUMMARY_COLUMNS)
                .map(|(array, (_, kind, _))| {
                    let present = !array.is_null(row_idx);
                    let any = array.as_any();
                    match kind {
                        ColumnType::Text => Cell::Text(
                            present.then(|| any.downcast_ref::<StringArray>().unwrap().value(row_idx).to_owned()),
                        ),
                        ColumnType::Int => {
                            Cell::Int(present.then(|| any.downcast_ref::<Int64Array>().unwrap().value(row_idx)))
                        }
                        ColumnType::Bool => {
                            Cell::Bool(present.then(|| any.downcast_ref::<BooleanArray>().unwrap().value(row_idx)))
                        }
                        ColumnType::Time => Cell::Time(present.then(|| {
                            let millis = any.downcast_ref::<TimestampMillisecondArray>().unwrap().value(row_idx);
                            DateTime::from_timestamp_millis(millis).unwrap_or_default()
                        })),
                    }
                })
                .collect();
            let row =
                SummaryRow::from_cells(cells).map_err(|source| ParquetError::Row { row: rows.len() as u64, source })?;
            rows.push(row);
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests;
