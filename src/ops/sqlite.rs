//! SQLite files: recognising a database, copying a live one consistently (backup), and checking a
//! restored one (restore tests).

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

/// Copy a live SQLite database consistently through SQLite's online backup API.
pub(crate) fn sqlite_snapshot(src: &Path, dst: &Path) -> Result<()> {
    use rusqlite::{Connection, OpenFlags};
    let fail = |e: rusqlite::Error| {
        Error::io(format!(
            "SQLite online backup of {} failed: {e}",
            src.display()
        ))
    };
    let _ = std::fs::remove_file(dst);
    let from = Connection::open_with_flags(
        src,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(fail)?;
    from.busy_timeout(Duration::from_secs(30)).map_err(fail)?;
    let mut to = Connection::open(dst).map_err(fail)?;
    {
        let b = rusqlite::backup::Backup::new(&from, &mut to).map_err(fail)?;
        // All pages in one step: one read transaction, so the copy is one consistent snapshot.
        // Busy or locked (a writer holds the database): wait and try again, up to a minute.
        use rusqlite::backup::StepResult;
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            match b.step(-1).map_err(fail)? {
                StepResult::Done => break,
                StepResult::More | StepResult::Busy | StepResult::Locked
                    if std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => {
                    return Err(Error::io(format!(
                        "SQLite online backup of {} did not finish ({other:?}): the database stayed locked",
                        src.display()
                    )));
                }
            }
        }
    }
    to.close().map_err(|(_, e)| fail(e))?;
    Ok(())
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
