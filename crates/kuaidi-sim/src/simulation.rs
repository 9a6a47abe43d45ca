//! The simulation: its configuration, the network built from it, and the run that streams records in emission order.
//!
//! # Emission order
//! First every carrier, then every facility, then waybills and events interleaved by time: a waybill at its creation
//! time (5 to 120 minutes before acceptance), an event at its own time, except injected duplicates (a copy 1 to
//! 30 minutes later) and out-of-order events (2 to 24 hours later).
//! Ties are broken by the parcel's serial number, so the order is total and deterministic.
//!
//! # Bounded memory
//! Parcels are generated one simulated hour at a time. Their events wait in a reorder buffer (a priority queue with one entry per
//! parcel in transit, plus one per pending duplicate or out-of-order event) and are emitted once no parcel still to be
//! generated can precede them. A parcel's events are held in a compact form of at most 48 bytes each (only those up to
//! `now`), turned into model records only when emitted, so memory grows with the parcels in transit at once, not with
//! the total.
//! Measured peak memory: a million parcels over 7 days about 350 MB; the same million squeezed into one day, all in
//! transit together, about 700 MB.
//! Parcels are queued in hourly buckets, with only the current hour in a heap, which keeps the heap small and cached.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::convert::Infallible;

use chrono::{DateTime, Datelike, Duration, FixedOffset, Utc};
use kuaidi_model::{
    AdminCode, Carrier, Complaint, ComplaintCategory, ComplaintId, EventId, Facility, Record, ScanEvent, Verdict,
    Waybill, WaybillNo,
};
use rand::{Rng, SeedableRng};

use crate::demand::{hourly_counts, Demand};
use crate::network::{Network, CARRIERS};
use crate::parcel::{
    local_time, push_digits, write_operator, write_vehicle, PlannedEvent, PlannedParcel, Planner, NO_FACILITY,
    WAYBILL_LEAD_MAX_MINUTES,
};
use crate::random::{mix, Cumulative, SimRng};
use crate::{Faults, Geography, SimError, TruthEntry};

/// The shape of the traffic over the simulated days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// An ordinary week: weekdays a little busier than weekends.
    #[default]
    Normal,
    /// The Double-11 shopping festival: a peak of three times a normal day on 11 November and handling 1.6 times
    /// slower (see the `demand` and `parcel` module docs).
    Double11,
}

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// How many parcels are accepted over the simulated days (those accepted after `now` are not generated).
    pub parcels: u64,
    /// How many days, from `start`, parcels are accepted over; 1 to 366.
    pub days: u32,
    /// The seed: the same seed and configuration give byte-identical output.
    pub seed: u64,
    /// When the first simulated day begins; times are emitted in China Standard Time (+08:00) whatever its offset.
    pub start: DateTime<FixedOffset>,
    /// The hub's clock: no record with a later time is emitted, so parcels still in transit have fewer events.
    pub now: DateTime<Utc>,
    /// The traffic profile.
    pub profile: Profile,
    /// The share of parcels between the delta and a national key city, 0 to 1.
    pub national_share: f64,
    /// The share of parcels that stay within one delta city, 0 to 1; with `national_share` at most 1.
    pub same_city_share: f64,
    /// Fault rates.
    pub faults: Faults,
}

impl SimConfig {
    /// A configuration with the defaults: `now` at the end of the last day, the normal profile, 8 % national and
    /// 10 % same-city parcels, and the default fault rates.
    pub fn new(start: DateTime<FixedOffset>, days: u32, parcels: u64, seed: u64) -> SimConfig {
        SimConfig {
            parcels,
            days,
            seed,
            start,
            now: (start + Duration::days(i64::from(days))).with_timezone(&Utc),
            profile: Profile::Normal,
            national_share: 0.08,
            same_city_share: 0.10,
            faults: Faults::default(),
        }
    }

