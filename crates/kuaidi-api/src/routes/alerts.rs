//! `GET /v1/alerts` (alerts raised at ingest and by the sweep, newest first) and `POST /v1/alerts/{id}`
//! (acknowledge or resolve one, audited).

use axum::extract::State;
use axum::Json;
use kuaidi_model::Role;
use kuaidi_store::{Alert, AlertChange, AlertQuery, AlertStatus, AuditEntry, ErrorKind};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, Code, ErrorBody};
use crate::extract::{AppJson, AppPath, AppQuery};
use crate::params;
use crate::scope::{areas_scope, carrier_scope};
use crate::v1::{AlertView, AlertsResponse};
use crate::AppState;

/// The alert kinds the rules raise.
const KINDS: [&str; 5] = ["compliance", "prohibited_item", "stuck", "loss", "impossible_chain"];

/// The most alerts one page may hold.
const MAX_LIMIT: usize = 1000;

/// Filters and paging of the alerts.
#[derive(Debug, Deserialize, IntoParams)]
pub struct AlertsQuery {
    /// `compliance`, `prohibited_item`, `stuck`, `loss` or `impossible_chain`.
    kind: Option<String>,
    /// Only this carrier's; a carrier key always means its own.
    carrier: Option<String>,
    /// Only parcels from or to this division (any level); for a regulator key, inside its jurisdiction.
    area: Option<String>,
    /// `open`, `acknowledged` or `resolved`.
    status: Option<String>,
    /// Raised at or after: RFC 3339, or a day `YYYY-MM-DD` in +08:00.
    from: Option<String>,
    /// Raised before: RFC 3339, or a day `YYYY-MM-DD` in +08:00 (the whole day included).
    to: Option<String>,
    /// Only alerts with a smaller id: the `next_before_id` of the previous page.
    before_id: Option<String>,
    /// Most alerts to return; default 100, at most 1,000.
    limit: Option<String>,
}

/// Alerts the key may see, newest first. A carrier key sees its own carrier's, a regulator key those whose origin
/// or destination city lies in its jurisdiction.
#[utoipa::path(get, path = "/v1/alerts", tag = "supervision", params(AlertsQuery), security(("api_key" = [])),
    responses(
        (status = 200, body = AlertsResponse),
        (status = 400, body = ErrorBody),
        (status = 403, description = "Another carrier, or an area outside the jurisdiction", body = ErrorBody),
    ))]
pub async fn get_alerts(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(query): AppQuery<AlertsQuery>,
) -> Result<Json<AlertsResponse>, ApiError> {
    let kind =
        query
            .kind
            .as_deref()
            .map(|text| {
                let text = text.trim();
                KINDS.iter().find(|kind| **kind == text).map(|kind| (*kind).to_owned()).ok_or_else(|| {
                    params::invalid("kind", text, &format!("it must be one of `{}`", KINDS.join("`, `")))
                })
            })
            .transpose()?;
    let status = query
        .status
        .as_deref()
        .map(|text| {
            AlertStatus::parse(text.trim())
                .ok_or_else(|| params::invalid("status", text, "it must be `open`, `acknowledged` or `resolved`"))
        })
        .transpose()?;
    let carrier = query.carrier.as_deref().map(|text| params::carrier("carrier", text)).transpose()?;
    let area = query.area.as_deref().map(|text| params::division("area", text)).transpose()?;
    let from = query.from.as_deref().map(|text| params::instant("from", text, false)).transpose()?;
    let to = query.to.as_deref().map(|text| params::instant("to", text, true)).transpose()?;
    if let (Some(start), Some(end)) = (from, to) {
        if end <= start {
            return Err(ApiError::new(
                Code::InvalidQuery,
                format!("The range ends (`to` = `{end}`) before it starts (`from` = `{start}`)."),
            ));
        }
    }
    let before_id = query
        .before_id
        .as_deref()
        .map(|text| {
            text.trim()
                .parse::<i64>()
                .ok()
                .filter(|id| *id > 0)
                .ok_or_else(|| params::invalid("before_id", text, "it must be a positive alert id"))
        })
        .transpose()?;
    let limit = match query.limit.as_deref() {
        None => 100,
        Some(text) => text
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| params::invalid("limit", text, "it must be a whole number from 1 to 1000"))?,
    };
    let alert_query = AlertQuery {
        kind,
        carrier: carrier_scope(&caller, carrier)?,
        areas: areas_scope(&caller, area)?,
        status,
        from,
        to,
        before_id,
        limit,
    };
    let store = state.store().clone();
    let alerts = tokio::task::spawn_blocking(move || store.alerts(&alert_query)).await??;
    let next_before_id = if alerts.len() == limit { alerts.last().map(|alert| alert.id) } else { None };
    Ok(Json(AlertsResponse { alerts: alerts.iter().map(AlertView::from).collect(), next_before_id }))
}

