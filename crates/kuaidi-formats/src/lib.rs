//! Kuaidi's exchange formats: the native JSON record, NDJSON streams of records, CSV files of events or waybills, and
//! Parquet files of events or waybills for analysis, GS1 EPCIS 2.0 JSON-LD documents, and Kuaidi100-style tracking
//! pushes.
//!
//! Decoding goes through `serde_json::Value` rather than a derived `Deserialize`, so that every error names the field
//! and the value (`sender.division`: `32050`), which is what a carrier fixing a batch needs.
//! Encoding goes through the wire structs in [`wire`], which also describe the format in the OpenAPI document.
//! Nothing here does IO beyond the `Read` or `Write` it is handed.

mod csv_file;
mod decode;
mod encode;
pub mod epcis;
pub mod kuaidi100;
mod mapping;
mod ndjson;
pub mod parquet;
pub mod summary;
pub mod wire;

pub use csv_file::{read_csv, CsvKind, CsvWriter, EVENT_COLUMNS, WAYBILL_COLUMNS};
pub use decode::{decode_record, decode_value, parse_time, DecodeError};
pub use encode::{
    encode_carrier, encode_complaint, encode_event, encode_facility, encode_record, encode_waybill,
    encode_waybill_masked,
};
pub use mapping::{read_csv_mapped, CsvMapping};
pub use ndjson::{read_ndjson, Line};
