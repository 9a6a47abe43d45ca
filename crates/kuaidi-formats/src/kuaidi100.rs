//! Kuaidi100-style tracking pushes (快递100 订阅推送 and query results) into Kuaidi scan events.
//!
//! A push names one parcel (`com`, `nu`) and lists its trace entries, newest first, each with a local time, a status
//! (`status` and, with `resultv2`, a finer `statusCode`), a free-text context and, often, an area code.
//! Each entry becomes one scan event:
//!
//! - **Kind** from the status code ([`Status`]) and, where the code is coarse (在途, 派件, 签收), from words of the
//!   context: `已发出` or `下一站` is a departure, `快递柜` or `驿站` a hand-over into a locker or station.
//!   Entries that are no scan (101 已下单, 102 待揽收) are skipped, not rejected.
//! - **Event id** `k100-` and 32 hex digits of the SHA-256 of the entry's instant and context, so a re-push of the
//!   same trace gives the same ids and is answered `duplicate`.
//! - **Facility**: entries carry no facility code, so each becomes a *virtual facility* per carrier, area and kind,
//!   `k100.<carrier>.<division>.<kind>` (such as `k100.yuantong.320500.hub`), whose content depends only on its code,
//!   so registering it again is a duplicate. The area is the entry's `areaCode` (GB/T 2260, down to the county);
//!   an entry without one takes the area of another entry naming the same 【facility】, else of the latest earlier
//!   entry, else of the next later one, else the push's `routeInfo.cur`.
//!
//! Times without an offset are China Standard Time (+08:00). The context text is read but never kept: it holds
//! couriers' names and phone numbers. Unknown fields are ignored, because aggregators add fields without notice.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use kuaidi_model::{
    divisions, AdminCode, CarrierCode, EventId, EventKind, Facility, FacilityCode, FacilityKind, InvalidValue,
    ScanEvent, Signer, ValidationError, WaybillNo,
};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::DecodeError;

/// The top-level Kuaidi100 states (`state`, and the first part of every `statusCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// 0 在途: moving between facilities.
    InTransit,
    /// 1 揽收: collected (or, with sub-codes 101 and 102, only ordered).
    Collected,
    /// 2 疑难: a problem.
    Difficult,
    /// 3 签收: signed for.
    Signed,
    /// 4 退签: the return was signed for, or the waybill cancelled.
    ReturnSigned,
    /// 5 派件: out for delivery.
    Delivering,
    /// 6 退回: on its way back to the sender.
    Returning,
    /// 7 转投: handed to another carrier.
    Transferred,
    /// 8 清关 (and 10 to 13): in customs.
    Customs,
    /// 14 拒签: refused by the receiver.
    Refused,
}

impl State {
    /// The Kuaidi100 number of the state.
    pub fn code(self) -> u16 {
        match self {
            State::InTransit => 0,
            State::Collected => 1,
            State::Difficult => 2,
            State::Signed => 3,
            State::ReturnSigned => 4,
            State::Delivering => 5,
            State::Returning => 6,
            State::Transferred => 7,
            State::Customs => 8,
            State::Refused => 14,
        }
    }
}

/// A status: the top-level state and, when given, the finer sub-code (such as 1002 干线 or 304 投柜或站签收).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Status {
    /// The top-level state.
    pub state: State,
    /// The `resultv2` sub-code, when the push gave one.
    pub sub: Option<u16>,
}

/// Kuaidi100's status names, with the code each stands for.
const STATUS_NAMES: &[(&str, u16)] = &[
    ("在途", 0),
    ("揽收", 1),
    ("疑难", 2),
    ("签收", 3),
    ("退签", 4),
    ("派件", 5),
    ("退回", 6),
    ("转投", 7),
    ("清关", 8),
    ("待清关", 10),
    ("清关中", 11),
    ("已清关", 12),
    ("清关异常", 13),
    ("拒签", 14),
    ("已下单", 101),
    ("待揽收", 102),
    ("已揽收", 103),
    ("超时未签收", 201),
    ("超时未更新", 202),
    ("拒收", 203),
    ("派件异常", 204),
    ("柜或驿站超时未取", 205),
    ("无法联系", 206),
    ("超区", 207),
    ("滞留", 208),
    ("破损", 209),
    ("销单", 210),
    ("本人签收", 301),
    ("派件异常后签收", 302),
    ("代签", 303),
    ("投柜或站签收", 304),
    ("已销单", 401),
    ("投柜或驿站", 501),
    ("到达派件城市", 1001),
    ("干线", 1002),
    ("转递", 1003),
];

