//! `data_deletion`: files are deleted (by mistake or by an attacker). The drill restores the
//! newest backup into the sandbox as a stand-in for the live data, deletes a seeded random
//! share of its files, detects the deletion against the manifest, restores only the deleted
//! paths from the newest backup taken before the incident, and checks them byte for byte. Then
//! it asks whether the store would refuse this host a deletion of backups.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use super::runner::{Ctx, Failed, Step, StepLog};
use super::sandbox::{newest_backup, restore_verified, seconds_between, sha256_file};
use super::scenario::{RunbookDef, RunbookStep, ScenarioDef, StepDef, StepPhase};
use crate::error::Error;
use crate::repo::manifest::{EntryKind, ManifestSummary};

/// The share of files the drill deletes.
const DELETE_SHARE: f64 = 0.10;
/// At most this many files are deleted (a large data set stays quick to drill).
const DELETE_MAX: usize = 500;
/// A deletion is alarming at this share of the files (or any file, below 100 files).
const ALERT_SHARE: f64 = 0.01;

pub(super) const DEF: ScenarioDef = ScenarioDef {
    title: "Data deletion",
    description: "Files of the service are deleted, by mistake or by an attacker. Find what is \
                  gone, restore only that from the newest backup taken before the incident, \
                  and check whether the backups themselves could be deleted.",
    rpo_means: "the age at the incident of the backup the files came back from",
    steps: &[
        StepDef {
            phase: StepPhase::Prepare,
            name: "restore the newest backup into the sandbox",
            what: "restore this host's newest backup into the sandbox, as a stand-in for the \
                   live data",
        },
        StepDef {
            phase: StepPhase::Inject,
            name: "delete files",
            what: "delete a seeded random tenth of the files (at most 500); the incident time \
                   is when they are gone",
        },
        StepDef {
            phase: StepPhase::Detect,
            name: "detect the deletion",
            what: "compare the files with the newest backup's manifest (`mahavishnu-dr diff`): \
                   the missing files, their count and share against a 1% threshold",
        },
        StepDef {
            phase: StepPhase::Recover,
            name: "restore the deleted paths",
            what: "restore only the missing paths (`mahavishnu-dr restore --path P ... \
                   --overwrite`) from the newest backup finished before the incident",
        },
        StepDef {
            phase: StepPhase::Verify,
            name: "verify the restored files",
            what: "each restored file equals the deleted one byte for byte (SHA-256)",
        },
        StepDef {
            phase: StepPhase::Verify,
            name: "try to delete a backup",
            what: "on an immutable S3 store, delete a locked object version with this host's \
                   credentials: the store must refuse; on any other store, report that this \
                   host could delete its backups",
        },
    ],
    runbook: RunbookDef {
        detection: &[
            RunbookStep {
                what: "Files the service needs are missing (its errors, users' reports), or the \
                       live file count drops.",
                commands: &[],
            },
            RunbookStep {
                what: "Scope the damage against the newest backup: what was removed and changed \
                       since it.",
                commands: &["mahavishnu-dr diff", "mahavishnu-dr diff --exit-code"],
            },
        ],
        impact: "The deleted files are unavailable until restored. Changes made to them after the \
                 backup they come back from are lost (the RPO). An attacker who deleted files may \
                 delete the backups too, when this host's credentials allow it.",
        recovery: &[
            RunbookStep {
                what: "Stop whatever deletes: the process, the account, the attacker's access. Run \
                       no `backup cleanup` until the recovery is done.",
                commands: &[],
            },
            RunbookStep {
                what: "Find the newest backup finished before the incident (`backup list` shows \
                       the times) and list what was removed or changed since it.",
                commands: &[
                    "mahavishnu-dr backup list",
                    "mahavishnu-dr diff --backup-id ID",
                ],
            },
            RunbookStep {
                what: "Restore only those paths from it into the project folder (repeat `--path` \
                       for each).",
                commands: &[
                    "mahavishnu-dr restore --backup-id ID --path P --target PROJECT --overwrite",
                ],
            },
            RunbookStep {
                what: "Check that nothing is missing any more, then back up at once.",
                commands: &[
                    "mahavishnu-dr diff --backup-id ID --path P",
                    "mahavishnu-dr backup run",
                ],
            },
            RunbookStep {
                what: "After an attack: check the stored backups are intact, and renew the object \
                       locks of an immutable store.",
                commands: &[
                    "mahavishnu-dr backup validate --level checksum",
                    "mahavishnu-dr retention extend",
                ],
            },
            RunbookStep {
                what: "When the backups were damaged too: on an immutable S3 store, `backup \
                       status` counts the backup objects overwritten or deleted after they were \
                       written and gives `read_as_of`, a second before the first change. Read the \
                       store as it was then (read-only), check it, restore from it, and copy it \
                       to a clean store.",
                commands: &[
                    "mahavishnu-dr backup status",
                    "mahavishnu-dr --store-as-of TIME backup validate --level full",
                    "mahavishnu-dr --store-as-of TIME restore --backup-id ID --path P --target \
                     PROJECT --overwrite",
                    "mahavishnu-dr --store-as-of TIME replicate --to REPLICA",
                ],
            },
        ],
        success: &[
            "`diff --backup-id ID` lists none of the restored paths as removed.",
            "The restore finished without an error: every file matched its SHA-256.",
            "The service works with the restored files within the RTO target.",
            "`backup validate` passes and `mahavishnu-dr check` passes after the new backup.",
        ],
        rollback: &[RunbookStep {
            what: "The restore replaced only the named paths and left every other file alone. \
                       To undo it, restore the same paths from another backup, or from the backup \
                       made just before the restore.",
            commands: &[
                "mahavishnu-dr restore --backup-id OTHER-ID --path P --target PROJECT \
                     --overwrite",
            ],
        }],
    },
};

