-- Kuaidi embedded schema, version 6: parcel states as compact binary.
-- `parcels.state` now holds a BLOB: a tag byte (1) and the state in postcard form (`kuaidi_store::derived::codec`),
-- about 310 bytes where its JSON text took about 800. Every flush and sweep rewrites states, so the smaller rows cut
-- what those writes cost. Rows written before stay JSON TEXT (the column's TEXT affinity never converts a BLOB, and
-- never a TEXT to a BLOB); they are read as they are and written in the new form the next time their parcel changes.
-- Nothing is rewritten here; the version tells an older kuaidi, which reads only JSON text, that it cannot open
-- this database.
SELECT 1;
