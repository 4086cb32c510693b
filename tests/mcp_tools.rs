//! The MCP tools, in process: an rmcp client talks to the server over an in-memory pipe, on a
//! real repository in a temporary project.

use crate::common;

use std::path::Path;

use common::Project;
use common::mcp::{Client, Collector, call, call_raw, is_tool_error, obj, ok_structured, text};
use mahavishnu_dr::DrServer;
use mahavishnu_dr::{Dr, load_settings};
use rmcp::ServiceExt;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, ClientRequest, GetPromptRequestParams,
    ReadResourceRequestParams, ResourceContents, Tool,
};
use rmcp::service::PeerRequestOptions;
use serde_json::{Value, json};

const TOOLS: [&str; 21] = [
    "backup_run",
    "backup_status",
    "backup_list",
    "backup_validate",
    "backup_cleanup",
    "backup_replicate",
    "retention_extend",
    "backup_diff",
    "restore_run",
    "create_backup",
    "list_backups",
    "restore_backup",
    "restore_test_run",
    "measure_rto",
    "measure_rpo",
    "drill_list_scenarios",
    "drill_run",
    "drill_report",
    "schedule_status",
    "report",
    "run_disaster_recovery_check",
];

struct Session {
    project: Project,
    client: Client,
    collector: Collector,
    tools: Vec<Tool>,
}

async fn session(project: Project) -> Session {
    let loaded = load_settings(Some(&project.config()), project.root(), &[]).expect("settings");
    let server = DrServer::new(Dr::new(loaded).expect("dr"));
    let (a, b) = tokio::io::duplex(1 << 20);
    tokio::spawn(async move {
        let running = server.serve(a).await.expect("server starts");
        let _ = running.waiting().await;
    });
    let collector = Collector::default();
    let client = collector.clone().serve(b).await.expect("client connects");
    let tools = client.list_all_tools().await.expect("tools/list");
    Session {
        project,
        client,
        collector,
        tools,
    }
}

