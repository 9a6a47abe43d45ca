//! GS1 EPCIS 2.0 in JSON / JSON-LD: reading and checking capture documents, the GS1 canonical event hash, and the
//! mapping between EPCIS events and Kuaidi's scan events.
//!
//! Kuaidi keeps every valid EPCIS event as it was captured (keyed by its event hash), so a query gives it back whole;
//! an event that identifies a parcel (see [`mapping`]) also becomes a Kuaidi scan event.
//! Checks go beyond the JSON Schema: bare-word business steps, dispositions and other CBV values must be CBV words,
//! and every extension field must be namespaced with a prefix the document declares.

pub mod hash;
pub mod mapping;
mod vocab;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use kuaidi_model::{InvalidValue, ValidationError};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::{parse_time, DecodeError};

pub use mapping::{
    scan_event_to_epcis, scan_events_to_document, to_scan_event, EXPORT_CONTEXT, FACILITY_PREFIX, PARCEL_EPC_PREFIX,
};
pub use vocab::{
    kind_to_vocab, kuaidi_context, resolve, vocab_to_kind, VocabKind, VocabValue, CBV_BIZ_STEPS, CBV_DISPOSITIONS,
    KUAIDI_BIZ_STEPS, KUAIDI_DISPOSITIONS, KUAIDI_NS, KUAIDI_PREFIX,
};

/// The five EPCIS event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// Something observed about objects.
    Object,
    /// Objects packed into or unpacked from a parent.
    Aggregation,
    /// Objects tied to or untied from a business transaction.
    Transaction,
    /// Inputs consumed and outputs produced.
    Transformation,
    /// Assets associated with a parent.
    Association,
}

impl EventType {
    /// Every type.
    pub const ALL: [EventType; 5] = [
        EventType::Object,
        EventType::Aggregation,
        EventType::Transaction,
        EventType::Transformation,
        EventType::Association,
    ];

    /// The JSON `type`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Object => "ObjectEvent",
            EventType::Aggregation => "AggregationEvent",
            EventType::Transaction => "TransactionEvent",
            EventType::Transformation => "TransformationEvent",
            EventType::Association => "AssociationEvent",
        }
    }

    /// Parses a JSON `type`.
    pub fn parse(text: &str) -> Result<EventType, InvalidValue> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text).ok_or_else(|| {
            InvalidValue::new(
                text,
                "must be one of ObjectEvent, AggregationEvent, TransactionEvent, TransformationEvent, AssociationEvent",
            )
        })
    }

    /// The fields of this type beyond the common ones; anything else must be a namespaced extension.
    fn fields(self) -> &'static [&'static str] {
        match self {
            EventType::Object => &[
                "action",
                "epcList",
                "quantityList",
                "ilmd",
                "bizStep",
                "disposition",
                "persistentDisposition",
                "readPoint",
                "bizLocation",
                "bizTransactionList",
                "sourceList",
                "destinationList",
                "sensorElementList",
            ],
            EventType::Aggregation | EventType::Association => &[
                "action",
                "parentID",
                "childEPCs",
                "childQuantityList",
                "bizStep",
                "disposition",
                "persistentDisposition",
                "readPoint",
                "bizLocation",
                "bizTransactionList",
                "sourceList",
                "destinationList",
                "sensorElementList",
            ],
            EventType::Transaction => &[
                "action",
                "parentID",
                "epcList",
                "quantityList",
                "bizStep",
                "disposition",
                "persistentDisposition",
                "readPoint",
                "bizLocation",
                "bizTransactionList",
                "sourceList",
                "destinationList",
                "sensorElementList",
            ],
            EventType::Transformation => &[
                "inputEPCList",
                "inputQuantityList",
                "outputEPCList",
                "outputQuantityList",
                "transformationID",
                "ilmd",
                "bizStep",
                "disposition",
                "persistentDisposition",
                "readPoint",
                "bizLocation",
                "bizTransactionList",
                "sourceList",
                "destinationList",
                "sensorElementList",
            ],
        }
    }
}

/// Fields every event may have; `id` is the JSON-LD node id of the simple context.
const COMMON_FIELDS: &[&str] = &[
    "@context",
    "id",
    "type",
    "eventTime",
    "recordTime",
    "eventTimeZoneOffset",
    "eventID",
    "certificationInfo",
    "errorDeclaration",
];

