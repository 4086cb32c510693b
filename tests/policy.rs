//! Policy lives in the operations layer: a caller of the library (the daemon, a third face) that
//! deserializes options gets the same guards the MCP tools have, without writing them again.

use crate::common;

use std::sync::Arc;

use common::Project;
use mahavishnu_dr::CleanupOptions;
use mahavishnu_dr::RestoreOptions;
use mahavishnu_dr::{Cancel, NoProgress};
use mahavishnu_dr::{Dr, ErrorKind};

fn dr(p: &Project) -> Dr {
    let loaded = mahavishnu_dr::load_settings(Some(&p.config()), p.root(), &[]).unwrap();
    Dr::new(loaded).unwrap()
}

async fn restore(dr: &Dr, json: serde_json::Value) -> mahavishnu_dr::Result<String> {
    let o: RestoreOptions = serde_json::from_value(json).unwrap();
    dr.restore(&o, Arc::new(NoProgress), &Cancel::new())
        .await
        .map(|r| r.target)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deserialized_options_are_confined_and_need_confirmation() {
    let p = Project::new("");
    p.write("a.txt", "alpha");
    let root = p.with_restore_root();
    p.init();
    p.backup("full");
    let dr = dr(&p);

    // Outside the restore roots: refused, nothing written there.
    let outside = p.root().join("elsewhere");
    let e = restore(&dr, serde_json::json!({"target_dir": outside}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused, "{e}");
    assert!(
        !outside.exists(),
        "a refused restore wrote outside the roots"
    );

    // Inside: restored; a relative folder is taken inside the first root.
    restore(&dr, serde_json::json!({"target_dir": "one"}))
        .await
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("one/data/a.txt")).unwrap(),
        "alpha"
    );

    // Over data: needs overwrite, and then confirm.
    let e = restore(&dr, serde_json::json!({"target_dir": "one"}))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused, "{e}");
    let e = restore(
        &dr,
        serde_json::json!({"target_dir": "one", "overwrite": true}),
    )
    .await
    .unwrap_err();
    assert!(e.message.contains("confirm"), "{e}");
    restore(
        &dr,
        serde_json::json!({"target_dir": "one", "overwrite": true, "confirm": true}),
    )
    .await
    .unwrap();

    // Cleanup that deletes needs confirmation too.
    let o: CleanupOptions = serde_json::from_value(serde_json::json!({"dry_run": false})).unwrap();
    let e = dr.cleanup(&o, Arc::new(NoProgress)).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Refused, "{e}");
    assert!(e.message.contains("nothing was deleted"), "{e}");

    // Health is the operations layer's too.
    let h = dr.health().await;
    assert!(h.repository_reachable, "{h:?}");
    assert!(h.newest_backup_id.is_some(), "{h:?}");
}

/// The command line and the tools validate an option the same way (in ops), so a value one
/// face refuses the other refuses too.
#[test]
fn the_command_line_refuses_what_the_tools_refuse() {
    let p = Project::new("");
    p.write("a.txt", "alpha");
    p.init();
    p.backup("full");
    for (args, needle) in [
        (vec!["backup", "list", "--limit=-1"], "limit"),
        (
            vec!["backup", "validate", "--sample", "0"],
            "sample_percent",
        ),
        (
            vec!["backup", "validate", "--sample", "101"],
            "sample_percent",
        ),
        (vec!["restore-test", "measure-rpo", "--days", "0"], "1 day"),
        (vec!["restore-test", "report", "--last=-2"], "last"),
    ] {
        let o = p.run(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}
