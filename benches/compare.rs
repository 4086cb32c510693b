//! Side-by-side benchmark of mahavishnu-dr against restic and borg: `cargo bench --bench compare`.
//!
//! Generates a fixed, deterministic dataset (default 1 GiB: ~20,000 small text files, ten 50 MiB
//! files half random half log-like, one 200 MiB SQLite database), then, for every repetition and
//! with the tools alternating within each step: initial backup, backup with no change, backup after
//! 1% of the small files changed and 1 MiB was appended to the database, full restore (to tmpfs,
//! checked), and full validation. Prints medians of wall time, CPU time, peak RSS and repository
//! size, ratios against restic and the targets, as a markdown table; writes the same as JSON.
//! See docs/BENCHMARKS.md. Environment:
//!
//! - `MAHAVISHNU_BENCH_SIZE_MB` (1024): dataset size; every part scales with it.
//! - `MAHAVISHNU_BENCH_REPS` (3): repetitions of every step.
//! - `MAHAVISHNU_BENCH_DIR`: work folder, kept (and its dataset reused) between runs; default a
//!   fresh temporary folder inside the target directory, removed at the end.
//! - `MAHAVISHNU_BENCH_RESTORE_DIR` (/dev/shm): where restores go.
//! - `MAHAVISHNU_BENCH_TOOLS` (all): comma-separated subset of mahavishnu-dr,restic,borg.
//! - `MAHAVISHNU_BENCH_JSON`: where the JSON report goes (default `<target>/compare-results.json`).
//! - `MAHAVISHNU_DR_BIN`: the mahavishnu-dr binary (default: the one cargo built beside this bench).

#[path = "compare/dataset.rs"]
mod dataset;
#[path = "compare/fsutil.rs"]
mod fsutil;
#[path = "compare/measure.rs"]
mod measure;
#[path = "compare/report.rs"]
mod report;
#[path = "compare/rng.rs"]
mod rng;
#[path = "compare/tools.rs"]
mod tools;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use dataset::{Dataset, Plan};
use fsutil::TreeStats;
use measure::Failure;
use report::{Phase, Record, Sample};
use tools::{BackupStep, Tool};

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const MIB: u64 = 1 << 20;

struct Config {
    size_mb: u64,
    reps: usize,
    work_dir: Option<PathBuf>,
    restore_base: PathBuf,
    only: Option<Vec<String>>,
    json_out: Option<PathBuf>,
}

fn env_number(name: &str, default: u64, min: u64) -> Res<u64> {
    match env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(n) if n >= min => Ok(n),
            _ => Err(format!("{name}={v:?}: expected a whole number ≥ {min}").into()),
        },
    }
}

impl Config {
    fn from_env() -> Res<Config> {
        let only = env::var("MAHAVISHNU_BENCH_TOOLS").ok().map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
        });
        if let Some(o) = &only
            && let Some(bad) = o
                .iter()
                .find(|n| !tools::Kind::ALL.iter().any(|k| k.name() == n.as_str()))
        {
            return Err(format!(
                "MAHAVISHNU_BENCH_TOOLS: unknown tool {bad:?} (mahavishnu-dr, restic, borg)"
            )
            .into());
        }
        Ok(Config {
            size_mb: env_number("MAHAVISHNU_BENCH_SIZE_MB", 1024, 8)?,
            reps: env_number("MAHAVISHNU_BENCH_REPS", 3, 1)? as usize,
            work_dir: env::var_os("MAHAVISHNU_BENCH_DIR").map(PathBuf::from),
            restore_base: env::var_os("MAHAVISHNU_BENCH_RESTORE_DIR")
                .map_or_else(|| PathBuf::from("/dev/shm"), PathBuf::from),
            only,
            json_out: env::var_os("MAHAVISHNU_BENCH_JSON").map(PathBuf::from),
        })
    }
}

