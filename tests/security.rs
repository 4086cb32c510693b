//! Restore never writes outside its target, whatever a (crafted, authenticated) backup says, and no
//! command ever shows key material.
//!
//! Crafted backups are built with the library inside a real repository that the binary created:
//! hand-written tar streams, compressed with zstd and sealed with the repository's key, so they
//! authenticate and the restore's own checks are what stops them.

use crate::common;
use crate::dr_util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use chrono::Utc;
use common::{Project, tree};
use dr_util::*;
use mahavishnu_dr::internals::crypto::{Credential, read_key_file};
use mahavishnu_dr::internals::envelope::seal_all;
use mahavishnu_dr::internals::manifest::{
    Entry, EntryKind, Location, MANIFEST_VERSION, Manifest, ManifestSummary, Origin, Totals,
    VolumeRecord,
};
use mahavishnu_dr::internals::{
    BackupType, Repository, backup_key, new_backup_id, sha256_hex, volume_name,
};
use mahavishnu_dr::{DynStorage, OpendalStorage};

/// One member of a hand-written tar stream; `path` and `link` are raw bytes, unchecked.
struct Member {
    path: Vec<u8>,
    kind: tar::EntryType,
    data: Vec<u8>,
    link: Option<Vec<u8>>,
}

fn file_member(path: &str, data: &[u8]) -> Member {
    Member {
        path: path.as_bytes().to_vec(),
        kind: tar::EntryType::Regular,
        data: data.to_vec(),
        link: None,
    }
}

/// A tar stream written header by header, so paths are exactly what the test says.
fn raw_tar(members: &[Member]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for m in members {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..m.path.len()].copy_from_slice(&m.path);
        if let Some(l) = &m.link {
            h.as_old_mut().linkname[..l.len()].copy_from_slice(l);
        }
        h.set_entry_type(m.kind);
        h.set_mode(0o644);
        h.set_mtime(1_700_000_000);
        h.set_size(m.data.len() as u64);
        h.set_cksum();
        b.append(&h, &m.data[..]).unwrap();
    }
    b.into_inner().unwrap()
}

fn dir_entry(path: &str) -> Entry {
    Entry {
        path: path.into(),
        kind: EntryKind::Dir,
        mode: 0o755,
        mtime_ns: 1_700_000_000_000_000_000,
        size: 0,
        sha256: None,
        target: None,
        location: None,
        origin: Origin::File,
        ctime_ns: 0,
        inode: 0,
        dev: 0,
        stamp: String::new(),
        blocks: None,
    }
}

fn file_entry(path: &str, data: &[u8], id: &str, volume: u32) -> Entry {
    Entry {
        kind: EntryKind::File,
        mode: 0o644,
        size: data.len() as u64,
        sha256: Some(sha256_hex(data)),
        location: Some(Location {
            backup_id: id.into(),
            volume,
        }),
        ..dir_entry(path)
    }
}

fn symlink_entry(path: &str, target: &str) -> Entry {
    Entry {
        kind: EntryKind::Symlink,
        mode: 0o777,
        target: Some(target.into()),
        ..dir_entry(path)
    }
}

/// The repository of `p`, opened with its key through the library.
async fn open(p: &Project) -> Repository {
    let storage: DynStorage = Arc::new(OpendalStorage::local(&p.repo()).unwrap());
    let key = read_key_file(&p.root().join("key")).unwrap();
    Repository::open(storage, Some(&Credential::KeyFile(key)))
        .await
        .unwrap()
}

