//! The repository format: config and keys, envelopes, volumes, manifests, catalog, locks, and the
//! history of validations, restore tests and RTO/RPO measurements.
//!
//! `docs/FORMAT.md` is the normative description; this module is its implementation.

pub mod blockmap;
pub mod blockvol;
pub mod bounded;
pub mod catalog;
pub mod config;
pub mod crypto;
pub mod envelope;
pub mod hash;
pub mod history;
mod history_payload;
mod ids;
pub mod keys;
pub mod kind;
pub mod locks;
pub mod manifest;
pub mod paths;
pub mod replica;
pub mod tar_reader;
pub mod timing;
pub mod volume;

use bytes::Bytes;
use chrono::Utc;

use crate::action::{Action, Advice};
use crate::error::{Error, ErrorKind, Result};
use crate::storage::DynStorage;
use bounded::{
    MAX_CHECKSUMS_BYTES, MAX_CONFIG_BYTES, MAX_MANIFEST_JSON, MAX_MANIFEST_SEALED, read_bounded,
    unseal_json,
};
use catalog::Unfinished;
use config::{ENCRYPTION_AES, ENCRYPTION_NONE, FORMAT_NAME, FORMAT_VERSION, RepoConfig};
use crypto::{Credential, KeySlot, SecretKey, SlotVersion};
use envelope::{DEFAULT_FRAME_SIZE, ObjectContext, ObjectKind};
use manifest::{ChecksumItem, ChecksumList, Manifest, ManifestSummary};

pub use ids::{ID_TIME_FORMAT, check_backup_id, id_time, new_backup_id, new_point_id};
pub use kind::BackupType;

pub use keys::{
    BACKUPS_PREFIX, CHECKSUMS_NAME, CONFIG_KEY, LOCKS_PREFIX, MANIFEST_NAME, backup_key,
    volume_name,
};

pub use hash::sha256_hex;

