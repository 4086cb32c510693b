//! Operation events: what an operation ended with, as typed values, for observers beside
//! [`Progress`](super::Progress) (a daemon's metrics and alerts) that must never parse text.
//!
//! A [`Dr`] holds at most one [`Observer`] (none by default; [`Dr::with_observer`]). Each
//! observed operation (backup, validation, restore test, cleanup, drill run) emits exactly one
//! event when it ends: `...Finished` with its response, or
//! `...Failed` with the error's kind and message. A failed check (a validation with problems, a
//! restore test that did not pass) is a `...Finished` event whose payload says so; `...Failed`
//! means the operation could not run to its end (settings, key, lock, storage, cancellation).

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::Dr;
use super::integrity::ValidationLevel;
use crate::error::{Error, ErrorKind, Result};
use crate::repo::BackupType;

/// Receives the events of the operations of a [`Dr`]. Called on the task that ran the
/// operation, after it ended: keep it quick (hand work to a channel).
pub trait Observer: Send + Sync {
    fn event(&self, event: &OperationEvent);
}

/// How an operation ended. Serialized as `{"event": "backup_finished", "payload": {...}}`.
/// The payloads are this module's own types (what metrics and alerts need), built by each
/// operation from its response, so the event vocabulary does not depend on the operations.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", content = "payload", rename_all = "snake_case")]
pub enum OperationEvent {
    /// A backup ended: made (`completed`, with id, type, totals, duration) or skipped
    /// (backups are disabled in the settings).
    BackupFinished(BackupFinished),
    BackupFailed(OperationFailure),
    /// A validation ran to its end; `ok` says whether it passed, the counts what it read.
    ValidationFinished(ValidationFinished),
    ValidationFailed(OperationFailure),
    /// A restore test ran to its end; `passed`, `rto_seconds`, `rpo_seconds` and the verdicts.
    RestoreTestFinished(RestoreTestFinished),
    RestoreTestFailed(OperationFailure),
    /// A cleanup ran to its end (a dry run too: `dry_run` says which).
    CleanupFinished(CleanupFinished),
    CleanupFailed(OperationFailure),
    /// Drills ran to their end (or were planned: `dry_run`); `passed` and each drill's result.
    DrillFinished(DrillFinished),
    DrillFailed(OperationFailure),
}

/// Drills that ran to their end (a drill that failed is a result, `passed: false`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillFinished {
    pub dry_run: bool,
    /// Every drill passed (a scheduled run with none due passes).
    pub passed: bool,
    /// The drills run (none for a dry run).
    pub drills: Vec<DrillOutcome>,
}

/// One drill's result, for metrics and alerts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillOutcome {
    pub scenario: String,
    pub passed: bool,
    pub rto_seconds: Option<f64>,
    pub rpo_seconds: Option<f64>,
}

/// A backup that ended: made, or skipped because backups are disabled.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BackupFinished {
    /// false when the backup was skipped (backups disabled in the settings).
    pub completed: bool,
    pub backup_id: Option<String>,
    /// The type made (an incremental with no full before it becomes a full).
    pub backup_type: Option<BackupType>,
    /// Files in the snapshot and their bytes.
    pub files: u64,
    pub bytes: u64,
    /// Sealed bytes this backup added to the repository.
    pub stored_bytes: u64,
    pub duration_seconds: f64,
    /// Every stored file was read back and its SHA-256 checked.
    pub verified: bool,
}

/// A validation that ran to its end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidationFinished {
    pub level: ValidationLevel,
    pub ok: bool,
    pub backups_checked: u64,
    pub volumes_checked: u64,
    pub files_checked: u64,
    pub bytes_read: u64,
    pub problems: u64,
    pub duration_seconds: f64,
    /// The history record the result was kept as.
    pub record_id: Option<String>,
}

/// A restore test that ran to its end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RestoreTestFinished {
    pub backup_id: String,
    pub passed: bool,
    pub rto_seconds: f64,
    pub rto_met: bool,
    pub rpo_seconds: Option<f64>,
    pub rpo_met: bool,
    /// Why it did not pass (empty when it did).
    pub reasons: Vec<String>,
    pub record_id: Option<String>,
}

/// A cleanup that ran to its end.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CleanupFinished {
    pub dry_run: bool,
    /// Backups removed (or that would be, in a dry run).
    pub backups_removed: u64,
    pub bytes_freed: u64,
}

/// Why an operation could not run to its end: the error's kind, message and guidance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OperationFailure {
    pub kind: ErrorKind,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guidance: Option<String>,
}

impl From<&Error> for OperationFailure {
    fn from(e: &Error) -> Self {
        OperationFailure {
            kind: e.kind,
            message: e.to_string(),
            guidance: e.guidance_for(crate::action::Face::Cli),
        }
    }
}

/// The observer a [`Dr`] holds, if any.
#[derive(Clone, Default)]
pub(crate) struct ObserverSlot(Option<Arc<dyn Observer>>);

impl fmt::Debug for ObserverSlot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "ObserverSlot(Some(..))"
        } else {
            "ObserverSlot(None)"
        })
    }
}

impl Dr {
    /// The same operations, each reporting how it ended to `observer`.
    pub fn with_observer(&self, observer: Arc<dyn Observer>) -> Dr {
        let mut dr = self.clone();
        dr.observer = ObserverSlot(Some(observer));
        dr
    }

    /// Emit the event for an operation's result, and pass the result on.
    pub(crate) fn observed<T>(
        &self,
        result: Result<T>,
        finished: impl FnOnce(&T) -> OperationEvent,
        failed: impl FnOnce(OperationFailure) -> OperationEvent,
    ) -> Result<T> {
        if let Some(observer) = &self.observer.0 {
            let event = match &result {
                Ok(r) => finished(r),
                Err(e) => failed(OperationFailure::from(e)),
            };
            observer.event(&event);
        }
        result
    }
}
