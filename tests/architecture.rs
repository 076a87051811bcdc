//! The library's floors run one way, and no file imports another that imports it back.
//!
//! The test reads the library's sources with `syn`, follows its `mod` declarations from
//! `src/lib.rs` (test modules left out), and collects every path that names a module of the
//! crate: `use` trees and inline paths starting with `crate::`, `super::`, `self::` or a
//! child module's name. Each such path is an edge from the file that writes it to the file
//! of the longest module prefix it names. It then checks:
//! - every edge between two top-level modules goes to a module on the same floor or a lower
//!   one of [`FLOORS`], and the top-level modules form no cycle;
//! - the files form no cycle.

#![allow(
    clippy::unwrap_used,
    reason = "a failed unwrap in a test is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// The floors from the ground up: a module imports only modules of its own floor or below.
const FLOORS: &[(&str, &[&str])] = &[
    ("errors and files", &["error", "io", "simd", "data"]),
    ("configuration", &["config"]),
    ("physics", &["physics"]),
    ("network description", &["network"]),
    ("backends", &["backend"]),
    ("runtime", &["runtime"]),
    (
        "cost model, training, evaluation",
        &["cost", "train", "eval"],
    ),
    ("NAS pipeline", &["search", "supernet"]),
];

/// A module of the crate: the file that holds it and its own items (those of nested
/// modules excluded).
struct Module {
    file: PathBuf,
    items: Vec<syn::Item>,
}

/// Whether `attrs` holds `#[cfg(test)]`.
fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|i| i == "test")
    })
}

/// Every non-test module of the crate whose root is `src/lib.rs`, inline ones included,
/// keyed by module path.
fn modules(src: &Path) -> BTreeMap<Vec<String>, Module> {
    let parse = |file: &Path| {
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
            .items
    };
    let mut found = BTreeMap::new();
    let lib = src.join("lib.rs");
    let mut stack = vec![(Vec::new(), lib.clone(), src.to_path_buf(), parse(&lib))];
    while let Some((path, file, dir, items)) = stack.pop() {
        let mut own = Vec::new();
        for item in items {
            let syn::Item::Mod(m) = item else {
                own.push(item);
                continue;
            };
            if is_test(&m.attrs) {
                continue;
            }
            let name = m.ident.to_string();
            let mut child = path.clone();
            child.push(name.clone());
            match m.content {
                // An inline module lives in its parent's file.
                Some((_, items)) => stack.push((child, file.clone(), dir.join(&name), items)),
                None => {
                    let flat = dir.join(format!("{name}.rs"));
                    let child_file = if flat.is_file() {
                        flat
                    } else {
                        dir.join(&name).join("mod.rs")
                    };
                    assert!(
                        child_file.is_file(),
                        "module {} has no file",
                        child.join("::")
                    );
                    let items = parse(&child_file);
                    stack.push((child, child_file, dir.join(&name), items));
                }
            }
        }
        found.insert(path, Module { file, items: own });
    }
    found
}

/// Collects the crate paths written inside one module.
struct Paths<'a> {
    /// The module whose items are visited.
    here: Vec<String>,
    /// Every module of the crate.
    modules: &'a BTreeMap<Vec<String>, Module>,
    /// Absolute paths named.
    named: Vec<Vec<String>>,
}

