//! Parquet files of scan events and of waybills: streaming writers, and readers that map rows back into the model.
//!
//! The writers buffer rows in Arrow builders and write a row group every [`ROW_GROUP_ROWS`] rows, so memory stays
//! bounded however long the stream is. Columns are flat (a waybill's sender becomes `sender_name`, `sender_phone`, ...)
//! because flat columns are what analysts' tools read most easily. Pages are Snappy-compressed with the pure-Rust
//! `snap` codec, so the crate links no C library.
//!
//! A time is stored as a UTC instant in milliseconds (`time`, `created_at`) plus its offset in minutes
//! (`utc_offset_minutes`, `created_offset_minutes`): the instant alone would lose the local offset the wire format
//! keeps. Digits below a millisecond, and seconds of an offset, are dropped; RFC 3339 has no seconds in offsets, and
//! carriers send whole seconds.
//!
//! Like the rest of the crate, nothing here does IO beyond the `Write` or [`ChunkReader`] it is handed.

use std::io::Write;
use std::sync::Arc;

use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use ::parquet::arrow::ArrowWriter;
use ::parquet::basic::Compression;
use ::parquet::file::properties::WriterProperties;
use ::parquet::file::reader::ChunkReader;
use arrow_array::builder::{
    BooleanBuilder, Int16Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder, UInt32Builder,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Int16Array, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray,
    UInt32Array,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use chrono::{DateTime, FixedOffset};
use kuaidi_model::{
    mask, Address, AdminCode, CarrierCode, Contents, EventId, EventKind, FacilityCode, IdType, InvalidValue, Party,
    Phone, RealName, ScanEvent, Signer, ValidationError, Waybill, WaybillNo,
};

/// Rows in each row group the writers write, unless told otherwise.
pub const ROW_GROUP_ROWS: usize = 65_536;

/// Why a Parquet file could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ParquetError {
    /// The Parquet encoder or decoder failed; output errors of the `Write` handed in arrive here too.
    #[error("while encoding or decoding parquet: {0}")]
    Parquet(#[from] ::parquet::errors::ParquetError),
    /// Arrow could not assemble or read a batch of rows.
    #[error("while assembling arrow columns: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// The file lacks a column, or has it with another type.
    #[error("the parquet file has no column `{column}` of type {expected}")]
    Column {
        /// The column's name.
        column: &'static str,
        /// The Arrow type it must have.
        expected: &'static str,
    },
    /// A value does not fit its column, such as a declared value above `i64::MAX` fen.
    #[error("the value `{value}` does not fit the parquet column `{column}`")]
    OutOfRange {
        /// The column's name.
        column: &'static str,
        /// The offending value.
        value: String,
    },
    /// A row holds a value the model rejects.
    #[error("while reading row {row} of the parquet file: {source}")]
    Row {
        /// 0-based row number in the file.
        row: u64,
        /// What is wrong with the row.
        #[source]
        source: ValidationError,
    },
}

/// The Arrow column builders of one kind of row.
pub trait Columns: Sized {
    /// The model type written as one row.
    type Row;
    /// The Arrow schema of the file.
    fn schema() -> SchemaRef;
    /// Builders sized for `capacity` rows.
    fn with_capacity(capacity: usize) -> Self;
    /// Appends one row; a value that does not fit its column is refused and nothing of the row is kept.
    fn append(&mut self, row: &Self::Row) -> Result<(), ParquetError>;
    /// The built columns, leaving the builders empty.
    fn take(&mut self) -> Vec<ArrayRef>;
}

/// Writes rows of one kind to a Parquet file, a row group every `row_group_rows` rows.
pub struct ParquetWriter<W: Write + Send, C: Columns> {
    table: TableWriter<W>,
    columns: C,
}

/// Writes scan events to a Parquet file, one row each.
pub type EventsParquetWriter<W> = ParquetWriter<W, EventColumns>;

/// Writes waybills to a Parquet file, one row each, personal data included.
pub type WaybillsParquetWriter<W> = ParquetWriter<W, WaybillColumns>;

/// Writes waybills to a Parquet file, one row each, personal data masked (`张*`, `138****1234`, the address down to
/// the district, `1****************X`): the default for exports. The columns are those of [`WaybillsParquetWriter`].
pub type MaskedWaybillsParquetWriter<W> = ParquetWriter<W, MaskedWaybillColumns>;

impl<W: Write + Send, C: Columns> ParquetWriter<W, C> {
    /// A writer onto `out` that writes a row group every [`ROW_GROUP_ROWS`] rows.
    pub fn new(out: W) -> Result<Self, ParquetError> {
        Self::with_row_group_rows(out, ROW_GROUP_ROWS)
    }

    /// A writer onto `out` that writes a row group every `row_group_rows` rows (at least 1).
    pub fn with_row_group_rows(out: W, row_group_rows: usize) -> Result<Self, ParquetError> {
        Ok(ParquetWriter {
            table: TableWriter::new(out, C::schema(), row_group_rows)?,
            columns: C::with_capacity(row_group_rows),
        })
    }

    /// Appends one row, writing a row group when one is full.
    ///
    /// A waybill whose declared value exceeds `i64::MAX` fen is refused, and nothing of it is written.
    pub fn write(&mut self, row: &C::Row) -> Result<(), ParquetError> {
        self.columns.append(row)?;
        if self.table.row_added() {
            self.table.write_row_group(self.columns.take())?;
        }
        Ok(())
    }

    /// Writes the buffered rows and the file footer, and hands back the output.
    pub fn finish(mut self) -> Result<W, ParquetError> {
        if self.table.buffered > 0 {
            self.table.write_row_group(self.columns.take())?;
        }
        self.table.finish()
    }
}

/// Reads every scan event of a file written by [`EventsParquetWriter`], in file order.
pub fn read_events_parquet<R: ChunkReader + 'static>(reader: R) -> Result<Vec<ScanEvent>, ParquetError> {
    let mut events = Vec::new();
    for batch in ParquetRecordBatchReaderBuilder::try_new(reader)?.build()? {
        let batch = batch?;
        let first_row = events.len() as u64;
        let columns = EventArrays::of(&batch)?;
        for row_idx in 0..batch.num_rows() {
            let event = columns
                .event(row_idx)
                .map_err(|source| ParquetError::Row { row: first_row + row_idx as u64, source })?;
            events.push(event);
        }
    }
    Ok(events)
}

