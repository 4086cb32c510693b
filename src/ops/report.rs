//! The DR posture report: a verdict with the checks behind it, the backup timeline, the RTO and
//! RPO trends and recommendations. `report` renders it as text, markdown or HTML; the DR check
//! (`run_disaster_recovery_check`) reads the same checks.

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use super::hosts::{HostNewest, newest_per_host, shown};
use super::measure::rpo_analysis::RpoAnalysis;
use super::posture::{posture_checks, verdict};
use super::record::{HistoryItem, HistoryResponse, trend};
use super::replication::ReplicaLag;
use crate::action::Face;
use crate::error::Result;
use crate::present;
use crate::repo::BackupType;
use crate::repo::history::RecordKind;

pub use super::posture::{CheckName, Level, Posture, PostureCheck, ResilienceScore, ScenarioScore};

/// The timeline covers at most this many days back from now.
pub const TIMELINE_DAYS: i64 = 90;

/// Options of the report (`report`, the `report` tool).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ReportOptions {
    /// History records in the trends (default 10; 0: all).
    #[serde(default = "super::defaults::history_last")]
    #[schemars(range(min = 0))]
    #[arg(long, default_value_t = super::defaults::HISTORY_LAST)]
    pub last: i64,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions {
            last: super::defaults::HISTORY_LAST,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct BackupOverview {
    pub count: u64,
    pub full: u64,
    pub incremental: u64,
    pub archival: u64,
    /// Sealed bytes in the repository.
    pub stored_bytes: u64,
    pub newest_backup_id: Option<String>,
    pub newest_finished: Option<DateTime<Utc>>,
    pub newest_age_seconds: Option<i64>,
    pub oldest_finished: Option<DateTime<Utc>>,
}

/// One backup on the timeline.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TimelineItem {
    pub backup_id: String,
    pub backup_type: BackupType,
    pub finished: DateTime<Utc>,
    /// Sealed bytes it added.
    pub stored_bytes: u64,
    /// Quick validation found nothing wrong with it.
    pub ok: bool,
}

/// One measurement over time.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TrendPoint {
    pub at: DateTime<Utc>,
    pub seconds: f64,
    pub passed: bool,
    pub kind: RecordKind,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReportResponse {
    pub generated: DateTime<Utc>,
    pub host: String,
    pub tool_version: String,
    /// Where the repository is.
    pub repository: String,
    pub verdict: Posture,
    /// One line: the verdict and the checks that need something.
    pub summary: String,
    pub checks: Vec<PostureCheck>,
    pub rto_target_seconds: f64,
    pub rpo_target_seconds: f64,
    pub backups: BackupOverview,
    /// Each host's newest backup against the RPO target, hosts by name.
    pub hosts: Vec<HostNewest>,
    /// Each replica's lag behind the repository reported on (empty: no replica).
    pub replicas: Vec<ReplicaLag>,
    /// The resilience score per drill scenario and overall, from kept drills only.
    pub resilience: ResilienceScore,
    /// Backups of the last `TIMELINE_DAYS` days, oldest first.
    pub timeline: Vec<TimelineItem>,
    pub timeline_from: DateTime<Utc>,
    pub timeline_to: DateTime<Utc>,
    /// RTO of restore tests and RTO measurements, oldest first.
    pub rto_trend: Vec<TrendPoint>,
    /// RPO of restore tests and RPO measurements, oldest first.
    pub rpo_trend: Vec<TrendPoint>,
    /// The newest `last` history records, with the trend directions.
    pub history: HistoryResponse,
    /// The RPO now, the worst gap and what the schedules allow (none without backups).
    pub rpo: Option<RpoAnalysis>,
    /// The scheduled jobs: what ran, what failed, what was missed, what runs next.
    pub schedules: Schedules,
    /// What to do, most urgent first.
    pub recommendations: Vec<String>,
    pub warnings: Vec<String>,
}

