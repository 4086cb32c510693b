//! Inline SVG charts for the single-file HTML DR report: RTO achieved over time and a backup timeline.
//!
//! Every function is pure and returns one self-contained `<svg>` element as a string: no scripts,
//! no `<style>` (a style element in inline SVG would leak into the whole page), no ids (several
//! charts share one page), no external fonts, images or links. Each chart has a `viewBox` and a
//! natural size of [`WIDTH`] pixels, shrinking with its container (`max-width:100%;height:auto`),
//! and is accessible: `role="img"`, an `aria-label` summary and a `<title>` as its first child.
//! All text that comes from data goes through [`escape`]. Markers carry a `class` (`rto-point`,
//! `backup`) and their own `<title>` tooltip, so tests and readers can find them.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};

use crate::present;

/// Natural width of every chart, in user units (= CSS pixels at natural size).
pub const WIDTH: f64 = 720.0;

const RTO_HEIGHT: f64 = 320.0;
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";
const INK: &str = "#1f2933";
const MUTED: &str = "#52606d";
const GRID: &str = "#e4e7eb";
const AXIS: &str = "#9aa5b1";
const PASS: &str = "#2e7d32";
const FAIL: &str = "#c62828";
const TARGET: &str = "#b26a00";

/// One measured recovery: when the drill ran, how long the recovery took, and whether it met the
/// objective it was measured against.
#[derive(Debug, Clone, PartialEq)]
pub struct RtoPoint {
    pub at: DateTime<Utc>,
    pub seconds: f64,
    pub passed: bool,
}

/// One backup on the timeline. `kind` is `"full"`, `"incremental"` or `"archival"`; any other
/// value is drawn in an "other" lane under its own name.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineBackup {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub bytes: u64,
    pub ok: bool,
}

