//! Copying a repository's objects to a replica store: its config, each backup's objects in
//! write order (volumes, block map, checksum list, then the manifest, create-only), and history
//! records; every object streamed in bounded chunks and verified by SHA-256 after the copy.
//!
//! A replica is the same repository (same config, so the same key opens it) holding a subset
//! of the backups: a backup appears there only once all its objects are there and verified,
//! when its manifest is written last (docs/FORMAT.md, "Replicas").

use bytes::Bytes;

use super::Repository;
use super::config::RepoConfig;
use super::hash::{Sha256, parse_sha256_hex};
use super::keys::{
    CHECKSUMS_NAME, CONFIG_KEY, HISTORY_PREFIX, backup_key, checksums_key, manifest_key, volume_key,
};
use super::manifest::ManifestSummary;
use crate::error::{Error, ErrorKind, Result};
use crate::storage::DynStorage;

/// Bytes read or written per call while copying.
const CHUNK: u64 = 4 << 20;

/// What a copy moved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// Objects written to the replica (and verified there).
    pub objects: u64,
    pub bytes: u64,
    /// Objects the replica already held (same size), left alone.
    pub present: u64,
}

impl CopyStats {
    fn add(&mut self, o: CopyStats) {
        self.objects += o.objects;
        self.bytes += o.bytes;
        self.present += o.present;
    }
}

/// What the replica's config says, against the source's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigState {
    /// The replica had no repository: the source's config was written.
    Created,
    /// Same repository, same config.
    Same,
    /// Same repository, older config (a format upgrade or key change on the source): replaced
    /// by the source's.
    Updated,
}

