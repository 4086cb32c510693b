//! The text the command line prints for `drill list`, `drill run`, `drill report` and
//! `schedule show` (the jobs a scheduler runs, drills among them).

use crate::ops::drill::{DrillListResponse, DrillReportResponse, DrillResult, DrillRunResponse};
use crate::present;
use crate::repo::history::StepOutcome;

fn minutes(m: Option<u64>) -> String {
    m.map_or("none".into(), |m| format!("{m} min"))
}

pub fn list(r: &DrillListResponse) -> String {
    let mut out = String::new();
    for s in &r.scenarios {
        out.push_str(&format!(
            "{}  {}{}\n  {}\n  targets: RTO {}, RPO {} ({})\n",
            s.id,
            s.title,
            if s.scheduled { "  [scheduled]" } else { "" },
            s.description,
            minutes(s.rto_target_minutes),
            minutes(Some(s.rpo_target_minutes)),
            s.rpo_means
        ));
        for (i, st) in s.steps.iter().enumerate() {
            out.push_str(&format!(
                "    {}. {:<9} {}\n",
                i + 1,
                st.phase.label(),
                st.name
            ));
        }
        out.push('\n');
    }
    out
}

fn outcome(o: StepOutcome) -> &'static str {
    match o {
        StepOutcome::Passed => "ok",
        StepOutcome::Failed => "FAILED",
        StepOutcome::Skipped => "skipped",
    }
}

fn met(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "not judged",
    }
}

fn drill(d: &DrillResult) -> String {
    let mut out = format!(
        "{} ({}): {}\n",
        d.scenario,
        d.title,
        if d.passed { "PASSED" } else { "FAILED" }
    );
    for s in &d.steps {
        out.push_str(&format!(
            "  {:<7} {:<9} {:<42} {:>8}  {}\n",
            outcome(s.outcome),
            s.phase.label(),
            s.name,
            present::duration(s.seconds),
            s.detail
        ));
    }
    out.push_str(&format!(
        "  RTO {} (target {}): {}\n",
        d.rto_seconds.map_or("-".into(), present::duration),
        d.rto_target_seconds
            .map_or("none".into(), present::duration),
        met(d.rto_met)
    ));
    out.push_str(&format!(
        "  RPO {} (target {}): {}\n",
        d.rpo_seconds
            .map_or("-".into(), |s| present::age(s.round() as i64)),
        present::duration(d.rpo_target_seconds),
        met(d.rpo_met)
    ));
    out.push_str(&format!(
        "  store {}, backup {}\n",
        d.store,
        d.backup_id.as_deref().unwrap_or("-")
    ));
    for f in &d.findings {
        out.push_str(&format!("  finding: {f}\n"));
    }
    for r in &d.recommendations {
        out.push_str(&format!("  to do:   {r}\n"));
    }
    for w in &d.warnings {
        out.push_str(&format!("  warning: {w}\n"));
    }
    if let Some(id) = &d.record_id {
        out.push_str(&format!("  kept as {id}\n"));
    }
    out
}

pub fn run(r: &DrillRunResponse) -> String {
    let mut out = String::new();
    for p in &r.plans {
        out.push_str(&format!(
            "{} ({}): plan\n  store {}, backup {}\n  RTO estimate {} (target {}), RPO target {}\n",
            p.scenario,
            p.title,
            p.store,
            p.backup_id.as_deref().unwrap_or("none"),
            p.rto_estimate_seconds.map_or(
                "unknown (no restore measured yet)".into(),
                present::duration
            ),
            p.rto_target_seconds
                .map_or("none".into(), present::duration),
            present::duration(p.rpo_target_seconds)
        ));
        for (i, s) in p.steps.iter().enumerate() {
            out.push_str(&format!(
                "    {}. {:<9} {}: {}\n",
                i + 1,
                s.phase.label(),
                s.name,
                s.what
            ));
        }
        for n in &p.notes {
            out.push_str(&format!("  note: {n}\n"));
        }
        out.push('\n');
    }
    for d in &r.drills {
        out.push_str(&drill(d));
        out.push('\n');
    }
    out.push_str(&r.message);
    out
}

