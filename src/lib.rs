//! mahavishnu-dr: encrypted, verified backups of a service's state, and measured recovery.
//!
//! The layers, top to bottom: the faces ([`cli`], the MCP server to come) call [`ops::Dr`]; the
//! operations use [`repo`] (the repository format) which speaks to [`storage`] (an object store
//! trait over OpenDAL). [`settings`] loads the typed settings once and hands them down.

pub mod cli;
pub mod error;
pub mod mcp;
pub mod ops;
pub mod present;
pub mod repo;
pub mod report;
pub mod schedule;
pub mod settings;
pub mod storage;

pub use error::{Error, ErrorKind, Result};
pub use ops::Dr;
pub use settings::{LoadedSettings, load as load_settings};
