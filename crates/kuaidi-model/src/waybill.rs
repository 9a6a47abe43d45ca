//! Electronic waybills (电子运单): the parties, the sender's real-name record and the declared contents.

use std::fmt;

use chrono::{DateTime, FixedOffset};
use compact_str::CompactString;

use crate::{check_text, AdminCode, CarrierCode, InvalidValue, ValidationError};

/// A waybill number: 8 to 32 ASCII letters and digits with at least one digit, kept in upper case.
///
/// Lower-case input is accepted and upper-cased, so `parse(format(n)) == n` always holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WaybillNo(CompactString);

impl WaybillNo {
    /// Parses a waybill number.
    pub fn parse(text: &str) -> Result<WaybillNo, InvalidValue> {
        let valid_len = (8..=32).contains(&text.len());
        let valid_chars = text.bytes().all(|b| b.is_ascii_alphanumeric());
        let has_digit = text.bytes().any(|b| b.is_ascii_digit());
        if valid_len && valid_chars && has_digit {
            let mut upper = CompactString::from(text);
            upper.make_ascii_uppercase();
            Ok(WaybillNo(upper))
        } else {
            Err(InvalidValue::new(text, "must be 8 to 32 ASCII letters and digits, with at least one digit"))
        }
    }

    /// The number as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WaybillNo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A telephone number: an optional leading `+`, then 5 to 20 digits, with `-` or spaces allowed between them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Parses a phone number, keeping it as given.
    pub fn parse(text: &str) -> Result<Phone, InvalidValue> {
        let body = text.strip_prefix('+').unwrap_or(text);
        let n_digits = body.bytes().filter(u8::is_ascii_digit).count();
        let valid_chars = body.bytes().all(|b| b.is_ascii_digit() || b == b'-' || b == b' ');
        let ends_with_digit = body.bytes().last().is_some_and(|b| b.is_ascii_digit());
        if valid_chars && ends_with_digit && (5..=20).contains(&n_digits) {
            Ok(Phone(text.to_owned()))
        } else {
            Err(InvalidValue::new(text, "must be 5 to 20 digits, optionally with a leading `+` and `-` separators"))
        }
    }

    /// The number as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Just the digits, without `+`, `-` or spaces.
    pub fn digits(&self) -> String {
        self.0.chars().filter(char::is_ascii_digit).collect()
    }

    /// The last four digits, which the public tracking page asks for.
    pub fn last4(&self) -> String {
        let digits = self.digits();
        digits[digits.len().saturating_sub(4)..].to_owned()
    }
}

/// A postal address: the county-level division and the rest as free text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The division code, down to the county or district where known.
    pub division: AdminCode,
    /// Street, building and room.
    pub detail: String,
}

/// A sender or receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// Personal name. Personal data: masked in every output by default.
    pub name: String,
    /// Phone. Personal data.
    pub phone: Phone,
    /// Address. The detail is personal data; the division is not.
    pub address: Address,
}

/// The kind of identity document recorded for real-name sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdType {
    /// 居民身份证, 18 characters with a GB 11643 check digit.
    ResidentId,
    /// A passport.
    Passport,
    /// Any other document (military ID, Hong Kong and Macao pass, ...).
    Other,
}

impl IdType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdType::ResidentId => "resident_id",
            IdType::Passport => "passport",
            IdType::Other => "other",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Result<IdType, InvalidValue> {
        match text {
            "resident_id" => Ok(IdType::ResidentId),
            "passport" => Ok(IdType::Passport),
            "other" => Ok(IdType::Other),
            _ => Err(InvalidValue::new(text, "must be one of resident_id, passport, other")),
        }
    }
}

/// The sender's real-name record (实名收寄).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealName {
    /// Document type.
    pub id_type: IdType,
    /// Document number. Personal data.
    pub id_number: String,
    /// Whether the courier checked the document against the sender.
    pub verified: bool,
}

/// What the sender declared the parcel holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contents {
    /// Category, such as `服装` or `电子产品`.
    pub category: String,
    /// Free-text description.
    pub description: String,
    /// Weight in grams, 1 to 100,000.
    pub weight_grams: u32,
    /// Declared value in fen (0.01 yuan).
    pub declared_value_fen: u64,
}