/// Prefixes every EPCIS 2.0 document may use without declaring them, from the standard context.
const STANDARD_PREFIXES: &[(&str, &str)] = &[
    ("gs1", "https://gs1.org/voc/"),
    ("cbv", "https://ref.gs1.org/cbv/"),
    ("epcis", "https://ref.gs1.org/epcis/"),
    ("cbvmda", "urn:epcglobal:cbv:mda:"),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("owl", "http://www.w3.org/2002/07/owl#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("dcterms", "http://purl.org/dc/terms/"),
    ("sh", "http://www.w3.org/ns/shacl#"),
];

/// The namespace prefixes in scope: the standard ones plus those a document or event declares in `@context`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    /// Shared, because every event of a document starts from the document's prefixes and few declare their own.
    prefixes: Arc<BTreeMap<String, String>>,
}

impl Namespaces {
    /// The standard prefixes only.
    pub fn standard() -> Namespaces {
        let prefixes = STANDARD_PREFIXES.iter().map(|(p, uri)| ((*p).to_owned(), (*uri).to_owned())).collect();
        Namespaces { prefixes: Arc::new(prefixes) }
    }

    /// These prefixes plus those declared in a `@context` value (a string, an object, or an array of them).
    fn with_context(&self, context: &Value) -> Namespaces {
        let mut out = self.clone();
        let mut add = |object: &Map<String, Value>| {
            for (prefix, uri) in object {
                if let Value::String(uri) = uri {
                    Arc::make_mut(&mut out.prefixes).insert(prefix.clone(), uri.clone());
                }
            }
        };
        match context {
            Value::Object(object) => add(object),
            Value::Array(items) => items.iter().filter_map(Value::as_object).for_each(&mut add),
            _ => {}
        }
        out
    }

    /// The declared prefixes beyond the standard ones, as a JSON-LD context object.
    pub fn declared(&self) -> Map<String, Value> {
        self.prefixes
            .iter()
            .filter(|(prefix, uri)| !STANDARD_PREFIXES.contains(&(prefix.as_str(), uri.as_str())))
            .map(|(prefix, uri)| (prefix.clone(), Value::String(uri.clone())))
            .collect()
    }

    /// Expands a compact IRI (`example:myField`) to a full one; an absolute URI or a term without a declared prefix
    /// comes back unchanged.
    pub fn expand(&self, term: &str) -> String {
        match term.split_once(':') {
            Some((prefix, rest)) if !rest.starts_with("//") => match self.prefixes.get(prefix) {
                Some(uri) => format!("{uri}{rest}"),
                None => term.to_owned(),
            },
            _ => term.to_owned(),
        }
    }

    /// Whether `term` expands to `iri`, without building the expansion.
    fn expands_to(&self, term: &str, iri: &str) -> bool {
        match term.split_once(':') {
            Some((prefix, rest)) if !rest.starts_with("//") => match self.prefixes.get(prefix) {
                Some(uri) => {
                    iri.len() == uri.len() + rest.len() && iri.starts_with(uri.as_str()) && iri.ends_with(rest)
                }
                None => term == iri,
            },
            _ => term == iri,
        }
    }

    /// Whether `term` names the IRI `namespace` + `local`, without building either.
    fn names(&self, term: &str, namespace: &str, local: &str) -> bool {
        match term.split_once(':') {
            Some((prefix, rest)) if !rest.starts_with("//") => {
                rest == local && self.prefixes.get(prefix).is_some_and(|uri| uri == namespace)
            }
            _ => term.len() == namespace.len() + local.len() && term.starts_with(namespace) && term.ends_with(local),
        }
    }

    /// Whether a field name is a valid extension name: a compact IRI with a declared prefix, or an absolute URI.
    fn is_extension_name(&self, name: &str) -> bool {
        match name.split_once(':') {
            Some((prefix, rest)) => rest.starts_with("//") || (self.prefixes.contains_key(prefix) && !rest.is_empty()),
            None => false,
        }
    }
}

