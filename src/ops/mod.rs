//! The operations layer: one method on [`Dr`] per operation, one options type and one response type each.
//!
//! The CLI and the MCP server call only this. Responses are serde + schemars types: what
//! `--json` prints and what an MCP tool returns as structured content.
//!
//! Two layers: the verbs (one file per public operation, with its request and response types)
//! over the machinery they share (the restore engine `extract`, `integrity`, `measure`,
//! `posture`, `record`, `retention`, ...). A verb never reaches into a sibling verb; machinery
//! never imports a verb and forms no cycle. `layout` tests both.

// The operations (verbs): one public operation each. A verb never reaches into a sibling verb;
// what two of them share is machinery below (the `layout` test holds this).
pub mod backup;
pub mod check;
pub mod cleanup;
pub mod decrypt;
pub mod diff;
pub mod drill;
pub mod health;
pub mod history;
pub mod init;
pub mod metrics;
pub mod replicate;
pub mod report;
pub mod restore;
pub mod restore_test;
pub mod retention_extend;
pub mod rpo;
pub mod rto;
pub mod schedule;
pub mod status;
pub mod unlock;
pub mod validate;

// Machinery the verbs (and drills) share. It never imports a verb, and forms no cycle.
mod assemble;
mod blocks;
pub mod daemon_state;
pub mod defaults;
mod drift;
pub mod enforcement;
pub mod events;
mod extract;
pub mod hosts;
pub mod immutability;
mod integrity;
pub mod job_table;
mod key_file;
mod measure;
mod new_repository;
pub mod notes;
pub mod points;
pub(crate) mod posture;
mod private_dir;
pub mod progress;
mod record;
pub mod replication;
pub mod restore_roots;
pub mod retention;
mod scan;
mod scratch;
mod sqlite;

#[cfg(test)]
mod layout;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::{Error, ErrorKind, Result};
use crate::repo::Repository;
use crate::repo::crypto::Credential;
use crate::repo::locks::{self, LockGuard, LockMode};
use crate::settings::{CommandLine, LoadedSettings, NamedStore, RepositoryArg, StorageTarget};
use crate::storage::{self, DynStorage};

pub use events::OperationEvent;
pub use notes::Notes;
pub use progress::{Cancel, NoProgress, Progress};

/// The operations, bound to one set of settings and one repository store.
#[derive(Debug, Clone)]
pub struct Dr {
    settings: Arc<LoadedSettings>,
    /// The store this `Dr` works on: the primary, or a replica (`--repository NAME`).
    store: NamedStore,
    storage: DynStorage,
    /// Set when the store is read as it was at this instant (`--store-as-of`): read-only.
    as_of: Option<DateTime<Utc>>,
    /// Warnings recorded while operations run (see [`Dr::with_notes`]).
    notes: Notes,
    /// Told how each operation ended (see [`Dr::with_observer`]).
    observer: events::ObserverSlot,
}

impl Dr {
    /// Bind to the repository's primary store as the settings name it (a local folder, an S3
    /// bucket or an Azure Blob container; a cloud primary is never replaced by
    /// `backup.directory`).
    pub fn new(settings: LoadedSettings) -> Result<Dr> {
        Dr::on_store(settings, None)
    }

    /// Bind to the store called `name` (`--repository NAME`: a replica, for failover), or to
    /// the primary when `None`. An unknown name is a usage error that lists the names.
    pub fn on_store(settings: LoadedSettings, name: Option<&str>) -> Result<Dr> {
        let b = &settings.settings.backup;
        let store = match name {
            None => b.storage.primary_store(&b.directory),
            Some(n) => match b.storage.store(n, &b.directory) {
                Some(s) => s,
                None => return Err(unknown_store(&settings, n)),
            },
        };
        let storage = storage::open_store(&store)?;
        Ok(Dr {
            settings: Arc::new(settings),
            store,
            storage,
            as_of: None,
            notes: Notes::new(),
            observer: Default::default(),
        })
    }

