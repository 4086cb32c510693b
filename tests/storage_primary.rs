//! A cloud primary store whose settings are wrong (an endpoint that carries credentials, or a
//! SAS token in its query string) is a settings error (exit 2) naming the key, for every
//! command that opens the repository, never repeating the secret; and nothing is written: no
//! repository in `backup.directory` (no silent fallback), no key, no scratch folder. The cloud
//! stores themselves are tested against real servers in tests/storage_cloud.rs.

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
fn a_cloud_primary_with_secrets_in_its_endpoint_is_a_settings_error_and_nothing_is_written() {
    for (extra, problem) in [
        (S3, "the endpoint URL carries credentials"),
        (AZBLOB, "the endpoint URL has a query string"),
    ] {
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
            for needle in [problem, "backup.storage.primary.endpoint"] {
                assert!(text.contains(needle), "{args:?}: {needle} not in {v:#}");
            }
            for secret in ["hunter2", "AKIDEXAMPLE", "SECRETSAS"] {
                assert!(!text.contains(secret), "{args:?}: {secret} in {v:#}");
            }
            // The human form says the same on stderr.
            let out = p.run(args);
            assert_eq!(out.status.code(), Some(2));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(problem), "{stderr}");
            assert!(
                !stderr.contains("hunter2") && !stderr.contains("SECRETSAS"),
                "{stderr}"
            );
        }
        assert_eq!(paths(p.root()), before, "{problem}: something was written");
        assert!(!p.repo().exists());
    }
}
