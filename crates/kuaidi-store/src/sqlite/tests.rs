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
