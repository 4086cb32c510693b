//! Schedule arithmetic (pure; no I/O): each schedule's backup type, its cadence, and its next run.
//!
//! A schedule (`backup.schedules.<name>`) runs at `time` ("HH:MM", 24-hour) in `timezone` ("UTC" or
//! an IANA zone name such as "Europe/Berlin"):
//!
//! - no `day`: daily;
//! - `day: sunday` (a weekday name, or its three-letter abbreviation): weekly on that day;
//! - `day: 1` (1..=31): monthly on that day; a day beyond the month's length means the month's last
//!   day (`day: 31` runs on 28 or 29 February, 30 April, ...).
//!
//! Daylight-saving time: a local time that does not exist on a day (it falls in the gap when clocks
//! go forward) runs at the next valid time, the instant the clocks jump; a local time that happens
//! twice (clocks go back) runs at the earlier of the two.

use std::cmp::Ordering;

use chrono::{
    DateTime, Datelike, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc,
    Weekday,
};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::repo::BackupType;
use crate::settings::{BackupSettings, BackupTypeSetting, DaySetting, ScheduleSettings};

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

/// How often a schedule repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Repeat {
    Daily,
    Weekly(Weekday),
    /// Day of the month, 1..=31; clamped to the month's last day.
    Monthly(u32),
}

/// A schedule's settings, checked and parsed.
#[derive(Debug, Clone)]
struct Parsed {
    time: NaiveTime,
    tz: Tz,
    repeat: Repeat,
}

/// The backup type a schedule runs: its `backup_type`, or else the one its name contains
/// (`daily_incremental`, `weekly_full`, `monthly_archival`).
pub fn schedule_backup_type(name: &str, s: &ScheduleSettings) -> Result<BackupType> {
    if let Some(t) = s.backup_type {
        return Ok(match t {
            BackupTypeSetting::Full => BackupType::Full,
            BackupTypeSetting::Incremental => BackupType::Incremental,
            BackupTypeSetting::Archival => BackupType::Archival,
        });
    }
    let lower = name.to_ascii_lowercase();
    let found: Vec<BackupType> = BackupType::ALL
        .into_iter()
        .filter(|t| lower.contains(t.as_str()))
        .collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::settings(format!(
            "backup.schedules.{name}.backup_type: cannot tell which backup type schedule \
             {name:?} runs: it has no backup_type and its name contains none of \
             incremental, full or archival"
        ))
        .with_guidance(format!(
            "add `backup_type: full` (or incremental, or archival) to backup.schedules.{name}"
        ))),
        _ => Err(Error::settings(format!(
            "backup.schedules.{name}.backup_type: cannot tell which backup type schedule \
             {name:?} runs: its name contains more than one of incremental, full and archival"
        ))
        .with_guidance(format!(
            "add `backup_type: full` (or incremental, or archival) to backup.schedules.{name}"
        ))),
    }
}

/// When schedule `name` runs next, strictly after `after`, with its type and cadence. A disabled
/// schedule is still checked and described; its `next_run` is None.
pub fn next_run(name: &str, s: &ScheduleSettings, after: DateTime<Utc>) -> Result<NextRun> {
    let backup_type = schedule_backup_type(name, s)?;
    let parsed = parse(name, s)?;
    let next = if s.enabled {
        Some(parsed.next_after(name, after)?)
    } else {
        None
    };
    Ok(NextRun {
        schedule: name.to_string(),
        backup_type,
        enabled: s.enabled,
        next_run: next,
        cadence: parsed.cadence(),
        interval_seconds: parsed.interval_seconds(),
    })
}

/// Every schedule in `backup.schedules`, soonest first; disabled schedules last, then by name.
pub fn next_runs(b: &BackupSettings, after: DateTime<Utc>) -> Result<Vec<NextRun>> {
    let mut runs = b
        .schedules
        .iter()
        .map(|(name, s)| next_run(name, s, after))
        .collect::<Result<Vec<_>>>()?;
    runs.sort_by(|a, b| match (a.next_run, b.next_run) {
        (Some(x), Some(y)) => x.cmp(&y).then_with(|| a.schedule.cmp(&b.schedule)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => a.schedule.cmp(&b.schedule),
    });
    Ok(runs)
}

fn parse(name: &str, s: &ScheduleSettings) -> Result<Parsed> {
    Ok(Parsed {
        time: parse_time(name, &s.time)?,
        tz: parse_zone(name, &s.timezone)?,
        repeat: parse_day(name, s.day.as_ref())?,
    })
}

fn parse_time(name: &str, text: &str) -> Result<NaiveTime> {
    let bad = || {
        Error::settings(format!(
            "backup.schedules.{name}.time: {text:?} is not a time of day: expected \"HH:MM\", \
             24-hour, such as \"02:00\" or \"23:30\""
        ))
        .with_guidance(format!(
            "set backup.schedules.{name}.time to a 24-hour time such as \"02:00\""
        ))
    };
    let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit());
    if !digits(h) || h.len() > 2 || !digits(m) || m.len() != 2 {
        return Err(bad());
    }
    let hour: u32 = h.parse().map_err(|_| bad())?;
    let minute: u32 = m.parse().map_err(|_| bad())?;
    NaiveTime::from_hms_opt(hour, minute, 0).ok_or_else(bad)
}

