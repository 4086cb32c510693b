//! The scratch restore that restore tests, RTO measurement and drills time: a backup's whole
//! chain restored into a fresh private folder under the scratch folder, with the time of each
//! stage.

use std::path::PathBuf;
use std::sync::Arc;

use crate::error::{ErrorKind, Result};
use crate::ops::extract::{Extracted, Extraction};
use crate::ops::{Cancel, Dr, Progress};
use crate::repo::catalog::Catalog;
use crate::repo::timing::StageTimes;

pub(crate) const UNVERIFIED: &str = "files were restored without SHA-256 verification \
     (backup.validation.verify_on_restore is off)";

/// A backup's whole chain restored into a fresh scratch folder, with the time of each stage.
pub(crate) struct ScratchRestore {
    pub scratch: PathBuf,
    pub times: Arc<StageTimes>,
    /// None when the restore failed.
    pub restored: Option<Extracted>,
    /// Why it failed, for the reasons of a failed test.
    pub failure: Option<String>,
}

/// The chain a recovery of `id` uses: its full and every incremental up to it, oldest first.
pub(crate) fn chain_ids(catalog: &Catalog, id: &str) -> Vec<String> {
    catalog
        .chain(id)
        .map(|c| c.iter().map(|b| b.backup_id.clone()).collect())
        .unwrap_or_default()
}

impl Dr {
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
        let job = Extraction {
            backup_id: id,
            target: &scratch,
            paths: &[],
            overwrite: false,
            keep_special_bits: false,
            host: None,
            at: None,
        };
        let restored = self
            .extract(&job, progress, cancel, Some(times.clone()))
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
