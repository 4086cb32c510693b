//! The repository's object keys: where the config, each backup's folder, manifest, checksum list
//! and volumes, the history records and the locks live in the store (`docs/FORMAT.md`, "Layout").
//!
//! Every key the program reads or writes is built or parsed here, so the layout is stated once.

pub const CONFIG_KEY: &str = "config";
pub const BACKUPS_PREFIX: &str = "backups/";
pub const LOCKS_PREFIX: &str = "locks/";
pub const HISTORY_PREFIX: &str = "history/";
pub const MANIFEST_NAME: &str = "manifest";
pub const CHECKSUMS_NAME: &str = "checksums.json";

/// The folder of a backup: `backups/<id>/` (every object of the backup is under it).
pub fn backup_folder(backup_id: &str) -> String {
    format!("{BACKUPS_PREFIX}{backup_id}/")
}

/// Object key of something inside a backup's folder.
pub fn backup_key(backup_id: &str, name: &str) -> String {
    format!("{BACKUPS_PREFIX}{backup_id}/{name}")
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

/// A key under `backups/` split into (backup id, object name); `None` for anything else.
pub fn split_backup_key(key: &str) -> Option<(&str, &str)> {
    key.strip_prefix(BACKUPS_PREFIX)?.split_once('/')
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
        assert_eq!(split_backup_key("history/r1"), None);
    }
}
