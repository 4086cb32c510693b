//! Storing block-mapped files: read each file (or a live SQLite database, page by page inside one
//! read transaction) block by block, keep the blocks the parent's map already holds, and compress
//! the others into block volumes, one writer thread per core.
//!
//! One thread reads in order and another hashes the whole file as it goes by; the workers hash
//! each block, compare it with the parent's, and store the changed ones. When a database's WAL
//! names the few pages changed since the parent, only their blocks are read and the file is
//! checked by its block-list digest alone. Memory is a few batches per worker and the
//! maps (about 50 bytes a block), whatever the file sizes.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use super::sqlite::{WalBase, read_snapshot, wal_changed_pages};
use super::{Cancel, Progress};
use crate::error::{Error, ErrorKind, Result};
use crate::repo::blockmap::{
    BlockMaps, BlockRecord, FileMap, block_count, block_len, block_size_for,
};
use crate::repo::blockvol::BlockVolumeWriter;
use crate::repo::crypto::SecretKey;
use crate::repo::envelope::{ObjectContext, ObjectKind};
use crate::repo::hash::Sha256;
use crate::repo::keys::{volume_key, volume_name};
use crate::repo::manifest::{VolumeContent, VolumeRecord};
use crate::storage::DynStorage;
use crate::storage::bridge::{PumpSender, writer_pump};

/// Blocks handed to a worker at once (at most this many bytes, one block at least).
const BATCH_BYTES: usize = 1 << 20;

/// One file to store as blocks.
#[derive(Debug, Clone)]
pub(crate) struct BlockFile {
    /// Index of its entry in the manifest being built.
    pub entry: usize,
    pub path: String,
    pub read_from: PathBuf,
    /// A SQLite database: read a snapshot through SQLite.
    pub sqlite: bool,
    /// The parent backup's map of this file (its map object, and the file's map in it).
    pub parent: Option<(Arc<BlockMaps>, usize)>,
    /// What the parent's snapshot of the database saw: when the WAL now names every page
    /// changed since, only those are hashed (and, when few, read).
    pub parent_wal: Option<WalBase>,
}

/// What storing one file produced.
#[derive(Debug, Clone)]
pub(crate) struct BlockFileDone {
    pub entry: usize,
    pub path: String,
    pub size: u64,
    /// The whole file's SHA-256, when every byte was read (not when the WAL named the changed
    /// blocks and only those were read).
    pub sha256: Option<String>,
    /// The block-list digest (always).
    pub digest: String,
    pub block_size: u32,
    /// Backups holding its blocks (this one first when it stored any).
    pub backups: Vec<String>,
    pub wal: Option<String>,
    pub blocks: u64,
    pub blocks_stored: u64,
    pub bytes_stored: u64,
    /// Blocks read (fewer than `blocks` when the WAL named the changed ones and only those
    /// were read).
    pub blocks_read: u64,
    /// Blocks hashed to find the changes (fewer than `blocks` when the WAL named them).
    pub blocks_hashed: u64,
    pub changed_while_reading: bool,
    /// Gone or unreadable when its turn came: nothing stored.
    pub skipped: Option<String>,
    /// The SQLite snapshot failed and the file was read as it is on disk.
    pub plain_copy: Option<String>,
}

/// Everything the block phase of a backup produced.
#[derive(Debug, Default)]
pub(crate) struct BlocksDone {
    pub files: Vec<BlockFileDone>,
    pub maps: BlockMaps,
    pub volumes: Vec<VolumeRecord>,
}

/// Where and how to write.
pub(crate) struct BlockStore {
    pub storage: DynStorage,
    pub master: Option<SecretKey>,
    pub repo_id: String,
    pub backup_id: String,
    pub frame_size: u32,
    pub level: i32,
    /// Start a new volume once one holds this many content bytes.
    pub volume_limit: u64,
    /// The first volume index the block volumes may take.
    pub first_volume: u32,
    pub workers: usize,
}

