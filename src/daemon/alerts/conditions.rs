//! The conditions alerts are raised for, from typed data: the daemon's job results (a backup
//! that failed after every attempt, a validation, restore test or drill that failed), and what
//! the ops layer's `backup status` says of the repository (the newest backup's age against the
//! RPO target and against its schedule, each replica's lag, whether the repository answers).
//!
//! [`evaluate`] gathers the data; [`job_conditions`] and [`repository_conditions`] are the pure
//! rules (thresholds to conditions), tested with fixed times.

use chrono::{DateTime, Utc};

use super::Condition;
use crate::ops::Dr;
use crate::ops::daemon_state::{DaemonState, JobResult, JobState};
use crate::ops::replication::ReplicaLag;
use crate::ops::status::{StatusOptions, StatusResponse};
use crate::present;

/// Key of the repository-unreachable condition.
pub const REPOSITORY_UNREACHABLE: &str = "repository_unreachable";
/// Key of "the newest backup is older than the RPO target".
pub const NEWEST_BACKUP_OVER_RPO: &str = "newest_backup_over_rpo";
/// Key of "the newest backup is older than twice its schedule's interval".
pub const NEWEST_BACKUP_OVERDUE: &str = "newest_backup_overdue";

/// The condition key of a job's failure: `job_failed:<job>`.
pub fn job_key(job: &str) -> String {
    format!("job_failed:{job}")
}

/// The condition key of a replica's lag: `replica_lag:<name>`.
pub fn replica_key(name: &str) -> String {
    format!("replica_lag:{name}")
}

/// Every condition now: the jobs' from `state`, the repository's from `dr.status`. When the
/// repository cannot be read, only that is said of it (the age and lag conditions are left out,
/// so their incidents stay as they are).
///
/// `recorded_until`: the instant up to which continuous protection has recorded every change
/// (now, when no point is owed; else its last point's), which bounds the loss as a backup does.
pub async fn evaluate(
    dr: &Dr,
    state: &DaemonState,
    now: DateTime<Utc>,
    recorded_until: Option<DateTime<Utc>>,
) -> Vec<Condition> {
    let settings = &dr.settings().settings;
    let backup_jobs: Vec<String> = settings.backup.schedules.keys().cloned().collect();
    let mut out = job_conditions(state, &backup_jobs);
    let status = dr.status(&StatusOptions::default()).await;
    let observed = match &status {
        Ok(s) => Ok(Observed {
            recorded_until,
            ..Observed::from_status(s, settings.disaster_recovery.rpo_target_minutes)
        }),
        Err(e) => Err(match &e.guidance {
            Some(g) => format!("{}; {g}", e.message),
            None => e.message.clone(),
        }),
    };
    out.extend(repository_conditions(&observed, now));
    out
}

/// What kind of job a job name is, for the words of its alert.
fn job_words(job: &str, backup_jobs: &[String]) -> (String, &'static str) {
    if backup_jobs.iter().any(|b| b == job) {
        (
            format!("backup {job}"),
            "see the daemon's log for the error, fix it, then run `mahavishnu-dr backup run`",
        )
    } else {
        match job {
            "validation" => (
                "validation".to_string(),
                "run `mahavishnu-dr backup validate --level full` to see each problem",
            ),
            "automated_tests" => (
                "restore test".to_string(),
                "run `mahavishnu-dr restore-test report` for the reasons",
            ),
            "drills" => (
                "drill".to_string(),
                "run `mahavishnu-dr drill report` for the findings",
            ),
            "cleanup" => (
                "cleanup after a backup".to_string(),
                "run `mahavishnu-dr backup cleanup --dry-run` to see what it would do, and fix \
                 what it reports",
            ),
            other => (format!("job {other}"), "see the daemon's log"),
        }
    }
}

/// A failed job is an active condition, a succeeded one inactive; a job that was cancelled,
/// skipped or never ran says nothing.
pub fn job_conditions(state: &DaemonState, backup_jobs: &[String]) -> Vec<Condition> {
    state
        .jobs
        .iter()
        .filter_map(|(name, job)| job_condition(name, job, backup_jobs))
        .collect()
}

