//! Replication: copying the backups of the store in use to the other configured stores (what
//! `backup run` does after each backup and `replicate` does on demand), and each replica's lag.
//!
//! A copy never fails the operation that asked for it: each store's outcome is reported on its
//! own. The engine (`repo::replica`) copies one backup at a time, its manifest last, so a replica
//! only ever holds whole backups; backups are copied oldest first, so parents arrive before the
//! incrementals that need them. Nothing is ever deleted from a replica here: a replica keeps
//! what cleanup removed from the primary until its own cleanup (`--repository NAME`) runs.

use std::collections::BTreeSet;
use std::time::Instant;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::immutability::LockReport;
use super::{Cancel, Dr, Progress, cancelled, secs, with_lock};
use crate::error::{Error, Result};
use crate::repo::Repository;
use crate::repo::catalog::{Catalog, committed_ids};
use crate::repo::keys::{BACKUPS_PREFIX, POINTS_PREFIX, split_backup_key, split_point_key};
use crate::repo::locks::{self, LockMode};
use crate::repo::manifest::ManifestSummary;
use crate::repo::replica::{ConfigState, CopyStats, copy_backup, copy_history, sync_config};
use crate::settings::NamedStore;
use crate::storage::{self, DynStorage};

/// A backup, by id and when it finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BackupRef {
    pub backup_id: String,
    pub finished: DateTime<Utc>,
}

impl From<&ManifestSummary> for BackupRef {
    fn from(s: &ManifestSummary) -> Self {
        BackupRef {
            backup_id: s.backup_id.clone(),
            finished: s.finished,
        }
    }
}

/// What one replica holds against the store in use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReplicaLag {
    /// The store's name in the settings (`--repository NAME` opens it).
    pub name: String,
    /// Where it is (`s3://bucket/prefix`; never a secret).
    pub location: String,
    /// Backups of the store in use that the replica does not hold (yet).
    pub missing: u32,
    /// The newest of those.
    pub newest_missing: Option<BackupRef>,
    /// How far behind the replica is: the age of the oldest backup it lacks (0 when it holds
    /// every backup). A recovery from it now would lose at least this much.
    pub lag_seconds: Option<i64>,
    /// The newest backup it holds.
    pub newest_held: Option<BackupRef>,
    /// Why it could not be read (unreachable, refused, another repository); lag unknown.
    pub error: Option<String>,
}

/// What a copy to one replica did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ReplicaCopy {
    pub name: String,
    pub location: String,
    /// Every backup of the store in use is now on the replica, verified.
    pub ok: bool,
    /// The backups copied by this run, oldest first.
    pub copied: Vec<String>,
    /// Continuous points copied by this run (each after its base backup is there).
    #[serde(default)]
    pub points_copied: u32,
    /// Objects written and verified there (volumes, block maps, checksum lists, manifests,
    /// history records), and their bytes.
    pub objects: u64,
    pub bytes: u64,
    /// Backups still missing there after this run.
    pub missing: u32,
    /// The repository config was written there (a new replica), or replaced by a newer one.
    pub config: Option<String>,
    /// On a replica with S3 object lock: the locks put on the backups copied (and those they
    /// read).
    pub object_lock: Option<LockReport>,
    /// What went wrong (the copy stopped there; the next run carries on).
    pub error: Option<String>,
    pub guidance: Option<String>,
    pub duration_seconds: f64,
}

impl ReplicaCopy {
    fn new(target: &NamedStore) -> ReplicaCopy {
        ReplicaCopy {
            name: target.name.clone(),
            location: target.target.display_name(),
            ok: false,
            copied: Vec::new(),
            points_copied: 0,
            objects: 0,
            bytes: 0,
            missing: 0,
            config: None,
            object_lock: None,
            error: None,
            guidance: None,
            duration_seconds: 0.0,
        }
    }

    /// A copy that could not start: `e` says why.
    pub(crate) fn failed(target: &NamedStore, e: &Error) -> ReplicaCopy {
        let mut c = ReplicaCopy::new(target);
        c.error = Some(what_went_wrong(e));
        c.guidance = e.guidance.clone();
        c
    }
}

