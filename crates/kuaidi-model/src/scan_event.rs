//! Scan events: one thing that happened to a parcel, at one facility, at one time.

use std::fmt;

use chrono::{DateTime, FixedOffset};
use compact_str::CompactString;

use crate::{CarrierCode, FacilityCode, InvalidValue, WaybillNo};

/// An event's identifier, unique within its carrier's waybill: 1 to 64 printable ASCII characters without spaces.
///
/// A carrier that re-sends an event sends the same id, which is what makes ingest idempotent: an event is keyed by
/// `(waybill_no, carrier, event_id)`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(CompactString);

impl EventId {
    /// Parses an event id.
    pub fn parse(text: &str) -> Result<EventId, InvalidValue> {
        let valid_len = (1..=64).contains(&text.len());
        let valid_chars = text.bytes().all(|b| b.is_ascii_graphic());
        if valid_len && valid_chars {
            Ok(EventId(CompactString::from(text)))
        } else {
            Err(InvalidValue::new(text, "must be 1 to 64 printable ASCII characters without spaces"))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EventKind {
    /// 揽收: the courier took the parcel from the sender.
    Accept,
    /// 验视: the parcel was opened and inspected at acceptance.
    Inspect,
    /// 安检: the parcel passed an X-ray security scan.
    SecurityScan,
    /// 发件: the parcel left a facility.
    Depart,
    /// 到件: the parcel arrived at a facility.
    Arrive,
    /// 派件: out for delivery.
    OutForDelivery,
    /// 入柜: put into a smart locker.
    IntoLocker,
    /// 签收: delivered and signed for.
    Delivered,
    /// 拒签: the receiver refused it.
    Refused,
    /// 退回: sent back to the sender.
    Returned,
    /// 问题件: a problem was reported.
    Exception,
    /// 破损: found damaged.
    Damaged,
    /// 遗失: reported lost.
    Lost,
}

impl EventKind {
    /// Every kind, in lifecycle order.
    pub const ALL: [EventKind; 13] = [
        EventKind::Accept,
        EventKind::Inspect,
        EventKind::SecurityScan,
        EventKind::Depart,
        EventKind::Arrive,
        EventKind::OutForDelivery,
        EventKind::IntoLocker,
        EventKind::Delivered,
        EventKind::Refused,
        EventKind::Returned,
        EventKind::Exception,
        EventKind::Damaged,
        EventKind::Lost,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Accept => "accept",
            EventKind::Inspect => "inspect",
            EventKind::SecurityScan => "security_scan",
            EventKind::Depart => "depart",
            EventKind::Arrive => "arrive",
            EventKind::OutForDelivery => "out_for_delivery",
            EventKind::IntoLocker => "into_locker",
            EventKind::Delivered => "delivered",
            EventKind::Refused => "refused",
            EventKind::Returned => "returned",
            EventKind::Exception => "exception",
            EventKind::Damaged => "damaged",
            EventKind::Lost => "lost",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Result<EventKind, InvalidValue> {
        EventKind::ALL.into_iter().find(|kind| kind.as_str() == text).ok_or_else(|| {
            InvalidValue::new(
                text,
                "must be one of accept, inspect, security_scan, depart, arrive, out_for_delivery, into_locker, \
                 delivered, refused, returned, exception, damaged, lost",
            )
        })
    }

    /// The Chinese name used on tracking pages.
    pub fn name_zh(self) -> &'static str {
        match self {
            EventKind::Accept => "揽收",
            EventKind::Inspect => "验视",
            EventKind::SecurityScan => "安检",
            EventKind::Depart => "发件",
            EventKind::Arrive => "到件",
            EventKind::OutForDelivery => "派件",
            EventKind::IntoLocker => "入柜",
            EventKind::Delivered => "签收",
            EventKind::Refused => "拒签",
            EventKind::Returned => "退回",
            EventKind::Exception => "问题件",
            EventKind::Damaged => "破损",
            EventKind::Lost => "遗失",
        }
    }

    /// Whether an exception code may be given with this kind.
    pub fn takes_exception_code(self) -> bool {
        matches!(
            self,
            EventKind::Exception | EventKind::Refused | EventKind::Returned | EventKind::Damaged | EventKind::Lost
        )
    }
}

/// Who signed for a delivered parcel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signer {
    /// The receiver in person (本人签收).
    Receiver,
    /// A smart locker (快递柜代收).
    Locker,
    /// A pick-up station (驿站代收).
    Station,
    /// Someone else: family, colleague, reception desk (他人代收).
    Other,
}

impl Signer {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Signer::Receiver => "self",
            Signer::Locker => "locker",
            Signer::Station => "station",
            Signer::Other => "other",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Result<Signer, InvalidValue> {
        match text {
            "self" => Ok(Signer::Receiver),
            "locker" => Ok(Signer::Locker),
            "station" => Ok(Signer::Station),
            "other" => Ok(Signer::Other),
            _ => Err(InvalidValue::new(text, "must be one of self, locker, station, other")),
        }
    }
}

/// A scan event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanEvent {
    /// Unique within the carrier's waybill; with them, the idempotency key.
    pub event_id: EventId,
    /// The carrier that scanned.
    pub carrier: CarrierCode,
    /// The parcel's waybill number.
    pub waybill_no: WaybillNo,
    /// What happened.
    pub kind: EventKind,
    /// When, with the local UTC offset as reported.
    pub time: DateTime<FixedOffset>,
    /// Where.
    pub facility: FacilityCode,
    /// The courier or employee who scanned: the person responsible (人员责任可倒查).
    pub operator: Option<CompactString>,
    /// The vehicle plate or flight number carrying the parcel (车辆运输可追踪).
    pub vehicle: Option<CompactString>,
    /// For a departure, the facility the parcel is bound for.
    pub next_facility: Option<FacilityCode>,
    /// The carrier's own problem code for exceptions, refusals, returns, damage and loss.
    pub exception_code: Option<CompactString>,
    /// For a delivery, who signed.
    pub signer: Option<Signer>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()).unwrap(), kind);
        }
        assert!(EventKind::parse("teleported").is_err());
        for signer in [Signer::Receiver, Signer::Locker, Signer::Station, Signer::Other] {
            assert_eq!(Signer::parse(signer.as_str()).unwrap(), signer);
        }
    }

    #[test]
    fn event_ids() {
        assert!(EventId::parse("e-1:2/3").is_ok());
        for bad in ["", "a b", "事件", &"e".repeat(65)] {
            assert!(EventId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
