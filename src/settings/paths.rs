//! Paths in the settings: the project root, lexical normalisation, and resolving every relative
//! path (against the project root) and `~/` (against HOME) to an absolute one.

use std::path::{Component, Path, PathBuf};

use super::document::SettingsDoc;
use super::keys::{KeyPath, Layer, index_key, keys, origin_of, show_key};
use super::monitoring::{AlertChannel, EmailChannel};
use super::schema::{Settings, SourceSpec, StorageTarget};
use crate::error::{Error, Result};

/// The folder holding the `settings/` folder of the file, else the file's own folder.
pub(super) fn project_root_of(config_file: &Path) -> PathBuf {
    let dir = config_file.parent().unwrap_or(Path::new("/"));
    if dir.file_name().is_some_and(|n| n == "settings") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// Lexical normalisation: drop `.`, resolve `..` against the preceding component (never above
/// the root). Does not touch the filesystem.
pub(super) fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let popped =
                    matches!(out.components().next_back(), Some(Component::Normal(_))) && out.pop();
                if !popped && !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// Resolves the paths of one load: the project root, HOME, and the layers (for errors).
pub(super) struct Resolver<'a> {
    pub(super) root: &'a Path,
    pub(super) home: Option<&'a Path>,
    pub(super) layers: &'a [Layer],
}

impl Resolver<'_> {
    /// Absolute, normalised: `~/x` against HOME, relative against the project root.
    fn resolve(&self, path: &Path, key: &KeyPath) -> Result<PathBuf> {
        let mut comps = path.components();
        let joined = match comps.next() {
            Some(Component::Normal(first)) if first == "~" => match self.home {
                Some(home) => home.join(comps.as_path()),
                None => {
                    return Err(Error::settings(format!(
                        "{}: {}: cannot expand `~` in {}: HOME is not set",
                        origin_of(self.layers, key),
                        show_key(key),
                        path.display()
                    ))
                    .with_guidance("write the path in full, or set HOME"));
                }
            },
            _ => self.root.join(path),
        };
        Ok(normalize(&joined))
    }
}

pub(super) fn resolve_paths(s: &mut SettingsDoc, r: &Resolver<'_>) -> Result<()> {
    let b = &mut s.backup;
    b.directory = r.resolve(&b.directory, &keys(&["backup", "directory"]))?;
    b.encryption.key_path = r.resolve(
        &b.encryption.key_path,
        &keys(&["backup", "encryption", "key_path"]),
    )?;
    for (i, path) in b.continuous.paths.iter_mut().enumerate() {
        *path = r.resolve(path, &index_key(&["backup", "continuous", "paths"], i))?;
    }
    for (i, source) in b.sources.iter_mut().enumerate() {
        let key = index_key(&["backup", "sources"], i);
        match source {
            SourceSpec::Path(path) | SourceSpec::PathWithExcludes { path, .. } => {
                *path = r.resolve(path, &key)?;
            }
            SourceSpec::Command { .. } => {}
        }
    }
    if let Some(StorageTarget::Local { path, .. }) = &mut b.storage.primary {
        *path = r.resolve(path, &keys(&["backup", "storage", "primary", "path"]))?;
    }
    for (i, replica) in b.storage.replicas.iter_mut().enumerate() {
        if let StorageTarget::Local { path, .. } = replica {
            *path = r.resolve(path, &index_key(&["backup", "storage", "replicas"], i))?;
        }
    }
    let scratch = &mut s.disaster_recovery.restore_test.scratch_dir;
    *scratch = r.resolve(
        scratch,
        &keys(&["disaster_recovery", "restore_test", "scratch_dir"]),
    )?;
    for (i, root) in s.mcp.restore_roots.iter_mut().enumerate() {
        *root = r.resolve(root, &index_key(&["mcp", "restore_roots"], i))?;
    }
    s.daemon.state_dir = r.resolve(&s.daemon.state_dir, &keys(&["daemon", "state_dir"]))?;
    for (i, channel) in b.monitoring.alert_channels.iter_mut().enumerate() {
        if let AlertChannel::Email(EmailChannel {
            password_file,
            ca_file,
            ..
        }) = channel
        {
            for (name, file) in [("password_file", password_file), ("ca_file", ca_file)] {
                if let Some(file) = file {
                    let mut key = index_key(&["backup", "monitoring", "alert_channels"], i);
                    key.push(super::keys::Seg::Key(name.to_string()));
                    *file = r.resolve(file, &key)?;
                }
            }
        }
    }
    if let Some(token_file) = &mut s.mcp.http.token_file {
        *token_file = r.resolve(token_file, &keys(&["mcp", "http", "token_file"]))?;
    }
    Ok(())
}

