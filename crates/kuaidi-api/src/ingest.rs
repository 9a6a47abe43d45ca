//! The ingest pipeline, shared by every HTTP ingest endpoint and by `kuaidi import`: decode, authorise, validate,
//! store, and answer per item.
//!
//! **Invariant**: one bad item never fails its batch. Every item gets an [`ItemResult`]; the good ones of a chunk are
//! stored in one transaction, so when the answer says `accepted`, the record is durable.
//! The pipeline is synchronous (it runs on a blocking thread under axum) so the CLI can call it without a runtime.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use kuaidi_formats::DecodeError;
use kuaidi_model::{
    validate_complaint, validate_event, validate_facility, validate_waybill, CarrierCode, Facility, FacilityCode,
    Record, Reference, Role, ValidationError,
};
use kuaidi_store::Outcome;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Code};
use crate::state::ReferenceData;
use crate::AppState;

/// What happened to one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// New, and stored durably.
    Accepted,
    /// Already stored with identical content; not counted again.
    Duplicate,
    /// Reference data (carrier or facility) updated.
    Updated,
    /// Not stored; see `code`, `field`, `value` and `message`.
    Rejected,
}

/// The answer for one item of a batch or stream.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ItemResult {
    /// The item's position: 0-based index in a JSON batch, 1-based line number in a stream or file.
    pub index: u64,
    /// What happened.
    pub status: ItemStatus,
    /// The record's type, when it could be decoded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_type: Option<&'static str>,
    /// The record's key: event id, waybill number, facility or carrier code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// For a rejection: the error code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
    /// For a rejection: the field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For a rejection: the offending value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// For a rejection: what is wrong, as a sentence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ItemResult {
    fn rejected(
        index: u64,
        record: Option<&Record>,
        err: ApiError,
        field: Option<&str>,
        value: Option<&str>,
    ) -> ItemResult {
        ItemResult {
            index,
            status: ItemStatus::Rejected,
            record_type: record.map(record_type),
            key: record.map(record_key),
            code: Some(err.code.name()),
            field: field.map(str::to_owned),
            value: value.map(str::to_owned),
            message: Some(err.message),
        }
    }
}

/// Counts over a set of item results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct Summary {
    /// Items stored.
    pub accepted: u64,
    /// Items already stored.
    pub duplicate: u64,
    /// Reference items updated.
    pub updated: u64,
    /// Items not stored.
    pub rejected: u64,
}

impl Summary {
    /// Adds one result.
    pub fn add(&mut self, status: ItemStatus) {
        match status {
            ItemStatus::Accepted => self.accepted += 1,
            ItemStatus::Duplicate => self.duplicate += 1,
            ItemStatus::Updated => self.updated += 1,
            ItemStatus::Rejected => self.rejected += 1,
        }
    }

    /// Adds another summary.
    pub fn merge(&mut self, other: Summary) {
        self.accepted += other.accepted;
        self.duplicate += other.duplicate;
        self.updated += other.updated;
        self.rejected += other.rejected;
    }
}

/// The record's type name on the wire.
pub fn record_type(record: &Record) -> &'static str {
    match record {
        Record::Carrier(_) => "carrier",
        Record::Facility(_) => "facility",
        Record::Waybill(_) => "waybill",
        Record::Event(_) => "event",
        Record::Complaint(_) => "complaint",
    }
}

/// The record's key on the wire: event id, waybill number, facility or carrier code.
pub fn record_key(record: &Record) -> String {
    match record {
        Record::Carrier(carrier) => carrier.code.to_string(),
        Record::Facility(facility) => facility.code.to_string(),
        Record::Waybill(waybill) => waybill.waybill_no.to_string(),
        Record::Event(event) => event.event_id.to_string(),
        Record::Complaint(complaint) => complaint.id.to_string(),
    }
}

/// Reference data as the batch sees it: the snapshot plus carriers and facilities registered earlier in the batch.
struct Overlay<'a> {
    base: &'a ReferenceData,
    carriers: HashSet<CarrierCode>,
    facilities: HashMap<FacilityCode, Facility>,
}

impl Reference for Overlay<'_> {
    fn has_carrier(&self, code: &CarrierCode) -> bool {
        self.carriers.contains(code) || self.base.has_carrier(code)
    }

    fn facility(&self, code: &FacilityCode) -> Option<&Facility> {
        self.facilities.get(code).or_else(|| self.base.facility(code))
    }
}

