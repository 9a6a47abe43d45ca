//! `POST /v1/events`: one scan event.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use kuaidi_formats::wire::EventRecord;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::AppJson;
use crate::ingest::{ingest_one, ItemResult};
use crate::AppState;

/// Ingests one scan event (`type` may be omitted). Re-sending the same event is answered `200` with `duplicate`.
#[utoipa::path(post, path = "/v1/events", tag = "ingest", request_body = EventRecord, security(("api_key" = [])),
    responses(
        (status = 201, description = "Stored", body = ItemResult),
        (status = 200, description = "Already stored", body = ItemResult),
        (status = 422, description = "Invalid", body = ErrorBody),
        (status = 409, description = "Same id, different content", body = ErrorBody),
    ))]
pub async fn post_event(
    State(state): State<AppState>,
    caller: Caller,
    AppJson(body): AppJson<serde_json::Value>,
) -> Result<(StatusCode, Json<ItemResult>), ApiError> {
    ingest_one(&state, &caller.role, body, "event").await
}
