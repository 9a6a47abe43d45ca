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

/// The capture endpoint's path (`split_document_text`, each event parsed from its own text) gives exactly what
/// `parse_document_events_owned` gives on the whole document, for every capture document, valid or not; and it
/// declines (`None`) what is not plain JSON, so that the caller's fallback gives the usual error.
#[test]
fn events_split_from_the_text_equal_events_parsed_from_the_document() {
    let Some(root) = shared("conformance/epcis") else { return };
    let invalid = files(&root.join("openepcis-test-resources/2.0/EPCIS/JSON/Capture/Invalid"), &[".json"]);
    let mut n_compared = 0;
    for path in valid_files(&root).into_iter().chain(invalid) {
        let text = std::fs::read(&path).unwrap();
        let value: Value = serde_json::from_slice(&text).unwrap();
        if value.get("type").and_then(Value::as_str) != Some("EPCISDocument") {
            continue;
        }
        let render = |events: Result<Vec<Result<EpcisEvent, DecodeError>>, DecodeError>| match events {
            Ok(events) => events
                .into_iter()
                .map(|event| match event {
                    Ok(event) => format!("{} {}", event.hash, event.body),
                    Err(err) => format!("error: {err}"),
                })
                .collect::<Vec<_>>(),
            Err(err) => vec![format!("document error: {err}")],
        };
        let whole = render(epcis::parse_document_events_owned(value));
        let split = render(epcis::split_document_text(&text).map(|split| {
            let (namespaces, events) = split.expect("a plain document is split");
            events
                .into_iter()
                .enumerate()
                .map(|(idx, raw)| {
                    let event: Value = serde_json::from_str(raw.get()).unwrap();
                    epcis::parse_document_event(event, &namespaces, idx)
                })
                .collect()
        }));
        assert_eq!(split, whole, "{}", path.display());
        n_compared += 1;
    }
    assert!(n_compared > 20, "compared only {n_compared} capture documents");

    for odd in [
        &b"{\"epcisBody\": {\"eventList\": {}}}"[..],
        b"{\"epcisBody\": 1}",
        b"[1, 2",
        b"{\"epcisBody\": {\"eventList\": []}, \"epcisBody\": 2}",
    ] {
        assert!(epcis::split_document_text(odd).unwrap().is_none(), "{}", String::from_utf8_lossy(odd));
    }
}

/// Why a GS1 hash vector is not reproduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Unreproduced {
    /// The same `ni:` eventID stands on events that differ (their canonical forms differ), so at most one of them can
    /// carry its true hash: the others are copies of an eventID that was not recomputed.
    StaleCopy,
    /// Reproduced when the pre-hash is spelt as an earlier draft of the reference implementation spelt it: CBV words
    /// as `https://ns.gs1.org/voc/<List>-<word>` web URIs and extension names as `{namespace}local`. The ratified
    /// algorithm (and the 9.6.x worked examples) write the URN form, so these vectors predate it.
    EarlierDraft,
    /// Not reproduced by the ratified rules nor by the earlier draft's spellings, and not provably stale.
    Unexplained,
}

/// The pre-hash as the earlier draft spelt it (see [`Unreproduced::EarlierDraft`]).
fn earlier_draft_pre_hash(pre_hash: &str, namespaces: &epcis::Namespaces) -> String {
    let mut out = pre_hash.to_owned();
    for (urn, web) in [
        ("urn:epcglobal:cbv:bizstep:", "https://ns.gs1.org/voc/Bizstep-"),
        ("urn:epcglobal:cbv:disp:", "https://ns.gs1.org/voc/Disp-"),
        ("urn:epcglobal:cbv:btt:", "https://ns.gs1.org/voc/BTT-"),
        ("urn:epcglobal:cbv:sdt:", "https://ns.gs1.org/voc/SDT-"),
        ("urn:epcglobal:cbv:er:", "https://ns.gs1.org/voc/ER-"),
    ] {
        out = out.replace(urn, web);
    }
    for iri in namespaces.declared().values().filter_map(Value::as_str) {
        out = out.replace(iri, &format!("{{{iri}}}"));
    }
    out
}

