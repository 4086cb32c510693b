//! The key file behind an operation: read it, and warn (as ssh does for private keys) when group
//! or others may read it.

use std::path::Path;

use super::Dr;
use crate::error::Result;
use crate::repo::crypto::{SecretKey, read_key_file};

/// The warning for a key file that group or others may read, if it is one. Names the path and
/// the mode, never anything read from the file.
pub(crate) fn exposure_warning(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
    (mode & 0o077 != 0).then(|| {
        format!(
            "the key file {} is readable by group or others (mode {mode:04o}): anyone who can \
             read it can decrypt every backup; run `chmod 600 {}`",
            path.display(),
            path.display()
        )
    })
}

impl Dr {
    /// Read the configured key file, recording a warning when others may read it.
    pub(crate) fn read_key(&self) -> Result<SecretKey> {
        let path = self.key_path();
        let key = read_key_file(&path)?;
        if let Some(w) = exposure_warning(&path) {
            self.notes.warn(w);
        }
        Ok(key)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn only_keys_open_to_group_or_others_are_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("key");
        std::fs::write(&p, "not a real key").unwrap();
        for (mode, warned) in [(0o600, false), (0o400, false), (0o640, true), (0o604, true)] {
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
            let w = super::exposure_warning(&p);
            assert_eq!(w.is_some(), warned, "mode {mode:o}: {w:?}");
            if let Some(w) = w {
                assert!(
                    w.contains(&format!("{mode:04o}")) && w.contains("chmod 600"),
                    "{w}"
                );
                assert!(!w.contains("not a real key"), "key material in {w}");
            }
        }
        assert_eq!(super::exposure_warning(&dir.path().join("missing")), None);
    }
}
