//! The typed, versioned payloads of history records: per kind, exactly the figures the readers
//! use (the posture checks, `restore-test report`, the report), under field names of their own,
//! so a change to a command's output never changes the stored format; and the reader of the
//! records the first release wrote, whose `data` was the command's whole `--json` output.
//!
//! The version rule: each kind has a payload version ([`RecordKind::payload_version`]). A reader
//! reads its version and every older one; a record of a newer version, or whose payload does
//! not parse, is unreadable (named, with the reason), never read as passed. Adding an optional
//! field (`#[serde(default)]`) that older readers may ignore keeps the version; renaming,
//! removing or changing the meaning of a field raises it, and the reader of the older version
//! stays.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::kind::BackupType;

/// Version 0: no `payload`, the command's output in `data` (the first release).
pub const LEGACY_PAYLOAD_VERSION: u32 = 0;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Validation,
    RestoreTest,
    RtoMeasurement,
    RpoMeasurement,
    Drill,
}

impl RecordKind {
    /// The tag a record id carries (`<time>_<slug>_<suffix>`): how a reader picks one kind's ids.
    pub fn slug(self) -> &'static str {
        match self {
            RecordKind::Validation => "validation",
            RecordKind::RestoreTest => "restore-test",
            RecordKind::RtoMeasurement => "rto",
            RecordKind::RpoMeasurement => "rpo",
            RecordKind::Drill => "drill",
        }
    }

    /// The stored (and `--json`) name.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Validation => "validation",
            RecordKind::RestoreTest => "restore_test",
            RecordKind::RtoMeasurement => "rto_measurement",
            RecordKind::RpoMeasurement => "rpo_measurement",
            RecordKind::Drill => "drill",
        }
    }

    pub(super) fn from_name(name: &str) -> Option<RecordKind> {
        RecordKind::ALL.into_iter().find(|k| k.name() == name)
    }

    pub const ALL: [RecordKind; 5] = [
        RecordKind::Validation,
        RecordKind::RestoreTest,
        RecordKind::RtoMeasurement,
        RecordKind::RpoMeasurement,
        RecordKind::Drill,
    ];
}

impl RecordKind {
    /// The payload version this release writes for the kind (and the newest it reads).
    pub const fn payload_version(self) -> u32 {
        match self {
            RecordKind::Validation
            | RecordKind::RestoreTest
            | RecordKind::RtoMeasurement
            | RecordKind::RpoMeasurement
            | RecordKind::Drill => 1,
        }
    }
}

/// What a record holds, by kind. A new kind (the DR drill next) is a new [`RecordKind`], a new
/// variant here with its own payload struct and version 1, and a `decode` arm; it has no
/// version 0 (no release before it wrote it).
#[derive(Debug, Clone, PartialEq)]
pub enum RecordPayload {
    Validation(ValidationPayload),
    RestoreTest(RestoreTestPayload),
    RtoMeasurement(RtoPayload),
    RpoMeasurement(RpoPayload),
    Drill(DrillPayload),
}

/// How one step of a drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    Passed,
    Failed,
    /// Not run: an earlier step failed, or the drill was cancelled.
    Skipped,
}

/// One step of a drill as kept: what it did, how long, how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillStepPayload {
    /// prepare, inject, detect, recover, verify or tear_down.
    #[serde(rename = "phase")]
    pub phase: String,
    #[serde(rename = "name")]
    pub name: String,
    #[serde(rename = "outcome")]
    pub outcome: StepOutcome,
    #[serde(rename = "seconds")]
    pub seconds: f64,
    #[serde(rename = "detail")]
    pub detail: String,
}

/// A DR drill (`drill run`), payload version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DrillPayload {
    #[serde(rename = "scenario")]
    pub scenario: String,
    /// Who started it: `cli:<user>`, `mcp:<client>`, `schedule`.
    #[serde(rename = "started_by")]
    pub started_by: String,
    #[serde(rename = "started")]
    pub started: DateTime<Utc>,
    #[serde(rename = "finished")]
    pub finished: DateTime<Utc>,
    /// The store the recovery read (its name in the settings).
    #[serde(rename = "store")]
    pub store: String,
    /// The backup the recovery used.
    #[serde(rename = "backup_id")]
    pub backup_id: Option<String>,
    #[serde(rename = "steps")]
    pub steps: Vec<DrillStepPayload>,
    #[serde(rename = "rto_seconds")]
    pub rto_seconds: Option<f64>,
    #[serde(rename = "rto_target_seconds")]
    pub rto_target_seconds: Option<f64>,
    #[serde(rename = "rto_met")]
    pub rto_met: Option<bool>,
    #[serde(rename = "rpo_seconds")]
    pub rpo_seconds: Option<f64>,
    #[serde(rename = "rpo_target_seconds")]
    pub rpo_target_seconds: f64,
    #[serde(rename = "rpo_met")]
    pub rpo_met: Option<bool>,
    #[serde(rename = "findings")]
    pub findings: Vec<String>,
    #[serde(rename = "recommendations")]
    pub recommendations: Vec<String>,
    /// What the live sources changed since the backup used (the server-loss drill).
    #[serde(
        rename = "data_at_risk",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub data_at_risk: Option<DriftSummary>,
}

