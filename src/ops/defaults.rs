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
