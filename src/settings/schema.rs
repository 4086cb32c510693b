//! The typed settings schema: every key the settings files may hold, with its default.
//!
//! Every struct denies unknown keys and defaults every field, so a partial file (local.yaml, one
//! environment override) deserializes on its own and a typo is an error that names the key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Unexpected, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

/// The whole settings file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub backup: BackupSettings,
    pub disaster_recovery: DisasterRecoverySettings,
    pub mcp: McpSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
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
    pub schedules: BTreeMap<String, ScheduleSettings>,
    pub encryption: EncryptionSettings,
    pub validation: ValidationSettings,
    pub monitoring: MonitoringSettings,
    pub storage: StorageSettings,
    /// How long a backup or cleanup waits for a conflicting lock before giving up (seconds).
    pub lock_wait_seconds: u64,
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

/// A schedule. `day` is a weekday name for weekly schedules, a day of the month (1..=31) for
/// monthly ones, absent for daily ones. Which backup type it runs comes from `backup_type`, or
/// else from its name (`..._incremental`, `..._full`, `..._archival`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ScheduleSettings {
    pub enabled: bool,
    pub backup_type: Option<BackupTypeSetting>,
    /// "HH:MM", 24-hour.
    pub time: String,
    /// "UTC" or an IANA zone name such as "Europe/Berlin".
    pub timezone: String,
    pub day: Option<DaySetting>,
    pub retention_days: Option<u32>,
    pub retention_weeks: Option<u32>,
    pub retention_months: Option<u32>,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        ScheduleSettings {
            enabled: true,
            backup_type: None,
            time: "02:00".to_string(),
            timezone: "UTC".to_string(),
            day: None,
            retention_days: None,
            retention_weeks: None,
            retention_months: None,
        }
    }
}

impl ScheduleSettings {
    /// The backup type this schedule runs: `backup_type` if set, else from the schedule's name
    /// (`..._incremental`, `..._full`, `..._archival`, or exactly one of those words).
    /// `None` when neither says.
    pub fn effective_backup_type(&self, name: &str) -> Option<BackupTypeSetting> {
        if let Some(t) = self.backup_type {
            return Some(t);
        }
        let lower = name.to_ascii_lowercase();
        let last = lower.rsplit(['_', '-']).next().unwrap_or(lower.as_str());
        match last {
            "incremental" => Some(BackupTypeSetting::Incremental),
            "full" => Some(BackupTypeSetting::Full),
            "archival" => Some(BackupTypeSetting::Archival),
            _ => None,
        }
    }

    /// The time of day parsed from `time`; `None` when it is not `HH:MM`.
    pub fn time_of_day(&self) -> Option<chrono::NaiveTime> {
        parse_time_of_day(&self.time)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupTypeSetting {
    Full,
    Incremental,
    Archival,
}

/// `day: sunday` (weekly) or `day: 1` (monthly).
///
/// Deserialized by hand: a weekday name (any case, stored lowercase), or a day of the month
/// 1..=31 (as a number or a numeric string); anything else is an error that says so.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum DaySetting {
    OfMonth(u32),
    Weekday(String),
}

/// The weekday names accepted in `day` settings, Monday first.
pub const WEEKDAY_NAMES: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

const DAY_EXPECTED: &str = "a weekday name (monday..sunday) or a day of the month (1..=31)";

/// Parse a weekday name (`sunday`, `Sunday`, `SUNDAY`); `None` for anything else.
pub fn parse_weekday(name: &str) -> Option<chrono::Weekday> {
    let lower = name.trim().to_ascii_lowercase();
    match lower.as_str() {
        "monday" => Some(chrono::Weekday::Mon),
        "tuesday" => Some(chrono::Weekday::Tue),
        "wednesday" => Some(chrono::Weekday::Wed),
        "thursday" => Some(chrono::Weekday::Thu),
        "friday" => Some(chrono::Weekday::Fri),
        "saturday" => Some(chrono::Weekday::Sat),
        "sunday" => Some(chrono::Weekday::Sun),
        _ => None,
    }
}

/// Parse a time of day written `HH:MM` (24-hour; `H:MM` is accepted too); `None` otherwise.
pub fn parse_time_of_day(text: &str) -> Option<chrono::NaiveTime> {
    let (h, m) = text.trim().split_once(':')?;
    let digits = |s: &str, max_len: usize| {
        !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit())
    };
    if !digits(h, 2) || !digits(m, 2) || m.len() != 2 {
        return None;
    }
    let hour: u32 = h.parse().ok()?;
    let minute: u32 = m.parse().ok()?;
    chrono::NaiveTime::from_hms_opt(hour, minute, 0)
}

