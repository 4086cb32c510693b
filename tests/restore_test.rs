//! `mahavishnu-dr restore-test run` and `restore-test report` on real repositories: a good backup
//! passes with measured RTO and RPO; damage fails with the right reason; drift is found; the
//! history is kept in the repository, for any process and any host with the key.

use crate::common;

use std::path::Path;
use std::process::Command;

use common::Project;
use serde_json::Value;

fn project() -> Project {
    let p = Project::new("");
    // Targets no test run can miss by being slow: what fails must fail for the damage.
    p.add_settings("  rto_target_minutes: 60\n  rpo_target_minutes: 60\n");
    p.write("app/config.yaml", "workers: 4\n");
    p.write("blob.bin", vec![7u8; 300_000]);
    p
}

fn make_db(path: &Path, rows: u32) {
    let script = format!(
        "import sqlite3; c=sqlite3.connect({path:?}); c.execute('create table t(id integer primary key, v text)'); \
         c.executemany('insert into t(v) values (?)', [('row %d ' % i * 20,) for i in range({rows})]); \
         c.execute('create index tv on t(v)'); c.commit(); c.close()",
        path = path.display().to_string()
    );
    let ok = Command::new("python3")
        .args(["-c", &script])
        .status()
        .unwrap();
    assert!(ok.success());
}

fn run_test(p: &Project, extra: &[&str], code: i32) -> Value {
    let mut args = vec!["restore-test", "run"];
    args.extend_from_slice(extra);
    p.json(&args, code)
}

