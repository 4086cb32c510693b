//! The volume tar reader: reads what the volume writer writes (regular files, GNU long names) and
//! nothing more, with every length bounded before it is read.
//!
//! A general tar reader reads a GNU long name, or a pax header, whole into memory whatever size
//! its header claims. Here a long name is at most [`MAX_PATH_BYTES`], header checksums are
//! verified, and any other record type is handed to the caller to reject. Content is streamed.

use std::io::{self, Read};

use tar::{EntryType, Header};

use crate::error::Error;

/// The longest stored path (Linux's PATH_MAX); a long-name record may hold it and a NUL.
pub const MAX_PATH_BYTES: u64 = 4096;
const BLOCK: usize = 512;

/// One member of the archive: its path, its record type and its content size.
#[derive(Debug, Clone, PartialEq)]
pub struct TarEntry {
    pub path: Vec<u8>,
    pub kind: EntryType,
    pub size: u64,
}

/// Reads members one by one; [`TarReader::content`] reads the current member's bytes.
pub struct TarReader<R> {
    inner: R,
    /// Content bytes of the current member not read yet.
    left: u64,
    /// Padding after the current member's content.
    padding: u64,
    done: bool,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, Error::integrity(msg))
}

fn padding(size: u64) -> u64 {
    (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64
}

impl<R: Read> TarReader<R> {
    pub fn new(inner: R) -> Self {
        TarReader {
            inner,
            left: 0,
            padding: 0,
            done: false,
        }
    }

    /// The rest of the stream (after the end-of-archive block).
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn skip(&mut self, n: u64) -> io::Result<()> {
        let skipped = io::copy(&mut (&mut self.inner).take(n), &mut io::sink())?;
        if skipped < n {
            return Err(invalid("the archive ends inside a member".into()));
        }
        Ok(())
    }

    /// Read one header block; `None` at a zero block (the end of the archive).
    fn header(&mut self) -> io::Result<Option<Box<[u8; BLOCK]>>> {
        let mut block = Box::new([0u8; BLOCK]);
        let mut n = 0;
        while n < BLOCK {
            match self.inner.read(&mut block[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if n == 0 {
            return Err(invalid("the archive has no end-of-archive block".into()));
        }
        if n < BLOCK {
            return Err(invalid("the archive ends inside a header".into()));
        }
        if block.iter().all(|b| *b == 0) {
            return Ok(None);
        }
        let h = Header::from_byte_slice(&block[..]);
        let sum: u32 = block[..148]
            .iter()
            .chain(&[b' '; 8])
            .chain(&block[156..])
            .map(|b| u32::from(*b))
            .sum();
        match h.cksum() {
            Ok(c) if c == sum => Ok(Some(block)),
            _ => Err(invalid("a tar header fails its checksum".into())),
        }
    }

    /// The next member, or `None` after the end-of-archive block. The previous member's unread
    /// content is skipped.
    pub fn next_entry(&mut self) -> io::Result<Option<TarEntry>> {
        if self.done {
            return Ok(None);
        }
        // Two skips, not one of the sum: a crafted size near 2^64 must not overflow.
        self.skip(self.left)?;
        self.skip(self.padding)?;
        self.left = 0;
        self.padding = 0;
        let mut long_name: Option<Vec<u8>> = None;
        loop {
            let Some(block) = self.header()? else {
                if long_name.is_some() {
                    return Err(invalid("a long name names no member".into()));
                }
                self.done = true;
                return Ok(None);
            };
            let h = Header::from_byte_slice(&block[..]);
            let size = h
                .entry_size()
                .map_err(|_| invalid("a tar header has a malformed size".into()))?;
            let kind = h.entry_type();
            if kind.is_gnu_longname() {
                if long_name.is_some() {
                    return Err(invalid("a long name follows a long name".into()));
                }
                if size > MAX_PATH_BYTES + 1 {
                    return Err(invalid(format!(
                        "a long name of {size} bytes is longer than any path ({MAX_PATH_BYTES})"
                    )));
                }
                let mut name = vec![0u8; size as usize];
                self.inner
                    .read_exact(&mut name)
                    .map_err(|_| invalid("the archive ends inside a long name".into()))?;
                self.skip(padding(size))?;
                while name.last() == Some(&0) {
                    name.pop();
                }
                long_name = Some(name);
                continue;
            }
            let path = match long_name {
                Some(n) => n,
                None => h.path_bytes().into_owned(),
            };
            self.left = size;
            self.padding = padding(size);
            return Ok(Some(TarEntry { path, kind, size }));
        }
    }

    /// The current member's content (exactly its size; shorter only when the stream ends early,
    /// which is an error).
    pub fn content(&mut self) -> Content<'_, R> {
        Content { tar: self }
    }
}

/// A `Read` over the current member's content.
pub struct Content<'a, R> {
    tar: &'a mut TarReader<R>,
}

impl<R: Read> Read for Content<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tar.left == 0 {
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.tar.left).unwrap_or(usize::MAX));
        let n = self.tar.inner.read(&mut buf[..want])?;
        if n == 0 && want > 0 {
            return Err(invalid("the archive ends inside a member's content".into()));
        }
        self.tar.left -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (p, d) in files {
            let mut h = Header::new_gnu();
            h.set_size(d.len() as u64);
            h.set_mode(0o644);
            h.set_entry_type(EntryType::Regular);
            b.append_data(&mut h, p, *d).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn read_all(data: &[u8]) -> io::Result<Vec<(String, Vec<u8>)>> {
        let mut t = TarReader::new(data);
        let mut out = Vec::new();
        while let Some(e) = t.next_entry()? {
            let mut c = Vec::new();
            t.content().read_to_end(&mut c)?;
            out.push((String::from_utf8(e.path).unwrap(), c));
        }
        Ok(out)
    }

    #[test]
    fn reads_what_the_writer_writes_long_names_included() {
        let long = format!("{}/f", "d".repeat(300));
        let data = archive(&[("a", b"one"), (&long, &[7u8; 1000]), ("empty", b"")]);
        let got = read_all(&data).unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], ("a".into(), b"one".to_vec()));
        assert_eq!(got[1].0, long);
        assert_eq!(got[1].1, vec![7u8; 1000]);
        assert_eq!(got[2], ("empty".into(), Vec::new()));
    }

    #[test]
    fn unread_content_is_skipped() {
        let data = archive(&[("a", &[1u8; 700]), ("b", b"two")]);
        let mut t = TarReader::new(&data[..]);
        assert_eq!(t.next_entry().unwrap().unwrap().path, b"a");
        let e = t.next_entry().unwrap().unwrap();
        assert_eq!((e.path.as_slice(), e.size), (&b"b"[..], 3));
        assert!(t.next_entry().unwrap().is_none());
    }

    #[test]
    fn a_huge_long_name_is_refused_without_reading_it() {
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_entry_type(EntryType::GNULongName);
        h.set_size(1 << 40);
        h.set_cksum();
        let mut data = h.as_bytes().to_vec();
        data.extend_from_slice(&[b'x'; 4096]);
        let e = read_all(&data).unwrap_err();
        assert!(e.to_string().contains("longer than any path"), "{e}");
    }

    #[test]
    fn an_unread_member_of_any_size_is_skipped_without_overflow() {
        // A base-256 size just under 2^64 (found by the fuzzer): skipping it must fail on the
        // short stream, never overflow or skip nothing.
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..1].copy_from_slice(b"a");
        h.set_entry_type(EntryType::Regular);
        h.set_size(u64::MAX - 100);
        h.set_cksum();
        let mut data = h.as_bytes().to_vec();
        data.extend_from_slice(&[0u8; 2048]);
        let mut t = TarReader::new(&data[..]);
        assert_eq!(t.next_entry().unwrap().unwrap().size, u64::MAX - 100);
        let e = t.next_entry().unwrap_err();
        assert!(e.to_string().contains("ends inside a member"), "{e}");
    }

    #[test]
    fn damage_is_an_error_not_a_panic() {
        let data = archive(&[("a", b"one")]);
        let mut bad = data.clone();
        bad[0] ^= 1;
        assert!(read_all(&bad).unwrap_err().to_string().contains("checksum"));
        assert!(read_all(&data[..600]).is_err(), "cut inside content");
        assert!(read_all(&data[..512 + 512]).is_err(), "no end block");
        assert!(read_all(&data[..100]).is_err(), "cut inside header");
    }
}
