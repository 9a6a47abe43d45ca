//! Administrative division codes (GB/T 2260) and the national division table shipped with the crate.
//!
//! The table is `data/divisions.csv`, compiled in with `include_str!`, so looking a code up does no IO.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use crate::InvalidValue;

/// A 6-digit GB/T 2260 division code, such as `320505` (苏州市虎丘区).
///
/// Digits 1-2 name the province, 3-4 the prefecture (city), 5-6 the county or district.
/// Parsing checks the form only; whether the code exists is asked of [`DivisionTable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AdminCode(u32);

/// The level of a division code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DivisionLevel {
    /// `xx0000`
    Province,
    /// `xxxx00`
    Prefecture,
    /// Anything finer.
    County,
}

impl AdminCode {
    /// Parses a 6-digit code whose province part is in the GB/T 2260 range 11..=82.
    pub fn parse(text: &str) -> Result<AdminCode, InvalidValue> {
        if text.len() != 6 || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(InvalidValue::new(text, "must be exactly 6 digits"));
        }
        let code: u32 = text.parse().map_err(|_| InvalidValue::new(text, "must be exactly 6 digits"))?;
        if !(110000..=829999).contains(&code) {
            return Err(InvalidValue::new(text, "must start with a province number from 11 to 82"));
        }
        Ok(AdminCode(code))
    }

    /// Builds a code from its number, checking the form as [`AdminCode::parse`] does.
    pub fn from_u32(code: u32) -> Result<AdminCode, InvalidValue> {
        AdminCode::parse(&format!("{code:06}"))
    }

    /// The code as a number.
    pub fn as_u32(self) -> u32 {
        self.0
    }

    /// The level this code names.
    pub fn level(self) -> DivisionLevel {
        if self.0.is_multiple_of(10000) {
            DivisionLevel::Province
        } else if self.0.is_multiple_of(100) {
            DivisionLevel::Prefecture
        } else {
            DivisionLevel::County
        }
    }

    /// The province containing this division.
    pub fn province(self) -> AdminCode {
        AdminCode(self.0 / 10000 * 10000)
    }

    /// The prefecture (city) containing this division; a province code is returned unchanged.
    pub fn prefecture(self) -> AdminCode {
        match self.level() {
            DivisionLevel::Province => self,
            _ => AdminCode(self.0 / 100 * 100),
        }
    }

    /// Whether `other` lies inside this division (or is this division).
    pub fn contains(self, other: AdminCode) -> bool {
        match self.level() {
            DivisionLevel::Province => self.0 / 10000 == other.0 / 10000,
            DivisionLevel::Prefecture => self.0 / 100 == other.0 / 100,
            DivisionLevel::County => self == other,
        }
    }
}

impl fmt::Display for AdminCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:06}", self.0)
    }
}

/// One row of the division table.
#[derive(Debug, Clone, PartialEq)]
pub struct Division {
    /// Its code.
    pub code: AdminCode,
    /// Its Chinese name, such as `虎丘区`.
    pub name: &'static str,
    /// Centre point (GCJ-02, as shipped by the source); a few placeholder rows (`市辖区`) have none.
    pub centre: Option<crate::GeoPoint>,
}

/// The national division table.
#[derive(Debug)]
pub struct DivisionTable {
    by_code: HashMap<AdminCode, Division>,
}

impl DivisionTable {
    fn load() -> DivisionTable {
        let text: &'static str = include_str!("../data/divisions.csv");
        let mut by_code = HashMap::new();
        for line in text.lines().skip(1) {
            let mut cols = line.split(',');
            let (Some(code), Some(name), Some(lon), Some(lat)) = (cols.next(), cols.next(), cols.next(), cols.next())
            else {
                debug_assert!(false, "malformed division row {line:?}");
                continue;
            };
            let Ok(code) = AdminCode::parse(code) else {
                debug_assert!(false, "malformed division row {line:?}");
                continue;
            };
            let centre = match (lon.parse(), lat.parse()) {
                (Ok(longitude), Ok(latitude)) => Some(crate::GeoPoint { longitude, latitude }),
                _ => None,
            };
            by_code.insert(code, Division { code, name, centre });
        }
        DivisionTable { by_code }
    }

    /// Every division, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Division> + '_ {
        self.by_code.values()
    }

    /// The division with this code, if it exists.
    pub fn get(&self, code: AdminCode) -> Option<&Division> {
        self.by_code.get(&code)
    }

    /// Whether this code is a known division.
    pub fn contains(&self, code: AdminCode) -> bool {
        self.by_code.contains_key(&code)
    }

    /// How many divisions the table holds.
    pub fn len(&self) -> usize {
        self.by_code.len()
    }

    /// Whether the table is empty (it never is).
    pub fn is_empty(&self) -> bool {
        self.by_code.is_empty()
    }

    /// The names from the province down to this division, skipping the municipalities' `市辖区` placeholder:
    /// `320505` gives `江苏省苏州市虎丘区`.
    pub fn full_name(&self, code: AdminCode) -> String {
        let mut chain = vec![code.province(), code.prefecture(), code];
        chain.dedup();
        chain
            .into_iter()
            .filter_map(|c| self.get(c))
            .map(|d| d.name)
            .filter(|name| *name != "市辖区" && *name != "县")
            .collect()
    }
}

/// The national division table, loaded on first use.
pub fn divisions() -> &'static DivisionTable {
    static TABLE: OnceLock<DivisionTable> = OnceLock::new();
    TABLE.get_or_init(DivisionTable::load)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete() {
        let table = divisions();
        assert_eq!(table.len(), 3511);
        let suzhou = table.get(AdminCode::parse("320500").unwrap()).unwrap();
        assert_eq!(suzhou.name, "苏州市");
        assert_eq!(table.full_name(AdminCode::parse("310101").unwrap()), "上海市黄浦区");
        assert_eq!(table.full_name(AdminCode::parse("320500").unwrap()), "江苏省苏州市");
        assert!(!table.contains(AdminCode::parse("329999").unwrap()));
    }

    #[test]
    fn parse_rejects_malformed_codes() {
        for bad in ["", "32050", "3205050", "32O500", "000000", "990000", " 320500", "-32050"] {
            assert!(AdminCode::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn containment_follows_levels() {
        let code = |s| AdminCode::parse(s).unwrap();
        assert!(code("320000").contains(code("320505")));
        assert!(code("320500").contains(code("320505")));
        assert!(!code("320500").contains(code("320100")));
        assert!(code("320505").contains(code("320505")));
        assert!(!code("320505").contains(code("320500")));
        assert_eq!(code("320505").prefecture(), code("320500"));
        assert_eq!(code("320000").prefecture(), code("320000"));
        assert_eq!(code("320505").level(), DivisionLevel::County);
    }
}
