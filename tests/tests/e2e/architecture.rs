//! Checks the rules of `ARCHITECTURE.md` on the source tree, so that they stay true: the crate
//! graph is the documented straight stack, the crates that must be free of `unsafe` forbid it,
//! no module of a crate forms a cycle with its siblings, and no source file is over the size
//! limit unless ARCHITECTURE.md says why.

use dossier_tests::repo_root;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Each workspace crate, its directory, and the workspace crates it may depend on (normal
/// dependencies; dev-dependencies are free).
const CRATES: &[(&str, &str, &[&str])] = &[
    ("dossier-plugin-api", "plugin-api", &[]),
    ("dossier-i18n", "i18n", &["dossier-plugin-api"]),
    ("dossier-plugin-abi", "plugin-abi", &["dossier-plugin-api"]),
    ("dossier-collectors", "collectors", &["dossier-plugin-api"]),
    (
        "dossier-ssh-keys",
        "collectors/plugins/ssh-keys",
        &[
            "dossier-plugin-api",
            "dossier-plugin-abi",
            "dossier-collectors",
        ],
    ),
    (
        "dossier-analyzers",
        "analyzers",
        &["dossier-plugin-api", "dossier-i18n", "dossier-events"],
    ),
    (
        "dossier-reporters",
        "reporters",
        &["dossier-plugin-api", "dossier-i18n"],
    ),
    ("dossier-bundle", "bundle", &["dossier-plugin-api"]),
    ("dossier-contain", "contain", &[]),
    ("dossier-events", "events", &[]),
    ("dossier-exports", "exports", &["dossier-plugin-api"]),
    ("dossier-store", "store", &[]),
    (
        "dossier-remote",
        "remote",
        &["dossier-plugin-api", "dossier-contain"],
    ),
    (
        "dossier-cli",
        "cli",
        &[
            "dossier-plugin-api",
            "dossier-i18n",
            "dossier-plugin-abi",
            "dossier-collectors",
            "dossier-analyzers",
            "dossier-reporters",
            "dossier-bundle",
            "dossier-remote",
            "dossier-contain",
            "dossier-events",
            "dossier-exports",
            "dossier-store",
        ],
    ),
];

/// Crates whose code must not contain `unsafe`: all but the C ABI (`plugin-abi`) and the CLI
/// (`dlopen`, xattr calls).
const FORBID_UNSAFE: &[&str] = &[
    "plugin-api",
    "i18n",
    "collectors",
    "analyzers",
    "reporters",
    "bundle",
    "remote",
    "contain",
    "events",
    "exports",
    "store",
];

/// Lines of non-test code (before the first `#[cfg(test)]`) a source file may have.
const MAX_LINES: usize = 800;

fn section(toml: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut inside = false;
    for line in toml.lines() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t == format!("[{name}]");
            continue;
        }
        if inside && let Some((key, _)) = t.split_once('=') {
            let key = key.trim().trim_end_matches(".workspace").to_string();
            if key.starts_with("dossier-") {
                out.push(key);
            }
        }
    }
    out
}

