//! `kuaidi import FILE`: NDJSON or CSV through the same pipeline as `/v1/ingest`, with a progress bar, a summary,
//! and the rejected lines written to a file for correction.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use kuaidi_api::ingest::{ingest_chunk, ItemResult, ItemStatus, Summary};
use kuaidi_api::AppState;
use kuaidi_formats::{read_csv, read_csv_mapped, read_ndjson, CsvMapping, DecodeError, Line};
use kuaidi_model::{Record, Role};
use serde::Serialize;

use crate::{output, progress, CliError, Config};

/// The format of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// One JSON record per line.
    Ndjson,
    /// A header row and one event or waybill per row.
    Csv,
}

/// Arguments of `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The file to import.
    file: PathBuf,
    /// Its format [default: from the extension; `.csv` is CSV, anything else NDJSON].
    #[arg(long = "input-format", value_enum)]
    input_format: Option<InputFormat>,
    /// Where rejected lines go [default: FILE.rejected.ndjson].
    #[arg(long)]
    rejected: Option<PathBuf>,
    /// A TOML column mapping for a partner's CSV file (its column names, fixed values, value translations and time
    /// format; see `kuaidi_formats::CsvMapping`). Implies CSV.
    #[arg(long)]
    mapping: Option<PathBuf>,
}

/// What an import did.
#[derive(Debug, Serialize)]
pub struct ImportReport {
    /// The file.
    pub file: String,
    /// Counts.
    pub summary: Summary,
    /// Where the rejected lines were written, when there were any.
    pub rejected_file: Option<String>,
}

#[derive(Serialize)]
struct RejectedLine<'a> {
    line: u64,
    code: Option<&'static str>,
    field: Option<&'a str>,
    value: Option<&'a str>,
    message: Option<&'a str>,
    text: &'a str,
}

pub fn run(args: ImportArgs, config: &Config) -> Result<(), CliError> {
    let state = config.app_state()?;
    let report = match &args.mapping {
        Some(mapping_path) => {
            let text = std::fs::read_to_string(mapping_path).map_err(|err| CliError::io("read", mapping_path, err))?;
            let mapping = CsvMapping::parse(&text)
                .map_err(|err| CliError::Input(format!("`{}`: {err}", mapping_path.display())))?;
            import_mapped(&state, config, &args.file, &mapping, args.rejected.clone())?
        }
        None => import_file(&state, config, &args.file, args.input_format, args.rejected.clone(), true)?,
    };
    let s = report.summary;
    let rows = vec![vec![
        s.accepted.to_string(),
        s.duplicate.to_string(),
        s.updated.to_string(),
        s.rejected.to_string(),
        report.rejected_file.clone().unwrap_or_else(|| "-".into()),
    ]];
    output::print(config.format, &report, &["ACCEPTED", "DUPLICATE", "UPDATED", "REJECTED", "REJECTED LINES IN"], rows);
    Ok(())
}

/// Imports one file as the local administrator, returning what happened.
pub fn import_file(
    state: &AppState,
    config: &Config,
    path: &std::path::Path,
    format: Option<InputFormat>,
    rejected_path: Option<PathBuf>,
    show_progress: bool,
) -> Result<ImportReport, CliError> {
    let file = File::open(path).map_err(|err| CliError::io("open", path, err))?;
    let total = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = progress::bytes(total, "importing");
    if !show_progress {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let reader = BufReader::with_capacity(1 << 20, bar.wrap_read(file));
    let format = format.unwrap_or(match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => InputFormat::Csv,
        _ => InputFormat::Ndjson,
    });
    let rejected_path = rejected_path.unwrap_or_else(|| {
        let mut name = path.as_os_str().to_owned();
        name.push(".rejected.ndjson");
        PathBuf::from(name)
    });
    let mut sink = RejectSink { path: rejected_path, writer: None };
    let mut summary = Summary::default();
    let chunk = config.api.ingest_chunk;
    match format {
        InputFormat::Ndjson => {
            let lines = read_ndjson(reader).map(|line| line.map_err(|err| CliError::io("read", path, err)));
            run_chunks(state, lines, chunk, &mut summary, &mut sink)?;
        }
        InputFormat::Csv => {
            let (_, rows) = read_csv(reader).map_err(|err| CliError::Input(format!("`{}`: {err}", path.display())))?;
            run_chunks(state, rows.map(Ok), chunk, &mut summary, &mut sink)?;
        }
    }
    bar.finish_and_clear();
    let rejected_file = sink.finish()?;
    Ok(ImportReport { file: path.display().to_string(), summary, rejected_file })
}

