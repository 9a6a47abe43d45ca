//! Test fixtures shared by the unit tests: a small registry of facilities and a one-line notation for event chains.
//!
//! A chain is written as `"accept OUT-SZ 0; inspect OUT-SZ 3; depart OUT-SZ 60 >SC-SZ"`: kind, facility, minutes
//! after 2026-11-10 08:00 +08:00, and for a departure optionally `>NEXT`. Events get the ids `e1`, `e2`, ... in the
//! order written, so a test can shuffle them and still name them.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset};
use kuaidi_model::{
    Address, AdminCode, CarrierCode, Contents, EventId, EventKind, Facility, FacilityCode, FacilityKind, GeoPoint,
    IdType, Party, Phone, RealName, Reference, ScanEvent, Waybill, WaybillNo,
};

/// The facilities of the fixtures: outlets, sorting centres and a hub in Suzhou, Shanghai, Hangzhou and Beijing.
pub struct Registry {
    facilities: BTreeMap<FacilityCode, Facility>,
}

impl Reference for Registry {
    fn has_carrier(&self, code: &CarrierCode) -> bool {
        code.as_str() == "yto"
    }
    fn facility(&self, code: &FacilityCode) -> Option<&Facility> {
        self.facilities.get(code)
    }
}

/// Code, kind, division and (longitude, latitude).
type Row = (&'static str, FacilityKind, &'static str, Option<(f64, f64)>);

pub fn registry() -> Registry {
    let rows: [Row; 13] = [
        ("OUT-SZ", FacilityKind::Outlet, "320507", Some((120.6065, 31.5058))),
        ("SC-SZ", FacilityKind::SortingCentre, "320505", Some((120.5853, 31.2989))),
        ("HUB-SH", FacilityKind::Hub, "310115", Some((121.4737, 31.2304))),
        ("SC-HZ", FacilityKind::SortingCentre, "330106", Some((120.1551, 30.2741))),
        ("OUT-HZ", FacilityKind::Outlet, "330106", Some((120.1300, 30.2600))),
        ("LOCK-HZ", FacilityKind::Locker, "330106", Some((120.1400, 30.2650))),
        ("SC-BJ", FacilityKind::SortingCentre, "110105", Some((116.4074, 39.9042))),
        ("OUT-BJ", FacilityKind::Outlet, "110105", Some((116.4500, 39.9300))),
        ("OUT-NOWHERE", FacilityKind::Outlet, "320507", None),
        // The places of a real YTO trace, Tangshan to Jinan (approximate coordinates).
        ("TS-CFD", FacilityKind::Outlet, "130209", Some((118.46, 39.27))),
        ("TJ-HUB", FacilityKind::Hub, "120110", Some((117.20, 39.13))),
        ("JN-HUB", FacilityKind::Hub, "370112", Some((117.12, 36.68))),
        ("JN-SUNCUN", FacilityKind::Outlet, "370112", Some((117.26, 36.63))),
    ];
    let facilities = rows
        .into_iter()
        .map(|(code, kind, division, location)| {
            let code = FacilityCode::parse(code).unwrap();
            let facility = Facility {
                code: code.clone(),
                kind,
                carrier: Some(carrier()),
                division: AdminCode::parse(division).unwrap(),
                location: location.map(|(lon, lat)| GeoPoint::new(lon, lat).unwrap()),
                name: code.as_str().to_owned(),
            };
            (code, facility)
        })
        .collect();
    Registry { facilities }
}

pub fn carrier() -> CarrierCode {
    CarrierCode::parse("yto").unwrap()
}

pub fn waybill_no() -> WaybillNo {
    WaybillNo::parse("YT1234567890").unwrap()
}

/// 2026-11-10 08:00 +08:00.
pub fn base() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-10T08:00:00+08:00").unwrap()
}

/// Parses the chain notation of the module docs.
pub fn chain(text: &str) -> Vec<ScanEvent> {
    text.split(';')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .enumerate()
        .map(|(idx, item)| {
            let parts: Vec<&str> = item.split_whitespace().collect();
            assert!(parts.len() >= 3, "bad chain item {item:?}");
            let minutes: i64 = parts[2].parse().unwrap_or_else(|_| panic!("bad minutes in {item:?}"));
            let next_facility = parts.get(3).map(|next| FacilityCode::parse(next.trim_start_matches('>')).unwrap());
            ScanEvent {
                event_id: EventId::parse(&format!("e{}", idx + 1)).unwrap(),
                carrier: carrier(),
                waybill_no: waybill_no(),
                kind: EventKind::parse(parts[0]).unwrap(),
                time: base() + Duration::minutes(minutes),
                facility: FacilityCode::parse(parts[1]).unwrap(),
                operator: Some("YTO-OUT-SZ-C01".into()),
                vehicle: None,
                next_facility,
                exception_code: None,
                signer: None,
            }
        })
        .collect()
}

/// A waybill from Suzhou to Hangzhou. `real_name`: `None` for no record, `Some(verified)` otherwise.
pub fn waybill(real_name: Option<bool>, category: &str, description: &str) -> Waybill {
    let party = |division: &str| Party {
        name: "张三".to_owned(),
        phone: Phone::parse("13800131234").unwrap(),
        address: Address { division: AdminCode::parse(division).unwrap(), detail: "人民路1号".to_owned() },
    };
    Waybill {
        carrier: carrier(),
        waybill_no: waybill_no(),
        product: "standard".to_owned(),
        electronic: true,
        sender: party("320507"),
        receiver: party("330106"),
        real_name: real_name.map(|verified| RealName {
            id_type: IdType::ResidentId,
            id_number: "11010519491231002X".to_owned(),
            verified,
        }),
        contents: Contents {
            category: category.to_owned(),
            description: description.to_owned(),
            weight_grams: 500,
            declared_value_fen: 9_900,
        },
        created_at: base() - Duration::minutes(30),
    }
}

/// A clean Suzhou → Hangzhou chain through the Suzhou sorting centre and the Shanghai hub.
pub const CLEAN: &str = "accept OUT-SZ 0; inspect OUT-SZ 3; depart OUT-SZ 60 >SC-SZ; arrive SC-SZ 110; \
     security_scan SC-SZ 125; depart SC-SZ 180 >HUB-SH; arrive HUB-SH 300; depart HUB-SH 400 >SC-HZ; \
     arrive SC-HZ 600; depart SC-HZ 660 >OUT-HZ; arrive OUT-HZ 720; out_for_delivery OUT-HZ 760; \
     delivered OUT-HZ 840";
