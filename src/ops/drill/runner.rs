//! The drill runner: a sandbox, the scenario's steps each timed with its outcome and detail, the
//! skipped ones named, tear down always (after a failure, a cancel or Ctrl-C too), the RTO from
//! the incident to the verified recovery, the targets judged, and the record kept.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};

use super::sandbox::Sandbox;
use super::scenario::{self, ScenarioDef, StepPhase, TEAR_DOWN};
use super::{DrillResult, DrillStep};
use crate::error::{Error, ErrorKind};
use crate::ops::record::{keep, note_kept};
use crate::ops::{Cancel, Dr, Progress, secs};
use crate::present;
use crate::repo::history::StepOutcome;
use crate::settings::{DrillScenario, DrillScenarioSettings};

/// What a scenario's steps work with.
pub(super) struct Ctx<'a> {
    /// The production settings and repository: read, never written.
    pub dr: &'a Dr,
    pub sandbox: &'a Sandbox,
    pub progress: Arc<dyn Progress>,
    pub cancel: &'a Cancel,
}

/// A step that failed: why, and what it teaches.
pub(super) struct Failed {
    pub detail: String,
    pub finding: Option<String>,
    pub recommendation: Option<String>,
}

impl Failed {
    pub fn new(detail: impl Into<String>) -> Failed {
        Failed {
            detail: detail.into(),
            finding: None,
            recommendation: None,
        }
    }

    /// The finding the drill reports (the detail when not given).
    pub fn finding(mut self, f: impl Into<String>) -> Failed {
        self.finding = Some(f.into());
        self
    }

    pub fn recommend(mut self, r: impl Into<String>) -> Failed {
        self.recommendation = Some(r.into());
        self
    }
}

impl From<Error> for Failed {
    fn from(e: Error) -> Failed {
        let mut detail = e.message.clone();
        if !e.context.is_empty() {
            detail.push_str(&format!(" ({})", e.context.join("; ")));
        }
        let cancelled = e.kind == ErrorKind::Cancelled;
        let f = Failed::new(detail);
        match (&e.guidance, cancelled) {
            (_, true) => f.finding("the drill was cancelled before it finished"),
            (Some(g), false) => f.recommend(g.clone()),
            (None, false) => f,
        }
    }
}

/// A step's value and its detail, or why it failed.
pub(super) type Step<T> = std::result::Result<(T, String), Failed>;

/// The steps as they run, and what the scenario measured.
pub(super) struct StepLog {
    steps: Vec<DrillStep>,
    findings: Vec<String>,
    recommendations: Vec<String>,
    progress: Arc<dyn Progress>,
    failed: bool,
    /// The end of the last inject step: the incident.
    incident: Option<(Instant, DateTime<Utc>)>,
    /// The end of the last verify step.
    verified: Option<Instant>,
    pub store: String,
    pub backup_id: Option<String>,
    pub rpo_seconds: Option<f64>,
    pub data_at_risk: Option<crate::ops::drift::Drift>,
}

impl StepLog {
    fn new(progress: Arc<dyn Progress>, store: String) -> StepLog {
        StepLog {
            steps: Vec::new(),
            findings: Vec::new(),
            recommendations: Vec::new(),
            progress,
            failed: false,
            incident: None,
            verified: None,
            store,
            backup_id: None,
            rpo_seconds: None,
            data_at_risk: None,
        }
    }

