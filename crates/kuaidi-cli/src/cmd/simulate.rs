//! `kuaidi simulate`: Yangtze River Delta traffic as NDJSON, plus the ground truth of injected faults; and the
//! helpers `demo` and `bench` use to make their data.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, FixedOffset, Utc};
use clap::{Args, ValueEnum};
use indicatif::ProgressBar;
use kuaidi_sim::{write_ndjson, Faults, Geography, Profile, SimConfig, SimStats, Simulation};
use serde::Serialize;

use crate::{output, progress, CliError, Config};

/// Where the delta's geography is looked for, relative to the working directory, when `--geo` is not given.
const GEO_CANDIDATES: &[&str] =
    &["../shared/data/yrd_geo/yrd_prefecture_cities.csv", "shared/data/yrd_geo/yrd_prefecture_cities.csv"];

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
    /// The output directory: `records.ndjson` and `truth.ndjson` are written there.
    #[arg(long)]
    out: PathBuf,
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

/// Counts the lines written through it, to drive a progress bar.
struct LineCounter<W> {
    inner: W,
    bar: ProgressBar,
}

impl<W: Write> Write for LineCounter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let lines = buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        if lines > 0 {
            self.bar.inc(lines);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Runs `sim` into `dir/records.ndjson` and `dir/truth.ndjson`, with a progress bar over records.
pub fn generate(sim: &Simulation, dir: &Path, show_progress: bool) -> Result<(SimStats, PathBuf), CliError> {
    std::fs::create_dir_all(dir).map_err(|err| CliError::io("create", dir, err))?;
    let records_path = dir.join("records.ndjson");
    let truth_path = dir.join("truth.ndjson");
    let records = File::create(&records_path).map_err(|err| CliError::io("create", &records_path, err))?;
    let truth = File::create(&truth_path).map_err(|err| CliError::io("create", &truth_path, err))?;
    // About nine records a parcel: the estimate only sizes the bar.
    let bar = progress::items(sim.config().parcels * 9, "simulating");
    if !show_progress {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let counter = LineCounter { inner: records, bar: bar.clone() };
    let stats =
        write_ndjson(sim, counter, truth).map_err(|err| CliError::Input(format!("the simulation failed: {err}")))?;
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
    records_file: String,
    truth_file: String,
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
    let (stats, records) = generate(&sim, &args.out, true)?;
    let seconds = clock.elapsed().as_secs_f64();
    let report = SimulateReport {
        parcels: stats.parcels,
        waybills: stats.waybills,
        events: stats.events,
        duplicates: stats.duplicates,
        out_of_order: stats.out_of_order,
        faulty_parcels: stats.truth_entries,
        records_file: records.display().to_string(),
        truth_file: args.out.join("truth.ndjson").display().to_string(),
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