/// Escapes text for XML character data and attribute values (`&`, `<`, `>`, `"`, `'`). Characters
/// that XML 1.0 forbids (most C0 controls) become U+FFFD, so the result is always well-formed.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// RTO achieved over time: one dot per measurement (green passed, red failed) joined by a line in
/// time order, a dashed horizontal line at `target_seconds` labelled "target", date ticks along
/// the bottom and duration ticks (seconds, minutes or hours, whichever reads best) up the side.
/// With no points it is a "no measurements yet" placeholder. A non-finite or negative
/// `target_seconds` draws no target line; a NaN or negative measurement is drawn at 0 and an
/// infinite one at the top of the chart (its tooltip still tells the value).
pub fn rto_chart(points: &[RtoPoint], target_seconds: f64) -> String {
    let target = (target_seconds.is_finite() && target_seconds >= 0.0).then_some(target_seconds);
    let passed = points.iter().filter(|p| p.passed).count();
    let mut label = format!(
        "Recovery time achieved over time: {} measurement{}",
        points.len(),
        plural(points.len())
    );
    if !points.is_empty() {
        let _ = write!(label, ", {passed} passed, {} failed", points.len() - passed);
    }
    if let Some(t) = target {
        let _ = write!(label, "; target {}", present::duration(t));
    }
    let height = if points.is_empty() { 120.0 } else { RTO_HEIGHT };
    let mut svg = open_svg(height, &label, "Recovery time (RTO) over time");
    if points.is_empty() {
        placeholder(&mut svg, height, "no measurements yet");
        svg.push_str("</svg>");
        return svg;
    }

    // Plot area.
    let (left, right, top, bottom) = (64.0, WIDTH - 24.0, 40.0, RTO_HEIGHT - 52.0);

    // Y scale: a readable unit, nice ticks from 0 to just above the largest value (capped at
    // about 300 years, beyond which dots sit at the top).
    let finite_max = points
        .iter()
        .map(|p| p.seconds)
        .filter(|s| s.is_finite())
        .fold(0.0_f64, f64::max)
        .max(target.unwrap_or(0.0))
        .min(1e10);
    let unit = DurationUnit::for_max(finite_max);
    let max_in_unit = finite_max / unit.seconds();
    let step = nice_step(if max_in_unit > 0.0 {
        max_in_unit * 1.08 / 4.0
    } else {
        0.25
    });
    let y_top_unit = ((max_in_unit * 1.08) / step).ceil().max(1.0) * step;
    let y_top = y_top_unit * unit.seconds();
    let y_of = |secs: f64| bottom - (secs / y_top).clamp(0.0, 1.0) * (bottom - top);

    // X scale: the measurements' span, padded so dots are not on the frame; a single instant is
    // shown in the middle of a two-day window.
    let first = points.iter().map(|p| p.at.timestamp()).min().unwrap_or(0);
    let last = points.iter().map(|p| p.at.timestamp()).max().unwrap_or(0);
    let (t0, t1) = if last > first {
        let pad = ((last - first) as f64 * 0.05).max(60.0) as i64;
        (first - pad, last + pad)
    } else {
        (first - 86_400, first + 86_400)
    };
    let x_of = |t: i64| left + (t - t0) as f64 / (t1 - t0) as f64 * (right - left);

    // Grid and y ticks.
    for i in 0..50 {
        let v = f64::from(i) * step;
        if v > y_top_unit + step * 1e-6 {
            break;
        }
        let y = y_of(v * unit.seconds());
        let _ = write!(
            svg,
            r#"<line x1="{left:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="{GRID}" stroke-width="1"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="{MUTED}">{}</text>"#,
            left - 8.0,
            y + 4.0,
            format_tick(v, step)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle" font-size="12" fill="{MUTED}">RTO ({})</text>"#,
        (top + bottom) / 2.0,
        (top + bottom) / 2.0,
        unit.label()
    );

    time_axis(&mut svg, t0, t1, left, right, bottom, &x_of);

    // Target line, with its label above the right end.
    if let Some(t) = target {
        let y = y_of(t);
        let _ = write!(
            svg,
            r#"<g class="target"><title>{}</title><line x1="{left:.1}" y1="{y:.1}" x2="{right:.1}" y2="{y:.1}" stroke="{TARGET}" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="11" font-weight="600" fill="{TARGET}">target {}</text></g>"#,
            escape(&format!("target {}", present::duration(t))),
            right - 2.0,
            y - 5.0,
            escape(&present::duration(t))
        );
    }

    // The line through the measurements in time order, then the dots above it.
    let mut ordered: Vec<&RtoPoint> = points.iter().collect();
    ordered.sort_by_key(|p| p.at);
    let y_val = |s: f64| {
        if s.is_nan() || s < 0.0 {
            0.0
        } else {
            s.min(y_top)
        }
    };
    if ordered.len() > 1 {
        let pts: Vec<String> = ordered
            .iter()
            .map(|p| {
                format!(
                    "{:.1},{:.1}",
                    x_of(p.at.timestamp()),
                    y_of(y_val(p.seconds))
                )
            })
            .collect();
        let _ = write!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="#7b8794" stroke-width="1.5" stroke-linejoin="round"/>"##,
            pts.join(" ")
        );
    }
    for p in &ordered {
        let (color, verdict) = if p.passed {
            (PASS, "passed")
        } else {
            (FAIL, "failed")
        };
        let tip = format!(
            "{} · {} · {}",
            p.at.format("%Y-%m-%d %H:%M UTC"),
            present::duration(p.seconds),
            verdict
        );
        let _ = write!(
            svg,
            r##"<circle class="rto-point" cx="{:.1}" cy="{:.1}" r="5" fill="{color}" stroke="#ffffff" stroke-width="1.5"><title>{}</title></circle>"##,
            x_of(p.at.timestamp()),
            y_of(y_val(p.seconds)),
            escape(&tip)
        );
    }

    // Legend along the top.
    let l = left;
    let _ = write!(
        svg,
        r##"<g font-size="11" fill="{INK}"><circle cx="{:.1}" cy="18" r="5" fill="{PASS}"/><text x="{:.1}" y="22">passed</text><circle cx="{:.1}" cy="18" r="5" fill="{FAIL}"/><text x="{:.1}" y="22">failed</text><line x1="{:.1}" y1="18" x2="{:.1}" y2="18" stroke="{TARGET}" stroke-width="1.5" stroke-dasharray="6 4"/><text x="{:.1}" y="22">target</text></g>"##,
        l,
        l + 9.0,
        l + 66.0,
        l + 75.0,
        l + 124.0,
        l + 148.0,
        l + 154.0,
    );
    svg.push_str("</svg>");
    svg
}

/// How one backup kind is drawn.
struct KindStyle {
    name: &'static str,
    color: &'static str,
    shape: Shape,
}

#[derive(Clone, Copy)]
enum Shape {
    Circle,
    Square,
    Diamond,
    Triangle,
}