impl Status {
    /// Parses a status code (`0`, `14`, `1002`, `304`) or a Kuaidi100 status name (`在途`, `干线`).
    pub fn parse(text: &str) -> Result<Status, InvalidValue> {
        let text = text.trim();
        let code = match text.parse::<u16>() {
            Ok(code) => code,
            Err(_) => STATUS_NAMES.iter().find(|(name, _)| *name == text).map(|(_, code)| *code).ok_or_else(|| {
                InvalidValue::new(text, "is neither a Kuaidi100 status code nor a status name such as 在途 or 签收")
            })?,
        };
        Status::from_code(code).ok_or_else(|| {
            InvalidValue::new(
                text,
                "is not a Kuaidi100 status code (0 to 8, 10 to 14, or a sub-code such as 103, 304, 501, 1002)",
            )
        })
    }

    fn from_code(code: u16) -> Option<Status> {
        let top = |state| Some(Status { state, sub: None });
        let sub = |state| Some(Status { state, sub: Some(code) });
        match code {
            0 => top(State::InTransit),
            1 => top(State::Collected),
            2 => top(State::Difficult),
            3 => top(State::Signed),
            4 => top(State::ReturnSigned),
            5 => top(State::Delivering),
            6 => top(State::Returning),
            7 => top(State::Transferred),
            8 => top(State::Customs),
            10..=13 => sub(State::Customs),
            14 => top(State::Refused),
            101..=199 => sub(State::Collected),
            201..=299 => sub(State::Difficult),
            301..=399 => sub(State::Signed),
            401..=499 => sub(State::ReturnSigned),
            501..=599 => sub(State::Delivering),
            601..=699 => sub(State::Returning),
            701..=799 => sub(State::Transferred),
            1001..=1099 => sub(State::InTransit),
            1401..=1499 => sub(State::Refused),
            _ => None,
        }
    }

    /// The code as sent: the sub-code when there is one, else the state's number.
    pub fn code(self) -> u16 {
        self.sub.unwrap_or(self.state.code())
    }
}

/// What one trace entry became.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// A scan event.
    Event(Box<ScanEvent>),
    /// Not a scan (the order was placed, the courier not yet come): nothing to store.
    Skipped {
        /// The entry's status.
        status: Status,
        /// Why it is not a scan, as a sentence.
        reason: &'static str,
    },
    /// The entry cannot be read; the error names its field, such as `lastResult.data[2].time`.
    Invalid(ValidationError),
}

/// A push, read and mapped.
#[derive(Debug, Clone, PartialEq)]
pub struct Push {
    /// The carrier (`com`).
    pub carrier: CarrierCode,
    /// The parcel (`nu`).
    pub waybill_no: WaybillNo,
    /// The parcel's state as the aggregator reports it (`state`), when given.
    pub state: Option<Status>,
    /// The virtual facilities the events need, each once, ordered by code.
    pub facilities: Vec<Facility>,
    /// One per trace entry, in the push's order.
    pub entries: Vec<Entry>,
}

/// The prefix of virtual facility codes.
pub const FACILITY_PREFIX: &str = "k100";

/// China Standard Time, the offset of times that carry none.
fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).expect("+08:00 is a valid offset")
}