fn parse_zone(name: &str, text: &str) -> Result<Tz> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") {
        return Ok(Tz::UTC);
    }
    t.parse::<Tz>().map_err(|_| {
        Error::settings(format!(
            "backup.schedules.{name}.timezone: {text:?} is not a known time zone: expected \
             \"UTC\" or an IANA zone name such as \"Europe/Berlin\" or \"America/New_York\""
        ))
        .with_guidance(format!(
            "set backup.schedules.{name}.timezone to \"UTC\" or an IANA zone name (case matters)"
        ))
    })
}

fn parse_day(name: &str, day: Option<&DaySetting>) -> Result<Repeat> {
    let bad = |what: String| {
        Error::settings(format!(
            "backup.schedules.{name}.day: {what}: expected a weekday name such as sunday \
             (weekly), a day of the month from 1 to 31 (monthly), or no day (daily)"
        ))
        .with_guidance(format!(
            "fix backup.schedules.{name}.day, or remove it for a daily schedule"
        ))
    };
    let month_day = |d: u32| {
        if (1..=31).contains(&d) {
            Ok(Repeat::Monthly(d))
        } else {
            Err(bad(format!("{d} is not a day of the month")))
        }
    };
    match day {
        None => Ok(Repeat::Daily),
        Some(DaySetting::OfMonth(d)) => month_day(*d),
        Some(DaySetting::Weekday(text)) => {
            let t = text.trim();
            if !t.is_empty() && t.bytes().all(|c| c.is_ascii_digit()) {
                return match t.parse::<u32>() {
                    Ok(d) => month_day(d),
                    Err(_) => Err(bad(format!("{text:?} is not a day of the month"))),
                };
            }
            parse_weekday(t)
                .map(Repeat::Weekly)
                .ok_or_else(|| bad(format!("{text:?} is not a weekday")))
        }
    }
}

fn parse_weekday(text: &str) -> Option<Weekday> {
    let lower = text.to_ascii_lowercase();
    const NAMES: [(&str, Weekday); 7] = [
        ("monday", Weekday::Mon),
        ("tuesday", Weekday::Tue),
        ("wednesday", Weekday::Wed),
        ("thursday", Weekday::Thu),
        ("friday", Weekday::Fri),
        ("saturday", Weekday::Sat),
        ("sunday", Weekday::Sun),
    ];
    NAMES
        .iter()
        .find(|(full, _)| lower == *full || (lower.len() == 3 && full.starts_with(&lower)))
        .map(|(_, w)| *w)
}

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "monday",
        Weekday::Tue => "tuesday",
        Weekday::Wed => "wednesday",
        Weekday::Thu => "thursday",
        Weekday::Fri => "friday",
        Weekday::Sat => "saturday",
        Weekday::Sun => "sunday",
    }
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

impl Repeat {
    fn matches(self, date: NaiveDate) -> bool {
        match self {
            Repeat::Daily => true,
            Repeat::Weekly(w) => date.weekday() == w,
            Repeat::Monthly(d) => date.day() == d.min(days_in_month(date)),
        }
    }
}

impl Parsed {
    fn cadence(&self) -> String {
        let at = format!("at {} {}", self.time.format("%H:%M"), self.tz.name());
        match self.repeat {
            Repeat::Daily => format!("daily {at}"),
            Repeat::Weekly(w) => format!("weekly on {} {at}", weekday_name(w)),
            Repeat::Monthly(d) if d > 28 => {
                format!("monthly on day {d} {at} (the last day in shorter months)")
            }
            Repeat::Monthly(d) => format!("monthly on day {d} {at}"),
        }
    }

    fn interval_seconds(&self) -> i64 {
        match self.repeat {
            Repeat::Daily => DAY_SECONDS,
            Repeat::Weekly(_) => 7 * DAY_SECONDS,
            Repeat::Monthly(_) => 31 * DAY_SECONDS,
        }
    }

