//! The fixed, deterministic dataset: small text files, large random and log-like files, and a real
//! SQLite database; plus the "1% change" mutation and its exact revert.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use rusqlite::{Connection, OpenFlags, params};

use crate::Res;
use crate::fsutil::{self, TreeStats};
use crate::rng::{Rng, SEED, derive};

const MIB: u64 = 1 << 20;
/// Bump whenever generation changes, so a cached dataset in MAHAVISHNU_BENCH_DIR is rebuilt.
const FORMAT: u64 = 1;
const STREAM_VOCAB: u64 = 1;
const STREAM_SMALL: u64 = 1 << 32;
const STREAM_CHANGED: u64 = 2 << 32;
const STREAM_LARGE: u64 = 3 << 32;
const STREAM_DB: u64 = 4 << 32;
const STREAM_DB_APPEND: u64 = 5 << 32;
const LARGE_COUNT: usize = 10;
const DB_PAGE_SIZE: u64 = 4096;

/// Sizes of each part for a given total; at 1024 MiB: 20,000 small files (324 MiB), ten 50 MiB
/// files (five random, five log-like) and a 200 MiB SQLite database. Everything scales linearly.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub size_mb: u64,
    pub small_count: usize,
    pub small_total: u64,
    pub large_size: u64,
    pub db_size: u64,
}

impl Plan {
    pub fn new(size_mb: u64) -> Plan {
        let total = size_mb * MIB;
        let large_size = total * 50 / 1024;
        let db_size = total * 200 / 1024;
        Plan {
            size_mb,
            small_count: ((20_000 * size_mb).div_ceil(1024) as usize).max(10),
            small_total: total - LARGE_COUNT as u64 * large_size - db_size,
            large_size,
            db_size,
        }
    }

    pub fn large_count(&self) -> usize {
        LARGE_COUNT
    }

    /// Indices of the small files the "1% change" step rewrites.
    pub fn changed_indices(&self) -> Vec<usize> {
        let n = (self.small_count / 100).max(1);
        (0..n).map(|k| (k * 100 + 37) % self.small_count).collect()
    }

    fn mean_small(&self) -> u64 {
        (self.small_total / self.small_count as u64).max(64)
    }
}

/// Pseudo-words for text-like content (compresses roughly like prose or source code).
pub struct Vocab {
    words: Vec<Vec<u8>>,
}

impl Vocab {
    pub fn new() -> Vocab {
        let mut rng = Rng::new(derive(SEED, STREAM_VOCAB));
        const CONS: &[u8] = b"bcdfghjklmnprstvwxz";
        const VOWELS: &[u8] = b"aeiouy";
        let words = (0..4096)
            .map(|_| {
                let syllables = rng.range(1, 5);
                let mut w = Vec::new();
                for _ in 0..syllables {
                    w.push(CONS[rng.below(CONS.len() as u64) as usize]);
                    w.push(VOWELS[rng.below(VOWELS.len() as u64) as usize]);
                    if rng.below(3) == 0 {
                        w.push(CONS[rng.below(CONS.len() as u64) as usize]);
                    }
                }
                w
            })
            .collect();
        Vocab { words }
    }

    /// A word, skewed towards the front of the list (roughly Zipf-like).
    pub fn pick(&self, rng: &mut Rng) -> &[u8] {
        let n = self.words.len() as u64;
        let bound = rng.below(n) + 1;
        let i = rng.below(bound);
        &self.words[i as usize]
    }

    /// `size` bytes of indented, punctuated lines of words and numbers.
    pub fn text(&self, rng: &mut Rng, size: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(size + 256);
        while out.len() < size {
            if rng.below(4) == 0 {
                out.extend_from_slice(b"    ");
            }
            let words = rng.range(3, 16);
            for w in 0..words {
                if w > 0 {
                    out.push(b' ');
                }
                match rng.below(16) {
                    0 => {
                        let _ = write!(out, "{}", rng.below(100_000));
                    }
                    1 => {
                        out.extend_from_slice(self.pick(rng));
                        out.push(b',');
                    }
                    _ => out.extend_from_slice(self.pick(rng)),
                }
            }
            out.extend_from_slice(if rng.below(3) == 0 { b".\n" } else { b"\n" });
        }
        out.truncate(size);
        out
    }
}

/// The dataset on disk, at `<work>/dataset`, with a pristine copy of the database beside it.
pub struct Dataset {
    pub root: PathBuf,
    pub plan: Plan,
    pristine_db: PathBuf,
    marker: PathBuf,
    vocab: Vocab,
}