#[test]
fn the_crate_graph_is_the_documented_stack() {
    let root = repo_root();
    let mut wrong = Vec::new();
    for (name, dir, allowed) in CRATES {
        let toml = std::fs::read_to_string(root.join(dir).join("Cargo.toml"))
            .unwrap_or_else(|e| panic!("{dir}/Cargo.toml: {e}"));
        assert!(
            toml.contains(&format!("name = \"{name}\"")),
            "{dir} is not {name}"
        );
        for dep in section(&toml, "dependencies") {
            if !allowed.contains(&dep.as_str()) {
                wrong.push(format!("{name} depends on {dep}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "not allowed by ARCHITECTURE.md: {wrong:#?}"
    );
    // Every workspace member is in the table (or is a test crate).
    let ws = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    for line in ws.lines() {
        let t = line.trim().trim_end_matches(',');
        if let Some(member) = t.strip_prefix('"').and_then(|t| t.strip_suffix('"'))
            && !member.starts_with("tests")
        {
            assert!(
                CRATES.iter().any(|(_, d, _)| *d == member),
                "workspace member {member} is not in the architecture table"
            );
        }
    }
}

#[test]
fn crates_without_a_reason_for_unsafe_forbid_it() {
    for dir in FORBID_UNSAFE {
        let lib = std::fs::read_to_string(repo_root().join(dir).join("src/lib.rs")).unwrap();
        assert!(
            lib.contains("#![forbid(unsafe_code)]"),
            "{dir}/src/lib.rs lacks #![forbid(unsafe_code)]"
        );
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The non-test part of a source file: the lines before its first top-level `#[cfg(test)]`.
/// A file that is all tests (`tests.rs`, included as a test module) counts as none.
fn code_part(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    if path.file_name().is_some_and(|n| n == "tests.rs") {
        return String::new();
    }
    match text.find("\n#[cfg(test)]") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

fn library_sources() -> Vec<(String, PathBuf)> {
    let root = repo_root();
    let mut files = Vec::new();
    for (_, dir, _) in CRATES {
        let mut v = Vec::new();
        rust_files(&root.join(dir).join("src"), &mut v);
        files.extend(v.into_iter().map(|p| (dir.to_string(), p)));
    }
    files
}

#[test]
fn no_source_file_is_over_the_limit_without_a_reason() {
    let root = repo_root();
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap();
    let mut over = Vec::new();
    for (_, p) in library_sources() {
        let n = code_part(&p).lines().count();
        let rel = p.strip_prefix(&root).unwrap().to_string_lossy().to_string();
        if n > MAX_LINES && !doc.contains(&format!("`{rel}`")) {
            over.push(format!("{rel}: {n} lines"));
        }
    }
    assert!(
        over.is_empty(),
        "over {MAX_LINES} lines of non-test code and not explained in ARCHITECTURE.md: {over:#?}"
    );
}

/// The module a `crate::a::b::c` path names, as the longest prefix that is a module file.
fn resolve(modules: &BTreeSet<Vec<String>>, path: &[String]) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

/// The `super::…` paths a piece of code names (relative to the parent module).
fn super_paths(code: &str) -> Vec<Vec<String>> {
    crate_paths(
        &code
            .replace("crate::", "\u{1}")
            .replace("super::super::", "\u{0}")
            .replace("super::", "crate::"),
    )
}

/// The `crate::…` paths a piece of code names, with `use crate::{a, b::c}` groups expanded
/// one level (enough to find which modules it reaches).
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    // `a::b::c(…` is [a, b, c]: a segment with anything after its identifier ends the path.
    let ident = |s: &str| -> Vec<String> {
        let mut out = Vec::new();
        for seg in s.split("::") {
            let id: String = seg
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            let whole = id.len() == seg.len();
            if !id.is_empty() {
                out.push(id);
            }
            if !whole || out.is_empty() {
                break;
            }
        }
        out
    };
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let p = ident(item.trim());
                if !p.is_empty() {
                    out.push(p);
                }
            }
        } else {
            let p = ident(rest);
            if !p.is_empty() {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn no_module_forms_a_cycle_with_its_siblings() {
    let mut cycles = Vec::new();
    let root = repo_root();
    for (_, dir, _) in CRATES {
        let src = root.join(dir).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        // Module path of each file: src/a/b.rs and src/a/b/mod.rs are [a, b].
        let module_of = |p: &Path| -> Vec<String> {
            let rel = p.strip_prefix(&src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().to_string())
                .collect();
            if matches!(
                parts.last().map(String::as_str),
                Some("mod" | "lib" | "main")
            ) {
                parts.pop();
            }
            parts
        };
        let modules: BTreeSet<Vec<String>> = files.iter().map(|p| module_of(p)).collect();
        // Edges between siblings: a module (or anything inside it) naming a sibling (or
        // anything inside it). A parent and its children may name each other freely.
        let mut edges: BTreeMap<(Vec<String>, String), BTreeSet<String>> = BTreeMap::new();
        for f in &files {
            let from = module_of(f);
            // Doc links and comments name modules without depending on them.
            let code: String = code_part(f)
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            let mut paths = crate_paths(&code);
            if !from.is_empty() {
                let up = &from[..from.len() - 1];
                paths.extend(super_paths(&code).into_iter().map(|p| {
                    let mut full = up.to_vec();
                    full.extend(p);
                    full
                }));
            }
            for path in paths {
                let Some(to) = resolve(&modules, &path) else {
                    continue;
                };
                let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
                if common < from.len() && common < to.len() {
                    edges
                        .entry((from[..common].to_vec(), from[common].clone()))
                        .or_default()
                        .insert(to[common].clone());
                }
            }
        }
        // Look for a cycle among the children of each parent.
        let parents: BTreeSet<Vec<String>> = edges.keys().map(|(p, _)| p.clone()).collect();
        for parent in parents {
            let next = |m: &str| -> Vec<String> {
                edges
                    .get(&(parent.clone(), m.to_string()))
                    .map(|s| s.iter().cloned().collect())
                    .unwrap_or_default()
            };
            let nodes: Vec<String> = edges
                .keys()
                .filter(|(p, _)| *p == parent)
                .map(|(_, m)| m.clone())
                .collect();
            for start in &nodes {
                // Depth-first search for a path back to `start`.
                let mut stack = vec![(start.clone(), vec![start.clone()])];
                let mut seen = BTreeSet::new();
                while let Some((m, trail)) = stack.pop() {
                    for n in next(&m) {
                        if &n == start {
                            // Report each cycle once, starting at its smallest module.
                            let mut t = trail.clone();
                            let min = (0..t.len()).min_by_key(|&i| &t[i]).unwrap_or(0);
                            t.rotate_left(min);
                            t.push(t[0].clone());
                            cycles.push(format!(
                                "{dir}: {}::{{{}}}",
                                parent.join("::"),
                                t.join(" -> ")
                            ));
                        } else if seen.insert(n.clone()) {
                            let mut t = trail.clone();
                            t.push(n.clone());
                            stack.push((n, t));
                        }
                    }
                }
            }
        }
    }
    cycles.sort();
    cycles.dedup();
    assert!(cycles.is_empty(), "module cycles: {cycles:#?}");
}

#[test]
fn the_cycle_finder_reads_grouped_and_nested_paths() {
    let p = crate_paths("use crate::{a::X, b};\nfn f() { crate::c::d::e(); $crate::z(); }");
    assert_eq!(
        p,
        vec![
            vec!["a".to_string(), "X".to_string()],
            vec!["b".to_string()],
            vec!["c".to_string(), "d".to_string(), "e".to_string()],
        ]
    );
}
