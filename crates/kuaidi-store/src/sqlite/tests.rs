//! Tests that reach inside the embedded store: here, stalling the deriver to make the hand-over's timing certain.

use kuaidi_model::Record;

use super::{states_path, SqliteConfig, SqliteStore};
use crate::seal::PiiKey;
use crate::testing::fixtures;
use crate::Store;

/// The journal's rows, and the parcels the states file holds, read on connections of their own.
fn journal_rows(path: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row("SELECT count(*) FROM unflushed_batches", [], |row| row.get(0)).unwrap()
}

fn stored_states(path: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open(states_path(path)).unwrap();
    conn.query_row("SELECT count(*) FROM parcels", [], |row| row.get(0)).unwrap()
}

/// When a hand-over is due and the deriver has not derived the transaction that made it due, no transaction waits
/// for it: the first one to find it past the cut hands the states over. A crash while the hand-over is put off loses
/// nothing, and once it happens, the journal rows up to the cut go.
#[test]
fn a_hand_over_put_off_while_the_deriver_is_behind_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (path, key) = (dir.path().join("kuaidi.db"), PiiKey::generate());
    let mut config = SqliteConfig::new(&path, key.clone());
    // Every transaction makes a hand-over due.
    config.flush_parcels = 1;
    let events: Vec<Record> =
        fixtures::chain("yto", "YT0000000501").into_iter().map(|event| Record::Event(Box::new(event))).collect();
    let first = [Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000501"))), events[0].clone()];
    let (carrier, no) = (fixtures::carrier_code("yto"), fixtures::waybill_no("YT0000000501"));

    // The state a store that ingests the first records and the first `n` events, and never stalls, derives.
    let never_stalled = |n: usize| {
        let other = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(SqliteConfig::new(other.path().join("kuaidi.db"), PiiKey::generate())).unwrap();
        store.ingest(&fixtures::reference()).unwrap();
        store.ingest(&first).unwrap();
        store.ingest(&events[1..n]).unwrap();
        store.parcel_state(&carrier, &no).unwrap().unwrap()
    };
    let want = never_stalled(3);

    {
        let store = SqliteStore::open(config.clone()).unwrap();
        store.ingest(&fixtures::reference()).unwrap();
        let stalled = store.kept.cache.lock().unwrap();
        // Stored, sent to the deriver, which waits for the cache: the writer cuts the journal.
        store.ingest(&first).unwrap();
        // The deriver is short of the cut: this transaction journals the parcel again and goes on.
        store.ingest(&events[1..2]).unwrap();
        store.ingest(&events[2..3]).unwrap();
        assert_eq!(journal_rows(&path), 2, "the cut's row and the row after it");
        assert_eq!(stored_states(&path), 0, "nothing was handed over");
        assert!(!store.kept.derived_past(1).unwrap());
        drop(stalled);
        store.kept.catch_up().unwrap();
        assert!(store.kept.derived_past(3).unwrap());
        assert_eq!(store.pending_now(), 1);
        // The deriver is past the cut now: the next transaction hands the states over.
        store.ingest(&fixtures::reference()[..1]).unwrap();
        assert_eq!(store.pending_now(), 0, "the state should have been handed over");
        store.flush().unwrap();
        assert_eq!(stored_states(&path), 1, "the parcel's state was written");
        assert_eq!(journal_rows(&path), 0);
        assert_eq!(store.parcel_state(&carrier, &no).unwrap().unwrap(), want);
        // Again with a crash while the hand-over is put off.
        let stalled = store.kept.cache.lock().unwrap();
        store.ingest(&events[3..4]).unwrap();
        store.ingest(&events[4..5]).unwrap();
        drop(stalled);
        std::mem::forget(store);
    }
    let want = never_stalled(5);
    let store = SqliteStore::open(config).unwrap();
    assert_eq!(store.parcel_state(&carrier, &no).unwrap().unwrap(), want);
    assert_eq!(store.pending_states().unwrap(), 0, "the open re-derives the journalled parcel and writes its state");
    drop(store);
    assert_eq!(journal_rows(&path), 0);
}

