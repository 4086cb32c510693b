//! Keeping results in the repository's history, and reading them back: kept restore tests,
//! validations and RTO/RPO measurements, oldest first, with pass/fail, RTO and RPO, and their
//! trend. Every operation that records uses [`keep`]; `history` and the report read.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::repo::Repository;
use crate::repo::history::{HistoryRecord, RecordKind, RecordPayload};

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct HistoryItem {
    pub record_id: String,
    pub kind: RecordKind,
    pub at: DateTime<Utc>,
    pub host: String,
    pub passed: bool,
    pub summary: String,
    /// RTO achieved, for restore tests and RTO measurements.
    pub rto_seconds: Option<f64>,
    /// RPO at the time, for restore tests and RPO measurements.
    pub rpo_seconds: Option<f64>,
    pub backup_id: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Improving,
    Steady,
    Worsening,
    InsufficientData,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Trend {
    /// RTO of the newest half of the listed measurements against the oldest half (lower is
    /// better; within 10% is steady).
    pub rto: Direction,
    /// The same for RPO.
    pub rpo: Direction,
    pub rto_first_mean_seconds: Option<f64>,
    pub rto_last_mean_seconds: Option<f64>,
    pub rpo_first_mean_seconds: Option<f64>,
    pub rpo_last_mean_seconds: Option<f64>,
    /// Share of the listed records that passed (0..1).
    pub pass_rate: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct HistoryResponse {
    /// Oldest first.
    pub records: Vec<HistoryItem>,
    /// Records in the repository in all.
    pub total: i64,
    pub trend: Trend,
    /// Records that could not be read (named, with why).
    pub unreadable: Vec<String>,
}

impl From<&HistoryRecord> for HistoryItem {
    fn from(r: &HistoryRecord) -> Self {
        HistoryItem {
            record_id: r.record_id.clone(),
            kind: r.kind(),
            at: r.at,
            host: r.host.clone(),
            passed: r.passed,
            summary: r.summary.clone(),
            rto_seconds: r.payload.rto_seconds(),
            rpo_seconds: r.payload.rpo_seconds(),
            backup_id: r.payload.backup_id().map(str::to_string),
        }
    }
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

/// Lower is better: compare the newer half's mean with the older half's (10% and 1 s margins).
fn direction(values: &[f64]) -> (Direction, Option<f64>, Option<f64>) {
    if values.len() < 2 {
        return (Direction::InsufficientData, mean(values), None);
    }
    let half = values.len() / 2;
    let (first, last) = (mean(&values[..half]), mean(&values[values.len() - half..]));
    let d = match (first, last) {
        // Differences under a second are noise, whatever the ratio.
        (Some(a), Some(b)) if (b - a).abs() < 1.0 => Direction::Steady,
        (Some(a), Some(b)) if b < a * 0.9 => Direction::Improving,
        (Some(a), Some(b)) if b > a * 1.1 => Direction::Worsening,
        _ => Direction::Steady,
    };
    (d, first, last)
}

pub fn trend(items: &[HistoryItem]) -> Trend {
    let rtos: Vec<f64> = items.iter().filter_map(|i| i.rto_seconds).collect();
    let rpos: Vec<f64> = items.iter().filter_map(|i| i.rpo_seconds).collect();
    let (rto, rto_first, rto_last) = direction(&rtos);
    let (rpo, rpo_first, rpo_last) = direction(&rpos);
    Trend {
        rto,
        rpo,
        rto_first_mean_seconds: rto_first,
        rto_last_mean_seconds: rto_last,
        rpo_first_mean_seconds: rpo_first,
        rpo_last_mean_seconds: rpo_last,
        pass_rate: (!items.is_empty())
            .then(|| items.iter().filter(|i| i.passed).count() as f64 / items.len() as f64),
    }
}

impl HistoryResponse {
    /// The newest `last` records of `repo` (0: all), with their trend.
    pub(crate) async fn read(repo: &Repository, last: i64) -> Result<HistoryResponse> {
        if last < 0 {
            return Err(crate::error::Error::usage(format!(
                "last must be 0 (all records) or more, not {last}"
            )));
        }
        let total = repo.list_history().await?.len() as i64;
        let (records, unreadable) = repo.recent_history(last.max(0) as usize).await?;
        let items: Vec<HistoryItem> = records.iter().map(HistoryItem::from).collect();
        Ok(HistoryResponse {
            trend: trend(&items),
            records: items,
            total,
            unreadable,
        })
    }
}

/// A result that is kept in the history: its pass/fail, its line for people and its typed
/// payload, built field by field from the response (never by serializing it), so the stored
/// format changes only when a payload does.
pub(crate) trait Recorded: Serialize {
    fn passed(&self) -> bool;
    fn summary(&self) -> &str;
    fn payload(&self) -> RecordPayload;
}

/// Keep a result in the repository's history: its record id, or a warning saying why it was
/// not kept (the result itself stands either way). The response goes along as the record's
/// opaque `detail`, which no reader looks into. The record names `host` (the host this process
/// presents) as where it was made.
pub(crate) async fn keep<T: Recorded>(
    repo: &Repository,
    host: &str,
    result: &T,
) -> std::result::Result<String, String> {
    let not_kept = |why: String| format!("the result was not kept in the history: {why}");
    let detail = serde_json::to_value(result).map_err(|e| not_kept(e.to_string()))?;
    let mut record = HistoryRecord::new(
        result.passed(),
        result.summary().to_string(),
        result.payload(),
        Some(detail),
    );
    record.host = host.to_string();
    repo.write_history(&record)
        .await
        .map(|()| record.record_id)
        .map_err(|e| not_kept(e.message))
}

/// Put the outcome of [`keep`] into a response: its record id, or a warning.
pub(crate) fn note_kept(
    kept: std::result::Result<String, String>,
    record_id: &mut Option<String>,
    warnings: &mut Vec<String>,
) {
    match kept {
        Ok(id) => *record_id = Some(id),
        Err(w) => warnings.push(w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trend_directions() {
        assert_eq!(direction(&[10.0]).0, Direction::InsufficientData);
        assert_eq!(direction(&[10.0, 10.5]).0, Direction::Steady);
        assert_eq!(direction(&[0.01, 0.5]).0, Direction::Steady);
        assert_eq!(direction(&[10.0, 10.0, 5.0, 5.0]).0, Direction::Improving);
        let (d, a, b) = direction(&[4.0, 6.0, 9.0, 11.0]);
        assert_eq!(d, Direction::Worsening);
        assert_eq!((a, b), (Some(5.0), Some(10.0)));
    }
}
