//! The axes shared by the charts: round instants along the bottom, round durations up the side.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

use super::*;

/// The bottom axis: a base line, ticks at round instants, and "time (UTC)" under the right end.
pub(super) fn time_axis(
    svg: &mut String,
    t0: i64,
    t1: i64,
    left: f64,
    right: f64,
    y: f64,
    x_of: &dyn Fn(i64) -> f64,
) {
    let _ = write!(
        svg,
        r#"<line x1="{left:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="{AXIS}" stroke-width="1"/>"#
    );
    for (t, text) in time_ticks(t0, t1) {
        let x = x_of(t);
        // Keep the label inside the chart: about 6.3 units per character at font-size 11.
        let half = 3.15 * text.chars().count() as f64;
        let tx = x.clamp(half + 4.0, (WIDTH - half - 4.0).max(half + 4.0));
        let _ = write!(
            svg,
            r#"<line x1="{x:.1}" y1="{y:.1}" x2="{x:.1}" y2="{:.1}" stroke="{AXIS}" stroke-width="1"/><text x="{tx:.1}" y="{:.1}" text-anchor="middle" font-size="11" fill="{MUTED}">{}</text>"#,
            y + 5.0,
            y + 18.0,
            escape(&text)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{right:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="{MUTED}">time (UTC)</text>"#,
        y + 34.0
    );
}

/// At most about six round instants within `[t0, t1]`, with labels: times of day for spans under
/// a few days, dates for spans of weeks, months for longer ones.
pub(super) fn time_ticks(t0: i64, t1: i64) -> Vec<(i64, String)> {
    const MAX_TICKS: i64 = 6;
    let span = (t1 - t0).max(1);
    const MIN: i64 = 60;
    const HOUR: i64 = 3_600;
    const DAY: i64 = 86_400;
    let steps = [
        MIN,
        5 * MIN,
        15 * MIN,
        30 * MIN,
        HOUR,
        3 * HOUR,
        6 * HOUR,
        12 * HOUR,
        DAY,
        2 * DAY,
        7 * DAY,
        14 * DAY,
    ];
    if let Some(&step) = steps.iter().find(|&&s| span / s < MAX_TICKS) {
        let fmt = if step < DAY {
            "%m-%d %H:%M"
        } else {
            "%Y-%m-%d"
        };
        let mut out = Vec::new();
        let mut t = t0.div_euclid(step) * step;
        if t < t0 {
            t += step;
        }
        while t <= t1 && out.len() < 12 {
            if let Some(d) = DateTime::<Utc>::from_timestamp(t, 0) {
                out.push((t, d.format(fmt).to_string()));
            }
            t += step;
        }
        return out;
    }
    // Calendar months: 1, 2, 3, 6, 12, 24, ... months apart, on the first of the month.
    let months_span = span / (30 * DAY) + 1;
    let mut step_m: i64 = 1;
    for s in [1, 2, 3, 6, 12] {
        step_m = s;
        if months_span / s < MAX_TICKS {
            break;
        }
    }
    while months_span / step_m >= MAX_TICKS && step_m < 12_000 {
        step_m *= 2;
    }
    let Some(start) = DateTime::<Utc>::from_timestamp(t0, 0) else {
        return Vec::new();
    };
    let mut idx = start.year() as i64 * 12 + start.month0() as i64;
    idx = idx.div_euclid(step_m) * step_m;
    let mut out = Vec::new();
    while out.len() < 12 {
        let (y, m) = (idx.div_euclid(12), idx.rem_euclid(12) as u32 + 1);
        let Some(date) = i32::try_from(y)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, m, 1))
        else {
            break;
        };
        let Some(t) = date
            .and_hms_opt(0, 0, 0)
            .map(|d| Utc.from_utc_datetime(&d).timestamp())
        else {
            break;
        };
        if t > t1 {
            break;
        }
        if t >= t0 {
            let fmt = if step_m >= 12 { "%Y" } else { "%b %Y" };
            out.push((t, date.format(fmt).to_string()));
        }
        idx += step_m;
    }
    out
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum DurationUnit {
    Seconds,
    Minutes,
    Hours,
}

impl DurationUnit {
    pub(super) fn for_max(max_seconds: f64) -> Self {
        if max_seconds <= 150.0 {
            Self::Seconds
        } else if max_seconds <= 3.0 * 3600.0 {
            Self::Minutes
        } else {
            Self::Hours
        }
    }
    pub(super) fn seconds(self) -> f64 {
        match self {
            Self::Seconds => 1.0,
            Self::Minutes => 60.0,
            Self::Hours => 3600.0,
        }
    }
    pub(super) fn label(self) -> &'static str {
        match self {
            Self::Seconds => "s",
            Self::Minutes => "min",
            Self::Hours => "h",
        }
    }
}

/// The round number (1, 2, 2.5 or 5 times a power of ten) nearest above `raw`.
pub(super) fn nice_step(raw: f64) -> f64 {
    if !raw.is_finite() || raw <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 2.5 {
        2.5
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// A tick value with as many decimals as its step needs (0, 1 or 2).
pub(super) fn format_tick(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else if step >= 0.1 && (step * 10.0 - (step * 10.0).round()).abs() < 1e-9 {
        1
    } else {
        2
    };
    format!("{v:.decimals$}")
}