fn project_with_data() -> Project {
    let p = Project::new("");
    p.with_restore_root();
    p.write("app/config.yaml", "name: mahavishnu\nworkers: 4\n");
    p.write("state/workflows.json", r#"{"running": 3}"#);
    p
}

fn backup_ids(repo: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(repo.join("backups"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter(|e| e.path().join("manifest").exists())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

#[tokio::test]
async fn tools_are_listed_with_flat_inputs_output_schemas_and_annotations() {
    let s = session(project_with_data()).await;
    let names: Vec<&str> = s.tools.iter().map(|t| t.name.as_ref()).collect();
    assert_eq!(names, TOOLS);
    for t in &s.tools {
        let input = serde_json::to_string(&*t.input_schema).unwrap();
        assert_eq!(
            t.input_schema.get("type"),
            Some(&json!("object")),
            "{}",
            t.name
        );
        for bad in ["$ref", "$defs", "anyOf", "oneOf", "\"null\"", "uint"] {
            assert!(
                !input.contains(bad),
                "{}: input schema has {bad}: {input}",
                t.name
            );
        }
        let out = t.output_schema.as_ref().expect("output schema");
        assert_eq!(out.get("type"), Some(&json!("object")), "{}", t.name);
        assert!(!serde_json::to_string(&**out).unwrap().contains("$ref"));
        let d = t.description.as_deref().unwrap_or("");
        assert!(
            d.len() > 80,
            "{}: description too thin for an agent: {d}",
            t.name
        );
        let a = t.annotations.as_ref().expect("annotations");
        let read_only = matches!(
            t.name.as_ref(),
            "backup_status"
                | "backup_list"
                | "backup_diff"
                | "list_backups"
                | "drill_list_scenarios"
                | "drill_report"
                | "schedule_status"
                | "report"
                | "run_disaster_recovery_check"
        );
        assert_eq!(a.read_only_hint, Some(read_only), "{}", t.name);
        let destructive = matches!(t.name.as_ref(), "backup_cleanup" | "restore_run");
        assert_eq!(a.destructive_hint, Some(destructive), "{}", t.name);
        if read_only {
            assert_eq!(a.idempotent_hint, Some(true), "{}", t.name);
        }
    }
    // drill_run: writes a record and a sandbox, never live data; a new drill each call; long.
    let drill = s.tools.iter().find(|t| t.name == "drill_run").unwrap();
    let a = drill.annotations.as_ref().unwrap();
    assert_eq!(a.idempotent_hint, Some(false));
    let d = drill.description.as_deref().unwrap_or("");
    for needle in [
        "sandbox",
        "scratch repositories",
        "only read",
        "history record",
        "confirm=true",
    ] {
        assert!(
            d.contains(needle),
            "drill_run description lacks {needle:?}: {d}"
        );
    }
    let p = &drill.input_schema["properties"];
    assert_eq!(
        p["dry_run"]["default"],
        json!(true),
        "an MCP drill plans by default"
    );
    assert_eq!(p["confirm"]["default"], json!(false));
    assert_eq!(
        p["scenario"]["enum"].as_array().map(Vec::len),
        Some(5),
        "{p:#}"
    );
    // The backup_run input: an enum with a default, nothing nullable.
    let run = s.tools.iter().find(|t| t.name == "backup_run").unwrap();
    let bt = &run.input_schema["properties"]["backup_type"];
    assert_eq!(bt["enum"], json!(["full", "incremental", "archival"]));
    assert_eq!(bt["default"], json!("incremental"));
    let list = s.tools.iter().find(|t| t.name == "backup_list").unwrap();
    assert_eq!(
        list.input_schema["properties"]["limit"]["type"],
        json!("integer")
    );
}

#[tokio::test]
async fn every_tool_works_and_its_result_matches_its_output_schema() {
    let s = session(project_with_data()).await;
    let t = &s.tools;
    let r = call(&s.client, "backup_run", json!({"backup_type": "full"})).await;
    let full = ok_structured(t, "backup_run", &r);
    assert_eq!(full["backup_type"], "full");
    assert_eq!(full["verified"], true);
    let full_id = full["backup_id"].as_str().unwrap().to_string();
    // The text content carries the same JSON, for clients without structured content.
    assert_eq!(serde_json::from_str::<Value>(&text(&r)).unwrap(), full);

    // backup_diff: nothing differs from a fresh backup; a new file shows as added.
    let d = ok_structured(
        t,
        "backup_diff",
        &call(&s.client, "backup_diff", json!({})).await,
    );
    assert_eq!(d["differences"], false, "{d:#}");
    s.project.write("app/new.yaml", "added: true\n");
    let d = ok_structured(
        t,
        "backup_diff",
        &call(
            &s.client,
            "backup_diff",
            json!({"backup_id": full_id, "paths": ["data/app"]}),
        )
        .await,
    );
    assert_eq!(d["added"][0]["path"], "data/app/new.yaml", "{d:#}");
    assert_eq!(d["counts"]["added"]["total"], 1);
    is_tool_error(
        "backup_diff",
        &call(&s.client, "backup_diff", json!({"paths": ["data/none"]})).await,
        &["data/none", "names nothing"],
    );
    std::fs::remove_file(s.project.data().join("app/new.yaml")).unwrap();

    s.project.write("state/workflows.json", r#"{"running": 4}"#);
    let r = call(
        &s.client,
        "create_backup",
        json!({"backup_type": "incremental", "backup_id": "nightly-1"}),
    )
    .await;
    let created = ok_structured(t, "create_backup", &r);
    assert_eq!(created["status"], "success");
    assert_eq!(created["backup_type"], "incremental");
    let inc_id = created["backup_id"].as_str().unwrap().to_string();
    assert!(
        created["location"]
            .as_str()
            .unwrap()
            .ends_with(&format!("backups/{inc_id}"))
    );
    assert!(created["message"].as_str().unwrap().contains("nightly-1"));
    assert!(created["size_bytes"].as_i64().unwrap() > 0);
    assert_eq!(
        backup_ids(&s.project.repo()),
        vec![full_id.clone(), inc_id.clone()]
    );

    let status = ok_structured(
        t,
        "backup_status",
        &call(&s.client, "backup_status", json!({})).await,
    );
    assert_eq!(status["backup_count"], 2);
    assert_eq!(status["latest"]["backup_id"], inc_id.as_str());

    let list = ok_structured(
        t,
        "backup_list",
        &call(
            &s.client,
            "backup_list",
            json!({"limit": 1, "backup_type": "full"}),
        )
        .await,
    );
    assert_eq!(list["total_count"], 1);
    assert_eq!(list["backups"][0]["backup_id"], full_id.as_str());
    // Hosts: every backup names this host; `host` filters listings and status.
    let here = gethostname::gethostname().to_string_lossy().into_owned();
    assert_eq!(status["hosts"][0]["host"], here.as_str(), "{status}");
    assert_eq!(status["hosts"][0]["newest_backup_id"], inc_id.as_str());
    assert_eq!(status["hosts"][0]["this_host"], true);
    for (host, count) in [(here.as_str(), 2), ("another-host", 0)] {
        let list = ok_structured(
            t,
            "backup_list",
            &call(&s.client, "backup_list", json!({"host": host})).await,
        );
        assert_eq!(list["total_count"], count, "{host}: {list}");
        let status = ok_structured(
            t,
            "backup_status",
            &call(&s.client, "backup_status", json!({"host": host})).await,
        );
        assert_eq!(status["backup_count"], count, "{host}: {status}");
        assert_eq!(status["host_filter"], host, "{status}");
    }

    let listed = ok_structured(
        t,
        "list_backups",
        &call(&s.client, "list_backups", json!({})).await,
    );
    assert_eq!(listed["status"], "success");
    assert_eq!(listed["total_count"], 2);
    assert_eq!(listed["backups"][0]["backup_id"], inc_id.as_str());
    assert_eq!(listed["backups"][0]["status"], "completed");

    let v = ok_structured(
        t,
        "backup_validate",
        &call(
            &s.client,
            "backup_validate",
            json!({"level": "full", "backup_id": inc_id}),
        )
        .await,
    );
    assert_eq!(v["ok"], true);
    assert_eq!(v["level"], "full");
    assert!(v["files_checked"].as_u64().unwrap() >= 2);

    let check = ok_structured(
        t,
        "run_disaster_recovery_check",
        &call(&s.client, "run_disaster_recovery_check", json!({})).await,
    );
    assert_eq!(check["status"], "success");
    assert_eq!(
        check["results"]["checks"]["backups_available"]["status"],
        "pass"
    );
    assert_eq!(check["results"]["checks"]["backups_available"]["count"], 2);
    assert_eq!(
        check["results"]["checks"]["backup_integrity"]["status"],
        "pass"
    );
    assert_eq!(check["results"]["checks"]["backup_integrity"]["failed"], 0);
    assert_eq!(
        check["results"]["checks"]["last_validation"]["status"], "pass",
        "the validation above is kept and read: {check:#}"
    );

    // Restore test, RTO and RPO measurements: measured, kept, and read by the report.
    let rt = ok_structured(
        t,
        "restore_test_run",
        &call(&s.client, "restore_test_run", json!({})).await,
    );
    assert_eq!(rt["backup_id"], inc_id.as_str());
    assert_eq!(rt["restore_ok"], true, "{rt:#}");
    assert!(rt["record_id"].is_string());
    let rto = ok_structured(
        t,
        "measure_rto",
        &call(&s.client, "measure_rto", json!({"backup_id": full_id})).await,
    );
    assert_eq!(rto["backup_id"], full_id.as_str());
    assert_eq!(rto["verified"], true);
    assert!(rto["rto_seconds"].as_f64().unwrap() > 0.0);
    let rpo = ok_structured(
        t,
        "measure_rpo",
        &call(&s.client, "measure_rpo", json!({"days": 7})).await,
    );
    assert_eq!(rpo["worst_gap"]["window_days"], 7, "{rpo:#}");
    let r = call(&s.client, "report", json!({"last": 3})).await;
    let report = ok_structured(t, "report", &r);
    assert_eq!(report["history"]["records"].as_array().unwrap().len(), 3);
    assert_eq!(report["history"]["total"], 4);
    assert_eq!(report["rto_trend"].as_array().unwrap().len(), 2);
    assert_eq!(serde_json::from_str::<Value>(&text(&r)).unwrap(), report);
    let r = call(&s.client, "report", json!({"format": "markdown"})).await;
    let same = ok_structured(t, "report", &r);
    assert_eq!(same["verdict"], report["verdict"]);
    assert!(
        text(&r).starts_with("# DR report: "),
        "markdown as the text content: {}",
        text(&r)
    );

    let plan = ok_structured(
        t,
        "backup_cleanup",
        &call(&s.client, "backup_cleanup", json!({})).await,
    );
    assert_eq!(plan["dry_run"], true, "cleanup defaults to a dry run");

    // restore_run into the restore root: the incremental's state, verified.
    let roots = s.project.root().join("restores");
    let target = roots.join("run1");
    let r = ok_structured(
        t,
        "restore_run",
        &call(
            &s.client,
            "restore_run",
            json!({"target_dir": target, "backup_id": inc_id}),
        )
        .await,
    );
    assert_eq!(r["verified"], true);
    assert_eq!(
        std::fs::read_to_string(target.join("data/state/workflows.json")).unwrap(),
        r#"{"running": 4}"#
    );
    // A relative target lies inside the first root; `paths` restores only what is asked for.
    let r = ok_structured(
        t,
        "restore_run",
        &call(
            &s.client,
            "restore_run",
            json!({"target_dir": "only-config", "backup_id": full_id, "paths": ["data/app"]}),
        )
        .await,
    );
    assert_eq!(r["files"], 1);
    assert!(roots.join("only-config/data/app/config.yaml").exists());
    assert!(!roots.join("only-config/data/state").exists());
    // `latest` of a host that made no backup here: an error naming it, nothing restored.
    let r = call(
        &s.client,
        "restore_run",
        json!({"target_dir": "other-host", "host": "another-host"}),
    )
    .await;
    is_tool_error("restore_run", &r, &["another-host", &here]);
    assert!(!roots.join("other-host/data").exists());

    // restore_backup (orchestrator): a fresh folder in the first root, never over anything.
    let r = ok_structured(
        t,
        "restore_backup",
        &call(&s.client, "restore_backup", json!({"backup_id": full_id})).await,
    );
    assert_eq!(r["status"], "success");
    assert_eq!(r["backup_id"], full_id.as_str());
    let dir = Path::new(r["target_dir"].as_str().unwrap());
    assert!(dir.starts_with(&roots), "{dir:?}");
    assert_eq!(
        std::fs::read_to_string(dir.join("data/state/workflows.json")).unwrap(),
        r#"{"running": 3}"#
    );
    let again = ok_structured(
        t,
        "restore_backup",
        &call(&s.client, "restore_backup", json!({"backup_id": full_id})).await,
    );
    assert_ne!(
        again["target_dir"], r["target_dir"],
        "each restore_backup gets its own folder"
    );
}

/// The MCP face words a recommendation as a tool call, in the structured content and the text.
#[tokio::test(flavor = "multi_thread")]
async fn recommendations_are_tool_calls() {
    let s = session(project_with_data()).await;
    let t = &s.tools;
    let call_full = r#"call `backup_run {"backup_type":"full"}`"#;
    let r = call(&s.client, "report", json!({"format": "markdown"})).await;
    let report = ok_structured(t, "report", &r);
    let available = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "backups_available")
        .unwrap();
    assert_eq!(available["action"], call_full, "{report:#}");
    assert!(
        report["recommendations"][0]
            .as_str()
            .unwrap()
            .ends_with(call_full),
        "{report:#}"
    );
    assert!(text(&r).contains(call_full), "{}", text(&r));
    // No command line anywhere an agent reads: checks, recommendations and the text.
    let structured = report.to_string();
    assert!(!structured.contains("`mahavishnu-dr "), "{report:#}");
    assert!(!text(&r).contains("`mahavishnu-dr "), "{}", text(&r));
    let check = ok_structured(
        t,
        "run_disaster_recovery_check",
        &call(&s.client, "run_disaster_recovery_check", json!({})).await,
    );
    assert_eq!(
        check["results"]["checks"]["backups_available"]["action"], call_full,
        "{check:#}"
    );
    // The RPO measurement's own recommendations (with a backup to measure).
    ok_structured(
        t,
        "backup_run",
        &call(&s.client, "backup_run", json!({"backup_type": "full"})).await,
    );
    let rpo = ok_structured(
        t,
        "measure_rpo",
        &call(&s.client, "measure_rpo", json!({})).await,
    );
    let recs = rpo["recommendations"].as_array().unwrap();
    assert!(!recs.is_empty(), "{rpo:#}");
    assert!(
        recs.iter()
            .all(|r| !r.as_str().unwrap().contains("`mahavishnu-dr ")),
        "{rpo:#}"
    );
}

#[tokio::test]
async fn bad_arguments_are_tool_errors_and_unknown_tools_protocol_errors() {
    let s = session(project_with_data()).await;
    let c = &s.client;
    let r = call(c, "backup_run", json!({"backup_type": "weekly"})).await;
    is_tool_error("backup_run", &r, &["backup_type", "weekly", "full"]);
    let r = call(c, "backup_list", json!({"limit": "ten"})).await;
    is_tool_error("backup_list", &r, &["limit"]);
    let r = call(c, "backup_list", json!({"limit": -1})).await;
    is_tool_error("backup_list", &r, &["limit"]);
    let r = call(c, "backup_status", json!({"verbose": true})).await;
    is_tool_error("backup_status", &r, &["verbose"]);
    let r = call(c, "restore_run", json!({})).await;
    is_tool_error("restore_run", &r, &["target_dir"]);
    let r = call(c, "backup_validate", json!({"sample_percent": 0})).await;
    is_tool_error("backup_validate", &r, &["sample_percent"]);
    // Nothing was made by any of these.
    assert!(backup_ids(&s.project.repo()).is_empty());
    // An operation failure is a tool error that says what to do.
    let r = call(
        c,
        "backup_validate",
        json!({"backup_id": "backup_20990101T000000.000Z_00000000"}),
    )
    .await;
    let t = is_tool_error("backup_validate", &r, &["What to do"]);
    assert!(t.contains("repository") || t.contains("backup"), "{t}");
    // What to do is worded for an agent: a tool call, never a command line.
    assert!(!t.contains("`mahavishnu-dr "), "{t}");
    // Every tool rejects an argument it does not have, naming it, and does nothing.
    for name in TOOLS {
        let r = call(c, name, json!({"bogus_flag": 1})).await;
        is_tool_error(name, &r, &["bogus_flag", name]);
    }
    assert!(backup_ids(&s.project.repo()).is_empty());
    assert_eq!(
        std::fs::read_dir(s.project.root().join("restores"))
            .unwrap()
            .count(),
        0
    );
    // Unknown tools: the protocol error, not a tool result.
    let e = call_raw(c, "drop_everything", json!({})).await.unwrap_err();
    assert!(e.to_string().contains("drop_everything"), "{e}");
}

#[tokio::test]
async fn destructive_calls_are_refused_without_confirmation() {
    let s = session(project_with_data()).await;
    let c = &s.client;
    ok_structured(
        &s.tools,
        "backup_run",
        &call(c, "backup_run", json!({"backup_type": "full"})).await,
    );

    // Cleanup: a leftover temporary object that a confirmed cleanup removes.
    let leftover = s.project.repo().join("tmp/leftover.partial");
    std::fs::create_dir_all(leftover.parent().unwrap()).unwrap();
    std::fs::write(&leftover, b"partial upload").unwrap();
    let r = call(c, "backup_cleanup", json!({"dry_run": false})).await;
    is_tool_error("backup_cleanup", &r, &["confirm", "nothing was deleted"]);
    assert!(leftover.exists(), "a refused cleanup deleted something");
    let plan = ok_structured(
        &s.tools,
        "backup_cleanup",
        &call(
            c,
            "backup_cleanup",
            json!({"dry_run": true, "confirm": true}),
        )
        .await,
    );
    assert_eq!(plan["dry_run"], true);
    assert!(leftover.exists(), "a dry run deleted something");
    let done = ok_structured(
        &s.tools,
        "backup_cleanup",
        &call(
            c,
            "backup_cleanup",
            json!({"dry_run": false, "confirm": true}),
        )
        .await,
    );
    assert_eq!(done["dry_run"], false);
    assert!(
        !leftover.exists(),
        "the confirmed cleanup kept the leftover"
    );

    // Restore outside the roots: refused, naming the allowed roots, nothing written.
    let outside = s.project.root().join("live");
    let r = call(c, "restore_run", json!({"target_dir": outside})).await;
    let roots = s.project.root().join("restores");
    is_tool_error(
        "restore_run",
        &r,
        &["outside", &roots.display().to_string()],
    );
    assert!(!outside.exists());
    let r = call(
        c,
        "restore_run",
        json!({"target_dir": roots.join("../live")}),
    )
    .await;
    is_tool_error("restore_run", &r, &[".."]);
    assert!(!outside.exists());
    // A symlink inside the root pointing at live data does not make it inside.
    std::fs::create_dir_all(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, roots.join("sneaky")).unwrap();
    let r = call(
        c,
        "restore_run",
        json!({"target_dir": roots.join("sneaky/x")}),
    )
    .await;
    is_tool_error("restore_run", &r, &["outside"]);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);

    // Restore over existing data: needs overwrite and confirm.
    let target = roots.join("existing");
    std::fs::create_dir_all(target.join("data/app")).unwrap();
    std::fs::write(target.join("data/app/config.yaml"), "hand edited\n").unwrap();
    let r = call(c, "restore_run", json!({"target_dir": target})).await;
    is_tool_error("restore_run", &r, &["not empty", "overwrite"]);
    let r = call(
        c,
        "restore_run",
        json!({"target_dir": target, "overwrite": true}),
    )
    .await;
    is_tool_error("restore_run", &r, &["confirm"]);
    assert_eq!(
        std::fs::read_to_string(target.join("data/app/config.yaml")).unwrap(),
        "hand edited\n"
    );
    ok_structured(
        &s.tools,
        "restore_run",
        &call(
            c,
            "restore_run",
            json!({"target_dir": target, "overwrite": true, "confirm": true}),
        )
        .await,
    );
    assert_eq!(
        std::fs::read_to_string(target.join("data/app/config.yaml")).unwrap(),
        "name: mahavishnu\nworkers: 4\n"
    );
}

fn write_random(p: &Project, files: usize, size: usize) {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..files {
        let mut buf = vec![0u8; size];
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        p.write(&format!("blobs/{i:03}.bin"), buf);
    }
}

#[tokio::test]
async fn long_tools_send_increasing_progress_with_the_callers_token() {
    let p = project_with_data();
    write_random(&p, 12, 1 << 20);
    let s = session(p).await;
    let r = call(&s.client, "backup_run", json!({"backup_type": "full"})).await;
    ok_structured(&s.tools, "backup_run", &r);
    let progress = s.collector.progress.lock().unwrap().clone();
    assert!(
        progress.len() >= 2,
        "expected progress notifications, got {progress:?}"
    );
    let token = &progress[0].progress_token;
    assert!(
        progress.iter().all(|n| &n.progress_token == token),
        "one token per call"
    );
    for w in progress.windows(2) {
        assert!(
            w[1].progress > w[0].progress,
            "progress must increase: {progress:?}"
        );
    }
    let messages: Vec<&str> = progress
        .iter()
        .filter_map(|n| n.message.as_deref())
        .collect();
    assert!(
        messages.iter().any(|m| m.starts_with("storing")),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.starts_with("verifying")),
        "{messages:?}"
    );
    assert!(messages.iter().any(|m| m.contains('%')), "{messages:?}");

    // Restore and validate report progress too.
    s.collector.progress.lock().unwrap().clear();
    let target = s.project.root().join("restores/progress");
    ok_structured(
        &s.tools,
        "restore_run",
        &call(&s.client, "restore_run", json!({"target_dir": target})).await,
    );
    let n = s.collector.progress.lock().unwrap().len();
    assert!(n >= 1, "restore sent no progress");
    s.collector.progress.lock().unwrap().clear();
    ok_structured(
        &s.tools,
        "backup_validate",
        &call(&s.client, "backup_validate", json!({"level": "full"})).await,
    );
    assert!(
        !s.collector.progress.lock().unwrap().is_empty(),
        "validate sent no progress"
    );
    // So do the restore test and the RTO measurement (both restore the chain).
    for tool in ["restore_test_run", "measure_rto"] {
        s.collector.progress.lock().unwrap().clear();
        ok_structured(&s.tools, tool, &call(&s.client, tool, json!({})).await);
        let progress = s.collector.progress.lock().unwrap().clone();
        assert!(!progress.is_empty(), "{tool} sent no progress");
        for w in progress.windows(2) {
            assert!(w[1].progress > w[0].progress, "{tool}: {progress:?}");
        }
    }
}

#[tokio::test]
async fn a_cancelled_backup_commits_nothing_and_leaves_the_repository_valid() {
    let p = project_with_data();
    let s = session(p).await;
    ok_structured(
        &s.tools,
        "backup_run",
        &call(&s.client, "backup_run", json!({"backup_type": "full"})).await,
    );
    let before = backup_ids(&s.project.repo());
    write_random(&s.project, 48, 1 << 20);
    s.collector.progress.lock().unwrap().clear();

    let notified = s.collector.got_progress.notified();
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new("backup_run")
            .with_arguments(obj(json!({"backup_type": "full"}))),
    ));
    let handle = s
        .client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .expect("request sent");
    // Cancel once the backup is under way (its first progress notification).
    tokio::time::timeout(std::time::Duration::from_secs(60), notified)
        .await
        .expect("progress before the backup ended");
    handle
        .cancel(Some("test cancels".into()))
        .await
        .expect("cancel sent");

    // The server stops the cancelled backup and releases its lock; then the repository is as
    // before, and valid.
    let locks = s.project.repo().join("locks");
    let lock_count = || std::fs::read_dir(&locks).map_or(0, |rd| rd.count());
    let mut waited = 0;
    while lock_count() > 0 && waited < 600 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(lock_count(), 0, "the cancelled backup still holds its lock");
    let after = backup_ids(&s.project.repo());
    assert_eq!(after, before, "a cancelled backup committed a manifest");
    let st = ok_structured(
        &s.tools,
        "backup_status",
        &call(&s.client, "backup_status", json!({})).await,
    );
    assert_eq!(st["backup_count"], 1, "{st:#}");
    let v = ok_structured(
        &s.tools,
        "backup_validate",
        &call(&s.client, "backup_validate", json!({"level": "full"})).await,
    );
    assert_eq!(v["ok"], true, "{v:#}");
    eprintln!("after cancel: unfinished {}", st["unfinished"]);
    // And the next backup works.
    let r = ok_structured(
        &s.tools,
        "backup_run",
        &call(&s.client, "backup_run", json!({})).await,
    );
    assert_eq!(r["status"], "completed");
}

