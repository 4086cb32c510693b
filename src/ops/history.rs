//! `history`: the kept restore tests, validations and RTO/RPO measurements, newest `last`, with
//! their trend (kept and read by `record`).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use crate::error::Result;

pub use super::record::{Direction, HistoryItem, HistoryResponse, Trend, trend};

fn ten() -> i64 {
    10
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct HistoryRequest {
    /// The newest N records (0: all).
    #[serde(default = "ten")]
    pub last: i64,
}

impl Dr {
    /// The kept history, newest `last` records.
    pub async fn history(&self, req: &HistoryRequest) -> Result<HistoryResponse> {
        HistoryResponse::read(&self.open_repo().await?, req.last).await
    }
}
