//! The measurements, their medians and ratios against restic, and the markdown and JSON reports.

use std::fmt::Write as _;
use std::time::Duration;

use crate::measure::{Failure, Usage};

const MIB: f64 = 1024.0 * 1024.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Initial,
    NoChange,
    Change,
    Restore,
    Validate,
}

/// How a step's ratio against restic is expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RatioKind {
    /// restic's time / ours: higher is better.
    Throughput,
    /// Same formula as throughput, for validation ("speed").
    Speed,
    /// ours / restic's time: lower is better.
    Time,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Initial,
        Phase::NoChange,
        Phase::Change,
        Phase::Restore,
        Phase::Validate,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Phase::Initial => "initial backup",
            Phase::NoChange => "no-change backup",
            Phase::Change => "1% change backup",
            Phase::Restore => "full restore",
            Phase::Validate => "full validation",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Phase::Initial => "initial_backup",
            Phase::NoChange => "no_change_backup",
            Phase::Change => "change_backup",
            Phase::Restore => "restore",
            Phase::Validate => "validate",
        }
    }

    fn ratio_kind(self) -> RatioKind {
        match self {
            Phase::Initial | Phase::Restore => RatioKind::Throughput,
            Phase::Validate => RatioKind::Speed,
            Phase::NoChange | Phase::Change => RatioKind::Time,
        }
    }

    /// The engine's target for mahavishnu-dr against restic, on a 2-core machine.
    fn target(self) -> Option<f64> {
        match self {
            Phase::Initial => Some(1.5),
            Phase::NoChange => Some(0.5),
            Phase::Change => None,
            Phase::Restore => Some(2.0),
            Phase::Validate => Some(1.5),
        }
    }
}

/// One successful measurement.
#[derive(Debug, Clone)]
pub struct Sample {
    pub usage: Usage,
    /// How long a `sync` right after the run took (dirty data the tool left unwritten).
    pub sync_after: Option<Duration>,
    /// `du` of the repository after the step.
    pub repo_bytes: Option<u64>,
    /// The dataset's logical size at this step (bytes backed up, restored or protected).
    pub logical_bytes: u64,
}

pub struct Record {
    pub rep: usize,
    pub phase: Phase,
    pub tool: &'static str,
    pub outcome: Result<Sample, Failure>,
}

