-- Kuaidi embedded schema, version 4: state derived at ingest (see kuaidi_store::derived).
-- `parcels` holds what each parcel contributes to the aggregates (its summary and coverage row, as JSON) and the
-- next moment it can change with time alone; `alerts` the alerts raised, once per parcel and dedup key.
-- The aggregates themselves live in memory; `aggregate_snapshot` keeps a copy that is valid only while
-- `derived_meta.aggregates` is `clean`. An ingest marks it `dirty` in its own transaction before changing anything,
-- so after a crash the aggregates are recounted from `parcels` instead of trusted.
CREATE TABLE parcels (
    waybill_no TEXT NOT NULL,
    carrier    TEXT NOT NULL,
    check_ms   INTEGER,
    state      TEXT NOT NULL,
    PRIMARY KEY (waybill_no, carrier)
) WITHOUT ROWID;
CREATE INDEX parcels_due ON parcels (check_ms) WHERE check_ms IS NOT NULL;

CREATE TABLE alerts (
    id               INTEGER PRIMARY KEY,
    waybill_no       TEXT NOT NULL,
    carrier          TEXT NOT NULL,
    dedup_key        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    reason           TEXT NOT NULL,
    events           TEXT NOT NULL,
    detail           TEXT NOT NULL,
    origin_city      INTEGER,
    destination_city INTEGER,
    raised_ms        INTEGER NOT NULL,
    status           TEXT NOT NULL,
    note             TEXT,
    handled_by       TEXT,
    handled_ms       INTEGER,
    UNIQUE (waybill_no, carrier, dedup_key)
);
CREATE INDEX alerts_by_carrier ON alerts (carrier, id);

CREATE TABLE aggregate_snapshot (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE derived_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
INSERT INTO derived_meta (key, value) VALUES ('aggregates', 'clean');
INSERT INTO aggregate_snapshot (name, body) VALUES ('cube', '[]'), ('coverage', '[]');
