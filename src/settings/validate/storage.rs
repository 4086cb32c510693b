//! Checks of where things are stored: storage targets (local only until cloud storage arrives),
//! and the repository, scratch folder, sources, replicas, key file and restore roots kept apart.

use std::path::{Path, PathBuf};

use super::Problems;
use crate::settings::keys::{KeyPath, index_key, keys};
use crate::settings::paths::repository_dir_of;
use crate::settings::paths::{default_sources, within};
use crate::settings::schema::{Settings, StorageSettings, StorageTarget};

/// Storage targets are local.
pub(super) fn check_targets(storage: &StorageSettings, p: &mut Problems<'_>) {
    let cloud = "cloud storage is not implemented yet; use { type: local, path: ... } \
                 (or backup.directory)";
    if let Some(primary) = &storage.primary
        && !matches!(primary, StorageTarget::Local { .. })
    {
        p.add(
            &keys(&["backup", "storage", "primary"]),
            format!("storage type {}: {cloud}", primary.type_name()),
            Some("use a local repository until cloud storage arrives"),
        );
    }
    for (i, replica) in storage.replicas.iter().enumerate() {
        if !matches!(replica, StorageTarget::Local { .. }) {
            p.add(
                &index_key(&["backup", "storage", "replicas"], i),
                format!("storage type {}: {cloud}", replica.type_name()),
                Some("use a local replica until cloud storage arrives"),
            );
        }
    }
}

/// The repository, the scratch folder and the sources must stay apart: the repository is never
/// backed up, and restore tests and drills never work inside live data or the repository.
pub(super) fn check_overlaps(s: &Settings, root: &Path, p: &mut Problems<'_>) {
    let repo = repository_dir_of(s);
    let scratch = &s.disaster_recovery.restore_test.scratch_dir;
    let scratch_key = keys(&["disaster_recovery", "restore_test", "scratch_dir"]);

    // (key, path, label)
    let mut sources: Vec<(KeyPath, PathBuf, String)> = Vec::new();
    if s.backup.sources.is_empty() {
        for path in default_sources(root) {
            sources.push((
                keys(&["backup", "sources"]),
                path.clone(),
                format!("the default source {}", path.display()),
            ));
        }
    } else {
        for (i, source) in s.backup.sources.iter().enumerate() {
            if let Some(path) = source.path() {
                sources.push((
                    index_key(&["backup", "sources"], i),
                    path.to_path_buf(),
                    format!("source {}", path.display()),
                ));
            }
        }
    }

    let repo_guidance = "keep the repository outside every source: move backup.directory (or \
                         storage.primary) elsewhere, or list narrower sources";
    for (key, path, label) in &sources {
        if within(path, &repo) {
            p.add(
                key,
                format!(
                    "{label} is inside the repository {} (the repository is never backed up)",
                    repo.display()
                ),
                Some(repo_guidance),
            );
        }
        // A repository inside a source is fine: the scan skips it (and says so).
        if within(scratch, path) || within(path, scratch) {
            p.add(
                &scratch_key,
                format!(
                    "the scratch folder {} overlaps {label}; restore tests and drills must never \
                     work on live data",
                    scratch.display()
                ),
                Some("point disaster_recovery.restore_test.scratch_dir at a folder of its own"),
            );
        }
    }
    if within(scratch, &repo) || within(&repo, scratch) {
        p.add(
            &scratch_key,
            format!(
                "the scratch folder {} overlaps the repository {}",
                scratch.display(),
                repo.display()
            ),
            Some("point disaster_recovery.restore_test.scratch_dir at a folder of its own"),
        );
    }
    for (i, replica) in s.backup.storage.replicas.iter().enumerate() {
        if let StorageTarget::Local { path } = replica
            && (within(path, &repo) || within(&repo, path))
        {
            p.add(
                &index_key(&["backup", "storage", "replicas"], i),
                format!(
                    "the replica {} overlaps the repository {}",
                    path.display(),
                    repo.display()
                ),
                Some("put each replica in a folder of its own, ideally on another disk"),
            );
        }
    }
    let key_path = &s.backup.encryption.key_path;
    if s.backup.encryption.enabled && within(key_path, &repo) {
        p.add(
            &keys(&["backup", "encryption", "key_path"]),
            format!(
                "the key file {} is inside the repository {}; whoever gets a copy of the \
                 repository would get the key with it",
                key_path.display(),
                repo.display()
            ),
            Some("keep the key file outside the repository, and a copy of it somewhere safe"),
        );
    }
    for (i, restore_root) in s.mcp.restore_roots.iter().enumerate() {
        if within(restore_root, &repo) {
            p.add(
                &index_key(&["mcp", "restore_roots"], i),
                format!(
                    "the restore root {} is inside the repository {}",
                    restore_root.display(),
                    repo.display()
                ),
                Some("restore roots must lie outside the repository"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::settings::load;
    use crate::settings::test_support::{err_in, project};

    #[test]
    fn repository_and_sources_must_not_overlap() {
        // A source inside the repository.
        let (_d, root) = project("backup:\n  directory: ./repo\n  sources: [./repo/sub]\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("inside the repository"), "{e}");
        assert!(e.message.contains("backup.sources[0]"), "{e}");
        assert!(e.message.contains("never backed up"), "{e}");
        // The repository inside a source is allowed: the scan skips it.
        let (_d, root) = project("backup:\n  directory: ./data/repo\n");
        load(None, &root, &[]).unwrap();
        // Equal.
        let (_d, root) = project("backup:\n  directory: ./x\n  sources: [./x/.]\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("never backed up"), "{e}");
        // The key file inside the repository.
        let (_d, root) =
            project("backup:\n  directory: ./repo\n  encryption:\n    key_path: ./repo/key\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("backup.encryption.key_path"), "{e}");
        // Scratch folder inside live data.
        let (_d, root) =
            project("disaster_recovery:\n  restore_test:\n    scratch_dir: ./data/scratch\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("scratch_dir"), "{e}");
    }
}
