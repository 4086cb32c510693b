//! The DR posture: the evidence read from the repository and the settings, the checks that judge
//! it, and the verdict. The report and the DR check read the same checks (and so will drills).

mod checks;
mod evidence;
mod resilience;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::action::{Advice, Face};

pub(crate) use checks::{posture_checks, verdict};
pub(crate) use evidence::Evidence;
pub(crate) use resilience::resilience;
pub use resilience::{ResilienceScore, ScenarioScore};

/// A validation or restore test older than this is stale.
pub const STALE_DAYS: i64 = 7;
/// A master key older than this should be rotated (a year: the usual cryptoperiod for a
/// symmetric data-encryption key).
pub const MAX_KEY_AGE_DAYS: i64 = 365;

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Posture {
    /// Every check passes.
    Healthy,
    /// Something needs doing soon (a warning), but a recovery would work.
    NeedsAttention,
    /// A recovery now could fail or lose too much (a check fails).
    Critical,
}

impl std::fmt::Display for Posture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Posture::Healthy => "healthy",
            Posture::NeedsAttention => "needs attention",
            Posture::Critical => "critical",
        })
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Pass,
    Warn,
    Fail,
}

/// The checks behind the verdict, by their stable names (the same strings in JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckName {
    BackupsAvailable,
    NewestBackupAge,
    ScheduleRpo,
    LastValidation,
    LastRestoreTest,
    RetentionCompliance,
    ChainHealth,
    KeyAge,
    Replicas,
    Drills,
}

impl CheckName {
    /// Every check, in the order a person reads them.
    pub const ALL: [CheckName; 10] = [
        CheckName::BackupsAvailable,
        CheckName::NewestBackupAge,
        CheckName::ScheduleRpo,
        CheckName::LastValidation,
        CheckName::LastRestoreTest,
        CheckName::RetentionCompliance,
        CheckName::ChainHealth,
        CheckName::KeyAge,
        CheckName::Replicas,
        CheckName::Drills,
    ];

    /// The stable name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckName::BackupsAvailable => "backups_available",
            CheckName::NewestBackupAge => "newest_backup_age",
            CheckName::ScheduleRpo => "schedule_rpo",
            CheckName::LastValidation => "last_validation",
            CheckName::LastRestoreTest => "last_restore_test",
            CheckName::RetentionCompliance => "retention_compliance",
            CheckName::ChainHealth => "chain_health",
            CheckName::KeyAge => "key_age",
            CheckName::Replicas => "replicas",
            CheckName::Drills => "drills",
        }
    }
}

impl std::fmt::Display for CheckName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One check behind the verdict.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PostureCheck {
    /// Stable name: backups_available, newest_backup_age, schedule_rpo, last_validation,
    /// last_restore_test, retention_compliance, chain_health, key_age, replicas, drills.
    pub name: CheckName,
    /// For people.
    pub title: String,
    pub status: Level,
    pub detail: String,
    /// What to do; none when it passes. Worded for the command line here; the MCP server words
    /// it as a tool call (see [`PostureCheck::for_face`]).
    pub action: Option<String>,
    /// The same advice, typed: what each face words.
    #[serde(skip)]
    #[schemars(skip)]
    pub advice: Option<Advice>,
    /// The measured figure, where there is one (in `unit`).
    pub value: Option<f64>,
    /// Its target (in `unit`).
    pub target: Option<f64>,
    /// "seconds", "days", "backups" or "scenarios".
    pub unit: Option<String>,
}

impl PostureCheck {
    fn new(name: CheckName, title: &str, status: Level, detail: String) -> Self {
        PostureCheck {
            name,
            title: title.into(),
            status,
            detail,
            action: None,
            advice: None,
            value: None,
            target: None,
            unit: None,
        }
    }
    fn advise(mut self, a: Advice) -> Self {
        if self.status != Level::Pass {
            self.action = Some(a.render(Face::Cli));
            self.advice = Some(a);
        }
        self
    }

    /// Words the action for `face`.
    pub fn for_face(&mut self, face: Face) {
        if let Some(a) = &self.advice {
            self.action = Some(a.render(face));
        }
    }
    fn figure(mut self, value: Option<f64>, target: Option<f64>, unit: &str) -> Self {
        self.value = value;
        self.target = target;
        self.unit = Some(unit.into());
        self
    }
}
