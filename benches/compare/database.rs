//! The database scenario's data: one generated, deterministic SQLite database in WAL mode, alone
//! in the folder that is backed up; the two changes made to it between backups (100 scattered rows
//! updated, about 10 MiB of rows appended), and the check of a restored copy.
//!
//! The pristine database is generated once (and kept in `MAHAVISHNU_BENCH_DIR` between runs); every
//! repetition starts from a fresh copy of it. The changes are made through SQLite by a connection
//! that does not checkpoint when it closes, so, as beside a live application, the committed changes
//! sit in the `-wal` file when the backups run (the 10 MiB append is large enough to pass SQLite's
//! automatic checkpoint, so after it the main file has changed too).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::config::DbConfig;
use rusqlite::{Connection, params};

use crate::Res;
use crate::dataset::Vocab;
use crate::fsutil;
use crate::rng::{Rng, SEED, derive};

const MIB: u64 = 1 << 20;
/// Bump whenever generation changes, so a cached database in MAHAVISHNU_BENCH_DIR is rebuilt.
const FORMAT: u64 = 1;
const PAGE_SIZE: u64 = 4096;
const STREAM_ROWS: u64 = 16 << 32;
const STREAM_UPDATE: u64 = 17 << 32;
const STREAM_APPEND: u64 = 18 << 32;
/// Rows the "update" step changes, spread over the whole table.
pub const UPDATED_ROWS: u64 = 100;
/// How much the "append" step grows the database by.
pub const APPEND_BYTES: u64 = 10 * MIB;
/// The database's file name inside the backed-up folder.
const DB_NAME: &str = "app.sqlite";

/// What a database must hold after a step: row count, highest id, and sums that change when any
/// updated or appended row is missing or stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    pub rows: i64,
    pub max_id: i64,
    pub sum_updated: i64,
    pub body_bytes: i64,
    pub payload_bytes: i64,
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "rows={} max_id={} sum_updated={} body_bytes={} payload_bytes={}",
            self.rows, self.max_id, self.sum_updated, self.body_bytes, self.payload_bytes
        )
    }
}

fn fingerprint(conn: &Connection) -> rusqlite::Result<Fingerprint> {
    conn.query_row(
        "SELECT count(*), coalesce(max(id), 0), total(updated), total(length(body)),
                total(length(payload)) FROM records",
        [],
        |r| {
            Ok(Fingerprint {
                rows: r.get(0)?,
                max_id: r.get(1)?,
                sum_updated: r.get::<_, f64>(2)? as i64,
                body_bytes: r.get::<_, f64>(3)? as i64,
                payload_bytes: r.get::<_, f64>(4)? as i64,
            })
        },
    )
}

/// The scenario's folder `<work>/database` (what every tool backs up), and the pristine database
/// it is reset from.
pub struct DbSet {
    pub root: PathBuf,
    pub size_mb: u64,
    pristine: PathBuf,
    marker: PathBuf,
    vocab: Vocab,
}

