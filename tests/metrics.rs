//! `metrics`: the Prometheus text format from the real binary, read back with real Prometheus
//! parsers — `prometheus_client` from PyPI (tests/metrics/setup.sh) and a Prometheus server
//! (Debian's `prometheus` package: `.ci/run` installs it) scraping `serve --http`'s /metrics —
//! and checked for what a user would look at: backup counts, ages, targets, replica lag, the
//! daemon's counters, and never a backup id or the key.

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{LOCAL_REPLICA, Project, free_port, wait_port};
use serde_json::Value;

/// The venv's python with prometheus_client, installed by tests/metrics/setup.sh. A machine
/// that cannot install it fails the test, saying so (CI installs python3-venv and reaches PyPI).
fn python() -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/metrics/setup.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
    assert!(
        out.status.success(),
        "tests/metrics/setup.sh could not install prometheus_client from PyPI (the metrics \
         tests parse with it; they need python3 with venv and PyPI):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    PathBuf::from(
        stdout
            .lines()
            .find_map(|l| l.strip_prefix("PYTHON="))
            .unwrap_or_else(|| panic!("setup.sh printed no PYTHON=: {stdout}")),
    )
}

/// One family as prometheus_client's parser read it.
#[derive(Debug)]
struct Family {
    kind: String,
    /// (sample name, labels, value)
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

/// Parse exposition text with prometheus_client; the families by name (a counter's family
/// name is without `_total`, as the parser gives it).
fn parse(text: &str) -> BTreeMap<String, Family> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/metrics/parse.py");
    let mut child = Command::new(python())
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run parse.py");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "prometheus_client rejects the metrics: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut m = BTreeMap::new();
    for f in v.as_array().unwrap() {
        let samples = f["samples"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let labels = s["labels"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect();
                (
                    s["name"].as_str().unwrap().to_string(),
                    labels,
                    s["value"].as_f64().expect("a finite value"),
                )
            })
            .collect();
        let name = f["name"].as_str().unwrap().to_string();
        let kind = f["type"].as_str().unwrap().to_string();
        assert!(
            m.insert(name.clone(), Family { kind, samples }).is_none(),
            "{name} twice"
        );
    }
    m
}

/// The value of `family`'s sample whose labels include `labels`; panics when there is none.
fn value(m: &BTreeMap<String, Family>, family: &str, labels: &[(&str, &str)]) -> f64 {
    let f = m
        .get(family)
        .unwrap_or_else(|| panic!("no family {family} in {:?}", m.keys().collect::<Vec<_>>()));
    f.samples
        .iter()
        .find(|(_, l, _)| {
            labels
                .iter()
                .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.2)
        .unwrap_or_else(|| panic!("{family} has no sample {labels:?}: {:?}", f.samples))
}

/// A daemon state file as the daemon writes it (src/ops/daemon_state.rs, version 1), of a
/// daemon whose process is alive (this test's) and that runs `daily_incremental` now.
fn write_daemon_state(p: &Project) {
    let dir = p.root().join("state/daemon");
    std::fs::create_dir_all(&dir).unwrap();
    let pid = std::process::id();
    std::fs::write(
        dir.join("state.json"),
        r#"{"version": 1, "started_at": "2026-12-01T00:00:00Z", "updated_at": "2026-12-01T02:00:05Z",
            "pid": PID, "running": {"job": "daily_incremental", "slot": "2026-12-02T02:00:00Z",
              "started": "2026-12-02T02:00:00Z"},
            "jobs": {"daily_incremental": {"last_slot": "2026-12-01T02:00:00Z", "next_run": "2026-12-03T02:00:00Z",
              "last_started": "2026-12-01T02:00:00Z", "last_finished": "2026-12-01T02:00:04Z",
              "last_result": "failed", "last_detail": "disk full", "last_duration_seconds": 4.5,
              "last_attempts": 3, "last_success": "2026-11-30T02:00:03Z",
              "last_failure": "2026-12-01T02:00:04Z", "successes_total": 9, "failures_total": 1,
              "missed_total": 2}}}"#
            .replace("PID", &pid.to_string()),
    )
    .unwrap();
}

fn project() -> Project {
    let p = Project::new(&format!(
        "{LOCAL_REPLICA}  schedules:\n    daily_incremental: {{ enabled: true, time: \"02:00\", timezone: UTC, retention_days: 7 }}\n"
    ));
    // Inside the settings' last section, disaster_recovery.
    p.add_settings("  rpo_target_minutes: 7\n  rto_target_minutes: 11\n");
    p
}

