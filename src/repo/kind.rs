//! Backup types and validation levels: the names every part of the repository shares (plain types; the
//! text forms of ids and types, with their errors, are in `ids`).

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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

impl ValidationLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            ValidationLevel::Quick => "quick",
            ValidationLevel::Checksum => "checksum",
            ValidationLevel::Full => "full",
        }
    }
}
