//! A drill's plan (what a dry run prints: the steps, the store and backup it would use, an RTO
//! estimate from the last measured restore throughput), and which scheduled drills are due.
//! Planning reads the catalog and the history; it writes nothing anywhere.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::scenario::{self, PlannedStep};
use crate::ops::Dr;
use crate::repo::catalog::Catalog;
use crate::repo::history::{HistoryRecord, RecordPayload};
use crate::settings::DrillScenario;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DrillPlan {
    pub scenario: DrillScenario,
    pub title: String,
    pub description: String,
    pub steps: Vec<PlannedStep>,
    /// The store the drill reads.
    pub store: String,
    /// The backup the recovery would use (this host's newest), when there is one.
    pub backup_id: Option<String>,
    pub backup_finished: Option<DateTime<Utc>>,
    /// Bytes that backup holds.
    pub backup_bytes: Option<u64>,
    /// The newest backup's bytes at the restore throughput last measured (a restore test or
    /// an RTO measurement); none without such a measurement.
    pub rto_estimate_seconds: Option<f64>,
    pub rto_target_seconds: Option<f64>,
    pub rpo_target_seconds: f64,
    /// What stands in the way (no backup, no replica, the repository unreadable).
    pub notes: Vec<String>,
}

impl Dr {
    pub(super) async fn drill_plan(&self, s: DrillScenario) -> DrillPlan {
        let d = scenario::def(s);
        let t = self.settings.settings.disaster_recovery.drills.targets(s);
        let mut plan = DrillPlan {
            scenario: s,
            title: d.title.to_string(),
            description: d.description.to_string(),
            steps: scenario::planned_steps(d),
            store: self.store().name.clone(),
            backup_id: None,
            backup_finished: None,
            backup_bytes: None,
            rto_estimate_seconds: None,
            rto_target_seconds: t.rto_target_minutes.map(|m| m as f64 * 60.0),
            rpo_target_seconds: t.rpo_target_minutes as f64 * 60.0,
            notes: Vec::new(),
        };
        if s == DrillScenario::RegionFailure && self.other_stores().is_empty() {
            plan.notes.push(
                "no replica is configured: the drill will fail (a region loss is \
                 unrecoverable)"
                    .into(),
            );
        }
        let repo = match self.open_repo().await {
            Ok(r) => r,
            Err(e) => {
                plan.notes
                    .push(format!("the repository cannot be opened: {}", e.message));
                return plan;
            }
        };
        match Catalog::load(&repo).await {
            Ok(catalog) => match catalog.latest_of(&self.host()) {
                Some(b) => {
                    plan.backup_id = Some(b.backup_id.clone());
                    plan.backup_finished = Some(b.finished);
                    plan.backup_bytes = Some(b.totals.bytes);
                }
                None => plan
                    .notes
                    .push("this host has no backup: the drill will fail".into()),
            },
            Err(e) => plan
                .notes
                .push(format!("the catalog cannot be read: {}", e.message)),
        }
        if let (Some(bytes), Ok((records, _))) = (plan.backup_bytes, repo.recent_history(50).await)
        {
            plan.rto_estimate_seconds = throughput(&records).map(|bps| {
                let secs = bytes as f64 / bps;
                (secs * 10.0).round() / 10.0
            });
        }
        plan
    }
}

/// Bytes per second of the newest restore test or RTO measurement that restored something.
fn throughput(records: &[HistoryRecord]) -> Option<f64> {
    records.iter().rev().find_map(|r| {
        let (bytes, secs) = match &r.payload {
            RecordPayload::RestoreTest(p) => (p.bytes, p.rto_seconds),
            RecordPayload::RtoMeasurement(p) => (p.bytes, p.rto_seconds),
            _ => return None,
        };
        (bytes > 0 && secs > 0.0).then(|| bytes as f64 / secs)
    })
}

/// The scenarios of `disaster_recovery.drills` due now: listed, drills enabled, and not drilled
/// by this host since the latest scheduled time at or before now. Read from the history; an
/// unreadable history makes every listed scenario due.
pub(super) async fn due(dr: &Dr) -> Vec<DrillScenario> {
    let drills = &dr.settings.settings.disaster_recovery.drills;
    if !drills.enabled {
        return Vec::new();
    }
    let now = Utc::now();
    let slot = drills.schedule.last_at_or_before(now);
    let records = match dr.open_repo().await {
        Ok(repo) => repo
            .recent_history(0)
            .await
            .map(|r| r.0)
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    let host = dr.host();
    drills
        .scenarios
        .iter()
        .map(|s| s.scenario)
        .filter(|s| {
            let last = records
                .iter()
                .filter(|r| r.host == host)
                .filter_map(|r| r.payload.as_drill().filter(|p| p.scenario == s.id()))
                .map(|p| p.started)
                .max();
            match (last, slot) {
                (None, _) => true,
                (Some(l), Some(slot)) => l < slot,
                (Some(_), None) => false,
            }
        })
        .collect()
}
