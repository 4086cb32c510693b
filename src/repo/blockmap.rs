//! Block maps: how a large file (or any SQLite database) is stored as fixed-size blocks, where
//! each block's bytes are, and the binary object (`backups/<id>/blockmap`) that holds the maps.
//!
//! ```text
//! map object (plaintext, then zstd, then sealed as object kind 4):
//!   "MHDRBMP1" | u16 backups | backups × (u16 len | id) | u32 files | files × file
//!   file  = u16 len | path | u64 size | u32 block_size | u64 blocks | blocks × record
//!   record (50 bytes) = sha256[32] | u16 backup | u32 volume | u64 offset | u32 length
//! ```
//! Integers are little-endian. `backup` indexes the object's backup table; `offset` and `length`
//! are the block's zstd frame inside that backup's volume plaintext (see [`super::blockvol`]).
//!
//! A continuous point's object (magic `MHDRBMP2`) may also hold **delta maps**: after the files,
//! `u32 deltas | deltas × delta`, each `u16 len | path | u64 size | u32 block_size | u64 blocks |
//! u16 base | u32 changed | changed × (u64 index | record)`: the file's map is the map of the
//! same path in backup `base` (a full map) with the changed records put in place.

use crate::error::{Error, Result};

pub const MAP_MAGIC: &[u8; 8] = b"MHDRBMP1";
/// The magic of a map object that holds delta maps (continuous points).
pub const DELTA_MAP_MAGIC: &[u8; 8] = b"MHDRBMP2";
/// The object name of a backup's block maps inside its folder.
pub const BLOCKMAP_NAME: &str = "blockmap";
/// Bytes of one block record.
pub const RECORD_LEN: usize = 50;
/// Smallest and largest block a map may give (powers of two).
pub const MIN_BLOCK: u32 = 4096;
pub const MAX_BLOCK: u32 = 64 << 20;
/// The block size grows with the file so that a file has at most about this many blocks.
const TARGET_BLOCKS: u64 = 65_536;
/// The smallest block chosen (a few SQLite pages: an updated row dirties one block).
const BASE_BLOCK: u64 = 16 << 10;
/// Decoded maps of one object may not exceed this (a 10 GiB file's map is about 2 MiB).
pub const MAX_MAP_BYTES: u64 = 512 << 20;

/// The block size for a file of `size` bytes: a power of two from 16 KiB up, at most 65,536
/// blocks for files up to 512 GiB, and never smaller than `page` (a SQLite page size).
pub fn block_size_for(size: u64, page: u32) -> u32 {
    let want = size
        .div_ceil(TARGET_BLOCKS)
        .next_power_of_two()
        .max(BASE_BLOCK);
    let b = want.min(8 << 20) as u32;
    b.max(page.next_power_of_two()).clamp(MIN_BLOCK, MAX_BLOCK)
}

/// How many blocks a file of `size` bytes has (an empty file has none).
pub fn block_count(size: u64, block_size: u32) -> u64 {
    size.div_ceil(block_size as u64)
}

/// Length of block `index` of a file of `size` bytes.
pub fn block_len(size: u64, block_size: u32, index: u64) -> u32 {
    let start = index * block_size as u64;
    (size.saturating_sub(start)).min(block_size as u64) as u32
}

/// The tar member name of block `index` of the stored file `path` in a block volume.
pub fn member_name(path: &str, index: u64) -> String {
    format!("{path}.mdrblk/{index:010}")
}

/// Where one block's bytes are and what they hash to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRecord {
    pub sha256: [u8; 32],
    /// Index into [`BlockMaps::backups`].
    pub backup: u16,
    pub volume: u32,
    /// Offset of the block's zstd frame in the volume's plaintext.
    pub offset: u64,
    /// Length of that frame.
    pub length: u32,
}

/// The map of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMap {
    pub path: String,
    pub size: u64,
    pub block_size: u32,
    pub blocks: Vec<BlockRecord>,
}

/// A file's map as the changes to another backup's map of the same path (a continuous point
/// records only the blocks that differ from its base backup's map).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaMap {
    pub path: String,
    pub size: u64,
    pub block_size: u32,
    /// Index into [`BlockMaps::backups`] of the backup holding the full map this one changes.
    pub base: u16,
    /// (block index, record), by ascending index: every block that differs from the base's,
    /// and every block past the base's end.
    pub changed: Vec<(u64, BlockRecord)>,
}

