//! The live data set: the path sources scanned as a backup would scan them (command sources are
//! not run), for drift and for sizing what a recovery would restore now.

use crate::error::Result;
use crate::ops::scan::{self, COMMAND_PREFIX, ScanContext, ScanResult};
use crate::ops::{Cancel, Dr};
use crate::repo::manifest::{EntryKind, Manifest};
use crate::settings::ResolvedSource;

impl Dr {
    /// Scan the live path sources as a backup would (command sources are not run).
    pub(crate) fn live_scan(&self, cancel: &Cancel) -> Result<ScanResult> {
        let b = &self.settings.settings.backup;
        let s = &self.settings.settings;
        let sources: Vec<ResolvedSource> = self
            .settings
            .sources()
            .into_iter()
            .filter(|r| matches!(r, ResolvedSource::Path { .. }))
            .collect();
        let mut skip = self.settings.store_dirs();
        skip.push(b.encryption.key_path.clone());
        skip.push(s.disaster_recovery.restore_test.scratch_dir.clone());
        scan::scan(
            &sources,
            &ScanContext {
                project_root: &self.settings.project_root,
                global_exclude: &b.exclude,
                skip: &skip,
                default_sources: b.sources.is_empty(),
                command_dir: None,
                cancel,
            },
        )
    }

    /// Bytes of the data set a recovery of `manifest`'s backup would restore now: the live path
    /// sources as scanned, plus the command outputs as the backup stored them (commands are not
    /// run).
    pub(crate) fn full_data_set_bytes(&self, manifest: &Manifest, cancel: &Cancel) -> Result<u64> {
        let command_bytes: u64 = manifest
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .filter(|e| e.path.starts_with(COMMAND_PREFIX))
            .map(|e| e.size)
            .sum();
        let live = self.live_scan(cancel)?;
        Ok(live
            .items
            .iter()
            .filter(|i| i.entry.kind == EntryKind::File)
            .map(|i| i.entry.size)
            .sum::<u64>()
            + command_bytes)
    }
}
