//! The command line: clap definitions, dispatch to `ops`, rendering (text or `--json`).

mod alerts;
mod metrics;
mod progress_bar;
mod render;
mod render_drill;
mod runbook;

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::ops::backup::BackupOptions;
use crate::ops::cleanup::CleanupOptions;
use crate::ops::decrypt::DecryptOptions;
use crate::ops::diff::DiffOptions;
use crate::ops::drill::{DrillReportOptions, DrillRunOptions};
use crate::ops::history::HistoryOptions;
use crate::ops::init::InitOptions;
use crate::ops::replicate::ReplicateOptions;
use crate::ops::report::ReportOptions;
use crate::ops::restore::RestoreOptions;
use crate::ops::restore_test::RestoreTestOptions;
use crate::ops::rpo::MeasureRpoOptions;
use crate::ops::rto::MeasureRtoOptions;
use crate::ops::status::{ListOptions, StatusOptions};
use crate::ops::unlock::UnlockOptions;
use crate::ops::validate::ValidateOptions;
use crate::ops::{Cancel, Dr, Notes, Progress};
use crate::settings;

#[derive(Debug, Parser)]
#[command(
    name = "mahavishnu-dr",
    version,
    about = "Encrypted, verified backups and measured disaster recovery for service state",
    propagate_version = true
)]
pub struct Cli {
    /// Settings file (default: ./settings/mahavishnu.yaml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print the result as JSON (a stable, documented shape) on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bar.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Work on this store instead of the primary: a store name of the settings (a replica,
    /// for failover, or `primary`), or a location: a folder (/srv/backups, ./backups,
    /// file:///srv/backups), s3://BUCKET/PREFIX or azblob://CONTAINER/PREFIX (credentials from
    /// the AWS_* / AZURE_STORAGE_* environment). A value with `://` or `/` in it, `.`, `..` or
    /// starting with `~` is a location. Without a settings file a location reads the
    /// repository alone (a bare host: list, status, validate, restore, decrypt).
    #[arg(
        long,
        global = true,
        value_name = "NAME|LOCATION",
        env = "MAHAVISHNU_REPOSITORY"
    )]
    pub repository: Option<String>,
    /// Read the store as it was at TIME (RFC 3339, or `2026-12-05 10:15[:30]` in UTC): an S3
    /// store whose bucket keeps object versions (object lock), each object at its newest
    /// version written by then, later overwrites and deletions unseen. Read-only: for
    /// recovery after the store was damaged (restore, backup list, validate, decrypt, or
    /// replicate --to NAME to copy the good state to another store).
    #[arg(long, global = true, value_name = "TIME")]
    pub store_as_of: Option<String>,
    /// The repository's key file, instead of backup.encryption.key_path.
    #[arg(long, global = true, value_name = "PATH", env = "MAHAVISHNU_KEY_FILE")]
    pub key_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the repository named by the settings.
    Init(InitOptions),
    /// Back up, validate, list, clean up.
    #[command(subcommand)]
    Backup(BackupCommand),
    /// Restore a backup into a folder.
    Restore(RestoreOptions),
    /// The live sources against a backup: what was added, changed or removed since it, with
    /// sizes and times (read-only). Exit 0 when it ran, differences or not; with --exit-code,
    /// exit 1 when anything differs (as `git diff --exit-code`).
    Diff {
        #[command(flatten)]
        options: DiffOptions,
        /// Exit 1 when anything differs, 0 when nothing does.
        #[arg(long)]
        exit_code: bool,
    },
    /// Object-lock retention on an immutable S3 store.
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Copy to the replicas every backup they lack (after an outage, or for a new replica),
    /// each object verified there.
    Replicate(ReplicateOptions),
    /// Print the JSON Schema of a command's `--json` output.
    Schema {
        #[arg(value_enum)]
        output: SchemaName,
    },
    /// Restore tests: prove a backup restores, measure the RTO and RPO achieved.
    #[command(subcommand, name = "restore-test")]
    RestoreTest(RestoreTestCommand),
    /// The scheduled jobs (backups, restore tests, drills): next runs, or crontab lines and
    /// systemd units that run them.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Disaster drills: the DR plan's disasters injected into a sandbox, recovered, timed and
    /// kept as evidence.
    #[command(subcommand)]
    Drill(DrillCommand),
    /// The DR posture in one page: verdict, checks, backup timeline, RTO/RPO trends,
    /// recommendations.
    Report {
        /// text, json, markdown, or html (one self-contained file with inline SVG charts).
        #[arg(long, value_enum, default_value = "text")]
        format: ReportFormat,
        /// Write to FILE instead of stdout (replaced atomically).
        #[arg(long, short, value_name = "FILE")]
        output: Option<PathBuf>,
        #[command(flatten)]
        options: ReportOptions,
    },
    /// The disaster-recovery check: the report's checks, pass/fail (exit 1 when not healthy).
    #[command(alias = "run-dr-check")]
    Check,
    /// The DR posture as Prometheus metrics (text format 0.0.4) on stdout, or with --textfile
    /// written atomically for node_exporter's textfile collector (docs/METRICS.md).
    Metrics {
        #[command(flatten)]
        options: crate::ops::metrics::MetricsOptions,
        /// Write the metrics to PATH (a `.prom` file in node_exporter's textfile folder)
        /// through a temporary file beside it, mode 0644.
        #[arg(long, value_name = "PATH")]
        textfile: Option<PathBuf>,
    },
    /// Serve MCP (Model Context Protocol) to AI agents: stdio by default, or streamable HTTP.
    Serve {
        /// Serve streamable HTTP at /mcp (and GET /health) on ADDR instead of stdio
        /// (default ADDR: mcp.http.listen, 127.0.0.1:8684).
        #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
        http: Option<String>,
        /// The password database read at start-up to tell whether other users share the host
        /// (default /etc/passwd; for tests).
        #[arg(long, value_name = "FILE", hide = true)]
        passwd_file: Option<PathBuf>,
    },
    /// Run every enabled schedule (backups with cleanup after each, the validation, restore
    /// tests, drills) and serve MCP over HTTP with /health and /metrics, until SIGTERM or
    /// Ctrl-C. See docs/DAEMON.md for a systemd unit.
    Daemon {
        /// The HTTP face's address (default: mcp.http.listen, 127.0.0.1:8684).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
        /// Run the schedules only, without the HTTP face.
        #[arg(long, conflicts_with = "listen")]
        no_http: bool,
        /// Rehearse: run against a clock that starts at START (RFC 3339) and runs SPEED times
        /// faster than real time, e.g. 2026-03-29T00:59:00Z@60. For trying out schedules and
        /// for tests.
        #[arg(long, value_name = "START[@SPEED]", hide = true)]
        clock: Option<String>,
        #[arg(long, value_name = "FILE", hide = true)]
        passwd_file: Option<PathBuf>,
    },
    /// The MCP tool definitions.
    #[command(subcommand)]
    Tools(ToolsCommand),
    /// Alert channels: send a test message to each.
    #[command(subcommand)]
    Alerts(alerts::AlertsCommand),
    /// Remove stale locks: of crashed processes, not refreshed for 120 s, or dated more than
    /// 10 minutes in the future. Live locks stay unless --all.
    Unlock(UnlockOptions),
    /// Write one volume's plaintext (a .tar.zst: `zstd -d | tar -x` reads it), or with --file
    /// one stored file, assembled from its blocks and checked.
    Decrypt {
        #[command(flatten)]
        options: DecryptOptions,
        /// The file to write (must not exist).
        #[arg(long, short)]
        output: PathBuf,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Text,
    Json,
    Markdown,
    Html,
}

