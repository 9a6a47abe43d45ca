//! The PostgreSQL backend of Kuaidi's [`Store`]: the same contract as the embedded store, for a region's full volume
//! kept for years, on one PostgreSQL server or sharded by Citus.
//!
//! The schema (`migrations/pg/`) is laid out for Citus: `parcels`, `waybills` and `events` are keyed by the waybill
//! number first (the distribution column), events are partitioned by day, and carriers, facilities and divisions are
//! reference tables. Migrations are applied only by [`migrate`] (`kuaidi migrate`); a server refuses a database at
//! another version. Ingest answers per record, idempotently, also when several servers write the same parcel at once
//! (they take the parcel's row lock in key order), and writes new events and waybills with binary `COPY`.

mod ceiling;
mod conn;
mod derived;
mod epcis;
mod ingest;
mod partition;
mod rows;
mod schema;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use kuaidi_model::{Carrier, CarrierCode, Complaint, EventId, Facility, Record, ScanEvent, Waybill, WaybillNo};
use kuaidi_rules::{Counters, Dimension, Filter, GroupKey};
use kuaidi_store::{
    Alert, AlertChange, AlertQuery, ApiKey, AuditEntry, Capture, CaptureJob, Counts, CoverageCounts, CoverageFilter,
    CoverageGroup, EpcisQuery, EpcisRecord, Handler, NewApiKey, Outcome, ParcelState, PiiKey, Rules, Store, StoreError,
    StoredEpcis, SweepReport,
};

pub use ceiling::copy_ceiling;
pub use partition::{day_of, MaintenanceReport};
pub use schema::{migrate, MigrationReport, LATEST_VERSION};

use conn::Pool;
use partition::Partitions;

/// How to reach and run the PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// A `postgres://user:password@host:port/database` URL (or a libpq key-value string).
    pub url: String,
    /// The key that seals personal data; every server on one database must hold the same one.
    pub pii_key: PiiKey,
    /// Most connections this process opens.
    pub max_connections: usize,
    /// Day partitions of events created ahead of today.
    pub partitions_ahead_days: u32,
    /// Days of events, waybills and parcels kept; older day partitions are dropped. `None` keeps everything.
    pub retention_days: Option<u32>,
    /// How long an operation retries a lost or refused connection before it gives up with `Unavailable`.
    pub retry_for: Duration,
    /// The rules derived state follows; `None` for [`Rules::standard`]. Every server on one database must use the
    /// same rules, or their parcels' states would disagree.
    pub rules: Option<Arc<Rules>>,
}

impl PgConfig {
    /// Defaults for a database at `url`.
    pub fn new(url: impl Into<String>, pii_key: PiiKey) -> PgConfig {
        PgConfig {
            url: url.into(),
            pii_key,
            max_connections: 16,
            partitions_ahead_days: 7,
            retention_days: None,
            retry_for: Duration::from_secs(30),
            rules: None,
        }
    }
}

/// The PostgreSQL store. Stateless apart from its connections: any number of servers may share one database.
pub struct PgStore {
    pool: Arc<Pool>,
    partitions: Arc<Partitions>,
    config: PgConfig,
    /// Tells the maintenance thread to stop when the store is dropped.
    stop_maintenance: Arc<AtomicBool>,
    /// The rules derived state follows.
    rules: Arc<Rules>,
    /// Carriers and facilities for the rules, reloaded when a transaction finds it behind.
    reference: RwLock<Arc<kuaidi_store::derived::RefCache>>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("database", &self.pool.describe()).finish()
    }
}

/// How often the maintenance thread creates partitions ahead and applies retention.
const MAINTENANCE_EVERY: Duration = Duration::from_secs(3600);

impl PgStore {
    /// Connects, checks that the database is at this program's schema version and that it was sealed with the same
    /// personal-data key, and creates the day partitions ahead. Fails at once (no retry) when the database cannot be
    /// reached, so a misconfigured server stops with a clear message.
    pub fn connect(config: PgConfig) -> Result<PgStore, StoreError> {
        let pool = Arc::new(Pool::new(&config.url, config.max_connections, config.retry_for)?);
        {
            let mut conn = pool.connect_once()?;
            schema::check_version(&mut conn.client)?;
            schema::check_pii_key(&mut conn.client, &config.pii_key)?;
            pool.give_back(conn);
        }
        let partitions = Arc::new(Partitions::default());
        let rules = match &config.rules {
            Some(rules) => rules.clone(),
            None => Arc::new(Rules::standard()?),
        };
        let store = PgStore {
            pool,
            partitions,
            config,
            stop_maintenance: Arc::new(AtomicBool::new(false)),
            rules,
            reference: RwLock::new(Arc::default()),
        };
        store.maintain(Utc::now())?;
        store.start_maintenance_thread()?;
        Ok(store)
    }