/// The deriver holds batches back while nobody waits for it: a parcel that several transactions in a row touch is
/// derived once, from all of their records, to the state deriving each transaction in turn leaves (a store read after
/// every transaction), with the same standing alerts and without those that came and went. A read wakes the deriver:
/// in unit tests it would otherwise hold the batches for an hour (`behind::HELD_IDLE`).
#[test]
fn held_batches_derive_each_parcel_once_to_the_state_of_deriving_each_batch() {
    let no = "YT0000000502";
    // Without its inspection, so that the departure raises an alert that stands.
    let events: Vec<Record> = fixtures::chain("yto", no)
        .into_iter()
        .filter(|event| event.kind != kuaidi_model::EventKind::Inspect)
        .map(|event| Record::Event(Box::new(event)))
        .collect();
    let first = [Record::Waybill(Box::new(fixtures::waybill("yto", no))), events[0].clone()];
    let (carrier, waybill_no) = (fixtures::carrier_code("yto"), fixtures::waybill_no(no));
    let open = || {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(SqliteConfig::new(dir.path().join("kuaidi.db"), PiiKey::generate())).unwrap();
        store.ingest(&fixtures::reference()).unwrap();
        (dir, store)
    };
    let alerts = |store: &SqliteStore| {
        let alerts = store.alerts(&crate::AlertQuery { limit: 100, ..Default::default() }).unwrap();
        let mut alerts: Vec<_> =
            alerts.into_iter().map(|alert| (alert.kind, alert.reason, alert.events, alert.status)).collect();
        alerts.sort_by(|a, b| (&a.0, &a.1, &a.2).cmp(&(&b.0, &b.1, &b.2)));
        alerts
    };
    let (_each_dir, each) = open();
    each.ingest(&first).unwrap();
    each.parcel_state(&carrier, &waybill_no).unwrap().unwrap();
    for event in &events[1..] {
        each.ingest(std::slice::from_ref(event)).unwrap();
        each.parcel_state(&carrier, &waybill_no).unwrap().unwrap();
    }
    assert_eq!(each.parcel_cache_stats(), (events.len() as u64 - 1, 0, 1), "one derivation per transaction");

    let (_held_dir, held) = open();
    held.ingest(&first).unwrap();
    for event in &events[1..] {
        held.ingest(std::slice::from_ref(event)).unwrap();
    }
    let held = std::sync::Arc::new(held);
    let (answer, answered) = std::sync::mpsc::channel();
    let reader = std::sync::Arc::clone(&held);
    let (c, w) = (carrier.clone(), waybill_no.clone());
    std::thread::spawn(move || answer.send(reader.parcel_state(&c, &w).unwrap().unwrap()).unwrap());
    let state = answered.recv_timeout(std::time::Duration::from_secs(120)).expect("the read should wake the deriver");
    assert_eq!(state, each.parcel_state(&carrier, &waybill_no).unwrap().unwrap());
    assert_eq!(held.parcel_cache_stats(), (0, 0, 1), "the parcel started fresh and was derived once");
    // Standing alerts are the same. The fixture's events are days old, so every state but the last is silent for too
    // long: deriving each transaction raises a loss alert that the next one clears, and holding them raises none.
    let (each_alerts, held_alerts) = (alerts(&each), alerts(&held));
    let standing = |alerts: &[(String, String, Vec<String>, crate::AlertStatus)]| {
        alerts.iter().filter(|alert| alert.3 != crate::AlertStatus::Cleared).cloned().collect::<Vec<_>>()
    };
    assert!(
        standing(&each_alerts).iter().any(|(kind, reason, ..)| kind == "compliance" && reason == "inspection_missing"),
        "{each_alerts:?}"
    );
    assert_eq!(standing(&held_alerts), standing(&each_alerts));
    assert!(each_alerts.iter().any(|alert| alert.3 == crate::AlertStatus::Cleared), "{each_alerts:?}");
    assert_eq!(held_alerts, standing(&held_alerts), "nothing came and went while held");
}

