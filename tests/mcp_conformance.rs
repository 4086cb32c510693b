//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, Node 22) against
//! `serve --http`: every scenario passes except those in tests/mcp/conformance/
//! expected-failures.yml, which exercise the suite's own fixture tools, resources and prompts.

use crate::common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{Project, free_port, wait_port};

#[test]
fn the_conformance_suite_passes_outside_its_fixture_scenarios() {
    let p = Project::new("");
    p.with_restore_root();
    p.write("a.txt", "a\n");
    let port = free_port();
    let mut server = p
        .cmd(&["serve", "--http", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start serve --http");
    wait_port(port);
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
