//! The disaster-recovery check: are there backups, are they intact, is the newest one recent enough.
//!
//! Its shape is the one the Mahavishnu orchestrator already reads (`run_disaster_recovery_check`):
//! `{status, results: {timestamp, status: healthy|needs_attention, checks: {...}}}`, each check
//! `pass` or `fail`, with a `detail` sentence added for people and agents.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::validate::{ValidateRequest, ValidationLevel};
use super::{Cancel, Dr, NoProgress, human_age};
use crate::error::{ErrorKind, Result};
use crate::repo::Repository;

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
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DrChecks {
    pub backups_available: BackupsAvailable,
    pub backup_integrity: BackupIntegrity,
    pub recent_backup: RecentBackup,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DrCheckResults {
    pub timestamp: DateTime<Utc>,
    /// healthy when every check passes, needs_attention otherwise.
    pub status: Verdict,
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

/// The newest backup must be no older than the RPO target (as in `ops::rpo`: a figure equal to
/// the target meets it).
fn recent_check(age_seconds: Option<i64>, threshold_minutes: u64) -> RecentBackup {
    let recent_ok = age_seconds.is_some_and(|a| a <= (threshold_minutes as i64) * 60);
    RecentBackup {
        status: CheckStatus::from_ok(recent_ok),
        latest_backup_age_hours: age_seconds.map(|a| (a as f64 / 3600.0 * 1000.0).round() / 1000.0),
        threshold_hours: threshold_minutes as f64 / 60.0,
        detail: match age_seconds {
            None => "no backup yet".into(),
            Some(a) if recent_ok => format!(
                "newest backup is {} old, within the RPO target of {threshold_minutes} min",
                human_age(a)
            ),
            Some(a) => format!(
                "newest backup is {} old, older than the RPO target of {threshold_minutes} min: \
                 run a backup, and schedule backups at least that often",
                human_age(a)
            ),
        },
    }
}

impl Dr {
    /// Run the disaster-recovery check. A repository that does not exist yet is a failed check,
    /// not an error; a wrong key is an error.
    pub async fn dr_check(&self) -> Result<DrCheckResponse> {
        let now = Utc::now();
        let threshold_minutes = self.settings.settings.disaster_recovery.rpo_target_minutes;
        let (listing, missing_repo) = match self.list(&Default::default()).await {
            Ok(l) => (Some(l), None),
            Err(e) if e.kind == ErrorKind::NotFound => (None, Some(e.message)),
            // No key and no repository: the repository is what is missing.
            Err(e) if e.kind == ErrorKind::Key => {
                match Repository::open_keyless(self.storage.clone()).await {
                    Err(n) if n.kind == ErrorKind::NotFound => (None, Some(n.message)),
                    _ => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let newest = listing.as_ref().and_then(|l| l.backups.first().cloned());
        let count = listing.as_ref().map_or(0, |l| l.total_count as i64);

        let backups_available = BackupsAvailable {
            status: CheckStatus::from_ok(count > 0),
            count,
            latest_backup: newest.as_ref().map(|b| b.finished),
            latest_backup_id: newest.as_ref().map(|b| b.backup_id.clone()),
            detail: match (&missing_repo, &newest) {
                (Some(m), _) => format!("no repository yet ({m}): run backup_run to make one"),
                (None, None) => "the repository holds no finished backup: run backup_run".into(),
                (None, Some(b)) => format!("{count} backup(s); newest {}", b.backup_id),
            },
        };

        let backup_integrity = if listing.is_none() {
            BackupIntegrity {
                status: CheckStatus::Fail,
                checked: 0,
                failed: 0,
                detail: "nothing to check: there is no repository".into(),
            }
        } else {
            let req = ValidateRequest {
                backup_id: None,
                level: ValidationLevel::Quick,
                sample_percent: 100.0,
            };
            let v = self
                .validate_unrecorded(&req, Arc::new(NoProgress), &Cancel::new())
                .await?;
            let failed = v.backups.iter().filter(|b| !b.ok).count() as i64;
            let checked = v.backups.len() as i64;
            let ok = v.ok && checked > 0;
            BackupIntegrity {
                status: CheckStatus::from_ok(ok),
                checked,
                failed,
                detail: if ok {
                    format!("quick validation passed for {checked} backup(s)")
                } else if checked == 0 {
                    "nothing to check: no finished backup".into()
                } else {
                    let first = v
                        .problems
                        .first()
                        .map(|p| format!(": {} {}", p.backup_id, p.problem))
                        .unwrap_or_default();
                    format!(
                        "{} problem(s){first}; run backup_validate with level full for details",
                        v.problems.len()
                    )
                },
            }
        };

        let age_seconds = newest.as_ref().map(|b| (now - b.finished).num_seconds());
        let recent_backup = recent_check(age_seconds, threshold_minutes);
        let checks = DrChecks {
            backups_available,
            backup_integrity,
            recent_backup,
        };
        let failing: Vec<&str> = [
            ("backups_available", checks.backups_available.status),
            ("backup_integrity", checks.backup_integrity.status),
            ("recent_backup", checks.recent_backup.status),
        ]
        .iter()
        .filter(|(_, s)| *s == CheckStatus::Fail)
        .map(|(n, _)| *n)
        .collect();
        let verdict = if failing.is_empty() {
            Verdict::Healthy
        } else {
            Verdict::NeedsAttention
        };
        let message = if failing.is_empty() {
            "healthy: backups available, intact and recent".to_string()
        } else {
            format!("needs attention: {} failed", failing.join(", "))
        };
        Ok(DrCheckResponse {
            status: "success".into(),
            results: DrCheckResults {
                timestamp: now,
                status: verdict,
                checks,
            },
            message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_backup_against_the_rpo_target() {
        let r = recent_check(Some(60 * 60), 60);
        assert_eq!(r.status, CheckStatus::Pass);
        assert_eq!(r.threshold_hours, 1.0);
        assert_eq!(r.latest_backup_age_hours, Some(1.0));
        let r = recent_check(Some(60 * 60 + 1), 60);
        assert_eq!(r.status, CheckStatus::Fail);
        assert!(
            r.detail.contains("older than the RPO target of 60 min"),
            "{}",
            r.detail
        );
        let r = recent_check(None, 60);
        assert_eq!(r.status, CheckStatus::Fail);
        assert_eq!(r.latest_backup_age_hours, None);
    }
}
