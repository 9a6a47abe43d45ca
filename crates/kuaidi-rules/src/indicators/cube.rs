//! The cube: counters by cell (accept day, carrier, origin city, destination city), kept up to date one parcel at a
//! time, and sliced by any filter and grouping without looking at a single event.
//!
//! A store keeps the cube next to the events: when a parcel's records change, it re-summarizes the parcel and calls
//! [`Cube::apply`] with the old and the new summary, in the same transaction. A slice costs one pass over the cells,
//! so its cost depends on the number of cells (days × carriers × city pairs in use), never on the events stored.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use kuaidi_model::{AdminCode, CarrierCode, DivisionLevel};
use serde::{Deserialize, Serialize};

use crate::indicators::{Counters, N_BUCKETS, N_SCALARS};
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
    /// Only parcels from *or* to one of these cities or provinces: a regulator's jurisdiction (a key may hold
    /// several divisions). Empty: no restriction.
    pub regions: Vec<AdminCode>,
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
            && (self.regions.is_empty()
                || self.regions.iter().any(|region| {
                    key.origin.is_some_and(|city| region.contains(city))
                        || key.destination.is_some_and(|city| region.contains(city))
                }))
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

/// A cell as the cube holds it: the counts, and the histogram as sorted `(bucket, count)` pairs without zeros, since a
/// cell (one day, carrier and city pair) sees few distinct delivery times, and a dense histogram would make every
/// slice read some 450 bytes per cell, mostly zeros.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Cell {
    scalars: [u64; N_SCALARS],
    histogram: Vec<(u8, u32)>,
}

/// An arithmetic of cells: add or subtract, both wrapping.
#[derive(Clone, Copy)]
struct Op {
    op64: fn(u64, u64) -> u64,
    op32: fn(u32, u32) -> u32,
}

const ADD: Op = Op { op64: u64::wrapping_add, op32: u32::wrapping_add };
const SUBTRACT: Op = Op { op64: u64::wrapping_sub, op32: u32::wrapping_sub };

/// Counters in the form a cell takes them: the counts, and only the histogram's non-zero buckets.
struct Change {
    scalars: [u64; N_SCALARS],
    buckets: [(u8, u32); N_BUCKETS],
    n_buckets: usize,
}

impl Change {
    fn of(counters: &Counters) -> Change {
        let mut change = Change { scalars: counters.scalars(), buckets: [(0, 0); N_BUCKETS], n_buckets: 0 };
        for (bucket, &count) in counters.delivery_histogram.iter().enumerate() {
            if count != 0 {
                change.buckets[change.n_buckets] = (bucket as u8, count);
                change.n_buckets += 1;
            }
        }
        change
    }
}

impl Cell {
    fn apply(&mut self, change: &Change, op: Op) {
        for (mine, theirs) in self.scalars.iter_mut().zip(change.scalars) {
            *mine = (op.op64)(*mine, theirs);
        }
        for &(bucket, count) in &change.buckets[..change.n_buckets] {
            match self.histogram.binary_search_by_key(&bucket, |&(b, _)| b) {
                Ok(idx) => {
                    self.histogram[idx].1 = (op.op32)(self.histogram[idx].1, count);
                    if self.histogram[idx].1 == 0 {
                        self.histogram.remove(idx);
                    }
                }
                Err(idx) => self.histogram.insert(idx, (bucket, (op.op32)(0, count))),
            }
        }
    }

    fn is_zero(&self) -> bool {
        self.histogram.is_empty() && self.scalars.iter().all(|&count| count == 0)
    }

    fn add_to(&self, counters: &mut Counters) {
        for (total, mine) in counters.scalars_mut().into_iter().zip(self.scalars) {
            *total = total.wrapping_add(mine);
        }
        for &(bucket, count) in &self.histogram {
            let total = &mut counters.delivery_histogram[usize::from(bucket)];
            *total = total.wrapping_add(count);
        }
    }

    fn to_counters(&self) -> Counters {
        let mut counters = Counters::default();
        self.add_to(&mut counters);
        counters
    }
}

/// A cell's key within a day, with the carrier as its index in the cube's carrier list, so keys are small and `Copy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    carrier: u16,
    origin: Option<AdminCode>,
    destination: Option<AdminCode>,
}

