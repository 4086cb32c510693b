//! The daemon's state file (machinery: the daemon writes it; health, metrics and
//! `schedule_status` read it): per job, the slot it last ran for, how that run ended, and
//! counters; written atomically after every change, so a restart knows what it missed and
//! `/health`, `/metrics` and `schedule_status` can say what ran.
//!
//! The file is `state.json` in `daemon.state_dir` (private to the host: 0700 folder, 0600 file).
//! It is versioned; a file of an unknown version, or one that does not parse, is set aside as
//! `state.json.unreadable` and the daemon starts afresh (it then catches up each job once).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The version of `state.json` this build writes and reads.
pub const STATE_VERSION: u32 = 1;

/// The file name in `daemon.state_dir`.
pub const STATE_FILE: &str = "state.json";
/// The name continuous protection's points have in the state, beside the scheduled jobs.
pub const CONTINUOUS_JOB: &str = "continuous";

/// The whole state file. Missing keys read as their defaults (a later version's file that only
/// adds keys still reads).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct DaemonState {
    pub version: u32,
    /// When the daemon that wrote this started.
    pub started_at: Option<DateTime<Utc>>,
    /// When the file was last written.
    pub updated_at: Option<DateTime<Utc>>,
    /// The process id of the daemon that wrote it.
    pub pid: Option<u32>,
    /// When that daemon stopped (cleanly); None while it runs, or after a crash.
    pub stopped_at: Option<DateTime<Utc>>,
    /// The job running now, if any.
    pub running: Option<RunningJob>,
    /// Per job, by job name (a backup schedule's name, `validation`, `automated_tests`,
    /// `drills`).
    pub jobs: BTreeMap<String, JobState>,
}

/// The job a daemon is running.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RunningJob {
    pub job: String,
    pub slot: DateTime<Utc>,
    pub started: DateTime<Utc>,
}

/// How one run of a job ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobResult {
    /// It ran and passed (a validation without problems, a restore test or drill that passed).
    Succeeded,
    /// It ran to its end and found a problem (a validation with problems, a failed restore
    /// test or drill), or could not run (after every attempt, for a backup).
    Failed,
    /// The daemon was stopped while it ran; nothing partial was committed.
    Cancelled,
    /// Disabled in the settings when it came due (e.g. `backup.enabled: false`).
    Skipped,
}

impl JobResult {
    pub fn as_str(self) -> &'static str {
        match self {
            JobResult::Succeeded => "succeeded",
            JobResult::Failed => "failed",
            JobResult::Cancelled => "cancelled",
            JobResult::Skipped => "skipped",
        }
    }
}

/// What the daemon remembers of one job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default)]
pub struct JobState {
    /// The scheduled instant the last run was for (a caught-up run is for the newest missed
    /// slot; the slots before it are counted in `missed_total`, not run).
    pub last_slot: Option<DateTime<Utc>>,
    pub last_started: Option<DateTime<Utc>>,
    pub last_finished: Option<DateTime<Utc>>,
    pub last_result: Option<JobResult>,
    /// What the last run said: the backup id made, or why it failed.
    pub last_detail: Option<String>,
    pub last_duration_seconds: Option<f64>,
    /// Attempts the last run took (backups retry with backoff).
    pub last_attempts: u32,
    pub last_success: Option<DateTime<Utc>>,
    pub last_failure: Option<DateTime<Utc>>,
    pub successes_total: u64,
    pub failures_total: u64,
    /// Slots that passed while the daemon was down or busy and were folded into one catch-up.
    pub missed_total: u64,
    /// The job's next scheduled run, as of the last write.
    pub next_run: Option<DateTime<Utc>>,
}

