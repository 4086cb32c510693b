//! What a scenario is: an id, a description, the DR plan's targets, and its ordered steps (the
//! same definition drives `drill list`, a dry run's plan and the runner's skipped steps).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::settings::{DrillScenario, Drills};

/// Where a step sits in a drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StepPhase {
    Prepare,
    Inject,
    Detect,
    Recover,
    Verify,
    TearDown,
}

impl StepPhase {
    pub fn label(self) -> &'static str {
        match self {
            StepPhase::Prepare => "prepare",
            StepPhase::Inject => "inject",
            StepPhase::Detect => "detect",
            StepPhase::Recover => "recover",
            StepPhase::Verify => "verify",
            StepPhase::TearDown => "tear_down",
        }
    }
}

/// A phase by its stored label (an unknown label, from a newer release, reads as prepare).
pub(crate) fn phase_named(label: &str) -> StepPhase {
    [
        StepPhase::Prepare,
        StepPhase::Inject,
        StepPhase::Detect,
        StepPhase::Recover,
        StepPhase::Verify,
        StepPhase::TearDown,
    ]
    .into_iter()
    .find(|p| p.label() == label)
    .unwrap_or(StepPhase::Prepare)
}

/// One step as a scenario defines it.
pub(crate) struct StepDef {
    pub phase: StepPhase,
    pub name: &'static str,
    /// What it does, for the plan and the runbook.
    pub what: &'static str,
}

/// A scenario as code.
pub(crate) struct ScenarioDef {
    pub title: &'static str,
    pub description: &'static str,
    /// What the drill's RPO is, in a sentence.
    pub rpo_means: &'static str,
    /// The steps in order; tear down is the runner's and comes last in every drill.
    pub steps: &'static [StepDef],
    /// What the runbook of a real incident says beyond the drill (`drill runbook`).
    pub runbook: RunbookDef,
}

/// A scenario's runbook for a real incident: the drill rehearses it in a sandbox, these are the
/// steps on the real host, with the exact commands (docs/runbooks/ is generated from them).
pub(crate) struct RunbookDef {
    /// How an operator notices this disaster.
    pub detection: &'static [RunbookStep],
    /// What is lost or degraded, and for whom.
    pub impact: &'static str,
    /// The recovery, in order.
    pub recovery: &'static [RunbookStep],
    /// How to tell the recovery worked.
    pub success: &'static [&'static str],
    /// How to undo the recovery when it made things worse.
    pub rollback: &'static [RunbookStep],
}

/// One step of a runbook: what to do, and the commands that do it (exact, with placeholders in
/// capitals).
pub(crate) struct RunbookStep {
    pub what: &'static str,
    pub commands: &'static [&'static str],
}

/// The tear-down step every drill ends with.
pub(crate) const TEAR_DOWN: StepDef = StepDef {
    phase: StepPhase::TearDown,
    name: "remove the sandbox",
    what: "remove the sandbox folder with every scratch repository in it; runs after a failure, \
           a cancel or Ctrl-C too",
};

pub(crate) fn def(s: DrillScenario) -> &'static ScenarioDef {
    match s {
        DrillScenario::SingleServerFailure => &super::single_server_failure::DEF,
        DrillScenario::RegionFailure => &super::region_failure::DEF,
        DrillScenario::DatabaseCorruption => &super::database_corruption::DEF,
        DrillScenario::NetworkPartition => &super::network_partition::DEF,
        DrillScenario::DataDeletion => &super::data_deletion::DEF,
    }
}

/// A scenario as `drill list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScenarioInfo {
    pub id: DrillScenario,
    pub title: String,
    pub description: String,
    /// None: no recovery-time target.
    pub rto_target_minutes: Option<u64>,
    pub rpo_target_minutes: u64,
    pub rpo_means: String,
    /// Listed in `disaster_recovery.drills.scenarios` (run by `drill run --scheduled`).
    pub scheduled: bool,
    pub steps: Vec<PlannedStep>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PlannedStep {
    pub phase: StepPhase,
    pub name: String,
    pub what: String,
}

pub(crate) fn planned_steps(d: &ScenarioDef) -> Vec<PlannedStep> {
    d.steps
        .iter()
        .chain(std::iter::once(&TEAR_DOWN))
        .map(|s| PlannedStep {
            phase: s.phase,
            name: s.name.to_string(),
            what: s.what.to_string(),
        })
        .collect()
}

pub(crate) fn info(s: DrillScenario, drills: &Drills) -> ScenarioInfo {
    let d = def(s);
    let t = drills.targets(s);
    ScenarioInfo {
        id: s,
        title: d.title.to_string(),
        description: d.description.to_string(),
        rto_target_minutes: t.rto_target_minutes,
        rpo_target_minutes: t.rpo_target_minutes,
        rpo_means: d.rpo_means.to_string(),
        scheduled: drills.enabled && drills.scenarios.iter().any(|x| x.scenario == s),
        steps: planned_steps(d),
    }
}
