//! The third face: `mahavishnu-dr daemon`, one long-running process that runs every enabled
//! schedule of the settings (backups by type with cleanup after each, validations, restore
//! tests, drills) and serves MCP over streamable HTTP with `/health` and `/metrics` beside it.
//!
//! - `jobs`: the jobs the settings schedule, when each is due, the catch-up rule, the order;
//! - `clock`: the system clock, or a rehearsal clock (`--clock START[@SPEED]`);
//! - `execute`: one job through the operations layer (a backup's retries, cleanup after it);
//! - `watch`: the sources' change events gathered into debounced change sets (continuous
//!   protection's input);
//! - `continuous`: continuous points, made between the scheduled jobs when the sources change;
//! - `alerts`: incidents from conditions, one alert and one "resolved" message each, to
//!   webhooks, e-mail and healthchecks (docs/ALERTS.md);
//! - this file: the loop. One job at a time (the daemon's jobs never overlap on its
//!   repository), the state file written before and after each, a clean stop on SIGTERM/SIGINT.

pub mod alerts;
pub mod clock;
mod continuous;
mod execute;
pub mod jobs;
pub mod watch;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::{Error, ErrorKind, Result};
use crate::ops::daemon_state::{self, DaemonState, JobResult, RunningJob};
use crate::ops::{Cancel, Dr, secs};
use clock::Clock;
use jobs::{Due, Job};

/// How the daemon is started (the command line's `daemon` options).
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// The HTTP face's address (None: `mcp.http.listen`); the face is off with `no_http`.
    pub listen: Option<String>,
    pub no_http: bool,
    pub passwd_file: Option<PathBuf>,
    pub clock: Clock,
}

/// The longest the loop sleeps before looking again (a suspended machine, a clock change).
const MAX_NAP: Duration = Duration::from_secs(30);

