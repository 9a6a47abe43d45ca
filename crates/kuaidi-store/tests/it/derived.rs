//! Derived state against the simulator's ground truth, through the real embedded store.
//!
//! One seeded run is ingested twice: once in stream order in small batches, with the clock following the stream
//! and a sweep every six simulated hours (as a live server would see it); once shuffled, with every record sent
//! twice, at the final clock. Both must end with aggregates equal to a recount from the stored parcel states and
//! to each other, with the ground truth's counts of delayed, damaged, lost and complained parcels exactly, and with
//! one alert for every injected violation and nothing else.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use kuaidi_model::{Record, WaybillNo};
use kuaidi_rules::{Counters, Filter};
use kuaidi_sim::{Fault, Faults, Geography, SimConfig, Simulation, TruthEntry};
use kuaidi_store::{AlertQuery, AlertStatus, PiiKey, SqliteConfig, SqliteStore, Store};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use kuaidi_sim::testing::shared_geography as geo;

struct Run {
    records: Vec<Record>,
    truth: BTreeMap<WaybillNo, TruthEntry>,
    now: DateTime<Utc>,
}

impl Run {
    /// The run's waybills, in stream order.
    fn waybills(&self) -> impl Iterator<Item = &kuaidi_model::Waybill> {
        self.records.iter().filter_map(|r| match r {
            Record::Waybill(w) => Some(&**w),
            _ => None,
        })
    }
}

fn simulate(geo: &Geography, n_parcels: u64) -> Run {
    let start = DateTime::parse_from_rfc3339("2026-11-09T00:00:00+08:00").unwrap();
    let mut config = SimConfig::new(start, 1, n_parcels, 20261122);
    // Nine days after the start: every parcel has finished or gone silent for longer than the loss limit (7 days).
    config.now = (start + Duration::days(9)).with_timezone(&Utc);
    let rate = 0.02;
    config.faults = Faults::uniform(rate);
    let sim = Simulation::new(geo, config).unwrap();
    let mut records = Vec::new();
    let mut truth = BTreeMap::new();
    sim.run(
        |record| records.push(record),
        |entry| {
            truth.insert(entry.waybill_no.clone(), entry);
        },
    );
    Run { records, truth, now: sim.config().now }
}

fn open(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(SqliteConfig::new(dir.path().join("kuaidi.db"), PiiKey::generate())).unwrap()
}

/// A store in `dir` that caches `parcel_cache` parcels and writes their states only after `flush_parcels` pending
/// ones, never by the clock: the tests that look at pending states must not see a flush a slow machine brought on.
fn config_for(dir: &tempfile::TempDir, parcel_cache: usize, flush_parcels: usize) -> SqliteConfig {
    let mut config = SqliteConfig::new(dir.path().join("kuaidi.db"), PiiKey::generate());
    config.parcel_cache = parcel_cache;
    config.flush_parcels = flush_parcels;
    config.flush_every = std::time::Duration::MAX;
    config
}

fn record_time(record: &Record) -> Option<DateTime<Utc>> {
    match record {
        Record::Waybill(w) => Some(w.created_at.with_timezone(&Utc)),
        Record::Event(e) => Some(e.time.with_timezone(&Utc)),
        Record::Complaint(c) => Some(c.filed_at.with_timezone(&Utc)),
        Record::Carrier(_) | Record::Facility(_) => None,
    }
}

fn total(store: &SqliteStore) -> Counters {
    let groups = store.indicators(&Filter::default(), &[]).unwrap();
    assert_eq!(groups.len(), 1);
    groups.into_iter().next().unwrap().1
}

/// The alerts the ground truth says a parcel must get, as `kind reason [events]`; prohibited items by kind only.
/// A stuck parcel is first stuck, then (nine days on) a likely loss; a store that saw it only at the end (`live`
/// false) saw only the likely loss.
fn expected(faults: &[Fault], live: bool) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for fault in faults {
        let line = match fault {
            Fault::MissingRealName { unverified: false } => "compliance real_name_missing []".to_owned(),
            Fault::MissingRealName { unverified: true } => "compliance real_name_unverified []".to_owned(),
            Fault::MissingInspection => "compliance inspection_missing []".to_owned(),
            Fault::MissingSecurityScan => "compliance security_scan_missing []".to_owned(),
            Fault::Stuck { last_event_id } => {
                if live {
                    out.insert(format!("stuck no_scan_within_limit [{last_event_id}]"));
                }
                format!("loss silent_too_long [{last_event_id}]")
            }
            Fault::Loss { event_id } => format!("loss reported_lost [{event_id}]"),
            Fault::ProhibitedItem { .. } => "prohibited_item prohibited_item_declared []".to_owned(),
            _ => continue,
        };
        out.insert(line);
    }
    out
}

