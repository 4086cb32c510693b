//! `decrypt`: write one volume's plaintext (a `.tar.zst`) for recovery with standard tools, or
//! one file of a backup assembled from wherever its bytes are (`--file`: block-mapped files are
//! put together from the blocks of their chain).

use std::io::Write;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::assemble::fetch_files;
use super::{Cancel, Dr};
use crate::error::{Error, Result};
use crate::repo::catalog::Catalog;
use crate::repo::envelope::{Opener, io_to_integrity};
use crate::repo::keys::{volume_key, volume_name};
use crate::repo::manifest::EntryKind;
use crate::repo::volume::read_volume;
use crate::storage::bridge::BlockingObjectReader;

/// Options of `decrypt`: which volume to write in plaintext.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct DecryptOptions {
    /// A backup id, or "latest".
    #[serde(default = "super::defaults::latest")]
    #[arg(long, default_value = super::defaults::LATEST)]
    pub backup_id: String,
    /// With backup_id "latest": the newest backup of this host (default: the host this process
    /// presents). Ignored for a backup id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    #[arg(long, value_name = "NAME")]
    pub host: Option<String>,
    /// The volume index (0, 1, ...).
    #[serde(default)]
    #[arg(long, default_value_t = 0, conflicts_with = "file")]
    pub volume: u32,
    /// Instead of a volume: this stored file (as `backup list`/the manifest names it, e.g.
    /// data/app.db), assembled and checked against its SHA-256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[arg(long)]
    pub file: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DecryptResponse {
    pub backup_id: String,
    /// The volume written (empty when a file was).
    pub volume: String,
    /// The file written (with `--file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Bytes written: a zstd-compressed tar stream, or the file's content.
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
        super::hosts::check_host_arg(opts.host.as_deref())?;
        let summary = self.resolve_backup(&catalog, backup_id, opts.host.as_deref())?;
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
            file: None,
            bytes,
        })
    }

    /// Write the stored file `opts.file` of a backup into `output` (a new file): a
    /// block-mapped file assembled from its blocks, any other read from its volume; checked
    /// against the manifest's digest before this returns. A failure removes `output`.
    pub async fn decrypt_file(
        &self,
        opts: &DecryptOptions,
        output: &std::path::Path,
    ) -> Result<DecryptResponse> {
        let r = self.decrypt_file_into(opts, output).await;
        if r.is_err() {
            let _ = std::fs::remove_file(output);
        }
        r
    }

    async fn decrypt_file_into(
        &self,
        opts: &DecryptOptions,
        output: &std::path::Path,
    ) -> Result<DecryptResponse> {
        let path = opts
            .file
            .as_deref()
            .ok_or_else(|| Error::usage("no file named: give --file PATH"))?;
        super::hosts::check_host_arg(opts.host.as_deref())?;
        let repo = self.open_repo().await?;
        let mut catalog = Catalog::load(&repo).await?;
        if crate::repo::keys::is_point_id(&opts.backup_id) {
            catalog.load_points(&repo).await?;
        }
        let summary = self
            .resolve_backup(&catalog, &opts.backup_id, opts.host.as_deref())?
            .clone();
        let id = summary.backup_id.clone();
        // A point's file is in its record, or (unchanged since) in its base.
        let manifest = super::points::snapshot_of(&repo, &summary).await?;
        let entry = manifest
            .entries
            .iter()
            .find(|e| e.path == path && e.kind == EntryKind::File)
            .cloned()
            .ok_or_else(|| {
                Error::not_found(format!("{id} holds no file {path:?}")).with_guidance(
                    "stored paths are as `backup list`/the manifest shows them, e.g. data/app.db",
                )
            })?;
        let out = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(output)
            .map_err(|e| Error::from_io("create", output, e))?;
        let out = std::sync::Arc::new(out);
        if entry.blocks.is_some() {
            out.set_len(entry.size)
                .map_err(|e| Error::from_io("size", output, e))?;
            fetch_files(
                &repo,
                &catalog,
                &[(out.clone(), entry.clone())],
                &super::assemble::slots(1),
                std::sync::Arc::new(super::NoProgress),
                &Cancel::new(),
            )
            .await?;
        } else {
            let loc = entry.location.clone().ok_or_else(|| {
                Error::integrity(format!(
                    "{path}: the manifest says nowhere where its bytes are"
                ))
            })?;
            let owner = if loc.backup_id == id {
                manifest.clone()
            } else {
                repo.read_manifest(&loc.backup_id).await?
            };
            let key = volume_key(&loc.backup_id, loc.volume);
            let size = repo.storage().size(&key).await?.ok_or_else(|| {
                Error::integrity(format!(
                    "volume {} of {} is missing",
                    loc.volume, loc.backup_id
                ))
            })?;
            let reader = BlockingObjectReader::spawn(repo.storage().clone(), key, size);
            let master = repo.master()?.cloned();
            let ctx = repo.volume_context(&loc.backup_id, loc.volume);
            let out = out.clone();
            let want = entry.path.clone();
            tokio::task::spawn_blocking(move || -> Result<()> {
                let expected = owner.volume_contents(loc.volume);
                read_volume(
                    master.as_ref(),
                    ctx,
                    reader,
                    &expected,
                    &|p| p == want,
                    &mut |_, data| {
                        let mut w = std::io::BufWriter::new(&*out);
                        std::io::copy(data, &mut w).map_err(|e| io_to_integrity(e, &want))?;
                        w.flush()
                            .map_err(|e| Error::io(format!("cannot write the output: {e}")))
                    },
                    None,
                )
            })
            .await
            .map_err(|e| Error::internal(format!("decrypt task failed: {e}")))??;
        }
        // The whole file, as written, against the manifest.
        let (kind, want) = entry.whole_digest()?;
        let (at, got) = crate::repo::hash::digest_of_file(&out, kind)
            .map_err(|e| Error::from_io("read back", output, e))?;
        if at != entry.size || got != want {
            return Err(Error::integrity(format!(
                "{path}: the bytes put together do not match the manifest's digest; nothing was kept"
            )));
        }
        Ok(DecryptResponse {
            backup_id: id,
            volume: String::new(),
            file: Some(path.to_string()),
            bytes: at,
        })
    }
}
