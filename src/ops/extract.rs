//! The restore engine: write a backup's snapshot into a target folder, verified, never outside
//! it. `restore` and the scratch restore of restore tests, RTO measurement and drills use it.
//!
//! Safety: every stored path is checked before anything is written; a target that is a symlink
//! is refused, a missing one is created mode 0700; folders are created one component at a time
//! and a component that is a symlink stops the restore; files are written as new files
//! (O_NOFOLLOW, create-new), under a fresh temporary name renamed into place once verified, or,
//! inside the private staging folder below (closed to everyone else, empty when the restore
//! began, moved into place only as a whole), directly under their own name; symlinks are created
//! last, so no write ever passes through a link the restore made. Setuid, setgid and sticky bits
//! are dropped unless the request keeps them.
//!
//! All or nothing for an empty (or new) target: the restore writes into a private staging folder
//! inside it and moves the result into place only when every file is written and verified; a
//! failure removes the staging folder (and a target the restore created). With `overwrite` into a
//! non-empty target the files are written in place: a failure leaves the files restored so far
//! (each one whole and verified) beside what was there.

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use chrono::{DateTime, Utc};

use crate::repo::hash::Sha256;
use crate::repo::timing::{Stage, StageTimes};
use futures::StreamExt;

use super::assemble::fetch_files;
use super::points;
use super::private_dir::{create_private_dir, create_private_dirs, current_uid};
use super::{Cancel, Dr, Progress, secs, with_lock};
use crate::action::{Action, Advice};
use crate::error::{Error, ErrorKind, Result};
use crate::repo::catalog::Catalog;
use crate::repo::keys::{is_point_id, volume_key, volume_name};
use crate::repo::locks::LockMode;
use crate::repo::manifest::{Entry, EntryKind, Manifest};
use crate::repo::paths::{check_stored_path, is_under, target_path};
use crate::repo::volume::read_volume;
use crate::repo::{BackupType, Repository};
use crate::storage::bridge::BlockingObjectReader;

/// What to extract: a backup (or "latest"), where, and which of its paths.
pub(crate) struct Extraction<'a> {
    pub backup_id: &'a str,
    /// The folder to write into (created 0700 if missing).
    pub target: &'a Path,
    /// Only these stored paths (files or folders); everything when empty.
    pub paths: &'a [String],
    /// Allow a non-empty target; existing files of the same name are replaced.
    pub overwrite: bool,
    /// Keep setuid, setgid and sticky bits (dropped otherwise, with a warning).
    pub keep_special_bits: bool,
    /// Whose newest backup "latest" is: this host's when `None`.
    pub host: Option<&'a str>,
    /// The state at this instant instead: the newest backup or continuous point (of `host`)
    /// started at or before it.
    pub at: Option<DateTime<Utc>>,
}

/// What an extraction wrote.
#[derive(Debug, Clone)]
pub(crate) struct Extracted {
    pub backup_id: String,
    pub backup_type: BackupType,
    /// The backups whose volumes were read (the chain the extraction used).
    pub chain: Vec<String>,
    /// The target, resolved.
    pub target: PathBuf,
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    pub bytes: u64,
    pub volumes_read: u64,
    /// Every written file's SHA-256 was checked against the manifest.
    pub verified: bool,
    pub duration_seconds: f64,
    pub warnings: Vec<String>,
}

/// Folders already known to be real folders inside the target, and whether the root they hang
/// from is this restore's private staging folder (see [`DirCache::add`]).
#[derive(Default)]
struct DirCache {
    known: Mutex<HashSet<PathBuf>>,
    /// Decided by the first `add` (the root): the root if it is a fresh private staging folder.
    staging_root: OnceLock<Option<PathBuf>>,
}

impl DirCache {
    fn known(&self, p: &Path) -> bool {
        self.known
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(p)
    }

    /// The first folder added is the root of the restore (`write_snapshot` adds it before
    /// anything is written). If it is a staging folder as `extract_locked` makes one (named
    /// `.mhdr-restore-…`, a real folder of this user closed to everyone else, and still empty),
    /// files under it are written under their own names (see [`write_file`]).
    fn add(&self, p: PathBuf) {
        let mut known = self.known.lock().unwrap_or_else(|e| e.into_inner());
        if known.is_empty() {
            let _ = self
                .staging_root
                .set(Self::is_fresh_staging(&p).then(|| p.clone()));
        }
        known.insert(p);
    }

    fn is_fresh_staging(p: &Path) -> bool {
        p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with(STAGING_PREFIX))
            && std::fs::symlink_metadata(p)
                .is_ok_and(|m| m.is_dir() && m.uid() == current_uid() && m.mode() & 0o077 == 0)
            && std::fs::read_dir(p).is_ok_and(|mut d| d.next().is_none())
    }

    /// `root` is a fresh private staging folder: nobody else can enter it, nothing in it was
    /// there before this restore, and it is moved into place as a whole only once every file is
    /// written and verified (a failure removes it).
    fn is_staging(&self, root: &Path) -> bool {
        matches!(self.staging_root.get(), Some(Some(r)) if r == root)
    }
}

