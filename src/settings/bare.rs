//! The settings a command runs with, given what its command line says beside the file:
//! `--repository` (a store name or a location) and `--key-file`. With no settings file and a
//! location, a *bare host*: settings built from the defaults around that location, enough for
//! the commands that only read a repository (the policy is `Dr::needs_settings` in ops).

use std::path::{Path, PathBuf};

use super::load::{LoadedSettings, load};
use super::location::{is_location, parse_location};
use super::paths::normalize;
use super::schema::{Settings, StorageTarget};
use super::source::{DEFAULT_CONFIG, settings_io};
use crate::error::{Error, Result};

/// What the command line says about the settings, the repository and the key.
#[derive(Debug, Clone, Copy)]
pub struct CommandLine<'a> {
    /// `--config PATH` (relative to `cwd`); default `settings/mahavishnu.yaml`.
    pub config: Option<&'a Path>,
    pub cwd: &'a Path,
    /// The process environment as pairs.
    pub env: &'a [(String, String)],
    /// `--repository NAME|LOCATION` (or `MAHAVISHNU_REPOSITORY`).
    pub repository: Option<&'a str>,
    /// `--key-file PATH` (or `MAHAVISHNU_KEY_FILE`), relative to `cwd`.
    pub key_file: Option<&'a Path>,
}

/// Which repository `--repository` names.
#[derive(Debug, Clone, PartialEq)]
pub enum RepositoryArg {
    /// A store of the settings (`primary`, a replica's name).
    Store(String),
    /// A location given on the command line.
    Location(StorageTarget),
}

/// Where a bare host keeps what the defaults put under the project (scratch space, restore
/// roots): the user's cache folder, else a folder under /tmp. The commands a bare host runs
/// never create it.
fn bare_state_dir(cwd: &Path, env: &[(String, String)]) -> PathBuf {
    let var = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| PathBuf::from(v))
            .filter(|p| p.is_absolute())
    };
    let cache = var("XDG_CACHE_HOME").or_else(|| var("HOME").map(|h| h.join(".cache")));
    match cache {
        Some(c) => c.join("mahavishnu-dr").join("bare-host"),
        None => cwd.join(".mahavishnu-dr-bare-host"),
    }
}

impl LoadedSettings {
    /// Settings for a bare host: the defaults, the primary store `target`, the key file
    /// `key_file` (the default key path when `None`), no sources, no schedules. `config_file`
    /// is where the settings file was looked for (messages name it).
    pub fn bare(
        target: StorageTarget,
        key_file: Option<PathBuf>,
        config_file: PathBuf,
        cwd: &Path,
        env: &[(String, String)],
    ) -> LoadedSettings {
        let state = bare_state_dir(cwd, env);
        let mut settings = Settings::default();
        let b = &mut settings.backup;
        b.directory = match &target {
            StorageTarget::Local { path, .. } => path.clone(),
            _ => state.join("backups"),
        };
        b.storage.primary = Some(target);
        if let Some(k) = key_file {
            b.encryption.key_path = k;
        }
        settings.disaster_recovery.restore_test.scratch_dir = state.join("scratch");
        settings.mcp.restore_roots = vec![state.join("restores")];
        settings.daemon.state_dir = state.join("daemon");
        LoadedSettings {
            settings,
            project_root: cwd.to_path_buf(),
            config_file,
            files: Vec::new(),
            env_overrides: Vec::new(),
            bare: true,
        }
    }
}

