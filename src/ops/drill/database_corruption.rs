//! `database_corruption`: a SQLite database's pages are damaged on disk. The drill restores each
//! database of the newest backup into the sandbox (a generated one, backed up into a scratch
//! repository, when the sources hold none), damages pages, detects it with `PRAGMA
//! integrity_check` and the checksum, restores that database alone from the newest backup that
//! verifies, and checks it again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};

use super::runner::{Ctx, Failed, Step, StepLog};
use super::sandbox::{newest_backup, restore_verified, seconds_between, sha256_file};
use super::scenario::{RunbookDef, RunbookStep, ScenarioDef, StepDef, StepPhase};
use crate::error::{Error, Result};
use crate::ops::Dr;
use crate::ops::backup::BackupOptions;
use crate::ops::sqlite::integrity_check;
use crate::repo::BackupType;
use crate::repo::manifest::{EntryKind, Origin};

pub(super) const DEF: ScenarioDef = ScenarioDef {
    title: "Database corruption",
    description: "A SQLite database's pages are damaged on disk (a bad sector, a torn write, a \
                  bug). Detect it, restore that database alone from the newest backup that \
                  verifies, and check it.",
    rpo_means: "the age of the backup the database came back from, at the incident",
    steps: &[
        StepDef {
            phase: StepPhase::Prepare,
            name: "restore the databases into the sandbox",
            what: "restore every SQLite database of this host's newest backup (`restore --path`) \
                   into the sandbox; when the sources hold none, generate one and back it up \
                   into a scratch repository first",
        },
        StepDef {
            phase: StepPhase::Inject,
            name: "damage pages",
            what: "overwrite pages in the middle of each restored database with seeded random \
                   bytes",
        },
        StepDef {
            phase: StepPhase::Detect,
            name: "detect the damage",
            what: "`PRAGMA integrity_check` on each database, and its SHA-256 against the \
                   checksum the backup recorded",
        },
        StepDef {
            phase: StepPhase::Recover,
            name: "restore the damaged databases",
            what: "restore each damaged database alone (`mahavishnu-dr restore --path DB \
                   --overwrite`) from the newest backup that verifies",
        },
        StepDef {
            phase: StepPhase::Verify,
            name: "verify the databases",
            what: "`PRAGMA integrity_check` answers ok and the SHA-256 matches the backup's again",
        },
    ],
    runbook: RunbookDef {
        detection: &[
            RunbookStep {
                what: "The service logs database errors (`database disk image is malformed`, wrong \
                       results), or a check of the database file fails.",
                commands: &["sqlite3 PROJECT/DB 'PRAGMA integrity_check'"],
            },
            RunbookStep {
                what: "See what changed in the database since the newest backup; the DR check and \
                       restore tests flag a database that fails its check.",
                commands: &["mahavishnu-dr diff --path DB", "mahavishnu-dr check"],
            },
        ],
        impact: "The service fails or answers wrongly for what that database holds; other files \
                 are not affected. Writes to the database after the backup it comes back from are \
                 lost (the RPO). A damaged database backed up again is in the newest backups too: \
                 choose the backup before the damage.",
        recovery: &[
            RunbookStep {
                what: "Stop the service and the scheduled backups, so nothing writes the damaged \
                       database or backs it up again.",
                commands: &["systemctl stop SERVICE"],
            },
            RunbookStep {
                what: "Move the damaged database (and its `-wal` and `-shm` files) aside for the \
                       post-mortem.",
                commands: &["mv PROJECT/DB PROJECT/DB.damaged"],
            },
            RunbookStep {
                what: "Find the newest backup taken before the damage, and check it fully.",
                commands: &[
                    "mahavishnu-dr backup list",
                    "mahavishnu-dr backup validate --backup-id ID --level full",
                ],
            },
            RunbookStep {
                what: "Restore that database alone into the project folder (DB is its stored path, \
                       as `backup list` and `diff` show it).",
                commands: &[
                    "mahavishnu-dr restore --backup-id ID --path DB --target PROJECT --overwrite",
                ],
            },
            RunbookStep {
                what: "Check the database, start the service, and back up at once.",
                commands: &[
                    "sqlite3 PROJECT/DB 'PRAGMA integrity_check'",
                    "systemctl start SERVICE",
                    "mahavishnu-dr backup run",
                ],
            },
        ],
        success: &[
            "`PRAGMA integrity_check` answers ok.",
            "The restore finished without an error: the database matched the SHA-256 the backup \
             recorded.",
            "The service starts and reads its data within the RTO target.",
            "`mahavishnu-dr check` passes after the new backup.",
        ],
        rollback: &[
            RunbookStep {
                what: "The damaged database was kept: to go back, stop the service and move it \
                       back.",
                commands: &["systemctl stop SERVICE", "mv PROJECT/DB.damaged PROJECT/DB"],
            },
            RunbookStep {
                what: "Or restore the database from an older backup the same way.",
                commands: &[
                    "mahavishnu-dr restore --backup-id OLDER-ID --path DB --target PROJECT \
                     --overwrite",
                ],
            },
        ],
    },
};

