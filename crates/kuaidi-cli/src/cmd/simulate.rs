//! `kuaidi simulate`: Yangtze River Delta traffic as NDJSON (and, unless `--no-parquet`, its events and waybills as
//! Parquet), plus the ground truth of injected faults; and the helpers `demo` and `bench` use to make their data.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, FixedOffset, Utc};
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use kuaidi_formats::parquet::{EventsParquetWriter, WaybillsParquetWriter};
use kuaidi_model::Record;
use kuaidi_sim::{write_truth_line, Faults, Geography, Profile, SimConfig, SimStats, Simulation};
use serde::Serialize;

use crate::{output, progress, CliError, Config};

mod open_only;

pub use open_only::OpenOnly;

/// Where the delta's geography is looked for, relative to the working directory, when `--geo` is not given.
const GEO_CANDIDATES: &[&str] =
    &["../shared/data/yrd_geo/yrd_prefecture_cities.csv", "shared/data/yrd_geo/yrd_prefecture_cities.csv"];

/// The Parquet file of scan events `simulate` writes beside the NDJSON.
const EVENTS_PARQUET: &str = "events.parquet";
/// The Parquet file of waybills `simulate` writes beside the NDJSON.
const WAYBILLS_PARQUET: &str = "waybills.parquet";

/// Options shared by every command that simulates.
#[derive(Debug, Clone, Args)]
pub struct SimArgs {
    /// The delta's prefecture cities (`yrd_prefecture_cities.csv` of the shared data) [default: ../shared/data/yrd_geo/].
    #[arg(long, env = "KUAIDI_GEO", value_name = "FILE")]
    pub geo: Option<PathBuf>,
    /// The seed; the same seed gives the same bytes.
    #[arg(long, default_value_t = 20161111)]
    pub seed: u64,
    /// Traffic profile.
    #[arg(long, value_enum, default_value_t = ProfileArg::Normal)]
    pub profile: ProfileArg,
    /// Inject no faults at all.
    #[arg(long)]
    pub no_faults: bool,
}

/// The traffic profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    /// An ordinary week.
    Normal,
    /// The Double-11 festival peak.
    Double11,
}

/// Arguments of `simulate`.
#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Parcels accepted over the simulated days.
    #[arg(long, default_value_t = 100_000)]
    parcels: u64,
    /// Days to simulate, ending now.
    #[arg(long, default_value_t = 1)]
    days: u32,
    /// The first simulated day, RFC 3339 [default: midnight (+08:00) `days` days ago].
    #[arg(long)]
    start: Option<String>,
    /// The output directory: `records.ndjson`, `truth.ndjson`, `events.parquet` and `waybills.parquet` are written
    /// there.
    #[arg(long)]
    out: PathBuf,
    /// Write only the NDJSON files, not `events.parquet` and `waybills.parquet`.
    #[arg(long)]
    no_parquet: bool,
    /// Keep every parcel open: its waybill and only its first one to three scans before delivery, no complaint (a
    /// store of open parcels for the stuck-parcel scan's benchmark).
    #[arg(long)]
    open_only: bool,
    #[command(flatten)]
    sim: SimArgs,
}

/// Finds and reads the delta's geography, naming the folder and the flag when it is missing.
pub fn load_geography(path: Option<&Path>) -> Result<Geography, CliError> {
    let path = match path {
        Some(path) => path.to_path_buf(),
        None => GEO_CANDIDATES.iter().map(PathBuf::from).find(|p| p.exists()).ok_or_else(|| {
            CliError::Config(
                "the delta's geography is missing: `../shared/data/yrd_geo/yrd_prefecture_cities.csv` does not exist\n\
                 Hint: run from the repository root with the shared data beside it, or pass `--geo FILE` (KUAIDI_GEO)."
                    .into(),
            )
        })?,
    };
    let file = File::open(&path).map_err(|err| CliError::io("open the geography file", &path, err))?;
    Geography::from_csv(file).map_err(|err| CliError::Input(format!("the geography file `{}`: {err}", path.display())))
}

/// Midnight (+08:00) `days` days before `now`.
pub fn default_start(now: DateTime<Utc>, days: u32) -> DateTime<FixedOffset> {
    let china = FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset");
    let local = now.with_timezone(&china);
    let midnight = local.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default();
    let midnight = midnight.and_local_timezone(china).single().unwrap_or(local);
    midnight - Duration::days(i64::from(days))
}