/// Commands whose `--json` output has a schema.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaName {
    Init,
    BackupRun,
    BackupValidate,
    BackupStatus,
    BackupList,
    BackupCleanup,
    Replicate,
    RetentionExtend,
    Restore,
    Diff,
    Decrypt,
    Check,
    RestoreTestRun,
    RestoreTestReport,
    RestoreTestMeasureRto,
    RestoreTestMeasureRpo,
    DrillList,
    DrillRun,
    DrillReport,
    DrillRunbook,
    Report,
    Unlock,
    Metrics,
    AlertsTest,
    Error,
}

/// The JSON Schema of one output type (the same types the MCP tools return).
pub fn output_schema(name: SchemaName) -> serde_json::Value {
    use crate::ops::{backup, cleanup, decrypt, init, restore, status, validate};
    let s = match name {
        SchemaName::Init => schemars::schema_for!(init::InitResponse),
        SchemaName::BackupRun => schemars::schema_for!(backup::BackupResponse),
        SchemaName::BackupValidate => schemars::schema_for!(validate::ValidateResponse),
        SchemaName::BackupStatus => schemars::schema_for!(status::StatusResponse),
        SchemaName::BackupList => schemars::schema_for!(status::ListResponse),
        SchemaName::BackupCleanup => schemars::schema_for!(cleanup::CleanupResponse),
        SchemaName::Replicate => {
            schemars::schema_for!(crate::ops::replicate::ReplicateResponse)
        }
        SchemaName::RetentionExtend => {
            schemars::schema_for!(crate::ops::retention_extend::ExtendResponse)
        }
        SchemaName::Restore => schemars::schema_for!(restore::RestoreResponse),
        SchemaName::Diff => schemars::schema_for!(crate::ops::diff::DiffResponse),
        SchemaName::Decrypt => schemars::schema_for!(decrypt::DecryptResponse),
        SchemaName::Check => schemars::schema_for!(crate::ops::check::DrCheckResponse),
        SchemaName::DrillList => schemars::schema_for!(crate::ops::drill::DrillListResponse),
        SchemaName::DrillRun => schemars::schema_for!(crate::ops::drill::DrillRunResponse),
        SchemaName::DrillReport => {
            schemars::schema_for!(crate::ops::drill::DrillReportResponse)
        }
        SchemaName::RestoreTestReport => {
            schemars::schema_for!(crate::ops::history::HistoryResponse)
        }
        SchemaName::RestoreTestRun => {
            schemars::schema_for!(crate::ops::restore_test::RestoreTestResponse)
        }
        SchemaName::RestoreTestMeasureRto => {
            schemars::schema_for!(crate::ops::rto::MeasureRtoResponse)
        }
        SchemaName::RestoreTestMeasureRpo => {
            schemars::schema_for!(crate::ops::rpo::MeasureRpoResponse)
        }
        SchemaName::DrillRunbook => {
            schemars::schema_for!(crate::ops::drill::DrillRunbookResponse)
        }
        SchemaName::Report => schemars::schema_for!(crate::ops::report::ReportResponse),
        SchemaName::Unlock => schemars::schema_for!(crate::ops::unlock::UnlockResponse),
        SchemaName::Metrics => schemars::schema_for!(crate::ops::metrics::MetricsResponse),
        SchemaName::AlertsTest => {
            schemars::schema_for!(crate::daemon::alerts::AlertTestResponse)
        }
        SchemaName::Error => schemars::schema_for!(crate::error::Error),
    };
    serde_json::to_value(s).unwrap_or_default()
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Make a backup now (creates the repository and key on first use).
    #[command(alias = "run-immediate")]
    Run(BackupOptions),
    /// Check backups: quick (structure), checksum (no key needed), full (every file).
    #[command(alias = "validate-backups")]
    Validate(ValidateOptions),
    /// Backups newest first, each host's newest, latest per type, chains and next scheduled
    /// runs.
    Status(StatusOptions),
    /// Backups newest first.
    List(ListOptions),
    /// Apply retention and remove orphans of unfinished backups.
    #[command(alias = "cleanup-old")]
    Cleanup(CleanupOptions),
    /// Record a continuous point now: what changed in the continuously protected path sources
    /// since the last point (the daemon does this itself with backup.continuous enabled).
    Point(crate::ops::backup::PointOptions),
}