/// One database in the drill.
struct Db {
    /// The stored path.
    path: String,
    /// Its SHA-256 as restored and verified against the manifest.
    good_sha256: String,
}

/// Where the databases come from: the production repository, or a scratch one holding a
/// generated database.
enum Source {
    Production,
    Generated(Box<Dr>),
}

pub(super) async fn run(ctx: &Ctx<'_>, log: &mut StepLog) {
    let restored = ctx.sandbox.path("restored");
    let Some((source, finished, backup_id, paths)) = log
        .step(
            StepPhase::Prepare,
            DEF.steps[0].name,
            prepare(ctx, &restored),
        )
        .await
    else {
        return;
    };
    let dr: &Dr = match &source {
        Source::Production => ctx.dr,
        Source::Generated(d) => d,
    };
    if let Source::Generated(_) = source {
        log.store = "scratch repository (generated database)".into();
    }
    log.backup_id = Some(backup_id.clone());
    let seed: u64 = rand::random();
    let Some(dbs) = log
        .step(StepPhase::Inject, DEF.steps[1].name, async {
            damage(&restored, &paths, seed)
        })
        .await
    else {
        return;
    };
    if let Some(at) = log.incident_at() {
        log.rpo_seconds = Some(seconds_between(finished, at).max(0.0));
    }
    if log
        .step(StepPhase::Detect, DEF.steps[2].name, async {
            detect(&restored, &dbs)
        })
        .await
        .is_none()
    {
        return;
    }
    let Some(used) = log
        .step(
            StepPhase::Recover,
            DEF.steps[3].name,
            recover(ctx, dr, &restored, &dbs),
        )
        .await
    else {
        return;
    };
    let same = used == backup_id;
    if !same {
        log.finding(format!(
            "the newest backup {backup_id} did not restore; the databases came back from {used}"
        ));
        log.backup_id = Some(used);
    }
    log.step(StepPhase::Verify, DEF.steps[4].name, async {
        verify(&restored, &dbs, same)
    })
    .await;
}

type Prepared = (Source, DateTime<Utc>, String, Vec<String>);

async fn prepare(ctx: &Ctx<'_>, restored: &Path) -> Step<Prepared> {
    let (source, finished, backup_id, paths, note) = match newest_backup(ctx.dr).await {
        Ok((summary, manifest)) => {
            let dbs = sqlite_entries(&manifest);
            if dbs.is_empty() {
                let (d, finished, id, dbs) = generated(ctx).await?;
                (
                    Source::Generated(Box::new(d)),
                    finished,
                    id,
                    dbs,
                    format!(
                        "backup {} holds no SQLite database: a generated one was backed up \
                         into a scratch repository",
                        summary.backup_id
                    ),
                )
            } else {
                (
                    Source::Production,
                    summary.finished,
                    summary.backup_id.clone(),
                    dbs,
                    format!("from backup {}", summary.backup_id),
                )
            }
        }
        Err(e) => {
            return Err(Failed::from(e)
                .finding("there is no backup of this host to recover a database from")
                .recommend("run `mahavishnu-dr backup run` and drill again"));
        }
    };
    let dr: &Dr = match &source {
        Source::Production => ctx.dr,
        Source::Generated(d) => d,
    };
    restore_verified(ctx, dr, &backup_id, restored, &paths, false).await?;
    let detail = format!(
        "{} database(s) restored {note}: {}",
        paths.len(),
        paths.join(", ")
    );
    Ok(((source, finished, backup_id, paths), detail))
}

