//! `kuaidi alerts`: list the alerts the store raised, run the scan for parcels that went stuck or lost with time
//! alone, and acknowledge or resolve an alert, as the local administrator (key id `cli`, written to the audit log).

use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use kuaidi_rules::alert::AlertKind;
use kuaidi_store::{Alert, AlertChange, AlertQuery, AlertStatus, AuditEntry, ErrorKind, Store, SweepReport};
use serde::Serialize;

use crate::flags::{self, china_time};
use crate::{output, CliError, Config};

/// The key id the CLI acts under, in alerts and in the audit log.
pub const CLI_KEY_ID: &str = "cli";

/// Alert commands.
#[derive(Debug, Subcommand)]
pub enum AlertsCommand {
    /// List alerts, newest first.
    List(ListArgs),
    /// Re-derive, as of now, every open parcel that can have gone stuck or lost with time alone, raising alerts.
    Scan {
        /// The clock of the scan, RFC 3339 [default: the system clock].
        #[arg(long)]
        now: Option<String>,
    },
    /// Acknowledge an alert: someone is on it.
    Ack {
        /// The alert's id, as `alerts list` shows it.
        id: String,
        /// What is being done.
        #[arg(long)]
        note: Option<String>,
    },
    /// Resolve an alert, saying how it was dealt with.
    Resolve {
        /// The alert's id, as `alerts list` shows it.
        id: String,
        /// How it was dealt with.
        #[arg(long)]
        note: String,
    },
}

/// Arguments of `alerts list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this kind: compliance, prohibited_item, stuck, loss, impossible_chain.
    #[arg(long)]
    kind: Option<String>,
    /// Only this carrier's.
    #[arg(long)]
    carrier: Option<String>,
    /// Only parcels from or to these divisions, comma-separated.
    #[arg(long, value_delimiter = ',')]
    area: Vec<String>,
    /// Only this status: open, acknowledged, resolved.
    #[arg(long)]
    status: Option<String>,
    /// Raised at or after this time (RFC 3339).
    #[arg(long)]
    from: Option<String>,
    /// Raised before this time (RFC 3339).
    #[arg(long)]
    to: Option<String>,
    /// Only alerts with an id below this (the next page after the last id shown).
    #[arg(long)]
    before_id: Option<i64>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    limit: usize,
}

/// An alert as the CLI shows it. Alerts hold no personal data: codes, event ids and the rule's particulars only.
#[derive(Debug, Serialize)]
struct AlertView {
    id: i64,
    kind: String,
    reason: String,
    carrier: String,
    waybill_no: String,
    events: Vec<String>,
    detail: serde_json::Value,
    origin_city: Option<String>,
    destination_city: Option<String>,
    raised_at: String,
    status: &'static str,
    note: Option<String>,
    handled_by: Option<String>,
    handled_at: Option<String>,
}

impl From<Alert> for AlertView {
    fn from(alert: Alert) -> AlertView {
        AlertView {
            id: alert.id,
            kind: alert.kind,
            reason: alert.reason,
            carrier: alert.carrier.to_string(),
            waybill_no: alert.waybill_no.to_string(),
            events: alert.events,
            detail: alert.detail,
            origin_city: alert.origin_city.map(|code| code.to_string()),
            destination_city: alert.destination_city.map(|code| code.to_string()),
            raised_at: china_time(alert.raised_at),
            status: alert.status.as_str(),
            note: alert.note,
            handled_by: alert.handled_by,
            handled_at: alert.handled_at.map(china_time),
        }
    }
}

const HEADERS: [&str; 9] = ["ID", "RAISED", "KIND", "REASON", "CARRIER", "WAYBILL", "FROM → TO", "STATUS", "NOTE"];

fn rows(alerts: &[AlertView]) -> Vec<Vec<String>> {
    alerts
        .iter()
        .map(|alert| {
            vec![
                alert.id.to_string(),
                alert.raised_at.clone(),
                alert.kind.clone(),
                alert.reason.clone(),
                alert.carrier.clone(),
                alert.waybill_no.clone(),
                format!(
                    "{} → {}",
                    alert.origin_city.as_deref().unwrap_or("?"),
                    alert.destination_city.as_deref().unwrap_or("?")
                ),
                alert.status.to_owned(),
                alert.note.clone().unwrap_or_default(),
            ]
        })
        .collect()
}

