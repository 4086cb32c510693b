//! The third face: `mahavishnu-dr daemon`, one long-running process that runs every enabled
//! schedule of the settings (backups by type with cleanup after each, validations, restore
//! tests, drills) and serves MCP over streamable HTTP with `/health` and `/metrics` beside it.
