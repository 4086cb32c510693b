//! The posture checks, in the order a person reads them, and the verdict they give.

use chrono::Duration;

use super::{CheckName, Evidence, Level, MAX_KEY_AGE_DAYS, Posture, PostureCheck, STALE_DAYS};
use crate::action::{Action, Advice};
use crate::ops::integrity::ValidationLevel;
use crate::present;
use crate::repo::kind::BackupType;

fn days(d: Duration) -> f64 {
    (d.num_seconds() as f64 / 86400.0 * 10.0).round() / 10.0
}

/// The checks, in the order a person reads them.
pub(crate) fn posture_checks(
    e: &Evidence,
    rto_target_seconds: f64,
    rpo_target_seconds: f64,
) -> Vec<PostureCheck> {
    let now = e.now;
    let backups = e.catalog.as_ref().map_or(&[][..], |c| &c.backups[..]);
    let newest = backups.iter().max_by_key(|b| b.finished);
    let mut checks = Vec::new();

    // Backups available.
    checks.push(
        match (&e.missing_repository, newest) {
            (Some(m), _) => PostureCheck::new(
                CheckName::BackupsAvailable,
                "Backups available",
                Level::Fail,
                format!("no repository yet ({m})"),
            )
            .advise(Advice::step(
                Action::RunBackup {
                    backup_type: Some(BackupType::Full),
                },
                "",
            )),
            (None, None) => PostureCheck::new(
                CheckName::BackupsAvailable,
                "Backups available",
                Level::Fail,
                "the repository holds no finished backup".into(),
            )
            .advise(Advice::step(
                Action::RunBackup {
                    backup_type: Some(BackupType::Full),
                },
                "",
            )),
            (None, Some(b)) => PostureCheck::new(
                CheckName::BackupsAvailable,
                "Backups available",
                Level::Pass,
                format!("{} backup(s); newest {}", backups.len(), b.backup_id),
            ),
        }
        .figure(Some(backups.len() as f64), None, "backups"),
    );

    // Newest backup age against the RPO target: every host that backs up here (not retired)
    // must meet it, so the host furthest behind is judged; a continuous point counts as its
    // newest state.
    let points = e.catalog.as_ref().map_or(&[][..], |c| &c.points[..]);
    let mut per_host: std::collections::BTreeMap<&str, chrono::DateTime<chrono::Utc>> =
        std::collections::BTreeMap::new();
    for b in backups.iter().chain(points) {
        if e.retired_hosts.contains(&b.host) {
            continue;
        }
        let t = per_host.entry(b.host.as_str()).or_insert(b.finished);
        *t = (*t).max(b.finished);
    }
    let behind = per_host.iter().min_by_key(|(_, t)| **t);
    let age = behind.map(|(_, t)| (now - *t).num_seconds());
    let whose = match behind {
        Some((h, _)) if per_host.len() > 1 => format!(
            "host {} (furthest behind of {} hosts)",
            crate::ops::hosts::shown(h),
            per_host.len()
        ),
        _ => String::new(),
    };
    let newest_words = |rest: String| {
        if whose.is_empty() {
            format!("newest backup {rest}")
        } else {
            format!("the newest backup of {whose} {rest}")
        }
    };
    let limit = (2.0 * rpo_target_seconds).max(48.0 * 3600.0);
    let age_check = match age {
        None => PostureCheck::new(
            CheckName::NewestBackupAge,
            "Newest backup vs RPO target",
            Level::Fail,
            "no backup: a recovery now would lose everything".into(),
        )
        .advise(Advice::step(Action::RunBackup { backup_type: None }, "now")),
        Some(a) if a as f64 <= rpo_target_seconds => PostureCheck::new(
            CheckName::NewestBackupAge,
            "Newest backup vs RPO target",
            Level::Pass,
            newest_words(format!(
                "is {} old, within the RPO target of {}",
                present::age(a),
                present::age(rpo_target_seconds as i64)
            )),
        ),
        Some(a) => PostureCheck::new(
            CheckName::NewestBackupAge,
            "Newest backup vs RPO target",
            if a as f64 <= limit {
                Level::Warn
            } else {
                Level::Fail
            },
            newest_words(format!(
                "is {} old, over the RPO target of {}: a recovery now would lose that much",
                present::age(a),
                present::age(rpo_target_seconds as i64)
            )),
        )
        .advise(Advice::say(if a as f64 <= limit {
            "back up more often (see the RPO section: the schedules may not be able to meet the target)"
        } else {
            "backups have stopped: check the scheduler (cron/systemd timer) and run a backup now"
        })),
    };
    checks.push(age_check.figure(age.map(|a| a as f64), Some(rpo_target_seconds), "seconds"));

    // The schedules against the RPO target.
    checks.push(match &e.rpo {
        Err(err) => PostureCheck::new(
            CheckName::ScheduleRpo,
            "Schedules vs RPO target",
            Level::Warn,
            format!("the schedules could not be analysed: {err}"),
        )
        .advise(Advice::step(Action::MeasureRpo, "and fix backup.schedules")),
        Ok(a) => {
            PostureCheck::new(
                CheckName::ScheduleRpo,
                "Schedules vs RPO target",
                if a.schedule_can_meet_target {
                    Level::Pass
                } else {
                    Level::Warn
                },
                a.statement.clone(),
            )
            .advise(a.advice.first().cloned().unwrap_or_else(|| {
                Advice::say("schedule backups at least as often as the RPO target")
            }))
            .figure(
                a.schedule.implied_rpo_seconds.map(|s| s as f64),
                Some(rpo_target_seconds),
                "seconds",
            )
        }
    });

    // Last validation.
    let stale = Duration::days(STALE_DAYS);
    checks.push(
        match &e.last_validation {
            None => PostureCheck::new(
                CheckName::LastValidation,
                "Last validation",
                Level::Warn,
                "no validation kept in the history".into(),
            ),
            Some(Err(u)) => PostureCheck::new(
                CheckName::LastValidation,
                "Last validation",
                Level::Warn,
                format!(
                    "the newest validation record cannot be read, so it proves nothing: {}",
                    u.reason
                ),
            ),
            Some(Ok(r)) if !r.passed => PostureCheck::new(
                CheckName::LastValidation,
                "Last validation",
                Level::Fail,
                format!(
                    "the last validation ({}) failed: {}",
                    present::timestamp(r.at),
                    r.summary
                ),
            ),
            Some(Ok(r)) => PostureCheck::new(
                CheckName::LastValidation,
                "Last validation",
                if now - r.at <= stale {
                    Level::Pass
                } else {
                    Level::Warn
                },
                format!(
                    "passed {} ago ({}): {}",
                    present::age((now - r.at).num_seconds()),
                    present::timestamp(r.at),
                    r.summary
                ),
            ),
        }
        .advise(Advice::step(
            Action::Validate {
                level: ValidationLevel::Full,
            },
            format!("at least every {STALE_DAYS} days"),
        ))
        .figure(
            e.last_validation
                .as_ref()
                .and_then(|r| r.as_ref().ok())
                .map(|r| days(now - r.at)),
            Some(STALE_DAYS as f64),
            "days",
        ),
    );

    // Last restore test against the RTO target.
    checks.push(match &e.last_restore_test {
        None => PostureCheck::new(
            CheckName::LastRestoreTest,
            "Last restore test vs RTO target",
            Level::Warn,
            "no restore test kept in the history: the RTO is unproven".into(),
        )
        .advise(Advice::step(Action::RestoreTest, ""))
        .figure(None, Some(rto_target_seconds), "seconds"),
        Some(Err(u)) => PostureCheck::new(
            CheckName::LastRestoreTest,
            "Last restore test vs RTO target",
            Level::Warn,
            format!(
                "the newest restore test record cannot be read, so the RTO is unproven: {}",
                u.reason
            ),
        )
        .advise(Advice::step(Action::RestoreTest, ""))
        .figure(None, Some(rto_target_seconds), "seconds"),
        Some(Ok(r)) => {
            let test = r.payload.as_restore_test();
            let rto = test.map(|t| t.rto_seconds);
            let rto_met = rto.is_some_and(|s| s <= rto_target_seconds);
            let when = format!(
                "{} ago ({})",
                present::age((now - r.at).num_seconds()),
                present::timestamp(r.at)
            );
            let restore_ok = test.is_some_and(|t| t.restore_ok);
            let (status, detail, action) = if !restore_ok {
                (
                    Level::Fail,
                    format!("the last restore test, {when}, failed: {}", r.summary),
                    Advice::step(Action::RestoreTest, "again once what it names is fixed"),
                )
            } else if !rto_met {
                (
                    Level::Fail,
                    format!(
                        "the last restore test, {when}, took {} against a target of {}",
                        rto.map_or("-".into(), present::duration),
                        present::age(rto_target_seconds as i64)
                    ),
                    Advice::say("make restores faster (faster storage, shorter chains through more frequent full backups) or raise rto_target_minutes"),
                )
            } else if now - r.at > stale {
                (
                    Level::Warn,
                    format!("the last restore test passed, but {when}"),
                    Advice::step(Action::RestoreTest, "at least weekly"),
                )
            } else {
                (
                    Level::Pass,
                    format!(
                        "passed {when}: restored and verified in {} (target {})",
                        rto.map_or("-".into(), present::duration),
                        present::age(rto_target_seconds as i64)
                    ),
                    Advice::say(""),
                )
            };
            PostureCheck::new(CheckName::LastRestoreTest, "Last restore test vs RTO target", status, detail)
                .advise(action)
                .figure(rto, Some(rto_target_seconds), "seconds")
        }
    });

    // Retention compliance.
    checks.push(
        if e.catalog.is_none() {
            PostureCheck::new(
                CheckName::RetentionCompliance,
                "Retention compliance",
                Level::Warn,
                "nothing to check: there is no repository".into(),
            )
        } else if e.retention_due.is_empty() {
            PostureCheck::new(
                CheckName::RetentionCompliance,
                "Retention compliance",
                Level::Pass,
                "every backup is within its type's retention or needed by a kept one".into(),
            )
        } else {
            PostureCheck::new(
                CheckName::RetentionCompliance,
                "Retention compliance",
                Level::Warn,
                format!(
                    "{} backup(s) past retention still stored (oldest {})",
                    e.retention_due.len(),
                    e.retention_due.last().map(String::as_str).unwrap_or("")
                ),
            )
            .advise(Advice::step(
                Action::PlanCleanup,
                "to see the plan, then apply it",
            ))
        }
        .figure(Some(e.retention_due.len() as f64), Some(0.0), "backups"),
    );

    // Chain health: quick validation of every backup.
    let failed = e.backup_ok.values().filter(|ok| !**ok).count();
    checks.push(if e.catalog.is_none() {
        PostureCheck::new(
            CheckName::ChainHealth,
            "Chain health",
            Level::Fail,
            "nothing to check: there is no repository".into(),
        )
    } else if failed == 0 && e.unreadable.is_empty() {
        PostureCheck::new(
            CheckName::ChainHealth,
            "Chain health",
            Level::Pass,
            format!(
                "quick validation passed for {} backup(s): manifests readable, volumes present, chains intact",
                e.backup_ok.len()
            ),
        )
    } else {
        let first = e.problems.first().or(e.unreadable.first()).cloned().unwrap_or_default();
        PostureCheck::new(
            CheckName::ChainHealth,
            "Chain health",
            Level::Fail,
            format!(
                "{} backup(s) with a problem, {} unreadable: {first}",
                failed,
                e.unreadable.len()
            ),
        )
        .advise(Advice::step(Action::Validate { level: ValidationLevel::Full }, "for details, then a full backup to start a sound chain"))
    }
    .figure(Some(failed as f64), Some(0.0), "backups"));

    // Key age.
    checks.push(key_check(e));
    checks.push(replica_check(e, rpo_target_seconds));
    checks.push(drill_check(e));
    checks
}

