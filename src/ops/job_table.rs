//! The table of scheduled jobs (machinery): every job the settings schedule (backups by type,
//! the validation, automated restore tests, drills) with its next runs, and, from the daemon's
//! state file, its last run, whether its latest scheduled run was missed, and whether the daemon
//! is running. What `schedule show`, the MCP `schedule_status` and the report's Schedules
//! section show; crontab and systemd forms of each schedule for `schedule export`.

use chrono::{DateTime, Timelike, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::daemon_state::{DaemonState, JobResult, JobState, RunningJob};
use crate::settings::{Repeat, Schedule, Settings};

/// One scheduled job.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScheduledJob {
    /// The backup schedule's name, `automated_tests` or `drills`.
    pub name: String,
    /// What it runs, as arguments after `mahavishnu-dr --config FILE`.
    pub command: Vec<String>,
    pub enabled: bool,
    /// "daily at 02:00 UTC" and the like.
    pub cadence: String,
    /// The next runs, soonest first (none when disabled).
    pub next_runs: Vec<DateTime<Utc>>,
    /// The crontab time fields (minute hour day-of-month month day-of-week), in `timezone`.
    pub cron: String,
    /// The systemd timer's `OnCalendar=` value.
    pub on_calendar: String,
    pub timezone: String,
    /// The daemon's last run of this job (from its state file; None when it never ran it).
    pub last_run: Option<LastRun>,
    /// The latest scheduled run at or before now.
    pub latest_slot: Option<DateTime<Utc>>,
    /// The daemon has run with these settings, is not running now, and has not run this job
    /// for its latest slot: that run was missed (a running daemon catches it up once).
    pub missed: bool,
}

/// How the daemon's last run of a job went.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LastRun {
    /// The scheduled instant it ran for.
    pub slot: Option<DateTime<Utc>>,
    pub started: Option<DateTime<Utc>>,
    pub finished: Option<DateTime<Utc>>,
    pub result: Option<JobResult>,
    /// The backup made, or why it failed.
    pub detail: Option<String>,
    pub attempts: u32,
    pub last_success: Option<DateTime<Utc>>,
    pub successes_total: u64,
    pub failures_total: u64,
    /// Scheduled runs that were missed (the daemon was down or busy) and folded into a
    /// catch-up run.
    pub missed_total: u64,
}

impl From<&JobState> for LastRun {
    fn from(j: &JobState) -> Self {
        LastRun {
            slot: j.last_slot,
            started: j.last_started,
            finished: j.last_finished,
            result: j.last_result,
            detail: j.last_detail.clone(),
            attempts: j.last_attempts,
            last_success: j.last_success,
            successes_total: j.successes_total,
            failures_total: j.failures_total,
            missed_total: j.missed_total,
        }
    }
}

/// Continuous protection: its settings, and the daemon's last point.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ContinuousStatus {
    /// `backup.continuous.enabled` (and backups are).
    pub enabled: bool,
    pub debounce_seconds: u64,
    pub max_delay_seconds: u64,
    pub keep_hours: u64,
    /// The path sources it covers, by stored name (empty when disabled or misconfigured).
    pub covered: Vec<String>,
    /// Why the covered sources could not be worked out (a path that is not a source).
    pub problem: Option<String>,
}

/// Continuous protection as the settings say (its last point is the daemon's:
/// [`DaemonSummary::last_point`]).
pub fn continuous_status(s: &crate::settings::LoadedSettings) -> ContinuousStatus {
    let b = &s.settings.backup;
    let c = &b.continuous;
    let enabled = c.enabled && b.enabled;
    let (covered, problem) = if enabled {
        match s.continuous_sources() {
            Ok(v) => (v.into_iter().map(|(_, stored)| stored).collect(), None),
            Err(e) => (Vec::new(), Some(e.message)),
        }
    } else {
        (Vec::new(), None)
    };
    ContinuousStatus {
        enabled,
        debounce_seconds: c.debounce_seconds,
        max_delay_seconds: c.max_delay_seconds,
        keep_hours: c.keep_hours,
        covered,
        problem,
    }
}

/// The daemon, as its state file tells.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DaemonSummary {
    /// A daemon is running now (its process is alive and has not stopped).
    pub running: bool,
    pub pid: Option<u32>,
    pub started_at: Option<DateTime<Utc>>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// When it last wrote its state.
    pub updated_at: Option<DateTime<Utc>>,
    /// The job it is running now.
    pub running_job: Option<RunningJob>,
    /// The cleanup after the last scheduled backup.
    pub last_cleanup: Option<LastRun>,
    /// Continuous protection's last point: its result and what it made or why it failed; the
    /// counters count points made and failed.
    pub last_point: Option<LastRun>,
    /// Where the state file is.
    pub state_file: String,
}

/// Crontab time fields of a schedule (in its own time zone). A monthly day past 28 is written
/// as is: cron skips the months without it, where this tool runs on the last day.
pub(crate) fn cron_fields(s: &Schedule) -> String {
    let (m, h) = (s.time.minute(), s.time.hour());
    match s.repeat {
        Repeat::Daily => format!("{m} {h} * * *"),
        Repeat::Weekly(w) => format!("{m} {h} * * {}", w.num_days_from_sunday()),
        Repeat::Monthly(d) => format!("{m} {h} {d} * *"),
    }
}

