//! The tool catalog (names, descriptions, schemas, annotations) and the dispatch of a call to the
//! operation behind each tool. Nothing here decides DR behaviour: it parses, calls `ops`, renders.

use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::args::*;
use super::compat::{CreateBackupResult, ListBackupsResult, RestoreBackupResult};
use super::schema;
use crate::action::Face;
use crate::error::{Error, Result};
use crate::ops::backup::{BackupOptions, BackupResponse};
use crate::ops::check::DrCheckResponse;
use crate::ops::cleanup::{CleanupOptions, CleanupResponse};
use crate::ops::diff::{DiffOptions, DiffResponse};
use crate::ops::drill::{
    DrillListResponse, DrillReportOptions, DrillReportResponse, DrillRunOptions, DrillRunResponse,
};
use crate::ops::replicate::{ReplicateOptions, ReplicateResponse};
use crate::ops::report::ReportResponse;
use crate::ops::restore::{Placement, RestoreOptions, RestoreResponse};
use crate::ops::restore_test::{RestoreTestOptions, RestoreTestResponse};
use crate::ops::retention_extend::{ExtendOptions, ExtendResponse};
use crate::ops::rpo::{MeasureRpoOptions, MeasureRpoResponse};
use crate::ops::rto::{MeasureRtoOptions, MeasureRtoResponse};
use crate::ops::schedule::ScheduleResponse;
use crate::ops::status::{ListOptions, ListResponse, StatusOptions, StatusResponse};
use crate::ops::validate::{ValidateOptions, ValidateResponse};
use crate::ops::{Cancel, Dr, Notes, Progress};

/// How a tool behaves, for its annotations.
#[derive(Clone, Copy)]
enum Kind {
    /// Reads only.
    ReadOnly,
    /// Adds to the repository or writes a new folder; never removes or replaces data.
    Additive,
    /// May delete or replace data; needs confirm=true.
    Destructive,
}

/// One tool: what clients see, and whether it reports progress.
pub struct ToolSpec {
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    kind: Kind,
    idempotent: bool,
    /// Reports progress and honours cancellation.
    pub long: bool,
    input: fn() -> JsonObject,
    output: fn() -> JsonObject,
}

impl ToolSpec {
    pub fn tool(&self) -> Tool {
        let annotations = ToolAnnotations::with_title(self.title)
            .read_only(matches!(self.kind, Kind::ReadOnly))
            .destructive(matches!(self.kind, Kind::Destructive))
            .idempotent(self.idempotent)
            .open_world(false);
        Tool::new(self.name, self.description, (self.input)())
            .with_title(self.title)
            .with_raw_output_schema(Arc::new((self.output)()))
            .with_annotations(annotations)
    }
}

macro_rules! spec {
    ($name:literal, $title:literal, $kind:ident, idempotent: $idem:literal, long: $long:literal,
     $in:ty => $out:ty, $desc:expr) => {
        ToolSpec {
            name: $name,
            title: $title,
            description: $desc,
            kind: Kind::$kind,
            idempotent: $idem,
            long: $long,
            input: schema::input::<$in>,
            output: schema::output::<$out>,
        }
    };
}

