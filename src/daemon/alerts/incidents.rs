//! The open incidents and what each channel has been told of them, kept in `alerts.json` in
//! `daemon.state_dir` (0600, written atomically): a restart neither re-sends an alert already
//! delivered nor forgets one owed. Versioned; an unreadable file is set aside as
//! `alerts.json.unreadable` and the daemon starts with no incident (each active condition then
//! alerts once more).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AlertStatus, Condition};
use crate::error::{Error, Result};
use crate::ops::daemon_state::{ensure_state_dir, load_versioned};

/// The file name in `daemon.state_dir`.
pub const ALERTS_FILE: &str = "alerts.json";

/// The version of `alerts.json` this build writes and reads.
const ALERTS_VERSION: u32 = 1;

/// One incident: opened when its condition became active, cleared when it became inactive.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Incident {
    pub key: String,
    pub summary: String,
    pub detail: String,
    pub opened_at: DateTime<Utc>,
    /// The channels told it opened.
    pub firing_delivered: BTreeSet<String>,
    /// When its condition cleared; the incident is kept until the channels told it opened are
    /// told it cleared.
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_summary: Option<String>,
    /// The channels told it cleared.
    pub resolved_delivered: BTreeSet<String>,
}

/// `alerts.json`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(super) struct IncidentFile {
    pub version: u32,
    pub incidents: BTreeMap<String, Incident>,
}

impl IncidentFile {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(ALERTS_FILE)
    }

    /// Read the file; missing is empty, unreadable is set aside (the warning says so).
    pub fn load(state_dir: &Path) -> (IncidentFile, Option<String>) {
        let (file, warning) = load_versioned(
            &Self::path(state_dir),
            ALERTS_VERSION,
            |f: &IncidentFile| f.version,
            "the alert state",
            "open incidents alert again",
        );
        let fresh = || IncidentFile {
            version: ALERTS_VERSION,
            incidents: BTreeMap::new(),
        };
        (file.unwrap_or_else(fresh), warning)
    }

    pub fn save(&mut self, state_dir: &Path) -> Result<()> {
        self.version = ALERTS_VERSION;
        ensure_state_dir(state_dir)?;
        let bytes = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::internal(format!("cannot encode the alert state: {e}")))?;
        crate::atomic_file::write(&Self::path(state_dir), &bytes, Some(0o600))
    }

    /// Open, keep or clear incidents by this evaluation's conditions; returns the keys opened
    /// and cleared. A condition left out changes nothing.
    pub fn apply(
        &mut self,
        conditions: &[Condition],
        now: DateTime<Utc>,
    ) -> (Vec<String>, Vec<String>) {
        let mut opened = Vec::new();
        let mut cleared = Vec::new();
        for c in conditions {
            match (self.incidents.get_mut(&c.key), c.active) {
                (None, true) => {
                    self.incidents.insert(
                        c.key.clone(),
                        Incident {
                            key: c.key.clone(),
                            summary: c.summary.clone(),
                            detail: c.detail.clone(),
                            opened_at: now,
                            firing_delivered: BTreeSet::new(),
                            resolved_at: None,
                            resolved_summary: None,
                            resolved_delivered: BTreeSet::new(),
                        },
                    );
                    opened.push(c.key.clone());
                }
                (Some(i), true) => {
                    if i.resolved_at.is_some() {
                        // Back before every channel heard it cleared: those that did hear it
                        // are told it fired again; the others still hold it as open.
                        for ch in std::mem::take(&mut i.resolved_delivered) {
                            i.firing_delivered.remove(&ch);
                        }
                        i.resolved_at = None;
                        i.resolved_summary = None;
                        opened.push(c.key.clone());
                    }
                }
                (Some(i), false) => {
                    if i.resolved_at.is_none() {
                        i.resolved_at = Some(now);
                        i.resolved_summary = Some(c.summary.clone());
                        cleared.push(c.key.clone());
                    }
                }
                (None, false) => {}
            }
        }
        (opened, cleared)
    }

    /// The messages owed: (key, firing or resolved, channel id), for the channels `ids`.
    pub fn owed(&self, ids: &[String]) -> Vec<(String, AlertStatus, String)> {
        let mut out = Vec::new();
        for i in self.incidents.values() {
            if i.resolved_at.is_none() {
                for id in ids.iter().filter(|id| !i.firing_delivered.contains(*id)) {
                    out.push((i.key.clone(), AlertStatus::Firing, id.clone()));
                }
            } else {
                for id in ids.iter().filter(|id| {
                    i.firing_delivered.contains(*id) && !i.resolved_delivered.contains(*id)
                }) {
                    out.push((i.key.clone(), AlertStatus::Resolved, id.clone()));
                }
            }
        }
        out
    }

    pub fn delivered(&mut self, key: &str, status: AlertStatus, channel: &str) {
        if let Some(i) = self.incidents.get_mut(key) {
            match status {
                AlertStatus::Firing => {
                    i.firing_delivered.insert(channel.to_string());
                }
                AlertStatus::Resolved => {
                    i.resolved_delivered.insert(channel.to_string());
                }
                AlertStatus::Test | AlertStatus::Started => {}
            }
        }
    }

    /// Drop the cleared incidents that no configured channel is still owed a message for.
    pub fn forget_finished(&mut self, ids: &[String]) -> bool {
        let before = self.incidents.len();
        self.incidents.retain(|_, i| {
            i.resolved_at.is_none()
                || ids
                    .iter()
                    .any(|id| i.firing_delivered.contains(id) && !i.resolved_delivered.contains(id))
        });
        before != self.incidents.len()
    }
}
