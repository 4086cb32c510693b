//! RPO analysis (pure: no I/O, the caller gathers the inputs): current RPO, worst gap over a
//! window, and the schedules' implied RPO. `measure-rpo` and the posture evidence use it.
//!
//! Each figure is compared with the RPO target: how much data a loss would cost now, at worst over
//! the window, and at best under the configured schedules.
//!
//! `mahavishnu-dr restore-test measure-rpo [--days N]` (the `rpo` operation) gathers the inputs
//! (the successful backups' finish times and types, `backup` settings,
//! `disaster_recovery.rpo_target_minutes`, the clock) and calls [`analyze_rpo`]. Three figures
//! come out, each compared with the target (a figure equal to the target meets it):
//!
//! - **current RPO**: the age of the newest backup: what an incident now would lose.
//! - **worst gap** over the window `[now - days, now]`: the longest stretch without a new backup,
//!   i.e. the most an incident at any moment of the window would have lost. Gaps are measured
//!   between consecutive backups that finished inside the window, plus the open gap from the
//!   newest backup to now. The stretch before the first backup in the window counts, clipped at
//!   the window start, **only when an older backup exists** (protection was in place and lapsed);
//!   when the repository is younger than the window, measurement starts at its first backup (the
//!   time before any backup existed is not a gap in a backup history). When no backup finished
//!   inside the window but an older one exists, the whole window is one gap.
//! - **implied RPO of the schedules**: the longest interval between consecutive scheduled runs of
//!   all enabled schedules merged, over the next [`SCHEDULE_HORIZON_DAYS`] days (a full year:
//!   every month length, month-end clamping and both daylight-saving changes occur in it). It is
//!   the worst-case loss if every scheduled run succeeds: the best the schedules can do. Run times
//!   come from [`crate::schedule`].
//!
//! Backups that finish after `now` (clock skew) are left out and counted.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Advice, Face};
use crate::error::{Error, Result};
use crate::present;
use crate::repo::BackupType;
use crate::repo::manifest::ManifestSummary;
use crate::schedule::{NextRun, next_run, next_runs};
use crate::settings::BackupSettings;

/// The window `measure-rpo` looks back over when `--days` is not given.
pub const DEFAULT_WINDOW_DAYS: i64 = 30;

/// How far ahead scheduled runs are computed for the implied RPO: a year, so that every month
/// length and both daylight-saving changes are covered.
pub const SCHEDULE_HORIZON_DAYS: i64 = 366;

/// A gap longer than the schedule's implied RPO by more than this (seconds) means scheduled runs
/// were missed or failed: room for a backup's own run time and a daylight-saving shift.
const MISSED_RUN_SLACK_SECONDS: i64 = 3600;

/// One successful backup, as the analysis needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BackupPoint {
    /// When the backup finished: the instant its data can be restored to.
    pub finished: DateTime<Utc>,
    pub backup_type: BackupType,
}

impl From<&ManifestSummary> for BackupPoint {
    fn from(s: &ManifestSummary) -> Self {
        BackupPoint {
            finished: s.finished,
            backup_type: s.backup_type,
        }
    }
}

/// Every recovery point of the catalog: its backups and (once loaded) its continuous points.
pub(crate) fn recovery_points(catalog: &crate::repo::catalog::Catalog) -> Vec<BackupPoint> {
    catalog
        .backups
        .iter()
        .chain(&catalog.points)
        .map(BackupPoint::from)
        .collect()
}

/// The RPO achieved and the RPO the schedules allow, against the target.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RpoAnalysis {
    /// The instant every age is measured to.
    pub now: DateTime<Utc>,
    /// `disaster_recovery.rpo_target_minutes`.
    pub rpo_target_minutes: u64,
    /// The target in seconds; a figure at or below it meets it.
    pub rpo_target_seconds: i64,
    /// The target for people ("5 min").
    pub rpo_target: String,
    /// Successful backups finished at or before `now` (all of them, not only the window's).
    pub backups_considered: u64,
    /// Backups whose finish time lies after `now` (a clock is wrong); left out of every figure.
    pub backups_after_now_ignored: u64,
    /// The age of the newest backup.
    pub current: CurrentRpo,
    /// The longest stretch without a new backup over the window.
    pub worst_gap: WindowGaps,
    /// The longest interval between scheduled runs: the RPO the schedules give at best.
    pub schedule: ScheduleRpo,
    /// Whether the schedules, with every run succeeding, keep the loss within the target.
    pub schedule_can_meet_target: bool,
    /// Plain-language verdict on the schedules: how often they run and, when that cannot meet
    /// the target, what would.
    pub statement: String,
    /// What to do, most urgent first; empty when everything meets the target.
    pub recommendations: Vec<String>,
    /// The recommendations as typed advice, which `recommendations` words for the command line
    /// ([`RpoAnalysis::for_face`] words them for another face).
    #[serde(skip)]
    #[schemars(skip)]
    pub advice: Vec<Advice>,
    /// True when the current RPO, the worst gap and the schedules all meet the target.
    pub passed: bool,
    /// One line per figure (current RPO, worst gap, schedules) saying how it compares with the
    /// target.
    pub reasons: Vec<String>,
}

/// The current RPO: what an incident now would lose.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CurrentRpo {
    /// When the newest successful backup finished; None when there is none.
    pub newest_backup: Option<DateTime<Utc>>,
    pub newest_backup_type: Option<BackupType>,
    /// Seconds from the newest backup to now; None when there is no backup.
    pub age_seconds: Option<i64>,
    /// The age for people ("3 h 12 min").
    pub age: Option<String>,
    /// The age is at most the target (false when there is no backup).
    pub passed: bool,
    pub detail: String,
}

/// Gaps between successful backups over the window `[window_start, window_end]`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct WindowGaps {
    pub window_days: i64,
    /// `now - window_days`.
    pub window_start: DateTime<Utc>,
    /// `now`.
    pub window_end: DateTime<Utc>,
    /// Backups that finished inside the window.
    pub backups_in_window: u64,
    /// Whether a backup older than the window exists; if so the stretch from the window start
    /// to the first backup in it counts as a gap (clipped at the window start).
    pub older_backups_exist: bool,
    /// Where measurement starts: the window start when older backups exist, else the first
    /// backup in the window; None when there is no backup at all.
    pub measured_from: Option<DateTime<Utc>>,
    /// How many gaps were compared, the open gap to now included.
    pub gaps_measured: u64,
    /// The longest gap (the earliest of equal ones); None when there is no backup at all.
    pub worst: Option<Gap>,
    /// The worst gap is at most the target (false when there is no backup).
    pub passed: bool,
    /// What was measured, in words (says so when fewer than two backups leave little to measure).
    pub detail: String,
}

