//! `backup cleanup`: apply retention (whole dependency closures only) and remove orphans.

use std::sync::Arc;

use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::events::CleanupFinished;
use super::retention::{RetentionPlan, RetentionPolicy};
use super::{Dr, OperationEvent, Progress, with_lock};
use crate::action::{Action, Advice};
use crate::error::{Error, Result};
use crate::repo::Repository;
use crate::repo::catalog::Catalog;
use crate::repo::locks::LockMode;

/// Options of a cleanup (`backup cleanup`, `backup_cleanup`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct CleanupOptions {
    /// Only show the plan, change nothing. A tool call plans unless dry_run=false (which also
    /// needs confirm=true); the command line applies the plan unless --dry-run.
    #[serde(default = "super::defaults::yes")]
    #[arg(long)]
    pub dry_run: bool,
    /// Must be true to delete anything (with dry_run=false). On the command line the command
    /// itself is the confirmation.
    #[serde(default)]
    #[arg(skip = true)]
    pub confirm: bool,
    /// Apply retention to every host's backups (each host's under its own rules); without it
    /// only this host's backups are considered and every other host's are kept.
    #[serde(default)]
    #[arg(long, conflicts_with = "remove_host")]
    pub all_hosts: bool,
    /// Remove every backup and continuous point of this host, whatever retention says: a
    /// host that no longer backs up here. It must be listed in `backup.retired_hosts` (the
    /// settings file, so no tool call alone can retire a host) and cannot be this host.
    /// Only that host's backups are considered; every other host's are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    #[arg(long, value_name = "NAME")]
    pub remove_host: Option<String>,
}

