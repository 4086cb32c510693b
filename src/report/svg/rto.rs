//! The RTO chart: measured recoveries over time against the target.

use std::fmt::Write as _;

use super::axis::{DurationUnit, format_tick, nice_step, time_axis};
use super::*;
use crate::present;

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
