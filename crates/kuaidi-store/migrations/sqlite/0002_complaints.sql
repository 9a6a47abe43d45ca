-- Kuaidi embedded schema, version 2: consumer complaints and the regulator's verdicts.
-- The consumer's words may hold personal data, so the description lives only in the sealed `pii` blob.
CREATE TABLE complaints (
    waybill_no    TEXT NOT NULL,
    carrier       TEXT NOT NULL,
    complaint_id  TEXT NOT NULL,
    filed_ms      INTEGER NOT NULL,
    filed_offset_s INTEGER NOT NULL,
    category      TEXT NOT NULL,
    verdict       TEXT NOT NULL,
    pii           BLOB NOT NULL,
    received_ms   INTEGER NOT NULL,
    PRIMARY KEY (waybill_no, carrier, complaint_id)
) WITHOUT ROWID;