/// Make sure every folder from `root` down to `dir` exists and none is a symlink.
fn ensure_dir(root: &Path, stored_dir: &str, cache: &DirCache) -> Result<PathBuf> {
    let mut cur = root.to_path_buf();
    if stored_dir.is_empty() {
        return Ok(cur);
    }
    for c in stored_dir.split('/') {
        cur.push(c);
        if cache.known(&cur) {
            continue;
        }
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Error::refused(format!(
                    "{} is a symlink; the restore never writes through links",
                    cur.display()
                ))
                .with_guidance("restore into an empty folder, or remove the link"));
            }
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::refused(format!(
                    "{} exists and is not a folder; it was left as it is",
                    cur.display()
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match std::fs::create_dir(&cur) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let m = std::fs::symlink_metadata(&cur)
                        .map_err(|e| Error::from_io("stat", &cur, e))?;
                    if !m.is_dir() {
                        return Err(Error::refused(format!(
                            "{} appeared as a non-folder during the restore",
                            cur.display()
                        )));
                    }
                }
                Err(e) => return Err(Error::from_io("create the folder", &cur, e)),
            },
            Err(e) => return Err(Error::from_io("stat", &cur, e)),
        }
        cache.add(cur.clone());
    }
    Ok(cur)
}

fn parent_of(stored: &str) -> (&str, &str) {
    match stored.rsplit_once('/') {
        Some((d, n)) => (d, n),
        None => ("", stored),
    }
}

fn mtime_of(ns: i64) -> SystemTime {
    if ns >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_nanos(ns as u64)
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_nanos(ns.unsigned_abs())
    }
}

/// Create `p` new (never through a link, 0600), readable too when `read`.
fn create_new(p: &Path, read: bool) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .read(read)
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o600)
        .open(p)
}

/// A new file of a fresh temporary name beside `name` in `dir`.
fn temp_file(dir: &Path, name: &str, read: bool) -> Result<(std::fs::File, PathBuf)> {
    let tmp = dir.join(format!(
        ".{name}.mhdr-{}",
        hex::encode(crate::repo::crypto::random_bytes::<6>())
    ));
    let f = create_new(&tmp, read).map_err(|e| Error::from_io("create", &tmp, e))?;
    Ok((f, tmp))
}

fn is_folder(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.is_dir())
}

fn folder_in_the_way(p: &Path) -> Error {
    Error::refused(format!(
        "{} is a folder; a file of that name was not restored",
        p.display()
    ))
}

/// A written and verified file's last steps: its mode and time, then (when it was written under
/// a temporary name) the rename to `final_path`.
fn settle(
    f: &std::fs::File,
    path: &Path,
    final_path: Option<&Path>,
    entry: &Entry,
    mode_mask: u32,
) -> Result<()> {
    f.set_permissions(std::fs::Permissions::from_mode(entry.mode & mode_mask))
        .map_err(|e| Error::from_io("set the mode of", path, e))?;
    f.set_modified(mtime_of(entry.mtime_ns))
        .map_err(|e| Error::from_io("set the time of", path, e))?;
    if let Some(final_path) = final_path {
        // rename(2) never replaces a folder with a file (EISDIR), so the folder check is needed
        // only to word the refusal.
        std::fs::rename(path, final_path).map_err(|e| {
            if is_folder(final_path) {
                folder_in_the_way(final_path)
            } else {
                Error::from_io("move into place", final_path, e)
            }
        })?;
    }
    Ok(())
}

/// Write one file safely: a new file (create-new, O_NOFOLLOW), verify, mode and mtime. In the
/// private staging folder of a restore into an empty target the file is created under its own
/// name (the folder as a whole is moved into place once everything is verified); anywhere else
/// it is created under a fresh temporary name and renamed into place once verified.
fn write_file(
    root: &Path,
    entry: &Entry,
    data: &mut dyn Read,
    verify: bool,
    mode_mask: u32,
    cache: &DirCache,
    times: Option<&StageTimes>,
) -> Result<u64> {
    check_stored_path(&entry.path)?;
    let (dir, name) = parent_of(&entry.path);
    let dir_path = ensure_dir(root, dir, cache)?;
    let final_path = dir_path.join(name);
    // In the staging folder, straight under the final name; if that name is taken (only a path
    // the snapshot holds twice could take it), the temporary name and rename as anywhere else.
    let in_place = if cache.is_staging(root) {
        match create_new(&final_path, false) {
            Ok(f) => Some(f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if is_folder(&final_path) {
                    return Err(folder_in_the_way(&final_path));
                }
                None
            }
            Err(e) => return Err(Error::from_io("create", &final_path, e)),
        }
    } else {
        None
    };
    let (mut f, path, renamed) = match in_place {
        Some(f) => (f, final_path.clone(), false),
        None => {
            let (f, tmp) = temp_file(&dir_path, name, false)?;
            (f, tmp, true)
        }
    };
    let result = (|| -> Result<u64> {
        let mut h = Sha256::new();
        // Sized to the file: zeroing a large buffer for each of many small files costs more
        // than the files themselves.
        let mut buf = vec![0u8; (entry.size as usize).clamp(1, 256 << 10)];
        let mut n = 0u64;
        loop {
            let k = data
                .read(&mut buf)
                .map_err(|e| crate::repo::envelope::io_to_integrity(e, &entry.path))?;
            if k == 0 {
                break;
            }
            match times {
                None => {
                    h.update(&buf[..k]);
                    f.write_all(&buf[..k])
                }
                Some(t) => {
                    t.time(Stage::Verify, || h.update(&buf[..k]));
                    t.time(Stage::Write, || f.write_all(&buf[..k]))
                }
            }
            .map_err(|e| Error::from_io("write", &path, e))?;
            n += k as u64;
        }
        let got = h.finish_hex();
        if verify && Some(&got) != entry.sha256.as_ref() {
            return Err(Error::integrity(format!(
                "{}: restored bytes do not match the manifest's SHA-256; the file was not restored",
                entry.path
            )));
        }
        settle(
            &f,
            &path,
            renamed.then_some(final_path.as_path()),
            entry,
            mode_mask,
        )?;
        Ok(n)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&path);
    }
    result
}

