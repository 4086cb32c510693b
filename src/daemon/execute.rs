//! Running one job through the operations layer: a backup with its retries (and cleanup after
//! it), a validation, a restore test, or the due drills; what it ended with, for the state file.

use std::sync::Arc;
use std::time::Duration;

use super::clock::Clock;
use super::jobs::{Job, JobKind};
use crate::error::ErrorKind;
use crate::ops::backup::{BackupOptions, BackupStatus};
use crate::ops::cleanup::CleanupOptions;
use crate::ops::daemon_state::JobResult;
use crate::ops::drill::DrillRunOptions;
use crate::ops::restore_test::RestoreTestOptions;
use crate::ops::validate::ValidateOptions;
use crate::ops::{Cancel, Dr, NoProgress, Progress};

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Ran {
    pub result: JobResult,
    /// The backup id made, or why it failed, in a line.
    pub detail: String,
    pub attempts: u32,
    /// For a backup: how the cleanup after it went (None when none ran).
    pub cleanup: Option<(JobResult, String)>,
}

impl Ran {
    fn once(result: JobResult, detail: impl Into<String>) -> Ran {
        Ran {
            result,
            detail: detail.into(),
            attempts: 1,
            cleanup: None,
        }
    }
}

/// Run `job`, which is due; `log` receives a line per attempt that failed.
pub async fn execute(
    dr: &Dr,
    job: &Job,
    clock: &Clock,
    cancel: &Cancel,
    log: &(dyn Fn(String) + Sync),
) -> Ran {
    let progress: Arc<dyn Progress> = Arc::new(NoProgress);
    let failed = |e: crate::error::Error| {
        if e.kind == ErrorKind::Cancelled || cancel.is_cancelled() {
            Ran::once(
                JobResult::Cancelled,
                "stopped by the daemon's shutdown; nothing partial was committed",
            )
        } else {
            Ran::once(JobResult::Failed, one_line(&e))
        }
    };
    match job.kind {
        JobKind::Backup(backup_type) => backup(dr, job, backup_type, clock, cancel, log).await,
        JobKind::Validation(level) => {
            let req = ValidateOptions {
                level,
                ..Default::default()
            };
            match dr.validate(&req, progress, cancel).await {
                Ok(r) if r.ok => Ran::once(JobResult::Succeeded, r.message),
                Ok(r) => Ran::once(JobResult::Failed, r.message),
                Err(e) => failed(e),
            }
        }
        JobKind::RestoreTest => match dr
            .restore_test(&RestoreTestOptions::default(), progress, cancel)
            .await
        {
            Ok(r) if r.passed => Ran::once(
                JobResult::Succeeded,
                format!("restore test of {} passed", r.backup_id),
            ),
            Ok(r) => Ran::once(
                JobResult::Failed,
                format!(
                    "restore test of {} failed: {}",
                    r.backup_id,
                    r.reasons.join("; ")
                ),
            ),
            Err(e) => failed(e),
        },
        JobKind::Drills => {
            let req = DrillRunOptions {
                scheduled: true,
                dry_run: false,
                confirm: true,
                ..Default::default()
            };
            match dr.drill_run(&req, "daemon", progress, cancel).await {
                Ok(r) if r.passed => Ran::once(JobResult::Succeeded, r.message),
                Ok(r) => Ran::once(JobResult::Failed, r.message),
                Err(e) => failed(e),
            }
        }
    }
}

/// A backup, tried up to `daemon.backup_attempts` times with a doubling backoff, then the
/// cleanup when it succeeded.
async fn backup(
    dr: &Dr,
    job: &Job,
    backup_type: crate::repo::BackupType,
    clock: &Clock,
    cancel: &Cancel,
    log: &(dyn Fn(String) + Sync),
) -> Ran {
    let d = &dr.settings().settings.daemon;
    let req = BackupOptions {
        backup_type,
        scheduled: true,
        ..Default::default()
    };
    let attempts = d.backup_attempts.max(1);
    let mut backoff = Duration::from_secs(d.retry_backoff_seconds);
    let mut attempt = 1;
    let mut ran = loop {
        match dr.backup(&req, Arc::new(NoProgress), cancel).await {
            Ok(r) if r.status == BackupStatus::Completed => {
                break Ran {
                    result: JobResult::Succeeded,
                    detail: r
                        .backup_id
                        .map(|id| format!("backup {id} made"))
                        .unwrap_or(r.message),
                    attempts: attempt,
                    cleanup: None,
                };
            }
            Ok(r) => break Ran::once(JobResult::Skipped, r.message),
            Err(e) if e.kind == ErrorKind::Cancelled || cancel.is_cancelled() => {
                break Ran {
                    attempts: attempt,
                    ..Ran::once(
                        JobResult::Cancelled,
                        "stopped by the daemon's shutdown; nothing partial was committed",
                    )
                };
            }
            Err(e) if attempt < attempts => {
                log(format!(
                    "{}: attempt {attempt} of {attempts} failed: {}; trying again in {} s",
                    job.name,
                    one_line(&e),
                    backoff.as_secs()
                ));
                tokio::select! {
                    () = cancel.cancelled() => {
                        break Ran {
                            attempts: attempt,
                            ..Ran::once(JobResult::Cancelled, format!(
                                "stopped by the daemon's shutdown while waiting to retry after: {}",
                                one_line(&e)
                            ))
                        };
                    }
                    () = tokio::time::sleep(clock.real(backoff)) => {}
                }
                attempt += 1;
                backoff = backoff.saturating_mul(2);
            }
            Err(e) => {
                break Ran {
                    attempts: attempt,
                    ..Ran::once(
                        JobResult::Failed,
                        format!("after {attempt} attempt(s): {}", one_line(&e)),
                    )
                };
            }
        }
    };
    if ran.result == JobResult::Succeeded && d.cleanup_after_backup && !cancel.is_cancelled() {
        ran.cleanup = Some(cleanup(dr).await);
    }
    ran
}

/// Apply the retention policy to this host's backups. An immutable store is left alone (this
/// tool only adds to it).
async fn cleanup(dr: &Dr) -> (JobResult, String) {
    if dr.store().target.immutable() {
        return (
            JobResult::Skipped,
            "the store is immutable: cleanup deletes nothing there".into(),
        );
    }
    let req = CleanupOptions {
        dry_run: false,
        confirm: true,
        ..CleanupOptions::default()
    };
    match dr.cleanup(&req, Arc::new(NoProgress)).await {
        Ok(r) => (JobResult::Succeeded, r.message),
        Err(e) => (JobResult::Failed, one_line(&e)),
    }
}

/// An error's message and guidance on one line, for the state file and the log.
fn one_line(e: &crate::error::Error) -> String {
    let mut s = e.to_string().replace('\n', " ");
    if let Some(g) = e.guidance_for(crate::action::Face::Cli) {
        s.push_str(" (");
        s.push_str(&g.replace('\n', " "));
        s.push(')');
    }
    s
}