/// Reads every waybill of a file written by [`WaybillsParquetWriter`], in file order.
pub fn read_waybills_parquet<R: ChunkReader + 'static>(reader: R) -> Result<Vec<Waybill>, ParquetError> {
    let mut waybills = Vec::new();
    for batch in ParquetRecordBatchReaderBuilder::try_new(reader)?.build()? {
        let batch = batch?;
        let first_row = waybills.len() as u64;
        let columns = WaybillArrays::of(&batch)?;
        for row_idx in 0..batch.num_rows() {
            let waybill = columns
                .waybill(row_idx)
                .map_err(|source| ParquetError::Row { row: first_row + row_idx as u64, source })?;
            waybills.push(waybill);
        }
    }
    Ok(waybills)
}

fn utc_millis() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into()))
}

fn events_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("event_id", DataType::Utf8, false),
        Field::new("carrier", DataType::Utf8, false),
        Field::new("waybill_no", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("time", utc_millis(), false),
        Field::new("utc_offset_minutes", DataType::Int16, false),
        Field::new("facility", DataType::Utf8, false),
        Field::new("operator", DataType::Utf8, true),
        Field::new("vehicle", DataType::Utf8, true),
        Field::new("next_facility", DataType::Utf8, true),
        Field::new("exception_code", DataType::Utf8, true),
        Field::new("signer", DataType::Utf8, true),
    ]))
}

fn waybills_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("carrier", DataType::Utf8, false),
        Field::new("waybill_no", DataType::Utf8, false),
        Field::new("product", DataType::Utf8, false),
        Field::new("electronic", DataType::Boolean, false),
        Field::new("created_at", utc_millis(), false),
        Field::new("created_offset_minutes", DataType::Int16, false),
        Field::new("sender_name", DataType::Utf8, false),
        Field::new("sender_phone", DataType::Utf8, false),
        Field::new("sender_division", DataType::Utf8, false),
        Field::new("sender_address", DataType::Utf8, false),
        Field::new("receiver_name", DataType::Utf8, false),
        Field::new("receiver_phone", DataType::Utf8, false),
        Field::new("receiver_division", DataType::Utf8, false),
        Field::new("receiver_address", DataType::Utf8, false),
        Field::new("real_name_id_type", DataType::Utf8, true),
        Field::new("real_name_id_number", DataType::Utf8, true),
        Field::new("real_name_verified", DataType::Boolean, true),
        Field::new("contents_category", DataType::Utf8, false),
        Field::new("contents_description", DataType::Utf8, false),
        Field::new("weight_grams", DataType::UInt32, false),
        Field::new("declared_value_fen", DataType::Int64, false),
    ]))
}

