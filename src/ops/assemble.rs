//! Reading block-mapped files back: the block maps a snapshot needs, and the blocks themselves,
//! fetched volume by volume (in parallel) with ranged reads of just the frames wanted, each block
//! checked against its SHA-256. Restore writes them into place; validation only checks them.

use std::collections::HashMap;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::sync::Arc;

use futures::StreamExt;

use super::{Cancel, Progress};
use crate::error::{Error, ErrorKind, Result};
use crate::repo::Repository;
use crate::repo::blockmap::{BlockMaps, BlockRecord, FileMap, block_len};
use crate::repo::blockvol::{Block, MEMBER_OVERHEAD, decode_block};
use crate::repo::catalog::Catalog;
use crate::repo::crypto::SecretKey;
use crate::repo::envelope::{HEADER_LEN, ObjectContext, RangeOpener};
use crate::repo::hash::{DigestKind, block_list_digest};
use crate::repo::keys::volume_key;
use crate::repo::manifest::{Entry, VolumeRecord};
use crate::storage::DynStorage;

/// Frames closer than this are read in one request (the gap is read and dropped).
const MAX_GAP: u64 = 1 << 20;
/// One request reads at most this many stored bytes (memory per volume reader).
const MAX_SPAN: u64 = 2 << 20;

/// The blocks one request reads, from `wanted[i]` (sorted by offset): frames until a gap of
/// more than `MAX_GAP` or a span of `MAX_SPAN`. Returns the end index and the stored range.
fn span_from(wanted: &[Wanted], i: usize) -> (usize, Range<u64>) {
    let start = wanted[i].rec.offset;
    let mut end = start + wanted[i].rec.length as u64;
    let mut j = i + 1;
    while j < wanted.len() {
        let r = &wanted[j].rec;
        let e = r.offset + r.length as u64;
        if r.offset > end + MAX_GAP || e - start > MAX_SPAN {
            break;
        }
        end = end.max(e);
        j += 1;
    }
    (j, start..end)
}

/// Hears each block read: its bytes, or what is wrong with it.
pub(crate) type OnBlock<'a> = dyn FnMut(&Wanted, Result<Block>) -> Result<()> + 'a;

/// One block to read.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    /// Which file (the caller's index).
    pub file: usize,
    pub path: Arc<str>,
    pub index: u64,
    pub block_size: u32,
    pub len: u32,
    pub rec: BlockRecord,
}

impl Wanted {
    /// Block `index` of `file` (the caller's index `caller`), stored as `rec`.
    fn of(
        caller: usize,
        path: &Arc<str>,
        file: &FileMap,
        index: usize,
        rec: BlockRecord,
    ) -> Wanted {
        Wanted {
            file: caller,
            path: path.clone(),
            index: index as u64,
            block_size: file.block_size,
            len: block_len(file.size, file.block_size, index as u64),
            rec,
        }
    }
}

/// Load the block map objects of `ids` (backup ids), checked against their manifests.
pub(crate) async fn load_maps(
    repo: &Repository,
    catalog: &Catalog,
    ids: &[String],
) -> Result<HashMap<String, Arc<BlockMaps>>> {
    let mut out = HashMap::new();
    for id in ids {
        let id = id.as_str();
        if out.contains_key(id) {
            continue;
        }
        out.insert(id.to_string(), Arc::new(load_map(repo, catalog, id).await?));
    }
    Ok(out)
}

/// The block map object of the backup (or point) `id`, checked against its manifest's record
/// of it (a point's delta maps resolved over their bases).
pub(crate) async fn load_map(repo: &Repository, catalog: &Catalog, id: &str) -> Result<BlockMaps> {
    let item = catalog
        .get(id)
        .and_then(|s| s.block_map.clone())
        .ok_or_else(|| {
            Error::integrity(format!(
                "{id} is missing or has no block map, and a file's blocks are listed there"
            ))
        })?;
    repo.read_block_map(id, &item).await
}

