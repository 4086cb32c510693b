//! The fuzz targets' bodies, once: every reader of untrusted bytes, its properties, and seeds.
//!
//! Two fuzzers include this file: the stable mutation fuzzer that runs inside `cargo test`
//! (`tests/fuzz.rs`) and the cargo-fuzz targets for long coverage-guided runs
//! (`fuzz/fuzz_targets/*.rs`). A target takes arbitrary bytes and panics only when a property
//! fails (or when the product panics, which is itself a failure): a reader never panics, its errors
//! are [`Error`] values of the kinds that name damage, decoded values round-trip, and stored paths
//! and ids that pass their checks stay inside their folder. What a target returns is a small
//! "reach" bitmask (how far the input got); the stable fuzzer keeps inputs that reach somewhere new.
//!
//! Input layouts (the first byte is a mode byte where a target has two layers):
//! - `envelope`: a sealed object (header and frames).
//! - `config`, `checksums`, `lock`: the JSON object as stored.
//! - `manifest`, `history`: mode bit 0 set: the stored (sealed, cipher 0) object; clear: the JSON,
//!   which the target compresses and seals first, so mutations reach the decoder past zstd.
//! - `tar`: a tar stream. `volume`: mode bit 0 set: the stored volume; clear: a tar stream that
//!   the target compresses and seals as a volume first.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::path::{Component, Path};
use std::sync::OnceLock;

use chrono::{DateTime, TimeZone, Utc};
use mahavishnu_dr::internals::bounded::unseal_json;
use mahavishnu_dr::internals::config::RepoConfig;
use mahavishnu_dr::internals::config::{
    ENCRYPTION_AES, ENCRYPTION_NONE, FORMAT_NAME, FORMAT_VERSION,
};
use mahavishnu_dr::internals::crypto::{Credential, KeySlot, SecretKey, SlotKdf, read_key_file};
use mahavishnu_dr::internals::envelope::{
    self, HEADER_LEN, Header, MAX_FRAME_SIZE, MIN_FRAME_SIZE, ObjectContext, ObjectKind, Opener,
    Sealer,
};
use mahavishnu_dr::internals::hash::{parse_sha256_hex, short_digest};
use mahavishnu_dr::internals::history::{
    DriftSummary, HistoryRecord, LEGACY_PAYLOAD_VERSION, RecordPayload, RestoreTestPayload,
    StoredRecord,
};
use mahavishnu_dr::internals::locks::{
    FUTURE_SKEW_SECS, Holder, LockInfo, LockMode, STALE_AFTER_SECS,
};
use mahavishnu_dr::internals::manifest::{
    ChecksumItem, ChecksumList, Entry, EntryKind, Location, Manifest, ManifestSummary, Origin,
    SourceRecord, Totals, VolumeRecord,
};
use mahavishnu_dr::internals::paths::{check_stored_path, target_path};
use mahavishnu_dr::internals::tar_reader::{MAX_PATH_BYTES, TarReader};
use mahavishnu_dr::internals::volume::read_volume;
use mahavishnu_dr::internals::{BackupType, backup_key, check_backup_id};
use mahavishnu_dr::{Error, ErrorKind};

/// How far an input got: one bit per stage or branch reached.
pub type Reach = u64;

/// A target's body.
pub type Target = fn(&[u8]) -> Reach;

/// Every target, by name.
pub const TARGETS: &[(&str, Target)] = &[
    ("envelope", envelope),
    ("config", config),
    ("manifest", manifest),
    ("history", history),
    ("checksums", checksums),
    ("tar", tar),
    ("volume", volume),
    ("lock", lock),
];

/// What an input of a target looks like, for structure-aware mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A sealed object.
    Envelope,
    /// A JSON document.
    Json,
    /// A mode byte, then a sealed object (bit 0 set) or JSON to seal (clear).
    ModeJson,
    /// A tar stream.
    Tar,
    /// A mode byte, then a sealed volume (bit 0 set) or a tar stream to seal (clear).
    ModeTar,
}

pub fn layout(target: &str) -> Layout {
    match target {
        "envelope" => Layout::Envelope,
        "manifest" | "history" => Layout::ModeJson,
        "tar" => Layout::Tar,
        "volume" => Layout::ModeTar,
        _ => Layout::Json,
    }
}

/// The mode bit: the rest of the input is the stored object, not a payload to seal first.
pub const MODE_STORED: u8 = 1;

/// The decompressed-JSON cap the manifest and history targets read with. The code path is the one
/// the real caps (512 MiB, 64 MiB) take; a small cap keeps a fuzzed zstd bomb cheap.
pub const JSON_CAP: u64 = 1 << 20;

/// Most bytes one input may have allocated at once (the Rust heap, measured by the stable fuzzer):
/// a bound in the input's length and the format's bounds (docs/FORMAT.md, "Bounds on what is
/// read"), never in a size the input claims. Every envelope reader may hold one frame of the
/// header's frame size (at most 64 MiB), allocated before the frame is read.
pub fn alloc_bound(target: &str, len: usize) -> usize {
    let frame = MAX_FRAME_SIZE as usize + 64;
    let mib = 1 << 20;
    match target {
        "envelope" => frame + 16 * len + 8 * mib,
        "manifest" | "history" => frame + 64 * (len + JSON_CAP as usize) + 8 * mib,
        "volume" => frame + 16 * len + 8 * mib,
        "tar" => 16 * len + 4 * mib,
        _ => 64 * len + 4 * mib,
    }
}

/// An open finding: its target, whether an input reaches it, its name.
type OpenFinding = (&'static str, fn(&[u8]) -> bool, &'static str);

