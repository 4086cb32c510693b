//! The one parser for days, times of day, time zones and frequencies, and the one [`Schedule`]
//! type that every schedule in the settings resolves to: backup schedules, automated restore
//! tests and drills. The arithmetic (next run, cadence) lives in [`crate::schedule`].
//!
//! The rules, the same in every place a settings file names a day or a time:
//!
//! - a day is a weekday, by its full name or its three-letter abbreviation (`sunday`, `sun`), in
//!   any case, or a day of the month 1..=31 (a number, or a number in quotes). A day beyond a
//!   month's length means the month's last day (`31` runs on 30 April and 28 or 29 February);
//! - a time of day is `HH:MM` on a 24-hour clock (`H:MM` is accepted too);
//! - a time zone is `UTC` (or `utc`, `Z`) or an IANA zone name such as `Europe/Berlin`; case
//!   matters in zone names. Every schedule without `timezone` runs in UTC;
//! - a frequency is `daily`, `weekly` or `monthly`, in any case.

use std::fmt;

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use serde::de::{self, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// When something runs: a time of day in a time zone, repeated daily, weekly or monthly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// The wall-clock time in `timezone`.
    pub time: NaiveTime,
    pub timezone: Tz,
    pub repeat: Repeat,
}

/// How often a schedule repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    Daily,
    Weekly(Weekday),
    /// Day of the month, 1..=31; in a month shorter than that, the month's last day.
    Monthly(u32),
}

impl Repeat {
    /// A backup schedule's repetition from its `day`: none is daily, a weekday weekly, a day of
    /// the month monthly.
    pub fn from_day(day: Option<DaySetting>) -> Repeat {
        match day {
            None => Repeat::Daily,
            Some(DaySetting::Weekday(w)) => Repeat::Weekly(w),
            Some(DaySetting::OfMonth(d)) => Repeat::Monthly(d),
        }
    }

    /// The `day` that gives this repetition (none for daily).
    pub fn day(self) -> Option<DaySetting> {
        match self {
            Repeat::Daily => None,
            Repeat::Weekly(w) => Some(DaySetting::Weekday(w)),
            Repeat::Monthly(d) => Some(DaySetting::OfMonth(d)),
        }
    }

    pub fn frequency(self) -> Frequency {
        match self {
            Repeat::Daily => Frequency::Daily,
            Repeat::Weekly(_) => Frequency::Weekly,
            Repeat::Monthly(_) => Frequency::Monthly,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Days

/// `day: sunday` / `day: sun` (weekly) or `day: 1` (monthly), as a settings file writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DaySetting {
    Weekday(Weekday),
    /// 1..=31.
    OfMonth(u32),
}

/// What a `day` may be; the text of every error about one.
const DAY_EXPECTED: &str = "a weekday name (monday..sunday) or its three-letter abbreviation \
     (mon..sun), in any case, or a day of the month (1..=31)";

/// The weekdays, Monday first, by full name.
const WEEKDAYS: [(&str, Weekday); 7] = [
    ("monday", Weekday::Mon),
    ("tuesday", Weekday::Tue),
    ("wednesday", Weekday::Wed),
    ("thursday", Weekday::Thu),
    ("friday", Weekday::Fri),
    ("saturday", Weekday::Sat),
    ("sunday", Weekday::Sun),
];

/// A weekday by its full name or its three-letter abbreviation, in any case, surrounding
/// spaces ignored (`sunday`, `Sun`, `SUNDAY`); `None` for anything else.
pub fn parse_weekday(text: &str) -> Option<Weekday> {
    let lower = text.trim().to_ascii_lowercase();
    WEEKDAYS
        .iter()
        .find(|(full, _)| lower == *full || (lower.len() == 3 && full.starts_with(&lower)))
        .map(|(_, w)| *w)
}

/// The lowercase full name of a weekday (`sunday`).
pub fn weekday_name(w: Weekday) -> &'static str {
    WEEKDAYS
        .iter()
        .find(|(_, d)| *d == w)
        .map_or("monday", |(name, _)| name)
}

impl DaySetting {
    /// A day as text: a weekday (see [`parse_weekday`]) or a day of the month written in
    /// digits (`"15"`); `None` for anything else, `0` and `32` included.
    pub fn parse(text: &str) -> Option<DaySetting> {
        let t = text.trim();
        if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
            return t.parse::<u64>().ok().and_then(DaySetting::of_month);
        }
        parse_weekday(t).map(DaySetting::Weekday)
    }