#[tokio::test]
async fn a_cancelled_drill_tears_its_sandbox_down_and_is_kept_as_failed() {
    let p = project_with_data();
    write_random(&p, 16, 1 << 20);
    let s = session(p).await;
    ok_structured(
        &s.tools,
        "backup_run",
        &call(&s.client, "backup_run", json!({"backup_type": "full"})).await,
    );
    s.collector.progress.lock().unwrap().clear();
    let notified = s.collector.got_progress.notified();
    let request = ClientRequest::CallToolRequest(CallToolRequest::new(
        CallToolRequestParams::new("drill_run").with_arguments(obj(json!({
            "scenario": "network_partition", "dry_run": false, "confirm": true
        }))),
    ));
    let handle = s
        .client
        .send_cancellable_request(request, PeerRequestOptions::no_options())
        .await
        .expect("request sent");
    // Cancel once the drill is under way (its first step's progress).
    tokio::time::timeout(std::time::Duration::from_secs(60), notified)
        .await
        .expect("progress before the drill ended");
    handle
        .cancel(Some("test cancels".into()))
        .await
        .expect("cancel sent");
    // The drill stops at its next step, tears down, and keeps what happened.
    let scratch = s.project.root().join("scratch");
    let history = s.project.repo().join("history");
    let sandboxes = || {
        std::fs::read_dir(&scratch).map_or(0, |rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("drill-"))
                .count()
        })
    };
    let drills = || {
        std::fs::read_dir(&history).map_or(0, |rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().contains("_drill_"))
                .count()
        })
    };
    let mut waited = 0;
    while (drills() == 0 || sandboxes() > 0) && waited < 600 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        waited += 1;
    }
    assert_eq!(sandboxes(), 0, "the cancelled drill left its sandbox");
    assert_eq!(drills(), 1, "the cancelled drill was not kept");
    let r = ok_structured(
        &s.tools,
        "drill_report",
        &call(&s.client, "drill_report", json!({})).await,
    );
    let d = &r["drills"][0];
    assert_eq!(d["scenario"], "network_partition", "{r:#}");
    assert_eq!(d["passed"], false, "a cancelled drill did not pass: {r:#}");
    let steps = d["steps"].as_array().unwrap();
    assert_eq!(steps.last().unwrap()["name"], "remove the sandbox", "{r:#}");
    assert_eq!(steps.last().unwrap()["outcome"], "passed", "{r:#}");
    assert!(
        d["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f.as_str().unwrap().contains("cancelled")),
        "{r:#}"
    );
}