    fn validate(&self) -> Result<(), SimError> {
        let invalid = |field, reason: &str| Err(SimError::InvalidConfig { field, reason: reason.to_owned() });
        if !(1..=366).contains(&self.days) {
            return invalid("days", &format!("`{}` must be from 1 to 366", self.days));
        }
        if self.parcels > 1_000_000_000 {
            return invalid("parcels", &format!("`{}` must be at most 1,000,000,000", self.parcels));
        }
        if self.start.year() < 2000 {
            return invalid("start", &format!("`{}` must not be before the year 2000", self.start.to_rfc3339()));
        }
        for (field, share) in [("national_share", self.national_share), ("same_city_share", self.same_city_share)] {
            if !(0.0..=1.0).contains(&share) {
                return invalid(field, &format!("`{share}` must be from 0 to 1"));
            }
        }
        if self.national_share + self.same_city_share > 1.0 {
            return invalid("same_city_share", "together with `national_share` it must not exceed 1");
        }
        self.faults.validate()
    }
}

/// Counts of what a run emitted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Parcels generated (accepted no later than `now`); each has one waybill.
    pub parcels: u64,
    /// Waybill records emitted.
    pub waybills: u64,
    /// Event records emitted, duplicates included.
    pub events: u64,
    /// Of which duplicate copies.
    pub duplicates: u64,
    /// Events emitted out of time order.
    pub out_of_order: u64,
    /// Complaint records emitted (one per parcel with a `complaint` fault).
    pub complaints: u64,
    /// Ground-truth entries (parcels with at least one fault).
    pub truth_entries: u64,
    /// Bytes of records written, when writing (see `write_ndjson`).
    pub bytes: u64,
    /// Bytes of ground truth written, when writing.
    pub truth_bytes: u64,
}

/// A simulation ready to run: the configuration and the network built from the geography.
pub struct Simulation {
    config: SimConfig,
    network: Network,
    demand: Demand,
    carrier_shares: Cumulative,
}

impl std::fmt::Debug for Simulation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Simulation")
            .field("config", &self.config)
            .field("carriers", &self.network.carriers.len())
            .field("facilities", &self.network.facilities.len())
            .finish()
    }
}

