//! Creating a repository (and, asked to, a new key first): what `init` does, and what a backup
//! does on first use.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use crate::error::{Error, ErrorKind, Result};
use crate::repo::Repository;
use crate::repo::crypto::{Credential, generate_key_file};

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
    /// Create the repository the settings name; with `generate_key`, write a new random key to
    /// `backup.encryption.key_path` first (refuses to replace one).
    pub(crate) async fn create_repository(&self, generate_key: bool) -> Result<InitResponse> {
        let enc = &self.settings.settings.backup.encryption;
        let mut warnings = Vec::new();
        if let Some(warning) = self.check_create_only().await? {
            warnings.push(warning);
        }
        self.check_object_lock(&self.store).await?;
        let mut key_generated = false;
        let cred = if enc.enabled {
            let key = if generate_key {
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

impl Dr {
    /// A cloud primary must enforce create-only writes (manifests, history records and locks
    /// rely on them): probed before anything is created. One that does not is refused, unless
    /// its `allow_unenforced_create_only` accepts it; then the warning to show is returned.
    async fn check_create_only(&self) -> Result<Option<String>> {
        let target = &self.store.target;
        if !target.is_cloud() || crate::storage::probe::create_only_enforced(&*self.storage).await?
        {
            return Ok(None);
        }
        let what = format!(
            "{} does not enforce create-only writes (a second conditional write of one object \
             replaced it instead of being refused)",
            self.storage.describe()
        );
        if target.allows_unenforced_create_only() {
            return Ok(Some(format!(
                "{what}; allowed by allow_unenforced_create_only: two backups or cleanups running \
                 at once could replace each other's manifests or locks, so run one at a time"
            )));
        }
        Err(
            Error::refused(format!("{what}; no repository was created")).with_guidance(
                "use a server that supports If-None-Match: * on PUT (AWS S3, SeaweedFS, MinIO, \
                 Azure Blob do), or, if only one host ever writes to this repository, set \
                 allow_unenforced_create_only: true on backup.storage.primary",
            ),
        )
    }
}

/// Another repository is already there (perhaps created a moment ago by a racing `init`).
fn already_exists(repository: &str, key_generated: bool, key_path: &std::path::Path) -> Error {
    Error::refused(format!("a repository already exists at {repository}")).with_guidance(format!(
        "nothing in it was changed{}; use the existing repository with the key it was created \
         with, or choose another backup.directory (or backup.storage.primary)",
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::error::ErrorKind;
    use crate::ops::Dr;
    use crate::settings::StorageTarget;
    use crate::storage::probe::IgnoresCreateOnly;
    use crate::storage::{MemoryStorage, Storage};

    fn cloud_dr(allow: bool, store: crate::storage::DynStorage) -> (tempfile::TempDir, Dr) {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("settings")).unwrap();
        let config = t.path().join("settings/mahavishnu.yaml");
        std::fs::write(
            &config,
            "backup:\n  directory: ./repo\n  sources: [./data]\n  encryption: { key_path: ./key }\n",
        )
        .unwrap();
        let mut loaded = crate::settings::load(Some(&config), t.path(), &[]).unwrap();
        loaded.settings.backup.storage.primary = Some(StorageTarget::S3 {
            bucket: "lax-bucket".into(),
            prefix: None,
            region: None,
            endpoint: None,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            force_path_style: None,
            allow_unenforced_create_only: allow,
            lock_mode: Default::default(),
            timeout_seconds: None,
            name: None,
            immutable: false,
        });
        (t, Dr::with_storage(loaded, store))
    }

    #[tokio::test]
    async fn init_refuses_a_cloud_store_that_does_not_enforce_create_only_unless_allowed() {
        let mem = Arc::new(MemoryStorage::new());
        let (t, dr) = cloud_dr(false, Arc::new(IgnoresCreateOnly(mem.clone())));
        let e = dr.create_repository(true).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused, "{e}");
        assert!(
            e.message.contains("does not enforce create-only writes"),
            "{e}"
        );
        assert!(e.message.contains("no repository was created"), "{e}");
        assert!(
            e.guidance
                .as_deref()
                .unwrap_or("")
                .contains("allow_unenforced_create_only: true"),
            "{e}"
        );
        assert!(
            mem.list("").await.unwrap().is_empty(),
            "something was written"
        );
        assert!(!t.path().join("key").exists(), "a key was generated");

        let (_t, dr) = cloud_dr(true, Arc::new(IgnoresCreateOnly(mem.clone())));
        let r = dr.create_repository(true).await.unwrap();
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("allowed by allow_unenforced_create_only")),
            "{:?}",
            r.warnings
        );
        assert!(
            mem.list("tmp/").await.unwrap().is_empty(),
            "probe left behind"
        );

        // A store that enforces it is created without a word about it.
        let (_t, dr) = cloud_dr(false, Arc::new(MemoryStorage::new()));
        let r = dr.create_repository(true).await.unwrap();
        assert!(
            !r.warnings.iter().any(|w| w.contains("create-only")),
            "{:?}",
            r.warnings
        );
    }
}