/// Reads a push: a subscription callback (`{"status": "polling", "lastResult": {...}}`, also with `lastResult`
/// inside a `param` string or object) or a bare query result (`{"com", "nu", "state", "data": [...]}`).
///
/// Fails when the push as a whole cannot be read (no parcel, no `data`); a bad entry only makes that entry
/// [`Entry::Invalid`].
pub fn read_push(value: &Value) -> Result<Push, DecodeError> {
    let Value::Object(map) = value else {
        return Err(DecodeError::Syntax("a Kuaidi100 push must be a JSON object".into()));
    };
    let param;
    let map = match map.get("param") {
        Some(Value::String(text)) => {
            param = serde_json::from_str::<Value>(text)
                .map_err(|err| InvalidValue::new(text.as_str(), format!("is not JSON: {err}")).at("param"))?;
            match &param {
                Value::Object(inner) => inner,
                _ => return Err(InvalidValue::new(text.as_str(), "must be a JSON object").at("param").into()),
            }
        }
        Some(Value::Object(inner)) => inner,
        Some(other) => return Err(InvalidValue::new(other.to_string(), "must be a JSON object").at("param").into()),
        None => map,
    };
    let (result, prefix) = match map.get("lastResult") {
        Some(Value::Object(inner)) => (inner, "lastResult."),
        Some(other) => {
            return Err(InvalidValue::new(other.to_string(), "must be an object").at("lastResult").into());
        }
        None if map.contains_key("data") => (map, ""),
        None => return Err(ValidationError::Missing { field: "lastResult".into() }.into()),
    };
    let field = |name: &str| format!("{prefix}{name}");
    let text = |name: &str| -> Result<&str, ValidationError> {
        match result.get(name) {
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.trim()),
            None | Some(Value::Null) => Err(ValidationError::Missing { field: field(name) }),
            Some(Value::String(_)) => Err(ValidationError::Missing { field: field(name) }),
            Some(other) => Err(InvalidValue::new(other.to_string(), "must be a string").at(field(name))),
        }
    };
    let carrier = CarrierCode::parse(text("com")?).map_err(|err| err.at(field("com")))?;
    let waybill_no = WaybillNo::parse(text("nu")?).map_err(|err| err.at(field("nu")))?;
    let state = match result.get("state") {
        None | Some(Value::Null) => None,
        Some(value) => Some(Status::parse(&scalar(value)).map_err(|err| err.at(field("state")))?),
    };
    let data = match result.get("data") {
        Some(Value::Array(data)) => data,
        None | Some(Value::Null) => return Err(ValidationError::Missing { field: field("data") }.into()),
        Some(other) => return Err(InvalidValue::new(other.to_string(), "must be an array").at(field("data")).into()),
    };
    let route_area = route_area(result);

    let raw: Vec<Result<RawEntry, ValidationError>> =
        data.iter().enumerate().map(|(idx, value)| RawEntry::read(value, &format!("{prefix}data[{idx}]"))).collect();
    let areas = resolve_areas(&raw, route_area);

    let mut facilities = BTreeMap::new();
    let entries = raw
        .into_iter()
        .zip(areas)
        .enumerate()
        .map(|(idx, (entry, area))| match entry {
            Err(err) => Entry::Invalid(err),
            Ok(entry) => match area {
                Err(err) => Entry::Invalid(err),
                Ok(area) => {
                    let Some((kind, signer, exception_code)) = event_kind(&entry) else {
                        return Entry::Skipped {
                            status: entry.status,
                            reason: "The order was placed but the parcel not yet collected; this is not a scan.",
                        };
                    };
                    let facility =
                        virtual_facility(&carrier, area, facility_kind(&entry), &format!("{prefix}data[{idx}]"));
                    let facility = match facility {
                        Ok(facility) => facility,
                        Err(err) => return Entry::Invalid(err),
                    };
                    let event = ScanEvent {
                        event_id: entry.event_id(),
                        carrier: carrier.clone(),
                        waybill_no: waybill_no.clone(),
                        kind,
                        time: entry.time,
                        facility: facility.code.clone(),
                        operator: None,
                        vehicle: None,
                        next_facility: None,
                        exception_code: exception_code.map(Into::into),
                        signer,
                    };
                    facilities.entry(facility.code.clone()).or_insert(facility);
                    Entry::Event(Box::new(event))
                }
            },
        })
        .collect();
    Ok(Push { carrier, waybill_no, state, facilities: facilities.into_values().collect(), entries })
}

