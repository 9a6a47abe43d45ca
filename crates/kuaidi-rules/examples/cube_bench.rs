//! Run with
//! ```sh
//! cargo run --release -p kuaidi-rules --example cube_bench -- [sample_parcels] [days] [replay_parcels]
//! ```
//!
//! Measures the two speed figures of the indicators (issue 4), and prints them on stderr:
//!
//! 1. **Keeping the aggregates.** The simulator makes `replay_parcels` parcels of one day (default 200,000); their
//!    records are held in memory in stream order (duplicates and late events included) and then replayed as a store
//!    does at ingest: after each record the parcel is re-summarized from its records so far and the cube is moved
//!    from the old summary to the new one. The figure is records per second of that work alone; reading the
//!    parcel's earlier records back from a store is not part of it.
//! 2. **Slicing at 10 million parcels.** One simulated day of `sample_parcels` parcels (default 333,334; 0 skips this) is
//!    summarized, and every summary is applied once per day for `days` days (default 30), its acceptance moved to
//!    that day, which makes a cube of `sample_parcels × days` parcels (10 million by default) with the cells a month
//!    of that traffic fills. Then each of a set of slices is timed over 20 runs (median and maximum of wall time),
//!    including turning every group's counters into indicators.

#![allow(clippy::print_stderr)]

use std::collections::HashMap;
use std::time::Instant;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use kuaidi_model::{AdminCode, CarrierCode, Record, ScanEvent, Waybill, WaybillNo};
use kuaidi_rules::{summarize, Context, Cube, Dimension, Filter, Indicators, ParcelSummary, TimeLimits};
use kuaidi_sim::{Geography, SimConfig, Simulation};

/// CPU time of this thread so far, in seconds (Linux `schedstat`), which a busy machine disturbs less than wall time.
fn cpu_seconds() -> f64 {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    text.split_whitespace().next().and_then(|ns| ns.parse::<f64>().ok()).unwrap_or(f64::NAN) / 1e9
}

struct Registry(HashMap<kuaidi_model::FacilityCode, kuaidi_model::Facility>);

impl kuaidi_model::Reference for Registry {
    fn has_carrier(&self, _code: &CarrierCode) -> bool {
        true
    }

    fn facility(&self, code: &kuaidi_model::FacilityCode) -> Option<&kuaidi_model::Facility> {
        self.0.get(code)
    }
}

#[derive(Default)]
struct Parcel {
    waybill: Option<Waybill>,
    events: Vec<ScanEvent>,
}

