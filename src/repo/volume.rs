//! Volumes: a tar stream of whole files, zstd-compressed, sealed in an envelope.
//!
//! Writing streams each file through SHA-256 into tar, tar into zstd, zstd into the frame sealer;
//! memory stays at a few frames whatever the file sizes. Reading checks every tar entry against
//! the manifest: only regular files that the manifest places in this volume are accepted, whatever
//! the archive claims.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{self, Read, Write};
use std::path::PathBuf;

use crate::repo::hash::Sha256;

use super::crypto::SecretKey;
use super::envelope::{ObjectContext, Opener, Sealer, io_to_integrity};
use super::manifest::Entry;
use super::tar_reader::TarReader;
use super::timing::{Stage, StageTimes, Timed};
use crate::error::{Error, Result};

/// One file to put into a volume.
#[derive(Debug, Clone)]
pub struct VolumeInput {
    /// Index of the entry in the manifest being built.
    pub entry: usize,
    pub stored_path: String,
    /// Where to read the bytes (the live file, a command's output).
    pub read_from: PathBuf,
    pub mode: u32,
    pub mtime_ns: i64,
    /// Source size (used to plan volumes and report progress).
    pub size_hint: u64,
}

/// What a volume write produced for one file.
#[derive(Debug, Clone)]
pub struct FileOutcome {
    pub entry: usize,
    pub size: u64,
    pub sha256: String,
    /// The file changed size while it was read (its stored bytes are what was read, checksummed).
    pub changed_while_reading: bool,
    /// The file was gone or unreadable when its turn came: nothing was stored for it.
    pub skipped: Option<String>,
}

/// Reads exactly `size` bytes: stops at `size`, pads with zeros past a premature end; hashes them.
struct ExactHashing<'a, R> {
    inner: R,
    tick: &'a dyn Fn(u64),
    remaining: u64,
    hasher: Sha256,
    short: bool,
    eof: bool,
}

impl<R: Read> Read for ExactHashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 {
            return Ok(0);
        }
        let want = buf.len().min(self.remaining as usize);
        let n = if self.eof {
            0
        } else {
            self.inner.read(&mut buf[..want])?
        };
        let n = if n == 0 {
            self.eof = true;
            self.short = true;
            buf[..want].fill(0);
            want
        } else {
            n
        };
        self.hasher.update(&buf[..n]);
        self.remaining -= n as u64;
        (self.tick)(n as u64);
        Ok(n)
    }
}

/// Append one regular file to a tar stream, hashing what is stored.
pub fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    input: &VolumeInput,
    prepare: &mut dyn FnMut(&VolumeInput) -> Result<PathBuf>,
    tick: &dyn Fn(u64),
) -> Result<FileOutcome> {
    let path = prepare(input)?;
    let file = match std::fs::File::open(&path) {
        Ok(f) => f,
        // Live data moves: a file deleted or locked away since the scan is skipped, not fatal.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied
            ) =>
        {
            return Ok(FileOutcome {
                entry: input.entry,
                size: 0,
                sha256: String::new(),
                changed_while_reading: false,
                skipped: Some(format!("{}: {e}; not backed up", input.stored_path)),
            });
        }
        Err(e) => return Err(Error::from_io("read", &path, e)),
    };
    let size = file
        .metadata()
        .map_err(|e| Error::from_io("stat", &path, e))?
        .len();
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(input.mode & 0o7777);
    header.set_mtime(u64::try_from(input.mtime_ns.div_euclid(1_000_000_000)).unwrap_or(0));
    header.set_entry_type(tar::EntryType::Regular);
    let mut reader = ExactHashing {
        inner: file,
        tick,
        remaining: size,
        hasher: Sha256::new(),
        short: false,
        eof: false,
    };
    tar.append_data(&mut header, &input.stored_path, &mut reader)
        .map_err(|e| {
            io_to_integrity(e, &input.stored_path).context(format!("archiving {}", path.display()))
        })?;
    let mut grew = [0u8; 1];
    let longer = matches!(reader.inner.read(&mut grew), Ok(n) if n > 0);
    Ok(FileOutcome {
        entry: input.entry,
        size,
        sha256: reader.hasher.finish_hex(),
        changed_while_reading: reader.short || longer,
        skipped: None,
    })
}

