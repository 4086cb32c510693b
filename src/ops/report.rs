//! The DR posture report: a verdict with the checks behind it, the backup timeline, the RTO and
//! RPO trends and recommendations. `report` renders it as text, markdown or HTML; the DR check
//! (`run_disaster_recovery_check`) reads the same checks.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::history::{HistoryItem, HistoryResponse, trend};
use super::rpo::{BackupPoint, RpoAnalysis, analyze_rpo};
use super::validate::{ValidateOptions, ValidationLevel};
use super::{Cancel, Dr, NoProgress, human_age, human_bytes};
use crate::error::{ErrorKind, Result};
use crate::repo::catalog::Catalog;
use crate::repo::history::{HistoryRecord, RecordKind};
use crate::repo::{BackupType, Repository};

/// A validation or restore test older than this is stale.
pub const STALE_DAYS: i64 = 7;
/// A master key older than this should be rotated (a year: the usual cryptoperiod for a
/// symmetric data-encryption key).
pub const MAX_KEY_AGE_DAYS: i64 = 365;
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

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Posture {
    /// Every check passes.
    Healthy,
    /// Something needs doing soon (a warning), but a recovery would work.
    NeedsAttention,
    /// A recovery now could fail or lose too much (a check fails).
    Critical,
}

impl std::fmt::Display for Posture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Posture::Healthy => "healthy",
            Posture::NeedsAttention => "needs attention",
            Posture::Critical => "critical",
        })
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Pass,
    Warn,
    Fail,
}

/// One check behind the verdict.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct PostureCheck {
    /// Stable name: backups_available, newest_backup_age, schedule_rpo, last_validation,
    /// last_restore_test, retention_compliance, chain_health, key_age.
    pub name: String,
    /// For people.
    pub title: String,
    pub status: Level,
    pub detail: String,
    /// What to do; none when it passes.
    pub action: Option<String>,
    /// The measured figure, where there is one (in `unit`).
    pub value: Option<f64>,
    /// Its target (in `unit`).
    pub target: Option<f64>,
    /// "seconds", "days" or "backups".
    pub unit: Option<String>,
}