/// `<target>` for this bench binary (`<target>/<profile>/deps/compare-<hash>`), else
/// `<manifest>/target`.
fn target_dir() -> PathBuf {
    env::current_exe()
        .ok()
        .and_then(|exe| exe.ancestors().nth(3).map(Path::to_path_buf))
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
}

fn main() {
    // First, before this process grows: the spawn helper that measures one tool command.
    let args: Vec<std::ffi::OsString> = env::args_os().collect();
    if args.get(1).is_some_and(|a| a == measure::HELPER_ARG) {
        measure::helper_main(&args[2..]);
    }
    // `cargo bench` passes --bench; `cargo test --benches` runs this binary without it, and a
    // gigabyte benchmark has no place in a test run.
    if !args.iter().any(|a| a == "--bench") {
        println!("compare: skipped (run it with `cargo bench --bench compare`)");
        return;
    }
    match Config::from_env().and_then(run) {
        Ok(()) => {}
        Err(e) => {
            eprintln!("compare: error: {e}");
            std::process::exit(1);
        }
    }
}

fn now_utc() -> String {
    let ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let mut out = Vec::new();
    dataset::write_timestamp(&mut out, ms);
    String::from_utf8_lossy(&out).into_owned()
}

fn machine_description() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".to_string());
    let mem_gib = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map_or_else(|_| "unknown".to_string(), |s| s.trim().to_string());
    format!("{cores} cores ({cpu}), {mem_gib:.0} GiB RAM, Linux {kernel}")
}

fn run(cfg: Config) -> Res<()> {
    let started = now_utc();
    // The work folder: on the target directory's disk (never tmpfs, unless asked for).
    let target = target_dir();
    let (_temp_guard, work) = match &cfg.work_dir {
        Some(dir) => {
            fs::create_dir_all(dir)?;
            (None, fs::canonicalize(dir)?)
        }
        None => {
            fs::create_dir_all(&target)?;
            let t = tempfile::Builder::new()
                .prefix("compare-work-")
                .tempdir_in(&target)?;
            let p = fs::canonicalize(t.path())?;
            (Some(t), p)
        }
    };
    if fsutil::is_memory_fs(&work)? {
        eprintln!(
            "compare: warning: the work dir {} is on tmpfs; backups would be measured from memory",
            work.display()
        );
    }
    let plan = Plan::new(cfg.size_mb);
    let need = cfg.size_mb * MIB * 9 / 2;
    let free = fsutil::free_bytes(&work)?;
    if free < need {
        return Err(format!(
            "{} has {} MiB free; a {} MiB run needs about {} MiB (dataset, pristine copy, three repositories)",
            work.display(),
            free / MIB,
            cfg.size_mb,
            need / MIB
        )
        .into());
    }

    let (tools, skipped) = tools::discover(&work, cfg.only.as_deref());
    for s in &skipped {
        eprintln!("compare: skipping {}: {}", s.name, s.reason);
    }
    if tools.is_empty() {
        return Err("no tool to benchmark".into());
    }
    for t in &tools {
        eprintln!(
            "compare: {} = {} ({})",
            t.name(),
            t.bin.display(),
            t.version
        );
    }
    if !tools.iter().any(|t| t.kind == tools::Kind::Restic) {
        eprintln!("compare: restic is not in this run, so no ratios or targets can be given");
    }
    let restore_base = cfg.restore_base.clone();
    fs::create_dir_all(&restore_base)?;
    if !fsutil::is_memory_fs(&restore_base)? {
        eprintln!(
            "compare: warning: the restore dir {} is not tmpfs; restores include disk writes",
            restore_base.display()
        );
    }

    let ds = Dataset::prepare(&work, plan)?;
    let clean = ds.stats()?;
    let logs = work.join("logs");
    fs::create_dir_all(&logs)?;
    eprintln!(
        "compare: dataset {} files, {:.1} MiB; {} repetition(s); logs in {}",
        clean.files,
        clean.bytes as f64 / MIB as f64,
        cfg.reps,
        logs.display()
    );

    let mut records: Vec<Record> = Vec::new();
    let mut result = Ok(());
    for rep in 1..=cfg.reps {
        let ctx = RepCtx {
            rep,
            reps: cfg.reps,
            tools: &tools,
            ds: &ds,
            logs: &logs,
            restore_base: &restore_base,
            clean,
        };
        if let Err(e) = run_repetition(&ctx, &mut records) {
            eprintln!("compare: the run stopped early: {e}");
            result = Err(e);
            break;
        }
    }

    let names: Vec<&'static str> = tools.iter().map(Tool::name).collect();
    let meta = report::Meta {
        title_tools: names.clone(),
        versions: tools
            .iter()
            .map(|t| (t.name(), t.version.clone()))
            .collect(),
        skipped: skipped.iter().map(|s| (s.name, s.reason.clone())).collect(),
        size_mb: cfg.size_mb,
        dataset_desc: format!(
            "{} small text files ({:.0} MiB), {} × {:.1} MiB files (half random, half log-like), \
             a {:.0} MiB SQLite database",
            plan.small_count,
            plan.small_total as f64 / MIB as f64,
            plan.large_count(),
            plan.large_size as f64 / MIB as f64,
            plan.db_size as f64 / MIB as f64
        ),
        dataset_files: clean.files,
        dataset_bytes: clean.bytes,
        reps: cfg.reps,
        machine: machine_description(),
        started,
        work_dir: work.display().to_string(),
        restore_dir: restore_base.display().to_string(),
    };
    println!("{}", report::markdown(&meta, &names, &records));
    let json_path = cfg
        .json_out
        .clone()
        .unwrap_or_else(|| target.join("compare-results.json"));
    let json = report::json(&meta, &names, &records);
    match fs::write(
        &json_path,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    ) {
        Ok(()) => eprintln!("compare: JSON report in {}", json_path.display()),
        Err(e) => eprintln!("compare: cannot write {}: {e}", json_path.display()),
    }
    result
}

