//! Decoding native JSON records into the model, naming the field and the value of every error.

use chrono::{DateTime, FixedOffset};
use kuaidi_model::{
    Address, AdminCode, Carrier, CarrierCode, Complaint, ComplaintCategory, ComplaintId, Contents, EventId, EventKind,
    Facility, FacilityCode, FacilityKind, GeoPoint, IdType, InvalidValue, Party, Phone, RealName, Record, ScanEvent,
    Signer, ValidationError, Verdict, Waybill, WaybillNo,
};
use serde_json::{Map, Value};

/// Why a record could not be decoded.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The text is not JSON, or not a JSON object.
    #[error("the record is not a valid JSON object: {0}")]
    Syntax(String),
    /// A field is missing, of the wrong type or malformed.
    #[error(transparent)]
    Field(#[from] ValidationError),
    /// A CSV column mapping is malformed or does not fit the file.
    #[error("the column mapping does not fit: {0}")]
    Mapping(String),
}

impl DecodeError {
    /// The stable error code: `invalid_json`, or the field error's code.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::Syntax(_) => "invalid_json",
            DecodeError::Field(err) => err.code(),
            DecodeError::Mapping(_) => "invalid_field",
        }
    }
}

/// Decodes one JSON text into a record.
///
/// A well-formed record is read straight into borrowed structs (`typed`); any other text is read into a JSON value
/// and walked field by field, so that the error names the field and the value.
pub fn decode_record(text: &str) -> Result<Record, DecodeError> {
    typed::decode(text).map_or_else(|| walk(text), Ok)
}

/// The text read into a JSON value and walked: the one definition of what a line decodes to, and of its errors.
fn walk(text: &str) -> Result<Record, DecodeError> {
    let value: Value = serde_json::from_str(text).map_err(|err| DecodeError::Syntax(err.to_string()))?;
    decode_value(&value)
}

/// Decodes an already-parsed JSON value into a record.
pub fn decode_value(value: &Value) -> Result<Record, DecodeError> {
    let Value::Object(map) = value else {
        return Err(DecodeError::Syntax(format!("expected an object, found {}", type_name(value))));
    };
    let fields = Fields { map, prefix: "" };
    let kind = fields.required_str("type")?;
    let record = match kind {
        "carrier" => {
            fields.only(&["type", "code", "name"])?;
            Record::Carrier(Carrier { code: fields.parse("code", CarrierCode::parse)?, name: fields.text("name")? })
        }
        "facility" => Record::Facility(facility(&fields)?),
        "waybill" => Record::Waybill(Box::new(waybill(&fields)?)),
        "event" => Record::Event(Box::new(event(&fields)?)),
        "complaint" => Record::Complaint(Box::new(complaint(&fields)?)),
        other => {
            return Err(InvalidValue::new(other, "must be one of carrier, facility, waybill, event, complaint")
                .at("type")
                .into())
        }
    };
    Ok(record)
}

/// Parses an RFC 3339 time that carries an explicit offset.
pub fn parse_time(text: &str) -> Result<DateTime<FixedOffset>, InvalidValue> {
    DateTime::parse_from_rfc3339(text).map_err(|_| {
        InvalidValue::new(text, "must be an RFC 3339 time with an offset, such as 2026-11-11T09:00:00+08:00")
    })
}

fn facility(fields: &Fields<'_>) -> Result<Facility, ValidationError> {
    fields.only(&["type", "code", "kind", "carrier", "division", "longitude", "latitude", "name"])?;
    let location = match (fields.optional_f64("longitude")?, fields.optional_f64("latitude")?) {
        (Some(longitude), Some(latitude)) => Some(GeoPoint::new(longitude, latitude)?),
        (None, None) => None,
        (Some(_), None) => return Err(ValidationError::Missing { field: "latitude".into() }),
        (None, Some(_)) => return Err(ValidationError::Missing { field: "longitude".into() }),
    };
    Ok(Facility {
        code: fields.parse("code", FacilityCode::parse)?,
        kind: fields.parse("kind", FacilityKind::parse)?,
        carrier: fields.optional_parse("carrier", CarrierCode::parse)?,
        division: fields.parse("division", AdminCode::parse)?,
        location,
        name: fields.text("name")?,
    })
}

