//! What each recording operation keeps in the history: its typed payload, built field by field
//! from its response (the stored format is `repo::history`'s, not the responses').

use super::integrity::ValidationLevel;
use super::measure::rpo_analysis::RpoAnalysis;
use super::record::Recorded;
use super::restore_test::RestoreTestResponse;
use super::rto::MeasureRtoResponse;
use super::validate::ValidateResponse;
use crate::repo::history::{
    DriftSummary, RecordPayload, RestoreTestPayload, RpoPayload, RtoPayload, ValidationPayload,
    ValidationScope,
};

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

impl Recorded for RpoAnalysis {
    fn passed(&self) -> bool {
        self.passed
    }
    fn summary(&self) -> &str {
        &self.statement
    }
    fn payload(&self) -> RecordPayload {
        RecordPayload::RpoMeasurement(RpoPayload {
            rpo_seconds: self.current.age_seconds.map(|s| s as f64),
            rpo_target_seconds: self.rpo_target_seconds as f64,
            newest_backup: self.current.newest_backup,
            current_met: self.current.passed,
            window_days: self.worst_gap.window_days,
            worst_gap_seconds: self.worst_gap.worst.as_ref().map(|g| g.seconds as f64),
            worst_gap_met: self.worst_gap.passed,
            schedule_rpo_seconds: self.schedule.implied_rpo_seconds.map(|s| s as f64),
            schedule_can_meet_target: self.schedule_can_meet_target,
            backups_considered: self.backups_considered,
            reasons: self.reasons.clone(),
        })
    }
}
