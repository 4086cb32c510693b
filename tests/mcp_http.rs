//! `mahavishnu-dr serve --http`: /mcp and /health on the real binary, the Host and Origin checks,
//! and the bearer token off loopback.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use common::{Project, free_port, wait_port};
use serde_json::Value;

/// A raw HTTP/1.1 exchange: (status, body).
fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

fn mcp_headers() -> Vec<(&'static str, String)> {
    vec![
        ("Content-Type", "application/json".into()),
        ("Accept", "application/json, text/event-stream".into()),
    ]
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(p: &Project, addr: &str, envs: &[(&str, &str)]) -> Server {
    let mut c = p.cmd(&["serve", "--http", addr]);
    c.stdout(Stdio::null()).stderr(Stdio::null());
    for (k, v) in envs {
        c.env(k, v);
    }
    Server(c.spawn().expect("start serve --http"))
}

#[test]
fn health_and_mcp_on_loopback_with_host_and_origin_checks() {
    let p = Project::new("");
    p.write("a.txt", "a");
    assert_eq!(
        p.json(&["backup", "run", "--backup-type", "full"], 0)["status"],
        "completed"
    );
    let port = free_port();
    let _server = start(&p, &format!("127.0.0.1:{port}"), &[]);
    wait_port(port);

    let (status, body) = request(port, "GET", "/health", &[], "");
    assert_eq!(status, 200, "{body}");
    let h: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["repository_reachable"], true);
    assert_eq!(h["version"], env!("CARGO_PKG_VERSION"));
    assert!(
        h["newest_backup_id"]
            .as_str()
            .unwrap()
            .starts_with("backup_")
    );
    assert!(h["newest_backup_age_seconds"].as_i64().unwrap() >= 0);

    // MCP at /mcp answers initialize.
    let (status, body) = request(port, "POST", "/mcp", &mcp_headers(), INIT);
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"serverInfo\"") && body.contains("mahavishnu-dr"),
        "{body}"
    );

    // A foreign Host (DNS rebinding) is refused on both routes; so is a foreign Origin.
    let mut evil = mcp_headers();
    evil.push(("Host", "evil.example:80".into()));
    assert_eq!(request(port, "POST", "/mcp", &evil, INIT).0, 403);
    assert_eq!(
        request(
            port,
            "GET",
            "/health",
            &[("Host", "evil.example".into())],
            ""
        )
        .0,
        403
    );
    let mut origin = mcp_headers();
    origin.push(("Origin", "http://evil.example".into()));
    assert_eq!(request(port, "POST", "/mcp", &origin, INIT).0, 403);
    let mut ok_origin = mcp_headers();
    ok_origin.push(("Origin", format!("http://localhost:{port}")));
    assert_eq!(request(port, "POST", "/mcp", &ok_origin, INIT).0, 200);
    // Loopback names are fine.
    assert_eq!(
        request(
            port,
            "GET",
            "/health",
            &[("Host", format!("localhost:{port}"))],
            ""
        )
        .0,
        200
    );
}

