//! Next steps, typed: what a recommendation or an error's guidance asks for ([`Action`]) and the
//! words around it ([`Advice`]). The operations and the repository produce these, never command
//! lines; each face words them: the command line and the reports as a `mahavishnu-dr …` command,
//! the MCP server as a tool call.

use crate::repo::kind::{BackupType, ValidationLevel};

/// The face a recommendation is worded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    /// The command line, and the reports read by people (markdown, HTML).
    Cli,
    /// The MCP server: steps are tool calls.
    Mcp,
}

/// One step a person or an agent can take.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Run a backup, of this type or of the default one.
    RunBackup { backup_type: Option<BackupType> },
    /// Run a backup as a scheduled run, from a timer (cron, systemd) the user sets up.
    ScheduledBackup,
    /// Validate every backup at this level.
    Validate { level: ValidationLevel },
    /// Restore the newest backup into scratch space and verify it.
    RestoreTest,
    /// Measure the RPO the schedules can give.
    MeasureRpo,
    /// Show what a cleanup would delete, without deleting.
    PlanCleanup,
    /// Show the plan of a drill (of this scenario, or of every one), without running it.
    PlanDrill { scenario: Option<String> },
    /// Change a setting in the settings file.
    EditSetting { key: String, value: String },
    /// List the backups.
    ListBackups,
    /// Create the repository (with a new key). Over MCP the first backup does this.
    Init { generate_key: bool },
    /// Copy to a replica (or every replica) the backups it lacks.
    Replicate { to: Option<String> },
    /// Run a drill (`None`: every scenario), after a dry run.
    Drill { scenario: Option<String> },
    /// Remove stale locks (or, with `all`, every lock). No tool does this: it is for the host.
    Unlock { all: bool },
    /// Give an option of the operation at hand: `--name value` on the command line,
    /// `"name": value` in a tool call (`value` "true" is a bare flag on the command line).
    WithOption { name: &'static str, value: String },
}

impl Action {
    /// The command line: "mahavishnu-dr backup run --backup-type full".
    pub fn command_line(&self) -> String {
        match self {
            Action::RunBackup { backup_type: None } => "mahavishnu-dr backup run".into(),
            Action::RunBackup {
                backup_type: Some(t),
            } => format!("mahavishnu-dr backup run --backup-type {}", t.as_str()),
            Action::ScheduledBackup => "mahavishnu-dr backup run --scheduled".into(),
            Action::Validate { level } => {
                format!(
                    "mahavishnu-dr backup validate --level {}",
                    level_str(*level)
                )
            }
            Action::RestoreTest => "mahavishnu-dr restore-test run".into(),
            Action::MeasureRpo => "mahavishnu-dr restore-test measure-rpo".into(),
            Action::PlanCleanup => "mahavishnu-dr backup cleanup --dry-run".into(),
            Action::PlanDrill { scenario: None } => {
                "mahavishnu-dr drill run --all --dry-run".into()
            }
            Action::PlanDrill { scenario: Some(s) } => {
                format!("mahavishnu-dr drill run --scenario {s} --dry-run")
            }
            Action::EditSetting { key, value } => format!("{key}: {value}"),
            Action::ListBackups => "mahavishnu-dr backup list".into(),
            Action::Init { generate_key } => {
                format!(
                    "mahavishnu-dr init{}",
                    flag(*generate_key, " --generate-key")
                )
            }
            Action::Unlock { all } => format!("mahavishnu-dr unlock{}", flag(*all, " --all")),
            Action::Replicate { to: None } => "mahavishnu-dr replicate".into(),
            Action::Replicate { to: Some(to) } => format!("mahavishnu-dr replicate --to {to}"),
            Action::Drill { scenario: None } => "mahavishnu-dr drill run --all".into(),
            Action::Drill { scenario: Some(s) } => {
                format!("mahavishnu-dr drill run --scenario {s}")
            }
            Action::WithOption { name, value } => {
                let flag = format!("--{}", name.replace('_', "-"));
                if value == "true" {
                    flag
                } else {
                    format!("{flag} {value}")
                }
            }
        }
    }