impl Dataset {
    /// Reuses `<work>/dataset` when its marker says it is this plan in its clean state, else
    /// (re)generates it.
    pub fn prepare(work: &Path, plan: Plan) -> Res<Dataset> {
        let ds = Dataset {
            root: work.join("dataset"),
            plan,
            pristine_db: work.join("pristine").join("app.sqlite"),
            marker: work.join("dataset.json"),
            vocab: Vocab::new(),
        };
        let wanted = ds.marker_json("clean");
        let current = fs::read_to_string(&ds.marker).ok();
        let reusable = current
            .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
            .is_some_and(|v| v == wanted)
            && ds.root.is_dir()
            && ds.pristine_db.is_file();
        if reusable {
            eprintln!("compare: reusing the dataset in {}", ds.root.display());
        } else {
            let start = Instant::now();
            eprintln!(
                "compare: generating the {} MiB dataset in {} ...",
                plan.size_mb,
                ds.root.display()
            );
            let _ = fs::remove_file(&ds.marker);
            fsutil::remove_tree(&ds.root)?;
            fsutil::remove_tree(ds.pristine_db.parent().expect("pristine dir"))?;
            ds.generate()?;
            ds.write_marker("clean")?;
            eprintln!(
                "compare: dataset generated in {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
        Ok(ds)
    }

    fn marker_json(&self, state: &str) -> serde_json::Value {
        serde_json::json!({
            "format": FORMAT,
            "seed": SEED,
            "size_mb": self.plan.size_mb,
            "state": state,
        })
    }

    fn write_marker(&self, state: &str) -> Res<()> {
        fs::write(&self.marker, self.marker_json(state).to_string())?;
        Ok(())
    }

    pub fn db_path(&self) -> PathBuf {
        self.root.join("db").join("app.sqlite")
    }

    fn small_path(&self, i: usize) -> PathBuf {
        self.root
            .join("small")
            .join(format!("d{:03}", i / 200))
            .join(format!("f{i:05}.txt"))
    }

    fn small_content(&self, i: usize, changed: bool) -> Vec<u8> {
        let mean = self.plan.mean_small();
        let mut rng = Rng::new(derive(SEED, STREAM_SMALL + i as u64));
        let size = rng.range(mean / 4, mean * 7 / 4) as usize;
        if changed {
            let mut rng = Rng::new(derive(SEED, STREAM_CHANGED + i as u64));
            self.vocab.text(&mut rng, size + size / 20 + 1)
        } else {
            self.vocab.text(&mut rng, size)
        }
    }

    fn generate(&self) -> Res<()> {
        fs::create_dir_all(self.root.join("small"))?;
        fs::create_dir_all(self.root.join("large"))?;
        fs::create_dir_all(self.root.join("db"))?;
        fs::create_dir_all(self.pristine_db.parent().expect("pristine dir"))?;
        // Two workers: small files then the database on one, the large files on the other.
        std::thread::scope(|s| -> Res<()> {
            let large = s.spawn(|| -> Res<()> {
                for k in 0..self.plan.large_count() {
                    self.write_large(k)?;
                }
                Ok(())
            });
            for i in 0..self.plan.small_count {
                let path = self.small_path(i);
                if i.is_multiple_of(200) {
                    fs::create_dir_all(path.parent().expect("small dir"))?;
                }
                fs::write(&path, self.small_content(i, false))?;
            }
            write_db(&self.db_path(), self.plan.db_size, &self.vocab)?;
            large.join().expect("large-file generator panicked")?;
            Ok(())
        })?;
        fs::copy(self.db_path(), &self.pristine_db)?;
        Ok(())
    }

    fn write_large(&self, k: usize) -> Res<()> {
        let mut rng = Rng::new(derive(SEED, STREAM_LARGE + k as u64));
        let size = self.plan.large_size;
        if k.is_multiple_of(2) {
            let path = self.root.join("large").join(format!("blob-{k:02}.bin"));
            let mut out = BufWriter::new(fs::File::create(path)?);
            let mut buf = vec![0u8; MIB as usize];
            let mut left = size;
            while left > 0 {
                let n = left.min(MIB) as usize;
                rng.fill(&mut buf[..n]);
                out.write_all(&buf[..n])?;
                left -= n as u64;
            }
            out.flush()?;
        } else {
            let path = self.root.join("large").join(format!("service-{k:02}.log"));
            let file = fs::File::create(&path)?;
            let mut out = BufWriter::with_capacity(MIB as usize, &file);
            write_log(&mut out, &mut rng, size, &self.vocab)?;
            out.flush()?;
            drop(out);
            file.set_len(size)?;
        }
        Ok(())
    }

    /// The "1% change" step: rewrites 1% of the small files (5% longer, new text) and appends
    /// about 1 MiB of rows to the database through SQLite.
    pub fn mutate(&self) -> Res<()> {
        self.write_marker("changed")?;
        for i in self.plan.changed_indices() {
            fs::write(self.small_path(i), self.small_content(i, true))?;
        }
        append_db(&self.db_path(), MIB, &self.vocab)?;
        Ok(())
    }

    /// Undoes `mutate` exactly: the original small-file bytes and the pristine database.
    pub fn revert(&self) -> Res<()> {
        for i in self.plan.changed_indices() {
            fs::write(self.small_path(i), self.small_content(i, false))?;
        }
        fs::copy(&self.pristine_db, self.db_path())?;
        self.write_marker("clean")?;
        Ok(())
    }

    pub fn stats(&self) -> Res<TreeStats> {
        Ok(fsutil::tree_stats(&self.root)?)
    }

    /// Files whose bytes a restore must reproduce exactly (relative paths): the changed small
    /// files plus a spread of unchanged ones and one large file of each kind.
    pub fn sample_files(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = self
            .plan
            .changed_indices()
            .into_iter()
            .take(20)
            .map(|i| self.small_path(i))
            .collect();
        let step = (self.plan.small_count / 10).max(1);
        v.extend(
            (0..self.plan.small_count)
                .step_by(step)
                .map(|i| self.small_path(i)),
        );
        v.push(self.root.join("large").join("blob-00.bin"));
        v.push(self.root.join("large").join("service-01.log"));
        v.into_iter()
            .map(|p| {
                p.strip_prefix(&self.root)
                    .expect("under root")
                    .to_path_buf()
            })
            .collect()
    }
}

/// Rows, ids and a checksum of the `events` table: what a restored database must match. (A copy
/// made through SQLite's backup API need not be byte-identical, but must hold the same rows.)
pub fn db_fingerprint(path: &Path) -> Res<String> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let fp: (i64, i64, i64, i64) = conn.query_row(
        "SELECT count(*), max(id), total(ts), total(length(body)) FROM events",
        [],
        |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get::<_, f64>(2)? as i64,
                r.get::<_, f64>(3)? as i64,
            ))
        },
    )?;
    Ok(format!(
        "rows={} max_id={} sum_ts={} body_bytes={}",
        fp.0, fp.1, fp.2, fp.3
    ))
}

