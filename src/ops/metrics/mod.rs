//! `metrics`: the DR posture as Prometheus metrics (what `/metrics` serves and `metrics
//! --textfile` writes for node_exporter): backups per host and type, RPO and RTO against their
//! targets, restore tests, validations and drills from the kept history, replica lag, the
//! repository's size, and the daemon's per-job counters from its state file. Labels are few
//! and bounded (host, backup type, schedule, scenario, store, replica, size class), never a
//! backup id. A scrape never fails on what it reads: an unreachable repository is
//! `mahavishnu_dr_repository_up 0` beside whatever else could be read.

mod exposition;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use self::exposition::Families;
use super::Dr;
use super::daemon_state::{DaemonState, JobResult, STATE_VERSION};
use super::measure::rpo_analysis::{DEFAULT_WINDOW_DAYS, analyze_rpo};
use super::record::{HistoryItem, trend};
use crate::error::{Error, Result};
use crate::repo::BackupType;
use crate::repo::Repository;
use crate::repo::catalog::Catalog;
use crate::repo::history::{HistoryRecord, RecordKind, RecordPayload};
use crate::repo::manifest::ManifestSummary;
use crate::settings::DrillScenario;

pub use exposition::{CONTENT_TYPE, MetricFamily, MetricType, Sample};

/// At most this many kept drills are read per scrape, newest first, to find each scenario's
/// newest.
const MAX_DRILL_READS: usize = 100;

/// Options of `metrics`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct MetricsOptions {
    /// Kept restore tests read for the success ratio and the restore times by size: the newest
    /// N (default 10; 0: all, which reads every one on each scrape).
    #[serde(default = "super::defaults::history_last")]
    #[schemars(range(min = 0))]
    #[arg(long, default_value_t = super::defaults::HISTORY_LAST)]
    pub last: i64,
}

impl Default for MetricsOptions {
    fn default() -> Self {
        MetricsOptions {
            last: super::defaults::HISTORY_LAST,
        }
    }
}

/// The metrics of one scrape.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MetricsResponse {
    pub generated: DateTime<Utc>,
    /// The store the repository metrics describe (`primary`, or the `--repository` named).
    pub store: String,
    /// The repository and its catalog could be read.
    pub repository_reachable: bool,
    /// Families by name, samples by labels.
    pub families: Vec<MetricFamily>,
    /// What could not be read (the repository, the daemon's state, a history record) and why;
    /// the metrics hold everything else.
    pub warnings: Vec<String>,
}

impl MetricsResponse {
    /// The Prometheus text exposition format (0.0.4), served with [`CONTENT_TYPE`].
    pub fn to_text(&self) -> String {
        exposition::render(&self.families)
    }

    /// The family called `name`.
    pub fn family(&self, name: &str) -> Option<&MetricFamily> {
        self.families.iter().find(|f| f.name == name)
    }
}

fn ts(t: DateTime<Utc>) -> f64 {
    t.timestamp_millis() as f64 / 1000.0
}

fn flag(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// The size class of a restore of `bytes`: powers of ten from 1 MiB to 100 GiB.
fn size_class(bytes: u64) -> &'static str {
    const MIB: u64 = 1 << 20;
    const GIB: u64 = 1 << 30;
    match bytes {
        b if b < MIB => "lt_1MiB",
        b if b < 100 * MIB => "1MiB_100MiB",
        b if b < GIB => "100MiB_1GiB",
        b if b < 10 * GIB => "1GiB_10GiB",
        b if b < 100 * GIB => "10GiB_100GiB",
        _ => "ge_100GiB",
    }
}