fn waybill(fields: &Fields<'_>) -> Result<Waybill, ValidationError> {
    fields.only(&[
        "type",
        "carrier",
        "waybill_no",
        "product",
        "electronic",
        "created_at",
        "sender",
        "receiver",
        "real_name",
        "contents",
    ])?;
    let real_name = match fields.optional_object("real_name")? {
        Some(sub) => {
            sub.only(&["id_type", "id_number", "verified"])?;
            Some(RealName {
                id_type: sub.parse("id_type", IdType::parse)?,
                id_number: sub.text("id_number")?,
                verified: sub.required_bool("verified")?,
            })
        }
        None => None,
    };
    let contents = fields.object("contents")?;
    contents.only(&["category", "description", "weight_grams", "declared_value_fen"])?;
    let weight = contents.required_u64("weight_grams")?;
    Ok(Waybill {
        carrier: fields.parse("carrier", CarrierCode::parse)?,
        waybill_no: fields.parse("waybill_no", WaybillNo::parse)?,
        product: fields.text("product")?,
        electronic: fields.optional_bool("electronic")?.unwrap_or(true),
        created_at: fields.parse("created_at", parse_time)?,
        sender: party(&fields.object("sender")?)?,
        receiver: party(&fields.object("receiver")?)?,
        real_name,
        contents: Contents {
            category: contents.text("category")?,
            description: contents.text("description")?,
            weight_grams: u32::try_from(weight).map_err(|_| {
                InvalidValue::new(weight.to_string(), "must be from 1 to 100000 grams")
                    .at(contents.path("weight_grams"))
            })?,
            declared_value_fen: contents.optional_u64("declared_value_fen")?.unwrap_or(0),
        },
    })
}

fn party(fields: &Fields<'_>) -> Result<Party, ValidationError> {
    fields.only(&["name", "phone", "division", "address"])?;
    Ok(Party {
        name: fields.text("name")?,
        phone: fields.parse("phone", Phone::parse)?,
        address: Address { division: fields.parse("division", AdminCode::parse)?, detail: fields.text("address")? },
    })
}

fn complaint(fields: &Fields<'_>) -> Result<Complaint, ValidationError> {
    fields.only(&[
        "type",
        "complaint_id",
        "carrier",
        "waybill_no",
        "filed_at",
        "category",
        "description",
        "verdict",
    ])?;
    Ok(Complaint {
        id: fields.parse("complaint_id", ComplaintId::parse)?,
        carrier: fields.parse("carrier", CarrierCode::parse)?,
        waybill_no: fields.parse("waybill_no", WaybillNo::parse)?,
        filed_at: fields.parse("filed_at", parse_time)?,
        category: fields.parse("category", ComplaintCategory::parse)?,
        description: fields.text("description")?,
        verdict: fields.parse("verdict", Verdict::parse)?,
    })
}

