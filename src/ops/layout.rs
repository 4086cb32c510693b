//! The shape of `src/ops`, checked: operations are layers, not a web.
//!
//! A verb file (one public operation: [`VERBS`]) never names a sibling verb and declares nothing
//! `pub(crate)` for others to call; what two operations share is machinery (every other module
//! under `src/ops`). Machinery never names a verb, and the machinery modules form no cycle.
//! Composites ([`COMPOSITES`]: drills) are a layer above the verbs: they run verbs' public
//! operations (a backup into a scratch repository), and nothing under `src/ops` names them. The
//! check reads the source text: module paths written as `super::x`, `super::super::x`, `self::x`
//! or `crate::ops::x` (also inside `{...}` groups), outside comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The operations: one public operation each. A new verb is added here; any other module under
/// `src/ops` is machinery.
const VERBS: &[&str] = &[
    "backup",
    "check",
    "cleanup",
    "decrypt",
    "diff",
    "health",
    "history",
    "init",
    "metrics",
    "report",
    "restore",
    "restore_test",
    "rpo",
    "rto",
    "schedule",
    "status",
    "unlock",
    "validate",
];

/// Operations that compose other operations (a drill backs up and validates scratch
/// repositories): a layer above the verbs. They may call a verb's public operation; no verb and
/// no machinery names them.
const COMPOSITES: &[&str] = &["drill"];

/// One module path a source file names: the top-level `ops` module it reaches, and the text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    module: String,
    text: String,
}

/// The file's module path inside `ops`: `ops/a.rs` -> [a], `ops/d/mod.rs` -> [d],
/// `ops/d/y.rs` -> [d, y], `ops/mod.rs` -> [].
fn module_path(ops_dir: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(ops_dir).unwrap_or(file);
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if let Some(last) = parts.pop() {
        let stem = last.trim_end_matches(".rs").to_string();
        if stem != "mod" {
            parts.push(stem);
        }
    }
    parts
}

/// The text without `//` comments (doc comments name modules in prose).
fn strip_comments(src: &str) -> String {
    src.lines()
        .map(|l| {
            let mut in_str = false;
            let b = l.as_bytes();
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    b'"' if i == 0 || b[i - 1] != b'\\' => in_str = !in_str,
                    b'/' if !in_str && b.get(i + 1) == Some(&b'/') => return &l[..i],
                    _ => {}
                }
                i += 1;
            }
            l
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The first identifier of each element of a `{a, b::c, d::{e, f}}` group (`s` starts after `{`).
fn group_heads(s: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let mut depth = 0;
    let mut expect = true;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => expect = true,
            c if expect && depth == 0 && (c.is_ascii_alphabetic() || c == '_') => {
                heads.push(ident_at(&s[i..]).to_string());
                expect = false;
            }
            _ => {}
        }
    }
    heads
}

/// Every top-level `ops` module the source names, from a file at `at` (its module path).
fn references(at: &[String], src: &str) -> Vec<Reference> {
    let src = strip_comments(src);
    let mut out = Vec::new();
    let bytes = src.as_bytes();
    let mut i = 0;
    while i < src.len() {
        let rest = &src[i..];
        let boundary = i == 0 || {
            let p = bytes[i - 1];
            !(p.is_ascii_alphanumeric() || p == b'_' || p == b':')
        };
        let start = ["crate::ops::", "super::", "self::"]
            .into_iter()
            .find(|p| boundary && rest.starts_with(p));
        let Some(start) = start else {
            i += rest.chars().next().map_or(1, char::len_utf8);
            continue;
        };
        // The module the path is relative to, as a path inside `ops`; None outside `ops`.
        let mut base: Option<Vec<String>> = match start {
            "crate::ops::" => Some(Vec::new()),
            "self::" => Some(at.to_vec()),
            _ => {
                let mut b = at.to_vec();
                b.pop().map(|_| b)
            }
        };
        let mut j = i + start.len();
        while src[j..].starts_with("super::") {
            base = base.and_then(|mut b| b.pop().map(|_| b));
            j += "super::".len();
        }
        let tail = &src[j..];
        let names = if let Some(group) = tail.strip_prefix('{') {
            group_heads(group)
        } else {
            vec![ident_at(tail).to_string()]
        };
        let text_end = tail.find([';', '\n', '(', ')']).unwrap_or(tail.len());
        let text = src[i..j + text_end].trim().to_string();
        if let Some(base) = base {
            for n in names {
                // Relative to `ops` itself the name is a top-level module; relative to a module
                // inside `ops` it is that module's own (the same top-level module).
                let module = match base.first() {
                    None => n,
                    Some(top) => top.clone(),
                };
                if !module.is_empty() {
                    out.push(Reference {
                        module,
                        text: text.clone(),
                    });
                }
            }
        }
        i = j;
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a folder entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// A cycle among `edges`, as the modules along it, if there is one.
fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, done, stack) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges
        .keys()
        .find_map(|n| visit(n, edges, &mut done, &mut Vec::new()))
}

