//! Test fixtures: the seed and shipped settings files, read from where the project keeps them.

use std::path::{Path, PathBuf};

use super::Settings;

/// The users' settings file of the original system (`../shared/seed-settings.yaml`).
pub fn seed_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seed-settings.yaml")
}

/// The shipped `settings/mahavishnu.yaml`.
pub fn shipped_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("settings/mahavishnu.yaml")
}

/// The seed file parsed as it stands (paths unresolved).
pub fn seed_settings() -> Settings {
    let text = std::fs::read_to_string(seed_path()).expect("read the seed settings");
    serde_saphyr::from_str(&text).expect("parse the seed settings")
}
