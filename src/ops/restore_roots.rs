//! Restore roots: the only folders an agent (the MCP face) may restore into.
//!
//! A target is inside a root when, after resolving every symlink of the part that exists, it
//! lies under one of the roots (also resolved). `..` is refused outright, so the part that does
//! not exist yet cannot climb out either. The root used must be private (see `private_dir`): a
//! real folder of this user's, not writable by others; a missing one is created, mode 0700.

use std::path::{Component, Path, PathBuf};

use super::private_dir::{Role, ensure_private_dir};
use crate::error::{Error, ErrorKind, Result};

fn roots_list(roots: &[PathBuf]) -> String {
    roots
        .iter()
        .map(|r| r.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Resolve symlinks in the longest existing prefix of `p`; keep the rest as written.
fn resolve_existing_prefix(p: &Path) -> Result<PathBuf> {
    let mut existing = p.to_path_buf();
    let mut rest: Vec<std::ffi::OsString> = Vec::new();
    loop {
        match existing.canonicalize() {
            Ok(c) => {
                let mut out = c;
                for part in rest.iter().rev() {
                    out.push(part);
                }
                return Ok(out);
            }
            Err(_) => match (existing.file_name(), existing.parent()) {
                (Some(name), Some(parent)) => {
                    rest.push(name.to_os_string());
                    existing = parent.to_path_buf();
                }
                _ => return Ok(p.to_path_buf()),
            },
        }
    }
}

/// Check that `target` lies inside one of `roots` and that this root is private; return the
/// absolute target to use. A relative target is taken relative to the first root.
pub fn confine_to_roots(target: &Path, roots: &[PathBuf]) -> Result<PathBuf> {
    let Some(first) = roots.first() else {
        return Err(Error::new(
            ErrorKind::Refused,
            "no restore roots are configured, so agents may not restore anywhere",
        )
        .with_guidance(
            "list the folders agents may restore into under mcp.restore_roots in the settings",
        ));
    };
    if target.as_os_str().is_empty() {
        return Err(Error::usage("target_dir is empty").with_guidance(format!(
            "give a folder under one of the restore roots: {}",
            roots_list(roots)
        )));
    }
    if target.components().any(|c| c == Component::ParentDir) {
        return Err(Error::new(
            ErrorKind::Refused,
            format!("target_dir {} contains '..'", target.display()),
        )
        .with_guidance(format!(
            "give a plain folder under one of the restore roots: {}",
            roots_list(roots)
        )));
    }
    let absolute = if target.is_absolute() {
        target.to_path_buf()
    } else {
        first.join(target)
    };
    let resolved = resolve_existing_prefix(&absolute)?;
    for root in roots {
        let root_resolved = resolve_existing_prefix(root)?;
        if resolved.starts_with(&root_resolved) {
            ensure_private_dir(root, Role::RestoreRoot)?;
            return Ok(absolute);
        }
    }
    Err(Error::new(
        ErrorKind::Refused,
        format!(
            "target_dir {} is outside the allowed restore roots",
            absolute.display()
        ),
    )
    .with_guidance(format!(
        "restore into a folder under one of: {} (mcp.restore_roots in the settings)",
        roots_list(roots)
    )))
}

/// How many entries a folder holds directly (0 when it does not exist).
pub fn existing_entries(dir: &Path) -> u64 {
    std::fs::read_dir(dir).map_or(0, |rd| rd.count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inside_outside_and_symlink_escape() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("restores");
        std::fs::create_dir_all(&root).unwrap();
        let roots = vec![root.clone()];
        assert_eq!(
            confine_to_roots(&root.join("a/b"), &roots).unwrap(),
            root.join("a/b")
        );
        assert_eq!(
            confine_to_roots(Path::new("x"), &roots).unwrap(),
            root.join("x")
        );
        let e = confine_to_roots(Path::new("/etc/x"), &roots).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(e.guidance.unwrap().contains(&root.display().to_string()));
        assert_eq!(
            confine_to_roots(&root.join("../x"), &roots)
                .unwrap_err()
                .kind,
            ErrorKind::Refused
        );
        // A symlink inside the root that points out of it does not count as inside.
        let outside = t.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        assert_eq!(
            confine_to_roots(&root.join("link/y"), &roots)
                .unwrap_err()
                .kind,
            ErrorKind::Refused
        );
        assert_eq!(
            confine_to_roots(&root.join("a"), &[]).unwrap_err().kind,
            ErrorKind::Refused
        );
    }

    #[test]
    fn a_missing_root_is_created_private_and_a_linked_root_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("state/restores");
        let roots = vec![root.clone()];
        assert_eq!(
            confine_to_roots(Path::new("x"), &roots).unwrap(),
            root.join("x")
        );
        let mode = std::fs::metadata(&root).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);

        // The root is a link to another folder: refused, naming the root and the setting.
        let elsewhere = t.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let linked = t.path().join("linked");
        std::os::unix::fs::symlink(&elsewhere, &linked).unwrap();
        let e = confine_to_roots(Path::new("x"), std::slice::from_ref(&linked)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(e.message.contains(&linked.display().to_string()), "{e}");
        assert!(e.message.contains("symlink"), "{e}");
        assert!(e.guidance.unwrap().contains("mcp.restore_roots"));
    }
}
