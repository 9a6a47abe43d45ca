//! Day partitions of `events`: created ahead of time (and on demand for an older day a batch brings), dropped by
//! the retention setting. A day runs from midnight to midnight China Standard Time (UTC+8), the delta's working day.

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc};
use kuaidi_store::{ErrorKind, StoreError};
use postgres::Client;

use crate::conn::pg_error;

/// Serialises partition DDL between servers: `CREATE TABLE IF NOT EXISTS` alone races.
const PARTITION_LOCK: i64 = 0x6b75_6169_6469_0002;

/// China Standard Time.
fn cst() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| FixedOffset::east_opt(0).unwrap_or_else(|| unreachable!()))
}

/// The partition day of an instant.
pub fn day_of(time: DateTime<Utc>) -> NaiveDate {
    time.with_timezone(&cst()).date_naive()
}

fn day_start(day: NaiveDate) -> DateTime<Utc> {
    cst().from_local_datetime(&day.and_hms_opt(0, 0, 0).unwrap_or_default()).single().unwrap_or_default().to_utc()
}

fn table_name(day: NaiveDate) -> String {
    format!("events_p{}", day.format("%Y%m%d"))
}

fn day_of_table(name: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(name.strip_prefix("events_p")?, "%Y%m%d").ok()
}

/// The days known to have a partition, so that ingest asks the database only about a day it has not seen.
#[derive(Debug, Default)]
pub(crate) struct Partitions {
    known: Mutex<BTreeSet<NaiveDate>>,
}

impl Partitions {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeSet<NaiveDate>> {
        self.known.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Makes sure every day in `days` has a partition. Runs outside the ingest transaction, so the short lock that
    /// creating a partition takes on `events` is not held while the batch is written.
    pub(crate) fn ensure(
        &self,
        client: &mut Client,
        days: impl IntoIterator<Item = NaiveDate>,
    ) -> Result<(), StoreError> {
        let missing: Vec<NaiveDate> = {
            let known = self.lock();
            days.into_iter().filter(|day| !known.contains(day)).collect()
        };
        if missing.is_empty() {
            return Ok(());
        }
        let existing = existing_days(client)?;
        self.lock().extend(existing.iter().copied());
        let to_create: BTreeSet<NaiveDate> = missing.into_iter().filter(|day| !existing.contains(day)).collect();
        if to_create.is_empty() {
            return Ok(());
        }
        create(client, &to_create)?;
        self.lock().extend(to_create);
        Ok(())
    }

    fn forget(&self, day: NaiveDate) {
        self.lock().remove(&day);
    }
}

/// The days that have a partition, oldest first.
pub(crate) fn existing_days(client: &mut Client) -> Result<Vec<NaiveDate>, StoreError> {
    let rows = client
        .query(
            "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
             WHERE i.inhparent = 'events'::regclass",
            &[],
        )
        .map_err(|err| pg_error("listing partitions", err))?;
    let mut days: Vec<NaiveDate> = rows.iter().filter_map(|row| day_of_table(row.get(0))).collect();
    days.sort();
    Ok(days)
}

fn create(client: &mut Client, days: &BTreeSet<NaiveDate>) -> Result<(), StoreError> {
    let mut tx = client.transaction().map_err(|err| pg_error("starting to create partitions", err))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])
        .map_err(|err| pg_error("waiting to create partitions", err))?;
    for day in days {
        let next = day.succ_opt().ok_or_else(|| StoreError::new(ErrorKind::Other, format!("no day after {day}")))?;
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} PARTITION OF events FOR VALUES FROM ('{}') TO ('{}')",
            table_name(*day),
            day_start(*day).to_rfc3339(),
            day_start(next).to_rfc3339(),
        );
        tx.batch_execute(&format!("SET LOCAL client_min_messages = warning; {sql}"))
            .map_err(|err| pg_error(&format!("creating the partition of {day}"), err))?;
    }
    tx.commit().map_err(|err| pg_error("committing new partitions", err))?;
    tracing::info!(n_partitions = days.len(), "created event partitions");
    Ok(())
}

/// What one maintenance run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MaintenanceReport {
    /// Days whose partition was created.
    pub created: Vec<NaiveDate>,
    /// Days whose partition was dropped by retention.
    pub dropped: Vec<NaiveDate>,
    /// Parcels (with their waybills) deleted by retention.
    pub parcels_deleted: u64,
}

pub(crate) fn maintain(
    client: &mut Client,
    partitions: &Partitions,
    now: DateTime<Utc>,
    ahead_days: u32,
    retention_days: Option<u32>,
) -> Result<MaintenanceReport, StoreError> {
    let today = day_of(now);
    let existing: BTreeSet<NaiveDate> = existing_days(client)?.into_iter().collect();
    let wanted: BTreeSet<NaiveDate> = (-1..=i64::from(ahead_days)).map(|n| today + Duration::days(n)).collect();
    let cut_off = retention_days.map(|days| today - Duration::days(i64::from(days)));
    let to_create: BTreeSet<NaiveDate> =
        wanted.into_iter().filter(|day| !existing.contains(day) && cut_off.is_none_or(|cut| *day >= cut)).collect();
    let mut report = MaintenanceReport::default();
    if !to_create.is_empty() {
        create(client, &to_create)?;
        report.created = to_create.iter().copied().collect();
    }
    partitions.lock().extend(existing.iter().copied().chain(to_create));
    if let Some(cut) = cut_off {
        let mut tx = client.transaction().map_err(|err| pg_error("starting retention", err))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PARTITION_LOCK])
            .map_err(|err| pg_error("waiting to apply retention", err))?;
        for day in existing.iter().copied().filter(|day| *day < cut) {
            tx.batch_execute(&format!("DROP TABLE IF EXISTS {}", table_name(day)))
                .map_err(|err| pg_error(&format!("dropping the partition of {day}"), err))?;
            partitions.forget(day);
            report.dropped.push(day);
        }
        // Waybills go with their parcel (ON DELETE CASCADE).
        report.parcels_deleted = tx
            .execute("DELETE FROM parcels WHERE last_activity < $1", &[&day_start(cut)])
            .map_err(|err| pg_error("deleting parcels past retention", err))?;
        tx.commit().map_err(|err| pg_error("committing retention", err))?;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_run_from_midnight_china_standard_time() {
        let just_before = DateTime::parse_from_rfc3339("2026-11-11T23:59:59+08:00").unwrap().to_utc();
        let midnight = DateTime::parse_from_rfc3339("2026-11-12T00:00:00+08:00").unwrap().to_utc();
        assert_eq!(day_of(just_before), NaiveDate::from_ymd_opt(2026, 11, 11).unwrap());
        assert_eq!(day_of(midnight), NaiveDate::from_ymd_opt(2026, 11, 12).unwrap());
        assert_eq!(day_start(day_of(midnight)), midnight);
        assert_eq!(table_name(day_of(midnight)), "events_p20261112");
        assert_eq!(day_of_table("events_p20261112"), Some(day_of(midnight)));
        assert_eq!(day_of_table("events_default"), None);
    }
}
