//! RTO measurement: the restore and verify timing alone (no database checks, no drift), with
//! throughput and an estimate for the full live data set when the backup holds less of it.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::measure::{ScratchRestore, UNVERIFIED, chain_ids, estimate, mib_per_s};
use super::record::{Recorded, keep, note_kept};
use super::{Cancel, Dr, Progress, secs};
use crate::present;
use crate::repo::BackupType;
use crate::repo::timing::StageSeconds;

pub use super::measure::RtoEstimate;
use crate::repo::history::{RecordPayload, RtoPayload};

/// Options of an RTO measurement (`restore-test measure-rto`, `measure_rto`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct MeasureRtoOptions {
    /// The backup to restore and time, or "latest" (default).
    #[serde(default = "super::defaults::latest")]
    #[arg(long, default_value = super::defaults::LATEST)]
    pub backup_id: String,
    /// With backup_id "latest": the newest backup of this host (default: the host this process
    /// presents). Ignored for a backup id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
}

impl Default for MeasureRtoOptions {
    fn default() -> Self {
        MeasureRtoOptions {
            backup_id: super::defaults::latest(),
            host: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MeasureRtoResponse {
    /// The restore succeeded, every file was verified and the RTO meets the target.
    pub passed: bool,
    /// Why it did not pass (empty when it did).
    pub reasons: Vec<String>,
    pub backup_id: String,
    pub backup_type: BackupType,
    pub backup_finished: DateTime<Utc>,
    /// The chain the recovery uses (the full, then each incremental up to this backup), oldest
    /// first.
    pub chain: Vec<String>,
    pub chain_length: u32,
    pub files: u64,
    pub bytes: u64,
    pub volumes_read: u64,
    /// Every restored file's SHA-256 was checked against the manifest.
    pub verified: bool,
    /// RTO measured: wall time of the restore with per-file SHA-256 verification.
    pub rto_seconds: f64,
    pub rto_target_seconds: f64,
    pub rto_met: bool,
    /// Restored bytes per second of RTO, in MiB/s.
    pub throughput_mib_s: f64,
    /// Time per stage, summed over parallel workers.
    pub stages: StageSeconds,
    pub estimate: RtoEstimate,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    /// The history record this result was kept as.
    pub record_id: Option<String>,
    pub message: String,
    pub warnings: Vec<String>,
}

impl Dr {
    /// Measure the RTO: restore `backup_id`'s chain into scratch space with SHA-256 verification,
    /// time it, remove the scratch folder, and keep the result in the history.
    pub async fn measure_rto(
        &self,
        req: &MeasureRtoOptions,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> crate::Result<MeasureRtoResponse> {
        self.needs_settings("restore-test measure-rto")?;
        let started = Utc::now();
        let target_minutes = self.settings.settings.disaster_recovery.rto_target_minutes;
        let rto_target_seconds = target_minutes as f64 * 60.0;
        let repo = self.open_repo().await?;
        let catalog = crate::repo::catalog::Catalog::load(&repo).await?;
        super::hosts::check_host_arg(req.host.as_deref())?;
        let summary = self
            .resolve_backup(&catalog, &req.backup_id, req.host.as_deref())?
            .clone();
        let id = summary.backup_id.clone();

        let t0 = Instant::now();
        let ScratchRestore {
            scratch,
            times,
            restored,
            failure,
        } = self.scratch_restore(&id, progress.clone(), cancel).await?;
        let rto = t0.elapsed();
        let finished = Utc::now();
        let mut warnings = Vec::new();
        if let Err(e) = std::fs::remove_dir_all(&scratch)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            warnings.push(format!("could not remove {}: {e}", scratch.display()));
        }

        // The full data set: live path sources now, command outputs as stored.
        progress.phase("sizing the live data set", None);
        let manifest = repo.read_manifest(&id).await?;
        let full = match self.full_data_set_bytes(&manifest, cancel) {
            Ok(bytes) => Some(bytes),
            Err(e) => {
                warnings.push(format!("the live data set was not sized: {}", e.message));
                None
            }
        };

        let rto_seconds = secs(rto);
        let mut reasons: Vec<String> = failure.into_iter().collect();
        let (files, bytes, volumes_read, verified) =
            restored.as_ref().map_or((0, 0, 0, false), |r| {
                (r.files, r.bytes, r.volumes_read, r.verified)
            });
        let chain = chain_ids(&catalog, &id);
        if restored.is_some() && !verified {
            reasons.push(UNVERIFIED.into());
        }
        let rto_met = restored.is_some() && rto_seconds <= rto_target_seconds;
        if restored.is_some() && !rto_met {
            reasons.push(format!(
                "RTO measured {} exceeds the target of {target_minutes} min",
                present::duration(rto_seconds)
            ));
        }
        let estimate = estimate(rto_seconds, bytes, full, rto_target_seconds);
        let passed = reasons.is_empty();
        let throughput = mib_per_s(bytes, rto_seconds);
        let message = if passed {
            let mut m = format!(
                "RTO measured: {id} ({files} files, {}) restored and verified in {} at {} (target {target_minutes} min: met)",
                present::bytes(bytes),
                present::duration(rto_seconds),
                present::throughput(throughput),
            );
            if estimate.partial {
                m.push_str(&format!(
                    "; the full data set would take about {} ({})",
                    present::duration(estimate.estimated_rto_seconds),
                    if estimate.estimated_rto_met {
                        "within the target"
                    } else {
                        "over the target"
                    }
                ));
            }
            m
        } else {
            format!("RTO measurement FAILED for {id}: {}", reasons.join("; "))
        };
        let mut response = MeasureRtoResponse {
            passed,
            reasons,
            backup_id: id,
            backup_type: summary.backup_type,
            backup_finished: summary.finished,
            chain_length: chain.len() as u32,
            chain,
            files,
            bytes,
            volumes_read,
            verified,
            rto_seconds,
            rto_target_seconds,
            rto_met,
            throughput_mib_s: throughput,
            stages: times.seconds(),
            estimate,
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
impl Recorded for MeasureRtoResponse {
    fn passed(&self) -> bool {
        self.passed
    }
    fn summary(&self) -> &str {
        &self.message
    }
    fn payload(&self) -> RecordPayload {
        RecordPayload::RtoMeasurement(RtoPayload {
            backup_id: self.backup_id.clone(),
            backup_type: Some(self.backup_type),
            backup_finished: Some(self.backup_finished),
            chain_length: self.chain_length,
            verified: self.verified,
            reasons: self.reasons.clone(),
            files: self.files,
            bytes: self.bytes,
            rto_seconds: self.rto_seconds,
            rto_target_seconds: self.rto_target_seconds,
            rto_met: self.rto_met,
            throughput_mib_s: self.throughput_mib_s,
            estimated_rto_seconds: self.estimate.estimated_rto_seconds,
            estimated_rto_met: self.estimate.estimated_rto_met,
        })
    }
}