/// An electronic waybill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waybill {
    /// The carrier that issued it.
    pub carrier: CarrierCode,
    /// Its number, unique within the carrier.
    pub waybill_no: WaybillNo,
    /// Service product, such as `standard` or `express`.
    pub product: String,
    /// Whether it is an electronic waybill (电子运单) rather than a paper one.
    pub electronic: bool,
    /// Sender.
    pub sender: Party,
    /// Receiver.
    pub receiver: Party,
    /// The sender's real-name record; `None` when none was taken.
    pub real_name: Option<RealName>,
    /// Declared contents.
    pub contents: Contents,
    /// When the waybill was created, with the local UTC offset.
    pub created_at: DateTime<FixedOffset>,
}

/// The heaviest parcel the hub accepts, in grams. Express parcels should not exceed 50 kg; heavy-goods products double that.
pub const MAX_WEIGHT_GRAMS: u32 = 100_000;

pub(crate) fn validate_party(party: &Party) -> Result<(), ValidationError> {
    check_text("name", &party.name, 64)?;
    check_text("address", &party.address.detail, 200)?;
    if !crate::divisions().contains(party.address.division) {
        return Err(ValidationError::UnknownDivision {
            field: "division".into(),
            value: party.address.division.to_string(),
        });
    }
    Ok(())
}

pub(crate) fn validate_real_name(real_name: &RealName) -> Result<(), ValidationError> {
    let number = &real_name.id_number;
    match real_name.id_type {
        IdType::ResidentId => check_resident_id(number).map_err(|e| e.at("id_number")),
        IdType::Passport | IdType::Other => {
            let valid = (5..=32).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_alphanumeric());
            if valid {
                Ok(())
            } else {
                Err(InvalidValue::new(number, "must be 5 to 32 ASCII letters and digits").at("id_number"))
            }
        }
    }
}

/// Checks an 18-character resident ID number: 17 digits and the GB 11643-1999 ISO 7064 MOD 11-2 check character.
fn check_resident_id(number: &str) -> Result<(), InvalidValue> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let bytes = number.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return Err(InvalidValue::new(number, "must be 17 digits followed by a check digit or `X`"));
    }
    let sum: u32 = bytes[..17].iter().zip(WEIGHTS).map(|(b, w)| u32::from(b - b'0') * w).sum();
    let expected = CHECK[(sum % 11) as usize];
    if bytes[17].to_ascii_uppercase() != expected {
        return Err(InvalidValue::new(number, "has a wrong check digit"));
    }
    Ok(())
}

pub(crate) fn validate_contents(contents: &Contents) -> Result<(), ValidationError> {
    check_text("category", &contents.category, 64)?;
    check_text("description", &contents.description, 500)?;
    if !(1..=MAX_WEIGHT_GRAMS).contains(&contents.weight_grams) {
        return Err(InvalidValue::new(
            contents.weight_grams.to_string(),
            format!("must be from 1 to {MAX_WEIGHT_GRAMS} grams"),
        )
        .at("weight_grams"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waybill_numbers() {
        assert_eq!(WaybillNo::parse("yt1234567890").unwrap().as_str(), "YT1234567890");
        for bad in ["", "1234567", "ABCDEFGHIJ", "YT12345 678", "YT-12345678", &"1".repeat(33)] {
            assert!(WaybillNo::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn phones() {
        let phone = Phone::parse("138-0013-1234").unwrap();
        assert_eq!(phone.digits(), "13800131234");
        assert_eq!(phone.last4(), "1234");
        assert!(Phone::parse("+86 21 6888 1234").is_ok());
        for bad in ["", "1234", "138x0013", "138-", "+", "1".repeat(21).as_str()] {
            assert!(Phone::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn resident_ids() {
        // Public specimen numbers whose check digits follow GB 11643.
        assert!(check_resident_id("11010519491231002X").is_ok());
        assert!(check_resident_id("11010519491231002x").is_ok());
        assert!(check_resident_id("440524188001010014").is_ok());
        assert!(check_resident_id("110105194912310021").is_err());
        assert!(check_resident_id("11010519491231002").is_err());
        assert!(check_resident_id("1101051949123100AX").is_err());
    }
}
