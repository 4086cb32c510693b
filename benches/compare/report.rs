//! The measurements, their medians and ratios (against restic in the mixed and s3 scenarios,
//! against the faster of restic and rustic in the database scenario), the targets, and the
//! markdown and JSON reports.

use std::fmt::Write as _;
use std::time::Duration;

use crate::measure::{Failure, Usage};

const MIB: f64 = 1024.0 * 1024.0;

/// The three scenarios: the mixed 1 GiB dataset, one large SQLite database, and the mixed
/// dataset against an S3 server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    Mixed,
    Database,
    S3,
}

impl Scenario {
    pub fn key(self) -> &'static str {
        match self {
            Scenario::Mixed => "mixed",
            Scenario::Database => "database",
            Scenario::S3 => "s3",
        }
    }

    pub fn phases(self) -> &'static [Phase] {
        match self {
            Scenario::Mixed => &Phase::MIXED,
            Scenario::Database => &Phase::DATABASE,
            Scenario::S3 => &Phase::S3,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Initial,
    NoChange,
    Change,
    Restore,
    Validate,
    DbFull,
    DbUpdate,
    DbAppend,
    DbRestore,
    DbValidate,
    S3Backup,
    S3Restore,
    S3Validate,
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
    pub const MIXED: [Phase; 5] = [
        Phase::Initial,
        Phase::NoChange,
        Phase::Change,
        Phase::Restore,
        Phase::Validate,
    ];

    pub const DATABASE: [Phase; 5] = [
        Phase::DbFull,
        Phase::DbUpdate,
        Phase::DbAppend,
        Phase::DbRestore,
        Phase::DbValidate,
    ];

    pub const S3: [Phase; 3] = [Phase::S3Backup, Phase::S3Restore, Phase::S3Validate];

    pub fn scenario(self) -> Scenario {
        if Phase::MIXED.contains(&self) {
            Scenario::Mixed
        } else if Phase::S3.contains(&self) {
            Scenario::S3
        } else {
            Scenario::Database
        }
    }

    /// A backup step (a failed backup takes the tool out of the rest of the repetition).
    pub fn is_backup(self) -> bool {
        !matches!(
            self,
            Phase::Restore
                | Phase::Validate
                | Phase::DbRestore
                | Phase::DbValidate
                | Phase::S3Restore
                | Phase::S3Validate
        )
    }

    pub fn label(self) -> &'static str {
        match self {
            Phase::Initial => "initial backup",
            Phase::NoChange => "no-change backup",
            Phase::Change => "1% change backup",
            Phase::Restore => "full restore",
            Phase::Validate => "full validation",
            Phase::DbFull => "full backup",
            Phase::DbUpdate => "100-row update, incremental",
            Phase::DbAppend => "10 MiB append, incremental",
            Phase::DbRestore => "restore (checked)",
            Phase::DbValidate => "full validation",
            Phase::S3Backup => "initial backup to S3",
            Phase::S3Restore => "full restore from S3",
            Phase::S3Validate => "full validation on S3",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Phase::Initial => "initial_backup",
            Phase::NoChange => "no_change_backup",
            Phase::Change => "change_backup",
            Phase::Restore => "restore",
            Phase::Validate => "validate",
            Phase::DbFull => "db_full_backup",
            Phase::DbUpdate => "db_update_backup",
            Phase::DbAppend => "db_append_backup",
            Phase::DbRestore => "db_restore",
            Phase::DbValidate => "db_validate",
            Phase::S3Backup => "s3_backup",
            Phase::S3Restore => "s3_restore",
            Phase::S3Validate => "s3_validate",
        }
    }

    fn ratio_kind(self) -> RatioKind {
        match self {
            Phase::Initial | Phase::Restore => RatioKind::Throughput,
            Phase::Validate => RatioKind::Speed,
            _ => RatioKind::Time,
        }
    }

    /// The engine's target for mahavishnu-dr against restic in the mixed scenario, on a 2-core
    /// machine (the database scenario's targets are in `db_targets`).
    fn target(self) -> Option<f64> {
        match self {
            Phase::Initial => Some(1.5),
            Phase::NoChange => Some(0.5),
            Phase::Restore => Some(2.0),
            Phase::Validate => Some(1.5),
            _ => None,
        }
    }
}