/// Every tool, in the order clients list them.
pub fn specs() -> Vec<ToolSpec> {
    vec![
        spec!("backup_run", "Run a backup", Additive, idempotent: false, long: true,
            BackupOptions => BackupResponse,
            "Back up the configured sources now into the encrypted repository and verify it. \
             Use before a risky change, or when backup_status shows the newest backup is older \
             than the RPO target. incremental (default) stores only what changed since the last \
             backup (seconds when little changed); full and archival copy everything (minutes per \
             GB). Creates the repository and key on first use. Sends progress; a cancelled backup \
             commits nothing. Returns the backup id, type made, files and bytes stored."),
        spec!("backup_status", "Repository status", ReadOnly, idempotent: true, long: false,
            StatusOptions => StatusResponse,
            "Summarise the backup repository: each host's newest backup against the RPO target, \
             newest backup of each type and its age, chains, stored size, next scheduled runs, \
             unfinished or unreadable backups. host limits the backups, chains and types to one \
             host's. Use first when asked about backup health. Cheap: reads manifests only."),
        spec!("backup_list", "List backups", ReadOnly, idempotent: true, long: false,
            ListOptions => ListResponse,
            "List finished backups, newest first, with host, type, parent, size, file counts and \
             times; host limits it to one host's backups. Use to pick a backup_id for restore_run or backup_validate. Cheap: reads manifests \
             only."),
        spec!("backup_validate", "Validate backups", Additive, idempotent: false, long: true,
            ValidateOptions => ValidateResponse,
            "Check that backups can be restored. quick: manifests, volume presence and sizes, \
             chains (seconds). checksum: every volume's SHA-256, reads all stored bytes. full: \
             decrypts and decompresses everything and checks every file's SHA-256 (as long as a \
             restore). Use after an incident, before relying on a backup, or on a schedule. \
             Problems name the backup, volume and file; ok=false means do not rely on it. The \
             result is kept in the repository's history (the report's last-validation check \
             reads it). Sends progress."),
        spec!("backup_cleanup", "Apply retention", Destructive, idempotent: true, long: false,
            CleanupOptions => CleanupResponse,
            "Apply the retention policy: plan which backups to keep or delete (whole chains; the \
             newest full is always kept) and remove leftovers of crashed backups. By default a \
             dry run that only returns the plan with a reason per backup; deletes only with \
             dry_run=false and confirm=true. Review the plan with the user before confirming."),
        spec!("backup_replicate", "Catch up the replicas", Additive, idempotent: true, long: true,
            ReplicateOptions => ReplicateResponse,
            "Copy to each replica (backup.storage.replicas; or only the one named by to) every \
             backup it lacks, oldest first, each object verified by SHA-256 there and the \
             manifest written last. backup_run already does this after each backup; use this \
             after a replica outage, for a new replica, or when backup_status shows a replica \
             behind. Never deletes anything. ok=false names the replica that failed and why. \
             Sends progress."),
        spec!("retention_extend", "Renew object locks", Additive, idempotent: true, long: true,
            ExtendOptions => ExtendResponse,
            "On an S3 store with object lock (immutable: true): first check that the server \
             refuses to delete a locked object version, then move every kept backup's lock to \
             its date (its retention end; a full until the newest incremental that reads it \
             expires). Locks only ever move later. Fails on a store without object lock, or \
             when the server does not enforce it. Use daily, e.g. after backup_run."),
        spec!("backup_diff", "Diff live data against a backup", ReadOnly, idempotent: true, long: false,
            DiffOptions => DiffResponse,
            "Compare the live sources with a backup (default latest) path by path: added (live, \
             not in the backup), changed (both, with the backup's and the live size and \
             modification time and what differs), removed (in the backup, missing live), with \
             complete counts, bytes_to_restore and bytes_at_risk. Use first in an incident to \
             scope the damage (deleted or overwritten files), then call restore_run with only \
             the changed and removed paths as paths. paths limits it to stored paths or folders; \
             lists are cut at limit (default 1000, truncated says so); content=true also \
             compares SHA-256 of files whose change stamp differs. Command sources are not \
             compared. Reads the manifest and scans the live files; writes nothing."),
        spec!("restore_run", "Restore a backup", Destructive, idempotent: true, long: true,
            RestoreOptions => RestoreResponse,
            "Restore a backup (or some of its paths) into a folder, checking every file's \
             SHA-256 as it is written. target_dir must lie inside the configured restore roots \
             (mcp.restore_roots); the tool never writes elsewhere, so live data is not touched. \
             Restoring into a folder that is not empty needs overwrite=true and confirm=true. \
             Costs about one read of the backup's data. Sends progress."),
        spec!("create_backup", "Create a backup (orchestrator)", Additive, idempotent: false, long: true,
            CreateBackupArgs => CreateBackupResult,
            "Mahavishnu orchestrator compatible: make a backup (default full) and return \
             {status, backup_id, location, size_bytes, timestamp, message}. Same operation as \
             backup_run; mahavishnu-dr chooses the backup id. Sends progress."),
        spec!("list_backups", "List backups (orchestrator)", ReadOnly, idempotent: true, long: false,
            NoArgs => ListBackupsResult,
            "Mahavishnu orchestrator compatible: list every finished backup, newest first, as \
             {status, backups: [{backup_id, timestamp, size_bytes, location, status}], \
             total_count}. Cheap."),
        spec!("restore_backup", "Restore a backup (orchestrator)", Additive, idempotent: false, long: true,
            RestoreBackupArgs => RestoreBackupResult,
            "Mahavishnu orchestrator compatible: restore a backup into a new folder inside the \
             first restore root (never over live data) and verify every file; returns \
             {status, backup_id, message} and the folder used. Costs about one read of the \
             backup's data."),
        spec!("restore_test_run", "Restore test (measured RTO/RPO)", Additive, idempotent: false, long: true,
            RestoreTestOptions => RestoreTestResponse,
            "Prove a backup restores: restore its whole chain into scratch space (never live \
             data), verify every file's SHA-256 and every SQLite database (PRAGMA \
             integrity_check), compare with the live sources (drift: what a recovery now would \
             lose), and measure the RTO achieved and the RPO at test time against the targets. \
             passed=false lists the reasons (a missing or corrupt volume, a broken database, a \
             missed target). Costs about one restore of the backup. The result is kept in the \
             repository's history. Sends progress."),
        spec!("measure_rto", "Measure the RTO", Additive, idempotent: false, long: true,
            MeasureRtoOptions => MeasureRtoResponse,
            "Measure the recovery time objective alone: restore the backup's whole chain into \
             scratch space (never live data) with every file's SHA-256 checked, and time it \
             against rto_target_minutes, with throughput, per-stage times and an estimate for \
             the whole live data set when the backup holds less of it (the method is stated). \
             Lighter than restore_test_run (no database checks, no drift). Costs about one \
             restore of the backup; the result is kept in the history. Sends progress."),
        spec!("measure_rpo", "Measure the RPO", Additive, idempotent: false, long: false,
            MeasureRpoOptions => MeasureRpoResponse,
            "Measure recovery point objectives: the current RPO (age of the newest backup), the \
             worst gap between consecutive backups over the last `days`, and the best RPO the \
             configured schedules can give, each against rpo_target_minutes, with a plain \
             statement when the schedule cannot meet the target and what would. Cheap: reads \
             manifests only; the result is kept in the history."),
        spec!("drill_list_scenarios", "List DR drill scenarios", ReadOnly, idempotent: true, long: false,
            NoArgs => DrillListResponse,
            "List the disaster-recovery drills drill_run can run (single_server_failure, \
             region_failure, database_corruption, network_partition, data_deletion): for each, \
             the disaster it simulates, its steps (prepare, inject, detect, recover, verify, \
             teardown), its RTO and RPO targets from the settings, and whether the schedule \
             runs it. Use to pick a scenario for drill_run. Cheap: reads the settings only."),
        spec!("drill_run", "Run a DR drill", Additive, idempotent: false, long: true,
            DrillRunOptions => DrillRunResponse,
            "Rehearse a disaster (scenario, or all=true for every one) for real and prove the \
             recovery path: inject the fault, detect it, recover from the backups, verify, \
             tear down, and time each step against the RTO and RPO targets. Not destructive to \
             live data: faults are confined to a sandbox under the scratch folder and to \
             scratch repositories; the live data and the production repository are only read; \
             the one write there is the drill's history record (the evidence). By default a \
             dry run that only returns the plan (steps, backup and store it would use, an RTO \
             estimate) and writes nothing; runs only with dry_run=false and confirm=true. \
             passed=false comes with findings and recommendations. Takes about one restore per \
             drill. Sends progress per step; a cancelled drill still tears down."),
        spec!("drill_report", "Kept DR drills", ReadOnly, idempotent: true, long: false,
            DrillReportOptions => DrillReportResponse,
            "The drills kept in the repository's history, oldest first (the newest `last`, \
             default 10; 0: all): scenario, passed, who started it, the backup and store used, \
             each step's outcome and time, RTO and RPO achieved against the targets, findings \
             and recommendations. Use as DR evidence or to see whether a recovery path was \
             proven recently. Cheap: reads the history."),
        spec!("schedule_status", "Schedules and what ran", ReadOnly, idempotent: true, long: false,
            NoArgs => ScheduleResponse,
            "Every scheduled job (backups by type, the validation, automated restore tests, \
             drills): its cadence and time zone, its next runs, and the daemon's last run of it \
             (when, the result, the backup made or why it failed, attempts, runs missed while \
             the daemon was down and caught up once), plus whether the daemon is running and \
             the job it runs now. Use to see what ran and what was missed, or when the next \
             backup is. Cheap: reads the settings and the daemon's state file."),
        spec!("report", "DR posture report", ReadOnly, idempotent: true, long: false,
            ReportArgs => ReportResponse,
            "The disaster-recovery posture in one page: a verdict (healthy, needs_attention, \
             critical) with the checks behind it (backups available, newest backup age vs RPO \
             target, whether the schedules can meet it, last validation, last restore test vs RTO target, retention compliance, \
             chain health, key age, replicas, drills), the backup timeline, each replica's lag, the resilience score per drill \
             scenario (from kept drills only), RTO and RPO trends from the history, \
             and recommendations, most urgent first. format=markdown returns the text for \
             people; the structured content is the same either way. Use for a status summary \
             or before planning DR work. Cheap: reads manifests and the history."),
        spec!("run_disaster_recovery_check", "Disaster-recovery check", ReadOnly, idempotent: true, long: false,
            NoArgs => DrCheckResponse,
            "Mahavishnu orchestrator compatible: the report's checks (backups available, \
             integrity of every chain, newest backup vs RPO target, schedules vs RPO target, \
             last validation, last \
             restore test vs RTO target, retention, key age) as pass/fail with a detail and \
             what to do; results.status is healthy only when every check passes, \
             results.posture is the report's verdict. Cheap: no backup data is read."),
    ]
}

