//! The OpenDAL-backed store on the local filesystem (S3 and Azure Blob are its sibling,
//! `cloud.rs`, over the same OpenDAL).
//!
//! Create-only writes on the local filesystem do not use OpenDAL's `if_not_exists` (a check, then
//! a rename over the name: two writers can both "create" the object). They write a temporary file
//! in `tmp/`, fsync it, and `link()` it to the final name, which fails atomically when the name
//! exists; the parent folder is fsynced so the new name survives a crash.

use std::io::Write;
use std::ops::Range;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use opendal::{ErrorKind as OdKind, Operator};

use super::{ObjectInfo, ObjectWriter, Storage};
use crate::error::{Error, Result};

/// Temporary files of atomic writes live here, inside the repository, so a rename publishes them.
pub const TMP_PREFIX: &str = "tmp/";

/// Both operators are built on first use, because building OpenDAL's filesystem service creates
/// its root (and atomic-write) folders: a read-only command, or one pointed at a mistyped path,
/// must not leave folders behind. Reads of a root that does not exist find nothing.
#[derive(Debug, Clone)]
pub struct OpendalStorage {
    read_op: Arc<tokio::sync::OnceCell<Operator>>,
    write_op: Arc<tokio::sync::OnceCell<Operator>>,
    root: String,
    /// The repository folder, for a local store (create-only writes link files there).
    local_root: Option<PathBuf>,
    describe: String,
}

impl OpendalStorage {
    /// A repository folder on the local filesystem (created by the first write).
    pub fn local(root: &Path) -> Result<Self> {
        let root_str = root.to_str().ok_or_else(|| {
            Error::settings(format!("repository path {} is not UTF-8", root.display()))
        })?;
        Ok(OpendalStorage {
            read_op: Arc::new(tokio::sync::OnceCell::new()),
            write_op: Arc::new(tokio::sync::OnceCell::new()),
            root: root_str.to_string(),
            local_root: Some(root.to_path_buf()),
            describe: format!("local:{}", root.display()),
        })
    }

    /// The operator for reads, or `None` while the root folder does not exist.
    async fn readable(&self) -> Result<Option<&Operator>> {
        if let Some(op) = self.read_op.get() {
            return Ok(Some(op));
        }
        if !Path::new(&self.root).is_dir() {
            return Ok(None);
        }
        self.read_op
            .get_or_try_init(|| async {
                Operator::new(opendal::services::Fs::default().root(&self.root))
                    .map_err(|e| map_err(e, "open", &self.root))
            })
            .await
            .map(Some)
    }

    async fn writable(&self) -> Result<&Operator> {
        self.write_op
            .get_or_try_init(|| async {
                let tmp = Path::new(&self.root).join(TMP_PREFIX);
                let builder = opendal::services::Fs::default()
                    .root(&self.root)
                    .atomic_write_dir(&tmp.to_string_lossy());
                Operator::new(builder).map_err(|e| map_err(e, "open", &self.root))
            })
            .await
    }
}

/// The objects (files) of an OpenDAL listing.
pub(super) fn objects_of(entries: Vec<opendal::Entry>) -> Vec<ObjectInfo> {
    entries
        .into_iter()
        .filter(|e| e.metadata().is_file())
        .map(|e| ObjectInfo {
            key: e.path().to_string(),
            size: e.metadata().content_length(),
        })
        .collect()
}

fn map_err(e: opendal::Error, action: &str, key: &str) -> Error {
    let mut err = match e.kind() {
        OdKind::NotFound => Error::not_found(format!("object {key} does not exist")),
        OdKind::PermissionDenied => Error::storage(format!("permission denied to {action} {key}"))
            .with_guidance("check the permissions of the repository folder"),
        _ => {
            let msg = e.to_string();
            let full = msg.contains("No space left") || msg.contains("os error 28");
            let err = Error::storage(format!("cannot {action} {key}: {msg}"));
            if full {
                err.with_guidance(
                    "the repository's disk is full: free space or run `mahavishnu-dr backup cleanup`; \
                     nothing already stored was changed",
                )
            } else {
                err
            }
        }
    };
    err.transient = e.is_temporary();
    err.with_source(e)
}

#[async_trait]
impl Storage for OpendalStorage {
    fn describe(&self) -> String {
        self.describe.clone()
    }

