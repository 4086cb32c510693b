//! Keys: generation (mode 0600, a loud warning, never replaced), and a missing, an unreadable and a
//! wrong key: three different clear errors, exit 2, naming the key path, changing nothing.

use crate::common;
use crate::dr_util;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::{Project, tree};
use dr_util::*;

fn key_path(p: &Project) -> PathBuf {
    p.root().join("key")
}

/// A project with a repository and one backup.
fn with_backup() -> (Project, String) {
    let p = Project::new("");
    p.write("app.conf", "listen = 8080\n");
    p.write("state/workflows.json", "{\"runs\": 3}\n");
    p.init();
    let id = p.backup("full")["backup_id"].as_str().unwrap().to_string();
    (p, id)
}

/// Commands that need the key; each must fail the same way when the key is bad.
fn keyed_commands(p: &Project, id: &str) -> Vec<Vec<String>> {
    let target = p.root().join("restore-here").display().to_string();
    [
        vec!["backup", "status"],
        vec!["backup", "list"],
        vec!["backup", "run", "--type", "full"],
        vec!["backup", "validate", "--level", "full"],
        vec!["backup", "cleanup"],
        vec!["restore", "--backup-id", id, "--target", &target],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect()
}

/// Run every keyed command; each exits 2 naming the key path, no panic. Returns the error
/// message (first line of stderr) of `backup status`.
fn every_command_fails_with_a_key_error(p: &Project, id: &str) -> String {
    let key = key_path(p).display().to_string();
    let mut first = None;
    for args in keyed_commands(p, id) {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = p.run(&a);
        assert_no_panic(&o);
        assert_eq!(code(&o), 2, "{args:?}:\n{}", shown(&o));
        assert!(
            stderr(&o).contains(&key),
            "{args:?}: the error should name the key path {key}:\n{}",
            shown(&o)
        );
        // The JSON face gives the same error, kind "key".
        let mut aj = a.clone();
        aj.push("--json");
        let oj = p.run(&aj);
        assert_eq!(code(&oj), 2, "{args:?} --json:\n{}", shown(&oj));
        let v = json_of(&oj);
        assert_eq!(v["error"]["kind"], "key", "{args:?}: {v}");
        first.get_or_insert_with(|| stderr(&o).lines().next().unwrap_or("").to_string());
    }
    assert!(
        !p.root().join("restore-here").exists(),
        "a restore with a bad key created its target"
    );
    first.unwrap()
}

#[test]
fn init_generates_a_private_key_with_a_loud_warning() {
    let p = Project::new("");
    let o = p.run(&["init", "--generate-key", "--json"]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 0, "{}", shown(&o));
    let v = json_of(&o);
    assert_eq!(v["key_generated"], true, "{v}");
    assert_eq!(v["encrypted"], true, "{v}");
    let key = key_path(&p);
    assert_eq!(v["key_path"], key.display().to_string().as_str(), "{v}");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "key file mode is {mode:o}");
    let err = stderr(&o);
    assert!(
        err.contains("KEY") && err.contains("off this host"),
        "stderr should tell loudly to copy the key off this host:\n{err}"
    );
    // The text face says it too.
    let p2 = Project::new("");
    let o2 = p2.run(&["init", "--generate-key"]);
    assert_eq!(code(&o2), 0, "{}", shown(&o2));
    assert!(stderr(&o2).contains("off this host"), "{}", shown(&o2));
}

#[test]
fn a_second_generate_key_refuses_and_keeps_the_key() {
    let (p, _id) = with_backup();
    let key = key_path(&p);
    let before = std::fs::read(&key).unwrap();
    let repo_before = tree(&p.repo());
    let o = p.run(&["init", "--generate-key"]);
    assert_no_panic(&o);
    assert_ne!(code(&o), 0, "{}", shown(&o));
    assert!(
        stderr(&o).contains(&key.display().to_string()),
        "the refusal should name the key path:\n{}",
        shown(&o)
    );
    assert_eq!(std::fs::read(&key).unwrap(), before, "the key was replaced");
    assert_eq!(tree(&p.repo()), repo_before, "the repository changed");
    // The repository still opens with it.
    json_run(&p, &["backup", "validate", "--level", "full"], 0);
}