/// One EPCIS event, checked, with the parts Kuaidi indexes and queries by.
#[derive(Debug, Clone, PartialEq)]
pub struct EpcisEvent {
    /// The event type.
    pub event_type: EventType,
    /// When it happened, with the offset it was given with.
    pub event_time: DateTime<FixedOffset>,
    /// `ADD`, `OBSERVE` or `DELETE`; absent for a transformation.
    pub action: Option<String>,
    /// The business step, its CBV word resolved.
    pub biz_step: Option<VocabValue>,
    /// The disposition, its CBV word resolved.
    pub disposition: Option<VocabValue>,
    /// The read point's id.
    pub read_point: Option<String>,
    /// The business location's id.
    pub biz_location: Option<String>,
    /// Every identifier the event names: EPCs, parent ids, input and output EPCs, and EPC classes of quantities.
    pub epcs: Vec<String>,
    /// The `eventID` the sender gave, if any.
    pub event_id: Option<String>,
    /// The GS1 canonical event hash, `ni:///sha-256;...?ver=CBV2.0`: Kuaidi's idempotency key for EPCIS events.
    pub hash: String,
    /// The event as captured, with an `@context` naming every prefix in scope, so that it stands on its own.
    pub body: Value,
    /// The namespaces in scope for this event.
    pub namespaces: Namespaces,
}

impl EpcisEvent {
    /// The value of an extension field, looked up by its full IRI.
    pub fn extension(&self, iri: &str) -> Option<&Value> {
        self.body.as_object()?.iter().find(|(key, _)| self.namespaces.expands_to(key, iri)).map(|(_, value)| value)
    }

    /// The value of an extension field, looked up by its namespace IRI and local name (`kd:operator` is
    /// `(KUAIDI_NS, "operator")`), without building the full IRI.
    pub fn extension_in(&self, namespace: &str, local: &str) -> Option<&Value> {
        self.body
            .as_object()?
            .iter()
            .find(|(key, _)| self.namespaces.names(key, namespace, local))
            .map(|(_, value)| value)
    }
}

/// Reads an EPCIS capture document (`"type": "EPCISDocument"`) from JSON text.
pub fn read_document(text: &str) -> Result<Vec<EpcisEvent>, DecodeError> {
    let value: Value = serde_json::from_str(text).map_err(|err| DecodeError::Syntax(err.to_string()))?;
    parse_document(&value)
}

/// Checks an EPCIS capture document and reads its events.
///
/// The whole document fails on the first error, whose field is a path such as `epcisBody.eventList[1].bizStep`.
pub fn parse_document(value: &Value) -> Result<Vec<EpcisEvent>, DecodeError> {
    parse_document_events(value)?.into_iter().collect()
}

/// Checks an EPCIS capture document's envelope and reads each event on its own, for best-effort capture: the outer
/// error is the envelope's, each inner one an event's.
pub fn parse_document_events(value: &Value) -> Result<Vec<Result<EpcisEvent, DecodeError>>, DecodeError> {
    let (namespaces, events) = envelope(value)?;
    Ok(events
        .iter()
        .enumerate()
        .map(|(idx, event)| parse_event_at(event, &namespaces, &format!("epcisBody.eventList[{idx}]")))
        .collect())
}

/// [`parse_document_events`] on a document the caller hands over: each event's body is the event itself, moved rather
/// than copied (the capture endpoint's path, where the document is not needed afterwards).
pub fn parse_document_events_owned(value: Value) -> Result<Vec<Result<EpcisEvent, DecodeError>>, DecodeError> {
    let (namespaces, events) = split_document(value)?;
    Ok(events.into_iter().enumerate().map(|(idx, event)| parse_document_event(event, &namespaces, idx)).collect())
}

/// Checks a capture document's envelope and hands back its namespaces and its events, unchecked, for the caller to
/// check one by one with [`parse_document_event`] (the capture endpoint does so on several threads).
pub fn split_document(mut value: Value) -> Result<(Namespaces, Vec<Value>), DecodeError> {
    let namespaces = envelope(&value)?.0;
    match value.pointer_mut("/epcisBody/eventList").map(Value::take) {
        Some(Value::Array(events)) => Ok((namespaces, events)),
        _ => Err(ValidationError::Missing { field: "epcisBody.eventList".into() }.into()),
    }
}

