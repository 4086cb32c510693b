//! Restore tests: restore a backup's whole chain into scratch space, verify every file and every
//! SQLite database, compare with the live sources (drift), and measure the RTO and RPO achieved.
//!
//! The result is kept in the repository's history (see `record` and `repo::history`).

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::drift::Drift;
use super::events::RestoreTestFinished;
use super::measure::{ScratchRestore, UNVERIFIED, chain_ids, mib_per_s};
use super::record::{Recorded, keep, note_kept};
use super::sqlite::{integrity_check, is_sqlite};
use super::{Cancel, Dr, OperationEvent, Progress, secs};
use crate::error::{Error, Result};
use crate::present;
use crate::repo::BackupType;
use crate::repo::history::{DriftSummary, RecordPayload, RestoreTestPayload};
use crate::repo::keys::is_point_id;
use crate::repo::manifest::{EntryKind, Manifest};
use crate::repo::timing::StageSeconds;

/// Options of a restore test (`restore-test run`, `restore_test_run`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct RestoreTestOptions {
    /// The backup to test, or "latest" (default).
    #[serde(default = "super::defaults::latest")]
    #[arg(long, default_value = super::defaults::LATEST)]
    pub backup_id: String,
    /// With backup_id "latest": the newest backup of this host (default: the host this process
    /// presents). Ignored for a backup id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// Keep the restored scratch folder afterwards, for inspection (command line only).
    #[serde(skip)]
    #[arg(long)]
    pub keep: bool,
}

impl Default for RestoreTestOptions {
    fn default() -> Self {
        RestoreTestOptions {
            backup_id: super::defaults::latest(),
            host: None,
            keep: false,
        }
    }
}

/// `PRAGMA integrity_check` of one restored SQLite database.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DatabaseCheck {
    /// The stored path.
    pub path: String,
    pub ok: bool,
    /// "ok", or what SQLite reported.
    pub result: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RestoreTestResponse {
    pub passed: bool,
    /// The restore succeeded and every file and database verified (the RTO and RPO targets
    /// aside).
    #[serde(default)]
    pub restore_ok: bool,
    /// Why it failed (empty when it passed).
    pub reasons: Vec<String>,
    pub backup_id: String,
    pub backup_type: Option<BackupType>,
    /// When the tested backup finished.
    pub backup_finished: Option<DateTime<Utc>>,
    /// The chain the recovery uses (the full, then each incremental up to this backup), oldest
    /// first; `volumes_read` counts the volumes it needed from them.
    pub chain: Vec<String>,
    pub chain_length: u32,
    pub files: u64,
    pub bytes: u64,
    pub volumes_read: u64,
    /// Restored bytes per second of RTO, in MiB/s.
    pub throughput_mib_s: f64,
    /// RTO achieved: from the start of the test to a verified restore (files and databases).
    pub rto_seconds: f64,
    pub rto_target_seconds: f64,
    pub rto_met: bool,
    /// RPO at test time: the age of the tested backup, the data a recovery now would lose.
    pub rpo_seconds: Option<f64>,
    pub rpo_target_seconds: f64,
    pub rpo_met: bool,
    /// Time per stage, summed over parallel workers.
    pub stages: StageSeconds,
    /// Wall time of the restore itself (read, decrypt, decompress, write, per-file SHA-256).
    pub restore_seconds: f64,
    /// Wall time of the checks after it (SQLite integrity checks).
    pub check_seconds: f64,
    pub databases: Vec<DatabaseCheck>,
    pub drift: Drift,
    /// Where it was restored (removed afterwards unless kept).
    pub scratch_dir: String,
    pub kept: bool,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    /// The history record this result was kept as.
    pub record_id: Option<String>,
    pub message: String,
    pub warnings: Vec<String>,
}

/// Check every restored SQLite database.
fn check_databases(root: &Path, manifest: &Manifest) -> Vec<DatabaseCheck> {
    manifest
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .filter_map(|e| {
            let p = root.join(&e.path);
            if !is_sqlite(&p) {
                return None;
            }
            let (ok, result) = match integrity_check(&p) {
                Ok(r) => (r == "ok", r),
                Err(e) => (false, e),
            };
            Some(DatabaseCheck {
                path: e.path.clone(),
                ok,
                result,
            })
        })
        .collect()
}