/// A simulation over `days` days up to now.
pub fn simulation(
    args: &SimArgs,
    parcels: u64,
    days: u32,
    start: Option<DateTime<FixedOffset>>,
) -> Result<Simulation, CliError> {
    let geo = load_geography(args.geo.as_deref())?;
    let now = Utc::now();
    let start = start.unwrap_or_else(|| default_start(now, days));
    let mut config = SimConfig::new(start, days, parcels, args.seed);
    config.now = now.min(config.now);
    config.profile = match args.profile {
        ProfileArg::Normal => Profile::Normal,
        ProfileArg::Double11 => Profile::Double11,
    };
    if args.no_faults {
        config.faults = Faults::none();
    }
    Simulation::new(&geo, config).map_err(|err| CliError::Input(format!("the simulation cannot run: {err}")))
}

/// Counts the bytes and lines written through it; the lines drive a progress bar, when there is one.
struct LineCounter<W> {
    inner: W,
    bar: Option<ProgressBar>,
    bytes: u64,
}

impl<W> LineCounter<W> {
    fn new(inner: W, bar: Option<ProgressBar>) -> Self {
        LineCounter { inner, bar, bytes: 0 }
    }
}

impl<W: Write> Write for LineCounter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        if let Some(bar) = &self.bar {
            let lines = buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
            if lines > 0 {
                bar.inc(lines);
            }
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The Parquet files of a run, written in the same pass as the NDJSON.
struct ParquetFiles {
    events_path: PathBuf,
    waybills_path: PathBuf,
    events: EventsParquetWriter<BufWriter<File>>,
    waybills: WaybillsParquetWriter<BufWriter<File>>,
}

impl ParquetFiles {
    fn create(dir: &Path) -> Result<ParquetFiles, CliError> {
        let events_path = dir.join(EVENTS_PARQUET);
        let waybills_path = dir.join(WAYBILLS_PARQUET);
        let create =
            |path: &Path| File::create(path).map(BufWriter::new).map_err(|err| CliError::io("create", path, err));
        let events = EventsParquetWriter::new(create(&events_path)?)
            .map_err(|source| CliError::Parquet { path: events_path.clone(), source })?;
        let waybills = WaybillsParquetWriter::new(create(&waybills_path)?)
            .map_err(|source| CliError::Parquet { path: waybills_path.clone(), source })?;
        Ok(ParquetFiles { events_path, waybills_path, events, waybills })
    }

    fn write(&mut self, record: &Record) -> Result<(), CliError> {
        match record {
            Record::Event(event) => {
                self.events.write(event).map_err(|source| CliError::Parquet { path: self.events_path.clone(), source })
            }
            Record::Waybill(waybill) => self
                .waybills
                .write(waybill)
                .map_err(|source| CliError::Parquet { path: self.waybills_path.clone(), source }),
            Record::Carrier(_) | Record::Facility(_) | Record::Complaint(_) => Ok(()),
        }
    }

