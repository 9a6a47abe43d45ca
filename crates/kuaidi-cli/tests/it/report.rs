//! `kuaidi report` and `kuaidi compliance` on a simulated store and on imported fixtures, their JSON shape, the
//! rules file, and the errors that name the flag, the file and the key.

use kuaidi_model::Record;

use crate::support::{failure, imported_store, json, kuaidi, parcels, simulated_store, stderr, stdout, temp_dir};

const STATUSES: [&str; 4] = ["met", "not_met", "no_data", "no_target"];

fn row<'a>(report: &'a serde_json::Value, indicator: &str) -> &'a serde_json::Value {
    report["rows"].as_array().unwrap().iter().find(|row| row["indicator"] == indicator).unwrap()
}

#[test]
fn report_json_has_the_total_and_one_report_per_group() {
    let Some(data) = simulated_store() else { return };
    let view = json(data, &["report", "--group-by", "carrier"]);
    assert_eq!(view["group_by"], serde_json::json!(["carrier"]));
    assert_eq!(view["filter"]["carrier"], serde_json::Value::Null);
    let total = &view["total"];
    assert_eq!(total["parcels"], 2000);
    for row in total["rows"].as_array().unwrap() {
        assert!(STATUSES.contains(&row["status"].as_str().unwrap()), "{row}");
        let rate = &row["rate"];
        assert!(rate["numerator"].as_u64().unwrap() <= rate["denominator"].as_u64().unwrap(), "{row}");
        assert_eq!(rate["value"].is_null(), rate["denominator"] == 0, "{row}");
    }
    assert_eq!(row(total, "delay_rate")["target"]["comparison"], "at_most");
    assert_eq!(row(total, "e_waybill_share")["target"]["value"], 90.0);

    let groups = view["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 7, "the simulator's seven carriers");
    let parcels: u64 = groups.iter().map(|g| g["report"]["parcels"].as_u64().unwrap()).sum();
    assert_eq!(parcels, 2000);
    let e_waybills: u64 =
        groups.iter().map(|g| row(&g["report"], "e_waybill_share")["rate"]["numerator"].as_u64().unwrap()).sum();
    assert_eq!(e_waybills, row(total, "e_waybill_share")["rate"]["numerator"].as_u64().unwrap());

    // A filter gives that group's figures as the total.
    let carrier = groups[0]["carrier"].as_str().unwrap();
    let one = json(data, &["report", "--carrier", carrier]);
    assert_eq!(one["filter"]["carrier"], carrier);
    assert_eq!(one["total"], groups[0]["report"]);
    assert_eq!(one["groups"], serde_json::json!([]));
}

#[test]
fn report_slices_by_region_and_day() {
    let Some(data) = simulated_store() else { return };
    let by_day = json(data, &["report", "--group-by", "day,origin_province"]);
    let groups = by_day["groups"].as_array().unwrap();
    assert!(!groups.is_empty());
    assert!(groups.iter().all(|g| g["day"].is_string()), "{by_day}");
    let day = groups[0]["day"].as_str().unwrap();

    let total = by_day["total"]["parcels"].as_u64().unwrap();
    let jiangsu = json(data, &["report", "--region", "320000"])["total"]["parcels"].as_u64().unwrap();
    let from_jiangsu = json(data, &["report", "--origin", "320000"])["total"]["parcels"].as_u64().unwrap();
    assert!(0 < from_jiangsu && from_jiangsu <= jiangsu && jiangsu < total, "{from_jiangsu} {jiangsu} {total}");

    let that_day = json(data, &["report", "--from", day, "--to", day]);
    assert!(that_day["total"]["parcels"].as_u64().unwrap() > 0);
    let none = json(data, &["report", "--from", "2001-01-01", "--to", "2001-01-02"]);
    assert_eq!(none["total"]["parcels"], 0);
    assert!(none["total"]["rows"].as_array().unwrap().iter().all(|r| r["status"] != "met" && r["status"] != "not_met"));
    assert_eq!(row(&none["total"], "delay_rate")["status"], "no_data");
}

#[test]
fn report_table_marks_each_indicator_against_its_target() {
    let Some(data) = simulated_store() else { return };
    let out = kuaidi(data, &["report", "--group-by", "carrier"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.starts_with("Quality indicators against the delta plan's 2020 targets (all parcels)"), "{text}");
    assert!(text.contains("== total =="), "{text}");
    assert!(text.contains("== yto =="), "{text}");
    let delay = text.lines().find(|l| l.starts_with("delay rate (‰)")).unwrap();
    assert!(delay.contains("≤ 2") && (delay.ends_with(" met") || delay.ends_with("not met")), "{delay}");
    assert!(text.contains("no data"), "the 48 h class has no parcels in the delta-only simulation: {text}");
    assert!(text.contains("parcels accepted: 2000"), "{text}");
}

#[test]
fn report_errors_name_the_flag_and_the_value() {
    let (_dir, data) = temp_dir();
    let err = failure(&data, &["report", "--group-by", "carrier,city"]);
    assert!(err.contains("error: `--group-by` `city` must be one of carrier, origin_city"), "{err}");
    let err = failure(&data, &["report", "--group-by", "origin_city,origin_province"]);
    assert!(err.contains("`--group-by` cannot take `origin_province`"), "{err}");
    let err = failure(&data, &["report", "--from", "2026-13-01"]);
    assert!(err.contains("`--from` `2026-13-01` must be a day as YYYY-MM-DD"), "{err}");
    let err = failure(&data, &["report", "--to", "2026-11-11T00:00:00+08:00"]);
    assert!(err.contains("`--to` `2026-11-11T00:00:00+08:00`"), "{err}");
    let err = failure(&data, &["report", "--from", "2026-11-12", "--to", "2026-11-11"]);
    assert!(err.contains("`--from` `2026-11-12` is after `--to` `2026-11-11`"), "{err}");
    let err = failure(&data, &["report", "--region", "32050"]);
    assert!(err.contains("`--region` `32050` must be exactly 6 digits"), "{err}");
    let err = failure(&data, &["report", "--origin", "329900"]);
    assert!(err.contains("`--origin` `329900` is not a known division code"), "{err}");
    let err = failure(&data, &["report", "--carrier", "YTO"]);
    assert!(err.contains("`--carrier` `YTO`"), "{err}");
    assert!(!data.exists(), "a rejected command creates no data directory");
}

#[test]
fn a_rules_file_sets_the_limits_the_store_judges_by() {
    // The fixtures' parcel goes from Suzhou to Shanghai (two key cities of the delta) and is delivered in 6 hours:
    // on time against the plan's 12 hours, late against a rules file's 5.
    let records: Vec<Record> = parcels(3);
    let (dir, standard) = imported_store(&records, &[]);
    let rules = dir.path().join("rules.toml");
    std::fs::write(&rules, "[time_limits]\ndelta_key_hours = 5\n\n[stuck]\nat_origin_hours = 12\n").unwrap();
    let rules_flag = ["--rules", rules.to_str().unwrap()];
    let (_dir2, strict) = imported_store(&records, &rules_flag);

    let plain = json(&standard, &["report"]);
    assert_eq!(row(&plain["total"], "delay_rate")["rate"]["numerator"], 0);
    assert_eq!(row(&plain["total"], "attainment_delta_key")["rate"]["numerator"], 3);
    let mut args = rules_flag.to_vec();
    args.push("report");
    let judged = json(&strict, &args);
    assert_eq!(row(&judged["total"], "delay_rate")["rate"]["numerator"], 3, "{judged}");
    assert_eq!(row(&judged["total"], "delay_rate")["status"], "not_met");
    assert_eq!(row(&judged["total"], "attainment_delta_key")["label"], "5 h attainment, delta key cities (%)");

    // The option is read from the config file too, relative to it.
    let config = dir.path().join("kuaidi.toml");
    std::fs::write(&config, "rules = \"rules.toml\"\n").unwrap();
    let from_file = json(&strict, &["--config", config.to_str().unwrap(), "report"]);
    assert_eq!(from_file, judged);
}

#[test]
fn a_bad_rules_file_names_the_file_and_the_key() {
    let (dir, data) = temp_dir();
    let rules = dir.path().join("rules.toml");
    let path = rules.to_str().unwrap();
    let check = |text: &str, expected: &[&str]| {
        std::fs::write(&rules, text).unwrap();
        let err = failure(&data, &["--rules", path, "report"]);
        for part in expected {
            assert!(err.contains(part), "{text:?} gave {err}, expected {part:?}");
        }
    };
    check("[time_limits]\ndelta_hourz = 3\n", &[path, "in `[time_limits]`", "delta_hourz", "Hint: fix it"]);
    check("[stuck]\nin_transit_hours = 0\n", &[path, "`in_transit_hours` is `0`, but must be from 1 to"]);
    check("[stuck_limits]\n", &[path, "stuck_limits"]);
    check("[time_limits]\ndelta_key_cities = [\"110100\"]\n", &["`delta_key_cities[0]` is `110100`"]);
    let missing = failure(&data, &["--rules", "/nonexistent/rules.toml", "report"]);
    assert!(missing.contains("cannot read the rules file `/nonexistent/rules.toml`"), "{missing}");
    let from_env = std::process::Command::new(env!("CARGO_BIN_EXE_kuaidi"))
        .args(["--data-dir", data.to_str().unwrap(), "report"])
        .env("KUAIDI_RULES", "/nonexistent/env-rules.toml")
        .output()
        .unwrap();
    assert_eq!(from_env.status.code(), Some(1));
    assert!(stderr(&from_env).contains("/nonexistent/env-rules.toml"), "{}", stderr(&from_env));
}

#[test]
fn compliance_shows_coverage_by_group() {
    let Some(data) = simulated_store() else { return };
    let all = json(data, &["compliance"]);
    assert_eq!(all.as_array().unwrap().len(), 1);
    assert_eq!(all[0]["group"], "all");
    assert_eq!(all[0]["parcels"], 2000);
    for check in ["real_name", "inspection", "security_scan"] {
        let c = &all[0][check];
        let (passed, failed, pending) =
            (c["passed"].as_u64().unwrap(), c["failed"].as_u64().unwrap(), c["pending"].as_u64().unwrap());
        assert_eq!(passed + failed + pending, 2000, "{check}: {c}");
        let rate = c["rate"].as_f64().unwrap();
        assert!((rate - passed as f64 / (passed + failed) as f64).abs() < 1e-12, "{check}: {c}");
    }
    let by_carrier = json(data, &["compliance", "--group", "carrier"]);
    let groups = by_carrier.as_array().unwrap();
    assert_eq!(groups.len(), 7);
    assert_eq!(groups.iter().map(|g| g["parcels"].as_u64().unwrap()).sum::<u64>(), 2000);
    let carrier = groups[0]["group"].as_str().unwrap();
    let one = json(data, &["compliance", "--carrier", carrier]);
    assert_eq!(one[0]["parcels"], groups[0]["parcels"]);
    for group in ["outlet", "courier", "city", "day"] {
        let rows = json(data, &["compliance", "--group", group]);
        assert_eq!(rows.as_array().unwrap().iter().map(|g| g["parcels"].as_u64().unwrap()).sum::<u64>(), 2000);
    }
    let table = kuaidi(data, &["compliance", "--group", "city"]);
    assert!(stdout(&table).contains("江苏省"), "{}", stdout(&table));

    let err = failure(data, &["compliance", "--group", "province"]);
    assert!(err.contains("`--group` `province` must be one of all, carrier, outlet, courier, city, day"), "{err}");
    let err = failure(data, &["compliance", "--from", "11/11/2026"]);
    assert!(err.contains("`--from` `11/11/2026`"), "{err}");
}
