//! The report: each indicator beside the delta plan's 2020 target (the plan's 专栏 table), marked met, not met or
//! no data, as JSON or as a plain-text table.
//!
//! The plan's targets: delay ≤ 2 ‰, damage ≤ 2 per 100,000, loss ≤ 1 per 100,000, valid complaints ≤ 10.5 per
//! million, e-waybill use ≥ 90 %, smart-locker delivery share ≥ 12 %. It promises the 12 h, 24 h and 48 h
//! deliveries without a share to reach, so each class is held to the delay target: at least 99.8 % on time.
//! A verdict compares integers (`numerator × den ≤ num × denominator`), so a value exactly at its target is met
//! and no rounding can flip it.

use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::indicators::{Indicators, Rate};
use crate::time_limit::{TimeLimitClass, TimeLimits};

/// Which way a target points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    /// The value must not exceed the target.
    AtMost,
    /// The value must reach the target.
    AtLeast,
}

/// A target: a fraction `num / den` that the indicator's fraction is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Which way.
    pub comparison: Comparison,
    /// The target in the indicator's unit (2 for 2 ‰).
    pub value: f64,
    /// The target as an exact fraction: numerator.
    pub num: u64,
    /// The target as an exact fraction: denominator.
    pub den: u64,
}

impl Target {
    const fn at_most(value: f64, num: u64, den: u64) -> Target {
        Target { comparison: Comparison::AtMost, value, num, den }
    }

    const fn at_least(value: f64, num: u64, den: u64) -> Target {
        Target { comparison: Comparison::AtLeast, value, num, den }
    }

    /// Whether a rate meets the target; `None` without data.
    pub fn verdict(&self, rate: &Rate) -> Status {
        if rate.denominator == 0 {
            return Status::NoData;
        }
        let left = u128::from(rate.numerator) * u128::from(self.den);
        let right = u128::from(self.num) * u128::from(rate.denominator);
        let met = match self.comparison {
            Comparison::AtMost => left <= right,
            Comparison::AtLeast => left >= right,
        };
        if met {
            Status::Met
        } else {
            Status::NotMet
        }
    }
}

/// The plan's 2020 targets.
pub mod targets {
    use super::Target;

    /// 快件延误率 ≤ 2 ‰.
    pub const DELAY: Target = Target::at_most(2.0, 2, 1_000);
    /// 快件损毁率 ≤ 2 per 100,000.
    pub const DAMAGE: Target = Target::at_most(2.0, 2, 100_000);
    /// 快件丢失率 ≤ 1 per 100,000.
    pub const LOSS: Target = Target::at_most(1.0, 1, 100_000);
    /// 快件有效申诉率 ≤ 10.5 per million.
    pub const VALID_COMPLAINTS: Target = Target::at_most(10.5, 21, 2_000_000);
    /// Each promised class on time for at least 99.8 % of parcels (the delay target's complement).
    pub const ATTAINMENT: Target = Target::at_least(99.8, 998, 1_000);
    /// 快递电子运单使用率 ≥ 90 %.
    pub const E_WAYBILL: Target = Target::at_least(90.0, 9, 10);
    /// 智能快件箱投递快件占比 ≥ 12 %.
    pub const LOCKER: Target = Target::at_least(12.0, 12, 100);
}

/// Met, not met, no data, or no target to meet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The value meets its target.
    Met,
    /// It does not.
    NotMet,
    /// There is no denominator, so no value.
    NoData,
    /// The plan sets no target for it.
    NoTarget,
}

impl Status {
    /// The wire name, which the table shows too.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Met => "met",
            Status::NotMet => "not met",
            Status::NoData => "no data",
            Status::NoTarget => "",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportRow {
    /// A stable key, such as `delay_rate` or `attainment_delta_key`.
    pub indicator: String,
    /// What a person reads, with its unit: `delay rate (‰)`, `12 h attainment (%)`.
    pub label: String,
    /// The value and its parts.
    pub rate: Rate,
    /// The plan's target, if it sets one.
    pub target: Option<Target>,
    /// The verdict.
    pub status: Status,
}

/// The report of one slice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Parcels accepted in the slice.
    pub parcels: u64,
    /// The rate rows, in a fixed order.
    pub rows: Vec<ReportRow>,
    /// Mean delivery time, hours.
    pub mean_delivery_hours: Option<f64>,
    /// The 90th percentile of delivery time: the histogram bucket `[lower, upper)` in hours.
    pub p90_delivery_hours: Option<(f64, Option<f64>)>,
}