/// Make `target` hold `source`'s repository config. A replica holding another repository (or
/// something that is not a config) is refused: nothing is written there.
pub async fn sync_config(source: &Repository, target: &DynStorage) -> Result<ConfigState> {
    let ours = source.storage().get(CONFIG_KEY).await?;
    // The bytes copied must be the config this process authenticated when it opened the
    // source, not one swapped in since.
    let parsed: std::result::Result<RepoConfig, _> = serde_json::from_slice(&ours);
    if parsed.as_ref().ok() != Some(source.config()) {
        return Err(Error::integrity(format!(
            "the config of {} changed since it was opened; nothing was copied",
            source.storage().describe()
        ))
        .with_guidance(
            "run the command again; if this repeats, check who writes to the primary store",
        ));
    }
    let theirs = match target.get(CONFIG_KEY).await {
        Ok(b) => Some(b),
        Err(e) if e.kind == ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let Some(theirs) = theirs else {
        if !target.put_if_absent(CONFIG_KEY, ours.clone()).await? {
            return Err(Error::refused(format!(
                "another process created a repository at {} at the same time",
                target.describe()
            )));
        }
        verify_object(target, CONFIG_KEY, ours.len() as u64, &sha256_of(&ours)).await?;
        return Ok(ConfigState::Created);
    };
    if theirs == ours {
        return Ok(ConfigState::Same);
    }
    let other: std::result::Result<RepoConfig, _> = serde_json::from_slice(&theirs);
    match other {
        Ok(c) if c.repository_id == source.id() => {
            target.put(CONFIG_KEY, ours.clone()).await?;
            verify_object(target, CONFIG_KEY, ours.len() as u64, &sha256_of(&ours)).await?;
            Ok(ConfigState::Updated)
        }
        Ok(c) => Err(Error::refused(format!(
            "{} holds another repository ({}), not this one ({})",
            target.describe(),
            c.repository_id,
            source.id()
        ))
        .with_guidance(
            "point the replica at an empty location (or its own prefix); nothing was written there",
        )),
        Err(e) => Err(Error::refused(format!(
            "{} has a config object that is not a repository config ({e})",
            target.describe()
        ))
        .with_guidance("point the replica at an empty location; nothing was written there")),
    }
}

/// Whether `target` holds backup `backup_id` (its manifest).
pub async fn holds_backup(target: &DynStorage, backup_id: &str) -> Result<bool> {
    Ok(target.size(&manifest_key(backup_id)).await?.is_some())
}

/// Copy backup `summary` of `source` to `target`: every volume and the block map (each checked
/// against the source's authenticated manifest as it is read), the checksum list, then the
/// manifest, create-only; each verified by SHA-256 on the replica. A backup whose manifest is
/// already there is left alone. A failure leaves no manifest on the replica, so the backup does
/// not appear there half copied; the next copy finishes it.
pub async fn copy_backup(
    source: &Repository,
    summary: &ManifestSummary,
    target: &DynStorage,
) -> Result<CopyStats> {
    let id = summary.backup_id.as_str();
    let mut stats = CopyStats::default();
    if holds_backup(target, id).await? {
        stats.present += 1;
        return Ok(stats);
    }
    let from = source.storage();
    for v in &summary.volumes {
        let key = volume_key(id, v.index);
        let want = Expected::of(v.stored_bytes, &v.sha256, &key)?;
        stats.add(copy_object(from, target, &key, Some(want)).await?);
    }
    if let Some(m) = &summary.block_map {
        let key = backup_key(id, &m.name);
        let want = Expected::of(m.size, &m.sha256, &key)?;
        stats.add(copy_object(from, target, &key, Some(want)).await?);
    }
    if from.size(&checksums_key(id)).await?.is_some() {
        stats.add(copy_object(from, target, &checksums_key(id), None).await?);
    }
    // Last: from here on the backup exists on the replica.
    let key = manifest_key(id);
    let sealed = from.get(&key).await?;
    let digest = sha256_of(&sealed);
    let size = sealed.len() as u64;
    if target.put_if_absent(&key, sealed).await? {
        verify_object(target, &key, size, &digest).await?;
        stats.objects += 1;
        stats.bytes += size;
    } else {
        // Another replicator won the race: it wrote the same object, which must match.
        verify_object(target, &key, size, &digest).await?;
        stats.present += 1;
    }
    Ok(stats)
}

/// Copy the history records `target` lacks (create-only, each verified).
pub async fn copy_history(source: &Repository, target: &DynStorage) -> Result<CopyStats> {
    let mut stats = CopyStats::default();
    let there: std::collections::BTreeSet<String> = target
        .list(HISTORY_PREFIX)
        .await?
        .into_iter()
        .map(|o| o.key)
        .collect();
    for o in source.storage().list(HISTORY_PREFIX).await? {
        if there.contains(&o.key) {
            stats.present += 1;
            continue;
        }
        let data = source.storage().get(&o.key).await?;
        let (size, digest) = (data.len() as u64, sha256_of(&data));
        if target.put_if_absent(&o.key, data).await? {
            stats.objects += 1;
            stats.bytes += size;
        }
        verify_object(target, &o.key, size, &digest).await?;
    }
    Ok(stats)
}

/// The size and SHA-256 an object must have.
#[derive(Debug, Clone, Copy)]
struct Expected {
    size: u64,
    sha256: [u8; 32],
}

impl Expected {
    fn of(size: u64, sha256_hex: &str, key: &str) -> Result<Expected> {
        let sha256 = parse_sha256_hex(sha256_hex)
            .map_err(|e| Error::integrity(format!("the manifest's record of {key}: {e}")))?;
        Ok(Expected { size, sha256 })
    }
}

/// Stream `key` from `from` to `to` in chunks, hashing what is read; the copy must match
/// `want` (when known) before it is closed, and what the replica then holds must hash the same.
/// An object the replica already holds at the expected size is left alone.
async fn copy_object(
    from: &DynStorage,
    to: &DynStorage,
    key: &str,
    want: Option<Expected>,
) -> Result<CopyStats> {
    let size = from.size(key).await?.ok_or_else(|| {
        Error::integrity(format!(
            "{key} is missing from {}, which the backup needs",
            from.describe()
        ))
        .with_guidance("run `backup validate` on the primary; this backup cannot be replicated")
    })?;
    if let Some(w) = want
        && w.size != size
    {
        return Err(source_damaged(from, key, "its size"));
    }
    if to.size(key).await? == Some(size) {
        return Ok(CopyStats {
            present: 1,
            ..Default::default()
        });
    }
    let mut writer = to.writer(key).await?;
    let mut h = Sha256::new();
    let mut at = 0u64;
    while at < size {
        let end = (at + CHUNK).min(size);
        let chunk = match from.get_range(key, at..end).await {
            Ok(c) if c.len() as u64 == end - at => c,
            Ok(_) => {
                let _ = writer.abort().await;
                return Err(source_damaged(from, key, "its length while it was read"));
            }
            Err(e) => {
                let _ = writer.abort().await;
                return Err(e);
            }
        };
        h.update(&chunk);
        at = end;
        if let Err(e) = writer.write(chunk).await {
            let _ = writer.abort().await;
            return Err(e);
        }
    }
    let digest = h.finish();
    if let Some(w) = want
        && w.sha256 != digest
    {
        let _ = writer.abort().await;
        return Err(source_damaged(from, key, "its SHA-256"));
    }
    writer.close().await?;
    verify_object(to, key, size, &digest).await?;
    Ok(CopyStats {
        objects: 1,
        bytes: size,
        present: 0,
    })
}

fn source_damaged(from: &DynStorage, key: &str, what: &str) -> Error {
    Error::integrity(format!(
        "{key} on {} does not match its manifest ({what}); it was not copied",
        from.describe()
    ))
    .with_guidance(
        "run `backup validate --level full` on the primary; the replica was left as it was",
    )
}

/// Read `key` back from `store` and check its size and SHA-256; a mismatch removes the object
/// (it is not the one copied) and is an error naming the store.
async fn verify_object(store: &DynStorage, key: &str, size: u64, digest: &[u8; 32]) -> Result<()> {
    let mut h = Sha256::new();
    let mut at = 0u64;
    let mut ok = store.size(key).await? == Some(size);
    while ok && at < size {
        let end = (at + CHUNK).min(size);
        let chunk: Bytes = store.get_range(key, at..end).await?;
        ok = chunk.len() as u64 == end - at;
        h.update(&chunk);
        at = end;
    }
    if ok && &h.finish() == digest {
        return Ok(());
    }
    if key != CONFIG_KEY && !key.ends_with(CHECKSUMS_NAME) {
        let _ = store.delete(key).await;
    }
    Err(Error::storage(format!(
        "{key} on {} does not read back as it was written (size or SHA-256 differ)",
        store.describe()
    ))
    .with_guidance(
        "the replica store lost or changed the object; check it, then run `replicate` again",
    ))
}

fn sha256_of(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(data);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{MemoryStorage, Storage};
    use std::sync::Arc;

    fn store() -> DynStorage {
        Arc::new(MemoryStorage::new())
    }

    /// A store that hands back one flipped bit on every ranged read of `key`.
    #[derive(Debug)]
    struct Flipping {
        inner: DynStorage,
        key: String,
    }

    #[async_trait::async_trait]
    impl Storage for Flipping {
        fn describe(&self) -> String {
            "flipping".into()
        }
        async fn put(&self, key: &str, data: Bytes) -> Result<()> {
            self.inner.put(key, data).await
        }
        async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
            self.inner.put_if_absent(key, data).await
        }
        async fn writer(&self, key: &str) -> Result<Box<dyn crate::storage::ObjectWriter>> {
            self.inner.writer(key).await
        }
        async fn get(&self, key: &str) -> Result<Bytes> {
            self.inner.get(key).await
        }
        async fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<Bytes> {
            let b = self.inner.get_range(key, range).await?;
            if key != self.key || b.is_empty() {
                return Ok(b);
            }
            let mut v = b.to_vec();
            v[0] ^= 1;
            Ok(Bytes::from(v))
        }
        async fn size(&self, key: &str) -> Result<Option<u64>> {
            self.inner.size(key).await
        }
        async fn list(&self, prefix: &str) -> Result<Vec<crate::storage::ObjectInfo>> {
            self.inner.list(prefix).await
        }
        async fn delete(&self, key: &str) -> Result<()> {
            self.inner.delete(key).await
        }
    }

    fn expected(data: &[u8]) -> Expected {
        Expected {
            size: data.len() as u64,
            sha256: sha256_of(data),
        }
    }

    #[tokio::test]
    async fn an_object_is_copied_in_chunks_and_verified_and_left_alone_once_there() {
        let (a, b) = (store(), store());
        let data: Vec<u8> = (0..(CHUNK as usize * 2 + 77)).map(|i| i as u8).collect();
        a.put("backups/x/vol-00000", Bytes::from(data.clone()))
            .await
            .unwrap();
        let s = copy_object(&a, &b, "backups/x/vol-00000", Some(expected(&data)))
            .await
            .unwrap();
        assert_eq!((s.objects, s.bytes, s.present), (1, data.len() as u64, 0));
        assert_eq!(b.get("backups/x/vol-00000").await.unwrap(), &data[..]);
        let again = copy_object(&a, &b, "backups/x/vol-00000", Some(expected(&data)))
            .await
            .unwrap();
        assert_eq!((again.objects, again.present), (0, 1));
    }

    #[tokio::test]
    async fn a_source_object_that_disagrees_with_its_manifest_is_not_copied() {
        let (a, b) = (store(), store());
        a.put("k", Bytes::from_static(b"tampered")).await.unwrap();
        let e = copy_object(&a, &b, "k", Some(expected(b"original")))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
        let e = copy_object(&a, &b, "k", Some(expected(b"tampere!")))
            .await
            .unwrap_err();
        assert!(e.message.contains("SHA-256"), "{e}");
        assert_eq!(b.size("k").await.unwrap(), None, "a bad copy was left");
    }

    #[tokio::test]
    async fn a_replica_that_reads_back_other_bytes_fails_the_copy_and_keeps_nothing() {
        let a = store();
        let inner = store();
        let b: DynStorage = Arc::new(Flipping {
            inner: inner.clone(),
            key: "k".into(),
        });
        a.put("k", Bytes::from_static(b"payload")).await.unwrap();
        let e = copy_object(&a, &b, "k", Some(expected(b"payload")))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Storage, "{e}");
        assert!(e.message.contains("read back"), "{e}");
        assert_eq!(inner.size("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn history_records_are_copied_once() {
        let (a, b) = (store(), store());
        let repo_store = a.clone();
        let repo = Repository::init(repo_store, None).await.unwrap();
        a.put("history/r1", Bytes::from_static(b"one"))
            .await
            .unwrap();
        a.put("history/r2", Bytes::from_static(b"two"))
            .await
            .unwrap();
        b.put("history/r1", Bytes::from_static(b"one"))
            .await
            .unwrap();
        let s = copy_history(&repo, &b).await.unwrap();
        assert_eq!((s.objects, s.present), (1, 1));
        assert_eq!(b.get("history/r2").await.unwrap(), &b"two"[..]);
    }

    #[tokio::test]
    async fn the_config_is_written_once_updated_within_a_repository_and_another_repository_refused()
    {
        let (a, b) = (store(), store());
        let repo = Repository::init(a.clone(), None).await.unwrap();
        assert_eq!(sync_config(&repo, &b).await.unwrap(), ConfigState::Created);
        assert_eq!(sync_config(&repo, &b).await.unwrap(), ConfigState::Same);
        // Same repository, other bytes (an older version of its config).
        let mut c: serde_json::Value =
            serde_json::from_slice(&b.get(CONFIG_KEY).await.unwrap()).unwrap();
        c["version"] = 1.into();
        b.put(CONFIG_KEY, Bytes::from(serde_json::to_vec(&c).unwrap()))
            .await
            .unwrap();
        assert_eq!(sync_config(&repo, &b).await.unwrap(), ConfigState::Updated);
        assert_eq!(
            b.get(CONFIG_KEY).await.unwrap(),
            a.get(CONFIG_KEY).await.unwrap()
        );
        // Another repository there: refused, left as it was.
        let other = store();
        Repository::init(other.clone(), None).await.unwrap();
        let before = other.get(CONFIG_KEY).await.unwrap();
        let e = sync_config(&repo, &other).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused, "{e}");
        assert!(e.message.contains("another repository"), "{e}");
        assert_eq!(other.get(CONFIG_KEY).await.unwrap(), before);
        // A config swapped into the source after it was opened is not spread.
        a.put(CONFIG_KEY, before).await.unwrap();
        let fresh = store();
        let e = sync_config(&repo, &fresh).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Integrity, "{e}");
        assert_eq!(fresh.size(CONFIG_KEY).await.unwrap(), None);
    }
}