/// The part both writers share: the Arrow writer, and how many rows wait in the builders.
struct TableWriter<W: Write + Send> {
    writer: ArrowWriter<W>,
    schema: SchemaRef,
    buffered: usize,
    row_group_rows: usize,
}

impl<W: Write + Send> TableWriter<W> {
    fn new(out: W, schema: SchemaRef, row_group_rows: usize) -> Result<Self, ParquetError> {
        let row_group_rows = row_group_rows.max(1);
        let properties = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(row_group_rows))
            .build();
        let writer = ArrowWriter::try_new(out, schema.clone(), Some(properties))?;
        Ok(TableWriter { writer, schema, buffered: 0, row_group_rows })
    }

    /// Counts a row appended to the builders; true when a row group is full.
    fn row_added(&mut self) -> bool {
        self.buffered += 1;
        self.buffered >= self.row_group_rows
    }

    /// Writes the builders' rows as one row group.
    fn write_row_group(&mut self, columns: Vec<ArrayRef>) -> Result<(), ParquetError> {
        let batch = RecordBatch::try_new(self.schema.clone(), columns)?;
        self.writer.write(&batch)?;
        // Without the flush the writer would keep encoded rows until its own limit; flushing here makes each batch
        // exactly one row group, so the file's layout does not depend on the writer's defaults.
        self.writer.flush()?;
        self.buffered = 0;
        Ok(())
    }

    fn finish(self) -> Result<W, ParquetError> {
        Ok(self.writer.into_inner()?)
    }
}

/// The offset of a time in whole minutes east of UTC.
fn offset_minutes(time: &DateTime<FixedOffset>) -> i16 {
    // Offsets are under 24 hours, so the minutes fit an i16 (at most 1,439).
    (time.offset().local_minus_utc() / 60) as i16
}

/// The columns of the events file.
pub struct EventColumns {
    event_id: StringBuilder,
    carrier: StringBuilder,
    waybill_no: StringBuilder,
    kind: StringBuilder,
    time: TimestampMillisecondBuilder,
    utc_offset_minutes: Int16Builder,
    facility: StringBuilder,
    operator: StringBuilder,
    vehicle: StringBuilder,
    next_facility: StringBuilder,
    exception_code: StringBuilder,
    signer: StringBuilder,
}

impl Columns for EventColumns {
    type Row = ScanEvent;

    fn schema() -> SchemaRef {
        events_schema()
    }

    fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, ROW_GROUP_ROWS);
        let strings = || StringBuilder::with_capacity(capacity, capacity * 16);
        EventColumns {
            event_id: strings(),
            carrier: strings(),
            waybill_no: strings(),
            kind: strings(),
            time: TimestampMillisecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            utc_offset_minutes: Int16Builder::with_capacity(capacity),
            facility: strings(),
            operator: strings(),
            vehicle: strings(),
            next_facility: strings(),
            exception_code: strings(),
            signer: strings(),
        }
    }

    fn append(&mut self, event: &ScanEvent) -> Result<(), ParquetError> {
        self.event_id.append_value(event.event_id.as_str());
        self.carrier.append_value(event.carrier.as_str());
        self.waybill_no.append_value(event.waybill_no.as_str());
        self.kind.append_value(event.kind.as_str());
        self.time.append_value(event.time.timestamp_millis());
        self.utc_offset_minutes.append_value(offset_minutes(&event.time));
        self.facility.append_value(event.facility.as_str());
        self.operator.append_option(event.operator.as_deref());
        self.vehicle.append_option(event.vehicle.as_deref());
        self.next_facility.append_option(event.next_facility.as_ref().map(FacilityCode::as_str));
        self.exception_code.append_option(event.exception_code.as_deref());
        self.signer.append_option(event.signer.map(Signer::as_str));
        Ok(())
    }

    fn take(&mut self) -> Vec<ArrayRef> {
        vec![
            Arc::new(self.event_id.finish()),
            Arc::new(self.carrier.finish()),
            Arc::new(self.waybill_no.finish()),
            Arc::new(self.kind.finish()),
            Arc::new(self.time.finish()),
            Arc::new(self.utc_offset_minutes.finish()),
            Arc::new(self.facility.finish()),
            Arc::new(self.operator.finish()),
            Arc::new(self.vehicle.finish()),
            Arc::new(self.next_facility.finish()),
            Arc::new(self.exception_code.finish()),
            Arc::new(self.signer.finish()),
        ]
    }
}

