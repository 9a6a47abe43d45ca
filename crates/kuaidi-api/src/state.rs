//! The application state shared by every handler: the store, a snapshot of reference data, the clock and limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use kuaidi_model::{CarrierCode, Facility, FacilityCode, Policy, Reference};
use kuaidi_rules::TimeLimits;
use kuaidi_store::{Store, StoreError};

/// The clock: a function so tests can fix the time. The server passes `Utc::now`.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Limits and policies of the API, set by the CLI from config.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// Largest body of a single-record or batch request, in bytes.
    pub max_body_bytes: usize,
    /// Largest NDJSON stream to `/v1/ingest`, in bytes.
    pub max_stream_bytes: u64,
    /// Most records in one JSON batch.
    pub max_batch_records: usize,
    /// Records per store transaction when ingesting a stream.
    pub ingest_chunk: usize,
    /// Public tracking requests allowed per client address per minute.
    pub track_per_minute: u32,
    /// Validation policy (future tolerance and earliest time).
    pub policy: Policy,
    /// How often the server re-derives open parcels whose stuck or lost moment has passed (`Store::sweep`).
    pub sweep_interval: Duration,
    /// The time limits the indicator reports are labelled with; they should be the store's.
    pub time_limits: TimeLimits,
}

impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            max_body_bytes: 16 * 1024 * 1024,
            max_stream_bytes: 4 * 1024 * 1024 * 1024,
            max_batch_records: 10_000,
            ingest_chunk: 20_000,
            track_per_minute: 60,
            policy: Policy::default(),
            sweep_interval: Duration::from_secs(5 * 60),
            time_limits: TimeLimits::default(),
        }
    }
}

/// Registered carriers and facilities, held in memory because every record is checked against them.
#[derive(Debug, Default)]
pub struct ReferenceData {
    /// Registered carriers.
    pub carriers: HashMap<CarrierCode, String>,
    /// Registered facilities.
    pub facilities: HashMap<FacilityCode, Facility>,
}

impl Reference for ReferenceData {
    fn has_carrier(&self, code: &CarrierCode) -> bool {
        self.carriers.contains_key(code)
    }

    fn facility(&self, code: &FacilityCode) -> Option<&Facility> {
        self.facilities.get(code)
    }
}

/// A reference snapshot and when it was loaded.
struct Snapshot {
    data: Arc<ReferenceData>,
    loaded_at: Instant,
}

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<dyn Store>,
    /// Reloaded after this process registers reference data, and at most once a second when a record names an
    /// unknown carrier or facility (another process may have registered it).
    reference: RwLock<Snapshot>,
    clock: Clock,
    config: ApiConfig,
    /// Per-client-address limiter of the public tracking endpoint.
    track_limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl AppState {
    /// Builds the state, loading reference data from the store.
    pub fn new(store: Arc<dyn Store>, config: ApiConfig, clock: Clock) -> Result<AppState, StoreError> {
        let data = Arc::new(load_reference(&*store)?);
        let per_minute = NonZeroU32::new(config.track_per_minute).unwrap_or(NonZeroU32::MIN);
        let track_limiter = RateLimiter::keyed(Quota::per_minute(per_minute));
        Ok(AppState {
            inner: Arc::new(Inner {
                store,
                reference: RwLock::new(Snapshot { data, loaded_at: Instant::now() }),
                clock,
                config,
                track_limiter,
            }),
        })
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.inner.store
    }

    /// The API configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    /// The current time by the state's clock.
    pub fn now(&self) -> DateTime<Utc> {
        (self.inner.clock)()
    }

    /// The current reference snapshot.
    pub fn reference(&self) -> Arc<ReferenceData> {
        self.inner.reference.read().unwrap_or_else(std::sync::PoisonError::into_inner).data.clone()
    }

    /// Reloads reference data from the store; with `only_if_older_than`, skips a reload younger than that.
    pub fn reload_reference(&self, only_if_older_than: Option<Duration>) -> Result<Arc<ReferenceData>, StoreError> {
        if let Some(age) = only_if_older_than {
            let snapshot = self.inner.reference.read().unwrap_or_else(std::sync::PoisonError::into_inner);
            if snapshot.loaded_at.elapsed() < age {
                return Ok(snapshot.data.clone());
            }
        }
        let data = Arc::new(load_reference(&*self.inner.store)?);
        *self.inner.reference.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Snapshot { data: data.clone(), loaded_at: Instant::now() };
        Ok(data)
    }

    /// Whether a public tracking request from `addr` is within its rate.
    pub fn allow_tracking(&self, addr: IpAddr) -> bool {
        let limiter = &self.inner.track_limiter;
        // The limiter keeps a cell per address it has seen; every so often drop the ones that are full again,
        // so a crawl from many addresses cannot grow it without bound.
        if limiter.len() > 100_000 {
            limiter.retain_recent();
        }
        limiter.check_key(&addr).is_ok()
    }
}

fn load_reference(store: &dyn Store) -> Result<ReferenceData, StoreError> {
    let carriers = store.carriers()?.into_iter().map(|c| (c.code, c.name)).collect();
    let facilities = store.facilities()?.into_iter().map(|f| (f.code.clone(), f)).collect();
    Ok(ReferenceData { carriers, facilities })
}