/// The SQLite databases a manifest holds (read as snapshots), by stored path.
fn sqlite_entries(m: &crate::repo::manifest::Manifest) -> Vec<String> {
    m.entries
        .iter()
        .filter(|e| e.kind == EntryKind::File && e.origin == Origin::Sqlite)
        .map(|e| e.path.clone())
        .collect()
}

/// A generated database backed up into a scratch repository: (its operations, the backup,
/// the stored path).
async fn generated(ctx: &Ctx<'_>) -> Result<(Dr, DateTime<Utc>, String, Vec<String>)> {
    let data = ctx.sandbox.path("generated");
    crate::ops::private_dir::create_private_dir(&data)?;
    let db = data.join("drill.sqlite");
    let db2 = db.clone();
    tokio::task::spawn_blocking(move || make_database(&db2))
        .await
        .map_err(|e| Error::internal(format!("generating the drill database stopped: {e}")))??;
    let d = ctx
        .sandbox
        .scratch_repository(ctx.dr, "generated-repo", vec![data], |s| s)
        .await?;
    let r = d
        .backup(
            &BackupOptions {
                backup_type: BackupType::Full,
                ..BackupOptions::default()
            },
            ctx.progress.clone(),
            ctx.cancel,
        )
        .await?;
    let id = r.backup_id.ok_or_else(|| {
        Error::internal(format!(
            "the backup of the generated database did not run: {}",
            r.message
        ))
    })?;
    let (summary, manifest) = newest_backup(&d).await?;
    Ok((d, summary.finished, id, sqlite_entries(&manifest)))
}

/// A small database in WAL mode: 2,000 rows over a few dozen pages.
fn make_database(path: &Path) -> Result<()> {
    let fail = |e: rusqlite::Error| Error::io(format!("cannot generate {}: {e}", path.display()));
    let mut c = rusqlite::Connection::open(path).map_err(fail)?;
    c.execute_batch(
        "PRAGMA journal_mode=WAL; CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, \
         total INTEGER, note TEXT); CREATE INDEX orders_customer ON orders(customer);",
    )
    .map_err(fail)?;
    let tx = c.transaction().map_err(fail)?;
    for i in 0..2000i64 {
        tx.execute(
            "INSERT INTO orders (customer, total, note) VALUES (?1, ?2, ?3)",
            rusqlite::params![
                format!("customer-{}", i % 97),
                i * 7,
                "x".repeat(40 + (i % 60) as usize)
            ],
        )
        .map_err(fail)?;
    }
    tx.commit().map_err(fail)?;
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .map_err(fail)?;
    Ok(())
}

fn local(root: &Path, stored: &str) -> PathBuf {
    root.join(stored)
}

/// Damage each database: a page in the middle overwritten with random bytes (page 1 past the
/// header when the database has a single page). The checksum of the good copy is taken first.
fn damage(root: &Path, paths: &[String], seed: u64) -> Step<Vec<Db>> {
    use std::os::unix::fs::FileExt;
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut dbs = Vec::new();
    let mut what = Vec::new();
    for p in paths {
        let file = local(root, p);
        let good_sha256 = sha256_file(&file)?;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&file)
            .map_err(|e| Error::io(format!("cannot open {}: {e}", file.display())))?;
        let len = f
            .metadata()
            .map_err(|e| Error::io(format!("cannot read {}: {e}", file.display())))?
            .len();
        let mut header = [0u8; 18];
        f.read_exact_at(&mut header, 0)
            .map_err(|e| Error::io(format!("cannot read {}: {e}", file.display())))?;
        let page = match u16::from_be_bytes([header[16], header[17]]) {
            1 => 65536u64,
            n => u64::from(n).max(512),
        };
        let pages = (len / page).max(1);
        let (at, n) = if pages > 2 {
            let victim = rng.random_range(pages / 3..=(2 * pages / 3).max(pages / 3 + 1));
            (victim.min(pages - 1) * page, page)
        } else {
            (100, page.min(len).saturating_sub(100))
        };
        let mut junk = vec![0u8; n as usize];
        rng.fill(&mut junk[..]);
        f.write_all_at(&junk, at)
            .and_then(|()| f.sync_all())
            .map_err(|e| Error::io(format!("cannot damage {}: {e}", file.display())))?;
        what.push(format!("{p}: {n} bytes at offset {at} (page size {page})"));
        dbs.push(Db {
            path: p.clone(),
            good_sha256,
        });
    }
    Ok((dbs, format!("seed {seed}; {}", what.join("; "))))
}

