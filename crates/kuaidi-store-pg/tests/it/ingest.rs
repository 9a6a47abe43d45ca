//! What only the PostgreSQL store shows: changed re-sends across partitions, concurrent servers, retention, lost
//! connections, schema versions, sealing at rest.

use chrono::{Duration, Utc};
use kuaidi_model::{EventKind, Record};
use kuaidi_store::testing::fixtures::{self, base_time, carrier_code, waybill_no};
use kuaidi_store::{ErrorKind, Outcome, PiiKey, Store};
use kuaidi_store_pg::{day_of, PgConfig, PgStore};

use crate::support::{TestDatabase, TestStore};

fn events(list: impl IntoIterator<Item = kuaidi_model::ScanEvent>) -> Vec<Record> {
    list.into_iter().map(|e| Record::Event(Box::new(e))).collect()
}

#[test]
fn a_resend_with_a_changed_time_is_a_conflict_even_in_another_partition() {
    let Some(store) = TestStore::fresh() else { return };
    store.ingest(&fixtures::reference()).unwrap();
    let chain = fixtures::chain("yto", "YT1000000001");
    assert!(store.ingest(&events(chain.clone())).unwrap().iter().all(|o| *o == Outcome::Accepted));

    // Three days later falls in another day partition; the key alone must still find the stored event.
    let mut moved = chain[0].clone();
    moved.time += Duration::days(3);
    assert_ne!(day_of(moved.time.to_utc()), day_of(chain[0].time.to_utc()));
    let mut moved_twice = moved.clone();
    moved_twice.time += Duration::days(1);
    let outcomes = store.ingest(&events([moved, chain[1].clone(), moved_twice, chain[0].clone()])).unwrap();
    assert_eq!(outcomes, vec![Outcome::Conflict, Outcome::Duplicate, Outcome::Conflict, Outcome::Duplicate]);
    assert_eq!(store.events_of(&carrier_code("yto"), &waybill_no("YT1000000001")).unwrap(), chain);
    assert_eq!(store.counts().unwrap().events, chain.len() as u64);

    // Within one new batch: the first of two records with one key wins, whatever their times.
    let mut first = fixtures::event("yto", "YT1000000002", "E-1", EventKind::Accept, 0, "YTO-SZ-01");
    first.time -= Duration::days(2);
    let mut later = first.clone();
    later.time += Duration::days(2);
    let outcomes = store.ingest(&events([first.clone(), later, first.clone()])).unwrap();
    assert_eq!(outcomes, vec![Outcome::Accepted, Outcome::Conflict, Outcome::Duplicate]);
    assert_eq!(store.events_of(&carrier_code("yto"), &waybill_no("YT1000000002")).unwrap(), vec![first]);
}

#[test]
fn two_servers_ingesting_the_same_stream_store_each_record_once() {
    // Two stores on one database stand for two servers; they must hold the same personal-data key.
    let key = PiiKey::generate();
    let Some(shared) = TestStore::with_key(key.clone()) else { return };
    shared.ingest(&fixtures::reference()).unwrap();
    let second = shared.another(key);

    let mut stream = Vec::new();
    for idx in 0..150 {
        let no = format!("YT2{idx:09}");
        stream.push(Record::Waybill(Box::new(fixtures::waybill("yto", &no))));
        stream.extend(events(fixtures::chain("yto", &no)));
    }
    let batches: Vec<Vec<Record>> = stream.chunks(97).map(<[Record]>::to_vec).collect();
    let mut reversed = batches.clone();
    reversed.reverse();
    let (first_outcomes, second_outcomes) = std::thread::scope(|scope| {
        let a = scope.spawn(|| batches.iter().flat_map(|b| shared.ingest(b).unwrap()).collect::<Vec<_>>());
        let b = scope.spawn(|| reversed.iter().flat_map(|b| second.ingest(b).unwrap()).collect::<Vec<_>>());
        (a.join().unwrap(), b.join().unwrap())
    });
    let all: Vec<Outcome> = first_outcomes.into_iter().chain(second_outcomes).collect();
    assert!(all.iter().all(|o| matches!(o, Outcome::Accepted | Outcome::Duplicate)), "{all:?}");
    let n_accepted = all.iter().filter(|o| **o == Outcome::Accepted).count();
    assert_eq!(n_accepted, stream.len(), "every record accepted by exactly one server");
    let counts = shared.counts().unwrap();
    assert_eq!((counts.waybills, counts.events), (150, 150 * 7));
    assert_eq!(second.events_of(&carrier_code("yto"), &waybill_no("YT2000000042")).unwrap().len(), 7);
}