/// What breaks the rule in the files under `ops_dir`, one sentence each.
fn violations(ops_dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(ops_dir, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|f| module_path(ops_dir, f).first().cloned())
        .collect();
    let is_verb = |m: &str| VERBS.contains(&m);
    let is_composite = |m: &str| COMPOSITES.contains(&m);
    let mut problems = Vec::new();
    let mut machinery: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let at = module_path(ops_dir, f);
        let Some(own) = at.first().cloned() else {
            continue; // ops/mod.rs: the root declares every module.
        };
        if own == "layout" {
            continue;
        }
        let rel = f.strip_prefix(ops_dir).unwrap_or(f);
        let shown = format!("src/ops/{}", rel.display());
        let src = std::fs::read_to_string(f).unwrap_or_else(|e| panic!("cannot read {shown}: {e}"));
        if is_composite(&own) {
            continue;
        }
        if is_verb(&own) {
            for (n, line) in strip_comments(&src).lines().enumerate() {
                let t = line.trim_start();
                if t.starts_with("pub(crate)") || t.starts_with("pub(super)") {
                    problems.push(format!(
                        "{shown}:{}: the verb `{own}` declares `{}`: what another operation \
                         needs belongs in machinery, not in a verb",
                        n + 1,
                        t.trim_end()
                    ));
                }
            }
        } else {
            machinery.entry(own.clone()).or_default();
        }
        for r in references(&at, &src) {
            if r.module == own || !modules.contains(&r.module) {
                continue;
            }
            if is_composite(&r.module) {
                problems.push(format!(
                    "{shown}: `{own}` names the composite `{}` (`{}`): composites sit above \
                     every operation, nothing under src/ops calls them",
                    r.module, r.text
                ));
                continue;
            }
            match (is_verb(&own), is_verb(&r.module)) {
                (true, true) => problems.push(format!(
                    "{shown}: the verb `{own}` reaches into the sibling verb `{}` (`{}`): move \
                     what both need into a machinery module",
                    r.module, r.text
                )),
                (false, true) => problems.push(format!(
                    "{shown}: the machinery module `{own}` imports the verb `{}` (`{}`): \
                     machinery never depends on an operation",
                    r.module, r.text
                )),
                (false, false) => {
                    machinery.entry(own.clone()).or_default().insert(r.module);
                }
                (true, false) => {}
            }
        }
    }
    if let Some(cycle) = find_cycle(&machinery) {
        problems.push(format!(
            "the machinery modules form a cycle: {}",
            cycle.join(" -> ")
        ));
    }
    problems
}

#[test]
fn verbs_are_layers_over_machinery_without_cycles() {
    let ops_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/ops");
    for v in VERBS.iter().chain(COMPOSITES) {
        assert!(
            ops_dir.join(format!("{v}.rs")).is_file() || ops_dir.join(v).join("mod.rs").is_file(),
            "the verb `{v}` listed in src/ops/layout.rs has no file under src/ops"
        );
    }
    let problems = violations(&ops_dir);
    assert!(
        problems.is_empty(),
        "src/ops breaks its layering rule:\n  {}",
        problems.join("\n  ")
    );
}

#[test]
fn the_checker_sees_paths_groups_and_nesting() {
    let at = |p: &[&str]| p.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mods = |refs: Vec<Reference>| refs.into_iter().map(|r| r.module).collect::<Vec<_>>();
    assert_eq!(
        mods(references(
            &at(&["rto"]),
            "use super::{Cancel, Dr, measure::x, record::{keep, note_kept}};\n\
             // super::restore in a comment\n\
             let t = super::restore_test::f(\"// not a comment\");\n\
             crate::ops::validate::Level;"
        )),
        [
            "Cancel",
            "Dr",
            "measure",
            "record",
            "restore_test",
            "validate"
        ]
    );
    // Inside a folder module: `super::` is that module, `super::super::` is `ops`.
    assert_eq!(
        mods(references(
            &at(&["measure", "live"]),
            "use super::scratch_restore::S; use super::super::scan::scan; use self::inner::f;"
        )),
        ["measure", "scan", "measure"]
    );
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    edges.entry("a".into()).or_default().insert("b".into());
    edges.entry("b".into()).or_default().insert("c".into());
    assert_eq!(find_cycle(&edges), None);
    edges.entry("c".into()).or_default().insert("a".into());
    assert_eq!(
        find_cycle(&edges),
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
}

#[test]
fn a_verb_reaching_into_a_sibling_is_named_with_its_import() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let ops = dir.path();
    std::fs::write(
        ops.join("mod.rs"),
        "pub mod rto; pub mod restore_test; mod a; mod b;",
    )
    .expect("write");
    std::fs::write(ops.join("rto.rs"), "use super::restore_test::live_scan;\n").expect("write");
    std::fs::write(
        ops.join("restore_test.rs"),
        "pub(crate) fn live_scan() {}\n",
    )
    .expect("write");
    std::fs::write(
        ops.join("a.rs"),
        "use super::b::x;\nuse crate::ops::rto::y;\n",
    )
    .expect("write");
    std::fs::write(ops.join("b.rs"), "use super::a::z;\n").expect("write");
    let p = violations(ops);
    let has = |needle: &str| p.iter().any(|s| s.contains(needle));
    assert!(
        has(
            "rto.rs: the verb `rto` reaches into the sibling verb `restore_test` (`super::restore_test::live_scan`)"
        ),
        "{p:#?}"
    );
    assert!(
        has("restore_test.rs:1: the verb `restore_test` declares `pub(crate) fn live_scan() {}`"),
        "{p:#?}"
    );
    assert!(
        has("a.rs: the machinery module `a` imports the verb `rto` (`crate::ops::rto::y`)"),
        "{p:#?}"
    );
    assert!(
        has("the machinery modules form a cycle: a -> b -> a"),
        "{p:#?}"
    );
}