pub(super) async fn run(ctx: &Ctx<'_>, log: &mut StepLog) {
    let live = ctx.sandbox.path("live");
    let Some(files) = log
        .step(StepPhase::Prepare, DEF.steps[0].name, prepare(ctx, &live))
        .await
    else {
        return;
    };
    let seed: u64 = rand::random();
    let Some(deleted) = log
        .step(StepPhase::Inject, DEF.steps[1].name, async {
            delete(&live, &files, seed)
        })
        .await
    else {
        return;
    };
    let incident = log.incident_at().unwrap_or_else(Utc::now);
    let Some(missing) = log
        .step(StepPhase::Detect, DEF.steps[2].name, async {
            detect(&live, &files, &deleted)
        })
        .await
    else {
        return;
    };
    let Some((used, finished)) = log
        .step(
            StepPhase::Recover,
            DEF.steps[3].name,
            recover(ctx, &live, &missing, incident),
        )
        .await
    else {
        return;
    };
    log.backup_id = Some(used);
    log.rpo_seconds = Some(seconds_between(finished, incident).max(0.0));
    if log
        .step(StepPhase::Verify, DEF.steps[4].name, async {
            verify(&live, &deleted)
        })
        .await
        .is_none()
    {
        return;
    }
    if let Some(Some((finding, recommendation))) = log
        .step(StepPhase::Verify, DEF.steps[5].name, deletion_refused(ctx))
        .await
    {
        log.finding(finding);
        log.recommend(recommendation);
    }
}

/// Restore the newest backup into `live`: the stored paths of its files.
async fn prepare(ctx: &Ctx<'_>, live: &Path) -> Step<Vec<String>> {
    let (summary, manifest) = newest_backup(ctx.dr).await.map_err(|e| {
        Failed::from(e)
            .finding("there is no backup of this host to recover deleted files from")
            .recommend("run `mahavishnu-dr backup run` and drill again")
    })?;
    let files: Vec<String> = manifest
        .entries
        .iter()
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| e.path.clone())
        .collect();
    if files.is_empty() {
        return Err(
            Failed::new(format!("backup {} holds no file", summary.backup_id))
                .finding("the newest backup holds no file to drill a deletion on"),
        );
    }
    restore_verified(ctx, ctx.dr, &summary.backup_id, live, &[], false).await?;
    let detail = format!(
        "{} files of {} restored into the sandbox",
        files.len(),
        summary.backup_id
    );
    Ok((files, detail))
}

