-- Kuaidi embedded schema, version 5: parcel states written behind.
-- The writer keeps the states it derives in memory and writes them to `parcels` in batches, in key order, instead of
-- once per transaction: one batch rewrites most pages of `parcels` once, where every transaction rewrote them before.
-- `unflushed_parcels` journals, in the transaction that stores their records, the parcels whose state in `parcels` is
-- older than their records. The batch that writes their states empties it. A store that opens with rows here (the
-- process stopped before writing them) re-derives those parcels from their records, at the latest clock noted here
-- (`at_ms`, the clock of the transaction that journalled the parcel: a replayed past day has its own).
CREATE TABLE unflushed_parcels (
    seq        INTEGER PRIMARY KEY,
    waybill_no TEXT NOT NULL,
    carrier    TEXT NOT NULL,
    at_ms      INTEGER NOT NULL
);
