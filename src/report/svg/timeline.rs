//! The backup timeline: one lane per backup kind, one marker per backup.

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use super::axis::time_axis;
use super::*;
use crate::present;

/// How one backup kind is drawn.
pub(super) struct KindStyle {
    name: &'static str,
    color: &'static str,
    shape: Shape,
}

#[derive(Clone, Copy)]
pub(super) enum Shape {
    Circle,
    Square,
    Diamond,
    Triangle,
}

pub(super) const KINDS: [KindStyle; 4] = [
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

pub(super) fn kind_index(kind: &str) -> usize {
    match kind.trim().to_ascii_lowercase().as_str() {
        "full" => 0,
        "incremental" | "incr" | "inc" => 1,
        "archival" | "archive" => 2,
        _ => 3,
    }
}

/// Marker radius for a backup of `bytes`: log scale, 1 KiB or less is the smallest (2.5) and
/// 1 TiB or more the largest (9).
pub(super) fn marker_radius(bytes: u64) -> f64 {
    let lg = (bytes.max(1) as f64).log2();
    let f = ((lg - 10.0) / 30.0).clamp(0.0, 1.0);
    2.5 + f * 6.5
}

pub(super) fn marker(shape: Shape, x: f64, y: f64, r: f64, attrs: &str, title: &str) -> String {
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
