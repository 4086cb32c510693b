//! The manifest: the complete, encrypted description of one backup (written last).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::kind::BackupType;

/// 2: block-mapped files (`Entry::blocks`), block volumes and the block map object. 3: a
/// block-mapped file records its block-list digest (`BlockList::digest`), and its flat
/// `sha256` only when the backup read the whole file. Older manifests read as version 3 ones
/// without what came later.
pub const MANIFEST_VERSION: u32 = 3;

/// What kind of filesystem object an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
}

/// Where an entry's bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Read from the filesystem.
    #[default]
    File,
    /// A consistent snapshot of a SQLite database, read page by page in one read transaction.
    Sqlite,
    /// The standard output of a command source.
    Command,
}

/// Which stored volume holds a file's bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Location {
    pub backup_id: String,
    pub volume: u32,
}

/// One file, folder or symlink as it was at backup time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Entry {
    /// Relative `/`-separated path (no `.`, `..` or empty components).
    pub path: String,
    pub kind: EntryKind,
    /// Unix permission bits.
    pub mode: u32,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Bytes of content (files), 0 otherwise.
    #[serde(default)]
    pub size: u64,
    /// SHA-256 of the content (files), hex. A block-mapped file has it when the backup read
    /// the whole file, and its `blocks.digest` always (from format version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Symlink target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Where the bytes are (files). An unchanged file points at an earlier backup's volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default)]
    pub origin: Origin,
    /// Change detection: status-change time (ns), inode and device at backup time.
    #[serde(default)]
    pub ctime_ns: i64,
    #[serde(default)]
    pub inode: u64,
    #[serde(default)]
    pub dev: u64,
    /// Change-detection stamp of the source (size, times, inode; a SQLite file's WAL too; a
    /// command's output hash). An incremental stores a file again when its stamp differs.
    #[serde(default)]
    pub stamp: String,
    /// A block-mapped file: its bytes are blocks listed in a block map (then `location` is
    /// `None`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<BlockList>,
}

impl Entry {
    /// How the file's content is checked whole, and the digest to expect: the block-list
    /// digest when recorded (a restore gets it from the blocks it checks, without a second
    /// pass), else the flat SHA-256. A file with neither cannot be checked: an integrity error.
    pub fn whole_digest(&self) -> crate::error::Result<(super::hash::DigestKind, &str)> {
        use super::hash::DigestKind;
        if let Some(b) = &self.blocks
            && let Some(d) = &b.digest
        {
            return Ok((DigestKind::BlockList(b.block_size), d));
        }
        if let Some(flat) = &self.sha256 {
            return Ok((DigestKind::Flat, flat));
        }
        Err(crate::error::Error::integrity(format!(
            "{}: the manifest records no digest of the file, so its content cannot be checked; it was not restored",
            self.path
        ))
        .with_guidance("restore it from another backup, and run `backup validate --level full`"))
    }
}

/// How a block-mapped file is stored (`docs/FORMAT.md`, "Block maps").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BlockList {
    pub block_size: u32,
    pub count: u64,
    /// The backup whose block map object holds this file's map (this one, or an earlier backup
    /// of the chain when the file did not change).
    pub map_in: String,
    /// Every backup holding some of its blocks (what restoring it reads).
    pub backups: Vec<String>,
    /// SQLite databases in WAL mode: the WAL's salts when the snapshot was taken (hex), which
    /// the next backup compares to find the changed pages from the WAL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal: Option<String>,
    /// The block-list digest: SHA-256 (hex) of the concatenated SHA-256s of its blocks, in
    /// order (`None` in backups of format version 2, which recorded only the flat `sha256`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
}

/// One source as the backup saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SourceRecord {
    /// "path" or "command".
    pub kind: String,
    /// The absolute path, or the command's stored name.
    pub source: String,
    /// Where it lives inside the backup.
    pub stored_as: String,
}

