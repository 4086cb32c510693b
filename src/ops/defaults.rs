//! Defaults that several operations' options share, each declared once.

/// The backup an operation uses when none is named: the newest one.
pub const LATEST: &str = "latest";

pub(crate) fn latest() -> String {
    LATEST.to_string()
}

/// History records shown in trends when no count is given.
pub const HISTORY_LAST: i64 = 10;

pub(crate) fn history_last() -> i64 {
    HISTORY_LAST
}

pub(crate) fn yes() -> bool {
    true
}

/// Entries listed per kind (added, changed, removed) by `diff` when no limit is given.
pub const DIFF_LIMIT: i64 = 1000;

pub(crate) fn diff_limit() -> i64 {
    DIFF_LIMIT
}
