//! A backup killed with SIGKILL mid-write leaves no backup, only an orphan that status shows and
//! cleanup removes; the next backup breaks the dead process's lock. A backup that fails leaves
//! nothing at all.

use crate::common;
use crate::dr_util;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::Project;
use dr_util::*;

const FILES: u64 = 50;
const FILE_SIZE: usize = 4 << 20;

/// Every file of `expected` is in `actual` with the same bytes, and nothing else is.
fn assert_same_files(expected: &Path, actual: &Path) {
    let names = |d: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names(expected), names(actual), "different files");
    for n in names(expected) {
        let a = std::fs::read(expected.join(&n)).unwrap();
        let b = std::fs::read(actual.join(&n)).unwrap();
        assert!(a == b, "{n}: restored content differs");
    }
}

fn entries(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(rd) => {
            let mut v: Vec<String> = rd
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        }
        Err(_) => Vec::new(),
    }
}

#[test]
fn a_killed_backup_is_no_backup_and_cleanup_removes_its_orphans() {
    let p = Project::new("  volume_size_mb: 8\n");
    for i in 0..FILES {
        p.write(&format!("blob-{i:02}.bin"), patterned(i + 1, FILE_SIZE));
    }
    p.init();

    let mut child = p
        .cmd(&["backup", "run", "--type", "full", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let backups = p.repo().join("backups");
    let killed = wait_for(Duration::from_secs(60), "a first volume", || {
        entries(&backups).into_iter().find(|id| {
            entries(&backups.join(id))
                .iter()
                .any(|n| n.starts_with("vol-"))
        })
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let left = entries(&backups.join(&killed));
    assert!(
        !left.contains(&"manifest".to_string()),
        "the backup finished before it was killed; give it more data"
    );
    assert!(
        !entries(&p.repo().join("locks")).is_empty(),
        "the killed backup left no lock (it should: it could not release it)"
    );

    // The unfinished backup is no backup: status names it unfinished.
    let (s, _) = json_run(&p, &["backup", "status"], 0);
    assert_eq!(s["backup_count"], 0, "{s}");
    assert_eq!(s["unfinished"], serde_json::json!([killed]), "{s}");
    let (l, _) = json_run(&p, &["backup", "list"], 0);
    assert_eq!(l["total_count"], 0, "{l}");

    // A new backup breaks the dead process's lock, saying so.
    let (b, err) = json_run(&p, &["backup", "run", "--type", "full"], 0);
    let new_id = b["backup_id"].as_str().unwrap().to_string();
    assert_ne!(new_id, killed);
    assert!(
        err.contains("stale") && err.contains(&pid.to_string()),
        "stderr should say the dead process {pid}'s stale lock was broken:\n{err}"
    );
    assert!(
        entries(&p.repo().join("locks")).is_empty(),
        "locks left behind: {:?}",
        entries(&p.repo().join("locks"))
    );

    // The repository validates: the orphan is not a backup.
    let (v, _) = json_run(&p, &["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["backups_checked"], 1, "{v}");
    assert_eq!(v["ok"], true, "{v}");

    // Cleanup lists the orphan and removes its folder, and only that.
    let (c, _) = json_run(&p, &["backup", "cleanup"], 0);
    let orphans = c["orphans"].as_array().unwrap();
    let o = orphans
        .iter()
        .find(|o| o["backup_id"] == killed.as_str())
        .unwrap_or_else(|| panic!("cleanup does not list {killed}: {c}"));
    assert!(o["objects"].as_u64().unwrap() >= 1, "{c}");
    assert!(!o["reason"].as_str().unwrap().is_empty(), "{c}");
    assert!(
        entries(&backups.join(&killed)).is_empty(),
        "the orphan's objects are still there: {:?}",
        entries(&backups.join(&killed))
    );
    // (Whether the emptied folder itself goes is checked in cleanup.rs.)
    let with_objects: Vec<String> = entries(&backups)
        .into_iter()
        .filter(|id| !entries(&backups.join(id)).is_empty())
        .collect();
    assert_eq!(with_objects, vec![new_id.clone()]);
    let (s, _) = json_run(&p, &["backup", "status"], 0);
    assert_eq!(s["unfinished"], serde_json::json!([]), "{s}");
    json_run(&p, &["backup", "validate", "--level", "checksum"], 0);

    // The new backup restores to exactly the data.
    let restored = p.restore(&new_id);
    assert_same_files(&p.data(), &restored);
}

fn write_settings(p: &Project, command: &str) {
    let yaml = format!(
        "backup:\n  directory: \"./repo\"\n  sources: [\"./data\", {{name: \"dump.sql\", command: [\"sh\", \"-c\", \"{command}\"]}}]\n  encryption: {{ key_path: \"./key\" }}\ndisaster_recovery:\n  restore_test: {{ scratch_dir: \"./scratch\" }}\n"
    );
    std::fs::write(p.config(), yaml).unwrap();
}

#[test]
fn a_failed_backup_leaves_no_backup_and_no_orphan() {
    let p = Project::new("");
    p.write("a.txt", "alpha");
    write_settings(&p, "echo CREATE TABLE t;");
    p.init();
    let good = p.backup("full");
    let good_id = good["backup_id"].as_str().unwrap().to_string();

    write_settings(&p, "echo partial output; echo dump failed >&2; exit 3");
    p.write("b.txt", "beta");
    let repo_before = entries(&p.repo().join("backups"));
    let o = p.run(&["backup", "run", "--type", "full"]);
    assert_no_panic(&o);
    assert_ne!(code(&o), 0, "{}", shown(&o));
    let err = stderr(&o);
    assert!(
        err.contains("dump.sql"),
        "the error should name the command source:\n{err}"
    );
    assert!(
        err.contains('3') && err.contains("dump failed"),
        "the error should give the exit status and the command's stderr:\n{err}"
    );

    assert_eq!(entries(&p.repo().join("backups")), repo_before);
    let (s, _) = json_run(&p, &["backup", "status"], 0);
    assert_eq!(s["backup_count"], 1, "{s}");
    assert_eq!(s["latest"]["backup_id"], good_id.as_str(), "{s}");
    assert_eq!(s["unfinished"], serde_json::json!([]), "{s}");
    assert!(
        entries(&p.repo().join("locks")).is_empty(),
        "the failed backup left its lock"
    );
    let scratch = entries(&p.root().join("scratch"));
    assert!(
        scratch.iter().all(|n| !n.starts_with("work-")),
        "the failed backup left scratch work folders: {scratch:?}"
    );
    let (c, _) = json_run(&p, &["backup", "cleanup", "--dry-run"], 0);
    assert_eq!(c["orphans"], serde_json::json!([]), "{c}");

    // The JSON face reports the same failure as an error object.
    let o = p.run(&["backup", "run", "--type", "full", "--json"]);
    assert_ne!(code(&o), 0);
    let v = json_of(&o);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("dump.sql"),
        "{v}"
    );
}

#[test]
fn an_interrupted_backup_cleans_up_after_itself() {
    let p = Project::new("  volume_size_mb: 8\n");
    for i in 0..FILES {
        p.write(&format!("blob-{i:02}.bin"), patterned(i + 100, FILE_SIZE));
    }
    p.init();
    let child = p
        .cmd(&["backup", "run", "--type", "full"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let backups = p.repo().join("backups");
    wait_for(Duration::from_secs(60), "a first volume", || {
        entries(&backups).into_iter().find(|id| {
            entries(&backups.join(id))
                .iter()
                .any(|n| n.starts_with("vol-"))
        })
    });
    // Ctrl-C.
    // SAFETY: sending a signal to our own child process.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    assert_eq!(r, 0);
    let o = child.wait_with_output().unwrap();
    assert_no_panic(&o);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(
        stderr(&o).contains("cancelled") || stderr(&o).contains("interrupted"),
        "{}",
        shown(&o)
    );
    let (s, _) = json_run(&p, &["backup", "status"], 0);
    assert_eq!(s["backup_count"], 0, "{s}");
    assert_eq!(
        s["unfinished"],
        serde_json::json!([]),
        "an interrupted backup left its volumes: {s}"
    );
    assert!(
        entries(&p.repo().join("locks")).is_empty(),
        "an interrupted backup left its lock"
    );
    let (c, _) = json_run(&p, &["backup", "cleanup", "--dry-run"], 0);
    assert_eq!(c["orphans"], serde_json::json!([]), "{c}");
}
