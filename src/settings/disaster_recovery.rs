//! The typed `disaster_recovery` section: the RTO and RPO targets, automated restore tests and
//! drills (each on a resolved [`Schedule`]), drill scenarios by id ([`DrillScenario`]).
//!
//! Defaults when the file says less: automated tests weekly on Saturday at 05:00, drills monthly
//! on day 1 at 06:00 (after the seed's nightly, weekly and monthly backups of 02:00-04:00 and
//! the restore test of 05:00, so a drill exercises the newest archival backup). A weekly schedule
//! without `day` runs on Saturday, a monthly one on day 1. Every `timezone` defaults to UTC, as
//! it does for backup schedules.

use std::fmt;
use std::path::PathBuf;

use chrono::{NaiveTime, Weekday};
use chrono_tz::Tz;
use schemars::JsonSchema;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::schedule::{
    DaySetting, Frequency, Repeat, Schedule, TimeOfDay, Timezone, WrittenSchedule,
};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DisasterRecoverySettings {
    pub rto_target_minutes: u64,
    pub rpo_target_minutes: u64,
    pub automated_tests: AutomatedTests,
    pub drills: Drills,
    pub restore_test: RestoreTestSettings,
}

impl Default for DisasterRecoverySettings {
    fn default() -> Self {
        DisasterRecoverySettings {
            rto_target_minutes: DEFAULT_RTO_TARGET_MINUTES,
            rpo_target_minutes: DEFAULT_RPO_TARGET_MINUTES,
            automated_tests: AutomatedTests::default(),
            drills: Drills::default(),
            restore_test: RestoreTestSettings::default(),
        }
    }
}

pub(crate) const DEFAULT_RTO_TARGET_MINUTES: u64 = 15;
pub(crate) const DEFAULT_RPO_TARGET_MINUTES: u64 = 5;

/// The time automated restore tests run at when `time` is absent.
pub(crate) fn default_test_time() -> NaiveTime {
    hm(5, 0)
}

/// The time drills run at when `time` is absent.
pub(crate) fn default_drill_time() -> NaiveTime {
    hm(6, 0)
}

/// The day a weekly or monthly test or drill runs on when `day` is absent: Saturday, day 1.
pub(crate) fn default_day(frequency: Frequency) -> Option<DaySetting> {
    match frequency {
        Frequency::Daily => None,
        Frequency::Weekly => Some(DaySetting::Weekday(Weekday::Sat)),
        Frequency::Monthly => Some(DaySetting::OfMonth(1)),
    }
}

pub(crate) fn hm(hour: u32, minute: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or(NaiveTime::MIN)
}

/// The repetition a frequency and its (default) day give.
fn repeat_of(frequency: Frequency) -> Repeat {
    match frequency {
        Frequency::Daily => Repeat::Daily,
        _ => Repeat::from_day(default_day(frequency)),
    }
}

/// `disaster_recovery.automated_tests`: restore tests on a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AutomatedTests {
    pub enabled: bool,
    pub schedule: Schedule,
}

impl Default for AutomatedTests {
    fn default() -> Self {
        AutomatedTests {
            enabled: true,
            schedule: Schedule {
                time: default_test_time(),
                timezone: Tz::UTC,
                repeat: repeat_of(Frequency::Weekly),
            },
        }
    }
}

/// As the file writes it: `{enabled, schedule, day, time, timezone}`.
impl Serialize for AutomatedTests {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct AsWritten {
            enabled: bool,
            #[serde(flatten)]
            when: WrittenSchedule,
        }
        AsWritten {
            enabled: self.enabled,
            when: (&self.schedule).into(),
        }
        .serialize(s)
    }
}

/// `disaster_recovery.drills`: disaster drills on a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drills {
    pub enabled: bool,
    pub schedule: Schedule,
    /// The scenarios to run, in the file's order, each once.
    pub scenarios: Vec<DrillScenarioSettings>,
}

