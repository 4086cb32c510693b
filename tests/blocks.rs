//! Block-level incrementals: a large file is stored as blocks and an incremental stores exactly
//! the blocks that changed; every backup of a long chain restores byte-identical; a damaged
//! block is named by validation and refused by restore; a killed backup leaves the repository
//! valid; a SQLite database held open in WAL mode is read for changes through its WAL; one file
//! comes back alone with `decrypt --file`.

use crate::common;
use crate::dr_util;

use std::process::Stdio;
use std::time::Duration;

use common::Project;
use dr_util::*;
use proptest::prelude::*;

/// The block size of files under 1 GiB (docs/FORMAT.md, "Block maps").
const BLOCK: usize = 16 << 10;

/// A project whose files of 1 MiB or more are block-mapped.
fn block_project(extra: &str) -> Project {
    Project::new(&format!(
        "  block_incremental: {{ min_file_mb: 1 }}\n  max_chain_length: 15\n{extra}"
    ))
}

/// Bytes of the blocks of `new` that differ from `old`'s block of the same index (a block
/// cut shorter differs), or are new.
fn changed_block_bytes(old: &[u8], new: &[u8]) -> u64 {
    let old: Vec<&[u8]> = old.chunks(BLOCK).collect();
    new.chunks(BLOCK)
        .enumerate()
        .filter(|(i, b)| old.get(*i) != Some(b))
        .map(|(_, b)| b.len() as u64)
        .sum()
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// One random change: overwrite a range, append, or truncate (then sometimes append).
fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    match rng.below(4) {
        0 | 1 => {
            let len = 1 + rng.below(40_000) as usize;
            let at = rng.below(data.len() as u64) as usize;
            let end = (at + len).min(data.len());
            let fill = noise(rng.next(), end - at);
            data[at..end].copy_from_slice(&fill);
        }
        2 => {
            let more = noise(rng.next(), 1 + rng.below(70_000) as usize);
            data.extend_from_slice(&more);
        }
        _ => {
            let keep = data.len() - rng.below(data.len() as u64 / 3) as usize;
            // Stay above min_file_mb (1 MiB): the file stays block-mapped.
            data.truncate(keep.max(1_100_000));
            if rng.below(2) == 0 {
                data.extend_from_slice(&noise(rng.next(), rng.below(30_000) as usize));
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3, ..ProptestConfig::default() })]

    /// 14 incrementals of random writes, appends and truncations: each stores exactly the
    /// changed blocks, and every one of the 15 backups restores byte-identical.
    #[test]
    fn random_changes_over_fourteen_incrementals_restore_byte_identical(seed in 1u64..u64::MAX) {
        let p = block_project("");
        p.init();
        let mut rng = Rng(seed);
        let mut data = noise(seed, (2 << 20) + rng.below(300_000) as usize);
        p.write("big.bin", &data);
        p.write("small.txt", b"whole-file path beside it\n");
        let mut versions = Vec::new();
        let v = p.backup("full");
        prop_assert_eq!(v["totals"]["bytes_stored_content"].as_u64(), Some(data.len() as u64 + 26));
        versions.push((v["backup_id"].as_str().unwrap().to_string(), data.clone()));
        for step in 0..14 {
            let old = data.clone();
            mutate(&mut rng, &mut data);
            p.write("big.bin", &data);
            let v = p.backup("incremental");
            prop_assert_eq!(&v["backup_type"], "incremental", "step {}: {}", step, v);
            prop_assert_eq!(
                v["totals"]["bytes_stored_content"].as_u64(),
                Some(changed_block_bytes(&old, &data)),
                "step {}: an incremental stores exactly the changed blocks: {}", step, v
            );
            versions.push((v["backup_id"].as_str().unwrap().to_string(), data.clone()));
        }
        for (id, want) in &versions {
            let restored = p.restore(id);
            let got = std::fs::read(restored.join("big.bin")).unwrap();
            prop_assert!(got == *want, "{} restored different bytes", id);
        }
        let (v, _) = json_run(&p, &["backup", "validate", "--level", "full"], 0);
        prop_assert_eq!(&v["ok"], true, "{}", v);
    }
}

/// The stored volumes of a backup (vol-*), largest first.
fn volumes_of(p: &Project, id: &str) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(backup_dir(p, id))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("vol-"))
        .collect();
    v.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).unwrap().len()));
    v
}