impl DbSet {
    /// Reuses the pristine database when its marker says it is this size and format, else
    /// generates it.
    pub fn prepare(work: &Path, size_mb: u64) -> Res<DbSet> {
        let ds = DbSet {
            root: work.join("database"),
            size_mb,
            pristine: work.join("database-pristine").join(DB_NAME),
            marker: work.join("database.json"),
            vocab: Vocab::new(),
        };
        let wanted = ds.marker_json();
        let reusable = fs::read_to_string(&ds.marker)
            .ok()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .is_some_and(|v| v == wanted)
            && ds.pristine.is_file();
        if reusable {
            eprintln!(
                "compare: reusing the pristine database {}",
                ds.pristine.display()
            );
        } else {
            let start = Instant::now();
            eprintln!(
                "compare: generating the {size_mb} MiB SQLite database {} ...",
                ds.pristine.display()
            );
            let _ = fs::remove_file(&ds.marker);
            let dir = ds.pristine.parent().expect("pristine dir");
            fsutil::remove_tree(dir)?;
            fs::create_dir_all(dir)?;
            generate(&ds.pristine, size_mb * MIB, &ds.vocab)?;
            fs::write(&ds.marker, wanted.to_string())?;
            eprintln!(
                "compare: database generated in {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
        Ok(ds)
    }

    fn marker_json(&self) -> serde_json::Value {
        serde_json::json!({
            "format": FORMAT,
            "seed": SEED,
            "size_mb": self.size_mb,
            "sqlite": rusqlite::version(),
        })
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join(DB_NAME)
    }

    /// The pristine database's size in bytes.
    pub fn pristine_bytes(&self) -> Res<u64> {
        Ok(fs::metadata(&self.pristine)?.len())
    }

    /// Starts a repetition: the folder holds a fresh copy of the pristine database and nothing
    /// else. Returns what the database holds.
    pub fn reset(&self) -> Res<Fingerprint> {
        fsutil::remove_tree(&self.root)?;
        fs::create_dir_all(&self.root)?;
        fs::copy(&self.pristine, self.db_path())?;
        let conn = self.open_live()?;
        let fp = fingerprint(&conn)?;
        close(conn)?;
        Ok(fp)
    }

    /// A connection like a live application's: WAL, `synchronous=NORMAL`, and no checkpoint when
    /// it closes, so committed changes stay in the `-wal` file (SQLite's automatic checkpoint at
    /// 1000 WAL pages still runs).
    fn open_live(&self) -> Res<Connection> {
        let conn = Connection::open(self.db_path())?;
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, true)?;
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(format!(
                "{} is in journal mode {mode}, not WAL",
                self.db_path().display()
            )
            .into());
        }
        conn.execute_batch("PRAGMA synchronous=NORMAL;")?;
        Ok(conn)
    }

    /// Step 2's change: 100 rows spread over the whole table get a new body, payload and
    /// timestamp, each in its own committed transaction. Returns what the database now holds.
    pub fn update_rows(&self) -> Res<Fingerprint> {
        let conn = self.open_live()?;
        let max_id: i64 = conn.query_row("SELECT max(id) FROM records", [], |r| r.get(0))?;
        let mut rng = Rng::new(derive(SEED, STREAM_UPDATE));
        let stride = (max_id as u64 / UPDATED_ROWS).max(1);
        {
            let mut st = conn.prepare(
                "UPDATE records SET updated = updated + 86400, body = ?2, payload = ?3 WHERE id = ?1",
            )?;
            for k in 0..UPDATED_ROWS {
                let id = (1 + k * stride + rng.below(stride)).min(max_id as u64) as i64;
                let (_, _, _, body, payload) = row(&mut rng, &self.vocab, id);
                if st.execute(params![id, body, payload])? != 1 {
                    return Err(format!("update: no row with id {id}").into());
                }
            }
        }
        let fp = fingerprint(&conn)?;
        close(conn)?;
        Ok(fp)
    }

    /// Step 3's change: about 10 MiB of new rows appended, 500 rows per transaction. Returns what
    /// the database now holds.
    pub fn append_rows(&self) -> Res<Fingerprint> {
        let mut conn = self.open_live()?;
        let mut rng = Rng::new(derive(SEED, STREAM_APPEND));
        let start = page_bytes(&conn)?;
        let mut id: i64 = conn.query_row("SELECT max(id) FROM records", [], |r| r.get(0))?;
        while page_bytes(&conn)? < start + APPEND_BYTES {
            let tx = conn.transaction()?;
            insert_rows(&tx, &mut rng, &self.vocab, &mut id, 500)?;
            tx.commit()?;
        }
        let fp = fingerprint(&conn)?;
        close(conn)?;
        Ok(fp)
    }
}

fn close(conn: Connection) -> Res<()> {
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}

fn page_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    Ok(pages as u64 * PAGE_SIZE)
}

