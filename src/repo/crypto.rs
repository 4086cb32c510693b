//! Keys and sealing: key files, key slots wrapping the master key, per-object keys, frame AEAD,
//! and the config's authentication code.
//!
//! The master key (32 random bytes) never leaves memory in the clear. Each key slot in the
//! repository config wraps it with a key-encryption key derived from a key file (HKDF-SHA256) or a
//! passphrase (Argon2id). Each stored object gets its own AES-256-GCM key from
//! HKDF-SHA256(salt = the object's random 32-byte salt, ikm = master); the nonce is the frame index,
//! so no (key, nonce) pair ever repeats. Every secret (master key, key-encryption keys, object keys,
//! key-file bytes, passphrases) is zeroed when dropped.

use std::io::Write;
use std::path::Path;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::action::{Action, Advice};
use crate::error::{Error, Result};

pub const KEY_LEN: usize = 32;
pub const TAG_LEN: usize = 16;

/// 32 secret bytes, zeroed when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey(pub(crate) [u8; KEY_LEN]);

impl SecretKey {
    pub fn random() -> Self {
        SecretKey(random_bytes())
    }
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// Random bytes from the operating system's CSPRNG (through rand's thread RNG, reseeded from it).
pub fn random_bytes<const N: usize>() -> [u8; N] {
    rand::random()
}

fn hkdf(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    // Expanding 32 bytes from SHA-256 is always within HKDF's length limit (255 * 32).
    let ok = Hkdf::<Sha256>::new(Some(salt), ikm).expand(info, &mut out[..]);
    debug_assert!(ok.is_ok());
    out
}

fn cipher(key: &[u8; KEY_LEN]) -> Aes256Gcm {
    // A 32-byte slice is always a valid AES-256 key; the cipher zeroes its key schedule on drop.
    match Aes256Gcm::new_from_slice(key) {
        Ok(c) => c,
        Err(_) => unreachable!("a 32-byte key has the AES-256 key length"),
    }
}

fn seal_detached(c: &Aes256Gcm, nonce: &[u8; 12], aad: &[u8], buf: &mut Vec<u8>) {
    let nonce: Nonce<_> = (*nonce).into();
    // Encryption fails only for inputs over 64 GiB or AAD over 2^61 bytes; frames are 1 MiB.
    match c.encrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into()) {
        Ok(tag) => buf.extend_from_slice(tag.as_slice()),
        Err(_) => unreachable!("AES-GCM input limits exceeded by a bounded frame"),
    }
}

fn open_detached(c: &Aes256Gcm, nonce: &[u8; 12], aad: &[u8], buf: &mut Vec<u8>) -> bool {
    let Some(split) = buf.len().checked_sub(TAG_LEN) else {
        return false;
    };
    let (ct, tag) = buf.split_at_mut(split);
    let ok = open_in_place(c, nonce, aad, ct, tag);
    if ok {
        buf.truncate(split);
    }
    ok
}

/// Open `ct` (ciphertext without its tag) in place against `tag`; false when it does not
/// authenticate (then `ct` holds garbage).
fn open_in_place(c: &Aes256Gcm, nonce: &[u8; 12], aad: &[u8], ct: &mut [u8], tag: &[u8]) -> bool {
    let Ok(tag) = Tag::try_from(tag) else {
        return false;
    };
    let nonce: Nonce<_> = (*nonce).into();
    c.decrypt_inout_detached(&nonce, aad, ct.into(), &tag)
        .is_ok()
}

/// The key that authenticates the repository config: HKDF-SHA256(salt = repository id,
/// ikm = master, info = "mahavishnu-dr config auth v1").
fn config_mac_state(master: &SecretKey, repo_id: &str) -> Hmac<Sha256> {
    let k = hkdf(
        repo_id.as_bytes(),
        master.as_bytes(),
        b"mahavishnu-dr config auth v1",
    );
    match <Hmac<Sha256> as KeyInit>::new_from_slice(&k[..]) {
        Ok(m) => m,
        Err(_) => unreachable!("HMAC accepts keys of any length"),
    }
}

