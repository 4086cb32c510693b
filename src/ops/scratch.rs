//! The scratch folder (`disaster_recovery.restore_test.scratch_dir`) and what works in it: the
//! scratch restore and its timing that restore tests and RTO measurement share, and a backup's
//! private work folder (SQLite snapshots, command outputs).
//!
//! Every use goes through [`Dr::scratch_root`], so the folder is checked private (see
//! `private_dir`) before any plaintext is written; each use gets a new 0700 folder inside it.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use chrono::Utc;

use super::private_dir::{Role, create_private_dir, ensure_private_dir};
use super::restore::{RestoreOptions, RestoreResponse};
use super::{Cancel, Dr, Progress};
use crate::error::{ErrorKind, Result};
use crate::repo::timing::StageTimes;

pub(crate) const UNVERIFIED: &str = "files were restored without SHA-256 verification \
     (backup.validation.verify_on_restore is off)";

/// A backup's whole chain restored into a fresh scratch folder, with the time of each stage.
pub(crate) struct ScratchRestore {
    pub scratch: PathBuf,
    pub times: Arc<StageTimes>,
    /// None when the restore failed.
    pub restored: Option<RestoreResponse>,
    /// Why it failed, for the reasons of a failed test.
    pub failure: Option<String>,
}

/// The chain a recovery of `id` uses: its full and every incremental up to it, oldest first.
pub(crate) fn chain_ids(catalog: &crate::repo::catalog::Catalog, id: &str) -> Vec<String> {
    catalog
        .chain(id)
        .map(|c| c.iter().map(|b| b.backup_id.clone()).collect())
        .unwrap_or_default()
}

/// A private work folder in the scratch folder, made (the scratch folder checked first) on first
/// use and removed when dropped, with the subfolders `commands` and `sqlite`.
pub(crate) struct ScratchWork {
    scratch_root: PathBuf,
    dir: PathBuf,
    made: OnceLock<Result<()>>,
}

impl ScratchWork {
    /// The subfolder `name` (`commands` or `sqlite`), created with the work folder on first use.
    pub fn sub(&self, name: &str) -> Result<PathBuf> {
        self.made
            .get_or_init(|| {
                ensure_private_dir(&self.scratch_root, Role::Scratch)?;
                create_private_dir(&self.dir)?;
                let subs = ["commands", "sqlite"]
                    .into_iter()
                    .try_for_each(|sub| create_private_dir(&self.dir.join(sub)));
                if subs.is_err() {
                    let _ = std::fs::remove_dir_all(&self.dir);
                }
                subs
            })
            .clone()?;
        Ok(self.dir.join(name))
    }
}

impl Drop for ScratchWork {
    fn drop(&mut self) {
        if let Some(Ok(())) = self.made.get() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Dr {
    /// The configured scratch folder, unchecked.
    fn scratch_setting(&self) -> PathBuf {
        self.settings
            .settings
            .disaster_recovery
            .restore_test
            .scratch_dir
            .clone()
    }

    /// The scratch folder, checked private (created, 0700, when missing).
    pub(crate) fn scratch_root(&self) -> Result<PathBuf> {
        let root = self.scratch_setting();
        ensure_private_dir(&root, Role::Scratch)?;
        Ok(root)
    }

    /// A new folder (0700) in the scratch folder for one use: `<prefix>-<time>-<random>`.
    pub(crate) fn new_scratch_folder(&self, prefix: &str) -> Result<PathBuf> {
        let dir = self.scratch_root()?.join(format!(
            "{prefix}-{}-{:08x}",
            Utc::now().format("%Y%m%dT%H%M%S"),
            rand::random::<u32>()
        ));
        create_private_dir(&dir)?;
        Ok(dir)
    }

    /// The work folder `work-<name>` in the scratch folder, made on first use.
    pub(crate) fn scratch_work(&self, name: &str) -> ScratchWork {
        let scratch_root = self.scratch_setting();
        ScratchWork {
            dir: scratch_root.join(format!("work-{name}")),
            scratch_root,
            made: OnceLock::new(),
        }
    }

    /// Restore `id`'s chain into a fresh folder under the scratch dir, without setuid, setgid
    /// or sticky bits. A restore that fails on the data (missing or corrupt volume, checksum
    /// mismatch) is a failure in the result; what stops the test from running at all (settings,
    /// key, lock, cancellation, an unsafe scratch folder) is an error, and the scratch folder is
    /// removed then.
    pub(crate) async fn scratch_restore(
        &self,
        id: &str,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<ScratchRestore> {
        let scratch = self.new_scratch_folder("restore-test")?;
        let times = Arc::new(StageTimes::default());
        let req = RestoreOptions::into_folder(id, scratch.clone());
        let restored = self
            .restore_measured(&req, progress, cancel, Some(times.clone()))
            .await;
        let (restored, failure) = match restored {
            Ok(r) => (Some(r), None),
            Err(e)
                if matches!(
                    e.kind,
                    ErrorKind::Cancelled
                        | ErrorKind::Key
                        | ErrorKind::Settings
                        | ErrorKind::Locked
                        | ErrorKind::Usage
                ) =>
            {
                let _ = std::fs::remove_dir_all(&scratch);
                return Err(e);
            }
            Err(e) => {
                let mut reason = format!("the restore failed: {}", e.message);
                if !e.context.is_empty() {
                    reason.push_str(&format!(" ({})", e.context.join("; ")));
                }
                (None, Some(reason))
            }
        };
        Ok(ScratchRestore {
            scratch,
            times,
            restored,
            failure,
        })
    }
}
