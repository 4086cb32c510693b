//! `alerts test` against real receivers on loopback: an SMTP server (aiosmtpd from PyPI, in a
//! venv that tests/alerts/setup.sh makes) and an HTTP receiver (axum, in this process) that
//! records every request. The secrets (webhook paths, the SMTP password) never appear in any
//! output, nor in the settings as the MCP `dr://settings` resource shows them.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Project, free_port};

const SMTP_USER: &str = "alertuser";
const SMTP_PASSWORD: &str = "PW-s3cr3t-Value-91";
const SLACK_PATH: &str = "/services/T01/B02/SLACKSECRET77";
const JSON_PATH: &str = "/json-hook/JSONSECRET55";
const HC_PATH: &str = "/ping/HCSECRET-3f2a";

/// The venv python that imports aiosmtpd; the test fails, saying why, when it cannot be had.
fn aiosmtpd_python() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alerts/setup.sh");
    let out = Command::new("bash")
        .arg(&script)
        .stderr(Stdio::inherit())
        .output()
        .expect("run tests/alerts/setup.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let python = stdout
        .lines()
        .find_map(|l| l.strip_prefix("PYTHON="))
        .map(PathBuf::from);
    match python {
        Some(p) if out.status.success() => p,
        _ => panic!(
            "aiosmtpd is needed for the alert tests and could not be installed: \
             tests/alerts/setup.sh exited {} (it needs python3 with venv, and PyPI); \
             run `bash tests/alerts/setup.sh` to see why",
            out.status
        ),
    }
}

/// A local SMTP server writing each message it gets to a folder; stopped when dropped.
struct Smtp {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Smtp {
    fn start(dir: &Path) -> Smtp {
        Smtp::start_with(dir, None)
    }

    /// With `tls` (certificate and key PEM files): STARTTLS offered and required.
    fn start_with(dir: &Path, tls: Option<(&Path, &Path)>) -> Smtp {
        let python = aiosmtpd_python();
        let port = free_port();
        let server = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/alerts/smtp_server.py");
        let mut child = Command::new(python)
            .arg(server)
            .arg(port.to_string())
            .arg(dir)
            .args([SMTP_USER, SMTP_PASSWORD])
            .args(tls.iter().flat_map(|(c, k)| [c.as_os_str(), k.as_os_str()]))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the SMTP server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "READY", "the SMTP server did not start");
        Smtp {
            child,
            port,
            dir: dir.to_path_buf(),
        }
    }