#[test]
fn two_servers_keep_derived_state_exact() {
    // Two stores on one database ingest the same parcels in opposite orders, in batches that split parcels, so the
    // same parcels and the same indicator and coverage cells are re-derived by both at once.
    let key = PiiKey::generate();
    let Some(shared) = TestStore::with_key(key.clone()) else { return };
    shared.ingest(&fixtures::reference()).unwrap();
    let second = shared.another(key);
    let now = base_time().to_utc() + Duration::hours(8);

    let mut parcels = Vec::new();
    let mut stream = Vec::new();
    for idx in 0..120 {
        let carrier = if idx % 3 == 0 { "sf" } else { "yto" };
        let no = format!("{}4{idx:09}", if carrier == "sf" { "SF" } else { "YT" });
        let mut chain = fixtures::chain(carrier, &no);
        match idx % 4 {
            0 => chain.truncate(4),                              // in transit
            1 => chain.retain(|e| e.kind != EventKind::Inspect), // delivered, never inspected: an alert
            _ => {}
        }
        stream.push(Record::Waybill(Box::new(fixtures::waybill(carrier, &no))));
        stream.extend(events(chain));
        parcels.push((carrier, no));
    }
    let batches: Vec<Vec<Record>> = stream.chunks(53).map(<[Record]>::to_vec).collect();
    let mut reversed = batches.clone();
    reversed.reverse();
    std::thread::scope(|scope| {
        let a = scope.spawn(|| batches.iter().for_each(|b| drop(shared.ingest_at(b, now).unwrap())));
        let b = scope.spawn(|| reversed.iter().for_each(|b| drop(second.ingest_at(b, now).unwrap())));
        a.join().unwrap();
        b.join().unwrap();
    });

    let states: Vec<_> = parcels
        .iter()
        .map(|(carrier, no)| shared.parcel_state(&carrier_code(carrier), &waybill_no(no)).unwrap().unwrap())
        .collect();
    let recount = kuaidi_store::derived::Aggregates::recount(&states).unwrap();
    let group_by = [kuaidi_rules::Dimension::Carrier, kuaidi_rules::Dimension::Day];
    let filter = kuaidi_rules::Filter::default();
    let indicators = second.indicators(&filter, &group_by).unwrap();
    assert_eq!(indicators, recount.cube.slice(&filter, &group_by));
    let parcels_counted: u64 = indicators.iter().map(|(_, counters)| counters.parcels).sum();
    assert_eq!(parcels_counted, 120);
    let all = kuaidi_store::CoverageFilter::default();
    assert_eq!(
        shared.coverage(&all, kuaidi_store::CoverageGroup::Outlet).unwrap(),
        kuaidi_store::derived::coverage_rollup(&recount.coverage, &all, kuaidi_store::CoverageGroup::Outlet)
    );
    let alerts = shared.alerts(&kuaidi_store::AlertQuery { limit: 10_000, ..Default::default() }).unwrap();
    let n_keys: usize = states.iter().map(|state| state.alert_keys.len()).sum();
    // Batches in opposite orders raise passing alerts (a departure seen before its arrival) that later records
    // clear; what stands is exactly one alert per active key.
    let standing: Vec<_> = alerts.iter().filter(|alert| alert.status != kuaidi_store::AlertStatus::Cleared).collect();
    assert_eq!(standing.len(), n_keys, "each alert raised once");
    assert!(alerts.len() >= 30, "the never-inspected parcels raised alerts ({})", alerts.len());
}

