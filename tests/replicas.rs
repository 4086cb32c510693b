//! Replicas: a backup chain copied to another store by the replica engine is a whole repository
//! there (it lists, restores byte-identical and validates at full level from the replica alone);
//! a copy cut short before a manifest leaves no half backup, and the next copy finishes it.

use crate::common;
use crate::dr_util;

use std::path::Path;
use std::sync::Arc;

use common::Project;
use dr_util::*;
use mahavishnu_dr::internals::Repository;
use mahavishnu_dr::internals::catalog::Catalog;
use mahavishnu_dr::internals::crypto::{Credential, read_key_file};
use mahavishnu_dr::internals::replica::{copy_backup, copy_history, sync_config};
use mahavishnu_dr::{DynStorage, Fault, FaultStorage, OpendalStorage};

/// Copy every backup of `p`'s repository (oldest first) and its history to `to`; the ids
/// copied, or the first error.
fn replicate(p: &Project, to: DynStorage) -> Result<Vec<String>, mahavishnu_dr::Error> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let storage: DynStorage = Arc::new(OpendalStorage::local(&p.repo()).unwrap());
        let key = read_key_file(&p.root().join("key")).unwrap();
        let repo = Repository::open(storage, Some(&Credential::KeyFile(key))).await?;
        let catalog = Catalog::load(&repo).await?;
        sync_config(&repo, &to).await?;
        let mut copied = Vec::new();
        for b in &catalog.backups {
            let s = copy_backup(&repo, b, &to).await?;
            if s.objects > 0 {
                copied.push(b.backup_id.clone());
            }
        }
        copy_history(&repo, &to).await?;
        Ok(copied)
    })
}

/// A project using `replica` (another project's folder) as its repository, with the same key.
fn on_replica(p: &Project) -> Project {
    let r = Project::new("");
    std::fs::copy(p.root().join("key"), r.root().join("key")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(r.root().join("key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    r
}

fn local(dir: &Path) -> DynStorage {
    Arc::new(OpendalStorage::local(dir).unwrap())
}

#[test]
fn a_chain_copied_to_a_replica_restores_and_validates_from_the_replica_alone() {
    let p = Project::new("  block_incremental: { min_file_mb: 1 }\n");
    p.init();
    p.write("big.bin", noise(1, (3 << 20) + 5));
    p.write("notes/a.txt", b"first");
    let full = p.backup("full");
    let mut big = noise(1, (3 << 20) + 5);
    big[1_000_000..1_000_100].fill(7);
    p.write("big.bin", &big);
    p.write("notes/b.txt", b"second");
    let inc = p.backup("incremental");
    let v = p.json(&["backup", "validate", "--level", "quick"], 0);
    assert_eq!(v["ok"], true, "{v}");

    let r = on_replica(&p);
    let copied = replicate(&p, local(&r.repo())).unwrap();
    let ids = [
        full["backup_id"].as_str().unwrap(),
        inc["backup_id"].as_str().unwrap(),
    ];
    assert_eq!(copied, ids, "oldest first, each once");
    assert!(
        replicate(&p, local(&r.repo())).unwrap().is_empty(),
        "a second copy moved backups again"
    );

    // The primary's history (its validation) is there too.
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d.join("history"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert!(!names(&p.repo()).is_empty());
    assert_eq!(names(&p.repo()), names(&r.repo()));

    // The replica alone: listed, restored as the primary restores, validated in full.
    let l = r.json(&["backup", "list"], 0);
    assert_eq!(l["total_count"], 2, "{l}");
    for id in ids {
        common::assert_same_tree(&p.restore(id), &r.restore(id));
    }
    let v = r.json(&["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");
}

#[test]
fn a_copy_cut_short_leaves_no_half_backup_and_the_next_copy_finishes_it() {
    let p = Project::new("");
    p.init();
    p.write("a.txt", b"one");
    p.backup("full");
    p.write("a.txt", b"two");
    let inc = p.backup("incremental");
    let inc_id = inc["backup_id"].as_str().unwrap().to_string();

    let r = on_replica(&p);
    let faulty = Arc::new(FaultStorage::new(local(&r.repo())));
    faulty.inject(Fault::FailWrites {
        key_contains: format!("{inc_id}/manifest"),
    });
    let e = replicate(&p, faulty.clone()).unwrap_err();
    assert!(e.to_string().contains("manifest"), "{e}");
    let l = r.json(&["backup", "list"], 0);
    assert_eq!(l["total_count"], 1, "a half-copied backup is listed: {l}");
    let v = r.json(&["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");

    faulty.clear();
    assert_eq!(replicate(&p, faulty).unwrap(), vec![inc_id.clone()]);
    assert_eq!(
        std::fs::read(r.restore(&inc_id).join("a.txt")).unwrap(),
        b"two"
    );
}

#[test]
fn a_replica_holding_another_repository_is_refused_and_left_alone() {
    let p = Project::new("");
    p.init();
    p.write("a.txt", b"one");
    p.backup("full");
    let other = Project::new("");
    other.init();
    let before = std::fs::read(other.repo().join("config")).unwrap();
    let e = replicate(&p, local(&other.repo())).unwrap_err();
    assert!(e.to_string().contains("another repository"), "{e}");
    assert_eq!(std::fs::read(other.repo().join("config")).unwrap(), before);
    assert!(
        !other.repo().join("backups").exists()
            || std::fs::read_dir(other.repo().join("backups"))
                .unwrap()
                .next()
                .is_none()
    );
}
