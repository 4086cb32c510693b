//! Integrity checks of stored backups, at three levels: quick (structure: manifests readable,
//! volumes present with the right sizes, chains intact), checksum (keyless: every stored object's
//! SHA-256 against the checksum list) and full (every volume decrypted and every file's SHA-256
//! checked). `backup validate`, the posture evidence, a backup's own read-back and drills use it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::sync::Arc;
use std::time::Instant;

use crate::repo::hash::{Sha256, describe_text, parse_sha256_hex, short_digest};
use futures::StreamExt;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::assemble::{VolumeAt, blocks_in};
use super::{Cancel, Dr, Progress, secs, with_lock};
use crate::error::{Error, ErrorKind, Result};
use crate::repo::Repository;
use crate::repo::blockmap::BLOCKMAP_NAME;
use crate::repo::catalog::{Catalog, committed_ids};
use crate::repo::keys::{
    BACKUPS_PREFIX, MANIFEST_NAME, POINTS_PREFIX, backup_folder, backup_key, is_point_id,
    split_backup_key, split_point_key,
};
use crate::repo::locks::LockMode;
use crate::repo::manifest::{ChecksumItem, Manifest, VolumeContent};
use crate::repo::volume::{HashingReader, read_volume};
use crate::storage::bridge::BlockingObjectReader;

pub use crate::repo::kind::ValidationLevel;

/// One thing found wrong.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Problem {
    pub backup_id: String,
    /// The volume (object name) concerned, if one is.
    pub volume: Option<String>,
    /// The stored file concerned, if one is.
    pub path: Option<String>,
    pub problem: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BackupCheck {
    pub backup_id: String,
    pub ok: bool,
    pub volumes_checked: u64,
    pub files_checked: u64,
    pub problems: u64,
}

#[derive(Debug, Default)]
pub(crate) struct VolumeChecks {
    pub problems: Vec<Problem>,
    pub volumes: u64,
    pub files: u64,
    pub bytes: u64,
    /// Per backup: (volumes, files) checked.
    pub per_backup: BTreeMap<String, (u64, u64)>,
}

impl VolumeChecks {
    /// Add the outcome of each volume of `backup_id` read (a volume that could not be read is a
    /// problem of it); a cancel ends it.
    fn add_volumes(&mut self, backup_id: &str, results: Vec<VolumeCheck>) -> Result<()> {
        for (name, r) in results {
            match r {
                Ok((bytes, files, problems)) => {
                    self.count(backup_id, 1, files);
                    self.bytes += bytes;
                    self.problems.extend(problems);
                }
                Err(e) if e.kind == ErrorKind::Cancelled => return Err(e),
                Err(e) => {
                    self.count(backup_id, 1, 0);
                    self.problems
                        .push(problem(backup_id, Some(&name), e.message));
                }
            }
        }
        Ok(())
    }

    fn count(&mut self, backup_id: &str, volumes: u64, files: u64) {
        self.volumes += volumes;
        self.files += files;
        let e = self.per_backup.entry(backup_id.to_string()).or_default();
        e.0 += volumes;
        e.1 += files;
    }
}

/// (backup id, object name, bytes or what is wrong).
type ObjectCheck = (String, String, Result<u64>);
/// (volume name, (bytes read, files checked, problems) or what is wrong).
type VolumeCheck = (String, Result<(u64, u64, Vec<Problem>)>);

fn problem(backup_id: &str, volume: Option<&str>, text: impl Into<String>) -> Problem {
    Problem {
        backup_id: backup_id.to_string(),
        volume: volume.map(str::to_string),
        path: None,
        problem: text.into(),
    }
}

/// What an integrity check found, before anyone presents or keeps it.
#[derive(Debug)]
pub(crate) struct IntegrityReport {
    /// Everything found wrong, structure first.
    pub problems: Vec<Problem>,
    /// Per backup checked, by id.
    pub backups: Vec<BackupCheck>,
    pub volumes_checked: u64,
    pub files_checked: u64,
    /// Stored bytes read.
    pub bytes_read: u64,
    pub duration_seconds: f64,
}

