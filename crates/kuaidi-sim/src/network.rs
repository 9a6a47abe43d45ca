//! The simulated carriers and their hub-and-line networks: outlets, sorting centres, hubs, shared lockers and
//! stations, the trunk route between any two cities, and how long each leg takes.
//!
//! # Carriers
//! Seven carriers, weighted by approximate public figures for their 2023 share of China's parcel volume as widely
//! reported in the press and in the companies' annual reports: ZTO about 23 %, YTO 16 %, Yunda 14 %, STO 13 %,
//! J&T 11 %, SF 9 %, EMS about 6 %.
//! The weights are renormalised over the seven, so the simulated shares are these numbers divided by 92 %.
//! They are approximate and only shape the traffic; nothing downstream should treat them as statistics.
//!
//! # Facilities
//! For every carrier: one outlet (网点) per district, one sorting centre (分拨中心) per city, and a hub (转运中心)
//! in each of the plan's first-level park cities present in the geography (Shanghai, Nanjing, Wuxi, Hangzhou, Ningbo,
//! Jinhua) and in each national key city.
//! Every district also has two shared smart lockers and one shared pick-up station, which belong to no carrier.
//! A facility stands at its district's centre from the division table; sorting centres and hubs stand in the district
//! nearest the city centre.
//! Delta cities have an outlet in every district; national cities in their first 12 districts, to keep the facility
//! list short.
//!
//! # Routes
//! A parcel goes outlet → origin sorting centre → trunk → destination sorting centre → outlet.
//! Within a city the trunk is just the sorting centre.
//! Between two large delta cities (2020 population of 7 million or more) within 350 km (200 km for carriers with
//! less than 12 % share) the carrier runs a direct line between the two sorting centres, bypassing hubs.
//! Between two different key cities (the plan's first- and second-level park cities, which have the 12-hour time
//! limit) every carrier runs a direct express line between the two sorting centres as well.
//! Otherwise the sorting centre sends to its nearest hub, the hub to the destination's hub (when different), and that
//! hub to the destination's sorting centre; national cities are served by their own hub.
//!
//! # Transit times
//! Road legs run at 75 km/h (line-haul trucks on the expressways, with two drivers) over the great-circle distance
//! times 1.2 (road detour), plus 20 minutes to load and unload.
//! Legs longer than 800 km fly, and so do express lines between sorting centres longer than 350 km (between key
//! cities such as Xuzhou and Wenzhou, which road could not link within 12 hours): 3 hours of ground transfer and
//! airport handling plus the distance at 750 km/h.
//!
//! Line-haul legs between two trunk facilities (hubs or sorting centres) of 300 km or more that do not fly ride
//! China Railway's express parcel service (高铁快运 / 铁路快运), which carries express parcels in high-speed trains'
//! luggage space and on dedicated express trains. Mostly these are the legs from the delta's hubs to the hubs of
//! Wuhan and Zhengzhou and the longest hub-to-hub legs inside the delta (such as Nanjing to Ningbo); a sorting
//! centre 300 km or more from its hub would send by rail too. The numbers, and why:
//! - **300 km** lower bound: below it a truck, which leaves from the hub's own dock, is about as quick door to door
//!   as a train once the drive to and from the stations is counted, and carriers keep such legs on the road; from
//!   about 300 km the railway's express products are marketed to carriers as the faster option.
//! - **800 km** upper bound: the existing threshold above which legs fly; rail stays below it, where an air leg's
//!   3 hours of ground handling would make flying no quicker. Express lines between key cities keep flying from
//!   350 km, as they do without rail: air is the faster of the two over those distances, and those lines carry
//!   the 12-hour limit.
//! - **200 km/h** effective speed: high-speed trains run at 250–350 km/h, but stops, slower sections and
//!   connections between lines bring the average of a parcel's journey down to about 200 km/h.
//! - **Detour 1.2**: the same ratio as road; high-speed lines are straighter than expressways but run through the
//!   big stations, so their length over the great-circle distance (Shanghai to Wuhan is about 830 km of line for
//!   690 km) is close to the road's.
//! - **90 minutes** of station handling in total, 45 minutes at each end: the truck between the hub and the
//!   station, the 高铁快运 counter's acceptance or release, and loading into or out of the train.
//!
//! With these numbers a rail leg takes 1.5 h plus 0.006 h per km, and a road leg 0.33 h plus 0.016 h per km, so
//! rail is faster than road on every leg above about 117 km: moving a leg to rail only ever shortens it, and every
//! time limit the road network met is still met.

