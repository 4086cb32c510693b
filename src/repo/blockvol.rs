//! Block volumes: the volumes that hold blocks of block-mapped files, one zstd frame per block.
//!
//! A block volume is an ordinary volume (same envelope, same tar + zstd reading with standard
//! tools) whose plaintext is a sequence of independent zstd frames: each holds one tar member,
//! `<path>.mdrblk/<index>`, whose content is one block; a final frame holds the end-of-archive
//! blocks. Because every frame stands alone, a reader that knows a block's frame (offset and
//! length, from the block map) decrypts and decompresses just that frame.

use std::io;

use super::blockmap::member_name;
use super::crypto::SecretKey;
use super::envelope::{ObjectContext, Sealer};
use super::hash::Sha256;
use super::tar_reader::TarReader;
use crate::error::{Error, Result};

/// Bytes of tar framing around a block at most (header, a GNU long name, padding).
pub const MEMBER_OVERHEAD: usize = 3 * 512 + super::tar_reader::MAX_PATH_BYTES as usize + 512;

/// Writes one block volume: [`BlockVolumeWriter::add`] per block, then [`BlockVolumeWriter::finish`].
pub struct BlockVolumeWriter<S: FnMut(Vec<u8>) -> io::Result<()>> {
    sealer: Sealer<S>,
    compressor: zstd::bulk::Compressor<'static>,
    /// Plaintext bytes written so far (the next frame's offset).
    offset: u64,
    /// Content bytes of the blocks in it.
    pub content: u64,
}

impl<S: FnMut(Vec<u8>) -> io::Result<()>> BlockVolumeWriter<S> {
    pub fn new(
        master: Option<&SecretKey>,
        ctx: &ObjectContext,
        frame_size: u32,
        level: i32,
        sink: S,
    ) -> Result<Self> {
        let compressor = zstd::bulk::Compressor::new(level)
            .map_err(|e| Error::internal(format!("zstd: {e}")))?;
        Ok(BlockVolumeWriter {
            sealer: Sealer::new(master, ctx, frame_size, sink),
            compressor,
            offset: 0,
            content: 0,
        })
    }

    fn frame(&mut self, plain: &[u8]) -> io::Result<(u64, u32)> {
        use std::io::Write;
        let packed = self.compressor.compress(plain)?;
        let at = self.offset;
        self.sealer.write_all(&packed)?;
        self.offset += packed.len() as u64;
        Ok((at, packed.len() as u32))
    }

    /// Store block `index` of `path`; returns its frame's (offset, length).
    pub fn add(
        &mut self,
        path: &str,
        index: u64,
        block: &[u8],
        mtime: u64,
    ) -> io::Result<(u64, u32)> {
        let member = tar_member(&member_name(path, index), block, mtime)?;
        let r = self.frame(&member)?;
        self.content += block.len() as u64;
        Ok(r)
    }

    /// Write the end-of-archive frame and seal the final frame; returns the sink.
    pub fn finish(mut self) -> io::Result<S> {
        self.frame(&[0u8; 1024])?;
        self.sealer.finish()
    }
}

/// One tar member (header, GNU long name when needed, content, padding), without the archive's end.
fn tar_member(name: &str, data: &[u8], mtime: u64) -> io::Result<Vec<u8>> {
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(mtime);
    header.set_entry_type(tar::EntryType::Regular);
    let mut b = tar::Builder::new(Vec::with_capacity(data.len() + 2048));
    b.append_data(&mut header, name, data)?;
    let mut v = b.into_inner()?;
    // into_inner ends the archive with two zero blocks; this member is one of many.
    v.truncate(v.len() - 1024);
    Ok(v)
}