/// How to seal and compress one volume.
#[derive(Clone, Copy)]
pub struct VolumeParams<'a> {
    pub master: Option<&'a SecretKey>,
    pub ctx: &'a ObjectContext,
    pub frame_size: u32,
    pub level: i32,
    /// zstd worker threads (0: compress on the calling thread).
    pub zstd_workers: u32,
    /// Hears how many input bytes were read (progress).
    pub tick: &'a dyn Fn(u64),
}

/// Build one volume: every input into tar -> zstd -> sealer -> `sink`.
pub fn write_volume(
    params: &VolumeParams<'_>,
    inputs: &[VolumeInput],
    prepare: &mut dyn FnMut(&VolumeInput) -> Result<PathBuf>,
    cancelled: &dyn Fn() -> bool,
    sink: impl FnMut(Vec<u8>) -> io::Result<()>,
) -> Result<Vec<FileOutcome>> {
    let VolumeParams {
        master,
        ctx,
        frame_size,
        level,
        zstd_workers,
        tick,
    } = *params;
    let sealer = Sealer::new(master, ctx, frame_size, sink);
    let what = format!("volume {} of {}", ctx.index, ctx.name);
    let wrap = |e: io::Error| io_to_integrity(e, &what);
    let mut enc = zstd::stream::Encoder::new(sealer, level).map_err(wrap)?;
    if zstd_workers > 1 {
        enc.multithread(zstd_workers).map_err(wrap)?;
    }
    let mut tar = tar::Builder::new(enc);
    let mut outcomes = Vec::with_capacity(inputs.len());
    for input in inputs {
        if cancelled() {
            return Err(Error::new(
                crate::error::ErrorKind::Cancelled,
                "backup cancelled",
            ));
        }
        outcomes.push(append_file(&mut tar, input, prepare, tick)?);
    }
    let enc = tar.into_inner().map_err(wrap)?;
    let sealer = enc.finish().map_err(wrap)?;
    sealer.finish().map_err(wrap)?;
    Ok(outcomes)
}

/// A `Read` that counts, and optionally hashes, everything read through it.
pub struct HashingReader<R> {
    pub inner: R,
    /// `None`: count only.
    pub hasher: Option<Sha256>,
    pub bytes: u64,
}

impl<R> HashingReader<R> {
    pub fn new(inner: R, hash: bool) -> Self {
        HashingReader {
            inner,
            hasher: hash.then(Sha256::new),
            bytes: 0,
        }
    }

