//! `GET /v1/carriers`: registered carriers. Carriers register through the ingest endpoints (admin keys only).

use axum::extract::State;
use axum::Json;
use kuaidi_formats::wire::CarrierRecord;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

/// Every registered carrier.
#[utoipa::path(get, path = "/v1/carriers", tag = "reference", security(("api_key" = [])),
    responses((status = 200, body = Vec<CarrierRecord>), (status = 401, body = ErrorBody)))]
pub async fn get_carriers(
    State(state): State<AppState>,
    _caller: Caller,
) -> Result<Json<Vec<CarrierRecord>>, ApiError> {
    let store = state.store().clone();
    let carriers = tokio::task::spawn_blocking(move || store.carriers()).await??;
    Ok(Json(carriers.iter().map(kuaidi_formats::encode_carrier).collect()))
}
