//! The layering of `shared/src` (docs/development.md, "Layers of shared"), checked on every
//! `make test`. Imports run one way: domain → storage → services → http → bootstrap, with
//! `testing` above them all. The check reads the source (no tool to install) and fails on:
//!
//! - an import that runs upward (a `crate::`, `super::`, `self::` or child-module path, in a
//!   `use` or inline, outside `#[cfg(test)]` modules);
//! - an import cycle between files, within a layer too;
//! - a file of more than 600 lines without its test module;
//! - a crate a layer must not use: the domain no AWS, Lambda, Tokio, logging or `async`;
//!   storage and services no HTTP (`lambda_http`); services and http no AWS SDK;
//! - a function that names the DynamoDB implementation outside its `main.rs`, or a `main.rs`
//!   of more than 10 lines of code.
//!
//! A path resolves to the deepest module file it names, so `crate::domain::ids::KeyId` is an
//! edge to `domain/ids.rs`, and `crate::storage::Store` one to `storage/mod.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, bottom first. `testing` (test helpers behind a feature) may import them all.
const LAYERS: [&str; 6] = [
    "domain",
    "storage",
    "services",
    "http",
    "bootstrap",
    "testing",
];
const MAX_LINES: usize = 600;
const MAX_MAIN_LINES: usize = 10;

/// Crates each layer must not name, with the reason shown when it does.
const FORBIDDEN: &[(&str, &[&str], &str)] = &[
    (
        "domain",
        &[
            "aws_sdk_",
            "aws_smithy_",
            "aws_lambda_events",
            "lambda_http",
            "lambda_runtime",
            "tokio",
            "tracing",
        ],
        "the domain is plain types and pure functions: no I/O",
    ),
    (
        "storage",
        &["lambda_http", "aws_lambda_events"],
        "storage knows nothing of HTTP",
    ),
    (
        "services",
        &[
            "lambda_http",
            "aws_lambda_events",
            "aws_sdk_",
            "aws_smithy_",
        ],
        "services are written over the storage traits, without HTTP or the SDK",
    ),
    (
        "http",
        &["aws_sdk_", "aws_smithy_"],
        "the HTTP layer reaches AWS only through storage",
    ),
];

/// One source file as the check sees it.
struct Module {
    /// `storage::dynamo::keys` as `["storage", "dynamo", "keys"]`; the crate root is `[]`.
    path: Vec<String>,
    file: PathBuf,
    /// The code outside `#[cfg(test)]` modules, with comments and string contents blanked.
    code: String,
    lines_without_tests: usize,
}

/// Comments and the contents of string and char literals replaced by spaces (newlines kept),
/// so braces, paths and crate names in them are not read as code.
fn blank_comments_and_strings(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // Raw string: r"...", r#"..."#, ...
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push_str(&" ".repeat(j - i + 1));
            i = j + 1;
            while i < chars.len() {
                if chars[i] == '"' && (0..hashes).all(|k| chars.get(i + 1 + k) == Some(&'#')) {
                    out.push_str(&" ".repeat(hashes + 1));
                    i += hashes + 1;
                    break;
                }
                out.push(blank(chars[i]));
                i += 1;
            }
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && is_char_literal(&chars, i) {
            out.push(' ');
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                out.push(' ');
                i += 1;
            }
            out.push(' ');
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

/// `'x'`, `'\n'`, `'\u{..}'`: a char literal, not a lifetime (`'a`).
fn is_char_literal(chars: &[char], i: usize) -> bool {
    match chars.get(i + 1) {
        Some('\\') => true,
        Some(_) => chars.get(i + 2) == Some(&'\''),
        None => false,
    }
}

/// `code` without its `#[cfg(test)] mod … { … }` blocks, and how many lines those held.
fn without_test_modules(code: &str) -> (String, usize) {
    let mut kept = String::new();
    let mut removed = 0;
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        let after = &rest[at + "#[cfg(test)]".len()..];
        let is_module = after.trim_start().starts_with("mod ");
        let Some(open) = after.find('{').filter(|_| is_module) else {
            kept.push_str(&rest[..at + "#[cfg(test)]".len()]);
            rest = after;
            continue;
        };
        let mut depth = 0;
        let mut end = after.len();
        for (k, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + k + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        let block = &rest[at..at + "#[cfg(test)]".len() + end];
        removed += block.matches('\n').count() + 1;
        kept.push_str(&rest[..at]);
        // Keep the line structure, so line numbers in messages stay right.
        kept.push_str(&"\n".repeat(block.matches('\n').count()));
        rest = &after[end..];
    }
    kept.push_str(rest);
    (kept, removed)
}

fn read_modules(src: &Path) -> Vec<Module> {
    let mut files = Vec::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable source folder") {
            let path = entry.expect("readable entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(src).expect("under src");
            let mut path: Vec<String> = relative
                .with_extension("")
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if path
                .last()
                .is_some_and(|last| last == "mod" || last == "lib")
            {
                path.pop();
            }
            let source = std::fs::read_to_string(&file).expect("UTF-8 source");
            let (code, test_lines) = without_test_modules(&blank_comments_and_strings(&source));
            let lines = source.lines().count();
            Module {
                path,
                file,
                code,
                lines_without_tests: lines.saturating_sub(test_lines),
            }
        })
        .collect()
}