fn sha256_ni(pre_hash: &str) -> String {
    use sha2::{Digest, Sha256};
    let hex: String = Sha256::digest(pre_hash.as_bytes()).iter().map(|byte| format!("{byte:02x}")).collect();
    format!("ni:///sha-256;{hex}?ver=CBV2.0")
}

#[test]
fn gs1_event_hashes_are_reproduced() {
    let Some(root) = shared("conformance/epcis") else { return };
    // (file, given eventID, computed hash, pre-hash, namespaces) of every vector.
    let mut vectors = Vec::new();
    for path in valid_files(&root) {
        let Ok(events) = parse_any(&read(&path)) else { continue };
        for event in events {
            let Some(given) = event.event_id.clone().filter(|id| id.starts_with("ni:///sha-256;")) else { continue };
            let pre_hash = epcis::hash::pre_hash(&event.body, &event.namespaces);
            let file = path.strip_prefix(&root).unwrap().display().to_string();
            vectors.push((file, given, event.hash.clone(), pre_hash, event.namespaces.clone()));
        }
    }
    let mut reasons = Vec::new();
    for (file, given, computed, pre_hash, namespaces) in &vectors {
        if given == computed {
            continue;
        }
        let others_differ = vectors
            .iter()
            .any(|(_, other_given, other_computed, _, _)| other_given == given && other_computed != computed);
        let reason = if others_differ {
            Unreproduced::StaleCopy
        } else if sha256_ni(&earlier_draft_pre_hash(pre_hash, namespaces)) == *given {
            Unreproduced::EarlierDraft
        } else {
            Unreproduced::Unexplained
        };
        reasons.push((reason, file.clone(), given.clone(), pre_hash.clone()));
    }
    reasons.sort();
    let n_vectors = vectors.len();
    let n_reproduced = n_vectors - reasons.len();
    let count = |reason| reasons.iter().filter(|(r, ..)| *r == reason).count();
    let listing: Vec<String> = reasons
        .iter()
        .map(|(reason, file, given, pre_hash)| format!("{reason:?}: {file}: {given}\n  pre-hash: {pre_hash}"))
        .collect();
    eprintln!("{n_reproduced} of {n_vectors} hash vectors reproduced; the others:\n{}", listing.join("\n"));
    // The standard's worked examples (9.6.1 to 9.6.4, and their copies) are reproduced exactly.
    for example in
        ["Example_9.6.1-ObjectEvent.jsonld", "Example_9.6.2", "Example_9.6.3-AggregationEvent.jsonld", "Example_9.6.4"]
    {
        assert!(!listing.iter().any(|m| m.contains(example)), "{example} differs:\n{}", listing.join("\n"));
    }
    // The same event in two files carries one hash: the second event of `Example_9.6.1-with-comment` is the second of
    // 9.6.1 (reproduced) and yet carries another eventID, which the earlier draft's spelling gives; no single
    // algorithm can reproduce both, so the earlier-draft vectors stay unreproduced by design.
    assert_eq!(count(Unreproduced::EarlierDraft), 6, "{}", listing.join("\n"));
    // FIXME: the vectors below are not reproduced and not explained. They are the sensor-data examples, the
    // persistent-disposition and error-declaration examples, the first event of the digital-link 9.6.1 example (its
    // second event is reproduced) and the `*_all_possible_fields` documents. Tried, vector by vector, without a
    // match (a brute-force search over the combinations, recorded in the report of the formats3 branch): CBV values
    // as URNs or as `ns.gs1.org`, `gs1.org/voc` or `ref.gs1.org/cbv` web URIs; EPCs as URNs or GS1 Digital Links;
    // digital links moved to `id.gs1.org`; numbers with and without trailing zeros; sensor `time` in UTC or as
    // written; measurement types bare, `gs1:`-prefixed or expanded; `{namespace}` extension names; type before
    // the identifier in business transactions, sources and destinations; the error declaration and the persistent
    // disposition at every position. They are most likely hashes of earlier versions of those examples.
    // Second pass (hash branch), after reading the reference implementations (RalphTro/epcis-event-hash-generator,
    // Python, and openepcis/openepcis-event-hash-generator, Java): neither is one fixed algorithm, both changed
    // over time, and none of the versions read spells CBV words as URNs as the reproduced vectors do (the Python
    // one turns them into `ns.gs1.org/voc` and later `ref.gs1.org/cbv` web URIs and EPC URNs into digital links;
    // the Java one builds its pre-hash with line breaks between fields). Their differences from ours were each tried on these vectors, alone and
    // combined, without a match: `errorDeclaration` left out (both references' current versions skip it), placed
    // after `eventTimeZoneOffset` (the Java template order), its children in every order, its reason as URN, bare
    // or web URI, its corrective IDs wrapped or not; `certificationInfo` right after `eventTimeZoneOffset` (both
    // references' order); a field named `time` left as written (the older Python tests `find("time") > 0`);
    // sensor types bare, `gs1:`-prefixed, `gs1.org/voc/` or `MeasurementType-` IRIs; device IDs as digital
    // links; persistent-disposition values as URNs, bare or web URIs, in either order, wrapped once, per value or
    // not, at their place or at the end. The count below is unchanged.
    // Third pass (hash3 branch), empirical: the reference implementations were RUN on every file of the folder and
    // their hashes compared with every given eventID (tools installed outside the repository, never needed by the
    // tests). Python `epcis-event-hash-generator` 1.5.0, 1.6.0, 1.6.1, 1.6.2 (2021; fed the documents with `type`
    // renamed to their `isA` too), 1.7.0, 1.8.0 and 1.9.0-1.9.3 (2023, all on PyPI), and the npm `epcis2.js` 2.7.3
    // (the only versions its registry offers here): none gives ANY of the 105 eventIDs, not even the 43 that ours
    // reproduces, for no event of any file. Their pre-hashes show why: 1.5-1.6 spell EPCs as digital links and CBV
    // words bare or as `ns.gs1.org/voc` URIs; 1.7-1.9.3 (all one algorithm) write EPCs, device IDs and any URL with a
    // GS1 key path (`example.org/8004/...`) as `id.gs1.org` digital links, CBV words as `ref.gs1.org/cbv` URIs, sensor
    // types as `gs1.org/voc` URIs, a transaction's type before its identifier, and leave out `errorDeclaration`.
    // The URN spelling of the 43 reproduced vectors (and of the 9.6.x worked examples) comes from none of them; the
    // OpenEPCIS Java generator could not be run (Maven Central and GitHub are out of reach here; its code needs
    // OpenEPCIS's own artefacts), and the Python git commits between 1.6.2 (May 2021) and 1.7.0 (Feb 2023), the
    // likeliest source, are not published as packages. The differences these runs revealed that the earlier passes
    // had not tried (URLs with a GS1 key path on any host moved to `id.gs1.org` or to GIAI URNs, device IDs as
    // digital links) were tried on the 62 unreproduced vectors, combined with sensor types in four spellings, type
    // before identifier, the error declaration dropped and CBV words in five spellings (480 combinations): only 3
    // of the earlier-draft vectors, already counted, match. So the 42 stay unexplained, and the algorithm is unchanged.
    assert_eq!(
        (n_vectors, n_reproduced, count(Unreproduced::StaleCopy), count(Unreproduced::Unexplained)),
        (105, 43, 14, 42),
        "the counts changed; update them and the FIXME:\n{}",
        listing.join("\n")
    );
}