/// How a call ended, for the server to render.
pub enum Outcome {
    /// Structured content (validates against the tool's output schema).
    Done(Value),
    /// Structured content, with this text instead of its JSON as the text content.
    DoneWithText(Value, String),
    /// The operation failed or refused; an isError result.
    Failed(Error),
}

/// A call's environment: progress sink, cancellation, and who is calling.
pub struct CallCx {
    pub progress: Arc<dyn Progress>,
    pub cancel: Cancel,
    /// The client's name from its initialize request, when it gave one.
    pub client: Option<String>,
}

impl CallCx {
    /// Who started an operation, as the history keeps it: `mcp:<client name>`.
    fn started_by(&self) -> String {
        format!("mcp:{}", self.client.as_deref().unwrap_or("unknown"))
    }
}

/// The arguments of `tool` as `T`. An argument the tool does not have is refused by name (also
/// for argument types that flatten an operation's options, where serde cannot).
fn parse<T: DeserializeOwned + JsonSchema>(tool: &str, args: &JsonObject) -> Result<T> {
    let input = schema::input::<T>();
    if let Some(Value::Object(known)) = input.get("properties")
        && let Some(unknown) = args.keys().find(|k| !known.contains_key(*k))
    {
        let names: Vec<&str> = known.keys().map(String::as_str).collect();
        let expected = if names.is_empty() {
            "it takes no arguments".to_string()
        } else {
            format!("expected one of {}", names.join(", "))
        };
        return Err(Error::usage(format!(
            "invalid arguments for {tool}: unknown field `{unknown}`, {expected}"
        ))
        .with_guidance(format!("see the inputSchema of {tool} in tools/list")));
    }
    let value = Value::Object(args.clone());
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let at = if path == "." {
            String::new()
        } else {
            format!(" at {path}")
        };
        Error::usage(format!("invalid arguments for {tool}{at}: {}", e.inner()))
            .with_guidance(format!("see the inputSchema of {tool} in tools/list"))
    })
}

