//! The settings files: finding them (the main file, `local.yaml` beside it), reading them with a
//! size limit, parsing their YAML (serde-saphyr) and checking each against the file schema on its
//! own, with the line of any error; and merging them.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::document::SettingsDoc;
use super::keys::{KeyPath, Layer, SETTINGS_GUIDANCE, key_path_of, show_key};
use super::lenient::Lenient;
use crate::error::{Error, ErrorKind, Result};

/// The default settings file, relative to the working directory.
pub(super) const DEFAULT_CONFIG: &str = "settings/mahavishnu.yaml";
/// The overlay file, looked for beside the main file.
const LOCAL_FILE: &str = "local.yaml";
/// A settings file larger than this is refused.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Parser events (and alias replays) allowed in one settings text.
const MAX_YAML_EVENTS: usize = 100_000;

/// How paths are shown in messages: relative to the working directory when inside it.
pub(super) struct Names {
    pub(super) cwd: PathBuf,
}

impl Names {
    pub(super) fn show(&self, path: &Path) -> String {
        match path.strip_prefix(&self.cwd) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
            _ => path.display().to_string(),
        }
    }
}

/// Read and check the main file and, when present, `local.yaml` beside it. Returns one layer per
/// file (main first) and the files read.
pub(super) fn read_files(config_file: &Path, names: &Names) -> Result<(Vec<Layer>, Vec<PathBuf>)> {
    let mut layers: Vec<Layer> = Vec::new();
    let main_text = match read_settings_file(config_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::settings(format!(
                "settings file {} not found",
                config_file.display()
            ))
            .with_guidance(
                "pass --config PATH or create settings/mahavishnu.yaml; on a host without \
                 settings (a new server), read or restore a repository with \
                 --repository LOCATION --key-file PATH (README: Recovering on a bare host)",
            ));
        }
        Err(e) => return Err(settings_io("read settings file", config_file, e)),
    };
    let main_label = names.show(config_file);
    layers.push(Layer {
        origin: main_label.clone(),
        value: parse_file(&main_text, &main_label)?,
    });
    let mut files = vec![config_file.to_path_buf()];

    let local_file = config_file
        .parent()
        .map(|dir| dir.join(LOCAL_FILE))
        .filter(|p| p != config_file);
    if let Some(local_file) = local_file {
        match read_settings_file(&local_file) {
            Ok(text) => {
                let label = names.show(&local_file);
                layers.push(Layer {
                    value: parse_file(&text, &label)?,
                    origin: label,
                });
                files.push(local_file);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(settings_io("read settings file", &local_file, e)),
        }
    }
    Ok((layers, files))
}

/// Deserialize a (merged) value into the file form; the error carries the key path.
pub(super) fn to_doc(value: &Value) -> std::result::Result<SettingsDoc, (KeyPath, String)> {
    serde_path_to_error::deserialize::<_, SettingsDoc>(Lenient(value))
        .map_err(|e| (key_path_of(e.path()), humanize(&e.into_inner().to_string())))
}

/// Whether a (merged) value is a valid settings file; else the key path and the problem.
pub(super) fn check(value: &Value) -> std::result::Result<(), (KeyPath, String)> {
    to_doc(value).map(|_| ())
}

/// Merge the files' layers, main file first, and check the combination.
pub(super) fn merge_files(layers: &[Layer]) -> Result<Value> {
    let mut merged = Value::Object(Map::new());
    for layer in layers {
        merge(&mut merged, layer.value.clone());
    }
    if let Err((path, msg)) = check(&merged) {
        let origin = super::keys::origin_of(layers, &path);
        return Err(
            Error::settings(format!("{origin}: {}: {msg}", show_key(&path)))
                .with_guidance(SETTINGS_GUIDANCE),
        );
    }
    Ok(merged)
}

pub(super) fn settings_io(action: &str, path: &Path, err: std::io::Error) -> Error {
    let mut e = Error::from_io(action, path, err);
    e.kind = ErrorKind::Settings;
    e
}

/// The YAML options used for every settings text: YAML 1.2 booleans only (`yes` is a string),
/// numbers with leading zeros kept as strings (a token `0123` stays `0123`), duplicate keys
/// rejected, and a budget sized for a settings file (a few hundred events), far below the
/// library's defaults, so an alias bomb is rejected quickly.
pub(super) fn yaml_options() -> serde_saphyr::Options {
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    options.with_snippet = false;
    options.alias_limits.max_total_replayed_events = MAX_YAML_EVENTS;
    if let Some(budget) = options.budget.as_mut() {
        budget.max_events = MAX_YAML_EVENTS;
        budget.max_nodes = MAX_YAML_EVENTS;
    }
    options
}

