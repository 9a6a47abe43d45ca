//! Column mappings for partners' CSV files: a small TOML file that says which of the partner's columns holds each
//! Kuaidi field, which fields are fixed, how values translate, and how times are written.
//!
//! ```toml
//! kind = "events"                      # or "waybills"
//! time_format = "%Y/%m/%d %H:%M:%S"    # chrono strftime; default RFC 3339
//! utc_offset = "+08:00"                # for times written without an offset; default +08:00
//! [columns]                            # Kuaidi field = partner column
//! waybill_no = "运单号"
//! time = "扫描时间"
//! [constants]                          # Kuaidi field = fixed value
//! carrier = "yto"
//! [values.kind]                        # partner value = Kuaidi value, per field
//! "收件" = "accept"
//! ```
//!
//! The fields are the columns of Kuaidi's own CSV files (`EVENT_COLUMNS`, `WAYBILL_COLUMNS`). Each mapped row is
//! decoded like a native row, so a bad value is named by its Kuaidi field; a mapping that does not fit the file
//! (a column it names is not in the header) fails before any row is read, naming the column.

use std::collections::BTreeMap;
use std::io::Read;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use serde::Deserialize;
use serde_json::Value;

use crate::csv_file::row_to_json;
use crate::{decode_value, CsvKind, DecodeError, Line, EVENT_COLUMNS, WAYBILL_COLUMNS};

/// A column mapping, as written in its TOML file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    /// `events` or `waybills`.
    pub kind: String,
    /// The strftime format of the time columns (`time`, `created_at`); RFC 3339 when absent.
    #[serde(default)]
    pub time_format: Option<String>,
    /// The UTC offset of times written without one; `+08:00` when absent.
    #[serde(default)]
    pub utc_offset: Option<String>,
    /// Kuaidi field = the partner's column.
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// Kuaidi field = a value every row takes.
    #[serde(default)]
    pub constants: BTreeMap<String, String>,
    /// Per Kuaidi field, the partner's value = Kuaidi's value.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
}

/// The fields that hold times.
const TIME_FIELDS: [&str; 2] = ["time", "created_at"];

impl CsvMapping {
    /// Reads and checks a mapping file's text.
    pub fn parse(text: &str) -> Result<CsvMapping, DecodeError> {
        let mapping: CsvMapping = toml::from_str(text)
            .map_err(|err| DecodeError::Mapping(format!("the mapping file is not valid: {err}")))?;
        let fields = mapping.fields()?;
        for (name, section) in [("columns", &mapping.columns), ("constants", &mapping.constants)] {
            if let Some(unknown) = section.keys().find(|field| !fields.contains(&field.as_str())) {
                return Err(DecodeError::Mapping(format!(
                    "`[{name}]` names the field `{unknown}`, which a {} file does not have (fields: {})",
                    mapping.kind,
                    fields.join(", ")
                )));
            }
        }
        if let Some(unknown) = mapping.values.keys().find(|field| !fields.contains(&field.as_str())) {
            return Err(DecodeError::Mapping(format!(
                "`[values.{unknown}]` names a field a {} file does not have",
                mapping.kind
            )));
        }
        if let Some(both) = mapping.columns.keys().find(|field| mapping.constants.contains_key(*field)) {
            return Err(DecodeError::Mapping(format!(
                "the field `{both}` is both in `[columns]` and in `[constants]`"
            )));
        }
        mapping.offset()?;
        Ok(mapping)
    }

    fn csv_kind(&self) -> Result<CsvKind, DecodeError> {
        match self.kind.as_str() {
            "events" => Ok(CsvKind::Events),
            "waybills" => Ok(CsvKind::Waybills),
            other => Err(DecodeError::Mapping(format!("`kind` is `{other}`; it must be `events` or `waybills`"))),
        }
    }

