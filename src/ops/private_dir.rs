//! Private folders: the scratch folder and the restore roots hold plaintext, so each must be a
//! real folder (not a symlink) owned by the user running mahavishnu-dr and not writable by other
//! users, in a folder that no other user can swap it out of; every folder this tool creates for
//! them (and every restore target it creates) is 0700.
//!
//! The one place that decides whether such a folder is safe: restore tests, RTO measurement,
//! backups (their SQLite snapshots and command outputs), the restore-root confinement of the
//! MCP face and the daemon's state folder all call [`ensure_private_dir`].

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;

use crate::error::{Error, Result};

/// The mode of every folder this tool creates for plaintext: owner only.
pub const PRIVATE_MODE: u32 = 0o700;

/// What a private folder is for; errors name it and the setting that chooses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// `disaster_recovery.restore_test.scratch_dir`.
    Scratch,
    /// One of `mcp.restore_roots`.
    RestoreRoot,
    /// `daemon.state_dir`: what the daemon ran and owes, and its open alerts (another user who
    /// could write there could make it skip a run or forget an alert).
    DaemonState,
}

impl Role {
    fn name(self) -> &'static str {
        match self {
            Role::Scratch => "the scratch folder",
            Role::RestoreRoot => "the restore root",
            Role::DaemonState => "the daemon's state folder",
        }
    }

    fn setting(self) -> &'static str {
        match self {
            Role::Scratch => "disaster_recovery.restore_test.scratch_dir",
            Role::RestoreRoot => "mcp.restore_roots",
            Role::DaemonState => "daemon.state_dir",
        }
    }
}

/// What the check reads of a folder (its `lstat`), so that the check itself is pure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Facts {
    pub symlink: bool,
    pub dir: bool,
    pub uid: u32,
    pub mode: u32,
}

impl Facts {
    pub fn of(m: &std::fs::Metadata) -> Facts {
        Facts {
            symlink: m.file_type().is_symlink(),
            dir: m.is_dir(),
            uid: m.uid(),
            mode: m.mode() & 0o7777,
        }
    }
}

/// Why a folder is not private.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsafe {
    /// A symlink: whoever controls where it points gets what is written there.
    Symlink,
    /// Something other than a folder.
    NotAFolder,
    /// Owned by another user, who could read or swap what is written there.
    OwnedByOther { owner: u32 },
    /// Group or others may create, rename or replace entries in it.
    WritableByOthers { mode: u32 },
}

/// Whether a folder with these facts is private to the user `me`.
pub fn judge(f: &Facts, me: u32) -> Option<Unsafe> {
    if f.symlink {
        Some(Unsafe::Symlink)
    } else if !f.dir {
        Some(Unsafe::NotAFolder)
    } else if f.uid != me {
        Some(Unsafe::OwnedByOther { owner: f.uid })
    } else if f.mode & 0o022 != 0 {
        Some(Unsafe::WritableByOthers { mode: f.mode })
    } else {
        None
    }
}

/// Whether the folder holding a private folder keeps other users from swapping it: owned by `me`
/// or root, and writable by group or others only with the sticky bit (as `/tmp` is). Symlinks on
/// the way are followed first: a `state/` linked to a folder of one's own on a bigger disk is fine.
pub fn judge_parent(f: &Facts, me: u32) -> Option<Unsafe> {
    if f.uid != me && f.uid != 0 {
        Some(Unsafe::OwnedByOther { owner: f.uid })
    } else if f.mode & 0o022 != 0 && f.mode & 0o1000 == 0 {
        Some(Unsafe::WritableByOthers { mode: f.mode })
    } else {
        None
    }
}

