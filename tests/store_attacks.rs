//! The store is not trusted: a writer of the repository without the key cannot plant, alter or
//! downgrade anything without detection, and crafted objects cost bounded memory.
//!
//! Each test is an attack a user could mount on the real binary's repository: objects written
//! as FORMAT.md documents them (a keyless writer can read that too), a config edited by hand,
//! a manifest damaged in place, decompression bombs and a tar long name that claims a gigabyte.

use crate::common;
use crate::dr_util;

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use chrono::Utc;
use common::Project;
use dr_util::*;
use mahavishnu_dr::internals::crypto::{Credential, read_key_file};
use mahavishnu_dr::internals::envelope::{ObjectContext, ObjectKind, seal_all};
use mahavishnu_dr::internals::manifest::{
    Entry, EntryKind, Location, MANIFEST_VERSION, Manifest, ManifestSummary, Origin, Totals,
    VolumeRecord,
};
use mahavishnu_dr::internals::{
    BackupType, Repository, backup_key, new_backup_id, sha256_hex, volume_name,
};
use mahavishnu_dr::{DynStorage, OpendalStorage};
use serde_json::{Value, json};

const FORGED: &str = "backup_20991231T000000.000Z_deadbeef";

/// A project whose repository the binary made, with one full backup of `real.txt`.
fn project() -> Project {
    let p = Project::new("");
    p.write("real.txt", "the real data\n");
    p.init();
    p.backup("full");
    p
}

fn storage(p: &Project) -> DynStorage {
    Arc::new(OpendalStorage::local(&p.repo()).unwrap())
}

async fn open(p: &Project) -> Repository {
    let key = read_key_file(&p.root().join("key")).unwrap();
    Repository::open(storage(p), Some(&Credential::KeyFile(key)))
        .await
        .unwrap()
}

/// An envelope with cipher 0, as a keyless writer makes one from FORMAT.md.
fn plain(kind: ObjectKind, name: &str, index: u32, data: &[u8]) -> Vec<u8> {
    let ctx = ObjectContext {
        repo_id: "not-needed-for-cipher-0".into(),
        kind,
        name: name.into(),
        index,
    };
    seal_all(None, &ctx, data)
}

fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn file_entry(path: &str, data: &[u8], id: &str) -> Entry {
    Entry {
        path: path.into(),
        kind: EntryKind::File,
        mode: 0o644,
        mtime_ns: 1_700_000_000_000_000_000,
        size: data.len() as u64,
        sha256: Some(sha256_hex(data)),
        target: None,
        location: Some(Location {
            backup_id: id.into(),
            volume: 0,
        }),
        origin: Origin::File,
        ctime_ns: 0,
        inode: 0,
        dev: 0,
        stamp: String::new(),
        blocks: None,
    }
}

fn manifest(id: &str, entries: Vec<Entry>, volumes: Vec<VolumeRecord>) -> Manifest {
    let now = Utc::now();
    Manifest {
        summary: ManifestSummary {
            format_version: MANIFEST_VERSION,
            backup_id: id.into(),
            backup_type: BackupType::Full,
            requested_type: BackupType::Full,
            parent: None,
            chain_root: id.into(),
            chain_length: 1,
            started: now,
            finished: now,
            host: "attacker".into(),
            tool_version: "0.1.0".into(),
            compression_level: 3,
            encrypted: true,
            sources: Vec::new(),
            volumes,
            totals: Totals {
                files: entries.len() as u64,
                ..Totals::default()
            },
            depends_on: Vec::new(),
            warnings: Vec::new(),
            block_map: None,
            base: None,
        },
        entries,
        deleted: Vec::new(),
    }
}

