//! The store contract on the embedded SQLite backend, plus reopening, schema versions and sealing at rest.

use kuaidi_model::{Record, Verdict};
use kuaidi_store::testing::fixtures;
use kuaidi_store::{ErrorKind, PiiKey, SqliteConfig, SqliteStore, Store};

/// A fresh store in its own temporary directory, kept alive as long as the store.
struct TempStore {
    store: SqliteStore,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for TempStore {
    type Target = SqliteStore;
    fn deref(&self) -> &SqliteStore {
        &self.store
    }
}

fn fresh() -> TempStore {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(SqliteConfig::new(dir.path().join("kuaidi.db"), PiiKey::generate())).unwrap();
    TempStore { store, _dir: dir }
}

kuaidi_store::store_contract_tests!(fresh);

#[test]
fn data_survives_reopening_and_personal_data_is_sealed_at_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuaidi.db");
    let key = PiiKey::generate();
    {
        let store = SqliteStore::open(SqliteConfig::new(&path, key.clone())).unwrap();
        store.ingest(&fixtures::reference()).unwrap();
        store.ingest(&[Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000001")))]).unwrap();
    }
    let states = kuaidi_store::states_path(&path);
    let files = [path.clone(), path.with_extension("db-wal"), states.clone(), states.with_extension("db-wal")];
    let bytes: Vec<Vec<u8>> = files.iter().map(|file| std::fs::read(file).unwrap_or_default()).collect();
    assert!(!bytes[2].is_empty(), "the parcel states file should be there");
    for needle in ["13900135678", "李四", "南京东路", "11010519491231002X"] {
        let found = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(!bytes.iter().any(|bytes| found(bytes)), "{needle} is stored in clear");
    }
    let store = SqliteStore::open(SqliteConfig::new(&path, key)).unwrap();
    let waybill = store.waybill(&fixtures::carrier_code("yto"), &fixtures::waybill_no("YT0000000001")).unwrap();
    assert_eq!(waybill, Some(fixtures::waybill("yto", "YT0000000001")));

    let wrong_key = SqliteStore::open(SqliteConfig::new(&path, PiiKey::generate())).unwrap();
    let err = wrong_key.waybill(&fixtures::carrier_code("yto"), &fixtures::waybill_no("YT0000000001")).unwrap_err();
    assert!(err.to_string().contains("PII key"), "{err}");
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuaidi.db");
    drop(SqliteStore::open(SqliteConfig::new(&path, PiiKey::generate())).unwrap());
    // Leave the file as a newer kuaidi would have.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let err = SqliteStore::open(SqliteConfig::new(&path, PiiKey::generate())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SchemaVersion);
    assert!(err.to_string().contains("schema version 99"), "{err}");
}

/// A store at schema version 6 (reverse-trace indexes keyed by handler) is brought to version 10 at its next open:
/// the indexes are rebuilt keyed by the hour (7), then replaced by postings built from the stored events (10), and
/// reverse traces find the events.
#[test]
fn version_6_reverse_trace_indexes_become_postings() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuaidi.db");
    let key = PiiKey::generate();
    {
        let store = SqliteStore::open(SqliteConfig::new(&path, key.clone())).unwrap();
        store.ingest(&fixtures::reference()).unwrap();
        let chain: Vec<Record> =
            fixtures::chain("yto", "YT0000000030").into_iter().map(|e| Record::Event(Box::new(e))).collect();
        store.ingest(&chain).unwrap();
    }
    // Leave the file as version 6 left it.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(kuaidi_store::testing::VERSION_6_HANDLER_INDEXES).unwrap();
    conn.pragma_update(None, "user_version", 6).unwrap();
    drop(conn);

    let store = SqliteStore::open(SqliteConfig::new(&path, key)).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(user_version(&conn), 10);
    assert_eq!(named(&conn, &["events_by_operator", "events_by_vehicle"]), 0, "the reverse-trace indexes are gone");
    // The fixture chain: 7 events by operator C001 in one hour or more, one with vehicle 沪A12345.
    let postings: Vec<(i64, String, usize)> =
        triples(&conn, "SELECT kind, handler, length(seqs) FROM handled ORDER BY kind, handler");
    let bytes = |kind: i64, handler: &str| -> usize {
        postings.iter().filter(|(k, h, _)| *k == kind && h == handler).map(|(_, _, n)| n).sum()
    };
    assert_eq!((bytes(0, "C001"), bytes(1, "沪A12345")), (7 * 8, 8), "{postings:?}");
    let start = fixtures::base_time().with_timezone(&chrono::Utc);
    let day = start + chrono::Duration::days(1);
    let operator = kuaidi_store::Handler::Operator("C001".to_owned());
    assert_eq!(store.handled_by(&operator, start, day, 100).unwrap().len(), 7);
    let vehicle = kuaidi_store::Handler::Vehicle("沪A12345".to_owned());
    assert_eq!(store.handled_by(&vehicle, start, day, 100).unwrap().len(), 1);
}

/// A store at schema version 7 (parcel states, the aggregates' snapshot and the journal in one file) is brought to
/// version 9 at its next open: the states move to their own file (8), the journal's rows become one row per
/// transaction, whose numbers are never reused (8 and 9), and the parcels a crash left journalled are re-derived.
/// Everything reads as before the upgrade.
#[test]
fn version_7_states_move_to_a_file_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuaidi.db");
    let key = PiiKey::generate();
    let mut config = SqliteConfig::new(&path, key.clone());
    config.flush_every = std::time::Duration::MAX;
    let chain = fixtures::chain("yto", "YT0000000040");
    let parcels = [("yto", "YT0000000040"), ("yto", "YT0000000041")];
    let read = |store: &SqliteStore| -> (Vec<Option<kuaidi_store::ParcelState>>, u64) {
        let states = parcels
            .iter()
            .map(|(carrier, no)| {
                store.parcel_state(&fixtures::carrier_code(carrier), &fixtures::waybill_no(no)).unwrap()
            })
            .collect();
        let all = kuaidi_rules::Filter::default();
        (states, store.indicators(&all, &[]).unwrap().iter().map(|(_, counters)| counters.parcels).sum())
    };
    let before = {
        let store = SqliteStore::open(config.clone()).unwrap();
        store.ingest(&fixtures::reference()).unwrap();
        let mut records = vec![Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000040")))];
        records.extend(chain[..3].iter().cloned().map(|event| Record::Event(Box::new(event))));
        store.ingest(&records).unwrap();
        store.flush().unwrap();
        // Then a change and a new parcel that only the journal names when the process dies.
        let mut more = vec![Record::Event(Box::new(chain[3].clone()))];
        more.push(Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000041"))));
        store.ingest(&more).unwrap();
        assert_eq!(store.pending_states().unwrap(), 2);
        let before = read(&store);
        std::mem::forget(store);
        before
    };
    assert!(before.0.iter().all(Option::is_some) && before.1 > 0, "{before:?}");

    // Leave the files as version 7 left them: the states back in the main file, the journal a row per parcel without
    // AUTOINCREMENT.
    let states = kuaidi_store::states_path(&path);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("ATTACH DATABASE ?1 AS states", [states.to_str().unwrap()]).unwrap();
    let journal: Vec<(i64, String, i64)> = triples(&conn, "SELECT seq, parcels, at_ms FROM main.unflushed_batches");
    conn.execute_batch(
        "BEGIN;
         CREATE TABLE main.parcels (waybill_no TEXT NOT NULL, carrier TEXT NOT NULL, check_ms INTEGER,
             state TEXT NOT NULL, PRIMARY KEY (waybill_no, carrier)) WITHOUT ROWID;
         CREATE INDEX main.parcels_due ON parcels (check_ms) WHERE check_ms IS NOT NULL;
         CREATE TABLE main.aggregate_snapshot (name TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
         CREATE TABLE main.derived_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
         INSERT INTO main.parcels SELECT * FROM states.parcels;
         INSERT INTO main.aggregate_snapshot SELECT * FROM states.aggregate_snapshot;
         INSERT INTO main.derived_meta SELECT * FROM states.derived_meta;
         CREATE TABLE main.unflushed_parcels (seq INTEGER PRIMARY KEY, waybill_no TEXT NOT NULL,
             carrier TEXT NOT NULL, at_ms INTEGER NOT NULL);
         DROP TABLE main.unflushed_batches;
         DROP TABLE main.handled;
         CREATE INDEX main.events_by_operator ON events (time_ms / 3600000, operator, time_ms)
             WHERE operator IS NOT NULL;
         CREATE INDEX main.events_by_vehicle ON events (time_ms / 3600000, vehicle, time_ms)
             WHERE vehicle IS NOT NULL;
         PRAGMA main.user_version = 7;
         COMMIT;",
    )
    .unwrap();
    for (seq, parcels, at_ms) in &journal {
        for (line, n) in parcels.lines().zip(0..) {
            let (carrier, waybill_no) = line.split_once('\t').unwrap();
            conn.execute(
                "INSERT INTO main.unflushed_parcels (seq, waybill_no, carrier, at_ms) VALUES (?1, ?2, ?3, ?4)",
                rusqlite::params![seq * 100 + n, waybill_no, carrier, at_ms],
            )
            .unwrap();
        }
    }
    let journalled: i64 = conn.query_row("SELECT count(*) FROM main.unflushed_parcels", [], |row| row.get(0)).unwrap();
    assert_eq!(journalled, 2);
    drop(conn);
    for suffix in ["", "-wal", "-shm"] {
        let mut file = states.as_os_str().to_owned();
        file.push(suffix);
        let _ = std::fs::remove_file(file);
    }

    let store = SqliteStore::open(config).unwrap();
    assert_eq!(
        store.pending_states().unwrap(),
        0,
        "the open re-derives the journalled parcels and writes their states"
    );
    assert_eq!(read(&store), before);
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    assert_eq!(user_version(&conn), 10);
    assert_eq!(
        named(&conn, &["parcels", "aggregate_snapshot", "derived_meta"]),
        0,
        "the main file should keep no parcel states"
    );
    let journal: String =
        conn.query_row("SELECT sql FROM sqlite_master WHERE name = 'unflushed_batches'", [], |row| row.get(0)).unwrap();
    assert!(journal.contains("AUTOINCREMENT"), "{journal}");
    let per_parcel: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'unflushed_parcels'", [], |row| row.get(0))
        .unwrap();
    assert_eq!(per_parcel, 0, "the journal of a row per parcel should be gone");
    let n_states: i64 = rusqlite::Connection::open(&states)
        .unwrap()
        .query_row("SELECT count(*) FROM parcels", [], |row| row.get(0))
        .unwrap();
    assert_eq!(n_states, 2);
    let store = SqliteStore::open(SqliteConfig::new(&path, key)).unwrap();
    assert_eq!(read(&store), before);
}

/// The flush writes states to their file beside the writer. While a batch waits to be written (here the test holds
/// the states file's write lock), the writer goes on storing records in the main file, readers get each parcel's
/// newest state from memory, and a parcel changed again is journalled again; once the lock is released, every state
/// reaches the file and the journal empties.
#[test]
fn the_writer_goes_on_while_a_batch_of_states_waits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuaidi.db");
    let mut config = SqliteConfig::new(&path, PiiKey::generate());
    config.flush_parcels = 0;
    config.flush_every = std::time::Duration::MAX;
    let store = SqliteStore::open(config).unwrap();
    let (carrier, no) = (fixtures::carrier_code("yto"), fixtures::waybill_no("YT0000000050"));
    let chain: Vec<Record> =
        fixtures::chain("yto", "YT0000000050").into_iter().map(|event| Record::Event(Box::new(event))).collect();
    store.ingest(&fixtures::reference()).unwrap();
    let mut first = vec![Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000050")))];
    first.extend(chain[..2].iter().cloned());
    store.ingest(&first).unwrap();
    store.flush().unwrap();
    let states = rusqlite::Connection::open(kuaidi_store::states_path(&path)).unwrap();
    let stored = |conn: &rusqlite::Connection| -> kuaidi_store::ParcelState {
        let bytes: Vec<u8> = conn.query_row("SELECT state FROM parcels", [], |row| row.get(0)).unwrap();
        kuaidi_store::derived::codec::decode(&bytes).unwrap()
    };
    let written = stored(&states);
    assert_eq!(store.parcel_state(&carrier, &no).unwrap().as_ref(), Some(&written));

    states.execute_batch("BEGIN IMMEDIATE").unwrap();
    // Every transaction cuts the journal (a batch of one parcel is due), and the next one hands the states over.
    store.ingest(&chain[2..3]).unwrap();
    let second = store.parcel_state(&carrier, &no).unwrap().unwrap();
    assert_ne!(second, written, "the newest state should be read from memory, not from the table");
    assert_eq!(store.pending_states().unwrap(), 1, "the state goes to the flush with the next transaction");
    store.ingest(&chain[3..4]).unwrap();
    let third = store.parcel_state(&carrier, &no).unwrap().unwrap();
    assert_ne!(third, second);
    assert_eq!(store.pending_states().unwrap(), 1, "the second state is being written, the third one gathers");
    store.ingest(&chain[4..5]).unwrap();
    assert_eq!(store.pending_states().unwrap(), 1, "one batch is in flight at a time: the next one waits");
    let third = store.parcel_state(&carrier, &no).unwrap().unwrap();
    let main = rusqlite::Connection::open(&path).unwrap();
    let journalled = || -> usize {
        texts(&main, "SELECT parcels FROM unflushed_batches").iter().map(|parcels| parcels.lines().count()).sum()
    };
    assert_eq!(journalled(), 2, "a parcel changed while its state is in flight is journalled again");
    states.execute_batch("COMMIT").unwrap();

    store.flush().unwrap();
    assert_eq!(stored(&states), third);
    assert_eq!(journalled(), 0);
    assert_eq!(store.parcel_state(&carrier, &no).unwrap(), Some(third));
}

/// The journal keeps a transaction's parcels in one row, a line each. A line that does not name a parcel (the file
/// was edited by hand, or damaged) fails the open with an error that quotes it, rather than leaving a parcel's state
/// behind its records unnoticed; lines naming one parcel twice re-derive it once.
#[test]
fn a_journal_line_that_names_no_parcel_is_refused_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuaidi.db");
    let key = PiiKey::generate();
    let config = SqliteConfig::new(&path, key);
    {
        let store = SqliteStore::open(config.clone()).unwrap();
        store.ingest(&fixtures::reference()).unwrap();
        store.ingest(&[Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000060")))]).unwrap();
    }
    let journal = |parcels: &str| {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("DELETE FROM unflushed_batches", []).unwrap();
        conn.execute("INSERT INTO unflushed_batches (at_ms, parcels) VALUES (0, ?1)", [parcels]).unwrap();
    };

    journal("yto\tYT0000000060\nyto\tYT0000000060");
    let store = SqliteStore::open(config.clone()).unwrap();
    assert_eq!(store.pending_states().unwrap(), 0);
    let state = store.parcel_state(&fixtures::carrier_code("yto"), &fixtures::waybill_no("YT0000000060")).unwrap();
    assert!(state.is_some());
    drop(store);

    for (line, says) in [
        ("yto YT0000000060", "a line `yto YT0000000060` of the state journal is not a carrier and a waybill number"),
        ("yto\tYT-1", "a stored parcel key `yto/YT-1` does not parse"),
        ("Yto\tYT0000000060", "a stored parcel key `Yto/YT0000000060` does not parse"),
    ] {
        journal(&format!("yto\tYT0000000060\n{line}"));
        let err = SqliteStore::open(config.clone()).unwrap_err();
        assert!(err.to_string().contains(says), "{line:?}: {err}");
    }
}

/// The benchmarks' baseline: without derived state the records are stored as always, and nothing is derived.
#[test]
fn without_derived_state_records_are_stored_and_nothing_derived() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = SqliteConfig::new(dir.path().join("kuaidi.db"), PiiKey::generate());
    config.derived_state = false;
    let store = SqliteStore::open(config).unwrap();
    let (carrier, no) = (fixtures::carrier_code("yto"), fixtures::waybill_no("YT0000000060"));
    store.ingest(&fixtures::reference()).unwrap();
    let mut records = vec![Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000060")))];
    records.extend(fixtures::chain("yto", "YT0000000060").into_iter().map(|event| Record::Event(Box::new(event))));
    store.ingest(&records).unwrap();
    assert_eq!(store.events_of(&carrier, &no).unwrap().len(), records.len() - 1);
    assert!(store.waybill(&carrier, &no).unwrap().is_some());
    assert_eq!(store.parcel_state(&carrier, &no).unwrap(), None);
    let indicators = store.indicators(&kuaidi_rules::Filter::default(), &[]).unwrap();
    assert!(indicators.iter().all(|(_, counters)| counters.parcels == 0 && counters.waybills == 0), "{indicators:?}");
    assert_eq!(store.pending_states().unwrap(), 0);
    assert_eq!(store.parcel_cache_stats(), (0, 0, 0));
}

/// A store whose parcel states file was removed is not opened as if it had no parcels: the error names the file.
#[test]
fn a_missing_states_file_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuaidi.db");
    drop(SqliteStore::open(SqliteConfig::new(&path, PiiKey::generate())).unwrap());
    let states = kuaidi_store::states_path(&path);
    std::fs::remove_file(&states).unwrap();
    let err = SqliteStore::open(SqliteConfig::new(&path, PiiKey::generate())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
    assert!(err.to_string().contains("kuaidi.states.db"), "{err}");
}

#[test]
fn an_unopenable_path_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let err = SqliteStore::open(SqliteConfig::new(blocker.join("kuaidi.db"), PiiKey::generate())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}

/// States are stored as BLOBs in the codec's form (schema version 6); a row written before, in JSON text, is still
/// read by every path (one parcel, paging, the recount after an unclean stop) and is written as a BLOB the next time
/// its parcel changes.
#[test]
fn states_are_blobs_and_json_rows_from_before_are_still_read() {
    use kuaidi_store::derived::codec;
    use kuaidi_store::ParcelState;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kuaidi.db");
    let key = PiiKey::generate();
    let (carrier, no) = (fixtures::carrier_code("yto"), fixtures::waybill_no("YT0000000001"));
    let chain = fixtures::chain("yto", "YT0000000001");
    let before = {
        let store = SqliteStore::open(SqliteConfig::new(&path, key.clone())).unwrap();
        store.ingest(&fixtures::reference()).unwrap();
        let mut records = vec![Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000001")))];
        records.extend(chain[..2].iter().cloned().map(|event| Record::Event(Box::new(event))));
        store.ingest(&records).unwrap();
        store.parcel_state(&carrier, &no).unwrap().unwrap()
    };
    let stored = |conn: &rusqlite::Connection| -> (String, Vec<u8>) {
        conn.query_row("SELECT typeof(state), CAST(state AS BLOB) FROM parcels", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap()
    };
    let user_version: i64 =
        rusqlite::Connection::open(&path).unwrap().query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap();
    assert_eq!(user_version, 10);
    let states = kuaidi_store::states_path(&path);
    let conn = rusqlite::Connection::open(&states).unwrap();
    let (kind, bytes) = stored(&conn);
    assert_eq!(kind, "blob");
    assert_eq!(bytes[0], codec::POSTCARD);
    assert_eq!(codec::decode(&bytes).unwrap(), before);

    // Leave the row as a kuaidi before schema version 6 wrote it, and the aggregates as after an unclean stop.
    let json = serde_json::to_string(&before).unwrap();
    conn.execute("UPDATE parcels SET state = ?1", [&json]).unwrap();
    conn.execute("UPDATE derived_meta SET value = 'dirty' WHERE key = 'aggregates'", []).unwrap();
    assert_eq!(stored(&conn).0, "text");
    drop(conn);

    let store = SqliteStore::open(SqliteConfig::new(&path, key.clone())).unwrap();
    assert_eq!(store.parcel_state(&carrier, &no).unwrap().as_ref(), Some(&before));
    let paged: Vec<ParcelState> = store.parcel_states_after(None, 10).unwrap().into_iter().map(|row| row.2).collect();
    assert_eq!(paged, vec![before.clone()]);
    let all = kuaidi_rules::Filter::default();
    let counted: u64 = store.indicators(&all, &[]).unwrap().iter().map(|(_, counters)| counters.parcels).sum();
    assert_eq!(counted, 1, "the recount read the JSON row");

    // The next change writes the row as a BLOB again.
    store.ingest(&[Record::Event(Box::new(chain[2].clone()))]).unwrap();
    let after = store.parcel_state(&carrier, &no).unwrap().unwrap();
    assert_ne!(after, before);
    drop(store);
    let conn = rusqlite::Connection::open(&states).unwrap();
    let (kind, bytes) = stored(&conn);
    assert_eq!(kind, "blob");
    assert_eq!(codec::decode(&bytes).unwrap(), after);

    // A state that is neither form is named, not read as something else (TEXT affinity stores 42 as the text `42`).
    conn.execute("UPDATE parcels SET state = 42", []).unwrap();
    drop(conn);
    let store = SqliteStore::open(SqliteConfig::new(&path, key)).unwrap();
    let err = store.parcel_state(&carrier, &no).unwrap_err();
    assert!(err.to_string().contains("starts with the byte `0x34`"), "{err}");
}

/// The writer stores a transaction's records parcel by parcel in key order, not in arrival order; the answers, the
/// stored events and the parcels' states are still what storing the records one at a time, as they came, gives:
/// repeats and changed copies inside one batch, parcels interleaved against key order, a waybill after its events.
#[test]
fn a_transaction_answers_in_arrival_order() {
    use kuaidi_store::Outcome;

    let batch_store = fresh();
    let one_by_one = fresh();
    for store in [&batch_store, &one_by_one] {
        store.ingest(&fixtures::reference()).unwrap();
    }
    let parcels = [("yto", "YT0000000009"), ("sf", "SF0000000003"), ("yto", "AB00000005"), ("sf", "AB00000005")];
    let chains: Vec<Vec<kuaidi_model::ScanEvent>> =
        parcels.iter().map(|(carrier, no)| fixtures::chain(carrier, no)).collect();
    let event = |parcel: usize, step: usize| Record::Event(Box::new(chains[parcel][step].clone()));
    let mut moved = chains[0][2].clone();
    moved.time += chrono::Duration::minutes(5);
    let batch = vec![
        event(0, 0),
        event(1, 0),
        event(2, 0),
        event(0, 1),
        event(3, 0),
        event(2, 1),
        event(0, 1), // a repeat inside the batch
        event(0, 2),
        Record::Event(Box::new(moved)), // a changed copy of the event just before it
        event(1, 1),
        Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000009"))), // after its events
        event(3, 1),
        event(1, 0), // a repeat of an earlier parcel's event, after other parcels
        Record::Waybill(Box::new(fixtures::waybill("sf", "AB00000005"))),
        Record::Waybill(Box::new(fixtures::waybill("sf", "AB00000005"))),
    ];
    let answers = batch_store.ingest(&batch).unwrap();
    let expected: Vec<Outcome> =
        batch.iter().map(|record| one_by_one.ingest(std::slice::from_ref(record)).unwrap()[0]).collect();
    assert_eq!(answers, expected);
    assert_eq!(expected[6], Outcome::Duplicate);
    assert_eq!(expected[8], Outcome::Conflict);
    assert_eq!(expected[12], Outcome::Duplicate);
    for (carrier, no) in parcels {
        let (carrier, no) = (fixtures::carrier_code(carrier), fixtures::waybill_no(no));
        assert_eq!(batch_store.events_of(&carrier, &no).unwrap(), one_by_one.events_of(&carrier, &no).unwrap());
        assert_eq!(batch_store.parcel_state(&carrier, &no).unwrap(), one_by_one.parcel_state(&carrier, &no).unwrap());
    }
}

/// The writer takes a cached parcel out of the cache while a transaction stores its records, and looks it up once
/// per parcel: a parcel whose records in a transaction all repeat goes back unchanged and is not re-derived, and the
/// next new record for it is still answered from the cache.
#[test]
fn a_parcel_whose_records_all_repeat_stays_cached() {
    let store = fresh();
    store.ingest(&fixtures::reference()).unwrap();
    let chain = fixtures::chain("yto", "YT0000000001");
    let event = |idx: usize| Record::Event(Box::new(chain[idx].clone()));
    let first = [Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000001"))), event(0), event(1)];
    store.ingest(&first).unwrap();
    assert_eq!(store.parcel_cache_stats(), (0, 0, 1), "a new parcel starts fresh, and nothing is read back");
    let again = store.ingest(&first).unwrap();
    assert!(again.iter().all(|outcome| *outcome == kuaidi_store::Outcome::Duplicate));
    assert_eq!(store.parcel_cache_stats(), (0, 0, 1), "repeats re-derive nothing");
    store.ingest(&[event(2)]).unwrap();
    assert_eq!(store.parcel_cache_stats(), (1, 0, 1), "the parcel went back to the cache");
    let state = store
        .parcel_state(&fixtures::carrier_code("yto"), &fixtures::waybill_no("YT0000000001"))
        .unwrap()
        .expect("a state");
    assert_eq!(state.last_event.map(|last| last.id), Some("YT0000000001-2".to_owned()));
}

/// Only a parcel with no record stored starts fresh. One that has records but is not in the cache (here the store
/// was reopened, so the cache is empty) is read from the tables, whichever of its records is stored first: its
/// waybill, an event, or a complaint. Its new state then covers the records stored before as well as the new ones.
#[test]
fn a_parcel_with_stored_records_is_read_back_not_started_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let (path, key) = (dir.path().join("kuaidi.db"), PiiKey::generate());
    let chain = fixtures::chain("yto", "YT0000000002");
    let event = |idx: usize| Record::Event(Box::new(chain[idx].clone()));
    let complaint = |verdict| Record::Complaint(Box::new(fixtures::complaint("yto", "YT0000000003", "c-3", verdict)));
    {
        let store = SqliteStore::open(SqliteConfig::new(&path, key.clone())).unwrap();
        store.ingest(&fixtures::reference()).unwrap();
        // Events before their waybill, and a complaint alone: the parcels are new all the same.
        store.ingest(&[event(0), event(1)]).unwrap();
        store.ingest(&[complaint(Verdict::Pending)]).unwrap();
        assert_eq!(store.parcel_cache_stats(), (0, 0, 2));
    }
    let store = SqliteStore::open(SqliteConfig::new(&path, key)).unwrap();
    store.ingest(&[Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000002")))]).unwrap();
    assert_eq!(store.parcel_cache_stats(), (0, 1, 0), "events were stored: the parcel is read, not fresh");
    store.ingest(&[Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000003")))]).unwrap();
    assert_eq!(store.parcel_cache_stats(), (0, 2, 0), "a complaint was stored: the parcel is read, not fresh");
    store.ingest(&[event(2)]).unwrap();
    assert_eq!(store.parcel_cache_stats(), (1, 2, 0), "then it is cached");
    let state = store
        .parcel_state(&fixtures::carrier_code("yto"), &fixtures::waybill_no("YT0000000002"))
        .unwrap()
        .expect("a state");
    assert_eq!(state.last_event.map(|last| last.id), Some("YT0000000002-2".to_owned()));
    let accepted = state.summary.accepted_at.map(|at| at.timestamp_millis());
    assert_eq!(accepted, Some(chain[0].time.timestamp_millis()), "the event stored before is in the state");
}

/// A transaction that brings carriers and facilities together with records that name them derives those records
/// with them: reference records are stored first, before the first parcel is handed to the derivation. The states
/// equal those of the same records sent reference first, in a transaction of its own.
#[test]
fn reference_records_reach_the_parcels_of_their_own_transaction() {
    let parcels = ["YT0000000001", "YT0000000002", "YT0000000003"];
    let records: Vec<Record> = parcels
        .iter()
        .flat_map(|no| {
            std::iter::once(Record::Waybill(Box::new(fixtures::waybill("yto", no))))
                .chain(fixtures::chain("yto", no).into_iter().take(5).map(|e| Record::Event(Box::new(e))))
        })
        .collect();
    let together = fresh();
    // Parcel records before the reference ones: the writer's order puts the reference first all the same.
    let mut batch = records.clone();
    batch.extend(fixtures::reference());
    assert!(together.ingest(&batch).unwrap().iter().all(|outcome| *outcome == kuaidi_store::Outcome::Accepted));
    let apart = fresh();
    apart.ingest(&fixtures::reference()).unwrap();
    apart.ingest(&records).unwrap();
    // A store that never learns the reference derives other states, so the comparison below means something.
    let without = fresh();
    without.ingest(&records).unwrap();
    for no in parcels {
        let state = |store: &SqliteStore| {
            store.parcel_state(&fixtures::carrier_code("yto"), &fixtures::waybill_no(no)).unwrap().expect("a state")
        };
        let (got, want) = (state(&together), state(&apart));
        assert_eq!(got, want, "parcel {no}");
        assert_ne!(state(&without), want, "parcel {no}: the reference should change its state");
    }
}

/// The bundled SQLite is built without its two process-wide locks (`.cargo/config.toml`, `LIBSQLITE3_FLAGS`): each
/// connection has a page cache of its own instead of one shared behind a mutex, and no memory statistics are kept
/// behind another mutex that every allocation took. A build that loses the flags (the variable set otherwise in the
/// environment, the config file gone) fails here.
#[test]
fn the_bundled_sqlite_takes_no_process_wide_lock_per_page_or_allocation() {
    let options = texts(&rusqlite::Connection::open_in_memory().unwrap(), "PRAGMA compile_options");
    assert!(!options.iter().any(|option| option == "ENABLE_MEMORY_MANAGEMENT"), "{options:?}");
    assert!(options.iter().any(|option| option == "DEFAULT_MEMSTATUS=0"), "{options:?}");
}

/// The first column of every row a query returns, as text.
fn texts(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    conn.prepare(sql).unwrap().query_map([], |row| row.get(0)).unwrap().collect::<Result<_, _>>().unwrap()
}

/// Parcel states are derived behind the writer, and the writer stores what a derivation raised and cleared in its
/// next transaction. A crash can therefore lose the alerts of the last derivations, among them the clearing of an
/// alert stored before. The next open re-derives the journalled parcels: it raises what the lost derivations raised,
/// and clears the stored alert whose condition no longer holds.
#[test]
fn an_unclean_stop_loses_no_alert_and_leaves_none_standing_wrongly() {
    use kuaidi_store::{AlertQuery, AlertStatus};
    let dir = tempfile::tempdir().unwrap();
    let (path, key) = (dir.path().join("kuaidi.db"), PiiKey::generate());
    let start = fixtures::base_time().to_utc();
    let (first, second) = (fixtures::chain("yto", "YT0000000301"), fixtures::chain("yto", "YT0000000302"));
    let event = |event: &kuaidi_model::ScanEvent| Record::Event(Box::new(event.clone()));
    // Acceptance, security scan and departure without the inspection: an inspection alert.
    let gap = |no: &str, chain: &[kuaidi_model::ScanEvent]| {
        vec![
            Record::Waybill(Box::new(fixtures::waybill("yto", no))),
            event(&chain[0]),
            event(&chain[2]),
            event(&chain[3]),
        ]
    };
    let statuses = |path: &std::path::Path| -> Vec<(String, String)> {
        let conn = rusqlite::Connection::open(path).unwrap();
        let mut stmt = conn.prepare("SELECT waybill_no, status FROM alerts ORDER BY waybill_no").unwrap();
        stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?))).unwrap().map(Result::unwrap).collect()
    };
    {
        let store = SqliteStore::open(SqliteConfig::new(&path, key.clone())).unwrap();
        store.ingest(&fixtures::reference()).unwrap();
        store.ingest_at(&gap("YT0000000301", &first), start + chrono::Duration::hours(2)).unwrap();
        // The deriver has queued the alert once it has caught up.
        assert_eq!(store.pending_states().unwrap(), 1);
        // This transaction stores the first parcel's alert; its own derivations clear that alert and raise the
        // second parcel's, and neither is stored when the process dies.
        let mut late = vec![event(&first[1])];
        late.extend(gap("YT0000000302", &second));
        store.ingest_at(&late, start + chrono::Duration::hours(3)).unwrap();
        assert_eq!(store.pending_states().unwrap(), 2, "both parcels are derived, their states pending");
        assert_eq!(statuses(&path), [("YT0000000301".to_owned(), "open".to_owned())]);
        std::mem::forget(store);
    }
    let store = SqliteStore::open(SqliteConfig::new(&path, key)).unwrap();
    let alerts =
        store.alerts(&AlertQuery { kind: Some("compliance".into()), limit: 10, ..AlertQuery::default() }).unwrap();
    let mut got: Vec<(&str, &str, AlertStatus)> =
        alerts.iter().map(|a| (a.waybill_no.as_str(), a.reason.as_str(), a.status)).collect();
    got.sort_by_key(|(waybill_no, _, _)| *waybill_no);
    assert_eq!(
        got,
        [
            ("YT0000000301", "inspection_missing", AlertStatus::Cleared),
            ("YT0000000302", "inspection_missing", AlertStatus::Open),
        ]
    );
}

/// The schema version of the file `conn` opened.
fn user_version(conn: &rusqlite::Connection) -> i64 {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0)).unwrap()
}

/// The rows of a query of three columns.
fn triples<A, B, C>(conn: &rusqlite::Connection, sql: &str) -> Vec<(A, B, C)>
where
    A: rusqlite::types::FromSql,
    B: rusqlite::types::FromSql,
    C: rusqlite::types::FromSql,
{
    let mut stmt = conn.prepare(sql).unwrap();
    let rows = stmt.query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?))).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// How many tables and indexes of `conn`'s main file bear one of `names`.
fn named(conn: &rusqlite::Connection, names: &[&str]) -> usize {
    let mut stmt = conn.prepare("SELECT count(*) FROM sqlite_master WHERE name = ?1").unwrap();
    names.iter().map(|name| stmt.query_row([name], |row| row.get::<_, usize>(0)).unwrap()).sum()
}
