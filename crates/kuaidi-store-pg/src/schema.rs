//! Schema versions: applying the migrations in `migrations/pg/` (only `kuaidi migrate` does), and refusing a
//! database at another version or sealed with another personal-data key.

use kuaidi_store::{ErrorKind, PiiKey, StoreError};
use postgres::Client;

use crate::conn::pg_error;

/// The migrations, in order; `kuaidi_migrations` records which are applied.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/pg/0001_init.sql"),
    include_str!("../migrations/pg/0002_complaints.sql"),
    include_str!("../migrations/pg/0003_epcis.sql"),
    include_str!("../migrations/pg/0004_derived.sql"),
    include_str!("../migrations/pg/0005_compact_state.sql"),
];

/// The schema version this program uses.
pub const LATEST_VERSION: i32 = MIGRATIONS.len() as i32;

/// Any fixed number, the same in every server, so that migrations from two processes take turns.
const MIGRATION_LOCK: i64 = 0x6b75_6169_6469_0001;

/// What [`migrate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MigrationReport {
    /// The version found.
    pub from: i32,
    /// The version now.
    pub to: i32,
}

/// Brings the database at `url` up to [`LATEST_VERSION`]. Refuses a database newer than this program.
pub fn migrate(url: &str) -> Result<MigrationReport, StoreError> {
    let pool = crate::conn::Pool::new(url, 1, std::time::Duration::ZERO)?;
    let mut conn = pool.connect_once()?;
    let client = &mut conn.client;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .map_err(|err| pg_error("waiting for other migrations", err))?;
    let res = apply(client);
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    res
}

fn apply(client: &mut Client) -> Result<MigrationReport, StoreError> {
    client
        .batch_execute(
            "SET client_min_messages = warning;
             CREATE TABLE IF NOT EXISTS kuaidi_migrations (
                 version    integer PRIMARY KEY,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );",
        )
        .map_err(|err| pg_error("creating the migrations table", err))?;
    let from = version(client)?;
    if from > LATEST_VERSION {
        return Err(newer(from));
    }
    for (idx, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        let version = idx as i32 + 1;
        let mut tx = client.transaction().map_err(|err| pg_error("starting a migration", err))?;
        tx.batch_execute(sql).map_err(|err| pg_error(&format!("applying migration {version}"), err))?;
        if version == 1 {
            fill_divisions(&mut tx)?;
        }
        tx.execute("INSERT INTO kuaidi_migrations (version) VALUES ($1)", &[&version])
            .map_err(|err| pg_error("recording the schema version", err))?;
        tx.commit().map_err(|err| pg_error("committing a migration", err))?;
        tracing::info!(version, "applied migration");
    }
    Ok(MigrationReport { from, to: LATEST_VERSION })
}

/// The national division table, a reference table for joins by jurisdiction.
fn fill_divisions(tx: &mut postgres::Transaction<'_>) -> Result<(), StoreError> {
    let table = kuaidi_model::divisions();
    let codes: Vec<i32> = table.iter().map(|d| d.code.as_u32() as i32).collect();
    let names: Vec<&str> = table.iter().map(|d| d.name).collect();
    tx.execute(
        "INSERT INTO divisions (code, name) SELECT * FROM unnest($1::integer[], $2::text[]) ON CONFLICT DO NOTHING",
        &[&codes, &names],
    )
    .map_err(|err| pg_error("filling the division table", err))?;
    Ok(())
}

/// The applied version; 0 for a database without Kuaidi's schema.
fn version(client: &mut Client) -> Result<i32, StoreError> {
    let exists: bool = client
        .query_one("SELECT to_regclass('kuaidi_migrations') IS NOT NULL", &[])
        .map_err(|err| pg_error("reading the schema version", err))?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let row = client
        .query_one("SELECT coalesce(max(version), 0) FROM kuaidi_migrations", &[])
        .map_err(|err| pg_error("reading the schema version", err))?;
    Ok(row.get(0))
}

fn newer(found: i32) -> StoreError {
    StoreError::new(
        ErrorKind::SchemaVersion,
        format!(
            "the database is at schema version {found}, newer than this kuaidi knows ({LATEST_VERSION}); upgrade kuaidi"
        ),
    )
}

/// Refuses a database that is not at [`LATEST_VERSION`].
pub(crate) fn check_version(client: &mut Client) -> Result<(), StoreError> {
    let found = version(client)?;
    match found {
        found if found == LATEST_VERSION => Ok(()),
        found if found > LATEST_VERSION => Err(newer(found)),
        0 => Err(StoreError::new(
            ErrorKind::SchemaVersion,
            "the database has no Kuaidi schema (version 0); run `kuaidi migrate --database <url>` first",
        )),
        found => Err(StoreError::new(
            ErrorKind::SchemaVersion,
            format!(
                "the database is at schema version {found}, older than this kuaidi needs ({LATEST_VERSION}); run `kuaidi migrate --database <url>`"
            ),
        )),
    }
}

/// The plaintext sealed in `kuaidi_meta` to recognise the personal-data key.
const KEY_CHECK: &[u8] = b"kuaidi personal-data key check";

/// Records a value sealed with `key` on first use, and refuses a key that cannot open the recorded one: two servers
/// with different keys would each seal waybills that the other cannot read.
pub(crate) fn check_pii_key(client: &mut Client, key: &PiiKey) -> Result<(), StoreError> {
    let sealed = key.seal(KEY_CHECK)?;
    client
        .execute(
            "INSERT INTO kuaidi_meta (name, value) VALUES ('pii_key_check', $1) ON CONFLICT (name) DO NOTHING",
            &[&sealed],
        )
        .map_err(|err| pg_error("recording the personal-data key check", err))?;
    let stored: Vec<u8> = client
        .query_one("SELECT value FROM kuaidi_meta WHERE name = 'pii_key_check'", &[])
        .map_err(|err| pg_error("reading the personal-data key check", err))?
        .get(0);
    match key.open(&stored) {
        Ok(plain) if plain == KEY_CHECK => Ok(()),
        _ => Err(StoreError::new(
            ErrorKind::Other,
            "the personal-data key does not match the one this database's data is sealed with; every server on one database needs the same `pii.key`",
        )),
    }
}
