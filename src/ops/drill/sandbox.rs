//! A drill's sandbox: a fresh private folder under the scratch folder, and scratch repositories
//! inside it (their own key, their own settings, no replicas), so a fault injected there
//! never reaches the live data or the production repository. Removed at tear down, and by
//! `Drop` as a last resort.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ops::Dr;
use crate::ops::private_dir::create_private_dir;
use crate::settings::{DrillScenario, SourceSpec, StorageSettings};
use crate::storage::{self, DynStorage};

pub(super) struct Sandbox {
    dir: PathBuf,
    removed: bool,
}

impl Sandbox {
    /// A new private folder `drill-<scenario>-<time>-<random>` in the scratch folder.
    pub fn create(dr: &Dr, s: DrillScenario) -> Result<Sandbox> {
        let dir = dr.new_scratch_folder(&format!("drill-{}", s.id()))?;
        Ok(Sandbox {
            dir,
            removed: false,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A path inside the sandbox.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Remove the sandbox and everything in it.
    pub fn remove(mut self) -> Result<()> {
        self.removed = true;
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(format!(
                "cannot remove the drill sandbox {}: {e}",
                self.dir.display()
            ))
            .with_guidance("remove it by hand; it holds restored data")),
        }
    }

    /// A new repository in the sandbox folder `name`, backing up `sources`, with its own key and
    /// scratch folder and no replicas, opened through `wrap` (a fault layer, or as is). The
    /// returned operations work on it alone.
    pub async fn scratch_repository(
        &self,
        dr: &Dr,
        name: &str,
        sources: Vec<PathBuf>,
        wrap: impl FnOnce(DynStorage) -> DynStorage,
    ) -> Result<Dr> {
        let root = self.path(name);
        create_private_dir(&root)?;
        let scratch = root.join("scratch");
        create_private_dir(&scratch)?;
        let mut settings = dr.settings().clone();
        // Stored paths relative to the sandbox: `copy/...`, `generated/...`.
        settings.project_root = self.dir.clone();
        {
            let s = &mut settings.settings;
            s.backup.sources = sources.into_iter().map(SourceSpec::Path).collect();
            s.backup.directory = root.join("repo");
            s.backup.storage = StorageSettings::default();
            s.backup.encryption.enabled = true;
            s.backup.encryption.key_path = root.join("key");
            s.disaster_recovery.restore_test.scratch_dir = scratch;
        }
        let b = &settings.settings.backup;
        let inner = storage::open_store(&b.storage.primary_store(&b.directory))?;
        let scratch_dr = Dr::with_storage(settings, wrap(inner));
        scratch_dr
            .create_repository(true)
            .await
            .map_err(|e| e.context(format!("creating the scratch repository {name}")))?;
        Ok(scratch_dr)
    }
}

/// A sandbox older than this was left by a drill that was killed (no drill runs this long).
const STALE_HOURS: i64 = 24;

/// Remove the sandboxes of drills killed before their tear down (SIGKILL, a power cut): the
/// `drill-*` folders of the scratch folder whose name dates them more than a day ago. What was
/// removed, or could not be, in words.
pub(super) fn sweep_stale(dr: &Dr) -> Vec<String> {
    let Ok(root) = dr.scratch_root() else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Vec::new();
    };
    let cutoff = chrono::Utc::now() - chrono::Duration::hours(STALE_HOURS);
    let mut notes = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(made) = sandbox_time(&name) else {
            continue;
        };
        if made >= cutoff || !e.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        match std::fs::remove_dir_all(e.path()) {
            Ok(()) => notes.push(format!(
                "removed the sandbox {name} left by a drill that did not finish"
            )),
            Err(err) => notes.push(format!(
                "could not remove the stale sandbox {}: {err}",
                e.path().display()
            )),
        }
    }
    notes
}

