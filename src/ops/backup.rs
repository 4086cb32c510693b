//! `backup run`: full, incremental and archival backups, volumes built in parallel.

use std::collections::{BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use crate::repo::hash::Sha256;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::blocks::{BlockFile, BlockStore};
use super::events::BackupFinished;
use super::immutability::LockReport;
use super::new_repository::{InitResponse, UNENCRYPTED_WARNING};
use super::points::{self, PointBasis};
use super::replication::ReplicaCopy;
use super::scan::{self, ScanContext};
use super::sqlite::{FileStamp, WalBase, is_sqlite};
use super::{Cancel, Dr, OperationEvent, Progress, secs, with_lock};
use crate::error::{Error, ErrorKind, Result};
use crate::repo::blockmap::BlockMaps;
use crate::repo::catalog::Catalog;
use crate::repo::keys::{volume_key, volume_name};
use crate::repo::locks::LockMode;
use crate::repo::manifest::{
    BlockList, Entry, EntryKind, Location, MANIFEST_VERSION, Manifest, ManifestSummary, Origin,
    Totals, VolumeContent, VolumeRecord,
};
use crate::repo::paths::stored_path_for;
use crate::repo::volume::{FileOutcome, VolumeInput, VolumeParams, write_volume};
use crate::repo::{BackupType, Repository, new_backup_id};
use crate::settings::ResolvedSource;
use crate::storage::bridge::writer_pump;

const MIB: u64 = 1 << 20;

/// The backup type made when none is named.
pub const DEFAULT_BACKUP_TYPE: BackupType = BackupType::Incremental;

fn default_type() -> BackupType {
    DEFAULT_BACKUP_TYPE
}

/// Options of a backup: `backup run` on the command line, `backup_run` over MCP.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct BackupOptions {
    /// full (a complete copy), incremental (only what changed since the last backup; the
    /// default) or archival (a full copy kept longest, compressed harder).
    #[serde(default = "default_type")]
    #[arg(long = "backup-type", alias = "type", value_enum, default_value_t = DEFAULT_BACKUP_TYPE)]
    pub backup_type: BackupType,
    /// Mark the run as started by a schedule (cron, the daemon), not by hand.
    #[serde(skip)]
    #[arg(long)]
    pub scheduled: bool,
    /// Treat a replica that could not be brought up to date as a failure (exit 1). The backup
    /// itself is kept either way, and the next run catches the replica up.
    #[serde(default)]
    #[arg(long)]
    pub require_replicas: bool,
}

/// Options of a continuous point (`backup point`; the daemon makes them as sources change).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct PointOptions {
    /// The point this process made last: spares listing the points to find it.
    #[serde(skip)]
    #[arg(skip)]
    pub previous: Option<String>,
}