fn done<T: Serialize>(v: &T) -> Result<Value> {
    serde_json::to_value(v).map_err(|e| Error::internal(format!("cannot encode the result: {e}")))
}

/// Run one tool. `Ok(None)` means no such tool (a protocol error for the caller). Warnings the
/// operation recorded (a key file others can read) join the result's `warnings` and the log.
pub async fn call(dr: &Dr, name: &str, args: &JsonObject, cx: CallCx) -> Option<Outcome> {
    let notes = Notes::new();
    let outcome = dispatch(&dr.with_notes(notes.clone()), name, args, cx).await;
    for w in notes.warnings() {
        tracing::warn!(tool = %name, "{w}");
    }
    Some(match outcome? {
        Outcome::Done(mut v) => {
            notes.add_to(&mut v);
            Outcome::Done(v)
        }
        Outcome::DoneWithText(mut v, text) => {
            notes.add_to(&mut v);
            Outcome::DoneWithText(v, text)
        }
        failed => failed,
    })
}

async fn dispatch(dr: &Dr, name: &str, args: &JsonObject, cx: CallCx) -> Option<Outcome> {
    let result = match name {
        "backup_run" => backup_run(dr, args, &cx).await,
        "backup_status" => match parse::<StatusOptions>(name, args) {
            Ok(o) => dr.status(&o).await.and_then(|r| done(&r)),
            Err(e) => Err(e),
        },
        "backup_list" => backup_list(dr, args).await,
        "backup_validate" => backup_validate(dr, args, &cx).await,
        "backup_cleanup" => backup_cleanup(dr, args, &cx).await,
        "retention_extend" => match parse::<ExtendOptions>(name, args) {
            Ok(o) => dr.retention_extend(&o).await.and_then(|r| done(&r)),
            Err(e) => Err(e),
        },
        "backup_replicate" => match parse::<ReplicateOptions>(name, args) {
            Ok(o) => dr
                .replicate(&o, cx.progress.clone(), &cx.cancel)
                .await
                .and_then(|r| done(&r)),
            Err(e) => Err(e),
        },
        "backup_diff" => match parse::<DiffOptions>(name, args) {
            Ok(o) => dr.diff(&o, &cx.cancel).await.and_then(|r| done(&r)),
            Err(e) => Err(e),
        },
        "restore_run" => restore_run(dr, args, &cx).await,
        "create_backup" => create_backup(dr, args, &cx).await,
        "list_backups" => list_backups(dr, args).await,
        "restore_backup" => restore_backup(dr, args, &cx).await,
        "restore_test_run" => restore_test_run(dr, args, &cx).await,
        "measure_rpo" => match parse::<MeasureRpoOptions>(name, args) {
            Ok(o) => dr.measure_rpo(&o).await.and_then(|mut r| {
                r.analysis = r.analysis.for_face(Face::Mcp);
                done(&r)
            }),
            Err(e) => Err(e),
        },
        "measure_rto" => match parse::<MeasureRtoOptions>(name, args) {
            Ok(o) => dr
                .measure_rto(&o, cx.progress.clone(), &cx.cancel)
                .await
                .and_then(|r| done(&r)),
            Err(e) => Err(e),
        },
        "drill_list_scenarios" => match parse::<NoArgs>(name, args) {
            Ok(_) => done(&dr.drill_list()),
            Err(e) => Err(e),
        },
        "drill_run" => drill_run(dr, args, &cx).await,
        "drill_report" => match parse::<DrillReportOptions>(name, args) {
            Ok(o) => dr.drill_report(&o).await.and_then(|r| done(&r)),
            Err(e) => Err(e),
        },
        "schedule_status" => match parse::<NoArgs>(name, args) {
            Ok(_) => done(&dr.schedule_show(&Default::default())),
            Err(e) => Err(e),
        },
        "report" => return Some(report(dr, args).await),
        "run_disaster_recovery_check" => match parse::<NoArgs>(name, args) {
            Ok(_) => dr
                .dr_check()
                .await
                .and_then(|r| done(&r.for_face(Face::Mcp))),
            Err(e) => Err(e),
        },
        _ => return None,
    };
    Some(match result {
        Ok(v) => Outcome::Done(v),
        Err(e) => Outcome::Failed(e),
    })
}

