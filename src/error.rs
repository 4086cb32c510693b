//! The boundary error: what went wrong (kind), what to do about it (guidance), and where (context).

use std::fmt;
use std::sync::Arc;

use crate::action::{Advice, Face};

use schemars::JsonSchema;
use serde::Serialize;

/// What class of failure an [`Error`] is; decides the exit code and how a face presents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The command line or tool arguments are wrong.
    Usage,
    /// A settings file or environment override is wrong.
    Settings,
    /// The encryption key is missing, unreadable or wrong.
    Key,
    /// Something asked for does not exist (backup id, repository, path).
    NotFound,
    /// Stored data failed a check: corrupt, truncated or missing volume, checksum mismatch.
    Integrity,
    /// The backing store failed (I/O, permissions, full disk, network).
    Storage,
    /// Local filesystem work failed (reading sources, writing a restore).
    Io,
    /// Another process holds a lock that this operation needs.
    Locked,
    /// The operation was cancelled.
    Cancelled,
    /// The operation refused to act (unsafe target, missing confirmation, disabled by settings).
    Refused,
    /// A broken invariant inside mahavishnu-dr: a bug.
    Internal,
}

impl ErrorKind {
    /// Exit code for the CLI: 2 for usage, settings and key problems; 1 for everything else.
    pub fn exit_code(self) -> i32 {
        match self {
            ErrorKind::Usage | ErrorKind::Settings | ErrorKind::Key => 2,
            _ => 1,
        }
    }
}

/// The one error type at the crate boundary.
#[derive(Debug, Clone, Serialize, JsonSchema)]
pub struct Error {
    pub kind: ErrorKind,
    /// What went wrong, in one sentence.
    pub message: String,
    /// What to do next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub guidance: Option<String>,
    /// Where it happened, outermost last (file names, backup ids, volume names).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<String>,
    /// A storage failure that may pass if tried again (the retry layer uses it).
    #[serde(skip)]
    pub transient: bool,
    /// The lower-level error this one wraps (an OS or object-store error), for
    /// [`std::error::Error::source`] chains in logs; never shown in place of `message`.
    #[serde(skip)]
    #[schemars(skip)]
    pub source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
    /// The step to take, typed, so each face words it (a command line, a tool call); shown
    /// before `guidance`. [`Error::worded_for`] folds it into `guidance` for one face.
    #[serde(skip)]
    #[schemars(skip)]
    pub next: Option<Box<Advice>>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            guidance: None,
            context: Vec::new(),
            transient: false,
            source: None,
            next: None,
        }
    }

    /// The step to take next (worded by each face), shown before the guidance.
    pub fn with_next(mut self, next: Advice) -> Self {
        self.next = Some(Box::new(next));
        self
    }

    /// What to do, in `face`'s words: the next step, then the guidance.
    pub fn guidance_for(&self, face: Face) -> Option<String> {
        match (&self.next, &self.guidance) {
            (Some(n), Some(g)) => Some(format!("{}; {g}", n.render(face))),
            (Some(n), None) => Some(n.render(face)),
            (None, g) => g.clone(),
        }
    }

    /// This error as `face` shows it: the next step folded into `guidance`.
    pub fn worded_for(&self, face: Face) -> Error {
        Error {
            guidance: self.guidance_for(face),
            next: None,
            ..self.clone()
        }
    }

    /// Keep `source` as the error this one wraps.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Usage, message)
    }
    pub fn settings(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Settings, message)
    }
    pub fn key(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Key, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub fn integrity(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Integrity, message)
    }
    pub fn storage(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Storage, message)
    }
    pub fn io(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Io, message)
    }
    pub fn refused(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Refused, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Internal, message)
    }

    /// Wrap an OS error from local filesystem work, naming the path and the action.
    pub fn from_io(action: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        let guidance = match err.kind() {
            std::io::ErrorKind::PermissionDenied => {
                Some("check the permissions of the path, or run as a user that may access it")
            }
            std::io::ErrorKind::NotFound => Some("check that the path exists"),
            std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded => {
                Some("free space on that filesystem, then run the command again")
            }
            _ => None,
        };
        let mut e = Error::io(format!("cannot {action} {}: {err}", path.display()));
        e.guidance = guidance.map(str::to_string);
        e.with_source(err)
    }

    pub fn with_guidance(mut self, guidance: impl Into<String>) -> Self {
        self.guidance = Some(guidance.into());
        self
    }

    /// Add a line of context (outermost last).
    pub fn context(mut self, context: impl Into<String>) -> Self {
        self.context.push(context.into());
        self
    }

    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        for c in &self.context {
            write!(f, "\n  while {c}")?;
        }
        if let Some(g) = self.guidance_for(Face::Cli) {
            write!(f, "\n  what to do: {g}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn the_source_chain_is_kept_and_not_printed_in_its_place() {
        let os = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "denied by the OS");
        let e = Error::from_io("read", std::path::Path::new("/x"), os).context("backing up /x");
        let source = e.source().expect("the OS error is the source");
        assert_eq!(source.to_string(), "denied by the OS");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        // A clone keeps it; the JSON form (faces, MCP) does not carry it.
        assert!(e.clone().source().is_some());
        let json = serde_json::to_value(&e).unwrap();
        assert!(json.get("source").is_none(), "{json}");
        assert!(Error::usage("x").source().is_none());
    }

    #[test]
    fn the_next_step_is_worded_by_each_face() {
        use crate::action::{Action, Advice, Face};
        let e = Error::not_found("there is no backup x")
            .with_next(Advice::step(Action::ListBackups, "to see the backups"))
            .with_guidance("backup ids start with backup_");
        assert_eq!(
            e.guidance_for(Face::Cli).unwrap(),
            "run `mahavishnu-dr backup list` to see the backups; backup ids start with backup_"
        );
        assert_eq!(
            e.guidance_for(Face::Mcp).unwrap(),
            "call `backup_list {}` to see the backups; backup ids start with backup_"
        );
        // The command line shows its own words; a face's copy carries them in `guidance`.
        assert!(
            e.to_string()
                .contains("what to do: run `mahavishnu-dr backup list`")
        );
        let mcp = e.worded_for(Face::Mcp);
        assert!(mcp.next.is_none());
        assert!(mcp.guidance.unwrap().starts_with("call `backup_list {}`"));
        let json = serde_json::to_value(e.worded_for(Face::Cli)).unwrap();
        assert!(
            json["guidance"]
                .as_str()
                .unwrap()
                .contains("mahavishnu-dr backup list")
        );
    }
}
