//! Throughput and the RTO estimate: restored bytes per second, and what a recovery of the whole
//! live data set would take at the throughput measured.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::present;

/// What a recovery of the whole live data set would take, from this measurement.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RtoEstimate {
    /// Bytes the restore wrote.
    pub restored_bytes: u64,
    /// Bytes of the data set a recovery would restore now: the live path sources as scanned,
    /// plus the command outputs as the backup stored them (commands are not run). None when the
    /// live sources could not be scanned.
    pub full_data_set_bytes: Option<u64>,
    /// true when the data set is more than 1% larger than what the backup restored.
    pub partial: bool,
    /// Estimated RTO for the full data set (the measured RTO when the backup is not partial).
    pub estimated_rto_seconds: f64,
    pub estimated_rto_met: bool,
    /// How the estimate was made.
    pub method: String,
}

/// Bytes per second as MiB/s, two decimals.
pub(crate) fn mib_per_s(bytes: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        ((bytes as f64 / (1 << 20) as f64 / seconds) * 100.0).round() / 100.0
    } else {
        0.0
    }
}

/// Scale the measured RTO linearly in bytes to the full data set. Restores are dominated by
/// per-byte work (read, decrypt, decompress, write, hash), so bytes are the honest unit; the
/// fixed costs (opening the repository, reading manifests) make the estimate an upper bound.
pub(crate) fn estimate(
    rto_seconds: f64,
    restored_bytes: u64,
    full: Option<u64>,
    target_seconds: f64,
) -> RtoEstimate {
    let partial = full.is_some_and(|f| f as f64 > restored_bytes as f64 * 1.01);
    let (estimated, method) = match full {
        None => (
            rto_seconds,
            "the live sources could not be scanned: the estimate is the measured RTO".to_string(),
        ),
        Some(f) if partial && restored_bytes == 0 => (
            rto_seconds,
            format!(
                "the backup restored no bytes, so no throughput was measured for the {} data set: \
                 run a backup and measure again",
                present::bytes(f)
            ),
        ),
        Some(f) if partial => (
            rto_seconds * f as f64 / restored_bytes as f64,
            format!(
                "measured RTO scaled linearly by bytes: {} measured for {}, the full data set is \
                 {} (live path sources now plus stored command outputs), at the same {}",
                present::duration(rto_seconds),
                present::bytes(restored_bytes),
                present::bytes(f),
                present::throughput(mib_per_s(restored_bytes, rto_seconds))
            ),
        ),
        Some(f) => (
            rto_seconds,
            format!(
                "the backup holds the full data set ({} restored, {} live now): the estimate is \
                 the measured RTO",
                present::bytes(restored_bytes),
                present::bytes(f)
            ),
        ),
    };
    let estimated = (estimated * 1000.0).round() / 1000.0;
    RtoEstimate {
        restored_bytes,
        full_data_set_bytes: full,
        partial,
        estimated_rto_seconds: estimated,
        estimated_rto_met: estimated <= target_seconds,
        method,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_backup_estimate_is_the_measurement() {
        let e = estimate(12.0, 1000, Some(1005), 900.0);
        assert!(!e.partial);
        assert_eq!(e.estimated_rto_seconds, 12.0);
        assert!(e.estimated_rto_met);
    }

    #[test]
    fn partial_backup_scales_by_bytes() {
        let e = estimate(10.0, 1 << 30, Some(100 << 30), 900.0);
        assert!(e.partial);
        assert_eq!(e.estimated_rto_seconds, 1000.0);
        assert!(!e.estimated_rto_met);
        assert!(
            e.method.contains("scaled linearly by bytes"),
            "{}",
            e.method
        );
        assert!(e.method.contains("100.0 GiB"), "{}", e.method);
    }

    #[test]
    fn no_scan_or_no_bytes_keeps_the_measurement() {
        let e = estimate(3.0, 0, Some(5000), 900.0);
        assert!(e.partial);
        assert_eq!(e.estimated_rto_seconds, 3.0);
        assert!(e.method.contains("no throughput"), "{}", e.method);
        let e = estimate(3.0, 10, None, 1.0);
        assert!(!e.partial);
        assert!(!e.estimated_rto_met);
    }
}