#[test]
fn off_loopback_needs_a_token_and_requests_without_it_get_401() {
    let p = Project::new("");
    p.write("a.txt", "a");
    // No token: refuses to start, saying what to do.
    let out = p.cmd(&["serve", "--http", "0.0.0.0:0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("token") && err.contains("MAHAVISHNU_MCP__HTTP__TOKEN"),
        "{err}"
    );

    // Token from the environment.
    let token = "0123456789abcdef0123456789abcdef";
    let port = free_port();
    let server = start(
        &p,
        &format!("0.0.0.0:{port}"),
        &[("MAHAVISHNU_MCP__HTTP__TOKEN", token)],
    );
    wait_port(port);
    assert_eq!(request(port, "GET", "/health", &[], "").0, 401);
    assert_eq!(request(port, "POST", "/mcp", &mcp_headers(), INIT).0, 401);
    let wrong = vec![("Authorization", "Bearer not-the-token".to_string())];
    assert_eq!(request(port, "GET", "/health", &wrong, "").0, 401);
    let right = vec![("Authorization", format!("Bearer {token}"))];
    assert_eq!(request(port, "GET", "/health", &right, "").0, 200);
    let mut h = mcp_headers();
    h.extend(right.clone());
    assert_eq!(request(port, "POST", "/mcp", &h, INIT).0, 200);
    drop(server);

    // Token from mcp.http.token_file.
    std::fs::write(p.root().join("settings/mcp-token"), format!("{token}\n")).unwrap();
    p.add_settings("mcp:\n  http:\n    token_file: ./settings/mcp-token\n");
    let port = free_port();
    let _server = start(&p, &format!("0.0.0.0:{port}"), &[]);
    wait_port(port);
    assert_eq!(request(port, "GET", "/health", &[], "").0, 401);
    assert_eq!(request(port, "GET", "/health", &right, "").0, 200);
}

/// Start `serve --http ADDR extra...`; returns the server and what it printed on stderr up to
/// and including the line saying where it listens.
fn start_reading_stderr(
    p: &Project,
    addr: &str,
    extra: &[&str],
    envs: &[(&str, &str)],
) -> (Server, String) {
    use std::io::BufRead;
    let mut args = vec!["serve", "--http", addr];
    args.extend_from_slice(extra);
    let mut c = p.cmd(&args);
    c.stdout(Stdio::null()).stderr(Stdio::piped());
    for (k, v) in envs {
        c.env(k, v);
    }
    let mut child = c.spawn().expect("start serve --http");
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let server = Server(child);
    let mut seen = String::new();
    loop {
        match lines.next() {
            Some(Ok(l)) => {
                seen.push_str(&l);
                seen.push('\n');
                if l.contains("MCP server on") {
                    break;
                }
            }
            _ => panic!("the server stopped before listening:\n{seen}"),
        }
    }
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (server, seen)
}

#[test]
fn loopback_without_a_token_warns_when_others_share_the_host_and_bearer_ignores_case() {
    use std::os::unix::fs::MetadataExt;
    let p = Project::new("");
    p.write("a.txt", "a");
    let b = p.json(&["backup", "run", "--backup-type", "full"], 0);
    let own_uid = std::fs::metadata(p.root()).unwrap().uid();
    let passwd = p.root().join("passwd");
    let passwd_arg = passwd.display().to_string();
    let extra = ["--passwd-file", passwd_arg.as_str()];
    std::fs::write(
        &passwd,
        format!(
            "root:x:0:0:root:/root:/bin/bash\nme:x:{own_uid}:{own_uid}::/home/me:/bin/sh\n\
             nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"
        ),
    )
    .unwrap();

    // Only this user (and nobody): a single-user machine, no warning.
    let port = free_port();
    let (server, err) = start_reading_stderr(&p, &format!("127.0.0.1:{port}"), &extra, &[]);
    assert!(!err.contains("token_file"), "{err}");
    drop(server);

    // Another login user: the server still starts without a token, and warns naming the fix.
    let mut text = std::fs::read_to_string(&passwd).unwrap();
    text.push_str("alice:x:1000:1000:Alice:/home/alice:/bin/bash\n");
    std::fs::write(&passwd, text).unwrap();
    let port = free_port();
    let (server, err) = start_reading_stderr(&p, &format!("127.0.0.1:{port}"), &extra, &[]);
    assert!(
        err.contains("warning") && err.contains("mcp.http.token_file") && err.contains("alice"),
        "the start-up should warn that other users can call the tools:\n{err}"
    );
    wait_port(port);
    let (status, body) = request(port, "GET", "/health", &[], "");
    assert_eq!(status, 200, "loopback without a token still serves: {body}");
    let h: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(h["newest_backup_id"], b["backup_id"], "{h}");
    drop(server);

    // With a token: no warning, and the Bearer scheme matches in any case (RFC 7235).
    let token = "0123456789abcdef0123456789abcdef";
    let port = free_port();
    let (_server, err) = start_reading_stderr(
        &p,
        &format!("127.0.0.1:{port}"),
        &extra,
        &[("MAHAVISHNU_MCP__HTTP__TOKEN", token)],
    );
    assert!(!err.contains("token_file"), "{err}");
    wait_port(port);
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        let auth = vec![("Authorization", format!("{scheme} {token}"))];
        assert_eq!(
            request(port, "GET", "/health", &auth, "").0,
            200,
            "{scheme}"
        );
        let mut h = mcp_headers();
        h.extend(auth);
        assert_eq!(request(port, "POST", "/mcp", &h, INIT).0, 200, "{scheme}");
    }
    for bad in [
        format!("Basic {token}"),
        format!("Bearer {token}x"),
        format!("Bearer{token}"),
        "bearer".to_string(),
    ] {
        let auth = vec![("Authorization", bad.clone())];
        assert_eq!(request(port, "GET", "/health", &auth, "").0, 401, "{bad}");
    }
    assert_eq!(request(port, "GET", "/health", &[], "").0, 401);
}