/// The paths one `use` tree names: `a::{b, c::{d, e}}` is `a::b`, `a::c::d`, `a::c::e`.
fn expand_use_tree(tree: &str) -> Vec<Vec<String>> {
    // `X as Y` names X: drop the renames, then the white space.
    let words: Vec<&str> = tree.split_whitespace().collect();
    let mut kept = Vec::new();
    let mut k = 0;
    while k < words.len() {
        if words[k] == "as" {
            // The new name may carry the `,` or `}` that follows it.
            let renamed = words.get(k + 1).copied().unwrap_or("");
            kept.push(renamed.trim_start_matches(|c: char| c.is_alphanumeric() || c == '_'));
            k += 2;
        } else {
            kept.push(words[k]);
            k += 1;
        }
    }
    let tree: String = kept.concat();
    let mut out = Vec::new();
    expand_into(&tree, &mut Vec::new(), &mut out);
    out
}

fn expand_into(tree: &str, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    if let Some(open) = tree.find('{') {
        let head: Vec<String> = tree[..open]
            .split("::")
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let depth_before = prefix.len();
        prefix.extend(head);
        let mut depth = 0;
        let mut start = 0;
        for (k, c) in inner.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand_into(&inner[start..k], prefix, out);
                    start = k + 1;
                }
                _ => {}
            }
        }
        expand_into(&inner[start..], prefix, out);
        prefix.truncate(depth_before);
    } else if !tree.is_empty() {
        let mut path = prefix.clone();
        path.extend(
            tree.split("::")
                .filter(|s| !s.is_empty() && *s != "*")
                .map(str::to_owned),
        );
        out.push(path);
    }
}

/// Every crate-internal path a module names, with its line: `use` trees and inline paths.
fn named_paths(module: &Module) -> Vec<(Vec<String>, usize)> {
    let code = &module.code;
    let line_of = |at: usize| code[..at].matches('\n').count() + 1;
    let mut paths = Vec::new();
    let mut search = 0;
    while let Some(found) = code[search..].find("use ") {
        let at = search + found;
        search = at + 4;
        let starts_item = at == 0
            || code[..at]
                .ends_with(|c: char| c.is_whitespace() || c == ';' || c == '{' || c == '}');
        if !starts_item {
            continue;
        }
        let Some(end) = code[at..].find(';') else {
            break;
        };
        for path in expand_use_tree(&code[at + 4..at + end]) {
            paths.push((path, line_of(at)));
        }
    }
    let bytes = code.as_bytes();
    for anchor in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(anchor) {
            let at = from + found;
            from = at + anchor.len();
            if at > 0
                && (bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':')
            {
                continue;
            }
            let end = code[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
                .map_or(code.len(), |e| at + e);
            let path: Vec<String> = code[at..end]
                .split("::")
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
            paths.push((path, line_of(at)));
        }
    }
    // A `use crate::…` is found by both scans.
    paths.sort();
    paths.dedup();
    paths
}