/// Checks a kind name against the rules' kinds.
fn parse_kind(text: &str) -> Result<String, CliError> {
    AlertKind::ALL.iter().find(|kind| kind.as_str() == text).map(|kind| kind.as_str().to_owned()).ok_or_else(|| {
        let names: Vec<&str> = AlertKind::ALL.iter().map(|kind| kind.as_str()).collect();
        CliError::Input(format!("`--kind` `{text}` must be one of {}", names.join(", ")))
    })
}

fn parse_status(text: &str) -> Result<AlertStatus, CliError> {
    AlertStatus::parse(text)
        .ok_or_else(|| CliError::Input(format!("`--status` `{text}` must be one of open, acknowledged, resolved")))
}

fn parse_id(text: &str) -> Result<i64, CliError> {
    text.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| CliError::Input(format!("the alert id `{text}` must be a positive whole number")))
}

impl ListArgs {
    fn query(&self) -> Result<AlertQuery, CliError> {
        let from = self.from.as_deref().map(|text| flags::instant("from", text)).transpose()?;
        let to = self.to.as_deref().map(|text| flags::instant("to", text)).transpose()?;
        flags::range(from, to)?;
        if self.limit == 0 {
            return Err(CliError::Input("`--limit` `0` must be at least 1".into()));
        }
        Ok(AlertQuery {
            kind: self.kind.as_deref().map(parse_kind).transpose()?,
            carrier: self.carrier.as_deref().map(|text| flags::carrier("carrier", text)).transpose()?,
            areas: self.area.iter().map(|text| flags::area("area", text.trim())).collect::<Result<_, _>>()?,
            status: self.status.as_deref().map(parse_status).transpose()?,
            from,
            to,
            before_id: self.before_id,
            limit: self.limit,
        })
    }
}

/// Counts every alert by kind, paging through them newest first; every known kind is present, zero or not, and a
/// kind this binary does not know (a newer store) is counted under its own name after them.
pub fn count_by_kind(store: &dyn Store) -> Result<(Vec<(String, u64)>, u64), CliError> {
    let mut counts: Vec<(String, u64)> = AlertKind::ALL.iter().map(|kind| (kind.as_str().to_owned(), 0)).collect();
    let mut n_cleared = 0;
    let mut query = AlertQuery { limit: 10_000, ..AlertQuery::default() };
    loop {
        let page = store.alerts(&query)?;
        for alert in &page {
            if alert.status == AlertStatus::Cleared {
                n_cleared += 1;
                continue;
            }
            match counts.iter_mut().find(|(kind, _)| *kind == alert.kind) {
                Some((_, n)) => *n += 1,
                None => counts.push((alert.kind.clone(), 1)),
            }
        }
        match page.last() {
            Some(last) if page.len() == query.limit => query.before_id = Some(last.id),
            _ => return Ok((counts, n_cleared)),
        }
    }
}

#[derive(Serialize)]
struct ScanView {
    now: String,
    examined: u64,
    changed: u64,
    new_alerts: u64,
    seconds: f64,
}

/// Runs the sweep with a spinner on a terminal.
pub fn scan(store: &dyn Store, now: DateTime<Utc>) -> Result<(SweepReport, f64), CliError> {
    let spinner = indicatif::ProgressBar::new_spinner();
    spinner.set_message(format!("scanning open parcels as of {}", china_time(now)));
    spinner.enable_steady_tick(Duration::from_millis(120));
    let clock = std::time::Instant::now();
    let report = store.sweep(now);
    spinner.finish_and_clear();
    Ok((report?, clock.elapsed().as_secs_f64()))
}

