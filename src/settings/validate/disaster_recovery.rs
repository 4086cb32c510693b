//! The `disaster_recovery` section: the RTO and RPO targets, and the automated tests and drills
//! resolved into the one [`Schedule`] type: their frequency and day together give the
//! repetition (a weekly schedule needs a weekday, a monthly one a day of the month), and the
//! drill scenarios become typed entries with the targets they are judged against.

use super::Problems;
use crate::settings::disaster_recovery::{
    AutomatedTests, DisasterRecoverySettings, DrillScenarioSettings, Drills, default_day,
};
use crate::settings::document::{DisasterRecoveryDoc, DrillScenarioDoc};
use crate::settings::keys::{Seg, index_key, keys};
use crate::settings::schedule::{
    DaySetting, Frequency, Repeat, Schedule, TimeOfDay, Timezone, weekday_name,
};

/// Check the targets and resolve the schedules and scenarios.
pub(super) fn resolve(dr: &DisasterRecoveryDoc, p: &mut Problems<'_>) -> DisasterRecoverySettings {
    for (key, value) in [
        ("rto_target_minutes", dr.rto_target_minutes),
        ("rpo_target_minutes", dr.rpo_target_minutes),
    ] {
        if value < 1 {
            p.add(
                &keys(&["disaster_recovery", key]),
                "must be at least 1 (minute)",
                None,
            );
        }
    }
    let at = &dr.automated_tests;
    let automated_tests = AutomatedTests {
        enabled: at.enabled,
        schedule: schedule_of(
            When {
                path: &["disaster_recovery", "automated_tests"],
                default_day,
                frequency_key: "schedule",
                frequency: at.schedule,
                day: at.day,
                time: at.time,
                timezone: at.timezone,
            },
            p,
        ),
    };
    let d = &dr.drills;
    let mut scenarios: Vec<DrillScenarioSettings> = Vec::new();
    for (i, doc) in d.scenarios.iter().enumerate() {
        let scenario = doc.scenario();
        if let Some(j) = d.scenarios[..i]
            .iter()
            .position(|s| s.scenario() == scenario)
        {
            p.add(
                &index_key(&["disaster_recovery", "drills", "scenarios"], i),
                format!("{scenario} is listed twice (also scenarios[{j}])"),
                Some("list each drill scenario once"),
            );
            continue;
        }
        let mut resolved = DrillScenarioSettings::plan(scenario);
        if let DrillScenarioDoc::Entry(e) = doc {
            for (name, value) in [
                ("rto_target_minutes", e.rto_target_minutes),
                ("rpo_target_minutes", e.rpo_target_minutes),
            ] {
                if value == Some(0) {
                    let mut key = index_key(&["disaster_recovery", "drills", "scenarios"], i);
                    key.push(Seg::Key(name.to_string()));
                    p.add(&key, "must be at least 1 (minute)", None);
                }
            }
            if let Some(rto) = e.rto_target_minutes {
                resolved.rto_target_minutes = Some(rto);
            }
            if let Some(rpo) = e.rpo_target_minutes {
                resolved.rpo_target_minutes = rpo;
            }
        }
        scenarios.push(resolved);
    }
    let drills = Drills {
        enabled: d.enabled,
        schedule: schedule_of(
            When {
                path: &["disaster_recovery", "drills"],
                default_day,
                frequency_key: "frequency",
                frequency: d.frequency,
                day: d.day,
                time: d.time,
                timezone: d.timezone,
            },
            p,
        ),
        scenarios,
    };
    DisasterRecoverySettings {
        rto_target_minutes: dr.rto_target_minutes,
        rpo_target_minutes: dr.rpo_target_minutes,
        automated_tests,
        drills,
        restore_test: dr.restore_test.clone(),
    }
}

/// The keys of one test or drill schedule, as the file gives them.
pub(super) struct When {
    /// The section's key path (`disaster_recovery.drills`, `daemon.validation`).
    pub path: &'static [&'static str],
    /// The day a weekly or monthly schedule runs on without `day`.
    pub default_day: fn(Frequency) -> Option<DaySetting>,
    /// The key of the frequency: `schedule` or `frequency`.
    pub frequency_key: &'static str,
    pub frequency: Frequency,
    pub day: Option<DaySetting>,
    pub time: TimeOfDay,
    pub timezone: Timezone,
}

