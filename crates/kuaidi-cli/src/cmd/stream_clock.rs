//! A replay's store: the real store, with ingest judged by the replayed stream's clock.
//!
//! The demo (and `serve --replay-until`, which `bench ingest` uses) replays a simulated or recorded day through the
//! HTTP ingest path, whose pipeline stores each chunk with the server's clock. Stuck and loss judgements made at ingest depend on `now`, so with the wall clock they would be
//! made as if the whole day had arrived at once, at the moment the demo runs. This decorator stores each chunk as
//! of the stream's clock instead: the latest time of a record in the chunk, never later than the simulation's `now`
//! (nor than the clock the caller passed), which is when a live hub would have received the chunk's last record.
//! Every other method is the inner store's, unchanged.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use kuaidi_model::{Carrier, CarrierCode, Complaint, EventId, Facility, Record, ScanEvent, Waybill, WaybillNo};
use kuaidi_rules::{Counters, Dimension, Filter, GroupKey};
use kuaidi_store::{
    Alert, AlertChange, AlertQuery, ApiKey, AuditEntry, Capture, CaptureJob, Counts, CoverageCounts, CoverageFilter,
    CoverageGroup, EpcisQuery, EpcisRecord, Handler, NewApiKey, Outcome, ParcelState, Store, StoreError, StoredEpcis,
    SweepReport,
};

/// A store whose ingest runs on the simulated stream's clock.
pub struct StreamClock {
    inner: Arc<dyn Store>,
    /// The simulation's `now`: no record is later, and no ingest is judged later.
    sim_now: DateTime<Utc>,
    /// The latest clock an ingest ran at (unix milliseconds): the server's scheduled sweep runs at this time, not at
    /// the wall clock, which is days past the simulated stream and would find every parcel in transit stuck.
    latest_ms: std::sync::atomic::AtomicI64,
}

impl StreamClock {
    pub fn new(inner: Arc<dyn Store>, sim_now: DateTime<Utc>) -> StreamClock {
        StreamClock { inner, sim_now, latest_ms: std::sync::atomic::AtomicI64::new(i64::MIN) }
    }

    /// The stream's clock for a chunk: its latest record time, capped at the simulation's `now` and at `now`.
    /// A chunk of reference data alone has no time of its own and takes the cap.
    pub fn clock_for(&self, records: &[Record], now: DateTime<Utc>) -> DateTime<Utc> {
        let cap = self.sim_now.min(now);
        records
            .iter()
            .filter_map(|record| match record {
                Record::Event(event) => Some(event.time.with_timezone(&Utc)),
                Record::Waybill(waybill) => Some(waybill.created_at.with_timezone(&Utc)),
                Record::Complaint(complaint) => Some(complaint.filed_at.with_timezone(&Utc)),
                Record::Carrier(_) | Record::Facility(_) => None,
            })
            .max()
            .map_or(cap, |latest| latest.min(cap))
    }
}

