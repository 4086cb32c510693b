//! Schedule arithmetic (pure; no I/O): each backup schedule's next run and cadence, and the
//! next run of any [`Schedule`] (backup schedules, automated restore tests, drills).
//!
//! Schedules arrive parsed and checked ([`crate::settings`]); nothing here can fail on them. A
//! schedule runs at its time of day in its time zone, daily, weekly on a weekday, or monthly on a
//! day of the month; a day beyond the month's length means the month's last day (`day: 31` runs
//! on 28 or 29 February, 30 April, ...).
//!
//! Daylight-saving time: a local time that does not exist on a day (it falls in the gap when clocks
//! go forward) runs at the next valid time, the instant the clocks jump; a local time that happens
//! twice (clocks go back) runs at the earlier of the two.

use std::cmp::Ordering;

use chrono::{DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::repo::BackupType;
use crate::settings::{
    BackupSchedule, BackupSettings, BackupTypeSetting, Repeat, Schedule, weekday_name,
};

/// When one schedule runs next, and how often it runs.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct NextRun {
    /// The schedule's name (its key under `backup.schedules`).
    pub schedule: String,
    /// The backup type the schedule runs.
    pub backup_type: BackupType,
    pub enabled: bool,
    /// The next run, strictly after the time asked about; None when the schedule is disabled.
    pub next_run: Option<DateTime<Utc>>,
    /// Human cadence: "daily at 02:00 UTC", "weekly on sunday at 03:00 UTC",
    /// "monthly on day 1 at 04:00 UTC".
    pub cadence: String,
    /// The longest time between two runs of this schedule, in seconds: daily 86400, weekly 604800,
    /// monthly 2678400 (31 days). Nominal: a daylight-saving change can stretch one interval by the
    /// size of the change (usually an hour).
    pub interval_seconds: i64,
}

const DAY_SECONDS: i64 = 86_400;

impl From<BackupTypeSetting> for BackupType {
    fn from(t: BackupTypeSetting) -> BackupType {
        match t {
            BackupTypeSetting::Full => BackupType::Full,
            BackupTypeSetting::Incremental => BackupType::Incremental,
            BackupTypeSetting::Archival => BackupType::Archival,
        }
    }
}

/// When backup schedule `name` runs next, strictly after `after`, with its type and cadence. A
/// disabled schedule is still described; its `next_run` is None.
pub fn next_run(name: &str, s: &BackupSchedule, after: DateTime<Utc>) -> NextRun {
    NextRun {
        schedule: name.to_string(),
        backup_type: s.backup_type.into(),
        enabled: s.enabled,
        next_run: if s.enabled {
            s.schedule.next_after(after)
        } else {
            None
        },
        cadence: s.schedule.cadence(),
        interval_seconds: s.schedule.interval_seconds(),
    }
}

/// Every schedule in `backup.schedules`, soonest first; disabled schedules last, then by name.
pub fn next_runs(b: &BackupSettings, after: DateTime<Utc>) -> Vec<NextRun> {
    let mut runs: Vec<NextRun> = b
        .schedules
        .iter()
        .map(|(name, s)| next_run(name, s, after))
        .collect();
    runs.sort_by(|a, b| match (a.next_run, b.next_run) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.schedule.cmp(&b.schedule)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.schedule.cmp(&b.schedule),
    });
    runs
}

/// The number of days in the month that holds `date`.
fn days_in_month(date: NaiveDate) -> u32 {
    let (y, m) = (date.year(), date.month());
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    match next.and_then(|n| n.pred_opt()) {
        Some(last) => last.day(),
        // The last representable month: December has 31 days.
        None => 31,
    }
}

/// Whether a schedule repeating `repeat` runs on `date` (a local date).
fn runs_on(repeat: Repeat, date: NaiveDate) -> bool {
    match repeat {
        Repeat::Daily => true,
        Repeat::Weekly(w) => date.weekday() == w,
        Repeat::Monthly(d) => date.day() == d.min(days_in_month(date)),
    }
}

impl Schedule {
    /// "daily at 02:00 UTC", "weekly on sunday at 03:00 Europe/Berlin", "monthly on day 1 at
    /// 04:00 UTC".
    pub fn cadence(&self) -> String {
        let at = format!("at {} {}", self.time.format("%H:%M"), self.timezone.name());
        match self.repeat {
            Repeat::Daily => format!("daily {at}"),
            Repeat::Weekly(w) => format!("weekly on {} {at}", weekday_name(w)),
            Repeat::Monthly(d) if d > 28 => {
                format!("monthly on day {d} {at} (the last day in shorter months)")
            }
            Repeat::Monthly(d) => format!("monthly on day {d} {at}"),
        }
    }

