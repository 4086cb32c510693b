//! The DR report as GitHub-flavoured markdown, for a person or an AI agent to read.
//!
//! [`render`] turns a [`ReportResponse`] into one markdown document: the verdict, the checks,
//! what to do, the backups, RTO, RPO, the history and any warnings. Text from data that lands in
//! a table cell goes through [`cell`] and text that lands in running prose through [`inline`], so
//! a `|` or a newline in a detail cannot break a table or start a new block.
//!
//! The small label helpers ([`kind_label`], [`direction_label`], [`seconds_label`], [`when`]) are
//! shared with the HTML renderer so both read the same.

use std::fmt::Write as _;

use crate::ops::history::Direction;
use crate::ops::report::{Level, ReportResponse, TrendPoint};
use crate::present;
use crate::repo::history::RecordKind;

/// How many of the newest backups the backup table lists.
pub const BACKUP_ROWS: usize = 20;

/// The report as one GitHub-flavoured markdown document.
pub fn render(r: &ReportResponse) -> String {
    let mut md = String::new();
    header(&mut md, r);
    checks(&mut md, r);
    recommendations(&mut md, r);
    backups(&mut md, r);
    rto(&mut md, r);
    rpo(&mut md, r);
    schedules(&mut md, r);
    history(&mut md, r);
    warnings(&mut md, r);
    md
}

/// Each host's newest backup against the RPO target (nothing without backups).
fn hosts(md: &mut String, r: &ReportResponse) {
    if r.hosts.is_empty() {
        return;
    }
    md.push_str("### Newest backup per host\n\n");
    md.push_str("| Host | Newest backup | Type | Finished | Age | RPO target | Backups |\n|---|---|---|---|---|---|---|\n");
    for h in &r.hosts {
        let _ = writeln!(
            md,
            "| {}{} | {} | {} | {} | {} | {} | {} |",
            cell(crate::ops::hosts::shown(&h.host)),
            if h.this_host { " (this host)" } else { "" },
            cell(&h.newest_backup_id),
            h.newest_backup_type,
            present::timestamp(h.newest_finished),
            h.age,
            if h.rpo_met { "met" } else { "MISSED" },
            h.backups
        );
    }
    md.push('\n');
}

/// The resilience score per drill scenario, from kept drills only.
fn resilience(md: &mut String, r: &ReportResponse) {
    let x = &r.resilience;
    let _ = writeln!(
        md,
        "### Resilience score: {:.0}/100\n\n| Scenario | Score | Drills (passed) | Last drill | Last RTO | Last RPO | |\n|---|---|---|---|---|---|---|",
        x.overall
    );
    for s in &x.scenarios {
        let _ = writeln!(
            md,
            "| {} | {:.1} | {} ({}) | {} | {} | {} | {} |",
            s.scenario,
            s.score,
            s.drills,
            s.passed,
            s.last.map_or("never".into(), |t| format!(
                "{} ({})",
                t.format("%Y-%m-%d"),
                if s.last_passed == Some(true) {
                    "passed"
                } else {
                    "failed"
                }
            )),
            s.last_rto_seconds.map_or("-".into(), present::duration),
            s.last_rpo_seconds
                .map_or("-".into(), |v| present::age(v.round() as i64)),
            cell(&s.note)
        );
    }
    let _ = writeln!(md, "\n{}\n", x.method);
}

/// Each replica: what it lacks and how far behind it is (nothing without replicas).
fn replicas(md: &mut String, r: &ReportResponse) {
    if r.replicas.is_empty() {
        return;
    }
    md.push_str("### Replicas\n\n");
    md.push_str("| Replica | Location | Missing | Newest missing | Behind | Newest held |\n|---|---|---|---|---|---|\n");
    for x in &r.replicas {
        let (missing, behind) = match &x.error {
            Some(e) => (format!("unknown: {e}"), "unknown".to_string()),
            None => (
                x.missing.to_string(),
                present::age(x.lag_seconds.unwrap_or(0)),
            ),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} |",
            cell(&x.name),
            cell(&x.location),
            cell(&missing),
            cell(
                x.newest_missing
                    .as_ref()
                    .map_or("", |b| b.backup_id.as_str())
            ),
            cell(&behind),
            cell(x.newest_held.as_ref().map_or("", |b| b.backup_id.as_str())),
        );
    }
    md.push('\n');
}

