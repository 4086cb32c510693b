//! `health`: whether the repository answers, and how old its newest backup is (what an HTTP
//! `/health` probe, a daemon or a load balancer asks, cheaply).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use crate::repo::catalog::Catalog;

/// The answer to a health probe.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Health {
    /// "ok" when the repository is reachable, "degraded" otherwise.
    pub status: String,
    pub version: String,
    pub repository: String,
    pub repository_reachable: bool,
    pub newest_backup_id: Option<String>,
    /// Seconds since the newest backup finished.
    pub newest_backup_age_seconds: Option<i64>,
    /// Why the repository is not reachable, when it is not.
    pub error: Option<String>,
}

impl Dr {
    /// Probe the repository: never fails, a failure is reported as "degraded" with the reason.
    pub async fn health(&self) -> Health {
        let listing = match self.open_repo().await {
            Ok(repo) => Catalog::load(&repo).await,
            Err(e) => Err(e),
        };
        let now = chrono::Utc::now();
        let repository = self.storage().describe();
        let version = env!("CARGO_PKG_VERSION").to_string();
        match listing {
            Ok(catalog) => {
                let newest = catalog.latest();
                Health {
                    status: "ok".into(),
                    version,
                    repository,
                    repository_reachable: true,
                    newest_backup_id: newest.map(|b| b.backup_id.clone()),
                    newest_backup_age_seconds: newest.map(|b| (now - b.finished).num_seconds()),
                    error: None,
                }
            }
            Err(e) => Health {
                status: "degraded".into(),
                version,
                repository,
                repository_reachable: false,
                newest_backup_id: None,
                newest_backup_age_seconds: None,
                error: Some(e.message),
            },
        }
    }
}
