//! A SQLite database in WAL mode, written continuously by another process while backups run:
//! every backup restores a database that passes `PRAGMA integrity_check` and keeps the writer's
//! invariant (each transaction inserts the same value into two tables), and the -wal/-shm files
//! are never stored.

use crate::common;
use crate::tree_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Project;
use rusqlite::{Connection, OpenFlags};
use tree_support::*;

/// The writer: WAL mode, one transaction per iteration inserting the same random value (with a
/// blob, so the WAL grows and checkpoints move pages into the main file) into tables a and b.
/// Starts with a few MiB in one transaction. Writes `ready` after its first commits; stops when `stop` appears or after `max_seconds`.
const WRITER: &str = r#"
import os, random, sqlite3, sys, time
db, ready, stop, max_seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
con = sqlite3.connect(db, timeout=30, isolation_level=None)
con.execute("PRAGMA journal_mode=WAL")
con.execute("PRAGMA wal_autocheckpoint=200")
con.execute("CREATE TABLE IF NOT EXISTS a (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, pad BLOB)")
con.execute("CREATE TABLE IF NOT EXISTS b (id INTEGER PRIMARY KEY, v INTEGER NOT NULL, pad BLOB)")
con.execute("CREATE INDEX IF NOT EXISTS a_v ON a(v)")
# A few MiB first, so a backup has many pages to copy while commits go on.
con.execute("BEGIN IMMEDIATE")
for _ in range(3000):
    v = random.randint(1, 1000000)
    con.execute("INSERT INTO a (v, pad) VALUES (?, randomblob(1000))", (v,))
    con.execute("INSERT INTO b (v, pad) VALUES (?, randomblob(1000))", (v,))
con.execute("COMMIT")
start = time.time()
n = 0
while time.time() - start < max_seconds and not os.path.exists(stop):
    con.execute("BEGIN IMMEDIATE")
    for _ in range(5):
        v = random.randint(1, 1000000)
        con.execute("INSERT INTO a (v, pad) VALUES (?, randomblob(300))", (v,))
        con.execute("INSERT INTO b (v, pad) VALUES (?, randomblob(300))", (v,))
    con.execute("COMMIT")
    n += 1
    if n == 20:
        open(ready, "w").close()
print(n)
"#;

struct Writer {
    child: Option<Child>,
    stop: PathBuf,
}

