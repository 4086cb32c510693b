//! Property: any small tree (random names with spaces and unicode, random contents and modes,
//! folders, symlinks) backed up full, mutated at random, backed up incremental, restores exactly
//! as it was at each backup.

use crate::common;
use crate::tree_support;

use std::path::Path;

use common::Project;
use proptest::prelude::*;
use tree_support::*;

#[derive(Debug, Clone)]
enum Kind {
    File { content: Vec<u8>, mode: u32 },
    Dir { mode: u32 },
    Symlink { target: String },
}

#[derive(Debug, Clone)]
struct Item {
    /// 1..=3 components.
    path: Vec<String>,
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Rewrite the n-th file (existing files, in path order) with this content.
    Rewrite(usize, Vec<u8>),
    /// Append to the n-th file.
    Append(usize, Vec<u8>),
    /// Delete the n-th entry (a folder with everything in it).
    Delete(usize),
    /// Rename the n-th entry to a new name in the same folder.
    Rename(usize, String),
    /// Change the mode of the n-th file.
    Chmod(usize, u32),
    /// Add a new file at the top level.
    Add(String, Vec<u8>),
}

/// Names from a safe alphabet with spaces and non-ASCII letters; never `.` or `..`.
fn name() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 _é日ñ][a-zA-Z0-9 ._é日ñ-]{0,7}"
}

fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(Vec::new()),
        proptest::collection::vec(any::<u8>(), 1..64),
        proptest::collection::vec(any::<u8>(), 1000..5000),
    ]
}

fn file_mode() -> impl Strategy<Value = u32> {
    prop::sample::select(vec![0o600, 0o640, 0o644, 0o755, 0o700, 0o664])
}

fn dir_mode() -> impl Strategy<Value = u32> {
    prop::sample::select(vec![0o755, 0o750, 0o700])
}

fn item() -> impl Strategy<Value = Item> {
    let kind = prop_oneof![
        4 => (content(), file_mode()).prop_map(|(content, mode)| Kind::File { content, mode }),
        2 => dir_mode().prop_map(|mode| Kind::Dir { mode }),
        1 => name().prop_map(|target| Kind::Symlink { target }),
    ];
    (proptest::collection::vec(name(), 1..=3), kind).prop_map(|(path, kind)| Item { path, kind })
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), content()).prop_map(|(i, c)| Mutation::Rewrite(i, c)),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..32)
        )
            .prop_map(|(i, c)| Mutation::Append(i, c)),
        any::<usize>().prop_map(Mutation::Delete),
        (any::<usize>(), name()).prop_map(|(i, n)| Mutation::Rename(i, n)),
        (any::<usize>(), file_mode()).prop_map(|(i, m)| Mutation::Chmod(i, m)),
        (name(), content()).prop_map(|(n, c)| Mutation::Add(n, c)),
    ]
}

/// Create the items under `data`, skipping any that collide with what is already there.
fn build(data: &Path, items: &[Item]) {
    for it in items {
        let mut p = data.to_path_buf();
        let (last, parents) = it.path.split_last().unwrap();
        let mut ok = true;
        for c in parents {
            p.push(c);
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.is_dir() => {}
                Ok(_) => {
                    ok = false;
                    break;
                }
                Err(_) => std::fs::create_dir(&p).unwrap(),
            }
        }
        if !ok {
            continue;
        }
        p.push(last);
        if std::fs::symlink_metadata(&p).is_ok() {
            continue;
        }
        match &it.kind {
            Kind::File { content, mode } => write_file(&p, content, *mode),
            Kind::Dir { mode } => {
                std::fs::create_dir(&p).unwrap();
                set_mode(&p, *mode);
            }
            Kind::Symlink { target } => std::os::unix::fs::symlink(target, &p).unwrap(),
        }
    }
}

fn mutate(data: &Path, mutations: &[Mutation]) {
    use std::io::Write;
    for m in mutations {
        let snap = snapshot(data);
        let files: Vec<&String> = snap
            .iter()
            .filter(|(_, n)| matches!(n, Node::File { .. }))
            .map(|(k, _)| k)
            .collect();
        let all: Vec<&String> = snap.keys().collect();
        match m {
            Mutation::Rewrite(i, c) if !files.is_empty() => {
                std::fs::write(data.join(files[i % files.len()]), c).unwrap()
            }
            Mutation::Append(i, c) if !files.is_empty() => std::fs::OpenOptions::new()
                .append(true)
                .open(data.join(files[i % files.len()]))
                .unwrap()
                .write_all(c)
                .unwrap(),
            Mutation::Chmod(i, mode) if !files.is_empty() => {
                set_mode(&data.join(files[i % files.len()]), *mode)
            }
            Mutation::Delete(i) if !all.is_empty() => {
                let p = data.join(all[i % all.len()]);
                if std::fs::symlink_metadata(&p).unwrap().is_dir() {
                    std::fs::remove_dir_all(&p).unwrap();
                } else {
                    std::fs::remove_file(&p).unwrap();
                }
            }
            Mutation::Rename(i, n) if !all.is_empty() => {
                let from = data.join(all[i % all.len()]);
                let to = from.with_file_name(n);
                if std::fs::symlink_metadata(&to).is_err() {
                    std::fs::rename(&from, &to).unwrap();
                }
            }
            Mutation::Add(n, c) => {
                let p = data.join(n);
                if std::fs::symlink_metadata(&p).is_err() {
                    write_file(&p, c, 0o644);
                }
            }
            _ => {}
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 16,
        max_shrink_iters: 24,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn random_trees_round_trip_through_full_and_incremental(
        items in proptest::collection::vec(item(), 0..=20),
        mutations in proptest::collection::vec(mutation(), 1..=6),
    ) {
        let p = Project::new("");
        build(&p.data(), &items);
        p.init();

        let before_full = snapshot_with_root(&p.data());
        let full = p.backup("full");
        prop_assert_eq!(full["backup_type"].as_str(), Some("full"));
        prop_assert_eq!(total(&full, "files") as usize, files_of(&before_full).len());

        mutate(&p.data(), &mutations);
        let before_inc = snapshot_with_root(&p.data());
        let inc = p.backup("incremental");
        prop_assert_eq!(inc["backup_type"].as_str(), Some("incremental"));
        prop_assert_eq!(total(&inc, "files") as usize, files_of(&before_inc).len());
        prop_assert!(
            total(&inc, "files_stored") <= total(&inc, "files"),
            "{}", inc
        );

        let full_dir = p.restore(&id_of(&full));
        assert_snap_eq("full restored", &before_full, &snapshot_with_root(&full_dir));
        let inc_dir = p.restore(&id_of(&inc));
        assert_snap_eq("incremental restored", &before_inc, &snapshot_with_root(&inc_dir));
    }
}