/// The cells of one day, keys apart from counts, so that a slice can test every key by reading only the keys
/// (20 bytes each) and touch the counts (some 230 bytes) of only the cells that pass.
#[derive(Debug, Clone, Default)]
struct DayCells {
    keys: Vec<Key>,
    cells: Vec<Cell>,
    /// Where each key is in `keys` and `cells`.
    index: HashMap<Key, usize>,
}

impl DayCells {
    /// Applies counters to a cell, creating or dropping it as needed.
    fn apply(&mut self, key: Key, change: &Change, op: Op) {
        let idx = match self.index.get(&key) {
            Some(&idx) => idx,
            None => {
                self.keys.push(key);
                self.cells.push(Cell::default());
                self.index.insert(key, self.keys.len() - 1);
                self.keys.len() - 1
            }
        };
        self.cells[idx].apply(change, op);
        if self.cells[idx].is_zero() {
            self.index.remove(&key);
            self.keys.swap_remove(idx);
            self.cells.swap_remove(idx);
            if let Some(moved) = self.keys.get(idx) {
                self.index.insert(*moved, idx);
            }
        }
    }

    fn iter(&self) -> impl Iterator<Item = (&Key, &Cell)> {
        self.keys.iter().zip(&self.cells)
    }

    fn len(&self) -> usize {
        self.keys.len()
    }
}

/// One view of the counters: cells by day (a single pseudo-day for the all-time views).
#[derive(Debug, Clone, Default)]
struct View {
    days: BTreeMap<NaiveDate, DayCells>,
}

impl View {
    fn apply(&mut self, day: NaiveDate, key: Key, change: &Change, op: Op) {
        let cells = self.days.entry(day).or_default();
        cells.apply(key, change, op);
        if cells.len() == 0 {
            self.days.remove(&day);
        }
    }
}

/// A view's index is a set of these bits: what it keeps apart. The base view keeps all three apart; the others
/// sum it over days, over the cities of each province, over carriers, or any combination.
const BY_DAY: usize = 1;
const BY_CITY: usize = 2;
const BY_CARRIER: usize = 4;
const BASE: usize = BY_DAY | BY_CITY | BY_CARRIER;
const N_VIEWS: usize = 8;

/// The pseudo-day under which views not by day keep their cells.
const ALL_TIME: NaiveDate = NaiveDate::MIN;

/// The carrier index in the keys of views not by carrier.
const ANY_CARRIER: u16 = u16::MAX;

/// Counters by cell, kept in eight views.
///
/// The base view has a cell per (accept day, carrier, origin city, destination city); the other seven sum it over
/// days, over the cities of each province, over carriers, or any combination of those. [`Cube::apply`] updates all
/// eight when a parcel's counters change (most records change none, and cost nothing here); in return a slice reads
/// the coarsest view that can answer it: a regulator's month of city pairs without carriers reads a seventh of the
/// base cells, a province total a few hundred, and a range of days only those days.
#[derive(Debug, Clone, Default)]
pub struct Cube {
    /// Carriers in the order first seen; a key holds the index.
    carriers: Vec<CarrierCode>,
    carrier_idx: HashMap<CarrierCode, u16>,
    views: [View; N_VIEWS],
}

impl PartialEq for Cube {
    /// Two cubes are equal when their views hold the same cells, whatever order their carriers were first seen in.
    fn eq(&self, other: &Cube) -> bool {
        (0..N_VIEWS).all(|view| self.canonical(view) == other.canonical(view))
    }
}

impl Eq for Cube {}

/// A cell's full key, for comparing cubes.
type CanonicalKey<'a> = (NaiveDate, Option<&'a CarrierCode>, Option<AdminCode>, Option<AdminCode>);

impl Cube {
    /// An empty cube.
    pub fn new() -> Cube {
        Cube::default()
    }

