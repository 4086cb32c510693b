//! mahavishnu-dr: encrypted, verified backups of a service's state, and measured recovery.
//!
//! The layers, top to bottom: the faces (the command line, the MCP server) call [`Dr`], the
//! operations layer; the operations use the repository format, which speaks to a [`Storage`]
//! (an object store trait over OpenDAL, with retry, timeout and fault-injection wrappers). The
//! settings are loaded once ([`load_settings`]) into a typed model and handed down.
//!
//! The public API is what a program embedding the tool needs: [`Dr`] and its operations, one
//! options type and one response type per operation (the same types the command line's `--json`
//! prints and the MCP tools return), progress, cancellation and operation events, the storage
//! trait and its wrappers, and [`Error`]. Everything else is private to the crate.

mod action;
mod atomic_file;
mod cli;
mod daemon;
mod error;
mod mcp;
mod ops;
mod present;
mod repo;
mod report;
mod schedule;
mod settings;
mod storage;

pub use error::{Error, ErrorKind, Result};
pub use settings::{LoadedSettings, load as load_settings};

// The operations, and what they take and return.
pub use ops::backup::{BackupOptions, BackupResponse, BackupStatus};
pub use ops::check::{CheckStatus, DrCheckResponse, Verdict};
pub use ops::cleanup::{CleanupOptions, CleanupResponse};
pub use ops::decrypt::{DecryptOptions, DecryptResponse};
pub use ops::diff::{DiffOptions, DiffResponse};
pub use ops::drill::{
    DrillListResponse, DrillPlan, DrillReportOptions, DrillReportResponse, DrillResult,
    DrillRunOptions, DrillRunResponse, DrillStep, KeptDrill, ScenarioInfo, StepPhase,
};
pub use ops::events::{
    BackupFinished, CleanupFinished, DrillFinished, DrillOutcome, Observer, OperationEvent,
    OperationFailure, RestoreTestFinished, ValidationFinished,
};
pub use ops::health::Health;
pub use ops::history::{Direction, HistoryItem, HistoryOptions, HistoryResponse, Trend};
pub use ops::init::{InitOptions, InitResponse};
pub use ops::metrics::{MetricFamily, MetricType, MetricsOptions, MetricsResponse, Sample};
pub use ops::replicate::{ReplicateOptions, ReplicateResponse};
pub use ops::report::{
    CheckName, Posture, PostureCheck, ReportOptions, ReportResponse, ResilienceScore, ScenarioScore,
};
pub use ops::restore::{Placement, RestoreOptions, RestoreResponse};
pub use ops::restore_test::{RestoreTestOptions, RestoreTestResponse};
pub use ops::retention_extend::{ExtendOptions, ExtendResponse};
pub use ops::rpo::{MeasureRpoOptions, MeasureRpoResponse};
pub use ops::rto::{MeasureRtoOptions, MeasureRtoResponse};
pub use ops::schedule::{
    DaemonSummary, ExportFormat, LastRun, ScheduleExport, ScheduleOptions, ScheduleResponse,
    ScheduledJob,
};
pub use ops::status::{ListOptions, ListResponse, StatusOptions, StatusResponse, TypeFilter};
pub use ops::unlock::{UnlockOptions, UnlockResponse};
pub use ops::validate::{ValidateOptions, ValidateResponse, ValidationLevel};
pub use ops::{Cancel, Dr, NoProgress, Notes, Progress};
pub use repo::BackupType;

// Where the repository lives.
pub use storage::{
    DynStorage, Fault, FaultStats, FaultStorage, MemoryStorage, ObjectInfo, ObjectWriter,
    OpendalStorage, Partition, RetryStorage, Storage, TimeoutStorage, open as open_storage,
    probe::create_only_enforced as probe_create_only, without_credential_logs,
};

// The faces, for the binary and for programs that serve MCP themselves.
pub use cli::{Cli, run as run_cli};
pub use mcp::{DrServer, export_tools, serve_stdio};

/// The repository format's readers and writers, for this crate's own white-box tests, fuzzers
/// and benchmarks. Not a stable API: nothing outside this repository should use it.
#[doc(hidden)]
#[doc(hidden)]
pub use storage::contract as storage_contract;

pub mod internals {
    pub use crate::repo::*;
    pub use crate::storage::object_lock::S3ObjectLock;
}
