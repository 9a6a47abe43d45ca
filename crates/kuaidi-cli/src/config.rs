//! Configuration: one set of options, read from a TOML file, then `KUAIDI_*` variables, then flags (later wins).
//!
//! A missing default file (`<data-dir>/kuaidi.toml`) is fine; a missing file named with `--config` is an error.
//! `config.example.toml` at the repository root lists every option with its default.
//! The `rules` option names a rules file, read by [`rules`].

mod rules;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::{Args, Parser, ValueEnum};
use kuaidi_api::{ApiConfig, AppState};
use kuaidi_rules::TimeLimits;
use kuaidi_store::{PiiKey, Rules, SqliteConfig, SqliteStore, Store, Synchronous};
use kuaidi_store_pg::{PgConfig, PgStore};
use serde::Deserialize;

use crate::cmd::Command;
use crate::CliError;

/// The express-delivery data hub and supervision platform.
#[derive(Debug, Parser)]
#[command(name = "kuaidi", version, about, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Options,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How data is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Table,
    /// JSON for programs.
    Json,
}

/// Commit durability of the embedded store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Survives a crash of the process (`kill -9`).
    Normal,
    /// Also survives a power cut (fsync on every commit).
    Full,
}

/// Options every command takes. Each is also a `KUAIDI_*` variable and a key of the config file.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// The config file [default: <data-dir>/kuaidi.toml when it exists].
    #[arg(long, global = true, env = "KUAIDI_CONFIG", value_name = "FILE")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Where the embedded store keeps its files [default: ./kuaidi-data].
    #[arg(long, global = true, env = "KUAIDI_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Output format of data.
    #[arg(long, global = true, env = "KUAIDI_FORMAT", value_enum)]
    pub format: Option<Format>,
    /// Log filter, such as `info` or `kuaidi_api=debug` [default: info].
    #[arg(long, global = true, env = "KUAIDI_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// The address `serve` listens on [default: 127.0.0.1:8080].
    #[arg(long, global = true, env = "KUAIDI_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// A PostgreSQL database to use instead of the embedded store, as `postgres://user:password@host:port/db`
    /// [default: none, the embedded store in the data directory]. The personal-data key stays in the data directory.
    #[arg(long, global = true, env = "KUAIDI_DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// With `--database`: days of events, waybills and parcels kept; older day partitions are dropped
    /// [default: keep everything].
    #[arg(long, global = true, env = "KUAIDI_RETENTION_DAYS", value_name = "DAYS")]
    pub retention_days: Option<u32>,
    /// Commit durability [default: normal].
    #[arg(long, global = true, env = "KUAIDI_DURABILITY", value_enum)]
    pub durability: Option<Durability>,
    /// Parcels in flight the embedded store's writer keeps in memory with their records, about 3.5 KiB each; 0 turns
    /// the cache off [default: what a quarter of the machine's memory holds, between 250000 and 1500000].
    #[arg(long, global = true, env = "KUAIDI_PARCEL_CACHE", value_name = "N")]
    pub parcel_cache: Option<usize>,
    /// Public tracking requests allowed per client address per minute [default: 60].
    #[arg(long, global = true, env = "KUAIDI_TRACK_PER_MINUTE", value_name = "N")]
    pub track_per_minute: Option<u32>,
    /// Largest JSON request body in bytes [default: 16777216].
    #[arg(long, global = true, env = "KUAIDI_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Most records in one JSON batch [default: 10000].
    #[arg(long, global = true, env = "KUAIDI_MAX_BATCH_RECORDS", value_name = "N")]
    pub max_batch_records: Option<usize>,
    /// Records per transaction when ingesting a stream or file [default: 20000].
    #[arg(long, global = true, env = "KUAIDI_INGEST_CHUNK", value_name = "N")]
    pub ingest_chunk: Option<usize>,
    /// How far in the future a reported time may lie, in seconds [default: 900].
    #[arg(long, global = true, env = "KUAIDI_FUTURE_TOLERANCE_SECS", value_name = "SECS")]
    pub future_tolerance_secs: Option<i64>,
    /// A rules file whose `[time_limits]` and `[stuck]` sections replace the standard rules' defaults; a relative
    /// path in the config file is relative to that file [default: the standard rules].
    #[arg(long, global = true, env = "KUAIDI_RULES", value_name = "FILE")]
    pub rules: Option<PathBuf>,
    /// For benchmarks only: the embedded store keeps no derived state (no parcel states, indicators, checks or
    /// alerts), so that a run measures what keeping it costs (`docs/BENCHMARKS.md`).
    #[arg(long, global = true, hide = true, env = "KUAIDI_BENCH_NO_DERIVED_STATE")]
    #[serde(skip)]
    pub bench_no_derived_state: bool,
}