impl DaemonState {
    pub fn new() -> DaemonState {
        DaemonState {
            version: STATE_VERSION,
            ..Default::default()
        }
    }

    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(STATE_FILE)
    }

    /// Read the state file; a missing file is a fresh state. An unreadable one is moved aside
    /// (returned as a warning) and a fresh state returned: the daemon must start regardless.
    pub fn load(state_dir: &Path) -> (DaemonState, Option<String>) {
        let (state, warning) = load_versioned(
            &Self::path(state_dir),
            STATE_VERSION,
            |s: &DaemonState| s.version,
            "the daemon state",
            "each job is caught up once",
        );
        (state.unwrap_or_else(Self::new), warning)
    }

    /// Read the state file without changing anything (for readers other than the daemon);
    /// None when it is missing or unreadable.
    pub fn load_readonly(state_dir: &Path) -> Option<DaemonState> {
        let bytes = std::fs::read(Self::path(state_dir)).ok()?;
        serde_json::from_slice::<DaemonState>(&bytes)
            .ok()
            .filter(|s| s.version == STATE_VERSION)
    }

    /// Write the state atomically (a temporary file in the same folder, synced, renamed).
    pub fn save(&mut self, state_dir: &Path, now: DateTime<Utc>) -> Result<()> {
        self.version = STATE_VERSION;
        self.updated_at = Some(now);
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::io(format!("cannot encode the daemon state: {e}")))?;
        crate::atomic_file::write(&Self::path(state_dir), &bytes, Some(0o600))
    }

    /// The daemon that wrote this is running: it has not stopped, and its process is alive.
    pub fn daemon_running(&self) -> bool {
        self.stopped_at.is_none()
            && self.pid.is_some_and(|p| {
                libc::pid_t::try_from(p).is_ok_and(|p| {
                    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
                    unsafe { libc::kill(p, 0) == 0 || *libc::__errno_location() == libc::EPERM }
                })
            })
    }

    pub fn job(&self, name: &str) -> Option<&JobState> {
        self.jobs.get(name)
    }

    pub fn job_mut(&mut self, name: &str) -> &mut JobState {
        self.jobs.entry(name.to_string()).or_default()
    }
}

/// Read a versioned JSON file of the state folder (`what` names it in the warning). Missing:
/// None, silently. Unreadable, unparsable or of another version: None, the file moved aside
/// as `NAME.unreadable`, and a warning that says so and what follows (`then`).
pub fn load_versioned<T: serde::de::DeserializeOwned>(
    path: &Path,
    version: u32,
    version_of: impl Fn(&T) -> u32,
    what: &str,
    then: &str,
) -> (Option<T>, Option<String>) {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (None, None),
        Err(e) => {
            return (
                None,
                Some(format!(
                    "cannot read {what} {}: {e}; {then}",
                    path.display()
                )),
            );
        }
    };
    let why = match serde_json::from_slice::<T>(&bytes) {
        Ok(v) if version_of(&v) == version => return (Some(v), None),
        Ok(v) => format!(
            "it is version {}, this build reads {version}",
            version_of(&v)
        ),
        Err(e) => format!("it does not parse: {e}"),
    };
    let mut aside = path.as_os_str().to_owned();
    aside.push(".unreadable");
    let aside = PathBuf::from(aside);
    let _ = std::fs::rename(path, &aside);
    (
        None,
        Some(format!(
            "{what} {} was set aside as {} ({why}); {then}",
            path.display(),
            aside.display()
        )),
    )
}

/// Create the state folder (0700) when missing.
pub fn ensure_state_dir(state_dir: &Path) -> Result<()> {
    super::private_dir::ensure_private_dir(state_dir, super::private_dir::Role::DaemonState)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A state folder other users could write is refused (they could make the daemon skip a
    /// run or forget an alert); a missing one is created private.
    #[test]
    fn a_state_folder_others_can_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let fresh = d.path().join("state/daemon");
        ensure_state_dir(&fresh).unwrap();
        let mode = std::fs::metadata(&fresh).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_state_dir(&fresh).unwrap_err();
        assert!(e.message.contains("writable by other users"), "{e}");
        let guidance = e.guidance.unwrap_or_default();
        assert!(
            guidance.contains("chmod 700") && guidance.contains("daemon.state_dir"),
            "{guidance}"
        );
    }

    #[test]
    fn a_state_round_trips_and_a_bad_one_is_set_aside() {
        let d = tempfile::tempdir().unwrap();
        let (s, w) = DaemonState::load(d.path());
        assert!(w.is_none());
        assert_eq!(s, DaemonState::new());
        let mut s = s;
        let j = s.job_mut("daily_incremental");
        j.successes_total = 2;
        j.last_result = Some(JobResult::Succeeded);
        s.save(d.path(), Utc::now()).unwrap();
        let (back, w) = DaemonState::load(d.path());
        assert!(w.is_none());
        assert_eq!(back.job("daily_incremental").unwrap().successes_total, 2);
        std::fs::write(DaemonState::path(d.path()), b"{not json").unwrap();
        let (fresh, w) = DaemonState::load(d.path());
        assert!(fresh.jobs.is_empty());
        assert!(
            w.unwrap().contains("set aside"),
            "warning names what happened"
        );
        assert!(d.path().join("state.json.unreadable").exists());
    }
}
