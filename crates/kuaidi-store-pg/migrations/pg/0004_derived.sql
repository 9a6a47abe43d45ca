-- Kuaidi PostgreSQL schema, version 4: state derived at ingest (see kuaidi_store::derived).
-- Several servers write one database, so nothing derived lives in a process's memory:
-- * `parcels.state` is what the parcel contributes (its summary, coverage row, alert keys, as JSON), written under
--   the parcel's row lock that ingest already takes in key order; `check_at` is the next moment it can change with
--   time alone, for the sweep;
-- * `indicator_cells` and `coverage_cells` are the aggregates, one row per cube cell and per coverage key, changed by
--   the exact old→new difference of the parcels an ingest re-derived, under row locks taken in key order after the
--   parcels' locks;
-- * `alerts` holds each alert once per parcel and dedup key.
ALTER TABLE parcels ADD COLUMN state text;
ALTER TABLE parcels ADD COLUMN check_at timestamptz;
CREATE INDEX parcels_due ON parcels (check_at) WHERE check_at IS NOT NULL;
-- Parcels stored before this version have no state yet: they are due at once, so the first sweep derives them.
UPDATE parcels SET check_at = '-infinity' WHERE state IS NULL;

-- `cell` is the cell key as JSON (day, carrier, origin, destination); `counters` the indicator counters as JSON.
CREATE TABLE indicator_cells (
    cell     text PRIMARY KEY,
    counters text NOT NULL
);

-- `cell` is the coverage key as JSON; `row` the coverage row (key and counts) as JSON.
CREATE TABLE coverage_cells (
    cell text PRIMARY KEY,
    row  text NOT NULL
);

-- Distributed on waybill_no, co-located with parcels. `id` orders alerts newest first and names one in the API; it is
-- an identity column (Citus gives each node its own range of a bigint identity), unique though not a key: the key
-- that makes an alert raised once is (waybill_no, carrier, dedup_key).
CREATE TABLE alerts (
    waybill_no       text NOT NULL,
    carrier          text NOT NULL,
    dedup_key        text NOT NULL,
    id               bigint GENERATED ALWAYS AS IDENTITY,
    kind             text NOT NULL,
    reason           text NOT NULL,
    events           text NOT NULL,
    detail           text NOT NULL,
    origin_city      integer,
    destination_city integer,
    raised_at        timestamptz NOT NULL,
    status           text NOT NULL,
    note             text,
    handled_by       text,
    handled_at       timestamptz,
    PRIMARY KEY (waybill_no, carrier, dedup_key),
    FOREIGN KEY (waybill_no, carrier) REFERENCES parcels (waybill_no, carrier) ON DELETE CASCADE
);
CREATE INDEX alerts_by_id ON alerts (id);
CREATE INDEX alerts_by_carrier ON alerts (carrier, id);
