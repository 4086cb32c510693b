//! Checking the merged settings as a whole and resolving them into the typed model: each
//! section's rules in a file of its own. Every problem names the key and where its value came
//! from (a file, an environment variable, or the built-in default); all problems are reported
//! together.

mod backup;
mod daemon;
mod disaster_recovery;
mod mcp;
mod monitoring;
mod schedules;
mod storage;

use std::fmt;
use std::path::Path;

use super::document::{BackupDoc, SettingsDoc};
use super::keys::{Layer, SETTINGS_GUIDANCE, Seg, origin_of, show_key};
use super::schema::{BackupSettings, Settings};
use crate::error::{Error, Result};

/// Check `doc` (paths already resolved against `root`) and resolve it into the typed settings.
pub(super) fn validate(doc: SettingsDoc, root: &Path, layers: &[Layer]) -> Result<Settings> {
    let mut p = Problems {
        layers,
        list: Vec::new(),
    };
    let SettingsDoc {
        backup: mut backup_doc,
        disaster_recovery,
        mcp,
        daemon: daemon_doc,
    } = doc;
    backup::check(&mut backup_doc, &mut p);
    storage::check_targets(&backup_doc.storage, &mut p);
    monitoring::check(&backup_doc.monitoring, &mut p);
    let schedules = schedules::resolve(&backup_doc.schedules, &mut p);
    let disaster_recovery = disaster_recovery::resolve(&disaster_recovery, &mut p);
    mcp::check(&mcp, &mut p);
    let daemon = daemon::resolve(daemon_doc, &mut p);
    let settings = Settings {
        backup: typed_backup(backup_doc, schedules),
        disaster_recovery,
        mcp,
        daemon,
    };
    storage::check_overlaps(&settings, root, &mut p);
    p.into_result()?;
    Ok(settings)
}

fn typed_backup(
    b: BackupDoc,
    schedules: std::collections::BTreeMap<String, super::schema::BackupSchedule>,
) -> BackupSettings {
    BackupSettings {
        enabled: b.enabled,
        directory: b.directory,
        sources: b.sources,
        exclude: b.exclude,
        volume_size_mb: b.volume_size_mb,
        max_chain_length: b.max_chain_length,
        compression: b.compression,
        schedules,
        encryption: b.encryption,
        validation: b.validation,
        monitoring: b.monitoring,
        storage: b.storage,
        lock_wait_seconds: b.lock_wait_seconds,
        block_incremental: b.block_incremental,
        continuous: b.continuous,
        host: b.host,
        retired_hosts: b.retired_hosts,
    }
}

/// Collects problems, each naming the key and where its value came from.
pub(super) struct Problems<'a> {
    layers: &'a [Layer],
    list: Vec<(String, Option<String>)>,
}

impl Problems<'_> {
    pub(super) fn add(&mut self, key: &[Seg], msg: impl fmt::Display, guidance: Option<&str>) {
        let origin = origin_of(self.layers, key);
        self.list.push((
            format!("{origin}: {}: {msg}", show_key(key)),
            guidance.map(str::to_string),
        ));
    }

    fn into_result(self) -> Result<()> {
        let mut list = self.list;
        match list.len() {
            0 => Ok(()),
            1 => {
                let (msg, guidance) = list.remove(0);
                Err(Error::settings(msg)
                    .with_guidance(guidance.unwrap_or_else(|| SETTINGS_GUIDANCE.to_string())))
            }
            n => {
                let mut msg = format!("{n} problems in the settings:");
                let mut guidance: Vec<String> = Vec::new();
                for (m, g) in list {
                    msg.push_str("\n  - ");
                    msg.push_str(&m);
                    if let Some(g) = g
                        && !guidance.contains(&g)
                    {
                        guidance.push(g);
                    }
                }
                if guidance.is_empty() {
                    guidance.push(SETTINGS_GUIDANCE.to_string());
                }
                Err(Error::settings(msg).with_guidance(guidance.join("; ")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::settings::Repeat;
    use crate::settings::test_support::{err_in, load_in, project};

    #[test]
    fn validation_errors_name_key_and_origin() {
        let (_d, root) = project("backup:\n  encryption:\n    algorithm: ChaCha20\n");
        let e = err_in(&root, &[]);
        assert!(
            e.message
                .contains("settings/mahavishnu.yaml: backup.encryption.algorithm"),
            "{e}"
        );
        assert!(e.message.contains("AES-256-GCM"), "{e}");

        let (_d, root) = project("backup:\n  encryption:\n    algorithm: aes-256-gcm\n");
        let l = load_in(&root, &[]).expect("case-insensitive algorithm");
        assert_eq!(l.settings.backup.encryption.algorithm, "AES-256-GCM");

        let e = err_in(&root, &[("MAHAVISHNU_BACKUP__COMPRESSION__LEVEL", "30")]);
        assert!(
            e.message.contains(
                "environment variable MAHAVISHNU_BACKUP__COMPRESSION__LEVEL: backup.compression.level"
            ),
            "{e}"
        );

        let (_d, root) = project(
            "backup:\n  volume_size_mb: 0\n  max_chain_length: 0\n  validation:\n    checksum_algorithm: md5\n  schedules:\n    nightly: {}\n  storage:\n    replicas: [{type: azblob, container: c}]\n",
        );
        let e = err_in(&root, &[]);
        for needle in [
            "problems in the settings",
            "backup.volume_size_mb",
            "backup.max_chain_length",
            "backup.validation.checksum_algorithm",
            "backup.schedules.nightly",
            "backup.storage.replicas[0]",
            "an azblob store needs its storage account",
        ] {
            assert!(e.message.contains(needle), "{needle}: {e}");
        }
        // A bad day is caught while parsing, with its line.
        let (_d, root) = project("backup:\n  schedules:\n    weekly_full:\n      day: sundy\n");
        let e = err_in(&root, &[]);
        assert!(
            e.message.contains("backup.schedules.weekly_full.day"),
            "{e}"
        );
        assert!(e.message.contains("weekday"), "{e}");
        assert!(e.message.contains("line 4"), "{e}");
        let (_d, root) = project("backup:\n  schedules:\n    monthly_full:\n      day: 32\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("day of the month"), "{e}");
        let (_d, root) = project("backup:\n  schedules:\n    weekly_full:\n      day: Sunday\n");
        let l = load_in(&root, &[]).expect("loads");
        assert_eq!(
            l.settings.backup.schedules["weekly_full"].schedule.repeat,
            Repeat::Weekly(chrono::Weekday::Sun)
        );
        // So is a bad time, which used to wait for the checks after loading.
        let (_d, root) = project("backup:\n  schedules:\n    a_full:\n      time: \"25:00\"\n");
        let e = err_in(&root, &[]);
        assert!(
            e.message
                .contains("settings/mahavishnu.yaml: backup.schedules.a_full.time"),
            "{e}"
        );
        assert!(e.message.contains("line 4"), "{e}");
    }
}
