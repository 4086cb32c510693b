//! The e-mail channel: one message per alert over SMTP (lettre, on rustls with ring): EHLO,
//! STARTTLS when `starttls` (required then: a server that does not offer it is an error, never
//! a silent fall back to clear text), AUTH PLAIN or LOGIN when `username` is set, with the
//! password read from `password_file` at send time; the message has From, To, Subject, Date
//! and a Message-ID, a plain-text UTF-8 body, dot-stuffed on the wire by the client.

use std::path::Path;

use lettre::message::header::ContentType;
use lettre::message::{Mailbox, Message};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::{AsyncTransport, Tokio1Executor};
use zeroize::Zeroizing;

use super::{AlertPayload, CALL_TIMEOUT};
use crate::settings::EmailChannel;

/// Password files larger than this are refused (a password is a line).
const MAX_PASSWORD_BYTES: u64 = 4096;

/// The password in `file` (one line; the trailing newline dropped).
fn read_password(file: &Path) -> Result<Zeroizing<String>, String> {
    use std::io::Read;
    let mut text = Zeroizing::new(String::new());
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_PASSWORD_BYTES + 1).read_to_string(&mut text))
        .map_err(|e| format!("cannot read the SMTP password file {}: {e}", file.display()))?;
    if text.len() as u64 > MAX_PASSWORD_BYTES {
        return Err(format!(
            "the SMTP password file {} is larger than {MAX_PASSWORD_BYTES} bytes",
            file.display()
        ));
    }
    let trimmed = Zeroizing::new(text.trim_end_matches(['\r', '\n']).to_string());
    if trimmed.is_empty() {
        return Err(format!(
            "the SMTP password file {} is empty",
            file.display()
        ));
    }
    Ok(trimmed)
}

/// The message for `payload`, from the channel's sender to its recipients.
pub(super) fn message(e: &EmailChannel, payload: &AlertPayload) -> Result<Message, String> {
    let from: Mailbox = e
        .from
        .parse()
        .map_err(|err| format!("the sender {:?} is not an address: {err}", e.from))?;
    let domain = from.email.domain().to_string();
    let mut b = Message::builder()
        .from(from)
        .subject(payload.title())
        .date(payload.at.into())
        .message_id(Some(format!(
            "<{}.{:016x}@{domain}>",
            payload.at.timestamp_millis(),
            rand::random::<u64>()
        )))
        .header(ContentType::TEXT_PLAIN);
    for to in &e.to {
        let mb: Mailbox = to
            .parse()
            .map_err(|err| format!("the recipient {to:?} is not an address: {err}"))?;
        b = b.to(mb);
    }
    b.body(payload.text())
        .map_err(|err| format!("cannot build the message: {err}"))
}

pub(super) async fn send(
    e: &EmailChannel,
    payload: &AlertPayload,
    project_root: &Path,
) -> Result<(), String> {
    let msg = message(e, payload)?;
    let host = e.smtp_host.trim();
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(e.smtp_port)
        .timeout(Some(CALL_TIMEOUT))
        .hello_name(hello_name());
    if e.starttls {
        super::webhook::client()?; // installs the ring provider rustls needs
        let mut params = TlsParameters::builder(host.to_string());
        if let Some(ca) = &e.ca_file {
            let ca = if ca.is_absolute() {
                ca.clone()
            } else {
                project_root.join(ca)
            };
            let pem = std::fs::read(&ca)
                .map_err(|err| format!("cannot read the CA file {}: {err}", ca.display()))?;
            let cert = Certificate::from_pem(&pem).map_err(|err| {
                format!(
                    "the CA file {} is not a PEM certificate: {err}",
                    ca.display()
                )
            })?;
            params = params.add_root_certificate(cert);
        }
        let tls = params
            .build_rustls()
            .map_err(|err| format!("cannot set up TLS for {host}: {err}"))?;
        builder = builder.tls(Tls::Required(tls));
    } else {
        builder = builder.tls(Tls::None);
    }
    let mut secret = None;
    if let (Some(user), Some(file)) = (&e.username, &e.password_file) {
        let file = if file.is_absolute() {
            file.clone()
        } else {
            project_root.join(file)
        };
        let password = read_password(&file)?;
        builder = builder
            .credentials(Credentials::new(user.clone(), password.to_string()))
            .authentication(vec![Mechanism::Plain, Mechanism::Login]);
        secret = Some(password);
    }
    let transport = builder.build();
    let where_ = format!("{host}:{}", e.smtp_port);
    match transport.send(msg).await {
        Ok(_) => Ok(()),
        Err(err) => {
            let mut text = format!("SMTP to {where_}: {err}");
            if let Some(p) = &secret {
                text = text.replace(p.as_str(), crate::settings::REDACTED);
            }
            Err(text)
        }
    }
}

/// The name given in EHLO: this host's name when it is a plain DNS name, else `localhost`.
fn hello_name() -> ClientId {
    let name = gethostname::gethostname().to_string_lossy().into_owned();
    if !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
    {
        ClientId::Domain(name)
    } else {
        ClientId::Domain("localhost".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::alerts::{AlertStatus, PAYLOAD_VERSION};

    #[test]
    fn a_message_has_the_headers_and_the_body() {
        let e = EmailChannel {
            name: None,
            smtp_host: "smtp.example.com".into(),
            smtp_port: 587,
            from: "DR <dr@example.com>".into(),
            to: vec!["ops@example.com".into(), "oncall@example.com".into()],
            starttls: true,
            ca_file: None,
            username: None,
            password_file: None,
        };
        let at = chrono::DateTime::parse_from_rfc3339("2026-03-01T02:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc);
        let payload = AlertPayload {
            version: PAYLOAD_VERSION,
            status: AlertStatus::Firing,
            key: "backup_failed:daily".into(),
            summary: "backup daily failed".into(),
            detail: "disk full\n.\na line that is a dot".into(),
            host: "h1".into(),
            repository: "local:/srv/backups".into(),
            at,
            opened_at: Some(at),
        };
        let text = String::from_utf8(message(&e, &payload).unwrap().formatted()).unwrap();
        for needle in [
            "From: DR <dr@example.com>",
            "To: ops@example.com, oncall@example.com",
            "Subject: [mahavishnu-dr] FIRING on h1: backup daily failed",
            "Date: Sun, 01 Mar 2026 02:00:00 +0000",
            "Message-ID: <",
            "@example.com>",
            "Content-Type: text/plain; charset=utf-8",
        ] {
            assert!(text.contains(needle), "{needle}:\n{text}");
        }
        assert!(text.contains("disk full"), "{text}");
    }

    #[test]
    fn the_password_file_is_one_line() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("pw");
        std::fs::write(&f, "s3cret\n").unwrap();
        assert_eq!(read_password(&f).unwrap().as_str(), "s3cret");
        std::fs::write(&f, "\n").unwrap();
        assert!(read_password(&f).unwrap_err().contains("empty"));
        let e = read_password(&d.path().join("missing")).unwrap_err();
        assert!(e.contains("cannot read the SMTP password file"), "{e}");
    }
}