impl Dr {
    /// The metrics now. Fails only on bad options: whatever cannot be read is left out and
    /// named in `warnings` (an unreachable repository is `mahavishnu_dr_repository_up 0`).
    pub async fn metrics(&self, req: &MetricsOptions) -> Result<MetricsResponse> {
        if req.last < 0 {
            return Err(Error::usage(format!(
                "last must be 0 (every kept restore test) or more, not {}",
                req.last
            )));
        }
        let now = Utc::now();
        let mut f = Families::default();
        let mut warnings = Vec::new();
        self.settings_metrics(&mut f);
        daemon_metrics(
            &mut f,
            &self.settings.settings.daemon.state_dir,
            &self.backup_jobs(),
            &mut warnings,
        );
        let store = self.store().name.clone();
        let reachable = match self.open_repo().await {
            Ok(repo) => match Catalog::load(&repo).await {
                Ok(mut catalog) => {
                    // Continuous points count toward the RPO (read once per process).
                    if let Err(e) = catalog.load_points(&repo).await {
                        warnings.push(format!(
                            "the continuous points cannot be listed: {}",
                            e.message
                        ));
                    }
                    self.repository_metrics(&mut f, now, &repo, &catalog, req.last, &mut warnings)
                        .await;
                    true
                }
                Err(e) => {
                    warnings.push(format!("the backup catalog cannot be read: {}", e.message));
                    false
                }
            },
            Err(e) => {
                warnings.push(format!("the repository cannot be opened: {}", e.message));
                false
            }
        };
        f.gauge(
            "mahavishnu_dr_repository_up",
            "1 when the repository and its backup catalog could be read at this scrape, else 0.",
        )
        .sample(&[("store", &store)], flag(reachable));
        Ok(MetricsResponse {
            generated: now,
            store,
            repository_reachable: reachable,
            families: f.finish(),
            warnings,
        })
    }

    /// The names of the backup schedules: the daemon's jobs that make backups.
    fn backup_jobs(&self) -> BTreeSet<String> {
        self.settings
            .settings
            .backup
            .schedules
            .keys()
            .cloned()
            .collect()
    }

    /// What the settings say: build, targets.
    fn settings_metrics(&self, f: &mut Families) {
        let s = &self.settings.settings;
        f.gauge(
            "mahavishnu_dr_build_info",
            "A constant 1 labelled with the version of mahavishnu-dr that serves these metrics.",
        )
        .sample(&[("version", env!("CARGO_PKG_VERSION"))], 1.0);
        f.gauge(
            "mahavishnu_dr_backups_enabled",
            "1 when backup.enabled is true (scheduled backups run), else 0.",
        )
        .sample(&[], flag(s.backup.enabled));
        f.gauge(
            "mahavishnu_dr_rpo_target_seconds",
            "The recovery point objective: disaster_recovery.rpo_target_minutes, in seconds.",
        )
        .sample(&[], s.disaster_recovery.rpo_target_minutes as f64 * 60.0);
        f.gauge(
            "mahavishnu_dr_rto_target_seconds",
            "The recovery time objective: disaster_recovery.rto_target_minutes, in seconds.",
        )
        .sample(&[], s.disaster_recovery.rto_target_minutes as f64 * 60.0);
        for scenario in DrillScenario::ALL {
            let t = s.disaster_recovery.drills.targets(scenario);
            if let Some(rto) = t.rto_target_minutes {
                f.gauge(
                    "mahavishnu_dr_drill_rto_target_seconds",
                    "Each drill scenario's recovery time target, in seconds (a scenario without \
                     one, network_partition in the DR plan, has no sample).",
                )
                .sample(&[("scenario", scenario.id())], rto as f64 * 60.0);
            }
            f.gauge(
                "mahavishnu_dr_drill_rpo_target_seconds",
                "Each drill scenario's recovery point target, in seconds.",
            )
            .sample(
                &[("scenario", scenario.id())],
                t.rpo_target_minutes as f64 * 60.0,
            );
        }
    }

