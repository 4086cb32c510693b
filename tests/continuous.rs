//! Continuous points through the real binary: a point records what changed since the previous
//! one, `restore --at` returns exactly the state of an instant across points and backups,
//! points do not lengthen chains, nothing-changed makes no point, and a point whose record was
//! moved or whose base is gone is refused, never restored as something else.

use crate::common;
use crate::dr_util;
use crate::tree_support;

use std::path::Path;

use common::Project;
use rusqlite::{Connection, OpenFlags};
use serde_json::Value;
use tree_support::*;

/// The rows of table t of a database, in order.
fn rows(db: &Path) -> Vec<(i64, String)> {
    let c = Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut st = c.prepare("SELECT id, v FROM t ORDER BY id").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
}

/// A WAL-mode database at data/app.db, left open (so its WAL stays) with `n` rows.
fn open_db(p: &Project, n: i64) -> Connection {
    let c = Connection::open(p.data().join("app.db")).unwrap();
    c.pragma_update(None, "journal_mode", "WAL").unwrap();
    c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        .unwrap();
    add_rows(&c, n, "v0");
    c
}

fn add_rows(c: &Connection, n: i64, tag: &str) {
    let tx = c.unchecked_transaction().unwrap();
    for _ in 0..n {
        tx.execute(
            "INSERT INTO t (v) VALUES (?1 || hex(randomblob(100)))",
            [tag],
        )
        .unwrap();
    }
    tx.commit().unwrap();
}

/// The data folder's files other than the database and its WAL files.
fn plain_files(root: &Path) -> Vec<(String, Vec<u8>)> {
    dr_util::files_under(root)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("app.db"))
        .collect()
}

/// What an instant should restore to: the plain files and the database's rows.
struct State {
    at: String,
    files: Vec<(String, Vec<u8>)>,
    rows: Vec<(i64, String)>,
    made: String,
}

fn state(p: &Project, made: &Value) -> State {
    State {
        at: made["finished"].as_str().unwrap().to_string(),
        files: plain_files(&p.data()),
        rows: rows(&p.data().join("app.db")),
        made: made["backup_id"].as_str().unwrap().to_string(),
    }
}

fn point(p: &Project) -> Value {
    let v = p.json(&["backup", "point"], 0);
    assert_eq!(v["status"], "completed", "{v}");
    assert!(
        v["backup_id"].as_str().unwrap().starts_with("point_"),
        "{v}"
    );
    v
}