/// Decode one block's frame: decompress it (bounded), check that it holds exactly the member
/// `<path>.mdrblk/<index>` of `len` bytes whose SHA-256 is `sha256`, and return the block.
/// `what` names the volume in errors.
pub fn decode_block(
    dctx: &mut zstd::bulk::Decompressor<'static>,
    frame: &[u8],
    path: &str,
    index: u64,
    len: u32,
    sha256: &[u8; 32],
    what: &str,
) -> Result<Block> {
    let name = member_name(path, index);
    let bad = |why: String| {
        Error::integrity(format!(
            "{path}: block {index} in {what} is damaged ({why})"
        ))
    };
    let plain = dctx
        .decompress(frame, len as usize + MEMBER_OVERHEAD)
        .map_err(|e| bad(format!("it does not decompress: {e}")))?;
    let mut tar = TarReader::new(&plain[..]);
    let item = tar
        .next_entry()
        .map_err(|e| bad(e.to_string()))?
        .ok_or_else(|| bad("an empty frame".into()))?;
    if item.path != name.as_bytes() || item.kind != tar::EntryType::Regular {
        return Err(bad(format!(
            "the frame holds {:?}, not {name:?}",
            String::from_utf8_lossy(&item.path)
        )));
    }
    if item.size != len as u64 {
        return Err(bad(format!("{} bytes, the map says {len}", item.size)));
    }
    // The content follows the header(s) in the decompressed frame: checked where it lies.
    let rest: &[u8] = tar.into_inner();
    let start = plain.len() - rest.len();
    let data = rest
        .get(..len as usize)
        .ok_or_else(|| bad("the frame ends inside the block".into()))?;
    let mut h = Sha256::new();
    h.update(data);
    if &h.finish() != sha256 {
        return Err(bad("its SHA-256 does not match the block map".into()));
    }
    Ok(Block {
        buf: plain,
        start,
        len: len as usize,
    })
}

/// A checked block's bytes, where they lie in its decompressed frame.
pub struct Block {
    buf: Vec<u8>,
    start: usize,
    len: usize,
}

impl std::ops::Deref for Block {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.buf[self.start..self.start + self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::envelope::{ObjectKind, RangeOpener};

    #[test]
    fn each_block_reads_back_alone_and_the_volume_is_a_plain_tar_zst() {
        let key = SecretKey::random();
        let ctx = ObjectContext {
            repo_id: "r".into(),
            kind: ObjectKind::Volume,
            name: "backup_x".into(),
            index: 3,
        };
        let mut sealed = Vec::new();
        let blocks: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; 3000 + i as usize]).collect();
        let mut w = BlockVolumeWriter::new(Some(&key), &ctx, 4096, 3, |c: Vec<u8>| {
            sealed.extend_from_slice(&c);
            Ok(())
        })
        .unwrap();
        let long = "d/".repeat(80) + "db";
        let places: Vec<(u64, u32)> = blocks
            .iter()
            .enumerate()
            .map(|(i, b)| w.add(&long, i as u64, b, 0).unwrap())
            .collect();
        let _ = w.finish().unwrap();
        let ro = RangeOpener::new(Some(&key), &ctx, &sealed, sealed.len() as u64, "v").unwrap();
        for (i, (off, len)) in places.iter().enumerate().rev() {
            let (range, start) = ro.sealed_range(*off..off + *len as u64);
            let end = (range.end as usize).min(sealed.len());
            let plain = ro.open(start, &sealed[range.start as usize..end]).unwrap();
            let s = (off - start) as usize;
            let frame = &plain[s..s + *len as usize];
            let mut h = Sha256::new();
            h.update(&blocks[i]);
            let sha = h.finish();
            let mut d = zstd::bulk::Decompressor::new().unwrap();
            let len = blocks[i].len() as u32;
            let got = decode_block(&mut d, frame, &long, i as u64, len, &sha, "v").unwrap();
            assert_eq!(&got[..], &blocks[i][..]);
            // The wrong index or digest is refused.
            assert!(decode_block(&mut d, frame, &long, i as u64 + 1, len, &sha, "v").is_err());
        }
        // Front to back, the volume is one tar stream of every block.
        let plain = crate::repo::envelope::open_all(Some(&key), &ctx, &sealed).unwrap();
        let tar = zstd::stream::decode_all(&plain[..]).unwrap();
        let mut r = TarReader::new(&tar[..]);
        let mut n = 0;
        while let Some(e) = r.next_entry().unwrap() {
            assert_eq!(e.size, blocks[n].len() as u64);
            n += 1;
        }
        assert_eq!(n, blocks.len());
    }
}