    /// What the repository holds: backups, RPO, replicas, and the kept history.
    async fn repository_metrics(
        &self,
        f: &mut Families,
        now: DateTime<Utc>,
        repo: &Repository,
        catalog: &Catalog,
        last: i64,
        warnings: &mut Vec<String>,
    ) {
        let store = self.store().name.clone();
        let store_label = [("store", store.as_str())];
        f.gauge(
            "mahavishnu_dr_repository_size_bytes",
            "Sealed bytes of every readable backup and continuous point in the repository.",
        )
        .sample(
            &store_label,
            catalog
                .backups
                .iter()
                .chain(&catalog.points)
                .map(|b| b.totals.stored_bytes as f64)
                .sum(),
        );
        f.gauge(
            "mahavishnu_dr_repository_unreadable_backups",
            "Backups whose manifest exists but cannot be read (damaged, or sealed with another \
             key): `backup list` names them.",
        )
        .sample(&store_label, catalog.unreadable.len() as f64);
        f.gauge(
            "mahavishnu_dr_repository_unfinished_backups",
            "Backups begun and not finished (running now, or left by a crash: `backup cleanup` \
             removes those).",
        )
        .sample(&store_label, catalog.unfinished.len() as f64);
        backup_metrics(f, now, catalog, &self.host());
        let this_host = self.host();
        let mine: Vec<_> = catalog
            .points
            .iter()
            .filter(|p| p.host == this_host)
            .collect();
        f.gauge(
            "mahavishnu_dr_continuous_points",
            "Continuous points of this host kept in the repository (between scheduled backups).",
        )
        .sample(&[], mine.len() as f64);
        if let Some(newest) = mine.iter().map(|p| p.finished).max() {
            f.gauge(
                "mahavishnu_dr_continuous_point_last_timestamp_seconds",
                "When this host's newest continuous point was complete (Unix time).",
            )
            .sample(&[], newest.timestamp_millis() as f64 / 1000.0);
        }

        let s = &self.settings.settings;
        let points = super::measure::rpo_analysis::recovery_points(catalog);
        match analyze_rpo(
            now,
            &points,
            DEFAULT_WINDOW_DAYS,
            &s.backup,
            s.disaster_recovery.rpo_target_minutes,
        ) {
            Ok(a) => {
                if let Some(age) = a.current.age_seconds {
                    f.gauge(
                        "mahavishnu_dr_rpo_seconds",
                        "The RPO now: the age of the newest backup or continuous point (what an \
                         incident now would lose).",
                    )
                    .sample(&[], age as f64);
                }
                f.gauge(
                    "mahavishnu_dr_rpo_met",
                    "1 when the newest backup is no older than the RPO target, else 0.",
                )
                .sample(&[], flag(a.current.passed));
                if let Some(gap) = &a.worst_gap.worst {
                    f.gauge(
                        "mahavishnu_dr_rpo_worst_gap_seconds",
                        "The RPO achieved over the last 30 days: the longest stretch without a \
                         new backup, the open one to now included.",
                    )
                    .sample(&[], gap.seconds as f64);
                }
                if let Some(rpo) = a.schedule.implied_rpo_seconds {
                    f.gauge(
                        "mahavishnu_dr_rpo_schedule_seconds",
                        "The RPO the enabled backup schedules give at best: the longest interval \
                         between scheduled runs.",
                    )
                    .sample(&[], rpo as f64);
                }
            }
            Err(e) => warnings.push(format!("the RPO cannot be analysed: {}", e.message)),
        }

        for r in self.replica_lags(catalog).await {
            let label = [("replica", r.name.as_str())];
            f.gauge(
                "mahavishnu_dr_replica_up",
                "1 when the replica could be listed at this scrape, else 0.",
            )
            .sample(&label, flag(r.error.is_none()));
            match &r.error {
                Some(e) => warnings.push(format!("replica {} cannot be read: {e}", r.name)),
                None => {
                    f.gauge(
                        "mahavishnu_dr_replica_missing_backups",
                        "Backups of the repository the replica lacks (`replicate` copies them).",
                    )
                    .sample(&label, r.missing as f64);
                    f.gauge(
                        "mahavishnu_dr_replica_lag_seconds",
                        "How far behind the replica is: the age of the oldest backup it lacks \
                         (0 when it holds every one).",
                    )
                    .sample(&label, r.lag_seconds.unwrap_or(0) as f64);
                }
            }
        }

        match repo.list_history().await {
            Ok(ids) => history_metrics(f, repo, &ids, last, warnings).await,
            Err(e) => warnings.push(format!("the history cannot be listed: {}", e.message)),
        }
    }
}

