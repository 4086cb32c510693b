//! The arguments of the tools that are not an operation's options as they are: no arguments,
//! the orchestrator-compatible tools, and the report's text format. Every other tool takes its
//! operation's options type (`crate::ops::*::*Options`) as its arguments.

use schemars::JsonSchema;
use serde::Deserialize;

use crate::ops::report::ReportOptions;
use crate::repo::BackupType;

fn full() -> BackupType {
    BackupType::Full
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

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

/// The report's options, and how its text content is written.
#[derive(Debug, Deserialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ReportArgs {
    /// json (default) or markdown: the text content's format.
    #[serde(default)]
    pub format: ReportFormatArg,
    #[serde(flatten)]
    pub options: ReportOptions,
}