/// The schedule `w` gives. A day that does not fit the frequency is a problem (reported at
/// `day`); the frequency's default day then stands in, and the load fails anyway.
pub(super) fn schedule_of(w: When, p: &mut Problems<'_>) -> Schedule {
    let fk = w.frequency_key;
    let mismatch = match (w.frequency, w.day) {
        (Frequency::Daily, Some(day)) => Some(format!(
            "a daily schedule runs every day and takes no day (`day: {day}` given); remove \
             `day`, or set {fk} to weekly or monthly"
        )),
        (Frequency::Weekly, Some(DaySetting::OfMonth(d))) => Some(format!(
            "{d} is a day of the month, but {fk} is weekly: give a weekday (monday..sunday, or \
             mon..sun), or set {fk} to monthly"
        )),
        (Frequency::Monthly, Some(DaySetting::Weekday(wd))) => Some(format!(
            "{} is a weekday, but {fk} is monthly: give a day of the month (1..=31), or set \
             {fk} to weekly",
            weekday_name(wd)
        )),
        _ => None,
    };
    let day = match mismatch {
        Some(msg) => {
            let mut key = keys(w.path);
            key.push(Seg::Key("day".to_string()));
            p.add(&key, msg, None);
            (w.default_day)(w.frequency)
        }
        None => w.day.or_else(|| (w.default_day)(w.frequency)),
    };
    let repeat = match (w.frequency, day) {
        (Frequency::Daily, _) => Repeat::Daily,
        (_, day) => Repeat::from_day(day),
    };
    Schedule {
        time: w.time.0,
        timezone: w.timezone.0,
        repeat,
    }
}

#[cfg(test)]
mod tests {
    use crate::error::ErrorKind;
    use crate::settings::test_support::{err_in, load_in, project};
    use crate::settings::{DrillScenario, Repeat};
    use chrono::{DateTime, NaiveTime, Utc, Weekday};
    use chrono_tz::Tz;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn an_automated_test_timezone_is_applied() {
        let (_d, root) = project(
            "disaster_recovery:\n  automated_tests:\n    schedule: weekly\n    day: saturday\n    time: \"05:00\"\n    timezone: America/New_York\n",
        );
        let l = load_in(&root, &[]).expect("loads");
        let t = &l.settings.disaster_recovery.automated_tests;
        assert_eq!(t.schedule.timezone, Tz::America__New_York);
        assert_eq!(t.schedule.repeat, Repeat::Weekly(Weekday::Sat));
        // Thursday 2026-01-15: the next test is Saturday 05:00 in New York (EST, -05:00).
        assert_eq!(
            t.schedule.next_after(utc("2026-01-15T10:00:00Z")),
            Some(utc("2026-01-17T10:00:00Z"))
        );
        assert_eq!(
            t.schedule.cadence(),
            "weekly on saturday at 05:00 America/New_York"
        );
        // Without a timezone: UTC, like a backup schedule without one.
        let (_d, root) = project("disaster_recovery:\n  automated_tests:\n    time: \"05:00\"\n");
        let l = load_in(&root, &[]).expect("loads");
        let t = &l.settings.disaster_recovery.automated_tests;
        assert_eq!(t.schedule.timezone, Tz::UTC);
        assert_eq!(
            t.schedule.next_after(utc("2026-01-15T10:00:00Z")),
            Some(utc("2026-01-17T05:00:00Z"))
        );
        // From the environment; a bad zone is refused naming the variable.
        let l = load_in(
            &root,
            &[(
                "MAHAVISHNU_DISASTER_RECOVERY__AUTOMATED_TESTS__TIMEZONE",
                "Asia/Tokyo",
            )],
        )
        .expect("loads");
        assert_eq!(
            l.settings
                .disaster_recovery
                .automated_tests
                .schedule
                .timezone,
            Tz::Asia__Tokyo
        );
        let e = err_in(
            &root,
            &[(
                "MAHAVISHNU_DISASTER_RECOVERY__AUTOMATED_TESTS__TIMEZONE",
                "Tokyo",
            )],
        );
        assert!(
            e.message
                .contains("MAHAVISHNU_DISASTER_RECOVERY__AUTOMATED_TESTS__TIMEZONE"),
            "{e}"
        );
        assert!(e.message.contains("IANA"), "{e}");
        // In the file: its line.
        let (_d, root) =
            project("disaster_recovery:\n  automated_tests:\n    timezone: Europe/Atlantis\n");
        let e = err_in(&root, &[]);
        assert!(
            e.message
                .contains("settings/mahavishnu.yaml: disaster_recovery.automated_tests.timezone"),
            "{e}"
        );
        assert!(e.message.contains("line 3"), "{e}");
    }

