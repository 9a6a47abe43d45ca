//! The schema obeys the rules Citus imposes, proven on plain PostgreSQL by reading the catalogue.
//!
//! The plan of which table is distributed (and on which column) and which is a reference table is read from the
//! statements in `docs/DEPLOY.md`, so the deployment guide and the schema cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::TestStore;

const DEPLOY: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/DEPLOY.md"));

/// Distributed tables with their distribution column, and reference tables, as `docs/DEPLOY.md` states them.
fn plan() -> (BTreeMap<String, String>, BTreeSet<String>) {
    let quoted = |text: &str| -> Vec<String> { text.split('\'').skip(1).step_by(2).map(str::to_owned).collect() };
    let mut distributed = BTreeMap::new();
    let mut reference = BTreeSet::new();
    for line in DEPLOY.lines() {
        if let Some(rest) = line.split("create_distributed_table(").nth(1) {
            let args = quoted(rest.split(')').next().unwrap_or_default());
            distributed.insert(args[0].clone(), args[1].clone());
        } else if let Some(rest) = line.split("create_reference_table(").nth(1) {
            reference.insert(quoted(rest.split(')').next().unwrap_or_default())[0].clone());
        }
    }
    (distributed, reference)
}

#[test]
fn deploy_guide_states_a_plan() {
    let (distributed, reference) = plan();
    assert_eq!(distributed.get("events").map(String::as_str), Some("waybill_no"));
    assert!(reference.contains("carriers") && reference.contains("facilities") && reference.contains("divisions"));
}

#[test]
fn schema_obeys_the_citus_rules() {
    // A connected store has created the day partitions ahead, so partitions' indexes are checked too.
    let Some(store) = TestStore::fresh() else { return };
    let mut client = store.db.client();
    let (distributed, reference) = plan();

    // Every table of the schema (partitions aside) is in the plan, once.
    let tables: BTreeSet<String> = client
        .query(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    let planned: BTreeSet<String> = distributed.keys().cloned().chain(reference.iter().cloned()).collect();
    assert_eq!(tables, planned, "every table must be distributed or a reference table in docs/DEPLOY.md");
    assert!(distributed.keys().all(|t| !reference.contains(t)));

    // Every primary key and unique index of a distributed table (and of each of its partitions) holds its
    // distribution column.
    let unique_indexes = client
        .query(
            "SELECT coalesce(parent.relname, t.relname)::text AS base, i.relname::text, \
                    array_agg(a.attname::text) AS columns \
             FROM pg_index x \
             JOIN pg_class i ON i.oid = x.indexrelid \
             JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = 'public' \
             LEFT JOIN pg_inherits inh ON inh.inhrelid = t.oid \
             LEFT JOIN pg_class parent ON parent.oid = inh.inhparent \
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(x.indkey) \
             WHERE x.indisunique \
             GROUP BY 1, 2",
            &[],
        )
        .unwrap();
    let mut n_checked = 0;
    for row in &unique_indexes {
        let (base, index, columns): (String, String, Vec<String>) = (row.get(0), row.get(1), row.get(2));
        if let Some(column) = distributed.get(&base) {
            assert!(columns.contains(column), "unique index {index} on {base} lacks the distribution column {column}");
            n_checked += 1;
        }
    }
    assert!(n_checked >= 3, "the unique indexes of the distributed tables were not found ({n_checked})");

    // Foreign keys go to reference tables, or between distributed tables on their distribution columns.
    let foreign_keys = client
        .query(
            "SELECT c.conname::text, src.relname::text, dst.relname::text, \
                    (SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(c.conkey) WITH ORDINALITY k(n, i) \
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n), \
                    (SELECT array_agg(a.attname::text ORDER BY k.i) FROM unnest(c.confkey) WITH ORDINALITY k(n, i) \
                     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n) \
             FROM pg_constraint c JOIN pg_class src ON src.oid = c.conrelid JOIN pg_class dst ON dst.oid = c.confrelid \
             WHERE c.contype = 'f' AND NOT src.relispartition AND c.conparentid = 0",
            &[],
        )
        .unwrap();
    assert!(!foreign_keys.is_empty());
    for row in &foreign_keys {
        let (name, from, to): (String, String, String) = (row.get(0), row.get(1), row.get(2));
        let (from_columns, to_columns): (Vec<String>, Vec<String>) = (row.get(3), row.get(4));
        if reference.contains(&to) {
            continue;
        }
        let from_column = distributed.get(&from).unwrap_or_else(|| panic!("{name}: reference table {from} -> {to}"));
        let to_column = distributed.get(&to).unwrap_or_else(|| panic!("{name}: {to} is in no plan"));
        let pos = from_columns.iter().position(|c| c == from_column);
        assert!(
            pos.is_some() && to_columns.get(pos.unwrap_or(0)) == Some(to_column),
            "{name}: {from}.{from_columns:?} -> {to}.{to_columns:?} is not co-located on the distribution column"
        );
    }

    // No key needs a sequence (a cross-shard counter): no nextval defaults, and identity columns only where
    // docs/DEPLOY.md allows them (`alerts.id`, in no unique index, and `epcis_events.seq`, on a reference table).
    let identities: BTreeSet<String> = client
        .query(
            "SELECT c.relname::text || '.' || a.attname::text FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
             WHERE c.relnamespace = 'public'::regnamespace AND a.attidentity <> '' AND NOT c.relispartition",
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(identities, BTreeSet::from(["alerts.id".to_owned(), "epcis_events.seq".to_owned()]));
    assert!(reference.contains("epcis_events"));
    let n_sequences: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_class s WHERE s.relkind = 'S' AND s.relnamespace = 'public'::regnamespace \
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = s.oid AND d.deptype = 'i')",
            &[],
        )
        .unwrap()
        .get(0);
    let n_nextval: i64 = client
        .query_one(
            "SELECT count(*) FROM pg_attrdef d JOIN pg_class c ON c.oid = d.adrelid \
             WHERE c.relnamespace = 'public'::regnamespace AND pg_get_expr(d.adbin, d.adrelid) ILIKE '%nextval%'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!((n_sequences, n_nextval), (0, 0));

    // Events are partitioned by range of time (native declarative partitioning).
    let strategy: String = client.query_one("SELECT pg_get_partkeydef('events'::regclass)", &[]).unwrap().get(0);
    assert_eq!(strategy, "RANGE (\"time\")");
}
