//! The settings as a file writes them: every key with its default, for the sections whose typed
//! form needs more than one key to resolve (a backup schedule's type can come from its name, an
//! automated test's day from its frequency). The other sections are read straight into their
//! typed form ([`super::schema`]).
//!
//! Every struct denies unknown keys and defaults every field, so a partial file (local.yaml, one
//! environment override) deserializes on its own and a typo is an error that names the key.
//! Single values are parsed here, with the one parser of [`super::schedule`]: a bad day, time,
//! time zone, frequency or drill scenario is an error with the file's line, like a typo.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::disaster_recovery::{
    DEFAULT_RPO_TARGET_MINUTES, DEFAULT_RTO_TARGET_MINUTES, DrillScenario, RestoreTestSettings,
    default_drill_time, default_test_time,
};
use super::schedule::{DaySetting, Frequency, TimeOfDay, Timezone};
use super::schema::{
    BackupSettings, BackupTypeSetting, CompressionSettings, EncryptionSettings, McpSettings,
    MonitoringSettings, SourceSpec, StorageSettings, ValidationSettings,
};

/// The whole settings file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct SettingsDoc {
    pub backup: BackupDoc,
    pub disaster_recovery: DisasterRecoveryDoc,
    pub mcp: McpSettings,
    pub daemon: DaemonDoc,
}

/// `daemon`: see [`super::DaemonSettings`].
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct DaemonDoc {
    pub state_dir: PathBuf,
    pub backup_attempts: u32,
    pub retry_backoff_seconds: u64,
    pub shutdown_grace_seconds: u64,
    pub cleanup_after_backup: bool,
    pub validation: ScheduledValidationDoc,
}

impl Default for DaemonDoc {
    fn default() -> Self {
        let d = super::DaemonSettings::default();
        DaemonDoc {
            state_dir: d.state_dir,
            backup_attempts: d.backup_attempts,
            retry_backoff_seconds: d.retry_backoff_seconds,
            shutdown_grace_seconds: d.shutdown_grace_seconds,
            cleanup_after_backup: d.cleanup_after_backup,
            validation: ScheduledValidationDoc::default(),
        }
    }
}

/// `daemon.validation`. Without `day`, weekly runs on Wednesday and monthly on day 1.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ScheduledValidationDoc {
    pub enabled: bool,
    pub schedule: Frequency,
    pub day: Option<DaySetting>,
    pub time: TimeOfDay,
    pub timezone: Timezone,
    pub level: crate::repo::kind::ValidationLevel,
}

impl Default for ScheduledValidationDoc {
    fn default() -> Self {
        let d = super::daemon::ScheduledValidation::default();
        ScheduledValidationDoc {
            enabled: d.enabled,
            schedule: Frequency::Weekly,
            day: None,
            time: TimeOfDay(d.schedule.time),
            timezone: Timezone::default(),
            level: d.level,
        }
    }
}

/// `backup`: see [`BackupSettings`] for each key.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct BackupDoc {
    pub enabled: bool,
    pub directory: PathBuf,
    pub sources: Vec<SourceSpec>,
    pub exclude: Vec<String>,
    pub volume_size_mb: u64,
    pub max_chain_length: u32,
    pub compression: CompressionSettings,
    pub schedules: BTreeMap<String, ScheduleDoc>,
    pub encryption: EncryptionSettings,
    pub validation: ValidationSettings,
    pub monitoring: MonitoringSettings,
    pub storage: StorageSettings,
    pub lock_wait_seconds: u64,
    pub block_incremental: super::schema::BlockIncrementalSettings,
    pub continuous: super::schema::ContinuousSettings,
    pub host: Option<String>,
    pub retired_hosts: Vec<String>,
}

impl Default for BackupDoc {
    fn default() -> Self {
        let d = BackupSettings::default();
        BackupDoc {
            enabled: d.enabled,
            directory: d.directory,
            sources: d.sources,
            exclude: d.exclude,
            volume_size_mb: d.volume_size_mb,
            max_chain_length: d.max_chain_length,
            compression: d.compression,
            schedules: BTreeMap::new(),
            encryption: d.encryption,
            validation: d.validation,
            monitoring: d.monitoring,
            storage: d.storage,
            lock_wait_seconds: d.lock_wait_seconds,
            block_incremental: d.block_incremental,
            continuous: d.continuous,
            host: d.host,
            retired_hosts: d.retired_hosts,
        }
    }
}

