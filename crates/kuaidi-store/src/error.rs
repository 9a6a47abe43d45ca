//! The store's error: a kind that callers match on, and a message that callers log.

/// What went wrong, in the terms callers act on. Backends reduce their driver's errors to these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The thing asked for does not exist.
    NotFound,
    /// The write contradicts what is stored.
    Conflict,
    /// The database cannot be reached or is busy; retrying may help.
    Unavailable,
    /// The database is at a schema version this program cannot use.
    SchemaVersion,
    /// Anything else: a bug, corruption, a full disk.
    Other,
}

/// An error from a store.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct StoreError {
    kind: ErrorKind,
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl StoreError {
    /// A new error of this kind.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> StoreError {
        StoreError { kind, message: message.into(), source: None }
    }

    /// A new error wrapping its cause.
    pub fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> StoreError {
        StoreError { kind, message: message.into(), source: Some(Box::new(source)) }
    }

    /// The kind, for callers to act on.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}