/// Store a crafted backup: volume 0 holds `members` (when given), the manifest lists `entries`.
/// Returns its id. `entries` locations must name `BACKUP` (replaced by the new id).
async fn craft(p: &Project, members: Option<&[Member]>, entries: Vec<Entry>) -> String {
    let repo = open(p).await;
    let id = new_backup_id(Utc::now());
    let mut volumes = Vec::new();
    if let Some(members) = members {
        let tar = raw_tar(members);
        let packed = zstd::encode_all(&tar[..], 3).unwrap();
        let sealed = seal_all(
            repo.master().unwrap(),
            &repo.volume_context(&id, 0),
            &packed,
        );
        volumes.push(VolumeRecord {
            index: 0,
            name: volume_name(0),
            files: members.len() as u64,
            content_bytes: members.iter().map(|m| m.data.len() as u64).sum(),
            stored_bytes: sealed.len() as u64,
            sha256: sha256_hex(&sealed),
            content: Default::default(),
        });
        repo.storage()
            .put(&backup_key(&id, &volume_name(0)), Bytes::from(sealed))
            .await
            .unwrap();
    }
    let entries: Vec<Entry> = entries
        .into_iter()
        .map(|mut e| {
            if let Some(l) = &mut e.location {
                l.backup_id = id.clone();
            }
            e
        })
        .collect();
    let now = Utc::now();
    let manifest = Manifest {
        summary: ManifestSummary {
            format_version: MANIFEST_VERSION,
            backup_id: id.clone(),
            backup_type: BackupType::Full,
            requested_type: BackupType::Full,
            parent: None,
            chain_root: id.clone(),
            chain_length: 1,
            started: now,
            finished: now,
            host: "crafted".into(),
            tool_version: "crafted".into(),
            compression_level: 3,
            encrypted: true,
            sources: Vec::new(),
            volumes,
            totals: Totals {
                files: entries.iter().filter(|e| e.kind == EntryKind::File).count() as u64,
                ..Totals::default()
            },
            depends_on: Vec::new(),
            warnings: Vec::new(),
            block_map: None,
            base: None,
        },
        entries,
        deleted: Vec::new(),
    };
    repo.commit_manifest(&manifest).await.unwrap();
    id
}

/// A project with a repository made by the binary (and one ordinary backup), an empty
/// `outside/` folder beside the data, and a file `outside/victim.txt` in `victim` mode.
fn project() -> Project {
    let p = Project::new("");
    p.write("ordinary.txt", "an ordinary file\n");
    p.init();
    p.backup("full");
    std::fs::create_dir(p.root().join("outside")).unwrap();
    p
}

/// Everything in the project except the repository and the restore target: what a restore must
/// never touch.
fn outside_state(p: &Project, target: &Path) -> BTreeMap<String, (String, u32, i64, Vec<u8>)> {
    let target_rel = target
        .strip_prefix(p.root())
        .unwrap()
        .to_string_lossy()
        .into_owned();
    tree(p.root())
        .into_iter()
        .filter(|(k, _)| {
            let top = k.split('/').next().unwrap();
            top != "repo" && top != target_rel && top != "scratch"
        })
        .collect()
}

/// Restore `id` into `<root>/target` with extra args; return the output.
fn restore(p: &Project, id: &str, extra: &[&str]) -> (std::process::Output, PathBuf) {
    let target = p.root().join("target");
    let o = p.run_restore(id, &target, extra);
    assert_no_panic(&o);
    (o, target)
}

#[tokio::test]
async fn manifest_paths_that_escape_the_target_are_refused_before_anything_is_written() {
    let p = project();
    let abs = p.root().join("outside").join("evil");
    let abs = abs.to_str().unwrap();
    for bad in [
        "../escape.txt",
        abs,
        "a/../../x",
        "data/../../escape2.txt",
        "./data/../../../escape3.txt",
        "data//x",
    ] {
        let ok = b"fine".to_vec();
        let evil = b"escaped!".to_vec();
        let members = vec![file_member("data/ok.txt", &ok), file_member(bad, &evil)];
        let entries = vec![
            dir_entry("data"),
            file_entry("data/ok.txt", &ok, "BACKUP", 0),
            file_entry(bad, &evil, "BACKUP", 0),
        ];
        let id = craft(&p, Some(&members), entries).await;
        let before = outside_state(&p, &p.root().join("target"));
        let (o, target) = restore(&p, &id, &[]);
        assert_eq!(code(&o), 1, "{bad}: {}", shown(&o));
        assert!(
            stderr(&o).contains("unsafe"),
            "{bad}: the error should say the path is unsafe:\n{}",
            shown(&o)
        );
        assert_eq!(
            outside_state(&p, &target),
            before,
            "{bad}: a restore wrote outside its target"
        );
        assert!(
            files_under(&target).is_empty(),
            "{bad}: a refused restore wrote files: {:?}",
            files_under(&target).keys().collect::<Vec<_>>()
        );
        let _ = std::fs::remove_dir_all(&target);
    }
}