/// The columns of the waybills file.
pub struct WaybillColumns {
    carrier: StringBuilder,
    waybill_no: StringBuilder,
    product: StringBuilder,
    electronic: BooleanBuilder,
    created_at: TimestampMillisecondBuilder,
    created_offset_minutes: Int16Builder,
    sender: PartyColumns,
    receiver: PartyColumns,
    real_name_id_type: StringBuilder,
    real_name_id_number: StringBuilder,
    real_name_verified: BooleanBuilder,
    contents_category: StringBuilder,
    contents_description: StringBuilder,
    weight_grams: UInt32Builder,
    declared_value_fen: Int64Builder,
    /// Whether personal data is written masked.
    masked: bool,
}

/// The columns of the waybills file, personal data masked.
pub struct MaskedWaybillColumns(WaybillColumns);

impl Columns for MaskedWaybillColumns {
    type Row = Waybill;

    fn schema() -> SchemaRef {
        waybills_schema()
    }

    fn with_capacity(capacity: usize) -> Self {
        MaskedWaybillColumns(WaybillColumns { masked: true, ..WaybillColumns::with_capacity(capacity) })
    }

    fn append(&mut self, waybill: &Waybill) -> Result<(), ParquetError> {
        self.0.append(waybill)
    }

    fn take(&mut self) -> Vec<ArrayRef> {
        self.0.take()
    }
}

struct PartyColumns {
    name: StringBuilder,
    phone: StringBuilder,
    division: StringBuilder,
    address: StringBuilder,
}

impl PartyColumns {
    fn new(capacity: usize) -> Self {
        let strings = || StringBuilder::with_capacity(capacity, capacity * 16);
        PartyColumns { name: strings(), phone: strings(), division: strings(), address: strings() }
    }

    fn append(&mut self, party: &Party, masked: bool) {
        if masked {
            self.name.append_value(mask::name(&party.name));
            self.phone.append_value(mask::phone(party.phone.as_str()));
            self.address.append_value(mask::address(&party.address));
        } else {
            self.name.append_value(&party.name);
            self.phone.append_value(party.phone.as_str());
            self.address.append_value(&party.address.detail);
        }
        self.division.append_value(party.address.division.to_string());
    }

    fn finish(&mut self, columns: &mut Vec<ArrayRef>) {
        columns.push(Arc::new(self.name.finish()));
        columns.push(Arc::new(self.phone.finish()));
        columns.push(Arc::new(self.division.finish()));
        columns.push(Arc::new(self.address.finish()));
    }
}

impl Columns for WaybillColumns {
    type Row = Waybill;

    fn schema() -> SchemaRef {
        waybills_schema()
    }

