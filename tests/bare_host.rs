//! Recovering on a bare host: a new server with no settings file, only the repository's
//! location and the key file (`--repository LOCATION --key-file PATH`, or
//! `MAHAVISHNU_REPOSITORY` / `MAHAVISHNU_KEY_FILE`), lists, checks, restores and decrypts the
//! backups another host made; commands that need the settings refuse and say how to get them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{self, Project, assert_same_tree};

/// The old server: a project whose sources are its data and its own settings folder, backed
/// up once as host `old-server`.
fn old_server() -> (Project, String) {
    let p = Project::new("");
    let yaml = "backup:\n  directory: \"./repo\"\n  host: old-server\n  sources: [\"./data\", \
                \"./settings\"]\n  encryption: { key_path: \"./key\" }\ndisaster_recovery:\n  \
                restore_test: { scratch_dir: \"./scratch\" }\n";
    std::fs::write(p.config(), yaml).unwrap();
    p.write("notes/a.txt", "alpha\n");
    p.write(
        "db/state.bin",
        (0..200_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>(),
    );
    p.write("empty.txt", "");
    p.init();
    let b = p.backup("full");
    let id = b["backup_id"].as_str().unwrap().to_string();
    (p, id)
}

/// A new host: an empty folder, no settings file, nothing of the environment's MAHAVISHNU_,
/// AWS_ or AZURE_ variables, HOME inside it.
struct BareHost {
    dir: tempfile::TempDir,
}

impl BareHost {
    fn new() -> BareHost {
        BareHost {
            dir: tempfile::tempdir().unwrap(),
        }
    }
    fn root(&self) -> &Path {
        self.dir.path()
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(common::BIN);
        c.args(args).current_dir(self.root());
        for (k, _) in std::env::vars() {
            if k.starts_with("MAHAVISHNU_") || k.starts_with("AWS_") || k.starts_with("AZURE_") {
                c.env_remove(k);
            }
        }
        c.env("HOME", self.root().join("home"));
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run mahavishnu-dr")
    }
    /// `--repository REPO --key-file KEY` then `args`.
    fn with(&self, repo: &Path, key: &Path, args: &[&str]) -> Output {
        let mut a = vec![
            "--repository",
            repo.to_str().unwrap(),
            "--key-file",
            key.to_str().unwrap(),
        ];
        a.extend_from_slice(args);
        self.run(&a)
    }
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ok(out: &Output) -> (String, String) {
    let (o, e) = text(out);
    assert_eq!(out.status.code(), Some(0), "stdout: {o}\nstderr: {e}");
    (o, e)
}

fn json(out: &Output) -> serde_json::Value {
    let (o, _) = ok(out);
    serde_json::from_str(&o).unwrap_or_else(|e| panic!("not JSON ({e}): {o}"))
}

/// The command failed with `code`, and stderr says all of `needles`.
fn fails(out: &Output, code: i32, needles: &[&str]) -> String {
    let (o, e) = text(out);
    assert_eq!(out.status.code(), Some(code), "stdout: {o}\nstderr: {e}");
    for n in needles {
        assert!(e.contains(n), "{n:?} not in stderr: {e}");
    }
    e
}

#[test]
fn a_bare_host_lists_checks_restores_and_decrypts_with_the_location_and_the_key() {
    let (p, id) = old_server();
    let key = p.root().join("key");
    let repo = p.repo();
    let h = BareHost::new();

    let v = json(&h.with(&repo, &key, &["backup", "list", "--json"]));
    assert_eq!(v["total_count"], 1, "{v}");
    assert_eq!(v["backups"][0]["backup_id"], id.as_str(), "{v}");
    assert_eq!(v["backups"][0]["host"], "old-server", "{v}");

    let (status, _) = ok(&h.with(&repo, &key, &["backup", "status"]));
    assert!(
        status.contains(&id) && status.contains("old-server"),
        "{status}"
    );

    // `latest` of a new host: the only host's newest, said in a warning.
    let target = h.root().join("restored");
    let out = h.with(
        &repo,
        &key,
        &["restore", "--target", target.to_str().unwrap()],
    );
    let (_, err) = ok(&out);
    assert!(
        err.contains("warning:") && err.contains("old-server") && err.contains(&id),
        "{err}"
    );
    assert_same_tree(&p.data(), &target.join("data"));
    assert_eq!(
        std::fs::read(target.join("settings/mahavishnu.yaml")).unwrap(),
        std::fs::read(p.config()).unwrap()
    );

    let v = json(&h.with(
        &repo,
        &key,
        &["backup", "validate", "--level", "full", "--json"],
    ));
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["files_checked"].as_u64().unwrap() >= 4, "{v}");

    // One stored file, and a whole volume.
    let one = h.root().join("a.txt");
    ok(&h.with(
        &repo,
        &key,
        &[
            "decrypt",
            "--file",
            "data/notes/a.txt",
            "--output",
            one.to_str().unwrap(),
        ],
    ));
    assert_eq!(std::fs::read(&one).unwrap(), b"alpha\n");
    let vol = h.root().join("vol0.tar.zst");
    let v = json(&h.with(
        &repo,
        &key,
        &["decrypt", "--output", vol.to_str().unwrap(), "--json"],
    ));
    assert_eq!(v["backup_id"], id.as_str(), "{v}");
    assert!(vol.metadata().unwrap().len() > 0);

    // Nothing but what was asked for was written on the new host.
    let mut made: Vec<String> = std::fs::read_dir(h.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    made.sort();
    assert_eq!(made, ["a.txt", "restored", "vol0.tar.zst"]);
}

#[test]
fn the_environment_names_the_repository_and_the_key_and_a_relative_location_works() {
    let (p, id) = old_server();
    let h = BareHost::new();
    let out = h
        .cmd(&["backup", "list", "--json"])
        .env("MAHAVISHNU_REPOSITORY", p.repo())
        .env("MAHAVISHNU_KEY_FILE", p.root().join("key"))
        .output()
        .unwrap();
    assert_eq!(json(&out)["backups"][0]["backup_id"], id.as_str());

    // A relative location and key resolve against the working folder; file:// works too.
    std::fs::rename(p.repo(), h.root().join("backups")).unwrap();
    std::fs::copy(p.root().join("key"), h.root().join("key")).unwrap();
    let out = h.run(&[
        "--repository",
        "./backups",
        "--key-file",
        "key",
        "backup",
        "list",
        "--json",
    ]);
    assert_eq!(json(&out)["backups"][0]["backup_id"], id.as_str());
    let url = format!("file://{}", h.root().join("backups").display());
    let target = h.root().join("r");
    let out = h.run(&[
        "--repository",
        &url,
        "--key-file",
        "key",
        "restore",
        "--target",
        target.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(json(&out)["backup_id"], id.as_str());
    assert_same_tree(&p.data(), &target.join("data"));
}

#[test]
fn a_wrong_or_missing_key_is_a_clear_error() {
    let (p, _) = old_server();
    let h = BareHost::new();
    let wrong = h.root().join("wrong-key");
    std::fs::write(&wrong, "ab".repeat(32)).unwrap();
    let e = fails(
        &h.with(&p.repo(), &wrong, &["backup", "list"]),
        2,
        &["error:"],
    );
    assert!(
        e.contains(wrong.to_str().unwrap()) && e.to_lowercase().contains("key"),
        "{e}"
    );
    let missing = h.root().join("no-such-key");
    let target = h.root().join("t");
    fails(
        &h.with(
            &p.repo(),
            &missing,
            &["restore", "--target", target.to_str().unwrap()],
        ),
        2,
        &["does not exist", missing.to_str().unwrap()],
    );
    assert!(!target.exists(), "nothing restored");
}

#[test]
fn commands_that_need_settings_refuse_on_a_bare_host_and_say_how_to_go_on() {
    let (p, _) = old_server();
    let key = p.root().join("key");
    let h = BareHost::new();
    let before = common::tree(&p.repo());
    for args in [
        &["backup", "run"][..],
        &["backup", "cleanup"],
        &["init"],
        &["replicate"],
        &["unlock"],
        &["restore-test", "run"],
        &["check"],
        &["metrics"],
        &["serve"],
    ] {
        let e = fails(
            &h.with(&p.repo(), &key, args),
            2,
            &["needs a settings file", "restore --path settings"],
        );
        assert!(e.contains(&format!("`{}`", args.join(" "))), "{e}");
    }
    assert_eq!(
        common::tree(&p.repo()),
        before,
        "the repository was changed"
    );
    // The message names where the settings file was looked for.
    let missing = h.root().join("conf/dr.yaml");
    let mut args = vec!["--config", missing.to_str().unwrap()];
    args.extend(["backup", "run"]);
    fails(
        &h.with(&p.repo(), &key, &args),
        2,
        &["needs a settings file", missing.to_str().unwrap()],
    );

    // A store name is not a location: without settings it names nothing.
    fails(
        &h.run(&["--repository", "offsite", "backup", "list"]),
        2,
        &["no store called \"offsite\"", "s3://BUCKET/PREFIX"],
    );
    // No settings and no repository: today's error, with the way on.
    fails(
        &h.run(&["backup", "list"]),
        2,
        &["not found", "--repository LOCATION --key-file PATH"],
    );
    // An unknown scheme.
    fails(
        &h.run(&["--repository", "ftp://host/x", "backup", "list"]),
        2,
        &["unknown scheme \"ftp\""],
    );
}

#[test]
fn with_settings_the_key_file_flag_replaces_the_key_path() {
    let (p, id) = old_server();
    let moved: PathBuf = p.root().join("elsewhere-key");
    std::fs::rename(p.root().join("key"), &moved).unwrap();
    let out = p.run(&["backup", "list", "--json"]);
    assert_ne!(out.status.code(), Some(0));
    let out = p.run(&[
        "--key-file",
        moved.to_str().unwrap(),
        "backup",
        "list",
        "--json",
    ]);
    assert_eq!(json(&out)["backups"][0]["backup_id"], id.as_str());
    // And a location with settings: the configured store in that place.
    let out = p.run(&[
        "--key-file",
        moved.to_str().unwrap(),
        "--repository",
        p.repo().to_str().unwrap(),
        "backup",
        "list",
        "--json",
    ]);
    assert_eq!(json(&out)["backups"][0]["backup_id"], id.as_str());
}

#[test]
fn latest_of_several_hosts_is_not_chosen_for_a_new_host() {
    let (p, id_old) = old_server();
    let yaml = std::fs::read_to_string(p.config())
        .unwrap()
        .replace("host: old-server", "host: other-server");
    std::fs::write(p.config(), yaml).unwrap();
    p.backup("full");
    let key = p.root().join("key");
    let h = BareHost::new();
    let target = h.root().join("t");
    let t = target.to_str().unwrap();
    for args in [
        &["restore", "--target", t][..],
        &["decrypt", "--output", t],
        &["backup", "validate", "--backup-id", "latest"],
    ] {
        fails(
            &h.with(&p.repo(), &key, args),
            1,
            &["old-server", "other-server", "--host"],
        );
        assert!(!target.exists());
    }
    let v = json(&h.with(
        &p.repo(),
        &key,
        &["restore", "--target", t, "--host", "old-server", "--json"],
    ));
    assert_eq!(v["backup_id"], id_old.as_str());
}