/// Plant a complete backup the way a keyless writer can: plain envelopes, a matching checksum
/// list, a manifest that places the attacker's `data/real.txt` in its volume.
async fn plant_plain_backup(p: &Project, payload: &[u8]) {
    let s = storage(p);
    let volume = plain(
        ObjectKind::Volume,
        FORGED,
        0,
        &zstd::encode_all(&tar_of(&[("data/real.txt", payload)])[..], 3).unwrap(),
    );
    let vol = VolumeRecord {
        index: 0,
        name: volume_name(0),
        files: 1,
        content_bytes: payload.len() as u64,
        stored_bytes: volume.len() as u64,
        sha256: sha256_hex(&volume),
        content: Default::default(),
    };
    let m = manifest(
        FORGED,
        vec![file_entry("data/real.txt", payload, FORGED)],
        vec![vol],
    );
    let sealed = plain(
        ObjectKind::Manifest,
        FORGED,
        u32::MAX,
        &zstd::encode_all(&serde_json::to_vec(&m).unwrap()[..], 3).unwrap(),
    );
    let checksums = json!({
        "backup_id": FORGED,
        "volumes": [{"name": "vol-00000", "size": volume.len(), "sha256": sha256_hex(&volume)}],
        "manifest": {"name": "manifest", "size": sealed.len(), "sha256": sha256_hex(&sealed)},
    });
    for (name, data) in [
        ("vol-00000", volume),
        ("checksums.json", serde_json::to_vec(&checksums).unwrap()),
        ("manifest", sealed),
    ] {
        s.put(&backup_key(FORGED, name), Bytes::from(data))
            .await
            .unwrap();
    }
}

fn ids(v: &Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("no {key} in {v}"))
        .iter()
        .map(|b| b["backup_id"].as_str().unwrap().to_string())
        .collect()
}

fn backup_folders(p: &Project) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p.repo().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Nothing was restored: the target is absent or empty.
fn assert_nothing_restored(target: &Path) {
    if target.exists() {
        let n = std::fs::read_dir(target).unwrap().count();
        assert_eq!(n, 0, "something was restored into {}", target.display());
    }
}

