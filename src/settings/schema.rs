//! The typed settings: what a run works with once the files and the environment are loaded,
//! checked and resolved ([`super::load`]). Every schedule is a resolved [`Schedule`], every drill
//! scenario one of [`DrillScenario`]'s ids, every path absolute.
//!
//! The sections that read the same in a file and in the model (sources, compression, encryption,
//! validation, storage, mcp; monitoring in [`super::monitoring`]) are defined here once and
//! deserialized directly; the
//! file form of the others (`backup`, its schedules, `disaster_recovery`) is in
//! [`super::document`]. Serializing the model gives a settings file again (`settings show`, the
//! MCP `dr://settings` resource), with every default and derived value written out.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::disaster_recovery::DisasterRecoverySettings;
pub use super::monitoring::MonitoringSettings;
use super::schedule::{Schedule, TimeOfDay, Timezone};
use super::secret::Secret;

/// The effective settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Settings {
    pub backup: BackupSettings,
    pub disaster_recovery: DisasterRecoverySettings,
    pub mcp: McpSettings,
    pub daemon: super::DaemonSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupSettings {
    /// false: scheduled runs skip, a manual run says so and does nothing.
    pub enabled: bool,
    /// The local repository (used unless `storage.primary` names another).
    pub directory: PathBuf,
    /// What to protect. Empty: `settings/` and `data/` of the project root.
    pub sources: Vec<SourceSpec>,
    /// Glob patterns excluded from every path source (`*.log`, `cache/` for a folder).
    pub exclude: Vec<String>,
    /// Volumes split at file boundaries once this much input (MiB) is in one.
    pub volume_size_mb: u64,
    /// A chain longer than this (backups since its full) starts a new full.
    pub max_chain_length: u32,
    pub compression: CompressionSettings,
    /// Named schedules; the seed has daily_incremental, weekly_full and monthly_archival.
    pub schedules: BTreeMap<String, BackupSchedule>,
    pub encryption: EncryptionSettings,
    pub validation: ValidationSettings,
    pub monitoring: MonitoringSettings,
    pub storage: StorageSettings,
    /// How long a backup or cleanup waits for a conflicting lock before giving up (seconds).
    pub lock_wait_seconds: u64,
    pub block_incremental: BlockIncrementalSettings,
    pub continuous: ContinuousSettings,
    /// The host name this machine's backups, locks and history records carry (chains and
    /// retention are per host). None: the system's host name.
    pub host: Option<String>,
    /// Hosts that no longer back up into this repository: their backups stay listed and
    /// restorable, but no check or verdict judges their age against the RPO target.
    pub retired_hosts: Vec<String>,
}

/// The longest host name accepted (`backup.host`, `--host`): a DNS name's limit.
pub const MAX_HOST_NAME_LEN: usize = 253;

/// What is wrong with `name` as a host name (`backup.host`, `--host`), if anything: it must be
/// non-empty, at most [`MAX_HOST_NAME_LEN`] bytes, without control characters, `/` or `\`, and
/// not start or end with whitespace.
pub fn host_name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        return Some("a host name must not be empty".to_string());
    }
    if name.len() > MAX_HOST_NAME_LEN {
        return Some(format!(
            "a host name is at most {MAX_HOST_NAME_LEN} bytes, this one has {}",
            name.len()
        ));
    }
    if name.chars().any(|c| c.is_control()) {
        return Some(format!("host name {name:?} contains a control character"));
    }
    if name.contains('/') || name.contains('\\') {
        return Some(format!("host name {name:?} contains `/` or `\\`"));
    }
    if name.trim() != name {
        return Some(format!("host name {name:?} starts or ends with whitespace"));
    }
    None
}

/// `backup.block_incremental`: large files stored as blocks, so an incremental stores only the
/// blocks that changed (SQLite databases always are, at page granularity).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BlockIncrementalSettings {
    /// Files of at least this many MiB are stored as blocks.
    pub min_file_mb: u64,
}