/// Every map a backup wrote, with the table of backups their records point into.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockMaps {
    pub backups: Vec<String>,
    pub files: Vec<FileMap>,
    /// Delta maps (continuous points only); a path is in `files` or here, never both.
    pub deltas: Vec<DeltaMap>,
}

impl BlockMaps {
    /// The index of `backup_id` in the table, added when missing.
    pub fn intern(&mut self, backup_id: &str) -> Result<u16> {
        if let Some(i) = self.backups.iter().position(|b| b == backup_id) {
            return Ok(i as u16);
        }
        if self.backups.len() >= u16::MAX as usize {
            return Err(Error::internal("a block map names too many backups"));
        }
        self.backups.push(backup_id.to_string());
        Ok((self.backups.len() - 1) as u16)
    }

    /// The backup id a record points into.
    pub fn backup_of(&self, r: &BlockRecord) -> &str {
        &self.backups[r.backup as usize]
    }

    /// The map of `path`, when this object holds one.
    pub fn file(&self, path: &str) -> Option<&FileMap> {
        self.files
            .binary_search_by(|f| f.path.as_str().cmp(path))
            .ok()
            .map(|i| &self.files[i])
    }

    /// The binary form (before compression and sealing). Files are sorted by path.
    pub fn encode(&self) -> Vec<u8> {
        let blocks: usize = self.files.iter().map(|f| f.blocks.len()).sum();
        let mut out = Vec::with_capacity(64 + blocks * RECORD_LEN);
        out.extend_from_slice(if self.deltas.is_empty() {
            MAP_MAGIC
        } else {
            DELTA_MAP_MAGIC
        });
        out.extend_from_slice(&(self.backups.len() as u16).to_le_bytes());
        for b in &self.backups {
            out.extend_from_slice(&(b.len() as u16).to_le_bytes());
            out.extend_from_slice(b.as_bytes());
        }
        let mut files: Vec<&FileMap> = self.files.iter().collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        out.extend_from_slice(&(files.len() as u32).to_le_bytes());
        for f in files {
            put_header(
                &mut out,
                &f.path,
                f.size,
                f.block_size,
                f.blocks.len() as u64,
            );
            for r in &f.blocks {
                put_record(&mut out, r);
            }
        }
        if !self.deltas.is_empty() {
            let mut deltas: Vec<&DeltaMap> = self.deltas.iter().collect();
            deltas.sort_by(|a, b| a.path.cmp(&b.path));
            out.extend_from_slice(&(deltas.len() as u32).to_le_bytes());
            for d in deltas {
                let count = block_count(d.size, d.block_size);
                put_header(&mut out, &d.path, d.size, d.block_size, count);
                out.extend_from_slice(&d.base.to_le_bytes());
                out.extend_from_slice(&(d.changed.len() as u32).to_le_bytes());
                for (i, r) in &d.changed {
                    out.extend_from_slice(&i.to_le_bytes());
                    put_record(&mut out, r);
                }
            }
        }
        out
    }