/// Mixed scenario: the restore to tmpfs takes at most this fraction of restic's time.
const MIXED_RESTORE_TIME_TARGET: f64 = 0.45;
/// Database scenario: the 100-row incremental adds at most this many MiB to the repository ...
const DB_UPDATE_MAX_ADDED_MIB: f64 = 8.0;
/// ... and takes at most this fraction of the faster peer's time.
const DB_UPDATE_TIME_TARGET: f64 = 0.5;
/// Database scenario: the restore takes at most this fraction of the faster peer's time.
const DB_RESTORE_TIME_TARGET: f64 = 0.5;
/// s3 scenario: the initial backup takes at most this fraction of restic's time ...
const S3_BACKUP_TIME_TARGET: f64 = 0.67;
/// ... and the restore at most this fraction.
const S3_RESTORE_TIME_TARGET: f64 = 0.5;

/// One successful measurement.
#[derive(Debug, Clone)]
pub struct Sample {
    pub usage: Usage,
    /// How long a `sync` right after the run took (dirty data the tool left unwritten).
    pub sync_after: Option<Duration>,
    /// `du` of the repository after the step.
    pub repo_bytes: Option<u64>,
    /// What the step added to the repository: `du` after minus `du` before (backups only).
    pub repo_added: Option<i64>,
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
    pub reps: usize,
    pub machine: String,
    pub started: String,
    pub work_dir: String,
    pub restore_dir: String,
    /// The mixed scenario's dataset, when that scenario ran.
    pub mixed: Option<MixedMeta>,
    /// The database scenario's database, when that scenario ran.
    pub database: Option<DbMeta>,
    /// The s3 scenario's server and dataset, when that scenario ran.
    pub s3: Option<S3Meta>,
}

pub struct MixedMeta {
    pub size_mb: u64,
    pub desc: String,
    pub files: u64,
    pub bytes: u64,
}

pub struct DbMeta {
    pub size_mb: u64,
    pub desc: String,
    pub bytes: u64,
}