#[tokio::test]
async fn resources_and_prompts() {
    let p = project_with_data();
    p.add_settings("  http:\n    token: \"s3cret-token-value\"\n");
    let s = session(p).await;
    ok_structured(
        &s.tools,
        "backup_run",
        &call(&s.client, "backup_run", json!({"backup_type": "full"})).await,
    );
    let read = |uri: &str| {
        let c = &s.client;
        let uri = uri.to_string();
        async move { c.read_resource(ReadResourceRequestParams::new(uri)).await }
    };
    let text_of = |r: &rmcp::model::ReadResourceResult| match &r.contents[0] {
        ResourceContents::TextResourceContents { text, .. } => text.clone(),
        other => panic!("not text: {other:?}"),
    };
    let settings = text_of(&read("dr://settings").await.unwrap());
    assert!(
        !settings.contains("s3cret-token-value"),
        "the token leaked: {settings}"
    );
    let v: Value = serde_json::from_str(&settings).unwrap();
    assert_eq!(v["mcp"]["http"]["token"], "<redacted>");
    assert!(v["backup"]["sources"].is_array());
    let format = text_of(&read("dr://format").await.unwrap());
    assert!(format.contains("MHDRENV1"));
    let latest = text_of(&read("dr://backups/latest").await.unwrap());
    let m: Value = serde_json::from_str(&latest).unwrap();
    assert_eq!(m["backup_type"], "full");
    let id = m["backup_id"].as_str().unwrap();
    let one = text_of(&read(&format!("dr://backups/{id}")).await.unwrap());
    assert_eq!(
        serde_json::from_str::<Value>(&one).unwrap()["backup_id"],
        id
    );
    assert!(
        read("dr://backups/backup_20990101T000000.000Z_00000000")
            .await
            .is_err()
    );
    assert!(read("dr://nothing").await.is_err());
    let templates = s.client.list_all_resource_templates().await.unwrap();
    assert_eq!(templates[0].uri_template, "dr://backups/{backup_id}");
    assert_eq!(templates[1].uri_template, "dr://runbooks/{scenario}");
    assert!(
        templates[1]
            .description
            .as_deref()
            .is_some_and(|d| d.contains("single_server_failure")),
        "{:?}",
        templates[1]
    );
    // A runbook: generated from the scenario, ending with the last drill's evidence when one
    // is kept (none yet: it says how to run one).
    let rb = text_of(&read("dr://runbooks/data_deletion").await.unwrap());
    assert!(
        rb.starts_with("# Runbook: Data deletion (`data_deletion`)"),
        "{rb}"
    );
    for needle in [
        "## Detection",
        "## Recovery",
        "mahavishnu-dr restore --backup-id ID --path P --target PROJECT --overwrite",
        "## Success criteria",
        "## Rollback",
        "No drill of this scenario is kept",
    ] {
        assert!(rb.contains(needle), "runbook lacks {needle}: {rb}");
    }
    assert!(read("dr://runbooks/meteor_strike").await.is_err());
    assert!(read("dr://runbooks/").await.is_err());
    let resources = s.client.list_all_resources().await.unwrap();
    let uris: Vec<&str> = resources.iter().map(|r| r.uri.as_str()).collect();
    assert_eq!(
        uris,
        ["dr://settings", "dr://format", "dr://reports/latest"]
    );
    let md = text_of(&read("dr://reports/latest").await.unwrap());
    assert!(md.starts_with("# DR report: "), "{md}");
    assert!(md.contains("| Backups available | PASS |"), "{md}");

    let prompts = s.client.list_all_prompts().await.unwrap();
    let names: Vec<&str> = prompts.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["incident_response", "dr_readiness_review"]);
    let args = obj(json!({"scenario": "malicious_deletion", "symptoms": "files gone since 09:00"}));
    let g = s
        .client
        .get_prompt(GetPromptRequestParams::new("incident_response").with_arguments(args))
        .await
        .unwrap();
    let body = serde_json::to_string(&g.messages).unwrap();
    for needle in [
        "malicious_deletion",
        "files gone since 09:00",
        "backup_validate",
        "backup_diff",
        "restore_run",
        "Do NOT run backup_cleanup",
        "drill_run with scenario data_deletion (dry_run first",
        "Read the runbook dr://runbooks/data_deletion first",
    ] {
        assert!(body.contains(needle), "prompt lacks {needle}: {body}");
    }
    let missing = s
        .client
        .get_prompt(GetPromptRequestParams::new("incident_response"))
        .await;
    assert!(missing.is_err(), "scenario is required");
    let review = s
        .client
        .get_prompt(GetPromptRequestParams::new("dr_readiness_review"))
        .await
        .unwrap();
    assert!(
        serde_json::to_string(&review.messages)
            .unwrap()
            .contains("run_disaster_recovery_check")
    );
}

