//! Immutability: how long each backup's objects stay locked on an S3 store with object lock
//! (`immutable: true`), and applying those locks. A backup is locked until its type's retention
//! ends, and longer while a kept backup reads its volumes (a full stays locked until the newest
//! incremental that depends on it expires); a type without a retention window is locked for
//! [`UNBOUNDED_LOCK_DAYS`] from now, renewed by every backup and by `retention extend`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Timelike, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use super::retention::RetentionPolicy;
use crate::error::Result;
use crate::repo::catalog::Catalog;
use crate::repo::keys::{backup_key, checksums_key, manifest_key, volume_key};
use crate::repo::manifest::ManifestSummary;
use crate::settings::NamedStore;
use crate::storage::DynStorage;
use crate::storage::object_lock::S3ObjectLock;

/// How long a backup whose type has no retention window is locked (from now).
pub const UNBOUNDED_LOCK_DAYS: i64 = 30;

/// What locking did on one store.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct LockReport {
    /// The store, by name, and where it is.
    pub store: String,
    pub location: String,
    /// The object-lock mode (`COMPLIANCE` or `GOVERNANCE`).
    pub mode: String,
    /// Backups whose objects were checked.
    pub backups: u32,
    /// Objects whose lock was set or moved later, and objects already locked long enough.
    pub objects_locked: u64,
    pub objects_already: u64,
    /// The latest date any object is now locked until.
    pub latest_until: Option<DateTime<Utc>>,
    /// Why locking stopped (the objects before it are locked).
    pub error: Option<String>,
}

/// When each backup's objects may be deleted at the earliest: its own retention end, or later
/// while a backup that reads its volumes is kept.
pub(crate) fn lock_dates(
    catalog: &Catalog,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
) -> BTreeMap<String, DateTime<Utc>> {
    let unbounded = now + Duration::days(UNBOUNDED_LOCK_DAYS);
    let own = |b: &ManifestSummary| {
        policy
            .window(b.backup_type)
            .and_then(|w| w.end(b.finished))
            .unwrap_or(unbounded)
    };
    let mut dates: BTreeMap<String, DateTime<Utc>> = catalog
        .backups
        .iter()
        .map(|b| (b.backup_id.clone(), own(b)))
        .collect();
    for b in &catalog.backups {
        let until = own(b);
        for d in &b.depends_on {
            if let Some(x) = dates.get_mut(d)
                && *x < until
            {
                *x = until;
            }
        }
    }
    dates
}

/// Every object of a backup, the manifest last.
fn objects_of(b: &ManifestSummary) -> Vec<String> {
    let id = b.backup_id.as_str();
    let mut keys: Vec<String> = b.volumes.iter().map(|v| volume_key(id, v.index)).collect();
    if let Some(m) = &b.block_map {
        keys.push(backup_key(id, &m.name));
    }
    keys.push(checksums_key(id));
    keys.push(manifest_key(id));
    keys
}

/// A store the settings mark `immutable: true`, and what enforces it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImmutableStore {
    pub store: String,
    pub location: String,
    /// `s3_object_lock`: the server holds every backup object's lock (`retention extend`
    /// checks that it refuses a delete); `this_tool_only`: this tool never deletes there, but
    /// the store itself does not refuse (a local folder; Azure Blob, whose immutability
    /// policies this tool does not set or verify).
    pub enforced_by: String,
    /// When this host last checked that the server refuses to delete a locked version (S3 with
    /// object lock), and whether it did; None: never checked from this host.
    pub last_check: Option<super::enforcement::Probe>,
    /// The claim is verified: the last check from this host saw the server refuse.
    pub verified: bool,
    pub detail: String,
    /// On an S3 store (whose bucket keeps versions): what was changed in its backups and
    /// points after they were written. None: not an S3 store, or not read (see the warnings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangesAfterWrite>,
}

/// What a bucket's object versions show was changed in backups and continuous points after
/// they were written. This tool writes each of those objects once and, on an immutable store,
/// never deletes them: an overwrite is someone else's write. A deletion (a delete marker) is
/// also what a bucket lifecycle rule leaves once locks end.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChangesAfterWrite {
    /// Objects written again after their first write, and when the first such write was.
    pub overwritten: u64,
    pub first_overwrite: Option<DateTime<Utc>>,
    /// Objects deleted (their versions kept), and when the first deletion was.
    pub deleted: u64,
    pub first_delete: Option<DateTime<Utc>>,
    /// A second before the first change: `--store-as-of` this reads the store as it was.
    pub read_as_of: Option<DateTime<Utc>>,
}

