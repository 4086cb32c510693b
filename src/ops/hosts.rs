//! Many hosts, one repository: which host's backups `latest` means, and checking a host named
//! by a caller. Chains (`backup`) and retention (`retention`) are per host too.
//!
//! `latest` is the newest backup of the host this process presents (`Dr::host`), or of the
//! host a caller names. When this host has made no backup and the repository holds backups of
//! exactly one host (an old repository, or a new server restoring the one it replaces), `latest`
//! is that host's newest, with a warning; with several hosts it is an error that lists them.

use super::Dr;
use crate::error::{Error, Result};
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
pub(crate) fn shown(host: &str) -> &str {
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