/// [`split_document`] on the document's text, leaving each event as its own text: the envelope is parsed and
/// checked, and the events are only delimited, so that the caller can parse each (with [`parse_document_event`]) on
/// several threads. `Ok(None)` when the text is anything but plain (invalid JSON, `eventList` not an array, a key
/// given twice): the caller then parses the whole document and calls [`split_document`], whose errors are the ones
/// to give.
pub fn split_document_text(text: &[u8]) -> Result<Option<(Namespaces, Vec<&RawValue>)>, DecodeError> {
    #[derive(serde::Deserialize)]
    struct Document<'a> {
        #[serde(rename = "epcisBody", borrow)]
        body: Body<'a>,
    }
    #[derive(serde::Deserialize)]
    struct Body<'a> {
        #[serde(rename = "eventList", borrow)]
        events: &'a RawValue,
    }
    let Ok(document) = serde_json::from_slice::<Document<'_>>(text) else { return Ok(None) };
    let Ok(events) = serde_json::from_str::<Vec<&RawValue>>(document.body.events.get()) else { return Ok(None) };
    // The envelope is the document with an empty event list in place of the events' text.
    let list = document.body.events.get().as_bytes();
    let start = (list.as_ptr() as usize).wrapping_sub(text.as_ptr() as usize);
    let Some(end) = start.checked_add(list.len()).filter(|end| *end <= text.len()) else { return Ok(None) };
    let mut envelope_text = Vec::with_capacity(text.len() - list.len() + 2);
    envelope_text.extend_from_slice(&text[..start]);
    envelope_text.extend_from_slice(b"[]");
    envelope_text.extend_from_slice(&text[end..]);
    let Ok(value) = serde_json::from_slice::<Value>(&envelope_text) else { return Ok(None) };
    let namespaces = envelope(&value)?.0;
    Ok(Some((namespaces, events)))
}

/// Checks and reads the event at `idx` of a document's event list, under the document's `namespaces`; every error
/// names its field as `epcisBody.eventList[idx].…`.
pub fn parse_document_event(event: Value, namespaces: &Namespaces, idx: usize) -> Result<EpcisEvent, DecodeError> {
    let path = format!("epcisBody.eventList[{idx}]");
    let checked = check_event(&event, namespaces, &path)?;
    match event {
        Value::Object(map) => Ok(checked.into_event(map)),
        other => Err(invalid(&path, &other, "must be an object")),
    }
}

/// Checks a capture document's envelope: its prefixes, type, creation date and event list.
fn envelope(value: &Value) -> Result<(Namespaces, &Vec<Value>), DecodeError> {
    let document = object(value, "")?;
    let namespaces = document_namespaces(document)?;
    match document.get("type") {
        Some(Value::String(kind)) if kind == "EPCISDocument" => {}
        Some(other) => return Err(invalid("type", other, "must be `EPCISDocument` in a capture document")),
        None => return Err(ValidationError::Missing { field: "type".into() }.into()),
    }
    check_time(document, "creationDate", "", true)?;
    let body = object(required(document, "epcisBody", "")?, "epcisBody")?;
    match required(body, "eventList", "epcisBody")? {
        Value::Array(events) => Ok((namespaces, events)),
        other => Err(invalid("epcisBody.eventList", other, "must be an array of events")),
    }
}

/// Reads the events of an EPCIS query document (`"type": "EPCISQueryDocument"`), with the same checks.
pub fn parse_query_document(value: &Value) -> Result<Vec<EpcisEvent>, DecodeError> {
    let document = object(value, "")?;
    let namespaces = document_namespaces(document)?;
    let path = "epcisBody.queryResults.resultsBody.eventList";
    let events = value.pointer("/epcisBody/queryResults/resultsBody/eventList").and_then(Value::as_array);
    let events = events.ok_or_else(|| ValidationError::Missing { field: path.into() })?;
    events
        .iter()
        .enumerate()
        .map(|(idx, event)| parse_event_at(event, &namespaces, &format!("{path}[{idx}]")))
        .collect()
}

/// Checks and reads one event sent on its own (`POST /v1/epcis/events`); it must carry its own `@context`.
pub fn parse_event(value: &Value) -> Result<EpcisEvent, DecodeError> {
    let event = object(value, "")?;
    if !event.contains_key("@context") {
        return Err(ValidationError::Missing { field: "@context".into() }.into());
    }
    parse_event_at(value, &Namespaces::standard(), "")
}

fn document_namespaces(document: &Map<String, Value>) -> Result<Namespaces, DecodeError> {
    let context = document.get("@context").ok_or_else(|| ValidationError::Missing { field: "@context".into() })?;
    Ok(Namespaces::standard().with_context(context))
}

