//! Tracing a parcel forward (its chain of custody) and backward (what a vehicle or operator carried), with the
//! visibility rule applied: a caller never learns of a parcel its role does not see.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use kuaidi_model::{AdminCode, CarrierCode, ScanEvent, Waybill, WaybillNo};
use kuaidi_store::Handler;

use kuaidi_model::ParcelStatus;
use kuaidi_store::AuditEntry;

use crate::auth::Caller;
use crate::error::{ApiError, Code};
use crate::state::ReferenceData;
use crate::v1::{Disclosure, EventView, HandledParcel, HandledResponse, TraceResponse, WaybillView};
use crate::AppState;

/// A parcel as stored: its waybill (when received) and its events in time order.
#[derive(Debug)]
pub struct Parcel {
    /// The carrier.
    pub carrier: CarrierCode,
    /// The number.
    pub waybill_no: WaybillNo,
    /// The waybill, when it has been received.
    pub waybill: Option<Waybill>,
    /// Events in time order.
    pub events: Vec<ScanEvent>,
}

/// The divisions a parcel touches: its addresses and every facility it was scanned at.
fn divisions_of<'a>(
    waybill: Option<&'a Waybill>,
    events: &'a [ScanEvent],
    reference: &'a ReferenceData,
) -> impl Iterator<Item = AdminCode> + 'a {
    let addresses = waybill.into_iter().flat_map(|w| [w.sender.address.division, w.receiver.address.division]);
    let facilities = events.iter().filter_map(|e| reference.facilities.get(&e.facility)).map(|f| f.division);
    addresses.chain(facilities)
}

/// Loads a parcel by number, for a caller that may see it. `carrier` picks one when several carriers use the number;
/// a carrier key always means its own carrier.
pub fn load_parcel(
    state: &AppState,
    caller: &Caller,
    waybill_no: &WaybillNo,
    carrier: Option<CarrierCode>,
) -> Result<Parcel, ApiError> {
    let not_found = || {
        ApiError::new(
            Code::WaybillNotFound,
            format!("No parcel with the waybill number `{waybill_no}` is visible to this key."),
        )
    };
    let store = state.store();
    let carrier = match (carrier, &caller.role) {
        (_, kuaidi_model::Role::Carrier { carrier }) => carrier.clone(),
        (Some(carrier), _) => carrier,
        (None, _) => {
            let candidates = store.carriers_of(waybill_no)?;
            match candidates.as_slice() {
                [] => return Err(not_found()),
                [only] => only.clone(),
                several => {
                    let names: Vec<String> = several.iter().map(|c| format!("`{c}`")).collect();
                    return Err(ApiError::new(
                        Code::WaybillAmbiguous,
                        format!(
                            "The waybill number `{waybill_no}` is used by {}.\nHint: add `?carrier=` with one of them.",
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    let waybill = store.waybill(&carrier, waybill_no)?;
    let events = store.events_of(&carrier, waybill_no)?;
    if waybill.is_none() && events.is_empty() {
        return Err(not_found());
    }
    let reference = state.reference();
    if !caller.role.sees_parcel(&carrier, divisions_of(waybill.as_ref(), &events, &reference)) {
        return Err(not_found());
    }
    Ok(Parcel { carrier, waybill_no: waybill_no.clone(), waybill, events })
}

/// A parcel's trace as the API answers it. Revealing personal data needs a role that may, and writes the audit log
/// before the data leaves; `endpoint` names where the view was asked for.
pub fn trace_view(
    state: &AppState,
    caller: &Caller,
    waybill_no: &WaybillNo,
    carrier: Option<CarrierCode>,
    disclosure: Disclosure,
    endpoint: &str,
) -> Result<TraceResponse, ApiError> {
    if disclosure == Disclosure::Revealed && !caller.role.may_reveal_personal_data() {
        return Err(ApiError::new(
            Code::Forbidden,
            format!(
                "Key `{}` ({}) may not reveal personal data; only admin and regulator keys may.",
                caller.key_id, caller.role
            ),
        ));
    }
    let parcel = load_parcel(state, caller, waybill_no, carrier)?;
    if disclosure == Disclosure::Revealed && parcel.waybill.is_some() {
        state.store().audit(&AuditEntry {
            at: state.now(),
            key_id: caller.key_id.clone(),
            action: "reveal_personal_data".into(),
            subject: format!("{}/{}", parcel.carrier, parcel.waybill_no),
            detail: endpoint.to_owned(),
        })?;
    }
    let reference = state.reference();
    Ok(TraceResponse {
        carrier: parcel.carrier.to_string(),
        waybill_no: parcel.waybill_no.to_string(),
        status: ParcelStatus::of(&parcel.events).as_str(),
        personal_data: disclosure,
        waybill: parcel.waybill.as_ref().map(|w| WaybillView::new(w, disclosure)),
        events: parcel.events.iter().map(|e| EventView::new(e, &reference)).collect(),
    })
}

/// A reverse trace as the API answers it: every parcel `handler` touched in `[from, to)` that the caller may see,
/// with the handler's events on each, in order of the handler's first event; `truncated` when `limit` cut it short.
pub fn reverse_view(
    state: &AppState,
    caller: &Caller,
    handler: &Handler,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> Result<HandledResponse, ApiError> {
    let store = state.store();
    let events = store.handled_by(handler, from, to, limit + 1)?;
    let truncated = events.len() > limit;
    let mut by_parcel: BTreeMap<(CarrierCode, WaybillNo), (usize, Vec<ScanEvent>)> = BTreeMap::new();
    for (order, event) in events.into_iter().take(limit).enumerate() {
        let key = (event.carrier.clone(), event.waybill_no.clone());
        by_parcel.entry(key).or_insert_with(|| (order, Vec::new())).1.push(event);
    }
    let reference = state.reference();
    let mut visible = Vec::new();
    for ((carrier, waybill_no), (first, handled)) in by_parcel {
        // The whole parcel decides, not just the handler's events: a truck from Shanghai carrying a parcel to Suzhou
        // is the Suzhou regulator's business. Only a regulator's rule needs the parcel's divisions, so only it loads them.
        let seen = if let kuaidi_model::Role::Regulator { .. } = &caller.role {
            let waybill = store.waybill(&carrier, &waybill_no)?;
            let all_events = store.events_of(&carrier, &waybill_no)?;
            caller.role.sees_parcel(&carrier, divisions_of(waybill.as_ref(), &all_events, &reference))
        } else {
            caller.role.sees_parcel(&carrier, [])
        };
        if seen {
            let events = handled.iter().map(|e| EventView::new(e, &reference)).collect();
            visible.push((
                first,
                HandledParcel { carrier: carrier.to_string(), waybill_no: waybill_no.to_string(), events },
            ));
        }
    }
    visible.sort_by_key(|(first, _)| *first);
    let parcels = visible.into_iter().map(|(_, parcel)| parcel).collect();
    let (kind, id) = match handler {
        Handler::Operator(id) => ("operator", id.clone()),
        Handler::Vehicle(id) => ("vehicle", id.clone()),
    };
    Ok(HandledResponse {
        handler_kind: kind,
        handler: id,
        from: from.to_rfc3339(),
        to: to.to_rfc3339(),
        parcels,
        truncated,
    })
}