struct Item {
    /// Attempt number of the file (a failed SQLite read is retried as a plain read).
    attempt: usize,
    path: Arc<str>,
    index: u64,
    data: Vec<u8>,
    prior: Option<BlockRecord>,
}

/// (attempt, block index, record, stored?)
type Placed = (usize, u64, BlockRecord, bool);

impl BlockStore {
    /// Store `files` (in a blocking context: call from `spawn_blocking`).
    pub fn run(
        &self,
        files: Vec<BlockFile>,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<BlocksDone> {
        let handle = tokio::runtime::Handle::current();
        let mut maps = BlockMaps::default();
        maps.intern(&self.backup_id)?;
        let next_volume = AtomicU32::new(self.first_volume);
        let (tx, rx) = sync_channel::<Vec<Item>>(self.workers * 2);
        let rx = Arc::new(Mutex::new(rx));
        let (ptx, prx) = std::sync::mpsc::channel::<Placed>();
        let failed: Mutex<Option<Error>> = Mutex::new(None);
        let volumes: Mutex<Vec<VolumeRecord>> = Mutex::new(Vec::new());
        let mut done = Vec::new();
        let mut attempts: Vec<Vec<Option<BlockRecord>>> = Vec::new();
        let mut outcome: Result<()> = Ok(());
        std::thread::scope(|s| {
            for _ in 0..self.workers.max(1) {
                let rx = rx.clone();
                let ptx = ptx.clone();
                let (handle, next_volume, failed, volumes) =
                    (&handle, &next_volume, &failed, &volumes);
                s.spawn(move || {
                    let r = self.worker(handle, &rx, &ptx, next_volume, cancel);
                    match r {
                        Ok(mut v) => volumes
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .append(&mut v),
                        Err(e) => {
                            let mut f = failed.lock().unwrap_or_else(|e| e.into_inner());
                            if f.as_ref().is_none_or(|x| x.kind == ErrorKind::Cancelled) {
                                *f = Some(e);
                            }
                            // Stop taking work: the reader sees the channel close.
                            drop(rx);
                        }
                    }
                });
            }
            drop(ptx);
            for f in files {
                if cancel.is_cancelled() {
                    outcome = Err(super::cancelled());
                    break;
                }
                match self.read_file(&f, &mut maps, &tx, &mut attempts, progress, cancel) {
                    Ok(d) => done.push(d),
                    Err(e) => {
                        outcome = Err(e);
                        break;
                    }
                }
            }
            drop(tx);
        });
        if let Some(e) = failed.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }
        outcome?;
        for (attempt, index, rec, _) in prx.try_iter() {
            if let Some(slot) = attempts
                .get_mut(attempt)
                .and_then(|a| a.get_mut(index as usize))
            {
                *slot = Some(rec);
            }
        }
        // Each file's map from its (last) attempt.
        let mut files_out = Vec::with_capacity(done.len());
        for (mut d, attempt) in done {
            let recs = std::mem::take(&mut attempts[attempt]);
            let mut blocks = Vec::with_capacity(recs.len());
            for (i, r) in recs.into_iter().enumerate() {
                blocks.push(r.ok_or_else(|| {
                    Error::internal(format!("{}: block {i} was never stored", d.path))
                })?);
            }
            d.digest = crate::repo::hash::block_list_digest(blocks.iter().map(|r| &r.sha256));
            // This backup (index 0) first, then the others it reads.
            let held: BTreeSet<u16> = blocks.iter().map(|r| r.backup).collect();
            d.blocks_stored = blocks.iter().filter(|r| r.backup == 0).count() as u64;
            d.bytes_stored = blocks
                .iter()
                .enumerate()
                .filter(|(_, r)| r.backup == 0)
                .map(|(i, _)| {
                    crate::repo::blockmap::block_len(d.size, d.block_size, i as u64) as u64
                })
                .sum();
            d.backups = held
                .iter()
                .map(|b| maps.backups[*b as usize].clone())
                .collect();
            if d.skipped.is_none() {
                maps.files.push(FileMap {
                    path: d.path.clone(),
                    size: d.size,
                    block_size: d.block_size,
                    blocks,
                });
            }
            files_out.push(d);
        }
        maps.files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut volumes = volumes.into_inner().unwrap_or_else(|e| e.into_inner());
        volumes.sort_by_key(|v| v.index);
        Ok(BlocksDone {
            files: files_out,
            maps,
            volumes,
        })
    }