struct RepCtx<'a> {
    rep: usize,
    reps: usize,
    tools: &'a [Tool],
    ds: &'a Dataset,
    logs: &'a Path,
    restore_base: &'a Path,
    clean: TreeStats,
}

fn log_outcome(ctx: &RepCtx, phase: Phase, tool: &Tool, outcome: &Result<Sample, Failure>) {
    let head = format!(
        "[rep {}/{}] {:<17} {:<14}",
        ctx.rep,
        ctx.reps,
        phase.label(),
        tool.name()
    );
    match outcome {
        Ok(s) => {
            let repo = s
                .repo_bytes
                .map(|b| format!(", repo {:.0} MiB", b as f64 / MIB as f64))
                .unwrap_or_default();
            eprintln!(
                "{head} {:>8.2} s wall, {:>7.2} s CPU, {:>6.0} MiB RSS{repo}",
                s.usage.wall.as_secs_f64(),
                s.usage.cpu().as_secs_f64(),
                s.usage.maxrss_kib as f64 / 1024.0
            );
        }
        Err(f) => {
            eprintln!("{head} FAILED: {}", f.message);
            if !f.output_tail.trim().is_empty() {
                for line in f.output_tail.lines() {
                    eprintln!("    | {line}");
                }
            }
        }
    }
}

