//! The byte envelope of every encrypted object: a 64-byte header, then fixed-size sealed frames.
//!
//! ```text
//! header  = "MHDRENV1" | cipher u8 | kind u8 | 0u16 | frame_size u32le | 0u32 | salt[32] | 0[12]
//! frame i = seal(plaintext[i*F .. (i+1)*F]) ; every frame but the last holds exactly F bytes
//! aad(i)  = header[64] | repo_id | 0 | object name | 0 | index u32be | i u64be | last u8
//! ```
//! The final frame carries last = 1, so a truncated object (even at a frame boundary) fails to
//! open; the object name and index in the AAD stop frames moving between objects or repositories.

use std::io::{self, Read, Write};

use super::crypto::{FrameCipher, SecretKey, TAG_LEN, random_bytes};
use crate::error::{Error, Result};

pub const MAGIC: &[u8; 8] = b"MHDRENV1";
pub const HEADER_LEN: usize = 64;
pub const DEFAULT_FRAME_SIZE: u32 = 1 << 20;
/// Frame sizes a header (or the config) may give.
pub const MIN_FRAME_SIZE: u32 = 4096;
pub const MAX_FRAME_SIZE: u32 = 64 << 20;

pub const CIPHER_NONE: u8 = 0;
pub const CIPHER_AES256GCM: u8 = 1;

/// What an object is; part of the header, so bound into every frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ObjectKind {
    Volume = 1,
    Manifest = 2,
    History = 3,
    /// A backup's block maps (`docs/FORMAT.md`, "Block maps").
    BlockMap = 4,
}

/// Which object this is, for the associated data: repository, name (backup id) and index.
#[derive(Debug, Clone)]
pub struct ObjectContext {
    pub repo_id: String,
    pub kind: ObjectKind,
    pub name: String,
    pub index: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub cipher: u8,
    pub kind: u8,
    pub frame_size: u32,
    pub salt: [u8; 32],
}

impl Header {
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut h = [0u8; HEADER_LEN];
        h[..8].copy_from_slice(MAGIC);
        h[8] = self.cipher;
        h[9] = self.kind;
        h[12..16].copy_from_slice(&self.frame_size.to_le_bytes());
        h[20..52].copy_from_slice(&self.salt);
        h
    }

    pub fn parse(h: &[u8]) -> Option<Header> {
        if h.len() < HEADER_LEN || &h[..8] != MAGIC {
            return None;
        }
        let frame_size = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
        if !(MIN_FRAME_SIZE..=MAX_FRAME_SIZE).contains(&frame_size) {
            return None;
        }
        let mut salt = [0u8; 32];
        salt.copy_from_slice(&h[20..52]);
        Some(Header {
            cipher: h[8],
            kind: h[9],
            frame_size,
            salt,
        })
    }
}

fn aad_prefix(header: &[u8; HEADER_LEN], ctx: &ObjectContext) -> Vec<u8> {
    let mut aad = header.to_vec();
    aad.extend_from_slice(ctx.repo_id.as_bytes());
    aad.push(0);
    aad.extend_from_slice(ctx.name.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&ctx.index.to_be_bytes());
    aad
}

/// A `Write` that seals what it is given into frames and hands each finished chunk to `sink`.
pub struct Sealer<S: FnMut(Vec<u8>) -> io::Result<()>> {
    cipher: FrameCipher,
    frame_size: usize,
    pending: Vec<u8>,
    index: u64,
    sink: S,
    header_sent: Option<[u8; HEADER_LEN]>,
}

impl<S: FnMut(Vec<u8>) -> io::Result<()>> Sealer<S> {
    /// `master` None: encryption disabled (frames stored in clear, no tags).
    pub fn new(master: Option<&SecretKey>, ctx: &ObjectContext, frame_size: u32, sink: S) -> Self {
        let header = Header {
            cipher: if master.is_some() {
                CIPHER_AES256GCM
            } else {
                CIPHER_NONE
            },
            kind: ctx.kind as u8,
            frame_size,
            salt: random_bytes(),
        };
        let hb = header.to_bytes();
        Sealer {
            cipher: FrameCipher::new(master, &header.salt, aad_prefix(&hb, ctx)),
            frame_size: frame_size as usize,
            pending: Vec::with_capacity(frame_size as usize + TAG_LEN),
            index: 0,
            sink,
            header_sent: Some(hb),
        }
    }