/// Every block of `entry` (a block-mapped file) grouped by the (backup, volume) holding it.
pub(crate) fn wanted_blocks(
    maps: &HashMap<String, Arc<BlockMaps>>,
    entry: &Entry,
    file: usize,
    out: &mut HashMap<(String, u32), Vec<Wanted>>,
) -> Result<()> {
    let bl = entry
        .blocks
        .as_ref()
        .ok_or_else(|| Error::internal(format!("{} is not block-mapped", entry.path)))?;
    let m = maps
        .get(&bl.map_in)
        .ok_or_else(|| Error::internal(format!("the map of {} was not loaded", bl.map_in)))?;
    let fm = m.file(&entry.path).ok_or_else(|| {
        Error::integrity(format!(
            "{}: the block map of {} has no map of it",
            entry.path, bl.map_in
        ))
    })?;
    if fm.size != entry.size || fm.block_size != bl.block_size || fm.blocks.len() as u64 != bl.count
    {
        return Err(Error::integrity(format!(
            "{}: the block map of {} disagrees with the manifest (size or blocks)",
            entry.path, bl.map_in
        )));
    }
    let path: Arc<str> = Arc::from(entry.path.as_str());
    for (i, r) in fm.blocks.iter().enumerate() {
        let holder = m.backup_of(r);
        if !bl.backups.iter().any(|b| b == holder) {
            return Err(Error::integrity(format!(
                "{}: block {i} is said to be in {holder}, which the manifest does not list for it",
                entry.path
            )));
        }
        out.entry((holder.to_string(), r.volume))
            .or_default()
            .push(Wanted::of(file, &path, fm, i, *r));
    }
    Ok(())
}

/// Where a volume is and how to open it.
#[derive(Clone)]
pub(crate) struct VolumeAt {
    pub storage: DynStorage,
    pub master: Option<SecretKey>,
    pub ctx: ObjectContext,
    pub key: String,
    /// Its size as its (authenticated) manifest records it.
    pub stored: u64,
    /// "volume N of <backup>", for messages.
    pub what: String,
}

impl VolumeAt {
    pub fn of(repo: &Repository, catalog: &Catalog, backup: &str, volume: u32) -> Result<VolumeAt> {
        let summary = catalog.get(backup).ok_or_else(|| {
            Error::integrity(format!(
                "{backup} is missing or unreadable, and blocks are in it"
            ))
        })?;
        let rec = summary
            .volumes
            .iter()
            .find(|v| v.index == volume)
            .ok_or_else(|| {
                Error::integrity(format!(
                    "{backup} has no volume {volume}, and blocks are in it"
                ))
            })?;
        Self::from_record(repo, backup, rec)
    }

    /// A volume as a manifest records it.
    pub fn from_record(repo: &Repository, backup: &str, rec: &VolumeRecord) -> Result<VolumeAt> {
        Ok(VolumeAt {
            storage: repo.storage().clone(),
            master: repo.master()?.cloned(),
            ctx: repo.volume_context(backup, rec.index),
            key: volume_key(backup, rec.index),
            stored: rec.stored_bytes,
            what: format!("volume {} of {backup}", rec.index),
        })
    }