#[test]
fn the_sweep_derives_parcels_stored_before_derived_state() {
    // A database migrated from version 3 holds parcels without a state, marked due at once (migration 0004); the
    // first sweep derives them and fills the aggregates. Simulated by clearing what ingest derived.
    let Some(store) = TestStore::fresh() else { return };
    store.ingest(&fixtures::reference()).unwrap();
    let now = base_time().to_utc() + Duration::hours(8);
    let mut batch = Vec::new();
    for no in ["YT5000000001", "YT5000000002"] {
        batch.push(Record::Waybill(Box::new(fixtures::waybill("yto", no))));
        batch.extend(events(fixtures::chain("yto", no)));
    }
    store.ingest_at(&batch, now).unwrap();
    let filter = kuaidi_rules::Filter::default();
    let derived = store.indicators(&filter, &[]).unwrap();
    assert_eq!(derived[0].1.parcels, 2);
    store
        .db
        .client()
        .batch_execute(
            "UPDATE parcels SET state = NULL, check_at = NULL; DELETE FROM indicator_cells; DELETE FROM coverage_cells;
             UPDATE parcels SET check_at = '-infinity' WHERE state IS NULL;",
        )
        .unwrap();
    assert_eq!(store.indicators(&filter, &[]).unwrap()[0].1.parcels, 0);
    assert_eq!(store.parcel_state(&carrier_code("yto"), &waybill_no("YT5000000001")).unwrap(), None);
    assert!(store.parcel_states_after(None, 10).unwrap().is_empty(), "a parcel without a state is not exported");
    let report = store.sweep(now).unwrap();
    assert_eq!((report.examined, report.changed), (2, 2), "{report:?}");
    assert_eq!(store.indicators(&filter, &[]).unwrap(), derived);
    assert!(store.parcel_state(&carrier_code("yto"), &waybill_no("YT5000000001")).unwrap().is_some());
    let paged: Vec<String> =
        store.parcel_states_after(None, 10).unwrap().iter().map(|(_, no, _)| no.as_str().to_owned()).collect();
    assert_eq!(paged, ["YT5000000001", "YT5000000002"]);
    assert_eq!(store.sweep(now).unwrap().examined, 0, "derived parcels are not due again");
}

#[test]
fn a_state_stored_as_json_before_migration_0005_is_read_and_rewritten_compactly() {
    let Some(store) = TestStore::fresh() else { return };
    store.ingest(&fixtures::reference()).unwrap();
    let now = base_time().to_utc() + Duration::hours(8);
    let chain = fixtures::chain("yto", "YT5100000001");
    let mut batch = vec![Record::Waybill(Box::new(fixtures::waybill("yto", "YT5100000001")))];
    batch.extend(events(chain[..2].to_vec()));
    store.ingest_at(&batch, now).unwrap();
    let (carrier, number) = (carrier_code("yto"), waybill_no("YT5100000001"));
    let state = store.parcel_state(&carrier, &number).unwrap().unwrap();
    let first_byte = |store: &TestStore| -> u8 {
        let row = store.db.client().query_one("SELECT state FROM parcels WHERE waybill_no = 'YT5100000001'", &[]);
        row.unwrap().get::<_, Vec<u8>>(0)[0]
    };
    assert_eq!(first_byte(&store), 1, "written in postcard form");

    // Migration 0005 turned the JSON text of older rows into the same bytes.
    let json = serde_json::to_string(&state).unwrap();
    store
        .db
        .client()
        .execute("UPDATE parcels SET state = convert_to($1, 'UTF8') WHERE waybill_no = 'YT5100000001'", &[&json])
        .unwrap();
    assert_eq!(first_byte(&store), b'{');
    assert_eq!(store.parcel_state(&carrier, &number).unwrap(), Some(state.clone()));
    assert_eq!(store.parcel_states_after(None, 10).unwrap()[0].2, state);

    // The next change re-derives from the JSON state (the aggregates move by the exact difference) and writes it
    // in postcard form.
    store.ingest_at(&events(chain[2..].to_vec()), now).unwrap();
    assert_eq!(first_byte(&store), 1);
    let states: Vec<_> = store.parcel_states_after(None, 10).unwrap().into_iter().map(|(_, _, s)| s).collect();
    let recount = kuaidi_store::derived::Aggregates::recount(&states).unwrap();
    let filter = kuaidi_rules::Filter::default();
    assert_eq!(store.indicators(&filter, &[]).unwrap(), recount.cube.slice(&filter, &[]));

    // A state that is neither form is an error naming its first byte, not a silent reset.
    store.db.client().execute("UPDATE parcels SET state = '\\x07aa'::bytea", &[]).unwrap();
    let err = store.parcel_state(&carrier, &number).unwrap_err();
    assert!(err.to_string().contains("`0x07`"), "{err}");
}

