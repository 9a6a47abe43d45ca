//! The rules file (`rules` option): a TOML file whose `[time_limits]` and `[stuck]` sections replace the standard
//! rules' defaults, key by key, for the derived state the store keeps (`kuaidi_store::Rules`).
//!
//! Each section is handed to the pure parser of kuaidi-rules (`TimeLimits::from_toml`, `StuckLimits::from_toml`), so
//! the keys, ranges and messages are those documented in `docs/indicators.md` and `docs/safety.md`; this module only
//! splits the file into its sections and names the file and the section in every error.

use std::fmt::Write as _;
use std::path::Path;

use kuaidi_rules::stuck::StuckLimits;
use kuaidi_rules::TimeLimits;
use kuaidi_store::Rules;
use serde::Deserialize;

use crate::CliError;

/// The file's shape: only the two sections, each a table of keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    time_limits: Option<toml::Table>,
    stuck: Option<toml::Table>,
}

/// Reads a rules file: the standard rules, with the file's sections replacing their defaults.
pub fn load(path: &Path) -> Result<Rules, CliError> {
    let text = std::fs::read_to_string(path).map_err(|err| CliError::io("read the rules file", path, err))?;
    parse(&text).map_err(|message| {
        CliError::Config(format!(
            "the rules file `{}` is not valid: {message}\nHint: fix it, or set `--rules` (KUAIDI_RULES) to another file.",
            path.display()
        ))
    })
}

/// Parses a rules file's text; the error is a message naming the section and the key.
fn parse(text: &str) -> Result<Rules, String> {
    let file: RulesFile = toml::from_str(text).map_err(|err| err.to_string().trim_end().to_owned())?;
    let mut rules = Rules::standard().map_err(|err| err.to_string())?;
    if let Some(section) = &file.time_limits {
        let text = section_text("time_limits", section)?;
        rules.time_limits = TimeLimits::from_toml(&text).map_err(|err| format!("in `[time_limits]`: {err}"))?;
    }
    if let Some(section) = &file.stuck {
        let text = section_text("stuck", section)?;
        rules.stuck = StuckLimits::from_toml(&text).map_err(|err| format!("in `[stuck]`: {err}"))?;
    }
    Ok(rules)
}

/// Writes a section back as TOML text for the rules' own parser. Sections hold numbers, booleans and lists of codes;
/// any other kind of value is refused here, naming its key.
fn section_text(section: &str, table: &toml::Table) -> Result<String, String> {
    let mut out = String::new();
    for (key, value) in table {
        let mut written = String::new();
        write_value(&mut written, value)
            .ok_or_else(|| format!("in `[{section}]`: `{key}` has a kind of value no rule takes"))?;
        // Keys are quoted, so any key the file could hold is written back as the same key.
        let _ = writeln!(out, "{} = {written}", quote(key));
    }
    Ok(out)
}

fn write_value(out: &mut String, value: &toml::Value) -> Option<()> {
    match value {
        toml::Value::String(text) => out.push_str(&quote(text)),
        toml::Value::Integer(n) => {
            let _ = write!(out, "{n}");
        }
        toml::Value::Float(x) if x.is_finite() => {
            let _ = write!(out, "{x:?}");
        }
        toml::Value::Boolean(b) => {
            let _ = write!(out, "{b}");
        }
        toml::Value::Array(items) => {
            out.push('[');
            for (idx, item) in items.iter().enumerate() {
                if idx > 0 {
                    out.push_str(", ");
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        _ => return None,
    }
    Some(())
}

/// A TOML basic string: JSON's escapes (`\"`, `\\`, `\n`, `\uXXXX`, ...) are all valid TOML escapes.
fn quote(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_err(text: &str, expected: &str) {
        let err = parse(text).err().unwrap_or_else(|| panic!("{text:?} was accepted"));
        assert!(err.contains(expected), "{text:?} gave {err:?}, expected it to contain {expected:?}");
    }

    #[test]
    fn sections_replace_defaults_key_by_key() {
        let rules = parse(
            "[time_limits]\ndelta_key_hours = 10\nnational_key_cities = [\"540100\"]\n\n[stuck]\nin_transit_hours = 36\n",
        )
        .unwrap();
        assert_eq!(rules.time_limits.delta_key_hours, 10);
        assert_eq!(rules.time_limits.delta_hours, TimeLimits::default().delta_hours);
        assert_eq!(rules.stuck.in_transit_hours, 36);
        assert_eq!(rules.stuck.at_origin_hours, StuckLimits::default().at_origin_hours);
        assert_eq!(
            rules.time_limits,
            TimeLimits::from_toml("delta_key_hours = 10\nnational_key_cities = [\"540100\"]").unwrap()
        );
    }

    #[test]
    fn an_empty_file_is_the_standard_rules() {
        let rules = parse("").unwrap();
        assert_eq!(rules.time_limits, TimeLimits::default());
        assert_eq!(rules.stuck, StuckLimits::default());
    }

    #[test]
    fn errors_name_the_section_and_the_key() {
        check_err("[time_limit]\ndelta_hours = 3\n", "unknown field `time_limit`");
        check_err("[time_limits]\ndelta_hourz = 3\n", "in `[time_limits]`");
        check_err("[time_limits]\ndelta_hourz = 3\n", "delta_hourz");
        check_err("[time_limits]\ndelta_hours = 0\n", "`delta_hours` is `0`, but must be from 1 to 720 hours");
        check_err("[stuck]\nin_transit_hours = 0\n", "in `[stuck]`: `in_transit_hours` is `0`");
        check_err("[stuck]\nat_origin_hours = \"24\"\n", "at_origin_hours");
        check_err("[stuck]\nlikely_loss_hours = 24\n", "`likely_loss_hours` is `24`");
        check_err("[stuck]\nat_origin_hours = { hours = 3 }\n", "`at_origin_hours` has a kind of value no rule takes");
        check_err("time_limits = 3\n", "time_limits");
        check_err("[stuck\n", "");
    }

    #[test]
    fn strings_survive_the_round_trip() {
        for text in ["310100", "a\"b", "back\\slash", "新\n行", "\u{1}"] {
            let written = quote(text);
            let table: toml::Table = toml::from_str(&format!("k = {written}")).unwrap();
            assert_eq!(table["k"].as_str(), Some(text), "{written}");
        }
    }
}
