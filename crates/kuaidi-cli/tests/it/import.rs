//! `kuaidi import`: good lines stored, bad ones reported with their line numbers, re-imports idempotent, then traced.

use crate::support::{kuaidi, ndjson_lines, parcels, stderr, stdout, temp_dir};

#[test]
fn malformed_lines_are_reported_by_line_number_and_the_rest_stored() {
    let (dir, data) = temp_dir();
    let mut lines = ndjson_lines(&parcels(3));
    lines.insert(9, "{this is not json".to_owned());
    lines.insert(12, lines[8].replace("\"accept\"", "\"teleport\"").replace("-0\"", "-x\""));
    let file = dir.path().join("records.ndjson");
    std::fs::write(&file, lines.join("\n")).unwrap();

    let first = kuaidi(&data, &["--format", "json", "import", file.to_str().unwrap()]);
    assert!(first.status.success(), "{}", stderr(&first));
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["summary"], serde_json::json!({"accepted": 31, "duplicate": 0, "updated": 0, "rejected": 2}));
    let rejected_file = report["rejected_file"].as_str().unwrap();
    let rejected: Vec<serde_json::Value> =
        std::fs::read_to_string(rejected_file).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rejected[0]["line"], 10);
    assert_eq!(rejected[0]["code"], "invalid_json");
    assert_eq!(rejected[0]["text"], "{this is not json");
    assert_eq!(rejected[1]["line"], 13);
    assert_eq!((rejected[1]["field"].as_str(), rejected[1]["value"].as_str()), (Some("kind"), Some("teleport")));

    let second = kuaidi(&data, &["--format", "json", "import", file.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(report["summary"]["accepted"], 0);
    assert_eq!(report["summary"]["duplicate"], 31);
    assert_eq!(report["summary"]["updated"], 0);

    let trace = kuaidi(&data, &["trace", "YT0000000001"]);
    assert!(trace.status.success(), "{}", stderr(&trace));
    let text = stdout(&trace);
    assert!(text.contains("status: delivered") && text.contains("security_scan"), "{text}");
    assert!(text.contains("李*") && !text.contains("李四"), "{text}");

    let vehicle = kuaidi(
        &data,
        &[
            "--format",
            "json",
            "trace",
            "--vehicle",
            "沪A12345",
            "--from",
            "2026-11-11T00:00:00+08:00",
            "--to",
            "2026-11-12T00:00:00+08:00",
        ],
    );
    let view: serde_json::Value = serde_json::from_slice(&vehicle.stdout).unwrap();
    assert_eq!(view["parcels"].as_array().unwrap().len(), 3);
}

#[test]
fn a_csv_file_of_events_imports() {
    let (dir, data) = temp_dir();
    let reference = dir.path().join("reference.ndjson");
    std::fs::write(&reference, ndjson_lines(&parcels(0)).join("\n")).unwrap();
    assert!(kuaidi(&data, &["import", reference.to_str().unwrap()]).status.success());
    let csv = "event_id,carrier,waybill_no,kind,time,facility,operator,vehicle,next_facility,exception_code,signer\n\
               c1,yto,YT7000000001,accept,2026-11-11T09:00:00+08:00,YTO-SZ-01,C001,,,,\n\
               c2,yto,YT7000000001,delivered,2026-11-11T19:00:00+08:00,YTO-SH-SC,C002,,,,\n";
    let file = dir.path().join("events.csv");
    std::fs::write(&file, csv).unwrap();
    let out = kuaidi(&data, &["--format", "json", "import", file.to_str().unwrap()]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["accepted"], 1, "{report}");
    assert_eq!(report["summary"]["rejected"], 1, "{report}");
    let rejected = std::fs::read_to_string(report["rejected_file"].as_str().unwrap()).unwrap();
    assert!(rejected.contains("\"line\":3") && rejected.contains("\"field\":\"signer\""), "{rejected}");
}

#[test]
fn a_partner_csv_imports_through_a_mapping_and_a_misfit_names_the_column() {
    let (dir, data) = temp_dir();
    let reference = dir.path().join("reference.ndjson");
    std::fs::write(&reference, ndjson_lines(&kuaidi_store::testing::fixtures::reference()).join("\n")).unwrap();
    assert!(kuaidi(&data, &["import", reference.to_str().unwrap()]).status.success());
    let mapping = dir.path().join("partner.toml");
    std::fs::write(
        &mapping,
        "kind = \"events\"\ntime_format = \"%Y/%m/%d %H:%M\"\n\
         [columns]\nwaybill_no = \"运单号\"\nevent_id = \"流水号\"\nkind = \"操作\"\ntime = \"扫描时间\"\nfacility = \"网点\"\n\
         [constants]\ncarrier = \"yto\"\n[values.kind]\n\"收件\" = \"accept\"\n",
    )
    .unwrap();
    let facility = kuaidi_store::testing::fixtures::chain("yto", "YT0000000001")[0].facility.to_string();
    let file = dir.path().join("partner.csv");
    std::fs::write(
        &file,
        format!("流水号,运单号,操作,扫描时间,网点\ns1,YT7777777777,收件,2026/11/11 09:05,{facility}\ns2,YT7777777777,收件,yesterday,{facility}\n"),
    )
    .unwrap();
    let output =
        kuaidi(&data, &["--format", "json", "import", file.to_str().unwrap(), "--mapping", mapping.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["summary"]["accepted"], 1, "{report}");
    assert_eq!(report["summary"]["rejected"], 1, "{report}");
    let rejected = std::fs::read_to_string(report["rejected_file"].as_str().unwrap()).unwrap();
    assert!(rejected.contains("time (column `扫描时间`)") && rejected.contains("\"line\":3"), "{rejected}");

    // A file whose header lacks a mapped column fails whole, naming the column.
    let misfit = dir.path().join("misfit.csv");
    std::fs::write(&misfit, "流水号,单号,操作,扫描时间,网点\n").unwrap();
    let output = kuaidi(&data, &["import", misfit.to_str().unwrap(), "--mapping", mapping.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("`运单号`"), "{}", stderr(&output));
}
