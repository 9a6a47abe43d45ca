//! Run with
//! ```sh
//! cargo run --release -p kuaidi-sim --example throughput -- [parcels] [days] [path/to/yrd_prefecture_cities.csv]
//! ```
//!
//! Measures how fast the simulator generates: once streaming model records to nowhere, once writing NDJSON to
//! nowhere, and reports parcels, events and events per second on stderr.

use std::time::Instant;

use kuaidi_sim::{write_ndjson, Geography, SimConfig, Simulation};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let parcels: u64 = args.next().map_or(Ok(200_000), |a| a.parse())?;
    let days: u32 = args.next().map_or(Ok(7), |a| a.parse())?;
    let path = args.next().unwrap_or_else(|| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/yrd_geo/yrd_prefecture_cities.csv").to_owned()
    });
    let geo = Geography::from_csv(std::fs::File::open(&path)?)?;
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-05T00:00:00+08:00")?;
    let sim = Simulation::new(&geo, SimConfig::new(start, days, parcels, 1))?;

    let began = Instant::now();
    let stats = sim.run(|_| {}, |_| {});
    let secs = began.elapsed().as_secs_f64();
    eprintln!(
        "records only: {} parcels, {} events in {secs:.2} s = {:.0} events/s",
        stats.parcels,
        stats.events,
        stats.events as f64 / secs
    );

    let began = Instant::now();
    let stats = write_ndjson(&sim, std::io::sink(), std::io::sink())?;
    let secs = began.elapsed().as_secs_f64();
    eprintln!(
        "ndjson: {} events, {} MB in {secs:.2} s = {:.0} events/s, {:.0} MB/s",
        stats.events,
        stats.bytes / 1_000_000,
        stats.events as f64 / secs,
        stats.bytes as f64 / 1e6 / secs
    );
    Ok(())
}
