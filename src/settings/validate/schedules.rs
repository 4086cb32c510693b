//! `backup.schedules`: each entry resolved into a [`BackupSchedule`]. Its day, time and time zone
//! were parsed with the file (with their lines); what is left is the backup type, which can
//! come from the schedule's name, and the retention keys, taken as they are (any unit for any
//! type; retention itself is decided in `ops::retention`).

use std::collections::BTreeMap;

use super::Problems;
use crate::settings::document::ScheduleDoc;
use crate::settings::keys::keys;
use crate::settings::schedule::{Repeat, Schedule};
use crate::settings::schema::{BackupSchedule, BackupTypeSetting};

/// Resolve every schedule; one whose backup type cannot be told is a problem (and left out).
pub(super) fn resolve(
    schedules: &BTreeMap<String, ScheduleDoc>,
    p: &mut Problems<'_>,
) -> BTreeMap<String, BackupSchedule> {
    let mut out = BTreeMap::new();
    for (name, s) in schedules {
        let Some(backup_type) = s.backup_type.or_else(|| backup_type_from_name(name)) else {
            p.add(
                &keys(&["backup", "schedules", name]),
                "cannot tell which backup type this schedule runs",
                Some(
                    "set backup_type (full, incremental or archival), or end the schedule's name \
                     in _full, _incremental or _archival",
                ),
            );
            continue;
        };
        out.insert(
            name.clone(),
            BackupSchedule {
                enabled: s.enabled,
                backup_type,
                schedule: Schedule {
                    time: s.time.0,
                    timezone: s.timezone.0,
                    repeat: Repeat::from_day(s.day),
                },
                retention_days: s.retention_days,
                retention_weeks: s.retention_weeks,
                retention_months: s.retention_months,
            },
        );
    }
    out
}

