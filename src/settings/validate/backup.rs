//! Checks of the `backup` section's own values: algorithms, sizes, compression levels, excludes
//! and sources.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};

use super::Problems;
use crate::settings::document::BackupDoc;
use crate::settings::keys::{index_key, keys};
use crate::settings::schema::{SourceSpec, host_name_problem};

/// The only accepted encryption algorithm, in its canonical spelling.
const ALGORITHM: &str = "AES-256-GCM";
/// The only accepted checksum algorithm.
const CHECKSUM: &str = "sha256";

/// Check the `backup` section's own values (not its schedules or storage), storing the
/// algorithm names in their canonical spelling.
pub(super) fn check(b: &mut BackupDoc, p: &mut Problems<'_>) {
    let algo = &mut b.encryption.algorithm;
    if algo.eq_ignore_ascii_case(ALGORITHM) {
        *algo = ALGORITHM.to_string();
    } else {
        p.add(
            &keys(&["backup", "encryption", "algorithm"]),
            format!("unsupported algorithm {algo:?}; only \"{ALGORITHM}\" is supported"),
            Some("set backup.encryption.algorithm to \"AES-256-GCM\""),
        );
    }
    let sum = &mut b.validation.checksum_algorithm;
    if sum.eq_ignore_ascii_case(CHECKSUM) {
        *sum = CHECKSUM.to_string();
    } else {
        p.add(
            &keys(&["backup", "validation", "checksum_algorithm"]),
            format!("unsupported checksum algorithm {sum:?}; only \"{CHECKSUM}\" is supported"),
            Some("set backup.validation.checksum_algorithm to \"sha256\""),
        );
    }
    if b.volume_size_mb < 1 {
        p.add(
            &keys(&["backup", "volume_size_mb"]),
            "must be at least 1 (MiB)",
            None,
        );
    }
    if b.block_incremental.min_file_mb < 1 {
        p.add(
            &keys(&["backup", "block_incremental", "min_file_mb"]),
            "must be at least 1 (MiB)",
            None,
        );
    }
    let c = &b.continuous;
    if c.max_delay_seconds < 1 || c.max_delay_seconds < c.debounce_seconds {
        p.add(
            &keys(&["backup", "continuous", "max_delay_seconds"]),
            format!(
                "must be at least 1 and at least debounce_seconds ({})",
                c.debounce_seconds
            ),
            Some("max_delay_seconds bounds how old the newest change not in a point may get"),
        );
    }
    if c.keep_hours < 1 {
        p.add(
            &keys(&["backup", "continuous", "keep_hours"]),
            "must be at least 1 (hour)",
            None,
        );
    }
    if b.max_chain_length < 1 {
        p.add(
            &keys(&["backup", "max_chain_length"]),
            "must be at least 1",
            None,
        );
    }
    for (name, level) in [
        ("level", b.compression.level),
        ("archival_level", b.compression.archival_level),
    ] {
        if !(1..=22).contains(&level) {
            p.add(
                &keys(&["backup", "compression", name]),
                format!("{level} is not a zstd level; use 1..=22"),
                None,
            );
        }
    }
    for (i, pattern) in b.exclude.iter().enumerate() {
        if pattern.trim().is_empty() {
            p.add(
                &index_key(&["backup", "exclude"], i),
                "an empty exclude pattern",
                None,
            );
        }
    }

    check_sources(b, p);
    if let Some(problem) = b.host.as_deref().and_then(host_name_problem) {
        p.add(
            &keys(&["backup", "host"]),
            problem,
            Some("set backup.host to this machine's name (e.g. db-1), or remove it to use the system's host name"),
        );
    }
}

/// Command sources are well formed; no path is listed twice.
fn check_sources(b: &BackupDoc, p: &mut Problems<'_>) {
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut paths: Vec<(usize, PathBuf)> = Vec::new();
    for (i, source) in b.sources.iter().enumerate() {
        let key = index_key(&["backup", "sources"], i);
        match source {
            SourceSpec::Command { name, command } => {
                let name_ok = !name.trim().is_empty()
                    && Path::new(name)
                        .components()
                        .all(|c| matches!(c, Component::Normal(_)));
                if !name_ok {
                    p.add(
                        &key,
                        format!(
                            "command source name {name:?} must be a non-empty relative path \
                             without `..` (the file its output is stored as, e.g. \"postgres.sql\")"
                        ),
                        None,
                    );
                } else if !names.insert(name.clone()) {
                    p.add(
                        &key,
                        format!("two command sources are named {name:?}; names must be unique"),
                        None,
                    );
                }
                if command.first().is_none_or(|c| c.trim().is_empty()) {
                    p.add(
                        &key,
                        format!(
                            "command source {name:?} needs a command: the program and its \
                             arguments, e.g. [\"pg_dump\", \"mydb\"]"
                        ),
                        None,
                    );
                }
            }
            SourceSpec::Path(path) | SourceSpec::PathWithExcludes { path, .. } => {
                if let Some((j, _)) = paths.iter().find(|(_, q)| q == path) {
                    p.add(
                        &key,
                        format!(
                            "{} is listed twice (also backup.sources[{j}])",
                            path.display()
                        ),
                        Some("remove the duplicate source"),
                    );
                } else {
                    paths.push((i, path.clone()));
                }
                if let SourceSpec::PathWithExcludes { exclude, .. } = source
                    && exclude.iter().any(|e| e.trim().is_empty())
                {
                    p.add(&key, "an empty exclude pattern", None);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::settings::ResolvedSource;
    use crate::settings::test_support::{err_in, load_in, project};

    #[test]
    fn command_sources() {
        let (_d, root) = project(
            "backup:\n  sources:\n    - name: postgres.sql\n      command: [pg_dump, -p, 5432, mydb]\n",
        );
        let l = load_in(&root, &[]).expect("loads");
        assert_eq!(
            l.sources(),
            vec![ResolvedSource::Command {
                name: "postgres.sql".into(),
                command: vec!["pg_dump".into(), "-p".into(), "5432".into(), "mydb".into()]
            }]
        );
        for bad in [
            "backup:\n  sources:\n    - {name: ../x.sql, command: [a]}\n",
            "backup:\n  sources:\n    - {name: /x.sql, command: [a]}\n",
            "backup:\n  sources:\n    - {name: \"\", command: [a]}\n",
            "backup:\n  sources:\n    - {name: x.sql, command: []}\n",
        ] {
            let (_d, root) = project(bad);
            let e = err_in(&root, &[]);
            assert!(e.message.contains("backup.sources[0]"), "{bad}: {e}");
        }
        let (_d, root) = project("backup:\n  sources:\n    - {name: x.sql}\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("needs `command`"), "{e}");
        let (_d, root) = project("backup:\n  sources:\n    - {path: a, command: [x]}\n");
        let e = err_in(&root, &[]);
        assert!(e.message.contains("not both"), "{e}");
    }
}