#[test]
fn the_textfile_parses_with_prometheus_client_and_holds_what_a_user_checks() {
    let p = project();
    p.write("a.txt", "alpha");
    let full = p.json(&["backup", "run", "--type", "full"], 0);
    p.write("b.txt", "bravo bravo");
    let inc = p.json(&["backup", "run", "--type", "incremental"], 0);
    assert_eq!(inc["backup_type"], "incremental", "{inc}");
    let test = p.json(&["restore-test", "run"], 0);
    assert_eq!(test["passed"], true, "{test}");
    p.json(&["backup", "validate"], 0);
    // A drill: its result, whatever it is, is what the metrics say.
    let out = p.run(&["drill", "run", "--scenario", "data_deletion", "--json"]);
    let drill: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    let drill_passed = drill["passed"].as_bool().expect("passed");
    write_daemon_state(&p);
    let host = p.json(&["backup", "status"], 0)["this_host"]
        .as_str()
        .unwrap()
        .to_string();
    // The replica lacks the newest backup (its manifest gone: what a failed copy leaves).
    let inc_id = inc["backup_id"].as_str().unwrap();
    std::fs::remove_dir_all(p.root().join("replica/backups").join(inc_id)).unwrap();

    let dir = p.root().join("textfile");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mahavishnu_dr.prom");
    let out = p.run(&["metrics", "--textfile", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o644, "the collector (another user) reads it");
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["mahavishnu_dr.prom"], "no temporary file left");
    let text = std::fs::read_to_string(&file).unwrap();
    let m = parse(&text);

    let h = host.as_str();
    let count = |t: &str| {
        value(
            &m,
            "mahavishnu_dr_repository_backups",
            &[("host", h), ("backup_type", t)],
        )
    };
    assert_eq!(
        (count("full"), count("incremental"), count("archival")),
        (1.0, 1.0, 0.0)
    );
    let age = value(
        &m,
        "mahavishnu_dr_newest_backup_age_seconds",
        &[("host", h)],
    );
    assert!((0.0..120.0).contains(&age), "newest backup age {age}");
    assert_eq!(
        value(&m, "mahavishnu_dr_rpo_target_seconds", &[]),
        7.0 * 60.0
    );
    assert_eq!(
        value(&m, "mahavishnu_dr_rto_target_seconds", &[]),
        11.0 * 60.0
    );
    assert!(value(&m, "mahavishnu_dr_rpo_seconds", &[]) < 120.0);
    assert_eq!(value(&m, "mahavishnu_dr_rpo_met", &[]), 1.0);
    // A daily schedule gives an RPO of a day at best.
    assert_eq!(
        value(&m, "mahavishnu_dr_rpo_schedule_seconds", &[]),
        86400.0
    );
    assert_eq!(
        value(
            &m,
            "mahavishnu_dr_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert_eq!(
        value(&m, "mahavishnu_dr_repository_up", &[("store", "primary")]),
        1.0
    );
    let full_added = full["totals"]["stored_bytes"].as_f64().unwrap();
    assert!(full_added > 0.0);
    assert_eq!(
        value(
            &m,
            "mahavishnu_dr_backup_last_added_bytes",
            &[("host", h), ("backup_type", "full")]
        ),
        full_added
    );
    assert_eq!(
        value(
            &m,
            "mahavishnu_dr_repository_size_bytes",
            &[("store", "primary")]
        ),
        full_added + inc["totals"]["stored_bytes"].as_f64().unwrap()
    );
    let finished = chrono::DateTime::parse_from_rfc3339(inc["finished"].as_str().unwrap())
        .unwrap()
        .timestamp_millis() as f64
        / 1000.0;
    assert_eq!(
        value(
            &m,
            "mahavishnu_dr_backup_last_success_timestamp_seconds",
            &[("host", h), ("backup_type", "incremental")]
        ),
        finished
    );
    // The restore test, and the restore time by size beside the bytes it restored.
    assert_eq!(
        value(&m, "mahavishnu_dr_restore_test_last_passed", &[]),
        1.0
    );
    assert_eq!(
        value(&m, "mahavishnu_dr_restore_test_success_ratio", &[]),
        1.0
    );
    assert_eq!(
        value(&m, "mahavishnu_dr_restore_test_last_restored_bytes", &[]),
        "alpha".len() as f64 + "bravo bravo".len() as f64
    );
    assert!(
        value(
            &m,
            "mahavishnu_dr_restore_duration_seconds",
            &[("size_class", "lt_1MiB")]
        ) > 0.0
    );
    assert!(value(&m, "mahavishnu_dr_rto_seconds", &[]) > 0.0);
    assert_eq!(value(&m, "mahavishnu_dr_validation_last_passed", &[]), 1.0);
    let scenario = [("scenario", "data_deletion")];
    assert_eq!(
        value(&m, "mahavishnu_dr_drill_last_passed", &scenario),
        if drill_passed { 1.0 } else { 0.0 }
    );
    let drilled = value(&m, "mahavishnu_dr_drill_last_timestamp_seconds", &scenario);
    assert!((chrono::Utc::now().timestamp() as f64 - drilled).abs() < 300.0);
    assert_eq!(
        value(&m, "mahavishnu_dr_drill_rto_target_seconds", &scenario),
        1800.0
    );
    assert!(
        !m["mahavishnu_dr_drill_last_passed"]
            .samples
            .iter()
            .any(|s| s.1["scenario"] == "region_failure"),
        "a scenario never drilled has no result"
    );
    // The replica lacks one backup, the newest; it is seconds behind.
    assert_eq!(
        value(
            &m,
            "mahavishnu_dr_replica_missing_backups",
            &[("replica", "copy")]
        ),
        1.0
    );
    let lag = value(
        &m,
        "mahavishnu_dr_replica_lag_seconds",
        &[("replica", "copy")],
    );
    assert!((0.0..120.0).contains(&lag), "lag {lag}");
    // The daemon's counters, typed as counters.
    let jobs = &m["mahavishnu_dr_job_successes"];
    assert_eq!(jobs.kind, "counter");
    assert_eq!(jobs.samples[0].0, "mahavishnu_dr_job_successes_total");
    let job = [("schedule", "daily_incremental")];
    assert_eq!(value(&m, "mahavishnu_dr_job_successes", &job), 9.0);
    assert_eq!(value(&m, "mahavishnu_dr_job_failures", &job), 1.0);
    assert_eq!(value(&m, "mahavishnu_dr_job_missed_runs", &job), 2.0);
    assert_eq!(
        value(&m, "mahavishnu_dr_job_last_duration_seconds", &job),
        4.5
    );
    assert_eq!(
        value(
            &m,
            "mahavishnu_dr_job_last_result",
            &[("schedule", "daily_incremental"), ("result", "failed")]
        ),
        1.0
    );
    assert_eq!(value(&m, "mahavishnu_dr_backup_success_ratio", &[]), 0.9);
    assert_eq!(
        value(&m, "mahavishnu_dr_daemon_up", &[]),
        1.0,
        "its pid is alive"
    );
    assert_eq!(value(&m, "mahavishnu_dr_job_running", &job), 1.0);
    assert_eq!(
        value(&m, "mahavishnu_dr_job_next_run_timestamp_seconds", &job),
        chrono::DateTime::parse_from_rfc3339("2026-12-03T02:00:00Z")
            .unwrap()
            .timestamp() as f64
    );

    // No backup id, no key, and no label that Prometheus's own `job`/`instance` would clash with.
    for id in [full["backup_id"].as_str().unwrap(), inc_id] {
        assert!(!text.contains(id), "a backup id in the metrics: {id}");
    }
    let key = std::fs::read_to_string(p.root().join("key")).unwrap();
    assert!(key.trim().len() >= 32);
    assert!(!text.contains(key.trim()), "the key in the metrics");
    for f in m.values() {
        for (name, labels, _) in &f.samples {
            assert!(name.starts_with("mahavishnu_dr_"), "{name}");
            assert!(
                !labels.contains_key("job") && !labels.contains_key("instance"),
                "{name} {labels:?}"
            );
        }
    }

    // --json: the same families, typed.
    let j = p.json(&["metrics"], 0);
    assert_eq!(j["repository_reachable"], true);
    let names: Vec<&str> = j["families"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"mahavishnu_dr_job_successes_total"));
    assert!(names.windows(2).all(|w| w[0] < w[1]), "families by name");
    assert_eq!(names.len(), m.len());
    // Plain `metrics`: the same text on stdout (the same families; ages move on).
    let out = p.run(&["metrics"]);
    assert!(out.status.success());
    assert_eq!(parse(&String::from_utf8_lossy(&out.stdout)).len(), m.len());
}