    /// Creates the day partitions from yesterday to `partitions_ahead_days` after `now`, and applies retention:
    /// drops event partitions that ended before the retention cut-off, and deletes parcels (with their waybills)
    /// untouched since. Runs at connect and every hour; safe to run from several servers at once.
    pub fn maintain(&self, now: DateTime<Utc>) -> Result<MaintenanceReport, StoreError> {
        self.pool.with("maintaining partitions", |conn| {
            partition::maintain(
                &mut conn.client,
                &self.partitions,
                now,
                self.config.partitions_ahead_days,
                self.config.retention_days,
            )
        })
    }

    /// The days that have an event partition, oldest first.
    pub fn partition_days(&self) -> Result<Vec<NaiveDate>, StoreError> {
        self.pool.with("listing partitions", |conn| partition::existing_days(&mut conn.client))
    }

    fn start_maintenance_thread(&self) -> Result<(), StoreError> {
        let (pool, partitions, stop) = (self.pool.clone(), self.partitions.clone(), self.stop_maintenance.clone());
        let (ahead, retention) = (self.config.partitions_ahead_days, self.config.retention_days);
        std::thread::Builder::new()
            .name("pg-maintenance".into())
            .spawn(move || {
                let mut last = std::time::Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(500));
                    if last.elapsed() < MAINTENANCE_EVERY {
                        continue;
                    }
                    last = std::time::Instant::now();
                    let res = pool.with("maintaining partitions", |conn| {
                        partition::maintain(&mut conn.client, &partitions, Utc::now(), ahead, retention)
                    });
                    match res {
                        Ok(report) => tracing::info!(?report, "partition maintenance"),
                        Err(err) => tracing::warn!(%err, "partition maintenance failed; retrying in an hour"),
                    }
                }
            })
            .map_err(|err| {
                StoreError::with_source(kuaidi_store::ErrorKind::Other, "cannot start the maintenance thread", err)
            })?;
        Ok(())
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.stop_maintenance.store(true, Ordering::Relaxed);
    }
}

/// Parcels re-derived per transaction by a sweep.
const SWEEP_CHUNK: usize = 5_000;

impl PgStore {
    fn deriver(&self) -> derived::Deriver<'_> {
        derived::Deriver { key: &self.config.pii_key, rules: &self.rules, reference: &self.reference }
    }
}

impl Store for PgStore {
    fn ingest_at(&self, records: &[Record], now: DateTime<Utc>) -> Result<Vec<Outcome>, StoreError> {
        let received = Utc::now();
        let prepared = ingest::Prepared::new(records, &self.config.pii_key)?;
        let deriver = self.deriver();
        self.pool.with("ingesting a batch", |conn| {
            self.partitions.ensure(&mut conn.client, prepared.event_days())?;
            ingest::ingest(conn, &deriver, &prepared, received, now, &mut |_, _| Ok(()))
        })
    }