fn event(fields: &Fields<'_>) -> Result<ScanEvent, ValidationError> {
    fields.only(&[
        "type",
        "event_id",
        "carrier",
        "waybill_no",
        "kind",
        "time",
        "facility",
        "operator",
        "vehicle",
        "next_facility",
        "exception_code",
        "signer",
    ])?;
    Ok(ScanEvent {
        event_id: fields.parse("event_id", EventId::parse)?,
        carrier: fields.parse("carrier", CarrierCode::parse)?,
        waybill_no: fields.parse("waybill_no", WaybillNo::parse)?,
        kind: fields.parse("kind", EventKind::parse)?,
        time: fields.parse("time", parse_time)?,
        facility: fields.parse("facility", FacilityCode::parse)?,
        operator: fields.optional_text("operator")?.map(Into::into),
        vehicle: fields.optional_text("vehicle")?.map(Into::into),
        next_facility: fields.optional_parse("next_facility", FacilityCode::parse)?,
        exception_code: fields.optional_text("exception_code")?.map(Into::into),
        signer: fields.optional_parse("signer", Signer::parse)?,
    })
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn shown(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// An object being decoded, with the dotted path of its position in the record.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: &'a str,
}

impl<'a> Fields<'a> {
    fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    fn invalid(&self, name: &str, value: &Value, reason: &str) -> ValidationError {
        ValidationError::Invalid { field: self.path(name), value: shown(value), reason: reason.to_owned() }
    }

    /// Rejects any field not in `allowed`: a misspelt optional field would otherwise be dropped in silence.
    fn only(&self, allowed: &[&str]) -> Result<(), ValidationError> {
        match self.map.iter().find(|(name, _)| !allowed.contains(&name.as_str())) {
            Some((name, value)) => Err(self.invalid(name, value, "is not a field of this record")),
            None => Ok(()),
        }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|value| !value.is_null())
    }

    fn optional_str(&self, name: &str) -> Result<Option<&'a str>, ValidationError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(self.invalid(name, other, &format!("must be a string, not {}", type_name(other)))),
        }
    }

    fn required_str(&self, name: &str) -> Result<&'a str, ValidationError> {
        self.optional_str(name)?.ok_or_else(|| ValidationError::Missing { field: self.path(name) })
    }

    fn text(&self, name: &str) -> Result<String, ValidationError> {
        self.required_str(name).map(str::to_owned)
    }

    fn optional_text(&self, name: &str) -> Result<Option<String>, ValidationError> {
        self.optional_str(name).map(|text| text.map(str::to_owned))
    }

    fn parse<T>(&self, name: &str, parse: impl FnOnce(&str) -> Result<T, InvalidValue>) -> Result<T, ValidationError> {
        let text = self.required_str(name)?;
        parse(text).map_err(|err| ValidationError::Invalid {
            field: self.path(name),
            value: err.value,
            reason: err.reason,
        })
    }

    fn optional_parse<T>(
        &self,
        name: &str,
        parse: impl FnOnce(&str) -> Result<T, InvalidValue>,
    ) -> Result<Option<T>, ValidationError> {
        match self.optional_str(name)? {
            Some(_) => self.parse(name, parse).map(Some),
            None => Ok(None),
        }
    }

    fn optional_bool(&self, name: &str) -> Result<Option<bool>, ValidationError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(flag)) => Ok(Some(*flag)),
            Some(other) => Err(self.invalid(name, other, "must be true or false")),
        }
    }

    fn required_bool(&self, name: &str) -> Result<bool, ValidationError> {
        self.optional_bool(name)?.ok_or_else(|| ValidationError::Missing { field: self.path(name) })
    }

    fn optional_u64(&self, name: &str) -> Result<Option<u64>, ValidationError> {
        match self.get(name) {
            None => Ok(None),
            Some(value @ Value::Number(number)) => {
                number.as_u64().map(Some).ok_or_else(|| self.invalid(name, value, "must be a whole number, 0 or more"))
            }
            Some(other) => Err(self.invalid(name, other, &format!("must be a number, not {}", type_name(other)))),
        }
    }

    fn required_u64(&self, name: &str) -> Result<u64, ValidationError> {
        self.optional_u64(name)?.ok_or_else(|| ValidationError::Missing { field: self.path(name) })
    }

    fn optional_f64(&self, name: &str) -> Result<Option<f64>, ValidationError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(number)) => Ok(number.as_f64()),
            Some(other) => Err(self.invalid(name, other, &format!("must be a number, not {}", type_name(other)))),
        }
    }

    fn optional_object(&self, name: &'a str) -> Result<Option<Fields<'a>>, ValidationError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Object(map)) => {
                // Nested objects are one level deep, so the field name is the whole prefix.
                debug_assert!(self.prefix.is_empty());
                Ok(Some(Fields { map, prefix: name }))
            }
            Some(other) => Err(self.invalid(name, other, &format!("must be an object, not {}", type_name(other)))),
        }
    }

    fn object(&self, name: &'a str) -> Result<Fields<'a>, ValidationError> {
        self.optional_object(name)?.ok_or_else(|| ValidationError::Missing { field: self.path(name) })
    }
}

mod typed;

#[cfg(test)]
mod tests;
