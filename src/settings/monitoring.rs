//! `backup.monitoring`: whether alerts are sent, and where (`alert_channels`): webhooks (Slack
//! or a typed JSON payload), e-mail over SMTP, and healthchecks.io-style pings; the seed's bare
//! words (`"email"`, `"slack"`) are kept as names that say what to write instead.
//!
//! A webhook or ping URL is a secret (a Slack webhook carries its token in the path): it is a
//! [`SecretUrl`], shown everywhere as `scheme://host/<redacted>`. The SMTP password is never in
//! the settings: `password_file` names the file it is read from when a message is sent.

use std::fmt;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::secret::{REDACTED, Secret};

/// `backup.monitoring`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct MonitoringSettings {
    /// false: no alert and no ping is sent (`alerts test` still sends when asked).
    pub enabled: bool,
    /// false: no alert for an incident (webhooks, e-mail); healthchecks pings still go.
    pub alert_on_failure: bool,
    /// Where alerts go: typed channels, or the seed's bare words (reported as not configured).
    pub alert_channels: Vec<AlertChannel>,
}

impl Default for MonitoringSettings {
    fn default() -> Self {
        MonitoringSettings {
            enabled: true,
            alert_on_failure: true,
            alert_channels: Vec::new(),
        }
    }
}

impl MonitoringSettings {
    /// One sentence per bare-word channel, saying what to write instead.
    pub fn not_configured(&self) -> Vec<NotConfigured> {
        self.alert_channels
            .iter()
            .filter_map(|c| match c {
                AlertChannel::Name(name) => Some(NotConfigured::of(name)),
                _ => None,
            })
            .collect()
    }
}

/// A bare-word channel of the seed and the entry that would configure it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct NotConfigured {
    pub name: String,
    /// `alert channel "slack" is only a name: write {type: webhook, ...}`.
    pub message: String,
}

impl NotConfigured {
    pub fn of(name: &str) -> NotConfigured {
        let write = match name.trim().to_ascii_lowercase().as_str() {
            "slack" => "{type: webhook, url: https://hooks.slack.com/services/..., format: slack}"
                .to_string(),
            "email" | "e-mail" | "mail" | "smtp" => "{type: email, smtp_host: smtp.example.com, \
                 smtp_port: 587, from: dr@example.com, to: ops@example.com, username: dr, \
                 password_file: /etc/mahavishnu/smtp-password}"
                .to_string(),
            "webhook" | "json" => "{type: webhook, url: https://..., format: json}".to_string(),
            "healthchecks" | "healthchecks.io" => {
                "{type: healthchecks, url: https://hc-ping.com/<uuid>}".to_string()
            }
            _ => "a typed channel: {type: webhook, url, format: slack|json}, {type: email, \
                  smtp_host, smtp_port, from, to, starttls, username, password_file} or {type: \
                  healthchecks, url}"
                .to_string(),
        };
        NotConfigured {
            name: name.to_string(),
            message: format!("alert channel {name:?} is only a name: write {write}"),
        }
    }
}

/// One entry of `alert_channels`.
#[derive(Debug, Clone, PartialEq, JsonSchema)]
pub enum AlertChannel {
    /// A bare word (`"slack"`): accepted, sends nothing, reported as not configured.
    Name(String),
    Webhook(WebhookChannel),
    Email(EmailChannel),
    Healthchecks(HealthchecksChannel),
}

/// `{type: webhook, url, format}`: a JSON POST per alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookChannel {
    /// A name for messages (default: `webhook scheme://host`).
    #[serde(default)]
    pub name: Option<String>,
    /// Where to POST (secret: a Slack URL carries its token in the path).
    pub url: SecretUrl,
    /// `slack`: `{"text": ...}`; `json`: the typed payload of docs/ALERTS.md.
    #[serde(default)]
    pub format: WebhookFormat,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    Slack,
    #[default]
    Json,
}

