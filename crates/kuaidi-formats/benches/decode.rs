//! Decoding NDJSON lines into records: `decode_record` (the typed path, with the `Value` walker behind it) against
//! the walker alone, on the mix of a carrier's feed (a waybill and then eight scan events per parcel).
//!
//! Run with
//!
//! ```sh
//! cargo bench -p kuaidi-formats --bench decode
//! ```
//!
//! It prints, for each way, the lines decoded, the wall time and the thread's CPU time (from
//! `/proc/thread-self/schedstat`, Linux), and the CPU time per line. Each way runs three rounds over the same lines;
//! the best round is reported.

// A benchmark's figures are its output.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use kuaidi_formats::{decode_record, decode_value, DecodeError};
use kuaidi_model::Record;

const PARCELS: usize = 50_000;
const KINDS: [&str; 8] = ["accept", "inspect", "security_scan", "depart", "arrive", "depart", "arrive", "delivered"];

fn lines() -> Vec<String> {
    let mut lines = Vec::with_capacity(PARCELS * 9);
    for parcel in 0..PARCELS {
        let no = format!("YT{:012}", 3_000_000_000u64 + parcel as u64);
        lines.push(format!(
            r#"{{"type":"waybill","carrier":"yto","waybill_no":"{no}","product":"standard","electronic":true,"created_at":"2026-11-11T08:50:00+08:00","sender":{{"name":"张三","phone":"13800131234","division":"320505","address":"科技城路 1 号"}},"receiver":{{"name":"李四","phone":"13900135678","division":"310101","address":"南京东路 2 号"}},"real_name":{{"id_type":"resident_id","id_number":"11010519491231002X","verified":true}},"contents":{{"category":"服装","description":"T恤","weight_grams":500,"declared_value_fen":9900}}}}"#
        ));
        for (seq, kind) in KINDS.iter().enumerate() {
            lines.push(format!(
                r#"{{"type":"event","event_id":"{no}-{seq}","carrier":"yto","waybill_no":"{no}","kind":"{kind}","time":"2026-11-11T{:02}:00:00+08:00","facility":"YTO-SZ-0{seq}","operator":"C00{seq}","vehicle":"沪A1234{seq}"}}"#,
                9 + seq
            ));
        }
    }
    lines
}

fn walker(text: &str) -> Result<Record, DecodeError> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|err| DecodeError::Syntax(err.to_string()))?;
    decode_value(&value)
}

/// This thread's CPU time so far, when the kernel tells it.
fn thread_cpu() -> Option<Duration> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok().map(Duration::from_nanos)
}

fn run(name: &str, lines: &[String], decode: fn(&str) -> Result<Record, DecodeError>) {
    let mut best: Option<(Duration, Option<Duration>)> = None;
    for _ in 0..3 {
        let (wall, cpu) = (Instant::now(), thread_cpu());
        let mut ok = 0usize;
        for line in lines {
            ok += usize::from(std::hint::black_box(decode(line)).is_ok());
        }
        assert_eq!(ok, lines.len(), "{name}: every line is a valid record");
        let round = (wall.elapsed(), cpu.zip(thread_cpu()).map(|(start, end)| end - start));
        if best.is_none_or(|(wall, _)| round.0 < wall) {
            best = Some(round);
        }
    }
    let Some((wall, cpu)) = best else { return };
    let per_line = cpu.unwrap_or(wall).as_secs_f64() * 1e6 / lines.len() as f64;
    println!(
        "{name:<28} {} lines  wall {:.3} s  cpu {}  {per_line:.2} µs/line  {:.0} lines/s",
        lines.len(),
        wall.as_secs_f64(),
        cpu.map_or("n/a".to_owned(), |cpu| format!("{:.3} s", cpu.as_secs_f64())),
        1e6 / per_line,
    );
}

fn main() {
    let lines = lines();
    run("decode_record (typed path)", &lines, decode_record);
    run("Value walker alone", &lines, walker);
}