impl Dr {
    /// The configured stores other than the one in use: where replication copies to.
    pub(crate) fn other_stores(&self) -> Vec<NamedStore> {
        let b = &self.settings.settings.backup;
        b.storage
            .stores(&b.directory)
            .into_iter()
            .filter(|s| s.name != self.store.name)
            .collect()
    }

    /// The stores `to` names (every other store when `None`); an unknown name or the store in
    /// use is a usage error that lists the names.
    pub(crate) fn replication_targets(&self, to: Option<&str>) -> Result<Vec<NamedStore>> {
        let others = self.other_stores();
        let Some(to) = to else { return Ok(others) };
        if to == self.store.name {
            return Err(Error::usage(format!(
                "{to} is the store this command works on; it cannot be its own replica"
            ))
            .with_guidance("name another store, or leave out --to to copy to every other one"));
        }
        others
            .into_iter()
            .find(|s| s.name == to)
            .map(|s| vec![s])
            .ok_or_else(|| self.unknown_store(to))
    }

    /// Copy every backup of `source` that a replica lacks, to each of `targets` in turn.
    pub(crate) async fn replicate_to(
        &self,
        source: &Repository,
        targets: &[NamedStore],
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Vec<ReplicaCopy> {
        let mut out = Vec::new();
        for target in targets {
            let t0 = Instant::now();
            let mut copy = ReplicaCopy::new(target);
            progress.phase(&format!("replicating to {}", target.name), None);
            if let Err(e) = self
                .copy_to_one(source, target, &mut copy, progress, cancel)
                .await
            {
                copy.error = Some(what_went_wrong(&e));
                copy.guidance = Some(e.guidance.clone().unwrap_or_else(|| {
                    format!(
                        "the backups are safe on {}; fix the replica, then run `mahavishnu-dr \
                         replicate --to {}` (the next backup also catches up)",
                        self.store.name, target.name
                    )
                }));
            }
            copy.duration_seconds = secs(t0.elapsed());
            out.push(copy);
        }
        out
    }

    async fn copy_to_one(
        &self,
        source: &Repository,
        target: &NamedStore,
        copy: &mut ReplicaCopy,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<()> {
        let store = storage::open_store(target)?;
        let mut catalog = Catalog::load(source).await?;
        catalog.load_points(source).await?;
        copy.missing = catalog.backups.len() as u32;
        if !store_has_repository(&store).await? {
            self.check_object_lock(target).await?;
        }
        match sync_config(source, &store).await? {
            ConfigState::Created => copy.config = Some("created".into()),
            ConfigState::Updated => copy.config = Some("updated".into()),
            ConfigState::Same => {}
        }
        let wait = std::time::Duration::from_secs(self.settings.settings.backup.lock_wait_seconds);
        let notice = |m: String| progress.notice(&format!("{}: {m}", target.name));
        let guard = locks::acquire_or_cancel(
            &store,
            &self.holder(),
            LockMode::Backup,
            "replicate",
            wait,
            &notice,
            cancel,
        )
        .await?;
        with_lock(guard, async {
            let held = committed_ids(&store, BACKUPS_PREFIX, split_backup_key).await?;
            let mut stats = CopyStats::default();
            let todo: Vec<&ManifestSummary> = catalog
                .backups
                .iter()
                .filter(|b| !held.contains(&b.backup_id))
                .collect();
            copy.missing = todo.len() as u32;
            for b in todo {
                if cancel.is_cancelled() {
                    return Err(cancelled());
                }
                let s = copy_backup(source, b, &store)
                    .await
                    .map_err(|e| e.context(format!("copying backup {}", b.backup_id)))?;
                stats.objects += s.objects;
                stats.bytes += s.bytes;
                copy.copied.push(b.backup_id.clone());
                copy.missing -= 1;
                copy.objects = stats.objects;
                copy.bytes = stats.bytes;
            }
            // Continuous points, oldest first, once their base is there (a point reads its
            // base's and the earlier points' blocks, copied before it).
            let held_points = committed_ids(&store, POINTS_PREFIX, split_point_key).await?;
            let bases: BTreeSet<&str> = held
                .iter()
                .map(String::as_str)
                .chain(copy.copied.iter().map(String::as_str))
                .collect();
            let points: Vec<&ManifestSummary> = catalog
                .points
                .iter()
                .filter(|p| !held_points.contains(&p.backup_id))
                .filter(|p| p.base.as_deref().is_some_and(|b| bases.contains(b)))
                .collect();
            for p in points {
                if cancel.is_cancelled() {
                    return Err(cancelled());
                }
                let s = copy_backup(source, p, &store)
                    .await
                    .map_err(|e| e.context(format!("copying point {}", p.backup_id)))?;
                copy.points_copied += 1;
                copy.objects += s.objects;
                copy.bytes += s.bytes;
            }
            let h = copy_history(source, &store).await?;
            copy.objects += h.objects;
            copy.bytes += h.bytes;
            if let Some(lock) = self.object_lock_of(target)? {
                let mut ids: BTreeSet<String> = BTreeSet::new();
                for id in &copy.copied {
                    ids.insert(id.clone());
                    if let Some(b) = catalog.get(id) {
                        ids.extend(b.depends_on.iter().cloned());
                    }
                }
                let report = self
                    .lock_backups(&lock, target, &store, &catalog, Some(&ids))
                    .await;
                let failed = report.error.clone();
                copy.object_lock = Some(report);
                if let Some(e) = failed {
                    return Err(Error::storage(format!(
                        "the backups were copied but not locked: {e}"
                    )));
                }
            }
            copy.ok = true;
            Ok(())
        })
        .await
    }

    /// Each other store's lag behind `catalog` (the store in use's backups).
    pub(crate) async fn replica_lags(&self, catalog: &Catalog) -> Vec<ReplicaLag> {
        let now = Utc::now();
        let mut out = Vec::new();
        for target in self.other_stores() {
            let mut lag = ReplicaLag {
                name: target.name.clone(),
                location: target.target.display_name(),
                missing: 0,
                newest_missing: None,
                lag_seconds: None,
                newest_held: None,
                error: None,
            };
            let held = match storage::open_store(&target) {
                Ok(store) => committed_ids(&store, BACKUPS_PREFIX, split_backup_key).await,
                Err(e) => Err(e),
            };
            match held {
                Err(e) => lag.error = Some(what_went_wrong(&e)),
                Ok(held) => {
                    let (there, missing): (Vec<_>, Vec<_>) = catalog
                        .backups
                        .iter()
                        .partition(|b| held.contains(&b.backup_id));
                    lag.missing = missing.len() as u32;
                    lag.newest_missing = missing
                        .iter()
                        .max_by_key(|b| b.finished)
                        .map(|b| (*b).into());
                    lag.newest_held = there.iter().max_by_key(|b| b.finished).map(|b| (*b).into());
                    lag.lag_seconds = Some(
                        missing
                            .iter()
                            .map(|b| (now - b.finished).num_seconds().max(0))
                            .max()
                            .unwrap_or(0),
                    );
                }
            }
            out.push(lag);
        }
        out
    }
}

/// What a person should hear about a replica: unreadable, or behind (none when it holds every
/// backup).
pub(crate) fn replica_warning(r: &ReplicaLag) -> Option<String> {
    if let Some(e) = &r.error {
        return Some(format!(
            "replica {} cannot be read: {e}; its lag is unknown",
            r.name
        ));
    }
    let newest = r.newest_missing.as_ref()?;
    Some(format!(
        "replica {} lacks {} backup(s), the newest {}; it is {} behind: run `mahavishnu-dr \
         replicate --to {}`",
        r.name,
        r.missing,
        newest.backup_id,
        crate::present::age(r.lag_seconds.unwrap_or(0)),
        r.name
    ))
}

/// An error's message and context, without its guidance (reported beside it).
fn what_went_wrong(e: &Error) -> String {
    let mut s = e.message.clone();
    for c in &e.context {
        s.push_str(", while ");
        s.push_str(c);
    }
    s
}

/// Whether a store already holds a repository (its config).
async fn store_has_repository(store: &DynStorage) -> Result<bool> {
    Ok(store.size(crate::repo::keys::CONFIG_KEY).await?.is_some())
}