/// `{type: email, smtp_host, smtp_port, from, to, starttls, ca_file, username, password_file}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailChannel {
    /// A name for messages (default: `email smtp_host:smtp_port`).
    #[serde(default)]
    pub name: Option<String>,
    pub smtp_host: String,
    /// Default 587 (submission).
    #[serde(default = "default_smtp_port", deserialize_with = "port")]
    pub smtp_port: u16,
    /// The sender: `dr@example.com` or `DR <dr@example.com>`.
    pub from: String,
    /// One address or a list.
    #[serde(deserialize_with = "one_or_many")]
    #[schemars(with = "Vec<String>")]
    pub to: Vec<String>,
    /// Upgrade the connection with STARTTLS before anything else is sent (default true; the
    /// server's certificate is checked). false only for a relay on this host.
    #[serde(default = "yes")]
    pub starttls: bool,
    /// A PEM file of the certificate authority that signed the server's certificate (a private
    /// CA), trusted besides the system's roots. Relative to the project root.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Log in (AUTH PLAIN or LOGIN) as this user, with the password in `password_file`.
    #[serde(default)]
    pub username: Option<String>,
    /// The file holding the SMTP password (relative to the project root), read at send time.
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

fn default_smtp_port() -> u16 {
    587
}

fn yes() -> bool {
    true
}

/// `{type: healthchecks, url}`: `url` on a job's success, `url/fail` on its failure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HealthchecksChannel {
    #[serde(default)]
    pub name: Option<String>,
    /// The check's ping URL (secret: its UUID is the credential).
    pub url: SecretUrl,
    /// The jobs whose end pings it (a backup schedule's name, `validation`,
    /// `automated_tests`, `drills`); empty: every job.
    #[serde(default)]
    pub jobs: Vec<String>,
}

/// The typed entries, by `type`.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
enum TypedChannel {
    Webhook(WebhookChannel),
    Email(EmailChannel),
    Healthchecks(HealthchecksChannel),
}

const CHANNEL_FORMS: &str = "a typed channel {type: webhook|email|healthchecks, ...}, or a bare \
                             name (\"slack\", \"email\": reported as not configured)";

impl<'de> Deserialize<'de> for AlertChannel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = AlertChannel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(CHANNEL_FORMS)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AlertChannel, E> {
                if v.trim().is_empty() {
                    return Err(E::custom(format!(
                        "an empty channel name: expected {CHANNEL_FORMS}"
                    )));
                }
                Ok(AlertChannel::Name(v.to_string()))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AlertChannel, A::Error> {
                let typed = TypedChannel::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map_err(|e| {
                        let msg = e.to_string();
                        if msg.starts_with("missing field `type`") {
                            de::Error::custom(format!(
                                "a channel needs `type`: webhook, email or healthchecks ({CHANNEL_FORMS})"
                            ))
                        } else {
                            e
                        }
                    })?;
                Ok(match typed {
                    TypedChannel::Webhook(w) => AlertChannel::Webhook(w),
                    TypedChannel::Email(e) => AlertChannel::Email(e),
                    TypedChannel::Healthchecks(h) => AlertChannel::Healthchecks(h),
                })
            }
        }
        d.deserialize_any(V)
    }
}

/// As the file writes it (a bare word, or the entry with `type`), secrets redacted.
impl Serialize for AlertChannel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(tag = "type", rename_all = "lowercase")]
        enum Typed<'a> {
            Webhook(&'a WebhookChannel),
            Email(&'a EmailChannel),
            Healthchecks(&'a HealthchecksChannel),
        }
        match self {
            AlertChannel::Name(n) => s.serialize_str(n),
            AlertChannel::Webhook(w) => Typed::Webhook(w).serialize(s),
            AlertChannel::Email(e) => Typed::Email(e).serialize(s),
            AlertChannel::Healthchecks(h) => Typed::Healthchecks(h).serialize(s),
        }
    }
}

