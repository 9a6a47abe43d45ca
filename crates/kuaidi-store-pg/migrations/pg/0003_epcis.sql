-- Kuaidi PostgreSQL schema, version 3: EPCIS events and capture jobs.
-- Every valid EPCIS event is kept whole (its JSON text), keyed by its GS1 event hash, with the fields a
-- SimpleEventQuery filters on beside it. `seq` orders the store for paging (`nextPageToken`); it is the one place
-- where a counter is needed, so it is an identity column on a table Citus keeps as a reference table (see
-- docs/DEPLOY.md), never on a distributed one.
CREATE TABLE epcis_events (
    seq          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hash         text NOT NULL UNIQUE,
    event_type   text NOT NULL,
    event_time   timestamptz NOT NULL,
    record_time  timestamptz NOT NULL,
    action       text,
    biz_step     text,
    disposition  text,
    read_point   text,
    biz_location text,
    body         text NOT NULL
);
CREATE INDEX epcis_events_by_time ON epcis_events (event_time);

-- One row per identifier an event names, for the EPC queries.
CREATE TABLE epcis_event_epcs (
    epc text NOT NULL,
    seq bigint NOT NULL REFERENCES epcis_events (seq) ON DELETE CASCADE,
    PRIMARY KEY (epc, seq)
);

CREATE TABLE capture_jobs (
    id          text PRIMARY KEY,
    created_at  timestamptz NOT NULL,
    finished_at timestamptz,
    running     boolean NOT NULL,
    success     boolean NOT NULL,
    behaviour   text NOT NULL,
    n_events    bigint NOT NULL,
    errors      text NOT NULL
);