#[derive(Debug, Subcommand)]
pub enum RetentionCommand {
    /// Renew the object locks of every kept backup (each until its retention ends, a full
    /// until the newest incremental reading it does), after checking the server enforces them.
    Extend(crate::ops::retention_extend::ExtendOptions),
}

#[derive(Debug, Subcommand)]
pub enum RestoreTestCommand {
    /// Restore a backup's chain into scratch space, verify every file and SQLite database,
    /// compare with the live sources, and time it; the result is kept in the history.
    #[command(alias = "run-test")]
    Run(RestoreTestOptions),
    /// Restore and verify a backup's chain in scratch space and time it alone: the RTO, the
    /// throughput, and an estimate for the full live data set (kept in the history).
    MeasureRto(MeasureRtoOptions),
    /// The RPO now, the worst gap between backups over a window, and the RPO the schedules
    /// allow at best, each against rpo_target_minutes (kept in the history).
    MeasureRpo(MeasureRpoOptions),
    /// The kept history of restore tests, validations and measurements, with the trend.
    Report(HistoryOptions),
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Every scheduled job and its next runs.
    Show(crate::ops::schedule::ScheduleOptions),
    /// The enabled jobs as crontab lines (`--format cron`, with CRON_TZ) or systemd service and
    /// timer units (`--format systemd`), running this program with this settings file.
    Export {
        #[arg(long, value_enum, default_value = "cron")]
        format: crate::ops::schedule::ExportFormat,
    },
}

