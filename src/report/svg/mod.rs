//! Inline SVG charts for the single-file HTML DR report: RTO achieved over time and a backup timeline.
//!
//! Every function is pure and returns one self-contained `<svg>` element as a string: no scripts,
//! no `<style>` (a style element in inline SVG would leak into the whole page), no ids (several
//! charts share one page), no external fonts, images or links. Each chart has a `viewBox` and a
//! natural size of [`WIDTH`] pixels, shrinking with its container (`max-width:100%;height:auto`),
//! and is accessible: `role="img"`, an `aria-label` summary and a `<title>` as its first child.
//! All text that comes from data goes through [`escape`]. Markers carry a `class` (`rto-point`,
//! `backup`) and their own `<title>` tooltip, so tests and readers can find them.

mod axis;
mod rto;
mod timeline;

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

pub use rto::rto_chart;
pub use timeline::backup_timeline;

/// Natural width of every chart, in user units (= CSS pixels at natural size).
pub const WIDTH: f64 = 720.0;

pub(super) const RTO_HEIGHT: f64 = 320.0;
pub(super) const FONT: &str =
    "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";
pub(super) const INK: &str = "#1f2933";
pub(super) const MUTED: &str = "#52606d";
pub(super) const GRID: &str = "#e4e7eb";
pub(super) const AXIS: &str = "#9aa5b1";
pub(super) const PASS: &str = "#2e7d32";
pub(super) const FAIL: &str = "#c62828";
pub(super) const TARGET: &str = "#b26a00";

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

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

pub(super) fn open_svg(height: f64, label: &str, title: &str) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0} {height:.0}" width="{WIDTH:.0}" height="{height:.0}" style="max-width:100%;height:auto" role="img" aria-label="{}" font-family="{FONT}"><title>{}</title><rect x="0" y="0" width="{WIDTH:.0}" height="{height:.0}" fill="#ffffff"/>"##,
        escape(label),
        escape(title)
    )
}

pub(super) fn placeholder(svg: &mut String, height: f64, text: &str) {
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

#[cfg(test)]
mod tests {
    use super::axis::*;
    use super::timeline::*;
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
