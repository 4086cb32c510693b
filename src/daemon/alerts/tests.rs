//! The alerter against a real HTTP receiver on loopback: one alert per incident, one resolved
//! message, kept across a restart, a failed delivery tried again.

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, Uri};

use super::*;
use crate::settings::{HealthchecksChannel, SecretUrl, WebhookChannel, WebhookFormat};

/// What the receiver got: (path, body), and the status it answers with.
#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(String, String)>>>,
    fail: Arc<Mutex<bool>>,
}

impl Receiver {
    fn requests(&self) -> Vec<(String, String)> {
        self.got.lock().unwrap().clone()
    }
    fn fail(&self, on: bool) {
        *self.fail.lock().unwrap() = on;
    }
}

async fn record(State(r): State<Receiver>, uri: Uri, body: String) -> StatusCode {
    r.got.lock().unwrap().push((uri.path().to_string(), body));
    if *r.fail.lock().unwrap() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// A receiver on a loopback port; returns it and its base URL.
async fn receiver() -> (Receiver, String) {
    let r = Receiver::default();
    let app = axum::Router::new()
        .fallback(axum::routing::any(record))
        .with_state(r.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (r, format!("http://{addr}"))
}

fn monitoring(channels: Vec<AlertChannel>) -> MonitoringSettings {
    MonitoringSettings {
        enabled: true,
        alert_on_failure: true,
        alert_channels: channels,
    }
}

fn json_hook(base: &str) -> AlertChannel {
    AlertChannel::Webhook(WebhookChannel {
        name: None,
        url: SecretUrl::new(format!("{base}/hooks/T0/SECRETPATH")),
        format: WebhookFormat::Json,
    })
}

fn alerter(m: MonitoringSettings, state: &std::path::Path) -> Alerter {
    let (a, w) = Alerter::with(
        m,
        state.to_path_buf(),
        state.join("daemon"),
        "h1".into(),
        "local:/srv/backups".into(),
    );
    assert!(w.is_none(), "{w:?}");
    a
}

fn at(minute: u32) -> DateTime<Utc> {
    chrono::DateTime::parse_from_rfc3339(&format!("2026-03-10T12:{minute:02}:00Z"))
        .unwrap()
        .with_timezone(&Utc)
}

fn failing() -> Condition {
    Condition::active(
        "job_failed:daily_incremental",
        "backup daily_incremental failed after 3 attempts",
        "disk full",
    )
}

fn recovered() -> Condition {
    Condition::inactive(
        "job_failed:daily_incremental",
        "backup daily_incremental succeeded again",
    )
}

fn statuses(r: &Receiver) -> Vec<String> {
    r.requests()
        .iter()
        .map(|(_, b)| {
            let v: serde_json::Value = serde_json::from_str(b).unwrap();
            v["status"].as_str().unwrap().to_string()
        })
        .collect()
}

#[tokio::test]
async fn an_incident_alerts_once_and_resolves_once() {
    let (r, base) = receiver().await;
    let d = tempfile::tempdir().unwrap();
    let mut a = alerter(monitoring(vec![json_hook(&base)]), d.path());
    for minute in 0..5 {
        let ev = a.evaluate(&[failing()], at(minute)).await;
        assert!(ev.warnings.is_empty(), "{ev:?}");
    }
    assert_eq!(statuses(&r), ["firing"], "one alert for five evaluations");
    let (path, body) = &r.requests()[0];
    assert_eq!(path, "/hooks/T0/SECRETPATH");
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["version"], PAYLOAD_VERSION);
    assert_eq!(v["key"], "job_failed:daily_incremental");
    assert_eq!(
        v["summary"],
        "backup daily_incremental failed after 3 attempts"
    );
    assert_eq!(v["detail"], "disk full");
    assert_eq!(v["host"], "h1");
    assert_eq!(v["repository"], "local:/srv/backups");
    assert_eq!(v["at"], "2026-03-10T12:00:00Z");
    for minute in 5..8 {
        a.evaluate(&[recovered()], at(minute)).await;
    }
    assert_eq!(statuses(&r), ["firing", "resolved"], "one resolved message");
    let v: serde_json::Value = serde_json::from_str(&r.requests()[1].1).unwrap();
    assert_eq!(v["summary"], "backup daily_incremental succeeded again");
    assert_eq!(v["opened_at"], "2026-03-10T12:00:00Z");
    assert!(a.incidents().is_empty());
    // It fails again: a new incident, a new alert.
    a.evaluate(&[failing()], at(9)).await;
    assert_eq!(statuses(&r), ["firing", "resolved", "firing"]);
    // A condition left out (not judged this time) changes nothing.
    a.evaluate(&[], at(10)).await;
    assert_eq!(r.requests().len(), 3);
    assert_eq!(a.incidents().len(), 1);
}

#[tokio::test]
async fn a_restart_neither_resends_nor_forgets() {
    let (r, base) = receiver().await;
    let d = tempfile::tempdir().unwrap();
    let m = monitoring(vec![json_hook(&base)]);
    {
        let mut a = alerter(m.clone(), d.path());
        a.evaluate(&[failing()], at(0)).await;
    }
    let file = d.path().join("daemon").join(ALERTS_FILE);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(!saved.contains("SECRETPATH"), "{saved}");
    let mut a = alerter(m.clone(), d.path());
    assert_eq!(a.incidents().len(), 1, "the open incident is remembered");
    a.evaluate(&[failing()], at(1)).await;
    assert_eq!(statuses(&r), ["firing"], "not sent again after the restart");
    let mut a = alerter(m, d.path());
    a.evaluate(&[recovered()], at(2)).await;
    assert_eq!(statuses(&r), ["firing", "resolved"]);
    let a = alerter(monitoring(vec![json_hook(&base)]), d.path());
    assert!(a.incidents().is_empty());
}

#[tokio::test]
async fn an_undelivered_alert_is_tried_again() {
    let (r, base) = receiver().await;
    let d = tempfile::tempdir().unwrap();
    let mut a = alerter(monitoring(vec![json_hook(&base)]), d.path());
    r.fail(true);
    let ev = a.evaluate(&[failing()], at(0)).await;
    assert_eq!(ev.deliveries.len(), 1);
    assert!(!ev.deliveries[0].delivered);
    let why = ev.deliveries[0].error.clone().unwrap();
    assert!(why.contains("500"), "{why}");
    assert!(!why.contains("SECRETPATH"), "{why}");
    let ev = a.evaluate(&[failing()], at(1)).await;
    assert!(!ev.deliveries[0].delivered, "tried again while it fails");
    r.fail(false);
    let ev = a.evaluate(&[failing()], at(2)).await;
    assert!(ev.deliveries[0].delivered, "{ev:?}");
    let ev = a.evaluate(&[failing()], at(3)).await;
    assert!(ev.deliveries.is_empty(), "delivered: not again");
    assert_eq!(statuses(&r), ["firing", "firing", "firing"]);
    // A dead channel: a clear reason, no secret, within the timeout.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let mut a = alerter(
        monitoring(vec![json_hook(&format!("http://{dead}"))]),
        &d.path().join("other"),
    );
    let ev = a.evaluate(&[failing()], at(4)).await;
    let why = ev.deliveries[0].error.clone().unwrap();
    assert!(why.contains("cannot connect"), "{why}");
    assert!(why.contains(&format!("http://{dead}")), "{why}");
    assert!(
        !why.contains("SECRETPATH") && !why.contains("/hooks"),
        "{why}"
    );
}