async fn backup_run(dr: &Dr, args: &JsonObject, cx: &CallCx) -> Result<Value> {
    let o: BackupOptions = parse("backup_run", args)?;
    done(&dr.backup(&o, cx.progress.clone(), &cx.cancel).await?)
}

async fn backup_list(dr: &Dr, args: &JsonObject) -> Result<Value> {
    let o: ListOptions = parse("backup_list", args)?;
    done(&dr.list(&o).await?)
}

async fn backup_validate(dr: &Dr, args: &JsonObject, cx: &CallCx) -> Result<Value> {
    let o: ValidateOptions = parse("backup_validate", args)?;
    done(&dr.validate(&o, cx.progress.clone(), &cx.cancel).await?)
}

async fn backup_cleanup(dr: &Dr, args: &JsonObject, cx: &CallCx) -> Result<Value> {
    let o: CleanupOptions = parse("backup_cleanup", args)?;
    done(&dr.cleanup(&o, cx.progress.clone()).await?)
}

/// A restore confined to the restore roots (the options' default placement).
async fn restore_run(dr: &Dr, args: &JsonObject, cx: &CallCx) -> Result<Value> {
    let o: RestoreOptions = parse("restore_run", args)?;
    done(&dr.restore(&o, cx.progress.clone(), &cx.cancel).await?)
}

