//! The `/v1` response types of supervision: quality indicators and their report, safety coverage, one parcel's
//! compliance, and alerts.
//!
//! Indicators, reports and group keys are `kuaidi_rules` types, whose serde form is that crate's contract; the rest
//! is built here from the store's and the rules' types.

use kuaidi_model::{AdminCode, CarrierCode, WaybillNo};
use kuaidi_rules::compliance::{Check, Compliance};
use kuaidi_rules::coverage::{CheckCounts, Counts};
use kuaidi_rules::{GroupKey, Indicators, Report};
use kuaidi_store::Alert;
use serde::Serialize;
use utoipa::ToSchema;

/// The filter an indicators answer was computed with, after the caller's access rules were applied.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorFilter {
    /// Only this carrier (always the key's own for a carrier key).
    pub carrier: Option<String>,
    /// Only parcels from this area.
    pub origin: Option<String>,
    /// Only parcels to this area.
    pub destination: Option<String>,
    /// Only parcels from or to this area (always set for a regulator key).
    pub region: Option<String>,
    /// First accept day (+08:00), inclusive.
    pub from: Option<String>,
    /// Last accept day (+08:00), inclusive.
    pub to: Option<String>,
}

/// The indicators of one group and its report against the plan's 2020 targets.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorGroup {
    /// The group's key: the grouped dimensions (`carrier`, `origin`, `destination`, `day`); absent ones are not
    /// grouped, or unknown for these parcels.
    #[schema(value_type = Object)]
    pub key: GroupKey,
    /// Rates with numerator and denominator, mean and p90 delivery time, shares and attainment per class.
    #[schema(value_type = Object)]
    pub indicators: Indicators,
    /// Each rate beside its 2020 target: `met`, `not_met`, `no_data` or `no_target`.
    #[schema(value_type = Object)]
    pub report: Report,
}

/// `GET /v1/indicators`.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndicatorsResponse {
    /// The filter applied.
    pub filter: IndicatorFilter,
    /// The dimensions grouped by, in the order asked.
    pub group_by: Vec<String>,
    /// One entry per group, in key order; none when no parcel matched.
    pub groups: Vec<IndicatorGroup>,
}

/// The outcomes of one check over a group of parcels.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckCoverage {
    /// Parcels that passed.
    pub passed: u64,
    /// Parcels that failed.
    pub failed: u64,
    /// Parcels not yet decided.
    pub pending: u64,
    /// `passed / (passed + failed)`, from 0 to 1; `null` when nothing is decided.
    pub rate: Option<f64>,
}

impl From<&CheckCounts> for CheckCoverage {
    fn from(counts: &CheckCounts) -> CheckCoverage {
        CheckCoverage { passed: counts.passed, failed: counts.failed, pending: counts.pending, rate: counts.rate() }
    }
}

/// The coverage of the three systems over one group.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoverageGroupView {
    /// The group: `all`, a carrier, an outlet, a courier, a city code or a day.
    pub key: String,
    /// Parcels accepted.
    pub parcels: u64,
    /// 实名收寄.
    pub real_name: CheckCoverage,
    /// 收寄验视.
    pub inspection: CheckCoverage,
    /// 过机安检.
    pub security_scan: CheckCoverage,
}

impl CoverageGroupView {
    /// The view of one group's counts.
    pub fn new(key: String, counts: &Counts) -> CoverageGroupView {
        CoverageGroupView {
            key,
            parcels: counts.parcels,
            real_name: counts.check(Check::RealName).into(),
            inspection: counts.check(Check::Inspection).into(),
            security_scan: counts.check(Check::SecurityScan).into(),
        }
    }
}

/// `GET /v1/compliance`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CoverageResponse {
    /// How the rows are grouped.
    pub group: &'static str,
    /// One entry per group.
    pub groups: Vec<CoverageGroupView>,
}

/// One check of one parcel.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckView {
    /// `real_name`, `inspection` or `security_scan`.
    pub check: &'static str,
    /// `passed`, `failed` or `pending`.
    pub status: &'static str,
    /// Why it failed or is pending, such as `inspection_missing`; `null` when it passed.
    pub reason: Option<&'static str>,
    /// The ids of the events the outcome rests on.
    pub events: Vec<String>,
}

impl CheckView {
    fn new(compliance: &Compliance, check: Check) -> CheckView {
        let outcome = compliance.outcome(check);
        CheckView {
            check: check.as_str(),
            status: outcome.status(),
            reason: outcome.reason(),
            events: outcome.events().iter().map(ToString::to_string).collect(),
        }
    }
}

/// `GET /v1/compliance/{waybill_no}`: one parcel's three checks.
#[derive(Debug, Serialize, ToSchema)]
pub struct ParcelComplianceResponse {
    /// The carrier.
    pub carrier: String,
    /// The waybill number.
    pub waybill_no: String,
    /// 实名收寄, 收寄验视 and 过机安检, in that order.
    pub checks: Vec<CheckView>,
}

impl ParcelComplianceResponse {
    /// The view of a parcel's compliance.
    pub fn new(carrier: &CarrierCode, waybill_no: &WaybillNo, compliance: &Compliance) -> ParcelComplianceResponse {
        ParcelComplianceResponse {
            carrier: carrier.to_string(),
            waybill_no: waybill_no.to_string(),
            checks: [Check::RealName, Check::Inspection, Check::SecurityScan]
                .into_iter()
                .map(|check| CheckView::new(compliance, check))
                .collect(),
        }
    }
}

/// An alert as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertView {
    /// Its id; ids grow with the time of raising.
    pub id: i64,
    /// `compliance`, `prohibited_item`, `stuck`, `loss` or `impossible_chain`.
    pub kind: String,
    /// The stable reason code, such as `inspection_missing`.
    pub reason: String,
    /// The parcel's carrier.
    pub carrier: String,
    /// The parcel.
    pub waybill_no: String,
    /// The ids of the events that raised it.
    pub events: Vec<String>,
    /// The particulars: the check, the matched catalogue term, the stage and silence...
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// The parcel's origin city, when known.
    pub origin_city: Option<String>,
    /// The parcel's destination city, when known.
    pub destination_city: Option<String>,
    /// When it was raised, by the hub's clock.
    pub raised_at: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: &'static str,
    /// The note of the last acknowledgement or resolution.
    pub note: Option<String>,
    /// The key that last acknowledged or resolved it.
    pub handled_by: Option<String>,
    /// When that happened.
    pub handled_at: Option<String>,
}

impl From<&Alert> for AlertView {
    fn from(alert: &Alert) -> AlertView {
        let city = |code: Option<AdminCode>| code.map(|code| code.to_string());
        AlertView {
            id: alert.id,
            kind: alert.kind.clone(),
            reason: alert.reason.clone(),
            carrier: alert.carrier.to_string(),
            waybill_no: alert.waybill_no.to_string(),
            events: alert.events.clone(),
            detail: alert.detail.clone(),
            origin_city: city(alert.origin_city),
            destination_city: city(alert.destination_city),
            raised_at: alert.raised_at.to_rfc3339(),
            status: alert.status.as_str(),
            note: alert.note.clone(),
            handled_by: alert.handled_by.clone(),
            handled_at: alert.handled_at.map(|at| at.to_rfc3339()),
        }
    }
}

/// `GET /v1/alerts`: a page of alerts, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlertsResponse {
    /// The alerts.
    pub alerts: Vec<AlertView>,
    /// When the page is full: pass it as `before_id` for the next page.
    pub next_before_id: Option<i64>,
}
