//! GS1 EPCIS 2.0 REST bindings: `POST /v1/epcis/capture` (a document, as a capture job), `GET
//! /v1/epcis/capture/{capture_id}` (the job), `POST /v1/epcis/events` (one event), `GET /v1/epcis/events` (a
//! SimpleEventQuery with `nextPageToken` paging), and Kuaidi's JSON-LD context at `/v1/epcis/context/kuaidi.jsonld`.
//!
//! Every valid event is kept whole under its GS1 event hash; events that name a parcel also become scan events through
//! the one ingest pipeline. `GS1-Capture-Error-Behaviour: rollback` (the default) captures all or nothing: every
//! event is checked and every scan event validated before anything is stored. `proceed` keeps the good events.
//! Errors are RFC 7807 problem documents whose `type` is the `epcisException` the standard names, with Kuaidi's
//! `code` and `link` beside it.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use kuaidi_formats::epcis::{self, EpcisEvent, VocabKind};
use kuaidi_formats::DecodeError;
use kuaidi_model::{Record, Role};
use kuaidi_store::{Capture, CaptureJob, EpcisQuery, EpcisRecord, Outcome};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::error::{ApiError, Code};
use crate::extract::{parse_json, AppPath, AppQuery, JsonBytes, JsonValue};
use crate::ingest::{answer, record_key, validate_chunk};
use crate::AppState;

/// An error as an RFC 7807 problem document with the GS1 exception type.
#[derive(Debug)]
pub struct EpcisError(pub ApiError);

impl From<ApiError> for EpcisError {
    fn from(err: ApiError) -> EpcisError {
        EpcisError(err)
    }
}

/// The body of an EPCIS error.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// `epcisException:ValidationException`, `epcisException:NoSuchResourceException`, ...
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// What went wrong.
    pub detail: String,
    /// The same as `detail`, under the name every other Kuaidi error uses.
    pub message: String,
    /// Kuaidi's stable error code.
    pub code: &'static str,
    /// Where the code is documented.
    pub link: String,
}

fn exception(code: Code) -> &'static str {
    match code {
        Code::InvalidEpcis | Code::InvalidJson | Code::InvalidQuery | Code::InvalidField | Code::MissingField => {
            "epcisException:ValidationException"
        }
        Code::CaptureJobNotFound | Code::RouteNotFound => "epcisException:NoSuchResourceException",
        Code::MissingApiKey | Code::InvalidApiKey | Code::Forbidden | Code::CarrierMismatch => {
            "epcisException:SecurityException"
        }
        Code::PayloadTooLarge => "epcisException:CaptureLimitExceededException",
        _ => "epcisException:ImplementationException",
    }
}

impl IntoResponse for EpcisError {
    fn into_response(self) -> Response {
        let code = self.0.code;
        let body = self.0.body();
        let problem = Problem {
            problem_type: exception(code).to_owned(),
            title: code.doc().to_owned(),
            status: code.status().as_u16(),
            detail: body.message.clone(),
            message: body.message,
            code: body.code,
            link: body.link,
        };
        let mut response = self.0.into_response();
        *response.body_mut() = axum::body::Body::from(serde_json::to_vec(&problem).unwrap_or_default());
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        response
    }
}

fn invalid_epcis(err: &DecodeError) -> ApiError {
    ApiError::new(Code::InvalidEpcis, format!("The EPCIS document is not valid: {err}."))
}

/// The state of a capture job, as the REST bindings describe it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptureJobView {
    /// The capture id.
    #[serde(rename = "captureID")]
    pub capture_id: String,
    /// When the document was received.
    pub created_at: String,
    /// When capture finished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Whether capture is still running.
    pub running: bool,
    /// Whether every event was captured.
    pub success: bool,
    /// `rollback` or `proceed`.
    pub capture_error_behaviour: String,
    /// Events in the document.
    pub n_events: u64,
    /// One entry per event not captured: its index, and why.
    #[schema(value_type = Vec<Object>)]
    pub errors: Value,
}

