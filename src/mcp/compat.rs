//! The result shapes of the tools the Mahavishnu orchestrator already calls (`create_backup`,
//! `list_backups`, `restore_backup`), rendered from the operations' own responses.
//!
//! Field names and meanings follow the orchestrator's Python tools; fields it did not have are
//! added, never renamed or removed.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::Serialize;

use crate::ops::backup::{BackupResponse, BackupStatus};
use crate::ops::restore::RestoreResponse;
use crate::ops::status::ListResponse;
use crate::repo::BackupType;

#[derive(Debug, Serialize, JsonSchema)]
pub struct CreateBackupResult {
    /// "success", or "skipped" when backup.enabled is false.
    pub status: String,
    pub backup_id: Option<String>,
    /// Where the backup is stored: repository, then backups/<id>.
    pub location: String,
    /// Bytes this backup added to the repository (sealed, compressed).
    pub size_bytes: i64,
    /// When the backup finished (RFC 3339).
    pub timestamp: Option<DateTime<Utc>>,
    pub backup_type: Option<BackupType>,
    pub message: String,
}

impl CreateBackupResult {
    pub fn from_backup(r: &BackupResponse, requested_id: &str) -> Self {
        let mut message = r.message.clone();
        if !requested_id.is_empty() && r.backup_id.as_deref() != Some(requested_id) {
            message.push_str(&format!(
                " (the requested id {requested_id} was not used: mahavishnu-dr names backups itself)"
            ));
        }
        CreateBackupResult {
            status: match r.status {
                BackupStatus::Completed => "success".into(),
                BackupStatus::Skipped => "skipped".into(),
            },
            backup_id: r.backup_id.clone(),
            location: match &r.backup_id {
                Some(id) => format!("{}/backups/{id}", r.repository),
                None => r.repository.clone(),
            },
            size_bytes: r.totals.stored_bytes as i64,
            timestamp: r.finished,
            backup_type: r.backup_type,
            message,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListedBackup {
    pub backup_id: String,
    /// When the backup finished (RFC 3339).
    pub timestamp: DateTime<Utc>,
    /// Bytes this backup added to the repository.
    pub size_bytes: i64,
    pub location: String,
    /// Always "completed": unfinished backups are not listed.
    pub status: String,
    pub backup_type: BackupType,
    /// The backup this one builds on (incrementals).
    pub parent: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct ListBackupsResult {
    /// "success".
    pub status: String,
    /// Newest first.
    pub backups: Vec<ListedBackup>,
    pub total_count: i64,
}

impl ListBackupsResult {
    pub fn from_list(r: &ListResponse, repository: &str) -> Self {
        ListBackupsResult {
            status: "success".into(),
            backups: r
                .backups
                .iter()
                .map(|b| ListedBackup {
                    backup_id: b.backup_id.clone(),
                    timestamp: b.finished,
                    size_bytes: b.stored_bytes as i64,
                    location: format!("{repository}/backups/{}", b.backup_id),
                    status: "completed".into(),
                    backup_type: b.backup_type,
                    parent: b.parent.clone(),
                })
                .collect(),
            total_count: r.total_count as i64,
        }
    }
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct RestoreBackupResult {
    /// "success".
    pub status: String,
    pub backup_id: String,
    pub message: String,
    /// The fresh folder the backup was restored into (inside the first restore root).
    pub target_dir: String,
    pub files: i64,
    pub bytes: i64,
    /// Every restored file's SHA-256 was checked.
    pub verified: bool,
}

impl RestoreBackupResult {
    pub fn from_restore(r: &RestoreResponse) -> Self {
        RestoreBackupResult {
            status: "success".into(),
            backup_id: r.backup_id.clone(),
            message: r.message.clone(),
            target_dir: r.target.clone(),
            files: r.files as i64,
            bytes: r.bytes as i64,
            verified: r.verified,
        }
    }
}