/// HMAC-SHA256 of the config's canonical bytes under the config key.
pub fn config_mac(master: &SecretKey, repo_id: &str, input: &[u8]) -> [u8; 32] {
    let mut m = config_mac_state(master, repo_id);
    m.update(input);
    m.finalize().into_bytes().into()
}

/// Whether `tag` is the config's authentication code (compared in constant time).
pub fn config_mac_matches(master: &SecretKey, repo_id: &str, input: &[u8], tag: &[u8]) -> bool {
    let mut m = config_mac_state(master, repo_id);
    m.update(input);
    m.verify_slice(tag).is_ok()
}

/// Seals and opens the frames of one object. `None` cipher: encryption disabled (frames in clear).
pub struct FrameCipher {
    cipher: Option<Aes256Gcm>,
    aad_prefix: Vec<u8>,
}

impl FrameCipher {
    /// `aad_prefix` binds the object: header bytes, repository id, object name and index.
    pub fn new(master: Option<&SecretKey>, salt: &[u8; 32], aad_prefix: Vec<u8>) -> Self {
        let cipher =
            master.map(|m| cipher(&hkdf(salt, m.as_bytes(), b"mahavishnu-dr object key v1")));
        FrameCipher { cipher, aad_prefix }
    }

    pub fn overhead(&self) -> usize {
        if self.cipher.is_some() { TAG_LEN } else { 0 }
    }

    fn nonce_and_aad(&self, index: u64, last: bool) -> ([u8; 12], Vec<u8>) {
        let mut nonce = [0u8; 12];
        nonce[4..].copy_from_slice(&index.to_be_bytes());
        let mut aad = Vec::with_capacity(self.aad_prefix.len() + 9);
        aad.extend_from_slice(&self.aad_prefix);
        aad.extend_from_slice(&index.to_be_bytes());
        aad.push(u8::from(last));
        (nonce, aad)
    }

    /// Seal frame `index` in place (appends the tag).
    pub fn seal(&self, index: u64, last: bool, buf: &mut Vec<u8>) {
        if let Some(c) = &self.cipher {
            let (nonce, aad) = self.nonce_and_aad(index, last);
            seal_detached(c, &nonce, &aad, buf);
        }
    }

    /// Open frame `index` in place; false when it was altered, moved, reordered or truncated.
    pub fn open(&self, index: u64, last: bool, buf: &mut Vec<u8>) -> bool {
        match &self.cipher {
            Some(c) => {
                let (nonce, aad) = self.nonce_and_aad(index, last);
                open_detached(c, &nonce, &aad, buf)
            }
            None => true,
        }
    }

    /// Open sealed frame `index` (`sealed`: its ciphertext and tag) by appending its plaintext
    /// to `out`; false (and `out` as it was) when it does not authenticate. One copy of the
    /// bytes, no buffer of its own.
    pub fn open_onto(&self, index: u64, last: bool, sealed: &[u8], out: &mut Vec<u8>) -> bool {
        let Some(c) = &self.cipher else {
            out.extend_from_slice(sealed);
            return true;
        };
        let Some(split) = sealed.len().checked_sub(TAG_LEN) else {
            return false;
        };
        let (ct, tag) = sealed.split_at(split);
        let start = out.len();
        out.extend_from_slice(ct);
        let (nonce, aad) = self.nonce_and_aad(index, last);
        let ok = open_in_place(c, &nonce, &aad, &mut out[start..], tag);
        if !ok {
            out.truncate(start);
        }
        ok
    }
}

/// How a key slot's key-encryption key is derived.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kdf", rename_all = "snake_case")]
pub enum SlotKdf {
    /// HKDF-SHA256 over the key file's 32 bytes.
    KeyFile,
    /// Argon2id over a passphrase.
    Argon2id {
        memory_kib: u32,
        iterations: u32,
        parallelism: u32,
    },
}

/// One way in: the master key wrapped by a key-encryption key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct KeySlot {
    pub id: String,
    #[serde(flatten)]
    pub kdf: SlotKdf,
    pub created: DateTime<Utc>,
    /// base64, 32 bytes.
    pub salt: String,
    /// base64, 12 bytes.
    pub nonce: String,
    /// base64: AES-256-GCM(kek, nonce, master key, aad = "mahavishnu-dr key slot v1" || repo id || slot id).
    pub wrapped_key: String,
}

