//! `GET /v1/audit`: the audit log, for admins.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::AppQuery;
use crate::v1::AuditView;
use crate::AppState;

/// Query of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AuditQuery {
    /// Most entries to return, newest first; default 100, at most 10,000.
    limit: Option<usize>,
}

/// The newest audit entries.
#[utoipa::path(get, path = "/v1/audit", tag = "admin", params(AuditQuery), security(("api_key" = [])),
    responses((status = 200, body = Vec<AuditView>), (status = 403, body = ErrorBody)))]
pub async fn get_audit(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(query): AppQuery<AuditQuery>,
) -> Result<Json<Vec<AuditView>>, ApiError> {
    caller.require_admin()?;
    let limit = query.limit.unwrap_or(100).min(10_000);
    let store = state.store().clone();
    let entries = tokio::task::spawn_blocking(move || store.audit_log(limit)).await??;
    let views = entries
        .into_iter()
        .map(|e| AuditView {
            at: e.at.to_rfc3339(),
            key_id: e.key_id,
            action: e.action,
            subject: e.subject,
            detail: e.detail,
        })
        .collect();
    Ok(Json(views))
}