/// A block-mapped file on its way into place: its temporary file (sized, written block by
/// block at offsets), and where it goes.
#[derive(Clone)]
struct BlockTarget {
    file: Arc<std::fs::File>,
    tmp: PathBuf,
    final_path: PathBuf,
}

/// Create the temporary file of a block-mapped entry (same safety as [`write_file`]: checked
/// path, real folders, O_NOFOLLOW, create-new, 0600); [`BlockTarget::size`] sizes it.
fn block_target(root: &Path, entry: &Entry, cache: &DirCache) -> Result<BlockTarget> {
    check_stored_path(&entry.path)?;
    let (dir, name) = parent_of(&entry.path);
    let dir_path = ensure_dir(root, dir, cache)?;
    let final_path = dir_path.join(name);
    let (f, tmp) = temp_file(&dir_path, name, true)?;
    Ok(BlockTarget {
        file: Arc::new(f),
        tmp,
        final_path,
    })
}

impl BlockTarget {
    /// Size the temporary file to `size` bytes (see [`reserve`]).
    fn size(&self, size: u64) -> Result<()> {
        reserve(&self.file, size).map_err(|e| Error::from_io("size", &self.tmp, e))
    }
}

/// Size a new file to `size` bytes, reserving the space when the filesystem can: the pages are
/// allocated in one call, not one out-of-order write at a time; where it cannot, the file is
/// just extended. ([`check_free_space`] already refused a restore that cannot fit.) Even on
/// tmpfs, where this call takes 0.27 s per GiB on one thread before the first block arrives:
/// back to back, restores without it were 0.1 s faster, but in the benchmark's alternation of
/// tools half of them spent three to four times the kernel time allocating pages write by
/// write (BENCHMARKS.md, seventh session).
fn reserve(f: &std::fs::File, size: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    if size > 0
        && let Ok(len) = libc::off_t::try_from(size)
    {
        // SAFETY: a plain system call on a file descriptor this function borrows. (Linux's
        // fallocate, not posix_fallocate: that one emulates an unsupported call by writing.)
        if unsafe { libc::fallocate(f.as_raw_fd(), 0, 0, len) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if !matches!(
            e.raw_os_error(),
            Some(libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS)
        ) {
            return Err(e);
        }
    }
    f.set_len(size)
}

/// The bytes free for this process on the filesystem holding `dir`, when it says.
fn free_bytes(dir: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a NUL-terminated path and `st` points to writable memory of the right type;
    // the call only writes into it, and it is read only when the call succeeded.
    if unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled `st`.
    let st = unsafe { st.assume_init() };
    // Both are 64-bit on 64-bit Linux, narrower elsewhere.
    #[allow(clippy::unnecessary_cast)]
    Some((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// The bytes a restore of `selected` into `root` adds to its filesystem at its peak. A
/// block-mapped file's temporary copy exists, whole, beside the file it replaces until every
/// block is written: its full size. A whole file replaces the one there one at a time: only
/// what it adds to it (with `replacing`, a target that holds files; else nothing is there).
fn space_needed(root: &Path, selected: &[&Entry], replacing: bool) -> u64 {
    let existing = |e: &Entry| {
        target_path(root, &e.path)
            .ok()
            .and_then(|p| std::fs::symlink_metadata(p).ok())
            .filter(|m| m.is_file())
            .map_or(0, |m| m.len())
    };
    selected
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| match &e.blocks {
            Some(_) => e.size,
            None if replacing => e.size.saturating_sub(existing(e)),
            None => e.size,
        })
        .sum()
}

/// A restore of `needed` bytes into a filesystem with `free` bytes free: refused before
/// anything is written when it cannot fit, rather than failing with a full disk halfway.
fn check_free_space(needed: u64, free: Option<u64>, target: &Path) -> Result<()> {
    match free {
        Some(free) if needed > free => Err(Error::new(
            ErrorKind::Io,
            format!(
                "the restore needs {} and the filesystem of {} has {} free; nothing was written",
                crate::present::bytes(needed),
                target.display(),
                crate::present::bytes(free)
            ),
        )
        .with_guidance(
            "free space there, restore to another --target, or restore part of it with --path",
        )),
        _ => Ok(()),
    }
}

/// After every block was written and checked: the whole file's digest (hashed as the blocks
/// arrived, or read back), mode, time, and the rename into place.
fn place_block_file(
    t: &BlockTarget,
    entry: &Entry,
    verify: bool,
    hashed: Option<String>,
    mode_mask: u32,
) -> Result<()> {
    if verify {
        let (kind, want) = entry.whole_digest()?;
        let got = match hashed {
            Some(h) => h,
            None => {
                crate::repo::hash::digest_of_file(&t.file, kind)
                    .map_err(|e| Error::from_io("read back", &t.tmp, e))?
                    .1
            }
        };
        if got != want {
            return Err(Error::integrity(format!(
                "{}: the assembled file does not match the manifest's digest (every block matched its own); the file was not restored",
                entry.path
            )));
        }
    }
    settle(&t.file, &t.tmp, Some(&t.final_path), entry, mode_mask)
}

/// The name prefix of the staging folder a restore into an empty target writes into; one left
/// behind is a restore that was killed.
const STAGING_PREFIX: &str = ".mhdr-restore-";

/// What [`prepare_target`] found or made.
struct PreparedTarget {
    /// The restore created the folder (a failed restore removes it again).
    created: bool,
    /// The folder was empty: the restore goes through a staging folder.
    empty: bool,
    warnings: Vec<String>,
}

/// Check the target before anything is written: not a symlink, a folder, empty unless
/// `overwrite`. A missing target is created, with any missing parent, mode 0700.
fn prepare_target(target: &Path, overwrite: bool) -> Result<PreparedTarget> {
    let meta = match std::fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            create_private_dirs(target)?;
            let m = std::fs::symlink_metadata(target)
                .map_err(|e| Error::from_io("check the target", target, e))?;
            refuse_link_or_file(target, &m)?;
            return Ok(PreparedTarget {
                created: true,
                empty: true,
                warnings: Vec::new(),
            });
        }
        Err(e) => return Err(Error::from_io("check the target", target, e)),
    };
    refuse_link_or_file(target, &meta)?;
    let names: Vec<String> = std::fs::read_dir(target)
        .map_err(|e| Error::from_io("open the target", target, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    if !names.is_empty() && !overwrite {
        let mut guidance = "or restore into an empty or new folder".to_string();
        if let Some(left) = names.iter().find(|n| n.starts_with(STAGING_PREFIX)) {
            guidance.push_str(&format!(
                "; {left} in it is what an interrupted restore left behind: delete it"
            ));
        }
        return Err(
            Error::usage(format!("the target {} is not empty", target.display()))
                .with_next(Advice::step(
                    Action::WithOption {
                        name: "overwrite",
                        value: "true".into(),
                    },
                    "to replace files of the same name",
                ))
                .with_guidance(guidance),
        );
    }
    let mut warnings = Vec::new();
    let me = current_uid();
    if meta.uid() != me {
        warnings.push(format!(
            "the target {} belongs to another user (uid {}), who can read and change what was \
             restored",
            target.display(),
            meta.uid()
        ));
    }
    Ok(PreparedTarget {
        created: false,
        empty: names.is_empty(),
        warnings,
    })
}

/// A target that is a symlink or not a folder is refused: the restore never writes through links.
fn refuse_link_or_file(target: &Path, m: &std::fs::Metadata) -> Result<()> {
    if m.file_type().is_symlink() {
        let to = std::fs::read_link(target)
            .map(|t| format!(" (to {})", t.display()))
            .unwrap_or_default();
        return Err(Error::refused(format!(
            "the target {} is a symlink{to}; the restore never writes through links, so \
             nothing was restored",
            target.display()
        ))
        .with_guidance(
            "give the real folder as the target (the one the link points to, if that is where \
             the files belong), or remove the link",
        ));
    }
    if !m.is_dir() {
        return Err(Error::refused(format!(
            "the target {} exists and is not a folder; nothing was restored",
            target.display()
        ))
        .with_guidance("restore into a new or empty folder"));
    }
    Ok(())
}

/// Move everything a restore wrote into `staging` up into `root`, then remove `staging`.
fn move_into_place(staging: &Path, root: &Path) -> Result<()> {
    let left_in = || {
        format!(
            "what was not moved waits, verified, in {}: move it into {} by hand, then delete it",
            staging.display(),
            root.display()
        )
    };
    let entries = std::fs::read_dir(staging)
        .map_err(|e| Error::from_io("read", staging, e).with_guidance(left_in()))?;
    for entry in entries {
        let entry =
            entry.map_err(|e| Error::from_io("read", staging, e).with_guidance(left_in()))?;
        let dest = root.join(entry.file_name());
        if std::fs::symlink_metadata(&dest).is_ok() {
            return Err(Error::refused(format!(
                "{} appeared in the target while the restore ran; it was left as it is",
                dest.display()
            ))
            .with_guidance(left_in()));
        }
        std::fs::rename(entry.path(), &dest)
            .map_err(|e| Error::from_io("move into place", &dest, e).with_guidance(left_in()))?;
    }
    std::fs::remove_dir(staging).map_err(|e| Error::from_io("remove", staging, e))
}

/// The warning for entries whose setuid, setgid or sticky bits are dropped (None when none has
/// any).
fn special_bits_warning(selected: &[&Entry]) -> Option<String> {
    let special: Vec<&str> = selected
        .iter()
        .filter(|e| matches!(e.kind, EntryKind::File | EntryKind::Dir) && e.mode & 0o7000 != 0)
        .map(|e| e.path.as_str())
        .collect();
    let (first, more) = special.split_at(special.len().min(5));
    (!special.is_empty()).then(|| {
        format!(
            "{} {} setuid, setgid or sticky bits in the backup ({}{}); restored without them \
             (only a restore from the command line, with --keep-special-bits, keeps them)",
            special.len(),
            if special.len() == 1 {
                "entry has"
            } else {
                "entries have"
            },
            first.join(", "),
            if more.is_empty() {
                String::new()
            } else {
                format!(" and {} more", more.len())
            }
        )
    })
}

/// What [`Dr::write_snapshot`] wrote.
struct Written {
    files: u64,
    bytes: u64,
    volumes_read: u64,
    symlinks: u64,
    /// The backups whose volumes were read.
    chain: Vec<String>,
    warnings: Vec<String>,
}

impl Dr {
    fn verify_on_restore(&self) -> bool {
        self.settings.settings.backup.validation.verify_on_restore
    }

    /// Extract under a shared lock; with `times`, add the time of each stage to it (restore
    /// tests, RTO measurement).
    pub(crate) async fn extract(
        &self,
        req: &Extraction<'_>,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
        times: Option<Arc<StageTimes>>,
    ) -> Result<Extracted> {
        let repo = self.open_repo().await?;
        let guard = self
            .lock(LockMode::Shared, "restore", &*progress, cancel)
            .await?;
        with_lock(
            guard,
            self.extract_locked(&repo, req, progress, cancel, times),
        )
        .await
    }

    async fn extract_locked(
        &self,
        repo: &Repository,
        req: &Extraction<'_>,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
        times: Option<Arc<StageTimes>>,
    ) -> Result<Extracted> {
        let t0 = Instant::now();
        let mut catalog = Catalog::load(repo).await?;
        let summary = if req.at.is_some() || is_point_id(req.backup_id) {
            // Points are read only by what asks for them.
            catalog.load_points(repo).await?;
            match req.at {
                Some(at) => {
                    let host = req.host.map_or_else(|| self.host(), str::to_string);
                    points::holding_at(&catalog, &host, at)?.clone()
                }
                None => catalog.resolve(req.backup_id)?.clone(),
            }
        } else {
            self.resolve_backup(&catalog, req.backup_id, req.host)?
                .clone()
        };
        let id = summary.backup_id.clone();
        let manifest = Arc::new(points::snapshot_of(repo, &summary).await?);
        // Check every path before writing anything.
        for e in &manifest.entries {
            check_stored_path(&e.path)
                .map_err(|err| err.context(format!("reading the manifest of {id}")))?;
        }
        let wanted = |p: &str| req.paths.is_empty() || req.paths.iter().any(|w| is_under(p, w));
        let selected: Vec<&Entry> = manifest
            .entries
            .iter()
            .filter(|e| wanted(&e.path))
            .collect();
        if selected.is_empty() {
            return Err(Error::not_found(format!(
                "{id} holds nothing under {}",
                req.paths.join(", ")
            ))
            .with_guidance(
                "paths are stored paths as `backup list`/the manifest shows them, e.g. data/app.db",
            ));
        }

        // The target: never a symlink; created (0700) when missing; non-empty only with
        // --overwrite. An empty target is filled through a staging folder inside it, moved into
        // place once everything is written and verified, so a failed restore leaves it empty.
        let target = req.target;
        let prepared = prepare_target(target, req.overwrite)?;
        let mut warnings = prepared.warnings;
        let root = std::fs::canonicalize(target)
            .map_err(|e| Error::from_io("resolve the target", target, e))?;
        let needed = space_needed(&root, &selected, !prepared.empty);
        if let Err(e) = check_free_space(needed, free_bytes(&root), target) {
            if prepared.created {
                let _ = std::fs::remove_dir(&root);
            }
            return Err(e);
        }
        let staging = if prepared.empty {
            let s = root.join(format!(
                "{STAGING_PREFIX}{}",
                hex::encode(crate::repo::crypto::random_bytes::<6>())
            ));
            create_private_dir(&s)?;
            Some(s)
        } else {
            None
        };
        let mode_mask = if req.keep_special_bits { 0o7777 } else { 0o777 };
        if !req.keep_special_bits {
            warnings.extend(special_bits_warning(&selected));
        }
        let verify = self.verify_on_restore();
        let written = self
            .write_snapshot(
                repo,
                &catalog,
                &id,
                &manifest,
                &selected,
                staging.as_deref().unwrap_or(&root),
                mode_mask,
                progress.clone(),
                cancel,
                times,
            )
            .await;
        let written = match written {
            Ok(w) => w,
            Err(e) => {
                // Nothing of a failed restore stays in a target that was empty.
                if let Some(s) = &staging {
                    let _ = std::fs::remove_dir_all(s);
                }
                if prepared.created {
                    let _ = std::fs::remove_dir(&root);
                }
                return Err(e);
            }
        };
        if let Some(s) = &staging {
            move_into_place(s, &root)?;
        }
        warnings.extend(written.warnings);

        // Folder modes and times last, deepest first (after the move, which touches them).
        let mut dirs: Vec<&&Entry> = selected
            .iter()
            .filter(|e| e.kind == EntryKind::Dir)
            .collect();
        dirs.sort_by_key(|e| std::cmp::Reverse(e.path.matches('/').count()));
        for e in &dirs {
            let p = target_path(&root, &e.path)?;
            let _ =
                std::fs::set_permissions(&p, std::fs::Permissions::from_mode(e.mode & mode_mask));
            if let Ok(f) = std::fs::File::open(&p) {
                let _ = f.set_modified(mtime_of(e.mtime_ns));
            }
        }
        progress.finish();
        let Written {
            files,
            bytes,
            volumes_read,
            symlinks,
            chain,
            ..
        } = written;
        Ok(Extracted {
            backup_id: id,
            backup_type: summary.backup_type,
            chain,
            target: root,
            files,
            dirs: dirs.len() as u64,
            symlinks,
            bytes,
            volumes_read,
            verified: verify,
            duration_seconds: secs(t0.elapsed()),
            warnings,
        })
    }

    /// Write the selected entries of `id`'s snapshot under `root`: folders, then files (one
    /// volume per core, each checked against its SHA-256), then symlinks.
    #[allow(clippy::too_many_arguments)]
    async fn write_snapshot(
        &self,
        repo: &Repository,
        catalog: &Catalog,
        id: &str,
        manifest: &Arc<Manifest>,
        selected: &[&Entry],
        root: &Path,
        mode_mask: u32,
        progress: Arc<dyn Progress>,
        cancel: &Cancel,
        times: Option<Arc<StageTimes>>,
    ) -> Result<Written> {
        let root = root.to_path_buf();
        let cache = Arc::new(DirCache::default());
        cache.add(root.clone());

        // Folders first.
        for e in selected.iter().filter(|e| e.kind == EntryKind::Dir) {
            ensure_dir(&root, &e.path, &cache)?;
        }

        // Files, one volume per core. Each volume is checked against the manifest of the backup
        // that wrote it; only the files this snapshot wants are written.
        let mut by_volume: BTreeMap<(String, u32), Vec<&Entry>> = BTreeMap::new();
        // Block-mapped files: a sized temporary file each, filled block by block.
        let mut block_files: Vec<(BlockTarget, &Entry)> = Vec::new();
        let made = (|| -> Result<()> {
            for e in selected
                .iter()
                .filter(|e| e.kind == EntryKind::File && e.blocks.is_some())
            {
                block_files.push((block_target(&root, e, &cache)?, e));
            }
            Ok(())
        })();
        let drop_temps = |files: &[(BlockTarget, &Entry)]| {
            for (t, _) in files {
                let _ = std::fs::remove_file(&t.tmp);
            }
        };
        if let Err(e) = made {
            drop_temps(&block_files);
            return Err(e);
        }
        for e in selected
            .iter()
            .filter(|e| e.kind == EntryKind::File && e.blocks.is_none())
        {
            let loc = e.location.as_ref().ok_or_else(|| {
                Error::integrity(format!(
                    "{}: the manifest of {id} says nowhere where its bytes are",
                    e.path
                ))
            })?;
            by_volume
                .entry((loc.backup_id.clone(), loc.volume))
                .or_default()
                .push(e);
        }
        let mut owners: BTreeMap<String, Arc<Manifest>> = BTreeMap::new();
        for (b, _) in by_volume.keys() {
            if !owners.contains_key(b) {
                let m = if *b == id {
                    manifest.clone()
                } else {
                    match repo.read_manifest(b).await {
                        Ok(m) => Arc::new(m),
                        Err(e) => {
                            drop_temps(&block_files);
                            return Err(e.context(format!("reading {b}, which {id} needs")));
                        }
                    }
                };
                owners.insert(b.clone(), m);
            }
        }
        let total: u64 = by_volume.values().flatten().map(|e| e.size).sum::<u64>()
            + block_files.iter().map(|(_, e)| e.size).sum::<u64>();
        progress.phase("restoring", Some(total));
        let fetch_list: Vec<(Arc<std::fs::File>, Entry)> = block_files
            .iter()
            .map(|(t, e)| (t.file.clone(), (*e).clone()))
            .collect();
        let verify = self.verify_on_restore();
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let index: std::collections::HashMap<&str, usize> = manifest
            .entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.path.as_str(), i))
            .collect();
        let jobs: Vec<_> = by_volume
            .into_iter()
            .map(|((b, v), entries)| {
                // Wanted paths -> index of their entry in this snapshot's manifest.
                let want: BTreeMap<String, usize> = entries
                    .iter()
                    .map(|e| (e.path.clone(), index[e.path.as_str()]))
                    .collect();
                (b, v, want)
            })
            .collect();
        let key = repo.master()?.cloned();
        // Whole-file volumes and block volumes are read at once, one reader per core in all
        // (twice that on object storage, where each request waits on a round trip and one
        // reader's waits are another's time to work): neither kind waits for the other's last
        // volume while a core idles. The whole-file volumes are queued first.
        let remote = repo.storage().read_plan().waits_on_round_trips();
        let slots = super::assemble::slots(if remote { 2 } else { 1 });
        // A whole-file volume that fails stops the block readers too.
        let blocks_cancel = cancel.child_token();
        let volume_results = futures::stream::iter(jobs)
            .map(|(b, v, want)| {
                let slots = slots.clone();
                let storage = repo.storage().clone();
                let master = key.clone();
                let ctx = repo.volume_context(&b, v);
                let owner = owners[&b].clone();
                let snapshot = manifest.clone();
                let root = root.clone();
                let cache = cache.clone();
                let progress = progress.clone();
                let cancel = cancel.clone();
                let times = times.clone();
                async move {
                    let _slot = super::assemble::take_slot(&slots).await?;
                    let key = volume_key(&b, v);
                    let size = storage.size(&key).await?.ok_or_else(|| {
                        Error::integrity(format!("volume {} of {b} is missing", volume_name(v)))
                            .with_next(Advice::step(
                                Action::Validate {
                                    level: crate::repo::kind::ValidationLevel::Full,
                                },
                                "to see the damage",
                            ))
                            .with_guidance(
                                "or restore an older backup that does not need this volume",
                            )
                    })?;
                    tokio::task::spawn_blocking(move || -> Result<(u64, u64)> {
                        let reader = BlockingObjectReader::spawn(storage, key, size);
                        let expected = owner.volume_contents(v);
                        let mut files = 0u64;
                        let mut bytes = 0u64;
                        read_volume(
                            master.as_ref(),
                            ctx,
                            reader,
                            &expected,
                            &|p| want.contains_key(p),
                            &mut |stored, data| {
                                if cancel.is_cancelled() {
                                    return Err(super::cancelled());
                                }
                                // Our snapshot's entry (mode, mtime, hash) for this path.
                                let entry = want
                                    .get(&stored.path)
                                    .map_or(stored, |&i| &snapshot.entries[i]);
                                bytes += write_file(
                                    &root,
                                    entry,
                                    data,
                                    verify,
                                    mode_mask,
                                    &cache,
                                    times.as_deref(),
                                )?;
                                files += 1;
                                progress.advance(entry.size);
                                Ok(())
                            },
                            times.as_deref(),
                        )
                        .map_err(|e| {
                            e.context(format!("restoring from volume {} of {b}", volume_name(v)))
                        })?;
                        Ok((files, bytes))
                    })
                    .await
                    .map_err(|e| Error::internal(format!("restore task failed: {e}")))?
                }
            })
            .buffer_unordered(cores)
            .inspect(|r| {
                if r.is_err() {
                    blocks_cancel.cancel();
                }
            })
            .collect::<Vec<Result<(u64, u64)>>>();
        let blocks_fetch = async {
            if fetch_list.is_empty() {
                return Ok(Default::default());
            }
            // The block files are sized (their pages allocated, on tmpfs) by one reader's slot
            // while the others read whole-file volumes; then their blocks are fetched.
            let sized = {
                let _slot = super::assemble::take_slot(&slots).await?;
                let targets: Vec<(BlockTarget, u64)> = block_files
                    .iter()
                    .map(|(t, e)| (t.clone(), e.size))
                    .collect();
                tokio::task::spawn_blocking(move || {
                    targets.iter().try_for_each(|(t, size)| t.size(*size))
                })
                .await
                .map_err(|e| Error::internal(format!("restore task failed: {e}")))?
            };
            sized?;
            fetch_files(
                repo,
                catalog,
                &fetch_list,
                &slots,
                progress.clone(),
                &blocks_cancel,
            )
            .await
        };
        let (results, fetched) = futures::join!(volume_results, blocks_fetch);
        let mut files = 0;
        let mut bytes = 0;
        let mut volumes_read = 0;
        let mut first_err: Option<Error> = None;
        match fetched {
            Ok(f) => {
                let f: super::assemble::Fetched = f;
                volumes_read += f.volumes;
                // Each file's whole SHA-256, mode, time and rename: in parallel.
                let mut to_place: Vec<(BlockTarget, Entry, Option<String>)> =
                    Vec::with_capacity(block_files.len());
                let mut digests = f.digests.into_iter();
                for (t, e) in &block_files {
                    to_place.push((t.clone(), (*e).clone(), digests.next().flatten()));
                }
                let placed: Vec<Result<u64>> = futures::stream::iter(to_place)
                    .map(|(t, e, hashed)| async move {
                        tokio::task::spawn_blocking(move || {
                            place_block_file(&t, &e, verify, hashed, mode_mask).map(|()| e.size)
                        })
                        .await
                        .map_err(|e| Error::internal(format!("restore task failed: {e}")))?
                    })
                    .buffer_unordered(cores)
                    .collect()
                    .await;
                for r in placed {
                    match r {
                        Ok(n) => {
                            files += 1;
                            bytes += n;
                        }
                        Err(e) => {
                            if first_err.is_none() {
                                first_err = Some(e);
                            }
                        }
                    }
                }
            }
            Err(e) => first_err = Some(e),
        }
        if first_err.is_some() {
            drop_temps(&block_files);
        }
        for r in results {
            match r {
                Ok((f, b)) => {
                    files += f;
                    bytes += b;
                    volumes_read += 1;
                }
                Err(e) => {
                    if first_err
                        .as_ref()
                        .is_none_or(|f| f.kind == ErrorKind::Cancelled)
                    {
                        first_err = Some(e);
                    }
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }

        // Symlinks last.
        let mut warnings = Vec::new();
        let mut symlinks = 0;
        for e in selected.iter().filter(|e| e.kind == EntryKind::Symlink) {
            let (dir, name) = parent_of(&e.path);
            let dir_path = ensure_dir(&root, dir, &cache)?;
            let p = dir_path.join(name);
            if let Ok(m) = std::fs::symlink_metadata(&p) {
                if m.is_dir() {
                    warnings.push(format!(
                        "{}: a folder is in the way; the symlink was not restored",
                        e.path
                    ));
                    continue;
                }
                std::fs::remove_file(&p).map_err(|err| Error::from_io("replace", &p, err))?;
            }
            let link_target = e.target.clone().unwrap_or_default();
            std::os::unix::fs::symlink(&link_target, &p)
                .map_err(|err| Error::from_io("create the symlink", &p, err))?;
            symlinks += 1;
        }
        Ok(Written {
            files,
            bytes,
            volumes_read,
            symlinks,
            chain: owners.keys().cloned().collect(),
            warnings,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A restore larger than the free space is refused before anything is written, saying both
    /// sizes; one that fits, or a filesystem that does not say, goes ahead.
    #[test]
    fn a_restore_that_cannot_fit_is_refused_up_front() {
        let t = Path::new("/srv/restore");
        let e = check_free_space(3 << 30, Some(1 << 30), t).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Io);
        assert!(
            e.message.contains("3.0 GiB")
                && e.message.contains("1.0 GiB")
                && e.message.contains("nothing was written"),
            "{e}"
        );
        assert!(e.guidance.unwrap().contains("--path"));
        assert!(check_free_space(1 << 30, Some(1 << 30), t).is_ok());
        assert!(check_free_space(u64::MAX, None, t).is_ok());
        // The real filesystem of a temporary folder reports some free space.
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).is_some_and(|b| b > 0));
    }

    /// Restoring over files (`--overwrite`) counts only what whole files add to those they
    /// replace, but a block-mapped file in full (its temporary copy sits beside the old one).
    #[test]
    fn a_restore_over_files_needs_only_what_it_adds() {
        let entry = |path: &str, size: u64, blocks: bool| -> Entry {
            let mut v = serde_json::json!({
                "path": path, "kind": "file", "mode": 420, "mtime_ns": 0, "size": size,
                "sha256": "00", "origin": "file", "ctime_ns": 0, "inode": 0, "dev": 0,
                "location": {"backup_id": "backup_1", "volume": 0}
            });
            if blocks {
                v["blocks"] = serde_json::json!({
                    "block_size": 4096, "count": 1, "map_in": "backup_1", "backups": ["backup_1"]
                });
            }
            serde_json::from_value(v).expect("an entry")
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/same.txt"), vec![0u8; 1000]).unwrap();
        std::fs::write(dir.path().join("data/grows.txt"), vec![0u8; 1000]).unwrap();
        std::fs::write(dir.path().join("data/app.db"), vec![0u8; 5000]).unwrap();
        let (same, grows, new, db) = (
            entry("data/same.txt", 1000, false),
            entry("data/grows.txt", 1500, false),
            entry("data/new.txt", 700, false),
            entry("data/app.db", 5000, true),
        );
        let all = [&same, &grows, &new, &db];
        assert_eq!(space_needed(dir.path(), &all, true), 500 + 700 + 5000);
        assert_eq!(
            space_needed(dir.path(), &all, false),
            1000 + 1500 + 700 + 5000
        );
    }
}
