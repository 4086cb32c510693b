//! `mahavishnu-dr check`: the disaster-recovery check (the orchestrator's
//! run_disaster_recovery_check), on real repositories.

use crate::common;

use common::Project;

#[test]
fn check_fails_without_backups_passes_with_a_recent_intact_one_and_names_damage() {
    let p = Project::new(&format!(
        "{}{}",
        common::DAILY_SCHEDULE,
        common::LOCAL_REPLICA
    ));
    p.add_settings("  rpo_target_minutes: 1440\n");
    p.write("a.txt", "a");
    // No repository yet: needs attention, not an error.
    let v = p.json(&["check"], 1);
    assert_eq!(v["status"], "success");
    assert_eq!(v["results"]["status"], "needs_attention");
    assert_eq!(
        v["results"]["checks"]["backups_available"]["status"],
        "fail"
    );
    assert_eq!(v["results"]["checks"]["backups_available"]["count"], 0);
    assert_eq!(v["results"]["checks"]["recent_backup"]["status"], "fail");

    let b = p.backup("full");
    // Backed up, but never validated nor restore-tested: not healthy yet, and it says why.
    let v = p.json(&["check"], 1);
    assert_eq!(v["results"]["status"], "needs_attention", "{v:#}");
    assert_eq!(v["results"]["posture"], "needs_attention");
    let c = &v["results"]["checks"];
    assert_eq!(c["backups_available"]["status"], "pass");
    assert_eq!(c["recent_backup"]["status"], "pass");
    assert_eq!(c["last_restore_test"]["status"], "fail");
    assert_eq!(c["last_restore_test"]["level"], "warn");
    assert!(
        c["last_restore_test"]["action"]
            .as_str()
            .unwrap()
            .contains("restore-test run"),
        "{c:#}"
    );
    p.json(&["backup", "validate"], 0);
    p.json(&["restore-test", "run"], 0);
    let v = p.json(&["check"], 0);
    assert_eq!(v["results"]["status"], "healthy", "{v:#}");
    let c = &v["results"]["checks"];
    assert_eq!(c["backups_available"]["count"], 1);
    assert_eq!(c["backups_available"]["latest_backup"], b["finished"]);
    assert_eq!(c["backup_integrity"]["checked"], 1);
    assert_eq!(c["backup_integrity"]["failed"], 0);
    assert!(
        c["recent_backup"]["latest_backup_age_hours"]
            .as_f64()
            .unwrap()
            < 0.1
    );
    assert_eq!(c["recent_backup"]["threshold_hours"], 24.0);

    // A truncated volume: integrity fails and the check says where.
    let id = b["backup_id"].as_str().unwrap();
    p.truncate_volume(id);
    let v = p.json(&["check"], 1);
    assert_eq!(v["results"]["posture"], "critical");
    let i = &v["results"]["checks"]["backup_integrity"];
    assert_eq!(i["status"], "fail");
    assert_eq!(i["failed"], 1);
    assert!(i["detail"].as_str().unwrap().contains(id), "{i}");
}
