//! Plain types the store trait speaks in, beyond the model's.

use chrono::{DateTime, Utc};
use kuaidi_model::Role;

/// The answer for one record of a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// New, and now stored.
    Accepted,
    /// Already stored with identical content; nothing changed.
    Duplicate,
    /// Reference data (a carrier or facility) that existed with other content, and was updated.
    Updated,
    /// A waybill or event with this key is stored with different content; the stored one is kept.
    Conflict,
}

impl Outcome {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Duplicate => "duplicate",
            Outcome::Updated => "updated",
            Outcome::Conflict => "conflict",
        }
    }
}

/// Who handled parcels: for reverse tracing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handler {
    /// A courier or employee id.
    Operator(String),
    /// A vehicle plate or flight number.
    Vehicle(String),
}

/// A key to be stored.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    /// Public id, shown in listings and the audit log.
    pub id: String,
    /// SHA-256 of the secret.
    pub hash: [u8; 32],
    /// What it may do.
    pub role: Role,
    /// A free-text note on who holds it.
    pub label: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// A stored key.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiKey {
    /// Public id.
    pub id: String,
    /// What it may do.
    pub role: Role,
    /// Who holds it.
    pub label: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One line of the audit log: a view of personal data in full, or another act worth a record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// When.
    pub at: DateTime<Utc>,
    /// The key that acted.
    pub key_id: String,
    /// What it did, such as `reveal_personal_data`.
    pub action: String,
    /// The record concerned, such as `yto/YT1234567890`.
    pub subject: String,
    /// Anything else worth keeping, such as the endpoint.
    pub detail: String,
}

/// Record counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// Registered carriers.
    pub carriers: u64,
    /// Registered facilities.
    pub facilities: u64,
    /// Stored waybills.
    pub waybills: u64,
    /// Stored events.
    pub events: u64,
}
