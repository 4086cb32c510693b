//! Alerts: incidents opened and cleared from the conditions the daemon evaluates, each told once
//! to every configured channel when it opens and once when it clears, and healthchecks pings
//! after every job. docs/ALERTS.md is the user's page.
//!
//! - [`Condition`]: one thing that is wrong or right now (`backup_failed:daily_incremental`
//!   active or not), as [`conditions::evaluate`] derives them from the ops layer;
//! - [`Alerter`]: the incident state machine over those, persisted in `alerts.json` in
//!   `daemon.state_dir` ([`incidents`]), so a restart neither re-sends nor forgets; a delivery
//!   that failed is tried again at the next evaluation;
//! - the channels: [`webhook`] (Slack or the typed JSON payload [`AlertPayload`]), [`email`]
//!   (SMTP), [`healthchecks`] (pings on a job's end);
//! - [`test_channels`]: `mahavishnu-dr alerts test`, a test message to every channel.
//!
//! Every call to a channel is bounded by [`CALL_TIMEOUT`], so a dead channel never stalls the
//! daemon. Secrets (a webhook URL, the SMTP password) never appear in a message, a log line or
//! an error: channels are named by [`AlertChannel::label`], URLs shown as `scheme://host`.

pub mod conditions;
mod email;
mod healthchecks;
mod incidents;
mod webhook;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::ops::Dr;
use crate::settings::{AlertChannel, MonitoringSettings, NotConfigured};

// The daemon's API (see the module documentation).
#[allow(unused_imports)]
pub use conditions::evaluate;
#[allow(unused_imports)]
pub use incidents::{ALERTS_FILE, Incident};

/// The longest one call to a channel may take (connect, send, answer).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The version of the JSON webhook payload ([`AlertPayload`]).
pub const PAYLOAD_VERSION: u32 = 1;

/// One condition as the daemon sees it at one evaluation. `key` names it stably
/// (`backup_failed:daily_incremental`, `newest_backup_over_rpo`, `replica_lag:offsite`); an
/// active condition opens an incident (or keeps it open), an inactive one clears it. A condition
/// the daemon could not judge this time is left out: its incident stays as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Condition {
    pub key: String,
    pub active: bool,
    /// One line: what is wrong (or, inactive, what is right again).
    pub summary: String,
    /// What was seen and what to do.
    pub detail: String,
}

impl Condition {
    pub fn active(
        key: impl Into<String>,
        summary: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Condition {
            key: key.into(),
            active: true,
            summary: summary.into(),
            detail: detail.into(),
        }
    }

    pub fn inactive(key: impl Into<String>, summary: impl Into<String>) -> Self {
        Condition {
            key: key.into(),
            active: false,
            summary: summary.into(),
            detail: String::new(),
        }
    }
}

/// What a message says: an incident opened (`firing`), cleared (`resolved`), or a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AlertStatus {
    Firing,
    Resolved,
    Test,
    /// A job started (healthchecks `/start` pings only; never an incident's status).
    Started,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Firing => "firing",
            AlertStatus::Resolved => "resolved",
            AlertStatus::Test => "test",
            AlertStatus::Started => "started",
        }
    }
}

/// One alert: what the JSON webhook format posts as is (version [`PAYLOAD_VERSION`]), and what
/// the Slack text and the e-mail are written from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AlertPayload {
    /// [`PAYLOAD_VERSION`]; a change that removes or retypes a field raises it.
    pub version: u32,
    pub status: AlertStatus,
    /// The condition's stable key (`backup_failed:daily_incremental`).
    pub key: String,
    pub summary: String,
    pub detail: String,
    /// The host the daemon runs on (`backup.host`, else the system's name).
    pub host: String,
    /// The repository, as `backup status` names it (never a secret).
    pub repository: String,
    /// When this message was made.
    pub at: DateTime<Utc>,
    /// When the incident opened (firing and resolved messages).
    pub opened_at: Option<DateTime<Utc>>,
}

impl AlertPayload {
    /// `[mahavishnu-dr] FIRING on host: summary`.
    pub fn title(&self) -> String {
        format!(
            "[mahavishnu-dr] {} on {}: {}",
            self.status.as_str().to_uppercase(),
            self.host,
            self.summary
        )
    }

