//! The GS1 canonical event hash (`ni:///sha-256;<hex>?ver=CBV2.0`): a fingerprint of an EPCIS event that does not
//! depend on its serialisation (field order, prefixes, bare words or URNs, time zone of the time stamps).
//!
//! The pre-hash string is `eventType=<type>`, then the standard fields in the canonical order of the algorithm, each
//! as `name=value` with the values of a repeated element sorted, then every other field (extensions, `ilmd`, error
//! declarations) as `name=value` with names expanded to full IRIs, sorted. CBV words are written as URNs, time stamps
//! in UTC with millisecond precision (rounded half up), numbers without trailing zeros. `eventID` and `recordTime`
//! are left out. The hash is SHA-256 of that string. This reproduces the standard's worked examples; the conformance
//! test says, vector by vector, why the other GS1 example hashes differ (`docs/epcis.md`).

use std::borrow::Cow;

use chrono::{SecondsFormat, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{resolve, Namespaces, VocabKind};

/// An element of the event as a tree: a name, a text, and child elements (the shape of the XML binding).
///
/// Names and texts borrow from the event where they are used as written (most are), so building the tree of an event
/// allocates little; expanded names and canonical values are owned.
#[derive(Debug, Clone)]
struct Node<'a> {
    name: Cow<'a, str>,
    text: Cow<'a, str>,
    children: Vec<Node<'a>>,
}

/// The canonical order of the standard fields, with the order of their children.
struct Order(&'static str, &'static [Order]);

const QUANTITY: &[Order] =
    &[Order("quantityElement", &[Order("epcClass", &[]), Order("quantity", &[]), Order("uom", &[])])];
const EPC: &[Order] = &[Order("epc", &[])];

const EVENT_ORDER: &[Order] = &[
    Order("eventTime", &[]),
    Order("eventTimeZoneOffset", &[]),
    Order("epcList", EPC),
    Order("parentID", &[]),
    Order("inputEPCList", EPC),
    Order("childEPCs", EPC),
    Order("quantityList", QUANTITY),
    Order("childQuantityList", QUANTITY),
    Order("inputQuantityList", QUANTITY),
    Order("outputEPCList", EPC),
    Order("outputQuantityList", QUANTITY),
    Order("action", &[]),
    Order("transformationID", &[]),
    Order("bizStep", &[]),
    Order("disposition", &[]),
    Order("persistentDisposition", &[Order("set", &[]), Order("unset", &[])]),
    Order("readPoint", &[Order("id", &[])]),
    Order("bizLocation", &[Order("id", &[])]),
    Order("bizTransactionList", &[Order("bizTransaction", &[Order("type", &[])])]),
    Order("sourceList", &[Order("source", &[Order("type", &[])])]),
    Order("destinationList", &[Order("destination", &[Order("type", &[])])]),
    Order(
        "sensorElementList",
        &[Order(
            "sensorElement",
            &[
                Order(
                    "sensorMetadata",
                    &[
                        Order("time", &[]),
                        Order("startTime", &[]),
                        Order("endTime", &[]),
                        Order("deviceID", &[]),
                        Order("deviceMetadata", &[]),
                        Order("rawData", &[]),
                        Order("dataProcessingMethod", &[]),
                        Order("bizRules", &[]),
                    ],
                ),
                Order(
                    "sensorReport",
                    &[
                        Order("type", &[]),
                        Order("exception", &[]),
                        Order("deviceID", &[]),
                        Order("deviceMetadata", &[]),
                        Order("rawData", &[]),
                        Order("dataProcessingMethod", &[]),
                        Order("time", &[]),
                        Order("microorganism", &[]),
                        Order("chemicalSubstance", &[]),
                        Order("value", &[]),
                        Order("component", &[]),
                        Order("stringValue", &[]),
                        Order("booleanValue", &[]),
                        Order("hexBinaryValue", &[]),
                        Order("uriValue", &[]),
                        Order("minValue", &[]),
                        Order("maxValue", &[]),
                        Order("meanValue", &[]),
                        Order("sDev", &[]),
                        Order("percRank", &[]),
                        Order("percValue", &[]),
                        Order("uom", &[]),
                        Order("coordinateReferenceSystem", &[]),
                    ],
                ),
            ],
        )],
    ),
];

/// Fields that take no part in the hash.
const IGNORED: &[&str] = &["@context", "type", "eventID", "recordTime", "comment", "rdfs:comment"];

