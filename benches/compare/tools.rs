//! The tools (mahavishnu-dr and its peers restic, rustic and borg): how to find them, and the
//! exact command line of each step for each.

use std::env;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::fsutil;
use crate::s3server::S3Place;

/// The passphrase restic, rustic and borg derive their keys from (mahavishnu-dr uses a generated key file).
const PASSPHRASE: &str = "compare-bench-passphrase";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Mdr,
    Restic,
    Rustic,
    Borg,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Mdr, Kind::Restic, Kind::Rustic, Kind::Borg];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Mdr => "mahavishnu-dr",
            Kind::Restic => "restic",
            Kind::Rustic => "rustic",
            Kind::Borg => "borg",
        }
    }
}

/// One backup of a repetition's chain: whether mahavishnu-dr makes it as a full or an
/// incremental backup, and the archive name borg gives it (restic and rustic need none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackupStep {
    pub full: bool,
    pub archive: &'static str,
}

/// One installed tool, working in its own folder `<work>/tools/<name>` (repository, caches,
/// settings), which `reset` wipes for every repetition; in the s3 scenario its repository is a
/// prefix on the S3 server instead (mahavishnu-dr and restic only).
#[derive(Debug, Clone)]
pub struct Tool {
    pub kind: Kind,
    pub bin: PathBuf,
    pub version: String,
    pub home: PathBuf,
    pub s3: Option<S3Place>,
}

/// A tool that was asked for but cannot run, and why.
pub struct Skipped {
    pub name: &'static str,
    pub reason: String,
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH")?;
    env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The mahavishnu-dr binary: MAHAVISHNU_DR_BIN, else the one cargo built beside this bench
/// (`<target>/<profile>/mahavishnu-dr`; `cargo bench` builds it in `target/release/`), else
/// `<manifest>/target/release/mahavishnu-dr`.
fn find_mdr() -> Result<PathBuf, String> {
    if let Some(p) = env::var_os("MAHAVISHNU_DR_BIN") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!("MAHAVISHNU_DR_BIN={} is not a file", p.display()))
        };
    }
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(p) = option_env!("CARGO_BIN_EXE_mahavishnu-dr") {
        candidates.push(PathBuf::from(p));
    }
    if let Ok(exe) = env::current_exe() {
        // <target>/<profile>/deps/compare-<hash>
        if let Some(profile_dir) = exe.parent().and_then(Path::parent) {
            candidates.push(profile_dir.join("mahavishnu-dr"));
        }
    }
    candidates.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("release")
            .join("mahavishnu-dr"),
    );
    candidates.iter().find(|p| p.is_file()).cloned().ok_or_else(|| {
        format!(
            "binary not found (looked at {}); build it with `cargo build --release` or set MAHAVISHNU_DR_BIN",
            candidates
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// The first line a program prints for `args` (its version), or "unknown version".
pub fn first_line_of(bin: &Path, args: &[&str]) -> String {
    Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .map(|l| l.trim().to_string())
        })
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| "unknown version".to_string())
}

/// rustic is looked for in PATH and in `~/.cargo/bin` (where `cargo install rustic-rs` puts it);
/// the benchmark never builds it.
fn find_rustic() -> Option<PathBuf> {
    find_in_path("rustic").or_else(|| {
        let home = env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))?;
        Some(home.join("bin").join("rustic")).filter(|p| p.is_file())
    })
}

