//! The repository format: config and keys, envelopes, volumes, manifests, catalog, locks.
//!
//! `docs/FORMAT.md` is the normative description; this module is its implementation.

pub mod catalog;
pub mod config;
pub mod crypto;
pub mod envelope;
pub mod hash;
pub mod history;
pub mod kind;
pub mod locks;
pub mod manifest;
pub mod paths;
pub mod timing;
pub mod volume;

use bytes::Bytes;
use chrono::Utc;

use crate::error::{Error, ErrorKind, Result};
use crate::storage::DynStorage;
use config::{FORMAT_NAME, FORMAT_VERSION, RepoConfig};
use crypto::{Credential, KeySlot, SecretKey};
use envelope::{DEFAULT_FRAME_SIZE, ObjectContext, ObjectKind};
use manifest::{ChecksumItem, ChecksumList, Manifest, ManifestSummary};

pub use kind::{BackupType, check_backup_id, new_backup_id};

pub const CONFIG_KEY: &str = "config";
pub const BACKUPS_PREFIX: &str = "backups/";
pub const LOCKS_PREFIX: &str = "locks/";
pub const MANIFEST_NAME: &str = "manifest";
pub const CHECKSUMS_NAME: &str = "checksums.json";

/// Object key of something inside a backup's folder.
pub fn backup_key(backup_id: &str, name: &str) -> String {
    format!("{BACKUPS_PREFIX}{backup_id}/{name}")
}

/// Name of volume `index` inside its backup's folder.
pub fn volume_name(index: u32) -> String {
    format!("vol-{index:05}")
}

pub use hash::sha256_hex;

/// An open repository: its store, its config and (when encrypted) the unwrapped master key.
#[derive(Debug, Clone)]
pub struct Repository {
    storage: DynStorage,
    config: RepoConfig,
    master: Option<SecretKey>,
}

impl Repository {
    /// Whether a repository (its config object) exists in this store.
    pub async fn exists(storage: &DynStorage) -> Result<bool> {
        Ok(storage.size(CONFIG_KEY).await?.is_some())
    }

    /// Create a repository. `credential` None: unencrypted.
    pub async fn init(storage: DynStorage, credential: Option<&Credential>) -> Result<Repository> {
        if Self::exists(&storage).await? {
            return Err(Error::refused(format!(
                "a repository already exists at {}",
                storage.describe()
            ))
            .with_guidance("nothing was changed; use the existing repository, or choose another backup.directory"));
        }
        let repository_id = hex::encode(crypto::random_bytes::<16>());
        let (master, slots, encryption) = match credential {
            Some(c) => {
                let master = SecretKey::random();
                let slot = KeySlot::wrap(&master, c, &repository_id, "slot-1")?;
                (Some(master), vec![slot], "aes-256-gcm")
            }
            None => (None, Vec::new(), "none"),
        };
        let config = RepoConfig {
            format: FORMAT_NAME.to_string(),
            version: FORMAT_VERSION,
            repository_id,
            created: Utc::now(),
            encryption: encryption.to_string(),
            frame_size: DEFAULT_FRAME_SIZE,
            key_slots: slots,
        };
        let json = serde_json::to_vec_pretty(&config)
            .map_err(|e| Error::internal(format!("cannot encode config: {e}")))?;
        if !storage.put_if_absent(CONFIG_KEY, Bytes::from(json)).await? {
            return Err(Error::refused(
                "another process created the repository at the same time",
            ));
        }
        Ok(Repository {
            storage,
            config,
            master,
        })
    }

    async fn read_config(storage: &DynStorage) -> Result<RepoConfig> {
        let raw = match storage.get(CONFIG_KEY).await {
            Ok(r) => r,
            Err(e) if e.kind == ErrorKind::NotFound => {
                return Err(Error::not_found(format!(
                    "there is no repository at {}",
                    storage.describe()
                ))
                .with_guidance("run `mahavishnu-dr init` (add --generate-key for a new key), or check backup.directory"));
            }
            Err(e) => return Err(e),
        };
        let config: RepoConfig = serde_json::from_slice(&raw).map_err(|e| {
            Error::integrity(format!(
                "the repository config at {} is not readable: {e}",
                storage.describe()
            ))
        })?;
        if config.format != FORMAT_NAME || config.version != FORMAT_VERSION {
            return Err(Error::integrity(format!(
                "{} holds format {} version {}, this mahavishnu-dr reads {FORMAT_NAME} version {FORMAT_VERSION}",
                storage.describe(),
                config.format,
                config.version
            )));
        }
        Ok(config)
    }

    /// Open a repository; an encrypted one needs a credential that opens one of its key slots.
    pub async fn open(storage: DynStorage, credential: Option<&Credential>) -> Result<Repository> {
        let config = Self::read_config(&storage).await?;
        let master = match (config.encryption.as_str(), credential) {
            ("none", _) => None,
            ("aes-256-gcm", None) => {
                return Err(Error::key(format!(
                    "the repository at {} is encrypted, and encryption is disabled in the settings",
                    storage.describe()
                ))
                .with_guidance(
                    "set backup.encryption.enabled: true and key_path to the repository's key",
                ));
            }
            ("aes-256-gcm", Some(c)) => {
                let mut found = None;
                for slot in &config.key_slots {
                    if let Some(k) = slot.unwrap_key(c, &config.repository_id)? {
                        found = Some(k);
                        break;
                    }
                }
                Some(found.ok_or_else(|| {
                    Error::key(format!(
                        "this key does not open the repository at {} (it has {} key slot(s); none accepts this key)",
                        storage.describe(),
                        config.key_slots.len()
                    ))
                    .with_guidance("use the key this repository was created with (from your off-host copy); a wrong key never changes stored data")
                })?)
            }
            (other, _) => {
                return Err(Error::integrity(format!(
                    "unknown repository encryption {other:?}"
                )));
            }
        };
        Ok(Repository {
            storage,
            config,
            master,
        })
    }

