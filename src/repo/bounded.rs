//! Bounded reads of untrusted objects: every size read from the store is checked before anything
//! is allocated, and every decompression stops at a cap.
//!
//! The store is not trusted (docs/FORMAT.md, "Threat model"): a crafted object must cost at most
//! the cap below in memory, whatever its header or its compressed stream claims.

use std::io::{self, Read};

use bytes::Bytes;
use serde::de::DeserializeOwned;

use super::crypto::SecretKey;
use super::envelope::{ObjectContext, Opener, io_to_integrity};
use crate::error::{Error, ErrorKind, Result};
use crate::storage::DynStorage;

/// A config object is a few hundred bytes per key slot.
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;
/// Lock objects are a few hundred bytes.
pub const MAX_LOCK_BYTES: u64 = 64 << 10;
/// A checksum list holds about 150 bytes per volume.
pub const MAX_CHECKSUMS_BYTES: u64 = 16 << 20;
/// A sealed manifest; its JSON after decompression. 512 MiB is about 1.3 million entries.
pub const MAX_MANIFEST_SEALED: u64 = 512 << 20;
pub const MAX_MANIFEST_JSON: u64 = 512 << 20;
/// A sealed history record; its JSON after decompression.
pub const MAX_HISTORY_SEALED: u64 = 16 << 20;
pub const MAX_HISTORY_JSON: u64 = 64 << 20;

/// Read a whole object of at most `max` bytes; `what` names it in errors. A missing object is a
/// `NotFound` error, as from [`crate::storage::Storage::get`].
pub async fn read_bounded(storage: &DynStorage, key: &str, max: u64, what: &str) -> Result<Bytes> {
    let too_big = |size: u64| {
        Error::integrity(format!(
            "{what} ({key}) is {size} bytes, more than the {max} such an object can be; it is not read"
        ))
        .with_guidance("the object is damaged or was planted by a writer of the store; validate the repository and inspect it")
    };
    match storage.size(key).await? {
        None => return Err(Error::not_found(format!("object {key} does not exist"))),
        Some(size) if size > max => return Err(too_big(size)),
        Some(_) => {}
    }
    let data = storage.get(key).await?;
    // The object may have been replaced between the two calls.
    if data.len() as u64 > max {
        return Err(too_big(data.len() as u64));
    }
    Ok(data)
}

/// A reader that fails once more than `max` bytes come through it.
pub struct Capped<R> {
    inner: R,
    left: u64,
    what: String,
    max: u64,
}

impl<R> Capped<R> {
    pub fn new(inner: R, max: u64, what: &str) -> Self {
        Capped {
            inner,
            left: max,
            what: what.to_string(),
            max,
        }
    }
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // Ask for one byte more than allowed, so reaching the cap exactly is not an error.
        let want = buf.len().min(self.left.saturating_add(1) as usize);
        let n = self.inner.read(&mut buf[..want])?;
        if n as u64 > self.left {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                Error::integrity(format!(
                    "{} decompresses to more than {} bytes; it is not trusted",
                    self.what, self.max
                )),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// A streamed JSON up to this size may be parsed from memory (see [`unseal_json`]).
const STREAM_ABOVE: u64 = 16 << 20;

/// One of the few (one per core) JSON documents parsed from memory at once, which bounds what
/// parsing many manifests' summaries in parallel holds: `cores * STREAM_ABOVE`.
struct InMemorySlot;

static IN_MEMORY: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl InMemorySlot {
    fn take() -> Option<InMemorySlot> {
        use std::sync::atomic::Ordering;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        IN_MEMORY
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < cores).then_some(n + 1)
            })
            .ok()
            .map(|_| InMemorySlot)
    }
}

