//! Typed settings: the YAML file, `local.yaml` beside it, `MAHAVISHNU_` environment overrides.

mod load;
mod schema;
#[cfg(test)]
pub(crate) mod test_support;

pub use load::{LoadedSettings, ResolvedSource, load};
pub use schema::*;