/// Everything the header says about the run.
pub struct Meta {
    pub title_tools: Vec<&'static str>,
    pub versions: Vec<(&'static str, String)>,
    pub skipped: Vec<(&'static str, String)>,
    pub size_mb: u64,
    pub dataset_desc: String,
    pub dataset_files: u64,
    pub dataset_bytes: u64,
    pub reps: usize,
    pub machine: String,
    pub started: String,
    pub work_dir: String,
    pub restore_dir: String,
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// Medians of one (phase, tool) cell.
#[derive(Debug, Clone)]
pub struct Cell {
    pub ok: usize,
    pub total: usize,
    pub wall: Option<f64>,
    pub cpu: Option<f64>,
    pub rss_mib: Option<f64>,
    pub repo_mib: Option<f64>,
    pub sync_after: Option<f64>,
    pub mib_per_s: Option<f64>,
    pub first_error: Option<String>,
}

pub fn cell(records: &[Record], phase: Phase, tool: &str) -> Cell {
    let rs: Vec<&Record> = records
        .iter()
        .filter(|r| r.phase == phase && r.tool == tool)
        .collect();
    let ok: Vec<&Sample> = rs.iter().filter_map(|r| r.outcome.as_ref().ok()).collect();
    let m = |f: &dyn Fn(&Sample) -> Option<f64>| median(ok.iter().filter_map(|s| f(s)).collect());
    let wall = m(&|s| Some(s.usage.wall.as_secs_f64()));
    let logical = m(&|s| Some(s.logical_bytes as f64));
    Cell {
        ok: ok.len(),
        total: rs.len(),
        wall,
        cpu: m(&|s| Some(s.usage.cpu().as_secs_f64())),
        rss_mib: m(&|s| Some(s.usage.maxrss_kib as f64 / 1024.0)),
        repo_mib: m(&|s| s.repo_bytes.map(|b| b as f64 / MIB)),
        sync_after: m(&|s| s.sync_after.map(|d| d.as_secs_f64())),
        mib_per_s: match (logical, wall) {
            (Some(l), Some(w)) if w > 0.0 => Some(l / MIB / w),
            _ => None,
        },
        // The first real failure; a step that was only skipped says so.
        first_error: rs
            .iter()
            .filter_map(|r| r.outcome.as_ref().err())
            .min_by_key(|f| f.skipped)
            .map(|f| f.message.clone()),
    }
}

/// The ratio against restic for this phase (see `RatioKind`).
fn ratio(phase: Phase, ours: f64, restic: f64) -> f64 {
    match phase.ratio_kind() {
        RatioKind::Throughput | RatioKind::Speed => restic / ours,
        RatioKind::Time => ours / restic,
    }
}

fn ratio_word(phase: Phase) -> &'static str {
    match phase.ratio_kind() {
        RatioKind::Throughput => "throughput",
        RatioKind::Speed => "speed",
        RatioKind::Time => "time",
    }
}

fn met(phase: Phase, r: f64, target: f64) -> bool {
    match phase.ratio_kind() {
        RatioKind::Throughput | RatioKind::Speed => r >= target,
        RatioKind::Time => r <= target,
    }
}

fn target_text(phase: Phase) -> String {
    match (phase.target(), phase.ratio_kind()) {
        (None, _) => "no target".to_string(),
        (Some(t), RatioKind::Time) => format!("time ≤ {t}×"),
        (Some(t), k) => format!(
            "{} ≥ {t}×",
            if k == RatioKind::Speed {
                "speed"
            } else {
                "throughput"
            }
        ),
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".to_string(), |x| format!("{x:.digits$}"))
}

fn yes_no(ok: bool) -> &'static str {
    if ok { "met" } else { "missed" }
}

/// The full markdown report.
pub fn markdown(meta: &Meta, tools: &[&'static str], records: &[Record]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Comparison: {}\n", meta.title_tools.join(" vs "));
    let _ = writeln!(
        s,
        "- Dataset: {} MiB setting, {} files, {:.1} MiB ({})",
        meta.size_mb,
        meta.dataset_files,
        meta.dataset_bytes as f64 / MIB,
        meta.dataset_desc
    );
    let _ = writeln!(
        s,
        "- Repetitions: {} per step; every number is the median",
        meta.reps
    );
    let _ = writeln!(s, "- Machine: {}", meta.machine);
    let _ = writeln!(s, "- Started: {}", meta.started);
    for (name, v) in &meta.versions {
        let _ = writeln!(s, "- {name}: {v}");
    }
    for (name, why) in &meta.skipped {
        let _ = writeln!(s, "- {name}: skipped, {why}");
    }
    let _ = writeln!(
        s,
        "- Work dir: {}; restores into {}",
        meta.work_dir, meta.restore_dir
    );
    let has_restic = tools.contains(&"restic");
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "| Step | Tool | OK | Wall s | CPU s | Peak RSS MiB | Repo MiB | +sync s | MiB/s | vs restic | RSS vs restic | Target (mahavishnu-dr) |"
    );
    let _ = writeln!(
        s,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for phase in Phase::ALL {
        let restic = has_restic.then(|| cell(records, phase, "restic"));
        for &tool in tools {
            let c = cell(records, phase, tool);
            let (vs, rss_vs, target) = compare_cells(phase, tool, &c, restic.as_ref());
            let ok = if c.ok == c.total {
                format!("{}/{}", c.ok, c.total)
            } else {
                format!("**{}/{}**", c.ok, c.total)
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                phase.label(),
                tool,
                ok,
                opt(c.wall, 2),
                opt(c.cpu, 2),
                opt(c.rss_mib, 0),
                opt(c.repo_mib, 0),
                opt(c.sync_after, 2),
                opt(c.mib_per_s, 1),
                vs,
                rss_vs,
                target
            );
        }
    }
    // Peak memory over the whole run: the largest per-step median.
    let _ = writeln!(s);
    let peak = |tool: &str| {
        Phase::ALL
            .iter()
            .filter_map(|&p| cell(records, p, tool).rss_mib)
            .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))))
    };
    let restic_peak = if has_restic { peak("restic") } else { None };
    for &tool in tools {
        let p = peak(tool);
        let mut line = format!("- Peak memory over all steps, {tool}: {} MiB", opt(p, 0));
        if let (Some(p), Some(r)) = (p, restic_peak)
            && tool != "restic"
        {
            let q = p / r;
            let _ = write!(line, " ({q:.2}× restic's)");
            if tool == "mahavishnu-dr" {
                let _ = write!(line, "; target ≤ 1×: {}", yes_no(q <= 1.0));
            }
        }
        let _ = writeln!(s, "{line}");
    }
    if !has_restic {
        let _ = writeln!(s, "- restic did not run, so no ratios are given.");
    }
    let _ = writeln!(
        s,
        "\nRatios: throughput and speed = restic's wall time / the tool's (higher is better); \
         time = the tool's wall time / restic's (lower is better); RSS = the tool's peak RSS / restic's. \
         MiB/s = logical dataset MiB / wall time. +sync s = the time a `sync` took right after a backup \
         (data the tool left for the kernel to write back)."
    );

    let failures: Vec<&Record> = records
        .iter()
        .filter(|r| r.outcome.as_ref().is_err_and(|f| !f.skipped))
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(s, "\n### Failures\n");
        for r in failures {
            if let Err(f) = &r.outcome {
                let _ = writeln!(
                    s,
                    "- rep {}, {}, {}: {}",
                    r.rep,
                    r.phase.label(),
                    r.tool,
                    f.message
                );
                if !f.output_tail.trim().is_empty() {
                    let _ = writeln!(s, "\n```text\n{}\n```\n", f.output_tail.trim_end());
                }
            }
        }
    }

    let _ = writeln!(s, "\n### Raw samples\n");
    let _ = writeln!(
        s,
        "| Rep | Step | Tool | Wall s | User s | Sys s | Peak RSS MiB | Repo MiB | +sync s | Result |"
    );
    let _ = writeln!(s, "|---:|---|---|---:|---:|---:|---:|---:|---:|---|");
    for r in records {
        match &r.outcome {
            Ok(x) => {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.0} | {} | {} | ok |",
                    r.rep,
                    r.phase.label(),
                    r.tool,
                    x.usage.wall.as_secs_f64(),
                    x.usage.user.as_secs_f64(),
                    x.usage.sys.as_secs_f64(),
                    x.usage.maxrss_kib as f64 / 1024.0,
                    opt(x.repo_bytes.map(|b| b as f64 / MIB), 0),
                    opt(x.sync_after.map(|d| d.as_secs_f64()), 2),
                );
            }
            Err(f) => {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | – | – | – | – | – | – | {} |",
                    r.rep,
                    r.phase.label(),
                    r.tool,
                    if f.skipped { "not run" } else { "failed" }
                );
            }
        }
    }
    s
}