/// One entry of `backup.schedules`. No `day`: daily; a weekday: weekly; a day of the month:
/// monthly. The backup type is `backup_type`, or else the one the schedule's name ends in.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct ScheduleDoc {
    pub enabled: bool,
    pub backup_type: Option<BackupTypeSetting>,
    pub time: TimeOfDay,
    pub timezone: Timezone,
    pub day: Option<DaySetting>,
    pub retention_days: Option<u32>,
    pub retention_weeks: Option<u32>,
    pub retention_months: Option<u32>,
}

impl Default for ScheduleDoc {
    fn default() -> Self {
        ScheduleDoc {
            enabled: true,
            backup_type: None,
            time: TimeOfDay::hm(2, 0).unwrap_or(TimeOfDay(chrono::NaiveTime::MIN)),
            timezone: Timezone::default(),
            day: None,
            retention_days: None,
            retention_weeks: None,
            retention_months: None,
        }
    }
}

/// `disaster_recovery`: see [`super::DisasterRecoverySettings`].
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct DisasterRecoveryDoc {
    pub rto_target_minutes: u64,
    pub rpo_target_minutes: u64,
    pub automated_tests: AutomatedTestsDoc,
    pub drills: DrillsDoc,
    pub restore_test: RestoreTestSettings,
}

impl Default for DisasterRecoveryDoc {
    fn default() -> Self {
        DisasterRecoveryDoc {
            rto_target_minutes: DEFAULT_RTO_TARGET_MINUTES,
            rpo_target_minutes: DEFAULT_RPO_TARGET_MINUTES,
            automated_tests: AutomatedTestsDoc::default(),
            drills: DrillsDoc::default(),
            restore_test: RestoreTestSettings::default(),
        }
    }
}

/// `disaster_recovery.automated_tests`. Without `day`, weekly runs on Saturday and monthly on
/// day 1.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct AutomatedTestsDoc {
    pub enabled: bool,
    pub schedule: Frequency,
    pub day: Option<DaySetting>,
    pub time: TimeOfDay,
    pub timezone: Timezone,
}

impl Default for AutomatedTestsDoc {
    fn default() -> Self {
        AutomatedTestsDoc {
            enabled: true,
            schedule: Frequency::Weekly,
            day: None,
            time: TimeOfDay(default_test_time()),
            timezone: Timezone::default(),
        }
    }
}

/// `disaster_recovery.drills`. Without `day`, weekly runs on Saturday and monthly on day 1.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub(crate) struct DrillsDoc {
    pub enabled: bool,
    pub frequency: Frequency,
    pub day: Option<DaySetting>,
    pub time: TimeOfDay,
    pub timezone: Timezone,
    pub scenarios: Vec<DrillScenarioDoc>,
}

/// One entry of `drills.scenarios`: an id, or `{scenario, rto_target_minutes,
/// rpo_target_minutes}` to override the DR plan's targets for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum DrillScenarioDoc {
    Id(DrillScenario),
    Entry(DrillScenarioEntry),
}

/// An id keeps the id's own error (which lists the valid ids); a map reads as an entry.
impl<'de> Deserialize<'de> for DrillScenarioDoc {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = DrillScenarioDoc;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a drill scenario id, or {scenario, rto_target_minutes, rpo_target_minutes}",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DrillScenarioDoc, E> {
                DrillScenario::deserialize(serde::de::value::StrDeserializer::new(v))
                    .map(DrillScenarioDoc::Id)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<DrillScenarioDoc, A::Error> {
                DrillScenarioEntry::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(DrillScenarioDoc::Entry)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DrillScenarioEntry {
    pub scenario: DrillScenario,
    pub rto_target_minutes: Option<u64>,
    pub rpo_target_minutes: Option<u64>,
}

impl DrillScenarioDoc {
    pub fn scenario(&self) -> DrillScenario {
        match self {
            DrillScenarioDoc::Id(s) => *s,
            DrillScenarioDoc::Entry(e) => e.scenario,
        }
    }
}

impl Default for DrillsDoc {
    fn default() -> Self {
        DrillsDoc {
            enabled: true,
            frequency: Frequency::Monthly,
            day: None,
            time: TimeOfDay(default_drill_time()),
            timezone: Timezone::default(),
            scenarios: Vec::new(),
        }
    }
}