#[tokio::test]
async fn a_keyless_writer_cannot_plant_a_backup() {
    let p = project();
    plant_plain_backup(&p, b"the attacker's data\n").await;

    let l = p.json(&["backup", "list"], 0);
    assert!(!ids(&l, "backups").contains(&FORGED.to_string()), "{l}");
    assert_eq!(ids(&l, "unreadable"), vec![FORGED.to_string()], "{l}");
    let reason = l["unreadable"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("fails authentication") && reason.contains(FORGED),
        "{reason}"
    );

    let v = p.run(&["backup", "validate", "--level", "full", "--json"]);
    assert_eq!(code(&v), 1, "{}", shown(&v));
    assert!(stdout(&v).contains(FORGED), "{}", shown(&v));

    let target = p.root().join("t-latest");
    let o = p.run_restore("latest", &target, &["--json"]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(
        shown(&o).contains(FORGED) && shown(&o).contains("unreadable"),
        "{}",
        shown(&o)
    );
    assert_nothing_restored(&target);

    let target = p.root().join("t-forged");
    let o = p.run_restore(FORGED, &target, &["--json"]);
    assert_ne!(code(&o), 0, "{}", shown(&o));
    assert!(shown(&o).contains("fails authentication"), "{}", shown(&o));
    assert_nothing_restored(&target);

    // The real backup is untouched and still restores, when chosen deliberately.
    let real = ids(&l, "backups")[0].clone();
    let restored = p.restore(&real);
    assert_eq!(
        std::fs::read(restored.join("real.txt")).unwrap(),
        b"the real data\n"
    );
}

#[tokio::test]
async fn a_plain_history_record_is_not_taken_for_a_passed_restore_test() {
    let p = project();
    let id = "20991231T000000.000Z_restore-test_deadbeef";
    let record = json!({
        "record_id": id, "kind": "restore_test", "at": "2099-12-31T00:00:00Z",
        "host": "attacker", "tool_version": "0.1.0", "passed": true,
        "summary": "restore test passed", "data": {"rto_seconds": 1.0, "passed": true},
    });
    let sealed = plain(
        ObjectKind::History,
        id,
        0,
        &zstd::encode_all(&serde_json::to_vec(&record).unwrap()[..], 3).unwrap(),
    );
    storage(&p)
        .put(&format!("history/{id}"), Bytes::from(sealed))
        .await
        .unwrap();
    let h = p.json(&["restore-test", "report"], 0);
    assert!(h["records"].as_array().unwrap().is_empty(), "{h}");
    let unreadable = h["unreadable"].to_string();
    assert!(
        unreadable.contains(id) && unreadable.contains("fails authentication"),
        "{h}"
    );
    let r = p.json(&["report", "--format", "json"], 0);
    let checks = r["checks"].as_array().unwrap();
    let test = checks
        .iter()
        .find(|c| c["name"].as_str().unwrap().contains("restore_test"))
        .unwrap_or_else(|| panic!("no restore-test check in {r}"));
    assert_ne!(test["status"], "pass", "a forged record passed: {test}");
}

/// Edit `config` as JSON; return the original bytes.
fn edit_config(p: &Project, f: impl FnOnce(&mut Value)) -> Vec<u8> {
    let path = p.repo().join("config");
    let before = std::fs::read(&path).unwrap();
    let mut v: Value = serde_json::from_slice(&before).unwrap();
    f(&mut v);
    std::fs::write(&path, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
    before
}

#[test]
fn an_encryption_downgrade_is_refused_and_nothing_is_written_in_clear() {
    let p = project();
    let folders = backup_folders(&p);
    let original = edit_config(&p, |c| {
        c["encryption"] = json!("none");
        c["key_slots"] = json!([]);
        c.as_object_mut().unwrap().remove("auth");
    });
    p.write("new.txt", "written after the downgrade\n");
    let target = p.root().join("t");
    let target_s = target.to_str().unwrap().to_string();
    for args in [
        vec!["backup", "list"],
        vec!["backup", "run"],
        vec!["backup", "status"],
        vec!["restore", "--backup-id", "latest", "--target", &target_s],
    ] {
        let o = p.run(&args);
        assert_eq!(code(&o), 2, "{args:?}: {}", shown(&o));
        let text = stderr(&o);
        assert!(
            text.contains("was altered") && text.contains("downgrade"),
            "{args:?}: {text}"
        );
    }
    assert_eq!(backup_folders(&p), folders, "a backup was written");
    assert_nothing_restored(&target);
    // Put the config back: everything is as it was.
    std::fs::write(p.repo().join("config"), original).unwrap();
    let l = p.json(&["backup", "list"], 0);
    assert_eq!(ids(&l, "backups"), folders);
}

#[test]
fn no_field_of_the_config_can_be_changed_without_detection() {
    let p = project();
    let folders = backup_folders(&p);
    let path = p.repo().join("config");
    let good = std::fs::read(&path).unwrap();
    type Case<'a> = (&'a str, Box<dyn Fn(&mut Value)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "frame size",
            Box::new(|c| c["frame_size"] = json!(65536)),
            "does not match",
        ),
        (
            "creation time",
            Box::new(|c| c["created"] = json!("2020-01-01T00:00:00Z")),
            "does not match",
        ),
        (
            "a key slot's time",
            Box::new(|c| c["key_slots"][0]["created"] = json!("2020-01-01T00:00:00Z")),
            "does not match",
        ),
        (
            "authentication removed",
            Box::new(|c| {
                c.as_object_mut().unwrap().remove("auth");
            }),
            "was removed",
        ),
        (
            "authentication replaced",
            Box::new(|c| c["auth"] = json!(format!("hmac-sha256:{}", "0".repeat(64)))),
            "does not match",
        ),
    ];
    for (what, change, says) in cases {
        std::fs::write(&path, &good).unwrap();
        edit_config(&p, change);
        for args in [["backup", "list"], ["backup", "run"]] {
            let o = p.run(&args);
            assert_eq!(code(&o), 2, "{what}: {args:?}: {}", shown(&o));
            assert!(
                stderr(&o).contains("was altered") && stderr(&o).contains(says),
                "{what}: {}",
                shown(&o)
            );
        }
    }
    assert_eq!(backup_folders(&p), folders, "a backup was written");
    std::fs::write(&path, &good).unwrap();
    p.json(&["backup", "list"], 0);
}

