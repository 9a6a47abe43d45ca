//! `GET /v1/track/{waybill_no}?phone_last4=1234`: public tracking for consumers, no key, masked, rate-limited.
//!
//! A wrong phone suffix and an unknown number get the same answer, so the endpoint cannot be used to learn which
//! numbers exist. Operator ids and street addresses are never shown here.

use axum::extract::State;
use axum::Json;
use kuaidi_model::{mask, ParcelStatus};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, Code, ErrorBody};
use crate::extract::{AppPath, AppQuery, ClientAddr};
use crate::routes::waybills::path_waybill_no;
use crate::v1::{city_name, TrackEvent, TrackResponse};
use crate::AppState;

/// The consumer's proof of interest.
#[derive(Debug, Deserialize, IntoParams)]
pub struct TrackQuery {
    /// The last four digits of the receiver's phone.
    phone_last4: String,
}

/// A parcel's masked tracking view.
#[utoipa::path(get, path = "/v1/track/{waybill_no}", tag = "public", params(("waybill_no" = String, Path), TrackQuery),
    responses(
        (status = 200, body = TrackResponse),
        (status = 404, description = "No parcel matches the number and phone suffix", body = ErrorBody),
        (status = 429, description = "Too many requests from this address", body = ErrorBody),
    ))]
pub async fn get_track(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    AppPath(waybill_no): AppPath<String>,
    AppQuery(query): AppQuery<TrackQuery>,
) -> Result<Json<TrackResponse>, ApiError> {
    if !state.allow_tracking(addr) {
        return Err(ApiError::new(
            Code::RateLimited,
            format!("Too many tracking requests from `{addr}`.\nHint: wait a minute and try again."),
        ));
    }
    let waybill_no = path_waybill_no(&waybill_no)?;
    let suffix = query.phone_last4;
    if suffix.len() != 4 || !suffix.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::new(
            Code::InvalidQuery,
            format!("The phone suffix `{suffix}` must be exactly 4 digits."),
        ));
    }
    let worker_state = state.clone();
    let found = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
        let store = worker_state.store();
        for carrier in store.carriers_of(&waybill_no)? {
            if let Some(waybill) = store.waybill(&carrier, &waybill_no)? {
                if waybill.receiver.phone.last4() == suffix {
                    let events = store.events_of(&carrier, &waybill_no)?;
                    return Ok(Some((waybill, events)));
                }
            }
        }
        Ok(None)
    })
    .await??;
    let Some((waybill, events)) = found else {
        return Err(ApiError::new(Code::TrackingNotFound, "No parcel matches this waybill number and phone suffix."));
    };
    let reference = state.reference();
    let mut lines: Vec<TrackEvent> = events
        .iter()
        .map(|e| {
            let city = reference.facilities.get(&e.facility).map(|f| city_name(f.division)).unwrap_or_default();
            TrackEvent {
                time: e.time.to_rfc3339(),
                kind: e.kind.as_str(),
                description: format!("【{city}】{}", e.kind.name_zh()),
            }
        })
        .collect();
    lines.reverse();
    let carrier_name = reference.carriers.get(&waybill.carrier).cloned().unwrap_or_else(|| waybill.carrier.to_string());
    Ok(Json(TrackResponse {
        waybill_no: waybill.waybill_no.to_string(),
        carrier: carrier_name,
        status: ParcelStatus::of(&events).as_str(),
        origin: mask::address(&waybill.sender.address),
        destination: mask::address(&waybill.receiver.address),
        receiver_name: mask::name(&waybill.receiver.name),
        receiver_phone: mask::phone(waybill.receiver.phone.as_str()),
        events: lines,
    }))
}