/// Delete a seeded share of the files: their SHA-256 before, by stored path.
fn delete(live: &Path, files: &[String], seed: u64) -> Step<BTreeMap<String, String>> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let n = ((files.len() as f64 * DELETE_SHARE).ceil() as usize).clamp(1, DELETE_MAX);
    let mut victims: Vec<&String> = files.iter().collect();
    victims.shuffle(&mut rng);
    victims.truncate(n);
    let mut deleted = BTreeMap::new();
    for p in victims {
        let file = live.join(p);
        let sha = sha256_file(&file)?;
        std::fs::remove_file(&file)
            .map_err(|e| Error::io(format!("cannot delete {}: {e}", file.display())))?;
        deleted.insert(p.clone(), sha);
    }
    let detail = format!(
        "seed {seed}: {} of {} files deleted",
        deleted.len(),
        files.len()
    );
    Ok((deleted, detail))
}

/// The files of the manifest that are gone; the step fails when the list is not exactly what
/// was deleted, or stays under the alert threshold.
fn detect(live: &Path, files: &[String], deleted: &BTreeMap<String, String>) -> Step<Vec<String>> {
    let missing: Vec<String> = files
        .iter()
        .filter(|p| std::fs::symlink_metadata(live.join(p)).is_err())
        .cloned()
        .collect();
    let share = missing.len() as f64 / files.len() as f64;
    let alarming = share >= ALERT_SHARE || (files.len() < 100 && !missing.is_empty());
    let detail = format!(
        "{} of {} files missing ({:.1}%; alert at {:.0}%)",
        missing.len(),
        files.len(),
        share * 100.0,
        ALERT_SHARE * 100.0
    );
    let expected: Vec<&String> = deleted.keys().collect();
    let found: Vec<&String> = missing.iter().collect();
    if found != expected {
        return Err(Failed::new(format!(
            "{detail}; {} deleted, {} found missing",
            expected.len(),
            found.len()
        ))
        .finding("the comparison with the manifest did not find exactly the deleted files"));
    }
    if !alarming {
        return Err(Failed::new(detail).finding("the deletion stayed under the alert threshold"));
    }
    Ok((missing, detail))
}

/// Restore the missing paths from the newest backup of this host finished before the incident:
/// (its id, when it finished).
async fn recover(
    ctx: &Ctx<'_>,
    live: &Path,
    missing: &[String],
    incident: DateTime<Utc>,
) -> Step<(String, DateTime<Utc>)> {
    let repo = ctx.dr.open_repo().await?;
    let catalog = crate::repo::catalog::Catalog::load(&repo).await?;
    let before = backup_before(&catalog.backups, &ctx.dr.host(), incident)?;
    let id = before.backup_id.clone();
    restore_verified(ctx, ctx.dr, &id, live, missing, true).await?;
    let detail = format!("{} paths restored from {id}", missing.len());
    Ok(((id, before.finished), detail))
}

/// The newest backup of `host` finished before the incident (backups oldest first): a backup
/// taken after it may already lack what was deleted.
fn backup_before<'a>(
    backups: &'a [ManifestSummary],
    host: &str,
    incident: DateTime<Utc>,
) -> std::result::Result<&'a ManifestSummary, Failed> {
    backups
        .iter()
        .rev()
        .find(|b| b.host == host && b.finished < incident)
        .ok_or_else(|| {
            Failed::new(format!(
                "no backup of host {host} finished before the incident at {incident}"
            ))
            .finding("every backup is newer than the incident: the deleted data is in none of them")
            .recommend("keep backups long enough to reach back before an incident is noticed")
        })
}

