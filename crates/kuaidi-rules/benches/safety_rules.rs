//! Benchmarks of the safety rules' two speed targets (issue 5).
//!
//! Run with
//!
//! ```sh
//! cargo bench -p kuaidi-rules --bench safety_rules
//! ```
//!
//! from the repository root, with the project's shared data in `../shared/`. It prints:
//!
//! 1. **Upkeep at ingest.** A day of simulated traffic (`KUAIDI_BENCH_PARCELS`, default 100,000 parcels, default
//!    faults) grouped by parcel; then, in event order, every event is "ingested" by re-assessing its parcel over the
//!    events it has so far (`alert::assess`: compliance, coverage contribution, prohibited-item screening, chain
//!    rules, stuck verdict) with `now` a minute after the event, as at ingest. That is the work the store's upkeep
//!    adds per ingested event, without the store's own reads and writes. Reported as microseconds per event and as
//!    a share of the recorded ingest throughput. Then the same again with the parcel's quality summary
//!    (`summarize`), the other half of what a store derives per touched parcel.
//!
//! Both report wall time and the thread's own CPU time (from `/proc/thread-self/schedstat`, Linux): on a shared
//! machine the CPU time is the figure that does not depend on what else is running.
//! 2. **Stuck scan.** 10,000,000 open parcels as the store holds them (stage and last scan time), judged at one
//!    `now` by `StuckScan::judge`, with an alert draft built for every parcel not moving.

// A benchmark's figures are its output.
#![allow(clippy::print_stdout)]

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use kuaidi_model::{CarrierCode, EventId, Facility, FacilityCode, Record, Reference, ScanEvent, Waybill, WaybillNo};
use kuaidi_rules::alert::{assess, inactivity_alert, Rules};
use kuaidi_rules::prohibited::Catalogue;
use kuaidi_rules::stuck::{Stage, StuckLimits, StuckScan, Verdict};
use kuaidi_rules::{summarize, Context, TimeLimits};
use kuaidi_sim::{Geography, SimConfig, Simulation};

const GEO_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/yrd_geo/yrd_prefecture_cities.csv");

/// The ingest throughput recorded in docs/BENCHMARKS.md for a 10-million-event day on the embedded store.
const INGEST_EVENTS_PER_SEC: f64 = 18_585.0;

struct Registry(HashMap<FacilityCode, Facility>);

impl Reference for Registry {
    fn has_carrier(&self, _code: &CarrierCode) -> bool {
        true
    }
    fn facility(&self, code: &FacilityCode) -> Option<&Facility> {
        self.0.get(code)
    }
}