impl AlertChannel {
    /// `webhook`, `email`, `healthchecks`, or `name` for a bare word.
    pub fn type_name(&self) -> &'static str {
        match self {
            AlertChannel::Name(_) => "name",
            AlertChannel::Webhook(_) => "webhook",
            AlertChannel::Email(_) => "email",
            AlertChannel::Healthchecks(_) => "healthchecks",
        }
    }

    /// What messages call the channel: its `name`, else its type and where it goes
    /// (`webhook https://hooks.slack.com`, `email smtp.example.com:587`); never a secret.
    pub fn label(&self) -> String {
        match self {
            AlertChannel::Name(n) => n.clone(),
            AlertChannel::Webhook(w) => w
                .name
                .clone()
                .unwrap_or_else(|| format!("webhook {}", w.url.origin())),
            AlertChannel::Email(e) => e
                .name
                .clone()
                .unwrap_or_else(|| format!("email {}:{}", e.smtp_host, e.smtp_port)),
            AlertChannel::Healthchecks(h) => h
                .name
                .clone()
                .unwrap_or_else(|| format!("healthchecks {}", h.url.origin())),
        }
    }
}

/// `smtp_port`: a whole number from 1 to 65535.
fn port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let n = u64::deserialize(d)?;
    match u16::try_from(n) {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(de::Error::custom(format!(
            "`smtp_port` {n} is not a port: write a number from 1 to 65535 (587 for submission with STARTTLS, 25 for a relay)"
        ))),
    }
}

/// `to`: one address or a list of them.
fn one_or_many<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an address or a list of addresses")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<String>, E> {
            Ok(vec![v.to_string()])
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<String>, A::Error> {
            let mut out = Vec::new();
            while let Some(s) = seq.next_element::<String>()? {
                out.push(s);
            }
            Ok(out)
        }
    }
    d.deserialize_any(V)
}

/// A URL that is a credential (a Slack webhook, a healthchecks ping URL). Only [`expose`]
/// gives it, for the request; `Debug`, `Display` and `Serialize` give `scheme://host/<redacted>`.
///
/// [`expose`]: SecretUrl::expose
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(Secret);

impl SecretUrl {
    pub fn new(url: impl Into<String>) -> SecretUrl {
        SecretUrl(Secret::new(url))
    }

    /// The URL itself: only for sending the request.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// `scheme://host[:port]` (no credentials, path or query), or `<redacted>` when it does
    /// not parse.
    pub fn origin(&self) -> String {
        match reqwest::Url::parse(self.expose()) {
            Ok(u) => match u.host_str() {
                Some(host) => match u.port() {
                    Some(p) => format!("{}://{host}:{p}", u.scheme()),
                    None => format!("{}://{host}", u.scheme()),
                },
                None => format!("{}:", u.scheme()),
            },
            Err(_) => REDACTED.to_string(),
        }
    }

    /// Replace the URL, and its path and credentials, in `text` (an error from a client).
    pub fn scrub(&self, text: &str) -> String {
        let mut out = text.replace(self.expose(), &self.to_string());
        if let Ok(u) = reqwest::Url::parse(self.expose()) {
            let path = u.path();
            if path.len() > 1 {
                out = out.replace(path, "/<redacted>");
            }
            if let Some(p) = u.password() {
                out = out.replace(p, REDACTED);
            }
        }
        out
    }
}

impl fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let origin = self.origin();
        if origin == REDACTED {
            f.write_str(REDACTED)
        } else {
            write!(f, "{origin}/{REDACTED}")
        }
    }
}

impl fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretUrl({self})")
    }
}

impl Serialize for SecretUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SecretUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Secret::deserialize(d).map(SecretUrl)
    }
}

impl JsonSchema for SecretUrl {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "SecretUrl".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "a URL that is a secret: shown only as scheme://host/<redacted>"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOOK: &str = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX";

