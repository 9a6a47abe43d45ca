//! Validation errors: every one names the field and, where there is one, the offending value.

use std::fmt;

/// A value that failed to parse, before it is known which field it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidValue {
    /// The offending value, as given.
    pub value: String,
    /// Why it is wrong, as a lowercase phrase: "must be 6 digits".
    pub reason: String,
}

impl InvalidValue {
    /// A new invalid value with its reason.
    pub fn new(value: impl Into<String>, reason: impl Into<String>) -> InvalidValue {
        InvalidValue { value: value.into(), reason: reason.into() }
    }

    /// Attaches the field name, turning this into a [`ValidationError`].
    pub fn at(self, field: impl Into<String>) -> ValidationError {
        ValidationError::Invalid { field: field.into(), value: self.value, reason: self.reason }
    }
}

impl fmt::Display for InvalidValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` {}", self.value, self.reason)
    }
}

/// Why a record was rejected.
///
/// Each variant carries the field (a dotted path such as `sender.division`) and the offending value.
/// `kuaidi-api` maps each variant onto a stable error code; see [`ValidationError::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A required field is absent or null.
    #[error("field `{field}` is required")]
    Missing { field: String },
    /// A field is present but malformed or out of range.
    #[error("field `{field}` has the invalid value `{value}`: it {reason}")]
    Invalid { field: String, value: String, reason: String },
    /// The carrier code is well formed but not registered.
    #[error("field `{field}` names the carrier `{value}`, which is not registered")]
    UnknownCarrier { field: String, value: String },
    /// The facility code is well formed but not registered.
    #[error("field `{field}` names the facility `{value}`, which is not registered")]
    UnknownFacility { field: String, value: String },
    /// The division code is 6 digits but not a GB/T 2260 division.
    #[error("field `{field}` has the division code `{value}`, which is not a GB/T 2260 division")]
    UnknownDivision { field: String, value: String },
    /// A time lies further in the future than the tolerance allows.
    #[error("field `{field}` has the time `{value}`, more than {tolerance_secs} s after the hub's clock")]
    TimeInFuture { field: String, value: String, tolerance_secs: i64 },
    /// The record names a carrier other than the one it must belong to.
    #[error("field `{field}` names the carrier `{value}`, but this record may only belong to `{expected}`")]
    CarrierMismatch { field: String, value: String, expected: String },
}

impl ValidationError {
    /// The stable, snake_case code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            ValidationError::Missing { .. } => "missing_field",
            ValidationError::Invalid { .. } => "invalid_field",
            ValidationError::UnknownCarrier { .. } => "unknown_carrier",
            ValidationError::UnknownFacility { .. } => "unknown_facility",
            ValidationError::UnknownDivision { .. } => "unknown_division",
            ValidationError::TimeInFuture { .. } => "time_in_future",
            ValidationError::CarrierMismatch { .. } => "carrier_mismatch",
        }
    }

    /// The field the error is about.
    pub fn field(&self) -> &str {
        match self {
            ValidationError::Missing { field }
            | ValidationError::Invalid { field, .. }
            | ValidationError::UnknownCarrier { field, .. }
            | ValidationError::UnknownFacility { field, .. }
            | ValidationError::UnknownDivision { field, .. }
            | ValidationError::TimeInFuture { field, .. }
            | ValidationError::CarrierMismatch { field, .. } => field,
        }
    }

    /// The offending value, when there is one.
    pub fn value(&self) -> Option<&str> {
        match self {
            ValidationError::Missing { .. } => None,
            ValidationError::Invalid { value, .. }
            | ValidationError::UnknownCarrier { value, .. }
            | ValidationError::UnknownFacility { value, .. }
            | ValidationError::UnknownDivision { value, .. }
            | ValidationError::TimeInFuture { value, .. }
            | ValidationError::CarrierMismatch { value, .. } => Some(value),
        }
    }

    /// Prefixes the field with a parent path: `division` becomes `sender.division`.
    pub fn within(mut self, parent: &str) -> ValidationError {
        let field = match &mut self {
            ValidationError::Missing { field }
            | ValidationError::Invalid { field, .. }
            | ValidationError::UnknownCarrier { field, .. }
            | ValidationError::UnknownFacility { field, .. }
            | ValidationError::UnknownDivision { field, .. }
            | ValidationError::TimeInFuture { field, .. }
            | ValidationError::CarrierMismatch { field, .. } => field,
        };
        *field = format!("{parent}.{field}");
        self
    }
}
