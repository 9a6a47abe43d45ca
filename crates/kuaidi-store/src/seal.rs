//! Sealing personal data at rest with ChaCha20-Poly1305 (an AEAD: tampering is detected, not just hidden).
//!
//! A sealed value is `nonce (12 bytes) || ciphertext+tag`. Each value gets a fresh random nonce.

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use kuaidi_model::{Phone, Waybill};
use rand::RngCore;
use serde::{Deserialize, Serialize};

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

    /// Seals bytes: a fresh random nonce, then the ciphertext and its tag.
    pub fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = ChaCha20Poly1305::new(&self.0)
            .encrypt(Nonce::from_slice(&nonce), plaintext)
            .map_err(|_| StoreError::new(ErrorKind::Other, "sealing personal data failed"))?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    /// Opens what [`PiiKey::seal`] sealed; an error when the key is wrong or the value was altered.
    pub fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, StoreError> {
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

/// The personal data of a waybill: what every backend writes only inside one sealed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalData {
    /// The sender's name.
    pub sender_name: String,
    /// The sender's phone.
    pub sender_phone: Phone,
    /// The sender's street address (the division code stays clear, for jurisdiction).
    pub sender_address: String,
    /// The receiver's name.
    pub receiver_name: String,
    /// The receiver's phone.
    pub receiver_phone: Phone,
    /// The receiver's street address.
    pub receiver_address: String,
    /// The real-name ID number, when the waybill has one.
    pub id_number: Option<String>,
}

/// The sealed form: JSON inside the AEAD.
#[derive(Serialize, Deserialize)]
struct Pii {
    sender_name: String,
    sender_phone: String,
    sender_address: String,
    receiver_name: String,
    receiver_phone: String,
    receiver_address: String,
    id_number: Option<String>,
}

impl PiiKey {
    /// Seals the personal data of a waybill into one blob.
    pub fn seal_personal_data(&self, waybill: &Waybill) -> Result<Vec<u8>, StoreError> {
        let pii = Pii {
            sender_name: waybill.sender.name.clone(),
            sender_phone: waybill.sender.phone.as_str().to_owned(),
            sender_address: waybill.sender.address.detail.clone(),
            receiver_name: waybill.receiver.name.clone(),
            receiver_phone: waybill.receiver.phone.as_str().to_owned(),
            receiver_address: waybill.receiver.address.detail.clone(),
            id_number: waybill.real_name.as_ref().map(|r| r.id_number.clone()),
        };
        let plaintext = serde_json::to_vec(&pii)
            .map_err(|err| StoreError::with_source(ErrorKind::Other, "encoding personal data", err))?;
        self.seal(&plaintext)
    }

    /// Opens a blob made by [`PiiKey::seal_personal_data`].
    pub fn open_personal_data(&self, sealed: &[u8]) -> Result<PersonalData, StoreError> {
        let pii: Pii = serde_json::from_slice(&self.open(sealed)?)
            .map_err(|err| StoreError::with_source(ErrorKind::Other, "decoding sealed personal data", err))?;
        let phone = |text: &str| {
            Phone::parse(text).map_err(|_| StoreError::new(ErrorKind::Other, "a sealed phone number is not valid"))
        };
        Ok(PersonalData {
            sender_phone: phone(&pii.sender_phone)?,
            receiver_phone: phone(&pii.receiver_phone)?,
            sender_name: pii.sender_name,
            sender_address: pii.sender_address,
            receiver_name: pii.receiver_name,
            receiver_address: pii.receiver_address,
            id_number: pii.id_number,
        })
    }
}

/// A complaint's sealed part: the consumer's own words, which may name people, phones or addresses.
#[derive(Serialize, Deserialize)]
struct ComplaintPii {
    description: String,
}

impl PiiKey {
    /// Seals a complaint's description.
    pub fn seal_complaint_description(&self, description: &str) -> Result<Vec<u8>, StoreError> {
        let plaintext = serde_json::to_vec(&ComplaintPii { description: description.to_owned() })
            .map_err(|err| StoreError::with_source(ErrorKind::Other, "encoding personal data", err))?;
        self.seal(&plaintext)
    }

    /// Opens a blob made by [`PiiKey::seal_complaint_description`].
    pub fn open_complaint_description(&self, sealed: &[u8]) -> Result<String, StoreError> {
        let pii: ComplaintPii = serde_json::from_slice(&self.open(sealed)?)
            .map_err(|err| StoreError::with_source(ErrorKind::Other, "decoding sealed personal data", err))?;
        Ok(pii.description)
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
