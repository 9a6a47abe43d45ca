//! `POST /v1/waybills` (one waybill) and `GET /v1/waybills/{waybill_no}` (a parcel's trace).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kuaidi_formats::wire::WaybillRecord;
use kuaidi_model::{CarrierCode, WaybillNo};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::error::{ApiError, Code, ErrorBody};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::ingest::{ingest_one, ItemResult};
use crate::trace::trace_view;
use crate::v1::{Disclosure, TraceResponse};
use crate::AppState;

/// Ingests one waybill (`type` may be omitted).
#[utoipa::path(post, path = "/v1/waybills", tag = "ingest", request_body = WaybillRecord, security(("api_key" = [])),
    responses(
        (status = 201, description = "Stored", body = ItemResult),
        (status = 200, description = "Already stored", body = ItemResult),
        (status = 422, description = "Invalid", body = ErrorBody),
        (status = 409, description = "Same number, different content", body = ErrorBody),
    ))]
pub async fn post_waybill(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<serde_json::Value>,
) -> Result<(StatusCode, Json<ItemResult>), ApiError> {
    ingest_one(&state, &caller.role, body, "waybill").await
}

/// Options of a trace.
#[derive(Debug, Deserialize, IntoParams)]
pub struct TraceQuery {
    /// The carrier, when several use the number.
    carrier: Option<String>,
    /// `true` to show personal data in full (admin and regulator keys only; every such view is audited).
    reveal: Option<bool>,
}

/// Parses a waybill number from the path.
pub(crate) fn path_waybill_no(text: &str) -> Result<WaybillNo, ApiError> {
    WaybillNo::parse(text).map_err(|err| ApiError::new(Code::InvalidPath, format!("The waybill number {err}.")))
}

/// A parcel's chain of custody: every event in time order, the derived status, and the waybill (masked unless
/// revealed).
#[utoipa::path(get, path = "/v1/waybills/{waybill_no}", tag = "trace", params(("waybill_no" = String, Path), TraceQuery),
    security(("api_key" = [])),
    responses(
        (status = 200, body = TraceResponse),
        (status = 404, description = "Not found or not visible to this key", body = ErrorBody),
        (status = 409, description = "Several carriers use the number", body = ErrorBody),
    ))]
pub async fn get_waybill(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(waybill_no): AppPath<String>,
    AppQuery(query): AppQuery<TraceQuery>,
) -> Result<Json<TraceResponse>, ApiError> {
    let waybill_no = path_waybill_no(&waybill_no)?;
    let carrier = query
        .carrier
        .as_deref()
        .map(|c| CarrierCode::parse(c).map_err(|err| ApiError::new(Code::InvalidQuery, format!("The carrier {err}."))))
        .transpose()?;
    let disclosure = if query.reveal.unwrap_or(false) { Disclosure::Revealed } else { Disclosure::Masked };
    let view = tokio::task::spawn_blocking(move || {
        trace_view(&state, &caller, &waybill_no, carrier, disclosure, "GET /v1/waybills/{waybill_no}?reveal=true")
    })
    .await??;
    Ok(Json(view))
}
