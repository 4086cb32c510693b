//! Runbooks generated from the scenario definitions (`drill runbook`, `dr://runbooks/{scenario}`,
//! docs/runbooks/): detection, impact, the recovery of a real incident with the exact commands,
//! success criteria, rollback, the drill that rehearses it, and the evidence of its last drill.
//! The checked-in files carry the DR plan's targets and no evidence, so they are deterministic
//! and a test compares them with the definitions.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::KeptDrill;
use super::scenario::{self, RunbookStep, ScenarioDef};
use crate::error::{Error, Result};
use crate::ops::Dr;
use crate::present;
use crate::settings::{DrillScenario, DrillScenarioSettings};

/// A scenario's runbook (`drill runbook`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DrillRunbookResponse {
    pub scenario: DrillScenario,
    pub title: String,
    /// The runbook, in markdown.
    pub markdown: String,
    /// The newest drill of this scenario kept in the history, when one is.
    pub evidence: Option<KeptDrill>,
    /// Why there is no evidence (not asked for, no drill kept, the history unreadable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_note: Option<String>,
}

/// What the runbook ends with.
pub(crate) enum Evidence<'a> {
    /// The checked-in form: a pointer to the commands that show the evidence.
    NotAsked,
    /// Asked for, none to show, and why.
    Missing(&'a str),
    Kept(&'a KeptDrill),
}

/// The placeholders the commands use, and what to put in their place.
const PLACEHOLDERS: &[(&str, &str)] = &[
    (
        "LOCATION",
        "the repository's location: its folder, or its bucket or container URL",
    ),
    (
        "KEY",
        "the repository's key file (`backup.encryption.key_path`)",
    ),
    ("KEY-COPY", "the off-host copy of the key file"),
    (
        "HOST",
        "the host name the lost or failed host backed up as (`backup list` shows it)",
    ),
    ("REPLICA", "a replica's name in `backup.storage.replicas`"),
    (
        "PROJECT",
        "the service's project root (the folder that holds `settings/` and `data/`)",
    ),
    (
        "DB",
        "the database's stored path, relative to the project root (`data/app.db`)",
    ),
    (
        "P",
        "a stored path, relative to the project root (repeat `--path` for each)",
    ),
    ("ID", "a backup id from `backup list`"),
    ("OLDER-ID", "the id of a backup older than the one restored"),
    ("OTHER-ID", "the id of another backup"),
    (
        "TIME",
        "the time to read the store as it was: `read_as_of` from `backup status`",
    ),
    ("SERVICE", "the service's unit name"),
];

/// The runbook of every scenario as it is checked in (`docs/runbooks/<id>.md`): file name and
/// markdown, in the DR plan's order.
pub fn checked_in_runbooks() -> Vec<(String, String)> {
    DrillScenario::ALL
        .iter()
        .map(|s| (format!("{}.md", s.id()), checked_in(*s)))
        .collect()
}

/// One scenario's runbook as it is checked in: the DR plan's targets, no evidence.
pub fn checked_in(s: DrillScenario) -> String {
    render(s, &DrillScenarioSettings::plan(s), &Evidence::NotAsked)
}

/// Every command of every runbook (for the test that parses them with the command line).
#[cfg(test)]
pub(crate) fn runbook_commands() -> Vec<(DrillScenario, &'static str)> {
    let mut out = Vec::new();
    for s in DrillScenario::ALL {
        let r = &scenario::def(s).runbook;
        for st in r.detection.iter().chain(r.recovery).chain(r.rollback) {
            out.extend(st.commands.iter().map(|c| (s, *c)));
        }
    }
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn minutes(m: u64) -> String {
    format!("{m} min")
}

fn steps(out: &mut String, list: &[RunbookStep]) {
    for (i, st) in list.iter().enumerate() {
        out.push_str(&format!("{}. {}\n", i + 1, st.what));
        if !st.commands.is_empty() {
            out.push_str("\n   ```sh\n");
            for c in st.commands {
                out.push_str(&format!("   {c}\n"));
            }
            out.push_str("   ```\n");
        }
        out.push('\n');
    }
}

/// The placeholders that appear in a scenario's commands.
fn placeholders_used(d: &ScenarioDef) -> Vec<(&'static str, &'static str)> {
    let r = &d.runbook;
    let tokens: Vec<&str> = r
        .detection
        .iter()
        .chain(r.recovery)
        .chain(r.rollback)
        .flat_map(|s| s.commands.iter())
        .flat_map(|c| c.split(|ch: char| ch.is_whitespace() || ch == '/' || ch == '\''))
        .collect();
    PLACEHOLDERS
        .iter()
        .filter(|(name, _)| {
            tokens
                .iter()
                .any(|t| t == name || t.strip_prefix(name).is_some_and(|r| r.starts_with('.')))
        })
        .copied()
        .collect()
}

/// The runbook of one scenario in markdown.
pub(crate) fn render(
    s: DrillScenario,
    targets: &DrillScenarioSettings,
    evidence: &Evidence<'_>,
) -> String {
    let d = scenario::def(s);
    let id = s.id();
    let mut out = format!("# Runbook: {} (`{id}`)\n\n", d.title);
    out.push_str(&format!(
        "<!-- Generated from the scenario definition (src/ops/drill/{id}.rs) by `mahavishnu-dr \
         drill runbook {id}`; do not edit: edit the definition and regenerate (docs/runbooks/README.md). -->\n\n"
    ));
    out.push_str(&format!("{}\n\n", d.description));

    out.push_str("## Targets\n\n| | target |\n| --- | --- |\n");
    out.push_str(&format!(
        "| RTO (recovery time) | {} |\n",
        targets.rto_target_minutes.map_or(
            "none: the service is degraded, not down".to_string(),
            minutes
        )
    ));
    out.push_str(&format!(
        "| RPO (data lost) | {}: {} |\n\n",
        minutes(targets.rpo_target_minutes),
        cell(d.rpo_means)
    ));

    let used = placeholders_used(d);
    if !used.is_empty() {
        out.push_str("In the commands, replace:\n\n");
        for (name, meaning) in used {
            out.push_str(&format!("- `{name}`: {meaning}\n"));
        }
        out.push('\n');
    }

    out.push_str("## Detection\n\n");
    steps(&mut out, d.runbook.detection);
    out.push_str(&format!("## Impact\n\n{}\n\n", d.runbook.impact));
    out.push_str("## Recovery\n\n");
    steps(&mut out, d.runbook.recovery);
    out.push_str("## Success criteria\n\n");
    for c in d.runbook.success {
        out.push_str(&format!("- {c}\n"));
    }
    out.push('\n');
    out.push_str("## Rollback\n\n");
    steps(&mut out, d.runbook.rollback);

    out.push_str(&format!(
        "## Rehearse it\n\n`mahavishnu-dr drill run --scenario {id}` rehearses this disaster in a \
         sandbox under the scratch folder and in scratch repositories (the live data and the \
         production repository are read, never written), times every step and keeps the result \
         in the repository's history; `--dry-run` prints the plan and changes nothing. Its \
         steps:\n\n| # | phase | step | what it does |\n| --- | --- | --- | --- |\n"
    ));
    for (i, st) in scenario::planned_steps(d).iter().enumerate() {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            i + 1,
            st.phase.label(),
            cell(&st.name),
            cell(&st.what)
        ));
    }
    out.push('\n');

    out.push_str("## Evidence of the last drill\n\n");
    match evidence {
        Evidence::NotAsked => out.push_str(&format!(
            "This copy holds the DR plan's targets and no evidence. `mahavishnu-dr drill \
             runbook {id}` prints it with the targets of the settings in use and the evidence \
             of the last drill of this scenario kept in the repository (when, result, RTO and \
             RPO achieved); `mahavishnu-dr drill report` lists every kept drill.\n"
        )),
        Evidence::Missing(why) => out.push_str(&format!("{why}\n")),
        Evidence::Kept(k) => kept_drill(&mut out, k),
    }
    out
}