/// Whether the scheduled drills prove recovery: each scenario of `disaster_recovery.drills`
/// has a kept drill, and its newest passed. No scenario scheduled passes (and says so).
fn drill_check(e: &Evidence) -> PostureCheck {
    let title = "Disaster drills";
    if e.scheduled_drills.is_empty() {
        return PostureCheck::new(
            CheckName::Drills,
            title,
            Level::Pass,
            "no drill is scheduled (disaster_recovery.drills.scenarios is empty)".into(),
        );
    }
    let mut never = Vec::new();
    let mut failed = Vec::new();
    for s in &e.scheduled_drills {
        let last = e
            .drills
            .iter()
            .filter(|r| r.payload.as_drill().is_some_and(|p| p.scenario == s.id()))
            .max_by_key(|r| r.at);
        match last {
            None => never.push(s.id()),
            Some(r) if !r.passed => failed.push(format!(
                "{} ({} ago)",
                s.id(),
                present::age((e.now - r.at).num_seconds())
            )),
            Some(_) => {}
        }
    }
    let mut issues = Vec::new();
    if !never.is_empty() {
        issues.push(format!("never drilled: {}", never.join(", ")));
    }
    if !failed.is_empty() {
        issues.push(format!("newest drill failed: {}", failed.join(", ")));
    }
    let (level, detail) = if issues.is_empty() {
        (
            Level::Pass,
            format!(
                "the newest drill of each of the {} scheduled scenario(s) passed",
                e.scheduled_drills.len()
            ),
        )
    } else {
        (Level::Warn, issues.join("; "))
    };
    PostureCheck::new(CheckName::Drills, title, level, detail)
        .advise(Advice::step(
            Action::Drill { scenario: None },
            "(see `drill report` for the findings of a failed one)",
        ))
        .figure(
            Some((never.len() + failed.len()) as f64),
            Some(0.0),
            "scenarios",
        )
}

