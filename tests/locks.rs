//! Locks: concurrent backups serialize into a chain; a cleanup never runs under a backup.

mod common;
mod dr_util;

use std::process::{Child, Output, Stdio};
use std::time::Duration;

use common::Project;
use dr_util::*;
use serde_json::Value;

fn spawn(p: &Project, args: &[&str]) -> Child {
    p.cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(c: Child) -> Output {
    let o = c.wait_with_output().unwrap();
    assert_no_panic(&o);
    o
}

fn lock_files(p: &Project) -> Vec<String> {
    match std::fs::read_dir(p.repo().join("locks")) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn two_backups_started_together_both_succeed_as_a_chain() {
    let p = Project::new("  volume_size_mb: 4\n");
    for i in 0..10 {
        p.write(&format!("f{i}.bin"), patterned(i + 1, 4 << 20));
    }
    p.write("small.txt", "small");
    p.init();

    let args = ["backup", "run", "--type", "incremental", "--json"];
    let a = spawn(&p, &args);
    let b = spawn(&p, &args);
    let (a, b) = (finish(a), finish(b));
    assert_eq!(code(&a), 0, "{}", shown(&a));
    assert_eq!(code(&b), 0, "{}", shown(&b));
    let (ja, jb) = (json_of(&a), json_of(&b));
    let (first, second, second_err): (&Value, &Value, String) = if ja["parent"].is_null() {
        (&ja, &jb, stderr(&b))
    } else {
        (&jb, &ja, stderr(&a))
    };
    let first_id = first["backup_id"].as_str().unwrap();
    assert_eq!(first["backup_type"], "full", "{first}");
    assert!(first["parent"].is_null(), "{first}");
    assert_eq!(
        second["parent"], first_id,
        "the second backup's parent should be the first: {second}"
    );
    assert_eq!(second["backup_type"], "incremental", "{second}");
    assert_eq!(second["chain_length"], 2, "{second}");
    assert_eq!(
        second["totals"]["files_unchanged"], 11,
        "nothing changed between them: {second}"
    );
    assert!(
        second_err.contains("waiting for"),
        "the second should say it waits for the first:\n{second_err}"
    );

    let (l, _) = json_run(&p, &["backup", "list"], 0);
    assert_eq!(l["total_count"], 2, "{l}");
    let (v, _) = json_run(&p, &["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["backups_checked"], 2, "{v}");
    assert!(
        lock_files(&p).is_empty(),
        "locks left: {:?}",
        lock_files(&p)
    );
    let restored = p.restore(second["backup_id"].as_str().unwrap());
    common::assert_same_tree(&p.data(), &restored);
}

/// Settings whose sources include a command that takes `secs` seconds: a backup that holds its
/// lock for at least that long without needing much data.
fn slow_backup_project(secs: u32) -> Project {
    let p = Project::new("");
    p.write("a.txt", "alpha");
    p.write("big.bin", patterned(3, 3 << 20));
    let yaml = format!(
        "backup:\n  directory: \"./repo\"\n  sources: [\"./data\", {{name: \"slow.sql\", command: [\"sh\", \"-c\", \"sleep {secs}; echo dump\"]}}]\n  encryption: {{ key_path: \"./key\" }}\ndisaster_recovery:\n  restore_test: {{ scratch_dir: \"./scratch\" }}\n"
    );
    std::fs::write(p.config(), yaml).unwrap();
    p
}

#[test]
fn cleanup_never_runs_under_a_backup() {
    let p = slow_backup_project(6);
    p.init();
    // A first backup, so the cleanup has something it could (wrongly) touch.
    let (older, _) = json_run(&p, &["backup", "run", "--type", "full"], 0);
    let older_id = older["backup_id"].as_str().unwrap().to_string();

    let backup = spawn(&p, &["backup", "run", "--type", "incremental", "--json"]);
    wait_for(Duration::from_secs(20), "the backup's lock", || {
        lock_files(&p)
            .iter()
            .any(|f| f.starts_with("backup-"))
            .then_some(())
    });

    // With a short wait the cleanup gives up: exit 1, "locked", naming the backup.
    let o = p
        .cmd(&["backup", "cleanup", "--json"])
        .env("MAHAVISHNU_BACKUP__LOCK_WAIT_SECONDS", "1")
        .output()
        .unwrap();
    assert_no_panic(&o);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    let e = json_of(&o);
    assert_eq!(e["error"]["kind"], "locked", "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("backup run"),
        "the error should name the operation holding the lock: {e}"
    );

    // Validation (a shared lock) runs beside the backup and finds nothing wrong.
    let (v, _) = json_run(&p, &["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["backups_checked"], 1, "{v}");

    // With the default wait, the cleanup waits for the backup, then runs.
    let cleanup = spawn(&p, &["backup", "cleanup", "--json"]);
    let b = finish(backup);
    let c = finish(cleanup);
    assert_eq!(code(&b), 0, "{}", shown(&b));
    assert_eq!(code(&c), 0, "{}", shown(&c));
    assert!(
        stderr(&c).contains("waiting for") && stderr(&c).contains("backup run"),
        "the cleanup should say it waits for the backup:\n{}",
        shown(&c)
    );
    let new_id = json_of(&b)["backup_id"].as_str().unwrap().to_string();
    assert_eq!(json_of(&b)["parent"], older_id.as_str());
    let plan = json_of(&c);
    let kept: Vec<&str> = plan["plan"]["keep"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["backup_id"].as_str().unwrap())
        .collect();
    assert!(
        kept.contains(&new_id.as_str()) && kept.contains(&older_id.as_str()),
        "the cleanup ran before the backup finished, or dropped part of its chain: {plan}"
    );
    assert_eq!(plan["orphans"], serde_json::json!([]), "{plan}");

    let (v, _) = json_run(&p, &["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["backups_checked"], 2, "{v}");
    assert!(
        lock_files(&p).is_empty(),
        "locks left: {:?}",
        lock_files(&p)
    );
    let restored = p.restore(&new_id);
    common::assert_same_tree(&p.data(), &restored);
}

/// Write a lock object as another holder would.
fn foreign_lock(p: &Project, mode: &str, host: &str, operation: &str, refreshed_ago_secs: i64) {
    let t = chrono::Utc::now() - chrono::Duration::seconds(refreshed_ago_secs);
    let lock = serde_json::json!({
        "id": "0123456789abcdef",
        "mode": mode,
        "host": host,
        "pid": 4242,
        "operation": operation,
        "created": t,
        "refreshed": t,
    });
    std::fs::create_dir_all(p.repo().join("locks")).unwrap();
    std::fs::write(
        p.repo().join(format!("locks/{mode}-0123456789abcdef.json")),
        serde_json::to_vec(&lock).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_live_lock_of_another_host_blocks_and_a_stale_one_is_broken() {
    let p = Project::new("  lock_wait_seconds: 1\n");
    p.write("a.txt", "alpha");
    p.init();

    // Another host's cleanup, refreshed just now: the backup waits 1 s, then gives up.
    foreign_lock(&p, "exclusive", "other-host.example", "backup cleanup", 0);
    let o = p.run(&["backup", "run", "--type", "full", "--json"]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    let e = json_of(&o);
    assert_eq!(e["error"]["kind"], "locked", "{e}");
    let msg = e["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("backup cleanup") && msg.contains("other-host.example"),
        "the error should say who holds the lock: {msg}"
    );
    let (l, _) = json_run(&p, &["backup", "list"], 0);
    assert_eq!(l["total_count"], 0, "{l}");

    // The same lock, not refreshed for 10 minutes: stale, broken with a message.
    foreign_lock(&p, "exclusive", "other-host.example", "backup cleanup", 600);
    let (b, err) = json_run(&p, &["backup", "run", "--type", "full"], 0);
    assert!(
        err.contains("stale") && err.contains("other-host.example"),
        "stderr should say the stale lock was broken:\n{err}"
    );
    assert_eq!(b["status"], "completed", "{b}");
    assert!(
        lock_files(&p).is_empty(),
        "locks left: {:?}",
        lock_files(&p)
    );
}

#[test]
fn a_torn_lock_object_is_removed_with_a_notice() {
    let p = Project::new("");
    p.write("a.txt", "alpha");
    p.init();
    std::fs::create_dir_all(p.repo().join("locks")).unwrap();
    std::fs::write(
        p.repo().join("locks/backup-deadbeef.json"),
        b"{\"id\": \"dea",
    )
    .unwrap();
    let (_, err) = json_run(&p, &["backup", "run", "--type", "full"], 0);
    assert!(
        err.contains("backup-deadbeef.json"),
        "stderr should name the removed lock object:\n{err}"
    );
    assert!(
        lock_files(&p).is_empty(),
        "locks left: {:?}",
        lock_files(&p)
    );
}