impl Dr {
    /// Check `only` (one backup and the backups its chain reads) or every backup, under a shared
    /// lock. A checksum check needs no key: without it the storage-side checks run keyless.
    pub(crate) async fn check_integrity(
        &self,
        only: Option<&str>,
        level: ValidationLevel,
        sample_percent: f64,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<IntegrityReport> {
        if !(sample_percent > 0.0 && sample_percent <= 100.0) {
            return Err(Error::usage(format!(
                "sample percent {sample_percent} is out of range: give a number above 0 and at most 100"
            )));
        }
        let repo = match self.open_repo().await {
            Ok(r) => r,
            // A checksum check needs no key: storage-side checks run without it.
            Err(e) if e.kind == ErrorKind::Key && level == ValidationLevel::Checksum => {
                Repository::open_keyless(self.storage.clone()).await?
            }
            Err(e) => return Err(e),
        };
        let guard = self
            .lock(LockMode::Shared, "backup validate", &*progress, cancel)
            .await?;
        with_lock(
            guard,
            self.integrity_locked(&repo, only, level, sample_percent, progress, cancel),
        )
        .await
    }

    async fn integrity_locked(
        &self,
        repo: &Repository,
        only: Option<&str>,
        level: ValidationLevel,
        sample_percent: f64,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<IntegrityReport> {
        let t0 = Instant::now();
        let mut problems = Vec::new();
        let mut per: BTreeMap<String, BackupCheck> = BTreeMap::new();
        let mut totals = VolumeChecks::default();

        if level == ValidationLevel::Checksum && repo.keyless() {
            let ids = self.keyless_ids(repo, only).await?;
            for id in &ids {
                per.insert(id.clone(), new_check(id));
            }
            let c = self
                .checksum_check(repo, &ids, sample_percent, &progress, cancel)
                .await?;
            merge(&mut per, &mut totals, c);
        } else {
            let mut catalog = Catalog::load(repo).await?;
            // Continuous points are checked like backups (every one, or the one named).
            if only.is_none_or(is_point_id) {
                catalog.load_points(repo).await?;
                catalog.unreadable.append(&mut catalog.unreadable_points);
            }
            let ids: Vec<String> = match only {
                Some(id) => {
                    let b = self.resolve_backup(&catalog, id, None)?;
                    let mut set: BTreeSet<String> = b.depends_on.iter().cloned().collect();
                    set.insert(b.backup_id.clone());
                    if let Ok(chain) = catalog.chain(&b.backup_id) {
                        set.extend(chain.iter().map(|c| c.backup_id.clone()));
                    }
                    set.into_iter().collect()
                }
                None => {
                    let mut v: Vec<String> = catalog
                        .backups
                        .iter()
                        .chain(&catalog.points)
                        .map(|b| b.backup_id.clone())
                        .collect();
                    v.extend(catalog.unreadable.iter().map(|u| u.backup_id.clone()));
                    v.sort();
                    v
                }
            };
            for id in &ids {
                per.insert(id.clone(), new_check(id));
            }
            for u in &catalog.unreadable {
                if per.contains_key(&u.backup_id) {
                    problems.push(problem(
                        &u.backup_id,
                        Some(MANIFEST_NAME),
                        format!("the manifest cannot be read: {}", u.error.message),
                    ));
                }
            }
            // Quick: structure of every selected backup.
            // Full level reads one manifest at a time (they are large), after the quick checks.
            let mut full_ids: Vec<String> = Vec::new();
            for id in &ids {
                let Some(summary) = catalog.get(id) else {
                    continue;
                };
                if let Err(e) = catalog.chain(id) {
                    problems.push(problem(id, None, e.message));
                }
                for dep in &summary.depends_on {
                    if catalog.get(dep).is_none() {
                        problems.push(problem(
                            id,
                            None,
                            format!("it reads files from {dep}, which is missing or unreadable"),
                        ));
                    }
                }
                let present: BTreeMap<String, u64> = repo
                    .storage()
                    .list(&backup_folder(id))
                    .await?
                    .into_iter()
                    .map(|o| (o.key, o.size))
                    .collect();
                for v in &summary.volumes {
                    match present.get(&backup_key(id, &v.name)) {
                        None => problems.push(problem(id, Some(&v.name), "the volume is missing")),
                        Some(&size) if size != v.stored_bytes => problems.push(problem(
                            id,
                            Some(&v.name),
                            format!(
                                "the volume has {size} bytes, the manifest says {} (truncated or damaged)",
                                v.stored_bytes
                            ),
                        )),
                        _ => {}
                    }
                }
                if let Some(m) = &summary.block_map {
                    match present.get(&backup_key(id, BLOCKMAP_NAME)) {
                        None => problems.push(problem(id, Some(BLOCKMAP_NAME), "the block map is missing")),
                        Some(&size) if size != m.size => problems.push(problem(
                            id,
                            Some(BLOCKMAP_NAME),
                            format!("the block map has {size} bytes, the manifest says {} (truncated or damaged)", m.size),
                        )),
                        _ => {}
                    }
                }
                if level == ValidationLevel::Full {
                    full_ids.push(id.clone());
                }
            }
            match level {
                ValidationLevel::Quick => {
                    let mut c = VolumeChecks::default();
                    for b in ids.iter().filter_map(|i| catalog.get(i)) {
                        c.count(&b.backup_id, b.volumes.len() as u64, 0);
                    }
                    merge(&mut per, &mut totals, c);
                }
                ValidationLevel::Checksum => {
                    let ids: Vec<String> = ids
                        .iter()
                        .filter(|i| catalog.get(i).is_some())
                        .cloned()
                        .collect();
                    let c = self
                        .checksum_check(repo, &ids, sample_percent, &progress, cancel)
                        .await?;
                    // The checksum list must agree with the (authenticated) manifest.
                    for id in &ids {
                        if let (Some(s), Ok(list)) =
                            (catalog.get(id), repo.read_checksums(id).await)
                        {
                            for v in &s.volumes {
                                if !list
                                    .volumes
                                    .iter()
                                    .any(|c| c.name == v.name && c.sha256 == v.sha256)
                                {
                                    problems.push(problem(
                                        id,
                                        Some(&v.name),
                                        "the keyless checksum list disagrees with the manifest",
                                    ));
                                }
                            }
                        }
                    }
                    merge(&mut per, &mut totals, c);
                }
                ValidationLevel::Full => {
                    let total: u64 = full_ids
                        .iter()
                        .filter_map(|i| catalog.get(i))
                        .map(|s| s.totals.bytes_stored_content)
                        .sum();
                    progress.phase("validating", Some(total));
                    for id in &full_ids {
                        let m = repo.read_manifest(id).await?;
                        // Restore refuses unsafe paths; validation must report them.
                        for e in &m.entries {
                            if let Err(err) = crate::repo::paths::check_stored_path(&e.path) {
                                problems.push(Problem {
                                    backup_id: id.clone(),
                                    volume: None,
                                    path: Some(e.path.clone()),
                                    problem: err.message,
                                });
                            }
                        }
                        let sample = sample_volumes(m.summary.volumes.len(), sample_percent);
                        let c = self
                            .verify_volumes(repo, &m, Some(&sample), progress.clone(), cancel)
                            .await?;
                        merge(&mut per, &mut totals, c);
                    }
                }
            }
        }
        if cancel.is_cancelled() {
            return Err(super::cancelled());
        }
        progress.finish();
        for p in &problems {
            if let Some(c) = per.get_mut(&p.backup_id) {
                c.problems += 1;
            }
        }
        problems.append(&mut totals.problems);
        for c in per.values_mut() {
            c.ok = c.problems == 0;
        }
        Ok(IntegrityReport {
            problems,
            backups: per.into_values().collect(),
            volumes_checked: totals.volumes,
            files_checked: totals.files,
            bytes_read: totals.bytes,
            duration_seconds: secs(t0.elapsed()),
        })
    }

    /// Backup ids that have a manifest object, without reading any manifest.
    async fn keyless_ids(&self, repo: &Repository, only: Option<&str>) -> Result<Vec<String>> {
        let store = repo.storage();
        let mut ids = committed_ids(store, BACKUPS_PREFIX, split_backup_key).await?;
        let points = committed_ids(store, POINTS_PREFIX, split_point_key).await?;
        if only.is_some_and(is_point_id) {
            ids = points;
        } else if only.is_none() {
            ids.extend(points);
        }
        match only {
            Some("latest") => Ok(ids.into_iter().next_back().into_iter().collect()),
            Some(id) if ids.contains(id) => Ok(vec![id.to_string()]),
            Some(id) => Err(Error::not_found(format!("there is no backup {id}"))),
            None => Ok(ids.into_iter().collect()),
        }
    }

    /// Stream every (sampled) volume and the manifest object through SHA-256 and compare with the
    /// keyless checksum list.
    async fn checksum_check(
        &self,
        repo: &Repository,
        ids: &[String],
        sample_percent: f64,
        progress: &Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<VolumeChecks> {
        let mut out = VolumeChecks::default();
        let mut jobs = Vec::new();
        for id in ids {
            let list = match repo.read_checksums(id).await {
                Ok(l) => l,
                Err(e) => {
                    out.problems.push(problem(
                        id,
                        Some(crate::repo::CHECKSUMS_NAME),
                        format!("the checksum list cannot be read: {}", e.message),
                    ));
                    continue;
                }
            };
            let sample = sample_volumes(list.volumes.len(), sample_percent);
            let items = list
                .volumes
                .iter()
                .enumerate()
                .filter(|(i, _)| sample.contains(&(*i as u32)))
                .map(|(_, item)| (item, false))
                .chain(std::iter::once((&list.manifest, true)))
                .chain(list.block_map.iter().map(|m| (m, true)));
            for (item, is_manifest) in items {
                // The list is read from an untrusted store: a damaged entry is a problem of this
                // backup, never a reason to read elsewhere (or to panic on its text).
                match checked_item(item, is_manifest) {
                    Ok(expected) => jobs.push((id.clone(), item.clone(), expected)),
                    Err(why) => {
                        if !is_manifest {
                            out.count(id, 1, 0);
                        }
                        let name = if is_manifest || volume_index(&item.name).is_some() {
                            item.name.clone()
                        } else {
                            describe_text(&item.name, 40)
                        };
                        out.problems.push(problem(
                            id,
                            Some(&name),
                            format!("the checksum list is damaged: {why}"),
                        ));
                    }
                }
            }
        }
        let total: u64 = jobs.iter().map(|(_, i, _)| i.size).sum();
        progress.phase("checksumming", Some(total));
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let results: Vec<ObjectCheck> = futures::stream::iter(jobs)
            .map(|(id, item, expected)| {
                let storage = repo.storage().clone();
                let progress = progress.clone();
                let cancel = cancel.clone();
                async move {
                    let key = backup_key(&id, &item.name);
                    let size = match storage.size(&key).await {
                        Ok(Some(s)) => s,
                        Ok(None) => return (id, item.name.clone(), Err(Error::integrity("the object is missing"))),
                        Err(e) => return (id, item.name.clone(), Err(e)),
                    };
                    let name = item.name.clone();
                    let r = tokio::task::spawn_blocking(move || -> Result<(u64, [u8; 32])> {
                        let mut r = BlockingObjectReader::spawn(storage, key, size);
                        let mut h = Sha256::new();
                        let mut buf = vec![0u8; 1 << 20];
                        let mut n = 0u64;
                        loop {
                            if cancel.is_cancelled() {
                                return Err(super::cancelled());
                            }
                            let k = r.read(&mut buf).map_err(|e| crate::repo::envelope::io_to_integrity(e, &name))?;
                            if k == 0 {
                                break;
                            }
                            h.update(&buf[..k]);
                            n += k as u64;
                            progress.advance(k as u64);
                        }
                        Ok((n, h.finish()))
                    })
                    .await
                    .unwrap_or_else(|e| Err(Error::internal(format!("checksum task failed: {e}"))));
                    let r = r.and_then(|(n, sha)| {
                        if n != item.size {
                            Err(Error::integrity(format!("has {n} bytes, the checksum list says {}", item.size)))
                        } else if sha != expected {
                            Err(Error::integrity(format!(
                                "SHA-256 mismatch: stored bytes hash to {}, expected {} (the object was altered or damaged)",
                                short_digest(&hex::encode(sha), 16),
                                short_digest(&hex::encode(expected), 16)
                            )))
                        } else {
                            Ok(n)
                        }
                    });
                    (id, item.name.clone(), r)
                }
            })
            .buffer_unordered(cores)
            .collect()
            .await;
        for (id, name, r) in results {
            match r {
                Ok(n) => {
                    out.bytes += n;
                    if name != MANIFEST_NAME && name != BLOCKMAP_NAME {
                        out.count(&id, 1, 0);
                    }
                }
                Err(e) if e.kind == ErrorKind::Cancelled => return Err(e),
                Err(e) => {
                    if name != MANIFEST_NAME && name != BLOCKMAP_NAME {
                        out.count(&id, 1, 0);
                    }
                    out.problems.push(problem(&id, Some(&name), e.message));
                }
            }
        }
        Ok(out)
    }

    /// Read back a backup's own volumes (all, or `only`): decrypt, decompress, check every file's
    /// SHA-256 and every volume's stored SHA-256 against the manifest.
    pub(crate) async fn verify_volumes(
        &self,
        repo: &Repository,
        manifest: &Manifest,
        only: Option<&BTreeSet<u32>>,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<VolumeChecks> {
        let id = manifest.summary.backup_id.clone();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let vols: Vec<_> = manifest
            .summary
            .volumes
            .iter()
            .filter(|v| only.is_none_or(|o| o.contains(&v.index)))
            .cloned()
            .collect();
        let key = repo.master()?.cloned();
        // Block volumes are checked block by block against the backup's block map.
        let (block_vols, vols): (Vec<_>, Vec<_>) = vols
            .into_iter()
            .partition(|v| v.content == VolumeContent::Blocks);
        let mut out = VolumeChecks::default();
        if !block_vols.is_empty() {
            let c = self
                .verify_block_volumes(repo, manifest, &block_vols, progress.clone(), cancel)
                .await?;
            out.problems.extend(c.problems);
            out.count(&manifest.summary.backup_id, c.volumes, c.files);
            out.bytes += c.bytes;
        }
        let results: Vec<VolumeCheck> = futures::stream::iter(vols)
            .map(|v| {
                let storage = repo.storage().clone();
                let master = key.clone();
                let ctx = repo.volume_context(&id, v.index);
                let progress = progress.clone();
                let cancel = cancel.clone();
                let id = id.clone();
                let expected: Vec<(String, crate::repo::manifest::Entry)> = manifest
                    .volume_contents(v.index)
                    .into_iter()
                    .map(|(p, e)| (p.to_string(), e.clone()))
                    .collect();
                async move {
                    let key = backup_key(&id, &v.name);
                    let size = match storage.size(&key).await {
                        Ok(Some(s)) => s,
                        Ok(None) => {
                            return (
                                v.name.clone(),
                                Err(Error::integrity("the volume is missing")),
                            );
                        }
                        Err(e) => return (v.name.clone(), Err(e)),
                    };
                    let name = v.name.clone();
                    let r =
                        tokio::task::spawn_blocking(move || -> Result<(u64, u64, Vec<Problem>)> {
                            let reader = BlockingObjectReader::spawn(storage, key, size);
                            // Encrypted volumes: AES-GCM authenticates every stored byte (and the
                            // final-frame flag their completeness), so the volume's stored SHA-256
                            // adds nothing; unencrypted ones are hashed.
                            let mut hashing = HashingReader::new(reader, master.is_none());
                            let map: BTreeMap<&str, &crate::repo::manifest::Entry> =
                                expected.iter().map(|(p, e)| (p.as_str(), e)).collect();
                            let mut problems = Vec::new();
                            let mut files = 0u64;
                            let mut buf = vec![0u8; 256 << 10];
                            read_volume(
                                master.as_ref(),
                                ctx,
                                &mut hashing,
                                &map,
                                &|_| true,
                                &mut |entry, data| {
                                    if cancel.is_cancelled() {
                                        return Err(super::cancelled());
                                    }
                                    let mut h = Sha256::new();
                                    loop {
                                        let k = data.read(&mut buf).map_err(|e| {
                                            crate::repo::envelope::io_to_integrity(e, &entry.path)
                                        })?;
                                        if k == 0 {
                                            break;
                                        }
                                        h.update(&buf[..k]);
                                    }
                                    progress.advance(entry.size);
                                    files += 1;
                                    let got = h.finish_hex();
                                    if Some(&got) != entry.sha256.as_ref() {
                                        problems.push(Problem {
                                            backup_id: id.clone(),
                                            volume: Some(name.clone()),
                                            path: Some(entry.path.clone()),
                                            problem:
                                                "the file's SHA-256 does not match the manifest"
                                                    .into(),
                                        });
                                    }
                                    Ok(())
                                },
                                None,
                            )?;
                            let bytes = hashing.bytes;
                            if let Some(got) = hashing.sha256()
                                && got != v.sha256
                            {
                                problems.push(problem(
                                    &id,
                                    Some(&name),
                                    "the volume's stored SHA-256 does not match the manifest",
                                ));
                            }
                            Ok((bytes, files, problems))
                        })
                        .await
                        .unwrap_or_else(|e| {
                            Err(Error::internal(format!("validation task failed: {e}")))
                        });
                    (v.name.clone(), r)
                }
            })
            .buffer_unordered(cores)
            .collect()
            .await;
        out.add_volumes(&manifest.summary.backup_id, results)?;
        Ok(out)
    }

    /// Check every block a backup stored in its block volumes: each frame decrypted,
    /// decompressed, named and hashed as its block map says. A damaged block is a problem naming
    /// the file, the backup and the volume.
    async fn verify_block_volumes(
        &self,
        repo: &Repository,
        manifest: &Manifest,
        vols: &[crate::repo::manifest::VolumeRecord],
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
    ) -> Result<VolumeChecks> {
        let id = manifest.summary.backup_id.clone();
        let mut out = VolumeChecks::default();
        let Some(item) = &manifest.summary.block_map else {
            out.problems
                .push(problem(&id, None, "it has block volumes but no block map"));
            return Ok(out);
        };
        let maps = match repo.read_block_map(&id, item).await {
            Ok(m) => Arc::new(m),
            Err(e) => {
                out.problems
                    .push(problem(&id, Some(BLOCKMAP_NAME), e.message));
                return Ok(out);
            }
        };
        // Each file this backup mapped: its blocks, as the map lists them, against the
        // manifest's block-list digest.
        for e in &manifest.entries {
            let Some(b) = e.blocks.as_ref().filter(|b| b.map_in == id) else {
                continue;
            };
            let listed = maps
                .file(&e.path)
                .map(|f| crate::repo::hash::block_list_digest(f.blocks.iter().map(|r| &r.sha256)));
            let problem_text = match (&b.digest, listed) {
                (_, None) => Some("the block map has no map of this file"),
                (Some(want), Some(got)) if *want != got => Some(
                    "the block map's blocks of the file do not match the manifest's block-list digest",
                ),
                (None, _) if e.sha256.is_none() => {
                    Some("the manifest records no digest of the file")
                }
                _ => None,
            };
            if let Some(text) = problem_text {
                out.problems.push(Problem {
                    backup_id: id.clone(),
                    volume: Some(BLOCKMAP_NAME.to_string()),
                    path: Some(e.path.clone()),
                    problem: text.into(),
                });
            }
        }
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let mut jobs = Vec::new();
        for v in vols {
            jobs.push((
                v.name.clone(),
                VolumeAt::from_record(repo, &id, v)?,
                blocks_in(&maps, &id, v.index),
            ));
        }
        let results: Vec<VolumeCheck> = futures::stream::iter(jobs)
            .map(|(name, at, mut wanted)| {
                let progress = progress.clone();
                let cancel = cancel.clone();
                let id = id.clone();
                async move {
                    let handle = tokio::runtime::Handle::current();
                    let n2 = name.clone();
                    let r = tokio::task::spawn_blocking(move || {
                        let mut problems = Vec::new();
                        let mut files = BTreeSet::new();
                        let read =
                            at.read_blocks(&handle, &mut wanted, &cancel, &mut |w, block| {
                                files.insert(w.path.clone());
                                match block {
                                    Ok(b) => progress.advance(b.len() as u64),
                                    Err(e) if e.kind == ErrorKind::Cancelled => return Err(e),
                                    Err(e) => problems.push(Problem {
                                        backup_id: id.clone(),
                                        volume: Some(n2.clone()),
                                        path: Some(w.path.to_string()),
                                        problem: e.message,
                                    }),
                                }
                                Ok(())
                            })?;
                        Ok((read, files.len() as u64, problems))
                    })
                    .await
                    .unwrap_or_else(|e| {
                        Err(Error::internal(format!("validation task failed: {e}")))
                    });
                    (name, r)
                }
            })
            .buffer_unordered(cores)
            .collect()
            .await;
        out.add_volumes(&id, results)?;
        Ok(out)
    }
}

/// The digest a checksum-list entry expects, after checking the entry's shape: the manifest's
/// entry is named `manifest`, a volume's `vol-` and digits, and the digest is 64 hex digits.
fn checked_item(item: &ChecksumItem, is_manifest: bool) -> Result<[u8; 32], String> {
    let name_ok = if is_manifest {
        item.name == MANIFEST_NAME || item.name == BLOCKMAP_NAME
    } else {
        volume_index(&item.name).is_some()
    };
    if !name_ok {
        return Err(format!(
            "{} is not the name of a {}",
            describe_text(&item.name, 40),
            if is_manifest { "manifest" } else { "volume" }
        ));
    }
    parse_sha256_hex(&item.sha256).map_err(|e| format!("the SHA-256 of {}: {e}", item.name))
}

/// The index of a volume object named `vol-<digits>`.
fn volume_index(name: &str) -> Option<u32> {
    let digits = name.strip_prefix("vol-")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn new_check(id: &str) -> BackupCheck {
    BackupCheck {
        backup_id: id.to_string(),
        ok: true,
        volumes_checked: 0,
        files_checked: 0,
        problems: 0,
    }
}

fn merge(per: &mut BTreeMap<String, BackupCheck>, totals: &mut VolumeChecks, c: VolumeChecks) {
    totals.volumes += c.volumes;
    totals.files += c.files;
    totals.bytes += c.bytes;
    for (id, (v, f)) in &c.per_backup {
        if let Some(b) = per.get_mut(id) {
            b.volumes_checked += v;
            b.files_checked += f;
        }
    }
    for p in &c.problems {
        if let Some(b) = per.get_mut(&p.backup_id) {
            b.problems += 1;
        }
    }
    totals.problems.extend(c.problems);
}

/// Which volumes a sample reads: all at 100 %, else a random `percent` share (at least one).
fn sample_volumes(count: usize, percent: f64) -> BTreeSet<u32> {
    if percent >= 100.0 || count == 0 {
        return (0..count as u32).collect();
    }
    let want = ((count as f64 * percent / 100.0).ceil() as usize).clamp(1, count);
    let mut all: Vec<u32> = (0..count as u32).collect();
    for i in 0..want {
        let j = i + (rand::random::<u64>() as usize) % (count - i);
        all.swap(i, j);
    }
    all.truncate(want);
    all.into_iter().collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn samples_take_the_share_asked_for() {
        assert_eq!(super::sample_volumes(10, 100.0).len(), 10);
        assert_eq!(super::sample_volumes(10, 30.0).len(), 3);
        assert_eq!(super::sample_volumes(10, 1.0).len(), 1);
        assert!(super::sample_volumes(0, 50.0).is_empty());
    }
}