pub struct S3Meta {
    /// The mixed dataset it backs up.
    pub dataset: MixedMeta,
    /// The server, its version and where its data is.
    pub server: String,
    /// Tools that were asked for but do not run in this scenario, and why.
    pub not_run: Vec<(&'static str, String)>,
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
    pub added_mib: Option<f64>,
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
        added_mib: m(&|s| s.repo_added.map(|b| b as f64 / MIB)),
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

fn met_text(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "met",
        Some(false) => "missed",
        None => "not measured",
    }
}

/// One of mahavishnu-dr's targets, evaluated on this run's medians.
#[derive(Debug, Clone)]
pub struct TargetResult {
    pub scenario: Scenario,
    pub name: String,
    /// None when it could not be measured (a tool or step failed or did not run).
    pub met: Option<bool>,
    pub detail: String,
}

const MDR: &str = "mahavishnu-dr";

/// The mixed scenario's targets (against restic).
pub fn mixed_targets(records: &[Record]) -> Vec<TargetResult> {
    let mut out = Vec::new();
    let mut add = |name: String, met: Option<bool>, detail: String| {
        out.push(TargetResult {
            scenario: Scenario::Mixed,
            name,
            met,
            detail,
        });
    };
    for phase in Phase::MIXED {
        let ours = cell(records, phase, MDR);
        let restic = cell(records, phase, "restic");
        let r = match (ours.wall, restic.wall) {
            (Some(w), Some(rw)) if w > 0.0 && rw > 0.0 => Some((w, rw)),
            _ => None,
        };
        if let Some(goal) = phase.target() {
            add(
                format!("{}: {} restic's", phase.label(), target_text(phase)),
                r.map(|(w, rw)| met(phase, ratio(phase, w, rw), goal)),
                r.map_or_else(String::new, |(w, rw)| {
                    format!("{:.2}× {}", ratio(phase, w, rw), ratio_word(phase))
                }),
            );
        }
        if phase == Phase::Restore {
            add(
                format!(
                    "{}: time ≤ {MIXED_RESTORE_TIME_TARGET}× restic's (tmpfs)",
                    phase.label()
                ),
                r.map(|(w, rw)| w / rw <= MIXED_RESTORE_TIME_TARGET),
                r.map_or_else(String::new, |(w, rw)| format!("{:.2}× time", w / rw)),
            );
        }
    }
    let peak = |tool: &str| peak_rss(records, Scenario::Mixed, tool);
    let (p, rp) = (peak(MDR), peak("restic"));
    add(
        "peak memory over all steps ≤ restic's".to_string(),
        p.zip(rp).map(|(p, rp)| p <= rp),
        p.zip(rp)
            .map_or_else(String::new, |(p, rp)| format!("{p:.0} MiB vs {rp:.0} MiB")),
    );
    out
}

/// The largest per-step median peak RSS of a tool in a scenario.
fn peak_rss(records: &[Record], scenario: Scenario, tool: &str) -> Option<f64> {
    scenario
        .phases()
        .iter()
        .filter_map(|&p| cell(records, p, tool).rss_mib)
        .fold(None, |a: Option<f64>, x| Some(a.map_or(x, |a| a.max(x))))
}

/// The faster (by median wall time) of restic and rustic in this phase, among those that ran.
fn faster_peer(
    records: &[Record],
    phase: Phase,
    tools: &[&'static str],
) -> Option<(&'static str, f64)> {
    tools
        .iter()
        .filter(|t| **t == "restic" || **t == "rustic")
        .filter_map(|&t| cell(records, phase, t).wall.map(|w| (t, w)))
        .min_by(|a, b| a.1.total_cmp(&b.1))
}

/// The database scenario's targets (against the faster of restic and rustic; memory against
/// restic).
pub fn db_targets(records: &[Record], tools: &[&'static str]) -> Vec<TargetResult> {
    let mut out = Vec::new();
    let mut add = |name: String, met: Option<bool>, detail: String| {
        out.push(TargetResult {
            scenario: Scenario::Database,
            name,
            met,
            detail,
        });
    };
    let time_vs_peer = |phase: Phase| -> Option<(f64, &'static str)> {
        let w = cell(records, phase, MDR).wall?;
        let (peer, pw) = faster_peer(records, phase, tools)?;
        (pw > 0.0).then(|| (w / pw, peer))
    };
    let r = time_vs_peer(Phase::DbFull);
    add(
        "full backup faster than the faster of restic and rustic".to_string(),
        r.map(|(q, _)| q < 1.0),
        r.map_or_else(String::new, |(q, p)| format!("{q:.2}× {p}'s time")),
    );
    let added = cell(records, Phase::DbUpdate, MDR).added_mib;
    add(
        format!("100-row incremental stores ≤ {DB_UPDATE_MAX_ADDED_MIB} MiB"),
        added.map(|a| a <= DB_UPDATE_MAX_ADDED_MIB),
        added.map_or_else(String::new, |a| format!("{a:.2} MiB added")),
    );
    let r = time_vs_peer(Phase::DbUpdate);
    add(
        format!("100-row incremental time ≤ {DB_UPDATE_TIME_TARGET}× the faster peer's"),
        r.map(|(q, _)| q <= DB_UPDATE_TIME_TARGET),
        r.map_or_else(String::new, |(q, p)| format!("{q:.2}× {p}'s time")),
    );
    let r = time_vs_peer(Phase::DbRestore);
    add(
        format!("restore time ≤ {DB_RESTORE_TIME_TARGET}× the faster peer's (tmpfs)"),
        r.map(|(q, _)| q <= DB_RESTORE_TIME_TARGET),
        r.map_or_else(String::new, |(q, p)| format!("{q:.2}× {p}'s time")),
    );
    let mut over = Vec::new();
    let mut measured = 0;
    for phase in Phase::DATABASE {
        if let (Some(a), Some(b)) = (
            cell(records, phase, MDR).rss_mib,
            cell(records, phase, "restic").rss_mib,
        ) {
            measured += 1;
            if a > b {
                over.push(format!("{}: {a:.0} vs {b:.0} MiB", phase.label()));
            }
        }
    }
    add(
        "peak memory ≤ restic's in every step".to_string(),
        (measured == Phase::DATABASE.len()).then_some(over.is_empty()),
        if over.is_empty() {
            format!("{measured} of {} steps compared", Phase::DATABASE.len())
        } else {
            format!("over in {}", over.join("; "))
        },
    );
    out
}

/// The full markdown report: a header, one section per scenario that ran, failures, raw samples.
pub fn markdown(meta: &Meta, tools: &[&'static str], records: &[Record]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "## Comparison: {}\n", meta.title_tools.join(" vs "));
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
    if let Some(m) = &meta.mixed {
        mixed_section(&mut s, m, tools, records);
    }
    if let Some(d) = &meta.database {
        db_section(&mut s, d, tools, records);
    }
    if let Some(m) = &meta.s3 {
        s3_section(&mut s, m, tools, records);
    }

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
                    "- rep {}, {}, {}, {}: {}",
                    r.rep,
                    r.phase.scenario().key(),
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
        "| Rep | Scenario | Step | Tool | Wall s | User s | Sys s | Peak RSS MiB | Repo MiB | Added MiB | +sync s | Result |"
    );
    let _ = writeln!(
        s,
        "|---:|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for r in records {
        match &r.outcome {
            Ok(x) => {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.0} | {} | {} | {} | ok |",
                    r.rep,
                    r.phase.scenario().key(),
                    r.phase.label(),
                    r.tool,
                    x.usage.wall.as_secs_f64(),
                    x.usage.user.as_secs_f64(),
                    x.usage.sys.as_secs_f64(),
                    x.usage.maxrss_kib as f64 / 1024.0,
                    opt(x.repo_bytes.map(|b| b as f64 / MIB), 0),
                    opt(x.repo_added.map(|b| b as f64 / MIB), 2),
                    opt(x.sync_after.map(|d| d.as_secs_f64()), 2),
                );
            }
            Err(f) => {
                let _ = writeln!(
                    s,
                    "| {} | {} | {} | {} | – | – | – | – | – | – | – | {} |",
                    r.rep,
                    r.phase.scenario().key(),
                    r.phase.label(),
                    r.tool,
                    if f.skipped { "not run" } else { "failed" }
                );
            }
        }
    }
    s
}

fn ok_text(c: &Cell) -> String {
    if c.ok == c.total {
        format!("{}/{}", c.ok, c.total)
    } else {
        format!("**{}/{}**", c.ok, c.total)
    }
}

fn failed_text(tool: &str, c: &Cell) -> String {
    let why = c
        .first_error
        .clone()
        .unwrap_or_else(|| "no sample".to_string())
        .replace('|', "\\|");
    if tool == MDR {
        format!("failed: {why}")
    } else {
        format!("({tool}: {why})")
    }
}

/// The mixed scenario: ratios against restic, as before the database scenario existed.
fn mixed_section(s: &mut String, m: &MixedMeta, tools: &[&'static str], records: &[Record]) {
    let _ = writeln!(s, "\n### Mixed dataset\n");
    let _ = writeln!(
        s,
        "- Dataset: {} MiB setting, {} files, {:.1} MiB ({})",
        m.size_mb,
        m.files,
        m.bytes as f64 / MIB,
        m.desc
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
    for phase in Phase::MIXED {
        let restic = has_restic.then(|| cell(records, phase, "restic"));
        for &tool in tools {
            let c = cell(records, phase, tool);
            let (vs, rss_vs, target) = compare_cells(phase, tool, &c, restic.as_ref());
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                phase.label(),
                tool,
                ok_text(&c),
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
    // Peak memory over the whole scenario: the largest per-step median.
    let _ = writeln!(s);
    let restic_peak = if has_restic {
        peak_rss(records, Scenario::Mixed, "restic")
    } else {
        None
    };
    for &tool in tools {
        let p = peak_rss(records, Scenario::Mixed, tool);
        let mut line = format!("- Peak memory over all steps, {tool}: {} MiB", opt(p, 0));
        if let (Some(p), Some(r)) = (p, restic_peak)
            && tool != "restic"
        {
            let q = p / r;
            let _ = write!(line, " ({q:.2}× restic's)");
            if tool == MDR {
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
         (data the tool left for the kernel to write back). The full restore has two targets: \
         throughput ≥ 2× and time ≤ {MIXED_RESTORE_TIME_TARGET}× restic's."
    );
}

/// The "vs restic", "RSS vs restic" and target cells of one row of the mixed table.
fn compare_cells(
    phase: Phase,
    tool: &str,
    c: &Cell,
    restic: Option<&Cell>,
) -> (String, String, String) {
    if c.ok == 0 {
        return ("–".into(), "–".into(), failed_text(tool, c));
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
    let target = if tool == MDR {
        let mut t = match phase.target() {
            Some(goal) => format!("{}: {}", target_text(phase), yes_no(met(phase, r, goal))),
            None => target_text(phase),
        };
        if phase == Phase::Restore {
            let q = w / rw;
            let _ = write!(
                t,
                "; time ≤ {MIXED_RESTORE_TIME_TARGET}× ({q:.2}×): {}",
                yes_no(q <= MIXED_RESTORE_TIME_TARGET)
            );
        }
        if let Some(q) = rss {
            let _ = write!(t, "; RSS ≤ 1×: {}", yes_no(q <= 1.0));
        }
        t
    } else {
        String::new()
    };
    (vs, rss_vs, target)
}

/// The database scenario: time ratios against the faster of restic and rustic in each step,
/// memory against restic, and the scenario's targets.
fn db_section(s: &mut String, d: &DbMeta, tools: &[&'static str], records: &[Record]) {
    let _ = writeln!(s, "\n### Database scenario\n");
    let _ = writeln!(
        s,
        "- Database: {} MiB setting, {:.1} MiB ({})",
        d.size_mb,
        d.bytes as f64 / MIB,
        d.desc
    );
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "| Step | Tool | OK | Wall s | CPU s | Peak RSS MiB | Added MiB | Repo MiB | vs faster peer | RSS vs restic | Target (mahavishnu-dr) |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for phase in Phase::DATABASE {
        let peer = faster_peer(records, phase, tools);
        let restic_rss = cell(records, phase, "restic").rss_mib;
        for &tool in tools {
            let c = cell(records, phase, tool);
            let (vs, rss_vs, target) = if c.ok == 0 {
                ("–".to_string(), "–".to_string(), failed_text(tool, &c))
            } else {
                let vs = match (c.wall, peer) {
                    (_, Some((p, _))) if p == tool => "1.00 (faster peer)".to_string(),
                    (Some(w), Some((p, pw))) if pw > 0.0 => format!("{:.2}× {p}'s time", w / pw),
                    _ => "n/a".to_string(),
                };
                let rss = c.rss_mib.zip(restic_rss).map(|(a, b)| a / b);
                let rss_vs = if tool == "restic" {
                    "1.00".to_string()
                } else {
                    rss.map_or_else(|| "n/a".to_string(), |q| format!("{q:.2}×"))
                };
                let target = if tool == MDR {
                    db_row_target(phase, &c, peer, rss)
                } else {
                    String::new()
                };
                (vs, rss_vs, target)
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                phase.label(),
                tool,
                ok_text(&c),
                opt(c.wall, 2),
                opt(c.cpu, 2),
                opt(c.rss_mib, 0),
                opt(c.added_mib, 2),
                opt(c.repo_mib, 0),
                vs,
                rss_vs,
                target
            );
        }
    }
    let _ = writeln!(s, "\nTargets (mahavishnu-dr):\n");
    for t in db_targets(records, tools) {
        let detail = if t.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", t.detail)
        };
        let _ = writeln!(s, "- {}: {}{detail}", t.name, met_text(t.met));
    }
    if !tools.iter().any(|t| *t == "restic" || *t == "rustic") {
        let _ = writeln!(
            s,
            "- neither restic nor rustic ran, so no time ratios are given."
        );
    }
    let _ = writeln!(
        s,
        "\nvs faster peer = the tool's wall time / the wall time of the faster of restic and rustic \
         in that step (lower is better). Added MiB = `du` of the repository after the step minus \
         before it. RSS = the tool's peak RSS / restic's."
    );
}

/// The target cell of mahavishnu-dr's row in the database table.
fn db_row_target(phase: Phase, c: &Cell, peer: Option<(&str, f64)>, rss: Option<f64>) -> String {
    let q = match (c.wall, peer) {
        (Some(w), Some((_, pw))) if pw > 0.0 => Some(w / pw),
        _ => None,
    };
    let mut parts = Vec::new();
    match phase {
        Phase::DbFull => parts.push(format!(
            "faster than peer: {}",
            met_text(q.map(|q| q < 1.0))
        )),
        Phase::DbUpdate => {
            parts.push(format!(
                "added ≤ {DB_UPDATE_MAX_ADDED_MIB} MiB: {}",
                met_text(c.added_mib.map(|a| a <= DB_UPDATE_MAX_ADDED_MIB))
            ));
            parts.push(format!(
                "time ≤ {DB_UPDATE_TIME_TARGET}×: {}",
                met_text(q.map(|q| q <= DB_UPDATE_TIME_TARGET))
            ));
        }
        Phase::DbRestore => parts.push(format!(
            "time ≤ {DB_RESTORE_TIME_TARGET}×: {}",
            met_text(q.map(|q| q <= DB_RESTORE_TIME_TARGET))
        )),
        _ => parts.push("no time target".to_string()),
    }
    parts.push(format!("RSS ≤ restic: {}", met_text(rss.map(|q| q <= 1.0))));
    parts.join("; ")
}

/// The s3 scenario's time target for a step (mahavishnu-dr's wall time / restic's at most this).
fn s3_time_target(phase: Phase) -> Option<f64> {
    match phase {
        Phase::S3Backup => Some(S3_BACKUP_TIME_TARGET),
        Phase::S3Restore => Some(S3_RESTORE_TIME_TARGET),
        _ => None,
    }
}

/// mahavishnu-dr's wall time / restic's in a step, when both have a median.
fn time_vs_restic(records: &[Record], phase: Phase) -> Option<f64> {
    let w = cell(records, phase, MDR).wall?;
    let rw = cell(records, phase, "restic").wall?;
    (w > 0.0 && rw > 0.0).then_some(w / rw)
}

/// The s3 scenario's targets (against restic on the same server and bucket).
pub fn s3_targets(records: &[Record]) -> Vec<TargetResult> {
    let mut out = Vec::new();
    for phase in Phase::S3 {
        if let Some(goal) = s3_time_target(phase) {
            let q = time_vs_restic(records, phase);
            out.push(TargetResult {
                scenario: Scenario::S3,
                name: format!("{}: time ≤ {goal}× restic's", phase.label()),
                met: q.map(|q| q <= goal),
                detail: q.map_or_else(String::new, |q| format!("{q:.2}× time")),
            });
        }
    }
    let (p, rp) = (
        peak_rss(records, Scenario::S3, MDR),
        peak_rss(records, Scenario::S3, "restic"),
    );
    out.push(TargetResult {
        scenario: Scenario::S3,
        name: "peak memory over all steps ≤ restic's".to_string(),
        met: p.zip(rp).map(|(p, rp)| p <= rp),
        detail: p
            .zip(rp)
            .map_or_else(String::new, |(p, rp)| format!("{p:.0} MiB vs {rp:.0} MiB")),
    });
    out
}

/// The s3 scenario: the mixed dataset backed up to, restored from and validated on one S3
/// server, time ratios against restic.
fn s3_section(s: &mut String, m: &S3Meta, tools: &[&'static str], records: &[Record]) {
    let d = &m.dataset;
    // Only the tools that ran in this scenario.
    let tools: Vec<&'static str> = tools
        .iter()
        .copied()
        .filter(|t| {
            records
                .iter()
                .any(|r| r.tool == *t && r.phase.scenario() == Scenario::S3)
        })
        .collect();
    let _ = writeln!(s, "\n### Object storage (S3)\n");
    let _ = writeln!(s, "- Server: {}", m.server);
    let _ = writeln!(
        s,
        "- Dataset: the mixed dataset, {} MiB setting, {} files, {:.1} MiB ({})",
        d.size_mb,
        d.files,
        d.bytes as f64 / MIB,
        d.desc
    );
    for (name, why) in &m.not_run {
        let _ = writeln!(s, "- {name}: not run, {why}");
    }
    let _ = writeln!(s);
    let _ = writeln!(
        s,
        "| Step | Tool | OK | Wall s | CPU s | Peak RSS MiB | Stored MiB | MiB/s | vs restic | RSS vs restic | Target (mahavishnu-dr) |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for phase in Phase::S3 {
        let restic = cell(records, phase, "restic");
        for &tool in &tools {
            let c = cell(records, phase, tool);
            let (vs, rss_vs, target) = if c.ok == 0 {
                ("–".to_string(), "–".to_string(), failed_text(tool, &c))
            } else if tool == "restic" {
                (
                    "1.00 (baseline)".to_string(),
                    "1.00".to_string(),
                    String::new(),
                )
            } else {
                let q = c.wall.zip(restic.wall).map(|(w, rw)| w / rw);
                let rss = c.rss_mib.zip(restic.rss_mib).map(|(a, b)| a / b);
                let mut parts = Vec::new();
                if let Some(goal) = s3_time_target(phase) {
                    parts.push(format!(
                        "time ≤ {goal}×: {}",
                        met_text(q.map(|q| q <= goal))
                    ));
                } else {
                    parts.push("no time target".to_string());
                }
                parts.push(format!("RSS ≤ restic: {}", met_text(rss.map(|q| q <= 1.0))));
                (
                    q.map_or_else(|| "n/a".to_string(), |q| format!("{q:.2}× time")),
                    rss.map_or_else(|| "n/a".to_string(), |q| format!("{q:.2}×")),
                    if tool == MDR {
                        parts.join("; ")
                    } else {
                        String::new()
                    },
                )
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                phase.label(),
                tool,
                ok_text(&c),
                opt(c.wall, 2),
                opt(c.cpu, 2),
                opt(c.rss_mib, 0),
                opt(c.repo_mib, 0),
                opt(c.mib_per_s, 1),
                vs,
                rss_vs,
                target
            );
        }
    }
    let _ = writeln!(s, "\nTargets (mahavishnu-dr):\n");
    for t in s3_targets(records) {
        let detail = if t.detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", t.detail)
        };
        let _ = writeln!(s, "- {}: {}{detail}", t.name, met_text(t.met));
    }
    let _ = writeln!(
        s,
        "\nvs restic = the tool's wall time / restic's (lower is better); RSS = the tool's peak RSS \
         / restic's; peak memory over all steps = the largest per-step median. Stored MiB = the sum \
         of the object sizes a listing of the tool's prefix returns after the step (not the \
         server's disk use). MiB/s = logical dataset MiB / wall time."
    );
}

/// The machine-readable report: run metadata, every sample, the medians and the targets of both
/// scenarios.
pub fn json(meta: &Meta, tools: &[&'static str], records: &[Record]) -> serde_json::Value {
    let samples: Vec<serde_json::Value> = records
        .iter()
        .map(|r| match &r.outcome {
            Ok(x) => serde_json::json!({
                "rep": r.rep, "scenario": r.phase.scenario().key(), "step": r.phase.key(),
                "tool": r.tool, "ok": true,
                "wall_s": x.usage.wall.as_secs_f64(),
                "user_s": x.usage.user.as_secs_f64(),
                "sys_s": x.usage.sys.as_secs_f64(),
                "maxrss_kib": x.usage.maxrss_kib,
                "repo_bytes": x.repo_bytes,
                "repo_added_bytes": x.repo_added,
                "sync_after_s": x.sync_after.map(|d| d.as_secs_f64()),
                "logical_bytes": x.logical_bytes,
            }),
            Err(f) => serde_json::json!({
                "rep": r.rep, "scenario": r.phase.scenario().key(), "step": r.phase.key(),
                "tool": r.tool, "ok": false,
                "skipped": f.skipped, "error": f.message, "output_tail": f.output_tail,
            }),
        })
        .collect();
    let mut medians = Vec::new();
    let mut targets = Vec::new();
    let mut scenarios = Vec::new();
    if meta.mixed.is_some() {
        scenarios.push(Scenario::Mixed);
        targets.extend(mixed_targets(records));
    }
    if meta.database.is_some() {
        scenarios.push(Scenario::Database);
        targets.extend(db_targets(records, tools));
    }
    if meta.s3.is_some() {
        scenarios.push(Scenario::S3);
        targets.extend(s3_targets(records));
    }
    for scenario in &scenarios {
        for &phase in scenario.phases() {
            for &tool in tools {
                let c = cell(records, phase, tool);
                // A tool that had no part in this scenario (rustic and borg in s3).
                if c.total == 0 {
                    continue;
                }
                medians.push(serde_json::json!({
                    "scenario": scenario.key(), "step": phase.key(), "tool": tool,
                    "ok": c.ok, "runs": c.total,
                    "wall_s": c.wall, "cpu_s": c.cpu, "maxrss_mib": c.rss_mib,
                    "repo_mib": c.repo_mib, "repo_added_mib": c.added_mib,
                    "sync_after_s": c.sync_after, "mib_per_s": c.mib_per_s,
                }));
            }
        }
    }
    let targets: Vec<serde_json::Value> = targets
        .iter()
        .map(|t| {
            serde_json::json!({
                "scenario": t.scenario.key(), "target": t.name, "met": t.met, "detail": t.detail,
            })
        })
        .collect();
    serde_json::json!({
        // The mixed dataset at the top level too, where reports before the database scenario had it.
        "size_mb": meta.mixed.as_ref().map(|m| m.size_mb),
        "dataset": meta.mixed.as_ref().map(|m| serde_json::json!({ "files": m.files, "bytes": m.bytes, "layout": m.desc })),
        "scenarios": scenarios.iter().map(|s| s.key()).collect::<Vec<_>>(),
        "mixed": meta.mixed.as_ref().map(|m| serde_json::json!({
            "size_mb": m.size_mb,
            "dataset": { "files": m.files, "bytes": m.bytes, "layout": m.desc },
        })),
        "database": meta.database.as_ref().map(|d| serde_json::json!({
            "size_mb": d.size_mb, "bytes": d.bytes, "layout": d.desc,
        })),
        "s3": meta.s3.as_ref().map(|m| serde_json::json!({
            "size_mb": m.dataset.size_mb,
            "dataset": { "files": m.dataset.files, "bytes": m.dataset.bytes, "layout": m.dataset.desc },
            "server": m.server,
            "not_run": m.not_run.iter().map(|(n, v)| serde_json::json!({"tool": n, "reason": v})).collect::<Vec<_>>(),
        })),
        "reps": meta.reps,
        "machine": meta.machine,
        "started": meta.started,
        "versions": meta.versions.iter().map(|(n, v)| serde_json::json!({"tool": n, "version": v})).collect::<Vec<_>>(),
        "skipped": meta.skipped.iter().map(|(n, v)| serde_json::json!({"tool": n, "reason": v})).collect::<Vec<_>>(),
        "medians": medians,
        "targets": targets,
        "samples": samples,
    })
}
