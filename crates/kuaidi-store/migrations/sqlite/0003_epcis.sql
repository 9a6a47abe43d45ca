-- Kuaidi embedded schema, version 3: EPCIS events and capture jobs.
-- Every valid EPCIS event is kept whole (its JSON text), keyed by its GS1 event hash, with the fields a
-- SimpleEventQuery filters on beside it. Times are milliseconds since the Unix epoch (UTC).

CREATE TABLE epcis_events (
    seq          INTEGER PRIMARY KEY,
    hash         TEXT NOT NULL UNIQUE,
    event_type   TEXT NOT NULL,
    event_ms     INTEGER NOT NULL,
    record_ms    INTEGER NOT NULL,
    action       TEXT,
    biz_step     TEXT,
    disposition  TEXT,
    read_point   TEXT,
    biz_location TEXT,
    body         TEXT NOT NULL
);
CREATE INDEX epcis_events_by_time ON epcis_events (event_ms);

-- One row per identifier an event names, for the EPC queries.
CREATE TABLE epcis_event_epcs (
    epc TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (epc, seq)
) WITHOUT ROWID;

CREATE TABLE capture_jobs (
    id          TEXT PRIMARY KEY,
    created_ms  INTEGER NOT NULL,
    finished_ms INTEGER,
    running     INTEGER NOT NULL,
    success     INTEGER NOT NULL,
    behaviour   TEXT NOT NULL,
    n_events    INTEGER NOT NULL,
    errors      TEXT NOT NULL
);