    fn capture_at(&self, capture: &Capture<'_>, now: DateTime<Utc>) -> Result<Vec<Outcome>, StoreError> {
        // The EPCIS events and the job join the ingest's transaction once its records are answered.
        let mut store_epcis = |tx: &mut postgres::Transaction<'_>, outcomes: &[Outcome]| {
            let kept = capture.events.iter().enumerate().filter(|(idx, _)| capture.keeps(*idx, outcomes));
            epcis::capture_in(tx, kept.map(|(_, event)| event))?;
            epcis::put_job_in(tx, capture.job)
        };
        if capture.records.is_empty() {
            return self.pool.with("capturing EPCIS events", |conn| {
                let mut tx =
                    conn.client.transaction().map_err(|err| conn::pg_error("starting an EPCIS capture", err))?;
                store_epcis(&mut tx, &[])?;
                tx.commit().map_err(|err| conn::pg_error("committing an EPCIS capture", err))?;
                Ok(Vec::new())
            });
        }
        let received = Utc::now();
        let prepared = ingest::Prepared::new(capture.records, &self.config.pii_key)?;
        let deriver = self.deriver();
        self.pool.with("capturing EPCIS events", |conn| {
            self.partitions.ensure(&mut conn.client, prepared.event_days())?;
            ingest::ingest(conn, &deriver, &prepared, received, now, &mut store_epcis)
        })
    }

    fn indicators(&self, filter: &Filter, group_by: &[Dimension]) -> Result<Vec<(GroupKey, Counters)>, StoreError> {
        let aggregates = self.pool.with("reading the indicators", |conn| derived::cube(&mut conn.client))?;
        Ok(aggregates.cube.slice(filter, group_by))
    }

    fn coverage(
        &self,
        filter: &CoverageFilter,
        group: CoverageGroup,
    ) -> Result<Vec<(String, CoverageCounts)>, StoreError> {
        let aggregates = self.pool.with("reading the coverage", |conn| derived::coverage(&mut conn.client))?;
        Ok(kuaidi_store::derived::coverage_rollup(&aggregates.coverage, filter, group))
    }

    fn parcel_state(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Option<ParcelState>, StoreError> {
        self.pool.with("reading a parcel's state", |conn| derived::state(&mut conn.client, carrier, waybill_no))
    }

    fn alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
        self.pool.with("listing alerts", |conn| derived::alerts(&mut conn.client, query))
    }

    fn update_alert(&self, id: i64, change: &AlertChange) -> Result<Alert, StoreError> {
        self.pool.with("updating an alert", |conn| derived::update_alert(&mut conn.client, id, change))
    }

    fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        let deriver = self.deriver();
        loop {
            let (n_due, changes) = self.pool.with("sweeping open parcels", |conn| {
                let mut tx =
                    conn.client.transaction().map_err(|err| conn::pg_error("starting a sweep transaction", err))?;
                let (n_due, changes) = derived::sweep_chunk(&mut tx, &deriver, now, SWEEP_CHUNK)?;
                tx.commit().map_err(|err| conn::pg_error("committing a sweep transaction", err))?;
                Ok((n_due, changes))
            })?;
            report.examined += changes.examined;
            report.changed += changes.changed;
            report.new_alerts += changes.new_alerts;
            // A parcel re-derived at `now` is due only later than `now`, so every round makes progress.
            if n_due < SWEEP_CHUNK {
                return Ok(report);
            }
        }
    }

    fn carriers(&self) -> Result<Vec<Carrier>, StoreError> {
        self.pool.with("listing carriers", rows::carriers)
    }

    fn facilities(&self) -> Result<Vec<Facility>, StoreError> {
        self.pool.with("listing facilities", rows::facilities)
    }

    fn waybill(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Option<Waybill>, StoreError> {
        self.pool.with("reading a waybill", |conn| rows::waybill(conn, &self.config.pii_key, carrier, waybill_no))
    }

    fn carriers_of(&self, waybill_no: &WaybillNo) -> Result<Vec<CarrierCode>, StoreError> {
        self.pool.with("finding a waybill's carriers", |conn| rows::carriers_of(conn, waybill_no))
    }

    fn events_of(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Vec<ScanEvent>, StoreError> {
        self.pool.with("reading a parcel's events", |conn| rows::events_of(conn, carrier, waybill_no))
    }

    fn events_after(
        &self,
        after: Option<(&WaybillNo, &CarrierCode, &EventId)>,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, StoreError> {
        self.pool.with("paging through events", |conn| rows::events_after(conn, after, limit))
    }

    fn waybills_after(
        &self,
        after: Option<(&WaybillNo, &CarrierCode)>,
        limit: usize,
    ) -> Result<Vec<Waybill>, StoreError> {
        self.pool.with("paging through waybills", |conn| rows::waybills_after(conn, &self.config.pii_key, after, limit))
    }

    fn parcel_states_after(
        &self,
        after: Option<(&WaybillNo, &CarrierCode)>,
        limit: usize,
    ) -> Result<Vec<(CarrierCode, WaybillNo, ParcelState)>, StoreError> {
        self.pool.with("paging through parcel states", |conn| derived::states_after(conn, after, limit))
    }

    fn complaints_of(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Vec<Complaint>, StoreError> {
        self.pool.with("reading a parcel's complaints", |conn| {
            rows::complaints_of(&mut conn.client, &self.config.pii_key, carrier, waybill_no)
        })
    }

    fn handled_by(
        &self,
        handler: &Handler,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, StoreError> {
        self.pool.with("reverse tracing", |conn| rows::handled_by(conn, handler, from, to, limit))
    }

    fn create_key(&self, key: &NewApiKey) -> Result<(), StoreError> {
        self.pool.with("creating a key", |conn| rows::create_key(conn, key))
    }

    fn key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        self.pool.with("looking up a key", |conn| rows::key_by_hash(conn, hash))
    }

    fn keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.pool.with("listing keys", rows::keys)
    }

    fn revoke_key(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.pool.with("revoking a key", |conn| rows::revoke_key(conn, id, at))
    }

    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.pool.with("writing the audit log", |conn| rows::audit(conn, entry))
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.pool.with("reading the audit log", |conn| rows::audit_log(conn, limit))
    }

    fn counts(&self) -> Result<Counts, StoreError> {
        self.pool.with("counting records", rows::counts)
    }

    fn capture_epcis(&self, events: &[EpcisRecord]) -> Result<Vec<Outcome>, StoreError> {
        self.pool.with("capturing EPCIS events", |conn| epcis::capture(conn, events))
    }

    fn query_epcis(&self, query: &EpcisQuery) -> Result<Vec<StoredEpcis>, StoreError> {
        self.pool.with("querying EPCIS events", |conn| epcis::query(conn, query))
    }

    fn put_capture_job(&self, job: &CaptureJob) -> Result<(), StoreError> {
        self.pool.with("storing a capture job", |conn| epcis::put_job(conn, job))
    }

    fn capture_job(&self, id: &str) -> Result<Option<CaptureJob>, StoreError> {
        self.pool.with("reading a capture job", |conn| epcis::job(conn, id))
    }
}
