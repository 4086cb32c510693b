//! `init`: create the repository (and, asked to, a new key).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use crate::error::{Error, ErrorKind, Result};
use crate::repo::Repository;
use crate::repo::crypto::{Credential, generate_key_file};

/// Options of `init`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct InitOptions {
    /// Write a new random key to backup.encryption.key_path (mode 0600) first; never replaces
    /// an existing key file.
    #[serde(default)]
    #[arg(long)]
    pub generate_key: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct InitResponse {
    pub repository: String,
    pub repository_id: String,
    pub encrypted: bool,
    /// The key file used (never its content).
    pub key_path: Option<String>,
    pub key_generated: bool,
    pub warnings: Vec<String>,
}

pub const KEY_WARNING: &str = "A NEW ENCRYPTION KEY WAS WRITTEN. Copy it off this host now (a password manager, \
     a vault, a safe): without it no backup in this repository can ever be restored, and a copy that lives \
     only on this host is lost with it.";

pub const UNENCRYPTED_WARNING: &str = "encryption is disabled (backup.encryption.enabled: false): volumes \
     and manifests are stored in clear; anyone who can read the repository can read your data";

impl Dr {
    pub async fn init(&self, req: &InitOptions) -> Result<InitResponse> {
        let enc = &self.settings.settings.backup.encryption;
        let mut warnings = Vec::new();
        let mut key_generated = false;
        let cred = if enc.enabled {
            let key = if req.generate_key {
                key_generated = true;
                generate_key_file(&enc.key_path)?
            } else {
                self.read_key()?
            };
            Some(Credential::KeyFile(key))
        } else {
            warnings.push(UNENCRYPTED_WARNING.to_string());
            None
        };
        let repo = match Repository::init(self.storage.clone(), cred.as_ref()).await {
            Ok(r) => r,
            Err(e) => {
                if key_generated {
                    // The key was made for this repository only; do not leave an unused key behind.
                    let _ = std::fs::remove_file(&enc.key_path);
                }
                // Found before writing, or lost a race with another init: one clear answer.
                if e.kind == ErrorKind::Refused
                    && Repository::exists(&self.storage).await.unwrap_or(false)
                {
                    return Err(already_exists(
                        &self.storage.describe(),
                        key_generated,
                        &enc.key_path,
                    ));
                }
                return Err(e);
            }
        };
        if key_generated {
            warnings.insert(0, KEY_WARNING.to_string());
        }
        Ok(InitResponse {
            repository: self.storage.describe(),
            repository_id: repo.id().to_string(),
            encrypted: repo.encrypted(),
            key_path: enc.enabled.then(|| enc.key_path.display().to_string()),
            key_generated,
            warnings,
        })
    }
}

/// Another repository is already there (perhaps created a moment ago by a racing `init`).
fn already_exists(repository: &str, key_generated: bool, key_path: &std::path::Path) -> Error {
    Error::refused(format!("a repository already exists at {repository}")).with_guidance(format!(
        "nothing in it was changed{}; use the existing repository with the key it was created \
         with, or choose another backup.directory",
        if key_generated {
            format!(
                ", and the key just generated for it ({}) was removed again",
                key_path.display()
            )
        } else {
            String::new()
        }
    ))
}