    async fn put(&self, key: &str, data: Bytes) -> Result<()> {
        self.writable()
            .await?
            .write(key, data)
            .await
            .map(|_| ())
            .map_err(|e| map_err(e, "write", key))
    }

    async fn put_if_absent(&self, key: &str, data: Bytes) -> Result<bool> {
        let op = self.writable().await?;
        if let Some(root) = &self.local_root {
            let (root, key) = (root.clone(), key.to_string());
            return tokio::task::spawn_blocking(move || create_new_local(&root, &key, &data))
                .await
                .unwrap_or_else(|e| {
                    Err(Error::internal(format!("create-only write failed: {e}")))
                });
        }
        match op.write_with(key, data).if_not_exists(true).await {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == OdKind::ConditionNotMatch => Ok(false),
            Err(e) => Err(map_err(e, "write", key)),
        }
    }

    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        let w = self
            .writable()
            .await?
            .writer(key)
            .await
            .map_err(|e| map_err(e, "create", key))?;
        Ok(Box::new(OpendalWriter {
            w,
            key: key.to_string(),
        }))
    }

    async fn get(&self, key: &str) -> Result<Bytes> {
        let Some(op) = self.readable().await? else {
            return Err(Error::not_found(format!("object {key} does not exist")));
        };
        op.read(key)
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| map_err(e, "read", key))
    }

    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        if range.start >= range.end {
            return Ok(Bytes::new());
        }
        let size = self
            .size(key)
            .await?
            .ok_or_else(|| Error::not_found(format!("object {key} does not exist")))?;
        let end = range.end.min(size);
        if range.start >= end {
            return Ok(Bytes::new());
        }
        let Some(op) = self.readable().await? else {
            return Err(Error::not_found(format!("object {key} does not exist")));
        };
        op.read_with(key)
            .range(range.start..end)
            .await
            .map(|b| b.to_bytes())
            .map_err(|e| map_err(e, "read", key))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>> {
        let Some(op) = self.readable().await? else {
            return Ok(None);
        };
        match op.stat(key).await {
            Ok(m) => Ok(Some(m.content_length())),
            Err(e) if e.kind() == OdKind::NotFound => Ok(None),
            Err(e) => Err(map_err(e, "stat", key)),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let Some(op) = self.readable().await? else {
            return Ok(Vec::new());
        };
        let entries = match op.list_with(prefix).recursive(true).await {
            Ok(v) => v,
            Err(e) if e.kind() == OdKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(map_err(e, "list", prefix)),
        };
        Ok(objects_of(entries))
    }

    async fn delete(&self, key: &str) -> Result<()> {
        let Some(op) = self.readable().await? else {
            return Ok(());
        };
        match op.delete(key).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == OdKind::NotFound => Ok(()),
            Err(e) => Err(map_err(e, "delete", key)),
        }
    }

    async fn delete_folder(&self, prefix: &str) -> Result<()> {
        // OpenDAL's fs service removes an empty directory for a key ending in `/`.
        self.delete(prefix).await
    }
}

/// A storage error from local filesystem work on object `key`.
fn map_io(e: std::io::Error, action: &str, key: &str) -> Error {
    let err = Error::storage(format!("cannot {action} {key}: {e}"));
    match e.kind() {
        std::io::ErrorKind::PermissionDenied => {
            err.with_guidance("check the permissions of the repository folder")
        }
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => err.with_guidance(
            "the repository's disk is full: free space or run `mahavishnu-dr backup cleanup`; \
             nothing already stored was changed",
        ),
        _ => err,
    }
    .with_source(e)
}

/// The path of object `key` under `root`; keys are relative, `/`-separated, without `.` or `..`.
fn local_path(root: &Path, key: &str) -> Result<PathBuf> {
    let rel = Path::new(key);
    if key.is_empty()
        || key.ends_with('/')
        || !rel.components().all(|c| matches!(c, Component::Normal(_)))
    {
        return Err(Error::internal(format!("{key:?} is not an object key")));
    }
    Ok(root.join(rel))
}

