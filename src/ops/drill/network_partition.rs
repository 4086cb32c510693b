//! `network_partition`: the network to the store fails and stalls on a share of calls, then
//! heals. The drill backs up a sandbox copy of the sources into a scratch repository through a
//! fault layer (seeded errors, stalls and latency) under the same timeout and retry layers a
//! cloud store has; the backup completes through retries or fails cleanly, the repository
//! validates fully either way, and after healing a backup succeeds and restores.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::runner::{Ctx, Failed, Step, StepLog};
use super::sandbox::{restore_verified, seconds_between, sha256_file};
use super::scenario::{RunbookDef, RunbookStep, ScenarioDef, StepDef, StepPhase};
use crate::error::Error;
use crate::ops::Dr;
use crate::ops::backup::BackupOptions;
use crate::ops::validate::ValidateOptions;
use crate::ops::validate::ValidationLevel;
use crate::repo::BackupType;
use crate::repo::manifest::EntryKind;
use crate::storage::{Fault, FaultStorage, Partition, RetryStorage, TimeoutStorage};

/// At most this much of the sources is copied into the sandbox.
const COPY_MAX_BYTES: u64 = 256 << 20;

/// The partition: a fifth of the calls fail, one in twenty stalls past the timeout, the rest
/// wait up to 20 ms.
const ERROR_PERCENT: u32 = 20;
const STALL_PERCENT: u32 = 5;
const STALL: Duration = Duration::from_millis(1500);
const TIMEOUT: Duration = Duration::from_millis(500);
const MAX_LATENCY: Duration = Duration::from_millis(20);
const ATTEMPTS: u32 = 6;
const RETRY_DELAY: Duration = Duration::from_millis(20);

pub(super) const DEF: ScenarioDef = ScenarioDef {
    title: "Network partition",
    description: "The network to the backup store fails and stalls on a share of calls, then \
                  heals. A backup during the partition completes through retries or fails \
                  cleanly; the repository stays valid; after healing, backups succeed.",
    rpo_means: "the time between the last successful backup before the partition and the \
                first one after it",
    steps: &[
        StepDef {
            phase: StepPhase::Prepare,
            name: "copy the sources and back them up",
            what: "copy the path sources (up to 256 MiB) into the sandbox and make a full \
                   backup of the copy into a scratch repository",
        },
        StepDef {
            phase: StepPhase::Inject,
            name: "partition the network",
            what: "a seeded fault layer in front of the scratch repository: a fifth of the \
                   calls fail, one in twenty stalls past the 0.5 s timeout, the rest wait up \
                   to 20 ms; retries (6 attempts) and the timeout sit above it as for a cloud \
                   store",
        },
        StepDef {
            phase: StepPhase::Detect,
            name: "back up during the partition",
            what: "change the copy and back it up: the backup completes through retries or \
                   fails cleanly; the faults it met are counted",
        },
        StepDef {
            phase: StepPhase::Recover,
            name: "heal, validate and back up",
            what: "remove the fault layer, validate the scratch repository fully (no partial \
                   backup is visible), then back up again",
        },
        StepDef {
            phase: StepPhase::Verify,
            name: "restore and compare",
            what: "restore the newest backup of the scratch repository and compare every file \
                   with the sandbox copy (SHA-256)",
        },
    ],
    runbook: RunbookDef {
        detection: &[
            RunbookStep {
                what: "Backups fail or slow down: `backup run` retries, then fails with timeouts \
                       or connection errors; the backup alerts fire and the newest backup ages.",
                commands: &["mahavishnu-dr backup status", "mahavishnu-dr check"],
            },
            RunbookStep {
                what: "Tell the network from the store: a store that answers from another host or \
                       network is partitioned from this host, not lost (else see region_failure).",
                commands: &[],
            },
        ],
        impact: "The service keeps running, but no backup reaches the store while the partition \
                 lasts: the RPO grows with the time without a backup. A backup cut short leaves \
                 nothing half-visible (a backup exists only once its manifest is written) and the \
                 stored backups stay valid.",
        recovery: &[
            RunbookStep {
                what: "Leave the scheduled backups on: each retries, then fails cleanly. Run no \
                       `backup cleanup` against the store during the partition.",
                commands: &[],
            },
            RunbookStep {
                what: "Once the network heals, back up at once rather than waiting for the \
                       schedule.",
                commands: &["mahavishnu-dr backup run"],
            },
            RunbookStep {
                what: "Check the repository: no partial backup is visible and the newest backup is \
                       whole.",
                commands: &[
                    "mahavishnu-dr backup validate --level quick",
                    "mahavishnu-dr backup status",
                ],
            },
            RunbookStep {
                what: "Remove what interrupted backups left behind (orphan volumes); locks of \
                       processes that died are broken by themselves.",
                commands: &[
                    "mahavishnu-dr backup cleanup --dry-run",
                    "mahavishnu-dr backup cleanup",
                ],
            },
            RunbookStep {
                what: "Catch the replicas up with the backups they missed.",
                commands: &["mahavishnu-dr replicate"],
            },
        ],
        success: &[
            "`backup run` completes after the network heals.",
            "`backup validate` passes: no partial backup is visible.",
            "`replicate` reports that every replica holds every backup.",
            "`mahavishnu-dr check` passes: the newest backup is younger than the RPO target again.",
        ],
        rollback: &[RunbookStep {
            what: "Nothing to undo: the recovery only adds backups. When a backup fails again \
                       after the heal, the partition is not over: go back to the first recovery \
                       step.",
            commands: &[],
        }],
    },
};

