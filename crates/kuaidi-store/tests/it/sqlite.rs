//! The store contract on the embedded SQLite backend, plus reopening, schema versions and sealing at rest.

use kuaidi_model::Record;
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
    let raw = std::fs::read(&path).unwrap();
    let wal = std::fs::read(path.with_extension("db-wal")).unwrap_or_default();
    for needle in ["13900135678", "李四", "南京东路", "11010519491231002X"] {
        let found = |bytes: &[u8]| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        assert!(!found(&raw) && !found(&wal), "{needle} is stored in clear");
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

#[test]
fn an_unopenable_path_is_unavailable() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let err = SqliteStore::open(SqliteConfig::new(blocker.join("kuaidi.db"), PiiKey::generate())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err}");
}
