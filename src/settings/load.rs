//! Loading the settings: finding the file, YAML parsing (serde-saphyr), `local.yaml` overlay,
//! `MAHAVISHNU_` environment overrides, path resolution against the project root, validation.
//!
//! The pipeline, in order:
//!
//! 1. Each file is parsed into a `serde_json::Value` (a YAML syntax error names the file and the
//!    line) and checked on its own against [`Settings`] (an unknown key or a wrong type names the
//!    file, the key path and the line).
//! 2. The values are deep-merged: `local.yaml` over the main file. Mappings merge key by key; a
//!    mapping whose `type` differs from the one it overrides (a storage target) replaces it; an
//!    empty value over a mapping changes nothing; anything else (scalars, lists) replaces.
//! 3. Environment overrides are merged the same way, one by one in name order, each checked as
//!    it is applied, so a bad one names the variable.
//! 4. The merged value is deserialized into [`Settings`], relative paths are resolved against
//!    the project root, and the result is validated. Validation errors name the key and where
//!    its value came from (file, environment variable, or the built-in default).
//!
//! Nothing here reads the process environment: the caller passes it in.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Component, Path, PathBuf};

use serde::de::{self, DeserializeSeed, IntoDeserializer, Visitor};
use serde_json::{Map, Value};

use super::schema::{
    DaySetting, Settings, SourceSpec, StorageTarget, parse_time_of_day, parse_weekday,
};
use crate::error::{Error, ErrorKind, Result};

/// The default settings file, relative to the working directory.
const DEFAULT_CONFIG: &str = "settings/mahavishnu.yaml";
/// The overlay file, looked for beside the main file.
const LOCAL_FILE: &str = "local.yaml";
/// Prefix of environment overrides.
const ENV_PREFIX: &str = "MAHAVISHNU_";
/// Top-level sections; a `MAHAVISHNU_` variable whose first segment is not one of these is not
/// a settings override (e.g. `MAHAVISHNU_LOG`).
const SECTIONS: [&str; 3] = ["backup", "disaster_recovery", "mcp"];
/// The only accepted encryption algorithm, in its canonical spelling.
const ALGORITHM: &str = "AES-256-GCM";
/// The only accepted checksum algorithm.
const CHECKSUM: &str = "sha256";
/// A settings file larger than this is refused.
const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Parser events (and alias replays) allowed in one settings text.
const MAX_YAML_EVENTS: usize = 100_000;
/// What to do about a settings error, when nothing more specific applies.
const SETTINGS_GUIDANCE: &str =
    "fix the value; docs/SETTINGS.md lists every key, its type and default";

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

fn repository_dir_of(settings: &Settings) -> PathBuf {
    match &settings.backup.storage.primary {
        Some(StorageTarget::Local { path }) => path.clone(),
        _ => settings.backup.directory.clone(),
    }
}