/// What a store's changes after write call for: a warning naming when, and the time to read
/// the store as it was.
fn changes_warning(store: &str, c: &ChangesAfterWrite) -> Option<String> {
    let at = |t: Option<DateTime<Utc>>| t.map(crate::present::timestamp).unwrap_or_default();
    let read = c
        .read_as_of
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default();
    if c.overwritten > 0 {
        Some(format!(
            "{store}: {} backup object(s) were overwritten after they were written, the first \
             at {}: this tool writes each once, so someone else wrote there. Read the store as \
             it was before with `--store-as-of {read}` ({})",
            c.overwritten,
            at(c.first_overwrite),
            super::AS_OF_USES
        ))
    } else if c.deleted > 0 {
        Some(format!(
            "{store}: {} backup object(s) were deleted (their locked versions remain), the \
             first at {}: expected where a bucket lifecycle rule removes backups whose locks \
             ended; otherwise read the store as it was with `--store-as-of {read}`",
            c.deleted,
            at(c.first_delete)
        ))
    } else {
        None
    }
}

/// The changes after write of `versions` (a listing of versions and delete markers).
pub(crate) fn changes_of(versions: &[crate::storage::ObjectVersion]) -> ChangesAfterWrite {
    let mut by_key: BTreeMap<&str, Vec<&crate::storage::ObjectVersion>> = BTreeMap::new();
    for v in versions {
        by_key.entry(v.key.as_str()).or_default().push(v);
    }
    let mut c = ChangesAfterWrite::default();
    let earliest = |slot: &mut Option<DateTime<Utc>>, t: DateTime<Utc>| {
        *slot = Some(slot.map_or(t, |s| s.min(t)));
    };
    for (_, mut vs) in by_key {
        // Oldest first (a stable sort keeps the server's newest-first order reversed on ties).
        vs.reverse();
        vs.sort_by_key(|v| v.modified);
        let mut later = vs.iter().skip_while(|v| v.deleted).skip(1);
        if let Some(v) = later.clone().find(|v| !v.deleted) {
            c.overwritten += 1;
            earliest(&mut c.first_overwrite, v.modified);
        }
        if let Some(v) = later.find(|v| v.deleted) {
            c.deleted += 1;
            earliest(&mut c.first_delete, v.modified);
        }
    }
    let first = [c.first_overwrite, c.first_delete]
        .into_iter()
        .flatten()
        .min();
    c.read_as_of = first.map(|t| t.with_nanosecond(0).unwrap_or(t) - Duration::seconds(1));
    c
}

impl Dr {
    /// Every store marked `immutable: true`, with what enforces it.
    pub(crate) fn immutable_stores(&self) -> Vec<ImmutableStore> {
        let b = &self.settings.settings.backup;
        b.storage
            .stores(&b.directory)
            .into_iter()
            .filter(|s| s.target.immutable())
            .map(|s| {
                let location = s.target.display_name();
                let state_dir = &self.settings.settings.daemon.state_dir;
                let last_check = match &s.target {
                    crate::settings::StorageTarget::S3 { .. } => {
                        super::enforcement::last_probe(state_dir, &location)
                    }
                    _ => None,
                };
                let (enforced_by, detail) = match &s.target {
                    crate::settings::StorageTarget::S3 { lock_mode, .. } => (
                        "s3_object_lock",
                        format!(
                            "every backup object is locked ({lock_mode:?}) until its retention \
                             ends; {}",
                            match &last_check {
                                Some(p) if p.enforced => format!(
                                    "verified {}: the server refused to delete a locked version \
                                     (`retention extend` checks again)",
                                    crate::present::timestamp(p.at)
                                ),
                                Some(p) => format!(
                                    "NOT ENFORCED when checked {}: the server deleted a locked \
                                     version; nothing is immutable there",
                                    crate::present::timestamp(p.at)
                                ),
                                None => "not verified from this host: run `mahavishnu-dr \
                                         retention extend` to check that the server refuses \
                                         deletes"
                                    .to_string(),
                            }
                        ),
                    ),
                    other => (
                        "this_tool_only",
                        format!(
                            "not verified: the {} store itself does not refuse deletes; only \
                             this tool's cleanup refuses",
                            other.type_name()
                        ),
                    ),
                };
                ImmutableStore {
                    store: s.name,
                    location,
                    enforced_by: enforced_by.into(),
                    verified: last_check.as_ref().is_some_and(|p| p.enforced),
                    last_check,
                    detail,
                    changes: None,
                }
            })
            .collect()
    }

