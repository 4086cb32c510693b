//! `backup validate`: check the stored backups at the level asked for (see `integrity`) and keep
//! the result in the repository's history.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::events::ValidationFinished;
use super::integrity::IntegrityReport;
use super::record::{Recorded, keep, note_kept};
use super::{Cancel, Dr, OperationEvent, Progress};
use crate::error::{Error, Result};

pub use super::integrity::{BackupCheck, Problem, ValidationLevel};
use crate::repo::history::{RecordPayload, ValidationPayload, ValidationScope};

/// Every volume is read unless a sample is asked for.
pub const ALL_VOLUMES: i64 = 100;

fn all_volumes() -> i64 {
    ALL_VOLUMES
}

/// Options of a validation (`backup validate`, `backup_validate`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ValidateOptions {
    /// One backup id (its chain is checked with it); empty checks every backup.
    #[serde(default)]
    #[arg(long, default_value_t, hide_default_value = true)]
    pub backup_id: String,
    /// quick: manifests and volume sizes, seconds. checksum: every volume's SHA-256, reads all
    /// stored bytes, needs no key. full: decrypts and decompresses everything and checks every
    /// file's SHA-256, about as long as a restore.
    #[serde(default)]
    #[arg(long, value_enum, default_value_t)]
    pub level: ValidationLevel,
    /// For checksum and full: the share of volumes to read, chosen at random (1 to 100).
    #[serde(default = "all_volumes")]
    #[schemars(range(min = 1, max = 100))]
    #[arg(long = "sample", value_name = "PERCENT", default_value_t = ALL_VOLUMES)]
    pub sample_percent: i64,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions {
            backup_id: String::new(),
            level: ValidationLevel::Quick,
            sample_percent: ALL_VOLUMES,
        }
    }
}

impl ValidateOptions {
    /// The one backup asked for, if any.
    fn only(&self) -> Option<&str> {
        Some(self.backup_id.as_str()).filter(|id| !id.is_empty())
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
    /// ask for; the posture evidence's internal check is not kept). Emits `ValidationFinished`
    /// or `ValidationFailed` to the observer (the internal check emits nothing).
    pub async fn validate(
        &self,
        req: &ValidateOptions,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<ValidateResponse> {
        let r = self.validate_unobserved(req, progress, cancel).await;
        self.observed(
            r,
            |r| {
                OperationEvent::ValidationFinished(ValidationFinished {
                    level: r.level,
                    ok: r.ok,
                    backups_checked: r.backups_checked,
                    volumes_checked: r.volumes_checked,
                    files_checked: r.files_checked,
                    bytes_read: r.bytes_read,
                    problems: r.problems.len() as u64,
                    duration_seconds: r.duration_seconds,
                    record_id: r.record_id.clone(),
                })
            },
            OperationEvent::ValidationFailed,
        )
    }

    async fn validate_unobserved(
        &self,
        req: &ValidateOptions,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<ValidateResponse> {
        if !(1..=100).contains(&req.sample_percent) {
            return Err(Error::usage(format!(
                "sample_percent must be between 1 and 100, not {}",
                req.sample_percent
            ))
            .with_guidance("give the share of volumes to read as a whole percent, 1 to 100"));
        }
        let sample = req.sample_percent as f64;
        let report = self
            .check_integrity(req.only(), req.level, sample, progress, cancel)
            .await?;
        let mut r = ValidateResponse::from_report(req.level, sample, report);
        let kept = match self.open_repo().await {
            Ok(repo) => keep(&repo, &self.host(), &r).await,
            Err(e) => Err(format!(
                "the result was not kept in the history (it is sealed with the key): {}",
                e.message
            )),
        };
        note_kept(kept, &mut r.record_id, &mut r.warnings);
        Ok(r)
    }
}

/// What the history keeps of it: the typed payload, field by field (`repo::history` owns the
/// stored format, not this response).
impl Recorded for ValidateResponse {
    fn passed(&self) -> bool {
        self.ok
    }
    fn summary(&self) -> &str {
        &self.message
    }
    fn payload(&self) -> RecordPayload {
        let mut failed: Vec<String> = self
            .backups
            .iter()
            .filter(|b| !b.ok)
            .map(|b| b.backup_id.clone())
            .chain(self.problems.iter().map(|p| p.backup_id.clone()))
            .collect();
        failed.sort();
        failed.dedup();
        RecordPayload::Validation(ValidationPayload {
            level: match self.level {
                ValidationLevel::Quick => ValidationScope::Quick,
                ValidationLevel::Checksum => ValidationScope::Checksum,
                ValidationLevel::Full => ValidationScope::Full,
            },
            sample_percent: self.sample_percent,
            backups_checked: self.backups_checked,
            volumes_checked: self.volumes_checked,
            files_checked: self.files_checked,
            bytes_read: self.bytes_read,
            problems: self.problems.len() as u64,
            failed_backups: failed,
            duration_seconds: self.duration_seconds,
        })
    }
}
