//! `region_failure`: the region holding the primary store is lost. The drill puts a storage
//! layer that fails every call in front of the primary, detects the outage, fails over to a
//! replica (`--repository NAME`), checks the replica holds the primary's newest backup (its lag
//! is the RPO), restores from it into the sandbox and verifies. Without a replica the drill
//! fails with the finding that a region loss is unrecoverable.

use std::path::Path;
use std::sync::Arc;

use chrono::Utc;

use super::runner::{Ctx, Failed, Step, StepLog};
use super::sandbox::{damaged_databases, newest_backup, restore_verified, seconds_between};
use super::scenario::{RunbookDef, RunbookStep, ScenarioDef, StepDef, StepPhase};
use crate::ops::Dr;
use crate::repo::manifest::ManifestSummary;
use crate::storage::{Fault, FaultStorage};

pub(super) const DEF: ScenarioDef = ScenarioDef {
    title: "Region failure",
    description: "The region holding the primary store is lost: every call to it fails. Fail \
                  over to a replica in another region, restore from it, verify.",
    rpo_means: "the age at the incident of the newest backup the replica holds (its lag)",
    steps: &[
        StepDef {
            phase: StepPhase::Prepare,
            name: "note the primary's newest backup",
            what: "read this host's newest backup on the primary store, before the outage",
        },
        StepDef {
            phase: StepPhase::Inject,
            name: "make the primary unreachable",
            what: "put a storage layer that fails every call in front of the primary store",
        },
        StepDef {
            phase: StepPhase::Detect,
            name: "detect the outage",
            what: "open the repository on the primary: it must fail",
        },
        StepDef {
            phase: StepPhase::Recover,
            name: "fail over to a replica",
            what: "open each replica (`mahavishnu-dr --repository NAME`), take the first that \
                   holds this host's backups, compare its newest with the primary's, and \
                   restore it into the sandbox (`mahavishnu-dr --repository NAME restore`)",
        },
        StepDef {
            phase: StepPhase::Verify,
            name: "verify the restore",
            what: "every file's SHA-256 was checked by the restore; every SQLite database \
                   answers `PRAGMA integrity_check` with ok",
        },
    ],
    runbook: RunbookDef {
        detection: &[
            RunbookStep {
                what: "Backups and reads of the primary store fail: `backup run` and `backup \
                       status` cannot reach it, `check` fails, the backup alerts fire.",
                commands: &["mahavishnu-dr backup status", "mahavishnu-dr check"],
            },
            RunbookStep {
                what: "Confirm a replica in another region answers and holds this host's backups.",
                commands: &["mahavishnu-dr --repository REPLICA backup list"],
            },
        ],
        impact: "Nothing can be backed up to or restored from the primary store; when the service \
                 ran in that region, it is down too. What was written after the newest backup the \
                 replica holds is lost (the replica's lag is the RPO).",
        recovery: &[
            RunbookStep {
                what: "Choose the replica (a name in `backup.storage.replicas`) whose newest \
                       backup of this host is the newest.",
                commands: &["mahavishnu-dr --repository REPLICA backup list"],
            },
            RunbookStep {
                what: "Check the replica's backups before trusting them.",
                commands: &["mahavishnu-dr --repository REPLICA backup validate --level quick"],
            },
            RunbookStep {
                what: "Restore from the replica into an empty folder in the surviving region, then \
                       start the service on it.",
                commands: &[
                    "mahavishnu-dr --repository REPLICA restore --backup-id latest --host HOST \
                     --target /srv/app",
                ],
            },
            RunbookStep {
                what: "Keep backing up while the primary is down: back up to the replica \
                       (`--repository REPLICA`, or `MAHAVISHNU_REPOSITORY=REPLICA` in the \
                       scheduler's environment).",
                commands: &["mahavishnu-dr --repository REPLICA backup run"],
            },
        ],
        success: &[
            "The restore finished without an error: every file matched its SHA-256.",
            "Every SQLite database answers `PRAGMA integrity_check` with ok.",
            "The service answers from the surviving region within the RTO target.",
            "`mahavishnu-dr --repository REPLICA backup run` succeeds: the service is protected \
             during the outage.",
        ],
        rollback: &[
            RunbookStep {
                what: "The restore wrote only into its target folder: remove it and restore an \
                       older backup, or from another replica.",
                commands: &[
                    "mahavishnu-dr --repository REPLICA restore --backup-id ID --host HOST \
                     --target /srv/app",
                ],
            },
            RunbookStep {
                what: "Fail back once the primary's region answers: stop writing to the replica \
                       (drop `--repository REPLICA` and `MAHAVISHNU_REPOSITORY`), make a full \
                       backup on the primary, then catch the replicas up.",
                commands: &[
                    "mahavishnu-dr backup run --backup-type full",
                    "mahavishnu-dr replicate",
                ],
            },
        ],
    },
};