/// The GS1 event hash of an event, as an `ni:` URI.
pub fn event_hash(event: &Value, namespaces: &Namespaces) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(pre_hash(event, namespaces).as_bytes());
    let mut out = String::with_capacity(14 + 64 + 11);
    out.push_str("ni:///sha-256;");
    for byte in digest {
        out.push(HEX[usize::from(byte >> 4)] as char);
        out.push(HEX[usize::from(byte & 0xf)] as char);
    }
    out.push_str("?ver=CBV2.0");
    out
}

/// The pre-hash string of an event (exposed for debugging and tests).
pub fn pre_hash(event: &Value, namespaces: &Namespaces) -> String {
    let Some(map) = event.as_object() else { return String::new() };
    let event_type = map.get("type").and_then(Value::as_str).unwrap_or_default();
    let mut children = Vec::with_capacity(map.len());
    for (key, value) in map {
        if !IGNORED.contains(&key.as_str()) {
            nodes(key, value, namespaces, &mut children);
        }
    }
    let mut out = String::with_capacity(512);
    out.push_str("eventType=");
    out.push_str(event_type);
    ordered(&mut children, EVENT_ORDER, &mut out);
    generic(&children, &mut out);
    out
}

/// The element name of the items of a wrapped list (`epcList` holds `epc` elements), or `None` for a field whose
/// array values are repeated elements of the field's own name.
fn item_name(list: &str) -> Option<&'static str> {
    match list {
        "epcList" | "childEPCs" | "inputEPCList" | "outputEPCList" => Some("epc"),
        "quantityList" | "childQuantityList" | "inputQuantityList" | "outputQuantityList" => Some("quantityElement"),
        "bizTransactionList" => Some("bizTransaction"),
        "sourceList" => Some("source"),
        "destinationList" => Some("destination"),
        "sensorElementList" => Some("sensorElement"),
        "correctiveEventIDs" => Some("correctiveEventID"),
        _ => None,
    }
}

/// Appends the elements a field stands for: one, one per array item, or one wrapping its items.
fn nodes<'a>(key: &'a str, value: &'a Value, namespaces: &Namespaces, out: &mut Vec<Node<'a>>) {
    let name: Cow<'a, str> = if key.contains(':') { Cow::Owned(namespaces.expand(key)) } else { Cow::Borrowed(key) };
    match value {
        Value::Null => {}
        Value::Array(items) => match item_name(key) {
            Some(item) => {
                let mut children = Vec::with_capacity(items.len());
                for item_value in items {
                    element(item, item_value, namespaces, &mut children);
                }
                out.push(Node { name, text: Cow::Borrowed(""), children });
            }
            None => {
                let first = out.len();
                for item_value in items {
                    element(key, item_value, namespaces, out);
                }
                for node in &mut out[first..] {
                    node.name = name.clone();
                }
            }
        },
        _ => {
            let first = out.len();
            element(key, value, namespaces, out);
            for node in &mut out[first..] {
                node.name = name.clone();
            }
        }
    }
}

/// Appends the element of one value named `name` (a nested array appends one per item).
fn element<'a>(name: &'a str, value: &'a Value, namespaces: &Namespaces, out: &mut Vec<Node<'a>>) {
    let leaf = |text: Cow<'a, str>| Node { name: Cow::Borrowed(name), text, children: Vec::new() };
    let node = match value {
        Value::Null => return,
        Value::Bool(flag) => leaf(Cow::Borrowed(if *flag { "true" } else { "false" })),
        Value::Number(number) => leaf(Cow::Owned(canonical_number(number))),
        Value::String(text) => leaf(canonical_value(name, text.trim(), namespaces)),
        Value::Array(_) => return nodes(name, value, namespaces, out),
        Value::Object(map) => {
            // A business transaction, source or destination is the text of its element, its type an attribute.
            let text_field = match name {
                "bizTransaction" | "source" | "destination" => Some(name),
                _ => None,
            };
            let text = text_field.and_then(|field| map.get(field)).and_then(Value::as_str).unwrap_or_default();
            let mut children = Vec::with_capacity(map.len());
            for (key, child) in map {
                if Some(key.as_str()) == text_field {
                    continue;
                }
                if let (Some(kind), Value::String(word)) = (type_vocab(name, key), child) {
                    let text = Cow::Owned(canonical_vocab(kind, word, namespaces));
                    children.push(Node { name: Cow::Borrowed(key), text, children: Vec::new() });
                } else {
                    nodes(key, child, namespaces, &mut children);
                }
            }
            Node { name: Cow::Borrowed(name), text: Cow::Borrowed(text), children }
        }
    };
    out.push(node);
}

