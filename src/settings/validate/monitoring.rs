//! Checks of `backup.monitoring.alert_channels`: each typed channel's URL, addresses, port and
//! login. A message shows a URL only as `scheme://host`, never its path, query or credentials.

use std::str::FromStr;

use super::Problems;
use crate::settings::keys::{Seg, index_key};
use crate::settings::monitoring::{AlertChannel, EmailChannel, MonitoringSettings, SecretUrl};

fn field(i: usize, name: &str) -> Vec<Seg> {
    let mut key = index_key(&["backup", "monitoring", "alert_channels"], i);
    key.push(Seg::Key(name.to_string()));
    key
}

pub(super) fn check(m: &MonitoringSettings, p: &mut Problems<'_>) {
    for (i, channel) in m.alert_channels.iter().enumerate() {
        match channel {
            AlertChannel::Name(_) => {}
            AlertChannel::Webhook(w) => {
                check_name(w.name.as_deref(), i, p);
                check_url(&w.url, &field(i, "url"), "the webhook's URL", p);
            }
            AlertChannel::Healthchecks(h) => {
                check_name(h.name.as_deref(), i, p);
                check_url(&h.url, &field(i, "url"), "the check's ping URL", p);
            }
            AlertChannel::Email(e) => {
                check_name(e.name.as_deref(), i, p);
                check_email(e, i, p);
            }
        }
    }
}

fn check_name(name: Option<&str>, i: usize, p: &mut Problems<'_>) {
    if name.is_some_and(|n| n.trim().is_empty()) {
        p.add(&field(i, "name"), "an empty name; leave the key out", None);
    }
}