/// Inputs a target skips because they reach a finding that is already reported and not fixed
/// yet (each has an ignored reproducer in `tests/fuzz.rs`); the name of the finding, if so.
/// Add an arm for a new finding; remove it when the fix lands. None is open now (the two that
/// fuzzing found, tar-size-overflow and validate-digest-prefix, are fixed and kept as regression
/// tests). `FUZZ_KNOWN=1` in the environment turns the skipping off.
pub fn known_finding(target: &str, data: &[u8]) -> Option<&'static str> {
    static RUN_KNOWN: OnceLock<bool> = OnceLock::new();
    if *RUN_KNOWN.get_or_init(|| std::env::var_os("FUZZ_KNOWN").is_some()) {
        return None;
    }
    let open: [OpenFinding; 0] = [];
    open.iter()
        .find(|(t, reaches, _)| *t == target && reaches(data))
        .map(|(_, _, name)| *name)
}

/// Whether a 512-byte block's stored checksum matches its bytes (as the tar reader computes it).
pub fn tar_checksum_ok(block: &[u8]) -> bool {
    let sum: u32 = block[..148]
        .iter()
        .chain(&[b' '; 8])
        .chain(&block[156..512])
        .map(|b| u32::from(*b))
        .sum();
    tar::Header::from_byte_slice(block).cksum().ok() == Some(sum)
}

// ---------------------------------------------------------------------------------------------
// Fixed identities and keys (fixed, so a seed sealed or wrapped in one run opens in the next).

pub const REPO_ID: &str = "00112233445566778899aabbccddeeff";
pub const BACKUP_ID: &str = "backup_20261122T144547.023Z_60c7d156";
pub const PARENT_ID: &str = "backup_20261122T144544.700Z_256156ab";
pub const RECORD_ID: &str = "20261122T183809.542Z_restore-test_e22c5423";

/// (key file, master key): two fixed keys, read through the product's key-file reader.
fn keys() -> &'static (SecretKey, SecretKey) {
    static KEYS: OnceLock<(SecretKey, SecretKey)> = OnceLock::new();
    KEYS.get_or_init(|| {
        let read = |hex: &str, n: u32| {
            let path = std::env::temp_dir()
                .join(format!("mahavishnu-dr-fuzz-key-{}-{n}", std::process::id()));
            std::fs::write(&path, hex).expect("write a fuzz key file");
            let key = read_key_file(&path).expect("read a fuzz key file");
            let _ = std::fs::remove_file(&path);
            key
        };
        (read(&"a5".repeat(32), 0), read(&"3c".repeat(32), 1))
    })
}

fn key_file_key() -> &'static SecretKey {
    &keys().0
}

fn master_key() -> &'static SecretKey {
    &keys().1
}

pub fn context(kind: ObjectKind) -> ObjectContext {
    let (name, index) = match kind {
        ObjectKind::Volume => (BACKUP_ID, 0),
        ObjectKind::Manifest => (BACKUP_ID, u32::MAX),
        ObjectKind::History => (RECORD_ID, 0),
        ObjectKind::BlockMap => (BACKUP_ID, 0),
    };
    ObjectContext {
        repo_id: REPO_ID.into(),
        kind,
        name: name.into(),
        index,
    }
}

fn time(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(secs, 123_000_000)
        .single()
        .unwrap_or_default()
}

/// Seal `plain` with cipher 0 in frames of `frame_size` bytes (as an unencrypted repository does).
pub fn seal_plain(kind: ObjectKind, frame_size: u32, plain: &[u8]) -> Vec<u8> {
    fixed_salt(seal(None, kind, frame_size, plain))
}

/// Cipher 0 does not use the header's salt: fix it, so seeds (and a fuzzer run from a seed) are
/// the same in every run.
fn fixed_salt(mut sealed: Vec<u8>) -> Vec<u8> {
    if let Some(salt) = sealed.get_mut(20..52) {
        salt.fill(0x5a);
    }
    sealed
}

fn seal(master: Option<&SecretKey>, kind: ObjectKind, frame_size: u32, plain: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + plain.len() + 64);
    let mut s = Sealer::new(master, &context(kind), frame_size, |f: Vec<u8>| {
        out.extend_from_slice(&f);
        Ok(())
    });
    // Sealing into memory cannot fail.
    let _ = s.write_all(plain);
    let _ = s.finish();
    out
}

/// What the product stores for a JSON document: zstd, then the envelope (cipher 0, 1 MiB frames,
/// as `seal_all` writes manifests and history records).
pub fn wrap_json(kind: ObjectKind, json: &[u8]) -> Vec<u8> {
    let packed = zstd::bulk::compress(json, 1).unwrap_or_default();
    fixed_salt(envelope::seal_all(None, &context(kind), &packed))
}

/// What the product stores for a tar stream: zstd, then the envelope in 4 KiB frames (so several
/// frames are read).
pub fn wrap_tar(tar: &[u8]) -> Vec<u8> {
    let packed = zstd::bulk::compress(tar, 1).unwrap_or_default();
    seal_plain(ObjectKind::Volume, MIN_FRAME_SIZE, &packed)
}

/// Turn a payload-mode input into its stored form (mode bit set), as the target would see it.
pub fn to_stored(target: &str, data: &[u8]) -> Option<Vec<u8>> {
    let (&mode, payload) = data.split_first()?;
    if mode & MODE_STORED != 0 {
        return None;
    }
    let stored = match target {
        "manifest" => wrap_json(ObjectKind::Manifest, payload),
        "history" => wrap_json(ObjectKind::History, payload),
        "volume" => wrap_tar(payload),
        _ => return None,
    };
    Some([&[mode | MODE_STORED][..], &stored].concat())
}

/// A `Read` that hands out at most `step` bytes per call, to drive the readers' refill loops.
pub struct Trickle<'a> {
    pub data: &'a [u8],
    pub step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(self.step).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// An error a reader of stored bytes may give: damage (integrity) or a missing key.
fn assert_reader_error(e: &Error, what: &str) {
    assert!(
        matches!(e.kind, ErrorKind::Integrity | ErrorKind::Key),
        "{what}: an error of kind {:?} for stored bytes: {e}",
        e.kind
    );
    assert!(!e.message.is_empty(), "{what}: an error without a message");
}

