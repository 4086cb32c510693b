//! The backing store: a small object-store trait that everything above speaks, its wrappers, and
//! [`open`], the factory that turns the settings into a store.
//!
//! Keys are `/`-separated relative paths (`backups/<id>/vol-00000`). Writes are atomic: a reader
//! sees a whole object or none. The implementations: [`OpendalStorage`] (the local filesystem;
//! S3 and Azure Blob are meant to come through the same code, and [`open`] refuses them until
//! then), [`MemoryStorage`] for tests, and the wrappers [`RetryStorage`] and [`FaultStorage`].

pub mod bridge;
mod fault;
mod memory;
mod opendal_store;
mod retry;

use std::fmt::Debug;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::error::{Error, Result};
use crate::settings::{StorageSettings, StorageTarget};

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

/// Attempts and first back-off of the retry layer around an opened store.
const RETRY_ATTEMPTS: u32 = 4;
const RETRY_BASE_DELAY: Duration = Duration::from_millis(200);

/// The repository's store as the settings name it: `storage.primary`, or `directory`
/// (`backup.directory`, absolute) when there is none. A local primary (or none) is the local
/// filesystem store wrapped in the retry layer. An s3 or azblob primary is a settings error
/// naming the store (type and bucket or container, never an endpoint or any credential): this
/// version has no cloud store, and it never falls back to `directory` behind the user's back.
/// Opening touches nothing: the folder is created by the first write.
pub fn open(settings: &StorageSettings, directory: &Path) -> Result<DynStorage> {
    let root = match &settings.primary {
        None => directory,
        Some(StorageTarget::Local { path }) => path.as_path(),
        Some(cloud) => return Err(unsupported_primary(cloud)),
    };
    let local: DynStorage = Arc::new(OpendalStorage::local(root)?);
    Ok(Arc::new(RetryStorage::new(
        local,
        RETRY_ATTEMPTS,
        RETRY_BASE_DELAY,
    )))
}

/// The error for a primary store this version cannot open.
fn unsupported_primary(target: &StorageTarget) -> Error {
    let name = match target {
        StorageTarget::Local { path } => format!("folder {}", path.display()),
        StorageTarget::S3 { bucket, .. } => format!("bucket {bucket}"),
        StorageTarget::Azblob { container, .. } => format!("container {container}"),
    };
    Error::settings(format!(
        "the {} primary store ({name}) is not supported yet by this version",
        target.type_name()
    ))
    .with_guidance(
        "use a local primary (backup.directory) until storage support lands; nothing was \
         written",
    )
    .context("backup.storage.primary")
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

#[cfg(test)]
mod open_tests {
    use super::*;
    use crate::error::ErrorKind;

    fn s3() -> StorageTarget {
        StorageTarget::S3 {
            bucket: "dr-bucket".into(),
            endpoint: Some("https://AKIDEXAMPLE:hunter2@s3.example.test".into()),
            region: Some("eu-west-1".into()),
            prefix: Some("host-a".into()),
        }
    }

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
            primary: Some(StorageTarget::Local {
                path: primary.clone(),
            }),
            replicas: Vec::new(),
        };
        let store = open(&settings, &dir).unwrap();
        store.put("b", Bytes::from_static(b"y")).await.unwrap();
        assert!(primary.join("b").is_file());
        assert!(!dir.join("b").exists());
    }

    #[test]
    fn a_cloud_primary_is_a_settings_error_naming_the_store_and_no_secret() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("directory");
        let azblob = StorageTarget::Azblob {
            container: "dr-container".into(),
            endpoint: Some("https://acct.blob.example.test/?sig=SECRETSAS".into()),
            account: Some("acct".into()),
            prefix: None,
        };
        for (target, kind, name) in [
            (s3(), "s3", "bucket dr-bucket"),
            (azblob, "azblob", "container dr-container"),
        ] {
            let settings = StorageSettings {
                primary: Some(target),
                replicas: Vec::new(),
            };
            let e = open(&settings, &dir).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Settings);
            assert_eq!(e.exit_code(), 2);
            assert_eq!(
                e.message,
                format!("the {kind} primary store ({name}) is not supported yet by this version")
            );
            let all = format!("{e} {:?}", e.guidance);
            assert!(
                all.contains("use a local primary (backup.directory)"),
                "{all}"
            );
            for secret in ["hunter2", "AKIDEXAMPLE", "SECRETSAS", "example.test"] {
                assert!(!all.contains(secret), "{secret} in {all}");
            }
            assert!(!dir.exists(), "nothing written");
        }
    }
}

#[cfg(test)]
mod dr_new_tests {
    use crate::error::ErrorKind;
    use crate::ops::Dr;
    use crate::settings::StorageTarget;

    /// The loader refuses a cloud primary today; should one get through (settings built in
    /// code, or a loader that accepts them once storage support is near), `Dr::new` refuses it
    /// too instead of binding to `backup.directory`.
    #[test]
    fn dr_new_refuses_a_cloud_primary_instead_of_falling_back_to_backup_directory() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("settings")).unwrap();
        let config = t.path().join("settings/mahavishnu.yaml");
        std::fs::write(
            &config,
            "backup:\n  directory: ./repo\n  sources: [./data]\n  encryption: { key_path: ./key }\n",
        )
        .unwrap();
        let mut loaded = crate::settings::load(Some(&config), t.path(), &[]).unwrap();
        assert_eq!(loaded.settings.backup.directory, t.path().join("repo"));
        loaded.settings.backup.storage.primary = Some(StorageTarget::S3 {
            bucket: "dr-bucket".into(),
            endpoint: None,
            region: None,
            prefix: None,
        });
        let e = Dr::new(loaded).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Settings);
        assert!(
            e.message.contains("s3 primary store (bucket dr-bucket)"),
            "{e}"
        );
        assert!(!t.path().join("repo").exists());
    }
}
