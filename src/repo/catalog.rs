//! The catalog: which backups exist (those with a manifest), their chains, and unfinished
//! leftovers; and, for the operations that need them, the continuous points.

use std::collections::BTreeMap;

use futures::StreamExt;

use super::Repository;
use super::keys::{
    BACKUPS_PREFIX, MANIFEST_NAME, POINTS_PREFIX, is_point_id, split_backup_key, split_point_key,
};
use super::manifest::ManifestSummary;
use crate::action::{Action, Advice};
use crate::error::{Error, Result};
use crate::storage::ObjectInfo;

/// A backup folder with no manifest: a backup that is running, or one that crashed or was cancelled.
#[derive(Debug, Clone)]
pub struct Unfinished {
    pub backup_id: String,
    pub objects: Vec<ObjectInfo>,
}

/// A backup whose manifest exists but cannot be read.
#[derive(Debug, Clone)]
pub struct Unreadable {
    pub backup_id: String,
    pub error: Error,
}

#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Oldest first (ids sort by time).
    pub backups: Vec<ManifestSummary>,
    pub unfinished: Vec<Unfinished>,
    pub unreadable: Vec<Unreadable>,
    /// The continuous points, oldest first: empty unless [`Catalog::load_points`] ran.
    pub points: Vec<ManifestSummary>,
    /// Point folders without a manifest (being written, or left by a crash).
    pub unfinished_points: Vec<Unfinished>,
    /// Points whose manifest exists but cannot be read.
    pub unreadable_points: Vec<Unreadable>,
}

type PointCache = std::sync::Mutex<std::collections::HashMap<(String, String), ManifestSummary>>;

/// Point summaries read by this process, by (repository id, point id).
fn point_cache() -> &'static PointCache {
    static CACHE: std::sync::OnceLock<PointCache> = std::sync::OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// A key split into (backup or point id, object name) by its folder (`backups/`, `points/`).
pub type SplitKey = fn(&str) -> Option<(&str, &str)>;

/// The backups (`BACKUPS_PREFIX`, `split_backup_key`) or points (`POINTS_PREFIX`,
/// `split_point_key`) a store holds: the ids whose manifest object is there, from one listing,
/// without reading any manifest.
pub async fn committed_ids(
    store: &crate::storage::DynStorage,
    prefix: &str,
    split: SplitKey,
) -> Result<std::collections::BTreeSet<String>> {
    Ok(store
        .list(prefix)
        .await?
        .iter()
        .filter_map(|o| split(&o.key))
        .filter(|(_, name)| *name == MANIFEST_NAME)
        .map(|(id, _)| id.to_string())
        .collect())
}

/// Folders under `prefix` (split by `split`) as (complete ids, unfinished leftovers).
async fn folders(
    repo: &Repository,
    prefix: &str,
    split: SplitKey,
) -> Result<(Vec<String>, Vec<Unfinished>)> {
    let mut folders: BTreeMap<String, Vec<ObjectInfo>> = BTreeMap::new();
    for obj in repo.storage().list(prefix).await? {
        if let Some((id, _)) = split(&obj.key) {
            folders.entry(id.to_string()).or_default().push(obj.clone());
        }
    }
    let mut complete = Vec::new();
    let mut unfinished = Vec::new();
    for (id, objects) in folders {
        if objects
            .iter()
            .any(|o| o.key.ends_with(&format!("/{MANIFEST_NAME}")))
        {
            complete.push(id);
        } else {
            unfinished.push(Unfinished {
                backup_id: id,
                objects,
            });
        }
    }
    Ok((complete, unfinished))
}

/// The summaries of `ids` (read 8 at a time), split into readable and unreadable.
async fn summaries(repo: &Repository, ids: Vec<String>) -> (Vec<ManifestSummary>, Vec<Unreadable>) {
    let results: Vec<(String, Result<ManifestSummary>)> = futures::stream::iter(ids)
        .map(|id| async move {
            let r = repo.read_summary(&id).await;
            (id, r)
        })
        .buffered(8)
        .collect()
        .await;
    let mut ok = Vec::new();
    let mut unreadable = Vec::new();
    for (id, r) in results {
        match r {
            Ok(s) => ok.push(s),
            Err(error) => unreadable.push(Unreadable {
                backup_id: id,
                error,
            }),
        }
    }
    (ok, unreadable)
}

impl Catalog {
    pub async fn load(repo: &Repository) -> Result<Catalog> {
        let (complete, unfinished) = folders(repo, BACKUPS_PREFIX, split_backup_key).await?;
        let (backups, unreadable) = summaries(repo, complete).await;
        Ok(Catalog {
            backups,
            unfinished,
            unreadable,
            ..Catalog::default()
        })
    }

    /// Also read the continuous points' summaries (`points/`), so `get` finds them. A point's
    /// manifest is written once and never changes, so a summary this process has already read
    /// (and authenticated) is taken from memory: a long-running process (the daemon's
    /// `/metrics`) reads each point once, not at every call.
    pub async fn load_points(&mut self, repo: &Repository) -> Result<()> {
        let (complete, unfinished) = folders(repo, POINTS_PREFIX, split_point_key).await?;
        let cache = point_cache();
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        if let Ok(c) = cache.lock() {
            for id in complete {
                match c.get(&(repo.id().to_string(), id.clone())) {
                    Some(s) => known.push(s.clone()),
                    None => unknown.push(id),
                }
            }
        } else {
            unknown = complete;
        }
        let (read, unreadable) = summaries(repo, unknown).await;
        if let Ok(mut c) = cache.lock() {
            // Only what is listed now stays (removed points leave the cache).
            let listed: std::collections::HashSet<&str> = known
                .iter()
                .chain(&read)
                .map(|s| s.backup_id.as_str())
                .collect();
            c.retain(|(r, id), _| r != repo.id() || listed.contains(id.as_str()));
            for s in &read {
                c.insert((repo.id().to_string(), s.backup_id.clone()), s.clone());
            }
        }
        known.extend(read);
        known.sort_by(|a, b| a.backup_id.cmp(&b.backup_id));
        self.points = known;
        self.unfinished_points = unfinished;
        self.unreadable_points = unreadable;
        Ok(())
    }