impl Options {
    fn or(self, file: Options) -> Options {
        Options {
            config: self.config,
            data_dir: self.data_dir.or(file.data_dir),
            format: self.format.or(file.format),
            log: self.log.or(file.log),
            listen: self.listen.or(file.listen),
            database: self.database.or(file.database),
            retention_days: self.retention_days.or(file.retention_days),
            durability: self.durability.or(file.durability),
            parcel_cache: self.parcel_cache.or(file.parcel_cache),
            track_per_minute: self.track_per_minute.or(file.track_per_minute),
            max_body_bytes: self.max_body_bytes.or(file.max_body_bytes),
            max_batch_records: self.max_batch_records.or(file.max_batch_records),
            ingest_chunk: self.ingest_chunk.or(file.ingest_chunk),
            future_tolerance_secs: self.future_tolerance_secs.or(file.future_tolerance_secs),
            rules: self.rules.or(file.rules),
            bench_no_derived_state: self.bench_no_derived_state,
        }
    }
}

/// The resolved configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Whether the data directory was chosen (flag, variable or file) rather than defaulted; `demo` and `bench` use a
    /// fresh temporary directory unless one was chosen.
    pub data_dir_chosen: bool,
    /// Output format.
    pub format: Format,
    /// Log filter.
    pub log: String,
    /// Listen address.
    pub listen: SocketAddr,
    /// The PostgreSQL database, when one is used instead of the embedded store.
    pub database: Option<String>,
    /// Retention in days of the PostgreSQL store.
    pub retention_days: Option<u32>,
    /// Store durability.
    pub synchronous: Synchronous,
    /// Parcels the embedded store's deriver caches.
    pub parcel_cache: usize,
    /// API limits and policy.
    pub api: ApiConfig,
    /// The rules of derived state, read from the `rules` file; `None` for the standard rules.
    pub rules: Option<Arc<Rules>>,
    /// Whether the embedded store keeps derived state (off only to measure what it costs).
    pub derived_state: bool,
}