    /// The longest time between two runs, nominally (seconds): a day, a week, or 31 days.
    pub fn interval_seconds(&self) -> i64 {
        match self.repeat {
            Repeat::Daily => DAY_SECONDS,
            Repeat::Weekly(_) => 7 * DAY_SECONDS,
            Repeat::Monthly(_) => 31 * DAY_SECONDS,
        }
    }

    /// The latest run at or before `now` (None only beyond the dates chrono can represent).
    pub fn last_at_or_before(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut t = now - TimeDelta::seconds(self.interval_seconds() + 2 * DAY_SECONDS);
        let mut last = None;
        while let Some(next) = self.next_after(t) {
            if next > now {
                break;
            }
            last = Some(next);
            t = next;
        }
        last
    }

    /// How many runs fall in `(after, until]` (stops counting at `cap`).
    pub fn runs_between(&self, after: DateTime<Utc>, until: DateTime<Utc>, cap: u64) -> u64 {
        let mut n = 0;
        let mut t = after;
        while n < cap {
            match self.next_after(t) {
                Some(next) if next <= until => {
                    n += 1;
                    t = next;
                }
                _ => break,
            }
        }
        n
    }

    /// The first run strictly after `after`; None only beyond the dates chrono can represent.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local_day = after.with_timezone(&self.timezone).date_naive();
        // Start a day early: a zone's offset can put yesterday's local run after `after` only
        // through a gap, but checking costs nothing. A monthly schedule matches within 62 days.
        let mut date = local_day.pred_opt().unwrap_or(local_day);
        for _ in 0..70 {
            if runs_on(self.repeat, date)
                && let Some(at) = resolve(self.timezone, date.and_time(self.time))
                && at > after
            {
                return Some(at);
            }
            date = date.succ_opt()?;
        }
        None
    }
}

/// The instant a local wall-clock time names in `tz`: the earlier one when it happens twice, the
/// instant the clocks jump when it falls in a gap.
fn resolve(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
        LocalResult::Ambiguous(a, b) => Some(a.min(b).with_timezone(&Utc)),
        LocalResult::None => gap_end(tz, local),
    }
}

