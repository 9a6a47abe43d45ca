//! The simulated map: the delta's prefecture cities (read from a CSV the caller opens), the national key cities outside
//! the delta (a built-in table), and each city's county-level districts (from `kuaidi_model::divisions()`).

use std::collections::BTreeSet;
use std::io::Read;

use kuaidi_model::{divisions, AdminCode, DivisionLevel, GeoPoint};

use crate::SimError;

/// A prefecture-level city.
#[derive(Debug, Clone, PartialEq)]
pub struct City {
    /// Its GB/T 2260 prefecture code, such as `320500`.
    pub code: AdminCode,
    /// Its Chinese name, such as `苏州市`.
    pub name_zh: String,
    /// Its English (pinyin) name, such as `Suzhou`.
    pub name_en: String,
    /// The city centre.
    pub location: GeoPoint,
    /// Resident population at the 2020 census; the gravity model weighs cities by it.
    pub population: u64,
}

/// The delta's cities, as read from `yrd_prefecture_cities.csv`.
#[derive(Debug, Clone)]
pub struct Geography {
    cities: Vec<City>,
}

/// The columns [`Geography::from_csv`] reads; any others are ignored.
const COLUMNS: [&str; 6] = ["adcode", "name_zh", "name_en", "longitude", "latitude", "population_2020_census"];

impl Geography {
    /// Reads the delta's prefecture cities from CSV with the header of `yrd_prefecture_cities.csv`:
    /// `adcode`, `name_zh`, `name_en`, `longitude`, `latitude` and `population_2020_census` are required, other
    /// columns are ignored.
    ///
    /// Every adcode must be a prefecture code known to `kuaidi_model::divisions()` and appear once.
    pub fn from_csv(reader: impl Read) -> Result<Geography, SimError> {
        let mut csv_reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(reader);
        let headers = csv_reader.headers()?.clone();
        let mut column_idx = [0usize; COLUMNS.len()];
        for (slot, column) in column_idx.iter_mut().zip(COLUMNS) {
            *slot = headers.iter().position(|h| h == column).ok_or(SimError::MissingColumn { column })?;
        }
        let [adcode_idx, name_zh_idx, name_en_idx, lon_idx, lat_idx, population_idx] = column_idx;

        let mut cities = Vec::new();
        let mut seen = BTreeSet::new();
        for row in csv_reader.records() {
            let row = row?;
            let line = row.position().map_or(0, csv::Position::line);
            let field = |idx: usize| row.get(idx).unwrap_or("");
            let bad = |column: &'static str, value: &str, reason: &str| SimError::BadGeographyValue {
                line,
                column,
                value: value.to_owned(),
                reason: reason.to_owned(),
            };

            let adcode_text = field(adcode_idx);
            let code = AdminCode::parse(adcode_text).map_err(|e| bad("adcode", adcode_text, &e.reason))?;
            if code.level() != DivisionLevel::Prefecture {
                return Err(bad("adcode", adcode_text, "is not a prefecture-level code (`xxxx00`)"));
            }
            if !divisions().contains(code) {
                return Err(bad("adcode", adcode_text, "is not in the national division table"));
            }
            if !seen.insert(code) {
                return Err(bad("adcode", adcode_text, "appears more than once"));
            }
            let name_zh = field(name_zh_idx);
            if name_zh.is_empty() {
                return Err(bad("name_zh", name_zh, "must not be empty"));
            }
            let name_en = field(name_en_idx);
            if name_en.is_empty() {
                return Err(bad("name_en", name_en, "must not be empty"));
            }
            let lon_text = field(lon_idx);
            let lat_text = field(lat_idx);
            let longitude: f64 = lon_text.parse().map_err(|_| bad("longitude", lon_text, "is not a number"))?;
            let latitude: f64 = lat_text.parse().map_err(|_| bad("latitude", lat_text, "is not a number"))?;
            let location = GeoPoint::new(longitude, latitude)
                .map_err(|_| bad("longitude", &format!("{lon_text},{lat_text}"), "is not a valid point"))?;
            let population_text = field(population_idx);
            let population: u64 = population_text
                .parse()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| bad("population_2020_census", population_text, "is not a positive whole number"))?;

            cities.push(City { code, name_zh: name_zh.to_owned(), name_en: name_en.to_owned(), location, population });
        }
        if cities.is_empty() {
            return Err(SimError::NoCities);
        }
        Ok(Geography { cities })
    }

    /// The cities, in file order.
    pub fn cities(&self) -> &[City] {
        &self.cities
    }
}

/// National key cities outside the delta that take the 48-hour parcels: code, Chinese short name, English name,
/// 2020 census population (rounded to thousands; public census communiqués).
const NATIONAL_CITIES: [(u32, &str, &str, u64); 9] = [
    (110100, "北京", "Beijing", 21_893_000),
    (120100, "天津", "Tianjin", 13_866_000),
    (440100, "广州", "Guangzhou", 18_677_000),
    (440300, "深圳", "Shenzhen", 17_560_000),
    (510100, "成都", "Chengdu", 20_938_000),
    (420100, "武汉", "Wuhan", 12_327_000),
    (610100, "西安", "Xi'an", 12_953_000),
    (500100, "重庆", "Chongqing", 32_054_000),
    (410100, "郑州", "Zhengzhou", 12_601_000),
];

