//! `mahavishnu-dr diff` on real repositories: the live sources against a backup, path by path
//! (added, changed, removed, with sizes), restricted by `--path`, against an older backup, capped
//! by `--limit`, with `--content`, and the errors a caller can make.

use crate::common;

use common::Project;
use serde_json::Value;

/// A project backed up once (full): keep.txt, change.txt ("old", 3 B), gone.txt ("bye!", 4 B),
/// sub/deep.txt.
fn backed_up() -> (Project, String) {
    let p = Project::new("");
    p.write("keep.txt", "same\n");
    p.write("change.txt", "old");
    p.write("gone.txt", "bye!");
    p.write("sub/deep.txt", "deep\n");
    p.init();
    let id = p.backup("full")["backup_id"].as_str().unwrap().to_string();
    (p, id)
}

fn diff(p: &Project, extra: &[&str], code: i32) -> Value {
    let mut args = vec!["diff"];
    args.extend_from_slice(extra);
    p.json(&args, code)
}

fn paths(v: &Value, list: &str) -> Vec<String> {
    v[list]
        .as_array()
        .unwrap_or_else(|| panic!("no list {list}: {v:#}"))
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect()
}

/// Add new.txt (7 B), rewrite change.txt (11 B), delete gone.txt.
fn damage(p: &Project) {
    p.write("new.txt", "brand-n");
    p.write("change.txt", "new content");
    std::fs::remove_file(p.data().join("gone.txt")).unwrap();
}