impl Simulation {
    /// Checks the configuration and builds the carriers, facilities and routes over the geography.
    pub fn new(geo: &Geography, config: SimConfig) -> Result<Simulation, SimError> {
        config.validate()?;
        let network = Network::build(geo)?;
        let demand = Demand::new(&network, config.national_share, config.same_city_share);
        let carrier_shares = Cumulative::new(CARRIERS.iter().map(|spec| spec.share_pct));
        Ok(Simulation { config, network, demand, carrier_shares })
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The simulated carriers, in emission order.
    pub fn carriers(&self) -> &[Carrier] {
        &self.network.carriers
    }

    /// The simulated facilities, in emission order.
    pub fn facilities(&self) -> &[Facility] {
        &self.network.facilities
    }

    /// The time limit in hours of a parcel from `origin_city` to `destination_city`, or `None` when either is not a
    /// simulated city: 12 between two different key cities of the delta, 24 between other delta cities (one city to
    /// itself included), 48 between a delta city and a national key city.
    ///
    /// Either code may also name a district, which stands for its prefecture ([`AdminCode::prefecture`]), so a
    /// waybill's sender and receiver divisions can be passed as they are.
    /// Every parcel without a `delay` fault that reaches a delivery outcome does so within this limit, and every
    /// parcel with one that reaches it does so more than an hour past it (see [`Fault::Delay`](crate::Fault::Delay)).
    pub fn time_limit_hours(&self, origin_city: AdminCode, destination_city: AdminCode) -> Option<u32> {
        let city = |code: AdminCode| {
            let code = code.prefecture();
            self.network.cities.iter().position(|city| city.code == code)
        };
        let hours = self.network.time_limit_hours(city(origin_city)?, city(destination_city)?);
        u32::try_from(hours).ok()
    }

    /// Streams every record in emission order to `sink` and every ground-truth entry to `truth`.
    pub fn run(&self, mut sink: impl FnMut(Record), mut truth: impl FnMut(TruthEntry)) -> SimStats {
        let res: Result<SimStats, Infallible> = self.try_run(
            |record| {
                sink(record);
                Ok(())
            },
            |entry| {
                truth(entry);
                Ok(())
            },
        );
        match res {
            Ok(stats) => stats,
            Err(never) => match never {},
        }
    }

    /// Like [`Simulation::run`], stopping at the first error a callback returns.
    pub fn try_run<E>(
        &self,
        mut sink: impl FnMut(Record) -> Result<(), E>,
        mut truth: impl FnMut(TruthEntry) -> Result<(), E>,
    ) -> Result<SimStats, E> {
        for carrier in &self.network.carriers {
            sink(Record::Carrier(carrier.clone()))?;
        }
        for facility in &self.network.facilities {
            sink(Record::Facility(facility.clone()))?;
        }

        let config = &self.config;
        let mut rng = SimRng::seed_from_u64(config.seed);
        let planner = Planner {
            network: &self.network,
            demand: &self.demand,
            config,
            carrier_shares: &self.carrier_shares,
            waybill_block: mix(config.seed) % 1000,
            now: config.now.timestamp(),
        };
        let mut stream = Stream::default();
        let mut counters = vec![0u64; CARRIERS.len()];
        let mut accepts = Vec::new();
        let mut planned = Vec::with_capacity(32);
        let mut serial = 0u64;
        let start = config.start.timestamp();
        for (hour, &count) in hourly_counts(config).iter().enumerate() {
            let window = start + hour as i64 * 3600;
            if window > planner.now {
                break;
            }
            // Nothing generated from here on can be keyed earlier than the earliest waybill of this hour.
            stream.flush_before(window - WAYBILL_LEAD_MAX_MINUTES * 60 - 1, &self.network, &mut sink)?;
            accepts.clear();
            accepts.extend((0..count).map(|_| window + rng.random_range(0..3600)));
            accepts.sort_unstable();
            for &accept in &accepts {
                if accept > planner.now {
                    break;
                }
                let Some(mut parcel) = planner.plan(&mut rng, accept, &mut counters, &mut planned) else {
                    debug_assert!(false, "planning a parcel failed");
                    continue;
                };
                let slot_idx = stream.allocate();
                let slot = &mut stream.slots[slot_idx as usize];
                // Copied rather than planned in place, so a new slot's buffer has exactly the capacity it needs.
                slot.events.clear();
                slot.events.reserve_exact(planned.len());
                slot.events.extend_from_slice(&planned);
                serial += 1;
                stream.stats.parcels += 1;
                if !parcel.faults.is_empty() {
                    stream.stats.truth_entries += 1;
                    truth(TruthEntry {
                        carrier: parcel.waybill.carrier.clone(),
                        waybill_no: parcel.waybill.waybill_no.clone(),
                        faults: std::mem::take(&mut parcel.faults),
                    })?;
                }
                stream.insert(slot_idx, serial, parcel);
            }
        }
        stream.flush_before(i64::MAX, &self.network, &mut sink)?;
        Ok(stream.stats)
    }
}

/// What a heap entry emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Item {
    /// The waybill, then the parcel's events in order (skipping deferred ones).
    Chain,
    /// A second copy of an event.
    Duplicate(u16),
    /// An event held back to be emitted out of order.
    Deferred(u16),
    /// The parcel's complaint.
    Complaint,
}

/// A heap entry: ordered by stream time, then parcel serial, then item, so that emission order is total.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    key: i64,
    serial: u64,
    item: Item,
    slot: u32,
}

