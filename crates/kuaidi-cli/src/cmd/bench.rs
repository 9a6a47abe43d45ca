//! `kuaidi bench ingest`: the real server as a child process on the embedded store (or on PostgreSQL with
//! `--database`), bulk NDJSON sent to it over HTTP from this process, then trace lookups and reverse traces (by vehicle
//! and by operator) timed one by one. Prints events/s and lookup p50/p99; on PostgreSQL also the ceiling, a plain
//! binary `COPY` of the same events into an unindexed table, and the ingest's share of it.
//! `kuaidi bench epcis` (in `bench/epcis.rs`) compares EPCIS capture with native ingest of the same events.
//!
//! Also the HTTP sender `demo` uses, so the demo ingests through the same path as carriers do.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use kuaidi_api::ingest::Summary;
use rand::SeedableRng;
use serde::Serialize;

use crate::cmd::simulate::{generate, simulation, SimArgs};
use crate::{output, progress, CliError, Config};

mod epcis;
mod threads;

/// Benchmarks.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Ingest throughput over HTTP and trace-lookup latency on the embedded store.
    Ingest(IngestArgs),
    /// EPCIS 2.0 capture throughput next to native NDJSON ingest of the same events.
    Epcis(epcis::EpcisArgs),
}

/// Arguments of `bench ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Parcels to simulate (about 8.5 events each) when `--input` is not given.
    #[arg(long, default_value_t = 1_200_000)]
    parcels: u64,
    /// An NDJSON file of records to send instead of simulating.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Records per HTTP request; the server stores each request in one transaction (`--ingest-chunk`), and larger
    /// transactions share more index pages (docs/BENCHMARKS.md).
    #[arg(long, default_value_t = BULK_CHUNK)]
    request_lines: usize,
    /// Concurrent HTTP connections.
    #[arg(long, default_value_t = 2)]
    connections: usize,
    /// Trace lookups to time after ingest.
    #[arg(long, default_value_t = 5_000)]
    lookups: usize,
    /// Reverse traces to time after the lookups, for vehicles and for operators each: every parcel the handler of a
    /// scan among the sampled records handled in the 24 hours around that scan. Fewer when the sample names fewer.
    #[arg(long, default_value_t = 500)]
    reverse_lookups: usize,
    /// Keep the benchmark's data here instead of a temporary directory.
    #[arg(long)]
    keep: Option<PathBuf>,
    #[command(flatten)]
    sim: SimArgs,
}

/// What a sender did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SendReport {
    /// Lines sent.
    pub lines: u64,
    /// Event lines among them.
    pub events: u64,
    /// The server's answers, added up.
    pub summary: Summary,
    /// Wall-clock seconds from the first request to the last answer.
    pub seconds: f64,
}

/// A body to send and what it holds.
struct Body {
    bytes: Vec<u8>,
    lines: u64,
    events: u64,
}

/// Records per request, and per store transaction, of a bulk load (the demo's and the benchmarks'): measured on the
/// default demo, 50,000 ran at 19,114 events/s, 200,000 at 26,444, 500,000 at 31,590 and 1,000,000 at 33,618 with
/// 1.4 GB more memory than 500,000 (docs/BENCHMARKS.md).
pub const BULK_CHUNK: usize = 500_000;

/// A line [`send_file`] shows its caller before sending it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    Waybill,
    Event,
}

