//! Incremental chains through the real binary: each incremental stores what changed (and only
//! that), records deletions, and every backup of the chain restores exactly the tree as it was
//! when it was made. Chains are bounded by max_chain_length; list and status show the chains.

use crate::common;
use crate::tree_support;

use std::collections::BTreeMap;

use common::Project;
use serde_json::Value;
use tree_support::*;

/// One step of a chain: the backup's response and the data as it was when it was made.
struct Step {
    response: Value,
    snap: Snap,
}

fn backup_step(p: &Project, backup_type: &str) -> Step {
    let snap = snapshot_with_root(&p.data());
    let response = p.backup(backup_type);
    assert_eq!(response["status"], "completed", "{response}");
    assert_snap_eq(
        "the data folder after the backup",
        &snap,
        &snapshot_with_root(&p.data()),
    );
    Step { response, snap }
}

/// Check the per-backup counters (stored, unchanged, deleted, the file total and the message);
/// a mismatch is returned, so a chain test can still check its restores before failing.
fn check_counts(v: &Value, what: &str, stored: u64, unchanged: u64, deleted: u64) -> Vec<String> {
    let mut problems = Vec::new();
    let got = (
        total(v, "files_stored"),
        total(v, "files_unchanged"),
        total(v, "files_deleted"),
    );
    if got != (stored, unchanged, deleted) {
        problems.push(format!(
            "{what}: (files_stored, files_unchanged, files_deleted) = {got:?}, expected {:?}",
            (stored, unchanged, deleted)
        ));
    }
    if total(v, "files") != stored + unchanged {
        problems.push(format!(
            "{what}: files = {}, expected {}",
            total(v, "files"),
            stored + unchanged
        ));
    }
    let msg = v["message"].as_str().unwrap();
    let want = format!("{stored} stored, {unchanged} unchanged, {deleted} deleted");
    if !msg.contains(&want) {
        problems.push(format!("{what}: message {msg:?} does not say {want:?}"));
    }
    problems
}

/// Assert the per-backup counters at once.
fn assert_counts(v: &Value, what: &str, stored: u64, unchanged: u64, deleted: u64) {
    let problems = check_counts(v, what, stored, unchanged, deleted);
    assert!(problems.is_empty(), "{}\n{v}", problems.join("\n"));
}

fn base_tree(p: &Project) {
    let d = p.data();
    write_file(&d.join("same-size.txt"), b"hello world\n", 0o644);
    write_file(&d.join("same-size-same-mtime.txt"), b"version 1\n", 0o644);
    write_file(&d.join("append.log.txt"), b"line 1\n", 0o644);
    write_file(
        &d.join("atomic-save.txt"),
        b"saved by an editor: 1\n",
        0o644,
    );
    write_file(&d.join("to-rename.txt"), b"rename me\n", 0o640);
    write_file(&d.join("to-delete.txt"), b"delete me\n", 0o644);
    write_file(&d.join("mode-change.sh"), b"#!/bin/sh\n", 0o644);
    write_file(
        &d.join("untouched/a.bin"),
        &random_bytes(10, 300_000),
        0o600,
    );
    write_file(&d.join("untouched/b.txt"), b"never changes\n", 0o644);
    write_file(&d.join("folder-to-rename/inner.txt"), b"inner\n", 0o644);
    write_file(&d.join("folder-to-delete/one.txt"), b"one\n", 0o644);
    write_file(&d.join("folder-to-delete/two.txt"), b"two\n", 0o644);
    std::os::unix::fs::symlink("same-size.txt", d.join("link")).unwrap();
}

