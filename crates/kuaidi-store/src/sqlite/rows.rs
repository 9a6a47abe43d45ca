//! SQLite rows: writing records as rows and reading rows back as records.

use std::sync::LazyLock;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use compact_str::CompactString;
use kuaidi_model::{
    Address, AdminCode, Carrier, CarrierCode, Complaint, ComplaintCategory, ComplaintId, Contents, EventId, EventKind,
    Facility, FacilityCode, FacilityKind, GeoPoint, IdType, Party, RealName, Role, ScanEvent, Signer, Verdict, Waybill,
    WaybillNo,
};
use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row};

use super::sql_error;
use crate::seal::PiiKey;
use crate::{ApiKey, AuditEntry, Counts, ErrorKind, Handler, NewApiKey, Outcome, StoreError};

fn corrupt(what: &str, value: impl std::fmt::Display) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("stored {what} `{value}` is not valid").into(),
    )
}

fn parse<T, E>(what: &str, text: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> rusqlite::Result<T> {
    parse(text).map_err(|_| corrupt(what, text))
}

fn time_from(ms: i64, offset_s: i32) -> rusqlite::Result<DateTime<FixedOffset>> {
    let offset = FixedOffset::east_opt(offset_s).ok_or_else(|| corrupt("UTC offset", offset_s))?;
    let utc = Utc.timestamp_millis_opt(ms).single().ok_or_else(|| corrupt("time", ms))?;
    Ok(utc.with_timezone(&offset))
}

fn utc_from(ms: i64) -> rusqlite::Result<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single().ok_or_else(|| corrupt("time", ms))
}

fn division(code: i64) -> rusqlite::Result<AdminCode> {
    u32::try_from(code).ok().and_then(|code| AdminCode::from_u32(code).ok()).ok_or_else(|| corrupt("division", code))
}

pub(super) fn put_carrier(conn: &Connection, carrier: &Carrier) -> Result<Outcome, StoreError> {
    let existing: Option<String> = conn
        .prepare_cached("SELECT name FROM carriers WHERE code = ?1")
        .and_then(|mut stmt| stmt.query_row([carrier.code.as_str()], |row| row.get(0)).optional())
        .map_err(|err| sql_error("reading a carrier", err))?;
    if existing.as_deref() == Some(carrier.name.as_str()) {
        return Ok(Outcome::Duplicate);
    }
    conn.prepare_cached("INSERT INTO carriers (code, name) VALUES (?1, ?2) ON CONFLICT (code) DO UPDATE SET name = ?2")
        .and_then(|mut stmt| stmt.execute(params![carrier.code.as_str(), carrier.name]))
        .map_err(|err| sql_error("writing a carrier", err))?;
    Ok(if existing.is_some() { Outcome::Updated } else { Outcome::Accepted })
}

const FACILITY_COLUMNS: &str = "code, kind, carrier, division, longitude, latitude, name";

fn facility_row(row: &Row<'_>) -> rusqlite::Result<Facility> {
    let code: String = row.get(0)?;
    let kind: String = row.get(1)?;
    let carrier: Option<String> = row.get(2)?;
    let location = match (row.get::<_, Option<f64>>(4)?, row.get::<_, Option<f64>>(5)?) {
        (Some(longitude), Some(latitude)) => Some(GeoPoint { longitude, latitude }),
        _ => None,
    };
    Ok(Facility {
        code: parse("facility code", &code, FacilityCode::parse)?,
        kind: parse("facility kind", &kind, FacilityKind::parse)?,
        carrier: carrier.map(|c| parse("carrier code", &c, CarrierCode::parse)).transpose()?,
        division: division(row.get(3)?)?,
        location,
        name: row.get(6)?,
    })
}