fn job_condition(name: &str, job: &JobState, backup_jobs: &[String]) -> Option<Condition> {
    let (what, todo) = job_words(name, backup_jobs);
    match job.last_result? {
        JobResult::Failed => {
            let attempts = if job.last_attempts > 1 {
                format!(" after {} attempts", job.last_attempts)
            } else {
                String::new()
            };
            let mut detail = String::new();
            if let Some(d) = &job.last_detail {
                detail.push_str(d);
                detail.push('\n');
            }
            if let Some(t) = job.last_finished {
                detail.push_str(&format!(
                    "last run ended {}\n",
                    t.format("%Y-%m-%d %H:%M:%S UTC")
                ));
            }
            detail.push_str(todo);
            Some(Condition::active(
                job_key(name),
                format!("{what} failed{attempts}"),
                detail,
            ))
        }
        JobResult::Succeeded => Some(Condition::inactive(
            job_key(name),
            format!("{what} succeeded again"),
        )),
        JobResult::Cancelled | JobResult::Skipped => None,
    }
}

/// What the repository rules read, taken from `backup status`.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    /// `backup.enabled`: with backups off no age condition is raised.
    pub backups_enabled: bool,
    pub host: String,
    /// This host's newest backup: its id and when it finished.
    pub newest_backup: Option<(String, DateTime<Utc>)>,
    pub rpo_target_seconds: i64,
    /// The enabled backup schedule that runs most often: its name and interval (seconds).
    pub shortest_schedule: Option<(String, i64)>,
    pub replicas: Vec<ReplicaLag>,
    /// Continuous protection has recorded every change up to this instant (None: off).
    pub recorded_until: Option<DateTime<Utc>>,
}

impl Observed {
    pub fn from_status(s: &StatusResponse, rpo_target_minutes: u64) -> Observed {
        let newest = s
            .hosts
            .iter()
            .find(|h| h.this_host)
            .map(|h| (h.newest_backup_id.clone(), h.newest_finished));
        let shortest_schedule = s
            .schedules
            .iter()
            .filter(|n| n.enabled)
            .min_by_key(|n| n.interval_seconds)
            .map(|n| (n.schedule.clone(), n.interval_seconds));
        Observed {
            backups_enabled: s.backups_enabled,
            host: s.this_host.clone(),
            newest_backup: newest,
            rpo_target_seconds: i64::try_from(rpo_target_minutes.saturating_mul(60))
                .unwrap_or(i64::MAX),
            shortest_schedule,
            replicas: s.replicas.clone(),
            recorded_until: None,
        }
    }
}

