//! The repository's object keys: where the config, each backup's and continuous point's folder,
//! manifest, checksum list and volumes, the history records and the locks live in the store
//! (`docs/FORMAT.md`, "Layout").
//!
//! Every key the program reads or writes is built or parsed here, so the layout is stated once.

pub const CONFIG_KEY: &str = "config";
pub const BACKUPS_PREFIX: &str = "backups/";
/// Continuous points live apart from backups, so listing the backups never reads them.
pub const POINTS_PREFIX: &str = "points/";
/// Backup ids start with this; continuous point ids with [`POINT_ID_PREFIX`].
pub const BACKUP_ID_PREFIX: &str = "backup_";
pub const POINT_ID_PREFIX: &str = "point_";
pub const LOCKS_PREFIX: &str = "locks/";
pub const HISTORY_PREFIX: &str = "history/";
pub const MANIFEST_NAME: &str = "manifest";
pub const CHECKSUMS_NAME: &str = "checksums.json";

/// Whether an id names a continuous point (`point_…`) rather than a backup.
pub fn is_point_id(id: &str) -> bool {
    id.starts_with(POINT_ID_PREFIX)
}

/// The folder of a backup, `backups/<id>/`, or of a continuous point, `points/<id>/` (every
/// object of it is under it). The folder follows from the id alone.
pub fn backup_folder(backup_id: &str) -> String {
    if is_point_id(backup_id) {
        format!("{POINTS_PREFIX}{backup_id}/")
    } else {
        format!("{BACKUPS_PREFIX}{backup_id}/")
    }
}

/// Object key of something inside a backup's (or point's) folder.
pub fn backup_key(backup_id: &str, name: &str) -> String {
    format!("{}{name}", backup_folder(backup_id))
}

/// Name of volume `index` inside its backup's folder.
pub fn volume_name(index: u32) -> String {
    format!("vol-{index:05}")
}

/// Object key of volume `index` of a backup.
pub fn volume_key(backup_id: &str, index: u32) -> String {
    backup_key(backup_id, &volume_name(index))
}

/// Object key of a backup's manifest (its existence makes the backup exist).
pub fn manifest_key(backup_id: &str) -> String {
    backup_key(backup_id, MANIFEST_NAME)
}

/// Object key of a backup's keyless checksum list.
pub fn checksums_key(backup_id: &str) -> String {
    backup_key(backup_id, CHECKSUMS_NAME)
}

/// A key under `backups/` split into (backup id, object name); `None` for anything else,
/// including a folder there named like a point (a point is only ever read from `points/`).
/// Other odd names are kept: the catalog reports them as unreadable or unfinished.
pub fn split_backup_key(key: &str) -> Option<(&str, &str)> {
    key.strip_prefix(BACKUPS_PREFIX)?
        .split_once('/')
        .filter(|(id, _)| !is_point_id(id))
}

/// A key under `points/` split into (point id, object name); `None` for anything else.
pub fn split_point_key(key: &str) -> Option<(&str, &str)> {
    key.strip_prefix(POINTS_PREFIX)?
        .split_once('/')
        .filter(|(id, _)| is_point_id(id))
}

/// Object key of a history record.
pub fn history_key(record_id: &str) -> String {
    format!("{HISTORY_PREFIX}{record_id}")
}

/// Object key of a lock: `locks/<mode>-<id>.json`.
pub fn lock_key(mode: &str, lock_id: &str) -> String {
    format!("{LOCKS_PREFIX}{mode}-{lock_id}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_documented_layout() {
        assert_eq!(backup_folder("b1"), "backups/b1/");
        assert_eq!(manifest_key("b1"), "backups/b1/manifest");
        assert_eq!(checksums_key("b1"), "backups/b1/checksums.json");
        assert_eq!(volume_key("b1", 7), "backups/b1/vol-00007");
        assert_eq!(history_key("r1"), "history/r1");
        assert_eq!(lock_key("shared", "x"), "locks/shared-x.json");
        assert_eq!(
            split_backup_key("backups/b1/manifest"),
            Some(("b1", "manifest"))
        );
        assert_eq!(split_backup_key("backups/b1"), None);
        assert_eq!(
            split_backup_key("backups/backup_1/manifest"),
            Some(("backup_1", "manifest"))
        );
        // A point's objects are under points/, never under backups/.
        assert_eq!(manifest_key("point_1"), "points/point_1/manifest");
        assert_eq!(volume_key("point_1", 0), "points/point_1/vol-00000");
        assert_eq!(split_backup_key("backups/point_1/manifest"), None);
        assert_eq!(
            split_point_key("points/point_1/manifest"),
            Some(("point_1", "manifest"))
        );
        assert_eq!(split_point_key("points/backup_1/manifest"), None);
        assert_eq!(split_backup_key("history/r1"), None);
    }
}
