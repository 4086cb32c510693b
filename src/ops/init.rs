//! `init`: create the repository (and, asked to, a new key); see `new_repository`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use crate::error::Result;

pub use super::new_repository::{InitResponse, KEY_WARNING, UNENCRYPTED_WARNING};

#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
pub struct InitRequest {
    /// Write a new random key to `backup.encryption.key_path` first (refuses to replace one).
    #[serde(default)]
    pub generate_key: bool,
}

impl Dr {
    pub async fn init(&self, req: &InitRequest) -> Result<InitResponse> {
        self.create_repository(req.generate_key).await
    }
}