/// A stored path that passes the check maps inside the restore target, component by component,
/// and a backup id that passes its check is one key component. Returns reach bits.
fn check_path(p: &str) -> Reach {
    let target = Path::new("/restore/target");
    match check_stored_path(p) {
        Ok(()) => {
            let joined = target_path(target, p).expect("a checked path joins onto the target");
            assert!(joined.starts_with(target), "{p:?} escapes to {joined:?}");
            let rest: Vec<Component> = joined.components().skip(3).collect();
            assert!(
                !rest.is_empty() && rest.iter().all(|c| matches!(c, Component::Normal(_))),
                "{p:?} maps to {joined:?}, not plain names under the target"
            );
            assert_eq!(
                rest.len(),
                p.split('/').count(),
                "{p:?} changes shape when joined: {joined:?}"
            );
            1
        }
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::Integrity, "{p:?}: {e}");
            assert!(target_path(target, p).is_err(), "{p:?} joined unchecked");
            2
        }
    }
}

fn check_id(id: &str) -> Reach {
    match check_backup_id(id) {
        Ok(()) => {
            let key = backup_key(id, "manifest");
            let parts: Vec<Component> = Path::new(&key).components().collect();
            assert!(
                parts.len() == 3 && parts.iter().all(|c| matches!(c, Component::Normal(_))),
                "backup id {id:?} makes the key {key:?}"
            );
            4
        }
        Err(e) => {
            assert_eq!(e.kind, ErrorKind::Usage, "{id:?}: {e}");
            8
        }
    }
}

// ---------------------------------------------------------------------------------------------
// envelope

/// The envelope and frame opener: header parsing, cipher 0 frames past the header, cipher 1
/// authentication, and streaming in small reads.
pub fn envelope(data: &[u8]) -> Reach {
    let mut reach = 0;
    let header = Header::parse(data);
    if let Some(h) = &header {
        reach |= 1;
        assert!((MIN_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&h.frame_size));
        assert_eq!(
            Header::parse(&h.to_bytes()).as_ref(),
            Some(h),
            "a parsed header does not round-trip"
        );
        reach |= 1 << (2 + h.cipher.min(3));
    }
    // The kind the caller expects: what the header says when that is a kind, so most inputs get
    // past the kind check; another kind for the rest.
    let kind = match data.get(9) {
        Some(1) => ObjectKind::Volume,
        Some(3) => ObjectKind::History,
        _ => ObjectKind::Manifest,
    };
    let ctx = context(kind);
    let plain = envelope::open_all(None, &ctx, data);
    match &plain {
        Ok(p) => {
            reach |= 1 << 8;
            let h = header.as_ref().expect("opened without a valid header");
            assert_eq!(
                h.cipher, 0,
                "a cipher {} object opened without a key",
                h.cipher
            );
            // Cipher 0 frames are the plaintext: the object is its header and the plaintext.
            assert_eq!(
                &data[HEADER_LEN..],
                &p[..],
                "plain frames are not the plaintext"
            );
            if p.len() > h.frame_size as usize {
                reach |= 1 << 9;
            }
            // Sealing the plaintext again (new salt, 1 MiB frames) gives it back.
            let again = envelope::seal_all(None, &ctx, p);
            let back = envelope::open_all(None, &ctx, &again).expect("a fresh seal opens");
            assert_eq!(&back, p, "seal_all then open_all changed the data");
        }
        Err(e) => {
            reach |= 1 << 10;
            assert_reader_error(e, "open_all without a key");
        }
    }
    // The same object read in small pieces, through small buffers, gives the same result.
    let mut r = Opener::new(None, ctx.clone(), Trickle { data, step: 7 }).expect("an opener");
    let mut out = Vec::new();
    let mut buf = [0u8; 13];
    let streamed = loop {
        match r.read(&mut buf) {
            Ok(0) => break Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => break Err(envelope::io_to_integrity(e, "x")),
        }
    };
    match (&plain, &streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "small reads give other plaintext"),
        (Err(_), Err(e)) => assert_reader_error(e, "small reads"),
        _ => panic!(
            "open_all and small reads disagree: {:?} vs {:?}",
            plain.as_ref().map(Vec::len),
            streamed.as_ref().map(Vec::len)
        ),
    }
    // With the key: only an object sealed under it, for this object, opens.
    let master = master_key();
    match envelope::open_all(Some(master), &ctx, data) {
        Ok(p) => {
            reach |= 1 << 11;
            assert_eq!(header.as_ref().map(|h| h.cipher), Some(1));
            assert!(p.len() < data.len(), "sealed frames carry tags");
            let mut other = ctx.clone();
            other.index ^= 1;
            assert!(
                envelope::open_all(Some(master), &other, data).is_err(),
                "a sealed object opened as another object"
            );
        }
        Err(e) => {
            reach |= 1 << 12;
            assert_reader_error(&e, "open_all with a key");
        }
    }
    reach
}

// ---------------------------------------------------------------------------------------------
// config