fn met(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "met",
        Some(false) => "MISSED",
        None => "not judged",
    }
}

fn kept_drill(out: &mut String, k: &KeptDrill) {
    let took = (k.finished - k.started).num_milliseconds() as f64 / 1000.0;
    out.push_str("| | |\n| --- | --- |\n");
    out.push_str(&format!(
        "| When | {} (took {}) |\n",
        present::timestamp(k.started),
        present::duration(took)
    ));
    out.push_str(&format!(
        "| Result | {} |\n",
        if k.passed { "PASSED" } else { "FAILED" }
    ));
    out.push_str(&format!(
        "| RTO achieved | {} (target {}: {}) |\n",
        k.rto_seconds
            .map_or("not reached".into(), present::duration),
        k.rto_target_seconds
            .map_or("none".into(), present::duration),
        met(k.rto_met)
    ));
    out.push_str(&format!(
        "| RPO achieved | {} (target {}: {}) |\n",
        k.rpo_seconds
            .map_or("not measured".into(), present::duration),
        present::duration(k.rpo_target_seconds),
        met(k.rpo_met)
    ));
    out.push_str(&format!(
        "| Recovered from | {}{} |\n",
        cell(&k.store),
        k.backup_id
            .as_deref()
            .map_or(String::new(), |b| format!(", backup {b}"))
    ));
    out.push_str(&format!(
        "| Run by | {} on {} |\n| Record | {} |\n\n",
        cell(&k.started_by),
        cell(&k.host),
        k.record_id
    ));
    out.push_str(&format!("{}\n", k.summary));
    for (title, list) in [
        ("Findings", &k.findings),
        ("Recommendations", &k.recommendations),
    ] {
        if !list.is_empty() {
            out.push_str(&format!("\n{title}:\n\n"));
            for f in list {
                out.push_str(&format!("- {f}\n"));
            }
        }
    }
}

