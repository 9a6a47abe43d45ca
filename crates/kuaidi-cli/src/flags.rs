//! Parsing flag values into model types, with errors that name the flag and the value.
//!
//! Values are taken as strings and parsed here rather than by clap, so a bad value is an input error (exit 1) whose
//! message reads like every other: `` `--carrier` `YTO!` must be ... ``.

use chrono::{DateTime, FixedOffset, NaiveDate, SecondsFormat, Utc};
use kuaidi_model::{divisions, AdminCode, CarrierCode};

use crate::CliError;

/// A carrier code.
pub fn carrier(flag: &str, text: &str) -> Result<CarrierCode, CliError> {
    CarrierCode::parse(text).map_err(|err| CliError::Input(format!("`--{flag}` {err}")))
}

/// A division code that exists in the national table.
pub fn area(flag: &str, text: &str) -> Result<AdminCode, CliError> {
    let code = AdminCode::parse(text).map_err(|err| CliError::Input(format!("`--{flag}` {err}")))?;
    if !divisions().contains(code) {
        return Err(CliError::Input(format!("`--{flag}` `{text}` is not a known division code")));
    }
    Ok(code)
}

/// A calendar day, `YYYY-MM-DD` (days are China Standard Time days).
pub fn day(flag: &str, text: &str) -> Result<NaiveDate, CliError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| CliError::Input(format!("`--{flag}` `{text}` must be a day as YYYY-MM-DD, such as 2026-11-11")))
}

/// An instant, RFC 3339 with an offset.
pub fn instant(flag: &str, text: &str) -> Result<DateTime<Utc>, CliError> {
    kuaidi_formats::parse_time(text)
        .map(|time| time.with_timezone(&Utc))
        .map_err(|err| CliError::Input(format!("`--{flag}` {err}")))
}

/// Checks that a range's start is not after its end.
pub fn range<T: PartialOrd + std::fmt::Display>(from: Option<T>, to: Option<T>) -> Result<(), CliError> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => {
            Err(CliError::Input(format!("`--from` `{from}` is after `--to` `{to}`; give a range that is not empty")))
        }
        _ => Ok(()),
    }
}

/// An instant as people in the delta read it: RFC 3339 in China Standard Time, to the second.
pub fn china_time(time: DateTime<Utc>) -> String {
    match FixedOffset::east_opt(8 * 3600) {
        Some(china) => time.with_timezone(&china).to_rfc3339_opts(SecondsFormat::Secs, false),
        None => time.to_rfc3339_opts(SecondsFormat::Secs, true),
    }
}

/// A division code with its name, for tables: `320500 苏州市`.
pub fn area_label(code: Option<AdminCode>) -> String {
    match code {
        None => "(unknown)".to_owned(),
        Some(code) => {
            let name = divisions().full_name(code);
            if name.is_empty() {
                code.to_string()
            } else {
                format!("{code} {name}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(result: Result<impl std::fmt::Debug, CliError>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_flag_and_the_value() {
        assert!(message(day("from", "2026-13-01")).contains("`--from` `2026-13-01` must be a day"));
        assert!(message(day("to", "yesterday")).contains("`--to` `yesterday`"));
        assert!(message(area("region", "32050")).contains("`--region` `32050` must be exactly 6 digits"));
        assert!(message(area("region", "329900")).contains("`--region` `329900` is not a known division code"));
        assert!(message(instant("now", "2026-11-11 09:00")).contains("`--now` `2026-11-11 09:00` must be an RFC 3339"));
        assert!(message(carrier("carrier", "")).contains("`--carrier`"));
        assert!(message(range(Some(3), Some(2))).contains("`--from` `3` is after `--to` `2`"));
    }

    #[test]
    fn good_values_parse() {
        assert_eq!(day("from", "2026-11-11").unwrap(), NaiveDate::from_ymd_opt(2026, 11, 11).unwrap());
        assert_eq!(area("region", "320500").unwrap().to_string(), "320500");
        assert_eq!(instant("now", "2026-11-11T09:00:00+08:00").unwrap().to_rfc3339(), "2026-11-11T01:00:00+00:00");
        assert!(range(Some(2), Some(2)).is_ok());
        assert!(area_label(Some(area("region", "320500").unwrap())).starts_with("320500 江苏省苏州市"));
        assert_eq!(area_label(None), "(unknown)");
        let time = DateTime::parse_from_rfc3339("2026-11-10T16:30:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(china_time(time), "2026-11-11T00:30:00+08:00");
    }
}