    /// The first run strictly after `after`.
    fn next_after(&self, name: &str, after: DateTime<Utc>) -> Result<DateTime<Utc>> {
        let out_of_range = || {
            Error::internal(format!(
                "schedule {name:?} has no run after {after}: beyond the supported date range"
            ))
        };
        let local_day = after.with_timezone(&self.tz).date_naive();
        // Start a day early: a zone's offset can put yesterday's local run after `after` only
        // through a gap, but checking costs nothing. A monthly schedule matches within 62 days.
        let mut date = local_day.pred_opt().unwrap_or(local_day);
        for _ in 0..70 {
            if self.repeat.matches(date)
                && let Some(at) = resolve(self.tz, date.and_time(self.time))
                && at > after
            {
                return Ok(at);
            }
            date = date.succ_opt().ok_or_else(out_of_range)?;
        }
        Err(out_of_range())
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
    use crate::error::ErrorKind;
    use proptest::prelude::*;

    fn seed() -> BackupSettings {
        crate::settings::test_support::seed_settings().backup
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn sched(time: &str, tz: &str, day: Option<DaySetting>) -> ScheduleSettings {
        ScheduleSettings {
            time: time.to_string(),
            timezone: tz.to_string(),
            day,
            backup_type: Some(BackupTypeSetting::Full),
            ..ScheduleSettings::default()
        }
    }

    fn next(s: &ScheduleSettings, after: &str) -> DateTime<Utc> {
        next_run("test", s, utc(after)).unwrap().next_run.unwrap()
    }

    #[test]
    fn seed_schedules_from_a_fixed_instant() {
        // 2026-01-15 is a Thursday.
        let runs = next_runs(&seed(), utc("2026-01-15T10:00:00Z")).unwrap();
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
        let runs = next_runs(&seed(), utc("2026-02-01T01:59:00Z")).unwrap();
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
        let weekly = sched("03:00", "UTC", Some(DaySetting::Weekday("sunday".into())));
        assert_eq!(
            next(&weekly, "2026-01-18T03:00:00Z"),
            utc("2026-01-25T03:00:00Z")
        );
        let monthly = sched("04:00", "UTC", Some(DaySetting::OfMonth(1)));
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
        let day31 = sched("04:00", "UTC", Some(DaySetting::OfMonth(31)));
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
        let day30 = sched("04:00", "UTC", Some(DaySetting::OfMonth(30)));
        assert_eq!(
            next(&day30, "2026-02-10T00:00:00Z"),
            utc("2026-02-28T04:00:00Z")
        );
        assert_eq!(
            next(&day30, "2026-02-28T04:00:00Z"),
            utc("2026-03-30T04:00:00Z")
        );
        let run = next_run("m", &day31, utc("2026-01-01T00:00:00Z")).unwrap();
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
            let s = sched("03:00", "UTC", Some(DaySetting::Weekday(day.into())));
            assert_eq!(next(&s, "2026-01-15T10:00:00Z"), utc(expect), "{day}");
        }
        // A quoted number is a day of the month.
        let s = sched("03:00", "UTC", Some(DaySetting::Weekday("15".into())));
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
        let run = next_run("berlin", &s, utc("2026-01-01T00:00:00Z")).unwrap();
        assert_eq!(run.cadence, "daily at 02:30 Europe/Berlin");

        // America/New_York, weekly on Sunday at 02:15: 2026-03-08 springs forward at 02:00
        // (EST -05:00 to EDT -04:00), 2026-11-01 falls back at 02:00.
        let ny = sched(
            "02:15",
            "America/New_York",
            Some(DaySetting::Weekday("sunday".into())),
        );
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
        let ny_early = sched(
            "01:30",
            "America/New_York",
            Some(DaySetting::Weekday("sunday".into())),
        );
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
        let tokyo = sched("01:00", "Asia/Tokyo", Some(DaySetting::OfMonth(1)));
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
        let runs = next_runs(&b, utc("2026-01-15T10:00:00Z")).unwrap();
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
    fn backup_type_from_setting_or_name() {
        let mut s = ScheduleSettings::default();
        assert_eq!(
            schedule_backup_type("nightly_incremental", &s).unwrap(),
            BackupType::Incremental
        );
        assert_eq!(
            schedule_backup_type("Weekly_FULL", &s).unwrap(),
            BackupType::Full
        );
        assert_eq!(
            schedule_backup_type("archival", &s).unwrap(),
            BackupType::Archival
        );
        let e = schedule_backup_type("nightly", &s).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Settings);
        assert!(e.message.contains("backup.schedules.nightly.backup_type"));
        assert!(e.guidance.is_some());
        assert!(schedule_backup_type("full_or_incremental", &s).is_err());
        s.backup_type = Some(BackupTypeSetting::Archival);
        assert_eq!(
            schedule_backup_type("nightly", &s).unwrap(),
            BackupType::Archival
        );
        assert_eq!(
            schedule_backup_type("weekly_full", &s).unwrap(),
            BackupType::Archival
        );
    }

    #[test]
    fn bad_inputs_are_settings_errors_naming_the_key() {
        let after = utc("2026-01-15T10:00:00Z");
        let cases: Vec<(ScheduleSettings, &str)> = vec![
            (sched("25:00", "UTC", None), "backup.schedules.s.time"),
            (sched("02:60", "UTC", None), "backup.schedules.s.time"),
            (sched("2am", "UTC", None), "backup.schedules.s.time"),
            (sched("", "UTC", None), "backup.schedules.s.time"),
            (sched("02:00:00", "UTC", None), "backup.schedules.s.time"),
            (sched("-1:00", "UTC", None), "backup.schedules.s.time"),
            (sched("02:0", "UTC", None), "backup.schedules.s.time"),
            (
                sched("02:00", "Mars/Olympus", None),
                "backup.schedules.s.timezone",
            ),
            (sched("02:00", "", None), "backup.schedules.s.timezone"),
            (
                sched("02:00", "UTC", Some(DaySetting::OfMonth(0))),
                "backup.schedules.s.day",
            ),
            (
                sched("02:00", "UTC", Some(DaySetting::OfMonth(32))),
                "backup.schedules.s.day",
            ),
            (
                sched("02:00", "UTC", Some(DaySetting::Weekday("funday".into()))),
                "backup.schedules.s.day",
            ),
            (
                sched("02:00", "UTC", Some(DaySetting::Weekday("99".into()))),
                "backup.schedules.s.day",
            ),
        ];
        for (s, key) in cases {
            let e = next_run("s", &s, after).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Settings, "{s:?}");
            assert!(e.message.starts_with(key), "{s:?}: {}", e.message);
            assert!(e.message.contains("expected"), "{}", e.message);
            assert!(e.guidance.is_some());
            // Disabled schedules are checked too.
            let disabled = ScheduleSettings {
                enabled: false,
                ..s.clone()
            };
            assert!(next_run("s", &disabled, after).is_err());
        }
        // One bad schedule fails the whole list, naming it.
        let mut b = seed();
        b.schedules
            .insert("broken_full".into(), sched("24:00", "UTC", None));
        let e = next_runs(&b, after).unwrap_err();
        assert!(e.message.contains("backup.schedules.broken_full.time"));
    }