impl Config {
    /// Merges flags and environment (already in `flags`, clap handles both) over the config file over defaults.
    pub fn resolve(flags: &Options) -> Result<Config, CliError> {
        let data_dir_hint = flags.data_dir.clone().unwrap_or_else(|| PathBuf::from("kuaidi-data"));
        let file = match &flags.config {
            Some(path) => read_file(path)?,
            None => {
                let default = data_dir_hint.join("kuaidi.toml");
                if default.exists() {
                    read_file(&default)?
                } else {
                    Options::default()
                }
            }
        };
        let merged = flags.clone().or(file);
        let mut api = ApiConfig::default();
        if let Some(n) = merged.track_per_minute {
            api.track_per_minute = n;
        }
        if let Some(n) = merged.max_body_bytes {
            api.max_body_bytes = n;
        }
        if let Some(n) = merged.max_batch_records {
            api.max_batch_records = n;
        }
        if let Some(n) = merged.ingest_chunk {
            if n == 0 {
                return Err(CliError::Config(
                    "`ingest_chunk` must be at least 1.\nHint: set `--ingest-chunk` or `KUAIDI_INGEST_CHUNK`.".into(),
                ));
            }
            api.ingest_chunk = n;
        }
        if let Some(secs) = merged.future_tolerance_secs {
            if secs < 0 {
                return Err(CliError::Config(format!(
                    "`future_tolerance_secs` is `{secs}` but must not be negative.\nHint: set `--future-tolerance-secs`."
                )));
            }
            api.policy.future_tolerance = chrono::Duration::seconds(secs);
        }
        let loaded_rules = merged.rules.as_deref().map(rules::load).transpose()?.map(Arc::new);
        Ok(Config {
            rules: loaded_rules,
            derived_state: !merged.bench_no_derived_state,
            data_dir_chosen: merged.data_dir.is_some(),
            data_dir: merged.data_dir.unwrap_or(data_dir_hint),
            format: merged.format.unwrap_or_default(),
            log: merged.log.unwrap_or_else(|| "info".into()),
            listen: merged.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            database: match merged.database {
                Some(url) if url.trim().is_empty() => {
                    return Err(CliError::Config(
                        "`database` is empty.\nHint: set `--database postgres://user:password@host:port/db` or `KUAIDI_DATABASE`, or leave it unset for the embedded store.".into(),
                    ))
                }
                Some(url) if !url.starts_with("postgres://") && !url.starts_with("postgresql://") => {
                    return Err(CliError::Config(format!(
                        "`database` is `{}` but must be a `postgres://` or `postgresql://` URL.\nHint: set `--database` or `KUAIDI_DATABASE`.",
                        redact_url(&url)
                    )))
                }
                other => other,
            },
            retention_days: match merged.retention_days {
                Some(0) => {
                    return Err(CliError::Config(
                        "`retention_days` is `0` but must be at least 1.\nHint: set `--retention-days` or `KUAIDI_RETENTION_DAYS`, or leave it unset to keep everything.".into(),
                    ))
                }
                other => other,
            },
            synchronous: match merged.durability {
                Some(Durability::Full) => Synchronous::Full,
                _ => Synchronous::Normal,
            },
            parcel_cache: merged.parcel_cache.unwrap_or_else(|| {
                let total = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| mem_total_bytes(&text));
                default_parcel_cache(total)
            }),
            api,
        })
    }

    /// The personal-data key in the data directory, created when absent.
    pub fn pii_key(&self) -> Result<PiiKey, CliError> {
        std::fs::create_dir_all(&self.data_dir).map_err(|err| CliError::io("create", &self.data_dir, err))?;
        load_or_create_key(&self.data_dir.join("pii.key"))
    }

    /// The PostgreSQL store's settings, when `database` is set.
    pub fn pg_config(&self) -> Result<Option<PgConfig>, CliError> {
        let Some(url) = &self.database else { return Ok(None) };
        let mut config = PgConfig::new(url.clone(), self.pii_key()?);
        config.retention_days = self.retention_days;
        config.rules = self.rules.clone();
        Ok(Some(config))
    }

    /// Opens the configured store: PostgreSQL when `database` is set (it must be migrated), else the embedded store
    /// in the data directory (created when absent).
    pub fn open_store(&self) -> Result<Arc<dyn Store>, CliError> {
        if let Some(config) = self.pg_config()? {
            let store = PgStore::connect(config).map_err(|err| CliError::Database {
                database: redact_url(self.database.as_deref().unwrap_or_default()),
                source: err,
            })?;
            return Ok(Arc::new(store));
        }
        Ok(self.open_sqlite()?)
    }

    /// Opens (creating when absent) the embedded store in the data directory, with its personal-data key.
    pub fn open_sqlite(&self) -> Result<Arc<SqliteStore>, CliError> {
        let key = self.pii_key()?;
        let mut sqlite = SqliteConfig::new(self.data_dir.join("kuaidi.db"), key);
        sqlite.synchronous = self.synchronous;
        sqlite.parcel_cache = self.parcel_cache;
        sqlite.rules = self.rules.clone();
        if !self.derived_state {
            tracing::warn!("derived state is off: no indicators, checks or alerts are kept (a benchmark's baseline)");
            sqlite.derived_state = false;
        }
        Ok(Arc::new(SqliteStore::open(sqlite)?))
    }

    /// The time limits in force: the rules file's, or the plan's.
    pub fn time_limits(&self) -> TimeLimits {
        self.rules.as_ref().map_or_else(TimeLimits::default, |rules| rules.time_limits.clone())
    }

    /// The API state over the embedded store, with the system clock.
    pub fn app_state(&self) -> Result<AppState, CliError> {
        let store = self.open_store()?;
        Ok(AppState::new(store, self.api.clone(), Arc::new(chrono::Utc::now))?)
    }
}

/// Memory one cached parcel takes, measured (`docs/BENCHMARKS.md`: the demo's peak RSS against the cache's size).
const CACHED_PARCEL_BYTES: u64 = 3_500;

