//! Writing a run as NDJSON: records in the native wire format of `kuaidi-formats`, and the ground truth in a small
//! format of its own.
//!
//! A ground-truth line looks like
//! `{"carrier":"zto","waybill_no":"ZT1230000000042","faults":[{"kind":"delay","hours":5,"event_id":"ZT1230000000042-6"}]}`;
//! each fault carries `kind` (a name of [`crate::Faults::rates`]) and the fields of its [`Fault`] variant.

use std::io::{self, BufWriter, Write};

use serde::Serialize;

use crate::{Fault, SimError, SimStats, Simulation, TruthEntry};

/// Runs the simulation, writing records to `records_out` and ground truth to `truth_out`, one JSON object a line.
///
/// Both outputs are buffered here; the caller need not wrap them.
pub fn write_ndjson(sim: &Simulation, records_out: impl Write, truth_out: impl Write) -> Result<SimStats, SimError> {
    // The buffer sits outside the counter, so serde_json's many small writes stay in the buffer's fast path.
    let mut records = BufWriter::with_capacity(1 << 16, Counting { inner: records_out, bytes: 0 });
    let mut truth = BufWriter::with_capacity(1 << 14, Counting { inner: truth_out, bytes: 0 });
    let mut stats = sim.try_run(
        |record| -> Result<(), SimError> {
            serde_json::to_writer(&mut records, &kuaidi_formats::encode_record(&record))?;
            records.write_all(b"\n")?;
            Ok(())
        },
        |entry| -> Result<(), SimError> { Ok(write_truth_line(&mut truth, &entry)?) },
    )?;
    records.flush()?;
    truth.flush()?;
    stats.bytes = records.get_ref().bytes;
    stats.truth_bytes = truth.get_ref().bytes;
    Ok(stats)
}

/// Writes one ground-truth entry as a line of JSON, in the format [`write_ndjson`] writes.
///
/// Exposed so that a caller running the simulation itself (to write other formats in the same pass) writes the same
/// truth file; `out` is written to once per field, so it should be buffered.
pub fn write_truth_line(mut out: impl Write, entry: &TruthEntry) -> io::Result<()> {
    serde_json::to_writer(&mut out, &TruthRecord::from(entry))?;
    out.write_all(b"\n")
}

/// A writer that counts the bytes passing through.
struct Counting<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The wire form of a [`TruthEntry`].
#[derive(Serialize)]
struct TruthRecord<'a> {
    carrier: &'a str,
    waybill_no: &'a str,
    faults: Vec<FaultRecord<'a>>,
}

/// The wire form of a [`Fault`].
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum FaultRecord<'a> {
    Delay { hours: u32, event_id: &'a str },
    Damage { event_id: &'a str },
    Loss { event_id: &'a str },
    MissingRealName { unverified: bool },
    MissingInspection,
    MissingSecurityScan,
    Stuck { last_event_id: &'a str },
    ProhibitedItem { item: &'a str },
    Complaint { reason: &'a str },
    Duplicate { event_id: &'a str },
    OutOfOrder { event_id: &'a str, lag_minutes: u32 },
}

impl<'a> From<&'a TruthEntry> for TruthRecord<'a> {
    fn from(entry: &'a TruthEntry) -> TruthRecord<'a> {
        let faults = entry
            .faults
            .iter()
            .map(|fault| match fault {
                Fault::Delay { hours, event_id } => FaultRecord::Delay { hours: *hours, event_id: event_id.as_str() },
                Fault::Damage { event_id } => FaultRecord::Damage { event_id: event_id.as_str() },
                Fault::Loss { event_id } => FaultRecord::Loss { event_id: event_id.as_str() },
                Fault::MissingRealName { unverified } => FaultRecord::MissingRealName { unverified: *unverified },
                Fault::MissingInspection => FaultRecord::MissingInspection,
                Fault::MissingSecurityScan => FaultRecord::MissingSecurityScan,
                Fault::Stuck { last_event_id } => FaultRecord::Stuck { last_event_id: last_event_id.as_str() },
                Fault::ProhibitedItem { item } => FaultRecord::ProhibitedItem { item },
                Fault::Complaint { reason } => FaultRecord::Complaint { reason },
                Fault::Duplicate { event_id } => FaultRecord::Duplicate { event_id: event_id.as_str() },
                Fault::OutOfOrder { event_id, lag_minutes } => {
                    FaultRecord::OutOfOrder { event_id: event_id.as_str(), lag_minutes: *lag_minutes }
                }
            })
            .collect();
        TruthRecord { carrier: entry.carrier.as_str(), waybill_no: entry.waybill_no.as_str(), faults }
    }
}