use kuaidi_model::{AdminCode, Carrier, CarrierCode, Facility, FacilityCode, FacilityKind, GeoPoint};

use crate::geography::{districts_of, national_cities, City, Geography};
use crate::SimError;

/// One carrier's fixed description.
pub(crate) struct CarrierSpec {
    /// The hub code, which must satisfy `CarrierCode::parse`.
    pub code: &'static str,
    /// Display name.
    pub name: &'static str,
    /// Prefix of the carrier's facility codes.
    pub facility_prefix: &'static str,
    /// Two letters that start the carrier's waybill numbers.
    pub waybill_prefix: &'static str,
    /// Approximate share of national parcel volume in percent (see the module docs).
    pub share_pct: f64,
    /// IATA code of the airline flying the carrier's air legs: its own cargo airline where it has one, otherwise a
    /// passenger airline carrying belly cargo.
    pub airline: &'static str,
}

pub(crate) const CARRIERS: [CarrierSpec; 7] = [
    CarrierSpec {
        code: "zto",
        name: "中通快递",
        facility_prefix: "ZTO",
        waybill_prefix: "ZT",
        share_pct: 23.0,
        airline: "MU",
    },
    CarrierSpec {
        code: "yto",
        name: "圆通速递",
        facility_prefix: "YTO",
        waybill_prefix: "YT",
        share_pct: 16.0,
        airline: "YG",
    },
    CarrierSpec {
        code: "yunda",
        name: "韵达快递",
        facility_prefix: "YUNDA",
        waybill_prefix: "YD",
        share_pct: 14.0,
        airline: "CA",
    },
    CarrierSpec {
        code: "sto",
        name: "申通快递",
        facility_prefix: "STO",
        waybill_prefix: "ST",
        share_pct: 13.0,
        airline: "CZ",
    },
    CarrierSpec {
        code: "jtexpress",
        name: "极兔速递",
        facility_prefix: "JT",
        waybill_prefix: "JT",
        share_pct: 11.0,
        airline: "HO",
    },
    CarrierSpec {
        code: "sf",
        name: "顺丰速运",
        facility_prefix: "SF",
        waybill_prefix: "SF",
        share_pct: 9.0,
        airline: "O3",
    },
    CarrierSpec {
        code: "ems",
        name: "中国邮政EMS",
        facility_prefix: "EMS",
        waybill_prefix: "EM",
        share_pct: 6.0,
        airline: "CF",
    },
];

/// The plan's first-level express park cities, which get hubs.
const HUB_CITIES: [u32; 6] = [310100, 320100, 320200, 330100, 330200, 330700];

/// The plan's first- and second-level park cities, taken as the "key cities" of the 12-hour time limit.
const KEY_CITIES: [u32; 14] =
    [310100, 320100, 320200, 330100, 330200, 330700, 320500, 320300, 320600, 320700, 320800, 330300, 330400, 331000];

/// Origin weights for e-commerce: how many times more parcels a city sends than its population suggests.
/// Yiwu (in Jinhua) is the small-commodity capital; Hangzhou, Suzhou, Shanghai, Guangzhou and Shenzhen host large
/// online sellers. The numbers are judgement, not statistics.
const ORIGIN_BOOST: [(u32, f64); 10] = [
    (330700, 4.0),
    (330100, 2.5),
    (320500, 2.0),
    (310100, 1.8),
    (440100, 3.0),
    (440300, 2.0),
    (330400, 1.5),
    (330300, 1.5),
    (330200, 1.3),
    (331000, 1.3),
];