impl DaySetting {
    /// The weekday, for `day: sunday`.
    pub fn weekday(&self) -> Option<chrono::Weekday> {
        match self {
            DaySetting::Weekday(name) => parse_weekday(name),
            DaySetting::OfMonth(_) => None,
        }
    }

    /// The day of the month, for `day: 1`.
    pub fn day_of_month(&self) -> Option<u32> {
        match self {
            DaySetting::OfMonth(d) => Some(*d),
            DaySetting::Weekday(_) => None,
        }
    }

    /// Whether the value is a valid weekday or day of the month 1..=31.
    pub fn is_valid(&self) -> bool {
        match self {
            DaySetting::OfMonth(d) => (1..=31).contains(d),
            DaySetting::Weekday(name) => parse_weekday(name).is_some(),
        }
    }
}

impl fmt::Display for DaySetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DaySetting::OfMonth(d) => write!(f, "{d}"),
            DaySetting::Weekday(name) => f.write_str(name),
        }
    }
}

impl<'de> Deserialize<'de> for DaySetting {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DayVisitor;

        impl Visitor<'_> for DayVisitor {
            type Value = DaySetting;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(DAY_EXPECTED)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DaySetting, E> {
                match u32::try_from(v) {
                    Ok(d) if (1..=31).contains(&d) => Ok(DaySetting::OfMonth(d)),
                    _ => Err(E::invalid_value(Unexpected::Unsigned(v), &DAY_EXPECTED)),
                }
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DaySetting, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::invalid_value(Unexpected::Signed(v), &DAY_EXPECTED)),
                }
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<DaySetting, E> {
                let t = v.trim();
                if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                    return match t.parse::<u64>() {
                        Ok(u) => self.visit_u64(u),
                        Err(_) => Err(E::invalid_value(Unexpected::Str(v), &DAY_EXPECTED)),
                    };
                }
                if parse_weekday(t).is_some() {
                    Ok(DaySetting::Weekday(t.to_ascii_lowercase()))
                } else {
                    Err(E::invalid_value(Unexpected::Str(v), &DAY_EXPECTED))
                }
            }
        }

        deserializer.deserialize_any(DayVisitor)
    }
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

/// Accepted for compatibility with the seed; alerting is not implemented yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MonitoringSettings {
    pub enabled: bool,
    pub alert_on_failure: bool,
    pub alert_channels: Vec<String>,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        MonitoringSettings {
            enabled: true,
            alert_on_failure: true,
            alert_channels: Vec::new(),
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

/// Where a repository lives. Only `local` works today; s3 and azblob come with the cloud issue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum StorageTarget {
    Local {
        path: PathBuf,
    },
    S3 {
        bucket: String,
        #[serde(default)]
        endpoint: Option<String>,
        #[serde(default)]
        region: Option<String>,
        #[serde(default)]
        prefix: Option<String>,
    },
    Azblob {
        container: String,
        #[serde(default)]
        endpoint: Option<String>,
        #[serde(default)]
        account: Option<String>,
        #[serde(default)]
        prefix: Option<String>,
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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DisasterRecoverySettings {
    pub rto_target_minutes: u64,
    pub rpo_target_minutes: u64,
    pub automated_tests: AutomatedTestSettings,
    pub drills: DrillSettings,
    pub restore_test: RestoreTestSettings,
}

impl Default for DisasterRecoverySettings {
    fn default() -> Self {
        DisasterRecoverySettings {
            rto_target_minutes: 15,
            rpo_target_minutes: 5,
            automated_tests: AutomatedTestSettings::default(),
            drills: DrillSettings::default(),
            restore_test: RestoreTestSettings::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AutomatedTestSettings {
    pub enabled: bool,
    /// "daily", "weekly" or "monthly".
    pub schedule: String,
    pub day: Option<DaySetting>,
    pub time: String,
}

impl Default for AutomatedTestSettings {
    fn default() -> Self {
        AutomatedTestSettings {
            enabled: true,
            schedule: "weekly".to_string(),
            day: Some(DaySetting::Weekday("saturday".to_string())),
            time: "05:00".to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct DrillSettings {
    pub enabled: bool,
    pub frequency: String,
    pub scenarios: Vec<String>,
}

impl Default for DrillSettings {
    fn default() -> Self {
        DrillSettings {
            enabled: true,
            frequency: "monthly".to_string(),
            scenarios: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct RestoreTestSettings {
    /// Restore tests and drills work here, never on live data. Private: a folder of this user's
    /// (not a symlink, not writable by others), created with mode 0700.
    pub scratch_dir: PathBuf,
}

impl Default for RestoreTestSettings {
    fn default() -> Self {
        RestoreTestSettings {
            scratch_dir: PathBuf::from("./state/scratch"),
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
