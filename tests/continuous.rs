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