/// The first instant whose local time in `tz` is at or after `local`: for a local time in a gap,
/// the instant the clocks jumped over it. Offsets lie within ±26 hours, so the answer lies within
/// 36 hours of `local` read as UTC; a binary search over seconds finds it.
fn gap_end(tz: Tz, local: NaiveDateTime) -> Option<DateTime<Utc>> {
    let guess = local.and_utc();
    let span = TimeDelta::try_hours(36)?;
    let local_at = |secs: i64| -> Option<NaiveDateTime> {
        let t = DateTime::from_timestamp(secs, 0)?;
        Some(tz.from_utc_datetime(&t.naive_utc()).naive_local())
    };
    let mut lo = guess.checked_sub_signed(span)?.timestamp();
    let mut hi = guess.checked_add_signed(span)?.timestamp();
    // Invariant: local_at(lo) < local <= local_at(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if local_at(mid)? >= local {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{DaySetting, parse_time_of_day, parse_timezone};
    use proptest::prelude::*;

    fn seed() -> BackupSettings {
        crate::settings::test_support::seed_settings().backup
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// A full backup schedule from its settings text, through the settings' one parser.
    fn sched(time: &str, tz: &str, day: Option<&str>) -> BackupSchedule {
        BackupSchedule {
            enabled: true,
            backup_type: BackupTypeSetting::Full,
            schedule: Schedule {
                time: parse_time_of_day(time).unwrap(),
                timezone: parse_timezone(tz).unwrap(),
                repeat: Repeat::from_day(day.map(|d| DaySetting::parse(d).unwrap())),
            },
            retention_days: None,
            retention_weeks: None,
            retention_months: None,
        }
    }

    fn next(s: &BackupSchedule, after: &str) -> DateTime<Utc> {
        next_run("test", s, utc(after)).next_run.unwrap()
    }

    #[test]
    fn seed_schedules_from_a_fixed_instant() {
        // 2026-01-15 is a Thursday.
        let runs = next_runs(&seed(), utc("2026-01-15T10:00:00Z"));
        let got: Vec<_> = runs
            .iter()
            .map(|r| {
                (
                    r.schedule.as_str(),
                    r.backup_type,
                    r.next_run.unwrap(),
                    r.cadence.as_str(),
                    r.interval_seconds,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "daily_incremental",
                    BackupType::Incremental,
                    utc("2026-01-16T02:00:00Z"),
                    "daily at 02:00 UTC",
                    86_400
                ),
                (
                    "weekly_full",
                    BackupType::Full,
                    utc("2026-01-18T03:00:00Z"),
                    "weekly on sunday at 03:00 UTC",
                    604_800
                ),
                (
                    "monthly_archival",
                    BackupType::Archival,
                    utc("2026-02-01T04:00:00Z"),
                    "monthly on day 1 at 04:00 UTC",
                    2_678_400
                ),
            ]
        );
        assert!(runs.iter().all(|r| r.enabled));
    }

    #[test]
    fn seed_schedules_just_before_their_runs() {
        // Sunday 2026-02-01 01:59: every seed schedule runs that day, in time order.
        let runs = next_runs(&seed(), utc("2026-02-01T01:59:00Z"));
        let got: Vec<_> = runs
            .iter()
            .map(|r| (r.schedule.as_str(), r.next_run.unwrap()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("daily_incremental", utc("2026-02-01T02:00:00Z")),
                ("weekly_full", utc("2026-02-01T03:00:00Z")),
                ("monthly_archival", utc("2026-02-01T04:00:00Z")),
            ]
        );
    }

    #[test]
    fn strictly_after_the_exact_instant() {
        let daily = sched("02:00", "UTC", None);
        assert_eq!(
            next(&daily, "2026-01-16T02:00:00Z"),
            utc("2026-01-17T02:00:00Z")
        );
        assert_eq!(
            next(&daily, "2026-01-16T01:59:59Z"),
            utc("2026-01-16T02:00:00Z")
        );
        assert_eq!(
            next(&daily, "2026-01-16T02:00:00.001Z"),
            utc("2026-01-17T02:00:00Z")
        );
        let weekly = sched("03:00", "UTC", Some("sunday"));
        assert_eq!(
            next(&weekly, "2026-01-18T03:00:00Z"),
            utc("2026-01-25T03:00:00Z")
        );
        let monthly = sched("04:00", "UTC", Some("1"));
        assert_eq!(
            next(&monthly, "2026-02-01T04:00:00Z"),
            utc("2026-03-01T04:00:00Z")
        );
        assert_eq!(
            next(&monthly, "2026-12-01T04:00:00Z"),
            utc("2027-01-01T04:00:00Z")
        );
    }

    #[test]
    fn month_end_clamping() {
        let day31 = sched("04:00", "UTC", Some("31"));
        assert_eq!(
            next(&day31, "2026-02-01T00:00:00Z"),
            utc("2026-02-28T04:00:00Z")
        );
        assert_eq!(
            next(&day31, "2026-02-28T04:00:00Z"),
            utc("2026-03-31T04:00:00Z")
        );
        assert_eq!(
            next(&day31, "2026-03-31T04:00:00Z"),
            utc("2026-04-30T04:00:00Z")
        );
        assert_eq!(
            next(&day31, "2026-01-31T05:00:00Z"),
            utc("2026-02-28T04:00:00Z")
        );
        // Leap year.
        assert_eq!(
            next(&day31, "2028-02-01T00:00:00Z"),
            utc("2028-02-29T04:00:00Z")
        );
        let day30 = sched("04:00", "UTC", Some("30"));
        assert_eq!(
            next(&day30, "2026-02-10T00:00:00Z"),
            utc("2026-02-28T04:00:00Z")
        );
        assert_eq!(
            next(&day30, "2026-02-28T04:00:00Z"),
            utc("2026-03-30T04:00:00Z")
        );
        let run = next_run("m", &day31, utc("2026-01-01T00:00:00Z"));
        assert_eq!(
            run.cadence,
            "monthly on day 31 at 04:00 UTC (the last day in shorter months)"
        );
    }

    #[test]
    fn weekdays_by_name_and_abbreviation() {
        // 2026-01-15 is a Thursday.
        for (day, expect) in [
            ("thursday", "2026-01-22T03:00:00Z"),
            ("Friday", "2026-01-16T03:00:00Z"),
            ("SAT", "2026-01-17T03:00:00Z"),
            ("mon", "2026-01-19T03:00:00Z"),
            ("wednesday", "2026-01-21T03:00:00Z"),
        ] {
            let s = sched("03:00", "UTC", Some(day));
            assert_eq!(next(&s, "2026-01-15T10:00:00Z"), utc(expect), "{day}");
        }
        // A quoted number is a day of the month.
        let s = sched("03:00", "UTC", Some("15"));
        assert_eq!(
            next(&s, "2026-01-15T10:00:00Z"),
            utc("2026-02-15T03:00:00Z")
        );
    }

    #[test]
    fn zone_with_daylight_saving_time() {
        // Europe/Berlin: CET (+01:00) in winter, CEST (+02:00) in summer; clocks go forward at
        // 02:00 on 2026-03-29 and back at 03:00 on 2026-10-25.
        let s = sched("02:30", "Europe/Berlin", None);
        assert_eq!(
            next(&s, "2026-03-27T12:00:00Z"),
            utc("2026-03-28T01:30:00Z")
        );
        // 02:30 does not exist on 2026-03-29: runs when the clocks jump, 03:00 CEST.
        assert_eq!(
            next(&s, "2026-03-28T01:30:00Z"),
            utc("2026-03-29T01:00:00Z")
        );
        assert_eq!(
            next(&s, "2026-03-29T01:00:00Z"),
            utc("2026-03-30T00:30:00Z")
        );
        // 02:30 happens twice on 2026-10-25: the earlier, CEST.
        assert_eq!(
            next(&s, "2026-10-24T12:00:00Z"),
            utc("2026-10-25T00:30:00Z")
        );
        assert_eq!(
            next(&s, "2026-10-25T00:30:00Z"),
            utc("2026-10-26T01:30:00Z")
        );
        let run = next_run("berlin", &s, utc("2026-01-01T00:00:00Z"));
        assert_eq!(run.cadence, "daily at 02:30 Europe/Berlin");

        // America/New_York, weekly on Sunday at 02:15: 2026-03-08 springs forward at 02:00
        // (EST -05:00 to EDT -04:00), 2026-11-01 falls back at 02:00.
        let ny = sched("02:15", "America/New_York", Some("sunday"));
        assert_eq!(
            next(&ny, "2026-03-02T00:00:00Z"),
            utc("2026-03-08T07:00:00Z")
        );
        assert_eq!(
            next(&ny, "2026-03-08T07:00:00Z"),
            utc("2026-03-15T06:15:00Z")
        );
        // On 2026-11-01 clocks go back from 02:00 EDT to 01:00 EST: 02:15 happens once, in EST.
        assert_eq!(
            next(&ny, "2026-10-26T00:00:00Z"),
            utc("2026-11-01T07:15:00Z")
        );
        // 01:30 happens twice that day: the earlier, EDT (-04:00).
        let ny_early = sched("01:30", "America/New_York", Some("sunday"));
        assert_eq!(
            next(&ny_early, "2026-10-26T00:00:00Z"),
            utc("2026-11-01T05:30:00Z")
        );
        assert_eq!(
            next(&ny_early, "2026-11-01T05:30:00Z"),
            utc("2026-11-08T06:30:00Z")
        );
        // A local day that starts before the UTC day does: 23:30 in New York is 04:30 UTC next day.
        let late = sched("23:30", "America/New_York", None);
        assert_eq!(
            next(&late, "2026-01-15T03:00:00Z"),
            utc("2026-01-15T04:30:00Z")
        );
        assert_eq!(
            next(&late, "2026-01-15T04:30:00Z"),
            utc("2026-01-16T04:30:00Z")
        );
        // A zone east of UTC whose local date is ahead: 01:00 in Tokyo is 16:00 UTC the day before.
        let tokyo = sched("01:00", "Asia/Tokyo", Some("1"));
        assert_eq!(
            next(&tokyo, "2026-01-31T15:00:00Z"),
            utc("2026-01-31T16:00:00Z")
        );
    }

    #[test]
    fn disabled_schedules_have_no_next_run_and_sort_last() {
        let mut b = seed();
        if let Some(s) = b.schedules.get_mut("daily_incremental") {
            s.enabled = false;
        }
        let runs = next_runs(&b, utc("2026-01-15T10:00:00Z"));
        let names: Vec<_> = runs.iter().map(|r| r.schedule.as_str()).collect();
        assert_eq!(
            names,
            ["weekly_full", "monthly_archival", "daily_incremental"]
        );
        let last = runs.last().unwrap();
        assert!(!last.enabled);
        assert_eq!(last.next_run, None);
        assert_eq!(last.cadence, "daily at 02:00 UTC");
        assert_eq!(last.backup_type, BackupType::Incremental);
    }

    #[test]
    fn the_backup_type_is_the_schedules() {
        let mut s = sched("02:00", "UTC", None);
        for (setting, t) in [
            (BackupTypeSetting::Full, BackupType::Full),
            (BackupTypeSetting::Incremental, BackupType::Incremental),
            (BackupTypeSetting::Archival, BackupType::Archival),
        ] {
            s.backup_type = setting;
            assert_eq!(
                next_run("x", &s, utc("2026-01-15T10:00:00Z")).backup_type,
                t
            );
        }
    }

    #[test]
    fn automated_tests_and_drills_use_the_same_arithmetic() {
        let dr = crate::settings::test_support::seed_settings().disaster_recovery;
        // Thursday 2026-01-15: the seed's tests run Saturday 05:00 UTC; drills the 1st, 06:00.
        let after = utc("2026-01-15T10:00:00Z");
        assert_eq!(
            dr.automated_tests.schedule.next_after(after),
            Some(utc("2026-01-17T05:00:00Z"))
        );
        assert_eq!(
            dr.automated_tests.schedule.cadence(),
            "weekly on saturday at 05:00 UTC"
        );
        assert_eq!(
            dr.drills.schedule.next_after(after),
            Some(utc("2026-02-01T06:00:00Z"))
        );
        assert_eq!(
            dr.drills.schedule.cadence(),
            "monthly on day 1 at 06:00 UTC"
        );
    }

    #[test]
    fn lenient_spellings_are_accepted() {
        let s = sched(" 2:05 ", "utc", None);
        let run = next_run("s", &s, utc("2026-01-15T10:00:00Z"));
        assert_eq!(run.next_run, Some(utc("2026-01-16T02:05:00Z")));
        assert_eq!(run.cadence, "daily at 02:05 UTC");
        let s = sched("00:00", "Etc/UTC", None);
        assert_eq!(
            next(&s, "2026-12-31T23:59:59Z"),
            utc("2027-01-01T00:00:00Z")
        );
    }

    fn arb_schedule() -> impl Strategy<Value = BackupSchedule> {
        let day = prop_oneof![
            Just(None),
            (1u32..=31).prop_map(|d| Some(d.to_string())),
            prop::sample::select(vec![
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sun"
            ])
            .prop_map(|d| Some(d.to_string())),
        ];
        let zone = prop::sample::select(vec![
            "UTC",
            "Europe/Berlin",
            "America/New_York",
            "Australia/Lord_Howe",
            "Asia/Kolkata",
            "Pacific/Apia",
        ]);
        (0u32..24, 0u32..60, zone, day)
            .prop_map(|(h, m, z, day)| sched(&format!("{h:02}:{m:02}"), z, day.as_deref()))
    }

    proptest! {
        #[test]
        fn next_run_is_strictly_after_and_within_one_interval(
            s in arb_schedule(),
            secs in 1_600_000_000i64..2_000_000_000i64,
        ) {
            let after = DateTime::from_timestamp(secs, 0).unwrap();
            let run = next_run("p", &s, after);
            let at = run.next_run.unwrap();
            prop_assert!(at > after);
            // One interval plus the largest daylight-saving shift (Lord Howe: 30 min; ordinary: 1 h).
            prop_assert!((at - after).num_seconds() <= run.interval_seconds + 3600);
            // Consistent: asked a second before it, the run is the same instant.
            let just_before = next_run("p", &s, at - TimeDelta::seconds(1));
            prop_assert_eq!(just_before.next_run, Some(at));
            // In UTC the run is exactly at the configured wall time on a matching day.
            if s.schedule.timezone == Tz::UTC {
                prop_assert_eq!(at.time(), s.schedule.time);
                prop_assert!(runs_on(s.schedule.repeat, at.date_naive()));
            }
            // Running again from the found instant gives a later run.
            let again = next_run("p", &s, at).next_run.unwrap();
            prop_assert!(again > at);
        }
    }
}
