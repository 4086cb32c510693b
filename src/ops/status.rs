//! `backup status` and `backup list`: what the repository holds, newest first, and what is next.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use super::hosts::{HostNewest, check_host_arg, newest_per_host};
use super::immutability::ImmutableStore;
use super::replication::{ReplicaLag, replica_warning};
use crate::error::Result;
use crate::present;
use crate::repo::BackupType;
use crate::repo::catalog::{Catalog, Unreadable};
use crate::repo::manifest::ManifestSummary;
use crate::schedule::{NextRun, next_runs};

/// One backup in a listing.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BackupItem {
    pub backup_id: String,
    pub backup_type: BackupType,
    pub parent: Option<String>,
    pub chain_root: String,
    pub chain_length: u32,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    /// Sealed bytes this backup added.
    pub stored_bytes: u64,
    /// Files in the snapshot and their total size.
    pub files: u64,
    pub bytes: u64,
    pub files_stored: u64,
    pub volumes: u64,
    pub host: String,
}

impl From<&ManifestSummary> for BackupItem {
    fn from(s: &ManifestSummary) -> Self {
        BackupItem {
            backup_id: s.backup_id.clone(),
            backup_type: s.backup_type,
            parent: s.parent.clone(),
            chain_root: s.chain_root.clone(),
            chain_length: s.chain_length,
            started: s.started,
            finished: s.finished,
            stored_bytes: s.totals.stored_bytes,
            files: s.totals.files,
            bytes: s.totals.bytes,
            files_stored: s.totals.files_stored,
            volumes: s.volumes.len() as u64,
            host: s.host.clone(),
        }
    }
}

/// Which backups to list.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum TypeFilter {
    #[default]
    All,
    Full,
    Incremental,
    Archival,
}

impl TypeFilter {
    pub fn backup_type(self) -> Option<BackupType> {
        match self {
            TypeFilter::All => None,
            TypeFilter::Full => Some(BackupType::Full),
            TypeFilter::Incremental => Some(BackupType::Incremental),
            TypeFilter::Archival => Some(BackupType::Archival),
        }
    }
}

/// Options of `backup list` / `backup_list`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ListOptions {
    /// At most this many backups, newest first; 0 lists all.
    #[serde(default)]
    #[schemars(range(min = 0))]
    #[arg(long, default_value_t)]
    pub limit: i64,
    /// Only backups of this type: all (default), full, incremental or archival.
    #[serde(default)]
    #[arg(long = "backup-type", alias = "type", value_enum, default_value_t)]
    pub backup_type: TypeFilter,
    /// Only backups of this host (as `host` shows it); default: every host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Also list every continuous point (the covered windows are always listed).
    #[serde(default)]
    #[arg(long)]
    pub points: bool,
}

/// Options of `backup status` / `backup_status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct StatusOptions {
    /// Only this host's backups, chains and newest per type (`hosts` always lists every
    /// host's newest backup); default: every host's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

/// A backup whose manifest exists but cannot be read (damaged, or not sealed with this
/// repository's key): never used in silence, shown with the reason.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UnreadableBackup {
    pub backup_id: String,
    pub reason: String,
}

