//! Settings through the real binary: the seed file from the original DR plan loads unchanged and
//! backs up; schedules show their next runs; unknown keys (file or environment) stop the program
//! naming where they are; local.yaml and the environment override the main file; a disabled
//! backup does nothing; the default settings path; unencrypted repositories work and warn.

use crate::common;
use crate::tree_support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use chrono::{DateTime, Datelike, Timelike, Utc, Weekday};
use common::{BIN, Project};
use serde_json::Value;
use tree_support::*;

const SEED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/seed-settings.yaml");

/// The binary run in `cwd` with exactly the given `MAHAVISHNU_` variables.
fn run_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(BIN);
    c.args(args).current_dir(cwd);
    for (k, _) in std::env::vars() {
        if k.starts_with("MAHAVISHNU_") {
            c.env_remove(k);
        }
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run mahavishnu-dr")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Parse stdout as JSON after checking the exit code.
fn json_of(o: &Output, code: i32) -> Value {
    assert_eq!(
        o.status.code(),
        Some(code),
        "exit code\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&o.stdout),
        stderr(o)
    );
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&o.stdout)
        )
    })
}

/// A project whose settings file is the seed, byte for byte, with a file in data/.
struct SeedProject {
    dir: tempfile::TempDir,
}

impl SeedProject {
    fn new() -> SeedProject {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("settings")).unwrap();
        std::fs::copy(SEED, root.join("settings/mahavishnu.yaml")).unwrap();
        assert_eq!(
            std::fs::read(root.join("settings/mahavishnu.yaml")).unwrap(),
            std::fs::read(SEED).unwrap()
        );
        write_file(
            &root.join("data/state.json"),
            b"{\"workflows\": 3}\n",
            0o640,
        );
        SeedProject { dir }
    }
    fn root(&self) -> &Path {
        self.dir.path()
    }
    fn key(&self) -> PathBuf {
        self.root().join("secrets/backup_key")
    }
    fn repo(&self) -> PathBuf {
        self.root().join("elsewhere/repo")
    }
    fn run(&self, args: &[&str]) -> Output {
        let key = self.key();
        let repo = self.repo();
        std::fs::create_dir_all(key.parent().unwrap()).unwrap();
        run_in(
            self.root(),
            &[&["--config", "settings/mahavishnu.yaml"], args].concat(),
            &[
                (
                    "MAHAVISHNU_BACKUP__ENCRYPTION__KEY_PATH",
                    key.to_str().unwrap(),
                ),
                ("MAHAVISHNU_BACKUP__DIRECTORY", repo.to_str().unwrap()),
            ],
        )
    }
}

fn parse_time(v: &Value) -> DateTime<Utc> {
    v.as_str()
        .unwrap_or_else(|| panic!("not a time: {v}"))
        .parse()
        .unwrap()
}