/// The repository config: parse, shape checks, the authenticated encoding, and unwrapping each
/// key slot with a key file.
pub fn config(data: &[u8]) -> Reach {
    let Ok(c) = serde_json::from_slice::<RepoConfig>(data) else {
        return 0;
    };
    let mut reach = 1;
    match c.check_shape("fuzz:/repo") {
        Ok(()) => {
            reach |= 2;
            assert!((MIN_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&c.frame_size));
            assert!(c.encryption == ENCRYPTION_AES || c.encryption == ENCRYPTION_NONE);
            assert!((1..=64).contains(&c.repository_id.len()));
            assert!(c.repository_id.bytes().all(|b| b.is_ascii_hexdigit()));
        }
        Err(e) => {
            reach |= 4;
            assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
        }
    }
    let input = c.auth_input();
    let json = serde_json::to_vec(&c).expect("a config serializes");
    let again: RepoConfig = serde_json::from_slice(&json).expect("a written config parses");
    assert_eq!(again, c, "a config does not round-trip");
    assert_eq!(
        again.auth_input(),
        input,
        "the authenticated encoding changed"
    );
    let master = master_key();
    if c.auth_matches(master) {
        reach |= 8;
        assert!(again.auth_matches(master));
        let mut other = c.clone();
        other.frame_size ^= 1;
        assert!(
            !other.auth_matches(master),
            "frame_size is not authenticated"
        );
        let mut other = c.clone();
        other.encryption.push('x');
        assert!(
            !other.auth_matches(master),
            "the cipher is not authenticated"
        );
    }
    for slot in &c.key_slots {
        let cred = Credential::KeyFile(key_file_key().clone());
        match slot.unwrap_key(&cred, &c.repository_id) {
            Ok(Some((key, _version))) => {
                reach |= 16;
                assert_eq!(slot.kdf, SlotKdf::KeyFile);
                assert!(
                    key.as_bytes() == master.as_bytes(),
                    "a slot unwrapped to a key that is not the master key"
                );
            }
            Ok(None) => reach |= 32,
            Err(e) => {
                reach |= 64;
                assert_eq!(e.kind, ErrorKind::Key, "{e}");
            }
        }
    }
    reach
}

// ---------------------------------------------------------------------------------------------
// manifest and history

/// The stored object of a mode-byte input; `None` for an empty input.
fn stored<'a>(
    data: &'a [u8],
    seal_payload: impl Fn(&[u8]) -> Vec<u8>,
) -> Option<std::borrow::Cow<'a, [u8]>> {
    let (&mode, payload) = data.split_first()?;
    Some(if mode & MODE_STORED != 0 {
        std::borrow::Cow::Borrowed(payload)
    } else {
        std::borrow::Cow::Owned(seal_payload(payload))
    })
}

/// Read a sealed JSON object both ways (whole, streamed); both must agree.
fn unseal_both<T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug>(
    kind: ObjectKind,
    sealed: &[u8],
    what: &str,
) -> mahavishnu_dr::Result<T> {
    let whole = unseal_json::<T>(None, context(kind), sealed, JSON_CAP, what, false);
    let streamed = unseal_json::<T>(None, context(kind), sealed, JSON_CAP, what, true);
    match (&whole, &streamed) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "{what}: whole and streamed reads differ"),
        (Err(a), Err(b)) => {
            assert_reader_error(a, what);
            assert_reader_error(b, what);
        }
        (a, b) => panic!(
            "{what}: whole and streamed reads disagree: {:?} vs {:?}",
            a.as_ref().err(),
            b.as_ref().err()
        ),
    }
    whole
}

/// The manifest decoder (full and summary, whole and streamed) and the checks its paths and ids
/// go through before anything is restored.
pub fn manifest(data: &[u8]) -> Reach {
    let Some(sealed) = stored(data, |p| wrap_json(ObjectKind::Manifest, p)) else {
        return 0;
    };
    let kind = ObjectKind::Manifest;
    let full = unseal_both::<Manifest>(kind, &sealed, "manifest of fuzz");
    let summary = unseal_both::<ManifestSummary>(kind, &sealed, "manifest of fuzz");
    let Ok(m) = full else {
        return if summary.is_ok() { 2 } else { 1 };
    };
    let mut reach = 4;
    let s = summary.expect("a manifest whose summary cannot be read");
    assert_eq!(s, m.summary, "the summary differs from the full manifest's");
    for e in &m.entries {
        reach |= check_path(&e.path) << 4;
        reach |= 1 << (8 + e.kind as u8);
        if let Some(loc) = &e.location {
            reach |= check_id(&loc.backup_id) << 12;
        }
        if let Some(t) = &e.target {
            reach |= check_path(t) << 16;
        }
    }
    for d in &m.deleted {
        reach |= check_path(d) << 20;
    }
    for src in &m.summary.sources {
        reach |= check_path(&src.stored_as) << 24;
    }
    reach |= check_id(&m.summary.backup_id) << 28;
    for id in m.summary.parent.iter().chain(&m.summary.depends_on) {
        reach |= check_id(id) << 32;
    }
    // What is read is what the product writes back.
    let json = serde_json::to_vec(&m).expect("a manifest serializes");
    let back: Manifest = unseal_both(kind, &wrap_json(kind, &json), "manifest round trip")
        .expect("a written manifest reads back");
    assert_eq!(back, m, "a manifest does not round-trip");
    reach
}

/// The history record decoder, whole and streamed, and the typed reader after it (the versioned
/// payload, or the first release's `data`).
pub fn history(data: &[u8]) -> Reach {
    let Some(sealed) = stored(data, |p| wrap_json(ObjectKind::History, p)) else {
        return 0;
    };
    let kind = ObjectKind::History;
    let w = unseal_json::<StoredRecord>(None, context(kind), &sealed, JSON_CAP, "rec", false);
    let s = unseal_json::<StoredRecord>(None, context(kind), &sealed, JSON_CAP, "rec", true);
    let (stored, streamed) = match (w, s) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(a), Err(b)) => {
            assert_reader_error(&a, "history record");
            assert_reader_error(&b, "history record");
            return 1;
        }
        (a, b) => panic!(
            "history record: whole and streamed reads disagree: {:?} vs {:?}",
            a.err(),
            b.err()
        ),
    };
    assert_eq!(
        serde_json::to_value(&stored).expect("a record serializes"),
        serde_json::to_value(&streamed).expect("a record serializes"),
        "whole and streamed records differ"
    );
    let r = match HistoryRecord::from_stored(stored) {
        Ok(r) => r,
        Err(why) => {
            assert!(!why.is_empty(), "an unreadable record without a reason");
            return 2 | 1 << 3;
        }
    };
    let mut reach = 2 | 1 << (4 + r.kind() as u8) | u64::from(r.passed) << 8;
    if r.payload_version == LEGACY_PAYLOAD_VERSION {
        reach |= 1 << 9;
    }
    // What is read is what the product writes back, at this release's payload version.
    let written = r.to_stored().expect("a record serializes");
    let json = serde_json::to_vec(&written).expect("a record serializes");
    let back: StoredRecord = unseal_json(
        None,
        context(kind),
        &wrap_json(kind, &json),
        JSON_CAP,
        "rec",
        false,
    )
    .expect("a written record reads back");
    let again = HistoryRecord::from_stored(back).expect("a written record parses as a record");
    assert_eq!(
        serde_json::to_value(again.to_stored().expect("a record serializes"))
            .expect("a record serializes"),
        serde_json::to_value(&written).expect("a record serializes"),
        "a history record does not round-trip"
    );
    reach |= 1 << 10;
    reach
}

