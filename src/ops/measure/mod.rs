//! Measurement machinery that restore tests, RTO and RPO measurement (and drills) share: the
//! timed scratch restore, the live data set, throughput and the RTO estimate, and the RPO
//! analysis.

mod live;
pub mod rpo_analysis;
mod scratch_restore;
mod throughput;

pub(crate) use scratch_restore::{ScratchRestore, UNVERIFIED, chain_ids};
pub use throughput::RtoEstimate;
pub(crate) use throughput::{estimate, mib_per_s};
