//! The create-only probe: does a store really refuse a second create-only write of one key?
//! `init` asks it of a cloud primary (some S3-compatible servers ignore `If-None-Match`).

use bytes::Bytes;

use super::Storage;
use crate::error::{Error, Result};

/// Probe objects live under the temporary-object prefix and are deleted again.
pub const PROBE_PREFIX: &str = "tmp/create-only-probe-";

/// Write a fresh probe object create-only twice and delete it again: `true` when the store
/// refused the second write and kept the first object's bytes.
pub async fn create_only_enforced(store: &dyn Storage) -> Result<bool> {
    let key = format!("{PROBE_PREFIX}{}", hex::encode(rand::random::<[u8; 8]>()));
    let first = Bytes::from_static(b"create-only probe: first");
    if !store.put_if_absent(&key, first.clone()).await? {
        return Err(Error::storage(format!(
            "{}: the new probe object {key} was reported as existing",
            store.describe()
        ))
        .with_guidance("the store does not answer create-only writes sensibly; check the server"));
    }
    let second = store
        .put_if_absent(&key, Bytes::from_static(b"create-only probe: second"))
        .await;
    let kept = store.get(&key).await;
    let deleted = store.delete(&key).await;
    let enforced = matches!(second, Ok(false)) && kept? == first;
    deleted?;
    Ok(enforced)
}

/// A store that ignores create-only writes (overwrites and says "created"), as some servers do.
#[cfg(test)]
#[derive(Debug)]
pub(crate) struct IgnoresCreateOnly(pub super::DynStorage);

#[cfg(test)]
#[async_trait::async_trait]
impl Storage for IgnoresCreateOnly {
    fn describe(&self) -> String {
        format!("s3://lax-bucket (over {})", self.0.describe())
    }
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        self.0.put(key, data).await
    }
    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
        self.0.put(key, data).await.map(|()| true)
    }
    async fn writer(&self, key: &str) -> Result<Box<dyn super::ObjectWriter>> {
        self.0.writer(key).await
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.0.get(key).await
    }
    async fn get_range(&self, key: &str, range: std::ops::Range<u64>) -> Result<Bytes> {
        self.0.get_range(key, range).await
    }
    async fn size(&self, key: &str) -> Result<Option<u64>> {
        self.0.size(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<super::ObjectInfo>> {
        self.0.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.0.delete(key).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::storage::MemoryStorage;

    #[tokio::test]
    async fn the_probe_tells_an_enforcing_store_from_one_that_overwrites_and_cleans_up() {
        let mem = Arc::new(MemoryStorage::new());
        assert!(create_only_enforced(mem.as_ref()).await.unwrap());
        let lax = IgnoresCreateOnly(mem.clone());
        assert!(!create_only_enforced(&lax).await.unwrap());
        assert!(
            mem.list("tmp/").await.unwrap().is_empty(),
            "probe left behind"
        );
    }
}