/// Reads `path` into request bodies of `request_lines` lines on one thread, and sends them on `connections` threads.
/// Every answer's summary is added up; any HTTP error ends the run with that error.
pub fn send_file(
    base_url: &str,
    key: &str,
    path: &Path,
    request_lines: usize,
    connections: usize,
    bar: &ProgressBar,
    mut sample: impl FnMut(Line, &[u8]),
) -> Result<SendReport, CliError> {
    let file = File::open(path).map_err(|err| CliError::io("open", path, err))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let (sender, receiver) = mpsc::sync_channel::<Body>(connections * 2);
    let receiver = Arc::new(Mutex::new(receiver));
    let summary = Arc::new(Mutex::new(Summary::default()));
    let failure: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let url = format!("{base_url}/v1/ingest");
    let started = Instant::now();
    let spawn_worker = |receiver: &Arc<Mutex<mpsc::Receiver<Body>>>| {
        let (receiver, summary, failure, bar) = (receiver.clone(), summary.clone(), failure.clone(), bar.clone());
        let (url, key) = (url.clone(), key.to_owned());
        std::thread::spawn(move || {
            let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(STORE_WITHIN)).build().into();
            loop {
                let body = match receiver.lock().map(|r| r.recv()) {
                    Ok(Ok(body)) => body,
                    _ => return,
                };
                let answer = agent
                    .post(&url)
                    .header("Authorization", &format!("Bearer {key}"))
                    .header("Content-Type", "application/x-ndjson")
                    .send(&body.bytes[..])
                    .map_err(|err| err.to_string())
                    .and_then(|mut response| {
                        response
                            .body_mut()
                            .with_config()
                            .limit(1 << 30)
                            .read_to_string()
                            .map_err(|err| err.to_string())
                            .and_then(|text| {
                                serde_json::from_str::<serde_json::Value>(&text).map_err(|err| err.to_string())
                            })
                    });
                match answer {
                    Ok(answer) => {
                        let count = |name: &str| answer["summary"][name].as_u64().unwrap_or(0);
                        if let Ok(mut total) = summary.lock() {
                            total.merge(Summary {
                                accepted: count("accepted"),
                                duplicate: count("duplicate"),
                                updated: count("updated"),
                                rejected: count("rejected"),
                            });
                        }
                        bar.inc(body.lines);
                    }
                    Err(err) => {
                        if let Ok(mut slot) = failure.lock() {
                            slot.get_or_insert(err);
                        }
                        return;
                    }
                }
            }
        })
    };
    let mut workers: Vec<std::thread::JoinHandle<()>> = Vec::new();
    let mut first = true;

    let mut report = SendReport::default();
    let mut line = Vec::new();
    'read: loop {
        let mut body = Body { bytes: Vec::with_capacity(request_lines * 400), lines: 0, events: 0 };
        while body.lines < request_lines as u64 {
            line.clear();
            let n = reader.read_until(b'\n', &mut line).map_err(|err| CliError::io("read", path, err))?;
            if n == 0 {
                break;
            }
            if line.starts_with(b"{\"type\":\"event\"") {
                body.events += 1;
                sample(Line::Event, &line);
            } else if line.starts_with(b"{\"type\":\"waybill\"") {
                sample(Line::Waybill, &line);
            }
            body.bytes.extend_from_slice(&line);
            body.lines += 1;
        }
        if body.lines == 0 {
            break 'read;
        }
        report.lines += body.lines;
        report.events += body.events;
        if first {
            // The first request carries the carriers and facilities that everything after it names; it must be
            // committed before the parallel requests, or their records would race it and be rejected as unknown.
            first = false;
            let (tx, rx) = mpsc::sync_channel::<Body>(1);
            let one = Arc::new(Mutex::new(rx));
            let worker = spawn_worker(&one);
            tx.send(body).ok();
            drop(tx);
            let _ = worker.join();
            if failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                break 'read;
            }
            workers = (0..connections.max(1)).map(|_| spawn_worker(&receiver)).collect();
            continue;
        }
        if sender.send(body).is_err() {
            break 'read;
        }
    }
    drop(sender);
    for worker in workers {
        let _ = worker.join();
    }
    report.seconds = started.elapsed().as_secs_f64();
    if let Some(err) = failure.lock().ok().and_then(|mut f| f.take()) {
        return Err(CliError::Api(format!("sending to {url} failed: {err}")));
    }
    report.summary = summary.lock().map(|s| *s).unwrap_or_default();
    Ok(report)
}

/// A `kuaidi serve` child process.
struct ServerProcess {
    child: Child,
    addr: String,
}

/// How long a server may take to stop cleanly: it writes the parcel states it holds pending (up to a million at
/// 10 million events, which took about a minute to re-derive at the next open after the kill -9 used before).
const STOP_WITHIN: Duration = Duration::from_secs(600);

