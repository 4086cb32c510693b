//! Backup ids and backup type names as text: making a new id, checking one read from a user or
//! the store, and parsing a type name. (The types themselves are in `kind`, which depends on
//! nothing, so the action vocabulary can name them.)

use std::str::FromStr;

use chrono::{DateTime, Utc};

use super::kind::BackupType;
use crate::action::{Action, Advice};
use crate::error::{Error, Result};

impl FromStr for BackupType {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(BackupType::Full),
            "incremental" => Ok(BackupType::Incremental),
            "archival" => Ok(BackupType::Archival),
            other => Err(Error::usage(format!(
                "unknown backup type {other:?}: expected full, incremental or archival"
            ))),
        }
    }
}

/// How backup and point ids write their time (UTC, to the millisecond): as strings they sort
/// as the times do.
pub const ID_TIME_FORMAT: &str = "%Y%m%dT%H%M%S%.3fZ";

/// A new backup id: `backup_YYYYMMDDTHHMMSS.mmmZ_<8 hex>`. Ids sort by creation time.
pub fn new_backup_id(at: DateTime<Utc>) -> String {
    let suffix: u32 = rand::random();
    format!("backup_{}_{suffix:08x}", at.format(ID_TIME_FORMAT))
}

/// The time part of a backup or point id as written (`YYYYMMDDTHHMMSS.mmmZ`); empty for a
/// string that is not shaped like an id.
pub fn id_time(id: &str) -> &str {
    id.split_once('_')
        .and_then(|(_, rest)| rest.rsplit_once('_'))
        .map_or("", |(t, _)| t)
}

/// A new continuous point id: `point_YYYYMMDDTHHMMSS.mmmZ_<8 hex>` (the instant its snapshot
/// was taken). Point ids sort by that time.
pub fn new_point_id(at: DateTime<Utc>) -> String {
    let suffix: u32 = rand::random();
    format!(
        "{}{}_{suffix:08x}",
        super::keys::POINT_ID_PREFIX,
        at.format(ID_TIME_FORMAT)
    )
}

/// An id safe to use as one object-key component: 1 to 128 of `[A-Za-z0-9._-]`.
pub(crate) fn is_key_safe(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// A backup id (`backup_…`) or continuous point id (`point_…`) is safe to use as an
/// object-key component: the prefix then `[A-Za-z0-9._-]`.
pub fn check_backup_id(id: &str) -> Result<()> {
    if (id.starts_with(super::keys::BACKUP_ID_PREFIX) || super::keys::is_point_id(id))
        && is_key_safe(id)
    {
        Ok(())
    } else {
        Err(Error::usage(format!("{id:?} is not a backup id"))
            .with_next(Advice::step(Action::ListBackups, "to see them"))
            .with_guidance("backup ids start with backup_ (continuous points with point_)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn ids_sort_by_time_and_are_valid() {
        let a = new_backup_id(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        let b = new_backup_id(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 6).unwrap());
        assert!(a < b, "{a} should sort before {b}");
        check_backup_id(&a).unwrap();
        assert!(check_backup_id("../etc").is_err());
        assert!(check_backup_id("backup_x/../../y").is_err());
    }
}
