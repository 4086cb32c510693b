//! The repository config object: format version, repository id, cipher, frame size, key slots,
//! and the authentication code that binds them to the master key.
//!
//! The config is plain JSON (a reader needs the slots before it has a key), so every field that
//! matters for security is authenticated instead: `auth` is HMAC-SHA256 under a key derived from
//! the master key over [`RepoConfig::auth_input`], a length-prefixed encoding of every other
//! field. A keyless writer of the store cannot change the cipher, the frame size, the id or a key
//! slot without the next key holder noticing (docs/FORMAT.md, "Config authentication").

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::crypto::{self, KeySlot, SecretKey, SlotKdf};
use super::envelope::{MAX_FRAME_SIZE, MIN_FRAME_SIZE};
use crate::error::{Error, Result};

pub const FORMAT_NAME: &str = "mahavishnu-dr";
pub const FORMAT_VERSION: u32 = 3;
/// The oldest format this version reads (1: before block maps). A version 1 repository is
/// upgraded to version 2 by the first write of this version.
pub const OLDEST_READABLE_VERSION: u32 = 1;
/// The only ciphers a config may name.
pub const ENCRYPTION_AES: &str = "aes-256-gcm";
pub const ENCRYPTION_NONE: &str = "none";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RepoConfig {
    /// Always "mahavishnu-dr".
    pub format: String,
    pub version: u32,
    /// 32 hex characters, random.
    pub repository_id: String,
    pub created: DateTime<Utc>,
    /// "aes-256-gcm" or "none".
    pub encryption: String,
    /// Plaintext bytes per frame (4 KiB to 64 MiB).
    pub frame_size: u32,
    pub key_slots: Vec<KeySlot>,
    /// `hmac-sha256:` and 64 hex digits: the authentication code of every other field. Absent in
    /// unencrypted repositories and in configs written before it existed (added by the first
    /// write of a key holder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
}

const AUTH_PREFIX: &str = "hmac-sha256:";

/// Appends `bytes` with its length (u32, big-endian) in front, so no two field lists encode alike.
fn field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A time as seconds since the epoch (i64) and nanoseconds (u32), both big-endian, length-prefixed.
fn time(out: &mut Vec<u8>, t: DateTime<Utc>) {
    let mut b = t.timestamp().to_be_bytes().to_vec();
    b.extend_from_slice(&t.timestamp_subsec_nanos().to_be_bytes());
    field(out, &b);
}

impl RepoConfig {
    /// The bytes the authentication code covers: every field but `auth`, each length-prefixed,
    /// in the order FORMAT.md gives.
    pub fn auth_input(&self) -> Vec<u8> {
        let mut out = b"mahavishnu-dr config auth v1\0".to_vec();
        field(&mut out, self.format.as_bytes());
        field(&mut out, &self.version.to_be_bytes());
        field(&mut out, self.repository_id.as_bytes());
        time(&mut out, self.created);
        field(&mut out, self.encryption.as_bytes());
        field(&mut out, &self.frame_size.to_be_bytes());
        field(&mut out, &(self.key_slots.len() as u32).to_be_bytes());
        for slot in &self.key_slots {
            field(&mut out, slot.id.as_bytes());
            match &slot.kdf {
                SlotKdf::KeyFile => field(&mut out, b"key_file"),
                SlotKdf::Argon2id {
                    memory_kib,
                    iterations,
                    parallelism,
                } => {
                    field(&mut out, b"argon2id");
                    field(&mut out, &memory_kib.to_be_bytes());
                    field(&mut out, &iterations.to_be_bytes());
                    field(&mut out, &parallelism.to_be_bytes());
                }
            }
            time(&mut out, slot.created);
            field(&mut out, slot.salt.as_bytes());
            field(&mut out, slot.nonce.as_bytes());
            field(&mut out, slot.wrapped_key.as_bytes());
        }
        out
    }

    /// Set `auth` for the current fields.
    pub fn authenticate(&mut self, master: &SecretKey) {
        let tag = crypto::config_mac(master, &self.repository_id, &self.auth_input());
        self.auth = Some(format!("{AUTH_PREFIX}{}", hex::encode(tag)));
    }

    /// Whether `auth` is present and matches every other field.
    pub fn auth_matches(&self, master: &SecretKey) -> bool {
        let Some(tag) = self
            .auth
            .as_deref()
            .and_then(|a| a.strip_prefix(AUTH_PREFIX))
            .and_then(|h| hex::decode(h).ok())
        else {
            return false;
        };
        crypto::config_mac_matches(master, &self.repository_id, &self.auth_input(), &tag)
    }

