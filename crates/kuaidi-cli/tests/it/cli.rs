//! Commands and exit codes: `keys`, `trace`, `simulate`, usage errors, and errors that name the fix.

use kuaidi_model::{Record, ScanEvent, Waybill};

use crate::support::{kuaidi, stderr, stdout, temp_dir};

#[test]
fn keys_create_prints_only_the_key_and_list_shows_no_secret() {
    let (_dir, data) = temp_dir();
    let created =
        kuaidi(&data, &["keys", "create", "--role", "regulator", "--jurisdiction", "320000,310000", "--label", "苏沪"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let secret = stdout(&created);
    assert_eq!(secret.lines().count(), 1);
    assert!(secret.trim().starts_with("kd_"), "{secret}");

    let listed = kuaidi(&data, &["--format", "json", "keys", "list"]);
    let keys: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(keys[0]["role"], "regulator");
    assert_eq!(keys[0]["scope"], "320000,310000");
    assert!(!stdout(&listed).contains(secret.trim()));

    let id = keys[0]["id"].as_str().unwrap();
    assert!(kuaidi(&data, &["keys", "revoke", id]).status.success());
    let again = kuaidi(&data, &["keys", "revoke", "key_nope"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("error: no key has the id `key_nope`"), "{}", stderr(&again));
}

#[test]
fn bad_input_exits_1_and_usage_errors_exit_2() {
    let (_dir, data) = temp_dir();
    let bad_role = kuaidi(&data, &["keys", "create", "--role", "root"]);
    assert_eq!(bad_role.status.code(), Some(1));
    assert!(stderr(&bad_role).contains("must be one of admin, regulator, carrier"), "{}", stderr(&bad_role));

    let usage = kuaidi(&data, &["keys", "create"]);
    assert_eq!(usage.status.code(), Some(2));
    assert_eq!(kuaidi(&data, &["frobnicate"]).status.code(), Some(2));
    assert!(kuaidi(&data, &["--help"]).status.success());

    let missing_config = kuaidi(&data, &["--config", "/nonexistent/kuaidi.toml", "keys", "list"]);
    assert_eq!(missing_config.status.code(), Some(1));
    assert!(stderr(&missing_config).contains("/nonexistent/kuaidi.toml"), "{}", stderr(&missing_config));

    let bad_time = kuaidi(&data, &["serve", "--replay-until", "yesterday"]);
    assert_eq!(bad_time.status.code(), Some(2));
    assert!(stderr(&bad_time).contains("`yesterday` is not an RFC 3339 time"), "{}", stderr(&bad_time));

    let not_found = kuaidi(&data, &["trace", "YT0000000404"]);
    assert_eq!(not_found.status.code(), Some(1));
    assert!(stderr(&not_found).contains("waybill_not_found"), "{}", stderr(&not_found));
}

#[test]
fn a_config_file_is_read_and_flags_override_it() {
    let (dir, data) = temp_dir();
    let config = dir.path().join("kuaidi.toml");
    std::fs::write(&config, "format = \"json\"\nunknown_option = 1\n").unwrap();
    let rejected = kuaidi(&data, &["--config", config.to_str().unwrap(), "keys", "list"]);
    assert_eq!(rejected.status.code(), Some(1));
    assert!(stderr(&rejected).contains("unknown_option"), "{}", stderr(&rejected));

    std::fs::write(&config, "format = \"json\"\n").unwrap();
    let json = kuaidi(&data, &["--config", config.to_str().unwrap(), "keys", "list"]);
    assert_eq!(stdout(&json).trim(), "[]");
    let table = kuaidi(&data, &["--config", config.to_str().unwrap(), "--format", "table", "keys", "list"]);
    assert!(stdout(&table).starts_with("ID"), "{}", stdout(&table));
}

#[test]
fn demo_runs_end_to_end_on_2000_parcels() {
    let Some(geo) = crate::support::shared_geography() else { return };
    let (_dir, data) = temp_dir();
    let out =
        kuaidi(&data, &["--format", "json", "demo", "--parcels", "2000", "--no-serve", "--geo", geo.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["parcels"], 2000);
    assert_eq!(report["ingest"]["rejected"], 0, "{report}");
    assert_eq!(report["waybills_stored"], 2000);
    let sent = report["events_sent"].as_u64().unwrap();
    let duplicates = report["ingest"]["duplicate"].as_u64().unwrap();
    assert_eq!(report["events_stored"].as_u64().unwrap(), sent - duplicates, "{report}");
    assert!(sent > 10_000, "{report}");

    // After ingest: the alert scan at the simulation's clock, the indicator report by carrier and in total, and
    // the alerts by kind.
    assert!(report["sim_now"].as_str().unwrap().ends_with("+08:00"), "{report}");
    assert!(report["sweep"]["examined"].is_u64(), "{report}");
    let indicators = &report["indicators"];
    assert_eq!(indicators["group_by"], serde_json::json!(["carrier"]));
    assert_eq!(indicators["total"]["parcels"], 2000);
    let groups = indicators["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 7);
    assert_eq!(groups.iter().map(|g| g["report"]["parcels"].as_u64().unwrap()).sum::<u64>(), 2000);
    let delay = &indicators["total"]["rows"][0];
    assert_eq!(delay["indicator"], "delay_rate");
    assert!(["met", "not_met", "no_data"].contains(&delay["status"].as_str().unwrap()), "{delay}");
    let alerts = report["alerts_by_kind"].as_object().unwrap();
    let kinds: Vec<&str> = alerts.keys().map(String::as_str).collect();
    assert_eq!(kinds, ["compliance", "impossible_chain", "loss", "prohibited_item", "stuck"]);
    assert!(alerts["compliance"].as_u64().unwrap() > 0, "the simulator injects compliance faults: {report}");
    assert!(report["alerts_cleared"].as_u64().is_some(), "{report}");

    // The store is kept for later commands.
    let trace = kuaidi(
        &data,
        &[
            "--format",
            "json",
            "trace",
            "--operator",
            "x",
            "--from",
            "2000-01-01T00:00:00Z",
            "--to",
            "2100-01-01T00:00:00Z",
        ],
    );
    assert!(trace.status.success(), "{}", stderr(&trace));
}

#[test]
fn simulate_is_deterministic_and_says_what_is_missing() {
    let (dir, data) = temp_dir();
    let missing = kuaidi(
        &data,
        &["simulate", "--parcels", "10", "--out", dir.path().to_str().unwrap(), "--geo", "/nonexistent.csv"],
    );
    assert_eq!(missing.status.code(), Some(1));
    assert!(stderr(&missing).contains("/nonexistent.csv"), "{}", stderr(&missing));
    let Some(geo) = crate::support::shared_geography() else { return };
    let run = |out: &str| {
        let out_dir = dir.path().join(out);
        let output = simulate_500(&data, &out_dir, &geo, &[], &[]);
        assert!(output.status.success(), "{}", stderr(&output));
        std::fs::read(out_dir.join("records.ndjson")).unwrap()
    };
    assert_eq!(run("a"), run("b"));
}

#[test]
fn simulate_writes_parquet_equal_to_the_ndjson_unless_told_not_to() {
    let Some(geo) = crate::support::shared_geography() else { return };
    let (dir, data) = temp_dir();
    let simulate = |out: &std::path::Path, extra: &[&str]| {
        let output = simulate_500(&data, out, &geo, &["--format", "json"], extra);
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };

    let out = dir.path().join("with");
    let report = simulate(&out, &[]);
    assert_eq!(report["events_parquet_file"], out.join("events.parquet").to_str().unwrap());
    assert_eq!(report["waybills_parquet_file"], out.join("waybills.parquet").to_str().unwrap());
    let mut events = Vec::new();
    let mut waybills = Vec::new();
    for line in std::fs::read_to_string(out.join("records.ndjson")).unwrap().lines() {
        match kuaidi_formats::decode_record(line).unwrap() {
            Record::Event(event) => events.push(*event),
            Record::Waybill(waybill) => waybills.push(*waybill),
            Record::Carrier(_) | Record::Facility(_) | Record::Complaint(_) => {}
        }
    }
    assert_eq!(report["events"], events.len());
    assert_eq!(report["waybills"], waybills.len());
    let parquet_events =
        kuaidi_formats::parquet::read_events_parquet(std::fs::File::open(out.join("events.parquet")).unwrap()).unwrap();
    let parquet_waybills =
        kuaidi_formats::parquet::read_waybills_parquet(std::fs::File::open(out.join("waybills.parquet")).unwrap())
            .unwrap();
    // Compared as wire JSON as well: model equality of times ignores the offset, the wire text does not.
    let events_json = |events: &[ScanEvent]| -> Vec<serde_json::Value> {
        events.iter().map(|event| serde_json::to_value(kuaidi_formats::encode_event(event)).unwrap()).collect()
    };
    let waybills_json = |waybills: &[Waybill]| -> Vec<serde_json::Value> {
        waybills.iter().map(|waybill| serde_json::to_value(kuaidi_formats::encode_waybill(waybill)).unwrap()).collect()
    };
    assert_eq!(parquet_events, events);
    assert_eq!(events_json(&parquet_events), events_json(&events));
    assert_eq!(parquet_waybills, waybills);
    assert_eq!(waybills_json(&parquet_waybills), waybills_json(&waybills));

    let bare = dir.path().join("without");
    let report = simulate(&bare, &["--no-parquet"]);
    assert!(report.get("events_parquet_file").is_none(), "{report}");
    assert!(!bare.join("events.parquet").exists() && !bare.join("waybills.parquet").exists());
    assert_eq!(std::fs::read(bare.join("records.ndjson")).unwrap(), std::fs::read(out.join("records.ndjson")).unwrap());
    assert_eq!(std::fs::read(bare.join("truth.ndjson")).unwrap(), std::fs::read(out.join("truth.ndjson")).unwrap());
}

/// Simulates 500 parcels from a fixed start into `out`; `global` options go before the command, `extra` after it.
fn simulate_500(
    data: &std::path::Path,
    out: &std::path::Path,
    geo: &std::path::Path,
    global: &[&str],
    extra: &[&str],
) -> std::process::Output {
    let mut args = global.to_vec();
    args.extend(["simulate", "--parcels", "500", "--start", "2026-11-01T00:00:00+08:00"]);
    args.extend(["--out", out.to_str().unwrap(), "--geo", geo.to_str().unwrap()]);
    args.extend_from_slice(extra);
    kuaidi(data, &args)
}

#[test]
fn bench_ingest_reports_throughput_lookups_and_the_servers_cpu() {
    let Some(geo) = crate::support::shared_geography() else { return };
    let (_dir, data) = crate::support::temp_dir();
    let args = [
        "--format",
        "json",
        "bench",
        "ingest",
        "--parcels",
        "300",
        "--lookups",
        "40",
        "--reverse-lookups",
        "20",
        "--geo",
    ];
    let output = crate::support::kuaidi(&data, &[&args[..], &[geo.to_str().unwrap()]].concat());
    assert!(output.status.success(), "{}", crate::support::stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let (sent, stored) = (report["events_sent"].as_u64().unwrap(), report["events_stored"].as_u64().unwrap());
    assert!(sent > 1000 && stored > 0 && stored <= sent, "{report}");
    assert_eq!(report["lookups"], 40, "{report}");
    assert!(report["events_per_second"].as_f64().unwrap() > 0.0, "{report}");
    // The sampled scans name vehicles and operators; each one's reverse trace finds parcels.
    for kind in ["reverse_vehicle", "reverse_operator"] {
        let reverse = &report[kind];
        let n = reverse["lookups"].as_u64().unwrap();
        assert!(n > 0 && n <= 20, "{kind}: {report}");
        assert!(reverse["p99_ms"].as_f64().unwrap() >= reverse["p50_ms"].as_f64().unwrap(), "{kind}: {report}");
        assert!(reverse["parcels_max"].as_u64().unwrap() >= 1, "{kind}: {report}");
        assert!(reverse["parcels_mean"].as_f64().unwrap() > 0.0, "{kind}: {report}");
    }
    // The server was stopped cleanly and wrote its pending states: the store opened after it re-derived nothing.
    let stderr = crate::support::stderr(&output);
    assert!(!stderr.contains("re-deriving parcels"), "{stderr}");
    if std::path::Path::new("/proc/self/task").exists() {
        // The request threads stored the records; the process's total holds every thread's time.
        let cpu = &report["server_cpu"];
        let total = cpu["total"].as_f64().unwrap();
        let requests = cpu["threads"]["tokio-rt-worker"].as_f64().unwrap_or(0.0);
        assert!(total > 0.0 && total + 0.05 >= requests, "{report}");
    } else {
        assert!(report["server_cpu"].is_null(), "{report}");
    }
}

#[test]
fn bench_epcis_stores_the_same_events_both_ways() {
    let Some(geo) = crate::support::shared_geography() else { return };
    let (_dir, data) = crate::support::temp_dir();
    let output = crate::support::kuaidi(
        &data,
        &[
            "--format",
            "json",
            "bench",
            "epcis",
            "--parcels",
            "200",
            "--request-events",
            "300",
            "--geo",
            geo.to_str().unwrap(),
        ],
    );
    assert!(output.status.success(), "{}", crate::support::stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let sent = report["native"]["events_sent"].as_u64().unwrap();
    assert!(sent > 1000, "{report}");
    assert_eq!(report["epcis"]["events_sent"], sent);
    // The simulator's deliberate duplicates are stored once, the same in both modes.
    let stored = report["native"]["events_stored"].as_u64().unwrap();
    assert!(stored > 0 && stored <= sent, "{report}");
    assert_eq!(report["epcis"]["events_stored"], stored, "{report}");
    assert!(report["epcis_to_native"].as_f64().unwrap() > 0.0);
}