/// The repository's conditions: unreachable (`Err`: why), else the newest backup's age against
/// the RPO target and against twice its schedule's interval, and each replica's lag against the
/// RPO target (a replica that cannot be read counts as behind: its lag is unknown).
pub fn repository_conditions(
    observed: &Result<Observed, String>,
    now: DateTime<Utc>,
) -> Vec<Condition> {
    let o = match observed {
        Err(why) => {
            return vec![Condition::active(
                REPOSITORY_UNREACHABLE,
                "the repository cannot be read",
                format!(
                    "{why}\nno backup can be made or restored until it can: check the store and \
                     the key, then `mahavishnu-dr backup status`"
                ),
            )];
        }
        Ok(o) => o,
    };
    let mut out = vec![Condition::inactive(
        REPOSITORY_UNREACHABLE,
        "the repository can be read again",
    )];
    let age = o
        .newest_backup
        .as_ref()
        .map(|(id, finished)| (id, (now - *finished).num_seconds().max(0)));
    let newest_words = match &age {
        Some((id, secs)) => format!(
            "the newest backup of {} ({id}) is {} old",
            o.host,
            present::age(*secs)
        ),
        None => format!("{} has no backup in the repository", o.host),
    };
    // Against the RPO target: what a loss now would lose, bounded by the newest backup or by
    // what continuous protection has recorded, whichever is more recent.
    let recorded = o.recorded_until.map(|t| (now - t).num_seconds().max(0));
    let loss = age
        .as_ref()
        .map(|(_, s)| *s)
        .into_iter()
        .chain(recorded)
        .min();
    let newest_words = match recorded {
        Some(r) => format!(
            "{newest_words}, and continuous protection has recorded the changes up to {} ago",
            present::age(r)
        ),
        None => newest_words,
    };
    let over_rpo = o.backups_enabled && loss.is_none_or(|s| s > o.rpo_target_seconds);
    out.push(if over_rpo {
        Condition::active(
            NEWEST_BACKUP_OVER_RPO,
            format!(
                "{}: older than the RPO target of {}",
                newest_words,
                present::age(o.rpo_target_seconds)
            ),
            "a loss now would lose more than the target allows: run `mahavishnu-dr backup run`, \
             and make the schedules (or continuous protection) meet the target (`mahavishnu-dr \
             restore-test measure-rpo` says what would)",
        )
    } else {
        Condition::inactive(
            NEWEST_BACKUP_OVER_RPO,
            "the newest backup is within the RPO target again",
        )
    });
    // Against its schedule: a backup missed twice in a row.
    let overdue = match (&o.shortest_schedule, o.backups_enabled) {
        (Some((name, interval)), true) => age
            .as_ref()
            .is_none_or(|(_, s)| *s > interval.saturating_mul(2))
            .then(|| (name.clone(), *interval)),
        _ => None,
    };
    out.push(match overdue {
        Some((name, interval)) => Condition::active(
            NEWEST_BACKUP_OVERDUE,
            format!(
                "{newest_words}: more than twice the interval of schedule {name} ({})",
                present::age(interval)
            ),
            "scheduled backups are not being made: check that the daemon runs and see its log \
             for each backup's error",
        ),
        None => Condition::inactive(NEWEST_BACKUP_OVERDUE, "backups are made on schedule again"),
    });
    for r in &o.replicas {
        let key = replica_key(&r.name);
        let lag = r.lag_seconds.unwrap_or(0);
        if let Some(e) = &r.error {
            out.push(Condition::active(
                key,
                format!("replica {} cannot be read; its lag is unknown", r.name),
                format!(
                    "{e}\ncheck the store {}, then `mahavishnu-dr replicate --to {}`",
                    r.location, r.name
                ),
            ));
        } else if lag > o.rpo_target_seconds {
            out.push(Condition::active(
                key,
                format!(
                    "replica {} is {} behind, over the RPO target of {}",
                    r.name,
                    present::age(lag),
                    present::age(o.rpo_target_seconds)
                ),
                format!(
                    "it lacks {} backup(s); a failover to it now would lose that much: run \
                     `mahavishnu-dr replicate --to {}`",
                    r.missing, r.name
                ),
            ));
        } else {
            out.push(Condition::inactive(
                key,
                format!("replica {} is within the RPO target again", r.name),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::replication::BackupRef;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn observed(newest: Option<&str>) -> Observed {
        Observed {
            backups_enabled: true,
            host: "h1".into(),
            newest_backup: newest.map(|t| ("b1".to_string(), at(t))),
            rpo_target_seconds: 3600,
            shortest_schedule: Some(("daily_incremental".into(), 86_400)),
            replicas: vec![],
            recorded_until: None,
        }
    }

    /// Continuous protection that has recorded every change lately keeps an old backup from
    /// counting as a loss past the RPO target; one that fell behind does not.
    #[test]
    fn continuous_protection_bounds_the_loss() {
        let now = at("2026-03-10T12:00:00Z");
        let mut o = observed(Some("2026-03-10T02:00:00Z"));
        o.recorded_until = Some(at("2026-03-10T11:59:50Z"));
        let cs = repository_conditions(&Ok(o.clone()), now);
        assert!(!find(&cs, NEWEST_BACKUP_OVER_RPO).active);
        o.recorded_until = Some(at("2026-03-10T10:00:00Z"));
        let cs = repository_conditions(&Ok(o), now);
        let c = find(&cs, NEWEST_BACKUP_OVER_RPO);
        assert!(
            c.active && c.summary.contains("continuous protection"),
            "{c:?}"
        );
    }

    fn find<'a>(cs: &'a [Condition], key: &str) -> &'a Condition {
        cs.iter()
            .find(|c| c.key == key)
            .unwrap_or_else(|| panic!("{key} in {cs:?}"))
    }

    #[test]
    fn age_against_rpo_and_schedule() {
        let now = at("2026-03-10T12:00:00Z");
        // 30 minutes old: within both.
        let cs = repository_conditions(&Ok(observed(Some("2026-03-10T11:30:00Z"))), now);
        assert!(!find(&cs, NEWEST_BACKUP_OVER_RPO).active);
        assert!(!find(&cs, NEWEST_BACKUP_OVERDUE).active);
        assert!(!find(&cs, REPOSITORY_UNREACHABLE).active);
        // One hour and one second: over the RPO target, not overdue.
        let cs = repository_conditions(&Ok(observed(Some("2026-03-10T10:59:59Z"))), now);
        let c = find(&cs, NEWEST_BACKUP_OVER_RPO);
        assert!(c.active);
        assert!(
            c.summary.contains("h1") && c.summary.contains("b1"),
            "{}",
            c.summary
        );
        assert!(!find(&cs, NEWEST_BACKUP_OVERDUE).active);
        // Exactly two days: not yet overdue; a second more is.
        let cs = repository_conditions(&Ok(observed(Some("2026-03-08T12:00:00Z"))), now);
        assert!(!find(&cs, NEWEST_BACKUP_OVERDUE).active);
        let cs = repository_conditions(&Ok(observed(Some("2026-03-08T11:59:59Z"))), now);
        let c = find(&cs, NEWEST_BACKUP_OVERDUE);
        assert!(c.active && c.summary.contains("daily_incremental"), "{c:?}");
        // No backup at all: both.
        let cs = repository_conditions(&Ok(observed(None)), now);
        assert!(find(&cs, NEWEST_BACKUP_OVER_RPO).active);
        assert!(
            find(&cs, NEWEST_BACKUP_OVERDUE)
                .summary
                .contains("no backup")
        );
        // Backups disabled: neither.
        let mut o = observed(None);
        o.backups_enabled = false;
        let cs = repository_conditions(&Ok(o), now);
        assert!(cs.iter().all(|c| !c.active), "{cs:?}");
    }

    #[test]
    fn replica_lag_and_an_unreachable_repository() {
        let now = at("2026-03-10T12:00:00Z");
        let lag = |name: &str, secs: Option<i64>, error: Option<&str>| ReplicaLag {
            name: name.into(),
            location: "local:/r".into(),
            missing: u32::from(secs.is_some_and(|s| s > 0)),
            newest_missing: secs.map(|_| BackupRef {
                backup_id: "b9".into(),
                finished: now,
            }),
            lag_seconds: secs,
            newest_held: None,
            error: error.map(str::to_string),
        };
        let mut o = observed(Some("2026-03-10T11:59:00Z"));
        o.replicas = vec![
            lag("near", Some(3600), None),
            lag("far", Some(3601), None),
            lag("gone", None, Some("connection refused")),
        ];
        let cs = repository_conditions(&Ok(o), now);
        assert!(!find(&cs, "replica_lag:near").active);
        assert!(find(&cs, "replica_lag:far").active);
        let gone = find(&cs, "replica_lag:gone");
        assert!(
            gone.active && gone.detail.contains("connection refused"),
            "{gone:?}"
        );
        // Unreachable: that alone, so the age incidents stay as they were.
        let cs = repository_conditions(&Err("no such bucket".into()), now);
        assert_eq!(cs.len(), 1);
        assert!(cs[0].active && cs[0].detail.contains("no such bucket"));
    }

    /// The glue to the ops layer: a real repository on disk, read through `Dr::status`.
    #[tokio::test]
    async fn evaluate_reads_the_repository_through_status() {
        use crate::ops::{Cancel, NoProgress};
        let (_d, root) = crate::settings::test_support::project(
            "backup:\n  directory: ./repo\n  sources: [./data]\n  encryption: {key_path: ./key}\n  schedules:\n    daily_incremental: {time: \"02:00\"}\n  storage:\n    replicas: [{name: copy, type: local, path: ./replica}]\ndisaster_recovery:\n  rpo_target_minutes: 60\n",
        );
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::write(root.join("data/a.txt"), "a").unwrap();
        let loaded = crate::settings::test_support::load_in(&root, &[]).unwrap();
        let dr = Dr::new(loaded).unwrap();
        let state = DaemonState::new();
        let now = Utc::now();
        // No repository yet: only that is said of it.
        let cs = evaluate(&dr, &state, now, None).await;
        assert!(find(&cs, REPOSITORY_UNREACHABLE).active, "{cs:?}");
        assert!(cs.iter().all(|c| c.key != NEWEST_BACKUP_OVER_RPO), "{cs:?}");
        dr.init(&crate::ops::init::InitOptions { generate_key: true })
            .await
            .unwrap();
        let cs = evaluate(&dr, &state, now, None).await;
        assert!(!find(&cs, REPOSITORY_UNREACHABLE).active);
        assert!(
            find(&cs, NEWEST_BACKUP_OVER_RPO).active,
            "no backup: {cs:?}"
        );
        assert!(find(&cs, NEWEST_BACKUP_OVERDUE).active, "no backup: {cs:?}");
        dr.backup(
            &crate::ops::backup::BackupOptions::default(),
            std::sync::Arc::new(NoProgress),
            &Cancel::new(),
        )
        .await
        .unwrap();
        let now = Utc::now();
        let cs = evaluate(&dr, &state, now, None).await;
        assert!(!find(&cs, NEWEST_BACKUP_OVER_RPO).active, "{cs:?}");
        assert!(!find(&cs, NEWEST_BACKUP_OVERDUE).active, "{cs:?}");
        assert!(
            !find(&cs, "replica_lag:copy").active,
            "copied after the backup: {cs:?}"
        );
        let later = evaluate(&dr, &state, now + chrono::Duration::hours(2), None).await;
        assert!(find(&later, NEWEST_BACKUP_OVER_RPO).active);
        assert!(!find(&later, NEWEST_BACKUP_OVERDUE).active);
        let later = evaluate(&dr, &state, now + chrono::Duration::days(3), None).await;
        assert!(find(&later, NEWEST_BACKUP_OVERDUE).active);
    }

    #[test]
    fn failed_jobs_are_active_and_succeeded_ones_clear() {
        let mut state = DaemonState::new();
        let j = state.job_mut("daily_incremental");
        j.last_result = Some(JobResult::Failed);
        j.last_attempts = 3;
        j.last_detail = Some("disk full".into());
        state.job_mut("automated_tests").last_result = Some(JobResult::Succeeded);
        state.job_mut("drills").last_result = Some(JobResult::Cancelled);
        state.job_mut("validation").last_result = Some(JobResult::Failed);
        state.job_mut("cleanup").last_result = Some(JobResult::Failed);
        let cs = job_conditions(&state, &["daily_incremental".to_string()]);
        let b = find(&cs, "job_failed:daily_incremental");
        assert!(b.active);
        assert_eq!(
            b.summary,
            "backup daily_incremental failed after 3 attempts"
        );
        assert!(b.detail.contains("disk full"));
        assert!(!find(&cs, "job_failed:automated_tests").active);
        let v = find(&cs, "job_failed:validation");
        assert!(v.active && v.detail.contains("backup validate"), "{v:?}");
        assert!(
            cs.iter().all(|c| c.key != "job_failed:drills"),
            "cancelled says nothing"
        );
        let c = find(&cs, "job_failed:cleanup");
        assert_eq!(c.summary, "cleanup after a backup failed");
    }
}