/// Whether the backups survive the loss of the store they are in: a replica holds them, no
/// further behind than the RPO target.
fn replica_check(e: &Evidence, rpo_target_seconds: f64) -> PostureCheck {
    let title = "Replicas";
    let (store, location) = &e.store;
    if e.replicas.is_empty() {
        return PostureCheck::new(
            CheckName::Replicas,
            title,
            Level::Warn,
            format!(
                "no replica: the backups live only in {store} ({location}); losing that server \
                 or region loses them"
            ),
        )
        .advise(Advice::step(
            Action::EditSetting {
                key: "backup.storage.replicas".into(),
                value: "[{ name: offsite, type: s3, bucket: ..., region: ... }]".into(),
            },
            "(another region or provider), then run a backup",
        ));
    }
    let mut issues = Vec::new();
    let mut worst = 0i64;
    for r in &e.replicas {
        match (&r.error, &r.newest_missing) {
            (Some(err), _) => issues.push(format!("{} cannot be read ({err})", r.name)),
            (None, Some(n)) => {
                let lag = r.lag_seconds.unwrap_or(0);
                worst = worst.max(lag);
                if lag as f64 > rpo_target_seconds {
                    issues.push(format!(
                        "{} lacks {} backup(s) up to {}, {} behind",
                        r.name,
                        r.missing,
                        n.backup_id,
                        present::age(lag)
                    ));
                }
            }
            (None, None) => {}
        }
    }
    let names: Vec<&str> = e.replicas.iter().map(|r| r.name.as_str()).collect();
    let (level, detail) = if issues.is_empty() {
        (
            Level::Pass,
            format!(
                "{} replica(s) ({}) within the RPO target of {store}",
                names.len(),
                names.join(", ")
            ),
        )
    } else {
        (Level::Warn, issues.join("; "))
    };
    PostureCheck::new(CheckName::Replicas, title, level, detail)
        .advise(Advice::step(
            Action::Replicate { to: None },
            "to catch up (once the replica is reachable)",
        ))
        .figure(Some(worst as f64), Some(rpo_target_seconds), "seconds")
}