/// Which checks a validation ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationScope {
    Quick,
    Checksum,
    Full,
}

/// A validation (`backup validate`), payload version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationPayload {
    #[serde(rename = "level")]
    pub level: ValidationScope,
    /// Share of the volumes read whole, in percent.
    #[serde(rename = "sample_percent")]
    pub sample_percent: f64,
    #[serde(rename = "backups_checked")]
    pub backups_checked: u64,
    #[serde(rename = "volumes_checked")]
    pub volumes_checked: u64,
    #[serde(rename = "files_checked")]
    pub files_checked: u64,
    #[serde(rename = "bytes_read")]
    pub bytes_read: u64,
    /// Problems found in all.
    #[serde(rename = "problems")]
    pub problems: u64,
    /// Backups with at least one problem.
    #[serde(rename = "failed_backups")]
    pub failed_backups: Vec<String>,
    #[serde(rename = "duration_seconds")]
    pub duration_seconds: f64,
}

/// What changed in the live sources since the tested backup.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DriftSummary {
    /// The live sources could be compared at all.
    #[serde(rename = "compared")]
    pub compared: bool,
    #[serde(rename = "added")]
    pub added: u64,
    #[serde(rename = "changed")]
    pub changed: u64,
    #[serde(rename = "removed")]
    pub removed: u64,
    /// Bytes of the live files added or changed since the backup.
    #[serde(rename = "bytes_at_risk")]
    pub bytes_at_risk: u64,
}

/// A restore test (`restore-test run`), payload version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestoreTestPayload {
    #[serde(rename = "backup_id")]
    pub backup_id: String,
    #[serde(rename = "backup_type")]
    pub backup_type: Option<BackupType>,
    #[serde(rename = "backup_finished")]
    pub backup_finished: Option<DateTime<Utc>>,
    #[serde(rename = "chain_length")]
    pub chain_length: u32,
    /// The restore succeeded and every file and database verified (the targets aside).
    #[serde(rename = "restore_ok")]
    pub restore_ok: bool,
    /// Why it did not pass (empty when it did).
    #[serde(rename = "reasons")]
    pub reasons: Vec<String>,
    #[serde(rename = "files")]
    pub files: u64,
    #[serde(rename = "bytes")]
    pub bytes: u64,
    /// RTO achieved: from the start of the test to a verified restore.
    #[serde(rename = "rto_seconds")]
    pub rto_seconds: f64,
    #[serde(rename = "rto_target_seconds")]
    pub rto_target_seconds: f64,
    #[serde(rename = "rto_met")]
    pub rto_met: bool,
    /// RPO at test time: the age of the tested backup.
    #[serde(rename = "rpo_seconds")]
    pub rpo_seconds: Option<f64>,
    #[serde(rename = "rpo_target_seconds")]
    pub rpo_target_seconds: f64,
    #[serde(rename = "rpo_met")]
    pub rpo_met: bool,
    #[serde(rename = "databases_checked")]
    pub databases_checked: u64,
    #[serde(rename = "databases_failed")]
    pub databases_failed: u64,
    #[serde(rename = "drift")]
    pub drift: DriftSummary,
}

