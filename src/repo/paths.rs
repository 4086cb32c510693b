//! Stored paths: what a path inside a backup may look like, and how it maps into a restore target.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// A stored path is relative, `/`-separated, with no empty, `.` or `..` component and no NUL.
pub fn check_stored_path(path: &str) -> Result<()> {
    let bad = |why: &str| {
        Error::integrity(format!(
            "stored path {path:?} is unsafe ({why}); it is never written"
        ))
    };
    if path.is_empty() {
        return Err(bad("empty"));
    }
    if path.starts_with('/') {
        return Err(bad("absolute"));
    }
    if path.contains('\0') {
        return Err(bad("contains NUL"));
    }
    for c in path.split('/') {
        match c {
            "" => return Err(bad("empty component")),
            "." | ".." => return Err(bad("dot component")),
            _ => {}
        }
    }
    Ok(())
}

/// The stored path of a source file: relative to the project root when inside it, else its
/// absolute path without the leading `/`.
pub fn stored_path_for(project_root: &Path, path: &Path) -> Result<String> {
    let rel = path.strip_prefix(project_root).unwrap_or(path);
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(s.to_str().ok_or_else(|| {
                Error::io(format!(
                    "{} is not valid UTF-8; it cannot be backed up",
                    path.display()
                ))
                .with_guidance("rename the file, or exclude it with backup.exclude")
            })?),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::io(format!(
                    "{} is not a normalised path",
                    path.display()
                )));
            }
        }
    }
    let s = parts.join("/");
    check_stored_path(&s)?;
    Ok(s)
}

/// Join a checked stored path onto a restore target.
pub fn target_path(target: &Path, stored: &str) -> Result<PathBuf> {
    check_stored_path(stored)?;
    let mut p = target.to_path_buf();
    for c in stored.split('/') {
        p.push(c);
    }
    Ok(p)
}

/// Whether `stored` is `prefix` or lies under it (path-component-wise).
pub fn is_under(stored: &str, prefix: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    prefix.is_empty()
        || stored == prefix
        || (stored.len() > prefix.len()
            && stored.starts_with(prefix)
            && stored.as_bytes()[prefix.len()] == b'/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsafe_paths_are_rejected() {
        for p in ["", "/etc/passwd", "a/../../b", "..", "a//b", "./a", "a/\0"] {
            assert!(check_stored_path(p).is_err(), "{p:?} accepted");
        }
        check_stored_path("data/x.db").unwrap();
        assert!(target_path(Path::new("/t"), "../x").is_err());
        assert_eq!(
            target_path(Path::new("/t"), "a/b").unwrap(),
            PathBuf::from("/t/a/b")
        );
    }

    #[test]
    fn stored_paths_are_root_relative_or_absolute_without_slash() {
        let root = Path::new("/srv/app");
        assert_eq!(
            stored_path_for(root, Path::new("/srv/app/data/x")).unwrap(),
            "data/x"
        );
        assert_eq!(
            stored_path_for(root, Path::new("/var/lib/y")).unwrap(),
            "var/lib/y"
        );
        assert!(is_under("data/x", "data"));
        assert!(!is_under("database", "data"));
        assert!(is_under("data", "data/"));
    }
}
