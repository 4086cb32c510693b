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

/// `backup.storage.replicas` lines for `Project::new`: local replicas named as given, under the
/// project root.
fn replicas_yaml(entries: &[&str]) -> String {
    format!(
        "  storage:\n    replicas:\n{}",
        entries
            .iter()
            .map(|e| format!("      - {e}\n"))
            .collect::<String>()
    )
}

fn ids_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir.join("backups"))
        .map(|d| {
            d.map(|e| e.unwrap())
                .filter(|e| e.path().join("manifest").is_file())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn every_backup_reaches_every_replica_and_any_command_fails_over_to_one() {
    let p = Project::new(&replicas_yaml(&[
        "{ name: copy, type: local, path: ./replica-a }",
        "{ name: far, type: local, path: ./replica-b }",
    ]));
    p.write("big.bin", noise(3, (1 << 20) + 77));
    p.write("notes/a.txt", b"first");
    let full = p.json(&["backup", "run", "--type", "full"], 0);
    let rep = full["replication"].as_array().unwrap();
    assert_eq!(rep.len(), 2, "{full}");
    for r in rep {
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(r["copied"], serde_json::json!([full["backup_id"]]), "{r}");
        assert_eq!(r["config"], "created", "{r}");
    }
    p.write("notes/a.txt", b"second");
    let inc = p.json(&["backup", "run"], 0);
    for r in inc["replication"].as_array().unwrap() {
        assert_eq!(r["copied"], serde_json::json!([inc["backup_id"]]), "{r}");
        assert_eq!(r["config"], serde_json::Value::Null, "{r}");
    }
    let all = ids_in(&p.repo());
    assert_eq!(all.len(), 2);
    assert_eq!(ids_in(&p.root().join("replica-a")), all);
    assert_eq!(ids_in(&p.root().join("replica-b")), all);

    // Status and the report show the replicas holding everything.
    let s = p.json(&["backup", "status"], 0);
    let lags = s["replicas"].as_array().unwrap();
    assert_eq!(lags.len(), 2, "{s}");
    for l in lags {
        assert_eq!(l["missing"], 0, "{l}");
        assert_eq!(l["lag_seconds"], 0, "{l}");
        assert_eq!(l["newest_held"]["backup_id"], inc["backup_id"], "{l}");
    }
    let r = p.json(&["report"], 0);
    let check = r["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "replicas")
        .unwrap();
    assert_eq!(check["status"], "pass", "{check}");

    // The primary is lost: every reading command works from a replica by name.
    std::fs::rename(p.repo(), p.root().join("lost")).unwrap();
    let l = p.json(&["--repository", "far", "backup", "list"], 0);
    assert_eq!(l["total_count"], 2, "{l}");
    let v = p.json(
        &[
            "--repository",
            "far",
            "backup",
            "validate",
            "--level",
            "full",
        ],
        0,
    );
    assert_eq!(v["ok"], true, "{v}");
    let target = p.root().join("failover");
    let out = p.run(&[
        "--repository",
        "far",
        "restore",
        "--backup-id",
        "latest",
        "--target",
        target.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    common::assert_same_tree(&p.data(), &target.join("data"));
    // From the replica, status measures the other stores: the primary is now what lags.
    let s = p.json(&["--repository", "far", "backup", "status"], 0);
    assert_eq!(s["store"], "far", "{s}");
    let names: Vec<&str> = s["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["primary", "copy"], "{s}");
    let primary = &s["replicas"][0];
    assert_eq!(primary["missing"], 2, "{primary}");

    // An unknown name lists the names there are.
    let out = p.run(&["--repository", "nowhere", "backup", "list"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no store is called \"nowhere\"") && err.contains("primary, copy, far"),
        "{err}"
    );
}

#[test]
fn a_failed_replication_keeps_the_backup_says_so_and_the_next_run_catches_up() {
    let secret = "replica-secret-9c1e77";
    // A closed port: the s3 replica cannot be reached.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let p = Project::new(&replicas_yaml(&[
        "{ name: copy, type: local, path: ./blocked/replica }",
        &format!(
            "{{ name: offsite, type: s3, bucket: dr, region: us-east-1, endpoint: \"http://127.0.0.1:{port}\", access_key_id: AK, secret_access_key: \"{secret}\" }}"
        ),
    ]));
    // A file where the local replica's parent folder should be: every write there fails.
    std::fs::write(p.root().join("blocked"), b"not a folder").unwrap();
    p.write("a.txt", b"one");
    let out = p.run(&["backup", "run", "--type", "full", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let first: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(first["status"], "completed", "{first}");
    let everything = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!everything.contains(secret), "secret shown: {everything}");
    for r in first["replication"].as_array().unwrap() {
        assert_eq!(r["ok"], false, "{r}");
        assert_eq!(r["missing"], 1, "{r}");
        assert!(r["error"].as_str().is_some_and(|e| !e.is_empty()), "{r}");
    }
    let offsite = &first["replication"][1];
    assert!(
        offsite["error"]
            .as_str()
            .unwrap()
            .contains(&format!("cannot reach s3://dr (endpoint 127.0.0.1:{port})")),
        "{offsite}"
    );
    let warnings = first["warnings"].to_string();
    assert!(
        warnings.contains("replica copy was not brought up to date")
            && warnings.contains("the next run catches up"),
        "{warnings}"
    );
    // The backup itself is good.
    let v = p.json(&["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");

    // --require-replicas: the same outcome is a failure (exit 1), the backup still kept.
    p.write("a.txt", b"two");
    let second = p.json(&["backup", "run", "--require-replicas"], 1);
    assert_eq!(second["status"], "completed", "{second}");
    assert_eq!(second["replication"][0]["missing"], 2, "{second}");
    assert_eq!(ids_in(&p.repo()).len(), 2);

    // Status shows the lag (and never the secret).
    let out = p.run(&["backup", "status", "--json"]);
    assert!(out.status.success(), "{out:?}");
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!format!("{s}{}", String::from_utf8_lossy(&out.stderr)).contains(secret));
    // The blocked folder holds nothing: both backups are missing there.
    let copy = &s["replicas"][0];
    assert_eq!(copy["name"], "copy");
    assert_eq!(copy["missing"], 2, "{copy}");
    assert_eq!(copy["newest_held"], serde_json::Value::Null, "{copy}");
    let offsite = &s["replicas"][1];
    assert!(
        offsite["error"].as_str().unwrap().contains("cannot reach"),
        "{offsite}"
    );

    // The folder comes back: `replicate --to copy` catches it up, oldest first; the
    // unreachable replica is not touched.
    std::fs::remove_file(p.root().join("blocked")).unwrap();
    let s = p.json(&["backup", "status"], 0);
    assert_eq!(s["replicas"][0]["missing"], 2, "{s}");
    assert_eq!(
        s["replicas"][0]["newest_missing"]["backup_id"], second["backup_id"],
        "{s}"
    );
    assert!(
        s["replicas"][0]["lag_seconds"].as_i64().unwrap() >= 0,
        "{s}"
    );
    let r = p.json(&["replicate", "--to", "copy"], 0);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(r["replicas"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(
        r["replicas"][0]["copied"],
        serde_json::json!([first["backup_id"], second["backup_id"]]),
        "{r}"
    );
    assert_eq!(ids_in(&p.root().join("blocked/replica")), ids_in(&p.repo()));
    let again = p.json(&["replicate", "--to", "copy"], 0);
    assert_eq!(
        again["replicas"][0]["copied"],
        serde_json::json!([]),
        "{again}"
    );
    // Every replica: the unreachable one fails the command (exit 1), the other is up to date.
    let all = p.json(&["replicate"], 1);
    assert_eq!(all["replicas"][0]["ok"], true, "{all}");
    assert_eq!(all["replicas"][1]["ok"], false, "{all}");
    // A replica cannot be its own source, and --to must name a store.
    let out = p.run(&["--repository", "copy", "replicate", "--to", "copy"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = p.run(&["replicate", "--to", "elsewhere"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

#[test]
fn an_immutable_store_refuses_cleanup_and_says_why() {
    let p = Project::new(&format!(
        "  schedules:\n    daily_incremental: {{ enabled: true, time: \"02:00\", retention_days: 1 }}\n{}",
        replicas_yaml(&["{ name: vault, type: local, path: ./vault, immutable: true }"])
    ));
    p.write("a.txt", b"one");
    p.backup("full");
    p.write("a.txt", b"two");
    p.backup("full");
    let before = ids_in(&p.root().join("vault"));
    assert_eq!(before.len(), 2);
    let out = p.run(&["--repository", "vault", "backup", "cleanup"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("vault") && err.contains("immutable") && err.contains("deletes nothing"),
        "{err}"
    );
    assert_eq!(ids_in(&p.root().join("vault")), before);
    // A dry run still plans.
    let plan = p.json(
        &["--repository", "vault", "backup", "cleanup", "--dry-run"],
        0,
    );
    assert_eq!(plan["dry_run"], true, "{plan}");
}
