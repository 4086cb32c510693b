//! The scratch folder (`disaster_recovery.restore_test.scratch_dir`): a fresh private folder for
//! each use (the scratch restore of `measure`), and a backup's private work folder (SQLite
//! snapshots, command outputs).
//!
//! Every use goes through [`Dr::scratch_root`], so the folder is checked private (see
//! `private_dir`) before any plaintext is written; each use gets a new 0700 folder inside it.

use std::path::PathBuf;
use std::sync::OnceLock;

use chrono::Utc;

use super::Dr;
use super::private_dir::{Role, create_private_dir, ensure_private_dir};
use crate::error::Result;

/// A private work folder in the scratch folder, made (the scratch folder checked first) on first
/// use and removed when dropped, with the subfolder `commands`.
pub(crate) struct ScratchWork {
    scratch_root: PathBuf,
    dir: PathBuf,
    made: OnceLock<Result<()>>,
}

impl ScratchWork {
    /// The subfolder `name` (`commands`), created with the work folder on first use.
    pub fn sub(&self, name: &str) -> Result<PathBuf> {
        self.made
            .get_or_init(|| {
                ensure_private_dir(&self.scratch_root, Role::Scratch)?;
                create_private_dir(&self.dir)?;
                let subs = ["commands"]
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
}