fn default_sources(root: &Path) -> Vec<PathBuf> {
    vec![root.join("settings"), root.join("data")]
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

    // 1. The files, each parsed and checked on its own.
    let mut layers: Vec<Layer> = Vec::new();
    let main_text = match read_settings_file(&config_file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::settings(format!(
                "settings file {} not found",
                config_file.display()
            ))
            .with_guidance("pass --config PATH or create settings/mahavishnu.yaml"));
        }
        Err(e) => return Err(settings_io("read settings file", &config_file, e)),
    };
    let main_label = names.show(&config_file);
    layers.push(Layer {
        origin: main_label.clone(),
        value: parse_file(&main_text, &main_label)?,
    });
    let mut files = vec![config_file.clone()];

    let local_file = config_file
        .parent()
        .map(|dir| dir.join(LOCAL_FILE))
        .filter(|p| *p != config_file);
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

    // 2. Merge the files and check the combination.
    let mut merged = Value::Object(Map::new());
    for layer in &layers {
        merge(&mut merged, layer.value.clone());
    }
    if let Err((path, msg)) = check(&merged) {
        let origin = origin_of(&layers, &path);
        return Err(
            Error::settings(format!("{origin}: {}: {msg}", show_key(&path)))
                .with_guidance(SETTINGS_GUIDANCE),
        );
    }

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

    // 4. Typed settings, paths resolved, validated.
    let mut settings = to_settings(&merged).map_err(|(path, msg)| {
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
    resolve_paths(&mut settings, &resolver)?;
    validate(&mut settings, &project_root, &layers)?;

    Ok(LoadedSettings {
        settings,
        project_root,
        config_file,
        files,
        env_overrides,
    })
}

/// Deserialize a (merged) value into typed settings; the error carries the key path.
fn to_settings(value: &Value) -> std::result::Result<Settings, (KeyPath, String)> {
    serde_path_to_error::deserialize::<_, Settings>(Lenient(value))
        .map_err(|e| (key_path_of(e.path()), humanize(&e.into_inner().to_string())))
}

fn check(value: &Value) -> std::result::Result<(), (KeyPath, String)> {
    to_settings(value).map(|_| ())
}

// ---------------------------------------------------------------------------------------------
// Files

/// One source of values: a file or an environment variable, with what it set.
struct Layer {
    /// How to name it in an error: the file as the user would type it, or the variable.
    origin: String,
    value: Value,
}

/// How paths are shown in messages: relative to the working directory when inside it.
struct Names {
    cwd: PathBuf,
}

impl Names {
    fn show(&self, path: &Path) -> String {
        match path.strip_prefix(&self.cwd) {
            Ok(rel) if !rel.as_os_str().is_empty() => rel.display().to_string(),
            _ => path.display().to_string(),
        }
    }
}

fn settings_io(action: &str, path: &Path, err: std::io::Error) -> Error {
    let mut e = Error::from_io(action, path, err);
    e.kind = ErrorKind::Settings;
    e
}

/// The YAML options used for every settings text: YAML 1.2 booleans only (`yes` is a string),
/// numbers with leading zeros kept as strings (a token `0123` stays `0123`), duplicate keys
/// rejected, and a budget sized for a settings file (a few hundred events), far below the
/// library's defaults, so an alias bomb is rejected quickly.
fn yaml_options() -> serde_saphyr::Options {
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
        serde_path_to_error::deserialize::<_, Settings>(de).map_err(|e| {
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
fn merge(base: &mut Value, overlay: Value) {
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

// ---------------------------------------------------------------------------------------------
// Key paths and provenance

#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Key(String),
    Index(usize),
}

type KeyPath = Vec<Seg>;

fn key_path_of(path: &serde_path_to_error::Path) -> KeyPath {
    path.iter()
        .filter_map(|s| match s {
            serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
            serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
            serde_path_to_error::Segment::Enum { .. } | serde_path_to_error::Segment::Unknown => {
                None
            }
        })
        .collect()
}

fn keys(parts: &[&str]) -> KeyPath {
    parts.iter().map(|p| Seg::Key((*p).to_string())).collect()
}

fn show_key(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() {
        out.push_str("(top level)");
    }
    out
}

/// Whether `value` sets `path` (or a value that contains it, such as a whole list).
fn sets(value: &Value, path: &[Seg]) -> bool {
    let mut cur = value;
    for seg in path {
        match (cur, seg) {
            (Value::Object(m), Seg::Key(k)) => match m.get(k) {
                Some(v) => cur = v,
                None => return false,
            },
            // A list or scalar set here contains everything below it.
            _ => return true,
        }
    }
    true
}

/// Where the effective value at `path` came from: the last layer that sets it, else the default.
fn origin_of(layers: &[Layer], path: &[Seg]) -> String {
    layers
        .iter()
        .rev()
        .find(|l| sets(&l.value, path))
        .map(|l| l.origin.clone())
        .unwrap_or_else(|| "built-in default".to_string())
}

// ---------------------------------------------------------------------------------------------
// Environment overrides

struct EnvOverride {
    name: String,
    path: Vec<String>,
    raw: String,
}

fn env_overrides_of(env: &[(String, String)]) -> Result<Vec<EnvOverride>> {
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
fn apply_override(merged: &Value, ov: &EnvOverride) -> Result<(Value, Value)> {
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
        let mut layer = Value::Object(Map::new());
        set_path(&mut layer, &ov.path, candidate);
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

// ---------------------------------------------------------------------------------------------
// Paths

/// The folder holding the `settings/` folder of the file, else the file's own folder.
fn project_root_of(config_file: &Path) -> PathBuf {
    let dir = config_file.parent().unwrap_or(Path::new("/"));
    if dir.file_name().is_some_and(|n| n == "settings") {
        dir.parent().unwrap_or(dir).to_path_buf()
    } else {
        dir.to_path_buf()
    }
}

/// Lexical normalisation: drop `.`, resolve `..` against the preceding component (never above
/// the root). Does not touch the filesystem.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                let popped =
                    matches!(out.components().next_back(), Some(Component::Normal(_))) && out.pop();
                if !popped && !out.has_root() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

struct Resolver<'a> {
    root: &'a Path,
    home: Option<&'a Path>,
    layers: &'a [Layer],
}

impl Resolver<'_> {
    /// Absolute, normalised: `~/x` against HOME, relative against the project root.
    fn resolve(&self, path: &Path, key: &[Seg]) -> Result<PathBuf> {
        let mut comps = path.components();
        let joined = match comps.next() {
            Some(Component::Normal(first)) if first == "~" => match self.home {
                Some(home) => home.join(comps.as_path()),
                None => {
                    return Err(Error::settings(format!(
                        "{}: {}: cannot expand `~` in {}: HOME is not set",
                        origin_of(self.layers, key),
                        show_key(key),
                        path.display()
                    ))
                    .with_guidance("write the path in full, or set HOME"));
                }
            },
            _ => self.root.join(path),
        };
        Ok(normalize(&joined))
    }
}

fn resolve_paths(s: &mut Settings, r: &Resolver<'_>) -> Result<()> {
    let b = &mut s.backup;
    b.directory = r.resolve(&b.directory, &keys(&["backup", "directory"]))?;
    b.encryption.key_path = r.resolve(
        &b.encryption.key_path,
        &keys(&["backup", "encryption", "key_path"]),
    )?;
    for (i, source) in b.sources.iter_mut().enumerate() {
        let key = index_key(&["backup", "sources"], i);
        match source {
            SourceSpec::Path(path) | SourceSpec::PathWithExcludes { path, .. } => {
                *path = r.resolve(path, &key)?;
            }
            SourceSpec::Command { .. } => {}
        }
    }
    if let Some(StorageTarget::Local { path }) = &mut b.storage.primary {
        *path = r.resolve(path, &keys(&["backup", "storage", "primary", "path"]))?;
    }
    for (i, replica) in b.storage.replicas.iter_mut().enumerate() {
        if let StorageTarget::Local { path } = replica {
            *path = r.resolve(path, &index_key(&["backup", "storage", "replicas"], i))?;
        }
    }
    let scratch = &mut s.disaster_recovery.restore_test.scratch_dir;
    *scratch = r.resolve(
        scratch,
        &keys(&["disaster_recovery", "restore_test", "scratch_dir"]),
    )?;
    for (i, root) in s.mcp.restore_roots.iter_mut().enumerate() {
        *root = r.resolve(root, &index_key(&["mcp", "restore_roots"], i))?;
    }
    if let Some(token_file) = &mut s.mcp.http.token_file {
        *token_file = r.resolve(token_file, &keys(&["mcp", "http", "token_file"]))?;
    }
    Ok(())
}

fn index_key(parts: &[&str], index: usize) -> KeyPath {
    let mut key = keys(parts);
    key.push(Seg::Index(index));
    key
}

/// `a` is `b` or lies inside it (lexically; both absolute and normalised).
fn within(a: &Path, b: &Path) -> bool {
    a.starts_with(b)
}

// ---------------------------------------------------------------------------------------------
// Validation

/// Collects problems, each naming the key and where its value came from.
struct Problems<'a> {
    layers: &'a [Layer],
    list: Vec<(String, Option<String>)>,
}

impl Problems<'_> {
    fn add(&mut self, key: &[Seg], msg: impl fmt::Display, guidance: Option<&str>) {
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

fn validate(s: &mut Settings, root: &Path, layers: &[Layer]) -> Result<()> {
    let mut p = Problems {
        layers,
        list: Vec::new(),
    };
    validate_backup(s, &mut p);
    validate_dr(s, &mut p);
    validate_mcp(s, &mut p);
    validate_overlaps(s, root, &mut p);
    p.into_result()
}

fn validate_backup(s: &mut Settings, p: &mut Problems<'_>) {
    let b = &mut s.backup;

    let algo = &mut b.encryption.algorithm;
    if algo.eq_ignore_ascii_case(ALGORITHM) {
        *algo = ALGORITHM.to_string();
    } else {
        p.add(
            &keys(&["backup", "encryption", "algorithm"]),
            format!("unsupported algorithm {algo:?}; only \"{ALGORITHM}\" is supported"),
            Some("set backup.encryption.algorithm to \"AES-256-GCM\""),
        );
    }
    let sum = &mut b.validation.checksum_algorithm;
    if sum.eq_ignore_ascii_case(CHECKSUM) {
        *sum = CHECKSUM.to_string();
    } else {
        p.add(
            &keys(&["backup", "validation", "checksum_algorithm"]),
            format!("unsupported checksum algorithm {sum:?}; only \"{CHECKSUM}\" is supported"),
            Some("set backup.validation.checksum_algorithm to \"sha256\""),
        );
    }
    if b.volume_size_mb < 1 {
        p.add(
            &keys(&["backup", "volume_size_mb"]),
            "must be at least 1 (MiB)",
            None,
        );
    }
    if b.max_chain_length < 1 {
        p.add(
            &keys(&["backup", "max_chain_length"]),
            "must be at least 1",
            None,
        );
    }
    for (name, level) in [
        ("level", b.compression.level),
        ("archival_level", b.compression.archival_level),
    ] {
        if !(1..=22).contains(&level) {
            p.add(
                &keys(&["backup", "compression", name]),
                format!("{level} is not a zstd level; use 1..=22"),
                None,
            );
        }
    }
    for (i, pattern) in b.exclude.iter().enumerate() {
        if pattern.trim().is_empty() {
            p.add(
                &index_key(&["backup", "exclude"], i),
                "an empty exclude pattern",
                None,
            );
        }
    }

    for (name, sched) in b.schedules.iter_mut() {
        let key = |field: &str| keys(&["backup", "schedules", name, field]);
        if parse_time_of_day(&sched.time).is_none() {
            p.add(
                &key("time"),
                format!(
                    "{:?} is not a time of day; write \"HH:MM\" (24-hour)",
                    sched.time
                ),
                None,
            );
        }
        if sched.timezone.trim().is_empty() {
            p.add(
                &key("timezone"),
                "empty; use \"UTC\" or an IANA zone name such as \"Europe/Berlin\"",
                None,
            );
        }
        if let Some(day) = &mut sched.day {
            check_day(day, &key("day"), p);
        }
        if sched.effective_backup_type(name).is_none() {
            p.add(
                &keys(&["backup", "schedules", name]),
                "cannot tell which backup type this schedule runs",
                Some(
                    "set backup_type (full, incremental or archival), or end the schedule's name \
                     in _full, _incremental or _archival",
                ),
            );
        }
    }

    // Storage targets.
    let cloud = "cloud storage is not implemented yet; use { type: local, path: ... } \
                 (or backup.directory)";
    if let Some(primary) = &b.storage.primary
        && !matches!(primary, StorageTarget::Local { .. })
    {
        p.add(
            &keys(&["backup", "storage", "primary"]),
            format!("storage type {}: {cloud}", primary.type_name()),
            Some("use a local repository until cloud storage arrives"),
        );
    }
    for (i, replica) in b.storage.replicas.iter().enumerate() {
        if !matches!(replica, StorageTarget::Local { .. }) {
            p.add(
                &index_key(&["backup", "storage", "replicas"], i),
                format!("storage type {}: {cloud}", replica.type_name()),
                Some("use a local replica until cloud storage arrives"),
            );
        }
    }

    // Sources.
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut paths: Vec<(usize, PathBuf)> = Vec::new();
    for (i, source) in b.sources.iter().enumerate() {
        let key = index_key(&["backup", "sources"], i);
        match source {
            SourceSpec::Command { name, command } => {
                let name_ok = !name.trim().is_empty()
                    && Path::new(name)
                        .components()
                        .all(|c| matches!(c, Component::Normal(_)));
                if !name_ok {
                    p.add(
                        &key,
                        format!(
                            "command source name {name:?} must be a non-empty relative path \
                             without `..` (the file its output is stored as, e.g. \"postgres.sql\")"
                        ),
                        None,
                    );
                } else if !names.insert(name.clone()) {
                    p.add(
                        &key,
                        format!("two command sources are named {name:?}; names must be unique"),
                        None,
                    );
                }
                if command.first().is_none_or(|c| c.trim().is_empty()) {
                    p.add(
                        &key,
                        format!(
                            "command source {name:?} needs a command: the program and its \
                             arguments, e.g. [\"pg_dump\", \"mydb\"]"
                        ),
                        None,
                    );
                }
            }
            SourceSpec::Path(path) | SourceSpec::PathWithExcludes { path, .. } => {
                if let Some((j, _)) = paths.iter().find(|(_, q)| q == path) {
                    p.add(
                        &key,
                        format!(
                            "{} is listed twice (also backup.sources[{j}])",
                            path.display()
                        ),
                        Some("remove the duplicate source"),
                    );
                } else {
                    paths.push((i, path.clone()));
                }
                if let SourceSpec::PathWithExcludes { exclude, .. } = source
                    && exclude.iter().any(|e| e.trim().is_empty())
                {
                    p.add(&key, "an empty exclude pattern", None);
                }
            }
        }
    }
}

fn check_day(day: &mut DaySetting, key: &[Seg], p: &mut Problems<'_>) {
    match day {
        DaySetting::OfMonth(d) if !(1..=31).contains(d) => p.add(
            key,
            format!("{d} is not a day of the month; use 1..=31"),
            None,
        ),
        DaySetting::OfMonth(_) => {}
        DaySetting::Weekday(name) => {
            if parse_weekday(name).is_some() {
                *name = name.trim().to_ascii_lowercase();
            } else {
                p.add(
                    key,
                    format!("{name:?} is not a weekday; use monday..sunday"),
                    None,
                );
            }
        }
    }
}

fn check_frequency(value: &mut String, key: &[Seg], p: &mut Problems<'_>) {
    let lower = value.trim().to_ascii_lowercase();
    if ["daily", "weekly", "monthly"].contains(&lower.as_str()) {
        *value = lower;
    } else {
        p.add(
            key,
            format!("{value:?} is not a frequency; use daily, weekly or monthly"),
            None,
        );
    }
}

fn validate_dr(s: &mut Settings, p: &mut Problems<'_>) {
    let dr = &mut s.disaster_recovery;
    if dr.rto_target_minutes < 1 {
        p.add(
            &keys(&["disaster_recovery", "rto_target_minutes"]),
            "must be at least 1 (minute)",
            None,
        );
    }
    if dr.rpo_target_minutes < 1 {
        p.add(
            &keys(&["disaster_recovery", "rpo_target_minutes"]),
            "must be at least 1 (minute)",
            None,
        );
    }
    let at = &mut dr.automated_tests;
    check_frequency(
        &mut at.schedule,
        &keys(&["disaster_recovery", "automated_tests", "schedule"]),
        p,
    );
    if parse_time_of_day(&at.time).is_none() {
        p.add(
            &keys(&["disaster_recovery", "automated_tests", "time"]),
            format!(
                "{:?} is not a time of day; write \"HH:MM\" (24-hour)",
                at.time
            ),
            None,
        );
    }
    if let Some(day) = &mut at.day {
        check_day(
            day,
            &keys(&["disaster_recovery", "automated_tests", "day"]),
            p,
        );
    }
    check_frequency(
        &mut dr.drills.frequency,
        &keys(&["disaster_recovery", "drills", "frequency"]),
        p,
    );
    for (i, scenario) in dr.drills.scenarios.iter().enumerate() {
        if scenario.trim().is_empty() {
            p.add(
                &index_key(&["disaster_recovery", "drills", "scenarios"], i),
                "an empty scenario name",
                None,
            );
        }
    }
}

fn validate_mcp(s: &mut Settings, p: &mut Problems<'_>) {
    let http = &s.mcp.http;
    let listen_ok = http.listen.parse::<std::net::SocketAddr>().is_ok()
        || http.listen.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty() && !host.contains(':') && port.parse::<u16>().is_ok()
        });
    if !listen_ok {
        p.add(
            &keys(&["mcp", "http", "listen"]),
            format!(
                "{:?} is not an address to listen on; write HOST:PORT, e.g. \"127.0.0.1:8684\"",
                http.listen
            ),
            None,
        );
    }
    if http.token.as_ref().is_some_and(|t| t.trim().is_empty()) {
        p.add(
            &keys(&["mcp", "http", "token"]),
            "an empty token; set a real secret or leave the key out",
            None,
        );
    }
}

/// The repository, the scratch folder and the sources must stay apart: the repository is never
/// backed up, and restore tests and drills never work inside live data or the repository.
fn validate_overlaps(s: &Settings, root: &Path, p: &mut Problems<'_>) {
    let repo = repository_dir_of(s);
    let scratch = &s.disaster_recovery.restore_test.scratch_dir;
    let scratch_key = keys(&["disaster_recovery", "restore_test", "scratch_dir"]);

    // (key, path, label)
    let mut sources: Vec<(KeyPath, PathBuf, String)> = Vec::new();
    if s.backup.sources.is_empty() {
        for path in default_sources(root) {
            sources.push((
                keys(&["backup", "sources"]),
                path.clone(),
                format!("the default source {}", path.display()),
            ));
        }
    } else {
        for (i, source) in s.backup.sources.iter().enumerate() {
            if let Some(path) = source.path() {
                sources.push((
                    index_key(&["backup", "sources"], i),
                    path.to_path_buf(),
                    format!("source {}", path.display()),
                ));
            }
        }
    }

    let repo_guidance = "keep the repository outside every source: move backup.directory (or \
                         storage.primary) elsewhere, or list narrower sources";
    for (key, path, label) in &sources {
        if within(path, &repo) {
            p.add(
                key,
                format!(
                    "{label} is inside the repository {} (the repository is never backed up)",
                    repo.display()
                ),
                Some(repo_guidance),
            );
        }
        // A repository inside a source is fine: the scan skips it (and says so).
        if within(scratch, path) || within(path, scratch) {
            p.add(
                &scratch_key,
                format!(
                    "the scratch folder {} overlaps {label}; restore tests and drills must never \
                     work on live data",
                    scratch.display()
                ),
                Some("point disaster_recovery.restore_test.scratch_dir at a folder of its own"),
            );
        }
    }
    if within(scratch, &repo) || within(&repo, scratch) {
        p.add(
            &scratch_key,
            format!(
                "the scratch folder {} overlaps the repository {}",
                scratch.display(),
                repo.display()
            ),
            Some("point disaster_recovery.restore_test.scratch_dir at a folder of its own"),
        );
    }
    for (i, replica) in s.backup.storage.replicas.iter().enumerate() {
        if let StorageTarget::Local { path } = replica
            && (within(path, &repo) || within(&repo, path))
        {
            p.add(
                &index_key(&["backup", "storage", "replicas"], i),
                format!(
                    "the replica {} overlaps the repository {}",
                    path.display(),
                    repo.display()
                ),
                Some("put each replica in a folder of its own, ideally on another disk"),
            );
        }
    }
    let key_path = &s.backup.encryption.key_path;
    if s.backup.encryption.enabled && within(key_path, &repo) {
        p.add(
            &keys(&["backup", "encryption", "key_path"]),
            format!(
                "the key file {} is inside the repository {}; whoever gets a copy of the \
                 repository would get the key with it",
                key_path.display(),
                repo.display()
            ),
            Some("keep the key file outside the repository, and a copy of it somewhere safe"),
        );
    }
    for (i, restore_root) in s.mcp.restore_roots.iter().enumerate() {
        if within(restore_root, &repo) {
            p.add(
                &index_key(&["mcp", "restore_roots"], i),
                format!(
                    "the restore root {} is inside the repository {}",
                    restore_root.display(),
                    repo.display()
                ),
                Some("restore roots must lie outside the repository"),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A lenient view of a merged value for deserialization

/// Deserializes a `serde_json::Value` the way a typed YAML read would: a number or boolean is
/// accepted where a string is expected (`command: [pg_dump, -p, 5432]`, an env override
/// `MAHAVISHNU_MCP__HTTP__TOKEN=1234`), and a numeric or boolean string where a number or
/// boolean is expected (an env override's raw text `64`, `false`). An empty value (`backup:`
/// with nothing under it) is an empty section or list. Everything else is strict.
struct Lenient<'a>(&'a Value);

fn unexpected(value: &Value) -> de::Unexpected<'_> {
    match value {
        Value::Null => de::Unexpected::Unit,
        Value::Bool(b) => de::Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => de::Unexpected::Unsigned(u),
            (_, Some(i), _) => de::Unexpected::Signed(i),
            (_, _, Some(f)) => de::Unexpected::Float(f),
            _ => de::Unexpected::Other("number"),
        },
        Value::String(s) => de::Unexpected::Str(s),
        Value::Array(_) => de::Unexpected::Seq,
        Value::Object(_) => de::Unexpected::Map,
    }
}

impl Lenient<'_> {
    fn int<'de, V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, serde_json::Error> {
        if let Value::String(s) = self.0 {
            let t = s.trim();
            if let Ok(u) = t.parse::<u64>() {
                return visitor.visit_u64(u);
            }
            if let Ok(i) = t.parse::<i64>() {
                return visitor.visit_i64(i);
            }
        }
        de::Deserializer::deserialize_any(self, visitor)
    }
}

macro_rules! lenient_ints {
    ($($name:ident)*) => {
        $(
            fn $name<V: Visitor<'de>>(self, visitor: V) -> std::result::Result<V::Value, Self::Error> {
                self.int(visitor)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for Lenient<'_> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    visitor.visit_i64(i)
                } else if let Some(f) = n.as_f64() {
                    visitor.visit_f64(f)
                } else {
                    Err(de::Error::custom("a number out of range"))
                }
            }
            Value::String(s) => visitor.visit_str(s),
            Value::Array(items) => {
                let mut seq = SeqDe {
                    iter: items.iter(),
                    len: items.len(),
                    seen: 0,
                };
                let out = visitor.visit_seq(&mut seq)?;
                if seq.iter.len() == 0 {
                    Ok(out)
                } else {
                    Err(de::Error::invalid_length(
                        seq.len,
                        &"fewer elements in the list",
                    ))
                }
            }
            Value::Object(map) => visitor.visit_map(MapDe {
                iter: map.iter(),
                value: None,
            }),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        if let Value::String(s) = self.0 {
            match s.trim() {
                "true" | "True" | "TRUE" => return visitor.visit_bool(true),
                "false" | "False" | "FALSE" => return visitor.visit_bool(false),
                _ => {}
            }
        }
        self.deserialize_any(visitor)
    }

    lenient_ints! {
        deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64 deserialize_i128
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
    }

    fn deserialize_f32<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        if let Value::String(s) = self.0
            && let Ok(f) = s.trim().parse::<f64>()
        {
            return visitor.visit_f64(f);
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        match self.0 {
            Value::Number(n) => visitor.visit_string(n.to_string()),
            Value::Bool(b) => visitor.visit_string(b.to_string()),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        match self.0 {
            Value::String(s) => visitor.visit_enum(
                IntoDeserializer::<serde_json::Error>::into_deserializer(s.as_str()),
            ),
            other => Err(de::Error::invalid_type(
                unexpected(other),
                &"a string naming a variant",
            )),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        visitor.visit_unit()
    }

    fn deserialize_seq<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_seq(SeqDe {
                iter: [].iter(),
                len: 0,
                seen: 0,
            }),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_map<V: Visitor<'de>>(
        self,
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_map(MapDe {
                iter: EMPTY_MAP.iter(),
                value: None,
            }),
            _ => self.deserialize_any(visitor),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        self.deserialize_map(visitor)
    }

    serde::forward_to_deserialize_any! {
        char bytes byte_buf unit unit_struct tuple tuple_struct identifier
    }
}

static EMPTY_MAP: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

struct SeqDe<'a> {
    iter: std::slice::Iter<'a, Value>,
    len: usize,
    seen: usize,
}