fn alerts_by_parcel(store: &SqliteStore) -> BTreeMap<String, BTreeSet<String>> {
    let alerts = store.alerts(&AlertQuery { limit: 1_000_000, ..AlertQuery::default() }).unwrap();
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    // Cleared alerts were true when raised (a gap in the records, a parcel silent before its loss was reported) and
    // have been cleared by later records; what stands must match the ground truth.
    for alert in alerts.into_iter().filter(|alert| alert.status != AlertStatus::Cleared) {
        // Compliance alerts and prohibited items are compared by reason; their evidence is checked in kuaidi-rules.
        let events = match alert.kind.as_str() {
            "compliance" | "prohibited_item" => String::new(),
            _ => alert.events.join(" "),
        };
        let line = format!("{} {} [{events}]", alert.kind, alert.reason);
        assert!(out.entry(alert.waybill_no.to_string()).or_default().insert(line.clone()), "{line} raised twice");
    }
    out
}

/// Ingests the run in stream order in batches of 250, with the stream's clock and a sweep every six simulated hours,
/// then sweeps at the run's end; each batch goes to the stores in turn. The first store is given its records
/// (`ingest_owned_at`, which moves them into its cache), the others are lent them (`ingest_at`, which copies them).
fn ingest_live(stores: &[&SqliteStore], run: &Run) {
    let mut clock = DateTime::<Utc>::MIN_UTC;
    let mut next_sweep = None;
    for batch in run.records.chunks(250) {
        clock = batch.iter().filter_map(record_time).fold(clock, DateTime::max).min(run.now);
        for (idx, store) in stores.iter().enumerate() {
            if idx == 0 {
                store.ingest_owned_at(batch.to_vec(), clock).unwrap();
            } else {
                store.ingest_at(batch, clock).unwrap();
            }
        }
        let due = *next_sweep.get_or_insert(clock + Duration::hours(6));
        if clock >= due {
            for store in stores {
                store.sweep(clock).unwrap();
            }
            next_sweep = Some(clock + Duration::hours(6));
        }
    }
    for store in stores {
        let final_sweep = store.sweep(run.now).unwrap();
        eprintln!("final sweep: {final_sweep:?}");
    }
}

/// Every parcel's stored state, and every alert (cleared ones too) without its id.
/// The alerts of [`derived_state`] that are not cleared.
fn standing(alerts: &[String]) -> Vec<String> {
    alerts.iter().filter(|a| !a.contains(" Cleared ")).cloned().collect()
}

fn derived_state(store: &SqliteStore, run: &Run) -> (Vec<Option<kuaidi_store::ParcelState>>, Vec<String>) {
    let states = run.waybills().map(|w| store.parcel_state(&w.carrier, &w.waybill_no).unwrap()).collect();
    let mut alerts: Vec<String> = store
        .alerts(&AlertQuery { limit: 1_000_000, ..AlertQuery::default() })
        .unwrap()
        .into_iter()
        .map(|a| {
            format!(
                "{} {} {} {} {:?} {:?} {}",
                a.waybill_no,
                a.kind,
                a.reason,
                a.events.join(","),
                a.status,
                a.raised_at,
                a.detail
            )
        })
        .collect();
    alerts.sort();
    (states, alerts)
}

