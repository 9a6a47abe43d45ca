//! `kuaidi trace`: a parcel's chain of custody, or every parcel a vehicle or operator handled, read from the
//! data directory's store as the local administrator.

use clap::Args;
use kuaidi_api::auth::Caller;
use kuaidi_api::trace::{reverse_view, trace_view};
use kuaidi_api::v1::{Disclosure, EventView};
use kuaidi_model::{CarrierCode, Role, WaybillNo};
use kuaidi_store::Handler;

use crate::{output, CliError, Config};

/// Arguments of `trace`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["waybill_no", "vehicle", "operator"]))]
pub struct TraceArgs {
    /// The waybill number to trace.
    waybill_no: Option<String>,
    /// The carrier, when several use the number.
    #[arg(long)]
    carrier: Option<String>,
    /// Show personal data in full (written to the audit log).
    #[arg(long)]
    reveal: bool,
    /// Reverse trace: every parcel this vehicle or flight carried.
    #[arg(long, requires_all = ["from", "to"])]
    vehicle: Option<String>,
    /// Reverse trace: every parcel this courier or employee scanned.
    #[arg(long, requires_all = ["from", "to"])]
    operator: Option<String>,
    /// Start of a reverse trace (RFC 3339, inclusive).
    #[arg(long)]
    from: Option<String>,
    /// End of a reverse trace (RFC 3339, exclusive).
    #[arg(long)]
    to: Option<String>,
    /// Most events of a reverse trace.
    #[arg(long, default_value_t = 10_000)]
    limit: usize,
}

fn event_rows(events: &[EventView]) -> Vec<Vec<String>> {
    events
        .iter()
        .map(|e| {
            vec![
                e.event.time.clone(),
                e.event.kind.clone(),
                e.event.facility.clone(),
                e.facility_name.clone().unwrap_or_default(),
                e.event.operator.clone().unwrap_or_default(),
                e.event.vehicle.clone().unwrap_or_default(),
            ]
        })
        .collect()
}

const EVENT_HEADERS: [&str; 6] = ["TIME", "KIND", "FACILITY", "NAME", "OPERATOR", "VEHICLE"];

fn instant(flag: &str, text: Option<&str>) -> Result<chrono::DateTime<chrono::Utc>, CliError> {
    let text = text.unwrap_or_default();
    kuaidi_formats::parse_time(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|err| CliError::Input(format!("`--{flag}` {err}")))
}

pub fn run(args: TraceArgs, config: &Config) -> Result<(), CliError> {
    let state = config.app_state()?;
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
    let caller = Caller { key_id: format!("cli:{user}"), role: Role::Admin };
    if let Some(no) = &args.waybill_no {
        let waybill_no = WaybillNo::parse(no).map_err(|err| CliError::Input(format!("the waybill number {err}")))?;
        let carrier = args
            .carrier
            .as_deref()
            .map(|c| CarrierCode::parse(c).map_err(|err| CliError::Input(format!("`--carrier` {err}"))))
            .transpose()?;
        let disclosure = if args.reveal { Disclosure::Revealed } else { Disclosure::Masked };
        let view = trace_view(&state, &caller, &waybill_no, carrier, disclosure, "kuaidi trace --reveal")?;
        if config.format == crate::config::Format::Table {
            println!("{} {}  status: {}", view.carrier, view.waybill_no, view.status);
            if let Some(w) = &view.waybill {
                println!("from {} {} {}", w.sender.name, w.sender.phone, w.sender.address);
                println!("to   {} {} {}", w.receiver.name, w.receiver.phone, w.receiver.address);
            }
        }
        output::print(config.format, &view, &EVENT_HEADERS, event_rows(&view.events));
        return Ok(());
    }
    let handler = match (&args.vehicle, &args.operator) {
        (Some(vehicle), _) => Handler::Vehicle(vehicle.clone()),
        (None, Some(operator)) => Handler::Operator(operator.clone()),
        (None, None) => return Err(CliError::Input("give a waybill number, `--vehicle` or `--operator`".into())),
    };
    let from = instant("from", args.from.as_deref())?;
    let to = instant("to", args.to.as_deref())?;
    let view = reverse_view(&state, &caller, &handler, from, to, args.limit)?;
    let rows = view
        .parcels
        .iter()
        .flat_map(|p| {
            event_rows(&p.events)
                .into_iter()
                .map(move |row| [vec![p.carrier.clone(), p.waybill_no.clone()], row].concat())
        })
        .collect();
    let headers = [&["CARRIER", "WAYBILL"][..], &EVENT_HEADERS[..]].concat();
    output::print(config.format, &view, &headers, rows);
    if view.truncated {
        eprintln!("warning: the answer was cut at {} events; narrow the range or raise --limit", args.limit);
    }
    Ok(())
}
