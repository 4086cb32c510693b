//! `retention extend`: renew the object locks of every kept backup on an S3 store with object
//! lock (`immutable: true`), after checking that the server really enforces them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use super::immutability::LockReport;
use crate::error::{Error, Result};
use crate::repo::catalog::Catalog;

/// Options of `retention extend` (none yet).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ExtendOptions {}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ExtendResponse {
    /// The server refused to delete a locked probe version: the locks hold.
    pub enforced: bool,
    pub locks: LockReport,
    pub message: String,
}

impl Dr {
    /// Move every kept backup's lock to its date (its retention end, or later while a kept
    /// backup reads it). Refused on a store without object lock, and when the server does not
    /// enforce object lock (the locks would be a false promise).
    pub async fn retention_extend(&self, _req: &ExtendOptions) -> Result<ExtendResponse> {
        self.needs_settings("retention extend")?;
        let store = self.store().clone();
        let lock = self.object_lock_of(&store)?.ok_or_else(|| {
            Error::usage(format!(
                "the store {} ({}) has no object lock: only an S3 store with immutable: true \
                 locks its objects",
                store.name,
                store.target.display_name()
            ))
            .with_guidance(
                "set immutable: true on an S3 store whose bucket has object lock enabled, or \
                 name one with --repository NAME",
            )
        })?;
        if !lock.verify_enforced().await? {
            return Err(Error::integrity(format!(
                "{} accepted a delete of a locked object version: the server does not enforce \
                 object lock, so these backups are not immutable there",
                lock.name()
            ))
            .with_guidance(
                "use a bucket with object lock enabled on a server that enforces it (AWS S3, \
                 or an S3-compatible server with object lock), or remove immutable: true",
            ));
        }
        let repo = self.open_repo().await?;
        let catalog = Catalog::load(&repo).await?;
        let locks = self
            .lock_backups(&lock, &store, &self.storage, &catalog, None)
            .await;
        if let Some(e) = &locks.error {
            return Err(
                Error::storage(format!("renewing the locks stopped: {e}")).with_guidance(
                    "the locks set before the failure hold; run `mahavishnu-dr retention extend` \
                 again",
                ),
            );
        }
        let message = format!(
            "{} backup(s) locked ({}) on {}: {} object lock(s) moved later, {} already long \
             enough{}",
            locks.backups,
            locks.mode,
            store.name,
            locks.objects_locked,
            locks.objects_already,
            locks
                .latest_until
                .map(|u| format!(", the latest until {}", crate::present::timestamp(u)))
                .unwrap_or_default()
        );
        Ok(ExtendResponse {
            enforced: true,
            locks,
            message,
        })
    }
}