/// One volume of this backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct VolumeRecord {
    pub index: u32,
    /// Object key relative to the backup folder (`vol-00000`).
    pub name: String,
    pub files: u64,
    /// Content bytes of the files in it.
    pub content_bytes: u64,
    /// Stored (sealed) size.
    pub stored_bytes: u64,
    /// SHA-256 of the stored bytes, hex.
    pub sha256: String,
    /// What it holds: whole files (a tar stream) or blocks (one zstd frame per block).
    #[serde(default, skip_serializing_if = "VolumeContent::is_files")]
    pub content: VolumeContent,
}

/// What a volume holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VolumeContent {
    #[default]
    Files,
    Blocks,
}

impl VolumeContent {
    pub fn is_files(&self) -> bool {
        *self == VolumeContent::Files
    }
}

/// Counts for a backup.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Totals {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// Bytes of every file in the snapshot.
    pub bytes: u64,
    /// Files whose bytes this backup stored (new or changed).
    pub files_stored: u64,
    pub bytes_stored_content: u64,
    pub files_unchanged: u64,
    pub files_deleted: u64,
    /// Sealed bytes this backup added to the repository.
    pub stored_bytes: u64,
    /// Blocks of the block-mapped files this backup read (stamp changed, or a full; only the
    /// blocks a SQLite WAL named, when it named few).
    #[serde(default)]
    pub blocks_read: u64,
    /// Of those, the blocks hashed to find changes (fewer when a SQLite WAL named the changed
    /// pages) and the blocks stored (changed or new).
    #[serde(default)]
    pub blocks_hashed: u64,
    #[serde(default)]
    pub blocks_stored: u64,
}

/// The manifest (without its entries: what listings read).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ManifestSummary {
    pub format_version: u32,
    pub backup_id: String,
    pub backup_type: BackupType,
    /// What was asked for (an incremental with no full before it becomes a full).
    pub requested_type: BackupType,
    pub parent: Option<String>,
    pub chain_root: String,
    /// 1 for a full or archival; parent's + 1 for an incremental.
    pub chain_length: u32,
    pub started: DateTime<Utc>,
    pub finished: DateTime<Utc>,
    pub host: String,
    pub tool_version: String,
    pub compression_level: i32,
    pub encrypted: bool,
    pub sources: Vec<SourceRecord>,
    pub volumes: Vec<VolumeRecord>,
    pub totals: Totals,
    /// Backups whose volumes this one reads (itself excluded).
    pub depends_on: Vec<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
    /// The block map object (`blockmap`), when this backup stored blocks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_map: Option<ChecksumItem>,
    /// Continuous points only: the backup this point's record is relative to. A point's
    /// `entries` are those that differ from that backup's, and its `deleted` the paths of that
    /// backup gone since (see `docs/FORMAT.md`, "Continuous points").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
}

/// The full manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Manifest {
    #[serde(flatten)]
    pub summary: ManifestSummary,
    /// Every entry of the snapshot, sorted by path.
    pub entries: Vec<Entry>,
    /// Paths present in the parent and gone now.
    pub deleted: Vec<String>,
}

impl Manifest {
    pub fn entry_map(&self) -> BTreeMap<&str, &Entry> {
        self.entries.iter().map(|e| (e.path.as_str(), e)).collect()
    }

    /// Stored path to entry for the files in volume `volume` of this backup itself (what that
    /// volume must hold, no more, no less).
    pub fn volume_contents(&self, volume: u32) -> BTreeMap<&str, &Entry> {
        let id = &self.summary.backup_id;
        self.entries
            .iter()
            .filter(|e| {
                e.location
                    .as_ref()
                    .is_some_and(|l| &l.backup_id == id && l.volume == volume)
            })
            .map(|e| (e.path.as_str(), e))
            .collect()
    }
}

/// The keyless checksum list beside the manifest: storage-side checks run without the key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChecksumList {
    pub backup_id: String,
    pub volumes: Vec<ChecksumItem>,
    pub manifest: ChecksumItem,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_map: Option<ChecksumItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChecksumItem {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}