/// A JSON scalar as text: `"3"` and `3` both give `3`.
fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// One trace entry as read, before its area is resolved.
#[derive(Debug)]
struct RawEntry {
    time: DateTime<FixedOffset>,
    context: String,
    status: Status,
    /// The entry's own area, when it has one.
    area: Option<AdminCode>,
    /// The first 【name】 in the context, with a trailing 公司 dropped, when there is one.
    place: Option<String>,
    field: String,
}

impl RawEntry {
    fn read(value: &Value, field: &str) -> Result<RawEntry, ValidationError> {
        let Value::Object(map) = value else {
            return Err(InvalidValue::new(value.to_string(), "must be an object").at(field));
        };
        let at = |name: &str| format!("{field}.{name}");
        let time_text = match (non_empty(map, "ftime"), non_empty(map, "time")) {
            (Some(text), _) | (None, Some(text)) => text,
            (None, None) => return Err(ValidationError::Missing { field: at("time") }),
        };
        let time = parse_local_time(&time_text).map_err(|err| err.at(at("time")))?;
        let context = non_empty(map, "context").ok_or_else(|| ValidationError::Missing { field: at("context") })?;
        let status = match (non_empty(map, "statusCode"), non_empty(map, "status")) {
            (Some(code), _) => Status::parse(&code).map_err(|err| err.at(at("statusCode")))?,
            (None, Some(text)) => Status::parse(&text).map_err(|err| err.at(at("status")))?,
            (None, None) => return Err(ValidationError::Missing { field: at("status") }),
        };
        let area = match non_empty(map, "areaCode") {
            None => None,
            Some(code) => Some(area_code(&code).map_err(|err| err.within(field))?),
        };
        Ok(RawEntry { time, place: bracketed(&context), context, status, area, field: field.to_owned() })
    }

    fn event_id(&self) -> EventId {
        let digest = Sha256::digest(format!("{}\n{}", self.time.to_rfc3339(), self.context).as_bytes());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        EventId::parse(&format!("k100-{hex}")).expect("`k100-` and 32 hex digits make a valid event id")
    }
}

/// A field's value as trimmed text, when present, not null and not empty (numbers are read as text).
fn non_empty(map: &Map<String, Value>, name: &str) -> Option<String> {
    match map.get(name) {
        None | Some(Value::Null) => None,
        Some(value) => Some(scalar(value).trim().to_owned()).filter(|text| !text.is_empty()),
    }
}

/// `2021-12-15 20:15:14` (China Standard Time) or an RFC 3339 time.
fn parse_local_time(text: &str) -> Result<DateTime<FixedOffset>, InvalidValue> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time);
    }
    NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .and_then(|naive| china().from_local_datetime(&naive).single())
        .ok_or_else(|| InvalidValue::new(text, "must be a time such as `2021-12-15 20:15:14` or RFC 3339"))
}

/// The first 【...】 of a context, without a trailing 公司, so that 【苏州转运中心公司】 and 【苏州转运中心】 are one place.
fn bracketed(context: &str) -> Option<String> {
    let start = context.find('【')? + '【'.len_utf8();
    let len = context[start..].find('】')?;
    let name = context[start..start + len].trim();
    let name = name.strip_suffix("公司").unwrap_or(name).trim();
    (!name.is_empty()).then(|| name.to_owned())
}