/// The "vs restic", "RSS vs restic" and target cells of one row.
fn compare_cells(
    phase: Phase,
    tool: &str,
    c: &Cell,
    restic: Option<&Cell>,
) -> (String, String, String) {
    if c.ok == 0 {
        let why = c
            .first_error
            .clone()
            .unwrap_or_else(|| "no sample".to_string());
        let why = why.replace('|', "\\|");
        let target = if tool == "mahavishnu-dr" {
            format!("failed: {why}")
        } else {
            format!("({tool}: {why})")
        };
        return ("–".into(), "–".into(), target);
    }
    let Some(restic) = restic else {
        return ("n/a".into(), "n/a".into(), String::new());
    };
    if tool == "restic" {
        return ("1.00 (baseline)".into(), "1.00".into(), String::new());
    }
    let (Some(w), Some(rw)) = (c.wall, restic.wall) else {
        return ("n/a".into(), "n/a".into(), "restic failed".into());
    };
    let r = ratio(phase, w, rw);
    let vs = format!("{r:.2}× {}", ratio_word(phase));
    let rss = match (c.rss_mib, restic.rss_mib) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let rss_vs = rss.map_or_else(|| "n/a".to_string(), |q| format!("{q:.2}×"));
    let target = if tool == "mahavishnu-dr" {
        let mut t = match phase.target() {
            Some(goal) => format!("{}: {}", target_text(phase), yes_no(met(phase, r, goal))),
            None => target_text(phase),
        };
        if let Some(q) = rss {
            let _ = write!(t, "; RSS ≤ 1×: {}", yes_no(q <= 1.0));
        }
        t
    } else {
        String::new()
    };
    (vs, rss_vs, target)
}

/// The machine-readable report: run metadata, every sample, and the medians.
pub fn json(meta: &Meta, tools: &[&'static str], records: &[Record]) -> serde_json::Value {
    let samples: Vec<serde_json::Value> = records
        .iter()
        .map(|r| match &r.outcome {
            Ok(x) => serde_json::json!({
                "rep": r.rep, "step": r.phase.key(), "tool": r.tool, "ok": true,
                "wall_s": x.usage.wall.as_secs_f64(),
                "user_s": x.usage.user.as_secs_f64(),
                "sys_s": x.usage.sys.as_secs_f64(),
                "maxrss_kib": x.usage.maxrss_kib,
                "repo_bytes": x.repo_bytes,
                "sync_after_s": x.sync_after.map(|d| d.as_secs_f64()),
                "logical_bytes": x.logical_bytes,
            }),
            Err(f) => serde_json::json!({
                "rep": r.rep, "step": r.phase.key(), "tool": r.tool, "ok": false,
                "skipped": f.skipped, "error": f.message, "output_tail": f.output_tail,
            }),
        })
        .collect();
    let mut medians = Vec::new();
    for phase in Phase::ALL {
        for &tool in tools {
            let c = cell(records, phase, tool);
            medians.push(serde_json::json!({
                "step": phase.key(), "tool": tool, "ok": c.ok, "runs": c.total,
                "wall_s": c.wall, "cpu_s": c.cpu, "maxrss_mib": c.rss_mib,
                "repo_mib": c.repo_mib, "sync_after_s": c.sync_after, "mib_per_s": c.mib_per_s,
            }));
        }
    }
    serde_json::json!({
        "size_mb": meta.size_mb,
        "dataset": { "files": meta.dataset_files, "bytes": meta.dataset_bytes, "layout": meta.dataset_desc },
        "reps": meta.reps,
        "machine": meta.machine,
        "started": meta.started,
        "versions": meta.versions.iter().map(|(n, v)| serde_json::json!({"tool": n, "version": v})).collect::<Vec<_>>(),
        "skipped": meta.skipped.iter().map(|(n, v)| serde_json::json!({"tool": n, "reason": v})).collect::<Vec<_>>(),
        "medians": medians,
        "samples": samples,
    })
}