impl From<&Unreadable> for UnreadableBackup {
    fn from(u: &Unreadable) -> Self {
        UnreadableBackup {
            backup_id: u.backup_id.clone(),
            reason: u.error.message.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ListResponse {
    /// Newest first.
    pub backups: Vec<BackupItem>,
    pub total_count: u64,
    /// Backups whose manifest exists but cannot be read, newest first, with the reason.
    pub unreadable: Vec<UnreadableBackup>,
    /// The windows continuous points cover (`restore --at` any instant in one), oldest first.
    #[serde(default)]
    pub covered: Vec<super::points::CoveredWindow>,
    /// Every continuous point, oldest first (with `points`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub points: Vec<super::points::PointItem>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LatestOfType {
    pub backup_type: BackupType,
    pub backup_id: Option<String>,
    pub finished: Option<DateTime<Utc>>,
    pub age_seconds: Option<i64>,
    pub age: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ChainInfo {
    pub root: String,
    pub root_type: BackupType,
    /// Oldest first.
    pub backups: Vec<String>,
    pub latest: String,
    pub stored_bytes: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct StatusResponse {
    /// The store shown: `primary`, or the replica `--repository` named.
    pub store: String,
    pub repository: String,
    pub repository_id: String,
    pub encrypted: bool,
    pub backups_enabled: bool,
    /// The host this process presents (`backup.host`, else the system's host name).
    pub this_host: String,
    /// The host the listing below is limited to (`--host`); none: every host.
    pub host_filter: Option<String>,
    /// Every host's newest backup, against the RPO target.
    pub hosts: Vec<HostNewest>,
    pub backup_count: u64,
    pub total_stored_bytes: u64,
    pub latest: Option<BackupItem>,
    pub latest_per_type: Vec<LatestOfType>,
    pub chains: Vec<ChainInfo>,
    pub schedules: Vec<NextRun>,
    /// Each other configured store (the replicas; the primary when a replica is shown):
    /// which backups it lacks and how far behind it is.
    pub replicas: Vec<ReplicaLag>,
    /// The stores marked `immutable: true`, and what enforces it (the server's object lock, or
    /// only this tool).
    pub immutable_stores: Vec<ImmutableStore>,
    /// Backups newest first.
    pub backups: Vec<BackupItem>,
    /// Unfinished backups (running, crashed or cancelled); cleanup removes crashed ones.
    pub unfinished: Vec<String>,
    /// Backups whose manifest exists but cannot be read, newest first, with the reason.
    pub unreadable: Vec<UnreadableBackup>,
    pub warnings: Vec<String>,
}

fn unreadable(catalog: &Catalog) -> Vec<UnreadableBackup> {
    catalog
        .unreadable
        .iter()
        .rev()
        .map(UnreadableBackup::from)
        .collect()
}

impl Dr {
    pub async fn list(&self, req: &ListOptions) -> Result<ListResponse> {
        if req.limit < 0 {
            return Err(crate::error::Error::usage(format!(
                "limit must be 0 (all) or more, not {}",
                req.limit
            )));
        }
        let only = req.backup_type.backup_type();
        check_host_arg(req.host.as_deref())?;
        let repo = self.open_repo().await?;
        let mut catalog = Catalog::load(&repo).await?;
        catalog.load_points(&repo).await?;
        let mut items: Vec<BackupItem> = catalog
            .backups
            .iter()
            .rev()
            .filter(|b| only.is_none_or(|t| t == b.backup_type))
            .filter(|b| req.host.as_ref().is_none_or(|h| *h == b.host))
            .map(BackupItem::from)
            .collect();
        let total_count = items.len() as u64;
        if req.limit > 0 {
            items.truncate(req.limit as usize);
        }
        let mine = |h: &str| req.host.as_ref().is_none_or(|w| w == h);
        Ok(ListResponse {
            backups: items,
            total_count,
            unreadable: unreadable(&catalog),
            covered: super::points::covered_windows(&catalog)
                .into_iter()
                .filter(|w| mine(&w.host))
                .collect(),
            points: if req.points {
                catalog
                    .points
                    .iter()
                    .filter(|p| mine(&p.host))
                    .map(super::points::PointItem::from)
                    .collect()
            } else {
                Vec::new()
            },
        })
    }

    /// One backup's manifest summary ("latest" for the newest).
    pub async fn show(&self, backup_id: &str) -> Result<ManifestSummary> {
        let repo = self.open_repo().await?;
        if backup_id == "latest" {
            let catalog = Catalog::load(&repo).await?;
            return Ok(self.resolve_backup(&catalog, backup_id, None)?.clone());
        }
        repo.read_summary(backup_id).await
    }

    pub async fn status(&self, req: &StatusOptions) -> Result<StatusResponse> {
        check_host_arg(req.host.as_deref())?;
        let repo = self.open_repo().await?;
        let mut catalog = Catalog::load(&repo).await?;
        let now = Utc::now();
        let this_host = self.host();
        let rpo_target_seconds =
            self.settings.settings.disaster_recovery.rpo_target_minutes as i64 * 60;
        let hosts = newest_per_host(&catalog, now, &this_host, rpo_target_seconds);
        let replicas = self.replica_lags(&catalog).await;
        if let Some(h) = &req.host {
            catalog.backups.retain(|b| b.host == *h);
        }
        let latest_per_type = BackupType::ALL
            .iter()
            .map(|t| {
                let b = catalog.backups.iter().rev().find(|b| b.backup_type == *t);
                LatestOfType {
                    backup_type: *t,
                    backup_id: b.map(|b| b.backup_id.clone()),
                    finished: b.map(|b| b.finished),
                    age_seconds: b.map(|b| (now - b.finished).num_seconds()),
                    age: b.map(|b| present::age((now - b.finished).num_seconds())),
                }
            })
            .collect();
        let mut chains: BTreeMap<String, ChainInfo> = BTreeMap::new();
        for b in &catalog.backups {
            let root_type = catalog
                .get(&b.chain_root)
                .map_or(b.backup_type, |r| r.backup_type);
            let c = chains
                .entry(b.chain_root.clone())
                .or_insert_with(|| ChainInfo {
                    root: b.chain_root.clone(),
                    root_type,
                    backups: Vec::new(),
                    latest: b.backup_id.clone(),
                    stored_bytes: 0,
                });
            c.backups.push(b.backup_id.clone());
            c.latest = b.backup_id.clone();
            c.stored_bytes += b.totals.stored_bytes;
        }
        let mut warnings = Vec::new();
        let schedules = next_runs(&self.settings.settings.backup, now);
        if let Some(u) = catalog.unreadable_newer_than_latest().first() {
            warnings.push(format!(
                "the newest backup {} is unreadable: `--backup-id latest` refuses until it is \
                 resolved; name an older backup deliberately, and run `backup validate`",
                u.backup_id
            ));
        }
        if !catalog.unreadable.is_empty() && self.keeps_versions() {
            warnings.push(format!(
                "{} backup(s) unreadable on an immutable store: if they were overwritten, {}",
                catalog.unreadable.len(),
                super::as_of_hint()
            ));
        }
        if !repo.encrypted() {
            warnings.push(super::new_repository::UNENCRYPTED_WARNING.to_string());
        }
        for r in &replicas {
            if let Some(w) = replica_warning(r) {
                warnings.push(w);
            }
        }
        let immutable_stores = self.immutable_stores_checked(&mut warnings).await;
        Ok(StatusResponse {
            store: self.store().name.clone(),
            repository: self.storage.describe(),
            repository_id: repo.id().to_string(),
            encrypted: repo.encrypted(),
            backups_enabled: self.settings.settings.backup.enabled,
            this_host,
            host_filter: req.host.clone(),
            hosts,
            backup_count: catalog.backups.len() as u64,
            total_stored_bytes: catalog.backups.iter().map(|b| b.totals.stored_bytes).sum(),
            latest: catalog.latest().map(BackupItem::from),
            latest_per_type,
            chains: chains.into_values().rev().collect(),
            schedules,
            replicas,
            immutable_stores,
            backups: catalog.backups.iter().rev().map(BackupItem::from).collect(),
            unfinished: catalog
                .unfinished
                .iter()
                .map(|u| u.backup_id.clone())
                .collect(),
            unreadable: unreadable(&catalog),
            warnings,
        })
    }
}