pub(super) fn put_facility(conn: &Connection, facility: &Facility) -> Result<Outcome, StoreError> {
    let existing = conn
        .prepare_cached(&format!("SELECT {FACILITY_COLUMNS} FROM facilities WHERE code = ?1"))
        .and_then(|mut stmt| stmt.query_row([facility.code.as_str()], facility_row).optional())
        .map_err(|err| sql_error("reading a facility", err))?;
    if existing.as_ref() == Some(facility) {
        return Ok(Outcome::Duplicate);
    }
    conn.prepare_cached(&format!(
        "INSERT OR REPLACE INTO facilities ({FACILITY_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
    ))
    .and_then(|mut stmt| {
        stmt.execute(params![
            facility.code.as_str(),
            facility.kind.as_str(),
            facility.carrier.as_ref().map(CarrierCode::as_str),
            facility.division.as_u32(),
            facility.location.map(|p| p.longitude),
            facility.location.map(|p| p.latitude),
            facility.name,
        ])
    })
    .map_err(|err| sql_error("writing a facility", err))?;
    Ok(if existing.is_some() { Outcome::Updated } else { Outcome::Accepted })
}

pub(super) fn carriers(conn: &Connection) -> Result<Vec<Carrier>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT code, name FROM carriers ORDER BY code")
        .map_err(|e| sql_error("listing carriers", e))?;
    let rows = stmt
        .query_map([], |row| {
            let code: String = row.get(0)?;
            Ok(Carrier { code: parse("carrier code", &code, CarrierCode::parse)?, name: row.get(1)? })
        })
        .and_then(Iterator::collect)
        .map_err(|err| sql_error("listing carriers", err))?;
    Ok(rows)
}

pub(super) fn facilities(conn: &Connection) -> Result<Vec<Facility>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {FACILITY_COLUMNS} FROM facilities ORDER BY code"))
        .map_err(|err| sql_error("listing facilities", err))?;
    let rows =
        stmt.query_map([], facility_row).and_then(Iterator::collect).map_err(|e| sql_error("listing facilities", e))?;
    Ok(rows)
}

const WAYBILL_COLUMNS: &str =
    "carrier, waybill_no, product, electronic, created_ms, created_offset_s, sender_division, \
     receiver_division, contents_category, contents_description, weight_grams, declared_value_fen, real_name_id_type, \
     real_name_verified, pii";

pub(super) fn put_waybill(
    conn: &Connection,
    key: &PiiKey,
    waybill: &Waybill,
    received_ms: i64,
) -> Result<Outcome, StoreError> {
    let sealed = key.seal_personal_data(waybill)?;
    let n_inserted = conn
        .prepare_cached(&format!(
            "INSERT INTO waybills ({WAYBILL_COLUMNS}, received_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16) \
             ON CONFLICT (waybill_no, carrier) DO NOTHING"
        ))
        .and_then(|mut stmt| {
            stmt.execute(params![
                waybill.carrier.as_str(),
                waybill.waybill_no.as_str(),
                waybill.product,
                waybill.electronic,
                waybill.created_at.timestamp_millis(),
                waybill.created_at.offset().local_minus_utc(),
                waybill.sender.address.division.as_u32(),
                waybill.receiver.address.division.as_u32(),
                waybill.contents.category,
                waybill.contents.description,
                waybill.contents.weight_grams,
                i64::try_from(waybill.contents.declared_value_fen).unwrap_or(i64::MAX),
                waybill.real_name.as_ref().map(|r| r.id_type.as_str()),
                waybill.real_name.as_ref().map(|r| r.verified),
                sealed,
                received_ms,
            ])
        })
        .map_err(|err| sql_error("writing a waybill", err))?;
    if n_inserted == 1 {
        return Ok(Outcome::Accepted);
    }
    // Same key: identical content is a re-send, anything else a conflict that keeps the stored waybill.
    match self::waybill(conn, key, &waybill.carrier, &waybill.waybill_no)? {
        Some(stored) if &stored == waybill => Ok(Outcome::Duplicate),
        _ => Ok(Outcome::Conflict),
    }
}