impl<'de> de::SeqAccess<'de> for SeqDe<'_> {
    type Error = serde_json::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> std::result::Result<Option<T::Value>, Self::Error> {
        match self.iter.next() {
            Some(v) => {
                self.seen += 1;
                seed.deserialize(Lenient(v)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.len - self.seen)
    }
}

struct MapDe<'a> {
    iter: serde_json::map::Iter<'a>,
    value: Option<&'a Value>,
}

impl<'de> de::MapAccess<'de> for MapDe<'_> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> std::result::Result<Option<K::Value>, Self::Error> {
        match self.iter.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(IntoDeserializer::<serde_json::Error>::into_deserializer(
                    k.as_str(),
                ))
                .map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> std::result::Result<V::Value, Self::Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(Lenient(v)),
            None => Err(de::Error::custom("a value was asked for before its key")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    use crate::settings::test_support::{seed_path, shipped_path};

    /// A temp project with settings/mahavishnu.yaml holding `main`; returns (dir, root path).
    fn project(main: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().to_path_buf();
        std::fs::create_dir_all(root.join("settings")).expect("mkdir");
        std::fs::write(root.join("settings/mahavishnu.yaml"), main).expect("write");
        (dir, root)
    }

    fn load_in(root: &Path, env: &[(&str, &str)]) -> Result<LoadedSettings> {
        load(None, root, &pairs(env))
    }

    fn err_in(root: &Path, env: &[(&str, &str)]) -> Error {
        match load_in(root, env) {
            Ok(l) => panic!("expected an error, loaded {:?}", l.settings),
            Err(e) => e,
        }
    }

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

        let daily = &s.backup.schedules["daily_incremental"];
        assert!(daily.enabled);
        assert_eq!(daily.time, "02:00");
        assert_eq!(daily.timezone, "UTC");
        assert_eq!(daily.retention_days, Some(7));
        assert_eq!(daily.day, None);
        let weekly = &s.backup.schedules["weekly_full"];
        assert_eq!(weekly.day, Some(DaySetting::Weekday("sunday".into())));
        assert_eq!(weekly.retention_weeks, Some(4));
        assert_eq!(
            weekly.day.as_ref().and_then(DaySetting::weekday),
            Some(chrono::Weekday::Sun)
        );
        let monthly = &s.backup.schedules["monthly_archival"];
        assert_eq!(monthly.day, Some(DaySetting::OfMonth(1)));
        assert_eq!(monthly.retention_months, Some(12));
        assert_eq!(monthly.time, "04:00");
        assert_eq!(
            monthly.effective_backup_type("monthly_archival"),
            Some(crate::settings::BackupTypeSetting::Archival)
        );

        assert!(s.backup.encryption.enabled);
        assert_eq!(s.backup.encryption.algorithm, "AES-256-GCM");
        assert_eq!(
            s.backup.encryption.key_path,
            PathBuf::from("/etc/mahavishnu/backup_key")
        );
        assert_eq!(s.backup.validation.checksum_algorithm, "sha256");
        assert!(s.backup.validation.verify_on_create);
        assert!(s.backup.validation.verify_on_restore);
        assert_eq!(s.backup.monitoring.alert_channels, vec!["email", "slack"]);

        let dr = &s.disaster_recovery;
        assert_eq!(dr.rto_target_minutes, 15);
        assert_eq!(dr.rpo_target_minutes, 5);
        assert_eq!(dr.automated_tests.schedule, "weekly");
        assert_eq!(
            dr.automated_tests.day,
            Some(DaySetting::Weekday("saturday".into()))
        );
        assert_eq!(dr.automated_tests.time, "05:00");
        assert_eq!(dr.drills.frequency, "monthly");
        assert_eq!(
            dr.drills.scenarios,
            vec![
                "single_server_failure",
                "region_failure",
                "database_corruption",
                "network_partition",
                "data_deletion"
            ]
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
        assert_eq!(weekly.time, "03:00");
        assert_eq!(weekly.day, Some(DaySetting::Weekday("sunday".into())));
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
            "backup:\n  storage:\n    primary: { type: s3, bucket: b }\n",
        )
        .expect("write");
        let e = err_in(&root, &[]);
        assert!(
            e.message.contains("cloud storage is not implemented"),
            "{e}"
        );
        assert!(e.message.contains("settings/local.yaml"), "{e}");
        assert!(e.message.contains("backup.storage.primary"), "{e}");
    }

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
        assert_eq!(s.backup.schedules["daily_incremental"].time, "02:00");
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
        assert_eq!(weekly.time, "06:30");
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
    fn relative_paths_resolve_against_the_project_root() {
        let (_d, root) = project(
            "backup:\n  directory: ../outside/./repo\n  encryption:\n    key_path: keys/k\n  sources:\n    - ./data\n    - {path: ./etc/../srv, exclude: [\"*.tmp\"]}\n  storage:\n    replicas: [{type: local, path: r}]\ndisaster_recovery:\n  restore_test:\n    scratch_dir: scratch\nmcp:\n  restore_roots: [restores]\n  http:\n    token_file: settings/token\n",
        );
        let l = load_in(&root, &[]).expect("loads");
        let s = &l.settings;
        let parent = root.parent().expect("parent");
        assert_eq!(s.backup.directory, parent.join("outside/repo"));
        assert_eq!(s.backup.encryption.key_path, root.join("keys/k"));
        assert_eq!(
            s.backup.sources,
            vec![
                SourceSpec::Path(root.join("data")),
                SourceSpec::PathWithExcludes {
                    path: root.join("srv"),
                    exclude: vec!["*.tmp".into()]
                }
            ]
        );
        assert_eq!(
            s.backup.storage.replicas,
            vec![StorageTarget::Local {
                path: root.join("r")
            }]
        );
        assert_eq!(
            s.disaster_recovery.restore_test.scratch_dir,
            root.join("scratch")
        );
        assert_eq!(s.mcp.restore_roots, vec![root.join("restores")]);
        assert_eq!(s.mcp.http.token_file, Some(root.join("settings/token")));
    }

    #[test]
    fn a_file_outside_a_settings_folder_resolves_against_its_own_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let conf = dir.path().join("conf");
        std::fs::create_dir_all(&conf).expect("mkdir");
        std::fs::write(
            conf.join("dr.yaml"),
            "backup:\n  directory: ./repo\n  storage:\n    primary: {type: local, path: ./primary}\n",
        )
        .expect("write");
        std::fs::write(conf.join("local.yaml"), "backup:\n  volume_size_mb: 8\n").expect("write");
        // A relative --config resolves against cwd.
        let l = load(Some(Path::new("conf/./dr.yaml")), dir.path(), &[]).expect("loads");
        assert_eq!(l.project_root, conf);
        assert_eq!(l.config_file, conf.join("dr.yaml"));
        assert_eq!(l.settings.backup.directory, conf.join("repo"));
        assert_eq!(l.repository_dir(), conf.join("primary"));
        assert_eq!(l.settings.backup.volume_size_mb, 8);
        assert_eq!(l.files, vec![conf.join("dr.yaml"), conf.join("local.yaml")]);
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

    #[test]
    fn default_sources_and_home_expansion() {
        let (_d, root) = project("backup:\n  exclude: [\"*.log\"]\n  directory: ~/repo\n");
        let l = load_in(&root, &[("HOME", "/home/u")]).expect("loads");
        assert_eq!(l.repository_dir(), PathBuf::from("/home/u/repo"));
        assert_eq!(
            l.sources(),
            vec![
                ResolvedSource::Path {
                    path: root.join("settings"),
                    exclude: vec!["*.log".into()]
                },
                ResolvedSource::Path {
                    path: root.join("data"),
                    exclude: vec!["*.log".into()]
                },
            ]
        );
        let e = err_in(&root, &[]);
        assert!(e.message.contains("HOME"), "{e}");
    }

    #[test]
    fn command_sources() {
        let (_d, root) = project(
            "backup:\n  sources:\n    - name: postgres.sql\n      command: [pg_dump, -p, 5432, mydb]\n",
        );
        let l = load_in(&root, &[]).expect("loads");
        assert_eq!(
            l.sources(),
            vec![ResolvedSource::Command {
                name: "postgres.sql".into(),
                command: vec!["pg_dump".into(), "-p".into(), "5432".into(), "mydb".into()]
            }]
        );
        for bad in [
            "backup:\n  sources:\n    - {name: ../x.sql, command: [a]}\n",
            "backup:\n  sources:\n    - {name: /x.sql, command: [a]}\n",
            "backup:\n  sources:\n    - {name: \"\", command: [a]}\n",
            "backup:\n  sources:\n    - {name: x.sql, command: []}\n",
        ] {
            let (_d, root) = project(bad);
            let e = err_in(&root, &[]);
            assert!(e.message.contains("backup.sources[0]"), "{bad}: {e}");
        }
        let (_d, root) = project("backup:\n  sources:\n    - {name: x.sql}\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("needs `command`"), "{e}");
        let (_d, root) = project("backup:\n  sources:\n    - {path: a, command: [x]}\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("not both"), "{e}");
    }

    #[test]
    fn repository_and_sources_must_not_overlap() {
        // A source inside the repository.
        let (_d, root) = project("backup:\n  directory: ./repo\n  sources: [./repo/sub]\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("inside the repository"), "{e}");
        assert!(e.message.contains("backup.sources[0]"), "{e}");
        assert!(e.message.contains("never backed up"), "{e}");
        // The repository inside a source is allowed: the scan skips it.
        let (_d, root) = project("backup:\n  directory: ./data/repo\n");
        load(None, &root, &[]).unwrap();
        // Equal.
        let (_d, root) = project("backup:\n  directory: ./x\n  sources: [./x/.]\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("never backed up"), "{e}");
        // The key file inside the repository.
        let (_d, root) =
            project("backup:\n  directory: ./repo\n  encryption:\n    key_path: ./repo/key\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("backup.encryption.key_path"), "{e}");
        // Scratch folder inside live data.
        let (_d, root) =
            project("disaster_recovery:\n  restore_test:\n    scratch_dir: ./data/scratch\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("scratch_dir"), "{e}");
    }

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
            "backup:\n  volume_size_mb: 0\n  max_chain_length: 0\n  validation:\n    checksum_algorithm: md5\n  schedules:\n    a_full:\n      time: \"25:00\"\n    nightly: {}\n  storage:\n    replicas: [{type: azblob, container: c}]\n",
        );
        let e = err_in(&root, &[]);
        for needle in [
            "problems in the settings",
            "backup.volume_size_mb",
            "backup.max_chain_length",
            "backup.validation.checksum_algorithm",
            "backup.schedules.a_full.time",
            "backup.schedules.nightly",
            "backup.storage.replicas[0]",
            "cloud storage is not implemented",
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
            l.settings.backup.schedules["weekly_full"].day,
            Some(DaySetting::Weekday("sunday".into()))
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
    fn normalize_is_lexical() {
        assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
        assert_eq!(normalize(Path::new("/../a")), PathBuf::from("/a"));
        assert_eq!(normalize(Path::new("a/../../b")), PathBuf::from("../b"));
        assert_eq!(
            project_root_of(Path::new("/p/settings/x.yaml")),
            PathBuf::from("/p")
        );
        assert_eq!(
            project_root_of(Path::new("/p/conf/x.yaml")),
            PathBuf::from("/p/conf")
        );
    }
}