/// How a slot's wrapping is bound. A v2 slot says "this repository's config carries an
/// authentication code": a config with a v2 slot and no code was altered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotVersion {
    /// Written before configs were authenticated (format version 1, first releases).
    V1,
    /// The config carries `auth`.
    V2,
}

fn slot_aad(version: SlotVersion, repo_id: &str, slot_id: &str) -> Vec<u8> {
    let mut aad = match version {
        SlotVersion::V1 => b"mahavishnu-dr key slot v1\0".to_vec(),
        SlotVersion::V2 => b"mahavishnu-dr key slot v2\0".to_vec(),
    };
    aad.extend_from_slice(repo_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(slot_id.as_bytes());
    aad
}

/// Key material offered to open a repository (zeroed when dropped).
pub enum Credential {
    KeyFile(SecretKey),
    Passphrase(Zeroizing<String>),
}

fn kek(
    credential: &Credential,
    kdf: &SlotKdf,
    salt: &[u8],
) -> Result<Option<Zeroizing<[u8; KEY_LEN]>>> {
    match (credential, kdf) {
        (Credential::KeyFile(k), SlotKdf::KeyFile) => Ok(Some(hkdf(
            salt,
            k.as_bytes(),
            b"mahavishnu-dr key file kek v1",
        ))),
        (
            Credential::Passphrase(p),
            SlotKdf::Argon2id {
                memory_kib,
                iterations,
                parallelism,
            },
        ) => {
            // The slot is read before the config can be authenticated: bound what it may ask
            // for (4 GiB of memory, 100 passes, 64 lanes), so a planted slot cannot exhaust the
            // host. Our own slots use 64 MiB, 3 passes, 1 lane.
            if *memory_kib > 4 << 20 || *iterations > 100 || *parallelism > 64 {
                return Err(Error::key(format!(
                    "a key slot asks for Argon2id with {memory_kib} KiB, {iterations} passes and \
                     {parallelism} lanes, past what mahavishnu-dr accepts; the config was altered"
                )));
            }
            let params = argon2::Params::new(*memory_kib, *iterations, *parallelism, Some(KEY_LEN))
                .map_err(|e| Error::key(format!("bad Argon2id parameters in key slot: {e}")))?;
            let a =
                argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
            let mut out = Zeroizing::new([0u8; KEY_LEN]);
            a.hash_password_into(p.as_bytes(), salt, &mut out[..])
                .map_err(|e| Error::key(format!("Argon2id failed: {e}")))?;
            Ok(Some(out))
        }
        _ => Ok(None),
    }
}

impl KeySlot {
    /// Wrap `master` for `credential` (a v2 slot: the config it goes into carries `auth`).
    pub fn wrap(
        master: &SecretKey,
        credential: &Credential,
        repo_id: &str,
        slot_id: &str,
    ) -> Result<Self> {
        let kdf = match credential {
            Credential::KeyFile(_) => SlotKdf::KeyFile,
            Credential::Passphrase(_) => SlotKdf::Argon2id {
                memory_kib: 64 * 1024,
                iterations: 3,
                parallelism: 1,
            },
        };
        let salt: [u8; 32] = random_bytes();
        let nonce: [u8; 12] = random_bytes();
        let kek = kek(credential, &kdf, &salt)?
            .ok_or_else(|| Error::internal("credential does not match the slot kind"))?;
        let mut buf = master.as_bytes().to_vec();
        seal_detached(
            &cipher(&kek),
            &nonce,
            &slot_aad(SlotVersion::V2, repo_id, slot_id),
            &mut buf,
        );
        Ok(KeySlot {
            id: slot_id.to_string(),
            kdf,
            created: Utc::now(),
            salt: B64.encode(salt),
            nonce: B64.encode(nonce),
            wrapped_key: B64.encode(&buf),
        })
    }

    /// Unwrap the master key; `Ok(None)` when this credential does not open this slot. Also says
    /// how the slot was bound (v1: before configs were authenticated).
    pub fn unwrap_key(
        &self,
        credential: &Credential,
        repo_id: &str,
    ) -> Result<Option<(SecretKey, SlotVersion)>> {
        let bad = |what: &str| Error::key(format!("key slot {} has a malformed {what}", self.id));
        let salt = B64.decode(&self.salt).map_err(|_| bad("salt"))?;
        let nonce: [u8; 12] = B64
            .decode(&self.nonce)
            .ok()
            .and_then(|n| n.try_into().ok())
            .ok_or_else(|| bad("nonce"))?;
        let wrapped = B64
            .decode(&self.wrapped_key)
            .map_err(|_| bad("wrapped key"))?;
        if wrapped.len() != KEY_LEN + TAG_LEN {
            return Err(bad("wrapped key"));
        }
        let Some(kek) = kek(credential, &self.kdf, &salt)? else {
            return Ok(None);
        };
        let c = cipher(&kek);
        for version in [SlotVersion::V2, SlotVersion::V1] {
            let mut buf = Zeroizing::new(wrapped.clone());
            if open_detached(&c, &nonce, &slot_aad(version, repo_id, &self.id), &mut buf) {
                let mut key = SecretKey([0u8; KEY_LEN]);
                key.0.copy_from_slice(&buf[..KEY_LEN]);
                return Ok(Some((key, version)));
            }
        }
        Ok(None)
    }
}

/// Read a key file: 32 bytes, raw or as hex or base64 text. Missing, unreadable and malformed
/// files are distinct errors that name the path.
pub fn read_key_file(path: &Path) -> Result<SecretKey> {
    let data = match std::fs::read(path) {
        Ok(d) => Zeroizing::new(d),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(
                Error::key(format!("the key file {} does not exist", path.display()))
                    .with_guidance(
                        "restore the key file from your off-host copy, or point \
                     backup.encryption.key_path (or MAHAVISHNU_BACKUP__ENCRYPTION__KEY_PATH) at it",
                    )
                    .with_next(Advice::step(
                        Action::Init { generate_key: true },
                        "for a new repository only",
                    )),
            );
        }
        Err(e) => {
            return Err(Error::key(format!(
                "the key file {} cannot be read: {e}",
                path.display()
            ))
            .with_guidance("run as a user that may read the key file, or fix its permissions (0600, owned by that user)"));
        }
    };
    let text = std::str::from_utf8(&data).map(str::trim).unwrap_or("");
    let decoded = if data.len() == KEY_LEN && std::str::from_utf8(&data).is_err() {
        Some(data.clone())
    } else if text.len() == 2 * KEY_LEN {
        hex::decode(text).ok().map(Zeroizing::new)
    } else {
        B64.decode(text).ok().map(Zeroizing::new)
    };
    match decoded {
        Some(k) if k.len() == KEY_LEN => {
            let mut key = SecretKey([0u8; KEY_LEN]);
            key.0.copy_from_slice(&k);
            Ok(key)
        }
        _ => Err(Error::key(format!(
            "the key file {} is not a mahavishnu-dr key (expected 32 bytes: raw, hex or base64)",
            path.display()
        ))
        .with_guidance("check that key_path names the right file")
        .with_next(Advice::step(
            Action::Init { generate_key: true },
            "writes a new one, for a new repository",
        ))),
    }
}

