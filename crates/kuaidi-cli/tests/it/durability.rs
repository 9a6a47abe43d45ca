//! Durability: the real server is killed with SIGKILL mid-stream; after a restart every acknowledged event is there,
//! and re-sending everything stores nothing twice.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use kuaidi_store::{PiiKey, SqliteConfig, SqliteStore, Store};

use crate::support::{kuaidi, ndjson_lines, parcels, stdout, temp_dir, Server};

fn post(url: &str, key: &str, body: String) -> Result<serde_json::Value, String> {
    let mut response = ureq::post(url)
        .header("Authorization", &format!("Bearer {key}"))
        .header("Content-Type", "application/x-ndjson")
        .send(body)
        .map_err(|err| err.to_string())?;
    let text = response.body_mut().read_to_string().map_err(|err| err.to_string())?;
    serde_json::from_str(&text).map_err(|err| err.to_string())
}

#[test]
fn acknowledged_events_survive_kill_9_and_are_never_doubled() {
    let (_dir, data) = temp_dir();
    let key = stdout(&kuaidi(&data, &["keys", "create", "--role", "admin"])).trim().to_owned();
    let records = parcels(2_000);
    let lines = ndjson_lines(&records);
    let batches: Vec<String> = lines.chunks(400).map(|chunk| chunk.join("\n")).collect();
    let n_batches = batches.len();

    let server = Server::start(&data);
    let url = server.url("/v1/ingest");
    let acknowledged = Arc::new(Mutex::new(Vec::<usize>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (acknowledged, stop, url, key, batches) =
            (acknowledged.clone(), stop.clone(), url.clone(), key.clone(), batches.clone());
        std::thread::spawn(move || {
            for (idx, batch) in batches.into_iter().enumerate() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                match post(&url, &key, batch) {
                    Ok(answer) if answer["summary"]["rejected"] == 0 => acknowledged.lock().unwrap().push(idx),
                    Ok(answer) => panic!("batch {idx} had rejections: {answer}"),
                    Err(_) => break,
                }
            }
        })
    };
    // Kill the server once a good part of the stream is acknowledged, while requests are still in flight.
    loop {
        if acknowledged.lock().unwrap().len() >= n_batches / 3 {
            break;
        }
        std::thread::yield_now();
    }
    let mut server = server;
    server.child.kill().unwrap(); // SIGKILL: no shutdown, no flush.
    server.child.wait().unwrap();
    stop.store(true, Ordering::SeqCst);
    sender.join().unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() < n_batches, "the kill should interrupt the stream");

    // Every acknowledged line is stored, exactly once.
    let key_bytes: [u8; 32] = std::fs::read(data.join("pii.key")).unwrap().try_into().unwrap();
    let store = SqliteStore::open(SqliteConfig::new(data.join("kuaidi.db"), PiiKey::from_bytes(key_bytes))).unwrap();
    let counts = store.counts().unwrap();
    let n_ack_events: u64 = acknowledged
        .iter()
        .map(|idx| {
            lines.chunks(400).nth(*idx).unwrap().iter().filter(|l| l.contains("\"type\":\"event\"")).count() as u64
        })
        .sum();
    assert!(counts.events >= n_ack_events, "{} events stored, {n_ack_events} acknowledged", counts.events);
    for idx in &acknowledged {
        let last = lines.chunks(400).nth(*idx).unwrap().last().unwrap();
        let record = kuaidi_formats::decode_record(last).unwrap();
        if let kuaidi_model::Record::Event(event) = record {
            let stored = store.events_of(&event.carrier, &event.waybill_no).unwrap();
            assert!(stored.iter().any(|e| e.event_id == event.event_id), "acknowledged event {} lost", event.event_id);
        }
    }
    drop(store);

    // Restart, re-send everything: the total is exact, nothing doubled.
    let server = Server::start(&data);
    let url = server.url("/v1/ingest");
    for batch in batches {
        let answer = post(&url, &key, batch).unwrap();
        assert_eq!(answer["summary"]["rejected"], 0, "{answer}");
    }
    let store = SqliteStore::open(SqliteConfig::new(data.join("kuaidi.db"), PiiKey::from_bytes(key_bytes))).unwrap();
    let counts = store.counts().unwrap();
    assert_eq!((counts.waybills, counts.events), (2_000, 14_000));
}
