//! The crate's one error type.

/// What can go wrong in kuaidi-rules: only configuration, since derivations over records never fail (records are
/// validated on ingest, and whatever a summary cannot judge it leaves as `None`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RulesError {
    /// A rules file is not valid TOML, or a key has the wrong type or is unknown.
    #[error("the rules file is not valid: {message}")]
    Syntax {
        /// The TOML parser's message, which names the key and the line.
        message: String,
    },
    /// A value in a rules file is out of range or malformed.
    #[error("`{field}` is `{value}`, but {reason}")]
    InvalidConfig {
        /// The key, such as `delta_key_cities[3]`.
        field: String,
        /// The offending value, as given.
        value: String,
        /// Why it is wrong, as a lowercase phrase.
        reason: String,
    },
}
