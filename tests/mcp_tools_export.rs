//! tools/ holds exactly what `mahavishnu-dr tools export` writes, which is what the server
//! registers: a changed tool without a re-export fails here.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;

use common::BIN;

fn read_dir(dir: &Path) -> BTreeMap<String, String> {
    std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read_to_string(e.path()).unwrap())
        })
        .collect()
}

#[test]
fn checked_in_tools_match_what_the_server_registers() {
    let t = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(BIN)
        .args(["tools", "export"])
        .arg(t.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exported = read_dir(t.path());
    let checked_in = read_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tools"));
    assert_eq!(
        exported.keys().collect::<Vec<_>>(),
        checked_in.keys().collect::<Vec<_>>(),
        "tools/ lists other tools than the server: run `cargo run -- tools export` and commit tools/"
    );
    for (name, text) in &exported {
        assert_eq!(
            &checked_in[name], text,
            "tools/{name} differs from the server's definition: run `cargo run -- tools export` and commit tools/"
        );
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        for key in [
            "name",
            "title",
            "description",
            "inputSchema",
            "outputSchema",
            "annotations",
        ] {
            assert!(!v[key].is_null(), "{name} lacks {key}");
        }
        assert_eq!(format!("{}.json", v["name"].as_str().unwrap()), *name);
    }
    assert_eq!(exported.len(), 21);
}
