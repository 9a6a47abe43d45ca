//! The CPU time the server's threads use while it ingests, by thread name: the writer's own share is what limits the
//! throughput on a small machine, while the derivation helper, the flush and the checkpointer use the cores the
//! writer leaves idle (docs/BENCHMARKS.md). Read from Linux's `/proc/<pid>/task/<tid>/stat` every quarter second;
//! a thread that ends between two readings loses at most a quarter second of its time from the breakdown, which the
//! process's own total (`/proc/<pid>/stat`, which keeps the time of threads that ended) still counts.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

/// How often the threads are read.
const EVERY: Duration = Duration::from_millis(250);

/// The server's CPU seconds while it ingested.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServerCpu {
    /// The whole process, threads that ended included.
    pub total: f64,
    /// By thread name (Linux keeps the first 15 bytes of it), the threads of one name added up.
    pub threads: BTreeMap<String, f64>,
}

/// Watches a process's threads on a thread of its own until [`Watch::finish`].
pub struct Watch {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<ServerCpu>,
}

impl Watch {
    /// Starts watching `pid`; `None` where `/proc` does not show it (not Linux, or the process is gone).
    pub fn start(pid: u32) -> Option<Watch> {
        let proc = Path::new("/proc").join(pid.to_string());
        process_seconds(&proc)?; // `/proc` shows the process
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("bench-cpu".into())
            .spawn({
                let stop = Arc::clone(&stop);
                move || watch(&proc, &stop)
            })
            .ok()?;
        Some(Watch { stop, thread })
    }

    /// Reads the threads a last time and returns what they used since [`Watch::start`].
    pub fn finish(self) -> Option<ServerCpu> {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().ok()
    }
}

/// Reads the threads until `stop`, and returns what they used since the first reading.
fn watch(proc: &Path, stop: &AtomicBool) -> ServerCpu {
    // The first reading of every thread, and the latest of every thread seen, by thread id: its name and its seconds.
    let start: BTreeMap<String, (String, f64)> = threads(proc).into_iter().map(|(tid, n, s)| (tid, (n, s))).collect();
    let start_total = process_seconds(proc).unwrap_or(0.0);
    let mut seen: BTreeMap<String, (String, f64)> = BTreeMap::new();
    let mut total = start_total;
    loop {
        let last = stop.load(Ordering::Relaxed);
        for (tid, name, seconds) in threads(proc) {
            seen.insert(tid, (name, seconds));
        }
        if let Some(seconds) = process_seconds(proc) {
            total = seconds;
        }
        if last {
            break;
        }
        std::thread::sleep(EVERY);
    }
    let mut by_name: BTreeMap<String, f64> = BTreeMap::new();
    for (tid, (name, seconds)) in seen {
        let before = start.get(&tid).map_or(0.0, |(_, seconds)| *seconds);
        *by_name.entry(name).or_default() += seconds - before;
    }
    by_name.retain(|_, seconds| *seconds > 0.0);
    // Clock ticks are hundredths of a second: no more digits than that.
    by_name.values_mut().for_each(|seconds| *seconds = centi(*seconds));
    ServerCpu { total: centi(total - start_total), threads: by_name }
}

/// Every thread of the process: its id, name and CPU seconds (user and system).
fn threads(proc: &Path) -> Vec<(String, String, f64)> {
    let Ok(tasks) = std::fs::read_dir(proc.join("task")) else { return Vec::new() };
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| {
            let text = std::fs::read_to_string(task.path().join("stat")).ok()?;
            let (name, ticks) = parse_stat(&text)?;
            Some((task.file_name().to_string_lossy().into_owned(), name, seconds(ticks)))
        })
        .collect()
}

fn process_seconds(proc: &Path) -> Option<f64> {
    let text = std::fs::read_to_string(proc.join("stat")).ok()?;
    parse_stat(&text).map(|(_, ticks)| seconds(ticks))
}

fn centi(seconds: f64) -> f64 {
    (seconds * 100.0).round() / 100.0
}

fn seconds(ticks: u64) -> f64 {
    #[cfg(target_os = "linux")]
    let per_second = rustix::param::clock_ticks_per_second().max(1);
    #[cfg(not(target_os = "linux"))]
    let per_second = 100;
    ticks as f64 / per_second as f64
}

/// A `stat` line's name and its user plus system time in clock ticks (fields 14 and 15, proc(5)). The name is
/// between the first `(` and the last `)`, and may itself hold spaces and parentheses.
fn parse_stat(text: &str) -> Option<(String, u64)> {
    let (open, close) = (text.find('(')?, text.rfind(')')?);
    let name = text.get(open + 1..close)?.to_owned();
    // After the name: state (field 3), then fields 4 to 13, then utime and stime.
    let mut fields = text.get(close + 1..)?.split_ascii_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((name, user + system))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stat_line_gives_its_name_and_ticks() {
        let line = "4242 (tokio-rt-worker) R 1 4242 4242 0 -1 4194368 1046 0 0 0 731 95 0 0 20 0 9 0 1234 \
                    5000000 300 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 0 17 1 0 0 0 0 0";
        assert_eq!(parse_stat(line), Some(("tokio-rt-worker".into(), 826)));
        // A name with spaces and a closing parenthesis of its own.
        let odd = "7 (a b) c) S 1 7 7 0 -1 0 0 0 0 0 12 3 0 0 20 0 1 0 5 0 0";
        assert_eq!(parse_stat(odd), Some(("a b) c".into(), 15)));
        assert_eq!(parse_stat("7 (cut short) S 1 2"), None);
        assert_eq!(parse_stat("no name at all"), None);
        assert_eq!(parse_stat("7 (x) S 1 7 7 0 -1 0 0 0 0 0 many 3"), None);
    }

    /// The CPU seconds of this process's threads of one name, now.
    fn cpu_of(name: &str) -> f64 {
        threads(Path::new("/proc/self")).into_iter().filter(|(_, n, _)| n == name).map(|(_, _, s)| s).sum()
    }

    #[test]
    fn a_busy_thread_is_counted_under_its_name() {
        if !Path::new("/proc/thread-self/stat").exists() {
            return;
        }
        let watch = Watch::start(std::process::id()).expect("this process is in /proc");
        // Burns CPU until its own thread's `stat` shows a tenth of a second, however busy the machine, then stays
        // until the watch has read it a last time.
        let (done, wait) = std::sync::mpsc::channel::<()>();
        let busy = std::thread::Builder::new()
            .name("kuaidi-busy".into())
            .spawn(move || {
                let own = Path::new("/proc/thread-self/stat");
                let used = || std::fs::read_to_string(own).ok().and_then(|text| parse_stat(&text)).map(|(_, t)| t);
                let mut x = 0u64;
                while used().is_none_or(|ticks| seconds(ticks) < 0.1) {
                    for i in 0..1_000_000u64 {
                        x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
                    }
                }
                let _ = wait.recv();
                x
            })
            .unwrap();
        // Waits for the busy thread to have burnt its time.
        while cpu_of("kuaidi-busy") < 0.1 {
            std::thread::sleep(Duration::from_millis(20));
        }
        let cpu = watch.finish().unwrap();
        drop(done);
        busy.join().unwrap();
        let busy = cpu.threads.get("kuaidi-busy").copied().unwrap_or(0.0);
        assert!(busy >= 0.1, "the busy thread's time: {cpu:?}");
        assert!(cpu.total >= busy - 0.02, "the process's total holds its threads': {cpu:?}");
    }
}