/// The backup type a schedule's name gives: its last part after `_` or `-` (or the whole name),
/// in any case: `daily_incremental`, `Weekly-FULL`, `archival`. `None` when that part is not a
/// backup type (`nightly`, `full_copy`).
fn backup_type_from_name(name: &str) -> Option<BackupTypeSetting> {
    let lower = name.to_ascii_lowercase();
    let last = lower.rsplit(['_', '-']).next().unwrap_or(lower.as_str());
    match last {
        "incremental" => Some(BackupTypeSetting::Incremental),
        "full" => Some(BackupTypeSetting::Full),
        "archival" => Some(BackupTypeSetting::Archival),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::settings::test_support::{err_in, load_in, project};
    use chrono::{NaiveTime, Weekday};
    use chrono_tz::Tz;

    #[test]
    fn backup_type_from_the_name_or_the_setting() {
        for (name, t) in [
            ("nightly_incremental", Some(BackupTypeSetting::Incremental)),
            ("Weekly_FULL", Some(BackupTypeSetting::Full)),
            ("weekly-full", Some(BackupTypeSetting::Full)),
            ("archival", Some(BackupTypeSetting::Archival)),
            (
                "full_then_incremental",
                Some(BackupTypeSetting::Incremental),
            ),
            ("nightly", None),
            ("full_copy", None),
            ("", None),
        ] {
            assert_eq!(backup_type_from_name(name), t, "{name}");
        }
        let (_d, root) = project(
            "backup:\n  schedules:\n    nightly:\n      backup_type: archival\n    weekly_full:\n      backup_type: incremental\n",
        );
        let l = load_in(&root, &[]).expect("loads");
        let s = &l.settings.backup.schedules;
        assert_eq!(s["nightly"].backup_type, BackupTypeSetting::Archival);
        assert_eq!(s["weekly_full"].backup_type, BackupTypeSetting::Incremental);

        let (_d, root) = project("backup:\n  schedules:\n    nightly:\n      time: \"01:00\"\n");
        let e = err_in(&root, &[]);
        assert_eq!(e.kind, ErrorKind::Settings);
        assert!(
            e.message.contains(
                "settings/mahavishnu.yaml: backup.schedules.nightly: cannot tell which backup type"
            ),
            "{e}"
        );
        assert!(e.guidance.as_deref().unwrap_or("").contains("backup_type"));
    }

    #[test]
    fn schedules_resolve_to_the_one_schedule_type() {
        let (_d, root) = project(
            "backup:\n  schedules:\n    daily_incremental: {}\n    weekly_full:\n      day: SUN\n      time: \"3:30\"\n      timezone: Europe/Berlin\n    monthly_archival:\n      day: \"31\"\n      enabled: false\n      retention_months: 12\n",
        );
        let l = load_in(&root, &[]).expect("loads");
        let s = &l.settings.backup.schedules;
        let daily = &s["daily_incremental"];
        assert!(daily.enabled);
        assert_eq!(
            daily.schedule,
            Schedule {
                time: NaiveTime::from_hms_opt(2, 0, 0).unwrap(),
                timezone: Tz::UTC,
                repeat: Repeat::Daily
            }
        );
        let weekly = &s["weekly_full"].schedule;
        assert_eq!(weekly.repeat, Repeat::Weekly(Weekday::Sun));
        assert_eq!(weekly.time, NaiveTime::from_hms_opt(3, 30, 0).unwrap());
        assert_eq!(weekly.timezone, Tz::Europe__Berlin);
        let monthly = &s["monthly_archival"];
        assert!(!monthly.enabled);
        assert_eq!(monthly.schedule.repeat, Repeat::Monthly(31));
        assert_eq!(monthly.retention_months, Some(12));
        // Shown as a settings file writes it, the backup type written out.
        let j = l.redacted_json();
        assert_eq!(
            j["backup"]["schedules"]["weekly_full"],
            serde_json::json!({
                "enabled": true, "backup_type": "full", "time": "03:30",
                "timezone": "Europe/Berlin", "day": "sunday", "retention_days": null,
                "retention_weeks": null, "retention_months": null
            })
        );
        assert_eq!(j["backup"]["schedules"]["monthly_archival"]["day"], 31);
    }

    #[test]
    fn bad_schedule_values_name_the_key_and_the_line() {
        for (yaml, key, line, needle) in [
            ("      time: \"25:00\"\n", "time", 4, "HH:MM"),
            ("      time: \"2am\"\n", "time", 4, "HH:MM"),
            ("      timezone: Mars/Olympus\n", "timezone", 4, "IANA"),
            ("      timezone: \"\"\n", "timezone", 4, "IANA"),
            (
                "      enabled: true\n      day: sundy\n",
                "day",
                5,
                "three-letter",
            ),
            ("      day: 0\n", "day", 4, "day of the month (1..=31)"),
            ("      day: 32\n", "day", 4, "day of the month (1..=31)"),
        ] {
            let (_d, root) = project(&format!("backup:\n  schedules:\n    s_full:\n{yaml}"));
            let e = err_in(&root, &[]);
            assert_eq!(e.kind, ErrorKind::Settings);
            let want = format!("settings/mahavishnu.yaml: backup.schedules.s_full.{key}");
            assert!(e.message.contains(&want), "{yaml}: {e}");
            assert!(e.message.contains(&format!("line {line}")), "{yaml}: {e}");
            assert!(e.message.contains(needle), "{yaml}: {e}");
        }
        // From the environment: the variable is named.
        let (_d, root) = project("backup:\n  schedules:\n    s_full: {}\n");
        let e = err_in(
            &root,
            &[("MAHAVISHNU_BACKUP__SCHEDULES__S_FULL__DAY", "someday")],
        );
        assert!(
            e.message
                .contains("environment variable MAHAVISHNU_BACKUP__SCHEDULES__S_FULL__DAY"),
            "{e}"
        );
        assert!(e.message.contains("three-letter"), "{e}");
        let l = load_in(
            &root,
            &[("MAHAVISHNU_BACKUP__SCHEDULES__S_FULL__DAY", "sun")],
        )
        .expect("sun from the environment");
        assert_eq!(
            l.settings.backup.schedules["s_full"].schedule.repeat,
            Repeat::Weekly(Weekday::Sun)
        );
    }
}
