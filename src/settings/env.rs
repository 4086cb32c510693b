//! Environment overrides: `MAHAVISHNU_<SECTION>__<KEY>...=value`, applied over the merged files
//! one by one in name order, each checked as it is applied so that a bad one names its variable.
//!
//! Nothing here reads the process environment: the caller passes it in.

use serde_json::{Map, Value};

use super::keys::{KeyPath, show_key};
use super::source::{check, merge, yaml_options};
use crate::error::{Error, Result};

/// Prefix of environment overrides.
const ENV_PREFIX: &str = "MAHAVISHNU_";
/// Top-level sections; a `MAHAVISHNU_` variable whose first segment is not one of these is not
/// a settings override (e.g. `MAHAVISHNU_LOG`).
const SECTIONS: [&str; 4] = ["backup", "disaster_recovery", "mcp", "daemon"];

pub(super) struct EnvOverride {
    pub(super) name: String,
    path: Vec<String>,
    raw: String,
}

pub(super) fn env_overrides_of(env: &[(String, String)]) -> Result<Vec<EnvOverride>> {
    let mut out: Vec<EnvOverride> = Vec::new();
    for (name, raw) in env {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let path: Vec<String> = rest.split("__").map(|s| s.to_ascii_lowercase()).collect();
        let Some(first) = path.first() else { continue };
        if !SECTIONS.contains(&first.as_str()) {
            continue;
        }
        if path.iter().any(String::is_empty) {
            return Err(Error::settings(format!(
                "environment variable {name}: an empty key segment (segments are joined by \
                 exactly two underscores)"
            ))
            .with_guidance(format!(
                "rename or unset {name}; e.g. MAHAVISHNU_BACKUP__ENCRYPTION__KEY_PATH sets \
                 backup.encryption.key_path"
            )));
        }
        // The last occurrence of a name wins, as in a process environment.
        out.retain(|o| o.name != *name);
        out.push(EnvOverride {
            name: name.clone(),
            path,
            raw: raw.clone(),
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Apply one override to the merged value, with the same merge as `local.yaml` (a mapping value
/// merges into the mapping it overrides). Returns the new merged value and the layer (the
/// override alone, for provenance).
///
/// The value is read as YAML (`false`, `64`, `[a, b]`, `{level: 3}`), but where the key takes a
/// string the text is kept exactly as given (a token `1e3` or `0x10` stays as written). An empty
/// value or `null`/`~` clears an optional key.
pub(super) fn apply_override(merged: &Value, ov: &EnvOverride) -> Result<(Value, Value)> {
    let parsed: Option<Value> = serde_saphyr::from_str_with_options(&ov.raw, yaml_options()).ok();
    let raw = Value::String(ov.raw.clone());
    let candidates: Vec<Value> = match parsed {
        Some(Value::Null) => vec![Value::Null, raw],
        Some(Value::String(s)) if s == ov.raw => vec![raw],
        Some(p) => vec![raw, p],
        None => vec![raw],
    };
    let key = ov.path.join(".");
    let mut last_err: Option<(KeyPath, String)> = None;
    for candidate in candidates {
        let layer = layer_for(merged, &ov.path, candidate);
        let mut next = merged.clone();
        merge(&mut next, layer.clone());
        match check(&next) {
            Ok(()) => return Ok((next, layer)),
            Err(e) => last_err = Some(e),
        }
    }
    let (path, msg) = last_err.unwrap_or_default();
    let at = if path.is_empty() || show_key(&path) == key {
        String::new()
    } else {
        format!(" (at {})", show_key(&path))
    };
    Err(Error::settings(format!(
        "environment variable {} sets {key}: {msg}{at}",
        ov.name
    ))
    .with_guidance(format!(
        "fix or unset {}; lists and mappings use YAML flow syntax, e.g. '[\"*.log\", \"cache/\"]'",
        ov.name
    )))
}

/// The layer that sets `path` to `value` over `merged`. A numeric segment where `merged` holds a
/// list indexes into it (`MAHAVISHNU_BACKUP__STORAGE__REPLICAS__0__SECRET_ACCESS_KEY` sets the
/// first replica's secret): the layer then carries the whole list with that one item changed,
/// since a list in a layer replaces the list below it.
fn layer_for(merged: &Value, path: &[String], value: Value) -> Value {
    let mut cur = merged;
    for (i, seg) in path.iter().enumerate() {
        match cur {
            Value::Array(items) => {
                if let Ok(n) = seg.parse::<usize>()
                    && n < items.len()
                    && i > 0
                {
                    let mut items = items.clone();
                    let inner = layer_for(&items[n], &path[i + 1..], value);
                    merge(&mut items[n], inner);
                    let mut layer = Value::Object(Map::new());
                    set_path(&mut layer, &path[..i], Value::Array(items));
                    return layer;
                }
                break;
            }
            Value::Object(m) => match m.get(seg) {
                Some(v) => cur = v,
                None => break,
            },
            _ => break,
        }
    }
    let mut layer = Value::Object(Map::new());
    set_path(&mut layer, path, value);
    layer
}

/// Set `path` in `root`, creating (or replacing non-mapping values with) mappings on the way.
fn set_path(root: &mut Value, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        *root = value;
        return;
    };
    let mut cur = root;
    for key in parents {
        if !cur.is_object() {
            *cur = Value::Object(Map::new());
        }
        let Value::Object(map) = cur else { return };
        cur = map
            .entry(key.clone())
            .or_insert_with(|| Value::Object(Map::new()));
    }
    if !cur.is_object() {
        *cur = Value::Object(Map::new());
    }
    if let Value::Object(map) = cur {
        map.insert(last.clone(), value);
    }
}

#[cfg(test)]
mod tests {
    use crate::error::ErrorKind;
    use crate::settings::ResolvedSource;
    use crate::settings::test_support::{err_in, load_in, project, seed_path};
    use chrono::NaiveTime;
    use std::path::PathBuf;

    #[test]
    fn env_overrides_apply_with_types() {
        let seed = std::fs::read_to_string(seed_path()).expect("read seed");
        let (_d, root) = project(&seed);
        let l = load_in(
            &root,
            &[
                ("MAHAVISHNU_BACKUP__ENCRYPTION__KEY_PATH", "keys/k"),
                (
                    "MAHAVISHNU_BACKUP__SCHEDULES__DAILY_INCREMENTAL__ENABLED",
                    "false",
                ),
                ("MAHAVISHNU_BACKUP__VOLUME_SIZE_MB", "128"),
                ("MAHAVISHNU_BACKUP__EXCLUDE", "[\"*.log\", cache/]"),
                (
                    "MAHAVISHNU_BACKUP__SOURCES",
                    "[./a, {path: ./b, exclude: [x]}]",
                ),
                ("MAHAVISHNU_MCP__HTTP__TOKEN", "0123"),
                ("MAHAVISHNU_MCP__RESTORE_ROOTS", "[/tmp/r1, r2]"),
                ("MAHAVISHNU_LOG", "debug"),
                ("MAHAVISHNU_CONFIG", "/nowhere"),
                ("PATH", "/bin"),
            ],
        )
        .expect("loads");
        let s = &l.settings;
        assert_eq!(s.backup.encryption.key_path, root.join("keys/k"));
        assert!(!s.backup.schedules["daily_incremental"].enabled);
        assert_eq!(
            s.backup.schedules["daily_incremental"].schedule.time,
            NaiveTime::from_hms_opt(2, 0, 0).unwrap()
        );
        assert_eq!(s.backup.volume_size_mb, 128);
        assert_eq!(s.backup.exclude, vec!["*.log", "cache/"]);
        assert_eq!(s.mcp.http.token.as_deref(), Some("0123"));
        assert_eq!(
            s.mcp.restore_roots,
            vec![PathBuf::from("/tmp/r1"), root.join("r2")]
        );
        assert_eq!(
            l.sources(),
            vec![
                ResolvedSource::Path {
                    path: root.join("a"),
                    exclude: vec!["*.log".into(), "cache/".into()]
                },
                ResolvedSource::Path {
                    path: root.join("b"),
                    exclude: vec!["*.log".into(), "cache/".into(), "x".into()]
                },
            ]
        );
        assert_eq!(
            l.env_overrides,
            vec![
                "MAHAVISHNU_BACKUP__ENCRYPTION__KEY_PATH",
                "MAHAVISHNU_BACKUP__EXCLUDE",
                "MAHAVISHNU_BACKUP__SCHEDULES__DAILY_INCREMENTAL__ENABLED",
                "MAHAVISHNU_BACKUP__SOURCES",
                "MAHAVISHNU_BACKUP__VOLUME_SIZE_MB",
                "MAHAVISHNU_MCP__HTTP__TOKEN",
                "MAHAVISHNU_MCP__RESTORE_ROOTS",
            ]
        );
        // env wins over local.yaml, which wins over the main file.
        std::fs::write(
            root.join("settings/local.yaml"),
            "backup:\n  directory: /l\n",
        )
        .expect("write");
        let l = load_in(&root, &[("MAHAVISHNU_BACKUP__DIRECTORY", "/srv/backups")]).expect("loads");
        assert_eq!(l.settings.backup.directory, PathBuf::from("/srv/backups"));
        // A mapping value merges into the mapping it overrides.
        let l = load_in(
            &root,
            &[(
                "MAHAVISHNU_BACKUP__SCHEDULES__WEEKLY_FULL",
                "{enabled: false, time: \"06:30\"}",
            )],
        )
        .expect("loads");
        let weekly = &l.settings.backup.schedules["weekly_full"];
        assert!(!weekly.enabled);
        assert_eq!(
            weekly.schedule.time,
            NaiveTime::from_hms_opt(6, 30, 0).unwrap()
        );
        assert_eq!(weekly.retention_weeks, Some(4));
        // null clears an optional key.
        let l = load_in(
            &root,
            &[
                ("MAHAVISHNU_MCP__HTTP__TOKEN_FILE", "/t"),
                ("MAHAVISHNU_MCP__HTTP__TOKEN", "~"),
            ],
        )
        .expect("loads");
        assert_eq!(l.settings.mcp.http.token_file, Some(PathBuf::from("/t")));
        assert_eq!(l.settings.mcp.http.token, None);
    }

    #[test]
    fn env_errors_name_the_variable() {
        let (_d, root) = project("");
        let e = err_in(&root, &[("MAHAVISHNU_BACKUP__COMPRESION__LEVEL", "3")]);
        assert_eq!(e.kind, ErrorKind::Settings);
        assert!(
            e.message.contains("MAHAVISHNU_BACKUP__COMPRESION__LEVEL"),
            "{e}"
        );
        assert!(e.message.contains("backup.compresion"), "{e}");
        assert!(e.message.contains("unknown field"), "{e}");

        let e = err_in(&root, &[("MAHAVISHNU_BACKUP__ENABLED", "maybe")]);
        assert!(e.message.contains("MAHAVISHNU_BACKUP__ENABLED"), "{e}");
        assert!(e.message.contains("backup.enabled"), "{e}");
        assert!(e.message.contains("boolean"), "{e}");

        let e = err_in(&root, &[("MAHAVISHNU_BACKUP__VOLUME_SIZE_MB", "big")]);
        assert!(
            e.message.contains("MAHAVISHNU_BACKUP__VOLUME_SIZE_MB"),
            "{e}"
        );
        assert!(
            e.message.contains("expected a whole number (0 or more)"),
            "{e}"
        );

        let e = err_in(&root, &[("MAHAVISHNU_BACKUP____DIRECTORY", "/x")]);
        assert!(e.message.contains("MAHAVISHNU_BACKUP____DIRECTORY"), "{e}");
    }
}