    /// Read one file in order: whole-file SHA-256, blocks to the workers (or, when the WAL says
    /// a block did not change, the parent's record). Returns the outcome and its attempt number.
    #[allow(clippy::type_complexity)]
    fn read_file(
        &self,
        f: &BlockFile,
        maps: &mut BlockMaps,
        tx: &SyncSender<Vec<Item>>,
        attempts: &mut Vec<Vec<Option<BlockRecord>>>,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<(BlockFileDone, usize)> {
        let mut done = BlockFileDone {
            entry: f.entry,
            path: f.path.clone(),
            size: 0,
            sha256: None,
            digest: String::new(),
            block_size: 0,
            backups: Vec::new(),
            wal: None,
            blocks: 0,
            blocks_stored: 0,
            bytes_stored: 0,
            blocks_read: 0,
            blocks_hashed: 0,
            changed_while_reading: false,
            skipped: None,
            plain_copy: None,
        };
        if f.sqlite {
            let attempt = attempts.len();
            attempts.push(Vec::new());
            let r = self.read_sqlite(f, maps, tx, attempt, attempts, &mut done, progress, cancel);
            match r {
                Ok(()) => return Ok((done, attempt)),
                Err(e) if e.kind == ErrorKind::Cancelled || e.kind == ErrorKind::Storage => {
                    return Err(e);
                }
                Err(e) => {
                    done.plain_copy = Some(format!(
                        "{}; the file was stored as it is on disk instead, which may be inconsistent if the database was being written",
                        e.message
                    ));
                }
            }
        }
        let attempt = attempts.len();
        attempts.push(Vec::new());
        let file = match std::fs::File::open(&f.read_from) {
            Ok(h) => h,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::PermissionDenied
                ) =>
            {
                done.skipped = Some(format!("{}: {e}; not backed up", f.path));
                return Ok((done, attempt));
            }
            Err(e) => return Err(Error::from_io("read", &f.read_from, e)),
        };
        let size = file
            .metadata()
            .map_err(|e| Error::from_io("stat", &f.read_from, e))?
            .len();
        let mut feed = Feed::new(f, maps, size, block_size_for(size, 4096), None, tx, attempt);
        attempts[attempt] = vec![None; feed.count as usize];
        let mut r = file;
        let mut buf = vec![0u8; BATCH_BYTES];
        let mut left = size;
        let mut eof = false;
        while left > 0 {
            if cancel.is_cancelled() {
                return Err(super::cancelled());
            }
            let want = buf.len().min(left as usize);
            let n = if eof {
                0
            } else {
                read_some(&mut r, &mut buf[..want], &f.read_from)?
            };
            let n = if n == 0 {
                // Shorter than when it was opened: the stored bytes are padded, and flagged.
                eof = true;
                done.changed_while_reading = true;
                buf[..want].fill(0);
                want
            } else {
                n
            };
            feed.push(&buf[..n], attempts)?;
            progress.advance(n as u64);
            left -= n as u64;
        }
        let mut one = [0u8; 1];
        if !eof && matches!(r.read(&mut one), Ok(k) if k > 0) {
            done.changed_while_reading = true;
        }
        progress.advance(feed.finish(attempts, &mut done)?);
        Ok((done, attempt))
    }