fn write_log(out: &mut impl Write, rng: &mut Rng, size: u64, vocab: &Vocab) -> io::Result<()> {
    const LEVELS: [&str; 8] = [
        "INFO ", "INFO ", "INFO ", "INFO ", "DEBUG", "DEBUG", "WARN ", "ERROR",
    ];
    const COMPONENTS: [&str; 6] = ["http", "scheduler", "db", "cache", "auth", "worker"];
    const RESOURCES: [&str; 5] = ["items", "users", "orders", "sessions", "reports"];
    let mut written = 0u64;
    let mut ms: u64 = 1_735_689_600_000; // 2025-01-01T00:00:00Z
    let mut line = Vec::with_capacity(256);
    while written < size {
        ms += rng.range(1, 400);
        line.clear();
        write_timestamp(&mut line, ms);
        let level = LEVELS[rng.below(8) as usize];
        let comp = COMPONENTS[rng.below(6) as usize];
        let worker = rng.below(8);
        write!(line, " {level} [{comp}-{worker}] ")?;
        match rng.below(5) {
            0 | 1 => write!(
                line,
                "GET /api/v1/{}/{} status={} bytes={} latency_ms={} req={:016x}",
                RESOURCES[rng.below(5) as usize],
                rng.below(100_000),
                [200, 200, 200, 304, 404, 500][rng.below(6) as usize],
                rng.below(50_000),
                rng.below(900),
                rng.next_u64()
            )?,
            2 => write!(
                line,
                "job {} finished in {} ms, {} rows",
                String::from_utf8_lossy(vocab.pick(rng)),
                rng.below(10_000),
                rng.below(5_000)
            )?,
            3 => write!(
                line,
                "cache miss key={}:{} ttl={}s",
                RESOURCES[rng.below(5) as usize],
                rng.below(1_000_000),
                rng.below(3600)
            )?,
            _ => write!(
                line,
                "retrying {} attempt {}/5: timeout after {} ms",
                String::from_utf8_lossy(vocab.pick(rng)),
                rng.range(1, 6),
                rng.below(30_000)
            )?,
        }
        line.push(b'\n');
        out.write_all(&line)?;
        written += line.len() as u64;
    }
    Ok(())
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for Unix milliseconds (days-from-civil inverse, Hinnant).
pub fn write_timestamp(out: &mut Vec<u8>, ms: u64) {
    let secs = ms / 1000;
    let days = (secs / 86_400) as i64;
    let sod = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60,
        ms % 1000
    );
}

