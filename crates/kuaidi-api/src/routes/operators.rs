//! `GET /v1/operators/{operator}/parcels`: every parcel a courier or employee scanned in a time range (人员责任可倒查).

use axum::extract::State;
use axum::Json;
use kuaidi_store::Handler;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AppPath, AppQuery};
use crate::routes::vehicles::{reverse_trace, RangeQuery};
use crate::v1::HandledResponse;
use crate::AppState;

/// Parcels an operator scanned in `[from, to)`.
#[utoipa::path(get, path = "/v1/operators/{operator}/parcels", tag = "trace",
    params(("operator" = String, Path, description = "Courier or employee id"), RangeQuery), security(("api_key" = [])),
    responses((status = 200, body = HandledResponse), (status = 400, body = ErrorBody)))]
pub async fn get_operator_parcels(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(operator): AppPath<String>,
    AppQuery(range): AppQuery<RangeQuery>,
) -> Result<Json<HandledResponse>, ApiError> {
    reverse_trace(state, caller, Handler::Operator(operator), range).await
}