    #[allow(clippy::too_many_arguments)]
    fn read_sqlite(
        &self,
        f: &BlockFile,
        maps: &mut BlockMaps,
        tx: &SyncSender<Vec<Item>>,
        attempt: usize,
        attempts: &mut Vec<Vec<Option<BlockRecord>>>,
        done: &mut BlockFileDone,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<()> {
        let feed: RefCell<Option<Feed>> = RefCell::new(None);
        let attempts = RefCell::new(attempts);
        let maps = RefCell::new(maps);
        read_snapshot(
            &f.read_from,
            &mut |shape| {
                let bs = block_size_for(shape.size, shape.page_size);
                // Inside the read transaction: the WAL of the parent's generation names every
                // page changed since the parent's snapshot.
                let per = u64::from((bs / shape.page_size).max(1));
                let changed = f
                    .parent_wal
                    .as_ref()
                    .and_then(|base| wal_changed_pages(&f.read_from, base, shape))
                    .map(|pages| {
                        pages
                            .into_iter()
                            .filter(|p| *p > 0)
                            .map(|p| (u64::from(p) - 1) / per)
                            .collect::<BTreeSet<u64>>()
                    });
                done.wal = shape.wal.clone();
                let mut m = maps.borrow_mut();
                let fd = Feed::new(f, &mut m, shape.size, bs, changed, tx, attempt);
                attempts.borrow_mut()[attempt] = vec![None; fd.count as usize];
                let last = shape.size / u64::from(shape.page_size);
                let pages = fd.to_read().map(|blocks| {
                    blocks
                        .into_iter()
                        .map(|b| b * per + 1..((b + 1) * per).min(last) + 1)
                        .collect()
                });
                *feed.borrow_mut() = Some(fd);
                Ok(pages)
            },
            &mut |pgno, page| {
                if cancel.is_cancelled() {
                    return Err(super::cancelled());
                }
                let mut fd = feed.borrow_mut();
                let fd = fd
                    .as_mut()
                    .ok_or_else(|| Error::internal("a page before the snapshot's shape"))?;
                let at = (pgno - 1) * page.len() as u64;
                let skipped = fd.push_at(at, page, &mut attempts.borrow_mut())?;
                progress.advance(skipped + page.len() as u64);
                Ok(())
            },
        )?;
        let fd = feed
            .into_inner()
            .ok_or_else(|| Error::internal("the snapshot gave no shape"))?;
        progress.advance(fd.finish(&mut attempts.borrow_mut(), done)?);
        Ok(())
    }

    /// A worker: take batches, hash, compare, store; returns the volumes it wrote.
    fn worker(
        &self,
        handle: &tokio::runtime::Handle,
        rx: &Arc<Mutex<Receiver<Vec<Item>>>>,
        placed: &std::sync::mpsc::Sender<Placed>,
        next_volume: &AtomicU32,
        cancel: &Cancel,
    ) -> Result<Vec<VolumeRecord>> {
        let mut open: Option<OpenVolume> = None;
        let mut written = Vec::new();
        loop {
            let batch = {
                let rx = rx.lock().unwrap_or_else(|e| e.into_inner());
                rx.recv()
            };
            let Ok(batch) = batch else { break };
            if cancel.is_cancelled() {
                return Err(super::cancelled());
            }
            for item in batch {
                let mut h = Sha256::new();
                h.update(&item.data);
                let sha = h.finish();
                if let Some(p) = item.prior
                    && p.sha256 == sha
                {
                    let _ = placed.send((item.attempt, item.index, p, false));
                    continue;
                }
                if open.is_none() {
                    open = Some(self.open_volume(handle, next_volume)?);
                }
                let Some(v) = open.as_mut() else { continue };
                let (offset, length) = v
                    .writer
                    .add(&item.path, item.index, &item.data, 0)
                    .map_err(|e| crate::repo::envelope::io_to_integrity(e, &v.name))?;
                let rec = BlockRecord {
                    sha256: sha,
                    backup: 0,
                    volume: v.index,
                    offset,
                    length,
                };
                let _ = placed.send((item.attempt, item.index, rec, true));
                if v.writer.content >= self.volume_limit
                    && let Some(v) = open.take()
                {
                    written.push(v.close(handle)?);
                }
            }
        }
        if let Some(v) = open.take() {
            written.push(v.close(handle)?);
        }
        Ok(written)
    }

    fn open_volume(
        &self,
        handle: &tokio::runtime::Handle,
        next_volume: &AtomicU32,
    ) -> Result<OpenVolume> {
        let index = next_volume.fetch_add(1, Ordering::SeqCst);
        let key = volume_key(&self.backup_id, index);
        let writer = handle.block_on(self.storage.writer(&key))?;
        let (sender, pump) = {
            let _g = handle.enter();
            writer_pump(writer)
        };
        let state = Rc::new(RefCell::new(SinkState {
            hasher: Sha256::new(),
            bytes: 0,
            sender: Some(sender),
        }));
        let st = state.clone();
        let sink: Sink = Box::new(move |chunk| {
            let mut s = st.borrow_mut();
            s.hasher.update(&chunk);
            s.bytes += chunk.len() as u64;
            match &s.sender {
                Some(tx) => tx.send(chunk),
                None => Err(std::io::Error::other("the volume is closed")),
            }
        });
        let ctx = ObjectContext {
            repo_id: self.repo_id.clone(),
            kind: ObjectKind::Volume,
            name: self.backup_id.clone(),
            index,
        };
        let writer = BlockVolumeWriter::new(
            self.master.as_ref(),
            &ctx,
            self.frame_size,
            self.level,
            sink,
        )?;
        Ok(OpenVolume {
            writer,
            index,
            name: format!("volume {index} of {}", self.backup_id),
            state,
            pump,
        })
    }
}

struct SinkState {
    hasher: Sha256,
    bytes: u64,
    sender: Option<PumpSender>,
}

/// Where a block volume's sealed chunks go (the storage pump, through a hash).
type Sink = Box<dyn FnMut(Vec<u8>) -> std::io::Result<()>>;

struct OpenVolume {
    writer: BlockVolumeWriter<Sink>,
    index: u32,
    name: String,
    state: Rc<RefCell<SinkState>>,
    pump: tokio::task::JoinHandle<Result<u64>>,
}

impl OpenVolume {
    fn close(self, handle: &tokio::runtime::Handle) -> Result<VolumeRecord> {
        let content = self.writer.content;
        let wrap = |e: std::io::Error| crate::repo::envelope::io_to_integrity(e, &self.name);
        let sink = self.writer.finish().map_err(wrap)?;
        drop(sink);
        let state = Rc::try_unwrap(self.state)
            .map_err(|_| Error::internal("a block volume's sink is still shared"))?
            .into_inner();
        if let Some(tx) = state.sender {
            tx.finish().map_err(wrap)?;
        }
        let size = handle
            .block_on(self.pump)
            .map_err(|e| Error::internal(format!("volume writer task failed: {e}")))??;
        if size != state.bytes {
            return Err(Error::storage(format!(
                "{}: the store holds {size} bytes, {} were written",
                self.name, state.bytes
            )));
        }
        Ok(VolumeRecord {
            index: self.index,
            name: volume_name(self.index),
            files: 0,
            content_bytes: content,
            stored_bytes: state.bytes,
            sha256: state.hasher.finish_hex(),
            content: VolumeContent::Blocks,
        })
    }
}

fn read_some(r: &mut dyn Read, buf: &mut [u8], path: &std::path::Path) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::from_io("read", path, e)),
        }
    }
    Ok(n)
}

