//! A cloud primary store in the settings (`backup.storage.primary: { type: s3 | azblob }`) is a
//! settings error (exit 2) naming the store and never a secret, for every command that opens the
//! repository, and nothing is written: no repository in `backup.directory` (no silent fallback),
//! no key, no scratch folder. The settings loader refuses it today; `storage::open` refuses it too,
//! so the refusal holds wherever the settings come from (its own wording, which also names the
//! bucket or container, is checked by the unit tests in src/storage/mod.rs).

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{Project, tree};

const S3: &str = "  storage:\n    primary: { type: s3, bucket: dr-bucket, region: eu-west-1, endpoint: \"https://AKIDEXAMPLE:hunter2@s3.example.test\" }\n";
const AZBLOB: &str = "  storage:\n    primary: { type: azblob, container: dr-container, account: acct, endpoint: \"https://acct.blob.example.test/?sig=SECRETSAS\" }\n";

fn paths(root: &Path) -> BTreeSet<String> {
    tree(root).into_keys().collect()
}

#[test]
fn a_cloud_primary_is_a_clear_settings_error_and_nothing_is_written() {
    for (extra, kind) in [(S3, "s3"), (AZBLOB, "azblob")] {
        let p = Project::new(extra);
        p.write("a.txt", "a\n");
        let before = paths(p.root());
        for args in [
            &["backup", "run", "--type", "full"][..],
            &["init", "--generate-key"],
            &["backup", "status"],
            &["restore-test", "run"],
        ] {
            let v = p.json(args, 2);
            let e = &v["error"];
            assert_eq!(e["kind"], "settings", "{args:?}: {v:#}");
            let text = v.to_string();
            for needle in [kind, "backup.storage.primary", "backup.directory"] {
                assert!(text.contains(needle), "{args:?}: {needle} not in {v:#}");
            }
            for secret in ["hunter2", "AKIDEXAMPLE", "SECRETSAS", "example.test"] {
                assert!(!text.contains(secret), "{args:?}: {secret} in {v:#}");
            }
            // The human form says the same on stderr.
            let out = p.run(args);
            assert_eq!(out.status.code(), Some(2));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains(kind) && stderr.contains("primary"),
                "{stderr}"
            );
            assert!(!stderr.contains("hunter2"), "{stderr}");
        }
        assert_eq!(paths(p.root()), before, "{kind}: something was written");
        assert!(!p.repo().exists());
    }
}