#[tokio::test]
async fn full_validation_flags_a_backup_that_restore_would_refuse() {
    // A backup whose manifest and volume agree on an unsafe path: restore refuses it (above), so
    // a full validation must not call it good.
    let p = project();
    let evil = b"escaped!".to_vec();
    let id = craft(
        &p,
        Some(&[file_member("../escape.txt", &evil)]),
        vec![file_entry("../escape.txt", &evil, "BACKUP", 0)],
    )
    .await;
    let (o, _) = restore(&p, &id, &[]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    let o = p.run(&[
        "backup",
        "validate",
        "--backup-id",
        &id,
        "--level",
        "full",
        "--json",
    ]);
    assert_no_panic(&o);
    let v = json_of(&o);
    assert_eq!(
        (code(&o), &v["ok"]),
        (1, &serde_json::Value::Bool(false)),
        "full validation passes a backup that cannot be restored:\n{}",
        shown(&o)
    );
    assert!(
        v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["backup_id"] == id.as_str() && p.to_string().contains("escape.txt")),
        "{v}"
    );
}

#[tokio::test]
async fn a_volume_holding_a_file_its_manifest_does_not_place_is_refused() {
    let p = project();
    let a = b"the real file".to_vec();
    let members = vec![
        file_member("data/sneaky.txt", b"not in the manifest"),
        file_member("data/a.txt", &a),
    ];
    let id = craft(
        &p,
        Some(&members),
        vec![dir_entry("data"), file_entry("data/a.txt", &a, "BACKUP", 0)],
    )
    .await;
    let before = outside_state(&p, &p.root().join("target"));
    let (o, target) = restore(&p, &id, &[]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(
        stderr(&o).contains("sneaky.txt") && stderr(&o).contains("does not place"),
        "{}",
        shown(&o)
    );
    assert!(!target.join("data/sneaky.txt").exists());
    assert_eq!(outside_state(&p, &target), before);
    let v = json_run(
        &p,
        &["backup", "validate", "--backup-id", &id, "--level", "full"],
        1,
    )
    .0;
    assert!(
        v["problems"][0]["problem"]
            .as_str()
            .unwrap()
            .contains("sneaky"),
        "{v}"
    );
}

#[tokio::test]
async fn a_volume_entry_that_escapes_is_refused() {
    let p = project();
    let a = b"the real file".to_vec();
    for bad in ["../escape.txt", "data/../../escape.txt"] {
        let members = vec![file_member(bad, b"escaped"), file_member("data/a.txt", &a)];
        let id = craft(
            &p,
            Some(&members),
            vec![dir_entry("data"), file_entry("data/a.txt", &a, "BACKUP", 0)],
        )
        .await;
        let before = outside_state(&p, &p.root().join("target"));
        let (o, target) = restore(&p, &id, &[]);
        assert_eq!(code(&o), 1, "{bad}: {}", shown(&o));
        assert!(stderr(&o).contains("escape.txt"), "{bad}: {}", shown(&o));
        assert_eq!(outside_state(&p, &target), before, "{bad}");
        assert!(!p.root().join("escape.txt").exists());
        let _ = std::fs::remove_dir_all(&target);
    }
}

#[tokio::test]
async fn link_entries_in_a_volume_are_refused() {
    let p = project();
    let victim = p.root().join("outside/victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let outside = p.root().join("outside");
    let cases = [
        (
            "symlink to an outside folder",
            tar::EntryType::Symlink,
            outside.to_str().unwrap().as_bytes().to_vec(),
        ),
        (
            "relative symlink",
            tar::EntryType::Symlink,
            b"../../outside/victim.txt".to_vec(),
        ),
        (
            "hardlink to an outside file",
            tar::EntryType::Link,
            victim.to_str().unwrap().as_bytes().to_vec(),
        ),
    ];
    for (what, kind, link) in cases {
        // The manifest says data/a.txt is a plain 8-byte file; the volume makes it a link, then
        // writes through it.
        let a = b"OVERWRIT".to_vec();
        let members = vec![
            Member {
                path: b"data/a.txt".to_vec(),
                kind,
                data: Vec::new(),
                link: Some(link),
            },
            file_member("data/a.txt", &a),
        ];
        let id = craft(
            &p,
            Some(&members),
            vec![dir_entry("data"), file_entry("data/a.txt", &a, "BACKUP", 0)],
        )
        .await;
        let before = outside_state(&p, &p.root().join("target"));
        let (o, target) = restore(&p, &id, &[]);
        assert_eq!(code(&o), 1, "{what}: {}", shown(&o));
        assert!(
            stderr(&o).contains("not a regular file"),
            "{what}: {}",
            shown(&o)
        );
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious", "{what}");
        assert_eq!(outside_state(&p, &target), before, "{what}");
        let a_path = target.join("data/a.txt");
        assert!(
            std::fs::symlink_metadata(&a_path).is_err(),
            "{what}: {} was created",
            a_path.display()
        );
        let _ = std::fs::remove_dir_all(&target);
    }
}

#[tokio::test]
async fn a_manifest_symlink_never_carries_a_file_outside() {
    // The manifest holds a symlink data/link -> outside and a file beneath it, data/link/x.txt.
    let p = project();
    let outside = p.root().join("outside");
    let x = b"beneath the link".to_vec();
    let members = vec![file_member("data/link/x.txt", &x)];
    let id = craft(
        &p,
        Some(&members),
        vec![
            dir_entry("data"),
            symlink_entry("data/link", outside.to_str().unwrap()),
            file_entry("data/link/x.txt", &x, "BACKUP", 0),
        ],
    )
    .await;
    let before = outside_state(&p, &p.root().join("target"));
    let (o, target) = restore(&p, &id, &[]);
    assert!(code(&o) <= 1, "{}", shown(&o));
    assert_eq!(outside_state(&p, &target), before, "{}", shown(&o));
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "a file landed in outside/"
    );
}

#[test]
fn a_symlinked_folder_in_the_target_is_never_written_through() {
    let p = project();
    p.write("sub/b.txt", "b");
    p.write("a.txt", "a");
    let id = p.backup("full")["backup_id"].as_str().unwrap().to_string();
    let outside = p.root().join("outside");
    let target = p.root().join("target");
    std::fs::create_dir(&target).unwrap();
    std::os::unix::fs::symlink(&outside, target.join("data")).unwrap();

    let (o, _) = restore(&p, &id, &["--overwrite"]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(stderr(&o).contains("symlink"), "{}", shown(&o));
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "the restore wrote through the symlink into outside/: {:?}",
        files_under(&outside).keys().collect::<Vec<_>>()
    );
    assert!(
        std::fs::symlink_metadata(target.join("data"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_symlinked_file_in_the_target_is_replaced_not_followed() {
    let p = project();
    p.write("a.txt", "restored content");
    let id = p.backup("full")["backup_id"].as_str().unwrap().to_string();
    let victim = p.root().join("outside/victim.txt");
    std::fs::write(&victim, "precious").unwrap();
    let target = p.root().join("target");
    std::fs::create_dir_all(target.join("data")).unwrap();
    std::os::unix::fs::symlink(&victim, target.join("data/a.txt")).unwrap();

    let (o, _) = restore(&p, &id, &["--overwrite"]);
    assert_eq!(code(&o), 0, "{}", shown(&o));
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
    let m = std::fs::symlink_metadata(target.join("data/a.txt")).unwrap();
    assert!(m.is_file(), "data/a.txt is still a link");
    assert_eq!(
        std::fs::read(target.join("data/a.txt")).unwrap(),
        b"restored content"
    );
}

#[test]
fn no_command_ever_shows_key_material() {
    let p = Project::new("  volume_size_mb: 1\n");
    p.write("a.txt", "alpha");
    p.write("big.bin", noise(7, 300 << 10));
    let mut outputs = Vec::new();
    let o = p.run(&["init", "--generate-key", "--json"]);
    assert_eq!(code(&o), 0, "{}", shown(&o));
    outputs.push(("init --json", o));
    let key_text = std::fs::read_to_string(p.root().join("key")).unwrap();
    let key_text = key_text.trim().to_string();
    let key_bytes = base64::engine::general_purpose::STANDARD
        .decode(&key_text)
        .unwrap();
    assert_eq!(key_bytes.len(), 32);
    let key_hex = hex::encode(&key_bytes);

    let p2 = Project::new("");
    outputs.push(("init (text)", p2.run(&["init", "--generate-key"])));
    let key2 = std::fs::read_to_string(p2.root().join("key")).unwrap();

    let t1 = p.root().join("target1").display().to_string();
    let t2 = p.root().join("target2").display().to_string();
    let t3 = p.root().join("target3").display().to_string();
    let runs: Vec<Vec<&str>> = vec![
        vec!["backup", "run", "--type", "full"],
        vec!["backup", "run", "--type", "incremental"],
        vec!["backup", "status"],
        vec!["backup", "list"],
        vec!["backup", "validate", "--level", "quick"],
        vec!["backup", "validate", "--level", "checksum"],
        vec!["backup", "validate", "--level", "full"],
        vec!["backup", "cleanup", "--dry-run"],
        vec!["backup", "cleanup"],
        vec!["restore", "--target", &t3, "--overwrite"],
    ];
    for args in runs {
        for json in [true, false] {
            let mut a = args.clone();
            if json {
                a.push("--json");
            }
            let o = p.run(&a);
            assert_eq!(code(&o), 0, "{a:?}: {}", shown(&o));
            outputs.push(("run", o));
        }
    }
    for (t, json) in [(&t1, true), (&t2, false)] {
        let mut a = vec!["restore", "--target", t.as_str()];
        if json {
            a.push("--json");
        }
        let o = p.run(&a);
        assert_eq!(code(&o), 0, "{a:?}: {}", shown(&o));
        outputs.push(("restore", o));
    }
    // An error path too: a wrong key.
    std::fs::write(p.root().join("key.good"), &key_text).unwrap();
    std::fs::copy(p2.root().join("key"), p.root().join("key")).unwrap();
    outputs.push(("wrong key", p.run(&["backup", "status", "--json"])));
    outputs.push(("wrong key", p.run(&["backup", "run"])));

    for (what, o) in &outputs {
        let all = format!("{}{}", stdout(o), stderr(o));
        for secret in [key_text.as_str(), key_hex.as_str(), key2.trim()] {
            assert!(
                !all.contains(secret),
                "{what}: key material appears in the output:\n{all}"
            );
        }
    }
    // Nor does the repository hold the key in any readable form.
    for (path, bytes) in files_under(&p.repo()) {
        for secret in [key_text.as_bytes(), key_hex.as_bytes(), &key_bytes[..]] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret),
                "{path} holds the key"
            );
        }
    }
}

#[test]
fn backup_ids_that_are_paths_are_usage_errors() {
    let p = project();
    for bad in [
        "../../etc",
        "backup_x/../../y",
        "/etc/passwd",
        "backup_x/..",
    ] {
        let t = p.root().join("target");
        for args in [
            vec![
                "restore",
                "--backup-id",
                bad,
                "--target",
                t.to_str().unwrap(),
            ],
            vec!["backup", "validate", "--backup-id", bad, "--level", "full"],
        ] {
            let o = p.run(&args);
            assert_no_panic(&o);
            assert_eq!(code(&o), 2, "{args:?}: {}", shown(&o));
            assert!(stderr(&o).contains("not a backup id"), "{}", shown(&o));
        }
        assert!(!t.exists(), "{bad}: the target was created");
    }
}

// ---------------------------------------------------------------------------------------------
// Private folders, special bits, restore targets (security review, issue 9: findings 6, 11, 12)

/// The `--json` error of a failed run: (kind, message, guidance).
fn error_of(v: &serde_json::Value) -> (String, String, String) {
    let e = &v["error"];
    let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
    (s("kind"), s("message"), s("guidance"))
}

fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::symlink_metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Give `p` to uid/gid 65534 (nobody), as if another user had made it. None when this process
/// may not (tests normally run as root).
fn give_to_nobody(p: &Path) -> Option<()> {
    match std::os::unix::fs::chown(p, Some(65534), Some(65534)) {
        Ok(()) => Some(()),
        Err(e) => {
            eprintln!("skipped: cannot chown {} ({e}); run as root", p.display());
            None
        }
    }
}

#[test]
fn a_symlinked_scratch_folder_is_refused_and_nothing_lands_where_it_points() {
    // A project with a command source too: a backup writes its output (plaintext) in scratch.
    let p = project();
    let cfg = std::fs::read_to_string(p.config()).unwrap().replace(
        "sources: [\"./data\"]",
        "sources: [\"./data\", {name: \"dump.sql\", command: [\"sh\", \"-c\", \"echo secret rows\"]}]",
    );
    std::fs::write(p.config(), cfg).unwrap();
    // Another user's folder, and the scratch folder replaced by a link to it.
    let elsewhere = p.root().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let scratch = p.root().join("scratch");
    std::os::unix::fs::symlink(&elsewhere, &scratch).unwrap();

    for args in [
        vec!["restore-test", "run", "--keep"],
        vec!["restore-test", "measure-rto"],
        vec!["backup", "run", "--type", "full"],
    ] {
        let (v, _) = json_run(&p, &args, 1);
        let (kind, message, guidance) = error_of(&v);
        assert_eq!(kind, "refused", "{args:?}: {v}");
        assert!(
            message.contains(&scratch.display().to_string()) && message.contains("symlink"),
            "{args:?}: the error should name the linked scratch folder: {message}"
        );
        assert!(
            guidance.contains("disaster_recovery.restore_test.scratch_dir"),
            "{args:?}: {guidance}"
        );
        assert!(
            std::fs::read_dir(&elsewhere).unwrap().next().is_none(),
            "{args:?} wrote into the folder the scratch link points at: {:?}",
            files_under(&elsewhere).keys().collect::<Vec<_>>()
        );
    }
    assert!(
        std::fs::symlink_metadata(&scratch)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

#[test]
fn a_scratch_folder_owned_by_another_user_is_refused() {
    let p = project();
    let scratch = p.root().join("scratch");
    std::fs::create_dir(&scratch).unwrap();
    if give_to_nobody(&scratch).is_none() {
        return;
    }
    let (v, stderr_text) = json_run(&p, &["restore-test", "run", "--keep"], 1);
    let (kind, message, guidance) = error_of(&v);
    assert_eq!(kind, "refused", "{v}");
    assert!(
        message.contains(&scratch.display().to_string())
            && message.contains("another user (uid 65534"),
        "{message}"
    );
    assert!(guidance.contains("scratch_dir"), "{guidance}");
    assert!(stderr_text.contains("what to do"), "{stderr_text}");
    assert!(
        std::fs::read_dir(&scratch).unwrap().next().is_none(),
        "something was restored into the other user's folder: {:?}",
        files_under(&scratch).keys().collect::<Vec<_>>()
    );
}

#[test]
fn scratch_copies_are_private_and_live_in_the_projects_state_folder() {
    // The built-in default: <project>/state/scratch, not a world-writable /tmp.
    let p = project();
    let cfg = std::fs::read_to_string(p.config()).unwrap();
    let without = cfg.replace(
        "disaster_recovery:\n  restore_test: { scratch_dir: \"./scratch\" }\n",
        "",
    );
    assert_ne!(cfg, without, "the test project's scratch_dir line changed");
    std::fs::write(p.config(), without).unwrap();
    let o = p.run(&["restore-test", "run", "--keep", "--json"]);
    assert_no_panic(&o);
    let v = json_of(&o);
    assert_eq!(v["restore_ok"], true, "{}", shown(&o));
    let kept = PathBuf::from(v["scratch_dir"].as_str().unwrap());
    let state = p.root().join("state");
    assert!(
        kept.starts_with(state.join("scratch")),
        "{} is not under {}",
        kept.display(),
        state.display()
    );
    for dir in [state.clone(), state.join("scratch"), kept.clone()] {
        assert_eq!(mode_of(&dir), 0o700, "{}", dir.display());
    }
    assert_eq!(
        std::fs::read(kept.join("data/ordinary.txt")).unwrap(),
        b"an ordinary file\n"
    );
    // A restore target the restore creates is private too.
    let target = p.root().join("new/target");
    let o = p.run_restore("latest", &target, &[]);
    assert_eq!(code(&o), 0, "{}", shown(&o));
    assert_eq!(mode_of(&target), 0o700);
    assert_eq!(mode_of(&p.root().join("new")), 0o700);
}

#[tokio::test]
async fn mcp_restore_roots_that_are_links_or_another_users_are_refused() {
    use common::mcp::{Collector, call, is_tool_error};
    use mahavishnu_dr::DrServer;
    use mahavishnu_dr::{Dr, load_settings};
    use rmcp::ServiceExt;
    use serde_json::json;

    let p = project();
    let roots = p.root().join("restores");
    let elsewhere = p.root().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &roots).unwrap();
    p.add_settings(&format!(
        "mcp:\n  restore_roots: [\"{}\"]\n",
        roots.display()
    ));

    let loaded = load_settings(Some(&p.config()), p.root(), &[]).expect("settings");
    let server = DrServer::new(Dr::new(loaded).expect("dr"));
    let (a, b) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let running = server.serve(a).await.expect("server starts");
        let _ = running.waiting().await;
    });
    let client = Collector::default()
        .serve(b)
        .await
        .expect("client connects");
    let shown_root = roots.display().to_string();

    let r = call(&client, "restore_run", json!({"target_dir": "x"})).await;
    is_tool_error("restore_run", &r, &[&shown_root, "symlink"]);
    let r = call(&client, "restore_backup", json!({"backup_id": ""})).await;
    is_tool_error("restore_backup", &r, &[&shown_root, "symlink"]);
    assert!(
        std::fs::read_dir(&elsewhere).unwrap().next().is_none(),
        "an agent restored into the folder the restore root links to"
    );

    // The root is a real folder, but another user's.
    std::fs::remove_file(&roots).unwrap();
    std::fs::create_dir(&roots).unwrap();
    if give_to_nobody(&roots).is_none() {
        return;
    }
    let r = call(&client, "restore_run", json!({"target_dir": "x"})).await;
    is_tool_error("restore_run", &r, &[&shown_root, "another user"]);
    assert!(std::fs::read_dir(&roots).unwrap().next().is_none());
}

#[tokio::test]
async fn a_crafted_setuid_entry_comes_back_without_special_bits() {
    let p = project();
    let tool = b"#!/bin/sh\nid\n".to_vec();
    let members = vec![file_member("data/tool", &tool)];
    let id = craft(
        &p,
        Some(&members),
        vec![
            dir_entry("data"),
            Entry {
                mode: 0o3777,
                ..dir_entry("data/shared")
            },
            Entry {
                mode: 0o6755,
                ..file_entry("data/tool", &tool, "BACKUP", 0)
            },
        ],
    )
    .await;

    // A plain restore drops setuid, setgid and sticky, and says so.
    let target = p.root().join("target");
    let (v, _) = json_run(&p, &Project::restore_args(&id, &target, &[]), 0);
    assert_eq!(
        mode_of(&target.join("data/tool")),
        0o755,
        "the setuid/setgid file came back with its special bits"
    );
    assert_eq!(mode_of(&target.join("data/shared")), 0o777);
    let warnings = v["warnings"].to_string();
    assert!(
        warnings.contains("setuid") && warnings.contains("data/tool"),
        "the restore should say which entries lost their bits: {warnings}"
    );

    // Asked for explicitly, they are kept.
    let kept = p.root().join("kept");
    json_run(
        &p,
        &Project::restore_args(&id, &kept, &["--keep-special-bits"]),
        0,
    );
    assert_eq!(mode_of(&kept.join("data/tool")), 0o6755);
    assert_eq!(mode_of(&kept.join("data/shared")), 0o3777);

    // A restore test's scratch copy never has them.
    let o = p.run(&[
        "restore-test",
        "run",
        "--backup-id",
        &id,
        "--keep",
        "--json",
    ]);
    assert_no_panic(&o);
    let v = json_of(&o);
    assert_eq!(v["restore_ok"], true, "{}", shown(&o));
    let scratch = PathBuf::from(v["scratch_dir"].as_str().unwrap());
    assert_eq!(mode_of(&scratch.join("data/tool")), 0o755);
    assert_eq!(mode_of(&scratch.join("data/shared")), 0o777);
}

#[test]
fn a_symlink_as_the_restore_target_is_refused() {
    let p = project();
    let outside = p.root().join("outside");
    let target = p.root().join("target");
    std::os::unix::fs::symlink(&outside, &target).unwrap();
    for extra in [vec![], vec!["--overwrite"]] {
        let (v, _) = json_run(&p, &Project::restore_args("latest", &target, &extra), 1);
        let (kind, message, guidance) = error_of(&v);
        assert_eq!(kind, "refused", "{extra:?}: {v}");
        assert!(
            message.contains(&target.display().to_string()) && message.contains("symlink"),
            "{extra:?}: {message}"
        );
        assert!(guidance.contains("link"), "{guidance}");
        assert!(
            std::fs::read_dir(&outside).unwrap().next().is_none(),
            "{extra:?}: the restore followed the target link into outside/: {:?}",
            files_under(&outside).keys().collect::<Vec<_>>()
        );
    }
}

#[tokio::test]
async fn a_failed_restore_leaves_nothing_in_its_target() {
    // data/a.txt restores fine; data/b.txt fails its SHA-256 after a.txt was written.
    let p = project();
    let a = b"a good file".to_vec();
    let members = vec![
        file_member("data/a.txt", &a),
        file_member("data/b.txt", b"EVIL"),
    ];
    let id = craft(
        &p,
        Some(&members),
        vec![
            dir_entry("data"),
            file_entry("data/a.txt", &a, "BACKUP", 0),
            Entry {
                sha256: Some(sha256_hex(b"GOOD")),
                ..file_entry("data/b.txt", b"EVIL", "BACKUP", 0)
            },
        ],
    )
    .await;

    // A new target: not even the folder stays.
    let target = p.root().join("target");
    let (v, _) = json_run(&p, &Project::restore_args(&id, &target, &[]), 1);
    assert_eq!(error_of(&v).0, "integrity", "{v}");
    assert!(
        !target.exists(),
        "a failed restore left {:?}",
        files_under(&target).keys().collect::<Vec<_>>()
    );

    // An existing empty target stays empty.
    std::fs::create_dir(&target).unwrap();
    let (v, _) = json_run(&p, &Project::restore_args(&id, &target, &[]), 1);
    assert_eq!(error_of(&v).0, "integrity", "{v}");
    let left: Vec<_> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "a failed restore left {left:?}");
}
