//! Progress reporting and cancellation: one sink trait for every face, one token passed down.

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

/// The cancellation token, tokio-util's: cheap to clone; blocking work checks `is_cancelled()`
/// between files and frames, async code awaits `cancelled()` (in `select!`), and a
/// `child_token()` is cancelled with its parent (a tool call's token under the server's, a
/// daemon job's under the daemon's) without cancelling it.
pub type Cancel = tokio_util::sync::CancellationToken;