/// The writer's parcel cache and its pending states change nothing: a store re-deriving from the cache and writing
/// its states once at the end, one whose cache is so small that parcels are evicted all the time and which writes its
/// states every few parcels, and one without a cache (every parcel read from the tables) writing its states at every
/// transaction end with the same states and alerts.
#[test]
fn the_parcel_cache_gives_the_states_the_tables_give() {
    let Some(geo) = geo() else { return };
    let run = simulate(&geo, 1_500);
    let open_with = |dir: &tempfile::TempDir, parcel_cache: usize, flush_parcels: usize| {
        SqliteStore::open(config_for(dir, parcel_cache, flush_parcels)).unwrap()
    };
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let (cached, small, uncached) =
        (open_with(&dirs[0], 100_000, usize::MAX), open_with(&dirs[1], 50, 7), open_with(&dirs[2], 0, 0));
    ingest_live(&[&cached, &small, &uncached], &run);

    let (hits, misses, fresh) = cached.parcel_cache_stats();
    eprintln!("parcel cache: {hits} hits, {misses} misses, {fresh} fresh");
    let n_parcels = run.records.iter().filter_map(Record::parcel).collect::<BTreeSet<_>>().len() as u64;
    assert_eq!(fresh, n_parcels, "each parcel should start fresh once, in the transaction with its first records");
    assert!(
        hits > 4 * misses,
        "a cache as large as the run should answer most re-derivations ({hits} hits, {misses} misses)"
    );
    let (small_hits, small_misses, small_fresh) = small.parcel_cache_stats();
    assert!(small_misses > misses, "a 50-parcel cache must miss more ({small_hits} hits, {small_misses} misses)");
    assert_eq!(small_fresh, n_parcels, "an evicted parcel must not start fresh again");
    assert_eq!(uncached.parcel_cache_stats(), (0, uncached.parcel_cache_stats().1, 0), "no cache, nothing fresh");

    assert!(cached.pending_states().unwrap() > 1_000, "the states of a whole run should still be pending");
    assert!(small.pending_states().unwrap() < 7 && uncached.pending_states().unwrap() == 0);
    let want = derived_state(&uncached, &run);
    assert!(want.0.iter().all(Option::is_some) && !want.1.is_empty());
    for (name, store) in [("cached", &cached), ("small", &small)] {
        let got = derived_state(store, &run);
        let differing = want.0.iter().zip(&got.0).filter(|(a, b)| a != b).count();
        assert_eq!(differing, 0, "{name}: {differing} parcel states differ from the uncached store's");
        // Standing alerts are the same. The uncached store reads each parcel back from the tables, where the deriver may
        // find a later transaction's records already: an alert that those records clear again may then never be
        // raised, so only the alerts still standing must agree.
        assert!(standing(&got.1) == standing(&want.1), "{name}: the standing alerts differ from the uncached store's");
        let (kept, recounted) = store.recount().unwrap();
        assert!(kept == recounted, "{name}: the aggregates differ from a recount");
    }
}

/// States are written to their file on a thread beside the writer, a batch at a time. While a batch is being written
/// and after, readers get each parcel's newest state: a store whose batch is one state (so that a batch is nearly
/// always in flight, and the states gathered meanwhile soon make the writer wait for it) answers, after every batch
/// and sweep, what a store that keeps every state pending answers, and ends with at most its last two transactions'
/// states pending and its aggregates equal to a recount.
#[test]
fn states_read_while_a_flush_runs_are_the_newest() {
    let Some(geo) = geo() else { return };
    let run = simulate(&geo, 600);
    let dirs: Vec<tempfile::TempDir> = (0..2).map(|_| tempfile::tempdir().unwrap()).collect();
    let flushing = SqliteStore::open(config_for(&dirs[0], 0, 0)).unwrap();
    let keeping = SqliteStore::open(config_for(&dirs[1], 0, usize::MAX)).unwrap();
    let mut clock = DateTime::<Utc>::MIN_UTC;
    for (idx, batch) in run.records.chunks(200).enumerate() {
        clock = batch.iter().filter_map(record_time).fold(clock, DateTime::max).min(run.now);
        for store in [&flushing, &keeping] {
            store.ingest_at(batch, clock).unwrap();
            if idx % 10 == 9 {
                store.sweep(clock).unwrap();
            }
        }
        for record in batch {
            let Some((carrier, waybill_no)) = record.parcel() else { continue };
            let (got, want) = (
                flushing.parcel_state(carrier, waybill_no).unwrap(),
                keeping.parcel_state(carrier, waybill_no).unwrap(),
            );
            assert!(got == want, "batch {idx}: {carrier}/{waybill_no} reads {got:?}, the newest state is {want:?}");
        }
    }
    assert!(keeping.pending_states().unwrap() > 500, "the keeping store should hold its states pending");
    // A transaction that finds no batch in flight cuts the journal, and the next hands the states over: at most the
    // last two transactions' parcels are pending.
    let pending = flushing.pending_states().unwrap();
    assert!(pending <= 400, "every other transaction at least hands the states before it over: {pending} pending");
    assert!(derived_state(&flushing, &run) == derived_state(&keeping, &run), "the two stores end apart");
    let (kept, recounted) = flushing.recount().unwrap();
    assert!(kept == recounted, "the aggregates kept differ from a recount");
    assert_eq!(total(&flushing), total(&keeping));
}

