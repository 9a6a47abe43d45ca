//! Running the real `kuaidi` binary in a temporary data directory, and a server child process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use kuaidi_model::Record;
use kuaidi_store::testing::fixtures;

pub fn kuaidi(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kuaidi"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env_remove("KUAIDI_CONFIG")
        .env("KUAIDI_LOG", "warn")
        .output()
        .expect("the kuaidi binary runs")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The fixtures' reference data, one parcel's waybill and chain, as NDJSON lines.
pub fn ndjson_lines(records: &[Record]) -> Vec<String> {
    records.iter().map(|r| serde_json::to_string(&kuaidi_formats::encode_record(r)).unwrap()).collect()
}

/// Reference data and `n` parcels (waybill + 7 events each) as records.
pub fn parcels(n: usize) -> Vec<Record> {
    let mut records = fixtures::reference();
    for idx in 0..n {
        let no = format!("YT{idx:010}");
        records.push(Record::Waybill(Box::new(fixtures::waybill("yto", &no))));
        records.extend(fixtures::chain("yto", &no).into_iter().map(|e| Record::Event(Box::new(e))));
    }
    records
}

/// A `kuaidi serve` child on a free loopback port.
pub struct Server {
    pub child: Child,
    pub addr: String,
}

impl Server {
    pub fn start(data_dir: &Path) -> Server {
        Server::start_with(data_dir, &[])
    }

    /// A server with extra global options, such as `--database URL`.
    pub fn start_with(data_dir: &Path, options: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kuaidi"))
            .args(options)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--listen", "127.0.0.1:0", "serve"])
            .env("KUAIDI_LOG", "info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the server starts");
        let stderr = child.stderr.take().expect("piped stderr");
        let mut lines = BufReader::new(stderr).lines();
        let addr = loop {
            let line = lines.next().expect("the server logs its address before anything else fails").unwrap();
            if let Some(pos) = line.find("addr=") {
                let rest = &line[pos + 5..];
                break rest.split_whitespace().next().unwrap().to_owned();
            }
        };
        // Keep draining stderr so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Server { child, addr }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn temp_dir() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    (dir, data)
}

/// The shared delta geography beside the repository; `None` (after saying the test skipped) when it is absent,
/// except under CI, where its absence fails the test.
pub fn shared_geography() -> Option<PathBuf> {
    let geo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/yrd_geo/yrd_prefecture_cities.csv");
    if geo.exists() {
        return Some(geo);
    }
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{} is missing under CI", geo.display());
    eprintln!("skipped: {} not found", geo.display());
    None
}

/// A data directory holding the demo's simulated store of 2,000 parcels, made once per test run and shared by the
/// tests that only read it; `None` (after saying why) when the shared geography is absent.
pub fn simulated_store() -> Option<&'static Path> {
    static STORE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    STORE
        .get_or_init(|| {
            let geo = shared_geography()?;
            let data = Path::new(env!("CARGO_TARGET_TMPDIR")).join("kuaidi-cli-simulated-store");
            let _ = std::fs::remove_dir_all(&data);
            let out = kuaidi(&data, &["demo", "--parcels", "2000", "--no-serve", "--geo", geo.to_str().unwrap()]);
            assert!(out.status.success(), "{}", stderr(&out));
            // The demo's table output: its summary, then the indicator report and the alerts by kind.
            let text = stdout(&out);
            for part in ["parcels simulated", "alert scan at", "== total ==", "== yto ==", "ALERT KIND", "compliance"] {
                assert!(text.contains(part), "the demo printed no {part:?}: {text}");
            }
            Some(data)
        })
        .as_deref()
}

/// A private copy of [`simulated_store`], for tests that change it.
pub fn copy_of_simulated_store() -> Option<(tempfile::TempDir, PathBuf)> {
    let source = simulated_store()?;
    let (dir, data) = temp_dir();
    std::fs::create_dir_all(&data).unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), data.join(entry.file_name())).unwrap();
        }
    }
    Some((dir, data))
}

/// Imports the fixtures' reference data and records into a new data directory.
pub fn imported_store(records: &[Record], global: &[&str]) -> (tempfile::TempDir, PathBuf) {
    let (dir, data) = temp_dir();
    let file = dir.path().join("records.ndjson");
    std::fs::write(&file, ndjson_lines(records).join("\n")).unwrap();
    let mut args = global.to_vec();
    args.extend(["import", file.to_str().unwrap()]);
    let out = kuaidi(&data, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    (dir, data)
}

/// Runs a command that must succeed with `--format json` and parses its output.
pub fn json(data_dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--format", "json"];
    all.extend_from_slice(args);
    let out = kuaidi(data_dir, &all);
    assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{args:?}: {err}: {}", stdout(&out)))
}

/// Runs a command that must fail with exit code 1, and returns its stderr.
pub fn failure(data_dir: &Path, args: &[&str]) -> String {
    let out = kuaidi(data_dir, args);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {}{}", stdout(&out), stderr(&out));
    stderr(&out)
}
