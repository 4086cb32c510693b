//! Restore never writes outside its target, whatever a (crafted, authenticated) backup says, and no
//! command ever shows key material.
//!
//! Crafted backups are built with the library inside a real repository that the binary created:
//! hand-written tar streams, compressed with zstd and sealed with the repository's key, so they
//! authenticate and the restore's own checks are what stops them.

mod common;
mod dr_util;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use bytes::Bytes;
use chrono::Utc;
use common::{Project, tree};
use dr_util::*;
use mahavishnu_dr::repo::crypto::{Credential, read_key_file};
use mahavishnu_dr::repo::envelope::seal_all;
use mahavishnu_dr::repo::manifest::{
    Entry, EntryKind, Location, MANIFEST_VERSION, Manifest, ManifestSummary, Origin, Totals,
    VolumeRecord,
};
use mahavishnu_dr::repo::{
    BackupType, Repository, backup_key, new_backup_id, sha256_hex, volume_name,
};
use mahavishnu_dr::storage::{DynStorage, OpendalStorage};

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