/// One repetition: every step, each step for every tool in turn (mahavishnu-dr, restic, borg),
/// on fresh repositories; the dataset is changed for the third step and reverted at the end.
fn run_repetition(ctx: &RepCtx, records: &mut Vec<Record>) -> Res<()> {
    let n = ctx.tools.len();
    // A tool whose backup failed sits out the rest of this repetition.
    let mut alive = vec![true; n];
    let push = |records: &mut Vec<Record>,
                alive: &mut Vec<bool>,
                t: usize,
                phase: Phase,
                outcome: Result<Sample, Failure>| {
        log_outcome(ctx, phase, &ctx.tools[t], &outcome);
        if outcome.is_err() && phase != Phase::Restore && phase != Phase::Validate {
            alive[t] = false;
        }
        records.push(Record {
            rep: ctx.rep,
            phase,
            tool: ctx.tools[t].name(),
            outcome,
        });
    };
    let skip = || Err(Failure::skipped());

    for (t, tool) in ctx.tools.iter().enumerate() {
        let outcome = init_tool(ctx, tool)
            .and_then(|()| backup_step(ctx, tool, BackupStep::Initial, ctx.clean));
        push(records, &mut alive, t, Phase::Initial, outcome);
    }
    for (t, tool) in ctx.tools.iter().enumerate() {
        let outcome = if alive[t] {
            backup_step(ctx, tool, BackupStep::NoChange, ctx.clean)
        } else {
            skip()
        };
        push(records, &mut alive, t, Phase::NoChange, outcome);
    }

    ctx.ds.mutate()?;
    let changed = ctx.ds.stats()?;
    let fingerprint = dataset::db_fingerprint(&ctx.ds.db_path())?;
    for (t, tool) in ctx.tools.iter().enumerate() {
        let outcome = if alive[t] {
            backup_step(ctx, tool, BackupStep::Change, changed)
        } else {
            skip()
        };
        push(records, &mut alive, t, Phase::Change, outcome);
    }
    for (t, tool) in ctx.tools.iter().enumerate() {
        let outcome = if alive[t] {
            restore_step(ctx, tool, changed, &fingerprint)
        } else {
            skip()
        };
        push(records, &mut alive, t, Phase::Restore, outcome);
    }
    for (t, tool) in ctx.tools.iter().enumerate() {
        let outcome = if alive[t] {
            validate_step(ctx, tool, changed)
        } else {
            skip()
        };
        push(records, &mut alive, t, Phase::Validate, outcome);
    }
    ctx.ds.revert()?;
    let after = ctx.ds.stats()?;
    if after != ctx.clean {
        return Err(format!(
            "the dataset did not revert cleanly ({after:?}, expected {:?})",
            ctx.clean
        )
        .into());
    }
    Ok(())
}

fn label(ctx: &RepCtx, tool: &Tool, what: &str) -> String {
    format!("rep{}-{}-{what}", ctx.rep, tool.name())
}

fn io_failure(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::new(format!("{what}: {e}"))
}

/// Fresh folder and repository for this repetition (untimed).
fn init_tool(ctx: &RepCtx, tool: &Tool) -> Result<(), Failure> {
    tool.reset(&ctx.ds.root)
        .map_err(|e| io_failure("cannot prepare the tool's folder", e))?;
    measure::run(&mut tool.init(), ctx.logs, &label(ctx, tool, "init")).map(|_| ())
}

fn backup_step(
    ctx: &RepCtx,
    tool: &Tool,
    step: BackupStep,
    stats: TreeStats,
) -> Result<Sample, Failure> {
    fsutil::pre_read(&ctx.ds.root).map_err(|e| io_failure("pre-reading the dataset", e))?;
    measure::sync_all();
    let what = match step {
        BackupStep::Initial => "backup-initial",
        BackupStep::NoChange => "backup-nochange",
        BackupStep::Change => "backup-change",
    };
    let (usage, _) = measure::run(
        &mut tool.backup(&ctx.ds.root, step),
        ctx.logs,
        &label(ctx, tool, what),
    )?;
    let sync_after = measure::sync_all();
    let repo = fsutil::du(&tool.repo()).map_err(|e| io_failure("du of the repository", e))?;
    Ok(Sample {
        usage,
        sync_after: Some(sync_after),
        repo_bytes: Some(repo),
        logical_bytes: stats.bytes,
    })
}