    /// The MCP tool call: `backup_run {"backup_type":"full"}`; a setting reads as on the command
    /// line (no tool changes settings).
    pub fn tool_call(&self) -> String {
        match self {
            Action::RunBackup { backup_type: None } => "backup_run {}".into(),
            Action::RunBackup {
                backup_type: Some(t),
            } => format!(r#"backup_run {{"backup_type":"{}"}}"#, t.as_str()),
            Action::ScheduledBackup => "backup_run {}".into(),
            Action::Validate { level } => {
                format!(r#"backup_validate {{"level":"{}"}}"#, level_str(*level))
            }
            Action::RestoreTest => "restore_test_run {}".into(),
            Action::MeasureRpo => "measure_rpo {}".into(),
            Action::PlanCleanup => r#"backup_cleanup {"dry_run":true}"#.into(),
            Action::PlanDrill { scenario: None } => {
                r#"drill_run {"all":true,"dry_run":true}"#.into()
            }
            Action::PlanDrill { scenario: Some(s) } => {
                format!(r#"drill_run {{"scenario":{s:?},"dry_run":true}}"#)
            }
            Action::EditSetting { .. } | Action::Unlock { .. } => self.command_line(),
            Action::ListBackups => "backup_list {}".into(),
            Action::Init { .. } => "backup_run {}".into(),
            Action::Replicate { to: None } => "backup_replicate {}".into(),
            Action::Replicate { to: Some(to) } => format!(r#"backup_replicate {{"to":{to:?}}}"#),
            Action::Drill { scenario: None } => {
                r#"drill_run {"all":true,"dry_run":false,"confirm":true}"#.into()
            }
            Action::Drill { scenario: Some(s) } => {
                format!(r#"drill_run {{"scenario":{s:?},"dry_run":false,"confirm":true}}"#)
            }
            Action::WithOption { name, value } => {
                let v = if value == "true" || value.parse::<i64>().is_ok() {
                    value.clone()
                } else {
                    format!("{value:?}")
                };
                format!("{name}={v}")
            }
        }
    }

    /// The step in a face's words, with its verb: "run `mahavishnu-dr …`", "call `backup_run {}`",
    /// "set `key: value`".
    pub fn render(&self, face: Face) -> String {
        match (self, face) {
            (Action::EditSetting { .. }, _) => format!("set `{}`", self.command_line()),
            (Action::WithOption { .. }, Face::Cli) => format!("pass `{}`", self.command_line()),
            (Action::WithOption { .. }, Face::Mcp) => format!("pass `{}`", self.tool_call()),
            (Action::Unlock { .. }, Face::Mcp) => format!(
                "on the host, run `{}` (no tool removes locks)",
                self.command_line()
            ),
            (Action::Init { .. }, Face::Mcp) => format!(
                "call `{}`, which creates the repository and its key on first use",
                self.tool_call()
            ),
            (_, Face::Cli) => format!("run `{}`", self.command_line()),
            (_, Face::Mcp) => format!("call `{}`", self.tool_call()),
        }
    }
}

fn flag(on: bool, text: &str) -> &str {
    if on { text } else { "" }
}

fn level_str(l: ValidationLevel) -> &'static str {
    match l {
        ValidationLevel::Quick => "quick",
        ValidationLevel::Checksum => "checksum",
        ValidationLevel::Full => "full",
    }
}

/// A recommendation: the step to take, if it is one, and the words that go with it (why, how
/// often, what next); with no step the reason is the whole advice.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    pub action: Option<Action>,
    pub reason: String,
}

impl Advice {
    /// A step, then `reason` after it ("at least weekly"); `reason` may be empty.
    pub fn step(action: Action, reason: impl Into<String>) -> Self {
        Advice {
            action: Some(action),
            reason: reason.into(),
        }
    }

    /// Advice with no step to run.
    pub fn say(reason: impl Into<String>) -> Self {
        Advice {
            action: None,
            reason: reason.into(),
        }
    }

    /// The advice in a face's words.
    pub fn render(&self, face: Face) -> String {
        match &self.action {
            None => self.reason.clone(),
            Some(a) if self.reason.is_empty() => a.render(face),
            Some(a) => format!("{} {}", a.render(face), self.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_is_a_command_line_on_the_cli_and_a_tool_call_over_mcp() {
        let a = Advice::step(
            Action::RunBackup {
                backup_type: Some(BackupType::Full),
            },
            "",
        );
        assert_eq!(
            a.render(Face::Cli),
            "run `mahavishnu-dr backup run --backup-type full`"
        );
        assert_eq!(
            a.render(Face::Mcp),
            r#"call `backup_run {"backup_type":"full"}`"#
        );
        let v = Advice::step(
            Action::Validate {
                level: ValidationLevel::Full,
            },
            "at least every 7 days",
        );
        assert_eq!(
            v.render(Face::Cli),
            "run `mahavishnu-dr backup validate --level full` at least every 7 days"
        );
        assert_eq!(
            v.render(Face::Mcp),
            r#"call `backup_validate {"level":"full"}` at least every 7 days"#
        );
        assert_eq!(
            Action::PlanCleanup.render(Face::Mcp),
            r#"call `backup_cleanup {"dry_run":true}`"#
        );
        assert_eq!(
            Action::RestoreTest.render(Face::Cli),
            "run `mahavishnu-dr restore-test run`"
        );
        let drill = Action::PlanDrill {
            scenario: Some("data_deletion".into()),
        };
        assert_eq!(
            drill.render(Face::Cli),
            "run `mahavishnu-dr drill run --scenario data_deletion --dry-run`"
        );
        assert_eq!(
            drill.render(Face::Mcp),
            r#"call `drill_run {"scenario":"data_deletion","dry_run":true}`"#
        );
        assert_eq!(
            Action::PlanDrill { scenario: None }.render(Face::Mcp),
            r#"call `drill_run {"all":true,"dry_run":true}`"#
        );
    }

    #[test]
    fn settings_and_plain_advice_read_the_same_everywhere() {
        let s = Advice::step(
            Action::EditSetting {
                key: "backup.encryption.enabled".into(),
                value: "true".into(),
            },
            "and start a new repository",
        );
        assert_eq!(s.render(Face::Cli), s.render(Face::Mcp));
        assert_eq!(
            s.render(Face::Cli),
            "set `backup.encryption.enabled: true` and start a new repository"
        );
        let p = Advice::say("back up more often");
        assert_eq!(p.render(Face::Mcp), "back up more often");
    }
}