/// Finds the requested tools (all four unless `only` names some), in the fixed order
/// mahavishnu-dr, restic, rustic, borg.
pub fn discover(work: &Path, only: Option<&[String]>) -> (Vec<Tool>, Vec<Skipped>) {
    let mut tools = Vec::new();
    let mut skipped = Vec::new();
    for kind in Kind::ALL {
        if only.is_some_and(|o| !o.iter().any(|n| n == kind.name())) {
            continue;
        }
        let found = match kind {
            Kind::Mdr => find_mdr(),
            Kind::Restic => find_in_path("restic")
                .ok_or_else(|| "not installed (apt-get install restic)".to_string()),
            Kind::Rustic => find_rustic().ok_or_else(|| {
                "not installed (install it once with `cargo install rustic-rs --locked`)"
                    .to_string()
            }),
            Kind::Borg => find_in_path("borg")
                .ok_or_else(|| "not installed (apt-get install borgbackup)".to_string()),
        };
        match found {
            Ok(bin) => {
                let version = match kind {
                    Kind::Mdr => first_line_of(&bin, &["--version"]),
                    Kind::Restic => first_line_of(&bin, &["version"]),
                    Kind::Rustic => first_line_of(&bin, &["--version"]),
                    Kind::Borg => first_line_of(&bin, &["--version"]),
                };
                tools.push(Tool {
                    kind,
                    bin,
                    version,
                    home: work.join("tools").join(kind.name()),
                    s3: None,
                });
            }
            Err(reason) => skipped.push(Skipped {
                name: kind.name(),
                reason,
            }),
        }
    }
    (tools, skipped)
}

fn yaml_str(p: &Path) -> String {
    serde_json::Value::String(p.display().to_string()).to_string()
}

impl Tool {
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The same tool working in another folder (each scenario has its own).
    pub fn with_home(&self, home: PathBuf) -> Tool {
        Tool {
            home,
            ..self.clone()
        }
    }

    /// The same tool with its repository at `place` on an S3 server, its other files in `home`.
    pub fn on_s3(&self, home: PathBuf, place: S3Place) -> Tool {
        Tool {
            home,
            s3: Some(place),
            ..self.clone()
        }
    }

    /// The local repository folder (unused when the repository is on S3).
    pub fn repo(&self) -> PathBuf {
        self.home.join("repo")
    }

    /// What a restore or a validation reads: the repository folder, or the S3 server's data.
    pub fn repo_data(&self) -> PathBuf {
        self.s3
            .as_ref()
            .map_or_else(|| self.repo(), |p| p.server_data.clone())
    }

    fn settings_file(&self) -> PathBuf {
        self.home.join("settings").join("mahavishnu.yaml")
    }

    /// Wipes the tool's folder (repository, key, caches) and writes its settings.
    pub fn reset(&self, dataset: &Path) -> io::Result<()> {
        fsutil::remove_tree(&self.home)?;
        fs::create_dir_all(&self.home)?;
        if self.kind == Kind::Mdr {
            fs::create_dir_all(self.home.join("settings"))?;
            let place = match &self.s3 {
                Some(p) => format!("storage: {{ primary: {} }}", p.mdr_primary()),
                None => format!("directory: {}", yaml_str(&self.repo())),
            };
            let yaml = format!(
                "# Written by benches/compare.rs.\n\
                 backup:\n  \
                   {place}\n  \
                   sources: [{src}]\n  \
                   compression: {{ level: 3 }}\n  \
                   encryption: {{ enabled: true, key_path: {key} }}\n  \
                   validation: {{ verify_on_create: false, verify_on_restore: true }}\n",
                src = yaml_str(dataset),
                key = yaml_str(&self.home.join("key")),
            );
            fs::write(self.settings_file(), yaml)?;
        }
        Ok(())
    }

