//! `single_server_failure`: the host and its disk are gone, the settings file with them. The
//! drill recovers the way an operator would on a new host: a fresh `mahavishnu-dr` process in
//! an empty folder, with no settings file, only the repository's location and the key
//! (`--repository LOCATION --key-file PATH`), rebuilds a standby folder from the newest backup
//! (read from a replica when one is configured), then every file and SQLite database is
//! verified, the backed-up settings file looked for, and the standby compared with the live
//! sources.

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;

use super::runner::{Ctx, Failed, Step, StepLog};
use super::sandbox::{damaged_databases, newest_backup, seconds_between};
use super::scenario::{RunbookDef, RunbookStep, ScenarioDef, StepDef, StepPhase};
use crate::error::Error;
use crate::ops::Dr;
use crate::repo::manifest::{Manifest, ManifestSummary};
use crate::settings::{NamedStore, StorageTarget};

pub(super) const DEF: ScenarioDef = ScenarioDef {
    title: "Single server failure",
    description: "The server and its disk are lost, the settings file with them. On a new \
                  host, with only the repository's location and the key, rebuild a verified \
                  standby from the newest backup.",
    rpo_means: "the age at the incident of the backup the standby was rebuilt from",
    steps: &[
        StepDef {
            phase: StepPhase::Prepare,
            name: "choose the store to recover from",
            what: "a replica when one is configured (the local disk is gone with the server), \
                   else the primary; note its newest backup of this host",
        },
        StepDef {
            phase: StepPhase::Inject,
            name: "lose the server",
            what: "a new host: an empty folder with no settings file, a process that knows \
                   only the repository's location and the key file",
        },
        StepDef {
            phase: StepPhase::Detect,
            name: "reach the backups from the new host",
            what: "`mahavishnu-dr --repository LOCATION --key-file KEY backup list` on the new \
                   host",
        },
        StepDef {
            phase: StepPhase::Recover,
            name: "rebuild the standby",
            what: "`mahavishnu-dr --repository LOCATION --key-file KEY restore --host HOST \
                   --target STANDBY` on the new host",
        },
        StepDef {
            phase: StepPhase::Verify,
            name: "verify the standby",
            what: "every file's SHA-256 was checked by the restore; every SQLite database \
                   answers `PRAGMA integrity_check` with ok; the backed-up settings file is in \
                   the standby",
        },
    ],
    runbook: RunbookDef {
        detection: &[
            RunbookStep {
                what: "The service and its host stop answering (monitoring, users), and the host \
                       or its disk cannot be brought back within the RTO target.",
                commands: &[],
            },
            RunbookStep {
                what: "From another host that holds the key, confirm the backups are reachable \
                       with only the repository's location and the key, and find the lost host's \
                       newest backup (its host name is in the list).",
                commands: &["mahavishnu-dr --repository LOCATION --key-file KEY backup list"],
            },
        ],
        impact: "The service is down until a new host runs it. What was written after the newest \
                 backup that reached the store is lost (the RPO). The settings file and the key \
                 file on the host are gone with it: the new host needs the key file's off-host \
                 copy and the repository's location.",
        recovery: &[
            RunbookStep {
                what: "Provision a new host and install the same release of mahavishnu-dr as the \
                       lost host ran.",
                commands: &["mahavishnu-dr --version"],
            },
            RunbookStep {
                what: "Put the off-host copy of the key file on the new host, readable by the \
                       service's user only.",
                commands: &["install -m 600 KEY-COPY KEY"],
            },
            RunbookStep {
                what: "Reach the backups with only the repository's location and the key (a \
                       replica's location when the primary's disk was on the lost host); note the \
                       lost host's name.",
                commands: &["mahavishnu-dr --repository LOCATION --key-file KEY backup list"],
            },
            RunbookStep {
                what: "Restore the lost host's newest backup into an empty folder; every file is \
                       checked against its SHA-256 as it is written.",
                commands: &[
                    "mahavishnu-dr --repository LOCATION --key-file KEY restore --backup-id latest \
                     --host HOST --target /srv/app",
                ],
            },
            RunbookStep {
                what: "Put the settings file back: the backup holds it (`settings/mahavishnu.yaml` \
                       under the target). Set `backup.host: HOST` in `settings/local.yaml` to go \
                       on with the lost host's chains, and check the settings load.",
                commands: &[
                    "mahavishnu-dr --config /srv/app/settings/mahavishnu.yaml backup status",
                ],
            },
            RunbookStep {
                what: "Start the service on the new host, then back it up at once so it is \
                       protected again.",
                commands: &[
                    "mahavishnu-dr --config /srv/app/settings/mahavishnu.yaml backup run \
                     --backup-type full",
                ],
            },
        ],
        success: &[
            "The restore finished without an error: every file matched its SHA-256.",
            "Every SQLite database answers `PRAGMA integrity_check` with ok (`sqlite3 DB 'PRAGMA \
             integrity_check'`).",
            "The service answers on the new host within the RTO target.",
            "`mahavishnu-dr --config /srv/app/settings/mahavishnu.yaml check` passes, and `backup \
             list` shows the new host's full backup.",
        ],
        rollback: &[
            RunbookStep {
                what: "The restore wrote only into the new host's target folder: to start again, \
                       remove it and restore an older backup (an id from `backup list`).",
                commands: &[
                    "rm -rf /srv/app",
                    "mahavishnu-dr --repository LOCATION --key-file KEY restore --backup-id ID \
                     --host HOST --target /srv/app",
                ],
            },
            RunbookStep {
                what: "If the lost host comes back, keep it off the network until the new host is \
                       confirmed, so that two hosts do not back up as the same host; then retire \
                       it.",
                commands: &[],
            },
        ],
    },
};

