//! DR drills with the real binary: every scenario passes on a healthy setup (a local replica for
//! the region loss) while the live data and the production repository stay byte-identical
//! (only drill records are added to its history); a dry run changes nothing anywhere; drills
//! fail for the right reason when recovery is impossible; tear down runs after a failure in the
//! middle of a drill and after Ctrl-C.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::Project;
use serde_json::Value;

/// A project whose sources are `data/` and `settings/` (so the settings file is backed up), a
/// SQLite database and a few files in `data/`, and `extra` inside `backup:`.
fn project(extra: &str) -> Project {
    project_with(extra, "")
}

/// As [`project`], with `dr_extra` inside `disaster_recovery:`.
fn project_with(extra: &str, dr_extra: &str) -> Project {
    let p = Project::new("");
    let yaml = format!(
        "backup:\n  directory: \"./repo\"\n  sources: [\"./data\", \"./settings\"]\n  \
         encryption: {{ key_path: \"./key\" }}\n{extra}\ndisaster_recovery:\n  \
         restore_test: {{ scratch_dir: \"./scratch\" }}\n{dr_extra}"
    );
    std::fs::write(p.config(), yaml).unwrap();
    let c = rusqlite::Connection::open(p.data().join("app.sqlite")).unwrap();
    c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT);")
        .unwrap();
    for i in 0..1500 {
        c.execute(
            "INSERT INTO t (v) VALUES (?1)",
            [format!("row {i} {}", "x".repeat(150))],
        )
        .unwrap();
    }
    drop(c);
    for i in 0..40 {
        p.write(
            &format!("docs/note-{i}.txt"),
            format!("note {i}\n").repeat(i + 1),
        );
    }
    p
}

/// Every file under `root` (skipping `skip` folders by name at any depth): bytes by relative path.
fn snapshot(root: &Path, skip: &[&str]) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, skip: &[&str], out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if skip.contains(&name.as_str()) {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, skip, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap_or_default(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, skip, &mut out);
    out
}

fn history_count(p: &Project) -> usize {
    std::fs::read_dir(p.repo().join("history"))
        .map(|r| r.count())
        .unwrap_or(0)
}

fn sandboxes(p: &Project) -> Vec<String> {
    std::fs::read_dir(p.root().join("scratch"))
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("drill-"))
                .collect()
        })
        .unwrap_or_default()
}

fn drill<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["drills"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["scenario"] == id)
        .unwrap_or_else(|| panic!("no drill {id} in {r:#}"))
}

