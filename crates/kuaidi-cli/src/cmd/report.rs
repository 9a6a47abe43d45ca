//! `kuaidi report`: the quality indicators of the data directory's store against the delta plan's 2020 targets,
//! each marked met, not met or no data, for a slice of parcels and optionally grouped; also the report `demo` prints.
//!
//! The figures come from the store's indicator cube (`Store::indicators`), so a report costs the number of cells,
//! never the number of parcels. The CLI acts as the local administrator and sees every carrier and region.

use clap::Args;
use kuaidi_rules::{Counters, Dimension, Filter, GroupKey, Indicators, Report, TimeLimits};
use kuaidi_store::Store;
use serde::Serialize;

use crate::config::Format;
use crate::{flags, CliError, Config};

/// The names `--group-by` takes, in the API's spelling.
const DIMENSIONS: &str = "carrier, origin_city, destination_city, origin_province, destination_province, day";

/// Arguments of `report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Only this carrier's parcels.
    #[arg(long)]
    carrier: Option<String>,
    /// Only parcels from this division (a province, city or county code).
    #[arg(long)]
    origin: Option<String>,
    /// Only parcels to this division.
    #[arg(long)]
    destination: Option<String>,
    /// Only parcels from or to this division.
    #[arg(long)]
    region: Option<String>,
    /// Only parcels accepted on or after this day (YYYY-MM-DD, China Standard Time).
    #[arg(long)]
    from: Option<String>,
    /// Only parcels accepted on or before this day (YYYY-MM-DD, China Standard Time).
    #[arg(long)]
    to: Option<String>,
    /// Group by these, comma-separated: carrier, origin_city, destination_city, origin_province,
    /// destination_province, day.
    #[arg(long, value_delimiter = ',')]
    group_by: Vec<String>,
}

/// The filter as given, for the JSON answer.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FilterView {
    carrier: Option<String>,
    origin: Option<String>,
    destination: Option<String>,
    region: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

/// One group's report.
#[derive(Debug, Serialize)]
pub struct GroupReport {
    /// The group's values of the grouped dimensions.
    #[serde(flatten)]
    key: GroupKey,
    /// Its indicators beside the targets.
    report: Report,
}

/// The answer: the slice's total and, when grouped, each group.
#[derive(Debug, Serialize)]
pub struct ReportView {
    filter: FilterView,
    group_by: Vec<Dimension>,
    total: Report,
    groups: Vec<GroupReport>,
}

/// Parses `--group-by` values, refusing unknown names and two dimensions that would share one key field.
pub fn parse_group_by(values: &[String]) -> Result<Vec<Dimension>, CliError> {
    let mut dimensions: Vec<Dimension> = Vec::new();
    for value in values {
        let value = value.trim();
        let dimension = Dimension::parse(value)
            .ok_or_else(|| CliError::Input(format!("`--group-by` `{value}` must be one of {DIMENSIONS}")))?;
        let clash = |a: Dimension, b: Dimension| {
            (dimension == a && dimensions.contains(&b)) || (dimension == b && dimensions.contains(&a))
        };
        if clash(Dimension::OriginCity, Dimension::OriginProvince)
            || clash(Dimension::DestinationCity, Dimension::DestinationProvince)
        {
            return Err(CliError::Input(format!(
                "`--group-by` cannot take `{value}` together with the other level of the same end; choose the city or the province"
            )));
        }
        if !dimensions.contains(&dimension) {
            dimensions.push(dimension);
        }
    }
    Ok(dimensions)
}

impl ReportArgs {
    fn filter(&self) -> Result<(Filter, FilterView), CliError> {
        let from_day = self.from.as_deref().map(|text| flags::day("from", text)).transpose()?;
        let to_day = self.to.as_deref().map(|text| flags::day("to", text)).transpose()?;
        flags::range(from_day, to_day)?;
        let filter = Filter {
            carrier: self.carrier.as_deref().map(|text| flags::carrier("carrier", text)).transpose()?,
            origin: self.origin.as_deref().map(|text| flags::area("origin", text)).transpose()?,
            destination: self.destination.as_deref().map(|text| flags::area("destination", text)).transpose()?,
            regions: self.region.as_deref().map(|text| flags::area("region", text)).transpose()?.into_iter().collect(),
            from_day,
            to_day,
        };
        let view = FilterView {
            carrier: self.carrier.clone(),
            origin: self.origin.clone(),
            destination: self.destination.clone(),
            region: self.region.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
        };
        Ok((filter, view))
    }
}