/// What the new host is told: the location, and the environment its store needs.
struct Location {
    text: String,
    env: Vec<(String, String)>,
}

pub(super) async fn run(ctx: &Ctx<'_>, log: &mut StepLog) {
    let Some((store, summary, manifest)) = log
        .step(StepPhase::Prepare, DEF.steps[0].name, choose(ctx))
        .await
    else {
        return;
    };
    log.store = store.name.clone();
    log.backup_id = Some(summary.backup_id.clone());
    if store.primary && matches!(store.target, StorageTarget::Local { .. }) {
        log.finding(format!(
            "no replica: the drill recovers from the primary {}, a folder that a real server \
             loss takes with it when it lies on the server's disk",
            store.target.display_name()
        ));
        log.recommend("add a replica off this host under backup.storage.replicas");
    }
    let new_host = ctx.sandbox.path("new-host");
    let Some(location) = log
        .step(StepPhase::Inject, DEF.steps[1].name, async {
            crate::ops::private_dir::create_private_dir(&new_host)?;
            let loc = location_of(&store);
            Ok((
                loc,
                format!(
                    "new host {}: no settings file; it knows {} and the key file",
                    new_host.display(),
                    store.target.display_name()
                ),
            ))
        })
        .await
    else {
        return;
    };
    let incident = log.incident_at().unwrap_or_else(chrono::Utc::now);
    log.rpo_seconds = Some(seconds_between(summary.finished, incident).max(0.0));
    let key = ctx
        .dr
        .settings()
        .settings
        .backup
        .encryption
        .key_path
        .clone();
    let child = Child {
        cwd: &new_host,
        location: &location,
        key: &key,
    };
    if log
        .step(StepPhase::Detect, DEF.steps[2].name, async {
            let v = child.run(&["backup", "list"]).await?;
            let n = v["backups"].as_array().map_or(0, Vec::len);
            Ok((
                (),
                format!("the new host lists {n} backup(s) on {}", store.name),
            ))
        })
        .await
        .is_none()
    {
        return;
    }
    let standby = new_host.join("standby");
    let host = ctx.dr.host();
    if log
        .step(StepPhase::Recover, DEF.steps[3].name, async {
            let target = standby.to_string_lossy().into_owned();
            let v = child
                .run(&["restore", "--host", &host, "--target", &target])
                .await?;
            let id = v["backup_id"].as_str().unwrap_or_default().to_string();
            if id != summary.backup_id {
                return Err(Failed::new(format!(
                    "the new host restored {id}, not the newest backup {}",
                    summary.backup_id
                ))
                .finding("the new host did not pick the newest backup"));
            }
            if v["verified"].as_bool() != Some(true) {
                return Err(
                    Failed::new("the restore did not check every file's SHA-256")
                        .recommend("keep backup.validation.verify_on_restore on"),
                );
            }
            Ok((
                (),
                format!(
                    "standby rebuilt from {id}: {} files",
                    v["files"].as_u64().unwrap_or_default()
                ),
            ))
        })
        .await
        .is_none()
    {
        return;
    }
    let settings_stored = stored_settings_path(ctx.dr, &manifest);
    // Data at risk: what the live sources changed since the backup (read only).
    let drift = ctx.dr.drift(&manifest, ctx.cancel);
    if let Ok(d) = &drift {
        log.data_at_risk = Some(d.clone());
    }
    match drift {
        Ok(d) if d.added + d.changed + d.removed > 0 => log.finding(format!(
            "data at risk: the live sources changed since {}: {} added, {} changed, {} \
             removed ({}) would be lost in a real server loss",
            summary.backup_id,
            d.added,
            d.changed,
            d.removed,
            crate::present::bytes(d.bytes_at_risk)
        )),
        Ok(_) => {}
        Err(e) => log.finding(format!("data at risk not measured: {}", e.message)),
    }
    if let Some(Some((finding, rec))) = log
        .step(StepPhase::Verify, DEF.steps[4].name, async {
            verify(&standby, &manifest, settings_stored.as_deref()).await
        })
        .await
    {
        log.finding(finding);
        log.recommend(rec);
    }
}