/// Points between backups, then `restore --at` each instant: every restore is exactly the
/// state when that point or backup was made (plain files and database rows), a point stores
/// only what changed, and backups listed are only the scheduled ones.
#[test]
fn restore_at_returns_the_state_of_each_instant_across_points_and_backups() {
    let p = Project::new("");
    p.write("notes/a.txt", "a1");
    p.write("keep.txt", vec![7u8; 100_000]);
    let db = open_db(&p, 300);
    let mut states = Vec::new();
    let full = p.backup("full");
    states.push(state(&p, &full));

    // Point 1: a file changed, one added, rows added.
    p.write("notes/a.txt", "a2");
    p.write("notes/b.txt", "b1");
    add_rows(&db, 20, "p1");
    let p1 = point(&p);
    assert_eq!(total(&p1, "files_stored"), 3, "{p1}");
    assert_eq!(p1["parent"], full["backup_id"], "{p1}");
    assert_eq!(
        p1["chain_length"], 1,
        "points do not lengthen the chain: {p1}"
    );
    states.push(state(&p, &p1));

    // Nothing changed: no point.
    let same = p.json(&["backup", "point"], 0);
    assert_eq!(same["status"], "skipped", "{same}");
    assert!(
        same["message"]
            .as_str()
            .unwrap()
            .contains("nothing changed")
    );

    // Point 2: a file deleted, rows updated in place.
    std::fs::remove_file(p.data().join("notes/a.txt")).unwrap();
    db.execute("UPDATE t SET v = 'p2' WHERE id % 50 = 0", [])
        .unwrap();
    let p2 = point(&p);
    assert_eq!(p2["parent"], p1["backup_id"], "{p2}");
    assert_eq!(total(&p2, "files_stored"), 1, "only the database: {p2}");
    assert_eq!(total(&p2, "files_deleted"), 1, "{p2}");
    assert!(
        total(&p2, "blocks_stored") <= 8,
        "a few changed rows store a few blocks: {p2}"
    );
    states.push(state(&p, &p2));

    // A scheduled incremental, then a point on it.
    p.write("notes/c.txt", "c1");
    let inc = p.backup("incremental");
    assert_eq!(inc["parent"], full["backup_id"], "{inc}");
    states.push(state(&p, &inc));
    add_rows(&db, 5, "p3");
    p.write("notes/b.txt", "b2");
    let p3 = point(&p);
    assert_eq!(p3["parent"], inc["backup_id"], "{p3}");
    states.push(state(&p, &p3));

    let list = p.json(&["backup", "list"], 0);
    let listed = list.to_string();
    assert!(
        !listed.contains("\"point_"),
        "points are not backups: {list}"
    );

    for s in &states {
        let target = p.root().join(format!("at-{}", common::rand_suffix()));
        let r = p.json(
            &[
                "restore",
                "--at",
                &s.at,
                "--target",
                target.to_str().unwrap(),
            ],
            0,
        );
        assert_eq!(r["backup_id"], s.made.as_str(), "{r}");
        let data = target.join("data");
        assert!(!data.join("app.db-wal").exists(), "a WAL is never stored");
        assert_eq!(plain_files(&data), s.files, "files at {}", s.at);
        assert_eq!(rows(&data.join("app.db")), s.rows, "rows at {}", s.at);
    }

    // Before the first backup there is nothing; a time that is not one is refused.
    let early = p.run(&[
        "restore",
        "--at",
        "2001-01-01T00:00:00Z",
        "--target",
        p.root().join("early").to_str().unwrap(),
    ]);
    assert_eq!(dr_util::code(&early), 1, "{}", dr_util::shown(&early));
    assert!(dr_util::stderr(&early).contains("no backup or continuous point"));
    let bad = p.run(&["restore", "--at", "noon", "--target", "x"]);
    assert_eq!(dr_util::code(&bad), 2, "{}", dr_util::shown(&bad));
    drop(db);
}

/// A point's record moved to another point's name, or a point whose base backup is gone, is
/// refused by `restore --at`, never restored as another state.
#[test]
fn a_moved_point_or_one_without_its_base_is_refused() {
    let p = Project::new("");
    p.write("f.txt", "one");
    let full = p.backup("full");
    p.write("f.txt", "two");
    let p1 = point(&p);
    p.write("f.txt", "three");
    let p2 = point(&p);
    let points = p.repo().join("points");
    // The store's writer puts point 1's manifest in place of point 2's.
    let m1 = points
        .join(p1["backup_id"].as_str().unwrap())
        .join("manifest");
    let m2 = points
        .join(p2["backup_id"].as_str().unwrap())
        .join("manifest");
    std::fs::copy(&m1, &m2).unwrap();
    let target = p.root().join("moved");
    let at = p2["finished"].as_str().unwrap();
    let r = p.run(&["restore", "--at", at, "--target", target.to_str().unwrap()]);
    assert_ne!(dr_util::code(&r), 0, "{}", dr_util::shown(&r));
    assert!(!target.join("data").exists(), "nothing restored");
    // The base backup removed by hand: point 1 is refused, not restored over nothing.
    std::fs::remove_dir_all(
        p.repo()
            .join("backups")
            .join(full["backup_id"].as_str().unwrap()),
    )
    .unwrap();
    let r = p.run(&[
        "restore",
        "--backup-id",
        p1["backup_id"].as_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
    ]);
    assert_ne!(dr_util::code(&r), 0, "{}", dr_util::shown(&r));
    assert!(!target.join("data").exists(), "nothing restored");
}

