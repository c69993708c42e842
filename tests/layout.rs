//! The shape of the tree, checked: which layers may import which, no import circles between files,
//! and no source file grown past what one person reads in a sitting. Run by `.ci/test` with the rest
//! of the suite (`cargo test --test layout`); it reads the sources only, and prints every breach.
//!
//! An edge is a file's use of another module's item: a `use crate::…`/`use super::…` line, or a
//! `crate::…`/`super::…` path in code. A module's use of its own children (`mod x;`, `pub use x::…`,
//! `x::…`) is how it is made, not a dependency between features, so it is not an edge; a child's use of
//! its parent is. Tests (`#[cfg(test)]` modules and `tests.rs` files) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest source file, in lines.
const MAX_LINES: usize = 700;

/// Layers that must not import a given layer: (importer's folder, forbidden folder).
const FORBIDDEN: &[(&str, &str)] = &[
    ("store", "camera"),
    ("model", "camera"),
    ("gui", "camera"),
    ("dbus", "camera"),
    ("config", "gui"),
    ("config", "dbus"),
    ("config", "service"),
    ("model", "service"),
    ("model", "store"),
    ("store", "service"),
    ("camera", "service"),
    ("camera", "store"),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Every `.rs` file under `src/` except binaries (each is its own crate).
fn library_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![src()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "bin") {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// The module path of a file: `src/service/account/login.rs` → `["service","account","login"]`.
fn module_of(file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src()).expect("under src");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if parts
        .last()
        .is_some_and(|p| p == "mod" || p == "lib" || p == "main")
    {
        parts.pop();
    }
    parts
}

/// The source without comments, string literals and `#[cfg(test)]` modules.
fn code_of(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("#[cfg(test)]") {
            // Skip the item that follows: to its closing brace at the same indent, or its `;`.
            let indent = line.len() - trimmed.len();
            for next in lines.by_ref() {
                let t = next.trim_start();
                let i = next.len() - t.len();
                if (i == indent && t.starts_with('}'))
                    || (t.starts_with("mod ") && t.ends_with(';'))
                {
                    break;
                }
            }
            continue;
        }
        let code = match trimmed.find("//") {
            Some(at) if trimmed.starts_with("//") => &trimmed[..at],
            _ => line,
        };
        let mut in_string = false;
        let mut previous = ' ';
        for c in code.chars() {
            if c == '"' && previous != '\\' {
                in_string = !in_string;
            } else if !in_string {
                out.push(c);
            }
            previous = c;
        }
        out.push('\n');
    }
    out
}

/// The code with its `pub use` re-exports taken out: they are the module's face, not a dependency.
fn without_reexports(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    loop {
        let next = ["pub use ", "pub(crate) use ", "pub(super) use "]
            .iter()
            .filter_map(|p| rest.find(p))
            .min();
        let Some(at) = next else {
            out.push_str(rest);
            return out;
        };
        out.push_str(&rest[..at]);
        let end = rest[at..].find(';').map_or(rest.len(), |e| at + e + 1);
        rest = &rest[end..];
    }
}

/// The module paths a file's code names, resolved against its own module for `super` and `self`.
fn references(file: &Path) -> BTreeSet<Vec<String>> {
    let own = module_of(file);
    let code = without_reexports(&code_of(&std::fs::read_to_string(file).expect("readable")));
    let mut found = BTreeSet::new();
    // `use` statements, to their `;`, braces expanded.
    let mut rest = code.as_str();
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().next_back().unwrap_or(' ');
        let statement_start = &rest[at..];
        let end = statement_start.find(';').unwrap_or(statement_start.len());
        let statement = &statement_start[4..end];
        let line_start = rest[..at].rfind('\n').map_or(0, |i| i + 1);
        let prefix = rest[line_start..at].trim();
        rest = &statement_start[end.min(statement_start.len())..];
        if before.is_alphanumeric() || before == '_' || prefix.starts_with("pub") {
            continue;
        }
        for path in expand(statement) {
            if let Some(resolved) = resolve(&path, &own) {
                found.insert(resolved);
            }
        }
    }
    // `crate::a::b` and `super::a` paths in code.
    for root in ["crate::", "super::"] {
        let mut rest = code.as_str();
        while let Some(at) = rest.find(root) {
            let before = rest[..at].chars().next_back().unwrap_or(' ');
            let tail: String = rest[at..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
                .collect();
            rest = &rest[at + root.len()..];
            if before.is_alphanumeric() || before == '_' || before == ':' {
                continue;
            }
            let path: Vec<String> = tail
                .split("::")
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            if let Some(resolved) = resolve(&path, &own) {
                found.insert(resolved);
            }
        }
    }
    found.remove(&own);
    found
}

