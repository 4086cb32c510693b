//! `schedule show` (the MCP `schedule_status`) and `schedule export`: every job the settings
//! schedule (backups by type, the validation, automated restore tests, drills) with its next
//! runs and, from the daemon's state file, its last run and whether the daemon is running; and
//! the same jobs as crontab lines or systemd service and timer units, for those who run them
//! from their own scheduler.

use chrono::Utc;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use super::job_table::job_table;
pub use super::job_table::{DaemonSummary, LastRun, ScheduledJob};

/// Options of `schedule show`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, clap::Args)]
#[serde(deny_unknown_fields)]
pub struct ScheduleOptions {
    /// How many next runs to list per job.
    #[serde(default = "default_count")]
    #[arg(long, default_value_t = default_count())]
    pub count: usize,
}

fn default_count() -> usize {
    3
}

impl Default for ScheduleOptions {
    fn default() -> Self {
        ScheduleOptions {
            count: default_count(),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleResponse {
    /// Soonest first; disabled jobs last.
    pub jobs: Vec<ScheduledJob>,
    /// The settings file the commands name.
    pub config_file: String,
    /// The daemon's state; None when no daemon has run with these settings.
    pub daemon: Option<DaemonSummary>,
    /// Continuous protection: on or off, what it covers, the daemon's last point.
    pub continuous: super::job_table::ContinuousStatus,
}

/// `schedule export --format`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    /// Crontab lines, each after a `CRON_TZ=` line (cronie, systemd-cron).
    Cron,
    /// A `.service` and a `.timer` unit per job.
    Systemd,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleExport {
    pub format: ExportFormat,
    /// The crontab, or the units one after another (each headed `# file: NAME`).
    pub text: String,
    /// Disabled jobs, left out.
    pub skipped: Vec<String>,
}

impl Dr {
    /// Every scheduled job with its next runs.
    pub fn schedule_show(&self, req: &ScheduleOptions) -> ScheduleResponse {
        let (jobs, daemon) = job_table(&self.settings.settings, req.count, Utc::now());
        ScheduleResponse {
            jobs,
            config_file: self.settings.config_file.display().to_string(),
            daemon,
            continuous: super::job_table::continuous_status(&self.settings),
        }
    }

    /// The enabled jobs as crontab lines or systemd units, running this program.
    pub fn schedule_export(&self, format: ExportFormat) -> ScheduleExport {
        let shown = self.schedule_show(&ScheduleOptions { count: 0 });
        let exe = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "mahavishnu-dr".into());
        let config = shown.config_file.clone();
        let command =
            |j: &ScheduledJob| format!("{exe} --config {config} --quiet {}", j.command.join(" "));
        let mut text = String::new();
        let mut skipped = Vec::new();
        for j in &shown.jobs {
            if !j.enabled {
                skipped.push(j.name.clone());
                continue;
            }
            let unit = format!("mahavishnu-dr-{}", j.name.replace('_', "-"));
            match format {
                ExportFormat::Cron => text.push_str(&format!(
                    "# {}: {}\nCRON_TZ={}\n{} {}\n\n",
                    j.name,
                    j.cadence,
                    j.timezone,
                    j.cron,
                    command(j)
                )),
                ExportFormat::Systemd => text.push_str(&format!(
                    "# file: {unit}.service\n[Unit]\nDescription=mahavishnu-dr {name} ({cadence})\n\
                     After=network-online.target\n\n[Service]\nType=oneshot\nExecStart={cmd}\n\n\
                     # file: {unit}.timer\n[Unit]\nDescription=mahavishnu-dr {name} ({cadence})\n\n\
                     [Timer]\nOnCalendar={cal}\nPersistent=true\n\n[Install]\n\
                     WantedBy=timers.target\n\n",
                    name = j.name,
                    cadence = j.cadence,
                    cmd = command(j),
                    cal = j.on_calendar
                )),
            }
        }
        ScheduleExport {
            format,
            text,
            skipped,
        }
    }
}
