//! `history`: the kept restore tests, validations and RTO/RPO measurements, newest `last`, with
//! their trend (kept and read by `record`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use crate::error::Result;

pub use super::record::{Direction, HistoryItem, HistoryResponse, Trend};

/// Options of `restore-test report`: the kept history.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct HistoryOptions {
    /// The newest N records (0: all).
    #[serde(default = "super::defaults::history_last")]
    #[schemars(range(min = 0))]
    #[arg(long, default_value_t = super::defaults::HISTORY_LAST)]
    pub last: i64,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        HistoryOptions {
            last: super::defaults::HISTORY_LAST,
        }
    }
}

impl Dr {
    /// The kept history, newest `last` records.
    pub async fn history(&self, req: &HistoryOptions) -> Result<HistoryResponse> {
        HistoryResponse::read(&self.open_repo().await?, req.last).await
    }
}