    fn emit(&mut self, last: bool) -> io::Result<()> {
        let mut frame = std::mem::replace(
            &mut self.pending,
            Vec::with_capacity(self.frame_size + TAG_LEN),
        );
        self.cipher.seal(self.index, last, &mut frame);
        self.index += 1;
        if let Some(h) = self.header_sent.take() {
            let mut first = Vec::with_capacity(HEADER_LEN + frame.len());
            first.extend_from_slice(&h);
            first.extend_from_slice(&frame);
            frame = first;
        }
        (self.sink)(frame)
    }

    /// Seal the final frame (possibly empty) and return the sink.
    pub fn finish(mut self) -> io::Result<S> {
        self.emit(true)?;
        Ok(self.sink)
    }
}

impl<S: FnMut(Vec<u8>) -> io::Result<()>> Write for Sealer<S> {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let n = buf.len();
        while !buf.is_empty() {
            if self.pending.len() == self.frame_size {
                // More data follows, so the held frame is not the last one.
                self.emit(false)?;
            }
            let take = (self.frame_size - self.pending.len()).min(buf.len());
            self.pending.extend_from_slice(&buf[..take]);
            buf = &buf[take..];
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Seal a whole in-memory object.
pub fn seal_all(master: Option<&SecretKey>, ctx: &ObjectContext, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        HEADER_LEN + data.len() + TAG_LEN * (1 + data.len() / DEFAULT_FRAME_SIZE as usize),
    );
    let mut s = Sealer::new(master, ctx, DEFAULT_FRAME_SIZE, |f: Vec<u8>| {
        out.extend_from_slice(&f);
        Ok(())
    });
    // Writing to an in-memory sink cannot fail.
    let _ = s.write_all(data);
    let _ = s.finish();
    out
}

/// Open a whole in-memory object.
pub fn open_all(master: Option<&SecretKey>, ctx: &ObjectContext, data: &[u8]) -> Result<Vec<u8>> {
    let mut r = Opener::new(master, ctx.clone(), data)?;
    let mut out = Vec::new();
    r.read_to_end(&mut out)
        .map_err(|e| io_to_integrity(e, &ctx.name))?;
    Ok(out)
}

/// Turn the io::Error an [`Opener`] raised back into the integrity error it carries.
pub fn io_to_integrity(e: io::Error, what: &str) -> Error {
    match e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
        Some(inner) => inner.clone(),
        None => Error::integrity(format!("reading {what} failed: {e}")),
    }
}

fn integrity(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, Error::integrity(msg))
}

/// A `Read` over the plaintext of a sealed object read from `inner`.
pub struct Opener<R: Read> {
    inner: R,
    cipher: Option<FrameCipher>,
    master: Option<SecretKey>,
    ctx: ObjectContext,
    frame_ct: usize,
    index: u64,
    buf: Vec<u8>,
    pos: usize,
    peeked: Option<u8>,
    done: bool,
}

impl<R: Read> Opener<R> {
    pub fn new(master: Option<&SecretKey>, ctx: ObjectContext, inner: R) -> Result<Self> {
        Ok(Opener {
            inner,
            cipher: None,
            master: master.cloned(),
            ctx,
            frame_ct: 0,
            index: 0,
            buf: Vec::new(),
            pos: 0,
            peeked: None,
            done: false,
        })
    }

    fn what(&self) -> String {
        match self.ctx.kind {
            ObjectKind::Volume => format!("volume {} of {}", self.ctx.index, self.ctx.name),
            ObjectKind::Manifest => format!("manifest of {}", self.ctx.name),
            ObjectKind::History => format!("history record {}", self.ctx.name),
            ObjectKind::BlockMap => format!("block map of {}", self.ctx.name),
        }
    }

