//! Parsing of the query parameters the reporting routes share (carriers, division codes, days, instants), each
//! failure an `invalid_query` or `unknown_division` error naming the parameter and its value.

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Offset, TimeZone, Utc};
use kuaidi_model::{divisions, AdminCode, CarrierCode};

use crate::error::{ApiError, Code};

/// An `invalid_query` error about one parameter.
pub(crate) fn invalid(name: &str, value: &str, reason: &str) -> ApiError {
    ApiError::new(Code::InvalidQuery, format!("The query parameter `{name}` is `{value}`, but {reason}."))
}

/// A carrier code.
pub(crate) fn carrier(name: &str, text: &str) -> Result<CarrierCode, ApiError> {
    CarrierCode::parse(text.trim())
        .map_err(|err| ApiError::new(Code::InvalidQuery, format!("The query parameter `{name}` is not valid: {err}.")))
}

/// A GB/T 2260 division code at any level, which must be in the division table.
pub(crate) fn division(name: &str, text: &str) -> Result<AdminCode, ApiError> {
    let code = AdminCode::parse(text.trim()).map_err(|err| {
        ApiError::new(Code::InvalidQuery, format!("The query parameter `{name}` is not valid: {err}."))
    })?;
    if !divisions().contains(code) {
        return Err(ApiError::new(
            Code::UnknownDivision,
            format!("The query parameter `{name}` is `{code}`, which is not a GB/T 2260 division."),
        ));
    }
    Ok(code)
}

/// A day, `YYYY-MM-DD`, read in +08:00.
pub(crate) fn day(name: &str, text: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| invalid(name, text, "a day must be written `YYYY-MM-DD`, such as `2026-11-11`"))
}

/// The first and last day of a range, checked to be in order.
pub(crate) fn days(from: Option<&str>, to: Option<&str>) -> Result<(Option<NaiveDate>, Option<NaiveDate>), ApiError> {
    let from_day = from.map(|text| day("from", text)).transpose()?;
    let to_day = to.map(|text| day("to", text)).transpose()?;
    if let (Some(first), Some(last)) = (from_day, to_day) {
        if last < first {
            return Err(ApiError::new(
                Code::InvalidQuery,
                format!("The range ends (`to` = `{last}`) before it starts (`from` = `{first}`)."),
            ));
        }
    }
    Ok((from_day, to_day))
}

/// China Standard Time, in which days are read.
fn china() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| Utc.fix())
}

/// An instant: RFC 3339, or a day `YYYY-MM-DD` in +08:00 meaning its start, or with `end_of_day` the start of the
/// next day (so that `to=2026-11-11` takes the whole day).
pub(crate) fn instant(name: &str, text: &str, end_of_day: bool) -> Result<DateTime<Utc>, ApiError> {
    let text = text.trim();
    if text.len() == 10 {
        let date = day(name, text)?;
        let date = if end_of_day { date + Duration::days(1) } else { date };
        let start = date.and_hms_opt(0, 0, 0).and_then(|t| china().from_local_datetime(&t).single());
        return start
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| invalid(name, text, "it is not a day the hub can place in time"));
    }
    kuaidi_formats::parse_time(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|err| ApiError::new(Code::InvalidQuery, format!("The query parameter `{name}` {err}.")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_and_instants_name_the_parameter_on_error() {
        assert_eq!(day("from", "2026-11-11").unwrap(), NaiveDate::from_ymd_opt(2026, 11, 11).unwrap());
        let err = day("from", "11/11/2026").unwrap_err();
        assert_eq!(err.code, Code::InvalidQuery);
        assert!(err.message.contains("`from`") && err.message.contains("`11/11/2026`"), "{}", err.message);
        assert!(days(Some("2026-11-12"), Some("2026-11-11")).unwrap_err().message.contains("before it starts"));
        let start = instant("from", "2026-11-11", false).unwrap();
        assert_eq!(start.to_rfc3339(), "2026-11-10T16:00:00+00:00");
        let end = instant("to", "2026-11-11", true).unwrap();
        assert_eq!(end.to_rfc3339(), "2026-11-11T16:00:00+00:00");
        assert!(instant("to", "tomorrow", true).unwrap_err().message.contains("`to`"));
    }

    #[test]
    fn divisions_must_be_well_formed_and_known() {
        assert_eq!(division("region", "320000").unwrap().to_string(), "320000");
        assert_eq!(division("region", "32").unwrap_err().code, Code::InvalidQuery);
        let unknown = division("region", "320599").unwrap_err();
        assert_eq!(unknown.code, Code::UnknownDivision);
        assert!(unknown.message.contains("`region`") && unknown.message.contains("`320599`"));
        assert!(carrier("carrier", "no such!").unwrap_err().message.contains("`carrier`"));
    }
}