impl Store for StreamClock {
    fn ingest_at(&self, records: &[Record], now: DateTime<Utc>) -> Result<Vec<Outcome>, StoreError> {
        let clock = self.clock_for(records, now);
        self.latest_ms.fetch_max(clock.timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
        self.inner.ingest_at(records, clock)
    }

    fn ingest_owned_at(&self, records: Vec<Record>, now: DateTime<Utc>) -> Result<Vec<Outcome>, StoreError> {
        let clock = self.clock_for(&records, now);
        self.latest_ms.fetch_max(clock.timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
        self.inner.ingest_owned_at(records, clock)
    }

    fn capture_at(&self, capture: &Capture<'_>, now: DateTime<Utc>) -> Result<Vec<Outcome>, StoreError> {
        let clock = self.clock_for(capture.records, now);
        if !capture.records.is_empty() {
            self.latest_ms.fetch_max(clock.timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
        }
        self.inner.capture_at(capture, clock)
    }

    fn indicators(&self, filter: &Filter, group_by: &[Dimension]) -> Result<Vec<(GroupKey, Counters)>, StoreError> {
        self.inner.indicators(filter, group_by)
    }

    fn coverage(
        &self,
        filter: &CoverageFilter,
        group: CoverageGroup,
    ) -> Result<Vec<(String, CoverageCounts)>, StoreError> {
        self.inner.coverage(filter, group)
    }

    fn parcel_state(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Option<ParcelState>, StoreError> {
        self.inner.parcel_state(carrier, waybill_no)
    }

    fn alerts(&self, query: &AlertQuery) -> Result<Vec<Alert>, StoreError> {
        self.inner.alerts(query)
    }

    fn update_alert(&self, id: i64, change: &AlertChange) -> Result<Alert, StoreError> {
        self.inner.update_alert(id, change)
    }

    fn events_after(
        &self,
        after: Option<(&WaybillNo, &CarrierCode, &EventId)>,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, StoreError> {
        self.inner.events_after(after, limit)
    }

    fn waybills_after(
        &self,
        after: Option<(&WaybillNo, &CarrierCode)>,
        limit: usize,
    ) -> Result<Vec<Waybill>, StoreError> {
        self.inner.waybills_after(after, limit)
    }

    fn parcel_states_after(
        &self,
        after: Option<(&WaybillNo, &CarrierCode)>,
        limit: usize,
    ) -> Result<Vec<(CarrierCode, WaybillNo, ParcelState)>, StoreError> {
        self.inner.parcel_states_after(after, limit)
    }

    fn upkeep_timing(&self) -> Option<kuaidi_store::UpkeepTiming> {
        self.inner.upkeep_timing()
    }

    fn sweep(&self, now: DateTime<Utc>) -> Result<SweepReport, StoreError> {
        let latest = DateTime::from_timestamp_millis(self.latest_ms.load(std::sync::atomic::Ordering::Relaxed));
        match latest {
            // Before the first ingest there is nothing to sweep.
            None => Ok(SweepReport::default()),
            Some(latest) => self.inner.sweep(latest.min(now)),
        }
    }

    fn carriers(&self) -> Result<Vec<Carrier>, StoreError> {
        self.inner.carriers()
    }

    fn facilities(&self) -> Result<Vec<Facility>, StoreError> {
        self.inner.facilities()
    }

    fn waybill(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Option<Waybill>, StoreError> {
        self.inner.waybill(carrier, waybill_no)
    }

    fn carriers_of(&self, waybill_no: &WaybillNo) -> Result<Vec<CarrierCode>, StoreError> {
        self.inner.carriers_of(waybill_no)
    }

    fn events_of(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Vec<ScanEvent>, StoreError> {
        self.inner.events_of(carrier, waybill_no)
    }

    fn complaints_of(&self, carrier: &CarrierCode, waybill_no: &WaybillNo) -> Result<Vec<Complaint>, StoreError> {
        self.inner.complaints_of(carrier, waybill_no)
    }

    fn handled_by(
        &self,
        handler: &Handler,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<ScanEvent>, StoreError> {
        self.inner.handled_by(handler, from, to, limit)
    }

    fn create_key(&self, key: &NewApiKey) -> Result<(), StoreError> {
        self.inner.create_key(key)
    }

    fn key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
        self.inner.key_by_hash(hash)
    }

    fn keys(&self) -> Result<Vec<ApiKey>, StoreError> {
        self.inner.keys()
    }

    fn revoke_key(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.inner.revoke_key(id, at)
    }

    fn audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.inner.audit(entry)
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.inner.audit_log(limit)
    }

    fn counts(&self) -> Result<Counts, StoreError> {
        self.inner.counts()
    }

    fn capture_epcis(&self, events: &[EpcisRecord]) -> Result<Vec<Outcome>, StoreError> {
        self.inner.capture_epcis(events)
    }

    fn query_epcis(&self, query: &EpcisQuery) -> Result<Vec<StoredEpcis>, StoreError> {
        self.inner.query_epcis(query)
    }

    fn put_capture_job(&self, job: &CaptureJob) -> Result<(), StoreError> {
        self.inner.put_capture_job(job)
    }

    fn capture_job(&self, id: &str) -> Result<Option<CaptureJob>, StoreError> {
        self.inner.capture_job(id)
    }
}

#[cfg(test)]
mod tests {
    use kuaidi_store::testing::fixtures;

    use super::*;

    fn time(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc)
    }

    /// A real store in a temporary directory.
    fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let config = kuaidi_store::SqliteConfig::new(dir.path().join("kuaidi.db"), kuaidi_store::PiiKey::generate());
        (dir, Arc::new(kuaidi_store::SqliteStore::open(config).unwrap()))
    }

    #[test]
    fn the_clock_is_the_latest_record_capped_by_the_simulation_and_the_caller() {
        let (_dir, inner) = store();
        let chain: Vec<Record> =
            fixtures::chain("yto", "YT0000000001").into_iter().map(|e| Record::Event(Box::new(e))).collect();
        let latest = chain
            .iter()
            .filter_map(|r| match r {
                Record::Event(e) => Some(e.time.with_timezone(&Utc)),
                _ => None,
            })
            .max()
            .unwrap();
        let far = time("2100-01-01T00:00:00Z");
        let clock = StreamClock::new(inner.clone(), far);
        assert_eq!(clock.clock_for(&chain, far), latest);
        // Never later than the simulation's now, nor than the caller's.
        let early = latest - chrono::Duration::hours(1);
        assert_eq!(StreamClock::new(inner.clone(), early).clock_for(&chain, far), early);
        assert_eq!(clock.clock_for(&chain, early), early);
        // Reference data alone takes the cap.
        assert_eq!(clock.clock_for(&fixtures::reference(), early), early);
    }

    #[test]
    fn ingest_judges_parcels_as_of_the_stream_clock() {
        // A parcel that stopped after its security scan. Judged by a clock 30 days on, it would be stuck or lost
        // at once; judged by the stream's clock (its own last record) it is still moving, and only the sweep at the
        // later moment finds it stuck.
        let (_dir, inner) = store();
        let later = fixtures::base_time().with_timezone(&Utc) + chrono::Duration::days(30);
        let clock = StreamClock::new(inner.clone(), later);
        let mut records = fixtures::reference();
        records.push(Record::Waybill(Box::new(fixtures::waybill("yto", "YT0000000001"))));
        let mut chain = fixtures::chain("yto", "YT0000000001");
        chain.truncate(3);
        records.extend(chain.into_iter().map(|e| Record::Event(Box::new(e))));
        clock.ingest_at(&records, later).unwrap();
        let time_alerts = |store: &dyn Store| {
            ["stuck", "loss"]
                .iter()
                .map(|kind| {
                    let query = AlertQuery { kind: Some((*kind).into()), limit: 100, ..AlertQuery::default() };
                    store.alerts(&query).unwrap().len()
                })
                .sum::<usize>()
        };
        assert_eq!(time_alerts(&clock), 0);
        // The same records stored as of that later clock directly are judged stuck at once: the clock matters.
        let (_dir2, direct) = store();
        direct.ingest_at(&records, later).unwrap();
        assert!(time_alerts(&*direct) >= 1);
        // The server's scheduled sweep asks with the wall clock, far past the stream: it runs at the stream's clock.
        let wall = later + chrono::Duration::days(365);
        assert_eq!(clock.sweep(wall).unwrap().changed, 0);
        assert_eq!(time_alerts(&clock), 0);
        // The demo's own sweep at the simulation's `now`, on the store itself, finds the parcel stuck.
        let report = inner.sweep(later).unwrap();
        assert!(report.changed >= 1, "{report:?}");
        assert!(time_alerts(&*inner) >= 1);
    }
}
