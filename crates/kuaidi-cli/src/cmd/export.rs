//! `kuaidi export --export-format parquet|ndjson|csv --out DIR`: every event, waybill and parcel summary of the store
//! into `DIR/events.<ext>`, `DIR/waybills.<ext>` and `DIR/summaries.<ext>`, for analysts' tools (DuckDB, Spark,
//! pandas).
//!
//! Personal data is masked unless `--reveal-personal-data` is given: an export is an output like any other.
//! Summaries hold none (their columns are `kuaidi_formats::summary::SUMMARY_COLUMNS`, described in `docs/export.md`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use kuaidi_formats::parquet::{EventsParquetWriter, MaskedWaybillsParquetWriter, WaybillsParquetWriter};
use kuaidi_formats::summary::{write_summary_line, SummariesParquetWriter, SummaryCsvWriter, SummaryRow};
use kuaidi_formats::{encode_event, encode_waybill, encode_waybill_masked, wire, CsvKind, CsvWriter};
use kuaidi_model::{FacilityCode, ScanEvent, Waybill};
use kuaidi_store::{ParcelState, Store};
use serde::Serialize;

use crate::{output, CliError, Config};

/// Records read from the store per page.
const PAGE: usize = 10_000;

/// The format of the exported files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Parquet, snappy-compressed, times as UTC milliseconds plus the offset in minutes.
    Parquet,
    /// One native JSON record per line.
    Ndjson,
    /// A header row and one record per row, as `kuaidi import` reads it.
    Csv,
}

impl ExportFormat {
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Parquet => "parquet",
            ExportFormat::Ndjson => "ndjson",
            ExportFormat::Csv => "csv",
        }
    }
}

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The format of the files.
    #[arg(long = "export-format", value_enum)]
    export_format: ExportFormat,
    /// The directory to write `events.<ext>`, `waybills.<ext>` and `summaries.<ext>` into (created when missing).
    #[arg(long)]
    out: PathBuf,
    /// Write names, phones, street addresses and ID numbers in full rather than masked.
    #[arg(long)]
    reveal_personal_data: bool,
}

/// What an export wrote.
#[derive(Debug, Serialize)]
pub struct ExportReport {
    /// The events file.
    pub events_file: String,
    /// Events written.
    pub n_events: u64,
    /// The waybills file.
    pub waybills_file: String,
    /// Waybills written.
    pub n_waybills: u64,
    /// The parcel summaries file.
    pub summaries_file: String,
    /// Parcel summaries written.
    pub n_summaries: u64,
    /// Whether personal data was masked.
    pub masked: bool,
}

pub fn run(args: ExportArgs, config: &Config) -> Result<(), CliError> {
    let store = config.open_store()?;
    let report = export(&*store, args.export_format, &args.out, !args.reveal_personal_data)?;
    let rows = vec![vec![
        report.events_file.clone(),
        report.n_events.to_string(),
        report.waybills_file.clone(),
        report.n_waybills.to_string(),
        report.summaries_file.clone(),
        report.n_summaries.to_string(),
        if report.masked { "masked" } else { "revealed" }.to_owned(),
    ]];
    output::print(
        config.format,
        &report,
        &["EVENTS FILE", "EVENTS", "WAYBILLS FILE", "WAYBILLS", "SUMMARIES FILE", "SUMMARIES", "PERSONAL DATA"],
        rows,
    );
    Ok(())
}

/// Writes every event, waybill and parcel summary of `store` into `dir`.
pub fn export(store: &dyn Store, format: ExportFormat, dir: &Path, masked: bool) -> Result<ExportReport, CliError> {
    std::fs::create_dir_all(dir).map_err(|err| CliError::io("create", dir, err))?;
    let events_path = dir.join(format!("events.{}", format.extension()));
    let waybills_path = dir.join(format!("waybills.{}", format.extension()));
    let n_events = write_events(store, format, &events_path)?;
    let n_waybills = write_waybills(store, format, &waybills_path, masked)?;
    let summaries_path = dir.join(format!("summaries.{}", format.extension()));
    let n_summaries = write_summaries(store, format, &summaries_path)?;
    Ok(ExportReport {
        events_file: events_path.display().to_string(),
        n_events,
        waybills_file: waybills_path.display().to_string(),
        n_waybills,
        summaries_file: summaries_path.display().to_string(),
        n_summaries,
        masked,
    })
}