#[test]
fn a_missing_key_is_a_clear_error() {
    let (p, id) = with_backup();
    std::fs::remove_file(key_path(&p)).unwrap();
    let repo_before = tree(&p.repo());
    let msg = every_command_fails_with_a_key_error(&p, &id);
    assert!(msg.contains("does not exist"), "{msg}");
    assert_eq!(tree(&p.repo()), repo_before, "the repository changed");
}

/// Make the key unreadable: chmod 000, or (as root, who reads anything) a folder in its place.
fn make_unreadable(p: &Project) {
    let key = key_path(p);
    if is_root() {
        std::fs::remove_file(&key).unwrap();
        std::fs::create_dir(&key).unwrap();
    } else {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o000)).unwrap();
    }
}

#[test]
fn an_unreadable_key_is_a_clear_error() {
    let (p, id) = with_backup();
    make_unreadable(&p);
    let repo_before = tree(&p.repo());
    let msg = every_command_fails_with_a_key_error(&p, &id);
    assert!(msg.contains("cannot be read"), "{msg}");
    assert_eq!(tree(&p.repo()), repo_before, "the repository changed");
}

#[test]
fn a_wrong_key_is_a_clear_error_and_changes_nothing() {
    let (p, id) = with_backup();
    // Another valid key: the key of another repository.
    let other = Project::new("");
    other.init();
    std::fs::copy(key_path(&other), key_path(&p)).unwrap();
    p.write("new-file.txt", "made after the backup");
    let repo_before = tree(&p.repo());
    let msg = every_command_fails_with_a_key_error(&p, &id);
    assert!(msg.contains("does not open"), "{msg}");
    assert_eq!(
        tree(&p.repo()),
        repo_before,
        "a wrong key changed the stored repository"
    );
}

#[test]
fn missing_unreadable_and_wrong_keys_are_three_different_errors() {
    let (p, _id) = with_backup();
    let good = std::fs::read(key_path(&p)).unwrap();
    let status = |p: &Project| {
        let o = p.run(&["backup", "status", "--json"]);
        assert_no_panic(&o);
        assert_eq!(code(&o), 2, "{}", shown(&o));
        json_of(&o)["error"]["message"]
            .as_str()
            .unwrap()
            .to_string()
    };
    std::fs::remove_file(key_path(&p)).unwrap();
    let missing = status(&p);
    make_unreadable_after_missing(&p);
    let unreadable = status(&p);
    restore_plain_key(&p, &good);
    let other = Project::new("");
    other.init();
    std::fs::copy(key_path(&other), key_path(&p)).unwrap();
    let wrong = status(&p);
    std::fs::write(key_path(&p), "not a key at all\n").unwrap();
    let malformed = status(&p);
    let all = [&missing, &unreadable, &wrong, &malformed];
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            assert_ne!(a, b, "two different key problems give the same message");
        }
    }
    assert!(malformed.contains("not a mahavishnu-dr key"), "{malformed}");
    // And the right key works again.
    std::fs::write(key_path(&p), &good).unwrap();
    json_run(&p, &["backup", "status"], 0);
}

fn make_unreadable_after_missing(p: &Project) {
    std::fs::write(key_path(p), b"placeholder").unwrap();
    make_unreadable(p);
}