/// Builds the report of a slice from the store's cube.
pub fn build(
    store: &dyn Store,
    filter: &Filter,
    filter_view: FilterView,
    group_by: &[Dimension],
    limits: &TimeLimits,
) -> Result<ReportView, CliError> {
    let report = |counters: &Counters| Report::new(&Indicators::from(counters), limits);
    // With no dimension the cube answers one group holding the whole slice (or none when the store is empty).
    let total = store.indicators(filter, &[])?.into_iter().map(|(_, counters)| counters).next().unwrap_or_default();
    let mut groups = if group_by.is_empty() { Vec::new() } else { store.indicators(filter, group_by)? };
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(ReportView {
        filter: filter_view,
        group_by: group_by.to_vec(),
        total: report(&total),
        groups: groups
            .iter()
            .map(|(key, counters)| GroupReport { key: key.clone(), report: report(counters) })
            .collect(),
    })
}

/// A group's name for people: `yto · from 310100 上海市 · 2026-11-11`.
fn group_label(key: &GroupKey, group_by: &[Dimension]) -> String {
    let mut parts = Vec::new();
    for dimension in group_by {
        match dimension {
            Dimension::Carrier => {
                parts.push(key.carrier.as_ref().map_or_else(|| "(none)".to_owned(), |c| c.to_string()))
            }
            Dimension::OriginCity | Dimension::OriginProvince => {
                parts.push(format!("from {}", flags::area_label(key.origin)));
            }
            Dimension::DestinationCity | Dimension::DestinationProvince => {
                parts.push(format!("to {}", flags::area_label(key.destination)));
            }
            Dimension::Day => parts.push(key.day.map_or_else(|| "(no day)".to_owned(), |day| day.to_string())),
        }
    }
    parts.join(" · ")
}

/// Prints a report: pretty JSON, or one plain-text table for the total and one per group.
pub fn print(format: Format, view: &ReportView) {
    match format {
        Format::Json => println!("{}", serde_json::to_string_pretty(view).unwrap_or_default()),
        Format::Table => print_tables(view),
    }
}

/// The tables alone, for `demo`, which prints its own JSON.
pub fn print_tables(view: &ReportView) {
    let filter = &view.filter;
    let mut conditions = Vec::new();
    for (name, value) in [
        ("carrier", &filter.carrier),
        ("origin", &filter.origin),
        ("destination", &filter.destination),
        ("region", &filter.region),
        ("from", &filter.from),
        ("to", &filter.to),
    ] {
        if let Some(value) = value {
            conditions.push(format!("{name} {value}"));
        }
    }
    let slice = if conditions.is_empty() { "all parcels".to_owned() } else { conditions.join(", ") };
    println!("Quality indicators against the delta plan's 2020 targets ({slice})");
    println!();
    println!("== total ==");
    print!("{}", view.total.render_table());
    for group in &view.groups {
        println!();
        println!("== {} ==", group_label(&group.key, &view.group_by));
        print!("{}", group.report.render_table());
    }
}

pub fn run(args: ReportArgs, config: &Config) -> Result<(), CliError> {
    // Flags are checked before the store is opened, so a typo never creates a data directory.
    let (filter, filter_view) = args.filter()?;
    let group_by = parse_group_by(&args.group_by)?;
    let store = config.open_store()?;
    let view = build(&*store, &filter, filter_view, &group_by, &config.time_limits())?;
    print(config.format, &view);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group_by(values: &[&str]) -> Result<Vec<Dimension>, String> {
        parse_group_by(&values.iter().map(|v| (*v).to_owned()).collect::<Vec<_>>()).map_err(|err| err.to_string())
    }

    #[test]
    fn group_by_takes_the_api_names_once_each() {
        assert_eq!(group_by(&["carrier", "day", "carrier"]).unwrap(), vec![Dimension::Carrier, Dimension::Day]);
        assert_eq!(
            group_by(&["origin_city", "destination_province"]).unwrap(),
            vec![Dimension::OriginCity, Dimension::DestinationProvince]
        );
        assert_eq!(group_by(&[]).unwrap(), vec![]);
    }

    #[test]
    fn group_by_errors_name_the_value() {
        let err = group_by(&["carrier", "city"]).unwrap_err();
        assert!(err.contains("`--group-by` `city` must be one of carrier, origin_city"), "{err}");
        let err = group_by(&["origin_city", "origin_province"]).unwrap_err();
        assert!(err.contains("`origin_province` together with"), "{err}");
        let err = group_by(&["destination_province", "destination_city"]).unwrap_err();
        assert!(err.contains("`destination_city`"), "{err}");
    }

    #[test]
    fn labels_name_every_grouped_dimension() {
        let key = GroupKey {
            carrier: Some(kuaidi_model::CarrierCode::parse("yto").unwrap()),
            origin: Some(kuaidi_model::AdminCode::parse("310100").unwrap()),
            destination: None,
            day: chrono::NaiveDate::from_ymd_opt(2026, 11, 11),
        };
        let label =
            group_label(&key, &[Dimension::Carrier, Dimension::OriginCity, Dimension::DestinationCity, Dimension::Day]);
        assert_eq!(label, "yto · from 310100 上海市 · to (unknown) · 2026-11-11");
    }
}
