-- Kuaidi embedded schema, version 9: the state journal takes one row per transaction instead of one per parcel.
-- `unflushed_batches` names, in the transaction that stores their records, the parcels whose state in the states file
-- is older than their records, as lines of `parcels` (a carrier code, a tab, a waybill number; neither can hold a tab
-- or a line break). One row per transaction costs the writer one insert where one per parcel cost an insert each, and
-- a flush deletes as many rows as transactions. `seq` is AUTOINCREMENT, never reused, as the journal's was since
-- version 8; `at_ms` is the clock of the transaction that wrote the row, as before. Rows journalled by an earlier
-- version move into one row, with their last `seq` and their latest clock.
CREATE TABLE unflushed_batches (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms   INTEGER NOT NULL,
    parcels TEXT NOT NULL
);
INSERT INTO unflushed_batches (seq, at_ms, parcels)
    SELECT max(seq), max(at_ms), group_concat(carrier || char(9) || waybill_no, char(10))
    FROM unflushed_parcels
    HAVING count(*) > 0;
DROP TABLE unflushed_parcels;