fn simulate(geo: &Geography, parcels: u64) -> (Vec<Record>, Registry, DateTime<Utc>) {
    let start = DateTime::parse_from_rfc3339("2026-11-02T00:00:00+08:00").unwrap();
    let mut config = SimConfig::new(start, 1, parcels, 11);
    config.now = (start + Duration::days(4)).with_timezone(&Utc);
    let sim = Simulation::new(geo, config.clone()).unwrap();
    let mut records = Vec::new();
    let mut registry = Registry(HashMap::new());
    sim.run(
        |record| match record {
            Record::Facility(facility) => {
                registry.0.insert(facility.code.clone(), facility);
            }
            Record::Carrier(_) => {}
            record => records.push(record),
        },
        |_| {},
    );
    (records, registry, config.now)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let sample: u64 = args.next().map_or(333_334, |a| a.parse().unwrap());
    let days: i64 = args.next().map_or(30, |a| a.parse().unwrap());
    let replay: u64 = args.next().map_or(200_000, |a| a.parse().unwrap());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/yrd_geo/yrd_prefecture_cities.csv");
    let geo = Geography::from_csv(std::fs::File::open(path).unwrap()).unwrap();
    let limits = TimeLimits::default();

    // 1. Keeping the aggregates at ingest.
    let (records, registry, now) = simulate(&geo, replay);
    let ctx = Context { reference: &registry, time_limits: &limits };
    let mut parcels: HashMap<(CarrierCode, WaybillNo), Parcel> = HashMap::new();
    let mut summaries: HashMap<(CarrierCode, WaybillNo), ParcelSummary> = HashMap::new();
    let mut cube = Cube::new();
    let mut busy = std::time::Duration::ZERO;
    let mut busy_cpu = 0.0;
    let began_cpu = cpu_seconds();
    for record in &records {
        // Holding the record (a store reads the parcel's earlier records back) is not timed.
        let key = match record {
            Record::Waybill(waybill) => {
                let key = (waybill.carrier.clone(), waybill.waybill_no.clone());
                parcels.entry(key.clone()).or_default().waybill = Some((**waybill).clone());
                key
            }
            Record::Event(event) => {
                let key = (event.carrier.clone(), event.waybill_no.clone());
                parcels.entry(key.clone()).or_default().events.push((**event).clone());
                key
            }
            _ => continue,
        };
        let parcel = &parcels[&key];
        let old = summaries.remove(&key);
        let began = Instant::now();
        let began_cpu = cpu_seconds();
        let new = summarize(parcel.waybill.as_ref(), &parcel.events, &[], &ctx, now);
        cube.apply(old.as_ref(), new.as_ref());
        busy += began.elapsed();
        // The scheduler's clock advances in ticks, so one record's reading is coarse; summed over millions it is not.
        busy_cpu += cpu_seconds() - began_cpu;
        if let Some(summary) = new {
            summaries.insert(key, summary);
        }
    }
    let secs = busy.as_secs_f64();
    let cpu = cpu_seconds() - began_cpu;
    eprintln!(
        "maintenance: {} records of {} parcels; summarize + apply took {secs:.2} s wall = {:.2} µs a record, \
         {busy_cpu:.2} s CPU = {:.2} µs a record (the whole loop, holding records included, {cpu:.2} s CPU)",
        records.len(),
        parcels.len(),
        secs * 1e6 / records.len() as f64,
        busy_cpu * 1e6 / records.len() as f64
    );
    drop((records, parcels, summaries, cube));

    // 2. Slices of a cube of `sample × days` parcels; a sample of 0 skips them.
    if sample == 0 {
        return;
    }
    let (records, registry, now) = simulate(&geo, sample);
    let ctx = Context { reference: &registry, time_limits: &limits };
    let mut parcels: HashMap<(CarrierCode, WaybillNo), Parcel> = HashMap::new();
    for record in records {
        match record {
            Record::Waybill(waybill) => {
                let key = (waybill.carrier.clone(), waybill.waybill_no.clone());
                parcels.entry(key).or_default().waybill = Some(*waybill);
            }
            Record::Event(event) => {
                let key = (event.carrier.clone(), event.waybill_no.clone());
                parcels.entry(key).or_default().events.push(*event);
            }
            _ => {}
        }
    }
    let sample_summaries: Vec<ParcelSummary> = parcels
        .values()
        .filter_map(|parcel| summarize(parcel.waybill.as_ref(), &parcel.events, &[], &ctx, now))
        .collect();
    drop(parcels);
    let began = Instant::now();
    let mut cube = Cube::new();
    let mut n_parcels = 0u64;
    for day in 0..days {
        for summary in &sample_summaries {
            let mut shifted = summary.clone();
            shifted.accepted_at = shifted.accepted_at.map(|t| t - Duration::days(day));
            cube.apply(None, Some(&shifted));
            n_parcels += 1;
        }
    }
    eprintln!("cube: {n_parcels} parcels in {} cells, built in {:.1} s", cube.n_cells(), began.elapsed().as_secs_f64());

    let code = |text: &str| AdminCode::parse(text).unwrap();
    let last_day = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap();
    let slices: Vec<(&str, Filter, Vec<Dimension>)> = vec![
        ("everything, one total", Filter::default(), vec![]),
        (
            "one carrier by day",
            Filter { carrier: Some(CarrierCode::parse("zto").unwrap()), ..Filter::default() },
            vec![Dimension::Day],
        ),
        (
            "jurisdiction Jiangsu by origin city",
            Filter { regions: vec![code("320000")], ..Filter::default() },
            vec![Dimension::OriginCity],
        ),
        (
            "city pair Shanghai-Hangzhou, one week, by carrier",
            Filter {
                origin: Some(code("310100")),
                destination: Some(code("330100")),
                from_day: Some(last_day - Duration::days(6)),
                to_day: Some(last_day),
                ..Filter::default()
            },
            vec![Dimension::Carrier],
        ),
        (
            "every city pair by carrier",
            Filter::default(),
            vec![Dimension::Carrier, Dimension::OriginCity, Dimension::DestinationCity],
        ),
        (
            "Jiangsu over the whole month by destination city and day",
            Filter {
                regions: vec![code("320000")],
                from_day: Some(last_day - Duration::days(days - 1)),
                to_day: Some(last_day),
                ..Filter::default()
            },
            vec![Dimension::DestinationCity, Dimension::Day],
        ),
        (
            "by province pair and day",
            Filter::default(),
            vec![Dimension::OriginProvince, Dimension::DestinationProvince, Dimension::Day],
        ),
    ];
    for (name, filter, group_by) in &slices {
        let mut times = Vec::new();
        let mut n_groups = 0;
        for _ in 0..20 {
            let began = Instant::now();
            let groups = cube.slice(filter, group_by);
            let indicators: Vec<Indicators> = groups.iter().map(|(_, counters)| Indicators::from(counters)).collect();
            times.push(began.elapsed().as_secs_f64() * 1e3);
            n_groups = indicators.len();
        }
        times.sort_by(f64::total_cmp);
        eprintln!("slice {name:<58} {n_groups:>6} groups  median {:>7.2} ms  max {:>7.2} ms", times[10], times[19]);
    }
}
