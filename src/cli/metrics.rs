//! `metrics`: the text format on stdout, or written atomically for node_exporter's textfile
//! collector (`--textfile`); `--json` prints the typed families either way.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::{Outcome, outcome};
use crate::error::{Error, Result};
use crate::ops::Dr;
use crate::ops::metrics::MetricsOptions;

pub(super) async fn run(
    dr: &Dr,
    options: &MetricsOptions,
    textfile: Option<&Path>,
) -> Result<Outcome> {
    dr.needs_settings("metrics")?;
    let r = dr.metrics(options).await?;
    // Never on stdout: that carries the metrics.
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    let text = r.to_text();
    match textfile {
        None => outcome(&r, text, false),
        Some(path) => {
            if path.extension().is_none_or(|e| e != "prom") {
                eprintln!(
                    "warning: node_exporter's textfile collector reads only files named *.prom; \
                     {} is not one",
                    path.display()
                );
            }
            write_textfile(path, text.as_bytes())?;
            let said = format!(
                "wrote {} metric families to {} (repository {})",
                r.families.len(),
                path.display(),
                if r.repository_reachable {
                    "reachable"
                } else {
                    "not reachable: mahavishnu_dr_repository_up 0"
                }
            );
            outcome(&r, said, false)
        }
    }
}

/// Write `bytes` to `path` as node_exporter's textfile collector needs it: a temporary file in
/// the same folder (a dot name not ending in `.prom`, which the collector skips), synced, mode
/// 0644 whatever the umask, renamed over `path`; a reader sees the old file or the new one.
fn write_textfile(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| Error::usage(format!("--textfile {} names no file", path.display())))?;
    let tmp = dir.join(format!(
        ".{}.{:08x}.tmp",
        name.to_string_lossy(),
        rand::random::<u32>()
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .open(&tmp)
        .and_then(|mut f| {
            f.set_permissions(std::fs::Permissions::from_mode(0o644))?;
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
