//! Side-by-side benchmark of mahavishnu-dr against restic, rustic and borg:
//! `cargo bench --bench compare`. Three scenarios, each run with the tools alternating within every
//! step and repeated; medians of wall time, CPU time, peak RSS and repository size, ratios and the
//! targets go out as markdown tables, and the same as JSON. See docs/BENCHMARKS.md.
//!
//! - **mixed**: a fixed, deterministic dataset (default 1 GiB: ~20,000 small text files, ten
//!   50 MiB files half random half log-like, one 200 MiB SQLite database): initial backup, backup
//!   with no change, backup after 1% of the small files changed and 1 MiB was appended to the
//!   database, full restore (to tmpfs, checked), and full validation. Ratios against restic.
//! - **database**: one generated SQLite database in WAL mode (default 1 GiB) alone in a folder:
//!   full backup, incremental after 100 scattered rows were updated (the changes left in the WAL),
//!   incremental after ~10 MiB of rows were appended, restore (to tmpfs; integrity_check and the
//!   rows checked), and full validation. Ratios against the faster of restic and rustic, and the
//!   bytes each backup added to the repository.
//! - **s3**: the mixed dataset against object storage: a SeaweedFS S3 server on loopback
//!   (installed by tests/cloud/setup.sh, its data on disk in `<work>/s3-server`, killed at the
//!   end), mahavishnu-dr and restic only (rustic and borg are noted as not run), each repository
//!   under a fresh prefix of one bucket per tool and repetition: initial backup, full restore (to
//!   tmpfs, checked like the mixed restore), full validation (`backup validate --level full` vs
//!   `restic check --read-data`). Time ratios against restic; the size is what a listing of the
//!   prefix sums to.
//!
//! Environment:
//!
//! - `MAHAVISHNU_BENCH_SCENARIO` (all): `mixed`, `database`, `s3` or `all` (= mixed and database;
//!   the s3 scenario runs only when asked for by name).
//! - `MAHAVISHNU_BENCH_SIZE_MB` (1024): the mixed dataset's size (also the s3 scenario's); every
//!   part scales with it.
//! - `MAHAVISHNU_BENCH_DB_MB` (1024): the database scenario's database size.
//! - `MAHAVISHNU_BENCH_REPS` (3): repetitions of every step.
//! - `MAHAVISHNU_BENCH_DIR`: work folder, kept (and its generated data reused) between runs;
//!   default a fresh temporary folder inside the target directory, removed at the end.
//! - `MAHAVISHNU_BENCH_RESTORE_DIR` (/dev/shm): where restores go.
//! - `MAHAVISHNU_BENCH_TOOLS` (all): comma-separated subset of mahavishnu-dr,restic,rustic,borg.
//!   A tool that is not installed is skipped with a note (rustic: `cargo install rustic-rs
//!   --locked` once; the bench never builds it).
//! - `MAHAVISHNU_BENCH_JSON`: where the JSON report goes (default `<target>/compare-results.json`).
//! - `MAHAVISHNU_DR_BIN`: the mahavishnu-dr binary (default: the one cargo built beside this bench).

#[path = "compare/database.rs"]
mod database;
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
#[path = "compare/s3server.rs"]
mod s3server;
#[path = "compare/tools.rs"]
mod tools;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use database::{DbSet, Fingerprint};
use dataset::{Dataset, Plan};
use fsutil::TreeStats;
use measure::Failure;
use report::{Phase, Record, Sample, Scenario};
use s3server::S3Server;
use tools::{BackupStep, Kind, Tool};

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

const MIB: u64 = 1 << 20;

// The backups of each scenario's chain (borg names its archives after them).
const fn step(full: bool, archive: &'static str) -> BackupStep {
    BackupStep { full, archive }
}
const MIXED_INITIAL: BackupStep = step(true, "initial");
const MIXED_NOCHANGE: BackupStep = step(false, "nochange");
const MIXED_CHANGE: BackupStep = step(false, "change");
const DB_FULL: BackupStep = step(true, "db-full");
const DB_UPDATE: BackupStep = step(false, "db-update");
const DB_APPEND: BackupStep = step(false, "db-append");
const S3_INITIAL: BackupStep = step(true, "s3-initial");