/// The drill records in the repository's history.
fn drill_records(repo: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(repo.join("history"))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.contains("_drill_"))
                .collect()
        })
        .unwrap_or_default();
    ids.sort();
    ids
}

/// The drill sandboxes (`drill-*`) in the scratch folder.
fn sandboxes(scratch: &Path) -> Vec<String> {
    std::fs::read_dir(scratch)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("drill-"))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn drills_plan_by_default_run_only_when_confirmed_and_are_kept() {
    let s = session(project_with_data()).await;
    let t = &s.tools;
    let repo = s.project.repo();
    let scratch = s.project.root().join("scratch");
    ok_structured(
        t,
        "backup_run",
        &call(&s.client, "backup_run", json!({"backup_type": "full"})).await,
    );
    let records_before = drill_records(&repo);
    assert!(records_before.is_empty(), "{records_before:?}");

    let list = ok_structured(
        t,
        "drill_list_scenarios",
        &call(&s.client, "drill_list_scenarios", json!({})).await,
    );
    let ids: Vec<&str> = list["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "single_server_failure",
            "region_failure",
            "database_corruption",
            "network_partition",
            "data_deletion"
        ],
        "{list:#}"
    );

    // The defaults: a dry run that plans and writes nothing anywhere.
    for args in [
        json!({"scenario": "database_corruption"}),
        json!({"all": true}),
    ] {
        let plan = ok_structured(
            t,
            "drill_run",
            &call(&s.client, "drill_run", args.clone()).await,
        );
        assert_eq!(plan["dry_run"], true, "{args}: {plan:#}");
        assert!(plan["drills"].as_array().unwrap().is_empty(), "{plan:#}");
        assert!(!plan["plans"].as_array().unwrap().is_empty(), "{plan:#}");
        assert!(sandboxes(&scratch).is_empty(), "a dry run made a sandbox");
        assert_eq!(
            drill_records(&repo),
            records_before,
            "a dry run kept a record"
        );
    }
    let plan = ok_structured(
        t,
        "drill_run",
        &call(&s.client, "drill_run", json!({"all": true})).await,
    );
    assert_eq!(plan["plans"].as_array().unwrap().len(), 5, "{plan:#}");

    // A real drill needs confirm=true; the refusal says what to pass, and runs nothing.
    let r = call(
        &s.client,
        "drill_run",
        json!({"scenario": "database_corruption", "dry_run": false}),
    )
    .await;
    let msg = is_tool_error(
        "drill_run",
        &r,
        &[
            "confirm=true",
            "drill_run {\"scenario\":\"database_corruption\",\"dry_run\":true}",
        ],
    );
    assert!(
        !msg.contains("mahavishnu-dr drill"),
        "worded for the CLI: {msg}"
    );
    assert!(sandboxes(&scratch).is_empty());
    assert_eq!(drill_records(&repo), records_before);
    // An unknown scenario: a tool error naming the scenarios.
    is_tool_error(
        "drill_run",
        &call(&s.client, "drill_run", json!({"scenario": "meteor"})).await,
        &["meteor", "database_corruption"],
    );

    // Confirmed: the drill runs, sends progress per step, passes and is kept.
    s.collector.progress.lock().unwrap().clear();
    let r = call(
        &s.client,
        "drill_run",
        json!({"scenario": "database_corruption", "dry_run": false, "confirm": true}),
    )
    .await;
    let run = ok_structured(t, "drill_run", &r);
    assert_eq!(run["dry_run"], false);
    assert_eq!(run["passed"], true, "{run:#}");
    let drill = &run["drills"][0];
    assert_eq!(drill["scenario"], "database_corruption");
    let started_by = drill["started_by"].as_str().unwrap();
    assert!(started_by.starts_with("mcp:"), "{started_by}");
    let record_id = drill["record_id"].as_str().expect("a record").to_string();
    assert_eq!(drill_records(&repo).len(), 1);
    assert!(sandboxes(&scratch).is_empty(), "the sandbox was torn down");
    let progress = s.collector.progress.lock().unwrap().clone();
    let messages: Vec<&str> = progress
        .iter()
        .filter_map(|n| n.message.as_deref())
        .collect();
    for step in drill["steps"].as_array().unwrap() {
        if step["outcome"] == "skipped" || step["phase"] == "tear_down" {
            continue;
        }
        let announced = format!(
            "{}: {}",
            step["phase"].as_str().unwrap(),
            step["name"].as_str().unwrap()
        );
        assert!(
            messages.iter().any(|m| m.starts_with(&announced)),
            "no progress for the step {announced:?}: {messages:?}"
        );
    }
    for w in progress.windows(2) {
        assert!(w[1].progress > w[0].progress, "{progress:?}");
    }

    let report = ok_structured(
        t,
        "drill_report",
        &call(&s.client, "drill_report", json!({"last": 5})).await,
    );
    let kept = report["drills"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{report:#}");
    assert_eq!(kept[0]["record_id"], record_id.as_str());
    assert_eq!(kept[0]["scenario"], "database_corruption");
    assert_eq!(kept[0]["passed"], true);
    assert_eq!(kept[0]["started_by"], started_by);
    assert!(
        kept[0]["started_by"].as_str().unwrap().starts_with("mcp:"),
        "{report:#}"
    );
}

/// `schedule_status` lists every scheduled job with its next runs, and the daemon's state once
/// a daemon has written one: the last run of each job and whether the daemon runs.
#[tokio::test]
async fn schedule_status_shows_next_runs_and_the_daemons_last_runs() {
    let p = Project::new(common::DAILY_SCHEDULE);
    let s = session(p).await;
    let r = ok_structured(
        &s.tools,
        "schedule_status",
        &call(&s.client, "schedule_status", json!({})).await,
    );
    let daily = r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "daily_incremental")
        .cloned()
        .unwrap_or_else(|| panic!("{r:#}"));
    assert_eq!(daily["cadence"], "daily at 02:00 UTC", "{r:#}");
    assert_eq!(daily["next_runs"].as_array().unwrap().len(), 3, "{r:#}");
    assert!(r["daemon"].is_null(), "no daemon has run: {r:#}");
    // A daemon's state: the daily backup failed last, after 3 attempts; the daemon stopped.
    let dir = s.project.root().join("state/daemon");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("state.json"),
        r#"{"version":1,"pid":1,"stopped_at":"2026-03-09T00:00:00Z","jobs":{"daily_incremental":{"last_slot":"2026-03-08T02:00:00Z","last_started":"2026-03-08T02:00:01Z","last_finished":"2026-03-08T02:07:01Z","last_result":"failed","last_detail":"after 3 attempt(s): the store is unreachable","last_attempts":3,"failures_total":1}}}"#,
    )
    .unwrap();
    let r = ok_structured(
        &s.tools,
        "schedule_status",
        &call(&s.client, "schedule_status", json!({})).await,
    );
    let daily = r["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "daily_incremental")
        .cloned()
        .unwrap();
    assert_eq!(daily["last_run"]["result"], "failed", "{r:#}");
    assert_eq!(daily["last_run"]["attempts"], 3, "{r:#}");
    assert_eq!(
        daily["missed"], true,
        "the daemon is stopped and later runs passed: {r:#}"
    );
    assert_eq!(r["daemon"]["running"], false, "{r:#}");
}
