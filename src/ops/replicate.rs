//! `replicate`: catch the replicas up with the store in use (after an outage, or for a new
//! replica): every backup a replica lacks is copied, oldest first, and verified there.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::replication::ReplicaCopy;
use super::{Cancel, Dr, Progress};
use crate::error::Result;
use crate::repo::locks::LockMode;

/// Options of `replicate` (MCP: `backup_replicate`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ReplicateOptions {
    /// The replica to catch up, by its name in the settings (default: every replica).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    #[arg(long, value_name = "NAME")]
    pub to: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ReplicateResponse {
    /// The store copied from (its name and location).
    pub source: String,
    pub location: String,
    /// Every replica named now holds every backup, verified.
    pub ok: bool,
    pub replicas: Vec<ReplicaCopy>,
}

impl Dr {
    /// Copy to each replica (or the one `--to` names) every backup it lacks. A replica that
    /// cannot be reached or refuses is reported in the response (`ok: false`), not an error:
    /// the others are still copied.
    pub async fn replicate(
        &self,
        req: &ReplicateOptions,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<ReplicateResponse> {
        self.needs_settings("replicate")?;
        let targets = self.replication_targets(req.to.as_deref())?;
        let repo = self.open_repo().await?;
        let guard = self
            .lock(LockMode::Shared, "replicate", &*progress, cancel)
            .await?;
        let replicas = self.replicate_to(&repo, &targets, &*progress, cancel).await;
        guard.release().await?;
        Ok(ReplicateResponse {
            source: self.store().name.clone(),
            location: self.storage.describe(),
            ok: replicas.iter().all(|r| r.ok),
            replicas,
        })
    }
}