    #[test]
    fn lenient_spellings_are_accepted() {
        let s = sched(" 2:05 ", "utc", None);
        let run = next_run("s", &s, utc("2026-01-15T10:00:00Z")).unwrap();
        assert_eq!(run.next_run, Some(utc("2026-01-16T02:05:00Z")));
        assert_eq!(run.cadence, "daily at 02:05 UTC");
        let s = sched("00:00", "Etc/UTC", None);
        assert_eq!(
            next(&s, "2026-12-31T23:59:59Z"),
            utc("2027-01-01T00:00:00Z")
        );
    }

    fn arb_schedule() -> impl Strategy<Value = ScheduleSettings> {
        let day = prop_oneof![
            Just(None),
            (1u32..=31).prop_map(|d| Some(DaySetting::OfMonth(d))),
            prop::sample::select(vec![
                "monday",
                "tuesday",
                "wednesday",
                "thursday",
                "friday",
                "saturday",
                "sunday"
            ])
            .prop_map(|d| Some(DaySetting::Weekday(d.to_string()))),
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
            .prop_map(|(h, m, z, day)| sched(&format!("{h:02}:{m:02}"), z, day))
    }

    proptest! {
        #[test]
        fn next_run_is_strictly_after_and_within_one_interval(
            s in arb_schedule(),
            secs in 1_600_000_000i64..2_000_000_000i64,
        ) {
            let after = DateTime::from_timestamp(secs, 0).unwrap();
            let run = next_run("p", &s, after).unwrap();
            let at = run.next_run.unwrap();
            prop_assert!(at > after);
            // One interval plus the largest daylight-saving shift (Lord Howe: 30 min; ordinary: 1 h).
            prop_assert!((at - after).num_seconds() <= run.interval_seconds + 3600);
            // Consistent: asked a second before it, the run is the same instant.
            let just_before = next_run("p", &s, at - TimeDelta::seconds(1)).unwrap();
            prop_assert_eq!(just_before.next_run, Some(at));
            // In UTC the run is exactly at the configured wall time on a matching day.
            if s.timezone == "UTC" {
                let t = parse_time("p", &s.time).unwrap();
                prop_assert_eq!(at.time(), t);
                let rep = parse_day("p", s.day.as_ref()).unwrap();
                prop_assert!(rep.matches(at.date_naive()));
            }
            // Running again from the found instant gives a later run.
            let again = next_run("p", &s, at).unwrap().next_run.unwrap();
            prop_assert!(again > at);
        }
    }
}