fn change(store: &dyn Store, id: &str, status: AlertStatus, note: Option<String>) -> Result<AlertView, CliError> {
    let id = parse_id(id)?;
    let note = note.map(|note| note.trim().to_owned());
    if note.as_deref() == Some("") {
        return Err(CliError::Input(
            "`--note` must not be empty; say what is being done or how it was dealt with".into(),
        ));
    }
    let not_found =
        || CliError::Input(format!("no alert has the id `{id}`\nHint: `kuaidi alerts list` shows the ids."));
    let current =
        store.alerts(&AlertQuery { before_id: Some(id.saturating_add(1)), limit: 1, ..AlertQuery::default() })?;
    let current = current.into_iter().next().filter(|alert| alert.id == id).ok_or_else(not_found)?;
    if status == AlertStatus::Acknowledged && current.status == AlertStatus::Resolved {
        return Err(CliError::Input(format!(
            "alert `{id}` is already resolved; acknowledging it would reopen it and lose the resolution's note"
        )));
    }
    let at = Utc::now();
    let change = AlertChange { status, note: note.clone(), key_id: CLI_KEY_ID.to_owned(), at };
    let alert = store.update_alert(id, &change).map_err(|err| match err.kind() {
        ErrorKind::NotFound => not_found(),
        _ => CliError::Store(err),
    })?;
    let action = match status {
        AlertStatus::Acknowledged => "alert_acknowledged",
        AlertStatus::Resolved => "alert_resolved",
        AlertStatus::Open => "alert_reopened",
        AlertStatus::Cleared => "alert_cleared",
    };
    store.audit(&AuditEntry {
        at,
        key_id: CLI_KEY_ID.to_owned(),
        action: action.to_owned(),
        subject: format!("alert/{id}"),
        detail: note.unwrap_or_default(),
    })?;
    Ok(AlertView::from(alert))
}

pub fn run(command: AlertsCommand, config: &Config) -> Result<(), CliError> {
    match command {
        AlertsCommand::List(args) => {
            let query = args.query()?;
            let store = config.open_store()?;
            let alerts: Vec<AlertView> = store.alerts(&query)?.into_iter().map(AlertView::from).collect();
            output::print(config.format, &alerts, &HEADERS, rows(&alerts));
            if alerts.len() == query.limit {
                if let Some(last) = alerts.last() {
                    eprintln!("note: {} alerts shown; `--before-id {}` shows the next page", alerts.len(), last.id);
                }
            }
            Ok(())
        }
        AlertsCommand::Scan { now } => {
            let now = match now {
                Some(text) => flags::instant("now", &text)?,
                None => Utc::now(),
            };
            let store = config.open_store()?;
            let (report, seconds) = scan(&*store, now)?;
            let view = ScanView {
                now: china_time(now),
                examined: report.examined,
                changed: report.changed,
                new_alerts: report.new_alerts,
                seconds,
            };
            let rows = vec![vec![
                view.now.clone(),
                view.examined.to_string(),
                view.changed.to_string(),
                view.new_alerts.to_string(),
                format!("{seconds:.2}"),
            ]];
            output::print(config.format, &view, &["NOW", "EXAMINED", "CHANGED", "NEW ALERTS", "SECONDS"], rows);
            Ok(())
        }
        AlertsCommand::Ack { id, note } => {
            let store = config.open_store()?;
            let alert = change(&*store, &id, AlertStatus::Acknowledged, note)?;
            output::print(config.format, &alert, &HEADERS, rows(std::slice::from_ref(&alert)));
            Ok(())
        }
        AlertsCommand::Resolve { id, note } => {
            let store = config.open_store()?;
            let alert = change(&*store, &id, AlertStatus::Resolved, Some(note))?;
            output::print(config.format, &alert, &HEADERS, rows(std::slice::from_ref(&alert)));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_with_the_flag_named() {
        assert_eq!(parse_kind("prohibited_item").unwrap(), "prohibited_item");
        let err = parse_kind("stuk").unwrap_err().to_string();
        assert!(err.contains("`--kind` `stuk` must be one of compliance, prohibited_item, stuck, loss"), "{err}");
        assert_eq!(parse_status("acknowledged").unwrap(), AlertStatus::Acknowledged);
        assert!(parse_status("closed").unwrap_err().to_string().contains("`--status` `closed`"));
        assert_eq!(parse_id("42").unwrap(), 42);
        for bad in ["0", "-1", "x", ""] {
            assert!(parse_id(bad).unwrap_err().to_string().contains(&format!("`{bad}`")), "{bad}");
        }
    }
}
