//! `decrypt`: write one volume's plaintext (a `.tar.zst`) for recovery with standard tools.

use std::io::Write;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use crate::error::{Error, Result};
use crate::repo::catalog::Catalog;
use crate::repo::envelope::{Opener, io_to_integrity};
use crate::repo::keys::{volume_key, volume_name};
use crate::storage::bridge::BlockingObjectReader;

/// Options of `decrypt`: which volume to write in plaintext.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct DecryptOptions {
    /// A backup id, or "latest".
    #[serde(default = "super::defaults::latest")]
    #[arg(long, default_value = super::defaults::LATEST)]
    pub backup_id: String,
    /// The volume index (0, 1, ...).
    #[serde(default)]
    #[arg(long, default_value_t = 0)]
    pub volume: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DecryptResponse {
    pub backup_id: String,
    pub volume: String,
    /// Plaintext bytes written (a zstd-compressed tar stream).
    pub bytes: u64,
}

impl Dr {
    /// Decrypt volume `index` of a backup (`latest` or an id) into `out`.
    pub async fn decrypt_volume(
        &self,
        opts: &DecryptOptions,
        mut out: Box<dyn Write + Send>,
    ) -> Result<DecryptResponse> {
        let (backup_id, index) = (opts.backup_id.as_str(), opts.volume);
        let repo = self.open_repo().await?;
        let catalog = Catalog::load(&repo).await?;
        let summary = catalog.resolve(backup_id)?;
        let id = summary.backup_id.clone();
        if !summary.volumes.iter().any(|v| v.index == index) {
            return Err(Error::not_found(format!(
                "{id} has no volume {index} (it has {})",
                summary.volumes.len()
            )));
        }
        let key = volume_key(&id, index);
        let size = repo
            .storage()
            .size(&key)
            .await?
            .ok_or_else(|| Error::integrity(format!("volume {index} of {id} is missing")))?;
        let reader = BlockingObjectReader::spawn(repo.storage().clone(), key, size);
        let master = repo.master()?.cloned();
        let ctx = repo.volume_context(&id, index);
        let name = volume_name(index);
        let bytes = tokio::task::spawn_blocking(move || -> Result<u64> {
            let mut opener = Opener::new(master.as_ref(), ctx, reader)?;
            let n = std::io::copy(&mut opener, &mut out).map_err(|e| io_to_integrity(e, &name))?;
            out.flush()
                .map_err(|e| Error::io(format!("cannot write the output: {e}")))?;
            Ok(n)
        })
        .await
        .map_err(|e| Error::internal(format!("decrypt task failed: {e}")))??;
        Ok(DecryptResponse {
            backup_id: id,
            volume: volume_name(index),
            bytes,
        })
    }
}