#[test]
fn a_good_backup_passes_with_measured_rto_rpo_and_clean_scratch() {
    let p = project();
    make_db(&p.data().join("state.db"), 2000);
    let b = p.backup("full");
    p.write("app/config.yaml", "workers: 5\n");
    let inc = p.backup("incremental");
    let r = run_test(&p, &[], 0);
    assert_eq!(r["passed"], true, "{r:#}");
    assert_eq!(r["backup_id"], inc["backup_id"]);
    assert_eq!(r["chain_length"], 2);
    assert_eq!(r["chain"][0], b["backup_id"]);
    assert_eq!(r["files"], 3);
    assert!(r["bytes"].as_u64().unwrap() > 300_000);
    assert!(r["rto_seconds"].as_f64().unwrap() > 0.0);
    assert_eq!(r["rto_met"], true);
    assert_eq!(r["rto_target_seconds"], 3600.0);
    let rpo = r["rpo_seconds"].as_f64().unwrap();
    assert!((0.0..60.0).contains(&rpo), "{rpo}");
    assert!(r["throughput_mib_s"].as_f64().unwrap() > 0.0);
    let stages = &r["stages"];
    for s in ["read", "decrypt", "decompress", "write", "verify"] {
        assert!(stages[s].as_f64().unwrap() >= 0.0, "{s}");
    }
    assert_eq!(r["databases"][0]["path"], "data/state.db");
    assert_eq!(r["databases"][0]["result"], "ok");
    assert_eq!(r["drift"]["compared"], true);
    assert_eq!(r["drift"]["added"], 0);
    assert_eq!(r["drift"]["changed"], 0);
    // The scratch folder is gone; --keep keeps it, with the restored files.
    assert!(!Path::new(r["scratch_dir"].as_str().unwrap()).exists());
    let k = run_test(
        &p,
        &["--keep", "--backup-id", b["backup_id"].as_str().unwrap()],
        0,
    );
    let kept = Path::new(k["scratch_dir"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(kept.join("data/app/config.yaml")).unwrap(),
        "workers: 4\n"
    );
    assert!(k["record_id"].as_str().unwrap().contains("restore-test"));
}

#[test]
fn drift_names_what_changed_since_the_backup() {
    let p = project();
    p.write("gone.txt", "bye");
    p.backup("full");
    p.write("app/config.yaml", "workers: 16\n");
    p.write("new/file.txt", "fresh");
    std::fs::remove_file(p.data().join("gone.txt")).unwrap();
    let r = run_test(&p, &[], 0);
    let d = &r["drift"];
    assert_eq!(d["added"], 1);
    assert_eq!(d["added_paths"][0], "data/new/file.txt");
    assert_eq!(d["changed"], 1);
    assert_eq!(d["changed_paths"][0], "data/app/config.yaml");
    assert_eq!(d["removed"], 1);
    assert_eq!(d["removed_paths"][0], "data/gone.txt");
    assert_eq!(d["bytes_at_risk"], 5 + 12);
}

#[test]
fn a_corrupted_volume_fails_the_test_naming_it() {
    let p = project();
    let b = p.backup("full");
    let id = b["backup_id"].as_str().unwrap();
    let v = p.volume(id);
    let mut bytes = std::fs::read(&v).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&v, bytes).unwrap();
    let r = run_test(&p, &[], 1);
    assert_eq!(r["passed"], false);
    let reasons = r["reasons"].to_string();
    assert!(reasons.contains("the restore failed"), "{reasons}");
    assert!(
        reasons.contains("volume 0") || reasons.contains("vol-00000"),
        "{reasons}"
    );
    // Text output says FAILED with the reason, exit 1.
    let out = p.run(&["restore-test", "run"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FAILED"));
}

#[test]
fn a_deleted_volume_fails_the_test_saying_it_is_missing() {
    let p = project();
    let b = p.backup("full");
    std::fs::remove_file(p.volume(b["backup_id"].as_str().unwrap())).unwrap();
    let r = run_test(&p, &[], 1);
    assert_eq!(r["passed"], false);
    let reasons = r["reasons"].to_string();
    assert!(reasons.contains("missing"), "{reasons}");
}

#[test]
fn a_corrupted_sqlite_page_fails_the_integrity_check() {
    let p = project();
    let db = p.data().join("state.db");
    make_db(&db, 3000);
    // Overwrite the middle of a b-tree page (page 3): the file still opens, the check fails.
    let mut bytes = std::fs::read(&db).unwrap();
    let page = u16::from_be_bytes([bytes[16], bytes[17]]) as usize;
    for b in &mut bytes[2 * page + 100..2 * page + 600] {
        *b = 0xA5;
    }
    std::fs::write(&db, bytes).unwrap();
    p.backup("full");
    let r = run_test(&p, &[], 1);
    assert_eq!(r["passed"], false, "{r:#}");
    assert_eq!(r["databases"][0]["path"], "data/state.db");
    assert_eq!(r["databases"][0]["ok"], false);
    let reasons = r["reasons"].to_string();
    assert!(
        reasons.contains("data/state.db") && reasons.contains("integrity_check"),
        "{reasons}"
    );
}

#[test]
fn history_survives_a_new_process_and_a_second_host() {
    let p = project();
    p.backup("full");
    let first = run_test(&p, &[], 0);
    std::fs::remove_file(p.volume(first["backup_id"].as_str().unwrap())).unwrap();
    let second = run_test(&p, &[], 1);
    // A new process sees both, oldest first, with pass/fail and RTO.
    let h = p.json(&["restore-test", "report"], 0);
    assert_eq!(h["total"], 2);
    let recs = h["records"].as_array().unwrap();
    assert_eq!(recs[0]["record_id"], first["record_id"]);
    assert_eq!(recs[0]["passed"], true);
    assert!(recs[0]["rto_seconds"].as_f64().is_some());
    assert_eq!(recs[1]["record_id"], second["record_id"]);
    assert_eq!(recs[1]["passed"], false);
    assert_eq!(h["trend"]["pass_rate"], 0.5);
    let last1 = p.json(&["restore-test", "report", "--last", "1"], 0);
    assert_eq!(last1["records"].as_array().unwrap().len(), 1);
    assert_eq!(last1["records"][0]["record_id"], second["record_id"]);

    // A second host: its own settings file and project, the same repository and key.
    let other = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(other.path().join("settings")).unwrap();
    std::fs::create_dir_all(other.path().join("data")).unwrap();
    let yaml = format!(
        "backup:\n  directory: {:?}\n  encryption: {{ key_path: {:?} }}\n",
        p.repo().display().to_string(),
        p.root().join("key").display().to_string()
    );
    std::fs::write(other.path().join("settings/mahavishnu.yaml"), yaml).unwrap();
    let out = Command::new(common::BIN)
        .args(["--config"])
        .arg(other.path().join("settings/mahavishnu.yaml"))
        .args(["restore-test", "report", "--json"])
        .current_dir(other.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let h2: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(h2["records"], h["records"]);
    // The records are sealed: no plain JSON in the repository.
    for e in std::fs::read_dir(p.repo().join("history")).unwrap() {
        let bytes = std::fs::read(e.unwrap().path()).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains("restore test"));
    }
}

#[test]
fn measure_rpo_reports_against_the_target_and_is_kept() {
    let p = project();
    // No backup yet: the repository does not exist, a clear error.
    let out = p.run(&["restore-test", "measure-rpo"]);
    assert_ne!(out.status.code(), Some(0));
    p.backup("full");
    // No schedule in this project: the target cannot be guaranteed, exit 1, and it says why.
    let r = p.json(&["restore-test", "measure-rpo", "--days", "7"], 1);
    assert!(r["current"]["age_seconds"].as_i64().unwrap() < 60);
    assert_eq!(r["current"]["passed"], true);
    assert_eq!(r["schedule_can_meet_target"], false);
    assert!(
        r["statement"].as_str().unwrap().contains("schedule"),
        "{r:#}"
    );
    assert_eq!(r["worst_gap"]["window_days"], 7);
    let h = p.json(&["restore-test", "report"], 0);
    assert_eq!(h["records"][0]["kind"], "rpo_measurement");
    assert_eq!(h["records"][0]["record_id"], r["record_id"]);
    assert!(h["records"][0]["rpo_seconds"].as_f64().unwrap() < 60.0);
}

#[test]
fn measure_rto_times_restore_and_verify_and_estimates_a_grown_data_set() {
    let p = project();
    let b = p.backup("full");
    let r = p.json(&["restore-test", "measure-rto"], 0);
    assert_eq!(r["passed"], true, "{r:#}");
    assert_eq!(r["backup_id"], b["backup_id"]);
    assert_eq!(r["verified"], true);
    assert_eq!(r["files"], 2);
    assert!(r["rto_seconds"].as_f64().unwrap() > 0.0);
    assert!(r["throughput_mib_s"].as_f64().unwrap() > 0.0);
    assert_eq!(r["estimate"]["partial"], false, "{:#}", r["estimate"]);
    assert_eq!(r["estimate"]["estimated_rto_seconds"], r["rto_seconds"]);
    // Nothing is left in scratch.
    let scratch = p.root().join("scratch");
    assert_eq!(
        std::fs::read_dir(&scratch).map_or(0, |d| d.count()),
        0,
        "scratch not cleaned"
    );

    // The live data grows tenfold after the backup: the estimate scales and says how.
    p.write("grown.bin", vec![3u8; 3_000_000]);
    let r = p.json(&["restore-test", "measure-rto"], 0);
    let e = &r["estimate"];
    assert_eq!(e["partial"], true, "{e:#}");
    let full = e["full_data_set_bytes"].as_u64().unwrap();
    assert!(full > 3_000_000, "{e:#}");
    let ratio = e["estimated_rto_seconds"].as_f64().unwrap() / r["rto_seconds"].as_f64().unwrap();
    let bytes_ratio = full as f64 / r["bytes"].as_u64().unwrap() as f64;
    assert!(
        (ratio - bytes_ratio).abs() / bytes_ratio < 0.01,
        "{ratio} vs {bytes_ratio}"
    );
    assert!(
        e["method"]
            .as_str()
            .unwrap()
            .contains("scaled linearly by bytes"),
        "{e:#}"
    );

    // Kept in the history as RTO measurements.
    let h = p.json(&["restore-test", "report"], 0);
    let recs = h["records"].as_array().unwrap();
    assert_eq!(recs.len(), 2);
    assert!(recs.iter().all(|x| x["kind"] == "rto_measurement"), "{h:#}");
    assert_eq!(recs[1]["record_id"], r["record_id"]);
    assert_eq!(recs[1]["rto_seconds"], r["rto_seconds"]);

    // A deleted volume fails the measurement with the reason, exit 1.
    let id = b["backup_id"].as_str().unwrap();
    std::fs::remove_file(p.volume(id)).unwrap();
    let r = p.json(&["restore-test", "measure-rto"], 1);
    assert_eq!(r["passed"], false);
    assert!(
        r["reasons"][0]
            .as_str()
            .unwrap()
            .contains("the restore failed"),
        "{r:#}"
    );
}

#[test]
fn validations_are_kept_in_the_history_and_read_by_the_check() {
    let p = project();
    p.backup("full");
    let before = p.json(&["check"], 1);
    assert_eq!(
        before["results"]["checks"]["last_validation"]["level"], "warn",
        "{before:#}"
    );
    let v = p.json(&["backup", "validate", "--level", "full"], 0);
    let id = v["record_id"].as_str().expect("validation record id");
    let h = p.json(&["restore-test", "report"], 0);
    let rec = &h["records"][0];
    assert_eq!(rec["kind"], "validation");
    assert_eq!(rec["record_id"], id);
    assert_eq!(rec["passed"], true);
    let after = p.json(&["check"], 1);
    let c = &after["results"]["checks"]["last_validation"];
    assert_eq!(c["status"], "pass", "{after:#}");
    assert!(
        c["detail"].as_str().unwrap().contains("full validation"),
        "{c}"
    );
    // The check's own quick validation is not kept.
    let h = p.json(&["restore-test", "report"], 0);
    assert_eq!(h["total"], 1);
}