    fn fields(&self) -> Result<&'static [&'static str], DecodeError> {
        Ok(match self.csv_kind()? {
            CsvKind::Events => &EVENT_COLUMNS,
            CsvKind::Waybills => &WAYBILL_COLUMNS,
        })
    }

    fn offset(&self) -> Result<FixedOffset, DecodeError> {
        let text = self.utc_offset.as_deref().unwrap_or("+08:00");
        text.parse::<FixedOffset>().map_err(|_| {
            DecodeError::Mapping(format!("`utc_offset` is `{text}`; it must be an offset such as `+08:00`"))
        })
    }

    /// A time cell as RFC 3339, or the reason it does not match.
    fn time(&self, cell: &str, offset: FixedOffset) -> Result<String, String> {
        let Some(format) = &self.time_format else { return Ok(cell.to_owned()) };
        if let Ok(time) = DateTime::parse_from_str(cell, format) {
            return Ok(time.to_rfc3339());
        }
        NaiveDateTime::parse_from_str(cell, format)
            .ok()
            .and_then(|naive| offset.from_local_datetime(&naive).single())
            .map(|time| time.to_rfc3339())
            .ok_or_else(|| format!("does not match the mapping's time_format `{format}`"))
    }
}

/// Reads a partner's CSV file through a mapping, yielding each data row decoded; line numbers count the header as
/// line 1. Fails before any row when a column the mapping names is not in the header.
pub fn read_csv_mapped<R: Read>(
    reader: R,
    mapping: &CsvMapping,
) -> Result<impl Iterator<Item = Line> + use<R>, DecodeError> {
    let mapping = mapping.clone();
    let kind = mapping.csv_kind()?;
    let offset = mapping.offset()?;
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers =
        csv.headers().map_err(|err| DecodeError::Syntax(format!("the CSV header is unreadable: {err}")))?.clone();
    let mut sources: Vec<(String, usize)> = Vec::new();
    for (field, column) in &mapping.columns {
        let position = headers.iter().position(|h| h.trim() == column.trim()).ok_or_else(|| {
            let found: Vec<&str> = headers.iter().collect();
            DecodeError::Mapping(format!(
                "the column `{column}` (mapped to `{field}`) is not in the file's header, which has: {}",
                found.join(", ")
            ))
        })?;
        sources.push((field.clone(), position));
    }
    let names: Vec<&str> =
        sources.iter().map(|(field, _)| field.as_str()).chain(mapping.constants.keys().map(String::as_str)).collect();
    let kuaidi_headers = csv::StringRecord::from(names);
    let rows = csv.into_records().map(move |row| {
        let number = row.as_ref().ok().and_then(|r| r.position()).map_or(0, |p| p.line());
        let row = match row {
            Err(err) => return Line { number, record: Err(DecodeError::Syntax(err.to_string())), text: String::new() },
            Ok(row) => row,
        };
        let text = row.iter().collect::<Vec<_>>().join(",");
        let mut cells: Vec<String> = Vec::with_capacity(kuaidi_headers.len());
        for (field, position) in &sources {
            let raw = row.get(*position).unwrap_or("").trim();
            let translated = mapping.values.get(field).and_then(|values| values.get(raw)).map_or(raw, String::as_str);
            let cell = if TIME_FIELDS.contains(&field.as_str()) && !translated.is_empty() {
                match mapping.time(translated, offset) {
                    Ok(time) => time,
                    Err(reason) => {
                        let column = &mapping.columns[field];
                        let err = kuaidi_model::InvalidValue::new(translated, reason)
                            .at(format!("{field} (column `{column}`)"));
                        return Line { number, record: Err(err.into()), text };
                    }
                }
            } else {
                translated.to_owned()
            };
            cells.push(cell);
        }
        cells.extend(mapping.constants.values().cloned());
        let value: Value = row_to_json(kind, &kuaidi_headers, &csv::StringRecord::from(cells));
        Line { number, record: decode_value(&value), text }
    });
    Ok(rows)
}

#[cfg(test)]
mod tests;