// ---------------------------------------------------------------------------------------------
// checksum list

/// The keyless checksum list.
pub fn checksums(data: &[u8]) -> Reach {
    let Ok(list) = serde_json::from_slice::<ChecksumList>(data) else {
        return 0;
    };
    let mut reach = 1;
    let json = serde_json::to_vec(&list).expect("a checksum list serializes");
    let again: ChecksumList = serde_json::from_slice(&json).expect("a written list parses");
    assert_eq!(again, list, "a checksum list does not round-trip");
    reach |= check_id(&list.backup_id) << 1;
    for item in list.volumes.iter().chain([&list.manifest]) {
        // The digest parser validate uses: exactly 64 hex digits, re-encoding to the same
        // digest (lowercased); the message helper never panics on any text.
        let hex64 = item.sha256.len() == 64 && item.sha256.bytes().all(|b| b.is_ascii_hexdigit());
        match parse_sha256_hex(&item.sha256) {
            Ok(d) => {
                assert!(hex64, "accepted a digest that is not 64 hex digits");
                assert_eq!(hex::encode(d), item.sha256.to_ascii_lowercase());
                reach |= 1 << 8;
            }
            Err(_) => {
                assert!(!hex64, "refused a digest of 64 hex digits");
                reach |= 1 << 9;
            }
        }
        let _ = short_digest(&item.sha256, 16);
        if !item.sha256.is_char_boundary(16.min(item.sha256.len())) {
            reach |= 1 << 10;
        }
        if item.size > MAX_FRAME_SIZE as u64 {
            reach |= 1 << 11;
        }
    }
    reach
}

// ---------------------------------------------------------------------------------------------
// tar

/// What a tar read gave: (path, kind, size, content bytes read) per member, and whether it ended
/// cleanly.
type TarRead = (Vec<(Vec<u8>, tar::EntryType, u64, Option<u64>)>, bool);

fn read_tar<R: Read>(inner: R, read_content: bool) -> TarRead {
    let mut t = TarReader::new(inner);
    let mut members = Vec::new();
    loop {
        let e = match t.next_entry() {
            Ok(Some(e)) => e,
            Ok(None) => return (members, true),
            Err(e) => {
                assert_reader_error(&envelope::io_to_integrity(e, "tar"), "tar reader");
                return (members, false);
            }
        };
        assert!(
            e.path.len() as u64 <= MAX_PATH_BYTES + 1,
            "a member path of {} bytes",
            e.path.len()
        );
        assert!(!e.kind.is_gnu_longname(), "a long-name record handed out");
        let content = if read_content {
            let mut counted = Counted(0);
            match io::copy(&mut t.content(), &mut counted) {
                Ok(n) => {
                    assert_eq!(n, e.size, "content shorter than the member's size");
                    Some(n)
                }
                Err(err) => {
                    assert_reader_error(&envelope::io_to_integrity(err, "tar"), "tar content");
                    members.push((e.path, e.kind, e.size, None));
                    return (members, false);
                }
            }
        } else {
            None
        };
        members.push((e.path, e.kind, e.size, content));
    }
}

/// A `Write` that only counts.
struct Counted(u64);

impl Write for Counted {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Files derived from arbitrary bytes, with names tar::Builder accepts (long ones included).
fn files_from(data: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut rest = data;
    while files.len() < 4 {
        let Some((&n, tail)) = rest.split_first() else {
            break;
        };
        let name_len = 1 + usize::from(n) * 2;
        let take = tail.len().min(name_len);
        let name: String = tail[..take]
            .iter()
            .enumerate()
            .map(|(i, b)| match b % 40 {
                0 if i > 0 && i + 1 < take => '/',
                k => char::from(b"abcdefghijklmnopqrstuvwxyz0123456789_-.~"[usize::from(k)]),
            })
            .collect::<String>()
            .split('/')
            .filter(|c| !c.is_empty())
            .map(|c| if c == "." || c == ".." { "d" } else { c })
            .collect::<Vec<_>>()
            .join("/");
        let content_len = tail.get(take).map_or(0, |b| usize::from(*b) * 5);
        let after = tail.len().min(take + 1);
        let body = &tail[after..];
        let content = body[..body.len().min(content_len)].to_vec();
        rest = &body[content.len()..];
        if !name.is_empty() && !files.iter().any(|(p, _)| *p == name) {
            files.push((name, content));
        }
    }
    files
}

/// Build a volume's tar stream as the volume writer does (GNU headers, regular files).
pub fn build_tar(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(0o644);
        h.set_mtime(1_795_358_721);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, &content[..])
            .expect("tar::Builder takes a plain relative name");
    }
    b.into_inner().expect("a tar into memory")
}

