//! The third face: `mahavishnu-dr daemon`, one long-running process that runs every enabled
//! schedule of the settings (backups by type with cleanup after each, validations, restore
//! tests, drills) and serves MCP over streamable HTTP with `/health` and `/metrics` beside it.

// The daemon's scheduler calls the Alerter and conditions::evaluate (this session); until it
// lands only `alerts test` uses this module.
#[allow(dead_code)]
pub mod alerts;