impl Default for Drills {
    fn default() -> Self {
        Drills {
            enabled: true,
            schedule: Schedule {
                time: default_drill_time(),
                timezone: Tz::UTC,
                repeat: repeat_of(Frequency::Monthly),
            },
            scenarios: Vec::new(),
        }
    }
}

/// As the file writes it: `{enabled, frequency, day, time, timezone, scenarios: [id, ...]}`.
impl Serialize for Drills {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct AsWritten<'a> {
            enabled: bool,
            frequency: Frequency,
            day: Option<DaySetting>,
            time: TimeOfDay,
            timezone: Timezone,
            scenarios: &'a [DrillScenarioSettings],
        }
        AsWritten {
            enabled: self.enabled,
            frequency: self.schedule.repeat.frequency(),
            day: self.schedule.repeat.day(),
            time: TimeOfDay(self.schedule.time),
            timezone: Timezone(self.schedule.timezone),
            scenarios: &self.scenarios,
        }
        .serialize(s)
    }
}

/// One drill scenario with the targets it is judged against: the DR plan's for the scenario
/// ([`DrillScenario::plan_targets`]) unless its entry in `drills.scenarios` overrides them.
/// Code that runs a drill reads its targets here ([`Drills::targets`]) and nowhere else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DrillScenarioSettings {
    pub scenario: DrillScenario,
    /// `None`: the scenario has no recovery-time target (a network partition heals by itself).
    pub rto_target_minutes: Option<u64>,
    pub rpo_target_minutes: u64,
}

impl DrillScenarioSettings {
    /// The scenario with the DR plan's targets.
    pub fn plan(scenario: DrillScenario) -> DrillScenarioSettings {
        let (rto, rpo) = scenario.plan_targets();
        DrillScenarioSettings {
            scenario,
            rto_target_minutes: rto,
            rpo_target_minutes: rpo,
        }
    }

    /// As the file writes it: the bare id when the targets are the plan's, else a map.
    fn is_plan(&self) -> bool {
        *self == DrillScenarioSettings::plan(self.scenario)
    }
}

impl Serialize for DrillScenarioSettings {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct AsWritten {
            scenario: DrillScenario,
            #[serde(skip_serializing_if = "Option::is_none")]
            rto_target_minutes: Option<u64>,
            rpo_target_minutes: u64,
        }
        if self.is_plan() {
            self.scenario.serialize(s)
        } else {
            AsWritten {
                scenario: self.scenario,
                rto_target_minutes: self.rto_target_minutes,
                rpo_target_minutes: self.rpo_target_minutes,
            }
            .serialize(s)
        }
    }
}

impl Drills {
    /// The targets a drill of `scenario` is judged against: its entry's, or the plan's when the
    /// settings do not list it.
    pub fn targets(&self, scenario: DrillScenario) -> DrillScenarioSettings {
        self.scenarios
            .iter()
            .find(|s| s.scenario == scenario)
            .copied()
            .unwrap_or_else(|| DrillScenarioSettings::plan(scenario))
    }
}

/// A drill scenario, by the id the settings file writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DrillScenario {
    SingleServerFailure,
    RegionFailure,
    DatabaseCorruption,
    NetworkPartition,
    DataDeletion,
}

impl DrillScenario {
    /// Every scenario, in the DR plan's order.
    pub const ALL: [DrillScenario; 5] = [
        DrillScenario::SingleServerFailure,
        DrillScenario::RegionFailure,
        DrillScenario::DatabaseCorruption,
        DrillScenario::NetworkPartition,
        DrillScenario::DataDeletion,
    ];

    /// The DR plan's targets for this scenario, in minutes: (RTO, RPO). A network partition has
    /// no RTO (the service is degraded, not down); its RPO is the time without a backup.
    pub fn plan_targets(self) -> (Option<u64>, u64) {
        match self {
            DrillScenario::SingleServerFailure => (Some(5), 1),
            DrillScenario::RegionFailure => (Some(15), 5),
            DrillScenario::DatabaseCorruption => (Some(30), 5),
            DrillScenario::NetworkPartition => (None, 1),
            DrillScenario::DataDeletion => (Some(30), 5),
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            DrillScenario::SingleServerFailure => "single_server_failure",
            DrillScenario::RegionFailure => "region_failure",
            DrillScenario::DatabaseCorruption => "database_corruption",
            DrillScenario::NetworkPartition => "network_partition",
            DrillScenario::DataDeletion => "data_deletion",
        }
    }

