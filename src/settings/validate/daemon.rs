//! Checks of the `daemon` section: at least one backup attempt, and the scheduled validation
//! resolved into the one [`Schedule`](crate::settings::Schedule) type.

use chrono::Weekday;

use super::Problems;
use super::disaster_recovery::{When, schedule_of};
use crate::settings::daemon::{DaemonSettings, ScheduledValidation};
use crate::settings::document::DaemonDoc;
use crate::settings::keys::keys;
use crate::settings::schedule::{DaySetting, Frequency};

/// Without `day`: weekly on Wednesday, monthly on day 1.
fn validation_day(f: Frequency) -> Option<DaySetting> {
    match f {
        Frequency::Daily => None,
        Frequency::Weekly => Some(DaySetting::Weekday(Weekday::Wed)),
        Frequency::Monthly => Some(DaySetting::OfMonth(1)),
    }
}

pub(super) fn resolve(d: DaemonDoc, p: &mut Problems<'_>) -> DaemonSettings {
    if d.backup_attempts < 1 {
        p.add(
            &keys(&["daemon", "backup_attempts"]),
            "must be at least 1 (the first try)",
            None,
        );
    }
    let v = &d.validation;
    let validation = ScheduledValidation {
        enabled: v.enabled,
        schedule: schedule_of(
            When {
                path: &["daemon", "validation"],
                default_day: validation_day,
                frequency_key: "schedule",
                frequency: v.schedule,
                day: v.day,
                time: v.time,
                timezone: v.timezone,
            },
            p,
        ),
        level: v.level,
    };
    DaemonSettings {
        state_dir: d.state_dir,
        backup_attempts: d.backup_attempts,
        retry_backoff_seconds: d.retry_backoff_seconds,
        shutdown_grace_seconds: d.shutdown_grace_seconds,
        cleanup_after_backup: d.cleanup_after_backup,
        validation,
    }
}