/// Cities at or above this population may have direct lines between their sorting centres.
const DIRECT_LINE_MIN_POPULATION: u64 = 7_000_000;
/// National cities get outlets in at most this many districts.
const NATIONAL_DISTRICT_CAP: usize = 12;

/// Road speed in km/h: line-haul trucks on the delta's expressways, with two drivers, and vans on urban expressways.
const ROAD_KMH: f64 = 75.0;
/// Road distance over great-circle distance.
const ROAD_DETOUR: f64 = 1.2;
/// Loading and unloading time of a road leg, in seconds.
const ROAD_HANDLING_SECS: i64 = 20 * 60;
/// Legs longer than this fly.
const AIR_MIN_KM: f64 = 800.0;
/// Express lines between two sorting centres longer than this fly.
const EXPRESS_AIR_MIN_KM: f64 = 350.0;
/// Cruise speed in km/h.
const AIR_KMH: f64 = 750.0;
/// Ground transfer and airport handling of an air leg, in seconds.
const AIR_GROUND_SECS: i64 = 3 * 3600;
/// Line-haul legs between trunk facilities at least this long (and not flying) go by rail.
const RAIL_MIN_KM: f64 = 300.0;
/// Effective speed of the express parcel service on high-speed trains, in km/h.
const RAIL_KMH: f64 = 200.0;
/// Rail line length over great-circle distance.
const RAIL_DETOUR: f64 = 1.2;
/// Station handling of a rail leg at both ends together, in seconds: trucks to and from the stations, acceptance
/// and release at the express counters, and loading.
const RAIL_HANDLING_SECS: i64 = 90 * 60;

/// How a leg travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Road,
    Rail,
    Air,
}

/// A city as the network sees it: delta cities first, then national ones.
pub(crate) struct NetCity {
    pub code: AdminCode,
    /// The name without its `市` suffix, as facility names use it.
    pub short_name: String,
    pub location: GeoPoint,
    pub population: u64,
    /// Whether the city lies outside the delta.
    pub national: bool,
    /// Whether it is a key city for the 12-hour time limit.
    pub key: bool,
    /// Its e-commerce origin weight (1.0 for most cities).
    pub origin_boost: f64,
    /// Its districts' indexes in `Network::districts`.
    pub districts: std::ops::Range<usize>,
}

/// A district with the index of its city.
pub(crate) struct NetDistrict {
    pub code: AdminCode,
    pub name: &'static str,
    pub city: usize,
}

/// The carriers, facilities and routes, built once per simulation.
pub(crate) struct Network {
    pub carriers: Vec<Carrier>,
    pub facilities: Vec<Facility>,
    /// Each facility's location, copied out of `facilities` for the transit-time arithmetic.
    locations: Vec<GeoPoint>,
    pub cities: Vec<NetCity>,
    /// How many of `cities` are delta cities; they come first.
    pub n_delta: usize,
    pub districts: Vec<NetDistrict>,
    /// Outlet facility index by `carrier * n_districts + district`.
    outlets: Vec<u32>,
    /// The two shared lockers of each district.
    lockers: Vec<[u32; 2]>,
    /// The shared station of each district.
    stations: Vec<u32>,
    /// The trunk (sorting centre to sorting centre) by `(carrier * n_cities + origin) * n_cities + destination`.
    routes: Vec<Box<[u32]>>,
}

