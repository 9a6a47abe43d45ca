//! API keys: making them, hashing them, and the `Caller` extractor that authenticates a request.
//!
//! A key is `kd_` followed by 43 URL-safe base64 characters (256 random bits). Only its SHA-256 is stored: the secret
//! has full entropy, so a fast hash is enough and a leaked database gives no usable key.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use chrono::{DateTime, Utc};
use kuaidi_model::Role;
use kuaidi_store::NewApiKey;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::error::{ApiError, Code};
use crate::AppState;

/// The SHA-256 of a key's secret.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Makes a new key: the secret to hand out once, and the row to store.
pub fn generate_key(role: Role, label: &str, now: DateTime<Utc>) -> (String, NewApiKey) {
    let mut secret_bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut secret_bytes);
    let secret = format!("kd_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret_bytes));
    let mut id_bytes = [0u8; 6];
    rand::rng().fill_bytes(&mut id_bytes);
    let id: String = id_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let key = NewApiKey {
        id: format!("key_{id}"),
        hash: hash_secret(&secret),
        role,
        label: label.to_owned(),
        created_at: now,
    };
    (secret, key)
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The key's public id, for the audit log.
    pub key_id: String,
    /// What the key may do.
    pub role: Role,
}

impl Caller {
    /// Fails with `forbidden` unless the caller is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            _ => Err(ApiError::new(
                Code::Forbidden,
                format!("This needs an admin key; key `{}` is a {}.", self.key_id, self.role),
            )),
        }
    }
}

fn bearer(parts: &Parts) -> Option<&str> {
    if let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let text = value.to_str().ok()?;
        return text.strip_prefix("Bearer ").or_else(|| text.strip_prefix("bearer ")).map(str::trim);
    }
    parts.headers.get("x-api-key").and_then(|value| value.to_str().ok()).map(str::trim)
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Caller, ApiError> {
        let Some(secret) = bearer(parts) else {
            return Err(ApiError::new(
                Code::MissingApiKey,
                "This endpoint needs an API key.\nHint: send `Authorization: Bearer <key>`; `kuaidi keys create` makes one.",
            ));
        };
        let hash = hash_secret(secret);
        let store = state.store().clone();
        let key = tokio::task::spawn_blocking(move || store.key_by_hash(&hash)).await??;
        match key {
            Some(key) => Ok(Caller { key_id: key.id, role: key.role }),
            None => Err(ApiError::new(Code::InvalidApiKey, "The API key is unknown or has been revoked.")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_and_hashed() {
        let (secret, key) = generate_key(Role::Admin, "ops", Utc::now());
        let (other, _) = generate_key(Role::Admin, "ops", Utc::now());
        assert_ne!(secret, other);
        assert!(secret.starts_with("kd_") && secret.len() == 46, "{secret}");
        assert_eq!(key.hash, hash_secret(&secret));
        assert!(key.id.starts_with("key_"));
    }
}