/// The highest line pointer among the `parcels` rows: with `n` rows inserted into a fresh table and never updated,
/// it is `n`; every update of a row adds a new version with a higher one.
fn highest_parcel_version(store: &TestStore) -> f64 {
    let row = store.db.client().query_one("SELECT max((ctid::text::point)[1]) FROM parcels", &[]).unwrap();
    row.get(0)
}

#[test]
fn a_new_parcel_is_written_once_and_a_wrong_guess_changes_nothing() {
    // A parcel whose waybill a batch brings is derived before the lock as if new, and inserted with that state.
    let Some(store) = TestStore::fresh() else { return };
    let Some(reference) = TestStore::fresh() else { return };
    store.ingest(&fixtures::reference()).unwrap();
    reference.ingest(&fixtures::reference()).unwrap();
    let now = base_time().to_utc() + Duration::hours(30);
    let (one, two, three) = ("YT5200000001", "YT5200000002", "YT5200000003");
    let (chain_one, chain_two, chain_three) =
        (fixtures::chain("yto", one), fixtures::chain("yto", two), fixtures::chain("yto", three));
    let waybill = |no: &str| Record::Waybill(Box::new(fixtures::waybill("yto", no)));
    let complaint =
        Record::Complaint(Box::new(fixtures::complaint("yto", three, "C-1", kuaidi_model::Verdict::Pending)));

    // New parcels: one and two with their waybills (speculated), three with a complaint (not speculated).
    let mut first = vec![waybill(one), waybill(two), waybill(three), complaint.clone()];
    first.extend(events(chain_one[..3].to_vec()));
    first.extend(events(chain_two.clone()));
    first.extend(events(chain_three[..2].to_vec()));
    assert!(store.ingest_at(&first, now).unwrap().iter().all(|o| *o == Outcome::Accepted));
    assert_eq!(
        store.parcel_state(&carrier_code("yto"), &waybill_no(two)).unwrap().map(|s| s.summary.open),
        Some(false)
    );
    // Rows one and two were written once; three was inserted, then given its state.
    assert_eq!(highest_parcel_version(&store), 4.0);

    // Parcel one again with its waybill: guessed new, but stored, so it is derived from everything it holds.
    let mut second = vec![waybill(one)];
    second.extend(events(chain_one[3..].to_vec()));
    second.extend(events(chain_three[2..].to_vec()));
    let answers = store.ingest_at(&second, now).unwrap();
    assert_eq!(answers[0], Outcome::Duplicate);
    assert!(answers[1..].iter().all(|o| *o == Outcome::Accepted));

    // The same records in one batch on another database give the same states, aggregates and alerts.
    let mut all = first.clone();
    all.extend(second);
    reference.ingest_at(&all, now).unwrap();
    let states = |store: &TestStore| -> Vec<_> { store.parcel_states_after(None, 10).unwrap() };
    assert_eq!(states(&store), states(&reference));
    let filter = kuaidi_rules::Filter::default();
    let by = [kuaidi_rules::Dimension::Carrier];
    assert_eq!(store.indicators(&filter, &by).unwrap(), reference.indicators(&filter, &by).unwrap());
    let recount =
        kuaidi_store::derived::Aggregates::recount(&states(&store).into_iter().map(|(_, _, s)| s).collect::<Vec<_>>());
    assert_eq!(store.indicators(&filter, &by).unwrap(), recount.unwrap().cube.slice(&filter, &by));
    let standing = |store: &TestStore| -> Vec<(String, String)> {
        let query = kuaidi_store::AlertQuery { limit: 1_000, ..Default::default() };
        let mut alerts: Vec<_> = store
            .alerts(&query)
            .unwrap()
            .into_iter()
            .filter(|a| a.status != kuaidi_store::AlertStatus::Cleared)
            .map(|a| (a.waybill_no.as_str().to_owned(), a.kind))
            .collect();
        alerts.sort();
        alerts
    };
    assert_eq!(standing(&store), standing(&reference));

    // A batch bringing a new outlet and a parcel scanned there is speculated inside its transaction, after the
    // outlet is written, so the rules see it: the new parcel's row is still written once.
    let four = "YT5200000004";
    let mut chain_four = fixtures::chain("yto", four);
    for event in &mut chain_four[..4] {
        event.facility = fixtures::facility_code("YTO-NJ-01");
    }
    let outlet = fixtures::facility("YTO-NJ-01", kuaidi_model::FacilityKind::Outlet, Some("yto"), "320105");
    let mut with_reference = vec![Record::Facility(outlet), waybill(four)];
    with_reference.extend(events(chain_four));
    let before = highest_parcel_version(&store);
    assert!(store.ingest_at(&with_reference, now).unwrap().iter().all(|o| *o == Outcome::Accepted));
    assert_eq!(highest_parcel_version(&store), before + 1.0);
    reference.ingest_at(&with_reference, now).unwrap();
    assert_eq!(states(&store), states(&reference));
    let state = store.parcel_state(&carrier_code("yto"), &waybill_no(four)).unwrap().unwrap();
    assert_eq!(state.summary.route.first().map(kuaidi_model::FacilityCode::as_str), Some("YTO-NJ-01"));
}

