//! Drills as evidence: what the history keeps of a drill (the typed payload of `repo::history`),
//! and `drill report`, the kept drills read back, newest last.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DrillResult, DrillStep};
use crate::error::Result;
use crate::ops::Dr;
use crate::ops::record::Recorded;
use crate::repo::history::{DriftSummary, DrillPayload, DrillStepPayload, RecordPayload};
use crate::settings::DrillScenario;

/// Options of `drill report` (`drill_report`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct DrillReportOptions {
    /// How many of the newest drills to show (default 10; 0: all).
    #[serde(default = "crate::ops::defaults::history_last")]
    #[schemars(range(min = 0))]
    #[arg(long, default_value_t = crate::ops::defaults::HISTORY_LAST)]
    pub last: i64,
}

impl Default for DrillReportOptions {
    fn default() -> Self {
        DrillReportOptions {
            last: crate::ops::defaults::HISTORY_LAST,
        }
    }
}

/// One kept drill.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct KeptDrill {
    pub record_id: String,
    pub scenario: String,
    pub passed: bool,
    pub host: String,
    pub started_by: String,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub store: String,
    pub backup_id: Option<String>,
    pub rto_seconds: Option<f64>,
    pub rto_target_seconds: Option<f64>,
    pub rto_met: Option<bool>,
    pub rpo_seconds: Option<f64>,
    pub rpo_target_seconds: f64,
    pub rpo_met: Option<bool>,
    pub steps: Vec<DrillStep>,
    pub findings: Vec<String>,
    pub recommendations: Vec<String>,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DrillReportResponse {
    /// Oldest first.
    pub drills: Vec<KeptDrill>,
    /// Drill records that could not be read, with why.
    pub unreadable: Vec<String>,
    pub message: String,
}

impl Dr {
    /// The newest kept drills.
    pub async fn drill_report(&self, req: &DrillReportOptions) -> Result<DrillReportResponse> {
        let repo = self.open_repo().await?;
        let ids: Vec<String> = repo
            .list_history()
            .await?
            .into_iter()
            .filter(|id| id.contains("_drill_"))
            .collect();
        // 0 (or, from a client that ignores the schema's minimum, less): all.
        let start = match usize::try_from(req.last) {
            Ok(last) if last > 0 => ids.len().saturating_sub(last),
            _ => 0,
        };
        let mut drills = Vec::new();
        let mut unreadable = Vec::new();
        for id in &ids[start..] {
            match repo.read_history(id).await {
                Ok(r) => match r.payload.as_drill() {
                    Some(p) => drills.push(kept(&r.record_id, &r.host, r.passed, &r.summary, p)),
                    None => unreadable.push(format!("{id}: not a drill record")),
                },
                Err(e) => unreadable.push(format!("{id}: {}", e.message)),
            }
        }
        let failed = drills.iter().filter(|d| !d.passed).count();
        let message = if drills.is_empty() {
            "no drill has been run: `mahavishnu-dr drill run --all` runs every scenario".into()
        } else {
            format!(
                "{} drill(s) shown, {} passed, {failed} failed",
                drills.len(),
                drills.len() - failed
            )
        };
        Ok(DrillReportResponse {
            drills,
            unreadable,
            message,
        })
    }
}

impl Dr {
    /// The newest kept drill of one scenario, if any (read newest first, stopping at the first).
    pub async fn last_drill(&self, scenario: DrillScenario) -> Result<Option<KeptDrill>> {
        let repo = self.open_repo().await?;
        let ids = repo.list_history().await?;
        for id in ids.iter().rev().filter(|id| id.contains("_drill_")) {
            // An unreadable record is `drill report`'s to name; the runbook wants evidence.
            let Ok(r) = repo.read_history(id).await else {
                continue;
            };
            if let Some(p) = r.payload.as_drill()
                && p.scenario == scenario.id()
            {
                return Ok(Some(kept(&r.record_id, &r.host, r.passed, &r.summary, p)));
            }
        }
        Ok(None)
    }
}

fn kept(record_id: &str, host: &str, passed: bool, summary: &str, p: &DrillPayload) -> KeptDrill {
    KeptDrill {
        record_id: record_id.to_string(),
        scenario: p.scenario.clone(),
        passed,
        host: host.to_string(),
        started_by: p.started_by.clone(),
        started: p.started,
        finished: p.finished,
        store: p.store.clone(),
        backup_id: p.backup_id.clone(),
        rto_seconds: p.rto_seconds,
        rto_target_seconds: p.rto_target_seconds,
        rto_met: p.rto_met,
        rpo_seconds: p.rpo_seconds,
        rpo_target_seconds: p.rpo_target_seconds,
        rpo_met: p.rpo_met,
        steps: p
            .steps
            .iter()
            .map(|s| DrillStep {
                phase: super::scenario::phase_named(&s.phase),
                name: s.name.clone(),
                outcome: s.outcome,
                seconds: s.seconds,
                detail: s.detail.clone(),
            })
            .collect(),
        findings: p.findings.clone(),
        recommendations: p.recommendations.clone(),
        summary: summary.to_string(),
    }
}

/// What the history keeps of a drill: the typed payload, field by field.
impl Recorded for DrillResult {
    fn passed(&self) -> bool {
        self.passed
    }
    fn summary(&self) -> &str {
        &self.message
    }
    fn payload(&self) -> RecordPayload {
        RecordPayload::Drill(DrillPayload {
            scenario: self.scenario.id().to_string(),
            started_by: self.started_by.clone(),
            started: self.started,
            finished: self.finished,
            store: self.store.clone(),
            backup_id: self.backup_id.clone(),
            steps: self
                .steps
                .iter()
                .map(|s| DrillStepPayload {
                    phase: s.phase.label().to_string(),
                    name: s.name.clone(),
                    outcome: s.outcome,
                    seconds: s.seconds,
                    detail: s.detail.clone(),
                })
                .collect(),
            rto_seconds: self.rto_seconds,
            rto_target_seconds: self.rto_target_seconds,
            rto_met: self.rto_met,
            rpo_seconds: self.rpo_seconds,
            rpo_target_seconds: self.rpo_target_seconds,
            rpo_met: self.rpo_met,
            findings: self.findings.clone(),
            recommendations: self.recommendations.clone(),
            data_at_risk: self.data_at_risk.as_ref().map(|d| DriftSummary {
                compared: d.compared,
                added: d.added,
                changed: d.changed,
                removed: d.removed,
                bytes_at_risk: d.bytes_at_risk,
            }),
        })
    }
}
