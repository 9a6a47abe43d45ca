//! `GET /v1/compliance` (coverage of the three safety systems: real-name, inspection, security scan) and
//! `GET /v1/compliance/{waybill_no}` (one parcel's three checks).

use axum::extract::State;
use axum::Json;
use kuaidi_rules::compliance::check_compliance;
use kuaidi_store::{CoverageFilter, CoverageGroup};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{AppPath, AppQuery};
use crate::params;
use crate::routes::waybills::path_waybill_no;
use crate::scope::{areas_scope, carrier_scope};
use crate::trace::load_parcel;
use crate::v1::{CoverageGroupView, CoverageResponse, ParcelComplianceResponse};
use crate::AppState;

/// Filters and grouping of the coverage.
#[derive(Debug, Deserialize, IntoParams)]
pub struct CoverageQuery {
    /// `all` (default), `carrier`, `outlet`, `courier`, `city` or `day`.
    group: Option<String>,
    /// Only this carrier; a carrier key always means its own.
    carrier: Option<String>,
    /// Only parcels accepted in this division (any level); for a regulator key, inside its jurisdiction.
    area: Option<String>,
    /// First acceptance day, `YYYY-MM-DD` in +08:00, inclusive.
    from: Option<String>,
    /// Last acceptance day, `YYYY-MM-DD` in +08:00, inclusive.
    to: Option<String>,
}

const GROUPS: [(&str, CoverageGroup); 6] = [
    ("all", CoverageGroup::All),
    ("carrier", CoverageGroup::Carrier),
    ("outlet", CoverageGroup::Outlet),
    ("courier", CoverageGroup::Courier),
    ("city", CoverageGroup::City),
    ("day", CoverageGroup::Day),
];

/// Coverage rates of the three checks over the parcels the filter takes, by acceptance day, carrier, outlet,
/// courier and city. A regulator key sees the parcels accepted in its jurisdiction.
#[utoipa::path(get, path = "/v1/compliance", tag = "supervision", params(CoverageQuery), security(("api_key" = [])),
    responses(
        (status = 200, body = CoverageResponse),
        (status = 400, body = ErrorBody),
        (status = 403, description = "Another carrier, or an area outside the jurisdiction", body = ErrorBody),
    ))]
pub async fn get_coverage(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(query): AppQuery<CoverageQuery>,
) -> Result<Json<CoverageResponse>, ApiError> {
    let group_text = query.group.as_deref().unwrap_or("all").trim();
    let (group_name, group) = GROUPS.into_iter().find(|(name, _)| *name == group_text).ok_or_else(|| {
        params::invalid("group", group_text, "it must be one of `all`, `carrier`, `outlet`, `courier`, `city`, `day`")
    })?;
    let carrier = query.carrier.as_deref().map(|text| params::carrier("carrier", text)).transpose()?;
    let area = query.area.as_deref().map(|text| params::division("area", text)).transpose()?;
    let (from_day, to_day) = params::days(query.from.as_deref(), query.to.as_deref())?;
    let filter = CoverageFilter {
        carrier: carrier_scope(&caller, carrier)?,
        areas: areas_scope(&caller, area)?,
        from_day,
        to_day,
    };
    let store = state.store().clone();
    let rows = tokio::task::spawn_blocking(move || store.coverage(&filter, group)).await??;
    let groups = rows.into_iter().map(|(key, counts)| CoverageGroupView::new(key, &counts)).collect();
    Ok(Json(CoverageResponse { group: group_name, groups }))
}

/// Options of one parcel's compliance.
#[derive(Debug, Deserialize, IntoParams)]
pub struct ParcelQuery {
    /// The carrier, when several use the number.
    carrier: Option<String>,
}

/// One parcel's three checks: status, reason code and the events each rests on. Visible to the same keys as its
/// trace (`GET /v1/waybills/{waybill_no}`).
#[utoipa::path(get, path = "/v1/compliance/{waybill_no}", tag = "supervision",
    params(("waybill_no" = String, Path), ParcelQuery), security(("api_key" = [])),
    responses(
        (status = 200, body = ParcelComplianceResponse),
        (status = 404, description = "Not found or not visible to this key", body = ErrorBody),
        (status = 409, description = "Several carriers use the number", body = ErrorBody),
    ))]
pub async fn get_parcel_compliance(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(waybill_no): AppPath<String>,
    AppQuery(query): AppQuery<ParcelQuery>,
) -> Result<Json<ParcelComplianceResponse>, ApiError> {
    let waybill_no = path_waybill_no(&waybill_no)?;
    let carrier = query.carrier.as_deref().map(|text| params::carrier("carrier", text)).transpose()?;
    let view = tokio::task::spawn_blocking(move || {
        let parcel = load_parcel(&state, &caller, &waybill_no, carrier)?;
        let reference = state.reference();
        let compliance = check_compliance(parcel.waybill.as_ref(), &parcel.events, &*reference);
        Ok::<_, ApiError>(ParcelComplianceResponse::new(&parcel.carrier, &parcel.waybill_no, &compliance))
    })
    .await??;
    Ok(Json(view))
}