    /// The message for people: title, detail, where and since when.
    pub fn text(&self) -> String {
        let mut t = self.title();
        if !self.detail.is_empty() {
            t.push('\n');
            t.push_str(&self.detail);
        }
        t.push_str(&format!("\nrepository: {}", self.repository));
        if let Some(o) = self.opened_at {
            t.push_str(&format!("\nsince: {}", o.format("%Y-%m-%d %H:%M:%S UTC")));
        }
        t.push_str(&format!(
            "\nat: {} (key {})",
            self.at.format("%Y-%m-%d %H:%M:%S UTC"),
            self.key
        ));
        t
    }
}

/// The outcome of one message to one channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Delivery {
    /// The channel's label (`webhook https://hooks.slack.com`, or its `name`).
    pub channel: String,
    /// `webhook`, `email` or `healthchecks`.
    pub channel_type: String,
    /// The incident's key, the job's name for a ping, `test` for a test.
    pub key: String,
    pub status: AlertStatus,
    pub delivered: bool,
    /// Why it was not delivered (never a secret).
    pub error: Option<String>,
}

/// What one evaluation did: every message tried, and what could not be kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Evaluation {
    pub deliveries: Vec<Delivery>,
    /// Incidents opened and cleared by this evaluation (keys).
    pub opened: Vec<String>,
    pub cleared: Vec<String>,
    /// Problems to log (the alert state could not be written).
    pub warnings: Vec<String>,
}

/// The incident alerter of the daemon. Build it once ([`Alerter::new`]), call
/// [`Alerter::evaluate`] with every evaluation's conditions and [`Alerter::job_finished`] after
/// every job.
pub struct Alerter {
    monitoring: MonitoringSettings,
    project_root: PathBuf,
    state_dir: PathBuf,
    host: String,
    repository: String,
    incidents: incidents::IncidentFile,
}

impl Alerter {
    /// The alerter of `dr`'s settings, with the open incidents of `alerts.json`; the warning
    /// says when an unreadable file was set aside.
    pub fn new(dr: &Dr) -> (Alerter, Option<String>) {
        let loaded = dr.settings();
        Alerter::with(
            loaded.settings.backup.monitoring.clone(),
            loaded.project_root.clone(),
            loaded.settings.daemon.state_dir.clone(),
            dr.host(),
            dr.storage().describe(),
        )
    }

    /// An alerter from its parts (tests; a daemon without a [`Dr`]).
    pub fn with(
        monitoring: MonitoringSettings,
        project_root: PathBuf,
        state_dir: PathBuf,
        host: String,
        repository: String,
    ) -> (Alerter, Option<String>) {
        let (incidents, warning) = incidents::IncidentFile::load(&state_dir);
        (
            Alerter {
                monitoring,
                project_root,
                state_dir,
                host,
                repository,
                incidents,
            },
            warning,
        )
    }