/// Imports a partner's CSV file through a column mapping, as the local administrator.
pub fn import_mapped(
    state: &AppState,
    config: &Config,
    path: &std::path::Path,
    mapping: &CsvMapping,
    rejected_path: Option<PathBuf>,
) -> Result<ImportReport, CliError> {
    let file = File::open(path).map_err(|err| CliError::io("open", path, err))?;
    let reader = BufReader::with_capacity(1 << 20, file);
    let rejected_path = rejected_path.unwrap_or_else(|| {
        let mut name = path.as_os_str().to_owned();
        name.push(".rejected.ndjson");
        PathBuf::from(name)
    });
    let mut sink = RejectSink { path: rejected_path, writer: None };
    let mut summary = Summary::default();
    let rows =
        read_csv_mapped(reader, mapping).map_err(|err| CliError::Input(format!("`{}`: {err}", path.display())))?;
    run_chunks(state, rows.map(Ok), config.api.ingest_chunk, &mut summary, &mut sink)?;
    let rejected_file = sink.finish()?;
    Ok(ImportReport { file: path.display().to_string(), summary, rejected_file })
}

/// Rejected lines, written to a file opened on the first rejection.
struct RejectSink {
    path: PathBuf,
    writer: Option<BufWriter<File>>,
}

impl RejectSink {
    fn write(&mut self, result: &ItemResult, text: &str) -> Result<(), CliError> {
        if self.writer.is_none() {
            let file = File::create(&self.path).map_err(|err| CliError::io("create", &self.path, err))?;
            self.writer = Some(BufWriter::new(file));
        }
        let line = RejectedLine {
            line: result.index,
            code: result.code,
            field: result.field.as_deref(),
            value: result.value.as_deref(),
            message: result.message.as_deref(),
            text,
        };
        if let Some(writer) = self.writer.as_mut() {
            serde_json::to_writer(&mut *writer, &line).map_err(|err| CliError::io("write", &self.path, err.into()))?;
            writer.write_all(b"\n").map_err(|err| CliError::io("write", &self.path, err))?;
        }
        Ok(())
    }

    fn finish(self) -> Result<Option<String>, CliError> {
        match self.writer {
            Some(mut writer) => {
                writer.flush().map_err(|err| CliError::io("write", &self.path, err))?;
                Ok(Some(self.path.display().to_string()))
            }
            None => Ok(None),
        }
    }
}

fn run_chunks(
    state: &AppState,
    lines: impl Iterator<Item = Result<Line, CliError>>,
    chunk: usize,
    summary: &mut Summary,
    sink: &mut RejectSink,
) -> Result<(), CliError> {
    let mut batch: Vec<(u64, Result<Record, DecodeError>)> = Vec::with_capacity(chunk);
    let mut texts: HashMap<u64, String> = HashMap::new();
    let mut flush =
        |batch: Vec<(u64, Result<Record, DecodeError>)>, texts: &mut HashMap<u64, String>| -> Result<(), CliError> {
            for result in ingest_chunk(state, &Role::Admin, batch)? {
                summary.add(result.status);
                if result.status == ItemStatus::Rejected {
                    sink.write(&result, texts.get(&result.index).map_or("", String::as_str))?;
                }
            }
            texts.clear();
            Ok(())
        };
    for line in lines {
        let line = line?;
        texts.insert(line.number, line.text);
        batch.push((line.number, line.record));
        if batch.len() >= chunk {
            flush(std::mem::replace(&mut batch, Vec::with_capacity(chunk)), &mut texts)?;
        }
    }
    if !batch.is_empty() {
        flush(batch, &mut texts)?;
    }
    Ok(())
}
