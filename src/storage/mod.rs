//! The backing store: a small object-store trait that everything above speaks, its wrappers, and
//! [`open`], the factory that turns the settings into a store.
//!
//! Keys are `/`-separated relative paths (`backups/<id>/vol-00000`). Writes are atomic: a reader
//! sees a whole object or none. The implementations: [`OpendalStorage`] (the local filesystem),
//! [`CloudStorage`] (S3 and Azure Blob, also through OpenDAL), [`MemoryStorage`] for tests, and
//! the wrappers [`RetryStorage`], [`TimeoutStorage`] and [`FaultStorage`], and [`AsOfStorage`],
//! the read-only view of a versioned S3 store at an instant; [`probe`] checks that a store
//! enforces create-only writes.

mod as_of;
pub mod bridge;
mod cloud;
mod fault;
mod memory;
pub mod object_lock;
mod opendal_store;
pub mod probe;
mod retry;
mod timeout;

use std::fmt::Debug;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::Result;
use crate::settings::{NamedStore, StorageSettings, StorageTarget};

pub use as_of::AsOfStorage;
pub use cloud::{CloudStorage, ObjectVersion, without_credential_logs};
pub use fault::{Fault, FaultStats, FaultStorage, Partition};
pub use memory::MemoryStorage;
pub use opendal_store::{OpendalStorage, TMP_PREFIX};
pub use retry::RetryStorage;
pub use timeout::TimeoutStorage;

/// One stored object, as a listing returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub key: String,
    pub size: u64,
}

/// How a streaming reader should read one object from a store: in ranges of `chunk` bytes,
/// `in_flight` of them requested at once (a reader holds at most `chunk * (in_flight + 2)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadPlan {
    pub chunk: u64,
    pub in_flight: usize,
}

impl ReadPlan {
    /// A local disk: small ranges, two requested ahead.
    pub const LOCAL: ReadPlan = ReadPlan {
        chunk: 1 << 20,
        in_flight: 2,
    };
    /// Object storage: each request costs a round trip, so larger ranges, several at once.
    pub const REMOTE: ReadPlan = ReadPlan {
        chunk: 2 << 20,
        in_flight: 4,
    };

    /// Requests wait on round trips (more are asked for ahead than on a local disk): readers
    /// then plan their reads ahead and overlap phases.
    pub fn waits_on_round_trips(self) -> bool {
        self.in_flight > ReadPlan::LOCAL.in_flight
    }
}

