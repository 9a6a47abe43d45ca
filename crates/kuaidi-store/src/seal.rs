//! Sealing personal data at rest with ChaCha20-Poly1305 (an AEAD: tampering is detected, not just hidden).
//!
//! A sealed value is `nonce (12 bytes) || ciphertext+tag`. Each value gets a fresh random nonce.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

use crate::{ErrorKind, StoreError};

/// The 256-bit key that seals personal data. Keep it outside the database (the CLI keeps it in `pii.key`).
#[derive(Clone)]
pub struct PiiKey(Key);

impl std::fmt::Debug for PiiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PiiKey(..)")
    }
}

impl PiiKey {
    /// A key from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> PiiKey {
        PiiKey(bytes.into())
    }

    /// A fresh random key.
    pub fn generate() -> PiiKey {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        PiiKey::from_bytes(bytes)
    }

    /// The key's bytes, to save it.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.into()
    }

    pub(crate) fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = ChaCha20Poly1305::new(&self.0)
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .map_err(|_| StoreError::new(ErrorKind::Other, "sealing personal data failed"))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    pub(crate) fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
        if sealed.len() < 12 {
            return Err(StoreError::new(ErrorKind::Other, "a sealed personal-data value is truncated"));
        }
        let (nonce, ciphertext) = sealed.split_at(12);
        ChaCha20Poly1305::new(&self.0).decrypt(Nonce::from_slice(nonce), ciphertext).map_err(|_| {
            StoreError::new(
                ErrorKind::Other,
                "personal data cannot be opened: the PII key does not match the one the data was sealed with",
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_round_trips_and_detects_the_wrong_key() {
        let key = PiiKey::generate();
        let sealed = key.seal("张三 13800131234".as_bytes()).unwrap();
        assert!(!sealed.windows(6).any(|w| w == "张三".as_bytes()));
        assert_eq!(key.open(&sealed).unwrap(), "张三 13800131234".as_bytes());
        assert_ne!(key.seal(b"x").unwrap(), key.seal(b"x").unwrap());
        assert!(PiiKey::generate().open(&sealed).is_err());
        assert!(key.open(&sealed[..5]).is_err());
        let restored = PiiKey::from_bytes(key.to_bytes());
        assert!(restored.open(&sealed).is_ok());
    }
}
