//! `mahavishnu-dr drill runbook` through the real binary: the generated runbook, the settings'
//! targets, the evidence of the last drill once one is kept, JSON and file output, and the
//! checked-in form written by `--all --write`.

use crate::common;

use common::Project;

#[test]
fn a_runbook_ends_with_the_last_drill_once_one_is_kept() {
    let p = Project::new("");
    p.write("keep.txt", "data\n");
    p.init();
    p.backup("full");
    let before = p.json(&["drill", "runbook", "data_deletion"], 0);
    assert_eq!(before["scenario"], "data_deletion", "{before:#}");
    assert!(before["evidence"].is_null(), "{before:#}");
    let md = before["markdown"].as_str().unwrap();
    assert!(md.contains("## Recovery"), "{md}");
    assert!(md.contains("No drill of this scenario is kept"), "{md}");

    p.json(&["drill", "run", "--scenario", "data_deletion"], 0);
    let after = p.json(&["drill", "runbook", "data_deletion"], 0);
    assert_eq!(after["evidence"]["scenario"], "data_deletion", "{after:#}");
    assert_eq!(after["evidence"]["passed"], true, "{after:#}");
    let md = after["markdown"].as_str().unwrap();
    for needle in [
        "| Result | PASSED |",
        "| RTO achieved | ",
        "| RPO achieved | ",
    ] {
        assert!(md.contains(needle), "no {needle:?} in {md}");
    }
    // Text mode prints the markdown itself; --output writes it.
    let out = p.run(&["drill", "runbook", "data_deletion"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("# Runbook: Data deletion (`data_deletion`)"),
        "{text}"
    );
    let file = p.root().join("dd.md");
    let f = file.to_str().unwrap();
    p.json(&["drill", "runbook", "data_deletion", "--output", f], 0);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap().trim_end(),
        text.trim_end()
    );
}

#[test]
fn the_settings_targets_show_and_unknown_scenarios_are_usage_errors() {
    let p = Project::new("");
    let yaml = std::fs::read_to_string(p.config()).unwrap().replace(
        "disaster_recovery:\n",
        "disaster_recovery:\n  drills:\n    scenarios:\n      - {scenario: region_failure, \
         rto_target_minutes: 42, rpo_target_minutes: 7}\n",
    );
    std::fs::write(p.config(), yaml).unwrap();
    let r = p.json(&["drill", "runbook", "region_failure", "--no-evidence"], 0);
    let md = r["markdown"].as_str().unwrap();
    assert!(md.contains("| RTO (recovery time) | 42 min |"), "{md}");
    assert!(md.contains("| RPO (data lost) | 7 min: "), "{md}");
    let e = p.json(&["drill", "runbook", "meteor_strike"], 2);
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("meteor_strike")
    );
}

#[test]
fn all_write_produces_the_checked_in_runbooks() {
    let p = Project::new("");
    let dir = p.root().join("runbooks");
    let d = dir.to_str().unwrap();
    p.json(&["drill", "runbook", "--all", "--write", d], 0);
    let shipped = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/runbooks");
    for id in [
        "single_server_failure",
        "region_failure",
        "database_corruption",
        "network_partition",
        "data_deletion",
    ] {
        let name = format!("{id}.md");
        assert_eq!(
            std::fs::read_to_string(dir.join(&name)).unwrap(),
            std::fs::read_to_string(shipped.join(&name)).unwrap(),
            "{name}: `drill runbook --all --write` and docs/runbooks differ"
        );
    }
}