/// Reads an area code (`CN320507004000`, `CN1302`, `320500`) into the most precise division the national table
/// knows: the county, else its prefecture, else its province.
pub fn area_code(text: &str) -> Result<AdminCode, ValidationError> {
    let field = "areaCode";
    let digits = text.trim().strip_prefix("CN").unwrap_or(text.trim());
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4 | 6 | 9 | 12) {
        return Err(InvalidValue::new(
            text,
            "must be `CN` and 2, 4, 6, 9 or 12 digits of a GB/T 2260 division code, such as CN320500000000",
        )
        .at(field));
    }
    let six: String = digits.chars().chain(std::iter::repeat('0')).take(6).collect();
    let code = AdminCode::parse(&six).map_err(|err| InvalidValue::new(text, err.reason).at(field))?;
    let table = divisions();
    [code, code.prefecture(), code.province()]
        .into_iter()
        .find(|candidate| table.contains(*candidate))
        .ok_or_else(|| ValidationError::UnknownDivision { field: field.into(), value: text.to_owned() })
}

/// The area of the push's `routeInfo.cur`, where the parcel is now, when given and known.
fn route_area(result: &Map<String, Value>) -> Option<AdminCode> {
    let number = result.get("routeInfo")?.get("cur")?.get("number")?.as_str()?;
    area_code(number).ok()
}

/// The area of each entry: its own, else another entry's with the same 【place】, else the latest earlier entry's,
/// else the next later entry's, else the route's current area.
fn resolve_areas(
    entries: &[Result<RawEntry, ValidationError>],
    route_area: Option<AdminCode>,
) -> Vec<Result<AdminCode, ValidationError>> {
    let good: Vec<(usize, &RawEntry)> =
        entries.iter().enumerate().filter_map(|(idx, e)| e.as_ref().ok().map(|e| (idx, e))).collect();
    let mut by_place: BTreeMap<&str, AdminCode> = BTreeMap::new();
    for (_, entry) in &good {
        if let (Some(place), Some(area)) = (&entry.place, entry.area) {
            by_place.entry(place.as_str()).or_insert(area);
        }
    }
    // In time order (the push is newest first, but nothing relies on that), stable for equal times.
    let mut in_time = good.clone();
    in_time.sort_by_key(|(idx, entry)| (entry.time, std::cmp::Reverse(*idx)));
    let mut resolved: BTreeMap<usize, AdminCode> = BTreeMap::new();
    let mut latest: Option<AdminCode> = None;
    let mut pending = Vec::new();
    for (idx, entry) in &in_time {
        let own = entry.area.or_else(|| entry.place.as_deref().and_then(|p| by_place.get(p).copied()));
        match own.or(latest) {
            Some(area) => {
                resolved.insert(*idx, area);
                latest = Some(area);
            }
            None => pending.push(*idx),
        }
    }
    // Entries before the first located one take the earliest located area after them.
    let first_located = in_time.iter().find_map(|(idx, _)| resolved.get(idx).copied());
    for idx in pending {
        if let Some(area) = first_located.or(route_area) {
            resolved.insert(idx, area);
        }
    }
    entries
        .iter()
        .enumerate()
        .map(|(idx, entry)| match entry {
            Err(err) => Err(err.clone()),
            Ok(entry) => resolved
                .get(&idx)
                .copied()
                .ok_or_else(|| ValidationError::Missing { field: format!("{}.areaCode", entry.field) }),
        })
        .collect()
}

const LOCKER_WORDS: &[&str] = &["快递柜", "丰巢", "智能柜", "快件箱", "自提柜"];
const STATION_WORDS: &[&str] = &["驿站", "代收点", "自提点", "门店", "店代收", "取货码", "取件码", "服务站"];
const HUB_WORDS: &[&str] = &["转运中心", "转运场", "中转场", "集散中心", "枢纽", "航空部"];
const SORTING_WORDS: &[&str] = &["分拨中心", "分拨", "分拣中心"];
const DEPART_WORDS: &[&str] = &["已发出", "发往", "下一站", "已发车", "离开"];
const OTHER_SIGNER_WORDS: &[&str] = &["代收", "代签", "他人", "家人", "门卫", "前台", "同事", "物业"];

fn has_any(text: &str, words: &[&str]) -> bool {
    words.iter().any(|word| text.contains(word))
}