impl Drop for InMemorySlot {
    fn drop(&mut self) {
        IN_MEMORY.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Open a sealed, zstd-compressed JSON object into `T`, holding at most `max_json` bytes of
/// JSON. `streamed`: parse while decompressing (memory independent of the JSON's size; for
/// reading a small part, such as a manifest's summary, of a large object).
pub fn unseal_json<T: DeserializeOwned>(
    master: Option<&SecretKey>,
    ctx: ObjectContext,
    sealed: &[u8],
    max_json: u64,
    what: &str,
    streamed: bool,
) -> Result<T> {
    let opener = Opener::new(master, ctx, sealed)?;
    let wrap = |e: io::Error| {
        let err = io_to_integrity(e, what);
        if err.kind == ErrorKind::Integrity && !err.message.contains(what) {
            Error::integrity(format!("{what} does not decompress: {}", err.message))
        } else {
            err
        }
    };
    let dec = zstd::stream::read::Decoder::new(opener).map_err(wrap)?;
    let mut capped = Capped::new(dec, max_json, what);
    let invalid = |e: serde_json::Error| {
        if e.is_io() {
            wrap(io::Error::from(e))
        } else {
            Error::integrity(format!("{what} is not valid: {e}"))
        }
    };
    let value = if streamed {
        // A JSON of at most STREAM_ABOVE bytes is parsed from memory when one of the few slots
        // for that is free (parsing from a slice is several times faster than from a reader);
        // a larger one, or one while the slots are taken, is parsed while decompressing.
        let slot = InMemorySlot::take();
        let mut head = Vec::new();
        if slot.is_some() {
            (&mut capped)
                .take(STREAM_ABOVE + 1)
                .read_to_end(&mut head)
                .map_err(wrap)?;
            if head.len() as u64 <= STREAM_ABOVE {
                return serde_json::from_slice(&head).map_err(invalid);
            }
        }
        let mut buffered =
            io::BufReader::with_capacity(64 << 10, io::Cursor::new(head).chain(&mut capped));
        let v = serde_json::from_reader(&mut buffered).map_err(invalid)?;
        // Read to the end, so the final frame's authentication (and completeness) is checked.
        io::copy(&mut buffered, &mut io::sink()).map_err(wrap)?;
        drop(slot);
        v
    } else {
        let mut json = Vec::new();
        capped.read_to_end(&mut json).map_err(wrap)?;
        serde_json::from_slice(&json).map_err(invalid)?
    };
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::envelope::{ObjectKind, seal_all};

    fn ctx() -> ObjectContext {
        ObjectContext {
            repo_id: "r".into(),
            kind: ObjectKind::History,
            name: "x".into(),
            index: 0,
        }
    }

    #[test]
    fn a_decompression_bomb_stops_at_the_cap() {
        let key = SecretKey::random();
        // 64 MiB of zeros inside a JSON string: a few KiB compressed.
        let mut json = b"{\"a\":\"".to_vec();
        json.resize(64 << 20, b'0');
        json.extend_from_slice(b"\"}");
        let packed = zstd::bulk::compress(&json, 19).unwrap();
        assert!(packed.len() < 100_000, "{}", packed.len());
        let sealed = seal_all(Some(&key), &ctx(), &packed);
        for streamed in [false, true] {
            let e = unseal_json::<serde_json::Value>(
                Some(&key),
                ctx(),
                &sealed,
                1 << 20,
                "record x",
                streamed,
            )
            .unwrap_err();
            assert!(e.message.contains("more than 1048576 bytes"), "{e}");
        }
        let v: serde_json::Value =
            unseal_json(Some(&key), ctx(), &sealed, 65 << 20, "record x", true).unwrap();
        assert_eq!(v["a"].as_str().unwrap().len(), (64 << 20) - 6);
    }

    #[test]
    fn exactly_the_cap_is_allowed_and_garbage_is_named() {
        let key = SecretKey::random();
        let json = br#"{"a":1}"#;
        let sealed = seal_all(Some(&key), &ctx(), &zstd::bulk::compress(json, 3).unwrap());
        let v: serde_json::Value =
            unseal_json(Some(&key), ctx(), &sealed, json.len() as u64, "rec", false).unwrap();
        assert_eq!(v["a"], 1);
        let sealed = seal_all(Some(&key), &ctx(), b"not zstd");
        let e = unseal_json::<serde_json::Value>(Some(&key), ctx(), &sealed, 100, "rec", false)
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Integrity);
        assert!(e.message.contains("rec"), "{e}");
    }

    /// A summary read (streamed) gives what a whole read gives, whether it is parsed from
    /// memory or while decompressing (every slot taken); a sealed object cut short is refused
    /// either way (its last frame never authenticates).
    #[test]
    fn a_streamed_read_parses_from_memory_or_the_stream_alike_and_refuses_a_cut() {
        #[derive(serde::Deserialize, PartialEq, Debug)]
        struct Summary {
            id: String,
        }
        let key = SecretKey::random();
        let entries: Vec<String> = (0..20_000).map(|i| format!("entry-{i}")).collect();
        let json =
            serde_json::to_vec(&serde_json::json!({"entries": entries, "id": "b1"})).unwrap();
        let sealed = seal_all(Some(&key), &ctx(), &zstd::bulk::compress(&json, 3).unwrap());
        let read = |streamed| {
            unseal_json::<Summary>(Some(&key), ctx(), &sealed, 1 << 30, "m", streamed).unwrap()
        };
        let from_memory = read(true);
        let held: Vec<InMemorySlot> = std::iter::from_fn(InMemorySlot::take).collect();
        let from_stream = read(true);
        drop(held);
        assert_eq!(from_memory, Summary { id: "b1".into() });
        assert_eq!(from_stream, from_memory);
        assert_eq!(read(false), from_memory);
        let cut = &sealed[..sealed.len() - 20];
        for streamed in [true, false] {
            let e =
                unseal_json::<Summary>(Some(&key), ctx(), cut, 1 << 30, "m", streamed).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
        }
    }

    #[tokio::test]
    async fn oversized_objects_are_refused_before_reading() {
        let s: DynStorage = std::sync::Arc::new(crate::storage::MemoryStorage::new());
        s.put("k", Bytes::from(vec![0u8; 2000])).await.unwrap();
        let e = read_bounded(&s, "k", 1000, "a lock").await.unwrap_err();
        assert!(e.message.contains("2000 bytes"), "{e}");
        assert_eq!(
            read_bounded(&s, "k", 2000, "a lock").await.unwrap().len(),
            2000
        );
        let e = read_bounded(&s, "missing", 10, "x").await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound);
    }
}