#[test]
fn a_damaged_block_is_named_by_validation_and_refused_by_restore() {
    let p = block_project("");
    p.init();
    p.write("db/big.bin", noise(7, 6 << 20));
    let v = p.backup("full");
    let id = v["backup_id"].as_str().unwrap().to_string();
    // Flip one byte in the middle of the largest block volume.
    let vol = &volumes_of(&p, &id)[0];
    let mut bytes = std::fs::read(vol).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(vol, &bytes).unwrap();

    let (v, _) = json_run(&p, &["backup", "validate", "--level", "full"], 1);
    assert_eq!(v["ok"], false, "{v}");
    let problems = v["problems"].as_array().unwrap();
    let named = problems
        .iter()
        .find(|pr| pr["path"] == "data/db/big.bin")
        .unwrap_or_else(|| panic!("no problem names the file: {v}"));
    assert_eq!(named["backup_id"], id.as_str(), "{v}");
    assert!(
        named["problem"].as_str().unwrap().contains("block"),
        "the problem says which block: {v}"
    );

    let target = p.root().join("restored");
    let o = p.run_restore(&id, &target, &[]);
    assert_ne!(code(&o), 0, "restore of a damaged block succeeded");
    assert!(shown(&o).contains("data/db/big.bin"), "{}", shown(&o));
    assert!(
        !target.join("data/db/big.bin").exists(),
        "a file with a damaged block was put in place"
    );
    // decrypt --file refuses it too, and leaves no output.
    let out = p.root().join("one.bin");
    let o = p.run(&[
        "decrypt",
        "--file",
        "data/db/big.bin",
        "--output",
        out.to_str().unwrap(),
    ]);
    assert_ne!(code(&o), 0);
    assert!(!out.exists());
}

/// Restore reads whole-file volumes and block volumes at once: a damaged whole-file volume
/// must still fail the restore by its own name (not as "cancelled" by the block readers it
/// stops), and leave nothing in the empty target, the block-mapped file included.
#[test]
fn a_damaged_whole_file_volume_stops_a_restore_that_also_fetches_blocks() {
    let p = block_project("");
    p.init();
    p.write("db/big.bin", noise(11, 6 << 20));
    for i in 0..3u64 {
        p.write(&format!("small/{i}.bin"), noise(20 + i, 300 << 10));
    }
    let id = p.backup("full")["backup_id"].as_str().unwrap().to_string();
    // The block volumes hold 6 MiB, the whole-file volume(s) 900 KiB: the smallest is one of
    // those.
    let vols = volumes_of(&p, &id);
    let small = vols.last().unwrap();
    let name = small.file_name().unwrap().to_string_lossy().to_string();
    let name = name.split('.').next().unwrap().to_string();
    let len = std::fs::metadata(small).unwrap().len() as usize;
    flip_byte(small, len / 2);

    let target = p.root().join("restored");
    let o = p.run_restore(&id, &target, &[]);
    assert_no_panic(&o);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(
        stderr(&o).contains(&format!("restoring from volume {name}")),
        "the error should name the damaged whole-file volume {name}:\n{}",
        shown(&o)
    );
    assert!(
        !stderr(&o).contains("cancelled"),
        "the damage, not a cancellation, is the error:\n{}",
        shown(&o)
    );
    assert!(
        files_under(&target).is_empty(),
        "a failed restore into an empty target left files: {:?}",
        files_under(&target).keys().collect::<Vec<_>>()
    );
}

#[test]
fn a_block_map_swapped_between_backups_is_refused() {
    let p = block_project("");
    p.init();
    p.write("big.bin", noise(1, 2 << 20));
    let a = p.backup("full")["backup_id"].as_str().unwrap().to_string();
    p.write("big.bin", noise(2, 2 << 20));
    let b = p.backup("full")["backup_id"].as_str().unwrap().to_string();
    std::fs::copy(
        backup_dir(&p, &a).join("blockmap"),
        backup_dir(&p, &b).join("blockmap"),
    )
    .unwrap();
    let o = p.run_restore(&b, &p.root().join("r"), &[]);
    assert_ne!(code(&o), 0, "a planted block map was used");
    assert!(shown(&o).contains("block map"), "{}", shown(&o));
    let (v, _) = json_run(&p, &["backup", "validate", "--level", "checksum"], 1);
    assert_eq!(v["ok"], false, "{v}");
}

