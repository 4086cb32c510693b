//! Operation events: what an operation ended with, as typed values, for observers beside
//! [`Progress`](super::Progress) (a daemon's metrics and alerts) that must never parse text.
//!
//! A [`Dr`] holds at most one [`Observer`] (none by default; [`Dr::with_observer`]). Each
//! observed operation emits exactly one event when it ends: `...Finished` with its response, or
//! `...Failed` with the error's kind and message. A failed check (a validation with problems, a
//! restore test that did not pass) is a `...Finished` event whose payload says so; `...Failed`
//! means the operation could not run to its end (settings, key, lock, storage, cancellation).

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::Dr;
use super::backup::BackupResponse;
use super::cleanup::CleanupResponse;
use super::restore_test::RestoreTestResponse;
use super::validate::ValidateResponse;
use crate::error::{Error, ErrorKind, Result};

/// Receives the events of the operations of a [`Dr`]. Called on the task that ran the
/// operation, after it ended: keep it quick (hand work to a channel).
pub trait Observer: Send + Sync {
    fn event(&self, event: &OperationEvent);
}

/// How an operation ended. Serialized as `{"event": "backup_finished", "payload": {...}}`.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", content = "payload", rename_all = "snake_case")]
pub enum OperationEvent {
    /// A backup ended: made (`status: completed`, with id, type, totals, duration) or skipped
    /// (`status: skipped`: backups are disabled in the settings).
    BackupFinished(Box<BackupResponse>),
    BackupFailed(OperationFailure),
    /// A validation ran to its end; `ok` says whether it passed, the counts what it read.
    ValidationFinished(Box<ValidateResponse>),
    ValidationFailed(OperationFailure),
    /// A restore test ran to its end; `passed`, `rto_seconds`, `rpo_seconds` and their targets.
    RestoreTestFinished(Box<RestoreTestResponse>),
    RestoreTestFailed(OperationFailure),
    /// A cleanup ran to its end (a dry run too: `dry_run` says which).
    CleanupFinished(Box<CleanupResponse>),
    CleanupFailed(OperationFailure),
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
            guidance: e.guidance.clone(),
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
    pub(crate) fn observed<T: Clone>(
        &self,
        result: Result<T>,
        finished: impl FnOnce(Box<T>) -> OperationEvent,
        failed: impl FnOnce(OperationFailure) -> OperationEvent,
    ) -> Result<T> {
        if let Some(observer) = &self.observer.0 {
            let event = match &result {
                Ok(r) => finished(Box::new(r.clone())),
                Err(e) => failed(OperationFailure::from(e)),
            };
            observer.event(&event);
        }
        result
    }
}