impl Default for CleanupOptions {
    /// A plan only: nothing is deleted without asking for it.
    fn default() -> Self {
        CleanupOptions {
            dry_run: true,
            confirm: false,
            all_hosts: false,
            remove_host: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct OrphanItem {
    /// The unfinished backup, or "tmp" for leftover temporary files.
    pub backup_id: String,
    pub objects: u64,
    pub bytes: u64,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CleanupResponse {
    pub dry_run: bool,
    /// The host whose backups retention applied to (this process's), or none with all_hosts.
    pub host: Option<String>,
    pub policy: RetentionPolicy,
    /// Every backup, kept or removed, with the reason.
    pub plan: RetentionPlan,
    pub orphans: Vec<OrphanItem>,
    /// The continuous points, per base backup: removed (folded into the backups) or kept,
    /// with the reason.
    #[serde(default)]
    pub points: Vec<super::points::PointGroupDecision>,
    /// Stored bytes removed (or that would be, in a dry run).
    pub bytes_freed: u64,
    pub message: String,
    pub warnings: Vec<String>,
}

impl Dr {
    /// `--remove-host NAME` is allowed: a valid name, not with `--all-hosts`, not this host,
    /// and listed in `backup.retired_hosts`.
    fn check_removable_host(&self, host: &str, all_hosts: bool) -> Result<()> {
        super::hosts::check_host_arg(Some(host))?;
        if all_hosts {
            return Err(Error::usage(
                "--remove-host and --all-hosts do not go together: removing a host's backups \
                 applies no retention to the others",
            ));
        }
        if host == self.host() {
            return Err(Error::refused(format!(
                "{host} is this host (the name this process presents): its backups are not \
                 removed wholesale; nothing was deleted"
            ))
            .with_guidance("retention (`backup cleanup`) removes this host's expired backups"));
        }
        let retired = &self.settings.settings.backup.retired_hosts;
        if !retired.iter().any(|r| r == host) {
            return Err(Error::refused(format!(
                "host {host} is not in backup.retired_hosts: its backups are removed wholesale \
                 only once the settings say it no longer backs up here; nothing was deleted"
            ))
            .with_guidance(format!(
                "add {host} to backup.retired_hosts in the settings file, then run this again \
                 (a dry run first shows what goes)"
            )));
        }
        Ok(())
    }

    /// Apply retention (or plan it: `dry_run`). Emits `CleanupFinished` or `CleanupFailed` to
    /// the observer.
    pub async fn cleanup(
        &self,
        req: &CleanupOptions,
        progress: Arc<dyn Progress>,
    ) -> Result<CleanupResponse> {
        self.needs_settings("backup cleanup")?;
        if let Some(h) = &req.remove_host {
            self.check_removable_host(h, req.all_hosts)?;
        }
        if !req.dry_run && !req.confirm {
            return Err(crate::error::Error::refused(
                "cleanup with dry_run=false deletes backups and needs confirm=true; nothing was \
                 deleted",
            )
            .with_next(Advice::step(
                Action::PlanCleanup,
                "to see the plan and show it to the user",
            ))
            .with_guidance("then apply it again with dry_run=false and confirm=true"));
        }
        if !req.dry_run && self.store().target.immutable() {
            return Err(crate::error::Error::refused(format!(
                "the store {} ({}) is immutable (immutable: true): this tool only adds to it, \
                 so cleanup deletes nothing there",
                self.store().name,
                self.storage.describe()
            ))
            .with_guidance(
                "a dry run still shows what retention would remove; backups there expire with \
                 the store's own retention (object lock), or remove immutable: true from its \
                 settings if it should be cleaned up",
            ));
        }
        let r = async {
            let repo = self.open_repo().await?;
            let guard = self
                .lock(
                    LockMode::Exclusive,
                    "backup cleanup",
                    &*progress,
                    &super::Cancel::new(),
                )
                .await?;
            with_lock(guard, self.cleanup_locked(&repo, req)).await
        }
        .await;
        self.observed(
            r,
            |r| {
                OperationEvent::CleanupFinished(CleanupFinished {
                    dry_run: r.dry_run,
                    backups_removed: r.plan.remove.len() as u64,
                    bytes_freed: r.bytes_freed,
                })
            },
            OperationEvent::CleanupFailed,
        )
    }

    async fn cleanup_locked(
        &self,
        repo: &Repository,
        req: &CleanupOptions,
    ) -> Result<CleanupResponse> {
        let mut catalog = Catalog::load(repo).await?;
        catalog.load_points(repo).await?;
        let host = match &req.remove_host {
            Some(h) => Some(h.clone()),
            None => (!req.all_hosts).then(|| self.host()),
        };
        let now = Utc::now();
        let mut plan = self.retention_plan(&catalog, now, host.as_deref())?;
        if let Some(h) = &req.remove_host {
            retire(&mut plan, &catalog, h)?;
        }
        let removed: std::collections::BTreeSet<&str> =
            plan.remove.iter().map(|p| p.backup_id.as_str()).collect();
        let keep_hours = self.settings.settings.backup.continuous.keep_hours;
        let points = super::points::fold_plan(
            &catalog,
            &removed,
            now,
            chrono::TimeDelta::hours(keep_hours.min(1 << 20) as i64),
            host.as_deref(),
        );
        let mut warnings = Vec::new();
        for u in &catalog.unreadable {
            warnings.push(format!(
                "{} has an unreadable manifest ({}); it is kept for you to inspect",
                u.backup_id, u.error.message
            ));
        }
        // We hold the exclusive lock: no backup is running, so unfinished backups are orphans.
        let mut orphans: Vec<OrphanItem> = catalog
            .unfinished
            .iter()
            .map(|u| OrphanItem {
                backup_id: u.backup_id.clone(),
                objects: u.objects.len() as u64,
                bytes: u.objects.iter().map(|o| o.size).sum(),
                reason: "unfinished backup (crashed, killed or cancelled): it has no manifest"
                    .into(),
            })
            .collect();
        orphans.extend(catalog.unfinished_points.iter().map(|u| {
            OrphanItem {
                backup_id: u.backup_id.clone(),
                objects: u.objects.len() as u64,
                bytes: u.objects.iter().map(|o| o.size).sum(),
                reason:
                    "unfinished continuous point (crashed, killed or cancelled): it has no manifest"
                        .into(),
            }
        }));
        let tmp = repo.storage().list(crate::storage::TMP_PREFIX).await?;
        if !tmp.is_empty() {
            orphans.push(OrphanItem {
                backup_id: "tmp".into(),
                objects: tmp.len() as u64,
                bytes: tmp.iter().map(|o| o.size).sum(),
                reason: "temporary files of interrupted writes".into(),
            });
        }
        let removed_bytes: u64 = plan
            .remove
            .iter()
            .filter_map(|p| catalog.get(&p.backup_id))
            .map(|b| b.totals.stored_bytes)
            .sum();
        let point_bytes: u64 = points
            .iter()
            .filter(|g| g.remove)
            .map(|g| g.stored_bytes)
            .sum();
        let bytes_freed =
            removed_bytes + point_bytes + orphans.iter().map(|o| o.bytes).sum::<u64>();
        if !req.dry_run {
            // Points first, newest first: a point reads its base's and earlier points' blocks.
            for g in points.iter().filter(|g| g.remove) {
                for id in g.ids.iter().rev() {
                    repo.remove_backup(id).await?;
                }
            }
            for item in &plan.remove {
                repo.remove_backup(&item.backup_id).await?;
            }
            for u in catalog.unfinished.iter().chain(&catalog.unfinished_points) {
                repo.discard_unfinished(u).await?;
            }
            for o in &tmp {
                repo.storage().delete(&o.key).await?;
            }
        }
        let verb = if req.dry_run {
            "would remove"
        } else {
            "removed"
        };
        let points_removed: u64 = points.iter().filter(|g| g.remove).map(|g| g.points).sum();
        let message = format!(
            "{verb} {} backup(s), {points_removed} continuous point(s) and {} orphan group(s), {} freed; {} backup(s) kept ({})",
            plan.remove.len(),
            orphans.len(),
            crate::present::bytes(bytes_freed),
            plan.keep.len(),
            match (&req.remove_host, &host) {
                (Some(h), _) => format!("every backup of retired host {h}; other hosts' kept"),
                (None, Some(h)) => format!("retention applied to host {h}'s backups only"),
                (None, None) => "retention applied to every host's backups".to_string(),
            }
        );
        Ok(CleanupResponse {
            dry_run: req.dry_run,
            host,
            policy: RetentionPolicy::from_settings(&self.settings.settings.backup),
            plan,
            orphans,
            points,
            bytes_freed,
            message,
            warnings,
        })
    }
}

/// Every backup of retired `host` moves to the removed side of `plan`, with the reason; a host
/// with no backups (or only continuous points) is fine, none at all is an error naming the
/// hosts there are.
fn retire(plan: &mut RetentionPlan, catalog: &Catalog, host: &str) -> Result<()> {
    let has_points = catalog.points.iter().any(|p| p.host == host);
    if !has_points && !catalog.backups.iter().any(|b| b.host == host) {
        let mut hosts: Vec<&str> = catalog.backups.iter().map(|b| b.host.as_str()).collect();
        hosts.sort_unstable();
        hosts.dedup();
        return Err(Error::not_found(format!(
            "no backup of host {host} is in the repository; nothing was deleted"
        ))
        .with_guidance(format!(
            "the hosts with backups here: {}",
            hosts
                .iter()
                .map(|h| super::hosts::shown(h))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let (theirs, others): (Vec<_>, Vec<_>) = std::mem::take(&mut plan.keep)
        .into_iter()
        .partition(|i| i.host == host);
    plan.keep = others;
    for mut item in theirs {
        item.reason = format!(
            "host {host} is retired (backup.retired_hosts) and --remove-host names it: every \
             backup of it is removed"
        );
        plan.remove.push(item);
    }
    plan.remove.sort_by(|a, b| {
        b.finished
            .cmp(&a.finished)
            .then_with(|| b.backup_id.cmp(&a.backup_id))
    });
    Ok(())
}