    /// The newest readable backup. (`resolve("latest")` refuses when a newer one is unreadable.)
    pub fn latest(&self) -> Option<&ManifestSummary> {
        self.backups.last()
    }

    /// Unreadable backups newer than every readable one, newest first: what `latest` would
    /// silently skip.
    pub fn unreadable_newer_than_latest(&self) -> Vec<&Unreadable> {
        let latest = self.latest().map(|b| b.backup_id.as_str()).unwrap_or("");
        let mut v: Vec<&Unreadable> = self
            .unreadable
            .iter()
            .filter(|u| u.backup_id.as_str() > latest)
            .collect();
        v.sort_by(|a, b| b.backup_id.cmp(&a.backup_id));
        v
    }

    /// The hosts that made the readable backups, sorted.
    pub fn hosts(&self) -> Vec<&str> {
        let set: std::collections::BTreeSet<&str> =
            self.backups.iter().map(|b| b.host.as_str()).collect();
        set.into_iter().collect()
    }

    /// The newest readable backup of `host`.
    pub fn latest_of(&self, host: &str) -> Option<&ManifestSummary> {
        self.backups.iter().rev().find(|b| b.host == host)
    }

    /// The newest backup of `host`. Refuses, as `resolve("latest")` does, when an unreadable
    /// backup is newer (it may be one of `host`'s: an unreadable manifest names no host).
    pub fn resolve_latest_of(&self, host: &str) -> Result<&ManifestSummary> {
        let latest = self.latest_of(host);
        let newer = latest.map_or("", |b| b.backup_id.as_str());
        if let Some(u) = self
            .unreadable
            .iter()
            .filter(|u| u.backup_id.as_str() > newer)
            .max_by(|a, b| a.backup_id.cmp(&b.backup_id))
        {
            return Err(unreadable_latest(format!(
                "backup {} is unreadable ({}) and newer than the newest backup of host {host}",
                u.backup_id, u.error.message
            )));
        }
        latest.ok_or_else(|| {
            Error::not_found(format!(
                "the repository holds no backup of host {host:?} (hosts: {})",
                if self.backups.is_empty() {
                    "none".to_string()
                } else {
                    self.hosts().join(", ")
                }
            ))
            .with_next(Advice::step(
                Action::ListBackups,
                "to see the backups and their hosts",
            ))
            .with_guidance("name one of the hosts (--host NAME), or a backup id")
        })
    }

    /// A backup, or (once loaded) a continuous point, by id.
    pub fn get(&self, id: &str) -> Option<&ManifestSummary> {
        if is_point_id(id) {
            return self.points.iter().find(|b| b.backup_id == id);
        }
        self.backups.iter().find(|b| b.backup_id == id)
    }

    /// `latest` or an id.
    pub fn resolve(&self, id: &str) -> Result<&ManifestSummary> {
        if id == "latest" {
            if let Some(u) = self.unreadable_newer_than_latest().first() {
                return Err(unreadable_latest(format!(
                    "the newest backup {} is unreadable ({})",
                    u.backup_id, u.error.message
                )));
            }
            return self.latest().ok_or_else(|| {
                Error::not_found("the repository holds no backups yet").with_next(Advice::step(
                    Action::RunBackup { backup_type: None },
                    "first",
                ))
            });
        }
        super::check_backup_id(id)?;
        if let Some(u) = self.unreadable.iter().find(|u| u.backup_id == id) {
            return Err(u.error.clone());
        }
        self.get(id).ok_or_else(|| {
            Error::not_found(format!("there is no backup {id}"))
                .with_next(Advice::step(Action::ListBackups, "to see the backups"))
        })
    }

    /// The chain of `id`, root first. Missing links are reported as errors.
    pub fn chain(&self, id: &str) -> Result<Vec<&ManifestSummary>> {
        let mut out = Vec::new();
        let mut cur = Some(id.to_string());
        while let Some(c) = cur {
            let b = self.get(&c).ok_or_else(|| {
                Error::integrity(format!(
                    "the chain of {id} is broken: backup {c} is missing"
                ))
            })?;
            out.push(b);
            if out.len() > 100_000 {
                return Err(Error::integrity(format!("the chain of {id} loops")));
            }
            cur = b.parent.clone();
        }
        out.reverse();
        Ok(out)
    }
}

/// `latest` refused because a backup newer than the one it would name is unreadable (`what`
/// says which); it never falls back to an older backup in silence.
fn unreadable_latest(what: String) -> Error {
    Error::integrity(format!(
        "{what}; `latest` does not fall back to an older backup in silence"
    ))
    .with_next(Advice::step(
        Action::ListBackups,
        "to see the readable backups and why the others are not",
    ))
    .with_guidance(
        "name the backup to use by its id (backup_id), and validate to see what is damaged; a \
         backup you did not make was planted by a writer of the store",
    )
}