fn create(path: &Path) -> Result<BufWriter<File>, CliError> {
    Ok(BufWriter::with_capacity(1 << 20, File::create(path).map_err(|err| CliError::io("create", path, err))?))
}

/// Every event of the store, a page at a time, in key order.
fn each_event(store: &dyn Store, mut visit: impl FnMut(&ScanEvent) -> Result<(), CliError>) -> Result<u64, CliError> {
    let mut n = 0u64;
    let mut last: Option<ScanEvent> = None;
    loop {
        let after = last.as_ref().map(|e| (&e.waybill_no, &e.carrier, &e.event_id));
        let page = store.events_after(after, PAGE)?;
        for event in &page {
            visit(event)?;
        }
        n += page.len() as u64;
        match page.into_iter().last() {
            Some(event) => last = Some(event),
            None => return Ok(n),
        }
    }
}

/// Every waybill of the store, a page at a time, in key order, personal data opened.
fn each_waybill(store: &dyn Store, mut visit: impl FnMut(&Waybill) -> Result<(), CliError>) -> Result<u64, CliError> {
    let mut n = 0u64;
    let mut last: Option<Waybill> = None;
    loop {
        let after = last.as_ref().map(|w| (&w.waybill_no, &w.carrier));
        let page = store.waybills_after(after, PAGE)?;
        for waybill in &page {
            visit(waybill)?;
        }
        n += page.len() as u64;
        match page.into_iter().last() {
            Some(waybill) => last = Some(waybill),
            None => return Ok(n),
        }
    }
}

fn write_events(store: &dyn Store, format: ExportFormat, path: &Path) -> Result<u64, CliError> {
    let out = create(path)?;
    let io = |err: std::io::Error| CliError::io("write", path, err);
    let parquet = |source| CliError::Parquet { path: path.to_owned(), source };
    match format {
        ExportFormat::Parquet => {
            let mut writer = EventsParquetWriter::new(out).map_err(parquet)?;
            let n = each_event(store, |event| writer.write(event).map_err(parquet))?;
            writer.finish().map_err(parquet)?.flush().map_err(io)?;
            Ok(n)
        }
        ExportFormat::Ndjson => {
            let mut out = out;
            let n =
                each_event(store, |event| write_line(&mut out, &wire::Record::Event(encode_event(event))).map_err(io))?;
            out.flush().map_err(io)?;
            Ok(n)
        }
        ExportFormat::Csv => {
            let mut writer = CsvWriter::new(out, CsvKind::Events).map_err(|err| io(err.into()))?;
            let n = each_event(store, |event| writer.write_event(&encode_event(event)).map_err(|err| io(err.into())))?;
            writer.finish().map_err(|err| io(err.into()))?.flush().map_err(io)?;
            Ok(n)
        }
    }
}

fn write_waybills(store: &dyn Store, format: ExportFormat, path: &Path, masked: bool) -> Result<u64, CliError> {
    let out = create(path)?;
    let io = |err: std::io::Error| CliError::io("write", path, err);
    let parquet = |source| CliError::Parquet { path: path.to_owned(), source };
    let encode = |waybill: &Waybill| if masked { encode_waybill_masked(waybill) } else { encode_waybill(waybill) };
    match format {
        ExportFormat::Parquet if masked => {
            let mut writer = MaskedWaybillsParquetWriter::new(out).map_err(parquet)?;
            let n = each_waybill(store, |waybill| writer.write(waybill).map_err(parquet))?;
            writer.finish().map_err(parquet)?.flush().map_err(io)?;
            Ok(n)
        }
        ExportFormat::Parquet => {
            let mut writer = WaybillsParquetWriter::new(out).map_err(parquet)?;
            let n = each_waybill(store, |waybill| writer.write(waybill).map_err(parquet))?;
            writer.finish().map_err(parquet)?.flush().map_err(io)?;
            Ok(n)
        }
        ExportFormat::Ndjson => {
            let mut out = out;
            let n = each_waybill(store, |waybill| {
                write_line(&mut out, &wire::Record::Waybill(encode(waybill))).map_err(io)
            })?;
            out.flush().map_err(io)?;
            Ok(n)
        }
        ExportFormat::Csv => {
            let mut writer = CsvWriter::new(out, CsvKind::Waybills).map_err(|err| io(err.into()))?;
            let n =
                each_waybill(store, |waybill| writer.write_waybill(&encode(waybill)).map_err(|err| io(err.into())))?;
            writer.finish().map_err(|err| io(err.into()))?.flush().map_err(io)?;
            Ok(n)
        }
    }
}

