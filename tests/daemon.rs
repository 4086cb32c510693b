//! `mahavishnu-dr daemon`, the real binary on a rehearsal clock (`--clock START@SPEED`, so no
//! test waits for real time): jobs fire at their instants, in order, never two at once; a
//! missed run is caught up once; a failing backup is retried with backoff and then counted
//! failed; SIGTERM during a backup stops it cleanly and leaves a valid repository; a second
//! daemon on the same state is refused; the HTTP face answers /health and schedule_status.

use crate::common;
use crate::dr_util;

use std::process::{Child, Stdio};
use std::time::Duration;

use common::{Project, free_port, wait_port};
use dr_util::*;
use serde_json::Value;

fn state(p: &Project) -> Value {
    let path = p.root().join("state/daemon/state.json");
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_default()).unwrap_or(Value::Null)
}

fn job<'a>(s: &'a Value, name: &str) -> &'a Value {
    &s["jobs"][name]
}

/// Start the daemon without HTTP on a rehearsal clock.
fn start(p: &Project, clock: &str, extra: &[&str]) -> Child {
    let mut args = vec!["daemon", "--clock", clock];
    args.extend_from_slice(extra);
    if !extra.contains(&"--listen") {
        args.push("--no-http");
    }
    p.cmd(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the daemon")
}

/// SIGTERM, and the output once it has exited (within `within`).
fn stop(child: Child, within: Duration) -> std::process::Output {
    // SAFETY: sending a signal to our own child process.
    let r = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    assert_eq!(r, 0);
    let t0 = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        t0.elapsed() <= within,
        "the daemon took {:?} to stop (bound {within:?})",
        t0.elapsed()
    );
    out
}

fn settings(p: &Project, backup_extra: &str, rest: &str) {
    let yaml = format!(
        "backup:\n  directory: \"./repo\"\n  sources: [\"./data\"]\n  encryption: {{ key_path: \"./key\" }}\n{backup_extra}disaster_recovery:\n  restore_test: {{ scratch_dir: \"./scratch\" }}\n  drills: {{ enabled: false }}\n{rest}"
    );
    std::fs::write(p.config(), yaml).unwrap();
}

/// A project with one file and one job: the daily incremental at 02:00 UTC.
fn daily_backup_only() -> Project {
    let p = Project::new("");
    p.write("a.txt", "alpha");
    settings(
        &p,
        "  schedules:\n    daily_incremental: { time: \"02:00\" }\n",
        "  automated_tests: { enabled: false }\ndaemon:\n  validation: { enabled: false }\n",
    );
    p.init();
    p
}

fn backups(p: &Project) -> Vec<Value> {
    let (l, _) = json_run(p, &["backup", "list"], 0);
    l["backups"].as_array().cloned().unwrap_or_default()
}