/// The effective user id of this process.
pub fn current_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The refusal for `path` in `role`: what is wrong, and what to do.
fn refusal(path: &Path, role: Role, problem: &Unsafe, me: u32) -> Error {
    let (name, setting, shown) = (role.name(), role.setting(), path.display());
    let (what, guidance) = match problem {
        Unsafe::Symlink => {
            let to = std::fs::read_link(path)
                .map(|t| format!(" (to {})", t.display()))
                .unwrap_or_default();
            (
                format!(
                    "is a symlink{to}; whoever controls where it points would get the plaintext"
                ),
                format!(
                    "remove the link and let mahavishnu-dr create the folder (mode 0700), or point \
                     {setting} at a real folder that you own"
                ),
            )
        }
        Unsafe::NotAFolder => (
            "exists and is not a folder".to_string(),
            format!("remove it, or point {setting} at a folder"),
        ),
        Unsafe::OwnedByOther { owner } => (
            format!(
                "belongs to another user (uid {owner}, this process runs as uid {me}), who could \
                 read or replace what is written there"
            ),
            format!(
                "point {setting} at a folder owned by uid {me}, or remove {shown} and let \
                 mahavishnu-dr create it (mode 0700)"
            ),
        ),
        Unsafe::WritableByOthers { mode } => (
            format!(
                "is writable by other users (mode {mode:o}), who could swap what is written there"
            ),
            format!("run `chmod 700 {shown}`, or point {setting} at a private folder"),
        ),
    };
    Error::refused(format!(
        "{name} {shown} {what}; refused, nothing was written there"
    ))
    .with_guidance(guidance)
}

/// The refusal for `path` in `role` because of the folder `parent` that holds it.
fn parent_refusal(path: &Path, parent: &Path, role: Role, problem: &Unsafe, me: u32) -> Error {
    let (name, setting) = (role.name(), role.setting());
    let (shown, parent_shown) = (path.display(), parent.display());
    let why = match problem {
        Unsafe::OwnedByOther { owner } => {
            format!("belongs to another user (uid {owner}, this process runs as uid {me})")
        }
        Unsafe::WritableByOthers { mode } => {
            format!("is writable by other users (mode {mode:o}) without the sticky bit")
        }
        Unsafe::Symlink | Unsafe::NotAFolder => "is not a folder of this user's".to_string(),
    };
    Error::refused(format!(
        "{name} {shown} is inside {parent_shown}, which {why}: another user could swap {name} \
         for a folder of their own; refused, nothing was written there"
    ))
    .with_guidance(format!(
        "point {setting} at a folder inside a folder of your own (the default is under state/ in \
         the project root), or run `chmod go-w {parent_shown}` if you own it"
    ))
}

/// Make sure `path` is a private folder for `role`: create it (and any missing parent) with mode
/// 0700 when it does not exist, then refuse it when it is a symlink, not a folder, owned by
/// another user, or writable by group or others, or when the folder holding it lets another
/// user swap it (see [`judge_parent`]). An existing folder is never changed.
pub fn ensure_private_dir(path: &Path, role: Role) -> Result<()> {
    let me = current_uid();
    // The folder that holds it first (made, 0700, when missing), so nothing is created in a
    // folder that is refused.
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            create_private_dirs(parent)?;
        }
        let real = std::fs::canonicalize(parent).map_err(|e| Error::from_io("check", parent, e))?;
        let m = std::fs::metadata(&real).map_err(|e| Error::from_io("check", &real, e))?;
        if let Some(problem) = judge_parent(&Facts::of(&m), me) {
            return Err(parent_refusal(path, &real, role, &problem, me));
        }
    }
    match std::fs::symlink_metadata(path) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_private_dirs(path)?,
        Err(e) => return Err(Error::from_io("check", path, e)),
    }
    // Checked after creating too: something may have raced into the name.
    let m = std::fs::symlink_metadata(path).map_err(|e| Error::from_io("check", path, e))?;
    match judge(&Facts::of(&m), me) {
        None => Ok(()),
        Some(problem) => Err(refusal(path, role, &problem, me)),
    }
}

/// Create `path` and any missing parent, each mode 0700. An existing folder is left as it is.
pub fn create_private_dirs(path: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_MODE)
        .create(path)
        .map_err(|e| Error::from_io("create the folder", path, e))
}

