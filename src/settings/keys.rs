//! Key paths (`backup.sources[1]`) and provenance: which file or environment variable set the
//! value at a key, so that every settings error names where its value came from.

use serde_json::Value;

/// What to do about a settings error, when nothing more specific applies.
pub(super) const SETTINGS_GUIDANCE: &str =
    "fix the value; docs/SETTINGS.md lists every key, its type and default";

/// One source of values: a file or an environment variable, with what it set.
pub(super) struct Layer {
    /// How to name it in an error: the file as the user would type it, or the variable.
    pub(super) origin: String,
    pub(super) value: Value,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Seg {
    Key(String),
    Index(usize),
}

pub(super) type KeyPath = Vec<Seg>;

pub(super) fn key_path_of(path: &serde_path_to_error::Path) -> KeyPath {
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

pub(super) fn keys(parts: &[&str]) -> KeyPath {
    parts.iter().map(|p| Seg::Key((*p).to_string())).collect()
}

pub(super) fn show_key(path: &[Seg]) -> String {
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
pub(super) fn origin_of(layers: &[Layer], path: &[Seg]) -> String {
    layers
        .iter()
        .rev()
        .find(|l| sets(&l.value, path))
        .map(|l| l.origin.clone())
        .unwrap_or_else(|| "built-in default".to_string())
}

/// `parts` followed by a list index: `backup.sources[2]`.
pub(super) fn index_key(parts: &[&str], index: usize) -> KeyPath {
    let mut key = keys(parts);
    key.push(Seg::Index(index));
    key
}