impl Default for BackupOptions {
    fn default() -> Self {
        BackupOptions {
            backup_type: DEFAULT_BACKUP_TYPE,
            scheduled: false,
            require_replicas: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupStatus {
    Completed,
    Skipped,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BackupResponse {
    pub status: BackupStatus,
    /// One line for people.
    pub message: String,
    pub backup_id: Option<String>,
    /// What was made (an incremental with no full before it becomes a full).
    pub backup_type: Option<BackupType>,
    pub requested_type: BackupType,
    /// Why the type differs from the request, when it does.
    pub type_reason: Option<String>,
    pub parent: Option<String>,
    pub chain_length: u32,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub duration_seconds: f64,
    pub totals: Totals,
    pub volumes: u32,
    /// The backup was read back and every stored file's SHA-256 checked before success.
    pub verified: bool,
    pub repository: String,
    /// Set when this run created the repository (first use).
    pub initialized: Option<InitResponse>,
    /// The copy to each replica after the backup (every backup a replica lacked, oldest
    /// first). A failed copy leaves the backup good; the next run catches the replica up.
    pub replication: Vec<ReplicaCopy>,
    /// On a store with S3 object lock (`immutable: true`): the lock put on this backup and on
    /// every backup it reads.
    pub object_lock: Option<LockReport>,
    pub warnings: Vec<String>,
}

impl BackupResponse {
    /// A response that made nothing (the caller sets the status and message).
    fn empty(requested_type: BackupType, repository: String) -> BackupResponse {
        BackupResponse {
            status: BackupStatus::Skipped,
            message: String::new(),
            backup_id: None,
            backup_type: None,
            requested_type,
            type_reason: None,
            parent: None,
            chain_length: 0,
            started: None,
            finished: None,
            duration_seconds: 0.0,
            totals: Totals::default(),
            volumes: 0,
            verified: false,
            repository,
            initialized: None,
            replication: Vec::new(),
            object_lock: None,
            warnings: Vec::new(),
        }
    }

    /// Every replica holds every backup (true without replicas).
    pub fn replicas_ok(&self) -> bool {
        self.replication.iter().all(|r| r.ok)
    }
}

struct Plan {
    backup_type: BackupType,
    reason: Option<String>,
    parent: Option<ManifestSummary>,
}

/// The sources a backup covers, as its manifest records them: each one's kind and the name it
/// is stored under (relative to the project root, so a project moved to another folder or
/// server keeps its chains). Backups of the same host and source set form one chain.
type SourceSet = BTreeSet<(String, String)>;

fn recorded_sources(s: &ManifestSummary) -> SourceSet {
    s.sources
        .iter()
        .map(|r| (r.kind.clone(), r.stored_as.clone()))
        .collect()
}

/// The sources this backup will record: the configured ones, without the default sources
/// that do not exist (the scan skips those).
fn configured_sources(
    sources: &[ResolvedSource],
    project_root: &std::path::Path,
    default_sources: bool,
) -> SourceSet {
    sources
        .iter()
        .filter_map(|s| match s {
            ResolvedSource::Path { path, .. } => {
                if default_sources && std::fs::symlink_metadata(path).is_err() {
                    return None;
                }
                let stored = stored_path_for(project_root, path).ok()?;
                Some(("path".to_string(), stored))
            }
            ResolvedSource::Command { name, .. } => Some((
                "command".to_string(),
                format!("{}/{name}", scan::COMMAND_PREFIX),
            )),
        })
        .collect()
}

/// Choose the type and the parent: an incremental builds on the newest backup of the same host
/// and source set (never on another host's backup, however new).
fn choose_type(
    catalog: &Catalog,
    requested: BackupType,
    max_chain: u32,
    host: &str,
    sources: &SourceSet,
) -> Plan {
    let latest = catalog
        .backups
        .iter()
        .rev()
        .find(|b| b.host == host && recorded_sources(b) == *sources)
        .cloned();
    if requested != BackupType::Incremental {
        return Plan {
            backup_type: requested,
            reason: None,
            parent: None,
        };
    }
    // An unreadable manifest names no host: one newer than this chain's head may be its own.
    let head = latest.as_ref().map_or("", |l| l.backup_id.as_str());
    if let Some(u) = catalog
        .unreadable
        .iter()
        .filter(|u| u.backup_id.as_str() > head)
        .max_by(|a, b| a.backup_id.cmp(&b.backup_id))
    {
        return Plan {
            backup_type: BackupType::Full,
            reason: Some(format!(
                "the newest backup {} is unreadable ({}): a new full was made instead of an incremental on top of it",
                u.backup_id, u.error.message
            )),
            parent: None,
        };
    }
    let Some(latest) = latest else {
        return Plan {
            backup_type: BackupType::Full,
            reason: Some(format!(
                "no full backup of host {host} with these sources exists yet: this incremental \
                 was made as a full"
            )),
            parent: None,
        };
    };
    if catalog.chain(&latest.backup_id).is_err() {
        return Plan {
            backup_type: BackupType::Full,
            reason: Some(format!(
                "the chain of the newest backup {} is broken: a new full was made",
                latest.backup_id
            )),
            parent: None,
        };
    }
    if latest.chain_length >= max_chain {
        return Plan {
            backup_type: BackupType::Full,
            reason: Some(format!(
                "the chain of {} reached max_chain_length {max_chain}: a new full was made",
                latest.backup_id
            )),
            parent: None,
        };
    }
    Plan {
        backup_type: BackupType::Incremental,
        reason: None,
        parent: Some(latest),
    }
}

/// One scanned entry on its way into the manifest.
struct Planned {
    entry: Entry,
    read_from: Option<PathBuf>,
    /// Its bytes go into a volume of this backup (new or changed).
    store: bool,
    /// It vanished or became unreadable before it was read: not in the snapshot.
    dropped: bool,
}

struct VolumeDone {
    index: u32,
    outcomes: Vec<FileOutcome>,
    stored_bytes: u64,
    sha256: String,
}

/// A built backup or point with its duration; or, when it failed, what it wrote removed (a
/// crash that skips this leaves orphans for cleanup).
async fn timed_or_discarded(
    repo: &Repository,
    id: &str,
    t0: Instant,
    r: Result<BackupResponse>,
) -> Result<BackupResponse> {
    match r {
        Ok(mut resp) => {
            resp.duration_seconds = secs(t0.elapsed());
            Ok(resp)
        }
        Err(e) => {
            repo.discard_failed_backup(id).await;
            Err(e)
        }
    }
}

impl Dr {
    /// Make a backup. Creates the repository (and a key, when none exists) on first use.
    /// Emits `BackupFinished` or `BackupFailed` to the observer.
    pub async fn backup(
        &self,
        req: &BackupOptions,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<BackupResponse> {
        self.needs_settings("backup run")?;
        let r = self.backup_unobserved(req, progress, cancel).await;
        self.observed(
            r,
            |r| {
                OperationEvent::BackupFinished(BackupFinished {
                    completed: r.status == BackupStatus::Completed,
                    backup_id: r.backup_id.clone(),
                    backup_type: r.backup_type,
                    files: r.totals.files,
                    bytes: r.totals.bytes,
                    stored_bytes: r.totals.stored_bytes,
                    duration_seconds: r.duration_seconds,
                    verified: r.verified,
                })
            },
            OperationEvent::BackupFailed,
        )
    }

    async fn backup_unobserved(
        &self,
        req: &BackupOptions,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<BackupResponse> {
        let b = &self.settings.settings.backup;
        if !b.enabled {
            let message = if req.scheduled {
                "backup.enabled is false in the settings: this scheduled run was skipped"
                    .to_string()
            } else {
                "backup.enabled is false in the settings: no backup was made (set it to true to back up)"
                    .to_string()
            };
            return Ok(BackupResponse {
                status: BackupStatus::Skipped,
                message,
                ..BackupResponse::empty(req.backup_type, self.storage.describe())
            });
        }
        let mut initialized = None;
        if !Repository::exists(&self.storage).await? {
            let generate_key = b.encryption.enabled && !b.encryption.key_path.exists();
            let r = self.create_repository(generate_key).await?;
            progress.notice(&format!(
                "first use: created the repository {} ({})",
                r.repository,
                if r.key_generated {
                    format!("new key written to {}", b.encryption.key_path.display())
                } else if r.encrypted {
                    format!("using the existing key {}", b.encryption.key_path.display())
                } else {
                    "unencrypted".to_string()
                }
            ));
            for w in &r.warnings {
                progress.notice(w);
            }
            initialized = Some(r);
        }
        let repo = self.open_repo().await?;
        let guard = self
            .lock(LockMode::Backup, "backup run", &*progress, cancel)
            .await?;
        let mut resp = with_lock(
            guard,
            self.backup_locked(&repo, req, progress.clone(), cancel),
        )
        .await?;
        if let Some(id) = &resp.backup_id
            && self.store.target.immutable()
        {
            progress.phase("locking the backup's objects", None);
            let catalog = async { Catalog::load(&self.open_repo().await?).await };
            let report = match catalog.await {
                Ok(catalog) => {
                    self.lock_new_backup(&self.store, &self.storage, &catalog, id)
                        .await
                }
                Err(e) => Some(LockReport {
                    store: self.store.name.clone(),
                    error: Some(e.message),
                    ..LockReport::default()
                }),
            };
            if let Some(e) = report.as_ref().and_then(|r| r.error.as_ref()) {
                resp.warnings.push(format!(
                    "the backup is stored but not (fully) locked on {}: {e}; run `mahavishnu-dr \
                     retention extend` once this is fixed",
                    self.store.name
                ));
            }
            resp.object_lock = report;
        }
        self.replicate_into(&mut resp, "backup", &*progress, cancel)
            .await;
        if let Some(i) = &initialized {
            let mut w = i.warnings.clone();
            w.append(&mut resp.warnings);
            resp.warnings = w;
        }
        resp.initialized = initialized;
        Ok(resp)
    }

    /// After a backup or point (`what`): copy to the replicas, keep what each copy did in the
    /// response, and warn of each replica not brought up to date (the backup or point is good
    /// either way; the next run catches up).
    async fn replicate_into(
        &self,
        resp: &mut BackupResponse,
        what: &str,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) {
        resp.replication = self.replicate_after_backup(progress, cancel).await;
        for r in resp.replication.iter().filter(|r| !r.ok) {
            resp.warnings.push(format!(
                "replica {} was not brought up to date: {} (the {what} is good; the next run \
                 catches up)",
                r.name,
                r.error.as_deref().unwrap_or("unknown error")
            ));
        }
    }

    /// Copy what the other stores lack, under a shared lock of the store in use. The
    /// repository is opened again: the backup may have upgraded its config.
    async fn replicate_after_backup(
        &self,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Vec<ReplicaCopy> {
        let targets = self.other_stores();
        if targets.is_empty() {
            return Vec::new();
        }
        let source = async {
            let repo = self.open_repo().await?;
            let guard = self
                .lock(LockMode::Shared, "replicate", progress, cancel)
                .await?;
            Ok::<_, Error>((repo, guard))
        };
        match source.await {
            Ok((repo, guard)) => {
                let out = self.replicate_to(&repo, &targets, progress, cancel).await;
                if let Err(e) = guard.release().await {
                    progress.notice(&format!("warning: releasing the repository lock: {e}"));
                }
                out
            }
            Err(e) => targets.iter().map(|t| ReplicaCopy::failed(t, &e)).collect(),
        }
    }

    async fn backup_locked(
        &self,
        repo: &Repository,
        req: &BackupOptions,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<BackupResponse> {
        let started = Utc::now();
        let t0 = Instant::now();
        let id = new_backup_id(started);
        let r = self
            .build_backup(repo, req, &id, started, None, progress, cancel)
            .await;
        timed_or_discarded(repo, &id, t0, r).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn build_backup(
        &self,
        repo: &Repository,
        req: &BackupOptions,
        id: &str,
        started: DateTime<Utc>,
        point: Option<(&PointBasis, Catalog)>,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<BackupResponse> {
        let s = &self.settings.settings;
        let b = &s.backup;
        let host = self.host();
        let mut sources = self.settings.sources();
        let default_sources = b.sources.is_empty();
        let (catalog, plan, parent_manifest, point) = match point {
            None => {
                let catalog = Catalog::load(repo).await?;
                let plan = choose_type(
                    &catalog,
                    req.backup_type,
                    b.max_chain_length.max(1),
                    &host,
                    &configured_sources(&sources, &self.settings.project_root, default_sources),
                );
                let parent_manifest = match &plan.parent {
                    Some(p) => Some(repo.read_manifest(&p.backup_id).await?),
                    None => None,
                };
                (catalog, plan, parent_manifest, None)
            }
            Some((basis, catalog)) => {
                // A point reads only the path sources it covers; command sources never run.
                let root = &self.settings.project_root;
                sources.retain(|s| match s {
                    ResolvedSource::Path { path, .. } => stored_path_for(root, path)
                        .is_ok_and(|stored| basis.covered.contains(&stored)),
                    ResolvedSource::Command { .. } => false,
                });
                let plan = Plan {
                    backup_type: BackupType::Incremental,
                    reason: None,
                    parent: Some(basis.parent.summary.clone()),
                };
                (catalog, plan, Some(basis.parent.clone()), Some(basis))
            }
        };

        // Scan the sources.
        progress.phase("scanning sources", None);
        // Command outputs: a private work folder, made on first use.
        let work = Arc::new(self.scratch_work(id));
        let mut skip = self.settings.store_dirs();
        skip.push(b.encryption.key_path.clone());
        skip.push(s.disaster_recovery.restore_test.scratch_dir.clone());
        let project_root = self.settings.project_root.clone();
        let exclude = b.exclude.clone();
        let cancel2 = cancel.clone();
        let work2 = work.clone();
        let scanned = tokio::task::spawn_blocking(move || {
            scan::scan(
                &sources,
                &ScanContext {
                    project_root: &project_root,
                    global_exclude: &exclude,
                    skip: &skip,
                    default_sources,
                    command_dir: Some(&work2),
                    cancel: &cancel2,
                },
            )
        })
        .await
        .map_err(|e| Error::internal(format!("scan task failed: {e}")))??;
        let mut warnings = scanned.warnings;

        // Decide what to store: files whose stamp differs from the parent's (all, for a full).
        let parent_entries: HashMap<&str, &Entry> = parent_manifest
            .as_ref()
            .map(|m| m.entries.iter().map(|e| (e.path.as_str(), e)).collect())
            .unwrap_or_default();
        let mut planned: Vec<Planned> = Vec::with_capacity(scanned.items.len());
        for item in scanned.items {
            let mut e = item.entry;
            let mut store = e.kind == EntryKind::File;
            if e.kind == EntryKind::File
                && let Some(p) = parent_entries.get(e.path.as_str())
                && p.kind == EntryKind::File
                && p.stamp == e.stamp
                && (p.location.is_some() || p.blocks.is_some())
            {
                e.size = p.size;
                e.sha256 = p.sha256.clone();
                e.location = p.location.clone();
                e.blocks = p.blocks.clone();
                e.origin = p.origin;
                store = false;
            }
            if store
                && e.origin == Origin::File
                && e.size >= 512
                && let Some(rf) = &item.read_from
                && is_sqlite(rf)
            {
                e.origin = Origin::Sqlite;
            }
            planned.push(Planned {
                entry: e,
                read_from: item.read_from,
                store,
                dropped: false,
            });
        }
        // A point keeps the parent's entries of what it does not read.
        if let (Some(basis), Some(pm)) = (point, &parent_manifest) {
            planned.extend(
                pm.entries
                    .iter()
                    .filter(|e| !basis.covers(&e.path))
                    .map(|e| Planned {
                        entry: e.clone(),
                        read_from: None,
                        store: false,
                        dropped: false,
                    }),
            );
            planned.sort_by(|a, b| a.entry.path.cmp(&b.entry.path));
        }
        // A SQLite database's -wal/-shm/-journal files are inside its snapshot; never store them.
        let dbs: BTreeSet<String> = planned
            .iter()
            .filter(|p| p.entry.origin == Origin::Sqlite)
            .map(|p| p.entry.path.clone())
            .collect();
        let dbs: BTreeSet<&str> = dbs.iter().map(String::as_str).collect();
        planned.retain(|p| !super::sqlite::is_sidecar(&p.entry.path, &dbs));

        let current: BTreeSet<&str> = planned.iter().map(|p| p.entry.path.as_str()).collect();
        let mut deleted: Vec<String> = parent_manifest
            .as_ref()
            .map(|m| {
                m.entries
                    .iter()
                    .filter(|e| !current.contains(e.path.as_str()))
                    .map(|e| e.path.clone())
                    .collect()
            })
            .unwrap_or_default();

        // Block-mapped files (every SQLite database, and files of at least min_file_mb): stored
        // as blocks, only the changed ones in an incremental.
        let min_blocks = b.block_incremental.min_file_mb.max(1) * MIB;
        let mut parent_maps: HashMap<String, Arc<BlockMaps>> = HashMap::new();
        let mut block_files: Vec<BlockFile> = Vec::new();
        for (idx, p) in planned.iter().enumerate() {
            let e = &p.entry;
            let Some(rf) = &p.read_from else { continue };
            if !p.store
                || e.origin == Origin::Command
                || (e.origin != Origin::Sqlite && e.size < min_blocks)
            {
                continue;
            }
            let prev = parent_entries
                .get(e.path.as_str())
                .filter(|pe| pe.kind == EntryKind::File);
            let mut parent = None;
            let mut parent_wal = None;
            if let Some(pe) = prev
                && let Some(bl) = &pe.blocks
            {
                if !parent_maps.contains_key(&bl.map_in) {
                    let m = super::assemble::load_map(repo, &catalog, &bl.map_in)
                        .await
                        .map_err(|err| err.context(format!("{}: reading its block map", e.path)))?;
                    parent_maps.insert(bl.map_in.clone(), Arc::new(m));
                }
                let maps = parent_maps[&bl.map_in].clone();
                if let Ok(i) = maps
                    .files
                    .binary_search_by(|f| f.path.as_str().cmp(&e.path))
                {
                    parent = Some((maps, i));
                }
                if pe.inode == e.inode && pe.dev == e.dev && pe.origin == Origin::Sqlite {
                    parent_wal = Some(match &bl.wal {
                        Some(g) => WalBase::Generation(g.clone()),
                        None => WalBase::Untouched(FileStamp {
                            dev: pe.dev,
                            inode: pe.inode,
                            mtime_ns: pe.mtime_ns,
                            ctime_ns: pe.ctime_ns,
                        }),
                    });
                }
            }
            block_files.push(BlockFile {
                entry: idx,
                path: e.path.clone(),
                read_from: rf.clone(),
                sqlite: e.origin == Origin::Sqlite,
                parent,
                parent_wal,
            });
        }
        let block_entries: BTreeSet<usize> = block_files.iter().map(|f| f.entry).collect();

        // Plan volumes: split at file boundaries once volume_size_mb of input is in one.
        let limit = b.volume_size_mb.max(1) * MIB;
        let mut volumes: Vec<Vec<VolumeInput>> = Vec::new();
        let mut cur: Vec<VolumeInput> = Vec::new();
        let mut cur_size = 0u64;
        let mut to_store_bytes = 0u64;
        for (idx, p) in planned.iter().enumerate() {
            let e = &p.entry;
            if !p.store || block_entries.contains(&idx) {
                continue;
            }
            let Some(rf) = &p.read_from else { continue };
            let input = VolumeInput {
                entry: idx,
                stored_path: e.path.clone(),
                read_from: rf.clone(),
                mode: e.mode,
                mtime_ns: e.mtime_ns,
                size_hint: e.size,
            };
            to_store_bytes += e.size;
            if e.size >= limit {
                volumes.push(vec![input]);
                continue;
            }
            if cur_size + e.size > limit && !cur.is_empty() {
                volumes.push(std::mem::take(&mut cur));
                cur_size = 0;
            }
            cur_size += e.size;
            cur.push(input);
        }
        if !cur.is_empty() {
            volumes.push(cur);
        }

        // Write volumes, one per core, largest first.
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let level = if plan.backup_type == BackupType::Archival {
            b.compression.archival_level
        } else {
            b.compression.level
        };
        let block_bytes: u64 = block_files
            .iter()
            .map(|f| planned[f.entry].entry.size)
            .sum();
        progress.phase("storing", Some(to_store_bytes + block_bytes));
        let store = BlockStore {
            storage: repo.storage().clone(),
            master: repo.master()?.cloned(),
            repo_id: repo.id().to_string(),
            backup_id: id.to_string(),
            frame_size: repo.frame_size(),
            level,
            volume_limit: limit,
            first_volume: volumes.len() as u32,
            workers: cores,
        };
        let blocks_task = {
            let progress = progress.clone();
            let cancel = cancel.clone();
            tokio::task::spawn_blocking(move || store.run(block_files, &*progress, &cancel))
        };
        let mut order: Vec<(u32, Vec<VolumeInput>)> = volumes
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i as u32, v))
            .collect();
        order.sort_by_key(|(_, v)| std::cmp::Reverse(v.iter().map(|i| i.size_hint).sum::<u64>()));
        let results: Vec<Result<VolumeDone>> = futures::stream::iter(order)
            .map(|(index, inputs)| {
                let single_big = inputs.len() == 1 && inputs[0].size_hint >= limit;
                let workers = if single_big { cores as u32 } else { 0 };
                self.write_one_volume(
                    repo,
                    id,
                    index,
                    inputs,
                    level,
                    workers,
                    progress.clone(),
                    cancel.clone(),
                )
            })
            .buffer_unordered(cores)
            .collect()
            .await;
        let mut done = Vec::with_capacity(results.len());
        let mut first_err = None;
        for r in results {
            match r {
                Ok(d) => done.push(d),
                Err(e) => {
                    if first_err
                        .as_ref()
                        .is_none_or(|f: &Error| f.kind == ErrorKind::Cancelled)
                    {
                        first_err = Some(e);
                    }
                }
            }
        }
        let blocks = blocks_task
            .await
            .map_err(|e| Error::internal(format!("block task failed: {e}")));
        let blocks = match (first_err, blocks) {
            (Some(e), _) => return Err(e),
            (None, Err(e)) => return Err(e),
            (None, Ok(r)) => r?,
        };
        if cancel.is_cancelled() {
            return Err(super::cancelled());
        }
        done.sort_by_key(|d| d.index);

        // Fill in what the volumes produced.
        let mut vol_records = Vec::with_capacity(done.len());
        for d in &done {
            let mut content = 0;
            let mut files = 0;
            for o in &d.outcomes {
                if let Some(why) = &o.skipped {
                    warnings.push(why.clone());
                    planned[o.entry].dropped = true;
                    continue;
                }
                files += 1;
                let e = &mut planned[o.entry].entry;
                e.size = o.size;
                e.sha256 = Some(o.sha256.clone());
                e.location = Some(Location {
                    backup_id: id.to_string(),
                    volume: d.index,
                });
                if o.changed_while_reading {
                    warnings.push(format!(
                        "{} changed while it was read: what was stored is checksummed but may mix old and new content",
                        e.path
                    ));
                }
                content += o.size;
            }
            vol_records.push(VolumeRecord {
                index: d.index,
                name: volume_name(d.index),
                files,
                content_bytes: content,
                stored_bytes: d.stored_bytes,
                sha256: d.sha256.clone(),
                content: VolumeContent::Files,
            });
        }
        let mut block_content = 0u64;
        let mut block_counts = (0u64, 0u64, 0u64);
        for f in &blocks.files {
            let p = &mut planned[f.entry];
            if let Some(why) = &f.skipped {
                warnings.push(why.clone());
                p.dropped = true;
                continue;
            }
            if let Some(why) = &f.plain_copy {
                warnings.push(why.clone());
                p.entry.origin = Origin::File;
            }
            if f.changed_while_reading {
                warnings.push(format!(
                    "{} changed while it was read: what was stored is checksummed but may mix old and new content",
                    f.path
                ));
            }
            block_content += f.bytes_stored;
            block_counts.0 += f.blocks_read;
            block_counts.1 += f.blocks_hashed;
            block_counts.2 += f.blocks_stored;
            let e = &mut p.entry;
            e.size = f.size;
            e.sha256 = f.sha256.clone();
            e.location = None;
            e.blocks = Some(BlockList {
                block_size: f.block_size,
                count: f.blocks,
                map_in: id.to_string(),
                backups: f.backups.clone(),
                wal: f.wal.clone(),
                digest: Some(f.digest.clone()),
            });
        }
        vol_records.extend(blocks.volumes.iter().cloned());
        vol_records.sort_by_key(|v| v.index);
        let mut blocks = blocks;
        let mut map_bases = BTreeSet::new();
        if let Some(basis) = point {
            map_bases = points::delta_maps(repo, &catalog, &basis.base, &mut blocks.maps).await?;
        }
        let block_map = if blocks.maps.files.is_empty() && blocks.maps.deltas.is_empty() {
            None
        } else {
            Some(repo.write_block_map(id, &blocks.maps).await?)
        };

        // Files that vanished or became unreadable are not in this snapshot.
        for p in planned.iter().filter(|p| p.dropped) {
            if parent_entries.contains_key(p.entry.path.as_str()) {
                deleted.push(p.entry.path.clone());
            }
        }
        deleted.sort();
        planned.retain(|p| !p.dropped);
        let mut totals = Totals::default();
        let mut depends: BTreeSet<String> = BTreeSet::new();
        for p in &planned {
            let e = &p.entry;
            match e.kind {
                EntryKind::File => {
                    totals.files += 1;
                    totals.bytes += e.size;
                    if p.store {
                        totals.files_stored += 1;
                        if e.blocks.is_none() {
                            totals.bytes_stored_content += e.size;
                        }
                    } else {
                        totals.files_unchanged += 1;
                    }
                    if let Some(l) = &e.location
                        && l.backup_id != id
                    {
                        depends.insert(l.backup_id.clone());
                    }
                    if let Some(bl) = &e.blocks {
                        depends.extend(
                            bl.backups
                                .iter()
                                .chain(std::iter::once(&bl.map_in))
                                .filter(|b| *b != id)
                                .cloned(),
                        );
                    }
                }
                EntryKind::Dir => totals.dirs += 1,
                EntryKind::Symlink => totals.symlinks += 1,
            }
        }
        // Files of the parent that are no longer files (deleted, or replaced by a folder or link).
        totals.files_deleted = parent_entries
            .values()
            .filter(|e| e.kind == EntryKind::File)
            .filter(|e| {
                planned
                    .binary_search_by(|p| p.entry.path.as_str().cmp(e.path.as_str()))
                    .map_or(true, |i| planned[i].entry.kind != EntryKind::File)
            })
            .count() as u64;
        if !repo.encrypted() {
            warnings.push(UNENCRYPTED_WARNING.to_string());
        }
        totals.bytes_stored_content += block_content;
        (
            totals.blocks_read,
            totals.blocks_hashed,
            totals.blocks_stored,
        ) = block_counts;
        totals.stored_bytes = vol_records.iter().map(|v| v.stored_bytes).sum::<u64>()
            + block_map.as_ref().map_or(0, |m| m.size);

        let (parent, chain_root, chain_length) = match &plan.parent {
            // A point does not lengthen its base's chain.
            Some(p) if point.is_some() => (
                Some(p.backup_id.clone()),
                p.chain_root.clone(),
                p.chain_length,
            ),
            Some(p) => (
                Some(p.backup_id.clone()),
                p.chain_root.clone(),
                p.chain_length + 1,
            ),
            None => (None, id.to_string(), 1),
        };
        depends.extend(map_bases);
        let sources_recorded = match point {
            Some(basis) => basis.base.summary.sources.clone(),
            None => scanned.sources,
        };
        let manifest = Manifest {
            summary: ManifestSummary {
                format_version: MANIFEST_VERSION,
                backup_id: id.to_string(),
                backup_type: plan.backup_type,
                requested_type: req.backup_type,
                parent: parent.clone(),
                chain_root,
                chain_length,
                started,
                finished: Utc::now(),
                host,
                tool_version: env!("CARGO_PKG_VERSION").to_string(),
                compression_level: level,
                encrypted: repo.encrypted(),
                sources: sources_recorded,
                volumes: vol_records,
                totals: totals.clone(),
                depends_on: depends.into_iter().collect(),
                warnings: warnings.clone(),
                block_map,
                base: point.map(|b| b.base.summary.backup_id.clone()),
            },
            entries: planned.into_iter().map(|p| p.entry).collect(),
            deleted,
        };

        // verify_on_create: read every new volume back and check every file before committing.
        let verify = b.validation.enabled && b.validation.verify_on_create;
        if verify {
            progress.phase("verifying", Some(totals.bytes_stored_content));
            let checks = self
                .verify_volumes(repo, &manifest, None, progress.clone(), cancel)
                .await?;
            if let Some(p) = checks.problems.first() {
                return Err(Error::integrity(format!(
                    "the new backup {id} failed its read-back check: {}",
                    p.problem
                ))
                .with_guidance(
                    "nothing was committed; check the repository's disk, then run the backup again",
                ));
            }
        }
        if cancel.is_cancelled() {
            return Err(super::cancelled());
        }
        if let Some(basis) = point
            && manifest.entries == basis.parent.entries
        {
            repo.discard_failed_backup(id).await;
            progress.finish();
            return Ok(BackupResponse {
                status: BackupStatus::Skipped,
                message: format!(
                    "nothing changed since {}: no point was made",
                    basis.parent.summary.backup_id
                ),
                backup_id: None,
                parent,
                ..BackupResponse::empty(req.backup_type, self.storage.describe())
            });
        }
        let manifest = match point {
            Some(basis) => points::record_of(&basis.base, manifest),
            None => manifest,
        };
        repo.commit_manifest(&manifest).await?;
        if verify {
            let back = repo.read_manifest(id).await?;
            if back != manifest {
                return Err(Error::integrity(format!(
                    "the manifest of {id} did not read back identical"
                )));
            }
        }
        progress.finish();
        let summary = &manifest.summary;
        let message = format!(
            "{} {id}: {} files ({} stored, {} unchanged, {} deleted), {} stored{}",
            match &summary.base {
                Some(base) => format!("continuous point on {base}:"),
                None => format!("{} backup", summary.backup_type),
            },
            totals.files,
            totals.files_stored,
            totals.files_unchanged,
            totals.files_deleted,
            crate::present::bytes(totals.stored_bytes),
            if verify { ", verified" } else { "" }
        );
        Ok(BackupResponse {
            status: BackupStatus::Completed,
            message,
            backup_id: Some(id.to_string()),
            backup_type: Some(summary.backup_type),
            requested_type: req.backup_type,
            type_reason: plan.reason,
            parent,
            chain_length,
            started: Some(started),
            finished: Some(summary.finished),
            duration_seconds: 0.0,
            totals,
            volumes: summary.volumes.len() as u32,
            verified: verify,
            repository: self.storage.describe(),
            initialized: None,
            replication: Vec::new(),
            object_lock: None,
            warnings,
        })
    }

    /// Record a continuous point: what changed in the covered path sources since the previous
    /// point (or the newest backup of this host and source set, its base), as a record of what
    /// differs from the base. Skipped when nothing changed. Emits no operation event (the
    /// daemon counts points in its state).
    pub async fn record_point(
        &self,
        req: &PointOptions,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<BackupResponse> {
        self.needs_settings("backup point")?;
        let covered: Vec<String> = self
            .settings
            .continuous_sources()?
            .into_iter()
            .map(|(_, stored)| stored)
            .collect();
        let repo = self.open_repo().await?;
        let guard = self
            .lock(LockMode::Backup, "backup point", &*progress, cancel)
            .await?;
        let mut resp = with_lock(
            guard,
            self.point_locked(&repo, req, covered, progress.clone(), cancel),
        )
        .await?;
        if resp.status == BackupStatus::Completed {
            // The replicas get the point (and whatever else they lack) as they get backups.
            self.replicate_into(&mut resp, "point", &*progress, cancel)
                .await;
        }
        Ok(resp)
    }

    async fn point_locked(
        &self,
        repo: &Repository,
        req: &PointOptions,
        covered: Vec<String>,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<BackupResponse> {
        let started = Utc::now();
        let t0 = Instant::now();
        let b = &self.settings.settings.backup;
        let mut catalog = Catalog::load(repo).await?;
        let host = self.host();
        let configured = configured_sources(
            &self.settings.sources(),
            &self.settings.project_root,
            b.sources.is_empty(),
        );
        let plan = choose_type(
            &catalog,
            BackupType::Incremental,
            u32::MAX,
            &host,
            &configured,
        );
        let Some(base) = plan.parent else {
            return Err(Error::not_found(format!(
                "there is no readable backup of host {host} with these sources for a continuous                  point to build on{}",
                plan.reason.map(|r| format!(" ({r})")).unwrap_or_default()
            ))
            .with_guidance("run `mahavishnu-dr backup run` first (the daemon makes one by itself)"));
        };
        let base_manifest = repo.read_manifest(&base.backup_id).await?;
        let parent = match points::previous_point(repo, &base, req.previous.as_deref()).await? {
            Some(p) => points::state_at(&base_manifest, p)?,
            None => base_manifest.clone(),
        };
        points::add_point_summaries(repo, &mut catalog, &parent).await?;
        let basis = PointBasis {
            base: base_manifest,
            parent,
            covered,
        };
        let id = crate::repo::new_point_id(started);
        let options = BackupOptions {
            scheduled: true,
            ..BackupOptions::default()
        };
        let r = self
            .build_backup(
                repo,
                &options,
                &id,
                started,
                Some((&basis, catalog)),
                progress,
                cancel,
            )
            .await;
        timed_or_discarded(repo, &id, t0, r).await
    }

    #[allow(clippy::too_many_arguments)]
    async fn write_one_volume(
        &self,
        repo: &Repository,
        id: &str,
        index: u32,
        inputs: Vec<VolumeInput>,
        level: i32,
        workers: u32,
        progress: Arc<dyn Progress>,
        cancel: Cancel,
    ) -> Result<VolumeDone> {
        let master = repo.master()?.cloned();
        let key = volume_key(id, index);
        let writer = repo.storage().writer(&key).await?;
        let (sender, pump) = writer_pump(writer);
        let ctx = repo.volume_context(id, index);
        let frame = repo.frame_size();
        let produced = tokio::task::spawn_blocking(move || -> Result<VolumeDone> {
            let mut hasher = Sha256::new();
            let mut stored = 0u64;
            // SQLite databases are block-mapped (blocks.rs): whole-file volumes read files as
            // they are.
            let mut prepare =
                |input: &VolumeInput| -> Result<PathBuf> { Ok(input.read_from.clone()) };
            let params = VolumeParams {
                master: master.as_ref(),
                ctx: &ctx,
                frame_size: frame,
                level,
                zstd_workers: workers,
                tick: &|n| progress.advance(n),
            };
            let outcomes = write_volume(
                &params,
                &inputs,
                &mut prepare,
                &|| cancel.is_cancelled(),
                |chunk: Vec<u8>| {
                    hasher.update(&chunk);
                    stored += chunk.len() as u64;
                    sender.send(chunk)
                },
            )?;
            sender
                .finish()
                .map_err(|e| crate::repo::envelope::io_to_integrity(e, &ctx.name))?;
            Ok(VolumeDone {
                index,
                outcomes,
                stored_bytes: stored,
                sha256: hasher.finish_hex(),
            })
        })
        .await
        .map_err(|e| Error::internal(format!("volume task failed: {e}")))?;
        let written = pump
            .await
            .map_err(|e| Error::internal(format!("volume writer task failed: {e}")))?;
        let done = match (produced, written) {
            (Ok(d), Ok(size)) => {
                if size != d.stored_bytes {
                    return Err(Error::storage(format!(
                        "volume {index} of {id}: the store holds {size} bytes, {} were written",
                        d.stored_bytes
                    )));
                }
                d
            }
            (Err(e), _) => return Err(e),
            (Ok(_), Err(e)) => return Err(e.context(format!("writing volume {index} of {id}"))),
        };
        Ok(done)
    }
}