impl Report {
    /// Sets the indicators beside the targets; `limits` gives the hours in the time-limit labels.
    pub fn new(indicators: &Indicators, limits: &TimeLimits) -> Report {
        let mut rows = Vec::new();
        let mut row = |indicator: &str, label: String, rate: Rate, target: Option<Target>| {
            let status = target.map_or(Status::NoTarget, |target| target.verdict(&rate));
            rows.push(ReportRow { indicator: indicator.to_owned(), label, rate, target, status });
        };
        row("delay_rate", "delay rate (‰)".into(), indicators.delay_rate, Some(targets::DELAY));
        row("damage_rate", "damage rate (per 100,000)".into(), indicators.damage_rate, Some(targets::DAMAGE));
        row("loss_rate", "loss rate (per 100,000)".into(), indicators.loss_rate, Some(targets::LOSS));
        row(
            "valid_complaint_rate",
            "valid complaints (per 1,000,000)".into(),
            indicators.valid_complaint_rate,
            Some(targets::VALID_COMPLAINTS),
        );
        for attainment in &indicators.attainment {
            let class = attainment.class;
            let (label, target) = match (class, limits.hours(class)) {
                (TimeLimitClass::Other, Some(hours)) => (format!("{hours} h attainment, other pairs (%)"), None),
                (_, Some(hours)) => {
                    (format!("{hours} h attainment, {} (%)", class_label(class)), Some(targets::ATTAINMENT))
                }
                (_, None) => ("promised-date attainment (%)".to_owned(), None),
            };
            row(&format!("attainment_{}", class.as_str()), label, attainment.rate, target);
        }
        row("e_waybill_share", "e-waybill share (%)".into(), indicators.e_waybill_share, Some(targets::E_WAYBILL));
        row("locker_share", "locker delivery share (%)".into(), indicators.locker_share, Some(targets::LOCKER));
        Report {
            parcels: indicators.parcels,
            rows,
            mean_delivery_hours: indicators.mean_delivery_hours,
            p90_delivery_hours: indicators.p90_delivery.map(|q| (q.lower_hours, q.upper_hours)),
        }
    }

    /// The report as a plain-text table, one indicator a line.
    pub fn render_table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{:<44} {:>12} {:>21} {:>10}  status", "indicator", "value", "count", "target");
        for row in &self.rows {
            let value = row.rate.value.map_or_else(|| "-".to_owned(), |value| format!("{value:.3}"));
            let count = format!("{}/{}", row.rate.numerator, row.rate.denominator);
            let target = row.target.map_or_else(String::new, |target| {
                let sign = if target.comparison == Comparison::AtMost { "≤" } else { "≥" };
                format!("{sign} {}", target.value)
            });
            let _ =
                writeln!(out, "{:<44} {:>12} {:>21} {:>10}  {}", row.label, value, count, target, row.status.as_str());
        }
        let hours = |value: Option<f64>| value.map_or_else(|| "-".to_owned(), |value| format!("{value:.2} h"));
        let _ = writeln!(out, "parcels accepted: {}", self.parcels);
        let _ = writeln!(out, "mean delivery time: {}", hours(self.mean_delivery_hours));
        let p90 = match self.p90_delivery_hours {
            Some((lower, Some(upper))) => format!("{lower:.1} to {upper:.1} h"),
            Some((lower, None)) => format!("{lower:.1} h or more"),
            None => "-".to_owned(),
        };
        let _ = writeln!(out, "p90 delivery time: {p90}");
        out
    }
}

fn class_label(class: TimeLimitClass) -> &'static str {
    match class {
        TimeLimitClass::DeltaKey => "delta key cities",
        TimeLimitClass::Delta => "other delta cities",
        TimeLimitClass::NationalKey => "key cities nationally",
        TimeLimitClass::Other => "other pairs",
        TimeLimitClass::Promised => "promised date",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_are_exact_at_the_target() {
        // Exactly 2 ‰ is met; one more parcel is not.
        assert_eq!(targets::DELAY.verdict(&Rate::new(2, 1_000, 1_000)), Status::Met);
        assert_eq!(targets::DELAY.verdict(&Rate::new(3, 1_000, 1_000)), Status::NotMet);
        // 10.5 per million: 21 in 2,000,000 is met, 22 is not.
        assert_eq!(targets::VALID_COMPLAINTS.verdict(&Rate::new(21, 2_000_000, 1_000_000)), Status::Met);
        assert_eq!(targets::VALID_COMPLAINTS.verdict(&Rate::new(22, 2_000_000, 1_000_000)), Status::NotMet);
        // 99.8 % on time is met, 99.7 % is not.
        assert_eq!(targets::ATTAINMENT.verdict(&Rate::new(998, 1_000, 100)), Status::Met);
        assert_eq!(targets::ATTAINMENT.verdict(&Rate::new(997, 1_000, 100)), Status::NotMet);
        assert_eq!(targets::LOCKER.verdict(&Rate::new(0, 0, 100)), Status::NoData);
    }
}