#[test]
fn the_seed_file_unchanged_backs_up_settings_and_data() {
    let etc_key = Path::new("/etc/mahavishnu/backup_key");
    let etc_key_existed = etc_key.exists();
    let p = SeedProject::new();

    let v = json_of(&p.run(&["backup", "run", "--json"]), 0);
    assert_eq!(v["status"], "completed", "{v}");
    assert_eq!(v["backup_type"], "full", "{v}");
    // The seed's default sources: settings/ and data/ of the project root.
    assert_eq!(
        total(&v, "files"),
        2,
        "settings/mahavishnu.yaml and data/state.json: {v}"
    );
    assert_eq!(
        v["repository"].as_str().unwrap(),
        format!("local:{}", p.repo().display()),
        "{v}"
    );
    assert!(
        p.repo().join("config").exists(),
        "no repository at the env path"
    );
    assert!(
        !p.root().join("backups").exists(),
        "the seed's ./backups was used"
    );
    assert!(p.key().exists(), "no key at the env path");
    assert_eq!(
        std::fs::metadata(p.key()).unwrap().permissions().mode() & 0o777,
        0o600,
        "the key file is readable by others"
    );
    assert_eq!(
        etc_key.exists(),
        etc_key_existed,
        "a key was written to /etc"
    );

    let target = p.root().join("restored");
    let r = json_of(
        &p.run(&[
            "restore",
            "--backup-id",
            "latest",
            "--target",
            target.to_str().unwrap(),
            "--json",
        ]),
        0,
    );
    assert_eq!(r["files"], 2, "{r}");
    assert_same_dir(
        "settings",
        &p.root().join("settings"),
        &target.join("settings"),
    );
    assert_same_dir("data", &p.root().join("data"), &target.join("data"));

    // The seed's three schedules, each with its next run.
    let status = json_of(&p.run(&["backup", "status", "--json"]), 0);
    let now = Utc::now();
    let schedules = status["schedules"].as_array().unwrap();
    let mut names: Vec<&str> = schedules
        .iter()
        .map(|s| s["schedule"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["daily_incremental", "monthly_archival", "weekly_full"],
        "{status}"
    );
    for s in schedules {
        let next = parse_time(&s["next_run"]);
        assert!(next > now, "next run in the past: {s}");
        assert_eq!(s["enabled"], true, "{s}");
        match s["schedule"].as_str().unwrap() {
            "daily_incremental" => {
                assert_eq!(s["backup_type"], "incremental", "{s}");
                assert_eq!(
                    (next.hour(), next.minute(), next.second()),
                    (2, 0, 0),
                    "{s}"
                );
                assert!(next - now <= chrono::TimeDelta::days(1), "{s}");
            }
            "weekly_full" => {
                assert_eq!(s["backup_type"], "full", "{s}");
                assert_eq!(next.weekday(), Weekday::Sun, "{s}");
                assert_eq!(
                    (next.hour(), next.minute(), next.second()),
                    (3, 0, 0),
                    "{s}"
                );
                assert!(next - now <= chrono::TimeDelta::days(7), "{s}");
            }
            "monthly_archival" => {
                assert_eq!(s["backup_type"], "archival", "{s}");
                assert_eq!(next.day(), 1, "{s}");
                assert_eq!(
                    (next.hour(), next.minute(), next.second()),
                    (4, 0, 0),
                    "{s}"
                );
                assert!(next - now <= chrono::TimeDelta::days(31), "{s}");
            }
            other => panic!("unexpected schedule {other}"),
        }
    }
    assert_eq!(status["encrypted"], true, "{status}");
    assert_eq!(status["backup_count"], 1, "{status}");

    // One schedule turned off from the environment: no next run for it, the others unchanged.
    let key = p.key();
    let repo = p.repo();
    let out = run_in(
        p.root(),
        &["backup", "status", "--json"],
        &[
            (
                "MAHAVISHNU_BACKUP__ENCRYPTION__KEY_PATH",
                key.to_str().unwrap(),
            ),
            ("MAHAVISHNU_BACKUP__DIRECTORY", repo.to_str().unwrap()),
            (
                "MAHAVISHNU_BACKUP__SCHEDULES__WEEKLY_FULL__ENABLED",
                "false",
            ),
        ],
    );
    let status = json_of(&out, 0);
    for s in status["schedules"].as_array().unwrap() {
        let weekly = s["schedule"] == "weekly_full";
        assert_eq!(s["enabled"], !weekly, "{s}");
        assert_eq!(s["next_run"].is_null(), weekly, "{s}");
    }
}

#[test]
fn relative_paths_resolve_against_the_project_root_not_the_working_directory() {
    // cron runs jobs from /: an absolute --config from anywhere finds the same repository.
    let p = Project::new("");
    p.write("file.txt", "x");
    let elsewhere = tempfile::tempdir().unwrap();
    let config = p.config();
    let args = [
        "--config",
        config.to_str().unwrap(),
        "backup",
        "run",
        "--json",
    ];
    let v = json_of(&run_in(elsewhere.path(), &args, &[]), 0);
    assert_eq!(
        v["repository"].as_str().unwrap(),
        format!("local:{}", p.repo().display()),
        "{v}"
    );
    assert_eq!(total(&v, "files"), 1, "{v}");
    assert!(
        p.root().join("key").exists(),
        "the key is not at ./key of the project"
    );
    assert!(
        std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none(),
        "something was written to the working directory"
    );

    // A settings file outside a settings/ folder: paths resolve against its own folder.
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("stuff/a.txt"), b"a", 0o644);
    std::fs::write(
        dir.path().join("dr.yaml"),
        "backup:\n  directory: ./r\n  sources: [./stuff]\n  encryption: { key_path: ./k }\n",
    )
    .unwrap();
    let config = dir.path().join("dr.yaml");
    let args = [
        "--config",
        config.to_str().unwrap(),
        "backup",
        "run",
        "--json",
    ];
    let v = json_of(&run_in(elsewhere.path(), &args, &[]), 0);
    assert_eq!(total(&v, "files"), 1, "{v}");
    assert!(dir.path().join("r/config").exists(), "{v}");
    assert!(dir.path().join("k").exists(), "{v}");
}