/// A replica that holds this host's backups, else the primary: the store, its newest backup.
async fn choose(ctx: &Ctx<'_>) -> Step<(NamedStore, ManifestSummary, Manifest)> {
    let mut tried = Vec::new();
    for store in ctx.dr.other_stores().into_iter().filter(|s| !s.primary) {
        let d = match Dr::on_store(ctx.dr.settings().clone(), Some(&store.name)) {
            Ok(d) => d,
            Err(e) => {
                tried.push(format!("{}: {}", store.name, e.message));
                continue;
            }
        };
        match newest_backup(&d).await {
            Ok((s, m)) => {
                let detail = format!("replica {}: newest backup {}", store.name, s.backup_id);
                return Ok(((store, s, m), detail));
            }
            Err(e) => tried.push(format!("{}: {}", store.name, e.message)),
        }
    }
    let store = ctx.dr.store().clone();
    let (s, m) = newest_backup(ctx.dr).await.map_err(|e| {
        Failed::from(e).finding("there is no backup of this host to rebuild a server from")
    })?;
    let mut detail = format!("{}: newest backup {}", store.name, s.backup_id);
    if !tried.is_empty() {
        detail.push_str(&format!(" (replicas not usable: {})", tried.join("; ")));
    }
    Ok(((store, s, m), detail))
}

/// The location a new host is given for `store`, and the environment its credentials need
/// (what an operator would export). Secrets travel only in the child's environment.
fn location_of(store: &NamedStore) -> Location {
    let (text, env) = crate::settings::location_for(&store.target);
    Location { text, env }
}

/// A `mahavishnu-dr` process on the new host.
struct Child<'a> {
    cwd: &'a Path,
    location: &'a Location,
    key: &'a Path,
}

impl Child<'_> {
    /// Run one command with `--json`: its output, or why it failed (its error, never its
    /// environment).
    async fn run(&self, args: &[&str]) -> std::result::Result<Value, Failed> {
        let exe = std::env::current_exe()
            .map_err(|e| Error::io(format!("cannot find this program to start it again: {e}")))?;
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.current_dir(self.cwd)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.cwd)
            .envs(self.location.env.iter().map(|(k, v)| (k, v)))
            .arg("--json")
            .arg("--quiet")
            .arg("--repository")
            .arg(&self.location.text)
            .arg("--key-file")
            .arg(self.key)
            .args(args)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let out = cmd
            .output()
            .await
            .map_err(|e| Error::io(format!("cannot start {}: {e}", exe.display())))?;
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        if !out.status.success() {
            let why = v["error"]["message"]
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| String::from_utf8_lossy(&out.stderr).trim().to_string());
            return Err(Failed::new(format!(
                "`mahavishnu-dr {}` on the new host failed: {why}",
                args.join(" ")
            ))
            .finding("a new host with only the location and the key could not recover")
            .recommend(
                "keep a copy of the key file off this host, and check the commands of the \
                 single_server_failure runbook",
            ));
        }
        Ok(v)
    }
}

/// The stored path of the settings file in use, when the backup holds it.
fn stored_settings_path(dr: &Dr, manifest: &Manifest) -> Option<String> {
    let config = &dr.settings().config_file;
    let scan = dr.live_scan(&crate::ops::Cancel::new()).ok()?;
    let stored = scan
        .items
        .iter()
        .find(|i| i.read_from.as_deref() == Some(config.as_path()))
        .map(|i| i.entry.path.clone())?;
    manifest
        .entries
        .iter()
        .any(|e| e.path == stored)
        .then_some(stored)
}

/// Databases sound, the settings file there: a finding and a recommendation when the settings
/// were not backed up (the standby needs them rewritten by hand).
async fn verify(
    standby: &Path,
    manifest: &Manifest,
    settings: Option<&str>,
) -> Step<Option<(String, String)>> {
    let (n, bad) = damaged_databases(standby, manifest).await?;
    if !bad.is_empty() {
        return Err(Failed::new(bad.join("; ")).finding("a database of the standby is damaged"));
    }
    let (note, finding) = match settings {
        Some(p) if standby.join(p).is_file() => (format!("the settings file is back ({p})"), None),
        Some(p) => (
            format!("the settings file {p} is missing from the standby"),
            Some((
                "the standby lacks the settings file the backup holds".to_string(),
                "check the restore of the settings folder".to_string(),
            )),
        ),
        None => (
            "the backups do not hold the settings file".to_string(),
            Some((
                "the settings file is not backed up: a new host must rewrite it by hand"
                    .to_string(),
                "add the settings folder to backup.sources (the default sources include it)"
                    .to_string(),
            )),
        ),
    };
    Ok((
        finding,
        format!("every file's SHA-256 matched; {n} SQLite database(s) ok; {note}"),
    ))
}
