//! `restore`: write a backup's snapshot into a target folder, verified, never outside it (the
//! engine and its safety rules are in `extract`).

use std::path::PathBuf;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::extract::Extraction;
use super::{Cancel, Dr, Progress, human_bytes};
use crate::error::Result;
use crate::repo::BackupType;

fn latest() -> String {
    "latest".to_string()
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RestoreRequest {
    /// A backup id, or "latest".
    #[serde(default = "latest")]
    pub backup_id: String,
    /// The folder to restore into (created if missing).
    pub target: PathBuf,
    /// Only these stored paths (files or folders); everything when empty.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Allow a non-empty target; existing files of the same name are replaced.
    #[serde(default)]
    pub overwrite: bool,
    /// Restore setuid, setgid and sticky bits as the backup has them; without it they are
    /// dropped (and the response warns which entries had them).
    #[serde(default)]
    pub keep_special_bits: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RestoreResponse {
    pub backup_id: String,
    pub backup_type: BackupType,
    /// The backups whose volumes were read (the chain the restore used).
    pub chain: Vec<String>,
    pub target: String,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes: u64,
    pub volumes_read: u64,
    /// Every restored file's SHA-256 was checked against the manifest.
    pub verified: bool,
    pub duration_seconds: f64,
    pub message: String,
    pub warnings: Vec<String>,
}

impl Dr {
    pub async fn restore(
        &self,
        req: &RestoreRequest,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<RestoreResponse> {
        let job = Extraction {
            backup_id: &req.backup_id,
            target: &req.target,
            paths: &req.paths,
            overwrite: req.overwrite,
            keep_special_bits: req.keep_special_bits,
        };
        let x = self.extract(&job, progress, cancel, None).await?;
        let message = format!(
            "restored {} files ({}) from {} into {}{}",
            x.files,
            human_bytes(x.bytes),
            x.backup_id,
            x.target.display(),
            if x.verified {
                ", every file verified"
            } else {
                ""
            }
        );
        Ok(RestoreResponse {
            backup_id: x.backup_id,
            backup_type: x.backup_type,
            chain: x.chain,
            target: x.target.display().to_string(),
            files: x.files,
            dirs: x.dirs,
            symlinks: x.symlinks,
            bytes: x.bytes,
            volumes_read: x.volumes_read,
            verified: x.verified,
            duration_seconds: x.duration_seconds,
            message,
            warnings: x.warnings,
        })
    }
}