/// Create the new folder `path`, mode 0700; an existing entry of that name is an error, so the
/// folder is certainly the one this call made.
pub fn create_private_dir(path: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .mode(PRIVATE_MODE)
        .create(path)
        .map_err(|e| Error::from_io("create the folder", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use std::os::unix::fs::PermissionsExt;

    const ME: u32 = 1000;

    fn dir(uid: u32, mode: u32) -> Facts {
        Facts {
            symlink: false,
            dir: true,
            uid,
            mode,
        }
    }

    #[test]
    fn judge_accepts_only_own_real_folders_closed_to_writers() {
        assert_eq!(judge(&dir(ME, 0o700), ME), None);
        // Readable by others is private enough: what is written goes into 0700 folders inside.
        assert_eq!(judge(&dir(ME, 0o755), ME), None);
        assert_eq!(
            judge(&dir(65534, 0o700), ME),
            Some(Unsafe::OwnedByOther { owner: 65534 })
        );
        // Root's folders are someone else's too, for a user that is not root.
        assert_eq!(
            judge(&dir(0, 0o700), ME),
            Some(Unsafe::OwnedByOther { owner: 0 })
        );
        for mode in [0o770, 0o707, 0o1777, 0o775] {
            assert_eq!(
                judge(&dir(ME, mode), ME),
                Some(Unsafe::WritableByOthers { mode }),
                "{mode:o}"
            );
        }
        let link = Facts {
            symlink: true,
            dir: false,
            ..dir(ME, 0o777)
        };
        assert_eq!(judge(&link, ME), Some(Unsafe::Symlink));
        let file = Facts {
            dir: false,
            ..dir(ME, 0o600)
        };
        assert_eq!(judge(&file, ME), Some(Unsafe::NotAFolder));
    }

    #[test]
    fn judge_parent_accepts_own_or_roots_folders_that_others_cannot_swap_in() {
        assert_eq!(judge_parent(&dir(ME, 0o755), ME), None);
        assert_eq!(judge_parent(&dir(0, 0o755), ME), None);
        // /tmp: world-writable, but the sticky bit keeps others from renaming our folder.
        assert_eq!(judge_parent(&dir(0, 0o1777), ME), None);
        assert_eq!(
            judge_parent(&dir(0, 0o777), ME),
            Some(Unsafe::WritableByOthers { mode: 0o777 })
        );
        assert_eq!(
            judge_parent(&dir(ME, 0o2775), ME),
            Some(Unsafe::WritableByOthers { mode: 0o2775 })
        );
        assert_eq!(
            judge_parent(&dir(65534, 0o755), ME),
            Some(Unsafe::OwnedByOther { owner: 65534 })
        );
    }

    #[test]
    fn a_folder_in_a_folder_others_may_write_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        // The parent reached through a symlink is judged as what it is.
        let link = t.path().join("state");
        std::os::unix::fs::symlink(&open, &link).unwrap();
        let e = ensure_private_dir(&link.join("scratch"), Role::Scratch).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(
            !open.join("scratch").exists(),
            "created in a refused folder"
        );
        assert!(e.message.contains(&open.display().to_string()), "{e}");
        assert!(e.message.contains("sticky"), "{e}");
        assert!(e.guidance.unwrap().contains("scratch_dir"));
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        ensure_private_dir(&link.join("scratch"), Role::Scratch).unwrap();
    }

    #[test]
    fn a_missing_folder_is_created_0700_with_its_parents() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("state/scratch");
        ensure_private_dir(&p, Role::Scratch).unwrap();
        for d in [t.path().join("state"), p.clone()] {
            let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
        // Again: an existing private folder is fine and unchanged.
        ensure_private_dir(&p, Role::Scratch).unwrap();
    }

    #[test]
    fn refusals_name_the_folder_the_setting_and_what_to_do() {
        let t = tempfile::tempdir().unwrap();
        let elsewhere = t.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        let link = t.path().join("scratch");
        std::os::unix::fs::symlink(&elsewhere, &link).unwrap();
        let e = ensure_private_dir(&link, Role::Scratch).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(e.message.contains(&link.display().to_string()), "{e}");
        assert!(e.message.contains("symlink"), "{e}");
        let g = e.guidance.unwrap();
        assert!(
            g.contains("disaster_recovery.restore_test.scratch_dir"),
            "{g}"
        );

        let open = t.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_private_dir(&open, Role::RestoreRoot).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Refused);
        assert!(e.message.contains("writable by other users"), "{e}");
        assert!(e.guidance.unwrap().contains("chmod 700"));

        let file = t.path().join("file");
        std::fs::write(&file, "x").unwrap();
        let e = ensure_private_dir(&file, Role::RestoreRoot).unwrap_err();
        assert!(e.message.contains("not a folder"), "{e}");
        assert!(e.guidance.unwrap().contains("mcp.restore_roots"));

        // Another user's folder (only root can make one to test with).
        if current_uid() == 0 {
            let theirs = t.path().join("theirs");
            std::fs::create_dir(&theirs).unwrap();
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
            let e = ensure_private_dir(&theirs, Role::Scratch).unwrap_err();
            assert_eq!(e.kind, ErrorKind::Refused);
            assert!(e.message.contains("another user (uid 65534"), "{e}");
        }
    }
}