    fn read_header(&mut self) -> io::Result<()> {
        let mut h = [0u8; HEADER_LEN];
        read_full(&mut self.inner, &mut h).and_then(|n| {
            if n < HEADER_LEN {
                Err(integrity(format!(
                    "{} is truncated: {n} bytes, no complete header",
                    self.what()
                )))
            } else {
                Ok(())
            }
        })?;
        let (fc, _) = header_cipher(&h, self.master.as_ref(), &self.ctx, &self.what())?;
        self.frame_ct = frame_len(&h) + fc.overhead();
        self.cipher = Some(fc);
        Ok(())
    }

    fn next_frame(&mut self) -> io::Result<bool> {
        if self.done {
            return Ok(false);
        }
        if self.cipher.is_none() {
            self.read_header()?;
        }
        // Reuse the previous frame's buffer, and grow it only as bytes arrive: the frame size
        // comes from an unauthenticated header, so a 64-byte object must not cost 64 MiB.
        let mut frame = std::mem::take(&mut self.buf);
        frame.clear();
        if let Some(b) = self.peeked.take() {
            frame.push(b);
        }
        let want = (self.frame_ct - frame.len()) as u64;
        (&mut self.inner).take(want).read_to_end(&mut frame)?;
        let n = frame.len();
        let last = if n < self.frame_ct {
            true
        } else {
            let mut one = [0u8; 1];
            match read_full(&mut self.inner, &mut one)? {
                0 => true,
                _ => {
                    self.peeked = Some(one[0]);
                    false
                }
            }
        };
        let what = self.what();
        let fc = self
            .cipher
            .as_ref()
            .ok_or_else(|| integrity(format!("{what}: no header")))?;
        if !fc.open(self.index, last, &mut frame) {
            return Err(integrity(format!(
                "{what}: frame {} fails authentication (the object is corrupt, truncated or was tampered with{})",
                self.index,
                if self.ctx.kind == ObjectKind::Manifest && self.index == 0 {
                    ", or the key is not this repository's"
                } else {
                    ""
                }
            )));
        }
        self.index += 1;
        self.done = last;
        self.buf = frame;
        self.pos = 0;
        Ok(true)
    }
}

fn frame_len(h: &[u8; HEADER_LEN]) -> usize {
    u32::from_le_bytes([h[12], h[13], h[14], h[15]]) as usize
}

/// Check an object's header against what the reader expects (kind, the repository's cipher) and
/// build the frame cipher it names.
fn header_cipher(
    h: &[u8; HEADER_LEN],
    master: Option<&SecretKey>,
    ctx: &ObjectContext,
    what: &str,
) -> io::Result<(FrameCipher, Header)> {
    let header = Header::parse(h)
        .ok_or_else(|| integrity(format!("{what} has no valid envelope header")))?;
    if header.kind != ctx.kind as u8 {
        return Err(integrity(format!("{what} has the wrong object kind")));
    }
    // The cipher is the repository's, never the object's choice: an encrypted repository
    // accepts only sealed objects, so a keyless writer cannot plant a plain one.
    let master = match (header.cipher, master) {
        (CIPHER_AES256GCM, Some(m)) => Some(m),
        (CIPHER_NONE, None) => None,
        (CIPHER_NONE, Some(_)) => {
            return Err(integrity(format!(
                "{what} fails authentication: its header says it is not encrypted, but this \
                 repository is; it was not written with this repository's key and is not trusted"
            )));
        }
        (CIPHER_AES256GCM, None) => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                Error::key(format!("{what} is encrypted but no key is loaded")),
            ));
        }
        _ => return Err(integrity(format!("{what} uses an unknown cipher"))),
    };
    Ok((
        FrameCipher::new(master, &header.salt, aad_prefix(h, ctx)),
        header,
    ))
}

/// Random access into a sealed object of known size: which stored bytes hold a plaintext range,
/// and their plaintext. Every frame read is authenticated with its index and, for the object's
/// final frame, its last flag, exactly as a front-to-back read would.
pub struct RangeOpener {
    cipher: FrameCipher,
    frame_size: u64,
    frame_ct: u64,
    /// Index of the object's final frame.
    last: u64,
    what: String,
}