/// The settings for a command line, and the repository its `--repository` names.
///
/// - A settings file (at `--config`, or the default path): loaded as usual; `--key-file`
///   replaces `backup.encryption.key_path`.
/// - No settings file, `--repository LOCATION`: a bare host ([`LoadedSettings::bare`]).
/// - No settings file otherwise: the error says what is missing and how to go on.
pub fn load_command_line(cl: &CommandLine<'_>) -> Result<(LoadedSettings, Option<RepositoryArg>)> {
    let cwd = std::path::absolute(cl.cwd)
        .map(|p| normalize(&p))
        .map_err(|e| settings_io("resolve the working directory", cl.cwd, e))?;
    let repository = match cl.repository {
        None => None,
        Some(r) if is_location(r) => {
            Some(RepositoryArg::Location(parse_location(r, &cwd, cl.env)?))
        }
        Some(r) => Some(RepositoryArg::Store(r.to_string())),
    };
    let key_file = cl.key_file.map(|k| normalize(&cwd.join(k)));
    if let Some(k) = &key_file
        && k.as_os_str().is_empty()
    {
        return Err(Error::usage("--key-file is empty").with_guidance("name the key file"));
    }
    let config_file = normalize(&cwd.join(cl.config.unwrap_or(Path::new(DEFAULT_CONFIG))));
    let no_file = matches!(config_file.try_exists(), Ok(false));
    if no_file {
        match repository {
            Some(RepositoryArg::Location(target)) => {
                let loaded =
                    LoadedSettings::bare(target.clone(), key_file, config_file, &cwd, cl.env);
                return Ok((loaded, Some(RepositoryArg::Location(target))));
            }
            Some(RepositoryArg::Store(name)) => {
                return Err(Error::settings(format!(
                    "settings file {} not found, so there is no store called {name:?}",
                    config_file.display()
                ))
                .with_guidance(
                    "without a settings file give --repository a location: a folder \
                     (/srv/backups, ./backups), s3://BUCKET/PREFIX or azblob://CONTAINER/PREFIX, \
                     with --key-file PATH; or pass --config PATH",
                ));
            }
            // Today's error, whose guidance names both ways on.
            None => {}
        }
    }
    let mut loaded = load(cl.config, &cwd, cl.env)?;
    if let Some(k) = key_file {
        loaded.settings.backup.encryption.key_path = k;
    }
    Ok((loaded, repository))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::settings::test_support::project;

    fn cl<'a>(
        cwd: &'a Path,
        repository: Option<&'a str>,
        key_file: Option<&'a Path>,
        env: &'a [(String, String)],
    ) -> CommandLine<'a> {
        CommandLine {
            config: None,
            cwd,
            env,
            repository,
            key_file,
        }
    }

    #[test]
    fn a_location_without_settings_is_a_bare_host() {
        let t = tempfile::tempdir().unwrap();
        let env = vec![("HOME".to_string(), "/home/op".to_string())];
        let (l, r) = load_command_line(&cl(
            t.path(),
            Some("./repo"),
            Some(Path::new("keys/k")),
            &env,
        ))
        .unwrap();
        assert!(l.bare);
        let repo = t.path().join("repo");
        assert_eq!(
            r,
            Some(RepositoryArg::Location(StorageTarget::local(repo.clone())))
        );
        assert_eq!(l.repository_dir(), repo);
        assert_eq!(
            l.settings.backup.encryption.key_path,
            t.path().join("keys/k")
        );
        assert!(l.settings.backup.sources.is_empty());
        assert!(l.settings.backup.schedules.is_empty());
        let state = Path::new("/home/op/.cache/mahavishnu-dr/bare-host");
        assert_eq!(
            l.settings.disaster_recovery.restore_test.scratch_dir,
            state.join("scratch")
        );
        assert_eq!(l.settings.mcp.restore_roots, vec![state.join("restores")]);
        // Nothing was created.
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
    }

    #[test]
    fn without_settings_a_store_name_or_nothing_is_an_error_that_says_how_to_go_on() {
        let t = tempfile::tempdir().unwrap();
        let e = load_command_line(&cl(t.path(), Some("offsite"), None, &[])).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Settings);
        assert!(e.message.contains("no store called \"offsite\""), "{e}");
        assert!(e.guidance.unwrap().contains("s3://BUCKET/PREFIX"));
        let e = load_command_line(&cl(t.path(), None, None, &[])).unwrap_err();
        assert!(e.message.contains("not found"), "{e}");
        let g = e.guidance.unwrap();
        assert!(g.contains("--repository LOCATION --key-file PATH"), "{g}");
    }

    #[test]
    fn with_settings_the_key_file_replaces_the_key_path_and_names_stay_names() {
        let (_d, root) = project("backup:\n  encryption: { key_path: ./key }\n");
        let (l, r) = load_command_line(&cl(
            &root,
            Some("offsite"),
            Some(Path::new("/keys/other")),
            &[],
        ))
        .unwrap();
        assert!(!l.bare);
        assert_eq!(
            l.settings.backup.encryption.key_path,
            PathBuf::from("/keys/other")
        );
        assert_eq!(r, Some(RepositoryArg::Store("offsite".into())));
        let (l, r) = load_command_line(&cl(&root, Some("/srv/b"), None, &[])).unwrap();
        assert_eq!(l.settings.backup.encryption.key_path, root.join("key"));
        assert_eq!(
            r,
            Some(RepositoryArg::Location(StorageTarget::local(
                "/srv/b".into()
            )))
        );
    }
}
