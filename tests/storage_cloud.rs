//! The repository on a real S3 server (SeaweedFS, signatures checked) and a real Azure Blob
//! server (Azurite), on loopback: the storage contract (create-only races included), the real
//! binary's init / backup / full validation / restore round trip, the errors a user meets (a
//! wrong credential, a missing bucket or container, an unreachable endpoint: clear, named after
//! the store, never showing the secret), and a server killed in the middle of a backup.
//!
//! The servers come from tests/cloud/setup.sh; when they cannot be installed or started these
//! tests fail, they do not skip.

mod cloud_support;
mod common;

use cloud_support::{
    AZ_ACCOUNT, AZ_CONTAINER, AZ_KEY, S3_ACCESS_KEY, S3_BUCKET, S3_SECRET_KEY, S3Server, free_port,
    open_store, shared,
};
use common::{Project, assert_same_tree, rand_suffix};

/// A prefix of its own for each test, so tests share the servers without seeing each other.
fn prefix(test: &str) -> String {
    format!("{test}-{}", rand_suffix())
}

/// Both backends' `storage:` settings for the shared servers, under a fresh prefix.
fn both(test: &str) -> [(&'static str, String); 2] {
    let s = shared();
    [
        ("s3", s.s3.primary(S3_BUCKET, &prefix(test), S3_SECRET_KEY)),
        (
            "azblob",
            s.azurite.primary(AZ_CONTAINER, &prefix(test), AZ_KEY),
        ),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn s3_and_azblob_stores_meet_the_storage_contract_on_real_servers() {
    for (kind, yaml) in both("contract") {
        let store = tokio::task::spawn_blocking(move || open_store(&yaml))
            .await
            .unwrap();
        let name = store.describe();
        assert!(
            name.starts_with(&format!("{kind}://dr-test/contract-")),
            "{name}"
        );
        mahavishnu_dr::storage_contract::check(store.as_ref()).await;
        assert!(
            mahavishnu_dr::probe_create_only(store.as_ref())
                .await
                .unwrap(),
            "{kind}: create-only writes are enforced by the real server"
        );
    }
}

/// init, a full and an incremental backup, full validation, restore: through the real binary.
#[test]
fn backup_validate_and_restore_round_trip_on_s3_and_azblob() {
    for (kind, yaml) in both("roundtrip") {
        // Files of 1 MiB and more are stored as blocks: restore and validation read them by
        // ranges, several requested at once on object storage.
        let p = Project::new(&format!(
            "  volume_size_mb: 4\n  block_incremental: {{ min_file_mb: 1 }}\n{yaml}"
        ));
        p.write("small.txt", "hello from the cloud\n");
        p.write("nested/deeper/notes.md", "# notes\n".repeat(1000));
        // Incompressible and larger than one upload part: a multipart (block) upload.
        let noise: Vec<u8> = (0..(10u32 << 20))
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        p.write("big.bin", &noise);
        let init = p.init();
        assert_eq!(
            init["repository"]
                .as_str()
                .unwrap_or("")
                .split_once("://")
                .map(|x| x.0),
            Some(kind),
            "{init}"
        );
        let warnings = init["warnings"].to_string();
        assert!(!warnings.contains("create-only"), "{kind}: {warnings}");
        assert!(!p.repo().exists(), "{kind}: a local repository was made");

        let full = p.backup("full");
        assert_eq!(full["status"], "completed", "{kind}: {full}");
        assert_eq!(full["verified"], true, "{kind}: {full}");
        p.write("small.txt", "changed in the cloud\n");
        let incr = p.backup("incremental");
        assert_eq!(incr["status"], "completed", "{kind}: {incr}");

        let arch = p.backup("archival");
        assert_eq!(arch["backup_type"], "archival", "{kind}: {arch}");
        for level in ["quick", "checksum", "full"] {
            let v = p.json(&["backup", "validate", "--level", level], 0);
            assert_eq!(v["ok"], true, "{kind} {level}: {v}");
        }
        let id = incr["backup_id"].as_str().expect("backup id").to_string();
        let restored = p.restore(&id);
        assert_same_tree(&p.data(), &restored);

        // No output shows the secret, not even the most verbose log.
        let secret = if kind == "s3" { S3_SECRET_KEY } else { AZ_KEY };
        for args in [&["backup", "status", "--json"][..], &["backup", "list"]] {
            let out = p.cmd(args).env("MAHAVISHNU_LOG", "trace").output().unwrap();
            assert!(out.status.success(), "{kind} {args:?}");
            let all = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(all.contains(kind), "{kind} {args:?}: {all}");
            let shown: Vec<String> = all
                .lines()
                .filter(|l| l.contains(secret))
                .map(|l| l.replace(secret, "<THE SECRET>"))
                .collect();
            assert!(
                shown.is_empty(),
                "{kind} {args:?}: the secret is shown: {shown:#?}"
            );
        }
        assert!(!p.repo().exists(), "{kind}: a local repository was made");
    }
}

/// Run `args` with `--json`: the error object, after checking the exit code and that no
/// secret is in stdout or stderr.
fn failing(p: &Project, args: &[&str], code: i32, secrets: &[&str]) -> serde_json::Value {
    let mut a = args.to_vec();
    a.push("--json");
    let out = p.run(&a);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(code),
        "{args:?}\n{stdout}\n{stderr}"
    );
    for s in secrets {
        assert!(
            !stdout.contains(s) && !stderr.contains(s),
            "{s} shown:\n{stdout}\n{stderr}"
        );
    }
    // The human form too.
    let human = p.run(args);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&human.stdout),
        String::from_utf8_lossy(&human.stderr)
    );
    for s in secrets {
        assert!(!all.contains(s), "{s} shown:\n{all}");
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {stdout}"));
    v["error"].clone()
}

#[test]
fn a_wrong_credential_a_missing_bucket_and_an_unreachable_endpoint_are_clear_errors() {
    let s = shared();
    let wrong = "wrong-secret-value-51ac9";
    // A real-looking (valid base64) but wrong Azure key.
    let wrong_az = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
    let dead = free_port();
    let pre = prefix("errors");
    let cases = [
        (
            s.s3.primary(S3_BUCKET, &pre, wrong),
            format!("s3://dr-test/{pre} refused the credentials"),
            "secret_access_key",
            2,
            wrong,
        ),
        (
            s.azurite.primary(AZ_CONTAINER, &pre, wrong_az),
            format!("azblob://dr-test/{pre} refused the credentials"),
            "account_key",
            2,
            wrong_az,
        ),
        (
            s.s3.primary("no-such-bucket", &pre, S3_SECRET_KEY),
            format!("the bucket of s3://no-such-bucket/{pre} does not exist"),
            "create the bucket",
            2,
            S3_SECRET_KEY,
        ),
        (
            s.azurite.primary("no-such-container", &pre, AZ_KEY),
            format!("the container of azblob://no-such-container/{pre} does not exist"),
            "create the container",
            2,
            AZ_KEY,
        ),
        (
            s.s3.primary(S3_BUCKET, &pre, S3_SECRET_KEY)
                .replace(&s.s3.endpoint(), &format!("http://127.0.0.1:{dead}")),
            format!("cannot reach s3://dr-test/{pre} (endpoint 127.0.0.1:{dead})"),
            "check the endpoint",
            1,
            S3_SECRET_KEY,
        ),
        (
            s.azurite.primary(AZ_CONTAINER, &pre, AZ_KEY).replace(
                &format!("127.0.0.1:{}", s.azurite.port),
                &format!("127.0.0.1:{dead}"),
            ),
            format!("cannot reach azblob://dr-test/{pre} (endpoint 127.0.0.1:{dead})"),
            "check the endpoint",
            1,
            AZ_KEY,
        ),
    ];
    // A key made by a local repository, so that commands past `init` reach the store.
    let keyed = Project::new("");
    keyed.init();
    let key = std::fs::read(keyed.root().join("key")).unwrap();
    for (yaml, message, guidance, code, secret) in cases {
        let p = Project::new(&yaml);
        p.write("a.txt", "a\n");
        let e = failing(&p, &["init", "--generate-key"], code, &[secret]);
        let text = e.to_string();
        assert!(text.contains(&message), "init: {message} not in {e:#}");
        assert!(text.contains(guidance), "init: {guidance} not in {e:#}");
        assert!(
            !p.root().join("key").exists(),
            "a key was left behind: {message}"
        );
        std::fs::write(p.root().join("key"), &key).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            let private = std::fs::Permissions::from_mode(0o600);
            std::fs::set_permissions(p.root().join("key"), private).unwrap();
        }
        for args in [
            &["backup", "run", "--type", "full"][..],
            &["backup", "status"],
        ] {
            let e = failing(&p, args, code, &[secret]);
            let text = e.to_string();
            assert!(text.contains(&message), "{args:?}: {message} not in {e:#}");
            assert!(text.contains(guidance), "{args:?}: {guidance} not in {e:#}");
        }
        assert!(!p.repo().exists());
    }
}