    /// Read the `wanted` blocks (any order) in offset order with few ranged reads; `on_block`
    /// gets each block's bytes, or what is wrong with it. Returns the stored bytes read. A block
    /// error goes to `on_block`; a volume that cannot be read at all is the returned error.
    pub fn read_blocks(
        &self,
        handle: &tokio::runtime::Handle,
        wanted: &mut [Wanted],
        cancel: &Cancel,
        on_block: &mut OnBlock<'_>,
    ) -> Result<u64> {
        // A record must place a frame no longer than its block can compress to, inside the
        // volume: anything else is refused before a byte is read for it.
        let mut plausible = Vec::with_capacity(wanted.len());
        for w in wanted.iter() {
            let fits = w
                .rec
                .offset
                .checked_add(w.rec.length as u64)
                .is_some_and(|end| end <= self.stored);
            if fits && (w.rec.length as usize) <= max_frame(w.len) {
                plausible.push(w.clone());
            } else {
                on_block(
                    w,
                    Err(Error::integrity(format!(
                        "{}: block {} is placed outside {} or with an impossible length",
                        w.path, w.index, self.what
                    ))),
                )?;
            }
        }
        let wanted = &mut plausible[..];
        wanted.sort_by_key(|w| w.rec.offset);
        let header = handle.block_on(self.storage.get_range(&self.key, 0..HEADER_LEN as u64))?;
        let opener = RangeOpener::new(
            self.master.as_ref(),
            &self.ctx,
            &header,
            self.stored,
            &self.what,
        )?;
        let mut read = header.len() as u64;
        let mut dctx =
            zstd::bulk::Decompressor::new().map_err(|e| Error::internal(format!("zstd: {e}")))?;
        if self.storage.read_plan().waits_on_round_trips() {
            return self
                .read_spans_ahead(handle, wanted, cancel, on_block, &opener, read, &mut dctx);
        }
        // The plaintext of the last span read, from `plain_start`: reused from span to span, and
        // its last frame is often the next span's first, kept rather than read twice.
        let mut plain: Vec<u8> = Vec::new();
        let mut plain_at: Option<u64> = None;
        let (fsize, fct) = opener.frame_sizes();
        let mut i = 0;
        while i < wanted.len() {
            if cancel.is_cancelled() {
                return Err(super::cancelled());
            }
            let (j, stored) = span_from(wanted, i);
            let (sealed_range, plain_start) = opener.sealed_range(stored);
            let last_frame = plain_at.filter(|_| !plain.is_empty()).map(|at| {
                let last = (plain.len().saturating_sub(1) as u64 / fsize) * fsize;
                (at + last, last as usize)
            });
            let fetch = match last_frame {
                Some((at, from)) if at == plain_start => {
                    plain.drain(..from);
                    sealed_range.start + fct..sealed_range.end
                }
                _ => {
                    plain.clear();
                    sealed_range
                }
            };
            plain_at = None;
            let opened = if fetch.start < fetch.end {
                let fetch_start = plain_start + plain.len() as u64;
                let sealed = handle.block_on(self.storage.get_range(&self.key, fetch))?;
                read += sealed.len() as u64;
                opener.open_onto(fetch_start, &sealed, &mut plain)
            } else {
                Ok(())
            };
            match opened {
                Ok(()) => {
                    plain_at = Some(plain_start);
                    for w in &wanted[i..j] {
                        on_block(w, self.frame_of(&mut dctx, w, &plain, plain_start))?;
                    }
                }
                // Damage somewhere in the span: read each block alone, so the damage is named
                // by the blocks (and files) it hits, and the others still arrive.
                Err(_) => self.read_each(handle, &wanted[i..j], &opener, &mut dctx, on_block)?,
            }
            i = j;
        }
        Ok(read)
    }

    /// Read each of `blocks` alone (after a span failed to open), so damage is named by the
    /// blocks (and files) it hits and the others still arrive.
    fn read_each(
        &self,
        handle: &tokio::runtime::Handle,
        blocks: &[Wanted],
        opener: &RangeOpener,
        dctx: &mut zstd::bulk::Decompressor<'static>,
        on_block: &mut OnBlock<'_>,
    ) -> Result<()> {
        for w in blocks {
            let (r, ps) = opener.sealed_range(w.rec.offset..w.rec.offset + w.rec.length as u64);
            let one = handle
                .block_on(self.storage.get_range(&self.key, r))
                .and_then(|sealed| opener.open(ps, &sealed))
                .map_err(|e| {
                    Error::integrity(format!(
                        "{}: block {} in {} cannot be read ({})",
                        w.path, w.index, self.what, e.message
                    ))
                })
                .and_then(|plain| self.frame_of(dctx, w, &plain, ps));
            on_block(w, one)?;
        }
        Ok(())
    }