/// The volume tar reader over arbitrary bytes (content read and skipped, whole and byte by byte
/// reads agree), and what tar::Builder writes, it reads back.
pub fn tar(data: &[u8]) -> Reach {
    if known_finding("tar", data).is_some() {
        return 0;
    }
    let (read, read_ok) = read_tar(data, true);
    let (skipped, skip_ok) = read_tar(Trickle { data, step: 1 }, false);
    assert_eq!(read_ok, skip_ok, "reading and skipping content disagree");
    let names = |m: &[(Vec<u8>, tar::EntryType, u64, Option<u64>)]| {
        m.iter()
            .map(|(p, k, s, _)| (p.clone(), *k, *s))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(&read),
        names(&skipped),
        "members differ between reads"
    );
    let mut reach = u64::from(read_ok) | (read.len().min(7) as u64) << 1;
    for (path, kind, _, _) in &read {
        reach |= 1 << (4 + kind.as_byte() % 32);
        if path.len() > 100 {
            reach |= 1 << 40;
        }
    }
    // Round trip: a tar made from these bytes reads back exactly.
    let files = files_from(data);
    let built = build_tar(&files);
    let (back, ok) = read_tar(&built[..], true);
    assert!(ok, "a tar made by tar::Builder does not read back");
    assert_eq!(back.len(), files.len(), "members lost or added");
    let mut t = TarReader::new(&built[..]);
    for (path, content) in &files {
        let e = t.next_entry().expect("a member").expect("a member");
        assert_eq!(e.path, path.as_bytes(), "a path changed");
        assert_eq!(e.kind, tar::EntryType::Regular);
        let mut got = Vec::new();
        t.content().read_to_end(&mut got).expect("content");
        assert_eq!(&got, content, "content of {path} changed");
        if path.len() > 100 {
            reach |= 1 << 41;
        }
    }
    assert!(t.next_entry().expect("the end block").is_none());
    reach
}

// ---------------------------------------------------------------------------------------------
// volume

/// The files the volume target's manifest places in the volume (and its seed volume holds).
pub fn volume_files() -> Vec<(String, Vec<u8>)> {
    vec![
        ("a".into(), b"one".to_vec()),
        (
            "data/app.db".into(),
            (0..1000u32).map(|i| (i * 7) as u8).collect(),
        ),
        (format!("{}/f", "d".repeat(300)), b"long name".to_vec()),
        ("empty".into(), Vec::new()),
    ]
}

fn file_entry(path: &str, content: &[u8]) -> Entry {
    Entry {
        path: path.into(),
        kind: EntryKind::File,
        mode: 0o644,
        mtime_ns: 1_795_358_721_000_000_000,
        size: content.len() as u64,
        sha256: Some(mahavishnu_dr::internals::sha256_hex(content)),
        target: None,
        location: Some(Location {
            backup_id: BACKUP_ID.into(),
            volume: 0,
        }),
        origin: Origin::File,
        ctime_ns: 1_795_358_721_000_000_000,
        inode: 10_010_677,
        dev: 2049,
        stamp: "3:1795358721.0:1795358721.0:10010677:2049".into(),
        blocks: None,
    }
}

fn volume_entries() -> &'static Vec<Entry> {
    static ENTRIES: OnceLock<Vec<Entry>> = OnceLock::new();
    ENTRIES.get_or_init(|| {
        volume_files()
            .iter()
            .map(|(p, c)| file_entry(p, c))
            .collect()
    })
}

/// A volume read against its manifest's entries: every file handed out is expected, whole, and
/// handed out once; reading and skipping content agree.
pub fn volume(data: &[u8]) -> Reach {
    let Some(sealed) = stored(data, wrap_tar) else {
        return 0;
    };
    let expected: BTreeMap<&str, &Entry> = volume_entries()
        .iter()
        .map(|e| (e.path.as_str(), e))
        .collect();
    let mut results = Vec::new();
    for wanted in [true, false] {
        let mut handed: Vec<(String, u64)> = Vec::new();
        let r = read_volume(
            None,
            context(ObjectKind::Volume),
            &sealed[..],
            &expected,
            &|_| wanted,
            &mut |e, r| {
                let n = io::copy(r, &mut Counted(0))
                    .map_err(|err| envelope::io_to_integrity(err, &e.path))?;
                handed.push((e.path.clone(), n));
                Ok(())
            },
            None,
        );
        for (path, n) in &handed {
            let e = expected
                .get(path.as_str())
                .expect("an unexpected file handed out");
            assert_eq!(
                *n, e.size,
                "{path}: {n} bytes handed out, the manifest says {}",
                e.size
            );
        }
        let paths: std::collections::BTreeSet<&String> = handed.iter().map(|(p, _)| p).collect();
        assert_eq!(paths.len(), handed.len(), "a file handed out twice");
        if let Err(e) = &r {
            assert_reader_error(e, "read_volume");
        }
        results.push((r.is_ok(), handed));
    }
    assert_eq!(
        results[0].0, results[1].0,
        "reading and skipping the files disagree"
    );
    if results[0].0 {
        assert_eq!(
            results[0].1.len(),
            expected.len(),
            "an Ok volume handed out too few files"
        );
        assert!(results[1].1.is_empty());
        3
    } else {
        (results[0].1.len().min(7) as u64) << 2
    }
}

// ---------------------------------------------------------------------------------------------
// lock