fn authorise(role: &Role, record: &Record) -> Result<(), ValidationError> {
    let allowed = match record {
        Record::Carrier(_) => role.can_register_carriers(),
        Record::Facility(facility) if facility.carrier.is_none() => role.can_register_carriers(),
        Record::Complaint(_) => role.can_file_complaints(),
        other => role.can_write(other.carrier()),
    };
    if allowed {
        return Ok(());
    }
    if let Record::Complaint(complaint) = record {
        return Err(ValidationError::CarrierMismatch {
            field: "carrier".into(),
            value: complaint.carrier.to_string(),
            expected: "no carrier: complaints are filed by regulators and the administrator".to_owned(),
        });
    }
    let expected = match role {
        Role::Carrier { carrier } => carrier.to_string(),
        Role::Admin => "any carrier".to_owned(),
        Role::Regulator { .. } => "no carrier: regulator keys are read-only".to_owned(),
    };
    let (field, value) = match record {
        Record::Carrier(carrier) => ("code", carrier.code.to_string()),
        Record::Facility(facility) if facility.carrier.is_none() => ("carrier", "(shared)".to_owned()),
        other => ("carrier", other.carrier().map(ToString::to_string).unwrap_or_default()),
    };
    Err(ValidationError::CarrierMismatch { field: field.into(), value, expected })
}

fn check(role: &Role, record: &Record, reference: &Overlay<'_>, state: &AppState) -> Result<(), ValidationError> {
    authorise(role, record)?;
    let now = state.now();
    let policy = &state.config().policy;
    match record {
        Record::Carrier(carrier) => carrier.validate(),
        Record::Facility(facility) => validate_facility(facility, reference),
        Record::Waybill(waybill) => validate_waybill(waybill, reference, now, policy),
        Record::Event(event) => validate_event(event, reference, now, policy),
        Record::Complaint(complaint) => validate_complaint(complaint, reference, now, policy),
    }
}

fn is_unknown_reference(err: &ValidationError) -> bool {
    matches!(err, ValidationError::UnknownCarrier { .. } | ValidationError::UnknownFacility { .. })
}

/// Runs one chunk of decoded items through the pipeline and answers for each, in order.
///
/// `items` pairs each item's position with its decoded record. Fails only when the store fails, in which case nothing
/// of this chunk was stored.
pub fn ingest_chunk(
    state: &AppState,
    role: &Role,
    items: Vec<(u64, Result<Record, DecodeError>)>,
) -> Result<Vec<ItemResult>, ApiError> {
    let mut results: Vec<Option<ItemResult>> = vec![None; items.len()];
    let mut decoded: Vec<(usize, u64, Record)> = Vec::with_capacity(items.len());
    for (slot, (index, record)) in items.into_iter().enumerate() {
        match record {
            Ok(record) => decoded.push((slot, index, record)),
            Err(err) => {
                let (field, value) = match &err {
                    DecodeError::Field(field_err) => {
                        (Some(field_err.field().to_owned()), field_err.value().map(str::to_owned))
                    }
                    _ => (None, None),
                };
                results[slot] = Some(ItemResult::rejected(index, None, err.into(), field.as_deref(), value.as_deref()));
            }
        }
    }

    let verdicts = validate_chunk(state, role, decoded.iter().map(|(_, _, record)| record))?;
    let mut to_store = Vec::with_capacity(decoded.len());
    let mut stored_slots = Vec::with_capacity(decoded.len());
    for ((slot, index, record), verdict) in decoded.into_iter().zip(verdicts) {
        match verdict {
            Ok(()) => {
                stored_slots.push((slot, index, record_type(&record), record_key(&record)));
                to_store.push(record);
            }
            Err(err) => {
                let (field, value) = (err.field().to_owned(), err.value().map(str::to_owned));
                results[slot] =
                    Some(ItemResult::rejected(index, Some(&record), err.into(), Some(&field), value.as_deref()));
            }
        }
    }

    let reference_changed = to_store.iter().any(|r| matches!(r, Record::Carrier(_) | Record::Facility(_)));
    let outcomes =
        if to_store.is_empty() { Vec::new() } else { state.store().ingest_owned_at(to_store, state.now())? };
    for ((slot, index, kind, key), outcome) in stored_slots.into_iter().zip(outcomes) {
        results[slot] = Some(answer(index, kind, key, outcome));
    }
    if reference_changed {
        state.reload_reference(None)?;
    }
    Ok(results.into_iter().flatten().collect())
}

