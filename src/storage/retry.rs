//! Retries transient storage failures with capped exponential backoff.

use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{DynStorage, ObjectInfo, ObjectWriter, Storage};
use crate::error::Result;

#[derive(Debug, Clone)]
pub struct RetryStorage {
    inner: DynStorage,
    attempts: u32,
    base_delay: Duration,
    /// Retries are expected here (a drill's injected partition): logged at debug, not warn.
    expected: bool,
}

impl RetryStorage {
    pub fn new(inner: DynStorage, attempts: u32, base_delay: Duration) -> Self {
        RetryStorage {
            inner,
            attempts: attempts.max(1),
            base_delay,
            expected: false,
        }
    }

    /// The same, for a store whose failures are injected on purpose: each retry is logged at
    /// debug level (the drill reports the counts), not as a warning.
    pub fn expecting_failures(mut self) -> Self {
        self.expected = true;
        self
    }

    async fn retry<T, F, Fut>(&self, mut f: F) -> Result<T>
    where
        F: FnMut() -> Fut + Send,
        Fut: std::future::Future<Output = Result<T>> + Send,
        T: Send,
    {
        let mut delay = self.base_delay;
        let mut tried = 1;
        loop {
            match f().await {
                Err(e) if e.transient && tried < self.attempts => {
                    if self.expected {
                        tracing::debug!("storage: {} (attempt {tried}, retrying)", e.message);
                    } else {
                        tracing::warn!("storage: {} (attempt {tried}, retrying)", e.message);
                    }
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(10));
                    tried += 1;
                }
                other => return other,
            }
        }
    }
}

#[async_trait]
impl Storage for RetryStorage {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn read_plan(&self) -> super::ReadPlan {
        self.inner.read_plan()
    }
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        self.retry(|| self.inner.put(key, data.clone())).await
    }
    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
        let tries = std::sync::atomic::AtomicU32::new(0);
        let created = self
            .retry(|| {
                tries.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                self.inner.put_if_absent(key, data.clone())
            })
            .await?;
        // A retried create-only write whose earlier attempt did land (the answer was lost, or
        // the call timed out after the store had it) finds its own object: that is a creation.
        if !created && tries.into_inner() > 1 {
            return Ok(self.inner.get(key).await.is_ok_and(|stored| stored == data));
        }
        Ok(created)
    }
    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        // A streaming write cannot be replayed from here; only opening it is retried.
        self.retry(|| self.inner.writer(key)).await
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        self.retry(|| self.inner.get(key)).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        self.retry(|| self.inner.get_range(key, range.clone()))
            .await
    }
    async fn size(&self, key: &str) -> Result<Option<u64>> {
        self.retry(|| self.inner.size(key)).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        self.retry(|| self.inner.list(prefix)).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        self.retry(|| self.inner.delete(key)).await
    }
    async fn delete_folder(&self, prefix: &str) -> Result<()> {
        self.retry(|| self.inner.delete_folder(prefix)).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::storage::{Fault, FaultStorage, MemoryStorage};

    #[tokio::test]
    async fn transient_failures_are_retried_and_permanent_ones_are_not() {
        let mem = Arc::new(MemoryStorage::new());
        let faulty = Arc::new(FaultStorage::new(mem.clone()));
        faulty.inject(Fault::FailNext {
            count: 2,
            transient: true,
        });
        let retry = RetryStorage::new(faulty.clone(), 3, Duration::from_millis(1));
        retry.put("k", Bytes::from_static(b"v")).await.unwrap();
        assert_eq!(mem.get("k").await.unwrap(), &b"v"[..]);

        faulty.inject(Fault::FailNext {
            count: 1,
            transient: false,
        });
        assert!(retry.get("k").await.is_err());
        assert_eq!(retry.get("k").await.unwrap(), &b"v"[..]);
    }

    /// The first attempt of a create-only write lands but its answer is lost: the retry finds
    /// the writer's own bytes and reports a creation; someone else's object stays a refusal.
    #[tokio::test]
    async fn a_retried_create_only_write_that_had_landed_is_a_creation() {
        #[derive(Debug)]
        struct LosesFirstAnswer(Arc<MemoryStorage>, std::sync::atomic::AtomicBool);
        #[async_trait]
        impl Storage for LosesFirstAnswer {
            fn describe(&self) -> String {
                "lossy".into()
            }
            async fn put(&self, key: &str, data: Bytes) -> Result<()> {
                self.0.put(key, data).await
            }
            async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
                let created = self.0.put_if_absent(key, data).await?;
                if self.1.swap(false, std::sync::atomic::Ordering::SeqCst) {
                    let mut e = crate::error::Error::storage("connection reset");
                    e.transient = true;
                    return Err(e);
                }
                Ok(created)
            }
            async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
                self.0.writer(key).await
            }
            async fn get(&self, key: &str) -> Result<Bytes> {
                self.0.get(key).await
            }
            async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
                self.0.get_range(key, range).await
            }
            async fn size(&self, key: &str) -> Result<Option<u64>> {
                self.0.size(key).await
            }
            async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
                self.0.list(prefix).await
            }
            async fn delete(&self, key: &str) -> Result<()> {
                self.0.delete(key).await
            }
        }
        let mem = Arc::new(MemoryStorage::new());
        let lossy = Arc::new(LosesFirstAnswer(
            mem.clone(),
            std::sync::atomic::AtomicBool::new(true),
        ));
        let retry = RetryStorage::new(lossy.clone(), 3, Duration::from_millis(1));
        assert!(
            retry
                .put_if_absent("m", Bytes::from_static(b"mine"))
                .await
                .unwrap()
        );
        lossy.1.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(
            !retry
                .put_if_absent("m", Bytes::from_static(b"other"))
                .await
                .unwrap()
        );
        assert_eq!(mem.get("m").await.unwrap(), &b"mine"[..]);
    }
}
