//! `health`: whether the repository answers, how old its newest backup is against the RPO
//! target, and the daemon's last result of each job (what an HTTP `/health` probe, a
//! monitor or a load balancer asks, cheaply).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::Dr;
use super::daemon_state::{DaemonState, JobResult};
use crate::repo::catalog::Catalog;

/// The answer to a health probe.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// "ok" when the repository is reachable, "degraded" otherwise.
    pub status: String,
    pub version: String,
    pub repository: String,
    pub repository_reachable: bool,
    pub newest_backup_id: Option<String>,
    /// Seconds since the newest backup finished.
    pub newest_backup_age_seconds: Option<i64>,
    /// Why the repository is not reachable, when it is not.
    pub error: Option<String>,
    /// `disaster_recovery.rpo_target_minutes` in seconds.
    pub rpo_target_seconds: i64,
    /// Seconds since the daemon's last continuous point (None without one).
    #[serde(default)]
    pub newest_point_age_seconds: Option<i64>,
    /// The newest backup, or the daemon's last continuous point, is no older than the RPO
    /// target (false when there is neither).
    pub rpo_met: bool,
    /// The daemon's jobs as its state file tells (None when no daemon has run here).
    pub daemon: Option<DaemonHealth>,
}

/// The daemon's part of a health probe.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DaemonHealth {
    /// "running", or "stopped" (cleanly), or "unknown" (no clean stop recorded).
    pub state: String,
    pub pid: Option<u32>,
    pub started_at: Option<DateTime<Utc>>,
    /// The job running now.
    pub running_job: Option<String>,
    /// Per job: the last result and when, and the next run.
    pub jobs: BTreeMap<String, JobHealth>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct JobHealth {
    pub last_result: Option<JobResult>,
    pub last_finished: Option<DateTime<Utc>>,
    pub next_run: Option<DateTime<Utc>>,
}

fn daemon_health(state: DaemonState) -> DaemonHealth {
    let st = match (state.stopped_at, state.daemon_running()) {
        (_, true) => "running",
        (Some(_), false) => "stopped",
        (None, false) => "unknown",
    };
    DaemonHealth {
        state: st.into(),
        pid: state.pid,
        started_at: state.started_at,
        running_job: state.running.filter(|_| st == "running").map(|r| r.job),
        jobs: state
            .jobs
            .into_iter()
            .map(|(name, j)| {
                (
                    name,
                    JobHealth {
                        last_result: j.last_result,
                        last_finished: j.last_finished,
                        next_run: j.next_run,
                    },
                )
            })
            .collect(),
    }
}

impl Dr {
    /// Probe the repository: never fails, a failure is reported as "degraded" with the reason.
    pub async fn health(&self) -> Health {
        let listing = match self.open_repo().await {
            Ok(repo) => Catalog::load(&repo).await,
            Err(e) => Err(e),
        };
        let now = chrono::Utc::now();
        let repository = self.storage().describe();
        let version = env!("CARGO_PKG_VERSION").to_string();
        let s = &self.settings.settings;
        let rpo_target_seconds = (s.disaster_recovery.rpo_target_minutes as i64).saturating_mul(60);
        let state = DaemonState::load_readonly(&s.daemon.state_dir);
        let point_age = state
            .as_ref()
            .and_then(|st| st.job(super::daemon_state::CONTINUOUS_JOB))
            .and_then(|j| j.last_success)
            .map(|t| (now - t).num_seconds());
        let daemon = state.map(daemon_health);
        match listing {
            Ok(catalog) => {
                let newest = catalog.latest();
                let age = newest.map(|b| (now - b.finished).num_seconds());
                Health {
                    status: "ok".into(),
                    version,
                    repository,
                    repository_reachable: true,
                    newest_backup_id: newest.map(|b| b.backup_id.clone()),
                    newest_backup_age_seconds: age,
                    error: None,
                    rpo_target_seconds,
                    newest_point_age_seconds: point_age,
                    rpo_met: age
                        .into_iter()
                        .chain(point_age)
                        .min()
                        .is_some_and(|a| a <= rpo_target_seconds),
                    daemon,
                }
            }
            Err(e) => Health {
                status: "degraded".into(),
                version,
                repository,
                repository_reachable: false,
                newest_backup_id: None,
                newest_backup_age_seconds: None,
                error: Some(e.message),
                rpo_target_seconds,
                newest_point_age_seconds: point_age,
                rpo_met: false,
                daemon,
            },
        }
    }
}