    /// Run one step: timed, its outcome and detail recorded. `None` when it failed (the
    /// scenario stops; the runner names the steps it skipped) or an earlier step had.
    pub async fn step<T>(
        &mut self,
        phase: StepPhase,
        name: &str,
        work: impl Future<Output = Step<T>>,
    ) -> Option<T> {
        if self.failed {
            return None;
        }
        self.progress
            .phase(&format!("{}: {name}", phase.label()), None);
        let t = Instant::now();
        let r = work.await;
        let seconds = secs(t.elapsed());
        let (outcome, detail, value) = match r {
            Ok((v, detail)) => (StepOutcome::Passed, detail, Some(v)),
            Err(f) => {
                self.failed = true;
                self.findings
                    .push(f.finding.unwrap_or_else(|| format!("{name}: {}", f.detail)));
                if let Some(r) = f.recommendation {
                    self.recommendations.push(r);
                }
                (StepOutcome::Failed, f.detail, None)
            }
        };
        if value.is_some() {
            match phase {
                StepPhase::Inject => self.incident = Some((Instant::now(), Utc::now())),
                StepPhase::Verify => self.verified = Some(Instant::now()),
                _ => {}
            }
        }
        self.steps.push(DrillStep {
            phase,
            name: name.to_string(),
            outcome,
            seconds,
            detail,
        });
        value
    }

    /// When the incident happened (the end of the inject step), once it has.
    pub fn incident_at(&self) -> Option<DateTime<Utc>> {
        self.incident.map(|(_, at)| at)
    }

    pub fn finding(&mut self, f: impl Into<String>) {
        self.findings.push(f.into());
    }

    pub fn recommend(&mut self, r: impl Into<String>) {
        self.recommendations.push(r.into());
    }

    /// The defined steps that did not run, in order, as skipped.
    fn skip_the_rest(&mut self, def: &ScenarioDef) {
        for s in def.steps {
            if !self.steps.iter().any(|d| d.name == s.name) {
                self.steps.push(DrillStep {
                    phase: s.phase,
                    name: s.name.to_string(),
                    outcome: StepOutcome::Skipped,
                    seconds: 0.0,
                    detail: "not run: an earlier step failed".into(),
                });
            }
        }
    }
}

/// Run one drill to its end, whatever happens in it: the result, kept in the history.
pub(super) async fn run(
    dr: &Dr,
    s: DrillScenario,
    started_by: &str,
    progress: Arc<dyn Progress>,
    cancel: &Cancel,
) -> DrillResult {
    let started = Utc::now();
    let def = scenario::def(s);
    let targets = dr.settings().settings.disaster_recovery.drills.targets(s);
    let mut log = StepLog::new(progress.clone(), dr.store().name.clone());
    let mut warnings = super::sandbox::sweep_stale(dr);
    let sandbox = log
        .step(StepPhase::Prepare, "create the sandbox", async {
            let sb = Sandbox::create(dr, s)?;
            let detail = format!("sandbox {}", sb.dir().display());
            Ok((sb, detail))
        })
        .await;
    if let Some(sandbox) = &sandbox {
        let ctx = Ctx {
            dr,
            sandbox,
            progress: progress.clone(),
            cancel,
        };
        match s {
            DrillScenario::DatabaseCorruption => {
                super::database_corruption::run(&ctx, &mut log).await
            }
            DrillScenario::DataDeletion => super::data_deletion::run(&ctx, &mut log).await,
            DrillScenario::RegionFailure => super::region_failure::run(&ctx, &mut log).await,
            DrillScenario::NetworkPartition => super::network_partition::run(&ctx, &mut log).await,
            DrillScenario::SingleServerFailure => {
                super::single_server_failure::run(&ctx, &mut log).await
            }
        }
    }
    log.skip_the_rest(def);
    let verified_at = (!log.failed).then_some(log.verified).flatten();
    let rto_seconds = match (log.incident, verified_at) {
        (Some((incident, _)), Some(v)) => Some(secs(v.saturating_duration_since(incident))),
        _ => None,
    };
    tear_down(sandbox, &mut log).await;
    finish(
        dr,
        s,
        def,
        targets,
        log,
        rto_seconds,
        started,
        started_by,
        &mut warnings,
    )
    .await
}