fn steps(d: &Value) -> Vec<(String, String)> {
    d["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn every_scenario_passes_on_a_healthy_setup_and_reads_live_data_and_repository_only() {
    let p = project(common::LOCAL_REPLICA);
    p.init();
    let full = p.backup("full");
    assert_eq!(full["replication"][0]["ok"], true, "{full:#}");
    let live = snapshot(&p.data(), &[]);
    let settings = snapshot(&p.root().join("settings"), &[]);
    let repo = snapshot(&p.repo(), &["history"]);
    let replica = snapshot(&p.root().join("replica"), &["history"]);
    let records = history_count(&p);

    let r = p.json(&["drill", "run", "--all"], 0);
    assert_eq!(r["passed"], true, "{r:#}");
    assert_eq!(r["drills"].as_array().unwrap().len(), 5);
    for d in r["drills"].as_array().unwrap() {
        let id = d["scenario"].as_str().unwrap();
        assert_eq!(d["passed"], true, "{id}: {d:#}");
        let s = steps(d);
        assert!(
            s.iter().all(|(_, o)| o == "passed"),
            "{id}: every step passes: {s:?}"
        );
        assert_eq!(s.last().unwrap().0, "remove the sandbox", "{id}");
        assert!(d["record_id"].is_string(), "{id}: kept: {d:#}");
        assert!(
            d["started_by"].as_str().unwrap().starts_with("cli:"),
            "{d:#}"
        );
        assert!(d["rpo_seconds"].as_f64().is_some(), "{id}: RPO measured");
        if id != "network_partition" {
            assert!(
                d["rto_seconds"].as_f64().unwrap() > 0.0,
                "{id}: RTO measured"
            );
            assert_eq!(d["rto_met"], true, "{id}");
        }
    }
    // The region loss failed over to the replica; the server loss read the replica too.
    assert_eq!(drill(&r, "region_failure")["store"], "copy");
    assert_eq!(drill(&r, "single_server_failure")["store"], "copy");
    let ssf = drill(&r, "single_server_failure");
    let verify = &ssf["steps"].as_array().unwrap()[5];
    assert!(
        verify["detail"]
            .as_str()
            .unwrap()
            .contains("the settings file is back"),
        "{verify:#}"
    );
    // Data at risk: the live sources against the backup used (nothing changed since).
    assert_eq!(ssf["data_at_risk"]["compared"], true, "{ssf:#}");
    assert_eq!(ssf["data_at_risk"]["added"], 0, "{ssf:#}");
    assert_eq!(ssf["data_at_risk"]["changed"], 0, "{ssf:#}");
    let dd = drill(&r, "data_deletion");
    assert!(
        dd["findings"][0]
            .as_str()
            .unwrap()
            .contains("accepts deletes"),
        "a deletable store is a finding: {dd:#}"
    );

    // Nothing live or stored was written: only the five drill records were added.
    assert_eq!(snapshot(&p.data(), &[]), live, "the live data is unchanged");
    assert_eq!(snapshot(&p.root().join("settings"), &[]), settings);
    assert_eq!(
        snapshot(&p.repo(), &["history"]),
        repo,
        "the repository is unchanged"
    );
    assert_eq!(
        snapshot(&p.root().join("replica"), &["history"]),
        replica,
        "the replica is unchanged"
    );
    assert_eq!(history_count(&p), records + 5);
    assert!(sandboxes(&p).is_empty(), "torn down: {:?}", sandboxes(&p));

    // The evidence reads back.
    let rep = p.json(&["drill", "report"], 0);
    assert_eq!(rep["drills"].as_array().unwrap().len(), 5, "{rep:#}");
    assert!(
        rep["drills"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["passed"] == true)
    );
    let text = String::from_utf8(p.run(&["drill", "report"]).stdout).unwrap();
    assert!(
        text.contains("database_corruption") && text.contains("passed"),
        "{text}"
    );
}

#[test]
fn a_dry_run_plans_and_changes_nothing_anywhere() {
    let p = project("");
    p.init();
    let b = p.backup("full");
    let before = snapshot(p.root(), &[]);
    let r = p.json(&["drill", "run", "--all", "--dry-run"], 0);
    assert_eq!(r["dry_run"], true);
    assert!(r["drills"].as_array().unwrap().is_empty());
    let plans = r["plans"].as_array().unwrap();
    assert_eq!(plans.len(), 5);
    for plan in plans {
        assert_eq!(plan["backup_id"], b["backup_id"], "{plan:#}");
        assert!(plan["steps"].as_array().unwrap().len() >= 5, "{plan:#}");
        assert_eq!(plan["store"], "primary");
    }
    let region = plans
        .iter()
        .find(|x| x["scenario"] == "region_failure")
        .unwrap();
    assert!(
        region["notes"][0].as_str().unwrap().contains("no replica"),
        "{region:#}"
    );
    assert_eq!(snapshot(p.root(), &[]), before, "a dry run wrote something");
    let text = String::from_utf8(
        p.run(&["drill", "run", "--scenario", "data_deletion", "--dry-run"])
            .stdout,
    )
    .unwrap();
    assert!(
        text.contains("delete files") && text.contains("plan"),
        "{text}"
    );
}

#[test]
fn drills_fail_for_the_right_reason_when_recovery_is_impossible() {
    // No backup at all.
    let p = project("");
    p.init();
    let r = p.json(&["drill", "run", "--scenario", "data_deletion"], 1);
    let d = drill(&r, "data_deletion");
    assert_eq!(d["passed"], false);
    assert!(
        d["findings"][0]
            .as_str()
            .unwrap()
            .contains("no backup of this host"),
        "{d:#}"
    );
    assert!(sandboxes(&p).is_empty());

    // No replica: a region loss is unrecoverable.
    p.backup("full");
    let r = p.json(&["drill", "run", "--scenario", "region_failure"], 1);
    let d = drill(&r, "region_failure");
    assert!(
        d["findings"][0].as_str().unwrap().contains("unrecoverable"),
        "{d:#}"
    );
    assert!(
        d["recommendations"][0]
            .as_str()
            .unwrap()
            .contains("backup.storage.replicas"),
        "{d:#}"
    );
    let s = steps(d);
    assert_eq!(
        s[4],
        ("fail over to a replica".into(), "failed".into()),
        "{s:?}"
    );
    assert_eq!(s[5].1, "skipped", "{s:?}");
    assert_eq!(
        s[6],
        ("remove the sandbox".into(), "passed".into()),
        "{s:?}"
    );

    // Backups corrupted: every volume damaged, so no database comes back.
    for e in walkdir(&p.repo()) {
        if e.file_name().unwrap().to_string_lossy().starts_with("vol-") {
            let mut bytes = std::fs::read(&e).unwrap();
            let mid = bytes.len() / 2;
            bytes[mid] ^= 0xff;
            std::fs::write(&e, bytes).unwrap();
        }
    }
    let r = p.json(&["drill", "run", "--scenario", "database_corruption"], 1);
    let d = drill(&r, "database_corruption");
    assert_eq!(d["passed"], false, "{d:#}");
    assert_eq!(
        steps(d)[1].1,
        "failed",
        "the restore into the sandbox fails: {d:#}"
    );
    assert!(sandboxes(&p).is_empty(), "torn down after the failure");
}

#[test]
fn tear_down_runs_after_a_failure_in_the_middle_and_after_ctrl_c() {
    // The replica is damaged after the copy: the fail-over restore fails mid-drill.
    let p = project(common::LOCAL_REPLICA);
    p.init();
    p.backup("full");
    for e in walkdir(&p.root().join("replica")) {
        if e.file_name().unwrap().to_string_lossy().starts_with("vol-") {
            std::fs::write(&e, b"ransomware was here").unwrap();
        }
    }
    // A sandbox a killed drill left long ago goes at the next drill (one under a day old stays:
    // another drill may be running; see the unit test of the dating).
    let stale = p
        .root()
        .join("scratch/drill-network_partition-20200101T000000-0badf00d");
    std::fs::create_dir_all(stale.join("copy")).unwrap();
    std::fs::write(stale.join("copy/secret.txt"), b"restored data").unwrap();
    let r = p.json(&["drill", "run", "--scenario", "region_failure"], 1);
    assert!(!stale.exists(), "the stale sandbox was swept");
    let d = drill(&r, "region_failure");
    assert!(
        d["warnings"][0]
            .as_str()
            .unwrap()
            .contains("drill-network_partition-20200101T000000-0badf00d"),
        "{d:#}"
    );
    let s = steps(d);
    assert_eq!(s[4].1, "failed", "{s:?}");
    assert_eq!(s.last().unwrap().1, "passed", "tear down ran: {s:?}");
    assert!(sandboxes(&p).is_empty());

    // Ctrl-C in the middle of the partition drill (its backups retry for a second or more).
    let child = p
        .cmd(&["drill", "run", "--scenario", "network_partition", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let scratch = p.root().join("scratch");
    let t0 = std::time::Instant::now();
    while sandboxes(&p).is_empty() && t0.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        !sandboxes(&p).is_empty(),
        "the drill made its sandbox in {}",
        scratch.display()
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "a cancelled drill fails");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let d = drill(&v, "network_partition");
    assert_eq!(d["passed"], false);
    assert_eq!(
        steps(d).last().unwrap(),
        &("remove the sandbox".to_string(), "passed".to_string()),
        "{d:#}"
    );
    assert!(sandboxes(&p).is_empty(), "torn down after Ctrl-C");
}

#[test]
fn list_shows_the_five_scenarios_with_the_dr_plan_targets_and_overrides() {
    let p = project_with(
        "",
        "  drills:\n    scenarios: [single_server_failure, {scenario: data_deletion, \
         rto_target_minutes: 10}]\n",
    );
    let r = p.json(&["drill", "list"], 0);
    let s = r["scenarios"].as_array().unwrap();
    let ids: Vec<&str> = s.iter().map(|x| x["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "single_server_failure",
            "region_failure",
            "database_corruption",
            "network_partition",
            "data_deletion"
        ]
    );
    let get = |id: &str| s.iter().find(|x| x["id"] == id).unwrap();
    assert_eq!(get("single_server_failure")["rto_target_minutes"], 5);
    assert_eq!(get("single_server_failure")["rpo_target_minutes"], 1);
    assert_eq!(get("single_server_failure")["scheduled"], true);
    assert_eq!(get("network_partition")["rto_target_minutes"], Value::Null);
    assert_eq!(get("data_deletion")["rto_target_minutes"], 10);
    assert_eq!(get("region_failure")["scheduled"], false);
    // The alias, and an unknown scenario.
    assert!(p.run(&["drill", "list-scenarios"]).status.success());
    let out = p.run(&["drill", "run", "--scenario", "meteor_strike"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("meteor_strike") && err.contains("data_deletion"),
        "{err}"
    );
}

fn walkdir(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn scheduled_runs_the_listed_scenarios_that_are_due_once() {
    let p = project_with(
        "",
        "  drills:\n    enabled: true\n    frequency: daily\n    time: \"00:00\"\n    \
         scenarios: [database_corruption]\n",
    );
    p.init();
    p.backup("full");
    let r = p.json(&["drill", "run", "--scheduled"], 0);
    let ran: Vec<&str> = r["drills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["scenario"].as_str().unwrap())
        .collect();
    assert_eq!(ran, ["database_corruption"], "{r:#}");
    assert_eq!(r["drills"][0]["started_by"], "schedule");
    // Drilled since today's slot: nothing is due now, and that is not a failure.
    let again = p.json(&["drill", "run", "--scheduled"], 0);
    assert!(again["drills"].as_array().unwrap().is_empty(), "{again:#}");
    assert_eq!(again["message"], "no scheduled drill is due");
    // The check now sees the scheduled scenario drilled and passed.
    let check = p.json(&["report"], 0);
    let drills = check["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "drills")
        .unwrap();
    assert_eq!(drills["status"], "pass", "{drills:#}");
    let score = &check["resilience"];
    let db = score["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["scenario"] == "database_corruption")
        .unwrap();
    assert_eq!(db["score"], 100.0, "{score:#}");
    assert_eq!(
        score["overall"], 20.0,
        "one of five scenarios drilled: {score:#}"
    );
}

#[test]
fn schedule_shows_the_jobs_and_exports_them_for_cron_and_systemd() {
    let p = project_with(
        "  schedules:\n    daily_incremental: { enabled: true, time: \"02:00\", timezone: UTC }\n    \
         weekly_full: { enabled: true, day: sunday, time: \"03:00\", timezone: UTC }\n    \
         monthly_archival: { enabled: false, day: 1, time: \"04:00\" }\n",
        "  drills:\n    scenarios: [data_deletion]\n",
    );
    let r = p.json(&["schedule", "show"], 0);
    let jobs = r["jobs"].as_array().unwrap();
    let get = |n: &str| jobs.iter().find(|j| j["name"] == n).unwrap();
    assert_eq!(get("daily_incremental")["cron"], "0 2 * * *");
    assert_eq!(get("weekly_full")["on_calendar"], "Sun *-*-* 03:00:00 UTC");
    assert_eq!(
        get("drills")["command"],
        serde_json::json!(["drill", "run", "--scheduled"])
    );
    assert_eq!(get("monthly_archival")["enabled"], false);
    assert!(
        get("monthly_archival")["next_runs"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let daily = get("daily_incremental")["next_runs"].as_array().unwrap();
    assert_eq!(daily.len(), 3);
    assert!(
        daily[0].as_str().unwrap().ends_with("T02:00:00Z"),
        "{daily:?}"
    );
    // Soonest first, the disabled job last.
    assert_eq!(jobs.last().unwrap()["name"], "monthly_archival");

    let cron =
        String::from_utf8(p.run(&["schedule", "export", "--format", "cron"]).stdout).unwrap();
    assert!(cron.contains("CRON_TZ=UTC\n0 2 * * * "), "{cron}");
    assert!(
        cron.contains("backup run --scheduled --backup-type incremental"),
        "{cron}"
    );
    assert!(cron.contains("drill run --scheduled"), "{cron}");
    assert!(
        !cron.contains("archival"),
        "a disabled job is left out: {cron}"
    );
    let units =
        String::from_utf8(p.run(&["schedule", "export", "--format", "systemd"]).stdout).unwrap();
    assert!(
        units.contains("# file: mahavishnu-dr-weekly-full.timer"),
        "{units}"
    );
    assert!(
        units.contains("OnCalendar=Sun *-*-* 03:00:00 UTC\nPersistent=true"),
        "{units}"
    );
    assert!(
        units.contains(&format!("--config {}", p.config().display())),
        "{units}"
    );
}