/// An acknowledgement or resolution.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AlertUpdate {
    /// `acknowledged` or `resolved`.
    status: Option<String>,
    /// What was done; required to resolve.
    note: Option<String>,
}

/// Whether a regulator key sees an alert: its parcel's origin or destination city lies in the jurisdiction.
fn sees_alert(role: &Role, alert: &Alert) -> bool {
    role.sees_parcel(&alert.carrier, alert.origin_city.into_iter().chain(alert.destination_city))
}

/// The most a note may hold, in characters.
const MAX_NOTE_CHARS: usize = 2000;

/// Acknowledges or resolves an alert, recording the key and the time, and writes the audit log. Admin and
/// regulator keys only, a regulator within its jurisdiction.
#[utoipa::path(post, path = "/v1/alerts/{id}", tag = "supervision", params(("id" = i64, Path)),
    request_body = AlertUpdate, security(("api_key" = [])),
    responses(
        (status = 200, body = AlertView),
        (status = 403, description = "A carrier key", body = ErrorBody),
        (status = 404, description = "No alert with this id is visible to this key", body = ErrorBody),
        (status = 422, description = "A bad status, or a resolution without a note", body = ErrorBody),
    ))]
pub async fn post_alert(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<i64>,
    AppJson(update): AppJson<AlertUpdate>,
) -> Result<Json<AlertView>, ApiError> {
    if let Role::Carrier { carrier } = &caller.role {
        return Err(ApiError::new(
            Code::Forbidden,
            format!(
                "Key `{}` belongs to carrier `{carrier}`; only admin and regulator keys acknowledge or resolve alerts.",
                caller.key_id
            ),
        ));
    }
    let status = match update.status.as_deref().map(str::trim) {
        None => return Err(ApiError::new(Code::MissingField, "The field `status` is required.")),
        Some("acknowledged") => AlertStatus::Acknowledged,
        Some("resolved") => AlertStatus::Resolved,
        Some(other) => {
            return Err(ApiError::new(
                Code::InvalidField,
                format!("The field `status` is `{other}`, but it must be `acknowledged` or `resolved`."),
            ))
        }
    };
    let note = update.note.map(|note| note.trim().to_owned()).filter(|note| !note.is_empty());
    if status == AlertStatus::Resolved && note.is_none() {
        return Err(ApiError::new(
            Code::MissingField,
            "The field `note` is required to resolve an alert.\nHint: say what was done about it.",
        ));
    }
    if let Some(note) = &note {
        let n_chars = note.chars().count();
        if n_chars > MAX_NOTE_CHARS {
            return Err(ApiError::new(
                Code::InvalidField,
                format!("The field `note` holds {n_chars} characters; the limit is {MAX_NOTE_CHARS}."),
            ));
        }
    }
    let not_found =
        move || ApiError::new(Code::AlertNotFound, format!("No alert with the id `{id}` is visible to this key."));
    let view = tokio::task::spawn_blocking(move || {
        let store = state.store();
        // The store reads alerts newest first below an id: the first below `id + 1` is this one, if it exists.
        let query = AlertQuery { before_id: id.checked_add(1), limit: 1, ..AlertQuery::default() };
        let current = store.alerts(&query)?.into_iter().next().filter(|alert| alert.id == id);
        match current {
            Some(alert) if sees_alert(&caller.role, &alert) => {}
            _ => return Err(not_found()),
        }
        let at = state.now();
        let change = AlertChange { status, note: note.clone(), key_id: caller.key_id.clone(), at };
        let alert = store.update_alert(id, &change).map_err(|err| match err.kind() {
            ErrorKind::NotFound => not_found(),
            _ => ApiError::from(err),
        })?;
        store.audit(&AuditEntry {
            at,
            key_id: caller.key_id.clone(),
            action: format!("alert_{}", status.as_str()),
            subject: format!("alert/{id}"),
            detail: note.unwrap_or_default(),
        })?;
        Ok::<_, ApiError>(AlertView::from(&alert))
    })
    .await??;
    Ok(Json(view))
}
