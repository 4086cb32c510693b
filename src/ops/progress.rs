//! Progress reporting and cancellation: one sink trait for every face, one token passed down.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Where long operations report how far they are. Implementations: a terminal progress bar (CLI),
/// MCP progress notifications (server), nothing (tests, `--json`).
pub trait Progress: Send + Sync {
    /// A new phase starts; `total` in the phase's unit (bytes) when known.
    fn phase(&self, _name: &str, _total: Option<u64>) {}
    /// `n` more units of the current phase are done.
    fn advance(&self, _n: u64) {}
    /// Something a person should read (a broken stale lock, a wait, a warning).
    fn notice(&self, _message: &str) {}
    /// The phase is over.
    fn finish(&self) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}

/// A cancellation token: cheap to clone, checked between files and frames.
#[derive(Debug, Default, Clone)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}
