//! SQLite files: recognising a database, reading a live one consistently page by page (backup),
//! the pages its WAL says changed, and checking a restored one (restore tests).

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};

/// The file starts with SQLite's header (unreadable or short files are not databases).
pub(crate) fn is_sqlite(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 16];
    std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .map(|_| &head == b"SQLite format 3\0")
        .unwrap_or(false)
}

/// What a snapshot read found before its first page.
#[derive(Debug, Clone)]
pub(crate) struct SnapshotShape {
    /// page_count × page_size: the bytes the snapshot holds.
    pub size: u64,
    pub page_size: u32,
    /// The WAL's generation (its salts, hex) seen inside the read transaction; `None` when the
    /// database has no WAL.
    pub wal: Option<String>,
    /// The database file's stamp, taken inside the read transaction.
    pub file: Option<FileStamp>,
}

/// What tells that a file was written: device, inode, modification and status-change times
/// (nanoseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FileStamp {
    pub dev: u64,
    pub inode: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
}

impl FileStamp {
    pub fn of(path: &Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            dev: m.dev(),
            inode: m.ino(),
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
        })
    }

    /// The filesystem keeps times finer than a second (a write within the second of an
    /// earlier stamp shows).
    pub fn fine_grained(&self) -> bool {
        self.mtime_ns % 1_000_000_000 != 0 || self.ctime_ns % 1_000_000_000 != 0
    }
}

/// Pages to read: ranges of page numbers (from 1), ascending.
pub(crate) type PageRanges = Vec<Range<u64>>;

/// Read a consistent snapshot of a live database without copying it anywhere: one read
/// transaction, pages through the `sqlite_dbpage` virtual table (which sees the WAL's committed
/// pages), in order. `shape` hears the size first and answers which pages to read (ranges of
/// page numbers, from 1, ascending; `None`: every page); its error stops the read. `page` gets
/// each page read, with its number.
pub(crate) fn read_snapshot(
    src: &Path,
    shape: &mut dyn FnMut(&SnapshotShape) -> Result<Option<PageRanges>>,
    page: &mut dyn FnMut(u64, &[u8]) -> Result<()>,
) -> Result<()> {
    use rusqlite::{Connection, OpenFlags};
    let fail = |e: rusqlite::Error| {
        Error::io(format!(
            "SQLite snapshot read of {} failed: {e}",
            src.display()
        ))
    };
    let conn = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(fail)?;
    conn.busy_timeout(Duration::from_secs(30)).map_err(fail)?;
    conn.execute_batch("BEGIN").map_err(fail)?;
    // The first read starts the snapshot: everything below sees that one state.
    let (page_count, page_size): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT page_count FROM pragma_page_count()), (SELECT page_size FROM pragma_page_size())",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .map_err(fail)?;
    // Inside the snapshot: a checkpoint from now on only copies frames this snapshot already
    // sees, and the WAL cannot restart under it.
    let file = FileStamp::of(src);
    let wal = wal_generation(src);
    let selection = shape(&SnapshotShape {
        size: page_count as u64 * page_size as u64,
        page_size: page_size as u32,
        wal,
        file,
    })?;
    let bad_page = |pgno: i64, len: usize| {
        Error::io(format!(
            "SQLite snapshot read of {}: page {pgno} arrived out of order or sized {len}",
            src.display()
        ))
    };
    match selection {
        None => {
            let mut stmt = conn
                .prepare("SELECT pgno, data FROM sqlite_dbpage")
                .map_err(fail)?;
            let mut rows = stmt.query([]).map_err(fail)?;
            let mut expect = 1i64;
            while let Some(row) = rows.next().map_err(fail)? {
                let pgno: i64 = row.get(0).map_err(fail)?;
                let data = row
                    .get_ref(1)
                    .map_err(fail)?
                    .as_blob()
                    .map_err(|e| fail(e.into()))?;
                if pgno != expect || data.len() as i64 != page_size {
                    return Err(bad_page(pgno, data.len()));
                }
                page(pgno as u64, data)?;
                expect += 1;
            }
            if expect - 1 != page_count {
                return Err(Error::io(format!(
                    "SQLite snapshot read of {}: {} pages read, the database has {page_count}",
                    src.display(),
                    expect - 1
                )));
            }
        }
        Some(ranges) => {
            // One lookup per page: the virtual table answers `pgno = ?` directly.
            let mut stmt = conn
                .prepare("SELECT data FROM sqlite_dbpage WHERE pgno = ?1")
                .map_err(fail)?;
            for pgno in ranges.into_iter().flatten() {
                if pgno < 1 || pgno > page_count as u64 {
                    return Err(Error::internal(format!(
                        "page {pgno} of {} asked for, it has {page_count}",
                        src.display()
                    )));
                }
                let mut rows = stmt.query([pgno as i64]).map_err(fail)?;
                let row = rows
                    .next()
                    .map_err(fail)?
                    .ok_or_else(|| bad_page(pgno as i64, 0))?;
                let data = row
                    .get_ref(0)
                    .map_err(fail)?
                    .as_blob()
                    .map_err(|e| fail(e.into()))?;
                if data.len() as i64 != page_size {
                    return Err(bad_page(pgno as i64, data.len()));
                }
                page(pgno, data)?;
            }
        }
    }
    conn.execute_batch("COMMIT").map_err(fail)?;
    Ok(())
}