impl RangeOpener {
    /// `header` is the object's first [`HEADER_LEN`] bytes; `stored` its size as the
    /// (authenticated) manifest gives it.
    pub fn new(
        master: Option<&SecretKey>,
        ctx: &ObjectContext,
        header: &[u8],
        stored: u64,
        what: &str,
    ) -> Result<RangeOpener> {
        let h: &[u8; HEADER_LEN] = header
            .get(..HEADER_LEN)
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| Error::integrity(format!("{what} is truncated: no complete header")))?;
        let (cipher, header) =
            header_cipher(h, master, ctx, what).map_err(|e| io_to_integrity(e, what))?;
        let frame_size = header.frame_size as u64;
        let frame_ct = frame_size + cipher.overhead() as u64;
        let body = stored.saturating_sub(HEADER_LEN as u64);
        let frames = body.div_ceil(frame_ct).max(1);
        Ok(RangeOpener {
            cipher,
            frame_size,
            frame_ct,
            last: frames - 1,
            what: what.to_string(),
        })
    }

    /// Plaintext bytes per frame, and stored bytes per (full) frame.
    pub fn frame_sizes(&self) -> (u64, u64) {
        (self.frame_size, self.frame_ct)
    }

    /// The stored byte range holding plaintext `plain` (whole frames), and the plaintext offset
    /// where it starts.
    pub fn sealed_range(&self, plain: std::ops::Range<u64>) -> (std::ops::Range<u64>, u64) {
        let first = (plain.start / self.frame_size).min(self.last);
        let end_frame = plain.end.saturating_sub(1) / self.frame_size;
        let last = end_frame.clamp(first, self.last);
        let h = HEADER_LEN as u64;
        (
            h + first * self.frame_ct..h + (last + 1) * self.frame_ct,
            first * self.frame_size,
        )
    }

    /// Open the frames of `sealed` (what [`Self::sealed_range`] named, up to the object's end),
    /// the first being frame `plain_start / frame_size`; returns their plaintext.
    pub fn open(&self, plain_start: u64, sealed: &[u8]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(sealed.len());
        self.open_onto(plain_start, sealed, &mut out)?;
        Ok(out)
    }

    /// [`Self::open`], appending the plaintext to `out` (a buffer reused from one read to the
    /// next); on an error `out` keeps what it held before.
    pub fn open_onto(&self, plain_start: u64, sealed: &[u8], out: &mut Vec<u8>) -> Result<()> {
        let first = plain_start / self.frame_size;
        let before = out.len();
        for (index, chunk) in (first..).zip(sealed.chunks(self.frame_ct as usize)) {
            let last = index == self.last;
            let fault = if !last && chunk.len() as u64 != self.frame_ct {
                Some("is truncated")
            } else if !self.cipher.open_onto(index, last, chunk, out) {
                Some("fails authentication (the object is corrupt, truncated or was tampered with)")
            } else {
                None
            };
            if let Some(why) = fault {
                out.truncate(before);
                return Err(Error::integrity(format!(
                    "{}: frame {index} {why}",
                    self.what
                )));
            }
        }
        Ok(())
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read> Read for Opener<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.buf.len() {
                let n = (self.buf.len() - self.pos).min(out.len());
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            if !self.next_frame()? {
                return Ok(0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> ObjectContext {
        ObjectContext {
            repo_id: "r".into(),
            kind: ObjectKind::Volume,
            name: "backup_x".into(),
            index: 0,
        }
    }

    fn seal_with(frame: u32, data: &[u8], key: Option<&SecretKey>) -> Vec<u8> {
        let mut out = Vec::new();
        let mut s = Sealer::new(key, &ctx(), frame, |f: Vec<u8>| {
            out.extend_from_slice(&f);
            Ok(())
        });
        s.write_all(data).unwrap();
        // finish() hands the sink back; the sealed bytes are already in `out`.
        let _sink = s.finish().unwrap();
        out
    }

    #[test]
    fn round_trips_at_every_boundary_and_detects_truncation() {
        let key = SecretKey::random();
        for len in [0usize, 1, 4095, 4096, 4097, 8192, 10000] {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            for k in [Some(&key), None] {
                let sealed = seal_with(4096, &data, k);
                let mut r = Opener::new(k, ctx(), &sealed[..]).unwrap();
                let mut got = Vec::new();
                r.read_to_end(&mut got).unwrap();
                assert_eq!(got, data, "len {len}");
            }
            let sealed = seal_with(4096, &data, Some(&key));
            // Drop the whole final frame: what is left ends at a frame boundary, but its last
            // frame was sealed as "not last", so the truncation is still detected.
            let frames = (sealed.len() - HEADER_LEN).div_ceil(4096 + TAG_LEN);
            if frames >= 2 {
                let cut = HEADER_LEN + (frames - 1) * (4096 + TAG_LEN);
                let mut r = Opener::new(Some(&key), ctx(), &sealed[..cut]).unwrap();
                assert!(
                    r.read_to_end(&mut Vec::new()).is_err(),
                    "truncation of {len} undetected"
                );
            }
        }
    }

    #[test]
    fn ranges_open_onto_a_buffer_and_damage_leaves_it_as_it_was() {
        let key = SecretKey::random();
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 13) as u8).collect();
        let sealed = seal_with(4096, &data, Some(&key));
        let ro = RangeOpener::new(Some(&key), &ctx(), &sealed, sealed.len() as u64, "v").unwrap();
        // Frames 1.. appended after what the buffer already holds (frame 0, kept from before).
        let (r0, p0) = ro.sealed_range(0..10);
        let mut out = ro
            .open(p0, &sealed[r0.start as usize..r0.end as usize])
            .unwrap();
        let (r, p) = ro.sealed_range(5000..10_000);
        assert_eq!(p, 4096);
        // (The range names whole frames; the store's read stops at the object's end.)
        let r = r.start as usize..(r.end as usize).min(sealed.len());
        ro.open_onto(p, &sealed[r.clone()], &mut out).unwrap();
        assert_eq!(out, data);
        // One flipped bit in the last frame: an error naming it, the buffer unchanged.
        let mut bad = sealed.clone();
        let end = bad.len() - 1;
        bad[end] ^= 1;
        let mut held = b"kept".to_vec();
        let err = ro.open_onto(p, &bad[r], &mut held).unwrap_err();
        assert!(
            err.message.contains("frame 2 fails authentication"),
            "{err}"
        );
        assert_eq!(held, b"kept");
    }

    #[test]
    fn wrong_key_and_other_object_fail() {
        let key = SecretKey::random();
        let sealed = seal_all(Some(&key), &ctx(), b"hello");
        assert!(open_all(Some(&SecretKey::random()), &ctx(), &sealed).is_err());
        let mut other = ctx();
        other.index = 1;
        let err = open_all(Some(&key), &other, &sealed).unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Integrity);
        assert_eq!(open_all(Some(&key), &ctx(), &sealed).unwrap(), b"hello");
    }

    #[test]
    fn a_plain_object_is_refused_where_a_key_is_loaded() {
        let key = SecretKey::random();
        let plain = seal_all(None, &ctx(), b"planted by a keyless writer");
        let err = open_all(Some(&key), &ctx(), &plain).unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Integrity);
        assert!(err.message.contains("volume 0 of backup_x"), "{err}");
        assert!(err.message.contains("not encrypted"), "{err}");
        // The other way round: a sealed object in an unencrypted repository needs a key.
        let sealed = seal_all(Some(&key), &ctx(), b"x");
        let err = open_all(None, &ctx(), &sealed).unwrap_err();
        assert_eq!(err.kind, crate::error::ErrorKind::Key);
    }

    #[test]
    fn a_claimed_frame_size_costs_only_the_bytes_that_arrive() {
        // A plain object whose header claims 64 MiB frames but that holds 10 bytes.
        let header = Header {
            cipher: CIPHER_NONE,
            kind: ObjectKind::Volume as u8,
            frame_size: MAX_FRAME_SIZE,
            salt: [0; 32],
        };
        let mut data = header.to_bytes().to_vec();
        data.extend_from_slice(b"ten bytes!");
        let mut r = Opener::new(None, ctx(), &data[..]).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"ten bytes!");
        assert!(
            r.buf.capacity() < 1 << 20,
            "{} bytes held",
            r.buf.capacity()
        );
    }
}
