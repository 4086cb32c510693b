//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, Node 22) against
//! `serve --http`: every scenario passes except those in tests/mcp/conformance/
//! expected-failures.yml, which exercise the suite's own fixture tools, resources and prompts.

mod common;

use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Project;

#[test]
fn the_conformance_suite_passes_outside_its_fixture_scenarios() {
    let p = Project::new("");
    p.with_restore_root();
    p.write("a.txt", "a\n");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = p
        .cmd(&["serve", "--http", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve --http");
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let results = p.root().join("conformance-results");
    let run = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/conformance/run.sh"))
        .arg(format!("http://localhost:{port}/mcp"))
        .env("MAHAVISHNU_CONFORMANCE_RESULTS", &results)
        .output()
        .expect("run the conformance suite");
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success(),
        "conformance failures outside the baseline\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    // The scenarios that must pass did run and pass.
    for scenario in [
        "server-initialize",
        "ping",
        "tools-list",
        "resources-list",
        "prompts-list",
        "logging-set-level",
        "dns-rebinding-protection",
        "server-sse-multiple-streams",
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with("PASS") && l.contains(scenario)),
            "{scenario} did not pass:\n{stdout}"
        );
    }
}