/// `crate::a::{b, c::D}` → `[crate,a,b]`, `[crate,a,c,D]`.
fn expand(statement: &str) -> Vec<Vec<String>> {
    let statement = statement.split_whitespace().collect::<Vec<_>>().join(" ");
    fn go(prefix: &[String], text: &str, out: &mut Vec<Vec<String>>) {
        let text = text.trim();
        if let Some(open) = text.find('{') {
            let head: Vec<String> = text[..open]
                .split("::")
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect();
            let inner = &text[open + 1..text.rfind('}').unwrap_or(text.len())];
            let mut depth = 0;
            let mut start = 0;
            let mut base = prefix.to_vec();
            base.extend(head);
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        go(&base, &inner[start..i], out);
                        start = i + 1;
                    }
                    _ => {}
                }
            }
            go(&base, &inner[start..], out);
        } else {
            let mut path = prefix.to_vec();
            path.extend(
                text.split(" as ")
                    .next()
                    .unwrap_or(text)
                    .split("::")
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned),
            );
            if !path.is_empty() {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    go(&[], &statement, &mut out);
    out
}

/// The module file a path names: its longest prefix that is a module of the crate.
fn resolve(path: &[String], own: &[String]) -> Option<Vec<String>> {
    let mut absolute: Vec<String> = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("super") => {
            let mut base = own.to_vec();
            base.pop();
            base
        }
        Some("self") => own.to_vec(),
        _ => return None,
    };
    let mut rest = &path[1..];
    while rest.first().is_some_and(|p| p == "super") {
        absolute.pop();
        rest = &rest[1..];
    }
    absolute.extend(rest.iter().cloned());
    while !absolute.is_empty() {
        if module_file(&absolute).is_some() {
            return Some(absolute);
        }
        absolute.pop();
    }
    None
}

fn module_file(module: &[String]) -> Option<PathBuf> {
    let base = module.iter().fold(src(), |p, m| p.join(m));
    let file = base.with_extension("rs");
    if file.is_file() {
        return Some(file);
    }
    let dir = base.join("mod.rs");
    dir.is_file().then_some(dir)
}

fn name(module: &[String]) -> String {
    if module.is_empty() {
        "lib".to_owned()
    } else {
        module.join("/")
    }
}

/// The import graph between the library's files.
fn graph() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    library_files()
        .iter()
        .filter(|f| f.file_name().is_some_and(|n| n != "tests.rs"))
        .map(|f| (module_of(f), references(f)))
        .collect()
}

/// Strongly connected groups of more than one file (Tarjan).
fn circles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        stack: Vec<&'a Vec<String>>,
        on_stack: BTreeSet<&'a Vec<String>>,
        next: usize,
        found: Vec<Vec<String>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(edges) = s.graph.get(v) {
            for w in edges {
                let Some((w, _)) = s.graph.get_key_value(w) else {
                    continue;
                };
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[w].min(s.low[v]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.index[w].min(s.low[v]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut group = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                group.push(name(w));
                if w == v {
                    break;
                }
            }
            if group.len() > 1 {
                group.sort();
                s.found.push(group);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !state.index.contains_key(v) {
            visit(&mut state, v);
        }
    }
    state.found
}

#[test]
fn layers_import_only_what_they_may() {
    let mut breaches = Vec::new();
    for (module, edges) in graph() {
        for edge in edges {
            for (importer, forbidden) in FORBIDDEN {
                if module.first().is_some_and(|m| m == importer)
                    && edge.first().is_some_and(|m| m == forbidden)
                {
                    breaches.push(format!("{} imports {}", name(&module), name(&edge)));
                }
            }
        }
    }
    assert!(
        breaches.is_empty(),
        "layer rules broken:\n{}",
        breaches.join("\n")
    );
}

#[test]
fn no_import_circles_between_files() {
    let found = circles(&graph());
    assert!(
        found.is_empty(),
        "import circles:\n{}",
        found
            .iter()
            .map(|g| g.join(" <-> "))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn no_source_file_is_too_long() {
    let mut long = Vec::new();
    let mut all = library_files();
    let bins = src().join("bin");
    let mut stack = vec![bins];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                all.push(path);
            }
        }
    }
    for file in all {
        let lines = std::fs::read_to_string(&file)
            .expect("readable")
            .lines()
            .count();
        if lines > MAX_LINES {
            long.push(format!(
                "{}: {lines} lines",
                file.strip_prefix(src()).unwrap_or(&file).display()
            ));
        }
    }
    long.sort();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn the_checker_reads_paths_as_rust_does() {
    assert_eq!(
        expand("crate::a::{b, c::{D, E as F}}"),
        vec![
            vec!["crate", "a", "b"],
            vec!["crate", "a", "c", "D"],
            vec!["crate", "a", "c", "E"],
        ]
        .into_iter()
        .map(|p| p.into_iter().map(str::to_owned).collect::<Vec<_>>())
        .collect::<Vec<_>>()
    );
    let own: Vec<String> = vec!["service".into(), "account".into()];
    assert_eq!(
        resolve(&["super".into(), "Nvr".into()], &own),
        Some(vec!["service".to_owned()])
    );
    assert_eq!(
        resolve(
            &["crate".into(), "camera".into(), "client".into(), "X".into()],
            &own
        ),
        Some(vec!["camera".to_owned(), "client".to_owned()])
    );
}