    /// A command for this tool with a controlled environment: no MAHAVISHNU_* (the benchmark's
    /// own variables would read as settings overrides), RESTIC_*, RUSTIC_*, BORG_* or AWS_* from
    /// outside; the passphrase, cache folders and (restic on S3) the S3 credentials set.
    fn command(&self) -> Command {
        let mut cmd = Command::new(&self.bin);
        for (key, _) in env::vars_os() {
            let k = key.to_string_lossy();
            if ["MAHAVISHNU_", "RESTIC_", "RUSTIC_", "BORG_", "AWS_"]
                .iter()
                .any(|p| k.starts_with(p))
            {
                cmd.env_remove(&key);
            }
        }
        match self.kind {
            Kind::Mdr => {
                cmd.arg("--config").arg(self.settings_file());
            }
            Kind::Restic => {
                cmd.env("RESTIC_PASSWORD", PASSPHRASE)
                    .env("RESTIC_CACHE_DIR", self.home.join("cache"))
                    .arg("--repo");
                match &self.s3 {
                    Some(p) => {
                        cmd.arg(p.restic_repo())
                            .env("AWS_ACCESS_KEY_ID", p.access_key)
                            .env("AWS_SECRET_ACCESS_KEY", p.secret_key)
                            .env("AWS_DEFAULT_REGION", "us-east-1");
                    }
                    None => {
                        cmd.arg(self.repo());
                    }
                }
            }
            Kind::Rustic => {
                // XDG_CONFIG_HOME inside the tool's folder: no profile of the user's applies.
                cmd.env("RUSTIC_PASSWORD", PASSPHRASE)
                    .env("RUSTIC_REPOSITORY", self.repo())
                    .env("RUSTIC_CACHE_DIR", self.home.join("cache"))
                    .env("XDG_CONFIG_HOME", self.home.join("config"))
                    .arg("--no-progress");
            }
            Kind::Borg => {
                cmd.env("BORG_PASSPHRASE", PASSPHRASE)
                    .env("BORG_BASE_DIR", self.home.join("base"))
                    .env("BORG_RELOCATED_REPO_ACCESS_IS_OK", "yes")
                    .env("BORG_HOSTNAME_IS_UNIQUE", "yes");
            }
        }
        cmd
    }

    fn borg_archive(&self, name: &str) -> String {
        format!("{}::{name}", self.repo().display())
    }

    /// Creates an empty repository (untimed).
    pub fn init(&self) -> Command {
        let mut cmd = self.command();
        match self.kind {
            Kind::Mdr => cmd.args(["init", "--generate-key", "--json"]),
            Kind::Restic => cmd.args(["init", "--repository-version", "2"]),
            Kind::Rustic => cmd.arg("init"),
            Kind::Borg => cmd
                .args(["init", "--encryption=repokey-blake2"])
                .arg(self.repo()),
        };
        cmd
    }

    pub fn backup(&self, dataset: &Path, step: BackupStep) -> Command {
        let mut cmd = self.command();
        match self.kind {
            Kind::Mdr => {
                let kind = if step.full { "full" } else { "incremental" };
                cmd.args(["backup", "run", "--backup-type", kind, "--json"]);
            }
            Kind::Restic | Kind::Rustic => {
                cmd.args(["backup", "--host", "compare-bench"]).arg(dataset);
            }
            Kind::Borg => {
                cmd.args(["create", "--compression", "zstd,3"])
                    .arg(self.borg_archive(step.archive))
                    .arg(dataset);
            }
        }
        cmd
    }

    /// Restores the newest backup (the one `newest` made) into `target`, which must not exist
    /// yet. Borg extracts into its working directory, so for borg `target` is created first.
    pub fn restore(&self, target: &Path, newest: BackupStep) -> io::Result<Command> {
        let mut cmd = self.command();
        match self.kind {
            Kind::Mdr => {
                cmd.args(["restore", "--backup-id", "latest", "--target"])
                    .arg(target)
                    .arg("--json");
            }
            Kind::Restic => {
                cmd.args(["restore", "latest", "--target"]).arg(target);
            }
            Kind::Rustic => {
                cmd.args(["restore", "latest"]).arg(target);
            }
            Kind::Borg => {
                fs::create_dir_all(target)?;
                cmd.arg("extract")
                    .arg(self.borg_archive(newest.archive))
                    .current_dir(target);
            }
        }
        Ok(cmd)
    }

    /// Where the dataset lands under a restore target: all four keep the absolute source path
    /// without its leading '/'.
    pub fn restored_root(&self, target: &Path, dataset: &Path) -> PathBuf {
        target.join(dataset.strip_prefix("/").unwrap_or(dataset))
    }

    /// Reads and authenticates every byte of every backup.
    pub fn validate(&self) -> Command {
        let mut cmd = self.command();
        match self.kind {
            Kind::Mdr => cmd.args(["backup", "validate", "--level", "full", "--json"]),
            Kind::Restic | Kind::Rustic => cmd.args(["check", "--read-data"]),
            Kind::Borg => cmd.args(["check", "--verify-data"]).arg(self.repo()),
        };
        cmd
    }
}
