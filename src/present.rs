//! How values read by people are written: sizes, durations, ages, instants, percentages and rates,
//! one rule each, shared by every face (CLI text, markdown, HTML, SVG) and by the operations where
//! they write a sentence.
//!
//! The rules:
//! - **size** ([`bytes`]): binary units; whole bytes under 1 KiB ("512 B"), else one decimal in the
//!   largest unit that keeps the number at or above 1 ("1.5 KiB", "3.0 GiB").
//! - **duration** ([`duration`]), a measured or configured span in fractional seconds: milliseconds
//!   under a second ("55 ms"), one decimal under ten seconds ("4.2 s"), whole seconds under a
//!   minute ("42 s"), minutes and seconds under an hour ("3 min 20 s", "15 min"), then as an age;
//!   "-" when it is not a finite number. Negative spans keep their sign.
//! - **age** ([`age`]), the time since something in whole seconds, coarse on purpose: "42 s",
//!   "12 min", "3 h 12 min", "2 d 3 h"; negative ages count as zero.
//! - **instant** ([`timestamp`]): UTC to the second, "2026-03-01 04:05:06 UTC"; [`date`] for the
//!   day alone.
//! - **percentage** ([`percent`]) of a rate in 0..=1: whole percent, "83%".
//! - **throughput** ([`throughput`]) in MiB/s: two decimals, "12.34 MiB/s".
//!
//! Where two faces used to print one value differently (a restore of 0.055 s was "0.055 s" in
//! markdown and "55 ms" in the charts), they now all follow these rules.

use chrono::{DateTime, Utc};

/// A size in bytes: "512 B", "1.5 KiB", "3.0 GiB".
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 7] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    format!("{v:.1} {}", UNITS[u])
}

/// A span in seconds: "55 ms", "4.2 s", "42 s", "3 min 20 s", then as [`age`]; "-" if not finite.
pub fn duration(seconds: f64) -> String {
    if !seconds.is_finite() {
        return "-".into();
    }
    if seconds < 0.0 {
        return format!("-{}", duration(-seconds));
    }
    if seconds < 1.0 {
        let ms = (seconds * 1000.0).round();
        if ms < 1000.0 {
            return format!("{ms:.0} ms");
        }
    }
    if seconds < 10.0 {
        let tenths = (seconds * 10.0).round() / 10.0;
        if tenths < 10.0 {
            return if tenths.fract() == 0.0 {
                format!("{tenths:.0} s")
            } else {
                format!("{tenths:.1} s")
            };
        }
    }
    let total = seconds.round() as u64;
    if total < 60 {
        return format!("{total} s");
    }
    if total < 3600 {
        let (m, s) = (total / 60, total % 60);
        return if s == 0 {
            format!("{m} min")
        } else {
            format!("{m} min {s} s")
        };
    }
    age(i64::try_from(total).unwrap_or(i64::MAX))
}

/// The time since something, in whole seconds: "42 s", "12 min", "3 h 12 min", "2 d 3 h".
pub fn age(seconds: i64) -> String {
    let s = seconds.max(0);
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s / 60),
        3600..86400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86400, (s % 86400) / 3600),
    }
}

/// An instant in UTC, to the second: "2026-03-01 04:05:06 UTC".
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The day of an instant in UTC: "2026-03-01".
pub fn date(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// A rate in 0..=1 as a whole percentage: "83%".
pub fn percent(rate: f64) -> String {
    if rate.is_finite() {
        format!("{:.0}%", rate * 100.0)
    } else {
        "-".into()
    }
}

/// A throughput in MiB/s, two decimals: "12.34 MiB/s".
pub fn throughput(mib_per_second: f64) -> String {
    format!("{mib_per_second:.2} MiB/s")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sizes_are_binary_with_one_decimal_from_a_kibibyte() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1024), "1.0 KiB");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(5 << 30), "5.0 GiB");
        assert_eq!(bytes(300 << 20), "300.0 MiB");
        assert_eq!(bytes(u64::MAX), "16.0 EiB");
    }

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(0.0), "0 ms");
        assert_eq!(duration(0.055), "55 ms");
        assert_eq!(duration(0.25), "250 ms");
        assert_eq!(duration(0.9996), "1 s");
        assert_eq!(duration(4.21), "4.2 s");
        assert_eq!(duration(9.97), "10 s");
        assert_eq!(duration(42.0), "42 s");
        assert_eq!(duration(59.6), "1 min");
        assert_eq!(duration(200.0), "3 min 20 s");
        assert_eq!(duration(900.0), "15 min");
        assert_eq!(duration(3900.0), "1 h 5 min");
        assert_eq!(duration(2.0 * 86400.0 + 3.0 * 3600.0), "2 d 3 h");
        assert_eq!(duration(-0.5), "-500 ms");
        assert_eq!(duration(f64::NAN), "-");
        assert_eq!(duration(f64::INFINITY), "-");
    }

    #[test]
    fn ages_are_coarse_and_never_negative() {
        assert_eq!(age(-5), "0 s");
        assert_eq!(age(42), "42 s");
        assert_eq!(age(200), "3 min");
        assert_eq!(age(3 * 3600 + 12 * 60 + 7), "3 h 12 min");
        assert_eq!(age(2 * 86400 + 3 * 3600 + 59), "2 d 3 h");
    }

    #[test]
    fn instants_are_utc_to_the_second() {
        let t = Utc
            .with_ymd_and_hms(2026, 3, 1, 4, 5, 6)
            .single()
            .expect("valid");
        assert_eq!(timestamp(t), "2026-03-01 04:05:06 UTC");
        assert_eq!(date(t), "2026-03-01");
    }

    #[test]
    fn percentages_are_whole() {
        assert_eq!(percent(0.0), "0%");
        assert_eq!(percent(0.834), "83%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(f64::NAN), "-");
    }

    #[test]
    fn throughput_has_two_decimals() {
        assert_eq!(throughput(12.345), "12.35 MiB/s");
        assert_eq!(throughput(0.0), "0.00 MiB/s");
    }
}