#[test]
fn a_fresh_backup_has_no_differences_and_damage_is_listed_exactly_with_sizes() {
    let (p, id) = backed_up();
    let clean = diff(&p, &[], 0);
    assert_eq!(clean["differences"], false, "{clean:#}");
    assert_eq!(clean["backup_id"], id.as_str());
    for list in ["added", "changed", "removed"] {
        assert!(paths(&clean, list).is_empty(), "{clean:#}");
        assert_eq!(clean["counts"][list]["total"], 0);
    }
    assert!(clean["counts"]["unchanged"].as_u64().unwrap() >= 4);
    assert!(
        clean["message"]
            .as_str()
            .unwrap()
            .contains("no differences")
    );
    // --exit-code: 0 when nothing differs.
    diff(&p, &["--exit-code"], 0);

    damage(&p);
    let d = diff(&p, &[], 0);
    assert_eq!(d["differences"], true);
    assert_eq!(paths(&d, "added"), ["data/new.txt"]);
    assert_eq!(paths(&d, "changed"), ["data/change.txt"]);
    assert_eq!(paths(&d, "removed"), ["data/gone.txt"]);
    let added = &d["added"][0];
    assert_eq!(added["kind"], "file");
    assert_eq!(added["live"]["size"], 7);
    assert!(added["live"]["modified"].is_string());
    assert!(added.get("backup").is_none(), "{added:#}");
    let changed = &d["changed"][0];
    assert_eq!(changed["backup"]["size"], 3);
    assert_eq!(changed["live"]["size"], 11);
    assert!(
        changed["differs"]
            .as_array()
            .unwrap()
            .contains(&Value::from("size")),
        "{changed:#}"
    );
    let removed = &d["removed"][0];
    assert_eq!(removed["backup"]["size"], 4);
    assert!(removed.get("live").is_none(), "{removed:#}");
    assert_eq!(d["counts"]["added"]["files"], 1);
    assert_eq!(d["counts"]["changed"]["bytes"], 11);
    assert_eq!(d["counts"]["removed"]["bytes"], 4);
    // What a restore of the affected paths brings back, and what is live only.
    assert_eq!(d["bytes_to_restore"], 3 + 4);
    assert_eq!(d["bytes_at_risk"], 7 + 11);
    assert_eq!(d["truncated"], false);
    assert!(d["method"].as_str().unwrap().contains("command sources"));

    // --exit-code: 1 when something differs; the JSON is the same.
    let e = diff(&p, &["--exit-code"], 1);
    assert_eq!(paths(&e, "removed"), ["data/gone.txt"]);

    // The text groups by kind, git-status style.
    let out = p.run(&["diff"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "+ data/new.txt",
        "~ data/change.txt",
        "- data/gone.txt",
        "Removed (1, 4 B)",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    assert!(!text.contains("keep.txt"), "{text}");

    // The affected paths restore from the backup as diff named them.
    let target = p.root().join("restored");
    let r = p.run_restore(
        &id,
        &target,
        &["--path", "data/gone.txt", "--path", "data/change.txt"],
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(
        std::fs::read_to_string(target.join("data/gone.txt")).unwrap(),
        "bye!"
    );
}

#[test]
fn path_restricts_the_comparison_and_a_path_that_names_nothing_is_a_usage_error() {
    let (p, _) = backed_up();
    damage(&p);
    let sub = diff(&p, &["--path", "data/sub"], 0);
    assert_eq!(sub["differences"], false, "{sub:#}");
    assert_eq!(sub["paths"], serde_json::json!(["data/sub"]));
    let gone = diff(
        &p,
        &["--path", "data/gone.txt", "--path", "data/new.txt/"],
        0,
    );
    assert_eq!(paths(&gone, "removed"), ["data/gone.txt"]);
    assert_eq!(paths(&gone, "added"), ["data/new.txt"]);
    assert!(paths(&gone, "changed").is_empty(), "{gone:#}");

    let out = p.run(&["diff", "--path", "data/nothing-here"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("data/nothing-here") && err.contains("names nothing"),
        "{err}"
    );
    let bad = p.run(&["diff", "--path", "../etc"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn an_older_backup_id_is_compared_and_an_unknown_one_is_a_clear_error() {
    let (p, first) = backed_up();
    damage(&p);
    let second = p.backup("incremental")["backup_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    // latest is the new backup: nothing differs from it.
    let latest = diff(&p, &[], 0);
    assert_eq!(latest["backup_id"], second.as_str());
    assert_eq!(latest["differences"], false, "{latest:#}");
    // The first backup still shows the damage.
    let old = diff(&p, &["--backup-id", &first], 0);
    assert_eq!(old["backup_id"], first.as_str());
    assert_eq!(paths(&old, "removed"), ["data/gone.txt"]);
    assert_eq!(paths(&old, "added"), ["data/new.txt"]);

    let out = p.run(&[
        "diff",
        "--backup-id",
        "backup_20000101T000000.000Z_00000000",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("backup_20000101T000000.000Z_00000000"),
        "{err}"
    );
    assert!(
        err.contains("backup list"),
        "the guidance names the way out: {err}"
    );
    // --json: the error as JSON on stdout.
    let v = diff(&p, &["--backup-id", "nope"], 2);
    assert!(
        v["error"]["message"].as_str().unwrap().contains("nope"),
        "{v:#}"
    );
}

#[test]
fn limit_caps_the_lists_not_the_counts_and_content_ignores_a_touch() {
    let (p, _) = backed_up();
    for i in 0..3 {
        p.write(&format!("extra-{i}.txt"), "x");
    }
    let capped = diff(&p, &["--limit", "1"], 0);
    assert_eq!(paths(&capped, "added").len(), 1);
    assert_eq!(capped["counts"]["added"]["total"], 3);
    assert_eq!(capped["truncated"], true);
    let all = diff(&p, &["--limit", "0"], 0);
    assert_eq!(paths(&all, "added").len(), 3);
    assert_eq!(all["truncated"], false);

    // The same bytes rewritten: the stamp differs, the content does not.
    p.write("keep.txt", "same\n");
    let stamp = diff(&p, &["--path", "data/keep.txt"], 0);
    assert_eq!(paths(&stamp, "changed"), ["data/keep.txt"], "{stamp:#}");
    let content = diff(&p, &["--path", "data/keep.txt", "--content"], 0);
    assert_eq!(content["differences"], false, "{content:#}");
    assert_eq!(content["content_compared"], true);
    assert_eq!(content["files_hashed"], 1);
    // Different bytes of the same size are still a change, by content.
    p.write("keep.txt", "SAME\n");
    let changed = diff(&p, &["--path", "data/keep.txt", "--content"], 0);
    assert!(
        changed["changed"][0]["differs"]
            .as_array()
            .unwrap()
            .contains(&Value::from("content")),
        "{changed:#}"
    );
}
