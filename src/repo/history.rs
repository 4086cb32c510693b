//! History records: the results of validations, restore tests and RTO/RPO measurements, sealed in
//! the repository under `history/` so every host with the key sees the same history.
//!
//! A record is one object, `history/<record id>`, written once (put-if-absent through the
//! store's atomic write) after the measurement it records is complete; a record that exists is
//! whole. Record ids start with the time, so listing them sorts them oldest first.
//!
//! A record is an envelope (kind, time, host, pass/fail, summary) around a typed payload of a
//! versioned shape per kind (`history_payload`) and the command's output as an opaque `detail`.
//! A record this release cannot read (a newer payload version, a payload that does not parse) is
//! named with the reason, never taken for a result.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Repository;
use super::bounded::{MAX_HISTORY_JSON, MAX_HISTORY_SEALED, read_bounded, unseal_json};
use super::envelope::{self, ObjectKind};
pub use super::history_payload::{
    DriftSummary, DrillPayload, DrillStepPayload, LEGACY_PAYLOAD_VERSION, RecordKind,
    RecordPayload, RestoreTestPayload, RpoPayload, RtoPayload, StepOutcome, ValidationPayload,
    ValidationScope,
};
use crate::error::{Error, ErrorKind, Result};

pub use super::keys::HISTORY_PREFIX;

/// One kept result, as readers see it: the envelope and the typed payload of its kind.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRecord {
    pub record_id: String,
    /// When the measurement finished.
    pub at: DateTime<Utc>,
    pub host: String,
    pub tool_version: String,
    pub passed: bool,
    /// One line for people.
    pub summary: String,
    /// The figures readers use; its variant is the record's kind.
    pub payload: RecordPayload,
    /// The payload version it was stored with (0: the first release's `data`).
    pub payload_version: u32,
    /// The operation's `--json` output when it was kept, for people reading the store. Opaque:
    /// no reader looks into it, and its shape may change with any release.
    pub detail: Option<Value>,
}

/// A record that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnreadableRecord {
    pub record_id: String,
    pub reason: String,
}

/// The stored JSON of a record: the envelope, the versioned payload, the opaque detail; or, from
/// the first release, the envelope and `data`. Readers turn it into a [`HistoryRecord`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecord {
    #[serde(rename = "record_id")]
    record_id: String,
    /// Kept as text so that a kind this release does not know is named, not a parse error.
    #[serde(rename = "kind")]
    kind: String,
    #[serde(rename = "at")]
    at: DateTime<Utc>,
    #[serde(rename = "host")]
    host: String,
    #[serde(rename = "tool_version")]
    tool_version: String,
    #[serde(rename = "passed")]
    passed: bool,
    #[serde(rename = "summary")]
    summary: String,
    #[serde(rename = "payload_version", default)]
    payload_version: Option<u32>,
    #[serde(rename = "payload", default, skip_serializing_if = "Option::is_none")]
    payload: Option<Value>,
    #[serde(rename = "detail", default, skip_serializing_if = "Option::is_none")]
    detail: Option<Value>,
    /// The first release: the command's output, read by the compatibility reader.
    #[serde(rename = "data", default, skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
}

impl HistoryRecord {
    pub fn new(
        passed: bool,
        summary: String,
        payload: RecordPayload,
        detail: Option<Value>,
    ) -> HistoryRecord {
        let at = Utc::now();
        let suffix: u32 = rand::random();
        let kind = payload.kind();
        HistoryRecord {
            record_id: format!(
                "{}_{}_{suffix:08x}",
                at.format("%Y%m%dT%H%M%S%.3fZ"),
                kind.slug()
            ),
            at,
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            passed,
            summary,
            payload_version: kind.payload_version(),
            payload,
            detail,
        }
    }

    pub fn kind(&self) -> RecordKind {
        self.payload.kind()
    }

    /// The stored form: the envelope, the payload of this release's version, the detail.
    pub fn to_stored(&self) -> serde_json::Result<StoredRecord> {
        let kind = self.kind();
        Ok(StoredRecord {
            record_id: self.record_id.clone(),
            kind: kind.name().to_string(),
            at: self.at,
            host: self.host.clone(),
            tool_version: self.tool_version.clone(),
            passed: self.passed,
            summary: self.summary.clone(),
            payload_version: Some(kind.payload_version()),
            payload: Some(self.payload.encode()?),
            detail: self.detail.clone(),
            data: None,
        })
    }

