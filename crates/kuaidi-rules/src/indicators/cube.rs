//! The cube: counters by cell (accept day, carrier, origin city, destination city), kept up to date one parcel at a
//! time, and sliced by any filter and grouping without looking at a single event.
//!
//! A store keeps the cube next to the events: when a parcel's records change, it re-summarizes the parcel and calls
//! [`Cube::apply`] with the old and the new summary, in the same transaction. A slice costs one pass over the cells,
//! so its cost depends on the number of cells (days × carriers × city pairs in use), never on the events stored.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use kuaidi_model::{AdminCode, CarrierCode};
use serde::{Deserialize, Serialize};

use crate::indicators::Counters;
use crate::serde_codes;
use crate::summary::ParcelSummary;

/// The key of a cell.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CellKey {
    /// The accept day in China Standard Time (+08:00).
    #[serde(with = "serde_codes::day")]
    pub day: NaiveDate,
    /// The carrier.
    #[serde(with = "serde_codes::carrier")]
    pub carrier: CarrierCode,
    /// The origin city, when known.
    #[serde(with = "serde_codes::admin_opt")]
    pub origin: Option<AdminCode>,
    /// The destination city, when known.
    #[serde(with = "serde_codes::admin_opt")]
    pub destination: Option<AdminCode>,
}

/// Which cells a slice takes. Every condition given must hold; none given takes every cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Only this carrier (a carrier's key sees only its own figures).
    pub carrier: Option<CarrierCode>,
    /// Only parcels from this city or province (any division level; it must contain the origin city).
    pub origin: Option<AdminCode>,
    /// Only parcels to this city or province.
    pub destination: Option<AdminCode>,
    /// Only parcels from *or* to this city or province: a regulator's jurisdiction.
    pub region: Option<AdminCode>,
    /// Only parcels accepted on or after this day.
    pub from_day: Option<NaiveDate>,
    /// Only parcels accepted on or before this day.
    pub to_day: Option<NaiveDate>,
}

impl Filter {
    /// Whether a cell passes.
    pub fn matches(&self, key: &CellKey) -> bool {
        let within = |area: Option<AdminCode>, city: Option<AdminCode>| match area {
            None => true,
            Some(area) => city.is_some_and(|city| area.contains(city)),
        };
        self.carrier.as_ref().is_none_or(|carrier| *carrier == key.carrier)
            && within(self.origin, key.origin)
            && within(self.destination, key.destination)
            && self.region.is_none_or(|region| {
                key.origin.is_some_and(|city| region.contains(city))
                    || key.destination.is_some_and(|city| region.contains(city))
            })
            && self.from_day.is_none_or(|day| key.day >= day)
            && self.to_day.is_none_or(|day| key.day <= day)
    }
}

/// What a slice can group by. Grouping by origin and destination city gives city pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dimension {
    /// The carrier.
    Carrier,
    /// The origin city.
    OriginCity,
    /// The destination city.
    DestinationCity,
    /// The origin province.
    OriginProvince,
    /// The destination province.
    DestinationProvince,
    /// The accept day.
    Day,
}

impl Dimension {
    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<Dimension> {
        Some(match text {
            "carrier" => Dimension::Carrier,
            "origin_city" => Dimension::OriginCity,
            "destination_city" => Dimension::DestinationCity,
            "origin_province" => Dimension::OriginProvince,
            "destination_province" => Dimension::DestinationProvince,
            "day" => Dimension::Day,
            _ => return None,
        })
    }
}

/// The key of a group in a slice: the grouped dimensions are set, the others `None`. A grouped dimension whose
/// value is unknown (a parcel without a known destination, say) is also `None`, and those parcels form one group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupKey {
    /// The carrier.
    #[serde(with = "serde_codes::carrier_opt", skip_serializing_if = "Option::is_none", default)]
    pub carrier: Option<CarrierCode>,
    /// The origin city or province.
    #[serde(with = "serde_codes::admin_opt", skip_serializing_if = "Option::is_none", default)]
    pub origin: Option<AdminCode>,
    /// The destination city or province.
    #[serde(with = "serde_codes::admin_opt", skip_serializing_if = "Option::is_none", default)]
    pub destination: Option<AdminCode>,
    /// The accept day.
    #[serde(with = "serde_codes::day_opt", skip_serializing_if = "Option::is_none", default)]
    pub day: Option<NaiveDate>,
}

impl GroupKey {
    fn of(key: &CellKey, group_by: &[Dimension]) -> GroupKey {
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
        group
    }
}

/// Counters by cell.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cube {
    cells: HashMap<CellKey, Counters>,
}

impl Cube {
    /// An empty cube.
    pub fn new() -> Cube {
        Cube::default()
    }

    /// Replaces a parcel's old summary with its new one: the old one's counters leave its cell, the new one's join
    /// theirs. `None` for old is a new parcel, `None` for new a parcel removed. A cell left empty is dropped.
    pub fn apply(&mut self, old: Option<&ParcelSummary>, new: Option<&ParcelSummary>) {
        if let Some((key, counters)) = old.and_then(|old| Some((old.cell()?, Counters::of(old)))) {
            self.add_to(key, &counters, Counters::subtract);
        }
        if let Some((key, counters)) = new.and_then(|new| Some((new.cell()?, Counters::of(new)))) {
            self.add_to(key, &counters, Counters::add);
        }
    }

    /// Adds stored counters to a cell, as when a store loads its cube.
    pub fn add_cell(&mut self, key: CellKey, counters: &Counters) {
        self.add_to(key, counters, Counters::add);
    }

    fn add_to(&mut self, key: CellKey, counters: &Counters, op: fn(&mut Counters, &Counters)) {
        match self.cells.entry(key) {
            Entry::Occupied(mut entry) => {
                op(entry.get_mut(), counters);
                if entry.get().is_zero() {
                    entry.remove();
                }
            }
            Entry::Vacant(entry) => {
                let mut cell = Counters::default();
                op(&mut cell, counters);
                if !cell.is_zero() {
                    entry.insert(cell);
                }
            }
        }
    }

    /// The cells and their counters, in no particular order (for a store to persist).
    pub fn cells(&self) -> impl Iterator<Item = (&CellKey, &Counters)> {
        self.cells.iter()
    }

    /// How many cells hold parcels.
    pub fn n_cells(&self) -> usize {
        self.cells.len()
    }

    /// The counters of one cell.
    pub fn cell(&self, key: &CellKey) -> Option<&Counters> {
        self.cells.get(key)
    }

    /// The counters of the cells that pass `filter`, summed by the groups of `group_by`, in group order.
    /// An empty `group_by` gives one group (the total), present even when no cell passes.
    pub fn slice(&self, filter: &Filter, group_by: &[Dimension]) -> Vec<(GroupKey, Counters)> {
        let mut groups: BTreeMap<GroupKey, Counters> = BTreeMap::new();
        if group_by.is_empty() {
            groups.insert(GroupKey::default(), Counters::default());
        }
        for (key, counters) in &self.cells {
            if filter.matches(key) {
                groups.entry(GroupKey::of(key, group_by)).or_default().add(counters);
            }
        }
        groups.into_iter().collect()
    }

    /// The counters of the cells that pass `filter`, summed.
    pub fn total(&self, filter: &Filter) -> Counters {
        let mut total = Counters::default();
        for (key, counters) in &self.cells {
            if filter.matches(key) {
                total.add(counters);
            }
        }
        total
    }
}
