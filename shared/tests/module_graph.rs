//! The library's module graph stays a DAG, and the domain stays pure.
//!
//! Reads every source file under `src/`, maps it to its top-level module (`src/sync/run.rs` →
//! `sync`), collects the top-level modules it names through `crate::…` paths (in `use` lines,
//! code and doc links), and fails on a cycle between top-level modules, printing it. A cycle is what
//! makes two modules impossible to change or test apart; this catches one the day it appears.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read src")
        .map(|e| e.expect("dir entry").path())
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

/// Top-level module → the top-level modules its files name.
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).expect("under src");
        let first = rel.components().next().expect("a component");
        let module = first
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if module == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&f).expect("read source");
        // comments count too: an intra-doc link ([`crate::x`]) is a reference like any other
        let deps = g.entry(module.clone()).or_default();
        deps.extend(crate_paths(&text).into_iter().filter(|d| *d != module));
    }
    g
}

/// The top-level module of every `crate::x` in some code, and of each item of a (possibly
/// nested, multi-line) `use crate::{x, y::{z, w}}` group.
fn crate_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                // the items at depth 0 of the balanced group
                let (mut depth, mut start) = (0usize, 0usize);
                for (j, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            out.extend(ident(group[start..j].trim()));
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            out.extend(ident(group[start..j].trim()));
                            start = j + 1;
                        }
                        _ => {}
                    }
                }
            }
            None => out.extend(ident(rest)),
        }
    }
    out
}

fn ident(s: &str) -> Option<String> {
    let id: String = s
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    (!id.is_empty() && id.chars().next().is_some_and(|c| c.is_ascii_lowercase())).then_some(id)
}

/// A cycle, if there is one (depth-first search with colours).
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_owned(), 1);
        stack.push(n.to_owned());
        for d in g.get(n).into_iter().flatten() {
            match state.get(d.as_str()).copied().unwrap_or(0) {
                1 => {
                    let at = stack.iter().position(|s| s == d).unwrap_or(0);
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(d.clone());
                    return Some(cycle);
                }
                0 => {
                    if let Some(c) = visit(d, g, state, stack) {
                        return Some(c);
                    }
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_owned(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            if let Some(c) = visit(n, g, &mut state, &mut Vec::new()) {
                return Some(c);
            }
        }
    }
    None
}

#[test]
fn the_top_level_modules_form_no_cycle() {
    let g = graph();
    assert!(g.len() > 10, "read the modules: {g:?}");
    if let Some(cycle) = find_cycle(&g) {
        panic!(
            "module cycle in shared/src: {}\nwhole graph: {g:#?}",
            cycle.join(" → ")
        );
    }
}

#[test]
fn the_domain_and_the_ports_depend_on_no_adapter() {
    let g = graph();
    let domain = &g["domain"];
    assert!(domain.is_empty(), "domain is pure, yet names {domain:?}");
    let ports = &g["ports"];
    for adapter in [
        "store",
        "providers",
        "queue",
        "secrets",
        "memory",
        "wiring",
        "handlers",
    ] {
        assert!(!ports.contains(adapter), "ports name the adapter {adapter}");
    }
    for service in ["sync", "reclaim", "candidates", "notify"] {
        for adapter in ["store", "providers", "queue", "secrets", "wiring"] {
            assert!(
                !g[service].contains(adapter),
                "the {service} service names the adapter {adapter}: it should work over ports"
            );
        }
    }
    assert!(!g["sync"].contains("reclaim") && !g["reclaim"].contains("sync"));
    // notify mode is called by the sync; it never calls back into it or into the reclaim
    assert!(!g["notify"].contains("sync") && !g["notify"].contains("reclaim"));
    // the in-memory adapters and the connect service stand beside the production adapters
    for module in ["memory", "connect"] {
        assert!(
            !g[module].contains("store"),
            "{module} names the DynamoDB adapter"
        );
    }
}

#[test]
fn the_checker_sees_a_cycle_when_there_is_one() {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    g.entry("a".into()).or_default().insert("b".into());
    g.entry("b".into()).or_default().insert("c".into());
    g.entry("c".into()).or_default().insert("a".into());
    assert_eq!(find_cycle(&g).map(|c| c.len()), Some(4));
    g.get_mut("c").unwrap().clear();
    assert_eq!(find_cycle(&g), None);
    let names = crate_paths("use crate::{\n    domain::X,\n    ports::{A, B},\n    http,\n};");
    assert_eq!(names, ["domain", "ports", "http"]);
    assert_eq!(
        crate_paths("let x = crate::sync::new_run_id(now);"),
        ["sync"]
    );
}