/// The Kuaidi kind of an entry, with its signer and exception code; `None` for an entry that is no scan.
fn event_kind(entry: &RawEntry) -> Option<(EventKind, Option<Signer>, Option<String>)> {
    let context = entry.context.as_str();
    let code = Some(format!("K100-{}", entry.status.code()));
    let plain = |kind| Some((kind, None, None));
    let handed_over = has_any(context, LOCKER_WORDS) || has_any(context, STATION_WORDS);
    match (entry.status.state, entry.status.sub) {
        (State::Collected, Some(101 | 102)) => None,
        (State::Collected, _) => plain(EventKind::Accept),
        (State::InTransit, _) if has_any(context, DEPART_WORDS) => plain(EventKind::Depart),
        (State::InTransit, _) if handed_over => plain(EventKind::IntoLocker),
        (State::InTransit, _) => plain(EventKind::Arrive),
        (State::Delivering, Some(501)) => plain(EventKind::IntoLocker),
        (State::Delivering, _) if handed_over => plain(EventKind::IntoLocker),
        (State::Delivering, _) => plain(EventKind::OutForDelivery),
        (State::Signed, sub) => {
            let signer = match sub {
                Some(301) => Signer::Receiver,
                Some(303) => Signer::Other,
                _ if has_any(context, LOCKER_WORDS) => Signer::Locker,
                _ if has_any(context, STATION_WORDS) => Signer::Station,
                Some(304) => Signer::Station,
                _ if has_any(context, OTHER_SIGNER_WORDS) => Signer::Other,
                _ => Signer::Receiver,
            };
            Some((EventKind::Delivered, Some(signer), None))
        }
        (State::Difficult, Some(203)) => Some((EventKind::Refused, None, code)),
        (State::Difficult, Some(209)) => Some((EventKind::Damaged, None, code)),
        (State::Difficult, _) => Some((EventKind::Exception, None, code)),
        (State::ReturnSigned | State::Returning, _) => Some((EventKind::Returned, None, code)),
        (State::Transferred, _) => plain(EventKind::Depart),
        (State::Customs, Some(13)) => Some((EventKind::Exception, None, code)),
        (State::Customs, _) => plain(EventKind::Arrive),
        (State::Refused, _) => Some((EventKind::Refused, None, code)),
    }
}

/// The kind of place an entry happened at: from its 【place】, or from the whole context when it names none.
fn facility_kind(entry: &RawEntry) -> FacilityKind {
    let text = entry.place.as_deref().unwrap_or(&entry.context);
    if has_any(text, LOCKER_WORDS) {
        FacilityKind::Locker
    } else if has_any(text, STATION_WORDS) {
        FacilityKind::Station
    } else if has_any(text, HUB_WORDS) {
        FacilityKind::Hub
    } else if has_any(text, SORTING_WORDS) {
        FacilityKind::SortingCentre
    } else {
        FacilityKind::Outlet
    }
}

fn kind_name_zh(kind: FacilityKind) -> &'static str {
    match kind {
        FacilityKind::Outlet => "网点",
        FacilityKind::SortingCentre => "分拨中心",
        FacilityKind::Hub => "转运中心",
        FacilityKind::Locker => "快递柜",
        FacilityKind::Station => "驿站",
    }
}

/// The virtual facility of a carrier, area and kind. Its content follows from the three alone, so every push that
/// needs it registers the same facility.
pub fn virtual_facility(
    carrier: &CarrierCode,
    division: AdminCode,
    kind: FacilityKind,
    field: &str,
) -> Result<Facility, ValidationError> {
    let text = format!("{FACILITY_PREFIX}.{carrier}.{division}.{}", kind.as_str());
    let code = FacilityCode::parse(&text).map_err(|err| err.at(format!("{field}.areaCode")))?;
    let table = divisions();
    Ok(Facility {
        code,
        kind,
        carrier: Some(carrier.clone()),
        division,
        location: table.get(division).and_then(|d| d.centre),
        name: format!("{carrier} {}{} (快递100)", table.full_name(division), kind_name_zh(kind)),
    })
}

#[cfg(test)]
mod tests;