impl Dr {
    /// Run a restore test. A failed restore or check is a failed test (a response with
    /// `passed: false` and reasons), not an error; errors are for what stops the test from
    /// running at all (settings, key, lock, cancellation). Emits `RestoreTestFinished` or
    /// `RestoreTestFailed` to the observer.
    pub async fn restore_test(
        &self,
        req: &RestoreTestOptions,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<RestoreTestResponse> {
        self.needs_settings("restore-test run")?;
        let r = self.restore_test_unobserved(req, progress, cancel).await;
        self.observed(
            r,
            |r| {
                OperationEvent::RestoreTestFinished(RestoreTestFinished {
                    backup_id: r.backup_id.clone(),
                    passed: r.passed,
                    rto_seconds: r.rto_seconds,
                    rto_met: r.rto_met,
                    rpo_seconds: r.rpo_seconds,
                    rpo_met: r.rpo_met,
                    reasons: r.reasons.clone(),
                    record_id: r.record_id.clone(),
                })
            },
            OperationEvent::RestoreTestFailed,
        )
    }

    async fn restore_test_unobserved(
        &self,
        req: &RestoreTestOptions,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<RestoreTestResponse> {
        let started = Utc::now();
        let t0 = Instant::now();
        let dr_settings = &self.settings.settings.disaster_recovery;
        let rto_target_seconds = dr_settings.rto_target_minutes as f64 * 60.0;
        let rpo_target_seconds = dr_settings.rpo_target_minutes as f64 * 60.0;
        let repo = self.open_repo().await?;
        let mut catalog = crate::repo::catalog::Catalog::load(&repo).await?;
        super::hosts::check_host_arg(req.host.as_deref())?;
        // `latest` is the newest state: a continuous point newer than the newest backup is
        // what a recovery now would use, so that is what is tested.
        let (summary, manifest) = if req.backup_id == super::defaults::LATEST {
            let host = self
                .resolve_backup(&catalog, &req.backup_id, req.host.as_deref())?
                .host
                .clone();
            super::points::newest_state(&repo, &mut catalog, &host).await?
        } else {
            if is_point_id(&req.backup_id) {
                catalog.load_points(&repo).await?;
            }
            let s = self
                .resolve_backup(&catalog, &req.backup_id, req.host.as_deref())?
                .clone();
            let m = super::points::snapshot_of(&repo, &s).await?;
            (s, m)
        };
        let id = summary.backup_id.clone();
        let mut warnings = Vec::new();
        let ScratchRestore {
            scratch,
            times,
            restored,
            failure,
        } = self.scratch_restore(&id, progress.clone(), cancel).await?;
        let restore_seconds = t0.elapsed();
        let mut reasons: Vec<String> = failure.into_iter().collect();
        if let Some(r) = &restored
            && !r.verified
        {
            reasons.push(UNVERIFIED.into());
        }

        // Databases, then the RTO clock stops: the service could start on this data now.
        let t_check = Instant::now();
        let databases = if restored.is_some() {
            progress.phase("checking databases", None);
            let root = scratch.clone();
            let m = manifest.clone();
            tokio::task::spawn_blocking(move || check_databases(&root, &m))
                .await
                .map_err(|e| Error::internal(format!("database check failed: {e}")))?
        } else {
            Vec::new()
        };
        for d in databases.iter().filter(|d| !d.ok) {
            reasons.push(format!(
                "the restored SQLite database {} failed PRAGMA integrity_check: {}",
                d.path, d.result
            ));
        }
        let check_seconds = t_check.elapsed();
        let rto = t0.elapsed().as_secs_f64();
        let finished = Utc::now();

        // Drift: what changed in the live sources since the backup.
        progress.phase("comparing with live sources", None);
        let drift = match self.drift(&manifest, cancel) {
            Ok(d) => d,
            Err(e) => {
                warnings.push(format!("drift not measured: {}", e.message));
                Drift::default()
            }
        };

        let rpo_seconds = (finished - summary.finished).num_milliseconds() as f64 / 1000.0;
        let rto_met = restored.is_some() && rto <= rto_target_seconds;
        let rpo_met = rpo_seconds <= rpo_target_seconds;
        if restored.is_some() && !rto_met {
            reasons.push(format!(
                "RTO achieved {} exceeds the target of {} min",
                present::duration(rto),
                dr_settings.rto_target_minutes
            ));
        }
        if !rpo_met {
            reasons.push(format!(
                "RPO at test time {} (the age of {id}) exceeds the target of {} min: a recovery now would lose that much",
                present::age(rpo_seconds.round() as i64),
                dr_settings.rpo_target_minutes
            ));
        }

        let kept = req.keep;
        if !kept
            && let Err(e) = std::fs::remove_dir_all(&scratch)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            warnings.push(format!("could not remove {}: {e}", scratch.display()));
        }
        let (files, bytes, volumes_read) = restored
            .as_ref()
            .map_or((0, 0, 0), |r| (r.files, r.bytes, r.volumes_read));
        let chain = chain_ids(&catalog, &id);
        let passed = reasons.is_empty();
        let restore_ok =
            restored.as_ref().is_some_and(|r| r.verified) && databases.iter().all(|d| d.ok);
        let throughput = mib_per_s(bytes, rto);
        let message = if passed {
            format!(
                "restore test passed: {id} ({files} files, {}) restored and verified in {} (RTO target {} min), {} old (RPO target {} min)",
                present::bytes(bytes),
                present::duration(rto),
                dr_settings.rto_target_minutes,
                present::age(rpo_seconds.round() as i64),
                dr_settings.rpo_target_minutes
            )
        } else {
            format!("restore test FAILED for {id}: {}", reasons.join("; "))
        };
        let mut response = RestoreTestResponse {
            passed,
            restore_ok,
            reasons,
            backup_id: id.clone(),
            backup_type: Some(summary.backup_type),
            backup_finished: Some(summary.finished),
            chain_length: chain.len() as u32,
            chain,
            files,
            bytes,
            volumes_read,
            throughput_mib_s: throughput,
            rto_seconds: (rto * 1000.0).round() / 1000.0,
            rto_target_seconds,
            rto_met,
            rpo_seconds: Some(rpo_seconds),
            rpo_target_seconds,
            rpo_met,
            stages: times.seconds(),
            restore_seconds: secs(restore_seconds),
            check_seconds: secs(check_seconds),
            databases,
            drift,
            scratch_dir: scratch.display().to_string(),
            kept,
            started,
            finished,
            record_id: None,
            message,
            warnings,
        };
        let kept = keep(&repo, &self.host(), &response).await;
        note_kept(kept, &mut response.record_id, &mut response.warnings);
        Ok(response)
    }
}

/// What the history keeps of it: the typed payload, field by field (`repo::history` owns the
/// stored format, not this response).
impl Recorded for RestoreTestResponse {
    fn passed(&self) -> bool {
        self.passed
    }
    fn summary(&self) -> &str {
        &self.message
    }
    fn payload(&self) -> RecordPayload {
        RecordPayload::RestoreTest(RestoreTestPayload {
            backup_id: self.backup_id.clone(),
            backup_type: self.backup_type,
            backup_finished: self.backup_finished,
            chain_length: self.chain_length,
            restore_ok: self.restore_ok,
            reasons: self.reasons.clone(),
            files: self.files,
            bytes: self.bytes,
            rto_seconds: self.rto_seconds,
            rto_target_seconds: self.rto_target_seconds,
            rto_met: self.rto_met,
            rpo_seconds: self.rpo_seconds,
            rpo_target_seconds: self.rpo_target_seconds,
            rpo_met: self.rpo_met,
            databases_checked: self.databases.len() as u64,
            databases_failed: self.databases.iter().filter(|d| !d.ok).count() as u64,
            drift: DriftSummary {
                compared: self.drift.compared,
                added: self.drift.added,
                changed: self.drift.changed,
                removed: self.drift.removed,
                bytes_at_risk: self.drift.bytes_at_risk,
            },
        })
    }
}
