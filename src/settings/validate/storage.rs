//! Checks of where things are stored: storage targets (local, S3 or Azure Blob; replicas
//! named), and the repository, scratch folder, sources, replicas,
//! key file and restore roots kept apart.

use std::path::{Path, PathBuf};

use super::Problems;
use crate::settings::keys::{KeyPath, index_key, keys};
use crate::settings::paths::repository_dir_of;
use crate::settings::paths::{default_sources, within};
use crate::settings::schema::{
    PRIMARY_STORE, Settings, StorageSettings, StorageTarget, default_replica_name,
};

/// Every store is complete and consistent; each replica has a name of its own.
pub(super) fn check_targets(storage: &StorageSettings, p: &mut Problems<'_>) {
    let mut names: Vec<String> = vec![PRIMARY_STORE.to_string()];
    if let Some(primary) = &storage.primary {
        let at = keys(&["backup", "storage", "primary"]);
        check_cloud_target(primary, &at, p);
        if let Some(name) = primary.name() {
            check_name(name, &at, p);
            names.push(name.to_string());
        }
    }
    for (i, replica) in storage.replicas.iter().enumerate() {
        let key = index_key(&["backup", "storage", "replicas"], i);
        check_cloud_target(replica, &key, p);
        let name = replica
            .name()
            .map_or_else(|| default_replica_name(i), str::to_string);
        if names.contains(&name) {
            p.add(
                &key,
                format!("the store name {name:?} is used twice"),
                Some(
                    "give every store its own name (the primary is also called \"primary\", an \
                     unnamed replica \"replica-N\" after its place in the list)",
                ),
            );
        } else {
            check_name(&name, &key, p);
            names.push(name);
        }
    }
}

/// A store name is short and plain: it is typed on command lines and shown in reports.
fn check_name(name: &str, key: &KeyPath, p: &mut Problems<'_>) {
    let plain = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !plain {
        p.add(
            key,
            format!("the store name {name:?} is not a plain name"),
            Some("use letters, digits, '-', '_' or '.' (at most 64), e.g. offsite or azure-eu"),
        );
    }
}

/// An s3 or azblob target names its bucket or container, a usable endpoint, and one way to
/// sign. Messages never repeat a value that could hold a secret (an endpoint may carry one).
fn check_cloud_target(target: &StorageTarget, at: &KeyPath, p: &mut Problems<'_>) {
    let key = |field: &str| {
        let mut k = at.clone();
        k.extend(keys(&[field]));
        k
    };
    match target {
        StorageTarget::Local { .. } => {}
        StorageTarget::S3 {
            bucket, endpoint, ..
        } => {
            if bucket.trim().is_empty() {
                p.add(
                    at,
                    "an s3 store needs a bucket",
                    Some("set bucket: to the name of an existing bucket (this tool never creates one)"),
                );
            }
            if let Some(endpoint) = endpoint {
                check_endpoint(endpoint, &key("endpoint"), p);
            }
        }
        StorageTarget::Azblob {
            container,
            endpoint,
            account,
            account_key,
            sas_token,
            ..
        } => {
            if container.trim().is_empty() {
                p.add(
                    at,
                    "an azblob store needs a container",
                    Some(
                        "set container: to the name of an existing container (this tool never \
                         creates one)",
                    ),
                );
            }
            if account_key.is_some() && sas_token.is_some() {
                p.add(
                    &key("sas_token"),
                    "give either account_key or sas_token, not both",
                    Some("keep the one this host should sign with and remove the other"),
                );
            }
            match endpoint {
                Some(endpoint) => check_endpoint(endpoint, &key("endpoint"), p),
                None if account.as_deref().is_none_or(|a| a.trim().is_empty()) => p.add(
                    at,
                    "an azblob store needs its storage account (or an endpoint)",
                    Some(
                        "set account: to the storage account's name, or endpoint: to the blob \
                         service URL (https://<account>.blob.core.windows.net)",
                    ),
                ),
                None => {}
            }
        }
    }
}

/// An endpoint is an `http://` or `https://` URL with a host, and carries no credentials (user
/// info, or a query string such as a SAS token): those go in their own secret settings.
fn check_endpoint(endpoint: &str, key: &KeyPath, p: &mut Problems<'_>) {
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"));
    let authority = rest.map(|r| r.split(['/', '?', '#']).next().unwrap_or(""));
    let problem = match authority {
        None => Some("the endpoint is not a URL (it must start with https:// or http://)"),
        Some(a) if a.is_empty() || a.starts_with(':') => Some("the endpoint URL has no host"),
        Some(a) if a.contains('@') => Some("the endpoint URL carries credentials (user@host)"),
        Some(_) if endpoint.chars().any(char::is_whitespace) => {
            Some("the endpoint URL contains white space")
        }
        Some(_) if endpoint.contains('?') || endpoint.contains('#') => {
            Some("the endpoint URL has a query string (a SAS token does not belong there)")
        }
        Some(_) => None,
    };
    if let Some(problem) = problem {
        p.add(
            key,
            problem,
            Some(
                "write the service URL alone, e.g. https://s3.eu-west-1.amazonaws.com or \
                 http://127.0.0.1:9000; credentials go in access_key_id / secret_access_key, \
                 account_key or sas_token",
            ),
        );
    }
}

