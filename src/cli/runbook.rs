//! `drill runbook`: a scenario's runbook printed or written, and every checked-in runbook
//! regenerated (`--all --write docs/runbooks`).

use std::path::{Path, PathBuf};

use clap::ValueEnum;

use super::{Outcome, outcome};
use crate::error::{Error, Result};
use crate::ops::Dr;
use crate::ops::drill::checked_in_runbooks;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunbookFormat {
    Markdown,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct RunbookArgs {
    /// The scenario (see `drill list`).
    #[arg(value_name = "ID", required_unless_present = "all")]
    pub scenario: Option<String>,
    /// Every scenario, as docs/runbooks/ keeps them (the DR plan's targets, no evidence, no
    /// settings read); needs --write.
    #[arg(long, conflicts_with = "scenario", requires = "write")]
    pub all: bool,
    /// With --all: the folder to write `<scenario>.md` into (docs/runbooks).
    #[arg(long, value_name = "DIR", requires = "all")]
    pub write: Option<PathBuf>,
    /// markdown (the default) or json (the runbook, its scenario and the evidence as data).
    #[arg(long, value_enum, default_value = "markdown", conflicts_with = "all")]
    pub format: RunbookFormat,
    /// Write to FILE instead of stdout (replaced atomically).
    #[arg(long, short, value_name = "FILE", conflicts_with = "all")]
    pub output: Option<PathBuf>,
    /// Leave out the evidence of the last drill (the repository is not opened).
    #[arg(long)]
    pub no_evidence: bool,
}

/// `drill runbook --all --write DIR`: every scenario's runbook in its checked-in form.
pub(super) fn write_all(dir: &Path) -> Result<Outcome> {
    std::fs::create_dir_all(dir).map_err(|e| Error::from_io("create", dir, e))?;
    let mut files = Vec::new();
    for (name, text) in checked_in_runbooks() {
        let path = dir.join(&name);
        crate::atomic_file::write(&path, text.as_bytes(), None)?;
        files.push(name);
    }
    let text = format!("wrote {} runbooks to {}", files.len(), dir.display());
    outcome(
        &serde_json::json!({ "dir": dir, "files": files }),
        text,
        false,
    )
}

/// `drill runbook ID`: the runbook with the settings' targets and the last drill's evidence.
pub(super) async fn one(dr: &Dr, args: &RunbookArgs, cli_json: bool) -> Result<Outcome> {
    let id = args.scenario.as_deref().ok_or_else(|| {
        Error::usage("name a scenario (`drill runbook ID`), or pass --all --write DIR")
    })?;
    let r = dr.drill_runbook(id, !args.no_evidence).await?;
    // --json is for stdout: with --output the file keeps --format.
    let format = if cli_json && args.output.is_none() {
        RunbookFormat::Json
    } else {
        args.format
    };
    let rendered = match format {
        RunbookFormat::Markdown => r.markdown.clone(),
        RunbookFormat::Json => serde_json::to_string_pretty(&r)
            .map_err(|e| Error::internal(format!("cannot encode the runbook: {e}")))?,
    };
    match &args.output {
        None => outcome(&r, rendered, false),
        Some(path) => {
            crate::atomic_file::write(path, rendered.as_bytes(), None)?;
            let text = format!(
                "wrote the runbook of {} to {}",
                r.scenario.id(),
                path.display()
            );
            outcome(
                &serde_json::json!({
                    "output": path,
                    "scenario": r.scenario,
                    "evidence": r.evidence.is_some(),
                }),
                text,
                false,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::super::Cli;
    use crate::ops::drill::runbook_commands;

    /// Every `mahavishnu-dr` command a runbook names parses with this command line, so a
    /// renamed flag or verb breaks this test rather than an operator's recovery. While the
    /// command line has no `--key-file` (the new-host recovery of single_server_failure uses it
    /// with a location for `--repository`), the commands that pass it are listed, not parsed.
    #[test]
    fn every_runbook_command_parses() {
        let has_key_file = Cli::command()
            .get_arguments()
            .any(|a| a.get_long() == Some("key-file"));
        let mut bad = Vec::new();
        let mut pending = Vec::new();
        let mut parsed = 0;
        for (s, c) in runbook_commands() {
            let Some(rest) = c.strip_prefix("mahavishnu-dr ") else {
                continue;
            };
            if !has_key_file && rest.contains("--key-file") {
                pending.push(c);
                continue;
            }
            let argv = std::iter::once("mahavishnu-dr").chain(rest.split_whitespace());
            match Cli::try_parse_from(argv) {
                Ok(_) => parsed += 1,
                // `--version` answers by "failing" with the version.
                Err(e) if e.kind() == clap::error::ErrorKind::DisplayVersion => parsed += 1,
                Err(e) => bad.push(format!("{}: `{c}`: {e}", s.id())),
            }
        }
        assert!(bad.is_empty(), "{}", bad.join("\n"));
        assert!(parsed > 20, "only {parsed} commands parsed");
        eprintln!("not parsed until --key-file exists: {pending:?}");
    }
}
