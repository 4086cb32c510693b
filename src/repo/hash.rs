//! Bulk SHA-256: every file and volume checksum goes through here.
//!
//! ring's assembly runs about 1.5-2x the portable `sha2` on CPUs without SHA extensions, and
//! hashing is the largest cost of backup, restore and validation. (HKDF keeps `sha2`: it hashes
//! a few bytes.)

/// A running SHA-256.
pub struct Sha256(ring::digest::Context);

impl Sha256 {
    pub fn new() -> Self {
        Sha256(ring::digest::Context::new(&ring::digest::SHA256))
    }
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    /// The digest.
    pub fn finish(self) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finish().as_ref());
        out
    }
    /// The digest as lowercase hex.
    pub fn finish_hex(self) -> String {
        hex::encode(self.0.finish().as_ref())
    }
}

impl Default for Sha256 {
    fn default() -> Self {
        Self::new()
    }
}

/// SHA-256 of `data` as lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

/// How a file's content is checked as a whole (FORMAT.md, "File digests").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DigestKind {
    /// SHA-256 of the bytes (`sha256sum`).
    Flat,
    /// SHA-256 of the concatenated 32-byte SHA-256s of the file's blocks of this size, in
    /// order: what a backup can compute from the blocks it hashed and the blocks its parent
    /// holds, without reading the rest of the file.
    BlockList(u32),
}

/// A running whole-file digest of either kind, fed the file's bytes in order.
pub struct ContentHasher {
    kind: DigestKind,
    outer: Sha256,
    block: Sha256,
    in_block: u64,
}

impl ContentHasher {
    pub fn new(kind: DigestKind) -> Self {
        ContentHasher {
            kind,
            outer: Sha256::new(),
            block: Sha256::new(),
            in_block: 0,
        }
    }

    pub fn update(&mut self, mut data: &[u8]) {
        let DigestKind::BlockList(size) = self.kind else {
            self.outer.update(data);
            return;
        };
        let size = u64::from(size.max(1));
        while !data.is_empty() {
            let take = ((size - self.in_block) as usize).min(data.len());
            self.block.update(&data[..take]);
            self.in_block += take as u64;
            data = &data[take..];
            if self.in_block == size {
                let done = std::mem::take(&mut self.block);
                self.outer.update(&done.finish());
                self.in_block = 0;
            }
        }
    }

    /// The digest as lowercase hex.
    pub fn finish_hex(mut self) -> String {
        if self.kind != DigestKind::Flat && self.in_block > 0 {
            let done = std::mem::take(&mut self.block);
            self.outer.update(&done.finish());
        }
        self.outer.finish_hex()
    }
}

/// The block-list digest (hex) of a file whose blocks have these SHA-256s, in order.
pub fn block_list_digest<'a>(blocks: impl IntoIterator<Item = &'a [u8; 32]>) -> String {
    let mut h = Sha256::new();
    for b in blocks {
        h.update(b);
    }
    h.finish_hex()
}

/// The digest (hex) of kind `kind` and length of a whole file, read from its start with
/// positioned reads (the file's cursor is left alone).
pub fn digest_of_file(file: &std::fs::File, kind: DigestKind) -> std::io::Result<(u64, String)> {
    use std::os::unix::fs::FileExt;
    let mut h = ContentHasher::new(kind);
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    loop {
        let n = file.read_at(&mut buf, at)?;
        if n == 0 {
            return Ok((at, h.finish_hex()));
        }
        h.update(&buf[..n]);
        at += n as u64;
    }
}

/// Parse a SHA-256 digest as text read from the store: exactly 64 hex digits (either case).
/// Anything else is described, for a message, in the error (never sliced: it may be any UTF-8).
pub fn parse_sha256_hex(text: &str) -> Result<[u8; 32], String> {
    let mut out = [0u8; 32];
    if text.len() == 64 && hex::decode_to_slice(text, &mut out).is_ok() {
        return Ok(out);
    }
    Err(format!(
        "{} is not a SHA-256 digest (64 hex digits)",
        describe_text(text, 20)
    ))
}

/// `text` quoted for a message, cut to its first `max_chars` characters (on character
/// boundaries, so any UTF-8 from the store is safe to show).
pub fn describe_text(text: &str, max_chars: usize) -> String {
    let mut shown: String = text.chars().take(max_chars).collect();
    if shown.len() < text.len() {
        shown.push('…');
    }
    format!("{shown:?}")
}

/// The first `n` characters of a digest for messages; safe on any text.
pub fn short_digest(text: &str, n: usize) -> String {
    text.chars().take(n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The block-list digest is the SHA-256 of the blocks' SHA-256s (the last block short),
    /// whatever sizes the bytes arrive in; the flat kind is plain SHA-256.
    #[test]
    fn content_digests_of_both_kinds_match_their_definitions() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let raw = |d: &[u8]| ring::digest::digest(&ring::digest::SHA256, d);
        let mut list = Vec::new();
        for block in data.chunks(4096) {
            list.extend_from_slice(raw(block).as_ref());
        }
        let want = sha256_hex(&list);
        for step in [1usize, 1000, 4096, 5000, 100_000] {
            let mut h = ContentHasher::new(DigestKind::BlockList(4096));
            data.chunks(step).for_each(|c| h.update(c));
            assert_eq!(h.finish_hex(), want, "step {step}");
        }
        let hashes: Vec<[u8; 32]> = data
            .chunks(4096)
            .map(|b| raw(b).as_ref().try_into().unwrap())
            .collect();
        assert_eq!(block_list_digest(&hashes), want);
        let mut flat = ContentHasher::new(DigestKind::Flat);
        flat.update(&data);
        assert_eq!(flat.finish_hex(), sha256_hex(&data));
        assert_ne!(want, sha256_hex(&data));
    }

    #[test]
    fn digests_parse_only_as_64_hex_digits() {
        let good = super::sha256_hex(b"abc");
        assert!(super::parse_sha256_hex(&good).is_ok());
        assert!(super::parse_sha256_hex(&good.to_uppercase()).is_ok());
        // 64 bytes of text with a character across byte 16: slicing it there would panic.
        let multibyte = format!("a{}", "é".repeat(31)) + "b";
        assert_eq!(multibyte.len(), 64);
        for bad in [
            "",
            "zz",
            &good[..63],
            &format!("{good}0"),
            &multibyte,
            &"g".repeat(64),
        ] {
            let e = super::parse_sha256_hex(bad).unwrap_err();
            assert!(e.contains("not a SHA-256 digest"), "{e}");
        }
        let long = "é".repeat(100);
        let e = super::parse_sha256_hex(&long).unwrap_err();
        assert!(e.contains('…') && e.len() < 120, "{e}");
        assert_eq!(super::short_digest(&multibyte, 16).chars().count(), 16);
    }

    #[test]
    fn matches_the_standard_test_vector() {
        assert_eq!(
            super::sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let mut h = super::Sha256::new();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finish_hex(), super::sha256_hex(b"abc"));
    }
}