    /// Open without a key: only keyless checks (sizes, checksum lists) can run.
    pub async fn open_keyless(storage: DynStorage) -> Result<Repository> {
        let config = Self::read_config(&storage).await?;
        Ok(Repository {
            storage,
            config,
            master: None,
        })
    }

    pub fn storage(&self) -> &DynStorage {
        &self.storage
    }
    pub fn config(&self) -> &RepoConfig {
        &self.config
    }
    pub fn id(&self) -> &str {
        &self.config.repository_id
    }
    pub fn master(&self) -> Option<&SecretKey> {
        self.master.as_ref()
    }
    pub fn encrypted(&self) -> bool {
        self.master.is_some()
    }
    pub fn frame_size(&self) -> u32 {
        self.config.frame_size
    }

    pub fn context(&self, kind: ObjectKind, name: &str, index: u32) -> ObjectContext {
        ObjectContext {
            repo_id: self.config.repository_id.clone(),
            kind,
            name: name.to_string(),
            index,
        }
    }

    pub fn volume_context(&self, backup_id: &str, index: u32) -> ObjectContext {
        self.context(ObjectKind::Volume, backup_id, index)
    }

    /// Seal and store a manifest, preceded by its keyless checksum list. The manifest is written
    /// last and only if absent: the backup exists from that moment.
    pub async fn commit_manifest(&self, manifest: &Manifest) -> Result<ChecksumItem> {
        let id = &manifest.summary.backup_id;
        let json = serde_json::to_vec(manifest)
            .map_err(|e| Error::internal(format!("cannot encode manifest: {e}")))?;
        let packed = zstd::bulk::compress(&json, 3)
            .map_err(|e| Error::internal(format!("cannot compress manifest: {e}")))?;
        let sealed = envelope::seal_all(
            self.master(),
            &self.context(ObjectKind::Manifest, id, u32::MAX),
            &packed,
        );
        let item = ChecksumItem {
            name: MANIFEST_NAME.to_string(),
            size: sealed.len() as u64,
            sha256: sha256_hex(&sealed),
        };
        let checksums = ChecksumList {
            backup_id: id.clone(),
            volumes: manifest
                .summary
                .volumes
                .iter()
                .map(|v| ChecksumItem {
                    name: v.name.clone(),
                    size: v.stored_bytes,
                    sha256: v.sha256.clone(),
                })
                .collect(),
            manifest: item.clone(),
        };
        let cj = serde_json::to_vec_pretty(&checksums)
            .map_err(|e| Error::internal(format!("cannot encode checksums: {e}")))?;
        self.storage
            .put(&backup_key(id, CHECKSUMS_NAME), Bytes::from(cj))
            .await?;
        if !self
            .storage
            .put_if_absent(&backup_key(id, MANIFEST_NAME), Bytes::from(sealed))
            .await?
        {
            return Err(Error::internal(format!(
                "a manifest for {id} already exists"
            )));
        }
        Ok(item)
    }

    async fn manifest_json(&self, backup_id: &str) -> Result<Vec<u8>> {
        check_backup_id(backup_id)?;
        let key = backup_key(backup_id, MANIFEST_NAME);
        let sealed = self.storage.get(&key).await.map_err(|e| {
            if e.kind == ErrorKind::NotFound {
                Error::not_found(format!("there is no backup {backup_id}"))
                    .with_guidance("`mahavishnu-dr backup list` shows the backups")
            } else {
                e
            }
        })?;
        let packed = envelope::open_all(
            self.master(),
            &self.context(ObjectKind::Manifest, backup_id, u32::MAX),
            &sealed,
        )?;
        zstd::stream::decode_all(&packed[..]).map_err(|e| {
            Error::integrity(format!(
                "the manifest of {backup_id} does not decompress: {e}"
            ))
        })
    }

    pub async fn read_manifest(&self, backup_id: &str) -> Result<Manifest> {
        let json = self.manifest_json(backup_id).await?;
        serde_json::from_slice(&json)
            .map_err(|e| Error::integrity(format!("the manifest of {backup_id} is not valid: {e}")))
    }

    pub async fn read_summary(&self, backup_id: &str) -> Result<ManifestSummary> {
        let json = self.manifest_json(backup_id).await?;
        serde_json::from_slice(&json)
            .map_err(|e| Error::integrity(format!("the manifest of {backup_id} is not valid: {e}")))
    }

    pub async fn read_checksums(&self, backup_id: &str) -> Result<ChecksumList> {
        let raw = self
            .storage
            .get(&backup_key(backup_id, CHECKSUMS_NAME))
            .await?;
        serde_json::from_slice(&raw).map_err(|e| {
            Error::integrity(format!(
                "the checksum list of {backup_id} is not valid: {e}"
            ))
        })
    }
}
