//! Masking of personal data, the default for every output.
//!
//! Names keep the family name (`张*`), phones keep the first three and last four digits (`138****1234`),
//! ID numbers keep the first and last character, and addresses keep only the division names down to the district.

use crate::{divisions, Address};

/// `张三丰` becomes `张*`; a one-character name becomes `*`.
pub fn name(full: &str) -> String {
    let mut chars = full.trim().chars();
    match (chars.next(), chars.next()) {
        (Some(first), Some(_)) => format!("{first}*"),
        _ => "*".to_owned(),
    }
}

/// `13800131234` becomes `138****1234`; shorter numbers keep only their last two digits.
pub fn phone(full: &str) -> String {
    let digits: Vec<char> = full.chars().filter(char::is_ascii_digit).collect();
    if digits.len() >= 11 {
        let head: String = digits[digits.len() - 11..digits.len() - 8].iter().collect();
        let tail: String = digits[digits.len() - 4..].iter().collect();
        format!("{head}****{tail}")
    } else {
        let tail: String = digits[digits.len().saturating_sub(2)..].iter().collect();
        format!("{}{tail}", "*".repeat(digits.len().saturating_sub(2)))
    }
}

/// `11010519491231002X` becomes `1****************X`.
pub fn id_number(full: &str) -> String {
    let chars: Vec<char> = full.chars().collect();
    match chars.len() {
        0..=2 => "*".repeat(chars.len()),
        n => format!("{}{}{}", chars[0], "*".repeat(n - 2), chars[n - 1]),
    }
}

/// An address down to the district: `江苏省苏州市虎丘区`, without the street detail.
pub fn address(address: &Address) -> String {
    divisions().full_name(address.division)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AdminCode;

    #[test]
    fn masks() {
        assert_eq!(name("张三丰"), "张*");
        assert_eq!(name("欧阳娜娜"), "欧*");
        assert_eq!(name("李"), "*");
        assert_eq!(name(""), "*");
        assert_eq!(phone("13800131234"), "138****1234");
        assert_eq!(phone("+86 138-0013-1234"), "138****1234");
        assert_eq!(phone("66881234"), "******34");
        assert_eq!(id_number("11010519491231002X"), "1****************X");
        let addr = Address { division: AdminCode::parse("320505").unwrap(), detail: "科技城 1 号 101 室".into() };
        assert_eq!(address(&addr), "江苏省苏州市虎丘区");
    }
}
