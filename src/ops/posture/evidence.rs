//! Gathering the evidence the posture checks read: the catalog, a quick integrity check of every
//! backup, the RPO analysis, the retention plan and the newest kept validation and restore test.
//! A repository that does not exist yet is evidence, not an error.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::error::{ErrorKind, Result};
use crate::ops::integrity::ValidationLevel;
use crate::ops::measure::rpo_analysis::{
    BackupPoint, DEFAULT_WINDOW_DAYS, RpoAnalysis, analyze_rpo,
};
use crate::ops::replication::ReplicaLag;
use crate::ops::{Cancel, Dr, NoProgress};
use crate::repo::Repository;
use crate::repo::catalog::Catalog;
use crate::repo::history::{HistoryRecord, RecordKind, UnreadableRecord};

/// A kept record, or why it cannot be read.
pub(crate) type Kept = std::result::Result<HistoryRecord, UnreadableRecord>;

/// What the checks read.
pub(crate) struct Evidence {
    pub now: DateTime<Utc>,
    /// None: there is no repository yet (the message says so).
    pub missing_repository: Option<String>,
    pub catalog: Option<Catalog>,
    /// Per backup id: quick validation found nothing wrong.
    pub backup_ok: BTreeMap<String, bool>,
    /// Quick validation's problems, as "backup: problem".
    pub problems: Vec<String>,
    pub unreadable: Vec<String>,
    /// The newest kept validation, or why it cannot be read.
    pub last_validation: Option<Kept>,
    /// The newest kept restore test, or why it cannot be read.
    pub last_restore_test: Option<Kept>,
    /// Backups retention would remove now.
    pub retention_due: Vec<String>,
    pub repo_created: Option<DateTime<Utc>>,
    pub encrypted: bool,
    pub key_file: Option<PathBuf>,
    /// The RPO analysis (current, worst gap, schedules); its error when the settings defeat it.
    pub rpo: std::result::Result<RpoAnalysis, String>,
    /// The store judged (its name and location).
    pub store: (String, String),
    /// Each other configured store's lag (empty: there is no replica).
    pub replicas: Vec<ReplicaLag>,
    /// The kept drills (the newest `MAX_DRILLS`), oldest first.
    pub drills: Vec<HistoryRecord>,
    /// The scenarios the settings schedule (empty: none, or drills disabled).
    pub scheduled_drills: Vec<crate::settings::DrillScenario>,
    /// `backup.retired_hosts`: not judged against the RPO target.
    pub retired_hosts: Vec<String>,
}

/// At most this many kept drills are read.
const MAX_DRILLS: usize = 500;

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
            store: (self.store().name.clone(), self.storage.describe()),
            replicas: Vec::new(),
            drills: Vec::new(),
            retired_hosts: s.backup.retired_hosts.clone(),
            scheduled_drills: if s.disaster_recovery.drills.enabled {
                s.disaster_recovery
                    .drills
                    .scenarios
                    .iter()
                    .map(|d| d.scenario)
                    .collect()
            } else {
                Vec::new()
            },
        };
        let analyse = |points: &[BackupPoint]| {
            analyze_rpo(
                now,
                points,
                DEFAULT_WINDOW_DAYS,
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
                e.replicas = self.replica_lags(&Catalog::default()).await;
                return Ok((e, None));
            }
            // No key and no repository: the repository is what is missing.
            Err(err) if err.kind == ErrorKind::Key => {
                match Repository::open_keyless(self.storage.clone()).await {
                    Err(n) if n.kind == ErrorKind::NotFound => {
                        e.missing_repository = Some(n.message);
                        e.replicas = self.replica_lags(&Catalog::default()).await;
                        return Ok((e, None));
                    }
                    _ => return Err(err),
                }
            }
            Err(err) => return Err(err),
        };
        e.repo_created = Some(repo.config().created);
        let mut catalog = Catalog::load(&repo).await?;
        // Continuous points are recovery points too.
        catalog.load_points(&repo).await?;
        e.rpo = analyse(&crate::ops::measure::rpo_analysis::recovery_points(
            &catalog,
        ));
        e.unreadable = catalog
            .unreadable
            .iter()
            .map(|u| format!("{}: {}", u.backup_id, u.error.message))
            .collect();
        if !catalog.backups.is_empty() {
            let v = self
                .check_integrity(
                    None,
                    ValidationLevel::Quick,
                    100.0,
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
        let plan = self.retention_plan(&catalog, now, None)?;
        e.retention_due = plan.remove.iter().map(|p| p.backup_id.clone()).collect();
        e.last_validation = repo.latest_history(RecordKind::Validation).await?;
        e.last_restore_test = repo.latest_history(RecordKind::RestoreTest).await?;
        e.replicas = self.replica_lags(&catalog).await;
        let drill_ids: Vec<String> = repo
            .list_history()
            .await?
            .into_iter()
            .filter(|id| id.contains("_drill_"))
            .collect();
        for id in &drill_ids[drill_ids.len().saturating_sub(MAX_DRILLS)..] {
            if let Ok(r) = repo.read_history(id).await {
                e.drills.push(r);
            }
        }
        e.catalog = Some(catalog);
        Ok((e, Some(repo)))
    }
}