pub(super) fn waybill(
    conn: &Connection,
    key: &PiiKey,
    carrier: &CarrierCode,
    waybill_no: &WaybillNo,
) -> Result<Option<Waybill>, StoreError> {
    /// The plain columns of a waybill row; the personal data is still sealed.
    struct Plain {
        product: String,
        electronic: bool,
        created_at: DateTime<FixedOffset>,
        sender_division: AdminCode,
        receiver_division: AdminCode,
        contents: Contents,
        real_name: Option<(IdType, bool)>,
        sealed: Vec<u8>,
    }
    let row = conn
        .prepare_cached(&format!("SELECT {WAYBILL_COLUMNS} FROM waybills WHERE waybill_no = ?1 AND carrier = ?2"))
        .and_then(|mut stmt| {
            stmt.query_row([waybill_no.as_str(), carrier.as_str()], |row| {
                let id_type: Option<String> = row.get(12)?;
                let verified: Option<bool> = row.get(13)?;
                let declared: i64 = row.get(11)?;
                Ok(Plain {
                    product: row.get(2)?,
                    electronic: row.get(3)?,
                    created_at: time_from(row.get(4)?, row.get(5)?)?,
                    sender_division: division(row.get(6)?)?,
                    receiver_division: division(row.get(7)?)?,
                    contents: Contents {
                        category: row.get(8)?,
                        description: row.get(9)?,
                        weight_grams: row.get(10)?,
                        declared_value_fen: u64::try_from(declared).map_err(|_| corrupt("declared value", declared))?,
                    },
                    real_name: match (id_type, verified) {
                        (Some(id_type), Some(verified)) => Some((parse("ID type", &id_type, IdType::parse)?, verified)),
                        _ => None,
                    },
                    sealed: row.get(14)?,
                })
            })
            .optional()
        })
        .map_err(|err| sql_error("reading a waybill", err))?;
    let Some(plain) = row else { return Ok(None) };
    let pii = key.open_personal_data(&plain.sealed)?;
    Ok(Some(Waybill {
        carrier: carrier.clone(),
        waybill_no: waybill_no.clone(),
        product: plain.product,
        electronic: plain.electronic,
        sender: Party {
            name: pii.sender_name,
            phone: pii.sender_phone,
            address: Address { division: plain.sender_division, detail: pii.sender_address },
        },
        receiver: Party {
            name: pii.receiver_name,
            phone: pii.receiver_phone,
            address: Address { division: plain.receiver_division, detail: pii.receiver_address },
        },
        real_name: plain.real_name.map(|(id_type, verified)| RealName {
            id_type,
            id_number: pii.id_number.unwrap_or_default(),
            verified,
        }),
        contents: plain.contents,
        created_at: plain.created_at,
    }))
}

pub(super) fn carriers_of(conn: &Connection, waybill_no: &WaybillNo) -> Result<Vec<CarrierCode>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT carrier FROM waybills WHERE waybill_no = ?1 \
             UNION SELECT DISTINCT carrier FROM events WHERE waybill_no = ?1 ORDER BY 1",
        )
        .map_err(|err| sql_error("finding a waybill's carriers", err))?;
    let rows = stmt
        .query_map([waybill_no.as_str()], |row| {
            let code: String = row.get(0)?;
            parse("carrier code", &code, CarrierCode::parse)
        })
        .and_then(Iterator::collect)
        .map_err(|err| sql_error("finding a waybill's carriers", err))?;
    Ok(rows)
}

const EVENT_COLUMNS: &str = "carrier, event_id, waybill_no, kind, time_ms, offset_s, facility, operator, vehicle, \
     next_facility, exception_code, signer";

fn event_row(row: &Row<'_>) -> rusqlite::Result<ScanEvent> {
    // Read as borrowed text: an event's codes and handlers are held inline, so reading one allocates nothing.
    let text = |idx| -> rusqlite::Result<&str> {
        optional_text(row, idx)?.ok_or_else(|| {
            let name = row.as_ref().column_name(idx).unwrap_or_default().to_owned();
            rusqlite::Error::InvalidColumnType(idx, name, Type::Null)
        })
    };
    Ok(ScanEvent {
        carrier: parse("carrier code", text(0)?, CarrierCode::parse)?,
        event_id: parse("event id", text(1)?, EventId::parse)?,
        waybill_no: parse("waybill number", text(2)?, WaybillNo::parse)?,
        kind: parse("event kind", text(3)?, EventKind::parse)?,
        time: time_from(row.get(4)?, row.get(5)?)?,
        facility: parse("facility code", text(6)?, FacilityCode::parse)?,
        operator: optional_text(row, 7)?.map(Into::into),
        vehicle: optional_text(row, 8)?.map(Into::into),
        next_facility: optional_text(row, 9)?
            .map(|code| parse("facility code", code, FacilityCode::parse))
            .transpose()?,
        exception_code: optional_text(row, 10)?.map(Into::into),
        signer: optional_text(row, 11)?.map(|s| parse("signer", s, Signer::parse)).transpose()?,
    })
}