fn restore_plain_key(p: &Project, good: &[u8]) {
    let key = key_path(p);
    if key.is_dir() {
        std::fs::remove_dir(&key).unwrap();
    } else {
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::write(&key, good).unwrap();
}

#[test]
fn init_without_a_key_names_the_missing_key_and_creates_nothing() {
    let p = Project::new("");
    let o = p.run(&["init"]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 2, "{}", shown(&o));
    assert!(
        stderr(&o).contains(&key_path(&p).display().to_string())
            && stderr(&o).contains("--generate-key"),
        "the error should name the key path and how to make a key:\n{}",
        shown(&o)
    );
    assert!(
        !p.repo().join("config").exists(),
        "a repository was created"
    );
    assert!(!key_path(&p).exists());
}

#[test]
fn a_key_readable_by_others_is_warned_about_on_every_command() {
    let (p, id) = with_backup();
    let key = key_path(&p);
    let secret = std::fs::read_to_string(&key).unwrap().trim().to_string();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let warning = format!(
        "the key file {} is readable by group or others (mode 0644)",
        key.display()
    );
    let restores = p.root().join("restores");
    let target = |n: &str| restores.join(n).display().to_string();
    let (t1, t2) = (target("text"), target("json"));
    // (arguments, whether the --json result has a `warnings` list)
    let commands: Vec<(Vec<&str>, Vec<&str>, bool)> = vec![
        (vec!["backup", "status"], vec![], true),
        (vec!["backup", "list"], vec![], false),
        (vec!["backup", "run", "--type", "incremental"], vec![], true),
        (vec!["backup", "validate", "--level", "full"], vec![], true),
        (vec!["backup", "cleanup", "--dry-run"], vec![], true),
        (
            vec!["restore", "--backup-id", &id, "--target"],
            vec![&t1, &t2],
            true,
        ),
        (vec!["restore-test", "run"], vec![], true),
        (vec!["restore-test", "measure-rpo"], vec![], true),
        (vec!["report"], vec![], true),
        (vec!["check"], vec![], false),
    ];
    for (args, per_face, has_list) in &commands {
        for json in [false, true] {
            let mut a = args.clone();
            if let Some(extra) = per_face.get(usize::from(json)) {
                a.push(extra);
            }
            if json {
                a.push("--json");
            }
            let o = p.run(&a);
            assert_no_panic(&o);
            assert!(code(&o) < 2, "{a:?}:\n{}", shown(&o));
            let err = stderr(&o);
            assert!(
                err.contains(&format!("warning: {warning}")) && err.contains("chmod 600"),
                "{a:?}: stderr should warn about the key file's mode:\n{}",
                shown(&o)
            );
            assert_eq!(
                err.matches(&warning).count(),
                1,
                "{a:?}: said more than once:\n{err}"
            );
            assert!(
                !stdout(&o).contains(&secret) && !err.contains(&secret),
                "{a:?}: key material printed"
            );
            if json && *has_list {
                let v = json_of(&o);
                let listed = v["warnings"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{a:?}: no warnings list: {v}"))
                    .iter()
                    .filter(|w| w.as_str().unwrap().contains(&warning))
                    .count();
                assert_eq!(
                    listed, 1,
                    "{a:?}: the JSON warnings should name it once: {v}"
                );
            }
        }
    }

    // `init` reads an existing key too.
    let q = Project::new("");
    std::fs::copy(&key, key_path(&q)).unwrap();
    std::fs::set_permissions(key_path(&q), std::fs::Permissions::from_mode(0o640)).unwrap();
    let (v, err) = json_run(&q, &["init"], 0);
    assert!(err.contains("mode 0640"), "{err}");
    assert!(v["warnings"].to_string().contains("mode 0640"), "{v}");

    // chmod 600: silent again; nothing stored was lost.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let (s, err) = json_run(&p, &["backup", "status"], 0);
    assert!(!err.contains("readable by group"), "{err}");
    assert!(
        !s["warnings"].to_string().contains("readable by group"),
        "{s}"
    );
    assert_eq!(s["backup_count"], 3, "{s}");
    json_run(&p, &["backup", "validate", "--level", "full"], 0);
}
