//! Replacing a local file atomically: the bytes go to a temporary dot-file in the same folder
//! (created new, synced), which is then renamed over the target, so a reader sees the old file
//! or the new one, never a part, and a failure leaves the old file in place. Used for the
//! report's `--output`, `metrics --textfile` (whose collector skips dot-files) and the daemon's
//! state files.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Write `bytes` to `path` atomically, with `mode` exactly (whatever the umask) when given,
/// else the umask's default for a new file.
pub fn write(path: &Path, bytes: &[u8], mode: Option<u32>) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::usage(format!("{} names no file", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.{:08x}.tmp",
        name.to_string_lossy(),
        rand::random::<u32>()
    ));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    if let Some(m) = mode {
        options.mode(m);
    }
    let written = options
        .open(&tmp)
        .and_then(|mut f| {
            if let Some(m) = mode {
                f.set_permissions(std::fs::Permissions::from_mode(m))?;
            }
            f.write_all(bytes)?;
            f.sync_all()
        })
        .and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::from_io("write", path, e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_replaced_whole_with_the_mode_asked() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("out.prom");
        std::fs::write(&p, b"old").unwrap();
        write(&p, b"new", Some(0o644)).unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
        // Nothing else is left in the folder.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        // A folder that does not exist: an error naming the file, the old state untouched.
        let e = write(&d.path().join("no/such/file"), b"x", None).unwrap_err();
        assert!(e.to_string().contains("no/such/file"), "{e}");
    }
}