#[test]
fn partitions_are_made_ahead_and_on_demand_and_dropped_by_retention() {
    let Some(db) = TestDatabase::migrated() else { return };
    let mut config = PgConfig::new(db.url.clone(), PiiKey::generate());
    config.retention_days = Some(30);
    config.partitions_ahead_days = 3;
    let store = PgStore::connect(config).unwrap();
    let today = day_of(Utc::now());
    let days = store.partition_days().unwrap();
    assert!(days.contains(&(today + Duration::days(3))) && days.contains(&(today - Duration::days(1))), "{days:?}");

    store.ingest(&fixtures::reference()).unwrap();
    let mut batch = vec![Record::Waybill(Box::new(fixtures::waybill("yto", "YT3000000001")))];
    batch.extend(events(fixtures::chain("yto", "YT3000000001")));
    store.ingest(&batch).unwrap();
    let event_day = day_of(base_time().to_utc());
    assert!(store.partition_days().unwrap().contains(&event_day), "made on demand for the events' day");

    // Forty days on, the fixtures' day is past the 30-day retention.
    let later = base_time().to_utc() + Duration::days(40);
    let report = store.maintain(later).unwrap();
    assert!(report.dropped.contains(&event_day), "{report:?}");
    assert_eq!(report.parcels_deleted, 1);
    assert!(report.created.contains(&(day_of(later) + Duration::days(3))));
    let counts = store.counts().unwrap();
    assert_eq!((counts.waybills, counts.events), (0, 0));
    assert!(store.events_of(&carrier_code("yto"), &waybill_no("YT3000000001")).unwrap().is_empty());
    assert_eq!(store.waybill(&carrier_code("yto"), &waybill_no("YT3000000001")).unwrap(), None);
}

#[test]
fn a_lost_connection_is_retried_and_nothing_acknowledged_is_lost() {
    let Some(store) = TestStore::fresh() else { return };
    store.ingest(&fixtures::reference()).unwrap();
    store.ingest(&events(fixtures::chain("yto", "YT4000000001"))).unwrap();

    // Kill every connection the store holds, as a restarted server or a network cut would.
    let mut admin = store.db.client();
    let n_killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(n_killed >= 1);

    let outcomes = store.ingest(&events(fixtures::chain("yto", "YT4000000002"))).unwrap();
    assert!(outcomes.iter().all(|o| *o == Outcome::Accepted));
    assert_eq!(store.counts().unwrap().events, 14);
    assert_eq!(store.events_of(&carrier_code("yto"), &waybill_no("YT4000000001")).unwrap().len(), 7);
}

#[test]
fn a_database_at_another_schema_version_is_refused_with_a_hint() {
    let Some(db) = TestDatabase::create() else { return };
    let err = PgStore::connect(PgConfig::new(db.url.clone(), PiiKey::generate())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SchemaVersion);
    assert!(err.to_string().contains("run `kuaidi migrate"), "{err}");

    let report = kuaidi_store_pg::migrate(&db.url).unwrap();
    assert_eq!((report.from, report.to), (0, kuaidi_store_pg::LATEST_VERSION));
    assert_eq!(kuaidi_store_pg::migrate(&db.url).unwrap().from, kuaidi_store_pg::LATEST_VERSION, "idempotent");

    db.client().execute("INSERT INTO kuaidi_migrations (version) VALUES (99)", &[]).unwrap();
    let err = PgStore::connect(PgConfig::new(db.url.clone(), PiiKey::generate())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::SchemaVersion);
    assert!(err.to_string().contains("schema version 99") && err.to_string().contains("upgrade kuaidi"), "{err}");
    assert_eq!(kuaidi_store_pg::migrate(&db.url).unwrap_err().kind(), ErrorKind::SchemaVersion);
}

