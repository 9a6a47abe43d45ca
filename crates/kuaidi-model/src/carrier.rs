//! Carriers (快递企业) and their codes.

use std::fmt;

use compact_str::CompactString;

use crate::{check_text, InvalidValue, ValidationError};

/// A carrier's code: 2 to 32 characters of lowercase ASCII letters, digits and `_`, starting with a letter.
///
/// The codes follow the style aggregators such as Kuaidi100 use (`yuantong`, `shunfeng`, `zto`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CarrierCode(CompactString);

impl CarrierCode {
    /// Parses a carrier code.
    pub fn parse(text: &str) -> Result<CarrierCode, InvalidValue> {
        let valid_len = (2..=32).contains(&text.len());
        let starts_with_letter = text.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
        let valid_chars = text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if valid_len && starts_with_letter && valid_chars {
            Ok(CarrierCode(CompactString::from(text)))
        } else {
            Err(InvalidValue::new(text, "must be 2 to 32 lowercase letters, digits or `_`, starting with a letter"))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CarrierCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A carrier registered with the hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Carrier {
    /// Its code, unique in the hub.
    pub code: CarrierCode,
    /// Its display name, such as `圆通速递`.
    pub name: String,
}

impl Carrier {
    /// Checks the fields that the code's type does not already guarantee.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_text("name", &self.name, 64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_codes() {
        for good in ["sf", "yuantong", "zto_2", "j1"] {
            assert_eq!(CarrierCode::parse(good).unwrap().as_str(), good);
        }
        for bad in ["", "s", "SF", "1sf", "y t", "yuan-tong", &"a".repeat(33), "顺丰"] {
            assert!(CarrierCode::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