/// An RTO measurement (`restore-test measure-rto`), payload version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RtoPayload {
    #[serde(rename = "backup_id")]
    pub backup_id: String,
    #[serde(rename = "backup_type")]
    pub backup_type: Option<BackupType>,
    #[serde(rename = "backup_finished")]
    pub backup_finished: Option<DateTime<Utc>>,
    #[serde(rename = "chain_length")]
    pub chain_length: u32,
    /// Every restored file's SHA-256 was checked.
    #[serde(rename = "verified")]
    pub verified: bool,
    #[serde(rename = "reasons")]
    pub reasons: Vec<String>,
    #[serde(rename = "files")]
    pub files: u64,
    #[serde(rename = "bytes")]
    pub bytes: u64,
    #[serde(rename = "rto_seconds")]
    pub rto_seconds: f64,
    #[serde(rename = "rto_target_seconds")]
    pub rto_target_seconds: f64,
    #[serde(rename = "rto_met")]
    pub rto_met: bool,
    #[serde(rename = "throughput_mib_s")]
    pub throughput_mib_s: f64,
    /// The estimated RTO of the whole live data set.
    #[serde(rename = "estimated_rto_seconds")]
    pub estimated_rto_seconds: f64,
    #[serde(rename = "estimated_rto_met")]
    pub estimated_rto_met: bool,
}

/// An RPO measurement (`restore-test measure-rpo`), payload version 1.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RpoPayload {
    /// The current RPO: the age of the newest backup (none without backups).
    #[serde(rename = "rpo_seconds")]
    pub rpo_seconds: Option<f64>,
    #[serde(rename = "rpo_target_seconds")]
    pub rpo_target_seconds: f64,
    #[serde(rename = "newest_backup")]
    pub newest_backup: Option<DateTime<Utc>>,
    #[serde(rename = "current_met")]
    pub current_met: bool,
    #[serde(rename = "window_days")]
    pub window_days: i64,
    /// The longest stretch without a new backup over the window.
    #[serde(rename = "worst_gap_seconds")]
    pub worst_gap_seconds: Option<f64>,
    #[serde(rename = "worst_gap_met")]
    pub worst_gap_met: bool,
    /// The longest interval between scheduled runs (none without schedules).
    #[serde(rename = "schedule_rpo_seconds")]
    pub schedule_rpo_seconds: Option<f64>,
    #[serde(rename = "schedule_can_meet_target")]
    pub schedule_can_meet_target: bool,
    #[serde(rename = "backups_considered")]
    pub backups_considered: u64,
    #[serde(rename = "reasons")]
    pub reasons: Vec<String>,
}

impl RecordPayload {
    pub fn kind(&self) -> RecordKind {
        match self {
            RecordPayload::Validation(_) => RecordKind::Validation,
            RecordPayload::RestoreTest(_) => RecordKind::RestoreTest,
            RecordPayload::RtoMeasurement(_) => RecordKind::RtoMeasurement,
            RecordPayload::RpoMeasurement(_) => RecordKind::RpoMeasurement,
            RecordPayload::Drill(_) => RecordKind::Drill,
        }
    }

    pub fn as_drill(&self) -> Option<&DrillPayload> {
        match self {
            RecordPayload::Drill(p) => Some(p),
            _ => None,
        }
    }

    pub fn as_restore_test(&self) -> Option<&RestoreTestPayload> {
        match self {
            RecordPayload::RestoreTest(p) => Some(p),
            _ => None,
        }
    }

    /// The RTO achieved, for restore tests and RTO measurements (the trends' figures).
    pub fn rto_seconds(&self) -> Option<f64> {
        match self {
            RecordPayload::RestoreTest(p) => Some(p.rto_seconds),
            RecordPayload::RtoMeasurement(p) => Some(p.rto_seconds),
            // A drill's RTO is its scenario's (one database, a few files): not a restore of the
            // data set, so not in the RTO trend. `DrillPayload` has it.
            RecordPayload::Drill(_)
            | RecordPayload::Validation(_)
            | RecordPayload::RpoMeasurement(_) => None,
        }
    }

    /// The RPO at the time, for restore tests and RPO measurements.
    pub fn rpo_seconds(&self) -> Option<f64> {
        match self {
            RecordPayload::RestoreTest(p) => p.rpo_seconds,
            RecordPayload::RpoMeasurement(p) => p.rpo_seconds,
            RecordPayload::Drill(_)
            | RecordPayload::Validation(_)
            | RecordPayload::RtoMeasurement(_) => None,
        }
    }

    /// The backup restored, for restore tests and RTO measurements.
    pub fn backup_id(&self) -> Option<&str> {
        match self {
            RecordPayload::RestoreTest(p) => Some(&p.backup_id),
            RecordPayload::RtoMeasurement(p) => Some(&p.backup_id),
            RecordPayload::Drill(p) => p.backup_id.as_deref(),
            RecordPayload::Validation(_) | RecordPayload::RpoMeasurement(_) => None,
        }
    }

