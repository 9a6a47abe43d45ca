//! Consumer complaints (申诉) against a carrier about one parcel, and the regulator's verdict on them.
//!
//! The plan's quality indicator counts *valid* complaints (有效申诉): those the postal administration found justified
//! after mediation. A complaint is filed `pending`; the verdict arrives later as a re-send of the same complaint id
//! with `valid` or `invalid`.
use std::fmt;

use chrono::{DateTime, FixedOffset, Utc};

use crate::validate::{check_time, Policy, Reference};
use crate::{CarrierCode, InvalidValue, ValidationError, WaybillNo};

/// A complaint's identifier, unique within its carrier's waybill: 1 to 64 printable ASCII characters without spaces.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComplaintId(String);

impl ComplaintId {
    /// Parses a complaint id.
    pub fn parse(text: &str) -> Result<ComplaintId, InvalidValue> {
        let valid_len = (1..=64).contains(&text.len());
        if valid_len && text.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(ComplaintId(text.to_owned()))
        } else {
            Err(InvalidValue::new(text, "must be 1 to 64 printable ASCII characters without spaces"))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ComplaintId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the complaint is about, in the categories of the State Post Bureau's complaint statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ComplaintCategory {
    /// 延误: late delivery.
    Delay,
    /// 丢失短少: lost, or contents missing.
    Loss,
    /// 损毁: damaged.
    Damage,
    /// 投递服务: not delivered to the door, signed for without consent, put in a locker without consent.
    Delivery,
    /// 收寄服务: refused to accept, did not inspect, wrong charge.
    Acceptance,
    /// 其他: anything else.
    Other,
}

impl ComplaintCategory {
    /// Every category.
    pub const ALL: [ComplaintCategory; 6] = [
        ComplaintCategory::Delay,
        ComplaintCategory::Loss,
        ComplaintCategory::Damage,
        ComplaintCategory::Delivery,
        ComplaintCategory::Acceptance,
        ComplaintCategory::Other,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintCategory::Delay => "delay",
            ComplaintCategory::Loss => "loss",
            ComplaintCategory::Damage => "damage",
            ComplaintCategory::Delivery => "delivery",
            ComplaintCategory::Acceptance => "acceptance",
            ComplaintCategory::Other => "other",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Result<ComplaintCategory, InvalidValue> {
        ComplaintCategory::ALL
            .into_iter()
            .find(|category| category.as_str() == text)
            .ok_or_else(|| InvalidValue::new(text, "must be one of delay, loss, damage, delivery, acceptance, other"))
    }
}

/// The regulator's verdict on a complaint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// Filed, not yet judged.
    Pending,
    /// Judged justified: a valid complaint (有效申诉), counted by the quality indicator.
    Valid,
    /// Judged unjustified.
    Invalid,
}

impl Verdict {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pending => "pending",
            Verdict::Valid => "valid",
            Verdict::Invalid => "invalid",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Result<Verdict, InvalidValue> {
        [Verdict::Pending, Verdict::Valid, Verdict::Invalid]
            .into_iter()
            .find(|verdict| verdict.as_str() == text)
            .ok_or_else(|| InvalidValue::new(text, "must be one of pending, valid, invalid"))
    }
}

/// A consumer's complaint about one parcel.
#[derive(Debug, Clone, PartialEq)]
pub struct Complaint {
    /// Its id, unique within the carrier's waybill; a re-send with the same id updates the verdict.
    pub id: ComplaintId,
    /// The carrier complained about.
    pub carrier: CarrierCode,
    /// The parcel.
    pub waybill_no: WaybillNo,
    /// When it was filed, with the filer's UTC offset.
    pub filed_at: DateTime<FixedOffset>,
    /// What it is about.
    pub category: ComplaintCategory,
    /// The consumer's words.
    pub description: String,
    /// The regulator's verdict so far.
    pub verdict: Verdict,
}

/// Checks a complaint.
///
/// Rules: the carrier is registered; the filing time is plausible as for events; the description is non-empty text
/// of at most 500 characters.
pub fn validate_complaint(
    complaint: &Complaint,
    reference: &impl Reference,
    now: DateTime<Utc>,
    policy: &Policy,
) -> Result<(), ValidationError> {
    if !reference.has_carrier(&complaint.carrier) {
        return Err(ValidationError::UnknownCarrier { field: "carrier".into(), value: complaint.carrier.to_string() });
    }
    check_time("filed_at", &complaint.filed_at, now, policy)?;
    crate::check_text("description", &complaint.description, 500)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for category in ComplaintCategory::ALL {
            assert_eq!(ComplaintCategory::parse(category.as_str()).unwrap(), category);
        }
        for verdict in [Verdict::Pending, Verdict::Valid, Verdict::Invalid] {
            assert_eq!(Verdict::parse(verdict.as_str()).unwrap(), verdict);
        }
        assert!(ComplaintCategory::parse("rude").is_err());
        assert!(Verdict::parse("upheld").is_err());
        assert!(ComplaintId::parse("c 1").is_err());
        assert!(ComplaintId::parse("").is_err());
        assert_eq!(ComplaintId::parse("c-1").unwrap().as_str(), "c-1");
    }
}