    fn with_capacity(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, ROW_GROUP_ROWS);
        let strings = || StringBuilder::with_capacity(capacity, capacity * 16);
        WaybillColumns {
            carrier: strings(),
            waybill_no: strings(),
            product: strings(),
            electronic: BooleanBuilder::with_capacity(capacity),
            created_at: TimestampMillisecondBuilder::with_capacity(capacity).with_timezone("UTC"),
            created_offset_minutes: Int16Builder::with_capacity(capacity),
            sender: PartyColumns::new(capacity),
            receiver: PartyColumns::new(capacity),
            real_name_id_type: strings(),
            real_name_id_number: strings(),
            real_name_verified: BooleanBuilder::with_capacity(capacity),
            contents_category: strings(),
            contents_description: strings(),
            weight_grams: UInt32Builder::with_capacity(capacity),
            declared_value_fen: Int64Builder::with_capacity(capacity),
            masked: false,
        }
    }

    fn append(&mut self, waybill: &Waybill) -> Result<(), ParquetError> {
        // Checked before anything is appended, so a refused waybill leaves the columns the same length.
        let declared_value_fen =
            i64::try_from(waybill.contents.declared_value_fen).map_err(|_| ParquetError::OutOfRange {
                column: "declared_value_fen",
                value: waybill.contents.declared_value_fen.to_string(),
            })?;
        self.carrier.append_value(waybill.carrier.as_str());
        self.waybill_no.append_value(waybill.waybill_no.as_str());
        self.product.append_value(&waybill.product);
        self.electronic.append_value(waybill.electronic);
        self.created_at.append_value(waybill.created_at.timestamp_millis());
        self.created_offset_minutes.append_value(offset_minutes(&waybill.created_at));
        self.sender.append(&waybill.sender, self.masked);
        self.receiver.append(&waybill.receiver, self.masked);
        let real_name = waybill.real_name.as_ref();
        self.real_name_id_type.append_option(real_name.map(|real_name| real_name.id_type.as_str()));
        let id_number = |number: &str| if self.masked { mask::id_number(number) } else { number.to_owned() };
        self.real_name_id_number.append_option(real_name.map(|real_name| id_number(&real_name.id_number)));
        self.real_name_verified.append_option(real_name.map(|real_name| real_name.verified));
        self.contents_category.append_value(&waybill.contents.category);
        self.contents_description.append_value(&waybill.contents.description);
        self.weight_grams.append_value(waybill.contents.weight_grams);
        self.declared_value_fen.append_value(declared_value_fen);
        Ok(())
    }

    /// Takes the buffered rows as arrays, in schema order, leaving the builders empty.
    fn take(&mut self) -> Vec<ArrayRef> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.carrier.finish()),
            Arc::new(self.waybill_no.finish()),
            Arc::new(self.product.finish()),
            Arc::new(self.electronic.finish()),
            Arc::new(self.created_at.finish()),
            Arc::new(self.created_offset_minutes.finish()),
        ];
        self.sender.finish(&mut columns);
        self.receiver.finish(&mut columns);
        columns.push(Arc::new(self.real_name_id_type.finish()));
        columns.push(Arc::new(self.real_name_id_number.finish()));
        columns.push(Arc::new(self.real_name_verified.finish()));
        columns.push(Arc::new(self.contents_category.finish()));
        columns.push(Arc::new(self.contents_description.finish()));
        columns.push(Arc::new(self.weight_grams.finish()));
        columns.push(Arc::new(self.declared_value_fen.finish()));
        columns
    }
}

/// The column `name` of `batch` as an array of type `A`, or an error naming the column and the type expected.
fn column<'a, A: Array + 'static>(
    batch: &'a RecordBatch,
    name: &'static str,
    expected: &'static str,
) -> Result<&'a A, ParquetError> {
    batch
        .column_by_name(name)
        .and_then(|array| array.as_any().downcast_ref::<A>())
        .ok_or(ParquetError::Column { column: name, expected })
}

fn strings<'a>(batch: &'a RecordBatch, name: &'static str) -> Result<&'a StringArray, ParquetError> {
    column(batch, name, "utf8")
}

/// A value that a non-null column must hold in every row.
fn required<T>(
    array: &impl Array,
    row_idx: usize,
    field: &str,
    value: impl FnOnce() -> T,
) -> Result<T, ValidationError> {
    if array.is_null(row_idx) {
        return Err(ValidationError::Missing { field: field.to_owned() });
    }
    Ok(value())
}

fn optional<T>(array: &impl Array, row_idx: usize, value: impl FnOnce() -> T) -> Option<T> {
    (!array.is_null(row_idx)).then(value)
}

fn required_str<'a>(array: &'a StringArray, row_idx: usize, field: &str) -> Result<&'a str, ValidationError> {
    required(array, row_idx, field, || array.value(row_idx))
}

fn optional_str(array: &StringArray, row_idx: usize) -> Option<&str> {
    optional(array, row_idx, || array.value(row_idx))
}

fn parse<T>(
    text: &str,
    field: &str,
    parser: impl FnOnce(&str) -> Result<T, InvalidValue>,
) -> Result<T, ValidationError> {
    parser(text).map_err(|err| err.at(field))
}

