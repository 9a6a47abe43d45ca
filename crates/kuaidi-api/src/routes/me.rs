//! `GET /v1/me`: who the calling key is.

use axum::Json;
use kuaidi_model::Role;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::v1::MeResponse;

/// The calling key's id and role.
#[utoipa::path(get, path = "/v1/me", tag = "admin", security(("api_key" = [])),
    responses((status = 200, body = MeResponse), (status = 401, body = ErrorBody)))]
pub async fn get_me(caller: Caller) -> Result<Json<MeResponse>, ApiError> {
    let (carrier, jurisdiction) = match &caller.role {
        Role::Admin => (None, None),
        Role::Carrier { carrier } => (Some(carrier.to_string()), None),
        Role::Regulator { jurisdiction } => (None, Some(jurisdiction.iter().map(ToString::to_string).collect())),
    };
    Ok(Json(MeResponse { key_id: caller.key_id, role: caller.role.name(), carrier, jurisdiction }))
}