fn upkeep() {
    let Ok(file) = std::fs::File::open(GEO_PATH) else {
        eprintln!("skipped upkeep: {GEO_PATH} not found");
        return;
    };
    let geo = Geography::from_csv(file).expect("the geography parses");
    let parcels: u64 = std::env::var("KUAIDI_BENCH_PARCELS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let start = DateTime::parse_from_rfc3339("2026-11-10T00:00:00+08:00").unwrap();
    let mut config = SimConfig::new(start, 1, parcels, 7);
    config.now = (start + Duration::days(3)).with_timezone(&Utc);
    let sim = Simulation::new(&geo, config).expect("the configuration is valid");
    let registry = Registry(sim.facilities().iter().map(|f| (f.code.clone(), f.clone())).collect());
    let mut waybills: HashMap<WaybillNo, Waybill> = HashMap::new();
    let mut stream: Vec<ScanEvent> = Vec::new();
    sim.run(
        |record| match record {
            Record::Waybill(w) => {
                waybills.insert(w.waybill_no.clone(), *w);
            }
            Record::Event(e) => stream.push(*e),
            _ => {}
        },
        |_| {},
    );
    let catalogue = Catalogue::official().expect("the catalogue parses");
    let scan = StuckScan::new(&StuckLimits::default());
    let rules = Rules { catalogue: &catalogue, stuck: &scan };

    let mut n_alerts = 0usize;
    let (n_parcels, elapsed, cpu) = replay(&stream, |events, now| {
        let res = assess(waybills.get(&events[0].waybill_no), events, &registry, &rules, now);
        n_alerts += res.alerts.len();
    });
    let per_event_us = cpu / stream.len() as f64 * 1e6;
    let share = per_event_us / (1e6 / INGEST_EVENTS_PER_SEC) * 100.0;
    println!(
        "upkeep: {} events of {n_parcels} parcels re-assessed in {elapsed:.2} s wall, {cpu:.2} s CPU: \
         {per_event_us:.2} us CPU per event; {share:.1} % of the {INGEST_EVENTS_PER_SEC} events/s ingest budget; \
         {n_alerts} drafts",
        stream.len(),
    );

    // The other half of a store's derivation: the parcel's quality summary, in the same pattern.
    let time_limits = TimeLimits::default();
    let ctx = Context { reference: &registry, time_limits: &time_limits };
    let mut n_hops = 0u64;
    let (_, elapsed, cpu) = replay(&stream, |events, now| {
        let summary = summarize(waybills.get(&events[0].waybill_no), events, &[], &ctx, now);
        n_hops += summary.map_or(0, |summary| u64::from(summary.transit_hops));
    });
    println!(
        "summary upkeep: the same events re-summarized in {elapsed:.2} s wall, {cpu:.2} s CPU: {:.2} us CPU per \
         event; {n_hops} transit hops summed",
        cpu / stream.len() as f64 * 1e6,
    );
}

/// Replays `stream` event by event, calling `derive` with the event's parcel's events so far (the new one last) and
/// `now` a minute after it, as at ingest; returns the parcels seen, and the wall and CPU seconds of the replay.
fn replay(stream: &[ScanEvent], mut derive: impl FnMut(&[ScanEvent], DateTime<Utc>)) -> (usize, f64, f64) {
    let mut so_far: HashMap<WaybillNo, Vec<ScanEvent>> = HashMap::new();
    let (began, cpu_began) = (Instant::now(), cpu_secs());
    for event in stream {
        let events = so_far.entry(event.waybill_no.clone()).or_default();
        events.push(event.clone());
        derive(events, event.time.with_timezone(&Utc) + Duration::minutes(1));
    }
    (so_far.len(), began.elapsed().as_secs_f64(), cpu_secs() - cpu_began)
}

fn stuck_scan() {
    const N: usize = 10_000_000;
    let now: i64 = 1_794_000_000;
    // Open parcels spread over the stages, last scanned up to 10 days ago (a fixed pseudo-random spread).
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let parcels: Vec<(Stage, i64)> = (0..N)
        .map(|idx| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (Stage::ALL[idx % Stage::ALL.len()], now - (state % (10 * 86_400)) as i64)
        })
        .collect();
    let scan = StuckScan::new(&StuckLimits::default());
    let carrier = CarrierCode::parse("yto").unwrap();
    let waybill_no = WaybillNo::parse("YT0000000001").unwrap();
    let last_event = EventId::parse("YT0000000001-9").unwrap();
    let (began, cpu_began) = (Instant::now(), cpu_secs());
    let (mut stuck, mut lost, mut drafts) = (0usize, 0usize, 0usize);
    for &(stage, last_scan) in &parcels {
        let verdict = scan.judge(stage, last_scan, now);
        match verdict {
            Verdict::Moving => continue,
            Verdict::Stuck { .. } => stuck += 1,
            Verdict::LikelyLoss { .. } => lost += 1,
        }
        drafts += inactivity_alert(&carrier, &waybill_no, &last_event, verdict).map_or(0, |_| 1);
    }
    let (elapsed, cpu) = (began.elapsed().as_secs_f64(), cpu_secs() - cpu_began);
    println!(
        "stuck scan: {N} open parcels judged in {elapsed:.3} s wall, {cpu:.3} s CPU ({stuck} stuck, {lost} likely \
         lost, {drafts} drafts built)"
    );
}

/// This thread's CPU time in seconds (the first field of `/proc/thread-self/schedstat`, in nanoseconds), or NaN
/// where that file does not exist.
fn cpu_secs() -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(f64::NAN, |ns| ns / 1e9)
}

fn main() {
    stuck_scan();
    upkeep();
}
