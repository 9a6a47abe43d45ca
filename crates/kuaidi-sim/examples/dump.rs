//! Run with
//! ```sh
//! cargo run -p kuaidi-sim --example dump -- [parcels] [records.ndjson] [truth.ndjson]
//! ```
//!
//! Writes a small simulation (default 1,000 parcels over 2 days from 2026-11-10) to two NDJSON files, for looking at.

use kuaidi_sim::{write_ndjson, Geography, SimConfig, Simulation};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let parcels: u64 = args.next().map_or(Ok(1_000), |a| a.parse())?;
    let records = args.next().unwrap_or_else(|| "records.ndjson".to_owned());
    let truth = args.next().unwrap_or_else(|| "truth.ndjson".to_owned());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/yrd_geo/yrd_prefecture_cities.csv");
    let geo = Geography::from_csv(std::fs::File::open(path)?)?;
    let start = chrono::DateTime::parse_from_rfc3339("2026-11-10T00:00:00+08:00")?;
    let sim = Simulation::new(&geo, SimConfig::new(start, 2, parcels, 1))?;
    let stats = write_ndjson(&sim, std::fs::File::create(records)?, std::fs::File::create(truth)?)?;
    eprintln!("{stats:?}");
    Ok(())
}
