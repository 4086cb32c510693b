//! `schedule show` and `schedule export`: every job the settings schedule (backups by type,
//! automated restore tests, drills) with its next runs, and the same jobs as crontab lines or
//! systemd service and timer units, for those who run them from their own scheduler.

use chrono::{DateTime, Timelike, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Dr;
use crate::settings::{Repeat, Schedule};

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

/// One scheduled job.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScheduledJob {
    /// The backup schedule's name, `automated_tests` or `drills`.
    pub name: String,
    /// What it runs, as arguments after `mahavishnu-dr --config FILE`.
    pub command: Vec<String>,
    pub enabled: bool,
    /// "daily at 02:00 UTC" and the like.
    pub cadence: String,
    /// The next runs, soonest first (none when disabled).
    pub next_runs: Vec<DateTime<Utc>>,
    /// The crontab time fields (minute hour day-of-month month day-of-week), in `timezone`.
    pub cron: String,
    /// The systemd timer's `OnCalendar=` value.
    pub on_calendar: String,
    pub timezone: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ScheduleResponse {
    /// Soonest first; disabled jobs last.
    pub jobs: Vec<ScheduledJob>,
    /// The settings file the commands name.
    pub config_file: String,
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

/// Crontab time fields of a schedule (in its own time zone). A monthly day past 28 is written
/// as is: cron skips the months without it, where this tool runs on the last day.
fn cron_fields(s: &Schedule) -> String {
    let (m, h) = (s.time.minute(), s.time.hour());
    match s.repeat {
        Repeat::Daily => format!("{m} {h} * * *"),
        Repeat::Weekly(w) => format!("{m} {h} * * {}", w.num_days_from_sunday()),
        Repeat::Monthly(d) => format!("{m} {h} {d} * *"),
    }
}

/// A systemd calendar expression; a monthly day past 28 is the month's last day (`~01`), as
/// this tool runs it.
fn on_calendar(s: &Schedule) -> String {
    let at = format!("{} {}", s.time.format("%H:%M:00"), s.timezone.name());
    match s.repeat {
        Repeat::Daily => format!("*-*-* {at}"),
        Repeat::Weekly(w) => format!("{w} *-*-* {at}"),
        Repeat::Monthly(d) if d > 28 => format!("*-*~01 {at}"),
        Repeat::Monthly(d) => format!("*-*-{d:02} {at}"),
    }
}

fn job(name: &str, command: &[&str], enabled: bool, s: &Schedule, count: usize) -> ScheduledJob {
    let mut next_runs = Vec::new();
    let mut t = Utc::now();
    while enabled && next_runs.len() < count {
        match s.next_after(t) {
            Some(n) => {
                next_runs.push(n);
                t = n;
            }
            None => break,
        }
    }
    ScheduledJob {
        name: name.to_string(),
        command: command.iter().map(|c| c.to_string()).collect(),
        enabled,
        cadence: s.cadence(),
        next_runs,
        cron: cron_fields(s),
        on_calendar: on_calendar(s),
        timezone: s.timezone.name().to_string(),
    }
}

impl Dr {
    /// Every scheduled job with its next runs.
    pub fn schedule_show(&self, req: &ScheduleOptions) -> ScheduleResponse {
        let s = &self.settings.settings;
        let mut jobs: Vec<ScheduledJob> = s
            .backup
            .schedules
            .iter()
            .map(|(name, b)| {
                let t = crate::repo::BackupType::from(b.backup_type);
                job(
                    name,
                    &["backup", "run", "--scheduled", "--backup-type", t.as_str()],
                    s.backup.enabled && b.enabled,
                    &b.schedule,
                    req.count,
                )
            })
            .collect();
        let at = &s.disaster_recovery.automated_tests;
        jobs.push(job(
            "automated_tests",
            &["restore-test", "run"],
            at.enabled,
            &at.schedule,
            req.count,
        ));
        let d = &s.disaster_recovery.drills;
        jobs.push(job(
            "drills",
            &["drill", "run", "--scheduled"],
            d.enabled && !d.scenarios.is_empty(),
            &d.schedule,
            req.count,
        ));
        jobs.sort_by(|a, b| match (a.next_runs.first(), b.next_runs.first()) {
            (Some(x), Some(y)) => x.cmp(y).then_with(|| a.name.cmp(&b.name)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.name.cmp(&b.name),
        });
        ScheduleResponse {
            jobs,
            config_file: self.settings.config_file.display().to_string(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveTime, Weekday};

    fn at(h: u32, m: u32, repeat: Repeat, tz: chrono_tz::Tz) -> Schedule {
        Schedule {
            time: NaiveTime::from_hms_opt(h, m, 0).unwrap(),
            timezone: tz,
            repeat,
        }
    }

    #[test]
    fn cron_and_calendar_say_the_same_times() {
        let utc = chrono_tz::Tz::UTC;
        let daily = at(2, 0, Repeat::Daily, utc);
        assert_eq!(cron_fields(&daily), "0 2 * * *");
        assert_eq!(on_calendar(&daily), "*-*-* 02:00:00 UTC");
        let weekly = at(
            3,
            30,
            Repeat::Weekly(Weekday::Sun),
            chrono_tz::Europe::Berlin,
        );
        assert_eq!(cron_fields(&weekly), "30 3 * * 0");
        assert_eq!(on_calendar(&weekly), "Sun *-*-* 03:30:00 Europe/Berlin");
        let monthly = at(4, 0, Repeat::Monthly(1), utc);
        assert_eq!(cron_fields(&monthly), "0 4 1 * *");
        assert_eq!(on_calendar(&monthly), "*-*-01 04:00:00 UTC");
        let last = at(4, 0, Repeat::Monthly(31), utc);
        assert_eq!(on_calendar(&last), "*-*~01 04:00:00 UTC");
    }
}
