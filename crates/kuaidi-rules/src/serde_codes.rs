//! Serde forms of the model's types, which derive no serde themselves (kuaidi-model stays free of serialization):
//! codes as their text, times as RFC 3339 with their offset, days as `YYYY-MM-DD`.
//!
//! Used through `#[serde(with = "...")]` on the summary, cell and report types that a store keeps and an API shows.

use chrono::{DateTime, FixedOffset, NaiveDate};
use kuaidi_model::{AdminCode, CarrierCode, FacilityCode, WaybillNo};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};

/// A carrier code as its text.
pub mod carrier {
    use super::*;

    pub fn serialize<S: Serializer>(code: &CarrierCode, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(code.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<CarrierCode, D::Error> {
        let text = String::deserialize(deserializer)?;
        CarrierCode::parse(&text).map_err(|err| D::Error::custom(format!("carrier: {err}")))
    }
}

/// An optional carrier code as its text or null.
pub mod carrier_opt {
    use super::*;

    pub fn serialize<S: Serializer>(code: &Option<CarrierCode>, serializer: S) -> Result<S::Ok, S::Error> {
        match code {
            Some(code) => serializer.serialize_some(code.as_str()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<CarrierCode>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| CarrierCode::parse(&text).map_err(|err| D::Error::custom(format!("carrier: {err}"))))
            .transpose()
    }
}

/// A waybill number as its text.
pub mod waybill_no {
    use super::*;

    pub fn serialize<S: Serializer>(number: &WaybillNo, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(number.as_str())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<WaybillNo, D::Error> {
        let text = String::deserialize(deserializer)?;
        WaybillNo::parse(&text).map_err(|err| D::Error::custom(format!("waybill_no: {err}")))
    }
}

/// A sequence of facility codes, as a sequence of their texts.
pub mod facilities {
    use serde::ser::SerializeSeq;

    use super::*;

    pub fn serialize<S: Serializer>(codes: &[FacilityCode], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(codes.len()))?;
        for code in codes {
            seq.serialize_element(code.as_str())?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<FacilityCode>, D::Error> {
        let texts = Vec::<String>::deserialize(deserializer)?;
        texts
            .iter()
            .map(|text| FacilityCode::parse(text).map_err(|err| D::Error::custom(format!("facility: {err}"))))
            .collect()
    }
}

/// An optional division code as its 6-digit text or null.
pub mod admin_opt {
    use super::*;

    pub fn serialize<S: Serializer>(code: &Option<AdminCode>, serializer: S) -> Result<S::Ok, S::Error> {
        match code {
            Some(code) => serializer.serialize_some(&code.to_string()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<AdminCode>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| AdminCode::parse(&text).map_err(|err| D::Error::custom(format!("division: {err}")))).transpose()
    }
}

/// An optional time as RFC 3339 with its offset, or null.
pub mod time_opt {
    use super::*;

    pub fn serialize<S: Serializer>(time: &Option<DateTime<FixedOffset>>, serializer: S) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => serializer.serialize_some(&time.to_rfc3339()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<FixedOffset>>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| DateTime::parse_from_rfc3339(&text).map_err(|err| D::Error::custom(format!("time: {err}"))))
            .transpose()
    }
}

/// A day as `YYYY-MM-DD`.
pub mod day {
    use super::*;

    pub fn serialize<S: Serializer>(day: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&day.format("%Y-%m-%d").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
        let text = String::deserialize(deserializer)?;
        NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|err| D::Error::custom(format!("day: {err}")))
    }
}

/// An optional day as `YYYY-MM-DD` or null.
pub mod day_opt {
    use super::*;

    pub fn serialize<S: Serializer>(day: &Option<NaiveDate>, serializer: S) -> Result<S::Ok, S::Error> {
        match day {
            Some(day) => serializer.serialize_some(&day.format("%Y-%m-%d").to_string()),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<NaiveDate>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|text| {
            NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|err| D::Error::custom(format!("day: {err}")))
        })
        .transpose()
    }
}