/// The object store. Every method is one round trip (or a few) to the backing store.
#[async_trait]
pub trait Storage: Send + Sync + Debug {
    /// Where this store is, for messages (`local:/srv/backups`).
    fn describe(&self) -> String;
    /// How to read large objects from it ([`ReadPlan::LOCAL`] unless the store says otherwise).
    fn read_plan(&self) -> ReadPlan {
        ReadPlan::LOCAL
    }
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

/// Attempts and first back-off of the retry layer around an opened store.
const RETRY_ATTEMPTS: u32 = 4;
const RETRY_BASE_DELAY: Duration = Duration::from_millis(200);

/// The repository's primary store as the settings name it: `storage.primary`, or `directory`
/// (`backup.directory`, absolute) when there is none. See [`open_store`].
pub fn open(settings: &StorageSettings, directory: &Path) -> Result<DynStorage> {
    open_store(&settings.primary_store(directory))
}

/// Open one named store (the primary or a replica). A local folder is the local filesystem
/// store wrapped in the retry layer; an s3 or azblob store is a [`CloudStorage`] wrapped, from
/// the inside out, in the timeout and the retry layers. Opening touches nothing: a local folder
/// is created by the first write, a cloud store is first contacted by the first call.
pub fn open_store(store: &NamedStore) -> Result<DynStorage> {
    let opened: DynStorage = match &store.target {
        StorageTarget::Local { path, .. } => Arc::new(OpendalStorage::local(path)?),
        cloud => {
            let opened = CloudStorage::open(cloud).map_err(|e| e.context(store.setting.clone()))?;
            Arc::new(TimeoutStorage::new(Arc::new(opened), cloud.call_timeout()))
        }
    };
    Ok(Arc::new(RetryStorage::new(
        opened,
        RETRY_ATTEMPTS,
        RETRY_BASE_DELAY,
    )))
}

/// One named store as it was at `at` (`--store-as-of`): an S3 store read through its object
/// versions ([`AsOfStorage`]), read-only, in the same timeout and retry layers as
/// [`open_store`]. Other stores keep no versions: a usage error says so.
pub fn open_store_as_of(
    store: &NamedStore,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<DynStorage> {
    let target = &store.target;
    if !matches!(target, StorageTarget::S3 { .. }) {
        return Err(crate::error::Error::usage(format!(
            "--store-as-of reads an S3 store's object versions, and {} ({}) keeps none",
            store.name,
            target.display_name()
        ))
        .with_guidance(
            "use it on an S3 store whose bucket keeps versions (object lock, immutable: true), \
             with --repository NAME for a replica; read other stores as they are now",
        ));
    }
    let cloud = CloudStorage::open(target).map_err(|e| e.context(store.setting.clone()))?;
    let view: DynStorage = Arc::new(AsOfStorage::new(cloud, at));
    Ok(Arc::new(RetryStorage::new(
        Arc::new(TimeoutStorage::new(view, target.call_timeout())),
        RETRY_ATTEMPTS,
        RETRY_BASE_DELAY,
    )))
}

/// Every object version and delete marker under `prefixes` of the S3 store `store` (one whose
/// bucket keeps versions), each listing bounded by the store's call timeout: a store that does
/// not answer is an error, not a wait.
pub async fn object_versions(store: &NamedStore, prefixes: &[&str]) -> Result<Vec<ObjectVersion>> {
    let cloud = CloudStorage::open(&store.target).map_err(|e| e.context(store.setting.clone()))?;
    let limit = store.target.call_timeout();
    let mut all = Vec::new();
    for prefix in prefixes {
        let listing = cloud.versions(prefix);
        all.extend(
            timeout::bounded(limit, &store.name, "list versions of", prefix, listing).await?,
        );
    }
    Ok(all)
}

/// The behaviour every [`Storage`] must show: each implementation's tests run it (the cloud
/// stores' tests on real servers). Public for those tests, not part of the API.
#[doc(hidden)]
pub mod contract {
    use super::*;

    /// Run every check on `store` (an empty store or prefix); panics on the first failure.
    pub async fn check(store: &dyn Storage) {
        assert_eq!(store.size("a/b").await.unwrap(), None);
        let e = store.get("a/b").await.unwrap_err();
        assert_eq!(e.kind, crate::error::ErrorKind::NotFound, "{e}");
        store
            .put("a/b", Bytes::from_static(b"hello"))
            .await
            .unwrap();
        assert_eq!(store.get("a/b").await.unwrap(), &b"hello"[..]);
        assert_eq!(store.size("a/b").await.unwrap(), Some(5));
        assert_eq!(store.get_range("a/b", 1..3).await.unwrap(), &b"el"[..]);
        assert_eq!(store.get_range("a/b", 3..100).await.unwrap(), &b"lo"[..]);
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
        streaming_writes(store).await;
        let mut keys: Vec<_> = store
            .list("a/")
            .await
            .unwrap()
            .into_iter()
            .map(|o| (o.key, o.size))
            .collect();
        keys.sort();
        assert_eq!(keys, vec![("a/b".to_string(), 5), ("a/c".to_string(), 1)]);
        assert!(store.list("nothing/").await.unwrap().is_empty());
        store.delete("a/b").await.unwrap();
        store.delete("a/b").await.unwrap();
        assert_eq!(store.size("a/b").await.unwrap(), None);
        create_only_writes_race(store).await;
    }

    /// A streaming write of several 8 MiB upload parts is invisible until closed, then whole,
    /// with ranged reads across a part boundary; an aborted one leaves nothing.
    async fn streaming_writes(store: &dyn Storage) {
        let part = 8 << 20;
        let big: Vec<u8> = (0..(2 * part + 12345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let mut w = store.writer("z/stream").await.unwrap();
        for chunk in big.chunks(1 << 20) {
            w.write(Bytes::copy_from_slice(chunk)).await.unwrap();
        }
        assert_eq!(
            store.size("z/stream").await.unwrap(),
            None,
            "visible before close"
        );
        assert_eq!(w.close().await.unwrap(), big.len() as u64);
        assert_eq!(
            store.size("z/stream").await.unwrap(),
            Some(big.len() as u64)
        );
        let r = (part as u64 - 100)..(part as u64 + 100);
        assert_eq!(
            store.get_range("z/stream", r.clone()).await.unwrap(),
            &big[r.start as usize..r.end as usize]
        );
        assert_eq!(store.get("z/stream").await.unwrap(), &big[..]);
        let mut w = store.writer("z/aborted").await.unwrap();
        w.write(Bytes::from(vec![1u8; part + 1])).await.unwrap();
        w.abort().await.unwrap();
        assert_eq!(store.size("z/aborted").await.unwrap(), None);
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

#[cfg(test)]
mod open_tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::settings::Secret;

    #[tokio::test]
    async fn no_primary_opens_backup_directory_and_a_local_primary_its_path() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("directory");
        let primary = t.path().join("primary");
        let store = open(&StorageSettings::default(), &dir).unwrap();
        assert!(!dir.exists(), "opening writes nothing");
        assert!(store.describe().contains(&dir.display().to_string()));
        store.put("a", Bytes::from_static(b"x")).await.unwrap();
        assert!(dir.join("a").is_file());
        let settings = StorageSettings {
            primary: Some(StorageTarget::local(primary.clone())),
            replicas: Vec::new(),
        };
        let store = open(&settings, &dir).unwrap();
        store.put("b", Bytes::from_static(b"y")).await.unwrap();
        assert!(primary.join("b").is_file());
        assert!(!dir.join("b").exists());
    }

    /// A cloud primary opens without contacting anything, is named by its bucket or container
    /// and prefix, and an unreachable endpoint is a clear error naming the store, no secret.
    #[tokio::test]
    async fn a_cloud_primary_is_named_by_bucket_and_prefix_and_an_unreachable_one_says_so() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("directory");
        // A port nothing listens on: bind one, then free it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let endpoint = format!("http://127.0.0.1:{port}");
        let s3 = StorageTarget::S3 {
            bucket: "dr-bucket".into(),
            prefix: Some("/host-a/".into()),
            region: Some("eu-west-1".into()),
            endpoint: Some(endpoint.clone()),
            access_key_id: Some("AKIDEXAMPLE".into()),
            secret_access_key: Some(Secret::new("hunter2-s3-secret")),
            session_token: None,
            force_path_style: None,
            allow_unenforced_create_only: false,
            lock_mode: Default::default(),
            timeout_seconds: None,
            name: None,
            immutable: false,
        };
        let azblob = StorageTarget::Azblob {
            container: "dr-container".into(),
            prefix: None,
            account: Some("devstoreaccount1".into()),
            endpoint: Some(format!("{endpoint}/devstoreaccount1")),
            account_key: None,
            sas_token: Some(Secret::new("sv=2024&sig=SECRETSAS")),
            allow_unenforced_create_only: false,
            timeout_seconds: None,
            name: None,
            immutable: false,
        };
        for (target, name) in [
            (s3, "s3://dr-bucket/host-a"),
            (azblob, "azblob://dr-container"),
        ] {
            let settings = StorageSettings {
                primary: Some(target),
                replicas: Vec::new(),
            };
            let store = open(&settings, &dir).unwrap();
            assert_eq!(store.describe(), name);
            let e = store.get("config").await.unwrap_err();
            assert_eq!(e.kind, ErrorKind::Storage, "{e}");
            assert_eq!(
                e.message,
                format!("cannot reach {name} (endpoint 127.0.0.1:{port}) to read config")
            );
            let all = format!("{e} {e:?}");
            assert!(all.contains("check the endpoint"), "{all}");
            for secret in ["hunter2", "SECRETSAS"] {
                assert!(!all.contains(secret), "{secret} in {all}");
            }
            assert!(!dir.exists(), "nothing written locally");
        }
    }
}