/// The answer for an item the store took: what its outcome means, and for a conflict the error, its field and value.
pub fn answer(index: u64, kind: &'static str, key: String, outcome: Outcome) -> ItemResult {
    let status = match outcome {
        Outcome::Accepted => ItemStatus::Accepted,
        Outcome::Duplicate => ItemStatus::Duplicate,
        Outcome::Updated => ItemStatus::Updated,
        Outcome::Conflict => ItemStatus::Rejected,
    };
    let mut result = ItemResult {
        index,
        status,
        record_type: Some(kind),
        key: None,
        code: None,
        field: None,
        value: None,
        message: None,
    };
    if outcome == Outcome::Conflict {
        let (code, what, field) = match kind {
            "event" => (Code::EventConflict, "An event", "event_id"),
            _ => (Code::WaybillConflict, "A waybill", "waybill_no"),
        };
        result.code = Some(code.name());
        result.message = Some(format!(
            "{what} with the key `{key}` is already stored with different content; the stored one is kept."
        ));
        result.field = Some(field.to_owned());
        result.value = Some(key.clone());
    }
    result.key = Some(key);
    result
}

/// Authorises and validates every record, in order, each seeing the carriers and facilities registered before it,
/// storing nothing: [`ingest_chunk`]'s checks, and EPCIS capture's, which must know that every record will pass
/// before it stores any.
///
/// When something names an unknown carrier or facility, another process may have just registered it, so the
/// snapshot is reloaded (at most once a second) and the chunk validated again.
pub fn validate_chunk<'a>(
    state: &AppState,
    role: &Role,
    records: impl Iterator<Item = &'a Record> + Clone,
) -> Result<Vec<Result<(), ValidationError>>, ApiError> {
    let mut snapshot = state.reference();
    loop {
        let mut overlay = Overlay { base: &snapshot, carriers: HashSet::new(), facilities: HashMap::new() };
        let mut verdicts = Vec::with_capacity(records.size_hint().0);
        for record in records.clone() {
            let verdict = check(role, record, &overlay, state);
            if verdict.is_ok() {
                match record {
                    Record::Carrier(carrier) => {
                        overlay.carriers.insert(carrier.code.clone());
                    }
                    Record::Facility(facility) => {
                        overlay.facilities.insert(facility.code.clone(), facility.clone());
                    }
                    _ => {}
                }
            }
            verdicts.push(verdict);
        }
        if verdicts.iter().any(|v| v.as_ref().is_err_and(is_unknown_reference)) {
            let reloaded = state.reload_reference(Some(Duration::from_secs(1)))?;
            if !std::sync::Arc::ptr_eq(&reloaded, &snapshot) {
                snapshot = reloaded;
                continue;
            }
        }
        return Ok(verdicts);
    }
}

/// Ingests one JSON object whose `type` is implied by the endpoint, answering `201` (accepted or updated),
/// `200` (duplicate), or the rejection as an error.
pub async fn ingest_one(
    state: &AppState,
    role: &Role,
    mut value: serde_json::Value,
    implied_type: &'static str,
) -> Result<(axum::http::StatusCode, axum::Json<ItemResult>), ApiError> {
    if let serde_json::Value::Object(map) = &mut value {
        map.entry("type").or_insert_with(|| serde_json::Value::from(implied_type));
        if map.get("type").and_then(serde_json::Value::as_str) != Some(implied_type) {
            let given = map.get("type").map(ToString::to_string).unwrap_or_default();
            return Err(ValidationError::Invalid {
                field: "type".into(),
                value: given,
                reason: format!("must be `{implied_type}` at this endpoint"),
            }
            .into());
        }
    }
    let decoded = kuaidi_formats::decode_value(&value);
    let (state, role) = (state.clone(), role.clone());
    let mut results = tokio::task::spawn_blocking(move || ingest_chunk(&state, &role, vec![(0, decoded)])).await??;
    let result = results.pop().ok_or_else(|| ApiError::internal("the pipeline returned no result for one item"))?;
    match result.status {
        ItemStatus::Accepted | ItemStatus::Updated => Ok((axum::http::StatusCode::CREATED, axum::Json(result))),
        ItemStatus::Duplicate => Ok((axum::http::StatusCode::OK, axum::Json(result))),
        ItemStatus::Rejected => {
            let code = Code::ALL.iter().copied().find(|c| Some(c.name()) == result.code).unwrap_or(Code::InvalidField);
            Err(ApiError::new(code, result.message.unwrap_or_default()))
        }
    }
}

/// Decodes raw lines (NDJSON) into items for [`ingest_chunk`].
pub fn decode_lines(lines: Vec<(u64, Vec<u8>)>) -> Vec<(u64, Result<Record, DecodeError>)> {
    lines
        .into_iter()
        .map(|(number, bytes)| {
            let record = match std::str::from_utf8(&bytes) {
                Ok(text) => kuaidi_formats::decode_record(text),
                Err(err) => Err(DecodeError::Syntax(format!("the line is not valid UTF-8: {err}"))),
            };
            (number, record)
        })
        .collect()
}