/// `a` is `b` or lies inside it (lexically; both absolute and normalised).
pub(super) fn within(a: &Path, b: &Path) -> bool {
    a.starts_with(b)
}

/// The sources backed up when `backup.sources` is empty: `settings/` and `data/` of the root.
pub(super) fn default_sources(root: &Path) -> Vec<PathBuf> {
    vec![root.join("settings"), root.join("data")]
}

/// The repository location: `storage.primary` (when type local) else `backup.directory`.
pub(super) fn repository_dir_of(settings: &Settings) -> PathBuf {
    match &settings.backup.storage.primary {
        Some(StorageTarget::Local { path, .. }) => path.clone(),
        _ => settings.backup.directory.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::test_support::{err_in, load_in, project};
    use crate::settings::{ResolvedSource, load};

    #[test]
    fn relative_paths_resolve_against_the_project_root() {
        let (_d, root) = project(
            "backup:\n  directory: ../outside/./repo\n  encryption:\n    key_path: keys/k\n  sources:\n    - ./data\n    - {path: ./etc/../srv, exclude: [\"*.tmp\"]}\n  storage:\n    replicas: [{type: local, path: r}]\ndisaster_recovery:\n  restore_test:\n    scratch_dir: scratch\nmcp:\n  restore_roots: [restores]\n  http:\n    token_file: settings/token\n",
        );
        let l = load_in(&root, &[]).expect("loads");
        let s = &l.settings;
        let parent = root.parent().expect("parent");
        assert_eq!(s.backup.directory, parent.join("outside/repo"));
        assert_eq!(s.backup.encryption.key_path, root.join("keys/k"));
        assert_eq!(
            s.backup.sources,
            vec![
                SourceSpec::Path(root.join("data")),
                SourceSpec::PathWithExcludes {
                    path: root.join("srv"),
                    exclude: vec!["*.tmp".into()]
                }
            ]
        );
        assert_eq!(
            s.backup.storage.replicas,
            vec![StorageTarget::local(root.join("r"))]
        );
        assert_eq!(
            s.disaster_recovery.restore_test.scratch_dir,
            root.join("scratch")
        );
        assert_eq!(s.mcp.restore_roots, vec![root.join("restores")]);
        assert_eq!(s.mcp.http.token_file, Some(root.join("settings/token")));
    }

    #[test]
    fn a_file_outside_a_settings_folder_resolves_against_its_own_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("conf");
        std::fs::create_dir_all(&conf).expect("mkdir");
        std::fs::write(
            conf.join("dr.yaml"),
            "backup:\n  directory: ./repo\n  storage:\n    primary: {type: local, path: ./primary}\n",
        )
        .expect("write");
        std::fs::write(conf.join("local.yaml"), "backup:\n  volume_size_mb: 8\n").expect("write");
        // A relative --config resolves against cwd.
        let l = load(Some(Path::new("conf/./dr.yaml")), dir.path(), &[]).expect("loads");
        assert_eq!(l.project_root, conf);
        assert_eq!(l.config_file, conf.join("dr.yaml"));
        assert_eq!(l.settings.backup.directory, conf.join("repo"));
        assert_eq!(l.repository_dir(), conf.join("primary"));
        assert_eq!(l.settings.backup.volume_size_mb, 8);
        assert_eq!(l.files, vec![conf.join("dr.yaml"), conf.join("local.yaml")]);
    }

    #[test]
    fn default_sources_and_home_expansion() {
        let (_d, root) = project("backup:\n  exclude: [\"*.log\"]\n  directory: ~/repo\n");
        let l = load_in(&root, &[("HOME", "/home/u")]).expect("loads");
        assert_eq!(l.repository_dir(), PathBuf::from("/home/u/repo"));
        assert_eq!(
            l.sources(),
            vec![
                ResolvedSource::Path {
                    path: root.join("settings"),
                    exclude: vec!["*.log".into()]
                },
                ResolvedSource::Path {
                    path: root.join("data"),
                    exclude: vec!["*.log".into()]
                },
            ]
        );
        let e = err_in(&root, &[]);
        assert!(e.message.contains("HOME"), "{e}");
    }

    #[test]
    fn normalize_is_lexical() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../a")), PathBuf::from("/a"));
        assert_eq!(normalize(Path::new("a/../../b")), PathBuf::from("../b"));
        assert_eq!(
            project_root_of(Path::new("/p/settings/x.yaml")),
            PathBuf::from("/p")
        );
        assert_eq!(
            project_root_of(Path::new("/p/conf/x.yaml")),
            PathBuf::from("/p/conf")
        );
    }
}