/// A daemon with continuous protection only (no scheduled job), debounce 1 s, max delay 3 s.
fn continuous_daemon(p: &Project) -> std::process::Child {
    let yaml = "backup:\n  directory: \"./repo\"\n  sources: [\"./data\"]\n  encryption: { key_path: \"./key\" }\n  continuous: { enabled: true, debounce_seconds: 1, max_delay_seconds: 3 }\ndisaster_recovery:\n  restore_test: { scratch_dir: \"./scratch\" }\n  drills: { enabled: false }\n  automated_tests: { enabled: false }\ndaemon:\n  validation: { enabled: false }\n";
    std::fs::write(p.config(), yaml).unwrap();
    p.cmd(&["daemon", "--no-http"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the daemon")
}

fn stop(child: std::process::Child) -> std::process::Output {
    // SAFETY: sending a signal to our own child process.
    assert_eq!(
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) },
        0
    );
    child.wait_with_output().unwrap()
}

/// The points `backup list --points` shows, oldest first.
fn listed_points(p: &Project) -> Vec<Value> {
    let l = p.json(&["backup", "list", "--points"], 0);
    l["points"].as_array().cloned().unwrap_or_default()
}

fn instant(v: &Value) -> chrono::DateTime<chrono::Utc> {
    v.as_str().unwrap().parse().unwrap()
}

/// Under the daemon: the first start makes the base backup by itself; a file written is in a
/// point (restorable with `restore --at`) within the debounce plus one point's time; a burst
/// of 10,000 changes makes a few points, not thousands, and the newest holds every file; the
/// covered window is listed.
#[test]
fn the_daemon_makes_points_soon_after_changes_and_few_for_a_burst() {
    let p = Project::new("");
    p.write("a.txt", "alpha");
    p.init();
    let child = continuous_daemon(&p);
    let base = dr_util::wait_for(
        std::time::Duration::from_secs(60),
        "the base backup",
        || {
            let l = p.json(&["backup", "list"], 0);
            l["backups"].as_array().and_then(|b| b.first().cloned())
        },
    );
    assert_eq!(base["backup_type"], "full", "{base}");

    // One file written: a point holding it within debounce (1 s) + a point's time.
    let t0 = chrono::Utc::now();
    let clock = std::time::Instant::now();
    p.write("b.txt", "bravo");
    let first = dr_util::wait_for(
        std::time::Duration::from_secs(30),
        "a point after the write",
        || {
            listed_points(&p)
                .into_iter()
                .find(|pt| instant(&pt["started"]) > t0)
        },
    );
    let waited = clock.elapsed();
    assert!(
        waited < std::time::Duration::from_secs(10),
        "the point came {waited:?} after the write"
    );
    let target = p.root().join("at-first");
    let at = first["finished"].as_str().unwrap();
    p.json(
        &["restore", "--at", at, "--target", target.to_str().unwrap()],
        0,
    );
    assert_eq!(std::fs::read(target.join("data/b.txt")).unwrap(), b"bravo");

    // A burst of 10,000 small files.
    let before = listed_points(&p).len();
    let burst = std::time::Instant::now();
    for i in 0..10_000 {
        p.write(&format!("burst/f{i:05}.txt"), i.to_string());
    }
    let burst_secs = burst.elapsed().as_secs();
    // Quiet, then the last point.
    let done = chrono::Utc::now();
    let newest = dr_util::wait_for(
        std::time::Duration::from_secs(60),
        "a point after the burst",
        || {
            listed_points(&p)
                .into_iter()
                .rev()
                .find(|pt| instant(&pt["started"]) > done)
        },
    );
    let made = listed_points(&p).len() - before;
    // One point per max_delay (3 s) while the burst lasts, and one after it, at most.
    let bound = burst_secs / 3 + 4;
    assert!(
        made as u64 <= bound,
        "{made} points for one burst of {burst_secs} s (bound {bound})"
    );
    let out = stop(child);
    assert_eq!(dr_util::code(&out), 0, "{}", dr_util::shown(&out));
    let target = p.root().join("at-burst");
    let at = newest["finished"].as_str().unwrap();
    p.json(
        &["restore", "--at", at, "--target", target.to_str().unwrap()],
        0,
    );
    let got = dr_util::files_under(&target.join("data/burst"));
    assert_eq!(got.len(), 10_000);
    assert_eq!(got["f09999.txt"], b"9999");

    let l = p.json(&["backup", "list"], 0);
    let w = &l["covered"][0];
    assert_eq!(w["base"], base["backup_id"], "{l}");
    assert_eq!(
        w["points"].as_u64().unwrap() as usize,
        listed_points(&p).len()
    );
    let state: Value =
        serde_json::from_slice(&std::fs::read(p.root().join("state/daemon/state.json")).unwrap())
            .unwrap();
    assert_eq!(
        state["jobs"]["continuous"]["last_result"], "succeeded",
        "{state}"
    );
    let shown = p.json(&["schedule", "show"], 0);
    let last = &shown["daemon"]["last_point"];
    assert_eq!(last["result"], "succeeded", "{shown}");
    assert!(last["successes_total"].as_u64().unwrap() >= 2, "{shown}");
}