    /// A day of the month, 1..=31; `None` outside that.
    pub fn of_month(day: u64) -> Option<DaySetting> {
        u32::try_from(day)
            .ok()
            .filter(|d| (1..=31).contains(d))
            .map(DaySetting::OfMonth)
    }
}

impl fmt::Display for DaySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaySetting::Weekday(w) => f.write_str(weekday_name(*w)),
            DaySetting::OfMonth(d) => write!(f, "{d}"),
        }
    }
}

/// A weekday as its lowercase full name, a day of the month as a number.
impl Serialize for DaySetting {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DaySetting::Weekday(w) => s.serialize_str(weekday_name(*w)),
            DaySetting::OfMonth(d) => s.serialize_u32(*d),
        }
    }
}

impl<'de> Deserialize<'de> for DaySetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DayVisitor;

        impl Visitor<'_> for DayVisitor {
            type Value = DaySetting;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DAY_EXPECTED)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DaySetting, E> {
                DaySetting::of_month(v)
                    .ok_or_else(|| E::invalid_value(Unexpected::Unsigned(v), &DAY_EXPECTED))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DaySetting, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &DAY_EXPECTED)),
                }
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<DaySetting, E> {
                DaySetting::parse(v)
                    .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &DAY_EXPECTED))
            }
        }

        deserializer.deserialize_any(DayVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Times of day

/// `time: "02:00"`: a wall-clock time, 24-hour, to the minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOfDay(pub NaiveTime);

const TIME_EXPECTED: &str = "a time of day \"HH:MM\", 24-hour, such as \"02:00\" or \"23:30\"";

/// A time of day written `HH:MM` (24-hour; `H:MM` is accepted too, and surrounding spaces);
/// `None` otherwise (`24:00`, `2am`, `02:00:00`, `02:0`).
pub fn parse_time_of_day(text: &str) -> Option<NaiveTime> {
    let (h, m) = text.trim().split_once(':')?;
    let digits = |s: &str, max_len: usize| {
        !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 2) || !digits(m, 2) || m.len() != 2 {
        return None;
    }
    NaiveTime::from_hms_opt(h.parse().ok()?, m.parse().ok()?, 0)
}

impl TimeOfDay {
    pub fn hm(hour: u32, minute: u32) -> Option<TimeOfDay> {
        NaiveTime::from_hms_opt(hour, minute, 0).map(TimeOfDay)
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.format("%H:%M"))
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TimeVisitor;

        impl Visitor<'_> for TimeVisitor {
            type Value = TimeOfDay;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(TIME_EXPECTED)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<TimeOfDay, E> {
                parse_time_of_day(v)
                    .map(TimeOfDay)
                    .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &TIME_EXPECTED))
            }
        }

        deserializer.deserialize_str(TimeVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Time zones

/// `timezone: "Europe/Berlin"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timezone(pub Tz);

impl Default for Timezone {
    fn default() -> Self {
        Timezone(Tz::UTC)
    }
}

const ZONE_EXPECTED: &str = "\"UTC\" or an IANA zone name such as \"Europe/Berlin\" or \
     \"America/New_York\" (case matters in zone names)";

/// `UTC` (any case) or `Z`, or an IANA zone name (`Europe/Berlin`; case matters); `None` for
/// anything else, an empty text included.
pub fn parse_timezone(text: &str) -> Option<Tz> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t.eq_ignore_ascii_case("z") {
        return Some(Tz::UTC);
    }
    t.parse::<Tz>().ok()
}