impl CaptureJobView {
    fn of(job: CaptureJob) -> CaptureJobView {
        CaptureJobView {
            capture_id: job.id,
            created_at: job.created_at.to_rfc3339(),
            finished_at: job.finished_at.map(|t| t.to_rfc3339()),
            running: job.running,
            success: job.success,
            capture_error_behaviour: job.behaviour,
            n_events: job.n_events,
            errors: serde_json::from_str(&job.errors).unwrap_or(Value::Array(Vec::new())),
        }
    }
}

fn record_of(event: EpcisEvent) -> EpcisRecord {
    EpcisRecord {
        event_type: event.event_type.as_str().to_owned(),
        event_time: event.event_time.with_timezone(&Utc),
        biz_step: event.biz_step.as_ref().map(|v| v.canonical(VocabKind::BizStep)),
        disposition: event.disposition.as_ref().map(|v| v.canonical(VocabKind::Disposition)),
        body: event.body.to_string(),
        hash: event.hash,
        action: event.action,
        read_point: event.read_point,
        biz_location: event.biz_location,
        epcs: event.epcs,
    }
}

/// One event of a document after checking: its record to keep and, when it names a parcel, its scan event.
type Prepared = Result<(EpcisRecord, Option<Record>), Value>;

/// Checks one event, hashes it, maps it to a scan event and renders its body: the per-event work of a capture, which
/// runs on several threads. An error is the job's error entry for the event.
fn prepare(idx: usize, event: Result<EpcisEvent, DecodeError>) -> Prepared {
    let event =
        event.map_err(|err| json!({ "index": idx, "code": Code::InvalidEpcis.name(), "message": err.to_string() }))?;
    let scan = match epcis::to_scan_event(&event) {
        Some(Err(err)) => return Err(error_entry(idx, &err)),
        Some(Ok(scan)) => Some(Record::Event(Box::new(scan))),
        None => None,
    };
    Ok((record_of(event), scan))
}

/// [`prepare`] over a document's events, each first made a JSON value by `value`, on the rayon pool, in order.
fn prepare_all<T: Send>(
    namespaces: &epcis::Namespaces,
    events: Vec<T>,
    value: impl Fn(T) -> Result<Value, DecodeError> + Sync,
) -> Vec<Prepared> {
    events
        .into_par_iter()
        .enumerate()
        .map(|(idx, event)| {
            prepare(idx, value(event).and_then(|event| epcis::parse_document_event(event, namespaces, idx)))
        })
        .collect()
}

fn error_entry(idx: usize, err: &kuaidi_model::ValidationError) -> Value {
    json!({ "index": idx, "code": err.code(), "field": err.field(), "message": err.to_string() })
}

/// Captures checked events: validates their scan events, then stores the scan events, the EPCIS events and the job
/// in one store call ([`kuaidi_store::Store::capture_at`]).
fn capture(state: &AppState, role: &Role, events: Vec<Prepared>, rollback: bool) -> Result<CaptureJob, ApiError> {
    let created_at = state.now();
    let n_events = events.len() as u64;
    let mut errors = Vec::new();
    let mut good: Vec<(usize, EpcisRecord, Option<Record>)> = Vec::with_capacity(events.len());
    for (idx, event) in events.into_iter().enumerate() {
        match event {
            Ok((record, scan)) => good.push((idx, record, scan)),
            Err(entry) => errors.push(entry),
        }
    }
    let verdicts = validate_chunk(state, role, good.iter().filter_map(|(_, _, scan)| scan.as_ref()))?;
    let mut verdicts = verdicts.into_iter();
    let mut invalid = std::collections::HashSet::new();
    for (idx, _, scan) in &good {
        if scan.is_some() {
            if let Some(Err(err)) = verdicts.next() {
                errors.push(error_entry(*idx, &err));
                invalid.insert(*idx);
            }
        }
    }
    errors.sort_by_key(|e| e["index"].as_u64());
    if rollback && !errors.is_empty() {
        let messages: Vec<String> = errors
            .iter()
            .map(|e| format!("event {}: {}", e["index"], e["message"].as_str().unwrap_or_default()))
            .collect();
        return Err(ApiError::new(
            Code::InvalidEpcis,
            format!("Nothing was captured, because the capture is all or nothing: {}.\nHint: send `GS1-Capture-Error-Behaviour: proceed` to keep the valid events.", messages.join("; ")),
        ));
    }
    // What is stored: every event whose scan event (if any) is valid; the scan events beside them.
    let mut records = Vec::with_capacity(good.len());
    let mut kept = Vec::with_capacity(good.len());
    let mut scan_of = Vec::with_capacity(good.len());
    let mut index_of = Vec::with_capacity(good.len());
    for (idx, record, scan) in good {
        if invalid.contains(&idx) {
            continue;
        }
        scan_of.push(scan.map(|scan| {
            records.push(scan);
            index_of.push(idx);
            records.len() - 1
        }));
        kept.push(record);
    }
    let mut job = CaptureJob {
        id: format!("cap_{:016x}", rand::random::<u64>()),
        created_at,
        finished_at: Some(state.now()),
        running: false,
        success: errors.is_empty(),
        behaviour: if rollback { "rollback" } else { "proceed" }.to_owned(),
        n_events,
        errors: Value::Array(errors.clone()).to_string(),
    };
    let outcomes = state
        .store()
        .capture_at(&Capture { records: &records, events: &kept, scan_of: &scan_of, job: &job }, state.now())?;
    let conflicts: Vec<Value> = outcomes
        .iter()
        .zip(&records)
        .zip(&index_of)
        .filter(|((outcome, _), _)| **outcome == Outcome::Conflict)
        .map(|((outcome, record), idx)| {
            let result = answer(*idx as u64, "event", record_key(record), *outcome);
            json!({ "index": idx, "code": result.code, "field": result.field, "message": result.message })
        })
        .collect();
    // Freeing a document's bodies and events takes a while; the answer need not wait for it.
    rayon::spawn(move || drop((records, kept)));
    if !conflicts.is_empty() {
        errors.extend(conflicts);
        errors.sort_by_key(|e| e["index"].as_u64());
        job.success = false;
        job.errors = Value::Array(errors).to_string();
        state.store().put_capture_job(&job)?;
    }
    Ok(job)
}