    #[test]
    fn a_secret_url_shows_only_its_origin() {
        let u = SecretUrl::new(HOOK);
        for shown in [
            format!("{u}"),
            format!("{u:?}"),
            serde_json::to_string(&u).unwrap(),
        ] {
            assert!(!shown.contains("secret"), "{shown}");
            assert!(!shown.contains("T000"), "{shown}");
            assert!(
                shown.contains("https://hooks.slack.com/<redacted>"),
                "{shown}"
            );
        }
        assert_eq!(u.origin(), "https://hooks.slack.com");
        let err = format!(
            "error sending request for url ({HOOK}): refused; path /services/T000/B000/XXXXsecretXXXX"
        );
        let scrubbed = u.scrub(&err);
        assert!(!scrubbed.contains("secret"), "{scrubbed}");
        assert_eq!(SecretUrl::new("not a url").to_string(), REDACTED);
        let with_port = SecretUrl::new("http://user:pw@127.0.0.1:8080/hook");
        assert_eq!(with_port.origin(), "http://127.0.0.1:8080");
        assert!(
            !with_port
                .scrub("login user:pw failed")
                .contains("pw failed")
        );
    }

    #[test]
    fn channels_read_as_words_or_typed_entries() {
        let v: Vec<AlertChannel> = serde_json::from_value(serde_json::json!([
            "slack",
            {"type": "webhook", "url": HOOK, "format": "slack"},
            {"type": "email", "smtp_host": "smtp.example.com", "from": "dr@example.com", "to": "ops@example.com"},
            {"type": "email", "smtp_host": "h", "smtp_port": 25, "from": "a@b", "to": ["x@y", "z@w"], "starttls": false},
            {"type": "healthchecks", "url": "https://hc-ping.com/abc"},
        ]))
        .unwrap();
        assert_eq!(v[0], AlertChannel::Name("slack".into()));
        let AlertChannel::Email(e) = &v[2] else {
            panic!("{:?}", v[2])
        };
        assert_eq!((e.smtp_port, e.starttls), (587, true));
        assert_eq!(e.to, vec!["ops@example.com"]);
        let AlertChannel::Email(e) = &v[3] else {
            panic!("{:?}", v[3])
        };
        assert_eq!(e.to.len(), 2);
        assert_eq!(v[1].label(), "webhook https://hooks.slack.com");
        assert_eq!(v[2].label(), "email smtp.example.com:587");
        let shown = serde_json::to_string(&v).unwrap();
        assert!(!shown.contains("XXXX") && !shown.contains("abc"), "{shown}");
        assert!(shown.contains("\"type\":\"webhook\""), "{shown}");
        for (bad, needle) in [
            (
                serde_json::json!({"type": "pager", "url": "x"}),
                "unknown variant `pager`",
            ),
            (
                serde_json::json!({"type": "webhook"}),
                "missing field `url`",
            ),
            (serde_json::json!({"url": HOOK}), "needs `type`"),
            (
                serde_json::json!({"type": "webhook", "url": HOOK, "colour": 1}),
                "unknown field `colour`",
            ),
            (
                serde_json::json!({"type": "email", "smtp_host": "h", "smtp_port": 70000, "from": "a@b", "to": "c@d"}),
                "70000 is not a port",
            ),
            (
                serde_json::json!({"type": "email", "smtp_host": "h", "smtp_port": 0, "from": "a@b", "to": "c@d"}),
                "0 is not a port",
            ),
            (serde_json::json!(""), "an empty channel name"),
        ] {
            let e = serde_json::from_value::<AlertChannel>(bad.clone()).unwrap_err();
            assert!(e.to_string().contains(needle), "{bad}: {e}");
            assert!(!e.to_string().contains("XXXX"), "{e}");
        }
    }

    #[test]
    fn bare_words_say_what_to_write() {
        let m = MonitoringSettings {
            alert_channels: vec![
                AlertChannel::Name("email".into()),
                AlertChannel::Name("slack".into()),
                AlertChannel::Name("pagerduty".into()),
            ],
            ..Default::default()
        };
        let n = m.not_configured();
        assert_eq!(n.len(), 3);
        assert!(
            n[0].message.contains("{type: email, smtp_host:"),
            "{}",
            n[0].message
        );
        assert_eq!(
            n[1].message,
            "alert channel \"slack\" is only a name: write {type: webhook, url: https://hooks.slack.com/services/..., format: slack}"
        );
        assert!(n[2].message.contains("a typed channel"), "{}", n[2].message);
    }
}