const KINDS: [KindStyle; 4] = [
    KindStyle {
        name: "full",
        color: "#1565c0",
        shape: Shape::Circle,
    },
    KindStyle {
        name: "incremental",
        color: "#00897b",
        shape: Shape::Square,
    },
    KindStyle {
        name: "archival",
        color: "#6a1b9a",
        shape: Shape::Diamond,
    },
    KindStyle {
        name: "other",
        color: "#7b8794",
        shape: Shape::Triangle,
    },
];

fn kind_index(kind: &str) -> usize {
    match kind.trim().to_ascii_lowercase().as_str() {
        "full" => 0,
        "incremental" | "incr" | "inc" => 1,
        "archival" | "archive" => 2,
        _ => 3,
    }
}

/// Marker radius for a backup of `bytes`: log scale, 1 KiB or less is the smallest (2.5) and
/// 1 TiB or more the largest (9).
fn marker_radius(bytes: u64) -> f64 {
    let lg = (bytes.max(1) as f64).log2();
    let f = ((lg - 10.0) / 30.0).clamp(0.0, 1.0);
    2.5 + f * 6.5
}

fn marker(shape: Shape, x: f64, y: f64, r: f64, attrs: &str, title: &str) -> String {
    let t = format!("<title>{}</title>", escape(title));
    match shape {
        Shape::Circle => {
            format!(r#"<circle {attrs} cx="{x:.1}" cy="{y:.1}" r="{r:.1}">{t}</circle>"#)
        }
        Shape::Square => {
            let s = r * 0.85;
            format!(
                r#"<rect {attrs} x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}">{t}</rect>"#,
                x - s,
                y - s,
                2.0 * s,
                2.0 * s
            )
        }
        Shape::Diamond => {
            let s = r * 1.2;
            format!(
                r#"<polygon {attrs} points="{x:.1},{:.1} {:.1},{y:.1} {x:.1},{:.1} {:.1},{y:.1}">{t}</polygon>"#,
                y - s,
                x + s,
                y + s,
                x - s
            )
        }
        Shape::Triangle => {
            let s = r * 1.15;
            format!(
                r#"<polygon {attrs} points="{x:.1},{:.1} {:.1},{:.1} {:.1},{:.1}">{t}</polygon>"#,
                y - s,
                x + s,
                y + s * 0.8,
                x - s,
                y + s * 0.8
            )
        }
    }
}

/// Backups between `from` and `to` on a horizontal time axis: one lane per kind (full,
/// incremental, archival, and "other" when some kind is none of those), one marker per backup
/// whose shape and colour tell its kind (see the legend) and whose size grows with the log of
/// its bytes; failed backups (`ok == false`) are outlined in red. Backups outside the window are
/// not drawn (a note says how many); `from` and `to` may come in either order. With no backups it
/// is a "no backups yet" placeholder.
pub fn backup_timeline(
    backups: &[TimelineBackup],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> String {
    let (from, to) = if from <= to { (from, to) } else { (to, from) };
    let (t0, t1) = if to > from {
        (from.timestamp(), to.timestamp().max(from.timestamp() + 1))
    } else {
        (from.timestamp() - 43_200, from.timestamp() + 43_200)
    };
    let in_window: Vec<&TimelineBackup> = backups
        .iter()
        .filter(|b| (t0..=t1).contains(&b.at.timestamp()))
        .collect();
    let failed = in_window.iter().filter(|b| !b.ok).count();
    let has_other = in_window.iter().any(|b| kind_index(&b.kind) == 3);
    let lanes = if has_other { 4 } else { 3 };

    let lane_h = 40.0;
    let top = 12.0;
    let axis_y = top + lanes as f64 * lane_h;
    let height = if backups.is_empty() {
        120.0
    } else {
        axis_y + 76.0
    };
    let mut label = format!(
        "Backups from {} to {}: {} backup{}",
        from.format("%Y-%m-%d"),
        to.format("%Y-%m-%d"),
        in_window.len(),
        plural(in_window.len())
    );
    if failed > 0 {
        let _ = write!(label, ", {failed} failed");
    }
    let mut svg = open_svg(height, &label, "Backup timeline");
    if backups.is_empty() {
        placeholder(&mut svg, height, "no backups yet");
        svg.push_str("</svg>");
        return svg;
    }

    let (left, right) = (104.0, WIDTH - 24.0);
    // Markers keep clear of the lane labels and the right edge.
    let pad = 14.0;
    let x_of =
        |t: i64| left + pad + (t - t0) as f64 / (t1 - t0) as f64 * (right - left - 2.0 * pad);

    // Lanes: a faint band each, the kind's name on the left.
    for (i, k) in KINDS.iter().take(lanes).enumerate() {
        let y = top + i as f64 * lane_h;
        let fill = if i % 2 == 0 { "#f5f7fa" } else { "#ffffff" };
        let _ = write!(
            svg,
            r#"<rect x="{left:.1}" y="{y:.1}" width="{:.1}" height="{lane_h:.1}" fill="{fill}"/><text x="{:.1}" y="{:.1}" text-anchor="end" font-size="12" fill="{INK}">{}</text>"#,
            right - left,
            left - 10.0,
            y + lane_h / 2.0 + 4.0,
            k.name
        );
    }
    time_axis(&mut svg, t0, t1, left, right, axis_y, &x_of);

    // Markers: the failed ones last so their outline is on top, else the largest first so small
    // ones stay visible.
    let mut ordered = in_window.clone();
    ordered.sort_by(|a, b| {
        a.ok.cmp(&b.ok)
            .reverse()
            .then(b.bytes.cmp(&a.bytes))
            .then(a.at.cmp(&b.at))
    });
    for b in &ordered {
        let ki = kind_index(&b.kind);
        let style = &KINDS[ki];
        let x = x_of(b.at.timestamp());
        let y = top + ki as f64 * lane_h + lane_h / 2.0;
        let attrs = if b.ok {
            format!(
                r##"class="backup" fill="{}" fill-opacity="0.85" stroke="#ffffff" stroke-width="1""##,
                style.color
            )
        } else {
            format!(
                r#"class="backup failed" fill="{}" fill-opacity="0.85" stroke="{FAIL}" stroke-width="2.5""#,
                style.color
            )
        };
        let tip = format!(
            "{} backup · {} · {} · {}",
            b.kind,
            b.at.format("%Y-%m-%d %H:%M UTC"),
            present::bytes(b.bytes),
            if b.ok { "ok" } else { "FAILED" }
        );
        svg.push_str(&marker(
            style.shape,
            x,
            y,
            marker_radius(b.bytes),
            &attrs,
            &tip,
        ));
    }

    // Legend: kinds in use (the three standard ones always), failure outline, size scale.
    let ly = axis_y + 58.0;
    let mut x = left;
    let _ = write!(svg, r#"<g font-size="11" fill="{INK}">"#);
    for k in KINDS.iter().take(lanes) {
        svg.push_str(&marker(
            k.shape,
            x + 5.0,
            ly - 4.0,
            5.0,
            &format!(r#"fill="{}""#, k.color),
            k.name,
        ));
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{ly:.1}">{}</text>"#,
            x + 14.0,
            k.name
        );
        x += 24.0 + 6.5 * k.name.len() as f64 + 8.0;
    }
    svg.push_str(&marker(
        Shape::Circle,
        x + 5.0,
        ly - 4.0,
        5.0,
        &format!(r##"fill="#ffffff" stroke="{FAIL}" stroke-width="2.5""##),
        "failed",
    ));
    let _ = write!(
        svg,
        r#"<text x="{:.1}" y="{ly:.1}">failed</text><text x="{right:.1}" y="{ly:.1}" text-anchor="end" fill="{MUTED}">size: log of bytes</text></g>"#,
        x + 14.0
    );
    let outside = backups.len() - in_window.len();
    if outside > 0 {
        let _ = write!(
            svg,
            r#"<text x="{right:.1}" y="{:.1}" text-anchor="end" font-size="11" fill="{MUTED}">{outside} backup{} outside this period not shown</text>"#,
            top - 1.0,
            plural(outside)
        );
    }
    svg.push_str("</svg>");
    svg
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn open_svg(height: f64, label: &str, title: &str) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0} {height:.0}" width="{WIDTH:.0}" height="{height:.0}" style="max-width:100%;height:auto" role="img" aria-label="{}" font-family="{FONT}"><title>{}</title><rect x="0" y="0" width="{WIDTH:.0}" height="{height:.0}" fill="#ffffff"/>"##,
        escape(label),
        escape(title)
    )
}

fn placeholder(svg: &mut String, height: f64, text: &str) {
    let _ = write!(
        svg,
        r##"<rect x="8" y="8" width="{:.0}" height="{:.0}" rx="6" fill="#f5f7fa" stroke="{GRID}" stroke-dasharray="4 4"/><text class="placeholder" x="{:.1}" y="{:.1}" text-anchor="middle" font-size="14" fill="{MUTED}">{}</text>"##,
        WIDTH - 16.0,
        height - 16.0,
        WIDTH / 2.0,
        height / 2.0 + 5.0,
        escape(text)
    );
}

/// The bottom axis: a base line, ticks at round instants, and "time (UTC)" under the right end.
fn time_axis(
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
fn time_ticks(t0: i64, t1: i64) -> Vec<(i64, String)> {
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
enum DurationUnit {
    Seconds,
    Minutes,
    Hours,
}

impl DurationUnit {
    fn for_max(max_seconds: f64) -> Self {
        if max_seconds <= 150.0 {
            Self::Seconds
        } else if max_seconds <= 3.0 * 3600.0 {
            Self::Minutes
        } else {
            Self::Hours
        }
    }
    fn seconds(self) -> f64 {
        match self {
            Self::Seconds => 1.0,
            Self::Minutes => 60.0,
            Self::Hours => 3600.0,
        }
    }
    fn label(self) -> &'static str {
        match self {
            Self::Seconds => "s",
            Self::Minutes => "min",
            Self::Hours => "h",
        }
    }
}

/// The round number (1, 2, 2.5 or 5 times a power of ten) nearest above `raw`.
fn nice_step(raw: f64) -> f64 {
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
fn format_tick(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else if step >= 0.1 && (step * 10.0 - (step * 10.0).round()).abs() < 1e-9 {
        1
    } else {
        2
    };
    format!("{v:.decimals$}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("test date")
            .with_timezone(&Utc)
    }

    /// A minimal XML well-formedness check: one root element, every tag closed in order,
    /// attributes quoted and unique, only the five named entities or numeric references, no raw
    /// `<` or `&` in text or attribute values, no comments/PIs/CDATA (the charts use none).
    /// Returns the element names in document order.
    fn check_xml(doc: &str) -> Result<Vec<String>, String> {
        fn check_text(t: &str, at: usize) -> Result<(), String> {
            let mut rest = t;
            while let Some(i) = rest.find('&') {
                let after = &rest[i + 1..];
                let end = after.find(';').ok_or(format!("bare & near byte {at}"))?;
                let name = &after[..end];
                let ok = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
                    || name
                        .strip_prefix("#x")
                        .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
                    || name
                        .strip_prefix('#')
                        .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()));
                if !ok {
                    return Err(format!("bad entity &{name}; near byte {at}"));
                }
                rest = &after[end + 1..];
            }
            if let Some(c) = t
                .chars()
                .find(|&c| (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
            {
                return Err(format!("control character {:?} near byte {at}", c));
            }
            Ok(())
        }
        fn is_name(s: &str) -> bool {
            let mut cs = s.chars();
            cs.next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && cs.all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        }

        let mut stack: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut roots = 0;
        let mut i = 0;
        let b = doc.as_bytes();
        while i < b.len() {
            if b[i] != b'<' {
                let end = doc[i..].find('<').map_or(doc.len(), |j| i + j);
                let text = &doc[i..end];
                if stack.is_empty() && !text.trim().is_empty() {
                    return Err(format!("text outside the root near byte {i}"));
                }
                if text.contains('>') {
                    // Legal in XML, but the escaper never leaves one: flag it.
                    return Err(format!("raw > in text near byte {i}"));
                }
                check_text(text, i)?;
                i = end;
                continue;
            }
            // A tag: find its end, honouring quotes.
            let mut j = i + 1;
            let mut quote: Option<u8> = None;
            while j < b.len() {
                match (quote, b[j]) {
                    (None, b'"' | b'\'') => quote = Some(b[j]),
                    (Some(q), c) if c == q => quote = None,
                    (None, b'<') => return Err(format!("< inside a tag near byte {j}")),
                    (None, b'>') => break,
                    _ => {}
                }
                j += 1;
            }
            if j >= b.len() {
                return Err(format!("unterminated tag at byte {i}"));
            }
            let inner = &doc[i + 1..j];
            i = j + 1;
            if let Some(name) = inner.strip_prefix('/') {
                let name = name.trim_end();
                match stack.pop() {
                    Some(open) if open == name => continue,
                    other => return Err(format!("</{name}> closes {other:?}")),
                }
            }
            if inner.starts_with('!') || inner.starts_with('?') {
                return Err("comments, PIs and CDATA are not expected".into());
            }
            let (body, self_closing) = match inner.strip_suffix('/') {
                Some(s) => (s, true),
                None => (inner, false),
            };
            let name_end = body.find(|c: char| c.is_whitespace()).unwrap_or(body.len());
            let name = &body[..name_end];
            if !is_name(name) {
                return Err(format!("bad element name {name:?}"));
            }
            // Attributes: name="value" pairs.
            let mut rest = body[name_end..].trim_start();
            let mut seen = Vec::new();
            while !rest.is_empty() {
                let eq = rest
                    .find('=')
                    .ok_or(format!("attribute without value in <{name}>"))?;
                let an = rest[..eq].trim();
                if !is_name(an) || seen.contains(&an) {
                    return Err(format!("bad or repeated attribute {an:?} in <{name}>"));
                }
                seen.push(an);
                let after = rest[eq + 1..].trim_start();
                let q = after.chars().next().filter(|c| *c == '"' || *c == '\'');
                let q = q.ok_or(format!("unquoted attribute {an} in <{name}>"))?;
                let close = after[1..]
                    .find(q)
                    .ok_or(format!("unterminated attribute {an}"))?;
                let value = &after[1..1 + close];
                if value.contains('<') {
                    return Err(format!("< in attribute {an} of <{name}>"));
                }
                check_text(value, i)?;
                let next = &after[close + 2..];
                if !next.is_empty() && !next.starts_with(char::is_whitespace) {
                    return Err(format!("no space after attribute {an} in <{name}>"));
                }
                rest = next.trim_start();
            }
            if stack.is_empty() {
                roots += 1;
            }
            names.push(name.to_string());
            if !self_closing {
                stack.push(name.to_string());
            }
        }
        if let Some(open) = stack.pop() {
            return Err(format!("<{open}> never closed"));
        }
        if roots != 1 {
            return Err(format!("{roots} root elements"));
        }
        Ok(names)
    }

    fn assert_chart_basics(svg: &str) -> Vec<String> {
        let names = check_xml(svg).unwrap_or_else(|e| panic!("not well-formed: {e}\n{svg}"));
        assert_eq!(names.first().map(String::as_str), Some("svg"));
        assert_eq!(
            names.get(1).map(String::as_str),
            Some("title"),
            "title is the first child"
        );
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 720 "));
        assert!(svg.contains(r#"role="img""#) && svg.contains("aria-label=\""));
        for banned in [
            "<script",
            "<style",
            "href",
            "url(",
            "@import",
            " id=",
            "<foreignObject",
            "NaN",
            "inf",
        ] {
            assert!(!svg.contains(banned), "{banned} in {svg}");
        }
        names
    }

    fn count(hay: &str, needle: &str) -> usize {
        hay.matches(needle).count()
    }

    fn rto_points() -> Vec<RtoPoint> {
        vec![
            RtoPoint {
                at: at("2026-03-01T02:00:00Z"),
                seconds: 240.0,
                passed: true,
            },
            RtoPoint {
                at: at("2026-03-08T02:00:00Z"),
                seconds: 410.0,
                passed: false,
            },
            RtoPoint {
                at: at("2026-03-15T02:10:00Z"),
                seconds: 200.5,
                passed: true,
            },
            RtoPoint {
                at: at("2026-03-04T02:00:00Z"),
                seconds: 260.0,
                passed: true,
            },
        ]
    }

    #[test]
    fn escape_handles_markup_and_controls() {
        assert_eq!(
            escape(r#"a<b>&"c"'d'"#),
            "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;"
        );
        assert_eq!(escape("tab\tok\u{1}bad"), "tab\tok\u{FFFD}bad");
        assert_eq!(escape("héllo ✓"), "héllo ✓");
        check_xml(&format!("<t a=\"{0}\">{0}</t>", escape("<&>\"' \u{0}")))
            .expect("escaped is well-formed");
    }

    #[test]
    fn the_checker_rejects_broken_xml() {
        for bad in [
            "<a><b></a></b>",
            "<a>",
            "<a>x & y</a>",
            "<a b=c/>",
            "<a b=\"1\" b=\"2\"/>",
            "<a/><b/>",
            "<a>&nbsp;</a>",
            "<a b=\"<\"/>",
        ] {
            assert!(check_xml(bad).is_err(), "{bad} passed");
        }
        assert_eq!(
            check_xml("<a x='1'><b/>t&amp;&#38;&#x26;</a>"),
            Ok(vec!["a".into(), "b".into()])
        );
    }

    #[test]
    fn rto_chart_has_one_dot_per_point_coloured_by_verdict_and_a_target_line() {
        let pts = rto_points();
        let svg = rto_chart(&pts, 300.0);
        assert_chart_basics(&svg);
        assert_eq!(count(&svg, r#"class="rto-point""#), pts.len());
        assert_eq!(
            count(&svg, &format!(r##"fill="{FAIL}" stroke="#ffffff""##)),
            1
        );
        assert_eq!(
            count(&svg, &format!(r##"fill="{PASS}" stroke="#ffffff""##)),
            3
        );
        assert_eq!(count(&svg, r#"class="target""#), 1);
        assert!(svg.contains("stroke-dasharray=\"6 4\""));
        assert!(svg.contains(">target 5 min</text>"), "{svg}");
        assert!(svg.contains("<polyline"));
        // Values of minutes: ticks in minutes.
        assert!(svg.contains(">RTO (min)</text>"));
        assert!(svg.contains("2026-03-08 02:00 UTC · 6 min 50 s · failed"));
        assert!(svg.contains(r#"aria-label="Recovery time achieved over time: 4 measurements, 3 passed, 1 failed; target 5 min""#));
    }

    #[test]
    fn rto_chart_picks_readable_units() {
        let one = |s: f64| {
            vec![RtoPoint {
                at: at("2026-01-01T00:00:00Z"),
                seconds: s,
                passed: true,
            }]
        };
        assert!(rto_chart(&one(12.0), 30.0).contains(">RTO (s)</text>"));
        assert!(rto_chart(&one(600.0), 900.0).contains(">RTO (min)</text>"));
        assert!(rto_chart(&one(5.0 * 3600.0), 4.0 * 3600.0).contains(">RTO (h)</text>"));
    }

    #[test]
    fn rto_chart_with_one_point_centres_it_with_date_ticks() {
        let svg = rto_chart(
            &[RtoPoint {
                at: at("2026-05-10T12:00:00Z"),
                seconds: 90.0,
                passed: true,
            }],
            120.0,
        );
        assert_chart_basics(&svg);
        assert_eq!(count(&svg, r#"class="rto-point""#), 1);
        assert!(!svg.contains("<polyline"), "no line through a single point");
        let x = (64.0 + (WIDTH - 24.0)) / 2.0;
        assert!(
            svg.contains(&format!(r#"class="rto-point" cx="{x:.1}""#)),
            "{svg}"
        );
        assert!(
            svg.contains("05-10 12:00"),
            "date ticks around the point: {svg}"
        );
        assert!(svg.contains(">target 2 min</text>"));
    }

    #[test]
    fn rto_chart_survives_odd_values() {
        let pts = vec![
            RtoPoint {
                at: at("2026-01-01T00:00:00Z"),
                seconds: f64::NAN,
                passed: false,
            },
            RtoPoint {
                at: at("2026-01-02T00:00:00Z"),
                seconds: f64::INFINITY,
                passed: false,
            },
            RtoPoint {
                at: at("2026-01-03T00:00:00Z"),
                seconds: -4.0,
                passed: true,
            },
            RtoPoint {
                at: at("2026-01-03T00:00:00Z"),
                seconds: 0.0,
                passed: true,
            },
        ];
        for target in [f64::NAN, -1.0, 0.0, 1e12, 1e300, f64::MAX] {
            let svg = rto_chart(&pts, target);
            assert_chart_basics(&svg);
            assert_eq!(count(&svg, r#"class="rto-point""#), 4);
            assert_eq!(svg.contains(r#"class="target""#), target >= 0.0);
        }
    }

    #[test]
    fn empty_charts_are_placeholders() {
        let svg = rto_chart(&[], 300.0);
        assert_chart_basics(&svg);
        assert!(svg.contains(">no measurements yet</text>"));
        assert!(!svg.contains("rto-point"));
        let svg = backup_timeline(&[], at("2026-01-01T00:00:00Z"), at("2026-02-01T00:00:00Z"));
        assert_chart_basics(&svg);
        assert!(svg.contains(">no backups yet</text>"));
        assert!(!svg.contains("class=\"backup"));
    }

    fn backups() -> Vec<TimelineBackup> {
        let b = |t: &str, kind: &str, bytes: u64, ok: bool| TimelineBackup {
            at: at(t),
            kind: kind.into(),
            bytes,
            ok,
        };
        vec![
            b("2026-03-01T01:00:00Z", "full", 40 << 30, true),
            b("2026-03-02T01:00:00Z", "incremental", 300 << 20, true),
            b("2026-03-03T01:00:00Z", "incremental", 2 << 20, false),
            b("2026-03-08T01:00:00Z", "full", 41 << 30, true),
            b("2026-03-10T01:00:00Z", "archival", 1 << 40, true),
            b("2026-03-11T01:00:00Z", "incremental", 0, true),
        ]
    }

    #[test]
    fn timeline_has_one_marker_per_backup_shaped_by_kind_and_failures_outlined() {
        let bs = backups();
        let svg = backup_timeline(&bs, at("2026-03-01T00:00:00Z"), at("2026-03-15T00:00:00Z"));
        let names = assert_chart_basics(&svg);
        assert_eq!(count(&svg, r#"class="backup"#), bs.len());
        assert_eq!(count(&svg, r#"class="backup failed""#), 1);
        assert_eq!(
            count(&svg, &format!(r#"stroke="{FAIL}" stroke-width="2.5""#)),
            2,
            "one failure + the legend"
        );
        assert_eq!(count(&svg, "<circle class=\"backup"), 2);
        assert_eq!(count(&svg, "<rect class=\"backup"), 3);
        assert_eq!(count(&svg, "<polygon class=\"backup"), 1);
        assert!(names.iter().filter(|n| *n == "title").count() > bs.len());
        for k in ["full", "incremental", "archival", "failed"] {
            assert!(svg.contains(&format!(">{k}</text>")), "legend {k}");
        }
        assert!(!svg.contains(">other</text>"));
        assert!(svg.contains("incremental backup · 2026-03-03 01:00 UTC · 2.0 MiB · FAILED"));
        assert!(svg.contains("2026-03-05"), "date ticks: {svg}");
        assert!(svg.contains(
            r#"aria-label="Backups from 2026-03-01 to 2026-03-15: 6 backups, 1 failed""#
        ));
        // Size grows with bytes and is clamped.
        assert!(marker_radius(0) == marker_radius(1024));
        assert!(marker_radius(1 << 20) < marker_radius(1 << 30));
        assert!(marker_radius(u64::MAX) == marker_radius(1 << 40));
    }

    #[test]
    fn timeline_escapes_kind_names_and_shows_an_other_lane() {
        let mut bs = backups();
        bs.push(TimelineBackup {
            at: at("2026-03-12T00:00:00Z"),
            kind: "<snap & \"x\">".into(),
            bytes: 10,
            ok: true,
        });
        let svg = backup_timeline(&bs, at("2026-03-15T00:00:00Z"), at("2026-03-01T00:00:00Z"));
        assert_chart_basics(&svg);
        assert!(svg.contains("&lt;snap &amp; &quot;x&quot;&gt; backup"));
        assert!(!svg.contains("<snap"));
        assert!(svg.contains(">other</text>"));
        assert_eq!(count(&svg, r#"class="backup"#), bs.len());
    }

    #[test]
    fn timeline_leaves_out_backups_outside_the_window_and_says_so() {
        let bs = backups();
        let svg = backup_timeline(&bs, at("2026-03-05T00:00:00Z"), at("2026-03-09T00:00:00Z"));
        assert_chart_basics(&svg);
        assert_eq!(count(&svg, r#"class="backup"#), 1);
        assert!(svg.contains(">5 backups outside this period not shown</text>"));
        // A zero-length window still draws.
        let t = at("2026-03-08T01:00:00Z");
        let svg = backup_timeline(&bs, t, t);
        assert_chart_basics(&svg);
        assert_eq!(count(&svg, r#"class="backup"#), 1);
    }

    #[test]
    fn time_ticks_are_few_and_readable_at_every_scale() {
        let t0 = at("2026-01-01T00:00:00Z").timestamp();
        for span in [
            1,
            59,
            3_600,
            86_400,
            3 * 86_400,
            30 * 86_400,
            200 * 86_400,
            3 * 365 * 86_400,
            400 * 365 * 86_400,
        ] {
            let ticks = time_ticks(t0 + 17, t0 + 17 + span);
            assert!(ticks.len() <= 7, "span {span}: {ticks:?}");
            assert!(ticks.windows(2).all(|w| w[0].0 < w[1].0));
            assert!(
                ticks
                    .iter()
                    .all(|(t, _)| (t0 + 17..=t0 + 17 + span).contains(t))
            );
            if span >= 3_600 {
                assert!(ticks.len() >= 2, "span {span}: {ticks:?}");
            }
        }
        let months = time_ticks(t0, at("2026-07-15T00:00:00Z").timestamp());
        assert_eq!(months.first().map(|t| t.1.as_str()), Some("Jan 2026"));
    }
}
