//! Typed settings: the YAML file, `local.yaml` beside it, `MAHAVISHNU_` environment overrides.

mod load;
mod schema;

pub use load::{LoadedSettings, ResolvedSource, load};
pub use schema::*;
