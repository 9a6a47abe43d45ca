//! Reading rows back as records, and the small writes (keys, audit).
//!
//! Every read of events names the parcel's time range from its `parcels` row, so PostgreSQL visits only the day
//! partitions that can hold its events.

use chrono::{DateTime, FixedOffset, Utc};
use kuaidi_model::{
    Address, AdminCode, Carrier, CarrierCode, Complaint, ComplaintCategory, ComplaintId, Contents, EventId, EventKind,
    Facility, FacilityCode, FacilityKind, GeoPoint, IdType, Party, RealName, Role, ScanEvent, Signer, Verdict, Waybill,
    WaybillNo,
};
use kuaidi_store::{ApiKey, AuditEntry, Counts, ErrorKind, Handler, NewApiKey, PiiKey, StoreError};
use postgres::{GenericClient, Row};

use crate::conn::{pg_error, Conn};

fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::new(ErrorKind::Other, format!("stored {what} `{value}` is not valid"))
}

pub(crate) fn parse<T, E>(what: &str, text: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<T, StoreError> {
    parse(text).map_err(|_| corrupt(what, text))
}

pub(crate) fn local_time(time: DateTime<Utc>, offset_s: i32) -> Result<DateTime<FixedOffset>, StoreError> {
    let offset = FixedOffset::east_opt(offset_s).ok_or_else(|| corrupt("UTC offset", offset_s))?;
    Ok(time.with_timezone(&offset))
}

pub(crate) fn division(code: i32) -> Result<AdminCode, StoreError> {
    u32::try_from(code).ok().and_then(|code| AdminCode::from_u32(code).ok()).ok_or_else(|| corrupt("division", code))
}

pub(crate) fn carriers(conn: &mut Conn) -> Result<Vec<Carrier>, StoreError> {
    let rows = conn
        .client
        .query("SELECT code, name FROM carriers ORDER BY code", &[])
        .map_err(|e| pg_error("listing carriers", e))?;
    rows.iter()
        .map(|row| Ok(Carrier { code: parse("carrier code", row.get(0), CarrierCode::parse)?, name: row.get(1) }))
        .collect()
}

pub(crate) const FACILITY_COLUMNS: &str = "code, kind, carrier, division, longitude, latitude, name";

pub(crate) fn facility_row(row: &Row) -> Result<Facility, StoreError> {
    let carrier: Option<&str> = row.get(2);
    let location = match (row.get::<_, Option<f64>>(4), row.get::<_, Option<f64>>(5)) {
        (Some(longitude), Some(latitude)) => Some(GeoPoint { longitude, latitude }),
        _ => None,
    };
    Ok(Facility {
        code: parse("facility code", row.get(0), FacilityCode::parse)?,
        kind: parse("facility kind", row.get(1), FacilityKind::parse)?,
        carrier: carrier.map(|c| parse("carrier code", c, CarrierCode::parse)).transpose()?,
        division: division(row.get(3))?,
        location,
        name: row.get(6),
    })
}

pub(crate) fn facilities(conn: &mut Conn) -> Result<Vec<Facility>, StoreError> {
    let rows = conn
        .client
        .query(&format!("SELECT {FACILITY_COLUMNS} FROM facilities ORDER BY code"), &[])
        .map_err(|err| pg_error("listing facilities", err))?;
    rows.iter().map(facility_row).collect()
}

const WAYBILL_SELECT: &str = "SELECT product, electronic, created_at, created_offset_s, sender_division, \
     receiver_division, contents_category, contents_description, weight_grams, declared_value_fen, real_name_id_type, \
     real_name_verified, pii FROM waybills WHERE waybill_no = $1 AND carrier = $2";

/// A waybill row back as a waybill, its personal data opened with `key`.
pub(crate) fn waybill_row(
    row: &Row,
    key: &PiiKey,
    carrier: &CarrierCode,
    waybill_no: &WaybillNo,
) -> Result<Waybill, StoreError> {
    let pii = key.open_personal_data(row.get(12))?;
    let declared: i64 = row.get(9);
    let id_type: Option<&str> = row.get(10);
    let verified: Option<bool> = row.get(11);
    let real_name = match (id_type, verified) {
        (Some(id_type), Some(verified)) => Some(RealName {
            id_type: parse("ID type", id_type, IdType::parse)?,
            id_number: pii.id_number.unwrap_or_default(),
            verified,
        }),
        _ => None,
    };
    Ok(Waybill {
        carrier: carrier.clone(),
        waybill_no: waybill_no.clone(),
        product: row.get(0),
        electronic: row.get(1),
        created_at: local_time(row.get(2), row.get(3))?,
        sender: Party {
            name: pii.sender_name,
            phone: pii.sender_phone,
            address: Address { division: division(row.get(4))?, detail: pii.sender_address },
        },
        receiver: Party {
            name: pii.receiver_name,
            phone: pii.receiver_phone,
            address: Address { division: division(row.get(5))?, detail: pii.receiver_address },
        },
        real_name,
        contents: Contents {
            category: row.get(6),
            description: row.get(7),
            weight_grams: u32::try_from(row.get::<_, i64>(8)).map_err(|_| corrupt("weight", row.get::<_, i64>(8)))?,
            declared_value_fen: u64::try_from(declared).map_err(|_| corrupt("declared value", declared))?,
        },
    })
}

pub(crate) fn waybill(
    conn: &mut Conn,
    key: &PiiKey,
    carrier: &CarrierCode,
    waybill_no: &WaybillNo,
) -> Result<Option<Waybill>, StoreError> {
    let statement = conn.statement(WAYBILL_SELECT)?;
    let row = conn
        .client
        .query_opt(&statement, &[&waybill_no.as_str(), &carrier.as_str()])
        .map_err(|err| pg_error("reading a waybill", err))?;
    row.map(|row| waybill_row(&row, key, carrier, waybill_no)).transpose()
}

pub(crate) fn carriers_of(conn: &mut Conn, waybill_no: &WaybillNo) -> Result<Vec<CarrierCode>, StoreError> {
    let statement = conn.statement("SELECT carrier FROM parcels WHERE waybill_no = $1 ORDER BY carrier")?;
    let rows = conn
        .client
        .query(&statement, &[&waybill_no.as_str()])
        .map_err(|err| pg_error("finding a waybill's carriers", err))?;
    rows.iter().map(|row| parse("carrier code", row.get(0), CarrierCode::parse)).collect()
}

/// An event from the row's columns `first..first + 12`: carrier, event_id, waybill_no, kind, time, offset_s,
/// facility, operator, vehicle, next_facility, exception_code, signer.
pub(crate) fn event_row(row: &Row, first: usize) -> Result<ScanEvent, StoreError> {
    let text = |idx: usize| -> &str { row.get(first + idx) };
    let next_facility: Option<&str> = row.get(first + 9);
    let signer: Option<&str> = row.get(first + 11);
    Ok(ScanEvent {
        carrier: parse("carrier code", text(0), CarrierCode::parse)?,
        event_id: parse("event id", text(1), EventId::parse)?,
        waybill_no: parse("waybill number", text(2), WaybillNo::parse)?,
        kind: parse("event kind", text(3), EventKind::parse)?,
        time: local_time(row.get(first + 4), row.get(first + 5))?,
        facility: parse("facility code", text(6), FacilityCode::parse)?,
        operator: row.get::<_, Option<&str>>(first + 7).map(Into::into),
        vehicle: row.get::<_, Option<&str>>(first + 8).map(Into::into),
        next_facility: next_facility.map(|code| parse("facility code", code, FacilityCode::parse)).transpose()?,
        exception_code: row.get::<_, Option<&str>>(first + 10).map(Into::into),
        signer: signer.map(|s| parse("signer", s, Signer::parse)).transpose()?,
    })
}

pub(crate) fn events_of(
    conn: &mut Conn,
    carrier: &CarrierCode,
    waybill_no: &WaybillNo,
) -> Result<Vec<ScanEvent>, StoreError> {
    // The time range first, so the events query is pruned to the partitions of that range when it starts.
    let range = conn.statement("SELECT first_event, last_event FROM parcels WHERE waybill_no = $1 AND carrier = $2")?;
    let Some(row) = conn
        .client
        .query_opt(&range, &[&waybill_no.as_str(), &carrier.as_str()])
        .map_err(|err| pg_error("reading a parcel", err))?
    else {
        return Ok(Vec::new());
    };
    let (Some(first), Some(last)) = (row.get::<_, Option<DateTime<Utc>>>(0), row.get::<_, Option<DateTime<Utc>>>(1))
    else {
        return Ok(Vec::new());
    };
    let statement = conn.statement(
        "SELECT carrier, event_id, waybill_no, kind, time, offset_s, facility, operator, vehicle, next_facility, \
         exception_code, signer FROM events \
         WHERE waybill_no = $1 AND carrier = $2 AND time >= $3 AND time <= $4",
    )?;
    let rows = conn
        .client
        .query(&statement, &[&waybill_no.as_str(), &carrier.as_str(), &first, &last])
        .map_err(|err| pg_error("reading a parcel's events", err))?;
    let mut events = rows.iter().map(|row| event_row(row, 0)).collect::<Result<Vec<_>, _>>()?;
    kuaidi_model::order_events(&mut events);
    Ok(events)
}

pub(crate) fn handled_by(
    conn: &mut Conn,
    handler: &Handler,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> Result<Vec<ScanEvent>, StoreError> {
    let (sql, id) = match handler {
        Handler::Operator(id) => (
            "SELECT carrier, event_id, waybill_no, kind, time, offset_s, facility, operator, vehicle, next_facility, \
             exception_code, signer FROM events WHERE operator = $1 AND time >= $2 AND time < $3 \
             ORDER BY time, waybill_no, event_id LIMIT $4",
            id,
        ),
        Handler::Vehicle(id) => (
            "SELECT carrier, event_id, waybill_no, kind, time, offset_s, facility, operator, vehicle, next_facility, \
             exception_code, signer FROM events WHERE vehicle = $1 AND time >= $2 AND time < $3 \
             ORDER BY time, waybill_no, event_id LIMIT $4",
            id,
        ),
    };
    let statement = conn.statement(sql)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows =
        conn.client.query(&statement, &[id, &from, &to, &limit]).map_err(|err| pg_error("reverse tracing", err))?;
    rows.iter().map(|row| event_row(row, 0)).collect()
}

pub(crate) fn create_key(conn: &mut Conn, key: &NewApiKey) -> Result<(), StoreError> {
    let (carrier, jurisdiction) = match &key.role {
        Role::Admin => (None, None),
        Role::Carrier { carrier } => (Some(carrier.to_string()), None),
        Role::Regulator { jurisdiction } => {
            (None, Some(jurisdiction.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")))
        }
    };
    conn.client
        .execute(
            "INSERT INTO api_keys (id, hash, role, carrier, jurisdiction, label, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[&key.id, &key.hash.as_slice(), &key.role.name(), &carrier, &jurisdiction, &key.label, &key.created_at],
        )
        .map_err(|err| pg_error("creating a key", err))?;
    Ok(())
}

const KEY_COLUMNS: &str = "id, role, carrier, jurisdiction, label, created_at, revoked_at";

fn key_row(row: &Row) -> Result<ApiKey, StoreError> {
    let role: &str = row.get(1);
    let carrier: Option<&str> = row.get(2);
    let jurisdiction: Option<&str> = row.get(3);
    let codes: Vec<String> = jurisdiction.map(|j| j.split(',').map(str::to_owned).collect()).unwrap_or_default();
    Ok(ApiKey {
        id: row.get(0),
        role: Role::from_parts(role, carrier, &codes).map_err(|_| corrupt("role", role))?,
        label: row.get(4),
        created_at: row.get(5),
        revoked_at: row.get(6),
    })
}

pub(crate) fn key_by_hash(conn: &mut Conn, hash: &[u8; 32]) -> Result<Option<ApiKey>, StoreError> {
    let statement = conn.statement(
        "SELECT id, role, carrier, jurisdiction, label, created_at, revoked_at FROM api_keys \
         WHERE hash = $1 AND revoked_at IS NULL",
    )?;
    let row =
        conn.client.query_opt(&statement, &[&hash.as_slice()]).map_err(|err| pg_error("looking up a key", err))?;
    row.as_ref().map(key_row).transpose()
}

pub(crate) fn keys(conn: &mut Conn) -> Result<Vec<ApiKey>, StoreError> {
    let rows = conn
        .client
        .query(&format!("SELECT {KEY_COLUMNS} FROM api_keys ORDER BY created_at, id"), &[])
        .map_err(|err| pg_error("listing keys", err))?;
    rows.iter().map(key_row).collect()
}

pub(crate) fn revoke_key(conn: &mut Conn, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    let n_changed = conn
        .client
        .execute("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL", &[&id, &at])
        .map_err(|err| pg_error("revoking a key", err))?;
    if n_changed == 0 {
        let exists = conn
            .client
            .query_opt("SELECT 1 FROM api_keys WHERE id = $1", &[&id])
            .map_err(|err| pg_error("looking up a key", err))?
            .is_some();
        if !exists {
            return Err(StoreError::new(ErrorKind::NotFound, format!("no API key has the id `{id}`")));
        }
    }
    Ok(())
}

pub(crate) fn audit(conn: &mut Conn, entry: &AuditEntry) -> Result<(), StoreError> {
    let statement =
        conn.statement("INSERT INTO audit_log (at, key_id, action, subject, detail) VALUES ($1, $2, $3, $4, $5)")?;
    conn.client
        .execute(&statement, &[&entry.at, &entry.key_id, &entry.action, &entry.subject, &entry.detail])
        .map_err(|err| pg_error("writing the audit log", err))?;
    Ok(())
}

pub(crate) fn audit_log(conn: &mut Conn, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = conn
        .client
        .query(
            "SELECT at, key_id, action, subject, detail FROM audit_log ORDER BY at DESC, recorded_at DESC LIMIT $1",
            &[&limit],
        )
        .map_err(|err| pg_error("reading the audit log", err))?;
    Ok(rows
        .iter()
        .map(|row| AuditEntry {
            at: row.get(0),
            key_id: row.get(1),
            action: row.get(2),
            subject: row.get(3),
            detail: row.get(4),
        })
        .collect())
}

pub(crate) fn counts(conn: &mut Conn) -> Result<Counts, StoreError> {
    let row = conn
        .client
        .query_one(
            "SELECT (SELECT count(*) FROM carriers), (SELECT count(*) FROM facilities), \
             (SELECT count(*) FROM waybills), (SELECT count(*) FROM events)",
            &[],
        )
        .map_err(|err| pg_error("counting records", err))?;
    let count = |idx: usize| row.get::<_, i64>(idx).unsigned_abs();
    Ok(Counts { carriers: count(0), facilities: count(1), waybills: count(2), events: count(3) })
}

/// The columns [`complaint_row`] reads, after the waybill number and carrier.
pub(crate) const COMPLAINT_COLUMNS: &str =
    "waybill_no, carrier, complaint_id, filed_at, filed_offset_s, category, verdict, pii";

/// A complaint from a row of [`COMPLAINT_COLUMNS`], its description opened with `key`.
pub(crate) fn complaint_row(row: &Row, key: &PiiKey) -> Result<Complaint, StoreError> {
    Ok(Complaint {
        waybill_no: parse("waybill number", row.get(0), WaybillNo::parse)?,
        carrier: parse("carrier code", row.get(1), CarrierCode::parse)?,
        id: parse("complaint id", row.get(2), ComplaintId::parse)?,
        filed_at: local_time(row.get(3), row.get(4))?,
        category: parse("complaint category", row.get(5), ComplaintCategory::parse)?,
        verdict: parse("verdict", row.get(6), Verdict::parse)?,
        description: key.open_complaint_description(row.get(7))?,
    })
}

/// A parcel's complaints, in filing order.
pub(crate) fn complaints_of(
    client: &mut impl GenericClient,
    key: &PiiKey,
    carrier: &CarrierCode,
    waybill_no: &WaybillNo,
) -> Result<Vec<Complaint>, StoreError> {
    let rows = client
        .query(
            &format!(
                "SELECT {COMPLAINT_COLUMNS} FROM complaints WHERE waybill_no = $1 AND carrier = $2 \
                 ORDER BY filed_at, complaint_id COLLATE \"C\""
            ),
            &[&waybill_no.as_str(), &carrier.as_str()],
        )
        .map_err(|err| pg_error("reading a parcel's complaints", err))?;
    rows.iter().map(|row| complaint_row(row, key)).collect()
}

/// Events in key order `(waybill_no, carrier, event_id)`, byte-wise as the embedded store orders them, strictly after
/// `after`. Each page scans the events table in that order (an export is a bulk read, not a hot path).
pub(crate) fn events_after(
    conn: &mut Conn,
    after: Option<(&WaybillNo, &CarrierCode, &kuaidi_model::EventId)>,
    limit: usize,
) -> Result<Vec<ScanEvent>, StoreError> {
    let (waybill_no, carrier, event_id) = after.map_or(("", "", ""), |(w, c, e)| (w.as_str(), c.as_str(), e.as_str()));
    let statement = conn.statement(
        "SELECT carrier, event_id, waybill_no, kind, time, offset_s, facility, operator, vehicle, next_facility, \
         exception_code, signer FROM events \
         WHERE (waybill_no COLLATE \"C\", carrier COLLATE \"C\", event_id COLLATE \"C\") > ($1, $2, $3) \
         ORDER BY waybill_no COLLATE \"C\", carrier COLLATE \"C\", event_id COLLATE \"C\" LIMIT $4",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = conn
        .client
        .query(&statement, &[&waybill_no, &carrier, &event_id, &limit])
        .map_err(|err| pg_error("paging through events", err))?;
    rows.iter().map(|row| event_row(row, 0)).collect()
}

/// Waybills in key order `(waybill_no, carrier)`, byte-wise, strictly after `after`, personal data opened.
pub(crate) fn waybills_after(
    conn: &mut Conn,
    key: &PiiKey,
    after: Option<(&WaybillNo, &CarrierCode)>,
    limit: usize,
) -> Result<Vec<Waybill>, StoreError> {
    let (waybill_no, carrier) = after.map_or(("", ""), |(w, c)| (w.as_str(), c.as_str()));
    let statement = conn.statement(
        "SELECT waybill_no, carrier FROM waybills \
         WHERE (waybill_no COLLATE \"C\", carrier COLLATE \"C\") > ($1, $2) \
         ORDER BY waybill_no COLLATE \"C\", carrier COLLATE \"C\" LIMIT $3",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let keys = conn
        .client
        .query(&statement, &[&waybill_no, &carrier, &limit])
        .map_err(|err| pg_error("paging through waybills", err))?
        .iter()
        .map(|row| {
            Ok((
                parse("waybill number", row.get(0), WaybillNo::parse)?,
                parse("carrier code", row.get(1), CarrierCode::parse)?,
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let mut waybills = Vec::with_capacity(keys.len());
    for (no, code) in keys {
        if let Some(waybill) = waybill(conn, key, &code, &no)? {
            waybills.push(waybill);
        }
    }
    Ok(waybills)
}