pub fn report(r: &DrillReportResponse) -> String {
    let mut out = String::new();
    for d in &r.drills {
        out.push_str(&format!(
            "{}  {:<22} {:<6} RTO {} ({})  RPO {} ({})  by {} on {}\n",
            d.started.format("%Y-%m-%d %H:%M"),
            d.scenario,
            if d.passed { "passed" } else { "FAILED" },
            d.rto_seconds.map_or("-".into(), present::duration),
            met(d.rto_met),
            d.rpo_seconds
                .map_or("-".into(), |s| present::age(s.round() as i64)),
            met(d.rpo_met),
            d.started_by,
            d.host
        ));
        for f in &d.findings {
            out.push_str(&format!("    finding: {f}\n"));
        }
    }
    for u in &r.unreadable {
        out.push_str(&format!("unreadable: {u}\n"));
    }
    out.push_str(&r.message);
    out
}

pub fn schedule(r: &crate::ops::schedule::ScheduleResponse) -> String {
    let mut out = String::new();
    for j in &r.jobs {
        let next: Vec<String> = j
            .next_runs
            .iter()
            .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
            .collect();
        out.push_str(&format!(
            "{:<18} {:<44} {}
  runs: mahavishnu-dr {}
",
            j.name,
            j.cadence,
            if j.enabled {
                format!("next {}", next.join(", "))
            } else {
                "disabled".into()
            },
            j.command.join(" ")
        ));
        if let Some(l) = &j.last_run {
            out.push_str(&format!(
                "  last: {} {}{}{}\n",
                l.result.map_or("started", |r| r.as_str()),
                l.finished
                    .or(l.started)
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                    .unwrap_or_default(),
                l.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default(),
                if l.missed_total > 0 {
                    format!(" ({} run(s) missed in all, caught up once)", l.missed_total)
                } else {
                    String::new()
                }
            ));
        }
    }
    let c = &r.continuous;
    if c.enabled {
        out.push_str(&format!(
            "continuous protection: on for {} (a point {} s after the sources go quiet, at most {} s after a change; kept {} h)\n",
            if c.covered.is_empty() {
                c.problem.clone().unwrap_or_else(|| "no path source".into())
            } else {
                c.covered.join(", ")
            },
            c.debounce_seconds,
            c.max_delay_seconds,
            c.keep_hours
        ));
        if let Some(l) = r.daemon.as_ref().and_then(|d| d.last_point.as_ref()) {
            out.push_str(&format!(
                "  last point: {} {}{} ({} made, {} failed)\n",
                l.result.map_or("started", |r| r.as_str()),
                l.finished
                    .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_default(),
                l.detail
                    .as_deref()
                    .map(|d| format!(": {d}"))
                    .unwrap_or_default(),
                l.successes_total,
                l.failures_total
            ));
        }
    } else {
        out.push_str("continuous protection: off (backup.continuous.enabled)\n");
    }
    match &r.daemon {
        Some(d) if d.running => out.push_str(&format!(
            "daemon: running (pid {}, since {}){}\n",
            d.pid.unwrap_or_default(),
            d.started_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default(),
            d.running_job
                .as_ref()
                .map(|j| format!(", running {}", j.job))
                .unwrap_or_default()
        )),
        Some(d) => out.push_str(&format!(
            "daemon: not running (last stopped {}; state {})\n",
            d.stopped_at
                .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_else(|| "without a clean stop".into()),
            d.state_file
        )),
        None => out.push_str("daemon: has not run with these settings (`mahavishnu-dr daemon`)\n"),
    }
    out.push_str(&format!(
        "settings: {} (`schedule export --format cron|systemd` writes these for your own \
         scheduler)",
        r.config_file
    ));
    out
}