pub(super) async fn run(ctx: &Ctx<'_>, log: &mut StepLog) {
    let Some(primary_newest) = log
        .step(StepPhase::Prepare, DEF.steps[0].name, async {
            let (summary, _) = newest_backup(ctx.dr).await.map_err(|e| {
                Failed::from(e).finding("there is no backup of this host on the primary store")
            })?;
            let detail = format!(
                "{} on {}, finished {}",
                summary.backup_id,
                ctx.dr.store().name,
                summary.finished
            );
            Ok((summary, detail))
        })
        .await
    else {
        return;
    };
    let faulty = FaultStorage::new(ctx.dr.storage().clone());
    let Some(down) = log
        .step(StepPhase::Inject, DEF.steps[1].name, async {
            faulty.inject(Fault::Unavailable);
            let down = Dr::with_storage(ctx.dr.settings().clone(), Arc::new(faulty.clone()));
            let detail = format!("every call to {} now fails", ctx.dr.store().name);
            Ok((down, detail))
        })
        .await
    else {
        return;
    };
    let incident = log.incident_at().unwrap_or_else(Utc::now);
    if log
        .step(StepPhase::Detect, DEF.steps[2].name, async {
            match down.open_repo().await {
                Err(e) => Ok(((), format!("the primary does not answer: {}", e.message))),
                Ok(_) => Err(
                    Failed::new("the repository opened through the failed store")
                        .finding("the outage was not detected"),
                ),
            }
        })
        .await
        .is_none()
    {
        return;
    }
    let restored = ctx.sandbox.path("restored");
    let Some((replica, newest)) = log
        .step(
            StepPhase::Recover,
            DEF.steps[3].name,
            fail_over(ctx, &primary_newest, &restored),
        )
        .await
    else {
        return;
    };
    log.store = replica.store().name.clone();
    log.backup_id = Some(newest.backup_id.clone());
    log.rpo_seconds = Some(seconds_between(newest.finished, incident).max(0.0));
    if newest.backup_id < primary_newest.backup_id {
        log.finding(format!(
            "replica {} lags the primary: its newest backup is {}, the primary's {}",
            replica.store().name,
            newest.backup_id,
            primary_newest.backup_id
        ));
        log.recommend(
            "replicate after every backup (automatic), or catch up with `mahavishnu-dr replicate`",
        );
    }
    log.step(
        StepPhase::Verify,
        DEF.steps[4].name,
        verify(&replica, &newest, &restored),
    )
    .await;
}

/// The first replica that holds this host's backups, restored into `target`: its operations and
/// the backup restored.
async fn fail_over(
    ctx: &Ctx<'_>,
    primary_newest: &ManifestSummary,
    target: &Path,
) -> Step<(Dr, ManifestSummary)> {
    let replicas = ctx.dr.other_stores();
    if replicas.is_empty() {
        return Err(Failed::new("no replica is configured")
            .finding("a region loss is unrecoverable: the backups live only on the primary store")
            .recommend(
                "add a replica in another region under backup.storage.replicas (an S3 bucket \
                 or Azure container; see docs/SETTINGS.md, Replicas), then `mahavishnu-dr \
                 replicate`",
            ));
    }
    let mut tried = Vec::new();
    for store in replicas {
        let name = store.name.clone();
        let replica = match Dr::on_store(ctx.dr.settings().clone(), Some(&name)) {
            Ok(d) => d,
            Err(e) => {
                tried.push(format!("{name}: {}", e.message));
                continue;
            }
        };
        let newest = match newest_backup(&replica).await {
            Ok((s, _)) => s,
            Err(e) => {
                tried.push(format!("{name}: {}", e.message));
                continue;
            }
        };
        match restore_verified(ctx, &replica, &newest.backup_id, target, &[], false).await {
            Ok(r) => {
                let lag = if newest.backup_id >= primary_newest.backup_id {
                    "holds the primary's newest backup".to_string()
                } else {
                    format!(
                        "lags: its newest backup finished {} before the primary's",
                        crate::present::age(
                            seconds_between(newest.finished, primary_newest.finished).round()
                                as i64
                        )
                    )
                };
                let detail = format!(
                    "failed over to {name} ({lag}); {} files of {} restored",
                    r.files, newest.backup_id
                );
                return Ok(((replica, newest), detail));
            }
            Err(e) if e.kind == crate::error::ErrorKind::Cancelled => return Err(e.into()),
            Err(e) => tried.push(format!("{name}: {}", e.message)),
        }
    }
    Err(Failed::new(format!(
        "no replica could be restored: {}",
        tried.join("; ")
    ))
    .finding("a region loss is unrecoverable today: no replica brought the data back")
    .recommend("check the replicas with `mahavishnu-dr backup status` and `replicate`"))
}

async fn verify(replica: &Dr, newest: &ManifestSummary, root: &Path) -> Step<()> {
    let repo = replica.open_repo().await?;
    let manifest = repo.read_manifest(&newest.backup_id).await?;
    let (checked, bad) = damaged_databases(root, &manifest).await?;
    if !bad.is_empty() {
        return Err(
            Failed::new(bad.join("; ")).finding("a database restored from the replica is damaged")
        );
    }
    Ok((
        (),
        format!(
            "every file's SHA-256 matched; {} SQLite database(s) answer integrity_check ok",
            checked
        ),
    ))
}
