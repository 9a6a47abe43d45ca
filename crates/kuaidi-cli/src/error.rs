//! The CLI's error: what went wrong, naming the flag, variable or file that fixes it.

use std::path::PathBuf;

/// An error that ends a command with exit code 1.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The configuration is wrong.
    #[error("{0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("cannot {action} `{}`", path.display())]
    Io {
        /// What was being done: "read", "write", "create".
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A Parquet file could not be written.
    #[error("cannot write `{}`", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: kuaidi_formats::parquet::ParquetError,
    },
    /// The store failed.
    #[error("the store failed")]
    Store(#[from] kuaidi_store::StoreError),
    /// The PostgreSQL database cannot be used: unreachable, at another schema version, or another key.
    #[error("cannot use the database `{database}`.\nHint: check `--database` (`KUAIDI_DATABASE`); run `kuaidi migrate` for a new or older database")]
    Database {
        /// The URL, password hidden.
        database: String,
        /// Why.
        source: kuaidi_store::StoreError,
    },
    /// The API layer failed.
    #[error("{0}")]
    Api(String),
    /// A command was given input it cannot use.
    #[error("{0}")]
    Input(String),
    /// The server failed.
    #[error("the server failed")]
    Serve(#[source] std::io::Error),
}

impl CliError {
    /// An IO error on a path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> CliError {
        CliError::Io { action, path: path.into(), source }
    }
}

impl From<kuaidi_api::ApiError> for CliError {
    fn from(err: kuaidi_api::ApiError) -> CliError {
        CliError::Api(err.to_string())
    }
}
