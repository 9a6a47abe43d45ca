//! `kuaidi migrate`: brings the PostgreSQL database named by `--database` to this program's schema version, and
//! makes the personal-data key in the data directory when there is none. Servers never migrate by themselves, so
//! several of them can start at once on one database.

use clap::Args;

use crate::config::redact_url;
use crate::{CliError, Config};

/// Arguments of `migrate` (the database is the global `--database`).
#[derive(Debug, Args)]
pub struct MigrateArgs {}

pub fn run(_args: MigrateArgs, config: &Config) -> Result<(), CliError> {
    let Some(url) = &config.database else {
        let store = config.open_sqlite()?;
        println!(
            "the embedded store `{}` is at the latest schema (it migrates itself when opened)",
            store.path().display()
        );
        return Ok(());
    };
    config.pii_key()?;
    let report =
        kuaidi_store_pg::migrate(url).map_err(|err| CliError::Database { database: redact_url(url), source: err })?;
    if report.from == report.to {
        println!("the database `{}` is already at schema version {}", redact_url(url), report.to);
    } else {
        println!("migrated the database `{}` from schema version {} to {}", redact_url(url), report.from, report.to);
    }
    Ok(())
}
