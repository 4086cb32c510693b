//! Many hosts, one repository: two processes presenting different host names
//! (`MAHAVISHNU_BACKUP__HOST`) back up into one repository, at once too; each host's chain,
//! `latest`, retention and locks are its own, and listings, status and the report show hosts.

use crate::common;
use crate::dr_util;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use chrono::{Duration as TimeDelta, Utc};
use common::Project;
use dr_util::*;
use mahavishnu_dr::internals::crypto::{Credential, read_key_file};
use mahavishnu_dr::internals::manifest::{MANIFEST_VERSION, Manifest, ManifestSummary, Totals};
use mahavishnu_dr::internals::{BackupType, Repository, new_backup_id};
use mahavishnu_dr::{DynStorage, OpendalStorage};
use serde_json::Value;

const HOST_VAR: &str = "MAHAVISHNU_BACKUP__HOST";
const A: &str = "host-a";
const B: &str = "host-b";

/// The binary as `host`, with extra environment variables.
fn cmd_as(p: &Project, host: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = p.cmd(args);
    c.env(HOST_VAR, host);
    for (k, v) in env {
        c.env(k, v);
    }
    c
}

fn run_as(p: &Project, host: &str, args: &[&str]) -> Output {
    let o = cmd_as(p, host, args, &[]).output().unwrap();
    assert_no_panic(&o);
    o
}

/// Run as `host` with `--json`, assert the exit code, parse stdout.
fn json_as(p: &Project, host: &str, args: &[&str], want: i32) -> Value {
    let mut a = args.to_vec();
    a.push("--json");
    let o = run_as(p, host, &a);
    assert_eq!(
        code(&o),
        want,
        "{host}: mahavishnu-dr {args:?}:\n{}",
        shown(&o)
    );
    json_of(&o)
}

fn id_of(v: &Value) -> String {
    v["backup_id"].as_str().unwrap().to_string()
}

fn ids(list: &Value) -> BTreeSet<String> {
    list.as_array().unwrap().iter().map(id_of).collect()
}

fn hosts_of(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|b| b["host"].as_str().unwrap().to_string())
        .collect()
}

/// `restore --backup-id latest` as `host` (with `extra` arguments): the backup it chose.
fn restore_latest_as(p: &Project, host: &str, extra: &[&str]) -> (String, std::path::PathBuf) {
    let target = p.root().join(format!("restore-{}", common::rand_suffix()));
    let mut args = Project::restore_args("latest", &target, extra);
    args.push("--json");
    let o = run_as(p, host, &args);
    assert_eq!(code(&o), 0, "{}", shown(&o));
    (id_of(&json_of(&o)), target)
}

