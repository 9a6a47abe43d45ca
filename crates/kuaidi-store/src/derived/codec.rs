//! How a parcel's derived state is stored beside it, by both backends: `parcels.state` is a SQLite BLOB (schema
//! version 6) and a PostgreSQL `bytea` (schema version 5).
//!
//! Every flush or sweep that changes a parcel rewrites its row, so the state's size is most of the row and of the
//! log its rewrites cost. A state is written as one tag byte, [`POSTCARD`], then the state in postcard's compact
//! binary form (varints, length-prefixed strings, no field names): about 310 bytes where its JSON took about 800.
//! Rows written before (SQLite: TEXT, PostgreSQL: converted by its migration 0005) hold JSON text; they start with
//! `{` and are still read, so a database need not be rewritten at once (each such row is written in the new form
//! the next time its parcel's state is written).

use crate::derived::ParcelState;
use crate::{ErrorKind, StoreError};

/// The tag of a state in postcard form. A JSON state starts with `{` (0x7b), so the two never collide.
///
/// **Invariant**: postcard writes no field names, so the bytes under a tag follow `ParcelState`'s fields exactly. A
/// change to those fields (one added, removed or reordered, anywhere in the state) needs a new tag and a reader for
/// the old one; `the_layout_under_tag_1_is_pinned` fails until that is done.
pub const POSTCARD: u8 = 1;

/// A state as the bytes `parcels.state` holds.
pub fn encode(state: &ParcelState) -> Result<Vec<u8>, StoreError> {
    let mut bytes = Vec::with_capacity(384);
    encode_into(state, &mut bytes)?;
    Ok(bytes)
}

/// Replaces the contents of `bytes` with the state's encoding, reusing its allocation.
pub fn encode_into(state: &ParcelState, bytes: &mut Vec<u8>) -> Result<(), StoreError> {
    bytes.clear();
    bytes.push(POSTCARD);
    let taken = std::mem::take(bytes);
    *bytes = postcard::to_extend(state, taken)
        .map_err(|err| StoreError::with_source(ErrorKind::Other, "encoding a parcel's state", err))?;
    Ok(())
}

/// Reads a state written by [`encode`], or the JSON text of a row written before.
pub fn decode(bytes: &[u8]) -> Result<ParcelState, StoreError> {
    match bytes.first() {
        Some(&POSTCARD) => {
            let (state, rest) = postcard::take_from_bytes::<ParcelState>(&bytes[1..]).map_err(|err| {
                StoreError::with_source(ErrorKind::Other, "a stored parcel state (postcard) does not parse", err)
            })?;
            if !rest.is_empty() {
                return Err(StoreError::new(
                    ErrorKind::Other,
                    format!("a stored parcel state (postcard) has {} bytes after its end", rest.len()),
                ));
            }
            Ok(state)
        }
        Some(b'{') => serde_json::from_slice(bytes).map_err(|err| {
            StoreError::with_source(ErrorKind::Other, "a stored parcel state (JSON) does not parse", err)
        }),
        Some(tag) => Err(StoreError::new(
            ErrorKind::Other,
            format!("a stored parcel state starts with the byte `{tag:#04x}`, which is neither postcard nor JSON"),
        )),
        None => Err(StoreError::new(ErrorKind::Other, "a stored parcel state is empty")),
    }
}

#[cfg(test)]
mod tests {
    use super::{decode, encode, POSTCARD};
    use crate::derived::{LastEvent, ParcelState};

    /// A state as a store wrote it in JSON (taken from a PostgreSQL benchmark database before its migration 0005).
    const JSON_STATE: &str = r#"{"summary":{"carrier":"ems","waybill_no":"EM6810000000001","accepted_at":"2026-11-22T00:05:54+08:00","delivered_at":"2026-11-22T10:04:34+08:00","last_scan_at":"2026-11-22T10:04:34+08:00","origin_city":"320200","destination_city":"320500","route":["EMS-320206-OUT","EMS-320200-SC","EMS-320500-SC","EMS-320506-OUT"],"transit_hops":2,"outcome":"delivered","lost_by_silence":false,"damaged":false,"locker_delivery":false,"electronic_waybill":true,"time_limit":"delta_key","deadline":"2026-11-22T12:05:54+08:00","delivery_seconds":35920,"delayed":false,"complaints":[],"valid_complaints":0,"open":false,"silent_lost_at":null},"coverage":{"day":739942,"carrier":"ems","outlet":"EMS-320206-OUT","courier":"EMS-320206-OUT-C01","city":320200,"counts":[1,1,0,0,1,0,0,1,0,0]},"alert_keys":[],"check_at":null}"#;

    /// An open parcel with alerts, a complaint, no coverage row and a moment to look again.
    const OPEN_STATE: &str = r#"{"summary":{"carrier":"yto","waybill_no":"YT0000000001","accepted_at":"2026-11-21T09:00:00+08:00","delivered_at":null,"last_scan_at":"2026-11-21T18:30:00+08:00","origin_city":"310100","destination_city":null,"route":["YTO-310101-OUT"],"transit_hops":0,"outcome":"in_transit","lost_by_silence":false,"damaged":false,"locker_delivery":false,"electronic_waybill":null,"time_limit":null,"deadline":null,"delivery_seconds":null,"delayed":null,"complaints":[{"id":"c1","category":"delay","verdict":"pending"}],"valid_complaints":0,"open":true,"silent_lost_at":"2026-11-28T18:30:00+08:00"},"coverage":null,"alert_keys":["stuck:arrive:YTO-310101-OUT","no_security_scan"],"check_at":1763800000000}"#;

    fn parsed(json: &str) -> ParcelState {
        serde_json::from_str(json).expect("the test state is valid JSON")
    }

    #[test]
    fn a_state_round_trips_in_a_third_of_its_json() {
        for json in [JSON_STATE, OPEN_STATE] {
            let state = parsed(json);
            let bytes = encode(&state).unwrap();
            assert_eq!(bytes[0], POSTCARD);
            assert_eq!(decode(&bytes).unwrap(), state);
            assert!(bytes.len() * 2 < json.len(), "{} bytes against {} of JSON", bytes.len(), json.len());
        }
    }

    #[test]
    fn a_row_written_in_json_is_still_read() {
        assert_eq!(decode(JSON_STATE.as_bytes()).unwrap(), parsed(JSON_STATE));
    }

    /// The bytes of a state under tag 1, byte for byte: a change to `ParcelState`'s fields fails here first.
    #[test]
    fn the_layout_under_tag_1_is_pinned() {
        let mut state = parsed(OPEN_STATE);
        state.last_event = Some(LastEvent { id: "E1".into(), kind: "arrive".into(), at_ms: 1_763_721_000_000 });
        let hex: String = encode(&state).unwrap().iter().map(|byte| format!("{byte:02x}")).collect();
        insta::assert_snapshot!(hex);
    }

    #[test]
    fn bad_bytes_are_named() {
        let check = |bytes: &[u8], expected: &str| {
            let err = decode(bytes).unwrap_err().to_string();
            assert!(err.contains(expected), "`{err}` should contain `{expected}`");
        };
        let good = encode(&parsed(JSON_STATE)).unwrap();
        check(&good[..good.len() / 2], "(postcard) does not parse");
        let mut longer = good.clone();
        longer.extend_from_slice(&[0, 0]);
        check(&longer, "has 2 bytes after its end");
        check(b"{\"summary\":", "(JSON) does not parse");
        check(&[7, 1, 2], "starts with the byte `0x07`");
        check(&[], "is empty");
    }
}
