//! History records: the results of validations, restore tests and RTO/RPO measurements, sealed in
//! the repository under `history/` so every host with the key sees the same history.
//!
//! A record is one object, `history/<record id>`, written once (put-if-absent through the
//! store's atomic write) after the measurement it records is complete; a record that exists is
//! whole. Record ids start with the time, so listing them sorts them oldest first.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Repository;
use super::bounded::{MAX_HISTORY_JSON, MAX_HISTORY_SEALED, read_bounded, unseal_json};
use super::envelope::{self, ObjectKind};
use crate::error::{Error, ErrorKind, Result};

pub use super::keys::HISTORY_PREFIX;

/// What a record holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Validation,
    RestoreTest,
    RtoMeasurement,
    RpoMeasurement,
}

impl RecordKind {
    fn slug(self) -> &'static str {
        match self {
            RecordKind::Validation => "validation",
            RecordKind::RestoreTest => "restore-test",
            RecordKind::RtoMeasurement => "rto",
            RecordKind::RpoMeasurement => "rpo",
        }
    }
}

/// One kept result.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct HistoryRecord {
    pub record_id: String,
    pub kind: RecordKind,
    /// When the measurement finished.
    pub at: DateTime<Utc>,
    pub host: String,
    pub tool_version: String,
    pub passed: bool,
    /// One line for people.
    pub summary: String,
    /// The operation's full response (its `--json` shape).
    pub data: Value,
}

impl HistoryRecord {
    pub fn new(kind: RecordKind, passed: bool, summary: String, data: Value) -> HistoryRecord {
        let at = Utc::now();
        let suffix: u32 = rand::random();
        HistoryRecord {
            record_id: format!(
                "{}_{}_{suffix:08x}",
                at.format("%Y%m%dT%H%M%S%.3fZ"),
                kind.slug()
            ),
            kind,
            at,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            passed,
            summary,
            data,
        }
    }
}

fn check_record_id(id: &str) -> Result<()> {
    if super::kind::is_key_safe(id) {
        Ok(())
    } else {
        Err(Error::usage(format!("{id:?} is not a history record id")))
    }
}

impl Repository {
    /// Seal and store a record (once; an existing id is never replaced).
    pub async fn write_history(&self, record: &HistoryRecord) -> Result<()> {
        check_record_id(&record.record_id)?;
        self.authenticate_config().await?;
        let json = serde_json::to_vec(record)
            .map_err(|e| Error::internal(format!("cannot encode a history record: {e}")))?;
        let packed = zstd::bulk::compress(&json, 3)
            .map_err(|e| Error::internal(format!("cannot compress a history record: {e}")))?;
        let sealed = envelope::seal_all(
            self.master()?,
            &self.context(ObjectKind::History, &record.record_id, 0),
            &packed,
        );
        let key = super::keys::history_key(&record.record_id);
        if !self
            .storage
            .put_if_absent(&key, Bytes::from(sealed))
            .await?
        {
            return Err(Error::internal(format!(
                "history record {} already exists",
                record.record_id
            )));
        }
        Ok(())
    }

    /// Record ids, oldest first.
    pub async fn list_history(&self) -> Result<Vec<String>> {
        let mut ids: Vec<String> = self
            .storage
            .list(HISTORY_PREFIX)
            .await?
            .into_iter()
            .filter_map(|o| o.key.strip_prefix(HISTORY_PREFIX).map(str::to_string))
            .filter(|id| !id.contains('/') && check_record_id(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }

    pub async fn read_history(&self, id: &str) -> Result<HistoryRecord> {
        check_record_id(id)?;
        let what = format!("history record {id}");
        let sealed = read_bounded(
            &self.storage,
            &super::keys::history_key(id),
            MAX_HISTORY_SEALED,
            &what,
        )
        .await
        .map_err(|e| {
            if e.kind == ErrorKind::NotFound {
                Error::not_found(format!("there is no history record {id}"))
            } else {
                e
            }
        })?;
        let record: HistoryRecord = unseal_json(
            self.master()?,
            self.context(ObjectKind::History, id, 0),
            &sealed,
            MAX_HISTORY_JSON,
            &what,
            false,
        )?;
        if record.record_id != id {
            return Err(Error::integrity(format!(
                "history record {id} names itself {}",
                record.record_id
            )));
        }
        Ok(record)
    }

    /// The newest readable record of `kind`, if there is one (older ones are read only when a
    /// newer one is unreadable).
    pub async fn latest_history(&self, kind: RecordKind) -> Result<Option<HistoryRecord>> {
        let tag = format!("_{}_", kind.slug());
        for id in self.list_history().await?.iter().rev() {
            if id.contains(&tag)
                && let Ok(r) = self.read_history(id).await
                && r.kind == kind
            {
                return Ok(Some(r));
            }
        }
        Ok(None)
    }

    /// The newest `last` records (all when 0), oldest first; unreadable ones are skipped and
    /// named in the second list.
    pub async fn recent_history(&self, last: usize) -> Result<(Vec<HistoryRecord>, Vec<String>)> {
        let ids = self.list_history().await?;
        let start = if last == 0 {
            0
        } else {
            ids.len().saturating_sub(last)
        };
        let mut records = Vec::new();
        let mut unreadable = Vec::new();
        for id in &ids[start..] {
            match self.read_history(id).await {
                Ok(r) => records.push(r),
                Err(e) => unreadable.push(format!("{id}: {}", e.message)),
            }
        }
        Ok((records, unreadable))
    }
}
