-- Kuaidi PostgreSQL schema, version 5: parcel states as compact binary.
-- Every batch that changes a parcel rewrites its row, and the state (about 800 bytes of JSON) was most of it. States
-- are now written as a tag byte and postcard's binary form (about 310 bytes, see `src/state.rs`). The JSON text of
-- rows written before becomes the same bytes, which the store still reads (they start with `{`); each such row is
-- rewritten in the new form the next time its parcel changes.
ALTER TABLE parcels ALTER COLUMN state TYPE bytea USING convert_to(state, 'UTF8');