impl Network {
    /// Builds the network over the delta cities of `geo` and the national key cities.
    pub fn build(geo: &Geography) -> Result<Network, SimError> {
        let mut cities = Vec::new();
        let mut districts = Vec::new();
        let mut district_locations = Vec::new();
        let delta = geo.cities().iter().map(|city| (city, false));
        let national = national_cities();
        let national = national.iter().filter(|n| geo.cities().iter().all(|c| c.code != n.code)).map(|c| (c, true));
        for (city, is_national) in delta.chain(national) {
            let cap = if is_national { NATIONAL_DISTRICT_CAP } else { usize::MAX };
            let start = districts.len();
            for district in districts_of(city, cap) {
                districts.push(NetDistrict { code: district.code, name: district.name, city: cities.len() });
                district_locations.push(district.location);
            }
            cities.push(net_city(city, is_national, start..districts.len()));
        }
        let n_delta = cities.iter().filter(|c| !c.national).count();
        let n_cities = cities.len();
        let n_districts = districts.len();

        // The district nearest the city centre hosts the city's sorting centre and hub.
        let central_district: Vec<usize> = cities
            .iter()
            .map(|city| {
                city.districts
                    .clone()
                    .min_by(|&a, &b| {
                        let da = district_locations[a].distance_km(city.location);
                        let db = district_locations[b].distance_km(city.location);
                        da.total_cmp(&db)
                    })
                    .unwrap_or(city.districts.start)
            })
            .collect();

        let mut hub_city: Vec<bool> =
            cities.iter().map(|c| c.national || HUB_CITIES.contains(&c.code.as_u32())).collect();
        if !hub_city[..n_delta].iter().any(|&h| h) {
            // A geography without any first-level park city still needs a hub: its most populous city.
            if let Some(biggest) = (0..n_delta).max_by_key(|&i| cities[i].population) {
                hub_city[biggest] = true;
            }
        }
        // Each city's hub city: itself for hub cities, otherwise the nearest delta hub city.
        let hub_city_of: Vec<usize> = (0..n_cities)
            .map(|i| {
                if hub_city[i] {
                    return i;
                }
                (0..n_delta)
                    .filter(|&h| hub_city[h])
                    .min_by(|&a, &b| {
                        let da = cities[a].location.distance_km(cities[i].location);
                        let db = cities[b].location.distance_km(cities[i].location);
                        da.total_cmp(&db)
                    })
                    .unwrap_or(i)
            })
            .collect();

        let carriers = CARRIERS
            .iter()
            .map(|spec| {
                let code = CarrierCode::parse(spec.code)
                    .map_err(|_| SimError::Generated { what: "carrier code", value: spec.code.to_owned() })?;
                Ok(Carrier { code, name: spec.name.to_owned() })
            })
            .collect::<Result<Vec<Carrier>, SimError>>()?;

        let mut facilities = Vec::new();
        let mut outlets = vec![0u32; CARRIERS.len() * n_districts];
        let mut sorting = vec![0u32; CARRIERS.len() * n_cities];
        let mut hubs = vec![u32::MAX; CARRIERS.len() * n_cities];
        let mut push = |facility: Facility| -> u32 {
            facilities.push(facility);
            facilities.len() as u32 - 1
        };
        for (carrier_idx, (spec, carrier)) in CARRIERS.iter().zip(&carriers).enumerate() {
            let prefix = spec.facility_prefix;
            for (city_idx, city) in cities.iter().enumerate().filter(|(i, _)| hub_city[*i]) {
                let district = central_district[city_idx];
                hubs[carrier_idx * n_cities + city_idx] = push(facility(
                    format!("{prefix}-HUB-{}", city.code),
                    FacilityKind::Hub,
                    Some(carrier),
                    districts[district].code,
                    district_locations[district],
                    format!("{}{}转运中心", spec.name, city.short_name),
                )?);
            }
            for (city_idx, city) in cities.iter().enumerate() {
                let district = central_district[city_idx];
                sorting[carrier_idx * n_cities + city_idx] = push(facility(
                    format!("{prefix}-{}-SC", city.code),
                    FacilityKind::SortingCentre,
                    Some(carrier),
                    districts[district].code,
                    district_locations[district],
                    format!("{}{}分拨中心", spec.name, city.short_name),
                )?);
            }
            for (district_idx, district) in districts.iter().enumerate() {
                outlets[carrier_idx * n_districts + district_idx] = push(facility(
                    format!("{prefix}-{}-OUT", district.code),
                    FacilityKind::Outlet,
                    Some(carrier),
                    district.code,
                    district_locations[district_idx],
                    format!("{}{}{}网点", spec.name, cities[district.city].short_name, district.name),
                )?);
            }
        }
        let mut lockers = Vec::with_capacity(n_districts);
        let mut stations = Vec::with_capacity(n_districts);
        for (district_idx, district) in districts.iter().enumerate() {
            let location = district_locations[district_idx];
            let mut pair = [0u32; 2];
            for (n, slot) in pair.iter_mut().enumerate() {
                *slot = push(facility(
                    format!("LKR-{}-{}", district.code, n + 1),
                    FacilityKind::Locker,
                    None,
                    district.code,
                    location,
                    format!("{}{}智能快件箱{}号", cities[district.city].short_name, district.name, n + 1),
                )?);
            }
            lockers.push(pair);
            stations.push(push(facility(
                format!("STN-{}-1", district.code),
                FacilityKind::Station,
                None,
                district.code,
                location,
                format!("{}{}快递驿站", cities[district.city].short_name, district.name),
            )?));
        }
        let locations =
            facilities.iter().map(|f| f.location.unwrap_or(GeoPoint { longitude: 0.0, latitude: 0.0 })).collect();

        let mut routes = Vec::with_capacity(CARRIERS.len() * n_cities * n_cities);
        for (carrier_idx, spec) in CARRIERS.iter().enumerate() {
            let direct_km = if spec.share_pct >= 12.0 { 350.0 } else { 200.0 };
            let sc = |city: usize| sorting[carrier_idx * n_cities + city];
            let hub = |city: usize| hubs[carrier_idx * n_cities + hub_city_of[city]];
            for origin in 0..n_cities {
                for destination in 0..n_cities {
                    let (o, d) = (&cities[origin], &cities[destination]);
                    let direct = !o.national
                        && !d.national
                        && o.population >= DIRECT_LINE_MIN_POPULATION
                        && d.population >= DIRECT_LINE_MIN_POPULATION
                        && o.location.distance_km(d.location) <= direct_km;
                    // The 12-hour promise between key cities cannot afford the detour through two hubs.
                    let express = o.key && d.key;
                    let mut trunk = vec![sc(origin)];
                    if origin != destination {
                        if !direct && !express {
                            trunk.push(hub(origin));
                            trunk.push(hub(destination));
                        }
                        trunk.push(sc(destination));
                    }
                    trunk.dedup();
                    debug_assert!(trunk.iter().all(|&f| f != u32::MAX));
                    routes.push(trunk.into_boxed_slice());
                }
            }
        }

        Ok(Network { carriers, facilities, locations, cities, n_delta, districts, outlets, lockers, stations, routes })
    }

