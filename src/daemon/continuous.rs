//! Continuous protection in the daemon: the watch on the covered path sources, whether a point
//! is owed, and making it (the base backup first when there is none). Points run between the
//! scheduled jobs, one at a time like them.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;

use super::clock::Clock;
use super::watch::{self, ChangeSet, Watch, WatchOptions};
use crate::error::{ErrorKind, Result};
use crate::ops::backup::{BackupOptions, BackupStatus, PointOptions};
use crate::ops::daemon_state::{DaemonState, JobResult};
use crate::ops::{Cancel, Dr, NoProgress, secs};
use crate::repo::keys::is_point_id;

pub use crate::ops::daemon_state::CONTINUOUS_JOB as JOB;

/// Raw events queued before the debouncer; more make the next point a rescan.
const QUEUE: usize = 65_536;

/// The pause before a failed point is tried again.
const RETRY_PAUSE: Duration = Duration::from_secs(20);

pub struct Continuous {
    watch: Watch,
    /// Folders whose changes are the tool's own (the repository, scratch, the daemon's state).
    ignore: Vec<PathBuf>,
    /// A change not yet in a point (true at start: what changed while the daemon was down).
    pub owed: bool,
    /// The point this daemon made last (spares listing the points).
    last_point: Option<String>,
    /// After a failed point, the next try waits until then.
    retry_after: Option<std::time::Instant>,
    /// Every change up to this instant is in a point or a backup (None before the first).
    recorded: Option<DateTime<Utc>>,
}

impl Continuous {
    /// Start watching when `backup.continuous` is enabled (and backups are).
    pub fn start(dr: &Dr) -> Result<Option<Continuous>> {
        let s = &dr.settings().settings;
        let c = &s.backup.continuous;
        if !c.enabled || !s.backup.enabled {
            return Ok(None);
        }
        let roots: Vec<PathBuf> = dr
            .settings()
            .continuous_sources()?
            .into_iter()
            .map(|(p, _)| p)
            .collect();
        let watch = watch::watch(
            &roots,
            WatchOptions {
                debounce: Duration::from_secs(c.debounce_seconds),
                max_delay: Duration::from_secs(c.max_delay_seconds),
                queue: QUEUE,
            },
        )?;
        let mut ignore = dr.settings().store_dirs();
        ignore.push(s.disaster_recovery.restore_test.scratch_dir.clone());
        ignore.push(s.daemon.state_dir.clone());
        ignore.push(s.backup.encryption.key_path.clone());
        let ignore = ignore
            .into_iter()
            .map(|p| std::fs::canonicalize(&p).unwrap_or(p))
            .collect();
        Ok(Some(Continuous {
            watch,
            ignore,
            owed: true,
            last_point: None,
            retry_after: None,
            recorded: None,
        }))
    }

    /// The instant up to which every change is recorded: `now` when no point is owed (the
    /// watch saw nothing since the last point), else the last point's (or None).
    pub fn recorded_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.recorded {
            Some(_) if !self.owed => Some(now),
            r => r,
        }
    }

    /// Whether a point should be made now.
    pub fn due(&self) -> bool {
        self.owed
            && self
                .retry_after
                .is_none_or(|t| std::time::Instant::now() >= t)
    }

    /// The next change set that concerns the sources (never returns when the watch ended).
    pub async fn changed(&mut self) -> ChangeSet {
        loop {
            match self.watch.changes.recv().await {
                Some(set) if set.rescan || set.paths.iter().any(|p| self.relevant(p)) => {
                    return set;
                }
                Some(_) => {}
                None => std::future::pending::<()>().await,
            }
        }
    }

    fn relevant(&self, p: &std::path::Path) -> bool {
        let subject = watch::subject(p);
        !self.ignore.iter().any(|i| subject.starts_with(i))
    }

    /// Make the owed point; with no backup to build on, make that backup instead (it holds
    /// the state). Cancelled on shutdown within `grace`.
    pub async fn run_point(
        &mut self,
        dr: &Dr,
        state: &mut DaemonState,
        clock: &Clock,
        cancel: &Cancel,
        grace: Duration,
        log: &(dyn Fn(String) + Sync),
    ) -> JobResult {
        self.owed = false;
        let started = clock.now();
        let t0 = std::time::Instant::now();
        let job_cancel = cancel.child_token();
        let previous = self.last_point.clone();
        let work = async {
            let opts = PointOptions { previous };
            match dr
                .record_point(&opts, Arc::new(NoProgress), &job_cancel)
                .await
            {
                Err(e) if e.kind == ErrorKind::NotFound => {
                    log(format!(
                        "{JOB}: {}; making a backup to build the points on",
                        e.message
                    ));
                    let opts = BackupOptions {
                        scheduled: true,
                        ..BackupOptions::default()
                    };
                    dr.backup(&opts, Arc::new(NoProgress), &job_cancel).await
                }
                r => r,
            }
        };
        let r = tokio::select! {
            r = work => Some(r),
            () = async { cancel.cancelled().await; tokio::time::sleep(grace).await } => None,
        };
        let (result, detail) = match r {
            None => (
                JobResult::Cancelled,
                "did not stop within the shutdown grace; abandoned (nothing partial is visible)"
                    .to_string(),
            ),
            Some(Ok(resp)) if resp.status == BackupStatus::Completed => {
                self.retry_after = None;
                self.recorded = resp.started;
                if let Some(id) = resp.backup_id.as_ref().filter(|id| is_point_id(id)) {
                    self.last_point = Some(id.clone());
                }
                (JobResult::Succeeded, resp.message)
            }
            Some(Ok(resp)) => {
                // Nothing changed since the last point or backup: everything up to now is held.
                self.retry_after = None;
                self.recorded = Some(started);
                (JobResult::Skipped, resp.message)
            }
            Some(Err(e)) if e.kind == ErrorKind::Cancelled => {
                (JobResult::Cancelled, e.message.clone())
            }
            Some(Err(e)) => {
                // Try again after a pause (or sooner, with the next change).
                self.owed = true;
                self.retry_after = Some(std::time::Instant::now() + RETRY_PAUSE);
                (JobResult::Failed, e.to_string())
            }
        };
        let finished = clock.now();
        let j = state.job_mut(JOB);
        j.last_started = Some(started);
        j.last_finished = Some(finished);
        j.last_duration_seconds = Some(secs(t0.elapsed()));
        match result {
            JobResult::Succeeded => {
                j.successes_total += 1;
                j.last_success = Some(finished);
                j.last_result = Some(result);
                j.last_detail = Some(detail.clone());
            }
            JobResult::Failed => {
                j.failures_total += 1;
                j.last_failure = Some(finished);
                j.last_result = Some(result);
                j.last_detail = Some(detail.clone());
            }
            // "Nothing changed" is not news: the last point's result stays.
            JobResult::Skipped => {}
            JobResult::Cancelled => {
                self.owed = true;
                j.last_result = Some(result);
                j.last_detail = Some(detail.clone());
            }
        }
        if result != JobResult::Skipped {
            log(format!("{JOB}: {}: {detail}", result.as_str()));
        }
        result
    }
}