fn event_row(rng: &mut Rng, vocab: &Vocab, id: i64) -> (i64, i64, &'static str, String, [u8; 32]) {
    const KINDS: [&str; 6] = [
        "login", "update", "payment", "export", "comment", "workflow",
    ];
    let kind = KINDS[rng.below(6) as usize];
    let account = rng.range(1, 1001) as i64;
    let ts = 1_735_689_600 + id * 7 + rng.below(7) as i64;
    let note_len = rng.range(150, 900) as usize;
    let note = vocab.text(rng, note_len);
    let note = String::from_utf8_lossy(&note).replace(['\n', '"'], " ");
    let body = format!(
        "{{\"event\":\"{kind}\",\"account\":{account},\"seq\":{id},\"amount\":{}.{:02},\"note\":\"{note}\"}}",
        rng.below(10_000),
        rng.below(100)
    );
    let mut digest = [0u8; 32];
    rng.fill(&mut digest);
    (ts, account, kind, body, digest)
}

fn page_bytes(conn: &Connection) -> rusqlite::Result<u64> {
    let pages: i64 = conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
    Ok(pages as u64 * DB_PAGE_SIZE)
}

fn write_db(path: &Path, target: u64, vocab: &Vocab) -> Res<()> {
    let mut rng = Rng::new(derive(SEED, STREAM_DB));
    let mut conn = Connection::open(path)?;
    conn.execute_batch(&format!(
        "PRAGMA page_size={DB_PAGE_SIZE};
         PRAGMA journal_mode=DELETE;
         PRAGMA synchronous=OFF;
         CREATE TABLE accounts(id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL,
                               created INTEGER NOT NULL);
         CREATE TABLE events(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL,
                             account INTEGER NOT NULL REFERENCES accounts(id),
                             kind TEXT NOT NULL, body TEXT NOT NULL, digest BLOB NOT NULL);
         CREATE INDEX events_by_ts ON events(ts);
         CREATE INDEX events_by_account ON events(account, kind);"
    ))?;
    {
        let tx = conn.transaction()?;
        {
            let mut st = tx.prepare("INSERT INTO accounts VALUES (?1, ?2, ?3, ?4)")?;
            for id in 1..=1000i64 {
                let name = String::from_utf8_lossy(vocab.pick(&mut rng)).into_owned();
                let email = format!("{name}.{id}@example.org");
                st.execute(params![id, name, email, 1_700_000_000 + id * 3600])?;
            }
        }
        tx.commit()?;
    }
    let mut id = 0i64;
    while page_bytes(&conn)? < target {
        let tx = conn.transaction()?;
        {
            let mut st = tx.prepare_cached(
                "INSERT INTO events(id, ts, account, kind, body, digest) VALUES (?1,?2,?3,?4,?5,?6)",
            )?;
            for _ in 0..500 {
                id += 1;
                let (ts, account, kind, body, digest) = event_row(&mut rng, vocab, id);
                st.execute(params![id, ts, account, kind, body, &digest[..]])?;
            }
        }
        tx.commit()?;
    }
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}

/// Appends rows in one transaction until the file has grown by at least `bytes`.
fn append_db(path: &Path, bytes: u64, vocab: &Vocab) -> Res<()> {
    let mut rng = Rng::new(derive(SEED, STREAM_DB_APPEND));
    let mut conn = Connection::open(path)?;
    conn.execute_batch("PRAGMA journal_mode=DELETE; PRAGMA synchronous=NORMAL;")?;
    let start = page_bytes(&conn)?;
    let mut id: i64 = conn.query_row("SELECT max(id) FROM events", [], |r| r.get(0))?;
    let tx = conn.transaction()?;
    {
        let mut st = tx.prepare(
            "INSERT INTO events(id, ts, account, kind, body, digest) VALUES (?1,?2,?3,?4,?5,?6)",
        )?;
        while page_bytes(&tx)? < start + bytes {
            for _ in 0..20 {
                id += 1;
                let (ts, account, kind, body, digest) = event_row(&mut rng, vocab, id);
                st.execute(params![id, ts, account, kind, body, &digest[..]])?;
            }
        }
    }
    tx.commit()?;
    conn.close().map_err(|(_, e)| e)?;
    Ok(())
}
