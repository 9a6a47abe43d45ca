-- Kuaidi embedded schema, version 10: reverse traces read postings instead of two indexes on `events`.
-- `events_by_operator` and `events_by_vehicle` took an index entry for nearly every event stored, and inserting those
-- entries cost the writer about 4.3 of the 11.8 µs SQLite spends per stored event (docs/BENCHMARKS.md, session 19).
-- `handled` instead holds, per transaction, one row for each hour and handler (kind 0: operator, 1: vehicle) its
-- accepted events name: `seqs` is the row numbers (`events.seq`) of those events, ascending, 8 bytes each, big-endian;
-- `first_seq` is the first of them, so rows of later transactions for the same hour and handler are new keys. The hour
-- is `time_ms / 3600000`, as before. A reverse trace seeks each hour of its range, then reads the events by row number.
CREATE TABLE handled (
    hour      INTEGER NOT NULL,
    kind      INTEGER NOT NULL,
    handler   TEXT NOT NULL,
    first_seq INTEGER NOT NULL,
    seqs      BLOB NOT NULL,
    PRIMARY KEY (hour, kind, handler, first_seq)
) WITHOUT ROWID;
INSERT INTO handled (hour, kind, handler, first_seq, seqs)
    SELECT time_ms / 3600000, 0, operator, min(seq), unhex(group_concat(printf('%016x', seq), '' ORDER BY seq))
    FROM events WHERE operator IS NOT NULL
    GROUP BY time_ms / 3600000, operator;
INSERT INTO handled (hour, kind, handler, first_seq, seqs)
    SELECT time_ms / 3600000, 1, vehicle, min(seq), unhex(group_concat(printf('%016x', seq), '' ORDER BY seq))
    FROM events WHERE vehicle IS NOT NULL
    GROUP BY time_ms / 3600000, vehicle;
DROP INDEX events_by_operator;
DROP INDEX events_by_vehicle;