/// A writer that stops without writing its pending states (a crash: here its `Drop` never runs) loses nothing: the
/// journal names the parcels, and the next open re-derives them from their records before taking any write.
#[test]
fn an_unclean_stop_rederives_the_journalled_parcels() {
    let Some(geo) = geo() else { return };
    let run = simulate(&geo, 1_000);
    let dir = tempfile::tempdir().unwrap();
    let config = config_for(&dir, kuaidi_store::DEFAULT_PARCEL_CACHE, usize::MAX);
    // Split at a batch boundary: alerts depend on what each batch shows together.
    let (first_half, second_half) = run.records.split_at(run.records.len() / 600 * 300);
    let crashed = SqliteStore::open(config.clone()).unwrap();
    for batch in first_half.chunks(300) {
        crashed.ingest_at(batch, run.now).unwrap();
    }
    assert!(crashed.pending_states().unwrap() > 100, "the states should still be pending when the writer stops");
    let before_crash = total(&crashed);
    std::mem::forget(crashed);

    let reopened = SqliteStore::open(config).unwrap();
    assert_eq!(reopened.pending_states().unwrap(), 0, "the open writes the re-derived states");
    assert_eq!(total(&reopened), before_crash, "the indicators must be those acknowledged before the stop");
    for batch in second_half.chunks(300) {
        reopened.ingest_at(batch, run.now).unwrap();
    }
    reopened.sweep(run.now).unwrap();
    let (kept, recounted) = reopened.recount().unwrap();
    assert!(kept == recounted, "the aggregates kept differ from a recount");

    // The writer that never stopped is read after every transaction, so that its deriver derives each in turn and
    // raises every alert an intermediate state deserves: a deriver that holds transactions back derives their parcels
    // once, and never raises an alert that a later transaction in the same hold clears.
    let alone_dir = tempfile::tempdir().unwrap();
    let alone = open(&alone_dir);
    for batch in run.records.chunks(300) {
        alone.ingest_at(batch, run.now).unwrap();
        alone.pending_states().unwrap();
    }
    alone.sweep(run.now).unwrap();
    let (got, want) = (derived_state(&reopened, &run), derived_state(&alone, &run));
    let differing: Vec<String> = got
        .0
        .iter()
        .zip(&want.0)
        .filter(|(a, b)| a != b)
        .take(2)
        .map(|(a, b)| format!("got {a:?}\nwant {b:?}"))
        .collect();
    assert!(differing.is_empty(), "states differ from a writer that never stopped:\n{}", differing.join("\n"));
    // Alerts still standing are the same. An alert raised and cleared again by derivations whose alerts the writer
    // had not stored yet when it stopped is lost with them (nobody read it: a read of alerts stores them first), so
    // the stopped store's cleared alerts are some of the others'.
    let (got_standing, want_standing) = (standing(&got.1), standing(&want.1));
    let alerts_differing: Vec<_> = got_standing.iter().filter(|a| !want_standing.contains(a)).take(3).collect();
    assert!(
        got_standing == want_standing,
        "standing alerts differ from a writer that never stopped: {alerts_differing:?}"
    );
    let invented: Vec<_> = got.1.iter().filter(|a| !want.1.contains(a)).take(3).collect();
    assert!(invented.is_empty(), "alerts a writer that never stopped does not have: {invented:?}");
    assert_eq!(total(&reopened), total(&alone));
}