impl Default for BlockIncrementalSettings {
    fn default() -> Self {
        BlockIncrementalSettings { min_file_mb: 16 }
    }
}

/// `backup.continuous`: continuous protection. The daemon watches the path sources and records
/// what changed as small continuous points between scheduled backups (`docs/DAEMON.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ContinuousSettings {
    pub enabled: bool,
    /// A point is made once the sources have been quiet this long after a change (seconds).
    pub debounce_seconds: u64,
    /// ... or at the latest this long after the first change not yet in a point, however
    /// busy the sources are (seconds): the bound on the recovery point.
    pub max_delay_seconds: u64,
    /// The path sources to protect continuously (as `backup.sources` writes them). Empty:
    /// every path source. Command sources are only run by scheduled backups.
    pub paths: Vec<PathBuf>,
    /// Every point is kept at least this long (hours); then cleanup folds the points into the
    /// scheduled backups (removes them once a newer backup holds their state).
    pub keep_hours: u64,
}

impl Default for ContinuousSettings {
    fn default() -> Self {
        ContinuousSettings {
            enabled: false,
            debounce_seconds: 2,
            max_delay_seconds: 15,
            paths: Vec::new(),
            keep_hours: 24,
        }
    }
}

impl Default for BackupSettings {
    fn default() -> Self {
        BackupSettings {
            enabled: true,
            directory: PathBuf::from("./backups"),
            sources: Vec::new(),
            exclude: Vec::new(),
            volume_size_mb: 64,
            max_chain_length: 14,
            compression: CompressionSettings::default(),
            schedules: BTreeMap::new(),
            encryption: EncryptionSettings::default(),
            validation: ValidationSettings::default(),
            monitoring: MonitoringSettings::default(),
            storage: StorageSettings::default(),
            lock_wait_seconds: 600,
            block_incremental: BlockIncrementalSettings::default(),
            continuous: ContinuousSettings::default(),
            host: None,
            retired_hosts: Vec::new(),
        }
    }
}

/// One source: a path (a bare string, or `{path, exclude}`), or a command whose stdout is stored.
///
/// Deserialized by hand (not `untagged`) so that a wrong entry gets a message that says which
/// forms are accepted and which key is wrong.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum SourceSpec {
    /// `- "./settings"`
    Path(PathBuf),
    /// `- {path: "./data", exclude: ["*.tmp"]}`
    PathWithExcludes {
        path: PathBuf,
        #[serde(default)]
        exclude: Vec<String>,
    },
    /// `- {name: "postgres.sql", command: ["pg_dump", "mahavishnu"]}`
    Command { name: String, command: Vec<String> },
}

impl SourceSpec {
    /// The path of a path source; `None` for a command source.
    pub fn path(&self) -> Option<&Path> {
        match self {
            SourceSpec::Path(path) | SourceSpec::PathWithExcludes { path, .. } => Some(path),
            SourceSpec::Command { .. } => None,
        }
    }
}

const SOURCE_FIELDS: &[&str] = &["path", "exclude", "name", "command"];
const SOURCE_FORMS: &str = "a path string, a mapping {path, exclude} or a mapping {name, command}";