/// The whole file's SHA-256, computed on a thread of its own from 1 MiB chunks (so reading the
/// file and hashing it overlap).
struct WholeHasher {
    tx: Option<SyncSender<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<String>>,
    buf: Vec<u8>,
}

impl WholeHasher {
    fn start() -> WholeHasher {
        let (tx, rx) = sync_channel::<Vec<u8>>(4);
        let thread = std::thread::spawn(move || {
            let mut h = Sha256::new();
            for chunk in rx {
                h.update(&chunk);
            }
            h.finish_hex()
        });
        WholeHasher {
            tx: Some(tx),
            thread: Some(thread),
            buf: Vec::with_capacity(BATCH_BYTES),
        }
    }

    fn send(&mut self) -> Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(BATCH_BYTES));
        match &self.tx {
            Some(tx) => tx
                .send(chunk)
                .map_err(|_| Error::internal("the whole-file hasher stopped")),
            None => Err(Error::internal("the whole-file hasher is finished")),
        }
    }

    fn update(&mut self, mut data: &[u8]) -> Result<()> {
        while !data.is_empty() {
            let take = (BATCH_BYTES - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.buf.len() == BATCH_BYTES {
                self.send()?;
            }
        }
        Ok(())
    }

    /// The hex digest of everything given.
    fn finish(&mut self) -> Result<String> {
        if !self.buf.is_empty() {
            self.send()?;
        }
        self.tx = None;
        self.thread
            .take()
            .ok_or_else(|| Error::internal("the whole-file hasher is finished"))?
            .join()
            .map_err(|_| Error::internal("the whole-file hasher failed"))
    }
}

