//! The official MCP Python SDK (`pip install mcp`, in a venv) drives the real binary over stdio:
//! lists the tools, runs a backup with a progress callback, and checks every structured result
//! against its tool's output schema (tests/mcp/python/sdk_client.py).

use crate::common;

use std::path::Path;
use std::process::Command;

use common::{BIN, Project};

fn script(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn the_python_sdk_client_passes_every_check() {
    let setup = Command::new("bash")
        .arg(script("tests/mcp/python/setup.sh"))
        .output()
        .expect("run setup.sh");
    let out = String::from_utf8_lossy(&setup.stdout);
    assert!(
        setup.status.success(),
        "python setup failed\n{out}\n{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let python = out
        .lines()
        .find_map(|l| l.strip_prefix("PYTHON="))
        .expect("setup.sh prints PYTHON=");

    let p = Project::new("");
    p.with_restore_root();
    p.write("app/config.yaml", "workers: 4\n");
    p.write("state/db.json", "{\"n\": 1}\n");
    let run = Command::new(python)
        .arg(script("tests/mcp/python/sdk_client.py"))
        .arg(BIN)
        .arg(p.config())
        .arg("--server-log")
        .arg(p.root().join("serve.log"))
        .current_dir(p.root())
        .output()
        .expect("run sdk_client.py");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    let log = std::fs::read_to_string(p.root().join("serve.log")).unwrap_or_default();
    assert!(
        run.status.success(),
        "sdk_client.py failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server log\n{log}"
    );
    assert!(
        stdout.contains("all") && stdout.contains("checks passed"),
        "{stdout}"
    );
    // Its backups are real: the repository has them.
    assert_eq!(p.json(&["backup", "list"], 0)["total_count"], 2);
}