pub(super) async fn run(ctx: &Ctx<'_>, log: &mut StepLog) {
    let copy = ctx.sandbox.path("copy");
    let faults: Arc<std::sync::Mutex<Option<FaultStorage>>> = Arc::default();
    let slot = faults.clone();
    let Some((scratch, before)) = log
        .step(StepPhase::Prepare, DEF.steps[0].name, async {
            let (files, bytes, skipped) = copy_sources(ctx, &copy)?;
            let d = ctx
                .sandbox
                .scratch_repository(ctx.dr, "partition-repo", vec![copy.clone()], move |s| {
                    let f = FaultStorage::new(s);
                    *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(f.clone());
                    let timed = TimeoutStorage::new(Arc::new(f), TIMEOUT);
                    Arc::new(
                        RetryStorage::new(Arc::new(timed), ATTEMPTS, RETRY_DELAY)
                            .expecting_failures(),
                    )
                })
                .await?;
            let r = backup(ctx, &d, BackupType::Full).await?;
            let mut detail = format!(
                "{files} files ({}) copied; full backup {} of the copy",
                crate::present::bytes(bytes),
                r.0
            );
            if skipped > 0 {
                detail.push_str(&format!(
                    "; {skipped} files left out past the {} cap",
                    crate::present::bytes(COPY_MAX_BYTES)
                ));
            }
            Ok(((d, r.1), detail))
        })
        .await
    else {
        return;
    };
    log.store = "scratch repository (network partition)".into();
    let layer = faults
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .expect("the scratch repository was opened through the fault layer");
    let seed: u64 = rand::random();
    log.step(StepPhase::Inject, DEF.steps[1].name, async {
        layer.inject(Fault::Partition(Partition {
            seed,
            error_percent: ERROR_PERCENT,
            stall_percent: STALL_PERCENT,
            stall: STALL,
            max_latency: MAX_LATENCY,
        }));
        Ok((
            (),
            format!(
                "seed {seed}: {ERROR_PERCENT}% of calls fail, {STALL_PERCENT}% stall {} s \
                 (timeout {} s), up to {} ms latency on the rest",
                STALL.as_secs_f64(),
                TIMEOUT.as_secs_f64(),
                MAX_LATENCY.as_millis()
            ),
        ))
    })
    .await;
    let Some(during) = log
        .step(StepPhase::Detect, DEF.steps[2].name, async {
            let marker = copy.join(format!("drill-partition-{seed:016x}.txt"));
            std::fs::write(
                &marker,
                format!("written during the partition, seed {seed}\n"),
            )
            .map_err(|e| Error::io(format!("cannot write {}: {e}", marker.display())))?;
            let outcome = backup(ctx, &scratch, BackupType::Incremental).await;
            let s = layer.stats();
            let faults = format!(
                "{} calls: {} failed, {} stalled, {} delayed",
                s.calls, s.failed, s.stalled, s.delayed
            );
            match outcome {
                Ok((id, at)) => Ok((
                    Some(at),
                    format!("backup {id} completed through retries; {faults}"),
                )),
                Err(e) if e.kind == crate::error::ErrorKind::Cancelled => Err(e.into()),
                Err(e) => Ok((
                    None,
                    format!("the backup failed cleanly ({}); {faults}", e.message),
                )),
            }
        })
        .await
    else {
        return;
    };
    let Some(after) = log
        .step(StepPhase::Recover, DEF.steps[3].name, async {
            layer.clear();
            let v = scratch
                .validate(
                    &ValidateOptions {
                        level: ValidationLevel::Full,
                        ..ValidateOptions::default()
                    },
                    ctx.progress.clone(),
                    ctx.cancel,
                )
                .await?;
            if !v.ok {
                return Err(
                    Failed::new(v.message).finding("the partition left the repository invalid")
                );
            }
            let (id, at) = backup(ctx, &scratch, BackupType::Incremental).await?;
            Ok((
                at,
                format!(
                    "healed; full validation ok ({} backups, {} files); backup {id} succeeded",
                    v.backups_checked, v.files_checked
                ),
            ))
        })
        .await
    else {
        return;
    };
    let first_after = during.unwrap_or(after);
    log.rpo_seconds = Some(seconds_between(before, first_after).max(0.0));
    log.backup_id = None;
    if during.is_none() {
        log.finding(
            "no backup succeeded during the partition; the first after it did (the next \
             scheduled run catches up)",
        );
    }
    log.step(
        StepPhase::Verify,
        DEF.steps[4].name,
        restore_and_compare(ctx, &scratch, &copy),
    )
    .await;
}