#[derive(Debug, Subcommand)]
pub enum DrillCommand {
    /// The scenarios: steps, targets, whether the schedule runs them.
    #[command(alias = "list-scenarios")]
    List,
    /// Run a drill (or every one, or the scheduled ones that are due); exit 1 when one fails.
    /// With --dry-run, print the plan and change nothing.
    #[command(alias = "run-drill")]
    Run(DrillRunOptions),
    /// The drills kept in the history, newest last.
    Report(DrillReportOptions),
    /// A scenario's runbook for a real incident (detection, impact, recovery with the exact
    /// commands, success criteria, rollback), generated from its definition and ending with the
    /// evidence of its last drill. `--all --write docs/runbooks` regenerates the checked-in
    /// runbooks.
    Runbook(runbook::RunbookArgs),
}

#[derive(Debug, Subcommand)]
pub enum ToolsCommand {
    /// Write one JSON file per MCP tool (name, title, description, schemas, annotations).
    Export {
        /// The folder to write into.
        #[arg(default_value = "tools")]
        dir: PathBuf,
    },
}

/// What a command produced: its JSON, its text, and whether it found a problem.
pub struct Outcome {
    pub json: serde_json::Value,
    pub text: String,
    pub problem: bool,
}

fn outcome<T: Serialize>(value: &T, text: String, problem: bool) -> Result<Outcome> {
    Ok(Outcome {
        json: serde_json::to_value(value)
            .map_err(|e| Error::internal(format!("cannot encode result: {e}")))?,
        text,
        problem,
    })
}