impl Dr {
    /// A scenario's runbook, with the targets of the settings in use and, when `with_evidence`,
    /// the newest kept drill of the scenario (an unreadable repository is a note, not an
    /// error: the runbook is needed most when things are broken).
    pub async fn drill_runbook(
        &self,
        scenario: &str,
        with_evidence: bool,
    ) -> Result<DrillRunbookResponse> {
        let s = DrillScenario::parse(scenario).ok_or_else(|| {
            Error::usage(format!("no drill scenario is called {scenario:?}"))
                .with_guidance(format!("the scenarios: {}", DrillScenario::valid_ids()))
        })?;
        let targets = self.settings.settings.disaster_recovery.drills.targets(s);
        let (evidence, note) = if with_evidence {
            match self.last_drill(s).await {
                Ok(Some(k)) => (Some(k), None),
                Ok(None) => (
                    None,
                    Some(format!(
                        "No drill of this scenario is kept in the repository's history yet: \
                         `mahavishnu-dr drill run --scenario {}` runs one.",
                        s.id()
                    )),
                ),
                Err(e) => (
                    None,
                    Some(format!(
                        "The repository's history could not be read, so the last drill is not \
                         shown: {}",
                        e.message
                    )),
                ),
            }
        } else {
            (None, None)
        };
        let shown = match (&evidence, &note) {
            (Some(k), _) => Evidence::Kept(k),
            (None, Some(n)) => Evidence::Missing(n),
            (None, None) => Evidence::NotAsked,
        };
        let markdown = render(s, &targets, &shown);
        Ok(DrillRunbookResponse {
            scenario: s,
            title: scenario::def(s).title.to_string(),
            markdown,
            evidence,
            evidence_note: note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Where the generated runbooks are kept in the source tree.
    const RUNBOOK_DIR: &str = "docs/runbooks";

    /// docs/runbooks/ holds what the definitions generate. `UPDATE_RUNBOOKS=1 cargo test --lib
    /// runbooks_are_current` (or `mahavishnu-dr drill runbook --all --write docs/runbooks`)
    /// rewrites them.
    #[test]
    fn runbooks_are_current() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(RUNBOOK_DIR);
        let update = std::env::var_os("UPDATE_RUNBOOKS").is_some_and(|v| v == "1");
        let mut stale = Vec::new();
        for (name, text) in checked_in_runbooks() {
            let path = dir.join(&name);
            let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
            if on_disk != text {
                if update {
                    std::fs::write(&path, &text).expect("write the runbook");
                } else {
                    stale.push(name);
                }
            }
        }
        assert!(
            stale.is_empty(),
            "{RUNBOOK_DIR}/ differs from the scenario definitions in {}: regenerate with \
             `UPDATE_RUNBOOKS=1 cargo test --lib runbooks_are_current` or `mahavishnu-dr drill \
             runbook --all --write {RUNBOOK_DIR}`, and commit the result",
            stale.join(", ")
        );
    }

    #[test]
    fn every_section_is_there_and_only_used_placeholders_are_explained() {
        for s in DrillScenario::ALL {
            let md = checked_in(s);
            for h in [
                "## Targets",
                "## Detection",
                "## Impact",
                "## Recovery",
                "## Success criteria",
                "## Rollback",
                "## Rehearse it",
                "## Evidence of the last drill",
            ] {
                assert!(md.contains(h), "{}: no {h}", s.id());
            }
            assert!(md.contains(&format!("drill run --scenario {}", s.id())));
            assert!(md.contains("```sh\n   mahavishnu-dr "), "{}", s.id());
        }
        let nw = checked_in(DrillScenario::NetworkPartition);
        assert!(nw.contains("none: the service is degraded"), "{nw}");
        assert!(!nw.contains("- `KEY`"), "{nw}");
        let one = checked_in(DrillScenario::SingleServerFailure);
        assert!(one.contains("- `KEY`: "), "{one}");
        assert!(one.contains("| RTO (recovery time) | 5 min |"), "{one}");
    }

    #[test]
    fn the_evidence_shows_when_result_rto_and_rpo() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-01T04:05:06Z")
            .expect("a fixed time")
            .to_utc();
        let k = KeptDrill {
            record_id: "20260301T040506.000Z_drill_abcd".into(),
            scenario: "data_deletion".into(),
            passed: false,
            host: "app1".into(),
            started_by: "cli:alice".into(),
            started: at,
            finished: at + chrono::Duration::seconds(95),
            store: "primary".into(),
            backup_id: Some("backup_x".into()),
            rto_seconds: Some(42.0),
            rto_target_seconds: Some(1800.0),
            rto_met: Some(true),
            rpo_seconds: Some(900.0),
            rpo_target_seconds: 300.0,
            rpo_met: Some(false),
            steps: Vec::new(),
            findings: vec!["this host could delete its backups".into()],
            recommendations: vec!["use an immutable store".into()],
            summary: "data_deletion FAILED".into(),
        };
        let s = DrillScenario::DataDeletion;
        let md = render(s, &DrillScenarioSettings::plan(s), &Evidence::Kept(&k));
        for needle in [
            "| When | 2026-03-01 04:05:06 UTC",
            "| Result | FAILED |",
            "| RTO achieved | 42 s (target 30 min: met) |",
            "MISSED",
            "this host could delete its backups",
            "use an immutable store",
        ] {
            assert!(md.contains(needle), "no {needle:?} in:\n{md}");
        }
    }
}
