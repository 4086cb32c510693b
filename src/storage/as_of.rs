//! A store as it was at an instant: the read-only view of an S3 bucket that keeps object
//! versions (object lock needs them), for recovery after the store was damaged by someone who
//! could write to it (objects overwritten, or deleted, which on such a bucket only adds a
//! delete marker above the locked versions).
//!
//! Every key is read at its newest version written at or before the instant; a key whose newest
//! such entry is a delete marker, or that was first written later, is absent. Nothing is ever
//! written: every write is refused with what to do instead.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, SecondsFormat, Utc};

use super::cloud::{CloudStorage, ObjectVersion};
use super::{ObjectInfo, ObjectWriter, Storage};
use crate::error::{Error, ErrorKind, Result};

/// The version of one key the view reads.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Chosen {
    version: String,
    size: u64,
}

/// A read-only view of a versioned S3 store at `at`.
#[derive(Debug)]
pub struct AsOfStorage {
    inner: CloudStorage,
    at: DateTime<Utc>,
    /// Each key looked up or listed so far, and what the view reads for it (`None`: absent).
    chosen: Mutex<HashMap<String, Option<Chosen>>>,
}

impl AsOfStorage {
    pub fn new(inner: CloudStorage, at: DateTime<Utc>) -> Self {
        AsOfStorage {
            inner,
            at,
            chosen: Mutex::new(HashMap::new()),
        }
    }

    fn remember(&self, key: &str, chosen: Option<Chosen>) {
        self.chosen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string(), chosen);
    }

    /// The version the view reads for `key`, from an earlier listing or one of its own.
    async fn lookup(&self, key: &str) -> Result<Option<Chosen>> {
        if let Some(c) = self
            .chosen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
        {
            return Ok(c.clone());
        }
        let versions = self.inner.versions(key).await?;
        let chosen = choose(versions.iter().filter(|v| v.key == key), self.at);
        self.remember(key, chosen.clone());
        Ok(chosen)
    }

    fn read_only(&self, action: &str, key: &str) -> Error {
        Error::new(
            ErrorKind::Refused,
            format!(
                "{} is a read-only view (--store-as-of): cannot {action} {key}",
                self.describe()
            ),
        )
        .with_guidance(
            "read from this view (restore, backup list, backup validate, decrypt) or copy what \
             it holds to another store with `replicate --to NAME`; run commands that write \
             without --store-as-of",
        )
    }

    fn missing(&self, key: &str) -> Error {
        Error::not_found(format!("object {key} did not exist at {}", self.at_text()))
    }

    fn at_text(&self) -> String {
        self.at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }
}

/// Of one key's versions and delete markers, the newest written at or before `at` (the first
/// listed on a tie: servers list a key's newest version first), unless that is a delete marker.
fn choose<'a>(
    versions: impl Iterator<Item = &'a ObjectVersion>,
    at: DateTime<Utc>,
) -> Option<Chosen> {
    let mut best: Option<&ObjectVersion> = None;
    for v in versions.filter(|v| v.modified <= at) {
        if best.is_none_or(|b| v.modified > b.modified) {
            best = Some(v);
        }
    }
    best.filter(|v| !v.deleted).map(|v| Chosen {
        version: v.version.clone(),
        size: v.size,
    })
}

#[async_trait]
impl Storage for AsOfStorage {
    fn describe(&self) -> String {
        format!("{} as of {}", self.inner.describe(), self.at_text())
    }
    fn read_plan(&self) -> super::ReadPlan {
        self.inner.read_plan()
    }
    async fn put(&self, key: &str, _data: Bytes) -> Result<()> {
        Err(self.read_only("write", key))
    }
    async fn put_if_absent(&self, key: &str, _data: Bytes) -> Result<bool> {
        Err(self.read_only("write", key))
    }
    async fn writer(&self, key: &str) -> Result<Box<dyn ObjectWriter>> {
        Err(self.read_only("write", key))
    }
    async fn get(&self, key: &str) -> Result<Bytes> {
        let c = self.lookup(key).await?.ok_or_else(|| self.missing(key))?;
        self.inner.read_version(key, &c.version, None).await
    }
    async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let c = self.lookup(key).await?.ok_or_else(|| self.missing(key))?;
        let end = range.end.min(c.size);
        if range.start >= end {
            return Ok(Bytes::new());
        }
        self.inner
            .read_version(key, &c.version, Some(range.start..end))
            .await
    }
    async fn size(&self, key: &str) -> Result<Option<u64>> {
        Ok(self.lookup(key).await?.map(|c| c.size))
    }
    async fn list(&self, prefix: &str) -> Result<Vec<ObjectInfo>> {
        let versions = self.inner.versions(prefix).await?;
        let mut by_key: HashMap<&str, Vec<&ObjectVersion>> = HashMap::new();
        for v in &versions {
            by_key.entry(v.key.as_str()).or_default().push(v);
        }
        let mut out = Vec::new();
        for (key, versions) in by_key {
            let chosen = choose(versions.into_iter(), self.at);
            if let Some(c) = &chosen {
                out.push(ObjectInfo {
                    key: key.to_string(),
                    size: c.size,
                });
            }
            self.remember(key, chosen);
        }
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }
    async fn delete(&self, key: &str) -> Result<()> {
        Err(self.read_only("delete", key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(version: &str, secs: i64, deleted: bool) -> ObjectVersion {
        ObjectVersion {
            key: "k".into(),
            version: version.into(),
            size: secs as u64,
            modified: DateTime::from_timestamp(secs, 0).unwrap(),
            deleted,
        }
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).unwrap()
    }

    /// The newest version at the instant is read; later overwrites and deletions are not seen;
    /// a deletion at or before the instant hides the key; a key first written later is absent.
    #[test]
    fn the_view_reads_each_key_as_it_was_at_the_instant() {
        // Listed newest first, as servers do: written at 10, overwritten at 20, deleted at 30.
        let history = [v("c", 30, true), v("b", 20, false), v("a", 10, false)];
        let pick = |t| choose(history.iter(), at(t)).map(|c| c.version);
        assert_eq!(pick(5), None, "not yet written");
        assert_eq!(pick(10).as_deref(), Some("a"));
        assert_eq!(pick(19).as_deref(), Some("a"), "the overwrite is later");
        assert_eq!(pick(25).as_deref(), Some("b"));
        assert_eq!(pick(30), None, "deleted by then");
        // Listed in any order, the newest at the instant still wins.
        let shuffled = [v("a", 10, false), v("c", 30, true), v("b", 20, false)];
        assert_eq!(
            choose(shuffled.iter(), at(25))
                .map(|c| c.version)
                .as_deref(),
            Some("b")
        );
        // Two entries in one second: the first listed (the newer) is read.
        let tie = [v("new", 10, false), v("old", 10, false)];
        assert_eq!(
            choose(tie.iter(), at(10)).map(|c| c.version).as_deref(),
            Some("new")
        );
    }
}