    /// A scenario by its id, in any case, surrounding spaces ignored; `None` for anything else.
    pub fn parse(text: &str) -> Option<DrillScenario> {
        let t = text.trim();
        DrillScenario::ALL
            .into_iter()
            .find(|s| s.id().eq_ignore_ascii_case(t))
    }

    /// "single_server_failure, region_failure, ..."
    pub fn valid_ids() -> String {
        DrillScenario::ALL.map(DrillScenario::id).join(", ")
    }
}

impl JsonSchema for DrillScenario {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DrillScenario".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "enum": DrillScenario::ALL.map(DrillScenario::id),
            "description": "a drill scenario of the DR plan"
        })
    }
}

impl fmt::Display for DrillScenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl Serialize for DrillScenario {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.id())
    }
}

impl<'de> Deserialize<'de> for DrillScenario {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ScenarioVisitor;

        impl Visitor<'_> for ScenarioVisitor {
            type Value = DrillScenario;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "a drill scenario id: {}", DrillScenario::valid_ids())
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<DrillScenario, E> {
                DrillScenario::parse(v).ok_or_else(|| {
                    E::custom(format!(
                        "unknown drill scenario {v:?}; the valid ids are {}",
                        DrillScenario::valid_ids()
                    ))
                })
            }
        }

        deserializer.deserialize_str(ScenarioVisitor)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scenario_ids_round_trip() {
        for s in DrillScenario::ALL {
            assert_eq!(DrillScenario::parse(s.id()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.id());
        }
        assert_eq!(
            DrillScenario::parse(" Region_Failure "),
            Some(DrillScenario::RegionFailure)
        );
        assert_eq!(DrillScenario::parse("meteor_strike"), None);
        let e = serde_saphyr::from_str::<DrillScenario>("meteor_strike").unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("unknown drill scenario \"meteor_strike\""),
            "{e}"
        );
        for s in DrillScenario::ALL {
            assert!(e.contains(s.id()), "{e}");
        }
    }

    #[test]
    fn defaults() {
        let t = AutomatedTests::default();
        assert!(t.enabled);
        assert_eq!(t.schedule.repeat, Repeat::Weekly(Weekday::Sat));
        assert_eq!(t.schedule.time, hm(5, 0));
        assert_eq!(t.schedule.timezone, Tz::UTC);
        let d = Drills::default();
        assert_eq!(d.schedule.repeat, Repeat::Monthly(1));
        assert_eq!(d.schedule.time, hm(6, 0));
        assert_eq!(d.schedule.timezone, Tz::UTC);
        assert!(d.scenarios.is_empty());
        assert_eq!(default_day(Frequency::Daily), None);
    }

    #[test]
    fn serialized_as_a_settings_file_writes_it() {
        let dr = DisasterRecoverySettings {
            drills: Drills {
                scenarios: vec![DrillScenarioSettings {
                    scenario: DrillScenario::DataDeletion,
                    rto_target_minutes: Some(15),
                    rpo_target_minutes: 5,
                }],
                ..Drills::default()
            },
            ..DisasterRecoverySettings::default()
        };
        let v = serde_json::to_value(&dr).unwrap();
        assert_eq!(
            v["automated_tests"],
            serde_json::json!({
                "enabled": true, "schedule": "weekly", "day": "saturday", "time": "05:00",
                "timezone": "UTC"
            })
        );
        assert_eq!(
            v["drills"],
            serde_json::json!({
                "enabled": true, "frequency": "monthly", "day": 1, "time": "06:00",
                "timezone": "UTC",
                "scenarios": [{"scenario": "data_deletion", "rto_target_minutes": 15,
                               "rpo_target_minutes": 5}]
            })
        );
    }
}