async fn create_backup(dr: &Dr, args: &JsonObject, cx: &CallCx) -> Result<Value> {
    let a: CreateBackupArgs = parse("create_backup", args)?;
    let o = BackupOptions {
        backup_type: a.backup_type,
        ..BackupOptions::default()
    };
    let r = dr.backup(&o, cx.progress.clone(), &cx.cancel).await?;
    done(&CreateBackupResult::from_backup(&r, &a.backup_id))
}

async fn list_backups(dr: &Dr, args: &JsonObject) -> Result<Value> {
    let _: NoArgs = parse("list_backups", args)?;
    let r = dr.list(&ListOptions::default()).await?;
    done(&ListBackupsResult::from_list(&r, &dr.storage().describe()))
}

async fn restore_backup(dr: &Dr, args: &JsonObject, cx: &CallCx) -> Result<Value> {
    let a: RestoreBackupArgs = parse("restore_backup", args)?;
    let backup_id = if a.backup_id.is_empty() {
        crate::ops::defaults::latest()
    } else {
        a.backup_id
    };
    // A new folder in the first restore root: never over live data or an earlier restore.
    let o = RestoreOptions {
        backup_id,
        target_dir: Default::default(),
        host: None,
        at: None,
        paths: Vec::new(),
        overwrite: false,
        keep_special_bits: false,
        confirm: false,
        placement: Placement::NewFolderInRestoreRoot,
    };
    let r = dr.restore(&o, cx.progress.clone(), &cx.cancel).await?;
    done(&RestoreBackupResult::from_restore(&r))
}

async fn restore_test_run(dr: &Dr, args: &JsonObject, cx: &CallCx) -> Result<Value> {
    let o: RestoreTestOptions = parse("restore_test_run", args)?;
    done(&dr.restore_test(&o, cx.progress.clone(), &cx.cancel).await?)
}

/// A drill, or its plan: the operation refuses a run without confirm=true.
async fn drill_run(dr: &Dr, args: &JsonObject, cx: &CallCx) -> Result<Value> {
    let o: DrillRunOptions = parse("drill_run", args)?;
    let r = dr
        .drill_run(&o, &cx.started_by(), cx.progress.clone(), &cx.cancel)
        .await?;
    done(&r)
}

async fn report(dr: &Dr, args: &JsonObject) -> Outcome {
    let run = async {
        let a: ReportArgs = parse("report", args)?;
        let r = dr.report(&a.options).await?.for_face(Face::Mcp);
        let text = match a.format {
            ReportFormatArg::Markdown => Some(crate::report::markdown::render(&r)),
            ReportFormatArg::Json => None,
        };
        Ok::<_, Error>((done(&r)?, text))
    };
    match run.await {
        Ok((v, Some(text))) => Outcome::DoneWithText(v, text),
        Ok((v, None)) => Outcome::Done(v),
        Err(e) => Outcome::Failed(e),
    }
}