fn join(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_owned()
    } else if name.starts_with('[') {
        format!("{parent}{name}")
    } else {
        format!("{parent}.{name}")
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn invalid(field: &str, value: &Value, reason: &str) -> DecodeError {
    ValidationError::Invalid { field: field.to_owned(), value: shown(value), reason: reason.to_owned() }.into()
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, DecodeError> {
    value.as_object().ok_or_else(|| {
        if path.is_empty() {
            DecodeError::Syntax("an EPCIS document or event must be a JSON object".into())
        } else {
            invalid(path, value, "must be an object")
        }
    })
}

fn required<'a>(map: &'a Map<String, Value>, name: &str, parent: &str) -> Result<&'a Value, DecodeError> {
    map.get(name).filter(|v| !v.is_null()).ok_or_else(|| ValidationError::Missing { field: join(parent, name) }.into())
}

fn string<'a>(map: &'a Map<String, Value>, name: &str, parent: &str) -> Result<Option<&'a str>, DecodeError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(invalid(&join(parent, name), other, "must be a string")),
    }
}

fn uri<'a>(map: &'a Map<String, Value>, name: &str, parent: &str) -> Result<Option<&'a str>, DecodeError> {
    match string(map, name, parent)? {
        Some(text) if !text.contains(':') || text.chars().any(char::is_whitespace) => {
            Err(invalid(&join(parent, name), &Value::from(text), "must be an absolute URI"))
        }
        other => Ok(other),
    }
}

fn check_time(
    map: &Map<String, Value>,
    name: &str,
    parent: &str,
    is_required: bool,
) -> Result<Option<DateTime<FixedOffset>>, DecodeError> {
    let Some(text) = string(map, name, parent)? else {
        if is_required {
            return Err(ValidationError::Missing { field: join(parent, name) }.into());
        }
        return Ok(None);
    };
    parse_time(text).map(Some).map_err(|err| err.at(join(parent, name)).into())
}

/// An optional array of URIs.
fn uri_list(map: &Map<String, Value>, name: &str, parent: &str, out: &mut Vec<String>) -> Result<(), DecodeError> {
    strings(map, name, parent, out, |text| text.contains(':'), "must be a URI")
}

/// An optional array of strings that each pass `accept`; an item that does not is `reason`.
fn strings(
    map: &Map<String, Value>,
    name: &str,
    parent: &str,
    out: &mut Vec<String>,
    accept: impl Fn(&str) -> bool,
    reason: &str,
) -> Result<(), DecodeError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(items)) => {
            for (idx, item) in items.iter().enumerate() {
                match item {
                    Value::String(text) if accept(text) => out.push(text.clone()),
                    other => return Err(invalid(&format!("{}[{idx}]", join(parent, name)), other, reason)),
                }
            }
            Ok(())
        }
        Some(other) => Err(invalid(&join(parent, name), other, "must be an array")),
    }
}

fn vocab(
    map: &Map<String, Value>,
    name: &str,
    parent: &str,
    kind: VocabKind,
    namespaces: &Namespaces,
) -> Result<Option<VocabValue>, DecodeError> {
    let Some(text) = string(map, name, parent)? else { return Ok(None) };
    resolve(kind, &namespaces.expand(text))
        .map(Some)
        .map_err(|reason| invalid(&join(parent, name), &Value::from(text), &reason))
}

/// Checks that every key of `map` is one of `known` or a namespaced extension.
fn check_names(
    map: &Map<String, Value>,
    known: &[&str],
    parent: &str,
    namespaces: &Namespaces,
) -> Result<(), DecodeError> {
    for (name, value) in map {
        if !known.contains(&name.as_str()) && !namespaces.is_extension_name(name) {
            return Err(ValidationError::Invalid {
                field: join(parent, name),
                value: shown(value),
                reason: "is not a field of this element, and an extension field must be namespaced with a prefix \
                         declared in `@context` (such as `example:myField`) or be an absolute URI"
                    .into(),
            }
            .into());
        }
    }
    Ok(())
}

fn parse_event_at(value: &Value, outer: &Namespaces, path: &str) -> Result<EpcisEvent, DecodeError> {
    let checked = check_event(value, outer, path)?;
    Ok(checked.into_event(value.as_object().cloned().unwrap_or_default()))
}