/// The report's Schedules section.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct Schedules {
    /// Soonest first; disabled jobs last.
    pub jobs: Vec<super::job_table::ScheduledJob>,
    /// The daemon's state (None: no daemon has run with these settings).
    pub daemon: Option<super::job_table::DaemonSummary>,
}

fn trend_points(items: &[HistoryItem], rto: bool) -> Vec<TrendPoint> {
    items
        .iter()
        .filter_map(|i| {
            let s = if rto { i.rto_seconds } else { i.rpo_seconds }?;
            Some(TrendPoint {
                at: i.at,
                seconds: s,
                passed: i.passed,
                kind: i.kind,
            })
        })
        .collect()
}

impl ReportResponse {
    /// Words the checks' actions and the recommendations drawn from them for `face` (the MCP
    /// server: tool calls instead of command lines).
    pub fn for_face(mut self, face: Face) -> Self {
        for c in &mut self.checks {
            let Some(before) = c.action.as_ref().map(|a| format!("{}: {a}", c.title)) else {
                continue;
            };
            c.for_face(face);
            if let Some(a) = &c.action {
                let after = format!("{}: {a}", c.title);
                for r in &mut self.recommendations {
                    if *r == before {
                        *r = after.clone();
                    }
                }
            }
        }
        // The RPO analysis' own recommendations, which the list repeats word for word.
        if let Some(a) = self.rpo.take() {
            let worded = a.clone().for_face(face);
            for (before, after) in a.recommendations.iter().zip(&worded.recommendations) {
                for r in &mut self.recommendations {
                    if r.ends_with(before.as_str()) {
                        *r = format!("{}{after}", &r[..r.len() - before.len()]);
                    }
                }
            }
            self.rpo = Some(worded);
        }
        self
    }
}