/// Run with a deadline: a command that loops forever is a failure, not a hung suite.
fn run_within(mut cmd: Command, secs: u64) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if t.elapsed() > Duration::from_secs(secs) {
            child.kill().unwrap();
            let o = child.wait_with_output().unwrap();
            panic!("still running after {secs} s: {}", shown(&o));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn frame_sizes_outside_the_format_are_refused_before_anything_is_written() {
    // Unencrypted, so no authentication code can catch the edit: the range check must.
    let p = Project::new("");
    std::fs::write(
        p.config(),
        "backup:\n  directory: \"./repo\"\n  sources: [\"./data\"]\n  encryption: { enabled: false }\n",
    )
    .unwrap();
    p.write("a.txt", "x");
    p.json(&["backup", "run", "--type", "full"], 0);
    let folders = backup_folders(&p);
    for bad in [0u64, 128 << 20, 100] {
        edit_config(&p, |c| c["frame_size"] = json!(bad));
        let o = run_within(p.cmd(&["backup", "run"]), 60);
        assert_eq!(code(&o), 1, "frame_size {bad}: {}", shown(&o));
        assert!(
            stderr(&o).contains(&format!("frame_size {bad}")),
            "{}",
            shown(&o)
        );
        assert_eq!(backup_folders(&p), folders, "frame_size {bad}: written");
        let tmp = p.repo().join("tmp");
        let leftovers = std::fs::read_dir(&tmp).map(|d| d.count()).unwrap_or(0);
        assert_eq!(leftovers, 0, "temporary files left in {}", tmp.display());
    }
}

#[tokio::test]
async fn an_unreadable_newest_backup_is_never_skipped_in_silence() {
    let p = project();
    p.write("real.txt", "changed\n");
    let newest = p.backup("incremental")["backup_id"]
        .as_str()
        .unwrap()
        .to_string();
    let older = backup_folders(&p)[0].clone();
    let manifest = p.repo().join("backups").join(&newest).join("manifest");
    let mut m = std::fs::read(&manifest).unwrap();
    let mid = m.len() / 2;
    m[mid] ^= 0x40;
    std::fs::write(&manifest, m).unwrap();

    let l = p.json(&["backup", "list"], 0);
    assert_eq!(ids(&l, "backups"), vec![older.clone()], "{l}");
    assert_eq!(ids(&l, "unreadable"), vec![newest.clone()], "{l}");
    let text = stdout(&p.run(&["backup", "list"]));
    assert!(
        text.contains(&format!("UNREADABLE: {newest}")) && text.contains("fails authentication"),
        "{text}"
    );
    let s = p.json(&["backup", "status"], 0);
    assert_eq!(ids(&s, "unreadable"), vec![newest.clone()], "{s}");
    assert!(s["warnings"].to_string().contains(&newest), "{s}");

    let target = p.root().join("t");
    let o = p.run_restore("latest", &target, &[]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(stderr(&o).contains(&newest), "{}", shown(&o));
    // It says how to choose another: the list that shows which backups are readable.
    assert!(
        stderr(&o).contains("`mahavishnu-dr backup list`"),
        "{}",
        shown(&o)
    );
    assert_nothing_restored(&target);

    // Chosen deliberately, the older backup restores.
    let restored = p.restore(&older);
    assert_eq!(
        std::fs::read(restored.join("real.txt")).unwrap(),
        b"the real data\n"
    );
    // A backup never builds on it: the next incremental is a full, and says why.
    let b = p.backup("incremental");
    assert_eq!(b["backup_type"], "full", "{b}");
    assert!(b["type_reason"].as_str().unwrap().contains(&newest), "{b}");
}

/// Run `args` to the end and return its output and its peak resident memory in MiB.
///
/// The peak is the child's own `VmHWM`, read from /proc while it runs (it only grows, and the
/// last reading before the exit is kept). wait4's `ru_maxrss` is only the fallback for a child
/// too quick to read: a child started by vfork + exec is charged the high-water mark of the
/// test process it left, so that figure grows with whatever the other tests hold at the time.
// The child is reaped by wait4, not by std's wait.
#[allow(clippy::zombie_processes)]
fn run_measuring_memory(p: &Project, args: &[&str]) -> (Output, u64) {
    let mut child = p
        .cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).unwrap();
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).unwrap();
        v
    });
    let pid = child.id();
    let hwm = std::thread::spawn(move || {
        let mut peak_kib: Option<u64> = None;
        while let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
            let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            else {
                break; // exited: a zombie has no memory left to show
            };
            peak_kib = Some(peak_kib.map_or(kib, |p: u64| p.max(kib)));
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        peak_kib
    });
    let mut status = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for this child, which std never waits for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(r, child.id() as libc::pid_t, "wait4 failed");
    use std::os::unix::process::ExitStatusExt;
    let o = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    };
    let peak_kib = hwm.join().unwrap().unwrap_or(usage.ru_maxrss as u64);
    (o, peak_kib / 1024)
}

/// A zstd stream of `prefix`, `n` bytes of `fill`, `suffix`: small, whatever `n`.
fn bomb(prefix: &[u8], fill: u8, n: u64, suffix: &[u8]) -> Vec<u8> {
    let mut enc = zstd::Encoder::new(Vec::new(), 3).unwrap();
    enc.write_all(prefix).unwrap();
    let chunk = vec![fill; 1 << 20];
    let mut left = n;
    while left > 0 {
        let k = left.min(chunk.len() as u64) as usize;
        enc.write_all(&chunk[..k]).unwrap();
        left -= k as u64;
    }
    enc.write_all(suffix).unwrap();
    enc.finish().unwrap()
}

