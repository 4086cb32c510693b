//! DR drills: the five disasters of the DR plan as scenarios (one file each), injected for real
//! into a sandbox under the scratch folder and into scratch repositories, recovered, timed step
//! by step, torn down every time, and kept in the repository history as evidence.
//!
//! The live data and the production repository are read, never written: the one object a drill
//! adds to the production repository is its history record (the evidence). A dry run reads the
//! catalog and the history and writes nothing anywhere.

mod data_deletion;
mod database_corruption;
mod network_partition;
mod plan;
mod region_failure;
mod report;
mod runbook;
mod runner;
mod sandbox;
mod scenario;
mod single_server_failure;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use plan::DrillPlan;
pub use report::{DrillReportOptions, DrillReportResponse, KeptDrill};
#[cfg(test)]
pub(crate) use runbook::runbook_commands;
pub use runbook::{DrillRunbookResponse, checked_in_runbooks};
pub use scenario::{ScenarioInfo, StepPhase};

use super::events::{DrillFinished, DrillOutcome, OperationEvent};
use super::{Cancel, Dr, Progress};
use crate::action::{Action, Advice};
use crate::error::{Error, Result};
use crate::repo::history::StepOutcome;
use crate::settings::DrillScenario;

/// Options of `drill run` (`drill_run`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct DrillRunOptions {
    /// The scenario to drill (see `drill list`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "DrillScenario")]
    #[arg(long, value_name = "ID", required_unless_present_any = ["all", "scheduled"])]
    pub scenario: Option<String>,
    /// Every scenario, in the DR plan's order.
    #[serde(default)]
    #[arg(long, conflicts_with = "scenario")]
    pub all: bool,
    /// Print the plan (steps, the backup and store it would use, an RTO estimate) and change
    /// nothing anywhere. A tool call plans unless dry_run=false (which also needs
    /// confirm=true); the command line runs the drill unless --dry-run.
    #[serde(default = "crate::ops::defaults::yes")]
    #[arg(long)]
    pub dry_run: bool,
    /// Must be true to run a drill (with dry_run=false). On the command line the command itself
    /// is the confirmation.
    #[serde(default)]
    #[arg(skip = true)]
    pub confirm: bool,
    /// The scenarios of `disaster_recovery.drills` that are due (run by a scheduler).
    #[serde(skip)]
    #[arg(long, conflicts_with_all = ["scenario", "all"])]
    pub scheduled: bool,
}

impl Default for DrillRunOptions {
    /// A plan only: no drill runs without asking for it.
    fn default() -> Self {
        DrillRunOptions {
            scenario: None,
            all: false,
            dry_run: true,
            confirm: false,
            scheduled: false,
        }
    }
}

/// One step of a drill as it ran.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DrillStep {
    pub phase: StepPhase,
    pub name: String,
    pub outcome: StepOutcome,
    pub seconds: f64,
    /// What it did or found; for a failed step, why.
    pub detail: String,
}