/// Remove the sandbox; a failure to is a failed step (the scratch folder keeps data).
async fn tear_down(sandbox: Option<Sandbox>, log: &mut StepLog) {
    let t = Instant::now();
    let (outcome, detail) = match sandbox {
        None => (StepOutcome::Skipped, "no sandbox was made".to_string()),
        Some(sb) => {
            let dir = sb.dir().to_path_buf();
            match tokio::task::spawn_blocking(move || sb.remove()).await {
                Ok(Ok(())) => (StepOutcome::Passed, format!("removed {}", dir.display())),
                Ok(Err(e)) => {
                    log.failed = true;
                    log.findings.push(format!(
                        "the sandbox {} could not be removed: {}",
                        dir.display(),
                        e.message
                    ));
                    (StepOutcome::Failed, e.message)
                }
                Err(e) => (StepOutcome::Failed, format!("tear down stopped: {e}")),
            }
        }
    };
    log.steps.push(DrillStep {
        phase: TEAR_DOWN.phase,
        name: TEAR_DOWN.name.to_string(),
        outcome,
        seconds: secs(t.elapsed()),
        detail,
    });
}

/// Judge the targets, word the result, keep it.
#[allow(clippy::too_many_arguments)]
async fn finish(
    dr: &Dr,
    s: DrillScenario,
    def: &ScenarioDef,
    targets: DrillScenarioSettings,
    mut log: StepLog,
    rto_seconds: Option<f64>,
    started: DateTime<Utc>,
    started_by: &str,
    warnings: &mut Vec<String>,
) -> DrillResult {
    let rto_target_seconds = targets.rto_target_minutes.map(|m| m as f64 * 60.0);
    let rpo_target_seconds = targets.rpo_target_minutes as f64 * 60.0;
    let rto_met = match (rto_seconds, rto_target_seconds) {
        (Some(a), Some(t)) => Some(a <= t),
        _ => None,
    };
    let rpo_met = log.rpo_seconds.map(|a| a <= rpo_target_seconds);
    if rto_met == Some(false) {
        log.findings.push(format!(
            "the recovery took {} against an RTO target of {} min",
            present::duration(rto_seconds.unwrap_or_default()),
            targets.rto_target_minutes.unwrap_or_default()
        ));
        log.recommendations.push(
            "restore less per incident (--path), or make restores faster (a closer store, \
             shorter chains: backup.max_chain_length)"
                .into(),
        );
    }
    if rpo_met == Some(false) {
        log.findings.push(format!(
            "the recovery lost {} of data against an RPO target of {} min ({})",
            present::age(log.rpo_seconds.unwrap_or_default().round() as i64),
            targets.rpo_target_minutes,
            def.rpo_means
        ));
        log.recommendations.push(format!(
            "back up more often than every {} min (backup.schedules), or raise the target",
            targets.rpo_target_minutes
        ));
    }
    let passed = !log.failed && rto_met != Some(false) && rpo_met != Some(false);
    let message = if passed {
        format!(
            "drill {} passed: recovered{} with {} of data lost",
            s.id(),
            rto_seconds
                .map(|r| format!(" in {}", present::duration(r)))
                .unwrap_or_default(),
            log.rpo_seconds
                .map(|r| present::age(r.round() as i64))
                .unwrap_or_else(|| "no measure".into())
        )
    } else {
        format!("drill {} FAILED: {}", s.id(), log.findings.join("; "))
    };
    let mut result = DrillResult {
        scenario: s,
        title: def.title.to_string(),
        passed,
        host: dr.host(),
        started_by: started_by.to_string(),
        started,
        finished: Utc::now(),
        store: log.store.clone(),
        backup_id: log.backup_id.clone(),
        steps: log.steps,
        rto_seconds,
        rto_target_seconds,
        rto_met,
        rpo_seconds: log.rpo_seconds,
        rpo_target_seconds,
        rpo_met,
        data_at_risk: log.data_at_risk.take(),
        findings: log.findings,
        recommendations: log.recommendations,
        record_id: None,
        warnings: std::mem::take(warnings),
        message,
    };
    match dr.open_repo().await {
        Ok(repo) => {
            let kept = keep(&repo, &dr.host(), &result).await;
            note_kept(kept, &mut result.record_id, &mut result.warnings);
        }
        Err(e) => result.warnings.push(format!(
            "the drill was not kept in the history: the repository could not be opened: {}",
            e.message
        )),
    }
    result
}