/// A point killed while it writes leaves nothing half visible: no point is listed, `restore
/// --at` still gives the previous state, and cleanup removes the leftovers as an orphan.
#[test]
fn a_point_killed_mid_write_leaves_nothing_half_visible() {
    let p = Project::new("  block_incremental: { min_file_mb: 1 }\n");
    p.write("big.bin", dr_util::noise(1, 64 << 20));
    let full = p.backup("full");
    p.write("big.bin", dr_util::noise(2, 64 << 20));
    let mut child = p
        .cmd(&["backup", "point"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once the point's folder has objects (it is writing them).
    let points = p.repo().join("points");
    dr_util::wait_for(
        std::time::Duration::from_secs(60),
        "the point to start writing",
        || {
            std::fs::read_dir(&points)
                .ok()?
                .flatten()
                .any(|d| std::fs::read_dir(d.path()).is_ok_and(|mut r| r.next().is_some()))
                .then_some(())
        },
    );
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(listed_points(&p).is_empty(), "a killed point is not listed");
    let target = p.root().join("after-kill");
    let r = p.json(
        &[
            "restore",
            "--at",
            &chrono::Utc::now().to_rfc3339(),
            "--target",
            target.to_str().unwrap(),
        ],
        0,
    );
    assert_eq!(r["backup_id"], full["backup_id"], "{r}");
    assert_eq!(
        std::fs::read(target.join("data/big.bin")).unwrap(),
        dr_util::noise(1, 64 << 20)
    );
    let c = p.json(&["backup", "cleanup"], 0);
    let orphans = c["orphans"].as_array().unwrap();
    assert!(
        orphans
            .iter()
            .any(|o| o["backup_id"].as_str().unwrap().starts_with("point_")),
        "{c}"
    );
    assert_eq!(std::fs::read_dir(&points).unwrap().count(), 0, "{c}");
}

/// Validation covers points at every level: a clean repository passes with its points
/// counted; a damaged point volume fails full validation naming that point.
#[test]
fn validation_covers_points_and_names_a_damaged_one() {
    let p = Project::new("");
    p.write("f.txt", vec![1u8; 50_000]);
    p.backup("full");
    p.write("f.txt", dr_util::noise(3, 50_000));
    let pt = point(&p);
    let id = pt["backup_id"].as_str().unwrap();
    for level in ["quick", "checksum", "full"] {
        let v = p.json(&["backup", "validate", "--level", level], 0);
        assert_eq!(v["backups_checked"], 2, "{level}: {v}");
    }
    let vol = p.repo().join("points").join(id).join("vol-00000");
    dr_util::flip_byte(&vol, 200);
    let v = p.json(&["backup", "validate", "--level", "full"], 1);
    let problems = v["problems"].as_array().unwrap();
    assert!(
        problems.iter().any(|x| x["backup_id"] == id),
        "the damaged point is named: {v}"
    );
}

/// With continuous protection on, the newest state is a point: the restore test restores and
/// checks that point, measure-rpo measures from it, schedule show says what is covered, and
/// cleanup keeps the points (within keep_hours) saying why.
#[test]
fn restore_tests_rpo_schedules_and_cleanup_see_the_points() {
    let p = Project::new("  continuous: { enabled: true }\n");
    p.write("f.txt", "one");
    let db = open_db(&p, 50);
    p.backup("full");
    add_rows(&db, 10, "later");
    p.write("f.txt", "two");
    let pt = point(&p);
    let id = pt["backup_id"].as_str().unwrap();

    let t = p.json(&["restore-test", "run"], 0);
    assert_eq!(t["backup_id"], id, "the newest state is tested: {t}");
    assert_eq!(t["passed"], true, "{t}");

    let r = p.json(&["restore-test", "measure-rpo"], 0);
    assert_eq!(
        r["current"]["newest_backup"], pt["finished"],
        "the point is the newest recovery point: {r}"
    );
    assert!(
        r["schedule"]["detail"]
            .as_str()
            .unwrap()
            .contains("continuous protection"),
        "{r}"
    );

    let s = p.json(&["schedule", "show"], 0);
    assert_eq!(s["continuous"]["enabled"], true, "{s}");
    assert_eq!(s["continuous"]["covered"][0], "data", "{s}");

    let m = p.run(&["metrics"]);
    let text = dr_util::stdout(&m);
    assert!(
        text.lines()
            .any(|l| l == "mahavishnu_dr_continuous_points 1"),
        "{text}"
    );
    assert!(
        text.contains("mahavishnu_dr_continuous_point_last_timestamp_seconds "),
        "{text}"
    );

    let c = p.json(&["backup", "cleanup", "--dry-run"], 0);
    let g = &c["points"][0];
    assert_eq!(g["remove"], false, "{c}");
    assert_eq!(g["points"], 1, "{c}");
    assert!(g["reason"].as_str().unwrap().contains("keep_hours"), "{c}");
    drop(db);
}

/// `decrypt --file` of a point gives a file the point changed and one it kept from its base,
/// each checked against its digest.
#[test]
fn decrypt_file_reads_a_point_and_its_base() {
    let p = Project::new("");
    p.write("kept.txt", "from the base");
    p.write("changed.txt", "old");
    p.backup("full");
    p.write("changed.txt", "new in the point");
    let pt = point(&p);
    let id = pt["backup_id"].as_str().unwrap();
    for (file, want) in [
        ("data/changed.txt", "new in the point"),
        ("data/kept.txt", "from the base"),
    ] {
        let out = p.root().join(format!("out-{}", common::rand_suffix()));
        p.json(
            &[
                "decrypt",
                "--backup-id",
                id,
                "--file",
                file,
                "--output",
                out.to_str().unwrap(),
            ],
            0,
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), want, "{file}");
    }
}

/// A drill recovers from what an incident would: the database corruption drill restores the
/// databases of the newest continuous point (newer than the newest backup) and passes.
#[test]
fn the_database_drill_recovers_from_the_newest_point() {
    let p = Project::new("  continuous: { enabled: true }\n");
    let db = open_db(&p, 200);
    p.backup("full");
    add_rows(&db, 30, "after the backup");
    let pt = point(&p);
    drop(db);
    let r = p.json(&["drill", "run", "--scenario", "database_corruption"], 0);
    let d = &r["drills"][0];
    assert_eq!(d["passed"], true, "{d:#}");
    assert_eq!(
        d["backup_id"], pt["backup_id"],
        "recovered from the point: {d:#}"
    );
}

/// Points reach the replicas like backups, each after its base: from the replica alone
/// (`--repository copy`, the failover path) `restore --at` gives the point's state.
#[test]
fn points_are_replicated_and_restore_from_the_replica() {
    let p = Project::new(common::LOCAL_REPLICA);
    p.write("f.txt", "base");
    p.backup("full");
    p.write("f.txt", "in the point");
    let pt = point(&p);
    assert_eq!(pt["replication"][0]["ok"], true, "{pt}");
    assert_eq!(pt["replication"][0]["points_copied"], 1, "{pt}");
    let id = pt["backup_id"].as_str().unwrap();
    assert!(
        p.root()
            .join("replica/points")
            .join(id)
            .join("manifest")
            .is_file()
    );
    let target = p.root().join("from-replica");
    let r = p.json(
        &[
            "--repository",
            "copy",
            "restore",
            "--at",
            pt["finished"].as_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
        ],
        0,
    );
    assert_eq!(r["backup_id"], id, "{r}");
    assert_eq!(
        std::fs::read_to_string(target.join("data/f.txt")).unwrap(),
        "in the point"
    );
    // Nothing left to copy: the next replicate copies no point again.
    let again = p.json(&["replicate"], 0);
    assert_eq!(again["replicas"][0]["points_copied"], 0, "{again}");
}
