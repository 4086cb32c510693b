//! Shared helpers for the integration tests: a temporary project and the real binary.
#![allow(dead_code)]

pub mod mcp;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// `backup_extra` for [`Project::new`]: a daily incremental at 02:00 UTC, as in the shipped
/// settings (the schedules give an RPO of 1 d at best).
pub const DAILY_SCHEDULE: &str = "  schedules:\n    daily_incremental: { enabled: true, time: \"02:00\", timezone: UTC, retention_days: 7 }\n";

/// `backup_extra` for [`Project::new`]: one local replica, `copy`, in `<root>/replica` (the
/// report's replicas check passes once a backup has reached it).
pub const LOCAL_REPLICA: &str =
    "  storage:\n    replicas: [{ name: copy, type: local, path: ./replica }]\n";

pub const BIN: &str = env!("CARGO_BIN_EXE_mahavishnu-dr");

/// A temporary project: `<root>/settings/mahavishnu.yaml`, data under `<root>/data`, the
/// repository in `<root>/repo`, the key in `<root>/key`, scratch in `<root>/scratch`.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    /// A project whose settings are `extra_yaml` appended under the defaults below. `extra_yaml`
    /// is placed inside the `backup:` section, indented by the caller with two spaces.
    pub fn new(backup_extra: &str) -> Project {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("settings")).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        let yaml = format!(
            "backup:\n  directory: \"./repo\"\n  sources: [\"./data\"]\n  encryption: {{ key_path: \"./key\" }}\n{backup_extra}\ndisaster_recovery:\n  restore_test: {{ scratch_dir: \"./scratch\" }}\n"
        );
        std::fs::write(root.join("settings/mahavishnu.yaml"), yaml).unwrap();
        Project { dir }
    }

    /// Append top-level YAML to the settings file (e.g. an `mcp:` section).
    pub fn add_settings(&self, yaml: &str) {
        let mut s = std::fs::read_to_string(self.config()).unwrap();
        s.push_str(yaml);
        std::fs::write(self.config(), s).unwrap();
    }

    /// Allow agents to restore into `<root>/restores` (the folder is created).
    pub fn with_restore_root(&self) -> PathBuf {
        let roots = self.root().join("restores");
        std::fs::create_dir_all(&roots).unwrap();
        self.add_settings(&format!(
            "mcp:\n  restore_roots: [\"{}\"]\n",
            roots.display()
        ));
        roots
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }
    pub fn data(&self) -> PathBuf {
        self.root().join("data")
    }
    pub fn repo(&self) -> PathBuf {
        self.root().join("repo")
    }
    pub fn config(&self) -> PathBuf {
        self.root().join("settings/mahavishnu.yaml")
    }

    /// A `Command` for the binary with `--config` set, no MAHAVISHNU_ variables inherited.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.arg("--config").arg(self.config()).args(args);
        c.current_dir(self.root());
        for (k, _) in std::env::vars() {
            if k.starts_with("MAHAVISHNU_") {
                c.env_remove(k);
            }
        }
        c
    }

    /// Run and return the output, whatever the exit code.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run mahavishnu-dr")
    }

    /// Run with `--json`, assert the exit code, parse stdout.
    pub fn json(&self, args: &[&str], expect_code: i32) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.run(&a);
        let code = out.status.code().unwrap_or(-1);
        assert_eq!(
            code,
            expect_code,
            "mahavishnu-dr {args:?} exited {code}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// `init --generate-key`.
    pub fn init(&self) -> Value {
        self.json(&["init", "--generate-key"], 0)
    }

    /// `backup run --type T`, returns the response.
    pub fn backup(&self, backup_type: &str) -> Value {
        self.json(&["backup", "run", "--type", backup_type], 0)
    }

    /// The first volume of a backup in the local repository.
    pub fn volume(&self, backup_id: &str) -> PathBuf {
        self.repo()
            .join("backups")
            .join(backup_id)
            .join("vol-00000")
    }

    /// Cut a backup's first volume to half its length (damage quick validation finds).
    pub fn truncate_volume(&self, backup_id: &str) {
        let vol = self.volume(backup_id);
        let len = std::fs::metadata(&vol).unwrap().len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&vol)
            .unwrap()
            .set_len(len / 2)
            .unwrap();
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.data().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }

    /// The arguments of `restore --backup-id ID --target TARGET` followed by `extra`.
    pub fn restore_args<'a>(id: &'a str, target: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
        let mut args = vec![
            "restore",
            "--backup-id",
            id,
            "--target",
            target.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args
    }

    /// Run `restore` (see [`Project::restore_args`]); the output, whatever the exit code.
    pub fn run_restore(&self, id: &str, target: &Path, extra: &[&str]) -> Output {
        self.run(&Self::restore_args(id, target, extra))
    }

    /// Restore `backup_id` into a fresh folder and return it (the data folder within).
    pub fn restore(&self, backup_id: &str) -> PathBuf {
        let target = self.root().join(format!("restore-{}", rand_suffix()));
        let v = self.json(&Self::restore_args(backup_id, &target, &[]), 0);
        assert!(v["files"].as_u64().is_some(), "{v}");
        target.join("data")
    }
}

pub fn rand_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Every file, folder and symlink under `root`: relative path -> (kind, mode, mtime, content).
pub fn tree(root: &Path) -> std::collections::BTreeMap<String, (String, u32, i64, Vec<u8>)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = std::collections::BTreeMap::new();
    fn walk(
        base: &Path,
        p: &Path,
        out: &mut std::collections::BTreeMap<String, (String, u32, i64, Vec<u8>)>,
    ) {
        for e in std::fs::read_dir(p).unwrap() {
            let e = e.unwrap();
            let path = e.path();
            let m = std::fs::symlink_metadata(&path).unwrap();
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if m.file_type().is_symlink() {
                let t = std::fs::read_link(&path).unwrap();
                out.insert(
                    rel,
                    (
                        "symlink".into(),
                        0,
                        0,
                        t.to_string_lossy().as_bytes().to_vec(),
                    ),
                );
            } else if m.is_dir() {
                out.insert(
                    rel.clone(),
                    ("dir".into(), m.mode() & 0o7777, 0, Vec::new()),
                );
                walk(base, &path, out);
            } else {
                out.insert(
                    rel,
                    (
                        "file".into(),
                        m.mode() & 0o7777,
                        m.mtime(),
                        std::fs::read(&path).unwrap(),
                    ),
                );
            }
        }
    }
    walk(root, root, &mut out);
    out
}

/// Assert two trees are identical (kinds, modes, file mtimes, contents, link targets).
pub fn assert_same_tree(expected: &Path, actual: &Path) {
    let a = tree(expected);
    let b = tree(actual);
    let ka: Vec<_> = a.keys().collect();
    let kb: Vec<_> = b.keys().collect();
    assert_eq!(ka, kb, "different paths");
    for (k, va) in &a {
        let vb = &b[k];
        assert_eq!(va.0, vb.0, "{k}: kind");
        assert_eq!(va.1, vb.1, "{k}: mode");
        assert_eq!(va.2, vb.2, "{k}: mtime");
        assert!(va.3 == vb.3, "{k}: content differs");
    }
}

/// A loopback port nobody listens on (for `serve --http`).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Wait (up to 30 s) until something listens on the loopback port.
pub fn wait_port(port: u16) {
    let t = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < std::time::Duration::from_secs(30),
            "the server did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
