//! The repository config object: format version, repository id, cipher and key slots.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::crypto::KeySlot;

pub const FORMAT_NAME: &str = "mahavishnu-dr";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct RepoConfig {
    /// Always "mahavishnu-dr".
    pub format: String,
    pub version: u32,
    /// 32 hex characters, random.
    pub repository_id: String,
    pub created: DateTime<Utc>,
    /// "aes-256-gcm" or "none".
    pub encryption: String,
    /// Plaintext bytes per frame.
    pub frame_size: u32,
    pub key_slots: Vec<KeySlot>,
}