    /// Why incident alerts are not sent, if they are not: `monitoring.enabled: false` or
    /// `alert_on_failure: false`.
    pub fn silenced(&self) -> Option<&'static str> {
        silenced(&self.monitoring)
    }

    /// The bare-word channels, each with what to write instead.
    pub fn not_configured(&self) -> Vec<NotConfigured> {
        self.monitoring.not_configured()
    }

    /// The incidents open now (and those cleared whose resolved message is still owed).
    pub fn incidents(&self) -> Vec<Incident> {
        self.incidents.incidents.values().cloned().collect()
    }

    /// Feed one evaluation: open an incident for each active condition without one (one alert
    /// to every channel), clear the incident of each inactive condition (one resolved message
    /// to the channels that were told it opened), and try again every message owed by an
    /// earlier evaluation whose delivery failed. The state is written after any change.
    pub async fn evaluate(&mut self, conditions: &[Condition], now: DateTime<Utc>) -> Evaluation {
        let mut ev = Evaluation::default();
        if self.silenced().is_some() {
            return ev;
        }
        let channels = alert_channels(&self.monitoring);
        let ids: Vec<String> = channels.iter().map(|(id, _)| id.clone()).collect();
        let (opened, cleared) = self.incidents.apply(conditions, now);
        ev.opened = opened;
        ev.cleared = cleared;
        let mut changed = !ev.opened.is_empty() || !ev.cleared.is_empty();

        // Every message owed, channel by channel.
        let owed = self.incidents.owed(&ids);
        for (key, status, channel_id) in owed {
            let Some((_, channel)) = channels.iter().find(|(id, _)| *id == channel_id) else {
                continue;
            };
            let Some(incident) = self.incidents.incidents.get(&key) else {
                continue;
            };
            let payload = AlertPayload {
                version: PAYLOAD_VERSION,
                status,
                key: key.clone(),
                summary: match status {
                    AlertStatus::Resolved => incident
                        .resolved_summary
                        .clone()
                        .unwrap_or_else(|| format!("resolved: {}", incident.summary)),
                    _ => incident.summary.clone(),
                },
                detail: match status {
                    AlertStatus::Resolved => format!("was: {}", incident.summary),
                    _ => incident.detail.clone(),
                },
                host: self.host.clone(),
                repository: self.repository.clone(),
                at: now,
                opened_at: Some(incident.opened_at),
            };
            let result = send(channel, &payload, &self.project_root).await;
            let delivered = result.is_ok();
            if delivered {
                self.incidents.delivered(&key, status, &channel_id);
                changed = true;
            } else if let Err(e) = &result {
                tracing::warn!(channel = %channel_id, key = %key, "alert not delivered: {e}");
            }
            ev.deliveries.push(Delivery {
                channel: channel_id,
                channel_type: channel.type_name().to_string(),
                key,
                status,
                delivered,
                error: result.err(),
            });
        }
        changed |= self.incidents.forget_finished(&ids);
        if changed && let Err(e) = self.incidents.save(&self.state_dir) {
            ev.warnings.push(format!(
                "the alert state could not be written ({e}); after a restart alerts may be sent again"
            ));
        }
        ev
    }

    /// When a job starts: ping each healthchecks channel's `url/start`.
    pub async fn job_started(&self, job: &str) -> Vec<Delivery> {
        let body = format!("{job} started on {}", self.host);
        self.ping_all(job, healthchecks::Ping::Start, &body, AlertStatus::Started)
            .await
    }

    /// After a job ended (`ok`: it succeeded): ping each healthchecks channel, `url` on success
    /// and `url/fail` on failure. Nothing when `monitoring.enabled` is false.
    pub async fn job_finished(&self, job: &str, ok: bool) -> Vec<Delivery> {
        let (ping, status, word) = if ok {
            (
                healthchecks::Ping::Success,
                AlertStatus::Resolved,
                "succeeded",
            )
        } else {
            (healthchecks::Ping::Fail, AlertStatus::Firing, "failed")
        };
        let body = format!("{job} {word} on {}", self.host);
        self.ping_all(job, ping, &body, status).await
    }

    /// Ping every healthchecks channel that follows `job`.
    async fn ping_all(
        &self,
        job: &str,
        ping: healthchecks::Ping,
        body: &str,
        status: AlertStatus,
    ) -> Vec<Delivery> {
        let mut out = Vec::new();
        if !self.monitoring.enabled {
            return out;
        }
        for (id, channel) in channels_of(&self.monitoring) {
            let AlertChannel::Healthchecks(h) = channel else {
                continue;
            };
            if !h.jobs.is_empty() && !h.jobs.iter().any(|j| j == job) {
                continue;
            }
            let result = healthchecks::ping(h, ping, body).await;
            if let Err(e) = &result {
                tracing::warn!(channel = %id, job, "healthchecks ping not delivered: {e}");
            }
            out.push(Delivery {
                channel: id,
                channel_type: "healthchecks".into(),
                key: job.to_string(),
                status,
                delivered: result.is_ok(),
                error: result.err(),
            });
        }
        out
    }
}

/// Why incident alerts are off in these settings, if they are.
pub fn silenced(m: &MonitoringSettings) -> Option<&'static str> {
    if !m.enabled {
        Some("backup.monitoring.enabled is false")
    } else if !m.alert_on_failure {
        Some("backup.monitoring.alert_on_failure is false")
    } else {
        None
    }
}