/// One stretch of time without a new backup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Gap {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// `end - start` in seconds.
    pub seconds: i64,
    /// The length for people ("1 d 6 h").
    pub duration: String,
    /// What the gap starts at: a backup, or the window start (clipped).
    pub starts_at: GapBoundary,
    /// What the gap ends at: a backup, or now (the open gap).
    pub ends_at: GapBoundary,
    /// The type of the backup at the start, when it starts at one.
    pub start_backup_type: Option<BackupType>,
    /// The type of the backup at the end, when it ends at one.
    pub end_backup_type: Option<BackupType>,
}

/// What one end of a gap is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum GapBoundary {
    /// A successful backup finished here.
    Backup,
    /// The window's start: an older backup exists, and the gap is clipped to the window.
    WindowStart,
    /// Now: the open gap since the newest backup.
    Now,
}

/// The RPO the configured schedules give if every run succeeds.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleRpo {
    /// `backup.enabled`: when false, scheduled runs are skipped and the schedules give nothing.
    pub backups_enabled: bool,
    /// Every configured schedule (disabled ones too), soonest first.
    pub schedules: Vec<NextRun>,
    /// Scheduled runs are computed over `(horizon_start, horizon_end]`.
    pub horizon_start: DateTime<Utc>,
    pub horizon_end: DateTime<Utc>,
    pub horizon_days: i64,
    /// Distinct run instants in the horizon, all enabled schedules merged (runs of several
    /// schedules at the same instant count once).
    pub scheduled_runs: u64,
    /// The longest interval between consecutive runs, in seconds; None when no schedule runs.
    pub implied_rpo_seconds: Option<i64>,
    /// The implied RPO for people ("1 d 0 h").
    pub implied_rpo: Option<String>,
    /// The longest interval (the earliest of equal ones) and the schedules at its ends.
    pub longest_interval: Option<ScheduledInterval>,
    /// The implied RPO is at most the target (false when no schedule runs).
    pub passed: bool,
    pub detail: String,
}

/// An interval between two consecutive scheduled runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ScheduledInterval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub seconds: i64,
    /// The schedules that run at `start`.
    pub start_schedules: Vec<String>,
    /// The schedules that run at `end`.
    pub end_schedules: Vec<String>,
}

/// Analyse the RPO achieved by `backups` (successful ones, any order) over the last
/// `window_days` days up to `now`, and the RPO the schedules in `backup` give at best, against
/// `rpo_target_minutes`.
///
/// Errors: `window_days < 1` or a zero target is a usage error.
pub fn analyze_rpo(
    now: DateTime<Utc>,
    backups: &[BackupPoint],
    window_days: i64,
    backup: &BackupSettings,
    rpo_target_minutes: u64,
) -> Result<RpoAnalysis> {
    let target = target_seconds(rpo_target_minutes)?;
    let (mut past, future): (Vec<BackupPoint>, Vec<BackupPoint>) =
        backups.iter().copied().partition(|b| b.finished <= now);
    past.sort_by_key(|b| b.finished);

    let current = current_rpo(now, &past, target);
    let worst_gap = window_gaps(now, &past, window_days, target)?;
    let schedule = schedule_rpo(backup, now, target)?;
    let schedule_can_meet_target = schedule.passed;
    let target_text = present::age(target);
    let statement = statement(backup, &schedule, target, &target_text);

    let advice = recommendations(
        &current,
        &worst_gap,
        &schedule,
        target,
        &target_text,
        future.len(),
    );
    let reasons = vec![
        format!("current RPO: {}", current.detail),
        format!("worst gap: {}", gap_reason(&worst_gap, &target_text)),
        format!("schedules: {statement}"),
    ];
    Ok(RpoAnalysis {
        now,
        rpo_target_minutes,
        rpo_target_seconds: target,
        rpo_target: target_text,
        backups_considered: past.len() as u64,
        backups_after_now_ignored: future.len() as u64,
        passed: current.passed && worst_gap.passed && schedule_can_meet_target,
        current,
        worst_gap,
        schedule,
        schedule_can_meet_target,
        statement,
        recommendations: advice.iter().map(|a| a.render(Face::Cli)).collect(),
        advice,
        reasons,
    })
}

impl RpoAnalysis {
    /// The recommendations worded for `face` (tool calls for the MCP server).
    pub fn for_face(mut self, face: Face) -> Self {
        self.recommendations = self.advice.iter().map(|a| a.render(face)).collect();
        self
    }
}

fn target_seconds(minutes: u64) -> Result<i64> {
    if minutes < 1 {
        return Err(
            Error::usage("the RPO target must be at least 1 minute, got 0")
                .with_guidance("set disaster_recovery.rpo_target_minutes to 1 or more"),
        );
    }
    i64::try_from(minutes)
        .ok()
        .and_then(|m| m.checked_mul(60))
        .ok_or_else(|| {
            Error::usage(format!("the RPO target of {minutes} minutes is too large")).with_guidance(
                "set disaster_recovery.rpo_target_minutes to a realistic number of minutes",
            )
        })
}

/// An instant in a sentence (see [`present::timestamp`]).
fn at(t: DateTime<Utc>) -> String {
    present::timestamp(t)
}

fn within(seconds: i64, target: i64) -> &'static str {
    if seconds <= target {
        "within"
    } else {
        "beyond"
    }
}

/// `past` is sorted and holds only backups finished at or before `now`.
fn current_rpo(now: DateTime<Utc>, past: &[BackupPoint], target: i64) -> CurrentRpo {
    let target_text = present::age(target);
    match past.last() {
        None => CurrentRpo {
            newest_backup: None,
            newest_backup_type: None,
            age_seconds: None,
            age: None,
            passed: false,
            detail: "no successful backup exists: an incident now would lose everything"
                .to_string(),
        },
        Some(b) => {
            let age = (now - b.finished).num_seconds();
            CurrentRpo {
                newest_backup: Some(b.finished),
                newest_backup_type: Some(b.backup_type),
                age_seconds: Some(age),
                age: Some(present::age(age)),
                passed: age <= target,
                detail: format!(
                    "the newest backup ({}, {}) is {} old, {} the target of {target_text}",
                    b.backup_type,
                    at(b.finished),
                    present::age(age),
                    within(age, target)
                ),
            }
        }
    }
}

