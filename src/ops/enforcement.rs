//! This host's record of object-lock probes: when each immutable S3 store was last checked to
//! refuse a delete of a locked version, and whether it did. Kept beside the daemon's state
//! (`daemon.state_dir/enforcement.json`, private to this host), never in the store: a writer of
//! the store must not be able to claim a verification that did not happen.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const FILE: &str = "enforcement.json";
const VERSION: u32 = 1;

/// One probe of one store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Probe {
    pub at: DateTime<Utc>,
    /// The server refused to delete a locked object version.
    pub enforced: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Record {
    version: u32,
    /// By the store's location (`s3://bucket/prefix at endpoint`).
    stores: BTreeMap<String, Probe>,
}

fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE)
}

fn load(state_dir: &Path) -> Record {
    super::daemon_state::load_versioned(
        &path(state_dir),
        VERSION,
        |r: &Record| r.version,
        "the record of object-lock checks",
        "the stores count as not verified until checked again",
    )
    .0
    .unwrap_or_default()
}

/// The last probe of the store at `location` made from this host, if any.
pub fn last_probe(state_dir: &Path, location: &str) -> Option<Probe> {
    load(state_dir).stores.get(location).cloned()
}

/// Keep a probe's outcome (the folder is made private when missing).
pub fn record(state_dir: &Path, location: &str, probe: Probe) -> Result<()> {
    super::daemon_state::ensure_state_dir(state_dir)?;
    let mut r = load(state_dir);
    r.version = VERSION;
    r.stores.insert(location.to_string(), probe);
    let bytes = serde_json::to_vec_pretty(&r)
        .map_err(|e| Error::internal(format!("cannot encode the record of checks: {e}")))?;
    crate::atomic_file::write(&path(state_dir), &bytes, Some(0o600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes_are_kept_per_store_and_a_damaged_record_verifies_nothing() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("state");
        assert_eq!(last_probe(&dir, "s3://a"), None);
        let at = Utc::now();
        record(&dir, "s3://a", Probe { at, enforced: true }).unwrap();
        record(
            &dir,
            "s3://b",
            Probe {
                at,
                enforced: false,
            },
        )
        .unwrap();
        assert_eq!(last_probe(&dir, "s3://a").map(|p| p.enforced), Some(true));
        assert_eq!(last_probe(&dir, "s3://b").map(|p| p.enforced), Some(false));
        std::fs::write(dir.join(FILE), b"{not json").unwrap();
        assert_eq!(last_probe(&dir, "s3://a"), None);
    }
}