/// Read a settings file, refusing one larger than [`MAX_FILE_BYTES`].
fn read_settings_file(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "larger than {} MiB, which no settings file needs",
            MAX_FILE_BYTES / (1024 * 1024)
        )));
    }
    Ok(text)
}

/// A serde-saphyr error as a user-facing message with its location, without a source snippet
/// (`unclosed bracket '[' at line 3, column 12`).
fn yaml_message(err: &serde_saphyr::Error) -> String {
    let mut options = serde_saphyr::RenderOptions::new(&serde_saphyr::UserMessageFormatter);
    options.snippets = serde_saphyr::SnippetMode::Off;
    humanize(&err.render_with_options(options))
}

/// Replace Rust type names in deserializer messages with words (`expected u64` ->
/// `expected a whole number (0 or more)`).
fn humanize(msg: &str) -> String {
    let mut out = msg.to_string();
    for (ty, words) in [
        ("u8", "a whole number (0 or more)"),
        ("u16", "a whole number (0 or more)"),
        ("u32", "a whole number (0 or more)"),
        ("u64", "a whole number (0 or more)"),
        ("i8", "a whole number"),
        ("i16", "a whole number"),
        ("i32", "a whole number"),
        ("i64", "a whole number"),
    ] {
        out = out
            .replace(&format!("expected {ty}"), &format!("expected {words}"))
            .replace(&format!("invalid {ty}"), &format!("not {words}"));
    }
    out
}

/// Parse one settings file into a mapping and check it against the schema on its own.
fn parse_file(text: &str, label: &str) -> Result<Value> {
    let value: Value = serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| {
        Error::settings(format!("{label}: invalid YAML: {}", yaml_message(&e)))
            .with_guidance("fix the YAML at the line and column shown")
    })?;
    let value = match value {
        Value::Null => return Ok(Value::Object(Map::new())),
        Value::Object(map) => Value::Object(map),
        other => {
            return Err(Error::settings(format!(
                "{label}: the settings file must be a mapping with the sections backup, \
                 disaster_recovery and mcp, not {}",
                describe(&other)
            ))
            .with_guidance(SETTINGS_GUIDANCE));
        }
    };
    let Err((path, msg)) = check(&value) else {
        return Ok(value);
    };
    // Locate the problem: the same check on the text itself carries line and column.
    let mut typed_path: Option<KeyPath> = None;
    let typed = serde_saphyr::with_deserializer_from_str_with_options(text, yaml_options(), |de| {
        serde_path_to_error::deserialize::<_, SettingsDoc>(de).map_err(|e| {
            typed_path = Some(key_path_of(e.path()));
            e.into_inner()
        })
    });
    let (path, msg) = match typed {
        Err(e) => (typed_path.unwrap_or_default(), yaml_message(&e)),
        Ok(_) => (path, msg),
    };
    let guidance = if msg.contains("unknown field") {
        "check the spelling; docs/SETTINGS.md lists every key"
    } else {
        SETTINGS_GUIDANCE
    };
    let key = if path.is_empty() {
        String::new()
    } else {
        format!("{}: ", show_key(&path))
    };
    Err(Error::settings(format!("{label}: {key}{msg}")).with_guidance(guidance))
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Deep merge: mappings merge key by key, anything else replaces. A mapping whose `type` differs
/// from the base's (a storage target of another kind) replaces the base rather than merging
/// into it. An empty value (`key:` with nothing) over a mapping changes nothing.
pub(super) fn merge(base: &mut Value, overlay: Value) {
    match (base, overlay) {
        (Value::Object(b), Value::Object(o)) => {
            let type_changes =
                matches!((b.get("type"), o.get("type")), (Some(x), Some(y)) if x != y);
            if type_changes {
                *b = o;
                return;
            }
            for (k, v) in o {
                match b.get_mut(&k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        b.insert(k, v);
                    }
                }
            }
        }
        (Value::Object(_), Value::Null) => {}
        (b, o) => *b = o,
    }
}

#[cfg(test)]
mod tests {
    use crate::error::ErrorKind;
    use crate::settings::test_support::{err_in, load_in, project, seed_path};
    use crate::settings::{Repeat, load};
    use chrono::{NaiveTime, Weekday};
    use std::path::PathBuf;