#[test]
fn an_unreachable_database_is_unavailable_and_named() {
    // Port 1 on loopback: nothing listens there.
    let config = PgConfig::new("postgres://kuaidi:secret@127.0.0.1:1/kuaidi", PiiKey::generate());
    let err = PgStore::connect(config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unavailable);
    let message = err.to_string();
    assert!(message.contains("127.0.0.1:1/kuaidi") && !message.contains("secret"), "{message}");
    let err = kuaidi_store_pg::migrate("not a url at all").unwrap_err();
    assert!(err.to_string().contains("database URL is not valid"), "{err}");
}

#[test]
fn personal_data_is_sealed_at_rest_and_a_different_key_is_refused() {
    let key = PiiKey::generate();
    let Some(store) = TestStore::with_key(key) else { return };
    store.ingest(&fixtures::reference()).unwrap();
    store.ingest(&[Record::Waybill(Box::new(fixtures::waybill("yto", "YT5000000001")))]).unwrap();
    let mut client = store.db.client();
    let raw: String = client
        .query_one("SELECT string_agg(row_to_json(w)::text || encode(w.pii, 'escape'), ' ') FROM waybills w", &[])
        .unwrap()
        .get(0);
    for needle in ["13900135678", "李四", "南京东路", "11010519491231002X", "张三"] {
        assert!(!raw.contains(needle), "{needle} is stored in clear");
    }
    let waybill = store.waybill(&carrier_code("yto"), &waybill_no("YT5000000001")).unwrap();
    assert_eq!(waybill, Some(fixtures::waybill("yto", "YT5000000001")));

    let err = PgStore::connect(PgConfig::new(store.db.url.clone(), PiiKey::generate())).unwrap_err();
    assert!(err.to_string().contains("personal-data key does not match"), "{err}");
}

#[test]
fn repeats_within_a_batch_are_compared_with_what_the_key_holds() {
    let Some(store) = TestStore::fresh() else { return };
    store.ingest(&fixtures::reference()).unwrap();
    let original = fixtures::waybill("yto", "YT6000000001");
    store.ingest(&[Record::Waybill(Box::new(original.clone()))]).unwrap();
    let mut changed = original.clone();
    changed.contents.weight_grams += 1;
    let waybills = |list: &[&kuaidi_model::Waybill]| -> Vec<Record> {
        list.iter().map(|w| Record::Waybill(Box::new((*w).clone()))).collect()
    };
    let outcomes = store.ingest(&waybills(&[&changed, &original, &changed])).unwrap();
    assert_eq!(outcomes, vec![Outcome::Conflict, Outcome::Duplicate, Outcome::Conflict]);

    let new = fixtures::waybill("yto", "YT6000000002");
    let mut new_changed = new.clone();
    new_changed.product = "express".into();
    let outcomes = store.ingest(&waybills(&[&new, &new, &new_changed])).unwrap();
    assert_eq!(outcomes, vec![Outcome::Accepted, Outcome::Duplicate, Outcome::Conflict]);
    assert_eq!(store.waybill(&carrier_code("yto"), &waybill_no("YT6000000002")).unwrap(), Some(new));
    assert_eq!(store.counts().unwrap().waybills, 2);
}