#[test]
fn one_file_comes_back_alone_with_decrypt_file() {
    let p = block_project("");
    p.init();
    let big = noise(3, (3 << 20) + 77);
    p.write("big.bin", &big);
    p.write("note.txt", b"hello");
    p.backup("full");
    let mut big2 = big.clone();
    big2[100_000..100_010].copy_from_slice(b"0123456789");
    p.write("big.bin", &big2);
    p.backup("incremental");
    for (path, want) in [("data/big.bin", &big2[..]), ("data/note.txt", b"hello")] {
        let out = p.root().join(format!("out-{}", rand_like(path)));
        let (v, _) = json_run(
            &p,
            &["decrypt", "--file", path, "--output", out.to_str().unwrap()],
            0,
        );
        assert_eq!(v["file"], path, "{v}");
        assert!(std::fs::read(&out).unwrap() == want, "{path} differs");
    }
}

fn rand_like(s: &str) -> String {
    s.replace('/', "_")
}

#[test]
fn a_backup_killed_while_storing_blocks_leaves_a_valid_repository() {
    let p = block_project("  volume_size_mb: 4\n");
    p.init();
    p.write("a.bin", noise(1, 2 << 20));
    let first = p.backup("full")["backup_id"].as_str().unwrap().to_string();
    for i in 0..6 {
        p.write(&format!("big-{i}.bin"), noise(10 + i, 24 << 20));
    }
    let mut child = p
        .cmd(&["backup", "run", "--type", "incremental", "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let backups = p.repo().join("backups");
    let killed = wait_for(Duration::from_secs(60), "a block volume", || {
        std::fs::read_dir(&backups)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|id| *id != first)
            .find(|id| {
                std::fs::read_dir(backups.join(id))
                    .map(|rd| rd.count() > 0)
                    .unwrap_or(false)
            })
    });
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        !backups.join(&killed).join("manifest").exists(),
        "the backup finished before it was killed; give it more data"
    );
    let (v, _) = json_run(&p, &["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");
    // The next backup (on top of the first, the killed one is no parent) restores exactly.
    let (b, _) = json_run(&p, &["backup", "run", "--type", "incremental"], 0);
    assert_eq!(b["parent"], first.as_str(), "{b}");
    let restored = p.restore(b["backup_id"].as_str().unwrap());
    for i in 0..6 {
        let n = format!("big-{i}.bin");
        assert!(
            std::fs::read(restored.join(&n)).unwrap() == noise(10 + i, 24 << 20),
            "{n} differs"
        );
    }
}

/// A new WAL-mode database at `db` with table `t` of 40,000 rows of about 160 bytes (`id`, `v`).
fn wal_database(db: &std::path::Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(db).unwrap();
    c.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);")
        .unwrap();
    let tx = c.unchecked_transaction().unwrap();
    for i in 0..40_000 {
        tx.execute(
            "INSERT INTO t(v) VALUES (?1)",
            [format!("row {i} {}", "x".repeat(150))],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    c
}

/// A WAL-mode database with a connection held open (no checkpoint): the next backup learns the
/// changed pages from the WAL, hashes only their blocks, stores only those, and restores a
/// consistent database with every committed row.
#[test]
fn an_open_wal_database_is_read_for_changes_through_its_wal() {
    use rusqlite::Connection;
    let p = Project::new("");
    p.init();
    let conn = wal_database(&p.data().join("app.db"));
    conn.execute_batch("PRAGMA wal_autocheckpoint=0; PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    // Committed, not checkpointed: these pages are only in the WAL.
    conn.execute("UPDATE t SET v = 'one' WHERE id = 7", [])
        .unwrap();
    let full = p.backup("full");
    let blocks = full["totals"]["blocks_read"].as_u64().unwrap();
    assert!(blocks > 100, "{full}");
    assert_eq!(
        full["totals"]["blocks_stored"].as_u64(),
        Some(blocks),
        "{full}"
    );

    for id in [1000, 20_000, 39_999] {
        conn.execute("UPDATE t SET v = 'changed' WHERE id = ?1", [id])
            .unwrap();
    }
    // The database grows too: its new pages are in the WAL only.
    for i in 0..500 {
        conn.execute(
            "INSERT INTO t(v) VALUES (?1)",
            [format!("new {i} {}", "y".repeat(150))],
        )
        .unwrap();
    }
    let inc = p.backup("incremental");
    let t = &inc["totals"];
    let hashed = t["blocks_hashed"].as_u64().unwrap();
    let stored = t["blocks_stored"].as_u64().unwrap();
    assert!(
        hashed < blocks / 4,
        "the WAL should name the few changed blocks; {hashed} of {blocks} were hashed: {inc}"
    );
    assert_eq!(
        t["blocks_read"].as_u64(),
        Some(hashed),
        "only the named blocks should be read: {inc}"
    );
    assert!((1..=hashed).contains(&stored), "{inc}");
    // What only the named blocks were read for comes back whole and consistent.
    let hinted = p.restore(inc["backup_id"].as_str().unwrap());
    let r = Connection::open(hinted.join("app.db")).unwrap();
    let ok: String = r
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let n: i64 = r
        .query_row(
            "SELECT count(*) FROM t WHERE v = 'changed' OR v LIKE 'new %'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 503);
    drop(r);
    // The same file alone, by hand: checked by its block-list digest too.
    let out = p.root().join("app-by-hand.db");
    let (d, _) = json_run(
        &p,
        &[
            "decrypt",
            "--file",
            "data/app.db",
            "--backup-id",
            inc["backup_id"].as_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
        ],
        0,
    );
    assert_eq!(d["file"], "data/app.db", "{d}");
    assert!(std::fs::read(&out).unwrap() == std::fs::read(hinted.join("app.db")).unwrap());
    let v = p.json(&["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");

    // A checkpoint that resets the WAL: the next backup cannot trust it and hashes everything.
    conn.execute("UPDATE t SET v = 'again' WHERE id = 5", [])
        .unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    conn.execute("UPDATE t SET v = 'after' WHERE id = 6", [])
        .unwrap();
    let inc2 = p.backup("incremental");
    assert_eq!(
        inc2["totals"]["blocks_hashed"].as_u64(),
        inc2["totals"]["blocks_read"].as_u64(),
        "{inc2}"
    );

    let restored = p.restore(inc2["backup_id"].as_str().unwrap());
    let r = Connection::open(restored.join("app.db")).unwrap();
    let ok: String = r
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    for (id, want) in [(7, "one"), (1000, "changed"), (5, "again"), (6, "after")] {
        let v: String = r
            .query_row("SELECT v FROM t WHERE id = ?1", [id], |r| r.get(0))
            .unwrap();
        assert_eq!(v, want, "row {id}");
    }
    let n: i64 = r
        .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 40_500);
}

/// A database backed up with no WAL (closed, checkpointed) and not written since: the WAL that
/// appears later names every change, so the next backup reads only those blocks. Once a
/// checkpoint has written the file since, the WAL cannot be trusted (it restarted and forgot
/// what it copied): the backup reads every block, and nothing is lost.
#[test]
fn a_database_untouched_since_a_backup_without_wal_is_read_through_its_wal() {
    use rusqlite::Connection;
    let p = Project::new("");
    p.init();
    let db = p.data().join("app.db");
    drop(wal_database(&db));
    assert!(
        !p.data().join("app.db-wal").exists(),
        "closing keeps the WAL"
    );
    let full = p.backup("full");
    let blocks = full["totals"]["blocks_read"].as_u64().unwrap();
    assert!(blocks > 100, "{full}");

    let conn = Connection::open(&db).unwrap();
    conn.execute_batch("PRAGMA wal_autocheckpoint=0;").unwrap();
    let set = |id: i64, v: &str| {
        conn.execute(
            "UPDATE t SET v = ?2 WHERE id = ?1",
            rusqlite::params![id, v],
        )
        .unwrap();
    };
    set(1000, "x1");
    set(30_000, "x1");
    let inc1 = p.backup("incremental");
    let read = inc1["totals"]["blocks_read"].as_u64().unwrap();
    assert!(read < blocks / 4, "{read} of {blocks} blocks read: {inc1}");

    // No WAL again (checkpointed into the file), then a change checkpointed into the file and
    // one left in a restarted WAL.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let inc2 = p.backup("incremental");
    assert_eq!(
        inc2["totals"]["blocks_read"].as_u64(),
        Some(blocks),
        "{inc2}"
    );
    set(2000, "A");
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    set(3000, "B");
    let inc3 = p.backup("incremental");
    assert_eq!(
        inc3["totals"]["blocks_read"].as_u64(),
        Some(blocks),
        "the file was written since: every block must be read: {inc3}"
    );
    for (b, want) in [
        (&inc1, vec![(1000, "x1"), (30_000, "x1")]),
        (&inc3, vec![(1000, "x1"), (2000, "A"), (3000, "B")]),
    ] {
        let restored = p.restore(b["backup_id"].as_str().unwrap());
        let r = Connection::open(restored.join("app.db")).unwrap();
        let ok: String = r
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        for (id, v) in want {
            let got: String = r
                .query_row("SELECT v FROM t WHERE id = ?1", [id], |r| r.get(0))
                .unwrap();
            assert_eq!(got, v, "row {id}");
        }
    }
}

/// Rewrite backup `id`'s manifest with the key (as only the key holder could): `edit` changes
/// its JSON.
fn rewrite_manifest(p: &Project, id: &str, edit: impl FnOnce(&mut serde_json::Value)) {
    use mahavishnu_dr::internals::Repository;
    use mahavishnu_dr::internals::crypto::{Credential, read_key_file};
    use mahavishnu_dr::internals::envelope::{ObjectKind, open_all, seal_all};
    let rt = tokio::runtime::Runtime::new().unwrap();
    let storage: mahavishnu_dr::DynStorage =
        std::sync::Arc::new(mahavishnu_dr::OpendalStorage::local(&p.repo()).unwrap());
    let key = read_key_file(&p.root().join("key")).unwrap();
    let repo = rt
        .block_on(Repository::open(storage, Some(&Credential::KeyFile(key))))
        .unwrap();
    let path = backup_dir(p, id).join("manifest");
    let ctx = repo.context(ObjectKind::Manifest, id, u32::MAX);
    let master = repo.master().unwrap();
    let packed = open_all(master, &ctx, &std::fs::read(&path).unwrap()).unwrap();
    let mut m: serde_json::Value =
        serde_json::from_slice(&zstd::decode_all(&packed[..]).unwrap()).unwrap();
    edit(&mut m);
    let packed = zstd::encode_all(&serde_json::to_vec(&m).unwrap()[..], 3).unwrap();
    std::fs::write(&path, seal_all(master, &ctx, &packed)).unwrap();
}

/// The whole-file check is the block-list digest: a manifest whose digest disagrees with the
/// blocks (every block intact) is refused by restore and `decrypt --file`, and named by full
/// validation; a block-mapped file with no digest at all is refused too, never restored
/// unchecked.
#[test]
fn a_block_list_digest_that_disagrees_with_the_blocks_is_refused() {
    let p = block_project("");
    p.init();
    p.write("big.bin", noise(5, (2 << 20) + 123));
    p.write("small.txt", b"fine");
    let id = p.backup("full")["backup_id"].as_str().unwrap().to_string();
    let entry_of = |m: &mut serde_json::Value| -> usize {
        m["entries"]
            .as_array()
            .unwrap()
            .iter()
            .position(|e| e["path"] == "data/big.bin")
            .unwrap()
    };
    rewrite_manifest(&p, &id, |m| {
        let i = entry_of(m);
        let d = m["entries"][i]["blocks"]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(d.len(), 64, "{}", m["entries"][i]);
        let flipped = format!("{}{}", if d.starts_with('0') { "1" } else { "0" }, &d[1..]);
        m["entries"][i]["blocks"]["digest"] = flipped.into();
    });
    let target = p.root().join("r1");
    let o = p.run_restore(&id, &target, &[]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(shown(&o).contains("data/big.bin"), "{}", shown(&o));
    assert!(
        !target.join("data/big.bin").exists(),
        "the file was restored"
    );
    let out = p.root().join("by-hand");
    let (d, _) = json_run(
        &p,
        &[
            "decrypt",
            "--file",
            "data/big.bin",
            "--output",
            out.to_str().unwrap(),
        ],
        1,
    );
    assert!(!out.exists(), "{d}");
    let (v, _) = json_run(&p, &["backup", "validate", "--level", "full"], 1);
    let problems = v.to_string();
    assert!(
        problems.contains("data/big.bin") && problems.contains("block-list digest"),
        "{v}"
    );

    // Neither digest: refused, not restored unchecked.
    rewrite_manifest(&p, &id, |m| {
        let i = entry_of(m);
        m["entries"][i]["blocks"]
            .as_object_mut()
            .unwrap()
            .remove("digest");
        m["entries"][i].as_object_mut().unwrap().remove("sha256");
    });
    let target = p.root().join("r2");
    let o = p.run_restore(&id, &target, &[]);
    assert_eq!(code(&o), 1, "{}", shown(&o));
    assert!(shown(&o).contains("no digest"), "{}", shown(&o));
    assert!(
        !target.join("data/big.bin").exists(),
        "the file was restored"
    );
}

/// A store that counts the bytes read from volumes.
#[derive(Debug)]
struct CountingReads {
    inner: mahavishnu_dr::DynStorage,
    volume_bytes: std::sync::atomic::AtomicU64,
}

impl CountingReads {
    fn count(&self, key: &str, n: usize) {
        if key.contains("/vol-") {
            self.volume_bytes
                .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

#[async_trait::async_trait]
impl mahavishnu_dr::Storage for CountingReads {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn put(&self, key: &str, data: bytes::Bytes) -> mahavishnu_dr::Result<()> {
        self.inner.put(key, data).await
    }
    async fn put_if_absent(&self, key: &str, data: bytes::Bytes) -> mahavishnu_dr::Result<bool> {
        self.inner.put_if_absent(key, data).await
    }
    async fn writer(
        &self,
        key: &str,
    ) -> mahavishnu_dr::Result<Box<dyn mahavishnu_dr::ObjectWriter>> {
        self.inner.writer(key).await
    }
    async fn get(&self, key: &str) -> mahavishnu_dr::Result<bytes::Bytes> {
        let b = self.inner.get(key).await?;
        self.count(key, b.len());
        Ok(b)
    }
    async fn get_range(
        &self,
        key: &str,
        range: std::ops::Range<u64>,
    ) -> mahavishnu_dr::Result<bytes::Bytes> {
        let b = self.inner.get_range(key, range).await?;
        self.count(key, b.len());
        Ok(b)
    }
    async fn size(&self, key: &str) -> mahavishnu_dr::Result<Option<u64>> {
        self.inner.size(key).await
    }
    async fn list(&self, prefix: &str) -> mahavishnu_dr::Result<Vec<mahavishnu_dr::ObjectInfo>> {
        self.inner.list(prefix).await
    }
    async fn delete(&self, key: &str) -> mahavishnu_dr::Result<()> {
        self.inner.delete(key).await
    }
}

/// Restoring one block-mapped file reads its blocks' frames, not the volumes they share with
/// another file's blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_restore_reads_only_that_files_blocks() {
    use std::sync::Arc;
    let p = block_project("");
    p.init();
    let a = noise(21, 8 << 20);
    p.write("a.bin", &a);
    p.write("b.bin", noise(22, 8 << 20));
    p.backup("full");
    let stored: u64 = std::fs::read_dir(p.repo().join("backups"))
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|f| f.file_name().unwrap().to_string_lossy().starts_with("vol-"))
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let loaded = mahavishnu_dr::load_settings(Some(&p.config()), p.root(), &[]).unwrap();
    let local: mahavishnu_dr::DynStorage =
        Arc::new(mahavishnu_dr::OpendalStorage::local(&p.repo()).unwrap());
    let counting = Arc::new(CountingReads {
        inner: local,
        volume_bytes: Default::default(),
    });
    let dr = mahavishnu_dr::Dr::with_storage(loaded, counting.clone());
    let target = p.root().join("one");
    let r = dr
        .restore(
            &mahavishnu_dr::RestoreOptions {
                backup_id: "latest".into(),
                target_dir: target.clone(),
                host: None,
                at: None,
                paths: vec!["data/a.bin".into()],
                overwrite: false,
                keep_special_bits: false,
                confirm: true,
                placement: mahavishnu_dr::Placement::Anywhere,
            },
            Arc::new(mahavishnu_dr::NoProgress),
            &mahavishnu_dr::Cancel::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.files, 1, "{r:?}");
    assert!(std::fs::read(target.join("data/a.bin")).unwrap() == a);
    let read = counting
        .volume_bytes
        .load(std::sync::atomic::Ordering::Relaxed);
    // Reads are whole 1 MiB envelope frames: where a's blocks meet b's, a frame holds both.
    assert!(
        read < stored * 7 / 10 && read >= (8 << 20),
        "restoring one of two equal files read {read} of {stored} stored volume bytes"
    );
}
