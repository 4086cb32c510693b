//! RTO measurement: the restore and verify timing alone (no database checks, no drift), with
//! throughput and an estimate for the full live data set when the backup holds less of it.

use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::history::{keep, note_kept};
use super::scratch::{ScratchRestore, UNVERIFIED, chain_ids};
use super::{Cancel, Dr, Progress, human_bytes, human_duration, secs};
use crate::repo::BackupType;
use crate::repo::history::RecordKind;
use crate::repo::manifest::EntryKind;
use crate::repo::timing::StageSeconds;

/// Options of an RTO measurement (`restore-test measure-rto`, `measure_rto`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct MeasureRtoOptions {
    /// The backup to restore and time, or "latest" (default).
    #[serde(default = "super::defaults::latest")]
    #[arg(long, default_value = super::defaults::LATEST)]
    pub backup_id: String,
}

impl Default for MeasureRtoOptions {
    fn default() -> Self {
        MeasureRtoOptions {
            backup_id: super::defaults::latest(),
        }
    }
}

/// What a recovery of the whole live data set would take, from this measurement.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RtoEstimate {
    /// Bytes the restore wrote.
    pub restored_bytes: u64,
    /// Bytes of the data set a recovery would restore now: the live path sources as scanned,
    /// plus the command outputs as the backup stored them (commands are not run). None when the
    /// live sources could not be scanned.
    pub full_data_set_bytes: Option<u64>,
    /// true when the data set is more than 1% larger than what the backup restored.
    pub partial: bool,
    /// Estimated RTO for the full data set (the measured RTO when the backup is not partial).
    pub estimated_rto_seconds: f64,
    pub estimated_rto_met: bool,
    /// How the estimate was made.
    pub method: String,
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

/// Bytes per second as MiB/s, two decimals.
pub(crate) fn mib_per_s(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        ((bytes as f64 / (1 << 20) as f64 / seconds) * 100.0).round() / 100.0
    } else {
        0.0
    }
}

/// Scale the measured RTO linearly in bytes to the full data set. Restores are dominated by
/// per-byte work (read, decrypt, decompress, write, hash), so bytes are the honest unit; the
/// fixed costs (opening the repository, reading manifests) make the estimate an upper bound.
pub(crate) fn estimate(
    rto_seconds: f64,
    restored_bytes: u64,
    full: Option<u64>,
    target_seconds: f64,
) -> RtoEstimate {
    let partial = full.is_some_and(|f| f as f64 > restored_bytes as f64 * 1.01);
    let (estimated, method) = match full {
        None => (
            rto_seconds,
            "the live sources could not be scanned: the estimate is the measured RTO".to_string(),
        ),
        Some(f) if partial && restored_bytes == 0 => (
            rto_seconds,
            format!(
                "the backup restored no bytes, so no throughput was measured for the {} data set: \
                 run a backup and measure again",
                human_bytes(f)
            ),
        ),
        Some(f) if partial => (
            rto_seconds * f as f64 / restored_bytes as f64,
            format!(
                "measured RTO scaled linearly by bytes: {} measured for {}, the full data set is \
                 {} (live path sources now plus stored command outputs), at the same {:.2} MiB/s",
                human_duration(rto_seconds),
                human_bytes(restored_bytes),
                human_bytes(f),
                mib_per_s(restored_bytes, rto_seconds)
            ),
        ),
        Some(f) => (
            rto_seconds,
            format!(
                "the backup holds the full data set ({} restored, {} live now): the estimate is \
                 the measured RTO",
                human_bytes(restored_bytes),
                human_bytes(f)
            ),
        ),
    };
    let estimated = (estimated * 1000.0).round() / 1000.0;
    RtoEstimate {
        restored_bytes,
        full_data_set_bytes: full,
        partial,
        estimated_rto_seconds: estimated,
        estimated_rto_met: estimated <= target_seconds,
        method,
    }
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
        let started = Utc::now();
        let target_minutes = self.settings.settings.disaster_recovery.rto_target_minutes;
        let rto_target_seconds = target_minutes as f64 * 60.0;
        let repo = self.open_repo().await?;
        let catalog = crate::repo::catalog::Catalog::load(&repo).await?;
        let summary = catalog.resolve(&req.backup_id)?.clone();
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
        let command_bytes: u64 = manifest
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .filter(|e| e.path.starts_with(super::scan::COMMAND_PREFIX))
            .map(|e| e.size)
            .sum();
        let full = match self.live_scan(cancel) {
            Ok(live) => Some(
                live.items
                    .iter()
                    .filter(|i| i.entry.kind == EntryKind::File)
                    .map(|i| i.entry.size)
                    .sum::<u64>()
                    + command_bytes,
            ),
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
                human_duration(rto_seconds)
            ));
        }
        let estimate = estimate(rto_seconds, bytes, full, rto_target_seconds);
        let passed = reasons.is_empty();
        let throughput = mib_per_s(bytes, rto_seconds);
        let message = if passed {
            let mut m = format!(
                "RTO measured: {id} ({files} files, {}) restored and verified in {} at {throughput:.2} MiB/s (target {target_minutes} min: met)",
                human_bytes(bytes),
                human_duration(rto_seconds),
            );
            if estimate.partial {
                m.push_str(&format!(
                    "; the full data set would take about {} ({})",
                    human_duration(estimate.estimated_rto_seconds),
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
        let kept = keep(
            &repo,
            RecordKind::RtoMeasurement,
            passed,
            &response.message,
            &response,
        )
        .await;
        note_kept(kept, &mut response.record_id, &mut response.warnings);
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_backup_estimate_is_the_measurement() {
        let e = estimate(12.0, 1000, Some(1005), 900.0);
        assert!(!e.partial);
        assert_eq!(e.estimated_rto_seconds, 12.0);
        assert!(e.estimated_rto_met);
    }

    #[test]
    fn partial_backup_scales_by_bytes() {
        let e = estimate(10.0, 1 << 30, Some(100 << 30), 900.0);
        assert!(e.partial);
        assert_eq!(e.estimated_rto_seconds, 1000.0);
        assert!(!e.estimated_rto_met);
        assert!(
            e.method.contains("scaled linearly by bytes"),
            "{}",
            e.method
        );
        assert!(e.method.contains("100.0 GiB"), "{}", e.method);
    }

    #[test]
    fn no_scan_or_no_bytes_keeps_the_measurement() {
        let e = estimate(3.0, 0, Some(5000), 900.0);
        assert!(e.partial);
        assert_eq!(e.estimated_rto_seconds, 3.0);
        assert!(e.method.contains("no throughput"), "{}", e.method);
        let e = estimate(3.0, 10, None, 1.0);
        assert!(!e.partial);
        assert!(!e.estimated_rto_met);
    }
}