    /// [`Dr::immutable_stores`], with what each S3 one's object versions show was changed
    /// after it was written, and a warning for each store changed (or not readable).
    pub(crate) async fn immutable_stores_checked(
        &self,
        warnings: &mut Vec<String>,
    ) -> Vec<ImmutableStore> {
        let mut stores = self.immutable_stores();
        if self.store_as_of().is_some() {
            return stores;
        }
        let b = &self.settings.settings.backup;
        for s in &mut stores {
            let Some(named) = b.storage.store(&s.store, &b.directory) else {
                continue;
            };
            if !matches!(named.target, crate::settings::StorageTarget::S3 { .. }) {
                continue;
            }
            let prefixes = [
                crate::repo::keys::BACKUPS_PREFIX,
                crate::repo::keys::POINTS_PREFIX,
            ];
            match crate::storage::object_versions(&named, &prefixes).await {
                Ok(versions) => {
                    let c = changes_of(&versions);
                    warnings.extend(changes_warning(&s.store, &c));
                    s.changes = Some(c);
                }
                Err(e) => warnings.push(format!(
                    "{}: its object versions could not be read, so changes after write are \
                     not known: {}",
                    s.store, e.message
                )),
            }
        }
        stores
    }

    /// The object-lock client of `store` when it is an S3 store marked `immutable`.
    pub(crate) fn object_lock_of(&self, store: &NamedStore) -> Result<Option<S3ObjectLock>> {
        S3ObjectLock::for_target(&store.target)
    }

    /// Lock the objects of the backups `only` names (every backup when `None`) on `store` until
    /// their [`lock_dates`]. Objects that are missing there (a checksum list of an old backup)
    /// are skipped; locks are only ever moved later.
    pub(crate) async fn lock_backups(
        &self,
        lock: &S3ObjectLock,
        store: &NamedStore,
        storage: &DynStorage,
        catalog: &Catalog,
        only: Option<&BTreeSet<String>>,
    ) -> LockReport {
        let policy = RetentionPolicy::from_settings(&self.settings.settings.backup);
        let dates = lock_dates(catalog, &policy, Utc::now());
        let mut report = LockReport {
            store: store.name.clone(),
            location: lock.name().to_string(),
            mode: lock.mode().to_string(),
            ..LockReport::default()
        };
        for b in &catalog.backups {
            if only.is_some_and(|o| !o.contains(&b.backup_id)) {
                continue;
            }
            let Some(until) = dates.get(&b.backup_id).copied() else {
                continue;
            };
            report.backups += 1;
            for key in objects_of(b) {
                let locked = async {
                    if storage.size(&key).await?.is_none() {
                        return Ok(None);
                    }
                    lock.retain_until(&key, until).await.map(Some)
                };
                match locked.await {
                    Ok(Some(true)) => report.objects_locked += 1,
                    Ok(Some(false)) => report.objects_already += 1,
                    Ok(None) => {}
                    Err(e) => {
                        report.error = Some(format!("{} (locking {key})", e.message));
                        return report;
                    }
                }
            }
            report.latest_until = report.latest_until.max(Some(until));
        }
        report
    }

    /// An S3 store marked `immutable` must really enforce object lock before a repository is
    /// made there (or a replica seeded): a probe version must refuse deletion. Other stores pass.
    pub(crate) async fn check_object_lock(&self, store: &NamedStore) -> Result<()> {
        let Some(lock) = self.object_lock_of(store)? else {
            return Ok(());
        };
        let enforced = lock.verify_enforced().await.map_err(|e| {
            let message = format!("{}; nothing was created there", e.message);
            crate::error::Error { message, ..e }
        })?;
        // What this host saw, for `backup status` (kept on this host, never in the store).
        let probe = super::enforcement::Probe {
            at: Utc::now(),
            enforced,
        };
        let state_dir = &self.settings.settings.daemon.state_dir;
        if let Err(e) = super::enforcement::record(state_dir, &store.target.display_name(), probe) {
            tracing::warn!(
                "the object-lock check of {} was not recorded: {e}",
                store.name
            );
        }
        if enforced {
            return Ok(());
        }
        Err(crate::error::Error::refused(format!(
            "{} ({}) is marked immutable but accepted a delete of a locked object version: the \
             server does not enforce object lock; nothing was created there",
            store.name,
            lock.name()
        ))
        .with_guidance(
            "use a bucket with object lock on a server that enforces it, or remove \
             immutable: true from the store's settings",
        ))
    }