/// An open repository: its store, its config and (when encrypted) the unwrapped master key.
#[derive(Debug, Clone)]
pub struct Repository {
    storage: DynStorage,
    config: RepoConfig,
    master: Option<SecretKey>,
    /// A version 1 config without `auth`, as the first write of a key holder replaces it.
    pending_auth: std::sync::Arc<std::sync::Mutex<Option<RepoConfig>>>,
    /// The config as this process last wrote it, once it has (the base of a format upgrade).
    written: std::sync::Arc<std::sync::Mutex<Option<RepoConfig>>>,
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
            .with_guidance("nothing was changed; use the existing repository, or choose another backup.directory (or backup.storage.primary)"));
        }
        let repository_id = hex::encode(crypto::random_bytes::<16>());
        let (master, slots, encryption) = match credential {
            Some(c) => {
                let master = SecretKey::random();
                let slot = KeySlot::wrap(&master, c, &repository_id, "slot-1")?;
                (Some(master), vec![slot], ENCRYPTION_AES)
            }
            None => (None, Vec::new(), ENCRYPTION_NONE),
        };
        let mut config = RepoConfig {
            format: FORMAT_NAME.to_string(),
            version: FORMAT_VERSION,
            repository_id,
            created: Utc::now(),
            encryption: encryption.to_string(),
            frame_size: DEFAULT_FRAME_SIZE,
            key_slots: slots,
            auth: None,
        };
        if let Some(m) = &master {
            config.authenticate(m);
        }
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
            pending_auth: Default::default(),
            written: Default::default(),
        })
    }

    async fn read_config(storage: &DynStorage) -> Result<RepoConfig> {
        let raw = match read_bounded(
            storage,
            CONFIG_KEY,
            MAX_CONFIG_BYTES,
            "the repository config",
        )
        .await
        {
            Ok(r) => r,
            Err(e) if e.kind == ErrorKind::NotFound => {
                return Err(Error::not_found(format!(
                    "there is no repository at {}",
                    storage.describe()
                ))
                .with_next(Advice::step(
                    Action::Init { generate_key: true },
                    "for a new repository and key (without --generate-key to use an existing key)",
                ))
                .with_guidance("or check backup.directory (or backup.storage.primary)"));
            }
            Err(e) => return Err(e),
        };
        let config: RepoConfig = serde_json::from_slice(&raw).map_err(|e| {
            Error::integrity(format!(
                "the repository config at {} is not readable: {e}",
                storage.describe()
            ))
        })?;
        config.check_shape(&storage.describe())?;
        Ok(config)
    }

    /// Open a repository; an encrypted one needs a credential that opens one of its key slots,
    /// and its config must carry a valid authentication code (or be a version 1 config written
    /// before codes existed, which the first write of this key holder authenticates).
    pub async fn open(storage: DynStorage, credential: Option<&Credential>) -> Result<Repository> {
        let config = Self::read_config(&storage).await?;
        let describe = storage.describe();
        let altered = |what: &str| {
            Error::key(format!(
                "the repository config at {describe} was altered: {what}"
            ))
            .with_guidance(
                "nothing was read or written. Someone with write access to the store changed \
                     `config`: restore it from a replica or an earlier copy of the repository, and \
                     find out who can write to the store",
            )
        };
        let (master, pending) = match (config.encryption.as_str(), credential) {
            (ENCRYPTION_NONE, None) => (None, None),
            (ENCRYPTION_NONE, Some(_)) => {
                return Err(altered(
                    "it says the repository is not encrypted, but the settings name a key. An \
                     encrypted repository never becomes unencrypted: opening it so would hide \
                     every encrypted backup and write new ones in clear (an encryption downgrade)",
                )
                .with_guidance(
                    "nothing was read or written. If this repository really was created without \
                     encryption, set backup.encryption.enabled: false; otherwise restore `config` \
                     from a replica or an earlier copy and find out who can write to the store",
                ));
            }
            (_, None) => {
                return Err(Error::key(format!(
                    "the repository at {describe} is encrypted, and encryption is disabled in the settings"
                ))
                .with_guidance(
                    "set backup.encryption.enabled: true and key_path to the repository's key",
                ));
            }
            (_, Some(c)) => {
                let mut found = None;
                for slot in &config.key_slots {
                    if let Some((k, version)) = slot.unwrap_key(c, &config.repository_id)? {
                        found = Some((k, version, slot.id.clone()));
                        break;
                    }
                }
                let (master, version, slot_id) = found.ok_or_else(|| {
                    Error::key(format!(
                        "this key does not open the repository at {describe} (it has {} key slot(s); none accepts this key)",
                        config.key_slots.len()
                    ))
                    .with_guidance("use the key this repository was created with (from your off-host copy); a wrong key never changes stored data. If it is the right key, the config's key slots or id were altered: restore `config` from a replica or an earlier copy")
                })?;
                let pending = match (&config.auth, version) {
                    (Some(_), _) if config.auth_matches(&master) => None,
                    (Some(_), _) => {
                        return Err(altered(
                            "its authentication code does not match its fields (a cipher, frame \
                             size, id or key slot was changed)",
                        ));
                    }
                    (None, SlotVersion::V2) => {
                        return Err(altered("its authentication code was removed"));
                    }
                    // Written before configs were authenticated: accepted (every field was
                    // checked for shape) and authenticated by this key holder's first write.
                    (None, SlotVersion::V1) => {
                        Some(authenticated_copy(&config, &master, c, &slot_id)?)
                    }
                };
                (Some(master), pending)
            }
        };
        Ok(Repository {
            storage,
            config,
            master,
            pending_auth: std::sync::Arc::new(std::sync::Mutex::new(pending)),
            written: Default::default(),
        })
    }

    /// Open without a key: only keyless checks (sizes, checksum lists) can run; every read of a
    /// sealed object is refused.
    pub async fn open_keyless(storage: DynStorage) -> Result<Repository> {
        let config = Self::read_config(&storage).await?;
        Ok(Repository {
            storage,
            config,
            master: None,
            pending_auth: Default::default(),
            written: Default::default(),
        })
    }

    /// Before the first write of a key holder into a version 1 repository: replace its config by
    /// the authenticated one (same fields, the opening slot rebound as v2, `auth` added).
    async fn authenticate_config(&self) -> Result<()> {
        let pending = match self.pending_auth.lock() {
            Ok(mut p) => p.take(),
            Err(_) => return Err(Error::internal("the config upgrade lock is poisoned")),
        };
        let Some(upgraded) = pending else {
            return Ok(());
        };
        let json = serde_json::to_vec_pretty(&upgraded)
            .map_err(|e| Error::internal(format!("cannot encode config: {e}")))?;
        if let Err(e) = self.storage.put(CONFIG_KEY, Bytes::from(json)).await {
            if let Ok(mut p) = self.pending_auth.lock() {
                *p = Some(upgraded);
            }
            return Err(e.context("adding the authentication code to the repository config"));
        }
        tracing::info!("the repository config now carries an authentication code");
        if let Ok(mut w) = self.written.lock() {
            *w = Some(upgraded);
        }
        Ok(())
    }

    /// Before the first backup this version commits into a repository of an older format:
    /// raise the config's version (authenticated again), so older versions refuse the
    /// repository clearly instead of misreading what this one writes (block maps).
    async fn upgrade_format(&self) -> Result<()> {
        let base = match self.written.lock() {
            Ok(w) => w.clone().unwrap_or_else(|| self.config.clone()),
            Err(_) => return Err(Error::internal("the config upgrade lock is poisoned")),
        };
        if base.version >= FORMAT_VERSION {
            return Ok(());
        }
        let mut upgraded = base;
        upgraded.version = FORMAT_VERSION;
        if let Some(m) = &self.master {
            upgraded.authenticate(m);
        }
        let json = serde_json::to_vec_pretty(&upgraded)
            .map_err(|e| Error::internal(format!("cannot encode config: {e}")))?;
        self.storage
            .put(CONFIG_KEY, Bytes::from(json))
            .await
            .map_err(|e| e.context("upgrading the repository config to this format version"))?;
        tracing::info!("the repository config was upgraded to format version {FORMAT_VERSION}");
        if let Ok(mut w) = self.written.lock() {
            *w = Some(upgraded);
        }
        Ok(())
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
    /// The key that seals and opens objects: `None` in an unencrypted repository. An encrypted
    /// repository opened without its key refuses, so no plain object is ever taken for a sealed one.
    pub fn master(&self) -> Result<Option<&SecretKey>> {
        if self.master.is_none() && self.keyless() {
            return Err(Error::key(format!(
                "the repository at {} is encrypted and was opened without its key",
                self.storage.describe()
            ))
            .with_guidance("set backup.encryption.key_path to the repository's key"));
        }
        Ok(self.master.as_ref())
    }
    pub fn encrypted(&self) -> bool {
        self.master.is_some()
    }
    /// An encrypted repository opened without its key (keyless checks only).
    pub fn keyless(&self) -> bool {
        self.master.is_none() && self.config.encryption != ENCRYPTION_NONE
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
        self.authenticate_config().await?;
        self.upgrade_format().await?;
        let json = serde_json::to_vec(manifest)
            .map_err(|e| Error::internal(format!("cannot encode manifest: {e}")))?;
        if json.len() as u64 > MAX_MANIFEST_JSON {
            // Readers refuse a manifest past this size: never write a backup nobody could read.
            return Err(Error::refused(format!(
                "the manifest of {id} would be {} bytes ({} entries), more than the {MAX_MANIFEST_JSON} a manifest may be",
                json.len(),
                manifest.entries.len()
            ))
            .with_guidance("split the sources over several settings files (repositories), or exclude what need not be kept; nothing was committed"));
        }
        let packed = zstd::bulk::compress(&json, 3)
            .map_err(|e| Error::internal(format!("cannot compress manifest: {e}")))?;
        let sealed = envelope::seal_all(
            self.master()?,
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
            block_map: manifest.summary.block_map.clone(),
        };
        let cj = serde_json::to_vec_pretty(&checksums)
            .map_err(|e| Error::internal(format!("cannot encode checksums: {e}")))?;
        self.storage
            .put(&keys::checksums_key(id), Bytes::from(cj))
            .await?;
        if !self
            .storage
            .put_if_absent(&keys::manifest_key(id), Bytes::from(sealed))
            .await?
        {
            return Err(Error::internal(format!(
                "a manifest for {id} already exists"
            )));
        }
        Ok(item)
    }

    /// Seal and store a backup's block maps (before its manifest, create-only); returns the
    /// checksum item the manifest and the checksum list record.
    pub async fn write_block_map(
        &self,
        backup_id: &str,
        maps: &blockmap::BlockMaps,
    ) -> Result<ChecksumItem> {
        let packed = zstd::bulk::compress(&maps.encode(), 3)
            .map_err(|e| Error::internal(format!("cannot compress block maps: {e}")))?;
        let sealed = envelope::seal_all(
            self.master()?,
            &self.context(ObjectKind::BlockMap, backup_id, 0),
            &packed,
        );
        let item = ChecksumItem {
            name: blockmap::BLOCKMAP_NAME.to_string(),
            size: sealed.len() as u64,
            sha256: sha256_hex(&sealed),
        };
        let key = keys::backup_key(backup_id, blockmap::BLOCKMAP_NAME);
        if !self
            .storage
            .put_if_absent(&key, Bytes::from(sealed))
            .await?
        {
            return Err(Error::internal(format!(
                "a block map for {backup_id} already exists"
            )));
        }
        Ok(item)
    }

    /// Read a backup's (or continuous point's) block maps, checked against the manifest's
    /// record of them (size and SHA-256), opened, bounded and parsed. A point's delta maps come
    /// back resolved: each put in place over its base backup's map, read and checked the same
    /// way, so callers only ever see whole maps.
    pub async fn read_block_map(
        &self,
        backup_id: &str,
        expected: &ChecksumItem,
    ) -> Result<blockmap::BlockMaps> {
        let mut maps = self.read_block_map_object(backup_id, expected).await?;
        if maps.deltas.is_empty() {
            return Ok(maps);
        }
        let what = format!("the block map of {backup_id}");
        let mut bases: std::collections::HashMap<String, blockmap::BlockMaps> =
            std::collections::HashMap::new();
        for d in std::mem::take(&mut maps.deltas) {
            let base_id = maps.backups[d.base as usize].clone();
            if keys::is_point_id(&base_id) {
                return Err(Error::integrity(format!(
                    "{what}: the delta map of {} is based on another point ({base_id})",
                    d.path
                )));
            }
            if !bases.contains_key(&base_id) {
                let summary = self.read_summary(&base_id).await.map_err(|e| {
                    e.context(format!("reading the base of the delta map of {}", d.path))
                })?;
                let item = summary.block_map.ok_or_else(|| {
                    Error::integrity(format!(
                        "{what}: the delta map of {} is based on {base_id}, which has no block map",
                        d.path
                    ))
                })?;
                let base = self.read_block_map_object(&base_id, &item).await?;
                bases.insert(base_id.clone(), base);
            }
            let base = &bases[&base_id];
            let file = base.file(&d.path).ok_or_else(|| {
                Error::integrity(format!(
                    "{what}: the delta map of {} is based on {base_id}, which holds no map of it",
                    d.path
                ))
            })?;
            let resolved = maps.resolve_delta(&d, file, &base.backups, &what)?;
            maps.files.push(resolved);
        }
        maps.files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(maps)
    }

    /// One block map object as it is stored (a point's delta maps not resolved).
    async fn read_block_map_object(
        &self,
        backup_id: &str,
        expected: &ChecksumItem,
    ) -> Result<blockmap::BlockMaps> {
        check_backup_id(backup_id)?;
        let what = format!("the block map of {backup_id}");
        let key = keys::backup_key(backup_id, blockmap::BLOCKMAP_NAME);
        let sealed = read_bounded(&self.storage, &key, expected.size, &what)
            .await
            .map_err(|e| {
                if e.kind == ErrorKind::NotFound {
                    Error::integrity(format!("{what} is missing"))
                } else {
                    e
                }
            })?;
        if sealed.len() as u64 != expected.size || sha256_hex(&sealed) != expected.sha256 {
            return Err(Error::integrity(format!(
                "{what} does not match the manifest's checksum (damaged or replaced)"
            )));
        }
        let packed = envelope::open_all(
            self.master()?,
            &self.context(ObjectKind::BlockMap, backup_id, 0),
            &sealed,
        )?;
        let mut plain = Vec::new();
        let dec = zstd::stream::Decoder::new(&packed[..])
            .map_err(|e| Error::integrity(format!("{what} does not decompress: {e}")))?;
        std::io::Read::read_to_end(
            &mut std::io::Read::take(dec, blockmap::MAX_MAP_BYTES + 1),
            &mut plain,
        )
        .map_err(|e| Error::integrity(format!("{what} does not decompress: {e}")))?;
        if plain.len() as u64 > blockmap::MAX_MAP_BYTES {
            return Err(Error::integrity(format!("{what} is larger than any map")));
        }
        blockmap::BlockMaps::decode(&plain, &what)
    }

    /// A manifest's sealed bytes (bounded), or a `NotFound` naming the backup.
    async fn sealed_manifest(&self, backup_id: &str) -> Result<Bytes> {
        check_backup_id(backup_id)?;
        let key = keys::manifest_key(backup_id);
        read_bounded(
            &self.storage,
            &key,
            MAX_MANIFEST_SEALED,
            &format!("the manifest of {backup_id}"),
        )
        .await
        .map_err(|e| {
            if e.kind == ErrorKind::NotFound {
                Error::not_found(format!("there is no backup {backup_id}"))
                    .with_next(Advice::step(Action::ListBackups, "to see the backups"))
            } else {
                e
            }
        })
    }

    async fn manifest_as<T: serde::de::DeserializeOwned + Send + 'static>(
        &self,
        backup_id: &str,
        streamed: bool,
    ) -> Result<T> {
        let sealed = self.sealed_manifest(backup_id).await?;
        let master = self.master()?.cloned();
        let ctx = self.context(ObjectKind::Manifest, backup_id, u32::MAX);
        let what = format!("the manifest of {backup_id}");
        // Decrypting, decompressing and parsing is CPU work: on a blocking thread, so several
        // manifests (a catalog's summaries) are opened on several cores at once.
        tokio::task::spawn_blocking(move || {
            unseal_json(
                master.as_ref(),
                ctx,
                &sealed,
                MAX_MANIFEST_JSON,
                &what,
                streamed,
            )
        })
        .await
        .map_err(|e| Error::internal(format!("opening {backup_id}'s manifest failed: {e}")))?
    }

    pub async fn read_manifest(&self, backup_id: &str) -> Result<Manifest> {
        self.manifest_as(backup_id, false).await
    }

    /// The manifest without its entries: parsed while decompressing, so listing many backups
    /// holds no manifest's entries in memory.
    pub async fn read_summary(&self, backup_id: &str) -> Result<ManifestSummary> {
        self.manifest_as(backup_id, true).await
    }

    pub async fn read_checksums(&self, backup_id: &str) -> Result<ChecksumList> {
        check_backup_id(backup_id)?;
        let raw = read_bounded(
            &self.storage,
            &keys::checksums_key(backup_id),
            MAX_CHECKSUMS_BYTES,
            &format!("the checksum list of {backup_id}"),
        )
        .await?;
        serde_json::from_slice(&raw).map_err(|e| {
            Error::integrity(format!(
                "the checksum list of {backup_id} is not valid: {e}"
            ))
        })
    }

    /// Remove a backup: its manifest first (from that moment the backup no longer exists), then
    /// every other object in its folder, then the folder. The caller holds the exclusive lock
    /// and has checked that no kept backup needs this one.
    pub async fn remove_backup(&self, backup_id: &str) -> Result<()> {
        check_backup_id(backup_id)?;
        self.storage.delete(&keys::manifest_key(backup_id)).await?;
        let folder = keys::backup_folder(backup_id);
        for o in self.storage.list(&folder).await? {
            self.storage.delete(&o.key).await?;
        }
        self.storage.delete_folder(&folder).await
    }

    /// Remove what an unfinished backup (no manifest: crashed, killed or cancelled) left: the
    /// objects the catalog listed, then its folder. Under the exclusive lock no backup is running,
    /// so every unfinished backup is an orphan.
    pub async fn discard_unfinished(&self, unfinished: &Unfinished) -> Result<()> {
        for o in &unfinished.objects {
            self.storage.delete(&o.key).await?;
        }
        self.storage
            .delete_folder(&keys::backup_folder(&unfinished.backup_id))
            .await
    }

    /// Best effort, after a backup failed before its manifest was written: remove every object
    /// written into its folder, and the folder. What a crash skips stays for `discard_unfinished`.
    pub async fn discard_failed_backup(&self, backup_id: &str) {
        let folder = keys::backup_folder(backup_id);
        if let Ok(objs) = self.storage.list(&folder).await {
            for o in objs {
                let _ = self.storage.delete(&o.key).await;
            }
            let _ = self.storage.delete_folder(&folder).await;
        }
    }
}

/// `config` as a key holder's first write leaves it: the slot that opened it rebound as v2 (the
/// config carries `auth`), then `auth` added. Other fields are kept as they are.
fn authenticated_copy(
    config: &RepoConfig,
    master: &SecretKey,
    credential: &Credential,
    slot_id: &str,
) -> Result<RepoConfig> {
    let mut out = config.clone();
    for slot in out.key_slots.iter_mut().filter(|s| s.id == slot_id) {
        let created = slot.created;
        *slot = KeySlot::wrap(master, credential, &config.repository_id, slot_id)?;
        slot.created = created;
    }
    out.authenticate(master);
    Ok(out)
}