    /// The stored `payload` (of [`RecordKind::payload_version`]).
    pub(super) fn encode(&self) -> serde_json::Result<Value> {
        match self {
            RecordPayload::Validation(p) => serde_json::to_value(p),
            RecordPayload::RestoreTest(p) => serde_json::to_value(p),
            RecordPayload::RtoMeasurement(p) => serde_json::to_value(p),
            RecordPayload::RpoMeasurement(p) => serde_json::to_value(p),
            RecordPayload::Drill(p) => serde_json::to_value(p),
        }
    }

    /// Read a stored `payload` of `version` (1 up to the kind's version), or say why not.
    pub(super) fn decode(
        kind: RecordKind,
        version: u32,
        payload: Value,
    ) -> Result<RecordPayload, String> {
        let newest = kind.payload_version();
        if version > newest {
            return Err(format!(
                "its payload version {version} is newer than this release reads ({newest}): it was written by a newer mahavishnu-dr"
            ));
        }
        if version == LEGACY_PAYLOAD_VERSION {
            return Err("its payload version 0 has no payload (only data)".into());
        }
        // Only version 1 exists so far; a version 2 keeps this arm for its version 1.
        match kind {
            RecordKind::Validation => parse(payload).map(RecordPayload::Validation),
            RecordKind::RestoreTest => parse(payload).map(RecordPayload::RestoreTest),
            RecordKind::RtoMeasurement => parse(payload).map(RecordPayload::RtoMeasurement),
            RecordKind::RpoMeasurement => parse(payload).map(RecordPayload::RpoMeasurement),
            RecordKind::Drill => parse(payload).map(RecordPayload::Drill),
        }
    }

    /// Read a first-release record's `data` (the command's `--json` output when it was kept).
    pub(super) fn from_legacy(
        kind: RecordKind,
        passed: bool,
        data: Value,
    ) -> Result<RecordPayload, String> {
        Ok(match kind {
            RecordKind::Validation => {
                RecordPayload::Validation(parse::<legacy::Validation>(data)?.into())
            }
            RecordKind::RestoreTest => {
                RecordPayload::RestoreTest(parse::<legacy::RestoreTest>(data)?.payload(passed))
            }
            RecordKind::RtoMeasurement => {
                RecordPayload::RtoMeasurement(parse::<legacy::Rto>(data)?.into())
            }
            RecordKind::RpoMeasurement => {
                RecordPayload::RpoMeasurement(parse::<legacy::Rpo>(data)?.into())
            }
            RecordKind::Drill => {
                return Err("a drill record has no version 0 (drills came later)".into());
            }
        })
    }
}

fn parse<T: DeserializeOwned>(v: Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| format!("its payload does not parse: {e}"))
}

/// The shapes the first release kept in `data`: the fields of its responses the payloads take, under
/// that release's names. Frozen: they describe records already written.
mod legacy {
    use super::*;

    #[derive(Deserialize)]
    pub struct Problem {
        pub backup_id: String,
    }

    #[derive(Deserialize)]
    pub struct Validation {
        pub level: ValidationScope,
        pub sample_percent: f64,
        pub backups_checked: u64,
        pub volumes_checked: u64,
        pub files_checked: u64,
        pub bytes_read: u64,
        pub duration_seconds: f64,
        pub problems: Vec<Problem>,
    }

    impl From<Validation> for ValidationPayload {
        fn from(v: Validation) -> Self {
            let mut failed: Vec<String> = v.problems.iter().map(|p| p.backup_id.clone()).collect();
            failed.sort();
            failed.dedup();
            ValidationPayload {
                level: v.level,
                sample_percent: v.sample_percent,
                backups_checked: v.backups_checked,
                volumes_checked: v.volumes_checked,
                files_checked: v.files_checked,
                bytes_read: v.bytes_read,
                problems: v.problems.len() as u64,
                failed_backups: failed,
                duration_seconds: v.duration_seconds,
            }
        }
    }

    #[derive(Deserialize)]
    pub struct Database {
        pub ok: bool,
    }

