//! The disaster-recovery check: the DR report's checks in the shape the orchestrator reads.
//!
//! Its shape is the one the Mahavishnu orchestrator already reads (`run_disaster_recovery_check`):
//! `{status, results: {timestamp, status: healthy|needs_attention, checks: {...}}}`, each check
//! `pass` or `fail`, with a `detail` sentence added for people and agents.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use super::posture::{CheckName, Level, Posture, PostureCheck, posture_checks, verdict};
use crate::action::{Advice, Face};
use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    Pass,
    Fail,
}

impl CheckStatus {
    fn from_ok(ok: bool) -> Self {
        if ok {
            CheckStatus::Pass
        } else {
            CheckStatus::Fail
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Healthy,
    NeedsAttention,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BackupsAvailable {
    pub status: CheckStatus,
    /// Finished backups in the repository.
    pub count: i64,
    /// When the newest backup finished (RFC 3339), if there is one.
    pub latest_backup: Option<DateTime<Utc>>,
    pub latest_backup_id: Option<String>,
    pub detail: String,
    /// The report's level: pass, warn or fail.
    pub level: Level,
    /// What to do; none when it passes (worded for the face that answers).
    pub action: Option<String>,
    /// The same advice, typed.
    #[serde(skip)]
    #[schemars(skip)]
    pub advice: Option<Advice>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BackupIntegrity {
    pub status: CheckStatus,
    /// Backups checked (quick validation: manifests readable, volumes present with the right
    /// sizes, chains intact).
    pub checked: i64,
    /// Backups with a problem, unreadable manifests included.
    pub failed: i64,
    pub detail: String,
    /// The report's level: pass, warn or fail.
    pub level: Level,
    /// What to do; none when it passes (worded for the face that answers).
    pub action: Option<String>,
    /// The same advice, typed.
    #[serde(skip)]
    #[schemars(skip)]
    pub advice: Option<Advice>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RecentBackup {
    pub status: CheckStatus,
    /// Age of the newest backup in hours, if there is one.
    pub latest_backup_age_hours: Option<f64>,
    /// The RPO target (`disaster_recovery.rpo_target_minutes`) in hours: the newest backup must be
    /// younger than this.
    pub threshold_hours: f64,
    pub detail: String,
    /// The report's level: pass, warn or fail.
    pub level: Level,
    /// What to do; none when it passes (worded for the face that answers).
    pub action: Option<String>,
    /// The same advice, typed.
    #[serde(skip)]
    #[schemars(skip)]
    pub advice: Option<Advice>,
}

/// One of the report's checks, in the orchestrator's pass/fail shape.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReportCheck {
    /// pass only when the report's check passes (a warning is a fail here).
    pub status: CheckStatus,
    /// The report's level: pass, warn or fail.
    pub level: Level,
    pub detail: String,
    /// What to do; none when it passes (worded for the face that answers).
    pub action: Option<String>,
    /// The same advice, typed.
    #[serde(skip)]
    #[schemars(skip)]
    pub advice: Option<Advice>,
}

impl From<&PostureCheck> for ReportCheck {
    fn from(c: &PostureCheck) -> Self {
        ReportCheck {
            status: CheckStatus::from_ok(c.status == Level::Pass),
            level: c.status,
            detail: c.detail.clone(),
            action: c.action.clone(),
            advice: c.advice.clone(),
        }
    }
}

/// The checks of `mahavishnu-dr report`, under the orchestrator's names where it has one
/// (backups_available, backup_integrity = chain_health, recent_backup = newest_backup_age).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DrChecks {
    pub backups_available: BackupsAvailable,
    pub backup_integrity: BackupIntegrity,
    pub recent_backup: RecentBackup,
    /// Whether the schedules can meet the RPO target at all.
    pub schedule_rpo: ReportCheck,
    pub last_validation: ReportCheck,
    pub last_restore_test: ReportCheck,
    pub retention_compliance: ReportCheck,
    pub key_age: ReportCheck,
    /// A replica holds the backups, no further behind than the RPO target.
    pub replicas: ReportCheck,
    /// Every scheduled drill scenario was drilled and its newest drill passed.
    pub drills: ReportCheck,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DrCheckResults {
    pub timestamp: DateTime<Utc>,
    /// healthy when every check passes, needs_attention otherwise.
    pub status: Verdict,
    /// The report's verdict: healthy, needs_attention (a warning) or critical (a failure).
    pub posture: Posture,
    pub checks: DrChecks,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DrCheckResponse {
    /// "success": the check ran (its verdict is in results.status).
    pub status: String,
    pub results: DrCheckResults,
    /// One line for people.
    pub message: String,
}

/// Words an action for `face`, from its typed advice.
fn word(action: &mut Option<String>, advice: &Option<Advice>, face: Face) {
    if let Some(a) = advice {
        *action = Some(a.render(face));
    }
}

impl DrCheckResponse {
    /// Words every check's action for `face` (the MCP server: tool calls).
    pub fn for_face(mut self, face: Face) -> Self {
        let c = &mut self.results.checks;
        word(
            &mut c.backups_available.action,
            &c.backups_available.advice,
            face,
        );
        word(
            &mut c.backup_integrity.action,
            &c.backup_integrity.advice,
            face,
        );
        word(&mut c.recent_backup.action, &c.recent_backup.advice, face);
        for r in [
            &mut c.schedule_rpo,
            &mut c.last_validation,
            &mut c.last_restore_test,
            &mut c.retention_compliance,
            &mut c.key_age,
            &mut c.replicas,
            &mut c.drills,
        ] {
            word(&mut r.action, &r.advice, face);
        }
        self
    }
}

impl Dr {
    /// Run the disaster-recovery check: the report's checks in the orchestrator's shape. A
    /// repository that does not exist yet is a failed check, not an error; a wrong key is an
    /// error.
    pub async fn dr_check(&self) -> Result<DrCheckResponse> {
        self.needs_settings("check")?;
        let dr = &self.settings.settings.disaster_recovery;
        let threshold_minutes = dr.rpo_target_minutes;
        let (e, _) = self.evidence().await?;
        let checks = posture_checks(
            &e,
            dr.rto_target_minutes as f64 * 60.0,
            threshold_minutes as f64 * 60.0,
        );
        let posture = verdict(&checks);
        let find = |name: CheckName| -> Result<&PostureCheck> {
            checks
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| Error::internal(format!("the report has no {name} check")))
        };
        let newest = e
            .catalog
            .as_ref()
            .and_then(|c| c.backups.iter().max_by_key(|b| b.finished));
        let available = find(CheckName::BackupsAvailable)?;
        let chain = find(CheckName::ChainHealth)?;
        let age = find(CheckName::NewestBackupAge)?;
        let checks = DrChecks {
            backups_available: BackupsAvailable {
                status: CheckStatus::from_ok(available.status == Level::Pass),
                count: e.catalog.as_ref().map_or(0, |c| c.backups.len() as i64),
                latest_backup: newest.map(|b| b.finished),
                latest_backup_id: newest.map(|b| b.backup_id.clone()),
                detail: available.detail.clone(),
                level: available.status,
                action: available.action.clone(),
                advice: available.advice.clone(),
            },
            backup_integrity: BackupIntegrity {
                status: CheckStatus::from_ok(
                    chain.status == Level::Pass && !e.backup_ok.is_empty(),
                ),
                checked: e.backup_ok.len() as i64,
                failed: e.backup_ok.values().filter(|ok| !**ok).count() as i64,
                detail: chain.detail.clone(),
                level: chain.status,
                action: chain.action.clone(),
                advice: chain.advice.clone(),
            },
            recent_backup: RecentBackup {
                status: CheckStatus::from_ok(age.status == Level::Pass),
                latest_backup_age_hours: newest.map(|b| {
                    ((e.now - b.finished).num_seconds() as f64 / 3600.0 * 1000.0).round() / 1000.0
                }),
                threshold_hours: threshold_minutes as f64 / 60.0,
                detail: age.detail.clone(),
                level: age.status,
                action: age.action.clone(),
                advice: age.advice.clone(),
            },
            schedule_rpo: find(CheckName::ScheduleRpo)?.into(),
            last_validation: find(CheckName::LastValidation)?.into(),
            last_restore_test: find(CheckName::LastRestoreTest)?.into(),
            retention_compliance: find(CheckName::RetentionCompliance)?.into(),
            key_age: find(CheckName::KeyAge)?.into(),
            replicas: find(CheckName::Replicas)?.into(),
            drills: find(CheckName::Drills)?.into(),
        };
        let failing: Vec<&str> = [
            ("backups_available", checks.backups_available.status),
            ("backup_integrity", checks.backup_integrity.status),
            ("recent_backup", checks.recent_backup.status),
            ("schedule_rpo", checks.schedule_rpo.status),
            ("last_validation", checks.last_validation.status),
            ("last_restore_test", checks.last_restore_test.status),
            ("retention_compliance", checks.retention_compliance.status),
            ("key_age", checks.key_age.status),
            ("replicas", checks.replicas.status),
            ("drills", checks.drills.status),
        ]
        .iter()
        .filter(|(_, s)| *s == CheckStatus::Fail)
        .map(|(n, _)| *n)
        .collect();
        let status = if failing.is_empty() {
            Verdict::Healthy
        } else {
            Verdict::NeedsAttention
        };
        let message = if failing.is_empty() {
            "healthy: backups available, intact, recent, validated, restore-tested and replicated"
                .to_string()
        } else {
            format!("{posture}: {}", failing.join(", "))
        };
        Ok(DrCheckResponse {
            status: "success".into(),
            results: DrCheckResults {
                timestamp: e.now,
                status,
                posture,
                checks,
            },
            message,
        })
    }
}
