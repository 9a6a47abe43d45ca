-- Kuaidi embedded schema, version 7: the reverse-trace indexes lead with the hour.
-- `events_by_operator` and `events_by_vehicle` were keyed `(operator, time_ms)` and `(vehicle, time_ms)`. Scans come
-- in roughly in time order, but from some 160,000 operators and 110,000 vehicles a day, so every transaction's
-- inserts landed all over both indexes and dirtied most of their pages, and the cost of a scan grew with everything
-- ever stored. Keyed `(hour, operator, time_ms)`, where the hour is `time_ms / 3600000` (whole hours since the epoch,
-- UTC), new entries land in the last hours' part of each index, whose pages stay in the cache, however much history
-- lies before it. A reverse trace seeks once per hour of its range (`rows::handled_by`). The expression must be
-- written exactly so in queries for SQLite to use the index.
DROP INDEX events_by_operator;
DROP INDEX events_by_vehicle;
CREATE INDEX events_by_operator ON events (time_ms / 3600000, operator, time_ms) WHERE operator IS NOT NULL;
CREATE INDEX events_by_vehicle ON events (time_ms / 3600000, vehicle, time_ms) WHERE vehicle IS NOT NULL;
