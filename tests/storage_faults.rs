//! Storage failures during a backup (a full disk, a store that goes away): the backup fails with
//! a clear error, and nothing already stored is lost or changed.

use crate::common;

use std::sync::Arc;

use common::Project;
use mahavishnu_dr::BackupOptions;
use mahavishnu_dr::RestoreOptions;
use mahavishnu_dr::internals::BackupType;
use mahavishnu_dr::{Cancel, NoProgress};
use mahavishnu_dr::{Dr, ErrorKind};
use mahavishnu_dr::{DynStorage, Fault, FaultStorage, OpendalStorage};
use mahavishnu_dr::{ValidateOptions, ValidationLevel};

/// A `Dr` over the project's real repository folder, behind a fault-injection layer.
fn faulty_dr(p: &Project) -> (Dr, Arc<FaultStorage>) {
    let loaded = mahavishnu_dr::load_settings(Some(&p.config()), p.root(), &[]).unwrap();
    let local: DynStorage = Arc::new(OpendalStorage::local(&p.repo()).unwrap());
    let faulty = Arc::new(FaultStorage::new(local));
    (Dr::with_storage(loaded, faulty.clone()), faulty)
}

fn files(p: &Project) -> std::collections::BTreeMap<String, Vec<u8>> {
    fn walk(
        base: &std::path::Path,
        dir: &std::path::Path,
        out: &mut std::collections::BTreeMap<String, Vec<u8>>,
    ) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                let rel = path.strip_prefix(base).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(&p.repo(), &p.repo(), &mut out);
    out
}

fn full() -> BackupOptions {
    BackupOptions {
        backup_type: BackupType::Full,
        ..BackupOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_the_backup_and_loses_nothing() {
    let p = Project::new("  volume_size_mb: 1\n");
    for i in 0..6 {
        p.write(&format!("f{i}.bin"), vec![i as u8; 700_000]);
    }
    p.init();
    let first = p.backup("full");
    let before = files(&p);

    let (dr, faulty) = faulty_dr(&p);
    p.write("new.txt", "more data");
    // The disk fills while the volumes are written.
    faulty.inject(Fault::FailWrites {
        key_contains: "vol-00002".into(),
    });
    let err = dr
        .backup(&full(), Arc::new(NoProgress), &Cancel::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Storage, "{err}");
    assert!(err.to_string().contains("no space left"), "{err}");
    faulty.clear();

    // Everything stored before is byte-identical; nothing of the failed backup remains.
    let after: std::collections::BTreeMap<_, _> = files(&p)
        .into_iter()
        .filter(|(k, _)| !k.starts_with("locks/"))
        .collect();
    let before: std::collections::BTreeMap<_, _> = before
        .into_iter()
        .filter(|(k, _)| !k.starts_with("locks/"))
        .collect();
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "the failed backup left objects behind or removed some"
    );
    assert!(after == before, "stored bytes changed");

    // The repository is valid and the earlier backup restores.
    let v = dr
        .validate(
            &ValidateOptions {
                level: ValidationLevel::Full,
                ..ValidateOptions::default()
            },
            Arc::new(NoProgress),
            &Cancel::new(),
        )
        .await
        .unwrap();
    assert!(v.ok, "{:?}", v.problems);
    let target = p.root().join("restored");
    let r = dr
        .restore(
            &RestoreOptions::into_folder(first["backup_id"].as_str().unwrap(), target.clone()),
            Arc::new(NoProgress),
            &Cancel::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.files, 6);
    // And the next backup, with the disk freed, works.
    let ok = dr
        .backup(&full(), Arc::new(NoProgress), &Cancel::new())
        .await
        .unwrap();
    assert_eq!(ok.totals.files, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_store_fails_with_a_storage_error_and_writes_nothing() {
    let p = Project::new("  volume_size_mb: 1\n");
    for i in 0..4 {
        p.write(&format!("f{i}.bin"), vec![i as u8; 600_000]);
    }
    p.init();
    let (dr, faulty) = faulty_dr(&p);
    // The store is gone (a partition, a lost region): every operation fails.
    faulty.inject(Fault::Unavailable);
    let err = dr
        .backup(&full(), Arc::new(NoProgress), &Cancel::new())
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Storage, "{err}");
    faulty.clear();
    let list = p.json(&["backup", "list"], 0);
    assert_eq!(list["total_count"], 0, "{list}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_backup_commits_nothing_and_the_next_one_works() {
    let p = Project::new("  volume_size_mb: 1\n");
    for i in 0..4 {
        p.write(&format!("f{i}.bin"), vec![i as u8; 600_000]);
    }
    p.init();
    let (dr, _faulty) = faulty_dr(&p);
    let cancel = Cancel::new();
    cancel.cancel();
    let err = dr
        .backup(&full(), Arc::new(NoProgress), &cancel)
        .await
        .unwrap_err();
    assert_eq!(err.kind, ErrorKind::Cancelled, "{err}");
    let status = p.json(&["backup", "status"], 0);
    assert_eq!(status["backup_count"], 0, "{status}");
    assert_eq!(
        status["unfinished"].as_array().unwrap().len(),
        0,
        "{status}"
    );
    let ok = dr
        .backup(&full(), Arc::new(NoProgress), &Cancel::new())
        .await
        .unwrap();
    assert_eq!(ok.totals.files, 4);
}
