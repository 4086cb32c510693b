//! DR reports: the report renderers (markdown, single-file HTML) and the inline SVG charts the HTML embeds.
pub mod html;
pub mod markdown;
pub mod svg;

use crate::ops::report::ReportResponse;
use crate::present;

/// The Schedules section's sentence and rows (job, cadence, next run, last run, note), the same
/// words in markdown and HTML.
pub(crate) fn schedule_rows(r: &ReportResponse) -> (String, Vec<[String; 5]>) {
    let s = &r.schedules;
    let intro = match &s.daemon {
        Some(d) if d.running => format!(
            "The daemon is running (pid {}, since {}){}.",
            d.pid.unwrap_or_default(),
            d.started_at.map(present::timestamp).unwrap_or_default(),
            d.running_job
                .as_ref()
                .map(|j| format!("; it is running {}", j.job))
                .unwrap_or_default()
        ),
        Some(d) => format!(
            "The daemon is not running (last stopped {}): scheduled runs are missed until it starts.",
            d.stopped_at
                .map(present::timestamp)
                .unwrap_or_else(|| "without a clean stop".into())
        ),
        None => "No daemon has run with these settings: the schedules run only if cron or \
                 systemd runs them (`schedule export`)."
            .to_string(),
    };
    let rows = s
        .jobs
        .iter()
        .map(|j| {
            let next = match (j.enabled, j.next_runs.first()) {
                (false, _) => "disabled".to_string(),
                (true, Some(t)) => present::timestamp(*t),
                (true, None) => "-".to_string(),
            };
            let last = j.last_run.as_ref().map_or("-".to_string(), |l| {
                format!(
                    "{} {}",
                    l.result.map_or("started", |r| r.as_str()),
                    l.finished
                        .or(l.started)
                        .map(present::timestamp)
                        .unwrap_or_default()
                )
            });
            let mut note = Vec::new();
            if j.missed {
                note.push(format!(
                    "missed its run at {}",
                    j.latest_slot.map(present::timestamp).unwrap_or_default()
                ));
            }
            if let Some(l) = &j.last_run {
                if l.missed_total > 0 {
                    note.push(format!(
                        "{} run(s) missed in all, each caught up once",
                        l.missed_total
                    ));
                }
                if l.result != Some(crate::ops::daemon_state::JobResult::Succeeded)
                    && let Some(d) = &l.detail
                {
                    note.push(d.clone());
                }
            }
            [
                j.name.clone(),
                j.cadence.clone(),
                next,
                last,
                note.join("; "),
            ]
        })
        .collect();
    (intro, rows)
}
