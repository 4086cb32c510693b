//! The arguments of every tool: flat objects, defaults instead of nullable fields, signed integers.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::ops::validate::ValidationLevel;
use crate::repo::BackupType;

fn incremental() -> BackupType {
    BackupType::Incremental
}
fn full() -> BackupType {
    BackupType::Full
}
fn latest() -> String {
    "latest".into()
}
fn yes() -> bool {
    true
}
fn hundred() -> i64 {
    100
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupRunArgs {
    /// full (a complete copy), incremental (only what changed since the last backup; the
    /// default) or archival (a full copy kept longest, compressed harder).
    #[serde(default = "incremental")]
    pub backup_type: BackupType,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

/// Which backups to list.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TypeFilter {
    #[default]
    All,
    Full,
    Incremental,
    Archival,
}

impl TypeFilter {
    pub fn backup_type(self) -> Option<BackupType> {
        match self {
            TypeFilter::All => None,
            TypeFilter::Full => Some(BackupType::Full),
            TypeFilter::Incremental => Some(BackupType::Incremental),
            TypeFilter::Archival => Some(BackupType::Archival),
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupListArgs {
    /// At most this many backups, newest first; 0 lists all.
    #[serde(default)]
    #[schemars(range(min = 0))]
    pub limit: i64,
    /// Only backups of this type: all (default), full, incremental or archival.
    #[serde(default)]
    pub backup_type: TypeFilter,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupValidateArgs {
    /// One backup id (its chain is checked with it); empty checks every backup.
    #[serde(default)]
    pub backup_id: String,
    /// quick: manifests and volume sizes, seconds. checksum: every volume's SHA-256, reads all
    /// stored bytes, needs no key. full: decrypts and decompresses everything and checks every
    /// file's SHA-256, about as long as a restore.
    #[serde(default)]
    pub level: ValidationLevel,
    /// For checksum and full: the share of volumes to read, chosen at random (1 to 100).
    #[serde(default = "hundred")]
    #[schemars(range(min = 1, max = 100))]
    pub sample_percent: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupCleanupArgs {
    /// true (default): only show the plan. false: apply it, which also needs confirm=true.
    #[serde(default = "yes")]
    pub dry_run: bool,
    /// Must be true to delete anything (with dry_run=false).
    #[serde(default)]
    pub confirm: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRunArgs {
    /// A backup id, or "latest" (default).
    #[serde(default = "latest")]
    pub backup_id: String,
    /// Where to restore: a folder inside one of the configured restore roots (mcp.restore_roots);
    /// a relative path is taken inside the first root. Created if missing.
    pub target_dir: String,
    /// Only these stored paths (files or folders, as listed in the backup); empty restores all.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Replace files in a target folder that is not empty (also needs confirm=true).
    #[serde(default)]
    pub overwrite: bool,
    /// Must be true to restore over existing data.
    #[serde(default)]
    pub confirm: bool,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateBackupArgs {
    /// full (default), incremental or archival.
    #[serde(default = "full")]
    pub backup_type: BackupType,
    /// Accepted for compatibility: mahavishnu-dr names backups itself and returns the id it used.
    #[serde(default)]
    pub backup_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreBackupArgs {
    /// The backup to restore, or "latest".
    pub backup_id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreTestArgs {
    /// The backup to test, or "latest" (default).
    #[serde(default = "latest")]
    pub backup_id: String,
}

fn thirty() -> i64 {
    30
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureRpoArgs {
    /// The window for the worst gap between backups, in days (default 30).
    #[serde(default = "thirty")]
    #[schemars(range(min = 1))]
    pub days: i64,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MeasureRtoArgs {
    /// The backup to restore and time, or "latest" (default).
    #[serde(default = "latest")]
    pub backup_id: String,
}

/// How the report's text content is written (the structured content is the same either way).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormatArg {
    /// The report as JSON text.
    #[default]
    Json,
    /// The report as markdown for people and agents.
    Markdown,
}

fn ten() -> i64 {
    10
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportArgs {
    /// json (default) or markdown: the text content's format.
    #[serde(default)]
    pub format: ReportFormatArg,
    /// History records in the trends (default 10; 0: all).
    #[serde(default = "ten")]
    #[schemars(range(min = 0))]
    pub last: i64,
}
