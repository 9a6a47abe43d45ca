//! `POST /v1/kuaidi100/push`: a Kuaidi100-style tracking push (快递100 订阅推送, or a query result) for one parcel.
//!
//! `kuaidi_formats::kuaidi100` reads the push into virtual facilities and scan events; both go through the one ingest
//! pipeline, facilities first, so the events can name them. The answer keeps Kuaidi100's callback fields (`result`,
//! `returnCode`, `message`) so an aggregator that re-sends until it reads `"result": true` stops once every entry
//! is stored; re-sending is harmless, because the event ids are derived from the entries.

use axum::extract::State;
use axum::Json;
use kuaidi_formats::kuaidi100::{read_push, Entry};
use kuaidi_formats::DecodeError;
use kuaidi_model::{Record, Role};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, Code, ErrorBody};
use crate::extract::AppJson;
use crate::ingest::{ingest_chunk, ItemResult, ItemStatus, Summary};
use crate::AppState;

/// A trace entry that is no scan and so was not stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkippedEntry {
    /// The entry's 0-based position in `data`.
    pub index: u64,
    /// Its Kuaidi100 status code.
    pub status_code: u16,
    /// Why it is not a scan.
    pub message: &'static str,
}

/// The answer to a push.
#[derive(Debug, Serialize, ToSchema)]
pub struct PushResponse {
    /// Kuaidi100's callback flag: `true` when no entry was rejected, so the aggregator need not re-send.
    pub result: bool,
    /// Kuaidi100's callback code: `200` when `result` is true, else `500`.
    #[serde(rename = "returnCode")]
    pub return_code: &'static str,
    /// Kuaidi100's callback message.
    pub message: String,
    /// The parcel's carrier.
    pub carrier: String,
    /// The parcel's waybill number.
    pub waybill_no: String,
    /// Counts over the trace entries (virtual facilities not included).
    pub summary: Summary,
    /// One answer per trace entry that is a scan, or that was rejected; `index` is its position in `data`.
    pub entries: Vec<ItemResult>,
    /// Entries that are no scan (已下单, 待揽收).
    pub skipped: Vec<SkippedEntry>,
    /// The virtual facilities the events are scanned at, registered on first use; `index` counts them from 0.
    pub facilities: Vec<ItemResult>,
}

/// Ingests a Kuaidi100-style push: `{"status", "lastResult": {"com", "nu", "state", "data": [...]}}`, the same
/// inside a `param` string, or a bare result `{"com", "nu", "data"}`. See `docs/kuaidi100.md` for the mapping.
#[utoipa::path(post, path = "/v1/kuaidi100/push", tag = "ingest", security(("api_key" = [])),
    request_body(content = Object, description = "A Kuaidi100 push or query result"),
    responses(
        (status = 200, description = "Every entry answered", body = PushResponse),
        (status = 422, description = "The push names no parcel or has no `data`", body = ErrorBody),
        (status = 403, description = "A regulator key", body = ErrorBody),
    ))]
pub async fn post_push(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<serde_json::Value>,
) -> Result<Json<PushResponse>, ApiError> {
    if matches!(caller.role, Role::Regulator { .. }) {
        return Err(ApiError::new(Code::Forbidden, "A regulator key is read-only; it may not push tracking data."));
    }
    let push = read_push(&body)?;
    let n_facilities = push.facilities.len();
    let mut items: Vec<(u64, Result<Record, DecodeError>)> = push
        .facilities
        .into_iter()
        .enumerate()
        .map(|(idx, facility)| (idx as u64, Ok(Record::Facility(facility))))
        .collect();
    let mut skipped = Vec::new();
    for (idx, entry) in push.entries.into_iter().enumerate() {
        match entry {
            Entry::Event(event) => items.push((idx as u64, Ok(Record::Event(event)))),
            Entry::Invalid(err) => items.push((idx as u64, Err(DecodeError::Field(err)))),
            Entry::Skipped { status, reason } => {
                skipped.push(SkippedEntry { index: idx as u64, status_code: status.code(), message: reason })
            }
        }
    }
    let role = caller.role.clone();
    let worker_state = state.clone();
    let mut results = tokio::task::spawn_blocking(move || ingest_chunk(&worker_state, &role, items)).await??;
    let entries = results.split_off(n_facilities.min(results.len()));
    let mut summary = Summary::default();
    for result in &entries {
        summary.add(result.status);
    }
    let facilities_ok = results.iter().all(|r| r.status != ItemStatus::Rejected);
    let ok = summary.rejected == 0 && facilities_ok;
    Ok(Json(PushResponse {
        result: ok,
        return_code: if ok { "200" } else { "500" },
        message: if ok {
            "成功".to_owned()
        } else {
            format!("{} of {} entries were rejected; see `entries`.", summary.rejected, entries.len())
        },
        carrier: push.carrier.to_string(),
        waybill_no: push.waybill_no.to_string(),
        summary,
        entries,
        skipped,
        facilities: results,
    }))
}
