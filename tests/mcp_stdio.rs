//! `mahavishnu-dr serve` on stdio: the real binary speaks MCP on stdout and nothing else.

use crate::common;

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::time::Duration;

use common::Project;
use serde_json::{Value, json};

#[test]
fn the_binary_serves_mcp_on_stdio_with_only_protocol_on_stdout() {
    let p = Project::new("");
    p.with_restore_root();
    p.write("app.yaml", "a: 1\n");
    let mut child = p
        .cmd(&["serve"])
        .env("MAHAVISHNU_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    let mut stdin = child.stdin.take().unwrap();
    let stdout = child.stdout.take().unwrap();
    // Drain stderr as it comes: debug logs would fill the pipe and block the server.
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            match line {
                Ok(l) => {
                    if tx.send(l).is_err() {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
    });
    let mut lines: Vec<Value> = Vec::new();
    let mut send = move |v: Value| {
        writeln!(stdin, "{v}").unwrap();
        stdin.flush().unwrap();
    };
    let wait_for = |id: i64, lines: &mut Vec<Value>| -> Value {
        loop {
            let l = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("a reply within 60 s");
            let v: Value = serde_json::from_str(&l)
                .unwrap_or_else(|e| panic!("stdout carried a non-JSON line ({e}): {l:?}"));
            assert_eq!(v["jsonrpc"], "2.0", "not JSON-RPC: {l}");
            lines.push(v.clone());
            if v["id"] == id {
                return v;
            }
        }
    };
    send(
        json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"test","version":"1"}}}),
    );
    let init = wait_for(1, &mut lines);
    assert_eq!(init["result"]["serverInfo"]["name"], "mahavishnu-dr");
    assert!(init["result"]["capabilities"]["tools"].is_object());
    send(json!({"jsonrpc":"2.0","method":"notifications/initialized"}));
    send(json!({"jsonrpc":"2.0","id":2,"method":"tools/list"}));
    let tools = wait_for(2, &mut lines);
    assert_eq!(tools["result"]["tools"].as_array().unwrap().len(), 21);
    send(
        json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{
        "name":"backup_run","arguments":{"backup_type":"full"},"_meta":{"progressToken":"tok-7"}}}),
    );
    let run = wait_for(3, &mut lines);
    assert_eq!(run["result"]["isError"], false, "{run}");
    assert_eq!(run["result"]["structuredContent"]["backup_type"], "full");
    let progress: Vec<&Value> = lines
        .iter()
        .filter(|l| l["method"] == "notifications/progress")
        .collect();
    assert!(!progress.is_empty(), "no progress notification");
    assert!(
        progress
            .iter()
            .all(|n| n["params"]["progressToken"] == "tok-7")
    );
    // backup_diff over stdio: a deleted file is listed as removed, with its size.
    std::fs::remove_file(p.data().join("app.yaml")).unwrap();
    send(
        json!({"jsonrpc":"2.0","id":30,"method":"tools/call","params":{
        "name":"backup_diff","arguments":{}}}),
    );
    let diff = wait_for(30, &mut lines);
    assert_eq!(diff["result"]["isError"], false, "{diff}");
    let removed = &diff["result"]["structuredContent"]["removed"];
    assert_eq!(removed[0]["path"], "data/app.yaml", "{diff}");
    assert_eq!(removed[0]["backup"]["size"], 5, "{diff}");
    send(
        json!({"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":"dr://settings"}}),
    );
    let res = wait_for(4, &mut lines);
    assert!(
        res["result"]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .contains("restore_roots")
    );

    // Closing stdin ends the session and the process, cleanly, with nothing more on stdout.
    drop(send);
    let status = child.wait().expect("serve exits");
    assert!(status.success(), "serve exited with {status}");
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
        let v: Value = serde_json::from_str(&l)
            .unwrap_or_else(|e| panic!("stdout carried a non-JSON line ({e}): {l:?}"));
        assert_eq!(v["jsonrpc"], "2.0");
    }
    // Logs went to stderr (debug logging was on).
    let err = err_reader.join().unwrap();
    assert!(!err.is_empty(), "debug logs should be on stderr");
}