fn key_check(e: &Evidence) -> PostureCheck {
    let title = "Encryption key";
    if !e.encrypted {
        return PostureCheck::new(
            CheckName::KeyAge,
            title,
            Level::Warn,
            "encryption is disabled: volumes are stored in plaintext".into(),
        )
        .advise(Advice::step(
            Action::EditSetting {
                key: "backup.encryption.enabled".into(),
                value: "true".into(),
            },
            "and start a new repository",
        ));
    }
    let Some(created) = e.repo_created else {
        return PostureCheck::new(
            CheckName::KeyAge,
            title,
            Level::Warn,
            "no repository yet: the key's age is unknown".into(),
        );
    };
    let age = e.now - created;
    let mut issues = Vec::new();
    let mut level = Level::Pass;
    if age > Duration::days(MAX_KEY_AGE_DAYS) {
        level = Level::Warn;
        issues.push(format!("older than {MAX_KEY_AGE_DAYS} days"));
    }
    #[cfg(unix)]
    if let Some(path) = &e.key_file {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o077 != 0
        {
            level = Level::Warn;
            issues.push(format!(
                "the key file {} is readable by group or others (mode {:o})",
                path.display(),
                m.permissions().mode() & 0o777
            ));
        }
    }
    let detail = format!(
        "the repository's master key is {} old (created {}){}",
        present::age(age.num_seconds()),
        present::date(created),
        if issues.is_empty() {
            String::new()
        } else {
            format!(": {}", issues.join("; "))
        }
    );
    PostureCheck::new(CheckName::KeyAge, title, level, detail)
        .advise(Advice::say(format!(
            "chmod 600 the key file; past {MAX_KEY_AGE_DAYS} days, rotate: init a new repository with a new key, run a full backup into it, and keep the old key until the old repository's retention ends"
        )))
        .figure(Some(days(age)), Some(MAX_KEY_AGE_DAYS as f64), "days")
}