/// A second writer on the same database file (another process, here another store) makes the first one's memory
/// stale; the first notices before its next transaction and reloads, so its aggregates and states stay exact.
#[test]
fn a_writer_reloads_after_another_writes_the_same_file() {
    let Some(geo) = geo() else { return };
    let run = simulate(&geo, 1_000);
    let dir = tempfile::tempdir().unwrap();
    let config = SqliteConfig::new(dir.path().join("kuaidi.db"), PiiKey::generate());
    let first = SqliteStore::open(config.clone()).unwrap();
    let second = SqliteStore::open(config).unwrap();
    // The two take turns by batch, so each parcel's records reach both writers.
    for (idx, batch) in run.records.chunks(300).enumerate() {
        let store = if idx % 2 == 0 { &first } else { &second };
        store.ingest_at(batch, run.now).unwrap();
    }
    first.sweep(run.now).unwrap();
    for (name, store) in [("first", &first), ("second", &second)] {
        // Each writer reloads at its next transaction; an empty ingest is one.
        store.ingest_at(&[], run.now).unwrap();
        let (kept, recounted) = store.recount().unwrap();
        assert!(kept == recounted, "{name}: the aggregates kept differ from a recount");
        assert_eq!(total(store).parcels, run.waybills().count() as u64);
    }
    // And the states match a store that saw everything alone.
    let alone_dir = tempfile::tempdir().unwrap();
    let alone = open(&alone_dir);
    for batch in run.records.chunks(300) {
        alone.ingest_at(batch, run.now).unwrap();
    }
    alone.sweep(run.now).unwrap();
    assert!(
        derived_state(&first, &run).0 == derived_state(&alone, &run).0,
        "parcel states differ from a lone writer's"
    );
    assert_eq!(total(&first), total(&alone));
}

#[test]
fn derived_state_matches_the_ground_truth_in_any_order() {
    let Some(geo) = geo() else { return };
    let run = simulate(&geo, 4_000);

    // In stream order, with the stream's clock and a sweep every six simulated hours.
    let live_dir = tempfile::tempdir().unwrap();
    let live = open(&live_dir);
    ingest_live(&[&live], &run);

    // Shuffled, every record twice, all at the final clock (reference data first, as a carrier would register it).
    let replay_dir = tempfile::tempdir().unwrap();
    let replay = open(&replay_dir);
    let (reference, mut parcels): (Vec<Record>, Vec<Record>) =
        run.records.iter().cloned().partition(|r| matches!(r, Record::Carrier(_) | Record::Facility(_)));
    replay.ingest_at(&reference, run.now).unwrap();
    parcels.extend(parcels.clone());
    parcels.shuffle(&mut rand::rngs::StdRng::seed_from_u64(7));
    for batch in parcels.chunks(500) {
        replay.ingest_at(batch, run.now).unwrap();
    }
    replay.sweep(run.now).unwrap();

    for store in [&live, &replay] {
        let (kept, recounted) = store.recount().unwrap();
        assert!(kept == recounted, "the aggregates kept at ingest differ from a recount");
    }
    let (live_total, replay_total) = (total(&live), total(&replay));
    assert_eq!(live_total, replay_total, "stream order and shuffled order disagree");

    let count = |kind: &str| run.truth.values().filter(|t| t.faults.iter().any(|f| f.kind() == kind)).count() as u64;
    let n_waybills = run.waybills().count() as u64;
    assert_eq!(live_total.parcels, n_waybills);
    assert_eq!(live_total.damaged, count("damage"));
    assert_eq!(live_total.lost - live_total.lost_by_silence, count("loss"));
    assert_eq!(live_total.lost_by_silence, count("stuck"));
    assert_eq!(live_total.valid_complaints, count("complaint"));
    // A delay fault on a parcel that was also lost or stuck never reaches delivery, so it cannot be judged late.
    let n_delayed = run
        .truth
        .values()
        .filter(|t| {
            let has = |kind: &str| t.faults.iter().any(|f| f.kind() == kind);
            has("delay") && !has("loss") && !has("stuck")
        })
        .count() as u64;
    assert_eq!(live_total.delayed, n_delayed);
    assert!(count("damage") > 20 && count("loss") > 20 && count("stuck") > 20 && count("complaint") > 20);

    // Alerts: every injected violation, nothing else, once each, in both stores.
    let n_cleared = |store: &SqliteStore| {
        let query = AlertQuery { status: Some(AlertStatus::Cleared), limit: 1_000_000, ..AlertQuery::default() };
        store.alerts(&query).unwrap().len()
    };
    eprintln!("cleared alerts: live {}, replay {}", n_cleared(&live), n_cleared(&replay));
    assert!(n_cleared(&live) > 0, "the live run should have raised alerts that later records cleared");
    for (name, store) in [("live", &live), ("replay", &replay)] {
        let got = alerts_by_parcel(store);
        let mut mismatches = Vec::new();
        let waybills: BTreeSet<String> = run.waybills().map(|w| w.waybill_no.to_string()).collect();
        for no in &waybills {
            let faults = run.truth.get(&WaybillNo::parse(no).unwrap()).map_or(&[][..], |t| t.faults.as_slice());
            let mut want = expected(faults, name == "live");
            let have = got.get(no).cloned().unwrap_or_default();
            // The one undecidable case (see kuaidi-rules' simulated test): a missing security scan on a parcel cut
            // short before it left its first sorting centre stays pending, so no alert can be raised.
            let cut_short = faults.iter().any(|f| matches!(f, Fault::Stuck { .. } | Fault::Loss { .. }));
            if cut_short && !have.contains("compliance security_scan_missing []") {
                want.remove("compliance security_scan_missing []");
            }
            if want != have {
                mismatches.push(format!("{no}: expected {want:?}, got {have:?} (faults {faults:?})"));
            }
        }
        assert!(
            mismatches.is_empty(),
            "{name}: {} mismatches, first 10:\n{}",
            mismatches.len(),
            mismatches[..mismatches.len().min(10)].join("\n")
        );
    }
}