#[test]
fn a_chain_stores_what_changed_and_every_backup_restores_its_own_tree() {
    let p = Project::new("");
    p.init();
    base_tree(&p);
    let d = p.data();
    let mut steps: Vec<Step> = Vec::new();
    let mut count_problems: Vec<String> = Vec::new();

    // 0: the full.
    let s = backup_step(&p, "full");
    count_problems.extend(check_counts(&s.response, "full", 12, 0, 0));
    steps.push(s);

    // 1: content changed with the same size; content changed with the same size *and* the old
    // mtime put back (only the ctime tells); an editor's atomic save (a new file of the same size
    // and mtime renamed over the old one); an append; a new file; a mode change.
    write_file(&d.join("same-size.txt"), b"HELLO WORLD\n", 0o644);
    let ssm = d.join("same-size-same-mtime.txt");
    let old_mtime = std::fs::metadata(&ssm).unwrap().modified().unwrap();
    std::fs::write(&ssm, b"version 2\n").unwrap();
    std::fs::File::open(&ssm)
        .unwrap()
        .set_modified(old_mtime)
        .unwrap();
    let atomic = d.join("atomic-save.txt");
    let atomic_mtime = std::fs::metadata(&atomic).unwrap().modified().unwrap();
    write_file(
        &d.join(".atomic-save.txt.tmp"),
        b"saved by an editor: 2\n",
        0o644,
    );
    std::fs::File::open(d.join(".atomic-save.txt.tmp"))
        .unwrap()
        .set_modified(atomic_mtime)
        .unwrap();
    std::fs::rename(d.join(".atomic-save.txt.tmp"), &atomic).unwrap();
    {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(d.join("append.log.txt"))
            .unwrap();
        f.write_all(b"line 2\n").unwrap();
    }
    write_file(&d.join("new-file.txt"), b"brand new\n", 0o600);
    set_mode(&d.join("mode-change.sh"), 0o755);
    let s = backup_step(&p, "incremental");
    assert_eq!(s.response["backup_type"], "incremental", "{}", s.response);
    assert_eq!(s.response["chain_length"], 2, "{}", s.response);
    count_problems.extend(check_counts(&s.response, "edits", 6, 7, 0));
    steps.push(s);

    // 2: a rename, a deletion, a new empty folder.
    std::fs::rename(d.join("to-rename.txt"), d.join("renamed.txt")).unwrap();
    std::fs::remove_file(d.join("to-delete.txt")).unwrap();
    std::fs::create_dir(d.join("new-empty-folder")).unwrap();
    let s = backup_step(&p, "incremental");
    count_problems.extend(check_counts(
        &s.response,
        "rename + delete + empty folder",
        1,
        11,
        2,
    ));
    assert_eq!(total(&s.response, "dirs"), 5, "{}", s.response);
    steps.push(s);

    // 3: a folder renamed (its file has a new path), a file replaced by a folder of the same
    // name, the symlink retargeted.
    std::fs::rename(d.join("folder-to-rename"), d.join("folder-renamed")).unwrap();
    std::fs::remove_file(d.join("new-file.txt")).unwrap();
    write_file(
        &d.join("new-file.txt/now-a-folder.txt"),
        b"was a file\n",
        0o644,
    );
    std::fs::remove_file(d.join("link")).unwrap();
    std::os::unix::fs::symlink("renamed.txt", d.join("link")).unwrap();
    let s = backup_step(&p, "incremental");
    // Stored: folder-renamed/inner.txt, new-file.txt/now-a-folder.txt. Deleted files:
    // folder-to-rename/inner.txt and new-file.txt (the file).
    count_problems.extend(check_counts(
        &s.response,
        "folder rename + file becomes folder",
        2,
        10,
        2,
    ));
    steps.push(s);

    // 4: nothing changed.
    let s = backup_step(&p, "incremental");
    count_problems.extend(check_counts(&s.response, "no change", 0, 12, 0));
    assert_eq!(
        total(&s.response, "bytes_stored_content"),
        0,
        "{}",
        s.response
    );
    steps.push(s);

    // The chain: each incremental's parent is the backup before it, all share the full's root.
    let ids: Vec<String> = steps.iter().map(|s| id_of(&s.response)).collect();
    for (i, s) in steps.iter().enumerate().skip(1) {
        assert_eq!(s.response["parent"], ids[i - 1].as_str(), "{}", s.response);
        assert_eq!(s.response["chain_length"], i as u64 + 1, "{}", s.response);
    }

    // Every backup restores exactly the tree as it was when it was made.
    for (i, s) in steps.iter().enumerate() {
        let (r, target) = restore_json(&p, &ids[i], &[]);
        assert_eq!(r["backup_id"], ids[i].as_str(), "{r}");
        assert_eq!(
            r["files"].as_u64(),
            Some(files_of(&s.snap).len() as u64),
            "{r}"
        );
        assert_snap_eq(
            &format!("backup {i} ({}) restored", ids[i]),
            &s.snap,
            &snapshot_with_root(&target.join("data")),
        );
    }
    // And a restore of a later backup did not need anything beyond its own chain.
    let (r, _) = restore_json(&p, &ids[3], &[]);
    for b in r["chain"].as_array().unwrap() {
        assert!(ids[..4].contains(&b.as_str().unwrap().to_string()), "{r}");
    }
    assert!(
        count_problems.is_empty(),
        "the restores are right, but the counters are not:\n{}\n{}",
        count_problems.join("\n"),
        steps
            .iter()
            .map(|s| s.response["message"].as_str().unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn deleting_a_folder_counts_its_files_as_deleted_files() {
    let p = Project::new("");
    p.init();
    base_tree(&p);
    p.backup("full");
    std::fs::remove_dir_all(p.data().join("folder-to-delete")).unwrap();
    let s = backup_step(&p, "incremental");
    // Two files are gone (the folder is not a file): "10 files (0 stored, 10 unchanged, 2 deleted)".
    assert_counts(&s.response, "a folder with two files deleted", 0, 10, 2);
    let (_, target) = restore_json(&p, &id_of(&s.response), &[]);
    assert_snap_eq(
        "after a folder deletion",
        &s.snap,
        &snapshot_with_root(&target.join("data")),
    );
}

#[test]
fn a_file_touched_without_a_change_of_content_is_restored_with_its_new_mtime() {
    let p = Project::new("");
    p.init();
    base_tree(&p);
    p.backup("full");
    set_mtime(&p.data().join("untouched/b.txt"), 1_234_567_890, 5);
    let s = backup_step(&p, "incremental");
    assert_counts(&s.response, "a touched file", 1, 11, 0);
    let (_, target) = restore_json(&p, &id_of(&s.response), &[]);
    assert_snap_eq(
        "after touch",
        &s.snap,
        &snapshot_with_root(&target.join("data")),
    );
}

#[test]
fn max_chain_length_starts_a_new_full() {
    let p = Project::new("  max_chain_length: 3\n");
    p.init();
    base_tree(&p);
    let mut responses = Vec::new();
    for i in 0..5 {
        write_file(
            &p.data().join("counter.txt"),
            format!("{i}\n").as_bytes(),
            0o644,
        );
        responses.push(p.backup("incremental"));
    }
    let types: Vec<&str> = responses
        .iter()
        .map(|v| v["backup_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["full", "incremental", "incremental", "full", "incremental"]
    );
    let lengths: Vec<u64> = responses
        .iter()
        .map(|v| v["chain_length"].as_u64().unwrap())
        .collect();
    assert_eq!(lengths, [1, 2, 3, 1, 2]);
    let reason = responses[3]["type_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("max_chain_length"),
        "type_reason should name max_chain_length: {}",
        responses[3]
    );
    assert!(responses[3]["parent"].is_null(), "{}", responses[3]);
    assert_eq!(
        total(&responses[3], "files_stored"),
        total(&responses[3], "files"),
        "a new full stores every file: {}",
        responses[3]
    );
    assert_eq!(responses[4]["parent"], responses[3]["backup_id"]);
    // The new chain restores without the old one.
    let (r, target) = restore_json(&p, &id_of(&responses[4]), &[]);
    let chain: Vec<&str> = r["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for old in &responses[..3] {
        assert!(!chain.contains(&old["backup_id"].as_str().unwrap()), "{r}");
    }
    assert_same_dir("after a new full", &p.data(), &target.join("data"));
}

#[test]
fn list_is_newest_first_and_status_shows_latest_per_type_and_chains() {
    let p = Project::new("");
    p.init();
    base_tree(&p);
    let mut ids = Vec::new();
    for (i, t) in [
        "full",
        "incremental",
        "incremental",
        "archival",
        "incremental",
    ]
    .iter()
    .enumerate()
    {
        write_file(
            &p.data().join("counter.txt"),
            format!("{i}\n").as_bytes(),
            0o644,
        );
        let v = p.backup(t);
        assert_eq!(v["backup_type"], *t, "{v}");
        ids.push(id_of(&v));
    }
    // The incremental after the archival builds on it.
    let (r, target) = restore_json(&p, &ids[4], &[]);
    let mut chain: Vec<String> = r["chain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    chain.sort();
    assert_eq!(chain, [ids[3].clone(), ids[4].clone()], "{r}");
    assert_same_dir(
        "the incremental after an archival",
        &p.data(),
        &target.join("data"),
    );
    // full <- inc1 <- inc2 ; archival <- inc4 (an incremental follows the newest backup of any type)
    let list = p.json(&["backup", "list"], 0);
    assert_eq!(list["total_count"], 5, "{list}");
    let listed: Vec<&str> = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["backup_id"].as_str().unwrap())
        .collect();
    let newest_first: Vec<&str> = ids.iter().rev().map(String::as_str).collect();
    assert_eq!(listed, newest_first, "newest first");
    let by_id: BTreeMap<&str, &Value> = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["backup_id"].as_str().unwrap(), b))
        .collect();
    let parent = |i: usize| by_id[ids[i].as_str()]["parent"].as_str();
    let root = |i: usize| by_id[ids[i].as_str()]["chain_root"].as_str().unwrap();
    assert_eq!(parent(0), None);
    assert_eq!(parent(1), Some(ids[0].as_str()));
    assert_eq!(parent(2), Some(ids[1].as_str()));
    assert_eq!(parent(3), None);
    assert_eq!(parent(4), Some(ids[3].as_str()));
    assert_eq!(
        [root(0), root(1), root(2), root(3), root(4)],
        [
            ids[0].as_str(),
            ids[0].as_str(),
            ids[0].as_str(),
            ids[3].as_str(),
            ids[3].as_str()
        ]
    );
    // Started times agree with the order.
    let started: Vec<&str> = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["started"].as_str().unwrap())
        .collect();
    let mut sorted = started.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(started, sorted, "list is not newest first by start time");

    let limited = p.json(&["backup", "list", "--limit", "2"], 0);
    let l: Vec<&str> = limited["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["backup_id"].as_str().unwrap())
        .collect();
    assert_eq!(l, newest_first[..2], "{limited}");
    let incs = p.json(&["backup", "list", "--type", "incremental"], 0);
    let l: Vec<&str> = incs["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["backup_id"].as_str().unwrap())
        .collect();
    assert_eq!(l, [ids[4].as_str(), ids[2].as_str(), ids[1].as_str()]);

    let status = p.json(&["backup", "status"], 0);
    assert_eq!(status["backup_count"], 5, "{status}");
    assert_eq!(status["latest"]["backup_id"], ids[4].as_str(), "{status}");
    let latest: BTreeMap<&str, Option<&str>> = status["latest_per_type"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["backup_type"].as_str().unwrap(), l["backup_id"].as_str()))
        .collect();
    assert_eq!(latest["full"], Some(ids[0].as_str()), "{status}");
    assert_eq!(latest["incremental"], Some(ids[4].as_str()), "{status}");
    assert_eq!(latest["archival"], Some(ids[3].as_str()), "{status}");
    let mut chains: Vec<(String, String, Vec<String>)> = status["chains"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["root"].as_str().unwrap().to_string(),
                c["root_type"].as_str().unwrap().to_string(),
                c["backups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect();
    chains.sort();
    assert_eq!(
        chains,
        vec![
            (ids[0].clone(), "full".to_string(), ids[..3].to_vec()),
            (ids[3].clone(), "archival".to_string(), ids[3..].to_vec()),
        ],
        "{status}"
    );
    let total_stored: u64 = list["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["stored_bytes"].as_u64().unwrap())
        .sum();
    assert_eq!(status["total_stored_bytes"], total_stored, "{status}");
}