/// Write a new random key file (base64 text, mode 0600). Refuses to overwrite an existing file.
pub fn generate_key_file(path: &Path) -> Result<SecretKey> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| Error::from_io("create the key folder", parent, e))?;
    }
    let key = SecretKey::random();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::key(format!(
                    "the key file {} already exists; it was not replaced",
                    path.display()
                ))
                .with_next(Advice::step(
                    Action::Init {
                        generate_key: false,
                    },
                    "to use the existing key",
                ))
                .with_guidance("or choose another key_path")
            } else {
                Error::from_io("create the key file", path, e)
            }
        })?;
    let mut text = Zeroizing::new(B64.encode(key.as_bytes()));
    text.push('\n');
    f.write_all(text.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(|e| Error::from_io("write the key file", path, e))?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_open_only_with_their_index_flag_and_context() {
        let master = SecretKey::random();
        let salt = [7u8; 32];
        let fc = FrameCipher::new(Some(&master), &salt, b"ctx".to_vec());
        let mut f = b"frame data".to_vec();
        fc.seal(3, false, &mut f);
        assert_eq!(f.len(), 10 + TAG_LEN);
        assert!(!fc.open(4, false, &mut f.clone()), "moved frame opened");
        assert!(!fc.open(3, true, &mut f.clone()), "final flag ignored");
        let other = FrameCipher::new(Some(&master), &salt, b"cty".to_vec());
        assert!(!other.open(3, false, &mut f.clone()), "context ignored");
        let mut flipped = f.clone();
        flipped[0] ^= 1;
        assert!(!fc.open(3, false, &mut flipped));
        assert!(fc.open(3, false, &mut f));
        assert_eq!(f, b"frame data");
    }

    #[test]
    fn slots_unwrap_with_the_right_credential_only() {
        let master = SecretKey::random();
        let kf = Credential::KeyFile(SecretKey::random());
        let slot = KeySlot::wrap(&master, &kf, "repo1", "slot-1").unwrap();
        let (got, version) = slot.unwrap_key(&kf, "repo1").unwrap().unwrap();
        assert_eq!(got.as_bytes(), master.as_bytes());
        assert_eq!(
            version,
            SlotVersion::V2,
            "new slots say the config is authenticated"
        );
        assert!(
            slot.unwrap_key(&Credential::KeyFile(SecretKey::random()), "repo1")
                .unwrap()
                .is_none()
        );
        assert!(slot.unwrap_key(&kf, "repo2").unwrap().is_none());
        assert!(
            slot.unwrap_key(&Credential::Passphrase(Zeroizing::new("x".into())), "repo1")
                .unwrap()
                .is_none()
        );
    }

    /// Every type that holds key material wipes it when dropped: checked by the type system, so
    /// a refactor that swaps one for a plain array does not compile.
    #[test]
    fn key_material_is_zeroed_on_drop() {
        fn wiped<T: zeroize::ZeroizeOnDrop>() {}
        wiped::<SecretKey>();
        wiped::<Zeroizing<[u8; KEY_LEN]>>();
        wiped::<Zeroizing<String>>();
        wiped::<Zeroizing<Vec<u8>>>();
        // The AES key schedule of every object and key-encryption key (aes-gcm's zeroize).
        wiped::<Aes256Gcm>();
        let mut k = SecretKey([7u8; KEY_LEN]);
        k.zeroize();
        assert_eq!(k.as_bytes(), &[0u8; KEY_LEN]);
    }

    #[test]
    fn passphrase_slots_work() {
        let master = SecretKey::random();
        let p = Credential::Passphrase(Zeroizing::new("correct horse".into()));
        let slot = KeySlot::wrap(&master, &p, "r", "s").unwrap();
        assert!(slot.unwrap_key(&p, "r").unwrap().is_some());
        assert!(
            slot.unwrap_key(&Credential::Passphrase(Zeroizing::new("wrong".into())), "r")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn key_files_missing_unreadable_and_malformed_are_distinct() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k");
        let e = read_key_file(&p).unwrap_err();
        assert!(e.message.contains("does not exist"), "{e}");
        let k = generate_key_file(&p).unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(read_key_file(&p).unwrap().as_bytes(), k.as_bytes());
        assert!(generate_key_file(&p).is_err(), "overwrote an existing key");
        std::fs::write(&p, "not a key").unwrap();
        let e = read_key_file(&p).unwrap_err();
        assert!(e.message.contains("is not a mahavishnu-dr key"), "{e}");
        std::fs::write(&p, hex::encode([9u8; 32])).unwrap();
        assert_eq!(read_key_file(&p).unwrap().as_bytes(), &[9u8; 32]);
        std::fs::write(&p, [200u8; 32]).unwrap();
        assert_eq!(read_key_file(&p).unwrap().as_bytes(), &[200u8; 32]);
    }
}
