//! `init`: create the repository (and, asked to, a new key); see `new_repository`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use crate::error::Result;

pub use super::new_repository::InitResponse;

/// Options of `init`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct InitOptions {
    /// Write a new random key to backup.encryption.key_path (mode 0600) first; never replaces
    /// an existing key file.
    #[serde(default)]
    #[arg(long)]
    pub generate_key: bool,
}

impl Dr {
    pub async fn init(&self, req: &InitOptions) -> Result<InitResponse> {
        self.needs_settings("init")?;
        self.create_repository(req.generate_key).await
    }
}
