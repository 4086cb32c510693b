//! Typed settings: the YAML file, `local.yaml` beside it, `MAHAVISHNU_` environment overrides,
//! loaded, checked and resolved once into [`Settings`].
//!
//! - `source`: finding and reading the files, YAML with line numbers, merging;
//! - `env`: environment overrides;
//! - `keys`: key paths and where each value came from, for error messages;
//! - `lenient`: deserializing the merged value the way a typed YAML read would;
//! - `document`: the file form of the sections that resolve (backup, disaster_recovery);
//! - `schedule`: the one day/time/zone parser and the one [`Schedule`] type;
//! - `paths`: the project root and path resolution;
//! - `validate`: checks per section, and resolution into the typed model;
//! - `schema`, `disaster_recovery`, `monitoring`: the typed model; `secret`: credentials no
//!   output shows;
//! - `load`: the pipeline ([`load()`]);
//! - `location`: `--repository LOCATION` (a folder, `s3://`, `azblob://`) as a store target;
//! - `bare`: the settings of a command line (`--repository`, `--key-file`), and of a bare host
//!   that has no settings file ([`load_command_line`]).

mod bare;
mod daemon;
mod disaster_recovery;
mod document;
mod env;
mod keys;
mod lenient;
mod load;
mod location;
mod monitoring;
mod paths;
mod schedule;
mod schema;
mod secret;
mod source;
#[cfg(test)]
pub(crate) mod test_support;
mod validate;

pub use bare::{CommandLine, RepositoryArg, load_command_line};
#[allow(unused_imports)]
pub use daemon::{DaemonSettings, ScheduledValidation};
pub use disaster_recovery::{DrillScenario, DrillScenarioSettings, Drills};
pub use load::{LoadedSettings, ResolvedSource, load};
pub use location::location_for;
pub use monitoring::{
    AlertChannel, EmailChannel, HealthchecksChannel, NotConfigured, SecretUrl, WebhookChannel,
    WebhookFormat,
};
pub use schedule::{Repeat, Schedule, weekday_name};
// What the unit tests across the crate build settings from.
#[cfg(test)]
pub(crate) use schedule::{DaySetting, parse_time_of_day, parse_timezone};
pub use schema::*;
pub use secret::REDACTED;
#[cfg(test)]
pub(crate) use secret::Secret;