/// The S3 server dies in the middle of a backup: the backup fails cleanly (a storage error,
/// no backup recorded); after a restart the repository validates and the next backup works.
#[test]
fn a_server_killed_mid_backup_fails_cleanly_and_the_next_backup_works() {
    let mut server = S3Server::start();
    let yaml = server.primary(S3_BUCKET, &prefix("killed"), S3_SECRET_KEY);
    let p = Project::new(&format!("  volume_size_mb: 2\n{yaml}"));
    for i in 0..32u32 {
        let noise: Vec<u8> = (0..(3u32 << 20))
            .map(|j| (j.wrapping_add(i << 21).wrapping_mul(2654435761) >> 11) as u8)
            .collect();
        p.write(&format!("f{i:02}.bin"), &noise);
    }
    p.init();
    let first = p.backup("full");
    assert_eq!(first["status"], "completed", "{first}");
    p.write("f00.bin", "changed\n");

    let child = p
        .cmd(&["backup", "run", "--type", "full", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Stop the server once the second backup has stored its first objects.
    let store = open_store(&yaml);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let first_id = first["backup_id"].as_str().unwrap().to_string();
    let started = std::time::Instant::now();
    loop {
        let objects = rt.block_on(store.list("backups/")).unwrap();
        if objects.iter().any(|o| !o.key.contains(&first_id)) {
            break;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the second backup stored nothing"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    server.stop();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "storage", "{v:#}");
    assert!(v.to_string().contains("s3://dr-test/killed-"), "{v:#}");

    server.restart();
    // SeaweedFS lists a moment before it serves objects again (its volume server registers).
    let started = std::time::Instant::now();
    while let Err(e) = rt.block_on(store.get("config")) {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "the restarted server serves no objects: {e}"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let list = p.json(&["backup", "list"], 0);
    assert_eq!(
        list["backups"].as_array().map(Vec::len),
        Some(1),
        "only the first backup exists: {list}"
    );
    let next = p.backup("incremental");
    assert_eq!(next["status"], "completed", "{next}");
    let v = p.json(&["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");

    // Cleanup removes what the killed backup left in the bucket, and nothing else.
    let c = p.json(&["backup", "cleanup"], 0);
    assert!(
        !c["orphans"].as_array().unwrap().is_empty(),
        "the killed backup left nothing to clean up: {c}"
    );
    let kept: Vec<String> = p.json(&["backup", "list"], 0)["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["backup_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(kept.len(), 2, "{kept:?}");
    for o in rt.block_on(store.list("backups/")).unwrap() {
        assert!(
            kept.iter().any(|id| o.key.contains(id.as_str())),
            "{} is left over",
            o.key
        );
    }
    let v = p.json(&["backup", "validate", "--level", "full"], 0);
    assert_eq!(v["ok"], true, "{v}");
}

/// The MCP face: the `dr://settings` resource and a `backup_status` tool call on an S3
/// repository show the store by name and the secret nowhere (stdout, or the debug log).
#[test]
fn the_mcp_settings_resource_and_tools_never_show_the_secret() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::Stdio;
    let s = shared();
    let p = Project::new(&s.s3.primary(S3_BUCKET, &prefix("mcp"), S3_SECRET_KEY));
    p.write("a.txt", "a\n");
    p.init();
    let mut child = p
        .cmd(&["serve"])
        .env("MAHAVISHNU_LOG", "debug")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start serve");
    let mut stdin = child.stdin.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut send = move |v: serde_json::Value| writeln!(stdin, "{v}").and_then(|_| stdin.flush());
    let mut reply = |id: i64| -> serde_json::Value {
        loop {
            let mut line = String::new();
            assert!(out.read_line(&mut line).unwrap() > 0, "serve closed stdout");
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            if v["id"] == id {
                return v;
            }
        }
    };
    send(
        serde_json::json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}),
    )
    .unwrap();
    reply(1);
    send(serde_json::json!({"jsonrpc":"2.0","method":"notifications/initialized"})).unwrap();
    send(
        serde_json::json!({"jsonrpc":"2.0","id":2,"method":"resources/read",
        "params":{"uri":"dr://settings"}}),
    )
    .unwrap();
    let settings = reply(2);
    let text = settings["result"]["contents"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("{settings}"))
        .to_string();
    assert!(text.contains("\"bucket\": \"dr-test\""), "{text}");
    assert!(
        text.contains("\"secret_access_key\": \"<redacted>\""),
        "{text}"
    );
    send(
        serde_json::json!({"jsonrpc":"2.0","id":3,"method":"tools/call",
        "params":{"name":"backup_status","arguments":{}}}),
    )
    .unwrap();
    let status = reply(3);
    assert_eq!(status["result"]["isError"], false, "{status}");
    assert!(status.to_string().contains("s3://dr-test/mcp-"), "{status}");
    drop(send);
    assert!(child.wait().unwrap().success());
    let log = err_reader.join().unwrap();
    for shown in [text, status.to_string(), log] {
        assert!(!shown.contains(S3_SECRET_KEY), "the secret is shown");
    }
}

/// Restore `backup_id` from the store called `store` alone (`--repository`) into a fresh folder:
/// it succeeds, the data comes back byte-identical, and no output shows a secret.
fn restore_from(p: &Project, store: &str, backup_id: &str) {
    let target = p.root().join(format!("from-{store}-{}", rand_suffix()));
    let out = p.run(&[
        "--repository",
        store,
        "restore",
        "--backup-id",
        backup_id,
        "--target",
        target.to_str().unwrap(),
        "--json",
    ]);
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{store}: {all}");
    assert!(
        !all.contains(S3_SECRET_KEY) && !all.contains(AZ_KEY),
        "{all}"
    );
    assert_same_tree(&p.data(), &target.join("data"));
}

/// A replica entry: `target` (a flow mapping) with a name.
fn named(name: &str, target: &str) -> String {
    target.replacen("{ ", &format!("{{ name: {name}, "), 1)
}

/// Replicas in the other backend, both ways: an S3 primary copied to Azure Blob and a local
/// folder, and a local primary copied to S3. Each replica restores and validates alone
/// (failover with `--repository NAME`), and no output shows a secret.
#[test]
fn replicas_in_the_other_backend_restore_and_validate_on_their_own() {
    let s = shared();
    let layouts = [
        (
            "s3 primary",
            format!(
                "  storage:\n    primary: {}\n    replicas:\n      - {}\n      - {{ name: disk, type: local, path: ./replica }}\n",
                s.s3.target(S3_BUCKET, &prefix("rep-primary"), S3_SECRET_KEY),
                named(
                    "azure",
                    &s.azurite.target(AZ_CONTAINER, &prefix("rep-azure"), AZ_KEY)
                ),
            ),
            vec!["azure", "disk"],
        ),
        (
            "local primary",
            format!(
                "  storage:\n    replicas:\n      - {}\n",
                named(
                    "offsite",
                    &s.s3
                        .target(S3_BUCKET, &prefix("rep-offsite"), S3_SECRET_KEY)
                ),
            ),
            vec!["offsite"],
        ),
    ];
    for (layout, yaml, replicas) in layouts {
        let p = Project::new(&format!("  volume_size_mb: 4\n{yaml}"));
        p.write("a.txt", "first\n");
        let noise: Vec<u8> = (0..(9u32 << 20))
            .map(|i| (i.wrapping_mul(2654435761) >> 11) as u8)
            .collect();
        p.write("big.bin", &noise);
        let full = p.backup("full");
        p.write("a.txt", "second\n");
        let inc = p.backup("incremental");
        for b in [&full, &inc] {
            let reps = b["replication"].as_array().unwrap();
            assert_eq!(reps.len(), replicas.len(), "{layout}: {b}");
            for r in reps {
                assert_eq!(r["ok"], true, "{layout}: {r}");
                assert_eq!(
                    r["copied"],
                    serde_json::json!([b["backup_id"]]),
                    "{layout}: {r}"
                );
            }
        }
        let st = p.json(&["backup", "status"], 0);
        for r in st["replicas"].as_array().unwrap() {
            assert_eq!(r["missing"], 0, "{layout}: {r}");
        }
        for name in replicas {
            let l = p.json(&["--repository", name, "backup", "list"], 0);
            assert_eq!(l["total_count"], 2, "{layout} {name}: {l}");
            let v = p.json(
                &[
                    "--repository",
                    name,
                    "backup",
                    "validate",
                    "--level",
                    "full",
                ],
                0,
            );
            assert_eq!(v["ok"], true, "{layout} {name}: {v}");
            restore_from(&p, name, inc["backup_id"].as_str().unwrap());
        }
    }
}

/// The README's walkthrough, command for command: an existing local repository is copied to S3
/// as a replica, then S3 becomes the primary with the old folder and an Azure container as
/// replicas. Every backup is then on all three, restores from each alone, and later backups
/// reach them all.
#[test]
fn a_local_repository_moves_to_s3_with_a_replica_in_azure() {
    let s = shared();
    let s3 = s.s3.target(S3_BUCKET, &prefix("move-s3"), S3_SECRET_KEY);
    let azure = s.azurite.target(AZ_CONTAINER, &prefix("move-az"), AZ_KEY);
    let p = Project::new("");
    p.write("a.txt", "before the move\n");
    let first = p.backup("full");
    p.write("a.txt", "still local\n");
    let second = p.backup("incremental");

    // 1. S3 as a replica; copy everything there and check it in full.
    let settings = std::fs::read_to_string(p.config()).unwrap();
    let with = |storage: &str| {
        std::fs::write(
            p.config(),
            settings.replace("backup:\n", &format!("backup:\n{storage}")),
        )
        .unwrap()
    };
    with(&format!(
        "  storage:\n    replicas:\n      - {}\n",
        named("s3", &s3)
    ));
    let r = p.json(&["replicate", "--to", "s3"], 0);
    assert_eq!(
        r["replicas"][0]["copied"],
        serde_json::json!([first["backup_id"], second["backup_id"]]),
        "{r}"
    );
    assert_eq!(r["replicas"][0]["config"], "created", "{r}");
    let v = p.json(
        &[
            "--repository",
            "s3",
            "backup",
            "validate",
            "--level",
            "full",
        ],
        0,
    );
    assert_eq!(v["ok"], true, "{v}");

    // 2. S3 becomes the primary; the old folder and Azure are replicas.
    with(&format!(
        "  storage:\n    primary: {s3}\n    replicas:\n      - {}\n      - {{ name: old-local, type: local, path: ./repo }}\n",
        named("azure", &azure)
    ));
    let r = p.json(&["replicate", "--to", "azure"], 0);
    assert_eq!(r["source"], "primary", "{r}");
    assert!(r["location"].as_str().unwrap().starts_with("s3://"), "{r}");
    assert_eq!(
        r["replicas"][0]["copied"].as_array().unwrap().len(),
        2,
        "{r}"
    );
    let st = p.json(&["backup", "status"], 0);
    assert_eq!(st["backup_count"], 2, "{st}");
    for l in st["replicas"].as_array().unwrap() {
        assert_eq!(l["missing"], 0, "{l}");
    }
    // Later backups go to S3 and reach both replicas.
    p.write("a.txt", "in the cloud now\n");
    let third = p.backup("incremental");
    assert_eq!(
        third["parent"], second["backup_id"],
        "the chain carries on: {third}"
    );
    assert!(
        third["repository"].as_str().unwrap().starts_with("s3://"),
        "{third}"
    );
    for r in third["replication"].as_array().unwrap() {
        assert_eq!(r["ok"], true, "{r}");
        assert_eq!(r["copied"], serde_json::json!([third["backup_id"]]), "{r}");
    }
    for store in ["primary", "azure", "old-local"] {
        restore_from(&p, store, third["backup_id"].as_str().unwrap());
    }
}

/// A new bucket with object lock on the shared S3 server, as an immutable primary: its
/// `storage:` settings, its object-lock client, and a runtime to drive that client.
fn locked_primary(
    name: &str,
) -> (
    String,
    mahavishnu_dr::internals::S3ObjectLock,
    tokio::runtime::Runtime,
) {
    let bucket = format!("{name}-{}", rand_suffix());
    let primary =
        shared()
            .s3
            .target(&bucket, "prod", S3_SECRET_KEY)
            .replacen("{ ", "{ immutable: true, ", 1);
    let storage = format!("  storage:\n    primary: {primary}\n");
    let lock = cloud_support::object_lock_of(&storage);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let created = rt.block_on(lock.create_locked_bucket()).unwrap();
    assert_eq!(created, 200, "the bucket with object lock was not created");
    (storage, lock, rt)
}

/// An immutable S3 store with object lock: every backup object is locked (a full until the
/// newest incremental that reads it expires), this host's own credentials cannot delete a
/// locked version, an overwrite leaves the locked version readable and is detected, cleanup
/// refuses, and `retention extend` verifies the server enforces the locks before renewing them.
#[test]
fn object_locked_backups_resist_this_hosts_own_credentials() {
    let s = shared();
    let (storage, lock, rt) = locked_primary("locked");

    let p = Project::new(&format!(
        "  schedules:\n    daily_incremental: {{ time: \"02:00\", retention_days: 7 }}\n    weekly_full: {{ day: sunday, time: \"03:00\", retention_weeks: 4 }}\n{storage}"
    ));
    p.write("a.txt", "one\n");
    let full = p.backup("full");
    let lock_of_full = &full["object_lock"];
    assert_eq!(lock_of_full["mode"], "COMPLIANCE", "{full}");
    assert_eq!(lock_of_full["error"], serde_json::Value::Null, "{full}");
    assert!(
        lock_of_full["objects_locked"].as_u64().unwrap() >= 2,
        "{full}"
    );
    p.write("a.txt", "two\n");
    let inc = p.backup("incremental");
    assert_eq!(
        inc["object_lock"]["error"],
        serde_json::Value::Null,
        "{inc}"
    );
    let full_id = full["backup_id"].as_str().unwrap();
    let inc_id = inc["backup_id"].as_str().unwrap();
    let manifest = format!("backups/{full_id}/manifest");

    // The locks the server holds: the full's manifest until its own 4 weeks (later than the
    // incremental's 7 days), the incremental's until its 7 days.
    let finished = |b: &serde_json::Value| {
        chrono::DateTime::parse_from_rfc3339(b["finished"].as_str().unwrap())
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let r = rt
        .block_on(lock.retention(&manifest))
        .unwrap()
        .expect("locked");
    assert_eq!(r.mode, "COMPLIANCE");
    let want = finished(&full) + chrono::Duration::weeks(4);
    assert!((r.until - want).num_seconds().abs() <= 1, "{r:?} vs {want}");
    let r = rt
        .block_on(lock.retention(&format!("backups/{inc_id}/manifest")))
        .unwrap()
        .expect("locked");
    let want = finished(&inc) + chrono::Duration::days(7);
    assert!((r.until - want).num_seconds().abs() <= 1, "{r:?} vs {want}");

    // The attack, with this host's own credentials: delete the locked version...
    let version = rt
        .block_on(lock.version_of(&manifest))
        .unwrap()
        .expect("versioned");
    let original = rt
        .block_on(lock.send(
            http_method("GET"),
            &manifest,
            &format!("versionId={version}"),
            Default::default(),
            &[],
        ))
        .unwrap();
    assert_eq!(original.0, 200);
    let (status, body) = rt
        .block_on(lock.send(
            http_method("DELETE"),
            &manifest,
            &format!("versionId={version}"),
            Default::default(),
            &[],
        ))
        .unwrap();
    assert!(
        status == 403 || status == 400,
        "the server deleted a locked version: {status} {}",
        String::from_utf8_lossy(&body)
    );
    // ... and overwrite it: the write makes a new version, the locked one is still there.
    let (status, _) = rt
        .block_on(lock.send(
            http_method("PUT"),
            &manifest,
            "",
            bytes::Bytes::from_static(b"ransom note"),
            &[],
        ))
        .unwrap();
    assert_eq!(status, 200);
    let after = rt
        .block_on(lock.send(
            http_method("GET"),
            &manifest,
            &format!("versionId={version}"),
            Default::default(),
            &[],
        ))
        .unwrap();
    assert_eq!(after, original, "the locked version changed");
    // The overwritten manifest is detected, never used: the backup is listed as unreadable.
    let l = p.json(&["backup", "list"], 0);
    assert_eq!(l["unreadable"][0]["backup_id"], full_id, "{l}");

    // Cleanup refuses on an immutable store.
    let out = p.run(&["backup", "cleanup"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("immutable"));

    // retention extend: verifies the server enforces object lock, then renews every lock.
    let e = p.json(&["retention", "extend"], 0);
    assert_eq!(e["enforced"], true, "{e}");
    assert_eq!(e["locks"]["error"], serde_json::Value::Null, "{e}");
    assert!(e["locks"]["backups"].as_u64().unwrap() >= 1, "{e}");
    // The status says the claim was verified from this host, and when.
    let st = p.json(&["backup", "status"], 0);
    let imm = &st["immutable_stores"][0];
    assert_eq!(imm["verified"], true, "{st}");
    assert!(imm["last_check"]["at"].is_string(), "{st}");
    assert!(imm["detail"].as_str().unwrap().contains("refused"), "{st}");
    // Another host (no record of a check) is told it is not verified, and how to verify.
    std::fs::remove_file(p.root().join("state/daemon/enforcement.json")).unwrap();
    let st = p.json(&["backup", "status"], 0);
    let imm = &st["immutable_stores"][0];
    assert_eq!(imm["verified"], false, "{st}");
    assert!(
        imm["detail"].as_str().unwrap().contains("not verified"),
        "{st}"
    );

    // immutable: true on a bucket without object lock: refused before anything is created,
    // saying the bucket needs object lock.
    let plain =
        s.s3.target(S3_BUCKET, &prefix("not-locked"), S3_SECRET_KEY)
            .replacen("{ ", "{ immutable: true, ", 1);
    let q = Project::new(&format!("  storage:\n    primary: {plain}\n"));
    q.write("a.txt", "x\n");
    let err = failing(&q, &["backup", "run"], 1, &[S3_SECRET_KEY]);
    let all = err.to_string();
    assert!(
        all.contains("object lock") && all.contains("nothing was created"),
        "{all}"
    );
    let store = open_store(&format!("  storage:\n    primary: {plain}\n"));
    assert_eq!(rt.block_on(store.size("config")).unwrap(), None);
}

/// Someone with this host's own credentials damages an object-locked store: overwrites the
/// full's manifest and a volume, deletes (a delete marker, as `aws s3 rm` does) the config and
/// the incremental's manifest. The store as it is shows nothing usable; read with
/// `--store-as-of` a time before the damage, every backup lists, validates in full and restores
/// byte for byte, writes through the view are refused, and `replicate --to NAME` copies the
/// good state to a fresh store that then works on its own. Stores without versions refuse the
/// option.
#[test]
fn a_damaged_locked_store_is_read_as_it_was_before_the_damage() {
    let (storage, lock, rt) = locked_primary("asof");
    let p = Project::new(&format!(
        "  schedules:\n    daily_incremental: {{ time: \"02:00\", retention_days: 7 }}\n{storage}"
    ));
    p.write("a.txt", "first\n");
    p.write("db/notes.md", "# notes\n".repeat(500));
    let full = p.backup("full");
    let full_id = full["backup_id"].as_str().unwrap().to_string();
    p.write("a.txt", "second\n");
    let inc = p.backup("incremental");
    let inc_id = inc["backup_id"].as_str().unwrap().to_string();
    // The data stays as the incremental saw it: what a recovery must give back.
    let expected = p.data();

    // Object times have a second's precision on some servers: keep the instant apart from
    // both the writes before it and the damage after it.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let before_damage = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    std::thread::sleep(std::time::Duration::from_millis(1500));

    let store = open_store(&storage);
    let volume = rt
        .block_on(store.list(&format!("backups/{full_id}/")))
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .find(|k| k.contains("vol-"))
        .expect("a volume of the full");
    let send = |method: &str, key: &str, body: &'static [u8]| {
        rt.block_on(lock.send(
            http_method(method),
            key,
            "",
            bytes::Bytes::from_static(body),
            &[],
        ))
        .unwrap()
        .0
    };
    assert_eq!(
        send("PUT", &format!("backups/{full_id}/manifest"), b"ransom"),
        200
    );
    assert_eq!(send("PUT", &volume, b"ransom"), 200);
    // The status names the unreadable backup, counts the overwrites from the bucket's
    // versions, and gives the time to read the store as it was before them.
    let st = p.json(&["backup", "status"], 0);
    assert_eq!(st["unreadable"][0]["backup_id"], full_id.as_str(), "{st}");
    assert!(st["warnings"].to_string().contains("--store-as-of"), "{st}");
    let changes = &st["immutable_stores"][0]["changes"];
    assert_eq!(changes["overwritten"], 2, "{st}");
    assert_eq!(changes["deleted"], 0, "{st}");
    let read_as_of = changes["read_as_of"].as_str().unwrap().to_string();
    assert!(
        read_as_of.as_str() >= before_damage.split('.').next().unwrap(),
        "{read_as_of} is before the backups were all written ({before_damage})"
    );
    assert_eq!(send("DELETE", "config", b""), 204);
    assert_eq!(
        send("DELETE", &format!("backups/{inc_id}/manifest"), b""),
        204
    );
    // As it is now: no repository, and the way back said.
    let out = p.run(&["backup", "list"]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no repository") && err.contains("--store-as-of TIME"),
        "{err}"
    );

    // As it was: both backups, valid in full, restored byte for byte.
    // The time the status gave.
    let at = read_as_of.as_str();
    let l = p.json(&with_as_of(at, &["backup", "list"]), 0);
    let ids: Vec<&str> = l["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["backup_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "{l}");
    assert!(
        ids.contains(&full_id.as_str()) && ids.contains(&inc_id.as_str()),
        "{l}"
    );
    let v = p.json(
        &with_as_of(at, &["backup", "validate", "--level", "full"]),
        0,
    );
    assert_eq!(v["ok"], true, "{v}");
    let target = p.root().join("recovered");
    let target_s = target.display().to_string();
    p.json(
        &with_as_of(
            at,
            &["restore", "--backup-id", "latest", "--target", &target_s],
        ),
        0,
    );
    assert_same_tree(&expected, &target.join("data"));
    // Nothing can be written through the view; the damaged store is left as it is.
    let out = p.run(&with_as_of(at, &["backup", "run"]));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--store-as-of") && err.contains("without"),
        "{err}"
    );
    assert_eq!(rt.block_on(store.size("config")).unwrap(), None);

    // Copy the good state to a fresh store, which then works on its own.
    let settings = std::fs::read_to_string(p.config()).unwrap();
    std::fs::write(
        p.config(),
        settings.replace(
            &storage,
            &format!(
                "{storage}    replicas:\n      - {{ name: clean, type: local, path: ./clean }}\n"
            ),
        ),
    )
    .unwrap();
    let r = p.json(&with_as_of(at, &["replicate", "--to", "clean"]), 0);
    assert_eq!(r["ok"], true, "{r}");
    assert_eq!(
        r["replicas"][0]["copied"].as_array().unwrap().len(),
        2,
        "{r}"
    );
    let v = p.json(
        &[
            "--repository",
            "clean",
            "backup",
            "validate",
            "--level",
            "full",
        ],
        0,
    );
    assert_eq!(v["ok"], true, "{v}");
    let again = p.root().join("again");
    let again_s = again.display().to_string();
    p.json(
        &[
            "--repository",
            "clean",
            "restore",
            "--backup-id",
            "latest",
            "--target",
            &again_s,
        ],
        0,
    );
    assert_same_tree(&expected, &again.join("data"));

    // Before the repository existed: nothing there, said plainly.
    let out = p.run(&["--store-as-of", "2000-01-01 00:00", "backup", "list"]);
    assert_ne!(out.status.code(), Some(0), "{out:?}");
    // A store without versions refuses the option (a usage error).
    let out = p.run(&[
        "--repository",
        "clean",
        "--store-as-of",
        before_damage.as_str(),
        "backup",
        "list",
    ]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("keeps none"),
        "{out:?}"
    );
}

fn with_as_of<'a>(at: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["--store-as-of", at];
    v.extend_from_slice(args);
    v
}

fn http_method(m: &str) -> http::Method {
    m.parse().unwrap()
}

/// A slow server: a proxy that answers nothing on every second connection. With
/// `timeout_seconds: 1` each stalled call is timed out and retried (the log says so), and the
/// backup, its full validation and a restore complete in seconds, not after the stalls.
#[test]
fn a_slow_server_is_timed_out_and_retried_not_waited_out() {
    let s = shared();
    let proxy = cloud_support::StallingProxy::start(s.s3.port, 2);
    let target =
        s.s3.target(S3_BUCKET, &prefix("slow"), S3_SECRET_KEY)
            .replace(
                &s.s3.endpoint(),
                &format!("http://127.0.0.1:{}", proxy.port),
            )
            .replacen("{ ", "{ timeout_seconds: 1, ", 1);
    let p = Project::new(&format!("  storage:\n    primary: {target}\n"));
    p.write("a.txt", "slow but sure\n");
    p.write("b.bin", vec![5u8; 300_000]);
    let t = std::time::Instant::now();
    let mut stderr = String::new();
    let mut run = |args: &[&str]| -> serde_json::Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = p.run(&a);
        stderr.push_str(&String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{args:?}: {stderr}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let b = run(&["backup", "run", "--type", "full"]);
    let v = run(&["backup", "validate", "--level", "full"]);
    assert_eq!(v["ok"], true, "{v}");
    let target = p.root().join("restored");
    run(&[
        "restore",
        "--backup-id",
        b["backup_id"].as_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
    ]);
    assert_same_tree(&p.data(), &target.join("data"));
    let took = t.elapsed();
    let stalled = proxy.stalled.load(std::sync::atomic::Ordering::SeqCst);
    assert!(stalled >= 1, "no request met a stalled connection");
    assert!(
        stderr.contains("did not finish within 1 s") && stderr.contains("retrying"),
        "the stalls were not timed out and retried: {stderr}"
    );
    // Each stall costs about one timeout (1 s) and a back-off, never the stall itself (60 s).
    assert!(
        took < std::time::Duration::from_secs(45),
        "{stalled} stalled connection(s) took {took:?}"
    );
}

/// An immutable S3 replica whose server stops answering (every request held, none answered):
/// `backup status` still answers within seconds, with a warning that says which store did not
/// answer in time, instead of waiting on the listing of its object versions.
#[test]
fn status_answers_when_an_immutable_replica_stops_answering() {
    let s = shared();
    let proxy = cloud_support::StallingProxy::start(s.s3.port, 1);
    let replica = named(
        "vault",
        &s.s3
            .target(S3_BUCKET, &prefix("silent-vault"), S3_SECRET_KEY)
            .replace(
                &s.s3.endpoint(),
                &format!("http://127.0.0.1:{}", proxy.port),
            )
            .replacen("{ ", "{ immutable: true, timeout_seconds: 1, ", 1),
    );
    let p = Project::new(&format!(
        "  storage:\n    primary: {{ type: local, path: ./repo }}\n    replicas:\n      - {replica}\n"
    ));
    p.write("a.txt", "here\n");
    let out = p.run(&["backup", "run", "--type", "full", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = std::time::Instant::now();
    let out = p.run(&["backup", "status", "--json"]);
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let st: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let warnings = st["warnings"].to_string();
    assert!(
        warnings.contains("vault: its object versions could not be read")
            && warnings.contains("did not finish within 1 s"),
        "{warnings}"
    );
    assert!(st["immutable_stores"][0]["changes"].is_null(), "{st}");
    assert!(
        took < std::time::Duration::from_secs(40),
        "status took {took:?} against a silent store"
    );
}

/// A bare host (no settings file, an empty folder) reads a repository in S3 or Azure Blob by
/// its location alone (`--repository s3://BUCKET/PREFIX` or `azblob://CONTAINER/PREFIX`), the
/// endpoint and credentials taken from the standard AWS_* / AZURE_STORAGE_* variables: it
/// lists, validates and restores, and no output shows the secret, not even the most verbose
/// log.
#[test]
fn a_bare_host_reads_s3_and_azblob_by_location_with_the_standard_environment() {
    let s = shared();
    for kind in ["s3", "azblob"] {
        let pre = prefix("bare-host");
        let (yaml, location, env, secret) = if kind == "s3" {
            (
                s.s3.primary(S3_BUCKET, &pre, S3_SECRET_KEY),
                format!("s3://{S3_BUCKET}/{pre}"),
                vec![
                    ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY.to_string()),
                    ("AWS_SECRET_ACCESS_KEY", S3_SECRET_KEY.to_string()),
                    ("AWS_ENDPOINT_URL", s.s3.endpoint()),
                ],
                S3_SECRET_KEY,
            )
        } else {
            (
                s.azurite.primary(AZ_CONTAINER, &pre, AZ_KEY),
                format!("azblob://{AZ_CONTAINER}/{pre}"),
                vec![
                    ("AZURE_STORAGE_ACCOUNT", AZ_ACCOUNT.to_string()),
                    ("AZURE_STORAGE_KEY", AZ_KEY.to_string()),
                    ("AZURE_STORAGE_BLOB_ENDPOINT", s.azurite.endpoint()),
                ],
                AZ_KEY,
            )
        };
        let p = Project::new(&yaml);
        p.write("notes/a.txt", "from the old server\n");
        p.write("db.bin", vec![5u8; 300_000]);
        p.init();
        let id = p.backup("full")["backup_id"].as_str().unwrap().to_string();

        let bare = tempfile::tempdir().unwrap();
        let key = p.root().join("key");
        let run = |args: &[&str]| {
            let mut c = std::process::Command::new(common::BIN);
            c.arg("--repository")
                .arg(&location)
                .arg("--key-file")
                .arg(&key)
                .args(args)
                .current_dir(bare.path())
                .env("HOME", bare.path())
                .env("MAHAVISHNU_LOG", "trace");
            for (k, _) in std::env::vars() {
                if k.starts_with("MAHAVISHNU_") || k.starts_with("AWS_") || k.starts_with("AZURE_")
                {
                    c.env_remove(k);
                }
            }
            c.env("MAHAVISHNU_LOG", "trace");
            for (k, v) in &env {
                c.env(k, v);
            }
            let out = c.output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "{kind} {args:?}: the secret is shown"
            );
            assert_eq!(
                out.status.code(),
                Some(0),
                "{kind} {args:?}\n{stdout}\n{stderr}"
            );
            stdout
        };
        let list: serde_json::Value =
            serde_json::from_str(&run(&["backup", "list", "--json"])).unwrap();
        assert_eq!(
            list["backups"][0]["backup_id"],
            id.as_str(),
            "{kind}: {list}"
        );
        let v: serde_json::Value =
            serde_json::from_str(&run(&["backup", "validate", "--level", "full", "--json"]))
                .unwrap();
        assert_eq!(v["ok"], true, "{kind}: {v}");
        let target = bare.path().join("restored");
        run(&["restore", "--target", target.to_str().unwrap()]);
        assert_same_tree(&p.data(), &target.join("data"));
    }
}