/// The WAL file of a database.
fn wal_path(db: &Path) -> std::path::PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    p.into()
}

/// The WAL's generation: its salts (header bytes 16..24), hex; `None` without a WAL header.
fn wal_generation(db: &Path) -> Option<String> {
    use std::io::Read;
    let mut h = [0u8; 32];
    std::fs::File::open(wal_path(db))
        .and_then(|mut f| f.read_exact(&mut h))
        .ok()?;
    let magic = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    (magic & !1 == 0x377f_0682).then(|| hex::encode(&h[16..24]))
}

/// What a previous snapshot of a database saw, for finding the pages changed since from the WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum WalBase {
    /// A WAL of this generation (salts, hex). Within one generation frames are only appended,
    /// and the database file is only written by copying frames of it back, so the frames of
    /// that generation name every page changed since.
    Generation(String),
    /// No WAL, and the database file stamped so (fine-grained times) when it was scanned. If
    /// the file carries the same stamp inside the new snapshot, it was not written since: every
    /// change since is in the WAL now, whatever its generation (a WAL restarts only after a
    /// checkpoint has written all its frames to the file).
    Untouched(FileStamp),
}

/// The pages named by the frames of the database's WAL, when they name every page changed
/// since a snapshot that saw `since` (see [`WalBase`]); `now` is the snapshot's shape. `None`:
/// they may not (then every page must be read and hashed).
pub(crate) fn wal_changed_pages(
    db: &Path,
    since: &WalBase,
    now: &SnapshotShape,
) -> Option<std::collections::BTreeSet<u32>> {
    let generation = now.wal.as_deref()?;
    match since {
        WalBase::Generation(g) if g == generation => {}
        WalBase::Untouched(then) if then.fine_grained() && now.file == Some(*then) => {}
        _ => return None,
    }
    wal_pages(db, generation)
}

/// The pages named by the frames of the database's WAL when it is of generation `generation`.
fn wal_pages(db: &Path, since: &str) -> Option<std::collections::BTreeSet<u32>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(wal_path(db)).ok()?;
    let mut h = [0u8; 32];
    f.read_exact(&mut h).ok()?;
    let magic = u32::from_be_bytes([h[0], h[1], h[2], h[3]]);
    if magic & !1 != 0x377f_0682 || hex::encode(&h[16..24]) != since {
        return None;
    }
    let page = u32::from_be_bytes([h[8], h[9], h[10], h[11]]) as u64;
    if !(512..=65536).contains(&page) || !page.is_power_of_two() {
        return None;
    }
    let len = f.metadata().ok()?.len();
    let mut pages = std::collections::BTreeSet::new();
    let mut at = 32u64;
    let mut fh = [0u8; 4];
    while at + 24 + page <= len {
        f.seek(SeekFrom::Start(at)).ok()?;
        f.read_exact(&mut fh).ok()?;
        pages.insert(u32::from_be_bytes(fh));
        at += 24 + page;
    }
    Some(pages)
}

/// Whether `path` is a `-wal`, `-shm` or `-journal` file of one of `dbs` (stored paths of SQLite
/// databases read as snapshots): its content is inside the snapshot, so a backup never stores
/// it and a comparison with the live files never counts it.
pub(crate) fn is_sidecar(path: &str, dbs: &std::collections::BTreeSet<&str>) -> bool {
    ["-wal", "-shm", "-journal"].iter().any(|suf| {
        path.strip_suffix(suf)
            .is_some_and(|base| dbs.contains(base))
    })
}

/// `PRAGMA integrity_check` of a database, read-only: its rows joined ("ok" when sound).
pub(crate) fn integrity_check(path: &Path) -> std::result::Result<String, String> {
    let flags =
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = rusqlite::Connection::open_with_flags(path, flags).map_err(|e| e.to_string())?;
    let mut stmt = conn
        .prepare("PRAGMA integrity_check")
        .map_err(|e| e.to_string())?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .map_err(|e| e.to_string())?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| e.to_string())?;
    Ok(rows.join("; "))
}