    #[test]
    fn default_days_and_times_by_frequency() {
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        for (yaml, tests, drills) in [
            ("", Repeat::Weekly(Weekday::Sat), Repeat::Monthly(1)),
            (
                "  automated_tests:\n    schedule: monthly\n  drills:\n    frequency: weekly\n",
                Repeat::Monthly(1),
                Repeat::Weekly(Weekday::Sat),
            ),
            (
                "  automated_tests:\n    schedule: DAILY\n  drills:\n    frequency: Daily\n",
                Repeat::Daily,
                Repeat::Daily,
            ),
            (
                "  automated_tests:\n    schedule: monthly\n    day: 31\n  drills:\n    day: \"15\"\n",
                Repeat::Monthly(31),
                Repeat::Monthly(15),
            ),
        ] {
            let (_d, root) = project(&format!("disaster_recovery:\n{yaml}"));
            let l = load_in(&root, &[]).expect("loads");
            let dr = &l.settings.disaster_recovery;
            assert_eq!(dr.automated_tests.schedule.repeat, tests, "{yaml}");
            assert_eq!(dr.automated_tests.schedule.time, hm(5, 0), "{yaml}");
            assert_eq!(dr.drills.schedule.repeat, drills, "{yaml}");
            assert_eq!(dr.drills.schedule.time, hm(6, 0), "{yaml}");
            assert_eq!(dr.drills.schedule.timezone, Tz::UTC, "{yaml}");
        }
    }

    #[test]
    fn a_day_that_does_not_fit_the_frequency_is_refused() {
        for (yaml, key, needle) in [
            (
                "  automated_tests:\n    schedule: weekly\n    day: 15\n",
                "automated_tests.day",
                "15 is a day of the month, but schedule is weekly",
            ),
            (
                "  automated_tests:\n    schedule: monthly\n    day: sat\n",
                "automated_tests.day",
                "saturday is a weekday, but schedule is monthly",
            ),
            (
                "  drills:\n    frequency: daily\n    day: 1\n",
                "drills.day",
                "a daily schedule runs every day and takes no day",
            ),
            (
                "  drills:\n    day: friday\n",
                "drills.day",
                "friday is a weekday, but frequency is monthly",
            ),
        ] {
            let (_d, root) = project(&format!("disaster_recovery:\n{yaml}"));
            let e = err_in(&root, &[]);
            assert_eq!(e.kind, ErrorKind::Settings);
            let want = format!("settings/mahavishnu.yaml: disaster_recovery.{key}: {needle}");
            assert!(e.message.contains(&want), "{yaml}: {e}");
        }
        // The frequency from the environment, the day from the file: the file is named for the day.
        let (_d, root) = project("disaster_recovery:\n  drills:\n    day: 1\n");
        let e = err_in(
            &root,
            &[("MAHAVISHNU_DISASTER_RECOVERY__DRILLS__FREQUENCY", "weekly")],
        );
        assert!(
            e.message
                .contains("settings/mahavishnu.yaml: disaster_recovery.drills.day: 1 is a day"),
            "{e}"
        );
        let e = err_in(
            &root,
            &[("MAHAVISHNU_DISASTER_RECOVERY__DRILLS__FREQUENCY", "hourly")],
        );
        assert!(e.message.contains("daily, weekly or monthly"), "{e}");
    }