/// A text column, borrowed from the row; `None` for NULL.
fn optional_text<'r>(row: &'r Row<'_>, idx: usize) -> rusqlite::Result<Option<&'r str>> {
    row.get_ref(idx)?
        .as_str_or_null()
        .map_err(|err| rusqlite::Error::FromSqlConversionFailure(idx, Type::Text, Box::new(err)))
}

/// The reverse-trace postings of one transaction (migration 0010): for each hour and handler its accepted events name,
/// their row numbers in the order stored, which is ascending. [`Postings::write`] stores them, one row each, in the
/// same transaction.
#[derive(Debug, Default)]
pub(super) struct Postings {
    /// By handler (looked up without allocating): each hour and kind it was seen under, with the row numbers.
    lists: std::collections::HashMap<CompactString, Vec<HourList>, foldhash::fast::RandomState>,
}

/// An hour, a kind, and the row numbers of a handler's events in them.
type HourList = (i64, u8, Vec<i64>);

/// `handled.kind` of an operator, and of a vehicle.
const OPERATOR: u8 = 0;
const VEHICLE: u8 = 1;

impl Postings {
    /// Notes an event just stored as row `seq`.
    fn note(&mut self, event: &ScanEvent, seq: i64) {
        let hour = event.time.timestamp_millis() / HOUR_MS;
        for (kind, handler) in [(OPERATOR, &event.operator), (VEHICLE, &event.vehicle)] {
            let Some(handler) = handler else { continue };
            let lists = match self.lists.get_mut(handler.as_str()) {
                Some(lists) => lists,
                None => self.lists.entry(handler.clone()).or_default(),
            };
            match lists.iter_mut().find(|(h, k, _)| (*h, *k) == (hour, kind)) {
                Some((_, _, seqs)) => seqs.push(seq),
                None => lists.push((hour, kind, vec![seq])),
            }
        }
    }

    /// Stores the postings noted, in key order.
    pub(super) fn write(self, conn: &Connection) -> Result<(), StoreError> {
        if self.lists.is_empty() {
            return Ok(());
        }
        let failed = |err| sql_error("writing reverse-trace postings", err);
        let mut rows: Vec<(i64, u8, CompactString, Vec<i64>)> = Vec::new();
        for (handler, lists) in self.lists {
            for (hour, kind, seqs) in lists {
                rows.push((hour, kind, handler.clone(), seqs));
            }
        }
        rows.sort_unstable_by(|a, b| (a.0, a.1, &a.2).cmp(&(b.0, b.1, &b.2)));
        let mut stmt = conn
            .prepare_cached("INSERT INTO handled (hour, kind, handler, first_seq, seqs) VALUES (?1, ?2, ?3, ?4, ?5)")
            .map_err(failed)?;
        let mut bytes = Vec::new();
        for (hour, kind, handler, seqs) in rows {
            bytes.clear();
            bytes.extend(seqs.iter().flat_map(|seq| seq.to_be_bytes()));
            stmt.execute(params![hour, kind, handler.as_str(), seqs[0], bytes]).map_err(failed)?;
        }
        Ok(())
    }
}

/// Stores a scan event unless its key `(waybill_no, carrier, event_id)` is stored already, and answers accepted, a
/// duplicate (the same event again), or a conflict (another event under the same key). An accepted event's row number
/// goes into `postings`, which the caller writes before it commits.
pub(super) fn put_event(
    conn: &Connection,
    event: &ScanEvent,
    received_ms: i64,
    postings: &mut Postings,
) -> Result<Outcome, StoreError> {
    // Built once: this runs for every event stored, and formatting it each time showed in the ingest profile.
    static INSERT: LazyLock<String> = LazyLock::new(|| {
        format!(
            "INSERT INTO events ({EVENT_COLUMNS}, received_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
             ON CONFLICT (waybill_no, carrier, event_id) DO NOTHING"
        )
    });
    let n_inserted = conn
        .prepare_cached(&INSERT)
        .and_then(|mut stmt| {
            stmt.execute(params![
                event.carrier.as_str(),
                event.event_id.as_str(),
                event.waybill_no.as_str(),
                event.kind.as_str(),
                event.time.timestamp_millis(),
                event.time.offset().local_minus_utc(),
                event.facility.as_str(),
                event.operator.as_deref(),
                event.vehicle.as_deref(),
                event.next_facility.as_ref().map(FacilityCode::as_str),
                event.exception_code.as_deref(),
                event.signer.map(Signer::as_str),
                received_ms,
            ])
        })
        .map_err(|err| sql_error("writing an event", err))?;
    if n_inserted == 1 {
        postings.note(event, conn.last_insert_rowid());
        return Ok(Outcome::Accepted);
    }
    let stored = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE waybill_no = ?1 AND carrier = ?2 AND event_id = ?3"
        ))
        .and_then(|mut stmt| {
            stmt.query_row([event.waybill_no.as_str(), event.carrier.as_str(), event.event_id.as_str()], event_row)
        })
        .map_err(|err| sql_error("reading a stored event", err))?;
    Ok(if &stored == event { Outcome::Duplicate } else { Outcome::Conflict })
}