/// The module file a path lands in, or `None` for a path outside the crate (another crate,
/// the prelude) or at the crate root (re-exports such as `crate::lambda_http`).
fn resolve(from: &Module, path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    let mut segments = path.iter().peekable();
    let mut at: Vec<String> = match segments.peek().map(|s| s.as_str()) {
        Some("crate") => {
            segments.next();
            Vec::new()
        }
        Some("self") => {
            segments.next();
            from.path.clone()
        }
        Some("super") => {
            let mut at = from.path.clone();
            while segments.peek().is_some_and(|s| *s == "super") {
                segments.next();
                at.pop();
            }
            at
        }
        Some(first) => {
            // A bare first segment is a child module, or another crate.
            let mut child = from.path.clone();
            child.push(first.to_owned());
            if !modules.contains(&child) {
                return None;
            }
            from.path.clone()
        }
        None => return None,
    };
    for segment in segments {
        let mut next = at.clone();
        next.push(segment.clone());
        if modules.contains(&next) {
            at = next;
        } else {
            break;
        }
    }
    (!at.is_empty()).then_some(at)
}

fn layer_of(path: &[String]) -> Option<usize> {
    path.first()
        .and_then(|top| LAYERS.iter().position(|l| l == top))
}

fn show(path: &[String]) -> String {
    if path.is_empty() {
        "crate".to_owned()
    } else {
        path.join("::")
    }
}

/// Every rule `shared/src` breaks, one line each; empty when the layering holds.
fn check_layers(src: &Path) -> Vec<String> {
    let modules = read_modules(src);
    let known: BTreeSet<Vec<String>> = modules.iter().map(|m| m.path.clone()).collect();
    let mut problems = Vec::new();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for module in &modules {
        let file = module
            .file
            .strip_prefix(src)
            .unwrap_or(&module.file)
            .display()
            .to_string();
        if module.lines_without_tests > MAX_LINES {
            problems.push(format!(
                "{file}: {} lines without its tests (at most {MAX_LINES}): split it by what it owns",
                module.lines_without_tests
            ));
        }
        let own_layer = layer_of(&module.path);
        for (path, line) in named_paths(module) {
            let Some(target) = resolve(module, &path, &known) else {
                continue;
            };
            if target == module.path {
                continue;
            }
            if let (Some(from), Some(to)) = (own_layer, layer_of(&target)) {
                if to > from {
                    problems.push(format!(
                        "{file}:{line}: `{}` imports upward, from {} into {}",
                        path.join("::"),
                        LAYERS[from],
                        LAYERS[to]
                    ));
                }
            }
            edges.entry(module.path.clone()).or_default().insert(target);
        }
        if let Some(layer) = own_layer {
            for (name, crates, why) in FORBIDDEN {
                if LAYERS[layer] != *name {
                    continue;
                }
                for forbidden in *crates {
                    if let Some(at) = find_crate_use(&module.code, forbidden) {
                        let line = module.code[..at].matches('\n').count() + 1;
                        problems.push(format!("{file}:{line}: names `{forbidden}`: {why}"));
                    }
                }
                if *name == "domain" {
                    for word in ["async fn", ".await"] {
                        if let Some(at) = module.code.find(word) {
                            let line = module.code[..at].matches('\n').count() + 1;
                            problems.push(format!("{file}:{line}: `{word}`: {why}"));
                        }
                    }
                }
            }
        }
    }
    for cycle in cycles(&edges) {
        let shown: Vec<String> = cycle.iter().map(|p| show(p)).collect();
        problems.push(format!("import cycle among: {}", shown.join(", ")));
    }
    problems
}

/// Where `code` names `krate` as a path (`krate::` or `krate_…::`), if it does.
fn find_crate_use(code: &str, krate: &str) -> Option<usize> {
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(found) = code[from..].find(krate) {
        let at = from + found;
        from = at + krate.len();
        let before_ok = at == 0
            || !(bytes[at - 1].is_ascii_alphanumeric()
                || bytes[at - 1] == b'_'
                || bytes[at - 1] == b':');
        let rest = &code[at + krate.len()..];
        let after_ok = if krate.ends_with('_') {
            rest.starts_with(|c: char| c.is_ascii_alphanumeric())
        } else {
            rest.starts_with("::")
        };
        if before_ok && after_ok {
            return Some(at);
        }
    }
    None
}

