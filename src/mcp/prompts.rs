//! MCP prompts: guided incident response and a DR readiness review, written around this server's
//! tools.

use rmcp::model::{GetPromptResult, JsonObject, Prompt, PromptArgument, PromptMessage, Role};

use crate::error::{Error, Result};

pub fn list() -> Vec<Prompt> {
    vec![
        Prompt::new(
            "incident_response",
            Some(
                "Walk through triage and recovery of an incident that touches the protected \
                 service's state, using the mahavishnu-dr tools.",
            ),
            Some(vec![
                PromptArgument::new("scenario")
                    .with_description(
                        "What happened: server_loss, region_loss, database_corruption, \
                         network_partition, malicious_deletion, or free text.",
                    )
                    .with_required(true),
                PromptArgument::new("symptoms")
                    .with_description("What is observed: errors, missing files, times.")
                    .with_required(false),
            ]),
        )
        .with_title("Incident response"),
        Prompt::new(
            "dr_readiness_review",
            Some(
                "Review whether the backups would bring the service back within its RTO and \
                 RPO targets, and list what to fix.",
            ),
            None::<Vec<PromptArgument>>,
        )
        .with_title("DR readiness review"),
    ]
}

fn arg(args: &Option<JsonObject>, name: &str) -> Option<String> {
    args.as_ref()?
        .get(name)?
        .as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn scenario_advice(scenario: &str) -> &'static str {
    match scenario {
        "server_loss" => {
            "The host is gone. On a replacement host, copy the key file back first (it is kept \
             off-host), point the settings at the repository, then restore the newest valid \
             backup."
        }
        "region_loss" => {
            "The primary storage region is unreachable. Work from a replica repository if one \
             is configured; the same key opens it."
        }
        "database_corruption" => {
            "A database is corrupt. Find the newest backup from before the corruption began \
             (compare backup times with the symptoms), restore it to a restore root, check the \
             database there, then swap it in."
        }
        "network_partition" => {
            "Storage may be unreachable for a while. Do not delete anything; validation errors \
             that say the store failed are transient until the network is back."
        }
        "malicious_deletion" => {
            "Data was deleted on purpose. Do NOT run backup_cleanup (it could remove the only \
             good copies); find the newest backup taken before the deletion, scope what was \
             deleted with backup_diff, and restore only those paths."
        }
        _ => "Establish what data is affected and since when before choosing a backup.",
    }
}

/// The drill scenario (and runbook) of an incident of this kind.
fn drill_id(scenario: &str) -> Option<&'static str> {
    Some(match scenario {
        "server_loss" => "single_server_failure",
        "region_loss" => "region_failure",
        "database_corruption" => "database_corruption",
        "network_partition" => "network_partition",
        "malicious_deletion" => "data_deletion",
        _ => return None,
    })
}

/// The drill_run arguments that rehearse an incident of this kind.
fn drill_for(scenario: &str) -> String {
    drill_id(scenario).map_or_else(
        || "the matching scenario (drill_list_scenarios lists them)".into(),
        |id| format!("scenario {id}"),
    )
}

/// Where the runbook of an incident of this kind is.
fn runbook_for(scenario: &str) -> String {
    drill_id(scenario).map_or_else(
        || "the runbook of the matching scenario (dr://runbooks/{scenario})".into(),
        |id| format!("the runbook dr://runbooks/{id}"),
    )
}

pub fn get(name: &str, args: &Option<JsonObject>) -> Result<Option<GetPromptResult>> {
    match name {
        "incident_response" => {
            let Some(scenario) = arg(args, "scenario") else {
                return Err(
                    Error::usage("incident_response needs the argument scenario")
                        .with_guidance("e.g. database_corruption, server_loss, malicious_deletion"),
                );
            };
            let symptoms = arg(args, "symptoms").unwrap_or_else(|| "not given".into());
            let text = format!(
                "An incident is under way. Scenario: {scenario}. Symptoms: {symptoms}.\n\n\
                 {advice}\n\n\
                 Read {runbook} first: its detection, recovery commands, success criteria and \
                 rollback, and the result of its last drill.\n\n\
                 Work through it with the mahavishnu-dr tools, telling the user what you find at \
                 each step:\n\
                 1. Scope the damage first: call backup_diff (the latest backup by default; \
                 paths narrows it to a file or folder). removed lists what was deleted since the \
                 backup, changed what was overwritten (the backup's and the live size and \
                 modification time: the live times show when the damage began), added what was \
                 created since (a restore neither brings it back nor removes it). Tell the user \
                 what is affected and how much (counts, bytes_to_restore).\n\
                 2. Triage: call backup_status and run_disaster_recovery_check. Note the newest \
                 backup, its age against the RPO target, and anything unfinished or unreadable.\n\
                 3. Pick the backup: call backup_list; choose the newest backup taken before the \
                 incident began. Say which one and why, and how much data (time) is lost. If it \
                 is not the one compared in step 1, call backup_diff again with its backup_id: \
                 its changed and removed paths are the ones to restore.\n\
                 4. Prove it: call backup_validate with that backup_id and level full. If it \
                 fails, go back to step 3 with an older backup.\n\
                 5. Recover only what is affected: call restore_run with that backup_id, paths \
                 set to the changed and removed paths from backup_diff (or their folders when \
                 the lists were truncated), and a new target_dir inside the restore roots (see \
                 dr://settings). Never restore over live data; a non-empty folder needs \
                 overwrite and confirm, which only the user may approve.\n\
                 6. Check the restored files (databases, configuration) before the user switches \
                 the service over to them.\n\
                 7. Afterwards: call backup_run with backup_type full so the recovered state is \
                 protected, and summarise the timeline, the data lost (RPO achieved) and the \
                 time taken (RTO achieved).\n\
                 8. Once the service is back, prove the recovery path: call drill_run with \
                 {drill} (dry_run first; a real drill needs dry_run=false and confirm=true, \
                 which the user approves).\n\
                 Do not call backup_cleanup during an incident.",
                advice = scenario_advice(&scenario),
                drill = drill_for(&scenario),
                runbook = runbook_for(&scenario)
            );
            Ok(Some(
                GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                    .with_description(format!("Incident response: {scenario}")),
            ))
        }
        "dr_readiness_review" => {
            let text = "Review this service's disaster-recovery readiness with the mahavishnu-dr \
                 tools and report to the user:\n\
                 1. Read dr://settings: sources, schedules, retention, RTO and RPO targets, \
                 encryption, restore roots.\n\
                 2. Call run_disaster_recovery_check and backup_status: are there backups, is the \
                 newest younger than the RPO target, are chains short and intact, anything \
                 unfinished or unreadable?\n\
                 3. Call backup_validate with level checksum (or full, if time allows) and report \
                 any problem with the backup, volume and file it names.\n\
                 4. Prove a restore: call restore_run for the latest backup into a new folder \
                 inside a restore root and report files, bytes, duration (the RTO you measured) \
                 and whether every file verified.\n\
                 5. Call backup_cleanup with dry_run true and check the retention plan keeps what \
                 the policy promises.\n\
                 6. Give a verdict (ready, at risk, not ready) and a short, ordered list of fixes \
                 (e.g. a schedule that cannot meet the RPO target, no off-host copy of the key, \
                 no recent full backup).";
            Ok(Some(
                GetPromptResult::new(vec![PromptMessage::new_text(Role::User, text)])
                    .with_description("DR readiness review"),
            ))
        }
        _ => Ok(None),
    }
}
