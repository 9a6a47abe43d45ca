//! A fresh, migrated database per test, dropped when the test ends.

use std::sync::atomic::{AtomicU32, Ordering};

use kuaidi_store::PiiKey;
use kuaidi_store_pg::{PgConfig, PgStore};

/// The variable naming the test server.
pub const URL_VAR: &str = "KUAIDI_TEST_DATABASE_URL";

/// The test server's URL, or `None` after saying the test is skipped. Under `CI=true` a missing server fails.
pub fn server_url() -> Option<String> {
    match std::env::var(URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{URL_VAR} is not set under CI=true: PostgreSQL tests must run (use scripts/with-pg)");
            }
            eprintln!("skipped: {URL_VAR} is not set; run under scripts/with-pg to test against PostgreSQL");
            None
        }
    }
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    format!("{host_part}/{database}{query}")
}

/// An empty database on the test server, dropped (with any connections left) when this is dropped.
pub struct TestDatabase {
    /// Its URL.
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDatabase {
    /// A new empty database, or `None` when there is no test server.
    pub fn create() -> Option<TestDatabase> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let admin_url = server_url()?;
        let name = format!(
            "kuaidi_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
        );
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|err| panic!("cannot connect to the test server {admin_url}: {err}"));
        admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap_or_else(|err| panic!("create {name}: {err}"));
        Some(TestDatabase { url: with_database(&admin_url, &name), admin_url, name })
    }

    /// A new database with the schema applied.
    pub fn migrated() -> Option<TestDatabase> {
        let db = TestDatabase::create()?;
        kuaidi_store_pg::migrate(&db.url).unwrap_or_else(|err| panic!("migrate: {err}"));
        Some(db)
    }

    /// A plain client on this database, for looking at the catalogue and the raw rows.
    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap_or_else(|err| panic!("connect: {err}"))
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut admin) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// A store on its own fresh database; the database is dropped after the store.
pub struct TestStore {
    pub store: PgStore,
    pub db: TestDatabase,
}

impl std::ops::Deref for TestStore {
    type Target = PgStore;
    fn deref(&self) -> &PgStore {
        &self.store
    }
}

impl TestStore {
    /// A store with a new random personal-data key.
    pub fn fresh() -> Option<TestStore> {
        TestStore::with_key(PiiKey::generate())
    }

    /// A store with this key.
    pub fn with_key(key: PiiKey) -> Option<TestStore> {
        let db = TestDatabase::migrated()?;
        let store = PgStore::connect(PgConfig::new(db.url.clone(), key)).unwrap_or_else(|err| panic!("connect: {err}"));
        Some(TestStore { store, db })
    }

    /// Another store (as another server would hold) on the same database.
    pub fn another(&self, key: PiiKey) -> PgStore {
        PgStore::connect(PgConfig::new(self.db.url.clone(), key)).unwrap_or_else(|err| panic!("connect: {err}"))
    }
}

#[test]
fn with_database_replaces_only_the_database() {
    assert_eq!(with_database("postgres://u:p@h:5/postgres", "t1"), "postgres://u:p@h:5/t1");
    assert_eq!(with_database("postgres://u@h:5/db?sslmode=disable", "t1"), "postgres://u@h:5/t1?sslmode=disable");
    assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
}