/// Per host and backup type: counts, and the newest backup's time, duration and sizes.
fn backup_metrics(f: &mut Families, now: DateTime<Utc>, catalog: &Catalog, this_host: &str) {
    let mut by: BTreeMap<(&str, BackupType), (u64, &ManifestSummary)> = BTreeMap::new();
    for b in &catalog.backups {
        let e = by.entry((b.host.as_str(), b.backup_type)).or_insert((0, b));
        e.0 += 1;
        if (b.finished, &b.backup_id) > (e.1.finished, &e.1.backup_id) {
            e.1 = b;
        }
    }
    // This host always has a count per type (0 is a fact an alert can use).
    let hosts: BTreeSet<&str> = by.keys().map(|(h, _)| *h).chain([this_host]).collect();
    for host in &hosts {
        for t in BackupType::ALL {
            let count = by.get(&(*host, t)).map_or(0, |e| e.0);
            f.gauge(
                "mahavishnu_dr_repository_backups",
                "Readable backups in the repository, per host and backup type.",
            )
            .sample(&[("host", host), ("backup_type", t.as_str())], count as f64);
        }
    }
    let mut newest: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    for ((host, t), (_, b)) in &by {
        let l = [("host", *host), ("backup_type", t.as_str())];
        f.gauge(
            "mahavishnu_dr_backup_last_success_timestamp_seconds",
            "When the newest backup of this host and type finished (Unix time).",
        )
        .sample(&l, ts(b.finished));
        f.gauge(
            "mahavishnu_dr_backup_last_duration_seconds",
            "How long the newest backup of this host and type took to make.",
        )
        .sample(
            &l,
            (b.finished - b.started).num_milliseconds() as f64 / 1000.0,
        );
        f.gauge(
            "mahavishnu_dr_backup_last_added_bytes",
            "Sealed bytes the newest backup of this host and type added to the repository.",
        )
        .sample(&l, b.totals.stored_bytes as f64);
        f.gauge(
            "mahavishnu_dr_backup_last_size_bytes",
            "Bytes of the files in the newest backup of this host and type (the data set it \
             restores).",
        )
        .sample(&l, b.totals.bytes as f64);
        f.gauge(
            "mahavishnu_dr_backup_last_files",
            "Files in the newest backup of this host and type.",
        )
        .sample(&l, b.totals.files as f64);
        let n = newest.entry(host).or_insert(b.finished);
        *n = (*n).max(b.finished);
    }
    for (host, finished) in newest {
        f.gauge(
            "mahavishnu_dr_newest_backup_age_seconds",
            "Seconds since this host's newest backup finished.",
        )
        .sample(
            &[("host", host)],
            ((now - finished).num_milliseconds() as f64 / 1000.0).max(0.0),
        );
    }
}

/// Ids of `kind`, oldest first.
fn ids_of(ids: &[String], kind: RecordKind) -> Vec<&str> {
    let tag = format!("_{}_", kind.slug());
    ids.iter()
        .filter(|id| id.contains(&tag))
        .map(String::as_str)
        .collect()
}

/// Read the records `ids` names; the unreadable ones become warnings.
async fn read_records(
    repo: &Repository,
    ids: &[&str],
    warnings: &mut Vec<String>,
) -> Vec<HistoryRecord> {
    let mut out = Vec::new();
    for id in ids {
        match repo.read_history(id).await {
            Ok(r) => out.push(r),
            Err(e) => warnings.push(format!("history record {id}: {}", e.message)),
        }
    }
    out
}