/// The store's timing keeps the writer's time and the deriver's apart: what the deriver spends beside the writer is
/// not a part of the writer's transactions, so it is not counted in them (the demo printed it as a share of them, over
/// 100 % once the deriver ran at the lowest priority).
#[test]
fn the_deriver_s_time_is_reported_beside_the_writer_s() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteConfig::new(dir.path().join("kuaidi.db"), PiiKey::generate())).unwrap();
    store.ingest(&fixtures::reference()).unwrap();
    let before = store.write_timing();
    assert_eq!(before.deriving, std::time::Duration::ZERO, "nothing derived yet: {before:?}");
    let no = "YT0000000503";
    let mut records = vec![Record::Waybill(Box::new(fixtures::waybill("yto", no)))];
    records.extend(fixtures::chain("yto", no).into_iter().map(|event| Record::Event(Box::new(event))));
    store.ingest(&records).unwrap();
    // A read waits for the deriver, which holds the batch until someone does.
    let (carrier, waybill_no) = (fixtures::carrier_code("yto"), fixtures::waybill_no(no));
    store.parcel_state(&carrier, &waybill_no).unwrap().unwrap();
    let after = store.write_timing();
    assert!(after.deriving > std::time::Duration::ZERO, "{after:?}");
    assert!(after.store > before.store, "{after:?}");
    assert!(after.upkeep <= after.store, "the writer's upkeep is a part of its time: {after:?}");
}

/// While a batch of states is being written (here the test holds the states file's write lock), the states derived
/// since gather in memory, and the writer goes on; once `GATHER_WHILE_FLUSHING` batches have gathered, the writer waits
/// for the write to end, so that their memory stays bounded when the flush falls behind. Then every state reaches the
/// file.
#[test]
fn the_writer_waits_for_the_flush_once_enough_states_have_gathered() {
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuaidi.db");
    let mut config = SqliteConfig::new(&path, PiiKey::generate());
    // A batch is one parcel's state.
    config.flush_parcels = 1;
    config.flush_every = Duration::MAX;
    let store = std::sync::Arc::new(SqliteStore::open(config).unwrap());
    store.ingest(&fixtures::reference()).unwrap();
    let parcel = |n: usize| {
        let no = format!("YT00000006{n:02}");
        let accept = fixtures::chain("yto", &no).remove(0);
        vec![Record::Waybill(Box::new(fixtures::waybill("yto", &no))), Record::Event(Box::new(accept))]
    };
    let states = rusqlite::Connection::open(states_path(&path)).unwrap();
    states.execute_batch("BEGIN IMMEDIATE").unwrap();
    // The first parcel cuts the journal and the second hands the first one's state to a flush, which waits for the
    // lock; the states of the next ones gather (a read has the deriver make each pending at once).
    let mut n = 0;
    while store.pending_now() < super::GATHER_WHILE_FLUSHING {
        store.ingest(&parcel(n)).unwrap();
        store.pending_states().unwrap();
        n += 1;
        assert!(n < 100, "the states should gather");
    }
    assert!(store.writer_state.lock().unwrap().flush.is_some(), "a batch should be in flight");
    let (done, finished) = std::sync::mpsc::channel();
    let (writer, next) = (std::sync::Arc::clone(&store), parcel(n));
    std::thread::spawn(move || done.send(writer.ingest(&next).map(drop)).unwrap());
    assert!(
        finished.recv_timeout(Duration::from_millis(500)).is_err(),
        "the writer should wait for the flush once {} batches have gathered",
        super::GATHER_WHILE_FLUSHING
    );
    states.execute_batch("COMMIT").unwrap();
    finished.recv_timeout(Duration::from_secs(60)).expect("the writer should go on once the flush ends").unwrap();
    store.flush().unwrap();
    assert_eq!(stored_states(&path), n as i64 + 1);
    assert_eq!(journal_rows(&path), 0);
}
