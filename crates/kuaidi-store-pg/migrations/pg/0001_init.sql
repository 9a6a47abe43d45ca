-- Kuaidi PostgreSQL schema, version 1, laid out for distributed PostgreSQL (Citus).
-- Distribution column: waybill_no. Every large table (parcels, waybills, events) has it first in every primary key
-- and unique index, so Citus can shard them all on it, co-located, and every per-parcel statement stays on one shard.
-- Reference tables (copied to every node): carriers, facilities, divisions, api_keys, audit_log.
-- Nothing uses a sequence. Personal data lives only in the sealed `pii` column of `waybills`.
-- Times are timestamptz (an instant) plus the reported UTC offset in seconds, so the local time comes back exactly.

CREATE TABLE carriers (
    code text PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE divisions (
    code integer PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE facilities (
    code      text PRIMARY KEY,
    kind      text NOT NULL,
    carrier   text REFERENCES carriers (code),
    division  integer NOT NULL,
    longitude double precision,
    latitude  double precision,
    name      text NOT NULL
);

-- One row per parcel (carrier + waybill number), made by its first waybill or event. It is the row that ingest locks,
-- in key order, so that two servers ingesting the same parcel take turns; derived per-parcel state belongs here.
-- first_event/last_event bound the times of the parcel's stored events, so a lookup by key visits only the day
-- partitions that can hold them. last_activity drives retention.
CREATE TABLE parcels (
    waybill_no    text NOT NULL,
    carrier       text NOT NULL REFERENCES carriers (code),
    first_event   timestamptz,
    last_event    timestamptz,
    last_activity timestamptz NOT NULL,
    PRIMARY KEY (waybill_no, carrier)
);
CREATE INDEX parcels_by_activity ON parcels (last_activity);

CREATE TABLE waybills (
    waybill_no           text NOT NULL,
    carrier              text NOT NULL,
    product              text NOT NULL,
    electronic           boolean NOT NULL,
    created_at           timestamptz NOT NULL,
    created_offset_s     integer NOT NULL,
    sender_division      integer NOT NULL,
    receiver_division    integer NOT NULL,
    contents_category    text NOT NULL,
    contents_description text NOT NULL,
    weight_grams         bigint NOT NULL,
    declared_value_fen   bigint NOT NULL,
    real_name_id_type    text,
    real_name_verified   boolean,
    pii                  bytea NOT NULL,
    received_at          timestamptz NOT NULL,
    PRIMARY KEY (waybill_no, carrier),
    FOREIGN KEY (waybill_no, carrier) REFERENCES parcels (waybill_no, carrier) ON DELETE CASCADE
);

-- Scan events, partitioned by day (midnight to midnight, China Standard Time). The primary key must hold the
-- partition column, so it is the idempotency key plus the time; the key alone is made unique by ingest, which finds a
-- stored event by key within the parcel's [first_event, last_event] under the parcel's row lock.
CREATE TABLE events (
    waybill_no     text NOT NULL,
    carrier        text NOT NULL,
    event_id       text NOT NULL,
    time           timestamptz NOT NULL,
    kind           text NOT NULL,
    offset_s       integer NOT NULL,
    facility       text NOT NULL,
    operator       text,
    vehicle        text,
    next_facility  text,
    exception_code text,
    signer         text,
    received_at    timestamptz NOT NULL,
    PRIMARY KEY (waybill_no, carrier, event_id, time)
) PARTITION BY RANGE (time);
CREATE INDEX events_by_operator ON events (operator, time) WHERE operator IS NOT NULL;
CREATE INDEX events_by_vehicle ON events (vehicle, time) WHERE vehicle IS NOT NULL;

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    hash         bytea NOT NULL UNIQUE,
    role         text NOT NULL,
    carrier      text,
    jurisdiction text,
    label        text NOT NULL,
    created_at   timestamptz NOT NULL,
    revoked_at   timestamptz
);

-- No sequence: entries are ordered by their time, then by when they were written.
CREATE TABLE audit_log (
    at          timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    key_id      text NOT NULL,
    action      text NOT NULL,
    subject     text NOT NULL,
    detail      text NOT NULL
);
CREATE INDEX audit_log_newest ON audit_log (at DESC, recorded_at DESC);

-- Facts about this database that every server checks at connect: a value sealed with the personal-data key, so a
-- server holding another key is refused before it writes anything it could not read back.
CREATE TABLE kuaidi_meta (
    name  text PRIMARY KEY,
    value bytea NOT NULL
);