    /// Put `delta` in place over `base` (the full map of the same path in the backup the delta
    /// names), with `base`'s records re-pointed into this object's table. Refuses a delta whose
    /// size or block size disagree with the base, or that leaves a block without a record.
    pub fn resolve_delta(
        &mut self,
        delta: &DeltaMap,
        base: &FileMap,
        base_table: &[String],
        what: &str,
    ) -> Result<FileMap> {
        let bad = |why: String| {
            Error::integrity(format!("{what}: the delta map of {} {why}", delta.path))
        };
        if base.block_size != delta.block_size {
            return Err(bad(format!(
                "has {}-byte blocks, its base {}-byte ones",
                delta.block_size, base.block_size
            )));
        }
        let count = block_count(delta.size, delta.block_size) as usize;
        let mut blocks: Vec<Option<BlockRecord>> = Vec::with_capacity(count);
        for r in base.blocks.iter().take(count) {
            let id = base_table
                .get(r.backup as usize)
                .ok_or_else(|| bad("has a base record outside its table".to_string()))?;
            let mut r = *r;
            r.backup = self.intern(id)?;
            blocks.push(Some(r));
        }
        blocks.resize(count, None);
        for (i, r) in &delta.changed {
            let slot = blocks
                .get_mut(*i as usize)
                .ok_or_else(|| bad(format!("changes block {i} of {count}")))?;
            *slot = Some(*r);
        }
        // A block kept from the base must have the same length in both files (only the base's
        // last block and the new last block can differ): otherwise it must be changed.
        let base_count = block_count(base.size, base.block_size);
        for i in [
            base_count.saturating_sub(1),
            (count as u64).saturating_sub(1),
        ] {
            if i < base_count
                && (i as usize) < count
                && block_len(base.size, base.block_size, i)
                    != block_len(delta.size, delta.block_size, i)
                && !delta.changed.iter().any(|(c, _)| *c == i)
            {
                return Err(bad(format!(
                    "keeps the partial block {i} of a file of another size"
                )));
            }
        }
        let blocks = blocks
            .into_iter()
            .enumerate()
            .map(|(i, r)| r.ok_or_else(|| bad(format!("leaves block {i} without a record"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(FileMap {
            path: delta.path.clone(),
            size: delta.size,
            block_size: delta.block_size,
            blocks,
        })
    }

    /// Parse and check the binary form: every count against the bytes left, every block size,
    /// block count and backup reference against the rest. `what` names the object in errors.
    pub fn decode(data: &[u8], what: &str) -> Result<BlockMaps> {
        let bad = |why: &str| Error::integrity(format!("{what} is not a valid block map: {why}"));
        let mut c = Cursor { data, pos: 0 };
        let magic = c.take(8).ok_or_else(|| bad("too short"))?;
        let with_deltas = magic == DELTA_MAP_MAGIC;
        if magic != MAP_MAGIC && !with_deltas {
            return Err(bad("wrong magic"));
        }
        let nb = c.u16().ok_or_else(|| bad("truncated"))?;
        let mut backups = Vec::with_capacity(nb as usize);
        for _ in 0..nb {
            let len = c.u16().ok_or_else(|| bad("truncated"))?;
            let id = c.take(len as usize).ok_or_else(|| bad("truncated"))?;
            let id = std::str::from_utf8(id).map_err(|_| bad("a backup id is not UTF-8"))?;
            super::check_backup_id(id).map_err(|_| bad("a malformed backup id"))?;
            backups.push(id.to_string());
        }
        let nf = c.u32().ok_or_else(|| bad("truncated"))?;
        let mut files: Vec<FileMap> = Vec::new();
        for _ in 0..nf {
            let (path, size, block_size, n) = c.file_header(&bad)?;
            if n > ((c.data.len() - c.pos) / RECORD_LEN) as u64 {
                return Err(bad("truncated"));
            }
            let mut blocks = Vec::with_capacity(n as usize);
            for _ in 0..n {
                blocks.push(c.record(backups.len(), &path).map_err(|w| bad(&w))?);
            }
            if files.last().is_some_and(|l| l.path >= path) {
                return Err(bad("files out of order or repeated"));
            }
            files.push(FileMap {
                path,
                size,
                block_size,
                blocks,
            });
        }
        let mut deltas: Vec<DeltaMap> = Vec::new();
        if with_deltas {
            let nd = c.u32().ok_or_else(|| bad("truncated"))?;
            for _ in 0..nd {
                let (path, size, block_size, n) = c.file_header(&bad)?;
                let base = c.u16().ok_or_else(|| bad("truncated"))?;
                if base as usize >= backups.len() {
                    return Err(bad(&format!("{path}: its base is backup #{base}")));
                }
                let k = c.u32().ok_or_else(|| bad("truncated"))? as u64;
                if k > n || k > ((c.data.len() - c.pos) / (RECORD_LEN + 8)) as u64 {
                    return Err(bad("truncated"));
                }
                let mut changed: Vec<(u64, BlockRecord)> = Vec::with_capacity(k as usize);
                for _ in 0..k {
                    let i = c.u64().ok_or_else(|| bad("truncated"))?;
                    if i >= n || changed.last().is_some_and(|(l, _)| *l >= i) {
                        return Err(bad(&format!("{path}: block indexes out of order")));
                    }
                    changed.push((i, c.record(backups.len(), &path).map_err(|w| bad(&w))?));
                }
                if deltas.last().is_some_and(|l| l.path >= path)
                    || files.binary_search_by(|f| f.path.cmp(&path)).is_ok()
                {
                    return Err(bad("files out of order or repeated"));
                }
                deltas.push(DeltaMap {
                    path,
                    size,
                    block_size,
                    base,
                    changed,
                });
            }
        }
        if c.pos != data.len() {
            return Err(bad("bytes after the last file"));
        }
        Ok(BlockMaps {
            backups,
            files,
            deltas,
        })
    }
}

/// A file's header, as [`Cursor::file_header`] reads it.
fn put_header(out: &mut Vec<u8>, path: &str, size: u64, block_size: u32, count: u64) {
    out.extend_from_slice(&(path.len() as u16).to_le_bytes());
    out.extend_from_slice(path.as_bytes());
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&block_size.to_le_bytes());
    out.extend_from_slice(&count.to_le_bytes());
}

fn put_record(out: &mut Vec<u8>, r: &BlockRecord) {
    out.extend_from_slice(&r.sha256);
    out.extend_from_slice(&r.backup.to_le_bytes());
    out.extend_from_slice(&r.volume.to_le_bytes());
    out.extend_from_slice(&r.offset.to_le_bytes());
    out.extend_from_slice(&r.length.to_le_bytes());
}

struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    /// A file's header: its stored path (checked), size, block size and block count, which
    /// must agree.
    fn file_header(&mut self, bad: &dyn Fn(&str) -> Error) -> Result<(String, u64, u32, u64)> {
        let len = self.u16().ok_or_else(|| bad("truncated"))?;
        let path = self.take(len as usize).ok_or_else(|| bad("truncated"))?;
        let path = std::str::from_utf8(path)
            .map_err(|_| bad("a path is not UTF-8"))?
            .to_string();
        super::paths::check_stored_path(&path)?;
        let size = self.u64().ok_or_else(|| bad("truncated"))?;
        let block_size = self.u32().ok_or_else(|| bad("truncated"))?;
        if !block_size.is_power_of_two() || !(MIN_BLOCK..=MAX_BLOCK).contains(&block_size) {
            return Err(bad(&format!("{path}: block size {block_size}")));
        }
        let n = self.u64().ok_or_else(|| bad("truncated"))?;
        if n != block_count(size, block_size) {
            return Err(bad(&format!(
                "{path}: {n} blocks for {size} bytes of {block_size}-byte blocks"
            )));
        }
        Ok((path, size, block_size, n))
    }

    /// One 50-byte record whose backup index must be below `table`.
    fn record(&mut self, table: usize, path: &str) -> std::result::Result<BlockRecord, String> {
        let truncated = || "truncated".to_string();
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(self.take(32).ok_or_else(truncated)?);
        let backup = self.u16().ok_or_else(truncated)?;
        if backup as usize >= table {
            return Err(format!("{path}: a block names backup #{backup}"));
        }
        Ok(BlockRecord {
            sha256,
            backup,
            volume: self.u32().ok_or_else(truncated)?,
            offset: self.u64().ok_or_else(truncated)?,
            length: self.u32().ok_or_else(truncated)?,
        })
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).map(|b| {
            let mut a = [0u8; 8];
            a.copy_from_slice(b);
            u64::from_le_bytes(a)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> String {
        format!("backup_20260101T000000.000Z_{n:08x}")
    }

    fn sample() -> BlockMaps {
        let mut m = BlockMaps::default();
        let a = m.intern(&id(1)).unwrap();
        let b = m.intern(&id(2)).unwrap();
        let rec = |k: u8, backup| BlockRecord {
            sha256: [k; 32],
            backup,
            volume: k as u32,
            offset: 1000 * k as u64,
            length: 77,
        };
        m.files.push(FileMap {
            path: "data/app.db".into(),
            size: 40_000,
            block_size: 16384,
            blocks: vec![rec(1, a), rec(2, b), rec(3, a)],
        });
        m
    }

    #[test]
    fn block_sizes_grow_with_the_file_and_respect_pages() {
        assert_eq!(block_size_for(1 << 20, 4096), 16 << 10);
        assert_eq!(block_size_for(1 << 30, 4096), 16 << 10);
        assert_eq!(block_size_for(10 << 30, 4096), 256 << 10);
        assert_eq!(block_size_for(1 << 20, 65536), 65536);
        assert!(block_count(10 << 30, block_size_for(10 << 30, 4096)) <= 65_536);
        assert_eq!(block_len(40_000, 16384, 2), 40_000 - 32768);
    }

    /// The size FORMAT.md states for a 10 GiB file's map: 40,960 blocks of 256 KiB.
    #[test]
    fn a_ten_gib_file_has_a_map_of_about_one_and_a_half_mib() {
        let size = 10u64 << 30;
        let bs = block_size_for(size, 4096);
        let mut m = BlockMaps::default();
        let me = m.intern(&id(1)).unwrap();
        let mut offset = 0u64;
        let blocks = (0..block_count(size, bs))
            .map(|i| {
                let mut h = crate::repo::hash::Sha256::new();
                h.update(&i.to_le_bytes());
                let sha = h.finish();
                let length = 60_000 + (i % 5000) as u32;
                let r = BlockRecord {
                    sha256: sha,
                    backup: me,
                    volume: (offset >> 26) as u32,
                    offset: offset % (64 << 20),
                    length,
                };
                offset += length as u64;
                r
            })
            .collect::<Vec<_>>();
        assert_eq!(blocks.len(), 40_960);
        m.files.push(FileMap {
            path: "data/big.db".into(),
            size,
            block_size: bs,
            blocks,
        });
        let raw = m.encode();
        let packed = zstd::bulk::compress(&raw, 3).unwrap();
        assert!(raw.len() < 2_100_000, "{}", raw.len());
        assert!(packed.len() < 1_700_000, "{}", packed.len());
        eprintln!(
            "10 GiB map: {} bytes raw, {} compressed",
            raw.len(),
            packed.len()
        );
    }

    #[test]
    fn maps_round_trip_and_refuse_damage() {
        let m = sample();
        let bytes = m.encode();
        assert_eq!(BlockMaps::decode(&bytes, "t").unwrap(), m);
        for cut in [0, 9, bytes.len() - 1] {
            assert!(BlockMaps::decode(&bytes[..cut], "t").is_err(), "cut {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(BlockMaps::decode(&extra, "t").is_err());
        // A record pointing past the backup table.
        let mut bad_ref = bytes.clone();
        let first_record = bytes.len() - 3 * RECORD_LEN;
        bad_ref[first_record + 32] = 9;
        let e = BlockMaps::decode(&bad_ref, "t").unwrap_err();
        assert!(e.message.contains("names backup"), "{e}");
    }

    /// A point's delta map round-trips, and resolving it over its base gives the base with the
    /// changed blocks (and a grown tail) in place, re-pointed into the point's table.
    #[test]
    fn delta_maps_round_trip_and_resolve_over_their_base() {
        let base = sample();
        let mut point = BlockMaps::default();
        let me = point.intern("point_20260101T000000.000Z_00000001").unwrap();
        let b = point.intern(&id(1)).unwrap();
        let rec = |k: u8| BlockRecord {
            sha256: [k; 32],
            backup: me,
            volume: 0,
            offset: 10 * k as u64,
            length: 9,
        };
        // Grown from 40,000 to 50,000 bytes: block 2 (was partial) and the new block 3 change.
        point.deltas.push(DeltaMap {
            path: "data/app.db".into(),
            size: 50_000,
            block_size: 16384,
            base: b,
            changed: vec![(2, rec(7)), (3, rec(8))],
        });
        let bytes = point.encode();
        assert_eq!(&bytes[..8], DELTA_MAP_MAGIC);
        let mut back = BlockMaps::decode(&bytes, "t").unwrap();
        assert_eq!(back, point);
        let d = back.deltas[0].clone();
        let f = back
            .resolve_delta(&d, &base.files[0], &base.backups, "t")
            .unwrap();
        assert_eq!(f.blocks.len(), 4);
        assert_eq!(f.blocks[0].sha256, [1; 32]);
        assert_eq!(back.backup_of(&f.blocks[0]), id(1));
        assert_eq!(back.backup_of(&f.blocks[1]), id(2));
        assert_eq!(f.blocks[3].sha256, [8; 32]);
        // A grown file whose old partial last block is kept is refused.
        let mut d2 = d.clone();
        d2.changed.remove(0);
        let e = back
            .resolve_delta(&d2, &base.files[0], &base.backups, "t")
            .unwrap_err();
        assert!(e.message.contains("partial block"), "{e}");
        // A delta that leaves a new block without a record is refused.
        let mut d3 = d.clone();
        d3.changed.truncate(1);
        assert!(
            back.resolve_delta(&d3, &base.files[0], &base.backups, "t")
                .is_err()
        );
        // Out-of-order indexes are refused.
        let mut swapped = point.clone();
        swapped.deltas[0].changed.reverse();
        assert!(BlockMaps::decode(&swapped.encode(), "t").is_err());
    }
}
