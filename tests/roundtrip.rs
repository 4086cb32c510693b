//! Round trips through the real binary: what a full, an incremental (made as a full) and an
//! archival backup store comes back byte for byte, with modes, times, folders and links; partial
//! restores bring back only what was asked for; a non-empty target needs --overwrite.

use crate::common;
use crate::tree_support;

use common::Project;
use tree_support::*;

const SETTINGS: &str = "  volume_size_mb: 1\n";

/// A project holding the rich tree, initialised.
fn rich_project() -> Project {
    let p = Project::new(SETTINGS);
    let n = build_rich_tree(&p.data());
    assert_eq!(files_of(&snapshot(&p.data())).len(), n);
    p.init();
    p
}

/// Back up with `backup_type`, restore the result, and compare strictly with the live data.
fn round_trip(p: &Project, backup_type: &str) -> serde_json::Value {
    let before = snapshot_with_root(&p.data());
    let v = p.backup(backup_type);
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["verified"], true, "{v}");
    // The backup changed nothing in the data it read.
    assert_snap_eq(
        "the data folder after the backup",
        &before,
        &snapshot_with_root(&p.data()),
    );
    let files = files_of(&before).len() as u64;
    assert_eq!(total(&v, "files"), files, "{v}");
    assert_eq!(total(&v, "files_stored"), files, "{v}");
    assert_eq!(total(&v, "files_unchanged"), 0, "{v}");
    assert_eq!(total(&v, "symlinks"), 4, "{v}");
    let bytes: u64 = before
        .values()
        .map(|n| match n {
            Node::File { content, .. } => content.len() as u64,
            _ => 0,
        })
        .sum();
    assert_eq!(total(&v, "bytes"), bytes, "{v}");
    // Files of 1.5, 1.1 and 1.1 MiB (each its own volume) and 0.3 MiB with a 1 MiB volume size.
    assert!(
        v["volumes"].as_u64().unwrap() >= 3,
        "expected >= 3 volumes: {v}"
    );

    let id = id_of(&v);
    let (r, target) = restore_json(p, &id, &[]);
    assert_eq!(r["backup_id"], id.as_str(), "{r}");
    assert_eq!(r["files"].as_u64(), Some(files), "{r}");
    assert_eq!(r["symlinks"].as_u64(), Some(4), "{r}");
    assert_eq!(r["bytes"].as_u64(), Some(bytes), "{r}");
    assert_eq!(r["verified"], true, "{r}");
    // The stored paths are relative to the project root: the data folder comes back as data/.
    let names: Vec<String> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["data".to_string()], "top level of the restore");
    assert_same_dir(
        &format!("{backup_type} backup restored"),
        &p.data(),
        &target.join("data"),
    );
    // The shared harness agrees.
    common::assert_same_tree(&p.data(), &target.join("data"));
    v
}

#[test]
fn full_backup_restores_byte_identical() {
    let p = rich_project();
    let v = round_trip(&p, "full");
    assert_eq!(v["backup_type"], "full", "{v}");
    assert_eq!(v["requested_type"], "full", "{v}");
    assert!(v["type_reason"].is_null(), "{v}");
    assert!(v["parent"].is_null(), "{v}");
    assert_eq!(v["chain_length"], 1, "{v}");
}

#[test]
fn first_incremental_is_made_as_a_full_says_so_and_restores_byte_identical() {
    let p = rich_project();
    let v = round_trip(&p, "incremental");
    assert_eq!(v["requested_type"], "incremental", "{v}");
    assert_eq!(v["backup_type"], "full", "{v}");
    let reason = v["type_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("full"),
        "type_reason should say the incremental became a full: {v}"
    );
    assert!(v["parent"].is_null(), "{v}");
    let msg = v["message"].as_str().unwrap();
    assert!(msg.starts_with("full backup"), "{msg}");
    // What `backup list` shows agrees.
    let list = p.json(&["backup", "list"], 0);
    assert_eq!(list["backups"][0]["backup_type"], "full", "{list}");
}

#[test]
fn archival_backup_restores_byte_identical() {
    let p = rich_project();
    let v = round_trip(&p, "archival");
    assert_eq!(v["backup_type"], "archival", "{v}");
    assert_eq!(v["requested_type"], "archival", "{v}");
    assert!(v["parent"].is_null(), "{v}");
    let list = p.json(&["backup", "list", "--type", "archival"], 0);
    assert_eq!(list["total_count"], 1, "{list}");
    assert_eq!(list["backups"][0]["backup_id"], v["backup_id"], "{list}");
}

