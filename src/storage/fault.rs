//! Fault injection: a store wrapper that fails, corrupts or vanishes on demand (for tests; DR
//! drills may use it once they exist).

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use bytes::Bytes;

use super::{DynStorage, ObjectInfo, ObjectWriter, Storage};
use crate::error::{Error, Result};

/// One injected fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// The next `count` operations fail.
    FailNext { count: u32, transient: bool },
    /// Every operation fails, as if the store were gone (region loss, partition).
    Unavailable,
    /// Reads of keys containing `key_contains` return the data with one byte flipped at `offset`.
    CorruptReads { key_contains: String, offset: u64 },
    /// Writes of keys containing `key_contains` fail (a full disk for that object).
    FailWrites { key_contains: String },
}

#[derive(Debug, Clone)]
pub struct FaultStorage {
    inner: DynStorage,
    faults: Arc<Mutex<Vec<Fault>>>,
}

impl FaultStorage {
    pub fn new(inner: DynStorage) -> Self {
        FaultStorage {
            inner,
            faults: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn inject(&self, fault: Fault) {
        self.faults().push(fault);
    }

    pub fn clear(&self) {
        self.faults().clear();
    }

    fn faults(&self) -> MutexGuard<'_, Vec<Fault>> {
        // A poisoned lock only means a panicking test held it; the fault list is still usable.
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decide whether this operation fails; consumes one FailNext count.
    fn check(&self, key: &str, write: bool) -> Result<()> {
        let mut faults = self.faults();
        for i in 0..faults.len() {
            match &mut faults[i] {
                Fault::Unavailable => {
                    let mut e =
                        Error::storage(format!("injected fault: storage unavailable ({key})"));
                    e.transient = true;
                    return Err(e);
                }
                Fault::FailNext { count, transient } => {
                    let transient = *transient;
                    *count -= 1;
                    if *count == 0 {
                        faults.remove(i);
                    }
                    let mut e =
                        Error::storage(format!("injected fault: operation on {key} failed"));
                    e.transient = transient;
                    return Err(e);
                }
                Fault::FailWrites { key_contains }
                    if write && key.contains(key_contains.as_str()) =>
                {
                    return Err(Error::storage(format!(
                        "injected fault: no space left writing {key}"
                    )));
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn corrupt(&self, key: &str, start: u64, data: Bytes) -> Bytes {
        let faults = self.faults();
        let mut data = data;
        for f in faults.iter() {
            if let Fault::CorruptReads {
                key_contains,
                offset,
            } = f
                && key.contains(key_contains.as_str())
                && *offset >= start
                && *offset < start + data.len() as u64
            {
                let mut v = data.to_vec();
                v[(*offset - start) as usize] ^= 0x01;
                data = Bytes::from(v);
            }
        }
        data
    }
}

#[async_trait]
impl Storage for FaultStorage {
    fn describe(&self) -> String {
        format!("faulty({})", self.inner.describe())
    }
    fn read_plan(&self) -> super::ReadPlan {
        self.inner.read_plan()
    }
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        self.check(key, true)?;
        self.inner.put(key, data).await
    }
    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
        self.check(key, true)?;
        self.inner.put_if_absent(key, data).await
    }
    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        self.check(key, true)?;
        self.inner.writer(key).await
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.check(key, false)?;
        let data = self.inner.get(key).await?;
        Ok(self.corrupt(key, 0, data))
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.check(key, false)?;
        let start = range.start;
        let data = self.inner.get_range(key, range).await?;
        Ok(self.corrupt(key, start, data))
    }
    async fn size(&self, key: &str) -> Result<Option<u64>> {
        self.check(key, false)?;
        self.inner.size(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.check(prefix, false)?;
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.check(key, true)?;
        self.inner.delete(key).await
    }
    async fn delete_folder(&self, prefix: &str) -> Result<()> {
        self.check(prefix, true)?;
        self.inner.delete_folder(prefix).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MemoryStorage;

    #[tokio::test]
    async fn faults_fail_corrupt_and_vanish() {
        let store = FaultStorage::new(Arc::new(MemoryStorage::new()));
        store
            .put("backups/x/vol-00000", Bytes::from_static(b"abcd"))
            .await
            .unwrap();
        store.inject(Fault::CorruptReads {
            key_contains: "vol-".into(),
            offset: 2,
        });
        assert_eq!(
            store.get("backups/x/vol-00000").await.unwrap(),
            &b"abbd"[..]
        );
        assert_eq!(
            store.get_range("backups/x/vol-00000", 2..4).await.unwrap(),
            &b"bd"[..]
        );
        store.clear();
        store.inject(Fault::FailWrites {
            key_contains: "manifest".into(),
        });
        assert!(store.put("backups/x/manifest", Bytes::new()).await.is_err());
        store.put("backups/x/other", Bytes::new()).await.unwrap();
        store.inject(Fault::Unavailable);
        assert!(store.list("backups/").await.is_err());
    }
}
