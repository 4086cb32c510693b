//! The daemon's jobs and when they are due (pure: no I/O, no clock of its own): every enabled
//! schedule of the settings as a [`Job`], the order jobs due together run in, and the catch-up
//! rule (a job whose slots passed while the daemon was down runs once, for the newest slot).

use chrono::{DateTime, Utc};

use crate::ops::daemon_state::DaemonState;
use crate::repo::BackupType;
use crate::repo::kind::ValidationLevel;
use crate::settings::{Schedule, Settings};

/// What a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobKind {
    /// A backup of this type (then cleanup, when `daemon.cleanup_after_backup`).
    Backup(BackupType),
    /// `validate` of every backup at this level (`daemon.validation`).
    Validation(ValidationLevel),
    /// `restore-test run` (`disaster_recovery.automated_tests`).
    RestoreTest,
    /// `drill run --scheduled` (`disaster_recovery.drills`).
    Drills,
}

impl JobKind {
    /// The order jobs due at the same instant run in: backups first (archival, full, then
    /// incremental, so an incremental builds on a full made at the same time), then the
    /// validation, the restore test, and the drills, each of which reads the new backups.
    fn rank(self) -> u8 {
        match self {
            JobKind::Backup(BackupType::Archival) => 0,
            JobKind::Backup(BackupType::Full) => 1,
            JobKind::Backup(BackupType::Incremental) => 2,
            JobKind::Validation(_) => 3,
            JobKind::RestoreTest => 4,
            JobKind::Drills => 5,
        }
    }
}

/// One scheduled job.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The backup schedule's name, `validation`, `automated_tests` or `drills`: the key of the
    /// job in the state file, in `/metrics` and in alerts.
    pub name: String,
    pub kind: JobKind,
    pub schedule: Schedule,
}

/// The enabled jobs of the settings (disabled ones are not jobs; `schedule show` lists them).
pub fn jobs(s: &Settings) -> Vec<Job> {
    let mut jobs = Vec::new();
    if s.backup.enabled {
        for (name, b) in &s.backup.schedules {
            if b.enabled {
                jobs.push(Job {
                    name: name.clone(),
                    kind: JobKind::Backup(b.backup_type.into()),
                    schedule: b.schedule,
                });
            }
        }
    }
    let v = &s.daemon.validation;
    if v.enabled {
        jobs.push(Job {
            name: "validation".into(),
            kind: JobKind::Validation(v.level),
            schedule: v.schedule,
        });
    }
    let at = &s.disaster_recovery.automated_tests;
    if at.enabled {
        jobs.push(Job {
            name: "automated_tests".into(),
            kind: JobKind::RestoreTest,
            schedule: at.schedule,
        });
    }
    let d = &s.disaster_recovery.drills;
    if d.enabled && !d.scenarios.is_empty() {
        jobs.push(Job {
            name: "drills".into(),
            kind: JobKind::Drills,
            schedule: d.schedule,
        });
    }
    jobs
}

/// A job that is due: the slot it runs for, and the older slots folded into it.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    pub job: Job,
    /// The newest scheduled instant at or before now that has not run.
    pub slot: DateTime<Utc>,
    /// Slots before `slot` that passed without a run (the daemon was down or busy): counted,
    /// not run.
    pub missed: u64,
}

/// The jobs due at `now`, in the order they run (slot, then [`JobKind::rank`], then name).
///
/// A job is due when its newest slot at or before `now` is later than the slot it last ran for.
/// A job the state has never seen is not due for slots before `since` (the first start of a
/// daemon runs nothing it was never there to miss); it records `since` as its baseline instead.
pub fn due(
    jobs: &[Job],
    state: &DaemonState,
    now: DateTime<Utc>,
    since: DateTime<Utc>,
) -> Vec<Due> {
    let mut due: Vec<Due> = jobs
        .iter()
        .filter_map(|job| {
            let slot = job.schedule.last_at_or_before(now)?;
            let last = state
                .job(&job.name)
                .and_then(|j| j.last_slot)
                .unwrap_or(since);
            (slot > last).then(|| Due {
                job: job.clone(),
                slot,
                missed: job
                    .schedule
                    .runs_between(last, slot, 10_000)
                    .saturating_sub(1),
            })
        })
        .collect();
    due.sort_by(|a, b| {
        a.slot
            .cmp(&b.slot)
            .then(a.job.kind.rank().cmp(&b.job.kind.rank()))
            .then_with(|| a.job.name.cmp(&b.job.name))
    });
    due
}