#[test]
fn an_unreachable_repository_still_gives_metrics() {
    let p = project();
    write_daemon_state(&p);
    // No repository was ever made.
    let out = p.run(&["metrics"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("repository cannot be opened"), "{stderr}");
    let m = parse(&String::from_utf8_lossy(&out.stdout));
    assert_eq!(
        value(&m, "mahavishnu_dr_repository_up", &[("store", "primary")]),
        0.0
    );
    assert_eq!(
        value(
            &m,
            "mahavishnu_dr_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    assert_eq!(
        value(
            &m,
            "mahavishnu_dr_job_successes",
            &[("schedule", "daily_incremental")]
        ),
        9.0
    );
    assert!(!m.contains_key("mahavishnu_dr_repository_backups"));
    // A textfile is written all the same (node_exporter then shows the repository down).
    let file = p.root().join("dr.prom");
    let out = p.run(&["metrics", "--textfile", file.to_str().unwrap()]);
    assert!(out.status.success());
    let m = parse(&std::fs::read_to_string(&file).unwrap());
    assert_eq!(
        value(&m, "mahavishnu_dr_repository_up", &[("store", "primary")]),
        0.0
    );
}

/// A raw HTTP/1.0 GET (no chunked bodies): (status, headers in lower case, body).
fn get(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut req = format!("GET {path} HTTP/1.0\r\n");
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {text:?}"));
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// A child process killed and reaped on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const TOKEN: &str = "metrics-test-token-0123456789abcdef";

/// `serve --http` on a free loopback port with a bearer token; (server, port).
fn serve_with_token(p: &Project) -> (Running, u16) {
    let port = free_port();
    let mut c = p.cmd(&["serve", "--http", &format!("127.0.0.1:{port}")]);
    c.env("MAHAVISHNU_MCP__HTTP__TOKEN", TOKEN)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let server = Running(c.spawn().expect("start serve --http"));
    wait_port(port);
    (server, port)
}

#[test]
fn serve_http_answers_get_metrics_behind_the_token() {
    let p = project();
    p.write("a.txt", "alpha");
    p.json(&["backup", "run", "--type", "full"], 0);
    let (_server, port) = serve_with_token(&p);

    let (status, _, _) = get(port, "/metrics", &[]);
    assert_eq!(status, 401, "no token, no metrics");
    let (status, _, _) = get(port, "/metrics", &[("Authorization", "Bearer wrong")]);
    assert_eq!(status, 401);
    let auth = format!("Bearer {TOKEN}");
    // The DNS-rebinding guard too, token or not.
    let (status, _, _) = get(
        port,
        "/metrics",
        &[("Authorization", &auth), ("Host", "evil.example")],
    );
    assert_eq!(status, 403);
    let (status, head, body) = get(port, "/metrics", &[("Authorization", &auth)]);
    assert_eq!(status, 200, "{body}");
    assert!(
        head.contains("content-type: text/plain; version=0.0.4; charset=utf-8"),
        "{head}"
    );
    let m = parse(&body);
    assert_eq!(
        value(&m, "mahavishnu_dr_repository_up", &[("store", "primary")]),
        1.0
    );
    assert_eq!(
        value(
            &m,
            "mahavishnu_dr_repository_backups",
            &[("backup_type", "full")]
        ),
        1.0
    );
    assert!(!body.contains(TOKEN));
}

/// Query a Prometheus server's HTTP API: the `data.result` array.
fn prom_query(port: u16, query: &str) -> Vec<Value> {
    let q: String = query
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let (status, _, body) = get(port, &format!("/api/v1/query?query={q}"), &[]);
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(v["status"], "success", "{v}");
    v["data"]["result"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_real_prometheus_server_scrapes_metrics() {
    let Some(prometheus) = ["/usr/bin/prometheus", "/usr/local/bin/prometheus"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
    else {
        panic!(
            "no prometheus binary: install Debian's `prometheus` package (.ci/run does) to run \
             the scrape test"
        );
    };
    let p = project();
    p.write("a.txt", "alpha");
    p.json(&["backup", "run", "--type", "full"], 0);
    write_daemon_state(&p);
    let (_server, port) = serve_with_token(&p);

    // promtool, from the same package, lints the exposition (names, units, counters).
    let (_, _, body) = get(
        port,
        "/metrics",
        &[("Authorization", &format!("Bearer {TOKEN}"))],
    );
    let promtool = prometheus.with_file_name("promtool");
    if promtool.is_file() {
        let mut c = Command::new(&promtool)
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    let web = free_port();
    let dir = p.root().join("prometheus");
    std::fs::create_dir_all(&dir).unwrap();
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global: {{ scrape_interval: 2s, scrape_timeout: 2s }}\n\
             scrape_configs:\n\
             - job_name: mahavishnu\n  \
               authorization: {{ credentials: {TOKEN} }}\n  \
               static_configs: [{{ targets: ['127.0.0.1:{port}'] }}]\n"
        ),
    )
    .unwrap();
    let _prom = Running(
        Command::new(&prometheus)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{web}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus"),
    );
    wait_port(web);
    let start = Instant::now();
    // 503 until its storage is open.
    while get(web, "/-/ready", &[]).0 != 200 {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "prometheus was not ready within 60 s"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let up = loop {
        let r = prom_query(web, "up{job=\"mahavishnu\"}");
        if r.first().and_then(|s| s["value"][1].as_str()) == Some("1") {
            break r;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "prometheus did not scrape /metrics successfully within 60 s: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(up.len(), 1);
    let info = prom_query(web, "mahavishnu_dr_build_info");
    assert_eq!(info.len(), 1, "{info:?}");
    assert_eq!(info[0]["metric"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        info[0]["metric"]["job"], "mahavishnu",
        "the target's own job label"
    );
    let jobs = prom_query(web, "mahavishnu_dr_job_successes_total");
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(jobs[0]["metric"]["schedule"], "daily_incremental");
    assert!(jobs[0]["metric"].get("exported_job").is_none(), "{jobs:?}");
    assert_eq!(jobs[0]["value"][1], "9");
    let full = prom_query(
        web,
        "mahavishnu_dr_repository_backups{backup_type=\"full\"}",
    );
    assert_eq!(full[0]["value"][1], "1", "{full:?}");
}

/// SIGTERM to a child of this test, then wait for it.
fn stop(child: &mut Child) {
    // SAFETY: a signal to our own child process.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let _ = child.wait();
}

#[test]
fn the_daemon_serves_metrics_of_the_jobs_it_ran() {
    let p = Project::new("  schedules:\n    daily_incremental: { time: \"02:00\" }\n");
    p.add_settings(
        "  automated_tests: { enabled: false }\n  drills: { enabled: false }\n\
         daemon:\n  validation: { enabled: false }\n",
    );
    p.write("a.txt", "alpha");
    p.init();
    let port = free_port();
    // A rehearsal clock two seconds before the daily backup (tests/daemon.rs).
    let mut daemon = Running(
        p.cmd(&[
            "daemon",
            "--clock",
            "2026-03-08T01:59:58Z@1",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the daemon"),
    );
    wait_port(port);
    let start = Instant::now();
    let m = loop {
        let (status, _, body) = get(port, "/metrics", &[]);
        assert_eq!(status, 200, "{body}");
        let m = parse(&body);
        let done = m
            .get("mahavishnu_dr_job_successes")
            .is_some_and(|f| f.samples.iter().any(|s| s.2 >= 1.0));
        if done {
            break m;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "the daemon's backup did not show in /metrics within 60 s:\n{body}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    let job = [("schedule", "daily_incremental")];
    assert_eq!(value(&m, "mahavishnu_dr_daemon_up", &[]), 1.0);
    assert_eq!(value(&m, "mahavishnu_dr_job_successes", &job), 1.0);
    assert_eq!(value(&m, "mahavishnu_dr_job_failures", &job), 0.0);
    assert_eq!(
        value(
            &m,
            "mahavishnu_dr_job_last_result",
            &[("schedule", "daily_incremental"), ("result", "succeeded")]
        ),
        1.0
    );
    assert_eq!(value(&m, "mahavishnu_dr_backup_success_ratio", &[]), 1.0);
    // The backup it made is in the repository (the first incremental is made as a full).
    let made: f64 = m["mahavishnu_dr_repository_backups"]
        .samples
        .iter()
        .map(|s| s.2)
        .sum();
    assert_eq!(made, 1.0);
    stop(&mut daemon.0);
}