#[test]
fn complaints_in_one_batch_are_answered_in_order() {
    use kuaidi_model::{Complaint, Verdict};
    let Some(store) = TestStore::fresh() else { return };
    store.ingest(&fixtures::reference()).unwrap();
    let record = |complaint: &Complaint| Record::Complaint(Box::new(complaint.clone()));
    let stored = fixtures::complaint("yto", "YT7000000001", "c-1", Verdict::Pending);
    store.ingest(&[record(&stored)]).unwrap();

    // A stored complaint ruled twice, a new one filed and ruled, a rewrite refused, all in one batch.
    let ruled = Complaint { verdict: Verdict::Valid, ..stored.clone() };
    let overruled = Complaint { verdict: Verdict::Invalid, ..stored.clone() };
    let filed = fixtures::complaint("yto", "YT7000000001", "c-2", Verdict::Pending);
    let filed_ruled = Complaint { verdict: Verdict::Valid, ..filed.clone() };
    let rewritten = Complaint { description: "另一段话".into(), ..filed_ruled.clone() };
    let batch = [&ruled, &overruled, &filed, &filed_ruled, &filed_ruled, &rewritten, &stored].map(record);
    let outcomes = store.ingest(&batch).unwrap();
    use Outcome::{Accepted, Conflict, Duplicate, Updated};
    assert_eq!(outcomes, vec![Updated, Updated, Accepted, Updated, Duplicate, Conflict, Updated]);
    let mut held = store.complaints_of(&carrier_code("yto"), &waybill_no("YT7000000001")).unwrap();
    held.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    assert_eq!(held, vec![stored, filed_ruled]);
}

#[test]
fn a_waybill_number_shared_by_two_carriers_keeps_their_records_apart() {
    // Ingest loads a batch's parcels by waybill number alone (the distribution column); the other carrier's rows
    // under the same number must not be taken for this parcel's.
    let Some(store) = TestStore::fresh() else { return };
    store.ingest(&fixtures::reference()).unwrap();
    let (yto, sf) = (fixtures::chain("yto", "AB70000002"), fixtures::chain("sf", "AB70000002"));
    store.ingest(&events(yto[..3].iter().cloned().chain(sf[..2].iter().cloned()))).unwrap();
    // Same event ids under the other carrier are other events; the first of each is a re-send.
    let outcomes = store.ingest(&events([yto[0].clone(), sf[2].clone(), sf[0].clone(), yto[3].clone()])).unwrap();
    assert_eq!(outcomes, vec![Outcome::Duplicate, Outcome::Accepted, Outcome::Duplicate, Outcome::Accepted]);
    assert_eq!(store.events_of(&carrier_code("yto"), &waybill_no("AB70000002")).unwrap(), yto[..4].to_vec());
    assert_eq!(store.events_of(&carrier_code("sf"), &waybill_no("AB70000002")).unwrap(), sf[..3].to_vec());
    let state = |carrier: &str| store.parcel_state(&carrier_code(carrier), &waybill_no("AB70000002")).unwrap();
    let (yto_state, sf_state) = (state("yto").unwrap(), state("sf").unwrap());
    assert_eq!(yto_state.summary.carrier, carrier_code("yto"));
    assert_eq!(sf_state.summary.carrier, carrier_code("sf"));
}

#[test]
fn a_batch_of_re_sends_writes_no_parcel_row() {
    // Ingest locks stored parcels without writing them, and writes a parcel row only when its state, event range or
    // activity changes: a batch of pure re-sends leaves every row version as it was.
    let Some(store) = TestStore::fresh() else { return };
    store.ingest(&fixtures::reference()).unwrap();
    let chain = fixtures::chain("yto", "YT7000000003");
    store.ingest(&events(chain.clone())).unwrap();
    let mut client = store.db.client();
    let version = |client: &mut postgres::Client| -> String {
        client.query_one("SELECT xmin::text || ctid::text FROM parcels", &[]).unwrap().get(0)
    };
    let before = version(&mut client);
    let outcomes = store.ingest(&events(chain.clone())).unwrap();
    assert!(outcomes.iter().all(|o| *o == Outcome::Duplicate), "{outcomes:?}");
    assert_eq!(version(&mut client), before);

    // A new event widens the row and changes the state: one new row version.
    let mut late = chain[chain.len() - 1].clone();
    late.event_id = kuaidi_model::EventId::parse("E-late").unwrap();
    late.time += Duration::hours(30);
    assert_eq!(store.ingest(&events([late.clone()])).unwrap(), vec![Outcome::Accepted]);
    assert_ne!(version(&mut client), before);
    let row = client.query_one("SELECT last_event, last_activity FROM parcels", &[]).unwrap();
    let (last_event, last_activity): (chrono::DateTime<Utc>, chrono::DateTime<Utc>) = (row.get(0), row.get(1));
    assert_eq!((last_event, last_activity), (late.time.to_utc(), late.time.to_utc()));
}