/// A sweep re-derives a due parcel that is not in the writer's cache from its state alone (only the clock moved
/// since it was derived). That must give exactly what re-deriving from the records gives: a store whose cache holds
/// every parcel (so its sweeps read records), one without a cache whose states are all still pending, one without a
/// cache that writes its states at every transaction, and one with a tiny cache, all swept at the same moments
/// (across every stage limit and the loss limits), end each sweep with the same report, states, alerts and aggregates.
#[test]
fn a_sweep_from_states_gives_what_a_sweep_from_records_gives() {
    let Some(geo) = geo() else { return };
    let run = simulate(&geo, 1_500);
    // Only the first 30 hours of records: most parcels are still open, at every stage.
    let start = DateTime::parse_from_rfc3339("2026-11-09T00:00:00+08:00").unwrap().with_timezone(&Utc);
    let cut = start + Duration::hours(30);
    let records: Vec<Record> =
        run.records.iter().filter(|r| record_time(r).is_none_or(|at| at <= cut)).cloned().collect();
    let open_with = |dir: &tempfile::TempDir, parcel_cache: usize, flush_parcels: usize, sweep_parcels: usize| {
        let mut config = config_for(dir, parcel_cache, flush_parcels);
        config.sweep_parcels = sweep_parcels;
        SqliteStore::open(config).unwrap()
    };
    let dirs: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let default = kuaidi_store::DEFAULT_SWEEP_PARCELS;
    // The last two sweep a few parcels per transaction, so that a sweep takes many transactions, with states written
    // between them (and the sweep's cursor over `parcels_due` started again) often or now and then.
    let stores = [
        ("from records", open_with(&dirs[0], 100_000, usize::MAX, default)),
        ("pending states", open_with(&dirs[1], 0, usize::MAX, default)),
        ("stored states", open_with(&dirs[2], 0, 0, default)),
        ("tiny cache, small sweeps", open_with(&dirs[3], 50, 7, 13)),
        ("states stored by 500, small sweeps", open_with(&dirs[4], 0, 500, 3)),
    ];
    let mut clock = DateTime::<Utc>::MIN_UTC;
    for batch in records.chunks(250) {
        clock = batch.iter().filter_map(record_time).fold(clock, DateTime::max);
        for (_, store) in &stores {
            store.ingest_at(batch, clock).unwrap();
        }
    }
    assert!(stores[1].1.pending_states().unwrap() > 1_000, "the states should still be pending");
    let open = stores[0]
        .1
        .parcel_states_after(None, 100_000)
        .unwrap()
        .into_iter()
        .filter(|(_, _, state)| state.check_at.is_some())
        .count();
    assert!(open > 500, "only {open} parcels are open");
    let mut total_changed = 0;
    for hours in [1, 20, 30, 49, 72, 24 * 7, 24 * 7 + 30, 24 * 9, 24 * 30] {
        let now = cut + Duration::hours(hours);
        let reports: Vec<_> = stores.iter().map(|(_, store)| store.sweep(now).unwrap()).collect();
        let want = derived_state(&stores[0].1, &run);
        for ((name, store), report) in stores.iter().zip(&reports) {
            assert_eq!(format!("{report:?}"), format!("{:?}", reports[0]), "{name}: sweep at +{hours} h");
            let got = derived_state(store, &run);
            let differing = want.0.iter().zip(&got.0).filter(|(a, b)| a != b).count();
            assert_eq!(differing, 0, "{name}: {differing} parcel states differ after the sweep at +{hours} h");
            assert!(got.1 == want.1, "{name}: the alerts differ after the sweep at +{hours} h");
            assert_eq!(total(store), total(&stores[0].1), "{name}: indicators after the sweep at +{hours} h");
        }
        total_changed += reports[0].changed;
        eprintln!("sweep at +{hours} h: {:?}", reports[0]);
    }
    assert!(total_changed > 1_000, "the sweeps changed only {total_changed} parcels");
    for (name, store) in &stores {
        let (kept, recounted) = store.recount().unwrap();
        assert!(kept == recounted, "{name}: the aggregates differ from a recount");
    }
}