/// Joins an instant in milliseconds and an offset in minutes back into a local time.
fn local_time(
    millis: i64,
    offset_minutes: i16,
    field: &str,
    offset_field: &str,
) -> Result<DateTime<FixedOffset>, ValidationError> {
    let offset = FixedOffset::east_opt(i32::from(offset_minutes) * 60).ok_or_else(|| {
        InvalidValue::new(offset_minutes.to_string(), "must be an offset under 24 hours").at(offset_field)
    })?;
    let instant = DateTime::from_timestamp_millis(millis)
        .ok_or_else(|| InvalidValue::new(millis.to_string(), "must be a time chrono can represent").at(field))?;
    Ok(instant.with_timezone(&offset))
}

/// The columns of one batch of events.
struct EventArrays<'a> {
    event_id: &'a StringArray,
    carrier: &'a StringArray,
    waybill_no: &'a StringArray,
    kind: &'a StringArray,
    time: &'a TimestampMillisecondArray,
    utc_offset_minutes: &'a Int16Array,
    facility: &'a StringArray,
    operator: &'a StringArray,
    vehicle: &'a StringArray,
    next_facility: &'a StringArray,
    exception_code: &'a StringArray,
    signer: &'a StringArray,
}

impl<'a> EventArrays<'a> {
    fn of(batch: &'a RecordBatch) -> Result<Self, ParquetError> {
        Ok(EventArrays {
            event_id: strings(batch, "event_id")?,
            carrier: strings(batch, "carrier")?,
            waybill_no: strings(batch, "waybill_no")?,
            kind: strings(batch, "kind")?,
            time: column(batch, "time", "timestamp(ms)")?,
            utc_offset_minutes: column(batch, "utc_offset_minutes", "int16")?,
            facility: strings(batch, "facility")?,
            operator: strings(batch, "operator")?,
            vehicle: strings(batch, "vehicle")?,
            next_facility: strings(batch, "next_facility")?,
            exception_code: strings(batch, "exception_code")?,
            signer: strings(batch, "signer")?,
        })
    }

    fn event(&self, row_idx: usize) -> Result<ScanEvent, ValidationError> {
        let millis = required(self.time, row_idx, "time", || self.time.value(row_idx))?;
        let offset = required(self.utc_offset_minutes, row_idx, "utc_offset_minutes", || {
            self.utc_offset_minutes.value(row_idx)
        })?;
        Ok(ScanEvent {
            event_id: parse(required_str(self.event_id, row_idx, "event_id")?, "event_id", EventId::parse)?,
            carrier: parse(required_str(self.carrier, row_idx, "carrier")?, "carrier", CarrierCode::parse)?,
            waybill_no: parse(required_str(self.waybill_no, row_idx, "waybill_no")?, "waybill_no", WaybillNo::parse)?,
            kind: parse(required_str(self.kind, row_idx, "kind")?, "kind", EventKind::parse)?,
            time: local_time(millis, offset, "time", "utc_offset_minutes")?,
            facility: parse(required_str(self.facility, row_idx, "facility")?, "facility", FacilityCode::parse)?,
            operator: optional_str(self.operator, row_idx).map(Into::into),
            vehicle: optional_str(self.vehicle, row_idx).map(Into::into),
            next_facility: optional_str(self.next_facility, row_idx)
                .map(|text| parse(text, "next_facility", FacilityCode::parse))
                .transpose()?,
            exception_code: optional_str(self.exception_code, row_idx).map(Into::into),
            signer: optional_str(self.signer, row_idx).map(|text| parse(text, "signer", Signer::parse)).transpose()?,
        })
    }
}

/// The columns of a sender or a receiver.
struct PartyArrays<'a> {
    names: [&'static str; 4],
    name: &'a StringArray,
    phone: &'a StringArray,
    division: &'a StringArray,
    address: &'a StringArray,
}

impl<'a> PartyArrays<'a> {
    /// `names` are the name, phone, division and address columns, in that order.
    fn of(batch: &'a RecordBatch, names: [&'static str; 4]) -> Result<Self, ParquetError> {
        Ok(PartyArrays {
            names,
            name: strings(batch, names[0])?,
            phone: strings(batch, names[1])?,
            division: strings(batch, names[2])?,
            address: strings(batch, names[3])?,
        })
    }

    fn party(&self, row_idx: usize) -> Result<Party, ValidationError> {
        let [name, phone, division, address] = self.names;
        Ok(Party {
            name: required_str(self.name, row_idx, name)?.to_owned(),
            phone: parse(required_str(self.phone, row_idx, phone)?, phone, Phone::parse)?,
            address: Address {
                division: parse(required_str(self.division, row_idx, division)?, division, AdminCode::parse)?,
                detail: required_str(self.address, row_idx, address)?.to_owned(),
            },
        })
    }
}

