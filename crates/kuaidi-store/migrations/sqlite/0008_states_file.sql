-- Kuaidi embedded schema, version 8: parcel states in a file of their own (`kuaidi.states.db` beside `kuaidi.db`,
-- attached as `states`). The tables are those of versions 4 and 6, moved: `parcels` with its `parcels_due` index, the
-- aggregates' snapshot and its flag. A flush writes a batch of states and the snapshot in one transaction of this
-- file, on a connection of its own, while the writer goes on in the main file; `unflushed_parcels` stays in the main
-- file, with the records whose transaction journals the parcels, and a flush's rows are deleted once it has
-- committed. The copy from the main file is done by the code (`move_states_out`), after this has run.
CREATE TABLE IF NOT EXISTS states.parcels (
    waybill_no TEXT NOT NULL,
    carrier    TEXT NOT NULL,
    check_ms   INTEGER,
    state      TEXT NOT NULL, -- a BLOB in codec form since version 6 (TEXT affinity keeps BLOBs as they are)
    PRIMARY KEY (waybill_no, carrier)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS states.parcels_due ON parcels (check_ms) WHERE check_ms IS NOT NULL;

CREATE TABLE IF NOT EXISTS states.aggregate_snapshot (
    name TEXT PRIMARY KEY,
    body TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS states.derived_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;
