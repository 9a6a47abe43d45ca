//! `POST /v1/batch`: a JSON array of records of any type, answered per item.

use axum::extract::State;
use axum::Json;
use kuaidi_formats::wire::Record as WireRecord;

use crate::auth::Caller;
use crate::error::{ApiError, Code, ErrorBody};
use crate::extract::AppJson;
use crate::ingest::{ingest_chunk, Summary};
use crate::v1::BatchResponse;
use crate::AppState;

/// Ingests up to `max_batch_records` records (default 10,000). Bad items are rejected one by one; the good ones are
/// stored in one transaction.
#[utoipa::path(post, path = "/v1/batch", tag = "ingest", request_body = Vec<WireRecord>, security(("api_key" = [])),
    responses(
        (status = 200, description = "Every item answered", body = BatchResponse),
        (status = 413, description = "Too many records", body = ErrorBody),
    ))]
pub async fn post_batch(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(items): AppJson<Vec<serde_json::Value>>,
) -> Result<Json<BatchResponse>, ApiError> {
    let max = state.config().max_batch_records;
    if items.len() > max {
        return Err(ApiError::new(
            Code::BatchTooLarge,
            format!(
                "The batch holds {} records; the limit is {max}.\nHint: split it, or stream NDJSON to `/v1/ingest`.",
                items.len()
            ),
        ));
    }
    let decoded =
        items.iter().enumerate().map(|(idx, value)| (idx as u64, kuaidi_formats::decode_value(value))).collect();
    let role = caller.role.clone();
    let worker_state = state.clone();
    let results = tokio::task::spawn_blocking(move || ingest_chunk(&worker_state, &role, decoded)).await??;
    let mut summary = Summary::default();
    for result in &results {
        summary.add(result.status);
    }
    Ok(Json(BatchResponse { summary, items: results }))
}