impl Writer {
    fn start(db: &Path, scratch: &Path, max_seconds: u32) -> Writer {
        std::fs::create_dir_all(scratch).unwrap();
        let ready = scratch.join("writer-ready");
        let stop = scratch.join("writer-stop");
        let child = Command::new("python3")
            .arg("-c")
            .arg(WRITER)
            .arg(db)
            .arg(&ready)
            .arg(&stop)
            .arg(max_seconds.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 is needed for the SQLite writer");
        let mut w = Writer {
            child: Some(child),
            stop,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while !ready.exists() {
            if !w.running() {
                let out = w.child.take().unwrap().wait_with_output().unwrap();
                panic!(
                    "the writer exited early ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            assert!(
                Instant::now() < deadline,
                "the writer did not start in 20 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        w
    }

    /// Whether the writer is still writing.
    fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// Stop it and return the number of transactions it committed.
    fn stop(mut self) -> u64 {
        std::fs::write(&self.stop, b"").unwrap();
        let out = self.child.take().unwrap().wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "the writer failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = std::fs::write(&self.stop, b"");
            let _ = c.wait();
        }
    }
}

/// Every file under `dir` (none when it does not exist).
fn walk_files(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    snapshot(dir)
        .into_iter()
        .filter(|(_, n)| !matches!(n, Node::Dir { .. }))
        .map(|(k, _)| k)
        .collect()
}

/// What a restored database holds: integrity, the invariant, the row count.
fn check_db(path: &Path) -> (String, i64, i64, i64, i64) {
    // Called after the restored folder was listed: opening creates -wal/-shm beside it.
    let con = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let integrity: String = con
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    let (count_a, sum_a): (i64, i64) = con
        .query_row("SELECT count(*), coalesce(sum(v), 0) FROM a", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let (count_b, sum_b): (i64, i64) = con
        .query_row("SELECT count(*), coalesce(sum(v), 0) FROM b", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    (integrity, count_a, sum_a, count_b, sum_b)
}

#[test]
fn a_wal_database_written_during_backups_restores_consistent() {
    let p = Project::new("");
    p.init();
    write_file(
        &p.data().join("notes.txt"),
        b"next to the database\n",
        0o644,
    );
    let db = p.data().join("app.db");
    let mut writer = Writer::start(&db, &p.root().join("writer"), 12);

    let rows = |db: &Path| -> i64 {
        Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap()
            .query_row("SELECT count(*) FROM a", [], |r| r.get(0))
            .unwrap()
    };
    let mut backups = Vec::new();
    for t in ["full", "incremental", "incremental"] {
        // Let the writer commit a few hundred rows more first (bounded wait).
        let want = rows(&db) + 300;
        let deadline = Instant::now() + Duration::from_secs(4);
        while rows(&db) < want && Instant::now() < deadline && writer.running() {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            writer.running(),
            "the writer stopped before the backups ended"
        );
        assert!(
            p.data().join("app.db-wal").exists(),
            "the database is not in WAL mode while written"
        );
        // What is committed before the backup starts must be in it.
        let committed = rows(&db);
        let v = p.backup(t);
        assert_eq!(v["status"], "completed", "{v}");
        backups.push((v, committed));
    }
    let still_running = writer.running();
    let commits = writer.stop();
    assert!(
        still_running,
        "the writer ended before the last backup finished ({commits} commits)"
    );

    // The snapshots made for the backups were removed: no copy of the database is left behind.
    let scratch = p.root().join("scratch");
    let left: Vec<String> = walk_files(&scratch);
    assert!(left.is_empty(), "left in the scratch folder: {left:?}");
    let live_mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o7777;

    let mut last_rows = 0;
    for (i, (v, committed)) in backups.iter().enumerate() {
        // app.db and notes.txt; never app.db-wal or app.db-shm.
        assert_eq!(total(v, "files"), 2, "backup {i}: {v}");
        for w in v["warnings"].as_array().unwrap() {
            let w = w.as_str().unwrap();
            assert!(
                !w.contains("app.db"),
                "backup {i} warns about the database: {w}"
            );
        }
        // The database changed between backups: each incremental stored it again.
        assert_eq!(total(v, "files_stored"), if i == 0 { 2 } else { 1 }, "{v}");

        let (r, target) = restore_json(&p, &id_of(v), &[]);
        assert_eq!(r["files"], 2, "{r}");
        let mut names: Vec<String> = std::fs::read_dir(target.join("data"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["app.db", "notes.txt"], "backup {i} restored");

        let restored_mode = std::fs::metadata(target.join("data/app.db"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(restored_mode, live_mode, "backup {i}: the database's mode");
        let (integrity, count_a, sum_a, count_b, sum_b) = check_db(&target.join("data/app.db"));
        assert_eq!(integrity, "ok", "backup {i}");
        assert_eq!(
            (count_a, sum_a),
            (count_b, sum_b),
            "backup {i}: the two tables disagree: a torn copy"
        );
        assert!(
            count_a >= *committed,
            "backup {i} holds {count_a} rows; {committed} were committed before it started"
        );
        assert_eq!(count_a % 5, 0, "backup {i}: a partial transaction");
        assert!(
            count_a >= last_rows,
            "backup {i} holds fewer rows ({count_a}) than the one before ({last_rows})"
        );
        eprintln!("backup {i}: {count_a} rows ({committed} before it started)");
        last_rows = count_a;
    }
    assert!(
        (last_rows as u64) <= 3000 + commits * 5,
        "the restore holds rows that were never committed"
    );
}

#[test]
fn an_idle_wal_database_is_not_stored_again() {
    let p = Project::new("");
    p.init();
    let db = p.data().join("idle.db");
    {
        let con = Connection::open(&db).unwrap();
        con.pragma_update(None, "journal_mode", "WAL").unwrap();
        con.execute_batch(
            "CREATE TABLE t (x); INSERT INTO t VALUES (1), (2), (3); PRAGMA wal_checkpoint(TRUNCATE);",
        )
        .unwrap();
        // The connection stays open through the backups, as a live service's would.
        let first = p.backup("full");
        assert_eq!(total(&first, "files"), 1, "{first}");
        let second = p.backup("incremental");
        assert_eq!(total(&second, "files_stored"), 0, "{second}");
        assert_eq!(total(&second, "files_unchanged"), 1, "{second}");
        con.execute("INSERT INTO t VALUES (4)", []).unwrap();
        let third = p.backup("incremental");
        assert_eq!(
            total(&third, "files_stored"),
            1,
            "a commit that is only in the WAL was missed: {third}"
        );
        let (_, target) = restore_json(&p, &id_of(&third), &[]);
        let restored = Connection::open(target.join("data/idle.db")).unwrap();
        let n: i64 = restored
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 4, "the restored database misses the last commit");
    }
}