/// Cuts one file's bytes into blocks, hashes the whole, and hands blocks out.
struct Feed<'a> {
    path: Arc<str>,
    tx: &'a SyncSender<Vec<Item>>,
    attempt: usize,
    size: u64,
    block_size: u32,
    count: u64,
    /// The parent's records, translated into this backup's map table (same block size only).
    prior: Vec<BlockRecord>,
    /// Blocks the WAL names as changed (`None`: hash every block).
    changed: Option<BTreeSet<u64>>,
    /// The flat whole-file hash, when every byte is read; `None` when only the blocks the WAL
    /// names are read.
    whole: Option<WholeHasher>,
    cur: Vec<u8>,
    index: u64,
    batch: Vec<Item>,
    batch_bytes: usize,
    read: u64,
    hashed: u64,
}

impl<'a> Feed<'a> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        f: &BlockFile,
        maps: &mut BlockMaps,
        size: u64,
        block_size: u32,
        changed: Option<BTreeSet<u64>>,
        tx: &'a SyncSender<Vec<Item>>,
        attempt: usize,
    ) -> Feed<'a> {
        let mut prior = Vec::new();
        if let Some((pm, i)) = &f.parent
            && let Some(pf) = pm.files.get(*i)
            && pf.block_size == block_size
        {
            prior.reserve(pf.blocks.len());
            for r in &pf.blocks {
                let mut t = *r;
                match maps.intern(pm.backup_of(r)) {
                    Ok(b) => t.backup = b,
                    Err(_) => break,
                }
                prior.push(t);
            }
        }
        let count = block_count(size, block_size);
        let changed = if prior.is_empty() { None } else { changed };
        // Reading only the named blocks pays while they are few; past a quarter of the file one
        // pass over every page is cheaper than a lookup per page.
        let selective = changed
            .as_ref()
            .is_some_and(|c| (c.len() as u64) * 4 <= count);
        Feed {
            path: Arc::from(f.path.as_str()),
            tx,
            attempt,
            size,
            block_size,
            count,
            changed,
            prior,
            whole: (!selective).then(WholeHasher::start),
            cur: Vec::with_capacity(block_size as usize),
            index: 0,
            batch: Vec::new(),
            batch_bytes: 0,
            read: 0,
            hashed: 0,
        }
    }

    /// The parent's record of block `index` when the WAL says the block did not change: a whole
    /// block, not the parent's last (which may have been short), not named by the WAL.
    fn unchanged(&self, index: u64) -> Option<BlockRecord> {
        let changed = self.changed.as_ref()?;
        let p = *self.prior.get(index as usize)?;
        let full = block_len(self.size, self.block_size, index) == self.block_size;
        (full && index + 1 < self.prior.len() as u64 && !changed.contains(&index)).then_some(p)
    }

    /// The blocks to read when only the changed ones are (`None`: read every block).
    fn to_read(&self) -> Option<Vec<u64>> {
        if self.whole.is_some() {
            return None;
        }
        Some(
            (0..self.count)
                .filter(|&i| self.unchanged(i).is_none())
                .collect(),
        )
    }

    /// Take the parent's records for the unchanged blocks up to block `target`; the bytes
    /// skipped.
    fn skip_to(&mut self, target: u64, attempts: &mut [Vec<Option<BlockRecord>>]) -> Result<u64> {
        let mut skipped = 0u64;
        while self.index < target {
            let rec = self.unchanged(self.index).ok_or_else(|| {
                Error::internal(format!(
                    "{}: block {} was skipped but may have changed",
                    self.path, self.index
                ))
            })?;
            if let Some(slot) = attempts[self.attempt].get_mut(self.index as usize) {
                *slot = Some(rec);
            }
            skipped += u64::from(self.block_size);
            self.index += 1;
        }
        Ok(skipped)
    }

    /// Bytes at `offset` of the file: blocks before it that were not read are unchanged ones
    /// (see [`Feed::skip_to`]). Returns the bytes skipped.
    fn push_at(
        &mut self,
        offset: u64,
        data: &[u8],
        attempts: &mut [Vec<Option<BlockRecord>>],
    ) -> Result<u64> {
        let mut skipped = 0;
        let bs = u64::from(self.block_size);
        if self.cur.is_empty() && offset.is_multiple_of(bs) && offset / bs > self.index {
            skipped = self.skip_to(offset / bs, attempts)?;
        }
        if offset != self.index * bs + self.cur.len() as u64 {
            return Err(Error::internal(format!(
                "{}: bytes at {offset} arrived out of order",
                self.path
            )));
        }
        self.push(data, attempts)?;
        Ok(skipped)
    }

    fn push(&mut self, mut data: &[u8], attempts: &mut [Vec<Option<BlockRecord>>]) -> Result<()> {
        if let Some(w) = self.whole.as_mut() {
            w.update(data)?;
        }
        while !data.is_empty() {
            let want = self.block_size as usize - self.cur.len();
            let take = want.min(data.len());
            self.cur.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.cur.len() == self.block_size as usize {
                self.block_done(attempts)?;
            }
        }
        Ok(())
    }

    fn block_done(&mut self, attempts: &mut [Vec<Option<BlockRecord>>]) -> Result<()> {
        let index = self.index;
        self.index += 1;
        self.read += 1;
        let block = std::mem::replace(&mut self.cur, Vec::with_capacity(self.block_size as usize));
        let prior = self.prior.get(index as usize).copied();
        // A whole block the parent holds and the WAL does not name: the parent's record.
        if let Some(p) = self.unchanged(index) {
            if let Some(slot) = attempts[self.attempt].get_mut(index as usize) {
                *slot = Some(p);
            }
            return Ok(());
        }
        self.hashed += 1;
        self.batch_bytes += block.len();
        self.batch.push(Item {
            attempt: self.attempt,
            index,
            data: block,
            prior,
            path: self.path.clone(),
        });
        if self.batch_bytes >= BATCH_BYTES {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.batch_bytes = 0;
        self.tx
            .send(std::mem::take(&mut self.batch))
            .map_err(|_| Error::storage("the block writers stopped"))
    }

    /// Cut the last block and settle the file; returns the bytes skipped at its end.
    fn finish(
        mut self,
        attempts: &mut [Vec<Option<BlockRecord>>],
        done: &mut BlockFileDone,
    ) -> Result<u64> {
        if !self.cur.is_empty() {
            self.block_done(attempts)?;
        }
        let skipped = self.skip_to(self.count, attempts)?;
        self.flush()?;
        if self.index != self.count {
            return Err(Error::internal(format!(
                "{}: {} blocks cut, {} expected",
                self.path, self.index, self.count
            )));
        }
        done.size = self.size;
        done.block_size = self.block_size;
        done.blocks = self.count;
        done.blocks_read = self.read;
        done.blocks_hashed = self.hashed;
        done.sha256 = self.whole.as_mut().map(|w| w.finish()).transpose()?;
        Ok(skipped)
    }
}
