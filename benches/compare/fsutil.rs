//! File-system helpers: tree walks, pre-reading, `du`, and free-space and tmpfs checks.

use std::collections::HashSet;
use std::ffi::CString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Calls `f` for every regular file under `root` (not following symlinks), in sorted order.
pub fn walk_files(root: &Path, f: &mut dyn FnMut(&Path, &fs::Metadata)) -> io::Result<()> {
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries = fs::read_dir(&dir)?.collect::<io::Result<Vec<_>>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries.iter().rev() {
            let path = entry.path();
            let meta = fs::symlink_metadata(&path)?;
            if meta.is_dir() {
                stack.push(path);
            } else if meta.is_file() {
                f(&path, &meta);
            }
        }
    }
    Ok(())
}

/// Regular-file count and their total apparent size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeStats {
    pub files: u64,
    pub bytes: u64,
}

pub fn tree_stats(root: &Path) -> io::Result<TreeStats> {
    let mut stats = TreeStats { files: 0, bytes: 0 };
    walk_files(root, &mut |_, meta| {
        stats.files += 1;
        stats.bytes += meta.len();
    })?;
    Ok(stats)
}

/// Writes `bytes` of zeros into a file in `dir` (a memory filesystem) and removes it, so the
/// restore that follows writes into memory the machine handed out moments ago, as every tool's
/// does. On a virtual machine whose host takes back memory left free for a while, the first
/// tool to restore after a quiet spell otherwise pays for the host faulting those pages back
/// in (seen as several seconds of kernel time on this kind of machine), and the tools alternate
/// in a fixed order: the first one would pay every time.
pub fn warm_memory_fs(dir: &Path, bytes: u64) -> io::Result<()> {
    let path = dir.join(format!("mdr-compare-warm-{}", std::process::id()));
    let buf = vec![0u8; 1 << 20];
    let written = (|| {
        let mut f = fs::File::create(&path)?;
        let mut left = bytes;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            f.write_all(&buf[..n])?;
            left -= n as u64;
        }
        Ok(())
    })();
    let removed = fs::remove_file(&path);
    written.and(removed)
}

/// Reads every file under `root` once, so a timed run starts with the same (warm) page cache
/// for every tool. Returns the bytes read.
pub fn pre_read(root: &Path) -> io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    let mut result = Ok(());
    walk_files(root, &mut |path, _| {
        if result.is_err() {
            return;
        }
        match fs::File::open(path) {
            Ok(mut file) => loop {
                match file.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => total += n as u64,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            },
            Err(e) => result = Err(e),
        }
    })?;
    result.map(|()| total)
}

/// Whether two files hold the same bytes, compared in 1 MiB pieces (this process stays small,
/// see `measure::run`).
pub fn same_contents(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut fa, mut fb) = (fs::File::open(a)?, fs::File::open(b)?);
    if fa.metadata()?.len() != fb.metadata()?.len() {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    loop {
        let n = read_full(&mut fa, &mut ba)?;
        let m = read_full(&mut fb, &mut bb)?;
        if n != m || ba[..n] != bb[..m] {
            return Ok(false);
        }
        if n == 0 {
            return Ok(true);
        }
    }
}

fn read_full(f: &mut fs::File, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match f.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Disk usage of a tree like `du -s --block-size=1`: allocated blocks of files, directories and
/// symlinks, each hard-linked inode counted once.
pub fn du(root: &Path) -> io::Result<u64> {
    let mut seen = HashSet::new();
    let mut total = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = fs::symlink_metadata(&path)?;
        if seen.insert((meta.dev(), meta.ino())) {
            total += meta.blocks() * 512;
        }
        if meta.is_dir() {
            for entry in fs::read_dir(&path)? {
                stack.push(entry?.path());
            }
        }
    }
    Ok(total)
}

/// Removes a directory tree if it exists.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    match fs::remove_dir_all(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

fn statfs(path: &Path) -> io::Result<libc::statfs> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    // SAFETY: `c` is a valid NUL-terminated path and `out` is a properly sized, writable struct.
    unsafe {
        let mut out: libc::statfs = std::mem::zeroed();
        if libc::statfs(c.as_ptr(), &mut out) == 0 {
            Ok(out)
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

/// Whether `path` lies on a tmpfs (or ramfs) mount.
pub fn is_memory_fs(path: &Path) -> io::Result<bool> {
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    let f_type = statfs(path)?.f_type as i64;
    Ok(f_type == TMPFS_MAGIC || f_type == RAMFS_MAGIC)
}

/// Bytes available to an unprivileged writer on the file system holding `path`.
pub fn free_bytes(path: &Path) -> io::Result<u64> {
    let s = statfs(path)?;
    Ok(s.f_bavail as u64 * s.f_bsize as u64)
}