    /// Bind to what a command line names: its settings (or a bare host's, when there is no
    /// settings file and `--repository` gives a location), and the store `--repository` names
    /// (a store of the settings, or a location), the primary otherwise.
    pub fn for_command_line(cl: &CommandLine<'_>) -> Result<Dr> {
        let (loaded, repository) = crate::settings::load_command_line(cl)?;
        match repository {
            None => Dr::on_store(loaded, None),
            Some(RepositoryArg::Store(name)) => Dr::on_store(loaded, Some(&name)),
            // A bare host's primary is the location.
            Some(RepositoryArg::Location(_)) if loaded.bare => Dr::on_store(loaded, None),
            Some(RepositoryArg::Location(target)) => Dr::on_location(loaded, target),
        }
    }

    /// Bind to a store given by its location: the configured store in that place when there is
    /// one (its name and settings), else the location as it was given.
    fn on_location(settings: LoadedSettings, target: StorageTarget) -> Result<Dr> {
        let b = &settings.settings.backup;
        let place = target.display_name();
        let store = b
            .storage
            .stores(&b.directory)
            .into_iter()
            .find(|s| s.target.display_name() == place)
            .unwrap_or(NamedStore {
                name: place,
                target,
                primary: false,
                setting: "--repository".to_string(),
            });
        let storage = storage::open_store(&store)?;
        Ok(Dr {
            settings: Arc::new(settings),
            store,
            storage,
            as_of: None,
            notes: Notes::new(),
            observer: Default::default(),
        })
    }

    /// The bare-host policy: without a settings file (`--repository LOCATION` alone) only the
    /// commands that read a repository run (backup list, backup status, backup validate,
    /// restore, decrypt, restore-test report); `command` and every other command need the
    /// settings, and this error says how to get them back.
    pub fn needs_settings(&self, command: &str) -> Result<()> {
        if !self.settings.bare {
            return Ok(());
        }
        Err(Error::settings(format!(
            "`{command}` needs a settings file, and there is none at {}: with --repository \
             LOCATION alone only the commands that read a repository run (backup list, backup \
             status, backup validate, restore, decrypt)",
            self.settings.config_file.display()
        ))
        .with_guidance(
            "restore the backed-up settings first, e.g. `mahavishnu-dr --repository LOCATION \
             --key-file PATH restore --path settings --target DIR` (a project's settings/ folder \
             is stored as `settings`), check its paths for this host, put it in place as \
             settings/mahavishnu.yaml (or pass --config PATH), then run the command again",
        ))
    }

    /// Bind to an explicit store (tests, drills with fault layers), as the primary.
    pub fn with_storage(settings: LoadedSettings, storage: DynStorage) -> Dr {
        let b = &settings.settings.backup;
        let store = b.storage.primary_store(&b.directory);
        Dr {
            settings: Arc::new(settings),
            store,
            storage,
            as_of: None,
            notes: Notes::new(),
            observer: Default::default(),
        }
    }

    /// The same operations on the store as it was at `at` (`--store-as-of TIME`, a time as
    /// [`points::parse_instant`] reads it): an S3 store read through its object versions,
    /// read-only, for recovery after the store was overwritten or deleted from. Commands that
    /// write refuse; reads take no lock (none can be written, and no cleanup can run here).
    pub fn as_of(self, at: &str) -> Result<Dr> {
        let at = points::parse_instant(at)?;
        if at > Utc::now() {
            return Err(Error::usage(format!(
                "--store-as-of {} lies in the future",
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ))
            .with_guidance("give a time before the store was damaged"));
        }
        let storage = storage::open_store_as_of(&self.store, at)?;
        Ok(Dr {
            storage,
            as_of: Some(at),
            ..self
        })
    }

    /// Whether the store in use keeps every object's earlier versions (an immutable S3 store:
    /// object lock needs versioning) and is read as it is now, so that what was overwritten
    /// or deleted there can still be read with `--store-as-of`.
    pub(crate) fn keeps_versions(&self) -> bool {
        self.as_of.is_none()
            && matches!(
                self.store.target,
                StorageTarget::S3 {
                    immutable: true,
                    ..
                }
            )
    }

    /// When this reads the store as it was at an instant (`--store-as-of`).
    pub fn store_as_of(&self) -> Option<DateTime<Utc>> {
        self.as_of
    }

    /// The store in use, as the settings name it.
    pub fn store(&self) -> &NamedStore {
        &self.store
    }

    pub(crate) fn unknown_store(&self, name: &str) -> Error {
        unknown_store(&self.settings, name)
    }

    /// The same operations, recording warnings into `notes`: a face gives each command or tool
    /// call its own, then shows what was recorded (a key file others can read, ...).
    pub fn with_notes(&self, notes: Notes) -> Dr {
        Dr {
            notes,
            ..self.clone()
        }
    }