/// The repository, the scratch folder and the sources must stay apart: the repository is never
/// backed up, and restore tests and drills never work inside live data or the repository.
pub(super) fn check_overlaps(s: &Settings, root: &Path, p: &mut Problems<'_>) {
    let repo = repository_dir_of(s);
    let scratch = &s.disaster_recovery.restore_test.scratch_dir;
    let scratch_key = keys(&["disaster_recovery", "restore_test", "scratch_dir"]);

    // (key, path, label)
    let mut sources: Vec<(KeyPath, PathBuf, String)> = Vec::new();
    if s.backup.sources.is_empty() {
        for path in default_sources(root) {
            sources.push((
                keys(&["backup", "sources"]),
                path.clone(),
                format!("the default source {}", path.display()),
            ));
        }
    } else {
        for (i, source) in s.backup.sources.iter().enumerate() {
            if let Some(path) = source.path() {
                sources.push((
                    index_key(&["backup", "sources"], i),
                    path.to_path_buf(),
                    format!("source {}", path.display()),
                ));
            }
        }
    }

    let repo_guidance = "keep the repository outside every source: move backup.directory (or \
                         storage.primary) elsewhere, or list narrower sources";
    for (key, path, label) in &sources {
        if within(path, &repo) {
            p.add(
                key,
                format!(
                    "{label} is inside the repository {} (the repository is never backed up)",
                    repo.display()
                ),
                Some(repo_guidance),
            );
        }
        // A repository inside a source is fine: the scan skips it (and says so).
        if within(scratch, path) || within(path, scratch) {
            p.add(
                &scratch_key,
                format!(
                    "the scratch folder {} overlaps {label}; restore tests and drills must never \
                     work on live data",
                    scratch.display()
                ),
                Some("point disaster_recovery.restore_test.scratch_dir at a folder of its own"),
            );
        }
    }
    if within(scratch, &repo) || within(&repo, scratch) {
        p.add(
            &scratch_key,
            format!(
                "the scratch folder {} overlaps the repository {}",
                scratch.display(),
                repo.display()
            ),
            Some("point disaster_recovery.restore_test.scratch_dir at a folder of its own"),
        );
    }
    // A cloud primary has no local folder: `backup.directory` is then free for a replica (the
    // old local repository, kept as one after a move to the cloud).
    let local_primary = !s
        .backup
        .storage
        .primary
        .as_ref()
        .is_some_and(|p| p.is_cloud());
    for (i, replica) in s.backup.storage.replicas.iter().enumerate() {
        if let StorageTarget::Local { path, .. } = replica
            && local_primary
            && (within(path, &repo) || within(&repo, path))
        {
            p.add(
                &index_key(&["backup", "storage", "replicas"], i),
                format!(
                    "the replica {} overlaps the repository {}",
                    path.display(),
                    repo.display()
                ),
                Some("put each replica in a folder of its own, ideally on another disk"),
            );
        }
    }
    let key_path = &s.backup.encryption.key_path;
    if s.backup.encryption.enabled && within(key_path, &repo) {
        p.add(
            &keys(&["backup", "encryption", "key_path"]),
            format!(
                "the key file {} is inside the repository {}; whoever gets a copy of the \
                 repository would get the key with it",
                key_path.display(),
                repo.display()
            ),
            Some("keep the key file outside the repository, and a copy of it somewhere safe"),
        );
    }
    for (i, restore_root) in s.mcp.restore_roots.iter().enumerate() {
        if within(restore_root, &repo) {
            p.add(
                &index_key(&["mcp", "restore_roots"], i),
                format!(
                    "the restore root {} is inside the repository {}",
                    restore_root.display(),
                    repo.display()
                ),
                Some("restore roots must lie outside the repository"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::error::ErrorKind;
    use crate::settings::load;
    use crate::settings::schema::StorageTarget;
    use crate::settings::test_support::{err_in, load_in, project};

    const SECRET: &str = "hunter2-SECRET-value";

    /// Every face of loaded settings with secrets: none shows them (Debug of the settings, the
    /// settings as JSON and as the redacted JSON that the MCP settings resource serves).
    fn assert_no_secret(l: &crate::settings::LoadedSettings, secret: &str) {
        for face in [
            format!("{l:?}"),
            format!("{:#?}", l.settings),
            serde_json::to_string(&l.settings).unwrap(),
            l.redacted_json().to_string(),
        ] {
            assert!(!face.contains(secret), "{secret} in {face}");
            assert!(face.contains("<redacted>"), "{face}");
        }
    }

    #[test]
    fn cloud_secrets_load_from_file_and_environment_and_no_face_shows_them() {
        let (_d, root) = project(&format!(
            "backup:\n  storage:\n    primary: {{ type: s3, bucket: b, prefix: p/, region: r1, \
             endpoint: \"http://127.0.0.1:9000\", access_key_id: AK, secret_access_key: {SECRET} }}\n"
        ));
        let l = load_in(&root, &[]).expect("loads");
        let Some(StorageTarget::S3 {
            secret_access_key: Some(secret),
            ..
        }) = &l.settings.backup.storage.primary
        else {
            panic!("not an s3 primary with a secret: {l:?}")
        };
        assert_eq!(secret.expose(), SECRET);
        assert_no_secret(&l, SECRET);

        // From the environment, over the file.
        let env_secret = "env-secret-7f3a9";
        let l = load_in(
            &root,
            &[(
                "MAHAVISHNU_BACKUP__STORAGE__PRIMARY__SECRET_ACCESS_KEY",
                env_secret,
            )],
        )
        .expect("loads");
        let Some(StorageTarget::S3 {
            secret_access_key: Some(secret),
            ..
        }) = &l.settings.backup.storage.primary
        else {
            panic!("not an s3 primary with a secret")
        };
        assert_eq!(secret.expose(), env_secret);
        assert_no_secret(&l, env_secret);

        let (_d, root) = project(&format!(
            "backup:\n  storage:\n    primary: {{ type: azblob, container: c, account: acct, \
             sas_token: \"sv=1&sig={SECRET}\" }}\n"
        ));
        let l = load_in(&root, &[]).expect("loads");
        assert_no_secret(&l, SECRET);
    }

    #[test]
    fn incomplete_or_contradictory_cloud_targets_are_settings_errors_with_guidance() {
        let cases = [
            (
                "{ type: s3, region: r1 }".to_string(),
                "backup.storage.primary: an s3 store needs a bucket",
                "existing bucket",
            ),
            (
                "{ type: azblob, account: a }".to_string(),
                "backup.storage.primary: an azblob store needs a container",
                "existing container",
            ),
            (
                format!(
                    "{{ type: azblob, container: c, account: a, account_key: {SECRET}, sas_token: {SECRET} }}"
                ),
                "backup.storage.primary.sas_token: give either account_key or sas_token, not both",
                "remove the other",
            ),
            (
                "{ type: azblob, container: c }".to_string(),
                "backup.storage.primary: an azblob store needs its storage account",
                "blob.core.windows.net",
            ),
            (
                "{ type: s3, bucket: b, endpoint: \"s3.example.test\" }".to_string(),
                "backup.storage.primary.endpoint: the endpoint is not a URL",
                "https://",
            ),
            (
                format!(
                    "{{ type: s3, bucket: b, endpoint: \"https://AK:{SECRET}@s3.example.test\" }}"
                ),
                "backup.storage.primary.endpoint: the endpoint URL carries credentials",
                "secret_access_key",
            ),
            (
                format!(
                    "{{ type: azblob, container: c, endpoint: \"https://a.blob.example.test/?sig={SECRET}\" }}"
                ),
                "backup.storage.primary.endpoint: the endpoint URL has a query string",
                "sas_token",
            ),
        ];
        for (target, message, guidance) in cases {
            let (_d, root) = project(&format!("backup:\n  storage:\n    primary: {target}\n"));
            let e = err_in(&root, &[]);
            assert_eq!(e.kind, ErrorKind::Settings, "{e}");
            assert_eq!(e.exit_code(), 2);
            let all = format!("{e} {e:?}");
            assert!(all.contains(message), "{message}: {all}");
            assert!(all.contains(guidance), "{guidance}: {all}");
            assert!(!all.contains(SECRET), "secret shown: {all}");
        }
        // Complete ones load (an account alone gives the endpoint; an endpoint alone the account).
        for target in [
            "{ type: azblob, container: c, account: a }",
            "{ type: azblob, container: c, endpoint: \"http://127.0.0.1:10000/devstoreaccount1\" }",
            "{ type: s3, bucket: b }",
        ] {
            let (_d, root) = project(&format!("backup:\n  storage:\n    primary: {target}\n"));
            load_in(&root, &[]).unwrap_or_else(|e| panic!("{target}: {e}"));
        }
    }

    #[test]
    fn replicas_need_plain_names_of_their_own_and_may_be_cloud_stores() {
        let cases = [
            (
                "[{ type: s3, bucket: b }, { name: replica-1, type: s3, bucket: c }]",
                "backup.storage.replicas[1]: the store name \"replica-1\" is used twice",
                "unnamed replica",
            ),
            (
                "[{ name: primary, type: local, path: /tmp/r1 }]",
                "the store name \"primary\" is used twice",
                "its own name",
            ),
            (
                "[{ name: a, type: local, path: /tmp/r1 }, { name: a, type: s3, bucket: b }]",
                "backup.storage.replicas[1]: the store name \"a\" is used twice",
                "its own name",
            ),
            (
                "[{ name: \"off site\", type: azblob, container: c, account: a }]",
                "the store name \"off site\" is not a plain name",
                "letters, digits",
            ),
            (
                "[{ name: z, type: s3, bucket: \"\" }]",
                "backup.storage.replicas[0]: an s3 store needs a bucket",
                "existing bucket",
            ),
        ];
        for (replicas, message, guidance) in cases {
            let (_d, root) = project(&format!("backup:\n  storage:\n    replicas: {replicas}\n"));
            let e = err_in(&root, &[]);
            let all = format!("{e} {e:?}");
            assert!(all.contains(message), "{message}: {all}");
            assert!(all.contains(guidance), "{guidance}: {all}");
        }
        let (_d, root) = project(&format!(
            "backup:\n  storage:\n    replicas:\n      - {{ name: offsite, type: s3, bucket: b, \
             prefix: prod/, region: eu-west-1, immutable: true, secret_access_key: {SECRET} }}\n      \
             - {{ name: azure, type: azblob, container: c, account: acct }}\n      \
             - {{ type: local, path: ./r3 }}\n"
        ));
        let l = load_in(&root, &[]).expect("loads");
        let b = &l.settings.backup;
        let names: Vec<_> = b
            .storage
            .stores(&b.directory)
            .into_iter()
            .map(|s| (s.name, s.target.display_name(), s.target.immutable()))
            .collect();
        assert_eq!(
            names,
            vec![
                (
                    "primary".to_string(),
                    format!("local:{}", root.join("backups").display()),
                    false
                ),
                ("offsite".to_string(), "s3://b/prod".to_string(), true),
                ("azure".to_string(), "azblob://c".to_string(), false),
                (
                    "replica-3".to_string(),
                    format!("local:{}", root.join("r3").display()),
                    false
                ),
            ]
        );
        assert_no_secret(&l, SECRET);

        // A replica's secret from the environment, by its place in the list; the other
        // replicas and the rest of the entry stay as the file gives them.
        let env_secret = "replica-env-secret-31f";
        let l = load_in(
            &root,
            &[(
                "MAHAVISHNU_BACKUP__STORAGE__REPLICAS__1__ACCOUNT_KEY",
                env_secret,
            )],
        )
        .expect("loads");
        let r = &l.settings.backup.storage.replicas;
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].name(), Some("azure"));
        let StorageTarget::Azblob {
            account_key: Some(key),
            container,
            ..
        } = &r[1]
        else {
            panic!("not an azblob replica with a key: {r:?}")
        };
        assert_eq!(key.expose(), env_secret);
        assert_eq!(container, "c");
        assert_eq!(r[0].name(), Some("offsite"));
        assert_no_secret(&l, env_secret);
        // An index past the list is an error naming the variable.
        let e = err_in(
            &root,
            &[("MAHAVISHNU_BACKUP__STORAGE__REPLICAS__7__ACCOUNT_KEY", "x")],
        );
        assert!(
            e.message
                .contains("MAHAVISHNU_BACKUP__STORAGE__REPLICAS__7__ACCOUNT_KEY"),
            "{e}"
        );
    }

    #[test]
    fn repository_and_sources_must_not_overlap() {
        // A source inside the repository.
        let (_d, root) = project("backup:\n  directory: ./repo\n  sources: [./repo/sub]\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("inside the repository"), "{e}");
        assert!(e.message.contains("backup.sources[0]"), "{e}");
        assert!(e.message.contains("never backed up"), "{e}");
        // The repository inside a source is allowed: the scan skips it.
        let (_d, root) = project("backup:\n  directory: ./data/repo\n");
        load(None, &root, &[]).unwrap();
        // Equal.
        let (_d, root) = project("backup:\n  directory: ./x\n  sources: [./x/.]\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("never backed up"), "{e}");
        // The key file inside the repository.
        let (_d, root) =
            project("backup:\n  directory: ./repo\n  encryption:\n    key_path: ./repo/key\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("backup.encryption.key_path"), "{e}");
        // Scratch folder inside live data.
        let (_d, root) =
            project("disaster_recovery:\n  restore_test:\n    scratch_dir: ./data/scratch\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("scratch_dir"), "{e}");
    }
}