    /// [`VolumeAt::read_blocks`] on object storage, where each request costs a round trip: the
    /// spans are planned first and requested several at once (the store's read plan), in
    /// order, while the earlier ones are opened. A frame shared by two spans is read twice
    /// (one frame per span) rather than waited for.
    #[allow(clippy::too_many_arguments)]
    fn read_spans_ahead(
        &self,
        handle: &tokio::runtime::Handle,
        wanted: &[Wanted],
        cancel: &Cancel,
        on_block: &mut OnBlock<'_>,
        opener: &RangeOpener,
        mut read: u64,
        dctx: &mut zstd::bulk::Decompressor<'static>,
    ) -> Result<u64> {
        // (first block, past the last block, sealed range, plaintext start) per request.
        let mut spans: Vec<(usize, usize, Range<u64>, u64)> = Vec::new();
        let mut i = 0;
        while i < wanted.len() {
            let (j, stored) = span_from(wanted, i);
            let (sealed, plain_start) = opener.sealed_range(stored);
            spans.push((i, j, sealed, plain_start));
            i = j;
        }
        let plan = self.storage.read_plan();
        let (tx, mut rx) = tokio::sync::mpsc::channel(plan.in_flight.max(1));
        let ranges: Vec<Range<u64>> = spans.iter().map(|s| s.2.clone()).collect();
        let (storage, key) = (self.storage.clone(), self.key.clone());
        let fetcher = handle.spawn(async move {
            use futures::StreamExt;
            let mut fetched = futures::stream::iter(ranges)
                .map(|r| {
                    let (storage, key) = (storage.clone(), key.clone());
                    async move { storage.get_range(&key, r).await }
                })
                .buffered(plan.in_flight.max(1));
            while let Some(r) = fetched.next().await {
                if tx.send(r).await.is_err() {
                    return;
                }
            }
        });
        // Stop the requests when this returns early (an error, a cancel).
        struct AbortOnDrop(tokio::task::JoinHandle<()>);
        impl Drop for AbortOnDrop {
            fn drop(&mut self) {
                self.0.abort();
            }
        }
        let _fetcher = AbortOnDrop(fetcher);
        // One plaintext buffer for every span.
        let mut plain: Vec<u8> = Vec::new();
        for (i, j, _, plain_start) in spans {
            if cancel.is_cancelled() {
                return Err(super::cancelled());
            }
            let sealed = rx
                .blocking_recv()
                .unwrap_or_else(|| Err(Error::internal("the volume reader stopped")))?;
            read += sealed.len() as u64;
            plain.clear();
            match opener.open_onto(plain_start, &sealed, &mut plain) {
                Ok(()) => {
                    for w in &wanted[i..j] {
                        on_block(w, self.frame_of(dctx, w, &plain, plain_start))?;
                    }
                }
                // Damage somewhere in the span: each block alone, as read_blocks does.
                Err(_) => self.read_each(handle, &wanted[i..j], opener, dctx, on_block)?,
            }
        }
        Ok(read)
    }
}

impl VolumeAt {
    /// Decode block `w` from `plain`, the plaintext starting at `plain_start`.
    fn frame_of(
        &self,
        dctx: &mut zstd::bulk::Decompressor<'static>,
        w: &Wanted,
        plain: &[u8],
        plain_start: u64,
    ) -> Result<Block> {
        let s = w.rec.offset.checked_sub(plain_start).map(|s| s as usize);
        match s.and_then(|s| plain.get(s..s + w.rec.length as usize)) {
            Some(frame) => decode_block(
                dctx,
                frame,
                &w.path,
                w.index,
                w.len,
                &w.rec.sha256,
                &self.what,
            ),
            None => Err(Error::integrity(format!(
                "{}: block {} lies past the end of {}",
                w.path, w.index, self.what
            ))),
        }
    }
}

/// Bytes of consecutive blocks written at once.
const WRITE_RUN: usize = 1 << 20;

/// Consecutive blocks of one file waiting to be written (as they were decoded: one vectored
/// write, no copy into a buffer of its own).
#[derive(Default)]
struct Run {
    file: usize,
    offset: u64,
    block_size: u32,
    path: Arc<str>,
    blocks: Vec<Block>,
    len: usize,
}

impl Run {
    /// Whether a block of `file` at `offset` continues this run.
    fn extends(&self, file: usize, offset: u64) -> bool {
        self.len > 0 && self.file == file && self.offset + self.len as u64 == offset
    }

    fn start(&mut self, file: usize, offset: u64, block_size: u32, path: &Arc<str>) {
        self.file = file;
        self.offset = offset;
        self.block_size = block_size;
        self.path = path.clone();
    }

    fn push(&mut self, block: Block) {
        self.len += block.len();
        self.blocks.push(block);
    }

