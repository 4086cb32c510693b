//! The healthchecks channel, as healthchecks.io (and borgmatic's hook) define it: `URL/start`
//! when a job starts (so the service measures its duration and notices one that never ends),
//! and after it a POST to the check's URL when it succeeded, to `URL/fail` when it failed, the body a line of
//! what ran (kept in the check's log). `alerts test` posts to `URL/log`, which records the
//! message without changing the check's state.

use super::webhook::{check_status, client, request_error};
use crate::settings::HealthchecksChannel;

/// Which endpoint of the check a ping goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ping {
    /// `URL/start`: the job started.
    Start,
    /// `URL`: the job succeeded.
    Success,
    /// `URL/fail`: the job failed.
    Fail,
    /// `URL/log`: a message only.
    Log,
}

/// The URL a ping goes to (secret, like the check's URL).
pub(super) fn ping_url(base: &str, ping: Ping) -> String {
    let base = base.trim_end_matches('/');
    match ping {
        Ping::Start => format!("{base}/start"),
        Ping::Success => base.to_string(),
        Ping::Fail => format!("{base}/fail"),
        Ping::Log => format!("{base}/log"),
    }
}

pub(super) async fn ping(h: &HealthchecksChannel, ping: Ping, body: &str) -> Result<(), String> {
    let client = client()?;
    let body: String = body.chars().take(10_000).collect();
    let resp = client
        .post(ping_url(h.url.expose(), ping))
        .header(reqwest::header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(body)
        .send()
        .await
        .map_err(|e| request_error(&e, &h.url))?;
    check_status(resp, &h.url).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_go_to_the_check_url_and_its_fail_and_log_endpoints() {
        let base = "https://hc-ping.com/5bf0-uuid";
        assert_eq!(ping_url(base, Ping::Success), base);
        assert_eq!(
            ping_url(base, Ping::Start),
            "https://hc-ping.com/5bf0-uuid/start"
        );
        assert_eq!(
            ping_url(base, Ping::Fail),
            "https://hc-ping.com/5bf0-uuid/fail"
        );
        assert_eq!(
            ping_url(&format!("{base}/"), Ping::Log),
            "https://hc-ping.com/5bf0-uuid/log"
        );
    }
}