#[tokio::test]
async fn silenced_settings_send_nothing() {
    let (r, base) = receiver().await;
    let d = tempfile::tempdir().unwrap();
    for (enabled, on_failure) in [(false, true), (true, false)] {
        let mut m = monitoring(vec![json_hook(&base)]);
        m.enabled = enabled;
        m.alert_on_failure = on_failure;
        let mut a = alerter(m, d.path());
        assert!(a.silenced().is_some());
        let ev = a.evaluate(&[failing()], at(0)).await;
        assert!(ev.deliveries.is_empty());
    }
    assert!(r.requests().is_empty());
    assert!(!d.path().join("daemon").join(ALERTS_FILE).exists());
}

#[tokio::test]
async fn healthchecks_are_pinged_on_success_and_fail_on_failure() {
    let (r, base) = receiver().await;
    let d = tempfile::tempdir().unwrap();
    let hc = |jobs: Vec<String>| {
        AlertChannel::Healthchecks(HealthchecksChannel {
            name: None,
            url: SecretUrl::new(format!("{base}/ping/0f0e-uuid")),
            jobs,
        })
    };
    let mut m = monitoring(vec![hc(vec![]), json_hook(&base)]);
    // alert_on_failure: false stops incident alerts, not the heartbeat.
    m.alert_on_failure = false;
    let a = alerter(m, d.path());
    let ok = a.job_finished("daily_incremental", true).await;
    assert!(ok.len() == 1 && ok[0].delivered, "{ok:?}");
    let failed = a.job_finished("daily_incremental", false).await;
    assert!(failed[0].delivered, "{failed:?}");
    let paths: Vec<String> = r.requests().into_iter().map(|(p, _)| p).collect();
    assert_eq!(paths, ["/ping/0f0e-uuid", "/ping/0f0e-uuid/fail"]);
    assert!(r.requests()[1].1.contains("daily_incremental failed on h1"));
    // A channel limited to some jobs; monitoring off pings nothing.
    let a = alerter(monitoring(vec![hc(vec!["drills".into()])]), d.path());
    assert!(a.job_finished("daily_incremental", true).await.is_empty());
    assert_eq!(a.job_finished("drills", true).await.len(), 1);
    let mut m = monitoring(vec![hc(vec![])]);
    m.enabled = false;
    assert!(
        alerter(m, d.path())
            .job_finished("drills", true)
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn slack_format_posts_text() {
    let (r, base) = receiver().await;
    let d = tempfile::tempdir().unwrap();
    let mut a = alerter(
        monitoring(vec![AlertChannel::Webhook(WebhookChannel {
            name: Some("ops-slack".into()),
            url: SecretUrl::new(format!("{base}/services/T/B/X")),
            format: WebhookFormat::Slack,
        })]),
        d.path(),
    );
    let ev = a.evaluate(&[failing()], at(0)).await;
    assert_eq!(ev.deliveries[0].channel, "ops-slack");
    let v: serde_json::Value = serde_json::from_str(&r.requests()[0].1).unwrap();
    let text = v["text"].as_str().unwrap();
    assert!(
        text.starts_with("[mahavishnu-dr] FIRING on h1: backup daily_incremental failed"),
        "{text}"
    );
    assert!(text.contains("disk full"), "{text}");
}