/// How often (on the daemon's clock) the alert conditions are evaluated between jobs: the age
/// of the newest backup and replica lag change without any job running. Each evaluation reads
/// the repository's status (the catalog, each replica's listing).
const ALERT_EVERY: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// Run until `cancel` (SIGTERM, SIGINT): the schedules, and the HTTP face.
pub async fn run(dr: Dr, opts: DaemonOptions, cancel: Cancel) -> Result<()> {
    let settings = dr.settings().settings.clone();
    let state_dir = settings.daemon.state_dir.clone();
    daemon_state::ensure_state_dir(&state_dir)?;
    let _lock = single_instance(&state_dir)?;
    let clock = opts.clock;
    let log = |m: String| eprintln!("{} daemon: {m}", clock.now().format("%Y-%m-%dT%H:%M:%SZ"));
    let (mut state, warning) = DaemonState::load(&state_dir);
    if let Some(w) = warning {
        log(format!("warning: {w}"));
    }
    let jobs = jobs::jobs(&settings);
    let since = clock.now();
    if let Some(r) = state.running.clone() {
        log(format!(
            "the previous daemon stopped while {} ran (started {}); it counts as cancelled \
             and runs again now",
            r.job, r.started
        ));
        let j = state.job_mut(&r.job);
        if j.last_finished.is_none_or(|f| f < r.started) {
            j.last_result = Some(JobResult::Cancelled);
            j.last_finished = Some(since);
            j.last_slot = Some(unrun(r.slot));
        }
        state.running = None;
    }
    // Jobs never seen start from now: a first start runs nothing it was not there to miss.
    for job in &jobs {
        let j = state.job_mut(&job.name);
        if j.last_slot.is_none() {
            j.last_slot = job.schedule.last_at_or_before(since);
        }
    }
    state.started_at = Some(since);
    state.stopped_at = None;
    state.pid = Some(std::process::id());
    save(&mut state, &jobs, &state_dir, since, &log);
    if jobs.is_empty() {
        log("no schedule is enabled in the settings; serving HTTP only".into());
    }
    for job in &jobs {
        if let Some(next) = job.schedule.next_after(since) {
            log(format!(
                "{}: {}; next run {next}",
                job.name,
                job.schedule.cadence()
            ));
        }
    }

    let (mut alerter, warning) = alerts::Alerter::new(&dr);
    if let Some(w) = warning {
        log(format!("warning: {w}"));
    }
    if let Some(why) = alerter.silenced() {
        log(format!("alerts are off: {why}"));
    }
    for n in alerter.not_configured() {
        log(format!("warning: {}", n.message));
    }
    let open: Vec<String> = alerter.incidents().into_iter().map(|i| i.key).collect();
    if !open.is_empty() {
        log(format!(
            "{} alert(s) still open from before: {} (a resolved message follows when each clears)",
            open.len(),
            open.join(", ")
        ));
    }

    let http = if opts.no_http {
        None
    } else {
        let server = crate::mcp::DrServer::new(dr.clone());
        let mut http_opts =
            crate::mcp::http::HttpOptions::from_settings(server.dr(), opts.listen.as_deref())?;
        if let Some(f) = opts.passwd_file.clone() {
            http_opts.passwd_file = f;
        }
        let listener = crate::mcp::http::bind(&http_opts).await?;
        log(format!(
            "serving MCP, /health and /metrics on http://{}",
            http_opts.listen
        ));
        let token = cancel.child_token();
        Some(tokio::spawn(crate::mcp::http::serve_on(
            listener, server, http_opts, token,
        )))
    };

    let mut points = continuous::Continuous::start(&dr)?;
    if points.is_some() {
        let c = &settings.backup.continuous;
        log(format!(
            "continuous protection: a point {} s after the sources go quiet, at most {} s after a change",
            c.debounce_seconds, c.max_delay_seconds
        ));
    }
    let grace = Duration::from_secs(settings.daemon.shutdown_grace_seconds);
    let mut next_alert_check = since;
    while !cancel.is_cancelled() {
        let now = clock.now();
        if now >= next_alert_check {
            let until = points.as_ref().and_then(|c| c.recorded_until(now));
            check_alerts(&dr, &mut alerter, &state, now, until, &log).await;
            next_alert_check = clock.now() + ALERT_EVERY;
            continue;
        }
        let due = jobs::due(&jobs, &state, now, since);
        let Some(first) = due.into_iter().next() else {
            // Between scheduled jobs: the owed continuous point.
            if let Some(c) = points.as_mut().filter(|c| c.due()) {
                c.run_point(&dr, &mut state, &clock, &cancel, grace, &log)
                    .await;
                save(&mut state, &jobs, &state_dir, clock.now(), &log);
                continue;
            }
            let wake =
                jobs::next_wakeup(&jobs, now).map_or(next_alert_check, |t| t.min(next_alert_check));
            let nap = clock.real_until(wake).min(MAX_NAP);
            let change = async {
                match points.as_mut() {
                    Some(c) => Some(c.changed().await),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = cancel.cancelled() => break,
                () = tokio::time::sleep(nap.max(Duration::from_millis(20))) => continue,
                set = change => {
                    if let (Some(c), Some(set)) = (points.as_mut(), set) {
                        if set.rescan {
                            log(format!("{}: change events were lost; the next point rescans every covered source", continuous::JOB));
                        }
                        c.owed = true;
                    }
                    continue;
                }
            }
        };
        let name = first.job.name.clone();
        for d in alerter.job_started(&name).await {
            log_delivery(&d, &log);
        }
        let result = run_one(
            &dr, first, &mut state, &jobs, &state_dir, &clock, &cancel, grace, &log,
        )
        .await;
        if matches!(result, JobResult::Succeeded | JobResult::Failed) {
            for d in alerter
                .job_finished(&name, result == JobResult::Succeeded)
                .await
            {
                log_delivery(&d, &log);
            }
            let until = points.as_ref().and_then(|c| c.recorded_until(clock.now()));
            check_alerts(&dr, &mut alerter, &state, clock.now(), until, &log).await;
            next_alert_check = clock.now() + ALERT_EVERY;
        }
    }
    state.stopped_at = Some(clock.now());
    save(&mut state, &jobs, &state_dir, clock.now(), &log);
    if let Some(h) = http {
        // The server shares the cancelled token; it drains its connections.
        match tokio::time::timeout(Duration::from_secs(5), h).await {
            Ok(Ok(Err(e))) => log(format!("the HTTP face stopped with an error: {e}")),
            Err(_) => log("the HTTP face did not stop within 5 s; leaving it".into()),
            _ => {}
        }
    }
    log("stopped".into());
    Ok(())
}

/// Evaluate the alert conditions and send what they owe; log what was sent and what failed.
async fn check_alerts(
    dr: &Dr,
    alerter: &mut alerts::Alerter,
    state: &DaemonState,
    now: DateTime<Utc>,
    recorded_until: Option<DateTime<Utc>>,
    log: &(dyn Fn(String) + Sync),
) {
    if alerter.silenced().is_some() {
        return;
    }
    let conditions = alerts::conditions::evaluate(dr, state, now, recorded_until).await;
    let ev = alerter.evaluate(&conditions, now).await;
    for key in &ev.opened {
        log(format!("alert: {key} opened"));
    }
    for key in &ev.cleared {
        log(format!("alert: {key} resolved"));
    }
    for d in &ev.deliveries {
        log_delivery(d, log);
    }
    for w in ev.warnings {
        log(format!("warning: {w}"));
    }
}

fn log_delivery(d: &alerts::Delivery, log: &(dyn Fn(String) + Sync)) {
    if !d.delivered {
        log(format!(
            "alert: {} ({}) to {} not delivered: {}; tried again at the next evaluation",
            d.key,
            d.status.as_str(),
            d.channel,
            d.error.as_deref().unwrap_or("no reason given")
        ));
    }
}

/// Run one due job and keep what happened in the state; returns how it ended.
#[allow(clippy::too_many_arguments)]
async fn run_one(
    dr: &Dr,
    due: Due,
    state: &mut DaemonState,
    jobs: &[Job],
    state_dir: &Path,
    clock: &Clock,
    cancel: &Cancel,
    grace: Duration,
    log: &(dyn Fn(String) + Sync),
) -> JobResult {
    let name = due.job.name.clone();
    let started = clock.now();
    let real_start = std::time::Instant::now();
    {
        let j = state.job_mut(&name);
        j.last_slot = Some(due.slot);
        j.last_started = Some(started);
        j.missed_total += due.missed;
    }
    state.running = Some(RunningJob {
        job: name.clone(),
        slot: due.slot,
        started,
    });
    save(state, jobs, state_dir, started, log);
    if due.missed > 0 {
        log(format!(
            "{name}: {} earlier run(s) were missed while the daemon was down or busy; running once for {}",
            due.missed, due.slot
        ));
    }
    log(format!("{name}: starting (scheduled for {})", due.slot));
    let job_cancel = cancel.child_token();
    let work = execute::execute(dr, &due.job, clock, &job_cancel, log);
    tokio::pin!(work);
    // On shutdown the job is cancelled (through the shared token) and given `grace` to stop.
    let ran = tokio::select! {
        ran = &mut work => ran,
        () = async { cancel.cancelled().await; tokio::time::sleep(grace).await } => {
            execute::Ran {
                result: JobResult::Cancelled,
                detail: format!(
                    "did not stop within daemon.shutdown_grace_seconds ({} s) of the shutdown; \
                     abandoned (nothing partial is ever committed: a backup's manifest is written last)",
                    grace.as_secs()
                ),
                attempts: 1,
                cleanup: None,
            }
        }
    };
    let finished = clock.now();
    let j = state.job_mut(&name);
    j.last_finished = Some(finished);
    j.last_result = Some(ran.result);
    if ran.result == JobResult::Cancelled {
        // Stopped before it ended: the slot is still owed, and the next start runs it.
        j.last_slot = Some(unrun(due.slot));
    }
    j.last_detail = Some(ran.detail.clone());
    j.last_attempts = ran.attempts;
    j.last_duration_seconds = Some(secs(real_start.elapsed()));
    match ran.result {
        JobResult::Succeeded => {
            j.successes_total += 1;
            j.last_success = Some(finished);
        }
        JobResult::Failed => {
            j.failures_total += 1;
            j.last_failure = Some(finished);
        }
        JobResult::Cancelled | JobResult::Skipped => {}
    }
    log(format!("{name}: {}: {}", ran.result.as_str(), ran.detail));
    if let Some((result, detail)) = ran.cleanup {
        let c = state.job_mut("cleanup");
        c.last_started = Some(finished);
        c.last_finished = Some(clock.now());
        c.last_result = Some(result);
        c.last_detail = Some(detail.clone());
        match result {
            JobResult::Succeeded => {
                c.successes_total += 1;
                c.last_success = c.last_finished;
            }
            JobResult::Failed => {
                c.failures_total += 1;
                c.last_failure = c.last_finished;
            }
            _ => {}
        }
        log(format!(
            "cleanup after {name}: {}: {detail}",
            result.as_str()
        ));
    }
    state.running = None;
    save(state, jobs, state_dir, clock.now(), log);
    ran.result
}

/// The `last_slot` that leaves `slot` due again (a run that was cancelled or cut short by a
/// crash): an instant just before it.
fn unrun(slot: DateTime<Utc>) -> DateTime<Utc> {
    slot - chrono::TimeDelta::milliseconds(1)
}

/// Write the state with every job's next run; a write that fails is logged, never fatal (the
/// schedules go on; a restart may then repeat a run).
fn save(
    state: &mut DaemonState,
    jobs: &[Job],
    state_dir: &Path,
    now: DateTime<Utc>,
    log: &(dyn Fn(String) + Sync),
) {
    for job in jobs {
        state.job_mut(&job.name).next_run = job.schedule.next_after(now);
    }
    if let Err(e) = state.save(state_dir, now) {
        log(format!("warning: cannot write the daemon state: {e}"));
    }
}

/// Hold `daemon.lock` in the state folder for the process's life: a second daemon on the same
/// state would run every job twice.
fn single_instance(state_dir: &Path) -> Result<File> {
    use std::os::fd::AsRawFd;
    let path = state_dir.join("daemon.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::from_io("open", &path, e))?;
    // SAFETY: flock on a descriptor this function owns; no memory is shared with the call.
    let r = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if r != 0 {
        let pid = DaemonState::load(state_dir).0.pid;
        return Err(Error::new(
            ErrorKind::Locked,
            format!(
                "another daemon is running with the state folder {}{}",
                state_dir.display(),
                pid.map(|p| format!(" (pid {p})")).unwrap_or_default()
            ),
        )
        .with_guidance("stop it first, or give this one its own daemon.state_dir"));
    }
    Ok(file)
}