    #[test]
    fn local_yaml_overlays_the_main_file() {
        let seed = std::fs::read_to_string(seed_path()).expect("read seed");
        let (_d, root) = project(&seed);
        std::fs::write(
            root.join("settings/local.yaml"),
            "backup:\n  directory: /srv/repo\n  schedules:\n    weekly_full:\n      enabled: false\n  compression:\n    level: 5\nmcp:\n  http:\n    token: sekrit\n",
        )
        .expect("write local");
        let l = load_in(&root, &[]).expect("loads");
        assert_eq!(
            l.files,
            vec![
                root.join("settings/mahavishnu.yaml"),
                root.join("settings/local.yaml")
            ]
        );
        let s = &l.settings;
        assert_eq!(s.backup.directory, PathBuf::from("/srv/repo"));
        let weekly = &s.backup.schedules["weekly_full"];
        assert!(!weekly.enabled);
        // The rest of the schedule is kept (maps merge).
        assert_eq!(
            weekly.schedule.time,
            NaiveTime::from_hms_opt(3, 0, 0).unwrap()
        );
        assert_eq!(weekly.schedule.repeat, Repeat::Weekly(Weekday::Sun));
        assert!(s.backup.schedules["daily_incremental"].enabled);
        assert_eq!(s.backup.compression.level, 5);
        assert_eq!(s.backup.compression.archival_level, 19);
        assert_eq!(s.mcp.http.token.as_deref(), Some("sekrit"));
        // An empty local.yaml is fine.
        std::fs::write(root.join("settings/local.yaml"), "").expect("write");
        let l = load_in(&root, &[]).expect("empty local loads");
        assert_eq!(l.settings.backup.directory, root.join("backups"));
    }

    #[test]
    fn storage_target_of_another_type_replaces_rather_than_merges() {
        let (_d, root) =
            project("backup:\n  storage:\n    primary: { type: local, path: ./repo }\n");
        std::fs::write(
            root.join("settings/local.yaml"),
            "backup:\n  storage:\n    primary: { type: s3, bucket: b, region: r1 }\n",
        )
        .expect("write");
        let l = crate::settings::test_support::load_in(&root, &[]).expect("loads");
        // No `path` left over from the file below (it would be an unknown key of an s3 store).
        assert_eq!(
            l.settings
                .backup
                .storage
                .primary
                .as_ref()
                .map(|p| p.display_name()),
            Some("s3://b".to_string())
        );
        std::fs::write(
            root.join("settings/local.yaml"),
            "backup:\n  storage:\n    primary: { type: s3 }\n",
        )
        .expect("write");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("an s3 store needs a bucket"), "{e}");
        assert!(e.message.contains("settings/local.yaml"), "{e}");
        assert!(
            e.message.contains(
                "settings/local.yaml: backup.storage.primary: an s3 store needs a bucket"
            ),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_in_a_file_names_file_and_key_path() {
        let (_d, root) = project("backup:\n  directory: ./b\n");
        std::fs::write(
            root.join("settings/local.yaml"),
            "backup:\n  compresion:\n    level: 3\n",
        )
        .expect("write");
        let e = err_in(&root, &[]);
        assert_eq!(e.kind, ErrorKind::Settings);
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.message
                .contains("local.yaml: backup.compresion: unknown field `compresion`"),
            "{e}"
        );
        assert!(e.message.contains("line 2"), "{e}");

        let (_d, root) = project("backup:\n  schedules:\n    nightly:\n      tyme: \"01:00\"\n");
        let e = err_in(&root, &[]);
        assert!(
            e.message
                .contains("mahavishnu.yaml: backup.schedules.nightly.tyme"),
            "{e}"
        );

        let (_d, root) = project("backup:\n  sources:\n    - {name: x.sql, comand: [a]}\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("backup.sources[0]"), "{e}");
        assert!(e.message.contains("comand"), "{e}");
    }

    #[test]
    fn yaml_syntax_error_names_file_and_line() {
        let (_d, root) = project("backup:\n  directory: ./b\n  exclude: [a, b\nmcp: {}\n");
        let e = err_in(&root, &[]);
        assert_eq!(e.kind, ErrorKind::Settings);
        assert!(e.message.contains("mahavishnu.yaml"), "{e}");
        assert!(
            e.message.contains("line 3") || e.message.contains("line 4"),
            "{e}"
        );

        let (_d, root) = project("backup:\n  enabled: true\n  enabled: false\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("duplicate"), "{e}");
        assert!(e.message.contains("line 3"), "{e}");

        let (_d, root) = project("- a\n- b\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("must be a mapping"), "{e}");
    }

    #[test]
    fn alias_bomb_is_rejected() {
        let mut yaml = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x]\n");
        for i in 1..10 {
            let p = i - 1;
            yaml.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
            ));
        }
        let (_d, root) = project(&yaml);
        let e = err_in(&root, &[]);
        assert!(e.message.contains("mahavishnu.yaml: invalid YAML"), "{e}");
    }

    #[test]
    fn missing_main_file_names_the_path_with_guidance() {
        let dir = tempfile::tempdir().expect("tempdir");
        let e = match load(None, dir.path(), &[]) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        };
        assert_eq!(e.kind, ErrorKind::Settings);
        assert!(e.message.contains("settings/mahavishnu.yaml"), "{e}");
        assert!(
            e.guidance.as_deref().unwrap_or("").contains("--config"),
            "{e}"
        );
    }
}