/// Every parcel state of the store, a page at a time, in key order.
fn each_state(store: &dyn Store, mut visit: impl FnMut(&ParcelState) -> Result<(), CliError>) -> Result<u64, CliError> {
    let mut n = 0u64;
    let mut last = None;
    loop {
        let after = last.as_ref().map(|(carrier, no)| (no, carrier));
        let page = store.parcel_states_after(after, PAGE)?;
        for (_, _, state) in &page {
            visit(state)?;
        }
        n += page.len() as u64;
        match page.into_iter().last() {
            Some((carrier, no, _)) => last = Some((carrier, no)),
            None => return Ok(n),
        }
    }
}

/// A parcel's state as an exported summary row: the rules' summary, the safety checks' state from its coverage row,
/// and its active alert keys. The coverage row's courier is left out.
pub fn summary_row(state: &ParcelState) -> SummaryRow {
    let summary = &state.summary;
    let utc = |time: Option<chrono::DateTime<chrono::FixedOffset>>| time.map(|t| t.with_timezone(&chrono::Utc));
    // A coverage row counts each check as `[passed, failed, pending]`, one of them 1, after the parcel count.
    let check = |first: usize| {
        state.coverage.as_ref().and_then(|row| {
            ["passed", "failed", "pending"].iter().zip(&row.counts[first..first + 3]).find(|(_, n)| **n > 0)
        })
    };
    let check = |first: usize| check(first).map(|(name, _)| (*name).to_owned());
    SummaryRow {
        carrier: summary.carrier.as_str().to_owned(),
        waybill_no: summary.waybill_no.as_str().to_owned(),
        outcome: summary.outcome.as_str().to_owned(),
        open: summary.open,
        accepted_at: utc(summary.accepted_at),
        delivered_at: utc(summary.delivered_at),
        last_scan_at: utc(summary.last_scan_at),
        origin_city: summary.origin_city.map(|code| code.to_string()),
        destination_city: summary.destination_city.map(|code| code.to_string()),
        time_limit: summary.time_limit.map(|class| class.as_str().to_owned()),
        deadline: utc(summary.deadline),
        delivery_seconds: summary.delivery_seconds,
        delayed: summary.delayed,
        lost_by_silence: summary.lost_by_silence,
        damaged: summary.damaged,
        locker_delivery: summary.locker_delivery,
        electronic_waybill: summary.electronic_waybill,
        transit_hops: i64::from(summary.transit_hops),
        route: summary.route.iter().map(FacilityCode::as_str).collect::<Vec<_>>().join(" > "),
        complaints: summary.complaints.len() as i64,
        valid_complaints: i64::from(summary.valid_complaints),
        outlet: state.coverage.as_ref().map(|row| row.outlet.clone()),
        real_name: check(1),
        inspection: check(4),
        security_scan: check(7),
        alerts: state.alert_keys.join(" "),
        check_at: state.check_at.and_then(chrono::DateTime::from_timestamp_millis),
    }
}

fn write_summaries(store: &dyn Store, format: ExportFormat, path: &Path) -> Result<u64, CliError> {
    let out = create(path)?;
    let io = |err: std::io::Error| CliError::io("write", path, err);
    let parquet = |source| CliError::Parquet { path: path.to_owned(), source };
    match format {
        ExportFormat::Parquet => {
            let mut writer = SummariesParquetWriter::new(out).map_err(parquet)?;
            let n = each_state(store, |state| writer.write(&summary_row(state)).map_err(parquet))?;
            writer.finish().map_err(parquet)?.flush().map_err(io)?;
            Ok(n)
        }
        ExportFormat::Ndjson => {
            let mut out = out;
            let n = each_state(store, |state| write_summary_line(&mut out, &summary_row(state)).map_err(io))?;
            out.flush().map_err(io)?;
            Ok(n)
        }
        ExportFormat::Csv => {
            let mut writer = SummaryCsvWriter::new(out).map_err(|err| io(err.into()))?;
            let n = each_state(store, |state| writer.write(&summary_row(state)).map_err(|err| io(err.into())))?;
            writer.finish().map_err(|err| io(err.into()))?.flush().map_err(io)?;
            Ok(n)
        }
    }
}

/// One wire record as a JSON line, tagged by `type` as import reads it.
fn write_line(out: &mut impl Write, record: &wire::Record) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}