const GIB: u64 = 1 << 30;
/// Far below the gigabyte each crafted object claims.
const MEMORY_LIMIT_MIB: u64 = 256;

#[tokio::test]
async fn decompression_bombs_cost_bounded_memory_and_are_named() {
    let p = project();
    let repo = open(&p).await;
    // A manifest sealed with the key (so it authenticates) whose JSON is a gigabyte: one entry
    // with a gigabyte path. Listing must not hold it.
    let id = new_backup_id(Utc::now());
    let mut summary = serde_json::to_value(manifest(&id, Vec::new(), Vec::new()).summary).unwrap();
    summary["backup_id"] = json!(id);
    let head = serde_json::to_string(&summary).unwrap();
    let prefix = format!("{},\"entries\":[{{\"path\":\"", &head[..head.len() - 1]);
    let packed = bomb(prefix.as_bytes(), b'a', GIB, b"\"}],\"deleted\":[]}");
    assert!(packed.len() < 1 << 20, "the bomb is {} bytes", packed.len());
    let ctx = repo.context(ObjectKind::Manifest, &id, u32::MAX);
    let sealed = seal_all(repo.master().unwrap(), &ctx, &packed);
    repo.storage()
        .put(&backup_key(&id, "manifest"), Bytes::from(sealed))
        .await
        .unwrap();
    let (o, mib) = run_measuring_memory(&p, &["backup", "list", "--json"]);
    assert_eq!(code(&o), 0, "{}", shown(&o));
    let l: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(ids(&l, "unreadable"), vec![id.clone()], "{l}");
    eprintln!("backup list over a 1 GiB manifest bomb: peak RSS {mib} MiB");
    assert!(mib < MEMORY_LIMIT_MIB, "backup list used {mib} MiB");
    // Restoring it stops at the manifest cap with the reason.
    let target = p.root().join("t");
    let o = p.run_restore("latest", &target, &[]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(stderr(&o).contains("more than"), "{}", shown(&o));
    assert_nothing_restored(&target);
    std::fs::remove_dir_all(p.repo().join("backups").join(&id)).unwrap();

    // A history record that decompresses to a gigabyte.
    let rid = "20991231T000000.000Z_restore-test_0badf00d";
    let packed = bomb(b"{\"record_id\":\"", b'a', GIB, b"\"}");
    let sealed = seal_all(
        repo.master().unwrap(),
        &repo.context(ObjectKind::History, rid, 0),
        &packed,
    );
    repo.storage()
        .put(&format!("history/{rid}"), Bytes::from(sealed))
        .await
        .unwrap();
    // And one whose stored size alone is past what a record may be.
    let big = "20991231T000001.000Z_validation_0badf00d";
    repo.storage()
        .put(&format!("history/{big}"), Bytes::from(vec![0u8; 20 << 20]))
        .await
        .unwrap();
    let (o, mib) = run_measuring_memory(&p, &["restore-test", "report", "--json"]);
    assert_eq!(code(&o), 0, "{}", shown(&o));
    let h: Value = serde_json::from_slice(&o.stdout).unwrap();
    let unreadable = h["unreadable"].to_string();
    assert!(
        unreadable.contains(rid) && unreadable.contains("more than"),
        "{h}"
    );
    assert!(
        unreadable.contains(big) && unreadable.contains("20971520 bytes"),
        "{h}"
    );
    eprintln!("restore-test report over a 1 GiB history bomb: peak RSS {mib} MiB");
    assert!(mib < MEMORY_LIMIT_MIB, "restore-test report used {mib} MiB");
}

#[tokio::test]
async fn a_tar_long_name_of_a_gigabyte_is_refused_without_reading_it() {
    let p = project();
    let repo = open(&p).await;
    let id = new_backup_id(Utc::now());
    // A GNU long-name record that claims a gigabyte, then the gigabyte, then a file.
    let mut h = tar::Header::new_gnu();
    h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
    h.set_entry_type(tar::EntryType::GNULongName);
    h.set_size(GIB);
    h.set_cksum();
    let packed = bomb(h.as_bytes(), b'a', GIB, &tar_of(&[("data/x", b"x")]));
    let sealed = seal_all(
        repo.master().unwrap(),
        &repo.volume_context(&id, 0),
        &packed,
    );
    let vol = VolumeRecord {
        index: 0,
        name: volume_name(0),
        files: 1,
        content_bytes: 1,
        stored_bytes: sealed.len() as u64,
        sha256: sha256_hex(&sealed),
        content: Default::default(),
    };
    repo.storage()
        .put(&backup_key(&id, "vol-00000"), Bytes::from(sealed))
        .await
        .unwrap();
    repo.commit_manifest(&manifest(
        &id,
        vec![file_entry("data/x", b"x", &id)],
        vec![vol],
    ))
    .await
    .unwrap();
    let target = p.root().join("t");
    let target_s = target.to_str().unwrap().to_string();
    let (o, mib) =
        run_measuring_memory(&p, &["restore", "--backup-id", &id, "--target", &target_s]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(stderr(&o).contains("long name"), "{}", shown(&o));
    eprintln!("restore of a volume with a 1 GiB tar long name: peak RSS {mib} MiB");
    assert!(mib < MEMORY_LIMIT_MIB, "restore used {mib} MiB");
    assert!(!target.join("data/x").exists(), "a file was restored");
    let v = p.run(&["backup", "validate", "--level", "full", "--json"]);
    assert_eq!(code(&v), 1, "{}", shown(&v));
    assert!(stdout(&v).contains("long name"), "{}", shown(&v));
}

/// Copy `tests/fixtures/v1-repo` (made by the first release, before configs were
/// authenticated) into a fresh project.
fn v1_project() -> Project {
    let p = Project::new("");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1-repo");
    let copy = |from: &Path, to: &Path| {
        let o = Command::new("cp")
            .arg("-r")
            .arg(from)
            .arg(to)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", shown(&o));
    };
    std::fs::remove_dir_all(p.data()).unwrap();
    copy(&fixture.join("data"), &p.data());
    std::fs::create_dir_all(p.repo()).unwrap();
    copy(&fixture.join("config"), &p.repo().join("config"));
    copy(&fixture.join("backups"), &p.repo().join("backups"));
    let key = p.root().join("key");
    copy(&fixture.join("key"), &key);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

#[test]
fn a_version_1_repository_opens_and_its_first_write_authenticates_the_config() {
    let p = v1_project();
    let config = p.repo().join("config");
    let before = std::fs::read(&config).unwrap();
    let c: Value = serde_json::from_slice(&before).unwrap();
    assert!(
        c.get("auth").is_none(),
        "the fixture is not a version 1 config"
    );

    // Reads work, and change nothing.
    let l = p.json(&["backup", "list"], 0);
    assert_eq!(l["total_count"], 2, "{l}");
    let restored = p.restore("latest");
    for f in ["hello.txt", "sub/two.txt"] {
        assert!(
            std::fs::read(restored.join(f)).unwrap() == std::fs::read(p.data().join(f)).unwrap(),
            "{f} differs"
        );
    }
    // The database was stored as SQLite's online backup made it: the same rows.
    let db = rusqlite::Connection::open(restored.join("app.db")).unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 100);
    p.json(&["backup", "status"], 0);
    assert!(
        std::fs::read(&config).unwrap() == before,
        "a read wrote the config"
    );

    // The first write (here: a validation, which keeps a history record) authenticates it;
    // the backups and the key stay as they were.
    p.json(&["backup", "validate", "--level", "full"], 0);
    p.write("after.txt", "first write of this release\n");
    p.backup("incremental");
    let after: Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    assert!(
        after["auth"].as_str().unwrap().starts_with("hmac-sha256:"),
        "{after}"
    );
    for field in ["repository_id", "created", "encryption", "frame_size"] {
        assert_eq!(after[field], c[field], "{field}");
    }
    assert_eq!(p.json(&["backup", "list"], 0)["total_count"], 3);
    p.json(&["backup", "validate", "--level", "full"], 0);

    // From now on it is protected like a new one: an edit, or removing the code, is caught.
    let authed = std::fs::read(&config).unwrap();
    edit_config(&p, |c| c["frame_size"] = json!(65536));
    let o = p.run(&["backup", "list"]);
    assert_eq!(code(&o), 2, "{}", shown(&o));
    assert!(stderr(&o).contains("was altered"), "{}", shown(&o));
    std::fs::write(&config, &authed).unwrap();
    edit_config(&p, |c| {
        c.as_object_mut().unwrap().remove("auth");
    });
    let o = p.run(&["backup", "list"]);
    assert_eq!(code(&o), 2, "{}", shown(&o));
    assert!(stderr(&o).contains("was removed"), "{}", shown(&o));
}