impl Paths<'_> {
    /// The absolute path of `segments` written in the current module, if it names the crate.
    fn absolute(&self, segments: &[String]) -> Option<Vec<String>> {
        let (first, rest) = segments.split_first()?;
        let mut base = match first.as_str() {
            "crate" => Vec::new(),
            "self" => self.here.clone(),
            "super" => self.here[..self.here.len().checked_sub(1)?].to_vec(),
            name => {
                // A child module named without a prefix (`use memory::Cell`).
                let mut child = self.here.clone();
                child.push(name.to_string());
                if !self.modules.contains_key(&child) {
                    return None;
                }
                child.extend(rest.iter().cloned());
                return Some(child);
            }
        };
        let mut rest = rest;
        while rest.first().is_some_and(|s| s == "super") {
            base.pop();
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn name(&mut self, segments: &[String]) {
        if let Some(path) = self.absolute(segments) {
            self.named.push(path);
        }
    }

    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                prefix.push(n.ident.to_string());
                self.name(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Rename(r) => {
                prefix.push(r.ident.to_string());
                self.name(&prefix.clone());
                prefix.pop();
            }
            syn::UseTree::Glob(_) => self.name(&prefix.clone()),
            syn::UseTree::Group(g) => {
                for tree in &g.items {
                    self.use_tree(prefix, tree);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Paths<'_> {
    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &item.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        if segments.len() > 1 {
            self.name(&segments);
        }
        syn::visit::visit_path(self, path);
    }
}

/// The module a path names: its longest prefix that is a module.
fn module_of<'a>(
    modules: &'a BTreeMap<Vec<String>, Module>,
    path: &[String],
) -> Option<&'a Module> {
    (0..=path.len()).rev().find_map(|k| modules.get(&path[..k]))
}

/// Every edge between files, with a path that makes it.
fn file_edges(src: &Path) -> BTreeMap<(PathBuf, PathBuf), String> {
    let modules = modules(src);
    let mut edges = BTreeMap::new();
    for (here, module) in &modules {
        let mut paths = Paths {
            here: here.clone(),
            modules: &modules,
            named: Vec::new(),
        };
        for item in &module.items {
            let test_only = match item {
                syn::Item::Fn(f) => is_test(&f.attrs),
                syn::Item::Impl(i) => is_test(&i.attrs),
                syn::Item::Use(u) => is_test(&u.attrs),
                _ => false,
            };
            if !test_only {
                paths.visit_item(item);
            }
        }
        for path in paths.named {
            let Some(target) = module_of(&modules, &path) else {
                continue;
            };
            if target.file != module.file {
                edges
                    .entry((module.file.clone(), target.file.clone()))
                    .or_insert_with(|| path.join("::"));
            }
        }
    }
    edges
}

/// The strongly connected components of more than one node (Tarjan): each holds cycles.
fn cycles<T: Ord + Clone>(edges: &BTreeMap<T, BTreeSet<T>>) -> Vec<Vec<T>> {
    struct Walk<'a, T> {
        edges: &'a BTreeMap<T, BTreeSet<T>>,
        index: BTreeMap<T, (usize, usize)>,
        stack: Vec<T>,
        next: usize,
        found: Vec<Vec<T>>,
    }
    impl<T: Ord + Clone> Walk<'_, T> {
        fn visit(&mut self, node: &T) -> usize {
            let mine = self.next;
            self.next += 1;
            self.index.insert(node.clone(), (mine, mine));
            self.stack.push(node.clone());
            let mut low = mine;
            for next in self.edges.get(node).into_iter().flatten() {
                match self.index.get(next) {
                    None => low = low.min(self.visit(next)),
                    Some(&(index, _)) if self.stack.contains(next) => low = low.min(index),
                    Some(_) => {}
                }
            }
            if low == mine {
                let start = self
                    .stack
                    .iter()
                    .position(|n| n == node)
                    .expect("on the stack");
                let component = self.stack.split_off(start);
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
            low
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        stack: Vec::new(),
        next: 0,
        found: Vec::new(),
    };
    for node in edges.keys() {
        if !walk.index.contains_key(node) {
            walk.visit(node);
        }
    }
    walk.found
}

/// A cycle of the graph, if there is one (depth-first search).
fn find_cycle<T: Ord + Clone>(edges: &BTreeMap<T, BTreeSet<T>>) -> Option<Vec<T>> {
    fn visit<T: Ord + Clone>(
        node: &T,
        edges: &BTreeMap<T, BTreeSet<T>>,
        state: &mut BTreeMap<T, bool>,
        stack: &mut Vec<T>,
    ) -> Option<Vec<T>> {
        match state.get(node) {
            Some(true) => return None,
            Some(false) => {
                let start = stack.iter().position(|n| n == node).expect("on the stack");
                return Some(stack[start..].to_vec());
            }
            None => {}
        }
        state.insert(node.clone(), false);
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, state, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        state.insert(node.clone(), true);
        None
    }
    let mut state = BTreeMap::new();
    edges
        .keys()
        .find_map(|node| visit(node, edges, &mut state, &mut Vec::new()))
}

fn src() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The top-level module of a file below `src/`.
fn top(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).expect("below src");
    let first = rel.components().next().expect("a file");
    first
        .as_os_str()
        .to_string_lossy()
        .trim_end_matches(".rs")
        .to_string()
}

fn floor_of(module: &str) -> usize {
    FLOORS
        .iter()
        .position(|(_, members)| members.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` is on no floor of FLOORS"))
}

#[test]
fn modules_import_only_their_own_floor_and_below() {
    let src = src();
    let mut module_edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut upward = Vec::new();
    for ((from, to), path) in file_edges(&src) {
        if from.ends_with("lib.rs") {
            continue;
        }
        let (a, b) = (top(&src, &from), top(&src, &to));
        if a == b || to.ends_with("lib.rs") {
            continue;
        }
        if floor_of(&a) < floor_of(&b) {
            upward.push(format!(
                "{} ({}) imports {path} ({})",
                from.strip_prefix(&src).expect("below src").display(),
                FLOORS[floor_of(&a)].0,
                FLOORS[floor_of(&b)].0
            ));
        }
        module_edges.entry(a).or_default().insert(b);
    }
    assert!(
        upward.is_empty(),
        "imports up a floor:\n{}",
        upward.join("\n")
    );
    assert_eq!(
        find_cycle(&module_edges),
        None,
        "top-level modules import each other in a cycle"
    );
}

#[test]
fn files_import_each_other_in_no_cycle() {
    let src = src();
    let mut edges: BTreeMap<PathBuf, BTreeSet<PathBuf>> = BTreeMap::new();
    for (from, to) in file_edges(&src).into_keys() {
        edges.entry(from).or_default().insert(to);
    }
    let cycles: Vec<Vec<String>> = cycles(&edges)
        .into_iter()
        .map(|files| {
            files
                .iter()
                .map(|f| {
                    f.strip_prefix(&src)
                        .expect("below src")
                        .display()
                        .to_string()
                })
                .collect()
        })
        .collect();
    assert!(
        cycles.is_empty(),
        "files that import each other in cycles: {cycles:?}"
    );
}