fn restore_step(
    ctx: &RepCtx,
    tool: &Tool,
    expected: TreeStats,
    fingerprint: &str,
) -> Result<Sample, Failure> {
    let need = expected.bytes + expected.bytes / 10 + 64 * MIB;
    let free = fsutil::free_bytes(ctx.restore_base)
        .map_err(|e| io_failure("checking free space for the restore", e))?;
    if free < need {
        return Err(Failure::new(format!(
            "{} has {} MiB free, a restore needs about {} MiB (set MAHAVISHNU_BENCH_RESTORE_DIR)",
            ctx.restore_base.display(),
            free / MIB,
            need / MIB
        )));
    }
    fsutil::pre_read(&tool.repo()).map_err(|e| io_failure("pre-reading the repository", e))?;
    measure::sync_all();
    let target = ctx.restore_base.join(format!(
        "mdr-compare-{}-{}-rep{}",
        std::process::id(),
        tool.name(),
        ctx.rep
    ));
    fsutil::remove_tree(&target).map_err(|e| io_failure("clearing the restore target", e))?;
    let result = timed_restore(ctx, tool, &target, expected, fingerprint);
    if let Err(e) = fsutil::remove_tree(&target) {
        eprintln!("compare: cannot remove {}: {e}", target.display());
    }
    result
}

fn timed_restore(
    ctx: &RepCtx,
    tool: &Tool,
    target: &Path,
    expected: TreeStats,
    fingerprint: &str,
) -> Result<Sample, Failure> {
    let mut cmd = tool
        .restore(target)
        .map_err(|e| io_failure("creating the restore target", e))?;
    let (usage, _) = measure::run(&mut cmd, ctx.logs, &label(ctx, tool, "restore"))?;
    check_restore(ctx, tool, target, expected, fingerprint)?;
    Ok(Sample {
        usage,
        sync_after: None,
        repo_bytes: None,
        logical_bytes: expected.bytes,
    })
}

/// Untimed: the restore holds exactly the dataset's file count and bytes, sampled files are
/// byte-identical (all changed ones among them), and the database holds the same rows.
fn check_restore(
    ctx: &RepCtx,
    tool: &Tool,
    target: &Path,
    expected: TreeStats,
    fingerprint: &str,
) -> Result<(), Failure> {
    let root = tool.restored_root(target, &ctx.ds.root);
    let got = fsutil::tree_stats(&root)
        .map_err(|e| io_failure(&format!("reading the restore at {}", root.display()), e))?;
    if got != expected {
        return Err(Failure::new(format!(
            "restore check: {} holds {} files / {} bytes, expected {} files / {} bytes",
            root.display(),
            got.files,
            got.bytes,
            expected.files,
            expected.bytes
        )));
    }
    for rel in ctx.ds.sample_files() {
        if !fsutil::same_contents(&ctx.ds.root.join(&rel), &root.join(&rel)).unwrap_or(false) {
            return Err(Failure::new(format!(
                "restore check: {} differs from the source",
                rel.display()
            )));
        }
    }
    let rel_db = ctx
        .ds
        .db_path()
        .strip_prefix(&ctx.ds.root)
        .map(Path::to_path_buf)
        .unwrap_or_default();
    match dataset::db_fingerprint(&root.join(&rel_db)) {
        Ok(fp) if fp == fingerprint => Ok(()),
        Ok(fp) => Err(Failure::new(format!(
            "restore check: the restored database holds {fp}, expected {fingerprint}"
        ))),
        Err(e) => Err(io_failure(
            "restore check: opening the restored database",
            e,
        )),
    }
}

fn validate_step(ctx: &RepCtx, tool: &Tool, stats: TreeStats) -> Result<Sample, Failure> {
    fsutil::pre_read(&tool.repo()).map_err(|e| io_failure("pre-reading the repository", e))?;
    measure::sync_all();
    let (usage, _) = measure::run(
        &mut tool.validate(),
        ctx.logs,
        &label(ctx, tool, "validate"),
    )?;
    let repo = fsutil::du(&tool.repo()).map_err(|e| io_failure("du of the repository", e))?;
    Ok(Sample {
        usage,
        sync_after: None,
        repo_bytes: Some(repo),
        logical_bytes: stats.bytes,
    })
}