    /// The messages received, waiting up to 10 s for `n` of them.
    fn messages(&self, n: usize) -> Vec<Value> {
        let t = Instant::now();
        loop {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&self.dir)
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            files.sort();
            if files.len() >= n || t.elapsed() > Duration::from_secs(10) {
                return files
                    .iter()
                    .map(|f| serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap())
                    .collect();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP receiver on a loopback port recording (method, path, body) of every request.
struct Http {
    port: u16,
    got: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Http {
    fn start() -> Http {
        let got: Arc<Mutex<Vec<(String, String, String)>>> = Arc::default();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let record = got.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let app = axum::Router::new().fallback(axum::routing::any(
                    move |method: axum::http::Method, uri: axum::http::Uri, body: String| {
                        let record = record.clone();
                        async move {
                            record.lock().unwrap().push((
                                method.to_string(),
                                uri.path().to_string(),
                                body,
                            ));
                            "ok"
                        }
                    },
                ));
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let _ = axum::serve(listener, app).await;
            });
        });
        Http { port, got }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> Vec<(String, String, String)> {
        self.got.lock().unwrap().clone()
    }

    fn body_at(&self, path: &str) -> String {
        let r = self.requests();
        let found = r.iter().find(|(_, p, _)| p == path);
        found
            .unwrap_or_else(|| panic!("no request to {path}: {r:?}"))
            .2
            .clone()
    }
}

fn assert_no_secret(what: &str, text: &str) {
    for secret in [
        "SLACKSECRET77",
        "JSONSECRET55",
        "HCSECRET",
        SMTP_PASSWORD,
        "/services/T01",
    ] {
        assert!(!text.contains(secret), "{what} shows {secret}:\n{text}");
    }
}

fn channels_yaml(http: &Http, smtp_port: u16) -> String {
    format!(
        "  monitoring:\n    enabled: true\n    alert_on_failure: true\n    alert_channels:\n      - email\n      - slack\n      - {{type: email, smtp_host: 127.0.0.1, smtp_port: {smtp_port}, starttls: false, from: \"DR Alerts <dr@example.com>\", to: [ops@example.com, oncall@example.com], username: {SMTP_USER}, password_file: ./settings/smtp-password}}\n      - {{type: webhook, url: \"{}\", format: slack}}\n      - {{type: webhook, name: ops-json, url: \"{}\", format: json}}\n      - {{type: healthchecks, url: \"{}\"}}\n",
        http.url(SLACK_PATH),
        http.url(JSON_PATH),
        http.url(HC_PATH)
    )
}

#[test]
fn alerts_test_reaches_email_webhooks_and_healthchecks() {
    let mail = tempfile::tempdir().unwrap();
    let smtp = Smtp::start(mail.path());
    let http = Http::start();
    let p = Project::new(&channels_yaml(&http, smtp.port));
    std::fs::write(
        p.root().join("settings/smtp-password"),
        format!("{SMTP_PASSWORD}\n"),
    )
    .unwrap();

    let out = p.run(&["alerts", "test", "--json"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    assert_no_secret("alerts test --json", &format!("{stdout}{stderr}"));
    let r: Value = serde_json::from_str(&stdout).unwrap();
    let channels = r["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 4, "{r}");
    for c in channels {
        assert_eq!(c["delivered"], true, "{c}");
    }
    assert_eq!(
        channels[0]["channel"],
        format!("email 127.0.0.1:{}", smtp.port)
    );
    assert_eq!(
        channels[1]["channel"],
        format!("webhook http://127.0.0.1:{}", http.port)
    );
    assert_eq!(channels[2]["channel"], "ops-json");
    assert_eq!(channels[3]["channel_type"], "healthchecks");
    let nc = r["not_configured"].as_array().unwrap();
    assert_eq!(nc.len(), 2, "{r}");
    assert_eq!(nc[0]["name"], "email");
    assert_eq!(
        nc[1]["message"],
        "alert channel \"slack\" is only a name: write {type: webhook, url: https://hooks.slack.com/services/..., format: slack}"
    );
    assert!(r["silenced"].is_null());
    // The output matches what `schema alerts-test` says.
    let schema: Value = serde_json::from_slice(&p.run(&["schema", "alerts-test"]).stdout).unwrap();
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    let errors: Vec<String> = validator.iter_errors(&r).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "{errors:?}\n{r:#}");

    // The e-mail arrived: envelope, login, headers and body.
    let msgs = smtp.messages(1);
    assert_eq!(msgs.len(), 1, "{msgs:?}");
    let m = &msgs[0];
    assert_eq!(m["mail_from"], "dr@example.com");
    assert_eq!(
        m["rcpt_tos"],
        json!(["ops@example.com", "oncall@example.com"])
    );
    assert_eq!(
        m["auth_login"], SMTP_USER,
        "logged in with the password file"
    );
    let data = m["data"].as_str().unwrap();
    for needle in [
        "From: \"DR Alerts\" <dr@example.com>",
        "To: ops@example.com, oncall@example.com",
        "Subject: [mahavishnu-dr] TEST on ",
        "Date: ",
        "Message-ID: <",
        "This channel receives the DR alerts of this host.",
    ] {
        assert!(data.contains(needle), "{needle} not in:\n{data}");
    }

    // The Slack-format webhook: {"text": ...}.
    let slack: Value = serde_json::from_str(&http.body_at(SLACK_PATH)).unwrap();
    let text = slack["text"].as_str().unwrap();
    assert!(text.starts_with("[mahavishnu-dr] TEST on "), "{text}");
    // The JSON webhook: the typed, versioned payload.
    let j: Value = serde_json::from_str(&http.body_at(JSON_PATH)).unwrap();
    assert_eq!(j["version"], 1);
    assert_eq!(j["status"], "test");
    assert_eq!(j["key"], "test");
    assert!(j["summary"].as_str().unwrap().contains("alerts test"));
    assert!(!j["host"].as_str().unwrap().is_empty());
    assert!(j["repository"].as_str().unwrap().ends_with("repo"), "{j}");
    chrono::DateTime::parse_from_rfc3339(j["at"].as_str().unwrap()).expect("`at` is RFC 3339");
    // The healthchecks channel: a POST to its /log endpoint (a test leaves the check's state).
    let hc: Vec<_> = http
        .requests()
        .into_iter()
        .filter(|(_, p, _)| p.starts_with("/ping/"))
        .collect();
    assert_eq!(hc.len(), 1, "{hc:?}");
    assert_eq!(
        (hc[0].0.as_str(), hc[0].1.as_str()),
        ("POST", "/ping/HCSECRET-3f2a/log")
    );

    // As text: one line per channel, the bare words as not configured.
    let out = p.run(&["alerts", "test"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert_no_secret("alerts test", &text);
    assert_eq!(text.matches("delivered ").count(), 4, "{text}");
    assert!(
        text.contains("not configured alert channel \"email\" is only a name: write {type: email"),
        "{text}"
    );

    // A wrong password: the server's refusal, per channel, without the password.
    std::fs::write(p.root().join("settings/smtp-password"), "WRONG-pw-xyz\n").unwrap();
    let r = p.json(&["alerts", "test"], 1);
    let why = r["channels"][0]["error"].as_str().unwrap();
    assert!(why.contains("535"), "{why}");
    assert!(!r.to_string().contains("WRONG-pw"), "{r}");
    assert_eq!(
        r["channels"][1]["delivered"], true,
        "the others still deliver: {r}"
    );
    assert_eq!(
        smtp.messages(2).len(),
        2,
        "one message per delivered test: {:?}",
        smtp.messages(2)
    );

    // starttls (the default) against a server that does not offer it: refused, no mail in clear.
    let tls = Project::new(&format!(
        "  monitoring:\n    alert_channels:\n      - {{type: email, smtp_host: 127.0.0.1, smtp_port: {}, from: dr@example.com, to: ops@example.com}}\n",
        smtp.port
    ));
    let r = tls.json(&["alerts", "test"], 1);
    let why = r["channels"][0]["error"].as_str().unwrap();
    assert!(why.to_lowercase().contains("starttls"), "{why}");
    assert_eq!(smtp.messages(0).len(), 2, "nothing sent without TLS");

    // The settings as shown (the MCP dr://settings resource) keep the secrets out.
    let shown = settings_resource(&p);
    assert!(
        shown.contains(&format!("http://127.0.0.1:{}/<redacted>", http.port)),
        "{shown}"
    );
    assert!(
        shown.contains("smtp-password"),
        "the password file's name is shown: {shown}"
    );
    assert_no_secret("dr://settings", &shown);
}

/// A private CA and a certificate it signed for 127.0.0.1 (openssl): (CA, certificate, key).
fn test_ca(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("openssl (Debian package openssl) makes the test certificates");
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=mdr test CA",
    ]);
    run(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(&csr);
    std::fs::write(
        dir.join("srv.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "srv.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "srv.pem",
        "-days",
        "2",
        "-extfile",
        "srv.ext",
    ]);
    (dir.join("ca.pem"), dir.join("srv.pem"), dir.join("srv.key"))
}

/// STARTTLS (the default) to a server that requires it, with the server's certificate from a
/// private CA named by `ca_file`: the mail is delivered over TLS, after AUTH. Without the CA
/// the certificate is refused and nothing is sent.
#[test]
fn mail_goes_over_starttls_to_a_server_whose_ca_is_given() {
    let certs = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_ca(certs.path());
    let mail = tempfile::tempdir().unwrap();
    let smtp = Smtp::start_with(mail.path(), Some((&cert, &key)));
    let channel = |ca: &str| {
        format!(
            "  monitoring:\n    alert_channels:\n      - {{type: email, smtp_host: 127.0.0.1, smtp_port: {}, from: dr@example.com, to: ops@example.com, username: {SMTP_USER}, password_file: ./settings/pw{ca}}}\n",
            smtp.port
        )
    };
    let p = Project::new(&channel(&format!(", ca_file: \"{}\"", ca.display())));
    std::fs::write(p.root().join("settings/pw"), SMTP_PASSWORD).unwrap();
    let r = p.json(&["alerts", "test"], 0);
    assert_eq!(r["channels"][0]["delivered"], true, "{r}");
    let msgs = smtp.messages(1);
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["tls"], true, "{:?}", msgs[0]);
    assert_eq!(msgs[0]["authenticated"], true, "{:?}", msgs[0]);

    // The same server without the CA: its certificate is not trusted, nothing is sent.
    let untrusted = Project::new(&channel(""));
    std::fs::write(untrusted.root().join("settings/pw"), SMTP_PASSWORD).unwrap();
    let r = untrusted.json(&["alerts", "test"], 1);
    assert_eq!(r["channels"][0]["delivered"], false, "{r}");
    let why = r["channels"][0]["error"].as_str().unwrap().to_lowercase();
    assert!(
        why.contains("certificate") || why.contains("issuer"),
        "{why}"
    );
    assert_eq!(
        smtp.messages(2).len(),
        1,
        "nothing sent to an untrusted server"
    );
}

#[test]
fn a_dead_channel_fails_clearly_without_its_secret() {
    let dead = free_port();
    let p = Project::new(&format!(
        "  monitoring:\n    alert_channels:\n      - slack\n      - {{type: webhook, url: \"http://127.0.0.1:{dead}{SLACK_PATH}\", format: slack}}\n      - {{type: email, smtp_host: 127.0.0.1, smtp_port: {dead}, starttls: false, from: dr@example.com, to: ops@example.com, username: u, password_file: ./settings/pw}}\n      - {{type: healthchecks, url: \"http://127.0.0.1:{dead}{HC_PATH}\"}}\n    alert_on_failure: false\n"
    ));
    std::fs::write(p.root().join("settings/pw"), SMTP_PASSWORD).unwrap();
    let started = Instant::now();
    let out = p.run(&["alerts", "test", "--json"]);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "a dead channel must not stall"
    );
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert_no_secret("alerts test --json", &format!("{stdout}{stderr}"));
    let r: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(r["ok"], false);
    for c in r["channels"].as_array().unwrap() {
        assert_eq!(c["delivered"], false, "{c}");
    }
    let webhook = r["channels"][0]["error"].as_str().unwrap();
    assert!(webhook.contains("cannot connect"), "{webhook}");
    assert!(
        webhook.contains(&format!("http://127.0.0.1:{dead}")),
        "{webhook}"
    );
    let email = r["channels"][1]["error"].as_str().unwrap();
    assert!(
        email.contains(&format!("SMTP to 127.0.0.1:{dead}")),
        "{email}"
    );
    assert_eq!(
        r["silenced"], "backup.monitoring.alert_on_failure is false",
        "{r}"
    );

    let out = p.run(&["alerts", "test"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_no_secret("alerts test", &text);
    assert_eq!(text.matches("FAILED ").count(), 3, "{text}");
    assert!(
        text.contains("not configured alert channel \"slack\""),
        "{text}"
    );

    // The seed's bare words alone: nothing to deliver, said so, exit 1.
    let p = Project::new("  monitoring:\n    alert_channels: [\"email\", \"slack\"]\n");
    let out = p.run(&["alerts", "test"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("no alert channel is configured"), "{text}");
    assert_eq!(
        text.matches("not configured alert channel").count(),
        2,
        "{text}"
    );
}

#[test]
fn a_bad_channel_is_a_settings_error_naming_the_key() {
    let p = Project::new(
        "  monitoring:\n    alert_channels:\n      - {type: webhook, url: \"http://user:SLACKSECRET77@hooks.example.com/x\"}\n",
    );
    let out = p.run(&["alerts", "test"]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("settings/mahavishnu.yaml: backup.monitoring.alert_channels[0].url"),
        "{stderr}"
    );
    assert!(stderr.contains("credentials over plain http"), "{stderr}");
    assert_no_secret("the settings error", &stderr);
}

/// The `dr://settings` resource of `serve` (stdio), as an agent reads the settings.
fn settings_resource(p: &Project) -> String {
    let mut child = p
        .cmd(&["serve"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve");
    let mut stdin = child.stdin.take().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut send = |v: Value| {
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    };
    let mut wait_for = |id: i64| -> Value {
        loop {
            let l = lines.next().expect("a reply").unwrap();
            let v: Value = serde_json::from_str(&l).unwrap();
            if v["id"] == id {
                return v;
            }
        }
    };
    send(
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}),
    );
    wait_for(1);
    send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
    send(
        json!({"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"dr://settings"}}),
    );
    let res = wait_for(2);
    let _ = child.kill();
    let _ = child.wait();
    res["result"]["contents"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{res}"))
        .to_string()
}

/// The daemon itself alerts: its scheduled backup fails (one attempt), one `firing` message
/// reaches the JSON webhook and a `/fail` ping the healthchecks URL, however many times the
/// conditions are evaluated meanwhile; the next day's run succeeds, and one `resolved` message
/// and a success ping follow. On a rehearsal clock (an hour a second), so a day is 24 s.
#[test]
fn the_daemon_alerts_once_per_incident_and_resolves_once() {
    let http = Http::start();
    let p = Project::new("");
    p.write("a.txt", "alpha");
    let ok = p.root().join("ok");
    let yaml = format!(
        "backup:\n  directory: \"./repo\"\n  sources: [\"./data\", {{name: \"dump.sql\", command: [\"sh\", \"-c\", \"test -f {ok} && echo dump || {{ echo db down >&2; exit 3; }}\"]}}]\n  encryption: {{ key_path: \"./key\" }}\n  schedules:\n    daily_incremental: {{ time: \"02:00\" }}\n  monitoring:\n    alert_channels:\n      - {{type: webhook, url: \"{}\", format: json}}\n      - {{type: healthchecks, url: \"{}\"}}\ndisaster_recovery:\n  restore_test: {{ scratch_dir: \"./scratch\" }}\n  automated_tests: {{ enabled: false }}\n  drills: {{ enabled: false }}\ndaemon:\n  backup_attempts: 1\n  validation: {{ enabled: false }}\n",
        http.url(JSON_PATH),
        http.url(HC_PATH),
        ok = ok.display(),
    );
    std::fs::write(p.config(), yaml).unwrap();
    let o = p.run(&["init", "--generate-key"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let child = p
        .cmd(&[
            "daemon",
            "--no-http",
            "--clock",
            "2026-03-08T01:59:58Z@3600",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let state = || -> Value {
        serde_json::from_slice(
            &std::fs::read(p.root().join("state/daemon/state.json")).unwrap_or_default(),
        )
        .unwrap_or(Value::Null)
    };
    let key = "job_failed:daily_incremental";
    let alerts = |status: &str| -> usize {
        http.requests()
            .iter()
            .filter(|(_, path, _)| path == JSON_PATH)
            .filter_map(|(_, _, b)| serde_json::from_str::<Value>(b).ok())
            .filter(|v| v["key"] == key && v["status"] == status)
            .count()
    };
    let t0 = Instant::now();
    while alerts("firing") == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no firing alert: {:?}",
            http.requests()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        state()["jobs"]["daily_incremental"]["last_result"],
        "failed"
    );
    // The database comes back; the next day's run succeeds.
    std::fs::write(&ok, "").unwrap();
    while alerts("resolved") == 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(90),
            "no resolved message: {:?}",
            http.requests()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // A few more evaluations (every 5 clock minutes: 12 a real second) send nothing more.
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: sending a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(alerts("firing"), 1, "one alert per incident\n{log}");
    assert_eq!(alerts("resolved"), 1, "one resolved message\n{log}");
    let firing = http
        .requests()
        .into_iter()
        .filter(|(_, path, _)| path == JSON_PATH)
        .filter_map(|(_, _, b)| serde_json::from_str::<Value>(&b).ok())
        .find(|v| v["key"] == key && v["status"] == "firing")
        .unwrap();
    assert!(
        firing["detail"].to_string().contains("dump.sql"),
        "the alert says what failed: {firing}"
    );
    let pings: Vec<String> = http
        .requests()
        .into_iter()
        .map(|(_, path, _)| path)
        .filter(|path| path.starts_with(HC_PATH))
        .collect();
    // Each run: /start, then /fail (the first) or the check's URL (the second, a success).
    assert_eq!(
        pings.get(..4).map(|p| p.to_vec()),
        Some(vec![
            format!("{HC_PATH}/start"),
            format!("{HC_PATH}/fail"),
            format!("{HC_PATH}/start"),
            HC_PATH.to_string(),
        ]),
        "{pings:?}"
    );
    assert!(
        log.contains("alert: job_failed:daily_incremental opened"),
        "{log}"
    );
    assert!(
        !log.contains("JSONSECRET55") && !log.contains("HCSECRET"),
        "{log}"
    );
}
