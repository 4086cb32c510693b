//! The OpenDAL-backed store: the local filesystem today; S3 and Azure Blob use the same code.

use std::ops::Range;
use std::path::Path;
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
    err
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
        Ok(entries
            .into_iter()
            .filter(|e| e.metadata().is_file())
            .map(|e| ObjectInfo {
                key: e.path().to_string(),
                size: e.metadata().content_length(),
            })
            .collect())
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
        store
            .put("f/x", bytes::Bytes::from_static(b"1"))
            .await
            .unwrap();
        store.delete("f/x").await.unwrap();
        store.delete_folder("f/").await.unwrap();
        assert!(!dir.path().join("f").exists(), "emptied folder left behind");
    }
}
