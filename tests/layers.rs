//! The modules of src/ form no circle: no module imports a module that
//! imports it back, directly or through others, so that dependencies run one
//! way (crd and error at the bottom, the controller wiring on top).
//!
//! Read from the code with syn: every `use` and every path that names
//! `crate::`, `super::`, `self::` or a child module, resolved to the file
//! module that defines (or re-exports) it. Declaring a child (`mod x;`) is
//! containment, not an import. main.rs, a binary, is left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

type Module = Vec<String>;

/// Every file module of the library, by its path from the crate root.
fn file_modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    fn walk(dir: &Path, prefix: &[String], out: &mut BTreeMap<Module, PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            let mut module = prefix.to_vec();
            if path.is_dir() {
                module.push(name);
                walk(&path, &module, out);
                continue;
            }
            let Some(stem) = name.strip_suffix(".rs") else {
                continue;
            };
            match stem {
                "main" if prefix.is_empty() => continue,
                "lib" if prefix.is_empty() => {}
                "mod" => {}
                _ => module.push(stem.to_string()),
            }
            out.insert(module, path);
        }
    }
    let mut out = BTreeMap::new();
    walk(src, &[], &mut out);
    out
}

/// The modules one file refers to.
struct Refs<'a> {
    file: &'a Module,
    /// Inline modules (`mod tests { ... }`) we are inside, innermost last.
    inline: Vec<String>,
    known: &'a BTreeSet<Module>,
    found: BTreeSet<Module>,
}

impl Refs<'_> {
    /// The module a path starting with `segments` names, if it is ours.
    fn resolve(&self, segments: &[String]) -> Option<Module> {
        let mut here: Module = self.file.clone();
        here.extend(self.inline.iter().cloned());
        let (mut base, mut rest) = match segments.first()?.as_str() {
            "crate" => (vec![], &segments[1..]),
            "self" => (here.clone(), &segments[1..]),
            "super" => (here.clone(), segments),
            child => {
                let mut m = here.clone();
                m.push(child.to_string());
                if !self.known.contains(&m) {
                    return None;
                }
                (here.clone(), segments)
            }
        };
        while rest.first().is_some_and(|s| s == "super") {
            base.pop()?;
            rest = &rest[1..];
        }
        // The longest prefix that is a file module.
        (0..=rest.len()).rev().find_map(|i| {
            let mut m = base.clone();
            m.extend(rest[..i].iter().cloned());
            self.known.contains(&m).then_some(m)
        })
    }

    fn add(&mut self, segments: &[String]) {
        if let Some(m) = self.resolve(segments)
            && &m != self.file
        {
            self.found.insert(m);
        }
    }
}

/// Every path a use tree spells out.
fn use_paths(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    match tree {
        syn::UseTree::Path(p) => {
            prefix.push(p.ident.to_string());
            use_paths(&p.tree, prefix, out);
            prefix.pop();
        }
        syn::UseTree::Name(n) => {
            let mut p = prefix.clone();
            p.push(n.ident.to_string());
            out.push(p);
        }
        syn::UseTree::Rename(r) => {
            let mut p = prefix.clone();
            p.push(r.ident.to_string());
            out.push(p);
        }
        syn::UseTree::Glob(_) => out.push(prefix.clone()),
        syn::UseTree::Group(g) => {
            for t in &g.items {
                use_paths(t, prefix, out);
            }
        }
    }
}

impl<'ast> Visit<'ast> for Refs<'_> {
    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        let mut paths = vec![];
        use_paths(&u.tree, &mut vec![], &mut paths);
        for p in paths {
            self.add(&p);
        }
    }

    fn visit_path(&mut self, p: &'ast syn::Path) {
        let segments: Vec<String> = p.segments.iter().map(|s| s.ident.to_string()).collect();
        self.add(&segments);
        syn::visit::visit_path(self, p);
    }

    /// `pub(crate)`, `pub(super)` say who may see an item, not what it uses.
    fn visit_visibility(&mut self, _: &'ast syn::Visibility) {}

    fn visit_item_mod(&mut self, m: &'ast syn::ItemMod) {
        if m.content.is_some() {
            self.inline.push(m.ident.to_string());
            syn::visit::visit_item_mod(self, m);
            self.inline.pop();
        }
    }
}

fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let files = file_modules(src);
    let known: BTreeSet<Module> = files.keys().cloned().collect();
    files
        .iter()
        .map(|(module, path)| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            let ast = syn::parse_file(&text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
            let mut refs = Refs {
                file: module,
                inline: vec![],
                known: &known,
                found: BTreeSet::new(),
            };
            refs.visit_file(&ast);
            (module.clone(), refs.found)
        })
        .collect()
}

/// A circle of the graph, if there is one.
fn circle(g: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn dfs(
        g: &BTreeMap<Module, BTreeSet<Module>>,
        m: &Module,
        stack: &mut Vec<Module>,
        done: &mut BTreeSet<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(i) = stack.iter().position(|s| s == m) {
            let mut c = stack[i..].to_vec();
            c.push(m.clone());
            return Some(c);
        }
        if done.contains(m) {
            return None;
        }
        stack.push(m.clone());
        for next in g.get(m).into_iter().flatten() {
            if let Some(c) = dfs(g, next, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(m.clone());
        None
    }
    let mut done = BTreeSet::new();
    g.keys().find_map(|m| dfs(g, m, &mut vec![], &mut done))
}

fn name(m: &Module) -> String {
    if m.is_empty() {
        "lib".into()
    } else {
        m.join("::")
    }
}

fn m(s: &str) -> Module {
    s.split("::").map(str::to_string).collect()
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let g = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    // Not vacuous: the layers are seen, top to bottom.
    for (from, to) in [
        ("controller", "reconcile"),
        ("reconcile", "decide"),
        ("reconcile::pool", "reconcile"),
        ("decide::pipeline", "aws"),
        ("aws::pipeline", "aws::client"),
        ("decide", "crd"),
    ] {
        assert!(
            g.get(&m(from)).is_some_and(|t| t.contains(&m(to))),
            "{from} -> {to} not seen; the graph: {g:?}"
        );
    }
    if let Some(c) = circle(&g) {
        let names: Vec<String> = c.iter().map(name).collect();
        panic!(
            "modules import each other: {}; the graph: {g:?}",
            names.join(" -> ")
        );
    }
    let edges: usize = g.values().map(BTreeSet::len).sum();
    println!("layers: {} modules, {edges} imports, no circle", g.len());
}

/// The check itself finds a circle when there is one.
#[test]
fn a_circle_is_found() {
    let mut g: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    g.entry(m("a")).or_default().insert(m("b"));
    g.entry(m("b")).or_default().insert(m("c"));
    g.entry(m("c")).or_default().insert(m("a"));
    g.entry(m("d")).or_default().insert(m("a"));
    let c = circle(&g).map(|c| c.iter().map(name).collect::<Vec<_>>());
    assert_eq!(
        c,
        Some(vec!["a".into(), "b".into(), "c".into(), "a".into()])
    );
    g.remove(&m("c"));
    assert_eq!(circle(&g), None);
}