fn type_vocab(parent: &str, key: &str) -> Option<VocabKind> {
    match (parent, key) {
        ("bizTransaction", "type") => Some(VocabKind::BizTransactionType),
        ("source" | "destination", "type") => Some(VocabKind::SourceDestType),
        ("errorDeclaration", "reason") => Some(VocabKind::ErrorReason),
        _ => None,
    }
}

fn canonical_vocab(kind: VocabKind, text: &str, namespaces: &Namespaces) -> String {
    let expanded = namespaces.expand(text);
    resolve(kind, &expanded).map(|value| value.canonical(kind)).unwrap_or(expanded)
}

fn canonical_value<'a>(name: &str, text: &'a str, namespaces: &Namespaces) -> Cow<'a, str> {
    let vocab = match name {
        "bizStep" => Some(VocabKind::BizStep),
        "disposition" | "set" | "unset" => Some(VocabKind::Disposition),
        "reason" => Some(VocabKind::ErrorReason),
        _ => None,
    };
    if let Some(kind) = vocab {
        return Cow::Owned(canonical_vocab(kind, text, namespaces));
    }
    if contains_ignoring_case(name, "time") && !contains_ignoring_case(name, "offset") {
        if let Some(time) = canonical_time(text) {
            return Cow::Owned(time);
        }
    }
    Cow::Borrowed(text)
}

/// Whether `haystack` contains `needle` (lowercase ASCII), ignoring ASCII case, without building a lowercase copy.
fn contains_ignoring_case(haystack: &str, needle: &str) -> bool {
    haystack.as_bytes().windows(needle.len()).any(|window| window.eq_ignore_ascii_case(needle.as_bytes()))
}

/// A time stamp in UTC with millisecond precision, rounded half up from the fourth decimal (CBV 2.0 rules 8 and 9:
/// `…31.1415Z` is `…31.142Z`), or `None` when `text` is not an RFC 3339 time stamp.
///
/// Every field whose name contains `time` (not `offset`) is read so, `time` itself included: the reference
/// implementation skips a field named exactly `time` (it tests for the word after the first letter), which rule 8 does
/// not allow, and no GS1 vector depends on it (see the conformance test).
fn canonical_time(text: &str) -> Option<String> {
    let time = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    let rounded = time.with_timezone(&Utc) + chrono::Duration::microseconds(500);
    Some(rounded.to_rfc3339_opts(SecondsFormat::Millis, true))
}

/// A JSON number without trailing zeros (CBV 2.0 rule 6: `26.0` is `26`, `0.3430` is `0.343`).
///
/// Integers are written as they are; a float is written in its shortest form that reads back the same, and without
/// the `.0` when it is whole (within the range where a float holds every integer exactly).
fn canonical_number(number: &serde_json::Number) -> String {
    if number.is_i64() || number.is_u64() {
        return number.to_string();
    }
    match number.as_f64() {
        Some(value) if value.fract() == 0.0 && value.abs() < 9.007_199_254_740_992e15 => format!("{}", value as i64),
        _ => number.to_string(),
    }
}

/// Appends the standard children in canonical order; those fully used are removed, the rest stay for [`generic`].
fn ordered(children: &mut Vec<Node<'_>>, order: &[Order], out: &mut String) {
    for Order(name, sub_order) in order {
        if !children.iter().any(|child| child.name == *name) {
            continue;
        }
        let mut values = Vec::new();
        for child in children.iter_mut().filter(|child| child.name == *name) {
            let mut value = String::new();
            if !child.text.is_empty() {
                value.push_str(&child.name);
                value.push('=');
                value.push_str(&child.text);
            }
            if !sub_order.is_empty() {
                let mut grand = String::new();
                ordered(&mut child.children, sub_order, &mut grand);
                if !grand.is_empty() {
                    if value.is_empty() {
                        value.push_str(&child.name);
                    }
                    value.push_str(&grand);
                }
            }
            if !value.is_empty() {
                values.push(value);
            }
        }
        children.retain(|child| child.name != *name || !child.children.is_empty());
        values.sort_unstable();
        for value in values {
            out.push_str(&value);
        }
    }
}

/// Appends every remaining element as `name=value` followed by its children, sorted.
fn generic(children: &[Node<'_>], out: &mut String) {
    let mut values: Vec<String> = children
        .iter()
        .map(|child| {
            let mut value = String::with_capacity(child.name.len() + child.text.len() + 1);
            value.push_str(&child.name);
            if !child.text.is_empty() {
                value.push('=');
                value.push_str(&child.text);
            }
            generic(&child.children, &mut value);
            value
        })
        .collect();
    values.sort_unstable();
    for value in values {
        out.push_str(&value);
    }
}
