//! An in-memory store for tests: a map from key to bytes behind a mutex.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};

use super::{ObjectInfo, ObjectWriter, Storage};
use crate::error::{Error, Result};

#[derive(Debug, Default, Clone)]
pub struct MemoryStorage {
    objects: Arc<Mutex<BTreeMap<String, Bytes>>>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    fn map(&self) -> MutexGuard<'_, BTreeMap<String, Bytes>> {
        // A poisoned lock means a test already panicked while holding it; keep going with the data.
        self.objects.lock().unwrap_or_else(|p| p.into_inner())
    }
}

fn missing(key: &str) -> Error {
    Error::not_found(format!("object {key} does not exist in memory storage"))
}

#[async_trait]
impl Storage for MemoryStorage {
    fn describe(&self) -> String {
        "memory:".to_string()
    }
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        self.map().insert(key.to_string(), data);
        Ok(())
    }
    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
        let mut map = self.map();
        if map.contains_key(key) {
            return Ok(false);
        }
        map.insert(key.to_string(), data);
        Ok(true)
    }
    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        Ok(Box::new(MemoryWriter {
            store: self.clone(),
            key: key.to_string(),
            buf: BytesMut::new(),
        }))
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.map().get(key).cloned().ok_or_else(|| missing(key))
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let data = self.get(key).await?;
        let len = data.len() as u64;
        let start = range.start.min(len) as usize;
        let end = range.end.min(len) as usize;
        Ok(data.slice(start..end.max(start)))
    }
    async fn size(&self, key: &str) -> Result<Option<u64>> {
        Ok(self.map().get(key).map(|b| b.len() as u64))
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        Ok(self
            .map()
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| ObjectInfo {
                key: k.clone(),
                size: v.len() as u64,
            })
            .collect())
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.map().remove(key);
        Ok(())
    }
}

struct MemoryWriter {
    store: MemoryStorage,
    key: String,
    buf: BytesMut,
}

#[async_trait]
impl ObjectWriter for MemoryWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.buf.extend_from_slice(&data);
        Ok(())
    }
    async fn close(self: Box<Self>) -> Result<u64> {
        let len = self.buf.len() as u64;
        self.store.map().insert(self.key, self.buf.freeze());
        Ok(len)
    }
    async fn abort(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn memory_storage_meets_the_contract() {
        super::super::contract::check(&super::MemoryStorage::new()).await;
    }
}