#[test]
fn each_host_has_its_own_chain_latest_listing_and_status() {
    let p = Project::new("  lock_wait_seconds: 0\n");
    p.write("shared.txt", "version 1");
    p.init();
    let a_full = id_of(&json_as(&p, A, &["backup", "run", "--type", "full"], 0));
    let b_full = id_of(&json_as(&p, B, &["backup", "run", "--type", "full"], 0));
    p.write("shared.txt", "version 2");
    let a_inc = json_as(&p, A, &["backup", "run", "--type", "incremental"], 0);
    assert_eq!(a_inc["backup_type"], "incremental", "{a_inc}");
    assert_eq!(a_inc["parent"], a_full.as_str(), "{a_inc}");
    // B's incremental builds on B's full, not on A's newer incremental.
    let b_inc = json_as(&p, B, &["backup", "run", "--type", "incremental"], 0);
    assert_eq!(b_inc["backup_type"], "incremental", "{b_inc}");
    assert_eq!(b_inc["parent"], b_full.as_str(), "{b_inc}");
    let (a_inc, b_inc) = (id_of(&a_inc), id_of(&b_inc));
    // A host that never backed up here starts with a full, whatever the others made.
    let c = json_as(&p, "host-c", &["backup", "run", "--type", "incremental"], 0);
    assert_eq!(c["backup_type"], "full", "{c}");
    assert!(c["type_reason"].as_str().unwrap().contains("host-c"), "{c}");
    let c = id_of(&c);

    // Listings: every host by default, each backup with its host; --host filters.
    let all = json_as(&p, A, &["backup", "list"], 0);
    assert_eq!(all["total_count"], 5, "{all}");
    assert_eq!(
        hosts_of(&all["backups"]),
        [A, B, "host-c"].map(String::from).into()
    );
    let only_a = json_as(&p, B, &["backup", "list", "--host", A], 0);
    assert_eq!(
        ids(&only_a["backups"]),
        [a_full.clone(), a_inc.clone()].into(),
        "{only_a}"
    );
    assert_eq!(hosts_of(&only_a["backups"]), [A.to_string()].into());
    let text = stdout(&run_as(&p, A, &["backup", "list", "--host", B]));
    assert!(text.contains(&b_inc) && text.contains(B), "{text}");
    assert!(!text.contains(&a_inc) && !text.contains(A), "{text}");

    // Status: each host's newest; --host limits the rest to one host.
    let s = json_as(&p, A, &["backup", "status"], 0);
    assert_eq!(s["this_host"], A, "{s}");
    let newest: Vec<(String, String, bool)> = s["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["host"].as_str().unwrap().to_string(),
                h["newest_backup_id"].as_str().unwrap().to_string(),
                h["this_host"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        newest,
        vec![
            (A.to_string(), a_inc.clone(), true),
            (B.to_string(), b_inc.clone(), false),
            ("host-c".to_string(), c.clone(), false),
        ],
        "{s}"
    );
    let sb = json_as(&p, A, &["backup", "status", "--host", B], 0);
    assert_eq!(sb["backup_count"], 2, "{sb}");
    assert_eq!(sb["latest"]["backup_id"], b_inc.as_str(), "{sb}");
    assert_eq!(sb["hosts"].as_array().unwrap().len(), 3, "{sb}");
    let text = stdout(&run_as(&p, B, &["backup", "status"]));
    assert!(text.contains("newest backup per host"), "{text}");
    assert!(text.contains(&a_inc) && text.contains(&b_inc), "{text}");

    // The report shows every host's newest backup against the RPO target.
    let r = json_as(&p, A, &["report"], 0);
    let report_hosts: Vec<&str> = r["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["newest_backup_id"].as_str().unwrap())
        .collect();
    assert_eq!(report_hosts, vec![&a_inc, &b_inc, &c], "{r}");
    assert!(r["hosts"][1]["rpo_met"].as_bool().unwrap(), "{r}");
    let md = stdout(&run_as(&p, A, &["report", "--format", "markdown"]));
    assert!(md.contains("Newest backup per host"), "{md}");
    assert!(md.contains(&b_inc) && md.contains(&a_inc), "{md}");

    // `latest` is this host's newest; --host names another's.
    assert_eq!(restore_latest_as(&p, A, &[]).0, a_inc);
    assert_eq!(restore_latest_as(&p, B, &[]).0, b_inc);
    let (chosen, target) = restore_latest_as(&p, A, &["--host", B]);
    assert_eq!(chosen, b_inc);
    assert_eq!(
        std::fs::read(target.join("data/shared.txt")).unwrap(),
        b"version 2"
    );
    // The other commands that take `latest` take --host too.
    for args in [
        &["restore-test", "run", "--host", B][..],
        &["restore-test", "measure-rto", "--host", B],
    ] {
        let mut a = args.to_vec();
        a.push("--json");
        let o = run_as(&p, A, &a);
        assert_eq!(code(&o), 0, "{args:?}: {}", shown(&o));
        assert_eq!(json_of(&o)["backup_id"], b_inc.as_str(), "{args:?}");
    }
    let out_file = p.root().join("shared-from-b.txt");
    let o = run_as(
        &p,
        A,
        &[
            "decrypt",
            "--host",
            B,
            "--file",
            "data/shared.txt",
            "--output",
            out_file.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", shown(&o));
    assert_eq!(json_of(&o)["backup_id"], b_inc.as_str());
    assert_eq!(std::fs::read(&out_file).unwrap(), b"version 2");
    // A host with no backup of its own among several: an error that lists the hosts.
    let target = p.root().join("nowhere");
    let o = run_as(&p, "host-d", &Project::restore_args("latest", &target, &[]));
    assert_eq!(code(&o), 1, "{}", shown(&o));
    for h in [A, B, "host-c"] {
        assert!(stderr(&o).contains(h), "{}", shown(&o));
    }
    assert!(stderr(&o).contains("--host"), "{}", shown(&o));
    assert!(!target.join("data").exists());

    let v = json_as(&p, B, &["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["backups_checked"], 5, "{v}");
}

/// Files of about 3 MiB under `dir`, different for each seed.
fn fill(dir: &Path, seed: u64) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..12 {
        std::fs::write(
            dir.join(format!("f{i}.bin")),
            noise(seed * 100 + i, 256 << 10),
        )
        .unwrap();
    }
}

/// Start a backup as `host` with its own sources; wait for it elsewhere.
fn spawn_backup(p: &Project, host: &str, sources: &str, backup_type: &str) -> std::process::Child {
    cmd_as(
        p,
        host,
        &["backup", "run", "--type", backup_type, "--json"],
        &[("MAHAVISHNU_BACKUP__SOURCES", sources)],
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .unwrap()
}

fn finished(c: std::process::Child) -> Value {
    let o = c.wait_with_output().unwrap();
    assert_no_panic(&o);
    assert_eq!(code(&o), 0, "{}", shown(&o));
    json_of(&o)
}

/// A lock object in the repository, as another process wrote it.
fn plant_lock(p: &Project, mode: &str, host: &str, machine: &str, pid: u32) -> std::path::PathBuf {
    let now = Utc::now();
    let id = format!("{:016x}", rand::random::<u64>());
    let lock = serde_json::json!({
        "id": id, "mode": mode, "host": host, "pid": pid, "operation": "backup run",
        "created": now, "refreshed": now, "machine": machine,
    });
    let path = p.repo().join("locks").join(format!("{mode}-{id}.json"));
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, serde_json::to_vec(&lock).unwrap()).unwrap();
    path
}

#[test]
fn two_hosts_back_up_different_data_at_once() {
    // No waiting for locks: a backup that conflicted with the other host's would fail.
    let p = Project::new("  lock_wait_seconds: 0\n");
    let (a_src, b_src) = ("[\"./data\"]", "[\"./data-b\"]");
    fill(&p.data(), 1);
    fill(&p.root().join("data-b"), 2);
    p.init();
    let a = spawn_backup(&p, A, a_src, "full");
    let b = spawn_backup(&p, B, b_src, "full");
    let (a_full, b_full) = (id_of(&finished(a)), id_of(&finished(b)));
    std::fs::write(p.data().join("f0.bin"), noise(77, 300 << 10)).unwrap();
    std::fs::write(p.root().join("data-b/new.txt"), "only on b").unwrap();
    let a = spawn_backup(&p, A, a_src, "incremental");
    let b = spawn_backup(&p, B, b_src, "incremental");
    let (a_inc, b_inc) = (finished(a), finished(b));
    assert_eq!(a_inc["parent"], a_full.as_str(), "{a_inc}");
    assert_eq!(b_inc["parent"], b_full.as_str(), "{b_inc}");
    assert_eq!(a_inc["totals"]["files_stored"], 1, "{a_inc}");
    assert_eq!(b_inc["totals"]["files_stored"], 1, "{b_inc}");

    let v = json_as(&p, A, &["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(v["backups_checked"], 4, "{v}");
    let (chosen, target) = restore_latest_as(&p, A, &[]);
    assert_eq!(chosen, id_of(&a_inc));
    common::assert_same_tree(&p.data(), &target.join("data"));
    assert!(!target.join("data-b").exists());
    let (chosen, target) = restore_latest_as(&p, B, &[]);
    assert_eq!(chosen, id_of(&b_inc));
    common::assert_same_tree(&p.root().join("data-b"), &target.join("data-b"));

    // Held by a running backup of host b (this very process stands for it): host a backs up
    // alongside, a second backup of host b waits (here: gives up at once).
    let machine = gethostname::gethostname().to_string_lossy().into_owned();
    let held = plant_lock(&p, "backup", B, &machine, std::process::id());
    json_as(&p, A, &["backup", "run"], 0);
    let o = cmd_as(
        &p,
        B,
        &["backup", "run"],
        &[("MAHAVISHNU_BACKUP__SOURCES", b_src)],
    )
    .output()
    .unwrap();
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(
        stderr(&o).contains("locked") && stderr(&o).contains(B),
        "{}",
        shown(&o)
    );
    std::fs::remove_file(held).unwrap();

    // A fresh lock of another host whose pid runs nowhere here is not stale: it is that
    // host's process, not this machine's.
    let other = plant_lock(&p, "exclusive", B, "elsewhere.example", i32::MAX as u32);
    let o = run_as(&p, A, &["backup", "run"]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(stderr(&o).contains("locked"), "{}", shown(&o));
    let u = json_as(&p, A, &["unlock"], 0);
    assert!(u["removed"].as_array().unwrap().is_empty(), "{u}");
    assert!(other.exists());
    std::fs::remove_file(other).unwrap();
    json_as(&p, A, &["backup", "run"], 0);
}

/// Commit an empty full backup of `host` that finished `age_days` ago, through the library.
async fn old_full(p: &Project, host: &str, age_days: i64) -> String {
    let storage: DynStorage = Arc::new(OpendalStorage::local(&p.repo()).unwrap());
    let key = read_key_file(&p.root().join("key")).unwrap();
    let repo = Repository::open(storage, Some(&Credential::KeyFile(key)))
        .await
        .unwrap();
    let when = Utc::now() - TimeDelta::days(age_days);
    let id = new_backup_id(when);
    let manifest = Manifest {
        summary: ManifestSummary {
            format_version: MANIFEST_VERSION,
            backup_id: id.clone(),
            backup_type: BackupType::Full,
            requested_type: BackupType::Full,
            parent: None,
            chain_root: id.clone(),
            chain_length: 1,
            started: when,
            finished: when,
            host: host.into(),
            tool_version: "old".into(),
            compression_level: 3,
            encrypted: true,
            sources: Vec::new(),
            volumes: Vec::new(),
            totals: Totals::default(),
            depends_on: Vec::new(),
            warnings: Vec::new(),
            block_map: None,
            base: None,
        },
        entries: Vec::new(),
        deleted: Vec::new(),
    };
    repo.commit_manifest(&manifest).await.unwrap();
    id
}

/// (id, host, reason) of every item in plan.keep or plan.remove.
fn plan(c: &Value, list: &str) -> Vec<(String, String, String)> {
    c["plan"][list]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                id_of(i),
                i["host"].as_str().unwrap().to_string(),
                i["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_cleanup_keeps_other_hosts_backups_unless_all_hosts() {
    let p = Project::new(
        "  schedules:\n    weekly_full: { enabled: true, day: sunday, time: \"03:00\", timezone: UTC, retention_weeks: 4 }\n",
    );
    p.write("a.txt", "alpha");
    p.init();
    let a_old = [old_full(&p, A, 90).await, old_full(&p, A, 60).await];
    let b_old = [old_full(&p, B, 90).await, old_full(&p, B, 60).await];
    let a_now = id_of(&json_as(&p, A, &["backup", "run", "--type", "full"], 0));
    let b_now = id_of(&json_as(&p, B, &["backup", "run", "--type", "full"], 0));

    // Host a's cleanup: only a's expired backups go; every one of b's is kept, and says why.
    let dry = json_as(&p, A, &["backup", "cleanup", "--dry-run"], 0);
    assert_eq!(dry["host"], A, "{dry}");
    let removed: BTreeSet<String> = plan(&dry, "remove").into_iter().map(|i| i.0).collect();
    assert_eq!(removed, a_old.iter().cloned().collect(), "{dry}");
    assert!(plan(&dry, "remove").iter().all(|i| i.1 == A), "{dry}");
    for (id, host, reason) in plan(&dry, "keep") {
        if host == B {
            assert!(reason.contains("another host"), "{id}: {reason}");
        }
    }
    let text = stdout(&run_as(&p, A, &["backup", "cleanup", "--dry-run"]));
    assert!(
        text.contains(&format!("host {B}): backup of another host")),
        "{text}"
    );
    assert!(
        text.contains(&format!("{} (full, host {A}): expired", a_old[0])),
        "{text}"
    );

    // With --all-hosts each host's own rules apply: b's expired backups go too, b's newest stays.
    let dry = json_as(&p, A, &["backup", "cleanup", "--dry-run", "--all-hosts"], 0);
    assert!(dry["host"].is_null(), "{dry}");
    let removed: BTreeSet<String> = plan(&dry, "remove").into_iter().map(|i| i.0).collect();
    let every_old: BTreeSet<String> = a_old.iter().chain(&b_old).cloned().collect();
    assert_eq!(removed, every_old, "{dry}");
    let b_newest = plan(&dry, "keep")
        .into_iter()
        .find(|i| i.0 == b_now)
        .unwrap();
    assert!(
        b_newest.2.contains(&format!("newest backup of host {B}")),
        "{b_newest:?}"
    );

    // Applied: first without, then with --all-hosts.
    json_as(&p, A, &["backup", "cleanup"], 0);
    let l = json_as(&p, A, &["backup", "list"], 0);
    let expect: BTreeSet<String> = b_old
        .iter()
        .cloned()
        .chain([a_now.clone(), b_now.clone()])
        .collect();
    assert_eq!(ids(&l["backups"]), expect, "{l}");
    json_as(&p, A, &["backup", "cleanup", "--all-hosts"], 0);
    let l = json_as(&p, A, &["backup", "list"], 0);
    assert_eq!(ids(&l["backups"]), [a_now, b_now].into(), "{l}");
}

#[test]
fn a_host_name_that_cannot_be_one_is_a_settings_error() {
    let p = Project::new("");
    let long = "x".repeat(300);
    for (bad, says) in [
        ("a/b", "`/`"),
        ("bell\u{7}", "control character"),
        (long.as_str(), "at most 253"),
        (" padded", "whitespace"),
    ] {
        let o = run_as(&p, bad, &["backup", "status"]);
        assert_eq!(code(&o), 2, "{bad:?}: {}", shown(&o));
        assert!(stderr(&o).contains("backup.host"), "{}", shown(&o));
        assert!(stderr(&o).contains(says), "{}", shown(&o));
    }
    // And a --host argument likewise.
    p.init();
    let o = run_as(&p, A, &["backup", "list", "--host", "a/b"]);
    assert_eq!(code(&o), 2, "{}", shown(&o));
    assert!(stderr(&o).contains("--host"), "{}", shown(&o));
}

#[test]
fn on_a_new_host_latest_is_the_only_hosts_newest_and_says_so() {
    let p = Project::new("");
    p.write("x.txt", "from the old server");
    p.init();
    let old = id_of(&json_as(&p, "old-server", &["backup", "run"], 0));
    // The replacement server restores the lost one's newest backup: the only host here.
    let target = p.root().join("restored");
    let mut args = Project::restore_args("latest", &target, &[]);
    args.push("--json");
    let o = run_as(&p, "new-server", &args);
    assert_eq!(code(&o), 0, "{}", shown(&o));
    let r = json_of(&o);
    assert_eq!(r["backup_id"], old.as_str(), "{r}");
    let warned = r["warnings"].to_string();
    assert!(
        warned.contains("old-server") && warned.contains("only host"),
        "{r}"
    );
    assert_eq!(
        std::fs::read(target.join("data/x.txt")).unwrap(),
        b"from the old server"
    );
    // Its own first backup starts its own chain.
    let b = json_as(&p, "new-server", &["backup", "run"], 0);
    assert_eq!(b["backup_type"], "full", "{b}");
    assert!(b["parent"].is_null(), "{b}");
}

/// A host that no longer backs up here: `cleanup --remove-host NAME` removes every backup and
/// continuous point of it (newest and last full too), but only once the settings retire it, never
/// this host, never with `--all-hosts`, and a name with no backups says which hosts have some.
/// The other host's backups are untouched and still restore.
#[test]
fn a_retired_hosts_backups_are_removed_wholesale_only_once_the_settings_retire_it() {
    let p = Project::new("");
    p.write("a.txt", "alpha");
    p.init();
    let a_full = id_of(&json_as(&p, A, &["backup", "run", "--type", "full"], 0));
    let b_full = id_of(&json_as(&p, B, &["backup", "run", "--type", "full"], 0));
    p.write("a.txt", "beta");
    let b_inc = id_of(&json_as(
        &p,
        B,
        &["backup", "run", "--type", "incremental"],
        0,
    ));
    p.write("a.txt", "gamma");
    let point = json_as(&p, B, &["backup", "point"], 0);
    assert!(id_of(&point).starts_with("point_"), "{point}");

    // Not retired in the settings: refused, nothing deleted.
    let o = run_as(&p, A, &["backup", "cleanup", "--remove-host", B]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(stderr(&o).contains("backup.retired_hosts"), "{}", shown(&o));
    let retire = |hosts: &str| {
        let s = std::fs::read_to_string(p.config()).unwrap();
        let s = s.replacen(
            "backup:\n",
            &format!("backup:\n  retired_hosts: [{hosts}]\n"),
            1,
        );
        std::fs::write(p.config(), s).unwrap();
    };
    retire(&format!("{B}, host-c, {A}"));
    // Never this host; never with --all-hosts; a retired name without backups names the hosts.
    let o = run_as(&p, A, &["backup", "cleanup", "--remove-host", A]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(stderr(&o).contains("this host"), "{}", shown(&o));
    let o = run_as(
        &p,
        A,
        &["backup", "cleanup", "--remove-host", B, "--all-hosts"],
    );
    assert_eq!(code(&o), 2, "{}", shown(&o));
    let o = run_as(&p, A, &["backup", "cleanup", "--remove-host", "host-c"]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(
        stderr(&o).contains("no backup of host host-c") && stderr(&o).contains(B),
        "{}",
        shown(&o)
    );
    assert_eq!(
        ids(&json_as(&p, A, &["backup", "list"], 0)["backups"]).len(),
        3
    );

    // The plan: every backup and point of b, with the reason; a's kept.
    let dry = json_as(
        &p,
        A,
        &["backup", "cleanup", "--remove-host", B, "--dry-run"],
        0,
    );
    let removed: BTreeSet<String> = plan(&dry, "remove").into_iter().map(|i| i.0).collect();
    assert_eq!(removed, [b_full.clone(), b_inc.clone()].into(), "{dry}");
    assert!(
        plan(&dry, "remove").iter().all(|i| i.2.contains("retired")),
        "{dry}"
    );
    assert_eq!(
        plan(&dry, "keep")
            .into_iter()
            .map(|i| i.0)
            .collect::<Vec<_>>(),
        vec![a_full.clone()],
        "{dry}"
    );
    assert_eq!(dry["points"][0]["remove"], true, "{dry}");
    assert_eq!(dry["points"][0]["host"], B, "{dry}");
    assert_eq!(
        ids(&json_as(&p, A, &["backup", "list"], 0)["backups"]).len(),
        3
    );

    // Applied: only a's backup is left, b has no points, and a still restores.
    json_as(&p, A, &["backup", "cleanup", "--remove-host", B], 0);
    let l = json_as(&p, A, &["backup", "list", "--points"], 0);
    assert_eq!(ids(&l["backups"]), [a_full.clone()].into(), "{l}");
    assert_eq!(l["points"].as_array().map_or(0, Vec::len), 0, "{l}");
    assert_eq!(l["covered"], serde_json::json!([]), "{l}");
    let (id, dir) = restore_latest_as(&p, A, &[]);
    assert_eq!(id, a_full);
    assert_eq!(
        std::fs::read_to_string(dir.join("data/a.txt")).unwrap(),
        "alpha"
    );
}
