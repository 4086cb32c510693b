//! `metrics`: the text format on stdout, or written atomically for node_exporter's textfile
//! collector (`--textfile`); `--json` prints the typed families either way.

use std::path::Path;

use super::{Outcome, outcome};
use crate::error::Result;
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
            crate::atomic_file::write(path, text.as_bytes(), Some(0o644))?;
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
