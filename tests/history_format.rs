//! The history record format across releases: records written by the first release (whose `data` was
//! the command's output; `tests/fixtures/history-repo`, made by b0d27fc) are read by this one,
//! by `restore-test report`, `report` and `check`; a record of a newer payload version, or whose
//! payload does not parse, is shown as unreadable with the reason, never as passed.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::Project;
use mahavishnu_dr::internals::Repository;
use mahavishnu_dr::internals::crypto::{Credential, read_key_file};
use mahavishnu_dr::internals::envelope::{ObjectKind, open_all, seal_all};
use mahavishnu_dr::{DynStorage, OpendalStorage};
use serde_json::{Value, json};

const FIXTURE: &str = "tests/fixtures/history-repo";
const BACKUP: &str = "backup_20261204T203556.137Z_73d54349";
const VALIDATION: &str = "20261204T203556.159Z_validation_7c01f82b";
const RESTORE_TEST: &str = "20261204T203556.187Z_restore-test_f28df69c";

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(FIXTURE)
}

/// A project holding a copy of the fixture's repository, key and data.
fn old_project() -> Project {
    project_from(&fixture(), &["config", "backups", "history"])
}

/// A project holding a copy of `fixture`'s data, key and repository `parts`.
fn project_from(f: &Path, parts: &[&str]) -> Project {
    let p = Project::new("");
    let copy = |from: &Path, to: &Path| {
        let o = Command::new("cp")
            .arg("-r")
            .arg(from)
            .arg(to)
            .output()
            .unwrap();
        assert!(o.status.success(), "{o:?}");
    };
    std::fs::remove_dir_all(p.data()).unwrap();
    copy(&f.join("data"), &p.data());
    std::fs::create_dir_all(p.repo()).unwrap();
    for part in parts {
        copy(&f.join(part), &p.repo().join(part));
    }
    let key = p.root().join("key");
    copy(&f.join("key"), &key);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// The check named `name` of a report.
fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name}: {report}"))
}

#[test]
fn records_of_the_first_release_are_listed_as_that_release_listed_them() {
    let p = old_project();
    let now = p.json(&["restore-test", "report", "--last", "0"], 0);
    let then: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture().join("restore-test-report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        now, then,
        "restore-test report reads the old records differently"
    );
    // And what it lists: pass/fail, RTO and RPO of every kind.
    let r = &now["records"];
    assert_eq!(now["total"], 5);
    assert_eq!(now["unreadable"], json!([]));
    assert_eq!(r[0]["kind"], "validation");
    assert_eq!(r[0]["passed"], true);
    assert_eq!(r[1]["kind"], "restore_test");
    assert_eq!(
        (&r[1]["rto_seconds"], &r[1]["rpo_seconds"]),
        (&json!(0.016), &json!(0.047))
    );
    assert_eq!(r[1]["backup_id"], BACKUP);
    assert_eq!(r[2]["kind"], "rto_measurement");
    assert_eq!(r[2]["rto_seconds"], 0.005);
    assert_eq!(r[3]["kind"], "rpo_measurement");
    assert_eq!(r[3]["passed"], false);
    assert_eq!(r[4]["rpo_seconds"], 2.0);
}

