//! `kuaidi compliance`: coverage of the three safety systems (实名收寄 real-name, 收寄验视 inspection, 过机安检
//! security scan) over the parcels in the store, summed by a group, from the store's coverage counters.
//!
//! A check's coverage rate is `passed / (passed + failed)`; pending parcels (not yet decidable) are shown apart and
//! count in neither (`kuaidi_rules::coverage::CheckCounts::rate`, `docs/safety.md`).

use clap::Args;
use kuaidi_store::{CoverageCounts, CoverageFilter, CoverageGroup};
use serde::Serialize;

use crate::{flags, output, CliError, Config};

/// Arguments of `compliance`.
#[derive(Debug, Args)]
pub struct ComplianceArgs {
    /// Sum by: all, carrier, outlet, courier, city, day.
    #[arg(long, default_value = "all")]
    group: String,
    /// Only this carrier's parcels.
    #[arg(long)]
    carrier: Option<String>,
    /// Only parcels accepted in these divisions, comma-separated.
    #[arg(long, value_delimiter = ',')]
    area: Vec<String>,
    /// Only parcels accepted on or after this day (YYYY-MM-DD, China Standard Time).
    #[arg(long)]
    from: Option<String>,
    /// Only parcels accepted on or before this day.
    #[arg(long)]
    to: Option<String>,
}

/// One check's outcomes and its rate.
#[derive(Debug, Serialize)]
struct CheckView {
    passed: u64,
    failed: u64,
    pending: u64,
    /// `passed / (passed + failed)`, `null` when nothing is decided.
    rate: Option<f64>,
}

/// One group's coverage.
#[derive(Debug, Serialize)]
struct CoverageView {
    group: String,
    parcels: u64,
    real_name: CheckView,
    inspection: CheckView,
    security_scan: CheckView,
}

fn parse_group(text: &str) -> Result<CoverageGroup, CliError> {
    Ok(match text {
        "all" => CoverageGroup::All,
        "carrier" => CoverageGroup::Carrier,
        "outlet" => CoverageGroup::Outlet,
        "courier" => CoverageGroup::Courier,
        "city" => CoverageGroup::City,
        "day" => CoverageGroup::Day,
        _ => {
            return Err(CliError::Input(format!(
                "`--group` `{text}` must be one of all, carrier, outlet, courier, city, day"
            )))
        }
    })
}

fn view(group: String, counts: &CoverageCounts) -> CoverageView {
    let check = |c: &kuaidi_rules::coverage::CheckCounts| CheckView {
        passed: c.passed,
        failed: c.failed,
        pending: c.pending,
        rate: c.rate(),
    };
    CoverageView {
        group,
        parcels: counts.parcels,
        real_name: check(&counts.real_name),
        inspection: check(&counts.inspection),
        security_scan: check(&counts.security_scan),
    }
}

fn cell(check: &CheckView) -> String {
    let rate = check.rate.map_or_else(|| "-".to_owned(), |rate| format!("{:.2} %", rate * 100.0));
    format!("{rate} ({}/{}/{})", check.passed, check.failed, check.pending)
}

pub fn run(args: ComplianceArgs, config: &Config) -> Result<(), CliError> {
    let group = parse_group(&args.group)?;
    let from_day = args.from.as_deref().map(|text| flags::day("from", text)).transpose()?;
    let to_day = args.to.as_deref().map(|text| flags::day("to", text)).transpose()?;
    flags::range(from_day, to_day)?;
    let filter = CoverageFilter {
        carrier: args.carrier.as_deref().map(|text| flags::carrier("carrier", text)).transpose()?,
        areas: args.area.iter().map(|text| flags::area("area", text.trim())).collect::<Result<_, _>>()?,
        from_day,
        to_day,
    };
    let store = config.open_store()?;
    let mut rows = store.coverage(&filter, group)?;
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    let views: Vec<CoverageView> = rows.iter().map(|(name, counts)| view(name.clone(), counts)).collect();
    let table = views
        .iter()
        .map(|v| {
            let group = match group {
                CoverageGroup::City => v
                    .group
                    .parse::<u32>()
                    .ok()
                    .and_then(|code| kuaidi_model::AdminCode::from_u32(code).ok())
                    .map_or_else(|| v.group.clone(), |code| flags::area_label(Some(code))),
                _ => v.group.clone(),
            };
            vec![group, v.parcels.to_string(), cell(&v.real_name), cell(&v.inspection), cell(&v.security_scan)]
        })
        .collect();
    let headers = ["GROUP", "PARCELS", "REAL NAME (p/f/pending)", "INSPECTION", "SECURITY SCAN"];
    output::print(config.format, &views, &headers, table);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_parse_and_bad_ones_are_named() {
        assert_eq!(parse_group("courier").unwrap(), CoverageGroup::Courier);
        let err = parse_group("province").unwrap_err().to_string();
        assert!(err.contains("`--group` `province` must be one of all, carrier"), "{err}");
    }

    #[test]
    fn rates_leave_pending_parcels_out() {
        let mut counts = CoverageCounts { parcels: 4, ..CoverageCounts::default() };
        counts.inspection.passed = 3;
        counts.inspection.failed = 1;
        counts.security_scan.pending = 4;
        let view = view("all".into(), &counts);
        assert_eq!(view.inspection.rate, Some(0.75));
        assert_eq!(view.security_scan.rate, None);
        assert_eq!(cell(&view.inspection), "75.00 % (3/1/0)");
        assert_eq!(cell(&view.security_scan), "- (0/0/4)");
    }
}