    /// The checks that need no key: format, version, cipher name, frame size and id are in range.
    /// `describe` names the store in messages.
    pub fn check_shape(&self, describe: &str) -> Result<()> {
        if self.format != FORMAT_NAME
            || !(OLDEST_READABLE_VERSION..=FORMAT_VERSION).contains(&self.version)
        {
            return Err(Error::integrity(format!(
                "{describe} holds format {} version {}, this mahavishnu-dr reads {FORMAT_NAME} versions {OLDEST_READABLE_VERSION} to {FORMAT_VERSION}",
                self.format, self.version
            ))
            .with_guidance(
                "a newer format is written by a newer mahavishnu-dr: upgrade this one to read it; nothing was read or written",
            ));
        }
        let altered = |what: String| {
            Error::integrity(format!("the repository config at {describe} {what}")).with_guidance(
                "the config was altered or damaged: restore `config` from a copy of the \
                     repository (a replica or an earlier copy); nothing was read or written",
            )
        };
        if self.encryption != ENCRYPTION_AES && self.encryption != ENCRYPTION_NONE {
            return Err(altered(format!(
                "names an unknown cipher {:?}",
                self.encryption
            )));
        }
        if !(MIN_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&self.frame_size) {
            return Err(altered(format!(
                "gives frame_size {}, outside {MIN_FRAME_SIZE}..={MAX_FRAME_SIZE} bytes",
                self.frame_size
            )));
        }
        if self.repository_id.is_empty()
            || self.repository_id.len() > 64
            || !self.repository_id.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(altered("has a malformed repository_id".to_string()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::crypto::Credential;

    fn config(master: &SecretKey) -> RepoConfig {
        let cred = Credential::KeyFile(SecretKey::random());
        let mut c = RepoConfig {
            format: FORMAT_NAME.into(),
            version: FORMAT_VERSION,
            repository_id: "00112233445566778899aabbccddeeff".into(),
            created: Utc::now(),
            encryption: ENCRYPTION_AES.into(),
            frame_size: 1 << 20,
            key_slots: vec![
                KeySlot::wrap(master, &cred, "00112233445566778899aabbccddeeff", "slot-1").unwrap(),
            ],
            auth: None,
        };
        c.authenticate(master);
        c
    }

    #[test]
    fn every_field_is_authenticated() {
        let master = SecretKey::random();
        let good = config(&master);
        assert!(good.auth_matches(&master));
        assert!(!good.auth_matches(&SecretKey::random()), "another key");
        type Change = Box<dyn Fn(&mut RepoConfig)>;
        let changes: Vec<Change> = vec![
            Box::new(|c| c.format.push('x')),
            Box::new(|c| c.version += 1),
            Box::new(|c| c.repository_id.replace_range(0..1, "f")),
            Box::new(|c| c.created += chrono::Duration::seconds(1)),
            Box::new(|c| c.encryption = ENCRYPTION_NONE.into()),
            Box::new(|c| c.frame_size = 4096),
            Box::new(|c| c.key_slots.clear()),
            Box::new(|c| c.key_slots[0].id = "slot-2".into()),
            Box::new(|c| {
                c.key_slots[0].kdf = SlotKdf::Argon2id {
                    memory_kib: 8,
                    iterations: 1,
                    parallelism: 1,
                }
            }),
            Box::new(|c| c.key_slots[0].salt.push('A')),
            Box::new(|c| c.key_slots[0].wrapped_key.push('A')),
            Box::new(|c| c.auth = None),
            Box::new(|c| c.auth = Some("hmac-sha256:zz".into())),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut c = good.clone();
            change(&mut c);
            assert!(!c.auth_matches(&master), "change {i} went unnoticed");
        }
    }

    #[test]
    fn shape_checks_name_what_is_wrong() {
        let master = SecretKey::random();
        let mut c = config(&master);
        c.frame_size = 0;
        let e = c.check_shape("local:/r").unwrap_err();
        assert!(e.message.contains("frame_size 0"), "{e}");
        c.frame_size = 128 << 20;
        assert!(c.check_shape("local:/r").is_err());
        c.frame_size = 1 << 20;
        c.encryption = "rot13".into();
        assert!(
            c.check_shape("local:/r")
                .unwrap_err()
                .message
                .contains("rot13")
        );
        c.encryption = ENCRYPTION_AES.into();
        c.repository_id = "../x".into();
        assert!(c.check_shape("local:/r").is_err());
    }
}
