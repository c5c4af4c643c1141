//! Personal data at rest (个人信息保护): authenticated encryption, keyed hashes
//! for exact-match lookup, and key rotation. Every personal field in the
//! database goes through [`PersonalDataKeys`]; none is stored in plain text.
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key file line {line}: {message}")]
    Parse { line: usize, message: String },
    #[error("the key file has no `hash` key and no encryption key")]
    Incomplete,
    #[error("encrypted value uses key {0}, which is not in the key file")]
    UnknownKey(u8),
    #[error("encrypted value is damaged or was encrypted for another field")]
    Damaged,
}

/// The keys protecting personal fields: numbered encryption keys (the highest
/// number encrypts, every number still decrypts, so keys can be rotated without
/// downtime) and one key for lookup hashes.
#[derive(Clone)]
pub struct PersonalDataKeys {
    encryption: Vec<(u8, XChaCha20Poly1305)>,
    hash_key: [u8; 32],
}

impl std::fmt::Debug for PersonalDataKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("PersonalDataKeys")
            .field("key_ids", &self.key_ids())
            .finish()
    }
}

const NONCE_LEN: usize = 24;

impl PersonalDataKeys {
    /// Reads keys written as `name = "base64"` lines (`hash` and numbered
    /// encryption keys `1`, `2`, …); `;` may separate entries, so the same text
    /// fits in one environment variable.
    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let mut encryption = Vec::new();
        let mut hash_key = None;
        for (i, raw) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim_start().starts_with('#'))
            .flat_map(|(i, l)| l.split(';').map(move |p| (i + 1, p)))
        {
            let entry = raw.trim();
            if entry.is_empty() || entry.starts_with('#') {
                continue;
            }
            let fail = |message: &str| KeyError::Parse {
                line: i,
                message: message.to_string(),
            };
            let (name, value) = entry
                .split_once('=')
                .ok_or_else(|| fail("expected name = \"base64 key\""))?;
            let value = value.trim().trim_matches('"');
            let bytes = B64
                .decode(value)
                .map_err(|_| fail("key is not valid base64"))?;
            let key: [u8; 32] = bytes.try_into().map_err(|_| fail("key must be 32 bytes"))?;
            match name.trim() {
                "hash" => hash_key = Some(key),
                n => {
                    let id: u8 = n
                        .parse()
                        .ok()
                        .filter(|id| *id > 0)
                        .ok_or_else(|| fail("key name must be `hash` or a number 1-255"))?;
                    if encryption.iter().any(|(k, _)| *k == id) {
                        return Err(fail("duplicate key number"));
                    }
                    encryption.push((id, XChaCha20Poly1305::new(&key.into())));
                }
            }
        }
        let hash_key = hash_key.ok_or(KeyError::Incomplete)?;
        if encryption.is_empty() {
            return Err(KeyError::Incomplete);
        }
        encryption.sort_by_key(|(id, _)| *id);
        Ok(PersonalDataKeys {
            encryption,
            hash_key,
        })
    }

    /// A fresh key file: one hash key and encryption key 1.
    pub fn generate_text() -> String {
        format!(
            "# Pingan personal-data keys. Keep secret; losing them loses the data.\nhash = \"{}\"\n1 = \"{}\"\n",
            random_key(),
            random_key()
        )
    }

    /// `text` with one more encryption key, numbered after the highest.
    pub fn rotated_text(text: &str) -> Result<String, KeyError> {
        let keys = PersonalDataKeys::parse(text)?;
        let next = keys.current_id().checked_add(1).ok_or(KeyError::Parse {
            line: 0,
            message: "no key numbers left".into(),
        })?;
        let mut out = text.trim_end().to_string();
        out.push_str(&format!("\n{next} = \"{}\"\n", random_key()));
        Ok(out)
    }

    pub fn key_ids(&self) -> Vec<u8> {
        self.encryption.iter().map(|(id, _)| *id).collect()
    }

    /// The key number new values are encrypted with.
    pub fn current_id(&self) -> u8 {
        self.encryption.last().map(|(id, _)| *id).unwrap_or(0)
    }

    /// Encrypts `plain` for the field `field` (bound as associated data, so a
    /// value cannot be moved to another field unnoticed).
    pub fn encrypt(&self, field: &str, plain: &str) -> Vec<u8> {
        let (id, cipher) = self.encryption.last().expect("parse ensures one key");
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain.as_bytes(),
                    aad: field.as_bytes(),
                },
            )
            .expect("XChaCha20-Poly1305 encryption does not fail for in-memory buffers");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(*id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn decrypt(&self, field: &str, sealed: &[u8]) -> Result<String, KeyError> {
        if sealed.len() < 1 + NONCE_LEN {
            return Err(KeyError::Damaged);
        }
        let id = sealed[0];
        let cipher = self
            .encryption
            .iter()
            .find(|(k, _)| *k == id)
            .map(|(_, c)| c)
            .ok_or(KeyError::UnknownKey(id))?;
        let plain = cipher
            .decrypt(
                XNonce::from_slice(&sealed[1..1 + NONCE_LEN]),
                Payload {
                    msg: &sealed[1 + NONCE_LEN..],
                    aad: field.as_bytes(),
                },
            )
            .map_err(|_| KeyError::Damaged)?;
        String::from_utf8(plain).map_err(|_| KeyError::Damaged)
    }

    /// Which key number sealed a value, to find values still under an old key.
    pub fn sealed_with(sealed: &[u8]) -> Option<u8> {
        sealed.first().copied()
    }

    /// A keyed hash of a normalised value, for exact-match lookup without
    /// storing the value.
    pub fn lookup_hash(&self, field: &str, value: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.hash_key)
            .expect("HMAC accepts any key length");
        mac.update(field.as_bytes());
        mac.update(&[0]);
        mac.update(normalise(value).as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

impl PersonalDataKeys {
    /// A key for another purpose (e.g. signing public links), derived from
    /// the hash key so that no new secret needs managing, and independent
    /// of it: knowing the derived key reveals nothing of the hash key.
    pub fn derive_key(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.hash_key)
            .expect("HMAC accepts any key length");
        mac.update(b"pingan-derived-key\0");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Lookups ignore spaces, dashes and case, as people type numbers both ways.
fn normalise(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

fn random_key() -> String {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    B64.encode(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encrypts_decrypts_and_rotates() {
        let text = PersonalDataKeys::generate_text();
        let keys = PersonalDataKeys::parse(&text).unwrap();
        let sealed = keys.encrypt("accounts.phone", "13812341234");
        assert!(!sealed.windows(11).any(|w| w == "13812341234".as_bytes()));
        assert_eq!(
            keys.decrypt("accounts.phone", &sealed).unwrap(),
            "13812341234"
        );
        assert!(matches!(
            keys.decrypt("accounts.id_number", &sealed),
            Err(KeyError::Damaged)
        ));
        let rotated =
            PersonalDataKeys::parse(&PersonalDataKeys::rotated_text(&text).unwrap()).unwrap();
        assert_eq!(rotated.current_id(), 2);
        assert_eq!(
            rotated.decrypt("accounts.phone", &sealed).unwrap(),
            "13812341234"
        );
        let resealed = rotated.encrypt("accounts.phone", "13812341234");
        assert_eq!(PersonalDataKeys::sealed_with(&resealed), Some(2));
        assert!(matches!(
            keys.decrypt("accounts.phone", &resealed),
            Err(KeyError::UnknownKey(2))
        ));
        assert_eq!(
            keys.lookup_hash("accounts.phone", "138 1234-1234"),
            rotated.lookup_hash("accounts.phone", "13812341234")
        );
    }

    #[test]
    fn bad_key_files_are_refused() {
        assert!(matches!(
            PersonalDataKeys::parse("hash = \"abc\""),
            Err(KeyError::Parse { line: 1, .. })
        ));
        assert!(matches!(
            PersonalDataKeys::parse(""),
            Err(KeyError::Incomplete)
        ));
        let one_line = PersonalDataKeys::generate_text()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect::<Vec<_>>()
            .join(";");
        assert_eq!(PersonalDataKeys::parse(&one_line).unwrap().key_ids(), [1]);
    }
}
