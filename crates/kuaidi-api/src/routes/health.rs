//! `GET /v1/health`: liveness, without a key.

use axum::Json;

use crate::v1::Health;

/// Is the server up.
#[utoipa::path(get, path = "/v1/health", tag = "admin", responses((status = 200, body = Health)))]
pub async fn get_health() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}