/// One drill's result: what the record in the history keeps, and more.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DrillResult {
    pub scenario: DrillScenario,
    pub title: String,
    /// The recovery worked and every target was met.
    pub passed: bool,
    pub host: String,
    /// `cli:<user>`, `mcp:<client>`, `schedule`.
    pub started_by: String,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    /// The store the recovery read.
    pub store: String,
    /// The backup the recovery used.
    pub backup_id: Option<String>,
    pub steps: Vec<DrillStep>,
    /// From the incident (the end of the inject step) to the end of the last verify step; none
    /// when the recovery did not verify.
    pub rto_seconds: Option<f64>,
    pub rto_target_seconds: Option<f64>,
    pub rto_met: Option<bool>,
    /// The data the recovery lost (per scenario: the age of the backup used at the incident,
    /// the replica's lag, the time without a backup).
    pub rpo_seconds: Option<f64>,
    pub rpo_target_seconds: f64,
    pub rpo_met: Option<bool>,
    /// What a real incident now would lose: the live sources' changes since the backup used
    /// (the server-loss drill measures it; none for the others).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_at_risk: Option<crate::ops::drift::Drift>,
    /// What the drill showed, good or bad, in a sentence each.
    pub findings: Vec<String>,
    /// What to change, when something failed or a target was missed.
    pub recommendations: Vec<String>,
    /// The history record it was kept as.
    pub record_id: Option<String>,
    pub warnings: Vec<String>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DrillRunResponse {
    pub dry_run: bool,
    /// Every drill run passed (a dry run: true when every plan could be made).
    pub passed: bool,
    /// The drills run (empty for a dry run).
    pub drills: Vec<DrillResult>,
    /// The plans (a dry run only).
    pub plans: Vec<DrillPlan>,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DrillListResponse {
    pub scenarios: Vec<ScenarioInfo>,
}

impl Dr {
    /// The scenarios, with their steps and the targets the settings give them.
    pub fn drill_list(&self) -> DrillListResponse {
        let drills = &self.settings.settings.disaster_recovery.drills;
        DrillListResponse {
            scenarios: DrillScenario::ALL
                .iter()
                .map(|s| scenario::info(*s, drills))
                .collect(),
        }
    }

    /// Run drills (or plan them, for a dry run). A drill that fails is a result with `passed:
    /// false`, findings and recommendations, not an error; errors are for what stops drills
    /// from running at all (an unknown scenario, the settings). Emits `DrillFinished` or
    /// `DrillFailed` to the observer (the scratch repositories' own operations emit nothing).
    pub async fn drill_run(
        &self,
        req: &DrillRunOptions,
        started_by: &str,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<DrillRunResponse> {
        let r = self
            .drill_run_unobserved(req, started_by, progress, cancel)
            .await;
        self.observed(
            r,
            |r| {
                OperationEvent::DrillFinished(DrillFinished {
                    dry_run: r.dry_run,
                    passed: r.passed,
                    drills: r
                        .drills
                        .iter()
                        .map(|d| DrillOutcome {
                            scenario: d.scenario.id().to_string(),
                            passed: d.passed,
                            rto_seconds: d.rto_seconds,
                            rpo_seconds: d.rpo_seconds,
                        })
                        .collect(),
                })
            },
            OperationEvent::DrillFailed,
        )
    }

    async fn drill_run_unobserved(
        &self,
        req: &DrillRunOptions,
        started_by: &str,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<DrillRunResponse> {
        self.needs_settings("drill run")?;
        let scenarios = self.drills_asked(req).await?;
        if !req.dry_run && !req.confirm {
            let scenario = match scenarios.as_slice() {
                [one] if !req.all => Some(one.id().to_string()),
                _ => None,
            };
            return Err(Error::refused(
                "a drill with dry_run=false injects faults into a sandbox and scratch \
                 repositories, takes time and keeps a record in the history; it needs \
                 confirm=true. Nothing was run",
            )
            .with_next(Advice::step(
                Action::PlanDrill { scenario },
                "to see the plan and show it to the user",
            ))
            .with_guidance("then run it again with dry_run=false and confirm=true"));
        }
        if req.dry_run {
            let mut plans = Vec::new();
            for s in &scenarios {
                plans.push(self.drill_plan(*s).await);
            }
            let message = format!(
                "dry run: {} drill(s) planned, nothing was changed",
                plans.len()
            );
            return Ok(DrillRunResponse {
                dry_run: true,
                passed: true,
                drills: Vec::new(),
                plans,
                message,
            });
        }
        let mut drills = Vec::new();
        for s in scenarios {
            if cancel.is_cancelled() {
                break;
            }
            drills.push(runner::run(self, s, started_by, progress.clone(), cancel).await);
        }
        let failed: Vec<&str> = drills
            .iter()
            .filter(|d| !d.passed)
            .map(|d| d.scenario.id())
            .collect();
        let passed = failed.is_empty() && (req.scheduled || !drills.is_empty());
        let message = if drills.is_empty() && req.scheduled {
            "no scheduled drill is due".to_string()
        } else if drills.is_empty() {
            "no drill ran".to_string()
        } else if passed {
            format!("{} drill(s) passed", drills.len())
        } else {
            format!(
                "{} of {} drill(s) FAILED: {}",
                failed.len(),
                drills.len(),
                failed.join(", ")
            )
        };
        Ok(DrillRunResponse {
            dry_run: false,
            passed,
            drills,
            plans: Vec::new(),
            message,
        })
    }

    /// The scenarios a request names, in the DR plan's order.
    async fn drills_asked(&self, req: &DrillRunOptions) -> Result<Vec<DrillScenario>> {
        if req.scheduled {
            return Ok(plan::due(self).await);
        }
        if req.all {
            return Ok(DrillScenario::ALL.to_vec());
        }
        let Some(id) = req.scenario.as_deref() else {
            return Err(
                Error::usage("name a scenario with --scenario ID, or pass --all")
                    .with_guidance(format!("the scenarios: {}", DrillScenario::valid_ids())),
            );
        };
        DrillScenario::parse(id).map(|s| vec![s]).ok_or_else(|| {
            Error::usage(format!("no drill scenario is called {id:?}"))
                .with_guidance(format!("the scenarios: {}", DrillScenario::valid_ids()))
        })
    }
}