/// The strongly connected components of more than one module: each is a cycle.
fn cycles(edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    // Tarjan's algorithm, iteratively small enough to recurse: the graph has tens of nodes.
    struct State<'a> {
        edges: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<Vec<String>, usize>,
        low: BTreeMap<Vec<String>, usize>,
        stack: Vec<Vec<String>>,
        on_stack: BTreeSet<Vec<String>>,
        found: Vec<Vec<Vec<String>>>,
    }
    fn visit(state: &mut State, node: &Vec<String>) {
        let n = state.index.len();
        state.index.insert(node.clone(), n);
        state.low.insert(node.clone(), n);
        state.stack.push(node.clone());
        state.on_stack.insert(node.clone());
        let next: Vec<Vec<String>> = state
            .edges
            .get(node)
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        for target in next {
            if !state.index.contains_key(&target) {
                visit(state, &target);
                let low = state.low[node].min(state.low[&target]);
                state.low.insert(node.clone(), low);
            } else if state.on_stack.contains(&target) {
                let low = state.low[node].min(state.index[&target]);
                state.low.insert(node.clone(), low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(top) = state.stack.pop() {
                state.on_stack.remove(&top);
                let done = &top == node;
                component.push(top);
                if done {
                    break;
                }
            }
            if component.len() > 1 {
                component.reverse();
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !state.index.contains_key(node) {
            visit(&mut state, node);
        }
    }
    state.found
}

/// What the function crates break: a `main.rs` that does more than wire, or a handler that
/// names the DynamoDB implementation.
fn check_functions(functions: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let mut crates: Vec<PathBuf> = std::fs::read_dir(functions)
        .expect("functions/")
        .map(|e| e.expect("entry").path().join("src"))
        .filter(|p| p.is_dir())
        .collect();
    crates.sort();
    for src in crates {
        for module in read_modules(&src) {
            let file = module
                .file
                .strip_prefix(functions)
                .unwrap_or(&module.file)
                .display()
                .to_string();
            let code_lines = module.code.lines().filter(|l| !l.trim().is_empty()).count();
            if module.path.is_empty() || module.path == ["main"] {
                if code_lines > MAX_MAIN_LINES {
                    problems.push(format!(
                        "{file}: {code_lines} lines of code; a main.rs only names its handler and what it needs (at most {MAX_MAIN_LINES})"
                    ));
                }
            } else if let Some(at) = ["DynamoStore", "storage::dynamo"]
                .iter()
                .find_map(|w| module.code.find(w))
            {
                let line = module.code[..at].matches('\n').count() + 1;
                problems.push(format!(
                    "{file}:{line}: names the DynamoDB implementation; a handler takes `&App<S>` or `&impl` storage traits"
                ));
            }
        }
    }
    problems
}

#[test]
fn shared_imports_run_one_way_and_no_file_is_too_long() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let problems = check_layers(&src);
    assert!(
        problems.is_empty(),
        "shared/src breaks its layering:\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_main_only_wires_and_no_handler_names_dynamodb() {
    let functions = Path::new(env!("CARGO_MANIFEST_DIR")).join("../functions");
    let problems = check_functions(&functions);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A throwaway source tree for the check's own tests.
struct Tree(PathBuf);

impl Tree {
    fn new(files: &[(&str, &str)]) -> Self {
        // One folder per tree, also when tests run as threads of one process.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("yebolink-layers-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        for (path, body) in files {
            let file = root.join(path);
            std::fs::create_dir_all(file.parent().expect("a folder")).expect("temp folder");
            std::fs::write(&file, body).expect("temp file");
        }
        Tree(root)
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const BASE: &[(&str, &str)] = &[
    (
        "lib.rs",
        "pub mod domain;\npub mod http;\npub mod storage;\n",
    ),
    ("domain/mod.rs", "pub mod ids;\n"),
    ("domain/ids.rs", "pub struct KeyId;\n"),
    ("storage/mod.rs", "pub mod keys;\n"),
    (
        "storage/keys.rs",
        "use crate::domain::ids::KeyId;\npub trait KeyStore { fn get(&self, id: KeyId); }\n",
    ),
    ("http/mod.rs", "pub mod error;\n"),
    ("http/error.rs", "pub enum ApiError { NotFound }\n"),
];

fn tree_with(changes: &[(&str, &str)]) -> Tree {
    let mut files: BTreeMap<&str, &str> = BASE.iter().copied().collect();
    files.extend(changes.iter().copied());
    Tree::new(&files.into_iter().collect::<Vec<_>>())
}

#[test]
fn a_tree_that_imports_downward_passes() {
    let tree = tree_with(&[]);
    assert_eq!(check_layers(&tree.0), Vec::<String>::new());
}

#[test]
fn an_upward_import_fails_with_its_file_line_and_layers() {
    let tree = tree_with(&[(
        "storage/keys.rs",
        "use crate::domain::ids::KeyId;\nuse crate::http::error::ApiError;\npub trait KeyStore {}\n",
    )]);
    assert_eq!(
        check_layers(&tree.0),
        ["storage/keys.rs:2: `crate::http::error::ApiError` imports upward, from storage into http"]
    );
    // Inline and relative paths count too; comments, strings and test modules do not.
    let tree = tree_with(&[(
        "domain/ids.rs",
        "// crate::http::error::ApiError\npub struct KeyId;\nconst S: &str = \"crate::http\";\nfn f() -> super::super::http::error::ApiError { todo!() }\n#[cfg(test)]\nmod tests { use crate::http::error::ApiError; }\n",
    )]);
    assert_eq!(
        check_layers(&tree.0),
        ["domain/ids.rs:4: `super::super::http::error::ApiError` imports upward, from domain into http"]
    );
}

#[test]
fn a_cycle_fails_even_within_one_layer() {
    let tree = tree_with(&[
        ("domain/mod.rs", "pub mod ids;\npub mod keys;\n"),
        (
            "domain/ids.rs",
            "use crate::domain::keys::KeyHash;\npub struct KeyId;\n",
        ),
        (
            "domain/keys.rs",
            "use super::ids::KeyId;\npub struct KeyHash;\n",
        ),
    ]);
    assert_eq!(
        check_layers(&tree.0),
        ["import cycle among: domain::ids, domain::keys"]
    );
}

#[test]
fn a_long_file_fails_but_its_test_module_does_not_count() {
    let long = format!(
        "pub struct KeyId;\n{}",
        "const A: u8 = 1;\n".repeat(MAX_LINES)
    );
    let tested = format!(
        "pub struct KeyId;\n#[cfg(test)]\nmod tests {{\n{}}}\n",
        "    #[test] fn t() {}\n".repeat(MAX_LINES)
    );
    let tree = tree_with(&[("domain/ids.rs", &long)]);
    assert_eq!(
        check_layers(&tree.0),
        ["domain/ids.rs: 601 lines without its tests (at most 600): split it by what it owns"]
    );
    let tree = tree_with(&[("domain/ids.rs", &tested)]);
    assert_eq!(check_layers(&tree.0), Vec::<String>::new());
}

#[test]
fn a_layer_naming_a_crate_it_must_not_use_fails() {
    let tree = tree_with(&[(
        "domain/ids.rs",
        "pub struct KeyId;\npub async fn now() { tokio::task::yield_now().await }\n",
    )]);
    let problems = check_layers(&tree.0);
    assert_eq!(problems.len(), 3, "{problems:?}");
    assert!(
        problems[0].starts_with("domain/ids.rs:2: names `tokio`"),
        "{problems:?}"
    );
}

#[test]
fn a_main_that_does_more_than_wire_and_a_handler_naming_dynamodb_fail() {
    let wiring = "use x::serve;\n\nmod handler;\n\n#[tokio::main]\nasync fn main() {\n    serve(handler::handle).await\n}\n";
    let long_main = format!("{wiring}{}", "fn more() {}\n".repeat(5));
    let tree = Tree::new(&[
        ("ok/src/main.rs", wiring),
        (
            "ok/src/handler.rs",
            "pub async fn handle<S: Store>(app: &App<S>) {}\n",
        ),
        ("long/src/main.rs", &long_main),
        (
            "long/src/handler.rs",
            "// a DynamoStore in a comment does not count\n",
        ),
        ("named/src/main.rs", wiring),
        (
            "named/src/handler.rs",
            "\nuse yebolink_shared::storage::dynamo::DynamoStore;\n",
        ),
    ]);
    assert_eq!(
        check_functions(&tree.0),
        [
            "long/src/main.rs: 11 lines of code; a main.rs only names its handler and what it needs (at most 10)",
            "named/src/handler.rs:2: names the DynamoDB implementation; a handler takes `&App<S>` or `&impl` storage traits",
        ]
    );
}