/// The columns of one batch of waybills.
struct WaybillArrays<'a> {
    carrier: &'a StringArray,
    waybill_no: &'a StringArray,
    product: &'a StringArray,
    electronic: &'a BooleanArray,
    created_at: &'a TimestampMillisecondArray,
    created_offset_minutes: &'a Int16Array,
    sender: PartyArrays<'a>,
    receiver: PartyArrays<'a>,
    real_name_id_type: &'a StringArray,
    real_name_id_number: &'a StringArray,
    real_name_verified: &'a BooleanArray,
    contents_category: &'a StringArray,
    contents_description: &'a StringArray,
    weight_grams: &'a UInt32Array,
    declared_value_fen: &'a Int64Array,
}

impl<'a> WaybillArrays<'a> {
    fn of(batch: &'a RecordBatch) -> Result<Self, ParquetError> {
        Ok(WaybillArrays {
            carrier: strings(batch, "carrier")?,
            waybill_no: strings(batch, "waybill_no")?,
            product: strings(batch, "product")?,
            electronic: column(batch, "electronic", "boolean")?,
            created_at: column(batch, "created_at", "timestamp(ms)")?,
            created_offset_minutes: column(batch, "created_offset_minutes", "int16")?,
            sender: PartyArrays::of(batch, ["sender_name", "sender_phone", "sender_division", "sender_address"])?,
            receiver: PartyArrays::of(
                batch,
                ["receiver_name", "receiver_phone", "receiver_division", "receiver_address"],
            )?,
            real_name_id_type: strings(batch, "real_name_id_type")?,
            real_name_id_number: strings(batch, "real_name_id_number")?,
            real_name_verified: column(batch, "real_name_verified", "boolean")?,
            contents_category: strings(batch, "contents_category")?,
            contents_description: strings(batch, "contents_description")?,
            weight_grams: column(batch, "weight_grams", "uint32")?,
            declared_value_fen: column(batch, "declared_value_fen", "int64")?,
        })
    }

    fn waybill(&self, row_idx: usize) -> Result<Waybill, ValidationError> {
        let millis = required(self.created_at, row_idx, "created_at", || self.created_at.value(row_idx))?;
        let offset = required(self.created_offset_minutes, row_idx, "created_offset_minutes", || {
            self.created_offset_minutes.value(row_idx)
        })?;
        let real_name = match optional_str(self.real_name_id_type, row_idx) {
            Some(id_type) => Some(RealName {
                id_type: parse(id_type, "real_name_id_type", IdType::parse)?,
                id_number: required_str(self.real_name_id_number, row_idx, "real_name_id_number")?.to_owned(),
                verified: required(self.real_name_verified, row_idx, "real_name_verified", || {
                    self.real_name_verified.value(row_idx)
                })?,
            }),
            None => None,
        };
        let declared_value_fen = required(self.declared_value_fen, row_idx, "declared_value_fen", || {
            self.declared_value_fen.value(row_idx)
        })?;
        Ok(Waybill {
            carrier: parse(required_str(self.carrier, row_idx, "carrier")?, "carrier", CarrierCode::parse)?,
            waybill_no: parse(required_str(self.waybill_no, row_idx, "waybill_no")?, "waybill_no", WaybillNo::parse)?,
            product: required_str(self.product, row_idx, "product")?.to_owned(),
            electronic: required(self.electronic, row_idx, "electronic", || self.electronic.value(row_idx))?,
            created_at: local_time(millis, offset, "created_at", "created_offset_minutes")?,
            sender: self.sender.party(row_idx)?,
            receiver: self.receiver.party(row_idx)?,
            real_name,
            contents: Contents {
                category: required_str(self.contents_category, row_idx, "contents_category")?.to_owned(),
                description: required_str(self.contents_description, row_idx, "contents_description")?.to_owned(),
                weight_grams: required(self.weight_grams, row_idx, "weight_grams", || {
                    self.weight_grams.value(row_idx)
                })?,
                declared_value_fen: u64::try_from(declared_value_fen).map_err(|_| {
                    InvalidValue::new(declared_value_fen.to_string(), "must be 0 or more").at("declared_value_fen")
                })?,
            },
        })
    }
}

#[cfg(test)]
mod tests;
