//! Locks: concurrent backups serialize into a chain; a cleanup never runs under a backup.

use crate::common;
use crate::dr_util;

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
    lock_object(
        p,
        "0123456789abcdef",
        mode,
        host,
        operation,
        refreshed_ago_secs,
    );
}

/// Write lock object `id` as another holder would, taken and refreshed `ago_secs` ago (negative:
/// in the future). Returns its file name.
fn lock_object(
    p: &Project,
    id: &str,
    mode: &str,
    host: &str,
    operation: &str,
    ago_secs: i64,
) -> String {
    let t = chrono::Utc::now() - chrono::Duration::seconds(ago_secs);
    let lock = serde_json::json!({
        "id": id,
        "mode": mode,
        "host": host,
        "pid": 4242,
        "operation": operation,
        "created": t,
        "refreshed": t,
    });
    std::fs::create_dir_all(p.repo().join("locks")).unwrap();
    let name = format!("{mode}-{id}.json");
    std::fs::write(
        p.repo().join("locks").join(&name),
        serde_json::to_vec(&lock).unwrap(),
    )
    .unwrap();
    name
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

#[test]
fn a_lock_dated_in_the_future_is_broken_saying_why() {
    let p = Project::new("  lock_wait_seconds: 1\n");
    p.write("a.txt", "alpha");
    p.init();
    let first = p.backup("full");

    // A few minutes ahead is clock skew: a live lock, the backup waits 1 s and gives up.
    foreign_lock(
        &p,
        "exclusive",
        "fast-clock.example",
        "backup cleanup",
        -240,
    );
    let o = p.run(&["backup", "run", "--type", "full", "--json"]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert_eq!(json_of(&o)["error"]["kind"], "locked", "{}", shown(&o));
    assert!(
        json_of(&o)["error"]["guidance"]
            .as_str()
            .unwrap()
            .contains("unlock"),
        "the error should point at `unlock`: {}",
        shown(&o)
    );

    // A day ahead, it would never go stale and would block every backup: broken, saying why.
    foreign_lock(
        &p,
        "exclusive",
        "fast-clock.example",
        "backup cleanup",
        -86_400,
    );
    let (b, err) = json_run(&p, &["backup", "run", "--type", "full"], 0);
    assert!(
        err.contains("stale")
            && err.contains("fast-clock.example")
            && err.contains("ahead of this host's clock"),
        "stderr should say the future lock was broken, and why:\n{err}"
    );
    assert_eq!(b["status"], "completed", "{b}");
    assert!(
        lock_files(&p).is_empty(),
        "locks left: {:?}",
        lock_files(&p)
    );

    // Nothing stored was lost.
    let (l, _) = json_run(&p, &["backup", "list"], 0);
    assert_eq!(l["total_count"], 2, "{l}");
    json_run(&p, &["backup", "validate", "--level", "full"], 0);
    let restored = p.restore(first["backup_id"].as_str().unwrap());
    common::assert_same_tree(&p.data(), &restored);
}

#[test]
fn unlock_removes_stale_locks_and_all_removes_live_ones() {
    let p = Project::new("  lock_wait_seconds: 1\n");
    p.write("a.txt", "alpha");
    p.init();
    let first = p.backup("full");

    let stale = lock_object(
        &p,
        "00000000000000aa",
        "backup",
        "crashed.example",
        "backup run",
        600,
    );
    let future = lock_object(
        &p,
        "00000000000000bb",
        "exclusive",
        "bad-clock.example",
        "backup cleanup",
        -86_400,
    );
    let live = lock_object(
        &p,
        "00000000000000cc",
        "shared",
        "busy.example",
        "restore",
        0,
    );
    std::fs::write(
        p.repo().join("locks/backup-garbage.json"),
        b"\xff\xfe{not json",
    )
    .unwrap();

    let (u, err) = json_run(&p, &["unlock"], 0);
    assert!(!err.contains("panicked"), "{err}");
    let removed = u["removed"].as_array().unwrap();
    let by_object = |name: &str| {
        removed
            .iter()
            .find(|r| r["object"] == format!("locks/{name}"))
            .unwrap_or_else(|| panic!("{name} was not removed: {u}"))
    };
    let s = by_object(&stale);
    assert_eq!(s["mode"], "backup", "{s}");
    assert_eq!(s["operation"], "backup run", "{s}");
    assert_eq!(s["host"], "crashed.example", "{s}");
    assert_eq!(s["pid"], 4242, "{s}");
    let age = s["age_seconds"].as_i64().unwrap();
    assert!((600..700).contains(&age), "{s}");
    assert!(
        s["reason"].as_str().unwrap().contains("not refreshed"),
        "{s}"
    );
    let f = by_object(&future);
    assert!(
        f["reason"]
            .as_str()
            .unwrap()
            .contains("ahead of this host's clock"),
        "{f}"
    );
    let g = by_object("backup-garbage.json");
    assert!(
        g["mode"].is_null() && g["reason"].as_str().unwrap().contains("unreadable"),
        "{g}"
    );
    assert_eq!(removed.len(), 3, "{u}");
    let kept = u["kept"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{u}");
    assert_eq!(kept[0]["object"], format!("locks/{live}"), "{u}");
    assert_eq!(
        lock_files(&p),
        vec![live.clone()],
        "only the live lock should be left"
    );
    assert!(u["message"].as_str().unwrap().contains("--all"), "{u}");

    // The live lock still blocks a backup; `unlock --all` removes it, saying what and the danger.
    lock_object(
        &p,
        "00000000000000dd",
        "exclusive",
        "busy.example",
        "backup cleanup",
        0,
    );
    let o = p.run(&["backup", "run", "--type", "full"]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    let o = p.run(&["unlock", "--all"]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 0, "{}", shown(&o));
    let out = stdout(&o);
    assert!(
        out.contains("removed exclusive lock of `backup cleanup` held by busy.example pid 4242")
            && out.contains("removed shared lock of `restore`"),
        "{}",
        shown(&o)
    );
    assert!(
        stderr(&o).contains("live locks were removed"),
        "{}",
        shown(&o)
    );
    assert!(
        lock_files(&p).is_empty(),
        "locks left: {:?}",
        lock_files(&p)
    );
    let help = p.run(&["unlock", "--help"]);
    assert!(stdout(&help).contains("DANGER"), "{}", shown(&help));
    let schema = p.run(&["schema", "unlock"]);
    assert_eq!(code(&schema), 0, "{}", shown(&schema));

    // The repository works again and nothing stored was lost.
    let (b, _) = json_run(&p, &["backup", "run", "--type", "incremental"], 0);
    assert_eq!(b["parent"], first["backup_id"], "{b}");
    json_run(&p, &["backup", "validate", "--level", "full"], 0);
    let restored = p.restore(b["backup_id"].as_str().unwrap());
    common::assert_same_tree(&p.data(), &restored);
    // Without a repository, unlock says so.
    let empty = Project::new("");
    let o = empty.run(&["unlock"]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(stderr(&o).contains("no repository"), "{}", shown(&o));
}

/// Start `init --generate-key` for each project at once against one repository folder: every
/// process waits on a FIFO until all are started, then all go.
fn racing_inits(
    projects: &[Project],
    repo: &std::path::Path,
    gate: &std::path::Path,
) -> Vec<Output> {
    let c_gate = std::ffi::CString::new(gate.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo has no other preconditions.
    assert_eq!(unsafe { libc::mkfifo(c_gate.as_ptr(), 0o600) }, 0, "mkfifo");
    // Held open for reading and writing, so the racers' opens never block and nothing is lost.
    let mut fifo = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(gate)
        .unwrap();
    let children: Vec<Child> = projects
        .iter()
        .map(|p| {
            let mut c = std::process::Command::new("sh");
            c.arg("-c")
                .arg("read _ < \"$0\"; exec \"$@\"")
                .arg(gate)
                .arg(common::BIN)
                .arg("--config")
                .arg(p.config())
                .args(["init", "--generate-key", "--json"])
                .current_dir(p.root())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            for (k, _) in std::env::vars() {
                if k.starts_with("MAHAVISHNU_") {
                    c.env_remove(k);
                }
            }
            c.env("MAHAVISHNU_BACKUP__DIRECTORY", repo);
            c.spawn().unwrap()
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    use std::io::Write;
    fifo.write_all(&vec![b'\n'; projects.len()]).unwrap();
    let outs: Vec<Output> = children.into_iter().map(finish).collect();
    drop(fifo);
    outs
}

#[test]
fn racing_inits_create_one_repository_that_the_winners_key_opens() {
    const RACERS: usize = 4;
    const ROUNDS: usize = 6;
    for round in 0..ROUNDS {
        let shared = tempfile::tempdir().unwrap();
        let repo = shared.path().join("repo");
        let projects: Vec<Project> = (0..RACERS)
            .map(|i| {
                let p = Project::new("");
                p.write("who.txt", format!("project {i} of round {round}"));
                p
            })
            .collect();
        let outs = racing_inits(&projects, &repo, &shared.path().join("gate"));
        let winners: Vec<usize> = (0..RACERS).filter(|i| code(&outs[*i]) == 0).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one init should succeed:\n{}",
            outs.iter().map(shown).collect::<Vec<_>>().join("\n---\n")
        );
        let w = winners[0];
        let created = json_of(&outs[w]);
        for (i, o) in outs.iter().enumerate().filter(|(i, _)| *i != w) {
            assert_eq!(code(o), 1, "round {round}, racer {i}:\n{}", shown(o));
            let e = json_of(o);
            assert_eq!(e["error"]["kind"], "refused", "{e}");
            assert!(
                e["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("already exists"),
                "round {round}, racer {i}: a clear \"already exists\": {e}"
            );
            assert!(
                !projects[i].root().join("key").exists(),
                "round {round}, racer {i}: the loser's unused key was left behind"
            );
        }
        // The repository is the winner's: its key opens it, a backup runs and restores.
        let p = &projects[w];
        let env = ("MAHAVISHNU_BACKUP__DIRECTORY", repo.as_os_str());
        let o = p
            .cmd(&["backup", "run", "--type", "full", "--json"])
            .env(env.0, env.1)
            .output()
            .unwrap();
        assert_no_panic(&o);
        assert_eq!(
            code(&o),
            0,
            "round {round}: the winner's key should open the repository:\n{}",
            shown(&o)
        );
        let b = json_of(&o);
        let config: Value =
            serde_json::from_slice(&std::fs::read(repo.join("config")).unwrap()).unwrap();
        assert_eq!(
            config["repository_id"], created["repository_id"],
            "round {round}"
        );
        assert_eq!(b["status"], "completed", "round {round}: {b}");
        assert!(
            std::fs::read_dir(repo.join("tmp")).map_or(true, |mut d| d.next().is_none()),
            "round {round}: temporary files left in the repository"
        );
    }
}
