//! NDJSON streams: one record per line, blank lines skipped, each line decoded on its own.

use std::io::BufRead;

use kuaidi_model::Record;

use crate::{decode_record, DecodeError};

/// One decoded line of an NDJSON stream.
#[derive(Debug)]
pub struct Line {
    /// 1-based line number in the input.
    pub number: u64,
    /// The record, or why the line was rejected.
    pub record: Result<Record, DecodeError>,
    /// The raw text of the line, kept so rejected lines can be written out for correction.
    pub text: String,
}

/// Reads NDJSON, yielding every non-blank line decoded. A read error (not a decode error) ends the stream.
pub fn read_ndjson<R: BufRead>(reader: R) -> impl Iterator<Item = std::io::Result<Line>> {
    reader.lines().enumerate().filter_map(|(idx, line)| match line {
        Err(err) => Some(Err(err)),
        Ok(text) if text.trim().is_empty() => None,
        Ok(text) => {
            let record = decode_record(&text);
            Some(Ok(Line { number: idx as u64 + 1, record, text }))
        }
    })
}
