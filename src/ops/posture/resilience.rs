//! The resilience score: per drill scenario and overall, from kept drills only (no estimate):
//! the share of drills passed over a window, each weighted by how recent it is, a drill that
//! recovered but missed its RTO or RPO target counting half. A scenario never drilled in the
//! window scores zero and says so.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::repo::history::HistoryRecord;
use crate::settings::DrillScenario;

/// Drills older than this do not count.
pub const SCORE_WINDOW_DAYS: i64 = 90;
/// A drill's weight halves every this many days.
pub const SCORE_HALF_LIFE_DAYS: f64 = 30.0;

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ResilienceScore {
    /// 0 to 100: the mean of the scenarios' scores.
    pub overall: f64,
    pub scenarios: Vec<ScenarioScore>,
    pub window_days: i64,
    pub method: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScenarioScore {
    pub scenario: DrillScenario,
    /// 0 to 100.
    pub score: f64,
    /// Drills of it in the window, and how many passed.
    pub drills: u64,
    pub passed: u64,
    /// The newest drill of it (any age).
    pub last: Option<DateTime<Utc>>,
    pub last_passed: Option<bool>,
    pub last_rto_seconds: Option<f64>,
    pub last_rpo_seconds: Option<f64>,
    /// "never drilled", "not drilled in 90 days", or the figures in words.
    pub note: String,
}

/// The score from the kept drill records (any order).
pub(crate) fn resilience(now: DateTime<Utc>, records: &[HistoryRecord]) -> ResilienceScore {
    let scenarios: Vec<ScenarioScore> = DrillScenario::ALL
        .iter()
        .map(|s| scenario_score(now, *s, records))
        .collect();
    let overall = scenarios.iter().map(|s| s.score).sum::<f64>() / scenarios.len() as f64;
    ResilienceScore {
        overall: round1(overall),
        scenarios,
        window_days: SCORE_WINDOW_DAYS,
        method: format!(
            "per scenario: drills of the last {SCORE_WINDOW_DAYS} days, each weighted by \
             0.5^(age in days / {SCORE_HALF_LIFE_DAYS}); a drill that passed (recovered and met \
             its RTO and RPO) counts 1, one that recovered but missed a target 0.5, a failed \
             one 0; never drilled scores 0. Overall: the mean of the five."
        ),
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn scenario_score(
    now: DateTime<Utc>,
    s: DrillScenario,
    records: &[HistoryRecord],
) -> ScenarioScore {
    let mut drills: Vec<(&HistoryRecord, &crate::repo::history::DrillPayload)> = records
        .iter()
        .filter_map(|r| r.payload.as_drill().map(|p| (r, p)))
        .filter(|(_, p)| p.scenario == s.id())
        .collect();
    drills.sort_by_key(|(r, _)| r.at);
    let last = drills.last();
    let (mut weighted, mut weights, mut n, mut passed) = (0.0, 0.0, 0u64, 0u64);
    for (r, p) in &drills {
        let age_days = (now - r.at).num_seconds() as f64 / 86_400.0;
        if age_days > SCORE_WINDOW_DAYS as f64 {
            continue;
        }
        let w = 0.5f64.powf(age_days.max(0.0) / SCORE_HALF_LIFE_DAYS);
        let value = if r.passed {
            1.0
        } else if p.rto_seconds.is_some() {
            0.5
        } else {
            0.0
        };
        weighted += w * value;
        weights += w;
        n += 1;
        passed += u64::from(r.passed);
    }
    let score = if weights > 0.0 {
        round1(100.0 * weighted / weights)
    } else {
        0.0
    };
    let note = match (last, n) {
        (None, _) => "never drilled: scores 0".to_string(),
        (Some(_), 0) => format!("not drilled in {SCORE_WINDOW_DAYS} days: scores 0"),
        (Some(_), n) => format!("{passed} of {n} drill(s) in {SCORE_WINDOW_DAYS} days passed"),
    };
    ScenarioScore {
        scenario: s,
        score,
        drills: n,
        passed,
        last: last.map(|(r, _)| r.at),
        last_passed: last.map(|(r, _)| r.passed),
        last_rto_seconds: last.and_then(|(_, p)| p.rto_seconds),
        last_rpo_seconds: last.and_then(|(_, p)| p.rpo_seconds),
        note,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::history::{DrillPayload, RecordPayload};

    fn drill(s: DrillScenario, days_ago: i64, passed: bool, recovered: bool) -> HistoryRecord {
        let now = Utc::now();
        let at = now - chrono::Duration::days(days_ago);
        let mut r = HistoryRecord::new(
            passed,
            String::new(),
            RecordPayload::Drill(DrillPayload {
                scenario: s.id().into(),
                started_by: "cli:test".into(),
                started: at,
                finished: at,
                store: "primary".into(),
                backup_id: None,
                steps: Vec::new(),
                rto_seconds: recovered.then_some(10.0),
                rto_target_seconds: Some(300.0),
                rto_met: None,
                rpo_seconds: Some(5.0),
                rpo_target_seconds: 60.0,
                rpo_met: None,
                findings: Vec::new(),
                recommendations: Vec::new(),
                data_at_risk: None,
            }),
            None,
        );
        r.at = at;
        r
    }

    #[test]
    fn recent_passes_weigh_more_and_never_drilled_scores_zero() {
        let now = Utc::now();
        let db = DrillScenario::DatabaseCorruption;
        // A pass today and a failure 60 days ago: weights 1 and 0.25.
        let r = resilience(
            now,
            &[drill(db, 0, true, true), drill(db, 60, false, false)],
        );
        let s = r.scenarios.iter().find(|x| x.scenario == db).unwrap();
        assert_eq!(s.score, 80.0);
        assert_eq!((s.drills, s.passed), (2, 1));
        // The same two the other way round.
        let r = resilience(
            now,
            &[drill(db, 60, true, true), drill(db, 0, false, false)],
        );
        let s = r.scenarios.iter().find(|x| x.scenario == db).unwrap();
        assert_eq!(s.score, 20.0);
        assert_eq!(s.last_passed, Some(false));
        // Recovered but a target missed: half.
        let r = resilience(now, &[drill(db, 0, false, true)]);
        assert_eq!(
            r.scenarios.iter().find(|x| x.scenario == db).unwrap().score,
            50.0
        );
        // Out of the window, or never: zero, said so.
        let r = resilience(now, &[drill(db, 100, true, true)]);
        let s = r.scenarios.iter().find(|x| x.scenario == db).unwrap();
        assert_eq!(s.score, 0.0);
        assert!(s.note.contains("not drilled in 90 days"), "{}", s.note);
        let other = r
            .scenarios
            .iter()
            .find(|x| x.scenario == DrillScenario::RegionFailure)
            .unwrap();
        assert!(other.note.starts_with("never drilled"));
        // Overall: the mean of the five.
        let all: Vec<HistoryRecord> = DrillScenario::ALL
            .iter()
            .map(|s| drill(*s, 1, true, true))
            .collect();
        assert_eq!(resilience(now, &all).overall, 100.0);
        assert_eq!(resilience(now, &all[..1]).overall, 20.0);
    }
}