/// A sweep writes the states of parcels with no pending state straight to `parcels` and journals nothing, as their
/// records did not change; parcels with a pending state keep it pending. A writer that stops right after a sweep
/// without writing its pending states (a crash) reopens with the same states, alerts and indicators as one that
/// stopped cleanly, and aggregates equal to a recount.
#[test]
fn a_sweep_survives_an_unclean_stop() {
    let Some(geo) = geo() else { return };
    let run = simulate(&geo, 1_000);
    let start = DateTime::parse_from_rfc3339("2026-11-09T00:00:00+08:00").unwrap().with_timezone(&Utc);
    let cut = start + Duration::hours(30);
    let records: Vec<Record> =
        run.records.iter().filter(|r| record_time(r).is_none_or(|at| at <= cut)).cloned().collect();
    let (crash_dir, clean_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let config = |dir| config_for(dir, kuaidi_store::DEFAULT_PARCEL_CACHE, usize::MAX);
    let (crash_config, clean_config) = (config(&crash_dir), config(&clean_dir));
    let (crashed, clean) =
        (SqliteStore::open(crash_config.clone()).unwrap(), SqliteStore::open(clean_config.clone()).unwrap());
    let (first, second) = records.split_at(records.len() / 2);
    for store in [&crashed, &clean] {
        for batch in first.chunks(250) {
            store.ingest_at(batch, cut).unwrap();
        }
        // Half the parcels' states were written, half are pending when the sweep runs.
        store.flush().unwrap();
        for batch in second.chunks(250) {
            store.ingest_at(batch, cut).unwrap();
        }
    }
    let pending_before = crashed.pending_states().unwrap();
    assert!(pending_before > 100);
    let reports = [crashed.sweep(cut + Duration::hours(49)).unwrap(), clean.sweep(cut + Duration::hours(49)).unwrap()];
    assert_eq!(format!("{:?}", reports[0]), format!("{:?}", reports[1]));
    assert!(reports[0].changed > 100, "{:?}", reports[0]);
    // The sweep's new states are pending too, journalled with its clock, until a flush writes them.
    assert!(crashed.pending_states().unwrap() > pending_before, "the swept parcels' states should be pending");
    std::mem::forget(crashed);
    drop(clean);
    let (reopened, clean) = (SqliteStore::open(crash_config).unwrap(), SqliteStore::open(clean_config).unwrap());
    let (got, want) = (derived_state(&reopened, &run), derived_state(&clean, &run));
    assert!(got.0 == want.0, "parcel states differ after an unclean stop");
    assert!(got.1 == want.1, "alerts differ after an unclean stop");
    assert_eq!(total(&reopened), total(&clean));
    let (kept, recounted) = reopened.recount().unwrap();
    assert!(kept == recounted, "the aggregates differ from a recount");
}

/// A transaction of more parcels than a chunk hands them to the writer's derivation thread while it stores the rest
/// (`sqlite/derived.rs`, `Pipeline`), and a sweep of that many parcels does too. The states and open alerts are the
/// same as when every transaction holds a few parcels (derived by the writer alone), with the parcel cache on or
/// off. Built from fixtures, so it needs no shared data: 2,600 parcels, half of them stopped after their departure.
#[test]
fn many_parcels_in_one_transaction_derive_as_few() {
    use kuaidi_store::testing::fixtures;
    let numbers: Vec<String> = (0..2_600).map(|idx| format!("YT{idx:010}")).collect();
    let mut records = fixtures::reference();
    for (idx, no) in numbers.iter().enumerate() {
        records.push(Record::Waybill(Box::new(fixtures::waybill("yto", no))));
        let chain = fixtures::chain("yto", no);
        let kept = if idx % 2 == 0 { chain.len() } else { 4 };
        records.extend(chain.into_iter().take(kept).map(|event| Record::Event(Box::new(event))));
    }
    let at = fixtures::base_time().with_timezone(&Utc) + Duration::hours(8);
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let open = |dir: &tempfile::TempDir, parcel_cache: usize| {
        SqliteStore::open(config_for(dir, parcel_cache, usize::MAX)).unwrap()
    };
    let (whole, whole_uncached, pieces) = (open(&dirs[0], 100_000), open(&dirs[1], 0), open(&dirs[2], 100_000));
    for store in [&whole, &whole_uncached] {
        let outcomes = store.ingest_at(&records, at).unwrap();
        assert!(outcomes.iter().all(|outcome| *outcome == kuaidi_store::Outcome::Accepted));
    }
    let (reference, parcels) = records.split_at(fixtures::reference().len());
    pieces.ingest_at(reference, at).unwrap();
    for batch in parcels.chunks(40) {
        pieces.ingest_at(batch, at).unwrap();
    }
    let states = |store: &SqliteStore| -> Vec<Option<kuaidi_store::ParcelState>> {
        let carrier = fixtures::carrier_code("yto");
        numbers.iter().map(|no| store.parcel_state(&carrier, &fixtures::waybill_no(no)).unwrap()).collect()
    };
    let open_alerts = |store: &SqliteStore| -> Vec<String> {
        let query = AlertQuery { limit: 100_000, ..Default::default() };
        let mut alerts: Vec<String> = store
            .alerts(&query)
            .unwrap()
            .into_iter()
            .map(|alert| format!("{} {} {} {:?}", alert.waybill_no, alert.kind, alert.reason, alert.status))
            .collect();
        alerts.sort();
        alerts
    };
    let same = |got: Vec<Option<kuaidi_store::ParcelState>>, want: &[Option<kuaidi_store::ParcelState>], name: &str| {
        let differing: Vec<usize> = (0..want.len()).filter(|&idx| got[idx] != want[idx]).collect();
        if let Some(&first) = differing.first() {
            panic!(
                "{name}: {} states differ; the first, {}: {:?} against {:?}",
                differing.len(),
                numbers[first],
                got[first],
                want[first]
            );
        }
    };
    let want = states(&pieces);
    assert!(want.iter().all(Option::is_some));
    same(states(&whole), &want, "one transaction, cached");
    same(states(&whole_uncached), &want, "one transaction, uncached");
    assert_eq!(open_alerts(&whole), open_alerts(&pieces));
    assert_eq!(open_alerts(&whole_uncached), open_alerts(&pieces));

    // Days later the stopped half is stuck: the sweep re-derives 1,300 parcels in one transaction.
    let later = at + Duration::days(3);
    let swept: Vec<u64> =
        [&whole, &whole_uncached, &pieces].iter().map(|store| store.sweep(later).unwrap().changed).collect();
    assert!(swept.iter().all(|changed| *changed >= 1_300), "every stopped parcel changes: {swept:?}");
    let want = states(&pieces);
    same(states(&whole), &want, "after the sweep, cached");
    same(states(&whole_uncached), &want, "after the sweep, uncached");
    let alerts = open_alerts(&pieces);
    assert!(alerts.iter().filter(|alert| alert.contains("stuck")).count() >= 1_300, "{} alerts", alerts.len());
    assert_eq!(open_alerts(&whole), alerts);
    assert_eq!(open_alerts(&whole_uncached), alerts);
    for store in [&whole, &whole_uncached, &pieces] {
        let (kept, recounted) = store.recount().unwrap();
        assert!(kept == recounted, "the aggregates differ from a recount");
    }
}