#[test]
fn report_and_check_judge_the_last_validation_and_restore_test_of_the_first_release() {
    let p = old_project();
    let report = p.json(&["report", "--last", "0"], 0);
    assert_eq!(report["warnings"], json!([]), "{report}");
    let v = check(&report, "last_validation");
    assert_ne!(v["status"], "fail", "{v}");
    assert!(
        v["detail"]
            .as_str()
            .unwrap()
            .contains("full validation passed: 1 backup(s), 1 volume(s), 2 file(s) checked"),
        "{v}"
    );
    let t = check(&report, "last_restore_test");
    assert_ne!(t["status"], "fail", "{t}");
    assert_eq!(t["value"], 0.016, "the RTO of the old record: {t}");
    // The old record's drift (a file added, one changed after the backup) is read too.
    let recs = report["recommendations"].as_array().unwrap();
    assert!(
        recs.iter().any(|r| r
            .as_str()
            .unwrap()
            .contains("the last restore test found 2 file(s) changed since its backup")),
        "{report}"
    );
    assert_eq!(report["rto_trend"].as_array().unwrap().len(), 2);
    assert_eq!(report["rpo_trend"].as_array().unwrap().len(), 3);

    let o = p.run(&["check", "--json"]);
    let c: Value = serde_json::from_slice(&o.stdout).unwrap();
    let checks = &c["results"]["checks"];
    // The same judgement; the age in it ("19 h 32 min ago") may cross a minute in between.
    let after_age = |d: &Value| {
        let d = d.as_str().unwrap_or_default();
        d.split_once(" ago ")
            .map_or(d, |(_, rest)| rest)
            .to_string()
    };
    for (name, before) in [("last_validation", &v), ("last_restore_test", &t)] {
        assert_eq!(checks[name]["status"], before["status"], "{c}");
        assert_eq!(
            after_age(&checks[name]["detail"]),
            after_age(&before["detail"]),
            "{c}"
        );
    }

    // A record this release writes sits beside them, and both are read.
    p.json(&["backup", "validate", "--level", "quick"], 0);
    let h = p.json(&["restore-test", "report", "--last", "0"], 0);
    assert_eq!(h["total"], 6);
    assert_eq!(h["unreadable"], json!([]));
    assert_eq!(h["records"][5]["kind"], "validation");
    let report = p.json(&["report"], 0);
    assert!(
        check(&report, "last_validation")["detail"]
            .as_str()
            .unwrap()
            .contains("quick validation passed"),
        "{report}"
    );
}

/// Rewrite a stored record's JSON with the repository's key.
async fn rewrite(p: &Project, id: &str, edit: impl FnOnce(&mut Value)) {
    let storage: DynStorage = Arc::new(OpendalStorage::local(&p.repo()).unwrap());
    let key = read_key_file(&p.root().join("key")).unwrap();
    let repo = Repository::open(storage, Some(&Credential::KeyFile(key)))
        .await
        .unwrap();
    let path = p.repo().join("history").join(id);
    let ctx = repo.context(ObjectKind::History, id, 0);
    let master = repo.master().unwrap();
    let packed = open_all(master, &ctx, &std::fs::read(&path).unwrap()).unwrap();
    let mut record: Value =
        serde_json::from_slice(&zstd::bulk::decompress(&packed, 1 << 24).unwrap()).unwrap();
    edit(&mut record);
    let packed = zstd::bulk::compress(&serde_json::to_vec(&record).unwrap(), 3).unwrap();
    std::fs::write(&path, seal_all(master, &ctx, &packed)).unwrap();
}

#[tokio::test]
async fn a_newer_payload_version_or_a_broken_payload_is_unreadable_never_passed() {
    let p = old_project();
    // Written by this release, then marked as from a later one.
    p.json(&["backup", "validate", "--level", "quick"], 0);
    let newest = p.json(&["restore-test", "report", "--last", "1"], 0)["records"][0]["record_id"]
        .as_str()
        .unwrap()
        .to_string();
    rewrite(&p, &newest, |r| {
        assert_eq!(r["payload_version"], 1, "{r}");
        assert!(r.get("data").is_none(), "{r}");
        r["payload_version"] = json!(2);
        r["passed"] = json!(true);
    })
    .await;
    // The first release's restore test, with its data broken.
    rewrite(&p, RESTORE_TEST, |r| {
        r["data"]["rto_seconds"] = json!("fast");
    })
    .await;

    let h = p.json(&["restore-test", "report", "--last", "0"], 0);
    assert_eq!(h["total"], 6);
    assert_eq!(h["records"].as_array().unwrap().len(), 4, "{h}");
    let unreadable = h["unreadable"].as_array().unwrap();
    assert_eq!(unreadable.len(), 2, "{h}");
    let named = |id: &str| {
        unreadable
            .iter()
            .map(|u| u.as_str().unwrap())
            .find(|u| u.starts_with(id))
            .unwrap_or_else(|| panic!("{id} not named: {h}"))
            .to_string()
    };
    assert!(
        named(&newest).contains("payload version 2 is newer than this release reads (1)"),
        "{h}"
    );
    assert!(named(RESTORE_TEST).contains("does not parse"), "{h}");

    // The checks read the newest record of each kind: unreadable, so a warning, not the older
    // validation that passed.
    let report = p.json(&["report", "--last", "0"], 0);
    let v = check(&report, "last_validation");
    assert_eq!(v["status"], "warn", "{v}");
    assert!(
        v["detail"].as_str().unwrap().contains("version 2 is newer"),
        "{v}"
    );
    assert!(!v["detail"].as_str().unwrap().contains(VALIDATION), "{v}");
    let t = check(&report, "last_restore_test");
    assert_eq!(t["status"], "warn", "{t}");
    assert!(
        t["detail"].as_str().unwrap().contains("does not parse"),
        "{t}"
    );
    assert_eq!(
        report["warnings"].as_array().unwrap().len(),
        2,
        "the report names both: {report}"
    );
}