/// When a sandbox was made, from its name `drill-<scenario>-<%Y%m%dT%H%M%S>-<hex>`.
fn sandbox_time(name: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let rest = name.strip_prefix("drill-")?;
    let mut parts = rest.rsplitn(3, '-');
    let _random = parts.next()?;
    let time = parts.next()?;
    let _scenario = parts.next()?;
    chrono::NaiveDateTime::parse_from_str(time, "%Y%m%dT%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        if !self.removed {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// SHA-256 (hex) of a file's bytes.
pub(super) fn sha256_file(path: &Path) -> Result<String> {
    let f = std::fs::File::open(path)
        .map_err(|e| Error::io(format!("cannot read {}: {e}", path.display())))?;
    crate::repo::hash::digest_of_file(&f, crate::repo::hash::DigestKind::Flat)
        .map(|(_, h)| h)
        .map_err(|e| Error::io(format!("cannot read {}: {e}", path.display())))
}

/// The newest state of the host this process presents, on `dr`'s store, with its snapshot:
/// its newest backup, or its newest continuous point when that is newer (drills recover from
/// what an incident would really recover from).
pub(super) async fn newest_backup(
    dr: &Dr,
) -> Result<(
    crate::repo::manifest::ManifestSummary,
    crate::repo::manifest::Manifest,
)> {
    let repo = dr.open_repo().await?;
    let mut catalog = crate::repo::catalog::Catalog::load(&repo).await?;
    crate::ops::points::newest_state(&repo, &mut catalog, &dr.host()).await
}

/// Seconds from `from` to `to`, as the drills report them.
pub(super) fn seconds_between(
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

/// Restore `paths` (everything when empty) of `backup_id` from `dr`'s store into `target`, every
/// file's SHA-256 checked: a restore without that check is an error here (a drill proves data).
pub(super) async fn restore_verified(
    ctx: &super::runner::Ctx<'_>,
    dr: &Dr,
    backup_id: &str,
    target: &Path,
    paths: &[String],
    overwrite: bool,
) -> Result<crate::ops::extract::Extracted> {
    let job = crate::ops::extract::Extraction {
        backup_id,
        target,
        paths,
        overwrite,
        keep_special_bits: false,
        host: None,
        at: None,
    };
    let r = dr
        .extract(&job, ctx.progress.clone(), ctx.cancel, None)
        .await?;
    if !r.verified {
        return Err(Error::integrity(format!(
            "{backup_id} was restored without SHA-256 verification \
             (backup.validation.verify_on_restore is off)"
        ))
        .with_guidance("turn backup.validation.verify_on_restore on: a drill proves the data"));
    }
    Ok(r)
}

/// `PRAGMA integrity_check` of every SQLite database `manifest` holds, as restored under `root`:
/// how many were checked, and "path: what SQLite said" for each that is not sound.
pub(super) async fn damaged_databases(
    root: &Path,
    manifest: &crate::repo::manifest::Manifest,
) -> Result<(usize, Vec<String>)> {
    use crate::repo::manifest::{EntryKind, Origin};
    let dbs: Vec<String> = manifest
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::File && e.origin == Origin::Sqlite)
        .map(|e| e.path.clone())
        .collect();
    let root = root.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let bad = dbs
            .iter()
            .filter_map(
                |p| match crate::ops::sqlite::integrity_check(&root.join(p)) {
                    Ok(r) if r == "ok" => None,
                    Ok(r) => Some(format!("{p}: {r}")),
                    Err(e) => Some(format!("{p}: {e}")),
                },
            )
            .collect();
        (dbs.len(), bad)
    })
    .await
    .map_err(|e| Error::internal(format!("the database check stopped: {e}")))
}

#[cfg(test)]
mod tests {
    use super::sandbox_time;

    #[test]
    fn a_sandbox_is_dated_by_its_name() {
        let t = sandbox_time("drill-data_deletion-20261205T063124-b3dd184f").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-05T06:31:24+00:00");
        assert!(sandbox_time("drill-x").is_none());
        assert!(sandbox_time("restore-test-20261205T063124-b3dd184f").is_none());
        assert!(sandbox_time("drill-x-notatime-00").is_none());
    }
}