/// `past` is sorted and holds only backups finished at or before `now`.
fn window_gaps(
    now: DateTime<Utc>,
    past: &[BackupPoint],
    window_days: i64,
    target: i64,
) -> Result<WindowGaps> {
    if window_days < 1 {
        return Err(Error::usage(format!(
            "the measurement window must be at least 1 day, got {window_days}"
        ))
        .with_next(Advice::step(
            Action::WithOption {
                name: "days",
                value: "1".into(),
            },
            "or more (default 30)",
        )));
    }
    let window_start = TimeDelta::try_days(window_days)
        .and_then(|d| now.checked_sub_signed(d))
        .ok_or_else(|| {
            Error::usage(format!(
                "the measurement window of {window_days} days reaches before the supported date range"
            ))
            .with_guidance("give a smaller window of days")
        })?;
    let older_backups_exist = past.iter().any(|b| b.finished < window_start);
    let inside: Vec<&BackupPoint> = past.iter().filter(|b| b.finished >= window_start).collect();

    // The boundaries of the gaps, in time order.
    let mut edges: Vec<(DateTime<Utc>, GapBoundary, Option<BackupType>)> = Vec::new();
    if older_backups_exist {
        edges.push((window_start, GapBoundary::WindowStart, None));
    }
    edges.extend(
        inside
            .iter()
            .map(|b| (b.finished, GapBoundary::Backup, Some(b.backup_type))),
    );
    if !edges.is_empty() {
        edges.push((now, GapBoundary::Now, None));
    }

    let mut worst: Option<Gap> = None;
    for pair in edges.windows(2) {
        let [(start, starts_at, start_type), (end, ends_at, end_type)] = pair else {
            continue;
        };
        let seconds = (*end - *start).num_seconds();
        if worst.as_ref().is_none_or(|w| seconds > w.seconds) {
            worst = Some(Gap {
                start: *start,
                end: *end,
                seconds,
                duration: present::age(seconds),
                starts_at: *starts_at,
                ends_at: *ends_at,
                start_backup_type: *start_type,
                end_backup_type: *end_type,
            });
        }
    }
    let gaps_measured = edges.len().saturating_sub(1) as u64;
    let n = inside.len();
    let detail = match (n, older_backups_exist) {
        (0, false) => "no successful backup exists: there is no gap to measure, and nothing \
                       could be restored"
            .to_string(),
        (0, true) => format!(
            "no backup finished in the last {window_days} days (the newest is older than the \
             window): the whole window is one gap"
        ),
        (_, true) => format!(
            "{n} backup{} in the last {window_days} days; {gaps_measured} gap{} measured from \
             the window start (older backups exist, so the stretch before the first backup in \
             the window counts, clipped at the window start) to now, the open gap from the \
             newest backup included",
            plural(n),
            plural(gaps_measured as usize)
        ),
        (1, false) => format!(
            "one backup in the last {window_days} days and none before it: the only gap \
             measured is the open one from that backup to now; the time before the first \
             backup is not counted"
        ),
        (_, false) => format!(
            "{n} backups in the last {window_days} days and none before them; \
             {gaps_measured} gaps measured from the first backup (the time before it is not \
             counted) to now, the open gap from the newest backup included"
        ),
    };
    Ok(WindowGaps {
        window_days,
        window_start,
        window_end: now,
        backups_in_window: n as u64,
        older_backups_exist,
        measured_from: edges.first().map(|e| e.0),
        gaps_measured,
        passed: worst.as_ref().is_some_and(|w| w.seconds <= target),
        worst,
        detail,
    })
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn gap_reason(g: &WindowGaps, target_text: &str) -> String {
    match &g.worst {
        None => format!(
            "no successful backup exists, so no gap could be measured; {}",
            g.detail
        ),
        Some(w) => format!(
            "the longest stretch without a new backup in the last {} days was {} (from {} to {}), {} the target of {target_text}",
            g.window_days,
            w.duration,
            at(w.start),
            if w.ends_at == GapBoundary::Now {
                "now".to_string()
            } else {
                at(w.end)
            },
            if g.passed { "within" } else { "beyond" }
        ),
    }
}

fn schedule_rpo(b: &BackupSettings, now: DateTime<Utc>, target: i64) -> Result<ScheduleRpo> {
    let schedules = next_runs(b, now);
    let horizon_end = now
        .checked_add_signed(TimeDelta::days(SCHEDULE_HORIZON_DAYS))
        .ok_or_else(|| {
            Error::internal(format!(
                "{now} plus a year is beyond the supported date range"
            ))
        })?;
    let enabled: Vec<&String> = b
        .schedules
        .iter()
        .filter(|(_, s)| s.enabled)
        .map(|(name, _)| name)
        .collect();

    // Every run instant in the horizon, with the schedules that run then.
    let mut runs: BTreeMap<DateTime<Utc>, Vec<String>> = BTreeMap::new();
    if b.enabled {
        for (name, s) in b.schedules.iter().filter(|(_, s)| s.enabled) {
            let mut after = now;
            while let Some(run) = next_run(name, s, after).next_run {
                if run > horizon_end {
                    break;
                }
                runs.entry(run).or_default().push(name.clone());
                after = run;
            }
        }
    }

    let mut longest: Option<ScheduledInterval> = None;
    for ((start, from), (end, to)) in runs.iter().zip(runs.iter().skip(1)) {
        let seconds = (*end - *start).num_seconds();
        if longest.as_ref().is_none_or(|l| seconds > l.seconds) {
            longest = Some(ScheduledInterval {
                start: *start,
                end: *end,
                seconds,
                start_schedules: from.clone(),
                end_schedules: to.clone(),
            });
        }
    }
    let mut implied = longest.as_ref().map(|l| l.seconds);
    let continuous = b.enabled && b.continuous.enabled;
    if continuous {
        // A point at most max_delay_seconds after a change (plus its own time).
        let bound = b.continuous.max_delay_seconds.min(i64::MAX as u64) as i64;
        implied = Some(implied.map_or(bound, |i| i.min(bound)));
    }
    let detail = match &longest {
        _ if continuous => format!(
            "continuous protection records a point at most {} after a change (plus the \
             point's own time; the daemon must run), between the scheduled backups{}",
            present::age(b.continuous.max_delay_seconds as i64),
            match &longest {
                Some(l) => format!(" (their longest interval: {})", present::age(l.seconds)),
                None => String::new(),
            }
        ),
        _ if !b.enabled => "backup.enabled is false: scheduled runs are skipped".to_string(),
        _ if enabled.is_empty() && b.schedules.is_empty() => {
            "backup.schedules is empty: no backup runs unless started by hand".to_string()
        }
        _ if enabled.is_empty() => {
            "every schedule under backup.schedules is disabled: no backup runs unless started \
             by hand"
                .to_string()
        }
        None => format!(
            "fewer than two scheduled runs in the next {SCHEDULE_HORIZON_DAYS} days: no \
             interval to measure"
        ),
        Some(l) => format!(
            "{} scheduled runs of {} enabled schedule{} in the next {SCHEDULE_HORIZON_DAYS} \
             days; the longest interval between consecutive runs is {}, from {} ({}) to {} ({})",
            runs.len(),
            enabled.len(),
            plural(enabled.len()),
            present::age(l.seconds),
            at(l.start),
            l.start_schedules.join(", "),
            at(l.end),
            l.end_schedules.join(", ")
        ),
    };
    Ok(ScheduleRpo {
        backups_enabled: b.enabled,
        schedules,
        horizon_start: now,
        horizon_end,
        horizon_days: SCHEDULE_HORIZON_DAYS,
        scheduled_runs: runs.len() as u64,
        implied_rpo_seconds: implied,
        implied_rpo: implied.map(present::age),
        passed: implied.is_some_and(|s| s <= target),
        longest_interval: longest,
        detail,
    })
}

/// The schedules at either end of the longest interval, each once, in order.
fn interval_names(l: &ScheduledInterval) -> String {
    let mut names: Vec<&str> = Vec::new();
    for n in l.start_schedules.iter().chain(&l.end_schedules) {
        if !names.contains(&n.as_str()) {
            names.push(n);
        }
    }
    names.join(", ")
}

fn statement(b: &BackupSettings, s: &ScheduleRpo, target: i64, target_text: &str) -> String {
    match &s.longest_interval {
        _ if b.enabled && b.continuous.enabled => {
            let bound = b.continuous.max_delay_seconds as i64;
            format!(
                "continuous protection records every change within {} (plus a point's own time) \
                 while the daemon runs: {} the RPO target of {target_text}",
                present::age(bound),
                if bound <= target { "within" } else { "beyond" }
            )
        }
        _ if !b.enabled => format!(
            "backup.enabled is false, so scheduled backups are skipped and the schedules \
             guarantee no RPO; an RPO of at most {target_text} cannot be met until backups \
             are enabled"
        ),
        None => format!(
            "no backup schedule is enabled, so backups happen only when someone starts one and \
             no RPO is guaranteed; an RPO of at most {target_text} cannot be met without a \
             schedule"
        ),
        Some(l) if l.seconds <= target => format!(
            "the schedules run at least every {} ({}), within the RPO target of {target_text} \
             if every run succeeds",
            present::age(l.seconds),
            interval_names(l)
        ),
        Some(l) => format!(
            "the schedules run at best every {} ({}); an RPO of at most {target_text} cannot be \
             met: schedule backups at least every {target_text}, or turn on continuous protection \
             (backup.continuous) for the databases",
            present::age(l.seconds),
            interval_names(l)
        ),
    }
}

fn recommendations(
    current: &CurrentRpo,
    gaps: &WindowGaps,
    schedule: &ScheduleRpo,
    target: i64,
    target_text: &str,
    after_now: usize,
) -> Vec<Advice> {
    let mut out = Vec::new();
    let missed = |seconds: i64| {
        schedule
            .implied_rpo_seconds
            .is_some_and(|i| seconds > i + MISSED_RUN_SLACK_SECONDS)
    };
    let implied_text = schedule.implied_rpo.clone().unwrap_or_default();

    match (current.newest_backup, current.age_seconds) {
        (Some(newest), Some(age)) if !current.passed => {
            let mut r = format!(
                "now: the newest backup is {} old, beyond the RPO target of {target_text}",
                present::age(age)
            );
            if missed(age) {
                r.push_str(&format!(
                    "; it is older than the schedules allow ({implied_text}), so scheduled runs \
                     were missed or failed since {}: check the scheduler (cron / systemd timer) \
                     and the backup logs",
                    at(newest)
                ));
            }
            out.push(Advice::step(Action::RunBackup { backup_type: None }, r));
        }
        (None, _) => out.push(Advice::step(
            Action::RunBackup {
                backup_type: Some(BackupType::Full),
            },
            "now: no successful backup exists; then make sure the scheduled runs succeed",
        )),
        _ => {}
    }

    if let Some(w) = &gaps.worst
        && !gaps.passed
        && w.ends_at != GapBoundary::Now
        && missed(w.seconds)
    {
        out.push(Advice::say(format!(
            "no backup succeeded for {} between {} and {}, longer than the schedules allow \
             ({implied_text}): scheduled runs were missed or failed then; check the scheduler \
             and the backup logs for that period",
            w.duration,
            at(w.start),
            at(w.end)
        )));
    }

    if !schedule.passed {
        if !schedule.backups_enabled {
            out.push(Advice::step(
                Action::EditSetting {
                    key: "backup.enabled".into(),
                    value: "true".into(),
                },
                "so that scheduled backups run",
            ));
        }
        match schedule.implied_rpo_seconds {
            None => out.push(Advice::say(format!(
                "add a schedule under backup.schedules (e.g. daily_incremental at \"02:00\" \
                 UTC), and schedules at least every {target_text} to meet the RPO target"
            ))),
            Some(implied) => {
                if target < 3600 {
                    out.push(Advice::step(
                        Action::ScheduledBackup,
                        format!(
                            "from a timer (cron / systemd) every {target_text} for files; an RPO \
                             under an hour also needs continuous protection for the databases \
                             (PostgreSQL WAL archiving / streaming replication)"
                        ),
                    ));
                } else if target < 86_400 {
                    let per_day = (86_400 + target - 1) / target;
                    out.push(Advice::step(
                        Action::ScheduledBackup,
                        format!(
                            "from a timer (cron / systemd) every {target_text}, or add {per_day} \
                             daily incremental schedules at staggered times, at most \
                             {target_text} apart (a schedule runs at most once a day)"
                        ),
                    ));
                } else {
                    out.push(Advice::say(
                        "add a daily incremental schedule (e.g. daily_incremental at \"02:00\" \
                         UTC): it runs every 24 h",
                    ));
                }
                let minutes = (implied + 59) / 60;
                out.push(Advice::step(
                    Action::EditSetting {
                        key: "disaster_recovery.rpo_target_minutes".into(),
                        value: minutes.to_string(),
                    },
                    format!(
                        "instead, if losing up to {} of data is acceptable",
                        present::age(implied)
                    ),
                ));
            }
        }
    }

    if after_now > 0 {
        out.push(Advice::say(format!(
            "{after_now} backup{} finished after now and {} left out: check the clock of this \
             machine and of the hosts that made them",
            plural(after_now),
            if after_now == 1 { "was" } else { "were" }
        )));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::settings::{BackupSchedule, BackupTypeSetting, DaySetting, Repeat, Schedule};
    use chrono::Weekday;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn bp(s: &str, t: BackupType) -> BackupPoint {
        BackupPoint {
            finished: utc(s),
            backup_type: t,
        }
    }

    fn inc(s: &str) -> BackupPoint {
        bp(s, BackupType::Incremental)
    }

    fn seed() -> BackupSettings {
        crate::settings::test_support::seed_settings().backup
    }

    fn sched(time: &str, tz: &str, day: Option<DaySetting>) -> BackupSchedule {
        BackupSchedule {
            enabled: true,
            backup_type: BackupTypeSetting::Incremental,
            schedule: Schedule {
                time: crate::settings::parse_time_of_day(time).unwrap(),
                timezone: crate::settings::parse_timezone(tz).unwrap(),
                repeat: Repeat::from_day(day),
            },
            retention_days: None,
            retention_weeks: None,
            retention_months: None,
        }
    }

    fn with_schedules(list: &[(&str, BackupSchedule)]) -> BackupSettings {
        let mut b = BackupSettings::default();
        for (name, s) in list {
            b.schedules.insert(name.to_string(), s.clone());
        }
        b
    }

    fn daily() -> BackupSettings {
        with_schedules(&[("daily_incremental", sched("02:00", "UTC", None))])
    }

    /// Backups every `step_h` hours from `first` for `count` runs.
    fn every(first: &str, step_h: i64, count: i64) -> Vec<BackupPoint> {
        let f = utc(first);
        (0..count)
            .map(|i| BackupPoint {
                finished: f + TimeDelta::hours(step_h * i),
                backup_type: BackupType::Incremental,
            })
            .collect()
    }

    const H: i64 = 3600;

    #[test]
    fn thirty_hour_hole_is_the_worst_gap() {
        // Three days; 12 h apart except one 30 h hole; 4 h open gap to now.
        let backups = vec![
            inc("2026-01-03T20:00:00Z"),
            bp("2026-01-01T02:00:00Z", BackupType::Full),
            inc("2026-01-01T14:00:00Z"),
            inc("2026-01-02T02:00:00Z"),
            inc("2026-01-03T08:00:00Z"),
        ];
        let now = utc("2026-01-04T00:00:00Z");
        let a = analyze_rpo(now, &backups, 30, &daily(), 24 * 60).unwrap();
        let g = &a.worst_gap;
        let w = g.worst.as_ref().unwrap();
        assert_eq!(w.seconds, 30 * H);
        assert_eq!(w.start, utc("2026-01-02T02:00:00Z"));
        assert_eq!(w.end, utc("2026-01-03T08:00:00Z"));
        assert_eq!(w.starts_at, GapBoundary::Backup);
        assert_eq!(w.ends_at, GapBoundary::Backup);
        assert_eq!(w.start_backup_type, Some(BackupType::Incremental));
        assert_eq!(w.duration, "1 d 6 h");
        assert_eq!(g.backups_in_window, 5);
        assert!(!g.older_backups_exist);
        // Measured from the first backup: 4 gaps between 5 backups plus the open one.
        assert_eq!(g.measured_from, Some(utc("2026-01-01T02:00:00Z")));
        assert_eq!(g.gaps_measured, 5);
        assert!(!g.passed);
        assert_eq!(a.current.age_seconds, Some(4 * H));
        assert_eq!(a.current.newest_backup, Some(utc("2026-01-03T20:00:00Z")));
        assert!(a.current.passed);
        assert!(!a.passed);
        // A target of 30 h accepts the hole exactly.
        let a = analyze_rpo(now, &backups, 30, &daily(), 30 * 60).unwrap();
        assert!(a.worst_gap.passed);
        assert!(a.passed, "{:?}", a.reasons);
    }

    #[test]
    fn open_gap_to_now_counts() {
        let backups = every("2026-01-01T00:00:00Z", 6, 9); // last at 2026-01-03T00:00Z
        let now = utc("2026-01-05T02:00:00Z");
        let a = analyze_rpo(now, &backups, 30, &daily(), 24 * 60).unwrap();
        let w = a.worst_gap.worst.as_ref().unwrap();
        assert_eq!(w.seconds, 50 * H);
        assert_eq!(w.start, utc("2026-01-03T00:00:00Z"));
        assert_eq!(w.end, now);
        assert_eq!(w.ends_at, GapBoundary::Now);
        assert_eq!(w.end_backup_type, None);
        assert_eq!(a.current.age_seconds, Some(50 * H));
        assert!(!a.current.passed);
        assert!(!a.worst_gap.passed);
        // 50 h is beyond the daily schedule's 24 h plus slack: missed runs are named.
        assert!(
            a.recommendations[0]
                .contains("scheduled runs were missed or failed since 2026-01-03 00:00:00 UTC"),
            "{:?}",
            a.recommendations
        );
    }

    #[test]
    fn window_excludes_older_holes_and_clips_at_its_start() {
        let now = utc("2026-03-01T00:00:00Z");
        // Daily at 03:00 from 1 Jan, with a 10-day hole in January.
        let mut backups: Vec<BackupPoint> = every("2026-01-01T03:00:00Z", 24, 10);
        backups.extend(every("2026-01-20T03:00:00Z", 24, 40)); // last 2026-02-28T03:00Z
        // Over 60 days the hole (10 Jan 03:00 .. 20 Jan 03:00) is the worst gap.
        let a = analyze_rpo(now, &backups, 60, &daily(), 24 * 60).unwrap();
        let w = a.worst_gap.worst.clone().unwrap();
        assert_eq!(w.seconds, 10 * 24 * H);
        assert_eq!(w.start, utc("2026-01-10T03:00:00Z"));
        assert_eq!(w.end, utc("2026-01-20T03:00:00Z"));
        assert!(!a.worst_gap.passed);
        // Over 7 days: only the daily rhythm; the first gap is clipped at the window start
        // (2026-02-22T00:00 to the 03:00 backup: 3 h), not reaching back to older backups.
        let a = analyze_rpo(now, &backups, 7, &daily(), 24 * 60).unwrap();
        let g = &a.worst_gap;
        assert_eq!(g.window_start, utc("2026-02-22T00:00:00Z"));
        assert_eq!(g.backups_in_window, 7);
        assert!(g.older_backups_exist);
        assert_eq!(g.measured_from, Some(g.window_start));
        assert_eq!(g.gaps_measured, 8);
        let w = g.worst.as_ref().unwrap();
        assert_eq!(w.seconds, 24 * H);
        assert_eq!(
            w.start,
            utc("2026-02-22T03:00:00Z"),
            "earliest of equal gaps"
        );
        assert!(g.passed);
        assert!(a.passed, "{:?}", a.reasons);
        assert!(a.recommendations.is_empty(), "{:?}", a.recommendations);
    }

    #[test]
    fn leading_gap_from_the_window_start_when_older_backups_exist() {
        let now = utc("2026-03-01T00:00:00Z");
        let backups = vec![
            bp("2026-02-01T00:00:00Z", BackupType::Full),
            inc("2026-02-24T00:00:00Z"),
            inc("2026-02-25T12:00:00Z"),
            inc("2026-02-27T00:00:00Z"),
            inc("2026-02-28T12:00:00Z"),
        ];
        let a = analyze_rpo(now, &backups, 7, &daily(), 24 * 60).unwrap();
        let w = a.worst_gap.worst.clone().unwrap();
        assert_eq!(w.start, utc("2026-02-22T00:00:00Z"));
        assert_eq!(w.end, utc("2026-02-24T00:00:00Z"));
        assert_eq!(w.seconds, 48 * H);
        assert_eq!(w.starts_at, GapBoundary::WindowStart);
        assert_eq!(w.start_backup_type, None);
        assert!(a.worst_gap.detail.contains("clipped at the window start"));
    }

    #[test]
    fn only_older_backups_make_the_whole_window_one_gap() {
        let now = utc("2026-03-01T00:00:00Z");
        let backups = vec![bp("2026-01-01T00:00:00Z", BackupType::Full)];
        let a = analyze_rpo(now, &backups, 30, &daily(), 24 * 60).unwrap();
        let g = &a.worst_gap;
        assert_eq!(g.backups_in_window, 0);
        assert_eq!(g.gaps_measured, 1);
        let w = g.worst.as_ref().unwrap();
        assert_eq!((w.start, w.end), (g.window_start, now));
        assert_eq!(w.seconds, 30 * 24 * H);
        assert_eq!(
            (w.starts_at, w.ends_at),
            (GapBoundary::WindowStart, GapBoundary::Now)
        );
        assert!(g.detail.contains("the whole window is one gap"));
        assert_eq!(a.current.age_seconds, Some(59 * 24 * H));
        assert_eq!(a.backups_considered, 1);
    }

    #[test]
    fn a_single_backup_says_what_was_measured() {
        let now = utc("2026-03-01T00:00:00Z");
        let backups = vec![bp("2026-02-28T22:00:00Z", BackupType::Full)];
        let a = analyze_rpo(now, &backups, 30, &daily(), 24 * 60).unwrap();
        let g = &a.worst_gap;
        assert_eq!(g.gaps_measured, 1);
        assert_eq!(g.measured_from, Some(utc("2026-02-28T22:00:00Z")));
        let w = g.worst.as_ref().unwrap();
        assert_eq!(w.seconds, 2 * H);
        assert_eq!(w.ends_at, GapBoundary::Now);
        assert!(
            g.detail.contains("the only gap measured is the open one"),
            "{}",
            g.detail
        );
        assert!(a.passed, "{:?}", a.reasons);
    }

    #[test]
    fn no_backups() {
        let now = utc("2026-03-01T00:00:00Z");
        let a = analyze_rpo(now, &[], 30, &daily(), 24 * 60).unwrap();
        assert_eq!(a.current.newest_backup, None);
        assert_eq!(a.current.age_seconds, None);
        assert!(!a.current.passed);
        assert_eq!(a.worst_gap.worst, None);
        assert_eq!(a.worst_gap.gaps_measured, 0);
        assert_eq!(a.worst_gap.measured_from, None);
        assert!(!a.worst_gap.passed);
        assert!(a.worst_gap.detail.contains("no successful backup exists"));
        // The schedule alone is fine; the analysis is not.
        assert!(a.schedule_can_meet_target);
        assert!(!a.passed);
        assert!(a.recommendations[0].contains("backup run --backup-type full"));
        assert_eq!(a.reasons.len(), 3);
    }

    #[test]
    fn backups_after_now_are_left_out() {
        let now = utc("2026-03-01T00:00:00Z");
        let backups = vec![inc("2026-02-28T23:00:00Z"), inc("2026-03-01T05:00:00Z")];
        let a = analyze_rpo(now, &backups, 30, &daily(), 24 * 60).unwrap();
        assert_eq!(a.backups_considered, 1);
        assert_eq!(a.backups_after_now_ignored, 1);
        assert_eq!(a.current.age_seconds, Some(H));
        assert!(
            a.recommendations
                .iter()
                .any(|r| r.contains("check the clock"))
        );
    }

    #[test]
    fn bad_window_or_target_is_a_usage_error() {
        let now = utc("2026-03-01T00:00:00Z");
        for days in [0, -3] {
            let e = analyze_rpo(now, &[], days, &daily(), 5).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Usage);
            assert!(e.message.contains("at least 1 day"), "{}", e.message);
            assert_eq!(
                e.guidance_for(Face::Cli).as_deref(),
                Some("pass `--days 1` or more (default 30)")
            );
            assert_eq!(
                e.guidance_for(Face::Mcp).as_deref(),
                Some("pass `days=1` or more (default 30)")
            );
        }
        let e = analyze_rpo(now, &[], i64::MAX, &daily(), 5).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Usage);
        let e = analyze_rpo(now, &[], 30, &daily(), 0).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Usage);
        assert!(e.guidance.unwrap().contains("rpo_target_minutes"));
    }

    #[test]
    fn daily_schedule_implies_24_hours_and_cannot_meet_5_minutes() {
        let now = utc("2026-01-15T10:00:00Z");
        let backups = vec![inc("2026-01-15T09:58:00Z")];
        let a = analyze_rpo(now, &backups, 30, &daily(), 5).unwrap();
        let s = &a.schedule;
        assert_eq!(s.implied_rpo_seconds, Some(24 * H));
        assert_eq!(s.implied_rpo.as_deref(), Some("1 d 0 h"));
        assert_eq!(s.horizon_days, SCHEDULE_HORIZON_DAYS);
        assert_eq!(s.scheduled_runs, 366);
        let l = s.longest_interval.as_ref().unwrap();
        assert_eq!(l.start, utc("2026-01-16T02:00:00Z"));
        assert_eq!(l.end, utc("2026-01-17T02:00:00Z"));
        assert_eq!(l.start_schedules, ["daily_incremental"]);
        assert!(!s.passed);
        assert!(!a.schedule_can_meet_target);
        assert_eq!(
            a.statement,
            "the schedules run at best every 1 d 0 h (daily_incremental); an RPO of at most \
             5 min cannot be met: schedule backups at least every 5 min, or turn on continuous \
             protection (backup.continuous) for the databases"
        );
        // Continuous protection bounds it by max_delay_seconds instead.
        let mut with_points = daily();
        with_points.continuous.enabled = true;
        let c = analyze_rpo(now, &backups, 30, &with_points, 5).unwrap();
        assert_eq!(c.schedule.implied_rpo_seconds, Some(15));
        assert!(c.schedule_can_meet_target, "{}", c.statement);
        assert!(
            c.statement.contains("continuous protection"),
            "{}",
            c.statement
        );
        // The current RPO (2 min) meets the target; the schedule does not.
        assert!(a.current.passed);
        assert!(a.worst_gap.passed);
        assert!(!a.passed);
        assert!(a.reasons[2].starts_with("schedules: the schedules run at best every 1 d 0 h"));
        assert!(
            a.recommendations
                .iter()
                .any(|r| r.contains("WAL archiving")),
            "{:?}",
            a.recommendations
        );
        assert!(
            a.recommendations
                .iter()
                .any(|r| r.contains("rpo_target_minutes: 1440")),
            "{:?}",
            a.recommendations
        );
    }

    #[test]
    fn seed_schedules_imply_24_hours() {
        // 2026-01-15 is a Thursday. Daily 02:00, weekly Sunday 03:00, monthly day 1 04:00: the
        // weekly and monthly runs fall between daily ones and never lengthen an interval.
        let now = utc("2026-01-15T10:00:00Z");
        let a = analyze_rpo(now, &[], 30, &seed(), 5).unwrap();
        let s = &a.schedule;
        assert!(s.backups_enabled);
        assert_eq!(s.schedules.len(), 3);
        assert_eq!(s.implied_rpo_seconds, Some(24 * H));
        let l = s.longest_interval.as_ref().unwrap();
        assert_eq!(l.start, utc("2026-01-16T02:00:00Z"));
        assert_eq!(l.end, utc("2026-01-17T02:00:00Z"));
        assert!(a.statement.contains("every 1 d 0 h (daily_incremental)"));
        assert!(!a.schedule_can_meet_target);
        // A target of a day is met by the same schedules.
        let a = analyze_rpo(now, &[], 30, &seed(), 24 * 60).unwrap();
        assert!(a.schedule_can_meet_target);
        assert_eq!(
            a.statement,
            "the schedules run at least every 1 d 0 h (daily_incremental), within the RPO \
             target of 1 d 0 h if every run succeeds"
        );
    }

    #[test]
    fn staggered_daily_schedules_give_six_hours() {
        // The schedule module runs each schedule at most daily; four daily schedules 6 h apart
        // are the nearest thing to an hourly-ish cadence it can express.
        let b = with_schedules(&[
            ("q0_incremental", sched("00:00", "UTC", None)),
            ("q1_incremental", sched("06:00", "UTC", None)),
            ("q2_incremental", sched("12:00", "UTC", None)),
            ("q3_incremental", sched("18:00", "UTC", None)),
            (
                "weekly_full",
                sched("06:00", "UTC", Some(DaySetting::Weekday(Weekday::Sun))),
            ),
        ]);
        let now = utc("2026-01-15T10:00:00Z");
        let a = analyze_rpo(now, &[], 30, &b, 6 * 60).unwrap();
        assert_eq!(a.schedule.implied_rpo_seconds, Some(6 * H));
        // Runs at the same instant (Sunday 06:00) count once.
        assert_eq!(a.schedule.scheduled_runs, 4 * 366);
        assert!(a.schedule_can_meet_target);
        let a = analyze_rpo(now, &[], 30, &b, 5 * 60).unwrap();
        assert!(!a.schedule_can_meet_target);
        assert!(
            a.recommendations
                .iter()
                .any(|r| r.contains("add 5 daily incremental schedules")),
            "{:?}",
            a.recommendations
        );
    }

    #[test]
    fn uneven_schedules_name_both_ends_of_the_longest_interval() {
        let b = with_schedules(&[
            ("early_incremental", sched("00:00", "UTC", None)),
            ("morning_incremental", sched("06:00", "UTC", None)),
            ("evening_full", sched("20:00", "UTC", None)),
        ]);
        let a = analyze_rpo(utc("2026-01-15T10:00:00Z"), &[], 30, &b, 60).unwrap();
        let l = a.schedule.longest_interval.as_ref().unwrap();
        assert_eq!(l.seconds, 14 * H);
        assert_eq!(l.start, utc("2026-01-16T06:00:00Z"));
        assert_eq!(l.end, utc("2026-01-16T20:00:00Z"));
        assert!(
            a.statement
                .contains("every 14 h 0 min (morning_incremental, evening_full)"),
            "{}",
            a.statement
        );
    }

    #[test]
    fn weekly_and_monthly_only() {
        let now = utc("2026-01-15T10:00:00Z");
        let weekly = with_schedules(&[(
            "weekly_full",
            sched("03:00", "UTC", Some(DaySetting::Weekday(Weekday::Sun))),
        )]);
        let a = analyze_rpo(now, &[], 30, &weekly, 7 * 24 * 60).unwrap();
        assert_eq!(a.schedule.implied_rpo_seconds, Some(7 * 24 * H));
        assert!(a.schedule_can_meet_target);
        // Monthly on day 1: the horizon covers 31-day months.
        let monthly = with_schedules(&[(
            "monthly_archival",
            sched("04:00", "UTC", Some(DaySetting::OfMonth(1))),
        )]);
        let a = analyze_rpo(now, &[], 30, &monthly, 24 * 60).unwrap();
        assert_eq!(a.schedule.implied_rpo_seconds, Some(31 * 24 * H));
        let l = a.schedule.longest_interval.as_ref().unwrap();
        assert_eq!(l.start, utc("2026-03-01T04:00:00Z"));
        assert_eq!(l.end, utc("2026-04-01T04:00:00Z"));
        assert!(
            a.recommendations
                .iter()
                .any(|r| r.contains("add a daily incremental schedule")),
            "{:?}",
            a.recommendations
        );
    }

    #[test]
    fn daylight_saving_stretches_the_implied_rpo() {
        // Europe/Berlin falls back on 2026-10-25: 02:30 CEST (00:30 UTC) then 02:30 CET the next
        // day (01:30 UTC) is 25 h.
        let b = with_schedules(&[("daily_incremental", sched("02:30", "Europe/Berlin", None))]);
        let a = analyze_rpo(utc("2026-01-15T10:00:00Z"), &[], 30, &b, 24 * 60).unwrap();
        let l = a.schedule.longest_interval.as_ref().unwrap();
        assert_eq!(l.seconds, 25 * H);
        assert_eq!(l.start, utc("2026-10-25T00:30:00Z"));
        assert_eq!(l.end, utc("2026-10-26T01:30:00Z"));
        assert!(!a.schedule_can_meet_target);
    }

    #[test]
    fn no_schedule_or_backups_disabled() {
        let now = utc("2026-01-15T10:00:00Z");
        let backups = vec![inc("2026-01-15T09:00:00Z")];
        let empty = BackupSettings::default();
        let a = analyze_rpo(now, &backups, 30, &empty, 24 * 60).unwrap();
        assert_eq!(a.schedule.implied_rpo_seconds, None);
        assert_eq!(a.schedule.scheduled_runs, 0);
        assert!(!a.schedule_can_meet_target);
        assert!(a.statement.starts_with("no backup schedule is enabled"));
        assert!(a.schedule.detail.contains("backup.schedules is empty"));
        assert!(!a.passed);
        assert!(
            a.recommendations
                .iter()
                .any(|r| r.contains("add a schedule"))
        );

        let mut all_off = seed();
        for s in all_off.schedules.values_mut() {
            s.enabled = false;
        }
        let a = analyze_rpo(now, &backups, 30, &all_off, 24 * 60).unwrap();
        assert_eq!(a.schedule.implied_rpo_seconds, None);
        assert_eq!(a.schedule.schedules.len(), 3);
        assert!(a.schedule.detail.contains("is disabled"));

        let mut off = seed();
        off.enabled = false;
        let a = analyze_rpo(now, &backups, 30, &off, 24 * 60).unwrap();
        assert!(!a.schedule.backups_enabled);
        assert_eq!(a.schedule.implied_rpo_seconds, None);
        assert!(a.statement.starts_with("backup.enabled is false"));
        assert!(
            a.recommendations
                .iter()
                .any(|r| r.contains("backup.enabled: true"))
        );
    }

    #[test]
    fn everything_meets_the_target() {
        // Seed schedules, every daily run succeeded for 40 days, target 25 h.
        let backups = every("2026-01-01T02:10:00Z", 24, 40); // last 2026-02-09T02:10Z
        let now = utc("2026-02-09T10:00:00Z");
        let a = analyze_rpo(now, &backups, 30, &seed(), 25 * 60).unwrap();
        assert_eq!(a.rpo_target_seconds, 25 * H);
        assert_eq!(a.rpo_target, "1 d 1 h");
        assert_eq!(a.current.age_seconds, Some(7 * H + 50 * 60));
        assert_eq!(a.worst_gap.worst.as_ref().unwrap().seconds, 24 * H);
        assert_eq!(a.schedule.implied_rpo_seconds, Some(24 * H));
        assert!(a.current.passed && a.worst_gap.passed && a.schedule_can_meet_target);
        assert!(a.passed);
        assert!(a.recommendations.is_empty(), "{:?}", a.recommendations);
        assert_eq!(a.reasons.len(), 3);
        assert!(
            a.reasons.iter().all(|r| r.contains("within")),
            "{:?}",
            a.reasons
        );
    }

    #[test]
    fn missed_scheduled_runs_are_pointed_out() {
        // Daily schedule, but three days without a backup in the middle of the window.
        let mut backups = every("2026-02-01T02:05:00Z", 24, 5); // .. 2026-02-05
        backups.extend(every("2026-02-08T02:05:00Z", 24, 3)); // .. 2026-02-10
        let now = utc("2026-02-10T03:00:00Z");
        let a = analyze_rpo(now, &backups, 30, &daily(), 24 * 60).unwrap();
        let w = a.worst_gap.worst.as_ref().unwrap();
        assert_eq!(w.seconds, 3 * 24 * H);
        assert!(a.current.passed);
        assert!(a.schedule_can_meet_target);
        assert!(!a.passed);
        assert_eq!(a.recommendations.len(), 1, "{:?}", a.recommendations);
        assert!(a.recommendations[0].contains(
            "between 2026-02-05 02:05:00 UTC and 2026-02-08 02:05:00 UTC, longer than the schedules allow"
        ));
    }

    #[test]
    fn json_is_snake_case_and_has_a_schema() {
        let now = utc("2026-03-01T00:00:00Z");
        let backups = vec![bp("2026-01-01T00:00:00Z", BackupType::Full)];
        let a = analyze_rpo(now, &backups, 30, &seed(), 5).unwrap();
        let v = serde_json::to_value(&a).unwrap();
        assert_eq!(v["schedule_can_meet_target"], false);
        assert_eq!(v["worst_gap"]["worst"]["starts_at"], "window_start");
        assert_eq!(v["worst_gap"]["worst"]["ends_at"], "now");
        assert_eq!(v["current"]["newest_backup_type"], "full");
        assert_eq!(v["schedule"]["implied_rpo_seconds"], 86_400);
        let back: RpoAnalysis = serde_json::from_value(v).unwrap();
        assert_eq!(back.worst_gap.worst, a.worst_gap.worst);
        let schema = serde_json::to_value(schemars::schema_for!(RpoAnalysis)).unwrap();
        assert!(schema["properties"]["recommendations"].is_object());
    }

    #[test]
    fn recommendations_are_worded_for_each_face() {
        let now = utc("2026-03-01T00:00:00Z");
        // No backup and a daily schedule against a 5-minute target: a full backup now, a timer,
        // and the setting that would make the target honest.
        let a = analyze_rpo(now, &[], 30, &seed(), 5).unwrap();
        assert!(
            a.recommendations[0].starts_with("run `mahavishnu-dr backup run --backup-type full`")
        );
        let mcp = a.clone().for_face(Face::Mcp);
        assert_eq!(mcp.recommendations.len(), a.recommendations.len());
        assert!(
            mcp.recommendations[0].starts_with(r#"call `backup_run {"backup_type":"full"}`"#),
            "{:?}",
            mcp.recommendations
        );
        assert!(
            mcp.recommendations
                .iter()
                .all(|r| !r.contains("`mahavishnu-dr ")),
            "{:?}",
            mcp.recommendations
        );
        assert!(
            a.recommendations
                .iter()
                .any(|r| r.contains("mahavishnu-dr backup run --scheduled")),
            "{:?}",
            a.recommendations
        );
    }
}
