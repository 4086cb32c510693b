//! Continuous protection under load: `cargo bench --bench continuous`.
//!
//! The database scenario's generated SQLite database (default 1 GiB, WAL mode) is backed up
//! once (the base), then the daemon runs with `backup.continuous` at its defaults while a
//! writer commits 10 rows a second, one transaction each, for 10 minutes. Measured:
//!
//! - the **gap** of every committed row: from its commit to the first point that holds it
//!   becoming visible (that point's snapshot started after the commit; the gap ends when the
//!   point finished). Worst and median. Target: worst at most 30 s.
//! - the **repository growth** over the run (what the points stored). Target: at most 64 MiB.
//! - the daemon's **CPU** (user + system, from /proc) over the run, as a share of one core.
//!   Target: at most 10 % on average.
//! - **point-in-time restore**: `restore --at` an instant in the middle of the run, against a
//!   plain restore of the base backup (same data size), both to tmpfs, repository pre-read
//!   before each, alternated, medians. Target: at most 1.5x. The restored database passes
//!   `integrity_check` and holds exactly the rows committed before that point's snapshot.
//!
//! Nothing else should run on the machine meanwhile (CPU and gaps are wall-clock measures).
//!
//! Environment: `MAHAVISHNU_BENCH_DB_MB` (1024), `MAHAVISHNU_BENCH_CONT_SECONDS` (600),
//! `MAHAVISHNU_BENCH_CONT_RATE` (10 rows/s), `MAHAVISHNU_BENCH_REPS` (3 restores of each kind),
//! `MAHAVISHNU_BENCH_DIR` (work folder, kept; the database is generated once),
//! `MAHAVISHNU_BENCH_RESTORE_DIR` (/dev/shm), `MAHAVISHNU_BENCH_JSON` (default
//! `<target>/continuous-results.json`), `MAHAVISHNU_DR_BIN` (default: the binary cargo built).

#[path = "compare/database.rs"]
#[allow(dead_code)]
mod database;
#[path = "compare/dataset.rs"]
#[allow(dead_code)]
mod dataset;
#[path = "compare/fsutil.rs"]
#[allow(dead_code)]
mod fsutil;
#[path = "compare/rng.rs"]
#[allow(dead_code)]
mod rng;

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rusqlite::Connection;
use rusqlite::config::DbConfig;
use serde_json::{Value, json};

pub type Res<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn env_u64(name: &str, default: u64) -> u64 {
    env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn bin() -> PathBuf {
    if let Ok(b) = env::var("MAHAVISHNU_DR_BIN") {
        return PathBuf::from(b);
    }
    let exe = env::current_exe().expect("current exe");
    // target/<profile>/deps/continuous-<hash> → target/<profile>/mahavishnu-dr
    let profile = exe.parent().and_then(Path::parent).expect("target dir");
    for p in [
        profile.join("mahavishnu-dr"),
        profile.join("../release/mahavishnu-dr"),
    ] {
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "no mahavishnu-dr binary beside {}; set MAHAVISHNU_DR_BIN",
        exe.display()
    );
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("time")
        .as_secs_f64()
}

struct Project {
    root: PathBuf,
}

impl Project {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(bin());
        c.arg("--config")
            .arg(self.root.join("settings/mahavishnu.yaml"))
            .args(args)
            .current_dir(&self.root);
        for (k, _) in env::vars() {
            if k.starts_with("MAHAVISHNU_") {
                c.env_remove(k);
            }
        }
        c
    }

    fn json(&self, args: &[&str]) -> Res<Value> {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.cmd(&a).stderr(Stdio::inherit()).output()?;
        if !out.status.success() {
            return Err(format!(
                "mahavishnu-dr {args:?} failed: {}",
                String::from_utf8_lossy(&out.stdout)
            )
            .into());
        }
        Ok(serde_json::from_slice(&out.stdout)?)
    }
}

/// The daemon's CPU time so far (user + system), from /proc.
fn cpu_of(pid: u32) -> Res<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').ok_or("odd /proc stat")?.1;
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of the line: 12 and 13 after the state (field 3).
    let ticks: u64 = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(Duration::from_secs_f64(ticks as f64 / hz))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn stop(mut child: Child) -> Res<()> {
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    child.wait()?;
    Ok(())
}