    #[derive(Deserialize)]
    pub struct RestoreTest {
        /// Records of builds before the first release lack it: their pass/fail stands for it.
        #[serde(default)]
        pub restore_ok: Option<bool>,
        pub reasons: Vec<String>,
        pub backup_id: String,
        pub backup_type: Option<BackupType>,
        pub backup_finished: Option<DateTime<Utc>>,
        pub chain_length: u32,
        pub files: u64,
        pub bytes: u64,
        pub rto_seconds: f64,
        pub rto_target_seconds: f64,
        pub rto_met: bool,
        pub rpo_seconds: Option<f64>,
        pub rpo_target_seconds: f64,
        pub rpo_met: bool,
        #[serde(default)]
        pub databases: Vec<Database>,
        #[serde(default)]
        pub drift: DriftSummary,
    }

    impl RestoreTest {
        pub fn payload(self, passed: bool) -> RestoreTestPayload {
            RestoreTestPayload {
                backup_id: self.backup_id,
                backup_type: self.backup_type,
                backup_finished: self.backup_finished,
                chain_length: self.chain_length,
                restore_ok: self.restore_ok.unwrap_or(passed),
                reasons: self.reasons,
                files: self.files,
                bytes: self.bytes,
                rto_seconds: self.rto_seconds,
                rto_target_seconds: self.rto_target_seconds,
                rto_met: self.rto_met,
                rpo_seconds: self.rpo_seconds,
                rpo_target_seconds: self.rpo_target_seconds,
                rpo_met: self.rpo_met,
                databases_checked: self.databases.len() as u64,
                databases_failed: self.databases.iter().filter(|d| !d.ok).count() as u64,
                drift: self.drift,
            }
        }
    }

    #[derive(Deserialize)]
    pub struct Estimate {
        pub estimated_rto_seconds: f64,
        pub estimated_rto_met: bool,
    }

    #[derive(Deserialize)]
    pub struct Rto {
        pub reasons: Vec<String>,
        pub backup_id: String,
        pub backup_type: BackupType,
        pub backup_finished: DateTime<Utc>,
        pub chain_length: u32,
        pub files: u64,
        pub bytes: u64,
        pub verified: bool,
        pub rto_seconds: f64,
        pub rto_target_seconds: f64,
        pub rto_met: bool,
        pub throughput_mib_s: f64,
        pub estimate: Estimate,
    }

    impl From<Rto> for RtoPayload {
        fn from(r: Rto) -> Self {
            RtoPayload {
                backup_id: r.backup_id,
                backup_type: Some(r.backup_type),
                backup_finished: Some(r.backup_finished),
                chain_length: r.chain_length,
                verified: r.verified,
                reasons: r.reasons,
                files: r.files,
                bytes: r.bytes,
                rto_seconds: r.rto_seconds,
                rto_target_seconds: r.rto_target_seconds,
                rto_met: r.rto_met,
                throughput_mib_s: r.throughput_mib_s,
                estimated_rto_seconds: r.estimate.estimated_rto_seconds,
                estimated_rto_met: r.estimate.estimated_rto_met,
            }
        }
    }

    #[derive(Deserialize)]
    pub struct Current {
        pub newest_backup: Option<DateTime<Utc>>,
        pub age_seconds: Option<i64>,
        pub passed: bool,
    }

    #[derive(Deserialize)]
    pub struct Gap {
        pub seconds: i64,
    }

    #[derive(Deserialize)]
    pub struct WorstGap {
        pub window_days: i64,
        pub worst: Option<Gap>,
        pub passed: bool,
    }

    #[derive(Deserialize)]
    pub struct Schedule {
        pub implied_rpo_seconds: Option<i64>,
    }

    #[derive(Deserialize)]
    pub struct Rpo {
        pub rpo_target_seconds: i64,
        pub backups_considered: u64,
        pub current: Current,
        pub worst_gap: WorstGap,
        pub schedule: Schedule,
        pub schedule_can_meet_target: bool,
        pub reasons: Vec<String>,
    }

    impl From<Rpo> for RpoPayload {
        fn from(r: Rpo) -> Self {
            RpoPayload {
                rpo_seconds: r.current.age_seconds.map(|s| s as f64),
                rpo_target_seconds: r.rpo_target_seconds as f64,
                newest_backup: r.current.newest_backup,
                current_met: r.current.passed,
                window_days: r.worst_gap.window_days,
                worst_gap_seconds: r.worst_gap.worst.map(|g| g.seconds as f64),
                worst_gap_met: r.worst_gap.passed,
                schedule_rpo_seconds: r.schedule.implied_rpo_seconds.map(|s| s as f64),
                schedule_can_meet_target: r.schedule_can_meet_target,
                backups_considered: r.backups_considered,
                reasons: r.reasons,
            }
        }
    }
}