    /// Write the run, then tell the file's hashing thread (if it has one) which blocks it holds.
    fn flush(
        &mut self,
        handles: &[Arc<std::fs::File>],
        marks: &[Option<Arc<Written>>],
    ) -> Result<()> {
        if self.len > 0 {
            let parts: Vec<&[u8]> = self.blocks.iter().map(|b| &b[..]).collect();
            write_all_at(&handles[self.file], &parts, self.offset)
                .map_err(|e| Error::io(format!("writing {}: {e}", self.path)))?;
            if let Some(Some(w)) = marks.get(self.file) {
                let bs = self.block_size.max(1) as u64;
                let end = self.offset + self.len as u64;
                w.mark(self.offset / bs, end.div_ceil(bs));
            }
            self.blocks.clear();
            self.len = 0;
        }
        Ok(())
    }
}

/// Write `parts`, one after the other, at `offset` of `file`: vectored writes (`pwritev`), each
/// continuing where a short one stopped.
fn write_all_at(file: &std::fs::File, parts: &[&[u8]], mut offset: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // At most this many parts per call (Linux's IOV_MAX is 1024).
    const MAX_PARTS: usize = 512;
    let (mut first, mut skip) = (0usize, 0usize);
    while first < parts.len() {
        let iov: Vec<libc::iovec> = parts[first..]
            .iter()
            .take(MAX_PARTS)
            .enumerate()
            .map(|(k, p)| {
                let p = if k == 0 { &p[skip..] } else { p };
                libc::iovec {
                    iov_base: p.as_ptr() as *mut libc::c_void,
                    iov_len: p.len(),
                }
            })
            .collect();
        let at = libc::off_t::try_from(offset)
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
        // SAFETY: each iovec points into a slice of `parts`, alive and unchanged for the call,
        // which only reads them; `iov.len()` is at most MAX_PARTS.
        let n = unsafe { libc::pwritev(file.as_raw_fd(), iov.as_ptr(), iov.len() as i32, at) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        let mut n = n as usize;
        offset += n as u64;
        while n > 0 && first < parts.len() {
            let left = parts[first].len() - skip;
            if n >= left {
                n -= left;
                first += 1;
                skip = 0;
            } else {
                skip += n;
                n = 0;
            }
        }
        while first < parts.len() && parts[first].len() == skip {
            first += 1;
            skip = 0;
        }
    }
    Ok(())
}

/// The longest zstd frame one block of `len` bytes (in its tar member) can compress to.
fn max_frame(len: u32) -> usize {
    zstd::zstd_safe::compress_bound(len as usize + MEMBER_OVERHEAD)
}

/// What fetching wrote.
#[derive(Debug, Default)]
pub(crate) struct Fetched {
    pub volumes: u64,
    /// Per file (in the order given): the whole-file digest of what was written (the kind the
    /// entry records): a block-list digest from the blocks checked as they were written, or a
    /// flat one hashed while the blocks arrived (large files); `None`: read the file back to
    /// hash it.
    pub digests: Vec<Option<String>>,
}

/// Files at least this large (the largest [`MAX_FOLLOWERS`] of them) are hashed while their
/// blocks arrive, by a thread that follows the written prefix; the others are read back once
/// written.
const FOLLOW_MIN: u64 = 4 << 20;
const MAX_FOLLOWERS: usize = 8;

/// Which blocks of a file are written (for the thread that hashes it in order).
struct Written {
    blocks: Vec<std::sync::atomic::AtomicBool>,
}

impl Written {
    /// Every block is written.
    fn all(&self) -> bool {
        self.blocks
            .iter()
            .all(|b| b.load(std::sync::atomic::Ordering::Acquire))
    }

    fn mark(&self, first: u64, end: u64) {
        for i in first..end.min(self.blocks.len() as u64) {
            self.blocks[i as usize].store(true, std::sync::atomic::Ordering::Release);
        }
    }
}

/// The digest of kind `kind` of `file`, hashed in block order as its blocks are written; `None`
/// if `stop` is set first.
fn follow(
    file: Arc<std::fs::File>,
    written: Arc<Written>,
    size: u64,
    block_size: u32,
    kind: crate::repo::hash::DigestKind,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> Option<String> {
    use std::sync::atomic::Ordering;
    let mut h = crate::repo::hash::ContentHasher::new(kind);
    let mut buf = vec![0u8; block_size as usize];
    for (i, done) in written.blocks.iter().enumerate() {
        while !done.load(Ordering::Acquire) {
            if stop.load(Ordering::Acquire) {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        let len = block_len(size, block_size, i as u64) as usize;
        file.read_exact_at(&mut buf[..len], i as u64 * block_size as u64)
            .ok()?;
        h.update(&buf[..len]);
    }
    Some(h.finish_hex())
}

/// Permits for the threads that read volumes, a fixed number per core, shared by everything a
/// restore reads at once (whole-file volumes and block volumes): neither kind waits for the
/// other's last volume while a core idles, and no more readers (and their buffers) run than
/// the permits allow.
pub(crate) type Slots = Arc<tokio::sync::Semaphore>;

/// [`Slots`] for `per_core` readers per core.
pub(crate) fn slots(per_core: usize) -> Slots {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    Arc::new(tokio::sync::Semaphore::new(cores * per_core.max(1)))
}

/// Wait for a free slot; it is given back when the permit drops.
pub(crate) async fn take_slot(slots: &Slots) -> Result<tokio::sync::OwnedSemaphorePermit> {
    slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| Error::internal("the restore's readers were closed"))
}

/// Fetch every block of `files` (block-mapped entries with an open file each, sized already) and
/// write each at its offset: one volume per free slot of `slots`, the first damaged block stops
/// everything.
pub(crate) async fn fetch_files(
    repo: &Repository,
    catalog: &Catalog,
    files: &[(Arc<std::fs::File>, Entry)],
    slots: &Slots,
    progress: Arc<dyn Progress>,
    cancel: &Cancel,
) -> Result<Fetched> {
    let mut ids: Vec<String> = Vec::new();
    for (_, e) in files {
        if let Some(b) = &e.blocks {
            ids.push(b.map_in.clone());
        }
    }
    let maps = load_maps(repo, catalog, &ids).await?;
    let mut by_volume: HashMap<(String, u32), Vec<Wanted>> = HashMap::new();
    for (i, (_, e)) in files.iter().enumerate() {
        wanted_blocks(&maps, e, i, &mut by_volume)?;
    }
    let mut jobs = Vec::with_capacity(by_volume.len());
    for ((b, v), wanted) in by_volume {
        jobs.push((VolumeAt::of(repo, catalog, &b, v)?, wanted));
    }
    // The volumes with the most to read first: the last ones to finish are then small, and no
    // core waits long for another at the end.
    jobs.sort_by_key(|(at, wanted)| {
        let bytes: u64 = wanted.iter().map(|w| w.rec.length as u64).sum();
        (std::cmp::Reverse(bytes), at.what.clone())
    });
    let handles: Vec<Arc<std::fs::File>> = files.iter().map(|(f, _)| f.clone()).collect();
    let handles = Arc::new(handles);
    // A file checked by its block-list digest needs no second pass: every block was hashed,
    // as the exact bytes then written at its offset, against its record, so the records' digest
    // is the written file's once every block is marked written. A large file checked by a flat
    // SHA-256 (format 2) is hashed in block order by a thread as its blocks are written.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut followers = Vec::with_capacity(files.len());
    let mut marks: Vec<Option<Arc<Written>>> = Vec::with_capacity(files.len());
    let mut by_size: Vec<usize> = (0..files.len())
        .filter(|&i| files[i].1.size >= FOLLOW_MIN)
        .collect();
    by_size.sort_by_key(|&i| std::cmp::Reverse(files[i].1.size));
    by_size.truncate(MAX_FOLLOWERS);
    let new_marks = |count: u64| {
        Arc::new(Written {
            blocks: (0..count)
                .map(|_| std::sync::atomic::AtomicBool::new(false))
                .collect(),
        })
    };
    for (i, (f, e)) in files.iter().enumerate() {
        let Some(bl) = &e.blocks else {
            followers.push(None);
            marks.push(None);
            continue;
        };
        match e.whole_digest().ok() {
            Some((DigestKind::BlockList(_), _)) => {
                followers.push(None);
                marks.push(Some(new_marks(bl.count)));
            }
            Some((kind, _)) if by_size.contains(&i) => {
                let w = new_marks(bl.count);
                let (f, w2, stop, size, bs) =
                    (f.clone(), w.clone(), stop.clone(), e.size, bl.block_size);
                followers.push(Some(std::thread::spawn(move || {
                    follow(f, w2, size, bs, kind, stop)
                })));
                marks.push(Some(w));
            }
            _ => {
                followers.push(None);
                marks.push(None);
            }
        }
    }
    let marks = Arc::new(marks);
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let results: Vec<Result<()>> = futures::stream::iter(jobs)
        .map(|(at, mut wanted)| {
            let handles = handles.clone();
            let marks = marks.clone();
            let progress = progress.clone();
            let cancel = cancel.clone();
            let slots = slots.clone();
            async move {
                let _slot = take_slot(&slots).await?;
                let handle = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    // Consecutive blocks of a file are written together: one write per MiB, not
                    // per block (writers of one file take turns on its lock).
                    let mut run = Run::default();
                    let read = at.read_blocks(&handle, &mut wanted, &cancel, &mut |w, block| {
                        let block = block?;
                        let offset = w.index * w.block_size as u64;
                        if !run.extends(w.file, offset) || run.len >= WRITE_RUN {
                            run.flush(&handles, &marks)?;
                            run.start(w.file, offset, w.block_size, &w.path);
                        }
                        progress.advance(block.len() as u64);
                        run.push(block);
                        Ok(())
                    });
                    read.and_then(|_| run.flush(&handles, &marks))
                        .map_err(|e| e.context(format!("restoring blocks from {}", at.what)))
                })
                .await
                .map_err(|e| Error::internal(format!("block restore task failed: {e}")))?
            }
        })
        .buffer_unordered(cores)
        .collect()
        .await;
    let mut out = Fetched::default();
    let mut first: Option<Error> = None;
    if results.iter().any(|r| r.is_err()) {
        stop.store(true, std::sync::atomic::Ordering::Release);
    }
    for (i, f) in followers.into_iter().enumerate() {
        let e = &files[i].1;
        let listed = match (e.whole_digest().ok(), &marks[i]) {
            (Some((DigestKind::BlockList(_), _)), Some(w)) if w.all() => e
                .blocks
                .as_ref()
                .and_then(|b| maps.get(&b.map_in))
                .and_then(|m| m.file(&e.path))
                .map(|fm| block_list_digest(fm.blocks.iter().map(|r| &r.sha256))),
            _ => None,
        };
        out.digests
            .push(listed.or_else(|| f.and_then(|t| t.join().ok().flatten())));
    }
    for r in results {
        match r {
            Ok(()) => out.volumes += 1,
            Err(e) => {
                if first
                    .as_ref()
                    .is_none_or(|f| f.kind == ErrorKind::Cancelled)
                {
                    first = Some(e);
                }
            }
        }
    }
    match first {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Every block the map object `maps` of `backup` places in its own volume `volume`.
pub(crate) fn blocks_in(maps: &BlockMaps, backup: &str, volume: u32) -> Vec<Wanted> {
    let Some(me) = maps.backups.iter().position(|b| b == backup) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for f in &maps.files {
        let path: Arc<str> = Arc::from(f.path.as_str());
        for (i, r) in f.blocks.iter().enumerate() {
            if r.backup as usize == me && r.volume == volume {
                out.push(Wanted::of(0, &path, f, i, *r));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::FileExt;

    #[test]
    fn many_parts_land_in_order_at_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(dir.path().join("f"))
            .unwrap();
        // More parts than one call takes, some empty, of odd sizes.
        let parts: Vec<Vec<u8>> = (0..1300u32)
            .map(|i| vec![(i % 251) as u8; (i as usize * 37) % 301])
            .collect();
        let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
        write_all_at(&f, &refs, 4096).unwrap();
        let want: Vec<u8> = parts.concat();
        let mut got = vec![0u8; want.len()];
        f.read_exact_at(&mut got, 4096).unwrap();
        assert_eq!(got, want);
        assert_eq!(f.metadata().unwrap().len(), 4096 + want.len() as u64);
    }
}