fn may_capture(role: &Role) -> Result<(), ApiError> {
    if matches!(role, Role::Regulator { .. }) {
        return Err(ApiError::new(Code::Forbidden, "A regulator key is read-only; it may not capture EPCIS events."));
    }
    Ok(())
}

fn rollback(headers: &HeaderMap) -> Result<bool, ApiError> {
    match headers.get("GS1-Capture-Error-Behaviour").map(|v| v.to_str().unwrap_or("")) {
        None | Some("rollback") => Ok(true),
        Some("proceed") => Ok(false),
        Some(other) => Err(ApiError::new(
            Code::InvalidEpcis,
            format!("The header `GS1-Capture-Error-Behaviour` is `{other}`; it must be `rollback` or `proceed`."),
        )),
    }
}

fn accepted(job: CaptureJob) -> Response {
    let location = format!("/v1/epcis/capture/{}", job.id);
    let mut response = (StatusCode::ACCEPTED, Json(CaptureJobView::of(job))).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// Captures an EPCIS document. The job is done when the answer comes; its state stays at the `Location`.
#[utoipa::path(post, path = "/v1/epcis/capture", tag = "epcis", security(("api_key" = [])),
    params(("GS1-Capture-Error-Behaviour" = Option<String>, Header, description = "`rollback` (default) or `proceed`")),
    request_body(content = Object, content_type = "application/ld+json", description = "An EPCISDocument"),
    responses(
        (status = 202, description = "Captured; the job is at `Location`", body = CaptureJobView),
        (status = 400, description = "Not a valid EPCIS document", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_capture(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Result<JsonBytes, ApiError>,
) -> Result<Response, EpcisError> {
    may_capture(&caller.role)?;
    let rollback = rollback(&headers)?;
    // A body that is not JSON answers as an EPCIS problem too.
    let JsonBytes(body) = body?;
    let role = caller.role.clone();
    let job = tokio::task::spawn_blocking(move || {
        // Parsing, checking, hashing and rendering each event is independent work: rayon spreads it over the cores,
        // in order. The envelope is checked first, on its own.
        let events = match epcis::split_document_text(&body).map_err(|err| invalid_epcis(&err))? {
            Some((namespaces, events)) => prepare_all(&namespaces, events, |text| {
                serde_json::from_str(text.get()).map_err(|err| DecodeError::Syntax(err.to_string()))
            }),
            None => {
                let (namespaces, events) =
                    epcis::split_document(parse_json(&body)?).map_err(|err| invalid_epcis(&err))?;
                prepare_all(&namespaces, events, Ok)
            }
        };
        capture(&state, &role, events, rollback)
    })
    .await
    .map_err(ApiError::from)??;
    Ok(accepted(job))
}

/// Captures one EPCIS event, which carries its own `@context`.
#[utoipa::path(post, path = "/v1/epcis/events", tag = "epcis", security(("api_key" = [])),
    request_body(content = Object, content_type = "application/ld+json", description = "One EPCIS event"),
    responses(
        (status = 202, description = "Captured; the job is at `Location`", body = CaptureJobView),
        (status = 400, description = "Not a valid EPCIS event", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn post_event(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<JsonValue, ApiError>,
) -> Result<Response, EpcisError> {
    may_capture(&caller.role)?;
    let JsonValue(body) = body?;
    let event = epcis::parse_event(&body).map_err(|err| invalid_epcis(&err))?;
    let role = caller.role.clone();
    let job = tokio::task::spawn_blocking(move || capture(&state, &role, vec![prepare(0, Ok(event))], true))
        .await
        .map_err(ApiError::from)??;
    Ok(accepted(job))
}

/// The state of a capture job.
#[utoipa::path(get, path = "/v1/epcis/capture/{capture_id}", tag = "epcis", security(("api_key" = [])),
    params(("capture_id" = String, Path, description = "The id from the capture's `Location`")),
    responses(
        (status = 200, description = "The job", body = CaptureJobView),
        (status = 404, description = "No such job", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_capture(
    State(state): State<AppState>,
    _caller: Caller,
    AppPath(capture_id): AppPath<String>,
) -> Result<Json<CaptureJobView>, EpcisError> {
    let job = tokio::task::spawn_blocking(move || state.store().capture_job(&capture_id).map(|job| (job, capture_id)))
        .await
        .map_err(ApiError::from)?
        .map_err(ApiError::from)?;
    match job {
        (Some(job), _) => Ok(Json(CaptureJobView::of(job))),
        (None, id) => Err(ApiError::new(Code::CaptureJobNotFound, format!("No capture job has the id `{id}`.")).into()),
    }
}

/// The SimpleEventQuery parameters Kuaidi supports. Lists are comma-separated alternatives.
#[derive(Debug, Deserialize, IntoParams)]
pub struct EventsQuery {
    /// Events at or after this RFC 3339 time.
    #[serde(rename = "GE_eventTime")]
    ge_event_time: Option<String>,
    /// Events before this RFC 3339 time.
    #[serde(rename = "LT_eventTime")]
    lt_event_time: Option<String>,
    /// Event types, such as `ObjectEvent`.
    #[serde(rename = "eventType")]
    event_type: Option<String>,
    /// Actions.
    #[serde(rename = "EQ_action")]
    eq_action: Option<String>,
    /// Business steps: CBV words, URNs or URIs.
    #[serde(rename = "EQ_bizStep")]
    eq_biz_step: Option<String>,
    /// Dispositions.
    #[serde(rename = "EQ_disposition")]
    eq_disposition: Option<String>,
    /// Read point ids.
    #[serde(rename = "EQ_readPoint")]
    eq_read_point: Option<String>,
    /// Business location ids.
    #[serde(rename = "EQ_bizLocation")]
    eq_biz_location: Option<String>,
    /// Identifiers, any of which the event names (EPCs, parent ids, EPC classes).
    #[serde(rename = "MATCH_anyEPC")]
    match_any_epc: Option<String>,
    /// Events per page, 1 to 1000 (default 100).
    #[serde(rename = "perPage")]
    per_page: Option<usize>,
    /// The token of the next page, from the previous answer.
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

fn list(text: &Option<String>) -> Vec<String> {
    text.as_deref()
        .map(|t| t.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn canonical_list(text: &Option<String>, kind: VocabKind, name: &str) -> Result<Vec<String>, ApiError> {
    list(text)
        .into_iter()
        .map(|value| {
            epcis::resolve(kind, &value).map(|v| v.canonical(kind)).map_err(|reason| {
                ApiError::new(
                    Code::InvalidQuery,
                    format!("The parameter `{name}` has the value `{value}`, which {reason}."),
                )
            })
        })
        .collect()
}

fn time(text: &Option<String>, name: &str) -> Result<Option<DateTime<Utc>>, ApiError> {
    text.as_deref()
        .map(|t| {
            DateTime::parse_from_rfc3339(t).map(|t| t.with_timezone(&Utc)).map_err(|_| {
                ApiError::new(
                    Code::InvalidQuery,
                    format!("The parameter `{name}` has the value `{t}`, which is not an RFC 3339 time."),
                )
            })
        })
        .transpose()
}

/// Queries the captured EPCIS events (admin and regulator keys).
#[utoipa::path(get, path = "/v1/epcis/events", tag = "epcis", security(("api_key" = [])), params(EventsQuery),
    responses(
        (status = 200, description = "An EPCISQueryDocument; `Link: <...>; rel=\"next\"` when there is more", body = Object),
        (status = 400, description = "A malformed parameter", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_events(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(query): AppQuery<EventsQuery>,
) -> Result<Response, EpcisError> {
    if matches!(caller.role, Role::Carrier { .. }) {
        return Err(ApiError::new(
            Code::Forbidden,
            "EPCIS events of every party are stored together, so only admin and regulator keys may query them.",
        )
        .into());
    }
    let per_page = query.per_page.unwrap_or(100);
    if !(1..=1000).contains(&per_page) {
        return Err(ApiError::new(
            Code::InvalidQuery,
            format!("The parameter `perPage` is `{per_page}`; it must be from 1 to 1000."),
        )
        .into());
    }
    let after_seq = match query.next_page_token.as_deref() {
        None => None,
        Some(token) => Some(token.parse::<i64>().map_err(|_| {
            ApiError::new(
                Code::InvalidQuery,
                format!("The parameter `nextPageToken` is `{token}`, which no answer gave."),
            )
        })?),
    };
    let store_query = EpcisQuery {
        ge_event_time: time(&query.ge_event_time, "GE_eventTime")?,
        lt_event_time: time(&query.lt_event_time, "LT_eventTime")?,
        event_types: list(&query.event_type),
        actions: list(&query.eq_action),
        biz_steps: canonical_list(&query.eq_biz_step, VocabKind::BizStep, "EQ_bizStep")?,
        dispositions: canonical_list(&query.eq_disposition, VocabKind::Disposition, "EQ_disposition")?,
        read_points: list(&query.eq_read_point),
        biz_locations: list(&query.eq_biz_location),
        epcs: list(&query.match_any_epc),
        after_seq,
        limit: per_page + 1,
    };
    let mut rows = tokio::task::spawn_blocking(move || state.store().query_epcis(&store_query))
        .await
        .map_err(ApiError::from)?
        .map_err(ApiError::from)?;
    let more = rows.len() > per_page;
    rows.truncate(per_page);
    let next = more.then(|| rows.last().map(|row| row.seq.to_string())).flatten();
    let events: Vec<Value> = rows
        .iter()
        .map(|row| {
            let mut event: Value = serde_json::from_str(&row.body).unwrap_or(Value::Null);
            if let Value::Object(map) = &mut event {
                map.insert("recordTime".into(), row.record_time.to_rfc3339().into());
            }
            event
        })
        .collect();
    let mut document = json!({
        "@context": [epcis::EXPORT_CONTEXT],
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": Utc::now().to_rfc3339(),
        "epcisBody": { "queryResults": { "queryName": "SimpleEventQuery", "resultsBody": { "eventList": events } } },
    });
    if let Some(token) = &next {
        document["nextPageToken"] = Value::from(token.as_str());
    }
    let mut response = Json(document).into_response();
    if let Some(token) = next {
        if let Ok(value) = HeaderValue::from_str(&format!("</v1/epcis/events?nextPageToken={token}>; rel=\"next\"")) {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    Ok(response)
}

/// Kuaidi's EPCIS extension vocabulary as a JSON-LD context (public).
#[utoipa::path(get, path = "/v1/epcis/context/kuaidi.jsonld", tag = "epcis",
    responses((status = 200, description = "The JSON-LD context", body = Object, content_type = "application/ld+json")))]
pub async fn get_context() -> Response {
    let mut response = Json(epcis::kuaidi_context()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/ld+json"));
    response
}