/// Restore tests, RTO, validation and drills from the kept history.
async fn history_metrics(
    f: &mut Families,
    repo: &Repository,
    ids: &[String],
    last: i64,
    warnings: &mut Vec<String>,
) {
    let tests = ids_of(ids, RecordKind::RestoreTest);
    let from = if last == 0 {
        0
    } else {
        tests.len().saturating_sub(last as usize)
    };
    let tests = read_records(repo, &tests[from..], warnings).await;
    let rto_ids = ids_of(ids, RecordKind::RtoMeasurement);
    let rto = read_records(repo, &rto_ids[rto_ids.len().saturating_sub(1)..], warnings).await;
    let val_ids = ids_of(ids, RecordKind::Validation);
    let validation =
        read_records(repo, &val_ids[val_ids.len().saturating_sub(1)..], warnings).await;

    if let Some(t) = tests.last() {
        f.gauge(
            "mahavishnu_dr_restore_test_last_passed",
            "1 when the newest restore test passed (restored, verified, within the targets), \
             else 0.",
        )
        .sample(&[], flag(t.passed));
        f.gauge(
            "mahavishnu_dr_restore_test_last_timestamp_seconds",
            "When the newest restore test ran (Unix time).",
        )
        .sample(&[], ts(t.at));
        if let Some(p) = t.payload.as_restore_test() {
            f.gauge(
                "mahavishnu_dr_restore_test_last_duration_seconds",
                "The newest restore test's RTO achieved: from its start to a verified restore.",
            )
            .sample(&[], p.rto_seconds);
            f.gauge(
                "mahavishnu_dr_restore_test_last_restored_bytes",
                "Bytes the newest restore test restored and verified.",
            )
            .sample(&[], p.bytes as f64);
            if let Some(rpo) = p.rpo_seconds {
                f.gauge(
                    "mahavishnu_dr_restore_test_last_rpo_seconds",
                    "The RPO at the newest restore test: the age of the backup it restored.",
                )
                .sample(&[], rpo);
            }
        }
        let items: Vec<HistoryItem> = tests.iter().map(HistoryItem::from).collect();
        if let Some(rate) = trend(&items).pass_rate {
            f.gauge(
                "mahavishnu_dr_restore_test_success_ratio",
                "Share of the newest kept restore tests (metrics --last, default 10) that \
                 passed, 0 to 1.",
            )
            .sample(&[], rate);
            f.gauge(
                "mahavishnu_dr_restore_test_records",
                "Kept restore tests the success ratio covers.",
            )
            .sample(&[], items.len() as f64);
        }
    }

    // RTO last measured: the newest restore test or RTO measurement.
    let measured = tests
        .last()
        .into_iter()
        .chain(rto.last())
        .filter_map(|r| r.payload.rto_seconds().map(|s| (r.at, s)))
        .max_by_key(|(at, _)| *at);
    if let Some((at, seconds)) = measured {
        f.gauge(
            "mahavishnu_dr_rto_seconds",
            "The RTO last measured (newest restore test or RTO measurement): from the start of \
             the restore to every file verified.",
        )
        .sample(&[], seconds);
        f.gauge(
            "mahavishnu_dr_rto_timestamp_seconds",
            "When the RTO was last measured (Unix time).",
        )
        .sample(&[], ts(at));
    }
    if let Some(RecordPayload::RtoMeasurement(p)) = rto.last().map(|r| &r.payload) {
        f.gauge(
            "mahavishnu_dr_rto_estimated_seconds",
            "The newest RTO measurement's estimate for restoring the whole live data set.",
        )
        .sample(&[], p.estimated_rto_seconds);
    }

    // Restore time by size: the newest restore of each size class among those read.
    let mut by_size: BTreeMap<&str, (DateTime<Utc>, f64, u64)> = BTreeMap::new();
    for r in tests.iter().chain(&rto) {
        let (seconds, bytes) = match &r.payload {
            RecordPayload::RestoreTest(p) if p.restore_ok => (p.rto_seconds, p.bytes),
            RecordPayload::RtoMeasurement(p) if p.verified => (p.rto_seconds, p.bytes),
            _ => continue,
        };
        let e = by_size
            .entry(size_class(bytes))
            .or_insert((r.at, seconds, bytes));
        if r.at >= e.0 {
            *e = (r.at, seconds, bytes);
        }
    }
    for (class, (_, seconds, bytes)) in by_size {
        f.gauge(
            "mahavishnu_dr_restore_duration_seconds",
            "Restore time by size: the newest verified restore (restore test or RTO \
             measurement) whose data falls in the size class, from start to verified.",
        )
        .sample(&[("size_class", class)], seconds);
        f.gauge(
            "mahavishnu_dr_restore_size_bytes",
            "Bytes restored by the restore that mahavishnu_dr_restore_duration_seconds times, per \
             size class.",
        )
        .sample(&[("size_class", class)], bytes as f64);
    }

    if let Some(v) = validation.last() {
        f.gauge(
            "mahavishnu_dr_validation_last_passed",
            "1 when the newest kept validation found no problem, else 0.",
        )
        .sample(&[], flag(v.passed));
        f.gauge(
            "mahavishnu_dr_validation_last_timestamp_seconds",
            "When the newest kept validation ran (Unix time).",
        )
        .sample(&[], ts(v.at));
    }

    // Each scenario's newest drill: newest first, until every scenario is found.
    let drill_ids = ids_of(ids, RecordKind::Drill);
    let mut seen: BTreeSet<String> = BTreeSet::new();
    for id in drill_ids.iter().rev().take(MAX_DRILL_READS) {
        if seen.len() == DrillScenario::ALL.len() {
            break;
        }
        let r = match repo.read_history(id).await {
            Ok(r) => r,
            Err(e) => {
                warnings.push(format!("history record {id}: {}", e.message));
                continue;
            }
        };
        let Some(d) = r.payload.as_drill() else {
            continue;
        };
        let Some(scenario) = DrillScenario::parse(&d.scenario) else {
            continue;
        };
        if !seen.insert(scenario.id().to_string()) {
            continue;
        }
        let l = [("scenario", scenario.id())];
        f.gauge(
            "mahavishnu_dr_drill_last_passed",
            "1 when the scenario's newest drill passed (recovered, verified, within its \
             targets), else 0.",
        )
        .sample(&l, flag(r.passed));
        f.gauge(
            "mahavishnu_dr_drill_last_timestamp_seconds",
            "When the scenario was last drilled (Unix time).",
        )
        .sample(&l, ts(d.finished));
        if let Some(rto) = d.rto_seconds {
            f.gauge(
                "mahavishnu_dr_drill_last_rto_seconds",
                "The RTO achieved by the scenario's newest drill: from the incident to the \
                 verified recovery.",
            )
            .sample(&l, rto);
        }
        if let Some(rpo) = d.rpo_seconds {
            f.gauge(
                "mahavishnu_dr_drill_last_rpo_seconds",
                "The RPO achieved by the scenario's newest drill.",
            )
            .sample(&l, rpo);
        }
    }
}

