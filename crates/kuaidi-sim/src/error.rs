//! The simulator's one error type: bad geography input, bad configuration, and failures while writing output.

/// Why the simulator could not start or could not finish writing.
///
/// Geography and configuration errors are the caller's to fix (a wrong file, a wrong option);
/// `Io` and `Json` are failures of the output the caller handed in.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The geography CSV could not be read as CSV at all.
    #[error("while reading the geography csv: {0}")]
    GeographyCsv(#[from] csv::Error),
    /// The geography CSV lacks a column the simulator needs.
    #[error("the geography csv has no `{column}` column (expected the header of yrd_prefecture_cities.csv)")]
    MissingColumn {
        /// The missing column's name.
        column: &'static str,
    },
    /// A row of the geography CSV has a bad value.
    #[error("the geography csv has a bad `{column}` on line {line}: `{value}` {reason}")]
    BadGeographyValue {
        /// 1-based line number in the file, counting the header.
        line: u64,
        /// The column the value is in.
        column: &'static str,
        /// The offending value.
        value: String,
        /// Why it is wrong, as a lowercase phrase.
        reason: String,
    },
    /// The geography CSV has a header but no cities.
    #[error("the geography csv lists no cities")]
    NoCities,
    /// A configuration value is out of range.
    #[error("the simulation option `{field}` is invalid: {reason}")]
    InvalidConfig {
        /// The option's field name in `SimConfig`.
        field: &'static str,
        /// Why it is wrong, as a lowercase phrase.
        reason: String,
    },
    /// The simulator generated an identifier the model rejects: a bug in the simulator, not in its input.
    #[error("the simulator generated an invalid {what} `{value}` (a bug in kuaidi-sim)")]
    Generated {
        /// What kind of identifier.
        what: &'static str,
        /// The identifier.
        value: String,
    },
    /// Writing the output failed.
    #[error("while writing simulator output: {0}")]
    Io(#[from] std::io::Error),
    /// Serializing a record failed.
    #[error("while serializing a simulator record: {0}")]
    Json(#[from] serde_json::Error),
}
