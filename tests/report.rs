//! `mahavishnu-dr report` on real repositories: the verdict follows the checks (no backups,
//! healthy after a validation and a restore test, a loose key file, a damaged chain), every
//! format renders, `--output` writes the file, and the HTML page renders in headless Chromium.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Project;
use serde_json::Value;

fn project() -> Project {
    let p = Project::new(&format!(
        "{}{}",
        common::DAILY_SCHEDULE,
        common::LOCAL_REPLICA
    ));
    // Targets no test run can miss by being slow, and that the default schedules (a daily
    // incremental) can meet.
    p.add_settings("  rto_target_minutes: 60\n  rpo_target_minutes: 1440\n");
    p.write("app/config.yaml", "workers: 4\n");
    p.write("blob.bin", vec![7u8; 200_000]);
    p
}

fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

fn report(p: &Project) -> Value {
    p.json(&["report"], 0)
}

#[test]
fn the_verdict_follows_the_checks_from_nothing_to_healthy() {
    let p = project();
    // No repository: critical, and it says what to do first.
    let r = report(&p);
    assert_eq!(r["verdict"], "critical", "{r:#}");
    assert_eq!(check(&r, "backups_available")["status"], "fail");
    assert!(
        r["recommendations"][0]
            .as_str()
            .unwrap()
            .contains("backup run"),
        "{r:#}"
    );
    // The command line words the step as a command.
    assert_eq!(
        check(&r, "backups_available")["action"],
        "run `mahavishnu-dr backup run --backup-type full`",
        "{r:#}"
    );

    // A backup, but never validated nor restore-tested: needs attention, not healthy.
    p.backup("full");
    let r = report(&p);
    assert_eq!(r["verdict"], "needs_attention", "{r:#}");
    assert_eq!(check(&r, "backups_available")["status"], "pass");
    assert_eq!(check(&r, "newest_backup_age")["status"], "pass");
    assert_eq!(check(&r, "chain_health")["status"], "pass");
    assert_eq!(check(&r, "last_validation")["status"], "warn");
    assert_eq!(check(&r, "last_restore_test")["status"], "warn");

    // Validated and restore-tested: healthy, every check passes, the trends have the test.
    p.write("app/config.yaml", "workers: 8\n");
    p.backup("incremental");
    p.json(&["backup", "validate", "--level", "full"], 0);
    let t = p.json(&["restore-test", "run"], 0);
    let r = report(&p);
    assert_eq!(r["verdict"], "healthy", "{r:#}");
    for c in r["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "pass", "{c:#}");
        assert!(c["action"].is_null(), "{c:#}");
    }
    assert_eq!(r["checks"].as_array().unwrap().len(), 10);
    assert_eq!(r["backups"]["count"], 2);
    assert_eq!(r["backups"]["full"], 1);
    assert_eq!(r["backups"]["incremental"], 1);
    assert_eq!(r["timeline"].as_array().unwrap().len(), 2);
    assert!(
        r["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["ok"] == true)
    );
    let rto = r["rto_trend"].as_array().unwrap();
    assert_eq!(rto.len(), 1, "{r:#}");
    assert_eq!(rto[0]["seconds"], t["rto_seconds"]);
    assert_eq!(
        check(&r, "last_restore_test")["value"],
        t["rto_seconds"],
        "the check reads the restore test's RTO"
    );
    // The DR check reads the same checks.
    let c = p.json(&["check"], 0);
    assert_eq!(c["results"]["status"], "healthy", "{c:#}");
    assert_eq!(c["results"]["posture"], "healthy");

    // A key file others can read: needs attention, in the report and in the check.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let key = p.root().join("key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let r = report(&p);
        assert_eq!(r["verdict"], "needs_attention", "{r:#}");
        let k = check(&r, "key_age");
        assert_eq!(k["status"], "warn");
        assert!(
            k["detail"]
                .as_str()
                .unwrap()
                .contains("readable by group or others"),
            "{k}"
        );
        assert!(k["action"].as_str().unwrap().contains("chmod 600"), "{k}");
        let c = p.json(&["check"], 1);
        assert_eq!(c["results"]["status"], "needs_attention");
        assert_eq!(c["results"]["checks"]["key_age"]["level"], "warn");
        assert_eq!(c["results"]["checks"]["key_age"]["status"], "fail");
    }
}

#[test]
fn schedules_that_cannot_meet_the_rpo_target_need_attention() {
    // The shipped targets: 5 min RPO with a daily incremental.
    let p = Project::new(&format!(
        "{}{}",
        common::DAILY_SCHEDULE,
        common::LOCAL_REPLICA
    ));
    p.add_settings("  rto_target_minutes: 15\n  rpo_target_minutes: 5\n");
    p.write("a.txt", "a");
    p.backup("full");
    p.json(&["backup", "validate"], 0);
    p.json(&["restore-test", "run"], 0);
    let r = report(&p);
    assert_eq!(r["verdict"], "needs_attention", "{r:#}");
    assert_eq!(r["summary"], "needs attention: schedule_rpo");
    let c = check(&r, "schedule_rpo");
    assert_eq!(c["status"], "warn");
    assert_eq!(
        c["value"], 86400.0,
        "a daily incremental gives 1 d at best: {c}"
    );
    assert_eq!(c["target"], 300.0);
    assert!(
        c["detail"].as_str().unwrap().contains("cannot be met"),
        "{c}"
    );
    assert!(c["action"].as_str().unwrap().contains("every 5 min"), "{c}");
    let recs = r["recommendations"].as_array().unwrap();
    let with_every_5 = recs
        .iter()
        .filter(|x| x.as_str().unwrap().contains("every 5 min"))
        .count();
    assert_eq!(with_every_5, 1, "said once: {recs:#?}");
}

#[test]
fn a_damaged_chain_makes_the_report_critical_and_names_the_backup() {
    let p = project();
    let b = p.backup("full");
    let id = b["backup_id"].as_str().unwrap();
    p.truncate_volume(id);
    let r = report(&p);
    assert_eq!(r["verdict"], "critical", "{r:#}");
    let c = check(&r, "chain_health");
    assert_eq!(c["status"], "fail");
    assert!(c["detail"].as_str().unwrap().contains(id), "{c}");
    assert_eq!(r["timeline"][0]["ok"], false);
    assert!(
        r["recommendations"][0]
            .as_str()
            .unwrap()
            .contains("validate --level full"),
        "the most urgent recommendation comes first: {r:#}"
    );
    // The text report says it too, for people.
    let out = p.run(&["report"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CRITICAL"), "{text}");
    assert!(text.contains("FAIL"), "{text}");
}

#[test]
fn markdown_and_output_files() {
    let p = project();
    p.backup("full");
    p.json(&["restore-test", "run"], 0);
    let out = p.run(&["report", "--format", "markdown"]);
    assert!(out.status.success());
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.starts_with("# DR report: "), "{md}");
    assert!(
        md.contains("| Last restore test vs RTO target | PASS |"),
        "{md}"
    );
    assert!(md.contains("## Recommendations"), "{md}");

    // --output writes the file (and nothing else is left beside it), and replaces an old one.
    let dest = p.root().join("reports/dr.md");
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    std::fs::write(&dest, "old").unwrap();
    let v = p.json(
        &[
            "report",
            "--format",
            "markdown",
            "--output",
            dest.to_str().unwrap(),
        ],
        0,
    );
    assert_eq!(v["verdict"], "needs_attention", "{v:#}");
    let written = std::fs::read_to_string(&dest).unwrap();
    assert!(
        written.starts_with("# DR report: needs attention"),
        "{written}"
    );
    let names: Vec<_> = std::fs::read_dir(dest.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");

    // JSON via --format json is the same document as --json.
    let out = p.run(&["report", "--format", "json"]);
    let a: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(a["verdict"], "needs_attention");
    assert_eq!(a["checks"].as_array().unwrap().len(), 10);

    // An output folder that does not exist: a clear error, exit 2 or more, nothing written.
    let bad = p.root().join("nope/dr.md");
    let out = p.run(&["report", "--output", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("nope"), "{err}");
}

/// `setup.sh` of a tests/ helper: its `KEY=value` stdout lines.
fn setup(script: &str, env: &[(&str, &str)]) -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("bash")
        .arg(root.join(script))
        .envs(env.iter().copied())
        .output()
        .expect("run setup.sh");
    assert!(
        out.status.success(),
        "{script} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn get(kv: &[(String, String)], k: &str) -> String {
    kv.iter()
        .find(|(key, _)| key == k)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("setup printed no {k}="))
}

#[test]
fn the_html_report_renders_in_headless_chromium() {
    let p = project();
    p.backup("full");
    p.write("app/config.yaml", "workers: 6\n");
    p.backup("incremental");
    p.json(&["backup", "validate"], 0);
    p.json(&["restore-test", "run"], 0);
    p.json(&["restore-test", "measure-rto"], 0);
    let html: PathBuf = p.root().join("report.html");
    p.json(
        &[
            "report",
            "--format",
            "html",
            "--output",
            html.to_str().unwrap(),
        ],
        0,
    );
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{}", &page[..100]);
    assert!(!page.contains("<script"), "the report carries no script");

    // Node >= 20 for playwright-core: the conformance suite's pinned Node 22 (Debian's may be
    // older), then Debian's Chromium driven by tests/browser/check_html.mjs.
    let node = get(&setup("tests/mcp/conformance/setup.sh", &[]), "NODE");
    let kv = setup(
        "tests/browser/setup.sh",
        &[("MAHAVISHNU_NODE", node.as_str())],
    );
    let shot = p.root().join("report.png");
    let out = Command::new(get(&kv, "NODE"))
        .arg(get(&kv, "CHECK"))
        .arg(&html)
        .args(["--min-svgs", "2"])
        .args(["--expect-text", "healthy"])
        .args(["--expect-text", "Last restore test vs RTO target"])
        .args(["--expect-text", "Replicas"])
        .arg("--screenshot")
        .arg(&shot)
        .output()
        .expect("run check_html.mjs");
    assert!(
        out.status.success(),
        "the report does not render cleanly:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "screenshot is empty"
    );
}