/// The verdict: critical when a check fails, needs_attention when one warns.
pub(crate) fn verdict(checks: &[PostureCheck]) -> Posture {
    match checks.iter().map(|c| c.status).max() {
        Some(Level::Fail) => Posture::Critical,
        Some(Level::Warn) => Posture::NeedsAttention,
        _ => Posture::Healthy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::posture::evidence::Kept;
    use crate::ops::replication::{BackupRef, ReplicaLag};
    use crate::repo::catalog::Catalog;
    use crate::repo::history::{
        HistoryRecord, RecordPayload, RestoreTestPayload, UnreadableRecord, ValidationPayload,
        ValidationScope,
    };
    use chrono::{DateTime, Utc};
    use serde_json::json;

    const RTO: f64 = 900.0;
    const RPO: f64 = 3600.0;

    fn backup(now: DateTime<Utc>, age_seconds: i64) -> crate::repo::manifest::ManifestSummary {
        let finished = now - Duration::seconds(age_seconds);
        serde_json::from_value(json!({
            "format_version": 1, "backup_id": "backup_20260101T000000.000Z_00000001",
            "backup_type": "full", "requested_type": "full", "parent": null,
            "chain_root": "backup_20260101T000000.000Z_00000001", "chain_length": 1,
            "started": finished, "finished": finished, "host": "h", "tool_version": "0",
            "compression_level": 3, "encrypted": true, "sources": [], "volumes": [],
            "totals": {"files": 1, "dirs": 0, "symlinks": 0, "bytes": 1, "files_stored": 1,
                       "bytes_stored_content": 1, "files_unchanged": 0, "files_deleted": 0,
                       "stored_bytes": 1},
            "depends_on": []
        }))
        .expect("a manifest summary")
    }

    fn validation(at: DateTime<Utc>, passed: bool) -> Option<Kept> {
        let payload = RecordPayload::Validation(ValidationPayload {
            level: ValidationScope::Full,
            sample_percent: 100.0,
            backups_checked: 1,
            volumes_checked: 1,
            files_checked: 1,
            bytes_read: 1,
            problems: u64::from(!passed),
            failed_backups: Vec::new(),
            duration_seconds: 0.1,
        });
        let mut r = HistoryRecord::new(passed, "summary".into(), payload, None);
        r.at = at;
        Some(Ok(r))
    }

    /// A restore test that restored (or not) in `rto_seconds`.
    fn restore_test(
        at: DateTime<Utc>,
        passed: bool,
        restore_ok: bool,
        rto_seconds: f64,
    ) -> Option<Kept> {
        let payload = RecordPayload::RestoreTest(RestoreTestPayload {
            backup_id: "backup_20260101T000000.000Z_00000001".into(),
            backup_type: None,
            backup_finished: None,
            chain_length: 1,
            restore_ok,
            reasons: Vec::new(),
            files: 1,
            bytes: 1,
            rto_seconds,
            rto_target_seconds: RTO,
            rto_met: rto_seconds <= RTO,
            rpo_seconds: None,
            rpo_target_seconds: RPO,
            rpo_met: passed,
            databases_checked: 0,
            databases_failed: 0,
            drift: Default::default(),
        });
        let mut r = HistoryRecord::new(passed, "summary".into(), payload, None);
        r.at = at;
        Some(Ok(r))
    }

    /// A sound repository with one backup `age_seconds` old, validated and restore-tested an
    /// hour ago.
    fn evidence(age_seconds: i64) -> Evidence {
        let now = Utc::now();
        let b = backup(now, age_seconds);
        let hour_ago = now - Duration::hours(1);
        Evidence {
            now,
            missing_repository: None,
            backup_ok: [(b.backup_id.clone(), true)].into_iter().collect(),
            catalog: Some(Catalog {
                backups: vec![b],
                ..Catalog::default()
            }),
            problems: Vec::new(),
            unreadable: Vec::new(),
            last_validation: validation(hour_ago, true),
            last_restore_test: restore_test(hour_ago, true, true, 12.5),
            retention_due: Vec::new(),
            repo_created: Some(now - Duration::days(30)),
            encrypted: true,
            key_file: None,
            rpo: Err("not analysed in this test".into()),
            store: ("primary".into(), "local:/srv/backups".into()),
            replicas: vec![lag("offsite", None)],
            drills: Vec::new(),
            scheduled_drills: Vec::new(),
            retired_hosts: Vec::new(),
        }
    }

    /// A replica lacking one backup `lag_seconds` old (none: lacking nothing).
    fn lag(name: &str, lag_seconds: Option<i64>) -> ReplicaLag {
        let now = Utc::now();
        ReplicaLag {
            name: name.into(),
            location: format!("s3://b/{name}"),
            missing: u32::from(lag_seconds.is_some()),
            newest_missing: lag_seconds.map(|l| BackupRef {
                backup_id: "backup_missing".into(),
                finished: now - Duration::seconds(l),
            }),
            lag_seconds: Some(lag_seconds.unwrap_or(0)),
            newest_held: None,
            error: None,
        }
    }

    #[test]
    fn replicas_pass_within_the_rpo_target_and_warn_when_absent_behind_or_unreadable() {
        let mut e = evidence(60);
        assert_eq!(status(&e, CheckName::Replicas), Level::Pass);
        e.replicas = vec![lag("offsite", None), lag("azure", Some(3600))];
        assert_eq!(
            status(&e, CheckName::Replicas),
            Level::Pass,
            "at the target"
        );
        e.replicas[1] = lag("azure", Some(3601));
        let c = posture_checks(&e, RTO, RPO)
            .into_iter()
            .find(|c| c.name == CheckName::Replicas)
            .unwrap();
        assert_eq!(c.status, Level::Warn);
        assert!(c.detail.contains("azure lacks 1 backup(s)"), "{}", c.detail);
        assert_eq!(
            c.action.as_deref(),
            Some("run `mahavishnu-dr replicate` to catch up (once the replica is reachable)")
        );
        e.replicas[1].error = Some("cannot reach s3://b/azure".into());
        assert_eq!(status(&e, CheckName::Replicas), Level::Warn);
        e.replicas.clear();
        let c = posture_checks(&e, RTO, RPO)
            .into_iter()
            .find(|c| c.name == CheckName::Replicas)
            .unwrap();
        assert_eq!(c.status, Level::Warn);
        assert!(
            c.detail
                .starts_with("no replica: the backups live only in primary"),
            "{}",
            c.detail
        );
        assert!(c.action.unwrap().contains("backup.storage.replicas"));
    }

    fn status(e: &Evidence, name: CheckName) -> Level {
        posture_checks(e, RTO, RPO)
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| c.status)
            .expect("the check")
    }

    #[test]
    fn newest_backup_age_passes_at_the_target_warns_past_it_fails_when_backups_stopped() {
        assert_eq!(
            status(&evidence(3600), CheckName::NewestBackupAge),
            Level::Pass
        );
        assert_eq!(
            status(&evidence(3601), CheckName::NewestBackupAge),
            Level::Warn
        );
        // Past twice the target and 48 h: backups have stopped.
        assert_eq!(
            status(&evidence(48 * 3600), CheckName::NewestBackupAge),
            Level::Warn
        );
        assert_eq!(
            status(&evidence(48 * 3600 + 1), CheckName::NewestBackupAge),
            Level::Fail
        );
    }

    /// Every host that backs up here must meet the RPO target: the host furthest behind is
    /// judged and named; a retired host is not judged; a continuous point is a host's newest
    /// state.
    #[test]
    fn the_host_furthest_behind_is_judged_unless_retired() {
        let mut e = evidence(60);
        let mut old = backup(e.now, 10 * 3600);
        old.host = "old-box".into();
        old.backup_id = "backup_20250101T000000.000Z_00000002".into();
        if let Some(c) = e.catalog.as_mut() {
            c.backups.push(old.clone());
        }
        let check = |e: &Evidence| {
            posture_checks(e, RTO, RPO)
                .into_iter()
                .find(|c| c.name == CheckName::NewestBackupAge)
                .unwrap()
        };
        let c = check(&e);
        assert_eq!(c.status, Level::Warn, "{}", c.detail);
        assert!(
            c.detail.contains("old-box") && c.detail.contains("2 hosts"),
            "{}",
            c.detail
        );
        e.retired_hosts = vec!["old-box".into()];
        assert_eq!(check(&e).status, Level::Pass);
        // Not retired, but its continuous point is recent: it meets the target.
        e.retired_hosts.clear();
        let mut point = backup(e.now, 30);
        point.host = "old-box".into();
        point.backup_id = "point_20250101T000000.000Z_00000003".into();
        if let Some(c) = e.catalog.as_mut() {
            c.points.push(point);
        }
        assert_eq!(check(&e).status, Level::Pass, "{}", check(&e).detail);
    }

    #[test]
    fn retention_due_warns_and_the_verdict_follows_the_worst_check() {
        let mut e = evidence(60);
        // The schedule check warns here (not analysed); drop it to see the others.
        let others = |e: &Evidence| -> Vec<PostureCheck> {
            posture_checks(e, RTO, RPO)
                .into_iter()
                .filter(|c| c.name != CheckName::ScheduleRpo)
                .collect()
        };
        assert_eq!(verdict(&others(&e)), Posture::Healthy);
        e.retention_due = vec!["backup_a".into(), "backup_b".into()];
        let checks = others(&e);
        let r = checks
            .iter()
            .find(|c| c.name == CheckName::RetentionCompliance)
            .unwrap();
        assert_eq!(r.status, Level::Warn);
        assert!(
            r.detail.starts_with("2 backup(s) past retention"),
            "{}",
            r.detail
        );
        assert!(r.action.as_deref().unwrap().contains("cleanup"));
        assert_eq!(verdict(&checks), Posture::NeedsAttention);
        e.backup_ok.insert("backup_x".into(), false);
        assert_eq!(verdict(&others(&e)), Posture::Critical);
    }

    #[test]
    fn validation_and_restore_test_are_judged_on_what_they_prove() {
        let mut e = evidence(60);
        e.last_validation = validation(
            e.now - Duration::days(STALE_DAYS) - Duration::seconds(1),
            true,
        );
        assert_eq!(status(&e, CheckName::LastValidation), Level::Warn);
        e.last_validation = validation(e.now, false);
        assert_eq!(status(&e, CheckName::LastValidation), Level::Fail);

        // A restore test that failed only on the RPO (an old backup) proves the restore: pass.
        e.last_restore_test = restore_test(e.now, false, true, 3.0);
        assert_eq!(status(&e, CheckName::LastRestoreTest), Level::Pass);
        // A restore slower than the target fails.
        e.last_restore_test = restore_test(e.now, false, true, RTO + 1.0);
        assert_eq!(status(&e, CheckName::LastRestoreTest), Level::Fail);
        // A broken restore fails whatever its time.
        e.last_restore_test = restore_test(e.now, false, false, 1.0);
        assert_eq!(status(&e, CheckName::LastRestoreTest), Level::Fail);
    }

    #[test]
    fn an_unreadable_newest_record_is_never_a_pass() {
        let mut e = evidence(60);
        let unreadable = |what: &str| {
            Some(Err(UnreadableRecord {
                record_id: format!("20260101T000000.000Z_{what}_00000001"),
                reason: "its payload version 9 is newer than this release reads (1)".into(),
            }))
        };
        e.last_validation = unreadable("validation");
        e.last_restore_test = unreadable("restore-test");
        let checks = posture_checks(&e, RTO, RPO);
        for name in [CheckName::LastValidation, CheckName::LastRestoreTest] {
            let c = checks.iter().find(|c| c.name == name).expect("the check");
            assert_eq!(c.status, Level::Warn, "{name:?}");
            assert!(c.detail.contains("version 9 is newer"), "{}", c.detail);
        }
    }

    #[test]
    fn an_old_key_warns() {
        let mut e = evidence(60);
        assert_eq!(status(&e, CheckName::KeyAge), Level::Pass);
        e.repo_created = Some(e.now - Duration::days(MAX_KEY_AGE_DAYS + 1));
        assert_eq!(status(&e, CheckName::KeyAge), Level::Warn);
        e.encrypted = false;
        assert_eq!(status(&e, CheckName::KeyAge), Level::Warn);
    }
}