    fn finish(self) -> Result<(), CliError> {
        let ParquetFiles { events_path, waybills_path, events, waybills } = self;
        let events = events.finish().map_err(|source| CliError::Parquet { path: events_path.clone(), source })?;
        events.into_inner().map_err(|err| CliError::io("write", &events_path, err.into_error()))?;
        let waybills = waybills.finish().map_err(|source| CliError::Parquet { path: waybills_path.clone(), source })?;
        waybills.into_inner().map_err(|err| CliError::io("write", &waybills_path, err.into_error()))?;
        Ok(())
    }
}

/// Runs `sim` into `dir/records.ndjson` and `dir/truth.ndjson`, and with `parquet` also into `dir/events.parquet`
/// and `dir/waybills.parquet`, all in one pass, with a progress bar over records.
pub fn generate(
    sim: &Simulation,
    dir: &Path,
    show_progress: bool,
    parquet: bool,
) -> Result<(SimStats, PathBuf), CliError> {
    generate_filtered(sim, dir, show_progress, parquet, |_| true)
}

/// Like [`generate`], writing only the records `keep` takes; the statistics still count every simulated record.
pub fn generate_filtered(
    sim: &Simulation,
    dir: &Path,
    show_progress: bool,
    parquet: bool,
    mut keep: impl FnMut(&Record) -> bool,
) -> Result<(SimStats, PathBuf), CliError> {
    std::fs::create_dir_all(dir).map_err(|err| CliError::io("create", dir, err))?;
    let records_path = dir.join("records.ndjson");
    let truth_path = dir.join("truth.ndjson");
    let records = File::create(&records_path).map_err(|err| CliError::io("create", &records_path, err))?;
    let truth = File::create(&truth_path).map_err(|err| CliError::io("create", &truth_path, err))?;
    let mut parquet_files = if parquet { Some(ParquetFiles::create(dir)?) } else { None };
    // About nine records a parcel: the estimate only sizes the bar.
    let bar = progress::items(sim.config().parcels * 9, "simulating");
    if !show_progress {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    // The buffers sit outside the counters, so serde_json's many small writes stay in the buffers' fast path.
    let mut records = BufWriter::with_capacity(1 << 16, LineCounter::new(records, Some(bar.clone())));
    let mut truth = BufWriter::with_capacity(1 << 14, LineCounter::new(truth, None));
    // The records are encoded here rather than by `kuaidi_sim::write_ndjson`, so that one run of the simulation
    // feeds both the NDJSON and the Parquet files.
    let mut stats = sim.try_run(
        |record| -> Result<(), CliError> {
            if !keep(&record) {
                return Ok(());
            }
            serde_json::to_writer(&mut records, &kuaidi_formats::encode_record(&record))
                .map_err(|err| CliError::io("write", &records_path, err.into()))?;
            records.write_all(b"\n").map_err(|err| CliError::io("write", &records_path, err))?;
            if let Some(files) = &mut parquet_files {
                files.write(&record)?;
            }
            Ok(())
        },
        |entry| -> Result<(), CliError> {
            write_truth_line(&mut truth, &entry).map_err(|err| CliError::io("write", &truth_path, err))
        },
    )?;
    let records = records.into_inner().map_err(|err| CliError::io("write", &records_path, err.into_error()))?;
    let truth = truth.into_inner().map_err(|err| CliError::io("write", &truth_path, err.into_error()))?;
    stats.bytes = records.bytes;
    stats.truth_bytes = truth.bytes;
    if let Some(files) = parquet_files {
        files.finish()?;
    }
    bar.finish_and_clear();
    Ok((stats, records_path))
}

#[derive(Serialize)]
struct SimulateReport {
    parcels: u64,
    waybills: u64,
    events: u64,
    duplicates: u64,
    out_of_order: u64,
    faulty_parcels: u64,
    /// With `--open-only`, the events written (the other counts are of the whole simulation).
    #[serde(skip_serializing_if = "Option::is_none")]
    events_kept: Option<u64>,
    records_file: String,
    truth_file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    events_parquet_file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    waybills_parquet_file: Option<String>,
    seconds: f64,
    events_per_second: f64,
}

pub fn run(args: SimulateArgs, config: &Config) -> Result<(), CliError> {
    let start = args
        .start
        .as_deref()
        .map(|s| kuaidi_formats::parse_time(s).map_err(|err| CliError::Input(format!("`--start` {err}"))))
        .transpose()?;
    let sim = simulation(&args.sim, args.parcels, args.days, start)?;
    let clock = std::time::Instant::now();
    let (stats, records, kept_events) = if args.open_only {
        let mut filter = OpenOnly::default();
        let (stats, records) =
            generate_filtered(&sim, &args.out, true, !args.no_parquet, |record| filter.keep(record))?;
        (stats, records, Some(filter.kept_events))
    } else {
        let (stats, records) = generate(&sim, &args.out, true, !args.no_parquet)?;
        (stats, records, None)
    };
    let seconds = clock.elapsed().as_secs_f64();
    let parquet_file = |name: &str| (!args.no_parquet).then(|| args.out.join(name).display().to_string());
    let report = SimulateReport {
        parcels: stats.parcels,
        waybills: stats.waybills,
        events: stats.events,
        duplicates: stats.duplicates,
        out_of_order: stats.out_of_order,
        faulty_parcels: stats.truth_entries,
        events_kept: kept_events,
        records_file: records.display().to_string(),
        truth_file: args.out.join("truth.ndjson").display().to_string(),
        events_parquet_file: parquet_file(EVENTS_PARQUET),
        waybills_parquet_file: parquet_file(WAYBILLS_PARQUET),
        seconds,
        events_per_second: stats.events as f64 / seconds.max(1e-9),
    };
    let rows = vec![vec![
        report.parcels.to_string(),
        report.events.to_string(),
        report.duplicates.to_string(),
        report.faulty_parcels.to_string(),
        format!("{:.1}", report.seconds),
        format!("{:.0}", report.events_per_second),
    ]];
    output::print(config.format, &report, &["PARCELS", "EVENTS", "DUPLICATES", "FAULTY", "SECONDS", "EVENTS/S"], rows);
    Ok(())
}