    pub fn settings(&self) -> &LoadedSettings {
        &self.settings
    }

    pub fn storage(&self) -> &DynStorage {
        &self.storage
    }

    /// The host name this process presents: `backup.host`, else the system's host name. Backups,
    /// locks and history records carry it; chains, retention and `latest` are per host.
    pub fn host(&self) -> String {
        self.settings
            .settings
            .backup
            .host
            .clone()
            .unwrap_or_else(locks::hostname)
    }

    /// This process as a lock holder.
    pub(crate) fn holder(&self) -> locks::Holder {
        locks::Holder::new(&self.host())
    }

    fn key_path(&self) -> PathBuf {
        self.settings.settings.backup.encryption.key_path.clone()
    }

    /// The credential the settings give: the key file, or none when encryption is disabled.
    fn credential(&self) -> Result<Option<Credential>> {
        if !self.settings.settings.backup.encryption.enabled {
            return Ok(None);
        }
        Ok(Some(Credential::KeyFile(self.read_key()?)))
    }

    /// Open the repository with the configured key.
    pub async fn open_repo(&self) -> Result<Repository> {
        let cred = self.credential()?;
        Repository::open(self.storage.clone(), cred.as_ref())
            .await
            .map_err(|e| {
                if e.kind == ErrorKind::NotFound && self.keeps_versions() {
                    e.with_guidance(format!(
                        "or, if the repository was there and was deleted: {}",
                        as_of_hint()
                    ))
                } else if e.kind == ErrorKind::Key && cred.is_some() {
                    let mut e = e;
                    e.message = format!("{} (key file {})", e.message, self.key_path().display());
                    e
                } else {
                    e
                }
            })
    }

    pub(crate) async fn lock(
        &self,
        mode: LockMode,
        operation: &str,
        progress: &dyn Progress,
        cancel: &Cancel,
    ) -> Result<LockGuard> {
        if let Some(at) = self.as_of {
            if mode == LockMode::Shared {
                return Ok(LockGuard::none());
            }
            return Err(Error::new(
                ErrorKind::Refused,
                format!(
                    "`{operation}` changes the store, and --store-as-of {} reads it as it was: \
                     nothing can be written through it",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            )
            .with_guidance(format!(
                "run it without --store-as-of; what the view is for: {AS_OF_USES}"
            )));
        }
        let wait = Duration::from_secs(self.settings.settings.backup.lock_wait_seconds);
        let notice = |m: String| progress.notice(&m);
        locks::acquire_or_cancel(
            &self.storage,
            &self.holder(),
            mode,
            operation,
            wait,
            &notice,
            cancel,
        )
        .await
    }
}

/// What a store read as it was (`--store-as-of`) is for.
pub(crate) const AS_OF_USES: &str = "restore, backup list, backup validate; `replicate --to \
     NAME` copies that state to another store";

/// What to do when an object-locked store was overwritten or deleted from.
pub(crate) fn as_of_hint() -> String {
    format!(
        "this store keeps the locked versions of what was overwritten or deleted: read it as \
         it was before with `--store-as-of TIME` ({AS_OF_USES})"
    )
}

/// A store name the settings do not give.
fn unknown_store(settings: &LoadedSettings, name: &str) -> Error {
    let b = &settings.settings.backup;
    let names: Vec<String> = b
        .storage
        .stores(&b.directory)
        .into_iter()
        .map(|s| s.name)
        .collect();
    Error::usage(format!(
        "no store is called {name:?}; the settings name: {}",
        names.join(", ")
    ))
    .with_guidance("name one of those, or add the store to backup.storage.replicas with a name")
}

/// Run `f` under a lock and release the lock whatever `f` returns.
pub(crate) async fn with_lock<T>(
    guard: LockGuard,
    f: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let r = f.await;
    let released = guard.release().await;
    match (r, released) {
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) => Err(e.context("releasing the repository lock")),
        (Err(e), _) => Err(e),
    }
}

/// Seconds, rounded to milliseconds, for responses.
pub(crate) fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}

pub(crate) fn cancelled() -> Error {
    Error::new(ErrorKind::Cancelled, "the operation was cancelled")
        .with_guidance("nothing was committed; the repository is unchanged and valid")
}