/// Both detectors on each database; the step fails when damage goes unnoticed.
fn detect(root: &Path, dbs: &[Db]) -> Step<()> {
    let mut lines = Vec::new();
    let mut missed = Vec::new();
    for d in dbs {
        let file = local(root, &d.path);
        let integrity = match integrity_check(&file) {
            Ok(r) if r == "ok" => None,
            Ok(r) => Some(r),
            Err(e) => Some(e),
        };
        let checksum_differs = sha256_file(&file)? != d.good_sha256;
        let by: Vec<&str> = [
            integrity.is_some().then_some("PRAGMA integrity_check"),
            checksum_differs.then_some("the checksum"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if by.is_empty() {
            missed.push(d.path.clone());
        }
        let shown = integrity
            .as_deref()
            .map(|r| r.chars().take(160).collect::<String>())
            .unwrap_or_else(|| "ok (the damage is not visible to SQLite)".into());
        lines.push(format!(
            "{}: detected by {} (integrity_check: {shown})",
            d.path,
            if by.is_empty() {
                "nothing".to_string()
            } else {
                by.join(" and ")
            }
        ));
    }
    if missed.is_empty() {
        Ok(((), lines.join("; ")))
    } else {
        Err(Failed::new(lines.join("; "))
            .finding(format!("damage went undetected in {}", missed.join(", "))))
    }
}

/// Restore each damaged database alone from the newest backup of this host that restores and
/// verifies (newest first, at most five tried): the backup used.
async fn recover(ctx: &Ctx<'_>, dr: &Dr, root: &Path, dbs: &[Db]) -> Step<String> {
    let repo = dr.open_repo().await?;
    let mut catalog = crate::repo::catalog::Catalog::load(&repo).await?;
    // The newest states first, continuous points among them (what a recovery now would use).
    catalog.load_points(&repo).await?;
    let host = dr.host();
    let mut states: Vec<&crate::repo::manifest::ManifestSummary> = catalog
        .backups
        .iter()
        .chain(&catalog.points)
        .filter(|b| b.host == host)
        .collect();
    states.sort_by_key(|b| std::cmp::Reverse(b.started));
    let candidates: Vec<String> = states.iter().take(5).map(|b| b.backup_id.clone()).collect();
    let paths: Vec<String> = dbs.iter().map(|d| d.path.clone()).collect();
    let mut tried: BTreeMap<String, String> = BTreeMap::new();
    for id in candidates {
        for p in &paths {
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(local(root, &format!("{p}{suffix}")));
            }
        }
        match restore_verified(ctx, dr, &id, root, &paths, true).await {
            Ok(_) => {
                let detail = format!("{} database(s) restored from {id}", paths.len());
                return Ok((id, detail));
            }
            Err(e) if e.kind == crate::error::ErrorKind::Cancelled => return Err(e.into()),
            Err(e) => {
                tried.insert(id, e.message);
            }
        }
    }
    let tried: Vec<String> = tried
        .into_iter()
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    Err(
        Failed::new(format!("no backup restored: {}", tried.join("; ")))
            .finding("no backup of this host could bring the database back")
            .recommend(
                "run `mahavishnu-dr backup validate --level full` and make a new full backup",
            ),
    )
}

/// `same`: restored from the backup the good copy came from, so its SHA-256 must match too (from
/// an older backup, the restore itself checked it against that backup's manifest).
fn verify(root: &Path, dbs: &[Db], same: bool) -> Step<()> {
    let mut bad = Vec::new();
    for d in dbs {
        let file = local(root, &d.path);
        match integrity_check(&file) {
            Ok(r) if r == "ok" => {}
            Ok(r) => bad.push(format!("{}: integrity_check says {r}", d.path)),
            Err(e) => bad.push(format!("{}: {e}", d.path)),
        }
        if same && sha256_file(&file)? != d.good_sha256 {
            bad.push(format!("{}: SHA-256 differs from the backup's", d.path));
        }
    }
    if bad.is_empty() {
        Ok((
            (),
            format!(
                "{} database(s): integrity_check ok, SHA-256 as backed up",
                dbs.len()
            ),
        ))
    } else {
        Err(Failed::new(bad.join("; ")).finding("a restored database did not verify"))
    }
}