/// What checking an event found, before its body is taken.
struct Checked {
    event_type: EventType,
    event_time: DateTime<FixedOffset>,
    action: Option<String>,
    biz_step: Option<VocabValue>,
    disposition: Option<VocabValue>,
    read_point: Option<String>,
    biz_location: Option<String>,
    epcs: Vec<String>,
    event_id: Option<String>,
    namespaces: Namespaces,
}

impl Checked {
    /// The event, its body `map` standing on its own (an `@context` naming every prefix in scope) and hashed.
    fn into_event(self, mut map: Map<String, Value>) -> EpcisEvent {
        let mut context = vec![Value::from("https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld")];
        let declared = self.namespaces.declared();
        if !declared.is_empty() {
            context.push(Value::Object(declared));
        }
        map.insert("@context".into(), Value::Array(context));
        let body = Value::Object(map);
        let hash = hash::event_hash(&body, &self.namespaces);
        EpcisEvent {
            event_type: self.event_type,
            event_time: self.event_time,
            action: self.action,
            biz_step: self.biz_step,
            disposition: self.disposition,
            read_point: self.read_point,
            biz_location: self.biz_location,
            epcs: self.epcs,
            event_id: self.event_id,
            hash,
            body,
            namespaces: self.namespaces,
        }
    }
}

/// Checks one event (every error names its field under `path`) and reads the parts Kuaidi indexes.
fn check_event(value: &Value, outer: &Namespaces, path: &str) -> Result<Checked, DecodeError> {
    let event = object(value, path)?;
    let namespaces = match event.get("@context") {
        Some(context) => outer.with_context(context),
        None => outer.clone(),
    };
    let type_text =
        string(event, "type", path)?.ok_or_else(|| ValidationError::Missing { field: join(path, "type") })?;
    let event_type = EventType::parse(type_text).map_err(|err| err.at(join(path, "type")))?;
    let mut known: Vec<&str> = COMMON_FIELDS.to_vec();
    known.extend_from_slice(event_type.fields());
    check_names(event, &known, path, &namespaces)?;

    let event_time = check_time(event, "eventTime", path, true)?.unwrap_or_default();
    check_time(event, "recordTime", path, false)?;
    let offset = string(event, "eventTimeZoneOffset", path)?
        .ok_or_else(|| ValidationError::Missing { field: join(path, "eventTimeZoneOffset") })?;
    if !is_offset(offset) {
        return Err(invalid(
            &join(path, "eventTimeZoneOffset"),
            &Value::from(offset),
            "must be an offset such as +08:00 or -06:00",
        ));
    }
    let action = match string(event, "action", path)? {
        Some(action @ ("ADD" | "OBSERVE" | "DELETE")) => Some(action.to_owned()),
        Some(other) => {
            return Err(invalid(&join(path, "action"), &Value::from(other), "must be ADD, OBSERVE or DELETE"))
        }
        None if event_type == EventType::Transformation => None,
        None => return Err(ValidationError::Missing { field: join(path, "action") }.into()),
    };
    let event_id = uri(event, "eventID", path)?.map(str::to_owned);
    match event.get("certificationInfo") {
        None | Some(Value::Null) | Some(Value::String(_)) => {
            uri(event, "certificationInfo", path)?;
        }
        Some(Value::Array(items)) => {
            for (idx, item) in items.iter().enumerate() {
                if !matches!(item, Value::String(text) if text.contains(':')) {
                    let field = format!("{}[{idx}]", join(path, "certificationInfo"));
                    return Err(invalid(&field, item, "must be the URI of a certificate"));
                }
            }
        }
        Some(other) => {
            return Err(invalid(&join(path, "certificationInfo"), other, "must be a URI or an array of URIs"))
        }
    }
    if let Some(declaration) = event.get("errorDeclaration") {
        let parent = join(path, "errorDeclaration");
        let declaration = object(declaration, &parent)?;
        check_names(declaration, &["declarationTime", "reason", "correctiveEventIDs"], &parent, &namespaces)?;
        check_time(declaration, "declarationTime", &parent, true)?;
        vocab(declaration, "reason", &parent, VocabKind::ErrorReason, &namespaces)?;
        uri_list(declaration, "correctiveEventIDs", &parent, &mut Vec::new())?;
    }

    let mut epcs = Vec::new();
    for list in ["epcList", "childEPCs", "inputEPCList", "outputEPCList"] {
        uri_list(event, list, path, &mut epcs)?;
    }
    if let Some(parent_id) = uri(event, "parentID", path)? {
        epcs.push(parent_id.to_owned());
    }
    uri(event, "transformationID", path)?;
    let mut n_quantities = 0;
    for list in ["quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"] {
        n_quantities += quantities(event, list, path, &mut epcs)?;
    }
    let biz_step = vocab(event, "bizStep", path, VocabKind::BizStep, &namespaces)?;
    let disposition = vocab(event, "disposition", path, VocabKind::Disposition, &namespaces)?;
    if let Some(persistent) = event.get("persistentDisposition") {
        let parent = join(path, "persistentDisposition");
        let persistent = object(persistent, &parent)?;
        check_names(persistent, &["set", "unset"], &parent, &namespaces)?;
        for name in ["set", "unset"] {
            let mut values = Vec::new();
            uri_or_words(persistent, name, &parent, &mut values)?;
            for (idx, text) in values.iter().enumerate() {
                resolve(VocabKind::Disposition, &namespaces.expand(text)).map_err(|reason| {
                    invalid(&format!("{parent}.{name}[{idx}]"), &Value::from(text.as_str()), &reason)
                })?;
            }
        }
    }
    let read_point = location(event, "readPoint", path, &namespaces)?;
    let biz_location = location(event, "bizLocation", path, &namespaces)?;
    typed_list(event, "bizTransactionList", "bizTransaction", VocabKind::BizTransactionType, false, path, &namespaces)?;
    typed_list(event, "sourceList", "source", VocabKind::SourceDestType, true, path, &namespaces)?;
    typed_list(event, "destinationList", "destination", VocabKind::SourceDestType, true, path, &namespaces)?;
    let n_sensor_elements = sensor_elements(event, path, &namespaces)?;
    if let Some(ilmd) = event.get("ilmd") {
        let parent = join(path, "ilmd");
        check_names(object(ilmd, &parent)?, &[], &parent, &namespaces)?;
        if event_type == EventType::Object && action.as_deref() != Some("ADD") {
            return Err(invalid(&parent, ilmd, "is only allowed in an ObjectEvent whose action is ADD"));
        }
    }
    if event_type == EventType::Object
        && !event.contains_key("epcList")
        && n_quantities == 0
        && !(n_sensor_elements > 0 && read_point.is_some())
    {
        return Err(ValidationError::Missing { field: join(path, "epcList") }.into());
    }

    Ok(Checked {
        event_type,
        event_time,
        action,
        biz_step,
        disposition,
        read_point,
        biz_location,
        epcs,
        event_id,
        namespaces,
    })
}