/// The daemon's state, read without changing it ([`DaemonState::load_readonly`]; the daemon's
/// own `load` sets an unreadable file aside, a scrape leaves it be): none without a file, a
/// warning when it cannot be read.
fn read_daemon_state(state_dir: &Path) -> std::result::Result<Option<DaemonState>, String> {
    let path = DaemonState::path(state_dir);
    if !path.exists() {
        return Ok(None);
    }
    DaemonState::load_readonly(state_dir)
        .map(Some)
        .ok_or_else(|| {
            format!(
                "{} cannot be read (it does not parse, or is not version {STATE_VERSION})",
                path.display()
            )
        })
}

const RESULTS: [JobResult; 4] = [
    JobResult::Succeeded,
    JobResult::Failed,
    JobResult::Cancelled,
    JobResult::Skipped,
];

/// The daemon's per-job counters and last runs (label `schedule`: the job's name; not `job`,
/// which Prometheus gives every scraped series itself).
fn daemon_metrics(
    f: &mut Families,
    state_dir: &Path,
    backup_jobs: &BTreeSet<String>,
    warnings: &mut Vec<String>,
) {
    let state = match read_daemon_state(state_dir) {
        Ok(Some(s)) => s,
        Ok(None) => return,
        Err(w) => {
            warnings.push(format!("the daemon's state: {w}"));
            return;
        }
    };
    if let Some(t) = state.started_at {
        f.gauge(
            "mahavishnu_dr_daemon_start_timestamp_seconds",
            "When the daemon that wrote the state file started (Unix time).",
        )
        .sample(&[], ts(t));
    }
    if let Some(t) = state.updated_at {
        f.gauge(
            "mahavishnu_dr_daemon_state_updated_timestamp_seconds",
            "When the daemon last wrote its state file (Unix time).",
        )
        .sample(&[], ts(t));
    }
    f.gauge(
        "mahavishnu_dr_daemon_up",
        "1 when the daemon that wrote the state file runs now (it has not stopped and its \
         process is alive), else 0.",
    )
    .sample(&[], flag(state.daemon_running()));
    let (mut backup_ok, mut backup_failed) = (0u64, 0u64);
    for (name, j) in &state.jobs {
        let l = [("schedule", name.as_str())];
        f.gauge(
            "mahavishnu_dr_job_running",
            "1 when the daemon is running the job now, else 0.",
        )
        .sample(
            &l,
            flag(state.running.as_ref().is_some_and(|r| r.job == *name)),
        );
        if let Some(t) = j.next_run {
            f.gauge(
                "mahavishnu_dr_job_next_run_timestamp_seconds",
                "When the job runs next, as of the daemon's last write (Unix time).",
            )
            .sample(&l, ts(t));
        }
        f.counter(
            "mahavishnu_dr_job_successes_total",
            "Runs of the daemon's job that succeeded.",
        )
        .sample(&l, j.successes_total as f64);
        f.counter(
            "mahavishnu_dr_job_failures_total",
            "Runs of the daemon's job that failed (a backup after every attempt).",
        )
        .sample(&l, j.failures_total as f64);
        f.counter(
            "mahavishnu_dr_job_missed_runs_total",
            "Scheduled slots of the job that passed while the daemon was down or busy and were \
             folded into one catch-up run.",
        )
        .sample(&l, j.missed_total as f64);
        // A run under way began after the previous one ended: the later of the two.
        if let Some(t) = j.last_finished.max(j.last_started) {
            f.gauge(
                "mahavishnu_dr_job_last_run_timestamp_seconds",
                "When the job's last run ended, or began when one is under way (Unix time).",
            )
            .sample(&l, ts(t));
        }
        if let Some(t) = j.last_success {
            f.gauge(
                "mahavishnu_dr_job_last_success_timestamp_seconds",
                "When the job last succeeded (Unix time).",
            )
            .sample(&l, ts(t));
        }
        if let Some(t) = j.last_failure {
            f.gauge(
                "mahavishnu_dr_job_last_failure_timestamp_seconds",
                "When the job last failed (Unix time).",
            )
            .sample(&l, ts(t));
        }
        if let Some(d) = j.last_duration_seconds {
            f.gauge(
                "mahavishnu_dr_job_last_duration_seconds",
                "How long the job's last run took, retries of a backup included.",
            )
            .sample(&l, d);
        }
        if j.last_result.is_some() {
            f.gauge(
                "mahavishnu_dr_job_last_attempts",
                "Attempts the job's last run took (a backup is retried with backoff).",
            )
            .sample(&l, j.last_attempts as f64);
        }
        if let Some(result) = j.last_result {
            for r in RESULTS {
                f.gauge(
                    "mahavishnu_dr_job_last_result",
                    "How the job's last run ended: 1 on the label of its result (succeeded, \
                     failed, cancelled, skipped), 0 on the others.",
                )
                .sample(
                    &[("schedule", name.as_str()), ("result", r.as_str())],
                    flag(r == result),
                );
            }
        }
        let runs = j.successes_total + j.failures_total;
        if runs > 0 {
            f.gauge(
                "mahavishnu_dr_job_success_ratio",
                "Share of the job's runs that succeeded, 0 to 1, since the state file began.",
            )
            .sample(&l, j.successes_total as f64 / runs as f64);
        }
        if backup_jobs.contains(name) {
            backup_ok += j.successes_total;
            backup_failed += j.failures_total;
        }
    }
    if backup_ok + backup_failed > 0 {
        f.gauge(
            "mahavishnu_dr_backup_success_ratio",
            "Share of the daemon's scheduled backups that succeeded, 0 to 1, every backup \
             schedule together, since the state file began.",
        )
        .sample(&[], backup_ok as f64 / (backup_ok + backup_failed) as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::daemon_state::JobState;

    #[test]
    fn size_classes() {
        assert_eq!(size_class(0), "lt_1MiB");
        assert_eq!(size_class(1 << 20), "1MiB_100MiB");
        assert_eq!(size_class(5 << 30), "1GiB_10GiB");
        assert_eq!(size_class(u64::MAX), "ge_100GiB");
    }

    #[test]
    fn daemon_families_come_from_the_state_file_and_leave_it_alone() {
        let d = tempfile::tempdir().unwrap();
        let mut warnings = Vec::new();
        let jobs: BTreeSet<String> = ["daily_incremental".to_string()].into();
        let mut f = Families::default();
        daemon_metrics(&mut f, d.path(), &jobs, &mut warnings);
        assert!(
            f.finish().is_empty() && warnings.is_empty(),
            "no file: nothing"
        );

        let mut s = DaemonState::new();
        *s.job_mut("daily_incremental") = JobState {
            last_result: Some(JobResult::Failed),
            last_duration_seconds: Some(2.5),
            last_attempts: 3,
            successes_total: 3,
            failures_total: 1,
            missed_total: 2,
            ..Default::default()
        };
        s.job_mut("automated_tests").successes_total = 1;
        s.save(d.path(), Utc::now()).unwrap();
        let mut f = Families::default();
        daemon_metrics(&mut f, d.path(), &jobs, &mut warnings);
        let families = f.finish();
        let text = exposition::render(&families);
        assert!(
            text.contains("mahavishnu_dr_job_failures_total{schedule=\"daily_incremental\"} 1\n")
        );
        assert!(
            text.contains(
                "mahavishnu_dr_job_missed_runs_total{schedule=\"daily_incremental\"} 2\n"
            )
        );
        assert!(text.contains(
            "mahavishnu_dr_job_last_result{result=\"failed\",schedule=\"daily_incremental\"} 1\n"
        ));
        assert!(text.contains(
            "mahavishnu_dr_job_last_result{result=\"succeeded\",schedule=\"daily_incremental\"} 0\n"
        ));
        // Only the backup schedule counts in the backup success ratio.
        assert!(
            text.contains("mahavishnu_dr_backup_success_ratio 0.75\n"),
            "{text}"
        );
        for fam in &families {
            assert!(exposition::valid_metric_name(&fam.name), "{}", fam.name);
            let mut seen = BTreeSet::new();
            for s in &fam.samples {
                assert!(s.labels.keys().all(|k| exposition::valid_label_name(k)));
                assert!(seen.insert(&s.labels), "{} repeats a label set", fam.name);
            }
        }

        // A state file of another version is reported, and stays where it is.
        std::fs::write(
            DaemonState::path(d.path()),
            br#"{"version": 99, "jobs": {}}"#,
        )
        .unwrap();
        let mut f = Families::default();
        daemon_metrics(&mut f, d.path(), &jobs, &mut warnings);
        assert!(f.finish().is_empty());
        assert!(warnings[0].contains("cannot be read"), "{warnings:?}");
        assert!(
            DaemonState::path(d.path()).exists(),
            "the scrape moved nothing"
        );
    }
}
