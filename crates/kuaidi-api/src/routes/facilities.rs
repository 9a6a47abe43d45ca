//! `GET /v1/facilities`: registered facilities; a carrier key sees its own and the shared ones.

use axum::extract::State;
use axum::Json;
use kuaidi_formats::wire::FacilityRecord;
use kuaidi_model::Role;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::AppState;

/// Registered facilities, ordered by code.
#[utoipa::path(get, path = "/v1/facilities", tag = "reference", security(("api_key" = [])),
    responses((status = 200, body = Vec<FacilityRecord>), (status = 401, body = ErrorBody)))]
pub async fn get_facilities(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<FacilityRecord>>, ApiError> {
    let reference = state.reference();
    let mut facilities: Vec<_> = reference
        .facilities
        .values()
        .filter(|f| match &caller.role {
            Role::Carrier { carrier } => f.carrier.as_ref().is_none_or(|own| own == carrier),
            _ => true,
        })
        .collect();
    facilities.sort_by(|a, b| a.code.cmp(&b.code));
    Ok(Json(facilities.into_iter().map(kuaidi_formats::encode_facility).collect()))
}