impl Dr {
    /// The DR posture report.
    pub async fn report(&self, req: &ReportOptions) -> Result<ReportResponse> {
        self.needs_settings("report")?;
        let s = &self.settings.settings;
        let rto_target_seconds = s.disaster_recovery.rto_target_minutes as f64 * 60.0;
        let rpo_target_seconds = s.disaster_recovery.rpo_target_minutes as f64 * 60.0;
        let (e, repo) = self.evidence().await?;
        let now = e.now;
        let checks = posture_checks(&e, rto_target_seconds, rpo_target_seconds);
        let verdict = verdict(&checks);
        let mut warnings = Vec::new();

        let backups = e.catalog.as_ref().map_or(&[][..], |c| &c.backups[..]);
        let this_host = self.host();
        let hosts = e.catalog.as_ref().map_or_else(Vec::new, |c| {
            newest_per_host(c, now, &this_host, rpo_target_seconds as i64)
        });
        let mut overview = BackupOverview::default();
        for b in backups {
            overview.count += 1;
            overview.stored_bytes += b.totals.stored_bytes;
            match b.backup_type {
                BackupType::Full => overview.full += 1,
                BackupType::Incremental => overview.incremental += 1,
                BackupType::Archival => overview.archival += 1,
            }
        }
        if let Some(n) = backups.iter().max_by_key(|b| b.finished) {
            overview.newest_backup_id = Some(n.backup_id.clone());
            overview.newest_finished = Some(n.finished);
            overview.newest_age_seconds = Some((now - n.finished).num_seconds());
        }
        overview.oldest_finished = backups.iter().map(|b| b.finished).min();

        let timeline_to = now;
        let window_start = now - Duration::days(TIMELINE_DAYS);
        let mut timeline: Vec<TimelineItem> = backups
            .iter()
            .filter(|b| b.finished >= window_start)
            .map(|b| TimelineItem {
                backup_id: b.backup_id.clone(),
                backup_type: b.backup_type,
                finished: b.finished,
                stored_bytes: b.totals.stored_bytes,
                ok: e.backup_ok.get(&b.backup_id).copied().unwrap_or(false),
            })
            .collect();
        timeline.sort_by_key(|t| t.finished);
        let timeline_from = timeline.first().map_or(now - Duration::days(7), |t| {
            t.finished.min(now - Duration::hours(1))
        });

        let history = match &repo {
            Some(repo) => HistoryResponse::read(repo, req.last).await?,
            // No repository, no history.
            None => HistoryResponse {
                trend: trend(&[]),
                records: Vec::new(),
                total: 0,
                unreadable: Vec::new(),
            },
        };
        for u in &history.unreadable {
            warnings.push(format!("history record unreadable: {u}"));
        }

        let rpo = match (&e.rpo, backups.is_empty()) {
            (Ok(a), false) => Some(a.clone()),
            (Err(err), _) => {
                warnings.push(format!("RPO analysis failed: {err}"));
                None
            }
            (Ok(_), true) => None,
        };

        let mut recommendations: Vec<String> = Vec::new();
        let mut sorted: Vec<&PostureCheck> = checks.iter().collect();
        sorted.sort_by_key(|c| std::cmp::Reverse(c.status));
        for c in sorted {
            if let Some(a) = &c.action {
                recommendations.push(format!("{}: {a}", c.title));
            }
        }
        if let Some(a) = &rpo {
            for r in &a.recommendations {
                if !recommendations.iter().any(|x| x.ends_with(r.as_str())) {
                    recommendations.push(r.clone());
                }
            }
        }
        if hosts.len() > 1 {
            for h in hosts.iter().filter(|h| !h.rpo_met) {
                recommendations.push(format!(
                    "host {}: its newest backup {} is {} old, more than the RPO target of {}: \
                     check that host's backup schedule and its last backup run",
                    shown(&h.host),
                    h.newest_backup_id,
                    h.age,
                    present::duration(rpo_target_seconds)
                ));
            }
        }
        if let Some(Ok(r)) = &e.last_restore_test
            && let Some(t) = r.payload.as_restore_test()
            && t.drift.compared
        {
            let n = t.drift.added + t.drift.changed + t.drift.removed;
            let at_risk = t.drift.bytes_at_risk;
            if n > 0 {
                recommendations.push(format!(
                    "the last restore test found {n} file(s) changed since its backup ({} at risk): back up before risky changes",
                    present::bytes(at_risk)
                ));
            }
        }

        let (jobs, daemon) = super::job_table::job_table(&self.settings.settings, 1, now);
        for j in &jobs {
            if j.missed {
                recommendations.push(format!(
                    "{} missed its run at {}: the daemon is not running; start it \
                     (`mahavishnu-dr daemon`, or its systemd unit) and it catches up once",
                    j.name,
                    j.latest_slot.map(present::timestamp).unwrap_or_default()
                ));
            } else if let Some(l) = &j.last_run
                && l.result == Some(super::daemon_state::JobResult::Failed)
            {
                recommendations.push(format!(
                    "the last scheduled {} failed{}: {}",
                    j.name,
                    l.finished
                        .map(|t| format!(" at {}", present::timestamp(t)))
                        .unwrap_or_default(),
                    l.detail.as_deref().unwrap_or("no detail recorded")
                ));
            }
        }
        let schedules = Schedules { jobs, daemon };
        let needing: Vec<&str> = checks
            .iter()
            .filter(|c| c.status != Level::Pass)
            .map(|c| c.name.as_str())
            .collect();
        let summary = if needing.is_empty() {
            "healthy: every check passes".to_string()
        } else {
            format!("{verdict}: {}", needing.join(", "))
        };
        Ok(ReportResponse {
            generated: now,
            host: this_host,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            repository: self.storage.describe(),
            verdict,
            summary,
            rto_target_seconds,
            rpo_target_seconds,
            backups: overview,
            hosts,
            replicas: e.replicas.clone(),
            resilience: super::posture::resilience(now, &e.drills),
            timeline,
            timeline_from,
            timeline_to,
            rto_trend: trend_points(&history.records, true),
            rpo_trend: trend_points(&history.records, false),
            history,
            rpo,
            checks,
            schedules,
            recommendations,
            warnings,
        })
    }
}