#[test]
fn jobs_fire_at_their_instants_in_order_and_never_overlap() {
    let p = Project::new("");
    p.write("a.txt", "alpha");
    p.write("b.bin", noise(1, 1 << 20));
    // Sunday 2026-03-08: the weekly full and the daily incremental are both due at 02:00, the
    // restore test at 02:10. The clock runs 60 times real time from 01:59:40.
    settings(
        &p,
        "  schedules:\n    daily_incremental: { time: \"02:00\" }\n    weekly_full: { day: sunday, time: \"02:00\" }\n",
        "  automated_tests: { schedule: daily, time: \"02:10\" }\ndaemon:\n  validation: { schedule: daily, time: \"02:05\", level: full }\n",
    );
    p.init();
    let child = start(&p, "2026-03-08T01:59:40Z@60", &[]);
    let s = wait_for(
        Duration::from_secs(90),
        "the restore test to finish",
        || {
            let s = state(&p);
            job(&s, "automated_tests")["last_result"]
                .is_string()
                .then_some(s)
        },
    );
    let out = stop(child, Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", shown(&out));
    let log = stderr(&out);

    for name in [
        "weekly_full",
        "daily_incremental",
        "validation",
        "automated_tests",
    ] {
        assert_eq!(job(&s, name)["last_result"], "succeeded", "{name}: {s}");
        assert_eq!(job(&s, name)["successes_total"], 1, "{name}: {s}");
        assert_eq!(job(&s, name)["missed_total"], 0, "{name}: {s}");
    }
    assert_eq!(job(&s, "weekly_full")["last_slot"], "2026-03-08T02:00:00Z");
    assert_eq!(job(&s, "validation")["last_slot"], "2026-03-08T02:05:00Z");
    assert_eq!(
        job(&s, "automated_tests")["last_slot"],
        "2026-03-08T02:10:00Z"
    );
    // Nothing before its instant: the first job started at or after 02:00 on the clock.
    let t = |name: &str, key: &str| -> chrono::DateTime<chrono::Utc> {
        job(&s, name)[key].as_str().unwrap().parse().unwrap()
    };
    let at = |s: &str| s.parse::<chrono::DateTime<chrono::Utc>>().unwrap();
    assert!(t("weekly_full", "last_started") >= at("2026-03-08T02:00:00Z"));
    assert!(t("automated_tests", "last_started") >= at("2026-03-08T02:10:00Z"));
    // The full first, then the incremental on top of it; one job at a time.
    assert!(t("weekly_full", "last_finished") <= t("daily_incremental", "last_started"));
    assert!(t("daily_incremental", "last_finished") <= t("validation", "last_started"));
    let list = backups(&p);
    assert_eq!(list.len(), 2, "{list:?}");
    let types: Vec<&str> = list
        .iter()
        .map(|b| b["backup_type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"full") && types.contains(&"incremental"),
        "{types:?}"
    );
    // Cleanup ran after each backup.
    assert_eq!(job(&s, "cleanup")["successes_total"], 2, "{s}");
    assert!(log.contains("weekly_full: starting"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    let after = state(&p);
    assert!(after["stopped_at"].is_string(), "{after}");

    // schedule show reads the same state: last results, and the daemon not running.
    let (sh, _) = json_run(&p, &["schedule", "show"], 0);
    let daily = sh["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "daily_incremental")
        .unwrap();
    assert_eq!(daily["last_run"]["result"], "succeeded", "{sh}");
    assert_eq!(sh["daemon"]["running"], false, "{sh}");
}

#[test]
fn a_missed_run_is_caught_up_once_and_a_restart_remembers() {
    let p = daily_backup_only();
    // The state of a daemon that last ran the 5th's backup, then was down until the 8th noon:
    // the 6th, 7th and 8th slots passed.
    let dir = p.root().join("state/daemon");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("state.json"),
        r#"{"version":1,"jobs":{"daily_incremental":{"last_slot":"2026-03-05T02:00:00Z","last_result":"succeeded","successes_total":4}}}"#,
    )
    .unwrap();
    let child = start(&p, "2026-03-08T12:00:00Z@1", &[]);
    let s = wait_for(Duration::from_secs(60), "the catch-up backup", || {
        let s = state(&p);
        (job(&s, "daily_incremental")["successes_total"] == 5).then_some(s)
    });
    // Give it time to (wrongly) run more.
    std::thread::sleep(Duration::from_secs(2));
    let out = stop(child, Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", shown(&out));
    let j = job(&s, "daily_incremental");
    assert_eq!(j["last_slot"], "2026-03-08T02:00:00Z", "{s}");
    assert_eq!(j["missed_total"], 2, "{s}");
    assert_eq!(
        backups(&p).len(),
        1,
        "one catch-up run, not one per missed slot"
    );
    assert!(stderr(&out).contains("missed"), "{}", shown(&out));

    // A restart on the same day runs nothing again.
    let child = start(&p, "2026-03-08T13:00:00Z@1", &[]);
    std::thread::sleep(Duration::from_secs(3));
    let out = stop(child, Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", shown(&out));
    assert_eq!(backups(&p).len(), 1, "{}", shown(&out));
    assert_eq!(job(&state(&p), "daily_incremental")["successes_total"], 5);

    // Stopped since (the rehearsal was in March): the report's Schedules section and
    // `schedule show` say the daily run was missed, and what to do.
    let (r, _) = json_run(&p, &["report"], 0);
    let daily = r["schedules"]["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "daily_incremental")
        .unwrap()
        .clone();
    assert_eq!(daily["missed"], true, "{daily}");
    assert_eq!(daily["last_run"]["missed_total"], 2, "{daily}");
    let recs = r["recommendations"].to_string();
    assert!(recs.contains("daily_incremental missed its run"), "{recs}");
    let md = stdout(&p.run(&["report", "--format", "markdown"]));
    let section = md
        .split("## Schedules")
        .nth(1)
        .expect("a Schedules section");
    let section = section.split("\n## ").next().unwrap();
    assert!(section.contains("The daemon is not running"), "{section}");
    assert!(section.contains("| daily_incremental |"), "{section}");
    assert!(section.contains("missed its run at"), "{section}");
}

#[test]
fn a_failing_backup_is_retried_with_backoff_then_counted_failed() {
    let p = Project::new("");
    p.write("a.txt", "alpha");
    let yaml = "backup:\n  directory: \"./repo\"\n  sources: [\"./data\", {name: \"dump.sql\", command: [\"sh\", \"-c\", \"echo dump failed >&2; exit 3\"]}]\n  encryption: { key_path: \"./key\" }\n  schedules:\n    daily_incremental: { time: \"02:00\" }\ndisaster_recovery:\n  restore_test: { scratch_dir: \"./scratch\" }\n  automated_tests: { enabled: false }\n  drills: { enabled: false }\ndaemon:\n  backup_attempts: 3\n  retry_backoff_seconds: 120\n  validation: { enabled: false }\n";
    std::fs::write(p.config(), yaml).unwrap();
    p.init();
    // 120 s then 240 s of backoff on a clock 120 times real time: 1 s, then 2 s.
    let child = start(&p, "2026-03-08T01:59:58Z@120", &[]);
    let s = wait_for(Duration::from_secs(60), "the backup to fail", || {
        let s = state(&p);
        (job(&s, "daily_incremental")["last_result"] == "failed").then_some(s)
    });
    let out = stop(child, Duration::from_secs(30));
    let log = stderr(&out);
    let j = job(&s, "daily_incremental");
    assert_eq!(j["last_attempts"], 3, "{s}");
    assert_eq!(j["failures_total"], 1, "{s}");
    assert!(
        j["last_detail"].as_str().unwrap().contains("dump.sql"),
        "{s}"
    );
    assert!(log.contains("attempt 1 of 3 failed"), "{log}");
    assert!(log.contains("attempt 2 of 3 failed"), "{log}");
    assert!(
        log.contains("trying again in 120 s") && log.contains("trying again in 240 s"),
        "{log}"
    );
    // The backoff was waited: the third attempt came at least 360 clock seconds after the first.
    let started: chrono::DateTime<chrono::Utc> =
        j["last_started"].as_str().unwrap().parse().unwrap();
    let finished: chrono::DateTime<chrono::Utc> =
        j["last_finished"].as_str().unwrap().parse().unwrap();
    assert!((finished - started).num_seconds() >= 360, "{s}");
    assert!(backups(&p).is_empty());
    assert!(
        job(&s, "cleanup").is_null(),
        "no cleanup after a failed backup: {s}"
    );
}

#[test]
fn sigterm_during_a_backup_stops_it_and_leaves_a_valid_repository() {
    let p = Project::new("");
    settings(
        &p,
        "  volume_size_mb: 8\n  schedules:\n    weekly_full: { day: sunday, time: \"02:00\" }\n",
        "  automated_tests: { enabled: false }\ndaemon:\n  shutdown_grace_seconds: 20\n  validation: { enabled: false }\n",
    );
    p.write("small.txt", "first");
    p.init();
    let first = p.backup("full");
    for i in 0..50u64 {
        p.write(&format!("blob-{i:02}.bin"), patterned(i + 7, 4 << 20));
    }
    let child = start(&p, "2026-03-08T01:59:59Z@1", &[]);
    wait_writing(&p);
    let out = stop(child, Duration::from_secs(25));
    assert_eq!(code(&out), 0, "{}", shown(&out));
    let s = state(&p);
    assert_eq!(job(&s, "weekly_full")["last_result"], "cancelled", "{s}");
    assert!(s["running"].is_null(), "{s}");
    assert!(s["stopped_at"].is_string(), "{s}");
    // The repository: only the first backup, nothing unfinished, no lock; it validates fully.
    let (st, _) = json_run(&p, &["backup", "status"], 0);
    assert_eq!(st["backup_count"], 1, "{st}");
    assert_eq!(st["latest"]["backup_id"], first["backup_id"], "{st}");
    assert_eq!(st["unfinished"], serde_json::json!([]), "{st}");
    let locks = p.repo().join("locks");
    assert!(
        std::fs::read_dir(&locks).map(|d| d.count()).unwrap_or(0) == 0,
        "the cancelled backup left its lock"
    );
    let (v, _) = json_run(&p, &["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");

    // The cancelled run is still owed: the next start runs it once.
    let child = start(&p, "2026-03-08T02:30:00Z@1", &[]);
    let s = wait_for(Duration::from_secs(120), "the owed backup", || {
        let s = state(&p);
        (job(&s, "weekly_full")["last_result"] == "succeeded").then_some(s)
    });
    let out = stop(child, Duration::from_secs(25));
    assert_eq!(code(&out), 0, "{}", shown(&out));
    assert_eq!(
        job(&s, "weekly_full")["last_slot"],
        "2026-03-08T02:00:00Z",
        "{s}"
    );
    assert_eq!(job(&s, "weekly_full")["missed_total"], 0, "{s}");
    assert_eq!(backups(&p).len(), 2);
}

/// A daemon killed (SIGKILL, a power cut) mid-backup: the next start says so, counts the run
/// as cancelled, runs it again, and the cleanup after it removes what the killed backup left.
#[test]
fn a_daemon_killed_mid_backup_runs_it_again_at_the_next_start() {
    let p = Project::new("");
    settings(
        &p,
        "  volume_size_mb: 8\n  schedules:\n    weekly_full: { day: sunday, time: \"02:00\" }\n",
        "  automated_tests: { enabled: false }\ndaemon:\n  validation: { enabled: false }\n",
    );
    for i in 0..50u64 {
        p.write(&format!("blob-{i:02}.bin"), patterned(i + 9, 4 << 20));
    }
    p.init();
    let mut child = start(&p, "2026-03-08T01:59:59Z@1", &[]);
    wait_writing(&p);
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(state(&p)["running"]["job"], "weekly_full");

    let child = start(&p, "2026-03-08T02:30:00Z@1", &[]);
    let s = wait_for(Duration::from_secs(120), "the backup run again", || {
        let s = state(&p);
        (job(&s, "weekly_full")["last_result"] == "succeeded").then_some(s)
    });
    let out = stop(child, Duration::from_secs(25));
    assert_eq!(code(&out), 0, "{}", shown(&out));
    let log = stderr(&out);
    assert!(
        log.contains("the previous daemon stopped while weekly_full ran"),
        "{log}"
    );
    assert_eq!(job(&s, "cleanup")["last_result"], "succeeded", "{s}");
    let (st, _) = json_run(&p, &["backup", "status"], 0);
    assert_eq!(st["backup_count"], 1, "{st}");
    assert_eq!(
        st["unfinished"],
        serde_json::json!([]),
        "the cleanup after the backup removes the killed one's leftovers: {st}"
    );
    let (v, _) = json_run(&p, &["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");
}

/// Wait until the daemon runs its backup and has written volumes but no manifest.
fn wait_writing(p: &Project) {
    wait_for(
        Duration::from_secs(60),
        "the scheduled backup to start writing",
        || {
            let s = state(p);
            let running = s["running"]["job"] == "weekly_full";
            let backups = p.repo().join("backups");
            let writing = std::fs::read_dir(&backups).ok()?.flatten().any(|e| {
                std::fs::read_dir(e.path())
                    .map(|rd| {
                        let names: Vec<String> = rd
                            .flatten()
                            .map(|f| f.file_name().to_string_lossy().into_owned())
                            .collect();
                        names.iter().any(|n| n.starts_with("vol-"))
                            && !names.iter().any(|n| n == "manifest")
                    })
                    .unwrap_or(false)
            });
            (running && writing).then_some(())
        },
    );
}

#[test]
fn a_second_daemon_on_the_same_state_is_refused() {
    let p = Project::new("");
    p.write("a.txt", "alpha");
    settings(&p, "", "daemon:\n  validation: { enabled: false }\n");
    p.init();
    let child = start(&p, "2026-03-08T12:00:00Z@1", &[]);
    wait_for(Duration::from_secs(30), "the first daemon's state", || {
        state(&p)["pid"].is_number().then_some(())
    });
    let o = p.run(&["daemon", "--no-http"]);
    assert_ne!(code(&o), 0, "{}", shown(&o));
    let err = stderr(&o);
    assert!(err.contains("another daemon is running"), "{err}");
    assert!(
        err.contains(&child.id().to_string()),
        "names the pid: {err}"
    );
    let (sh, _) = json_run(&p, &["schedule", "show"], 0);
    assert_eq!(sh["daemon"]["running"], true, "{sh}");
    let out = stop(child, Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", shown(&out));
}

/// A raw HTTP/1.1 GET: (status, body).
fn get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The body of a chunked response, joined.
fn unchunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            return body.to_string();
        };
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

#[test]
fn the_http_face_reports_health_with_the_daemons_jobs() {
    let p = daily_backup_only();
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let child = start(&p, "2026-03-08T01:59:58Z@1", &["--listen", &listen]);
    wait_port(port);
    wait_for(Duration::from_secs(60), "the backup", || {
        (job(&state(&p), "daily_incremental")["last_result"] == "succeeded").then_some(())
    });
    let (status, body) = get(port, "/health");
    assert_eq!(status, 200, "{body}");
    let body = if body.trim_start().starts_with('{') {
        body
    } else {
        unchunk(&body)
    };
    let h: Value = serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(h["status"], "ok", "{h}");
    assert_eq!(h["daemon"]["state"], "running", "{h}");
    assert_eq!(
        h["daemon"]["jobs"]["daily_incremental"]["last_result"], "succeeded",
        "{h}"
    );
    assert_eq!(h["rpo_target_seconds"], 300, "{h}");
    assert_eq!(h["rpo_met"], true, "{h}");
    let out = stop(child, Duration::from_secs(30));
    assert_eq!(code(&out), 0, "{}", shown(&out));
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the HTTP face still listens after the stop"
    );
}
