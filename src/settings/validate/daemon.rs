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

#[cfg(test)]
mod tests {
    use crate::repo::kind::ValidationLevel;
    use crate::settings::Repeat;
    use crate::settings::test_support::{err_in, load_in, project, seed_settings};
    use chrono::Weekday;

    #[test]
    fn the_seed_gets_the_defaults_and_the_environment_overrides_them() {
        let s = seed_settings();
        assert_eq!(s.daemon.backup_attempts, 3);
        assert_eq!(s.daemon.validation.level, ValidationLevel::Full);
        assert_eq!(
            s.daemon.validation.schedule.repeat,
            Repeat::Weekly(Weekday::Wed)
        );
        let (_d, root) = project("daemon:\n  validation: {schedule: monthly, level: quick}\n");
        let l = load_in(
            &root,
            &[
                ("MAHAVISHNU_DAEMON__BACKUP_ATTEMPTS", "5"),
                ("MAHAVISHNU_DAEMON__STATE_DIR", "var/daemon"),
            ],
        )
        .expect("loads");
        assert_eq!(l.settings.daemon.backup_attempts, 5);
        assert_eq!(l.settings.daemon.state_dir, root.join("var/daemon"));
        assert_eq!(
            l.settings.daemon.validation.schedule.repeat,
            Repeat::Monthly(1)
        );
        assert_eq!(l.settings.daemon.validation.level, ValidationLevel::Quick);
    }

    #[test]
    fn bad_daemon_settings_name_the_key() {
        let (_d, root) =
            project("daemon:\n  backup_attempts: 0\n  validation: {schedule: weekly, day: 15}\n");
        let e = err_in(&root, &[]).to_string();
        assert!(e.contains("daemon.backup_attempts"), "{e}");
        assert!(e.contains("daemon.validation.day"), "{e}");
        let (_d, root) = project("daemon:\n  validation: {level: thorough}\n");
        let e = err_in(&root, &[]).to_string();
        assert!(e.contains("daemon.validation.level"), "{e}");
    }
}