/// The soonest run of any job strictly after `now`.
pub fn next_wakeup(jobs: &[Job], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    jobs.iter().filter_map(|j| j.schedule.next_after(now)).min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::daemon_state::JobState;
    use crate::settings::Repeat;
    use chrono::{NaiveTime, Weekday};

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn job(name: &str, kind: JobKind, h: u32, m: u32, repeat: Repeat, tz: chrono_tz::Tz) -> Job {
        Job {
            name: name.into(),
            kind,
            schedule: Schedule {
                time: NaiveTime::from_hms_opt(h, m, 0).unwrap(),
                timezone: tz,
                repeat,
            },
        }
    }

    fn ran(state: &mut DaemonState, name: &str, slot: &str) {
        state.jobs.insert(
            name.into(),
            JobState {
                last_slot: Some(utc(slot)),
                ..Default::default()
            },
        );
    }

    const UTC: chrono_tz::Tz = chrono_tz::Tz::UTC;

    #[test]
    fn a_job_fires_at_its_instant_not_before() {
        let daily = job(
            "daily_incremental",
            JobKind::Backup(BackupType::Incremental),
            2,
            0,
            Repeat::Daily,
            UTC,
        );
        let mut st = DaemonState::new();
        ran(&mut st, "daily_incremental", "2026-03-10T02:00:00Z");
        let since = utc("2026-03-10T12:00:00Z");
        let jobs = [daily];
        assert!(due(&jobs, &st, utc("2026-03-11T01:59:59Z"), since).is_empty());
        let d = due(&jobs, &st, utc("2026-03-11T02:00:00Z"), since);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].slot, utc("2026-03-11T02:00:00Z"));
        assert_eq!(d[0].missed, 0);
        assert_eq!(
            next_wakeup(&jobs, utc("2026-03-11T01:00:00Z")),
            Some(utc("2026-03-11T02:00:00Z"))
        );
    }

    #[test]
    fn missed_slots_are_caught_up_once_for_the_newest() {
        let daily = job(
            "daily_incremental",
            JobKind::Backup(BackupType::Incremental),
            2,
            0,
            Repeat::Daily,
            UTC,
        );
        let mut st = DaemonState::new();
        // Down from the 10th to the 14th at noon: four slots passed (11th..14th).
        ran(&mut st, "daily_incremental", "2026-03-10T02:00:00Z");
        let now = utc("2026-03-14T12:00:00Z");
        let d = due(std::slice::from_ref(&daily), &st, now, now);
        assert_eq!(d.len(), 1, "one run, not one per missed slot");
        assert_eq!(d[0].slot, utc("2026-03-14T02:00:00Z"));
        assert_eq!(d[0].missed, 3);
        // Once it ran for that slot, nothing is due until the next one.
        ran(&mut st, "daily_incremental", "2026-03-14T02:00:00Z");
        assert!(due(std::slice::from_ref(&daily), &st, now, now).is_empty());
    }

    #[test]
    fn a_first_start_runs_nothing_it_was_not_there_to_miss() {
        let daily = job("d", JobKind::RestoreTest, 2, 0, Repeat::Daily, UTC);
        let st = DaemonState::new();
        let start = utc("2026-03-14T12:00:00Z");
        assert!(due(std::slice::from_ref(&daily), &st, start, start).is_empty());
        let d = due(
            std::slice::from_ref(&daily),
            &st,
            utc("2026-03-15T02:00:00Z"),
            start,
        );
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].missed, 0);
    }

    #[test]
    fn jobs_due_together_run_backups_first_full_before_incremental() {
        let at = |name: &str, kind| job(name, kind, 3, 0, Repeat::Weekly(Weekday::Sun), UTC);
        let jobs = vec![
            at("drills", JobKind::Drills),
            at("automated_tests", JobKind::RestoreTest),
            at("daily", JobKind::Backup(BackupType::Incremental)),
            at("validation", JobKind::Validation(ValidationLevel::Full)),
            at("weekly_full", JobKind::Backup(BackupType::Full)),
            at("monthly", JobKind::Backup(BackupType::Archival)),
        ];
        let since = utc("2026-03-01T00:00:00Z");
        let names: Vec<String> = due(
            &jobs,
            &DaemonState::new(),
            utc("2026-03-08T03:00:00Z"),
            since,
        )
        .into_iter()
        .map(|d| d.job.name)
        .collect();
        assert_eq!(
            names,
            [
                "monthly",
                "weekly_full",
                "daily",
                "validation",
                "automated_tests",
                "drills"
            ]
        );
        // An older slot runs before a newer one whatever the kinds.
        let mut st = DaemonState::new();
        ran(&mut st, "drills", "2026-03-01T03:00:00Z");
        let early = job("drills", JobKind::Drills, 1, 0, Repeat::Daily, UTC);
        let late = job(
            "full",
            JobKind::Backup(BackupType::Full),
            2,
            0,
            Repeat::Daily,
            UTC,
        );
        let d = due(&[late, early], &st, utc("2026-03-02T02:30:00Z"), since);
        assert_eq!(d[0].job.name, "drills");
    }

    #[test]
    fn daylight_saving_changes_move_the_instant_not_the_local_time() {
        // Europe/Berlin springs forward on 2026-03-29 at 02:00 local (01:00 UTC): a job at
        // 02:30 runs when the clocks jump (03:00 CEST = 01:00 UTC); the day after, 02:30 CEST.
        let berlin = chrono_tz::Europe::Berlin;
        let j = job("d", JobKind::RestoreTest, 2, 30, Repeat::Daily, berlin);
        let mut st = DaemonState::new();
        ran(&mut st, "d", "2026-03-28T01:30:00Z");
        let since = utc("2026-03-28T12:00:00Z");
        let jobs = [j];
        assert!(due(&jobs, &st, utc("2026-03-29T00:59:59Z"), since).is_empty());
        let d = due(&jobs, &st, utc("2026-03-29T01:00:00Z"), since);
        assert_eq!(d[0].slot, utc("2026-03-29T01:00:00Z"));
        ran(&mut st, "d", "2026-03-29T01:00:00Z");
        assert_eq!(
            next_wakeup(&jobs, utc("2026-03-29T01:00:00Z")),
            Some(utc("2026-03-30T00:30:00Z"))
        );
        // Autumn: 2026-10-25 02:30 happens twice; the job runs once, at the first (00:30 UTC).
        ran(&mut st, "d", "2026-10-24T00:30:00Z");
        let d = due(&jobs, &st, utc("2026-10-25T01:45:00Z"), since);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].slot, utc("2026-10-25T00:30:00Z"));
        ran(&mut st, "d", "2026-10-25T00:30:00Z");
        assert!(due(&jobs, &st, utc("2026-10-25T01:45:00Z"), since).is_empty());
        // New York: a monthly job on day 31 runs on the last day of shorter months.
        let ny = job(
            "m",
            JobKind::Backup(BackupType::Archival),
            4,
            0,
            Repeat::Monthly(31),
            chrono_tz::America::New_York,
        );
        let mut st = DaemonState::new();
        ran(&mut st, "m", "2026-03-31T08:00:00Z");
        let d = due(
            std::slice::from_ref(&ny),
            &st,
            utc("2026-04-30T08:00:00Z"),
            since,
        );
        assert_eq!(d[0].slot, utc("2026-04-30T08:00:00Z"));
    }
}