/// A parcel in transit in the reorder buffer.
#[derive(Default)]
struct Slot {
    carrier: usize,
    /// Kept apart from the waybill, which is handed over when emitted, for the events' ids and waybill numbers.
    waybill_no: Option<WaybillNo>,
    waybill: Option<Box<Waybill>>,
    events: Vec<PlannedEvent>,
    /// The next event of the chain to emit.
    cursor: usize,
    /// Heap entries still referring to this slot; the slot is reused when it drops to zero.
    pending: u32,
    /// The parcel's complaint, if any: filing time and the consumer's words.
    complaint: Option<(i64, &'static str)>,
}

/// A priority queue of entries, bucketed by hour: only the current hour's entries sit in a heap, which stays small
/// enough for the cache, while later hours wait in plain vectors.
struct Queue {
    /// Entries of `active_hour` and earlier.
    active: BinaryHeap<Reverse<Entry>>,
    /// The latest hour (unix seconds / 3600) moved into `active`; `buckets` hold only later hours.
    active_hour: i64,
    buckets: BTreeMap<i64, Vec<Entry>>,
    /// Emptied bucket vectors, kept for reuse.
    spare: Vec<Vec<Entry>>,
}

impl Default for Queue {
    fn default() -> Queue {
        Queue { active: BinaryHeap::new(), active_hour: i64::MIN, buckets: BTreeMap::new(), spare: Vec::new() }
    }
}

impl Queue {
    fn push(&mut self, entry: Entry) {
        let hour = entry.key.div_euclid(3600);
        if hour <= self.active_hour {
            self.active.push(Reverse(entry));
        } else {
            self.buckets.entry(hour).or_insert_with(|| self.spare.pop().unwrap_or_default()).push(entry);
        }
    }

    /// Removes and returns the smallest entry keyed before `limit`.
    fn pop_before(&mut self, limit: i64) -> Option<Entry> {
        loop {
            if let Some(&Reverse(top)) = self.active.peek() {
                // Every bucketed entry is keyed later than every active one, so the active top is the minimum.
                return if top.key < limit { self.active.pop().map(|Reverse(entry)| entry) } else { None };
            }
            let (&hour, _) = self.buckets.first_key_value()?;
            if hour.saturating_mul(3600) >= limit {
                return None;
            }
            let (hour, mut bucket) = self.buckets.pop_first()?;
            self.active_hour = hour;
            self.active.extend(bucket.drain(..).map(Reverse));
            self.spare.push(bucket);
        }
    }
}

/// The reorder buffer.
#[derive(Default)]
struct Stream {
    /// Parcels in transit; freed slots keep their event buffers, so steady state allocates no new ones.
    slots: Vec<Slot>,
    free: Vec<u32>,
    heap: Queue,
    stats: SimStats,
    /// Scratch space for formatting ids.
    text: String,
}

impl Stream {
    fn allocate(&mut self) -> u32 {
        if let Some(idx) = self.free.pop() {
            return idx;
        }
        self.slots.push(Slot::default());
        (self.slots.len() - 1) as u32
    }

    fn insert(&mut self, slot_idx: u32, serial: u64, parcel: PlannedParcel) {
        let PlannedParcel { carrier, waybill, duplicate, deferred, complaint, .. } = parcel;
        let slot = &mut self.slots[slot_idx as usize];
        let key = waybill.created_at.timestamp();
        slot.carrier = carrier;
        slot.waybill_no = Some(waybill.waybill_no.clone());
        slot.waybill = Some(Box::new(waybill));
        slot.cursor = 0;
        slot.pending = 1;
        self.heap.push(Entry { key, serial, item: Item::Chain, slot: slot_idx });
        if let Some((idx, key)) = duplicate {
            slot.pending += 1;
            let item = Item::Duplicate(idx as u16);
            self.heap.push(Entry { key, serial, item, slot: slot_idx });
        }
        if let Some((idx, key)) = deferred {
            slot.pending += 1;
            let item = Item::Deferred(idx as u16);
            self.heap.push(Entry { key, serial, item, slot: slot_idx });
        }
        slot.complaint = complaint;
        if let Some((key, _)) = complaint {
            slot.pending += 1;
            self.heap.push(Entry { key, serial, item: Item::Complaint, slot: slot_idx });
        }
    }

