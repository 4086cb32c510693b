//! `backup cleanup` end to end: the dry-run plan (every backup, with a reason, nothing removed),
//! the seed's retention, expiry that respects dependencies, and orphans.

use crate::common;
use crate::dr_util;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration as TimeDelta, Utc};
use common::{Project, tree};
use dr_util::*;
use mahavishnu_dr::internals::crypto::{Credential, read_key_file};
use mahavishnu_dr::internals::manifest::{MANIFEST_VERSION, Manifest, ManifestSummary, Totals};
use mahavishnu_dr::internals::{BackupType, Repository, new_backup_id};
use mahavishnu_dr::{DynStorage, OpendalStorage};
use serde_json::Value;

const SEED_SCHEDULES: &str = "  schedules:
    daily_incremental: { enabled: true, time: \"02:00\", timezone: \"UTC\", retention_days: 7 }
    weekly_full: { enabled: true, day: \"sunday\", time: \"03:00\", timezone: \"UTC\", retention_weeks: 4 }
    monthly_archival: { enabled: true, day: 1, time: \"04:00\", timezone: \"UTC\", retention_months: 12 }
";

fn id_of(v: &Value) -> String {
    v["backup_id"].as_str().unwrap().to_string()
}

/// A project with five backups: full, incremental, incremental, archival, full.
fn several_backups(extra: &str) -> (Project, Vec<String>) {
    let p = Project::new(extra);
    p.init();
    let mut ids = Vec::new();
    for (i, t) in ["full", "incremental", "incremental", "archival", "full"]
        .iter()
        .enumerate()
    {
        p.write(&format!("file-{i}.txt"), format!("content {i}"));
        ids.push(id_of(&p.backup(t)));
    }
    (p, ids)
}

/// (id, reason) of every item in plan.keep or plan.remove.
fn plan_items(c: &Value, list: &str) -> Vec<(String, String)> {
    c["plan"][list]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["backup_id"].as_str().unwrap().to_string(),
                i["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_dry_run_plans_every_backup_with_a_reason_and_changes_nothing() {
    let (p, ids) = several_backups("");
    let before = tree(&p.repo());
    let (c, _) = json_run(&p, &["backup", "cleanup", "--dry-run"], 0);
    assert_eq!(c["dry_run"], true, "{c}");
    let keep = plan_items(&c, "keep");
    let remove = plan_items(&c, "remove");
    let planned: BTreeSet<&String> = keep.iter().chain(&remove).map(|(i, _)| i).collect();
    assert_eq!(planned, ids.iter().collect(), "{c}");
    assert_eq!(
        keep.len() + remove.len(),
        ids.len(),
        "a backup is planned twice: {c}"
    );
    for (id, reason) in keep.iter().chain(&remove) {
        assert!(!reason.trim().is_empty(), "{id} has no reason: {c}");
    }
    // No schedule gives a retention window: everything is kept.
    assert!(remove.is_empty(), "{c}");
    assert_eq!(tree(&p.repo()), before, "a dry run changed the repository");

    // The text face says it is a dry run and shows each decision.
    let o = p.run(&["backup", "cleanup", "--dry-run"]);
    assert_eq!(code(&o), 0, "{}", shown(&o));
    let text = stdout(&o);
    assert!(text.contains("DRY RUN"), "{text}");
    for id in &ids {
        assert!(text.contains(id.as_str()), "{id} missing from:\n{text}");
    }
    assert_eq!(tree(&p.repo()), before, "a dry run changed the repository");
}

#[test]
fn with_the_seed_retention_fresh_backups_are_all_kept() {
    let (p, ids) = several_backups(SEED_SCHEDULES);
    let (c, _) = json_run(&p, &["backup", "cleanup", "--dry-run"], 0);
    assert_eq!(
        c["policy"],
        serde_json::json!({"incremental": {"days": 7}, "full": {"weeks": 4}, "archival": {"months": 12}}),
        "{c}"
    );
    let keep = plan_items(&c, "keep");
    assert_eq!(keep.len(), ids.len(), "{c}");
    assert!(plan_items(&c, "remove").is_empty(), "{c}");
    for (id, reason) in &keep {
        assert!(
            reason.contains("within retention"),
            "{id}: a fresh backup should be kept as within retention: {reason}"
        );
    }
    // The real run removes nothing either.
    let before = files_under(&p.repo().join("backups"));
    let (c, _) = json_run(&p, &["backup", "cleanup"], 0);
    assert_eq!(c["dry_run"], false, "{c}");
    assert!(plan_items(&c, "remove").is_empty(), "{c}");
    assert_eq!(c["bytes_freed"], 0, "{c}");
    assert_eq!(files_under(&p.repo().join("backups")), before);
    let (l, _) = json_run(&p, &["backup", "list"], 0);
    assert_eq!(l["total_count"], ids.len() as u64, "{l}");
}

/// Commit an empty backup (no files, no volumes) that finished `age_days` ago, through the
/// library, the way an old backup would look.
async fn old_backup(
    p: &Project,
    backup_type: BackupType,
    age_days: i64,
    parent: Option<&str>,
) -> String {
    let storage: DynStorage = Arc::new(OpendalStorage::local(&p.repo()).unwrap());
    let key = read_key_file(&p.root().join("key")).unwrap();
    let repo = Repository::open(storage, Some(&Credential::KeyFile(key)))
        .await
        .unwrap();
    let when = Utc::now() - TimeDelta::days(age_days);
    let id = new_backup_id(when);
    let manifest = Manifest {
        summary: ManifestSummary {
            format_version: MANIFEST_VERSION,
            backup_id: id.clone(),
            backup_type,
            requested_type: backup_type,
            parent: parent.map(str::to_string),
            chain_root: parent.unwrap_or(&id).to_string(),
            chain_length: if parent.is_some() { 2 } else { 1 },
            started: when,
            finished: when,
            // This host's own older backup: retention is per host.
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            tool_version: "old".into(),
            compression_level: 3,
            encrypted: true,
            sources: Vec::new(),
            volumes: Vec::new(),
            totals: Totals::default(),
            depends_on: parent.iter().map(|s| s.to_string()).collect(),
            warnings: Vec::new(),
            block_map: None,
            base: None,
        },
        entries: Vec::new(),
        deleted: Vec::new(),
    };
    repo.commit_manifest(&manifest).await.unwrap();
    id
}

#[tokio::test]
async fn expired_backups_go_and_what_a_kept_backup_needs_stays() {
    let p = Project::new(SEED_SCHEDULES);
    p.write("a.txt", "alpha");
    p.init();
    let old_full = old_backup(&p, BackupType::Full, 60, None).await;
    let lonely_full = old_backup(&p, BackupType::Full, 90, None).await;
    let old_inc = old_backup(&p, BackupType::Incremental, 20, Some(&lonely_full)).await;
    let recent_inc = old_backup(&p, BackupType::Incremental, 1, Some(&old_full)).await;
    let current = id_of(&p.backup("full"));

    let before = tree(&p.repo());
    let (dry, _) = json_run(&p, &["backup", "cleanup", "--dry-run"], 0);
    assert_eq!(tree(&p.repo()), before, "a dry run changed the repository");
    let keep: BTreeSet<String> = plan_items(&dry, "keep").into_iter().map(|k| k.0).collect();
    let remove = plan_items(&dry, "remove");
    let removed: BTreeSet<String> = remove.iter().map(|k| k.0.clone()).collect();
    assert_eq!(
        keep,
        [current.clone(), recent_inc.clone(), old_full.clone()].into(),
        "{dry}"
    );
    assert_eq!(
        removed,
        [lonely_full.clone(), old_inc.clone()].into(),
        "{dry}"
    );
    let reason_of = |id: &str| {
        plan_items(&dry, "keep")
            .into_iter()
            .chain(plan_items(&dry, "remove"))
            .find(|k| k.0 == id)
            .unwrap()
            .1
    };
    assert!(reason_of(&old_full).contains("needed by"), "{dry}");
    assert!(reason_of(&lonely_full).contains("expired"), "{dry}");
    assert!(reason_of(&old_inc).contains("expired"), "{dry}");

    let (c, _) = json_run(&p, &["backup", "cleanup"], 0);
    assert_eq!(
        plan_items(&c, "remove").len(),
        2,
        "the real run should do what the dry run planned: {c}"
    );
    let (l, _) = json_run(&p, &["backup", "list"], 0);
    let listed: BTreeSet<String> = l["backups"].as_array().unwrap().iter().map(id_of).collect();
    assert_eq!(listed, keep, "{l}");
    for gone in [&lonely_full, &old_inc] {
        assert!(
            files_under(&backup_dir(&p, gone)).is_empty(),
            "{gone} still has objects"
        );
    }
    let (v, _) = json_run(&p, &["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["backups_checked"], 3, "{v}");
    let restored = p.restore(&current);
    common::assert_same_tree(&p.data(), &restored);
}

#[test]
fn orphans_are_listed_by_a_dry_run_and_removed_by_a_real_one() {
    let p = Project::new("  volume_size_mb: 1\n");
    p.write("a.bin", patterned(1, 700 << 10));
    p.write("b.bin", patterned(2, 700 << 10));
    p.init();
    let real = id_of(&p.backup("full"));
    // An unfinished backup's leftovers: two volumes and no manifest; and a temporary file.
    let orphan = new_backup_id(Utc::now());
    let odir = backup_dir(&p, &orphan);
    std::fs::create_dir_all(&odir).unwrap();
    let mut orphan_bytes = 0;
    for v in volumes(&p, &real) {
        let to = odir.join(v.file_name().unwrap());
        std::fs::copy(&v, &to).unwrap();
        orphan_bytes += std::fs::metadata(&to).unwrap().len();
    }
    std::fs::create_dir_all(p.repo().join("tmp")).unwrap();
    std::fs::write(p.repo().join("tmp/interrupted-write"), b"half an object").unwrap();

    let (s, _) = json_run(&p, &["backup", "status"], 0);
    assert_eq!(s["unfinished"], serde_json::json!([orphan]), "{s}");

    let before = tree(&p.repo());
    let (dry, _) = json_run(&p, &["backup", "cleanup", "--dry-run"], 0);
    assert_eq!(tree(&p.repo()), before, "a dry run changed the repository");
    let orphans = dry["orphans"].as_array().unwrap();
    let o = orphans
        .iter()
        .find(|o| o["backup_id"] == orphan.as_str())
        .unwrap_or_else(|| panic!("the dry run does not list {orphan}: {dry}"));
    assert_eq!(o["objects"], 2, "{dry}");
    assert_eq!(o["bytes"], orphan_bytes, "{dry}");
    assert!(!o["reason"].as_str().unwrap().is_empty(), "{dry}");
    assert!(
        orphans.iter().any(|o| o["backup_id"] == "tmp"),
        "the dry run does not list the temporary file: {dry}"
    );
    assert!(
        dry["bytes_freed"].as_u64().unwrap() >= orphan_bytes,
        "{dry}"
    );
    // The real backup is not an orphan.
    assert!(
        orphans.iter().all(|o| o["backup_id"] != real.as_str()),
        "{dry}"
    );

    let (c, _) = json_run(&p, &["backup", "cleanup"], 0);
    assert!(
        c["orphans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["backup_id"] == orphan.as_str()),
        "{c}"
    );
    assert!(
        files_under(&odir).is_empty(),
        "the orphan's volumes are still there"
    );
    assert!(!p.repo().join("tmp/interrupted-write").exists());
    let (s, _) = json_run(&p, &["backup", "status"], 0);
    assert_eq!(s["unfinished"], serde_json::json!([]), "{s}");
    json_run(&p, &["backup", "validate", "--level", "full"], 0);
    let restored = p.restore(&real);
    common::assert_same_tree(&p.data(), &restored);
    // A second cleanup finds nothing left to do.
    let (again, _) = json_run(&p, &["backup", "cleanup", "--dry-run"], 0);
    assert_eq!(again["orphans"], serde_json::json!([]), "{again}");
    // Last, because it is cosmetic: the orphan's folder itself is gone, not left empty.
    assert!(
        !odir.exists(),
        "cleanup left the orphan's folder behind, empty: {}",
        odir.display()
    );
}
