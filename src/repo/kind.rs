//! Backup types and backup ids: the two names every part of the repository shares.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Action, Advice};
use crate::error::{Error, Result};

/// full: every file. incremental: changes since the previous backup. archival: a full kept longest,
/// at the archival compression level.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum BackupType {
    Full,
    Incremental,
    Archival,
}

impl BackupType {
    pub const ALL: [BackupType; 3] = [
        BackupType::Full,
        BackupType::Incremental,
        BackupType::Archival,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BackupType::Full => "full",
            BackupType::Incremental => "incremental",
            BackupType::Archival => "archival",
        }
    }

    /// Full and archival backups stand alone; an incremental needs its parent chain.
    pub fn is_self_contained(self) -> bool {
        !matches!(self, BackupType::Incremental)
    }
}

impl fmt::Display for BackupType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BackupType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(BackupType::Full),
            "incremental" => Ok(BackupType::Incremental),
            "archival" => Ok(BackupType::Archival),
            other => Err(Error::usage(format!(
                "unknown backup type {other:?}: expected full, incremental or archival"
            ))),
        }
    }
}

/// A new backup id: `backup_YYYYMMDDTHHMMSS.mmmZ_<8 hex>`. Ids sort by creation time.
pub fn new_backup_id(at: DateTime<Utc>) -> String {
    let suffix: u32 = rand::random();
    format!("backup_{}_{suffix:08x}", at.format("%Y%m%dT%H%M%S%.3fZ"))
}

/// An id safe to use as one object-key component: 1 to 128 of `[A-Za-z0-9._-]`.
pub(crate) fn is_key_safe(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// A backup id is safe to use as an object-key component: `backup_` then `[A-Za-z0-9._-]`.
pub fn check_backup_id(id: &str) -> Result<()> {
    if id.starts_with("backup_") && is_key_safe(id) {
        Ok(())
    } else {
        Err(Error::usage(format!("{id:?} is not a backup id"))
            .with_next(Advice::step(Action::ListBackups, "to see them"))
            .with_guidance("backup ids start with backup_"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_sort_by_time_and_are_valid() {
        let a = new_backup_id(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        let b = new_backup_id(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 6).unwrap());
        assert!(a < b, "{a} should sort before {b}");
        check_backup_id(&a).unwrap();
        assert!(check_backup_id("../etc").is_err());
        assert!(check_backup_id("backup_x/../../y").is_err());
    }
}

/// How deep a validation reads the stored backups.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ValidationLevel {
    /// Manifests readable, volumes present with the right sizes, chains intact.
    #[default]
    Quick,
    /// Every volume's stored SHA-256 against the keyless checksum list; needs no key.
    Checksum,
    /// Decrypt and decompress every volume and check every file's SHA-256.
    Full,
}