/// How long a request that stores records, or waits for what they derive, may take before the bench gives up. The
/// wait for the deriver after the last request is part of the ingest: on a machine busy with other work it took over
/// 30 s (docs/BENCHMARKS.md, session 25), and a 30 s limit then failed the whole run.
const STORE_WITHIN: Duration = Duration::from_secs(3600);

impl ServerProcess {
    /// Stops the server as an operator would (SIGTERM on Linux; elsewhere it is killed): it finishes its requests and
    /// writes what it holds pending, so the store opens afterwards without re-deriving anything. Fails, killing the
    /// server, when it exits with an error or takes longer than [`STOP_WITHIN`]. Returns how long it took to stop.
    fn stop(mut self) -> Result<Duration, CliError> {
        let stopping = Instant::now();
        #[cfg(target_os = "linux")]
        {
            let pid = rustix::process::Pid::from_child(&self.child);
            if let Err(err) = rustix::process::kill_process(pid, rustix::process::Signal::TERM) {
                return Err(CliError::Api(format!("cannot stop the server (pid {}): {err}", self.child.id())));
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = self.child.kill();
        let deadline = Instant::now() + STOP_WITHIN;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() || cfg!(not(target_os = "linux")) => return Ok(stopping.elapsed()),
                Ok(Some(status)) => return Err(CliError::Api(format!("the server stopped with {status}"))),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
                Ok(None) => {
                    return Err(CliError::Api(format!(
                        "the server did not stop within {} s of SIGTERM",
                        STOP_WITHIN.as_secs()
                    )))
                }
                Err(err) => return Err(CliError::io("wait for", "the server", err)),
            }
        }
    }
}

impl Drop for ServerProcess {
    /// A server not stopped with [`ServerProcess::stop`] (the run failed) is killed.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Starts `kuaidi serve` on a free loopback port; with `replay_until`, it judges ingest at the replayed stream's
/// clock up to that time (`serve --replay-until`), as a live hub receiving the simulated day would have; with
/// `ingest_chunk`, it stores that many records of a stream per transaction.
fn start_server(
    data_dir: &Path,
    synchronous: kuaidi_store::Synchronous,
    database: Option<&str>,
    replay_until: Option<chrono::DateTime<chrono::Utc>>,
    ingest_chunk: Option<usize>,
) -> Result<ServerProcess, CliError> {
    let durability = match synchronous {
        kuaidi_store::Synchronous::Normal => "normal",
        kuaidi_store::Synchronous::Full => "full",
    };
    let exe = std::env::current_exe().map_err(|err| CliError::io("find", "the kuaidi binary", err))?;
    let mut command = Command::new(exe);
    if let Some(url) = database {
        command.args(["--database", url]);
    }
    if let Some(chunk) = ingest_chunk {
        command.args(["--ingest-chunk".to_owned(), chunk.to_string()]);
    }
    let mut child = command
        .arg("--data-dir")
        .arg(data_dir)
        .args(["--listen", "127.0.0.1:0", "--durability", durability, "serve"])
        .args(replay_until.iter().flat_map(|until| ["--replay-until".to_owned(), until.to_rfc3339()]))
        .env("KUAIDI_LOG", "info,tower_http=warn")
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| CliError::io("start", "the server", err))?;
    let stderr = child.stderr.take().ok_or_else(|| CliError::Api("the server's stderr is not piped".into()))?;
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        match lines.next() {
            Some(Ok(line)) => {
                if let Some(pos) = line.find("addr=") {
                    break line[pos + 5..].split_whitespace().next().unwrap_or_default().to_owned();
                }
            }
            _ => return Err(CliError::Api("the server exited before it listened".into())),
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    Ok(ServerProcess { child, addr })
}

#[derive(Serialize)]
struct BenchReport {
    records_sent: u64,
    events_sent: u64,
    events_stored: u64,
    summary: Summary,
    /// From the first request sent to the indicators counting every event (`derived_catch_up_seconds` included).
    ingest_seconds: f64,
    /// How long the indicators took to count every event once the last request was answered.
    derived_catch_up_seconds: f64,
    /// How long the server took to stop after the lookups (SIGTERM to exit): with the embedded store, mostly writing
    /// the parcel states still pending. Not in `ingest_seconds`; a change that leaves more states pending at the end
    /// shows here.
    stop_seconds: f64,
    events_per_second: f64,
    records_per_second: f64,
    durability: &'static str,
    backend: String,
    ceiling_events_per_second: Option<f64>,
    share_of_ceiling: Option<f64>,
    lookups: usize,
    lookup_p50_ms: f64,
    lookup_p99_ms: f64,
    lookup_max_ms: f64,
    /// Reverse traces (`GET /v1/vehicles/{vehicle}/parcels`, `GET /v1/operators/{operator}/parcels`), timed one by one
    /// after the lookups.
    reverse_vehicle: ReverseLatency,
    reverse_operator: ReverseLatency,
    /// The server's CPU seconds while it ingested, by thread; `null` where `/proc` does not show them. With
    /// `--database`, PostgreSQL's own processes are not in it.
    server_cpu: Option<threads::ServerCpu>,
    data_dir: String,
}

/// How one kind of reverse trace answered.
#[derive(Debug, Default, Serialize)]
struct ReverseLatency {
    lookups: usize,
    p50_ms: f64,
    p99_ms: f64,
    max_ms: f64,
    /// Parcels per answer, on the mean and at most.
    parcels_mean: f64,
    parcels_max: usize,
}

/// A uniform sample of at most `size` of the items offered (reservoir sampling): an item is built only when it is
/// kept, and one that cannot be built leaves its slot as it was.
struct Reservoir<T> {
    size: usize,
    seen: usize,
    items: Vec<T>,
}

impl<T> Reservoir<T> {
    fn new(size: usize) -> Reservoir<T> {
        Reservoir { size, seen: 0, items: Vec::with_capacity(size.min(1 << 16)) }
    }

