-- Kuaidi embedded schema, version 1.
-- Times are milliseconds since the Unix epoch (UTC) plus the reported UTC offset in seconds, so the original local
-- time can be given back exactly. Personal data lives only in the sealed `pii` blob of `waybills`.

CREATE TABLE carriers (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE facilities (
    code      TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    carrier   TEXT,
    division  INTEGER NOT NULL,
    longitude REAL,
    latitude  REAL,
    name      TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE waybills (
    carrier              TEXT NOT NULL,
    waybill_no           TEXT NOT NULL,
    product              TEXT NOT NULL,
    electronic           INTEGER NOT NULL,
    created_ms           INTEGER NOT NULL,
    created_offset_s     INTEGER NOT NULL,
    sender_division      INTEGER NOT NULL,
    receiver_division    INTEGER NOT NULL,
    contents_category    TEXT NOT NULL,
    contents_description TEXT NOT NULL,
    weight_grams         INTEGER NOT NULL,
    declared_value_fen   INTEGER NOT NULL,
    real_name_id_type    TEXT,
    real_name_verified   INTEGER,
    pii                  BLOB NOT NULL,
    received_ms          INTEGER NOT NULL,
    PRIMARY KEY (waybill_no, carrier)
) WITHOUT ROWID;

-- Events are stored in arrival order, so writing one appends to the table; the compact index on the idempotency key
-- (waybill_no, carrier, event_id), the key a table sharded by waybill can enforce, serves duplicates and traces.
CREATE TABLE events (
    seq            INTEGER PRIMARY KEY,
    waybill_no     TEXT NOT NULL,
    carrier        TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    kind           TEXT NOT NULL,
    time_ms        INTEGER NOT NULL,
    offset_s       INTEGER NOT NULL,
    facility       TEXT NOT NULL,
    operator       TEXT,
    vehicle        TEXT,
    next_facility  TEXT,
    exception_code TEXT,
    signer         TEXT,
    received_ms    INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_by_key ON events (waybill_no, carrier, event_id);
CREATE INDEX events_by_operator ON events (operator, time_ms) WHERE operator IS NOT NULL;
CREATE INDEX events_by_vehicle ON events (vehicle, time_ms) WHERE vehicle IS NOT NULL;

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    hash         BLOB NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    carrier      TEXT,
    jurisdiction TEXT,
    label        TEXT NOT NULL,
    created_ms   INTEGER NOT NULL,
    revoked_ms   INTEGER
);

CREATE TABLE audit_log (
    seq     INTEGER PRIMARY KEY,
    at_ms   INTEGER NOT NULL,
    key_id  TEXT NOT NULL,
    action  TEXT NOT NULL,
    subject TEXT NOT NULL,
    detail  TEXT NOT NULL
);
