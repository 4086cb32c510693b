//! Bounds every store call (and every call of a streaming writer) by a timeout: a call that
//! hangs fails as a transient storage error, so the retry layer around this one tries it again.

use std::future::Future;
use std::ops::Range;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{DynStorage, ObjectInfo, ObjectWriter, Storage};
use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct TimeoutStorage {
    inner: DynStorage,
    limit: Duration,
}

impl TimeoutStorage {
    pub fn new(inner: DynStorage, limit: Duration) -> Self {
        TimeoutStorage { inner, limit }
    }
}

/// Run `call` (an `action` on `key` of `store`) for at most `limit`.
pub(super) async fn bounded<T>(
    limit: Duration,
    store: &str,
    action: &str,
    key: &str,
    call: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, call).await {
        Ok(r) => r,
        Err(_) => {
            let mut e = Error::storage(format!(
                "{store}: {action} {key} did not finish within {} s",
                limit.as_secs_f64()
            ))
            .with_guidance(
                "the store is slow or not answering: check the network and the service, then \
                 run the command again",
            );
            e.transient = true;
            Err(e)
        }
    }
}

#[async_trait]
impl Storage for TimeoutStorage {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn read_plan(&self) -> super::ReadPlan {
        self.inner.read_plan()
    }
    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        let d = self.describe();
        bounded(self.limit, &d, "write", key, self.inner.put(key, data)).await
    }
    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
        let d = self.describe();
        let call = self.inner.put_if_absent(key, data);
        bounded(self.limit, &d, "write", key, call).await
    }
    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        let d = self.describe();
        let w = bounded(self.limit, &d, "create", key, self.inner.writer(key)).await?;
        Ok(Box::new(TimeoutWriter {
            inner: w,
            limit: self.limit,
            store: d,
            key: key.to_string(),
        }))
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        let d = self.describe();
        bounded(self.limit, &d, "read", key, self.inner.get(key)).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let d = self.describe();
        let call = self.inner.get_range(key, range);
        bounded(self.limit, &d, "read", key, call).await
    }
    async fn size(&self, key: &str) -> Result<Option<u64>> {
        let d = self.describe();
        bounded(self.limit, &d, "stat", key, self.inner.size(key)).await
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let d = self.describe();
        bounded(self.limit, &d, "list", prefix, self.inner.list(prefix)).await
    }
    async fn delete(&self, key: &str) -> Result<()> {
        let d = self.describe();
        bounded(self.limit, &d, "delete", key, self.inner.delete(key)).await
    }
    async fn delete_folder(&self, prefix: &str) -> Result<()> {
        let d = self.describe();
        let call = self.inner.delete_folder(prefix);
        bounded(self.limit, &d, "delete", prefix, call).await
    }
}

/// A streaming writer whose every call is bounded (a part upload, the final commit).
struct TimeoutWriter {
    inner: Box<dyn ObjectWriter>,
    limit: Duration,
    store: String,
    key: String,
}

#[async_trait]
impl ObjectWriter for TimeoutWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        let call = self.inner.write(data);
        bounded(self.limit, &self.store, "write", &self.key, call).await
    }
    async fn close(self: Box<Self>) -> Result<u64> {
        let TimeoutWriter {
            inner,
            limit,
            store,
            key,
        } = *self;
        bounded(limit, &store, "write", &key, inner.close()).await
    }
    async fn abort(self: Box<Self>) -> Result<()> {
        let TimeoutWriter {
            inner,
            limit,
            store,
            key,
        } = *self;
        bounded(limit, &store, "abort", &key, inner.abort()).await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::storage::{MemoryStorage, RetryStorage};

    /// A store whose first `slow` reads hang far longer than any test waits.
    #[derive(Debug)]
    struct Slow {
        inner: MemoryStorage,
        slow: AtomicU32,
        calls: AtomicU32,
    }

    #[async_trait]
    impl Storage for Slow {
        fn describe(&self) -> String {
            "slow".into()
        }
        async fn put(&self, key: &str, data: Bytes) -> Result<()> {
            self.inner.put(key, data).await
        }
        async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
            self.inner.put_if_absent(key, data).await
        }
        async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
            self.inner.writer(key).await
        }
        async fn get(&self, key: &str) -> Result<Bytes> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            let left = self.slow.load(Ordering::SeqCst);
            if left > 0 {
                self.slow.store(left - 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            self.inner.get(key).await
        }
        async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
            self.inner.get_range(key, range).await
        }
        async fn size(&self, key: &str) -> Result<Option<u64>> {
            self.inner.size(key).await
        }
        async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
            self.inner.list(prefix).await
        }
        async fn delete(&self, key: &str) -> Result<()> {
            self.inner.delete(key).await
        }
    }

    #[tokio::test]
    async fn a_hanging_call_is_timed_out_and_retried_not_waited_out() {
        let slow = Arc::new(Slow {
            inner: MemoryStorage::new(),
            slow: AtomicU32::new(2),
            calls: AtomicU32::new(0),
        });
        slow.put("k", Bytes::from_static(b"v")).await.unwrap();
        let timed = Arc::new(TimeoutStorage::new(slow.clone(), Duration::from_millis(50)));
        let store = RetryStorage::new(timed.clone(), 4, Duration::from_millis(1));
        let started = std::time::Instant::now();
        assert_eq!(store.get("k").await.unwrap(), &b"v"[..]);
        assert_eq!(
            slow.calls.load(Ordering::SeqCst),
            3,
            "two timed out, the third answered"
        );
        assert!(started.elapsed() < Duration::from_secs(5));

        // Without retries left, the timeout is a clear transient storage error.
        slow.slow.store(1, Ordering::SeqCst);
        let e = timed.get("k").await.unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::Storage);
        assert!(e.transient);
        assert_eq!(e.message, "slow: read k did not finish within 0.05 s");
    }
}
