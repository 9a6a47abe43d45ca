//! EPCIS conformance: the GS1 examples and OpenEPCIS's capture documents are accepted and round-trip, OpenEPCIS's
//! invalid documents are rejected with a specific error, and the GS1 event hashes are reproduced.

use std::path::{Path, PathBuf};

use kuaidi_formats::epcis::{self, EpcisEvent};
use kuaidi_formats::DecodeError;
use serde_json::Value;

use crate::support::{files, shared};

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// Reads any valid file: a capture document, a query document, or a single event.
fn parse_any(value: &Value) -> Result<Vec<EpcisEvent>, DecodeError> {
    match value.get("type").and_then(Value::as_str) {
        Some("EPCISQueryDocument") => epcis::parse_query_document(value),
        Some("EPCISDocument") | None if value.get("epcisBody").is_some() => epcis::parse_document(value),
        _ => epcis::parse_event(value).map(|event| vec![event]),
    }
}

/// The simplified-context examples that fail GS1's own JSON Schema (see the folder's SOURCE.md), so are not valid.
const SCHEMA_INVALID: &[&str] = &[
    "JSON-simple-context/Example-TransactionEvents-2020_07_03y.jsonld",
    "JSON-simple-context/WithFullCombinationOfFields/object_event_all_possible_fields.jsonld",
    "JSON-simple-context/WithSensorData/SensorDataExample12.jsonld",
    "JSON-simple-context/WithSensorData/SensorDataExample17.jsonld",
];

fn valid_files(root: &Path) -> Vec<PathBuf> {
    let mut out = files(&root.join("JSON"), &[".jsonld"]);
    out.extend(files(&root.join("JSON-simple-context"), &[".jsonld"]));
    out.extend(files(&root.join("XML/WithEventHashID"), &[".json"]));
    let openepcis = root.join("openepcis-test-resources/2.0/EPCIS/JSON");
    out.extend(files(&openepcis.join("Capture/Documents"), &[".json"]));
    out.extend(files(&openepcis.join("Capture/Events"), &[".json"]));
    out.extend(
        files(&openepcis.join("Query"), &[".json"]).into_iter().filter(|path| {
            !path.to_string_lossy().contains("/Invalid/") && !path.to_string_lossy().contains("/Queries/")
        }),
    );
    out.retain(|path| !SCHEMA_INVALID.iter().any(|invalid| path.ends_with(invalid)));
    out
}

#[test]
fn valid_documents_are_accepted() {
    let Some(root) = shared("conformance/epcis") else { return };
    let mut failures = Vec::new();
    let paths = valid_files(&root);
    for path in &paths {
        if let Err(err) = parse_any(&read(path)) {
            failures.push(format!("{}: {err}", path.strip_prefix(&root).unwrap().display()));
        }
    }
    assert!(paths.len() > 100, "found only {} valid files", paths.len());
    assert!(
        failures.is_empty(),
        "{} of {} valid files rejected:\n{}",
        failures.len(),
        paths.len(),
        failures.join("\n")
    );
}

#[test]
fn valid_documents_round_trip() {
    let Some(root) = shared("conformance/epcis") else { return };
    for path in valid_files(&root) {
        let Ok(events) = parse_any(&read(&path)) else { continue };
        for event in events {
            // Each stored event stands on its own: read back, it is the same event with the same hash.
            let again = epcis::parse_event(&event.body).unwrap_or_else(|err| panic!("{}: {err}", path.display()));
            assert_eq!(again.hash, event.hash, "{}", path.display());
            assert_eq!(again.body, event.body, "{}", path.display());
            assert_eq!(again.epcs, event.epcs);
            assert_eq!(again.event_time, event.event_time);
            // Through Kuaidi's model, when the event is a parcel's: the scan event exports and reads back the same.
            if let Some(Ok(scan)) = epcis::to_scan_event(&event) {
                let exported = epcis::parse_event(&epcis::scan_event_to_epcis(&scan)).unwrap();
                assert_eq!(epcis::to_scan_event(&exported).unwrap().unwrap(), scan);
            }
        }
    }
}

#[test]
fn invalid_documents_are_rejected() {
    let Some(root) = shared("conformance/epcis") else { return };
    let dir = root.join("openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid");
    let paths = files(&dir, &[".json"]);
    assert_eq!(paths.len(), 15);
    let mut report = Vec::new();
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        match epcis::parse_document(&read(path)) {
            Ok(_) => report.push(format!("{name}: ACCEPTED")),
            Err(DecodeError::Field(err)) => report.push(format!("{name}: {} at `{}`", err.code(), err.field())),
            Err(other) => report.push(format!("{name}: {other}")),
        }
    }
    let report = report.join("\n");
    eprintln!("{report}");
    assert!(!report.contains("ACCEPTED"), "{report}");
}

#[test]
fn gs1_event_hashes_are_reproduced() {
    let Some(root) = shared("conformance/epcis") else { return };
    let (mut n_vectors, mut mismatches) = (0, Vec::new());
    for path in valid_files(&root) {
        let Ok(events) = parse_any(&read(&path)) else { continue };
        for event in events {
            let Some(given) = event.event_id.as_deref().filter(|id| id.starts_with("ni:///sha-256;")) else { continue };
            n_vectors += 1;
            if given != event.hash {
                mismatches.push(format!(
                    "{}: given {given}, computed {}\n  pre-hash: {}",
                    path.strip_prefix(&root).unwrap().display(),
                    event.hash,
                    epcis::hash::pre_hash(&event.body, &event.namespaces)
                ));
            }
        }
    }
    let n_reproduced = n_vectors - mismatches.len();
    eprintln!("{n_reproduced} of {n_vectors} hash vectors reproduced; the others:\n{}", mismatches.join("\n"));
    // The standard's worked examples (9.6.1 to 9.6.4, and their copies) are reproduced exactly.
    for example in
        ["Example_9.6.1-ObjectEvent.jsonld", "Example_9.6.2", "Example_9.6.3-AggregationEvent.jsonld", "Example_9.6.4"]
    {
        assert!(!mismatches.iter().any(|m| m.contains(example)), "{example} differs:\n{}", mismatches.join("\n"));
    }
    // FIXME: 62 of the 105 `ni:` eventIDs in the shared files are not reproduced. Several are provably stale copies
    // (`5f7c47...` stands on three different events; the `with-comment` example carries other hashes than the same
    // events without the comment), but the sensor-data, error-declaration and digital-link examples also differ, so
    // the algorithm here (reconstructed from the 9.6.x vectors) may still differ from GS1's for those parts.
    assert!(n_reproduced >= 43, "fewer hash vectors reproduced than before: {n_reproduced} of {n_vectors}");
}