impl Serialize for Timezone {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.0.name())
    }
}

impl<'de> Deserialize<'de> for Timezone {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ZoneVisitor;

        impl Visitor<'_> for ZoneVisitor {
            type Value = Timezone;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(ZONE_EXPECTED)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Timezone, E> {
                parse_timezone(v)
                    .map(Timezone)
                    .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &ZONE_EXPECTED))
            }
        }

        deserializer.deserialize_str(ZoneVisitor)
    }
}

// ---------------------------------------------------------------------------------------------
// Frequencies

/// `schedule: weekly` (automated tests), `frequency: monthly` (drills).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frequency {
    Daily,
    Weekly,
    Monthly,
}

const FREQUENCY_EXPECTED: &str = "daily, weekly or monthly";

impl Frequency {
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::Daily => "daily",
            Frequency::Weekly => "weekly",
            Frequency::Monthly => "monthly",
        }
    }

    /// `daily`, `weekly` or `monthly`, in any case; `None` otherwise.
    pub fn parse(text: &str) -> Option<Frequency> {
        match text.trim().to_ascii_lowercase().as_str() {
            "daily" => Some(Frequency::Daily),
            "weekly" => Some(Frequency::Weekly),
            "monthly" => Some(Frequency::Monthly),
            _ => None,
        }
    }
}

impl fmt::Display for Frequency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Frequency {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Frequency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FrequencyVisitor;

