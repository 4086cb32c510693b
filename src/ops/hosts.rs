//! Many hosts, one repository: which host's backups `latest` means, and checking a host named
//! by a caller. Chains (`backup`) and retention (`retention`) are per host too.
//!
//! `latest` is the newest backup of the host this process presents (`Dr::host`), or of the
//! host a caller names. When this host has made no backup and the repository holds backups of
//! exactly one host (an old repository, or a new server restoring the one it replaces), `latest`
//! is that host's newest, with a warning; with several hosts it is an error that lists them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use crate::error::{Error, Result};
use crate::present;
use crate::repo::BackupType;
use crate::repo::catalog::Catalog;
use crate::repo::manifest::ManifestSummary;
use crate::settings::host_name_problem;

/// A host named by a caller (`--host`, a tool's `host`): a usage error when it cannot be one.
pub(crate) fn check_host_arg(host: Option<&str>) -> Result<()> {
    match host.and_then(host_name_problem) {
        None => Ok(()),
        Some(problem) => Err(Error::usage(format!("--host: {problem}"))
            .with_guidance("name a host as `backup list` shows it")),
    }
}

/// A host name for people: an empty one (a backup that recorded none) as "(unknown)".
pub fn shown(host: &str) -> &str {
    if host.is_empty() { "(unknown)" } else { host }
}

impl Dr {
    /// `latest` (of `host` when given, else of this host) or a backup id (of any host).
    pub(crate) fn resolve_backup<'a>(
        &self,
        catalog: &'a Catalog,
        id: &str,
        host: Option<&str>,
    ) -> Result<&'a ManifestSummary> {
        if id != super::defaults::LATEST {
            return catalog.resolve(id);
        }
        check_host_arg(host)?;
        if let Some(h) = host {
            return catalog.resolve_latest_of(h);
        }
        let this = self.host();
        if catalog.latest_of(&this).is_some() {
            return catalog.resolve_latest_of(&this);
        }
        match catalog.hosts().as_slice() {
            // No readable backup at all: the repository's own answer (none yet, or unreadable).
            [] => catalog.resolve(id),
            [only] => {
                let b = catalog.resolve_latest_of(only)?;
                self.notes.warn(format!(
                    "this host ({this}) has made no backup here: `latest` is {}, the newest \
                     backup of host {}, the only host in the repository",
                    b.backup_id,
                    shown(only)
                ));
                Ok(b)
            }
            many => Err(Error::not_found(format!(
                "this host ({this}) has made no backup in this repository, which holds backups \
                 of several hosts ({}): `latest` does not choose one for you",
                many.iter().map(|h| shown(h)).collect::<Vec<_>>().join(", ")
            ))
            .with_guidance(
                "name the host whose newest backup to use (--host NAME; `host` in a tool call), \
                 or a backup id from `backup list`",
            )),
        }
    }
}

/// One host's newest backup: what `backup status` and the report show per host.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct HostNewest {
    /// The host name its backups recorded ("" for backups that recorded none).
    pub host: String,
    /// This process presents this host (`backup.host`, else the system's host name).
    pub this_host: bool,
    /// Readable backups of this host.
    pub backups: u64,
    pub newest_backup_id: String,
    pub newest_backup_type: BackupType,
    pub newest_finished: DateTime<Utc>,
    pub age_seconds: i64,
    /// The age for people ("3 h").
    pub age: String,
    /// The newest backup is no older than the RPO target (`disaster_recovery.rpo_target_minutes`).
    pub rpo_met: bool,
}

/// Each host's newest backup, hosts sorted by name.
pub(crate) fn newest_per_host(
    catalog: &Catalog,
    now: DateTime<Utc>,
    this_host: &str,
    rpo_target_seconds: i64,
) -> Vec<HostNewest> {
    let mut by_host: BTreeMap<&str, (u64, &ManifestSummary)> = BTreeMap::new();
    for b in &catalog.backups {
        let e = by_host.entry(b.host.as_str()).or_insert((0, b));
        e.0 += 1;
        if (b.finished, &b.backup_id) > (e.1.finished, &e.1.backup_id) {
            e.1 = b;
        }
    }
    by_host
        .into_iter()
        .map(|(host, (count, b))| {
            let age_seconds = (now - b.finished).num_seconds();
            HostNewest {
                host: host.to_string(),
                this_host: host == this_host,
                backups: count,
                newest_backup_id: b.backup_id.clone(),
                newest_backup_type: b.backup_type,
                newest_finished: b.finished,
                age_seconds,
                age: present::age(age_seconds),
                rpo_met: age_seconds <= rpo_target_seconds,
            }
        })
        .collect()
}
