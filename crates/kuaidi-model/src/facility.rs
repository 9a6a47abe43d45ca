//! Facilities: outlets, sorting centres, hubs, lockers and stations where parcels are scanned.

use std::fmt;

use compact_str::CompactString;

use crate::{check_text, divisions, AdminCode, CarrierCode, InvalidValue, ValidationError};

/// A facility's code: 1 to 64 ASCII letters, digits, `-`, `_` or `.`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FacilityCode(CompactString);

impl FacilityCode {
    /// Parses a facility code.
    pub fn parse(text: &str) -> Result<FacilityCode, InvalidValue> {
        let valid_len = (1..=64).contains(&text.len());
        let valid_chars = text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        if valid_len && valid_chars {
            Ok(FacilityCode(CompactString::from(text)))
        } else {
            Err(InvalidValue::new(text, "must be 1 to 64 ASCII letters, digits, `-`, `_` or `.`"))
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for FacilityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a facility is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FacilityKind {
    /// 网点: where couriers accept and deliver.
    Outlet,
    /// 分拨中心: a city's sorting centre.
    SortingCentre,
    /// 转运中心: a regional hub on the line-haul network.
    Hub,
    /// 智能快件箱: a smart parcel locker.
    Locker,
    /// 快递驿站: a pick-up station.
    Station,
}

impl FacilityKind {
    /// Every kind, in a fixed order.
    pub const ALL: [FacilityKind; 5] = [
        FacilityKind::Outlet,
        FacilityKind::SortingCentre,
        FacilityKind::Hub,
        FacilityKind::Locker,
        FacilityKind::Station,
    ];

    /// The kind's wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            FacilityKind::Outlet => "outlet",
            FacilityKind::SortingCentre => "sorting_centre",
            FacilityKind::Hub => "hub",
            FacilityKind::Locker => "locker",
            FacilityKind::Station => "station",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Result<FacilityKind, InvalidValue> {
        FacilityKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| InvalidValue::new(text, "must be one of outlet, sorting_centre, hub, locker, station"))
    }
}

/// A point on the map, in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GeoPoint {
    /// Longitude, -180..=180.
    pub longitude: f64,
    /// Latitude, -90..=90.
    pub latitude: f64,
}

impl GeoPoint {
    /// Builds a point, rejecting out-of-range or non-finite coordinates.
    pub fn new(longitude: f64, latitude: f64) -> Result<GeoPoint, ValidationError> {
        if !longitude.is_finite() || !(-180.0..=180.0).contains(&longitude) {
            return Err(
                InvalidValue::new(longitude.to_string(), "must be a longitude from -180 to 180").at("longitude")
            );
        }
        if !latitude.is_finite() || !(-90.0..=90.0).contains(&latitude) {
            return Err(InvalidValue::new(latitude.to_string(), "must be a latitude from -90 to 90").at("latitude"));
        }
        Ok(GeoPoint { longitude, latitude })
    }

    /// Great-circle distance in kilometres (haversine, mean Earth radius 6,371 km).
    pub fn distance_km(self, other: GeoPoint) -> f64 {
        let (lat1, lat2) = (self.latitude.to_radians(), other.latitude.to_radians());
        let d_lat = lat2 - lat1;
        let d_lon = (other.longitude - self.longitude).to_radians();
        let a = (d_lat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (d_lon / 2.0).sin().powi(2);
        2.0 * 6371.0 * a.sqrt().asin()
    }
}

/// A facility registered with the hub.
#[derive(Debug, Clone, PartialEq)]
pub struct Facility {
    /// Its code, unique in the hub.
    pub code: FacilityCode,
    /// What it is.
    pub kind: FacilityKind,
    /// The carrier that runs it; `None` for a facility shared between carriers, such as a public locker.
    pub carrier: Option<CarrierCode>,
    /// The county-level division it stands in.
    pub division: AdminCode,
    /// Where it stands, when known.
    pub location: Option<GeoPoint>,
    /// Its display name.
    pub name: String,
}

impl Facility {
    /// The division's city (prefecture), which the indicators group by.
    pub fn city(&self) -> AdminCode {
        self.division.prefecture()
    }
}

pub(crate) fn validate(facility: &Facility) -> Result<(), ValidationError> {
    check_text("name", &facility.name, 128)?;
    if !divisions().contains(facility.division) {
        return Err(ValidationError::UnknownDivision {
            field: "division".into(),
            value: facility.division.to_string(),
        });
    }
    if let Some(location) = facility.location {
        GeoPoint::new(location.longitude, location.latitude)?;
    }
    if facility.carrier.is_none() && !matches!(facility.kind, FacilityKind::Locker | FacilityKind::Station) {
        return Err(ValidationError::Missing { field: "carrier".into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facility_codes() {
        assert!(FacilityCode::parse("YTO-320505-01").is_ok());
        assert!(FacilityCode::parse("hub.sh_1").is_ok());
        for bad in ["", "a b", "网点", &"x".repeat(65)] {
            assert!(FacilityCode::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn kinds_round_trip() {
        for kind in FacilityKind::ALL {
            assert_eq!(FacilityKind::parse(kind.as_str()).unwrap(), kind);
        }
        assert!(FacilityKind::parse("warehouse").is_err());
    }

    #[test]
    fn distance_shanghai_hangzhou() {
        let shanghai = GeoPoint::new(121.473662, 31.230372).unwrap();
        let hangzhou = GeoPoint::new(120.15507, 30.274084).unwrap();
        let km = shanghai.distance_km(hangzhou);
        assert!((160.0..170.0).contains(&km), "{km}");
        assert!(GeoPoint::new(181.0, 0.0).is_err());
        assert!(GeoPoint::new(0.0, f64::NAN).is_err());
    }
}
