//! Test fixtures: the seed and shipped settings files, read from where the project keeps them,
//! and temporary projects to load settings from.

use std::path::{Path, PathBuf};

use super::{LoadedSettings, Settings, load};
use crate::error::{Error, Result};

/// The users' settings file of the original system (`../shared/seed-settings.yaml`).
pub fn seed_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed-settings.yaml")
}

/// The shipped `settings/mahavishnu.yaml`.
pub fn shipped_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("settings/mahavishnu.yaml")
}

/// The seed file, loaded as it stands in a temporary project (paths resolved against it).
pub fn seed_settings() -> Settings {
    let text = std::fs::read_to_string(seed_path()).expect("read the seed settings");
    let (_dir, root) = project(&text);
    load_in(&root, &[])
        .expect("load the seed settings")
        .settings
}

/// Environment pairs from string slices.
pub fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
        .collect()
}

/// A temp project with settings/mahavishnu.yaml holding `main`; returns (dir, root path).
pub fn project(main: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    std::fs::create_dir_all(root.join("settings")).expect("mkdir");
    std::fs::write(root.join("settings/mahavishnu.yaml"), main).expect("write");
    (dir, root)
}

/// Load the settings of the project at `root` with exactly the environment `env`.
pub fn load_in(root: &Path, env: &[(&str, &str)]) -> Result<LoadedSettings> {
    load(None, root, &pairs(env))
}

/// The error loading the project at `root` gives; panics when it loads.
pub fn err_in(root: &Path, env: &[(&str, &str)]) -> Error {
    match load_in(root, env) {
        Ok(l) => panic!("expected an error, loaded {:?}", l.settings),
        Err(e) => e,
    }
}