impl PostureCheck {
    fn new(name: &str, title: &str, status: Level, detail: String) -> Self {
        PostureCheck {
            name: name.into(),
            title: title.into(),
            status,
            detail,
            action: None,
            value: None,
            target: None,
            unit: None,
        }
    }
    fn action(mut self, a: impl Into<String>) -> Self {
        if self.status != Level::Pass {
            self.action = Some(a.into());
        }
        self
    }
    fn figure(mut self, value: Option<f64>, target: Option<f64>, unit: &str) -> Self {
        self.value = value;
        self.target = target;
        self.unit = Some(unit.into());
        self
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
    /// What to do, most urgent first.
    pub recommendations: Vec<String>,
    pub warnings: Vec<String>,
}

/// What the checks read.
pub(crate) struct Evidence {
    pub now: DateTime<Utc>,
    /// None: there is no repository yet (the message says so).
    pub missing_repository: Option<String>,
    pub catalog: Option<Catalog>,
    /// Per backup id: quick validation found nothing wrong.
    pub backup_ok: std::collections::BTreeMap<String, bool>,
    /// Quick validation's problems, as "backup: problem".
    pub problems: Vec<String>,
    pub unreadable: Vec<String>,
    pub last_validation: Option<HistoryRecord>,
    pub last_restore_test: Option<HistoryRecord>,
    /// Backups retention would remove now.
    pub retention_due: Vec<String>,
    pub repo_created: Option<DateTime<Utc>>,
    pub encrypted: bool,
    pub key_file: Option<std::path::PathBuf>,
    /// The RPO analysis (current, worst gap, schedules); its error when the settings defeat it.
    pub rpo: std::result::Result<RpoAnalysis, String>,
}

fn days(d: Duration) -> f64 {
    (d.num_seconds() as f64 / 86400.0 * 10.0).round() / 10.0
}

/// The checks, in the order a person reads them.
pub(crate) fn posture_checks(
    e: &Evidence,
    rto_target_seconds: f64,
    rpo_target_seconds: f64,
) -> Vec<PostureCheck> {
    let now = e.now;
    let backups = e.catalog.as_ref().map_or(&[][..], |c| &c.backups[..]);
    let newest = backups.iter().max_by_key(|b| b.finished);
    let mut checks = Vec::new();

    // Backups available.
    checks.push(
        match (&e.missing_repository, newest) {
            (Some(m), _) => PostureCheck::new(
                "backups_available",
                "Backups available",
                Level::Fail,
                format!("no repository yet ({m})"),
            )
            .action("run `mahavishnu-dr backup run --backup-type full` (MCP: backup_run)"),
            (None, None) => PostureCheck::new(
                "backups_available",
                "Backups available",
                Level::Fail,
                "the repository holds no finished backup".into(),
            )
            .action("run `mahavishnu-dr backup run --backup-type full` (MCP: backup_run)"),
            (None, Some(b)) => PostureCheck::new(
                "backups_available",
                "Backups available",
                Level::Pass,
                format!("{} backup(s); newest {}", backups.len(), b.backup_id),
            ),
        }
        .figure(Some(backups.len() as f64), None, "backups"),
    );

    // Newest backup age against the RPO target.
    let age = newest.map(|b| (now - b.finished).num_seconds());
    let limit = (2.0 * rpo_target_seconds).max(48.0 * 3600.0);
    let age_check = match age {
        None => PostureCheck::new(
            "newest_backup_age",
            "Newest backup vs RPO target",
            Level::Fail,
            "no backup: a recovery now would lose everything".into(),
        )
        .action("run a backup"),
        Some(a) if a as f64 <= rpo_target_seconds => PostureCheck::new(
            "newest_backup_age",
            "Newest backup vs RPO target",
            Level::Pass,
            format!(
                "newest backup is {} old, within the RPO target of {}",
                human_age(a),
                human_age(rpo_target_seconds as i64)
            ),
        ),
        Some(a) => PostureCheck::new(
            "newest_backup_age",
            "Newest backup vs RPO target",
            if a as f64 <= limit {
                Level::Warn
            } else {
                Level::Fail
            },
            format!(
                "newest backup is {} old, over the RPO target of {}: a recovery now would lose that much",
                human_age(a),
                human_age(rpo_target_seconds as i64)
            ),
        )
        .action(if a as f64 <= limit {
            "back up more often (see the RPO section: the schedules may not be able to meet the target)"
        } else {
            "backups have stopped: check the scheduler (cron/systemd timer) and run a backup now"
        }),
    };
    checks.push(age_check.figure(age.map(|a| a as f64), Some(rpo_target_seconds), "seconds"));

    // The schedules against the RPO target.
    checks.push(match &e.rpo {
        Err(err) => PostureCheck::new(
            "schedule_rpo",
            "Schedules vs RPO target",
            Level::Warn,
            format!("the schedules could not be analysed: {err}"),
        )
        .action("fix backup.schedules (see `mahavishnu-dr restore-test measure-rpo`)"),
        Ok(a) => {
            PostureCheck::new(
                "schedule_rpo",
                "Schedules vs RPO target",
                if a.schedule_can_meet_target {
                    Level::Pass
                } else {
                    Level::Warn
                },
                a.statement.clone(),
            )
            .action(a.recommendations.first().cloned().unwrap_or_else(|| {
                "schedule backups at least as often as the RPO target".to_string()
            }))
            .figure(
                a.schedule.implied_rpo_seconds.map(|s| s as f64),
                Some(rpo_target_seconds),
                "seconds",
            )
        }
    });

    // Last validation.
    let stale = Duration::days(STALE_DAYS);
    checks.push(match &e.last_validation {
        None => PostureCheck::new(
            "last_validation",
            "Last validation",
            Level::Warn,
            "no validation kept in the history".into(),
        ),
        Some(r) if !r.passed => PostureCheck::new(
            "last_validation",
            "Last validation",
            Level::Fail,
            format!("the last validation ({}) failed: {}", r.at.format("%Y-%m-%d %H:%M UTC"), r.summary),
        ),
        Some(r) => PostureCheck::new(
            "last_validation",
            "Last validation",
            if now - r.at <= stale { Level::Pass } else { Level::Warn },
            format!(
                "passed {} ago ({}): {}",
                human_age((now - r.at).num_seconds()),
                r.at.format("%Y-%m-%d %H:%M UTC"),
                r.summary
            ),
        ),
    }
    .action(format!(
        "run `mahavishnu-dr backup validate --level full` (MCP: backup_validate) at least every {STALE_DAYS} days"
    ))
    .figure(
        e.last_validation.as_ref().map(|r| days(now - r.at)),
        Some(STALE_DAYS as f64),
        "days",
    ));

    // Last restore test against the RTO target.
    checks.push(match &e.last_restore_test {
        None => PostureCheck::new(
            "last_restore_test",
            "Last restore test vs RTO target",
            Level::Warn,
            "no restore test kept in the history: the RTO is unproven".into(),
        )
        .action("run `mahavishnu-dr restore-test run` (MCP: restore_test_run)")
        .figure(None, Some(rto_target_seconds), "seconds"),
        Some(r) => {
            let rto = r.data.get("rto_seconds").and_then(serde_json::Value::as_f64);
            let rto_met = rto.is_some_and(|s| s <= rto_target_seconds);
            let when = format!(
                "{} ago ({})",
                human_age((now - r.at).num_seconds()),
                r.at.format("%Y-%m-%d %H:%M UTC")
            );
            // Older records lack restore_ok: their pass/fail stands for it.
            let restore_ok = r
                .data
                .get("restore_ok")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(r.passed);
            let (status, detail, action) = if !restore_ok {
                (
                    Level::Fail,
                    format!("the last restore test, {when}, failed: {}", r.summary),
                    "fix what it names, then run `mahavishnu-dr restore-test run` again",
                )
            } else if !rto_met {
                (
                    Level::Fail,
                    format!(
                        "the last restore test, {when}, took {} against a target of {}",
                        rto.map_or("-".into(), |s| format!("{s:.3} s")),
                        human_age(rto_target_seconds as i64)
                    ),
                    "make restores faster (faster storage, shorter chains through more frequent full backups) or raise rto_target_minutes",
                )
            } else if now - r.at > stale {
                (
                    Level::Warn,
                    format!("the last restore test passed, but {when}"),
                    "run `mahavishnu-dr restore-test run` at least weekly",
                )
            } else {
                (
                    Level::Pass,
                    format!(
                        "passed {when}: restored and verified in {} (target {})",
                        rto.map_or("-".into(), |s| format!("{s:.3} s")),
                        human_age(rto_target_seconds as i64)
                    ),
                    "",
                )
            };
            PostureCheck::new("last_restore_test", "Last restore test vs RTO target", status, detail)
                .action(action)
                .figure(rto, Some(rto_target_seconds), "seconds")
        }
    });

    // Retention compliance.
    checks.push(if e.catalog.is_none() {
        PostureCheck::new(
            "retention_compliance",
            "Retention compliance",
            Level::Warn,
            "nothing to check: there is no repository".into(),
        )
    } else if e.retention_due.is_empty() {
        PostureCheck::new(
            "retention_compliance",
            "Retention compliance",
            Level::Pass,
            "every backup is within its type's retention or needed by a kept one".into(),
        )
    } else {
        PostureCheck::new(
            "retention_compliance",
            "Retention compliance",
            Level::Warn,
            format!(
                "{} backup(s) past retention still stored (oldest {})",
                e.retention_due.len(),
                e.retention_due.last().map(String::as_str).unwrap_or("")
            ),
        )
        .action("run `mahavishnu-dr backup cleanup --dry-run` to see the plan, then `backup cleanup`")
    }
    .figure(Some(e.retention_due.len() as f64), Some(0.0), "backups"));

    // Chain health: quick validation of every backup.
    let failed = e.backup_ok.values().filter(|ok| !**ok).count();
    checks.push(if e.catalog.is_none() {
        PostureCheck::new(
            "chain_health",
            "Chain health",
            Level::Fail,
            "nothing to check: there is no repository".into(),
        )
    } else if failed == 0 && e.unreadable.is_empty() {
        PostureCheck::new(
            "chain_health",
            "Chain health",
            Level::Pass,
            format!(
                "quick validation passed for {} backup(s): manifests readable, volumes present, chains intact",
                e.backup_ok.len()
            ),
        )
    } else {
        let first = e.problems.first().or(e.unreadable.first()).cloned().unwrap_or_default();
        PostureCheck::new(
            "chain_health",
            "Chain health",
            Level::Fail,
            format!(
                "{} backup(s) with a problem, {} unreadable: {first}",
                failed,
                e.unreadable.len()
            ),
        )
        .action("run `mahavishnu-dr backup validate --level full` for details, then a full backup to start a sound chain")
    }
    .figure(Some(failed as f64), Some(0.0), "backups"));

    // Key age.
    checks.push(key_check(e));
    checks
}

fn key_check(e: &Evidence) -> PostureCheck {
    let title = "Encryption key";
    if !e.encrypted {
        return PostureCheck::new(
            "key_age",
            title,
            Level::Warn,
            "encryption is disabled: volumes are stored in plaintext".into(),
        )
        .action("set backup.encryption.enabled: true and start a new repository");
    }
    let Some(created) = e.repo_created else {
        return PostureCheck::new(
            "key_age",
            title,
            Level::Warn,
            "no repository yet: the key's age is unknown".into(),
        );
    };
    let age = e.now - created;
    let mut issues = Vec::new();
    let mut level = Level::Pass;
    if age > Duration::days(MAX_KEY_AGE_DAYS) {
        level = Level::Warn;
        issues.push(format!("older than {MAX_KEY_AGE_DAYS} days"));
    }
    #[cfg(unix)]
    if let Some(path) = &e.key_file {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(path)
            && m.permissions().mode() & 0o077 != 0
        {
            level = Level::Warn;
            issues.push(format!(
                "the key file {} is readable by group or others (mode {:o})",
                path.display(),
                m.permissions().mode() & 0o777
            ));
        }
    }
    let detail = format!(
        "the repository's master key is {} old (created {}){}",
        human_age(age.num_seconds()),
        created.format("%Y-%m-%d"),
        if issues.is_empty() {
            String::new()
        } else {
            format!(": {}", issues.join("; "))
        }
    );
    PostureCheck::new("key_age", title, level, detail)
        .action(format!(
            "chmod 600 the key file; past {MAX_KEY_AGE_DAYS} days, rotate: init a new repository with a new key, run a full backup into it, and keep the old key until the old repository's retention ends"
        ))
        .figure(Some(days(age)), Some(MAX_KEY_AGE_DAYS as f64), "days")
}

/// The verdict: critical when a check fails, needs_attention when one warns.
pub(crate) fn verdict(checks: &[PostureCheck]) -> Posture {
    match checks.iter().map(|c| c.status).max() {
        Some(Level::Fail) => Posture::Critical,
        Some(Level::Warn) => Posture::NeedsAttention,
        _ => Posture::Healthy,
    }
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

impl Dr {
    /// Everything the checks read. A repository that does not exist yet is evidence, not an
    /// error; a wrong key is an error.
    pub(crate) async fn evidence(&self) -> Result<(Evidence, Option<Repository>)> {
        let now = Utc::now();
        let s = &self.settings.settings;
        let mut e = Evidence {
            now,
            missing_repository: None,
            catalog: None,
            backup_ok: Default::default(),
            problems: Vec::new(),
            unreadable: Vec::new(),
            last_validation: None,
            last_restore_test: None,
            retention_due: Vec::new(),
            repo_created: None,
            encrypted: s.backup.encryption.enabled,
            key_file: s
                .backup
                .encryption
                .enabled
                .then(|| s.backup.encryption.key_path.clone()),
            rpo: Err("not analysed".into()),
        };
        let analyse = |points: &[BackupPoint]| {
            analyze_rpo(
                now,
                points,
                super::rpo::DEFAULT_WINDOW_DAYS,
                &s.backup,
                s.disaster_recovery.rpo_target_minutes,
            )
            .map_err(|err| err.message)
        };
        e.rpo = analyse(&[]);
        let repo = match self.open_repo().await {
            Ok(r) => r,
            Err(err) if err.kind == ErrorKind::NotFound => {
                e.missing_repository = Some(err.message);
                return Ok((e, None));
            }
            // No key and no repository: the repository is what is missing.
            Err(err) if err.kind == ErrorKind::Key => {
                match Repository::open_keyless(self.storage.clone()).await {
                    Err(n) if n.kind == ErrorKind::NotFound => {
                        e.missing_repository = Some(n.message);
                        return Ok((e, None));
                    }
                    _ => return Err(err),
                }
            }
            Err(err) => return Err(err),
        };
        e.repo_created = Some(repo.config().created);
        let catalog = Catalog::load(&repo).await?;
        let points: Vec<BackupPoint> = catalog.backups.iter().map(BackupPoint::from).collect();
        e.rpo = analyse(&points);
        e.unreadable = catalog
            .unreadable
            .iter()
            .map(|u| format!("{}: {}", u.backup_id, u.error.message))
            .collect();
        if !catalog.backups.is_empty() {
            let v = self
                .validate_unrecorded(
                    &ValidateOptions {
                        level: ValidationLevel::Quick,
                        ..ValidateOptions::default()
                    },
                    Arc::new(NoProgress),
                    &Cancel::new(),
                )
                .await?;
            e.backup_ok = v
                .backups
                .iter()
                .map(|b| (b.backup_id.clone(), b.ok))
                .collect();
            e.problems = v
                .problems
                .iter()
                .map(|p| format!("{} {}", p.backup_id, p.problem))
                .collect();
        }
        let plan = self.retention_plan(&catalog, now)?;
        e.retention_due = plan.remove.iter().map(|p| p.backup_id.clone()).collect();
        e.last_validation = repo.latest_history(RecordKind::Validation).await?;
        e.last_restore_test = repo.latest_history(RecordKind::RestoreTest).await?;
        e.catalog = Some(catalog);
        Ok((e, Some(repo)))
    }

    /// The DR posture report.
    pub async fn report(&self, req: &ReportOptions) -> Result<ReportResponse> {
        let s = &self.settings.settings;
        let rto_target_seconds = s.disaster_recovery.rto_target_minutes as f64 * 60.0;
        let rpo_target_seconds = s.disaster_recovery.rpo_target_minutes as f64 * 60.0;
        let (e, repo) = self.evidence().await?;
        let now = e.now;
        let checks = posture_checks(&e, rto_target_seconds, rpo_target_seconds);
        let verdict = verdict(&checks);
        let mut warnings = Vec::new();

        let backups = e.catalog.as_ref().map_or(&[][..], |c| &c.backups[..]);
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
        if let Some(r) = &e.last_restore_test
            && let Some(d) = r.data.get("drift")
            && d.get("compared").and_then(serde_json::Value::as_bool) == Some(true)
        {
            let n = ["added", "changed", "removed"]
                .iter()
                .filter_map(|k| d.get(*k).and_then(serde_json::Value::as_u64))
                .sum::<u64>();
            let at_risk = d
                .get("bytes_at_risk")
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0);
            if n > 0 {
                recommendations.push(format!(
                    "the last restore test found {n} file(s) changed since its backup ({} at risk): back up before risky changes",
                    human_bytes(at_risk)
                ));
            }
        }

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
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            repository: self.storage.describe(),
            verdict,
            summary,
            rto_target_seconds,
            rpo_target_seconds,
            backups: overview,
            timeline,
            timeline_from,
            timeline_to,
            rto_trend: trend_points(&history.records, true),
            rpo_trend: trend_points(&history.records, false),
            history,
            rpo,
            checks,
            recommendations,
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RTO: f64 = 900.0;
    const RPO: f64 = 3600.0;

    fn backup(now: DateTime<Utc>, age_seconds: i64) -> crate::repo::manifest::ManifestSummary {
        let finished = now - Duration::seconds(age_seconds);
        serde_json::from_value(json!({
            "format_version": 1, "backup_id": "backup_20260101T000000.000Z_00000001",
            "backup_type": "full", "requested_type": "full", "parent": null,
            "chain_root": "backup_20260101T000000.000Z_00000001", "chain_length": 1,
            "started": finished, "finished": finished, "host": "h", "tool_version": "0",
            "compression_level": 3, "encrypted": true, "sources": [], "volumes": [],
            "totals": {"files": 1, "dirs": 0, "symlinks": 0, "bytes": 1, "files_stored": 1,
                       "bytes_stored_content": 1, "files_unchanged": 0, "files_deleted": 0,
                       "stored_bytes": 1},
            "depends_on": []
        }))
        .expect("a manifest summary")
    }

    fn record(kind: RecordKind, at: DateTime<Utc>, passed: bool, data: Value) -> HistoryRecord {
        let mut r = HistoryRecord::new(kind, passed, "summary".into(), data);
        r.at = at;
        r
    }

    use serde_json::Value;

    /// A sound repository with one backup `age_seconds` old, validated and restore-tested an
    /// hour ago.
    fn evidence(age_seconds: i64) -> Evidence {
        let now = Utc::now();
        let b = backup(now, age_seconds);
        let hour_ago = now - Duration::hours(1);
        Evidence {
            now,
            missing_repository: None,
            backup_ok: [(b.backup_id.clone(), true)].into_iter().collect(),
            catalog: Some(Catalog {
                backups: vec![b],
                ..Catalog::default()
            }),
            problems: Vec::new(),
            unreadable: Vec::new(),
            last_validation: Some(record(RecordKind::Validation, hour_ago, true, json!({}))),
            last_restore_test: Some(record(
                RecordKind::RestoreTest,
                hour_ago,
                true,
                json!({"restore_ok": true, "rto_seconds": 12.5}),
            )),
            retention_due: Vec::new(),
            repo_created: Some(now - Duration::days(30)),
            encrypted: true,
            key_file: None,
            rpo: Err("not analysed in this test".into()),
        }
    }

    fn status(e: &Evidence, name: &str) -> Level {
        posture_checks(e, RTO, RPO)
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| c.status)
            .expect("the check")
    }

    #[test]
    fn newest_backup_age_passes_at_the_target_warns_past_it_fails_when_backups_stopped() {
        assert_eq!(status(&evidence(3600), "newest_backup_age"), Level::Pass);
        assert_eq!(status(&evidence(3601), "newest_backup_age"), Level::Warn);
        // Past twice the target and 48 h: backups have stopped.
        assert_eq!(
            status(&evidence(48 * 3600), "newest_backup_age"),
            Level::Warn
        );
        assert_eq!(
            status(&evidence(48 * 3600 + 1), "newest_backup_age"),
            Level::Fail
        );
    }

    #[test]
    fn retention_due_warns_and_the_verdict_follows_the_worst_check() {
        let mut e = evidence(60);
        // The schedule check warns here (not analysed); drop it to see the others.
        let others = |e: &Evidence| -> Vec<PostureCheck> {
            posture_checks(e, RTO, RPO)
                .into_iter()
                .filter(|c| c.name != "schedule_rpo")
                .collect()
        };
        assert_eq!(verdict(&others(&e)), Posture::Healthy);
        e.retention_due = vec!["backup_a".into(), "backup_b".into()];
        let checks = others(&e);
        let r = checks
            .iter()
            .find(|c| c.name == "retention_compliance")
            .unwrap();
        assert_eq!(r.status, Level::Warn);
        assert!(
            r.detail.starts_with("2 backup(s) past retention"),
            "{}",
            r.detail
        );
        assert!(r.action.as_deref().unwrap().contains("cleanup"));
        assert_eq!(verdict(&checks), Posture::NeedsAttention);
        e.backup_ok.insert("backup_x".into(), false);
        assert_eq!(verdict(&others(&e)), Posture::Critical);
    }

    #[test]
    fn validation_and_restore_test_are_judged_on_what_they_prove() {
        let mut e = evidence(60);
        e.last_validation = Some(record(
            RecordKind::Validation,
            e.now - Duration::days(STALE_DAYS) - Duration::seconds(1),
            true,
            json!({}),
        ));
        assert_eq!(status(&e, "last_validation"), Level::Warn);
        e.last_validation = Some(record(RecordKind::Validation, e.now, false, json!({})));
        assert_eq!(status(&e, "last_validation"), Level::Fail);

        // A restore test that failed only on the RPO (an old backup) proves the restore: pass.
        e.last_restore_test = Some(record(
            RecordKind::RestoreTest,
            e.now,
            false,
            json!({"restore_ok": true, "rto_seconds": 3.0}),
        ));
        assert_eq!(status(&e, "last_restore_test"), Level::Pass);
        // A restore slower than the target fails.
        e.last_restore_test = Some(record(
            RecordKind::RestoreTest,
            e.now,
            false,
            json!({"restore_ok": true, "rto_seconds": RTO + 1.0}),
        ));
        assert_eq!(status(&e, "last_restore_test"), Level::Fail);
        // A broken restore fails whatever its time.
        e.last_restore_test = Some(record(
            RecordKind::RestoreTest,
            e.now,
            false,
            json!({"restore_ok": false, "rto_seconds": 1.0}),
        ));
        assert_eq!(status(&e, "last_restore_test"), Level::Fail);
    }

    #[test]
    fn an_old_key_warns() {
        let mut e = evidence(60);
        assert_eq!(status(&e, "key_age"), Level::Pass);
        e.repo_created = Some(e.now - Duration::days(MAX_KEY_AGE_DAYS + 1));
        assert_eq!(status(&e, "key_age"), Level::Warn);
        e.encrypted = false;
        assert_eq!(status(&e, "key_age"), Level::Warn);
    }
}
