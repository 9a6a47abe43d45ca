//! `GET /v1/vehicles/{vehicle}/parcels`: every parcel a vehicle or flight carried in a time range (车辆运输可追踪),
//! and the shared reverse-trace handler the operators route uses too.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use kuaidi_store::Handler;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::error::{ApiError, Code, ErrorBody};
use crate::extract::{AppPath, AppQuery};
use crate::trace::reverse_view;
use crate::v1::HandledResponse;
use crate::AppState;

/// A time range.
#[derive(Debug, Deserialize, IntoParams)]
pub struct RangeQuery {
    /// Start, RFC 3339, inclusive.
    from: String,
    /// End, RFC 3339, exclusive.
    to: String,
    /// Most events to consider; default 10,000, at most 100,000.
    limit: Option<usize>,
}

fn parse_instant(name: &str, text: &str) -> Result<DateTime<Utc>, ApiError> {
    kuaidi_formats::parse_time(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|err| ApiError::new(Code::InvalidQuery, format!("The query parameter `{name}` {err}.")))
}

/// Answers a reverse trace for either kind of handler.
pub(crate) async fn reverse_trace(
    state: AppState,
    caller: Caller,
    handler: Handler,
    range: RangeQuery,
) -> Result<Json<HandledResponse>, ApiError> {
    let from = parse_instant("from", &range.from)?;
    let to = parse_instant("to", &range.to)?;
    if to <= from {
        return Err(ApiError::new(
            Code::InvalidQuery,
            format!("The range ends (`{}`) before it starts (`{}`).", range.to, range.from),
        ));
    }
    let limit = range.limit.unwrap_or(10_000).clamp(1, 100_000);
    let view = tokio::task::spawn_blocking(move || reverse_view(&state, &caller, &handler, from, to, limit)).await??;
    Ok(Json(view))
}

/// Parcels a vehicle or flight carried in `[from, to)`.
#[utoipa::path(get, path = "/v1/vehicles/{vehicle}/parcels", tag = "trace",
    params(("vehicle" = String, Path, description = "Plate or flight number"), RangeQuery), security(("api_key" = [])),
    responses((status = 200, body = HandledResponse), (status = 400, body = ErrorBody)))]
pub async fn get_vehicle_parcels(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(vehicle): AppPath<String>,
    AppQuery(range): AppQuery<RangeQuery>,
) -> Result<Json<HandledResponse>, ApiError> {
    reverse_trace(state, caller, Handler::Vehicle(vehicle), range).await
}