impl<'de> Deserialize<'de> for SourceSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SourceVisitor;

        impl<'de> Visitor<'de> for SourceVisitor {
            type Value = SourceSpec;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(SOURCE_FORMS)
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<SourceSpec, E> {
                if v.is_empty() {
                    return Err(E::invalid_value(Unexpected::Str(v), &"a non-empty path"));
                }
                Ok(SourceSpec::Path(PathBuf::from(v)))
            }

            // A bare number or boolean is a path too (`- 2024`), as a typed YAML read gives it.
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<SourceSpec, E> {
                Ok(SourceSpec::Path(PathBuf::from(v.to_string())))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<SourceSpec, E> {
                Ok(SourceSpec::Path(PathBuf::from(v.to_string())))
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<SourceSpec, A::Error> {
                let mut path: Option<PathBuf> = None;
                let mut exclude: Option<Vec<String>> = None;
                let mut name: Option<String> = None;
                let mut command: Option<Vec<String>> = None;
                while let Some(key) = map.next_key::<String>()? {
                    match key.as_str() {
                        "path" if path.is_some() => return Err(de::Error::duplicate_field("path")),
                        "path" => path = Some(map.next_value()?),
                        "exclude" if exclude.is_some() => {
                            return Err(de::Error::duplicate_field("exclude"));
                        }
                        "exclude" => exclude = Some(map.next_value()?),
                        "name" if name.is_some() => return Err(de::Error::duplicate_field("name")),
                        "name" => name = Some(map.next_value()?),
                        "command" if command.is_some() => {
                            return Err(de::Error::duplicate_field("command"));
                        }
                        "command" => command = Some(map.next_value()?),
                        other => return Err(de::Error::unknown_field(other, SOURCE_FIELDS)),
                    }
                }
                match (path, exclude, name, command) {
                    (Some(path), exclude, None, None) => {
                        if path.as_os_str().is_empty() {
                            return Err(de::Error::custom("a source path must not be empty"));
                        }
                        Ok(SourceSpec::PathWithExcludes {
                            path,
                            exclude: exclude.unwrap_or_default(),
                        })
                    }
                    (None, None, Some(name), Some(command)) => {
                        Ok(SourceSpec::Command { name, command })
                    }
                    (None, None, Some(_), None) => Err(de::Error::custom(
                        "a command source needs `command` (the program and its arguments, e.g. [\"pg_dump\", \"mydb\"])",
                    )),
                    (None, None, None, Some(_)) => Err(de::Error::custom(
                        "a command source needs `name` (the file name its output is stored as, e.g. \"postgres.sql\")",
                    )),
                    (None, Some(_), _, _) => Err(de::Error::custom(
                        "`exclude` belongs to a path source: add `path`",
                    )),
                    (Some(_), _, _, _) => Err(de::Error::custom(
                        "a source is either a path ({path, exclude}) or a command ({name, command}), not both",
                    )),
                    (None, None, None, None) => Err(de::Error::custom(format!(
                        "an empty source: expected {SOURCE_FORMS}"
                    ))),
                }
            }
        }

        deserializer.deserialize_any(SourceVisitor)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct CompressionSettings {
    /// zstd level for full and incremental backups (1..=22).
    pub level: i32,
    /// zstd level for archival backups (1..=22).
    pub archival_level: i32,
}

impl Default for CompressionSettings {
    fn default() -> Self {
        CompressionSettings {
            level: 3,
            archival_level: 19,
        }
    }
}

/// One entry of `backup.schedules`, resolved: when it runs and which backup it makes.
///
/// Serialized as a settings file writes it (`time`, `timezone`, `day`, ...), with the backup
/// type written out even when the file left it to the schedule's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupSchedule {
    pub enabled: bool,
    /// `backup_type` if the file gives it, else the type the schedule's name ends in.
    pub backup_type: BackupTypeSetting,
    pub schedule: Schedule,
    pub retention_days: Option<u32>,
    pub retention_weeks: Option<u32>,
    pub retention_months: Option<u32>,
}

impl Serialize for BackupSchedule {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct AsWritten {
            enabled: bool,
            backup_type: BackupTypeSetting,
            time: TimeOfDay,
            timezone: Timezone,
            day: Option<super::schedule::DaySetting>,
            retention_days: Option<u32>,
            retention_weeks: Option<u32>,
            retention_months: Option<u32>,
        }
        AsWritten {
            enabled: self.enabled,
            backup_type: self.backup_type,
            time: TimeOfDay(self.schedule.time),
            timezone: Timezone(self.schedule.timezone),
            day: self.schedule.repeat.day(),
            retention_days: self.retention_days,
            retention_weeks: self.retention_weeks,
            retention_months: self.retention_months,
        }
        .serialize(s)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupTypeSetting {
    Full,
    Incremental,
    Archival,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct EncryptionSettings {
    /// false stores volumes unencrypted (a warning is printed on every run).
    pub enabled: bool,
    /// Only "AES-256-GCM" is accepted.
    pub algorithm: String,
    /// The key file: 32 random bytes (raw, or as hex or base64 text).
    pub key_path: PathBuf,
}

impl Default for EncryptionSettings {
    fn default() -> Self {
        EncryptionSettings {
            enabled: true,
            algorithm: "AES-256-GCM".to_string(),
            key_path: PathBuf::from("/etc/mahavishnu/backup_key"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ValidationSettings {
    pub enabled: bool,
    /// Only "sha256" is accepted.
    pub checksum_algorithm: String,
    /// Read every new backup back (full depth) before reporting success.
    pub verify_on_create: bool,
    /// Check every restored file's SHA-256 as it is written.
    pub verify_on_restore: bool,
}

impl Default for ValidationSettings {
    fn default() -> Self {
        ValidationSettings {
            enabled: true,
            checksum_algorithm: "sha256".to_string(),
            verify_on_create: true,
            verify_on_restore: true,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// Overrides `backup.directory` when set.
    pub primary: Option<StorageTarget>,
    pub replicas: Vec<StorageTarget>,
}

/// The S3 object-lock mode (`lock_mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ObjectLockMode {
    #[default]
    Compliance,
    Governance,
}

/// Seconds one call to a cloud store may take by default (`timeout_seconds`).
pub const DEFAULT_CALL_TIMEOUT_SECONDS: u64 = 120;

/// The name of the primary store when the settings give it none.
pub const PRIMARY_STORE: &str = "primary";

/// A store the settings name: the primary or one of the replicas.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedStore {
    /// `primary` (or the primary's own `name`), else the replica's `name`.
    pub name: String,
    pub target: StorageTarget,
    pub primary: bool,
    /// Where the settings say it (`backup.storage.replicas[1]`), for messages.
    pub setting: String,
}

/// The name of an unnamed replica: `replica-1` for the first in the list, and so on.
pub fn default_replica_name(index: usize) -> String {
    format!("replica-{}", index + 1)
}

impl StorageSettings {
    /// The primary store: `primary`, else the local folder `directory` (`backup.directory`).
    pub fn primary_store(&self, directory: &Path) -> NamedStore {
        let target = self
            .primary
            .clone()
            .unwrap_or_else(|| StorageTarget::local(directory.to_path_buf()));
        NamedStore {
            name: target.name().unwrap_or(PRIMARY_STORE).to_string(),
            target,
            primary: true,
            setting: "backup.storage.primary".to_string(),
        }
    }

    /// Every store: the primary first, then the replicas in the order given.
    pub fn stores(&self, directory: &Path) -> Vec<NamedStore> {
        let mut all = vec![self.primary_store(directory)];
        for (i, r) in self.replicas.iter().enumerate() {
            all.push(NamedStore {
                name: r
                    .name()
                    .map_or_else(|| default_replica_name(i), str::to_string),
                target: r.clone(),
                primary: false,
                setting: format!("backup.storage.replicas[{i}]"),
            });
        }
        all
    }

    /// The store called `name` (`primary` always names the primary).
    pub fn store(&self, name: &str, directory: &Path) -> Option<NamedStore> {
        self.stores(directory)
            .into_iter()
            .find(|s| s.name == name || (s.primary && name == PRIMARY_STORE))
    }
}

/// Where a repository lives: a local folder, an S3 bucket or an Azure Blob container. Secrets
/// are [`Secret`]s (never shown); S3 credentials may also come from the standard `AWS_*`
/// environment and the shared AWS config files (docs/SETTINGS.md says which).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum StorageTarget {
    Local {
        path: PathBuf,
        /// The store's name: what `--repository NAME` and `replicate --to NAME` take, and what
        /// status and reports call it. Default: `primary` for the primary, `replica-N` for the
        /// N-th replica.
        #[serde(default)]
        name: Option<String>,
        /// Append-only: this tool never deletes or replaces a backup here (cleanup refuses and
        /// says why).
        #[serde(default)]
        immutable: bool,
    },
    S3 {
        /// Required (an empty one is a settings error with guidance).
        #[serde(default)]
        bucket: String,
        /// A folder inside the bucket that holds the repository.
        #[serde(default)]
        prefix: Option<String>,
        /// Default: `AWS_REGION` / `AWS_DEFAULT_REGION`.
        #[serde(default)]
        region: Option<String>,
        /// An S3-compatible server's URL; default: `AWS_ENDPOINT_URL`, else AWS itself.
        #[serde(default)]
        endpoint: Option<String>,
        /// Default: `AWS_ACCESS_KEY_ID`, then the shared credentials file (`AWS_PROFILE`).
        #[serde(default)]
        access_key_id: Option<String>,
        #[serde(default)]
        secret_access_key: Option<Secret>,
        /// The session token of temporary credentials (with `access_key_id` and
        /// `secret_access_key`; `--repository s3://...` takes it from `AWS_SESSION_TOKEN`).
        #[serde(default)]
        session_token: Option<Secret>,
        /// Path-style requests (`endpoint/bucket/key`). Default: on with an `endpoint`, off
        /// (virtual-host style, `bucket.endpoint/key`) for AWS itself.
        #[serde(default)]
        force_path_style: Option<bool>,
        /// Accept a server that does not enforce create-only writes (refused at `init`
        /// otherwise): concurrent writers could then replace each other's objects.
        #[serde(default)]
        allow_unenforced_create_only: bool,
        /// With `immutable: true`: the S3 object-lock mode of every backup object, `compliance`
        /// (nobody can delete a locked version or shorten its lock) or `governance` (a user
        /// granted s3:BypassGovernanceRetention can).
        #[serde(default)]
        lock_mode: ObjectLockMode,
        /// Each call to the store (a read, a write, a listing) is given up after this many
        /// seconds and retried (4 attempts in all). Default 120.
        #[serde(default)]
        timeout_seconds: Option<u64>,
        /// The store's name: what `--repository NAME` and `replicate --to NAME` take, and what
        /// status and reports call it. Default: `primary` for the primary, `replica-N` for the
        /// N-th replica.
        #[serde(default)]
        name: Option<String>,
        /// Append-only: this tool never deletes or replaces a backup here (cleanup refuses and
        /// says why).
        #[serde(default)]
        immutable: bool,
    },
    Azblob {
        /// Required (an empty one is a settings error with guidance).
        #[serde(default)]
        container: String,
        #[serde(default)]
        prefix: Option<String>,
        /// The storage account; default: taken from the endpoint's host name.
        #[serde(default)]
        account: Option<String>,
        /// Default: `https://<account>.blob.core.windows.net`.
        #[serde(default)]
        endpoint: Option<String>,
        /// The account's shared key (or give a `sas_token`, not both).
        #[serde(default)]
        account_key: Option<Secret>,
        #[serde(default)]
        sas_token: Option<Secret>,
        /// As for S3.
        #[serde(default)]
        allow_unenforced_create_only: bool,
        /// Each call to the store (a read, a write, a listing) is given up after this many
        /// seconds and retried (4 attempts in all). Default 120.
        #[serde(default)]
        timeout_seconds: Option<u64>,
        /// The store's name: what `--repository NAME` and `replicate --to NAME` take, and what
        /// status and reports call it. Default: `primary` for the primary, `replica-N` for the
        /// N-th replica.
        #[serde(default)]
        name: Option<String>,
        /// Append-only: this tool never deletes or replaces a backup here (cleanup refuses and
        /// says why).
        #[serde(default)]
        immutable: bool,
    },
}

impl StorageTarget {
    /// The `type` name as written in the settings: `local`, `s3` or `azblob`.
    pub fn type_name(&self) -> &'static str {
        match self {
            StorageTarget::Local { .. } => "local",
            StorageTarget::S3 { .. } => "s3",
            StorageTarget::Azblob { .. } => "azblob",
        }
    }

    /// A local folder store.
    pub fn local(path: PathBuf) -> StorageTarget {
        StorageTarget::Local {
            path,
            name: None,
            immutable: false,
        }
    }

    /// The name the settings give the store, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            StorageTarget::Local { name, .. }
            | StorageTarget::S3 { name, .. }
            | StorageTarget::Azblob { name, .. } => name.as_deref(),
        }
    }

    /// Whether the settings make the store append-only (`immutable: true`).
    pub fn immutable(&self) -> bool {
        match self {
            StorageTarget::Local { immutable, .. }
            | StorageTarget::S3 { immutable, .. }
            | StorageTarget::Azblob { immutable, .. } => *immutable,
        }
    }

    /// How long one call to a cloud store may take before it is retried.
    pub fn call_timeout(&self) -> std::time::Duration {
        let secs = match self {
            StorageTarget::Local { .. } => None,
            StorageTarget::S3 {
                timeout_seconds, ..
            }
            | StorageTarget::Azblob {
                timeout_seconds, ..
            } => *timeout_seconds,
        };
        std::time::Duration::from_secs(secs.unwrap_or(DEFAULT_CALL_TIMEOUT_SECONDS).max(1))
    }

    /// An S3 or Azure Blob store (not a local folder).
    pub fn is_cloud(&self) -> bool {
        !matches!(self, StorageTarget::Local { .. })
    }

    /// The store may be used although it does not enforce create-only writes.
    pub fn allows_unenforced_create_only(&self) -> bool {
        match self {
            StorageTarget::Local { .. } => false,
            StorageTarget::S3 {
                allow_unenforced_create_only,
                ..
            }
            | StorageTarget::Azblob {
                allow_unenforced_create_only,
                ..
            } => *allow_unenforced_create_only,
        }
    }

    /// The store's name in messages: `local:/path`, `s3://bucket/prefix` or
    /// `azblob://container/prefix` (never an endpoint's credentials or a secret).
    pub fn display_name(&self) -> String {
        let join = |scheme: &str, top: &str, prefix: &Option<String>| {
            let prefix = prefix.as_deref().unwrap_or("").trim_matches('/');
            if prefix.is_empty() {
                format!("{scheme}://{top}")
            } else {
                format!("{scheme}://{top}/{prefix}")
            }
        };
        match self {
            StorageTarget::Local { path, .. } => format!("local:{}", path.display()),
            StorageTarget::S3 { bucket, prefix, .. } => join("s3", bucket, prefix),
            StorageTarget::Azblob {
                container, prefix, ..
            } => join("azblob", container, prefix),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct McpSettings {
    /// The only places an agent may restore into. Private, like the scratch folder.
    pub restore_roots: Vec<PathBuf>,
    pub http: McpHttpSettings,
}

impl Default for McpSettings {
    fn default() -> Self {
        McpSettings {
            restore_roots: vec![PathBuf::from("./state/restores")],
            http: McpHttpSettings::default(),
        }
    }
}

/// `Debug` is written by hand so that the token never reaches a log line.
#[derive(Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct McpHttpSettings {
    pub listen: String,
    pub token_file: Option<PathBuf>,
    /// The bearer token itself (secret; usually from MAHAVISHNU_MCP__HTTP__TOKEN). Redacted in output.
    pub token: Option<String>,
    /// Extra Host header values the HTTP server answers to (loopback names always are).
    pub allowed_hosts: Vec<String>,
}

impl Default for McpHttpSettings {
    fn default() -> Self {
        McpHttpSettings {
            listen: "127.0.0.1:8684".to_string(),
            token_file: None,
            token: None,
            allowed_hosts: Vec::new(),
        }
    }
}

impl fmt::Debug for McpHttpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("McpHttpSettings")
            .field("listen", &self.listen)
            .field("token_file", &self.token_file)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish()
    }
}