fn is_offset(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() == 6
        && matches!(bytes[0], b'+' | b'-')
        && bytes[1..3].iter().all(u8::is_ascii_digit)
        && bytes[3] == b':'
        && bytes[4..6].iter().all(u8::is_ascii_digit)
}

/// An optional array of strings, any text (a persistent disposition's values are URIs or CBV bare words).
fn uri_or_words(map: &Map<String, Value>, name: &str, parent: &str, out: &mut Vec<String>) -> Result<(), DecodeError> {
    strings(map, name, parent, out, |_| true, "must be a string")
}

fn quantities(
    map: &Map<String, Value>,
    name: &str,
    parent: &str,
    epcs: &mut Vec<String>,
) -> Result<usize, DecodeError> {
    let items = match map.get(name) {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(invalid(&join(parent, name), other, "must be an array of quantity elements")),
    };
    for (idx, item) in items.iter().enumerate() {
        let path = format!("{}[{idx}]", join(parent, name));
        let element = object(item, &path)?;
        if let Some((field, value)) =
            element.iter().find(|(k, _)| !matches!(k.as_str(), "epcClass" | "quantity" | "uom"))
        {
            return Err(invalid(
                &join(&path, field),
                value,
                "is not a field of a quantity element (epcClass, quantity, uom)",
            ));
        }
        let class = uri(element, "epcClass", &path)?
            .ok_or_else(|| ValidationError::Missing { field: join(&path, "epcClass") })?;
        epcs.push(class.to_owned());
        match element.get("quantity") {
            None | Some(Value::Number(_)) => {}
            Some(other) => return Err(invalid(&join(&path, "quantity"), other, "must be a number")),
        }
        if let Some(uom) = string(element, "uom", &path)? {
            let valid =
                (2..=3).contains(&uom.len()) && uom.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
            if !valid {
                return Err(invalid(
                    &join(&path, "uom"),
                    &Value::from(uom),
                    "must be a UN/CEFACT unit code such as KGM",
                ));
            }
        }
    }
    Ok(items.len())
}

