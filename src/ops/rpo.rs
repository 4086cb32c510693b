//! `measure-rpo`: the RPO analysis (`measure::rpo_analysis`) over the repository's backups, the
//! settings and the clock, kept in the history. This reads the repository and writes a history
//! record; the analysis itself is pure.

use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use super::record::{Recorded, keep};
use crate::error::Result;
use crate::repo::history::{RecordPayload, RpoPayload};

pub use super::measure::rpo_analysis::{
    BackupPoint, DEFAULT_WINDOW_DAYS, RpoAnalysis, analyze_rpo,
};

fn default_window_days() -> i64 {
    DEFAULT_WINDOW_DAYS
}

/// Options of an RPO measurement (`restore-test measure-rpo`, `measure_rpo`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct MeasureRpoOptions {
    /// The window for the worst gap between backups, in days (default 30).
    #[serde(default = "default_window_days")]
    #[schemars(range(min = 1))]
    #[arg(long, default_value_t = DEFAULT_WINDOW_DAYS)]
    pub days: i64,
}

impl Default for MeasureRpoOptions {
    fn default() -> Self {
        MeasureRpoOptions {
            days: DEFAULT_WINDOW_DAYS,
        }
    }
}

/// `measure-rpo`: the analysis over the repository's backups, kept in the history.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MeasureRpoResponse {
    #[serde(flatten)]
    pub analysis: RpoAnalysis,
    /// The history record this measurement was kept as.
    pub record_id: Option<String>,
    pub warnings: Vec<String>,
}

impl Dr {
    pub async fn measure_rpo(&self, opts: &MeasureRpoOptions) -> Result<MeasureRpoResponse> {
        self.needs_settings("restore-test measure-rpo")?;
        let window_days = opts.days;
        let repo = self.open_repo().await?;
        let mut catalog = crate::repo::catalog::Catalog::load(&repo).await?;
        // Continuous points are recovery points too: the state at each can be restored.
        catalog.load_points(&repo).await?;
        let points: Vec<BackupPoint> = super::measure::rpo_analysis::recovery_points(&catalog);
        let s = &self.settings().settings;
        let analysis = analyze_rpo(
            Utc::now(),
            &points,
            window_days,
            &s.backup,
            s.disaster_recovery.rpo_target_minutes,
        )?;
        let mut warnings = Vec::new();
        let record_id = match keep(&repo, &self.host(), &analysis).await {
            Ok(id) => Some(id),
            Err(w) => {
                warnings.push(w);
                None
            }
        };
        Ok(MeasureRpoResponse {
            analysis,
            record_id,
            warnings,
        })
    }
}

/// What the history keeps of it: the typed payload, field by field (`repo::history` owns the
/// stored format, not this response).
impl Recorded for RpoAnalysis {
    fn passed(&self) -> bool {
        self.passed
    }
    fn summary(&self) -> &str {
        &self.statement
    }
    fn payload(&self) -> RecordPayload {
        RecordPayload::RpoMeasurement(RpoPayload {
            rpo_seconds: self.current.age_seconds.map(|s| s as f64),
            rpo_target_seconds: self.rpo_target_seconds as f64,
            newest_backup: self.current.newest_backup,
            current_met: self.current.passed,
            window_days: self.worst_gap.window_days,
            worst_gap_seconds: self.worst_gap.worst.as_ref().map(|g| g.seconds as f64),
            worst_gap_met: self.worst_gap.passed,
            schedule_rpo_seconds: self.schedule.implied_rpo_seconds.map(|s| s as f64),
            schedule_can_meet_target: self.schedule_can_meet_target,
            backups_considered: self.backups_considered,
            reasons: self.reasons.clone(),
        })
    }
}