    fn offer(&mut self, rng: &mut impl rand::Rng, build: impl FnOnce() -> Option<T>) {
        self.seen += 1;
        let slot = if self.items.len() < self.size { self.items.len() } else { rng.random_range(0..self.seen) };
        if slot >= self.size {
            return;
        }
        let Some(item) = build() else { return };
        if slot == self.items.len() {
            self.items.push(item);
        } else {
            self.items[slot] = item;
        }
    }
}

/// A scan's handler among the sampled records, and the time of the scan.
#[derive(Debug, Clone)]
struct Handled {
    vehicle: Option<String>,
    operator: Option<String>,
    at: chrono::DateTime<chrono::Utc>,
}

impl Handled {
    fn of(value: &serde_json::Value) -> Option<Handled> {
        let at = chrono::DateTime::parse_from_rfc3339(value["time"].as_str()?).ok()?.with_timezone(&chrono::Utc);
        let text = |name: &str| value[name].as_str().filter(|text| !text.is_empty()).map(str::to_owned);
        let (vehicle, operator) = (text("vehicle"), text("operator"));
        (vehicle.is_some() || operator.is_some()).then_some(Handled { vehicle, operator, at })
    }
}

/// GETs `url` with the key and reads the whole answer; returns how many milliseconds that took, and the answer.
/// `what` names the request in the error.
fn timed_get(agent: &ureq::Agent, url: &str, key: &str, what: &str) -> Result<(f64, Vec<u8>), CliError> {
    let clock = Instant::now();
    let mut response = agent
        .get(url)
        .header("Authorization", &format!("Bearer {key}"))
        .call()
        .map_err(|err| CliError::Api(format!("{what} {url} failed: {err}")))?;
    let mut body = Vec::new();
    response.body_mut().as_reader().read_to_end(&mut body).map_err(|err| CliError::io("read", url, err))?;
    Ok((clock.elapsed().as_secs_f64() * 1000.0, body))
}

/// A path segment with every byte but RFC 3986's unreserved characters percent-encoded.
fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Times reverse traces of up to `n` distinct handlers, each over the 24 hours around the scan that named it.
fn time_reverse(
    agent: &ureq::Agent,
    base: &str,
    key: &str,
    route: &str,
    handlers: impl Iterator<Item = (String, chrono::DateTime<chrono::Utc>)>,
    n: usize,
) -> Result<ReverseLatency, CliError> {
    let mut seen = std::collections::BTreeSet::new();
    let picked: Vec<_> = handlers.filter(|(handler, _)| seen.insert(handler.clone())).take(n).collect();
    let (mut latencies, mut parcels) = (Vec::with_capacity(picked.len()), Vec::with_capacity(picked.len()));
    let day = chrono::Duration::hours(12);
    let stamp = |at: chrono::DateTime<chrono::Utc>| at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    for (handler, at) in &picked {
        let url = format!(
            "{base}/v1/{route}/{}/parcels?from={}&to={}",
            path_segment(handler),
            stamp(*at - day),
            stamp(*at + day)
        );
        let (ms, body) = timed_get(agent, &url, key, "reverse trace")?;
        latencies.push(ms);
        let answer: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|err| CliError::Api(format!("reverse trace {url} answered no JSON: {err}")))?;
        parcels.push(answer["parcels"].as_array().map_or(0, Vec::len));
    }
    latencies.sort_by(f64::total_cmp);
    Ok(ReverseLatency {
        lookups: latencies.len(),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        max_ms: latencies.last().copied().unwrap_or(0.0),
        parcels_mean: parcels.iter().sum::<usize>() as f64 / parcels.len().max(1) as f64,
        parcels_max: parcels.iter().copied().max().unwrap_or(0),
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn run(command: BenchCommand, config: &Config) -> Result<(), CliError> {
    let args = match command {
        BenchCommand::Ingest(args) => args,
        BenchCommand::Epcis(args) => return epcis::run(args, config),
    };
    let temp;
    let dir = match &args.keep {
        Some(dir) => dir.clone(),
        None => {
            temp = tempfile::Builder::new()
                .prefix("kuaidi-bench-")
                .tempdir()
                .map_err(|err| CliError::io("create", "a temporary directory", err))?;
            temp.path().to_path_buf()
        }
    };
    // A simulated day is replayed at its own clock; a given input file at the wall clock.
    let (input, replay_until) = match &args.input {
        Some(input) => (input.clone(), None),
        None => {
            let sim = simulation(&args.sim, args.parcels, 1, None)?;
            eprintln!("simulating {} parcels into {}", args.parcels, dir.display());
            let (stats, path) = generate(&sim, &dir.join("input"), true, false)?;
            eprintln!("simulated {} events", stats.events);
            (path, Some(sim.config().now))
        }
    };
    let data_dir = dir.join("data");
    let mut server_config = config.clone();
    server_config.data_dir = data_dir.clone();
    if let Some(url) = &config.database {
        kuaidi_store_pg::migrate(url)
            .map_err(|err| CliError::Database { database: crate::config::redact_url(url), source: err })?;
    }
    let key = crate::cmd::keys::create(&server_config, "admin", None, &[], "bench")?;
    // One request is one store transaction: larger transactions share more index pages (docs/BENCHMARKS.md).
    let server = start_server(
        &data_dir,
        config.synchronous,
        config.database.as_deref(),
        replay_until,
        Some(args.request_lines.max(1)),
    )?;
    let base = format!("http://{}", server.addr);

    let watch = threads::Watch::start(server.child.id());
    let total = File::open(&input).and_then(|f| f.metadata()).map(|m| m.len() / 330).unwrap_or(0);
    let bar = progress::items(total, "ingesting");
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    // Reservoir samples of the waybills to look up afterwards, and of the scans whose handlers to trace back: four
    // scans per reverse trace, since not every scan names a vehicle, and handlers repeat.
    let mut waybills: Reservoir<(String, String)> = Reservoir::new(args.lookups);
    let mut scans: Reservoir<Handled> = Reservoir::new(args.reverse_lookups.saturating_mul(4));
    let report = send_file(&base, &key, &input, args.request_lines, args.connections, &bar, |kind, line| {
        let parse = || serde_json::from_slice::<serde_json::Value>(line).ok();
        match kind {
            Line::Waybill => waybills.offer(&mut rng, || {
                let value = parse()?;
                let text = |name: &str| value[name].as_str().unwrap_or_default().to_owned();
                Some((text("carrier"), text("waybill_no")))
            }),
            Line::Event => scans.offer(&mut rng, || Handled::of(&parse()?)),
        }
    })?;
    let (samples, scans) = (waybills.items, scans.items);
    bar.finish_and_clear();
    let agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(30))).build().into();
    // The embedded store derives parcel states behind its writer: a request for the indicators answers once they
    // count every event acknowledged, and the ingest is done only then. It is part of the ingest, and gets as long.
    let catching_up = Instant::now();
    let ingest_agent: ureq::Agent = ureq::Agent::config_builder().timeout_global(Some(STORE_WITHIN)).build().into();
    timed_get(&ingest_agent, &format!("{base}/v1/indicators"), &key, "asking for")?;
    let catch_up_seconds = catching_up.elapsed().as_secs_f64();
    let server_cpu = watch.and_then(threads::Watch::finish);
    let report = SendReport { seconds: report.seconds + catch_up_seconds, ..report };

    let mut latencies = Vec::with_capacity(samples.len());
    let lookup_bar = progress::items(samples.len() as u64, "tracing");
    for (carrier, waybill_no) in &samples {
        let url = format!("{base}/v1/waybills/{waybill_no}?carrier={carrier}");
        latencies.push(timed_get(&agent, &url, &key, "trace lookup")?.0);
        lookup_bar.inc(1);
    }
    lookup_bar.finish_and_clear();
    latencies.sort_by(f64::total_cmp);
    let vehicles = scans.iter().filter_map(|h| h.vehicle.clone().map(|vehicle| (vehicle, h.at)));
    let reverse_vehicle = time_reverse(&agent, &base, &key, "vehicles", vehicles, args.reverse_lookups)?;
    let operators = scans.iter().filter_map(|h| h.operator.clone().map(|operator| (operator, h.at)));
    let reverse_operator = time_reverse(&agent, &base, &key, "operators", operators, args.reverse_lookups)?;
    let stop_seconds = server.stop()?.as_secs_f64();

    let store = server_config.open_store()?;
    let counts = kuaidi_store::Store::counts(&*store)?;
    drop(store);
    let ceiling_events_per_second = match &config.database {
        Some(url) => Some(ceiling(url, &input)?),
        None => None,
    };
    let bench = BenchReport {
        records_sent: report.lines,
        events_sent: report.events,
        events_stored: counts.events,
        summary: report.summary,
        ingest_seconds: report.seconds,
        derived_catch_up_seconds: catch_up_seconds,
        stop_seconds,
        events_per_second: report.events as f64 / report.seconds.max(1e-9),
        records_per_second: report.lines as f64 / report.seconds.max(1e-9),
        backend: match &config.database {
            Some(url) => format!("postgresql {}", crate::config::redact_url(url)),
            None => "embedded sqlite".into(),
        },
        ceiling_events_per_second,
        share_of_ceiling: ceiling_events_per_second.map(|c| report.events as f64 / report.seconds.max(1e-9) / c),
        durability: match (&config.database, config.synchronous) {
            (Some(_), _) => "the PostgreSQL server's (a batch is answered after its commit)",
            (None, kuaidi_store::Synchronous::Normal) => "normal (survives kill -9)",
            (None, kuaidi_store::Synchronous::Full) => "full (survives power loss)",
        },
        lookups: latencies.len(),
        lookup_p50_ms: percentile(&latencies, 50.0),
        lookup_p99_ms: percentile(&latencies, 99.0),
        lookup_max_ms: latencies.last().copied().unwrap_or(0.0),
        reverse_vehicle,
        reverse_operator,
        server_cpu,
        data_dir: data_dir.display().to_string(),
    };
    let rows = vec![vec![
        bench.events_sent.to_string(),
        bench.events_stored.to_string(),
        format!("{:.1}", bench.ingest_seconds),
        format!("{:.0}", bench.events_per_second),
        bench.ceiling_events_per_second.map_or("-".into(), |c| format!("{c:.0}")),
        bench.share_of_ceiling.map_or("-".into(), |s| format!("{:.0} %", s * 100.0)),
        format!("{:.2}", bench.lookup_p50_ms),
        format!("{:.2}", bench.lookup_p99_ms),
        format!("{:.2}", bench.reverse_vehicle.p99_ms),
        format!("{:.2}", bench.reverse_operator.p99_ms),
        bench.server_cpu.as_ref().map_or("-".into(), |cpu| format!("{:.1}", cpu.total)),
    ]];
    output::print(
        config.format,
        &bench,
        &[
            "EVENTS SENT",
            "EVENTS STORED",
            "SECONDS",
            "EVENTS/S",
            "COPY CEILING EVENTS/S",
            "SHARE",
            "TRACE P50 MS",
            "TRACE P99 MS",
            "VEHICLE P99 MS",
            "OPERATOR P99 MS",
            "SERVER CPU S",
        ],
        rows,
    );
    Ok(())
}

/// Events per second of a plain binary `COPY` of the input's events into an unindexed table: decoding happens
/// before the clock starts, so only the database's work is timed.
fn ceiling(url: &str, input: &Path) -> Result<f64, CliError> {
    let file = File::open(input).map_err(|err| CliError::io("open", input, err))?;
    let mut events = Vec::new();
    for line in BufReader::with_capacity(1 << 20, file).lines() {
        let line = line.map_err(|err| CliError::io("read", input, err))?;
        if !line.starts_with("{\"type\":\"event\"") {
            continue;
        }
        if let Ok(kuaidi_model::Record::Event(event)) = kuaidi_formats::decode_record(&line) {
            events.push(*event);
        }
    }
    eprintln!("copying {} events into an unindexed table for the ceiling", events.len());
    let elapsed = kuaidi_store_pg::copy_ceiling(url, &events)
        .map_err(|err| CliError::Database { database: crate::config::redact_url(url), source: err })?;
    Ok(events.len() as f64 / elapsed.as_secs_f64().max(1e-9))
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::{path_segment, Handled, Reservoir};

    #[test]
    fn a_reservoir_keeps_at_most_its_size_and_only_what_it_could_build() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut reservoir = Reservoir::new(10);
        for n in 0..1_000 {
            // Odd items cannot be built: they take no slot.
            reservoir.offer(&mut rng, || (n % 2 == 0).then_some(n));
        }
        assert_eq!(reservoir.items.len(), 10);
        assert!(reservoir.items.iter().all(|n| n % 2 == 0), "{:?}", reservoir.items);
        assert!(reservoir.items.iter().any(|&n| n >= 20), "later items replace the first ones: {:?}", reservoir.items);
        let mut none = Reservoir::new(0);
        none.offer(&mut rng, || Some(1));
        assert!(none.items.is_empty());
    }