/// Text made safe for one markdown table cell: `|` is escaped and line breaks become `<br>`, so
/// the cell stays on its row and adds no column. An empty cell reads `-`.
pub fn cell(s: &str) -> String {
    let s = s.trim();
    if s.is_empty() {
        return "-".into();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '|' => out.push_str("\\|"),
            '\r' => {
                if chars.peek() == Some(&'\n') {
                    chars.next();
                }
                out.push_str("<br>");
            }
            '\n' => out.push_str("<br>"),
            c => out.push(c),
        }
    }
    out
}

/// Text made safe for one line of prose or one list item: line breaks become spaces, so data
/// cannot end the line and start a heading, a list or a table.
pub fn inline(s: &str) -> String {
    s.split(['\r', '\n'])
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// "restore test", "RTO measurement" and the like.
pub(crate) fn kind_label(k: RecordKind) -> &'static str {
    match k {
        RecordKind::Validation => "validation",
        RecordKind::RestoreTest => "restore test",
        RecordKind::RtoMeasurement => "RTO measurement",
        RecordKind::RpoMeasurement => "RPO measurement",
        RecordKind::Drill => "DR drill",
    }
}

/// A trend direction in words ("insufficient data").
pub(crate) fn direction_label(d: Direction) -> &'static str {
    match d {
        Direction::Improving => "improving",
        Direction::Steady => "steady",
        Direction::Worsening => "worsening",
        Direction::InsufficientData => "insufficient data",
    }
}

/// "PASS", "WARN" or "FAIL".
pub(crate) fn level_label(l: Level) -> &'static str {
    match l {
        Level::Pass => "PASS",
        Level::Warn => "WARN",
        Level::Fail => "FAIL",
    }
}

fn pass_fail(passed: bool) -> &'static str {
    if passed { "pass" } else { "FAIL" }
}

fn header(md: &mut String, r: &ReportResponse) {
    let _ = writeln!(md, "# DR report: {}\n", r.verdict);
    let _ = writeln!(md, "- **Generated:** {}", present::timestamp(r.generated));
    let _ = writeln!(md, "- **Host:** {}", inline(&r.host));
    let _ = writeln!(md, "- **Repository:** {}", inline(&r.repository));
    let _ = writeln!(md, "- **Tool version:** {}\n", inline(&r.tool_version));
    let _ = writeln!(md, "**Summary:** {}\n", inline(&r.summary));
}

fn checks(md: &mut String, r: &ReportResponse) {
    md.push_str("## Checks\n\n");
    if r.checks.is_empty() {
        md.push_str("No checks ran.\n\n");
        return;
    }
    md.push_str("| Check | Status | Detail |\n|---|---|---|\n");
    for c in &r.checks {
        let _ = writeln!(
            md,
            "| {} | {} | {} |",
            cell(&c.title),
            level_label(c.status),
            cell(&c.detail)
        );
    }
    md.push('\n');
}

fn recommendations(md: &mut String, r: &ReportResponse) {
    md.push_str("## Recommendations\n\n");
    if r.recommendations.is_empty() {
        md.push_str("Nothing to do.\n\n");
        return;
    }
    for (i, rec) in r.recommendations.iter().enumerate() {
        let _ = writeln!(md, "{}. {}", i + 1, inline(rec));
    }
    md.push('\n');
}

fn backups(md: &mut String, r: &ReportResponse) {
    let b = &r.backups;
    md.push_str("## Backups\n\n");
    let _ = writeln!(
        md,
        "- **Backups:** {} ({} full, {} incremental, {} archival)",
        b.count, b.full, b.incremental, b.archival
    );
    let _ = writeln!(md, "- **Stored:** {}", present::bytes(b.stored_bytes));
    match &b.newest_backup_id {
        Some(id) => {
            let mut line = format!("- **Newest:** {}", inline(id));
            if let Some(f) = b.newest_finished {
                let _ = write!(line, ", finished {}", present::timestamp(f));
            }
            if let Some(a) = b.newest_age_seconds {
                let _ = write!(line, " ({} ago)", present::age(a));
            }
            let _ = writeln!(md, "{line}");
        }
        None => md.push_str("- **Newest:** none\n"),
    }
    if let Some(o) = b.oldest_finished {
        let _ = writeln!(md, "- **Oldest:** finished {}", present::timestamp(o));
    }
    md.push('\n');
    hosts(md, r);
    replicas(md, r);
    resilience(md, r);

    if r.timeline.is_empty() {
        let _ = writeln!(
            md,
            "No backup finished between {} and {}.\n",
            present::timestamp(r.timeline_from),
            present::timestamp(r.timeline_to)
        );
        return;
    }
    let shown = r.timeline.len().min(BACKUP_ROWS);
    let _ = writeln!(
        md,
        "The newest {shown} of {} backup(s) finished between {} and {}, newest first:\n",
        r.timeline.len(),
        present::timestamp(r.timeline_from),
        present::timestamp(r.timeline_to)
    );
    md.push_str("| Backup | Type | Finished | Stored | OK |\n|---|---|---|---|---|\n");
    for t in r.timeline.iter().rev().take(BACKUP_ROWS) {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            cell(&t.backup_id),
            t.backup_type,
            present::timestamp(t.finished),
            present::bytes(t.stored_bytes),
            if t.ok { "ok" } else { "FAIL" }
        );
    }
    md.push('\n');
}