    /// The hex SHA-256 of what was read, when hashing.
    pub fn sha256(self) -> Option<String> {
        self.hasher.map(|h| h.finish_hex())
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Read a volume, handing each expected file's bytes to `on_file`. `expected` maps stored paths
/// to the manifest entries that this volume must hold. Anything else in the archive — an unknown
/// path, a second copy, a link, a device — is an integrity error and nothing of it is handed out.
pub fn read_volume<R: Read>(
    master: Option<&SecretKey>,
    ctx: ObjectContext,
    ciphertext: R,
    expected: &BTreeMap<&str, &Entry>,
    wanted: &dyn Fn(&str) -> bool,
    on_file: &mut dyn FnMut(&Entry, &mut dyn Read) -> Result<()>,
    times: Option<&StageTimes>,
) -> Result<()> {
    let what = format!("volume {} of {}", ctx.index, ctx.name);
    let opener = Opener::new(master, ctx, Timed::new(ciphertext, times, Stage::Read))?;
    let wrap = |e: io::Error| io_to_integrity(e, &what);
    let dec =
        zstd::stream::Decoder::new(Timed::new(opener, times, Stage::Decrypt)).map_err(wrap)?;
    let dec = Timed::new(dec, times, Stage::Decompress);
    // Headers are 512-byte reads; a buffer keeps each from being its own decompression call.
    let mut archive = TarReader::new(io::BufReader::with_capacity(256 << 10, dec));
    let mut seen = BTreeSet::new();
    while let Some(item) = archive.next_entry().map_err(wrap)? {
        let path = String::from_utf8(item.path).map_err(|_| {
            Error::integrity(format!("{what} holds an entry with a non-UTF-8 path"))
        })?;
        crate::repo::paths::check_stored_path(&path).map_err(|e| e.context(what.clone()))?;
        let Some(entry) = expected.get(path.as_str()) else {
            return Err(Error::integrity(format!(
                "{what} holds {path:?}, which its manifest does not place there; the volume is corrupt or crafted and is not trusted"
            )));
        };
        if item.kind != tar::EntryType::Regular {
            return Err(Error::integrity(format!(
                "{what}: {path:?} is stored as {:?}, not a regular file",
                item.kind
            )));
        }
        if !seen.insert(path.clone()) {
            return Err(Error::integrity(format!("{what} holds {path:?} twice")));
        }
        if item.size != entry.size {
            return Err(Error::integrity(format!(
                "{what}: {path:?} holds {} bytes, the manifest says {}",
                item.size, entry.size
            )));
        }
        if wanted(&path) {
            on_file(entry, &mut archive.content())?;
        }
    }
    // Drain what follows the end-of-archive block so the final frame's authentication is checked.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(wrap)?;
    let missing: Vec<&str> = expected
        .keys()
        .filter(|p| !seen.contains(**p))
        .copied()
        .take(5)
        .collect();
    if !missing.is_empty() {
        return Err(Error::integrity(format!(
            "{what} lacks files its manifest places there: {}",
            missing.join(", ")
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::crypto::SecretKey;
    use crate::repo::envelope::ObjectKind;
    use crate::repo::manifest::{EntryKind, Origin};

    fn ctx() -> ObjectContext {
        ObjectContext {
            repo_id: "r".into(),
            kind: ObjectKind::Volume,
            name: "backup_t".into(),
            index: 0,
        }
    }

    fn entry(path: &str, size: u64, sha: &str) -> Entry {
        Entry {
            path: path.into(),
            kind: EntryKind::File,
            mode: 0o644,
            mtime_ns: 0,
            size,
            sha256: Some(sha.into()),
            target: None,
            location: None,
            origin: Origin::File,
            ctime_ns: 0,
            inode: 0,
            dev: 0,
            stamp: String::new(),
            blocks: None,
        }
    }

    fn build(key: &SecretKey, files: &[(&str, &std::path::Path)]) -> (Vec<u8>, Vec<FileOutcome>) {
        let inputs: Vec<VolumeInput> = files
            .iter()
            .enumerate()
            .map(|(i, (p, src))| VolumeInput {
                entry: i,
                stored_path: p.to_string(),
                read_from: src.to_path_buf(),
                mode: 0o644,
                mtime_ns: 0,
                size_hint: 0,
            })
            .collect();
        let mut out = Vec::new();
        let c = ctx();
        let params = VolumeParams {
            master: Some(key),
            ctx: &c,
            frame_size: 4096,
            level: 3,
            zstd_workers: 0,
            tick: &|_| {},
        };
        let outcomes = write_volume(
            &params,
            &inputs,
            &mut |i: &VolumeInput| Ok(i.read_from.clone()),
            &|| false,
            |f: Vec<u8>| {
                out.extend_from_slice(&f);
                Ok(())
            },
        )
        .unwrap();
        (out, outcomes)
    }

    #[test]
    fn files_round_trip_and_vanished_files_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, vec![7u8; 10_000]).unwrap();
        let gone = dir.path().join("gone");
        let key = SecretKey::random();
        let (sealed, outcomes) = build(&key, &[("x/a", &a), ("x/gone", &gone)]);
        assert!(outcomes[0].skipped.is_none());
        assert!(outcomes[1].skipped.as_deref().unwrap().contains("x/gone"));
        let e = entry("x/a", 10_000, &outcomes[0].sha256);
        let map: BTreeMap<&str, &Entry> = [("x/a", &e)].into_iter().collect();
        let mut got = Vec::new();
        read_volume(
            Some(&key),
            ctx(),
            &sealed[..],
            &map,
            &|_| true,
            &mut |_, r| {
                r.read_to_end(&mut got).unwrap();
                Ok(())
            },
            None,
        )
        .unwrap();
        assert_eq!(got, vec![7u8; 10_000]);
    }

    #[test]
    fn entries_the_manifest_does_not_place_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, b"payload").unwrap();
        let key = SecretKey::random();
        let (sealed, outcomes) = build(&key, &[("not/placed", &a)]);
        let e = entry("safe", 7, &outcomes[0].sha256);
        let map: BTreeMap<&str, &Entry> = [("safe", &e)].into_iter().collect();
        let mut handed_out = false;
        let err = read_volume(
            Some(&key),
            ctx(),
            &sealed[..],
            &map,
            &|_| true,
            &mut |_, _| {
                handed_out = true;
                Ok(())
            },
            None,
        );
        let err = err.unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Integrity);
        assert!(err.message.contains("not/placed"), "{err}");
        assert!(!handed_out, "a crafted entry reached the writer");
    }
}