    /// Read a stored record: its payload of this release's version or older, or a first-release
    /// record's `data`; otherwise why not.
    pub fn from_stored(s: StoredRecord) -> std::result::Result<HistoryRecord, String> {
        let kind = RecordKind::from_name(&s.kind)
            .ok_or_else(|| format!("its kind {:?} is unknown to this release", s.kind))?;
        let (payload, payload_version, detail) = match (s.payload_version, s.payload, s.data) {
            (Some(v), Some(p), _) => (RecordPayload::decode(kind, v, p)?, v, s.detail),
            (Some(v), None, _) => return Err(format!("it has payload version {v} but no payload")),
            // The first release: the command's output was the data; it stays as the detail.
            (None, _, Some(data)) => (
                RecordPayload::from_legacy(kind, s.passed, data.clone())?,
                LEGACY_PAYLOAD_VERSION,
                Some(data),
            ),
            (None, _, None) => return Err("it has neither a payload nor data".into()),
        };
        Ok(HistoryRecord {
            record_id: s.record_id,
            at: s.at,
            host: s.host,
            tool_version: s.tool_version,
            passed: s.passed,
            summary: s.summary,
            payload,
            payload_version,
            detail,
        })
    }
}

fn check_record_id(id: &str) -> Result<()> {
    if super::ids::is_key_safe(id) {
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
        let json = record
            .to_stored()
            .and_then(|r| serde_json::to_vec(&r))
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
        let stored: StoredRecord = unseal_json(
            self.master()?,
            self.context(ObjectKind::History, id, 0),
            &sealed,
            MAX_HISTORY_JSON,
            &what,
            false,
        )?;
        if stored.record_id != id {
            return Err(Error::integrity(format!(
                "history record {id} names itself {}",
                stored.record_id
            )));
        }
        let tool_version = stored.tool_version.clone();
        HistoryRecord::from_stored(stored).map_err(|why| {
            Error::integrity(format!("history record {id} cannot be read: {why}")).with_guidance(
                format!(
                    "it was written by mahavishnu-dr {tool_version}; if that is newer than this one ({}), read it with that release",
                    env!("CARGO_PKG_VERSION")
                ),
            )
        })
    }

    /// The newest record of `kind`, if there is one, or why it cannot be read: an unreadable
    /// newest record is reported, never passed over for an older one.
    pub async fn latest_history(
        &self,
        kind: RecordKind,
    ) -> Result<Option<std::result::Result<HistoryRecord, UnreadableRecord>>> {
        let tag = format!("_{}_", kind.slug());
        let Some(id) = self
            .list_history()
            .await?
            .into_iter()
            .rev()
            .find(|id| id.contains(&tag))
        else {
            return Ok(None);
        };
        Ok(Some(match self.read_history(&id).await {
            Ok(r) if r.kind() == kind => Ok(r),
            Ok(r) => Err(UnreadableRecord {
                reason: format!(
                    "its id names a {} record but it holds a {} record",
                    kind.name(),
                    r.kind().name()
                ),
                record_id: id,
            }),
            Err(e) => Err(UnreadableRecord {
                record_id: id,
                reason: e.message,
            }),
        }))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The `--json` outputs the first release kept as `data` (tests/fixtures/history-repo/responses).
    fn response(kind: &str) -> Value {
        let text = match kind {
            "validation" => {
                include_str!("../../tests/fixtures/history-repo/responses/validation.json")
            }
            "restore-test" => {
                include_str!("../../tests/fixtures/history-repo/responses/restore-test.json")
            }
            "rto" => include_str!("../../tests/fixtures/history-repo/responses/rto.json"),
            "rpo" => include_str!("../../tests/fixtures/history-repo/responses/rpo.json"),
            other => panic!("no response {other}"),
        };
        serde_json::from_str(text).expect("a fixture response")
    }

    /// A first-release record of `kind` holding `data`.
    fn legacy(kind: RecordKind, passed: bool, data: Value) -> Value {
        json!({
            "record_id": format!("20261204T203556.159Z_{}_7c01f82b", kind.slug()),
            "kind": kind.name(),
            "at": "2026-12-04T20:35:56.159182033Z",
            "host": "vm",
            "tool_version": "0.1.0",
            "passed": passed,
            "summary": "a summary",
            "data": data,
        })
    }

    fn read(stored: Value) -> std::result::Result<HistoryRecord, String> {
        HistoryRecord::from_stored(serde_json::from_value(stored).map_err(|e| e.to_string())?)
    }

    #[test]
    fn first_release_records_read_as_typed_payloads() {
        let v = read(legacy(RecordKind::Validation, true, response("validation"))).unwrap();
        assert_eq!(v.payload_version, LEGACY_PAYLOAD_VERSION);
        let RecordPayload::Validation(p) = &v.payload else {
            panic!("{v:?}")
        };
        assert_eq!(p.level, ValidationScope::Full);
        assert_eq!((p.backups_checked, p.files_checked, p.problems), (1, 2, 0));
        assert!(v.detail.is_some(), "the old data stays as the detail");

        let t = read(legacy(
            RecordKind::RestoreTest,
            true,
            response("restore-test"),
        ))
        .unwrap();
        let p = t.payload.as_restore_test().expect("a restore test");
        assert!(p.restore_ok && p.rto_met && p.rpo_met);
        assert_eq!(p.backup_id, "backup_20261204T203556.137Z_73d54349");
        assert_eq!((p.rto_seconds, p.rpo_seconds), (0.016, Some(0.047)));
        assert_eq!((p.drift.added, p.drift.changed, p.drift.removed), (1, 1, 0));
        assert!(p.drift.compared);
        assert_eq!(p.drift.bytes_at_risk, 18);

        let r = read(legacy(RecordKind::RtoMeasurement, true, response("rto"))).unwrap();
        assert_eq!(r.payload.rto_seconds(), Some(0.005));
        assert_eq!(r.payload.rpo_seconds(), None);
        assert_eq!(
            r.payload.backup_id(),
            Some("backup_20261204T203556.137Z_73d54349")
        );

        let o = read(legacy(RecordKind::RpoMeasurement, false, response("rpo"))).unwrap();
        let RecordPayload::RpoMeasurement(p) = &o.payload else {
            panic!("{o:?}")
        };
        assert_eq!(p.rpo_seconds, Some(2.0));
        assert_eq!(p.worst_gap_seconds, Some(2.0));
        assert_eq!(p.schedule_rpo_seconds, None);
        assert!(!p.schedule_can_meet_target && p.current_met);
    }

    #[test]
    fn an_old_restore_test_without_restore_ok_takes_its_pass_fail() {
        let mut data = response("restore-test");
        data.as_object_mut().unwrap().remove("restore_ok");
        for passed in [true, false] {
            let t = read(legacy(RecordKind::RestoreTest, passed, data.clone())).unwrap();
            assert_eq!(t.payload.as_restore_test().unwrap().restore_ok, passed);
        }
    }

    #[test]
    fn kind_names_are_their_serde_names() {
        for kind in RecordKind::ALL {
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.name()));
            assert_eq!(RecordKind::from_name(kind.name()), Some(kind));
        }
    }

    #[test]
    fn records_round_trip_at_this_release_s_version() {
        for (kind, name) in [
            (RecordKind::Validation, "validation"),
            (RecordKind::RestoreTest, "restore-test"),
            (RecordKind::RtoMeasurement, "rto"),
            (RecordKind::RpoMeasurement, "rpo"),
        ] {
            let old = read(legacy(kind, true, response(name))).unwrap();
            let stored = serde_json::to_value(old.to_stored().unwrap()).unwrap();
            assert_eq!(stored["payload_version"], json!(kind.payload_version()));
            assert_eq!(stored["kind"], json!(kind.name()));
            assert!(stored.get("data").is_none(), "{stored}");
            let again = read(stored).unwrap();
            assert_eq!(again.payload, old.payload);
            assert_eq!(again.kind(), kind);
            assert_eq!(again.payload_version, kind.payload_version());
        }
    }

    #[test]
    fn newer_versions_unknown_kinds_and_bad_payloads_are_unreadable_with_the_reason() {
        let good = read(legacy(
            RecordKind::RestoreTest,
            true,
            response("restore-test"),
        ))
        .unwrap();
        let stored = serde_json::to_value(good.to_stored().unwrap()).unwrap();
        let with = |f: &dyn Fn(&mut serde_json::Map<String, Value>)| {
            let mut s = stored.clone();
            f(s.as_object_mut().unwrap());
            read(s).expect_err("unreadable")
        };
        let why = with(&|s| {
            s.insert("payload_version".into(), json!(2));
        });
        assert!(why.contains("payload version 2 is newer"), "{why}");
        let why = with(&|s| {
            s["payload"]["rto_seconds"] = json!("fast");
        });
        assert!(why.contains("does not parse"), "{why}");
        let why = with(&|s| {
            s["payload"].as_object_mut().unwrap().remove("restore_ok");
        });
        assert!(why.contains("restore_ok"), "{why}");
        let why = with(&|s| {
            s.insert("kind".into(), json!("chaos_experiment"));
        });
        assert!(why.contains("\"chaos_experiment\" is unknown"), "{why}");
        // A drill record whose payload is a restore test's: unreadable, not taken for a drill.
        let why = with(&|s| {
            s.insert("kind".into(), json!("drill"));
        });
        assert!(why.contains("does not parse"), "{why}");
        let why = with(&|s| {
            s.remove("payload");
        });
        assert!(why.contains("no payload"), "{why}");
        // A first-release record whose data lacks what the readers need.
        let why = read(legacy(
            RecordKind::RestoreTest,
            true,
            json!({"passed": true}),
        ))
        .expect_err("unreadable");
        assert!(why.contains("does not parse"), "{why}");
        // A field added later (optional) is ignored by this reader: same version, still read.
        let mut s = stored.clone();
        s["payload"]["added_later"] = json!(1);
        assert!(read(s).is_ok());
    }
}