/// A systemd calendar expression; a monthly day past 28 is the month's last day (`~01`), as
/// this tool runs it.
pub(crate) fn on_calendar(s: &Schedule) -> String {
    let at = format!("{} {}", s.time.format("%H:%M:00"), s.timezone.name());
    match s.repeat {
        Repeat::Daily => format!("*-*-* {at}"),
        Repeat::Weekly(w) => format!("{w} *-*-* {at}"),
        Repeat::Monthly(d) if d > 28 => format!("*-*~01 {at}"),
        Repeat::Monthly(d) => format!("*-*-{d:02} {at}"),
    }
}

fn job(
    name: &str,
    command: &[&str],
    enabled: bool,
    s: &Schedule,
    count: usize,
    now: DateTime<Utc>,
) -> ScheduledJob {
    let mut next_runs = Vec::new();
    let mut t = now;
    while enabled && next_runs.len() < count {
        match s.next_after(t) {
            Some(n) => {
                next_runs.push(n);
                t = n;
            }
            None => break,
        }
    }
    ScheduledJob {
        name: name.to_string(),
        command: command.iter().map(|c| c.to_string()).collect(),
        enabled,
        cadence: s.cadence(),
        latest_slot: if enabled {
            s.last_at_or_before(now)
        } else {
            None
        },
        missed: false,
        next_runs,
        cron: cron_fields(s),
        on_calendar: on_calendar(s),
        timezone: s.timezone.name().to_string(),
        last_run: None,
    }
}

fn summary(state: &DaemonState, state_file: String) -> DaemonSummary {
    let running = state.daemon_running();
    DaemonSummary {
        running,
        pid: state.pid,
        started_at: state.started_at,
        stopped_at: state.stopped_at,
        updated_at: state.updated_at,
        running_job: state.running.clone().filter(|_| running),
        last_cleanup: state.job("cleanup").map(LastRun::from),
        last_point: state
            .job(super::daemon_state::CONTINUOUS_JOB)
            .filter(|j| j.last_started.is_some())
            .map(LastRun::from),
        state_file,
    }
}

/// The jobs, soonest first (disabled ones last), each with up to `count` next runs after
/// `now`, and the daemon's state when a daemon has run with these settings.
pub fn job_table(
    s: &Settings,
    req_count: usize,
    now: DateTime<Utc>,
) -> (Vec<ScheduledJob>, Option<DaemonSummary>) {
    let mut jobs: Vec<ScheduledJob> = s
        .backup
        .schedules
        .iter()
        .map(|(name, b)| {
            let t = crate::repo::BackupType::from(b.backup_type);
            job(
                name,
                &["backup", "run", "--scheduled", "--backup-type", t.as_str()],
                s.backup.enabled && b.enabled,
                &b.schedule,
                req_count,
                now,
            )
        })
        .collect();
    let v = &s.daemon.validation;
    jobs.push(job(
        "validation",
        &["backup", "validate", "--level", v.level.as_str()],
        v.enabled,
        &v.schedule,
        req_count,
        now,
    ));
    let at = &s.disaster_recovery.automated_tests;
    jobs.push(job(
        "automated_tests",
        &["restore-test", "run"],
        at.enabled,
        &at.schedule,
        req_count,
        now,
    ));
    let d = &s.disaster_recovery.drills;
    jobs.push(job(
        "drills",
        &["drill", "run", "--scheduled"],
        d.enabled && !d.scenarios.is_empty(),
        &d.schedule,
        req_count,
        now,
    ));
    jobs.sort_by(|a, b| match (a.next_runs.first(), b.next_runs.first()) {
        (Some(x), Some(y)) => x.cmp(y).then_with(|| a.name.cmp(&b.name)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.name.cmp(&b.name),
    });
    let state_dir = &s.daemon.state_dir;
    let daemon = DaemonState::path(state_dir)
        .exists()
        .then(|| DaemonState::load_readonly(state_dir))
        .flatten();
    if let Some(state) = &daemon {
        let running = state.daemon_running();
        for j in &mut jobs {
            let js = state.job(&j.name);
            j.last_run = js.filter(|js| js.last_started.is_some()).map(LastRun::from);
            let ran_for = js.and_then(|js| js.last_slot);
            j.missed = !running
                && match (j.latest_slot, ran_for) {
                    (Some(latest), Some(ran)) => latest > ran,
                    _ => false,
                };
        }
    }
    (
        jobs,
        daemon.map(|st| summary(&st, DaemonState::path(state_dir).display().to_string())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, Weekday};

    fn at(h: u32, m: u32, repeat: Repeat, tz: chrono_tz::Tz) -> Schedule {
        Schedule {
            time: NaiveTime::from_hms_opt(h, m, 0).unwrap(),
            timezone: tz,
            repeat,
        }
    }

    #[test]
    fn cron_and_calendar_say_the_same_times() {
        let utc = chrono_tz::Tz::UTC;
        let daily = at(2, 0, Repeat::Daily, utc);
        assert_eq!(cron_fields(&daily), "0 2 * * *");
        assert_eq!(on_calendar(&daily), "*-*-* 02:00:00 UTC");
        let weekly = at(
            3,
            30,
            Repeat::Weekly(Weekday::Sun),
            chrono_tz::Europe::Berlin,
        );
        assert_eq!(cron_fields(&weekly), "30 3 * * 0");
        assert_eq!(on_calendar(&weekly), "Sun *-*-* 03:30:00 Europe/Berlin");
        let monthly = at(4, 0, Repeat::Monthly(1), utc);
        assert_eq!(cron_fields(&monthly), "0 4 1 * *");
        assert_eq!(on_calendar(&monthly), "*-*-01 04:00:00 UTC");
        let last = at(4, 0, Repeat::Monthly(31), utc);
        assert_eq!(on_calendar(&last), "*-*~01 04:00:00 UTC");
    }
}
