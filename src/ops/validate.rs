//! `backup validate`: check the stored backups at the level asked for (see `integrity`) and keep
//! the result in the repository's history.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::integrity::IntegrityReport;
use super::record::{keep, note_kept};
use super::{Cancel, Dr, Progress};
use crate::error::Result;
use crate::repo::history::RecordKind;

pub use super::integrity::{BackupCheck, Problem, ValidationLevel};

fn hundred() -> f64 {
    100.0
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ValidateRequest {
    /// One backup (and the backups its chain reads); all backups when absent.
    #[serde(default)]
    pub backup_id: Option<String>,
    #[serde(default)]
    pub level: ValidationLevel,
    /// For checksum and full: the share of volumes to read, chosen at random (1..=100).
    #[serde(default = "hundred")]
    pub sample_percent: f64,
}

impl Default for ValidateRequest {
    fn default() -> Self {
        ValidateRequest {
            backup_id: None,
            level: ValidationLevel::Quick,
            sample_percent: 100.0,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ValidateResponse {
    pub level: ValidationLevel,
    pub sample_percent: f64,
    /// true when nothing is wrong.
    pub ok: bool,
    pub message: String,
    pub backups_checked: u64,
    pub volumes_checked: u64,
    pub files_checked: u64,
    /// Stored bytes read.
    pub bytes_read: u64,
    pub duration_seconds: f64,
    pub problems: Vec<Problem>,
    pub backups: Vec<BackupCheck>,
    /// The history record this validation was kept as (none without the key: the history is
    /// sealed).
    #[serde(default)]
    pub record_id: Option<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

fn level_name(l: ValidationLevel) -> &'static str {
    match l {
        ValidationLevel::Quick => "quick",
        ValidationLevel::Checksum => "checksum",
        ValidationLevel::Full => "full",
    }
}

impl ValidateResponse {
    fn from_report(level: ValidationLevel, sample_percent: f64, r: IntegrityReport) -> Self {
        let ok = r.problems.is_empty();
        let message = if ok {
            format!(
                "{} validation passed: {} backup(s), {} volume(s), {} file(s) checked",
                level_name(level),
                r.backups.len(),
                r.volumes_checked,
                r.files_checked
            )
        } else {
            format!(
                "{} validation FAILED: {} problem(s); first: {} {}: {}",
                level_name(level),
                r.problems.len(),
                r.problems[0].backup_id,
                r.problems[0].volume.as_deref().unwrap_or(""),
                r.problems[0].problem
            )
        };
        ValidateResponse {
            level,
            sample_percent,
            ok,
            message,
            backups_checked: r.backups.len() as u64,
            volumes_checked: r.volumes_checked,
            files_checked: r.files_checked,
            bytes_read: r.bytes_read,
            duration_seconds: r.duration_seconds,
            problems: r.problems,
            backups: r.backups,
            record_id: None,
            warnings: Vec::new(),
        }
    }
}

impl Dr {
    /// Validate, and keep the result in the repository's history (validations people and agents
    /// ask for; the posture evidence's internal check is not kept).
    pub async fn validate(
        &self,
        req: &ValidateRequest,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<ValidateResponse> {
        let report = self
            .check_integrity(
                req.backup_id.as_deref(),
                req.level,
                req.sample_percent,
                progress,
                cancel,
            )
            .await?;
        let mut r = ValidateResponse::from_report(req.level, req.sample_percent, report);
        let kept = match self.open_repo().await {
            Ok(repo) => keep(&repo, RecordKind::Validation, r.ok, &r.message, &r).await,
            Err(e) => Err(format!(
                "the result was not kept in the history (it is sealed with the key): {}",
                e.message
            )),
        };
        note_kept(kept, &mut r.record_id, &mut r.warnings);
        Ok(r)
    }
}