    #[test]
    fn an_unknown_drill_scenario_is_refused_with_file_and_line() {
        let (_d, root) = project(
            "disaster_recovery:\n  drills:\n    scenarios:\n      - region_failure\n      - meteor_strike\n",
        );
        let e = err_in(&root, &[]);
        assert_eq!(e.kind, ErrorKind::Settings);
        assert!(
            e.message.contains(
                "settings/mahavishnu.yaml: disaster_recovery.drills.scenarios[1]: unknown drill \
                 scenario \"meteor_strike\""
            ),
            "{e}"
        );
        assert!(e.message.contains("line 5"), "{e}");
        for s in DrillScenario::ALL {
            assert!(e.message.contains(s.id()), "{e}");
        }
        // In local.yaml: local.yaml is named.
        let (_d, root) = project("");
        std::fs::write(
            root.join("settings/local.yaml"),
            "disaster_recovery:\n  drills:\n    scenarios: [data_deletion, power_cut]\n",
        )
        .unwrap();
        let e = err_in(&root, &[]);
        assert!(
            e.message
                .contains("settings/local.yaml: disaster_recovery.drills.scenarios[1]"),
            "{e}"
        );
        assert!(e.message.contains("line 3"), "{e}");
        // From the environment: the variable is named.
        let (_d, root) = project("");
        let e = err_in(
            &root,
            &[(
                "MAHAVISHNU_DISASTER_RECOVERY__DRILLS__SCENARIOS",
                "[region_failure, tornado]",
            )],
        );
        assert!(
            e.message
                .contains("environment variable MAHAVISHNU_DISASTER_RECOVERY__DRILLS__SCENARIOS"),
            "{e}"
        );
        assert!(e.message.contains("\"tornado\""), "{e}");
        // Twice is refused too.
        let (_d, root) = project(
            "disaster_recovery:\n  drills:\n    scenarios: [data_deletion, region_failure, data_deletion]\n",
        );
        let e = err_in(&root, &[]);
        assert!(
            e.message.contains(
                "disaster_recovery.drills.scenarios[2]: data_deletion is listed twice (also \
                 scenarios[0])"
            ),
            "{e}"
        );
    }

    #[test]
    fn scenarios_carry_the_targets() {
        let (_d, root) = project(
            "disaster_recovery:\n  rto_target_minutes: 30\n  rpo_target_minutes: 60\n  drills:\n    scenarios:\n      - Network_Partition\n      - {scenario: data_deletion, rto_target_minutes: 45}\n",
        );
        let l = load_in(&root, &[]).expect("loads");
        let d = &l.settings.disaster_recovery.drills;
        let s = &d.scenarios;
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].scenario, DrillScenario::NetworkPartition);
        // The DR plan's targets per scenario, not the global ones; an entry overrides them.
        assert_eq!(
            (s[0].rto_target_minutes, s[0].rpo_target_minutes),
            (None, 1)
        );
        assert_eq!(
            (s[1].rto_target_minutes, s[1].rpo_target_minutes),
            (Some(45), 5)
        );
        let unlisted = d.targets(DrillScenario::SingleServerFailure);
        assert_eq!(
            (unlisted.rto_target_minutes, unlisted.rpo_target_minutes),
            (Some(5), 1)
        );
        let (_d, root) = project(
            "disaster_recovery:\n  drills:\n    scenarios: [{scenario: region_failure, rpo_target_minutes: 0}]\n",
        );
        let e = err_in(&root, &[]);
        assert!(
            e.message.contains(
                "disaster_recovery.drills.scenarios[0].rpo_target_minutes: must be at least 1"
            ),
            "{e}"
        );
        let (_d, root) = project("disaster_recovery:\n  rpo_target_minutes: 0\n");
        let e = err_in(&root, &[]);
        assert!(
            e.message
                .contains("disaster_recovery.rpo_target_minutes: must be at least 1"),
            "{e}"
        );
    }
}