/// A backup of `d`: its id and when it finished.
async fn backup(
    ctx: &Ctx<'_>,
    d: &Dr,
    t: BackupType,
) -> crate::error::Result<(String, DateTime<Utc>)> {
    let r = d
        .backup(
            &BackupOptions {
                backup_type: t,
                ..BackupOptions::default()
            },
            ctx.progress.clone(),
            ctx.cancel,
        )
        .await?;
    let id = r
        .backup_id
        .ok_or_else(|| Error::internal(format!("the backup did not run: {}", r.message)))?;
    Ok((id, Utc::now()))
}

/// Copy the live path sources (read only) into `to`, largest-last until the cap: (files,
/// bytes, files left out).
fn copy_sources(ctx: &Ctx<'_>, to: &Path) -> crate::error::Result<(u64, u64, u64)> {
    let scan = ctx.dr.live_scan(ctx.cancel)?;
    let mut items: Vec<(&str, &PathBuf, u64)> = scan
        .items
        .iter()
        .filter(|i| i.entry.kind == EntryKind::File)
        .filter_map(|i| Some((i.entry.path.as_str(), i.read_from.as_ref()?, i.entry.size)))
        .collect();
    items.sort_by_key(|i| i.2);
    let (mut files, mut bytes, mut skipped) = (0u64, 0u64, 0u64);
    for (stored, from, size) in items {
        if bytes + size > COPY_MAX_BYTES {
            skipped += 1;
            continue;
        }
        let dest = to.join(stored);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Error::io(format!("cannot create {}: {e}", parent.display())))?;
        }
        match std::fs::copy(from, &dest) {
            Ok(n) => {
                files += 1;
                bytes += n;
            }
            // A file that went away since the scan is not the drill's problem.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::io(format!("cannot copy {}: {e}", from.display())));
            }
        }
    }
    if files == 0 {
        std::fs::create_dir_all(to)
            .map_err(|e| Error::io(format!("cannot create {}: {e}", to.display())))?;
        std::fs::write(to.join("drill-sample.txt"), b"a file to back up\n")
            .map_err(|e| Error::io(format!("cannot write in {}: {e}", to.display())))?;
        files = 1;
    }
    Ok((files, bytes, skipped))
}

/// Restore the newest backup of the scratch repository and compare it with the copy.
async fn restore_and_compare(ctx: &Ctx<'_>, d: &Dr, copy: &Path) -> Step<()> {
    let target = ctx.sandbox.path("restored");
    let r = restore_verified(ctx, d, crate::ops::defaults::LATEST, &target, &[], false).await?;
    // Stored paths are relative to the sandbox: the copy comes back as `copy/...`.
    let back = target.join(copy.file_name().unwrap_or_default());
    let want = hashes(copy)?;
    let got = hashes(&back)?;
    let differ = differences(&want, &got, &back);
    if !differ.is_empty() {
        return Err(Failed::new(format!(
            "the restore differs from the copy: {}",
            differ.join(", ")
        ))
        .finding("a backup made around the partition does not restore what was backed up"));
    }
    Ok((
        (),
        format!(
            "{} files of {} restored; every file equals the copy (SQLite databases: \
             integrity_check ok)",
            r.files, r.backup_id
        ),
    ))
}

/// What differs between the copy's files and the restored ones (at most ten). A SQLite database
/// comes back as the snapshot the backup read, its WAL folded in: it must answer
/// integrity_check, not equal the copied file and its -wal and -shm.
fn differences(
    want: &BTreeMap<String, String>,
    got: &BTreeMap<String, String>,
    back: &Path,
) -> Vec<String> {
    let wal_side = |p: &str| p.ends_with("-wal") || p.ends_with("-shm");
    let mut differ = Vec::new();
    for (p, h) in want.iter().filter(|(p, _)| !wal_side(p)) {
        let restored = back.join(p);
        match got.get(p) {
            None => differ.push(format!("{p} (missing)")),
            Some(_) if crate::ops::sqlite::is_sqlite(&restored) => {
                let r = crate::ops::sqlite::integrity_check(&restored).unwrap_or_else(|e| e);
                if r != "ok" {
                    differ.push(format!("{p} (integrity_check: {r})"));
                }
            }
            Some(g) if g != h => differ.push(format!("{p} (differs)")),
            Some(_) => {}
        }
    }
    for p in got.keys().filter(|p| !want.contains_key(*p)) {
        differ.push(format!("{p} (not in the copy)"));
    }
    differ.truncate(10);
    differ
}

/// SHA-256 of every file under `root`, by relative path.
fn hashes(root: &Path) -> crate::error::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir)
            .map_err(|e| Error::io(format!("cannot list {}: {e}", dir.display())))?;
        for entry in rd {
            let entry =
                entry.map_err(|e| Error::io(format!("cannot list {}: {e}", dir.display())))?;
            let p = entry.path();
            let t = entry
                .file_type()
                .map_err(|e| Error::io(format!("cannot read {}: {e}", p.display())))?;
            if t.is_dir() {
                stack.push(p);
            } else if t.is_file() {
                let rel = p
                    .strip_prefix(root)
                    .map(|r| r.to_string_lossy().into_owned())
                    .unwrap_or_default();
                out.insert(rel, sha256_file(&p)?);
            }
        }
    }
    Ok(out)
}