/// A trend table, oldest first, or "no measurement yet".
fn trend_table(md: &mut String, points: &[TrendPoint]) {
    if points.is_empty() {
        md.push_str("No measurement yet.\n\n");
        return;
    }
    md.push_str("Measurements, oldest first:\n\n");
    md.push_str("| When | Kind | Seconds | Pass |\n|---|---|---|---|\n");
    for p in points {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            present::timestamp(p.at),
            kind_label(p.kind),
            present::duration(p.seconds),
            pass_fail(p.passed)
        );
    }
    md.push('\n');
}

fn rto(md: &mut String, r: &ReportResponse) {
    md.push_str("## Recovery time (RTO)\n\n");
    let _ = writeln!(
        md,
        "- **Target:** {}",
        present::duration(r.rto_target_seconds)
    );
    let _ = writeln!(
        md,
        "- **Trend:** {}\n",
        direction_label(r.history.trend.rto)
    );
    trend_table(md, &r.rto_trend);
}

fn rpo(md: &mut String, r: &ReportResponse) {
    md.push_str("## Recovery point (RPO)\n\n");
    let _ = writeln!(
        md,
        "- **Target:** {}",
        present::duration(r.rpo_target_seconds)
    );
    match &r.rpo {
        None => {
            md.push_str("- **Analysis:** none (no backup to measure from)\n\n");
        }
        Some(a) => {
            let _ = writeln!(
                md,
                "- **Current:** {} ({}): {}",
                a.current.age.as_deref().map_or("no backup".into(), inline),
                pass_fail(a.current.passed),
                inline(&a.current.detail)
            );
            match &a.worst_gap.worst {
                Some(g) => {
                    let _ = writeln!(
                        md,
                        "- **Worst gap over {} days:** {} from {} to {} ({})",
                        a.worst_gap.window_days,
                        inline(&g.duration),
                        present::timestamp(g.start),
                        present::timestamp(g.end),
                        pass_fail(a.worst_gap.passed)
                    );
                }
                None => {
                    let _ = writeln!(
                        md,
                        "- **Worst gap over {} days:** none measured: {}",
                        a.worst_gap.window_days,
                        inline(&a.worst_gap.detail)
                    );
                }
            }
            let _ = writeln!(
                md,
                "- **Schedules:** implied RPO {} ({})",
                a.schedule
                    .implied_rpo
                    .as_deref()
                    .map_or("none".into(), inline),
                pass_fail(a.schedule.passed)
            );
            let _ = writeln!(md, "\n{}\n", inline(&a.statement));
        }
    }
    let _ = writeln!(md, "RPO trend: {}.\n", direction_label(r.history.trend.rpo));
    trend_table(md, &r.rpo_trend);
}

fn schedules(md: &mut String, r: &ReportResponse) {
    md.push_str("## Schedules\n\n");
    let (intro, rows) = super::schedule_rows(r);
    let _ = writeln!(md, "{}\n", inline(&intro));
    if rows.is_empty() {
        return;
    }
    md.push_str("| Job | Cadence | Next run | Last run | Note |\n|---|---|---|---|---|\n");
    for [job, cadence, next, last, note] in rows {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            cell(&job),
            cell(&cadence),
            cell(&next),
            cell(&last),
            cell(&note)
        );
    }
    md.push('\n');
}

