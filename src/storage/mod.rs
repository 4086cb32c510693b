//! The backing store: a small object-store trait that everything above speaks, and its wrappers.
//!
//! Keys are `/`-separated relative paths (`backups/<id>/vol-00000`). Writes are atomic: a reader
//! sees a whole object or none. The implementations: [`OpendalStorage`] (local filesystem today,
//! S3 and Azure Blob through the same code later), [`MemoryStorage`] for tests, and the wrappers
//! [`RetryStorage`] and [`FaultStorage`].

pub mod bridge;
mod fault;
mod memory;
mod opendal_store;
mod retry;

use std::fmt::Debug;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::Result;

pub use fault::{Fault, FaultStorage};
pub use memory::MemoryStorage;
pub use opendal_store::{OpendalStorage, TMP_PREFIX};
pub use retry::RetryStorage;

/// One stored object, as a listing returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// The object store. Every method is one round trip (or a few) to the backing store.
#[async_trait]
pub trait Storage: Send + Sync + Debug {
    /// Where this store is, for messages (`local:/srv/backups`).
    fn describe(&self) -> String;
    /// Write a whole object, replacing any object of that key atomically.
    async fn put(&self, key: &str, data: Bytes) -> Result<()>;
    /// Write a whole object unless one exists; `Ok(false)` when it existed (nothing written).
    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool>;
    /// Open a streaming writer; the object appears, whole, when the writer closes.
    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>>;
    /// Read a whole object. A missing object is an `ErrorKind::NotFound` error.
    async fn get(&self, key: &str) -> Result<Bytes>;
    /// Read a byte range of an object (shorter at the end of the object).
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes>;
    /// The object's size, or `None` when it does not exist.
    async fn size(&self, key: &str) -> Result<Option<u64>>;
    /// Every object whose key starts with `prefix` (a folder, ending in `/`), recursively.
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>>;
    /// Remove an object; removing a missing object succeeds.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Remove an emptied folder (`prefix` ends in `/`). Stores without folders do nothing.
    async fn delete_folder(&self, _prefix: &str) -> Result<()> {
        Ok(())
    }
}

/// A streaming object write.
#[async_trait]
pub trait ObjectWriter: Send {
    async fn write(&mut self, data: Bytes) -> Result<()>;
    /// Finish the object and make it visible; returns its size.
    async fn close(self: Box<Self>) -> Result<u64>;
    /// Give up: nothing becomes visible.
    async fn abort(self: Box<Self>) -> Result<()>;
}

/// A shared handle to some store.
pub type DynStorage = Arc<dyn Storage>;

/// Join key parts with `/`.
pub fn key(parts: &[&str]) -> String {
    parts.join("/")
}

#[cfg(test)]
pub(crate) mod contract {
    //! The behaviour every [`Storage`] must show; each implementation's tests run it.
    use super::*;

    pub async fn check(store: &dyn Storage) {
        assert_eq!(store.size("a/b").await.unwrap(), None);
        assert_eq!(
            store.get("a/b").await.unwrap_err().kind,
            crate::error::ErrorKind::NotFound
        );
        store
            .put("a/b", Bytes::from_static(b"hello"))
            .await
            .unwrap();
        assert_eq!(
            store.get("a/b").await.unwrap(),
            Bytes::from_static(b"hello")
        );
        assert_eq!(store.size("a/b").await.unwrap(), Some(5));
        assert_eq!(store.get_range("a/b", 1..3).await.unwrap(), &b"el"[..]);
        assert!(
            !store
                .put_if_absent("a/b", Bytes::from_static(b"x"))
                .await
                .unwrap()
        );
        assert_eq!(store.get("a/b").await.unwrap(), &b"hello"[..]);
        assert!(
            store
                .put_if_absent("a/c", Bytes::from_static(b"x"))
                .await
                .unwrap()
        );
        let mut w = store.writer("z/stream").await.unwrap();
        w.write(Bytes::from_static(b"one ")).await.unwrap();
        assert_eq!(
            store.size("z/stream").await.unwrap(),
            None,
            "visible before close"
        );
        w.write(Bytes::from_static(b"two")).await.unwrap();
        assert_eq!(w.close().await.unwrap(), 7);
        assert_eq!(store.get("z/stream").await.unwrap(), &b"one two"[..]);
        let w = store.writer("z/aborted").await.unwrap();
        w.abort().await.unwrap();
        assert_eq!(store.size("z/aborted").await.unwrap(), None);
        let mut keys: Vec<_> = store
            .list("a/")
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect();
        keys.sort();
        assert_eq!(keys, vec!["a/b".to_string(), "a/c".to_string()]);
        assert!(store.list("nothing/").await.unwrap().is_empty());
        store.delete("a/b").await.unwrap();
        store.delete("a/b").await.unwrap();
        assert_eq!(store.size("a/b").await.unwrap(), None);
        create_only_writes_race(store).await;
    }

    /// Create-only writes that race for one key: exactly one writer wins, the object holds the
    /// winner's bytes whole, the losers change nothing, and no temporary object is left.
    async fn create_only_writes_race(store: &dyn Storage) {
        const WRITERS: u8 = 8;
        for round in 0..25 {
            let key = format!("race/config-{round}");
            let body = |i: u8| Bytes::from(vec![i; 64 << 10 | usize::from(i)]);
            let writes = (0..WRITERS).map(|i| store.put_if_absent(&key, body(i)));
            let won: Vec<bool> = futures::future::join_all(writes)
                .await
                .into_iter()
                .map(|r| r.expect("a create-only write failed"))
                .collect();
            let winners: Vec<u8> = (0..WRITERS).filter(|i| won[usize::from(*i)]).collect();
            assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
            assert_eq!(
                store.get(&key).await.unwrap(),
                body(winners[0]),
                "round {round}: the object is not the winner's"
            );
        }
        assert!(
            store.list(TMP_PREFIX).await.unwrap().is_empty(),
            "temporary objects left behind"
        );
    }
}
