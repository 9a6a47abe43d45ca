-- Kuaidi PostgreSQL schema, version 2: consumer complaints and the regulator's verdicts.
-- Distributed on waybill_no like parcels, co-located with them; the consumer's words may hold personal data, so the
-- description lives only in the sealed `pii` column.
CREATE TABLE complaints (
    waybill_no     text NOT NULL,
    carrier        text NOT NULL,
    complaint_id   text NOT NULL,
    filed_at       timestamptz NOT NULL,
    filed_offset_s integer NOT NULL,
    category       text NOT NULL,
    verdict        text NOT NULL,
    pii            bytea NOT NULL,
    received_at    timestamptz NOT NULL,
    PRIMARY KEY (waybill_no, carrier, complaint_id),
    FOREIGN KEY (waybill_no, carrier) REFERENCES parcels (waybill_no, carrier) ON DELETE CASCADE
);