/// Whether any record of the parcel is stored: its waybill, an event or a complaint. Three index seeks, where reading
/// the parcel ([`waybill`], [`events_of`], [`complaints_of`]) also decodes the rows and opens the sealed personal
/// data.
pub(super) fn has_records(
    conn: &Connection,
    carrier: &CarrierCode,
    waybill_no: &WaybillNo,
) -> Result<bool, StoreError> {
    conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM waybills WHERE waybill_no = ?1 AND carrier = ?2) \
             OR EXISTS (SELECT 1 FROM events WHERE waybill_no = ?1 AND carrier = ?2) \
             OR EXISTS (SELECT 1 FROM complaints WHERE waybill_no = ?1 AND carrier = ?2)",
    )
    .and_then(|mut stmt| stmt.query_row([waybill_no.as_str(), carrier.as_str()], |row| row.get(0)))
    .map_err(|err| sql_error("looking for a parcel's records", err))
}

pub(super) fn events_of(
    conn: &Connection,
    carrier: &CarrierCode,
    waybill_no: &WaybillNo,
) -> Result<Vec<ScanEvent>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {EVENT_COLUMNS} FROM events WHERE waybill_no = ?1 AND carrier = ?2"))
        .map_err(|err| sql_error("reading a parcel's events", err))?;
    let mut events: Vec<ScanEvent> = stmt
        .query_map([waybill_no.as_str(), carrier.as_str()], event_row)
        .and_then(Iterator::collect)
        .map_err(|err| sql_error("reading a parcel's events", err))?;
    kuaidi_model::order_events(&mut events);
    Ok(events)
}

pub(super) fn events_after(
    conn: &Connection,
    after: Option<(&WaybillNo, &CarrierCode, &EventId)>,
    limit: usize,
) -> Result<Vec<ScanEvent>, StoreError> {
    // Every stored key is non-empty, so `('', '', '')` is before the first; the row value walks the key index.
    let (waybill_no, carrier, event_id) = after.map_or(("", "", ""), |(w, c, e)| (w.as_str(), c.as_str(), e.as_str()));
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE (waybill_no, carrier, event_id) > (?1, ?2, ?3) \
             ORDER BY waybill_no, carrier, event_id LIMIT ?4"
        ))
        .map_err(|err| sql_error("paging through events", err))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let events = stmt
        .query_map(params![waybill_no, carrier, event_id, limit], event_row)
        .and_then(Iterator::collect)
        .map_err(|err| sql_error("paging through events", err))?;
    Ok(events)
}

pub(super) fn waybills_after(
    conn: &Connection,
    key: &PiiKey,
    after: Option<(&WaybillNo, &CarrierCode)>,
    limit: usize,
) -> Result<Vec<Waybill>, StoreError> {
    let (waybill_no, carrier) = after.map_or(("", ""), |(w, c)| (w.as_str(), c.as_str()));
    let mut stmt = conn
        .prepare_cached(
            "SELECT waybill_no, carrier FROM waybills WHERE (waybill_no, carrier) > (?1, ?2) \
             ORDER BY waybill_no, carrier LIMIT ?3",
        )
        .map_err(|err| sql_error("paging through waybills", err))?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let keys: Vec<(WaybillNo, CarrierCode)> = stmt
        .query_map(params![waybill_no, carrier, limit], |row| {
            let (no, code): (String, String) = (row.get(0)?, row.get(1)?);
            Ok((parse("waybill number", &no, WaybillNo::parse)?, parse("carrier code", &code, CarrierCode::parse)?))
        })
        .and_then(Iterator::collect)
        .map_err(|err| sql_error("paging through waybills", err))?;
    // The personal data is opened row by row, as for one waybill; the page's keys come from the primary key.
    let mut waybills = Vec::with_capacity(keys.len());
    for (no, code) in keys {
        if let Some(waybill) = waybill(conn, key, &code, &no)? {
            waybills.push(waybill);
        }
    }
    Ok(waybills)
}