/// A lock object: parse, round trip, and when it is stale.
pub fn lock(data: &[u8]) -> Reach {
    let Ok(info) = serde_json::from_slice::<LockInfo>(data) else {
        return 0;
    };
    let json = serde_json::to_vec_pretty(&info).expect("a lock serializes");
    let again: LockInfo = serde_json::from_slice(&json).expect("a written lock parses");
    assert_eq!(again, info, "a lock does not round-trip");
    let now = time(1_795_358_721);
    // Another host's lock is stale exactly when it was not refreshed for 120 s, or when one of
    // its times lies more than the allowed clock skew ahead (it would never age).
    let age = info.refreshed_ago(now);
    let ahead = info.created.max(info.refreshed).timestamp() - now.timestamp();
    let elsewhere = Holder::new(&format!("{}-elsewhere", info.host));
    let reason = info.stale_reason(now, &elsewhere);
    assert_eq!(
        reason.is_some(),
        age > STALE_AFTER_SECS || ahead > FUTURE_SKEW_SECS,
        "age {age} s, {ahead} s ahead, stale: {reason:?}"
    );
    // This host's, on its machine: also when its process is gone (the pid is only probed, with
    // signal 0).
    let own_holder = Holder {
        host: info.host.clone(),
        machine: info.machine.clone().unwrap_or_else(|| info.host.clone()),
    };
    let own = info.stale_reason(now, &own_holder);
    if reason.is_some() {
        assert!(
            own.is_some(),
            "a lock stale elsewhere is live on its own host"
        );
    }
    1 | u64::from(reason.is_some()) << 1
        | u64::from(own.is_some()) << 2
        | 1 << (3 + info.mode as u8)
}

// ---------------------------------------------------------------------------------------------
// seeds: real objects, made by the product's own writers

/// Seed inputs for a target, made from real objects.
pub fn seeds(target: &str) -> Vec<Vec<u8>> {
    let mode = |m: u8, body: Vec<u8>| [&[m][..], &body].concat();
    match target {
        "envelope" => {
            let text: Vec<u8> = (0..10_000u32).map(|i| (i * 31 % 251) as u8).collect();
            vec![
                seal_plain(ObjectKind::Manifest, MIN_FRAME_SIZE, b""),
                seal_plain(ObjectKind::Volume, MIN_FRAME_SIZE, &text),
                seal_plain(
                    ObjectKind::History,
                    MIN_FRAME_SIZE,
                    &text[..MIN_FRAME_SIZE as usize],
                ),
                fixed_salt(envelope::seal_all(
                    None,
                    &context(ObjectKind::Manifest),
                    b"{}",
                )),
                seal(
                    Some(master_key()),
                    ObjectKind::Volume,
                    MIN_FRAME_SIZE,
                    &text,
                ),
                wrap_json(ObjectKind::Manifest, &manifest_json()),
            ]
        }
        "config" => {
            let (encrypted, plain) = seed_configs();
            vec![
                serde_json::to_vec_pretty(&encrypted).unwrap_or_default(),
                serde_json::to_vec_pretty(&plain).unwrap_or_default(),
            ]
        }
        "manifest" => {
            let json = manifest_json();
            vec![
                mode(0, json.clone()),
                mode(MODE_STORED, wrap_json(ObjectKind::Manifest, &json)),
            ]
        }
        "history" => {
            let json = history_json();
            let legacy = legacy_history_json();
            vec![
                mode(0, json.clone()),
                mode(MODE_STORED, wrap_json(ObjectKind::History, &json)),
                mode(0, legacy.clone()),
                mode(MODE_STORED, wrap_json(ObjectKind::History, &legacy)),
            ]
        }
        "checksums" => vec![checksums_json()],
        "tar" => vec![
            build_tar(&volume_files()),
            build_tar(&[("x".into(), vec![1; 600])]),
        ],
        "volume" => {
            let tar = build_tar(&volume_files());
            let mut v = vec![mode(0, tar)];
            if let Some(real) = real_volume() {
                v.push(mode(MODE_STORED, real));
            }
            v
        }
        "lock" => vec![lock_json(LockMode::Backup), lock_json(LockMode::Exclusive)],
        _ => Vec::new(),
    }
}

/// (an encrypted repository's config, authenticated; an unencrypted one's).
fn seed_configs() -> (RepoConfig, RepoConfig) {
    let master = master_key();
    let cred = Credential::KeyFile(key_file_key().clone());
    let slot = KeySlot::wrap(master, &cred, REPO_ID, "slot-1").expect("wrap the seed key slot");
    let mut encrypted = RepoConfig {
        format: FORMAT_NAME.into(),
        version: FORMAT_VERSION,
        repository_id: REPO_ID.into(),
        created: time(1_795_358_744),
        encryption: ENCRYPTION_AES.into(),
        frame_size: envelope::DEFAULT_FRAME_SIZE,
        key_slots: vec![slot],
        auth: None,
    };
    encrypted.authenticate(master);
    let plain = RepoConfig {
        encryption: ENCRYPTION_NONE.into(),
        key_slots: Vec::new(),
        auth: None,
        ..encrypted.clone()
    };
    (encrypted, plain)
}

fn seed_manifest() -> Manifest {
    let mut entries: Vec<Entry> = volume_entries().clone();
    entries.push(Entry {
        path: "data".into(),
        kind: EntryKind::Dir,
        mode: 0o755,
        size: 0,
        sha256: None,
        location: None,
        ..file_entry("data", b"")
    });
    entries.push(Entry {
        path: "data/link".into(),
        kind: EntryKind::Symlink,
        mode: 0o777,
        size: 0,
        sha256: None,
        target: Some("app.db".into()),
        location: None,
        ..file_entry("data/link", b"")
    });
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    Manifest {
        summary: ManifestSummary {
            format_version: 1,
            backup_id: BACKUP_ID.into(),
            backup_type: BackupType::Incremental,
            requested_type: BackupType::Incremental,
            parent: Some(PARENT_ID.into()),
            chain_root: PARENT_ID.into(),
            chain_length: 2,
            started: time(1_795_358_747),
            finished: time(1_795_358_748),
            host: "db-1".into(),
            tool_version: "0.1.0".into(),
            compression_level: 3,
            encrypted: false,
            sources: vec![
                SourceRecord {
                    kind: "path".into(),
                    source: "/srv/app/data".into(),
                    stored_as: "data".into(),
                },
                SourceRecord {
                    kind: "command".into(),
                    source: "pg_dump mahavishnu".into(),
                    stored_as: "_commands/postgres.sql".into(),
                },
            ],
            volumes: vec![VolumeRecord {
                index: 0,
                name: "vol-00000".into(),
                files: 4,
                content_bytes: 1012,
                stored_bytes: 900,
                sha256: "9f".repeat(32),
                content: Default::default(),
            }],
            totals: Totals {
                files: 4,
                dirs: 1,
                symlinks: 1,
                bytes: 1012,
                files_stored: 4,
                bytes_stored_content: 1012,
                files_unchanged: 0,
                files_deleted: 1,
                stored_bytes: 900,
                ..Totals::default()
            },
            depends_on: vec![PARENT_ID.into()],
            warnings: vec!["data/app.db changed while it was read".into()],
            block_map: None,
            base: None,
        },
        entries,
        deleted: vec!["data/sub/f3.txt".into()],
    }
}