/// The national key cities outside the delta, with coordinates from the division table.
///
/// A city whose prefecture row has no centre falls back to its province row's centre.
pub(crate) fn national_cities() -> Vec<City> {
    NATIONAL_CITIES
        .iter()
        .filter_map(|&(code, name_zh, name_en, population)| {
            let code = AdminCode::from_u32(code).ok()?;
            let location = divisions()
                .get(code)
                .and_then(|d| d.centre)
                .or_else(|| divisions().get(code.province()).and_then(|d| d.centre))?;
            Some(City { code, name_zh: format!("{name_zh}市"), name_en: name_en.to_owned(), location, population })
        })
        .collect()
}

/// A county-level district of a city, where outlets, lockers and addresses are.
#[derive(Debug, Clone)]
pub(crate) struct District {
    /// Its code, such as `320505`.
    pub code: AdminCode,
    /// Its Chinese name, such as `虎丘区`.
    pub name: &'static str,
    /// Its centre, or the city's centre when the table has none.
    pub location: GeoPoint,
}

/// The districts of a city: the county-level codes `xxxx01..=xxxx99` present in the division table, without the
/// municipalities' `市辖区` placeholder rows, at most `cap` of them (lowest codes first, which are the urban districts).
///
/// A city with no such rows gets one pseudo-district: the city itself, so that it still has outlets.
pub(crate) fn districts_of(city: &City, cap: usize) -> Vec<District> {
    let base = city.code.as_u32();
    let mut districts: Vec<District> = (base + 1..=base + 99)
        .filter_map(|code| AdminCode::from_u32(code).ok())
        .filter_map(|code| divisions().get(code))
        .filter(|division| division.name != "市辖区")
        .map(|division| District {
            code: division.code,
            name: division.name,
            location: division.centre.unwrap_or(city.location),
        })
        .take(cap)
        .collect();
    if districts.is_empty() {
        let name = divisions().get(city.code).map_or("市区", |d| d.name);
        districts.push(District { code: city.code, name, location: city.location });
    }
    districts
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "adcode,name_zh,name_en,longitude,latitude,population_2020_census\n";

    fn check_err(body: &str, expected: &str) {
        let text = format!("{HEADER}{body}");
        let err = Geography::from_csv(text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains(expected), "{err:?} should contain {expected:?}");
    }

    #[test]
    fn reads_minimal_csv() {
        let text = format!("{HEADER}320500,苏州市,Suzhou,120.585315,31.298886,12748262\n");
        let geo = Geography::from_csv(text.as_bytes()).unwrap();
        assert_eq!(geo.cities().len(), 1);
        assert_eq!(geo.cities()[0].code.to_string(), "320500");
        assert_eq!(geo.cities()[0].population, 12_748_262);
    }

    #[test]
    fn rejects_bad_rows() {
        check_err("", "lists no cities");
        check_err("32050,苏州市,Suzhou,120.5,31.2,1\n", "`adcode` on line 2");
        check_err("320505,虎丘区,Huqiu,120.5,31.2,1\n", "not a prefecture-level code");
        check_err("329900,无名市,Nowhere,120.5,31.2,1\n", "not in the national division table");
        check_err("320500,苏州市,Suzhou,east,31.2,1\n", "`longitude` on line 2");
        check_err("320500,苏州市,Suzhou,120.5,95,1\n", "not a valid point");
        check_err("320500,苏州市,Suzhou,120.5,31.2,0\n", "`population_2020_census`");
        check_err("320500,苏州市,Suzhou,120.5,31.2,1\n320500,苏州市,Suzhou,120.5,31.2,1\n", "more than once");
        let err = Geography::from_csv("adcode,name\n320500,苏州市\n".as_bytes()).unwrap_err().to_string();
        assert!(err.contains("no `name_zh` column"), "{err}");
        let err = Geography::from_csv("".as_bytes()).unwrap_err().to_string();
        assert!(err.contains("no `adcode` column"), "{err}");
    }

    #[test]
    fn districts_skip_placeholders() {
        let city = City {
            code: AdminCode::parse("320500").unwrap(),
            name_zh: "苏州市".into(),
            name_en: "Suzhou".into(),
            location: GeoPoint::new(120.585315, 31.298886).unwrap(),
            population: 1,
        };
        let districts = districts_of(&city, 99);
        assert!(districts.iter().any(|d| d.code.to_string() == "320505" && d.name == "虎丘区"));
        assert!(districts.iter().all(|d| d.name != "市辖区" && city.code.contains(d.code)));
        assert_eq!(districts_of(&city, 3).len(), 3);
        assert_eq!(national_cities().len(), NATIONAL_CITIES.len());
    }
}