/// Milliseconds in an hour: an event's hour in `handled` is `time_ms / 3600000` (migration 0010, as in 0007).
const HOUR_MS: i64 = 3_600_000;

/// Events of a handler in `[from, to)`, ordered by time, then waybill number and event id; at most `limit`.
/// `handled` leads with the hour, so this seeks once per hour of the range, in time order, until `limit` is reached,
/// and reads each hour's events by row number; the hours are first narrowed to those `handled` holds any row in.
pub(super) fn handled_by(
    conn: &Connection,
    handler: &Handler,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<ScanEvent>, StoreError> {
    let (kind, id) = match handler {
        Handler::Operator(id) => (OPERATOR, id),
        Handler::Vehicle(id) => (VEHICLE, id),
    };
    let failed = |err| sql_error("reverse tracing", err);
    let (from_ms, to_ms) = (from.timestamp_millis(), to.timestamp_millis());
    let mut events = Vec::new();
    if from_ms >= to_ms || limit == 0 {
        return Ok(events);
    }
    let stored_hour = |order: &str| -> Result<Option<i64>, StoreError> {
        conn.prepare_cached(&format!("SELECT hour FROM handled ORDER BY hour {order} LIMIT 1"))
            .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)).optional())
            .map_err(failed)
    };
    let (Some(first), Some(last)) = (stored_hour("ASC")?, stored_hour("DESC")?) else {
        return Ok(events);
    };
    let mut postings = conn
        .prepare_cached("SELECT seqs FROM handled WHERE hour = ?1 AND kind = ?2 AND handler = ?3")
        .map_err(failed)?;
    let mut by_seq = conn
        .prepare_cached(&format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE seq = ?1 AND time_ms >= ?2 AND time_ms < ?3"
        ))
        .map_err(failed)?;
    let mut hour_events = Vec::new();
    for hour in (from_ms / HOUR_MS).max(first)..=((to_ms - 1) / HOUR_MS).min(last) {
        hour_events.clear();
        let lists = postings.query_map(params![hour, kind, id], |row| row.get::<_, Vec<u8>>(0)).map_err(failed)?;
        for list in lists {
            let list = list.map_err(failed)?;
            if list.len() % 8 != 0 {
                return Err(StoreError::new(
                    ErrorKind::Other,
                    format!("a reverse-trace posting of hour {hour} holds {} bytes, not 8 per event", list.len()),
                ));
            }
            for seq in list.chunks_exact(8) {
                let seq = i64::from_be_bytes(seq.try_into().unwrap_or([0; 8]));
                if let Some(event) =
                    by_seq.query_row(params![seq, from_ms, to_ms], event_row).optional().map_err(failed)?
                {
                    hour_events.push(event);
                }
            }
        }
        hour_events.sort_by(|a: &ScanEvent, b: &ScanEvent| {
            (a.time.timestamp_millis(), &a.waybill_no, &a.event_id).cmp(&(
                b.time.timestamp_millis(),
                &b.waybill_no,
                &b.event_id,
            ))
        });
        let left = limit - events.len();
        events.extend(hour_events.drain(..).take(left));
        if events.len() >= limit {
            break;
        }
    }
    Ok(events)
}