    fn canonical(&self, view: usize) -> BTreeMap<CanonicalKey<'_>, &Cell> {
        let mut cells = BTreeMap::new();
        for (day, day_cells) in &self.views[view].days {
            for (key, cell) in day_cells.iter() {
                cells.insert((*day, self.carriers.get(usize::from(key.carrier)), key.origin, key.destination), cell);
            }
        }
        cells
    }

    fn carrier_index(&mut self, carrier: &CarrierCode) -> u16 {
        if let Some(&idx) = self.carrier_idx.get(carrier) {
            return idx;
        }
        // Carriers are registered records, a few dozen at most; u16 leaves room for 65,535 (`ANY_CARRIER` is kept
        // free).
        debug_assert!(self.carriers.len() < usize::from(ANY_CARRIER), "more carriers than a cube can index");
        let idx = self.carriers.len().min(usize::from(ANY_CARRIER - 1)) as u16;
        self.carriers.push(carrier.clone());
        self.carrier_idx.insert(carrier.clone(), idx);
        idx
    }

    fn update(&mut self, day: NaiveDate, key: Key, counters: &Counters, op: Op) {
        let change = Change::of(counters);
        for (view_idx, view) in self.views.iter_mut().enumerate() {
            let by = |bit: usize| view_idx & bit != 0;
            let area = |code: Option<AdminCode>| if by(BY_CITY) { code } else { code.map(AdminCode::province) };
            let view_key = Key {
                carrier: if by(BY_CARRIER) { key.carrier } else { ANY_CARRIER },
                origin: area(key.origin),
                destination: area(key.destination),
            };
            view.apply(if by(BY_DAY) { day } else { ALL_TIME }, view_key, &change, op);
        }
    }

    /// Replaces a parcel's old summary with its new one: the old one's counters leave its cell, the new one's join
    /// theirs. `None` for old is a new parcel, `None` for new a parcel removed. A cell left empty is dropped.
    pub fn apply(&mut self, old: Option<&ParcelSummary>, new: Option<&ParcelSummary>) {
        let old = old.and_then(|summary| self.placed(summary));
        let new = new.and_then(|summary| self.placed(summary));
        match (old, new) {
            // Most records (an arrival, a departure) leave a parcel in its cell and its counters as they were: the
            // difference is applied once, and nothing at all when it is zero.
            (Some((old_day, old_key, old_counters)), Some((new_day, new_key, mut counters)))
                if (old_day, old_key) == (new_day, new_key) =>
            {
                counters.subtract(&old_counters);
                if !counters.is_zero() {
                    self.update(new_day, new_key, &counters, ADD);
                }
            }
            (old, new) => {
                if let Some((day, key, counters)) = old {
                    self.update(day, key, &counters, SUBTRACT);
                }
                if let Some((day, key, counters)) = new {
                    self.update(day, key, &counters, ADD);
                }
            }
        }
    }

    /// Where a summary counts, and what; `None` before acceptance.
    fn placed(&mut self, summary: &ParcelSummary) -> Option<(NaiveDate, Key, Counters)> {
        let day = crate::summary::accept_day(summary.accepted_at?);
        let key = Key {
            carrier: self.carrier_index(&summary.carrier),
            origin: summary.origin_city,
            destination: summary.destination_city,
        };
        Some((day, key, Counters::of(summary)))
    }

    /// Adds stored counters to a cell, as when a store loads its cube from the cells it persisted.
    pub fn add_cell(&mut self, key: &CellKey, counters: &Counters) {
        let cell_key =
            Key { carrier: self.carrier_index(&key.carrier), origin: key.origin, destination: key.destination };
        self.update(key.day, cell_key, counters, ADD);
    }

    /// The base cells (day, carrier, origin city, destination city) with their counters, for a store to persist.
    pub fn cells(&self) -> impl Iterator<Item = (CellKey, Counters)> + '_ {
        self.views[BASE].days.iter().flat_map(move |(day, cells)| {
            cells.iter().map(move |(key, cell)| {
                let cell_key = CellKey {
                    day: *day,
                    carrier: self.carriers[usize::from(key.carrier)].clone(),
                    origin: key.origin,
                    destination: key.destination,
                };
                (cell_key, cell.to_counters())
            })
        })
    }

    /// How many base cells hold parcels.
    pub fn n_cells(&self) -> usize {
        self.views[BASE].days.values().map(DayCells::len).sum()
    }

    /// The counters of the cells that pass `filter`, summed by the groups of `group_by`, in group order.
    /// An empty `group_by` gives one group (the total), present even when no cell passes.
    ///
    /// Cost: one pass over the cells of the coarsest view that can answer (by day only when the filter has a day
    /// range or the grouping has days; with cities only when the filter names a city or the grouping has cities),
    /// and of a view by day only over the days in the range. It never depends on the number of events.
    pub fn slice(&self, filter: &Filter, group_by: &[Dimension]) -> Vec<(GroupKey, Counters)> {
        // Counters are some 700 bytes: they stay in one vector, found through a map of group to index, and are
        // moved once at the end rather than with every rehash and every step of the sort.
        let mut group_idx: HashMap<PackedGroup, usize> = HashMap::new();
        let mut groups: Vec<(PackedGroup, Counters)> = Vec::new();
        if group_by.is_empty() {
            group_idx.insert(PackedGroup::default(), 0);
            groups.push((PackedGroup::default(), Counters::default()));
        }
        // A carrier the cube has never seen has no parcels, and `ANY_CARRIER` matches no key of a view by carrier.
        let carrier =
            filter.carrier.as_ref().map(|carrier| self.carrier_idx.get(carrier).copied().unwrap_or(ANY_CARRIER));
        let by_day = filter.from_day.is_some() || filter.to_day.is_some() || group_by.contains(&Dimension::Day);
        let city_level = |code: Option<AdminCode>| code.is_some_and(|code| code.level() != DivisionLevel::Province);
        let by_city = group_by.iter().any(|d| matches!(d, Dimension::OriginCity | Dimension::DestinationCity))
            || city_level(filter.origin)
            || city_level(filter.destination)
            || filter.regions.iter().any(|&region| city_level(Some(region)));
        let by_carrier = filter.carrier.is_some() || group_by.contains(&Dimension::Carrier);
        let view = [(by_day, BY_DAY), (by_city, BY_CITY), (by_carrier, BY_CARRIER)]
            .into_iter()
            .filter(|(needed, _)| *needed)
            .fold(0, |view, (_, bit)| view | bit);
        let from = filter.from_day.unwrap_or(NaiveDate::MIN);
        let to = filter.to_day.unwrap_or(NaiveDate::MAX);
        let within = |area: Option<AdminCode>, code: Option<AdminCode>| match area {
            None => true,
            Some(area) => code.is_some_and(|code| area.contains(code)),
        };
        for (day, cells) in &self.views[view].days {
            // An all-time view is chosen only when no day range is asked for.
            if by_day && (*day < from || *day > to) {
                continue;
            }
            for (cell_idx, key) in cells.keys.iter().enumerate() {
                let passes = carrier.is_none_or(|carrier| carrier == key.carrier)
                    && within(filter.origin, key.origin)
                    && within(filter.destination, key.destination)
                    && (filter.regions.is_empty()
                        || filter
                            .regions
                            .iter()
                            .any(|&region| within(Some(region), key.origin) || within(Some(region), key.destination)));
                if passes {
                    let group = PackedGroup::of(*day, key, group_by);
                    let idx = *group_idx.entry(group).or_insert_with(|| {
                        groups.push((group, Counters::default()));
                        groups.len() - 1
                    });
                    cells.cells[cell_idx].add_to(&mut groups[idx].1);
                }
            }
        }
        let mut order: Vec<(GroupKey, usize)> = groups
            .iter()
            .enumerate()
            .map(|(idx, (group, _))| {
                let key = GroupKey {
                    carrier: group.carrier.map(|carrier| self.carriers[usize::from(carrier)].clone()),
                    origin: group.origin,
                    destination: group.destination,
                    day: group.day,
                };
                (key, idx)
            })
            .collect();
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut counters: Vec<Option<Counters>> = groups.into_iter().map(|(_, counters)| Some(counters)).collect();
        order.into_iter().map(|(key, idx)| (key, counters[idx].take().unwrap_or_default())).collect()
    }

    /// The counters of the cells that pass `filter`, summed.
    pub fn total(&self, filter: &Filter) -> Counters {
        self.slice(filter, &[]).pop().map(|(_, counters)| counters).unwrap_or_default()
    }
}

/// A group key with the carrier as its index, for grouping without allocating.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
struct PackedGroup {
    carrier: Option<u16>,
    origin: Option<AdminCode>,
    destination: Option<AdminCode>,
    day: Option<NaiveDate>,
}

impl PackedGroup {
    fn of(day: NaiveDate, key: &Key, group_by: &[Dimension]) -> PackedGroup {
        let mut group = PackedGroup::default();
        for dimension in group_by {
            match dimension {
                Dimension::Carrier => group.carrier = Some(key.carrier),
                Dimension::OriginCity => group.origin = key.origin,
                Dimension::DestinationCity => group.destination = key.destination,
                Dimension::OriginProvince => group.origin = key.origin.map(AdminCode::province),
                Dimension::DestinationProvince => group.destination = key.destination.map(AdminCode::province),
                Dimension::Day => group.day = Some(day),
            }
        }
        group
    }
}

#[cfg(test)]
mod tests;