fn history(md: &mut String, r: &ReportResponse) {
    let h = &r.history;
    md.push_str("## History\n\n");
    let rate = h.trend.pass_rate.map_or("no records".into(), |p| {
        format!("{} passed", present::percent(p))
    });
    let _ = writeln!(
        md,
        "The newest {} of {} record(s), newest first; {rate}.\n",
        h.records.len(),
        h.total
    );
    if h.records.is_empty() {
        return;
    }
    md.push_str(
        "| When | Kind | Result | RTO | RPO | Host | Summary |\n|---|---|---|---|---|---|---|\n",
    );
    for i in h.records.iter().rev() {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            present::timestamp(i.at),
            kind_label(i.kind),
            pass_fail(i.passed),
            i.rto_seconds.map_or("-".into(), present::duration),
            i.rpo_seconds.map_or("-".into(), present::duration),
            cell(&i.host),
            cell(&i.summary)
        );
    }
    md.push('\n');
}

fn warnings(md: &mut String, r: &ReportResponse) {
    if r.warnings.is_empty() {
        return;
    }
    md.push_str("## Warnings\n\n");
    for w in &r.warnings {
        let _ = writeln!(md, "- {}", inline(w));
    }
    md.push('\n');
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{Duration, TimeZone, Utc};

    use super::*;
    use crate::ops::history::{HistoryItem, HistoryResponse, Trend};
    use crate::ops::report::{BackupOverview, CheckName, Posture, PostureCheck, TimelineItem};
    use crate::ops::rpo::{BackupPoint, analyze_rpo};
    use crate::repo::BackupType;
    use crate::settings::BackupSettings;

    fn check(
        name: CheckName,
        title: &str,
        status: Level,
        detail: &str,
        action: Option<&str>,
    ) -> PostureCheck {
        PostureCheck {
            name,
            title: title.into(),
            status,
            detail: detail.into(),
            action: action.map(Into::into),
            advice: None,
            value: None,
            target: None,
            unit: None,
        }
    }

    /// A realistic report: a critical verdict from one failing and one warning check, three
    /// backups, two restore tests, no RPO analysis, one warning. Shared with the HTML tests.
    pub(crate) fn sample() -> ReportResponse {
        let now = Utc
            .with_ymd_and_hms(2025, 3, 14, 9, 30, 0)
            .single()
            .expect("valid time");
        let b = |id: &str, t: BackupType, hours: i64, bytes: u64, ok: bool| TimelineItem {
            backup_id: id.into(),
            backup_type: t,
            finished: now - Duration::hours(hours),
            stored_bytes: bytes,
            ok,
        };
        let timeline = vec![
            b("20250312T020000Z-full", BackupType::Full, 55, 3 << 30, true),
            b(
                "20250313T020000Z-incr",
                BackupType::Incremental,
                31,
                12 << 20,
                true,
            ),
            b(
                "20250314T020000Z-incr",
                BackupType::Incremental,
                7,
                9 << 20,
                false,
            ),
        ];
        let item = |id: &str, hours: i64, passed: bool, rto: f64| HistoryItem {
            record_id: id.into(),
            kind: RecordKind::RestoreTest,
            at: now - Duration::hours(hours),
            host: "db-1".into(),
            passed,
            summary: format!("restored in {rto} s"),
            rto_seconds: Some(rto),
            rpo_seconds: Some(3600.0),
            backup_id: Some("20250313T020000Z-incr".into()),
        };
        let records = vec![item("rt-1", 48, true, 42.5), item("rt-2", 6, false, 1250.0)];
        let rto_trend = records
            .iter()
            .map(|i| TrendPoint {
                at: i.at,
                seconds: i.rto_seconds.unwrap_or(0.0),
                passed: i.passed,
                kind: i.kind,
            })
            .collect();
        ReportResponse {
            generated: now,
            host: "db-1".into(),
            tool_version: "0.1.0".into(),
            repository: "fs:/srv/backups/db".into(),
            verdict: Posture::Critical,
            summary: "critical: last_restore_test, last_validation".into(),
            checks: vec![
                check(
                    CheckName::BackupsAvailable,
                    "Backups available",
                    Level::Pass,
                    "3 backup(s); newest 20250314T020000Z-incr",
                    None,
                ),
                check(
                    CheckName::LastValidation,
                    "Last validation",
                    Level::Warn,
                    "no validation kept in the history",
                    Some("run `mahavishnu-dr backup validate --level full`"),
                ),
                check(
                    CheckName::LastRestoreTest,
                    "Last restore test vs RTO target",
                    Level::Fail,
                    "took 20 min against a target of 15 min",
                    Some("make restores faster"),
                ),
            ],
            rto_target_seconds: 900.0,
            rpo_target_seconds: 86_400.0,
            backups: BackupOverview {
                count: 3,
                full: 1,
                incremental: 2,
                archival: 0,
                stored_bytes: (3 << 30) + (21 << 20),
                newest_backup_id: Some("20250314T020000Z-incr".into()),
                newest_finished: Some(now - Duration::hours(7)),
                newest_age_seconds: Some(7 * 3600),
                oldest_finished: Some(now - Duration::hours(55)),
            },
            hosts: Vec::new(),
            replicas: Vec::new(),
            resilience: crate::ops::posture::resilience(now, &[]),
            timeline,
            timeline_from: now - Duration::hours(56),
            timeline_to: now,
            rto_trend,
            rpo_trend: Vec::new(),
            history: HistoryResponse {
                records,
                total: 2,
                trend: Trend {
                    rto: Direction::InsufficientData,
                    rpo: Direction::InsufficientData,
                    rto_first_mean_seconds: None,
                    rto_last_mean_seconds: None,
                    rpo_first_mean_seconds: None,
                    rpo_last_mean_seconds: None,
                    pass_rate: Some(0.5),
                },
                unreadable: Vec::new(),
            },
            rpo: None,
            schedules: Default::default(),
            recommendations: vec![
                "Last restore test vs RTO target: make restores faster".into(),
                "Last validation: run `mahavishnu-dr backup validate --level full`".into(),
            ],
            warnings: vec!["history record unreadable: rt-0: bad json".into()],
        }
    }

    /// The sample with an RPO analysis of its backups under the default schedules.
    pub(crate) fn sample_with_rpo() -> ReportResponse {
        let mut r = sample();
        let points: Vec<BackupPoint> = r
            .timeline
            .iter()
            .map(|t| BackupPoint {
                finished: t.finished,
                backup_type: t.backup_type,
            })
            .collect();
        r.rpo = Some(
            analyze_rpo(r.generated, &points, 30, &BackupSettings::default(), 1440)
                .expect("analysis"),
        );
        r
    }

    /// Pipes that separate cells (not escaped with a backslash).
    fn separators(line: &str) -> usize {
        let mut n = 0;
        let mut prev = ' ';
        for c in line.chars() {
            if c == '|' && prev != '\\' {
                n += 1;
            }
            prev = c;
        }
        n
    }

    fn section<'a>(md: &'a str, heading: &str) -> &'a str {
        let start = md.find(heading).expect("section present");
        let rest = &md[start + heading.len()..];
        let end = rest.find("\n## ").unwrap_or(rest.len());
        &rest[..end]
    }

    #[test]
    fn heading_names_the_verdict_time_host_and_repository() {
        let md = render(&sample());
        assert!(md.starts_with("# DR report: critical\n"), "{md}");
        assert!(md.contains("2025-03-14 09:30:00 UTC"));
        assert!(md.contains("**Host:** db-1"));
        assert!(md.contains("fs:/srv/backups/db"));
        assert!(md.contains("**Summary:** critical: last_restore_test, last_validation"));

        let mut r = sample();
        r.verdict = Posture::NeedsAttention;
        assert!(render(&r).starts_with("# DR report: needs attention\n"));
    }

    #[test]
    fn one_row_per_check_with_its_status() {
        let md = render(&sample());
        let checks = section(&md, "## Checks");
        let rows: Vec<&str> = checks
            .lines()
            .filter(|l| l.starts_with("| ") && !l.starts_with("| Check "))
            .collect();
        assert_eq!(rows.len(), 3, "{checks}");
        assert!(rows[0].contains("Backups available") && rows[0].contains("| PASS |"));
        assert!(rows[1].contains("Last validation") && rows[1].contains("| WARN |"));
        assert!(rows[2].contains("Last restore test") && rows[2].contains("| FAIL |"));
        assert!(checks.contains("| Check | Status | Detail |\n|---|---|---|\n"));
    }

    #[test]
    fn recommendations_are_numbered_in_order_or_nothing_to_do() {
        let md = render(&sample());
        let recs = section(&md, "## Recommendations");
        assert!(recs.contains("\n1. Last restore test vs RTO target: make restores faster\n"));
        assert!(recs.contains("\n2. Last validation: run"));
        assert!(!recs.contains("Nothing to do."));

        let mut r = sample();
        r.recommendations.clear();
        let md = render(&r);
        assert!(section(&md, "## Recommendations").contains("Nothing to do."));
    }

    #[test]
    fn a_pipe_or_newline_in_data_cannot_break_the_table() {
        let mut r = sample();
        r.checks[1].detail = "a | b\nc\r\n## not a heading".into();
        let md = render(&r);
        let row = md
            .lines()
            .find(|l| l.starts_with("| Last validation |"))
            .expect("row");
        assert_eq!(separators(row), 4, "three columns: {row}");
        assert!(row.contains("a \\| b<br>c<br>## not a heading"), "{row}");
        assert!(!md.lines().any(|l| l.starts_with("## not a heading")));
        assert_eq!(cell("x|y|z"), "x\\|y\\|z");
        assert_eq!(cell("  "), "-");
    }

    #[test]
    fn backups_show_counts_size_newest_and_newest_first_table() {
        let md = render(&sample());
        let b = section(&md, "## Backups");
        assert!(
            b.contains("**Backups:** 3 (1 full, 2 incremental, 0 archival)"),
            "{b}"
        );
        assert!(b.contains("**Stored:** 3.0 GiB"), "{b}");
        assert!(b.contains("20250314T020000Z-incr") && b.contains("(7 h 0 min ago)"));
        let rows: Vec<&str> = b.lines().filter(|l| l.starts_with("| 2025")).collect();
        assert_eq!(rows.len(), 3);
        assert!(rows[0].starts_with("| 20250314T020000Z-incr | incremental |"));
        assert!(rows[0].ends_with("| FAIL |"), "{}", rows[0]);
        assert!(rows[2].starts_with("| 20250312T020000Z-full | full |"));
    }

    #[test]
    fn backup_table_is_capped_at_the_newest_twenty() {
        let mut r = sample();
        let first = r.timeline[0].clone();
        r.timeline = (0..30)
            .map(|i| TimelineItem {
                backup_id: format!("b{i:02}"),
                finished: first.finished + Duration::hours(i),
                ..first.clone()
            })
            .collect();
        let md = render(&r);
        let b = section(&md, "## Backups");
        assert_eq!(b.lines().filter(|l| l.starts_with("| b")).count(), 20);
        assert!(b.contains("| b29 |") && b.contains("| b10 |") && !b.contains("| b09 |"));
        assert!(b.contains("The newest 20 of 30 backup(s)"));
    }

    #[test]
    fn rto_section_has_target_points_and_trend() {
        let md = render(&sample());
        let s = section(&md, "## Recovery time (RTO)");
        assert!(s.contains("**Target:** 15 min"));
        assert!(s.contains("**Trend:** insufficient data"), "{s}");
        assert!(s.contains("| restore test | 43 s | pass |"), "{s}");
        assert!(s.contains("| restore test | 20 min 50 s | FAIL |"), "{s}");

        let mut r = sample();
        r.rto_trend.clear();
        let md = render(&r);
        assert!(section(&md, "## Recovery time (RTO)").contains("No measurement yet."));
    }

    #[test]
    fn rpo_section_with_and_without_analysis() {
        let md = render(&sample());
        let s = section(&md, "## Recovery point (RPO)");
        assert!(s.contains("**Target:** 1 d 0 h"));
        assert!(s.contains("none (no backup to measure from)"));

        let r = sample_with_rpo();
        let a = r.rpo.as_ref().expect("rpo");
        let md = render(&r);
        let s = section(&md, "## Recovery point (RPO)");
        assert!(s.contains(&a.statement), "{s}");
        assert!(s.contains("**Current:** 7 h 0 min (pass)"), "{s}");
        assert!(s.contains("**Worst gap over 30 days:** 1 d 0 h"), "{s}");
    }

    #[test]
    fn history_lists_newest_first_with_pass_rate() {
        let md = render(&sample());
        let h = section(&md, "## History");
        assert!(
            h.contains("The newest 2 of 2 record(s), newest first; 50% passed."),
            "{h}"
        );
        let rows: Vec<&str> = h.lines().filter(|l| l.starts_with("| 2025")).collect();
        assert_eq!(rows.len(), 2);
        assert!(rows[0].contains("| FAIL |") && rows[0].contains("20 min 50 s"));
        assert!(rows[1].contains("| pass |") && rows[1].contains("| db-1 |"));
    }

    #[test]
    fn warnings_section_only_when_there_are_some() {
        let md = render(&sample());
        assert!(
            section(&md, "## Warnings").contains("- history record unreadable: rt-0: bad json")
        );
        let mut r = sample();
        r.warnings.clear();
        assert!(!render(&r).contains("## Warnings"));
    }
}