/// An http(s) URL with a host; no password over plain http.
fn check_url(url: &SecretUrl, key: &[Seg], what: &str, p: &mut Problems<'_>) {
    let parsed = match reqwest::Url::parse(url.expose()) {
        Ok(u) => u,
        Err(e) => {
            p.add(
                key,
                format!("{what} is not a URL ({e}); write https://HOST/PATH"),
                None,
            );
            return;
        }
    };
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        p.add(
            key,
            format!(
                "{what} ({}) must be an http:// or https:// URL with a host",
                url.origin()
            ),
            None,
        );
        return;
    }
    if parsed.scheme() == "http" && (!parsed.username().is_empty() || parsed.password().is_some()) {
        p.add(
            key,
            format!(
                "{what} ({}) carries credentials over plain http, where anyone on the path reads them",
                url.origin()
            ),
            Some("use an https:// URL for a webhook that needs credentials"),
        );
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

fn check_email(e: &EmailChannel, i: usize, p: &mut Problems<'_>) {
    let host = e.smtp_host.trim();
    if host.is_empty() || host.contains(char::is_whitespace) || host.contains("://") {
        p.add(
            &field(i, "smtp_host"),
            format!(
                "{:?} is not a host name; write the SMTP server's name, e.g. smtp.example.com",
                e.smtp_host
            ),
            None,
        );
    }
    if let Err(err) = lettre::message::Mailbox::from_str(&e.from) {
        p.add(
            &field(i, "from"),
            format!(
                "{:?} is not an e-mail address ({err}); write dr@example.com or \"DR <dr@example.com>\"",
                e.from
            ),
            None,
        );
    }
    if e.to.is_empty() {
        p.add(
            &field(i, "to"),
            "no recipient; write an address or a list of them",
            None,
        );
    }
    for (j, to) in e.to.iter().enumerate() {
        if let Err(err) = lettre::message::Mailbox::from_str(to) {
            let mut key = field(i, "to");
            if e.to.len() > 1 {
                key.push(Seg::Index(j));
            }
            p.add(
                &key,
                format!("{to:?} is not an e-mail address ({err})"),
                None,
            );
        }
    }
    match (&e.username, &e.password_file) {
        (Some(u), _) if u.trim().is_empty() => {
            p.add(&field(i, "username"), "an empty user name; leave the key out", None)
        }
        (Some(_), None) => p.add(
            &field(i, "password_file"),
            "`username` is set but not `password_file`, the file holding the SMTP password",
            Some("write the password into a file only this user can read (chmod 600) and name it in password_file"),
        ),
        (None, Some(_)) => p.add(
            &field(i, "username"),
            "`password_file` is set but not `username`, the user to log in as",
            None,
        ),
        _ => {}
    }
    if e.username.is_some() && !e.starttls && !is_loopback(host) {
        p.add(
            &field(i, "starttls"),
            format!(
                "starttls is off, so the SMTP password would cross the network to {host} in clear"
            ),
            Some("set starttls: true (the server must offer it), or relay through a server on this host"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::settings::AlertChannel;
    use crate::settings::test_support::{err_in, load_in, project};

    const HOOK: &str = "https://hooks.slack.com/services/T1/B2/sEcReTtOkEn";

    #[test]
    fn typed_channels_load_and_the_seed_words_are_kept() {
        let (_d, root) = project(&format!(
            "backup:\n  monitoring:\n    alert_channels:\n      - email\n      - {{type: webhook, url: \"{HOOK}\", format: slack}}\n      - {{type: email, smtp_host: smtp.example.com, from: dr@example.com, to: [a@example.com, b@example.com], username: dr, password_file: settings/smtp-password}}\n      - {{type: healthchecks, url: \"https://hc-ping.com/0f0e\"}}\n"
        ));
        let l = load_in(&root, &[]).expect("loads");
        let ch = &l.settings.backup.monitoring.alert_channels;
        assert_eq!(ch[0], AlertChannel::Name("email".into()));
        let AlertChannel::Email(e) = &ch[2] else {
            panic!("{:?}", ch[2])
        };
        // Resolved against the project root like every path.
        assert_eq!(
            e.password_file.as_deref(),
            Some(root.join("settings/smtp-password").as_path())
        );
        let AlertChannel::Webhook(w) = &ch[1] else {
            panic!("{:?}", ch[1])
        };
        assert_eq!(w.url.expose(), HOOK);
        // Never shown: not in the settings as shown, not in Debug.
        let shown = l.redacted_json().to_string();
        assert!(
            !shown.contains("sEcReT") && !shown.contains("0f0e"),
            "{shown}"
        );
        assert!(
            shown.contains("https://hooks.slack.com/<redacted>"),
            "{shown}"
        );
        assert!(!format!("{l:?}").contains("sEcReT"));
    }

    #[test]
    fn bad_channels_name_the_key_and_origin_without_the_secret() {
        for (entry, needles) in [
            (
                "{type: webhook, url: \"http://user:sEcReT@example.com/hook\"}".to_string(),
                vec![
                    "settings/mahavishnu.yaml: backup.monitoring.alert_channels[0].url",
                    "credentials over plain http",
                    "http://example.com",
                ],
            ),
            (
                "{type: webhook, url: \"ftp://example.com/sEcReT\"}".to_string(),
                vec!["alert_channels[0].url", "http:// or https://"],
            ),
            (
                "{type: healthchecks, url: \"sEcReT\"}".to_string(),
                vec!["alert_channels[0].url", "is not a URL"],
            ),
            (
                "{type: email, smtp_host: \"\", from: nobody, to: []}".to_string(),
                vec![
                    "3 problems",
                    "alert_channels[0].smtp_host",
                    "alert_channels[0].from",
                    "alert_channels[0].to: no recipient",
                ],
            ),
            (
                "{type: email, smtp_host: mail.example.com, from: a@example.com, to: b@example.com, username: u, password_file: p, starttls: false}".to_string(),
                vec!["alert_channels[0].starttls", "in clear"],
            ),
            (
                "{type: email, smtp_host: h, from: a@example.com, to: b@example.com, username: u}"
                    .to_string(),
                vec!["alert_channels[0].password_file"],
            ),
            (
                "{type: email, smtp_host: h, smtp_port: 99999, from: a@example.com, to: b@example.com}"
                    .to_string(),
                vec!["alert_channels[0]: `smtp_port` 99999 is not a port", "line 4"],
            ),
            (
                "{type: carrier_pigeon, url: x}".to_string(),
                vec!["alert_channels[0]", "unknown variant `carrier_pigeon`", "webhook"],
            ),
            (
                "{type: webhook}".to_string(),
                vec!["alert_channels[0]", "missing field `url`"],
            ),
        ] {
            let (_d, root) = project(&format!(
                "backup:\n  monitoring:\n    alert_channels:\n      - {entry}\n"
            ));
            let e = err_in(&root, &[]);
            for needle in needles {
                assert!(e.message.contains(needle), "{entry}: {needle}: {e}");
            }
            assert!(!e.message.contains("sEcReT"), "{entry}: {e}");
        }
        // From the environment (a YAML flow list), e.g. to keep the URL out of the files; a bad
        // one names the variable, not the secret.
        let (_d, root) = project("");
        let var = "MAHAVISHNU_BACKUP__MONITORING__ALERT_CHANNELS";
        let l = load_in(
            &root,
            &[(var, &format!("[{{type: webhook, url: \"{HOOK}\"}}]"))],
        )
        .expect("a channel from the environment");
        let AlertChannel::Webhook(w) = &l.settings.backup.monitoring.alert_channels[0] else {
            panic!("{l:?}")
        };
        assert_eq!(w.url.expose(), HOOK);
        for bad in [
            "[{type: webhook, url: \"http://u:sEcReT@example.com/x\"}]".to_string(),
            "[{type: webhok, url: \"https://example.com/sEcReT\"}]".to_string(),
        ] {
            let e = err_in(&root, &[(var, &bad)]);
            assert!(e.message.contains(var), "{bad}: {e}");
            assert!(!e.message.contains("sEcReT"), "{bad}: {e}");
        }
        // A loopback relay may take a login without STARTTLS.
        let (_d, root) = project(
            "backup:\n  monitoring:\n    alert_channels:\n      - {type: email, smtp_host: 127.0.0.1, smtp_port: 2525, from: a@example.com, to: b@example.com, username: u, password_file: p, starttls: false}\n",
        );
        load_in(&root, &[]).expect("a loopback relay");
    }
}