pub(super) fn create_key(conn: &Connection, key: &NewApiKey) -> Result<(), StoreError> {
    let (carrier, jurisdiction) = match &key.role {
        Role::Admin => (None, None),
        Role::Carrier { carrier } => (Some(carrier.to_string()), None),
        Role::Regulator { jurisdiction } => {
            (None, Some(jurisdiction.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")))
        }
    };
    conn.execute(
        "INSERT INTO api_keys (id, hash, role, carrier, jurisdiction, label, created_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![key.id, key.hash.as_slice(), key.role.name(), carrier, jurisdiction, key.label, key.created_at.timestamp_millis()],
    )
    .map_err(|err| sql_error("creating a key", err))?;
    Ok(())
}

const KEY_COLUMNS: &str = "id, role, carrier, jurisdiction, label, created_ms, revoked_ms";

fn key_row(row: &Row<'_>) -> rusqlite::Result<ApiKey> {
    let role: String = row.get(1)?;
    let carrier: Option<String> = row.get(2)?;
    let jurisdiction: Option<String> = row.get(3)?;
    let codes: Vec<String> =
        jurisdiction.as_deref().map(|j| j.split(',').map(str::to_owned).collect()).unwrap_or_default();
    let revoked_ms: Option<i64> = row.get(6)?;
    Ok(ApiKey {
        id: row.get(0)?,
        role: Role::from_parts(&role, carrier.as_deref(), &codes).map_err(|_| corrupt("role", &role))?,
        label: row.get(4)?,
        created_at: utc_from(row.get(5)?)?,
        revoked_at: revoked_ms.map(utc_from).transpose()?,
    })
}

pub(super) fn key_by_hash(conn: &Connection, hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
    conn.prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys WHERE hash = ?1 AND revoked_ms IS NULL"))
        .and_then(|mut stmt| stmt.query_row([hash.as_slice()], key_row).optional())
        .map_err(|err| sql_error("looking up a key", err))
}

pub(super) fn keys(conn: &Connection) -> Result<Vec<ApiKey>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_ms, id"))
        .map_err(|err| sql_error("listing keys", err))?;
    let keys = stmt.query_map([], key_row).and_then(Iterator::collect).map_err(|err| sql_error("listing keys", err))?;
    Ok(keys)
}

pub(super) fn audit_log(conn: &Connection, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
    let mut stmt = conn
        .prepare_cached("SELECT at_ms, key_id, action, subject, detail FROM audit_log ORDER BY seq DESC LIMIT ?1")
        .map_err(|err| sql_error("reading the audit log", err))?;
    let entries = stmt
        .query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |row| {
            Ok(AuditEntry {
                at: utc_from(row.get(0)?)?,
                key_id: row.get(1)?,
                action: row.get(2)?,
                subject: row.get(3)?,
                detail: row.get(4)?,
            })
        })
        .and_then(Iterator::collect)
        .map_err(|err| sql_error("reading the audit log", err))?;
    Ok(entries)
}

pub(super) fn counts(conn: &Connection) -> Result<Counts, StoreError> {
    let count = |table: &str| -> Result<u64, StoreError> {
        // MAX(rowid) would be faster on events but is wrong after deletes; COUNT(*) on the smallest index is exact.
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |row| row.get::<_, i64>(0))
            .map(|n| n.unsigned_abs())
            .map_err(|err| sql_error("counting records", err))
    };
    Ok(Counts {
        carriers: count("carriers")?,
        facilities: count("facilities")?,
        waybills: count("waybills")?,
        events: count("events")?,
    })
}

/// Stores a complaint. A re-send with the same id and a new verdict is an update (the regulator ruled); any other
/// change is a conflict that keeps the stored complaint.
pub(super) fn put_complaint(
    conn: &Connection,
    key: &PiiKey,
    complaint: &Complaint,
    received_ms: i64,
) -> Result<Outcome, StoreError> {
    let sealed = key.seal_complaint_description(&complaint.description)?;
    let n_inserted = conn
        .prepare_cached(
            "INSERT INTO complaints (waybill_no, carrier, complaint_id, filed_ms, filed_offset_s, category, verdict, \
             pii, received_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
             ON CONFLICT (waybill_no, carrier, complaint_id) DO NOTHING",
        )
        .and_then(|mut stmt| {
            stmt.execute(params![
                complaint.waybill_no.as_str(),
                complaint.carrier.as_str(),
                complaint.id.as_str(),
                complaint.filed_at.timestamp_millis(),
                complaint.filed_at.offset().local_minus_utc(),
                complaint.category.as_str(),
                complaint.verdict.as_str(),
                sealed,
                received_ms,
            ])
        })
        .map_err(|err| sql_error("writing a complaint", err))?;
    if n_inserted == 1 {
        return Ok(Outcome::Accepted);
    }
    let stored = complaints_of(conn, key, &complaint.carrier, &complaint.waybill_no)?
        .into_iter()
        .find(|stored| stored.id == complaint.id);
    let Some(stored) = stored else {
        return Err(StoreError::new(ErrorKind::Other, "a complaint vanished while it was being written"));
    };
    if &stored == complaint {
        return Ok(Outcome::Duplicate);
    }
    if (Complaint { verdict: complaint.verdict, ..stored }) != *complaint {
        return Ok(Outcome::Conflict);
    }
    conn.prepare_cached(
        "UPDATE complaints SET verdict = ?4, received_ms = ?5 WHERE waybill_no = ?1 AND carrier = ?2 AND complaint_id = ?3",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            complaint.waybill_no.as_str(),
            complaint.carrier.as_str(),
            complaint.id.as_str(),
            complaint.verdict.as_str(),
            received_ms,
        ])
    })
    .map_err(|err| sql_error("recording a verdict", err))?;
    Ok(Outcome::Updated)
}