#[test]
fn an_unknown_key_in_the_file_names_the_file_and_the_key() {
    let p = Project::new("  directry: \"./elsewhere\"\n");
    let out = p.run(&["backup", "run"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let e = stderr(&out);
    assert!(e.contains("settings/mahavishnu.yaml"), "{e}");
    assert!(e.contains("backup.directry"), "{e}");
    assert!(!p.repo().exists(), "a refused run created the repository");
    assert!(!p.root().join("key").exists(), "a refused run wrote a key");

    // A nested typo, the same.
    let p = Project::new("  validation: { verify_on_craete: true }\n");
    let out = p.run(&["backup", "status"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let e = stderr(&out);
    assert!(e.contains("settings/mahavishnu.yaml"), "{e}");
    assert!(e.contains("backup.validation.verify_on_craete"), "{e}");
}

#[test]
fn an_unknown_key_in_local_yaml_names_local_yaml() {
    let p = Project::new("");
    std::fs::write(
        p.root().join("settings/local.yaml"),
        "backup:\n  encryption: { algoritm: AES-256-GCM }\n",
    )
    .unwrap();
    let out = p.run(&["backup", "run"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let e = stderr(&out);
    assert!(e.contains("local.yaml"), "{e}");
    assert!(e.contains("backup.encryption.algoritm"), "{e}");
}

#[test]
fn an_unknown_key_in_the_environment_names_the_variable() {
    let p = Project::new("");
    let out = p
        .cmd(&["backup", "run"])
        .env("MAHAVISHNU_BACKUP__DIRECTRY", "x")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let e = stderr(&out);
    assert!(e.contains("MAHAVISHNU_BACKUP__DIRECTRY"), "{e}");
    assert!(!p.repo().exists(), "a refused run created the repository");

    // With --json the error is JSON on stdout too.
    let out = p
        .cmd(&["backup", "run", "--json"])
        .env("MAHAVISHNU_BACKUP__DIRECTRY", "x")
        .output()
        .unwrap();
    let v = json_of(&out, 2);
    assert_eq!(v["error"]["kind"], "settings", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("MAHAVISHNU_BACKUP__DIRECTRY"),
        "{v}"
    );
}

#[test]
fn local_yaml_overrides_the_main_file_and_the_environment_overrides_both() {
    let p = Project::new("  max_chain_length: 5\n");
    p.write("file.txt", "x");
    std::fs::write(
        p.root().join("settings/local.yaml"),
        "backup:\n  directory: \"./repo-local\"\n",
    )
    .unwrap();
    let v = p.json(&["backup", "run"], 0);
    assert_eq!(
        v["repository"].as_str().unwrap(),
        format!("local:{}", p.root().join("repo-local").display()),
        "{v}"
    );
    assert!(p.root().join("repo-local/config").exists());
    assert!(!p.repo().exists(), "the main file's directory was used");
    // The rest of the main file still applies: its sources and key.
    assert_eq!(total(&v, "files"), 1, "{v}");
    assert!(p.root().join("key").exists(), "{v}");

    // The environment beats local.yaml (relative to the project root, like the files).
    let out = p
        .cmd(&["backup", "run", "--json"])
        .env("MAHAVISHNU_BACKUP__DIRECTORY", "./repo-env")
        .output()
        .unwrap();
    let v = json_of(&out, 0);
    assert_eq!(
        v["repository"].as_str().unwrap(),
        format!("local:{}", p.root().join("repo-env").display()),
        "{v}"
    );
    assert!(p.root().join("repo-env/config").exists());
    let local = p.json(&["backup", "list"], 0);
    assert_eq!(local["total_count"], 1, "{local}");
}

#[test]
fn backup_enabled_false_skips_and_creates_nothing() {
    let p = Project::new("  enabled: false\n");
    p.write("file.txt", "x");
    let v = p.json(&["backup", "run"], 0);
    assert_eq!(v["status"], "skipped", "{v}");
    assert!(v["backup_id"].is_null(), "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("backup.enabled"),
        "{v}"
    );
    assert!(
        !p.repo().exists(),
        "a skipped backup created the repository folder: {:?}",
        snapshot(&p.repo()).keys().collect::<Vec<_>>()
    );
    assert!(!p.root().join("key").exists(), "a key was written");
}

#[test]
fn backup_enabled_false_from_the_environment_adds_nothing_to_a_repository() {
    let p = Project::new("");
    p.write("file.txt", "x");
    p.init();
    let before = snapshot(&p.repo());
    let out = p
        .cmd(&["backup", "run", "--type", "full", "--json"])
        .env("MAHAVISHNU_BACKUP__ENABLED", "false")
        .output()
        .unwrap();
    let v = json_of(&out, 0);
    assert_eq!(v["status"], "skipped", "{v}");
    assert_snap_eq(
        "the repository after a skipped run",
        &before,
        &snapshot(&p.repo()),
    );
    let list = p.json(&["backup", "list"], 0);
    assert_eq!(list["total_count"], 0, "{list}");
}

#[test]
fn without_config_the_settings_folder_of_the_working_directory_is_used() {
    let p = Project::new("");
    p.write("file.txt", "hello");
    let out = run_in(p.root(), &["backup", "run", "--json"], &[]);
    let v = json_of(&out, 0);
    assert_eq!(v["status"], "completed", "{v}");
    assert!(p.repo().join("config").exists());
    let out = run_in(p.root(), &["backup", "list", "--json"], &[]);
    let list = json_of(&out, 0);
    assert_eq!(list["backups"][0]["backup_id"], v["backup_id"], "{list}");

    // From a folder without settings/: a settings error that says what to do.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = run_in(elsewhere.path(), &["backup", "status"], &[]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let e = stderr(&out);
    assert!(e.contains("settings/mahavishnu.yaml"), "{e}");
    assert!(e.contains("--config"), "{e}");
}

#[test]
fn encryption_disabled_backs_up_restores_and_warns() {
    let p = Project::new("");
    // The harness sets encryption: { key_path }; local.yaml turns encryption off.
    std::fs::write(
        p.root().join("settings/local.yaml"),
        "backup:\n  encryption: { enabled: false }\n",
    )
    .unwrap();
    p.write("secret.txt", "not so secret");
    p.write("sub/more.bin", random_bytes(7, 50_000));

    let out = p.run(&["backup", "run", "--type", "full", "--json"]);
    let v = json_of(&out, 0);
    assert_eq!(v["status"], "completed", "{v}");
    let warned = |w: &str| w.contains("encryption") && w.contains("disabled");
    assert!(
        v["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| warned(w.as_str().unwrap())),
        "no warning about disabled encryption: {v}"
    );
    assert!(warned(&stderr(&out)), "stderr: {}", stderr(&out));
    assert!(!p.root().join("key").exists(), "a key was written");

    let (r, target) = restore_json(&p, &id_of(&v), &[]);
    assert_eq!(r["files"], 2, "{r}");
    assert_same_dir("unencrypted restore", &p.data(), &target.join("data"));

    let status = p.json(&["backup", "status"], 0);
    assert_eq!(status["encrypted"], false, "{status}");
    assert!(
        status["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| warned(w.as_str().unwrap())),
        "{status}"
    );
}

#[test]
fn a_read_only_command_on_a_missing_repository_creates_no_folder() {
    let p = Project::new("");
    p.write("file.txt", "x");
    for args in [["backup", "list"], ["backup", "status"]] {
        let out = p.run(&args);
        assert_ne!(
            out.status.code(),
            Some(0),
            "{args:?} on no repository: {out:?}"
        );
        assert!(
            !p.repo().exists(),
            "`{}` created the repository folder: {:?}",
            args.join(" "),
            snapshot(&p.repo()).keys().collect::<Vec<_>>()
        );
    }
}

#[test]
fn a_three_letter_day_schedules_and_an_unknown_drill_scenario_names_file_and_line() {
    let p = Project::new("  schedules:\n    weekly_full:\n      day: Sun\n      time: \"03:00\"\n");
    p.write("file.txt", "x");
    let v = p.json(&["backup", "run"], 0);
    assert_eq!(v["status"], "completed", "{v}");
    let status = p.json(&["backup", "status"], 0);
    let s = &status["schedules"][0];
    assert_eq!(s["schedule"], "weekly_full", "{status}");
    assert_eq!(s["cadence"], "weekly on sunday at 03:00 UTC", "{status}");
    assert_eq!(parse_time(&s["next_run"]).weekday(), Weekday::Sun, "{s}");

    // An unknown drill scenario stops every command, naming the file, the key and the line.
    std::fs::write(
        p.root().join("settings/local.yaml"),
        "disaster_recovery:\n  drills:\n    scenarios:\n      - data_deletion\n      - meteor_strike\n",
    )
    .unwrap();
    let out = p.run(&["backup", "status"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let e = stderr(&out);
    assert!(
        e.contains("settings/local.yaml: disaster_recovery.drills.scenarios[1]"),
        "{e}"
    );
    assert!(e.contains("\"meteor_strike\""), "{e}");
    assert!(e.contains("line 5"), "{e}");
    for id in [
        "single_server_failure",
        "region_failure",
        "database_corruption",
        "network_partition",
        "data_deletion",
    ] {
        assert!(e.contains(id), "{id}: {e}");
    }
}
