//! The cube against brute force: every slice, through whichever view answers it, equals summing the base cells that
//! pass [`Filter::matches`] by hand.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use kuaidi_model::{AdminCode, CarrierCode};
use proptest::prelude::*;

use super::*;

const CITIES: [Option<u32>; 6] = [Some(310100), Some(320500), Some(320100), Some(330100), Some(110100), None];
const AREAS: [Option<u32>; 6] = [None, Some(320000), Some(310100), Some(330000), Some(320500), Some(110000)];
const CARRIERS: [&str; 3] = ["zto", "yto", "sf"];
const DIMENSIONS: [Dimension; 6] = [
    Dimension::Carrier,
    Dimension::OriginCity,
    Dimension::DestinationCity,
    Dimension::OriginProvince,
    Dimension::DestinationProvince,
    Dimension::Day,
];

fn code(code: Option<u32>) -> Option<AdminCode> {
    code.map(|code| AdminCode::from_u32(code).unwrap())
}

fn day(offset: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).unwrap() + chrono::Duration::days(i64::from(offset))
}

fn brute_force(cube: &Cube, filter: &Filter, group_by: &[Dimension]) -> Vec<(GroupKey, Counters)> {
    let mut groups: BTreeMap<GroupKey, Counters> = BTreeMap::new();
    if group_by.is_empty() {
        groups.insert(GroupKey::default(), Counters::default());
    }
    for (key, counters) in cube.cells() {
        if !filter.matches(&key) {
            continue;
        }
        let mut group = GroupKey::default();
        for dimension in group_by {
            match dimension {
                Dimension::Carrier => group.carrier = Some(key.carrier.clone()),
                Dimension::OriginCity => group.origin = key.origin,
                Dimension::DestinationCity => group.destination = key.destination,
                Dimension::OriginProvince => group.origin = key.origin.map(AdminCode::province),
                Dimension::DestinationProvince => group.destination = key.destination.map(AdminCode::province),
                Dimension::Day => group.day = Some(key.day),
            }
        }
        groups.entry(group).or_default().add(&counters);
    }
    groups.into_iter().collect()
}

prop_compose! {
    fn cell()(day_idx in 0..4u32, carrier in 0..3usize, origin in 0..6usize, destination in 0..6usize,
              parcels in 1..4u64, bucket in 0..N_BUCKETS_FOR_TEST) -> (CellKey, Counters) {
        let key = CellKey {
            day: day(day_idx),
            carrier: CarrierCode::parse(CARRIERS[carrier]).unwrap(),
            origin: code(CITIES[origin]),
            destination: code(CITIES[destination]),
        };
        let mut counters = Counters { parcels, delayed: parcels / 2, ..Counters::default() };
        counters.delivery_histogram[bucket] = parcels as u32;
        (key, counters)
    }
}

const N_BUCKETS_FOR_TEST: usize = crate::indicators::N_BUCKETS;

proptest! {
    #[test]
    fn every_slice_equals_brute_force(
        cells in proptest::collection::vec(cell(), 0..40),
        carrier in proptest::option::of(0..4usize),
        origin in 0..6usize,
        destination in 0..6usize,
        regions in proptest::collection::vec(1..6usize, 0..3),
        from in proptest::option::of(0..4u32),
        to in proptest::option::of(0..4u32),
        dims in proptest::sample::subsequence(DIMENSIONS.to_vec(), 0..3),
    ) {
        let mut cube = Cube::new();
        for (key, counters) in &cells {
            cube.add_cell(key, counters);
        }
        let filter = Filter {
            // Index 3 is a carrier the cube has never seen.
            carrier: carrier.map(|idx| CarrierCode::parse(CARRIERS.get(idx).copied().unwrap_or("ems")).unwrap()),
            origin: code(AREAS[origin]),
            destination: code(AREAS[destination]),
            regions: regions.iter().filter_map(|&idx| code(AREAS[idx])).collect(),
            from_day: from.map(day),
            to_day: to.map(day),
        };
        prop_assert_eq!(cube.slice(&filter, &dims), brute_force(&cube, &filter, &dims));
    }

    #[test]
    fn removing_every_cell_in_any_order_empties_the_cube(
        cells in proptest::collection::vec(cell(), 0..20).prop_shuffle(),
    ) {
        let mut cube = Cube::new();
        for (key, counters) in &cells {
            cube.add_cell(key, counters);
        }
        let mut removal = Cube::new();
        // Subtract first into an empty cube, then add: wrapping brings every count back to zero.
        for (key, counters) in cells.iter().rev() {
            let mut negative = Counters::default();
            negative.subtract(counters);
            removal.add_cell(key, &negative);
        }
        for (key, counters) in &cells {
            removal.add_cell(key, counters);
        }
        prop_assert_eq!(removal.n_cells(), 0);
        prop_assert_eq!(removal, Cube::new());
    }
}
