//! Fault injection: a store wrapper that fails, corrupts, stalls or vanishes on demand (tests,
//! and the DR drills' region loss and network partition).

use std::ops::Range;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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
    /// A flaky network: on a seeded share of calls an error or a stall, on the others added
    /// latency.
    Partition(Partition),
}

/// A network partition as the drills inject it. Every call draws from a generator seeded with
/// `seed`, so a run can be repeated.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    pub seed: u64,
    /// Calls that fail at once with a transient error, in percent.
    pub error_percent: u32,
    /// Calls that stall for `stall` first (a timeout layer above gives up on them), in percent.
    pub stall_percent: u32,
    pub stall: Duration,
    /// Every other call waits up to this long first.
    pub max_latency: Duration,
}

/// What the faults did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultStats {
    /// Calls that reached this layer.
    pub calls: u64,
    /// Calls failed by a fault.
    pub failed: u64,
    /// Calls stalled by a partition.
    pub stalled: u64,
    /// Calls delayed by a partition's latency.
    pub delayed: u64,
}

#[derive(Debug, Clone)]
pub struct FaultStorage {
    inner: DynStorage,
    faults: Arc<Mutex<Vec<Fault>>>,
    state: Arc<Mutex<State>>,
}

#[derive(Debug, Default)]
struct State {
    rng: Option<StdRng>,
    stats: FaultStats,
}

impl FaultStorage {
    pub fn new(inner: DynStorage) -> Self {
        FaultStorage {
            inner,
            faults: Arc::new(Mutex::new(Vec::new())),
            state: Arc::default(),
        }
    }

    pub fn inject(&self, fault: Fault) {
        if let Fault::Partition(p) = &fault {
            self.state().rng = Some(StdRng::seed_from_u64(p.seed));
        }
        self.faults().push(fault);
    }

    /// What the faults did since this layer was made.
    pub fn stats(&self) -> FaultStats {
        self.state().stats
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decide this call's fate, then wait as a partition says: an error, or go on.
    async fn gate(&self, key: &str, write: bool) -> Result<()> {
        let wait = self
            .check(key, write)
            .inspect_err(|_| self.state().stats.failed += 1)?;
        if let Some(d) = wait {
            tokio::time::sleep(d).await;
        }
        Ok(())
    }

    pub fn clear(&self) {
        self.faults().clear();
    }

    fn faults(&self) -> MutexGuard<'_, Vec<Fault>> {
        // A poisoned lock only means a panicking test held it; the fault list is still usable.
        self.faults.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Decide whether this operation fails (consumes one FailNext count), or how long it waits.
    fn check(&self, key: &str, write: bool) -> Result<Option<Duration>> {
        self.state().stats.calls += 1;
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
                Fault::Partition(p) => {
                    let mut st = self.state();
                    let st = &mut *st;
                    let rng = st.rng.get_or_insert_with(|| StdRng::seed_from_u64(p.seed));
                    let roll = rng.random_range(0..100u32);
                    if roll < p.error_percent {
                        let mut e = Error::storage(format!(
                            "injected fault: network partition, {key} unreachable"
                        ));
                        e.transient = true;
                        return Err(e);
                    }
                    if roll < p.error_percent + p.stall_percent {
                        st.stats.stalled += 1;
                        return Ok(Some(p.stall));
                    }
                    let max = p.max_latency.as_millis() as u64;
                    if max > 0 {
                        st.stats.delayed += 1;
                        return Ok(Some(Duration::from_millis(rng.random_range(0..=max))));
                    }
                }
                _ => {}
            }
        }
        Ok(None)
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
        self.gate(key, true).await?;
        self.inner.put(key, data).await
    }
    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
        self.gate(key, true).await?;
        self.inner.put_if_absent(key, data).await
    }
    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        self.gate(key, true).await?;
        self.inner.writer(key).await
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.gate(key, false).await?;
        let data = self.inner.get(key).await?;
        Ok(self.corrupt(key, 0, data))
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.gate(key, false).await?;
        let start = range.start;
        let data = self.inner.get_range(key, range).await?;
        Ok(self.corrupt(key, start, data))
    }
    async fn size(&self, key: &str) -> Result<Option<u64>> {
        self.gate(key, false).await?;
        self.inner.size(key).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.gate(prefix, false).await?;
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.gate(key, true).await?;
        self.inner.delete(key).await
    }
    async fn delete_folder(&self, prefix: &str) -> Result<()> {
        self.gate(prefix, true).await?;
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