fn verify(live: &Path, deleted: &BTreeMap<String, String>) -> Step<()> {
    let mut bad = Vec::new();
    for (p, sha) in deleted {
        match sha256_file(&live.join(p)) {
            Ok(s) if &s == sha => {}
            Ok(_) => bad.push(format!("{p}: differs from the deleted file")),
            Err(e) => bad.push(format!("{p}: {}", e.message)),
        }
    }
    if bad.is_empty() {
        Ok((
            (),
            format!(
                "{} files equal the deleted ones byte for byte",
                deleted.len()
            ),
        ))
    } else {
        Err(Failed::new(bad.join("; ")).finding("restored files differ from the deleted ones"))
    }
}

/// Would the store refuse this host a deletion? An immutable S3 store is asked for real (a
/// probe object under `tmp/`, locked, its version deleted: the server must refuse); nothing
/// else is attempted, since the delete would succeed. A finding and a recommendation when the
/// backups are deletable.
async fn deletion_refused(ctx: &Ctx<'_>) -> Step<Option<(String, String)>> {
    let store = ctx.dr.store();
    if let Some(lock) = ctx.dr.object_lock_of(store)? {
        let enforced = lock.verify_enforced().await?;
        return if enforced {
            Ok((
                None,
                format!(
                    "{} refused to delete a locked object version with this host's credentials",
                    store.name
                ),
            ))
        } else {
            Err(Failed::new(format!(
                "{} accepted the deletion of a locked object version",
                store.name
            ))
            .finding(format!(
                "{} is marked immutable but the server does not enforce object lock: this \
                 host could delete its backups",
                store.name
            ))
            .recommend("use a bucket with object lock on a server that enforces it"))
        };
    }
    let (detail, finding) = if store.target.immutable() {
        (
            format!(
                "not attempted: {} is marked immutable, but a {} store does not refuse deletes \
                 (only this tool's cleanup does)",
                store.name,
                store.target.type_name()
            ),
            format!(
                "{} is immutable by this tool only: this host's credentials could still delete \
                 its backups",
                store.name
            ),
        )
    } else {
        (
            format!(
                "not attempted: {} is not immutable, so the delete would succeed",
                store.name
            ),
            format!(
                "{} accepts deletes from this host's credentials: an attacker on this host \
                 could delete every backup",
                store.name
            ),
        )
    };
    Ok((
        Some((
            finding,
            "keep a replica on an S3 bucket with object lock and `immutable: true` (see \
             docs/SETTINGS.md, Replicas)"
                .to_string(),
        )),
        detail,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(id: &str, host: &str, finished: DateTime<Utc>) -> ManifestSummary {
        serde_json::from_value(serde_json::json!({
            "format_version": 3, "backup_id": id, "backup_type": "full",
            "requested_type": "full", "parent": null, "chain_root": id, "chain_length": 1,
            "started": finished, "finished": finished, "host": host, "tool_version": "0",
            "compression_level": 3, "encrypted": true, "sources": [], "volumes": [],
            "totals": {"files": 1, "dirs": 0, "symlinks": 0, "bytes": 1, "files_stored": 1,
                       "bytes_stored_content": 1, "files_unchanged": 0, "files_deleted": 0,
                       "stored_bytes": 1},
            "depends_on": []
        }))
        .expect("a manifest summary")
    }

    #[test]
    fn the_backup_used_is_the_newest_of_this_host_before_the_incident() {
        let t = Utc::now();
        let h = chrono::Duration::hours;
        let backups = [
            summary("a", "web", t - h(30)),
            summary("b", "db", t - h(20)),
            summary("c", "web", t - h(10)),
            summary("d", "web", t + h(1)),
        ];
        // A backup after the incident may already lack the deleted files: the one before it.
        assert_eq!(
            backup_before(&backups, "web", t).ok().unwrap().backup_id,
            "c"
        );
        assert_eq!(
            backup_before(&backups, "web", t - h(15))
                .ok()
                .unwrap()
                .backup_id,
            "a"
        );
        assert_eq!(
            backup_before(&backups, "db", t).ok().unwrap().backup_id,
            "b"
        );
        // Every backup newer than the incident: the drill fails, and says why.
        let f = backup_before(&backups, "web", t - h(40)).err().unwrap();
        assert!(
            f.finding
                .unwrap()
                .contains("every backup is newer than the incident")
        );
        assert!(f.recommendation.is_some());
    }
}