    /// The outlet of a carrier in a district.
    pub fn outlet(&self, carrier: usize, district: usize) -> u32 {
        self.outlets[carrier * self.districts.len() + district]
    }

    /// One of the two shared lockers of a district.
    pub fn locker(&self, district: usize, which: usize) -> u32 {
        self.lockers[district][which % 2]
    }

    /// The shared station of a district.
    pub fn station(&self, district: usize) -> u32 {
        self.stations[district]
    }

    /// The trunk from the origin city's sorting centre to the destination city's, both included.
    pub fn trunk(&self, carrier: usize, origin: usize, destination: usize) -> &[u32] {
        let n = self.cities.len();
        &self.routes[(carrier * n + origin) * n + destination]
    }

    /// How long a leg between two facilities takes, and how it travels.
    pub fn leg(&self, from: u32, to: u32) -> (i64, Mode) {
        let km = self.locations[from as usize].distance_km(self.locations[to as usize]);
        let (from_kind, to_kind) = (self.facilities[from as usize].kind, self.facilities[to as usize].kind);
        let sorting_centres = from_kind == FacilityKind::SortingCentre && to_kind == FacilityKind::SortingCentre;
        let trunk_facility = |kind| matches!(kind, FacilityKind::SortingCentre | FacilityKind::Hub);
        if km > AIR_MIN_KM || (sorting_centres && km > EXPRESS_AIR_MIN_KM) {
            (air_secs(km), Mode::Air)
        } else if km >= RAIL_MIN_KM && trunk_facility(from_kind) && trunk_facility(to_kind) {
            // Rail is faster than road at this distance (see the module docs), so this never lengthens a leg.
            (rail_secs(km), Mode::Rail)
        } else {
            (road_secs(km), Mode::Road)
        }
    }