fn main() -> Res<()> {
    // `cargo bench` passes --bench; `cargo test --benches` runs this binary without it, and a
    // ten-minute benchmark has no place in a test run.
    if !env::args().any(|a| a == "--bench") {
        println!("continuous: skipped (run it with `cargo bench --bench continuous`)");
        return Ok(());
    }
    let db_mb = env_u64("MAHAVISHNU_BENCH_DB_MB", 1024);
    let seconds = env_u64("MAHAVISHNU_BENCH_CONT_SECONDS", 600);
    let rate = env_u64("MAHAVISHNU_BENCH_CONT_RATE", 10).max(1);
    let reps = env_u64("MAHAVISHNU_BENCH_REPS", 3).max(1);
    let restore_dir =
        PathBuf::from(env::var("MAHAVISHNU_BENCH_RESTORE_DIR").unwrap_or("/dev/shm".into()));
    let target_dir = bin()
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("target"));
    let (work, keep_work) = match env::var("MAHAVISHNU_BENCH_DIR") {
        Ok(d) => (PathBuf::from(d), true),
        Err(_) => (target_dir.join("continuous-bench"), false),
    };
    fs::create_dir_all(&work)?;
    let db = database::DbSet::prepare(&work, db_mb)?;
    db.reset()?;
    let live = db.db_path();

    // The project: the database's folder as the one source, continuous protection on with its
    // defaults, no scheduled job.
    let proj = Project {
        root: work.join("continuous-project"),
    };
    fsutil::remove_tree(&proj.root)?;
    fs::create_dir_all(proj.root.join("settings"))?;
    fs::write(
        proj.root.join("settings/mahavishnu.yaml"),
        format!(
            "backup:\n  directory: \"./repo\"\n  sources: [\"{}\"]\n  encryption: {{ key_path: \"./key\" }}\n  continuous: {{ enabled: true }}\ndisaster_recovery:\n  restore_test: {{ scratch_dir: \"./scratch\" }}\n  drills: {{ enabled: false }}\n  automated_tests: {{ enabled: false }}\ndaemon:\n  validation: {{ enabled: false }}\n",
            db.root.display()
        ),
    )?;
    // The writer's table, before the base backup.
    let mut conn = Connection::open(&live)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
    conn.execute_batch(
        "PRAGMA synchronous=NORMAL; CREATE TABLE ticks (id INTEGER PRIMARY KEY, at REAL NOT NULL, pad BLOB NOT NULL);",
    )?;
    proj.json(&["init", "--generate-key"])?;
    fsutil::pre_read(&db.root)?;
    let t = Instant::now();
    let base = proj.json(&["backup", "run", "--type", "full"])?;
    let base_secs = t.elapsed().as_secs_f64();
    let base_id = base["backup_id"].as_str().ok_or("no base id")?.to_string();
    let repo = proj.root.join("repo");
    let size0 = fsutil::du(&repo)?;
    eprintln!("continuous: base backup {base_id} in {base_secs:.1} s, repository {size0} bytes");

    let daemon = proj
        .cmd(&["daemon", "--no-http"])
        .stdout(Stdio::null())
        .stderr(fs::File::create(work.join("continuous-daemon.log"))?)
        .spawn()?;
    let pid = daemon.id();
    std::thread::sleep(Duration::from_secs(3));
    let cpu0 = cpu_of(pid)?;
    let wall0 = Instant::now();

    // The writer: `rate` commits a second, one row each, for `seconds`.
    eprintln!("continuous: writing {rate} rows/s for {seconds} s ...");
    let mut commits: Vec<f64> = Vec::new();
    let start = Instant::now();
    let mut n: u64 = 0;
    while start.elapsed() < Duration::from_secs(seconds) {
        let due = Duration::from_secs_f64(n as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO ticks (at, pad) VALUES (?1, randomblob(200))",
            [unix_now()],
        )?;
        tx.commit()?;
        commits.push(unix_now());
        n += 1;
    }
    let mid = unix_now() - seconds as f64 / 2.0;
    // Let the last point come (max_delay 15 s after the last change, and its own time).
    std::thread::sleep(Duration::from_secs(25));
    let cpu = cpu_of(pid)?.saturating_sub(cpu0);
    let wall = wall0.elapsed();
    stop(daemon)?;
    drop(conn);

    let listed = proj.json(&["backup", "list", "--points"])?;
    let points: Vec<(f64, f64, String)> = listed["points"]
        .as_array()
        .ok_or("no points listed")?
        .iter()
        .filter_map(|p| {
            let t = |k: &str| {
                p[k].as_str()
                    .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
                    .map(|d| d.timestamp_micros() as f64 / 1e6)
            };
            Some((
                t("started")?,
                t("finished")?,
                p["point_id"].as_str()?.to_string(),
            ))
        })
        .collect();
    let mut gaps = Vec::new();
    let mut unheld = 0u64;
    for c in &commits {
        match points.iter().find(|(s, _, _)| s > c) {
            Some((_, f, _)) => gaps.push(f - c),
            None => unheld += 1,
        }
    }
    let worst = gaps.iter().cloned().fold(0.0, f64::max);
    let growth = fsutil::du(&repo)?.saturating_sub(size0);
    let cpu_share = cpu.as_secs_f64() / wall.as_secs_f64();

    // Point-in-time restore in the middle against a plain restore of the base.
    let at = chrono::DateTime::from_timestamp_micros((mid * 1e6) as i64)
        .ok_or("bad instant")?
        .to_rfc3339();
    // The point the restore picks; the rows committed before its snapshot started are in it
    // for sure, those committed before it finished may be.
    let (held_min, held_max) =
        points
            .iter()
            .rev()
            .find(|(s, _, _)| *s <= mid)
            .map_or((0, 0), |(s, f, _)| {
                (
                    commits.iter().filter(|c| *c < s).count() as i64,
                    commits.iter().filter(|c| *c < f).count() as i64,
                )
            });
    let mut pit = Vec::new();
    let mut plain = Vec::new();
    let mut pit_id = String::new();
    let mut pit_rows = 0i64;
    for rep in 0..reps {
        for kind in ["pit", "plain"] {
            let out = restore_dir.join(format!("mdr-continuous-{kind}-{rep}"));
            fsutil::remove_tree(&out)?;
            fsutil::pre_read(&repo)?;
            let t = Instant::now();
            let r = if kind == "pit" {
                proj.json(&[
                    "restore",
                    "--at",
                    &at,
                    "--target",
                    out.to_str().ok_or("path")?,
                ])?
            } else {
                proj.json(&[
                    "restore",
                    "--backup-id",
                    &base_id,
                    "--target",
                    out.to_str().ok_or("path")?,
                ])?
            };
            let secs = t.elapsed().as_secs_f64();
            if kind == "pit" {
                pit.push(secs);
                pit_id = r["backup_id"].as_str().unwrap_or_default().to_string();
                let mut found = None;
                fsutil::walk_files(&out, &mut |p, _| {
                    if p.extension().is_some_and(|e| e == "sqlite") {
                        found = Some(p.to_path_buf());
                    }
                })?;
                let dbfile = found.ok_or("no database restored")?;
                let c = Connection::open(&dbfile)?;
                let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
                let (rows, max_id): (i64, i64) = c.query_row(
                    "SELECT count(*), coalesce(max(id), 0) FROM ticks",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                if ok != "ok" || rows != max_id || rows < held_min || rows > held_max {
                    return Err(format!(
                        "the restore at {at} holds {rows} ticks up to id {max_id} (integrity {ok}); \
                         between {held_min} and {held_max} were committed around its point"
                    )
                    .into());
                }
                pit_rows = rows;
            } else {
                plain.push(secs);
            }
            fsutil::remove_tree(&out)?;
        }
    }
    let (pit_m, plain_m) = (median(pit.clone()), median(plain.clone()));
    let report = json!({
        "database_mb": db_mb,
        "seconds": seconds,
        "rows_per_second": rate,
        "rows_committed": commits.len(),
        "points": points.len(),
        "rows_not_in_a_point": unheld,
        "gap_worst_seconds": worst,
        "gap_median_seconds": median(gaps.clone()),
        "growth_bytes": growth,
        "daemon_cpu_seconds": cpu.as_secs_f64(),
        "daemon_cpu_share": cpu_share,
        "base_backup_seconds": base_secs,
        "pit_restore_seconds": pit,
        "plain_restore_seconds": plain,
        "pit_restore_median": pit_m,
        "plain_restore_median": plain_m,
        "pit_point": pit_id,
        "pit_rows": pit_rows,
    });
    let json_path = env::var("MAHAVISHNU_BENCH_JSON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| target_dir.join("continuous-results.json"));
    fs::write(&json_path, serde_json::to_string_pretty(&report)?)?;
    let mark = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("## Continuous protection: {db_mb} MiB SQLite, {rate} rows/s for {seconds} s\n");
    println!("| measure | value | target | |");
    println!("| --- | --- | --- | --- |");
    println!(
        "| worst gap, commit to first point holding it | {worst:.1} s (median {:.1} s; {} points; {unheld} rows not in a point) | ≤ 30 s | {} |",
        median(gaps),
        points.len(),
        mark(worst <= 30.0 && unheld == 0)
    );
    println!(
        "| repository growth | {:.1} MiB | ≤ 64 MiB | {} |",
        growth as f64 / (1 << 20) as f64,
        mark(growth <= 64 << 20)
    );
    println!(
        "| daemon CPU | {:.1} s over {:.0} s = {:.1} % of one core | ≤ 10 % | {} |",
        cpu.as_secs_f64(),
        wall.as_secs_f64(),
        cpu_share * 100.0,
        mark(cpu_share <= 0.10)
    );
    println!(
        "| point-in-time restore (median of {reps}) | {pit_m:.2} s vs plain {plain_m:.2} s = {:.2}x | ≤ 1.5x | {} |",
        pit_m / plain_m,
        mark(pit_m <= 1.5 * plain_m)
    );
    println!(
        "\n(base full backup {base_secs:.1} s; JSON in {})",
        json_path.display()
    );
    if !keep_work {
        fsutil::remove_tree(&proj.root)?;
    }
    Ok(())
}
