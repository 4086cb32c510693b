//! The MCP Inspector CLI (`@modelcontextprotocol/inspector`, Node 22) lists the real binary's
//! tools over stdio with `--strict`, its tool-schema portability lint: no finding at all, not
//! even a warning (a `type` array such as `["string", "null"]` is one: single-type dialects like
//! Gemini's reject it). A negative control shows the lint runs: a fixture server with one
//! nullable field written as a type array gets exactly that warning.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use common::{BIN, Project};

fn script(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// (node, the Inspector's launcher), installed by tests/mcp/inspector/setup.sh.
fn setup() -> (String, String) {
    let setup = Command::new("bash")
        .arg(script("tests/mcp/inspector/setup.sh"))
        .output()
        .expect("run setup.sh");
    let out = String::from_utf8_lossy(&setup.stdout);
    assert!(
        setup.status.success(),
        "inspector setup failed\n{out}\n{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let get = |key: &str| {
        out.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or_else(|| panic!("setup.sh prints {key}"))
            .to_owned()
    };
    (get("NODE="), get("INSPECTOR="))
}

/// `inspector --cli --format json [--cwd cwd] server... --method tools/list --strict`: the exit
/// status, the JSON envelope on stdout, and stderr.
fn list_tools_strict(cwd: &Path, server: &[&str]) -> (Output, Value, String) {
    let (node, inspector) = setup();
    let mut cmd = Command::new(&node);
    cmd.arg(&inspector)
        .args(["--cli", "--format", "json", "--cwd"])
        .arg(cwd)
        .args(server)
        .args(["--method", "tools/list", "--strict"])
        .current_dir(cwd);
    for (k, _) in std::env::vars() {
        if k.starts_with("MAHAVISHNU_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().expect("run the inspector");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "inspector failed: {:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    let v: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{stdout}\n--- stderr\n{stderr}"));
    (out, v, stderr)
}

#[test]
fn the_inspector_finds_no_portability_problem_in_any_tool_schema() {
    let p = Project::new("");
    p.with_restore_root();
    // The project's settings are at <root>/settings/mahavishnu.yaml, the binary's default path
    // from <root> (the Inspector has a --config option of its own).
    let (_, v, stderr) = list_tools_strict(p.root(), &[BIN, "serve"]);
    let findings = v.get("schemaFindings").cloned().unwrap_or(Value::Null);
    assert!(
        findings.is_null() || findings.as_array().is_some_and(Vec::is_empty),
        "the inspector's --strict lint reports problems:\n{findings:#}\n--- stderr\n{stderr}"
    );
    for needle in ["Warning:", "Error:", "Schema portability"] {
        assert!(!stderr.contains(needle), "{needle} on stderr:\n{stderr}");
    }
    let tools = v["result"]["tools"].as_array().expect("result.tools");
    assert_eq!(tools.len(), 21, "{v:#}");
    for t in tools {
        assert_eq!(t["outputSchema"]["type"], "object", "{}", t["name"]);
    }
}

#[test]
fn the_inspector_lint_reports_a_type_array() {
    let t = tempfile::tempdir().unwrap();
    let (node, _) = setup();
    let fixture = script("tests/mcp/inspector/type_union_server.mjs");
    let (_, v, stderr) = list_tools_strict(t.path(), &[&node, fixture.to_str().unwrap()]);
    let findings = &v["schemaFindings"];
    assert_eq!(
        findings.as_array().map(Vec::len),
        Some(1),
        "{v:#}\n{stderr}"
    );
    let f = &findings[0]["findings"];
    assert_eq!(f.as_array().map(Vec::len), Some(1), "{f:#}");
    assert_eq!(f[0]["rule"], "type-union");
    assert_eq!(f[0]["severity"], "warning");
    assert_eq!(f[0]["path"], "properties.value");
    assert!(stderr.contains("Warning:"), "{stderr}");
}