/// A repository of format version 1 (no block maps) restores and validates as it is, and the
/// first backup of this version upgrades its config to version 3 (authenticated), after which the
/// old backup still restores and an incremental on top of it stores blocks.
#[test]
fn a_version_1_repository_restores_validates_and_is_upgraded_by_the_next_backup() {
    let p = old_project();
    let config = |p: &Project| -> Value {
        serde_json::from_slice(&std::fs::read(p.repo().join("config")).unwrap()).unwrap()
    };
    assert_eq!(config(&p)["version"], 1);
    // The fixture's data changed after its backup: what the backup held is "hello\n".
    let first = p.restore(BACKUP);
    assert_eq!(std::fs::read(first.join("hello.txt")).unwrap(), b"hello\n");
    let same_as_backed_up = |restored: &Path| common::assert_same_tree(&first, restored);
    let v = p.json(&["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(
        config(&p)["version"],
        1,
        "reading must not change the config"
    );

    p.write("grown.db.bin", vec![9u8; 20 << 20]);
    let b = p.backup("incremental");
    assert_eq!(b["parent"], BACKUP, "{b}");
    assert!(b["totals"]["blocks_stored"].as_u64().unwrap() > 0, "{b}");
    assert_eq!(config(&p)["version"], 3);
    same_as_backed_up(&p.restore(BACKUP));
    let newest = p.restore(b["backup_id"].as_str().unwrap());
    assert_eq!(
        std::fs::read(newest.join("grown.db.bin")).unwrap(),
        vec![9u8; 20 << 20]
    );
    let v = p.json(&["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");
}

/// `tests/fixtures/v2-repo`, made by 6f0abd8 (format version 2: block-mapped files checked by
/// their flat SHA-256 only): a full and an incremental of a 2.3 MB block-mapped file (changed
/// in the middle and appended to) and a SQLite database; `expected.json` holds the SHA-256 of
/// every file each backup restored then.
#[test]
fn a_version_2_repository_restores_validates_and_is_upgraded_by_the_next_backup() {
    let f = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v2-repo");
    let p = project_from(&f, &["config", "backups"]);
    let config = |p: &Project| -> Value {
        serde_json::from_slice(&std::fs::read(p.repo().join("config")).unwrap()).unwrap()
    };
    assert_eq!(config(&p)["version"], 2);
    let expected: Value =
        serde_json::from_slice(&std::fs::read(f.join("expected.json")).unwrap()).unwrap();
    let restores_as_then = |p: &Project| {
        for (id, files) in expected.as_object().unwrap() {
            let restored = p.restore(id);
            for (path, sha) in files.as_object().unwrap() {
                let bytes = std::fs::read(restored.join(path)).unwrap();
                assert_eq!(
                    mahavishnu_dr::internals::hash::sha256_hex(&bytes),
                    sha.as_str().unwrap(),
                    "{path} of {id}"
                );
            }
        }
    };
    restores_as_then(&p);
    let v = p.json(&["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");
    assert_eq!(
        config(&p)["version"],
        2,
        "reading must not change the config"
    );

    // The next backup (its big file gone, the database grown) upgrades the repository.
    p.write("more.txt", b"more");
    let b = p.backup("incremental");
    assert_eq!(config(&p)["version"], 3, "{b}");
    restores_as_then(&p);
    let newest = p.restore(b["backup_id"].as_str().unwrap());
    assert_eq!(std::fs::read(newest.join("more.txt")).unwrap(), b"more");
    assert!(
        std::fs::read(newest.join("app.db")).unwrap()
            == std::fs::read(p.data().join("app.db")).unwrap()
    );
    let v = p.json(&["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");
}