#[test]
fn an_incremental_on_top_of_a_full_restores_the_whole_tree() {
    let p = rich_project();
    p.backup("full");
    // Change one small file; everything else comes from the full's volumes.
    write_file(&p.data().join("docs/readme.txt"), b"read me again\n", 0o640);
    let v = p.backup("incremental");
    assert_eq!(v["backup_type"], "incremental", "{v}");
    assert_eq!(total(&v, "files_stored"), 1, "{v}");
    let (r, target) = restore_json(&p, &id_of(&v), &[]);
    assert_eq!(r["chain"].as_array().map(Vec::len), Some(2), "{r}");
    assert_same_dir("incremental restored", &p.data(), &target.join("data"));
}

#[test]
fn restore_with_paths_brings_back_only_the_file_and_folder_asked_for() {
    let p = rich_project();
    let live = snapshot(&p.data());
    let id = id_of(&p.backup("full"));
    let file = "ünïcødé 日本語/файл с пробелами.txt";
    let folder = "docs/nested";
    let (r, target) = restore_json(
        &p,
        &id,
        &[
            "--path",
            &format!("data/{file}"),
            "--path",
            &format!("data/{folder}"),
        ],
    );
    let got = snapshot(&target.join("data"));
    let wanted = |k: &str| k == file || k == folder || k.starts_with(&format!("{folder}/"));
    let expected: Snap = live
        .iter()
        .filter(|(k, _)| wanted(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // Parent folders (the unicode folder, docs/) exist to hold what was asked for; nothing else.
    let parents = ["ünïcødé 日本語", "docs"];
    let restored: Snap = got
        .iter()
        .filter(|(k, _)| !parents.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    assert_snap_eq("partial restore", &expected, &restored);
    for d in parents {
        assert!(
            matches!(got.get(d), Some(Node::Dir { .. })),
            "{d} should exist as a folder: {got:?}"
        );
    }
    assert_eq!(
        r["files"].as_u64(),
        Some(files_of(&expected).len() as u64),
        "{r}"
    );
    assert!(
        !target.join("data/big").exists(),
        "big/ was not asked for but was restored"
    );
    // Only the volumes holding those files were read; the big random files live elsewhere.
    let all = p.json(&["backup", "list"], 0)["backups"][0]["volumes"]
        .as_u64()
        .unwrap();
    assert!(
        r["volumes_read"].as_u64().unwrap() < all,
        "a partial restore read every volume: {r}"
    );
}

#[test]
fn restore_of_a_path_that_is_not_in_the_backup_fails_and_writes_nothing() {
    let p = rich_project();
    let id = id_of(&p.backup("full"));
    let target = p.root().join("restore-missing");
    let out = p.run_restore(&id, &target, &["--path", "data/no-such-file"]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("data/no-such-file"), "{stderr}");
    assert!(
        !target.exists() || std::fs::read_dir(&target).unwrap().next().is_none(),
        "something was written"
    );
}

#[test]
fn restore_into_a_non_empty_target_needs_overwrite() {
    let p = rich_project();
    let files = files_of(&snapshot(&p.data())).len() as u64;
    let id = id_of(&p.backup("full"));
    let target = p.root().join("busy-target");
    write_file(&target.join("keep-me.txt"), b"user's own file\n", 0o644);
    // A file in the way of a restored one, with other content.
    write_file(&target.join("data/one.bin"), b"stale content", 0o644);
    let before = snapshot_with_root(&target);

    let out = p.run_restore(&id, &target, &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--overwrite"), "stderr: {stderr}");
    assert!(stderr.contains("not empty"), "stderr: {stderr}");
    assert_snap_eq(
        "a refused restore left the target as it was",
        &before,
        &snapshot_with_root(&target),
    );

    // The same with --json: the error is JSON on stdout, the exit code the same.
    let out = p.run_restore(&id, &target, &["--json"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["error"]["guidance"]
            .as_str()
            .unwrap_or_default()
            .contains("--overwrite"),
        "{v}"
    );

    let v = p.json(&Project::restore_args(&id, &target, &["--overwrite"]), 0);
    assert_eq!(v["files"].as_u64(), Some(files), "{v}");
    assert_same_dir("restore with --overwrite", &p.data(), &target.join("data"));
    assert_eq!(
        std::fs::read(target.join("keep-me.txt")).unwrap(),
        b"user's own file\n",
        "an unrelated file in the target was touched"
    );
}

#[test]
fn restore_latest_picks_the_newest_backup() {
    let p = Project::new("");
    p.write("a.txt", "first");
    p.init();
    p.backup("full");
    p.write("a.txt", "second");
    p.write("added-later.txt", "new");
    let v = p.backup("archival");
    let (r, target) = restore_json(&p, "latest", &[]);
    assert_eq!(r["backup_id"], v["backup_id"], "{r}");
    assert_same_dir("latest restored", &p.data(), &target.join("data"));
}
