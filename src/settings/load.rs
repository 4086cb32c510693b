//! Loading the settings: the pipeline from files and environment to the typed model.
//!
//! 1. Each file is parsed into a `serde_json::Value` and checked on its own against the file
//!    schema ([`super::source`]): a YAML syntax error, an unknown key, a wrong type or a bad
//!    single value (a day, a time, a time zone, a drill scenario) names the file, the key path
//!    and the line.
//! 2. The values are deep-merged: `local.yaml` over the main file. Mappings merge key by key; a
//!    mapping whose `type` differs from the one it overrides (a storage target) replaces it; an
//!    empty value over a mapping changes nothing; anything else (scalars, lists) replaces.
//! 3. Environment overrides are merged the same way, one by one in name order, each checked as
//!    it is applied, so a bad one names the variable ([`super::env`]).
//! 4. The merged value is deserialized, relative paths are resolved against the project root
//!    ([`super::paths`]), and the result is checked as a whole and resolved into the typed
//!    [`Settings`] ([`super::validate`]). Those errors name the key and where its value came
//!    from (file, environment variable, or the built-in default).
//!
//! After this, nothing downstream parses a settings value again: schedules are
//! [`super::Schedule`]s, drill scenarios [`super::DrillScenario`]s, paths absolute.
//!
//! Nothing here reads the process environment: the caller passes it in.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::env::{apply_override, env_overrides_of};
use super::keys::{Layer, SETTINGS_GUIDANCE, origin_of, show_key};
use super::paths::{
    Resolver, default_sources, normalize, project_root_of, repository_dir_of, resolve_paths,
};
use super::schema::{Settings, SourceSpec, StorageTarget};
use super::source::{DEFAULT_CONFIG, Names, merge_files, read_files, settings_io, to_doc};
use super::validate::validate;
use crate::error::{Error, Result};

/// The settings as loaded: effective values plus where they came from.
#[derive(Debug, Clone)]
pub struct LoadedSettings {
    /// Effective settings; every relative path already resolved to absolute against
    /// `project_root`.
    pub settings: Settings,
    /// The project root (absolute): the folder holding the `settings/` folder of the main file,
    /// or the main file's own folder when it is not in a `settings/` folder.
    pub project_root: PathBuf,
    /// The main file loaded (absolute).
    pub config_file: PathBuf,
    /// Every file that was read, in order (main, then `local.yaml` if present).
    pub files: Vec<PathBuf>,
    /// Names of the `MAHAVISHNU_` variables applied, in the order applied (sorted by name).
    pub env_overrides: Vec<String>,
    /// No settings file: built from the defaults around `--repository LOCATION` (a bare host,
    /// see [`super::bare`]); only the commands that read a repository run.
    pub bare: bool,
}

/// One thing to back up, with every path absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedSource {
    /// A file or folder. `exclude` holds the global `backup.exclude` patterns followed by the
    /// source's own, without duplicates.
    Path { path: PathBuf, exclude: Vec<String> },
    /// A command whose standard output is stored as the file `name`.
    Command { name: String, command: Vec<String> },
}

impl LoadedSettings {
    /// The repository location: `storage.primary` (when type local) else `backup.directory`,
    /// absolute.
    pub fn repository_dir(&self) -> PathBuf {
        repository_dir_of(&self.settings)
    }

    /// Every local folder that holds a repository store (the primary and local replicas): never
    /// backed up.
    pub fn store_dirs(&self) -> Vec<PathBuf> {
        let mut dirs = vec![self.repository_dir()];
        for r in &self.settings.backup.storage.replicas {
            if let StorageTarget::Local { path, .. } = r {
                dirs.push(path.clone());
            }
        }
        dirs
    }