fn manifest_json() -> Vec<u8> {
    serde_json::to_vec(&seed_manifest()).unwrap_or_default()
}

/// A restore test record as this release writes it.
fn history_json() -> Vec<u8> {
    let payload = RecordPayload::RestoreTest(RestoreTestPayload {
        backup_id: BACKUP_ID.into(),
        backup_type: None,
        backup_finished: Some(time(1_795_365_400)),
        chain_length: 1,
        restore_ok: true,
        reasons: Vec::new(),
        files: 4,
        bytes: 1024,
        rto_seconds: 0.042,
        rto_target_seconds: 900.0,
        rto_met: true,
        rpo_seconds: Some(0.128),
        rpo_target_seconds: 300.0,
        rpo_met: true,
        databases_checked: 1,
        databases_failed: 0,
        drift: DriftSummary {
            compared: true,
            added: 1,
            ..DriftSummary::default()
        },
    });
    let mut r = HistoryRecord::new(
        true,
        format!("restore test passed: {BACKUP_ID} (4 files, 1.0 KiB)"),
        payload,
        Some(serde_json::json!({"backup_id": BACKUP_ID, "warnings": []})),
    );
    r.record_id = RECORD_ID.into();
    r.at = time(1_795_365_489);
    r.host = "db-1".into();
    r.to_stored()
        .and_then(|s| serde_json::to_vec(&s))
        .unwrap_or_default()
}

/// A restore test record as the first release wrote it: the command's output as `data`.
fn legacy_history_json() -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "record_id": RECORD_ID,
        "kind": "restore_test",
        "at": time(1_795_365_489),
        "host": "db-1",
        "tool_version": "0.1.0",
        "passed": true,
        "summary": format!("restore test passed: {BACKUP_ID} (4 files, 1.0 KiB)"),
        "data": {
            "passed": true, "restore_ok": true, "reasons": [], "backup_id": BACKUP_ID,
            "backup_type": "full", "backup_finished": time(1_795_365_400), "chain": [BACKUP_ID],
            "chain_length": 1, "files": 4, "bytes": 1024, "volumes_read": 1,
            "rto_seconds": 0.042, "rto_target_seconds": 900.0, "rto_met": true,
            "rpo_seconds": 0.128, "rpo_target_seconds": 300.0, "rpo_met": true,
            "databases": [{"path": "data/app.db", "ok": true, "result": "ok"}],
            "drift": {"compared": true, "added": 1, "changed": 0, "removed": 0, "bytes_at_risk": 9},
            "warnings": []
        }
    }))
    .unwrap_or_default()
}

fn checksums_json() -> Vec<u8> {
    let list = ChecksumList {
        backup_id: BACKUP_ID.into(),
        volumes: vec![ChecksumItem {
            name: "vol-00000".into(),
            size: 52_890,
            sha256: "9f2c".repeat(16),
        }],
        manifest: ChecksumItem {
            name: "manifest".into(),
            size: 1934,
            sha256: "77ab".repeat(16),
        },
        block_map: None,
    };
    serde_json::to_vec_pretty(&list).unwrap_or_default()
}

fn lock_json(mode: LockMode) -> Vec<u8> {
    let info = LockInfo {
        id: "0123456789abcdef".into(),
        mode,
        host: "db-1".into(),
        pid: 4242,
        operation: "backup run".into(),
        created: time(1_795_358_700),
        refreshed: time(1_795_358_710),
        machine: None,
    };
    serde_json::to_vec_pretty(&info).unwrap_or_default()
}

/// A volume written by the product's volume writer (files on disk, tar, zstd, cipher 0).
fn real_volume() -> Option<Vec<u8>> {
    use mahavishnu_dr::internals::volume::{VolumeInput, VolumeParams, write_volume};
    let dir = std::env::temp_dir().join(format!("mahavishnu-dr-fuzz-seed-{}", std::process::id()));
    std::fs::create_dir_all(&dir).ok()?;
    let inputs: Vec<VolumeInput> = volume_files()
        .iter()
        .enumerate()
        .map(|(i, (path, content))| {
            let file = dir.join(format!("f{i}"));
            std::fs::write(&file, content).ok();
            VolumeInput {
                entry: i,
                stored_path: path.clone(),
                read_from: file,
                mode: 0o644,
                mtime_ns: 1_795_358_721_000_000_000,
                size_hint: content.len() as u64,
            }
        })
        .collect();
    let ctx = context(ObjectKind::Volume);
    let params = VolumeParams {
        master: None,
        ctx: &ctx,
        frame_size: MIN_FRAME_SIZE,
        level: 3,
        zstd_workers: 0,
        tick: &|_| {},
    };
    let mut out = Vec::new();
    let written = write_volume(
        &params,
        &inputs,
        &mut |i: &VolumeInput| Ok(i.read_from.clone()),
        &|| false,
        |f: Vec<u8>| {
            out.extend_from_slice(&f);
            Ok(())
        },
    );
    let _ = std::fs::remove_dir_all(&dir);
    written.ok().map(|_| fixed_salt(out))
}