    /// Emits every entry keyed before `limit`, in order.
    fn flush_before<E>(
        &mut self,
        limit: i64,
        network: &Network,
        sink: &mut impl FnMut(Record) -> Result<(), E>,
    ) -> Result<(), E> {
        while let Some(entry) = self.heap.pop_before(limit) {
            let slot = &mut self.slots[entry.slot as usize];
            let record = match entry.item {
                Item::Chain => {
                    let record = match slot.waybill.take() {
                        Some(waybill) => {
                            self.stats.waybills += 1;
                            Some(Record::Waybill(waybill))
                        }
                        None => {
                            let event = slot.events.get(slot.cursor).copied();
                            slot.cursor += 1;
                            event.and_then(|event| {
                                self.stats.events += 1;
                                scan_event(slot, &event, network, &mut self.text)
                            })
                        }
                    };
                    while slot.events.get(slot.cursor).is_some_and(|e| e.deferred) {
                        slot.cursor += 1;
                    }
                    match slot.events.get(slot.cursor) {
                        Some(next) => {
                            let key = next.time;
                            self.heap.push(Entry { key, ..entry });
                        }
                        None => slot.pending -= 1,
                    }
                    record
                }
                Item::Complaint => {
                    slot.pending -= 1;
                    self.stats.complaints += 1;
                    slot.complaint.take().and_then(|(filed, reason)| complaint(slot, filed, reason, network))
                }
                Item::Duplicate(idx) | Item::Deferred(idx) => {
                    slot.pending -= 1;
                    if matches!(entry.item, Item::Duplicate(_)) {
                        self.stats.duplicates += 1;
                    } else {
                        self.stats.out_of_order += 1;
                    }
                    self.stats.events += 1;
                    let event = slot.events.get(usize::from(idx)).copied();
                    event.and_then(|event| scan_event(slot, &event, network, &mut self.text))
                }
            };
            if slot.pending == 0 {
                slot.events.clear();
                slot.waybill_no = None;
                self.free.push(entry.slot);
            }
            if let Some(record) = record {
                sink(record)?;
            }
        }
        Ok(())
    }
}

/// The complaint record of a parcel: a valid complaint (the ground truth's `complaint` fault) in the category its
/// words name.
fn complaint(slot: &Slot, filed: i64, reason: &'static str, network: &Network) -> Option<Record> {
    let waybill_no = slot.waybill_no.as_ref()?;
    let category = match reason {
        "快件延误" => ComplaintCategory::Delay,
        "快件破损" => ComplaintCategory::Damage,
        "快件丢失" => ComplaintCategory::Loss,
        "虚假签收" | "未按址投递" => ComplaintCategory::Delivery,
        _ => ComplaintCategory::Other,
    };
    Some(Record::Complaint(Box::new(Complaint {
        id: ComplaintId::parse(&format!("{waybill_no}-C1")).ok()?,
        carrier: network.carriers.get(slot.carrier)?.code.clone(),
        waybill_no: waybill_no.clone(),
        filed_at: local_time(filed)?,
        category,
        description: reason.to_owned(),
        verdict: Verdict::Valid,
    })))
}

/// Turns a compact event into a model record.
fn scan_event(slot: &Slot, event: &PlannedEvent, network: &Network, text: &mut String) -> Option<Record> {
    let waybill_no = slot.waybill_no.as_ref()?;
    text.clear();
    text.push_str(waybill_no.as_str());
    text.push('-');
    push_digits(text, u32::from(event.seq), 1);
    let event_id = EventId::parse(text).ok()?;
    let mut operator = String::with_capacity(32);
    let operator = write_operator(&mut operator, event.operator, network).then_some(operator);
    let mut vehicle = String::with_capacity(16);
    let vehicle = write_vehicle(&mut vehicle, event.vehicle, slot.carrier, network).then_some(vehicle);
    let facility = |idx: u32| network.facilities.get(idx as usize).map(|f| f.code.clone());
    let next_facility = if event.next_facility == NO_FACILITY { None } else { Some(facility(event.next_facility)?) };
    Some(Record::Event(Box::new(ScanEvent {
        event_id,
        carrier: network.carriers.get(slot.carrier)?.code.clone(),
        waybill_no: waybill_no.clone(),
        kind: event.kind,
        time: local_time(event.time)?,
        facility: facility(event.facility)?,
        operator: operator.map(Into::into),
        vehicle: vehicle.map(Into::into),
        next_facility,
        exception_code: event.exception_code.map(|code| code.as_str().into()),
        signer: event.signer,
    })))
}
