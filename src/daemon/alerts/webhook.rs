//! The webhook channel: one JSON POST per alert. `format: slack` posts `{"text": ...}` (a Slack
//! incoming webhook, or anything that takes Slack's shape: Mattermost, Rocket.Chat);
//! `format: json` posts the typed [`AlertPayload`] as it is (docs/ALERTS.md). Also the HTTP
//! client the healthchecks pings share, and how its errors are worded without the URL.

use super::{AlertPayload, CALL_TIMEOUT};
use crate::settings::{SecretUrl, WebhookChannel, WebhookFormat};

/// The HTTP client of every channel call: rustls on ring (as the storage clients), a timeout of
/// [`CALL_TIMEOUT`] per call, no redirects (a redirect would carry the secret URL's request
/// elsewhere).
pub(super) fn client() -> Result<reqwest::Client, String> {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        // Fails only when a provider is installed already, which is as good.
        #[allow(deprecated)]
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
        .timeout(CALL_TIMEOUT)
        .connect_timeout(CALL_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("mahavishnu-dr/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the HTTP client: {e}"))
}

/// What went wrong with a request, named by the URL's origin only.
pub(super) fn request_error(e: &reqwest::Error, url: &SecretUrl) -> String {
    let what = if e.is_timeout() {
        format!("no answer within {} s", CALL_TIMEOUT.as_secs())
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "the request failed".to_string()
    };
    let mut msg = format!("{what} to {}", url.origin());
    // The causes (the OS's "connection refused", a TLS error), not reqwest's own text, which
    // holds the whole URL.
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    url.scrub(&msg)
}

/// A non-2xx answer: its status and the start of its body (Slack says `invalid_token`).
pub(super) async fn check_status(resp: reqwest::Response, url: &SecretUrl) -> Result<(), String> {
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let body = resp.text().await.unwrap_or_default();
    let body: String = body.trim().chars().take(200).collect();
    let msg = if body.is_empty() {
        format!("{} answered HTTP {status}", url.origin())
    } else {
        format!("{} answered HTTP {status}: {body}", url.origin())
    };
    Err(url.scrub(&msg))
}

/// The body posted for `payload` in `format`.
pub(super) fn body(format: WebhookFormat, payload: &AlertPayload) -> serde_json::Value {
    match format {
        WebhookFormat::Slack => serde_json::json!({ "text": payload.text() }),
        WebhookFormat::Json => serde_json::to_value(payload).unwrap_or_default(),
    }
}

pub(super) async fn send(w: &WebhookChannel, payload: &AlertPayload) -> Result<(), String> {
    let client = client()?;
    let bytes = serde_json::to_vec(&body(w.format, payload))
        .map_err(|e| format!("cannot encode the alert: {e}"))?;
    let resp = client
        .post(w.url.expose())
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(bytes)
        .send()
        .await
        .map_err(|e| request_error(&e, &w.url))?;
    check_status(resp, &w.url).await
}