/// One row: (updated, account, title, body, payload). The body is JSON-like text of
/// pseudo-words (compresses like real rows), the payload a 96-byte blob, a third random and the
/// rest structured.
fn row(rng: &mut Rng, vocab: &Vocab, id: i64) -> (i64, i64, String, String, Vec<u8>) {
    const STATES: [&str; 5] = ["open", "pending", "paid", "shipped", "closed"];
    let account = rng.range(1, 20_001) as i64;
    let updated = 1_735_689_600 + id * 11 + rng.below(11) as i64;
    let title_len = rng.range(12, 60) as usize;
    let title = String::from_utf8_lossy(&vocab.text(rng, title_len)).replace('\n', " ");
    let note_len = rng.range(200, 1200) as usize;
    let note = String::from_utf8_lossy(&vocab.text(rng, note_len)).replace(['\n', '"'], " ");
    let body = format!(
        "{{\"id\":{id},\"account\":{account},\"state\":\"{}\",\"total\":{}.{:02},\"items\":{},\"note\":\"{note}\"}}",
        STATES[rng.below(5) as usize],
        rng.below(100_000),
        rng.below(100),
        rng.range(1, 20)
    );
    let mut payload = vec![0u8; 96];
    rng.fill(&mut payload[..32]);
    payload[32..40].copy_from_slice(&id.to_le_bytes());
    payload[40..48].copy_from_slice(&updated.to_le_bytes());
    payload[48..56].copy_from_slice(&account.to_le_bytes());
    for (i, b) in payload[56..].iter_mut().enumerate() {
        *b = (i as u8) & 0x0f;
    }
    (updated, account, title, body, payload)
}

fn insert_rows(
    conn: &Connection,
    rng: &mut Rng,
    vocab: &Vocab,
    id: &mut i64,
    n: usize,
) -> rusqlite::Result<()> {
    let mut st = conn.prepare_cached(
        "INSERT INTO records(id, account, updated, title, body, payload) VALUES (?1,?2,?3,?4,?5,?6)",
    )?;
    for _ in 0..n {
        *id += 1;
        let (updated, account, title, body, payload) = row(rng, vocab, *id);
        st.execute(params![*id, account, updated, title, body, payload])?;
    }
    Ok(())
}

/// Generates the pristine database: `records` (integer primary key, text and blob columns) with
/// one index, filled to `target` bytes; then switched to WAL mode (kept in the file's header) and
/// closed, which checkpoints and removes the WAL.
fn generate(path: &Path, target: u64, vocab: &Vocab) -> Res<()> {
    let mut rng = Rng::new(derive(SEED, STREAM_ROWS));
    let mut conn = Connection::open(path)?;
    conn.execute_batch(&format!(
        "PRAGMA page_size={PAGE_SIZE};
         PRAGMA journal_mode=OFF;
         PRAGMA synchronous=OFF;
         CREATE TABLE records(id INTEGER PRIMARY KEY, account INTEGER NOT NULL,
                              updated INTEGER NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,
                              payload BLOB NOT NULL);
         CREATE INDEX records_by_account ON records(account, updated);"
    ))?;
    let mut id = 0i64;
    while page_bytes(&conn)? < target {
        let tx = conn.transaction()?;
        insert_rows(&tx, &mut rng, vocab, &mut id, 2000)?;
        tx.commit()?;
    }
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(format!("cannot switch {} to WAL (got {mode})", path.display()).into());
    }
    close(conn)?;
    Ok(())
}

/// Untimed check of a restored database: `PRAGMA integrity_check` says ok, and it holds the rows
/// the source held after the newest backup's step (count, highest id, and sums over the updated
/// and appended columns). Opened read-write, so a restored `-wal` is recovered as SQLite would.
pub fn check_restored(path: &Path, expected: &Fingerprint) -> Result<(), String> {
    if !path.is_file() {
        return Err(format!("{} was not restored", path.display()));
    }
    let conn = Connection::open(path).map_err(|e| format!("opening {}: {e}", path.display()))?;
    let mut st = conn
        .prepare("PRAGMA integrity_check")
        .map_err(|e| format!("integrity_check: {e}"))?;
    let lines: Vec<String> = st
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| format!("integrity_check: {e}"))?;
    drop(st);
    if lines != ["ok"] {
        let shown: Vec<&str> = lines.iter().take(3).map(String::as_str).collect();
        return Err(format!("integrity_check: {}", shown.join("; ")));
    }
    let got = fingerprint(&conn).map_err(|e| format!("reading the rows: {e}"))?;
    if got.rows != expected.rows {
        return Err(format!(
            "the restored database holds {} rows, expected {}",
            got.rows, expected.rows
        ));
    }
    if got != *expected {
        return Err(format!(
            "the restored database holds {got}, expected {expected} (stale or missing rows)"
        ));
    }
    Ok(())
}