/// Run a parsed command line; returns the process exit code.
pub async fn run(cli: Cli, env: Vec<(String, String)>, cancel: Cancel) -> i32 {
    let json = cli.json;
    let notes = Notes::new();
    let result = execute(cli, env, cancel, notes.clone()).await;
    // Warnings of the shared machinery (a key file others can read): on stderr in every mode,
    // and in the JSON result's `warnings` when it has that list.
    for w in notes.warnings() {
        eprintln!("warning: {w}");
    }
    match result {
        Ok(mut o) => {
            notes.add_to(&mut o.json);
            if o.json.is_null() && o.text.is_empty() {
                // `serve`: stdout carried the protocol; nothing to add.
            } else if json {
                print_stdout(&serde_json::to_string_pretty(&o.json).unwrap_or_default());
            } else {
                print_stdout(o.text.trim_end());
            }
            i32::from(o.problem)
        }
        Err(e) => {
            if json {
                let v = serde_json::json!({ "error": e.worded_for(crate::action::Face::Cli) });
                print_stdout(&serde_json::to_string_pretty(&v).unwrap_or_default());
            }
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

/// Who runs this command, for the drill's record: `$USER`, `$LOGNAME`, else the uid.
fn user_name(env: &[(String, String)]) -> String {
    ["USER", "LOGNAME"]
        .iter()
        .find_map(|k| env.iter().find(|(n, v)| n == k && !v.is_empty()))
        .map(|(_, v)| v.clone())
        // SAFETY: getuid cannot fail and touches no memory.
        .unwrap_or_else(|| format!("uid {}", unsafe { libc::getuid() }))
}

/// Print a result; a closed pipe (`| head`) is not worth a panic.
fn print_stdout(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

async fn execute(
    cli: Cli,
    env: Vec<(String, String)>,
    cancel: Cancel,
    notes: Notes,
) -> Result<Outcome> {
    let cli_json = cli.json;
    if let Command::Schema { output } = cli.command {
        let v = output_schema(output);
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        return Ok(Outcome {
            json: v,
            text,
            problem: false,
        });
    }
    if let Command::Tools(ToolsCommand::Export { dir }) = &cli.command {
        let names = crate::mcp::export_tools(dir)?;
        let text = format!(
            "wrote {} tool definitions to {}",
            names.len(),
            dir.display()
        );
        return outcome(
            &serde_json::json!({ "dir": dir, "files": names }),
            text,
            false,
        );
    }
    if let Command::Drill(DrillCommand::Runbook(runbook::RunbookArgs {
        all: true,
        write: Some(dir),
        ..
    })) = &cli.command
    {
        return runbook::write_all(dir);
    }
    let cwd = std::env::current_dir()
        .map_err(|e| Error::io(format!("cannot read the current folder: {e}")))?;
    let dr = Dr::for_command_line(&settings::CommandLine {
        config: cli.config.as_deref(),
        cwd: &cwd,
        env: &env,
        repository: cli.repository.as_deref(),
        key_file: cli.key_file.as_deref(),
    })?
    .with_notes(notes);
    let dr = match &cli.store_as_of {
        None => dr,
        Some(_) if matches!(cli.command, Command::Serve { .. } | Command::Daemon { .. }) => {
            return Err(Error::usage(
                "--store-as-of is for one command's reads; the MCP server and the daemon work \
                 on the store as it is",
            )
            .with_guidance("run restore, backup list, backup validate or replicate with it"));
        }
        Some(at) => dr.as_of(at)?,
    };
    if let Command::Serve { http, passwd_file } = cli.command {
        dr.needs_settings("serve")?;
        return serve(dr, http, passwd_file, cancel).await;
    }
    if let Command::Daemon {
        listen,
        no_http,
        clock,
        passwd_file,
    } = cli.command
    {
        dr.needs_settings("daemon")?;
        let clock = match clock {
            Some(c) => crate::daemon::clock::Clock::parse(&c)?,
            None => crate::daemon::clock::Clock::System,
        };
        let opts = crate::daemon::DaemonOptions {
            listen,
            no_http,
            passwd_file,
            clock,
        };
        crate::daemon::run(dr, opts, cancel).await?;
        return Ok(Outcome {
            json: serde_json::Value::Null,
            text: String::new(),
            problem: false,
        });
    }
    let show_bar = !cli.json && !cli.quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
    let progress: Arc<dyn Progress> = if show_bar {
        Arc::new(progress_bar::Bar::new())
    } else {
        Arc::new(progress_bar::NoticesOnly)
    };
    match cli.command {
        Command::Init(options) => {
            let r = dr.init(&options).await?;
            for w in &r.warnings {
                progress.notice(w);
            }
            outcome(&r, render::init(&r), false)
        }
        Command::Backup(BackupCommand::Run(options)) => {
            let r = dr.backup(&options, progress.clone(), &cancel).await?;
            for w in &r.warnings {
                if r.initialized
                    .as_ref()
                    .is_none_or(|i| !i.warnings.contains(w))
                {
                    progress.notice(&format!("warning: {w}"));
                }
            }
            let problem = options.require_replicas && !r.replicas_ok();
            outcome(&r, render::backup(&r), problem)
        }
        Command::Retention(RetentionCommand::Extend(options)) => {
            let r = dr.retention_extend(&options).await?;
            let text = r.message.clone();
            outcome(&r, text, false)
        }
        Command::Replicate(options) => {
            let r = dr.replicate(&options, progress.clone(), &cancel).await?;
            outcome(&r, render::replicate(&r), !r.ok)
        }
        Command::Backup(BackupCommand::Point(options)) => {
            let r = dr.record_point(&options, progress.clone(), &cancel).await?;
            for w in &r.warnings {
                progress.notice(&format!("warning: {w}"));
            }
            outcome(&r, r.message.clone(), false)
        }
        Command::Backup(BackupCommand::Validate(options)) => {
            let r = dr.validate(&options, progress.clone(), &cancel).await?;
            outcome(&r, render::validate(&r), !r.ok)
        }
        Command::Backup(BackupCommand::Status(options)) => {
            let r = dr.status(&options).await?;
            outcome(&r, render::status(&r), false)
        }
        Command::Backup(BackupCommand::List(options)) => {
            let r = dr.list(&options).await?;
            outcome(&r, render::list(&r), false)
        }
        Command::Backup(BackupCommand::Cleanup(options)) => {
            let r = dr.cleanup(&options, progress.clone()).await?;
            outcome(&r, render::cleanup(&r), false)
        }
        Command::Decrypt { options, output } if options.file.is_some() => {
            let r = dr.decrypt_file(&options, &output).await?;
            let text = format!(
                "wrote {} ({}) of {} to {}, checked against its SHA-256",
                r.file.as_deref().unwrap_or_default(),
                crate::present::bytes(r.bytes),
                r.backup_id,
                output.display()
            );
            outcome(&r, text, false)
        }
        Command::Decrypt { options, output } => {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&output)
                .map_err(|e| Error::from_io("create", &output, e))?;
            let r = dr
                .decrypt_volume(&options, Box::new(std::io::BufWriter::new(file)))
                .await;
            if r.is_err() {
                let _ = std::fs::remove_file(&output);
            }
            let r = r?;
            let text = format!(
                "wrote {} ({}) of {} to {}: read it with `zstd -d < {} | tar -x`",
                r.volume,
                crate::present::bytes(r.bytes),
                r.backup_id,
                output.display(),
                output.display()
            );
            outcome(&r, text, false)
        }
        Command::Schedule(ScheduleCommand::Show(options)) => {
            let r = dr.schedule_show(&options);
            outcome(&r, render_drill::schedule(&r), false)
        }
        Command::Schedule(ScheduleCommand::Export { format }) => {
            let r = dr.schedule_export(format);
            let text = r.text.clone();
            outcome(&r, text, false)
        }
        Command::Drill(DrillCommand::List) => {
            let r = dr.drill_list();
            outcome(&r, render_drill::list(&r), false)
        }
        Command::Drill(DrillCommand::Run(options)) => {
            let who = if options.scheduled {
                "schedule".to_string()
            } else {
                format!("cli:{}", user_name(&env))
            };
            let r = dr
                .drill_run(&options, &who, progress.clone(), &cancel)
                .await?;
            outcome(&r, render_drill::run(&r), !r.passed)
        }
        Command::Drill(DrillCommand::Report(options)) => {
            let r = dr.drill_report(&options).await?;
            outcome(&r, render_drill::report(&r), false)
        }
        Command::Drill(DrillCommand::Runbook(args)) => runbook::one(&dr, &args, cli_json).await,
        Command::RestoreTest(RestoreTestCommand::Run(options)) => {
            let r = dr.restore_test(&options, progress.clone(), &cancel).await?;
            outcome(&r, render::restore_test(&r), !r.passed)
        }
        Command::RestoreTest(RestoreTestCommand::MeasureRto(options)) => {
            let r = dr.measure_rto(&options, progress.clone(), &cancel).await?;
            outcome(&r, render::rto(&r), !r.passed)
        }
        Command::RestoreTest(RestoreTestCommand::MeasureRpo(options)) => {
            let r = dr.measure_rpo(&options).await?;
            outcome(&r, render::rpo(&r), !r.analysis.passed)
        }
        Command::RestoreTest(RestoreTestCommand::Report(options)) => {
            let r = dr.history(&options).await?;
            outcome(&r, render::history(&r), false)
        }
        Command::Report {
            format,
            output,
            options,
        } => {
            let r = dr.report(&options).await?;
            // --json is for stdout: with --output the file keeps --format.
            let format = if cli_json && output.is_none() {
                ReportFormat::Json
            } else {
                format
            };
            let rendered = match format {
                ReportFormat::Text => render::report(&r),
                ReportFormat::Json => serde_json::to_string_pretty(&r)
                    .map_err(|e| Error::internal(format!("cannot encode the report: {e}")))?,
                ReportFormat::Markdown => crate::report::markdown::render(&r),
                ReportFormat::Html => crate::report::html::render(&r),
            };
            match output {
                None => outcome(&r, rendered, false),
                Some(path) => {
                    crate::atomic_file::write(&path, rendered.as_bytes(), None)?;
                    let text = format!("wrote the DR report ({}) to {}", r.verdict, path.display());
                    outcome(
                        &serde_json::json!({ "output": path, "verdict": r.verdict, "summary": r.summary }),
                        text,
                        false,
                    )
                }
            }
        }
        Command::Unlock(options) => {
            let r = dr.unlock(&options).await?;
            for w in &r.warnings {
                progress.notice(&format!("warning: {w}"));
            }
            outcome(&r, render::unlock(&r), false)
        }
        Command::Metrics { options, textfile } => {
            metrics::run(&dr, &options, textfile.as_deref()).await
        }
        Command::Check => {
            let r = dr.dr_check().await?;
            let problem = r.results.status != crate::ops::check::Verdict::Healthy;
            outcome(&r, render::check(&r), problem)
        }
        Command::Schema { .. }
        | Command::Tools(_)
        | Command::Serve { .. }
        | Command::Daemon { .. } => Err(Error::internal(
            "schema, tools, serve and daemon are handled before this point",
        )),
        Command::Restore(options) => {
            let r = dr.restore(&options, progress.clone(), &cancel).await?;
            outcome(&r, render::restore(&r), false)
        }
        Command::Alerts(command) => alerts::run(&dr, command).await,
        Command::Diff { options, exit_code } => {
            let r = dr.diff(&options, &cancel).await?;
            outcome(&r, render::diff(&r), exit_code && r.differences)
        }
    }
}

/// `serve`: MCP on stdio, or streamable HTTP until Ctrl-C.
async fn serve(
    dr: Dr,
    http: Option<String>,
    passwd_file: Option<PathBuf>,
    cancel: Cancel,
) -> Result<Outcome> {
    let server = crate::mcp::DrServer::new(dr);
    match http {
        None => crate::mcp::serve_stdio(server).await?,
        Some(addr) => {
            let mut opts = crate::mcp::http::HttpOptions::from_settings(server.dr(), Some(&addr))?;
            if let Some(f) = passwd_file {
                opts.passwd_file = f;
            }
            // Ctrl-C (the process's token) shuts the server down.
            crate::mcp::http::serve(server, opts, cancel.child_token()).await?;
        }
    }
    Ok(Outcome {
        json: serde_json::Value::Null,
        text: String::new(),
        problem: false,
    })
}