/// The typed channels with a unique id each (the label, numbered when two share one).
fn channels_of(m: &MonitoringSettings) -> Vec<(String, &AlertChannel)> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for c in &m.alert_channels {
        if matches!(c, AlertChannel::Name(_)) {
            continue;
        }
        let label = c.label();
        let n = seen.entry(label.clone()).or_insert(0);
        *n += 1;
        let id = if *n == 1 {
            label
        } else {
            format!("{label} #{n}")
        };
        out.push((id, c));
    }
    out
}

/// The channels incidents go to: webhooks and e-mail (healthchecks gets pings, not incidents).
fn alert_channels(m: &MonitoringSettings) -> Vec<(String, &AlertChannel)> {
    channels_of(m)
        .into_iter()
        .filter(|(_, c)| matches!(c, AlertChannel::Webhook(_) | AlertChannel::Email(_)))
        .collect()
}

/// Send one message to one channel, within [`CALL_TIMEOUT`]; the error never holds a secret.
async fn send(
    channel: &AlertChannel,
    payload: &AlertPayload,
    project_root: &std::path::Path,
) -> Result<(), String> {
    let sent = tokio::time::timeout(CALL_TIMEOUT + Duration::from_secs(2), async {
        match channel {
            AlertChannel::Webhook(w) => webhook::send(w, payload).await,
            AlertChannel::Email(e) => email::send(e, payload, project_root).await,
            AlertChannel::Healthchecks(h) => {
                healthchecks::ping(h, healthchecks::Ping::Log, &payload.text()).await
            }
            AlertChannel::Name(n) => Err(NotConfigured::of(n).message),
        }
    })
    .await;
    match sent {
        Ok(r) => r,
        Err(_) => Err(format!(
            "no answer within {} s",
            (CALL_TIMEOUT + Duration::from_secs(2)).as_secs()
        )),
    }
}

/// One channel's outcome in `alerts test`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ChannelTest {
    pub channel: String,
    pub channel_type: String,
    pub delivered: bool,
    pub error: Option<String>,
}

/// What `alerts test` found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct AlertTestResponse {
    /// Every typed channel, in the settings' order.
    pub channels: Vec<ChannelTest>,
    /// The bare-word channels, each with what to write instead.
    pub not_configured: Vec<NotConfigured>,
    /// Why the daemon would not send incident alerts, if it would not.
    pub silenced: Option<String>,
    /// Every channel delivered, and there was at least one.
    pub ok: bool,
}

/// `alerts test`: a test message to every typed channel (a webhook gets the test payload, an
/// e-mail channel a test mail, a healthchecks channel a `/log` ping, which does not change the
/// check's state), each reported as delivered or why not.
pub async fn test_channels(dr: &Dr) -> AlertTestResponse {
    let loaded = dr.settings();
    let m = &loaded.settings.backup.monitoring;
    let payload = AlertPayload {
        version: PAYLOAD_VERSION,
        status: AlertStatus::Test,
        key: "test".into(),
        summary: "test alert from `mahavishnu-dr alerts test`".into(),
        detail: "This channel receives the DR alerts of this host.".into(),
        host: dr.host(),
        repository: dr.storage().describe(),
        at: Utc::now(),
        opened_at: None,
    };
    let channels = channels_of(m);
    let sends = channels
        .iter()
        .map(|(_, c)| send(c, &payload, &loaded.project_root));
    let results = futures::future::join_all(sends).await;
    let channels: Vec<ChannelTest> = channels
        .iter()
        .zip(results)
        .map(|((id, c), r)| ChannelTest {
            channel: id.clone(),
            channel_type: c.type_name().to_string(),
            delivered: r.is_ok(),
            error: r.err(),
        })
        .collect();
    let ok = !channels.is_empty() && channels.iter().all(|c| c.delivered);
    AlertTestResponse {
        channels,
        not_configured: m.not_configured(),
        silenced: silenced(m).map(str::to_string),
        ok,
    }
}

#[cfg(test)]
mod tests;