fn location(
    map: &Map<String, Value>,
    name: &str,
    parent: &str,
    namespaces: &Namespaces,
) -> Result<Option<String>, DecodeError> {
    let Some(value) = map.get(name) else { return Ok(None) };
    let path = join(parent, name);
    let location = object(value, &path)?;
    check_names(location, &["id"], &path, namespaces)?;
    let id = uri(location, "id", &path)?.ok_or_else(|| ValidationError::Missing { field: join(&path, "id") })?;
    Ok(Some(id.to_owned()))
}

fn typed_list(
    map: &Map<String, Value>,
    name: &str,
    value_field: &str,
    kind: VocabKind,
    type_required: bool,
    parent: &str,
    namespaces: &Namespaces,
) -> Result<(), DecodeError> {
    let items = match map.get(name) {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(invalid(&join(parent, name), other, "must be an array")),
    };
    for (idx, item) in items.iter().enumerate() {
        let path = format!("{}[{idx}]", join(parent, name));
        let element = object(item, &path)?;
        check_names(element, &["type", value_field], &path, namespaces)?;
        uri(element, value_field, &path)?
            .ok_or_else(|| ValidationError::Missing { field: join(&path, value_field) })?;
        let given = vocab(element, "type", &path, kind, namespaces)?;
        if type_required && given.is_none() {
            return Err(ValidationError::Missing { field: join(&path, "type") }.into());
        }
    }
    Ok(())
}

const SENSOR_METADATA_FIELDS: &[&str] =
    &["time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules"];

const SENSOR_REPORT_FIELDS: &[&str] = &[
    "type",
    "exception",
    "deviceID",
    "deviceMetadata",
    "rawData",
    "dataProcessingMethod",
    "time",
    "microorganism",
    "chemicalSubstance",
    "value",
    "component",
    "stringValue",
    "booleanValue",
    "hexBinaryValue",
    "uriValue",
    "minValue",
    "maxValue",
    "meanValue",
    "sDev",
    "percRank",
    "percValue",
    "uom",
    "coordinateReferenceSystem",
    "bizRules",
];

fn sensor_elements(map: &Map<String, Value>, parent: &str, namespaces: &Namespaces) -> Result<usize, DecodeError> {
    let items = match map.get("sensorElementList") {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Array(items)) => items,
        Some(other) => return Err(invalid(&join(parent, "sensorElementList"), other, "must be an array")),
    };
    for (idx, item) in items.iter().enumerate() {
        let path = format!("{}[{idx}]", join(parent, "sensorElementList"));
        let element = object(item, &path)?;
        // `type` is the JSON-LD node type (`epcis:SensorElement`) some documents spell out.
        check_names(element, &["type", "sensorMetadata", "sensorReport"], &path, namespaces)?;
        if let Some(metadata) = element.get("sensorMetadata") {
            let meta_path = join(&path, "sensorMetadata");
            let metadata = object(metadata, &meta_path)?;
            check_names(metadata, SENSOR_METADATA_FIELDS, &meta_path, namespaces)?;
            for field in ["time", "startTime", "endTime"] {
                check_time(metadata, field, &meta_path, false)?;
            }
        }
        let reports = match required(element, "sensorReport", &path)? {
            Value::Array(reports) => reports,
            other => return Err(invalid(&join(&path, "sensorReport"), other, "must be an array")),
        };
        for (report_idx, report) in reports.iter().enumerate() {
            let report_path = format!("{path}.sensorReport[{report_idx}]");
            let report = object(report, &report_path)?;
            check_names(report, SENSOR_REPORT_FIELDS, &report_path, namespaces)?;
            check_time(report, "time", &report_path, false)?;
            for field in ["value", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue"] {
                match report.get(field) {
                    None | Some(Value::Number(_)) => {}
                    Some(other) => return Err(invalid(&join(&report_path, field), other, "must be a number")),
                }
            }
        }
    }
    Ok(items.len())
}

#[cfg(test)]
mod tests;
