//! `GET /v1/indicators`: the quality indicators of the delta plan, sliced and grouped, each group set beside the
//! plan's 2020 targets.

use axum::extract::State;
use axum::Json;
use kuaidi_model::{AdminCode, DivisionLevel};
use kuaidi_rules::{Dimension, Filter, Indicators, Report};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::auth::Caller;
use crate::error::{ApiError, Code, ErrorBody};
use crate::extract::AppQuery;
use crate::params;
use crate::scope::{carrier_scope, region_scope};
use crate::v1::{IndicatorFilter, IndicatorGroup, IndicatorsResponse};
use crate::AppState;

/// Filters and grouping of the indicators.
#[derive(Debug, Deserialize, IntoParams)]
pub struct IndicatorsQuery {
    /// Only this carrier; a carrier key always means its own.
    carrier: Option<String>,
    /// Only parcels from this province or city (the cube keeps cities, so county codes are refused).
    origin: Option<String>,
    /// Only parcels to this province or city.
    destination: Option<String>,
    /// Only parcels from or to this province or city; a regulator key with several areas must name one inside
    /// them.
    region: Option<String>,
    /// First accept day, `YYYY-MM-DD` in +08:00, inclusive.
    from: Option<String>,
    /// Last accept day, `YYYY-MM-DD` in +08:00, inclusive.
    to: Option<String>,
    /// Comma list of `carrier`, `origin_city`, `destination_city`, `origin_province`, `destination_province`, `day`.
    group_by: Option<String>,
}

/// A division of the cube: a province or a city. The cube keeps parcels by origin and destination city, so a county
/// code cannot be answered and is refused rather than answered with nothing.
fn cube_division(name: &str, text: &str) -> Result<AdminCode, ApiError> {
    let code = params::division(name, text)?;
    if code.level() == DivisionLevel::County {
        return Err(params::invalid(
            name,
            text,
            &format!(
                "indicators are kept by city, so a county code cannot be answered.\nHint: use its city `{}` or \
                 its province `{}`",
                code.prefecture(),
                code.province()
            ),
        ));
    }
    Ok(code)
}

fn dimensions(text: Option<&str>) -> Result<(Vec<Dimension>, Vec<String>), ApiError> {
    let mut dimensions = Vec::new();
    let mut names = Vec::new();
    for name in text.unwrap_or("").split(',').map(str::trim).filter(|name| !name.is_empty()) {
        let dimension = Dimension::parse(name).ok_or_else(|| {
            params::invalid(
                "group_by",
                name,
                "it must be a comma list of `carrier`, `origin_city`, `destination_city`, `origin_province`, \
                 `destination_province` and `day`",
            )
        })?;
        if dimensions.contains(&dimension) {
            return Err(params::invalid("group_by", name, "each dimension may appear once"));
        }
        let clashes = |a: Dimension, b: Dimension| dimensions.contains(&a) && dimension == b;
        if clashes(Dimension::OriginCity, Dimension::OriginProvince)
            || clashes(Dimension::OriginProvince, Dimension::OriginCity)
            || clashes(Dimension::DestinationCity, Dimension::DestinationProvince)
            || clashes(Dimension::DestinationProvince, Dimension::DestinationCity)
        {
            return Err(params::invalid(
                "group_by",
                name,
                "the origin (or destination) is grouped by city or by province, not both",
            ));
        }
        dimensions.push(dimension);
        names.push(name.to_owned());
    }
    Ok((dimensions, names))
}

/// The indicators of every group of the parcels the filter takes (accept day in +08:00), with their report.
#[utoipa::path(get, path = "/v1/indicators", tag = "supervision", params(IndicatorsQuery), security(("api_key" = [])),
    responses(
        (status = 200, body = IndicatorsResponse),
        (status = 400, description = "A parameter is malformed, or a regulator with several areas named no region", body = ErrorBody),
        (status = 403, description = "Another carrier, or a region outside the jurisdiction", body = ErrorBody),
    ))]
pub async fn get_indicators(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(query): AppQuery<IndicatorsQuery>,
) -> Result<Json<IndicatorsResponse>, ApiError> {
    let carrier = query.carrier.as_deref().map(|text| params::carrier("carrier", text)).transpose()?;
    let origin = query.origin.as_deref().map(|text| cube_division("origin", text)).transpose()?;
    let destination = query.destination.as_deref().map(|text| cube_division("destination", text)).transpose()?;
    let region = query.region.as_deref().map(|text| cube_division("region", text)).transpose()?;
    let (from_day, to_day) = params::days(query.from.as_deref(), query.to.as_deref())?;
    let (group_by, group_names) = dimensions(query.group_by.as_deref())?;
    let region = region_scope(&caller, region)?;
    if let Some(county) = region.filter(|code| code.level() == DivisionLevel::County) {
        // Only a regulator's own jurisdiction can put a county here; asked regions were refused above.
        return Err(ApiError::new(
            Code::Forbidden,
            format!(
                "Key `{}` covers the county `{county}`, but indicators are kept by city, and the city `{}` is wider \
                 than the key's jurisdiction.",
                caller.key_id,
                county.prefecture()
            ),
        ));
    }
    let filter = Filter {
        carrier: carrier_scope(&caller, carrier)?,
        origin,
        destination,
        regions: region.into_iter().collect(),
        from_day,
        to_day,
    };
    let store = state.store().clone();
    let slice_filter = filter.clone();
    let slice = tokio::task::spawn_blocking(move || store.indicators(&slice_filter, &group_by)).await??;
    let limits = &state.config().time_limits;
    let groups = slice
        .into_iter()
        .map(|(key, counters)| {
            let indicators = Indicators::from(&counters);
            let report = Report::new(&indicators, limits);
            IndicatorGroup { key, indicators, report }
        })
        .collect();
    let text = |code: Option<AdminCode>| code.map(|code| code.to_string());
    Ok(Json(IndicatorsResponse {
        filter: IndicatorFilter {
            carrier: filter.carrier.as_ref().map(ToString::to_string),
            origin: text(filter.origin),
            destination: text(filter.destination),
            region: text(filter.regions.first().copied()),
            from: filter.from_day.map(|day| day.to_string()),
            to: filter.to_day.map(|day| day.to_string()),
        },
        group_by: group_names,
        groups,
    }))
}