pub(super) fn complaints_of(
    conn: &Connection,
    key: &PiiKey,
    carrier: &CarrierCode,
    waybill_no: &WaybillNo,
) -> Result<Vec<Complaint>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT complaint_id, filed_ms, filed_offset_s, category, verdict, pii FROM complaints \
             WHERE waybill_no = ?1 AND carrier = ?2 ORDER BY filed_ms, complaint_id",
        )
        .map_err(|err| sql_error("reading a parcel's complaints", err))?;
    let rows: Vec<(Complaint, Vec<u8>)> = stmt
        .query_map([waybill_no.as_str(), carrier.as_str()], |row| {
            let text = |idx| -> rusqlite::Result<String> { row.get(idx) };
            let complaint = Complaint {
                id: parse("complaint id", &text(0)?, ComplaintId::parse)?,
                carrier: carrier.clone(),
                waybill_no: waybill_no.clone(),
                filed_at: time_from(row.get(1)?, row.get(2)?)?,
                category: parse("complaint category", &text(3)?, ComplaintCategory::parse)?,
                description: String::new(),
                verdict: parse("verdict", &text(4)?, Verdict::parse)?,
            };
            Ok((complaint, row.get(5)?))
        })
        .and_then(Iterator::collect)
        .map_err(|err| sql_error("reading a parcel's complaints", err))?;
    rows.into_iter()
        .map(|(complaint, sealed)| Ok(Complaint { description: key.open_complaint_description(&sealed)?, ..complaint }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One event row, as `SELECT {EVENT_COLUMNS}` gives it, with the event id and operator as given.
    fn read(event_id: &str, operator: &str) -> rusqlite::Result<ScanEvent> {
        let conn = Connection::open_in_memory().unwrap();
        let sql = format!(
            "SELECT 'yto' AS carrier, {event_id} AS event_id, 'YT0000000001' AS waybill_no, 'accept' AS kind, 0 AS time_ms, \
             28800 AS offset_s, 'YTO-SZ-01' AS facility, {operator} AS operator, NULL AS vehicle, \
             NULL AS next_facility, NULL AS exception_code, NULL AS signer"
        );
        conn.query_row(&sql, [], event_row)
    }

    #[test]
    fn an_event_row_reads_its_text_borrowed() {
        let event = read("'YT0000000001-1'", "'YTO-SZ-01-C01'").unwrap();
        assert_eq!(event.event_id.as_str(), "YT0000000001-1");
        assert_eq!(event.operator.as_deref(), Some("YTO-SZ-01-C01"));
        assert_eq!(event.vehicle, None);
        assert_eq!(event.time.to_rfc3339(), "1970-01-01T08:00:00+08:00");
    }

    #[test]
    fn a_corrupt_event_row_names_the_column() {
        match read("NULL", "NULL") {
            Err(rusqlite::Error::InvalidColumnType(1, name, Type::Null)) => assert_eq!(name, "event_id"),
            other => panic!("expected a NULL event_id to be refused, got {other:?}"),
        }
        match read("'YT0000000001-1'", "42") {
            Err(rusqlite::Error::FromSqlConversionFailure(7, Type::Text, _)) => {}
            other => panic!("expected a number as operator to be refused, got {other:?}"),
        }
    }
}
