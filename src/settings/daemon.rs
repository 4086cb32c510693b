//! `daemon`: the long-running process's settings: where it keeps its state, how it retries a
//! failed backup, how long a running job gets to stop on shutdown, cleanup after each backup,
//! and the scheduled validation.

use std::path::PathBuf;

use chrono::Weekday;
use chrono_tz::Tz;
use serde::{Serialize, Serializer};

use super::disaster_recovery::hm;
use super::schedule::{Repeat, Schedule, WrittenSchedule};
use crate::repo::kind::ValidationLevel;

/// `daemon`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DaemonSettings {
    /// The daemon's state (last run and result per job, open alerts); private to this host.
    pub state_dir: PathBuf,
    /// How many times a scheduled backup is tried before it counts as failed (and alerts).
    pub backup_attempts: u32,
    /// The wait before the second attempt; it doubles for each further attempt.
    pub retry_backoff_seconds: u64,
    /// On SIGTERM or SIGINT a running job is cancelled; this long is allowed for it to stop
    /// (nothing partial is committed either way) before the process exits regardless.
    pub shutdown_grace_seconds: u64,
    /// Apply the retention policy (cleanup) after each successful scheduled backup.
    pub cleanup_after_backup: bool,
    pub validation: ScheduledValidation,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        DaemonSettings {
            state_dir: PathBuf::from("./state/daemon"),
            backup_attempts: 3,
            retry_backoff_seconds: 60,
            shutdown_grace_seconds: 30,
            cleanup_after_backup: true,
            validation: ScheduledValidation::default(),
        }
    }
}

/// `daemon.validation`: a validation of the whole repository on a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledValidation {
    pub enabled: bool,
    pub schedule: Schedule,
    pub level: ValidationLevel,
}

impl Default for ScheduledValidation {
    fn default() -> Self {
        ScheduledValidation {
            enabled: true,
            schedule: Schedule {
                time: hm(4, 30),
                timezone: Tz::UTC,
                repeat: Repeat::Weekly(Weekday::Wed),
            },
            level: ValidationLevel::Full,
        }
    }
}

/// As the file writes it: `{enabled, schedule, day, time, timezone, level}`.
impl Serialize for ScheduledValidation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct AsWritten {
            enabled: bool,
            #[serde(flatten)]
            when: WrittenSchedule,
            level: ValidationLevel,
        }
        AsWritten {
            enabled: self.enabled,
            when: (&self.schedule).into(),
            level: self.level,
        }
        .serialize(s)
    }
}