    #[test]
    fn a_handler_goes_into_the_path_percent_encoded() {
        assert_eq!(path_segment("ZTO-HZ_01.a~"), "ZTO-HZ_01.a~");
        assert_eq!(path_segment("苏E 1/2"), "%E8%8B%8FE%201%2F2");
    }

    #[test]
    fn a_sampled_scan_names_its_handlers_and_time() {
        let line = r#"{"type":"event","time":"2026-11-11T09:00:00+08:00","vehicle":"苏E12345","operator":""}"#;
        let handled = Handled::of(&serde_json::from_str(line).unwrap()).unwrap();
        assert_eq!(handled.vehicle.as_deref(), Some("苏E12345"));
        assert_eq!(handled.operator, None, "an empty operator names nobody");
        assert_eq!(handled.at.to_rfc3339(), "2026-11-11T01:00:00+00:00");
        let waybill = r#"{"type":"waybill","created_at":"2026-11-11T09:00:00+08:00"}"#;
        assert!(Handled::of(&serde_json::from_str(waybill).unwrap()).is_none(), "a waybill names no handler");
        let untimed = r#"{"type":"event","time":"9 o'clock","operator":"C1"}"#;
        assert!(Handled::of(&serde_json::from_str(untimed).unwrap()).is_none(), "a scan without a time is skipped");
    }
}