/// Write `data` as object `key` unless it exists, atomically: a reader or a racing writer sees
/// the whole object or none, and exactly one of several racing writers creates it.
fn create_new_local(root: &Path, key: &str, data: &[u8]) -> Result<bool> {
    let target = local_path(root, key)?;
    let parent = target
        .parent()
        .ok_or_else(|| Error::internal(format!("{key:?} has no folder")))?;
    std::fs::create_dir_all(parent).map_err(|e| map_io(e, "create the folder of", key))?;
    let tmp_dir = root.join(TMP_PREFIX);
    std::fs::create_dir_all(&tmp_dir).map_err(|e| map_io(e, "create the folder of", TMP_PREFIX))?;
    let tmp = tmp_dir.join(format!(
        "create-{}.tmp",
        hex::encode(rand::random::<[u8; 8]>())
    ));
    let created = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        match std::fs::hard_link(&tmp, &target) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
            Err(e) if links_unsupported(&e) => rename_no_replace(&tmp, &target),
            Err(e) => Err(e),
        }
    })();
    // Gone already when a rename published it.
    let _ = std::fs::remove_file(&tmp);
    let created = created.map_err(|e| map_io(e, "create", key))?;
    if created {
        std::fs::File::open(parent)
            .and_then(|d| d.sync_all())
            .map_err(|e| map_io(e, "sync the folder of", key))?;
    }
    Ok(created)
}

/// The filesystem has no hard links (vfat, some network and FUSE filesystems).
fn links_unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EPERM | libc::EOPNOTSUPP | libc::ENOSYS)
    )
}

/// Without hard links: rename that fails when the name exists (Linux's RENAME_NOREPLACE), just
/// as atomic. Elsewhere the write is refused rather than made racy.
#[cfg(target_os = "linux")]
fn rename_no_replace(from: &Path, to: &Path) -> std::io::Result<bool> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (from, to) = (c(from)?, c(to)?);
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if r == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.kind() == std::io::ErrorKind::AlreadyExists {
        Ok(false)
    } else {
        Err(std::io::Error::new(
            e.kind(),
            format!(
                "the repository's filesystem supports neither hard links nor no-replace renames, \
                 so create-only writes cannot be atomic there ({e})"
            ),
        ))
    }
}

#[cfg(not(target_os = "linux"))]
fn rename_no_replace(_from: &Path, _to: &Path) -> std::io::Result<bool> {
    Err(std::io::Error::new(
        std::io::ErrorKind::Unsupported,
        "the repository's filesystem has no hard links, so create-only writes cannot be atomic there",
    ))
}

struct OpendalWriter {
    w: opendal::Writer,
    key: String,
}

#[async_trait]
impl ObjectWriter for OpendalWriter {
    async fn write(&mut self, data: Bytes) -> Result<()> {
        self.w
            .write(data)
            .await
            .map_err(|e| map_err(e, "write", &self.key))
    }
    async fn close(mut self: Box<Self>) -> Result<u64> {
        self.w
            .close()
            .await
            .map(|m| m.content_length())
            .map_err(|e| map_err(e, "write", &self.key))
    }
    async fn abort(mut self: Box<Self>) -> Result<()> {
        self.w
            .abort()
            .await
            .map_err(|e| map_err(e, "abort", &self.key))
    }
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn local_storage_meets_the_contract() {
        use crate::storage::Storage;
        let dir = tempfile::tempdir().unwrap();
        let store = super::OpendalStorage::local(dir.path()).unwrap();
        super::super::contract::check(&store).await;
        // A create-only write leaves no temporary file, and never replaces an object.
        assert!(
            std::fs::read_dir(dir.path().join(super::TMP_PREFIX))
                .unwrap()
                .next()
                .is_none(),
            "temporary files left in tmp/"
        );
        assert!(
            !store
                .put_if_absent("race/config-0", bytes::Bytes::from_static(b"late"))
                .await
                .unwrap()
        );
        for bad in ["", "../escape", "/abs", "a/../../b", "a/"] {
            let e = store
                .put_if_absent(bad, bytes::Bytes::from_static(b"x"))
                .await
                .unwrap_err();
            assert!(e.message.contains("not an object key"), "{bad}: {e}");
        }
        assert!(!dir.path().parent().unwrap().join("escape").exists());
        store
            .put("f/x", bytes::Bytes::from_static(b"1"))
            .await
            .unwrap();
        store.delete("f/x").await.unwrap();
        store.delete_folder("f/").await.unwrap();
        assert!(!dir.path().join("f").exists(), "emptied folder left behind");
    }
}