struct Config {
    scenarios: Vec<Scenario>,
    size_mb: u64,
    db_mb: u64,
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
                "MAHAVISHNU_BENCH_TOOLS: unknown tool {bad:?} (mahavishnu-dr, restic, rustic, borg)"
            )
            .into());
        }
        let scenarios = match env::var("MAHAVISHNU_BENCH_SCENARIO")
            .unwrap_or_default()
            .trim()
        {
            "" | "all" => vec![Scenario::Mixed, Scenario::Database],
            "mixed" => vec![Scenario::Mixed],
            "database" => vec![Scenario::Database],
            "s3" => vec![Scenario::S3],
            other => {
                return Err(format!(
                    "MAHAVISHNU_BENCH_SCENARIO={other:?}: expected mixed, database, s3 or all"
                )
                .into());
            }
        };
        Ok(Config {
            scenarios,
            size_mb: env_number("MAHAVISHNU_BENCH_SIZE_MB", 1024, 8)?,
            db_mb: env_number("MAHAVISHNU_BENCH_DB_MB", 1024, 16)?,
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
    let mixed = cfg.scenarios.contains(&Scenario::Mixed);
    let db = cfg.scenarios.contains(&Scenario::Database);
    let s3 = cfg.scenarios.contains(&Scenario::S3);
    let plan = Plan::new(cfg.size_mb);
    // Mixed: dataset, pristine database copy, four repositories; database: the pristine database,
    // its working copy and WAL, four repositories; s3: the dataset and its database copy, two
    // repositories per repetition on the server.
    let need = if mixed { cfg.size_mb * MIB * 11 / 2 } else { 0 }
        + if db { cfg.db_mb * MIB * 5 } else { 0 }
        + if s3 {
            cfg.size_mb * MIB * (2 + 2 * cfg.reps as u64)
        } else {
            0
        };
    let free = fsutil::free_bytes(&work)?;
    if free < need {
        return Err(format!(
            "{} has {} MiB free; this run needs about {} MiB (datasets and four repositories per scenario)",
            work.display(),
            free / MIB,
            need / MIB
        )
        .into());
    }

    let (mut tools, skipped) = tools::discover(&work, cfg.only.as_deref());
    for s in &skipped {
        eprintln!("compare: skipping {}: {}", s.name, s.reason);
    }
    // The s3 scenario compares mahavishnu-dr with restic only; run alone, it leaves the others out.
    let s3_not_run: Vec<(&'static str, String)> = tools
        .iter()
        .filter(|t| !on_s3(t))
        .map(|t| {
            (
                t.name(),
                "the s3 scenario compares mahavishnu-dr with restic only".to_string(),
            )
        })
        .collect();
    if s3 && !mixed && !db {
        tools.retain(on_s3);
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
    if mixed && !tools.iter().any(|t| t.kind == Kind::Restic) {
        eprintln!(
            "compare: restic is not in this run, so the mixed scenario has no ratios or targets"
        );
    }
    if s3 && !tools.iter().any(|t| t.kind == Kind::Restic) {
        eprintln!(
            "compare: restic is not in this run, so the s3 scenario has no ratios or targets"
        );
    }
    if db
        && !tools
            .iter()
            .any(|t| matches!(t.kind, Kind::Restic | Kind::Rustic))
    {
        eprintln!(
            "compare: neither restic nor rustic is in this run, so the database scenario has no ratios"
        );
    }
    let restore_base = cfg.restore_base.clone();
    fs::create_dir_all(&restore_base)?;
    if !fsutil::is_memory_fs(&restore_base)? {
        eprintln!(
            "compare: warning: the restore dir {} is not tmpfs; restores include disk writes",
            restore_base.display()
        );
    }
    let logs = work.join("logs");
    fs::create_dir_all(&logs)?;

    let mut records: Vec<Record> = Vec::new();
    let mut result: Res<()> = Ok(());
    let mut mixed_meta = None;
    let mut db_meta = None;
    let mut s3_meta = None;

    if mixed {
        let ds = Dataset::prepare(&work, plan)?;
        let clean = ds.stats()?;
        eprintln!(
            "compare: mixed dataset {} files, {:.1} MiB; {} repetition(s); logs in {}",
            clean.files,
            clean.bytes as f64 / MIB as f64,
            cfg.reps,
            logs.display()
        );
        for rep in 1..=cfg.reps {
            let ctx = RepCtx {
                rep,
                reps: cfg.reps,
                tools: &tools,
                logs: &logs,
                restore_base: &restore_base,
            };
            if let Err(e) = run_mixed_repetition(&ctx, &ds, clean, &mut records) {
                eprintln!("compare: the mixed scenario stopped early: {e}");
                result = Err(e);
                break;
            }
        }
        mixed_meta = Some(mixed_description(plan, cfg.size_mb, clean));
    }

    if db && result.is_ok() {
        // Each scenario has its own tool folders (repositories, keys, caches, settings).
        let db_tools: Vec<Tool> = tools
            .iter()
            .map(|t| t.with_home(work.join("tools-database").join(t.name())))
            .collect();
        let dbset = DbSet::prepare(&work, cfg.db_mb)?;
        let bytes = dbset.pristine_bytes()?;
        eprintln!(
            "compare: database {:.1} MiB; {} repetition(s); logs in {}",
            bytes as f64 / MIB as f64,
            cfg.reps,
            logs.display()
        );
        for rep in 1..=cfg.reps {
            let ctx = RepCtx {
                rep,
                reps: cfg.reps,
                tools: &db_tools,
                logs: &logs,
                restore_base: &restore_base,
            };
            if let Err(e) = run_db_repetition(&ctx, &dbset, &mut records) {
                eprintln!("compare: the database scenario stopped early: {e}");
                result = Err(e);
                break;
            }
        }
        db_meta = Some(report::DbMeta {
            size_mb: cfg.db_mb,
            desc: format!(
                "one SQLite database in WAL mode, 4 KiB pages, table `records` (integer primary key, \
                 text and blob columns) with one index; then {} scattered rows updated (left in the WAL) \
                 and {} MiB of rows appended",
                database::UPDATED_ROWS,
                database::APPEND_BYTES / MIB
            ),
            bytes,
        });
    }

    if s3 && result.is_ok() {
        let ds = Dataset::prepare(&work, plan)?;
        let clean = ds.stats()?;
        let fingerprint = dataset::db_fingerprint(&ds.db_path())?;
        // Killed when dropped: at the end of this block, or on an early return.
        let server = S3Server::start(&work.join("s3-server"))?;
        let s3_tools: Vec<&Tool> = tools.iter().filter(|t| on_s3(t)).collect();
        eprintln!(
            "compare: s3 scenario on {} ({}, data in {}); mixed dataset {} files, {:.1} MiB; \
             {} repetition(s); logs in {}",
            server.endpoint(),
            server.version,
            server.data.display(),
            clean.files,
            clean.bytes as f64 / MIB as f64,
            cfg.reps,
            logs.display()
        );
        for rep in 1..=cfg.reps {
            // A fresh prefix per tool and repetition: no repetition sees another's objects.
            let rep_tools: Vec<Tool> = s3_tools
                .iter()
                .map(|t| {
                    t.on_s3(
                        work.join("tools-s3").join(t.name()),
                        server.place(&format!("rep{rep}/{}", t.name())),
                    )
                })
                .collect();
            let ctx = RepCtx {
                rep,
                reps: cfg.reps,
                tools: &rep_tools,
                logs: &logs,
                restore_base: &restore_base,
            };
            if let Err(e) = run_s3_repetition(&ctx, &ds, clean, &fingerprint, &mut records) {
                eprintln!("compare: the s3 scenario stopped early: {e}");
                result = Err(e);
                break;
            }
        }
        s3_meta = Some(report::S3Meta {
            dataset: mixed_description(plan, cfg.size_mb, clean),
            server: format!(
                "SeaweedFS `weed mini` on {} ({}), data on disk in {}, one bucket, a prefix per tool \
                 and repetition",
                server.endpoint(),
                server.version,
                server.data.display()
            ),
            not_run: s3_not_run,
        });
        // The server's data goes with it (a later run starts from an empty server anyway).
        let data_dir = work.join("s3-server");
        drop(server);
        if let Err(e) = fsutil::remove_tree(&data_dir) {
            eprintln!("compare: cannot remove {}: {e}", data_dir.display());
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
        reps: cfg.reps,
        machine: machine_description(),
        started,
        work_dir: work.display().to_string(),
        restore_dir: restore_base.display().to_string(),
        mixed: mixed_meta,
        database: db_meta,
        s3: s3_meta,
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

/// The tools the s3 scenario runs.
fn on_s3(tool: &Tool) -> bool {
    matches!(tool.kind, Kind::Mdr | Kind::Restic)
}

/// What the reports say about the mixed dataset.
fn mixed_description(plan: Plan, size_mb: u64, clean: TreeStats) -> report::MixedMeta {
    report::MixedMeta {
        size_mb,
        desc: format!(
            "{} small text files ({:.0} MiB), {} × {:.1} MiB files (half random, half log-like), \
             a {:.0} MiB SQLite database",
            plan.small_count,
            plan.small_total as f64 / MIB as f64,
            plan.large_count(),
            plan.large_size as f64 / MIB as f64,
            plan.db_size as f64 / MIB as f64
        ),
        files: clean.files,
        bytes: clean.bytes,
    }
}

/// One repetition of one scenario: the tools (each in its scenario's folder), where the logs and
/// restores go.
struct RepCtx<'a> {
    rep: usize,
    reps: usize,
    tools: &'a [Tool],
    logs: &'a Path,
    restore_base: &'a Path,
}

fn log_outcome(ctx: &RepCtx, phase: Phase, tool: &Tool, outcome: &Result<Sample, Failure>) {
    let head = format!(
        "[{} rep {}/{}] {:<27} {:<14}",
        phase.scenario().key(),
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
            let added = s
                .repo_added
                .map(|b| format!(" (+{:.2} MiB)", b as f64 / MIB as f64))
                .unwrap_or_default();
            eprintln!(
                "{head} {:>8.2} s wall, {:>7.2} s CPU, {:>6.0} MiB RSS{repo}{added}",
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

/// The outcomes of one repetition; a tool whose backup failed sits out the rest of it.
struct Steps<'a, 'c> {
    ctx: &'a RepCtx<'c>,
    records: &'a mut Vec<Record>,
    alive: Vec<bool>,
}

impl<'a, 'c> Steps<'a, 'c> {
    fn new(ctx: &'a RepCtx<'c>, records: &'a mut Vec<Record>) -> Self {
        let alive = vec![true; ctx.tools.len()];
        Steps {
            ctx,
            records,
            alive,
        }
    }

    /// Runs `f` for every tool in turn (or records it as not run, for a tool out of this
    /// repetition) and records the outcome.
    fn each(&mut self, phase: Phase, mut f: impl FnMut(&Tool) -> Result<Sample, Failure>) {
        for (t, tool) in self.ctx.tools.iter().enumerate() {
            let outcome = if self.alive[t] {
                f(tool)
            } else {
                Err(Failure::skipped())
            };
            log_outcome(self.ctx, phase, tool, &outcome);
            if outcome.is_err() && phase.is_backup() {
                self.alive[t] = false;
            }
            self.records.push(Record {
                rep: self.ctx.rep,
                phase,
                tool: tool.name(),
                outcome,
            });
        }
    }
}

/// One repetition of the mixed scenario: every step, each step for every tool in turn, on fresh
/// repositories; the dataset is changed for the third step and reverted at the end.
fn run_mixed_repetition(
    ctx: &RepCtx,
    ds: &Dataset,
    clean: TreeStats,
    records: &mut Vec<Record>,
) -> Res<()> {
    let mut steps = Steps::new(ctx, records);
    steps.each(Phase::Initial, |tool| {
        init_tool(ctx, tool, &ds.root).and_then(|()| {
            backup_step(
                ctx,
                tool,
                &ds.root,
                MIXED_INITIAL,
                "backup-initial",
                clean.bytes,
            )
        })
    });
    steps.each(Phase::NoChange, |tool| {
        backup_step(
            ctx,
            tool,
            &ds.root,
            MIXED_NOCHANGE,
            "backup-nochange",
            clean.bytes,
        )
    });

    ds.mutate()?;
    let changed = ds.stats()?;
    let fingerprint = dataset::db_fingerprint(&ds.db_path())?;
    steps.each(Phase::Change, |tool| {
        backup_step(
            ctx,
            tool,
            &ds.root,
            MIXED_CHANGE,
            "backup-change",
            changed.bytes,
        )
    });
    steps.each(Phase::Restore, |tool| {
        restore_step(ctx, tool, changed.bytes, "restore", MIXED_CHANGE, |root| {
            check_mixed_restore(
                ds,
                &tool.restored_root(root, &ds.root),
                changed,
                &fingerprint,
            )
        })
    });
    steps.each(Phase::Validate, |tool| {
        validate_step(ctx, tool, "validate", changed.bytes)
    });
    ds.revert()?;
    let after = ds.stats()?;
    if after != clean {
        return Err(
            format!("the dataset did not revert cleanly ({after:?}, expected {clean:?})").into(),
        );
    }
    Ok(())
}

/// One repetition of the s3 scenario, each tool on a fresh prefix of the server: initial backup
/// of the (unchanged) mixed dataset, restore of it (checked), full validation.
fn run_s3_repetition(
    ctx: &RepCtx,
    ds: &Dataset,
    clean: TreeStats,
    fingerprint: &str,
    records: &mut Vec<Record>,
) -> Res<()> {
    let mut steps = Steps::new(ctx, records);
    steps.each(Phase::S3Backup, |tool| {
        init_tool(ctx, tool, &ds.root)
            .and_then(|()| backup_step(ctx, tool, &ds.root, S3_INITIAL, "s3-backup", clean.bytes))
    });
    steps.each(Phase::S3Restore, |tool| {
        restore_step(ctx, tool, clean.bytes, "s3-restore", S3_INITIAL, |root| {
            check_mixed_restore(ds, &tool.restored_root(root, &ds.root), clean, fingerprint)
        })
    });
    steps.each(Phase::S3Validate, |tool| {
        validate_step(ctx, tool, "s3-validate", clean.bytes)
    });
    Ok(())
}

/// One repetition of the database scenario, on a fresh copy of the pristine database and fresh
/// repositories: full backup; 100 rows updated, incremental; ~10 MiB appended, incremental;
/// restore of the newest backup (checked); full validation.
fn run_db_repetition(ctx: &RepCtx, db: &DbSet, records: &mut Vec<Record>) -> Res<()> {
    let mut steps = Steps::new(ctx, records);
    let logical = || fsutil::tree_stats(&db.root).map(|s| s.bytes);
    db.reset()?;
    let bytes = logical()?;
    steps.each(Phase::DbFull, |tool| {
        init_tool(ctx, tool, &db.root)
            .and_then(|()| backup_step(ctx, tool, &db.root, DB_FULL, "db-backup-full", bytes))
    });

    db.update_rows()?;
    let bytes = logical()?;
    log_db_files(db);
    steps.each(Phase::DbUpdate, |tool| {
        backup_step(ctx, tool, &db.root, DB_UPDATE, "db-backup-update", bytes)
    });

    let expected: Fingerprint = db.append_rows()?;
    let bytes = logical()?;
    log_db_files(db);
    steps.each(Phase::DbAppend, |tool| {
        backup_step(ctx, tool, &db.root, DB_APPEND, "db-backup-append", bytes)
    });
    steps.each(Phase::DbRestore, |tool| {
        restore_step(ctx, tool, bytes, "db-restore", DB_APPEND, |root| {
            let restored = tool.restored_root(root, &db.root).join(
                db.db_path()
                    .file_name()
                    .expect("the database has a file name"),
            );
            database::check_restored(&restored, &expected)
                .map_err(|e| Failure::new(format!("restore check: {e}")))
        })
    });
    steps.each(Phase::DbValidate, |tool| {
        validate_step(ctx, tool, "db-validate", bytes)
    });
    Ok(())
}

/// Shows what the backups are about to see: the database and its WAL (the changes not yet
/// checkpointed).
fn log_db_files(db: &DbSet) {
    let size = |suffix: &str| {
        let mut p = db.db_path().into_os_string();
        p.push(suffix);
        fs::metadata(&p).map_or_else(
            |_| "absent".to_string(),
            |m| format!("{:.2} MiB", m.len() as f64 / MIB as f64),
        )
    };
    eprintln!(
        "compare: database now {}, its -wal {}",
        size(""),
        size("-wal")
    );
}

fn label(ctx: &RepCtx, tool: &Tool, what: &str) -> String {
    format!("rep{}-{}-{what}", ctx.rep, tool.name())
}

fn io_failure(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::new(format!("{what}: {e}"))
}

/// Fresh folder and repository for this repetition (untimed).
fn init_tool(ctx: &RepCtx, tool: &Tool, source: &Path) -> Result<(), Failure> {
    tool.reset(source)
        .map_err(|e| io_failure("cannot prepare the tool's folder", e))?;
    measure::run(&mut tool.init(), ctx.logs, &label(ctx, tool, "init")).map(|_| ())
}

/// The repository's size: `du` of its folder, or on S3 the sum of its objects' sizes.
fn repo_du(tool: &Tool) -> Result<u64, Failure> {
    match &tool.s3 {
        Some(place) => place
            .stored_bytes()
            .map_err(|e| io_failure("listing the repository on S3", e)),
        None => fsutil::du(&tool.repo()).map_err(|e| io_failure("du of the repository", e)),
    }
}

/// A timed backup of `source` (pre-read first, so every tool starts from the same warm cache),
/// with the repository's size after it and what it added.
fn backup_step(
    ctx: &RepCtx,
    tool: &Tool,
    source: &Path,
    step: BackupStep,
    what: &str,
    logical_bytes: u64,
) -> Result<Sample, Failure> {
    let before = repo_du(tool)?;
    fsutil::pre_read(source).map_err(|e| io_failure("pre-reading the data", e))?;
    measure::sync_all();
    let (usage, _) = measure::run(
        &mut tool.backup(source, step),
        ctx.logs,
        &label(ctx, tool, what),
    )?;
    let sync_after = measure::sync_all();
    let repo = repo_du(tool)?;
    Ok(Sample {
        usage,
        sync_after: Some(sync_after),
        repo_bytes: Some(repo),
        repo_added: Some(repo as i64 - before as i64),
        logical_bytes,
    })
}

/// A timed restore of the newest backup (`newest`) into a fresh folder under the restore dir,
/// then the untimed `check` of what landed there; the folder is removed afterwards.
fn restore_step(
    ctx: &RepCtx,
    tool: &Tool,
    logical_bytes: u64,
    what: &str,
    newest: BackupStep,
    check: impl FnOnce(&Path) -> Result<(), Failure>,
) -> Result<Sample, Failure> {
    let need = logical_bytes + logical_bytes / 10 + 64 * MIB;
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
    if fsutil::is_memory_fs(ctx.restore_base).unwrap_or(false) {
        fsutil::warm_memory_fs(ctx.restore_base, need)
            .map_err(|e| io_failure("warming the restore filesystem", e))?;
    }
    fsutil::pre_read(&tool.repo_data()).map_err(|e| io_failure("pre-reading the repository", e))?;
    measure::sync_all();
    let target = ctx.restore_base.join(format!(
        "mdr-compare-{}-{}-{what}-rep{}",
        std::process::id(),
        tool.name(),
        ctx.rep
    ));
    fsutil::remove_tree(&target).map_err(|e| io_failure("clearing the restore target", e))?;
    let result = tool
        .restore(&target, newest)
        .map_err(|e| io_failure("creating the restore target", e))
        .and_then(|mut cmd| measure::run(&mut cmd, ctx.logs, &label(ctx, tool, what)))
        .and_then(|(usage, _)| {
            check(&target)?;
            Ok(Sample {
                usage,
                sync_after: None,
                repo_bytes: None,
                repo_added: None,
                logical_bytes,
            })
        });
    if let Err(e) = fsutil::remove_tree(&target) {
        eprintln!("compare: cannot remove {}: {e}", target.display());
    }
    result
}

/// Untimed: the restore holds exactly the dataset's file count and bytes, sampled files are
/// byte-identical (all changed ones among them), and the database holds the same rows.
fn check_mixed_restore(
    ds: &Dataset,
    root: &Path,
    expected: TreeStats,
    fingerprint: &str,
) -> Result<(), Failure> {
    let got = fsutil::tree_stats(root)
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
    for rel in ds.sample_files() {
        if !fsutil::same_contents(&ds.root.join(&rel), &root.join(&rel)).unwrap_or(false) {
            return Err(Failure::new(format!(
                "restore check: {} differs from the source",
                rel.display()
            )));
        }
    }
    let rel_db = ds
        .db_path()
        .strip_prefix(&ds.root)
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

/// Full validation: read and authenticate every stored byte (pre-read the repository first).
fn validate_step(
    ctx: &RepCtx,
    tool: &Tool,
    what: &str,
    logical_bytes: u64,
) -> Result<Sample, Failure> {
    fsutil::pre_read(&tool.repo_data()).map_err(|e| io_failure("pre-reading the repository", e))?;
    measure::sync_all();
    let (usage, _) = measure::run(&mut tool.validate(), ctx.logs, &label(ctx, tool, what))?;
    let repo = repo_du(tool)?;
    Ok(Sample {
        usage,
        sync_after: None,
        repo_bytes: Some(repo),
        repo_added: None,
        logical_bytes,
    })
}