/// The parcel cache for a machine with `total` bytes of memory: what a quarter of it holds, at least the store's
/// default and at most 1,500,000 parcels (a one-day demo of a million parcels and `bench ingest`'s 1.25 million fit).
fn default_parcel_cache(total: Option<u64>) -> usize {
    let fits = total.map_or(0, |bytes| bytes / 4 / CACHED_PARCEL_BYTES);
    usize::try_from(fits).unwrap_or(usize::MAX).clamp(kuaidi_store::DEFAULT_PARCEL_CACHE, 1_500_000)
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
fn mem_total_bytes(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.trim_start_matches("MemTotal:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// The URL without its password, for messages.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_owned() };
    let rest = &url[scheme_end..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => {
            let userinfo = &rest[..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            let hidden = if userinfo.contains(':') { format!("{user}:***") } else { user.to_owned() };
            format!("{}{hidden}{}", &url[..scheme_end], &rest[at..])
        }
        None => url.to_owned(),
    }
}

fn read_file(path: &Path) -> Result<Options, CliError> {
    let text = std::fs::read_to_string(path).map_err(|err| CliError::io("read the config file", path, err))?;
    let mut options: Options = toml::from_str(&text)
        .map_err(|err| CliError::Config(format!("the config file `{}` is not valid: {err}", path.display())))?;
    // A rules file named in the config file is found beside it, wherever the command runs from.
    if let (Some(rules), Some(dir)) = (&options.rules, path.parent()) {
        if rules.is_relative() {
            options.rules = Some(dir.join(rules));
        }
    }
    Ok(options)
}

/// Reads the 32-byte personal-data key, or creates one readable only by its owner.
fn load_or_create_key(path: &Path) -> Result<PiiKey, CliError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let bytes: [u8; 32] = bytes.try_into().map_err(|_| {
                CliError::Config(format!(
                    "the personal-data key `{}` is not 32 bytes; it is damaged.\nHint: restore it from backup; without it sealed data cannot be read.",
                    path.display()
                ))
            })?;
            Ok(PiiKey::from_bytes(bytes))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let key = PiiKey::generate();
            write_private(path, &key.to_bytes()).map_err(|err| CliError::io("write", path, err))?;
            Ok(key)
        }
        Err(err) => Err(CliError::io("read", path, err)),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parcel_cache_takes_a_quarter_of_the_memory_within_bounds() {
        let meminfo = "MemTotal:       24591660 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total_bytes(meminfo), Some(24_591_660 * 1024));
        assert_eq!(mem_total_bytes("MemFree: 12 kB\n"), None);
        assert_eq!(mem_total_bytes("MemTotal: lots\n"), None);
        // 24 GiB: a quarter holds about 1.8 million parcels, capped at 1.5 million.
        assert_eq!(default_parcel_cache(mem_total_bytes(meminfo)), 1_500_000);
        // 4 GiB: a quarter holds about 307,000.
        assert_eq!(default_parcel_cache(Some(4 << 30)), (4u64 << 30) as usize / 4 / 3_500);
        // Small machines and unknown memory get the store's default.
        assert_eq!(default_parcel_cache(Some(512 << 20)), kuaidi_store::DEFAULT_PARCEL_CACHE);
        assert_eq!(default_parcel_cache(None), kuaidi_store::DEFAULT_PARCEL_CACHE);
    }

    fn resolve(database: Option<&str>, retention_days: Option<u32>) -> Result<Config, CliError> {
        let dir = std::env::temp_dir().join("kuaidi-config-test-without-a-file");
        let flags = Options {
            data_dir: Some(dir),
            database: database.map(str::to_owned),
            retention_days,
            ..Options::default()
        };
        Config::resolve(&flags)
    }

    #[test]
    fn database_must_be_a_postgres_url_and_retention_positive() {
        let config = resolve(Some("postgres://u:p@h:5432/kuaidi"), Some(30)).unwrap();
        assert_eq!(config.database.as_deref(), Some("postgres://u:p@h:5432/kuaidi"));
        assert_eq!(config.retention_days, Some(30));
        assert_eq!(resolve(None, None).unwrap().database, None);

        let err = resolve(Some("mysql://u:secret@h/db"), None).unwrap_err().to_string();
        assert!(err.contains("`mysql://u:***@h/db`") && err.contains("--database"), "{err}");
        let err = resolve(Some(" "), None).unwrap_err().to_string();
        assert!(err.contains("`database` is empty"), "{err}");
        let err = resolve(Some("postgres://h/db"), Some(0)).unwrap_err().to_string();
        assert!(err.contains("`retention_days` is `0`") && err.contains("KUAIDI_RETENTION_DAYS"), "{err}");
    }

    #[test]
    fn redact_url_hides_only_the_password() {
        assert_eq!(redact_url("postgres://kuaidi:secret@db:5432/k"), "postgres://kuaidi:***@db:5432/k");
        assert_eq!(redact_url("postgres://kuaidi@db/k"), "postgres://kuaidi@db/k");
        assert_eq!(redact_url("postgres://db/k?user=a"), "postgres://db/k?user=a");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