    /// Lock a new backup and every backup it reads on `store`, when the store has object
    /// lock; `None` otherwise.
    pub(crate) async fn lock_new_backup(
        &self,
        store: &NamedStore,
        storage: &DynStorage,
        catalog: &Catalog,
        backup_id: &str,
    ) -> Option<LockReport> {
        let lock = match self.object_lock_of(store) {
            Ok(Some(l)) => l,
            Ok(None) => return None,
            Err(e) => {
                return Some(LockReport {
                    store: store.name.clone(),
                    location: store.target.display_name(),
                    error: Some(e.message),
                    ..LockReport::default()
                });
            }
        };
        let mut ids: BTreeSet<String> = BTreeSet::from([backup_id.to_string()]);
        if let Some(b) = catalog.get(backup_id) {
            ids.extend(b.depends_on.iter().cloned());
        }
        Some(
            self.lock_backups(&lock, store, storage, catalog, Some(&ids))
                .await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key written again is an overwrite, a delete marker after a write a deletion, a key
    /// written once nothing; two writes in one second (listed newest first) are an overwrite;
    /// the time to read as of is a second before the first change.
    #[test]
    fn changes_after_write_are_counted_from_the_versions() {
        let v =
            |key: &str, version: &str, secs: i64, deleted: bool| crate::storage::ObjectVersion {
                key: key.into(),
                version: version.into(),
                size: 1,
                modified: DateTime::from_timestamp(secs, 500_000_000).unwrap(),
                deleted,
            };
        let listing = [
            v("backups/a/manifest", "a2", 20, false),
            v("backups/a/manifest", "a1", 10, false),
            v("backups/b/manifest", "b-del", 30, true),
            v("backups/b/manifest", "b1", 10, false),
            v("backups/c/vol-00000", "c1", 10, false),
            v("backups/d/vol-00000", "d2", 5, false),
            v("backups/d/vol-00000", "d1", 5, false),
        ];
        let c = changes_of(&listing);
        assert_eq!(c.overwritten, 2);
        assert_eq!(c.first_overwrite, Some(listing[5].modified));
        assert_eq!(c.deleted, 1);
        assert_eq!(c.first_delete, Some(listing[2].modified));
        assert_eq!(c.read_as_of, DateTime::from_timestamp(4, 0));
        assert!(
            changes_warning("vault", &c)
                .unwrap()
                .contains("--store-as-of 1970-01-01T00:00:04Z")
        );
        let untouched = changes_of(&listing[4..5]);
        assert_eq!(untouched, ChangesAfterWrite::default());
        assert_eq!(changes_warning("vault", &untouched), None);
    }
    use crate::ops::retention::RetentionWindow;
    use serde_json::json;

    fn summary(id: &str, t: &str, finished: DateTime<Utc>, depends_on: &[&str]) -> ManifestSummary {
        serde_json::from_value(json!({
            "format_version": 3, "backup_id": id, "backup_type": t, "requested_type": t,
            "parent": null, "chain_root": id, "chain_length": 1, "started": finished,
            "finished": finished, "host": "h", "tool_version": "0", "compression_level": 3,
            "encrypted": true, "sources": [], "volumes": [],
            "totals": {"files": 0, "dirs": 0, "symlinks": 0, "bytes": 0, "files_stored": 0,
                       "bytes_stored_content": 0, "files_unchanged": 0, "files_deleted": 0,
                       "stored_bytes": 0},
            "depends_on": depends_on
        }))
        .unwrap()
    }

    #[test]
    fn a_full_stays_locked_until_the_newest_incremental_that_reads_it_expires() {
        let now = Utc::now();
        let day = Duration::days(1);
        let catalog = Catalog {
            backups: vec![
                summary("full", "full", now - day * 20, &[]),
                summary("inc1", "incremental", now - day * 2, &["full"]),
                summary("inc2", "incremental", now - day, &["full", "inc1"]),
                summary("arch", "archival", now, &[]),
            ],
            ..Catalog::default()
        };
        let policy = RetentionPolicy {
            incremental: Some(RetentionWindow::Days(7)),
            full: Some(RetentionWindow::Weeks(4)),
            archival: None,
        };
        let d = lock_dates(&catalog, &policy, now);
        // The full's own 4 weeks end in 8 days, after inc2's 7 days (in 6): it keeps its own.
        assert_eq!(d["full"], now - day * 20 + Duration::weeks(4));
        // inc1 is read by inc2: locked until inc2's end, not its own (5 days).
        assert_eq!(d["inc1"], now - day + Duration::days(7));
        assert_eq!(d["inc2"], now - day + Duration::days(7));
        // No archival window: locked for the unbounded period from now.
        assert_eq!(d["arch"], now + Duration::days(UNBOUNDED_LOCK_DAYS));

        // A full whose own lock ends before its newest incremental's is held until that one.
        let short = RetentionPolicy {
            full: Some(RetentionWindow::Days(1)),
            ..policy
        };
        let d = lock_dates(&catalog, &short, now);
        assert_eq!(d["full"], now - day + Duration::days(7));
    }
}
