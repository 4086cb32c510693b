//! `unlock`: remove stale locks from the repository, or (asked to) every lock.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use crate::error::Result;
use crate::repo::Repository;
use crate::repo::locks::{self, LockMode};

/// Options of `unlock`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct UnlockOptions {
    /// Remove every lock, live ones too. DANGER: a live lock belongs to an operation that may
    /// still be running (here or on another host); without it a cleanup can delete backups
    /// or volumes that a running backup or restore is using. Use it only when you are sure
    /// no mahavishnu-dr works on this repository.
    #[serde(default)]
    #[arg(long)]
    pub all: bool,
}

/// One lock object, removed or left in place.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UnlockItem {
    /// The lock object's key in the repository (`locks/<mode>-<id>.json`).
    pub object: String,
    /// The lock's mode; absent when the object is unreadable.
    pub mode: Option<LockMode>,
    /// The operation that took it (`backup run`, `backup cleanup`, ...).
    pub operation: Option<String>,
    pub host: Option<String>,
    pub pid: Option<u32>,
    pub created: Option<DateTime<Utc>>,
    pub refreshed: Option<DateTime<Utc>>,
    /// Seconds since the lock was taken (negative when its clock runs ahead).
    pub age_seconds: Option<i64>,
    /// Why it was stale, or why it was removed or kept.
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct UnlockResponse {
    pub repository: String,
    /// Every lock was to be removed (`--all`).
    pub all: bool,
    /// The locks removed.
    pub removed: Vec<UnlockItem>,
    /// Live locks left in place (without `--all`).
    pub kept: Vec<UnlockItem>,
    pub message: String,
    pub warnings: Vec<String>,
}

impl Dr {
    /// Remove stale locks (or every lock with `all`). Needs no key: locks are plain JSON, and
    /// whoever may write the repository can remove them anyway.
    pub async fn unlock(&self, req: &UnlockOptions) -> Result<UnlockResponse> {
        self.needs_settings("unlock")?;
        // A clear error for a path without a repository, before touching anything.
        Repository::open_keyless(self.storage.clone()).await?;
        let now = Utc::now();
        let mut removed = Vec::new();
        let mut kept = Vec::new();
        for found in locks::survey(&self.storage, &self.holder()).await? {
            let remove = req.all || found.stale.is_some();
            let reason = match (&found.stale, remove) {
                (Some(why), _) => format!("stale: {why}"),
                (None, true) => {
                    "live (held or refreshed recently), removed because of --all".into()
                }
                (None, false) => {
                    "live: held or refreshed recently; its operation may be running (wait, or \
                     use --all when you are sure it is not)"
                        .into()
                }
            };
            let info = found.info.as_ref();
            let item = UnlockItem {
                object: found.key.clone(),
                mode: info.map(|i| i.mode),
                operation: info.map(|i| i.operation.clone()),
                host: info.map(|i| i.host.clone()),
                pid: info.map(|i| i.pid),
                created: info.map(|i| i.created),
                refreshed: info.map(|i| i.refreshed),
                age_seconds: info.map(|i| i.age(now)),
                reason,
            };
            if remove {
                locks::remove(&self.storage, &found.key).await?;
                removed.push(item);
            } else {
                kept.push(item);
            }
        }
        let mut warnings = Vec::new();
        if req.all && removed.iter().any(|i| !i.reason.starts_with("stale")) {
            warnings.push(
                "live locks were removed: if their operations are still running, a cleanup may \
                 now delete what they use; their holders write their locks again within 30 s"
                    .to_string(),
            );
        }
        let message = match (removed.len(), kept.len()) {
            (0, 0) => "the repository holds no locks".to_string(),
            (r, 0) => format!("removed {r} lock(s); the repository holds no locks now"),
            (r, k) => format!(
                "removed {r} stale lock(s); kept {k} live lock(s) of operations that may be \
                 running (`unlock --all` removes them too, when you are sure they are not)"
            ),
        };
        Ok(UnlockResponse {
            repository: self.storage.describe(),
            all: req.all,
            removed,
            kept,
            message,
            warnings,
        })
    }
}