    /// The time limit between two cities in hours: 48 when either is outside the delta, 12 between two different
    /// key cities, 24 otherwise (including within one city).
    pub fn time_limit_hours(&self, origin: usize, destination: usize) -> i64 {
        let (o, d) = (&self.cities[origin], &self.cities[destination]);
        if o.national || d.national {
            48
        } else if origin != destination && o.key && d.key {
            12
        } else {
            24
        }
    }
}

/// Travel time of a road leg of `km` great-circle kilometres, in seconds.
fn road_secs(km: f64) -> i64 {
    ROAD_HANDLING_SECS + (km * ROAD_DETOUR / ROAD_KMH * 3600.0) as i64
}

/// Travel time of a rail leg of `km` great-circle kilometres, in seconds.
fn rail_secs(km: f64) -> i64 {
    RAIL_HANDLING_SECS + (km * RAIL_DETOUR / RAIL_KMH * 3600.0) as i64
}

/// Travel time of an air leg of `km` great-circle kilometres, in seconds.
fn air_secs(km: f64) -> i64 {
    AIR_GROUND_SECS + (km / AIR_KMH * 3600.0) as i64
}

fn net_city(city: &City, national: bool, districts: std::ops::Range<usize>) -> NetCity {
    let code = city.code.as_u32();
    NetCity {
        code: city.code,
        short_name: city.name_zh.strip_suffix('市').unwrap_or(&city.name_zh).to_owned(),
        location: city.location,
        population: city.population,
        national,
        key: !national && KEY_CITIES.contains(&code),
        origin_boost: ORIGIN_BOOST.iter().find(|(c, _)| *c == code).map_or(1.0, |(_, boost)| *boost),
        districts,
    }
}

/// Builds a facility; the generated code is always well formed, and a bug that broke that is reported, not hidden.
fn facility(
    code: String,
    kind: FacilityKind,
    carrier: Option<&Carrier>,
    division: AdminCode,
    location: GeoPoint,
    name: String,
) -> Result<Facility, SimError> {
    let code = FacilityCode::parse(&code).map_err(|_| SimError::Generated { what: "facility code", value: code })?;
    Ok(Facility { code, kind, carrier: carrier.map(|c| c.code.clone()), division, location: Some(location), name })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carrier_codes_parse() {
        for spec in &CARRIERS {
            assert!(CarrierCode::parse(spec.code).is_ok(), "{}", spec.code);
            assert_eq!(spec.waybill_prefix.len(), 2);
        }
    }

    #[test]
    fn rail_beats_road_over_its_whole_band() {
        // The time-limit guarantee rests on rail never being slower than the road leg it replaces.
        let mut km = RAIL_MIN_KM;
        while km <= AIR_MIN_KM {
            assert!(rail_secs(km) < road_secs(km), "{km} km: rail {} s, road {} s", rail_secs(km), road_secs(km));
            km += 10.0;
        }
    }
}