        impl Visitor<'_> for FrequencyVisitor {
            type Value = Frequency;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(FREQUENCY_EXPECTED)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Frequency, E> {
                Frequency::parse(v)
                    .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &FREQUENCY_EXPECTED))
            }
        }

        deserializer.deserialize_str(FrequencyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day_from_yaml(yaml: &str) -> Result<DaySetting, String> {
        serde_saphyr::from_str::<DaySetting>(yaml).map_err(|e| e.to_string())
    }

    #[test]
    fn weekdays_full_and_abbreviated_in_any_case() {
        for (text, w) in [
            ("monday", Weekday::Mon),
            ("Tue", Weekday::Tue),
            ("WEDNESDAY", Weekday::Wed),
            ("thu", Weekday::Thu),
            (" friday ", Weekday::Fri),
            ("SAT", Weekday::Sat),
            ("sun", Weekday::Sun),
            ("Sunday", Weekday::Sun),
        ] {
            assert_eq!(parse_weekday(text), Some(w), "{text}");
            assert_eq!(
                DaySetting::parse(text),
                Some(DaySetting::Weekday(w)),
                "{text}"
            );
        }
        for bad in [
            "", "su", "sund", "sundy", "tues", "thurs", "funday", "7", "mo",
        ] {
            assert_eq!(parse_weekday(bad), None, "{bad}");
        }
        assert_eq!(weekday_name(Weekday::Sun), "sunday");
    }

    #[test]
    fn days_of_the_month() {
        assert_eq!(DaySetting::parse("1"), Some(DaySetting::OfMonth(1)));
        assert_eq!(DaySetting::parse(" 31 "), Some(DaySetting::OfMonth(31)));
        for bad in ["0", "32", "99999999999999999999999", "-1", "1.5"] {
            assert_eq!(DaySetting::parse(bad), None, "{bad}");
        }
        assert_eq!(day_from_yaml("29"), Ok(DaySetting::OfMonth(29)));
        assert_eq!(day_from_yaml("\"15\""), Ok(DaySetting::OfMonth(15)));
        assert_eq!(day_from_yaml("sun"), Ok(DaySetting::Weekday(Weekday::Sun)));
    }

    #[test]
    fn a_bad_day_says_what_is_accepted() {
        for bad in ["sundy", "32", "0", "-3", "tues"] {
            let e = day_from_yaml(bad).unwrap_err();
            assert!(e.contains("three-letter abbreviation"), "{bad}: {e}");
            assert!(e.contains("day of the month (1..=31)"), "{bad}: {e}");
        }
    }

    #[test]
    fn days_serialize_as_written_canonically() {
        assert_eq!(
            serde_json::to_value(DaySetting::Weekday(Weekday::Sat)).unwrap(),
            "saturday"
        );
        assert_eq!(serde_json::to_value(DaySetting::OfMonth(1)).unwrap(), 1);
        assert_eq!(DaySetting::OfMonth(7).to_string(), "7");
    }

    #[test]
    fn times_of_day() {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0);
        assert_eq!(parse_time_of_day("02:00"), t(2, 0));
        assert_eq!(parse_time_of_day(" 2:05 "), t(2, 5));
        assert_eq!(parse_time_of_day("23:59"), t(23, 59));
        for bad in [
            "24:00", "02:60", "2am", "", "02:00:00", "-1:00", "02:0", "002:00", ":30",
        ] {
            assert_eq!(parse_time_of_day(bad), None, "{bad}");
        }
        assert_eq!(
            serde_json::to_value(TimeOfDay::hm(5, 0).unwrap()).unwrap(),
            "05:00"
        );
        let e = serde_saphyr::from_str::<TimeOfDay>("\"25:00\"").unwrap_err();
        assert!(e.to_string().contains("HH:MM"), "{e}");
    }

    #[test]
    fn time_zones() {
        assert_eq!(parse_timezone("UTC"), Some(Tz::UTC));
        assert_eq!(parse_timezone("utc"), Some(Tz::UTC));
        assert_eq!(parse_timezone("Z"), Some(Tz::UTC));
        assert_eq!(parse_timezone("Etc/UTC"), Some(Tz::Etc__UTC));
        assert_eq!(parse_timezone("Europe/Berlin"), Some(Tz::Europe__Berlin));
        for bad in ["", "Mars/Olympus", "europe/berlin", "+02:00"] {
            assert_eq!(parse_timezone(bad), None, "{bad}");
        }
        assert_eq!(
            serde_json::to_value(Timezone(Tz::America__New_York)).unwrap(),
            "America/New_York"
        );
        let e = serde_saphyr::from_str::<Timezone>("Mars/Olympus").unwrap_err();
        assert!(e.to_string().contains("IANA"), "{e}");
    }

    #[test]
    fn frequencies() {
        assert_eq!(Frequency::parse("Weekly"), Some(Frequency::Weekly));
        assert_eq!(Frequency::parse(" monthly "), Some(Frequency::Monthly));
        assert_eq!(Frequency::parse("hourly"), None);
        let e = serde_saphyr::from_str::<Frequency>("fortnightly").unwrap_err();
        assert!(e.to_string().contains("daily, weekly or monthly"), "{e}");
    }

    #[test]
    fn repeat_and_day_round_trip() {
        for day in [
            None,
            Some(DaySetting::Weekday(Weekday::Sun)),
            Some(DaySetting::OfMonth(31)),
        ] {
            assert_eq!(Repeat::from_day(day).day(), day);
        }
        assert_eq!(Repeat::Monthly(3).frequency(), Frequency::Monthly);
    }
}

/// A test, drill or validation schedule as the file writes it (`schedule`, `day`, `time`,
/// `timezone`), flattened into its section's serialized form.
#[derive(Serialize)]
pub(crate) struct WrittenSchedule {
    schedule: Frequency,
    day: Option<DaySetting>,
    time: TimeOfDay,
    timezone: Timezone,
}

impl From<&Schedule> for WrittenSchedule {
    fn from(s: &Schedule) -> Self {
        WrittenSchedule {
            schedule: s.repeat.frequency(),
            day: s.repeat.day(),
            time: TimeOfDay(s.time),
            timezone: Timezone(s.timezone),
        }
    }
}