    /// The path sources continuous protection covers (`backup.continuous.paths`, or every path
    /// source), each with its stored name. A listed path that is not a path source is refused,
    /// naming the path sources.
    pub fn continuous_sources(&self) -> crate::error::Result<Vec<(PathBuf, String)>> {
        let paths: Vec<PathBuf> = self
            .sources()
            .into_iter()
            .filter_map(|s| match s {
                ResolvedSource::Path { path, .. } => Some(path),
                ResolvedSource::Command { .. } => None,
            })
            .collect();
        let wanted = &self.settings.backup.continuous.paths;
        if let Some(p) = wanted.iter().find(|p| !paths.contains(p)) {
            return Err(crate::error::Error::usage(format!(
                "backup.continuous.paths names {}, which is not one of the path sources ({})",
                p.display(),
                paths
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .with_guidance(
                "list path sources of backup.sources there, or leave it empty for all",
            ));
        }
        Ok(paths
            .into_iter()
            .filter(|p| wanted.is_empty() || wanted.contains(p))
            .filter_map(|p| {
                let stored = crate::repo::paths::stored_path_for(&self.project_root, &p).ok()?;
                Some((p, stored))
            })
            .collect())
    }

    /// The sources to back up; `[project_root/settings, project_root/data]` when
    /// `backup.sources` is empty. Paths absolute.
    pub fn sources(&self) -> Vec<ResolvedSource> {
        let backup = &self.settings.backup;
        let with_global = |own: &[String]| {
            let mut out: Vec<String> = Vec::new();
            for p in backup.exclude.iter().chain(own) {
                if !out.contains(p) {
                    out.push(p.clone());
                }
            }
            out
        };
        if backup.sources.is_empty() {
            return default_sources(&self.project_root)
                .into_iter()
                .map(|path| ResolvedSource::Path {
                    path,
                    exclude: with_global(&[]),
                })
                .collect();
        }
        backup
            .sources
            .iter()
            .map(|s| match s {
                SourceSpec::Path(path) => ResolvedSource::Path {
                    path: path.clone(),
                    exclude: with_global(&[]),
                },
                SourceSpec::PathWithExcludes { path, exclude } => ResolvedSource::Path {
                    path: path.clone(),
                    exclude: with_global(exclude),
                },
                SourceSpec::Command { name, command } => ResolvedSource::Command {
                    name: name.clone(),
                    command: command.clone(),
                },
            })
            .collect()
    }

    /// The settings as JSON with secrets redacted (`mcp.http.token` -> `"<redacted>"`).
    pub fn redacted_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(&self.settings).unwrap_or(Value::Null);
        if let Some(token) = value
            .get_mut("mcp")
            .and_then(|m| m.get_mut("http"))
            .and_then(|h| h.get_mut("token"))
            && !token.is_null()
        {
            *token = Value::String("<redacted>".to_string());
        }
        value
    }
}

/// Load the settings.
///
/// `config`: the `--config` path if given (relative to `cwd`); else `./settings/mahavishnu.yaml`
/// relative to `cwd`. `env`: the process environment as pairs; only `MAHAVISHNU_` variables
/// naming a settings section are used, and `HOME` for `~/` in paths.
pub fn load(config: Option<&Path>, cwd: &Path, env: &[(String, String)]) -> Result<LoadedSettings> {
    let cwd = std::path::absolute(cwd)
        .map(|p| normalize(&p))
        .map_err(|e| settings_io("resolve the working directory", cwd, e))?;
    let given = config.unwrap_or(Path::new(DEFAULT_CONFIG));
    let config_file = normalize(&cwd.join(given));
    let project_root = project_root_of(&config_file);
    let names = Names { cwd: cwd.clone() };

    // 1. The files, each parsed and checked on its own; 2. merged and checked together.
    let (mut layers, files) = read_files(&config_file, &names)?;
    let mut merged = merge_files(&layers)?;

    // 3. Environment overrides, each checked as it is applied.
    let mut env_overrides = Vec::new();
    for ov in env_overrides_of(env)? {
        let (value, layer_value) = apply_override(&merged, &ov)?;
        merged = value;
        layers.push(Layer {
            origin: format!("environment variable {}", ov.name),
            value: layer_value,
        });
        env_overrides.push(ov.name);
    }

    // 4. Paths resolved, checked as a whole, resolved into the typed settings.
    let mut doc = to_doc(&merged).map_err(|(path, msg)| {
        Error::settings(format!(
            "{}: {}: {msg}",
            origin_of(&layers, &path),
            show_key(&path)
        ))
        .with_guidance(SETTINGS_GUIDANCE)
    })?;
    let home = env
        .iter()
        .rev()
        .find(|(k, _)| k == "HOME")
        .map(|(_, v)| PathBuf::from(v))
        .filter(|h| h.is_absolute());
    let resolver = Resolver {
        root: &project_root,
        home: home.as_deref(),
        layers: &layers,
    };
    resolve_paths(&mut doc, &resolver)?;
    let settings = validate(doc, &project_root, &layers)?;

    Ok(LoadedSettings {
        settings,
        project_root,
        config_file,
        files,
        env_overrides,
        bare: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::test_support::{err_in, load_in, project, seed_path, shipped_path};
    use crate::settings::{BackupTypeSetting, DrillScenario, Repeat, Schedule};
    use chrono::{NaiveTime, Weekday};
    use chrono_tz::Tz;

    #[test]
    fn seed_loads_unchanged_with_expected_values() {
        let seed = std::fs::read_to_string(seed_path()).expect("read seed");
        let (_d, root) = project(&seed);
        let l = load_in(&root, &[]).expect("seed loads");
        let s = &l.settings;
        assert!(s.backup.enabled);
        assert_eq!(s.backup.directory, root.join("backups"));
        assert_eq!(l.repository_dir(), root.join("backups"));
        assert_eq!(l.project_root, root);
        assert_eq!(l.config_file, root.join("settings/mahavishnu.yaml"));
        assert_eq!(l.files, vec![root.join("settings/mahavishnu.yaml")]);
        assert!(l.env_overrides.is_empty());

        let at = |h: u32| NaiveTime::from_hms_opt(h, 0, 0).expect("time");
        let daily = &s.backup.schedules["daily_incremental"];
        assert!(daily.enabled);
        assert_eq!(daily.backup_type, BackupTypeSetting::Incremental);
        assert_eq!(
            daily.schedule,
            Schedule {
                time: at(2),
                timezone: Tz::UTC,
                repeat: Repeat::Daily
            }
        );
        assert_eq!(daily.retention_days, Some(7));
        let weekly = &s.backup.schedules["weekly_full"];
        assert_eq!(weekly.backup_type, BackupTypeSetting::Full);
        assert_eq!(weekly.schedule.repeat, Repeat::Weekly(Weekday::Sun));
        assert_eq!(weekly.schedule.time, at(3));
        assert_eq!(weekly.retention_weeks, Some(4));
        let monthly = &s.backup.schedules["monthly_archival"];
        assert_eq!(monthly.backup_type, BackupTypeSetting::Archival);
        assert_eq!(monthly.schedule.repeat, Repeat::Monthly(1));
        assert_eq!(monthly.schedule.time, at(4));
        assert_eq!(monthly.retention_months, Some(12));

        assert!(s.backup.encryption.enabled);
        assert_eq!(s.backup.encryption.algorithm, "AES-256-GCM");
        assert_eq!(
            s.backup.encryption.key_path,
            PathBuf::from("/etc/mahavishnu/backup_key")
        );
        assert_eq!(s.backup.validation.checksum_algorithm, "sha256");
        assert!(s.backup.validation.verify_on_create);
        assert!(s.backup.validation.verify_on_restore);
        assert_eq!(
            s.backup.monitoring.alert_channels,
            vec![
                crate::settings::AlertChannel::Name("email".into()),
                crate::settings::AlertChannel::Name("slack".into())
            ]
        );

        let dr = &s.disaster_recovery;
        assert_eq!(dr.rto_target_minutes, 15);
        assert_eq!(dr.rpo_target_minutes, 5);
        // Automated tests: weekly on Saturday at 05:00, in UTC (no timezone in the seed).
        assert!(dr.automated_tests.enabled);
        assert_eq!(
            dr.automated_tests.schedule,
            Schedule {
                time: at(5),
                timezone: Tz::UTC,
                repeat: Repeat::Weekly(Weekday::Sat)
            }
        );
        // Drills: monthly, on the default day 1 at 06:00 UTC.
        assert!(dr.drills.enabled);
        assert_eq!(
            dr.drills.schedule,
            Schedule {
                time: at(6),
                timezone: Tz::UTC,
                repeat: Repeat::Monthly(1)
            }
        );
        let scenarios: Vec<DrillScenario> =
            dr.drills.scenarios.iter().map(|d| d.scenario).collect();
        assert_eq!(scenarios, DrillScenario::ALL);
        assert!(
            dr.drills
                .scenarios
                .iter()
                .all(|d| *d == crate::settings::DrillScenarioSettings::plan(d.scenario)),
            "the seed lists the scenarios by id: each takes the DR plan's targets"
        );
        // Keys the seed leaves out take their defaults.
        assert_eq!(s.backup.volume_size_mb, 64);
        assert_eq!(s.backup.max_chain_length, 14);
        assert_eq!(s.mcp.http.listen, "127.0.0.1:8684");
        // Scratch space and restore roots: private folders in the project's state/ folder.
        assert_eq!(dr.restore_test.scratch_dir, root.join("state/scratch"));
        assert_eq!(s.mcp.restore_roots, vec![root.join("state/restores")]);
        assert_eq!(
            l.sources(),
            vec![
                ResolvedSource::Path {
                    path: root.join("settings"),
                    exclude: vec![]
                },
                ResolvedSource::Path {
                    path: root.join("data"),
                    exclude: vec![]
                },
            ]
        );
        // Shown, the seed's values read as the seed writes them.
        let j = l.redacted_json();
        assert_eq!(j["backup"]["schedules"]["weekly_full"]["day"], "sunday");
        assert_eq!(j["backup"]["schedules"]["monthly_archival"]["day"], 1);
        assert_eq!(
            j["backup"]["schedules"]["daily_incremental"]["time"],
            "02:00"
        );
        assert_eq!(
            j["disaster_recovery"]["automated_tests"]["schedule"],
            "weekly"
        );
        assert_eq!(j["disaster_recovery"]["automated_tests"]["day"], "saturday");
        assert_eq!(j["disaster_recovery"]["automated_tests"]["timezone"], "UTC");
        assert_eq!(j["disaster_recovery"]["drills"]["frequency"], "monthly");
        assert_eq!(
            j["disaster_recovery"]["drills"]["scenarios"][4],
            "data_deletion"
        );
    }

    #[test]
    fn shipped_file_loads() {
        let shipped = std::fs::read_to_string(shipped_path()).expect("read shipped");
        let (_d, root) = project(&shipped);
        let l = load_in(&root, &[]).expect("shipped file loads");
        assert_eq!(
            l.settings.backup.encryption.key_path,
            root.join("keys/backup_key")
        );
        assert_eq!(l.repository_dir(), root.join("backups"));
        assert_eq!(l.settings.backup.schedules.len(), 3);
        assert_eq!(l.settings.disaster_recovery.drills.scenarios.len(), 5);
        // The default state folder does not overlap the default sources (settings/, data/).
        assert_eq!(
            l.settings.disaster_recovery.restore_test.scratch_dir,
            root.join("state/scratch")
        );
        assert_eq!(
            l.settings.mcp.restore_roots,
            vec![root.join("state/restores")]
        );
        // Every key of the seed is in the shipped file.
        let seed: Value =
            serde_saphyr::from_str(&std::fs::read_to_string(seed_path()).expect("seed"))
                .expect("seed yaml");
        let ship: Value = serde_saphyr::from_str(&shipped).expect("shipped yaml");
        fn same_keys(seed: &Value, ship: &Value, at: &str) {
            if let (Value::Object(a), Value::Object(b)) = (seed, ship) {
                for (k, v) in a {
                    let sub = format!("{at}.{k}");
                    let other = b.get(k).unwrap_or_else(|| panic!("shipped lacks {sub}"));
                    same_keys(v, other, &sub);
                }
            }
        }
        same_keys(&seed, &ship, "");
        // And it loads in place too, from the shipped project root.
        let real = shipped_path();
        let l = load(Some(real.as_path()), Path::new("/"), &[]).expect("shipped loads in place");
        assert_eq!(
            l.project_root,
            real.parent().and_then(Path::parent).expect("root")
        );
    }

    #[test]
    fn redaction_hides_the_token() {
        let (_d, root) = project("mcp:\n  http:\n    token: hunter2\n");
        let l = load_in(&root, &[]).expect("loads");
        let j = l.redacted_json();
        assert_eq!(j["mcp"]["http"]["token"], "<redacted>");
        assert!(!j.to_string().contains("hunter2"));
        assert!(!format!("{l:?}").contains("hunter2"));
        assert_eq!(j["backup"]["volume_size_mb"], 64);
        let (_d, root) = project("");
        let l = load_in(&root, &[]).expect("loads");
        assert!(l.redacted_json()["mcp"]["http"]["token"].is_null());
    }

    #[test]
    fn sun_is_a_day_in_every_place() {
        let (_d, root) = project(
            "backup:\n  schedules:\n    weekly_full:\n      day: sun\ndisaster_recovery:\n  automated_tests:\n    day: Sun\n  drills:\n    frequency: weekly\n    day: SUN\n",
        );
        let l = load_in(&root, &[]).expect("sun loads everywhere");
        let sunday = Repeat::Weekly(Weekday::Sun);
        let s = &l.settings;
        assert_eq!(s.backup.schedules["weekly_full"].schedule.repeat, sunday);
        assert_eq!(s.disaster_recovery.automated_tests.schedule.repeat, sunday);
        assert_eq!(s.disaster_recovery.drills.schedule.repeat, sunday);
        // And from the environment.
        let (_d, root) = project("");
        let l = load_in(
            &root,
            &[
                ("MAHAVISHNU_BACKUP__SCHEDULES__WEEKLY_FULL__DAY", "sun"),
                ("MAHAVISHNU_DISASTER_RECOVERY__AUTOMATED_TESTS__DAY", "sun"),
                ("MAHAVISHNU_DISASTER_RECOVERY__DRILLS__FREQUENCY", "weekly"),
                ("MAHAVISHNU_DISASTER_RECOVERY__DRILLS__DAY", "sun"),
            ],
        )
        .expect("sun loads from the environment");
        let s = &l.settings;
        assert_eq!(s.backup.schedules["weekly_full"].schedule.repeat, sunday);
        assert_eq!(s.disaster_recovery.automated_tests.schedule.repeat, sunday);
        assert_eq!(s.disaster_recovery.drills.schedule.repeat, sunday);
        // Anything else is refused in every place, saying what is accepted.
        for yaml in [
            "backup:\n  schedules:\n    weekly_full:\n      day: sonntag\n",
            "disaster_recovery:\n  automated_tests:\n    day: sonntag\n",
            "disaster_recovery:\n  drills:\n    day: sonntag\n",
        ] {
            let (_d, root) = project(yaml);
            let e = err_in(&root, &[]);
            assert!(
                e.message.contains("line 4") || e.message.contains("line 3"),
                "{yaml}: {e}"
            );
            assert!(
                e.message.contains("three-letter abbreviation (mon..sun)"),
                "{yaml}: {e}"
            );
        }
    }
}
